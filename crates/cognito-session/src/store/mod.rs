//! Where sessions live: the [`SessionStore`] trait (a compare-and-set record store), the
//! DynamoDB table and an in-memory store.
//!
//! A store knows records, not tokens or protocols: it never sees a JWT, never talks to Cognito,
//! never encrypts. It loads, lists, creates (or replaces), updates if the version matches and
//! deletes if the version matches; the refresh protocol (leases, commits, the join rule) and
//! sealing are built on top, once, for every store.
//!
//! ```
//! use cognito_session::store::{MemoryStore, Patch, SessionRow, SessionStore, Version, Write};
//!
//! # tokio_test(async {
//! let store = MemoryStore::default();
//! let mut row = SessionRow::new("user-sub", "refresh-token", 1_700_000_000, Some("family".into()));
//! row.version = Some(Version::new("v1"));
//! store.put(&row).await.unwrap();
//! assert_eq!(store.load(row.key()).await.unwrap(), Some(row.clone()));
//!
//! // An update names the version it expects, and the version it writes.
//! let mut patch = Patch::new(Some(Version::new("v2")));
//! patch.last_seen = Write::Set(1_700_000_060);
//! let updated = store.update(row.key(), Some(&Version::new("v1")), &patch).await.unwrap();
//! assert_eq!(updated.last_seen, Some(1_700_000_060));
//! // The same write again: the version moved on, and the conflict carries the current record.
//! let conflict = store.update(row.key(), Some(&Version::new("v1")), &patch).await.unwrap_err();
//! assert_eq!(conflict.current().and_then(|r| r.version.clone()), Some(Version::new("v2")));
//! # });
//! # fn tokio_test(f: impl std::future::Future<Output = ()>) {
//! #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
//! # }
//! ```

mod dynamodb;
mod memory;
mod record;
mod token;

use std::fmt;
use std::future::Future;
use std::pin::Pin;

pub use dynamodb::DynamoDbStore;
pub use memory::MemoryStore;
pub use record::{Patch, SessionKey, SessionRow, Version, Write};

use crate::error::BoxError;
pub use token::StoredToken;
pub(crate) use token::PREFIX;

/// A boxed future, so stores can be used as `dyn SessionStore`.
///
/// ```
/// use cognito_session::store::BoxFuture;
/// let answer: BoxFuture<'static, u8> = Box::pin(async { 42 });
/// # let _ = answer;
/// ```
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why a store operation failed.
///
/// ```
/// use cognito_session::store::{SessionRow, StoreError};
/// let gone = StoreError::Conflict(None);
/// assert!(gone.to_string().contains("changed"));
/// assert!(gone.current().is_none());
/// let changed = StoreError::Conflict(Some(Box::new(SessionRow::new("sub", "rt", 1, None))));
/// assert_eq!(changed.current().map(|r| r.sub.as_str()), Some("sub"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A conditional write found another version: the record as the store holds it now, or
    /// `None` when there is none. A failed write thus doubles as a read.
    #[error("the session record changed or was removed concurrently")]
    Conflict(Option<Box<SessionRow>>),
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

impl StoreError {
    /// For a [`Conflict`](Self::Conflict), the record the store holds now (`None` if it has
    /// none, or for other errors).
    pub fn current(&self) -> Option<&SessionRow> {
        match self {
            StoreError::Conflict(current) => current.as_deref(),
            _ => None,
        }
    }
}

