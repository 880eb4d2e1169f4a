//! The DynamoDB session table, compatible with the seed's: partition key = `sub`, `token`
//! (String, the refresh token), `timestamp` (Number, epoch seconds), plus an optional
//! `origin_jti` (String, the token family) that rows written by the seed may lack, and an
//! optional `device_key` (String) in user pools that track devices.

use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;

use super::{
    BoxFuture, Lease, Opened, Refreshed, SealError, Sealer, SessionKey, SessionRow, SessionStore,
    StoreError, StoredToken,
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
    sealer: Option<Arc<Sealer>>,
}

impl DynamoDbStore {
    /// A store on `table`, whose partition key attribute is named `partition_key`.
    pub fn new(client: Client, table: impl Into<String>, partition_key: impl Into<String>) -> Self {
        DynamoDbStore {
            client,
            table: table.into(),
            partition_key: partition_key.into(),
            sort_key: None,
            sealer: None,
        }
    }

    /// Keys rows by `sub` and a session id (the login's `origin_jti`) in the sort key attribute
    /// `sort_key`: one session per device.
    pub fn with_sort_key(mut self, sort_key: impl Into<String>) -> Self {
        self.sort_key = Some(sort_key.into());
        self
    }

    /// Encrypts refresh tokens at rest with `sealer` (see [`Sealer`]). Plaintext rows still
    /// read, and are encrypted on their next write.
    pub fn with_sealer(mut self, sealer: Arc<Sealer>) -> Self {
        self.sealer = Some(sealer);
        self
    }

    /// The associated data binding a ciphertext to its row: table and key values.
    fn aad(&self, key: SessionKey<'_>) -> Vec<u8> {
        let session = key.session.unwrap_or_default();
        [
            self.table.as_bytes(),
            b"\0",
            key.sub.as_bytes(),
            b"\0",
            session.as_bytes(),
        ]
        .concat()
    }

    /// The `token` value to store for `token`. An already sealed value (a row read back and
    /// written again) is stored as it is: it is re-encrypted only by a refresh, which decrypts it.
    fn stored(&self, key: SessionKey<'_>, token: &str) -> Result<String, StoreError> {
        self.seal(token, &self.aad(key))
    }

    /// The associated data of the `refreshed_token` value: the row's, and the attribute's name,
    /// so neither that value nor the refresh token's can stand in for the other.
    fn refreshed_aad(&self, key: SessionKey<'_>) -> Vec<u8> {
        [&self.aad(key)[..], b"\0", REFRESHED_TOKEN.as_bytes()].concat()
    }

    fn seal(&self, value: &str, aad: &[u8]) -> Result<String, StoreError> {
        match &self.sealer {
            None => Ok(value.to_owned()),
            Some(_) if StoredToken::new(value).is_sealed() => Ok(value.to_owned()),
            Some(sealer) => sealer
                .seal(value, aad)
                .map_err(|e| StoreError::Unavailable(Box::new(e))),
        }
    }

    /// The access token of the last refresh, for a request that joins it. One that cannot be
    /// read is as good as none: a request that cannot join refreshes by itself.
    fn refreshed_token(&self, key: SessionKey<'_>, stored: Option<&String>) -> Option<String> {
        let stored = stored?;
        match &self.sealer {
            None if stored.starts_with("enc:") => None,
            None => Some(stored.clone()),
            Some(sealer) => match sealer.open(stored, &self.refreshed_aad(key)) {
                Ok(opened) => Some(opened.token),
                Err(error) => {
                    tracing::debug!(sub = key.sub, %error, "the last refresh's access token cannot be read; no request can join it");
                    None
                }
            },
        }
    }

