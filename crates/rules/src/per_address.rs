//! Per-address findings of one origin merged by cause (the code, and for gaps the reason): one
//! finding per cause, naming the addresses it was seen on ("on 2 of 3 addresses"), so a single bad
//! node stands out and a general fault does not repeat itself.

use serde_json::json;

use cf_doctor_model::evidence::OriginProbe;
use cf_doctor_model::Finding;

pub fn group_by_code(findings: Vec<Finding>, probe: &OriginProbe) -> Vec<Finding> {
    let total = probe.addresses.len();
    let cause = |f: &Finding| (f.code, f.evidence.get("reason").cloned());
    let mut merged: Vec<(Finding, Vec<String>)> = Vec::new();
    for finding in findings {
        let address = finding
            .resource
            .rsplit_once('@')
            .map(|(_, a)| a.to_string())
            .unwrap_or_default();
        match merged.iter_mut().find(|(f, _)| cause(f) == cause(&finding)) {
            Some((_, addresses)) => addresses.push(address),
            None => merged.push((finding, vec![address])),
        }
    }
    merged
        .into_iter()
        .map(|(mut finding, addresses)| {
            if total > 1 {
                finding.resource = probe.endpoint();
                finding.title = format!(
                    "{} (on {} of {total} addresses)",
                    finding.title,
                    addresses.len()
                );
                if let serde_json::Value::Object(map) = &mut finding.evidence {
                    map.remove("address");
                    map.insert("addresses".into(), json!(addresses));
                }
            }
            finding
        })
        .collect()
}
