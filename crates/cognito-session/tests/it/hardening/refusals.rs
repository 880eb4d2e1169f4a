//! 1. Refusals from Cognito: a dead refresh token ends the session, our misconfiguration keeps it.

use crate::capture::Capture;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use cognito_session::{Error, Sessions, SessionsBuilder, Unauthorized};
use testkit::{FakeCognito, PoolOptions, Proxy};

use crate::{cookies, setup, setup_with, Setup};

type Row = HashMap<String, AttributeValue>;

/// A builder for the setup's pool with every AWS call sent to `endpoint`, and no client secret.
pub(crate) async fn builder_via(s: &Setup, endpoint: &str) -> SessionsBuilder {
    let sdk = testkit::sdk_config(endpoint).await;
    Sessions::builder()
        .table(&s.pool.table)
        .partition_key(&s.pool.partition_key)
        .client_id(&s.pool.client_id)
        .user_pool_id(&s.pool.pool_id)
        .jwks_url(s.pool.jwks_url())
        .cognito_client(aws_sdk_cognitoidentityprovider::Client::new(&sdk))
        .dynamodb_client(aws_sdk_dynamodb::Client::new(&sdk))
}

/// The setup's pool behind a proxy whose Cognito refreshes `fake` answers (set up by `stage`
/// for the pool's issuer and client); everything else goes to moto.
pub(crate) async fn with_fake(
    s: &Setup,
    grace: Duration,
    stage: impl FnOnce(FakeCognito) -> FakeCognito,
) -> (Arc<FakeCognito>, Proxy) {
    let fake = Arc::new(stage(FakeCognito::new(
        &s.pool.issuer(),
        &s.pool.client_id,
        grace,
    )));
    let proxy = Proxy::with_fake(&s.pool.moto.url, fake.clone()).await;
    (fake, proxy)
}

fn assert_config(error: &Error, names: &str, case: &str) {
    assert!(matches!(error, Error::Config { .. }), "{case}: {error}");
    assert_eq!(error.status(), 500, "{case}");
    assert!(error.to_string().contains(names), "{case}: {error}");
    assert!(!error.clears_cookie(), "{case}: cookie kept");
}

#[tokio::test]
async fn a_missing_client_secret_keeps_every_row_and_answers_500() {
    // moto answers a missing SECRET_HASH with NotAuthorizedException and no message, a wrong one
    // with the hash it was sent as the message: neither says the refresh token is dead.
    let s = setup_with(
        PoolOptions {
            secret: true,
            ..Default::default()
        },
        |b| b,
    )
    .await;
    let mut users = Vec::new();
    for name in ["nosecret-a", "nosecret-b", "nosecret-c"] {
        let (sub, login) = s.logged_in(name).await;
        let row = s.pool.row(&sub).await.unwrap();
        users.push((sub, s.expired_copy(login.access_token().unwrap()), row));
    }
    let (cognito, dynamodb, calls) = s.pool.counted_clients();
    let plain = |b: SessionsBuilder| {
        b.table(&s.pool.table)
            .partition_key(&s.pool.partition_key)
            .client_id(&s.pool.client_id)
            .user_pool_id(&s.pool.pool_id)
            .jwks_url(s.pool.jwks_url())
            .sdk_config(s.pool.sdk.clone())
            .cognito_client(cognito.clone())
            .dynamodb_client(dynamodb.clone())
    };
    let missing = plain(Sessions::builder()).build().await.unwrap();
    let wrong = plain(Sessions::builder())
        .client_secret("not-the-app-clients-secret")
        .build()
        .await
        .unwrap();
    for (case, sessions) in [
        ("no CLIENT_SECRET", &missing),
        ("wrong CLIENT_SECRET", &wrong),
    ] {
        for (sub, expired, row) in &users {
            let error = sessions
                .session("token", &cookies(expired))
                .await
                .expect_err(case);
            assert_config(&error, "CLIENT_SECRET", case);
            assert_eq!(
                s.pool.row(sub).await.as_ref(),
                Some(row),
                "{case}: row kept"
            );
        }
    }
    assert!(calls.count("InitiateAuth") >= 6, "{:?}", calls.all());
    assert_eq!(calls.count("DeleteItem"), 0);
    // With the secret, every one of them refreshes.
    for (_, expired, _) in &users {
        let session = s
            .sessions
            .session("token", &cookies(expired))
            .await
            .unwrap();
        assert!(session.refreshed().is_some());
    }
}

