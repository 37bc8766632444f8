//! Picks the face: the Lambda runtime when AWS_LAMBDA_RUNTIME_API is set, the CLI otherwise.

use cf_doctor::{cli, handler};

#[tokio::main]
async fn main() {
    let in_lambda = std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some();
    cf_doctor::logging::init(in_lambda);
    // Boxed: both faces are deep futures; the box keeps main's own stack frame small.
    let code = if in_lambda {
        Box::pin(handler::main()).await
    } else {
        Box::pin(cli::main()).await
    };
    std::process::exit(code)
}
