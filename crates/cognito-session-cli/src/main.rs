//! `cognito-session`: the command line of [`cognito_session_cli`]; `--help` documents it.
#![forbid(unsafe_code)]

#[tokio::main]
async fn main() -> std::process::ExitCode {
    cognito_session_cli::run().await
}
