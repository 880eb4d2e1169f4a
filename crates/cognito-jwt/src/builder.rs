//! [`VerifierBuilder`]: which tokens a [`Verifier`] accepts and how it gets their keys.

use std::sync::Arc;
use std::time::Duration;

use crate::cache::{TokenCache, DEFAULT_CAPACITY};
use crate::claims::{Claims, TokenUse};
use crate::error::{BoxError, CheckFailed, Error};
use crate::fetch::JwksFetcher;
use crate::issuer::{pool_issuers, AcceptedIssuer, Issuers};
use crate::jwks::{JwksPolicy, KeyContext};
use crate::learn::Learner;
use crate::settings::SettingNames;
use crate::verifier::{Check, Inner, Issuer, Verifier};

impl Verifier {
    /// A builder; see [`VerifierBuilder`].
    ///
    /// ```
    /// let verifier = cognito_jwt::Verifier::builder()
    ///     .user_pool("us-east-1_AbC123")
    ///     .client_id("5a3b1c")
    ///     .build()
    ///     .unwrap();
    /// ```
    pub fn builder() -> VerifierBuilder {
        VerifierBuilder::default()
    }
}

/// Configures a [`Verifier`]: at least one user pool (or issuer, or pool learning) and one app
/// client id.
///
/// ```
/// use std::time::Duration;
/// use cognito_jwt::{TokenUse, Verifier};
///
/// let verifier = Verifier::builder()
///     .user_pool("us-east-1_AbC123")
///     .user_pool("eu-west-1_XyZ789")      // several pools
///     .client_id("5a3b1c")
///     .client_id("7d8e9f")                // several app clients
///     .token_use(TokenUse::Any)           // access and ID tokens
///     .require_groups(["admin", "ops"])   // any of these
///     .leeway(Duration::from_secs(5))
///     .check(|claims| {
///         if claims.sub().is_empty() { Err("no sub") } else { Ok(()) }
///     })
///     .build()
///     .unwrap();
/// # drop(verifier);
/// ```
#[derive(Clone)]
#[must_use]
pub struct VerifierBuilder {
    pools: Vec<String>,
    issuers: Vec<String>,
    learn: bool,
    replicas: Vec<String>,
    jwks_url: Option<String>,
    emulator: Option<String>,
    clients: Vec<String>,
    token_use: TokenUse,
    groups: Vec<String>,
    scopes: Vec<String>,
    check: Option<Check>,
    leeway: Duration,
    refresh_window: Duration,
    policy: JwksPolicy,
    token_cache: usize,
    fetcher: Option<Arc<dyn JwksFetcher>>,
    names: SettingNames,
}

impl Default for VerifierBuilder {
    fn default() -> Self {
        VerifierBuilder {
            pools: Vec::new(),
            issuers: Vec::new(),
            learn: false,
            replicas: Vec::new(),
            jwks_url: None,
            emulator: None,
            clients: Vec::new(),
            token_use: TokenUse::Access,
            groups: Vec::new(),
            scopes: Vec::new(),
            check: None,
            leeway: Duration::from_secs(30),
            refresh_window: Duration::ZERO,
            policy: JwksPolicy {
                timeout: Duration::from_secs(2),
                refetch_interval: Duration::from_secs(10),
                max_age: 3600,
                max_stale: 86_400,
            },
            token_cache: DEFAULT_CAPACITY,
            fetcher: None,
            names: SettingNames::default(),
        }
    }
}

impl std::fmt::Debug for VerifierBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifierBuilder")
            .field("pools", &self.pools)
            .field("issuers", &self.issuers)
            .field("learn", &self.learn)
            .field("replicas", &self.replicas)
            .field("jwks_url", &self.jwks_url)
            .field("emulator", &self.emulator)
            .field("clients", &self.clients)
            .field("token_use", &self.token_use)
            .field("groups", &self.groups)
            .field("scopes", &self.scopes)
            .field("token_cache", &self.token_cache)
            .finish_non_exhaustive()
    }
}

