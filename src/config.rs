//! Configuration from the environment (docs/contract.md, "Configuration"), validated once at start: a
//! bad value is an error naming the variable and the value.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use cf_doctor_model::evidence::Thresholds;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    #[error("{var}={value:?} is not valid: {expected}")]
    Invalid {
        var: &'static str,
        value: String,
        expected: String,
    },
}

/// A value that must never be printed (webhook URLs carry their own credential).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub sns_topic_arn: Option<String>,
    pub slack_webhook_url: Option<Secret>,
    pub slack_webhook_secret_id: Option<String>,
    pub thresholds: Thresholds,
    pub probe_timeout: Duration,
    /// Where to look for what stands behind origins, beside the regions their names and records
    /// give (a hint, not a bound): us-east-1 is always added.
    pub origin_regions: Vec<String>,
    /// Regions added only in a member account (`ACCOUNT:REGION` entries of ORIGIN_REGIONS).
    pub account_origin_regions: BTreeMap<String, Vec<String>>,
    /// HOST -> addresses to probe instead of resolving HOST (like curl's --resolve).
    pub resolve: BTreeMap<String, Vec<IpAddr>>,
    pub ca_file: Option<PathBuf>,
    pub notify_when_healthy: bool,
    /// Resolve CNAME chains with this DNS server instead of the system's (split-horizon setups).
    pub dns_server: Option<std::net::SocketAddr>,
    /// In Lambda, keep each invocation's evidence in this S3 bucket.
    pub save_evidence_bucket: Option<String>,
    /// In Lambda, record each delivery in this DynamoDB table, so a retried event pages no one
    /// twice.
    pub delivery_table: Option<String>,
    /// The invocation result is kept under this many bytes (checks, then evidence, then the
    /// lowest findings give way, as in the SNS message).
    pub result_max_bytes: usize,
    /// The CloudWatch namespace of cf-doctor's own metrics (EMF lines, in Lambda).
    pub metrics_namespace: String,
    /// The role assumed in member accounts (MEMBER_ROLE_NAME). Organization sweeps use
    /// [`DEFAULT_MEMBER_ROLE`] when it is unset; when it is set, an event from another account
    /// (its `account` field) is also diagnosed in that account, through this role.
    pub member_role_name: Option<String>,
    /// The external id the member role's trust policy asks for (MEMBER_EXTERNAL_ID).
    pub member_external_id: Option<String>,
}

/// The role member-template.yaml creates in each member account.
pub const DEFAULT_MEMBER_ROLE: &str = "cf-doctor-reader";

/// Lambda refuses a response over 6 MB (6,291,456 bytes); the default leaves room for the
/// runtime's envelope.
pub const RESULT_MAX_BYTES: usize = 5 * 1024 * 1024;
const RESULT_MAX_BYTES_LIMIT: usize = 6 * 1024 * 1024;
const RESULT_MIN_BYTES: usize = 1024;

