//! `session()` on a valid token with a warm JWKS, beside the floor: a bare RS256 signature check
//! of the same token with the public key parsed once (aws-lc-rs `ParsedPublicKey`).
//!
//! `*_uncached` runs the whole pipeline on every call (verified-token cache off), `*_cached` is a
//! hit in the verified-token cache (on by default), and `block_on_ready` is what the benchmark's
//! own `block_on` costs around an immediately ready future.

use std::hint::black_box;

use aws_lc_rs::signature::{ParsedPublicKey, RsaPublicKeyComponents, RSA_PKCS1_2048_8192_SHA256};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use cognito_session::store::{MemoryStore, SessionRow, SessionStore};
use cognito_session::{SessionValidation, Sessions};
use criterion::{criterion_group, criterion_main, Criterion};
use testkit::Minter;

const POOL: &str = "us-east-1_Bench";
const CLIENT: &str = "benchclient";

fn cognito_client() -> aws_sdk_cognitoidentityprovider::Client {
    // Never called on this path: a valid token needs no Cognito call.
    aws_sdk_cognitoidentityprovider::Client::from_conf(
        aws_sdk_cognitoidentityprovider::Config::builder()
            .behavior_version_latest()
            .region(aws_sdk_cognitoidentityprovider::config::Region::new(
                "us-east-1",
            ))
            .build(),
    )
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let minter = Minter::random();
    let jwk = minter.jwk("bench-kid");
    let issuer = format!("https://cognito-idp.us-east-1.amazonaws.com/{POOL}");
    let now = testkit::now();
    let claims = testkit::access_claims(&issuer, CLIENT, "sub-1", "alice", "family-1", now);
    let token = minter.sign(
        &serde_json::json!({"kid": "bench-kid", "alg": "RS256"}),
        &claims,
    );
    let jwks = serde_json::json!({"keys": [jwk.clone()]}).to_string();

    // The floor.
    let n = URL_SAFE_NO_PAD.decode(jwk["n"].as_str().unwrap()).unwrap();
    let e = URL_SAFE_NO_PAD.decode(jwk["e"].as_str().unwrap()).unwrap();
    let key: ParsedPublicKey = RsaPublicKeyComponents { n: &n, e: &e }
        .to_parsed_public_key(&RSA_PKCS1_2048_8192_SHA256)
        .unwrap();
    let (input, signature) = token.rsplit_once('.').unwrap();
    let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
    key.verify_sig(input.as_bytes(), &signature).unwrap();

    let build = |validation: SessionValidation, cache: usize| {
        let store = MemoryStore::default();
        runtime
            .block_on(store.put(&SessionRow::new(
                "sub-1",
                "refresh",
                now as i64,
                Some("family-1".into()),
            )))
            .unwrap();
        runtime
            .block_on(
                Sessions::builder()
                    .client_id(CLIENT)
                    .user_pool_id(POOL)
                    .jwks(jwks.clone())
                    .validation(validation)
                    .token_cache(cache)
                    .store(store)
                    .cognito_client(cognito_client())
                    .build(),
            )
            .unwrap()
    };
    let token_mode = build(SessionValidation::Token, 0);
    let session_mode = build(SessionValidation::Session, 0);
    let token_mode_cached = build(SessionValidation::Token, 1024);
    let session_mode_cached = build(SessionValidation::Session, 1024);
    let mut headers = http::HeaderMap::new();
    headers.insert(
        "cookie",
        format!("theme=dark; token={token}").parse().unwrap(),
    );
    for sessions in [
        &token_mode,
        &session_mode,
        &token_mode_cached,
        &session_mode_cached,
    ] {
        runtime
            .block_on(sessions.session("token", &headers))
            .unwrap();
    }

    let mut group = c.benchmark_group("valid_token");
    group.bench_function("floor_rs256_verify_parsed_key", |b| {
        b.iter(|| {
            key.verify_sig(black_box(input.as_bytes()), black_box(&signature))
                .unwrap()
        })
    });
    group.bench_function("block_on_ready", |b| {
        b.iter(|| runtime.block_on(async { black_box(1) }))
    });
    group.bench_function("session_token_mode_uncached", |b| {
        b.iter(|| {
            runtime
                .block_on(token_mode.session("token", black_box(&headers)))
                .unwrap()
        })
    });
    group.bench_function("session_session_mode_memory_store_uncached", |b| {
        b.iter(|| {
            runtime
                .block_on(session_mode.session("token", black_box(&headers)))
                .unwrap()
        })
    });
    group.bench_function("session_token_mode_cached", |b| {
        b.iter(|| {
            runtime
                .block_on(token_mode_cached.session("token", black_box(&headers)))
                .unwrap()
        })
    });
    group.bench_function("session_session_mode_memory_store_cached", |b| {
        b.iter(|| {
            runtime
                .block_on(session_mode_cached.session("token", black_box(&headers)))
                .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
