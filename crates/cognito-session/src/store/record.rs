//! The record a [`SessionStore`](super::SessionStore) keeps, its key, its version, and the
//! patch an update applies.

use std::fmt;

use super::StoredToken;

/// One session: the seed's row (`sub`, `token`, `timestamp`) plus the token family, the
/// session's lifetime, the refresh protocol's attributes and a version.
///
/// A store keeps every field as given and interprets none but [`version`](Self::version).
///
/// ```
/// use cognito_session::store::SessionRow;
/// let row = SessionRow::new("sub", "secret-refresh-token", 1, None);
/// // Debug output never shows the refresh token.
/// assert!(!format!("{row:?}").contains("secret"));
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionRow {
    /// The user's `sub` (the partition key).
    pub sub: String,
    /// The session id (the sort key value, the login's `origin_jti`) when the table has a sort
    /// key (`SORT_KEY`), one row per device; `None` for the seed's one-row-per-user table.
    pub session_id: Option<String>,
    /// The refresh token (`token` attribute) as stored: sealed when encryption at rest is on,
    /// and never decrypted by reading the row. `None` if the row lacks it.
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
    /// The access token the last refresh produced (`refreshed_token`), as stored: sealed like
    /// the refresh token when encryption is on. A secret: a request that raced that refresh is
    /// answered with it. Never shown by `Debug`, and cleared in what
    /// [`Sessions::list`](crate::Sessions::list) returns.
    pub refreshed_token: Option<String>,
    /// Which access token the last refresh replaced (`refreshed_from`): base64url of its
    /// SHA-256. Only a request presenting that very token may join the refresh.
    pub refreshed_from: Option<String>,
    /// The id of the request holding the refresh lease (`lease_id`), while one request
    /// refreshes the session for all others.
    pub lease_id: Option<String>,
    /// When that lease lapses, epoch milliseconds (`lease_until`).
    pub lease_until_ms: Option<i64>,
    /// The login's device key (`device_key` attribute), in a user pool that tracks devices:
    /// every refresh sends it as `DEVICE_KEY`. Absent on other rows, and on rows written by the
    /// seed.
    pub device_key: Option<String>,
    /// The user's profile from the login's latest ID token (`profile` attribute): a JSON
    /// object, sealed like the refresh token when encryption is on. Absent on rows written
    /// without an ID token, by the seed, or by earlier versions of this library.
    pub profile: Option<String>,
    /// The record's version (`version` attribute), chosen by the session code on every write;
    /// `None` on rows written by the seed or by earlier versions of this library.
    pub version: Option<Version>,
}

impl SessionRow {
    /// A row for a fresh login, stored as given (no version, nothing sealed).
    ///
    /// ```
    /// use cognito_session::store::SessionRow;
    /// let row = SessionRow::new("sub", "rt", 1_700_000_000, Some("fam".into()));
    /// assert_eq!(row.refresh_token.as_ref().map(|t| t.expose_secret()), Some("rt"));
    /// assert!(row.version.is_none());
    /// ```
    pub fn new(
        sub: impl Into<String>,
        refresh_token: impl Into<String>,
        timestamp: i64,
        origin_jti: Option<String>,
    ) -> Self {
        SessionRow {
            sub: sub.into(),
            session_id: None,
            refresh_token: Some(StoredToken::new(refresh_token)),
            timestamp,
            origin_jti,
            username: None,
            expires_at: None,
            last_seen: None,
            refreshed_at_ms: None,
            refreshed_token: None,
            refreshed_from: None,
            lease_id: None,
            lease_until_ms: None,
            device_key: None,
            profile: None,
            version: None,
        }
    }