impl VerifierBuilder {
    /// Accepts tokens of user pool `pool_id` (`<region>_<id>`; repeat for several pools): both
    /// Cognito issuer types of its home Region (`https://cognito-idp.<region>.amazonaws.com/<pool>`
    /// and `https://issuer-cognito-idp.<region>.amazonaws.com/<pool>`), and the original type in
    /// each [replica Region](Self::replica_regions). Each issuer's keys are fetched from
    /// `<issuer>/.well-known/jwks.json` when a token first names it.
    ///
    /// ```
    /// let builder = cognito_jwt::Verifier::builder().user_pool("us-east-1_AbC123");
    /// ```
    pub fn user_pool(mut self, pool_id: impl Into<String>) -> Self {
        self.pools.push(pool_id.into());
        self
    }

    /// Accepts tokens whose `iss` is exactly `issuer` (a trailing `/` is ignored; repeat for
    /// several), keys from `<issuer>/.well-known/jwks.json` or [`jwks_url`](Self::jwks_url).
    /// For custom domains and emulators.
    ///
    /// ```
    /// let builder = cognito_jwt::Verifier::builder().issuer("https://idp.example.com/pool");
    /// ```
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuers.push(issuer.into());
        self
    }

    /// No pool configured: the pool is learned from the first token that verifies against a
    /// Cognito issuer's keys and carries an accepted client id (made-up pools cannot lock the
    /// genuine one out: their fetches are bounded and rate-limited). Prefer
    /// [`user_pool`](Self::user_pool).
    ///
    /// ```
    /// let builder = cognito_jwt::Verifier::builder().learn_user_pool().client_id("5a3b1c");
    /// assert!(builder.build().is_ok());
    /// ```
    pub fn learn_user_pool(mut self) -> Self {
        self.learn = true;
        self
    }

    /// The Regions of the pools' multi-Region replicas, whose original-type issuer
    /// (`https://cognito-idp.<replica>.amazonaws.com/<pool>`) is accepted too.
    ///
    /// ```
    /// let builder = cognito_jwt::Verifier::builder()
    ///     .user_pool("us-east-1_AbC123")
    ///     .replica_regions(["eu-west-1"]);
    /// ```
    pub fn replica_regions<I, R>(mut self, regions: I) -> Self
    where
        I: IntoIterator<Item = R>,
        R: Into<String>,
    {
        self.replicas = regions.into_iter().map(Into::into).collect();
        self
    }

    /// One JWKS URL for every issuer (a refusal there is then a configuration error).
    ///
    /// ```
    /// let builder = cognito_jwt::Verifier::builder().jwks_url("https://keys.example.com/jwks.json");
    /// ```
    pub fn jwks_url(mut self, url: impl Into<String>) -> Self {
        self.jwks_url = Some(url.into());
        self
    }

    /// A Cognito emulator (such as moto) at `endpoint`: pool keys are fetched from
    /// `<endpoint>/<pool>/.well-known/jwks.json`.
    ///
    /// ```
    /// let builder = cognito_jwt::Verifier::builder().emulator("http://127.0.0.1:5000");
    /// ```
    pub fn emulator(mut self, endpoint: impl Into<String>) -> Self {
        self.emulator = Some(endpoint.into());
        self
    }

    /// Accepts tokens issued to app client `client_id` (repeat for several): `client_id` of an
    /// access token, `aud` of an ID token.
    ///
    /// ```
    /// let builder = cognito_jwt::Verifier::builder().client_id("5a3b1c").client_id("7d8e9f");
    /// ```
    pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
        self.clients.push(client_id.into());
        self
    }

    /// Which tokens to accept by `token_use` (default [`TokenUse::Access`]).
    ///
    /// ```
    /// let builder = cognito_jwt::Verifier::builder().token_use(cognito_jwt::TokenUse::Id);
    /// ```
    pub fn token_use(mut self, token_use: TokenUse) -> Self {
        self.token_use = token_use;
        self
    }

    /// Only users in at least one of these groups (`cognito:groups`) pass.
    ///
    /// ```
    /// let builder = cognito_jwt::Verifier::builder().require_groups(["admin"]);
    /// ```
    pub fn require_groups<I, G>(mut self, groups: I) -> Self
    where
        I: IntoIterator<Item = G>,
        G: Into<String>,
    {
        self.groups = groups.into_iter().map(Into::into).collect();
        self
    }

    /// Only tokens with at least one of these scopes (`scope`) pass.
    ///
    /// ```
    /// let builder = cognito_jwt::Verifier::builder().require_scopes(["api/read", "api/write"]);
    /// ```
    pub fn require_scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// A last check of the verified claims, run after every other check (also on cache hits,
    /// so keep it fast): its error refuses the token as [`Rejected::Check`](crate::Rejected::Check),
    /// kept as it was (see [`CheckFailed::downcast_ref`]).
    ///
    /// ```
    /// let builder = cognito_jwt::Verifier::builder().check(|claims| {
    ///     match claims.custom("tenant").and_then(|t| t.as_str()) {
    ///         Some("acme") => Ok(()),
    ///         _ => Err("not a tenant of this API"),
    ///     }
    /// });
    /// ```
    pub fn check<F, E>(mut self, check: F) -> Self
    where
        F: Fn(&Claims) -> Result<(), E> + Send + Sync + 'static,
        E: Into<BoxError>,
    {
        self.check = Some(Arc::new(move |claims: &Claims| {
            check(claims).map_err(CheckFailed::new)
        }));
        self
    }

    /// Clock skew allowed on `exp`, `iat` and `nbf` (default 30 s).
    ///
    /// ```
    /// let builder = cognito_jwt::Verifier::builder().leeway(std::time::Duration::from_secs(5));
    /// ```
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// How long after expiry a genuine token still comes back from
    /// [`Verifier::verify_at`] (as [`Freshness::Expired`](crate::Freshness::Expired)), for a
    /// caller that refreshes it. Default 0. [`Verifier::verify`] refuses expired tokens anyway.
    ///
    /// ```
    /// let builder = cognito_jwt::Verifier::builder()
    ///     .refresh_window(std::time::Duration::from_secs(30 * 86_400));
    /// ```
    pub fn refresh_window(mut self, window: Duration) -> Self {
        self.refresh_window = window;
        self
    }

    /// Timeout of one JWKS fetch (default 2 s).
    ///
    /// ```
    /// let builder = cognito_jwt::Verifier::builder().jwks_timeout(std::time::Duration::from_secs(1));
    /// ```
    pub fn jwks_timeout(mut self, timeout: Duration) -> Self {
        self.policy.timeout = timeout;
        self
    }

    /// Least time between two fetches of one JWKS (default 10 s): a token with an unknown
    /// `kid` triggers at most one refetch per interval (the penalty box).
    ///
    /// ```
    /// let builder = cognito_jwt::Verifier::builder()
    ///     .jwks_refetch_interval(std::time::Duration::from_secs(30));
    /// ```
    pub fn jwks_refetch_interval(mut self, interval: Duration) -> Self {
        self.policy.refetch_interval = interval;
        self
    }

    /// Age after which fetched keys are revalidated (default 1 h).
    ///
    /// ```
    /// let builder = cognito_jwt::Verifier::builder().jwks_max_age(std::time::Duration::from_secs(600));
    /// ```
    pub fn jwks_max_age(mut self, age: Duration) -> Self {
        self.policy.max_age = age.as_secs();
        self
    }

    /// Age up to which fetched keys are served while revalidation fails (default 24 h; then
    /// [`Error::Unavailable`] until a fetch succeeds). At least the maximum age.
    ///
    /// ```
    /// let builder = cognito_jwt::Verifier::builder().jwks_max_stale(std::time::Duration::from_secs(7200));
    /// ```
    pub fn jwks_max_stale(mut self, age: Duration) -> Self {
        self.policy.max_stale = age.as_secs();
        self
    }

    /// Entries of the verified-token cache (default [`DEFAULT_TOKEN_CACHE`](crate::DEFAULT_TOKEN_CACHE));
    /// 0 turns it off.
    ///
    /// ```
    /// let builder = cognito_jwt::Verifier::builder().token_cache(0);
    /// ```
    pub fn token_cache(mut self, entries: usize) -> Self {
        self.token_cache = entries;
        self
    }

    /// Fetches JWKS documents with `fetcher` instead of the built-in
    /// [`HttpsFetcher`](crate::HttpsFetcher) (needed without feature `https`, unless every key
    /// is [preloaded](Verifier::preload)).
    ///
    /// ```
    /// # #[cfg(feature = "https")]
    /// let builder = cognito_jwt::Verifier::builder().fetcher(cognito_jwt::HttpsFetcher);
    /// ```
    pub fn fetcher(mut self, fetcher: impl JwksFetcher) -> Self {
        self.fetcher = Some(Arc::new(fetcher));
        self
    }

    /// How log lines and configuration errors name the settings to check.
    ///
    /// ```
    /// let builder = cognito_jwt::Verifier::builder().setting_names(cognito_jwt::SettingNames {
    ///     client_ids: "CLIENT_ID".into(),
    ///     ..Default::default()
    /// });
    /// ```
    pub fn setting_names(mut self, names: SettingNames) -> Self {
        self.names = names;
        self
    }

    /// The verifier, or [`Error::Config`] naming what is missing or invalid.
    ///
    /// ```
    /// let error = cognito_jwt::Verifier::builder().user_pool("us-east-1_AbC").build().unwrap_err();
    /// assert!(error.to_string().contains("client_id"));
    /// ```
    pub fn build(self) -> Result<Verifier, Error> {
        if self.clients.is_empty() {
            return Err(Error::config(
                "no app client: call client_id (the tokens' client_id, or aud of ID tokens)",
            ));
        }
        let configured = !self.pools.is_empty() || !self.issuers.is_empty();
        if configured == self.learn {
            return Err(Error::config(if self.learn {
                "learn_user_pool excludes user_pool and issuer"
            } else {
                "no issuer: call user_pool (or issuer, or learn_user_pool)"
            }));
        }
        if self.policy.max_stale < self.policy.max_age {
            return Err(Error::config(
                "jwks_max_stale is less than jwks_max_age: cached keys must be usable at least \
                 until they are revalidated",
            ));
        }
        let context = Arc::new(KeyContext {
            policy: self.policy,
            tokens: Arc::new(TokenCache::new(self.token_cache)),
            fetcher: self.fetcher.clone().or_else(default_fetcher),
            names: self.names.clone(),
            fetches: Default::default(),
        });
        let issuer = if self.learn {
            Issuer::Learn(Box::new(Learner::new(
                self.jwks_url.clone(),
                self.emulator.clone(),
                self.replicas.clone(),
                context.clone(),
            )))
        } else {
            Issuer::Fixed(Issuers::new(self.accepted()?, context.clone()))
        };
        Ok(Verifier(Arc::new(Inner {
            issuer: Arc::new(issuer),
            cache: context.tokens.clone(),
            keys: context.clone(),
            clients: self.clients,
            token_use: self.token_use,
            groups: self.groups,
            scopes: self.scopes,
            leeway: self.leeway.as_secs(),
            refresh_window: self.refresh_window.as_secs(),
            max_age: self.policy.max_age,
            check: self.check,
            names: Arc::new(self.names),
        })))
    }

    /// The issuers to accept, each with its JWKS URL and whether a refused fetch is this
    /// configuration's fault (500) rather than the token's (401). The first is the one a token
    /// naming none of them is checked against.
    fn accepted(&self) -> Result<Vec<AcceptedIssuer>, Error> {
        let mut accepted: Vec<AcceptedIssuer> = self
            .issuers
            .iter()
            .map(|issuer| {
                let issuer = issuer.trim_end_matches('/').to_owned();
                AcceptedIssuer {
                    jwks_url: self
                        .jwks_url
                        .clone()
                        .unwrap_or_else(|| format!("{issuer}/.well-known/jwks.json")),
                    issuer,
                    configured: true,
                }
            })
            .collect();
        for pool in &self.pools {
            let home = pool_home(pool)?;
            for (i, issuer) in pool_issuers(pool, home, &self.replicas)
                .into_iter()
                .enumerate()
            {
                let jwks_url = match (&self.jwks_url, &self.emulator) {
                    (Some(url), _) => url.clone(),
                    (None, Some(endpoint)) => format!(
                        "{}/{pool}/.well-known/jwks.json",
                        endpoint.trim_end_matches('/')
                    ),
                    (None, None) => format!("{issuer}/.well-known/jwks.json"),
                };
                accepted.push(AcceptedIssuer {
                    issuer,
                    jwks_url,
                    configured: i == 0 || self.jwks_url.is_some(),
                });
            }
        }
        Ok(accepted)
    }
}

