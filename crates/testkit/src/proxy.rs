//! A counting, fault-injecting HTTP proxy on 127.0.0.1 in front of moto (or any 127.0.0.1
//! upstream, such as a JWKS server).
//!
//! It forwards every request and counts them by AWS operation (`X-Amz-Target`; `GET` for plain
//! GETs such as a JWKS fetch), so tests can count calls made by other processes too. It can also
//! inject faults, chosen by rules ([`Rule`]) or at random ([`Proxy::random_faults`]):
//!
//! | [`Fault`] | what the client sees |
//! |---|---|
//! | `Latency(d)` | the upstream's answer, `d` later |
//! | `Reset` | the TCP connection reset (RST) before any answer; the upstream never sees the request |
//! | `LoseAnswer` | the upstream *did* the work, then the connection is reset instead of the answer |
//! | `Status(s)` | HTTP `s` (500, 503, ...) with a plain-text body and no AWS error type |
//! | `Throttled` | the service's own throttling error: `ProvisionedThroughputExceededException` (DynamoDB), `TooManyRequestsException` (Cognito), HTTP 429 (a plain GET) |
//! | `InternalError` | the service's own internal error, HTTP 500: `InternalServerError` (DynamoDB), `InternalErrorException` (Cognito) |
//! | `Aws(code)` | an AWS JSON protocol error: `x-amzn-errortype` and `__type` = `code` (DynamoDB's JSON 1.0 `__type` is namespaced `com.amazonaws.dynamodb.v20120810#code`), HTTP 500 for `InternalErrorException` / `InternalServerError`, 400 otherwise. On a plain GET (the JWKS), 429 |

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};

/// What a fake answers asynchronously: `Some((status, JSON body))`, or `None` to forward.
pub type Answering<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Option<(u16, String)>> + Send + 'a>>;

/// Answers some AWS operations in place of the upstream (for calls moto does not implement).
pub trait Fake: Send + Sync + 'static {
    /// `Some((status, JSON body))` to answer `operation` (e.g. `RevokeToken`) with `body`;
    /// `None` to forward the request upstream.
    fn answer(&self, operation: &str, body: &[u8]) -> Option<(u16, String)>;

    /// The same, for a fake that must itself call the upstream (moto) to answer: by default
    /// [`answer`](Fake::answer). The proxy calls this one.
    fn answer_async<'a>(&'a self, operation: &'a str, body: &'a [u8]) -> Answering<'a> {
        Box::pin(std::future::ready(self.answer(operation, body)))
    }
}

struct Forward;

impl Fake for Forward {
    fn answer(&self, _: &str, _: &[u8]) -> Option<(u16, String)> {
        None
    }
}

/// One injected fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Forward, but answer this much later.
    Latency(Duration),
    /// Reset the connection without forwarding the request.
    Reset,
    /// Forward the request (the upstream acts on it), then reset the connection instead of
    /// answering: the client cannot know whether it happened.
    LoseAnswer,
    /// Answer with this HTTP status and a plain-text body.
    Status(u16),
    /// Answer with this AWS error code in the AWS JSON wire format (e.g.
    /// `ThrottlingException`, `ProvisionedThroughputExceededException`,
    /// `TooManyRequestsException`, `InternalErrorException`).
    Aws(&'static str),
    /// The service's own throttling error (see the module docs).
    Throttled,
    /// The service's own internal error (see the module docs).
    InternalError,
}

/// When to inject a fault: which requests it matches and how many times.
///
/// ```
/// use testkit::{Fault, Rule};
/// let rule = Rule::on("UpdateItem", Fault::Status(503)).body_contains("#ra = :ra").times(1);
/// # let _ = rule;
/// ```
#[derive(Debug, Clone)]
pub struct Rule {
    operation: Option<String>,
    body: Option<String>,
    fault: Fault,
    remaining: Option<usize>,
}

impl Rule {
    /// `fault` on every request for `operation` (`GetItem`, `InitiateAuth`, `GET`, ...).
    pub fn on(operation: &str, fault: Fault) -> Rule {
        Rule {
            operation: Some(operation.to_owned()),
            body: None,
            fault,
            remaining: None,
        }
    }

    /// `fault` on every request.
    pub fn any(fault: Fault) -> Rule {
        Rule {
            operation: None,
            body: None,
            fault,
            remaining: None,
        }
    }

    /// Only requests whose body contains `text`.
    pub fn body_contains(mut self, text: &str) -> Rule {
        self.body = Some(text.to_owned());
        self
    }

    /// Only the next `n` matching requests.
    pub fn times(mut self, n: usize) -> Rule {
        self.remaining = Some(n);
        self
    }

    fn matches(&self, operation: &str, body: &[u8]) -> bool {
        self.remaining != Some(0)
            && self.operation.as_deref().is_none_or(|o| o == operation)
            && self.body.as_deref().is_none_or(|text| {
                body.windows(text.len().max(1))
                    .any(|w| w == text.as_bytes())
            })
    }
}

