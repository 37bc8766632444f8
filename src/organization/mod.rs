//! Many accounts: each member account swept with the same engine through its read-only role,
//! one bounded summary per account, and the summaries merged into one organization digest. In
//! AWS a Step Functions Distributed Map fans the accounts out (one `{"sweep": {"account": ...}}`
//! invocation each, results in S3, then `{"digest": {...}}`); the CLI runs the same per-account
//! sweeps in this process with bounded concurrency.

pub mod access;
pub mod accounts;
pub mod events;
pub mod results;

use std::time::{Duration, Instant};

use chrono::Utc;
use futures::StreamExt;

use crate::notify::report_log::{log_report, Occasion};
use crate::{App, RunOptions};
use cf_doctor_collect::sweep::{Scope, Silent};
use cf_doctor_model::organization::AccountSweep;
use cf_doctor_model::{Diagnosis, TriggerInfo};
use cf_doctor_rules::organization::{account_summary, merge, not_inspected};

pub use access::{AccessError, MemberAccess};
pub use accounts::{Account, AccountsError};
pub use results::{ResultsError, S3Location};

/// A Step Functions state holds at most 256 KB (262,144 bytes), the Lambda task's own envelope
/// included: an account's summary, the list of accounts and the digest's result stay under this.
pub const STEP_FUNCTIONS_RESULT_MAX: usize = 200_000;

/// How the CLI sweeps many accounts in one process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SweepPlan {
    /// Accounts swept at once.
    pub concurrency: usize,
    /// How long one account's sweep may take before it is named as not inspected (new work stops
    /// in time for it, as the Lambda's deadline does).
    pub account_time_limit: Duration,
    pub include_disabled: bool,
}

