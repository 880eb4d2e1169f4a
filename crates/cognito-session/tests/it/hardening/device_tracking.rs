//! 1. Device tracking: the device key stored at login and sent on every refresh.
//!
//! moto does not track devices, so Cognito's part runs in `testkit::FakeCognito` (device
//! tracking on): it answers `ConfirmDevice`, and refuses a refresh whose `DEVICE_KEY` is missing,
//! unknown or unconfirmed with real Cognito's `NotAuthorizedException` "Invalid Refresh Token." (with the period).
//! The logins are real moto logins, given the device metadata the fake issued.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_cognitoidentityprovider::types::{AuthenticationResultType, NewDeviceMetadataType};
use aws_sdk_dynamodb::types::AttributeValue;
use cognito_session::{Error, Sessions, Tokens};
use testkit::{FakeCognito, Fault, Proxy, RememberDevices, Rule};

use crate::{cookies, sessions_via, setup, Setup};

/// A pool on moto whose Cognito calls go through a fake that tracks devices.
async fn tracking(remember: RememberDevices) -> (Setup, Arc<FakeCognito>, Proxy) {
    let s = setup().await;
    let fake = Arc::new(FakeCognito::new(
        &s.pool.issuer(),
        &s.pool.client_id,
        Duration::from_secs(30),
    ));
    fake.track_devices(remember);
    let proxy = Proxy::with_fake(&s.pool.moto.url, fake.clone()).await;
    (s, fake, proxy)
}

/// A real moto login of a new user, plus the `NewDeviceMetadata` the fake issued for it.
async fn login_on_new_device(
    s: &Setup,
    fake: &FakeCognito,
    username: &str,
) -> (String, AuthenticationResultType, String) {
    let sub = s.pool.user(username).await;
    let login = s.pool.login(username).await;
    let (device_key, group_key) = fake.register_with_device(
        login.refresh_token().unwrap(),
        login.access_token().unwrap(),
    );
    let login = AuthenticationResultType::builder()
        .set_access_token(login.access_token().map(str::to_owned))
        .set_id_token(login.id_token().map(str::to_owned))
        .set_refresh_token(login.refresh_token().map(str::to_owned))
        .expires_in(login.expires_in())
        .token_type("Bearer")
        .new_device_metadata(
            NewDeviceMetadataType::builder()
                .device_key(&device_key)
                .device_group_key(group_key)
                .build(),
        )
        .build();
    (sub, login, device_key)
}

fn stored_device_key(row: &std::collections::HashMap<String, AttributeValue>) -> Option<String> {
    row.get("device_key").and_then(|v| v.as_s().ok()).cloned()
}