/// Faults at random: each request gets one of `faults` with probability `rate`.
#[derive(Debug)]
struct Chaos {
    rate: f64,
    faults: Vec<Fault>,
    state: u64,
}

impl Chaos {
    /// splitmix64: a small deterministic generator, enough to spread faults.
    fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn pick(&mut self) -> Option<Fault> {
        let roll = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        if self.faults.is_empty() || roll >= self.rate {
            return None;
        }
        let index = usize::try_from(self.next() % self.faults.len() as u64).unwrap_or(0);
        self.faults.get(index).cloned()
    }
}

#[derive(Debug, Default)]
struct State {
    counts: HashMap<String, usize>,
    injected: HashMap<String, usize>,
    rules: Vec<Rule>,
    chaos: Option<Chaos>,
}

impl State {
    fn fault_for(&mut self, operation: &str, body: &[u8]) -> Option<Fault> {
        let fault = match self.rules.iter_mut().find(|r| r.matches(operation, body)) {
            Some(rule) => {
                if let Some(n) = &mut rule.remaining {
                    *n -= 1;
                }
                Some(rule.fault.clone())
            }
            None => self.chaos.as_mut().and_then(Chaos::pick),
        };
        if let Some(fault) = &fault {
            *self.injected.entry(kind(fault).to_owned()).or_default() += 1;
        }
        fault
    }
}

fn kind(fault: &Fault) -> &'static str {
    match fault {
        Fault::Latency(_) => "latency",
        Fault::Reset => "reset",
        Fault::LoseAnswer => "lost answer",
        Fault::Status(500) => "HTTP 500",
        Fault::Status(503) => "HTTP 503",
        Fault::Status(_) => "HTTP error",
        Fault::Aws(code) => code,
        Fault::Throttled => "throttled",
        Fault::InternalError => "internal error",
    }
}

/// A running proxy.
#[derive(Debug, Clone)]
pub struct Proxy {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    state: Arc<Mutex<State>>,
}

type Upstream = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

impl Proxy {
    /// Forwards to `upstream` (an `http://127.0.0.1:<port>` URL).
    pub async fn start(upstream: &str) -> Proxy {
        Self::with_fake(upstream, Arc::new(Forward)).await
    }

    /// Forwards to `upstream`, except what `fake` answers itself.
    pub async fn with_fake(upstream: &str, fake: Arc<dyn Fake>) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("address").port();
        let state: Arc<Mutex<State>> = Arc::default();
        let upstream: hyper::Uri = upstream.parse().expect("upstream URL");
        assert_eq!(
            upstream.host(),
            Some("127.0.0.1"),
            "the proxy only forwards to 127.0.0.1"
        );
        let client: Upstream = Client::builder(TokioExecutor::new()).build_http();
        let shared = (state.clone(), upstream, client, fake);
        tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                let shared = shared.clone();
                tokio::spawn(async move {
                    let reset = Arc::new(AtomicBool::new(false));
                    let reset_flag = reset.clone();
                    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                        let shared = shared.clone();
                        let reset = reset_flag.clone();
                        async move {
                            let answer = handle(shared, request).await;
                            if answer.is_none() {
                                reset.store(true, Ordering::SeqCst);
                            }
                            answer.ok_or("connection reset by the fault proxy")
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(&mut stream), service)
                        .await;
                    if reset.load(Ordering::SeqCst) {
                        // Closing with a zero linger sends RST instead of FIN.
                        let _ = stream.set_zero_linger();
                    }
                });
            }
        });
        Proxy {
            url: format!("http://127.0.0.1:{port}"),
            state,
        }
    }

    /// Requests received for `operation` (e.g. `InitiateAuth`, `GetItem`; `GET` for plain GETs),
    /// faulted or not.
    pub fn count(&self, operation: &str) -> usize {
        self.state
            .lock()
            .unwrap()
            .counts
            .get(operation)
            .copied()
            .unwrap_or(0)
    }

    /// All requests received.
    pub fn total(&self) -> usize {
        self.state.lock().unwrap().counts.values().sum()
    }

    /// Adds a fault rule; the first matching rule applies (before random faults).
    pub fn inject(&self, rule: Rule) {
        self.state.lock().unwrap().rules.push(rule);
    }

    /// Removes every rule and stops random faults.
    pub fn heal(&self) {
        let mut state = self.state.lock().unwrap();
        state.rules.clear();
        state.chaos = None;
    }

    /// From now on, each request not matched by a rule gets one of `faults` (picked uniformly)
    /// with probability `rate`, from a generator seeded with `seed`.
    pub fn random_faults(&self, rate: f64, faults: Vec<Fault>, seed: u64) {
        self.state.lock().unwrap().chaos = Some(Chaos {
            rate,
            faults,
            state: seed,
        });
    }

    /// How many faults were injected.
    pub fn injected(&self) -> usize {
        self.state.lock().unwrap().injected.values().sum()
    }

    /// How many faults were injected, by kind (`latency`, `reset`, `HTTP 503`, an AWS code...).
    pub fn injected_by_kind(&self) -> HashMap<String, usize> {
        self.state.lock().unwrap().injected.clone()
    }
}

