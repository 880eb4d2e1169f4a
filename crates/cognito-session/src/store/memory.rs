//! An in-memory [`SessionStore`] for tests, benchmarks and local development.

use std::collections::HashMap;
use std::sync::Mutex;

use super::{BoxFuture, Patch, SessionKey, SessionRow, SessionStore, StoreError, Version};

type Rows = HashMap<(String, Option<String>), SessionRow>;

fn owned(key: SessionKey<'_>) -> (String, Option<String>) {
    (key.sub.to_owned(), key.session.map(str::to_owned))
}

/// Rows in a `HashMap` behind a mutex; lost when the process ends. Each operation holds the
/// mutex throughout, so every compare-and-set is atomic.
///
/// ```
/// use cognito_session::store::{MemoryStore, SessionKey, SessionRow, SessionStore};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let store = MemoryStore::default();
/// store.put(&SessionRow::new("s", "rt", 1, None)).await.unwrap();
/// let key = SessionKey { sub: "s", session: None };
/// // The row has no version: "no version" is what the delete expects.
/// store.delete(key, None).await.unwrap();
/// assert!(store.load(key).await.unwrap().is_none());
/// # });
/// ```
#[derive(Debug, Default)]
pub struct MemoryStore {
    rows: Mutex<Rows>,
}

impl MemoryStore {
    fn with<T>(&self, f: impl FnOnce(&mut Rows) -> T) -> T {
        f(&mut self.rows.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Applies `patch` to the record at `key` if `expected` accepts its version.
    fn apply(
        &self,
        key: SessionKey<'_>,
        expected: impl Fn(Option<&Version>) -> bool,
        patch: &Patch,
    ) -> Result<SessionRow, StoreError> {
        self.with(|rows| match rows.get_mut(&owned(key)) {
            Some(row) if expected(row.version.as_ref()) => {
                patch.apply(row);
                Ok(row.clone())
            }
            current => Err(StoreError::Conflict(current.map(|r| Box::new(r.clone())))),
        })
    }
}

impl SessionStore for MemoryStore {
    fn load<'a>(
        &'a self,
        key: SessionKey<'a>,
    ) -> BoxFuture<'a, Result<Option<SessionRow>, StoreError>> {
        Box::pin(async move { Ok(self.with(|rows| rows.get(&owned(key)).cloned())) })
    }

    fn list<'a>(&'a self, sub: &'a str) -> BoxFuture<'a, Result<Vec<SessionRow>, StoreError>> {
        Box::pin(async move {
            Ok(self.with(|rows| rows.values().filter(|r| r.sub == sub).cloned().collect()))
        })
    }

    fn put<'a>(&'a self, record: &'a SessionRow) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.with(|rows| rows.insert(owned(record.key()), record.clone()));
            Ok(())
        })
    }

    fn update<'a>(
        &'a self,
        key: SessionKey<'a>,
        expected: Option<&'a Version>,
        patch: &'a Patch,
    ) -> BoxFuture<'a, Result<SessionRow, StoreError>> {
        Box::pin(async move { self.apply(key, |v| v == expected, patch) })
    }

    fn update_any<'a>(
        &'a self,
        key: SessionKey<'a>,
        expected: &'a [Option<Version>],
        patch: &'a Patch,
    ) -> BoxFuture<'a, Result<SessionRow, StoreError>> {
        Box::pin(
            async move { self.apply(key, |v| expected.iter().any(|e| e.as_ref() == v), patch) },
        )
    }

    fn delete<'a>(
        &'a self,
        key: SessionKey<'a>,
        expected: Option<&'a Version>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.with(|rows| match rows.get(&owned(key)) {
                None => Ok(()),
                Some(row) if row.version.as_ref() == expected => {
                    rows.remove(&owned(key));
                    Ok(())
                }
                Some(row) => Err(StoreError::Conflict(Some(Box::new(row.clone())))),
            })
        })
    }
}
