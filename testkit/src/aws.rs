//! Owns seeding moto with the AWS state cf-doctor reads (CloudFront distributions, ACM
//! certificates) and the SNS -> SQS plumbing that lets tests read back what cf-doctor published.
//!
//! Everything goes through the real SDK, so the wire format cf-doctor parses is moto's real
//! response, not a hand-written fixture.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_cloudfront::types::{
    Aliases, CacheBehavior, CacheBehaviors, CookiePreference, CustomOriginConfig,
    DefaultCacheBehavior, DistributionConfig, ForwardedValues, Headers, ItemSelection,
    LoggingConfig, MinimumProtocolVersion, Origin, OriginGroup, OriginGroupFailoverCriteria,
    OriginGroupMember, OriginGroupMembers, OriginGroups, OriginProtocolPolicy, OriginSslProtocols,
    Origins, S3OriginConfig, SslProtocol, SslSupportMethod, StatusCodes, ViewerCertificate,
    ViewerProtocolPolicy,
};
use aws_sdk_sqs::types::QueueAttributeName;

use crate::pki::Leaf;

/// The id of the single origin every seeded distribution has.
pub const ORIGIN_ID: &str = "primary-origin";
/// The S3 origin and the failover group of `DistributionSpec::s3_failover`.
pub const S3_ORIGIN_ID: &str = "s3-failover";
pub const ORIGIN_GROUP_ID: &str = "failover-group";
/// AWS's managed "CachingOptimized" cache policy: what the console picks for a new distribution.
pub const CACHING_OPTIMIZED_POLICY_ID: &str = "658327ea-f89d-4fab-a63d-7e88639e58f6";

/// What to put in a seeded distribution (one custom origin).
///
/// moto 5.2.5 stores and returns what this can express: aliases as given (wildcards such as
/// `*.shop.example` included), and for every cache behaviour its PathPattern, TargetOriginId,
/// CachePolicyId, OriginRequestPolicyId and ForwardedValues (legacy headers). It does not check
/// that a behaviour's target origin exists (CloudFront does), nor that a cache policy and
/// ForwardedValues are not set together (CloudFront refuses that with InvalidArgument; so does
/// this module, by panicking). An id a behaviour does not have comes back as an empty element
/// (`CachePolicyId` of a legacy behaviour, `OriginRequestPolicyId` of any extra behaviour
/// without one), which the SDK reads as `Some("")`; the default behaviour's missing
/// OriginRequestPolicyId is omitted (`None`).
#[derive(Debug, Clone, PartialEq)]
pub struct DistributionSpec {
    pub origin_domain: String,
    pub https_port: i32,
    pub http_port: i32,
    pub protocol_policy: OriginProtocolPolicy,
    pub ssl_protocols: Vec<SslProtocol>,
    pub read_timeout_s: i32,
    pub aliases: Vec<String>,
    /// `None`: CloudFront's default *.cloudfront.net certificate.
    pub viewer_acm_arn: Option<String>,
    pub enabled: bool,
    pub comment: String,
    /// An S3 bucket domain added as a second origin and as the failover member of an origin
    /// group whose primary is the custom origin.
    pub s3_failover: Option<String>,
    /// The origin request policy on the default cache behaviour (none when `None`).
    pub origin_request_policy_id: Option<String>,
    /// The cache policy on the default cache behaviour; `None` makes it a legacy behaviour
    /// (ForwardedValues and TTLs instead of a cache policy).
    pub cache_policy_id: Option<String>,
    /// Legacy ForwardedValues headers on the default behaviour (e.g. `Host`), only when
    /// `cache_policy_id` is `None`.
    pub forwarded_headers: Vec<String>,
    /// Cache behaviours besides the default one, in precedence order.
    pub behaviors: Vec<BehaviorSpec>,
    /// The real-time log configuration of the default behaviour (moto keeps the ARN but serves
    /// no GetRealtimeLogConfig: the proxy answers it, `cloudfront_xml::realtime_log_config`).
    pub realtime_log_config_arn: Option<String>,
    /// Legacy standard logging to S3: the bucket's domain name (`bucket.s3.amazonaws.com`) and
    /// the prefix.
    pub logging: Option<(String, String)>,
}

