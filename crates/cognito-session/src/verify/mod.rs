//! Token verification as a pipeline: parse → header checks → key (JWKS) → signature → claims.
//!
//! Each step has its own typed refusal, gathered in [`Rejected`]. No claim is trusted before the
//! signature is checked; the one exception is `iss` in pool-learning mode (only the three seed
//! variables configured), where it picks which Cognito JWKS to verify against, and only if it has
//! the exact shape of a Cognito issuer.
//!
//! In front of the pipeline sits the verified-token cache (`cache.rs`): a token whose exact
//! bytes passed the pipeline before, and which is still current, is answered from there without
//! the RSA check.

mod cache;
mod claims;
mod jwks;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;

pub use cache::DEFAULT_CAPACITY as DEFAULT_TOKEN_CACHE;
pub(crate) use cache::{TokenCache, TokenHash};
pub(crate) use claims::Freshness;
use claims::Str;
pub use claims::{Claims, ClaimsRejected};
pub(crate) use jwks::JwksPolicy;
pub use jwks::KeyRejected;
use jwks::{FetchError, Jwks};

use crate::error::{Error, Service};

/// Longest token accepted; Cognito access tokens are around 1 KiB.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// Why a token was refused, by pipeline step.
///
/// ```
/// use cognito_session::verify::{Malformed, Rejected};
/// let r = Rejected::Malformed(Malformed::Segments);
/// assert_eq!(r.to_string(), "malformed token: a JWT has exactly three dot-separated segments");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejected {
    /// Step 1: not a well-formed compact JWT.
    #[error("malformed token: {0}")]
    Malformed(#[from] Malformed),
    /// Step 2: the header asks for something we never do.
    #[error("refused header: {0}")]
    Header(#[from] HeaderRejected),
    /// Step 3: no usable key for the header's `kid`.
    #[error("no usable key: {0}")]
    Key(#[from] KeyRejected),
    /// Step 4: the signature does not match the key.
    #[error("the signature does not verify")]
    Signature,
    /// Step 5: signed correctly, but the claims are not those of a session for this app client.
    #[error("refused claims: {0}")]
    Claims(#[from] ClaimsRejected),
}

/// Step 1 refusals.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Malformed {
    /// Longer than [`MAX_TOKEN_BYTES`].
    #[error("the token is longer than {MAX_TOKEN_BYTES} bytes")]
    TooLong,
    /// Not three dot-separated segments.
    #[error("a JWT has exactly three dot-separated segments")]
    Segments,
    /// A segment is not unpadded base64url.
    #[error("a segment is not base64url")]
    Base64,
    /// The header is not a JSON object of the expected types.
    #[error("the header is not valid JSON: {0}")]
    HeaderJson(String),
}

/// Step 2 refusals.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HeaderRejected {
    /// Only RS256 is accepted (`none`, `HS*`, and every other algorithm are refused).
    #[error("algorithm {0:?} is not RS256")]
    Algorithm(String),
    /// No `kid`.
    #[error("the header has no kid")]
    MissingKid,
    /// `jku`, `x5u`, `x5c` or `jwk`: a key source we never follow.
    #[error("the header names its own key source ({0}), which is never followed")]
    KeySource(&'static str),
    /// A `crit` header: we implement no extensions.
    #[error("the header has critical extensions we do not implement")]
    Critical,
}

/// The header fields we look at. `alg` and `kid` borrow from the decoded header unless they
/// contain JSON escapes.
#[derive(Deserialize)]
struct Header<'a> {
    #[serde(borrow)]
    alg: Option<Str<'a>>,
    #[serde(borrow)]
    kid: Option<Str<'a>>,
    jku: Option<serde::de::IgnoredAny>,
    x5u: Option<serde::de::IgnoredAny>,
    x5c: Option<serde::de::IgnoredAny>,
    jwk: Option<serde::de::IgnoredAny>,
    crit: Option<serde::de::IgnoredAny>,
}

/// Step 1: the three segments, still encoded, and the bytes the signature covers.
struct Segments<'a> {
    header: &'a str,
    payload: &'a str,
    signature: &'a str,
    signing_input: &'a [u8],
}

