//! The scale model's check (BENCHMARKS.md, "Scale"): simulated users over a simulated day,
//! driven through the library itself (`Sessions::sign_in_with`, `session`, `end`) against the
//! in-memory store and an in-process Cognito, both of which count calls. Nothing is timed: the
//! clock is simulated, and the output is the number of calls (in total, and the peak per
//! simulated second), beside what the model in BENCHMARKS.md predicts for the same parameters.
//!
//! Each user signs in once (USER_PASSWORD_AUTH: one `InitiateAuth`; SRP would add one
//! `RespondToAuthChallenge`, which has a quota of its own), at a time drawn uniformly from a
//! window of `WINDOW_H` hours; then makes a request every `60/RATE` minutes (± a third of that,
//! at random) for `ACTIVE_H` hours, with an access token lifetime of `LIFETIME_S` seconds; a
//! fraction `LOGOUT` of the users log out at the end (one `RevokeToken`).
//!
//! ```text
//! cargo run --release -p cognito-session-tools --bin scale_sim -- USERS [session|token]
//! ```
//!
//! Parameters other than the two arguments are environment variables: `WINDOW_H` (12),
//! `ACTIVE_H` (2), `RATE` (requests per user and hour, 60), `LIFETIME_S` (3600), `LOGOUT` (0.5).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use cognito_session::store::{
    BoxFuture, MemoryStore, Patch, SessionKey, SessionRow, SessionStore, StoreError, Version,
};
use cognito_session::{SessionValidation, Sessions, SignIn, SignInFlow};
use serde_json::{json, Value};
use testkit::Minter;

const POOL: &str = "us-east-1_ScaleSim";
const CLIENT: &str = "scalesimclient";
/// The simulated day starts at this epoch second (a Monday, 00:00 UTC).
const DAY: i64 = 1_798_761_600;

fn env(name: &str, default: f64) -> f64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Calls counted per simulated second, by name.
#[derive(Default)]
struct Tally {
    per_second: HashMap<&'static str, Vec<u32>>,
}

impl Tally {
    fn add(&mut self, name: &'static str, second: i64) {
        let slots = self
            .per_second
            .entry(name)
            .or_insert_with(|| vec![0; 2 * 86_400]);
        let index = usize::try_from(second - DAY)
            .unwrap_or(0)
            .min(slots.len() - 1);
        slots[index] += 1;
    }

    fn total(&self, name: &str) -> u64 {
        self.per_second
            .get(name)
            .map_or(0, |s| s.iter().map(|n| u64::from(*n)).sum())
    }

    /// The busiest simulated second of the calls named in `names`, summed.
    fn peak(&self, names: &[&str]) -> u32 {
        (0..2 * 86_400)
            .map(|i| {
                names
                    .iter()
                    .filter_map(|n| self.per_second.get(n))
                    .map(|s| s[i])
                    .sum::<u32>()
            })
            .max()
            .unwrap_or(0)
    }

    /// The mean rate per second of `names` over `[from, to)` (epoch seconds).
    fn mean(&self, names: &[&str], from: i64, to: i64) -> f64 {
        let (a, b) = ((from - DAY) as usize, (to - DAY) as usize);
        let sum: u64 = names
            .iter()
            .filter_map(|n| self.per_second.get(n))
            .map(|s| s[a..b].iter().map(|n| u64::from(*n)).sum::<u64>())
            .sum();
        sum as f64 / (b - a) as f64
    }
}

type Shared = Arc<(AtomicI64, Mutex<Tally>)>;

fn now(shared: &Shared) -> i64 {
    shared.0.load(Ordering::Relaxed)
}

fn count(shared: &Shared, name: &'static str) {
    let second = now(shared);
    shared.1.lock().unwrap().add(name, second);
}

/// The in-memory store, counting each operation under its DynamoDB name.
#[derive(Debug)]
struct Counted(MemoryStore, SharedDebug);

struct SharedDebug(Shared);

impl fmt::Debug for SharedDebug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Shared")
    }
}