/// One cache behaviour besides the default: requests matching `path_pattern` go to
/// `target_origin_id` with these policies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BehaviorSpec {
    /// e.g. `/api/*`.
    pub path_pattern: String,
    /// [`ORIGIN_ID`], [`S3_ORIGIN_ID`], or any id (moto does not check it exists).
    pub target_origin_id: String,
    /// `None`: a legacy behaviour (ForwardedValues with `forwarded_headers`).
    pub cache_policy_id: Option<String>,
    pub origin_request_policy_id: Option<String>,
    /// Legacy ForwardedValues headers, only when `cache_policy_id` is `None`.
    pub forwarded_headers: Vec<String>,
}

impl BehaviorSpec {
    /// `path_pattern` to the custom origin, CachingOptimized, no origin request policy.
    pub fn new(path_pattern: &str) -> BehaviorSpec {
        BehaviorSpec {
            path_pattern: path_pattern.to_string(),
            target_origin_id: ORIGIN_ID.to_string(),
            cache_policy_id: Some(CACHING_OPTIMIZED_POLICY_ID.to_string()),
            origin_request_policy_id: None,
            forwarded_headers: Vec::new(),
        }
    }

    /// `path_pattern` to the custom origin as a legacy behaviour forwarding `headers`
    /// (ForwardedValues, no cache or origin request policy).
    pub fn legacy(path_pattern: &str, headers: &[&str]) -> BehaviorSpec {
        BehaviorSpec {
            cache_policy_id: None,
            forwarded_headers: headers.iter().map(|h| h.to_string()).collect(),
            ..BehaviorSpec::new(path_pattern)
        }
    }
}

impl DistributionSpec {
    /// https-only to `domain:port`, TLSv1.2, 30 s read timeout, no aliases, default viewer
    /// certificate, enabled.
    pub fn https_origin(domain: &str, port: u16) -> DistributionSpec {
        DistributionSpec {
            origin_domain: domain.to_string(),
            https_port: i32::from(port),
            http_port: 80,
            protocol_policy: OriginProtocolPolicy::HttpsOnly,
            ssl_protocols: vec![SslProtocol::TlSv12],
            read_timeout_s: 30,
            aliases: Vec::new(),
            viewer_acm_arn: None,
            enabled: true,
            comment: format!("cf-doctor testkit: {domain}"),
            s3_failover: None,
            origin_request_policy_id: None,
            cache_policy_id: Some(CACHING_OPTIMIZED_POLICY_ID.to_string()),
            forwarded_headers: Vec::new(),
            behaviors: Vec::new(),
            realtime_log_config_arn: None,
            logging: None,
        }
    }
}

/// Legacy cache settings: these headers forwarded (and in the cache key), no query strings, no
/// cookies. What a behaviour without a cache policy needs (CloudFront requires either).
fn forwarded_values(headers: &[String]) -> ForwardedValues {
    let headers = built(
        "Headers",
        Headers::builder()
            .quantity(headers.len() as i32)
            .set_items((!headers.is_empty()).then(|| headers.to_vec()))
            .build(),
    );
    let cookies = built(
        "CookiePreference",
        CookiePreference::builder()
            .forward(ItemSelection::None)
            .build(),
    );
    built(
        "ForwardedValues",
        ForwardedValues::builder()
            .query_string(false)
            .cookies(cookies)
            .headers(headers)
            .build(),
    )
}

/// CloudFront refuses ForwardedValues next to a cache policy (InvalidArgument); moto would
/// store both, so a spec asking for that is a mistake in the test.
fn legacy_headers_need_no_cache_policy(
    what: &str,
    cache_policy: &Option<String>,
    headers: &[String],
) {
    assert!(
        cache_policy.is_none() || headers.is_empty(),
        "{what}: forwarded_headers {headers:?} need cache_policy_id: None (CloudFront refuses ForwardedValues next to a cache policy)"
    );
}

