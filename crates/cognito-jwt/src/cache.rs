//! The verified-token cache: repeated requests with the same token skip the RSA check.
//!
//! - **Key**: the SHA-256 of the entire token (never the token itself), so a hit means these
//!   exact bytes (header, claims and signature) passed the whole pipeline before.
//! - **Value**: the claims that pipeline produced, the `kid` that signed them, which key cache
//!   (JWKS) it came from and when that key set was fetched.
//! - **Validity**: only tokens that were *current* (unexpired) are stored. Every hit runs the
//!   time checks again (`exp`, `iat`, `nbf` against the clock), and a token that is no longer
//!   current is dropped and goes through the full pipeline, hence the refresh path. A hit whose
//!   key set is older than the JWKS maximum age goes through the pipeline too, so the key cache
//!   can revalidate (and refuse keys past their maximum staleness) as for any other token.
//! - **Key rotation**: when a refetch of the JWKS removes (or changes) a key, every entry signed
//!   by it is dropped before the new key set is used.
//! - **Bound**: at most `capacity` entries; inserting into a full cache evicts the oldest entry
//!   (first in, first out). An entry takes the token's decoded claims plus about 0.5 KiB
//!   (measured: 0.9 KiB for a 900-byte token), so the default of [`DEFAULT_CAPACITY`] entries
//!   holds about 4 MiB with tokens of that size, whatever the number of distinct tokens seen
//!   (`BENCHMARKS.md`: RSS after 100,000 distinct tokens). Capacity 0 turns the cache off.
//!
//! The lock is a `std::sync::RwLock`, never held across an `.await`: a hit takes it for reading.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::RwLock;

use aws_lc_rs::digest::{digest, SHA256};

use crate::Claims;

/// Entries the verified-token cache keeps by default
/// ([`VerifierBuilder::token_cache`](crate::VerifierBuilder::token_cache)).
///
/// ```
/// assert_eq!(cognito_jwt::DEFAULT_TOKEN_CACHE, 4096);
/// ```
pub const DEFAULT_CAPACITY: usize = 4096;

/// SHA-256 of a whole token.
pub(crate) type TokenHash = [u8; 32];

/// The cache key's hash for the map: its first eight bytes. The key is already a cryptographic
/// hash of attacker-chosen input, so no attacker can aim entries at one bucket.
#[derive(Default)]
struct FirstBytes(u64);

impl Hasher for FirstBytes {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // `[u8; 32]` hashes as its length, then its bytes; keep the first eight bytes of content.
        if bytes.len() >= 8 {
            let mut first = [0; 8];
            first.copy_from_slice(&bytes[..8]);
            self.0 ^= u64::from_le_bytes(first);
        }
    }

    fn write_usize(&mut self, _length: usize) {}
}

struct Entry {
    claims: Claims,
    /// Which key cache (JWKS) verified the token, see `Jwks::id`.
    jwks: u64,
    kid: Box<str>,
    /// When that key set was fetched (`None`: preloaded), so a hit never outlives the key
    /// set's maximum age.
    keys_fetched_at: Option<u64>,
}

#[derive(Default)]
struct State {
    entries: HashMap<TokenHash, Entry, BuildHasherDefault<FirstBytes>>,
    /// Insertion order, for eviction. Holds exactly the keys of `entries`.
    order: VecDeque<TokenHash>,
}

/// A bounded map from token hash to verified claims.
pub(crate) struct TokenCache {
    capacity: usize,
    state: RwLock<State>,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache")
            .field("capacity", &self.capacity)
            .field("len", &self.len())
            .finish()
    }
}

impl TokenCache {
    /// A cache of at most `capacity` entries (0: off).
    pub(crate) fn new(capacity: usize) -> Self {
        TokenCache {
            capacity,
            state: RwLock::default(),
        }
    }

    pub(crate) fn enabled(&self) -> bool {
        self.capacity > 0
    }

    /// The cache key of `token`.
    pub(crate) fn hash(token: &str) -> TokenHash {
        let mut key = [0; 32];
        key.copy_from_slice(digest(&SHA256, token.as_bytes()).as_ref());
        key
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }

    /// The claims stored for this token hash and when the key set that verified them was
    /// fetched, if any. The caller checks both against the clock.
    pub(crate) fn get(&self, key: &TokenHash) -> Option<(Claims, Option<u64>)> {
        self.read()
            .entries
            .get(key)
            .map(|e| (e.claims.clone(), e.keys_fetched_at))
    }