impl SessionStore for Counted {
    fn load<'a>(
        &'a self,
        key: SessionKey<'a>,
    ) -> BoxFuture<'a, Result<Option<SessionRow>, StoreError>> {
        count(&self.1 .0, "GetItem");
        self.0.load(key)
    }

    fn list<'a>(&'a self, sub: &'a str) -> BoxFuture<'a, Result<Vec<SessionRow>, StoreError>> {
        count(&self.1 .0, "Query");
        self.0.list(sub)
    }

    fn put<'a>(&'a self, record: &'a SessionRow) -> BoxFuture<'a, Result<(), StoreError>> {
        count(&self.1 .0, "PutItem");
        self.0.put(record)
    }

    fn update<'a>(
        &'a self,
        key: SessionKey<'a>,
        expected: Option<&'a Version>,
        patch: &'a Patch,
    ) -> BoxFuture<'a, Result<SessionRow, StoreError>> {
        count(&self.1 .0, "UpdateItem");
        self.0.update(key, expected, patch)
    }

    fn update_any<'a>(
        &'a self,
        key: SessionKey<'a>,
        expected: &'a [Option<Version>],
        patch: &'a Patch,
    ) -> BoxFuture<'a, Result<SessionRow, StoreError>> {
        count(&self.1 .0, "UpdateItem");
        self.0.update_any(key, expected, patch)
    }

    fn delete<'a>(
        &'a self,
        key: SessionKey<'a>,
        expected: Option<&'a Version>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        count(&self.1 .0, "DeleteItem");
        self.0.delete(key, expected)
    }
}

/// Cognito in this process: password sign-in, refresh (`REFRESH_TOKEN_AUTH`) and `RevokeToken`,
/// minting RS256 tokens at the simulated time. Refresh tokens are `rt.<user>.<family>`.
#[derive(Clone)]
struct FakeCognito {
    minter: Arc<Minter>,
    shared: Shared,
    lifetime: u64,
    families: Arc<AtomicI64>,
}

impl fmt::Debug for FakeCognito {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FakeCognito")
    }
}

impl FakeCognito {
    fn token(&self, user: &str, family: &str) -> String {
        let iat = u64::try_from(now(&self.shared)).unwrap_or(0);
        let issuer = format!("https://cognito-idp.us-east-1.amazonaws.com/{POOL}");
        let mut claims =
            testkit::access_claims(&issuer, CLIENT, &format!("sub-{user}"), user, family, iat);
        claims["exp"] = (iat + self.lifetime).into();
        self.minter
            .sign(&json!({"kid": "sim", "alg": "RS256"}), &claims)
    }

    fn answer(&self, operation: &str, body: &Value) -> (u16, Value) {
        let parameters = &body["AuthParameters"];
        match (operation, body["AuthFlow"].as_str()) {
            ("InitiateAuth", Some("USER_PASSWORD_AUTH")) => {
                count(&self.shared, "InitiateAuth (sign-in)");
                let user = parameters["USERNAME"].as_str().unwrap_or_default();
                let family = format!("f{}", self.families.fetch_add(1, Ordering::Relaxed));
                let result = json!({"AuthenticationResult": {
                    "AccessToken": self.token(user, &family),
                    "RefreshToken": format!("rt.{user}.{family}"),
                    "ExpiresIn": self.lifetime, "TokenType": "Bearer"}});
                (200, result)
            }
            ("InitiateAuth", Some("REFRESH_TOKEN_AUTH")) => {
                count(&self.shared, "InitiateAuth (refresh)");
                let token = parameters["REFRESH_TOKEN"].as_str().unwrap_or_default();
                let mut parts = token.splitn(3, '.').skip(1);
                let (user, family) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
                let result = json!({"AuthenticationResult": {
                    "AccessToken": self.token(user, family),
                    "ExpiresIn": self.lifetime, "TokenType": "Bearer"}});
                (200, result)
            }
            ("RevokeToken", _) => {
                count(&self.shared, "RevokeToken");
                (200, json!({}))
            }
            (other, _) => (
                400,
                json!({"__type": "InvalidParameterException", "message": format!("{other} is not simulated")}),
            ),
        }
    }
}