// ForwardedValues and MinTTL: see default_behavior.
#[allow(deprecated)]
fn cache_behaviors(specs: &[BehaviorSpec]) -> Option<CacheBehaviors> {
    if specs.is_empty() {
        return None;
    }
    let items = specs
        .iter()
        .map(|b| {
            legacy_headers_need_no_cache_policy(
                &format!("behaviour {}", b.path_pattern),
                &b.cache_policy_id,
                &b.forwarded_headers,
            );
            let legacy = b.cache_policy_id.is_none();
            built(
                "CacheBehavior",
                CacheBehavior::builder()
                    .path_pattern(&b.path_pattern)
                    .target_origin_id(&b.target_origin_id)
                    .viewer_protocol_policy(ViewerProtocolPolicy::RedirectToHttps)
                    .set_cache_policy_id(b.cache_policy_id.clone())
                    .set_origin_request_policy_id(b.origin_request_policy_id.clone())
                    .set_forwarded_values(legacy.then(|| forwarded_values(&b.forwarded_headers)))
                    .set_min_ttl(legacy.then_some(0))
                    .compress(true)
                    .build(),
            )
        })
        .collect::<Vec<_>>();
    Some(built(
        "CacheBehaviors",
        CacheBehaviors::builder()
            .quantity(items.len() as i32)
            .set_items(Some(items))
            .build(),
    ))
}

/// Builder errors can only come from a required field this module forgot to set.
fn built<T>(what: &str, r: Result<T, aws_sdk_cloudfront::error::BuildError>) -> T {
    r.unwrap_or_else(|e| panic!("testkit built an invalid CloudFront {what}: {e}: fix aws.rs"))
}

/// CallerReference must be unique per CreateDistribution call (CloudFront's idempotency key).
fn caller_reference() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "cf-doctor-testkit-{}-{nanos}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

fn distribution_config(spec: &DistributionSpec) -> DistributionConfig {
    let ssl_protocols = built(
        "OriginSslProtocols",
        OriginSslProtocols::builder()
            .quantity(spec.ssl_protocols.len() as i32)
            .set_items(Some(spec.ssl_protocols.clone()))
            .build(),
    );
    let custom = built(
        "CustomOriginConfig",
        CustomOriginConfig::builder()
            .http_port(spec.http_port)
            .https_port(spec.https_port)
            .origin_protocol_policy(spec.protocol_policy.clone())
            .origin_ssl_protocols(ssl_protocols)
            .origin_read_timeout(spec.read_timeout_s)
            .origin_keepalive_timeout(5)
            .build(),
    );
    let origin = built(
        "Origin",
        Origin::builder()
            .id(ORIGIN_ID)
            .domain_name(&spec.origin_domain)
            .custom_origin_config(custom)
            .connection_attempts(3)
            .connection_timeout(10)
            .build(),
    );
    let mut origins = vec![origin];
    let mut groups = None;
    if let Some(bucket) = &spec.s3_failover {
        origins.push(built(
            "S3 Origin",
            Origin::builder()
                .id(S3_ORIGIN_ID)
                .domain_name(bucket)
                .s3_origin_config(S3OriginConfig::builder().origin_access_identity("").build())
                .build(),
        ));
        groups = Some(origin_group());
    }
    let origins = built(
        "Origins",
        Origins::builder()
            .quantity(origins.len() as i32)
            .set_items(Some(origins))
            .build(),
    );
    let behavior = default_behavior(spec);
    let aliases = built(
        "Aliases",
        Aliases::builder()
            .quantity(spec.aliases.len() as i32)
            .set_items((!spec.aliases.is_empty()).then(|| spec.aliases.clone()))
            .build(),
    );
    let viewer = match &spec.viewer_acm_arn {
        Some(arn) => ViewerCertificate::builder()
            .cloud_front_default_certificate(false)
            .acm_certificate_arn(arn)
            .ssl_support_method(SslSupportMethod::SniOnly)
            .minimum_protocol_version(MinimumProtocolVersion::TlSv122021)
            .build(),
        None => ViewerCertificate::builder()
            .cloud_front_default_certificate(true)
            .build(),
    };
    built(
        "DistributionConfig",
        DistributionConfig::builder()
            .caller_reference(caller_reference())
            .aliases(aliases)
            .origins(origins)
            .default_cache_behavior(behavior)
            .set_cache_behaviors(cache_behaviors(&spec.behaviors))
            .comment(&spec.comment)
            .enabled(spec.enabled)
            .viewer_certificate(viewer)
            .set_origin_groups(groups)
            .set_logging(spec.logging.as_ref().map(|(bucket, prefix)| {
                LoggingConfig::builder()
                    .enabled(true)
                    .include_cookies(false)
                    .bucket(bucket)
                    .prefix(prefix)
                    .build()
            }))
            .build(),
    )
}

