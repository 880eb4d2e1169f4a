//! A web app with login: managed login (the user pool's hosted pages) and its own password
//! form, on axum, running on Lambda (any HTTP trigger) and locally.
//!
//! - `GET /`: public; "Log in" links, or the signed-in user's email and a logout button.
//! - `GET /login`, `GET /callback`, `POST /logout`: managed login ([`Sessions::login`],
//!   [`Sessions::callback`], [`Sessions::logout`]).
//! - `GET /signin`, `POST /signin`, `POST /signin/next`: the app's own password form
//!   ([`Sessions::sign_in`], then [`Sessions::respond`] for a challenge such as a new password or
//!   an MFA code; the challenge waits in an `HttpOnly` cookie between the two requests).
//! - `GET /app`: a protected page: without a session the browser is sent to `/login` and back.
//! - `GET /api/me`: a protected JSON route: without a session, 401 JSON.
//!
//! Configuration: the crate's environment variables, with `COGNITO_DOMAIN`, `REDIRECT_URI`
//! (`http://localhost:3000/callback` locally) and `LOGOUT_URI` (`http://localhost:3000/`)
//! registered on the app client. On Lambda (`AWS_LAMBDA_RUNTIME_API` set) it serves Lambda
//! events; otherwise it listens on `127.0.0.1:$PORT` (default 3000) and prints
//! `listening on http://127.0.0.1:<port>`. Run locally over plain HTTP with `COOKIE_SECURE=false`.

use axum::extract::{Request, State};
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use cognito_session::{
    Answer, Challenge, ChallengeKind, CookieSource, Mfa, Session, SessionLayer, Sessions, SignIn,
};
use serde::Deserialize;
use serde_json::json;

/// The router, with the session layer (the part worth copying).
pub fn app(sessions: Sessions) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/login", get(login))
        .route("/callback", get(callback))
        .route("/logout", post(logout))
        .route("/signin", get(signin_form).post(signin))
        .route("/signin/next", post(signin_next))
        .route("/app", get(protected_page))
        .route("/api/me", get(me))
        .layer(
            SessionLayer::new(sessions.clone())
                .public("/")
                .public("/callback")
                .public("/logout")
                .public("/signin")
                .public("/signin/next")
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

/// The cookie a sign-in challenge waits in between two requests (never a URL: it is a secret).
const CHALLENGE_COOKIE: &str = "signin-challenge";

#[derive(Deserialize)]
struct Credentials {
    username: String,
    password: String,
}

#[derive(Deserialize)]
struct Next {
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    code: String,
}

async fn signin_form() -> Html<String> {
    password_form(None)
}

fn password_form(error: Option<&str>) -> Html<String> {
    let error = error
        .map(|e| format!("<p id=\"error\">{}</p>", escape(e)))
        .unwrap_or_default();
    page(
        "Sign in",
        &format!(
            "{error}<form method=\"post\" action=\"/signin\">\
             <label>Username <input name=\"username\" autocomplete=\"username\"></label>\
             <label>Password <input name=\"password\" type=\"password\" autocomplete=\"current-password\"></label>\
             <button id=\"signin\">Sign in</button></form>"
        ),
    )
}

async fn signin(State(sessions): State<Sessions>, Form(form): Form<Credentials>) -> Response {
    let step = sessions.sign_in(&form.username, &form.password).await;
    next_step(&sessions, step)
}

async fn signin_next(
    State(sessions): State<Sessions>,
    headers: HeaderMap,
    Form(form): Form<Next>,
) -> Response {
    let challenge = match headers.cookie(CHALLENGE_COOKIE).map(Challenge::from_state) {
        Some(Ok(challenge)) => challenge,
        _ => return (StatusCode::BAD_REQUEST, password_form(Some("start again"))).into_response(),
    };
    let answer = match challenge.kind() {
        ChallengeKind::NewPasswordRequired { .. } => Answer::NewPassword {
            password: form.new_password,
            attributes: Vec::new(),
        },
        ChallengeKind::SelectMfaType { .. } | ChallengeKind::MfaSetup { .. } => {
            Answer::Choose(Mfa::Totp)
        }
        _ => Answer::Code(form.code),
    };
    let step = sessions.respond(&challenge, &answer).await;
    next_step(&sessions, step)
}

/// Signed in: the session cookie and on to the page; a challenge: its form; refused: the
/// form again with the reason (the same words for a wrong password and an unknown user).
fn next_step(sessions: &Sessions, step: Result<SignIn, cognito_session::SignInError>) -> Response {
    let name = sessions.cookie_options().name.clone();
    let clear_challenge =
        format!("{CHALLENGE_COOKIE}=; HttpOnly; Secure; SameSite=Strict; Path=/signin; Max-Age=0");
    match step {
        Ok(SignIn::Done(session)) => {
            let mut headers = HeaderMap::new();
            headers.insert(LOCATION, "/app".parse().expect("a header value"));
            for cookie in [session.set_cookie(&name), Some(clear_challenge)]
                .into_iter()
                .flatten()
            {
                if let Ok(value) = cookie.parse() {
                    headers.append(SET_COOKIE, value);
                }
            }
            (StatusCode::SEE_OTHER, headers).into_response()
        }
        Ok(SignIn::Challenge(challenge)) => {
            let cookie = format!(
                "{CHALLENGE_COOKIE}={}; HttpOnly; Secure; SameSite=Strict; Path=/signin; Max-Age=300",
                challenge.to_state()
            );
            let field = match challenge.kind() {
                ChallengeKind::NewPasswordRequired { .. } => {
                    "<label>New password <input name=\"new_password\" type=\"password\" autocomplete=\"new-password\"></label>".to_owned()
                }
                ChallengeKind::TotpSetup => format!(
                    "<p>Add this key to your authenticator app: <code>{}</code></p>\
                     <label>Code <input name=\"code\" autocomplete=\"one-time-code\"></label>",
                    escape(challenge.totp_secret().unwrap_or_default())
                ),
                ChallengeKind::SelectMfaType { .. } | ChallengeKind::MfaSetup { .. } => {
                    "<p>Use an authenticator app.</p>".to_owned()
                }
                _ => "<label>Code <input name=\"code\" autocomplete=\"one-time-code\"></label>".to_owned(),
            };
            let body = page(
                "One more step",
                &format!("<form method=\"post\" action=\"/signin/next\">{field}<button id=\"next\">Continue</button></form>"),
            );
            ([(SET_COOKIE, cookie)], body).into_response()
        }
        Err(error) => {
            let status =
                StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            (
                status,
                [(SET_COOKIE, clear_challenge)],
                password_form(Some(&error.to_string())),
            )
                .into_response()
        }
    }
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
                 <p><a id=\"login\" href=\"/login?return_to=/app\">Log in</a> \
                 or <a id=\"signin\" href=\"/signin\">sign in with a password here</a></p>"
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
