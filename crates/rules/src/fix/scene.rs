//! Where a finding sits among the resources the evidence holds: the distribution, the origin
//! probe, the load balancer and listener, the ACM certificate, the instance. Every identifier a
//! fix names comes from here, so a fix never names what the evidence does not hold.

use cf_doctor_model::evidence::{
    AcmCertificate, Distribution, Listener, LoadBalancer, OriginProbe,
};
use cf_doctor_model::instance::InstanceOrigin;
use cf_doctor_model::{names, Evidence, Finding, TriggerInfo};

pub(crate) struct Scene<'a> {
    pub evidence: &'a Evidence,
    pub trigger: &'a TriggerInfo,
    pub distribution: Option<&'a Distribution>,
    /// The origin `host:port` the finding is about, when it is about one.
    pub endpoint: Option<(String, u16)>,
    pub probe: Option<&'a OriginProbe>,
    pub load_balancer: Option<&'a LoadBalancer>,
    pub listener: Option<&'a Listener>,
    /// The ACM certificate the finding is about: the resource itself, or the one the origin's
    /// listener presents to CloudFront's server name.
    pub certificate: Option<&'a AcmCertificate>,
    pub instance: Option<&'a InstanceOrigin>,
}

/// The parts of a finding's resource: an ARN, `host:port[@address]`, `name (host:port)` for an
/// instance, or `domain (DISTRIBUTION_ID)` for what viewers got at the edge.
enum Resource<'a> {
    Arn(&'a str),
    Endpoint(String, u16),
    Distribution(&'a str),
    Other,
}

fn endpoint_of(text: &str) -> Option<(String, u16)> {
    let text = text.split('@').next()?;
    let (host, port) = text.rsplit_once(':')?;
    Some((host.to_string(), port.parse().ok()?))
}

fn parse(resource: &str) -> Resource<'_> {
    if let Some((outer, inner)) = resource.strip_suffix(')').and_then(|r| r.rsplit_once(" (")) {
        // A load balancer named with the origin it serves: the ARN says more.
        if outer.starts_with("arn:") {
            return Resource::Arn(outer);
        }
        return match endpoint_of(inner) {
            Some((host, port)) => Resource::Endpoint(host, port),
            None => Resource::Distribution(inner),
        };
    }
    if resource.starts_with("arn:") {
        return Resource::Arn(resource);
    }
    match endpoint_of(resource) {
        Some((host, port)) => Resource::Endpoint(host, port),
        None => Resource::Other,
    }
}

