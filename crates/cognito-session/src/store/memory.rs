//! An in-memory [`SessionStore`] for tests, benchmarks and local development.

use std::collections::HashMap;
use std::sync::Mutex;

use super::{BoxFuture, Lease, Refreshed, SessionKey, SessionRow, SessionStore, StoreError};

fn owned(key: SessionKey<'_>) -> (String, Option<String>) {
    (key.sub.to_owned(), key.session.map(str::to_owned))
}

/// Rows in a `HashMap` behind a mutex; lost when the process ends.
///
/// ```
/// use cognito_session::store::{MemoryStore, SessionRow, SessionStore};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let store = MemoryStore::default();
/// store.put(&SessionRow::new("s", "rt", 1, None)).await.unwrap();
/// let key = cognito_session::store::SessionKey { sub: "s", session: None };
/// store.delete(key, None).await.unwrap();
/// assert!(store.get(key).await.unwrap().is_none());
/// # });
/// ```
#[derive(Debug, Default)]
pub struct MemoryStore {
    rows: Mutex<HashMap<(String, Option<String>), SessionRow>>,
}

impl MemoryStore {
    fn with<T>(
        &self,
        f: impl FnOnce(&mut HashMap<(String, Option<String>), SessionRow>) -> T,
    ) -> T {
        f(&mut self.rows.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl SessionStore for MemoryStore {
    fn get<'a>(
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

    fn put<'a>(&'a self, row: &'a SessionRow) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.with(|rows| rows.insert(owned(row.key()), row.clone()));
            Ok(())
        })
    }

    fn take_lease<'a>(
        &'a self,
        expected: &'a SessionRow,
        lease: &'a Lease,
        now_ms: i64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.with(|rows| match rows.get_mut(&owned(expected.key())) {
                Some(row)
                    if row.refresh_token == expected.refresh_token
                        && row.refreshed_at_ms == expected.refreshed_at_ms
                        && !row.lease.as_ref().is_some_and(|l| l.held_at(now_ms)) =>
                {
                    row.lease = Some(lease.clone());
                    Ok(())
                }
                _ => Err(StoreError::Conflict),
            })
        })
    }

    fn commit_refresh<'a>(
        &'a self,
        expected: &'a SessionRow,
        lease_id: Option<&'a str>,
        refreshed: Refreshed<'a>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.with(|rows| match rows.get_mut(&owned(expected.key())) {
                Some(row)
                    if row.refresh_token == expected.refresh_token
                        && lease_id
                            .is_none_or(|id| row.lease.as_ref().is_some_and(|l| l.id == id)) =>
                {
                    row.timestamp = refreshed.timestamp;
                    row.refreshed_at_ms = Some(refreshed.refreshed_at_ms);
                    row.lease = None;
                    if let Some(family) = refreshed.origin_jti {
                        row.origin_jti = Some(family.to_owned());
                    }
                    if let Some(token) = refreshed.refresh_token {
                        row.refresh_token = Some(super::StoredToken::new(token));
                        row.stored = Some(token.to_owned());
                    }
                    row.refreshed_token = refreshed.access_token.map(str::to_owned);
                    row.refreshed_from = refreshed.replaced.map(str::to_owned);
                    Ok(())
                }
                _ => Err(StoreError::Conflict),
            })
        })
    }

    fn touch<'a>(
        &'a self,
        expected: &'a SessionRow,
        now: i64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.with(|rows| match rows.get_mut(&owned(expected.key())) {
                Some(row) => {
                    row.last_seen = Some(now);
                    Ok(())
                }
                None => Err(StoreError::Conflict),
            })
        })
    }

    fn release_lease<'a>(
        &'a self,
        expected: &'a SessionRow,
        lease_id: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.with(|rows| match rows.get_mut(&owned(expected.key())) {
                Some(row) if row.lease.as_ref().is_some_and(|l| l.id == lease_id) => {
                    row.lease = None;
                    Ok(())
                }
                _ => Err(StoreError::Conflict),
            })
        })
    }

    fn delete<'a>(
        &'a self,
        key: SessionKey<'a>,
        expected: Option<&'a SessionRow>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.with(|rows| match (rows.get(&owned(key)), expected) {
                (None, _) => Ok(()),
                (Some(row), Some(expected)) if row.refresh_token != expected.refresh_token => {
                    Err(StoreError::Conflict)
                }
                _ => {
                    rows.remove(&owned(key));
                    Ok(())
                }
            })
        })
    }
}
