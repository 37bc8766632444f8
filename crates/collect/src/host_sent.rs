//! Which Host each origin receives. CloudFront sends the origin domain as Host (and SNI) unless a
//! cache behaviour that reaches the origin forwards the viewer's Host: through legacy forwarded
//! headers, an origin request policy that includes Host, or a cache policy that puts Host in the
//! cache key (cache-key headers are forwarded too: API reference, CachePolicyHeadersConfig).
//! AWS's managed policies are known by id; the account's own are read once per run.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use aws_sdk_cloudfront::types as cf;
use futures::StreamExt;

use crate::{error_text, Budget};
use cf_doctor_model::evidence::{ForwardedHost, Gap, OriginGroup};

/// One of AWS's managed policies: known by its id, without reading it.
#[derive(Debug, Clone, Copy)]
struct ManagedPolicy {
    /// The id AWS publishes for it.
    id: &'static str,
    name: &'static str,
    /// Whether it sends the viewer's Host header to the origin (an origin request policy that
    /// forwards Host, or a cache policy whose cache key holds it).
    forwards_host: bool,
}

impl ManagedPolicy {
    const fn new(id: &'static str, name: &'static str, forwards_host: bool) -> ManagedPolicy {
        ManagedPolicy {
            id,
            name,
            forwards_host,
        }
    }
}

/// AWS's managed origin request policies (ids as AWS publishes them) and whether each forwards
/// the viewer's Host header.
const MANAGED_ORIGIN_REQUEST_POLICIES: [ManagedPolicy; 8] = [
    ManagedPolicy::new("216adef6-5c7f-47e4-b989-5492eafa07d3", "AllViewer", true),
    ManagedPolicy::new(
        "33f36d7e-f396-46d9-90e0-52428a34d9dc",
        "AllViewerAndCloudFrontHeaders-2022-06",
        true,
    ),
    ManagedPolicy::new(
        "bf0718e1-ba1e-49d1-88b1-f726733018ae",
        "HostHeaderOnly",
        true,
    ),
    ManagedPolicy::new(
        "b689b0a8-53d0-40ab-baf2-68738e2966ac",
        "AllViewerExceptHostHeader",
        false,
    ),
    ManagedPolicy::new(
        "59781a5b-3903-41f3-afcb-af62929ccde1",
        "CORS-CustomOrigin",
        false,
    ),
    ManagedPolicy::new(
        "88a5eaf4-2fd4-4709-b370-b4c650ea3fcf",
        "CORS-S3Origin",
        false,
    ),
    ManagedPolicy::new(
        "775133bc-15f2-49f9-abea-afb2e0bf67d2",
        "Elemental-MediaTailor-PersonalizedManifests",
        false,
    ),
    ManagedPolicy::new(
        "acba4595-bd28-49b8-b9fe-13317c0390fa",
        "UserAgentRefererHeaders",
        false,
    ),
];

/// AWS's managed cache policies whose cache-key headers are documented (using-managed-cache-
/// policies.html) and whether Host is among them. The Amplify Hosting policies AWS reserves for
/// Amplify are not listed: a distribution naming one has it read like the account's own.
const MANAGED_CACHE_POLICIES: [ManagedPolicy; 7] = [
    ManagedPolicy::new(
        "658327ea-f89d-4fab-a63d-7e88639e58f6",
        "CachingOptimized",
        false,
    ),
    ManagedPolicy::new(
        "b2884449-e4de-46a7-ac36-70bc7f1ddd6d",
        "CachingOptimizedForUncompressedObjects",
        false,
    ),
    ManagedPolicy::new(
        "4135ea2d-6df8-44a3-9df3-4b5a84be39ad",
        "CachingDisabled",
        false,
    ),
    ManagedPolicy::new(
        "08627262-05a9-4f76-9ded-b50ca2e3a84f",
        "Elemental-MediaPackage",
        false,
    ),
    ManagedPolicy::new("2e54312d-136d-493c-8eb9-b001f22f67d2", "Amplify", true),
    ManagedPolicy::new(
        "83da9c7e-98b4-4e11-a168-04f0df8e2c65",
        "UseOriginCacheControlHeaders",
        true,
    ),
    ManagedPolicy::new(
        "4cc15a8a-d715-48a4-82b8-cc0b614638fe",
        "UseOriginCacheControlHeaders-QueryStrings",
        true,
    ),
];