    fn row_from(
        &self,
        key: SessionKey<'_>,
        item: &HashMap<String, AttributeValue>,
    ) -> Result<SessionRow, StoreError> {
        let sub = key.sub;
        let string = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
        let number = |name: &str| {
            item.get(name)
                .and_then(|v| v.as_n().ok())
                .and_then(|n| n.parse::<f64>().ok())
                .map(|n| n as i64)
        };
        let stored = string(TOKEN);
        // Not decrypted here (see `reveal`): whether to re-encrypt shows in the key id.
        let refresh_token = stored.clone().map(StoredToken::new);
        let reseal = match (&refresh_token, &self.sealer) {
            (Some(token), Some(sealer)) => token.key_id() != Some(sealer.key_id()),
            _ => false,
        };
        Ok(SessionRow {
            sub: sub.to_owned(),
            session_id: key.session.map(str::to_owned),
            refresh_token,
            timestamp: number(TIMESTAMP).unwrap_or(0),
            origin_jti: string(FAMILY),
            username: string(USERNAME),
            expires_at: number(EXPIRES_AT),
            last_seen: number(LAST_SEEN),
            refreshed_at_ms: number(REFRESHED_AT),
            refreshed_token: self
                .refreshed_token(key, item.get(REFRESHED_TOKEN).and_then(|v| v.as_s().ok())),
            refreshed_from: string(REFRESHED_FROM),
            lease: string(LEASE_ID)
                .zip(number(LEASE_UNTIL))
                .map(|(id, until_ms)| Lease { id, until_ms }),
            device_key: string(DEVICE_KEY).filter(|key| !key.is_empty()),
            stored,
            reseal,
        })
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
            Failure::Service { code, .. } if code == "ConditionalCheckFailedException" => {
                StoreError::Conflict
            }
            Failure::Service { code, message, .. } if is_config_code(&code) => {
                let hint = match code.as_str() {
                    "ResourceNotFoundException" => format!(
                        "the session table {:?} does not exist in this account and region; create \
                         it or fix SESSION_TABLE",
                        self.table
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
    fn get<'a>(
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
            output
                .item
                .as_ref()
                .map(|item| self.row_from(key, item))
                .transpose()
        })
    }

    fn list<'a>(&'a self, sub: &'a str) -> BoxFuture<'a, Result<Vec<SessionRow>, StoreError>> {
        Box::pin(async move {
            let Some(sort_key) = &self.sort_key else {
                return Ok(self
                    .get(SessionKey { sub, session: None })
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
                    rows.push(self.row_from(SessionKey { sub, session }, item)?);
                }
                start = output.last_evaluated_key;
                if start.is_none() {
                    return Ok(rows);
                }
            }
        })
    }

    fn put<'a>(&'a self, row: &'a SessionRow) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let mut item = self.key(row.key())?;
            if let Some(token) = &row.refresh_token {
                item.insert(
                    TOKEN.into(),
                    AttributeValue::S(self.stored(row.key(), token.expose_secret())?),
                );
            }
            item.insert(
                TIMESTAMP.into(),
                AttributeValue::N(row.timestamp.to_string()),
            );
            if let Some(family) = &row.origin_jti {
                item.insert(FAMILY.into(), AttributeValue::S(family.clone()));
            }
            if let Some(username) = &row.username {
                item.insert(USERNAME.into(), AttributeValue::S(username.clone()));
            }
            if let Some(last_seen) = row.last_seen {
                item.insert(LAST_SEEN.into(), AttributeValue::N(last_seen.to_string()));
            }
            if let Some(expires_at) = row.expires_at {
                item.insert(EXPIRES_AT.into(), AttributeValue::N(expires_at.to_string()));
            }
            if let Some(device_key) = &row.device_key {
                item.insert(DEVICE_KEY.into(), AttributeValue::S(device_key.clone()));
            }
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

    fn take_lease<'a>(
        &'a self,
        row: &'a SessionRow,
        lease: &'a Lease,
        now_ms: i64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let stored = row.stored.clone().ok_or(StoreError::Conflict)?;
            // Also unchanged since our read: no refresh completed meanwhile (else we would
            // refresh a second time instead of joining that one).
            let unrefreshed = match row.refreshed_at_ms {
                None => "attribute_not_exists(#ra)",
                Some(_) => "#ra = :seen",
            };
            let mut update = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(self.key(row.key())?))
                .update_expression("SET #li = :id, #lu = :until")
                .condition_expression(format!(
                    "attribute_exists(#pk) AND #t = :stored AND (attribute_not_exists(#lu) OR #lu < :now) AND {unrefreshed}"
                ))
                .expression_attribute_names("#pk", &self.partition_key)
                .expression_attribute_names("#t", TOKEN)
                .expression_attribute_names("#li", LEASE_ID)
                .expression_attribute_names("#lu", LEASE_UNTIL)
                .expression_attribute_names("#ra", REFRESHED_AT)
                .expression_attribute_values(":stored", AttributeValue::S(stored))
                .expression_attribute_values(":id", AttributeValue::S(lease.id.clone()))
                .expression_attribute_values(":until", AttributeValue::N(lease.until_ms.to_string()))
                .expression_attribute_values(":now", AttributeValue::N(now_ms.to_string()));
            if let Some(at) = row.refreshed_at_ms {
                update =
                    update.expression_attribute_values(":seen", AttributeValue::N(at.to_string()));
            }
            update
                .send()
                .await
                .map_err(|e| self.error("take the refresh lease", e))?;
            Ok(())
        })
    }

    fn commit_refresh<'a>(
        &'a self,
        row: &'a SessionRow,
        lease_id: Option<&'a str>,
        refreshed: Refreshed<'a>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let stored = row.stored.clone().ok_or(StoreError::Conflict)?;
            let mut set = vec!["#ts = :ts", "#ra = :ra"];
            let mut update = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(self.key(row.key())?))
                .condition_expression(match lease_id {
                    Some(_) => "#li = :id AND #t = :stored",
                    None => "#t = :stored",
                })
                .expression_attribute_names("#t", TOKEN)
                .expression_attribute_names("#ts", TIMESTAMP)
                .expression_attribute_names("#ra", REFRESHED_AT)
                .expression_attribute_names("#li", LEASE_ID)
                .expression_attribute_names("#lu", LEASE_UNTIL)
                .expression_attribute_values(":stored", AttributeValue::S(stored))
                .expression_attribute_values(
                    ":ts",
                    AttributeValue::N(refreshed.timestamp.to_string()),
                )
                .expression_attribute_values(
                    ":ra",
                    AttributeValue::N(refreshed.refreshed_at_ms.to_string()),
                );
            if let Some(id) = lease_id {
                update =
                    update.expression_attribute_values(":id", AttributeValue::S(id.to_owned()));
            }
            if let Some(family) = refreshed.origin_jti {
                set.push("#f = :f");
                update = update
                    .expression_attribute_names("#f", FAMILY)
                    .expression_attribute_values(":f", AttributeValue::S(family.to_owned()));
            }
            // A stale row (plaintext, or an old key) is re-encrypted with the current key. It
            // decrypted a moment ago for this refresh; if it no longer does, it stays as it is.
            let current = match refreshed.refresh_token {
                None if row.reseal && self.sealer.is_some() => self.reveal(row).ok().flatten(),
                _ => None,
            };
            let new_token = refreshed
                .refresh_token
                .or(current.as_ref().map(|opened| opened.token.as_str()));
            if let Some(token) = new_token {
                set.push("#t = :new");
                update = update.expression_attribute_values(
                    ":new",
                    AttributeValue::S(self.stored(row.key(), token)?),
                );
            }
            // What a request that raced this refresh needs to join it; or nothing to join.
            let mut remove = vec!["#li", "#lu"];
            update = update
                .expression_attribute_names("#rt", REFRESHED_TOKEN)
                .expression_attribute_names("#rf", REFRESHED_FROM);
            match (refreshed.access_token, refreshed.replaced) {
                (Some(token), Some(replaced)) => {
                    set.extend(["#rt = :rt", "#rf = :rf"]);
                    let sealed = self.seal(token, &self.refreshed_aad(row.key()))?;
                    update = update
                        .expression_attribute_values(":rt", AttributeValue::S(sealed))
                        .expression_attribute_values(":rf", AttributeValue::S(replaced.to_owned()));
                }
                _ => remove.extend(["#rt", "#rf"]),
            }
            update
                .update_expression(format!(
                    "SET {} REMOVE {}",
                    set.join(", "),
                    remove.join(", ")
                ))
                .send()
                .await
                .map_err(|e| self.error("record a refresh", e))?;
            Ok(())
        })
    }

    fn touch<'a>(&'a self, row: &'a SessionRow, now: i64) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(self.key(row.key())?))
                .update_expression("SET #ls = :now")
                .condition_expression("attribute_exists(#pk)")
                .expression_attribute_names("#pk", &self.partition_key)
                .expression_attribute_names("#ls", LAST_SEEN)
                .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
                .send()
                .await
                .map_err(|e| self.error("record activity", e))?;
            Ok(())
        })
    }

    fn release_lease<'a>(
        &'a self,
        row: &'a SessionRow,
        lease_id: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(self.key(row.key())?))
                .update_expression("REMOVE #li, #lu")
                .condition_expression("#li = :id")
                .expression_attribute_names("#li", LEASE_ID)
                .expression_attribute_names("#lu", LEASE_UNTIL)
                .expression_attribute_values(":id", AttributeValue::S(lease_id.to_owned()))
                .send()
                .await
                .map_err(|e| self.error("release the refresh lease", e))?;
            Ok(())
        })
    }

    /// Decrypts with the row's key id and the row's key as associated data. Without a sealer,
    /// a sealed value is [`SealError::NoKey`]; with one that lacks the row's key id,
    /// [`SealError::UnknownKey`]; a damaged value (or one copied from another row),
    /// [`SealError::Corrupt`].
    fn reveal(&self, row: &SessionRow) -> Result<Option<Opened>, SealError> {
        let Some(token) = &row.refresh_token else {
            return Ok(None);
        };
        match &self.sealer {
            None => token.reveal_unsealed().map(Some),
            Some(sealer) => sealer
                .open(token.expose_secret(), &self.aad(row.key()))
                .map(Some),
        }
    }

    fn delete<'a>(
        &'a self,
        key: SessionKey<'a>,
        expected: Option<&'a SessionRow>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let mut delete = self
                .client
                .delete_item()
                .table_name(&self.table)
                .set_key(Some(self.key(key)?));
            if let Some(token) = expected.and_then(|row| row.stored.as_deref()) {
                // A missing row is fine (already gone); a row holding another token is not ours.
                delete = delete
                    .condition_expression("attribute_not_exists(#pk) OR #t = :t")
                    .expression_attribute_names("#pk", &self.partition_key)
                    .expression_attribute_names("#t", TOKEN)
                    .expression_attribute_values(":t", AttributeValue::S(token.to_owned()));
            }
            delete
                .send()
                .await
                .map_err(|e| self.error("delete a session", e))?;
            Ok(())
        })
    }
}
