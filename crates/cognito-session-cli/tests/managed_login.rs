//! The managed-login fake driven by a plain HTTP client: the code + PKCE flow against moto, and
//! every refusal Cognito documents.

use std::time::Duration;

use aws_lc_rs::digest;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use cognito_jwt::{TokenUse, Verifier};
use serde_json::Value;
use testkit::managed_login::{HttpBrowser as Browser, Reply, INCORRECT};
use testkit::{ManagedLogin, Pool, PoolOptions, PASSWORD};

const CALLBACK: &str = "http://127.0.0.1:9/callback";
const OTHER_CALLBACK: &str = "http://127.0.0.1:9/other";
const SIGNED_OUT: &str = "http://127.0.0.1:9/";
/// HTTP Basic credentials (client id, secret), if any.
type Basic<'a> = Option<(&'a str, &'a str)>;

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, verifier.as_bytes()).as_ref())
}

/// An authorize query for `client_id` with PKCE, a state and a nonce.
fn query(client_id: &str, redirect_uri: &str) -> String {
    form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("state", "state-123")
        .append_pair("nonce", "nonce-456")
        .append_pair("scope", "openid email")
        .append_pair("code_challenge", &challenge(VERIFIER))
        .append_pair("code_challenge_method", "S256")
        .finish()
}

async fn setup(secret: bool) -> (Pool, ManagedLogin) {
    let mut options = PoolOptions::managed_login(CALLBACK, SIGNED_OUT);
    options.callback_urls.push(OTHER_CALLBACK.into());
    options.secret = secret;
    let pool = Pool::new(options).await;
    let login = pool.managed_login().await;
    (pool, login)
}

/// A POST to the token endpoint with these form fields, HTTP Basic when `basic` is given.
async fn token(
    login: &ManagedLogin,
    fields: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> Reply {
    let mut headers = vec![(
        "content-type",
        "application/x-www-form-urlencoded".to_owned(),
    )];
    if let Some((id, secret)) = basic {
        headers.push((
            "authorization",
            format!("Basic {}", STANDARD.encode(format!("{id}:{secret}"))),
        ));
    }
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish();
    Browser::new()
        .send(
            "POST",
            &format!("{}/oauth2/token", login.base_url()),
            &headers,
            body,
        )
        .await
}

/// Signs `username` in with a fresh browser; returns the browser and the code.
async fn code_for(pool: &Pool, login: &ManagedLogin, username: &str) -> (Browser, String) {
    let mut browser = Browser::new();
    let back = browser
        .sign_in(login, &query(&pool.client_id, CALLBACK), username, PASSWORD)
        .await;
    assert_eq!(back.status, 302, "{}", back.body);
    let params = back.redirect_params();
    (browser, params["code"].clone())
}

fn exchange<'a>(
    pool: &'a Pool,
    code: &'a str,
    redirect_uri: &'a str,
    verifier: Option<&'a str>,
) -> Vec<(&'a str, &'a str)> {
    let mut fields = vec![
        ("grant_type", "authorization_code"),
        ("client_id", pool.client_id.as_str()),
        ("code", code),
        ("redirect_uri", redirect_uri),
    ];
    fields.extend(verifier.map(|v| ("code_verifier", v)));
    fields
}

fn verifier(pool: &Pool, token_use: TokenUse) -> Verifier {
    Verifier::builder()
        .user_pool(&pool.pool_id)
        .client_id(&pool.client_id)
        .emulator(&pool.moto.url)
        .token_use(token_use)
        .build()
        .unwrap()
}