impl<'a> Scene<'a> {
    pub fn of(finding: &Finding, evidence: &'a Evidence, trigger: &'a TriggerInfo) -> Scene<'a> {
        let mut scene = Scene {
            evidence,
            trigger,
            distribution: None,
            endpoint: None,
            probe: None,
            load_balancer: None,
            listener: None,
            certificate: None,
            instance: None,
        };
        match parse(&finding.resource) {
            Resource::Arn(arn) => scene.read_arn(arn),
            Resource::Endpoint(host, port) => scene.read_endpoint(host, port),
            Resource::Distribution(id) => scene.distribution = scene.distribution_by_id(id),
            Resource::Other => scene.distribution = scene.distribution_by_id(&finding.resource),
        }
        if scene.distribution.is_none() {
            let id = scene
                .load_balancer
                .map(|lb| lb.distribution_id.as_str())
                .or(scene.instance.map(|i| i.distribution_id.as_str()))
                .or(trigger.distribution_id.as_deref());
            scene.distribution = id.and_then(|id| scene.distribution_by_id(id));
        }
        scene
    }

    fn distribution_by_id(&self, id: &str) -> Option<&'a Distribution> {
        self.evidence.distributions.iter().find(|d| d.id == id)
    }

    fn read_arn(&mut self, arn: &str) {
        let evidence = self.evidence;
        if arn.contains(":certificate/") {
            self.certificate = evidence.certificates.iter().find(|c| c.arn == arn);
            // The listener that carries it, and the distribution that shows it to viewers.
            if let Some((lb, listener)) = evidence.load_balancers.iter().find_map(|lb| {
                let listener = lb.listener.as_ref()?;
                listener
                    .certificate_arns
                    .iter()
                    .any(|c| c == arn)
                    .then_some((lb, listener))
            }) {
                self.load_balancer = Some(lb);
                self.listener = Some(listener);
            }
            self.distribution = evidence
                .distributions
                .iter()
                .find(|d| d.viewer_certificate.acm_certificate_arn.as_deref() == Some(arn));
        } else if arn.contains(":listener/") {
            if let Some((lb, listener)) = evidence.load_balancers.iter().find_map(|lb| {
                let listener = lb.listener.as_ref().filter(|l| l.arn == arn)?;
                Some((lb, listener))
            }) {
                self.load_balancer = Some(lb);
                self.listener = Some(listener);
            }
        } else if arn.contains(":loadbalancer/") {
            self.load_balancer = evidence.load_balancers.iter().find(|lb| lb.arn == arn);
            self.listener = self.load_balancer.and_then(|lb| lb.listener.as_ref());
        } else if arn.contains(":distribution/") {
            self.distribution = evidence.distributions.iter().find(|d| d.arn == arn);
        }
        if let Some(lb) = self.load_balancer {
            self.endpoint = Some((lb.origin_host.clone(), lb.origin_port));
            self.probe = evidence.origin_probes.iter().find(|p| {
                p.host == lb.origin_host
                    && p.port == lb.origin_port
                    && p.distribution_id == lb.distribution_id
            });
        }
    }

    fn read_endpoint(&mut self, host: String, port: u16) {
        let evidence = self.evidence;
        let here = |h: &str, p: u16| h == host && p == port;
        self.probe = evidence
            .origin_probes
            .iter()
            .find(|p| here(&p.host, p.port));
        self.distribution = self
            .probe
            .and_then(|p| self.distribution_by_id(&p.distribution_id));
        let same_distribution = |id: &str| self.probe.is_none_or(|p| p.distribution_id == id);
        self.load_balancer = evidence
            .load_balancers
            .iter()
            .filter(|lb| here(&lb.origin_host, lb.origin_port))
            .find(|lb| same_distribution(&lb.distribution_id));
        self.listener = self.load_balancer.and_then(|lb| lb.listener.as_ref());
        self.instance = evidence
            .instances
            .iter()
            .filter(|i| here(&i.origin_host, i.origin_port))
            .find(|i| same_distribution(&i.distribution_id));
        self.certificate = self.listener.and_then(|l| self.presented_to(l));
        self.endpoint = Some((host, port));
    }

    /// The listener certificate in ACM that CloudFront's server name selects: one whose names
    /// cover it (SNI), else the default one.
    fn presented_to(&self, listener: &Listener) -> Option<&'a AcmCertificate> {
        let in_acm: Vec<&AcmCertificate> = listener
            .certificate_arns
            .iter()
            .filter_map(|arn| self.evidence.certificates.iter().find(|c| &c.arn == arn))
            .collect();
        let server_name = self.probe.map(|p| p.server_name.as_str());
        server_name
            .and_then(|name| {
                in_acm
                    .iter()
                    .find(|c| names::any_covers(&c.names(), name))
                    .copied()
            })
            .or_else(|| {
                let default = listener.certificate_arns.first()?;
                in_acm.iter().find(|c| &c.arn == default).copied()
            })
    }

    /// The name CloudFront asks the origin for (TLS SNI): the forwarded Host or the origin domain.
    pub fn server_name(&self) -> Option<&'a str> {
        self.probe.map(|p| p.server_name.as_str())
    }

    /// The distribution the fix is checked on.
    pub fn distribution_id(&self) -> Option<&'a str> {
        self.distribution
            .map(|d| d.id.as_str())
            .or(self.trigger.distribution_id.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_are_read_in_every_shape_findings_use() {
        assert!(matches!(
            parse("arn:aws:acm:us-east-1:1:certificate/x"),
            Resource::Arn(_)
        ));
        assert!(
            matches!(parse("origin.shop.example:443@192.0.2.1"), Resource::Endpoint(h, 443) if h == "origin.shop.example")
        );
        assert!(
            matches!(parse("i-0abc (origin.shop.example:8443)"), Resource::Endpoint(h, 8443) if h == "origin.shop.example")
        );
        assert!(matches!(
            parse("d1.cloudfront.net (E2EXAMPLE)"),
            Resource::Distribution("E2EXAMPLE")
        ));
        assert!(matches!(parse("account 111122223333"), Resource::Other));
        assert!(matches!(
            parse("arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/a/b (a.example:443)"),
            Resource::Arn("arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/a/b")
        ));
    }
}