#[cfg(feature = "https")]
fn default_fetcher() -> Option<Arc<dyn JwksFetcher>> {
    Some(Arc::new(crate::HttpsFetcher))
}

#[cfg(not(feature = "https"))]
fn default_fetcher() -> Option<Arc<dyn JwksFetcher>> {
    None
}

/// The home Region of a pool id `<region>_<id>`.
fn pool_home(pool: &str) -> Result<&str, Error> {
    let invalid = || {
        Error::config(format!(
            "user pool {pool:?}: expected <region>_<id>, such as us-east-1_AbC123"
        ))
    };
    let (region, id) = pool.split_once('_').ok_or_else(invalid)?;
    let region_ok = region.contains('-')
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    let id_ok = !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric());
    if region_ok && id_ok {
        Ok(region)
    } else {
        Err(invalid())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepted(builder: VerifierBuilder) -> Vec<(String, String, bool)> {
        builder
            .accepted()
            .unwrap()
            .into_iter()
            .map(|a| (a.issuer, a.jwks_url, a.configured))
            .collect()
    }

    #[test]
    fn pool_issuers_and_urls() {
        let b = Verifier::builder()
            .user_pool("us-east-1_AbC")
            .replica_regions(["eu-west-1", "us-east-1", "us-west-2"]);
        let own = |i: &str| (i.to_owned(), format!("{i}/.well-known/jwks.json"));
        assert_eq!(
            accepted(b.clone()),
            [
                (
                    "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbC",
                    true
                ),
                (
                    "https://issuer-cognito-idp.us-east-1.amazonaws.com/us-east-1_AbC",
                    false
                ),
                (
                    "https://cognito-idp.eu-west-1.amazonaws.com/us-east-1_AbC",
                    false
                ),
                (
                    "https://cognito-idp.us-west-2.amazonaws.com/us-east-1_AbC",
                    false
                ),
            ]
            .map(|(i, c)| (own(i).0, own(i).1, c))
        );
        // An emulator serves every issuer's keys under the pool; an explicit URL serves all,
        // and is configuration.
        let emulated = accepted(b.clone().emulator("http://127.0.0.1:5000/"));
        assert!(emulated
            .iter()
            .all(|(_, url, _)| url == "http://127.0.0.1:5000/us-east-1_AbC/.well-known/jwks.json"));
        let explicit = accepted(b.jwks_url("https://keys.example/jwks.json"));
        assert!(explicit
            .iter()
            .all(|(_, url, c)| *c && url == "https://keys.example/jwks.json"));
        // Explicit issuers first, then several pools.
        let both = accepted(
            Verifier::builder()
                .issuer("https://idp.example/pool/")
                .user_pool("eu-west-1_X")
                .user_pool("us-east-1_Y"),
        );
        assert_eq!(both[0], own("https://idp.example/pool").into_tuple(true));
        assert_eq!(both.len(), 5);
        assert!(both[1].0.ends_with("/eu-west-1_X") && both[3].0.ends_with("/us-east-1_Y"));
    }

    trait IntoTuple {
        fn into_tuple(self, c: bool) -> (String, String, bool);
    }
    impl IntoTuple for (String, String) {
        fn into_tuple(self, c: bool) -> (String, String, bool) {
            (self.0, self.1, c)
        }
    }

    #[test]
    fn build_refuses_what_cannot_work() {
        let b = || Verifier::builder().client_id("c");
        for (builder, says) in [
            (Verifier::builder().user_pool("us-east-1_A"), "client_id"),
            (b(), "user_pool"),
            (b().user_pool("us-east-1_A").learn_user_pool(), "excludes"),
            (b().user_pool("useast1_A"), "us-east-1_AbC123"),
            (b().user_pool("us-east-1_"), "us-east-1_AbC123"),
            (
                b().user_pool("us-east-1_A")
                    .jwks_max_age(Duration::from_secs(10))
                    .jwks_max_stale(Duration::from_secs(5)),
                "jwks_max_stale",
            ),
        ] {
            let error = builder.build().unwrap_err();
            assert!(
                matches!(&error, Error::Config { message } if message.contains(says)),
                "{says}: {error}"
            );
        }
        assert!(b().learn_user_pool().build().is_ok());
    }
}
