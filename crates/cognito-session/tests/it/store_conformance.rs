//! The store conformance suite: one set of rules, run against every store the library ships
//! (the memory store, and the DynamoDB store on moto with the seed's table layout and with a
//! sort key). A custom [`SessionStore`] can be checked the same way: each rule is an `async fn`
//! taking any store.
//!
//! The refresh protocol relies on exactly these rules: an update or delete acts only at the
//! expected version ("no version" included; `update_any`: at any of a list of them), a failed
//! condition changes nothing and returns the record as it is, and of concurrent writers
//! expecting one version exactly one wins. `five_methods` is a store that implements only the
//! required methods: the provided `update_any` obeys the rules too.

use std::sync::Arc;

use cognito_session::store::{
    BoxFuture, DynamoDbStore, MemoryStore, Patch, SessionKey, SessionRow, SessionStore, StoreError,
    StoredToken, Version, Write,
};
use testkit::{Pool, PoolOptions};

/// A store under test, and whether its keys carry a session id (a sort key).
pub struct Subject {
    pub store: Arc<dyn SessionStore>,
    pub per_device: bool,
}

impl Subject {
    fn key<'a>(&self, sub: &'a str, device: &'a str) -> SessionKey<'a> {
        SessionKey {
            sub,
            session: self.per_device.then_some(device),
        }
    }

