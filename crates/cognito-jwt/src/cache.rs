//! The verified-token cache: repeated requests with the same token skip the RSA check.
//!
//! - **Key**: a randomly keyed fast hash ([`RandomState`], SipHash-1-3 with a per-cache random
//!   key) of the token's signature segment, a lookup key only. A hit needs an exact comparison:
//!   the presented header and signature segments byte for byte with the stored ones, and the
//!   presented payload segment with the base64url encoding of the stored (verified) payload, so
//!   a hit means these exact bytes passed the whole pipeline before. A genuine signature with
//!   another header or payload never hits (nor does a token with extra segments). Only tokens
//!   that passed the whole pipeline are stored, and the hash key is secret, so no one can aim
//!   entries at one bucket.
//! - **Value**: the claims that pipeline produced, the header and signature segments, which key
//!   cache (JWKS) verified it and when that key set was fetched.
//! - **Validity**: only tokens that were *current* (unexpired) are stored. Every hit runs the
//!   time checks again (`exp`, `iat`, `nbf` against the clock), and a token that is no longer
//!   current is dropped and goes through the full pipeline. A hit whose key set is older than
//!   the JWKS maximum age goes through the pipeline too, so the key cache can revalidate (and
//!   refuse keys past their maximum staleness) as for any other token.
//! - **Key rotation**: when a refetch of the JWKS removes (or changes) a key, every entry signed
//!   by it is dropped before the new key set is used.
//! - **Bound**: at most `capacity` entries; inserting into a full cache evicts the oldest entry
//!   (first in, first out). Capacity 0 turns the cache off.
//! - **Memory**: measured by `tests/memory.rs` (a counting allocator, the live heap's growth per
//!   distinct cached token of Cognito's size, about 1 KiB): 1,264 bytes per entry, against
//!   1,271 for the SHA-256-keyed cache this replaced. The stored payload is the decoded one
//!   the claims need anyway; a 64-bit key instead of a 32-byte digest (in the map and the
//!   eviction queue) and no separate `kid` (read from the stored header when keys rotate) pay
//!   for the header and signature segments.
//!
//! The lock is a `std::sync::RwLock`, never held across an `.await`: a hit takes it for reading.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::sync::RwLock;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use crate::Claims;

/// Entries the verified-token cache keeps by default
/// ([`VerifierBuilder::token_cache`](crate::VerifierBuilder::token_cache)).
///
/// ```
/// assert_eq!(cognito_jwt::DEFAULT_TOKEN_CACHE, 4096);
/// ```
pub const DEFAULT_CAPACITY: usize = 4096;

/// The lookup key of a token: a keyed hash of its signature segment.
pub(crate) type TokenHash = u64;

/// The map's hash of a key that already is a keyed hash: the key itself.
#[derive(Default)]
struct Identity(u64);

impl Hasher for Identity {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `u64` keys are hashed here, through `write_u64`; fold anything else in.
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u64(&mut self, key: u64) {
        self.0 = key;
    }
}

/// A compact JWT's three segments, still encoded (`None`: not three segments).
fn segments(token: &str) -> Option<(&str, &str, &str)> {
    let (header, rest) = token.split_once('.')?;
    let (payload, signature) = rest.split_once('.')?;
    Some((header, payload, signature))
}

/// Whether `encoded` is the unpadded base64url encoding of `decoded`, chunk by chunk on the
/// stack (base64url encoding is a function, so this is exact).
fn encodes(decoded: &[u8], encoded: &[u8]) -> bool {
    const CHUNK: usize = 384; // encodes to 512 characters, no padding
    if encoded.len() != decoded.len() / 3 * 4 + [0, 2, 3][decoded.len() % 3] {
        return false;
    }
    let mut buffer = [0u8; CHUNK / 3 * 4];
    decoded
        .chunks(CHUNK)
        .zip(encoded.chunks(CHUNK / 3 * 4))
        .all(|(chunk, expected)| {
            matches!(URL_SAFE_NO_PAD.encode_slice(chunk, &mut buffer), Ok(n) if buffer[..n] == *expected)
        })
}

struct Entry {
    claims: Claims,
    /// The header and signature segments as presented, one after the other (the payload is the
    /// claims').
    segments: Box<str>,
    header_len: usize,
    /// Which key cache (JWKS) verified the token, see `Jwks::id`.
    jwks: u64,
    /// When that key set was fetched (`None`: preloaded), so a hit never outlives the key
    /// set's maximum age.
    keys_fetched_at: Option<u64>,
}

impl Entry {
    fn header(&self) -> &str {
        self.segments.get(..self.header_len).unwrap_or_default()
    }

