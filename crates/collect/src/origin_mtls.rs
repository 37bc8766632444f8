//! Origin mTLS: the ACM client certificate CloudFront presents to an origin whose
//! `CustomOriginConfig.OriginMtlsConfig` names one (it must be in us-east-1), described through
//! the same ACM call as every certificate and joined to `evidence.certificates` with what it is
//! used as, in the alarm path and in the sweep.

use std::time::Instant;

use crate::{acm, Collector};
use cf_doctor_model::evidence::{Distribution, Evidence, OriginKind};
use cf_doctor_model::{Check, CheckOutcome};

/// Each client certificate the distributions' origins name, with what it is used as.
pub fn client_certificates(distributions: &[Distribution]) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for d in distributions {
        for o in &d.origins {
            let OriginKind::Custom(custom) = &o.kind else {
                continue;
            };
            let Some(arn) = &custom.client_certificate_arn else {
                continue;
            };
            let used_as = format!(
                "origin mTLS client certificate of {} origin {} ({})",
                d.id, o.id, o.domain_name
            );
            match out.iter_mut().find(|(a, _)| a == arn) {
                Some((_, uses)) => uses.push(used_as),
                None => out.push((arn.clone(), vec![used_as])),
            }
        }
    }
    out
}

impl Collector {
    /// Every origin mTLS client certificate: one already collected (the sweep's listing) gains
    /// what it is used as; any other is described in ACM. Each is a check with its state.
    pub async fn origin_mtls_certificates(&self, evidence: &mut Evidence) {
        for (arn, uses) in client_certificates(&evidence.distributions) {
            let started = Instant::now();
            if let Some(known) = evidence.certificates.iter_mut().find(|c| c.arn == arn) {
                known.used_as.extend(uses);
            } else {
                let region = acm::region_of_arn(&arn).unwrap_or("us-east-1").to_string();
                self.acm_pace(&region).acquire().await;
                match acm::describe_certificate(
                    &self.acm_for(&region),
                    &region,
                    &arn,
                    &uses.join("; "),
                )
                .await
                {
                    Ok(mut described) => {
                        described.used_as = uses;
                        evidence.certificates.push(described);
                    }
                    Err(gap) => {
                        evidence.checks.push(Check::since(
                            "origin-mtls-certificate",
                            &arn,
                            CheckOutcome::Error,
                            started,
                            Some(gap.error.clone()),
                        ));
                        evidence.gaps.push(gap);
                        continue;
                    }
                }
            }
            let Some(cert) = evidence.certificates.iter().find(|c| c.arn == arn) else {
                continue;
            };
            let detail = format!(
                "{} {}, {}; {}",
                cert.cert_type,
                cert.status_in_words(),
                cf_doctor_model::expiry_in_words(cert.not_after, evidence.now),
                cert.used_as.join("; ")
            );
            evidence.checks.push(Check::since(
                "origin-mtls-certificate",
                &arn,
                CheckOutcome::Pass,
                started,
                Some(detail),
            ));
        }
    }

    /// What the sweep adds about the edge: every function with its state, every VPC origin, and
    /// every origin mTLS client certificate with its state (no metrics: that is the alarm path's
    /// work).
    pub async fn edge_inventory(&self, evidence: &mut Evidence, budget: &crate::Budget) {
        self.edge_functions(evidence, budget, false).await;
        self.vpc_origins(evidence, budget).await;
        self.origin_mtls_certificates(evidence).await;
    }
}
