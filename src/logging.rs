//! Logs go to stderr: JSON lines in Lambda (CloudWatch Logs Insights reads them), plain text in a
//! terminal. RUST_LOG overrides the level (info in Lambda, warn in the CLI).

pub fn init(in_lambda: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| if in_lambda { "info" } else { "warn" }.into());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if in_lambda {
        logs.json().init()
    } else {
        logs.init()
    }
}
