//! A measurement target (not a test): a minimal HTTP app on 127.0.0.1 that checks the session of
//! every request, with moto behind it, for a load generator (`scripts/bench-load.sh` drives it
//! with `oha`). Until the axum example exists this is the app under load; it does what such an
//! app does per request: `sessions.session("token", headers)`, then a small JSON answer.
//!
//! It starts its own moto (through testkit), creates a user pool, a user who logs in for real and
//! the session table, then serves:
//!
//! - `/token` and `/token/uncached`: `SESSION_VALIDATION=token`, verified-token cache on / off;
//! - `/session` and `/session/uncached`: session mode (one `GetItem` on moto), cache on / off.
//!
//! It prints one JSON line `{"url": ..., "cookie": ...}` and serves until its standard input
//! closes or `MAX_SECONDS` (default 300) pass, whichever comes first.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use cognito_session::{SessionValidation, Sessions, Tokens};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::json;
use testkit::{Pool, PoolOptions};

struct App {
    token: Sessions,
    token_uncached: Sessions,
    session: Sessions,
    session_uncached: Sessions,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let pool = Pool::new(PoolOptions::default()).await;
    pool.user("load-user").await;
    let login = pool.login("load-user").await;
    let build = |validation: SessionValidation, cache: usize| {
        Sessions::builder()
            .table(&pool.table)
            .partition_key(&pool.partition_key)
            .client_id(&pool.client_id)
            .user_pool_id(&pool.pool_id)
            .jwks_url(pool.jwks_url())
            .sdk_config(pool.sdk.clone())
            .validation(validation)
            .token_cache(cache)
            .build()
    };
    let app = Arc::new(App {
        token: build(SessionValidation::Token, 4096).await.expect("build"),
        token_uncached: build(SessionValidation::Token, 0).await.expect("build"),
        session: build(SessionValidation::Session, 4096)
            .await
            .expect("build"),
        session_uncached: build(SessionValidation::Session, 0).await.expect("build"),
    });
    let session = app
        .session
        .start(&Tokens::from(&login))
        .await
        .expect("start the session");

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    println!(
        "{}",
        json!({"url": url, "cookie": format!("token={}", login.access_token().unwrap_or_default()), "sub": session.sub()})
    );

    let max = std::env::var("MAX_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    let stdin_closed = tokio::task::spawn_blocking(|| {
        let mut sink = Vec::new();
        let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink);
    });
    let serve = async {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let app = app.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    let app = app.clone();
                    async move { Ok::<_, Infallible>(handle(&app, request).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    };
    tokio::select! {
        () = serve => {}
        _ = stdin_closed => {}
        () = tokio::time::sleep(Duration::from_secs(max)) => {}
    }
}

async fn handle(app: &App, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let sessions = match request.uri().path() {
        "/token" => &app.token,
        "/token/uncached" => &app.token_uncached,
        "/session" => &app.session,
        "/session/uncached" => &app.session_uncached,
        _ => return reply(404, json!({"error": "Not Found"})),
    };
    match sessions.session("token", request.headers()).await {
        Ok(session) => reply(
            200,
            json!({"message": "Request successful", "user": session.username()}),
        ),
        Err(error) => reply(error.status(), json!({"error": error.to_string()})),
    }
}

fn reply(status: u16, body: serde_json::Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or_default();
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}
