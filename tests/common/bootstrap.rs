//! The real cf-doctor binary started as Lambda starts it, against a Runtime API stand-in.

use cf_doctor_testkit::{aws_env, RuntimeApi};

/// The real binary as Lambda starts it, against `aws_endpoint`, with its log read as it comes
/// (so a full pipe never blocks the function). Killed by `stop`, or on drop if an assertion fails.
pub struct Bootstrap {
    child: tokio::process::Child,
    log: tokio::task::JoinHandle<String>,
}

impl Bootstrap {
    pub fn start(aws_endpoint: &str, api: &RuntimeApi, env: &[(&str, &str)]) -> Bootstrap {
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_cf-doctor"))
            .env_clear()
            .envs(aws_env(aws_endpoint))
            .env("AWS_LAMBDA_RUNTIME_API", api.endpoint())
            .env("AWS_LAMBDA_FUNCTION_NAME", "cf-doctor")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
            .envs(env.iter().copied())
            .kill_on_drop(true)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("the bootstrap binary starts");
        let mut pipe = child.stderr.take().expect("stderr is piped");
        let log = tokio::spawn(async move {
            use tokio::io::AsyncReadExt;
            let mut text = String::new();
            pipe.read_to_string(&mut text).await.ok();
            text
        });
        Bootstrap { child, log }
    }

    /// Kills the process and returns everything it logged.
    pub async fn stop(mut self) -> String {
        self.child.kill().await.ok();
        self.log.await.unwrap_or_default()
    }
}
