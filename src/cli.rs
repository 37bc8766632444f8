//! The CLI face: `diagnose`, `sweep`, `postmortem` and `invoke` over the same engine as the
//! Lambda handler, and `explain` replaying saved evidence offline. Exit codes: 0 ok, 1 warning, 2 critical,
//! 3 inspection incomplete, 64 usage error.

use std::io::{IsTerminal, Read};
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use cf_doctor_model::TriggerInfo;
use cf_doctor_render::{self as render, Format};

use crate::config::Config;
use crate::exit;
use crate::replay::EvidenceLog;
use crate::trigger::{self, Target};
use crate::{App, RunError, RunOptions, TargetResult};

#[derive(Debug, Parser)]
#[command(
    name = "cf-doctor",
    version = crate::version::LONG,
    about = "Tells you why CloudFront returns 5xx: inspects the distribution, its certificates and the origin, live."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Output format [default: text on a terminal, json otherwise]
    #[arg(long, global = true, value_parser = ["text", "json", "slack"])]
    pub format: Option<String>,
    /// Also deliver to the configured SNS topic / Slack webhook
    #[arg(long, global = true)]
    pub notify: bool,
    /// Probe HOST at ADDR instead of resolving it (repeatable), like curl --resolve
    #[arg(long, global = true, value_name = "HOST=ADDR")]
    pub resolve: Vec<String>,
    /// PEM roots trusted in addition to the public roots (CloudFront itself trusts only public CAs)
    #[arg(long, global = true, value_name = "PATH")]
    pub ca_file: Option<PathBuf>,
    /// Also write what was collected to FILE (cf-doctor/evidence/v1), for `cf-doctor explain`
    #[arg(long, global = true, value_name = "FILE")]
    pub save_evidence: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Everything an alarm on this distribution would trigger
    Diagnose {
        #[arg(value_name = "DISTRIBUTION_ID")]
        distribution_id: String,
    },
    /// The nightly sweep: every distribution and every ACM certificate in scope
    Sweep {
        /// Also probe the origins of disabled distributions (listed, not probed, by default)
        #[arg(long)]
        include_disabled: bool,
        /// Sweep every ACTIVE account of the AWS Organization (listed from the management or a
        /// delegated administrator account) through its member role, into one digest
        #[arg(long, conflicts_with = "accounts")]
        organization: bool,
        /// Sweep these accounts through their member role, into one digest
        #[arg(long, value_name = "ID,ID", value_delimiter = ',')]
        accounts: Vec<String>,
        /// Accounts swept at once (with --organization or --accounts)
        #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64))]
        concurrency: u16,
        /// Seconds one account's sweep may take before it is named as not inspected
        #[arg(long, value_name = "SECONDS", default_value_t = 840, value_parser = clap::value_parser!(u64).range(1..=86_400))]
        account_timeout: u64,
    },
    /// Run the Lambda handler on an event file, as Lambda would (`-` reads stdin)
    Invoke {
        #[arg(value_name = "EVENT.json")]
        event: String,
    },
    /// A past window's incident from the distribution's standard logs (legacy S3 log files and
    /// standard logging v2): when 5xx began and ended, how many, by result type, edge location,
    /// path and minute
    Postmortem {
        #[arg(value_name = "DISTRIBUTION_ID")]
        distribution_id: String,
        /// Start of the window (RFC 3339, e.g. 2026-12-03T09:00:00Z; without an offset, UTC)
        #[arg(long, value_name = "TIME")]
        from: String,
        /// End of the window (excluded)
        #[arg(long, value_name = "TIME")]
        to: String,
    },
    /// Replay saved evidence (--save-evidence) through the rules, offline: no AWS, no network
    Explain {
        #[arg(value_name = "EVIDENCE.json")]
        evidence: String,
    },
}

/// The exit code of an argument error: 64 for a usage error (printed on stderr), 0 for --help
/// and --version (printed on stdout).
pub fn exit_code_of(error: &clap::Error) -> i32 {
    if error.use_stderr() {
        exit::USAGE
    } else {
        exit::OK
    }
}

/// Parses arguments and configuration; usage errors exit 64 (help and version exit 0).
pub fn parse() -> Result<(Cli, Config), i32> {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
            let _ = e.print();
            return Err(code);
        }
    };
    let mut config = match Config::from_env() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("cf-doctor: configuration error: {e}");
            return Err(exit::USAGE);
        }
    };
    for entry in &cli.resolve {
        if let Err(expected) = config.add_resolve(entry) {
            eprintln!("cf-doctor: --resolve {entry:?} is not valid: expected {expected}");
            return Err(exit::USAGE);
        }
    }
    if cli.ca_file.is_some() {
        config.ca_file = cli.ca_file.clone();
    }
    Ok((cli, config))
}