#[tokio::test]
async fn a_missing_client_secret_keeps_the_row_with_real_cognitos_answer() {
    // Real Cognito: "Client … is configured for secret but secret was not received", and
    // "Unable to verify secret hash for client …" for a wrong one.
    let s = setup().await;
    let (sub, login) = s.logged_in("fake-nosecret").await;
    let (fake, proxy) = with_fake(&s, Duration::ZERO, |f| f.with_secret("the-secret")).await;
    fake.register(
        login.refresh_token().unwrap(),
        login.access_token().unwrap(),
    );
    let before = s.pool.row(&sub).await.unwrap();
    let expired = s.expired_copy(login.access_token().unwrap());
    let cases = [
        (None, "CLIENT_SECRET is not set"),
        (Some("wrong"), "CLIENT_SECRET is not the secret"),
    ];
    for (secret, names) in cases {
        let builder = builder_via(&s, &proxy.url).await;
        let builder = match secret {
            Some(secret) => builder.client_secret(secret),
            None => builder,
        };
        let sessions = builder.build().await.unwrap();
        let error = sessions
            .session("token", &cookies(&expired))
            .await
            .expect_err(names);
        assert_config(&error, names, names);
        assert_eq!(s.pool.row(&sub).await.unwrap(), before, "{names}: row kept");
    }
    let sessions = builder_via(&s, &proxy.url)
        .await
        .client_secret("the-secret")
        .build()
        .await
        .unwrap();
    let session = sessions.session("token", &cookies(&expired)).await.unwrap();
    assert!(session.refreshed().is_some(), "the right secret refreshes");
}

#[tokio::test]
async fn each_dead_refresh_token_class_ends_the_session() {
    let s = setup().await;
    let (fake, proxy) = with_fake(&s, Duration::ZERO, |f| f).await;
    let plain = builder_via(&s, &proxy.url).await.build().await.unwrap();
    let rotating = builder_via(&s, &proxy.url)
        .await
        .refresh_token_rotation(true)
        .build()
        .await
        .unwrap();
    type Stage = fn(&FakeCognito, &str, &str);
    let classes: [(&str, Stage); 6] = [
        ("revoked", |f, rt, _| f.revoke(rt)),
        ("expired", |f, rt, _| f.expire(rt)),
        ("invalid (unknown to Cognito)", |_, _, _| {}),
        ("user disabled", |f, _, sub| f.disable_user(sub)),
        ("user deleted", |f, _, sub| f.delete_user(sub)),
        ("rotated out, used after the grace period", |_, _, _| {}),
    ];
    for (i, (class, stage)) in classes.into_iter().enumerate() {
        let (sub, login) = s.logged_in(&format!("dead-{i}")).await;
        let refresh_token = login.refresh_token().unwrap();
        let expired = s.expired_copy(login.access_token().unwrap());
        let mut sessions = &plain;
        if class.starts_with("invalid") {
            // Never registered: not a refresh token Cognito knows.
        } else if class.starts_with("rotated") {
            fake.register(refresh_token, login.access_token().unwrap());
            sessions = &rotating;
            sessions.session("token", &cookies(&expired)).await.unwrap();
            // The rotated-out token is back in the row (a copy replayed).
            s.pool.put_seed_row(&sub, refresh_token).await;
            tokio::time::sleep(Duration::from_millis(20)).await;
        } else {
            fake.register(refresh_token, login.access_token().unwrap());
        }
        stage(&fake, refresh_token, &sub);
        let error = sessions
            .session("token", &cookies(&expired))
            .await
            .expect_err(class);
        assert_eq!(
            error.unauthorized(),
            Some(&Unauthorized::Revoked),
            "{class}: {error}"
        );
        assert!(error.clears_cookie(), "{class}");
        assert!(s.pool.row(&sub).await.is_none(), "{class}: row deleted");
    }
}

