//! `SessionLayer` under `lambda_http`'s own conversion: every trigger fixture goes in as the
//! Lambda service sends it, and the JSON that would go back to the Lambda service is checked:
//! `cookies` for HTTP API v2 and function URLs, `multiValueHeaders` for REST v1 and ALB.

use std::sync::{Arc, Mutex};

use cognito_session::{RequestSessionExt, SessionLayer, Sessions};
use http::header::SET_COOKIE;
use lambda_http::request::LambdaRequest;
use lambda_http::tower::{ServiceBuilder, ServiceExt};
use lambda_http::{service_fn, Adapter, Body, Context, LambdaEvent, Request, Response, Service};
use serde_json::{json, Value};

use crate::events::{event_with_cookie, FIXTURES};
use crate::{dead_endpoint, setup, setup_with, strings};

/// What the handler saw.
type Seen = Arc<Mutex<Vec<Option<String>>>>;

/// A handler that records the session's `sub` and sets a cookie of its own.
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
            let response = Response::builder()
                .status(200)
                .header("content-type", "application/json")
                .header(SET_COOKIE, "theme=dark; Path=/")
                .body(Body::from(r#"{"ok":true}"#))?;
            Ok::<_, lambda_http::Error>(response)
        }
    })
}

/// Runs `event` through `lambda_http`'s adapter around `layer(handler)` and returns the JSON
/// the runtime would post back to the Lambda service.
async fn lambda_json(layer: SessionLayer, seen: &Seen, event: Value) -> Value {
    let service = ServiceBuilder::new()
        .layer(layer)
        .service(handler(seen.clone()));
    let mut adapter: Adapter<'static, Response<Body>, _> = Adapter::from(service);
    let request: LambdaRequest = serde_json::from_value(event).expect("a Lambda HTTP event");
    let response = adapter
        .ready()
        .await
        .unwrap()
        .call(LambdaEvent::new(request, Context::default()))
        .await
        .unwrap();
    serde_json::to_value(&response).unwrap()
}

/// Where each trigger carries `Set-Cookie` in a response.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Placement {
    /// HTTP API v2 and function URLs: the `cookies` array only.
    Cookies,
    /// REST v1: `multiValueHeaders` only (API Gateway merges `headers` in, so it stays empty).
    MultiValue,
    /// ALB: `multiValueHeaders` (multi-value mode) and the first value in `headers`.
    Alb,
}

fn placement(fixture: &str) -> Placement {
    match fixture {
        "apigw_v2_proxy_request.json" | "lambda_function_url_request.json" => Placement::Cookies,
        "alb_request.json" => Placement::Alb,
        _ => Placement::MultiValue,
    }
}

/// Every `Set-Cookie` of a response, checked to be exactly where its trigger reads them.
fn set_cookies(fixture: &str, response: &Value) -> Vec<String> {
    let single = response["headers"]["set-cookie"].as_str();
    let multi = strings(&response["multiValueHeaders"]["set-cookie"]);
    let cookies = strings(&response["cookies"]);
    for key in ["Set-Cookie", "SET-COOKIE"] {
        assert!(response["headers"].get(key).is_none(), "{response}");
        assert!(
            response["multiValueHeaders"].get(key).is_none(),
            "{response}"
        );
    }
    match placement(fixture) {
        Placement::Cookies => {
            assert!(
                single.is_none() && multi.is_empty(),
                "{fixture}: {response}"
            );
            cookies
        }
        Placement::MultiValue => {
            assert!(
                single.is_none() && cookies.is_empty(),
                "{fixture}: {response}"
            );
            multi
        }
        Placement::Alb => {
            assert!(cookies.is_empty(), "{fixture}: {response}");
            assert_eq!(
                single,
                multi.first().map(String::as_str),
                "{fixture}: {response}"
            );
            multi
        }
    }
}

fn header(fixture: &str, response: &Value, name: &str) -> Option<String> {
    match placement(fixture) {
        Placement::Cookies => response["headers"][name].as_str().map(str::to_owned),
        _ => strings(&response["multiValueHeaders"][name])
            .first()
            .cloned(),
    }
}

