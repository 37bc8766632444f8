//! The crate graph keeps the architecture (docs/architecture.md): the model, the rules and the
//! render depend on no runtime, AWS SDK or network crate, and collection cannot reach the rules.
//! Read from `cargo tree`, so a dependency that creeps in fails here, not in review.

use std::collections::BTreeSet;
use std::process::Command;

/// Crates that do I/O or bring a runtime: none may sit under a pure crate.
const IMPURE: &[&str] = &[
    "tokio",
    "mio",
    "socket2",
    "hyper",
    "h2",
    "reqwest",
    "rustls",
    "hickory",
    "lambda_runtime",
    "aws-",
];

/// Every package `krate` depends on (normal dependencies, transitively), by name.
fn dependencies(krate: &str) -> BTreeSet<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "tree",
            "--offline",
            "--locked",
            "-e",
            "normal",
            "--prefix",
            "none",
        ])
        .args(["--format", "{p}", "-p", krate])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "cargo tree -p {krate} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

fn impure(deps: &BTreeSet<String>) -> Vec<&String> {
    deps.iter()
        .filter(|d| IMPURE.iter().any(|bad| d.starts_with(bad)))
        .collect()
}

#[test]
fn the_model_rules_and_render_crates_are_pure() {
    for krate in ["cf-doctor-model", "cf-doctor-rules", "cf-doctor-render"] {
        let deps = dependencies(krate);
        assert!(
            deps.contains("serde_json"),
            "{krate}: the tree was read ({deps:?})"
        );
        assert_eq!(
            impure(&deps),
            Vec::<&String>::new(),
            "{krate} depends on I/O crates"
        );
    }
}

#[test]
fn collection_cannot_reach_the_rules_or_the_render() {
    let deps = dependencies("cf-doctor-collect");
    assert!(deps.contains("cf-doctor-model") && deps.contains("tokio"));
    for stage in ["cf-doctor-rules", "cf-doctor-render"] {
        assert!(
            !deps.contains(stage),
            "cf-doctor-collect depends on {stage}"
        );
    }
}

#[test]
fn the_check_would_notice_an_impure_crate() {
    let binary = dependencies("cf-doctor");
    assert!(
        !impure(&binary).is_empty(),
        "the binary's tree holds the SDK and tokio"
    );
}
