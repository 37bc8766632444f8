//! Exit codes, the monitoring-plugin convention (docs/contract.md, "Exit codes"): both faces use
//! them, neither owns them.

/// Nothing above info.
pub const OK: i32 = 0;
/// The inspection could not complete: unknown distribution, AWS unreachable, delivery failed,
/// or only gaps were found.
pub const INCOMPLETE: i32 = 3;
/// A bad flag, event or configuration value.
pub const USAGE: i32 = 64;
