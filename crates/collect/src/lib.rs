//! Collect: I/O only. AWS APIs and live probes turn a target into Evidence; nothing here decides
//! severity (this crate cannot see the rules). A failed check is evidence; `Err` means the
//! inspection could not run at all.

pub mod acm;
mod alarm;
pub mod associations;
pub mod cloudfront;
pub mod edge;
pub mod edge_functions;
pub mod elb;
mod function_target;
pub mod host_sent;
mod in_use;
pub mod metrics;
pub mod origin_mtls;
pub mod probe;
pub mod ratelimit;
mod realtime_logs;
mod resolve;
pub mod sweep;
pub mod vpc_origin;

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_sdk_cloudfront::error::ProvideErrorMetadata;

use cf_doctor_aws::error_text;
use cf_doctor_model::evidence::{Distribution, Gap, OriginKind, Thresholds};
use probe::{ProbeTarget, Prober};

#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    #[error("distribution {0} does not exist in this account (cloudfront:GetDistribution answered NoSuchDistribution)")]
    DistributionNotFound(String),
    #[error("cannot reach the AWS API endpoint {endpoint} for {action}: {error}")]
    Unreachable {
        action: String,
        endpoint: String,
        error: String,
    },
    #[error("{action} on {resource} failed: {error}")]
    Aws {
        action: String,
        resource: String,
        error: String,
    },
}

impl CollectError {
    pub fn aws<E, R>(
        action: &str,
        resource: &str,
        error: &aws_smithy_runtime_api::client::result::SdkError<E, R>,
    ) -> Self
    where
        E: std::error::Error + ProvideErrorMetadata + 'static,
        R: std::fmt::Debug,
    {
        if cf_doctor_aws::is_unreachable(error) {
            CollectError::Unreachable {
                action: action.into(),
                endpoint: String::new(),
                error: error_text(error),
            }
        } else {
            CollectError::Aws {
                action: action.into(),
                resource: resource.into(),
                error: error_text(error),
            }
        }
    }

    /// Names the endpoint in an "unreachable" error once the caller knows it.
    pub fn with_endpoint(self, endpoint: &str) -> Self {
        match self {
            CollectError::Unreachable { action, error, .. } => CollectError::Unreachable {
                action,
                endpoint: endpoint.to_string(),
                error,
            },
            other => other,
        }
    }
}

/// Whether new work may still start before the deadline: there must be time left for that work
/// (every probe step at its timeout) and for delivering the report.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub deadline: Option<tokio::time::Instant>,
    pub reserve: std::time::Duration,
}

impl Budget {
    pub fn allows_start(&self) -> bool {
        self.deadline
            .is_none_or(|d| tokio::time::Instant::now() + self.reserve <= d)
    }
}

/// Room kept for delivering the report after the last piece of work: what delivery can really
/// take (reading the Slack webhook secret, SNS and Slack with its Retry-After waits, the delivery
/// records), each call bounded in the notify module, which checks at compile time that the sum
/// fits in this.
pub const DELIVERY_RESERVE: std::time::Duration = std::time::Duration::from_secs(30);

/// The clients for what lives in an origin region.
#[derive(Debug, Clone)]
pub struct InfraClients {
    pub acm: aws_sdk_acm::Client,
    pub elb: aws_sdk_elasticloadbalancingv2::Client,
    pub ec2: aws_sdk_ec2::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
}

impl InfraClients {
    fn new(sdk: &aws_config::SdkConfig, region: &str) -> InfraClients {
        let config = sdk
            .to_builder()
            .region(aws_config::Region::new(region.to_string()))
            .build();
        InfraClients {
            acm: aws_sdk_acm::Client::new(&config),
            elb: aws_sdk_elasticloadbalancingv2::Client::new(&config),
            ec2: aws_sdk_ec2::Client::new(&config),
            cloudwatch: aws_sdk_cloudwatch::Client::new(&config),
        }
    }
}

