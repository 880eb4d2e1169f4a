//! Logs and error messages never contain a token, a refresh token or a key.

use crate::capture::Capture;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use testkit::PoolOptions;
use tracing::Level;

use crate::{cookies, setup_with};

#[tokio::test]
async fn no_secret_reaches_a_log_line_or_an_error_message() {
    let capture = Capture::default();
    let _guard = capture.install(Level::TRACE);

    let key = STANDARD.encode([42u8; 32]);
    let s = setup_with(
        PoolOptions {
            secret: true,
            ..Default::default()
        },
        |b| b.encryption_key(&key),
    )
    .await;
    let (_, login) = s.logged_in("quiet").await;
    let access = login.access_token().unwrap().to_owned();
    let mut secrets = vec![
        access.clone(),
        login.id_token().unwrap().to_owned(),
        login.refresh_token().unwrap().to_owned(),
        key.clone(),
        s.pool.client_secret.clone().unwrap(),
    ];
    let mut messages = Vec::new();

    s.sessions
        .session("token", &cookies(&access))
        .await
        .unwrap();
    let expired = s.expired_copy(&access);
    let refreshed = s
        .sessions
        .session("token", &cookies(&expired))
        .await
        .unwrap();
    let tokens = refreshed.refreshed().unwrap();
    secrets.push(tokens.access_token.clone());
    secrets.push(tokens.id_token.clone().unwrap());
    messages.push(format!("{refreshed:?} {tokens:?} {:?}", s.sessions));
    let forged = testkit::unsigned(&testkit::peek(&access));
    secrets.push(forged.clone());
    messages.push(
        s.sessions
            .session("token", &cookies(&forged))
            .await
            .unwrap_err()
            .to_string(),
    );
    s.pool.global_sign_out("quiet").await;
    // Past the window in which requests that raced the refresh join it without calling Cognito.
    s.clock.store(120, std::sync::atomic::Ordering::Relaxed);
    let error = s.refused(&expired).await;
    messages.push(format!("{error} {error:?}"));

    let logs = capture.text();
    assert!(
        logs.contains("refreshed an expired session"),
        "the capture works: {logs}"
    );
    for secret in &secrets {
        // Any 24-character piece of a secret would already be too much.
        let piece = &secret[secret.len() / 2..secret.len() / 2 + 24.min(secret.len() / 2)];
        // Everything at TRACE, the AWS SDK's own lines included.
        assert!(!logs.contains(piece), "a secret reached the logs");
        for message in &messages {
            assert!(
                !message.contains(piece),
                "a secret reached a message: {message}"
            );
        }
    }
}

#[tokio::test]
async fn a_logged_outage_keeps_the_sdk_cause_once() {
    let capture = Capture::default();
    let _guard = capture.install(Level::WARN);

    let s = crate::setup().await;
    let (_, login) = s.logged_in("outage-log").await;
    let sessions = crate::sessions_via(&s, &crate::dead_endpoint(), |b| {
        b.operation_timeout(std::time::Duration::from_secs(2))
    })
    .await;
    let error = sessions
        .session("token", &cookies(login.access_token().unwrap()))
        .await
        .unwrap_err();
    assert_eq!(error.status(), 503, "{error}");

    let logs = capture.text();
    let line = logs
        .lines()
        .find(|l| l.contains("session check failed"))
        .unwrap_or_else(|| panic!("no WARN for the outage in {logs}"));
    // The error's own text, then what the SDK said (its Display alone says only "retry").
    assert!(line.contains(&error.to_string()), "{line}");
    let cause = line
        .split_once(&error.to_string())
        .map(|(_, rest)| rest)
        .unwrap_or_default();
    assert!(
        cause.contains("dispatch failure")
            || cause.contains("timed out")
            || cause.contains("onnect"),
        "the SDK's cause is missing: {line}"
    );
    // Each cause once: no text repeats itself along the chain.
    let parts: Vec<&str> = cause.split(": ").filter(|p| p.len() > 8).collect();
    for (i, part) in parts.iter().enumerate() {
        assert!(
            !parts[i + 1..].contains(part),
            "{part:?} repeated in {line}"
        );
    }
}
