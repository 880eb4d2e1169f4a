//! The session manager: [`Sessions`], built once per process, resolving the [`Session`] of each
//! request (cookie → verify → row check or refresh) and writing cookies.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::budget::Budget;
use crate::cognito::{Cognito, Tokens};
use crate::config::SessionValidation;
use crate::error::{Error, Unauthorized};
use crate::http::cookie::{CookieOptions, CookieSource};
use crate::policy::{key_of, last_active, usable};
use crate::profile::Slot;
use crate::refresh::{Outcome, Refresher};
use crate::seal::Sealing;
use crate::session::{Session, VerifiedToken};
use crate::store::{Patch, SessionRow, SessionStore, StoreError, Write};
use crate::store_error;
use crate::telemetry::{self, Audit, ClientInfo, Count};
use crate::verify::{Claims, Freshness, Verifier};
use crate::Clock;

/// The session manager: build it once per process (at cold start) and share it.
///
/// Cloning is cheap (an `Arc`).
///
/// ```no_run
/// # async fn f() -> Result<(), cognito_session::Error> {
/// let sessions = cognito_session::Sessions::from_env().await?;
/// let request = http::Request::builder().header("cookie", "token=eyJ...").body(()).unwrap();
/// let session = sessions.session("token", &request).await?;
/// println!("{}", session.sub());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Sessions {
    pub(crate) inner: Arc<Inner>,
    /// The deadline every call of this handle meets ([`Sessions::with_deadline`]); `None`:
    /// only the deadline a request carries, if any.
    pub(crate) deadline: Option<SystemTime>,
}

pub(crate) struct Inner {
    pub(crate) verifier: Verifier,
    pub(crate) store: Arc<dyn SessionStore>,
    /// Encryption at rest, applied above the store.
    pub(crate) sealing: Sealing,
    pub(crate) cognito: Cognito,
    pub(crate) validation: SessionValidation,
    pub(crate) cookie: Arc<CookieOptions>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) lease: Duration,
    pub(crate) idle: Option<u64>,
    pub(crate) touch_interval: u64,
    /// How long after a refresh an older token of the login still counts, milliseconds.
    pub(crate) replaced_grace_ms: i64,
    pub(crate) per_device: bool,
    pub(crate) pool_id: Option<String>,
    pub(crate) allowed_origins: Vec<String>,
    /// Whether cross-site unsafe requests are refused (the default).
    pub(crate) csrf: bool,
    /// Managed login, when `COGNITO_DOMAIN` and `REDIRECT_URI` are set.
    pub(crate) managed: Option<crate::login::Managed>,
    /// Verifies ID tokens (login and refresh results) for the stored profile.
    pub(crate) id_verifier: Verifier,
    /// The flow [`Sessions::sign_in`] uses.
    pub(crate) sign_in_flow: crate::SignInFlow,
    /// Reported configuration errors and unstored rotated refresh tokens, for this process.
    pub(crate) memory: crate::refresh::Memory,
    /// The generated browser-state key, when no encryption key is configured.
    pub(crate) state_keys: crate::login::StateKeys,
    /// Metrics and audit settings.
    pub(crate) telemetry: crate::telemetry::Telemetry,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions")
            .field("client_id", &self.inner.verifier.client_id)
            .field("validation", &self.inner.validation)
            .field("store", &self.inner.store)
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

impl Sessions {
    /// This session manager, with every call bounded by `deadline` (the Lambda invocation's,
    /// `lambda_runtime::Context::deadline()`): each call to DynamoDB, Cognito, the JWKS endpoint
    /// and the managed login's token endpoint gets the time left before it, minus 300 ms to
    /// answer, and a call still running then is a 503 ([`Error::Unavailable`]) instead of a
    /// function timeout. For the calls that take no request ([`sign_in`](Sessions::sign_in),
    /// [`respond`](Sessions::respond), [`start`](Sessions::start),
    /// [`begin_login`](Sessions::begin_login), ...); the ones that take a request read its
    /// deadline themselves (from the `lambda_http::Context` in its extensions), and the earlier
    /// of the two counts. A deadline of 0 (the epoch, as in `Context::default()`) means unknown.
    /// The handle is cheap (an `Arc` and a time): make one per request.
    ///
    /// ```no_run
    /// # async fn f(sessions: cognito_session::Sessions, context: lambda_runtime::Context) -> Result<(), cognito_session::SignInError> {
    /// let step = sessions
    ///     .with_deadline(context.deadline())
    ///     .sign_in("alice", "Correct-horse-9!")
    ///     .await?;
    /// # let _ = step;
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn with_deadline(&self, deadline: SystemTime) -> Sessions {
        Sessions {
            inner: self.inner.clone(),
            deadline: crate::budget::known(deadline),
        }
    }

