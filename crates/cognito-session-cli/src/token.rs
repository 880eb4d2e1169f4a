//! `token verify`: the library's own verification of an access token, claims or typed reason.

use clap::{Args, Subcommand};
use cognito_session::store::MemoryStore;
use cognito_session::{Error, Sessions};
use serde_json::json;

use crate::output::{full_message, print, Failure};

/// `token ...`
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Verifies an access token exactly as the library does (signature against the pool's JWKS,
    /// issuer, app client, `token_use`, times) and prints its claims, or why it was refused.
    /// Reads no session row and refreshes nothing.
    Verify(VerifyArgs),
}

/// `token verify` arguments.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The access token (a JWT), or `-` to read it from stdin (keeps it out of the shell history
    /// and the process list).
    pub token: String,
    /// The app client the token must be issued to.
    #[arg(long, env = "CLIENT_ID")]
    pub client_id: String,
    /// The user pool (e.g. `us-east-1_AbC`); fixes the expected issuer.
    #[arg(long, env = "USER_POOL_ID")]
    pub user_pool_id: Option<String>,
    /// Where to fetch the signing keys (default: the issuer's, or an emulator's).
    #[arg(long, env = "COGNITO_JWKS_URL")]
    pub jwks_url: Option<String>,
    /// The exact `iss` to expect.
    #[arg(long, env = "COGNITO_ISSUER")]
    pub issuer: Option<String>,
}

/// Runs a `token` command.
pub async fn run(command: TokenCommand) -> Result<(), Failure> {
    match command {
        TokenCommand::Verify(args) => verify(args).await,
    }
}

async fn verify(args: VerifyArgs) -> Result<(), Failure> {
    // Verification needs no table: an in-memory store stands in for it.
    let mut builder = Sessions::builder()
        .from_env()?
        .client_id(&args.client_id)
        .store(MemoryStore::default());
    if let Some(pool) = &args.user_pool_id {
        builder = builder.user_pool_id(pool);
    }
    if let Some(url) = &args.jwks_url {
        builder = builder.jwks_url(url);
    }
    if let Some(issuer) = &args.issuer {
        builder = builder.issuer(issuer);
    }
    let token = if args.token == "-" {
        read_stdin()?
    } else {
        args.token
    };
    let sessions = builder.build().await?;
    match sessions.verify(token.trim()).await {
        Ok(verified) => {
            let claims = verified.claims();
            print(&json!({
                "valid": true,
                "expired": verified.expired(),
                "sub": claims.sub(),
                "username": claims.username(),
                "client_id": claims.client_id(),
                "iss": claims.issuer(),
                "token_use": claims.get("token_use"),
                "scope": claims.scope(),
                "groups": claims.groups(),
                "iat": claims.iat(),
                "exp": claims.exp(),
                "auth_time": claims.auth_time(),
                "jti": claims.jti(),
                "origin_jti": claims.origin_jti(),
            }));
            Ok(())
        }
        Err(Error::Unauthorized(reason)) => {
            print(&json!({
                "valid": false,
                "reason": reason.to_string(),
                "detail": format!("{reason:?}"),
            }));
            Err(Failure::refused(format!("token refused: {reason}")))
        }
        Err(other) => Err(Failure {
            message: full_message(&other),
            ..Failure::from(other)
        }),
    }
}

/// The token piped on stdin (surrounding whitespace is trimmed by the caller).
fn read_stdin() -> Result<String, Failure> {
    use std::io::Read;
    let mut token = String::new();
    std::io::stdin()
        .read_to_string(&mut token)
        .map_err(|e| Failure::config(format!("cannot read the token from stdin: {e}")))?;
    if token.trim().is_empty() {
        return Err(Failure::config(
            "`token verify -` reads the token from stdin, which was empty",
        ));
    }
    Ok(token)
}