#[tokio::test]
async fn code_and_pkce_flow_gives_moto_tokens_that_verify_with_the_nonce() {
    let (pool, login) = setup(false).await;
    let sub = pool.user("ml-ada").await;
    pool.set_attributes(
        "ml-ada",
        &[("email", "ada@example.com"), ("email_verified", "true")],
    )
    .await;
    let mut browser = Browser::new();
    let back = browser
        .sign_in(
            &login,
            &query(&pool.client_id, CALLBACK),
            "ml-ada",
            PASSWORD,
        )
        .await;
    assert_eq!(back.status, 302, "{}", back.body);
    assert!(back
        .location()
        .unwrap()
        .starts_with(&format!("{CALLBACK}?")));
    let params = back.redirect_params();
    assert_eq!(params["state"], "state-123");
    let session_cookie = back
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|c| c.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("cognito="))
        .expect("a managed-login session cookie");
    assert!(session_cookie.contains("HttpOnly"), "{session_cookie}");
    assert_eq!(login.sign_ins(), 1);

    let answer = token(
        &login,
        &exchange(&pool, &params["code"], CALLBACK, Some(VERIFIER)),
        None,
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(login.token_requests(), 1);
    let tokens = answer.json();
    assert_eq!(tokens["token_type"], "Bearer");
    assert!(tokens["expires_in"].as_i64().unwrap() > 0);
    assert!(tokens["refresh_token"]
        .as_str()
        .is_some_and(|t| !t.is_empty()));

    let access = verifier(&pool, TokenUse::Access)
        .verify(tokens["access_token"].as_str().unwrap())
        .await
        .expect("the access token verifies against moto's JWKS");
    assert_eq!((access.sub(), access.username()), (sub.as_str(), "ml-ada"));
    let id = verifier(&pool, TokenUse::Id)
        .verify(tokens["id_token"].as_str().unwrap())
        .await
        .expect("the re-signed ID token verifies against moto's JWKS");
    assert_eq!(id.sub(), sub);
    assert_eq!(id.get("nonce"), Some(&Value::from("nonce-456")));
    assert_eq!(id.email(), Some("ada@example.com"));
    assert_eq!(id.email_verified(), Some(true));
    assert_eq!(
        testkit::peek(tokens["id_token"].as_str().unwrap())["cognito:username"],
        "ml-ada"
    );

    // The refresh token is moto's own: InitiateAuth at moto accepts it.
    let refreshed = pool
        .cognito
        .initiate_auth()
        .client_id(&pool.client_id)
        .auth_flow(aws_sdk_cognitoidentityprovider::types::AuthFlowType::RefreshTokenAuth)
        .auth_parameters("REFRESH_TOKEN", tokens["refresh_token"].as_str().unwrap())
        .send()
        .await;
    assert!(refreshed.is_ok(), "{refreshed:?}");
}

#[tokio::test]
async fn an_unregistered_redirect_uri_or_unknown_client_gets_an_error_page_not_a_redirect() {
    let (pool, login) = setup(false).await;
    let mut browser = Browser::new();
    let wrong = browser
        .get(&format!(
            "{}/oauth2/authorize?{}",
            login.base_url(),
            query(&pool.client_id, "http://127.0.0.1:9/evil")
        ))
        .await;
    assert_eq!(wrong.status, 400);
    assert_eq!(wrong.location(), None);
    assert!(wrong.body.contains("redirect_mismatch"), "{}", wrong.body);

    let unknown = browser
        .get(&format!(
            "{}/oauth2/authorize?{}",
            login.base_url(),
            query("no-such-client", CALLBACK)
        ))
        .await;
    assert_eq!(unknown.status, 400);
    assert_eq!(unknown.location(), None);
}

#[tokio::test]
async fn other_authorize_errors_go_back_to_the_redirect_uri_with_the_state() {
    let (pool, login) = setup(false).await;
    let mut browser = Browser::new();
    let base = query(&pool.client_id, CALLBACK);
    let cases = [
        (base.replace("response_type=code&", ""), "invalid_request"),
        (
            base.replace("response_type=code", "response_type=id_token"),
            "unsupported_response_type",
        ),
        (
            base.replace("code_challenge_method=S256", "code_challenge_method=plain"),
            "invalid_request",
        ),
        (
            base.replace("&code_challenge_method=S256", ""),
            "invalid_request",
        ),
        (
            base.replace("scope=openid+email", "scope=openid+phone"),
            "invalid_scope",
        ),
    ];
    for (query, error) in cases {
        let answer = browser
            .get(&format!("{}/oauth2/authorize?{query}", login.base_url()))
            .await;
        assert_eq!(answer.status, 302, "{query}");
        assert!(answer.location().unwrap().starts_with(CALLBACK), "{query}");
        let params = answer.redirect_params();
        assert_eq!(
            (params["error"].as_str(), params["state"].as_str()),
            (error, "state-123"),
            "{query}"
        );
    }

    // An app client with the callback URL but without the code flow.
    let plain = pool
        .cognito
        .create_user_pool_client()
        .user_pool_id(&pool.pool_id)
        .client_name("no-oauth")
        .callback_urls(CALLBACK)
        .send()
        .await
        .unwrap()
        .user_pool_client
        .unwrap();
    let answer = browser
        .get(&format!(
            "{}/oauth2/authorize?{}",
            login.base_url(),
            query(plain.client_id().unwrap(), CALLBACK)
        ))
        .await;
    assert_eq!(answer.redirect_params()["error"], "unauthorized_client");
}

