//! A misconfiguration never fails silently: it is logged, or answered as a configuration error.

use crate::capture::Capture;

use aws_credential_types::provider::{self, ProvideCredentials, SharedCredentialsProvider};
use aws_sdk_cognitoidentityprovider::types::{AuthFlowType, ExplicitAuthFlowsType};
use cognito_jwt::{ClaimsRejected, Rejected};
use cognito_session::{Error, Unauthorized};
use tracing::Level;

use testkit::{Fault, Proxy, Rule};

use crate::{cookies, minter, setup, Setup};

/// Log lines at INFO and above, captured for the current thread.
fn assert_refused(error: &Error, expected: &Rejected) {
    match error {
        Error::Unauthorized(Unauthorized::InvalidToken(reason)) => assert_eq!(reason, expected),
        other => panic!("expected a 401 for {expected}, got {other}"),
    }
    assert_eq!(error.status(), 401);
}

/// An access token of a second app client of `s`'s pool (signed by the pool's keys).
async fn other_clients_token(s: &Setup, username: &str) -> (String, String) {
    s.pool.user(username).await;
    let other = s
        .pool
        .cognito
        .create_user_pool_client()
        .user_pool_id(&s.pool.pool_id)
        .client_name("second-app")
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserPasswordAuth)
        .send()
        .await
        .unwrap()
        .user_pool_client
        .unwrap();
    let other_id = other.client_id().unwrap().to_owned();
    let login = s
        .pool
        .cognito
        .initiate_auth()
        .client_id(&other_id)
        .auth_flow(AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", username)
        .auth_parameters("PASSWORD", testkit::PASSWORD)
        .send()
        .await
        .unwrap()
        .authentication_result
        .unwrap();
    (other_id, login.access_token().unwrap().to_owned())
}

#[tokio::test]
async fn a_token_of_another_app_client_logs_one_warning_naming_client_id() {
    let s = setup().await;
    let (other_id, token) = other_clients_token(&s, "wrong-client").await;
    let capture = Capture::default();
    let _guard = capture.install(Level::INFO);
    for _ in 0..20 {
        assert_refused(
            &s.refused(&token).await,
            &Rejected::Claims(ClaimsRejected::Client),
        );
    }
    let warnings = capture.warnings();
    assert_eq!(
        warnings.len(),
        1,
        "one line for many requests: {warnings:#?}"
    );
    let line = &warnings[0];
    assert!(line.contains(&other_id), "names the token's client: {line}");
    assert!(
        line.contains(&s.pool.client_id),
        "names the configured client: {line}"
    );
    assert!(line.contains("CLIENT_ID"), "says what to check: {line}");
    assert!(
        !line.contains(&token[token.len() / 2..][..24]),
        "never the token"
    );
}

#[tokio::test]
async fn a_token_of_another_issuer_signed_by_the_pools_keys_logs_one_warning_naming_both_issuers() {
    let s = setup().await;
    let (_, login) = s.logged_in("wrong-region").await;
    let mut claims = testkit::peek(login.access_token().unwrap());
    let home = claims["iss"].as_str().unwrap().to_owned();
    // The same pool named in another Region (a Region mismatch), signed with the pool's key.
    let other = format!(
        "https://cognito-idp.ap-south-2.amazonaws.com/{}",
        s.pool.pool_id
    );
    claims["iss"] = other.clone().into();
    let token = minter().access(&claims);
    let capture = Capture::default();
    let _guard = capture.install(Level::INFO);
    for _ in 0..20 {
        assert_refused(
            &s.refused(&token).await,
            &Rejected::Claims(ClaimsRejected::Issuer),
        );
    }
    let warnings = capture.warnings();
    assert_eq!(
        warnings.len(),
        1,
        "one line for many requests: {warnings:#?}"
    );
    let line = &warnings[0];
    assert!(line.contains(&other) && line.contains(&home), "{line}");
    assert!(line.contains("USER_POOL_ID"), "says what to check: {line}");
}

/// Sessions with only the seed's three variables (the pool is learned), for app client
/// `client_id`.
async fn learning(s: &crate::Setup, client_id: &str) -> cognito_session::Sessions {
    cognito_session::Sessions::builder()
        .table(&s.pool.table)
        .partition_key(&s.pool.partition_key)
        .client_id(client_id)
        .sdk_config(s.pool.sdk.clone())
        .build()
        .await
        .unwrap()
}

