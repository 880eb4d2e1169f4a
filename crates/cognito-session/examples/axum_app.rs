//! An axum app protected by [`SessionLayer`] that runs on Lambda (any HTTP trigger) and locally.
//!
//! - `GET /`: public; greets the user when there is a session (`Option<Session>` extractor).
//! - `GET /me`: the session's user (`Session` extractor).
//! - `POST /logout`: ends the session and clears the cookie.
//!
//! On Lambda (when `AWS_LAMBDA_RUNTIME_API` is set) it serves Lambda events through
//! `lambda_http`; otherwise it listens on `127.0.0.1:$PORT` (default 3000) and prints
//! `listening on http://127.0.0.1:<port>`. Configuration: the crate's environment variables.
//!
//! Build for Lambda with `cargo lambda build --release --arm64 --example axum_app`; run locally
//! with `cargo run --example axum_app` (with `SESSION_TABLE`, `PARTITION_KEY`, `CLIENT_ID`, ...
//! and AWS credentials in the environment).

use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use cognito_session::{Session, SessionLayer, Sessions};
use serde_json::json;

const COOKIE: &str = "token";

/// The router, with the session layer (the part worth copying).
fn app(sessions: Sessions) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/me", get(me))
        .route("/logout", post(logout))
        .layer(
            SessionLayer::new(sessions.clone())
                .cookie_name(COOKIE)
                .public("/"),
        )
        .with_state(sessions)
}

async fn home(session: Option<Session>) -> Json<serde_json::Value> {
    Json(match session {
        Some(session) => json!({"message": format!("welcome back {}", session.username())}),
        None => json!({"message": "welcome, please log in"}),
    })
}

async fn me(session: Session) -> Json<serde_json::Value> {
    Json(json!({
        "sub": session.sub(),
        "username": session.username(),
        "groups": session.claims().groups(),
    }))
}

async fn logout(State(sessions): State<Sessions>, headers: HeaderMap) -> Response {
    match sessions.end(COOKIE, &headers).await {
        Ok(()) => (
            [(SET_COOKIE, sessions.clear_cookie(COOKIE))],
            Json(json!({"message": "Logged out"})),
        )
            .into_response(),
        Err(error) => (
            StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            Json(json!({"error": error.to_string()})),
        )
            .into_response(),
    }
}

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let Ok(sessions) = Sessions::from_env().await.inspect_err(|error| {
        lambda_runtime::tracing::error!(%error, "cannot start");
    }) else {
        // Logged above as the sentence a person reads (not the error's `Debug`).
        std::process::exit(1);
    };
    let app = app(sessions);
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        return lambda_http::run(app).await;
    }
    let port: u16 = match std::env::var("PORT") {
        Ok(port) => port.parse()?,
        Err(_) => 3000,
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