fn body(response: &Value) -> Value {
    serde_json::from_str(response["body"].as_str().unwrap_or("null")).unwrap()
}

/// The fixture as a GET, without any cookie.
fn bare(fixture: &str) -> Value {
    let mut event = event_with_cookie(fixture, "theme=dark");
    set_method(&mut event, "GET");
    event
}

fn with_cookie(fixture: &str, cookie: &str) -> Value {
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

fn layer(sessions: &Sessions) -> SessionLayer {
    SessionLayer::new(sessions.clone())
}

#[tokio::test]
async fn refreshed_cookie_lands_where_each_trigger_reads_it() {
    let s = setup().await;
    for fixture in FIXTURES {
        let seen = Seen::default();
        // A fresh login per trigger: once refreshed, an older token of a login stops refreshing.
        let (sub, login) = s.logged_in(&format!("layer-refresh-{fixture}")).await;
        let token = login.access_token().unwrap();
        let expired = s.expired_copy(token);

        // A current token: the handler runs with the session; only its own cookie goes back.
        let event = with_cookie(fixture, &format!("theme=dark; token={token}"));
        let response = lambda_json(layer(&s.sessions), &seen, event).await;
        assert_eq!(response["statusCode"], 200, "{fixture}: {response}");
        assert_eq!(set_cookies(fixture, &response), ["theme=dark; Path=/"]);

        // An expired token: refreshed, and the new cookie goes first, beside the handler's.
        let event = with_cookie(fixture, &format!("theme=dark; token={expired}"));
        let response = lambda_json(layer(&s.sessions), &seen, event).await;
        assert_eq!(response["statusCode"], 200, "{fixture}: {response}");
        let cookies = set_cookies(fixture, &response);
        assert_eq!(cookies.len(), 2, "{fixture}: {cookies:?}");
        assert!(
            cookies[0].starts_with("token=eyJ"),
            "{fixture}: {cookies:?}"
        );
        assert!(
            cookies[0].contains("HttpOnly") && cookies[0].contains("Secure"),
            "{cookies:?}"
        );
        assert_eq!(cookies[1], "theme=dark; Path=/");
        let fresh = cookies[0]["token=".len()..].split(';').next().unwrap();
        assert_ne!(fresh, expired);
        s.sessions.session_for_token(fresh).await.unwrap();

        assert_eq!(
            *seen.lock().unwrap(),
            [Some(sub.clone()), Some(sub.clone())],
            "{fixture}"
        );
    }
}

#[tokio::test]
async fn the_layer_answers_401_itself_and_clears_dead_cookies() {
    let s = setup().await;
    let (_, login) = s.logged_in("layer-401").await;
    let forged = testkit::unsigned(&testkit::peek(login.access_token().unwrap()));
    for fixture in FIXTURES {
        let seen = Seen::default();
        let response = lambda_json(layer(&s.sessions), &seen, bare(fixture)).await;
        assert_eq!(response["statusCode"], 401, "{fixture}: {response}");
        assert_eq!(body(&response), json!({"error": "Unauthorized"}));
        assert_eq!(
            header(fixture, &response, "content-type").as_deref(),
            Some("application/json")
        );
        // No cookie was sent: none to clear.
        assert!(set_cookies(fixture, &response).is_empty(), "{response}");

        let event = with_cookie(fixture, &format!("token={forged}"));
        let response = lambda_json(layer(&s.sessions), &seen, event).await;
        assert_eq!(response["statusCode"], 401, "{fixture}: {response}");
        let cookies = set_cookies(fixture, &response);
        assert_eq!(cookies.len(), 1, "{fixture}: {response}");
        assert!(
            cookies[0].starts_with("token=;") && cookies[0].contains("Max-Age=0"),
            "{cookies:?}"
        );
        assert!(seen.lock().unwrap().is_empty(), "the handler must not run");
    }
}

#[tokio::test]
async fn the_layer_answers_503_with_retry_after_when_dynamodb_is_down() {
    let s = setup().await;
    let (_, login) = s.logged_in("layer-503").await;
    let token = login.access_token().unwrap().to_owned();
    let down = crate::builder(&s.pool)
        .0
        .dynamodb_client(aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(&s.pool.sdk)
                .endpoint_url(dead_endpoint())
                .build(),
        ))
        .operation_timeout(std::time::Duration::from_millis(500))
        .build()
        .await
        .unwrap();
    for fixture in FIXTURES {
        let seen = Seen::default();
        let event = with_cookie(fixture, &format!("token={token}"));
        let response = lambda_json(layer(&down), &seen, event).await;
        assert_eq!(response["statusCode"], 503, "{fixture}: {response}");
        assert_eq!(
            header(fixture, &response, "retry-after").as_deref(),
            Some("1"),
            "{response}"
        );
        assert_eq!(body(&response), json!({"error": "Service Unavailable"}));
        assert!(
            set_cookies(fixture, &response).is_empty(),
            "nothing is cleared on 503"
        );
        assert!(seen.lock().unwrap().is_empty());
    }
    // The session survived the outage.
    s.sessions.session_for_token(&token).await.unwrap();
}

