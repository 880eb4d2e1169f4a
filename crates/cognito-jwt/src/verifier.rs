//! The pipeline itself: parse → header → key (JWKS) → signature → claims → custom check, with
//! the verified-token cache in front of it. [`Verifier`] runs it; the builder is in `builder.rs`.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use crate::cache::{TokenCache, TokenHash};
use crate::claims::{self, Claims, ClaimsRejected, Freshness, TokenUse};
use crate::error::{CheckFailed, Error, Malformed, Rejected};
use crate::issuer::Issuers;
use crate::jwks::{fetch_error, Keys};
use crate::learn::Learner;
use crate::settings::SettingNames;
use crate::token::{check_header, decode, parse_header, split};
use crate::{misconfig, MAX_TOKEN_BYTES};

/// The custom check ([`VerifierBuilder::check`](crate::VerifierBuilder::check)).
pub(crate) type Check = Arc<dyn Fn(&Claims) -> Result<(), CheckFailed> + Send + Sync>;

/// Verifies Cognito tokens: build it once (at cold start) and share it; cloning is cheap.
///
/// Verification is local: the RS256 signature against the issuer's JWKS (fetched once, cached,
/// see the crate docs), then issuer, `token_use`, app client, required groups and scopes, the
/// time claims and your custom check. A token seen before, still current, is answered from the
/// verified-token cache without the RSA check.
///
/// ```no_run
/// # async fn f(token: &str) -> Result<(), cognito_jwt::Error> {
/// let verifier = cognito_jwt::Verifier::builder()
///     .user_pool("us-east-1_AbC123")
///     .client_id("5a3b1c")
///     .build()?;
/// verifier.hydrate().await?; // optional: fetch the keys now rather than on the first token
/// let claims = verifier.verify(token).await?;
/// println!("hello {}", claims.username());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Verifier(pub(crate) Arc<Inner>);

pub(crate) struct Inner {
    /// Shared by the verifiers made with [`Verifier::with_token_use`]: one key cache.
    pub issuer: Arc<Issuer>,
    /// The verified-token cache, shared with the key caches (which purge it on key removal).
    pub cache: Arc<TokenCache>,
    /// What the key caches share (the fetch count).
    pub keys: Arc<crate::jwks::KeyContext>,
    pub clients: Vec<String>,
    pub token_use: TokenUse,
    pub groups: Vec<String>,
    pub scopes: Vec<String>,
    pub leeway: u64,
    pub refresh_window: u64,
    /// JWKS maximum age (seconds): a cache hit never outlives it.
    pub max_age: u64,
    pub check: Option<Check>,
    pub names: Arc<SettingNames>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("client_ids", &self.0.clients)
            .field("token_use", &self.0.token_use)
            .field("cache", &self.0.cache)
            .finish_non_exhaustive()
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

impl Verifier {
    /// Verifies `token` now: its claims if it is genuine, accepted and current. An expired
    /// token is refused ([`ClaimsRejected::Expired`]), with its claims in the error when its
    /// signature verified (see [`Error::verified_claims`]); [`Verifier::verify_at`] returns the
    /// tokens expired within the refresh window instead.
    ///
    /// ```no_run
    /// # async fn f(verifier: cognito_jwt::Verifier, token: &str) {
    /// match verifier.verify(token).await {
    ///     Ok(claims) => println!("{} may pass", claims.sub()),
    ///     Err(error) => println!("{}: {error}", error.status()),
    /// }
    /// # }
    /// ```
    pub async fn verify(&self, token: &str) -> Result<Claims, Error> {
        match self.verify_at(token, unix_now()).await? {
            (claims, Freshness::Current) => Ok(claims),
            (claims, Freshness::Expired) => Err(Error::signed(ClaimsRejected::Expired, &claims)),
        }
    }

    /// Verifies `token` at time `now` (seconds since the epoch). A genuine token that expired
    /// less than the refresh window ago ([`VerifierBuilder::refresh_window`](crate::VerifierBuilder::refresh_window), 0 by default)
    /// comes back with [`Freshness::Expired`]: what a session library refreshes.
    ///
    /// ```no_run
    /// # async fn f(verifier: cognito_jwt::Verifier, token: &str) -> Result<(), cognito_jwt::Error> {
    /// use cognito_jwt::Freshness;
    /// let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    /// let (claims, freshness) = verifier.verify_at(token, now).await?;
    /// if freshness == Freshness::Expired {
    ///     println!("refresh the session of {}", claims.sub());
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn verify_at(&self, token: &str, now: u64) -> Result<(Claims, Freshness), Error> {
        match self.lookup(token, now) {
            Ok(claims) => Ok((claims, Freshness::Current)),
            Err(key) => self.pipeline(token, now, key).await,
        }
    }

