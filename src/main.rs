//! Picks the face (Lambda runtime or CLI), builds configuration and clients once, and runs.

use cf_doctor::{cli, handler, App};

#[tokio::main]
async fn main() {
    let in_lambda = std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        if in_lambda {
            "info".into()
        } else {
            "warn".into()
        }
    });
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if in_lambda {
        logs.json().init()
    } else {
        logs.init()
    }

    let (cli, config) = if in_lambda {
        match cf_doctor::config::Config::from_env() {
            Ok(config) => (None, config),
            Err(e) => {
                tracing::error!(error = %e, "configuration error");
                std::process::exit(cli::EXIT_USAGE)
            }
        }
    } else {
        match cli::parse() {
            Ok((cli, config)) => (Some(cli), config),
            Err(code) => std::process::exit(code),
        }
    };
    let sdk = Box::pin(aws_config::load_defaults(
        aws_config::BehaviorVersion::latest(),
    ))
    .await;
    let app = match App::new(&sdk, config) {
        Ok(app) => app,
        Err(e) => {
            eprintln!("cf-doctor: {e}");
            std::process::exit(cli::EXIT_USAGE)
        }
    };
    let code = match cli {
        None => Box::pin(handler::run(app))
            .await
            .map(|_| 0)
            .unwrap_or_else(|e| {
                tracing::error!(error = %e, "runtime failed");
                1
            }),
        Some(cli) => Box::pin(cli::run(cli, app)).await,
    };
    std::process::exit(code)
}
