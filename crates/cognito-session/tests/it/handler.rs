//! `examples/handler.rs` run as a real Lambda function process behind the Runtime API emulator,
//! with moto behind it and REST (v1) fixture events in front.

use std::time::Duration;

use serde_json::{json, Value};
use testkit::{Function, Outcome, RuntimeApi};

use crate::{dead_endpoint, example, setup};

fn rest_event(cookie: Option<&str>) -> Value {
    let mut event = testkit::fixture("apigw_proxy_request.json");
    if let Some(cookie) = cookie {
        event["headers"]["Cookie"] = json!(cookie);
        event["multiValueHeaders"] = json!({"Cookie": [cookie]});
    }
    event
}

async fn call(api: &RuntimeApi, event: Value) -> Value {
    match api.invoke(event, Duration::from_secs(30)).await {
        Outcome::Response(response) => response,
        Outcome::Error(error) => panic!("the function failed: {error}"),
    }
}

fn set_cookies(response: &Value) -> Vec<String> {
    response["multiValueHeaders"]["set-cookie"]
        .as_array()
        .or_else(|| response["multiValueHeaders"]["Set-Cookie"].as_array())
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn the_seeds_example_runs_as_a_lambda_function() {
    let s = setup().await;
    let (_, login) = s.logged_in("lambda-user").await;
    let binary = example("handler").await;
    let api = RuntimeApi::start().await;
    let env = s.function_env(&s.pool.moto.url);
    let _function = Function::spawn(&binary, &api, &env);

    let token = login.access_token().unwrap();
    let ok = call(&api, rest_event(Some(&format!("a=b; token={token}")))).await;
    assert_eq!(ok["statusCode"], 200, "{ok}");
    assert_eq!(
        serde_json::from_str::<Value>(ok["body"].as_str().unwrap()).unwrap(),
        json!({"message": "Request successful"})
    );
    assert!(set_cookies(&ok).is_empty(), "{ok}");

    let expired = s.expired_copy(token);
    let refreshed = call(&api, rest_event(Some(&format!("token={expired}")))).await;
    assert_eq!(refreshed["statusCode"], 200, "{refreshed}");
    let cookies = set_cookies(&refreshed);
    assert_eq!(cookies.len(), 1, "{refreshed}");
    assert!(
        cookies[0].starts_with("token=eyJ") && cookies[0].contains("HttpOnly"),
        "{cookies:?}"
    );

    let missing = call(&api, rest_event(None)).await;
    assert_eq!(missing["statusCode"], 401);
    assert_eq!(
        serde_json::from_str::<Value>(missing["body"].as_str().unwrap()).unwrap(),
        json!({"error": "Unauthorized"})
    );
    assert!(set_cookies(&missing).is_empty());

    let forged = testkit::unsigned(&testkit::peek(&expired));
    let refused = call(&api, rest_event(Some(&format!("token={forged}")))).await;
    assert_eq!(refused["statusCode"], 401);
    assert!(set_cookies(&refused)[0].contains("Max-Age=0"), "{refused}");
}

#[tokio::test]
async fn the_example_answers_503_when_dynamodb_is_down() {
    let s = setup().await;
    let (_, login) = s.logged_in("lambda-outage").await;
    let binary = example("handler").await;
    let api = RuntimeApi::start().await;
    let mut env = s.function_env(&s.pool.moto.url);
    env.push(("COGNITO_JWKS_URL", s.pool.jwks_url()));
    env.push(("AWS_ENDPOINT_URL_DYNAMODB", dead_endpoint()));
    let _function = Function::spawn(&binary, &api, &env);
    let response = call(
        &api,
        rest_event(Some(&format!("token={}", login.access_token().unwrap()))),
    )
    .await;
    assert_eq!(response["statusCode"], 503, "{response}");
    assert_eq!(response["headers"]["retry-after"], "1", "{response}");
}

#[tokio::test]
async fn a_misconfigured_example_stops_with_a_sentence_naming_the_variable_not_debug_text() {
    for name in ["handler", "http_api", "axum_app"] {
        let binary = example(name).await;
        let output = tokio::process::Command::new(&binary)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("AWS_REGION", "us-east-1")
            .env("PARTITION_KEY", "id")
            .env("CLIENT_ID", "client")
            .output()
            .await
            .expect("run the example");
        let stderr = String::from_utf8_lossy(&output.stderr);
        let stdout = String::from_utf8_lossy(&output.stdout);
        let all = format!("{stdout}{stderr}");
        assert!(!output.status.success(), "{name}: {all}");
        assert!(
            all.contains("SESSION_TABLE"),
            "{name} names the variable: {all}"
        );
        assert!(
            !all.contains("Config {") && !all.contains("source: None"),
            "{name} prints Debug text: {all}"
        );
    }
}
