//! The user pool's signing keys: fetched once, cached for the process, refetched for an unknown
//! `kid` (at most once per penalty interval) and when older than the maximum age. The only I/O
//! verification does.
//!
//! # When the JWKS endpoint fails
//! Fetched keys are revalidated once they are older than `max_age` (default 1 h): the next
//! request that needs them refetches (one request at a time, at most once per penalty interval;
//! the others keep using the cached keys meanwhile). If that refetch fails, the cached keys keep
//! being served until they are `max_stale` old (default 24 h, counted from the last successful
//! fetch); after that, verification answers 503 ([`Error::Unavailable`](crate::Error::Unavailable)) until
//! a refetch succeeds. Preloaded keys ([`Verifier::preload`](crate::Verifier::preload)) are configuration and never
//! go stale.
//! A cold start with no keys and an unreachable endpoint is a 503, never a 401.
//!
//! # Locking
//! A token whose `kid` is known and fresh takes only the key map's `std::sync::RwLock`, for
//! reading, for one `Arc` clone; it never waits for a fetch. The map is swapped whole after a
//! fetch has completed, with no I/O under the write lock. Only an unknown `kid` (or keys too old
//! to serve) takes the async `fetch` mutex, held across the fetch on purpose: it deduplicates
//! concurrent fetches and carries the refetch rate limit. Revalidation of merely old keys only
//! tries that mutex and never waits for it.
//!
//! An endpoint that *refuses* (4xx, or not a JWKS) while the cache has never had keys is not
//! asked again within the penalty interval: the refusal is answered from memory, so tokens
//! naming an issuer without keys (say the updated issuer of a pool that does not use it) cost
//! at most one fetch per interval.
//!
//! Whenever the key set changes, tokens signed by a key that disappeared or changed are dropped
//! from the verified-token cache first, so no cached token outlives its key.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use aws_lc_rs::signature::{ParsedPublicKey, RsaPublicKeyComponents, RSA_PKCS1_2048_8192_SHA256};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;

use crate::cache::{TokenCache, TokenHash};
use crate::error::{Error, KeyRejected, Rejected};
pub use crate::fetch::FetchError;
use crate::fetch::JwksFetcher;
use crate::Claims;

type Entry = Result<Arc<ParsedPublicKey>, KeyRejected>;

/// How keys are fetched and how long they may be used.
#[derive(Debug, Clone, Copy)]
pub(crate) struct JwksPolicy {
    /// Timeout of one fetch.
    pub timeout: Duration,
    /// Least time between two fetches (the unknown-`kid` penalty box).
    pub refetch_interval: Duration,
    /// Age (seconds) after which fetched keys are revalidated.
    pub max_age: u64,
    /// Age (seconds) up to which fetched keys are served while revalidation fails.
    pub max_stale: u64,
}

/// What every key cache of one verifier shares.
pub(crate) struct KeyContext {
    pub policy: JwksPolicy,
    /// Told when keys disappear.
    pub tokens: Arc<TokenCache>,
    /// `None`: no fetcher (built without feature `https` and none given): keys come only from
    /// preloaded documents.
    pub fetcher: Option<Arc<dyn JwksFetcher>>,
    /// What configuration errors tell the operator to check.
    pub names: crate::settings::SettingNames,
    /// JWKS fetches started, by every key cache of the verifier (for telemetry).
    pub fetches: std::sync::atomic::AtomicU64,
}

/// The cached keys and when they were fetched (epoch seconds; `None` for preloaded keys).
#[derive(Default)]
struct Cache {
    keys: HashMap<String, Entry>,
    fetched_at: Option<u64>,
}

impl Cache {
    fn age(&self, now: u64) -> Option<u64> {
        self.fetched_at.map(|at| now.saturating_sub(at))
    }
}

/// One issuer's key cache.
pub(crate) struct Jwks {
    /// This key cache's identity in the verified-token cache.
    id: u64,
    context: Arc<KeyContext>,
    url: String,
    keys: RwLock<Arc<Cache>>,
    /// The last fetch attempt; held across a fetch.
    fetch: tokio::sync::Mutex<LastFetch>,
}