impl HttpConnector for FakeCognito {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let operation = request
            .headers()
            .get("x-amz-target")
            .and_then(|t| t.rsplit('.').next())
            .unwrap_or_default()
            .to_owned();
        let body: Value = request
            .body()
            .bytes()
            .and_then(|b| serde_json::from_slice(b).ok())
            .unwrap_or_default();
        let (status, answer) = self.answer(&operation, &body);
        let mut response = HttpResponse::new(
            status.try_into().expect("a valid status"),
            SdkBody::from(answer.to_string()),
        );
        response
            .headers_mut()
            .insert("content-type", "application/x-amz-json-1.1");
        if status != 200 {
            response
                .headers_mut()
                .insert("x-amzn-errortype", "InvalidParameterException");
        }
        HttpConnectorFuture::ready(Ok(response))
    }
}

impl HttpClient for FakeCognito {
    fn http_connector(
        &self,
        _: &HttpConnectorSettings,
        _: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}

/// A small deterministic generator (xorshift64*), so runs are repeatable.
struct Random(u64);

impl Random {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    SignIn,
    Request(u32),
    Logout,
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let users: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let validation = match args.next().as_deref() {
        Some("token") => SessionValidation::Token,
        _ => SessionValidation::Session,
    };
    let window = env("WINDOW_H", 12.0) * 3600.0;
    let active = env("ACTIVE_H", 2.0) * 3600.0;
    let rate = env("RATE", 60.0);
    let lifetime = env("LIFETIME_S", 3600.0) as u64;
    let logout = env("LOGOUT", 0.5);
    let interval = 3600.0 / rate;
    let per_user = (active / interval).floor() as u32;
    let start_of_window = DAY + 8 * 3600;

    let shared: Shared = Arc::new((AtomicI64::new(DAY), Mutex::default()));
    let minter = Arc::new(Minter::random());
    let jwks = json!({"keys": [minter.jwk("sim")]}).to_string();
    let fake = FakeCognito {
        minter,
        shared: shared.clone(),
        lifetime,
        families: Arc::default(),
    };
    let cognito = aws_sdk_cognitoidentityprovider::Client::from_conf(
        aws_sdk_cognitoidentityprovider::Config::builder()
            .behavior_version_latest()
            .region(aws_sdk_cognitoidentityprovider::config::Region::new(
                "us-east-1",
            ))
            .credentials_provider(aws_sdk_cognitoidentityprovider::config::Credentials::new(
                "AKIDSIMULATION",
                "simulation",
                None,
                None,
                "scale_sim",
            ))
            .http_client(fake)
            .build(),
    );
    let clock = shared.clone();
    let sessions = Sessions::builder()
        .client_id(CLIENT)
        .user_pool_id(POOL)
        .jwks(jwks)
        .validation(validation)
        .sign_in_flow(SignInFlow::Password)
        .store(Counted(MemoryStore::default(), SharedDebug(shared.clone())))
        .cognito_client(cognito)
        .clock(move || UNIX_EPOCH + Duration::from_secs(now(&clock) as u64))
        .build()
        .await
        .expect("build sessions");

    // Every user's next step, earliest first.
    let mut random = Random(0x5EED_CAFE_F00D_1234);
    let mut queue = BinaryHeap::new();
    let mut plan = Vec::with_capacity(users as usize);
    for user in 0..users {
        let start = start_of_window + (random.next() * window) as i64;
        let logs_out = random.next() < logout;
        plan.push((start, logs_out));
        queue.push(Reverse((start, user, Step::SignIn)));
    }
    let mut tokens: Vec<String> = vec![String::new(); users as usize];
    let (mut requests, mut refreshed, mut refused) = (0u64, 0u64, 0u64);
    while let Some(Reverse((at, user, step))) = queue.pop() {
        shared.0.store(at, Ordering::Relaxed);
        let name = format!("user{user}");
        let (start, logs_out) = plan[user as usize];
        match step {
            Step::SignIn => {
                let step = sessions
                    .sign_in_with(SignInFlow::Password, &name, "pw")
                    .await
                    .expect("sign-in");
                let SignIn::Done(session) = step else {
                    panic!("a challenge")
                };
                tokens[user as usize] = session.refreshed().expect("tokens").access_token.clone();
                queue.push(Reverse((
                    next_request(start, 1, interval, &mut random),
                    user,
                    Step::Request(1),
                )));
            }
            Step::Request(k) => {
                requests += 1;
                let mut headers = http::HeaderMap::new();
                let cookie = format!("token={}", tokens[user as usize]);
                headers.insert("cookie", cookie.parse().expect("a header value"));
                match sessions.session("token", &headers).await {
                    Ok(session) => {
                        if let Some(new) = session.refreshed() {
                            refreshed += 1;
                            tokens[user as usize] = new.access_token.clone();
                        }
                    }
                    Err(_) => refused += 1,
                }
                let next = if k < per_user {
                    (
                        next_request(start, k + 1, interval, &mut random),
                        Step::Request(k + 1),
                    )
                } else if logs_out {
                    (start + active as i64, Step::Logout)
                } else {
                    continue;
                };
                queue.push(Reverse((next.0, user, next.1)));
            }
            Step::Logout => {
                let mut headers = http::HeaderMap::new();
                let cookie = format!("token={}", tokens[user as usize]);
                headers.insert("cookie", cookie.parse().expect("a header value"));
                sessions.end("token", &headers).await.expect("logout");
            }
        }
    }