#[tokio::test]
async fn a_wrong_password_or_unknown_user_shows_the_form_again() {
    let (pool, login) = setup(false).await;
    pool.user("ml-bob").await;
    for (username, password) in [("ml-bob", "Wrong-password-1!"), ("ml-nobody", PASSWORD)] {
        let mut browser = Browser::new();
        let answer = browser
            .sign_in(
                &login,
                &query(&pool.client_id, CALLBACK),
                username,
                password,
            )
            .await;
        assert_eq!(answer.status, 200, "{username}");
        assert_eq!(answer.location(), None);
        assert!(answer.body.contains(INCORRECT), "{}", answer.body);
        assert!(answer.body.contains("<form"), "{}", answer.body);
        assert!(!browser.jar.contains_key("cognito"));
    }
    assert_eq!(login.sign_ins(), 0);
}

#[tokio::test]
async fn the_sign_in_form_refuses_a_post_without_its_csrf_token() {
    let (pool, login) = setup(false).await;
    pool.user("ml-csrf").await;
    let body = format!("username=ml-csrf&password={PASSWORD}");
    let answer = Browser::new()
        .send(
            "POST",
            &format!(
                "{}/login?{}",
                login.base_url(),
                query(&pool.client_id, CALLBACK)
            ),
            &[(
                "content-type",
                "application/x-www-form-urlencoded".to_owned(),
            )],
            body,
        )
        .await;
    assert_eq!(answer.status, 403);
    assert_eq!(login.sign_ins(), 0);
}

