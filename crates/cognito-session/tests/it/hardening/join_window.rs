//! 3. A request joining a concurrent refresh is authorized only with the new token's claims.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use cognito_session::{Session, Sessions, Tokens};
use testkit::PoolOptions;

use crate::{cookies, minter, setup, setup_with, strings, Setup};

fn is_admin(session: &Session) -> bool {
    session.claims().groups().iter().any(|g| g == "admin")
}

/// A user in group `admin`, logged in (its token says admin) with its session started.
async fn admin(s: &Setup, username: &str) -> (String, String) {
    let sub = s.pool.user(username).await;
    s.pool.add_to_group(username, "admin").await;
    let login = s.pool.login(username).await;
    let token = login.access_token().unwrap().to_owned();
    assert_eq!(
        strings(&testkit::peek(&token)["cognito:groups"]),
        ["admin"],
        "moto lists the group in the access token"
    );
    s.sessions.start(&Tokens::from(&login)).await.unwrap();
    (sub, token)
}

/// Another expired token of the same login as `token` (same user, client and family), issued
/// `age` seconds ago, with its own `jti`: what the browser held before its latest token.
fn older_copy(token: &str, age: u64, jti: &str) -> String {
    let mut claims = testkit::peek(token);
    let iat = testkit::now() - age;
    claims["iat"] = iat.into();
    claims["auth_time"] = iat.into();
    claims["exp"] = (iat + 3600).into();
    claims["jti"] = jti.into();
    minter().access(&claims)
}

