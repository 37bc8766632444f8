//! A load balancer behind a custom origin: how it was found, its listener, rules and targets, and
//! whom its security groups let in.

use serde::{Deserialize, Deserializer, Serialize};

use super::OriginProtocol;

/// A load balancer that serves a custom origin, and how it was recognised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadBalancer {
    pub arn: String,
    pub name: String,
    pub dns_name: String,
    pub region: String,
    /// Its type, as DescribeLoadBalancers says (or its ARN, `app/` or `net/`); None when neither
    /// said (written `""` by cf-doctor before it was typed).
    #[serde(deserialize_with = "LoadBalancerType::deserialize_known")]
    pub lb_type: Option<LoadBalancerType>,
    /// How the origin was linked to it (see `MatchedBy`, surest first).
    pub matched_by: MatchedBy,
    /// How the origin name led to it, each step in words (Route53 records, addresses).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub matched_via: Vec<String>,
    pub distribution_id: String,
    pub origin_host: String,
    /// The port and protocol CloudFront uses (`HTTPS` or `HTTP`).
    pub origin_port: u16,
    pub origin_protocol: OriginProtocol,
    pub origin_ssl_protocols: Vec<String>,
    /// The CNAME chain from the origin domain, when it was followed.
    #[serde(default)]
    pub cname_chain: Vec<String>,
    /// Every listener, for the evidence of a missing one.
    pub listeners: Vec<ListenerPort>,
    /// The listener on the origin port, if any.
    pub listener: Option<Listener>,
    /// None when the security groups could not be read (a gap says why) or the type has none.
    pub security_groups: Option<Vec<SecurityGroupVerdict>>,
    /// The CloudFront origin-facing managed prefix list in this region, as looked up by name.
    pub cloudfront_prefix_list: Option<String>,
    /// The Host header CloudFront sends this origin: what the listener's host-header rules see.
    #[serde(default)]
    pub cloudfront_host: CloudfrontHost,
    /// When the security groups admit CloudFront by its ranges (a customer-managed prefix list or
    /// explicit CIDRs) rather than by the managed prefix list: how many of the ranges in the
    /// managed list they admit (None: not compared).
    #[serde(default)]
    pub cloudfront_ranges: Option<RangeCoverage>,
}

/// `Type` of an Elastic Load Balancing v2 load balancer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LoadBalancerType {
    Application,
    Network,
    Gateway,
}

impl LoadBalancerType {
    /// The type AWS names `value` (`application`, `network`, `gateway`), if it is one.
    pub fn from_aws(value: &str) -> Option<LoadBalancerType> {
        match value {
            "application" => Some(LoadBalancerType::Application),
            "network" => Some(LoadBalancerType::Network),
            "gateway" => Some(LoadBalancerType::Gateway),
            _ => None,
        }
    }

    /// The type an ARN's resource says (`loadbalancer/app/...`, `net/`, `gwy/`), if it does.
    pub fn from_arn(arn: &str) -> Option<LoadBalancerType> {
        let (_, tail) = arn.split_once(":loadbalancer/")?;
        match tail.split('/').next()? {
            "app" => Some(LoadBalancerType::Application),
            "net" => Some(LoadBalancerType::Network),
            "gwy" => Some(LoadBalancerType::Gateway),
            _ => None,
        }
    }

    /// Reads `"application"`, `"network"`, `"gateway"`, null, or the `""` evidence saved before
    /// the type was typed wrote when AWS did not say.
    fn deserialize_known<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<LoadBalancerType>, D::Error> {
        match super::empty_as_none(deserializer)? {
            None => Ok(None),
            Some(value) => LoadBalancerType::from_aws(&value).map(Some).ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "unknown load balancer type {value:?}; expected application, network or gateway"
                ))
            }),
        }
    }
}

/// How cf-doctor linked an origin to the AWS resource that serves it, surest first. Every link
/// but `Certificate` comes from the account's own records or the origin's own name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MatchedBy {
    /// The origin domain is the load balancer's own DNS name.
    DnsName,
    /// The VPC origin the distribution names fronts it (GetVpcOrigin's endpoint ARN).
    VpcOrigin,
    /// An ALIAS record in the account's Route53 leads to it.
    Route53Alias,
    /// A CNAME record in the account's Route53 leads to it.
    Route53Cname,
    /// The origin domain's CNAME chain in public DNS reaches its name.
    Cname,
    /// An address of the origin is an Elastic IP of the account associated with it.
    ElasticIp,
    /// An address of the origin is on one of its network interfaces.
    NetworkInterface,
    /// An HTTPS listener's certificate covers the origin domain: the only link that is a guess.
    Certificate,
}