/// The default behaviour: to the custom origin, with the spec's policies or legacy settings.
// ForwardedValues and MinTTL are deprecated in the API for new distributions, but legacy
// distributions still have them, and cf-doctor must read them.
#[allow(deprecated)]
fn default_behavior(spec: &DistributionSpec) -> DefaultCacheBehavior {
    legacy_headers_need_no_cache_policy(
        "the default behaviour",
        &spec.cache_policy_id,
        &spec.forwarded_headers,
    );
    let legacy = spec.cache_policy_id.is_none();
    built(
        "DefaultCacheBehavior",
        DefaultCacheBehavior::builder()
            // Always the custom origin: moto 5.2.5 refuses a behaviour that targets an origin
            // group (NoSuchOrigin), which CloudFront needs for failover; cf-doctor's expansion of
            // group targets is unit-tested in src/collect/cloudfront.rs.
            .target_origin_id(ORIGIN_ID)
            .viewer_protocol_policy(ViewerProtocolPolicy::RedirectToHttps)
            .set_cache_policy_id(spec.cache_policy_id.clone())
            .set_origin_request_policy_id(spec.origin_request_policy_id.clone())
            .set_forwarded_values(legacy.then(|| forwarded_values(&spec.forwarded_headers)))
            .set_min_ttl(legacy.then_some(0))
            .compress(true)
            .set_realtime_log_config_arn(spec.realtime_log_config_arn.clone())
            .build(),
    )
}

/// The failover group: the custom origin first, the S3 origin when it answers 500, 502, 503 or
/// 504.
fn origin_group() -> OriginGroups {
    let statuses = built(
        "StatusCodes",
        StatusCodes::builder()
            .quantity(4)
            .set_items(Some(vec![500, 502, 503, 504]))
            .build(),
    );
    let criteria = OriginGroupFailoverCriteria::builder()
        .status_codes(statuses)
        .build();
    let members: Vec<OriginGroupMember> = [ORIGIN_ID, S3_ORIGIN_ID]
        .iter()
        .map(|id| {
            built(
                "OriginGroupMember",
                OriginGroupMember::builder().origin_id(*id).build(),
            )
        })
        .collect();
    let members = built(
        "OriginGroupMembers",
        OriginGroupMembers::builder()
            .quantity(2)
            .set_items(Some(members))
            .build(),
    );
    let group = built(
        "OriginGroup",
        OriginGroup::builder()
            .id(ORIGIN_GROUP_ID)
            .failover_criteria(criteria)
            .members(members)
            .build(),
    );
    built(
        "OriginGroups",
        OriginGroups::builder().quantity(1).items(group).build(),
    )
}

/// Creates a distribution from `spec` and returns its id.
pub async fn create_distribution(
    cf: &aws_sdk_cloudfront::Client,
    spec: &DistributionSpec,
) -> String {
    let out = cf
        .create_distribution()
        .distribution_config(distribution_config(spec))
        .send()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "moto CreateDistribution failed: {}: is moto_server running and is the spec valid? {spec:?}",
                aws_sdk_cloudfront::error::DisplayErrorContext(&e)
            )
        });
    out.distribution()
        .map(|d| d.id().to_string())
        .expect("moto CreateDistribution returned no Distribution: did moto change? pin the version the testkit was written for (moto 5.2.5) with `.venv/bin/pip install moto[server]==5.2.5`")
}

/// Imports `leaf` (with `ca_chain_pem`, may be empty) into ACM and returns the certificate ARN.
/// moto, like ACM, refuses certificates that are already expired or not yet valid.
pub async fn import_certificate(
    acm: &aws_sdk_acm::Client,
    leaf: &Leaf,
    ca_chain_pem: &str,
) -> String {
    use aws_sdk_acm::primitives::Blob;
    let chain = (!ca_chain_pem.trim().is_empty()).then(|| Blob::new(ca_chain_pem.as_bytes()));
    let out = acm
        .import_certificate()
        .certificate(Blob::new(leaf.cert_pem.as_bytes()))
        .private_key(Blob::new(leaf.key_pem.as_bytes()))
        .set_certificate_chain(chain)
        .send()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "moto ImportCertificate failed: {}: ACM (and moto) refuse expired or not-yet-valid certificates; seed those through aws-smithy-mocks instead",
                aws_sdk_acm::error::DisplayErrorContext(&e)
            )
        });
    out.certificate_arn()
        .map(str::to_string)
        .expect("moto ImportCertificate returned no CertificateArn: did moto change? pin the version the testkit was written for (moto 5.2.5) with `.venv/bin/pip install moto[server]==5.2.5`")
}