#[tokio::test]
async fn an_old_token_is_not_authorized_with_stale_groups_after_a_refresh() {
    let s = setup().await;
    let (sub, token) = admin(&s, "demoted").await;
    // The browser's latest token, expired, and one it held before: both still say admin.
    let expired = s.expired_copy(&token);
    let older = older_copy(&token, 3 * 3600, "an-older-token");
    s.pool.remove_from_group("demoted", "admin").await;

    s.calls.reset();
    let refreshed = s
        .sessions
        .session("token", &cookies(&expired))
        .await
        .unwrap();
    let new_token = refreshed
        .refreshed()
        .expect("refreshed")
        .access_token
        .clone();
    assert!(!is_admin(&refreshed), "the refresh produced current claims");
    assert_eq!(s.calls.count("InitiateAuth"), 1);

    // Right after that refresh, the older admin token is never authorized as an admin, however
    // often it comes. It did not race that refresh, so it refreshes by itself; the requests
    // that carry it too then join that refresh of theirs.
    let mut own_cookie = None;
    for attempt in 1..=3 {
        s.calls.reset();
        let session = s.sessions.session("token", &cookies(&older)).await.unwrap();
        assert_eq!(session.sub(), sub);
        assert!(!is_admin(&session), "attempt {attempt}: stale groups");
        let cookie = session.set_cookie("token").expect("a new cookie");
        assert_ne!(session.refreshed().unwrap().access_token, new_token);
        let expected_refreshes = usize::from(attempt == 1);
        assert_eq!(
            s.calls.count("InitiateAuth"),
            expected_refreshes,
            "attempt {attempt}"
        );
        assert_eq!(own_cookie.get_or_insert(cookie.clone()), &cookie);
    }

    // The token refreshed first is not the last refreshed one any more: it refreshes again.
    s.calls.reset();
    let again = s
        .sessions
        .session("token", &cookies(&expired))
        .await
        .unwrap();
    assert!(!is_admin(&again));
    assert_eq!(s.calls.count("InitiateAuth"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_racing_request_joins_with_the_new_tokens_claims_and_cookie() {
    // Encrypted rows: the new access token is stored sealed, and read by another instance.
    let key = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [42u8; 32]);
    let s = setup_with(PoolOptions::default(), |b| b.encryption_key(&key)).await;
    let (sub, token) = admin(&s, "racer").await;
    let (builder, other_calls) = crate::builder(&s.pool);
    // Another Lambda instance: its own verified-token cache, the same table and key.
    let other = Arc::new(builder.encryption_key(&key).build().await.unwrap());
    let here = Arc::new(s.sessions.clone());
    let expired = s.expired_copy(&token);
    s.pool.remove_from_group("racer", "admin").await;
    s.calls.reset();

    let tasks: Vec<_> = (0..12)
        .map(|i| {
            let sessions: Arc<Sessions> = if i % 2 == 0 {
                here.clone()
            } else {
                other.clone()
            };
            let expired = expired.clone();
            tokio::spawn(async move { sessions.session("token", &cookies(&expired)).await })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap().expect("authorized"));
    }
    assert_eq!(
        s.calls.count("InitiateAuth") + other_calls.count("InitiateAuth"),
        1,
        "one refresh for all"
    );
    let cookie = answers[0].set_cookie("token").expect("a new cookie");
    let jti = answers[0].claims().jti().map(str::to_owned);
    for session in &answers {
        assert_eq!(session.sub(), sub);
        assert!(!is_admin(session), "authorized with the old token's groups");
        assert_eq!(
            session.claims().jti(),
            jti.as_deref(),
            "the new token's claims"
        );
        assert_eq!(session.set_cookie("token").as_ref(), Some(&cookie));
    }
    let new_token = &answers[0].refreshed().unwrap().access_token;
    assert_ne!(new_token, &expired);
    let row = s.pool.row(&sub).await.unwrap();
    let stored = row["refreshed_token"].as_s().unwrap();
    assert!(stored.starts_with("enc:v1:"), "stored encrypted: {stored}");
    assert!(!stored.contains(&new_token[new_token.len() - 20..]));
    // Listing sessions does not hand out the stored access token.
    let listed = s.sessions.list(&sub).await.unwrap();
    assert!(listed[0].refreshed_token.is_none());
    assert!(!format!("{listed:?}").contains(&new_token[new_token.len() - 20..]));
}

/// Sets attributes on `sub`'s row as another writer would.
async fn set_on_row(s: &Setup, sub: &str, values: &[(&str, AttributeValue)]) {
    let mut update = s
        .pool
        .dynamodb
        .update_item()
        .table_name(&s.pool.table)
        .key("sub", AttributeValue::S(sub.into()));
    let mut set = Vec::new();
    for (i, (name, value)) in values.iter().enumerate() {
        set.push(format!("#n{i} = :v{i}"));
        update = update
            .expression_attribute_names(format!("#n{i}"), *name)
            .expression_attribute_values(format!(":v{i}"), value.clone());
    }
    update
        .update_expression(format!("SET {}", set.join(", ")))
        .send()
        .await
        .unwrap();
}

fn now_ms(s: &Setup) -> AttributeValue {
    let ms = (testkit::now() as i64 + s.clock.load(Ordering::Relaxed)) * 1000;
    AttributeValue::N(ms.to_string())
}

/// How the library records the token a refresh replaced: base64url of its SHA-256.
fn token_id(token: &str) -> String {
    let hash = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
    base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, hash)
}

#[tokio::test]
async fn only_the_refreshed_token_may_join() {
    // The join window alone: an older token keeps counting past it (`replaced_tokens` tests the
    // grace after which it is refused).
    let s = setup_with(PoolOptions::default(), |b| {
        b.replaced_token_grace(std::time::Duration::from_secs(600))
    })
    .await;
    let (sub, token) = admin(&s, "joiner").await;
    let expired = s.expired_copy(&token);
    let older = older_copy(&token, 3 * 3600, "before-the-latest");
    let refreshes = |s: &Setup| s.calls.count("InitiateAuth");

    // A refresh recorded by an older version of this library (`refreshed_at` only): nothing
    // to join, the request refreshes.
    set_on_row(&s, &sub, &[("refreshed_at", now_ms(&s))]).await;
    s.calls.reset();
    let first = s
        .sessions
        .session("token", &cookies(&expired))
        .await
        .unwrap();
    assert!(first.refreshed().is_some());
    assert_eq!(refreshes(&s), 1, "no join with a bare refreshed_at");

    // The refreshed token itself joins, within the window.
    s.calls.reset();
    let joined = s
        .sessions
        .session("token", &cookies(&expired))
        .await
        .unwrap();
    assert_eq!(refreshes(&s), 0);
    assert_eq!(joined.set_cookie("token"), first.set_cookie("token"));

    // A token older than the one refreshed does not: it refreshes by itself.
    s.calls.reset();
    let own = s.sessions.session("token", &cookies(&older)).await.unwrap();
    assert_eq!(refreshes(&s), 1, "an older token refreshes");
    assert_ne!(own.set_cookie("token"), first.set_cookie("token"));

    // The refreshed token after the window: a refresh of its own.
    s.clock.fetch_add(61, Ordering::Relaxed);
    s.calls.reset();
    let _ = s.sessions.session("token", &cookies(&older)).await.unwrap();
    assert_eq!(refreshes(&s), 1, "past the window, no join");

    // A recorded token that is not current (here: the expired admin token itself) is never
    // joined, even by the token the row says was replaced.
    set_on_row(
        &s,
        &sub,
        &[
            ("refreshed_at", now_ms(&s)),
            ("refreshed_from", AttributeValue::S(token_id(&older))),
            ("refreshed_token", AttributeValue::S(expired.clone())),
        ],
    )
    .await;
    s.calls.reset();
    let session = s.sessions.session("token", &cookies(&older)).await.unwrap();
    assert_eq!(refreshes(&s), 1, "refreshed instead of joining");
    assert_ne!(
        session.claims().jti(),
        testkit::peek(&expired)["jti"].as_str()
    );
}
