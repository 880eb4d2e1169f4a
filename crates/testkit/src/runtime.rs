//! A small Lambda Runtime API emulator on 127.0.0.1: hands events to a function process through
//! `/2018-06-01/runtime/invocation/next` and collects what it posts to `/response` or `/error`.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot, Mutex};

/// What the function answered to one invocation.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Posted to `/response`.
    Response(Value),
    /// Posted to `/error` (or `/init/error`).
    Error(Value),
}

type Pending = Arc<Mutex<HashMap<String, oneshot::Sender<Outcome>>>>;

/// A running Runtime API. Point the function at it with `AWS_LAMBDA_RUNTIME_API`.
#[derive(Debug)]
pub struct RuntimeApi {
    /// `127.0.0.1:<port>`, the value for `AWS_LAMBDA_RUNTIME_API`.
    pub address: String,
    queue: mpsc::UnboundedSender<(String, Value)>,
    pending: Pending,
    init_error: Arc<Mutex<Option<Value>>>,
    next_id: AtomicU64,
}

impl RuntimeApi {
    /// Starts the emulator on a free port.
    pub async fn start() -> RuntimeApi {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address: SocketAddr = listener.local_addr().expect("address");
        let (queue, events) = mpsc::unbounded_channel::<(String, Value)>();
        let events = Arc::new(Mutex::new(events));
        let pending: Pending = Arc::default();
        let init_error = Arc::new(Mutex::new(None));
        let state = (events, pending.clone(), init_error.clone());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let state = state.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let state = state.clone();
                        async move { Ok::<_, Infallible>(route(request, state).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        RuntimeApi {
            address: address.to_string(),
            queue,
            pending,
            init_error,
            next_id: AtomicU64::new(0),
        }
    }

    /// Sends `event` to the function and waits (up to `timeout`) for its answer.
    pub async fn invoke(&self, event: Value, timeout: Duration) -> Outcome {
        let id = format!("req-{}", self.next_id.fetch_add(1, Ordering::Relaxed));
        let (tx, rx) = oneshot::channel();
        self.pending.lock().await.insert(id.clone(), tx);
        self.queue.send((id, event)).expect("emulator running");
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(outcome)) => outcome,
            _ => match self.init_error.lock().await.clone() {
                Some(error) => Outcome::Error(error),
                None => panic!("the function did not answer within {timeout:?}"),
            },
        }
    }
}

type State = (
    Arc<Mutex<mpsc::UnboundedReceiver<(String, Value)>>>,
    Pending,
    Arc<Mutex<Option<Value>>>,
);

fn reply(status: u16, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or_default();
    response
}

async fn route(
    request: Request<Incoming>,
    (events, pending, init_error): State,
) -> Response<Full<Bytes>> {
    let path = request.uri().path().to_owned();
    let method = request.method().clone();
    let body = request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let json = || serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null);
    let parts: Vec<&str> = path
        .trim_start_matches("/2018-06-01/runtime/")
        .split('/')
        .collect();
    match (method, parts.as_slice()) {
        (Method::GET, ["invocation", "next"]) => {
            let Some((id, event)) = events.lock().await.recv().await else {
                return reply(500, "emulator stopped");
            };
            let deadline = std::time::SystemTime::now() + Duration::from_secs(30);
            let deadline_ms = deadline
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis());
            let mut response = reply(200, event.to_string());
            let headers = response.headers_mut();
            headers.insert("lambda-runtime-aws-request-id", id.parse().expect("header"));
            headers.insert(
                "lambda-runtime-deadline-ms",
                deadline_ms.to_string().parse().expect("header"),
            );
            headers.insert(
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:us-east-1:123456789012:function:handler"
                    .parse()
                    .expect("header"),
            );
            headers.insert(
                "lambda-runtime-trace-id",
                "Root=1-00000000-000000000000000000000000"
                    .parse()
                    .expect("header"),
            );
            response
        }
        (Method::POST, ["invocation", id, "response"]) => {
            if let Some(tx) = pending.lock().await.remove(*id) {
                let _ = tx.send(Outcome::Response(json()));
            }
            reply(202, "")
        }
        (Method::POST, ["invocation", id, "error"]) => {
            if let Some(tx) = pending.lock().await.remove(*id) {
                let _ = tx.send(Outcome::Error(json()));
            }
            reply(202, "")
        }
        (Method::POST, ["init", "error"]) => {
            *init_error.lock().await = Some(json());
            reply(202, "")
        }
        _ => reply(404, "unknown runtime API path"),
    }
}

/// Builds `examples/<name>.rs` of cognito-session (debug) and returns the binary's path.
pub fn example_binary(name: &str) -> std::path::PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = std::process::Command::new(cargo)
        .args([
            "build",
            "--quiet",
            "-p",
            "cognito-session",
            "--example",
            name,
        ])
        .current_dir(crate::workspace_root())
        .status()
        .expect("run cargo build");
    assert!(status.success(), "cargo build --example {name} failed");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| crate::workspace_root().join("target"));
    target.join("debug/examples").join(name)
}

/// A function process attached to a [`RuntimeApi`]; killed when dropped.
#[derive(Debug)]
pub struct Function(std::process::Child);

impl Function {
    /// Starts `binary` as a Lambda function: only `env` and the variables the Lambda service sets.
    pub fn spawn(binary: &std::path::Path, api: &RuntimeApi, env: &[(&str, String)]) -> Function {
        let mut command = std::process::Command::new(binary);
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", &api.address)
            .env("AWS_LAMBDA_FUNCTION_NAME", "handler")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/handler")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "test")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("RUST_LOG", "info")
            .stdin(std::process::Stdio::null());
        for (key, value) in env {
            command.env(key, value);
        }
        Function(command.spawn().expect("start the function"))
    }

    /// Whether the process has exited (e.g. on an init error).
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.0.try_wait().ok().flatten()
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
