//! A measurement tool (not a test): verification throughput on one core, and the memory of the
//! verified-token cache. Used by `scripts/bench-peer.sh`; `rss` gives the memory figures of
//! `BENCHMARKS.md`.
//!
//! ```text
//! verify_bench mint DIR N           N distinct access tokens signed by a fresh RSA-2048 key:
//!                                   DIR/tokens.txt (one a line), DIR/jwks.json, DIR/pool.json
//! verify_bench run DIR SECONDS C    verify DIR's tokens round-robin for SECONDS on this thread
//!                                   with a verified-token cache of C entries; prints JSON
//! verify_bench count DIR N C       verify N tokens of DIR round-robin (for a profiler such as
//!                                   `valgrind --tool=callgrind`: a fixed amount of work)
//! verify_bench rss DIR C            verify every token of DIR once (streamed from the file) with
//!                                   a cache of C entries; prints the RSS as it goes
//! ```
//!
//! Every token is verified by `Sessions::session_for_token` in token mode (the whole pipeline:
//! parse, header checks, key lookup, RS256 signature, claims), with the JWKS preloaded.

use std::io::{BufRead, BufWriter, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use cognito_session::store::MemoryStore;
use cognito_session::{SessionValidation, Sessions};
use serde_json::json;
use testkit::Minter;

const POOL: &str = "us-east-1_PeerBench";
const CLIENT: &str = "peerbenchclient";
const KID: &str = "bench-key";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| -> &str { args.get(i).map(String::as_str).unwrap_or_else(|| usage()) };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    match arg(0) {
        "mint" => mint(
            Path::new(arg(1)),
            arg(2).parse().unwrap_or_else(|_| usage()),
        ),
        "run" => runtime.block_on(run(
            Path::new(arg(1)),
            Duration::from_secs_f64(arg(2).parse().unwrap_or_else(|_| usage())),
            arg(3).parse().unwrap_or_else(|_| usage()),
        )),
        "count" => runtime.block_on(count(
            Path::new(arg(1)),
            arg(2).parse().unwrap_or_else(|_| usage()),
            arg(3).parse().unwrap_or_else(|_| usage()),
        )),
        "rss" => runtime.block_on(rss(
            Path::new(arg(1)),
            arg(2).parse().unwrap_or_else(|_| usage()),
        )),
        _ => usage(),
    }
}

fn usage() -> ! {
    eprintln!(
        "usage: verify_bench mint DIR N | run DIR SECONDS CACHE | count DIR N CACHE | rss DIR CACHE"
    );
    std::process::exit(2)
}

fn mint(dir: &Path, n: usize) {
    std::fs::create_dir_all(dir).expect("create the output folder");
    let minter = Minter::random();
    let issuer = format!("https://cognito-idp.us-east-1.amazonaws.com/{POOL}");
    let now = testkit::now();
    let file = std::fs::File::create(dir.join("tokens.txt")).expect("tokens.txt");
    let mut out = BufWriter::new(file);
    for i in 0..n {
        // Distinct subjects, users and families: realistic claims, all different bytes.
        let claims = testkit::access_claims(
            &issuer,
            CLIENT,
            &format!("5b1e0f2c-8d7a-4e55-9c1b-{i:012}"),
            &format!("user{i}@example.com"),
            &format!("family-{i}"),
            now,
        );
        let token = minter.sign(&json!({"kid": KID, "alg": "RS256"}), &claims);
        writeln!(out, "{token}").expect("write a token");
    }
    out.flush().expect("flush tokens.txt");
    let jwks = json!({"keys": [minter.jwk(KID)]});
    std::fs::write(dir.join("jwks.json"), jwks.to_string()).expect("jwks.json");
    let pool = json!({"pool": POOL, "client": CLIENT, "issuer": issuer});
    std::fs::write(dir.join("pool.json"), pool.to_string()).expect("pool.json");
    eprintln!("minted {n} tokens into {}", dir.display());
}

async fn sessions(dir: &Path, cache: usize) -> Sessions {
    let jwks = std::fs::read_to_string(dir.join("jwks.json")).expect("jwks.json");
    // Never called: a valid token in token mode needs no AWS call.
    let cognito = aws_sdk_cognitoidentityprovider::Client::from_conf(
        aws_sdk_cognitoidentityprovider::Config::builder()
            .behavior_version_latest()
            .region(aws_sdk_cognitoidentityprovider::config::Region::new(
                "us-east-1",
            ))
            .build(),
    );
    Sessions::builder()
        .client_id(CLIENT)
        .user_pool_id(POOL)
        .jwks(jwks)
        .validation(SessionValidation::Token)
        .token_cache(cache)
        .store(MemoryStore::default())
        .cognito_client(cognito)
        .build()
        .await
        .expect("build sessions")
}

async fn run(dir: &Path, duration: Duration, cache: usize) {
    let text = std::fs::read_to_string(dir.join("tokens.txt")).expect("tokens.txt");
    let tokens: Vec<&str> = text.lines().collect();
    let sessions = sessions(dir, cache).await;
    for token in &tokens {
        sessions
            .session_for_token(token)
            .await
            .expect("every token verifies");
    }
    let start = Instant::now();
    let mut verified: u64 = 0;
    while start.elapsed() < duration {
        for token in &tokens {
            let session = sessions.session_for_token(token).await;
            std::hint::black_box(session.expect("every token verifies"));
            verified += 1;
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    let rate = verified as f64 / seconds;
    println!(
        "{}",
        json!({
            "verifier": if cache == 0 { "cognito-session" } else { "cognito-session (cached)" },
            "tokens": tokens.len(),
            "verifications": verified,
            "seconds": seconds,
            "per_second_per_core": rate.round(),
            "microseconds_each": 1e6 / rate,
        })
    );
}

async fn count(dir: &Path, n: usize, cache: usize) {
    let text = std::fs::read_to_string(dir.join("tokens.txt")).expect("tokens.txt");
    let tokens: Vec<&str> = text.lines().collect();
    let sessions = sessions(dir, cache).await;
    for token in tokens.iter().cycle().take(n) {
        let session = sessions.session_for_token(token).await;
        std::hint::black_box(session.expect("every token verifies"));
    }
}

/// The process's resident set size in KiB, from `/proc/self/status`.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

async fn rss(dir: &Path, cache: usize) {
    let sessions = sessions(dir, cache).await;
    let file = std::fs::File::open(dir.join("tokens.txt")).expect("tokens.txt");
    let before = rss_kib();
    println!(
        "{}",
        json!({"tokens": 0, "rss_kib": before, "cache": cache})
    );
    let mut n = 0u64;
    for line in std::io::BufReader::new(file).lines() {
        let token = line.expect("read a token");
        sessions
            .session_for_token(&token)
            .await
            .expect("every token verifies");
        n += 1;
        if n.is_power_of_two() || n.is_multiple_of(10_000) {
            println!(
                "{}",
                json!({"tokens": n, "rss_kib": rss_kib(), "growth_kib": rss_kib() - before.min(rss_kib())})
            );
        }
    }
}