/// When the last fetch was tried, and how it failed.
#[derive(Default)]
struct LastFetch {
    at: Option<Instant>,
    failed: bool,
    /// The endpoint refused (4xx, not a JWKS): within the penalty interval a key cache that
    /// never had keys answers this again instead of refetching.
    refused: Option<String>,
}

impl LastFetch {
    fn record(&mut self, result: &Result<Arc<Cache>, FetchError>) {
        self.failed = result.is_err();
        self.refused = match result {
            Err(FetchError::Refused(message)) => Some(message.clone()),
            _ => None,
        };
    }
}

impl std::fmt::Debug for Jwks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jwks")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct JwkSet {
    keys: Vec<Jwk>,
}

#[derive(Deserialize)]
struct Jwk {
    kid: Option<String>,
    kty: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    alg: Option<String>,
    n: Option<String>,
    e: Option<String>,
}

/// Parses a JWKS document into usable keys (and explicit refusals for unusable entries).
pub(crate) fn parse_jwks(body: &[u8]) -> Result<HashMap<String, Entry>, String> {
    let set: JwkSet =
        serde_json::from_slice(body).map_err(|e| format!("the JWKS is not valid JSON: {e}"))?;
    let mut keys = HashMap::new();
    for jwk in set.keys {
        let Some(kid) = jwk.kid.clone() else { continue };
        keys.insert(kid, parse_jwk(&jwk).map(Arc::new));
    }
    Ok(keys)
}

fn parse_jwk(jwk: &Jwk) -> Result<ParsedPublicKey, KeyRejected> {
    if jwk.kty.as_deref() != Some("RSA") {
        return Err(KeyRejected::Unusable("kty is not RSA"));
    }
    if jwk.use_.as_deref().is_some_and(|u| u != "sig") {
        return Err(KeyRejected::Unusable("use is not sig"));
    }
    if jwk.alg.as_deref().is_some_and(|a| a != "RS256") {
        return Err(KeyRejected::Unusable("alg is not RS256"));
    }
    let decode = |v: &Option<String>| {
        v.as_deref()
            .and_then(|s| URL_SAFE_NO_PAD.decode(s).ok())
            .ok_or(KeyRejected::Unusable("n or e is not base64url"))
    };
    let (n, e) = (decode(&jwk.n)?, decode(&jwk.e)?);
    let bits = n.iter().skip_while(|b| **b == 0).count() * 8;
    if !(2048..=8192).contains(&bits) {
        return Err(KeyRejected::Unusable(
            "the RSA modulus is not 2048 to 8192 bits",
        ));
    }
    RsaPublicKeyComponents { n: &n, e: &e }
        .to_parsed_public_key(&RSA_PKCS1_2048_8192_SHA256)
        .map_err(|_| KeyRejected::Unusable("not a valid RSA public key"))
}

/// Whether two key entries hold the same usable public key.
fn same_key(a: Option<&Entry>, b: Option<&Entry>) -> bool {
    match (a, b) {
        (Some(Ok(a)), Some(Ok(b))) => a.as_ref().as_ref() == b.as_ref().as_ref(),
        _ => false,
    }
}

impl Jwks {
    /// A key cache for `url`.
    pub(crate) fn new(url: String, context: Arc<KeyContext>) -> Self {
        static NEXT_ID: AtomicU64 = AtomicU64::new(0);
        Jwks {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            context,
            url,
            keys: RwLock::new(Arc::default()),
            fetch: tokio::sync::Mutex::new(LastFetch::default()),
        }
    }

    /// Seeds the cache with a JWKS document (preloaded keys need no fetch at cold start).
    pub(crate) fn preload(&self, body: &[u8]) -> Result<(), String> {
        let keys = parse_jwks(body)?;
        self.replace(Arc::new(Cache {
            keys,
            fetched_at: None,
        }));
        Ok(())
    }