    /// A record at `key` with every attribute set, at `version`.
    fn record(&self, key: SessionKey<'_>, token: &str, version: Option<&str>) -> SessionRow {
        let mut row = SessionRow::at(key);
        row.refresh_token = Some(StoredToken::new(token));
        row.timestamp = 1_700_000_000;
        row.origin_jti = Some("family".into());
        row.username = Some("user".into());
        row.expires_at = Some(1_800_000_000);
        row.last_seen = Some(1_700_000_010);
        row.device_key = Some("us-east-1_device".into());
        row.profile = Some(r#"{"email":"a@example.com"}"#.into());
        row.version = version.map(Version::new);
        row
    }
}

fn v(version: &str) -> Version {
    Version::new(version)
}

fn touch(version: Option<&str>, last_seen: i64) -> Patch {
    let mut patch = Patch::new(version.map(Version::new));
    patch.last_seen = Write::Set(last_seen);
    patch
}

/// The current record a conflict carries (panics on any other outcome).
fn conflict<T: std::fmt::Debug>(result: Result<T, StoreError>) -> Option<SessionRow> {
    match result {
        Err(StoreError::Conflict(current)) => current.map(|r| *r),
        other => panic!("expected a conflict, got {other:?}"),
    }
}

pub async fn create_replaces_and_load_returns_what_was_put(s: &Subject) {
    let key = s.key("create", "a");
    assert_eq!(s.store.load(key).await.unwrap(), None, "nothing yet");
    let first = s.record(key, "rt-1", Some("v1"));
    s.store.put(&first).await.unwrap();
    assert_eq!(s.store.load(key).await.unwrap().as_ref(), Some(&first));
    // A new login replaces the record, whatever its version (and attributes it lacks go).
    let mut second = SessionRow::at(key);
    second.refresh_token = Some(StoredToken::new("rt-2"));
    second.timestamp = 1_700_000_100;
    s.store.put(&second).await.unwrap();
    assert_eq!(s.store.load(key).await.unwrap(), Some(second));
}

pub async fn update_at_the_right_version_applies_the_patch_and_returns_the_record(s: &Subject) {
    let key = s.key("update-right", "a");
    let row = s.record(key, "rt", Some("v1"));
    s.store.put(&row).await.unwrap();
    let mut patch = Patch::new(Some(v("v2")));
    patch.refresh_token = Write::Set(StoredToken::new("rt-rotated"));
    patch.timestamp = Write::Set(1_700_000_500);
    patch.refreshed_at_ms = Write::Set(1_700_000_500_000);
    patch.refreshed_token = Write::Set("access".into());
    patch.refreshed_from = Write::Set("hash".into());
    patch.lease_id = Write::Set("lease".into());
    patch.lease_until_ms = Write::Set(1_700_000_503_000);
    patch.profile = Write::Set(r#"{"email":"b@example.com"}"#.into());
    patch.last_seen = Write::Remove;
    let written = s.store.update(key, Some(&v("v1")), &patch).await.unwrap();
    let mut expected = row.clone();
    patch.apply(&mut expected);
    assert_eq!(written, expected, "the record as written");
    assert_eq!(written.last_seen, None, "removed");
    assert_eq!(written.origin_jti.as_deref(), Some("family"), "kept");
    assert_eq!(
        written.profile.as_deref(),
        Some(r#"{"email":"b@example.com"}"#)
    );
    assert_eq!(s.store.load(key).await.unwrap(), Some(expected.clone()));

    // Removing what was set, and a patch that keeps the version.
    let mut patch = Patch::new(Some(v("v2")));
    patch.lease_id = Write::Remove;
    patch.lease_until_ms = Write::Remove;
    patch.refreshed_token = Write::Remove;
    let written = s.store.update(key, Some(&v("v2")), &patch).await.unwrap();
    assert_eq!((written.lease_id, written.lease_until_ms), (None, None));
    assert_eq!(written.refreshed_token, None);
    assert_eq!(written.refreshed_from.as_deref(), Some("hash"));
    assert_eq!(written.version, Some(v("v2")));
}

pub async fn update_at_a_wrong_version_changes_nothing_and_returns_the_current_record(s: &Subject) {
    let key = s.key("update-wrong", "a");
    let row = s.record(key, "rt", Some("v1"));
    s.store.put(&row).await.unwrap();
    let current = conflict(
        s.store
            .update(key, Some(&v("v0")), &touch(Some("v2"), 5))
            .await,
    );
    assert_eq!(current.as_ref(), Some(&row), "the conflict is a read");
    // Expecting "no version" from a record that has one is a wrong version too.
    let current = conflict(s.store.update(key, None, &touch(Some("v2"), 5)).await);
    assert_eq!(current.as_ref(), Some(&row));
    assert_eq!(s.store.load(key).await.unwrap(), Some(row), "unchanged");
}

pub async fn update_expecting_no_version_matches_only_a_record_without_one(s: &Subject) {
    let key = s.key("update-absent", "a");
    // A row as the seed writes it: no version.
    let seed = s.record(key, "rt", None);
    s.store.put(&seed).await.unwrap();
    let current = conflict(
        s.store
            .update(key, Some(&v("v1")), &touch(Some("v2"), 5))
            .await,
    );
    assert_eq!(current.as_ref(), Some(&seed));
    // "No version" expected, and still none written (a touch of a seed row).
    let written = s.store.update(key, None, &touch(None, 7)).await.unwrap();
    assert_eq!((written.last_seen, written.version), (Some(7), None));
    // "No version" expected, a version written: from then on "no version" conflicts.
    let written = s
        .store
        .update(key, None, &touch(Some("v1"), 8))
        .await
        .unwrap();
    assert_eq!(written.version, Some(v("v1")));
    let current = conflict(s.store.update(key, None, &touch(Some("v9"), 9)).await);
    assert_eq!(current.map(|r| r.version), Some(Some(v("v1"))));
}

pub async fn update_of_a_missing_record_is_a_conflict_without_a_record(s: &Subject) {
    let key = s.key("update-missing", "a");
    for expected in [None, Some(v("v1"))] {
        let result = s
            .store
            .update(key, expected.as_ref(), &touch(Some("v2"), 1))
            .await;
        assert_eq!(conflict(result), None, "{expected:?}");
    }
    assert_eq!(
        s.store.load(key).await.unwrap(),
        None,
        "no record was created"
    );
}

pub async fn update_any_applies_at_any_expected_version_no_version_included(s: &Subject) {
    let key = s.key("update-any", "a");
    let guess = [Some(v("v1")), None];
    // A row without a version (the seed's): "v1 or none" matches it.
    s.store.put(&s.record(key, "rt", None)).await.unwrap();
    let written = s
        .store
        .update_any(key, &guess, &touch(Some("lease"), 5))
        .await
        .unwrap();
    assert_eq!(
        (written.last_seen, written.version.clone()),
        (Some(5), Some(v("lease")))
    );
    // At "lease", neither is expected: a conflict carrying the record, nothing changed.
    let current = conflict(s.store.update_any(key, &guess, &touch(Some("v9"), 6)).await);
    assert_eq!(current.as_ref(), Some(&written));
    // Back at "v1": matched again.
    s.store
        .update(key, Some(&v("lease")), &touch(Some("v1"), 7))
        .await
        .unwrap();
    let written = s
        .store
        .update_any(key, &guess, &touch(Some("v2"), 8))
        .await
        .unwrap();
    assert_eq!(written.version, Some(v("v2")));
    // A list without "none" does not match a row without a version.
    let other = s.key("update-any-none", "a");
    let seed = s.record(other, "rt", None);
    s.store.put(&seed).await.unwrap();
    let current = conflict(
        s.store
            .update_any(
                other,
                &[Some(v("v1")), Some(v("v2"))],
                &touch(Some("v3"), 9),
            )
            .await,
    );
    assert_eq!(current, Some(seed));
    // A missing record: a conflict without a record, nothing created.
    let missing = s.key("update-any-missing", "a");
    assert_eq!(
        conflict(
            s.store
                .update_any(missing, &guess, &touch(Some("v3"), 1))
                .await
        ),
        None
    );
    assert_eq!(s.store.load(missing).await.unwrap(), None);
}

pub async fn concurrent_update_any_of_a_row_without_version_has_exactly_one_winner(s: &Subject) {
    const RACERS: usize = 6;
    let key = s.key("racers-any", "a");
    s.store.put(&s.record(key, "rt", None)).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..RACERS {
        let store = s.store.clone();
        let per_device = s.per_device;
        tasks.push(tokio::spawn(async move {
            let key = SessionKey {
                sub: "racers-any",
                session: per_device.then_some("a"),
            };
            let mut patch = Patch::new(Some(Version::new(format!("lease.{i}"))));
            patch.lease_id = Write::Set(format!("racer-{i}"));
            let guess = [Some(Version::new(format!("guess-{i}"))), None];
            store.update_any(key, &guess, &patch).await
        }));
    }
    let mut winners = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => winners += 1,
            Err(StoreError::Conflict(Some(_))) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(winners, 1, "exactly one takes a row without a version");
}

pub async fn delete_at_the_right_version_removes_the_record(s: &Subject) {
    let key = s.key("delete-right", "a");
    s.store.put(&s.record(key, "rt", Some("v1"))).await.unwrap();
    s.store.delete(key, Some(&v("v1"))).await.unwrap();
    assert_eq!(s.store.load(key).await.unwrap(), None);
    // A record without a version, deleted expecting none.
    s.store.put(&s.record(key, "rt", None)).await.unwrap();
    s.store.delete(key, None).await.unwrap();
    assert_eq!(s.store.load(key).await.unwrap(), None);
    // A missing record is gone either way.
    s.store.delete(key, Some(&v("v1"))).await.unwrap();
    s.store.delete(key, None).await.unwrap();
}

pub async fn delete_at_a_wrong_version_keeps_the_record_and_returns_it(s: &Subject) {
    let key = s.key("delete-wrong", "a");
    let row = s.record(key, "rt", Some("v2"));
    s.store.put(&row).await.unwrap();
    let current = conflict(s.store.delete(key, Some(&v("v1"))).await);
    assert_eq!(current.as_ref(), Some(&row));
    let current = conflict(s.store.delete(key, None).await);
    assert_eq!(current.as_ref(), Some(&row));
    assert_eq!(s.store.load(key).await.unwrap(), Some(row), "kept");
}

pub async fn list_returns_every_record_of_the_user_and_only_theirs(s: &Subject) {
    let devices = if s.per_device {
        vec!["laptop", "phone", "tablet"]
    } else {
        vec!["only"]
    };
    for device in &devices {
        let key = s.key("lister", device);
        s.store
            .put(&s.record(key, &format!("rt-{device}"), Some(device)))
            .await
            .unwrap();
    }
    s.store
        .put(&s.record(s.key("someone-else", "laptop"), "rt", Some("x")))
        .await
        .unwrap();
    let mut listed = s.store.list("lister").await.unwrap();
    listed.sort_by_key(|r| r.version.clone().map(|v| v.as_str().to_owned()));
    let mut expected: Vec<SessionRow> = devices
        .iter()
        .map(|d| s.record(s.key("lister", d), &format!("rt-{d}"), Some(d)))
        .collect();
    expected.sort_by_key(|r| r.version.clone().map(|v| v.as_str().to_owned()));
    assert_eq!(listed, expected);
    assert!(s.store.list("nobody").await.unwrap().is_empty());
}

pub async fn concurrent_updates_of_one_version_have_exactly_one_winner(s: &Subject) {
    const RACERS: usize = 12;
    let key = s.key("racers", "a");
    s.store.put(&s.record(key, "rt", Some("v0"))).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..RACERS {
        let store = s.store.clone();
        let per_device = s.per_device;
        tasks.push(tokio::spawn(async move {
            let key = SessionKey {
                sub: "racers",
                session: per_device.then_some("a"),
            };
            let mut patch = Patch::new(Some(Version::new(format!("v-{i}"))));
            patch.lease_id = Write::Set(format!("racer-{i}"));
            store.update(key, Some(&Version::new("v0")), &patch).await
        }));
    }
    let mut winners = Vec::new();
    let mut seen_by_losers = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            Ok(row) => winners.push(row),
            Err(StoreError::Conflict(Some(current))) => seen_by_losers.push(*current),
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one wins: {winners:?}");
    let winner = &winners[0];
    assert_eq!(seen_by_losers.len(), RACERS - 1);
    assert!(
        seen_by_losers.iter().all(|row| row == winner),
        "every loser sees the winner's record"
    );
    assert_eq!(s.store.load(key).await.unwrap().as_ref(), Some(winner));
}

async fn memory() -> Subject {
    Subject {
        store: Arc::new(MemoryStore::default()),
        per_device: true,
    }
}

async fn dynamodb_with(sort_key: Option<&str>) -> Subject {
    let pool = Pool::new(PoolOptions {
        sort_key: sort_key.map(str::to_owned),
        ..PoolOptions::default()
    })
    .await;
    let mut store = DynamoDbStore::new(pool.dynamodb.clone(), &pool.table, &pool.partition_key);
    if let Some(sort_key) = sort_key {
        store = store.with_sort_key(sort_key);
    }
    Subject {
        store: Arc::new(store),
        per_device: sort_key.is_some(),
    }
}

/// The seed's table layout: partition key only.
async fn dynamodb() -> Subject {
    dynamodb_with(None).await
}

/// One session per device: a sort key.
async fn dynamodb_sort_key() -> Subject {
    dynamodb_with(Some("session")).await
}

/// Every rule against every store: `<store>::<rule>`.
macro_rules! conformance {
    ($($store:ident),* ; $rules:tt) => {
        $(conformance!(@store $store $rules);)*
    };
    (@store $store:ident [$($rule:ident),*]) => {
        mod $store {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $rule() {
                    super::$rule(&super::$store().await).await;
                }
            )*
        }
    };
}

/// A store with only the five required methods (the memory store underneath): the provided
/// `update_any` must obey the same rules.
#[derive(Debug)]
struct FiveMethods(MemoryStore);

impl SessionStore for FiveMethods {
    fn load<'a>(
        &'a self,
        key: SessionKey<'a>,
    ) -> BoxFuture<'a, Result<Option<SessionRow>, StoreError>> {
        self.0.load(key)
    }

