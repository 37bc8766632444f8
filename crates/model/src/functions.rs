//! The edge's own code as evidence: which functions a distribution's cache behaviours run
//! (Lambda@Edge and CloudFront Functions), what Lambda and CloudFront say of each, and the error
//! lines they left in CloudWatch Logs. Plain data; the rules judge it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The two kinds of code CloudFront runs on a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FunctionKind {
    /// A Lambda function version replicated to the edge (`LambdaFunctionAssociations`).
    LambdaEdge,
    /// A CloudFront Function (`FunctionAssociations`).
    CloudfrontFunction,
}

/// One function associated with one cache behaviour, as the distribution configures it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionAssociation {
    pub kind: FunctionKind,
    /// The associated ARN as configured: for Lambda@Edge a numbered version
    /// (`arn:aws:lambda:us-east-1:ACCOUNT:function:NAME:3`), for a CloudFront Function
    /// `arn:aws:cloudfront::ACCOUNT:function/NAME`.
    pub arn: String,
    /// `viewer-request`, `origin-request`, `origin-response` or `viewer-response`.
    pub event_type: String,
    /// The cache behaviour: `None` for the default one, else its path pattern.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_pattern: Option<String>,
    /// The origin (or origin group) the behaviour sends requests to.
    pub target_origin_id: String,
    /// Lambda@Edge only: whether the request body is exposed to the function.
    #[serde(default)]
    pub include_body: bool,
}

impl FunctionAssociation {
    /// "viewer-request of the default cache behaviour", "origin-request of /api/*".
    pub fn describe(&self) -> String {
        match &self.path_pattern {
            None => format!("{} of the default cache behaviour", self.event_type),
            Some(pattern) => format!("{} of cache behaviour {pattern}", self.event_type),
        }
    }

    /// Whether the function runs on viewer events (before the cache), where Lambda@Edge's quotas
    /// are the tightest.
    pub fn on_viewer_event(&self) -> bool {
        self.event_type.starts_with("viewer-")
    }
}

/// Where a function is used: one association of one distribution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionUse {
    pub distribution_id: String,
    #[serde(flatten)]
    pub association: FunctionAssociation,
}

/// A Lambda@Edge function version, as Lambda describes it and where it ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LambdaEdgeFunction {
    /// The associated ARN, as configured.
    pub arn: String,
    /// The function name (without qualifier); its replicas are `us-east-1.NAME`.
    pub name: String,
    /// The qualifier after the name: a version number, `$LATEST`, or an alias (None: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qualifier: Option<String>,
    /// The region in the ARN (Lambda@Edge requires us-east-1).
    pub region: String,
    pub used_by: Vec<FunctionUse>,
    /// GetFunctionConfiguration's answer (None: not read; a gap says why).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configuration: Option<LambdaConfiguration>,
    /// The regions whose CloudWatch holds metrics of its replicas (`us-east-1.NAME`): where it
    /// ran. None: not looked up (the sweep does not).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ran_in: Option<Vec<String>>,
    /// Recent error lines from its log groups, newest last.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub log_lines: Vec<LogLine>,
}

impl LambdaEdgeFunction {
    /// The FunctionName its replicas publish metrics and logs under.
    pub fn replica_name(&self) -> String {
        format!("us-east-1.{}", self.name)
    }

    /// The distributions that use it, each once.
    pub fn distributions(&self) -> Vec<&str> {
        distributions_of(&self.used_by)
    }
}

/// What GetFunctionConfiguration says of a version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LambdaConfiguration {
    /// `Pending`, `Active`, `Inactive` or `Failed`.
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_reason: Option<String>,
    /// `Successful`, `Failed` or `InProgress`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_update_status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_update_status_reason: Option<String>,
    /// e.g. `nodejs20.x`; None for a container image.
    pub runtime: Option<String>,
    pub timeout_s: Option<i32>,
    pub memory_mb: Option<i32>,
    /// The version Lambda reports (`3`, or `$LATEST`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// A CloudFront Function, as DescribeFunction shows its LIVE stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CloudfrontFunction {
    pub name: String,
    pub arn: String,
    pub used_by: Vec<FunctionUse>,
    /// DescribeFunction's answer for the LIVE stage (None: not read; a gap says why).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live: Option<FunctionStage>,
}