/// Starts a session for `login`, then refreshes its expired token: 200 with a new cookie.
async fn refreshes_with_its_device_key(
    s: &Setup,
    sessions: &Sessions,
    login: &AuthenticationResultType,
) {
    let expired = s.expired_copy(login.access_token().unwrap());
    let session = sessions.session("token", &cookies(&expired)).await.unwrap();
    let cookie = session.set_cookie("token").expect("a new cookie");
    let new_token = &session.refreshed().unwrap().access_token;
    assert!(
        cookie.starts_with(&format!("token={new_token}")),
        "{cookie}"
    );
    // The new token works as is.
    sessions
        .session("token", &cookies(new_token))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_login_with_a_new_device_confirms_it_and_stores_its_key() {
    let (s, fake, proxy) = tracking(RememberDevices::UserOptIn).await;
    let sessions = sessions_via(&s, &proxy.url, |b| b).await;
    let (sub, login, device_key) = login_on_new_device(&s, &fake, "new-device").await;
    let tokens = Tokens::from(&login);
    assert_eq!(
        tokens
            .new_device_metadata
            .as_ref()
            .map(|d| d.device_key.as_str()),
        Some(device_key.as_str())
    );
    sessions.start(&tokens).await.unwrap();
    assert_eq!(proxy.count("ConfirmDevice"), 1);
    assert!(fake.confirmed(&device_key), "start confirms the device");
    let row = s.pool.row(&sub).await.expect("the session row");
    assert_eq!(stored_device_key(&row), Some(device_key.clone()));
    let listed = sessions.list(&sub).await.unwrap();
    assert_eq!(listed[0].device_key.as_deref(), Some(device_key.as_str()));
}

#[tokio::test]
async fn a_device_tracking_pool_refreshes_with_the_stored_device_key() {
    let (s, fake, proxy) = tracking(RememberDevices::UserOptIn).await;
    let sessions = sessions_via(&s, &proxy.url, |b| b).await;
    let (sub, login, device_key) = login_on_new_device(&s, &fake, "tracked").await;
    sessions.start(&Tokens::from(&login)).await.unwrap();
    refreshes_with_its_device_key(&s, &sessions, &login).await;
    assert_eq!(proxy.count("InitiateAuth"), 1);
    assert_eq!(fake.device_keys_sent(), vec![Some(device_key.clone())]);
    // The row keeps its device key for the next refresh.
    let row = s.pool.row(&sub).await.unwrap();
    assert_eq!(stored_device_key(&row), Some(device_key));
}

#[tokio::test]
async fn a_remember_devices_always_pool_refreshes_normally() {
    let (s, fake, proxy) = tracking(RememberDevices::Always).await;
    let sessions = sessions_via(&s, &proxy.url, |b| b).await;
    let (_, login, device_key) = login_on_new_device(&s, &fake, "always").await;
    sessions.start(&Tokens::from(&login)).await.unwrap();
    assert!(fake.confirmed(&device_key));
    // Every request of the next hour, then the refresh, then the refreshed token.
    sessions
        .session("token", &cookies(login.access_token().unwrap()))
        .await
        .unwrap();
    refreshes_with_its_device_key(&s, &sessions, &login).await;
    assert_eq!(fake.device_keys_sent(), vec![Some(device_key)]);
}

#[tokio::test]
async fn a_device_tracking_pool_with_rotation_sends_the_device_key() {
    let (s, fake, proxy) = tracking(RememberDevices::Always).await;
    let sessions = sessions_via(&s, &proxy.url, |b| b.refresh_token_rotation(true)).await;
    let (_, login, device_key) = login_on_new_device(&s, &fake, "rotating-device").await;
    sessions.start(&Tokens::from(&login)).await.unwrap();
    refreshes_with_its_device_key(&s, &sessions, &login).await;
    assert_eq!(proxy.count("GetTokensFromRefreshToken"), 1);
    assert_eq!(fake.device_keys_sent(), vec![Some(device_key)]);
}

#[tokio::test]
async fn a_device_that_cannot_be_confirmed_transiently_starts_no_session() {
    let (s, fake, proxy) = tracking(RememberDevices::Always).await;
    let sessions = sessions_via(&s, &proxy.url, |b| b).await;
    let (sub, login, device_key) = login_on_new_device(&s, &fake, "unconfirmed").await;
    proxy.inject(Rule::on("ConfirmDevice", Fault::Throttled));
    let error = sessions.start(&Tokens::from(&login)).await.unwrap_err();
    assert_eq!(error.status(), 503, "{error}");
    assert!(matches!(error, Error::Unavailable { .. }), "{error}");
    assert!(!fake.confirmed(&device_key));
    assert!(
        s.pool.row(&sub).await.is_none(),
        "no session that would die at its first refresh"
    );
    // The login can simply be tried again.
    proxy.heal();
    sessions.start(&Tokens::from(&login)).await.unwrap();
    assert!(fake.confirmed(&device_key));
    assert!(s.pool.row(&sub).await.is_some());
}

#[tokio::test]
async fn a_device_that_cognito_refuses_to_confirm_starts_no_session() {
    let (s, fake, proxy) = tracking(RememberDevices::Always).await;
    let sessions = sessions_via(&s, &proxy.url, |b| b).await;
    let (sub, login, _) = login_on_new_device(&s, &fake, "refused-device").await;
    // A device key that is not this login's: Cognito's InvalidParameterException.
    let mut tokens = Tokens::from(&login);
    if let Some(device) = tokens.new_device_metadata.as_mut() {
        device.device_key = "us-east-1_00000000-0000-4000-8000-000000000000".into();
    }
    let error = sessions.start(&tokens).await.unwrap_err();
    assert_eq!(error.status(), 500, "{error}");
    let message = error.to_string();
    assert!(
        message.contains("ConfirmDevice") && message.contains("InvalidParameterException"),
        "{message}"
    );
    assert!(s.pool.row(&sub).await.is_none());
}

#[tokio::test]
async fn an_already_confirmed_device_is_accepted() {
    let (s, fake, proxy) = tracking(RememberDevices::Always).await;
    let sessions = sessions_via(&s, &proxy.url, |b| b).await;
    let (sub, login, device_key) = login_on_new_device(&s, &fake, "confirmed-twice").await;
    sessions.start(&Tokens::from(&login)).await.unwrap();
    // The same login started again: Cognito answers DeviceKeyExistsException.
    sessions.start(&Tokens::from(&login)).await.unwrap();
    assert_eq!(proxy.count("ConfirmDevice"), 2);
    let row = s.pool.row(&sub).await.unwrap();
    assert_eq!(stored_device_key(&row), Some(device_key));
    refreshes_with_its_device_key(&s, &sessions, &login).await;
}

#[tokio::test]
async fn rows_with_and_without_a_device_key_refresh_against_moto() {
    let s = setup().await;
    // A row written by a login on a tracked device (moto ignores DEVICE_KEY), ...
    let tracked_sub = s.pool.user("row-with-device").await;
    let tracked = s.pool.login("row-with-device").await;
    s.pool
        .put_seed_row(&tracked_sub, tracked.refresh_token().unwrap())
        .await;
    s.pool
        .dynamodb
        .update_item()
        .table_name(&s.pool.table)
        .key(
            &s.pool.partition_key,
            AttributeValue::S(tracked_sub.clone()),
        )
        .update_expression("SET device_key = :d")
        .expression_attribute_values(":d", AttributeValue::S("us-east-1_4f3e2d1c".into()))
        .send()
        .await
        .unwrap();
    // ... and a seed row, which has none.
    let seed_sub = s.pool.user("row-without-device").await;
    let seed = s.pool.login("row-without-device").await;
    s.pool
        .put_seed_row(&seed_sub, seed.refresh_token().unwrap())
        .await;

    for (sub, login, key) in [
        (&tracked_sub, &tracked, Some("us-east-1_4f3e2d1c")),
        (&seed_sub, &seed, None),
    ] {
        let listed = s.sessions.list(sub).await.unwrap();
        assert_eq!(listed[0].device_key.as_deref(), key);
        let expired = s.expired_copy(login.access_token().unwrap());
        let session = s
            .sessions
            .session("token", &cookies(&expired))
            .await
            .unwrap();
        assert!(session.set_cookie("token").is_some());
        let row = s.pool.row(sub).await.unwrap();
        assert_eq!(stored_device_key(&row).as_deref(), key);
    }
    assert_eq!(s.calls.count("InitiateAuth"), 2);
}
