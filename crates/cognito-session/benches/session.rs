//! `session()` on a valid token with a warm JWKS, beside the floor: a bare RS256 signature check
//! of the same token with the public key parsed once (aws-lc-rs `ParsedPublicKey`).
//!
//! `*_uncached` runs the whole pipeline on every call (verified-token cache off), `*_cached` is a
//! hit in the verified-token cache (on by default), and `block_on_ready` is what the benchmark's
//! own `block_on` costs around an immediately ready future. `*_polled` rows poll `session()`'s
//! future once with a no-op waker instead of `block_on` (it is ready at once here: no I/O), which
//! is what an `.await` inside a running task costs; the `block_on` rows include tokio's
//! per-call entry into the runtime, which a Lambda handler pays once per invocation, not per
//! `session()`.
//!
//! `*_metrics*`: the same requests with EMF metrics on (one line built per request, into a sink
//! that discards it), to set beside the rows without.
//!
//! `session_mode_sealed_profile_*`: session mode with encryption on and a profile stored in the
//! row (sealed), as `Sessions::start` writes it from an ID token: `_untouched` when the app does
//! not ask for the profile, `_read` when it calls `Session::profile()` on every request.

use std::future::Future;
use std::hint::black_box;
use std::task::{Context, Poll, Waker};

use aws_lc_rs::signature::{ParsedPublicKey, RsaPublicKeyComponents, RSA_PKCS1_2048_8192_SHA256};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use cognito_session::store::{MemoryStore, SessionRow, SessionStore};
use cognito_session::{SessionValidation, Sessions, Tokens};
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

/// Polls `future` once with a no-op waker; if it is not ready (it should be: nothing here does
/// I/O), finishes it on `runtime`.
fn polled<F: Future>(runtime: &tokio::runtime::Runtime, future: F) -> F::Output {
    let _entered = runtime.enter();
    let mut future = std::pin::pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => runtime.block_on(future),
    }
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

    // `metered`: EMF metrics on, written to a sink that only keeps the line's length (the cost
    // of building the line, not of stdout).
    let build_with = |validation: SessionValidation, cache: usize, metered: bool| {
        let store = MemoryStore::default();
        runtime
            .block_on(store.put(&SessionRow::new(
                "sub-1",
                "refresh",
                now as i64,
                Some("family-1".into()),
            )))
            .unwrap();
        let builder = Sessions::builder()
            .client_id(CLIENT)
            .user_pool_id(POOL)
            .jwks(jwks.clone())
            .validation(validation)
            .token_cache(cache)
            .store(store)
            .cognito_client(cognito_client());
        let builder = if metered {
            builder.metrics_sink(|line| {
                black_box(line.len());
            })
        } else {
            builder
        };
        runtime.block_on(builder.build()).unwrap()
    };
    let build = |validation, cache| build_with(validation, cache, false);
    let metered = |validation, cache| build_with(validation, cache, true);
    // Session mode, encryption on, the row written by `start` from tokens with an ID token: its
    // profile attribute is sealed.
    let id_claims = serde_json::json!({
        "iss": issuer, "sub": "sub-1", "aud": CLIENT, "token_use": "id",
        "auth_time": now, "iat": now, "exp": now + 3600,
        "cognito:username": "alice", "email": "alice@example.com", "email_verified": true,
        "name": "Alice Liddell", "given_name": "Alice", "family_name": "Liddell",
        "custom:plan": "pro", "custom:team": "blue", "origin_jti": "family-1",
    });
    let id_token = minter.sign(
        &serde_json::json!({"kid": "bench-kid", "alg": "RS256"}),
        &id_claims,
    );
    let sealed_profile = runtime
        .block_on(
            Sessions::builder()
                .client_id(CLIENT)
                .user_pool_id(POOL)
                .jwks(jwks.clone())
                .validation(SessionValidation::Session)
                .token_cache(0)
                .encryption_key("AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=")
                .store(MemoryStore::default())
                .cognito_client(cognito_client())
                .build(),
        )
        .unwrap();
    let mut login = Tokens::new(token.clone(), Some("refresh".into()));
    login.id_token = Some(id_token);
    runtime.block_on(sealed_profile.start(&login)).unwrap();
    let token_mode = build(SessionValidation::Token, 0);
    let session_mode = build(SessionValidation::Session, 0);
    let token_mode_cached = build(SessionValidation::Token, 1024);
    let session_mode_cached = build(SessionValidation::Session, 1024);
    let token_mode_metered = metered(SessionValidation::Token, 0);
    let token_mode_cached_metered = metered(SessionValidation::Token, 1024);
    let session_mode_cached_metered = metered(SessionValidation::Session, 1024);
    let mut headers = http::HeaderMap::new();
    headers.insert(
        "cookie",
        format!("theme=dark; token={token}").parse().unwrap(),
    );
    for sessions in [
        &sealed_profile,
        &token_mode,
        &session_mode,
        &token_mode_cached,
        &session_mode_cached,
        &token_mode_metered,
        &token_mode_cached_metered,
        &session_mode_cached_metered,
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
    group.bench_function("session_mode_sealed_profile_untouched_uncached", |b| {
        b.iter(|| {
            runtime
                .block_on(sealed_profile.session("token", black_box(&headers)))
                .unwrap()
        })
    });
    group.bench_function("session_mode_sealed_profile_read_uncached", |b| {
        b.iter(|| {
            let session = runtime
                .block_on(sealed_profile.session("token", black_box(&headers)))
                .unwrap();
            assert!(session.profile().and_then(|p| p.email()).is_some());
            session
        })
    });
    group.bench_function("session_token_mode_cached_polled", |b| {
        b.iter(|| {
            polled(
                &runtime,
                token_mode_cached.session("token", black_box(&headers)),
            )
            .unwrap()
        })
    });
    group.bench_function("session_session_mode_memory_store_cached_polled", |b| {
        b.iter(|| {
            polled(
                &runtime,
                session_mode_cached.session("token", black_box(&headers)),
            )
            .unwrap()
        })
    });
    // Metrics on (issue 21): the same requests as the rows above, one EMF line each.
    group.bench_function("session_token_mode_uncached_metrics", |b| {
        b.iter(|| {
            runtime
                .block_on(token_mode_metered.session("token", black_box(&headers)))
                .unwrap()
        })
    });
    group.bench_function("session_token_mode_cached_metrics_polled", |b| {
        b.iter(|| {
            polled(
                &runtime,
                token_mode_cached_metered.session("token", black_box(&headers)),
            )
            .unwrap()
        })
    });
    group.bench_function(
        "session_session_mode_memory_store_cached_metrics_polled",
        |b| {
            b.iter(|| {
                polled(
                    &runtime,
                    session_mode_cached_metered.session("token", black_box(&headers)),
                )
                .unwrap()
            })
        },
    );
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