    fn list<'a>(&'a self, sub: &'a str) -> BoxFuture<'a, Result<Vec<SessionRow>, StoreError>> {
        self.0.list(sub)
    }

    fn put<'a>(&'a self, record: &'a SessionRow) -> BoxFuture<'a, Result<(), StoreError>> {
        self.0.put(record)
    }

    fn update<'a>(
        &'a self,
        key: SessionKey<'a>,
        expected: Option<&'a Version>,
        patch: &'a Patch,
    ) -> BoxFuture<'a, Result<SessionRow, StoreError>> {
        self.0.update(key, expected, patch)
    }

    fn delete<'a>(
        &'a self,
        key: SessionKey<'a>,
        expected: Option<&'a Version>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.0.delete(key, expected)
    }
}

async fn five_methods() -> Subject {
    Subject {
        store: Arc::new(FiveMethods(MemoryStore::default())),
        per_device: true,
    }
}

conformance!(memory, dynamodb, dynamodb_sort_key, five_methods; [
    create_replaces_and_load_returns_what_was_put,
    update_at_the_right_version_applies_the_patch_and_returns_the_record,
    update_at_a_wrong_version_changes_nothing_and_returns_the_current_record,
    update_expecting_no_version_matches_only_a_record_without_one,
    update_of_a_missing_record_is_a_conflict_without_a_record,
    delete_at_the_right_version_removes_the_record,
    delete_at_a_wrong_version_keeps_the_record_and_returns_it,
    list_returns_every_record_of_the_user_and_only_theirs,
    concurrent_updates_of_one_version_have_exactly_one_winner,
    update_any_applies_at_any_expected_version_no_version_included,
    concurrent_update_any_of_a_row_without_version_has_exactly_one_winner
]);
