//! Names the build: the git commit it was built from, when there is one, so a report, a saved
//! evidence file and `--version` say which build made them.
//!
//! `CF_DOCTOR_GIT_COMMIT` wins when set (make release sets it; a build from a source archive can
//! too); otherwise `git rev-parse HEAD` in the checkout, and nothing when that fails (no git, or
//! not a checkout). The script runs again when HEAD moves, so a new commit is named.

use std::path::Path;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!text.is_empty()).then_some(text)
}

fn main() {
    println!("cargo:rerun-if-env-changed=CF_DOCTOR_GIT_COMMIT");
    let commit = match std::env::var("CF_DOCTOR_GIT_COMMIT") {
        Ok(given) => given.trim().to_string(),
        Err(_) => {
            // HEAD, the branch it names and packed-refs are where a commit shows up.
            for path in ["HEAD", "packed-refs"] {
                if let Some(p) = git(&["rev-parse", "--git-path", path]) {
                    watch(&p);
                }
            }
            if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
                if let Some(p) = git(&["rev-parse", "--git-path", &branch]) {
                    watch(&p);
                }
            }
            git(&["rev-parse", "HEAD"]).unwrap_or_default()
        }
    };
    let commit = if commit.chars().all(|c| c.is_ascii_hexdigit()) {
        commit
    } else {
        println!("cargo:warning=CF_DOCTOR_GIT_COMMIT={commit:?} is not a commit id; the build names none");
        String::new()
    };
    let version = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
    let long = if commit.is_empty() {
        version
    } else {
        format!("{version} ({})", &commit[..commit.len().min(12)])
    };
    println!("cargo:rustc-env=CF_DOCTOR_GIT_COMMIT={commit}");
    println!("cargo:rustc-env=CF_DOCTOR_LONG_VERSION={long}");
}

/// Runs the script again when `path` changes (relative paths are the checkout's).
fn watch(path: &str) {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    if full.exists() {
        println!("cargo:rerun-if-changed={}", full.display());
    }
}