    /// The budget of a call: the earlier of this handle's deadline and the request's.
    pub(crate) fn budget(&self, request: Option<SystemTime>) -> Budget {
        Budget::new(self.deadline_with(request))
    }

    /// The earlier of this handle's deadline and `request`'s (each `None` when unknown).
    pub(crate) fn deadline_with(&self, request: Option<SystemTime>) -> Option<SystemTime> {
        match (self.deadline, request.and_then(crate::budget::known)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub(crate) fn now(&self) -> u64 {
        self.inner
            .clock
            .now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }

    /// The session of the request's cookie `name`: verified, and refreshed if it had expired.
    ///
    /// `request` can be an `http::HeaderMap`, a `lambda_http::Request` (any `http::Request`), an
    /// `aws_lambda_events` API Gateway REST / HTTP API, ALB or function URL request, or a raw
    /// `serde_json::Value` event.
    pub async fn session<S: CookieSource + ?Sized>(
        &self,
        name: &str,
        request: &S,
    ) -> Result<Session, Error> {
        let token = self.token_in(name, request);
        let client = self.inner.telemetry.client(request);
        self.resolve(token, request.deadline(), client).await
    }

    /// The session of the request's cookie of the configured name (`COOKIE_NAME`, default
    /// `token`; [`CookieOptions::name`](crate::CookieOptions::name)): the same as
    /// [`session`](Self::session) without naming it at every call.
    ///
    /// ```no_run
    /// # async fn f(sessions: cognito_session::Sessions, request: lambda_http::Request) -> Result<(), cognito_session::Error> {
    /// let session = sessions.current(&request).await?;
    /// # Ok(()) }
    /// ```
    pub async fn current<S: CookieSource + ?Sized>(&self, request: &S) -> Result<Session, Error> {
        self.session(&self.inner.cookie.name, request).await
    }

    /// Like [`session`](Self::session), for a request whose Lambda deadline is known separately
    /// (`lambda_runtime::Context::deadline()`): a refresh lease, and any wait for a concurrent
    /// refresh, end before it. A deadline of 0 (the epoch, as in `Context::default()`) means
    /// unknown: no bound. A deadline already past answers 503 at once (unless every answer is
    /// at hand).
    ///
    /// ```no_run
    /// # async fn f(sessions: cognito_session::Sessions, event: lambda_runtime::LambdaEvent<aws_lambda_events::apigw::ApiGatewayProxyRequest>) -> Result<(), cognito_session::Error> {
    /// let session = sessions.session_with_deadline("token", &event.payload, event.context.deadline()).await?;
    /// # Ok(()) }
    /// ```
    pub async fn session_with_deadline<S: CookieSource + ?Sized>(
        &self,
        name: &str,
        request: &S,
        deadline: SystemTime,
    ) -> Result<Session, Error> {
        let token = self.token_in(name, request);
        let client = self.inner.telemetry.client(request);
        self.resolve(token, Some(deadline), client).await
    }

    /// The raw value of cookie `name` (with the configured prefix) in `request`.
    pub(crate) fn token_in<'a, S: CookieSource + ?Sized>(
        &self,
        name: &str,
        request: &'a S,
    ) -> Option<&'a str> {
        request.cookie(&self.inner.cookie.name(name))
    }

    /// Verifies an access token on its own: signature, issuer, app client, `token_use` and time
    /// claims, exactly as [`Sessions::session`] does, but without reading the session row and
    /// without refreshing. An expired token that could still be refreshed is returned with
    /// [`VerifiedToken::expired`] set. For tools and diagnostics (the CLI's `token verify`).
    ///
    /// ```no_run
    /// # async fn f(sessions: cognito_session::Sessions) {
    /// match sessions.verify("eyJ...").await {
    ///     Ok(token) => println!("{} (expired: {})", token.claims().sub(), token.expired()),
    ///     Err(error) => println!("refused: {error}"),
    /// }
    /// # }
    /// ```
    pub async fn verify(&self, token: &str) -> Result<VerifiedToken, Error> {
        let verifying = self.inner.verifier.verify(token, self.now());
        let (claims, freshness) = self.budget(None).verify(verifying).await?;
        Ok(VerifiedToken {
            claims,
            expired: freshness == Freshness::Expired,
        })
    }