fn split(token: &str) -> Result<Segments<'_>, Malformed> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(Malformed::TooLong);
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Malformed::Segments);
    };
    Ok(Segments {
        header,
        payload,
        signature,
        signing_input: &token.as_bytes()[..header.len() + 1 + payload.len()],
    })
}

/// Decodes base64url `segment` into `stack` when it fits (headers and signatures always do for
/// Cognito), else into `heap`: no allocation on the usual path.
fn decode<'b>(
    segment: &str,
    stack: &'b mut [u8],
    heap: &'b mut Vec<u8>,
) -> Result<&'b [u8], Malformed> {
    if segment.len() / 4 * 3 + 3 <= stack.len() {
        let n = URL_SAFE_NO_PAD
            .decode_slice(segment, stack)
            .map_err(|_| Malformed::Base64)?;
        Ok(&stack[..n])
    } else {
        *heap = URL_SAFE_NO_PAD
            .decode(segment)
            .map_err(|_| Malformed::Base64)?;
        Ok(heap)
    }
}

fn parse_header(decoded: &[u8]) -> Result<Header<'_>, Malformed> {
    let text = std::str::from_utf8(decoded)
        .map_err(|_| Malformed::HeaderJson("the header is not UTF-8".into()))?;
    serde_json::from_str(text).map_err(|e| Malformed::HeaderJson(e.to_string()))
}

/// Step 2: returns the `kid`.
fn check_header<'h>(header: &'h Header<'_>) -> Result<&'h str, HeaderRejected> {
    for (present, name) in [
        (header.jku.is_some(), "jku"),
        (header.x5u.is_some(), "x5u"),
        (header.x5c.is_some(), "x5c"),
        (header.jwk.is_some(), "jwk"),
    ] {
        if present {
            return Err(HeaderRejected::KeySource(name));
        }
    }
    if header.crit.is_some() {
        return Err(HeaderRejected::Critical);
    }
    match header.alg.as_ref().map(|a| &*a.0) {
        Some("RS256") => {}
        other => {
            return Err(HeaderRejected::Algorithm(
                other.unwrap_or_default().to_owned(),
            ))
        }
    }
    header
        .kid
        .as_ref()
        .map(|k| &*k.0)
        .ok_or(HeaderRejected::MissingKid)
}

/// Where the expected issuer and its keys come from.
pub(crate) enum Issuer {
    /// Configured (from `USER_POOL_ID` or `COGNITO_ISSUER`).
    Fixed { issuer: Arc<str>, jwks: Arc<Jwks> },
    /// Learned from the first token that verifies (only the seed's three variables set).
    Learn(Learner),
}

pub(crate) struct Learner {
    /// `COGNITO_JWKS_URL`, used for whichever pool is learned.
    jwks_url: Option<String>,
    /// A loopback Cognito endpoint override (an emulator): serve JWKS from there.
    emulator: Option<String>,
    /// Issuers seen but not yet confirmed, at most [`MAX_CANDIDATES`].
    candidates: Mutex<HashMap<String, Arc<Jwks>>>,
    learned: RwLock<Option<(Arc<str>, Arc<Jwks>)>>,
}

const MAX_CANDIDATES: usize = 4;

/// Is `iss` exactly `https://cognito-idp.<region>.amazonaws.com/<region>_<id>`?
pub(crate) fn is_cognito_issuer(iss: &str) -> bool {
    let Some(rest) = iss.strip_prefix("https://cognito-idp.") else {
        return false;
    };
    let Some((region, pool)) = rest.split_once(".amazonaws.com/") else {
        return false;
    };
    let Some((pool_region, id)) = pool.split_once('_') else {
        return false;
    };
    let region_ok = !region.is_empty()
        && region.len() <= 32
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    let id_ok = !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric());
    region_ok && id_ok && pool_region == region
}

