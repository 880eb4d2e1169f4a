//! `table create`: the session table, on demand, with TTL on `expires_at` and an optional sort key.

use std::time::Duration;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, TableStatus,
    TimeToLiveSpecification,
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
    let mut request = client
        .create_table()
        .table_name(&args.table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute(&args.partition_key)?)
        .key_schema(key(&args.partition_key, KeyType::Hash)?);
    if let Some(sort_key) = &args.sort_key {
        request = request
            .attribute_definitions(attribute(sort_key)?)
            .key_schema(key(sort_key, KeyType::Range)?);
    }
    request
        .send()
        .await
        .map_err(|e| sdk_failure(&format!("creating table {:?}", args.table), e))?;

    let deadline = tokio::time::Instant::now() + Duration::from_secs(args.wait);
    loop {
        let described = client
            .describe_table()
            .table_name(&args.table)
            .send()
            .await
            .map_err(|e| sdk_failure("waiting for the table", e))?;
        let status = described.table().and_then(|t| t.table_status());
        if status == Some(&TableStatus::Active) {
            break;
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(Failure::unavailable(format!(
                "table {:?} is not ACTIVE after {} s (status {status:?}); TTL not enabled yet",
                args.table, args.wait
            )));
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }

    client
        .update_time_to_live()
        .table_name(&args.table)
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