impl Default for Config {
    fn default() -> Self {
        Config {
            sns_topic_arn: None,
            slack_webhook_url: None,
            slack_webhook_secret_id: None,
            thresholds: Thresholds::default(),
            probe_timeout: Duration::from_millis(5000),
            origin_regions: Vec::new(),
            account_origin_regions: BTreeMap::new(),
            resolve: BTreeMap::new(),
            ca_file: None,
            notify_when_healthy: false,
            dns_server: None,
            save_evidence_bucket: None,
            delivery_table: None,
            result_max_bytes: RESULT_MAX_BYTES,
            metrics_namespace: crate::metrics::DEFAULT_NAMESPACE.to_string(),
            member_role_name: None,
            member_external_id: None,
        }
    }
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads configuration through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let mut config = Config {
            sns_topic_arn: get("SNS_TOPIC_ARN"),
            slack_webhook_url: get("SLACK_WEBHOOK_URL").map(Secret::new),
            slack_webhook_secret_id: get("SLACK_WEBHOOK_SECRET_ID"),
            ca_file: get("ORIGIN_CA_FILE").map(PathBuf::from),
            ..Config::default()
        };
        if let Some(arn) = &config.sns_topic_arn {
            if !arn.starts_with("arn:") || !arn.contains(":sns:") {
                return Err(invalid(
                    "SNS_TOPIC_ARN",
                    arn,
                    "an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)",
                ));
            }
        }
        if let Some(url) = &config.slack_webhook_url {
            let url = url.expose();
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                // The value is a secret: name the variable, never echo it.
                return Err(invalid(
                    "SLACK_WEBHOOK_URL",
                    "<redacted>",
                    "an http(s):// URL",
                ));
            }
        }
        let days = |var: &'static str, default: i64| -> Result<i64, ConfigError> {
            match get(var) {
                None => Ok(default),
                Some(v) => v
                    .parse::<i64>()
                    .ok()
                    .filter(|d| (0..=3650).contains(d))
                    .ok_or_else(|| invalid(var, &v, "a whole number of days from 0 to 3650")),
            }
        };
        config.thresholds.expiry_warn_days = days("EXPIRY_WARN_DAYS", 30)?;
        config.thresholds.expiry_critical_days = days("EXPIRY_CRITICAL_DAYS", 7)?;
        if config.thresholds.expiry_critical_days > config.thresholds.expiry_warn_days {
            return Err(invalid(
                "EXPIRY_CRITICAL_DAYS",
                &config.thresholds.expiry_critical_days.to_string(),
                &format!(
                    "at most EXPIRY_WARN_DAYS ({})",
                    config.thresholds.expiry_warn_days
                ),
            ));
        }
        if let Some(v) = get("PROBE_TIMEOUT_MS") {
            let ms = v
                .parse::<u64>()
                .ok()
                .filter(|ms| (1..=120_000).contains(ms))
                .ok_or_else(|| invalid("PROBE_TIMEOUT_MS", &v, "milliseconds from 1 to 120000"))?;
            config.probe_timeout = Duration::from_millis(ms);
        }
        if let Some(v) = get("ORIGIN_REGIONS") {
            let (everywhere, by_account) = parse_origin_regions(&v).ok_or_else(|| {
                invalid(
                    "ORIGIN_REGIONS",
                    &v,
                    "a comma list of regions like us-east-1,eu-west-1, each optionally for one account only as ACCOUNT:REGION (111122223333:ap-south-1)",
                )
            })?;
            config.origin_regions = everywhere;
            config.account_origin_regions = by_account;
        }
        if let Some(v) = get("CF_DOCTOR_RESOLVE") {
            for entry in v.split(',').map(str::trim).filter(|e| !e.is_empty()) {
                let (host, addr) = parse_resolve(entry)
                    .map_err(|expected| invalid("CF_DOCTOR_RESOLVE", entry, &expected))?;
                config.resolve.entry(host).or_default().push(addr);
            }
        }
        if let Some(v) = get("CF_DOCTOR_DNS_SERVER") {
            let parsed = v.parse::<std::net::SocketAddr>().ok().or_else(|| {
                v.parse::<IpAddr>()
                    .ok()
                    .map(|ip| std::net::SocketAddr::new(ip, 53))
            });
            config.dns_server = Some(parsed.ok_or_else(|| {
                invalid(
                    "CF_DOCTOR_DNS_SERVER",
                    &v,
                    "an IP address, optionally with :PORT (default 53)",
                )
            })?);
        }
        if let Some(v) = get("SAVE_EVIDENCE_BUCKET") {
            if !valid_bucket_name(&v) {
                return Err(invalid(
                    "SAVE_EVIDENCE_BUCKET",
                    &v,
                    "an S3 bucket name: 3 to 63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit",
                ));
            }
            config.save_evidence_bucket = Some(v);
        }
        if let Some(v) = get("DELIVERY_TABLE") {
            if !valid_table_name(&v) {
                return Err(invalid(
                    "DELIVERY_TABLE",
                    &v,
                    "a DynamoDB table name: 3 to 255 letters, digits, underscores, hyphens and dots",
                ));
            }
            config.delivery_table = Some(v);
        }
        if let Some(v) = get("RESULT_MAX_BYTES") {
            config.result_max_bytes = v
                .parse::<usize>()
                .ok()
                .filter(|n| (RESULT_MIN_BYTES..=RESULT_MAX_BYTES_LIMIT).contains(n))
                .ok_or_else(|| {
                    invalid(
                        "RESULT_MAX_BYTES",
                        &v,
                        &format!("bytes from {RESULT_MIN_BYTES} to {RESULT_MAX_BYTES_LIMIT} (Lambda's 6 MB response limit)"),
                    )
                })?;
        }
        if let Some(v) = get("METRICS_NAMESPACE") {
            if !valid_metrics_namespace(&v) {
                return Err(invalid(
                    "METRICS_NAMESPACE",
                    &v,
                    "a CloudWatch namespace: 1 to 255 letters, digits, spaces and . - _ / # :, not starting with AWS/ (reserved for AWS)",
                ));
            }
            config.metrics_namespace = v;
        }
        if let Some(v) = get("MEMBER_ROLE_NAME") {
            if !valid_role_name(&v) {
                return Err(invalid(
                    "MEMBER_ROLE_NAME",
                    &v,
                    "an IAM role name: 1 to 64 letters, digits and + = , . @ _ -",
                ));
            }
            config.member_role_name = Some(v);
        }
        if let Some(v) = get("MEMBER_EXTERNAL_ID") {
            if !valid_external_id(&v) {
                // An external id is a shared secret of sorts: name the variable, never echo it.
                return Err(invalid(
                    "MEMBER_EXTERNAL_ID",
                    "<redacted>",
                    "2 to 1224 letters, digits and + = , . @ : / _ - (IAM's external id)",
                ));
            }
            config.member_external_id = Some(v);
        }
        if let Some(v) = get("NOTIFY_WHEN_HEALTHY") {
            config.notify_when_healthy = match v.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => true,
                "false" | "0" | "no" => false,
                _ => return Err(invalid("NOTIFY_WHEN_HEALTHY", &v, "true or false")),
            };
        }
        Ok(config)
    }

    pub fn add_resolve(&mut self, entry: &str) -> Result<(), String> {
        let (host, addr) = parse_resolve(entry)?;
        self.resolve.entry(host).or_default().push(addr);
        Ok(())
    }
}

