//! Keeps IAM honest: every AWS operation the code calls is allowed by template.yaml's policy, and
//! nothing in the policy goes unused.
//!
//! - Calls are found in the shipped sources (src/ and crates/*/src/) as `.operation_name()` where
//!   the name is an operation of an AWS SDK crate in the [dependencies] of Cargo.toml or of a
//!   crates/*/Cargo.toml (read from the crate's `src/operation/` directory in the cargo registry,
//!   at the version in Cargo.lock). `#[cfg(test)]` items and comments don't count.
//! - The policy is the region of template.yaml between `# IAM-POLICY-BEGIN` and
//!   `# IAM-POLICY-END` (read as lines, so CloudFormation's `!Ref`/`!Sub` tags need no YAML
//!   support). Outside it, the function's role may hold only what Lambda itself uses
//!   (`PLATFORM_ACTIONS`).
//!
//! - member-template.yaml's reader role (between the same markers) allows exactly what the
//!   collector (crates/collect/src) calls: that is what runs in a member account, and nothing in
//!   it publishes or records. Each of its actions is also in template.yaml's policy.
//!
//! IAM action names compare case-insensitively (`DescribeSSLPolicies` is `describe_ssl_policies`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// SDK crates whose IAM service prefix is not the crate name without `aws-sdk-`.
const PREFIX_EXCEPTIONS: &[(&str, &str)] = &[
    ("aws-sdk-elasticloadbalancingv2", "elasticloadbalancing"),
    ("aws-sdk-cloudwatchlogs", "logs"),
    ("aws-sdk-cloudwatchevents", "events"),
];

/// Operations IAM authorizes under another action's name.
const AUTHORIZED_AS: &[(&str, &str)] = &[("s3:ListObjectsV2", "s3:ListBucket")];

/// What Lambda does with the role on the function's behalf (logs, the on-failure destination,
/// X-Ray): allowed outside the policy markers, never called by the code.
const PLATFORM_ACTIONS: &[&str] = &[
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "sqs:SendMessage",
    // Only with VpcSubnetIds: Lambda creates and removes the function's network interfaces.
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
];

/// Actions named outside the policy that grant the function nothing: the role's trust policy,
/// the permission letting an existing alarm topic invoke the function, and the evidence bucket's
/// policy denying every request that does not use TLS.
const NOT_THE_FUNCTIONS: &[&str] = &["sts:AssumeRole", "lambda:InvokeFunction", "s3:*"];

