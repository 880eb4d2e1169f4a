//! testkit over HTTP, for test suites that are not Rust (the Node.js package's `node --test`
//! suites): moto, pools, users and logins, minted tokens, the fault proxy, the managed-login fake
//! and the Lambda Runtime API emulator, each behind one `POST /<name>` with a JSON body.
//!
//! Prints one JSON line when ready, `{"url": "http://127.0.0.1:<port>", "moto": "..."}`, and
//! exits when its standard input closes (so it, and moto with it, end with the test process).
//!
//! | `POST` | body | answer |
//! |---|---|---|
//! | `/pool` | `{secret?, sortKey?, callbackUrl?, logoutUrl?}` (the last two: a managed-login client) | `{poolId, clientId, clientSecret, table, partitionKey, issuer, jwksUrl}` |
//! | `/user` | `{pool, username, temporary?}` (`temporary`: a first sign-in must set a new password) | `{sub, password}` |
//! | `/login` | `{pool, username}` | Cognito's `AuthenticationResult` (`USER_PASSWORD_AUTH` on moto) |
//! | `/expired` | `{token}` | `{token}`: the same claims re-signed with moto's key, expired an hour ago |
//! | `/forged` | `{token, kind: "unsigned" \| "foreign-key"}` | `{token}`: the same claims, unsigned or signed by a key no JWKS has |
//! | `/row` | `{pool, sub}` | `{row}`: the session row's attributes (`null` when there is none) |
//! | `/global-sign-out` | `{pool, username}` | `{}` |
//! | `/proxy` | `{}` | `{id, url}`: a fault proxy in front of moto |
//! | `/proxy/inject` | `{id, fault, operation?, times?}`; `fault`: `throttled`, `internal`, `reset`, `status:<code>`, `latency:<ms>` | `{}` |
//! | `/proxy/heal` | `{id}` | `{}` |
//! | `/proxy/count` | `{id, operation}` | `{count}` |
//! | `/managed-login` | `{pool}` | `{id, baseUrl}`: the managed-login fake for the pool |
//! | `/managed-login/sign-in` | `{id, location, username}` | `{location}`: where the fake sends the browser after signing in |
//! | `/runtime` | `{}` | `{id, address}`: a Runtime API emulator (`AWS_LAMBDA_RUNTIME_API`) |
//! | `/runtime/invoke` | `{id, event, timeoutMs?}` | `{response}` or `{error}` |
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use testkit::managed_login::HttpBrowser;
use testkit::{
    Fault, ManagedLogin, Minter, Moto, Outcome, Pool, PoolOptions, Proxy, Rule, RuntimeApi,
    PASSWORD,
};

#[derive(Default)]
struct State {
    pools: Mutex<HashMap<String, Pool>>,
    proxies: Mutex<HashMap<String, Proxy>>,
    logins: Mutex<HashMap<String, ManagedLogin>>,
    runtimes: Mutex<HashMap<String, Arc<RuntimeApi>>>,
}

type Answer = Result<Value, String>;

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    runtime.block_on(serve());
}

