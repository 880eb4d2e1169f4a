//! Token verification as a pipeline: parse → header checks → key (JWKS) → signature → claims.
//!
//! Each step has its own typed refusal, gathered in [`Rejected`]. The claims are parsed (and
//! their types checked: a claim that is present must have its type, `null` included) before
//! the key step, but no claim is trusted before the signature is checked. The unverified `iss`
//! only picks which key cache to check the signature with:
//!
//! - **Configured** (`USER_POOL_ID`): the pool's issuers are the original type of its home
//!   Region (`https://cognito-idp.<region>.amazonaws.com/<pool>`), the updated type
//!   (`https://issuer-cognito-idp.<region>.amazonaws.com/<pool>`, always the primary Region),
//!   and the original type of each `COGNITO_REPLICA_REGIONS` Region (multi-Region
//!   replication: a replica writes its own Region into an original-type `iss`). Each has its
//!   own key cache, created on the first token naming it, fetching
//!   `<that issuer>/.well-known/jwks.json` (or `<emulator endpoint>/<pool>/.well-known/jwks.json`,
//!   or `COGNITO_JWKS_URL`): the updated issuer's JWKS, which answers 403 for a pool that does
//!   not use it, is fetched only when a token names it, and such a refusal is that token's 401,
//!   not a configuration error. A token naming any other issuer is checked against the home
//!   issuer's keys and refused by its claims. `COGNITO_ISSUER` makes its value the only issuer.
//! - **Learned** (only the seed's three variables): `iss` must have the exact shape of a
//!   Cognito issuer of either type; `Learner` (below) keeps made-up pools from
//!   locking the genuine one out: see its docs.
//!
//! In front of the pipeline sits the verified-token cache (`cache.rs`): a token whose exact
//! bytes passed the pipeline before, and which is still current, is answered from there without
//! the RSA check.

mod cache;
mod claims;
mod jwks;
mod misconfig;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use aws_lc_rs::signature::ParsedPublicKey;

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

use crate::config::AcceptedIssuer;
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

/// Where the expected issuers and their keys come from.
pub(crate) enum Issuer {
    /// Configured (from `USER_POOL_ID` or `COGNITO_ISSUER`).
    Fixed(Issuers),
    /// Learned from the first token that verifies (only the seed's three variables set).
    Learn(Box<Learner>),
}

/// The issuers tokens may carry, each with its own key cache, created on the first token that
/// names that issuer (so a pool's updated-issuer JWKS is never fetched unless a token names
/// it). The first issuer is the one a token naming none of them is checked (and refused)
/// against.
pub(crate) struct Issuers {
    entries: Box<[IssuerKeys]>,
    policy: JwksPolicy,
    tokens: Arc<TokenCache>,
}

struct IssuerKeys {
    issuer: Arc<str>,
    url: String,
    /// A refused fetch is this configuration's fault (500), not the token's (401).
    configured: bool,
    jwks: OnceLock<Arc<Jwks>>,
}

impl Issuers {
    fn new(accepted: Vec<AcceptedIssuer>, policy: JwksPolicy, tokens: Arc<TokenCache>) -> Self {
        Issuers {
            entries: accepted
                .into_iter()
                .map(|a| IssuerKeys {
                    issuer: a.issuer.into(),
                    url: a.jwks_url,
                    configured: a.configured,
                    jwks: OnceLock::new(),
                })
                .collect(),
            policy,
            tokens,
        }
    }

    fn jwks(&self, entry: &IssuerKeys) -> Arc<Jwks> {
        entry
            .jwks
            .get_or_init(|| {
                Arc::new(Jwks::new(
                    entry.url.clone(),
                    self.policy,
                    self.tokens.clone(),
                ))
            })
            .clone()
    }

    /// The issuer to expect for a token whose (unverified) `iss` is `iss`, its key cache, and
    /// whether a refused fetch is a configuration error.
    fn select(&self, iss: &str) -> Option<(Arc<str>, Arc<Jwks>, bool)> {
        let entry = self
            .entries
            .iter()
            .find(|e| *e.issuer == *iss)
            .or_else(|| self.entries.first())?;
        Some((entry.issuer.clone(), self.jwks(entry), entry.configured))
    }
}

