//! Which accounts an organization sweep covers: every ACTIVE account AWS Organizations lists (from
//! the management account or a delegated administrator), or an explicit list of ids.

use serde::{Deserialize, Serialize};

use cf_doctor_aws::error_text;
use cf_doctor_model::organization::account_id;

/// One account to sweep.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub id: String,
    /// Its name in AWS Organizations; empty for an account given by id.
    #[serde(default)]
    pub name: String,
}

impl Account {
    pub fn by_id(id: &str) -> Account {
        Account {
            id: id.to_string(),
            name: String::new(),
        }
    }

    pub fn name(&self) -> Option<&str> {
        (!self.name.is_empty()).then_some(self.name.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AccountsError {
    #[error("organizations:ListAccounts failed: {0} (run it from the organization's management account or a delegated administrator account, or give the accounts by id)")]
    List(String),
    #[error("{0:?} is not an AWS account id: expected 12 digits, comma separated (111122223333,444455556666)")]
    BadId(String),
    #[error("no account to sweep: the list is empty")]
    Empty,
}

/// Account ids from a comma separated list (blanks ignored, each once, in the given order).
pub fn parse_ids<'a>(
    items: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<Account>, AccountsError> {
    let mut accounts: Vec<Account> = Vec::new();
    for item in items.into_iter().flat_map(|i| i.split(',')) {
        if item.trim().is_empty() {
            continue;
        }
        let id = account_id(item)
            .ok_or_else(|| AccountsError::BadId(item.trim().chars().take(40).collect()))?;
        if !accounts.iter().any(|a| a.id == id) {
            accounts.push(Account::by_id(&id));
        }
    }
    if accounts.is_empty() {
        return Err(AccountsError::Empty);
    }
    Ok(accounts)
}

/// Every ACTIVE account of the organization, by id (suspended and closing accounts have nothing
/// to inspect and their roles cannot be assumed).
pub async fn list_active(
    client: &aws_sdk_organizations::Client,
) -> Result<Vec<Account>, AccountsError> {
    let mut accounts = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let page = client
            .list_accounts()
            .set_next_token(next.take())
            .send()
            .await
            .map_err(|e| AccountsError::List(error_text(&e)))?;
        for account in page.accounts() {
            let active = account.status().is_none_or(|s| s.as_str() == "ACTIVE");
            if let (true, Some(id)) = (active, account.id()) {
                accounts.push(Account {
                    id: id.to_string(),
                    name: account.name().unwrap_or_default().to_string(),
                });
            }
        }
        match page.next_token() {
            Some(token) if !token.is_empty() => next = Some(token.to_string()),
            _ => break,
        }
    }
    accounts.sort_by(|a, b| a.id.cmp(&b.id));
    if accounts.is_empty() {
        return Err(AccountsError::Empty);
    }
    Ok(accounts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_twelve_digits_each_once() {
        let accounts = parse_ids(["111122223333, 444455556666", "111122223333"]).unwrap();
        let ids: Vec<&str> = accounts.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(ids, ["111122223333", "444455556666"]);
        let err = parse_ids(["111122223333,12345"]).unwrap_err().to_string();
        assert!(
            err.contains("\"12345\"") && err.contains("12 digits"),
            "{err}"
        );
        assert!(matches!(parse_ids([" , "]), Err(AccountsError::Empty)));
    }
}
