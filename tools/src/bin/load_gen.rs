//! A measurement tool (not a test): a closed-loop HTTP/1.1 load generator for 127.0.0.1 only,
//! bounded in requests and in time. `CONNECTIONS` keep-alive connections each send a request,
//! wait for the answer and send the next, until `REQUESTS` answers came back or `SECONDS` passed.
//! Prints one JSON line: requests/s, latency percentiles, status counts.
//!
//! ```text
//! load_gen URL COOKIE REQUESTS SECONDS CONNECTIONS
//! ```
//!
//! `scripts/bench-load.sh` runs it against the `axum_app` example (a load generator such as
//! `oha` can be used instead: `oha -n 20000 -z 20s -c 16 -H "Cookie: ..." URL`).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use serde_json::json;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, cookie, requests, seconds, connections] = args.as_slice() else {
        eprintln!("usage: load_gen URL COOKIE REQUESTS SECONDS CONNECTIONS");
        std::process::exit(2);
    };
    let uri: hyper::Uri = url.parse().expect("a URL");
    assert_eq!(
        uri.host(),
        Some("127.0.0.1"),
        "load is only ever sent to 127.0.0.1"
    );
    let requests: u64 = requests.parse().expect("REQUESTS");
    let limit = Duration::from_secs_f64(seconds.parse().expect("SECONDS"));
    let connections: usize = connections.parse().expect("CONNECTIONS");
    let address = format!("127.0.0.1:{}", uri.port_u16().unwrap_or(80));

    let issued = Arc::new(AtomicU64::new(0));
    let latencies = Arc::new(Mutex::new(Vec::with_capacity(requests as usize)));
    let statuses = Arc::new(Mutex::new(BTreeMap::<u16, u64>::new()));
    let start = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..connections {
        let (issued, latencies, statuses) = (issued.clone(), latencies.clone(), statuses.clone());
        let (address, uri, cookie) = (address.clone(), uri.clone(), cookie.clone());
        workers.push(tokio::spawn(async move {
            let stream = tokio::net::TcpStream::connect(&address)
                .await
                .expect("connect");
            stream.set_nodelay(true).expect("nodelay");
            let (mut sender, connection) =
                hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(TokioIo::new(stream))
                    .await
                    .expect("handshake");
            tokio::spawn(connection);
            let mut mine = Vec::new();
            while start.elapsed() < limit && issued.fetch_add(1, Ordering::Relaxed) < requests {
                let request = hyper::Request::get(uri.clone())
                    .header("host", "127.0.0.1")
                    .header("cookie", &cookie)
                    .body(Empty::new())
                    .expect("request");
                let sent = Instant::now();
                let response = sender.send_request(request).await.expect("response");
                let status = response.status().as_u16();
                response.into_body().collect().await.expect("body");
                mine.push(sent.elapsed());
                *statuses.lock().expect("lock").entry(status).or_default() += 1;
            }
            latencies.lock().expect("lock").extend(mine);
        }));
    }
    for worker in workers {
        worker.await.expect("worker");
    }
    let elapsed = start.elapsed().as_secs_f64();
    let mut latencies = latencies.lock().expect("lock").clone();
    latencies.sort();
    let pct = |q: f64| {
        latencies
            .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1e3)
    };
    println!(
        "{}",
        json!({
            "url": url,
            "requests": latencies.len(),
            "seconds": elapsed,
            "connections": connections,
            "requests_per_second": (latencies.len() as f64 / elapsed).round(),
            "p50_ms": pct(0.50),
            "p99_ms": pct(0.99),
            "max_ms": latencies.last().map_or(0.0, |d| d.as_secs_f64() * 1e3),
            "statuses": *statuses.lock().expect("lock"),
        })
    );
}
