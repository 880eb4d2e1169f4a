//! Where sessions live: the [`SessionStore`] trait, the DynamoDB table and an in-memory store.
//!
//! A store knows rows, not tokens: it never sees a JWT and never talks to Cognito.
//!
//! ```
//! use cognito_session::store::{MemoryStore, SessionRow, SessionStore};
//!
//! # tokio_test(async {
//! let store = MemoryStore::default();
//! let row = SessionRow::new("user-sub", "refresh-token", 1_700_000_000, Some("family".into()));
//! store.put(&row).await.unwrap();
//! assert_eq!(store.get(row.key()).await.unwrap(), Some(row));
//! # });
//! # fn tokio_test(f: impl std::future::Future<Output = ()>) {
//! #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
//! # }
//! ```

mod dynamodb;
mod memory;
mod seal;

use std::fmt;
use std::future::Future;
use std::pin::Pin;

pub use dynamodb::DynamoDbStore;
pub use memory::MemoryStore;
#[cfg(feature = "kms")]
pub(crate) use seal::kms_data_key;
pub(crate) use seal::parse_key;
pub use seal::{Opened, SealError, Sealer, StoredToken};

use crate::error::BoxError;

/// A boxed future, so stores can be used as `dyn SessionStore`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One session: the seed's row (`sub`, `token`, `timestamp`) plus the token family.
///
/// ```
/// use cognito_session::store::SessionRow;
/// let row = SessionRow::new("sub", "secret-refresh-token", 1, None);
/// // Debug output never shows the refresh token.
/// assert!(!format!("{row:?}").contains("secret"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct SessionRow {
    /// The user's `sub` (the partition key).
    pub sub: String,
    /// The session id (the sort key value, the login's `origin_jti`) when the table has a sort
    /// key (`SORT_KEY`), one row per device; `None` for the seed's one-row-per-user table.
    pub session_id: Option<String>,
    /// The refresh token (`token` attribute) as stored: sealed when the store encrypts at rest,
    /// and never decrypted by reading the row (see [`SessionStore::reveal`]). `None` if the row
    /// lacks it.
    pub refresh_token: Option<StoredToken>,
    /// Seconds since the epoch of the last login or refresh (`timestamp` attribute).
    pub timestamp: i64,
    /// The token family (`origin_jti` attribute); absent on rows written by the seed.
    pub origin_jti: Option<String>,
    /// Cognito's username of the user (`username` attribute), for calls that need it.
    pub username: Option<String>,
    /// End of the session's absolute lifetime, epoch seconds (`expires_at`, the table's TTL
    /// attribute). The library enforces it: DynamoDB deletes expired rows only lazily.
    pub expires_at: Option<i64>,
    /// Last activity recorded by a throttled "touch", epoch seconds (`last_seen`); used with an
    /// idle timeout. Absent: the row's `timestamp` counts.
    pub last_seen: Option<i64>,
    /// When the last refresh of this session completed, epoch milliseconds (`refreshed_at`).
    /// Requests waiting for a refresh learn its outcome from it.
    pub refreshed_at_ms: Option<i64>,
    /// The access token the last refresh produced (`refreshed_token`; encrypted like the refresh
    /// token when the store encrypts). A secret: a request that raced that refresh is answered
    /// with it. Never shown by `Debug`, and cleared in what
    /// [`Sessions::list`](crate::Sessions::list) returns.
    pub refreshed_token: Option<String>,
    /// Which access token the last refresh replaced (`refreshed_from`): base64url of its
    /// SHA-256. Only a request presenting that very token may join the refresh.
    pub refreshed_from: Option<String>,
    /// The refresh lease, while one request refreshes the session for all others.
    pub lease: Option<Lease>,
    /// The login's device key (`device_key` attribute), in a user pool that tracks devices:
    /// every refresh sends it as `DEVICE_KEY`. Absent on other rows, and on rows written by the
    /// seed.
    pub device_key: Option<String>,
    /// The `token` attribute exactly as stored (encrypted or not), for conditional writes.
    pub(crate) stored: Option<String>,
    /// The stored token is plaintext or under an old key (known from its key id, without
    /// decrypting): re-encrypt it on the next write.
    pub(crate) reseal: bool,
}

impl SessionRow {
    /// A row for a fresh login.
    ///
    /// ```
    /// use cognito_session::store::SessionRow;
    /// let row = SessionRow::new("sub", "rt", 1_700_000_000, Some("fam".into()));
    /// assert_eq!(row.refresh_token.as_ref().map(|t| t.expose_secret()), Some("rt"));
    /// ```
    pub fn new(
        sub: impl Into<String>,
        refresh_token: impl Into<String>,
        timestamp: i64,
        origin_jti: Option<String>,
    ) -> Self {
        let refresh_token = refresh_token.into();
        SessionRow {
            sub: sub.into(),
            session_id: None,
            stored: Some(refresh_token.clone()),
            refresh_token: Some(StoredToken::new(refresh_token)),
            timestamp,
            origin_jti,
            username: None,
            expires_at: None,
            last_seen: None,
            refreshed_at_ms: None,
            refreshed_token: None,
            refreshed_from: None,
            lease: None,
            device_key: None,
            reseal: false,
        }
    }
}

