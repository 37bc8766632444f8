//! An AWS Organization in moto, as the organization tests and benches need it: the organization
//! (all features) and member accounts created by name, each id as moto gives it.

/// Creates the organization whose management account is moto's default account.
pub async fn create_organization(organizations: &aws_sdk_organizations::Client) {
    organizations
        .create_organization()
        .feature_set(aws_sdk_organizations::types::OrganizationFeatureSet::All)
        .send()
        .await
        .expect("moto's CreateOrganization");
}

/// Creates a member account named `name` (email `name@example.com`) and returns its id.
pub async fn create_account(organizations: &aws_sdk_organizations::Client, name: &str) -> String {
    organizations
        .create_account()
        .account_name(name)
        .email(format!("{name}@example.com"))
        .send()
        .await
        .expect("moto's CreateAccount")
        .create_account_status()
        .and_then(|s| s.account_id())
        .expect("the new account's id")
        .to_string()
}
