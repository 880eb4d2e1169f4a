//! `cognito-session`, the operator CLI: creates the session table, verifies tokens, lists, shows
//! and ends sessions, checks a deployment (`doctor`), and runs a local Cognito (`dev`). Settings
//! come from flags or the library's environment variables.
//!
//! The binary is a thin `main` over [`run`]; the library's one public module, [`local`], is the
//! local Cognito that `cognito-session dev` runs (moto, the user pool, a managed-login server),
//! for your own tests as for this project's.
#![forbid(unsafe_code)]

// Process groups, signals and a venv's `bin/python`: Unix (Linux, macOS) only.
#[cfg(unix)]
mod dev;
mod doctor;
#[cfg(unix)]
pub mod local;
mod output;
mod session;
mod table;
mod token;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Operate cognito-session's session table and tokens.
///
/// AWS credentials, region and endpoint come from the usual AWS SDK sources (`AWS_REGION`,
/// `AWS_PROFILE`, `AWS_ENDPOINT_URL`, ...). Exit status: 0 success, 1 refused or not found,
/// 2 usage or configuration error, 3 AWS unavailable (retry).
#[derive(Debug, Parser)]
#[command(name = "cognito-session", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The session table.
    #[command(subcommand)]
    Table(table::TableCommand),
    /// Access and ID tokens.
    #[command(subcommand)]
    Token(token::TokenCommand),
    /// Users' sessions.
    #[command(subcommand)]
    Session(session::SessionCommand),
    /// Checks the deployment's configuration (table, app client, pool, JWKS, a token, IAM) and
    /// says what to fix: exit 0 all OK, 1 warnings, 2 failures.
    Doctor(Box<doctor::DoctorArgs>),
    /// Runs a local Cognito for development: moto (Cognito and DynamoDB) and a managed-login
    /// server on fixed ports, a user pool, app client, user and session table, and prints the
    /// `export` lines for the function's variables; `--app` also runs the web_app example.
    /// Ctrl-C stops what it started.
    #[cfg(unix)]
    Dev(dev::DevArgs),
}

/// The binary's entry point: parses the command line, runs the command, and answers its exit
/// status.
#[doc(hidden)]
pub async fn run() -> ExitCode {
    let cli = Cli::parse();
    // The library's warnings and errors (such as "revocation pending") go to stderr.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(tracing_subscriber::filter::LevelFilter::WARN)
        .with_target(false)
        .without_time()
        .init();
    // The doctor reports its Region itself, on its own line.
    let (result, names_region) = match cli.command {
        Command::Table(command) => (table::run(command).await, true),
        Command::Token(command) => (token::run(command).await, true),
        Command::Session(command) => (session::run(command).await, true),
        Command::Doctor(args) => (doctor::run(*args).await, false),
        #[cfg(unix)]
        Command::Dev(args) => (dev::run(args).await, false),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            let message = if names_region {
                output::with_region(&failure.message)
            } else {
                failure.message
            };
            eprintln!("cognito-session: {message}");
            ExitCode::from(failure.code)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_command_parses() {
        for args in [
            &[
                "cognito-session",
                "table",
                "create",
                "--table",
                "t",
                "--partition-key",
                "sub",
            ][..],
            &[
                "cognito-session",
                "table",
                "create",
                "--table",
                "t",
                "--partition-key",
                "pk",
                "--sort-key",
                "sk",
            ],
            &[
                "cognito-session",
                "token",
                "verify",
                "eyJ",
                "--client-id",
                "c",
            ],
            &[
                "cognito-session",
                "session",
                "show",
                "sub-1",
                "--table",
                "t",
                "--partition-key",
                "pk",
            ],
            &[
                "cognito-session",
                "session",
                "end",
                "sub-1",
                "--table",
                "t",
                "--partition-key",
                "pk",
                "--client-id",
                "c",
            ],
            &[
                "cognito-session",
                "session",
                "end",
                "sub-1",
                "--all",
                "--table",
                "t",
                "--partition-key",
                "pk",
                "--client-id",
                "c",
                "--user-pool-id",
                "us-east-1_AbC",
            ],
            &[
                "cognito-session",
                "session",
                "list",
                "sub-1",
                "--table",
                "t",
                "--partition-key",
                "pk",
            ],
            &[
                "cognito-session",
                "token",
                "verify",
                "-",
                "--client-id",
                "c",
            ],
            &["cognito-session", "doctor", "--sign-in-flow", "password"],
            #[cfg(unix)]
            &[
                "cognito-session",
                "dev",
                "--app",
                "--port",
                "8080",
                "--moto-port",
                "0",
                "--",
                "cargo",
                "run",
                "--bin",
                "my-app",
            ],
        ] {
            Cli::try_parse_from(args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
        }
        assert!(Cli::try_parse_from(["cognito-session", "session", "show"]).is_err());
        #[cfg(unix)]
        {
            let parsed = Cli::try_parse_from(["cognito-session", "dev", "--", "my-app", "--flag"]);
            let Ok(Cli {
                command: Command::Dev(args),
            }) = parsed
            else {
                panic!("dev with a command: {parsed:?}");
            };
            assert_eq!(args.command, ["my-app", "--flag"]);
            assert_eq!(
                (args.moto_port, args.login_port, args.port),
                (4500, 4501, 3000)
            );
        }
    }
}