impl CloudfrontFunction {
    pub fn distributions(&self) -> Vec<&str> {
        distributions_of(&self.used_by)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionStage {
    /// The stage the answer describes (`LIVE` or `DEVELOPMENT`).
    pub stage: String,
    /// The function's status, as CloudFront words it (e.g. `DEPLOYED`, `UNPUBLISHED`).
    pub status: String,
    /// e.g. `cloudfront-js-2.0`.
    pub runtime: Option<String>,
    pub last_modified: Option<DateTime<Utc>>,
}

/// The distributions among `uses`, each once, in order.
fn distributions_of(uses: &[FunctionUse]) -> Vec<&str> {
    let mut ids: Vec<&str> = Vec::new();
    for u in uses {
        if !ids.contains(&u.distribution_id.as_str()) {
            ids.push(&u.distribution_id);
        }
    }
    ids
}

/// One line from CloudWatch Logs, kept as evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    pub log_group: String,
    pub region: String,
    pub timestamp: Option<DateTime<Utc>>,
    /// The message, shortened to a readable length.
    pub message: String,
}

/// The CloudFront error markers a viewer sees in `X-Cache` when the edge's own code failed
/// ("How to determine the type of failure", Test and debug Lambda@Edge functions), and the
/// function kind and failure each names.
pub const EDGE_MARKERS: [(&str, FunctionKind, Failure); 5] = [
    (
        "LambdaExecutionError",
        FunctionKind::LambdaEdge,
        Failure::Execution,
    ),
    (
        "LambdaValidationError",
        FunctionKind::LambdaEdge,
        Failure::Validation,
    ),
    (
        "LambdaLimitExceeded",
        FunctionKind::LambdaEdge,
        Failure::Throttled,
    ),
    (
        "FunctionExecutionError",
        FunctionKind::CloudfrontFunction,
        Failure::Execution,
    ),
    (
        "FunctionValidationError",
        FunctionKind::CloudfrontFunction,
        Failure::Validation,
    ),
];

/// How an edge function fails a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Failure {
    /// It threw, or did not finish: viewers get 503.
    Execution,
    /// It returned something CloudFront rejects: viewers get 502.
    Validation,
    /// It was throttled or ran out of time (Lambda limit exceeded): viewers get 503.
    Throttled,
}

/// The marker in an `X-Cache` value (`LambdaExecutionError from cloudfront`), if it is one.
pub fn edge_marker(x_cache: &str) -> Option<(&'static str, FunctionKind, Failure)> {
    let lowered = x_cache.trim().to_ascii_lowercase();
    EDGE_MARKERS
        .iter()
        .find(|(marker, _, _)| {
            lowered.starts_with(&format!("{} from cloudfront", marker.to_ascii_lowercase()))
        })
        .copied()
}

/// The parts of a Lambda ARN: (region, name, qualifier).
pub fn parse_lambda_arn(arn: &str) -> Option<(String, String, Option<String>)> {
    // arn:PARTITION:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]
    let parts: Vec<&str> = arn.split(':').collect();
    if parts.len() < 7 || parts[2] != "lambda" || parts[5] != "function" {
        return None;
    }
    let qualifier = parts.get(7).map(|q| q.to_string());
    Some((parts[3].to_string(), parts[6].to_string(), qualifier))
}

/// The name in a CloudFront Function ARN (`arn:aws:cloudfront::ACCOUNT:function/NAME`).
pub fn cloudfront_function_name(arn: &str) -> Option<&str> {
    arn.rsplit_once(":function/")
        .map(|(_, name)| name)
        .filter(|name| !name.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambda_arns_split_into_region_name_and_qualifier() {
        assert_eq!(
            parse_lambda_arn("arn:aws:lambda:us-east-1:123456789012:function:rewrite:7"),
            Some(("us-east-1".into(), "rewrite".into(), Some("7".into())))
        );
        assert_eq!(
            parse_lambda_arn("arn:aws:lambda:eu-west-1:123456789012:function:rewrite"),
            Some(("eu-west-1".into(), "rewrite".into(), None))
        );
        assert_eq!(parse_lambda_arn("arn:aws:s3:::bucket"), None);
    }

    #[test]
    fn cloudfront_function_names_come_from_the_arn() {
        assert_eq!(
            cloudfront_function_name("arn:aws:cloudfront::123456789012:function/url-rewrite"),
            Some("url-rewrite")
        );
        assert_eq!(cloudfront_function_name("url-rewrite"), None);
    }

    #[test]
    fn markers_are_read_whatever_the_case() {
        assert_eq!(
            edge_marker("LambdaExecutionError from cloudfront").map(|m| m.2),
            Some(Failure::Execution)
        );
        assert_eq!(
            edge_marker("FunctionValidationError from CloudFront").map(|m| (m.1, m.2)),
            Some((FunctionKind::CloudfrontFunction, Failure::Validation))
        );
        assert_eq!(edge_marker("Error from cloudfront"), None);
        assert_eq!(edge_marker("Miss from cloudfront"), None);
    }
}