impl MatchedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            MatchedBy::DnsName => "dns-name",
            MatchedBy::VpcOrigin => "vpc-origin",
            MatchedBy::Route53Alias => "route53-alias",
            MatchedBy::Route53Cname => "route53-cname",
            MatchedBy::Cname => "cname",
            MatchedBy::ElasticIp => "elastic-ip",
            MatchedBy::NetworkInterface => "network-interface",
            MatchedBy::Certificate => "certificate",
        }
    }

    /// Found through the account's Route53 records.
    pub fn is_route53(self) -> bool {
        matches!(self, MatchedBy::Route53Alias | MatchedBy::Route53Cname)
    }
}

impl std::fmt::Display for MatchedBy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The Host header CloudFront sends an origin, which is what a listener's host-header conditions
/// are compared with.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "from", rename_all = "kebab-case")]
pub enum CloudfrontHost {
    /// Host is not forwarded: CloudFront sends the origin domain.
    OriginDomain { host: String },
    /// The viewer's Host is forwarded: one of the distribution's aliases (its cloudfront.net
    /// domain when it has none), whichever the viewer asked for.
    Viewer { hosts: Vec<String> },
    /// Not known (evidence from before it was recorded, or an origin request policy that could
    /// not be read): any host-header rule may match.
    #[default]
    Unknown,
}

/// How many of CloudFront's origin-facing ranges (the entries of the managed prefix list) the
/// load balancer's security groups admit on the origin port, all groups together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RangeCoverage {
    pub admitted: usize,
    pub of: usize,
    /// The ranges not admitted (CloudFront connections from them are dropped).
    pub missing: Vec<String>,
}

/// An origin found by certificate on more than one load balancer (or on one, when the search
/// could not read every load balancer): which one serves it cannot be told from the API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadBalancerCandidates {
    pub distribution_id: String,
    pub origin_host: String,
    pub origin_port: u16,
    pub candidates: Vec<LoadBalancerCandidate>,
    /// False when some load balancer could not be searched (a gap names it).
    pub search_complete: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadBalancerCandidate {
    pub arn: String,
    pub name: String,
    pub region: String,
    pub listener_arn: String,
    /// The listener certificate that covers the origin name.
    pub certificate_arn: String,
}

/// A listener as the list of all of them shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListenerPort {
    pub port: u16,
    /// `HTTPS`, `HTTP`, `TLS`, `TCP`, ...
    pub protocol: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Listener {
    pub arn: String,
    pub port: u16,
    pub protocol: String,
    pub ssl_policy: Option<String>,
    /// The protocols the TLS policy admits, e.g. `["TLSv1.2", "TLSv1.3"]` (None: not read).
    pub policy_protocols: Option<Vec<String>>,
    /// Every certificate of a TLS listener, the default one (the one it presents to a name no
    /// other covers) first, then those it selects by SNI.
    pub certificate_arns: Vec<String>,
    /// The health of every target group CloudFront's requests may be forwarded to: those of the
    /// rules that may match them and, unless a rule surely does, the default action's (evidence
    /// from before rules were read: the default action's only). None: not read.
    pub target_groups: Option<Vec<TargetGroupHealth>>,
    /// What the listener does with a request no rule matches (None: evidence from before it was
    /// recorded).
    #[serde(default)]
    pub default_action: Option<RuleAction>,
    /// The listener's other rules, in priority order (None: not read, a gap says why; always None
    /// for a network load balancer, which has no rules).
    #[serde(default)]
    pub rules: Option<Vec<ListenerRule>>,
}

/// One listener rule other than the default: if every condition holds, its action is taken.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListenerRule {
    pub arn: String,
    /// Lower numbers are evaluated first.
    pub priority: u32,
    pub conditions: Vec<RuleCondition>,
    pub action: RuleAction,
}

/// A rule condition, as far as cf-doctor can compare it with CloudFront's requests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "field", rename_all = "kebab-case")]
pub enum RuleCondition {
    /// The request's Host matches one of `values` (case-insensitive, `*` and `?` wildcards) or
    /// of `regex_values`.
    HostHeader {
        values: Vec<String>,
        #[serde(default)]
        regex_values: Vec<String>,
    },
    PathPattern {
        values: Vec<String>,
    },
    /// The header's name only: in AWS's custom-header pattern its value is the secret CloudFront
    /// adds to every request, and it never goes into the evidence.
    HttpHeader {
        name: String,
    },
    /// Query string, method or source IP: what CloudFront's requests carry there is not known.
    Other {
        name: String,
    },
}

