//! Every Lambda trigger shape, with the cookie placed the way that trigger sends it, read as the
//! typed `aws_lambda_events` request, as a `lambda_http::Request` and as raw JSON.

use aws_lambda_events::alb::AlbTargetGroupRequest;
use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayV2httpRequest};
use aws_lambda_events::lambda_function_urls::LambdaFunctionUrlRequest;
use cognito_session::CookieSource;
use cognito_session::{Sessions, Unauthorized};
use serde_json::{json, Value};

use crate::setup;

/// The fixture `name` carrying `cookie` (a full `Cookie` header value) as its trigger would.
pub(crate) fn event_with_cookie(name: &str, cookie: &str) -> Value {
    let mut event = testkit::fixture(name);
    let pairs: Vec<Value> = cookie.split("; ").map(|c| json!(c)).collect();
    match name {
        // HTTP API v2 and function URLs: a `cookies` array, no Cookie header.
        "apigw_v2_proxy_request.json" | "lambda_function_url_request.json" => {
            event["cookies"] = Value::Array(pairs);
            if let Some(headers) = event["headers"].as_object_mut() {
                headers.retain(|k, _| !k.eq_ignore_ascii_case("cookie"));
            }
        }
        // REST v1: `Cookie` in headers and in multiValueHeaders.
        "apigw_proxy_request.json" | "apigw_multi_value_proxy_request.json" => {
            event["headers"]["Cookie"] = json!(cookie);
            event["multiValueHeaders"]["Cookie"] = json!([cookie]);
        }
        // ALB: lower-case header names.
        "alb_request.json" => event["headers"]["cookie"] = json!(cookie),
        _ => unreachable!("unknown fixture {name}"),
    }
    event
}

/// ALB with multi-value headers on: only `multiValueHeaders`, the cookie split over two values.
fn alb_multi_value(token: &str) -> Value {
    let mut event = testkit::fixture("alb_request.json");
    let headers = event["headers"].take();
    let mut multi = serde_json::Map::new();
    for (k, v) in headers.as_object().unwrap() {
        if !k.eq_ignore_ascii_case("cookie") {
            multi.insert(k.clone(), json!([v]));
        }
    }
    multi.insert(
        "cookie".into(),
        json!(["theme=dark", format!("token={token}")]),
    );
    event["multiValueHeaders"] = Value::Object(multi);
    event.as_object_mut().unwrap().remove("headers");
    event
}

async fn accepted<S: CookieSource + ?Sized>(sessions: &Sessions, source: &S, what: &str) {
    let session = sessions.session("token", source).await;
    assert!(session.is_ok(), "{what}: {:?}", session.err());
}

pub(crate) const FIXTURES: [&str; 5] = [
    "apigw_proxy_request.json",
    "apigw_multi_value_proxy_request.json",
    "apigw_v2_proxy_request.json",
    "alb_request.json",
    "lambda_function_url_request.json",
];

#[tokio::test]
async fn every_trigger_shape_carries_the_session() {
    let s = setup().await;
    let (_, login) = s.logged_in("events").await;
    let token = login.access_token().unwrap();
    let cookie = format!("theme=dark; xtoken=nope; token={token}");
    for name in FIXTURES {
        let event = event_with_cookie(name, &cookie);
        accepted(&s.sessions, &event, &format!("raw JSON {name}")).await;
        let text = event.to_string();
        let request =
            lambda_http::request::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        accepted(&s.sessions, &request, &format!("lambda_http {name}")).await;
        match name {
            "apigw_proxy_request.json" | "apigw_multi_value_proxy_request.json" => {
                let typed: ApiGatewayProxyRequest = serde_json::from_str(&text).unwrap();
                accepted(&s.sessions, &typed, name).await;
            }
            "apigw_v2_proxy_request.json" => {
                let typed: ApiGatewayV2httpRequest = serde_json::from_str(&text).unwrap();
                accepted(&s.sessions, &typed, name).await;
            }
            "alb_request.json" => {
                let typed: AlbTargetGroupRequest = serde_json::from_str(&text).unwrap();
                accepted(&s.sessions, &typed, name).await;
            }
            "lambda_function_url_request.json" => {
                let typed: LambdaFunctionUrlRequest = serde_json::from_str(&text).unwrap();
                accepted(&s.sessions, &typed, name).await;
            }
            _ => unreachable!(),
        }
    }
    let alb = alb_multi_value(token);
    accepted(&s.sessions, &alb, "raw ALB multi-value").await;
    let typed: AlbTargetGroupRequest = serde_json::from_value(alb.clone()).unwrap();
    accepted(&s.sessions, &typed, "typed ALB multi-value").await;
    let request = lambda_http::request::from_str(&alb.to_string()).unwrap();
    accepted(&s.sessions, &request, "lambda_http ALB multi-value").await;
}

#[tokio::test]
async fn the_cookie_name_is_matched_exactly_in_every_shape() {
    let s = setup().await;
    let (_, login) = s.logged_in("exact").await;
    let cookie = format!("xtoken={}; tokens=1", login.access_token().unwrap());
    for name in FIXTURES {
        let event = event_with_cookie(name, &cookie);
        let error = s.sessions.session("token", &event).await.unwrap_err();
        assert_eq!(
            error.unauthorized(),
            Some(&Unauthorized::MissingCookie),
            "{name}"
        );
    }
}

#[tokio::test]
async fn header_names_are_case_insensitive_and_several_headers_are_read() {
    let s = setup().await;
    let (_, login) = s.logged_in("headers").await;
    let token = login.access_token().unwrap();
    for header in ["Cookie", "cookie", "COOKIE"] {
        let event = json!({"headers": {header: format!("a=1; token={token}")}});
        s.sessions.session("token", &event).await.unwrap();
    }
    let mut headers = http::HeaderMap::new();
    headers.append("cookie", "a=1; b=2".parse().unwrap());
    headers.append("cookie", format!("token={token}").parse().unwrap());
    s.sessions.session("token", &headers).await.unwrap();
}
