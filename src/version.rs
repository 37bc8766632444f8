//! Which build this is: the crate version and, when it was built from a checkout, the git commit
//! (build.rs names it). Every report that leaves cf-doctor carries both, so a bug report or a
//! saved evidence file says which build made it.

use cf_doctor_model::BuildInfo;

/// The crate version, `0.1.0`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// `0.1.0 (0123456789ab)`: what `cf-doctor --version` prints after the name.
pub const LONG: &str = env!("CF_DOCTOR_LONG_VERSION");

/// The full commit id, when the build had one.
pub fn commit() -> Option<&'static str> {
    let commit = env!("CF_DOCTOR_GIT_COMMIT");
    (!commit.is_empty()).then_some(commit)
}

/// This build, as reports carry it.
pub fn build_info() -> BuildInfo {
    BuildInfo::new(VERSION, commit())
}