/// The two shapes of a Cognito issuer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IssuerType {
    /// `https://cognito-idp.<region>.amazonaws.com/<pool>`: `<region>` is the pool's home
    /// Region, or with multi-Region replication the replica's that issued the token.
    Original,
    /// `https://issuer-cognito-idp.<region>.amazonaws.com/<pool>`: `<region>` is always the
    /// pool's primary Region.
    Updated,
}

/// A Cognito issuer taken apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CognitoIssuer<'a> {
    pub kind: IssuerType,
    /// The Region in the host name.
    pub region: &'a str,
    /// The pool id, `<home region>_<id>`.
    pub pool: &'a str,
    /// The pool's home Region (the pool id's prefix).
    pub home: &'a str,
}

/// `iss` taken apart if it is exactly `https://cognito-idp.<region>.amazonaws.com/<pool>` or
/// `https://issuer-cognito-idp.<region>.amazonaws.com/<pool>` with a pool id `<region>_<id>`.
pub(crate) fn parse_cognito_issuer(iss: &str) -> Option<CognitoIssuer<'_>> {
    let (kind, rest) = if let Some(rest) = iss.strip_prefix("https://cognito-idp.") {
        (IssuerType::Original, rest)
    } else {
        (
            IssuerType::Updated,
            iss.strip_prefix("https://issuer-cognito-idp.")?,
        )
    };
    let (region, pool) = rest.split_once(".amazonaws.com/")?;
    let (home, id) = pool.split_once('_')?;
    let region_ok = |r: &str| {
        !r.is_empty()
            && r.len() <= 32
            && r.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    let id_ok = !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric());
    (region_ok(region) && region_ok(home) && id_ok).then_some(CognitoIssuer {
        kind,
        region,
        pool,
        home,
    })
}

/// The issuers of `pool` (home Region `home`): the original type of the home Region, the
/// updated type, and the original type of each replica Region (the updated type always names
/// the primary Region, so replicas add nothing to it).
pub(crate) fn pool_issuers(pool: &str, home: &str, replicas: &[String]) -> Vec<String> {
    let mut issuers = vec![
        format!("https://cognito-idp.{home}.amazonaws.com/{pool}"),
        format!("https://issuer-cognito-idp.{home}.amazonaws.com/{pool}"),
    ];
    issuers.extend(
        replicas
            .iter()
            .filter(|r| *r != home)
            .map(|r| format!("https://cognito-idp.{r}.amazonaws.com/{pool}")),
    );
    issuers
}

/// Pool learning (only the seed's three variables set): until a token verifies, tokens name
/// the pool whose keys they are checked against, so an attacker can name any number of
/// made-up (or real, foreign) pools. None of them may block the genuine pool:
///
/// - Only a pool whose JWKS fetch is under way is a *candidate*, at most [`MAX_IN_FLIGHT`] at
///   once; concurrent tokens naming it share that fetch. When the fetch ends, the candidate is
///   gone: a pool whose keys were fetched (a real pool, whatever its tokens then fail) joins
///   the *known* pools (at most [`MAX_KNOWN`], the oldest giving way), whose cached keys
///   answer later tokens naming it without a fetch; a pool whose JWKS was refused (4xx, not a
///   JWKS: a made-up pool) joins the *failed* pools (at most [`MAX_FAILED`], for six refetch
///   intervals, one minute by default), refused at once meanwhile; a transient failure
///   leaves nothing behind.
/// - Fetches for pools not yet known draw on a budget of [`LEARN_BURST`] fetches, refilled at
///   that many per refetch interval (`jwks_refetch_interval`, 10 s by default). A token that
///   would need a fetch beyond the budget, or beyond [`MAX_IN_FLIGHT`], is answered 503
///   ([`Error::Unavailable`]): a retry moments later can succeed, and no cookie is cleared.
/// - A token whose claims would be refused after the signature anyway (another app client,
///   not an access token, expired beyond the refresh window) is refused before any fetch.
/// - The first token whose signature and claims verify against its pool's keys (our app
///   client, an access token, current) settles the pool for the life of the instance: both
///   issuer types of that pool (and the original type in `COGNITO_REPLICA_REGIONS`) are
///   accepted from then on, every other issuer refused without a fetch.
///
/// With `COGNITO_JWKS_URL` set, every candidate is checked against that one key cache, whose
/// own rate limit bounds the fetches.
pub(crate) struct Learner {
    /// `COGNITO_JWKS_URL`, used for whichever pool is learned.
    jwks_url: Option<String>,
    /// A loopback Cognito endpoint override (an emulator): serve JWKS from there.
    emulator: Option<String>,
    replicas: Vec<String>,
    policy: JwksPolicy,
    tokens: Arc<TokenCache>,
    /// With `COGNITO_JWKS_URL`: the one key cache for every candidate.
    shared: Option<Arc<Jwks>>,
    learned: OnceLock<Issuers>,
    candidates: Mutex<Candidates>,
}

