//! The DynamoDB session table, compatible with the seed's: partition key = `sub`, `token`
//! (String, the refresh token), `timestamp` (Number, epoch seconds), plus an optional
//! `origin_jti` (String, the token family) that rows written by the seed may lack, an optional
//! `device_key` (String) in user pools that track devices, and `version` (String), which rows
//! written by the seed or by earlier versions of this library lack.
//!
//! Every conditional write asks for the item as it was when its condition failed
//! (`ReturnValuesOnConditionCheckFailure = ALL_OLD`), so a conflict costs no extra read, and
//! every update for the item as written (`ReturnValues = ALL_NEW`).

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use aws_sdk_dynamodb::Client;

use super::{
    BoxFuture, Patch, SessionKey, SessionRow, SessionStore, StoreError, StoredToken, Version, Write,
};
use crate::sdk::{classify, is_config_code, Failure};

const TOKEN: &str = "token";
const TIMESTAMP: &str = "timestamp";
const FAMILY: &str = "origin_jti";
const USERNAME: &str = "username";
const EXPIRES_AT: &str = "expires_at";
const LAST_SEEN: &str = "last_seen";
const REFRESHED_AT: &str = "refreshed_at";
const REFRESHED_TOKEN: &str = "refreshed_token";
const REFRESHED_FROM: &str = "refreshed_from";
const LEASE_ID: &str = "lease_id";
const LEASE_UNTIL: &str = "lease_until";
const DEVICE_KEY: &str = "device_key";
const PROFILE: &str = "profile";
const VERSION: &str = "version";

type Item = HashMap<String, AttributeValue>;

/// Sessions in a DynamoDB table.
///
/// ```no_run
/// use cognito_session::store::DynamoDbStore;
/// # async fn f() {
/// let config = aws_config::load_from_env().await;
/// let store = DynamoDbStore::new(aws_sdk_dynamodb::Client::new(&config), "sessions", "sub");
/// # let _ = store;
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct DynamoDbStore {
    client: Client,
    table: String,
    partition_key: String,
    sort_key: Option<String>,
}