    fn signature(&self) -> &str {
        self.segments.get(self.header_len..).unwrap_or_default()
    }

    /// Whether `token` is exactly the token this entry was made from: it ends with the stored
    /// signature segment after a dot, starts with the stored header segment and a dot, and what
    /// lies between is the encoding of the stored payload (which, base64url, has no dot: so
    /// three segments, exactly the verified ones). The costliest check comes last.
    fn is(&self, token: &str) -> bool {
        let (token, header, signature) = (
            token.as_bytes(),
            self.header().as_bytes(),
            self.signature().as_bytes(),
        );
        let Some(payload_end) = token.len().checked_sub(signature.len() + 1) else {
            return false;
        };
        payload_end > header.len()
            && token[payload_end + 1..] == *signature
            && token[payload_end] == b'.'
            && token[..header.len()] == *header
            && token[header.len()] == b'.'
            && encodes(
                self.claims.payload().as_bytes(),
                &token[header.len() + 1..payload_end],
            )
    }

    /// The `kid` of the stored header.
    fn kid(&self) -> Option<String> {
        let (mut stack, mut heap) = ([0u8; 384], Vec::new());
        let decoded = crate::token::decode(self.header(), &mut stack, &mut heap).ok()?;
        let header = crate::token::parse_header(decoded).ok()?;
        crate::token::check_header(&header).ok().map(str::to_owned)
    }
}

#[derive(Default)]
struct State {
    /// Boxed: the map keeps about twice as many slots as entries, and a slot is then 16 bytes.
    entries: HashMap<TokenHash, Box<Entry>, BuildHasherDefault<Identity>>,
    /// Insertion order, for eviction. Holds exactly the keys of `entries`.
    order: VecDeque<TokenHash>,
}

