//! Reading a member account: its role (`cf-doctor-reader`) assumed with STS, the credentials kept
//! for the run and used again until shortly before they expire, and the account cf-doctor itself
//! runs in (which needs no role).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_credential_types::provider::SharedCredentialsProvider;
use aws_credential_types::Credentials;

use cf_doctor_aws::error_text;

/// Credentials closer than this to their expiry are assumed again: a sweep must not start with
/// credentials that lapse halfway through it.
const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(15 * 60);

/// Why a member account could not be reached.
#[derive(Debug, Clone, thiserror::Error)]
#[error("cannot assume {role_arn}: {error}")]
pub struct AccessError {
    pub account: String,
    pub role_arn: String,
    pub error: String,
}

/// The member role in every account, and the credentials assumed so far.
#[derive(Debug, Clone)]
pub struct MemberAccess {
    sts: aws_sdk_sts::Client,
    /// The configuration the member accounts' clients are built from (cf-doctor's retry,
    /// timeout and counting HTTP client), with the role's credentials in place of its own.
    sdk: aws_config::SdkConfig,
    pub role_name: String,
    external_id: Option<String>,
    assumed: Arc<Mutex<HashMap<String, Credentials>>>,
    home: Arc<tokio::sync::OnceCell<Option<String>>>,
}

impl MemberAccess {
    pub fn new(
        sdk: &aws_config::SdkConfig,
        role_name: &str,
        external_id: Option<String>,
    ) -> MemberAccess {
        MemberAccess {
            sts: aws_sdk_sts::Client::new(sdk),
            sdk: sdk.clone(),
            role_name: role_name.to_string(),
            external_id,
            assumed: Arc::default(),
            home: Arc::default(),
        }
    }

    /// `arn:aws:iam::ACCOUNT:role/NAME`, the role assumed in `account`.
    pub fn role_arn(&self, account: &str) -> String {
        format!("arn:aws:iam::{account}:role/{}", self.role_name)
    }

    /// The account cf-doctor's own credentials belong to (STS GetCallerIdentity, asked once);
    /// None when STS cannot say, and then every account is reached through its role.
    pub async fn home_account(&self) -> Option<String> {
        self.home
            .get_or_init(|| async {
                match self.sts.get_caller_identity().send().await {
                    Ok(identity) => identity.account().map(str::to_string),
                    Err(e) => {
                        tracing::warn!(error = %error_text(&e), "sts:GetCallerIdentity failed: the account cf-doctor runs in is unknown, so every account is reached through its role");
                        None
                    }
                }
            })
            .await
            .clone()
    }

    /// The SDK configuration for `account`: the member role's credentials, assumed now or kept
    /// from earlier in the run while they are fresh.
    pub async fn sdk_for(&self, account: &str) -> Result<aws_config::SdkConfig, AccessError> {
        let credentials = match self.fresh(account) {
            Some(credentials) => credentials,
            None => {
                let credentials = self.assume(account).await?;
                self.lock().insert(account.to_string(), credentials.clone());
                credentials
            }
        };
        Ok(self
            .sdk
            .to_builder()
            .credentials_provider(SharedCredentialsProvider::new(credentials))
            .build())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Credentials>> {
        self.assumed.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn fresh(&self, account: &str) -> Option<Credentials> {
        let cutoff = SystemTime::now() + REFRESH_BEFORE_EXPIRY;
        self.lock()
            .get(account)
            .filter(|c| c.expiry().is_none_or(|expiry| expiry > cutoff))
            .cloned()
    }

    async fn assume(&self, account: &str) -> Result<Credentials, AccessError> {
        let role_arn = self.role_arn(account);
        let failed = |error: String| AccessError {
            account: account.to_string(),
            role_arn: role_arn.clone(),
            error,
        };
        let answer = self
            .sts
            .assume_role()
            .role_arn(&role_arn)
            .role_session_name("cf-doctor")
            .set_external_id(self.external_id.clone())
            .send()
            .await
            .map_err(|e| failed(error_text(&e)))?;
        let Some(issued) = answer.credentials() else {
            return Err(failed("STS answered without credentials".into()));
        };
        let expiry = SystemTime::try_from(*issued.expiration()).ok();
        Ok(Credentials::new(
            issued.access_key_id(),
            issued.secret_access_key(),
            Some(issued.session_token().to_string()),
            expiry,
            "cf-doctor-member-role",
        ))
    }
}
