//! In one run, on the same Cognito-shaped access token (RS256, 2048-bit key):
//! - `bare_rs256`: aws-lc-rs alone checking the signature (parsed key, decoded signature);
//! - `pipeline_uncached`: the whole pipeline (parse, header, key, signature, claims), cache off;
//! - `cache_hit`: the verified-token cache answering the same token.
//!
//! `cargo bench -p cognito-jwt --bench verify`

use std::hint::black_box;

use aws_lc_rs::signature::{ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use cognito_jwt::{Freshness, Verifier};
use criterion::{criterion_group, criterion_main, Criterion};

#[path = "../tests/common/mod.rs"]
mod common;

fn verifier(key: &common::Key, cache: usize) -> Verifier {
    let verifier = Verifier::builder()
        .user_pool(common::POOL)
        .client_id(common::CLIENT)
        .token_cache(cache)
        .fetcher(common::Fake::default())
        .build()
        .unwrap();
    verifier.preload(&key.jwks(common::KID)).unwrap();
    verifier
}

fn bench(c: &mut Criterion) {
    let key = common::Key::new();
    let now = common::now();
    let token = key.sign(common::KID, &common::access("bench-user", now));
    let (signing_input, signature) = token.rsplit_once('.').unwrap();
    let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
    let public = ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, key.public_der()).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let uncached = verifier(&key, 0);
    let cached = verifier(&key, 4096);
    let (_, freshness) = runtime.block_on(cached.verify_at(&token, now)).unwrap();
    assert_eq!(freshness, Freshness::Current);
    assert!(cached.cached(&token, now).is_some());

    let mut group = c.benchmark_group("verify");
    group.bench_function("bare_rs256", |b| {
        b.iter(|| {
            public
                .verify_sig(black_box(signing_input.as_bytes()), black_box(&signature))
                .unwrap()
        })
    });
    group.bench_function("pipeline_uncached", |b| {
        b.iter(|| {
            runtime
                .block_on(uncached.verify_at(black_box(&token), now))
                .unwrap()
        })
    });
    group.bench_function("cache_hit", |b| {
        b.iter(|| cached.cached(black_box(&token), now).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