/// Serves one request: `None` resets the connection.
async fn handle(
    (state, upstream, client, fake): (Arc<Mutex<State>>, hyper::Uri, Upstream, Arc<dyn Fake>),
    request: Request<Incoming>,
) -> Option<Response<Full<Bytes>>> {
    let target = request
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let operation = target.rsplit('.').next().filter(|o| !o.is_empty());
    let operation = operation.unwrap_or("GET").to_owned();
    let (mut parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let fault = {
        let mut state = state.lock().unwrap();
        *state.counts.entry(operation.clone()).or_default() += 1;
        state.fault_for(&operation, &body)
    };
    match &fault {
        Some(Fault::Reset) => return None,
        Some(Fault::Status(status)) => {
            return Some(plain(*status, "injected fault: service unavailable"))
        }
        Some(Fault::Aws(code)) => return Some(aws_error(&target, code)),
        Some(Fault::Throttled) => {
            let code = match target.split('.').next() {
                Some("DynamoDB_20120810") => "ProvisionedThroughputExceededException",
                _ => "TooManyRequestsException",
            };
            return Some(aws_error(&target, code));
        }
        Some(Fault::InternalError) => {
            return Some(match target.split('.').next() {
                Some("DynamoDB_20120810") => aws_error(&target, "InternalServerError"),
                Some(_) if !target.is_empty() => aws_error(&target, "InternalErrorException"),
                _ => plain(500, "injected fault: internal error"),
            })
        }
        Some(Fault::Latency(delay)) => tokio::time::sleep(*delay).await,
        Some(Fault::LoseAnswer) | None => {}
    }
    if let Some((status, json)) = fake.answer_async(&operation, &body).await {
        return (fault != Some(Fault::LoseAnswer)).then(|| json_response(status, json, "1.1"));
    }
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    parts.uri = format!("{}{}", upstream.to_string().trim_end_matches('/'), path)
        .parse()
        .expect("uri");
    let response = match client
        .request(Request::from_parts(parts, Full::new(body)))
        .await
    {
        Ok(response) => {
            let (parts, body) = response.into_parts();
            let body = body
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            Response::from_parts(parts, Full::new(body))
        }
        Err(_) => plain(502, "upstream failed"),
    };
    (fault != Some(Fault::LoseAnswer)).then_some(response)
}

fn plain(status: u16, text: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
    response
        .headers_mut()
        .insert("content-type", "text/plain".parse().unwrap());
    response
}

/// An AWS JSON protocol error for a request with `X-Amz-Target` `target`.
fn aws_error(target: &str, code: &str) -> Response<Full<Bytes>> {
    let status = match code {
        "InternalErrorException" | "InternalServerError" => 500,
        _ => 400,
    };
    let message = format!("injected fault: {code}");
    if target.starts_with("DynamoDB_") {
        let body = serde_json::json!({
            "__type": format!("com.amazonaws.dynamodb.v20120810#{code}"),
            "message": message,
        });
        json_response(status, body.to_string(), "1.0")
    } else if target.is_empty() {
        // Not an AWS API call (a JWKS fetch): the HTTP way to say "throttled".
        let mut response = plain(429, "injected fault: too many requests");
        response
            .headers_mut()
            .insert("retry-after", "1".parse().unwrap());
        response
    } else {
        let body = serde_json::json!({"__type": code, "message": message});
        json_response(status, body.to_string(), "1.1")
    }
}

/// An AWS JSON 1.0 / 1.1 answer: errors carry their type in `x-amzn-errortype` and `__type`.
fn json_response(status: u16, json: String, version: &str) -> Response<Full<Bytes>> {
    let kind = serde_json::from_str::<serde_json::Value>(&json)
        .ok()
        .and_then(|v| v["__type"].as_str().map(str::to_owned));
    let mut response = Response::new(Full::new(Bytes::from(json)));
    *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
    let headers = response.headers_mut();
    headers.insert(
        "content-type",
        format!("application/x-amz-json-{version}").parse().unwrap(),
    );
    if let (true, Some(kind)) = (status >= 400, kind) {
        // The header carries the bare code; the body's `__type` may be namespaced.
        let bare = kind.rsplit('#').next().unwrap_or(&kind).to_owned();
        headers.insert("x-amzn-errortype", bare.parse().unwrap());
    }
    response
}