/// What a rule (or the default action) finally does with a request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum RuleAction {
    Forward {
        target_groups: Vec<String>,
    },
    /// The load balancer answers itself, e.g. 403 in the custom-header pattern.
    FixedResponse {
        status_code: String,
    },
    Redirect {
        status_code: String,
    },
    /// An action without a final forward, fixed response or redirect.
    Other {
        name: String,
    },
}

impl RuleAction {
    pub fn target_groups(&self) -> &[String] {
        match self {
            RuleAction::Forward { target_groups } => target_groups,
            _ => &[],
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetGroupHealth {
    pub arn: String,
    pub healthy: usize,
    /// Every target that is not healthy.
    pub not_healthy: Vec<TargetState>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetState {
    pub target: String,
    /// `unhealthy`, `draining`, `unused`, ...
    pub state: String,
    pub reason: String,
}

/// One security group, judged on the origin port: who it lets in, and by which rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "VerdictAsWritten", into = "VerdictAsWritten")]
pub struct SecurityGroupVerdict {
    pub id: String,
    pub name: String,
    pub access: GroupAccess,
}

/// Whom a security group lets in on the origin port: one answer, so "opens the port to
/// CloudFront", "admits CloudFront only" and "undecided" cannot contradict each other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupAccess {
    /// Every address (0.0.0.0/0 or ::/0): CloudFront among them. `rule` says which, in words.
    Anyone { rule: String },
    /// A source that holds CloudFront's origin-facing ranges and other addresses too.
    CloudfrontAmongOthers { rule: String, by: AdmittedBy },
    /// CloudFront's origin-facing addresses only (AWS's recommended set-up). `by` is None for
    /// the VPC origins service group, CloudFront's own inside the VPC.
    CloudfrontOnly {
        rule: String,
        by: Option<AdmittedBy>,
    },
    /// No rule lets CloudFront in on the port.
    NotCloudfront,
    /// Whom it admits could not be decided (e.g. a prefix list that could not be read): never
    /// said to block CloudFront.
    Undecided { why: String },
    /// Evidence saved before whom a group admits was recorded: only the rule that lets
    /// CloudFront in, if there was one.
    RuleOnly { rule: Option<String> },
}

impl SecurityGroupVerdict {
    /// The rule that lets CloudFront in on the origin port, in words.
    pub fn rule(&self) -> Option<&str> {
        match &self.access {
            GroupAccess::Anyone { rule }
            | GroupAccess::CloudfrontAmongOthers { rule, .. }
            | GroupAccess::CloudfrontOnly { rule, .. } => Some(rule),
            GroupAccess::RuleOnly { rule } => rule.as_deref(),
            GroupAccess::NotCloudfront | GroupAccess::Undecided { .. } => None,
        }
    }

    pub fn admits(&self) -> Admission {
        match &self.access {
            GroupAccess::Anyone { .. } => Admission::Anyone,
            GroupAccess::CloudfrontOnly { .. } => Admission::CloudfrontOnly,
            GroupAccess::NotCloudfront => Admission::NotCloudfront,
            GroupAccess::CloudfrontAmongOthers { .. }
            | GroupAccess::Undecided { .. }
            | GroupAccess::RuleOnly { .. } => Admission::Unknown,
        }
    }

    /// How CloudFront is let in, when it is.
    pub fn cloudfront_by(&self) -> Option<AdmittedBy> {
        match &self.access {
            GroupAccess::Anyone { .. } => Some(AdmittedBy::Anyone),
            GroupAccess::CloudfrontAmongOthers { by, .. } => Some(*by),
            GroupAccess::CloudfrontOnly { by, .. } => *by,
            _ => None,
        }
    }

    /// Whether it surely keeps CloudFront out on the port: no rule lets it in, and nothing was
    /// left undecided.
    pub fn shuts_out_cloudfront(&self) -> bool {
        matches!(
            self.access,
            GroupAccess::NotCloudfront | GroupAccess::RuleOnly { rule: None }
        )
    }
}

/// A verdict as cf-doctor/evidence/v1 writes it: four fields, kept so that evidence saved by
/// any build reads and writes back unchanged.
#[derive(Serialize, Deserialize)]
struct VerdictAsWritten {
    id: String,
    name: String,
    /// The rule that lets CloudFront in on the origin port, in words (None: no such rule).
    opens_port_to_cloudfront: Option<String>,
    /// Whom the group lets in on the origin port.
    #[serde(default)]
    admits: Admission,
    /// How CloudFront is let in, when it is.
    #[serde(default)]
    cloudfront_by: Option<AdmittedBy>,
    /// Why whom the group admits could not be decided.
    #[serde(default)]
    undecided: Option<String>,
}

impl From<VerdictAsWritten> for SecurityGroupVerdict {
    fn from(w: VerdictAsWritten) -> SecurityGroupVerdict {
        let rule = w.opens_port_to_cloudfront;
        let access = match (w.admits, w.undecided, w.cloudfront_by) {
            (Admission::Anyone, _, _) => GroupAccess::Anyone {
                rule: rule.unwrap_or_default(),
            },
            (Admission::CloudfrontOnly, _, by) => GroupAccess::CloudfrontOnly {
                rule: rule.unwrap_or_default(),
                by,
            },
            (Admission::NotCloudfront, _, _) => GroupAccess::NotCloudfront,
            (Admission::Unknown, Some(why), _) => GroupAccess::Undecided { why },
            (Admission::Unknown, None, Some(by)) if rule.is_some() => {
                GroupAccess::CloudfrontAmongOthers {
                    rule: rule.unwrap_or_default(),
                    by,
                }
            }
            (Admission::Unknown, None, _) => GroupAccess::RuleOnly { rule },
        };
        SecurityGroupVerdict {
            id: w.id,
            name: w.name,
            access,
        }
    }
}

impl From<SecurityGroupVerdict> for VerdictAsWritten {
    fn from(v: SecurityGroupVerdict) -> VerdictAsWritten {
        let (rule, admits, by) = (v.rule().map(str::to_string), v.admits(), v.cloudfront_by());
        let undecided = match v.access {
            GroupAccess::Undecided { why } => Some(why),
            _ => None,
        };
        VerdictAsWritten {
            id: v.id,
            name: v.name,
            opens_port_to_cloudfront: rule,
            admits,
            cloudfront_by: by,
            undecided,
        }
    }
}

/// How a security group rule lets CloudFront in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AdmittedBy {
    /// The AWS-managed prefix list `com.amazonaws.global.cloudfront.origin-facing` (or its IPv6
    /// twin).
    ManagedPrefixList,
    /// A customer-managed prefix list whose entries are CloudFront's origin-facing ranges.
    CustomerPrefixList,
    /// CloudFront's origin-facing ranges listed in the rule as CIDRs.
    CloudfrontCidrs,
    /// 0.0.0.0/0 or ::/0: CloudFront among everyone.
    Anyone,
}

/// Whom a security group lets in on the origin port. CloudFront-only is AWS's recommended set-up
/// (the managed prefix list `com.amazonaws.global.cloudfront.origin-facing`, a customer-managed
/// prefix list holding CloudFront's ranges, or CloudFront's published CIDRs): healthy, and the
/// reason a probe from outside CloudFront cannot connect.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Admission {
    /// Open to every address (0.0.0.0/0 or ::/0).
    Anyone,
    /// Open to CloudFront's origin-facing addresses only.
    CloudfrontOnly,
    /// No rule lets CloudFront in on the port.
    NotCloudfront,
    /// Not read (evidence from before it was), or could not be decided.
    #[default]
    Unknown,
}

impl LoadBalancer {
    pub fn is_network(&self) -> bool {
        self.lb_type == Some(LoadBalancerType::Network)
    }

