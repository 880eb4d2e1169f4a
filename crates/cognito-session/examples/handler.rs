//! The seed package's example, in Rust: a Lambda function behind API Gateway (REST, v1 events)
//! that answers 200 for a valid session (with a new `Set-Cookie` after a refresh), 401 when there
//! is none, and 503 when the session could not be checked (nothing was lost: retry).
//!
//! Configured only by environment variables: `SESSION_TABLE`, `PARTITION_KEY`, `CLIENT_ID`, and
//! optionally `USER_POOL_ID`, `CLIENT_SECRET`, `COGNITO_JWKS_URL`, ... (see the crate docs).
//!
//! Build for Lambda with `cargo lambda build --release --arm64 --example handler`.

use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
use aws_lambda_events::encodings::Body;
use cognito_session::Sessions;
use http::header::{HeaderMap, HeaderValue, CONTENT_TYPE, RETRY_AFTER, SET_COOKIE};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::json;

const COOKIE: &str = "token";

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    // Once per cold start. A configuration mistake stops here, naming the variable to fix.
    let Ok(sessions) = Sessions::from_env().await.inspect_err(|error| {
        lambda_runtime::tracing::error!(%error, "cannot start");
    }) else {
        // Logged above as the sentence a person reads (not the error's `Debug`).
        std::process::exit(1);
    };
    lambda_runtime::run(service_fn(|event: LambdaEvent<ApiGatewayProxyRequest>| {
        let sessions = &sessions;
        let deadline = event.context.deadline();
        async move { Ok::<_, Error>(handle(sessions, &event.payload, deadline).await) }
    }))
    .await
}

async fn handle(
    sessions: &Sessions,
    request: &ApiGatewayProxyRequest,
    deadline: std::time::SystemTime,
) -> ApiGatewayProxyResponse {
    let outcome = sessions
        .session_with_deadline(COOKIE, request, deadline)
        .await
        // The refreshed cookie (with COOKIE_PREFIX, COOKIE_DOMAIN, COOKIE_PATH); one too large
        // for browsers is a 500 naming the cause.
        .and_then(|session| session.try_set_cookie(COOKIE));
    match outcome {
        Ok(set_cookie) => respond(
            200,
            json!({"message": "Request successful"}),
            set_cookie,
            None,
        ),
        Err(error) => {
            let message = match error.status() {
                401 => "Unauthorized",
                503 => "Service Unavailable",
                400 => "Bad Request",
                _ => "Internal Server Error",
            };
            respond(
                error.status(),
                json!({"error": message}),
                // Clears a dead cookie under the name, Domain and Path it was set with.
                sessions.clear_cookie_for(&error, COOKIE),
                error.retry_after(),
            )
        }
    }
}

fn respond(
    status: u16,
    body: serde_json::Value,
    set_cookie: Option<String>,
    retry_after: Option<u64>,
) -> ApiGatewayProxyResponse {
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Some(seconds) = retry_after {
        // A 503: nothing was lost, the client may retry after this many seconds.
        headers.insert(RETRY_AFTER, HeaderValue::from(seconds));
    }
    let mut multi_value_headers = headers.clone();
    if let Some(cookie) = set_cookie.and_then(|c| HeaderValue::try_from(c).ok()) {
        // REST APIs read Set-Cookie from multiValueHeaders; the same pair in headers is merged.
        headers.insert(SET_COOKIE, cookie.clone());
        multi_value_headers.append(SET_COOKIE, cookie);
    }
    let mut response = ApiGatewayProxyResponse::default();
    response.status_code = i64::from(status);
    response.headers = headers;
    response.multi_value_headers = multi_value_headers;
    response.body = Some(Body::Text(body.to_string()));
    response
}