#[tokio::test]
async fn each_misconfiguration_keeps_the_row_and_answers_500() {
    let s = setup().await;
    type Stage = fn(FakeCognito) -> FakeCognito;
    let cases: [(&str, Stage, &str); 5] = [
        (
            "missing CLIENT_SECRET",
            |f| f.with_secret("s"),
            "CLIENT_SECRET",
        ),
        (
            "no REFRESH_TOKEN_AUTH",
            |f| f.without_refresh_token_auth(),
            "ALLOW_REFRESH_TOKEN_AUTH",
        ),
        ("device key required", |f| f, "DEVICE_KEY"),
        ("unknown NotAuthorizedException", |f| f, "session was kept"),
        ("unknown app client", |f| f, "CLIENT_ID"),
    ];
    for (i, (case, stage, names)) in cases.into_iter().enumerate() {
        let (sub, login) = s.logged_in(&format!("misconfigured-{i}")).await;
        let refresh_token = login.refresh_token().unwrap();
        let access = login.access_token().unwrap();
        let (fake, proxy) = if case == "unknown app client" {
            // A fake whose only app client is another one.
            let fake = Arc::new(FakeCognito::new(&s.pool.issuer(), "other", Duration::ZERO));
            (fake.clone(), Proxy::with_fake(&s.pool.moto.url, fake).await)
        } else {
            with_fake(&s, Duration::ZERO, stage).await
        };
        fake.register(refresh_token, access);
        if case == "device key required" {
            fake.bind_to_device(refresh_token, "us-east-1_device");
        }
        let before = s.pool.row(&sub).await.unwrap();
        let sessions = builder_via(&s, &proxy.url).await.build().await.unwrap();
        let expired = s.expired_copy(access);
        if case == "unknown NotAuthorizedException" {
            proxy.inject(testkit::Rule::on(
                "InitiateAuth",
                testkit::Fault::Aws("NotAuthorizedException"),
            ));
        }
        let error = sessions
            .session("token", &cookies(&expired))
            .await
            .expect_err(case);
        assert_config(&error, names, case);
        assert_eq!(proxy.count("InitiateAuth"), 1, "{case}: one call, no retry");
        assert_eq!(
            s.pool.row(&sub).await.unwrap(),
            before,
            "{case}: row untouched"
        );
        // The lease was released: the same request meets the same answer at once.
        let again = sessions
            .session("token", &cookies(&expired))
            .await
            .expect_err(case);
        assert_config(&again, names, case);
    }
}

#[tokio::test]
async fn a_misconfiguration_is_logged_at_error_level_once_per_cause() {
    let (logs, _guard) = Capture::start();
    let s = setup_with(
        PoolOptions {
            secret: true,
            ..Default::default()
        },
        |b| b,
    )
    .await;
    let (cognito, dynamodb, _) = s.pool.counted_clients();
    let sessions = Sessions::builder()
        .table(&s.pool.table)
        .partition_key(&s.pool.partition_key)
        .client_id(&s.pool.client_id)
        .user_pool_id(&s.pool.pool_id)
        .jwks_url(s.pool.jwks_url())
        .sdk_config(s.pool.sdk.clone())
        .cognito_client(cognito)
        .dynamodb_client(dynamodb)
        .build()
        .await
        .unwrap();
    for name in ["logged-once-a", "logged-once-b", "logged-once-c"] {
        let (_, login) = s.logged_in(name).await;
        let expired = s.expired_copy(login.access_token().unwrap());
        let error = sessions
            .session("token", &cookies(&expired))
            .await
            .unwrap_err();
        assert_eq!(error.status(), 500, "{error}");
    }
    let errors = logs.lines("ERROR");
    assert_eq!(errors.len(), 1, "one error line for one cause: {errors:#?}");
    assert!(errors[0].contains("CLIENT_SECRET"), "{}", errors[0]);
}

/// Writes `value` as the `token` attribute of `sub`'s row.
async fn set_token(s: &Setup, sub: &str, value: AttributeValue) -> Row {
    s.pool
        .dynamodb
        .update_item()
        .table_name(&s.pool.table)
        .key("sub", AttributeValue::S(sub.into()))
        .update_expression("SET #t = :t")
        .expression_attribute_names("#t", "token")
        .expression_attribute_values(":t", value)
        .send()
        .await
        .unwrap();
    s.pool.row(sub).await.unwrap()
}

#[tokio::test]
async fn an_empty_or_oversized_stored_token_is_refused_without_calling_cognito() {
    let s = setup().await;
    let (logs, _guard) = Capture::start();
    let cases = [
        ("empty", AttributeValue::S(String::new())),
        ("over 16 KiB", AttributeValue::S("x".repeat(16 * 1024 + 1))),
        ("not a string", AttributeValue::N("42".into())),
    ];
    for (i, (case, value)) in cases.into_iter().enumerate() {
        let (sub, login) = s.logged_in(&format!("bad-row-{i}")).await;
        let before = set_token(&s, &sub, value).await;
        s.calls.reset();
        let error = s
            .refused(&s.expired_copy(login.access_token().unwrap()))
            .await;
        assert_eq!(error.status(), 401, "{case}: {error}");
        assert_eq!(
            s.calls.count("InitiateAuth"),
            0,
            "{case}: Cognito never called"
        );
        assert_eq!(
            s.pool.row(&sub).await.unwrap(),
            before,
            "{case}: row kept as it was"
        );
        let warned = logs.lines("WARN");
        assert!(
            warned
                .iter()
                .any(|l| l.contains(&sub) && l.contains("without calling Cognito")),
            "{case}: a warning names the row's sub: {warned:#?}"
        );
    }
    // A valid token of such a row still needs no refresh token.
    let (sub, login) = s.logged_in("bad-row-valid").await;
    set_token(&s, &sub, AttributeValue::S(String::new())).await;
    s.sessions
        .session("token", &cookies(login.access_token().unwrap()))
        .await
        .unwrap();
}
