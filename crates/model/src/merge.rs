//! Joining evidence collected side by side: each concurrent branch of a collection starts from a
//! copy of the same base and its additions are folded back in a fixed order, so a report reads
//! the same whichever branch answered first.

use crate::evidence::{AcmCertificate, Evidence};

impl Evidence {
    /// Adds what `branch` collected beyond `base`, the evidence the branch started from (a clone of
    /// it, only ever appended to). A certificate already known (read by two branches: the viewer
    /// certificate that is also a listener's) is kept once, with every use; a gap already named is
    /// not named again.
    pub fn absorb(&mut self, mut branch: Evidence, base: &Evidence) {
        fn beyond<T>(items: &mut Vec<T>, base_len: usize) -> Vec<T> {
            items.split_off(base_len.min(items.len()))
        }
        self.distributions
            .extend(beyond(&mut branch.distributions, base.distributions.len()));
        for certificate in beyond(&mut branch.certificates, base.certificates.len()) {
            self.add_certificate(certificate);
        }
        self.origin_probes
            .extend(beyond(&mut branch.origin_probes, base.origin_probes.len()));
        self.load_balancers.extend(beyond(
            &mut branch.load_balancers,
            base.load_balancers.len(),
        ));
        self.load_balancer_candidates.extend(beyond(
            &mut branch.load_balancer_candidates,
            base.load_balancer_candidates.len(),
        ));
        self.instances
            .extend(beyond(&mut branch.instances, base.instances.len()));
        if self.cloudfront_log.is_none() {
            self.cloudfront_log = branch.cloudfront_log.take();
        }
        self.metrics
            .extend(beyond(&mut branch.metrics, base.metrics.len()));
        self.edge_probes
            .extend(beyond(&mut branch.edge_probes, base.edge_probes.len()));
        self.lambda_edge_functions.extend(beyond(
            &mut branch.lambda_edge_functions,
            base.lambda_edge_functions.len(),
        ));
        self.cloudfront_functions.extend(beyond(
            &mut branch.cloudfront_functions,
            base.cloudfront_functions.len(),
        ));
        self.vpc_origins
            .extend(beyond(&mut branch.vpc_origins, base.vpc_origins.len()));
        // Two parts that share a cached read (a region's prefix lists) can both meet its failure:
        // the same gap twice says nothing more.
        for gap in beyond(&mut branch.gaps, base.gaps.len()) {
            if !self.gaps.contains(&gap) {
                self.gaps.push(gap);
            }
        }
        self.checks
            .extend(beyond(&mut branch.checks, base.checks.len()));
    }

    /// A certificate joins the evidence once per ARN; a second reading adds only its uses.
    pub fn add_certificate(&mut self, certificate: AcmCertificate) {
        match self
            .certificates
            .iter_mut()
            .find(|c| c.arn == certificate.arn)
        {
            Some(known) => {
                for used_as in certificate.used_as {
                    if !known.used_as.contains(&used_as) {
                        known.used_as.push(used_as);
                    }
                }
            }
            None => self.certificates.push(certificate),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::{Check, CheckOutcome};

    fn certificate(arn: &str, used_as: &str) -> AcmCertificate {
        AcmCertificate {
            arn: arn.into(),
            region: "us-east-1".into(),
            domain_name: "shop.example".into(),
            subject_alternative_names: vec![],
            status: Some("ISSUED".into()),
            cert_type: "AMAZON_ISSUED".into(),
            not_before: None,
            not_after: None,
            renewal_eligibility: None,
            renewal_status: None,
            renewal_status_reason: None,
            validation_methods: vec![],
            in_use_by: vec![],
            in_use: None,
            used_as: vec![used_as.into()],
        }
    }

    #[test]
    fn only_what_a_branch_added_is_taken_and_a_shared_certificate_is_kept_once() {
        let mut base = Evidence::default();
        base.checks.push(Check::new(
            "cloudfront-distribution",
            "E1",
            CheckOutcome::Pass,
            0,
            None,
        ));
        let mut merged = base.clone();

        let mut viewer = base.clone();
        viewer.add_certificate(certificate("arn:c1", "viewer certificate of E1"));
        viewer.checks.push(Check::new(
            "acm-certificate",
            "arn:c1",
            CheckOutcome::Pass,
            0,
            None,
        ));
        let mut listener = base.clone();
        listener.add_certificate(certificate("arn:c1", "listener certificate of alb:443"));
        listener.add_certificate(certificate("arn:c2", "listener certificate of alb:443"));

        let denied = crate::evidence::Gap::new(
            "ec2:DescribeManagedPrefixLists",
            "us-east-1",
            "AccessDenied".to_string(),
            "the id of the CloudFront origin-facing prefix list",
        );
        viewer.gaps.push(denied.clone());
        listener.gaps.push(denied);

        merged.absorb(viewer, &base);
        merged.absorb(listener, &base);
        assert_eq!(
            merged.gaps.len(),
            1,
            "the same gap from two parts is named once"
        );
        let targets: Vec<&str> = merged.checks.iter().map(|c| c.target.as_str()).collect();
        assert_eq!(
            targets,
            ["E1", "arn:c1"],
            "the base's check is not repeated"
        );
        assert_eq!(merged.certificates.len(), 2);
        assert_eq!(
            merged.certificates[0].used_as,
            [
                "viewer certificate of E1",
                "listener certificate of alb:443"
            ]
        );
    }
}
