//! Bytes per entry of the verified-token cache, measured with a counting allocator: the live
//! heap grows by this much per distinct cached token (the tokens themselves allocated before).
//!
//! `cargo test -p cognito-jwt --test memory -- --nocapture` prints the figure.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

mod common;

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator, only counting sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::SeqCst);
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::SeqCst);
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size as isize - layout.size() as isize, Ordering::SeqCst);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The heap a cache entry costs, in bytes, with tokens of Cognito's size (about 1 KiB).
/// The SHA-256-keyed cache this replaced measured 1,271 bytes per entry (tokens of 1,127 bytes) with this test.
const BEFORE: f64 = 1271.0;

#[tokio::test(flavor = "current_thread")]
async fn bytes_per_cached_token() {
    let key = common::Key::new();
    let now = common::now();
    const N: usize = 2000;
    let verifier = cognito_jwt::Verifier::builder()
        .user_pool(common::POOL)
        .client_id(common::CLIENT)
        .token_cache(N)
        .fetcher(common::Fake::default())
        .build()
        .unwrap();
    verifier.preload(&key.jwks(common::KID)).unwrap();
    let tokens: Vec<String> = (0..N)
        .map(|i| {
            key.sign(
                common::KID,
                &common::access(&format!("{i:08}-5f3c-4b6e-9d1a-2c7e8f9a0b1c"), now),
            )
        })
        .collect();
    let token_len = tokens.iter().map(String::len).sum::<usize>() / N;
    // Warm up (the first verification allocates the map's first buckets, tracing state...).
    verifier.verify_at(&tokens[0], now).await.unwrap();
    let before = LIVE.load(Ordering::SeqCst);
    for token in &tokens[1..] {
        verifier.verify_at(token, now).await.unwrap();
    }
    let after = LIVE.load(Ordering::SeqCst);
    for token in &tokens {
        assert!(
            verifier.cached(token, now).is_some(),
            "every token is cached"
        );
    }
    let per_entry = (after - before) as f64 / (N - 1) as f64;
    println!("verified-token cache: {per_entry:.0} bytes per entry, tokens of {token_len} bytes");
    assert!(
        (900..1300).contains(&token_len),
        "Cognito-sized tokens: {token_len}"
    );
    assert!(
        per_entry <= BEFORE,
        "{per_entry:.0} bytes per entry, more than the {BEFORE} of the SHA-256-keyed cache"
    );
}
