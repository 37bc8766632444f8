//! VPC origins as evidence: what an origin's `VpcOriginConfig` names, what GetVpcOrigin says of
//! it (status, the load balancer it fronts, ports and protocols), and whether the load balancer's
//! security groups admit the security group CloudFront's VPC origin service uses.

use serde::{Deserialize, Serialize};

use crate::evidence::CustomOrigin;

/// `Origin.VpcOriginConfig`: CloudFront reaches this origin privately, inside the VPC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VpcOriginRef {
    pub vpc_origin_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_account_id: Option<String>,
    pub read_timeout_s: u32,
}

/// The security group CloudFront creates in a VPC for its VPC origins; a load balancer behind a
/// VPC origin must admit it (or CloudFront's origin-facing prefix list) on the origin port.
pub const VPC_ORIGIN_SERVICE_GROUP: &str = "CloudFront-VPCOrigins-Service-SG";

/// A VPC origin, as GetVpcOrigin describes it, with the distributions that use it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VpcOrigin {
    pub id: String,
    pub arn: String,
    /// `Deployed` when CloudFront can use it; otherwise e.g. `Deploying` or `Failed`.
    pub status: String,
    /// The endpoint's name, as configured.
    pub endpoint_name: String,
    /// The ARN of what it fronts: an Application or Network Load Balancer, or an EC2 instance.
    pub endpoint_arn: String,
    /// Ports, protocol policy and OriginSslProtocols, as for a custom origin.
    pub endpoint: CustomOrigin,
    /// "E2EXAMPLE origin web", one per origin that names it.
    pub used_by: Vec<String>,
    /// What DescribeLoadBalancers says of the endpoint, when it is a load balancer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer: Option<EndpointLoadBalancer>,
}

impl VpcOrigin {
    /// Whether the endpoint is an Elastic Load Balancing load balancer (not an EC2 instance).
    pub fn fronts_load_balancer(&self) -> bool {
        self.endpoint_arn.contains(":loadbalancer/")
    }
}

/// The load balancer a VPC origin fronts, as DescribeLoadBalancers answers for its ARN.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum EndpointLoadBalancer {
    Found {
        dns_name: String,
        /// `active`, `provisioning`, `active_impaired` or `failed`.
        state: String,
        /// `internal` or `internet-facing`.
        scheme: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        vpc_id: Option<String>,
    },
    /// ELB answered LoadBalancerNotFound: the VPC origin points at nothing.
    Missing,
}
