//! 8. Deadlines and cookies in the layer.
//!
//! `SessionLayer` bounds every call by the Lambda deadline `lambda_http` puts in the request
//! (0: unknown), every `Set-Cookie` the library hands out carries the configured prefix, `Domain`
//! and `Path` (the one that clears a dead cookie too, in the layer and in the examples), a token
//! too large for a cookie is a 500 that names the cause, and CORS preflights pass the layer.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cognito_session::{CookieOptions, CookiePrefix};
use cognito_session::{Error, RequestSessionExt, SessionLayer, SessionsBuilder, Tokens};
use lambda_http::request::LambdaRequest;
use lambda_http::tower::{ServiceBuilder, ServiceExt};
use lambda_http::{service_fn, Adapter, Body, Context, LambdaEvent, Request, Response, Service};
use serde_json::{json, Value};
use testkit::{Fault, Function, Outcome, Proxy, Rule, RuntimeApi};

use crate::events::{event_with_cookie, FIXTURES};
use crate::{context_until, example, setup, setup_with, strings, Setup};

/// HTTP API (v2): `Set-Cookie` comes back in the `cookies` array.
const V2: &str = "apigw_v2_proxy_request.json";

/// What the handler saw: one entry per call, the session's `sub` if any.
type Seen = Arc<Mutex<Vec<Option<String>>>>;

/// A handler that records the session and answers 200, or 204 with CORS headers to a preflight.
fn handler(
    seen: Seen,
) -> impl Service<
    Request,
    Response = Response<Body>,
    Error = lambda_http::Error,
    Future = impl std::future::Future<Output = Result<Response<Body>, lambda_http::Error>> + Send,
> + Clone
       + Send
       + 'static {
    service_fn(move |request: Request| {
        let seen = seen.clone();
        async move {
            seen.lock()
                .unwrap()
                .push(request.session().map(|s| s.sub().to_owned()));
            let response = if request.method() == http::Method::OPTIONS {
                Response::builder()
                    .status(204)
                    .header("access-control-allow-origin", "https://app.example.com")
                    .header("access-control-allow-methods", "GET, POST")
                    .header("access-control-allow-credentials", "true")
                    .body(Body::Empty)?
            } else {
                Response::builder()
                    .status(200)
                    .header("content-type", "application/json")
                    .body(Body::from(r#"{"ok":true}"#))?
            };
            Ok::<_, lambda_http::Error>(response)
        }
    })
}

/// `event` through `lambda_http`'s adapter around `layer(handler)`, with `context` as the
/// runtime would pass it; the JSON the runtime would post back.
async fn through_layer(layer: SessionLayer, seen: &Seen, event: Value, context: Context) -> Value {
    let service = ServiceBuilder::new()
        .layer(layer)
        .service(handler(seen.clone()));
    let mut adapter: Adapter<'static, Response<Body>, _> = Adapter::from(service);
    let request: LambdaRequest = serde_json::from_value(event).expect("a Lambda HTTP event");
    let response = adapter
        .ready()
        .await
        .unwrap()
        .call(LambdaEvent::new(request, context))
        .await
        .unwrap();
    serde_json::to_value(&response).unwrap()
}

/// An HTTP API (v2) GET event carrying `cookie` (a `Cookie` header value).
fn get(fixture: &str, cookie: &str) -> Value {
    let mut event = event_with_cookie(fixture, cookie);
    set_method(&mut event, "GET");
    event
}

fn set_method(event: &mut Value, method: &str) {
    if event.get("version").and_then(Value::as_str) == Some("2.0") {
        event["requestContext"]["http"]["method"] = json!(method);
    } else {
        event["httpMethod"] = json!(method);
        if event["requestContext"].get("httpMethod").is_some() {
            event["requestContext"]["httpMethod"] = json!(method);
        }
    }
}

fn set_header(event: &mut Value, name: &str, value: &str) {
    event["headers"][name] = json!(value);
    if event.get("multiValueHeaders").is_some_and(Value::is_object) {
        event["multiValueHeaders"][name] = json!([value]);
    }
}

/// Every `Set-Cookie` of a response, wherever its trigger carries them.
fn set_cookies(response: &Value) -> Vec<String> {
    let mut all = strings(&response["cookies"]);
    all.extend(strings(&response["multiValueHeaders"]["set-cookie"]));
    if all.is_empty() {
        all.extend(
            response["headers"]["set-cookie"]
                .as_str()
                .map(str::to_owned),
        );
    }
    all
}

/// A header of a v2 response.
fn header<'a>(response: &'a Value, name: &str) -> Option<&'a str> {
    response["headers"][name].as_str()
}