/// With OrganizationMode: the state machine's own role (invoking the function, running the
/// Distributed Map's child executions, writing their results to S3) and the central event bus's
/// policy letting the member accounts forward their events. None of it is the function's.
const ORGANIZATION_MACHINERY: &[&str] = &[
    "states:StartExecution",
    "states:DescribeExecution",
    "states:StopExecution",
    "s3:PutObject",
    "s3:GetObject",
    "s3:ListMultipartUploadParts",
    "s3:AbortMultipartUpload",
    "events:PutEvents",
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The workspace's own library crates (crates/*), whose code ships in the binary.
fn member_crates() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root().join("crates"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("Cargo.toml").is_file())
        .collect();
    dirs.sort();
    dirs
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// AWS SDK crates in Cargo.toml's [dependencies] (not dev-dependencies: tests may use more).
fn sdk_dependencies(cargo_toml: &str) -> Vec<String> {
    let mut in_dependencies = false;
    let mut crates = Vec::new();
    for line in cargo_toml.lines().map(str::trim) {
        if line.starts_with('[') {
            in_dependencies = line == "[dependencies]";
        } else if in_dependencies && line.starts_with("aws-sdk-") {
            let name = line.split(['=', ' ']).next().unwrap();
            crates.push(name.to_string());
        }
    }
    crates
}

fn iam_prefix(krate: &str) -> String {
    PREFIX_EXCEPTIONS
        .iter()
        .find(|(k, _)| *k == krate)
        .map(|(_, p)| p.to_string())
        .unwrap_or_else(|| krate.trim_start_matches("aws-sdk-").to_string())
}

/// The crate's version in Cargo.lock.
fn locked_version(lock: &str, name: &str) -> String {
    let marker = format!("name = \"{name}\"\nversion = \"");
    let start = lock
        .find(&marker)
        .unwrap_or_else(|| panic!("{name} is not in Cargo.lock"))
        + marker.len();
    lock[start..].split('"').next().unwrap().to_string()
}

/// Operation names (snake_case) of one SDK crate, from its `src/operation/` directory.
fn operations(name: &str, version: &str) -> BTreeSet<String> {
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

/// snake_case operation -> IAM action name as it is usually spelled (`get_distribution` ->
/// `GetDistribution`); comparisons ignore case anyway.
fn pascal(op: &str) -> String {
    op.split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

fn key(action: &str) -> String {
    action.to_ascii_lowercase().replace('_', "")
}

/// snake_case operation name -> IAM service prefixes that have it, for every SDK dependency.
fn operation_index() -> BTreeMap<String, Vec<String>> {
    let lock = read(&root().join("Cargo.lock"));
    let mut crates = sdk_dependencies(&read(&root().join("Cargo.toml")));
    for member in member_crates() {
        crates.extend(sdk_dependencies(&read(&member.join("Cargo.toml"))));
    }
    crates.sort();
    crates.dedup();
    assert!(
        crates.len() >= 5,
        "too few aws-sdk-* crates found in the [dependencies] of the workspace's manifests: {crates:?}"
    );
    let mut index: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for krate in crates {
        for op in operations(&krate, &locked_version(&lock, &krate)) {
            index.entry(op).or_default().push(iam_prefix(&krate));
        }
    }
    index
}

/// Rust source without comments and without `#[cfg(test)]` items (string literals are kept but
/// their braces don't count when skipping an item).
fn shipped_code(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        rest = skip_item(&rest[at + "#[cfg(test)]".len()..]);
    }
    out.push_str(rest);
    out.lines()
        .map(|l| match l.find("//") {
            Some(i) if !l[..i].contains('"') => &l[..i],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Skips one item: up to the `;` or the brace that closes its first `{` (braces in string and
/// character literals don't count).
fn skip_item(text: &str) -> &str {
    let bytes = text.as_bytes();
    let (mut depth, mut i) = (0usize, 0usize);
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            // Character literals such as '{' and '\'' (a lifetime like 'a has no closing quote).
            b'\'' if bytes.get(i + 2) == Some(&b'\'') => i += 2,
            b'\'' if bytes.get(i + 1) == Some(&b'\\') && bytes.get(i + 3) == Some(&b'\'') => i += 3,
            b'{' => depth += 1,
            b'}' if depth == 1 => return &text[i + 1..],
            b'}' => depth = depth.saturating_sub(1),
            b';' if depth == 0 => return &text[i + 1..],
            _ => {}
        }
        i += 1;
    }
    ""
}

/// IAM actions (`prefix:Operation`) the given sources call, keyed by their comparison form.
fn called_in(
    sources: &[(String, String)],
    index: &BTreeMap<String, Vec<String>>,
) -> BTreeMap<String, String> {
    let mut actions = BTreeMap::new();
    for (file, text) in sources {
        for piece in shipped_code(text).split('.').skip(1) {
            let name: String = piece
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            if !piece[name.len()..].starts_with("()") {
                continue;
            }
            if let Some(prefixes) = index.get(&name) {
                assert_eq!(
                    prefixes.len(),
                    1,
                    "`{name}` in {file} is an operation of several services {prefixes:?}: extend tests/iam.rs to tell them apart"
                );
                let action = format!("{}:{}", prefixes[0], pascal(&name));
                let action = AUTHORIZED_AS
                    .iter()
                    .find(|(operation, _)| key(operation) == key(&action))
                    .map(|(_, authorized)| authorized.to_string())
                    .unwrap_or(action);
                actions.insert(key(&action), action);
            }
        }
    }
    actions
}

fn walk(dir: &Path, out: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            walk(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push((path.display().to_string(), read(&path)));
        }
    }
}

/// What runs in a member account: the collector crate.
fn collector_sources() -> Vec<(String, String)> {
    let mut out = Vec::new();
    walk(&root().join("crates/collect/src"), &mut out);
    out
}

fn sources() -> Vec<(String, String)> {
    let mut out = Vec::new();
    walk(&root().join("src"), &mut out);
    for member in member_crates() {
        walk(&member.join("src"), &mut out);
    }
    out
}

/// `- prefix:Action` list items in a piece of template.
fn action_items(yaml: &str) -> BTreeMap<String, String> {
    yaml.lines()
        .filter_map(|l| l.split('#').next().unwrap().trim().strip_prefix("- "))
        .chain(yaml.lines().filter_map(|l| {
            // `Action: sqs:SendMessage` and `Action: [a:B, c:D]` forms.
            l.trim().strip_prefix("Action:").map(str::trim)
        }))
        .flat_map(|v| {
            v.trim_matches(['[', ']'])
                .split(',')
                .map(|a| a.trim().trim_matches(['"', '\'']))
        })
        .filter(|item| {
            let mut parts = item.split(':');
            matches!(
                (parts.next(), parts.next(), parts.next()),
                (Some(p), Some(a), None)
                    if !p.is_empty()
                        && p.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                        && !a.is_empty()
                        && a.chars().all(|c| c.is_ascii_alphanumeric() || c == '*')
            )
        })
        .map(|a| (key(a), a.to_string()))
        .collect()
}

/// (actions inside the policy markers, actions elsewhere in the template).
fn policy(template: &str) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let begin = template
        .find("# IAM-POLICY-BEGIN")
        .expect("template.yaml marks its policy with # IAM-POLICY-BEGIN");
    let end = template
        .find("# IAM-POLICY-END")
        .expect("template.yaml marks the end of its policy with # IAM-POLICY-END");
    assert!(
        begin < end,
        "# IAM-POLICY-BEGIN comes after # IAM-POLICY-END"
    );
    let inside = &template[begin..end];
    assert!(
        !inside.contains("Effect: Deny"),
        "the policy region holds a Deny statement: this test reads every action there as allowed"
    );
    let outside = format!("{}\n{}", &template[..begin], &template[end..]);
    (action_items(inside), action_items(&outside))
}

/// The differences both ways, as the failure message says them; None when they agree.
fn drift(called: &BTreeMap<String, String>, allowed: &BTreeMap<String, String>) -> Option<String> {
    let missing: Vec<&String> = called
        .iter()
        .filter(|(k, _)| !allowed.contains_key(*k))
        .map(|(_, v)| v)
        .collect();
    let unused: Vec<&String> = allowed
        .iter()
        .filter(|(k, _)| !called.contains_key(*k))
        .map(|(_, v)| v)
        .collect();
    (!missing.is_empty() || !unused.is_empty()).then(|| {
        format!(
            "template.yaml's policy and the code disagree.\ncalled but not allowed: {missing:?}\nallowed but never called: {unused:?}\n(add or remove the actions between # IAM-POLICY-BEGIN and # IAM-POLICY-END)"
        )
    })
}

#[test]
fn the_policy_allows_exactly_what_the_code_calls() {
    let called = called_in(&sources(), &operation_index());
    assert!(
        called.len() >= 10,
        "the scan found too few calls to be working: {called:?}"
    );
    let (allowed, _) = policy(&read(&root().join("template.yaml")));
    if let Some(message) = drift(&called, &allowed) {
        panic!("{message}");
    }
}

#[test]
fn outside_the_policy_the_role_holds_only_what_lambda_itself_uses() {
    let (_, elsewhere) = policy(&read(&root().join("template.yaml")));
    let expected: BTreeSet<String> = PLATFORM_ACTIONS
        .iter()
        .chain(NOT_THE_FUNCTIONS)
        .chain(ORGANIZATION_MACHINERY)
        .map(|a| key(a))
        .collect();
    let stray: Vec<&String> = elsewhere
        .iter()
        .filter(|(k, _)| !expected.contains(*k))
        .map(|(_, v)| v)
        .collect();
    assert!(
        stray.is_empty(),
        "actions outside # IAM-POLICY-BEGIN/END that are not Lambda's own ({PLATFORM_ACTIONS:?}): {stray:?}"
    );
}

#[test]
fn a_new_call_in_the_code_is_reported_as_not_allowed() {
    let index = operation_index();
    let mut sources = sources();
    sources.push((
        "scratch.rs".into(),
        "async fn f(c: &aws_sdk_cloudfront::Client) {\n    c.delete_distribution()\n        .id(\"E2EXAMPLE\")\n        .send()\n        .await;\n}\n".into(),
    ));
    let (allowed, _) = policy(&read(&root().join("template.yaml")));
    let message = drift(&called_in(&sources, &index), &allowed).expect("the new call is noticed");
    assert!(
        message.contains("called but not allowed: [\"cloudfront:DeleteDistribution\"]"),
        "{message}"
    );
}

#[test]
fn an_action_the_code_never_calls_is_reported_as_unused() {
    let template = read(&root().join("template.yaml")).replace(
        "                  - acm:ListCertificates\n",
        "                  - acm:ListCertificates\n                  - acm:DeleteCertificate\n",
    );
    let (allowed, _) = policy(&template);
    let message = drift(&called_in(&sources(), &operation_index()), &allowed)
        .expect("the extra action is noticed");
    assert!(
        message.contains("allowed but never called: [\"acm:DeleteCertificate\"]"),
        "{message}"
    );
}

#[test]
fn test_only_calls_and_comments_do_not_count() {
    let index = operation_index();
    let source = "fn shipped() {}\n// client.delete_distribution() is not called\n#[cfg(test)]\nmod tests {\n    fn t() { let s = \"}\"; let b = '{'; c.delete_distribution(); }\n}\nfn after(c: &C) { c.get_distribution(); }\n";
    let called = called_in(&[("x.rs".into(), source.into())], &index);
    assert_eq!(
        called.values().collect::<Vec<_>>(),
        ["cloudfront:GetDistribution"]
    );
}

#[test]
fn the_member_role_allows_exactly_what_the_collector_calls() {
    let called = called_in(&collector_sources(), &operation_index());
    assert!(
        called.len() >= 10,
        "the scan found too few collector calls to be working: {called:?}"
    );
    let member = read(&root().join("member-template.yaml"));
    let (allowed, elsewhere) = policy(&member);
    if let Some(message) = drift(&called, &allowed) {
        panic!("member-template.yaml's reader role: {message}");
    }
    // Every read the member role allows is one the single-account policy allows too.
    let (single, _) = policy(&read(&root().join("template.yaml")));
    let extra: Vec<&String> = allowed
        .iter()
        .filter(|(k, _)| !single.contains_key(*k))
        .map(|(_, v)| v)
        .collect();
    assert!(extra.is_empty(), "not in template.yaml's policy: {extra:?}");
    // Outside the reader role: its trust policy and the forwarding rule's role only.
    let stray: Vec<&String> = elsewhere
        .iter()
        .filter(|(k, _)| *k != &key("sts:AssumeRole") && *k != &key("events:PutEvents"))
        .map(|(_, v)| v)
        .collect();
    assert!(
        stray.is_empty(),
        "member-template.yaml outside the reader role: {stray:?}"
    );
}

#[test]
fn a_write_in_the_member_role_is_reported() {
    let member = read(&root().join("member-template.yaml")).replace(
        "                  - acm:DescribeCertificate\n",
        "                  - acm:DescribeCertificate\n                  - cloudfront:UpdateDistribution\n",
    );
    let (allowed, _) = policy(&member);
    let message = drift(
        &called_in(&collector_sources(), &operation_index()),
        &allowed,
    )
    .expect("the extra action is noticed");
    assert!(
        message.contains("allowed but never called: [\"cloudfront:UpdateDistribution\"]"),
        "{message}"
    );
}