/// Creates SNS topic `name` and SQS queue `name`, subscribes the queue to the topic with
/// RawMessageDelivery=false (so each SQS body is the SNS envelope, with Subject and
/// MessageAttributes), and returns (topic ARN, queue URL).
pub async fn topic_with_queue(
    sns: &aws_sdk_sns::Client,
    sqs: &aws_sdk_sqs::Client,
    name: &str,
) -> (String, String) {
    let topic_arn = sns
        .create_topic()
        .name(name)
        .send()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "moto CreateTopic {name:?} failed: {}: topic names are [A-Za-z0-9_-]{{1,256}}",
                aws_sdk_sns::error::DisplayErrorContext(&e)
            )
        })
        .topic_arn()
        .map(str::to_string)
        .expect("moto CreateTopic returned no TopicArn: did moto change? pin the version the testkit was written for (moto 5.2.5) with `.venv/bin/pip install moto[server]==5.2.5`");
    let queue_url = sqs
        .create_queue()
        .queue_name(name)
        .send()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "moto CreateQueue {name:?} failed: {}: queue names are [A-Za-z0-9_-]{{1,80}}",
                aws_sdk_sqs::error::DisplayErrorContext(&e)
            )
        })
        .queue_url()
        .map(str::to_string)
        .expect("moto CreateQueue returned no QueueUrl: did moto change? pin the version the testkit was written for (moto 5.2.5) with `.venv/bin/pip install moto[server]==5.2.5`");
    let queue_arn = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "moto GetQueueAttributes failed: {}: is moto_server still running?",
                aws_sdk_sqs::error::DisplayErrorContext(&e)
            )
        })
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .expect("moto GetQueueAttributes returned no QueueArn: did moto change? pin the version the testkit was written for (moto 5.2.5) with `.venv/bin/pip install moto[server]==5.2.5`");
    // Real AWS would also need a queue policy allowing sns.amazonaws.com to SendMessage; moto
    // does not enforce IAM, so it is left out.
    sns.subscribe()
        .topic_arn(&topic_arn)
        .protocol("sqs")
        .endpoint(&queue_arn)
        .attributes("RawMessageDelivery", "false")
        .send()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "moto Subscribe of {queue_arn} to {topic_arn} failed: {}",
                aws_sdk_sns::error::DisplayErrorContext(&e)
            )
        });
    (topic_arn, queue_url)
}

const RECEIVE_BUDGET: Duration = Duration::from_secs(10);

/// Reads SNS envelopes from `queue_url` until at least `expect_at_least` arrived or ~10 s passed,
/// deleting what it read. Returns what it got (possibly fewer: the caller asserts, with its own
/// message). With `expect_at_least == 0` it makes one short poll, for "nothing was published".
pub async fn receive_all(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    expect_at_least: usize,
) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + RECEIVE_BUDGET;
    let mut envelopes = Vec::new();
    loop {
        let out = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "moto ReceiveMessage on {queue_url} failed: {}: is moto_server still running?",
                    aws_sdk_sqs::error::DisplayErrorContext(&e)
                )
            });
        for message in out.messages() {
            let body = message.body().unwrap_or_default();
            let envelope: serde_json::Value = serde_json::from_str(body).unwrap_or_else(|e| {
                panic!(
                    "SQS body is not an SNS JSON envelope ({e}): was the subscription created with RawMessageDelivery=true? body:\n{body}"
                )
            });
            envelopes.push(envelope);
            if let Some(handle) = message.receipt_handle() {
                // Deleted so that a later receive_all on the same queue only sees new messages.
                let _ = sqs
                    .delete_message()
                    .queue_url(queue_url)
                    .receipt_handle(handle)
                    .send()
                    .await;
            }
        }
        if envelopes.len() >= expect_at_least || Instant::now() >= deadline {
            return envelopes;
        }
    }
}