/// Which row: the user's `sub`, and the session id when the table has a sort key.
///
/// ```
/// use cognito_session::store::SessionKey;
/// let key = SessionKey { sub: "user", session: Some("device-family") };
/// assert_eq!(key.sub, "user");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionKey<'a> {
    /// The partition key value.
    pub sub: &'a str,
    /// The sort key value, if the table has one.
    pub session: Option<&'a str>,
}

impl SessionRow {
    /// The row for display: its refresh token [withheld](StoredToken::withheld).
    pub(crate) fn withheld(mut self) -> Self {
        self.refreshed_token = None;
        self.refresh_token = self.refresh_token.as_ref().map(StoredToken::withheld);
        self.stored = self
            .refresh_token
            .as_ref()
            .map(|t| t.expose_secret().to_owned());
        self
    }

    /// This row's key.
    ///
    /// ```
    /// use cognito_session::store::SessionRow;
    /// assert_eq!(SessionRow::new("s", "rt", 0, None).key().sub, "s");
    /// ```
    pub fn key(&self) -> SessionKey<'_> {
        SessionKey {
            sub: &self.sub,
            session: self.session_id.as_deref(),
        }
    }
}

/// A short lease on a session row: only its holder calls Cognito to refresh the session.
///
/// ```
/// let lease = cognito_session::store::Lease { id: "a1b2".into(), until_ms: 1_700_000_003_000 };
/// assert!(lease.held_at(1_700_000_002_000));
/// assert!(!lease.held_at(1_700_000_003_001));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// Random id of the holder.
    pub id: String,
    /// When it lapses, epoch milliseconds (a crashed holder's lease lapses by itself).
    pub until_ms: i64,
}

impl Lease {
    /// Whether the lease is still held at `now_ms`.
    pub fn held_at(&self, now_ms: i64) -> bool {
        now_ms <= self.until_ms
    }
}

/// What a completed refresh writes into the row.
///
/// ```
/// use cognito_session::store::Refreshed;
/// let refreshed = Refreshed {
///     timestamp: 1_700_000_000,
///     refreshed_at_ms: 1_700_000_000_000,
///     origin_jti: Some("family"),
///     refresh_token: None,
///     access_token: Some("eyJ.new-access-token"),
///     replaced: Some("hash-of-the-expired-token"),
/// };
/// // Debug output never shows a token.
/// assert!(!format!("{refreshed:?}").contains("new-access-token"));
/// ```
#[derive(Clone, Copy)]
pub struct Refreshed<'a> {
    /// `timestamp`, epoch seconds.
    pub timestamp: i64,
    /// `refreshed_at`, epoch milliseconds.
    pub refreshed_at_ms: i64,
    /// The token family, to bind a seed row to its login.
    pub origin_jti: Option<&'a str>,
    /// A new refresh token, when Cognito rotated it.
    pub refresh_token: Option<&'a str>,
    /// The access token this refresh produced, stored as `refreshed_token` (a secret: encrypt it
    /// like the refresh token). `None`: nobody may join this refresh; remove any earlier one.
    pub access_token: Option<&'a str>,
    /// Which token this refresh replaced (base64url of its SHA-256), stored as
    /// `refreshed_from`; `None` together with `access_token`.
    pub replaced: Option<&'a str>,
}

impl fmt::Debug for Refreshed<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = |value: Option<&str>| value.map(|_| "<redacted>");
        f.debug_struct("Refreshed")
            .field("timestamp", &self.timestamp)
            .field("refreshed_at_ms", &self.refreshed_at_ms)
            .field("origin_jti", &self.origin_jti)
            .field("refresh_token", &redacted(self.refresh_token))
            .field("access_token", &redacted(self.access_token))
            .field("replaced", &self.replaced)
            .finish()
    }
}

impl fmt::Debug for SessionRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionRow")
            .field("sub", &self.sub)
            .field("session_id", &self.session_id)
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "<redacted>"),
            )
            .field("timestamp", &self.timestamp)
            .field("origin_jti", &self.origin_jti)
            .field("username", &self.username)
            .field("expires_at", &self.expires_at)
            .field("last_seen", &self.last_seen)
            .field("refreshed_at_ms", &self.refreshed_at_ms)
            .field(
                "refreshed_token",
                &self.refreshed_token.as_ref().map(|_| "<redacted>"),
            )
            .field("refreshed_from", &self.refreshed_from)
            .field("lease", &self.lease)
            .field("device_key", &self.device_key)
            .finish()
    }
}