/// The client id of a token refused while the pool is being learned is unverified text: it
/// reaches the log only as an escaped field, so it cannot forge log lines or terminal output.
#[tokio::test]
async fn an_unverified_client_id_reaches_the_log_escaped() {
    let s = setup().await;
    let (_, login) = s.logged_in("learning-escape").await;
    let sessions = learning(&s, &format!("escape-test-client-{}", std::process::id())).await;
    let capture = Capture::default();
    let _guard = capture.install(Level::INFO);
    let mut claims = testkit::peek(login.access_token().unwrap());
    claims["client_id"] = "x\nERROR forged line \u{1b}[31mred".into();
    let forged = minter().access(&claims);
    sessions
        .session("token", &crate::cookies(&forged))
        .await
        .unwrap_err();
    let text = capture.text();
    assert!(text.contains(r"x\nERROR forged line"), "{text}");
    assert!(
        !text.lines().any(|l| l.starts_with("ERROR forged")),
        "a forged line: {text}"
    );
    assert!(!text.contains('\u{1b}'), "a terminal escape: {text:?}");
}

#[tokio::test]
async fn a_wrong_client_id_while_learning_the_pool_logs_one_warning_naming_client_id() {
    let s = setup().await;
    let (_, login) = s.logged_in("learning-wrong-client").await;
    // Only the seed's variables, and a CLIENT_ID that is not the app client's.
    let wrong = format!("not-the-app-client-{}", std::process::id());
    let sessions = learning(&s, &wrong).await;
    let capture = Capture::default();
    let _guard = capture.install(Level::INFO);
    let token = login.access_token().unwrap();
    let mut claims = testkit::peek(token);
    for n in 0..20 {
        // The genuine token, and tokens naming ever other (made-up) client ids: one line.
        claims["client_id"] = format!("made-up-{n}").into();
        let forged = minter().access(&claims);
        for token in [token, forged.as_str()] {
            let error = sessions
                .session("token", &crate::cookies(token))
                .await
                .unwrap_err();
            assert_refused(&error, &Rejected::Claims(ClaimsRejected::Client));
        }
    }
    let warnings = capture.warnings();
    assert_eq!(warnings.len(), 1, "one line a minute: {warnings:#?}");
    let line = &warnings[0];
    assert!(
        line.contains(&s.pool.client_id) && line.contains(&wrong),
        "{line}"
    );
    assert!(
        line.contains("CLIENT_ID") && line.contains("USER_POOL_ID"),
        "{line}"
    );
    assert!(
        !line.contains(&token[token.len() / 2..][..24]),
        "never the token"
    );
}

#[tokio::test]
async fn a_forged_token_naming_another_client_logs_no_warning() {
    let s = setup().await;
    let (_, login) = s.logged_in("forged-client").await;
    let mut claims = testkit::peek(login.access_token().unwrap());
    claims["client_id"] = "someone-elses-client".into();
    // Signed by another key: nothing says the configuration is wrong.
    let token = testkit::Minter::random().access(&claims);
    let capture = Capture::default();
    let _guard = capture.install(Level::INFO);
    assert_refused(&s.refused(&token).await, &Rejected::Signature);
    assert_eq!(capture.warnings(), Vec::<String>::new());
}

/// `Sessions` for `s`'s pool whose clients talk to `endpoint` with `sdk` (and its credentials).
async fn sessions_with(s: &Setup, sdk: &aws_config::SdkConfig) -> cognito_session::Sessions {
    cognito_session::Sessions::builder()
        .table(&s.pool.table)
        .partition_key(&s.pool.partition_key)
        .client_id(&s.pool.client_id)
        .user_pool_id(&s.pool.pool_id)
        .jwks_url(s.pool.jwks_url())
        .cognito_client(aws_sdk_cognitoidentityprovider::Client::new(sdk))
        .dynamodb_client(aws_sdk_dynamodb::Client::new(sdk))
        .build()
        .await
        .unwrap()
}

fn assert_credentials_error(error: &Error, case: &str) {
    assert!(
        matches!(error, Error::Config { .. }),
        "{case}: a configuration error, not {error:?}"
    );
    assert_eq!(error.status(), 500, "{case}: {error}");
    assert!(
        error.to_string().contains("credentials"),
        "{case}: the message names the credentials: {error}"
    );
}