    /// Stores the claims of a token that just passed the whole pipeline and is current;
    /// `jwks`, `kid` and `keys_fetched_at` say which key verified it.
    pub(crate) fn insert(
        &self,
        key: TokenHash,
        claims: Claims,
        (jwks, kid, keys_fetched_at): (u64, &str, Option<u64>),
    ) {
        if !self.enabled() {
            return;
        }
        let mut state = self.write();
        if state.entries.contains_key(&key) {
            return;
        }
        while state.entries.len() >= self.capacity {
            let Some(oldest) = state.order.pop_front() else {
                break;
            };
            state.entries.remove(&oldest);
        }
        state.entries.insert(
            key,
            Entry {
                claims,
                jwks,
                kid: kid.into(),
                keys_fetched_at,
            },
        );
        state.order.push_back(key);
    }

    /// Drops one entry (its token is no longer current).
    pub(crate) fn remove(&self, key: &TokenHash) {
        let mut state = self.write();
        if state.entries.remove(key).is_some() {
            state.order.retain(|k| k != key);
        }
    }

    /// Drops every entry verified by key cache `jwks` with a `kid` that `keep` refuses.
    pub(crate) fn forget_keys(&self, jwks: u64, keep: impl Fn(&str) -> bool) {
        if !self.enabled() {
            return;
        }
        let mut state = self.write();
        let before = state.entries.len();
        state
            .entries
            .retain(|_, entry| entry.jwks != jwks || keep(&entry.kid));
        let dropped = before - state.entries.len();
        if dropped > 0 {
            let State { entries, order } = &mut *state;
            order.retain(|k| entries.contains_key(k));
            tracing::info!(
                dropped,
                "dropped cached tokens signed by keys gone from the JWKS"
            );
        }
    }

    /// Entries held.
    pub(crate) fn len(&self) -> usize {
        self.read().entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(sub: &str) -> Claims {
        Claims::parse(format!(r#"{{"sub":"{sub}"}}"#).into_bytes()).unwrap()
    }

    #[test]
    fn keyed_by_the_hash_of_the_whole_token() {
        let cache = TokenCache::new(4);
        let (a, b) = (TokenCache::hash("h.p.s1"), TokenCache::hash("h.p.s2"));
        assert_ne!(a, b);
        cache.insert(a, claims("a"), (1, "k", None));
        assert_eq!(cache.get(&a).unwrap().0.sub(), "a");
        assert!(
            cache.get(&b).is_none(),
            "another signature is another token"
        );
        cache.remove(&a);
        assert!(cache.get(&a).is_none());
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn bounded_first_in_first_out() {
        let cache = TokenCache::new(3);
        let keys: Vec<_> = (0..10)
            .map(|i| TokenHash::from(TokenCache::hash(&i.to_string())))
            .collect();
        for (i, key) in keys.iter().enumerate() {
            cache.insert(*key, claims(&i.to_string()), (1, "k", None));
            assert!(cache.len() <= 3);
        }
        assert_eq!(cache.len(), 3);
        assert!(cache.get(&keys[6]).is_none());
        for key in &keys[7..] {
            assert!(cache.get(key).is_some());
        }
        assert_eq!(cache.read().order.len(), 3);
    }

    #[test]
    fn off_at_capacity_zero() {
        let cache = TokenCache::new(0);
        let key = TokenCache::hash("t");
        cache.insert(key, claims("a"), (1, "k", None));
        assert!(cache.get(&key).is_none());
    }

    #[test]
    fn forgets_entries_of_removed_keys_only() {
        let cache = TokenCache::new(8);
        let (a, b, c) = (
            TokenCache::hash("a"),
            TokenCache::hash("b"),
            TokenCache::hash("c"),
        );
        cache.insert(a, claims("a"), (1, "old", None));
        cache.insert(b, claims("b"), (1, "new", None));
        cache.insert(c, claims("c"), (2, "old", None));
        cache.forget_keys(1, |kid| kid == "new");
        assert!(cache.get(&a).is_none());
        assert!(cache.get(&b).is_some());
        assert!(
            cache.get(&c).is_some(),
            "another JWKS's key of the same kid"
        );
        assert_eq!(cache.read().order.len(), 2);
    }
}