fn invalid(var: &'static str, value: &str, expected: &str) -> ConfigError {
    ConfigError::Invalid {
        var,
        value: value.to_string(),
        expected: expected.to_string(),
    }
}

/// `HOST=ADDR`, `HOST:PORT:ADDR` (curl's form; the port is ignored: CloudFront's port is used).
pub fn parse_resolve(entry: &str) -> Result<(String, IpAddr), String> {
    const EXPECTED: &str =
        "HOST=ADDR (e.g. origin.example.com=127.0.0.1) with ADDR an IPv4 or IPv6 address";
    let (host, addr) = if let Some((host, addr)) = entry.split_once('=') {
        (host, addr)
    } else {
        let mut parts = entry.splitn(3, ':');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(host), Some(port), Some(addr)) if port.parse::<u16>().is_ok() => (host, addr),
            _ => return Err(EXPECTED.to_string()),
        }
    };
    let host = host.trim().trim_end_matches('.').to_ascii_lowercase();
    let addr = addr.trim().trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() || host.contains(char::is_whitespace) {
        return Err(EXPECTED.to_string());
    }
    let addr: IpAddr = addr.parse().map_err(|_| EXPECTED.to_string())?;
    Ok((host, addr))
}

/// S3's bucket naming rules (the general-purpose bucket ones), as far as a name alone shows them.
fn valid_bucket_name(name: &str) -> bool {
    let edge_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    (3..=63).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
        && edge_ok(name.chars().next())
        && edge_ok(name.chars().last())
        && !name.contains("..")
}

/// DynamoDB's table naming rules.
/// IAM's role name: `[\w+=,.@-]{1,64}`.
fn valid_role_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
}

/// STS's external id: `[\w+=,.@:/-]{2,1224}`.
fn valid_external_id(id: &str) -> bool {
    (2..=1224).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@:/_-".contains(c))
}

fn valid_table_name(name: &str) -> bool {
    (3..=255).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// CloudWatch namespaces: ASCII letters, digits, space and `. - _ / # :`, at most 255, and
/// `AWS/` is reserved for AWS's own (PutMetricData, Namespace).
fn valid_metrics_namespace(namespace: &str) -> bool {
    (1..=255).contains(&namespace.len())
        && namespace
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || " .-_/#:".contains(c))
        && !namespace.starts_with("AWS/")
}

