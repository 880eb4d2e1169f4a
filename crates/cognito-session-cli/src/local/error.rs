//! What can go wrong bringing up the local Cognito, each saying what to do.

use std::path::PathBuf;

/// A local Cognito could not be brought up.
///
/// ```
/// use cognito_session_cli::local::Error;
/// let error = Error::PortTaken { what: "moto", port: 4500, flag: "--moto-port" };
/// assert!(error.to_string().contains("--moto-port"));
/// ```
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Python could not be run to create the virtual environment.
    #[error(
        "cannot run {python}: {source}; install Python 3 (with its venv module) or pass --python \
         with a Python that has moto"
    )]
    Python {
        /// The interpreter tried.
        python: PathBuf,
        /// Why it could not run.
        source: std::io::Error,
    },
    /// Creating the virtual environment or installing moto into it failed.
    #[error(
        "{step} failed in {venv}: {why}; check that the Python package index is reachable, or \
         install {spec} yourself and pass --python"
    )]
    Install {
        /// What failed (`python3 -m venv`, `pip install`).
        step: &'static str,
        /// The virtual environment.
        venv: PathBuf,
        /// Its exit status and the end of its output.
        why: String,
        /// What was being installed.
        spec: String,
    },
    /// moto did not start.
    #[error("moto did not start with {python} on port {port}: {why}")]
    MotoStart {
        /// The interpreter.
        python: PathBuf,
        /// The port asked for.
        port: u16,
        /// What happened.
        why: String,
    },
    /// A fixed port is taken by something that is not what this run would reuse.
    #[error(
        "port {port} (for {what}) is in use by another program; stop it or pass {flag} with a \
         free port"
    )]
    PortTaken {
        /// What the port was for.
        what: &'static str,
        /// The port.
        port: u16,
        /// The flag that moves it.
        flag: &'static str,
    },
    /// A server could not listen on its port.
    #[error("cannot listen on 127.0.0.1:{port} for {what}: {source}")]
    Listen {
        /// The server.
        what: &'static str,
        /// The port.
        port: u16,
        /// Why.
        source: std::io::Error,
    },
    /// moto's signing key could not be read.
    #[error("cannot read moto's signing key with {python}: {why}; is moto installed there?")]
    Key {
        /// The interpreter.
        python: PathBuf,
        /// Why.
        why: String,
    },
    /// moto refused or failed a call while the pool, client, user or table were set up.
    #[error("{action} on moto failed: {why}")]
    Setup {
        /// What was being done (`creating the user pool`).
        action: String,
        /// moto's answer.
        why: String,
    },
}