fn string(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

fn number(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// The short name of an attribute in expressions.
fn alias(name: &str) -> &'static str {
    match name {
        TOKEN => "t",
        TIMESTAMP => "ts",
        FAMILY => "f",
        LAST_SEEN => "ls",
        REFRESHED_AT => "ra",
        REFRESHED_TOKEN => "rt",
        REFRESHED_FROM => "rf",
        LEASE_ID => "li",
        LEASE_UNTIL => "lu",
        PROFILE => "pr",
        _ => "ver",
    }
}

/// A patch as (attribute, value to set or `None` to remove), leaving out what it keeps.
fn writes(patch: &Patch) -> Vec<(&'static str, Option<AttributeValue>)> {
    fn one<T>(
        name: &'static str,
        write: &Write<T>,
        value: impl Fn(&T) -> AttributeValue,
    ) -> Option<(&'static str, Option<AttributeValue>)> {
        match write {
            Write::Keep => None,
            Write::Set(v) => Some((name, Some(value(v)))),
            Write::Remove => Some((name, None)),
        }
    }
    let timestamp = match patch.timestamp {
        Write::Set(t) => Some((TIMESTAMP, Some(number(t)))),
        _ => None,
    };
    [
        Some((VERSION, patch.version.as_ref().map(|v| string(v.as_str())))),
        one(TOKEN, &patch.refresh_token, |t| string(t.expose_secret())),
        timestamp,
        one(FAMILY, &patch.origin_jti, |f| string(f)),
        one(LAST_SEEN, &patch.last_seen, |n| number(*n)),
        one(REFRESHED_AT, &patch.refreshed_at_ms, |n| number(*n)),
        one(REFRESHED_TOKEN, &patch.refreshed_token, |t| string(t)),
        one(REFRESHED_FROM, &patch.refreshed_from, |t| string(t)),
        one(LEASE_ID, &patch.lease_id, |t| string(t)),
        one(LEASE_UNTIL, &patch.lease_until_ms, |n| number(*n)),
        one(PROFILE, &patch.profile, |t| string(t)),
    ]
    .into_iter()
    .flatten()
    .collect()
}

impl DynamoDbStore {
    /// A store on `table`, whose partition key attribute is named `partition_key`.
    pub fn new(client: Client, table: impl Into<String>, partition_key: impl Into<String>) -> Self {
        DynamoDbStore {
            client,
            table: table.into(),
            partition_key: partition_key.into(),
            sort_key: None,
        }
    }

    /// Keys rows by `sub` and a session id (the login's `origin_jti`) in the sort key attribute
    /// `sort_key`: one session per device.
    pub fn with_sort_key(mut self, sort_key: impl Into<String>) -> Self {
        self.sort_key = Some(sort_key.into());
        self
    }

    fn row_from(&self, key: SessionKey<'_>, item: &Item) -> SessionRow {
        let string = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
        let number = |name: &str| {
            item.get(name)
                .and_then(|v| v.as_n().ok())
                .and_then(|n| n.parse::<f64>().ok())
                .map(|n| n as i64)
        };
        let mut row = SessionRow::at(key);
        row.refresh_token = string(TOKEN).map(StoredToken::new);
        row.timestamp = number(TIMESTAMP).unwrap_or(0);
        row.origin_jti = string(FAMILY);
        row.username = string(USERNAME);
        row.expires_at = number(EXPIRES_AT);
        row.last_seen = number(LAST_SEEN);
        row.refreshed_at_ms = number(REFRESHED_AT);
        row.refreshed_token = string(REFRESHED_TOKEN);
        row.refreshed_from = string(REFRESHED_FROM);
        row.lease_id = string(LEASE_ID);
        row.lease_until_ms = number(LEASE_UNTIL);
        row.device_key = string(DEVICE_KEY).filter(|key| !key.is_empty());
        row.profile = string(PROFILE);
        row.version = string(VERSION).map(Version::new);
        row
    }

    /// `UpdateItem` of `patch`, if the item's version is any of `expected`.
    async fn update_where(
        &self,
        key: SessionKey<'_>,
        expected: &[Option<&Version>],
        patch: &Patch,
    ) -> Result<SessionRow, StoreError> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(self.key(key)?))
            .expression_attribute_names("#pk", &self.partition_key)
            .expression_attribute_names("#ver", VERSION)
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        // One alternative per expected version: `#ver = :e0`, or `attribute_not_exists(#ver)`
        // for "no version".
        let mut versions = Vec::new();
        for (i, version) in expected.iter().enumerate() {
            match version {
                Some(version) => {
                    versions.push(format!("#ver = :e{i}"));
                    update = update
                        .expression_attribute_values(format!(":e{i}"), string(version.as_str()));
                }
                None => versions.push("attribute_not_exists(#ver)".to_owned()),
            }
        }
        if versions.is_empty() {
            // Nothing is expected: a condition that no item meets.
            versions.push("attribute_not_exists(#pk)".to_owned());
        }
        update = update.condition_expression(format!(
            "attribute_exists(#pk) AND ({})",
            versions.join(" OR ")
        ));
        let (mut set, mut remove) = (Vec::new(), Vec::new());
        for (name, value) in writes(patch) {
            // `#ra` for `refreshed_at`, `:ra` its value: readable in request logs.
            let alias = alias(name);
            if name != VERSION {
                update = update.expression_attribute_names(format!("#{alias}"), name);
            }
            match value {
                Some(value) => {
                    set.push(format!("#{alias} = :{alias}"));
                    update = update.expression_attribute_values(format!(":{alias}"), value);
                }
                None => remove.push(format!("#{alias}")),
            }
        }
        let mut expression = Vec::new();
        if !set.is_empty() {
            expression.push(format!("SET {}", set.join(", ")));
        }
        if !remove.is_empty() {
            expression.push(format!("REMOVE {}", remove.join(", ")));
        }
        let output = update
            .update_expression(expression.join(" "))
            .send()
            .await
            .map_err(|error| match error.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                    self.conflict(key, failed.item())
                }
                _ => self.error("update a session", error),
            })?;
        Ok(self.row_from(key, output.attributes.as_ref().unwrap_or(&Item::new())))
    }

    /// The conflict of a failed condition: the item as it was (`None`: there was none).
    fn conflict(&self, key: SessionKey<'_>, item: Option<&Item>) -> StoreError {
        let current = item.filter(|i| !i.is_empty());
        StoreError::Conflict(current.map(|item| Box::new(self.row_from(key, item))))
    }

    fn error<E>(&self, action: &str, error: aws_sdk_dynamodb::error::SdkError<E>) -> StoreError
    where
        E: aws_sdk_dynamodb::error::ProvideErrorMetadata
            + std::error::Error
            + Send
            + Sync
            + 'static,
    {
        let failure = classify(&error);
        match failure {
            // Only writes made without asking for the old item get here.
            Failure::Service { code, .. } if code == "ConditionalCheckFailedException" => {
                StoreError::Conflict(None)
            }
            Failure::Service { code, message, .. } if is_config_code(&code) => {
                let hint = match code.as_str() {
                    "ResourceNotFoundException" => format!(
                        "the session table {:?} does not exist in this account in Region {}; \
                         create it, or fix SESSION_TABLE or the function's Region (AWS_REGION)",
                        self.table,
                        self.client
                            .config()
                            .region()
                            .map_or_else(|| "(none configured)".to_owned(), ToString::to_string)
                    ),
                    "ValidationException" => format!(
                        "DynamoDB refused to {action} on table {:?} ({message}); check that \
                         PARTITION_KEY ({:?}) is the table's partition key and that it has no \
                         sort key",
                        self.table, self.partition_key
                    ),
                    _ => format!(
                        "DynamoDB refused to {action} on table {:?}: {code} ({message}); check \
                         the function's IAM permissions and credentials",
                        self.table
                    ),
                };
                StoreError::Config {
                    message: hint,
                    source: Some(Box::new(error)),
                }
            }
            Failure::Construction => StoreError::Config {
                message: format!("could not build the DynamoDB {action} request"),
                source: Some(Box::new(error)),
            },
            _ => StoreError::Unavailable(Box::new(error)),
        }
    }

    fn key(&self, key: SessionKey<'_>) -> Result<HashMap<String, AttributeValue>, StoreError> {
        let mut map = HashMap::from([(
            self.partition_key.clone(),
            AttributeValue::S(key.sub.to_owned()),
        )]);
        match (&self.sort_key, key.session) {
            (Some(name), Some(session)) => {
                map.insert(name.clone(), AttributeValue::S(session.to_owned()));
            }
            (Some(_), None) => {
                return Err(StoreError::Config {
                    message:
                        "SORT_KEY is set, but the token has no origin_jti to key the session by; \
                              enable token revocation on the app client"
                            .into(),
                    source: None,
                })
            }
            (None, _) => {}
        }
        Ok(map)
    }
}

