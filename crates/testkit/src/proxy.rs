//! A counting proxy on 127.0.0.1 in front of moto: it forwards every request and counts them by
//! AWS operation (`X-Amz-Target`), so tests can count calls made by other processes too.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};

type Counts = Arc<Mutex<HashMap<String, usize>>>;

/// Answers some AWS operations in place of the upstream (for calls moto does not implement).
pub trait Fake: Send + Sync + 'static {
    /// `Some((status, JSON body))` to answer `operation` (e.g. `RevokeToken`) with `body`;
    /// `None` to forward the request upstream.
    fn answer(&self, operation: &str, body: &[u8]) -> Option<(u16, String)>;
}

struct Forward;

impl Fake for Forward {
    fn answer(&self, _: &str, _: &[u8]) -> Option<(u16, String)> {
        None
    }
}

/// A running proxy.
#[derive(Debug, Clone)]
pub struct Proxy {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    counts: Counts,
}

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
        let counts: Counts = Arc::default();
        let upstream: hyper::Uri = upstream.parse().expect("upstream URL");
        let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
        let state = (counts.clone(), upstream, client, fake);
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let state = state.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                        let (counts, upstream, client, fake) = state.clone();
                        async move {
                            let operation = request
                                .headers()
                                .get("x-amz-target")
                                .and_then(|v| v.to_str().ok())
                                .and_then(|t| t.rsplit('.').next())
                                .unwrap_or("GET")
                                .to_owned();
                            *counts.lock().unwrap().entry(operation.clone()).or_default() += 1;
                            let (mut parts, body) = request.into_parts();
                            let body = body
                                .collect()
                                .await
                                .map(|b| b.to_bytes())
                                .unwrap_or_default();
                            if let Some((status, json)) = fake.answer(&operation, &body) {
                                return Ok::<_, Infallible>(fake_response(status, json));
                            }
                            let path = parts
                                .uri
                                .path_and_query()
                                .map_or("/", |p| p.as_str())
                                .to_owned();
                            parts.uri =
                                format!("{}{}", upstream.to_string().trim_end_matches('/'), path)
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
                                Err(_) => {
                                    let mut r = Response::new(Full::new(Bytes::from_static(
                                        b"upstream failed",
                                    )));
                                    *r.status_mut() = hyper::StatusCode::BAD_GATEWAY;
                                    r
                                }
                            };
                            Ok::<_, Infallible>(response)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Proxy {
            url: format!("http://127.0.0.1:{port}"),
            counts,
        }
    }

    /// Requests forwarded for `operation` (e.g. `InitiateAuth`, `GetItem`; `GET` for plain GETs).
    pub fn count(&self, operation: &str) -> usize {
        self.counts
            .lock()
            .unwrap()
            .get(operation)
            .copied()
            .unwrap_or(0)
    }
}

/// An AWS JSON 1.1 answer: errors carry their type in `x-amzn-errortype` and `__type`.
fn fake_response(status: u16, json: String) -> Response<Full<Bytes>> {
    let kind = serde_json::from_str::<serde_json::Value>(&json)
        .ok()
        .and_then(|v| v["__type"].as_str().map(str::to_owned));
    let mut response = Response::new(Full::new(Bytes::from(json)));
    *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
    let headers = response.headers_mut();
    headers.insert(
        "content-type",
        "application/x-amz-json-1.1".parse().unwrap(),
    );
    if let (true, Some(kind)) = (status >= 400, kind) {
        headers.insert("x-amzn-errortype", kind.parse().unwrap());
    }
    response
}
