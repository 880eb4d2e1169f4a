//! A `lambda_http` function behind an HTTP API (v2) or a function URL, protected by
//! [`SessionLayer`]: the layer answers 401/503 and adds the refreshed cookie, so the handler only
//! sees requests with a verified session (or none, on its public route).
//!
//! - `GET /health`: public, `{"status":"ok"}`.
//! - `GET /me`: the session's user, `{"sub":...,"username":...,"groups":[...]}`.
//! - `POST /logout`: ends the session and clears the cookie.
//!
//! Configured by environment variables only (`SESSION_TABLE`, `PARTITION_KEY`, `CLIENT_ID`,
//! `USER_POOL_ID`, `ALLOWED_ORIGINS`, ... see the crate docs). Any trigger works; the
//! `Set-Cookie` headers land where each expects them.
//!
//! Build for Lambda with `cargo lambda build --release --arm64 --example http_api`.

use cognito_session::{RequestSessionExt, SessionLayer, Sessions};
use http::header::{CONTENT_TYPE, SET_COOKIE};
use http::{Method, StatusCode};
use lambda_http::tower::ServiceBuilder;
use lambda_http::{service_fn, Body, Error, Request, Response};
use serde_json::json;

const COOKIE: &str = "token";

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    // Once per cold start; a configuration mistake stops here, naming the variable to fix.
    let Ok(sessions) = Sessions::from_env().await.inspect_err(|error| {
        lambda_runtime::tracing::error!(%error, "cannot start");
    }) else {
        // Logged above as the sentence a person reads (not the error's `Debug`).
        std::process::exit(1);
    };
    let layer = SessionLayer::new(sessions.clone())
        .cookie_name(COOKIE)
        .public("/health");
    let handler = service_fn(move |request: Request| {
        let sessions = sessions.clone();
        async move { handle(&sessions, request).await }
    });
    lambda_http::run(ServiceBuilder::new().layer(layer).service(handler)).await
}

async fn handle(sessions: &Sessions, request: Request) -> Result<Response<Body>, Error> {
    let route = (request.method().clone(), request.uri().path());
    match route {
        (Method::GET, "/health") => json_response(StatusCode::OK, json!({"status": "ok"}), None),
        (Method::GET, "/me") => {
            // Behind the layer, a non-public route always has a session.
            let Some(session) = request.session() else {
                return json_response(
                    StatusCode::UNAUTHORIZED,
                    json!({"error": "Unauthorized"}),
                    None,
                );
            };
            let body = json!({
                "sub": session.sub(),
                "username": session.username(),
                "groups": session.claims().groups(),
            });
            json_response(StatusCode::OK, body, None)
        }
        (Method::POST, "/logout") => match sessions.end(COOKIE, &request).await {
            Ok(()) => json_response(
                StatusCode::OK,
                json!({"message": "Logged out"}),
                Some(sessions.clear_cookie(COOKIE)),
            ),
            Err(error) => json_response(
                StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                json!({"error": error.to_string()}),
                None,
            ),
        },
        _ => json_response(StatusCode::NOT_FOUND, json!({"error": "Not Found"}), None),
    }
}

fn json_response(
    status: StatusCode,
    body: serde_json::Value,
    set_cookie: Option<String>,
) -> Result<Response<Body>, Error> {
    let mut response = Response::builder()
        .status(status)
        .header(CONTENT_TYPE, "application/json");
    if let Some(cookie) = set_cookie {
        response = response.header(SET_COOKIE, cookie);
    }
    Ok(response.body(Body::from(body.to_string()))?)
}