/// A command's input, checked before any AWS client exists: a bad distribution id or event is
/// refused without looking up credentials or a region.
pub enum CheckedInput {
    Targets(Vec<Target>),
    Event(serde_json::Value),
    /// Saved evidence to replay offline.
    Evidence(String),
}

/// Checks the command's own input (distribution id, event file, flags that go with it); a usage
/// error is printed and its exit code returned.
pub fn prepare(cli: &Cli) -> Result<CheckedInput, i32> {
    let refuse = |message: String| {
        eprintln!("cf-doctor: {message}");
        exit::USAGE
    };
    match &cli.command {
        Command::Diagnose { distribution_id } => {
            let id =
                trigger::distribution_id(distribution_id).map_err(|e| refuse(e.to_string()))?;
            Ok(CheckedInput::Targets(vec![Target::Distribution {
                trigger: TriggerInfo::manual(format!("cf-doctor diagnose {id}"), Some(id.clone())),
                id,
            }]))
        }
        Command::Sweep {
            include_disabled,
            organization,
            accounts,
            concurrency,
            account_timeout,
        } => {
            let many = *organization || !accounts.is_empty();
            let defaults = crate::organization::SweepPlan::default();
            let tuned = *concurrency as usize != defaults.concurrency
                || *account_timeout != defaults.account_time_limit.as_secs();
            if !many {
                if tuned {
                    return Err(refuse(
                        "--concurrency and --account-timeout go with --organization or --accounts"
                            .into(),
                    ));
                }
                return Ok(CheckedInput::Targets(vec![Target::Sweep {
                    trigger: TriggerInfo::manual("cf-doctor sweep", None),
                    include_disabled: *include_disabled,
                }]));
            }
            let ids = if *organization {
                None
            } else {
                Some(
                    crate::organization::accounts::parse_ids(accounts.iter().map(String::as_str))
                        .map_err(|e| refuse(format!("--accounts: {e}")))?,
                )
            };
            let detail = match &ids {
                None => "cf-doctor sweep --organization".to_string(),
                Some(ids) => format!("cf-doctor sweep --accounts ({} account(s))", ids.len()),
            };
            Ok(CheckedInput::Targets(vec![Target::OrganizationSweep {
                accounts: ids,
                trigger: TriggerInfo::manual(detail, None),
                plan: crate::organization::SweepPlan {
                    concurrency: *concurrency as usize,
                    account_time_limit: std::time::Duration::from_secs(*account_timeout),
                    include_disabled: *include_disabled,
                },
            }]))
        }
        Command::Postmortem {
            distribution_id,
            from,
            to,
        } => {
            if cli.notify || cli.save_evidence.is_some() {
                return Err(refuse(
                    "postmortem reads logs for whoever asked: --notify and --save-evidence do not apply to it".into(),
                ));
            }
            let id =
                trigger::distribution_id(distribution_id).map_err(|e| refuse(e.to_string()))?;
            let window =
                trigger::window(from, to).map_err(|e| refuse(format!("--from/--to: {e}")))?;
            Ok(CheckedInput::Targets(vec![Target::Postmortem {
                id,
                window,
            }]))
        }
        Command::Invoke { event } => {
            let text = read_event(event).map_err(refuse)?;
            trigger::parse_event_text(&text).map_err(|e| refuse(e.to_string()))?;
            // parse_event_text accepted it, so it is JSON.
            Ok(CheckedInput::Event(
                serde_json::from_str(&text).unwrap_or_default(),
            ))
        }
        Command::Explain { evidence } => {
            if cli.notify || cli.save_evidence.is_some() {
                return Err(refuse(
                    "explain replays saved evidence offline: --notify and --save-evidence do not apply to it".into(),
                ));
            }
            Ok(CheckedInput::Evidence(evidence.clone()))
        }
    }
}

/// The CLI face: arguments, configuration and the command's input checked first, then clients
/// built once, one command. Returns the exit code.
pub async fn main() -> i32 {
    let (cli, config) = match parse() {
        Ok(parsed) => parsed,
        Err(code) => return code,
    };
    let input = match prepare(&cli) {
        Ok(input) => input,
        Err(code) => return code,
    };
    if let CheckedInput::Evidence(path) = &input {
        return explain(path, output_format(&cli));
    }
    match App::start(config).await {
        Ok(app) => Box::pin(run(&cli, &app, input)).await,
        Err(e) => {
            eprintln!("cf-doctor: {e}");
            exit::USAGE
        }
    }
}