/// The verification settings that do not change per request.
pub(crate) struct Verifier {
    pub issuer: Issuer,
    /// The verified-token cache, shared with the key caches (which purge it on key removal).
    pub cache: Arc<TokenCache>,
    pub client_id: String,
    pub leeway: u64,
    pub refresh_window: u64,
    pub jwks: JwksPolicy,
}

impl Verifier {
    pub(crate) fn fixed_issuer(
        issuer: String,
        jwks_url: String,
        policy: JwksPolicy,
        cache: &Arc<TokenCache>,
    ) -> Issuer {
        Issuer::Fixed {
            issuer: issuer.into(),
            jwks: Arc::new(Jwks::new(jwks_url, policy, cache.clone())),
        }
    }

    pub(crate) fn learning_issuer(jwks_url: Option<String>, emulator: Option<String>) -> Issuer {
        Issuer::Learn(Learner {
            jwks_url,
            emulator,
            candidates: Mutex::new(HashMap::new()),
            learned: RwLock::new(None),
        })
    }

    /// Seeds the key cache of a fixed issuer with a JWKS document.
    pub(crate) fn preload(&self, jwks: &[u8]) -> Result<(), String> {
        match &self.issuer {
            Issuer::Fixed { jwks: cache, .. } => cache.preload(jwks),
            Issuer::Learn(_) => Err("a preloaded JWKS needs USER_POOL_ID or COGNITO_ISSUER".into()),
        }
    }

    /// Runs the whole pipeline on `token` at time `now` (epoch seconds), or answers from the
    /// verified-token cache. (The caller bounds any JWKS fetch by the request's deadline.)
    pub(crate) async fn verify(&self, token: &str, now: u64) -> Result<(Claims, Freshness), Error> {
        match self.cached(token, now) {
            Ok(claims) => Ok((claims, Freshness::Current)),
            Err(key) => self.verify_uncached(token, now, key).await,
        }
    }

    /// The verified-token cache's answer: the claims of a current token whose exact bytes passed
    /// the pipeline before, or the cache key to store the token under once it has (`None`: not
    /// cacheable). Synchronous, so a hit builds no future at all.
    pub(crate) fn cached(&self, token: &str, now: u64) -> Result<Claims, Option<TokenHash>> {
        if !self.cache.enabled() || token.len() > MAX_TOKEN_BYTES {
            return Err(None);
        }
        let key = TokenCache::hash(token);
        if let Some((claims, keys_fetched_at)) = self.cache.get(&key) {
            // Only the clock can have changed: the token may have expired, or the key set that
            // verified it may be due for revalidation (then the pipeline asks the key cache, as
            // an uncached token would).
            let keys_fresh =
                keys_fetched_at.is_none_or(|at| now.saturating_sub(at) < self.jwks.max_age);
            match claims.check_times(now, self.leeway, self.refresh_window) {
                Ok(Freshness::Current) if keys_fresh => return Ok(claims),
                _ => self.cache.remove(&key),
            }
        }
        Err(Some(key))
    }

    /// The pipeline itself; a current token is then cached under `key`.
    pub(crate) async fn verify_uncached(
        &self,
        token: &str,
        now: u64,
        key: Option<TokenHash>,
    ) -> Result<(Claims, Freshness), Error> {
        let segments = split(token).map_err(Rejected::from)?;
        let (mut header_stack, mut header_heap) = ([0u8; 384], Vec::new());
        let header = decode(segments.header, &mut header_stack, &mut header_heap)
            .and_then(parse_header)
            .map_err(Rejected::from)?;
        let (mut signature_stack, mut signature_heap) = ([0u8; 1024], Vec::new());
        let payload = URL_SAFE_NO_PAD
            .decode(segments.payload)
            .map_err(|_| Rejected::Malformed(Malformed::Base64))?;
        let signature = decode(
            segments.signature,
            &mut signature_stack,
            &mut signature_heap,
        )
        .map_err(Rejected::from)?;
        let kid = check_header(&header).map_err(Rejected::from)?;
        let (issuer, jwks) = self.issuer_for(&payload)?;
        let key_entry = jwks
            .key(kid, now)
            .await
            .map_err(|e| self.fetch_error(e, jwks.url()))?
            .map_err(Rejected::from)?;
        key_entry
            .verify_sig(segments.signing_input, signature)
            .map_err(|_| Rejected::Signature)?;
        let claims = Claims::parse(payload).map_err(Rejected::from)?;
        let freshness = claims
            .check(&claims::Expect {
                issuer: &issuer,
                client_id: &self.client_id,
                now,
                leeway: self.leeway,
                refresh_window: self.refresh_window,
            })
            .map_err(Rejected::from)?;
        if let Issuer::Learn(learner) = &self.issuer {
            learner.confirm(&issuer, &jwks);
        }
        if let (Some(key), Freshness::Current) = (key, freshness) {
            jwks.remember(key, claims.clone(), kid, &key_entry);
        }
        Ok((claims, freshness))
    }

