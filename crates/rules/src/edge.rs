//! Edge rules: what a viewer gets through the distribution. "Error from cloudfront" in X-Cache
//! means CloudFront generated the 5xx itself (it could not get a usable answer from the origin);
//! a function's marker (`LambdaExecutionError from cloudfront`, ...) is the edge functions' rules'
//! evidence instead.

use serde_json::json;

use cf_doctor_model::evidence::EdgeProbe;
use cf_doctor_model::functions::edge_marker;
use cf_doctor_model::{Code, Evidence, Finding, Severity};

pub fn findings(evidence: &Evidence) -> Vec<Finding> {
    evidence.edge_probes.iter().filter_map(edge_error).collect()
}

fn generated_by_cloudfront(probe: &EdgeProbe) -> bool {
    probe
        .x_cache
        .as_deref()
        .is_some_and(|x| x.to_ascii_lowercase().contains("error from cloudfront"))
}

fn edge_error(probe: &EdgeProbe) -> Option<Finding> {
    let status = probe.status.filter(|s| *s >= 500)?;
    if !generated_by_cloudfront(probe) || probe.x_cache.as_deref().and_then(edge_marker).is_some() {
        return None;
    }
    Some(
        Finding::new(Code::EdgeErrorFromCloudfront, Severity::Warning, format!("{} ({})", probe.domain, probe.distribution_id))
            .statuses(&[status])
            .title(format!(
                "CloudFront itself answers HTTP {status} for {} (X-Cache: Error from cloudfront{})",
                probe.host,
                probe.pop.as_deref().map(|p| format!(", POP {p}")).unwrap_or_default()
            ))
            .evidence(json!({"status": status, "x_cache": probe.x_cache, "pop": probe.pop, "x_amz_cf_id": probe.request_id, "host": probe.host, "address": probe.address}))
            .remediation("CloudFront could not get a usable answer from the origin: the findings on the origin say why. Quote the x-amz-cf-id to AWS support if you open a case."),
    )
}

/// "Via CloudFront" for the side-by-side with the direct request, when the edge answered.
pub fn via_cloudfront(evidence: &Evidence, distribution_id: &str) -> Option<String> {
    let probe = evidence
        .edge_probes
        .iter()
        .find(|p| p.distribution_id == distribution_id)?;
    let status = probe.status?;
    let origin = match (
        probe.x_cache.as_deref().and_then(edge_marker),
        generated_by_cloudfront(probe),
    ) {
        (Some((marker, _, _)), _) => format!(" ({marker} from cloudfront)"),
        (None, true) => " (Error from cloudfront)".to_string(),
        (None, false) => String::new(),
    };
    Some(format!(
        "HTTP {status}{origin} for {}{}",
        probe.host,
        probe
            .pop
            .as_deref()
            .map(|p| format!(" at POP {p}"))
            .unwrap_or_default()
    ))
}
