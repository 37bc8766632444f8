//! A finding's fix as lines of text: each step's action, its command after `$ `, its console page;
//! then how to verify, and what viewers still see right after. The text report and the SNS email
//! show these under the first findings; Slack builds its own blocks from the same fix.

use cf_doctor_model::Fix;

/// How many findings of a report show their fix step by step (the others keep their one-line
/// remediation): the first screen is for the probable cause and what competes with it.
pub const FIXES_SHOWN: usize = 3;

/// The fix, one line per item, indented by `indent`.
pub fn lines(fix: &Fix, indent: &str) -> Vec<String> {
    let mut out = vec![format!("{indent}{}", fix.summary)];
    for (n, step) in fix.steps.iter().enumerate() {
        out.push(format!("{indent}{}. {}", n + 1, step.action));
        if let Some(command) = &step.command {
            out.push(format!("{indent}   $ {command}"));
        }
        if let Some(url) = &step.console {
            out.push(format!("{indent}   console: {url}"));
        }
    }
    for step in &fix.verify {
        out.push(format!("{indent}verify: {}", step.action));
        if let Some(command) = &step.command {
            out.push(format!("{indent}   $ {command}"));
        }
    }
    if let Some(after) = &fix.after {
        out.push(format!("{indent}after: {after}"));
    }
    out
}