/// The AWS clients and the prober, built once per process.
#[derive(Debug, Clone)]
pub struct Collector {
    pub cloudfront: aws_sdk_cloudfront::Client,
    /// CloudFront viewer certificates always live in us-east-1.
    pub acm_us_east_1: aws_sdk_acm::Client,
    /// ACM in every region the sweep covers: us-east-1 and the origin regions.
    pub acm_by_region: BTreeMap<String, aws_sdk_acm::Client>,
    /// Load balancer, EC2, CloudWatch and ACM clients for us-east-1 and every origin region.
    pub infra_by_region: BTreeMap<String, InfraClients>,
    /// For a client in a region outside the configured ones (an ACM event from elsewhere).
    pub sdk: aws_config::SdkConfig,
    pub prober: Arc<Prober>,
    /// CNAME lookups for finding a load balancer behind an origin name (None: unavailable).
    pub cnames: Option<Arc<probe::dns::Resolver>>,
    pub thresholds: Thresholds,
    /// The SDK is pointed at an emulator (AWS_ENDPOINT_URL): distribution domains are not real,
    /// so the edge is probed only where --resolve pins the domain.
    pub emulated: bool,
    /// For error messages: where the SDK sends requests ("the AWS default" when not overridden).
    pub endpoint: String,
    /// ACM DescribeCertificate's pace per region, shared by every part of a diagnosis that reads
    /// a certificate (viewer, origin mTLS, listener), which now run side by side.
    pub acm_pace: Arc<AcmPace>,
    /// Route53 (global): the account's hosted zones and records, which name what an origin is.
    pub route53: aws_sdk_route53::Client,
    /// Route53's pace: 5 requests per second for the whole account.
    pub route53_pace: Arc<ratelimit::RateLimiter>,
}

/// ACM DescribeCertificate: 10 requests per second per region (ACM quotas).
pub(crate) const ACM_DESCRIBE_PER_SECOND: u32 = 10;

/// One limiter per region, made on first use.
#[derive(Debug, Default)]
pub struct AcmPace(std::sync::Mutex<BTreeMap<String, Arc<ratelimit::RateLimiter>>>);

impl Collector {
    /// `origin_regions` empty means the configured region (where the function runs).
    pub fn new(
        sdk: &aws_config::SdkConfig,
        prober: Prober,
        thresholds: Thresholds,
        origin_regions: &[String],
        dns_server: Option<std::net::SocketAddr>,
    ) -> Collector {
        let in_region = |region: &str| {
            sdk.to_builder()
                .region(aws_config::Region::new(region.to_string()))
                .build()
        };
        let us_east_1 = in_region("us-east-1");
        let mut regions: Vec<String> = vec!["us-east-1".to_string()];
        match origin_regions {
            [] => regions.extend(sdk.region().map(|r| r.to_string())),
            listed => regions.extend(listed.iter().cloned()),
        }
        let infra_by_region: BTreeMap<String, InfraClients> = regions
            .iter()
            .map(|r| (r.clone(), InfraClients::new(sdk, r)))
            .collect();
        let acm_by_region = infra_by_region
            .iter()
            .map(|(r, clients)| (r.clone(), clients.acm.clone()))
            .collect();
        Collector {
            cloudfront: aws_sdk_cloudfront::Client::new(&us_east_1),
            acm_us_east_1: aws_sdk_acm::Client::new(&us_east_1),
            route53: aws_sdk_route53::Client::new(&us_east_1),
            route53_pace: Arc::new(ratelimit::RateLimiter::per_second(
                resolve::route53::ROUTE53_PER_SECOND,
            )),
            acm_by_region,
            infra_by_region,
            sdk: sdk.clone(),
            prober: Arc::new(prober),
            // Against an emulator, origin names are not real: their CNAMEs are read only from an
            // explicitly configured DNS server, never from the system's resolver.
            cnames: match (dns_server, sdk.endpoint_url().is_some()) {
                (None, true) => None,
                (server, _) => probe::dns::resolver(server).map(Arc::new),
            },
            thresholds,
            emulated: sdk.endpoint_url().is_some(),
            endpoint: sdk
                .endpoint_url()
                .unwrap_or("the AWS default endpoint")
                .to_string(),
            acm_pace: Arc::default(),
        }
    }

    /// The same inspection in another account: every client built anew from `sdk` (whose
    /// credentials are a role's in that account), the same regions, prober and thresholds.
    pub fn in_account(&self, sdk: &aws_config::SdkConfig) -> Collector {
        let regions = self.origin_regions();
        let in_region = |region: &str| {
            sdk.to_builder()
                .region(aws_config::Region::new(region.to_string()))
                .build()
        };
        let infra_by_region: BTreeMap<String, InfraClients> = regions
            .iter()
            .map(|r| (r.clone(), InfraClients::new(sdk, r)))
            .collect();
        let us_east_1 = in_region("us-east-1");
        Collector {
            cloudfront: aws_sdk_cloudfront::Client::new(&us_east_1),
            acm_us_east_1: aws_sdk_acm::Client::new(&us_east_1),
            acm_by_region: infra_by_region
                .iter()
                .map(|(r, clients)| (r.clone(), clients.acm.clone()))
                .collect(),
            infra_by_region,
            route53: aws_sdk_route53::Client::new(&us_east_1),
            sdk: sdk.clone(),
            // Another account has its own ACM and Route53 quotas.
            acm_pace: Arc::default(),
            route53_pace: Arc::new(ratelimit::RateLimiter::per_second(
                resolve::route53::ROUTE53_PER_SECOND,
            )),
            ..self.clone()
        }
    }