    fn fetch_error(&self, error: FetchError, url: &str) -> Error {
        match (error, &self.issuer) {
            (FetchError::Transient(source), _) => {
                Error::unavailable(Service::Jwks, "fetching the signing keys", source)
            }
            // An unconfirmed issuer whose JWKS does not exist is an attacker's invention.
            (FetchError::Refused(_), Issuer::Learn(_)) => {
                Rejected::Key(KeyRejected::UnknownKid).into()
            }
            (FetchError::Refused(message), Issuer::Fixed { .. }) => Error::config(format!(
                "the user pool's JWKS at {url} is not usable ({message}); check USER_POOL_ID, \
                 COGNITO_ISSUER and COGNITO_JWKS_URL"
            )),
        }
    }

    /// The issuer to expect and its key cache.
    fn issuer_for(&self, payload: &[u8]) -> Result<(Arc<str>, Arc<Jwks>), Error> {
        match &self.issuer {
            Issuer::Fixed { issuer, jwks } => Ok((issuer.clone(), jwks.clone())),
            Issuer::Learn(learner) => learner.issuer_for(payload, self),
        }
    }
}

impl Learner {
    fn issuer_for(&self, payload: &[u8], v: &Verifier) -> Result<(Arc<str>, Arc<Jwks>), Error> {
        if let Some((issuer, jwks)) = &*self.learned.read().unwrap_or_else(|p| p.into_inner()) {
            return Ok((issuer.clone(), jwks.clone()));
        }
        #[derive(Deserialize)]
        struct Iss {
            iss: Option<String>,
        }
        let iss = serde_json::from_slice::<Iss>(payload)
            .ok()
            .and_then(|i| i.iss)
            .filter(|iss| is_cognito_issuer(iss))
            .ok_or(Rejected::Claims(ClaimsRejected::Issuer))?;
        let mut candidates = self.candidates.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(jwks) = candidates.get(&iss) {
            return Ok((iss.into(), jwks.clone()));
        }
        if candidates.len() >= MAX_CANDIDATES {
            return Err(Rejected::Claims(ClaimsRejected::Issuer).into());
        }
        let pool = iss.rsplit('/').next().unwrap_or_default();
        let url = match (&self.jwks_url, &self.emulator) {
            (Some(url), _) => url.clone(),
            (None, Some(endpoint)) => format!(
                "{}/{pool}/.well-known/jwks.json",
                endpoint.trim_end_matches('/')
            ),
            (None, None) => format!("{iss}/.well-known/jwks.json"),
        };
        let jwks = Arc::new(Jwks::new(url, v.jwks, v.cache.clone()));
        candidates.insert(iss.clone(), jwks.clone());
        Ok((iss.into(), jwks))
    }