/// Policies read at once: CloudFront's control plane is rate limited per account.
const POLICY_READS_AT_ONCE: usize = 4;

/// The kinds of policy a cache behaviour names that can decide Host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PolicyKind {
    OriginRequest,
    Cache,
}

impl PolicyKind {
    fn managed(self) -> &'static [ManagedPolicy] {
        match self {
            PolicyKind::OriginRequest => &MANAGED_ORIGIN_REQUEST_POLICIES,
            PolicyKind::Cache => &MANAGED_CACHE_POLICIES,
        }
    }

    fn words(self) -> &'static str {
        match self {
            PolicyKind::OriginRequest => "origin request policy",
            PolicyKind::Cache => "cache policy",
        }
    }

    fn action(self) -> &'static str {
        match self {
            PolicyKind::OriginRequest => "cloudfront:GetOriginRequestPolicy",
            PolicyKind::Cache => "cloudfront:GetCachePolicy",
        }
    }
}

/// Whether each policy forwards the viewer's Host: managed ones from the tables, the account's
/// own as read. A policy missing here could not be read (a gap says so) and is taken as not
/// forwarding it.
#[derive(Debug, Default)]
pub struct PolicyVerdicts(HashMap<(PolicyKind, String), bool>);

impl PolicyVerdicts {
    /// Adds verdicts read later (another page of distributions).
    pub fn extend(&mut self, more: PolicyVerdicts) {
        self.0.extend(more.0);
    }

    fn forwards_host(&self, kind: PolicyKind, policy: &str) -> bool {
        managed(kind, policy)
            .map(|m| m.forwards_host)
            .or_else(|| self.0.get(&(kind, policy.to_string())).copied())
            .unwrap_or(false)
    }
}

fn managed(kind: PolicyKind, policy: &str) -> Option<ManagedPolicy> {
    kind.managed().iter().find(|m| m.id == policy).copied()
}

/// A policy by its managed name, or its id.
fn policy_name(kind: PolicyKind, policy: &str) -> String {
    managed(kind, policy)
        .map(|m| m.name.to_string())
        .unwrap_or_else(|| policy.to_string())
}

/// Whether an origin request policy's header settings send the viewer's Host.
pub fn headers_forward_host(config: &cf::OriginRequestPolicyHeadersConfig) -> bool {
    let listed = names_host(config.headers());
    match config.header_behavior() {
        cf::OriginRequestPolicyHeaderBehavior::AllViewer
        | cf::OriginRequestPolicyHeaderBehavior::AllViewerAndWhitelistCloudFront => true,
        cf::OriginRequestPolicyHeaderBehavior::Whitelist => listed,
        cf::OriginRequestPolicyHeaderBehavior::AllExcept => !listed,
        _ => false,
    }
}

/// Whether a cache policy puts Host in the cache key (and so forwards it).
pub fn cache_key_has_host(config: &cf::CachePolicyConfig) -> bool {
    config
        .parameters_in_cache_key_and_forwarded_to_origin()
        .and_then(|p| p.headers_config())
        .is_some_and(|h| {
            *h.header_behavior() == cf::CachePolicyHeaderBehavior::Whitelist
                && names_host(h.headers())
        })
}

fn names_host(headers: Option<&cf::Headers>) -> bool {
    headers.is_some_and(|h| h.items().iter().any(|n| n.eq_ignore_ascii_case("host")))
}

