//! `session list`, `session show` and `session end`: a user's session rows, read or ended.

use aws_sdk_dynamodb::types::KeyType;
use clap::{Args, Subcommand};
use cognito_session::store::{DynamoDbStore, SessionRow, SessionStore, StoreError};
use cognito_session::Sessions;
use serde_json::{json, Value};

use crate::output::{aws, full_message, print, Failure};
use crate::table::sdk_failure;

/// `session ...`
#[derive(Debug, Subcommand)]
pub enum SessionCommand {
    /// Lists every session of a user (one per device on a table with a sort key), as JSON.
    /// Refresh tokens are never printed (only whether a row has one, and its key id when
    /// encrypted).
    List(SessionArgs),
    /// Shows the session row of a user (the refresh token itself is never printed).
    Show(SessionArgs),
    /// Ends a session of a user as the library's logout does: deletes the row, then revokes its
    /// refresh token at Cognito (`RevokeToken`; a failed revocation is logged, "revocation
    /// pending", and does not fail). With `--all`, ends every session of the user and calls
    /// `AdminUserGlobalSignOut` (needs `--user-pool-id`). Succeeds when there was no session.
    End(EndArgs),
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

/// `session end` arguments. The refresh token is decrypted (to revoke it) with the library's
/// `SESSION_ENCRYPTION_KEY` / `SESSION_ENCRYPTION_OLD_KEYS` / `SESSION_KMS_CIPHERTEXT`, and
/// `CLIENT_SECRET` is read from the environment when the app client has one.
#[derive(Debug, Args)]
pub struct EndArgs {
    #[command(flatten)]
    pub session: SessionArgs,
    /// The app client the refresh token was issued to (`RevokeToken` needs it).
    #[arg(long, env = "CLIENT_ID")]
    pub client_id: String,
    /// The user pool (e.g. `us-east-1_AbC`); needed by `--all`.
    #[arg(long, env = "USER_POOL_ID")]
    pub user_pool_id: Option<String>,
    /// Which session, on a table with a sort key (its `session_id`, as `session list` shows).
    /// Not needed when the user has only one.
    #[arg(long, conflicts_with = "all")]
    pub session_id: Option<String>,
    /// End every session of the user and revoke all their refresh tokens
    /// (`AdminUserGlobalSignOut`).
    #[arg(long)]
    pub all: bool,
}

/// Runs a `session` command.
pub async fn run(command: SessionCommand) -> Result<(), Failure> {
    match command {
        SessionCommand::List(args) => list(args).await,
        SessionCommand::Show(args) => show(args).await,
        SessionCommand::End(args) => end(args).await,
    }
}

/// The store, once a given sort key is known to be the table's.
async fn store(
    args: &SessionArgs,
    config: &aws_config::SdkConfig,
) -> Result<DynamoDbStore, Failure> {
    let client = aws_sdk_dynamodb::Client::new(config);
    if let Some(sort_key) = &args.sort_key {
        check_sort_key(&client, &args.table, sort_key).await?;
    }
    let store = DynamoDbStore::new(client, &args.table, &args.partition_key);
    Ok(match &args.sort_key {
        Some(sort_key) => store.with_sort_key(sort_key),
        None => store,
    })
}

/// A `--sort-key` (or `SORT_KEY`) the table does not have is a usage error (exit 2): rows would
/// be read without their session ids.
async fn check_sort_key(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    sort_key: &str,
) -> Result<(), Failure> {
    let described = client
        .describe_table()
        .table_name(table)
        .send()
        .await
        .map_err(|e| sdk_failure(&format!("describing table {table:?}"), e))?;
    let range = described.table().and_then(|t| {
        t.key_schema()
            .iter()
            .find(|k| k.key_type() == &KeyType::Range)
            .map(|k| k.attribute_name().to_owned())
    });
    match range {
        Some(range) if range == sort_key => Ok(()),
        Some(range) => Err(Failure::config(format!(
            "table {table:?} has the sort key {range:?}, not {sort_key:?}: fix --sort-key (or SORT_KEY)"
        ))),
        None => Err(Failure::config(format!(
            "table {table:?} has no sort key, but --sort-key (or SORT_KEY) is {sort_key:?}: \
             drop it for a table with one session per user"
        ))),
    }
}

fn failure(error: StoreError) -> Failure {
    let message = full_message(&error);
    match error {
        StoreError::Unavailable(_) => Failure::unavailable(message),
        StoreError::Conflict(_) => Failure::refused(message),
        _ => Failure::config(message),
    }
}

/// A row for display: never its refresh token.
fn describe(row: &SessionRow) -> Value {
    json!({
        "session_id": row.session_id,
        "username": row.username,
        "timestamp": row.timestamp,
        "last_seen": row.last_seen,
        "origin_jti": row.origin_jti,
        "expires_at": row.expires_at,
        "has_refresh_token": row.refresh_token.is_some(),
        "key_id": row.refresh_token.as_ref().and_then(|t| t.key_id()),
    })
}

async fn list(args: SessionArgs) -> Result<(), Failure> {
    let store = store(&args, &aws().await).await?;
    let rows = store.list(&args.sub).await.map_err(failure)?;
    print(&json!({
        "sub": args.sub,
        "sessions": rows.iter().map(describe).collect::<Vec<_>>(),
    }));
    Ok(())
}

async fn show(args: SessionArgs) -> Result<(), Failure> {
    let store = store(&args, &aws().await).await?;
    let rows = store.list(&args.sub).await.map_err(failure)?;
    let Some(row) = rows.first() else {
        return Err(Failure::refused(format!("no session for {:?}", args.sub)));
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

async fn end(args: EndArgs) -> Result<(), Failure> {
    let config = aws().await;
    let table = &args.session;
    if let Some(sort_key) = &table.sort_key {
        check_sort_key(
            &aws_sdk_dynamodb::Client::new(&config),
            &table.table,
            sort_key,
        )
        .await?;
    } else if args.session_id.is_some() {
        return Err(Failure::config(
            "--session-id names a session on a table with a sort key: set --sort-key (or SORT_KEY)",
        ));
    }
    let mut builder = Sessions::builder()
        .from_env()?
        .sdk_config(config)
        .table(&table.table)
        .partition_key(&table.partition_key)
        .client_id(&args.client_id);
    if let Some(sort_key) = &table.sort_key {
        builder = builder.sort_key(sort_key);
    }
    if let Some(pool) = &args.user_pool_id {
        builder = builder.user_pool_id(pool);
    }
    let sessions = builder.build().await?;
    let sub = &table.sub;
    if args.all {
        if args.user_pool_id.is_none() {
            return Err(Failure::config(
                "--all signs the user out with AdminUserGlobalSignOut, which needs the user pool: \
                 set --user-pool-id (or USER_POOL_ID)",
            ));
        }
        let ended = sessions.end_all(sub).await?;
        print(&json!({ "sub": sub, "ended": ended > 0, "sessions": ended, "signed_out": true }));
        return Ok(());
    }
    let session_id = match (&table.sort_key, args.session_id) {
        (None, _) => None,
        (Some(_), Some(id)) => Some(id),
        (Some(_), None) => {
            let rows = sessions.list(sub).await?;
            match rows.as_slice() {
                [] => None,
                [row] => row.session_id.clone(),
                _ => {
                    return Err(Failure::config(format!(
                        "{sub:?} has {} sessions: name one with --session-id (see `session list`) \
                         or end them all with --all",
                        rows.len()
                    )))
                }
            }
        }
    };
    let ended = match (&table.sort_key, &session_id) {
        // A sort-key table without rows: nothing to end.
        (Some(_), None) => false,
        _ => sessions.end_session(sub, session_id.as_deref()).await?,
    };
    print(&json!({
        "sub": sub,
        "session_id": session_id,
        "ended": ended,
        "sessions": usize::from(ended),
    }));
    Ok(())
}
