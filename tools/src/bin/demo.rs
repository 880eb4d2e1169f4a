//! The end-to-end demo: moto plays AWS, a Lambda-style handler serves API Gateway (REST) events,
//! and one user goes through login → request → expiry and refresh → logout → refused request.
//!
//! Run it with `scripts/demo.sh` (installs moto into `.venv` first).

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_sdk_cognitoidentityprovider::types::AuthFlowType;
use cognito_session::{Sessions, Tokens};
use serde_json::{json, Value};
use testkit::{CallCounter, Pool, PoolOptions};

const COOKIE: &str = "token";

/// The Lambda function of the demo: three routes on an API Gateway REST (v1) event.
struct App {
    sessions: Sessions,
    cognito: aws_sdk_cognitoidentityprovider::Client,
    client_id: String,
}

fn response(status: u16, body: Value, set_cookie: Option<String>) -> Value {
    let mut response = json!({
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "multiValueHeaders": {},
        "body": body.to_string(),
    });
    if let Some(cookie) = set_cookie {
        response["multiValueHeaders"]["Set-Cookie"] = json!([cookie]);
    }
    response
}

fn error_response(sessions: &Sessions, error: &cognito_session::Error) -> Value {
    let message = if error.status() == 401 {
        "Unauthorized"
    } else {
        "Service Unavailable"
    };
    response(
        error.status(),
        json!({"error": message, "why": error.to_string()}),
        sessions.clear_cookie_for(error, COOKIE),
    )
}

impl App {
    async fn handle(&self, event: &Value) -> Value {
        match (event["httpMethod"].as_str(), event["path"].as_str()) {
            (Some("POST"), Some("/login")) => self.login(event).await,
            (Some("POST"), Some("/logout")) => match self.sessions.end(COOKIE, event).await {
                Ok(()) => response(
                    200,
                    json!({"message": "Logged out"}),
                    Some(self.sessions.clear_cookie(COOKIE)),
                ),
                Err(error) => error_response(&self.sessions, &error),
            },
            _ => match self.sessions.session(COOKIE, event).await {
                Ok(session) => response(
                    200,
                    json!({"message": "Request successful", "user": session.username()}),
                    session.set_cookie(COOKIE),
                ),
                Err(error) => error_response(&self.sessions, &error),
            },
        }
    }

    async fn login(&self, event: &Value) -> Value {
        let body: Value =
            serde_json::from_str(event["body"].as_str().unwrap_or("{}")).unwrap_or_default();
        let result = self
            .cognito
            .initiate_auth()
            .client_id(&self.client_id)
            .auth_flow(AuthFlowType::UserPasswordAuth)
            .auth_parameters("USERNAME", body["username"].as_str().unwrap_or_default())
            .auth_parameters("PASSWORD", body["password"].as_str().unwrap_or_default())
            .send()
            .await;
        let Some(tokens) = result.ok().and_then(|r| r.authentication_result) else {
            return response(401, json!({"error": "Wrong username or password"}), None);
        };
        match self.sessions.start(&Tokens::from(&tokens)).await {
            Ok(session) => response(
                200,
                json!({"message": "Logged in"}),
                session.set_cookie(COOKIE),
            ),
            Err(error) => error_response(&self.sessions, &error),
        }
    }
}

/// A REST API event from the fixtures, with this method, path, cookie and body.
fn event(method: &str, path: &str, cookie: Option<&str>, body: Option<Value>) -> Value {
    let mut event = testkit::fixture("apigw_proxy_request.json");
    event["httpMethod"] = json!(method);
    event["path"] = json!(path);
    if let Some(cookie) = cookie {
        event["headers"]["Cookie"] = json!(format!("{COOKIE}={cookie}"));
    }
    event["body"] = body.map_or(Value::Null, |b| json!(b.to_string()));
    event
}

fn short(token: &str) -> String {
    format!("{}…({} chars)", &token[..token.len().min(16)], token.len())
}

