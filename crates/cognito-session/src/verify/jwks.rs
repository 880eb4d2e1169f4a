//! The user pool's signing keys: fetched once, cached for the process, refetched only for an
//! unknown `kid` and then at most once per penalty interval. The only I/O verification does.
//!
//! Locking: a token whose `kid` is known takes only the key map's `std::sync::RwLock`, for
//! reading, for the time of one hash-map lookup and an `Arc` clone; it never waits for a fetch.
//! The map is swapped whole (a new `Arc`) after a fetch has completed, under the write lock, with
//! no I/O in between. Only an *unknown* `kid` takes the async `fetch` mutex, which is held across
//! the fetch on purpose: it deduplicates concurrent fetches (one request fetches, the others
//! wait and then find the key) and carries the refetch rate limit. The fetch is bounded by the
//! JWKS timeout, and by the caller's deadline when one is given.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use aws_lc_rs::signature::{ParsedPublicKey, RsaPublicKeyComponents, RSA_PKCS1_2048_8192_SHA256};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use serde::Deserialize;

use super::cache::TokenCache;
use crate::error::BoxError;

/// Largest JWKS document we read (Cognito's is under 2 KiB).
const MAX_JWKS_BYTES: usize = 64 * 1024;

/// Why no key could be found for a token's `kid`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyRejected {
    /// No key with this `kid` in the JWKS, even after a refetch (or within the penalty interval).
    #[error("no key with this kid in the user pool's JWKS")]
    UnknownKid,
    /// The JWKS has this `kid`, but the entry is not an RSA signing key for RS256.
    #[error("the JWKS entry for this kid is not usable: {0}")]
    Unusable(&'static str),
}

/// A failure to obtain the JWKS.
#[derive(Debug)]
pub(crate) enum FetchError {
    /// The endpoint answered 4xx, or with something that is not a JWKS: not transient.
    Refused(String),
    /// Network failure, timeout or 5xx: try again later.
    Transient(BoxError),
}

type Entry = Result<Arc<ParsedPublicKey>, KeyRejected>;

/// One issuer's key cache.
pub(crate) struct Jwks {
    id: u64,
    cache: Arc<TokenCache>,
    url: String,
    timeout: Duration,
    penalty: Duration,
    keys: RwLock<Arc<HashMap<String, Entry>>>,
    fetch: tokio::sync::Mutex<Option<Instant>>,
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

fn key_bytes(key: &ParsedPublicKey) -> &[u8] {
    key.as_ref()
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

impl Jwks {
    /// A key cache for `url`; `cache` is told when keys disappear.
    pub(crate) fn new(
        url: String,
        timeout: Duration,
        penalty: Duration,
        cache: Arc<TokenCache>,
    ) -> Self {
        static NEXT_ID: AtomicU64 = AtomicU64::new(0);
        Jwks {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            cache,
            url,
            timeout,
            penalty,
            keys: RwLock::new(Arc::new(HashMap::new())),
            fetch: tokio::sync::Mutex::new(None),
        }
    }

    /// Seeds the cache with a JWKS document (preloaded keys need no fetch at cold start).
    pub(crate) fn preload(&self, body: &[u8]) -> Result<(), String> {
        self.replace_keys(parse_jwks(body)?);
        Ok(())
    }

    /// This key cache's identity in the verified-token cache.
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// Installs a new key set. First drops from the verified-token cache every token signed by a
    /// key that is gone or changed, so no cached token outlives its key.
    fn replace_keys(&self, keys: HashMap<String, Entry>) {
        let old = self.keys.read().unwrap_or_else(|p| p.into_inner()).clone();
        self.cache
            .forget_keys(self.id, |kid| match (old.get(kid), keys.get(kid)) {
                (Some(Ok(before)), Some(Ok(now))) => key_bytes(before) == key_bytes(now),
                _ => false,
            });
        *self.keys.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(keys);
    }

    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    fn cached(&self, kid: &str) -> Option<Entry> {
        self.keys
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(kid)
            .cloned()
    }

    /// The key for `kid`: from the cache, or after one (deduplicated, rate-limited) fetch that
    /// takes at most the JWKS timeout, or `budget` when that is shorter.
    pub(crate) async fn key(
        &self,
        kid: &str,
        budget: Option<Duration>,
    ) -> Result<Entry, FetchError> {
        if let Some(entry) = self.cached(kid) {
            return Ok(entry);
        }
        let mut last_fetch = self.fetch.lock().await;
        // Another task may have fetched while we waited for the lock.
        if let Some(entry) = self.cached(kid) {
            return Ok(entry);
        }
        let have_keys = !self
            .keys
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .is_empty();
        if have_keys && last_fetch.is_some_and(|at| at.elapsed() < self.penalty) {
            return Ok(Err(KeyRejected::UnknownKid));
        }
        *last_fetch = Some(Instant::now());
        // Boxed: the HTTP client's future is deep, and this path is rare.
        let timeout = budget.map_or(self.timeout, |b| b.min(self.timeout));
        let body = Box::pin(fetch(&self.url, timeout)).await?;
        let keys = parse_jwks(&body).map_err(FetchError::Refused)?;
        tracing::info!(url = %self.url, keys = keys.len(), "fetched the user pool JWKS");
        let entry = keys
            .get(kid)
            .cloned()
            .unwrap_or(Err(KeyRejected::UnknownKid));
        self.replace_keys(keys);
        Ok(entry)
    }
}

/// GET `url` with a timeout and a size cap. HTTPS uses rustls on aws-lc-rs and the system roots.
async fn fetch(url: &str, timeout: Duration) -> Result<Bytes, FetchError> {
    let uri: hyper::Uri = url
        .parse()
        .map_err(|e| FetchError::Refused(format!("invalid JWKS URL {url:?}: {e}")))?;
    let mut roots = rustls::RootCertStore::empty();
    // Certificates that fail to load are skipped; plain-HTTP URLs need none.
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| FetchError::Transient(Box::new(e)))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .build();
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build::<_, Empty<Bytes>>(https);
    let request = async {
        let response = client
            .get(uri)
            .await
            .map_err(|e| FetchError::Transient(Box::new(e)))?;
        let status = response.status();
        if status.is_server_error() {
            return Err(FetchError::Transient(
                format!("JWKS endpoint answered {status}").into(),
            ));
        }
        if !status.is_success() {
            return Err(FetchError::Refused(format!(
                "JWKS endpoint {url} answered {status}"
            )));
        }
        let body = Limited::new(response.into_body(), MAX_JWKS_BYTES)
            .collect()
            .await
            .map_err(FetchError::Transient)?;
        Ok(body.to_bytes())
    };
    tokio::time::timeout(timeout, request).await.map_err(|_| {
        FetchError::Transient(format!("JWKS fetch timed out after {timeout:?}").into())
    })?
}
