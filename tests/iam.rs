//! Keeps IAM honest: every AWS operation the code calls is allowed by template.yaml's policy, and
//! nothing in the policy goes unused. Calls are found in src/ as `.operation_name()` where the name
//! is an operation of an SDK crate cf-doctor depends on (read from the crate's source in the cargo
//! registry, at the version in Cargo.lock); IAM action names compare case-insensitively.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// SDK crate -> IAM service prefix.
const SERVICES: &[(&str, &str)] = &[
    ("aws-sdk-acm", "acm"),
    ("aws-sdk-cloudfront", "cloudfront"),
    ("aws-sdk-cloudwatch", "cloudwatch"),
    ("aws-sdk-ec2", "ec2"),
    ("aws-sdk-elasticloadbalancingv2", "elasticloadbalancing"),
    ("aws-sdk-secretsmanager", "secretsmanager"),
    ("aws-sdk-sns", "sns"),
    ("aws-sdk-ssm", "ssm"),
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The crate's version in Cargo.lock.
fn locked_version(name: &str) -> String {
    let lock = std::fs::read_to_string(root().join("Cargo.lock")).unwrap();
    let marker = format!("name = \"{name}\"\nversion = \"");
    let start = lock
        .find(&marker)
        .unwrap_or_else(|| panic!("{name} is not in Cargo.lock"))
        + marker.len();
    lock[start..].split('"').next().unwrap().to_string()
}

/// Operation names (snake_case) of one SDK crate, from its `src/operation/` directory.
fn operations(name: &str) -> BTreeSet<String> {
    let version = locked_version(name);
    let home = std::env::var("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(std::env::var("HOME").unwrap()).join(".cargo"));
    let registry = home.join("registry/src");
    for index in
        std::fs::read_dir(&registry).unwrap_or_else(|e| panic!("{}: {e}", registry.display()))
    {
        let dir = index
            .unwrap()
            .path()
            .join(format!("{name}-{version}/src/operation"));
        if dir.is_dir() {
            return std::fs::read_dir(dir)
                .unwrap()
                .filter_map(|e| e.ok())
                .filter(|e| e.path().is_dir())
                .map(|e| e.file_name().into_string().unwrap())
                .collect();
        }
    }
    panic!(
        "the source of {name} {version} is not in {} (run `cargo fetch`)",
        registry.display()
    );
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn normalise(action: &str) -> String {
    action.to_ascii_lowercase().replace('_', "")
}

/// IAM actions the code calls, as `prefix:operation` (normalised).
fn called() -> BTreeSet<String> {
    let mut by_name: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for (krate, prefix) in SERVICES {
        for op in operations(krate) {
            by_name.entry(op).or_default().push(prefix);
        }
    }
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    let mut actions = BTreeSet::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        // Unit tests in src/ may mention operations too; only the shipped code counts.
        let code = text.split("#[cfg(test)]").next().unwrap();
        for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
            for piece in line.split('.').skip(1) {
                let Some(name) = piece
                    .strip_suffix("()")
                    .or_else(|| piece.split_once("()").map(|(n, _)| n))
                else {
                    continue;
                };
                if let Some(prefixes) = by_name.get(name) {
                    assert_eq!(prefixes.len(), 1, "{name} in {} is an operation of several services {prefixes:?}: extend this test to tell them apart", file.display());
                    actions.insert(normalise(&format!("{}:{name}", prefixes[0])));
                }
            }
        }
    }
    actions
}

/// IAM actions allowed between the policy markers in template.yaml (normalised).
fn allowed() -> BTreeSet<String> {
    let template = std::fs::read_to_string(root().join("template.yaml")).unwrap();
    let begin = template
        .find("# IAM-POLICY-BEGIN")
        .expect("template.yaml marks its policy with # IAM-POLICY-BEGIN");
    let end = template
        .find("# IAM-POLICY-END")
        .expect("template.yaml marks the end of its policy with # IAM-POLICY-END");
    template[begin..end]
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- "))
        .filter(|item| {
            let mut parts = item.split(':');
            matches!((parts.next(), parts.next(), parts.next()), (Some(p), Some(a), None) if !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()) && a.chars().all(|c| c.is_ascii_alphanumeric()))
        })
        .map(normalise)
        .collect()
}

#[test]
fn the_policy_allows_exactly_what_the_code_calls() {
    let (called, allowed) = (called(), allowed());
    assert!(
        called.len() >= 10,
        "the scan found too few calls to be working: {called:?}"
    );
    let missing: Vec<_> = called.difference(&allowed).collect();
    let unused: Vec<_> = allowed.difference(&called).collect();
    assert!(
        missing.is_empty() && unused.is_empty(),
        "called but not allowed: {missing:?}\nallowed but never called: {unused:?}"
    );
}
