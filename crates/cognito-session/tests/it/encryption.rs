//! Refresh tokens encrypted at rest (AES-256-GCM, key from the environment or from KMS).

use aws_sdk_dynamodb::types::AttributeValue;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use cognito_session::Sealer;
use cognito_session::{Error, Tokens, Unauthorized};
use testkit::PoolOptions;

use crate::{cookies, setup_with, Setup};

const KEY1: [u8; 32] = [1; 32];
const KEY2: [u8; 32] = [2; 32];

fn b64(key: [u8; 32]) -> String {
    STANDARD.encode(key)
}

async fn encrypted(key: [u8; 32]) -> Setup {
    setup_with(PoolOptions::default(), |b| b.encryption_key(b64(key))).await
}

fn stored_token(row: &std::collections::HashMap<String, AttributeValue>) -> String {
    row["token"].as_s().unwrap().clone()
}

fn aad(s: &Setup, sub: &str) -> Vec<u8> {
    [s.pool.table.as_bytes(), b"\0", sub.as_bytes(), b"\0"].concat()
}

#[tokio::test]
async fn refresh_tokens_are_stored_encrypted_and_still_refresh() {
    let s = encrypted(KEY1).await;
    let (sub, login) = s.logged_in("sealed").await;
    let stored = stored_token(&s.pool.row(&sub).await.unwrap());
    let plaintext = login.refresh_token().unwrap();
    assert!(stored.starts_with("enc:v1:"), "{stored}");
    assert!(!stored.contains(plaintext));
    assert_eq!(
        Sealer::new(KEY1, vec![])
            .open(&stored, &aad(&s, &sub))
            .unwrap(),
        plaintext
    );
    let session = s
        .sessions
        .session(
            "token",
            &cookies(&s.expired_copy(login.access_token().unwrap())),
        )
        .await
        .unwrap();
    assert!(session.refreshed().is_some());
    // A refresh does not rewrite a current-key ciphertext.
    assert_eq!(stored_token(&s.pool.row(&sub).await.unwrap()), stored);
}

#[tokio::test]
async fn a_ciphertext_copied_to_another_users_row_does_not_decrypt() {
    let s = encrypted(KEY1).await;
    let (alice, _) = s.logged_in("alice-sealed").await;
    let (mallory, mallory_login) = s.logged_in("mallory-sealed").await;
    let alices = s.pool.row(&alice).await.unwrap()["token"].clone();
    s.pool
        .dynamodb
        .update_item()
        .table_name(&s.pool.table)
        .key("sub", AttributeValue::S(mallory.clone()))
        .update_expression("SET #t = :t")
        .expression_attribute_names("#t", "token")
        .expression_attribute_values(":t", alices)
        .send()
        .await
        .unwrap();
    s.calls.reset();
    let error = s
        .refused(&s.expired_copy(mallory_login.access_token().unwrap()))
        .await;
    assert_eq!(
        error.unauthorized(),
        Some(&Unauthorized::SessionEnded),
        "{error}"
    );
    assert_eq!(
        s.calls.count("InitiateAuth"),
        0,
        "Alice's refresh token never reaches Cognito"
    );
}

#[tokio::test]
async fn a_plaintext_row_from_the_seed_is_encrypted_on_its_next_write() {
    let s = encrypted(KEY1).await;
    let sub = s.pool.user("seed-then-sealed").await;
    let login = s.pool.login("seed-then-sealed").await;
    s.pool
        .put_seed_row(&sub, login.refresh_token().unwrap())
        .await;
    let session = s
        .sessions
        .session(
            "token",
            &cookies(&s.expired_copy(login.access_token().unwrap())),
        )
        .await
        .unwrap();
    assert!(session.refreshed().is_some());
    let stored = stored_token(&s.pool.row(&sub).await.unwrap());
    assert!(stored.starts_with("enc:v1:"), "{stored}");
    assert_eq!(
        Sealer::new(KEY1, vec![])
            .open(&stored, &aad(&s, &sub))
            .unwrap(),
        login.refresh_token().unwrap()
    );
}