    /// The verified-token cache's answer alone: the claims of a current token whose exact bytes
    /// passed the pipeline before (the custom check runs again), else `None`. Synchronous, so a
    /// hit builds no future; a miss goes on with [`Verifier::verify_at`].
    ///
    /// ```
    /// # let verifier = cognito_jwt::Verifier::builder().user_pool("us-east-1_AbC").client_id("c").build().unwrap();
    /// assert!(verifier.cached("eyJ.not.seen", 1_700_000_000).is_none());
    /// ```
    pub fn cached(&self, token: &str, now: u64) -> Option<Claims> {
        self.lookup(token, now).ok()
    }

    /// Fetches the JWKS of every configured user pool (and `issuer`) now, so the first requests
    /// after a cold start need no fetch. Keys already cached and fresh are not fetched again.
    /// With [`VerifierBuilder::learn_user_pool`](crate::VerifierBuilder::learn_user_pool) there is nothing to fetch until the pool is
    /// learned: `Ok`.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), cognito_jwt::Error> {
    /// let verifier = cognito_jwt::Verifier::builder()
    ///     .user_pool("us-east-1_AbC123")
    ///     .client_id("5a3b1c")
    ///     .build()?;
    /// verifier.hydrate().await?;
    /// # Ok(()) }
    /// ```
    pub async fn hydrate(&self) -> Result<(), Error> {
        let Issuer::Fixed(issuers) = &*self.0.issuer else {
            return Ok(());
        };
        let now = unix_now();
        for entry in issuers.entries.iter().filter(|e| e.configured) {
            let jwks = issuers.jwks(entry);
            Box::pin(jwks.hydrate(now))
                .await
                .map_err(|e| fetch_error(e, jwks.url(), true, &issuers.context.names.jwks))?;
        }
        Ok(())
    }

    /// Seeds the key cache of every configured issuer with a JWKS document (a pool's issuers
    /// all serve the same keys), so cold starts need no fetch. Preloaded keys never go stale;
    /// an unknown `kid` still triggers a (rate-limited) fetch.
    ///
    /// ```
    /// let verifier = cognito_jwt::Verifier::builder()
    ///     .user_pool("us-east-1_AbC123")
    ///     .client_id("5a3b1c")
    ///     .build()
    ///     .unwrap();
    /// verifier.preload(br#"{"keys":[]}"#).unwrap();
    /// assert!(verifier.preload(b"not json").is_err());
    /// ```
    pub fn preload(&self, jwks: &[u8]) -> Result<(), Error> {
        match &*self.0.issuer {
            Issuer::Fixed(issuers) => issuers
                .entries
                .iter()
                .try_for_each(|entry| issuers.jwks(entry).preload(jwks))
                .map_err(|why| Error::config(format!("the JWKS document is invalid: {why}"))),
            Issuer::Learn(_) => Err(Error::config(
                "a preloaded JWKS needs a configured user pool or issuer",
            )),
        }
    }

    /// A verifier for tokens of `token_use` that shares this one's key caches (one JWKS fetch
    /// serves both) and its verified-token cache, with every other setting unchanged. For
    /// checking the ID tokens of a login beside its access tokens without fetching the pool's
    /// keys twice. A token is answered from the shared cache only by a verifier that accepts its
    /// `token_use`.
    ///
    /// ```
    /// use cognito_jwt::{TokenUse, Verifier};
    /// let access = Verifier::builder().user_pool("us-east-1_AbC").client_id("5a3b").build().unwrap();
    /// let id = access.with_token_use(TokenUse::Id);
    /// # let _ = id;
    /// ```
    #[must_use]
    pub fn with_token_use(&self, token_use: TokenUse) -> Verifier {
        let inner = &*self.0;
        Verifier(Arc::new(Inner {
            issuer: inner.issuer.clone(),
            cache: inner.cache.clone(),
            keys: inner.keys.clone(),
            clients: inner.clients.clone(),
            token_use,
            groups: inner.groups.clone(),
            scopes: inner.scopes.clone(),
            leeway: inner.leeway,
            refresh_window: inner.refresh_window,
            max_age: inner.max_age,
            check: inner.check.clone(),
            names: inner.names.clone(),
        }))
    }

