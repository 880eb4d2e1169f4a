//! `table create`: the session table, on demand, with TTL on `expires_at` and an optional sort key.

use std::time::Duration;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    TableDescription, TableStatus, TimeToLiveDescription, TimeToLiveSpecification,
    TimeToLiveStatus,
};
use clap::{Args, Subcommand};
use serde_json::json;

use crate::output::{aws, full_message, print, Failure};

/// The attribute DynamoDB's TTL deletes expired rows by.
pub const TTL_ATTRIBUTE: &str = "expires_at";

/// `table ...`
#[derive(Debug, Subcommand)]
pub enum TableCommand {
    /// Creates the session table: on-demand billing, string keys, TTL on `expires_at`.
    Create(CreateArgs),
}

/// `table create` arguments.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The table name.
    #[arg(long, env = "SESSION_TABLE")]
    pub table: String,
    /// The partition key attribute (holds the user's `sub`).
    #[arg(long, env = "PARTITION_KEY")]
    pub partition_key: String,
    /// An optional sort key attribute (String): one session per device.
    #[arg(long, env = "SORT_KEY")]
    pub sort_key: Option<String>,
    /// How long to wait for the table to become ACTIVE, in seconds.
    #[arg(long, default_value_t = 120)]
    pub wait: u64,
}

/// Runs a `table` command.
pub async fn run(command: TableCommand) -> Result<(), Failure> {
    match command {
        TableCommand::Create(args) => create(args).await,
    }
}

pub(crate) fn sdk_failure<E>(action: &str, error: SdkError<E>) -> Failure
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let message = format!("{action}: {}", full_message(&error));
    match &error {
        SdkError::ServiceError(service) => match service.err().code() {
            Some("ResourceInUseException") => Failure::refused(message),
            Some(
                "ThrottlingException"
                | "ProvisionedThroughputExceededException"
                | "RequestLimitExceeded"
                | "InternalServerError"
                | "ServiceUnavailable",
            ) => Failure::unavailable(message),
            _ => Failure::config(message),
        },
        SdkError::ConstructionFailure(_) => Failure::config(message),
        _ => Failure::unavailable(message),
    }
}

fn attribute(name: &str) -> Result<AttributeDefinition, Failure> {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(|e| Failure::config(e.to_string()))
}

fn key(name: &str, kind: KeyType) -> Result<KeySchemaElement, Failure> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .map_err(|e| Failure::config(e.to_string()))
}

async fn create(args: CreateArgs) -> Result<(), Failure> {
    let client = aws_sdk_dynamodb::Client::new(&aws().await);
    let created = ensure(
        &client,
        &args.table,
        &args.partition_key,
        args.sort_key.as_deref(),
        Duration::from_secs(args.wait),
    )
    .await?;
    if let Created::Exists { differences } = created {
        return existing(&args, differences);
    }
    print(&json!({
        "table": args.table,
        "status": "ACTIVE",
        "billing_mode": "PAY_PER_REQUEST",
        "partition_key": args.partition_key,
        "sort_key": args.sort_key,
        "ttl_attribute": TTL_ATTRIBUTE,
    }));
    Ok(())
}

/// What [`ensure`] did.
#[derive(Debug)]
pub(crate) enum Created {
    /// The table was created, is ACTIVE, and has TTL on `expires_at`.
    Created,
    /// It existed already (and was left unchanged): how it differs from the asked schema
    /// ([`schema_differences`]); none when it is what the library needs.
    Exists { differences: Vec<String> },
}

