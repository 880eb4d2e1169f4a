//! `token verify`: verification of an access or ID token with `cognito-jwt` (no table, no
//! session), printing its claims or the typed reason.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::{Args, Subcommand, ValueEnum};
use cognito_jwt::{Freshness, TokenUse, Verifier};
use serde_json::json;

use crate::output::{full_message, print, Failure};

/// `token ...`
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Verifies an access or ID token as the library does (signature against the pool's JWKS,
    /// issuer, app client, `token_use`, times) and prints its claims, or why it was refused.
    /// Needs no table: reads no session row and refreshes nothing.
    Verify(VerifyArgs),
}

/// Which tokens `token verify` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Use {
    /// Whichever the token says (`token_use`): access tokens by `client_id`, ID tokens by `aud`.
    Auto,
    /// Access tokens only (what a session accepts).
    Access,
    /// ID tokens only.
    Id,
}

/// `token verify` arguments.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The token (a JWT), or `-` to read it from stdin (keeps it out of the shell history and
    /// the process list).
    pub token: String,
    /// The app client the token must be issued to.
    #[arg(long, env = "CLIENT_ID")]
    pub client_id: String,
    /// The user pool (e.g. `us-east-1_AbC`); fixes the expected issuers. Without it (and
    /// without `--issuer`) the pool is the one the token names, if its keys verify it.
    #[arg(long, env = "USER_POOL_ID")]
    pub user_pool_id: Option<String>,
    /// Where to fetch the signing keys (default: the issuer's, or an emulator's).
    #[arg(long, env = "COGNITO_JWKS_URL")]
    pub jwks_url: Option<String>,
    /// The exact `iss` to expect.
    #[arg(long, env = "COGNITO_ISSUER")]
    pub issuer: Option<String>,
    /// Comma-separated Regions of the pool's replicas, whose issuers are accepted too.
    #[arg(long, env = "COGNITO_REPLICA_REGIONS", value_delimiter = ',')]
    pub replica_regions: Vec<String>,
    /// Which tokens to accept.
    #[arg(long, value_enum, default_value_t = Use::Auto)]
    pub token_use: Use,
    /// Seconds after expiry a token is still reported (`"expired": true`) rather than refused:
    /// the library refreshes those (its session lifetime, 30 days by default).
    #[arg(long, env = "SESSION_LIFETIME", default_value_t = 30 * 86_400)]
    pub refresh_window: u64,
}

/// Runs a `token` command.
pub async fn run(command: TokenCommand) -> Result<(), Failure> {
    match command {
        TokenCommand::Verify(args) => verify(args).await,
    }
}

/// A Cognito endpoint override on this machine (an emulator such as moto), from the AWS SDK's
/// variables: its JWKS is served there.
fn emulator() -> Option<String> {
    let endpoint = std::env::var("AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER")
        .or_else(|_| std::env::var("AWS_ENDPOINT_URL"))
        .ok()?;
    let authority = endpoint.split_once("://")?.1.split('/').next()?;
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next()?,
        None => authority.split(':').next()?,
    };
    matches!(host, "127.0.0.1" | "localhost" | "::1").then_some(endpoint)
}

fn verifier(args: &VerifyArgs) -> Result<Verifier, Failure> {
    let mut builder = Verifier::builder()
        .client_id(&args.client_id)
        .token_use(match args.token_use {
            Use::Auto => TokenUse::Any,
            Use::Access => TokenUse::Access,
            Use::Id => TokenUse::Id,
        })
        .replica_regions(
            args.replica_regions
                .iter()
                .map(|r| r.trim())
                .filter(|r| !r.is_empty()),
        )
        .refresh_window(Duration::from_secs(args.refresh_window));
    if let Some(url) = &args.jwks_url {
        builder = builder.jwks_url(url);
    }
    if let Some(endpoint) = emulator() {
        builder = builder.emulator(endpoint);
    }
    builder = match (&args.issuer, &args.user_pool_id) {
        (Some(issuer), _) => builder.issuer(issuer),
        (None, Some(pool)) => builder.user_pool(pool),
        (None, None) => builder.learn_user_pool(),
    };
    builder
        .build()
        .map_err(|e| Failure::config(full_message(&e)))
}

async fn verify(args: VerifyArgs) -> Result<(), Failure> {
    let verifier = verifier(&args)?;
    let token = if args.token == "-" {
        read_stdin()?
    } else {
        args.token
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    match verifier.verify_at(token.trim(), now).await {
        Ok((claims, freshness)) => {
            let mut out = json!({
                "valid": true,
                "expired": freshness == Freshness::Expired,
                "sub": claims.sub(),
                "username": claims.username(),
                "client_id": claims.client_id(),
                "iss": claims.issuer(),
                "token_use": claims.token_use(),
                "scope": claims.scope(),
                "groups": claims.groups(),
                "iat": claims.iat(),
                "exp": claims.exp(),
                "auth_time": claims.auth_time(),
                "jti": claims.jti(),
                "origin_jti": claims.origin_jti(),
            });
            if claims.token_use() == "id" {
                out["email"] = json!(claims.email());
                out["email_verified"] = json!(claims.email_verified());
                let custom: serde_json::Map<_, _> = claims
                    .all()
                    .iter()
                    .filter(|(name, _)| name.starts_with("custom:"))
                    .map(|(name, value)| (name.clone(), value.clone()))
                    .collect();
                out["custom"] = custom.into();
            }
            print(&out);
            Ok(())
        }
        Err(cognito_jwt::Error::Rejected { reason, .. }) => {
            print(&json!({
                "valid": false,
                "reason": format!("invalid token: {reason}"),
                "detail": reason.code(),
            }));
            Err(Failure::refused(format!("token refused: {reason}")))
        }
        Err(other) => Err(match other.status() {
            503 => Failure::unavailable(full_message(&other)),
            _ => Failure::config(full_message(&other)),
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
