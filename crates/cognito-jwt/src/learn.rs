//! Pool learning: until a token verifies, the pool is whichever the token names; [`Learner`]
//! keeps made-up pools from locking the genuine one out.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use aws_lc_rs::signature::ParsedPublicKey;

use crate::error::KeyRejected;
use crate::error::{Error, Rejected};
use crate::issuer::{
    parse_cognito_issuer, pool_issuers, AcceptedIssuer, CognitoIssuer, IssuerType, Issuers,
};
use crate::jwks::{fetch_error, FetchError, Jwks, KeyContext, Keys};
use crate::ClaimsRejected;

/// Pool learning ([`VerifierBuilder::learn_user_pool`](crate::VerifierBuilder::learn_user_pool)): until a token verifies, tokens name
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
    /// An explicit JWKS URL, used for whichever pool is learned.
    jwks_url: Option<String>,
    /// A Cognito emulator's endpoint: serve JWKS from there.
    emulator: Option<String>,
    replicas: Vec<String>,
    context: Arc<KeyContext>,
    /// With an explicit JWKS URL: the one key cache for every candidate.
    shared: Option<Arc<Jwks>>,
    pub(crate) learned: OnceLock<Issuers>,
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

impl Learner {
    pub(crate) fn new(
        jwks_url: Option<String>,
        emulator: Option<String>,
        replicas: Vec<String>,
        context: Arc<KeyContext>,
    ) -> Self {
        Learner {
            shared: jwks_url
                .as_ref()
                .map(|url| Arc::new(Jwks::new(url.clone(), context.clone()))),
            jwks_url,
            emulator,
            replicas,
            context,
            learned: OnceLock::new(),
            candidates: Mutex::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Candidates> {
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
    pub(crate) async fn keys(&self, iss: &str, kid: &str, now: u64) -> Result<Keys, Error> {
        let parsed = self
            .acceptable(iss)
            .ok_or(Rejected::Claims(ClaimsRejected::Issuer))?;
        if let Some(shared) = &self.shared {
            let key = shared
                .key(kid, now)
                .await
                .map_err(|e| fetch_error(e, shared.url(), true, &self.context.names.jwks))?
                .map_err(Rejected::from)?;
            return Ok(Keys {
                issuer: iss.into(),
                jwks: shared.clone(),
                key,
            });
        }
        let url = self.url_for(iss, parsed.pool);
        let step =
            self.lock()
                .step(&url, kid, now, self.context.policy.refetch_interval, || {
                    Arc::new(Jwks::new(url.clone(), self.context.clone()))
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
            .map_err(|e| fetch_error(e, &url, false, &self.context.names.jwks))?
            .map_err(Rejected::from)?;
        Ok(Keys {
            issuer: iss.into(),
            jwks,
            key,
        })
    }

    /// A token of `issuer` verified with `jwks`: that pool is the pool from now on.
    pub(crate) fn confirm(&self, issuer: &Arc<str>, jwks: &Arc<Jwks>) {
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
        let issuers = Issuers::new(accepted, self.context.clone());
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
