//! A web app with login: managed login (the user pool's hosted pages) and its own password
//! form, on axum, running on Lambda (any HTTP trigger) and locally.
//!
//! - `GET /`: public; "Log in" links, or the signed-in user's email and a logout button.
//! - `GET /login`, `GET /callback`, `POST /logout`: managed login ([`Sessions::login`],
//!   [`Sessions::callback`], [`Sessions::logout`]).
//! - `GET /app`: a protected page: without a session the browser is sent to `/login` and back.
//! - `GET /api/me`: a protected JSON route: without a session, 401 JSON.
//!
//! Configuration: the crate's environment variables, with `COGNITO_DOMAIN`, `REDIRECT_URI`
//! (`http://localhost:3000/callback` locally) and `LOGOUT_URI` (`http://localhost:3000/`)
//! registered on the app client. On Lambda (`AWS_LAMBDA_RUNTIME_API` set) it serves Lambda
//! events; otherwise it listens on `127.0.0.1:$PORT` (default 3000) and prints
//! `listening on http://127.0.0.1:<port>`. Run locally over plain HTTP with `COOKIE_SECURE=false`.

use axum::extract::{Request, State};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use cognito_session::{Session, SessionLayer, Sessions};
use serde_json::json;

/// The router, with the session layer (the part worth copying).
pub fn app(sessions: Sessions) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/login", get(login))
        .route("/callback", get(callback))
        .route("/logout", post(logout))
        .route("/app", get(protected_page))
        .route("/api/me", get(me))
        .layer(
            SessionLayer::new(sessions.clone())
                .public("/")
                .public("/callback")
                .public("/logout")
                // Page loads under /app without a session go to /login and come back.
                .login_redirect("/app", "/login"),
        )
        .with_state(sessions)
}

async fn login(State(sessions): State<Sessions>, request: Request) -> Response {
    sessions.login(&request).await.into_response()
}

async fn callback(State(sessions): State<Sessions>, request: Request) -> Response {
    sessions.callback(&request).await.into_response()
}

async fn logout(State(sessions): State<Sessions>, request: Request) -> Response {
    sessions.logout(&request).await.into_response()
}

async fn home(session: Option<Session>) -> Html<String> {
    let body = match &session {
        Some(session) => format!(
            "<p id=\"user\">Signed in as {}</p>\
             <p><a href=\"/app\">Your page</a></p>\
             <form method=\"post\" action=\"/logout\"><button id=\"logout\">Log out</button></form>",
            escape(display_name(session))
        ),
        None => "<p id=\"user\">Not signed in</p>\
                 <p><a id=\"login\" href=\"/login?return_to=/app\">Log in</a></p>"
            .to_owned(),
    };
    page("Home", &body)
}

async fn protected_page(session: Session) -> Html<String> {
    let profile = session.profile();
    let body = format!(
        "<p id=\"user\">Signed in as {}</p>\
         <p id=\"verified\">email verified: {}</p>\
         <p><a href=\"/\">Home</a></p>\
         <form method=\"post\" action=\"/logout\"><button id=\"logout\">Log out</button></form>",
        escape(display_name(&session)),
        profile
            .and_then(|p| p.email_verified())
            .map_or("unknown", |v| if v { "yes" } else { "no" }),
    );
    page("Your page", &body)
}

async fn me(session: Session) -> Json<serde_json::Value> {
    Json(json!({
        "sub": session.sub(),
        "username": session.username(),
        "email": session.profile().and_then(|p| p.email()),
        "groups": session.claims().groups(),
    }))
}

/// The email from the profile, else Cognito's username.
fn display_name(session: &Session) -> &str {
    session
        .profile()
        .and_then(|p| p.email())
        .unwrap_or(session.username())
}

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body><h1>{title}</h1>{body}</body></html>"
    ))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let Ok(sessions) = Sessions::from_env().await.inspect_err(|error| {
        lambda_runtime::tracing::error!(%error, "cannot start");
    }) else {
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