/// The session table as `table create` makes it: on-demand, string keys, waited for until
/// ACTIVE (at most `wait`), then TTL on `expires_at`. A table that exists already is described,
/// never changed. `dev` sets up its table with this too.
pub(crate) async fn ensure(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    partition_key: &str,
    sort_key: Option<&str>,
    wait: Duration,
) -> Result<Created, Failure> {
    let mut request = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute(partition_key)?)
        .key_schema(key(partition_key, KeyType::Hash)?);
    if let Some(sort_key) = sort_key {
        request = request
            .attribute_definitions(attribute(sort_key)?)
            .key_schema(key(sort_key, KeyType::Range)?);
    }
    match request.send().await {
        Ok(_) => {}
        Err(SdkError::ServiceError(service))
            if service.err().code() == Some("ResourceInUseException") =>
        {
            let differences = differences(client, table, partition_key, sort_key).await?;
            return Ok(Created::Exists { differences });
        }
        Err(e) => return Err(sdk_failure(&format!("creating table {table:?}"), e)),
    }

    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let described = client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|e| sdk_failure("waiting for the table", e))?;
        let status = described.table().and_then(|t| t.table_status());
        if status == Some(&TableStatus::Active) {
            break;
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(Failure::unavailable(format!(
                "table {table:?} is not ACTIVE after {} s (status {status:?}); TTL not enabled yet",
                wait.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }

    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name(TTL_ATTRIBUTE)
                .enabled(true)
                .build()
                .map_err(|e| Failure::config(e.to_string()))?,
        )
        .send()
        .await
        .map_err(|e| sdk_failure("enabling TTL", e))?;
    Ok(Created::Created)
}

/// `table create` on a table that already exists: nothing to do when it has the schema the
/// library needs (exit 0), else every difference, each with its fix (exit 2). Nothing is changed.
fn existing(args: &CreateArgs, differences: Vec<String>) -> Result<(), Failure> {
    print(&json!({
        "table": args.table,
        "status": "exists",
        "created": false,
        "differences": differences,
    }));
    if differences.is_empty() {
        return Ok(());
    }
    Err(Failure::config(format!(
        "table {:?} already exists and differs from what was asked: {}",
        args.table,
        differences.join("; ")
    )))
}

/// How the existing table `table` differs from the asked schema (`DescribeTable`,
/// `DescribeTimeToLive`).
async fn differences(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    partition_key: &str,
    sort_key: Option<&str>,
) -> Result<Vec<String>, Failure> {
    let described = client
        .describe_table()
        .table_name(table)
        .send()
        .await
        .map_err(|e| sdk_failure(&format!("describing the existing table {table:?}"), e))?;
    let ttl = client
        .describe_time_to_live()
        .table_name(table)
        .send()
        .await
        .map_err(|e| sdk_failure(&format!("reading the TTL of table {table:?}"), e))?;
    Ok(match described.table() {
        Some(described) => schema_differences(
            described,
            ttl.time_to_live_description(),
            partition_key,
            sort_key,
        ),
        None => vec!["DynamoDB described no table".to_owned()],
    })
}

/// How an existing table differs from the session table the library needs: partition key
/// `partition_key` and sort key `sort_key` (both strings), TTL on `expires_at`. Each entry says
/// what was found and what to do.
pub(crate) fn schema_differences(
    table: &TableDescription,
    ttl: Option<&TimeToLiveDescription>,
    partition_key: &str,
    sort_key: Option<&str>,
) -> Vec<String> {
    let mut out = Vec::new();
    let key_of = |kind: KeyType| {
        table
            .key_schema()
            .iter()
            .find(|k| *k.key_type() == kind)
            .map(|k| k.attribute_name().to_owned())
    };
    let type_of = |name: &str| {
        table
            .attribute_definitions()
            .iter()
            .find(|a| a.attribute_name() == name)
            .map(|a| a.attribute_type().as_str().to_owned())
    };
    let mut check = |role: &str, found: Option<String>, wanted: Option<&str>, hint: &str| match (
        found.as_deref(),
        wanted,
    ) {
        (Some(found), Some(wanted)) if found == wanted => {
            if let Some(kind) = type_of(found).filter(|t| t != "S") {
                out.push(format!(
                    "its {role} {found:?} has type {kind}, the library writes strings (S): \
                         the table must be recreated"
                ));
            }
        }
        (Some(found), Some(wanted)) => out.push(format!(
            "its {role} is {found:?}, not {wanted:?}: set {hint}={found} if this is the \
                 table to use"
        )),
        (None, Some(wanted)) => out.push(format!(
            "it has no {role} ({wanted:?} was asked): unset {hint} if this is the table to use"
        )),
        (Some(found), None) => out.push(format!(
            "it has the {role} {found:?}: set {hint}={found} (one session per device)"
        )),
        (None, None) => {}
    };
    check(
        "partition key",
        key_of(KeyType::Hash),
        Some(partition_key),
        "PARTITION_KEY (--partition-key)",
    );
    check(
        "sort key",
        key_of(KeyType::Range),
        sort_key,
        "SORT_KEY (--sort-key)",
    );
    let ttl_on = ttl.is_some_and(|t| {
        t.attribute_name() == Some(TTL_ATTRIBUTE)
            && matches!(
                t.time_to_live_status(),
                Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
            )
    });
    if !ttl_on {
        let found = match ttl.and_then(|t| t.attribute_name()) {
            Some(name) => format!("TTL is on {name:?}"),
            None => "TTL is off".to_owned(),
        };
        out.push(format!(
            "{found}: expired sessions are never removed; turn TTL on for attribute \
             {TTL_ATTRIBUTE:?} (aws dynamodb update-time-to-live)"
        ));
    }
    out
}