/// Prints a response, abbreviating tokens, and returns the cookie value it sets (if any).
fn show(response: &Value, calls: &CallCounter) -> Option<String> {
    let body: Value =
        serde_json::from_str(response["body"].as_str().unwrap_or("null")).unwrap_or_default();
    println!("   ← {} {}", response["statusCode"], body);
    let set_cookie = response["multiValueHeaders"]["Set-Cookie"][0]
        .as_str()
        .map(str::to_owned);
    let mut value = None;
    if let Some(cookie) = &set_cookie {
        let (pair, attributes) = cookie.split_once(';').unwrap_or((cookie, ""));
        let v = pair.split_once('=').map(|(_, v)| v).unwrap_or_default();
        println!(
            "     Set-Cookie: {COOKIE}={};{attributes}",
            if v.is_empty() {
                "(empty)".into()
            } else {
                short(v)
            }
        );
        value = Some(v.to_owned()).filter(|v| !v.is_empty());
    }
    let all = calls.all();
    println!(
        "     AWS calls: {}",
        if all.is_empty() {
            "none".into()
        } else {
            all.join(", ")
        }
    );
    calls.reset();
    value
}

#[tokio::main]
async fn main() {
    println!("cognito-session demo: server-side sessions for a Lambda function\n");
    let pool = Pool::new(PoolOptions::default()).await;
    let sub = pool.user("alice").await;
    println!("Setup (moto plays AWS at {}):", pool.moto.url);
    println!(
        "   user pool {}, app client {}, user alice (sub {sub})",
        pool.pool_id, pool.client_id
    );
    println!(
        "   DynamoDB table {} (partition key `{}`), as the seed package expects",
        pool.table, pool.partition_key
    );

    let offset = Arc::new(AtomicI64::new(0));
    let clock = {
        let offset = offset.clone();
        move || SystemTime::now() + Duration::from_secs(offset.load(Ordering::Relaxed) as u64)
    };
    let (cognito, dynamodb, calls) = pool.counted_clients();
    let sessions = Sessions::builder()
        .table(&pool.table)
        .partition_key(&pool.partition_key)
        .client_id(&pool.client_id)
        .user_pool_id(&pool.pool_id)
        .sdk_config(pool.sdk.clone())
        .cognito_client(cognito.clone())
        .dynamodb_client(dynamodb)
        .clock(clock)
        .build()
        .await
        .expect("configure sessions");
    let app = App {
        sessions,
        cognito,
        client_id: pool.client_id.clone(),
    };

    println!(
        "\n1. Alice logs in (POST /login). The handler calls Cognito, then stores the session row:"
    );
    let login = event(
        "POST",
        "/login",
        None,
        Some(json!({"username": "alice", "password": testkit::PASSWORD})),
    );
    let token = show(&app.handle(&login).await, &calls).expect("login sets the cookie");
    let row = pool.row(&sub).await.expect("row");
    println!(
        "     row: {}={sub}, token=<refresh token>, timestamp={}, origin_jti={}",
        pool.partition_key,
        row["timestamp"].as_n().unwrap_or(&String::new()),
        row["origin_jti"].as_s().unwrap_or(&String::new())
    );

    println!("\n2. Alice asks for her page with the cookie. The token is verified locally (JWKS cached),");
    println!("   and the session row is read once; Cognito is not called:");
    show(
        &app.handle(&event("GET", "/profile", Some(&token), None))
            .await,
        &calls,
    );

    println!("\n3. An attacker forges an unsigned token carrying Alice's sub (the seed package's takeover):");
    let forged = testkit::unsigned(&testkit::peek(&token));
    show(
        &app.handle(&event("GET", "/profile", Some(&forged), None))
            .await,
        &calls,
    );

    println!("\n4. One hour passes: Alice's access token expires. Her browser still sends it:");
    offset.store(3700, Ordering::Relaxed);
    let new_token = show(
        &app.handle(&event("GET", "/profile", Some(&token), None))
            .await,
        &calls,
    )
    .expect("the refresh sets a new cookie");
    println!("     → refreshed with the stored refresh token; the new cookie replaces the old one");

    println!("\n5. Alice logs out (POST /logout): the row is deleted and the cookie cleared:");
    show(
        &app.handle(&event("POST", "/logout", Some(&new_token), None))
            .await,
        &calls,
    );
    println!(
        "     row now: {}",
        if pool.row(&sub).await.is_some() {
            "still there?!"
        } else {
            "gone"
        }
    );

    println!("\n6. Someone replays Alice's last token after the logout:");
    show(
        &app.handle(&event("GET", "/profile", Some(&new_token), None))
            .await,
        &calls,
    );
    println!("\nDone: a logout takes effect at once, an expired token is refreshed once, and forged tokens never reach AWS.");
}
