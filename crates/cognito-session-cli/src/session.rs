//! `session show` and `session end`: one user's session row, read or removed.

use clap::{Args, Subcommand};
use cognito_session::store::{DynamoDbStore, SessionStore, StoreError};
use serde_json::json;

use crate::output::{aws, full_message, print, Failure};

/// `session ...`
#[derive(Debug, Subcommand)]
pub enum SessionCommand {
    /// Shows the session row of a user (the refresh token itself is never printed).
    Show(SessionArgs),
    /// Ends the session of a user (deletes the row): their next request is refused and the
    /// refresh token is never used again. Succeeds when there was no session.
    End(SessionArgs),
}

/// The user and the table.
#[derive(Debug, Args)]
pub struct SessionArgs {
    /// The user's `sub`.
    pub sub: String,
    /// The session table.
    #[arg(long, env = "SESSION_TABLE")]
    pub table: String,
    /// Its partition key attribute.
    #[arg(long, env = "PARTITION_KEY")]
    pub partition_key: String,
}

/// Runs a `session` command.
pub async fn run(command: SessionCommand) -> Result<(), Failure> {
    match command {
        SessionCommand::Show(args) => show(args).await,
        SessionCommand::End(args) => end(args).await,
    }
}

fn store(args: &SessionArgs, config: &aws_config::SdkConfig) -> DynamoDbStore {
    DynamoDbStore::new(
        aws_sdk_dynamodb::Client::new(config),
        &args.table,
        &args.partition_key,
    )
}

fn failure(error: StoreError) -> Failure {
    let message = full_message(&error);
    match error {
        StoreError::Unavailable(_) => Failure::unavailable(message),
        StoreError::Conflict => Failure::refused(message),
        _ => Failure::config(message),
    }
}

async fn show(args: SessionArgs) -> Result<(), Failure> {
    let store = store(&args, &aws().await);
    let row = store
        .get(&args.sub)
        .await
        .map_err(failure)?
        .ok_or_else(|| Failure::refused(format!("no session for {:?}", args.sub)))?;
    print(&json!({
        "sub": row.sub,
        "timestamp": row.timestamp,
        "origin_jti": row.origin_jti,
        "has_refresh_token": row.refresh_token.is_some(),
    }));
    Ok(())
}

async fn end(args: SessionArgs) -> Result<(), Failure> {
    let store = store(&args, &aws().await);
    let existed = store.get(&args.sub).await.map_err(failure)?.is_some();
    store.delete(&args.sub, None).await.map_err(failure)?;
    print(&json!({ "sub": args.sub, "ended": existed }));
    Ok(())
}