impl SessionStore for DynamoDbStore {
    fn load<'a>(
        &'a self,
        key: SessionKey<'a>,
    ) -> BoxFuture<'a, Result<Option<SessionRow>, StoreError>> {
        Box::pin(async move {
            let output = self
                .client
                .get_item()
                .table_name(&self.table)
                .set_key(Some(self.key(key)?))
                .consistent_read(true)
                .send()
                .await
                .map_err(|e| self.error("read a session", e))?;
            Ok(output.item.as_ref().map(|item| self.row_from(key, item)))
        })
    }

    fn list<'a>(&'a self, sub: &'a str) -> BoxFuture<'a, Result<Vec<SessionRow>, StoreError>> {
        Box::pin(async move {
            let Some(sort_key) = &self.sort_key else {
                return Ok(self
                    .load(SessionKey { sub, session: None })
                    .await?
                    .into_iter()
                    .collect());
            };
            let mut rows = Vec::new();
            let mut start = None;
            loop {
                let output = self
                    .client
                    .query()
                    .table_name(&self.table)
                    .key_condition_expression("#pk = :sub")
                    .expression_attribute_names("#pk", &self.partition_key)
                    .expression_attribute_values(":sub", AttributeValue::S(sub.to_owned()))
                    .consistent_read(true)
                    .set_exclusive_start_key(start)
                    .send()
                    .await
                    .map_err(|e| self.error("list sessions", e))?;
                for item in output.items() {
                    let session = item
                        .get(sort_key)
                        .and_then(|v| v.as_s().ok())
                        .map(String::as_str);
                    rows.push(self.row_from(SessionKey { sub, session }, item));
                }
                start = output.last_evaluated_key;
                if start.is_none() {
                    return Ok(rows);
                }
            }
        })
    }

    fn put<'a>(&'a self, record: &'a SessionRow) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let mut item = self.key(record.key())?;
            let mut add = |name: &str, value: Option<AttributeValue>| {
                if let Some(value) = value {
                    item.insert(name.to_owned(), value);
                }
            };
            let s = |v: &Option<String>| v.as_deref().map(string);
            let n = |v: Option<i64>| v.map(number);
            add(
                TOKEN,
                record
                    .refresh_token
                    .as_ref()
                    .map(|t| string(t.expose_secret())),
            );
            add(TIMESTAMP, Some(number(record.timestamp)));
            add(FAMILY, s(&record.origin_jti));
            add(USERNAME, s(&record.username));
            add(EXPIRES_AT, n(record.expires_at));
            add(LAST_SEEN, n(record.last_seen));
            add(REFRESHED_AT, n(record.refreshed_at_ms));
            add(REFRESHED_TOKEN, s(&record.refreshed_token));
            add(REFRESHED_FROM, s(&record.refreshed_from));
            add(LEASE_ID, s(&record.lease_id));
            add(LEASE_UNTIL, n(record.lease_until_ms));
            add(DEVICE_KEY, s(&record.device_key));
            add(PROFILE, s(&record.profile));
            add(VERSION, record.version.as_ref().map(|v| string(v.as_str())));
            self.client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item))
                .send()
                .await
                .map_err(|e| self.error("write a session", e))?;
            Ok(())
        })
    }

    fn update<'a>(
        &'a self,
        key: SessionKey<'a>,
        expected: Option<&'a Version>,
        patch: &'a Patch,
    ) -> BoxFuture<'a, Result<SessionRow, StoreError>> {
        Box::pin(async move { self.update_where(key, &[expected], patch).await })
    }

    fn update_any<'a>(
        &'a self,
        key: SessionKey<'a>,
        expected: &'a [Option<Version>],
        patch: &'a Patch,
    ) -> BoxFuture<'a, Result<SessionRow, StoreError>> {
        Box::pin(async move {
            let expected: Vec<Option<&Version>> = expected.iter().map(Option::as_ref).collect();
            self.update_where(key, &expected, patch).await
        })
    }

    fn delete<'a>(
        &'a self,
        key: SessionKey<'a>,
        expected: Option<&'a Version>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let delete = self
                .client
                .delete_item()
                .table_name(&self.table)
                .set_key(Some(self.key(key)?))
                .expression_attribute_names("#ver", VERSION)
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                );
            // A missing item is fine (already gone); another version is not ours to delete.
            let delete = match expected {
                Some(version) => delete
                    .condition_expression("attribute_not_exists(#pk) OR #ver = :expected")
                    .expression_attribute_names("#pk", &self.partition_key)
                    .expression_attribute_values(":expected", string(version.as_str())),
                None => delete.condition_expression("attribute_not_exists(#ver)"),
            };
            delete
                .send()
                .await
                .map_err(|error| match error.as_service_error() {
                    Some(DeleteItemError::ConditionalCheckFailedException(failed)) => {
                        self.conflict(key, failed.item())
                    }
                    _ => self.error("delete a session", error),
                })?;
            Ok(())
        })
    }
}
