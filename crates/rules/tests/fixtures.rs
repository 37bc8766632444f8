//! The rules over evidence saved from the moto scenarios (tests/replay.rs writes these files with
//! `CF_DOCTOR_WRITE_FIXTURES=1`): real collected data, not hand-built values, replayed offline.
//! Each fixture's report is a snapshot a person reviewed.

use std::path::PathBuf;

use cf_doctor_model::replay::SavedEvidence;
use cf_doctor_model::{Code, Diagnosis, Verdict};

fn fixture(name: &str) -> Vec<Diagnosis> {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let saved = SavedEvidence::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    saved
        .runs
        .into_iter()
        .map(|run| {
            cf_doctor_rules::diagnose(&run.evidence, run.trigger, run.started_at, run.duration_ms)
        })
        .collect()
}

fn only(name: &str) -> Diagnosis {
    let mut runs = fixture(name);
    assert_eq!(runs.len(), 1, "{name} holds one run");
    runs.remove(0)
}

#[test]
fn the_founding_outage_as_collected_from_moto_and_a_loopback_origin() {
    let d = only("founding_outage");
    assert_eq!(d.verdict, Verdict::Critical);
    assert_eq!(d.probable_cause, Some(Code::OriginCertExpired));
    insta::assert_json_snapshot!("fixture_founding_outage", d);
    insta::assert_snapshot!(
        "fixture_founding_outage_text",
        cf_doctor_render::text::render(&d)
    );
}

#[test]
fn a_healthy_origin_with_a_viewer_certificate_expiring_in_20_days() {
    let d = only("healthy_origin_expiring_viewer_certificate");
    assert_eq!(d.verdict, Verdict::Warning);
    insta::assert_json_snapshot!("fixture_healthy_origin_expiring_viewer_certificate", d);
}

#[test]
fn a_load_balancer_whose_listener_certificate_expires_in_2_days() {
    let d = only("load_balancer_expiring_listener_certificate");
    assert_eq!(d.verdict, Verdict::Critical);
    insta::assert_json_snapshot!("fixture_load_balancer_expiring_listener_certificate", d);
}

#[test]
fn a_sweep_with_one_expired_origin() {
    let d = only("sweep");
    assert_eq!(d.probable_cause, Some(Code::OriginCertExpired));
    insta::assert_json_snapshot!("fixture_sweep", d);
}

/// Saved evidence read and written again is the file it was read from, byte for byte: the typed
/// model (enums for closed sets, `Option` for unknowns) still writes the words older builds
/// wrote, so a file saved before replays, and is saved again, unchanged.
#[test]
fn saved_evidence_round_trips_byte_for_byte() {
    for name in [
        "founding_outage",
        "healthy_origin_expiring_viewer_certificate",
        "load_balancer_expiring_listener_certificate",
        "sweep",
    ] {
        let path =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/{name}.json"));
        let text = std::fs::read_to_string(&path).unwrap();
        let saved = SavedEvidence::parse(&text).unwrap();
        let again = serde_json::to_string_pretty(&saved).unwrap();
        assert_eq!(again.trim_end(), text.trim_end(), "{name}.json");
    }
}