/// What one cache behaviour (the default or a path pattern) says about the origin it targets.
#[derive(Debug, Clone, Copy)]
pub struct CacheBehaviour<'a> {
    /// `None` for the default cache behaviour.
    pub path_pattern: Option<&'a str>,
    /// An origin id, or an origin group id.
    pub target_origin_id: &'a str,
    pub origin_request_policy_id: Option<&'a str>,
    pub cache_policy_id: Option<&'a str>,
    /// Legacy cache settings (before cache and origin request policies).
    pub forwarded_values: Option<&'a cf::ForwardedValues>,
}

impl CacheBehaviour<'_> {
    /// Each policy it names, by kind (an empty id means none: some answers carry it empty).
    fn policies(&self) -> impl Iterator<Item = (PolicyKind, &str)> {
        [
            (PolicyKind::OriginRequest, self.origin_request_policy_id),
            (PolicyKind::Cache, self.cache_policy_id),
        ]
        .into_iter()
        .filter_map(|(kind, id)| id.filter(|p| !p.trim().is_empty()).map(|p| (kind, p)))
    }

    fn name(&self) -> String {
        match self.path_pattern {
            None => "the default cache behaviour".to_string(),
            Some(pattern) => format!("cache behaviour {pattern}"),
        }
    }

    /// Why this behaviour forwards the viewer's Host, in words; None when it does not.
    // ForwardedValues is deprecated in the API, but distributions made before cache policies
    // still use it, and it decides whether Host is forwarded.
    #[allow(deprecated)]
    fn forwards_host(&self, verdicts: &PolicyVerdicts) -> Option<String> {
        let by_policy = self
            .policies()
            .find(|(kind, p)| verdicts.forwards_host(*kind, p));
        if let Some((kind, policy)) = by_policy {
            return Some(format!(
                "{}: {} {}",
                self.name(),
                kind.words(),
                policy_name(kind, policy)
            ));
        }
        let legacy = self
            .forwarded_values
            .and_then(|f| f.headers())
            .is_some_and(|h| {
                h.items()
                    .iter()
                    .any(|h| h == "*" || h.eq_ignore_ascii_case("host"))
            });
        legacy.then(|| format!("{}: legacy forwarded headers", self.name()))
    }
}

// ForwardedValues is deprecated in the API; see CacheBehaviour::forwards_host.
#[allow(deprecated)]
pub fn behaviours<'a>(
    default: Option<&'a cf::DefaultCacheBehavior>,
    others: Option<&'a cf::CacheBehaviors>,
) -> Vec<CacheBehaviour<'a>> {
    let mut out: Vec<CacheBehaviour<'a>> = Vec::new();
    if let Some(b) = default {
        out.push(CacheBehaviour {
            path_pattern: None,
            target_origin_id: b.target_origin_id(),
            origin_request_policy_id: b.origin_request_policy_id(),
            cache_policy_id: b.cache_policy_id(),
            forwarded_values: b.forwarded_values(),
        });
    }
    if let Some(list) = others {
        for b in list.items() {
            out.push(CacheBehaviour {
                path_pattern: Some(b.path_pattern()),
                target_origin_id: b.target_origin_id(),
                origin_request_policy_id: b.origin_request_policy_id(),
                cache_policy_id: b.cache_policy_id(),
                forwarded_values: b.forwarded_values(),
            });
        }
    }
    out
}