    /// An empty record at `key` (no refresh token, timestamp 0), for stores building a record
    /// attribute by attribute.
    ///
    /// ```
    /// use cognito_session::store::{SessionKey, SessionRow};
    /// let row = SessionRow::at(SessionKey { sub: "s", session: Some("device") });
    /// assert_eq!(row.session_id.as_deref(), Some("device"));
    /// assert!(row.refresh_token.is_none());
    /// ```
    pub fn at(key: SessionKey<'_>) -> Self {
        let mut row = SessionRow::new(key.sub, "", 0, None);
        row.refresh_token = None;
        row.session_id = key.session.map(str::to_owned);
        row
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

    /// The row for display: its refresh token [withheld](StoredToken::withheld), the last
    /// refresh's access token removed.
    pub(crate) fn withheld(mut self) -> Self {
        self.refreshed_token = None;
        self.refresh_token = self.refresh_token.as_ref().map(StoredToken::withheld);
        self
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
            .field("lease_id", &self.lease_id)
            .field("lease_until_ms", &self.lease_until_ms)
            .field("device_key", &self.device_key)
            .field("profile", &self.profile.as_ref().map(|_| "<withheld>"))
            .field("version", &self.version)
            .finish()
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

/// A record's version: an opaque string the session code chooses on every write (and a store
/// compares, never interprets). Not a secret.
///
/// ```
/// use cognito_session::store::Version;
/// let version = Version::new("Jx3f");
/// assert_eq!(version.as_str(), "Jx3f");
/// assert_eq!(version, Version::new("Jx3f"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Version(String);

impl Version {
    /// The version `value`.
    pub fn new(value: impl Into<String>) -> Self {
        Version(value.into())
    }

    /// The version as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What an update does to one attribute.
///
/// ```
/// use cognito_session::store::Write;
/// let mut last_seen = Some(5);
/// Write::Set(9).apply(&mut last_seen);
/// assert_eq!(last_seen, Some(9));
/// Write::<i64>::Remove.apply(&mut last_seen);
/// assert_eq!(last_seen, None);
/// Write::<i64>::Keep.apply(&mut last_seen);
/// assert_eq!(last_seen, None);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Write<T> {
    /// Leave the attribute as it is.
    #[default]
    Keep,
    /// Store this value.
    Set(T),
    /// Remove the attribute.
    Remove,
}

impl<T: Clone> Write<T> {
    /// Applies this write to `field`.
    pub fn apply(&self, field: &mut Option<T>) {
        match self {
            Write::Keep => {}
            Write::Set(value) => *field = Some(value.clone()),
            Write::Remove => *field = None,
        }
    }
}

/// The attributes an update writes; every other attribute is left as it is. The version is
/// always written (`None`: the record has no version afterwards).
///
/// ```
/// use cognito_session::store::{Patch, SessionRow, Version, Write};
/// let mut patch = Patch::new(Some(Version::new("lease.a1")));
/// patch.lease_id = Write::Set("a1".into());
/// patch.lease_until_ms = Write::Set(1_700_000_003_000);
/// let mut row = SessionRow::new("sub", "rt", 1, None);
/// patch.apply(&mut row);
/// assert_eq!(row.lease_id.as_deref(), Some("a1"));
/// assert_eq!(row.version, Some(Version::new("lease.a1")));
/// assert_eq!(row.timestamp, 1, "kept");
/// // Debug output never shows a token.
/// patch.refreshed_token = Write::Set("eyJ.new-access-token".into());
/// assert!(!format!("{patch:?}").contains("new-access-token"));
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Patch {
    /// The version the record has afterwards.
    pub version: Option<Version>,
    /// `token` (as stored: sealed by the session code when encryption is on).
    pub refresh_token: Write<StoredToken>,
    /// `timestamp` (`Remove` is ignored: every record has one).
    pub timestamp: Write<i64>,
    /// `origin_jti`.
    pub origin_jti: Write<String>,
    /// `last_seen`.
    pub last_seen: Write<i64>,
    /// `refreshed_at`.
    pub refreshed_at_ms: Write<i64>,
    /// `refreshed_token` (as stored).
    pub refreshed_token: Write<String>,
    /// `refreshed_from`.
    pub refreshed_from: Write<String>,
    /// `lease_id`.
    pub lease_id: Write<String>,
    /// `lease_until`.
    pub lease_until_ms: Write<i64>,
    /// `profile` (as stored).
    pub profile: Write<String>,
}

impl Patch {
    /// A patch that writes `version` and leaves every other attribute as it is.
    pub fn new(version: Option<Version>) -> Self {
        Patch {
            version,
            ..Patch::default()
        }
    }

    /// Applies the patch to `record` (what [`SessionStore::update`](super::SessionStore::update)
    /// does once the version matched).
    pub fn apply(&self, record: &mut SessionRow) {
        record.version = self.version.clone();
        self.refresh_token.apply(&mut record.refresh_token);
        if let Write::Set(timestamp) = self.timestamp {
            record.timestamp = timestamp;
        }
        self.origin_jti.apply(&mut record.origin_jti);
        self.last_seen.apply(&mut record.last_seen);
        self.refreshed_at_ms.apply(&mut record.refreshed_at_ms);
        self.refreshed_token.apply(&mut record.refreshed_token);
        self.refreshed_from.apply(&mut record.refreshed_from);
        self.lease_id.apply(&mut record.lease_id);
        self.lease_until_ms.apply(&mut record.lease_until_ms);
        self.profile.apply(&mut record.profile);
    }
}

impl fmt::Debug for Patch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = |w: &Write<String>| match w {
            Write::Set(_) => Write::Set("<redacted>"),
            Write::Keep => Write::Keep,
            Write::Remove => Write::Remove,
        };
        f.debug_struct("Patch")
            .field("version", &self.version)
            .field("refresh_token", &self.refresh_token)
            .field("timestamp", &self.timestamp)
            .field("origin_jti", &self.origin_jti)
            .field("last_seen", &self.last_seen)
            .field("refreshed_at_ms", &self.refreshed_at_ms)
            .field("refreshed_token", &redacted(&self.refreshed_token))
            .field("refreshed_from", &self.refreshed_from)
            .field("lease_id", &self.lease_id)
            .field("lease_until_ms", &self.lease_until_ms)
            .field("profile", &redacted(&self.profile))
            .finish()
    }
}