#[tokio::test]
async fn public_routes_pass_without_a_session_and_keep_one_when_present() {
    let s = setup().await;
    let (sub, login) = s.logged_in("layer-public").await;
    let token = login.access_token().unwrap();
    for fixture in FIXTURES {
        let seen = Seen::default();
        // The path as lambda_http presents it (REST v1 paths carry the stage).
        let path = lambda_http::request::from_str(&bare(fixture).to_string())
            .unwrap()
            .uri()
            .path()
            .to_owned();
        let open = || layer(&s.sessions).public(path.clone());
        let response = lambda_json(open(), &seen, bare(fixture)).await;
        assert_eq!(response["statusCode"], 200, "{fixture}: {response}");
        let event = with_cookie(fixture, &format!("token={token}"));
        let response = lambda_json(open(), &seen, event).await;
        assert_eq!(response["statusCode"], 200, "{fixture}: {response}");
        assert_eq!(
            *seen.lock().unwrap(),
            [None, Some(sub.clone())],
            "{fixture}"
        );
        // Another route stays closed.
        let closed = layer(&s.sessions).public("/somewhere-else");
        let response = lambda_json(closed, &seen, bare(fixture)).await;
        assert_eq!(response["statusCode"], 401, "{fixture}: {response}");
    }
}

#[tokio::test]
async fn a_public_route_matches_without_the_api_gateway_stage() {
    let s = setup().await;
    // (fixture, its path without the stage lambda_http puts in front, a stage-less path that
    // must stay closed): REST fixtures carry a stage, the others none (or `$default`).
    let cases = [
        ("apigw_proxy_request.json", "/hello"),
        ("apigw_multi_value_proxy_request.json", "/hello/world"),
        ("apigw_v2_proxy_request.json", "/my/path"),
        ("lambda_function_url_request.json", "/my/path"),
        ("alb_request.json", "/"),
    ];
    for (fixture, path) in cases {
        let seen = Seen::default();
        let response = lambda_json(layer(&s.sessions).public(path), &seen, bare(fixture)).await;
        assert_eq!(response["statusCode"], 200, "{fixture}: {response}");
        let prefix = layer(&s.sessions).public_prefix(path);
        let response = lambda_json(prefix, &seen, bare(fixture)).await;
        assert_eq!(response["statusCode"], 200, "{fixture}: {response}");
        let closed = layer(&s.sessions).public("/hello/elsewhere");
        let response = lambda_json(closed, &seen, bare(fixture)).await;
        assert_eq!(response["statusCode"], 401, "{fixture}: {response}");
    }
}

/// The origin a browser addressing the fixture's event would send: its `Host` (or the
/// request context's domain) over https, as API Gateway, ALB and function URLs serve.
fn own_origin(fixture: &str) -> String {
    let event = testkit::fixture(fixture);
    let host = event["headers"]
        .as_object()
        .and_then(|h| {
            h.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("host"))
                .and_then(|(_, v)| v.as_str())
        })
        .or_else(|| event["requestContext"]["domainName"].as_str())
        .expect("a host")
        .to_owned();
    format!("https://{host}")
}