impl Default for SweepPlan {
    fn default() -> Self {
        SweepPlan {
            concurrency: 8,
            // What one Lambda invocation of the Distributed Map would have, less a minute.
            account_time_limit: Duration::from_secs(14 * 60),
            include_disabled: false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OrganizationError {
    #[error(transparent)]
    Accounts(#[from] AccountsError),
    #[error(transparent)]
    Results(#[from] ResultsError),
}

/// The clients an organization sweep needs in the account cf-doctor runs in.
#[derive(Debug, Clone)]
pub struct OrganizationClients {
    pub access: MemberAccess,
    pub organizations: aws_sdk_organizations::Client,
    /// Reads the Distributed Map's results.
    pub s3: aws_sdk_s3::Client,
}

impl OrganizationClients {
    pub fn new(sdk: &aws_config::SdkConfig, config: &crate::config::Config) -> OrganizationClients {
        let role = config
            .member_role_name
            .as_deref()
            .unwrap_or(crate::config::DEFAULT_MEMBER_ROLE);
        OrganizationClients {
            access: MemberAccess::new(sdk, role, config.member_external_id.clone()),
            // Organizations has one endpoint, in us-east-1.
            organizations: aws_sdk_organizations::Client::new(
                &sdk.to_builder()
                    .region(aws_config::Region::new("us-east-1"))
                    .build(),
            ),
            s3: aws_sdk_s3::Client::new(sdk),
        }
    }
}

impl App {
    /// The accounts to sweep: the ids given, or every ACTIVE account of the organization.
    pub async fn accounts(
        &self,
        ids: Option<Vec<Account>>,
    ) -> Result<Vec<Account>, OrganizationError> {
        match ids {
            Some(ids) => Ok(ids),
            None => Ok(accounts::list_active(&self.organization.organizations).await?),
        }
    }

    /// This engine in `account`, naming it in every finding: through the member role, or with
    /// cf-doctor's own credentials when it is the account cf-doctor runs in.
    pub async fn in_account(&self, account: &str) -> Result<App, AccessError> {
        let regions = self
            .config
            .account_origin_regions
            .get(account)
            .cloned()
            .unwrap_or_default();
        if self.organization.access.home_account().await.as_deref() == Some(account) {
            return Ok(App {
                collector: self.collector.clone().with_regions(&regions),
                account: Some(account.to_string()),
                ..self.clone()
            });
        }
        let sdk = self.organization.access.sdk_for(account).await?;
        Ok(App {
            collector: self.collector.in_account(&sdk).with_regions(&regions),
            account: Some(account.to_string()),
            ..self.clone()
        })
    }

    /// One account's sweep, as the Distributed Map runs it for each account: the member role
    /// assumed, the sweep, the account's full digest logged, and its bounded summary returned.
    /// An account that cannot be reached is a summary naming why, never an error.
    pub async fn sweep_account(
        &self,
        account: &Account,
        trigger: TriggerInfo,
        options: &RunOptions,
    ) -> AccountSweep {
        let started_at = Utc::now();
        let clock = Instant::now();
        let member = match self.in_account(&account.id).await {
            Ok(member) => member,
            Err(e) => {
                tracing::warn!(account = %account.id, error = %e, "account not inspected");
                return not_inspected(
                    &account.id,
                    account.name(),
                    "sts:AssumeRole",
                    &e.to_string(),
                    started_at,
                    clock.elapsed().as_millis() as u64,
                );
            }
        };
        let run = member.sweep_run(&Scope::All, trigger, options).await;
        let (distributions, certificates) = (
            run.evidence.distributions.len(),
            run.evidence.certificates.len(),
        );
        let digest = member.conclude(run, options);
        log_report(&digest, Occasion::Made);
        account_summary(
            &account.id,
            account.name(),
            &digest,
            distributions,
            certificates,
            STEP_FUNCTIONS_RESULT_MAX.min(self.config.result_max_bytes),
        )
    }

    /// Every account swept in this process, `plan.concurrency` at a time, each within
    /// `plan.account_time_limit`, and merged into the organization digest.
    pub async fn sweep_organization(
        &self,
        accounts: Vec<Account>,
        plan: &SweepPlan,
        trigger: TriggerInfo,
        options: &RunOptions,
    ) -> Diagnosis {
        let started_at = Utc::now();
        let clock = Instant::now();
        let progress = options.progress.clone();
        progress.phase("sweeping accounts", accounts.len() as u64);
        let summaries: Vec<AccountSweep> = futures::stream::iter(accounts)
            .map(|account| {
                let progress = progress.clone();
                async move {
                    let summary = self.sweep_within_limit(&account, plan, options).await;
                    progress.advance();
                    summary
                }
            })
            .buffer_unordered(plan.concurrency.max(1))
            .collect()
            .await;
        progress.finish();
        merge(
            summaries,
            Vec::new(),
            trigger,
            started_at,
            clock.elapsed().as_millis() as u64,
        )
    }

    async fn sweep_within_limit(
        &self,
        account: &Account,
        plan: &SweepPlan,
        options: &RunOptions,
    ) -> AccountSweep {
        let started_at = Utc::now();
        let limit = plan.account_time_limit;
        let options = RunOptions {
            deadline: Some(tokio::time::Instant::now() + limit),
            // One progress bar for the accounts; the sweeps inside them are silent.
            progress: std::sync::Arc::new(Silent),
            include_disabled: plan.include_disabled || options.include_disabled,
            ..options.clone()
        };
        let trigger =
            TriggerInfo::manual(format!("organization sweep: account {}", account.id), None);
        match tokio::time::timeout(limit, self.sweep_account(account, trigger, &options)).await {
            Ok(summary) => summary,
            Err(_) => not_inspected(
                &account.id,
                account.name(),
                "sweep",
                &format!(
                    "did not finish within {} s (--account-timeout)",
                    limit.as_secs_f64()
                ),
                started_at,
                limit.as_millis() as u64,
            ),
        }
    }

    /// The organization digest from the Distributed Map's results in S3: every account's summary
    /// (an account whose step failed or never ran is named as not inspected), merged.
    pub async fn organization_digest(
        &self,
        results: &str,
        trigger: TriggerInfo,
    ) -> Result<Diagnosis, OrganizationError> {
        let started_at = Utc::now();
        let clock = Instant::now();
        let location = S3Location::parse(results)?;
        let read = results::read(&self.organization.s3, &location).await?;
        Ok(merge(
            read.accounts,
            read.gaps,
            trigger,
            started_at,
            clock.elapsed().as_millis() as u64,
        ))
    }
}