    /// The load balancer's security groups let CloudFront in on the origin port and nobody else:
    /// a connection from anywhere but CloudFront's edge is expected to be dropped.
    pub fn admits_only_cloudfront(&self) -> bool {
        admits_only_cloudfront(&self.security_groups)
    }

    /// The tail of its ARN, `app/NAME/ID` or `net/NAME/ID`: its CloudWatch dimension.
    pub fn dimension(&self) -> Option<&str> {
        self.arn.split_once(":loadbalancer/").map(|(_, tail)| tail)
    }
}

/// A set of security groups lets CloudFront in on the origin port and nobody else: a connection
/// from anywhere but CloudFront's edge is expected to be dropped. Unread groups say nothing.
pub fn admits_only_cloudfront(groups: &Option<Vec<SecurityGroupVerdict>>) -> bool {
    let Some(groups) = groups else {
        return false;
    };
    groups
        .iter()
        .any(|g| g.admits() == Admission::CloudfrontOnly)
        && groups.iter().all(|g| g.admits() != Admission::Anyone)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Typed {
        #[serde(deserialize_with = "LoadBalancerType::deserialize_known")]
        lb_type: Option<LoadBalancerType>,
    }

    fn lb_type(json: &str) -> Result<Option<LoadBalancerType>, String> {
        serde_json::from_str::<Typed>(json)
            .map(|t| t.lb_type)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn a_load_balancer_type_reads_the_words_and_the_empty_string_older_builds_wrote() {
        assert_eq!(
            lb_type(r#"{"lb_type": "network"}"#),
            Ok(Some(LoadBalancerType::Network))
        );
        assert_eq!(lb_type(r#"{"lb_type": ""}"#), Ok(None));
        assert_eq!(lb_type(r#"{"lb_type": null}"#), Ok(None));
        let refused = lb_type(r#"{"lb_type": "classic"}"#).unwrap_err();
        assert!(
            refused.contains("expected application, network or gateway"),
            "{refused}"
        );
    }

    #[test]
    fn the_arn_names_the_type_when_the_answer_does_not() {
        let arn = |tail: &str| {
            format!("arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/{tail}")
        };
        assert_eq!(
            LoadBalancerType::from_arn(&arn("app/web/50dc6c495c0c9188")),
            Some(LoadBalancerType::Application)
        );
        assert_eq!(
            LoadBalancerType::from_arn(&arn("net/edge/50dc6c495c0c9188")),
            Some(LoadBalancerType::Network)
        );
        assert_eq!(
            LoadBalancerType::from_arn("arn:aws:ec2:us-east-1:1:instance/i-1"),
            None
        );
    }

    #[test]
    fn matched_by_is_written_in_the_words_the_contract_lists() {
        for (how, word) in [
            (MatchedBy::DnsName, "dns-name"),
            (MatchedBy::VpcOrigin, "vpc-origin"),
            (MatchedBy::Route53Alias, "route53-alias"),
            (MatchedBy::Route53Cname, "route53-cname"),
            (MatchedBy::Cname, "cname"),
            (MatchedBy::ElasticIp, "elastic-ip"),
            (MatchedBy::NetworkInterface, "network-interface"),
            (MatchedBy::Certificate, "certificate"),
        ] {
            assert_eq!(serde_json::to_string(&how).unwrap(), format!("\"{word}\""));
            assert_eq!(how.to_string(), word);
        }
    }

    #[test]
    fn a_security_group_verdict_reads_and_writes_back_each_shape_older_builds_wrote() {
        for written in [
            r#"{"id":"sg-1","name":"a","opens_port_to_cloudfront":"443 from 0.0.0.0/0","admits":"anyone","cloudfront_by":"anyone","undecided":null}"#,
            r#"{"id":"sg-1","name":"a","opens_port_to_cloudfront":"443 from pl-1","admits":"cloudfront-only","cloudfront_by":"managed-prefix-list","undecided":null}"#,
            r#"{"id":"sg-1","name":"a","opens_port_to_cloudfront":"443 from sg-vpc","admits":"cloudfront-only","cloudfront_by":null,"undecided":null}"#,
            r#"{"id":"sg-1","name":"a","opens_port_to_cloudfront":"443 from 10.0.0.0/8","admits":"unknown","cloudfront_by":"cloudfront-cidrs","undecided":null}"#,
            r#"{"id":"sg-1","name":"a","opens_port_to_cloudfront":null,"admits":"not-cloudfront","cloudfront_by":null,"undecided":null}"#,
            r#"{"id":"sg-1","name":"a","opens_port_to_cloudfront":null,"admits":"unknown","cloudfront_by":null,"undecided":"pl-9 could not be read"}"#,
            r#"{"id":"sg-1","name":"a","opens_port_to_cloudfront":null,"admits":"unknown","cloudfront_by":null,"undecided":null}"#,
        ] {
            let verdict: SecurityGroupVerdict = serde_json::from_str(written).unwrap();
            assert_eq!(serde_json::to_string(&verdict).unwrap(), written);
        }
    }

    #[test]
    fn only_a_group_with_no_rule_and_nothing_undecided_shuts_cloudfront_out() {
        let read = |json: &str| serde_json::from_str::<SecurityGroupVerdict>(json).unwrap();
        // Evidence from before `admits` was recorded: no rule is no way in.
        let legacy = read(r#"{"id":"sg-1","name":"a","opens_port_to_cloudfront":null}"#);
        assert!(legacy.shuts_out_cloudfront());
        let undecided = SecurityGroupVerdict {
            id: "sg-1".into(),
            name: "a".into(),
            access: GroupAccess::Undecided {
                why: "pl-9 could not be read".into(),
            },
        };
        assert!(!undecided.shuts_out_cloudfront());
        assert_eq!(undecided.admits(), Admission::Unknown);
    }
}