async fn serve() {
    let moto = Moto::shared();
    let minter = Arc::new(Minter::moto());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1");
    let address = listener.local_addr().expect("local address");
    println!(
        "{}",
        json!({"url": format!("http://{address}"), "moto": moto.url})
    );
    // The test process holds our standard input: when it ends, so do we (and moto).
    std::thread::spawn(|| {
        let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
        std::process::exit(0);
    });
    let state = Arc::new(State::default());
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let (state, minter) = (state.clone(), minter.clone());
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let (state, minter) = (state.clone(), minter.clone());
                async move { Ok::<_, Infallible>(handle(request, state, minter).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn handle(
    request: Request<Incoming>,
    state: Arc<State>,
    minter: Arc<Minter>,
) -> Response<Full<Bytes>> {
    let path = request.uri().path().to_owned();
    let body = request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let body: Value = serde_json::from_slice(&body).unwrap_or(json!({}));
    // A testkit helper that panics (moto refused a fixture call) answers 500 with its message.
    let task = tokio::spawn(async move { route(&path, &body, &state, &minter).await });
    let (status, answer) = match task.await {
        Ok(Ok(value)) => (200, value),
        Ok(Err(message)) => (400, json!({ "error": message })),
        Err(panic) => (
            500,
            json!({ "error": format!("testkit panicked: {panic}") }),
        ),
    };
    let mut response = Response::new(Full::new(Bytes::from(answer.to_string())));
    *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or_default();
    response
}

fn text<'a>(body: &'a Value, name: &str) -> Result<&'a str, String> {
    body[name]
        .as_str()
        .ok_or_else(|| format!("`{name}` (a string) is missing"))
}

fn pool(state: &State, body: &Value) -> Result<Pool, String> {
    let id = text(body, "pool")?;
    state
        .pools
        .lock()
        .unwrap()
        .get(id)
        .cloned()
        .ok_or_else(|| format!("no pool {id}"))
}

fn proxy(state: &State, body: &Value) -> Result<Proxy, String> {
    let id = text(body, "id")?;
    state
        .proxies
        .lock()
        .unwrap()
        .get(id)
        .cloned()
        .ok_or_else(|| format!("no proxy {id}"))
}

fn fault(spec: &str) -> Result<Fault, String> {
    let (kind, value) = spec.split_once(':').unwrap_or((spec, ""));
    Ok(match kind {
        "throttled" => Fault::Throttled,
        "internal" => Fault::InternalError,
        "reset" => Fault::Reset,
        "lose-answer" => Fault::LoseAnswer,
        "status" => Fault::Status(value.parse().map_err(|_| format!("bad status {value}"))?),
        "latency" => Fault::Latency(Duration::from_millis(
            value.parse().map_err(|_| format!("bad latency {value}"))?,
        )),
        other => return Err(format!("unknown fault {other}")),
    })
}

fn attribute(value: &AttributeValue) -> Value {
    match value {
        AttributeValue::S(s) => json!(s),
        AttributeValue::N(n) => json!(n),
        AttributeValue::Bool(b) => json!(b),
        AttributeValue::Null(_) => Value::Null,
        other => json!(format!("{other:?}")),
    }
}

async fn route(path: &str, body: &Value, state: &State, minter: &Minter) -> Answer {
    match path {
        "/pool" => {
            let mut options = match (body["callbackUrl"].as_str(), body["logoutUrl"].as_str()) {
                (Some(callback), Some(logout)) => PoolOptions::managed_login(callback, logout),
                _ => PoolOptions::default(),
            };
            options.secret = body["secret"].as_bool().unwrap_or(false);
            options.sort_key = body["sortKey"].as_str().map(str::to_owned);
            let pool = Pool::new(options).await;
            let answer = json!({
                "poolId": pool.pool_id,
                "clientId": pool.client_id,
                "clientSecret": pool.client_secret,
                "table": pool.table,
                "partitionKey": pool.partition_key,
                "issuer": pool.issuer(),
                "jwksUrl": pool.jwks_url(),
            });
            state
                .pools
                .lock()
                .unwrap()
                .insert(pool.pool_id.clone(), pool);
            Ok(answer)
        }
        "/user" => {
            let pool = pool(state, body)?;
            let username = text(body, "username")?;
            if body["temporary"].as_bool() == Some(true) {
                // Created by an administrator: the first sign-in must choose a new password.
                let user = pool
                    .cognito
                    .admin_create_user()
                    .user_pool_id(&pool.pool_id)
                    .username(username)
                    .temporary_password(PASSWORD)
                    .send()
                    .await
                    .map_err(|e| format!("AdminCreateUser: {e:?}"))?;
                let sub = user
                    .user
                    .iter()
                    .flat_map(|u| u.attributes())
                    .find(|a| a.name() == "sub")
                    .and_then(|a| a.value())
                    .map(str::to_owned);
                return Ok(json!({ "sub": sub, "password": PASSWORD }));
            }
            Ok(json!({ "sub": pool.user(username).await, "password": PASSWORD }))
        }
        "/login" => {
            let pool = pool(state, body)?;
            let result = pool.login(text(body, "username")?).await;
            Ok(json!({
                "AccessToken": result.access_token(),
                "IdToken": result.id_token(),
                "RefreshToken": result.refresh_token(),
                "ExpiresIn": result.expires_in(),
                "TokenType": result.token_type(),
            }))
        }
        "/expired" => {
            let mut claims = testkit::peek(text(body, "token")?);
            let iat = testkit::now() - 7200;
            claims["iat"] = iat.into();
            claims["auth_time"] = iat.into();
            claims["exp"] = (iat + 3600).into();
            Ok(json!({ "token": minter.access(&claims) }))
        }
        "/forged" => {
            let claims = testkit::peek(text(body, "token")?);
            let token = match text(body, "kind")? {
                "unsigned" => testkit::unsigned(&claims),
                "foreign-key" => Minter::random().access(&claims),
                other => return Err(format!("unknown forgery {other}")),
            };
            Ok(json!({ "token": token }))
        }
        "/row" => {
            let pool = pool(state, body)?;
            let row = pool.row(text(body, "sub")?).await.map(|row| {
                row.iter()
                    .map(|(name, value)| (name.clone(), attribute(value)))
                    .collect::<serde_json::Map<_, _>>()
            });
            Ok(json!({ "row": row }))
        }
        "/global-sign-out" => {
            let pool = pool(state, body)?;
            pool.global_sign_out(text(body, "username")?).await;
            Ok(json!({}))
        }
        "/proxy" => {
            let proxy = Proxy::start(&Moto::shared().url).await;
            let id = proxy.url.clone();
            let answer = json!({ "id": id, "url": proxy.url });
            state.proxies.lock().unwrap().insert(id, proxy);
            Ok(answer)
        }
        "/proxy/inject" => {
            let proxy = proxy(state, body)?;
            let fault = fault(text(body, "fault")?)?;
            let mut rule = match body["operation"].as_str() {
                Some(operation) => Rule::on(operation, fault),
                None => Rule::any(fault),
            };
            if let Some(times) = body["times"].as_u64() {
                rule = rule.times(usize::try_from(times).unwrap_or(usize::MAX));
            }
            proxy.inject(rule);
            Ok(json!({}))
        }
        "/proxy/heal" => {
            proxy(state, body)?.heal();
            Ok(json!({}))
        }
        "/proxy/count" => {
            let count = proxy(state, body)?.count(text(body, "operation")?);
            Ok(json!({ "count": count }))
        }
        "/managed-login" => {
            let pool = pool(state, body)?;
            let login = pool.managed_login().await;
            let id = login.base_url().to_owned();
            state.logins.lock().unwrap().insert(id.clone(), login);
            Ok(json!({ "id": id, "baseUrl": id }))
        }
        "/managed-login/sign-in" => {
            let id = text(body, "id")?;
            let login = state
                .logins
                .lock()
                .unwrap()
                .get(id)
                .cloned()
                .ok_or_else(|| format!("no managed login {id}"))?;
            let back = HttpBrowser::new()
                .sign_in(
                    &login,
                    text(body, "location")?,
                    text(body, "username")?,
                    PASSWORD,
                )
                .await;
            Ok(json!({ "status": back.status, "location": back.location() }))
        }
        "/runtime" => {
            let api = RuntimeApi::start().await;
            let id = api.address.clone();
            state
                .runtimes
                .lock()
                .unwrap()
                .insert(id.clone(), Arc::new(api));
            Ok(json!({ "id": id, "address": id }))
        }
        "/runtime/invoke" => {
            let id = text(body, "id")?;
            let api = state
                .runtimes
                .lock()
                .unwrap()
                .get(id)
                .cloned()
                .ok_or_else(|| format!("no runtime {id}"))?;
            let timeout = Duration::from_millis(body["timeoutMs"].as_u64().unwrap_or(30_000));
            Ok(match api.invoke(body["event"].clone(), timeout).await {
                Outcome::Response(response) => json!({ "response": response }),
                Outcome::Error(error) => json!({ "error": error }),
            })
        }
        other => Err(format!("no such testkit call: {other}")),
    }
}