/// A bounded map from token to verified claims.
pub(crate) struct TokenCache {
    capacity: usize,
    /// The secret hash key, random per cache.
    hasher: RandomState,
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
            hasher: RandomState::new(),
            state: RwLock::default(),
        }
    }

    pub(crate) fn enabled(&self) -> bool {
        self.capacity > 0
    }

    /// The lookup key of `token`: the keyed hash of its length and of the first 32 characters
    /// of its signature segment (the part after the last dot, the whole token if none). An RS256
    /// signature is as good as random, so that is enough to spread the keys; the exact
    /// comparison decides.
    pub(crate) fn hash(&self, token: &str) -> TokenHash {
        let signature = token.rsplit_once('.').map_or(token, |(_, s)| s);
        let prefix = signature
            .as_bytes()
            .get(..32)
            .unwrap_or(signature.as_bytes());
        self.hasher.hash_one((token.len(), prefix))
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }

    /// The claims stored for exactly `token` (under `key`) and when the key set that verified
    /// them was fetched, if any. The caller checks both against the clock.
    pub(crate) fn get(&self, key: TokenHash, token: &str) -> Option<(Claims, Option<u64>)> {
        self.read()
            .entries
            .get(&key)
            .filter(|e| e.is(token))
            .map(|e| (e.claims.clone(), e.keys_fetched_at))
    }

    /// Stores the claims of `token`, which just passed the whole pipeline and is current;
    /// `jwks` and `keys_fetched_at` say which key set verified it. A key already taken (by this
    /// token, or by another one whose hash collides) is left as it is.
    pub(crate) fn insert(
        &self,
        key: TokenHash,
        token: &str,
        claims: Claims,
        (jwks, keys_fetched_at): (u64, Option<u64>),
    ) {
        let Some((header, _, signature)) = segments(token) else {
            return;
        };
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
        let mut segments = String::with_capacity(header.len() + signature.len());
        segments.push_str(header);
        segments.push_str(signature);
        state.entries.insert(
            key,
            Box::new(Entry {
                claims,
                segments: segments.into_boxed_str(),
                header_len: header.len(),
                jwks,
                keys_fetched_at,
            }),
        );
        state.order.push_back(key);
    }

    /// Drops the entry of `token` under `key` (no longer current).
    pub(crate) fn remove(&self, key: TokenHash, token: &str) {
        let mut state = self.write();
        if state.entries.get(&key).is_some_and(|e| e.is(token)) {
            state.entries.remove(&key);
            state.order.retain(|k| *k != key);
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
            .retain(|_, entry| entry.jwks != jwks || entry.kid().is_some_and(|kid| keep(&kid)));
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

    fn b64(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    /// A token-shaped string with these parts, and the claims its payload parses to.
    fn token(kid: &str, sub: &str, signature: &str) -> (String, Claims) {
        let payload = format!(r#"{{"sub":"{sub}"}}"#);
        let token = format!(
            "{}.{}.{signature}",
            b64(&format!(r#"{{"alg":"RS256","kid":"{kid}"}}"#)),
            b64(&payload)
        );
        (token, Claims::parse(payload.into_bytes()).unwrap())
    }

    fn put(cache: &TokenCache, (token, claims): &(String, Claims), jwks: u64) -> TokenHash {
        let key = cache.hash(token);
        cache.insert(key, token, claims.clone(), (jwks, None));
        key
    }

    fn hit(cache: &TokenCache, token: &str) -> Option<String> {
        cache
            .get(cache.hash(token), token)
            .map(|(c, _)| c.sub().to_owned())
    }

    #[test]
    fn exact_bytes_only() {
        let cache = TokenCache::new(4);
        let a = token("k", "a", "c2ln");
        put(&cache, &a, 1);
        assert_eq!(hit(&cache, &a.0).as_deref(), Some("a"));
        // The same (genuine) signature with another payload, another header, an extra segment,
        // or a payload that decodes alike but is not the same text: all misses.
        let (header, rest) = a.0.split_once('.').unwrap();
        let (_, signature) = rest.split_once('.').unwrap();
        let forged_payload = format!("{header}.{}.{signature}", b64(r#"{"sub":"admin"}"#));
        let forged_header = format!("{}.{rest}", b64(r#"{"alg":"RS256","kid":"x"}"#));
        for other in [
            forged_payload,
            forged_header,
            format!("{}.x", a.0),
            format!("x.{}", a.0),
            a.0.replace(signature, "c2lm"),
            a.0[..a.0.len() - 1].to_owned(),
            format!(
                "{}A.{signature}",
                &a.0[..header.len() + 1 + rest.len() - signature.len() - 1]
            ),
        ] {
            assert_eq!(hit(&cache, &other), None, "{other}");
        }
        assert_eq!(cache.len(), 1);
        cache.remove(cache.hash(&a.0), &a.0);
        assert_eq!(hit(&cache, &a.0), None);
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn payload_comparison_is_exact_at_every_length() {
        for len in 0..2000 {
            let decoded: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            let encoded = URL_SAFE_NO_PAD.encode(&decoded);
            assert!(encodes(&decoded, encoded.as_bytes()), "{len}");
            let mut wrong = encoded.clone().into_bytes();
            if let Some(last) = wrong.last_mut() {
                *last = if *last == b'A' { b'B' } else { b'A' };
                assert!(!encodes(&decoded, &wrong), "{len}");
            }
            assert!(
                !encodes(&decoded, format!("{encoded}A").as_bytes()),
                "{len}"
            );
        }
    }

    #[test]
    fn keys_are_random_per_cache() {
        let (one, two) = (TokenCache::new(1), TokenCache::new(1));
        let tokens = ["a.b.c", "a.b.d", "x.y.z"];
        assert!(
            tokens.iter().any(|t| one.hash(t) != two.hash(t)),
            "two caches hash alike: the key is not random"
        );
        assert_eq!(
            one.hash("h.p.s"),
            one.hash("x.y.s"),
            "length and signature only"
        );
        assert_ne!(one.hash("h.p.s"), one.hash("h.p.t"));
    }

    #[test]
    fn bounded_first_in_first_out() {
        let cache = TokenCache::new(3);
        let tokens: Vec<_> = (0..10)
            .map(|i| token("k", &i.to_string(), &format!("sig{i}")))
            .collect();
        for t in &tokens {
            put(&cache, t, 1);
            assert!(cache.len() <= 3);
        }
        assert_eq!(cache.len(), 3);
        assert!(hit(&cache, &tokens[6].0).is_none());
        for t in &tokens[7..] {
            assert!(hit(&cache, &t.0).is_some());
        }
        assert_eq!(cache.read().order.len(), 3);
    }

    #[test]
    fn off_at_capacity_zero() {
        let cache = TokenCache::new(0);
        let a = token("k", "a", "s");
        put(&cache, &a, 1);
        assert!(hit(&cache, &a.0).is_none());
    }

    #[test]
    fn forgets_entries_of_removed_keys_only() {
        let cache = TokenCache::new(8);
        let (a, b, c) = (
            token("old", "a", "sa"),
            token("new", "b", "sb"),
            token("old", "c", "sc"),
        );
        put(&cache, &a, 1);
        put(&cache, &b, 1);
        put(&cache, &c, 2);
        cache.forget_keys(1, |kid| kid == "new");
        assert!(hit(&cache, &a.0).is_none());
        assert!(hit(&cache, &b.0).is_some());
        assert!(
            hit(&cache, &c.0).is_some(),
            "another JWKS's key of the same kid"
        );
        assert_eq!(cache.read().order.len(), 2);
    }
}
