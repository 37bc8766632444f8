//! Distribution rules: enabled, deployment status, and aliases the viewer certificate must cover.

use serde_json::json;

use cf_doctor_model::names;
use cf_doctor_model::{Code, Evidence, Finding, Severity};

pub fn findings(evidence: &Evidence) -> Vec<Finding> {
    let mut out = Vec::new();
    for d in &evidence.distributions {
        if !d.enabled {
            out.push(
                Finding::new(Code::DistributionDisabled, Severity::Warning, &d.arn)
                    .title(format!("Distribution {} is disabled", d.id))
                    .evidence(json!({"enabled": false, "domain_name": d.domain_name}))
                    .remediation("Enable the distribution if it should serve traffic (CloudFront console -> the distribution -> Enable)."),
            );
        }
        if d.status != "Deployed" && !d.status.is_empty() {
            out.push(
                Finding::new(Code::DistributionDeploying, Severity::Info, &d.arn)
                    .title(format!("Distribution {} is deploying a change ({})", d.id, d.status))
                    .evidence(json!({"status": d.status}))
                    .remediation("A recent change is still propagating to the edge; errors that started with it may be caused by it."),
            );
        }
        let Some(arn) = d.viewer_certificate.acm_certificate_arn.as_deref() else {
            continue;
        };
        let Some(cert) = evidence.certificates.iter().find(|c| c.arn == arn) else {
            continue;
        };
        let cert_names = cert.names();
        let uncovered: Vec<&String> = d
            .aliases
            .iter()
            .filter(|alias| !names::any_covers(&cert_names, alias))
            .collect();
        if !uncovered.is_empty() {
            out.push(
                Finding::new(Code::ViewerCertAliasUncovered, Severity::Critical, arn)
                    .title(format!(
                        "Viewer certificate of {} does not cover {}",
                        d.id,
                        uncovered.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
                    ))
                    .evidence(json!({"distribution": d.id, "uncovered_aliases": uncovered, "certificate_names": cert_names}))
                    .remediation("Request or import a certificate whose names cover every alias (a wildcard covers one label), then attach it to the distribution."),
            );
        }
    }
    out
}