    /// The normalized origins unsafe requests may come from besides the request's own
    /// (`ALLOWED_ORIGINS`); empty when none are configured. [`SessionLayer`](crate::SessionLayer)
    /// and [`Sessions::logout`] check them.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), cognito_session::Error> {
    /// let sessions = cognito_session::Sessions::builder()
    ///     .table("sessions").partition_key("sub").client_id("5a3b")
    ///     .allowed_origins(["https://App.example.com/"])
    ///     .build().await?;
    /// assert_eq!(sessions.allowed_origins(), ["https://app.example.com"]);
    /// # Ok(()) }
    /// ```
    pub fn allowed_origins(&self) -> &[String] {
        &self.inner.allowed_origins
    }

    /// How the session cookie is written (attributes and name prefix).
    ///
    /// ```no_run
    /// # async fn f(sessions: cognito_session::Sessions) {
    /// // With COOKIE_PREFIX=__Host-, the cookie `token` is `__Host-token` on the wire.
    /// println!("{}", sessions.cookie_options().name("token"));
    /// # }
    /// ```
    pub fn cookie_options(&self) -> &CookieOptions {
        &self.inner.cookie
    }

    /// The session of an access token taken from elsewhere (an `Authorization` header, say).
    pub async fn session_for_token(&self, token: &str) -> Result<Session, Error> {
        self.resolve(Some(token), None, ClientInfo::default()).await
    }

    /// Runs `work` (a handler's body, say) as one invocation for metrics: every call of this
    /// library inside it adds to one EMF line, written when `work` ends, and audit events carry
    /// `request`'s client (address, user agent, request id). [`SessionLayer`](crate::SessionLayer)
    /// and the login routes do this themselves; without them, each call is its own invocation.
    ///
    /// ```no_run
    /// # async fn f(sessions: cognito_session::Sessions, request: lambda_http::Request) {
    /// let answer = sessions
    ///     .invocation(&request, async {
    ///         let session = sessions.current(&request).await;
    ///         // ... sign-in, logout, whatever the handler does
    ///         session.is_ok()
    ///     })
    ///     .await;
    /// # }
    /// ```
    pub async fn invocation<S: CookieSource + ?Sized, F: std::future::Future>(
        &self,
        request: &S,
        work: F,
    ) -> F::Output {
        self.inner
            .telemetry
            .invocation(self.inner.telemetry.client(request), work)
            .await
    }

    /// The session of `token` (none: no cookie), as one invocation for metrics: the session
    /// check, its outcome counted and its span.
    pub(crate) async fn resolve(
        &self,
        token: Option<&str>,
        deadline: Option<SystemTime>,
        client: ClientInfo,
    ) -> Result<Session, Error> {
        let work = async {
            let result = match token {
                Some(token) => self.check_in_span(token, deadline).await,
                None => Err(Unauthorized::MissingCookie.into()),
            };
            if let Err(error) = &result {
                telemetry::failed(error);
            }
            result
        };
        self.inner.telemetry.invocation(client, work).await
    }

    /// [`check`](Self::check) in its span (`cognito_session.session`), which records the
    /// status of a failure as `error.type`.
    pub(crate) async fn check_in_span(
        &self,
        token: &str,
        deadline: Option<SystemTime>,
    ) -> Result<Session, Error> {
        let span = tracing::info_span!(
            "cognito_session.session",
            otel.kind = "internal",
            error.r#type = tracing::field::Empty
        );
        let result =
            tracing::Instrument::instrument(self.check(token, deadline), span.clone()).await;
        if let Err(error) = &result {
            span.record("error.type", error.status());
        }
        result
    }

