//! 2. Encrypted rows and the keys that read them.

use aws_sdk_dynamodb::types::AttributeValue;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use cognito_session::Sealer;
use cognito_session::{Error, Sessions, Unauthorized};
use testkit::PoolOptions;

use crate::{cookies, setup_with, Setup};

const KEY1: [u8; 32] = [11; 32];
const KEY2: [u8; 32] = [12; 32];
const KEY3: [u8; 32] = [13; 32];

fn b64(key: [u8; 32]) -> String {
    STANDARD.encode(key)
}

fn key_id(key: [u8; 32]) -> String {
    Sealer::new(key, vec![]).key_id().to_owned()
}

async fn stored_token(s: &Setup, sub: &str) -> Option<String> {
    let row = s.pool.row(sub).await?;
    row.get("token").and_then(|v| v.as_s().ok()).cloned()
}

/// Another function on the same pool and table, with its own keys and counted calls.
async fn function(
    s: &Setup,
    keys: impl FnOnce(cognito_session::SessionsBuilder) -> cognito_session::SessionsBuilder,
) -> (Sessions, testkit::CallCounter) {
    let (builder, calls) = crate::builder(&s.pool);
    (keys(builder).build().await.unwrap(), calls)
}

fn assert_names_the_key(error: &Error, id: &str) {
    assert!(matches!(error, Error::Config { .. }), "{error}");
    assert_eq!(error.status(), 500);
    let message = error.to_string();
    for name in [
        id,
        "SESSION_ENCRYPTION_KEY",
        "SESSION_ENCRYPTION_OLD_KEYS",
        "SESSION_KMS_CIPHERTEXT",
    ] {
        assert!(message.contains(name), "{name} missing in: {message}");
    }
}

#[tokio::test]
async fn a_function_without_the_key_never_sends_ciphertext_to_cognito_and_keeps_the_row() {
    let s = setup_with(PoolOptions::default(), |b| b.encryption_key(b64(KEY1))).await;
    let (sub, login) = s.logged_in("no-key").await;
    let sealed = stored_token(&s, &sub).await.unwrap();
    assert!(sealed.starts_with("enc:v1:"), "{sealed}");
    let (keyless, calls) = function(&s, |b| b).await;
    let expired = s.expired_copy(login.access_token().unwrap());

    // A refresh: 500 naming the key, nothing sent to Cognito, the row as it was.
    let error = keyless
        .session("token", &cookies(&expired))
        .await
        .unwrap_err();
    assert_names_the_key(&error, &key_id(KEY1));
    assert_eq!(calls.count("InitiateAuth"), 0, "{:?}", calls.all());
    assert_eq!(stored_token(&s, &sub).await.as_deref(), Some(&*sealed));

    // A logout: the same, and no RevokeToken with the ciphertext.
    let error = keyless
        .end("token", &cookies(login.access_token().unwrap()))
        .await
        .unwrap_err();
    assert_names_the_key(&error, &key_id(KEY1));
    assert_eq!(calls.count("RevokeToken"), 0, "{:?}", calls.all());
    assert_eq!(stored_token(&s, &sub).await.as_deref(), Some(&*sealed));

    // The function that has the key still refreshes the session.
    let session = s
        .sessions
        .session("token", &cookies(&expired))
        .await
        .unwrap();
    assert!(session.refreshed().is_some());
}

#[tokio::test]
async fn a_row_under_an_unknown_key_id_answers_500_naming_it() {
    let s = setup_with(PoolOptions::default(), |b| b.encryption_key(b64(KEY1))).await;
    let (sub, login) = s.logged_in("unknown-key-id").await;
    let sealed = stored_token(&s, &sub).await.unwrap();
    // Keys that don't include the row's: a current key and an old one, both others.
    let (other, calls) = function(&s, |b| {
        b.encryption_key(b64(KEY2)).old_encryption_keys(b64(KEY3))
    })
    .await;
    let expired = s.expired_copy(login.access_token().unwrap());
    let error = other
        .session("token", &cookies(&expired))
        .await
        .unwrap_err();
    assert_names_the_key(&error, &key_id(KEY1));
    assert_eq!(calls.count("InitiateAuth"), 0);
    let error = other
        .end("token", &cookies(login.access_token().unwrap()))
        .await
        .unwrap_err();
    assert_names_the_key(&error, &key_id(KEY1));
    assert_eq!(calls.count("RevokeToken"), 0);
    assert_eq!(stored_token(&s, &sub).await.as_deref(), Some(&*sealed));

    // The operator can still list the session, and see which key it needs.
    let rows = other.list(&sub).await.unwrap();
    assert_eq!(rows.len(), 1);
    let id = key_id(KEY1);
    assert_eq!(
        rows[0].refresh_token.as_ref().and_then(|t| t.key_id()),
        Some(id.as_str())
    );

    // A damaged ciphertext (not an unknown key) cannot be refreshed: 401 and an error log,
    // nothing sent to Cognito, the row kept for the operator to inspect.
    let mut damaged = sealed.clone();
    let last = damaged.pop().unwrap();
    damaged.push(if last == 'A' { 'B' } else { 'A' });
    s.pool
        .dynamodb
        .update_item()
        .table_name(&s.pool.table)
        .key("sub", AttributeValue::S(sub.clone()))
        .update_expression("SET #t = :t")
        .expression_attribute_names("#t", "token")
        .expression_attribute_values(":t", AttributeValue::S(damaged.clone()))
        .send()
        .await
        .unwrap();
    s.calls.reset();
    let error = s.refused(&expired).await;
    assert_eq!(
        error.unauthorized(),
        Some(&Unauthorized::SessionEnded),
        "{error}"
    );
    assert_eq!(s.calls.count("InitiateAuth"), 0);
    assert_eq!(stored_token(&s, &sub).await.as_deref(), Some(&*damaged));
}

