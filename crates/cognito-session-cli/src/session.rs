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
    /// Its sort key attribute, if the table keeps one session per device.
    #[arg(long, env = "SORT_KEY")]
    pub sort_key: Option<String>,
}

/// Runs a `session` command.
pub async fn run(command: SessionCommand) -> Result<(), Failure> {
    match command {
        SessionCommand::Show(args) => show(args).await,
        SessionCommand::End(args) => end(args).await,
    }
}

fn store(args: &SessionArgs, config: &aws_config::SdkConfig) -> DynamoDbStore {
    let store = DynamoDbStore::new(
        aws_sdk_dynamodb::Client::new(config),
        &args.table,
        &args.partition_key,
    );
    match &args.sort_key {
        Some(sort_key) => store.with_sort_key(sort_key),
        None => store,
    }
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
    let rows = store.list(&args.sub).await.map_err(failure)?;
    let Some(row) = rows.first() else {
        return Err(Failure::refused(format!("no session for {:?}", args.sub)));
    };
    let describe = |row: &cognito_session::store::SessionRow| {
        json!({
            "session_id": row.session_id,
            "timestamp": row.timestamp,
            "origin_jti": row.origin_jti,
            "expires_at": row.expires_at,
            "has_refresh_token": row.refresh_token.is_some(),
        })
    };
    print(&json!({
        "sub": row.sub,
        "timestamp": row.timestamp,
        "origin_jti": row.origin_jti,
        "has_refresh_token": row.refresh_token.is_some(),
        "sessions": rows.iter().map(describe).collect::<Vec<_>>(),
    }));
    Ok(())
}

async fn end(args: SessionArgs) -> Result<(), Failure> {
    let store = store(&args, &aws().await);
    let rows = store.list(&args.sub).await.map_err(failure)?;
    for row in &rows {
        store.delete(row.key(), None).await.map_err(failure)?;
    }
    print(&json!({ "sub": args.sub, "ended": !rows.is_empty(), "sessions": rows.len() }));
    Ok(())
}