    /// Every call to AWS made here is bounded by the request's deadline (see `budget`); `None`:
    /// unknown, no bound. [`SessionLayer`](crate::SessionLayer) comes in here too.
    pub(crate) async fn check(
        &self,
        token: &str,
        deadline: Option<SystemTime>,
    ) -> Result<Session, Error> {
        let inner = &*self.inner;
        let now = self.now();
        let deadline = self.deadline_with(deadline);
        let budget = Budget::new(deadline);
        let result = async {
            let (claims, freshness) = match inner.verifier.cached(token, now) {
                Some(claims) => {
                    telemetry::count(Count::TokenCacheHit);
                    (claims, Freshness::Current)
                }
                // Boxed for the same reason as the refresh below (the JWKS fetch is in it).
                None => {
                    telemetry::count(Count::TokenCacheMiss);
                    let fetches = inner.verifier.inner.jwks_fetches();
                    let span =
                        tracing::info_span!("cognito_session.verify", otel.kind = "internal");
                    let verifying = budget.verify(inner.verifier.verify(token, now));
                    let verified = Box::pin(tracing::Instrument::instrument(verifying, span)).await;
                    for _ in fetches..inner.verifier.inner.jwks_fetches() {
                        telemetry::count(Count::JwksFetch);
                    }
                    verified?
                }
            };
            match freshness {
                Freshness::Current => {
                    if inner.validation == SessionValidation::Session {
                        let row = budget
                            .store(inner.store.load(key_of(&claims, inner.per_device)))
                            .await
                            .map_err(|e| store_error(e, "reading the session"))?
                            .ok_or(Unauthorized::SessionEnded)?;
                        usable(&row, &claims, now, inner.idle)?;
                        self.touch(&row, now, budget).await;
                        // Opened only if the app asks for it.
                        let profile = Slot::sealed(&inner.sealing, row);
                        telemetry::count(Count::Resolved("valid"));
                        return Ok(self.session_of(claims, None).with_slot(profile));
                    }
                    telemetry::count(Count::Resolved("valid"));
                    Ok(self.session_of(claims, None))
                }
                Freshness::Expired => {
                    let refresher = Refresher {
                        store: &*inner.store,
                        sealing: &inner.sealing,
                        cognito: &inner.cognito,
                        verifier: &inner.verifier,
                        id_verifier: &inner.id_verifier,
                        clock: &*inner.clock,
                        lease: inner.lease,
                        idle: inner.idle,
                        grace_ms: inner.replaced_grace_ms,
                        per_device: inner.per_device,
                        deadline,
                        budget,
                        memory: &inner.memory,
                    };
                    // Boxed: the refresh future is large and rare; inline, every valid
                    // token's check would carry (and copy) its space.
                    let span =
                        tracing::info_span!("cognito_session.refresh", otel.kind = "internal");
                    let refreshing = refresher.refresh(token, &claims);
                    match Box::pin(tracing::Instrument::instrument(refreshing, span)).await? {
                        Outcome::Refreshed(refreshed) => {
                            let (claims, tokens, profile) = *refreshed;
                            telemetry::count(Count::Resolved("refreshed"));
                            telemetry::audit(
                                "session_refreshed",
                                "refreshed an expired session",
                                Audit {
                                    sub: Some(claims.sub()),
                                    family: claims.origin_jti(),
                                    ..Audit::default()
                                },
                            );
                            Ok(self.session_of(claims, Some(tokens)).with_profile(profile))
                        }
                        // Authorized with the claims of the token the refresh produced, and
                        // answered with its cookie, like the request that refreshed.
                        Outcome::Joined(joined) => {
                            let (claims, tokens) = *joined;
                            telemetry::count(Count::Resolved("joined"));
                            tracing::debug!(sub = claims.sub(), "joined a concurrent refresh");
                            Ok(self.session_of(claims, Some(tokens)))
                        }
                    }
                }
            }
        }
        .await;
        if let Err(error) = &result {
            match error {
                Error::Unauthorized(reason) => tracing::debug!(%reason, "request refused"),
                // True here (no session row is deleted but for a definitive 401), not in
                // every use of these errors: so said here, not in their messages.
                Error::Unavailable { .. } => tracing::warn!(
                    error = %crate::error::Chain(&error),
                    "session check failed; the session (if any) was kept, retry the request"
                ),
                other => {
                    tracing::warn!(
                        error = %crate::error::Chain(other),
                        "session check failed; the session (if any) was kept"
                    );
                    if let Error::Config { .. } = other {
                        telemetry::audit(
                            "misconfiguration",
                            "a configuration error answered 500",
                            Audit {
                                warn: true,
                                ..Audit::default()
                            },
                        );
                    }
                }
            }
        }
        result
    }

