//! The CLI face: `diagnose`, `sweep` and `invoke` over the same engine as the Lambda handler.
//! Exit codes: 0 ok, 1 warning, 2 critical, 3 inspection incomplete, 64 usage error.

use std::io::{IsTerminal, Read};
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::render::{self, Format};
use crate::trigger::{self, Target};
use crate::{handler, App, Outcome, RunError, RunOptions};

pub const EXIT_INCOMPLETE: i32 = 3;
pub const EXIT_USAGE: i32 = 64;

#[derive(Debug, Parser)]
#[command(
    name = "cf-doctor",
    version,
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
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Everything an alarm on this distribution would trigger
    Diagnose {
        #[arg(value_name = "DISTRIBUTION_ID")]
        distribution_id: String,
    },
    /// The nightly sweep: every distribution and every ACM certificate in scope
    Sweep,
    /// Run the Lambda handler on an event file, as Lambda would (`-` reads stdin)
    Invoke {
        #[arg(value_name = "EVENT.json")]
        event: String,
    },
}

/// Parses arguments and configuration; usage errors exit 64 (help and version exit 0).
pub fn parse() -> Result<(Cli, Config), i32> {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { 0 };
            let _ = e.print();
            return Err(code);
        }
    };
    let mut config = match Config::from_env() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("cf-doctor: configuration error: {e}");
            return Err(EXIT_USAGE);
        }
    };
    for entry in &cli.resolve {
        if let Err(expected) = config.add_resolve(entry) {
            eprintln!("cf-doctor: --resolve {entry:?} is not valid: expected {expected}");
            return Err(EXIT_USAGE);
        }
    }
    if cli.ca_file.is_some() {
        config.ca_file = cli.ca_file.clone();
    }
    Ok((cli, config))
}

/// What a command asks for, checked before any AWS client exists: a bad distribution id or event
/// is refused without looking up credentials or a region.
pub enum Work {
    Targets(Vec<Target>),
    Event(serde_json::Value),
}

/// Checks the command's own input (distribution id, event file); a usage error is printed and
/// its exit code returned.
pub fn prepare(command: &Command) -> Result<Work, i32> {
    let refuse = |message: String| {
        eprintln!("cf-doctor: {message}");
        EXIT_USAGE
    };
    match command {
        Command::Diagnose { distribution_id } => {
            let id =
                trigger::distribution_id(distribution_id).map_err(|e| refuse(e.to_string()))?;
            Ok(Work::Targets(vec![Target::Distribution {
                trigger: crate::diagnosis::TriggerInfo {
                    kind: "manual".into(),
                    detail: format!("cf-doctor diagnose {id}"),
                    distribution_id: Some(id.clone()),
                    status: None,
                },
                id,
            }]))
        }
        Command::Sweep => Ok(Work::Targets(vec![Target::Sweep {
            trigger: crate::diagnosis::TriggerInfo {
                kind: "manual".into(),
                detail: "cf-doctor sweep".into(),
                distribution_id: None,
                status: None,
            },
        }])),
        Command::Invoke { event } => {
            let text = read_event(event).map_err(refuse)?;
            trigger::parse_event_text(&text).map_err(|e| refuse(e.to_string()))?;
            // parse_event_text accepted it, so it is JSON.
            Ok(Work::Event(serde_json::from_str(&text).unwrap_or_default()))
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
    let work = match prepare(&cli.command) {
        Ok(work) => work,
        Err(code) => return code,
    };
    match App::start(config).await {
        Ok(app) => Box::pin(run(&cli, &app, work)).await,
        Err(e) => {
            eprintln!("cf-doctor: {e}");
            EXIT_USAGE
        }
    }
}

pub async fn run(cli: &Cli, app: &App, work: Work) -> i32 {
    let format = match cli.format.as_deref() {
        Some(f) => f.parse().unwrap_or(Format::Json),
        None if std::io::stdout().is_terminal() => Format::Text,
        None => Format::Json,
    };
    let options = RunOptions {
        progress: crate::progress::for_terminal(),
        ..RunOptions::new(cli.notify)
    };
    let result = match work {
        Work::Targets(targets) => app.run_targets(targets, &options).await,
        Work::Event(event) => handler::handle(app, &event, &options).await,
    };
    match result {
        Ok(outcomes) => {
            print_outcomes(&outcomes, format);
            outcomes.iter().map(Outcome::exit_code).max().unwrap_or(0)
        }
        Err(RunError::Delivery { error, reports }) => {
            let outcomes: Vec<Outcome> = reports.into_iter().map(Outcome::Diagnosed).collect();
            print_outcomes(&outcomes, format);
            eprintln!("cf-doctor: {error}");
            EXIT_INCOMPLETE
        }
        Err(e @ RunError::Trigger(_)) => {
            eprintln!("cf-doctor: {e}");
            EXIT_USAGE
        }
        Err(e) => {
            eprintln!("cf-doctor: {e}");
            EXIT_INCOMPLETE
        }
    }
}

fn print_outcomes(outcomes: &[Outcome], format: Format) {
    if format == Format::Json && outcomes.len() != 1 {
        println!(
            "{}",
            serde_json::to_string_pretty(&handler::response(outcomes)).unwrap_or_default()
        );
        return;
    }
    for outcome in outcomes {
        match outcome {
            Outcome::Diagnosed(d) => println!("{}", render::render(d, format)),
            Outcome::Acknowledged { note, .. } if format == Format::Text => println!("{note}"),
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