fn output_format(cli: &Cli) -> Format {
    match cli.format.as_deref() {
        Some(f) => f.parse().unwrap_or(Format::Json),
        None if std::io::stdout().is_terminal() => Format::Text,
        None => Format::Json,
    }
}

/// Replays saved evidence: the same report as the run that saved it, with no AWS client built.
fn explain(path: &str, format: Format) -> i32 {
    match crate::replay::explain(path) {
        Ok(diagnoses) => {
            let results: Vec<TargetResult> = diagnoses
                .into_iter()
                .map(|d| TargetResult::Diagnosed(Box::new(d)).stamped())
                .collect();
            print_results(&results, format);
            results
                .iter()
                .map(TargetResult::exit_code)
                .max()
                .unwrap_or(exit::OK)
        }
        Err(e) => {
            eprintln!("cf-doctor: {e}");
            exit::USAGE
        }
    }
}

pub async fn run(cli: &Cli, app: &App, input: CheckedInput) -> i32 {
    let format = output_format(cli);
    let evidence = cli.save_evidence.as_ref().map(|_| EvidenceLog::default());
    let options = RunOptions {
        progress: crate::progress::for_terminal(),
        evidence: evidence.clone(),
        ..RunOptions::new(cli.notify)
    };
    let result = match input {
        CheckedInput::Targets(targets) => app.run_targets(targets, &options).await,
        CheckedInput::Event(event) => app.handle_event(&event, &options).await,
        CheckedInput::Evidence(path) => return explain(&path, format),
    };
    let saved = match (&cli.save_evidence, &evidence) {
        (Some(path), Some(log)) => save(path, log),
        _ => Ok(()),
    };
    let code = match result {
        Ok(results) => {
            print_results(&results, format);
            results
                .iter()
                .map(TargetResult::exit_code)
                .max()
                .unwrap_or(exit::OK)
        }
        Err(RunError::Delivery { error, reports }) => {
            let results: Vec<TargetResult> =
                reports.into_iter().map(TargetResult::Diagnosed).collect();
            print_results(&results, format);
            eprintln!("cf-doctor: {error}");
            exit::INCOMPLETE
        }
        Err(e @ RunError::Trigger(_)) => {
            eprintln!("cf-doctor: {e}");
            exit::USAGE
        }
        Err(e) => {
            eprintln!("cf-doctor: {e}");
            exit::INCOMPLETE
        }
    };
    match saved {
        Ok(()) => code,
        Err(message) => {
            // The report is printed; only the copy of its evidence is missing, and that is said.
            eprintln!("cf-doctor: {message}");
            code.max(exit::INCOMPLETE)
        }
    }
}

fn save(path: &std::path::Path, log: &EvidenceLog) -> Result<(), String> {
    std::fs::write(path, log.to_json() + "\n").map_err(|e| {
        format!(
            "cannot write the evidence to {}: {e} (the report above is complete)",
            path.display()
        )
    })
}

fn print_results(results: &[TargetResult], format: Format) {
    if format == Format::Json && results.len() != 1 {
        println!(
            "{}",
            serde_json::to_string_pretty(&TargetResult::response(results)).unwrap_or_default()
        );
        return;
    }
    for result in results {
        match result {
            TargetResult::Diagnosed(d) => println!("{}", render::render(d, format)),
            TargetResult::Acknowledged { note, .. } if format == Format::Text => println!("{note}"),
            TargetResult::Postmortem(p) if format == Format::Text => {
                println!("{}", render::postmortem::text(p))
            }
            other => println!(
                "{}",
                serde_json::to_string_pretty(&other.to_json()).unwrap_or_default()
            ),
        }
    }
}

fn read_event(path: &str) -> Result<String, String> {
    const LIMIT: u64 = 6 * 1024 * 1024; // Lambda's own synchronous payload limit
    let mut text = String::new();
    let read = if path == "-" {
        std::io::stdin().take(LIMIT + 1).read_to_string(&mut text)
    } else {
        std::fs::File::open(path).and_then(|f| f.take(LIMIT + 1).read_to_string(&mut text))
    };
    read.map_err(|e| format!("cannot read the event {path}: {e}"))?;
    if text.len() as u64 > LIMIT {
        return Err(format!(
            "the event {path} is larger than 6 MB, Lambda's payload limit"
        ));
    }
    Ok(text)
}