    /// The same collector with more origin regions (a member account's own, from
    /// ORIGIN_REGIONS' `ACCOUNT:REGION` entries).
    pub fn with_regions(mut self, extra: &[String]) -> Collector {
        for region in extra {
            if !self.infra_by_region.contains_key(region) {
                let clients = InfraClients::new(&self.sdk, region);
                self.acm_by_region
                    .insert(region.clone(), clients.acm.clone());
                self.infra_by_region.insert(region.clone(), clients);
            }
        }
        self
    }

    /// The pace of ACM DescribeCertificate calls in `region`, shared by every part of a run that
    /// describes certificates there (viewer, listener and client certificates, the sweep).
    pub fn acm_pace(&self, region: &str) -> Arc<ratelimit::RateLimiter> {
        let mut by_region = self
            .acm_pace
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        by_region
            .entry(region.to_string())
            .or_insert_with(|| {
                Arc::new(ratelimit::RateLimiter::per_second(ACM_DESCRIBE_PER_SECOND))
            })
            .clone()
    }

    /// The ACM client for a region, built on the spot only for a region outside the configured ones.
    pub fn acm_for(&self, region: &str) -> aws_sdk_acm::Client {
        self.acm_by_region.get(region).cloned().unwrap_or_else(|| {
            aws_sdk_acm::Client::new(
                &self
                    .sdk
                    .to_builder()
                    .region(aws_config::Region::new(region.to_string()))
                    .build(),
            )
        })
    }

    /// The clients for a region, built on the spot only outside the configured ones.
    pub fn infra_for(&self, region: &str) -> InfraClients {
        self.infra_by_region
            .get(region)
            .cloned()
            .unwrap_or_else(|| InfraClients::new(&self.sdk, region))
    }

    /// Where to look for what stands behind origins besides the regions their names and records
    /// give: the configured origin regions (us-east-1 is always covered).
    pub fn origin_regions(&self) -> Vec<String> {
        self.infra_by_region.keys().cloned().collect()
    }

    /// The deadline budget: each piece of work may take four probe timeouts, and delivery needs
    /// its reserve.
    pub fn budget(&self, deadline: Option<tokio::time::Instant>) -> Budget {
        Budget {
            deadline,
            reserve: self.prober.timeout * 4 + DELIVERY_RESERVE,
        }
    }
}

/// Every custom origin of a distribution, as CloudFront reaches it: once with the origin domain
/// as SNI and Host, or with the forwarded viewer Host when its cache behaviours forward it (and
/// both when some do and some do not). S3 origins are not probed.
pub fn probe_targets(distribution: &Distribution) -> impl Iterator<Item = ProbeTarget> + '_ {
    distribution.origins.iter().flat_map(move |origin| {
        let OriginKind::Custom(custom) = &origin.kind else {
            return Vec::new();
        };
        let target = |server_name: &str, accepted: Vec<String>, note: Option<String>| ProbeTarget {
            distribution_id: distribution.id.clone(),
            origin_id: origin.id.clone(),
            host: origin.domain_name.clone(),
            origin: custom.clone(),
            server_name: server_name.to_string(),
            accepted_names: accepted,
            server_name_note: note,
        };
        let domain = origin.domain_name.clone();
        match &origin.forwarded_host {
            None => vec![target(&domain, vec![domain.clone()], None)],
            Some(forwarded) => {
                let mut note = format!(
                    "the viewer's Host is forwarded ({})",
                    forwarded.forwarded_by.join("; ")
                );
                if let Some(wildcard) = &forwarded.wildcard_alias {
                    note.push_str(&format!(
                        "; the alias {wildcard} is a wildcard, so {} stands for any name under it",
                        forwarded.host
                    ));
                }
                let mut targets = vec![target(
                    &forwarded.host,
                    vec![forwarded.host.clone(), domain.clone()],
                    Some(note),
                )];
                if forwarded.origin_domain_too {
                    targets.push(target(
                        &domain,
                        vec![domain.clone()],
                        Some("other cache behaviours do not forward the viewer's Host: CloudFront sends the origin domain for them".into()),
                    ));
                }
                targets
            }
        }
    })
}

/// A gap for work the deadline left no time to start.
fn not_in_time(what: &str, resource: &str) -> Gap {
    Gap::new(
        "deadline",
        resource,
        "not started: the deadline was too close to finish it and still deliver the report".into(),
        what,
    )
}