async fn via(s: &Setup, proxy: &Proxy) -> SessionsBuilder {
    crate::via_proxy(&s.pool, &s.clock, proxy).await
}

/// How late an answer may be on a loaded machine: the budget ends 300 ms before the deadline.
const SLACK: Duration = Duration::from_millis(1000);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_layer_answers_503_before_a_short_lambda_deadline() {
    let s = setup().await;
    let (sub, login) = s.logged_in("layer-deadline").await;
    let valid = login.access_token().unwrap().to_owned();
    let expired = s.expired_copy(&valid);
    for (operation, token, cold) in [
        ("GetItem", &valid, false),
        ("InitiateAuth", &expired, false),
        // The JWKS fetch of a cold start.
        ("GET", &valid, true),
    ] {
        let case = format!("slow {operation}");
        let proxy = Proxy::start(&s.pool.moto.url).await;
        let sessions = via(&s, &proxy).await.build().await.unwrap();
        if !cold {
            sessions.session_for_token(&valid).await.unwrap();
        }
        let before = s.pool.row(&sub).await.unwrap();
        proxy.inject(Rule::on(operation, Fault::Latency(Duration::from_secs(30))));
        let seen = Seen::default();
        let started = Instant::now();
        let deadline = SystemTime::now() + Duration::from_millis(1500);
        let event = get(V2, &format!("token={token}"));
        let layer = SessionLayer::new(sessions.clone());
        // Bounded here too, so the old code fails in seconds rather than hanging for 30.
        let response = tokio::time::timeout(
            Duration::from_secs(10),
            through_layer(layer, &seen, event, context_until(deadline)),
        )
        .await
        .unwrap_or_else(|_| panic!("{case}: the layer did not answer within 10 s"));
        let took = started.elapsed();
        assert!(
            took < Duration::from_millis(1500) + SLACK,
            "{case}: answered after {took:?}, past the 1.5 s deadline"
        );
        assert_eq!(response["statusCode"], 503, "{case}: {response}");
        assert_eq!(header(&response, "retry-after"), Some("1"), "{case}");
        assert!(set_cookies(&response).is_empty(), "{case}: {response}");
        assert!(seen.lock().unwrap().is_empty(), "{case}: the handler ran");
        assert_eq!(s.pool.row(&sub).await.unwrap(), before, "{case}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zero_deadline_means_unknown() {
    let s = setup().await;
    let (sub, login) = s.logged_in("layer-no-deadline").await;
    let token = login.access_token().unwrap().to_owned();
    let proxy = Proxy::start(&s.pool.moto.url).await;
    let sessions = via(&s, &proxy).await.build().await.unwrap();
    sessions.session_for_token(&token).await.unwrap();
    // Slow, but it answers: with no deadline known nothing may cut it short.
    proxy.inject(Rule::on(
        "GetItem",
        Fault::Latency(Duration::from_millis(700)),
    ));

    // Through the layer, with the context `lambda_http` passes when the runtime gave no deadline.
    let seen = Seen::default();
    let event = get(V2, &format!("token={token}"));
    let layer = SessionLayer::new(sessions.clone());
    let response = through_layer(layer, &seen, event, Context::default()).await;
    assert_eq!(response["statusCode"], 200, "{response}");
    assert_eq!(*seen.lock().unwrap(), [Some(sub.clone())]);

    // `session` on a request carrying that context, and `session_with_deadline` given it.
    let request = http::Request::builder()
        .header("cookie", format!("token={token}"))
        .extension(Context::default())
        .body(())
        .unwrap();
    let session = sessions.session("token", &request).await.unwrap();
    assert_eq!(session.sub(), sub);
    let deadline = Context::default().deadline();
    assert_eq!(deadline, UNIX_EPOCH);
    let headers = crate::cookies(&token);
    let session = sessions
        .session_with_deadline("token", &headers, deadline)
        .await
        .unwrap();
    assert_eq!(session.sub(), sub);

    // A deadline that is known and already past is not "unknown": 503 at once.
    let started = Instant::now();
    let past = SystemTime::now() - Duration::from_secs(1);
    let event = get(V2, &format!("token={token}"));
    let layer = SessionLayer::new(sessions.clone());
    let response = through_layer(layer, &seen, event, context_until(past)).await;
    assert_eq!(response["statusCode"], 503, "{response}");
    assert!(
        started.elapsed() < Duration::from_millis(600),
        "{:?}",
        started.elapsed()
    );
}

/// `__Secure-` with a `Domain` and a `Path`, as `COOKIE_PREFIX`, `COOKIE_DOMAIN`, `COOKIE_PATH`.
fn secure_options() -> CookieOptions {
    CookieOptions {
        prefix: CookiePrefix::Secure,
        domain: Some("example.com".into()),
        path: "/app".into(),
        ..Default::default()
    }
}

/// A `Set-Cookie` for cookie `name` with exactly this `Domain` (or none) and `Path`.
#[track_caller]
fn assert_attributes(cookie: &str, name: &str, domain: Option<&str>, path: &str) {
    assert!(cookie.starts_with(&format!("{name}=")), "{cookie}");
    let attributes: Vec<&str> = cookie.split("; ").skip(1).collect();
    let domains: Vec<&str> = attributes
        .iter()
        .filter_map(|a| a.strip_prefix("Domain="))
        .collect();
    assert_eq!(domains, domain.into_iter().collect::<Vec<_>>(), "{cookie}");
    let paths: Vec<&str> = attributes
        .iter()
        .filter_map(|a| a.strip_prefix("Path="))
        .collect();
    assert_eq!(paths, [path], "{cookie}");
    assert!(attributes.contains(&"Secure"), "{cookie}");
}

#[tokio::test]
async fn every_set_cookie_uses_the_configured_prefix_domain_and_path() {
    for (options, name, domain, path) in [
        (
            secure_options(),
            "__Secure-token",
            Some("example.com"),
            "/app",
        ),
        (
            CookieOptions {
                prefix: CookiePrefix::Host,
                ..Default::default()
            },
            "__Host-token",
            None,
            "/",
        ),
    ] {
        let s = setup_with(Default::default(), |b| b.cookie_options(options.clone())).await;
        let (_, login) = s.logged_in("cookie-attributes").await;
        let token = login.access_token().unwrap();
        let check = |cookie: &str| assert_attributes(cookie, name, domain, path);
        let seen = Seen::default();
        let layer = || SessionLayer::new(s.sessions.clone());

        // The layer's refreshed cookie.
        let expired = s.expired_copy(token);
        let event = get(V2, &format!("{name}={expired}"));
        let response = through_layer(layer(), &seen, event, Context::default()).await;
        assert_eq!(response["statusCode"], 200, "{response}");
        let cookies = set_cookies(&response);
        assert_eq!(cookies.len(), 1, "{response}");
        check(&cookies[0]);
        assert!(cookies[0].contains("Max-Age=2592000"), "{cookies:?}");

        // The layer's 401 that clears a dead cookie, on a protected and on a public route.
        let forged = testkit::unsigned(&testkit::peek(token));
        for layer in [layer(), layer().public_prefix("/")] {
            let event = get(V2, &format!("{name}={forged}"));
            let response = through_layer(layer, &seen, event, Context::default()).await;
            let cookies = set_cookies(&response);
            assert_eq!(cookies.len(), 1, "{response}");
            check(&cookies[0]);
            assert!(cookies[0].contains("Max-Age=0"), "{cookies:?}");
        }

        // Everything a handler of its own calls.
        let session = s.sessions.start(&Tokens::from(&login)).await.unwrap();
        check(&session.set_cookie("token").unwrap());
        check(&session.try_set_cookie("token").unwrap().unwrap());
        check(&s.sessions.set_cookie("token", &Tokens::from(&login)));
        check(&s.sessions.clear_cookie("token"));
        let error = s
            .sessions
            .session("token", &crate::cookies(&forged))
            .await
            .unwrap_err();
        // (`crate::cookies` sends the unprefixed name: no cookie, nothing to clear.)
        assert!(s.sessions.clear_cookie_for(&error, "token").is_none());
        let mut headers = http::HeaderMap::new();
        headers.insert("cookie", format!("{name}={forged}").parse().unwrap());
        let error = s.sessions.session("token", &headers).await.unwrap_err();
        assert_eq!(error.status(), 401);
        check(&s.sessions.clear_cookie_for(&error, "token").unwrap());
    }
}

/// One invocation of a function behind `api`.
async fn call(api: &RuntimeApi, event: Value) -> Value {
    match api.invoke(event, Duration::from_secs(30)).await {
        Outcome::Response(response) => response,
        Outcome::Error(error) => panic!("the function failed: {error}"),
    }
}

#[tokio::test]
async fn the_examples_set_and_clear_cookies_with_the_configured_prefix_domain_and_path() {
    let s = setup().await;
    let (sub, login) = s.logged_in("cookie-examples").await;
    let token = login.access_token().unwrap();
    let mut env = s.function_env(&s.pool.moto.url);
    env.extend([
        ("COOKIE_PREFIX", "__Secure-".to_owned()),
        ("COOKIE_DOMAIN", "example.com".to_owned()),
        ("COOKIE_PATH", "/app".to_owned()),
    ]);
    let check =
        |cookie: &str| assert_attributes(cookie, "__Secure-token", Some("example.com"), "/app");

    // The seed's handler (REST v1): the refreshed cookie, and the one clearing a dead cookie.
    let binary = example("handler").await;
    let api = RuntimeApi::start().await;
    let _function = Function::spawn(&binary, &api, &env);
    let rest = "apigw_proxy_request.json";
    let expired = s.expired_copy(token);
    let response = call(&api, get(rest, &format!("__Secure-token={expired}"))).await;
    assert_eq!(response["statusCode"], 200, "{response}");
    let cookies = strings(&response["multiValueHeaders"]["set-cookie"]);
    assert_eq!(cookies.len(), 1, "{response}");
    check(&cookies[0]);
    let forged = testkit::unsigned(&testkit::peek(token));
    let response = call(&api, get(rest, &format!("__Secure-token={forged}"))).await;
    assert_eq!(response["statusCode"], 401, "{response}");
    let cookies = strings(&response["multiValueHeaders"]["set-cookie"]);
    assert_eq!(cookies.len(), 1, "{response}");
    check(&cookies[0]);
    assert!(cookies[0].contains("Max-Age=0"), "{cookies:?}");

    // The lambda_http example's logout.
    let binary = example("http_api").await;
    let api = RuntimeApi::start().await;
    let _function = Function::spawn(&binary, &api, &env);
    let mut logout = event_with_cookie(V2, &format!("__Secure-token={token}"));
    logout["requestContext"]["http"]["method"] = json!("POST");
    logout["requestContext"]["http"]["path"] = json!("/logout");
    logout["rawPath"] = json!("/logout");
    logout["rawQueryString"] = json!("");
    let response = call(&api, logout).await;
    assert_eq!(response["statusCode"], 200, "{response}");
    let cookies = strings(&response["cookies"]);
    assert_eq!(cookies.len(), 1, "{response}");
    check(&cookies[0]);
    assert!(cookies[0].contains("Max-Age=0"), "{cookies:?}");
    assert!(s.pool.row(&sub).await.is_none());
}

/// Puts the user in `count` groups with long names: moto lists them in `cognito:groups` of
/// every access token it issues, as Cognito does.
async fn join_many_groups(s: &Setup, username: &str, count: usize) {
    for i in 0..count {
        let group = format!("{i:03}-{}", "g".repeat(120));
        s.pool
            .cognito
            .create_group()
            .user_pool_id(&s.pool.pool_id)
            .group_name(&group)
            .send()
            .await
            .expect("create group");
        s.pool
            .cognito
            .admin_add_user_to_group()
            .user_pool_id(&s.pool.pool_id)
            .username(username)
            .group_name(&group)
            .send()
            .await
            .expect("add to group");
    }
}

#[tokio::test]
async fn a_cookie_over_4096_bytes_is_reported() {
    let s = setup().await;
    let username = "many-groups";
    let sub = s.pool.user(username).await;
    join_many_groups(&s, username, 26).await;
    let login = s.pool.login(username).await;
    let token = login.access_token().unwrap();
    let claims = testkit::peek(token);
    assert_eq!(claims["cognito:groups"].as_array().map(Vec::len), Some(26));
    let cookie = s.sessions.cookie_options().set("token", token);
    assert!(
        cookie.len() > 4096,
        "the test needs a larger token: {}",
        cookie.len()
    );

    // After a login: `try_set_cookie` reports it; `set_cookie` hands out nothing.
    let session = s.sessions.start(&Tokens::from(&login)).await.unwrap();
    let error = session.try_set_cookie("token").unwrap_err();
    assert!(matches!(error, Error::Config { .. }), "{error}");
    assert_eq!(error.status(), 500);
    let message = error.to_string();
    assert!(
        message.contains("too large for a cookie") && message.contains(&cookie.len().to_string()),
        "{message}"
    );
    assert!(!message.contains(token), "no token in the message");
    assert!(session.set_cookie("token").is_none());

    // Through the layer, after a refresh whose new token is as large: 500, not a 200 whose
    // cookie the browser would drop; the handler does not run and the session is kept.
    let expired = s.expired_copy(token);
    let seen = Seen::default();
    let event = get(V2, &format!("token={expired}"));
    let layer = SessionLayer::new(s.sessions.clone());
    let response = through_layer(layer, &seen, event, Context::default()).await;
    assert_eq!(response["statusCode"], 500, "{response}");
    assert!(set_cookies(&response).is_empty(), "{response}");
    assert!(seen.lock().unwrap().is_empty());
    assert!(s.pool.row(&sub).await.is_some());

    // The current (large) token itself needs no new cookie: it still works.
    let event = get(V2, &format!("token={token}"));
    let layer = SessionLayer::new(s.sessions.clone());
    let response = through_layer(layer, &seen, event, Context::default()).await;
    assert_eq!(response["statusCode"], 200, "{response}");
}

#[tokio::test]
async fn options_preflight_passes_through_protected_routes() {
    let s = setup_with(Default::default(), |b| {
        b.allowed_origins(["https://app.example.com"])
    })
    .await;
    for fixture in FIXTURES {
        let seen = Seen::default();
        // A browser's preflight for a credentialed cross-origin POST: no cookie.
        let preflight = |origin: &str| {
            let mut event = event_with_cookie(fixture, "theme=dark");
            set_method(&mut event, "OPTIONS");
            set_header(&mut event, "origin", origin);
            set_header(&mut event, "access-control-request-method", "POST");
            set_header(&mut event, "access-control-request-headers", "content-type");
            event
        };
        for origin in ["https://app.example.com", "https://other.example"] {
            let layer = SessionLayer::new(s.sessions.clone());
            let response = through_layer(layer, &seen, preflight(origin), Context::default()).await;
            assert_eq!(
                response["statusCode"], 204,
                "{fixture} {origin}: {response}"
            );
            assert!(set_cookies(&response).is_empty(), "{response}");
        }
        // The handler answered both, without a session.
        assert_eq!(*seen.lock().unwrap(), [None, None], "{fixture}");

        // Any other OPTIONS request is an ordinary request: it needs a session.
        let mut event = event_with_cookie(fixture, "theme=dark");
        set_method(&mut event, "OPTIONS");
        let layer = SessionLayer::new(s.sessions.clone());
        let response = through_layer(layer, &seen, event, Context::default()).await;
        assert_eq!(response["statusCode"], 401, "{fixture}: {response}");
        assert_eq!(seen.lock().unwrap().len(), 2);
    }

    // axum: the extractors see "behind the layer, no session" on a preflight.
    let app = axum::Router::new()
        .route(
            "/me",
            axum::routing::options(|session: Option<cognito_session::Session>| async move {
                (
                    http::StatusCode::NO_CONTENT,
                    [("x-session", if session.is_some() { "yes" } else { "no" })],
                )
            }),
        )
        .layer(SessionLayer::new(s.sessions.clone()));
    let request = http::Request::builder()
        .method("OPTIONS")
        .uri("/me")
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "POST")
        .body(axum::body::Body::empty())
        .unwrap();
    let response = app.oneshot(request).await.unwrap();
    assert_eq!(response.status(), 204);
    assert_eq!(response.headers()["x-session"], "no");
}
