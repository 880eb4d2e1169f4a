//! A JWKS endpoint on 127.0.0.1 that serves what the test says and counts its hits.

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::Response;
use hyper_util::rt::TokioIo;
use serde_json::Value;

/// A served JWKS document (or HTTP status) and a hit counter.
#[derive(Debug, Clone)]
pub struct JwksServer {
    /// The URL to fetch.
    pub url: String,
    hits: Arc<AtomicUsize>,
    document: Arc<Mutex<(u16, String)>>,
}

impl JwksServer {
    /// Serves `jwks` with 200 at `http://127.0.0.1:<port>/jwks.json`.
    pub async fn start(jwks: &Value) -> JwksServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("address").port();
        let server = JwksServer {
            url: format!("http://127.0.0.1:{port}/jwks.json"),
            hits: Arc::default(),
            document: Arc::new(Mutex::new((200, jwks.to_string()))),
        };
        let (hits, document) = (server.hits.clone(), server.document.clone());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (hits, document) = (hits.clone(), document.clone());
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |_request| {
                        hits.fetch_add(1, Ordering::SeqCst);
                        let (status, body) = document.lock().unwrap().clone();
                        let mut response = Response::new(Full::new(Bytes::from(body)));
                        *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
                        async move { Ok::<_, Infallible>(response) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        server
    }

    /// How many requests were served.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    /// Serve `status` with `body` from now on.
    pub fn serve(&self, status: u16, body: &str) {
        *self.document.lock().unwrap() = (status, body.to_owned());
    }
}