#[tokio::test]
async fn the_code_is_bound_to_the_redirect_uri_and_the_pkce_verifier() {
    let (pool, login) = setup(false).await;
    pool.user("ml-carol").await;
    let cases: [(&str, Option<&str>); 3] = [
        (OTHER_CALLBACK, Some(VERIFIER)),
        (
            CALLBACK,
            Some("a-different-verifier-of-the-right-length-0123456789"),
        ),
        (CALLBACK, None),
    ];
    for (redirect_uri, code_verifier) in cases {
        let (_, code) = code_for(&pool, &login, "ml-carol").await;
        let answer = token(
            &login,
            &exchange(&pool, &code, redirect_uri, code_verifier),
            None,
        )
        .await;
        assert_eq!(
            (answer.status, answer.json()["error"].as_str()),
            (400, Some("invalid_grant")),
            "{redirect_uri} {code_verifier:?}"
        );
    }
    // The same request with the right values passes.
    let (_, code) = code_for(&pool, &login, "ml-carol").await;
    let answer = token(
        &login,
        &exchange(&pool, &code, CALLBACK, Some(VERIFIER)),
        None,
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
}

#[tokio::test]
async fn a_code_works_once_and_expires() {
    let (pool, login) = setup(false).await;
    pool.user("ml-dave").await;
    let (_, code) = code_for(&pool, &login, "ml-dave").await;
    let first = token(
        &login,
        &exchange(&pool, &code, CALLBACK, Some(VERIFIER)),
        None,
    )
    .await;
    assert_eq!(first.status, 200, "{}", first.body);
    let again = token(
        &login,
        &exchange(&pool, &code, CALLBACK, Some(VERIFIER)),
        None,
    )
    .await;
    assert_eq!(
        (again.status, again.json()["error"].as_str()),
        (400, Some("invalid_grant"))
    );

    login.set_code_lifetime(Duration::ZERO);
    let (_, code) = code_for(&pool, &login, "ml-dave").await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    let late = token(
        &login,
        &exchange(&pool, &code, CALLBACK, Some(VERIFIER)),
        None,
    )
    .await;
    assert_eq!(late.json()["error"], "invalid_grant");
    assert_eq!(login.token_requests(), 3);
}

#[tokio::test]
async fn a_secret_client_authenticates_with_basic_or_post_and_is_refused_without() {
    let (pool, login) = setup(true).await;
    pool.user("ml-erin").await;
    let secret = pool.client_secret.clone().unwrap();
    let id = pool.client_id.clone();
    let refused: [(Basic, Option<&str>); 4] = [
        (None, None),                              // client_id alone
        (Some((&id, "wrong-secret")), None),       // wrong secret in Basic
        (None, Some("wrong-secret")),              // wrong client_secret_post
        (Some(("no-such-client", &secret)), None), // unknown client
    ];
    for (basic, post_secret) in refused {
        let (_, code) = code_for(&pool, &login, "ml-erin").await;
        let mut fields = exchange(&pool, &code, CALLBACK, Some(VERIFIER));
        if basic.is_some() {
            fields.retain(|(k, _)| *k != "client_id");
        }
        fields.extend(post_secret.map(|s| ("client_secret", s)));
        let answer = token(&login, &fields, basic).await;
        assert_eq!(
            (answer.status, answer.json()["error"].as_str()),
            (400, Some("invalid_client")),
            "{basic:?} {post_secret:?}"
        );
    }
    let (_, code) = code_for(&pool, &login, "ml-erin").await;
    let basic = token(
        &login,
        &exchange(&pool, &code, CALLBACK, Some(VERIFIER)),
        Some((&id, &secret)),
    )
    .await;
    assert_eq!(basic.status, 200, "{}", basic.body);
    let (_, code) = code_for(&pool, &login, "ml-erin").await;
    let mut fields = exchange(&pool, &code, CALLBACK, Some(VERIFIER));
    fields.push(("client_secret", &secret));
    let post = token(&login, &fields, None).await;
    assert_eq!(post.status, 200, "{}", post.body);
}

#[tokio::test]
async fn refresh_token_grant_answers_new_tokens_and_refuses_a_revoked_one() {
    let (pool, login) = setup(false).await;
    pool.user("ml-frank").await;
    let (_, code) = code_for(&pool, &login, "ml-frank").await;
    let tokens = token(
        &login,
        &exchange(&pool, &code, CALLBACK, Some(VERIFIER)),
        None,
    )
    .await
    .json();
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    let fields = [
        ("grant_type", "refresh_token"),
        ("client_id", pool.client_id.as_str()),
        ("refresh_token", refresh_token),
    ];
    let answer = token(&login, &fields, None).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let refreshed = answer.json();
    assert_eq!(refreshed["token_type"], "Bearer");
    assert!(refreshed.get("refresh_token").is_none(), "{refreshed}");
    assert_ne!(refreshed["access_token"], tokens["access_token"]);
    verifier(&pool, TokenUse::Access)
        .verify(refreshed["access_token"].as_str().unwrap())
        .await
        .unwrap();
    verifier(&pool, TokenUse::Id)
        .verify(refreshed["id_token"].as_str().unwrap())
        .await
        .unwrap();

    pool.global_sign_out("ml-frank").await;
    let revoked = token(&login, &fields, None).await;
    assert_eq!(
        (revoked.status, revoked.json()["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}

#[tokio::test]
async fn malformed_token_requests_get_the_documented_errors() {
    let (pool, login) = setup(false).await;
    let id = pool.client_id.as_str();
    let cases: [(&[(&str, &str)], &str); 4] = [
        (
            &[("grant_type", "password"), ("client_id", id)],
            "unsupported_grant_type",
        ),
        (&[("client_id", id)], "invalid_request"),
        (
            &[
                ("grant_type", "authorization_code"),
                ("client_id", id),
                ("code", "x"),
            ],
            "invalid_request",
        ),
        (
            &[
                ("grant_type", "authorization_code"),
                ("client_id", id),
                ("code", "no-such-code"),
                ("redirect_uri", CALLBACK),
            ],
            "invalid_grant",
        ),
    ];
    for (fields, error) in cases {
        let answer = token(&login, fields, None).await;
        assert_eq!(
            (answer.status, answer.json()["error"].as_str()),
            (400, Some(error)),
            "{fields:?}"
        );
    }
    let json_body = Browser::new()
        .send(
            "POST",
            &format!("{}/oauth2/token", login.base_url()),
            &[("content-type", "application/json".to_owned())],
            "{}".into(),
        )
        .await;
    assert_eq!(json_body.json()["error"], "invalid_request");
}

#[tokio::test]
async fn a_managed_login_session_skips_the_form_until_logout() {
    let (pool, login) = setup(false).await;
    pool.user("ml-grace").await;
    let (mut browser, _) = code_for(&pool, &login, "ml-grace").await;
    let authorize = format!(
        "{}/oauth2/authorize?{}",
        login.base_url(),
        query(&pool.client_id, CALLBACK)
    );

    let again = browser.get(&authorize).await;
    assert_eq!(again.status, 302);
    assert!(
        again.location().unwrap().starts_with(CALLBACK),
        "{:?}",
        again.location()
    );
    let code = again.redirect_params()["code"].clone();
    let answer = token(
        &login,
        &exchange(&pool, &code, CALLBACK, Some(VERIFIER)),
        None,
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(login.sign_ins(), 1, "no second password sign-in");

    // Another browser has no session.
    let stranger = Browser::new().get(&authorize).await;
    assert!(stranger.location().unwrap().starts_with("/login?"));

    let logout = |uri: &str| {
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("client_id", &pool.client_id)
            .append_pair("logout_uri", uri)
            .finish();
        format!("{}/logout?{query}", login.base_url())
    };
    let refused = browser.get(&logout("http://127.0.0.1:9/elsewhere")).await;
    assert_eq!((refused.status, refused.location()), (400, None));
    assert!(
        browser
            .get(&authorize)
            .await
            .location()
            .unwrap()
            .starts_with(CALLBACK),
        "session kept"
    );

    let out = browser.get(&logout(SIGNED_OUT)).await;
    assert_eq!(
        (out.status, out.location().as_deref()),
        (302, Some(SIGNED_OUT))
    );
    assert!(
        !browser.jar.contains_key("cognito"),
        "the session cookie is cleared"
    );
    let after = browser.get(&authorize).await;
    assert!(
        after.location().unwrap().starts_with("/login?"),
        "{:?}",
        after.location()
    );
}

#[tokio::test]
async fn a_replayed_session_cookie_is_dead_after_logout() {
    let (pool, login) = setup(false).await;
    pool.user("ml-heidi").await;
    let (mut browser, _) = code_for(&pool, &login, "ml-heidi").await;
    let stolen = browser.jar.clone();
    let out = browser
        .get(&format!(
            "{}/logout?client_id={}&logout_uri={}",
            login.base_url(),
            pool.client_id,
            SIGNED_OUT
        ))
        .await;
    assert_eq!(out.status, 302);
    let mut replay = Browser::new();
    replay.jar = stolen;
    let authorize = format!(
        "{}/oauth2/authorize?{}",
        login.base_url(),
        query(&pool.client_id, CALLBACK)
    );
    assert!(replay
        .get(&authorize)
        .await
        .location()
        .unwrap()
        .starts_with("/login?"));
}

#[tokio::test]
async fn user_info_answers_the_attributes_for_a_valid_access_token() {
    let (pool, login) = setup(false).await;
    let sub = pool.user("ml-ivan").await;
    pool.set_attributes(
        "ml-ivan",
        &[("email", "ivan@example.com"), ("email_verified", "true")],
    )
    .await;
    let (_, code) = code_for(&pool, &login, "ml-ivan").await;
    let tokens = token(
        &login,
        &exchange(&pool, &code, CALLBACK, Some(VERIFIER)),
        None,
    )
    .await
    .json();
    let url = format!("{}/oauth2/userInfo", login.base_url());
    let bearer = |t: &str| vec![("authorization", format!("Bearer {t}"))];

    let info = Browser::new()
        .send(
            "GET",
            &url,
            &bearer(tokens["access_token"].as_str().unwrap()),
            String::new(),
        )
        .await;
    assert_eq!(info.status, 200, "{}", info.body);
    let info = info.json();
    assert_eq!(info["sub"], sub.as_str());
    assert_eq!(info["username"], "ml-ivan");
    assert_eq!(info["email"], "ivan@example.com");
    assert_eq!(info["email_verified"], "true");

    let bad = Browser::new()
        .send("GET", &url, &bearer("not-a-token"), String::new())
        .await;
    assert_eq!(bad.status, 401);
    let challenge = bad
        .headers
        .get("www-authenticate")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(challenge.contains("invalid_token"), "{challenge}");
    let missing = Browser::new().get(&url).await;
    assert_eq!(missing.status, 400);
}

#[tokio::test]
async fn the_token_endpoint_can_fail_hang_and_heal() {
    let (pool, login) = setup(false).await;
    pool.user("ml-judy").await;
    let (_, code) = code_for(&pool, &login, "ml-judy").await;
    let fields = exchange(&pool, &code, CALLBACK, Some(VERIFIER));

    login.fail_token_endpoint(503);
    assert_eq!(token(&login, &fields, None).await.status, 503);
    login.hang_token_endpoint();
    let hung = tokio::time::timeout(Duration::from_millis(300), token(&login, &fields, None)).await;
    assert!(hung.is_err(), "the token endpoint should not answer");
    login.heal();
    let answer = token(&login, &fields, None).await;
    assert_eq!(
        answer.status, 200,
        "a failed or hung request does not consume the code: {}",
        answer.body
    );
    assert_eq!(login.token_requests(), 3);
}