    let tally = shared.1.lock().unwrap();
    let u = f64::from(users);
    // The model (BENCHMARKS.md): per user, one sign-in, per_user requests, one refresh per full
    // token lifetime of activity after the first, a logout for the fraction LOGOUT.
    let refreshes_per_user = ((active - interval / 3.0) / lifetime as f64).floor();
    let session_mode = validation == SessionValidation::Session;
    let model: Vec<(&str, f64)> = vec![
        ("InitiateAuth (sign-in)", u),
        ("InitiateAuth (refresh)", u * refreshes_per_user),
        ("RevokeToken", u * logout),
        ("PutItem", u),
        ("UpdateItem", 2.0 * u * refreshes_per_user),
        (
            "GetItem",
            if session_mode {
                u * (f64::from(per_user) - refreshes_per_user) + u * logout
            } else {
                u * logout
            },
        ),
        ("DeleteItem", u * logout),
    ];
    println!(
        "{users} users, {} mode, sign-ins over {:.0} h, {:.1} h active, {rate} requests/h, \
         token lifetime {lifetime} s, {:.0}% log out: {requests} requests, {refreshed} refreshed, \
         {refused} refused",
        if session_mode { "session" } else { "token" },
        window / 3600.0,
        active / 3600.0,
        logout * 100.0
    );
    println!("| calls | model | simulated |");
    println!("|---|---|---|");
    for (name, predicted) in &model {
        println!("| {name} | {predicted:.0} | {} |", tally.total(name));
    }
    // Rates in the steady part of the day (every user who signs in then also refreshes).
    // (From the window's start when tokens outlive it: then nobody refreshes.)
    let to = start_of_window + window as i64;
    let from = if (lifetime as f64) < window {
        start_of_window + lifetime as i64
    } else {
        start_of_window
    };
    let auth = ["InitiateAuth (sign-in)", "InitiateAuth (refresh)"];
    let model_auth = u * (1.0 + refreshes_per_user) / window;
    let reads = if session_mode {
        u * active / window * rate / 3600.0
    } else {
        0.0
    } + u * logout / window;
    println!(
        "UserAuthentication per second, {}:00 to {}:00: model {model_auth:.2}, simulated mean {:.2}, busiest second {}",
        (from - DAY) / 3600,
        (to - DAY) / 3600,
        tally.mean(&auth, from, to),
        tally.peak(&auth)
    );
    println!(
        "GetItem per second, {}:00 to {}:00: model {reads:.1}, simulated mean {:.1}, busiest second {}",
        (from - DAY + active as i64) / 3600,
        (to - DAY) / 3600,
        tally.mean(&["GetItem"], (from + active as i64).min(to - 1), to),
        tally.peak(&["GetItem"])
    );
    println!(
        "the seed's design (GetUser per request) in the same window: {:.1} per second (UserRead)",
        u * active / window * rate / 3600.0
    );
}

/// When request `k` (from 1) of a user who signed in at `start` happens: every `interval`
/// seconds, give or take a third of it.
fn next_request(start: i64, k: u32, interval: f64, random: &mut Random) -> i64 {
    let jitter = (random.next() - 0.5) * 2.0 / 3.0 * interval;
    start + (f64::from(k) * interval + jitter) as i64
}