/// Pools whose JWKS fetches may run at once before the pool is learned.
pub(crate) const MAX_IN_FLIGHT: usize = 4;
/// Pools whose fetched keys are kept before the pool is learned.
pub(crate) const MAX_KNOWN: usize = 16;
/// Pools whose refused JWKS is remembered.
pub(crate) const MAX_FAILED: usize = 256;
/// Fetches for unknown pools allowed at once, refilled at this many per refetch interval.
pub(crate) const LEARN_BURST: u32 = 128;

#[derive(Default)]
struct Candidates {
    in_flight: Vec<(Box<str>, Arc<Jwks>)>,
    known: VecDeque<(Box<str>, Arc<Jwks>)>,
    failed: VecDeque<(Box<str>, Instant)>,
    /// Fetches left in the budget, and when it was last refilled.
    budget: f64,
    refilled: Option<Instant>,
}

/// What a token naming an unknown pool gets.
enum Step {
    /// The pool's keys are cached: this one.
    Cached(Arc<Jwks>, KeyEntry),
    /// Another token's fetch of the pool's keys is under way: wait for it.
    Wait(Arc<Jwks>),
    /// Fetch (the pool is now a candidate).
    Fetch(Arc<Jwks>),
}

type KeyEntry = Result<Arc<ParsedPublicKey>, KeyRejected>;

impl Candidates {
    /// Decides, under the lock, what a token naming the pool whose JWKS is at `url` gets; a
    /// `Fetch` is registered in flight before the lock is released (`new` makes its key cache).
    fn step(
        &mut self,
        url: &str,
        kid: &str,
        now: u64,
        penalty: Duration,
        new: impl FnOnce() -> Arc<Jwks>,
    ) -> Result<Step, Error> {
        let failed_for = penalty.max(Duration::from_secs(1)) * 6;
        while self
            .failed
            .front()
            .is_some_and(|(_, at)| at.elapsed() >= failed_for)
        {
            self.failed.pop_front();
        }
        if self.failed.iter().any(|(u, _)| **u == *url) {
            return Err(Rejected::Key(KeyRejected::NoKeys).into());
        }
        if let Some((_, jwks)) = self.in_flight.iter().find(|(u, _)| **u == *url) {
            return Ok(Step::Wait(jwks.clone()));
        }
        let known = self.known.iter().position(|(u, _)| **u == *url);
        if let Some(i) = known {
            let jwks = &self.known[i].1;
            if let Some(entry) = jwks.cached(kid, now) {
                return Ok(Step::Cached(jwks.clone(), entry));
            }
        }
        if self.in_flight.len() >= MAX_IN_FLIGHT {
            return Err(busy("too many user pools are being fetched at once"));
        }
        self.refill(penalty);
        if self.budget < 1.0 {
            return Err(busy(
                "too many tokens named user pools not seen before; retry in a moment",
            ));
        }
        self.budget -= 1.0;
        let jwks = match known.and_then(|i| self.known.remove(i)) {
            Some((_, jwks)) => jwks,
            None => new(),
        };
        self.in_flight.push((url.into(), jwks.clone()));
        Ok(Step::Fetch(jwks))
    }

