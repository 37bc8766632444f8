//! What `make release` is made of, checked without the 30-minute arm64 build: the version agrees
//! everywhere it is written (Cargo.toml, the template's Serverless Application Repository
//! metadata, CHANGELOG.md), the release template deploys the zip instead of building from source,
//! and the zip and SBOM steps give the same bytes for the same inputs whatever the file times and
//! the checkout's path.

use std::path::{Path, PathBuf};
use std::process::Command;

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn python(script: &str, args: &[&str], env: &[(&str, &str)]) -> String {
    let out = Command::new("python3")
        .arg(root().join("scripts").join(script))
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("python3 runs (make test needs it for moto already)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{script} {args:?}: {stderr}");
    stderr.into_owned()
}

#[test]
fn the_version_is_the_same_in_cargo_the_template_and_the_changelog() {
    let template = std::fs::read_to_string(root().join("template.yaml")).unwrap();
    let versions: Vec<&str> = template
        .lines()
        .filter_map(|l| l.trim().strip_prefix("SemanticVersion:"))
        .map(str::trim)
        .collect();
    assert_eq!(versions, vec![VERSION], "template.yaml's SemanticVersion");
    let changelog = std::fs::read_to_string(root().join("CHANGELOG.md")).unwrap();
    assert!(
        changelog
            .lines()
            .any(|l| l.starts_with(&format!("## [{VERSION}] - "))),
        "CHANGELOG.md has no '## [{VERSION}] - DATE' section"
    );
    assert!(
        changelog.lines().any(|l| l == "## [Unreleased]"),
        "CHANGELOG.md keeps an Unreleased section for what lands next"
    );
}

#[test]
fn the_release_template_deploys_the_zip_beside_it_without_a_build() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("template.yaml");
    python(
        "release_template.py",
        &[
            root().join("template.yaml").to_str().unwrap(),
            out.to_str().unwrap(),
            "9.8.7",
        ],
        &[],
    );
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.contains("      CodeUri: bootstrap.zip\n"), "{text}");
    assert!(!text.contains("CodeUri: .\n"));
    assert!(
        !text.contains("BuildMethod"),
        "nothing is built from source"
    );
    assert!(text.contains("    SemanticVersion: 9.8.7\n"));
    // Everything else is the template as it is: the same lines but the ones replaced.
    let original = std::fs::read_to_string(root().join("template.yaml")).unwrap();
    let removed = original.lines().count() as i64 - text.lines().count() as i64;
    assert_eq!(removed, 4, "5 build lines out, 1 comment in");
}

fn zip_of(binary: &Path, out: &Path, epoch: &str) -> Vec<u8> {
    python(
        "deterministic_zip.py",
        &[binary.to_str().unwrap(), out.to_str().unwrap()],
        &[("SOURCE_DATE_EPOCH", epoch)],
    );
    std::fs::read(out).unwrap()
}

#[test]
fn the_zip_is_the_same_bytes_for_the_same_binary_and_commit_time() {
    let dir = tempfile::tempdir().unwrap();
    let binary: PathBuf = dir.path().join("bootstrap");
    std::fs::write(&binary, b"\x7fELF not really, but bytes all the same").unwrap();
    let first = zip_of(&binary, &dir.path().join("a.zip"), "1764892800");
    // The file's own time and mode change; the zip does not.
    std::fs::write(&binary, b"\x7fELF not really, but bytes all the same").unwrap();
    let second = zip_of(&binary, &dir.path().join("b.zip"), "1764892800");
    assert_eq!(first, second);
    let later = zip_of(&binary, &dir.path().join("c.zip"), "1764979200");
    assert_ne!(first, later, "the commit's time is in the entry");

    // One entry, named bootstrap, executable: what provided.al2023 runs.
    let listing = Command::new("python3")
        .args([
            "-c",
            "import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); \
             print([(i.filename, oct(i.external_attr >> 16), i.date_time) for i in z.infolist()])",
            dir.path().join("a.zip").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&listing.stdout).trim(),
        "[('bootstrap', '0o100755', (2025, 12, 5, 0, 0, 0))]"
    );
}

#[test]
fn the_sbom_is_pinned_to_the_commit_not_to_the_moment() {
    let dir = tempfile::tempdir().unwrap();
    let bom = dir.path().join("sbom.cdx.json");
    let raw = r#"{"bomFormat": "CycloneDX", "specVersion": "1.5",
        "serialNumber": "urn:uuid:00000000-0000-4000-8000-000000000001",
        "metadata": {"timestamp": "2026-12-04T13:01:02.123456789Z"},
        "components": [{"bom-ref": "path+file:///home/me/cf-doctor/crates/model#cf-doctor-model@0.1.0"}]}"#;
    let pin = |serial: &str| {
        std::fs::write(&bom, raw.replace("000000000001", serial)).unwrap();
        python(
            "pin_sbom.py",
            &[
                bom.to_str().unwrap(),
                "0.1.0",
                "0123456789abcdef",
                "/home/me/cf-doctor",
            ],
            &[("SOURCE_DATE_EPOCH", "1764892800")],
        );
        std::fs::read_to_string(&bom).unwrap()
    };
    let first = pin("000000000001");
    let second = pin("000000000002");
    assert_eq!(first, second, "a run's random serial does not survive");
    let pinned: serde_json::Value = serde_json::from_str(&first).unwrap();
    assert_eq!(pinned["metadata"]["timestamp"], "2025-12-05T00:00:00Z");
    // Where it was built does not show: the checkout is /cf-doctor, as in the binary's paths.
    assert_eq!(
        pinned["components"][0]["bom-ref"],
        "path+file:///cf-doctor/crates/model#cf-doctor-model@0.1.0"
    );
    assert_eq!(
        pinned["metadata"]["properties"][0],
        serde_json::json!({"name": "cf-doctor:commit", "value": "0123456789abcdef"})
    );
}