/// A place to keep session records: a compare-and-set store. Implement it to put sessions
/// somewhere else; [`Sessions::builder().store(...)`](crate::SessionsBuilder::store) takes it.
///
/// Every record carries a [`Version`] (or none: rows written by the seed, or by versions of this
/// library up to 0.1, have none, and "no version" is a version a condition can expect). The
/// session code chooses every version it writes; the store only compares and stores them:
///
/// - [`update`](Self::update) and [`delete`](Self::delete) act only when the record's version is
///   the expected one (`None`: the record has no version). Otherwise they change nothing and
///   return [`StoreError::Conflict`] with the record as it is now, atomically with the check.
/// - Writes of the same key are linearizable: of N concurrent updates expecting the same
///   version, exactly one succeeds.
///
/// The conformance suite (`tests/it/store_conformance.rs` in the repository) checks these rules
/// against any implementation.
///
/// ```
/// use cognito_session::store::{MemoryStore, SessionStore};
/// let store: std::sync::Arc<dyn SessionStore> = std::sync::Arc::new(MemoryStore::default());
/// # let _ = store;
/// ```
pub trait SessionStore: Send + Sync + fmt::Debug {
    /// The record at `key`, if there is one (a strongly consistent read).
    fn load<'a>(
        &'a self,
        key: SessionKey<'a>,
    ) -> BoxFuture<'a, Result<Option<SessionRow>, StoreError>>;

    /// Every record of user `sub` (one per device with a sort key; at most one without).
    fn list<'a>(&'a self, sub: &'a str) -> BoxFuture<'a, Result<Vec<SessionRow>, StoreError>>;

    /// Writes `record`, creating it or replacing any record with the same key (a new login),
    /// version included.
    fn put<'a>(&'a self, record: &'a SessionRow) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Applies `patch` (see [`Patch::apply`]) to the record at `key` if its version is
    /// `expected`, and returns the record as written. A missing record or another version is
    /// [`StoreError::Conflict`] carrying the current record (`None` if missing).
    fn update<'a>(
        &'a self,
        key: SessionKey<'a>,
        expected: Option<&'a Version>,
        patch: &'a Patch,
    ) -> BoxFuture<'a, Result<SessionRow, StoreError>>;

    /// Deletes the record at `key` if its version is `expected`. A missing record is not an
    /// error (it is gone either way); another version is [`StoreError::Conflict`] carrying the
    /// current record.
    fn delete<'a>(
        &'a self,
        key: SessionKey<'a>,
        expected: Option<&'a Version>,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Like [`update`](Self::update), if the record's version is any of `expected` (`None` in
    /// it: also a record without a version). The refresh's first write uses it: it expects the
    /// version its token's login gave the row, or none (a row written by the seed), so that
    /// either costs one write.
    ///
    /// Provided: one [`update`](Self::update) per version a conflict shows, so a store that
    /// implements only the five methods above stays correct (each write is still a
    /// compare-and-set), at one more write for a row without a version. Both built-in stores
    /// check the whole list in one write; a store that can should do the same.
    ///
    /// ```
    /// use cognito_session::store::{MemoryStore, Patch, SessionRow, SessionStore, Version};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let store = MemoryStore::default();
    /// let seed = SessionRow::new("user-sub", "refresh-token", 1_700_000_000, None);
    /// store.put(&seed).await.unwrap();
    /// // Either version 'v1' or none: the seed's row has none.
    /// let expected = [Some(Version::new("v1")), None];
    /// let patch = Patch::new(Some(Version::new("v2")));
    /// let written = store.update_any(seed.key(), &expected, &patch).await.unwrap();
    /// assert_eq!(written.version, Some(Version::new("v2")));
    /// // Now at 'v2', which is not expected: a conflict carrying the record.
    /// assert!(store.update_any(seed.key(), &expected, &patch).await.is_err());
    /// # });
    /// ```
    fn update_any<'a>(
        &'a self,
        key: SessionKey<'a>,
        expected: &'a [Option<Version>],
        patch: &'a Patch,
    ) -> BoxFuture<'a, Result<SessionRow, StoreError>> {
        Box::pin(async move {
            let Some(mut next) = expected.first() else {
                let current = self.load(key).await?;
                return Err(StoreError::Conflict(current.map(Box::new)));
            };
            let mut tries = expected.len();
            loop {
                match self.update(key, next.as_ref(), patch).await {
                    Err(StoreError::Conflict(Some(current))) if tries > 1 => {
                        match expected.iter().find(|v| **v == current.version) {
                            Some(version) => next = version,
                            None => return Err(StoreError::Conflict(Some(current))),
                        }
                        tries -= 1;
                    }
                    other => return other,
                }
            }
        })
    }
}

/// A shared store is a store, so the code that builds [`Sessions`](crate::Sessions) can keep a
/// handle on it.
///
/// ```
/// use std::sync::Arc;
/// use cognito_session::store::{MemoryStore, SessionStore};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let store = Arc::new(MemoryStore::default());
/// let builder = cognito_session::Sessions::builder().store(store.clone());
/// assert!(store.list("sub").await.unwrap().is_empty());
/// # let _ = builder;
/// # });
/// ```
impl<S: SessionStore + ?Sized> SessionStore for std::sync::Arc<S> {
    fn load<'a>(
        &'a self,
        key: SessionKey<'a>,
    ) -> BoxFuture<'a, Result<Option<SessionRow>, StoreError>> {
        (**self).load(key)
    }

    fn list<'a>(&'a self, sub: &'a str) -> BoxFuture<'a, Result<Vec<SessionRow>, StoreError>> {
        (**self).list(sub)
    }

    fn put<'a>(&'a self, record: &'a SessionRow) -> BoxFuture<'a, Result<(), StoreError>> {
        (**self).put(record)
    }

    fn update<'a>(
        &'a self,
        key: SessionKey<'a>,
        expected: Option<&'a Version>,
        patch: &'a Patch,
    ) -> BoxFuture<'a, Result<SessionRow, StoreError>> {
        (**self).update(key, expected, patch)
    }

    fn delete<'a>(
        &'a self,
        key: SessionKey<'a>,
        expected: Option<&'a Version>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        (**self).delete(key, expected)
    }

    fn update_any<'a>(
        &'a self,
        key: SessionKey<'a>,
        expected: &'a [Option<Version>],
        patch: &'a Patch,
    ) -> BoxFuture<'a, Result<SessionRow, StoreError>> {
        (**self).update_any(key, expected, patch)
    }
}