#[tokio::test]
async fn valid_tokens_keep_working_while_an_old_key_is_retired() {
    let s = setup_with(PoolOptions::default(), |b| b.encryption_key(b64(KEY1))).await;
    let (sub, login) = s.logged_in("retiring").await;
    let (moved_sub, moved) = s.logged_in("moved-on").await;
    // Rotation: KEY2 current, KEY1 still old. A refresh has moved one row to KEY2 (as its
    // commit would write it).
    let aad = [s.pool.table.as_bytes(), b"\0", moved_sub.as_bytes(), b"\0"].concat();
    let resealed = Sealer::new(KEY2, vec![])
        .seal(moved.refresh_token().unwrap(), &aad)
        .unwrap();
    s.pool
        .dynamodb
        .update_item()
        .table_name(&s.pool.table)
        .key("sub", AttributeValue::S(moved_sub.clone()))
        .update_expression("SET #t = :t")
        .expression_attribute_names("#t", "token")
        .expression_attribute_values(":t", AttributeValue::S(resealed))
        .send()
        .await
        .unwrap();

    // KEY1 is retired before every row moved: the other row is still under it.
    let (retired, calls) = function(&s, |b| b.encryption_key(b64(KEY2))).await;
    // Its valid token is still authorized (session mode reads the row, not its secret)...
    let session = retired
        .session("token", &cookies(login.access_token().unwrap()))
        .await
        .unwrap();
    assert_eq!(session.sub(), sub);
    assert!(session.refreshed().is_none());
    // ...and so is the moved row's, which also refreshes.
    retired
        .session("token", &cookies(moved.access_token().unwrap()))
        .await
        .unwrap();
    let refreshed = retired
        .session(
            "token",
            &cookies(&s.expired_copy(moved.access_token().unwrap())),
        )
        .await
        .unwrap();
    assert!(refreshed.refreshed().is_some());
    // Only the refresh of a row under the retired key needs it: 500 naming it, row kept.
    calls.reset();
    let error = retired
        .session(
            "token",
            &cookies(&s.expired_copy(login.access_token().unwrap())),
        )
        .await
        .unwrap_err();
    assert_names_the_key(&error, &key_id(KEY1));
    assert_eq!(calls.count("InitiateAuth"), 0);
    assert!(stored_token(&s, &sub)
        .await
        .unwrap()
        .contains(&key_id(KEY1)));
}

#[tokio::test]
async fn list_and_debug_never_expose_a_refresh_token_or_key() {
    // An app client with a secret, and a table without encryption (the stored token is the
    // plaintext one).
    let options = PoolOptions {
        secret: true,
        ..PoolOptions::default()
    };
    let plain = setup_with(options, |b| b).await;
    let secret = plain.pool.client_secret.clone().unwrap();
    let secret = secret.as_str();
    let (sub, login) = plain.logged_in("lister").await;
    let refresh_token = login.refresh_token().unwrap();
    assert_eq!(
        stored_token(&plain, &sub).await.as_deref(),
        Some(refresh_token)
    );
    let rows = plain.sessions.list(&sub).await.unwrap();
    assert_eq!(rows.len(), 1);
    let listed = rows[0].refresh_token.as_ref().expect("the row has a token");
    assert!(!listed.expose_secret().contains(refresh_token));
    for shown in [
        format!("{rows:?}"),
        format!("{listed}"),
        format!("{:?}", plain.sessions),
    ] {
        assert!(!shown.contains(refresh_token), "{shown}");
        assert!(!shown.contains(secret), "{shown}");
    }

    // An encrypted table: rows hold the ciphertext only; the builder and the manager show no key.
    let key = b64(KEY1);
    let old = b64(KEY2);
    let (builder, _) = crate::builder(&plain.pool);
    let builder = builder
        .encryption_key(&key)
        .old_encryption_keys(&old)
        .kms_ciphertext("a21zLWNpcGhlcnRleHQtbmV2ZXItc2hvd24=");
    let debug = format!("{builder:?}");
    for hidden in [secret, &key, &old, "a21zLWNpcGhlcnRleHQtbmV2ZXItc2hvd24="] {
        assert!(!debug.contains(hidden), "{debug}");
    }
    assert!(debug.contains(&plain.pool.client_id), "{debug}");
    let sealed = crate::builder(&plain.pool)
        .0
        .encryption_key(&key)
        .build()
        .await
        .unwrap();
    let tokens = cognito_session::Tokens::from(&login);
    sealed.start(&tokens).await.unwrap();
    let rows = sealed.list(&sub).await.unwrap();
    let listed = rows[0].refresh_token.as_ref().unwrap();
    assert_eq!(listed.key_id(), Some(key_id(KEY1).as_str()));
    assert!(!listed.expose_secret().contains(refresh_token));
    for shown in [format!("{rows:?}"), format!("{sealed:?}")] {
        assert!(!shown.contains(refresh_token), "{shown}");
        assert!(!shown.contains(&key), "{shown}");
    }
}