/// The regions of every account, and those of single accounts (`ACCOUNT:REGION`).
type OriginRegions = (Vec<String>, BTreeMap<String, Vec<String>>);

fn parse_origin_regions(value: &str) -> Option<OriginRegions> {
    let entries: Vec<&str> = value
        .split(',')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .collect();
    let region = |r: &str| {
        r.split('-').count() >= 3
            && r.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    };
    let account = |a: &str| a.len() == 12 && a.chars().all(|c| c.is_ascii_digit());
    let mut everywhere = Vec::new();
    let mut by_account: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for entry in &entries {
        match entry.split_once(':') {
            Some((id, r)) if account(id) && region(r) => {
                by_account
                    .entry(id.to_string())
                    .or_default()
                    .push(r.to_string());
            }
            None if region(entry) => everywhere.push(entry.to_string()),
            _ => return None,
        }
    }
    (!entries.is_empty()).then_some((everywhere, by_account))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: BTreeMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| vars.get(k).cloned())
    }

    #[test]
    fn defaults_follow_the_contract() {
        let c = config(&[]).unwrap();
        assert_eq!(c.thresholds.expiry_warn_days, 30);
        assert_eq!(c.thresholds.expiry_critical_days, 7);
        assert_eq!(c.probe_timeout, Duration::from_millis(5000));
        assert!(!c.notify_when_healthy);
    }

    #[test]
    fn a_bad_value_names_the_variable_and_the_value() {
        let err = config(&[("PROBE_TIMEOUT_MS", "fast")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "PROBE_TIMEOUT_MS=\"fast\" is not valid: milliseconds from 1 to 120000"
        );
        let err = config(&[("EXPIRY_WARN_DAYS", "5")]).unwrap_err();
        assert!(err.to_string().contains("EXPIRY_CRITICAL_DAYS"), "{err}");
    }

    #[test]
    fn a_bad_webhook_is_named_but_never_echoed() {
        let err = config(&[("SLACK_WEBHOOK_URL", "hooks.slack.com/services/SECRET")]).unwrap_err();
        assert!(err.to_string().contains("SLACK_WEBHOOK_URL"));
        assert!(!err.to_string().contains("SECRET"));
        let ok = config(&[(
            "SLACK_WEBHOOK_URL",
            "https://hooks.slack.com/services/SECRET",
        )])
        .unwrap();
        assert!(!format!("{ok:?}").contains("SECRET"));
    }

    #[test]
    fn resolve_overrides_accept_both_forms_and_repeat() {
        let c = config(&[(
            "CF_DOCTOR_RESOLVE",
            "Origin.Example.com=127.0.0.1, origin.example.com:443:[::1]",
        )])
        .unwrap();
        assert_eq!(
            c.resolve["origin.example.com"],
            vec![
                "127.0.0.1".parse::<IpAddr>().unwrap(),
                "::1".parse().unwrap()
            ]
        );
        assert!(config(&[("CF_DOCTOR_RESOLVE", "origin.example.com")]).is_err());
        assert!(config(&[("CF_DOCTOR_RESOLVE", "origin.example.com=not-an-ip")]).is_err());
    }

    #[test]
    fn a_dns_server_takes_an_address_with_an_optional_port() {
        assert_eq!(
            config(&[("CF_DOCTOR_DNS_SERVER", "127.0.0.53")])
                .unwrap()
                .dns_server,
            Some("127.0.0.53:53".parse().unwrap())
        );
        assert_eq!(
            config(&[("CF_DOCTOR_DNS_SERVER", "[::1]:5353")])
                .unwrap()
                .dns_server,
            Some("[::1]:5353".parse().unwrap())
        );
        let err = config(&[("CF_DOCTOR_DNS_SERVER", "dns.example")]).unwrap_err();
        assert!(
            err.to_string()
                .contains("CF_DOCTOR_DNS_SERVER=\"dns.example\""),
            "{err}"
        );
    }

    #[test]
    fn an_evidence_bucket_must_be_a_bucket_name() {
        assert_eq!(
            config(&[("SAVE_EVIDENCE_BUCKET", "cf-doctor-evidence-1")])
                .unwrap()
                .save_evidence_bucket
                .as_deref(),
            Some("cf-doctor-evidence-1")
        );
        for bad in ["s3://bucket", "Bucket", "ab", "-bucket", "a..b"] {
            let err = config(&[("SAVE_EVIDENCE_BUCKET", bad)]).unwrap_err();
            assert!(
                err.to_string()
                    .starts_with(&format!("SAVE_EVIDENCE_BUCKET={bad:?}")),
                "{err}"
            );
        }
    }

    #[test]
    fn the_delivery_table_and_the_result_bound_are_checked() {
        let c = config(&[
            ("DELIVERY_TABLE", "cf-doctor-deliveries"),
            ("RESULT_MAX_BYTES", "262144"),
        ])
        .unwrap();
        assert_eq!(c.delivery_table.as_deref(), Some("cf-doctor-deliveries"));
        assert_eq!(c.result_max_bytes, 262_144);
        assert_eq!(config(&[]).unwrap().result_max_bytes, RESULT_MAX_BYTES);
        let err = config(&[("DELIVERY_TABLE", "a table")]).unwrap_err();
        assert!(
            err.to_string().starts_with("DELIVERY_TABLE=\"a table\""),
            "{err}"
        );
        let err = config(&[("RESULT_MAX_BYTES", "7000000")]).unwrap_err();
        assert!(err.to_string().contains("6 MB"), "{err}");
    }

    #[test]
    fn the_member_role_and_its_external_id_are_checked_and_the_id_never_echoed() {
        let c = config(&[
            ("MEMBER_ROLE_NAME", "cf-doctor-reader"),
            ("MEMBER_EXTERNAL_ID", "org-7f3a"),
        ])
        .unwrap();
        assert_eq!(c.member_role_name.as_deref(), Some("cf-doctor-reader"));
        assert_eq!(c.member_external_id.as_deref(), Some("org-7f3a"));
        assert_eq!(config(&[]).unwrap().member_role_name, None);
        let err = config(&[("MEMBER_ROLE_NAME", "role/with/slashes")])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("MEMBER_ROLE_NAME") && err.contains("IAM role name"),
            "{err}"
        );
        let err = config(&[("MEMBER_EXTERNAL_ID", "secret value!")])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("MEMBER_EXTERNAL_ID") && !err.contains("secret value"),
            "{err}"
        );
    }

    #[test]
    fn origin_regions_are_checked() {
        assert_eq!(
            config(&[("ORIGIN_REGIONS", "eu-west-1, us-east-1")])
                .unwrap()
                .origin_regions,
            vec!["eu-west-1", "us-east-1"]
        );
        assert!(config(&[("ORIGIN_REGIONS", "Europe")]).is_err());
    }

    #[test]
    fn an_origin_region_can_be_for_one_member_account() {
        let parsed = config(&[(
            "ORIGIN_REGIONS",
            "eu-west-1, 111122223333:ap-south-1,111122223333:sa-east-1",
        )])
        .unwrap();
        assert_eq!(parsed.origin_regions, ["eu-west-1"]);
        assert_eq!(
            parsed.account_origin_regions,
            BTreeMap::from([(
                "111122223333".to_string(),
                vec!["ap-south-1".to_string(), "sa-east-1".to_string()]
            )])
        );
        let err = config(&[("ORIGIN_REGIONS", "1111:ap-south-1")]).unwrap_err();
        assert!(err.to_string().contains("ACCOUNT:REGION"), "{err}");
    }

    #[test]
    fn the_metrics_namespace_defaults_to_cf_doctor_and_must_be_a_cloudwatch_namespace() {
        assert_eq!(config(&[]).unwrap().metrics_namespace, "CfDoctor");
        assert_eq!(
            config(&[("METRICS_NAMESPACE", "Team/CfDoctor prod")])
                .unwrap()
                .metrics_namespace,
            "Team/CfDoctor prod"
        );
        let too_long = "n".repeat(256);
        for bad in [
            "AWS/CloudFront",
            "cf-doctor!",
            "caf\u{e9}",
            too_long.as_str(),
        ] {
            let err = config(&[("METRICS_NAMESPACE", bad)]).unwrap_err();
            assert!(
                err.to_string().starts_with(&format!(
                    "METRICS_NAMESPACE={bad:?} is not valid: a CloudWatch namespace"
                )),
                "{err}"
            );
        }
    }
}