    /// How many JWKS fetches this verifier (and those made from it with
    /// [`with_token_use`](Self::with_token_use)) has started since it was built: for metrics.
    ///
    /// ```
    /// let verifier = cognito_jwt::Verifier::builder().user_pool("us-east-1_AbC").client_id("c").build().unwrap();
    /// assert_eq!(verifier.jwks_fetches(), 0);
    /// ```
    pub fn jwks_fetches(&self) -> u64 {
        self.0
            .keys
            .fetches
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The cache's answer, or the key to store the token under once it has passed (`None`: not
    /// cacheable).
    fn lookup(&self, token: &str, now: u64) -> Result<Claims, Option<TokenHash>> {
        let inner = &*self.0;
        if !inner.cache.enabled() || token.len() > MAX_TOKEN_BYTES {
            return Err(None);
        }
        let key = inner.cache.hash(token);
        if let Some((claims, keys_fetched_at)) = inner.cache.get(key, token) {
            // Only the clock can have changed: the token may have expired, or the key set that
            // verified it may be due for revalidation (then the pipeline asks the key cache, as
            // an uncached token would).
            let keys_fresh =
                keys_fetched_at.is_none_or(|at| now.saturating_sub(at) < inner.max_age);
            // The cache is shared with the verifiers of other token uses.
            let use_ok = match inner.token_use {
                TokenUse::Access => claims.token_use() == "access",
                TokenUse::Id => claims.token_use() == "id",
                TokenUse::Any => true,
            };
            if !use_ok {
                return Err(Some(key));
            }
            match claims.check_times(now, inner.leeway, inner.refresh_window) {
                Ok(Freshness::Current) if keys_fresh && self.custom(&claims).is_ok() => {
                    return Ok(claims)
                }
                _ => inner.cache.remove(key, token),
            }
        }
        Err(Some(key))
    }

    fn custom(&self, claims: &Claims) -> Result<(), CheckFailed> {
        match &self.0.check {
            Some(check) => check(claims),
            None => Ok(()),
        }
    }

    fn expect<'a>(&'a self, issuer: &'a str, now: u64) -> claims::Expect<'a> {
        let inner = &*self.0;
        claims::Expect {
            issuer,
            clients: &inner.clients,
            token_use: inner.token_use,
            groups: &inner.groups,
            scopes: &inner.scopes,
            now,
            leeway: inner.leeway,
            refresh_window: inner.refresh_window,
        }
    }

    /// The pipeline itself; a current token is then cached under `key`.
    async fn pipeline(
        &self,
        token: &str,
        now: u64,
        key: Option<TokenHash>,
    ) -> Result<(Claims, Freshness), Error> {
        let inner = &*self.0;
        let segments = split(token)?;
        let (mut header_stack, mut header_heap) = ([0u8; 384], Vec::new());
        let header =
            decode(segments.header, &mut header_stack, &mut header_heap).and_then(parse_header)?;
        let (mut signature_stack, mut signature_heap) = ([0u8; 1024], Vec::new());
        let payload = URL_SAFE_NO_PAD
            .decode(segments.payload)
            .map_err(|_| Malformed::Base64)?;
        let signature = decode(
            segments.signature,
            &mut signature_stack,
            &mut signature_heap,
        )?;
        let kid = check_header(&header)?;
        // Parsed (not trusted) before the signature check: its `iss` picks the key cache.
        let claims = Claims::parse(payload)?;
        let Keys {
            issuer,
            jwks,
            key: key_entry,
        } = self.keys(&claims, kid, now).await?;
        key_entry
            .verify_sig(segments.signing_input, signature)
            .map_err(|_| Rejected::Signature)?;
        // From here on the signature is genuine: every refusal carries the claims.
        let freshness = claims
            .check(&self.expect(&issuer, now))
            .map_err(|rejected| {
                // The signature verified against the pool's keys: a refusal for another
                // client or issuer points at this verifier's configuration.
                misconfig::signed_but_refused(
                    &rejected,
                    &issuer,
                    &inner.clients,
                    claims.issuer(),
                    claims.client_id(),
                    &inner.names,
                );
                Error::signed(rejected, &claims)
            })?;
        self.custom(&claims)
            .map_err(|failed| Error::signed(failed, &claims))?;
        if let Issuer::Learn(learner) = &*inner.issuer {
            learner.confirm(&issuer, &jwks);
        }
        if let (Some(key), Freshness::Current) = (key, freshness) {
            jwks.remember(key, token, claims.clone(), kid, &key_entry);
        }
        Ok((claims, freshness))
    }

    /// The key for `kid` of the issuer the token names (its `iss`, unverified): a configured
    /// or learned issuer's, else a candidate pool's while learning.
    async fn keys(&self, claims: &Claims, kid: &str, now: u64) -> Result<Keys, Error> {
        let iss = claims.issuer();
        let issuers = match &*self.0.issuer {
            Issuer::Fixed(issuers) => issuers,
            Issuer::Learn(learner) => match learner.learned.get() {
                Some(issuers) => issuers,
                None => {
                    // Claims that would be refused after the signature anyway (another app
                    // client, another token use, expired beyond the window) cost no fetch.
                    claims
                        .check(&self.expect(iss, now))
                        .inspect_err(|rejected| {
                            misconfig::refused_while_learning(
                                rejected,
                                &self.0.clients,
                                claims.client_id(),
                                &self.0.names,
                            );
                        })?;
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
            .map_err(|e| fetch_error(e, jwks.url(), configured, &issuers.context.names.jwks))??;
        Ok(Keys { issuer, jwks, key })
    }
}

/// Where the expected issuers and their keys come from.
pub(crate) enum Issuer {
    /// Configured (from `USER_POOL_ID` or `COGNITO_ISSUER`).
    Fixed(Issuers),
    /// Learned from the first token that verifies (only the seed's three variables set).
    Learn(Box<Learner>),
}