#[tokio::test]
async fn csrf_origin_check_on_unsafe_methods() {
    let s = setup_with(Default::default(), |b| {
        b.allowed_origins(["https://app.example.com"])
    })
    .await;
    let (_, login) = s.logged_in("layer-csrf").await;
    let token = login.access_token().unwrap();
    assert_eq!(s.sessions.allowed_origins(), ["https://app.example.com"]);
    for fixture in FIXTURES {
        let seen = Seen::default();
        let request = |method: &str, header: Option<(&str, &str)>| {
            let mut event = with_cookie(fixture, &format!("token={token}"));
            set_method(&mut event, method);
            if let Some((name, value)) = header {
                set_header(&mut event, name, value);
            }
            event
        };
        let status = |response: Value| response["statusCode"].as_i64().unwrap();
        let on = || layer(&s.sessions);
        let own = own_origin(fixture);
        let own_page = format!("{own}/some/page?x=1");
        let mut handled = 0;
        for (method, header, expected) in [
            ("POST", Some(("origin", "https://evil.example")), 403),
            ("DELETE", Some(("origin", "null")), 403),
            ("PATCH", Some(("referer", "https://evil.example/x")), 403),
            // Another scheme of the site is another origin.
            (
                "POST",
                Some(("origin", &own.replace("https:", "http:"))),
                403,
            ),
            // Neither Origin nor Referer: not a browser (a server, curl).
            ("PUT", None, 200),
            ("POST", Some(("origin", own.as_str())), 200),
            ("POST", Some(("referer", own_page.as_str())), 200),
            ("POST", Some(("origin", "https://app.example.com")), 200),
            ("GET", Some(("origin", "https://evil.example")), 200),
        ] {
            let response = lambda_json(on(), &seen, request(method, header)).await;
            assert_eq!(
                status(response.clone()),
                expected,
                "{fixture} {method} {header:?}: {response}"
            );
            if expected == 403 {
                assert_eq!(body(&response), json!({"error": "Forbidden"}));
            } else {
                handled += 1;
            }
        }
        // Off explicitly: the cross-site POST passes.
        let off = on().without_csrf();
        let response = lambda_json(
            off,
            &seen,
            request("POST", Some(("origin", "https://evil.example"))),
        )
        .await;
        assert_eq!(status(response), 200);
        assert_eq!(
            seen.lock().unwrap().len(),
            handled + 1,
            "{fixture}: the handler ran only for accepted requests"
        );
    }
}

#[tokio::test]
async fn cross_site_requests_are_refused_by_default_and_a_builder_call_turns_it_off() {
    let plain = setup().await;
    let (_, login) = plain.logged_in("layer-default-csrf").await;
    let token = login.access_token().unwrap();
    let post = |fixture: &str, origin: &str| {
        let mut event = with_cookie(fixture, &format!("token={token}"));
        set_method(&mut event, "POST");
        set_header(&mut event, "origin", origin);
        event
    };
    for fixture in FIXTURES {
        let response = lambda_json(
            layer(&plain.sessions),
            &Seen::default(),
            post(fixture, "https://evil.example"),
        )
        .await;
        assert_eq!(response["statusCode"], 403, "{fixture}: {response}");
        let own = own_origin(fixture);
        let response = lambda_json(
            layer(&plain.sessions),
            &Seen::default(),
            post(fixture, &own),
        )
        .await;
        assert_eq!(response["statusCode"], 200, "{fixture}: {response}");
        // A CORS preflight is a safe method: it passes to the handler whatever its origin.
        let mut preflight = with_cookie(fixture, "");
        set_method(&mut preflight, "OPTIONS");
        set_header(&mut preflight, "origin", "https://evil.example");
        set_header(&mut preflight, "access-control-request-method", "POST");
        let response = lambda_json(layer(&plain.sessions), &Seen::default(), preflight).await;
        assert_eq!(response["statusCode"], 200, "{fixture}: {response}");
    }
    let off = crate::sessions_via(&plain, &plain.pool.moto.url, |b| b.csrf(false)).await;
    let response = lambda_json(
        layer(&off),
        &Seen::default(),
        post(FIXTURES[0], "https://evil.example"),
    )
    .await;
    assert_eq!(response["statusCode"], 200, "{response}");
}