/// Why a store operation failed.
///
/// ```
/// use cognito_session::store::StoreError;
/// assert!(StoreError::Conflict.to_string().contains("changed"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A conditional write found the row changed or gone.
    #[error("the session row changed or was removed concurrently")]
    Conflict,
    /// The store is misconfigured (missing table, wrong key name, no permission).
    #[error("{message}")]
    Config {
        /// What to fix.
        message: String,
        /// The underlying failure.
        #[source]
        source: Option<BoxError>,
    },
    /// A transient failure (network, throttling, 5xx, timeout).
    #[error("the session store is unavailable")]
    Unavailable(#[source] BoxError),
}

/// A place to keep session rows. Implement it to put sessions somewhere else.
///
/// Every write is conditional, so concurrent requests never clobber each other's work.
///
/// ```
/// use cognito_session::store::{MemoryStore, SessionStore};
/// let store: std::sync::Arc<dyn SessionStore> = std::sync::Arc::new(MemoryStore::default());
/// # let _ = store;
/// ```
pub trait SessionStore: Send + Sync + fmt::Debug {
    /// The row for `key`, if there is one.
    fn get<'a>(
        &'a self,
        key: SessionKey<'a>,
    ) -> BoxFuture<'a, Result<Option<SessionRow>, StoreError>>;

    /// Every row of user `sub` (one per device with a sort key; at most one without).
    fn list<'a>(&'a self, sub: &'a str) -> BoxFuture<'a, Result<Vec<SessionRow>, StoreError>>;

    /// Writes `row`, replacing any row with the same key (a new login).
    fn put<'a>(&'a self, row: &'a SessionRow) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Takes `lease` on `row` (as read by [`get`](Self::get)) if no other lease is held at
    /// `now_ms` and the row still holds the same refresh token. [`StoreError::Conflict`] otherwise.
    fn take_lease<'a>(
        &'a self,
        row: &'a SessionRow,
        lease: &'a Lease,
        now_ms: i64,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Records the refresh done under lease `lease_id` and releases the lease, only if the lease
    /// is still ours and the row still holds the refresh token of `row`.
    ///
    /// With `lease_id` `None`, only if the row still holds the refresh token of `row`, whoever
    /// holds the lease now (which is removed): a refresh whose lease was lost while Cognito
    /// rotated the refresh token must still store the new one, the old one being dead.
    fn commit_refresh<'a>(
        &'a self,
        row: &'a SessionRow,
        lease_id: Option<&'a str>,
        refreshed: Refreshed<'a>,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Records activity: sets `last_seen` to `now` (epoch seconds) if the row still exists.
    fn touch<'a>(&'a self, row: &'a SessionRow, now: i64) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Gives up lease `lease_id` without a refresh (the refresh failed transiently).
    fn release_lease<'a>(
        &'a self,
        row: &'a SessionRow,
        lease_id: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// The plaintext refresh token of `row` (read by [`get`](Self::get)), decrypted if this
    /// store encrypts at rest; `None` if the row has none. The library calls it only at the
    /// moment it sends the token to Cognito (a refresh, a logout's `RevokeToken`), never to
    /// authorize a valid token, so a row whose key is missing still serves its valid tokens.
    ///
    /// The default, for stores that keep tokens as given: the stored value, except that a
    /// sealed value (`enc:v1:…`, which no Cognito token looks like) is refused with
    /// [`SealError::NoKey`] rather than sent to Cognito.
    ///
    /// ```
    /// use cognito_session::store::{MemoryStore, SealError, SessionRow, SessionStore, StoredToken};
    /// let store = MemoryStore::default();
    /// let row = SessionRow::new("sub", "rt", 1, None);
    /// assert_eq!(store.reveal(&row).unwrap().unwrap().token, "rt");
    /// let mut sealed = row.clone();
    /// sealed.refresh_token = Some(StoredToken::new("enc:v1:0a1b2c3d:AAAA"));
    /// assert_eq!(store.reveal(&sealed), Err(SealError::NoKey("0a1b2c3d".into())));
    /// ```
    fn reveal(&self, row: &SessionRow) -> Result<Option<Opened>, SealError> {
        row.refresh_token
            .as_ref()
            .map(StoredToken::reveal_unsealed)
            .transpose()
    }

    /// Deletes the row for `key`; when `expected` (a row read by [`get`](Self::get)) is given,
    /// only if the stored row still holds its refresh token. Deleting a missing row is not an
    /// error; a changed row is [`StoreError::Conflict`].
    fn delete<'a>(
        &'a self,
        key: SessionKey<'a>,
        expected: Option<&'a SessionRow>,
    ) -> BoxFuture<'a, Result<(), StoreError>>;
}