    /// With an idle timeout, records activity at most once per touch interval: writing on every
    /// request is what makes DynamoDB session stores expensive.
    pub(crate) async fn touch(&self, row: &SessionRow, now: u64, budget: Budget) {
        let inner = &*self.inner;
        let Some(idle) = inner.idle else { return };
        let now = i64::try_from(now).unwrap_or(i64::MAX);
        let interval = inner.touch_interval.min(idle / 2).max(1);
        if now.saturating_sub(last_active(row)) < i64::try_from(interval).unwrap_or(i64::MAX) {
            return;
        }
        // The version stays: a touch changes nothing the refresh protocol looks at, so it
        // never spoils the next refresh's guess (see the `refresh` module).
        let mut patch = Patch::new(row.version.clone());
        patch.last_seen = Write::Set(now);
        let touch = inner.store.update(row.key(), row.version.as_ref(), &patch);
        match budget.cleanup().store(touch).await {
            Ok(_) => {}
            // The row changed meanwhile (a refresh records activity too), or is gone.
            Err(StoreError::Conflict(_)) => {
                tracing::debug!(
                    sub = row.sub.as_str(),
                    "the session row changed; no activity recorded"
                );
            }
            Err(error) => {
                tracing::warn!(sub = row.sub.as_str(), error = %crate::error::Chain(&error), "could not record activity")
            }
        }
    }

    pub(crate) fn session_of(&self, claims: Claims, refreshed: Option<Tokens>) -> Session {
        Session {
            claims,
            refreshed,
            cookie: self.inner.cookie.clone(),
            profile: Slot::default(),
        }
    }

    /// A `Set-Cookie` value that stores `tokens.access_token` in cookie `name`, with the
    /// configured name prefix, `Domain` and `Path`. A cookie over
    /// 4096 bytes is logged at error level (the
    /// browser will drop it); [`Session::try_set_cookie`] refuses it instead.
    ///
    /// ```no_run
    /// # fn f(sessions: cognito_session::Sessions, tokens: cognito_session::Tokens) {
    /// let set_cookie = sessions.set_cookie("token", &tokens);
    /// # }
    /// ```
    pub fn set_cookie(&self, name: &str, tokens: &Tokens) -> String {
        let cookie = &self.inner.cookie;
        cookie
            .try_set(name, &tokens.access_token)
            .unwrap_or_else(|_| cookie.set(name, &tokens.access_token))
    }

    /// A `Set-Cookie` value that deletes cookie `name` (for logout), with the configured name
    /// prefix, `Domain` and `Path`: a browser deletes a cookie only when all three match.
    ///
    /// ```no_run
    /// # fn f(sessions: cognito_session::Sessions) {
    /// // With COOKIE_PREFIX=__Secure- and COOKIE_PATH=/app:
    /// // "__Secure-token=; HttpOnly; SameSite=Lax; Secure; Path=/app; Max-Age=0; Expires=..."
    /// let set_cookie = sessions.clear_cookie("token");
    /// # }
    /// ```
    pub fn clear_cookie(&self, name: &str) -> String {
        self.inner.cookie.clear(name)
    }

    /// For an `error` that means the request's cookie `name` can never work again (a 401 other
    /// than "no cookie"), the `Set-Cookie` that deletes it, as [`clear_cookie`](Self::clear_cookie)
    /// writes it; `None` for every other error (503 and 500 keep the cookie). The answer to a
    /// failed [`session`](Self::session) call.
    ///
    /// ```no_run
    /// # async fn f(sessions: cognito_session::Sessions, request: lambda_http::Request) {
    /// if let Err(error) = sessions.session("token", &request).await {
    ///     let status = error.status(); // 401, 503 (send Retry-After) or 500
    ///     if let Some(set_cookie) = sessions.clear_cookie_for(&error, "token") {
    ///         println!("{status}, Set-Cookie: {set_cookie}");
    ///     }
    /// }
    /// # }
    /// ```
    pub fn clear_cookie_for(&self, error: &Error, name: &str) -> Option<String> {
        error.clears_cookie().then(|| self.clear_cookie(name))
    }
}