#[tokio::test]
async fn a_handlers_own_session_cookie_wins_over_the_refresh() {
    let s = setup().await;
    let (_, login) = s.logged_in("layer-logout").await;
    let expired = s.expired_copy(login.access_token().unwrap());
    let sessions = s.sessions.clone();
    // A logout handler: clears the cookie itself, on a request whose token was just refreshed.
    let logout = service_fn(move |request: Request| {
        let sessions = sessions.clone();
        async move {
            assert!(request.session().is_some());
            let response = Response::builder()
                .header(SET_COOKIE, sessions.clear_cookie("token"))
                .body(Body::Empty)?;
            Ok::<_, lambda_http::Error>(response)
        }
    });
    let service = ServiceBuilder::new()
        .layer(layer(&s.sessions))
        .service(logout);
    let mut adapter: Adapter<'static, Response<Body>, _> = Adapter::from(service);
    let event = with_cookie("apigw_v2_proxy_request.json", &format!("token={expired}"));
    let request: LambdaRequest = serde_json::from_value(event).unwrap();
    let response = adapter
        .call(LambdaEvent::new(request, Context::default()))
        .await
        .unwrap();
    let json = serde_json::to_value(&response).unwrap();
    let cookies = strings(&json["cookies"]);
    assert_eq!(cookies.len(), 1, "{json}");
    assert!(cookies[0].contains("Max-Age=0"), "{cookies:?}");
}

#[tokio::test]
async fn host_prefixed_cookies_are_read_and_written_with_the_prefix() {
    let s = setup_with(Default::default(), |b| {
        b.cookie_options(cognito_session::CookieOptions {
            prefix: cognito_session::CookiePrefix::Host,
            ..Default::default()
        })
    })
    .await;
    let (_, login) = s.logged_in("layer-host").await;
    let token = login.access_token().unwrap();
    let expired = s.expired_copy(token);
    let fixture = "lambda_function_url_request.json";
    let seen = Seen::default();
    // The unprefixed cookie is not the session cookie any more.
    let event = with_cookie(fixture, &format!("token={token}"));
    let response = lambda_json(layer(&s.sessions), &seen, event).await;
    assert_eq!(response["statusCode"], 401, "{response}");
    let event = with_cookie(fixture, &format!("__Host-token={expired}"));
    let response = lambda_json(layer(&s.sessions), &seen, event).await;
    assert_eq!(response["statusCode"], 200, "{response}");
    let cookies = set_cookies(fixture, &response);
    assert!(cookies[0].starts_with("__Host-token=eyJ"), "{cookies:?}");
    assert!(cookies[0].contains("Path=/") && cookies[0].contains("Secure"));
    assert!(!cookies[0].contains("Domain"));
    // A forged one is cleared under its prefixed name.
    let forged = testkit::unsigned(&testkit::peek(token));
    let event = with_cookie(fixture, &format!("__Host-token={forged}"));
    let response = lambda_json(layer(&s.sessions), &seen, event).await;
    assert!(set_cookies(fixture, &response)[0].starts_with("__Host-token=;"));
}

#[tokio::test]
async fn the_cookie_name_is_configured_once_for_current_and_the_layer() {
    let s = setup_with(testkit::PoolOptions::default(), |b| {
        b.cookie_options(cognito_session::CookieOptions {
            name: "sid".into(),
            ..Default::default()
        })
    })
    .await;
    let (sub, login) = s.logged_in("named-cookie").await;
    let token = login.access_token().unwrap();
    let mut headers = http::HeaderMap::new();
    headers.insert("cookie", format!("token=x; sid={token}").parse().unwrap());
    assert_eq!(s.sessions.current(&headers).await.unwrap().sub(), sub);
    // The seed-style call still names its cookie: `token` here holds no token.
    assert!(s.sessions.session("token", &headers).await.is_err());

    // The layer reads the configured name without being told.
    let seen = Seen::default();
    let event = event_with_cookie(FIXTURES[0], &format!("sid={token}"));
    let response = lambda_json(SessionLayer::new(s.sessions.clone()), &seen, event).await;
    assert_eq!(response["statusCode"], 200, "{response}");
    assert_eq!(seen.lock().unwrap().as_slice(), [Some(sub)]);
}