/// The policies the behaviours name that are not managed ones: what must be read.
pub fn policies_to_read(behaviours: &[CacheBehaviour<'_>]) -> BTreeSet<(PolicyKind, String)> {
    behaviours
        .iter()
        .flat_map(|b| b.policies())
        .filter(|(kind, p)| managed(*kind, p).is_none())
        .map(|(kind, p)| (kind, p.to_string()))
        .collect()
}

/// Reads each policy once, within `budget`. One that cannot be read (or not in time) is a gap:
/// its origins are then probed with the origin domain as SNI and Host.
pub async fn read_policies(
    client: &aws_sdk_cloudfront::Client,
    policies: BTreeSet<(PolicyKind, String)>,
    budget: &Budget,
) -> (PolicyVerdicts, Vec<Gap>) {
    let must_end = budget.deadline.map(|d| d - budget.reserve);
    let reads = futures::stream::iter(policies)
        .map(|(kind, policy)| async move {
            if !budget.allows_start() {
                let late = "not started: the deadline was too close to read it and still deliver the report";
                return (kind, policy, Err(late.to_string()));
            }
            let read = read_one(client, kind, &policy);
            let read = match must_end {
                Some(end) => tokio::time::timeout_at(end, read).await.unwrap_or_else(|_| {
                    Err("stopped at the deadline, to leave time to deliver the report".to_string())
                }),
                None => read.await,
            };
            (kind, policy, read)
        })
        .buffer_unordered(POLICY_READS_AT_ONCE)
        .collect::<Vec<_>>()
        .await;
    let mut verdicts = PolicyVerdicts::default();
    let mut gaps = Vec::new();
    for (kind, policy, read) in reads {
        match read {
            Ok(forwards) => {
                verdicts.0.insert((kind, policy), forwards);
            }
            Err(error) => gaps.push(Gap::new(
                kind.action(),
                &policy,
                error,
                &format!("whether the origins behind this {} receive the viewer's Host (their probes use the origin domain as SNI and Host)", kind.words()),
            )),
        }
    }
    gaps.sort_by(|a, b| (&a.action, &a.resource).cmp(&(&b.action, &b.resource)));
    (verdicts, gaps)
}

/// Whether one policy forwards Host, as CloudFront's API says.
async fn read_one(
    client: &aws_sdk_cloudfront::Client,
    kind: PolicyKind,
    policy: &str,
) -> Result<bool, String> {
    let missing = || "the answer carried no policy".to_string();
    match kind {
        PolicyKind::OriginRequest => client
            .get_origin_request_policy()
            .id(policy)
            .send()
            .await
            .map_err(|e| error_text(&e))?
            .origin_request_policy()
            .and_then(|p| p.origin_request_policy_config())
            .map(|c| c.headers_config().is_some_and(headers_forward_host))
            .ok_or_else(missing),
        PolicyKind::Cache => client
            .get_cache_policy()
            .id(policy)
            .send()
            .await
            .map_err(|e| error_text(&e))?
            .cache_policy()
            .and_then(|p| p.cache_policy_config())
            .map(cache_key_has_host)
            .ok_or_else(missing),
    }
}

/// A wildcard alias stands for any name under it: the probe uses this label in its place.
pub const WILDCARD_PROBE_LABEL: &str = "cf-doctor-probe";

/// The Host each origin receives from the viewer, by origin id: only origins some behaviour
/// forwards Host to. A behaviour that targets an origin group forwards to each member. Viewers
/// send an alias, or with no alias the distribution's own domain (`d111111abcdef8.cloudfront.net`):
/// a forwarded Host is then that name, and a listener's host-header rules see it (developer
/// guide, "Origin request policies": the Host header, and "Request and response behavior for
/// custom origins": Host is the origin domain only when the viewer's is not forwarded).
pub fn forwarded_hosts(
    behaviours: &[CacheBehaviour<'_>],
    verdicts: &PolicyVerdicts,
    origin_groups: &[OriginGroup],
    aliases: &[String],
    distribution_domain: &str,
) -> BTreeMap<String, ForwardedHost> {
    let (host, wildcard_alias) =
        viewer_host(aliases).unwrap_or_else(|| (distribution_domain.to_string(), None));
    let members = |target: &str| -> Vec<String> {
        match origin_groups.iter().find(|g| g.id == target) {
            Some(group) => group.members.clone(),
            None => vec![target.to_string()],
        }
    };
    let mut forwarded: BTreeMap<String, ForwardedHost> = BTreeMap::new();
    let mut not_forwarded: BTreeSet<String> = BTreeSet::new();
    for b in behaviours {
        let reason = b.forwards_host(verdicts);
        for origin in members(b.target_origin_id) {
            match &reason {
                Some(reason) => forwarded
                    .entry(origin)
                    .or_insert_with(|| ForwardedHost {
                        host: host.clone(),
                        wildcard_alias: wildcard_alias.clone(),
                        forwarded_by: Vec::new(),
                        origin_domain_too: false,
                    })
                    .forwarded_by
                    .push(reason.clone()),
                None => {
                    not_forwarded.insert(origin);
                }
            }
        }
    }
    for (origin, host) in &mut forwarded {
        host.origin_domain_too = not_forwarded.contains(origin);
    }
    forwarded
}

/// The Host a viewer sends, as the probe uses it: the first alias that is a plain name, else a
/// concrete name under the first wildcard alias (with the wildcard it stands for).
pub fn viewer_host(aliases: &[String]) -> Option<(String, Option<String>)> {
    if let Some(plain) = aliases.iter().find(|a| !a.starts_with("*.")) {
        return Some((plain.clone(), None));
    }
    let wildcard = aliases.first()?;
    let parent = wildcard.strip_prefix("*.")?;
    Some((
        format!("{WILDCARD_PROBE_LABEL}.{parent}"),
        Some(wildcard.clone()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn behaviour<'a>(
        target: &'a str,
        origin_request: Option<&'a str>,
        cache: Option<&'a str>,
    ) -> CacheBehaviour<'a> {
        CacheBehaviour {
            path_pattern: Some("/api/*"),
            target_origin_id: target,
            origin_request_policy_id: origin_request,
            cache_policy_id: cache,
            forwarded_values: None,
        }
    }

    const ALL_VIEWER: &str = "216adef6-5c7f-47e4-b989-5492eafa07d3";
    const USE_ORIGIN_CACHE_CONTROL: &str = "83da9c7e-98b4-4e11-a168-04f0df8e2c65";
    const CACHING_OPTIMIZED: &str = "658327ea-f89d-4fab-a63d-7e88639e58f6";

    fn aliases(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn each_header_behaviour_decides_host_as_cloudfront_does() {
        use cf::OriginRequestPolicyHeaderBehavior as B;
        let headers = |behavior: B, names: &[&str]| {
            let mut list = cf::Headers::builder().quantity(names.len() as i32);
            for name in names {
                list = list.items(*name);
            }
            let config = cf::OriginRequestPolicyHeadersConfig::builder()
                .header_behavior(behavior)
                .headers(list.build().unwrap())
                .build()
                .unwrap();
            headers_forward_host(&config)
        };
        assert!(headers(B::AllViewer, &[]));
        assert!(headers(
            B::AllViewerAndWhitelistCloudFront,
            &["CloudFront-Viewer-Country"]
        ));
        assert!(headers(B::Whitelist, &["Authorization", "host"]));
        assert!(!headers(B::Whitelist, &["Authorization"]));
        assert!(headers(B::AllExcept, &["Authorization"]));
        assert!(!headers(B::AllExcept, &["Host"]));
        assert!(!headers(B::None, &[]));
    }

    #[test]
    fn managed_policies_are_known_by_id_and_others_are_read() {
        let none = PolicyVerdicts::default();
        assert!(none.forwards_host(PolicyKind::OriginRequest, ALL_VIEWER));
        assert!(none.forwards_host(PolicyKind::Cache, USE_ORIGIN_CACHE_CONTROL));
        assert!(!none.forwards_host(PolicyKind::Cache, CACHING_OPTIMIZED));
        assert!(!none.forwards_host(PolicyKind::Cache, "unread"));
        let behaviours = [
            behaviour("a", Some(ALL_VIEWER), Some("custom-cache")),
            behaviour("b", Some(""), Some(CACHING_OPTIMIZED)),
            behaviour("c", Some("custom-orp"), None),
        ];
        assert_eq!(
            policies_to_read(&behaviours),
            BTreeSet::from([
                (PolicyKind::OriginRequest, "custom-orp".to_string()),
                (PolicyKind::Cache, "custom-cache".to_string()),
            ])
        );
    }

    #[test]
    fn a_cache_policy_with_host_in_the_key_forwards_it() {
        let hosts = forwarded_hosts(
            &[behaviour("alb", None, Some(USE_ORIGIN_CACHE_CONTROL))],
            &PolicyVerdicts::default(),
            &[],
            &aliases(&["shop.example"]),
            "d1.cloudfront.net",
        );
        let host = &hosts["alb"];
        assert_eq!(host.host, "shop.example");
        assert_eq!(
            host.forwarded_by,
            ["cache behaviour /api/*: cache policy UseOriginCacheControlHeaders"]
        );
        assert!(!host.origin_domain_too);
    }

    #[test]
    fn an_origin_behind_mixed_behaviours_receives_both_hosts() {
        let hosts = forwarded_hosts(
            &[
                behaviour("alb", Some(ALL_VIEWER), None),
                behaviour("alb", None, Some(CACHING_OPTIMIZED)),
            ],
            &PolicyVerdicts::default(),
            &[],
            &aliases(&["shop.example"]),
            "d1.cloudfront.net",
        );
        assert!(hosts["alb"].origin_domain_too);
    }

    #[test]
    fn a_wildcard_alias_is_never_the_server_name() {
        let hosts = forwarded_hosts(
            &[behaviour("alb", Some(ALL_VIEWER), None)],
            &PolicyVerdicts::default(),
            &[],
            &aliases(&["*.shop.example"]),
            "d1.cloudfront.net",
        );
        assert_eq!(hosts["alb"].host, "cf-doctor-probe.shop.example");
        assert_eq!(
            viewer_host(&aliases(&["*.shop.example"])).unwrap().0,
            "cf-doctor-probe.shop.example",
            "the edge probe uses the same name"
        );
        assert_eq!(
            hosts["alb"].wildcard_alias.as_deref(),
            Some("*.shop.example")
        );
        let hosts = forwarded_hosts(
            &[behaviour("alb", Some(ALL_VIEWER), None)],
            &PolicyVerdicts::default(),
            &[],
            &aliases(&["*.shop.example", "www.shop.example"]),
            "d1.cloudfront.net",
        );
        assert_eq!(
            hosts["alb"].host, "www.shop.example",
            "a plain alias is preferred"
        );
    }

    #[test]
    fn a_behaviour_targeting_an_origin_group_forwards_to_its_members() {
        let groups = vec![OriginGroup {
            id: "failover-group".to_string(),
            members: vec!["primary".to_string(), "secondary".to_string()],
        }];
        let hosts = forwarded_hosts(
            &[behaviour("failover-group", Some(ALL_VIEWER), None)],
            &PolicyVerdicts::default(),
            &groups,
            &aliases(&["shop.example"]),
            "d1.cloudfront.net",
        );
        assert_eq!(hosts.keys().collect::<Vec<_>>(), ["primary", "secondary"]);
    }

    /// Issue 25: with no alias, a forwarded Host is the distribution's own domain, which viewers
    /// send; nothing used to be recorded, so host-header rules were compared with the origin domain.
    #[test]
    fn without_an_alias_the_distribution_domain_is_the_forwarded_host() {
        let hosts = forwarded_hosts(
            &[behaviour("alb", Some(ALL_VIEWER), None)],
            &PolicyVerdicts::default(),
            &[],
            &[],
            "d1.cloudfront.net",
        );
        assert_eq!(hosts["alb"].host, "d1.cloudfront.net");
        assert_eq!(hosts["alb"].wildcard_alias, None);
        let not_forwarded = forwarded_hosts(
            &[behaviour("alb", None, None)],
            &PolicyVerdicts::default(),
            &[],
            &[],
            "d1.cloudfront.net",
        );
        assert!(
            not_forwarded.is_empty(),
            "without forwarding, the origin domain is sent"
        );
    }
}