    fn confirm(&self, issuer: &Arc<str>, jwks: &Arc<Jwks>) {
        let mut learned = self.learned.write().unwrap_or_else(|p| p.into_inner());
        if learned.is_none() {
            tracing::info!(
                issuer = &**issuer,
                "learned the user pool from the first verified token"
            );
            *learned = Some((issuer.clone(), jwks.clone()));
            self.candidates
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    fn decode_header(segment: &str) -> Result<Vec<u8>, Malformed> {
        let (mut stack, mut heap) = ([0u8; 384], Vec::new());
        decode(segment, &mut stack, &mut heap).map(<[u8]>::to_vec)
    }

    #[test]
    fn segments_and_size() {
        assert_eq!(split("a.b").err(), Some(Malformed::Segments));
        assert_eq!(split("a.b.c.d").err(), Some(Malformed::Segments));
        assert_eq!(
            split(&"a".repeat(MAX_TOKEN_BYTES + 1)).err(),
            Some(Malformed::TooLong)
        );
        assert_eq!(decode_header("a=").err(), Some(Malformed::Base64));
        let s = split("aGk.cA.c2ln").unwrap();
        assert_eq!(s.signing_input, b"aGk.cA");
        assert_eq!(decode_header(s.header).unwrap(), b"hi");
    }

    #[test]
    fn stack_and_heap_decoding_agree() {
        for len in [
            0, 1, 2, 3, 280, 281, 282, 283, 284, 285, 286, 287, 288, 400, 2000,
        ] {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 7 % 256) as u8).collect();
            let segment = b64(&String::from_utf8_lossy(&bytes));
            let expected = URL_SAFE_NO_PAD.decode(&segment).unwrap();
            assert_eq!(decode_header(&segment).unwrap(), expected, "{len}");
        }
        for bad in ["a", "ab=c", "a*bc", &"a".repeat(1001)] {
            assert_eq!(decode_header(bad).err(), Some(Malformed::Base64), "{bad}");
        }
    }

    #[test]
    fn header_refusals() {
        let check = |h: &str| {
            let decoded = decode_header(&b64(h)).map_err(Rejected::from)?;
            let header = parse_header(&decoded).map_err(Rejected::from)?;
            check_header(&header)
                .map(str::to_owned)
                .map_err(Rejected::from)
        };
        assert_eq!(check(r#"{"alg":"RS256","kid":"k"}"#), Ok("k".to_owned()));
        assert_eq!(
            check(r#"{"alg":"RS\u0032\u00356","kid":"k\/1"}"#),
            Ok("k/1".to_owned()),
            "escaped strings are decoded, not borrowed"
        );
        for alg in ["none", "HS256", "RS512", "ES256", "PS256"] {
            let h = format!(r#"{{"alg":"{alg}","kid":"k"}}"#);
            assert_eq!(check(&h), Err(HeaderRejected::Algorithm(alg.into()).into()));
        }
        assert_eq!(
            check(r#"{"alg":"RS256"}"#),
            Err(HeaderRejected::MissingKid.into())
        );
        for src in ["jku", "x5u", "x5c", "jwk"] {
            let h = format!(r#"{{"alg":"RS256","kid":"k","{src}":"x"}}"#);
            assert!(matches!(
                check(&h),
                Err(Rejected::Header(HeaderRejected::KeySource(_)))
            ));
        }
        assert_eq!(
            check(r#"{"alg":"RS256","kid":"k","crit":["b64"]}"#),
            Err(HeaderRejected::Critical.into())
        );
        assert!(matches!(
            check(r#"{"alg":"RS256","alg":"none","kid":"k"}"#),
            Err(Rejected::Malformed(Malformed::HeaderJson(_)))
        ));
    }

    #[test]
    fn cognito_issuer_shape() {
        assert!(is_cognito_issuer(
            "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbC"
        ));
        for bad in [
            "http://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbC",
            "https://cognito-idp.us-east-1.amazonaws.com.evil.com/us-east-1_AbC",
            "https://cognito-idp.us-east-1.amazonaws.com/eu-west-1_AbC",
            "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbC/x",
            "https://issuer.cognito-idp.us-east-1.amazonaws.com/us-east-1_AbC",
            "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_",
            "https://cognito-idp.evil/x.amazonaws.com/evil_AbC",
        ] {
            assert!(!is_cognito_issuer(bad), "{bad}");
        }
    }
}