#[tokio::test]
async fn missing_aws_credentials_are_a_configuration_error() {
    let s = setup().await;
    let (sub, login) = s.logged_in("no-credentials").await;
    let sdk = aws_config::SdkConfig::builder()
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(&s.pool.moto.url)
        .behavior_version(aws_config::BehaviorVersion::latest())
        .build();
    let sessions = sessions_with(&s, &sdk).await;
    let token = login.access_token().unwrap();
    let error = sessions
        .session("token", &cookies(token))
        .await
        .unwrap_err();
    assert_credentials_error(&error, "reading the row");
    let error = sessions
        .session("token", &cookies(&s.expired_copy(token)))
        .await
        .unwrap_err();
    assert_credentials_error(&error, "refreshing");
    assert!(s.pool.row(&sub).await.is_some(), "the row is kept");

    // A credentials provider that finds none (the environment without AWS_ACCESS_KEY_ID).
    let sdk = sdk
        .into_builder()
        .credentials_provider(SharedCredentialsProvider::new(FindsNone))
        .build();
    let sessions = sessions_with(&s, &sdk).await;
    let error = sessions
        .session("token", &cookies(token))
        .await
        .unwrap_err();
    assert_credentials_error(&error, "a provider that finds none");
    assert!(error.to_string().contains("AWS_ACCESS_KEY_ID"), "{error}");
}

/// Like the SDK's environment provider in an environment without `AWS_ACCESS_KEY_ID`.
#[derive(Debug)]
struct FindsNone;

impl ProvideCredentials for FindsNone {
    fn provide_credentials<'a>(&'a self) -> provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        provider::future::ProvideCredentials::ready(Err(
            provider::error::CredentialsError::not_loaded("AWS_ACCESS_KEY_ID is not set"),
        ))
    }
}

#[tokio::test]
async fn aws_credentials_the_service_refuses_are_a_configuration_error() {
    let s = setup().await;
    let (sub, login) = s.logged_in("refused-credentials").await;
    let proxy = Proxy::start(&s.pool.moto.url).await;
    let sdk = testkit::sdk_config(&proxy.url).await;
    let sessions = sessions_with(&s, &sdk).await;
    proxy.inject(Rule::on(
        "GetItem",
        Fault::Aws("UnrecognizedClientException"),
    ));
    let error = sessions
        .session("token", &cookies(login.access_token().unwrap()))
        .await
        .unwrap_err();
    assert_credentials_error(&error, "UnrecognizedClientException");
    assert!(s.pool.row(&sub).await.is_some(), "the row is kept");
}

fn assert_unavailable_without_claiming_a_kept_session(error: &Error, case: &str) {
    assert!(
        matches!(error, Error::Unavailable { .. }),
        "{case}: {error:?}"
    );
    let message = error.to_string();
    assert!(message.contains("retry"), "{case}: {message}");
    assert!(
        !message.contains("kept"),
        "{case}: says only what is true where it is used: {message}"
    );
}

#[tokio::test]
async fn a_logout_or_a_token_check_that_fails_transiently_does_not_say_the_session_was_kept() {
    let s = setup().await;
    let (_, login) = s.logged_in("not-kept").await;
    let token = login.access_token().unwrap();
    // Logout with DynamoDB down.
    let sessions = crate::sessions_via(&s, &crate::dead_endpoint(), |b| b).await;
    let error = sessions.end("token", &cookies(token)).await.unwrap_err();
    assert_unavailable_without_claiming_a_kept_session(&error, "logout");
    // `token verify` (no session involved) with the JWKS endpoint down.
    let sessions = crate::builder(&s.pool)
        .0
        .jwks_url(format!("{}/jwks.json", crate::dead_endpoint()))
        .build()
        .await
        .unwrap();
    let error = sessions.verify(token).await.unwrap_err();
    assert_unavailable_without_claiming_a_kept_session(&error, "token verify");
}

#[tokio::test]
async fn a_session_check_that_fails_transiently_logs_that_the_session_was_kept() {
    let s = setup().await;
    let (_, login) = s.logged_in("kept").await;
    let sessions = crate::sessions_via(&s, &crate::dead_endpoint(), |b| b).await;
    let capture = Capture::default();
    let _guard = capture.install(Level::INFO);
    let error = sessions
        .session("token", &cookies(login.access_token().unwrap()))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Unavailable { .. }), "{error:?}");
    let warnings = capture.warnings();
    assert!(
        warnings
            .iter()
            .any(|l| l.contains("session check failed; the session (if any) was kept, retry")),
        "{warnings:#?}"
    );
}