    fn refill(&mut self, interval: Duration) {
        let burst = f64::from(LEARN_BURST);
        let now = Instant::now();
        self.budget = match self.refilled {
            None => burst,
            Some(_) if interval.is_zero() => burst,
            Some(at) => (self.budget
                + now.duration_since(at).as_secs_f64() / interval.as_secs_f64() * burst)
                .min(burst),
        };
        self.refilled = Some(now);
    }

    /// The fetch for `url` ended with `outcome` (`None`: it was cancelled).
    fn done(&mut self, url: &str, jwks: &Arc<Jwks>, outcome: Option<Outcome>) {
        self.in_flight.retain(|(u, _)| **u != *url);
        match outcome {
            Some(Outcome::Fetched) => {
                if self.known.len() >= MAX_KNOWN {
                    self.known.pop_front();
                }
                self.known.push_back((url.into(), jwks.clone()));
            }
            Some(Outcome::Refused) => {
                if self.failed.len() >= MAX_FAILED {
                    self.failed.pop_front();
                }
                self.failed.push_back((url.into(), Instant::now()));
            }
            None => {}
        }
    }
}

fn busy(why: &'static str) -> Error {
    Error::unavailable(
        Service::Jwks,
        "fetching the signing keys of a user pool not learned yet",
        why,
    )
}

#[derive(Clone, Copy)]
enum Outcome {
    Fetched,
    Refused,
}

/// Ends a candidate's fetch, also when the request is cancelled mid-fetch.
struct InFlight<'a> {
    learner: &'a Learner,
    url: &'a str,
    jwks: Arc<Jwks>,
    outcome: Option<Outcome>,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.learner.lock().done(self.url, &self.jwks, self.outcome);
    }
}

/// Where a token's key came from.
struct Keys {
    issuer: Arc<str>,
    jwks: Arc<Jwks>,
    key: Arc<ParsedPublicKey>,
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
    /// Configured issuers (`accepted` is never empty).
    pub(crate) fn fixed_issuers(
        accepted: Vec<AcceptedIssuer>,
        policy: JwksPolicy,
        cache: &Arc<TokenCache>,
    ) -> Issuer {
        Issuer::Fixed(Issuers::new(accepted, policy, cache.clone()))
    }

    pub(crate) fn learning_issuer(
        jwks_url: Option<String>,
        emulator: Option<String>,
        replicas: Vec<String>,
        policy: JwksPolicy,
        cache: &Arc<TokenCache>,
    ) -> Issuer {
        Issuer::Learn(Box::new(Learner {
            shared: jwks_url
                .as_ref()
                .map(|url| Arc::new(Jwks::new(url.clone(), policy, cache.clone()))),
            jwks_url,
            emulator,
            replicas,
            policy,
            tokens: cache.clone(),
            learned: OnceLock::new(),
            candidates: Mutex::default(),
        }))
    }