#[tokio::test]
async fn a_rotated_key_still_decrypts_and_rows_move_to_the_new_key() {
    let s = encrypted(KEY1).await;
    let (sub, login) = s.logged_in("rotated").await;
    let (builder, _) = crate::builder(&s.pool);
    let rotated = builder
        .encryption_key(b64(KEY2))
        .old_encryption_keys(b64(KEY1))
        .build()
        .await
        .unwrap();
    let session = rotated
        .session(
            "token",
            &cookies(&s.expired_copy(login.access_token().unwrap())),
        )
        .await
        .unwrap();
    assert!(session.refreshed().is_some());
    let stored = stored_token(&s.pool.row(&sub).await.unwrap());
    let current = Sealer::new(KEY2, vec![]);
    assert!(
        stored.starts_with(&format!("enc:v1:{}:", current.key_id())),
        "re-encrypted with the current key"
    );
    let opened = current.open(&stored, &aad(&s, &sub)).unwrap();
    assert_eq!(opened, login.refresh_token().unwrap());
}

#[tokio::test]
async fn an_unknown_key_is_a_configuration_error_not_a_logout() {
    let s = encrypted(KEY1).await;
    let (sub, login) = s.logged_in("unknown-key").await;
    let (builder, _) = crate::builder(&s.pool);
    let wrong = builder.encryption_key(b64(KEY2)).build().await.unwrap();
    let error = wrong
        .session(
            "token",
            &cookies(&s.expired_copy(login.access_token().unwrap())),
        )
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Config { .. }), "{error}");
    assert!(
        error.to_string().contains("SESSION_ENCRYPTION_OLD_KEYS"),
        "{error}"
    );
    assert!(s.pool.row(&sub).await.is_some());
}

#[tokio::test]
async fn the_key_can_come_from_kms() {
    let probe = setup_with(PoolOptions::default(), |b| b).await;
    let kms = aws_sdk_kms::Client::new(&probe.pool.sdk);
    let key_id = kms
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    let data_key = kms
        .generate_data_key()
        .key_id(&key_id)
        .key_spec(aws_sdk_kms::types::DataKeySpec::Aes256)
        .send()
        .await
        .unwrap();
    let plaintext: [u8; 32] = data_key.plaintext.unwrap().into_inner().try_into().unwrap();
    let ciphertext = STANDARD.encode(data_key.ciphertext_blob.unwrap().into_inner());
    let s = setup_with(PoolOptions::default(), |b| b.kms_ciphertext(&ciphertext)).await;
    let (sub, login) = s.logged_in("kms-user").await;
    let stored = stored_token(&s.pool.row(&sub).await.unwrap());
    assert_eq!(
        Sealer::new(plaintext, vec![])
            .open(&stored, &aad(&s, &sub))
            .unwrap(),
        login.refresh_token().unwrap()
    );
    s.sessions.start(&Tokens::from(&login)).await.unwrap();
    // A ciphertext KMS cannot decrypt is a configuration error at build time.
    let (builder, _) = crate::builder(&s.pool);
    let error = builder
        .kms_ciphertext(STANDARD.encode(b"garbage"))
        .build()
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Config { .. }), "{error}");
}

#[tokio::test]
async fn a_custom_store_gets_encryption_at_rest_too() {
    use cognito_session::store::{MemoryStore, SessionStore};
    // A custom store, shared with the test.
    let store = std::sync::Arc::new(MemoryStore::default());
    let s = setup_with(PoolOptions::default(), |b| {
        b.store(store.clone()).encryption_key(b64(KEY1))
    })
    .await;
    let (sub, login) = s.logged_in("custom-sealed").await;
    let rows = store.list(&sub).await.unwrap();
    let stored = rows[0]
        .refresh_token
        .as_ref()
        .unwrap()
        .expose_secret()
        .to_owned();
    assert!(stored.starts_with("enc:v1:"), "sealed above the store");
    assert_eq!(
        Sealer::new(KEY1, vec![])
            .open(&stored, &aad(&s, &sub))
            .unwrap(),
        login.refresh_token().unwrap(),
        "the table name and the key are the associated data, as in DynamoDB"
    );
    let session = s
        .sessions
        .session(
            "token",
            &cookies(&s.expired_copy(login.access_token().unwrap())),
        )
        .await
        .unwrap();
    let new = &session.refreshed().expect("refreshed").access_token;
    let row = store.list(&sub).await.unwrap().remove(0);
    let joinable = row
        .refreshed_token
        .as_deref()
        .expect("recorded for joiners");
    assert!(joinable.starts_with("enc:v1:") && !joinable.contains(new.as_str()));
    assert!(
        s.pool.row(&sub).await.is_none(),
        "nothing went to the DynamoDB table"
    );
}