    /// Installs a new key set, dropping from the verified-token cache every token signed by a
    /// key that is gone or changed. Both happen under the write lock, so a token verified with
    /// a key being replaced cannot slip into the token cache in between (see [`Jwks::remember`]).
    fn replace(&self, new: Arc<Cache>) {
        let mut keys = self.keys.write().unwrap_or_else(|p| p.into_inner());
        let old = &keys.keys;
        self.context
            .tokens
            .forget_keys(self.id, |kid| same_key(old.get(kid), new.keys.get(kid)));
        *keys = new;
    }

    /// Caches a token that `key` (the key for `kid`) just verified, unless that key has been
    /// replaced since it was looked up. The entry carries the key set's fetch time, so a hit
    /// never outlives the set's maximum age.
    pub(crate) fn remember(
        &self,
        hash: TokenHash,
        token: &str,
        claims: Claims,
        kid: &str,
        key: &ParsedPublicKey,
    ) {
        let keys = self.keys.read().unwrap_or_else(|p| p.into_inner());
        let unchanged =
            matches!(keys.keys.get(kid), Some(Ok(now)) if now.as_ref().as_ref() == key.as_ref());
        if unchanged {
            self.context
                .tokens
                .insert(hash, token, claims, (self.id, keys.fetched_at));
        }
    }

    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    fn snapshot(&self) -> Arc<Cache> {
        self.keys.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn penalized(&self, last_fetch: Option<Instant>) -> bool {
        last_fetch.is_some_and(|at| at.elapsed() < self.context.policy.refetch_interval)
    }

    /// The key for `kid` if it is cached and fresh: no fetch, no wait.
    pub(crate) fn cached(&self, kid: &str, now: u64) -> Option<Entry> {
        let cache = self.snapshot();
        let fresh = cache
            .age(now)
            .is_none_or(|a| a < self.context.policy.max_age);
        cache.keys.get(kid).filter(|_| fresh).cloned()
    }

    /// The key for `kid` at `now` (epoch seconds): from the cache, or after one (deduplicated,
    /// rate-limited) fetch. See the module docs for what happens when the endpoint fails.
    pub(crate) async fn key(&self, kid: &str, now: u64) -> Result<Entry, FetchError> {
        let cache = self.snapshot();
        let age = cache.age(now);
        let due = age.is_some_and(|a| a >= self.context.policy.max_age);
        let expired = age.is_some_and(|a| a >= self.context.policy.max_stale);
        match cache.keys.get(kid) {
            Some(entry) if !due => return Ok(entry.clone()),
            Some(entry) if !expired => {
                // Revalidate, unless another request already is or one did moments ago; the
                // cached key answers whatever happens.
                if let Ok(mut last_fetch) = self.fetch.try_lock() {
                    let current = self.snapshot();
                    if current.fetched_at != cache.fetched_at {
                        // Revalidated since we looked.
                        return Ok(lookup(&current, kid));
                    }
                    if !self.penalized(last_fetch.at) {
                        last_fetch.at = Some(Instant::now());
                        let refetched = self.refetch(now).await;
                        last_fetch.record(&refetched);
                        match refetched {
                            Ok(keys) => return Ok(lookup(&keys, kid)),
                            Err(error) => tracing::warn!(
                                url = %self.url,
                                error = %describe(&error),
                                age_secs = age.unwrap_or_default(),
                                "could not revalidate the JWKS; serving the cached keys"
                            ),
                        }
                    }
                }
                return Ok(entry.clone());
            }
            _ => {}
        }
        // An unknown kid, or keys too old to serve: a fetch decides.
        let mut last_fetch = self.fetch.lock().await;
        // Another task may have fetched while we waited for the lock.
        let cache = self.snapshot();
        let expired = cache
            .age(now)
            .is_some_and(|a| a >= self.context.policy.max_stale);
        if !expired {
            if let Some(entry) = cache.keys.get(kid) {
                return Ok(entry.clone());
            }
        }
        if self.penalized(last_fetch.at) {
            // Keys too old to serve, and the endpoint failed moments ago: do not hammer it.
            if expired && last_fetch.failed {
                return Err(FetchError::Transient(
                    "the cached JWKS is older than its maximum age and refetching it failed".into(),
                ));
            }
            if !expired && !cache.keys.is_empty() {
                return Ok(Err(KeyRejected::UnknownKid));
            }
            // Never had keys, and the endpoint refused moments ago: the same answer, no fetch.
            if let (true, Some(message)) = (cache.keys.is_empty(), &last_fetch.refused) {
                return Err(FetchError::Refused(message.clone()));
            }
        }
        last_fetch.at = Some(Instant::now());
        let refetched = self.refetch(now).await;
        last_fetch.record(&refetched);
        let keys = refetched?;
        Ok(lookup(&keys, kid))
    }

    /// Fetches the document and replaces the cache with it.
    async fn refetch(&self, now: u64) -> Result<Arc<Cache>, FetchError> {
        let Some(fetcher) = &self.context.fetcher else {
            return Err(FetchError::Refused(
                "no JWKS fetcher: build with feature `https`, give the builder a fetcher, or \
                 preload the keys"
                    .into(),
            ));
        };
        let timeout = self.context.policy.timeout;
        self.context
            .fetches
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let span = tracing::info_span!(
            "cognito_jwt.jwks_fetch",
            otel.kind = "client",
            http.request.method = "GET",
            url.full = %self.url
        );
        let fetching = tracing::Instrument::instrument(fetcher.fetch(&self.url), span);
        let body = tokio::time::timeout(timeout, fetching)
            .await
            .map_err(|_| {
                FetchError::Transient(format!("JWKS fetch timed out after {timeout:?}").into())
            })??;
        let keys = parse_jwks(&body).map_err(FetchError::Refused)?;
        tracing::info!(url = %self.url, keys = keys.len(), "fetched the user pool JWKS");
        let cache = Arc::new(Cache {
            keys,
            fetched_at: Some(now),
        });
        self.replace(cache.clone());
        Ok(cache)
    }

    /// Fetches the keys now unless they are cached and fresh (cold start: see
    /// [`Verifier::hydrate`](crate::Verifier::hydrate)). Waits for a fetch under way, and counts
    /// as one for the refetch interval.
    pub(crate) async fn hydrate(&self, now: u64) -> Result<(), FetchError> {
        let mut last_fetch = self.fetch.lock().await;
        let cache = self.snapshot();
        let fresh = cache
            .age(now)
            .is_none_or(|a| a < self.context.policy.max_age);
        if fresh && !cache.keys.is_empty() {
            return Ok(());
        }
        last_fetch.at = Some(Instant::now());
        let refetched = self.refetch(now).await;
        last_fetch.record(&refetched);
        refetched.map(|_| ())
    }
}

fn lookup(cache: &Cache, kid: &str) -> Entry {
    cache
        .keys
        .get(kid)
        .cloned()
        .unwrap_or(Err(KeyRejected::UnknownKid))
}

fn describe(error: &FetchError) -> String {
    match error {
        FetchError::Refused(message) => message.clone(),
        FetchError::Transient(source) => source.to_string(),
    }
}

/// Where a token's key came from.
pub(crate) struct Keys {
    pub issuer: Arc<str>,
    pub jwks: Arc<Jwks>,
    pub key: Arc<ParsedPublicKey>,
}

/// A failed JWKS fetch: 503 if transient; if refused, a configuration error when the URL is
/// configuration's (`hint` says what to check), else a 401 (the token names an issuer that
/// publishes no keys).
pub(crate) fn fetch_error(error: FetchError, url: &str, configured: bool, hint: &str) -> Error {
    match error {
        FetchError::Transient(source) => Error::unavailable("fetching the signing keys", source),
        FetchError::Refused(message) if configured => Error::config(format!(
            "the user pool's JWKS at {url} is not usable ({message}); check {hint}"
        )),
        FetchError::Refused(_) => Rejected::Key(KeyRejected::NoKeys).into(),
    }
}