    /// Seeds the key cache of every configured issuer with a JWKS document (a pool's issuers
    /// all serve the same keys).
    pub(crate) fn preload(&self, jwks: &[u8]) -> Result<(), String> {
        match &self.issuer {
            Issuer::Fixed(issuers) => issuers
                .entries
                .iter()
                .try_for_each(|entry| issuers.jwks(entry).preload(jwks)),
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
        // Parsed (not trusted) before the signature check: its `iss` picks the key cache.
        let claims = Claims::parse(payload).map_err(Rejected::from)?;
        let Keys {
            issuer,
            jwks,
            key: key_entry,
        } = self.keys(&claims, kid, now).await?;
        key_entry
            .verify_sig(segments.signing_input, signature)
            .map_err(|_| Rejected::Signature)?;
        let freshness = claims
            .check(&claims::Expect {
                issuer: &issuer,
                client_id: &self.client_id,
                now,
                leeway: self.leeway,
                refresh_window: self.refresh_window,
            })
            .map_err(|rejected| {
                // The signature verified against the pool's keys: a refusal for another
                // client or issuer points at this function's configuration.
                misconfig::signed_but_refused(
                    &rejected,
                    &issuer,
                    &self.client_id,
                    claims.issuer(),
                    claims.client_id(),
                );
                Rejected::from(rejected)
            })?;
        if let Issuer::Learn(learner) = &self.issuer {
            learner.confirm(&issuer, &jwks);
        }
        if let (Some(key), Freshness::Current) = (key, freshness) {
            jwks.remember(key, claims.clone(), kid, &key_entry);
        }
        Ok((claims, freshness))
    }

    /// The key for `kid` of the issuer the token names (its `iss`, unverified): a configured
    /// or learned issuer's, else a candidate pool's while learning.
    async fn keys(&self, claims: &Claims, kid: &str, now: u64) -> Result<Keys, Error> {
        let iss = claims.issuer();
        let issuers = match &self.issuer {
            Issuer::Fixed(issuers) => issuers,
            Issuer::Learn(learner) => match learner.learned.get() {
                Some(issuers) => issuers,
                None => {
                    // Claims that would be refused after the signature anyway (another app
                    // client, an ID token, expired beyond the window) cost no fetch.
                    claims
                        .check(&claims::Expect {
                            issuer: iss,
                            client_id: &self.client_id,
                            now,
                            leeway: self.leeway,
                            refresh_window: self.refresh_window,
                        })
                        .map_err(Rejected::from)?;
                    return learner.keys(iss, kid, now).await;
                }
            },
        };
        let (issuer, jwks, configured) = issuers
            .select(iss)
            .ok_or(Rejected::Claims(ClaimsRejected::Issuer))?;
        let key = jwks
            .key(kid, now)
            .await
            .map_err(|e| fetch_error(e, jwks.url(), configured))?
            .map_err(Rejected::from)?;
        Ok(Keys { issuer, jwks, key })
    }
}

/// A failed JWKS fetch: 503 if transient; if refused, a configuration error when the URL is
/// configuration's, else a 401 (the token names an issuer that publishes no keys).
fn fetch_error(error: FetchError, url: &str, configured: bool) -> Error {
    match error {
        FetchError::Transient(source) => {
            Error::unavailable(Service::Jwks, "fetching the signing keys", source)
        }
        FetchError::Refused(message) if configured => Error::config(format!(
            "the user pool's JWKS at {url} is not usable ({message}); check USER_POOL_ID, \
             COGNITO_ISSUER and COGNITO_JWKS_URL"
        )),
        FetchError::Refused(_) => Rejected::Key(KeyRejected::NoKeys).into(),
    }
}

impl Learner {
    fn lock(&self) -> std::sync::MutexGuard<'_, Candidates> {
        self.candidates.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `iss` if it is an issuer a pool could be learned from: either type for its home Region,
    /// or the original type in a replica Region.
    fn acceptable<'i>(&self, iss: &'i str) -> Option<CognitoIssuer<'i>> {
        parse_cognito_issuer(iss).filter(|i| {
            i.region == i.home
                || (i.kind == IssuerType::Original && self.replicas.iter().any(|r| r == i.region))
        })
    }

    fn url_for(&self, iss: &str, pool: &str) -> String {
        match (&self.jwks_url, &self.emulator) {
            (Some(url), _) => url.clone(),
            (None, Some(endpoint)) => format!(
                "{}/{pool}/.well-known/jwks.json",
                endpoint.trim_end_matches('/')
            ),
            (None, None) => format!("{iss}/.well-known/jwks.json"),
        }
    }

    /// The key for `kid` of the pool `iss` names, before any pool is learned (see the type's
    /// docs for the bounds).
    async fn keys(&self, iss: &str, kid: &str, now: u64) -> Result<Keys, Error> {
        let parsed = self
            .acceptable(iss)
            .ok_or(Rejected::Claims(ClaimsRejected::Issuer))?;
        if let Some(shared) = &self.shared {
            let key = shared
                .key(kid, now)
                .await
                .map_err(|e| fetch_error(e, shared.url(), true))?
                .map_err(Rejected::from)?;
            return Ok(Keys {
                issuer: iss.into(),
                jwks: shared.clone(),
                key,
            });
        }
        let url = self.url_for(iss, parsed.pool);
        let step = self.lock().step(&url, kid, now, self.policy.penalty, || {
            Arc::new(Jwks::new(url.clone(), self.policy, self.tokens.clone()))
        })?;
        let (jwks, entry) = match step {
            Step::Cached(jwks, entry) => (jwks, Ok(entry)),
            Step::Wait(jwks) => {
                let entry = jwks.key(kid, now).await;
                (jwks, entry)
            }
            Step::Fetch(jwks) => {
                // Registered in flight by `step`; this guard ends it, also if the request is
                // dropped during the fetch.
                let mut in_flight = InFlight {
                    learner: self,
                    url: &url,
                    jwks: jwks.clone(),
                    outcome: None,
                };
                let entry = jwks.key(kid, now).await;
                in_flight.outcome = match &entry {
                    Ok(_) => Some(Outcome::Fetched),
                    Err(FetchError::Refused(_)) => Some(Outcome::Refused),
                    Err(FetchError::Transient(_)) => None,
                };
                drop(in_flight);
                (jwks, entry)
            }
        };
        let key = entry
            .map_err(|e| fetch_error(e, &url, false))?
            .map_err(Rejected::from)?;
        Ok(Keys {
            issuer: iss.into(),
            jwks,
            key,
        })
    }

    /// A token of `issuer` verified with `jwks`: that pool is the pool from now on.
    fn confirm(&self, issuer: &Arc<str>, jwks: &Arc<Jwks>) {
        if self.learned.get().is_some() {
            return;
        }
        let Some(parsed) = parse_cognito_issuer(issuer) else {
            return;
        };
        let accepted = pool_issuers(parsed.pool, parsed.home, &self.replicas)
            .into_iter()
            .map(|issuer| AcceptedIssuer {
                jwks_url: self.url_for(&issuer, parsed.pool),
                issuer,
                configured: self.jwks_url.is_some(),
            })
            .collect();
        let issuers = Issuers::new(accepted, self.policy, self.tokens.clone());
        // The verified issuer first (tokens naming other issuers are refused against it), and
        // with the key cache that verified it: no refetch.
        let mut entries = issuers.entries.into_vec();
        if let Some(i) = entries.iter().position(|e| e.issuer == *issuer) {
            let entry = entries.remove(i);
            let _ = entry.jwks.set(jwks.clone());
            entries.insert(0, entry);
        }
        let issuers = Issuers {
            entries: entries.into(),
            ..issuers
        };
        if self.learned.set(issuers).is_ok() {
            tracing::info!(
                issuer = &**issuer,
                "learned the user pool from the first verified token"
            );
            let mut candidates = self.lock();
            candidates.known.clear();
            candidates.failed.clear();
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

    fn is_cognito_issuer(iss: &str) -> bool {
        parse_cognito_issuer(iss).is_some_and(|i| i.region == i.home)
    }

    #[test]
    fn cognito_issuer_shape() {
        assert!(is_cognito_issuer(
            "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbC"
        ));
        assert_eq!(
            parse_cognito_issuer(
                "https://issuer-cognito-idp.us-east-1.amazonaws.com/us-east-1_AbC"
            ),
            Some(CognitoIssuer {
                kind: IssuerType::Updated,
                region: "us-east-1",
                pool: "us-east-1_AbC",
                home: "us-east-1"
            })
        );
        assert_eq!(
            parse_cognito_issuer("https://cognito-idp.eu-west-1.amazonaws.com/us-east-1_AbC")
                .map(|i| (i.kind, i.region, i.home)),
            Some((IssuerType::Original, "eu-west-1", "us-east-1")),
            "a replica Region's original-type issuer"
        );
        for bad in [
            "http://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbC",
            "https://cognito-idp.us-east-1.amazonaws.com.evil.com/us-east-1_AbC",
            "https://cognito-idp.us-east-1.amazonaws.com/eu-west-1_AbC",
            "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbC/x",
            "https://issuer.cognito-idp.us-east-1.amazonaws.com/us-east-1_AbC",
            "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_",
            "https://cognito-idp.evil/x.amazonaws.com/evil_AbC",
            "https://issuer-cognito-idp.us-east-1.amazonaws.com/eu-west-1_AbC",
            "http://issuer-cognito-idp.us-east-1.amazonaws.com/us-east-1_AbC",
        ] {
            assert!(!is_cognito_issuer(bad), "{bad}");
        }
    }
}
