//! The public face: [`Sessions`] (built once per process) and the [`Session`] it resolves per
//! request. Wires cookie → verify → store / refresh.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};

use crate::budget::Budget;
use crate::cognito::{Cognito, Tokens};
use crate::config::{parse_origins, pool_region, SessionValidation, Settings};
use crate::error::{Error, Unauthorized};
use crate::http::cookie::{find, CookieOptions, CookieSource};
use crate::policy::{issued, key_of, last_active, same_family, usable};
use crate::refresh::{reveal, Outcome, Refresher};
#[cfg(feature = "kms")]
use crate::seal::kms_data_key;
use crate::seal::{parse_key, Sealer, Sealing};
use crate::store::{DynamoDbStore, Patch, SessionKey, SessionRow, SessionStore, StoreError, Write};
use crate::verify::{Claims, Freshness, Verifier};
use crate::{store_error, Service};

/// A source of the current time, so tests can move it.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use cognito_session::Clock;
/// let later = || UNIX_EPOCH + Duration::from_secs(2_000_000_000);
/// assert_eq!(later.now(), UNIX_EPOCH + Duration::from_secs(2_000_000_000));
/// ```
pub trait Clock: Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> SystemTime;
}

impl<F: Fn() -> SystemTime + Send + Sync + 'static> Clock for F {
    fn now(&self) -> SystemTime {
        self()
    }
}

/// The system clock (the default).
///
/// ```
/// use cognito_session::{Clock, SystemClock};
/// assert!(SystemClock.now() > std::time::UNIX_EPOCH);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

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
    inner: Arc<Inner>,
}

struct Inner {
    verifier: Verifier,
    store: Arc<dyn SessionStore>,
    /// Encryption at rest, applied above the store.
    sealing: Sealing,
    cognito: Cognito,
    validation: SessionValidation,
    cookie: Arc<CookieOptions>,
    clock: Arc<dyn Clock>,
    lease: Duration,
    idle: Option<u64>,
    touch_interval: u64,
    per_device: bool,
    pool_id: Option<String>,
    allowed_origins: Vec<String>,
    /// Reported configuration errors and unstored rotated refresh tokens, for this process.
    memory: crate::refresh::Memory,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions")
            .field("client_id", &self.inner.verifier.client_id)
            .field("validation", &self.inner.validation)
            .field("store", &self.inner.store)
            .finish_non_exhaustive()
    }
}

/// A verified session for one request.
///
/// ```no_run
/// # async fn f(sessions: cognito_session::Sessions, request: lambda_http::Request) -> Result<(), cognito_session::Error> {
/// let session = sessions.session("token", &request).await?;
/// if session.claims().groups().iter().any(|g| g == "admin") {
///     println!("{} is an admin", session.username());
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Session {
    claims: Claims,
    refreshed: Option<Tokens>,
    cookie: Arc<CookieOptions>,
}

impl Session {
    /// The user's `sub`.
    pub fn sub(&self) -> &str {
        self.claims.sub()
    }

    /// Cognito's username for the user.
    pub fn username(&self) -> &str {
        self.claims.username()
    }

    /// All verified claims of the current access token (scope, groups, custom claims...).
    pub fn claims(&self) -> &Claims {
        &self.claims
    }

    /// The new tokens, when this call produced some: after a refresh (like the seed's `cognito`
    /// property), or the login tokens passed to [`Sessions::start`]. A request that joined a
    /// concurrent refresh of its token gets that refresh's access token (without an ID token).
    /// `None` when the presented token was still valid.
    pub fn refreshed(&self) -> Option<&Tokens> {
        self.refreshed.as_ref()
    }

    /// A `Set-Cookie` value that stores the new access token in cookie `name`, when there is a
    /// new one: `HttpOnly; Secure; SameSite=Lax; Path=/; Max-Age=<session lifetime>` by default,
    /// with the configured name prefix, `Domain` and `Path`.
    ///
    /// A cookie over 4096 bytes, which the browser
    /// would drop, is not handed out: this returns `None` and logs the cause at error level. Use
    /// [`try_set_cookie`](Self::try_set_cookie) to answer that with a 500 instead.
    ///
    /// ```no_run
    /// # async fn f(sessions: cognito_session::Sessions, request: lambda_http::Request) -> Result<(), cognito_session::Error> {
    /// let session = sessions.session("token", &request).await?;
    /// if let Some(set_cookie) = session.set_cookie("token") {
    ///     println!("Set-Cookie: {set_cookie}"); // the token was refreshed
    /// }
    /// # Ok(()) }
    /// ```
    pub fn set_cookie(&self, name: &str) -> Option<String> {
        self.try_set_cookie(name).ok().flatten()
    }

    /// Like [`set_cookie`](Self::set_cookie), with a cookie too large for browsers reported as
    /// [`Error::Config`] (500, naming its size and what to reduce) rather than left out.
    /// [`SessionLayer`](crate::SessionLayer) answers such a request with 500.
    ///
    /// ```no_run
    /// # async fn f(sessions: cognito_session::Sessions, request: lambda_http::Request) -> Result<(), cognito_session::Error> {
    /// let session = sessions.session("token", &request).await?;
    /// let set_cookie: Option<String> = session.try_set_cookie("token")?;
    /// # Ok(()) }
    /// ```
    pub fn try_set_cookie(&self, name: &str) -> Result<Option<String>, Error> {
        self.refreshed
            .as_ref()
            .map(|tokens| self.cookie.try_set(name, &tokens.access_token))
            .transpose()
    }
}

impl Sessions {
    /// Builds from environment variables (see the [crate docs](crate#configuration)) and the
    /// standard AWS SDK configuration. Fails with [`Error::Config`] naming the variable to fix.
    pub async fn from_env() -> Result<Self, Error> {
        Self::builder().from_env()?.build().await
    }

    /// A builder for everything `from_env` reads, plus an `SdkConfig`, clients, a custom store
    /// and a clock.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), cognito_session::Error> {
    /// let sessions = cognito_session::Sessions::builder()
    ///     .table("sessions")
    ///     .partition_key("sub")
    ///     .client_id("5a3b...")
    ///     .user_pool_id("us-east-1_AbC")
    ///     .build()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn builder() -> SessionsBuilder {
        SessionsBuilder::default()
    }

    fn now(&self) -> u64 {
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
        let token = self
            .token_in(name, request)
            .ok_or(Unauthorized::MissingCookie)?;
        self.check(token, request.deadline()).await
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
        let token = self
            .token_in(name, request)
            .ok_or(Unauthorized::MissingCookie)?;
        self.check(token, Some(deadline)).await
    }

    /// The raw value of cookie `name` (with the configured prefix) in `request`.
    pub(crate) fn token_in<'a, S: CookieSource + ?Sized>(
        &self,
        name: &str,
        request: &'a S,
    ) -> Option<&'a str> {
        find(&self.inner.cookie.name(name), request)
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
        let (claims, freshness) = self.inner.verifier.verify(token, self.now()).await?;
        Ok(VerifiedToken {
            claims,
            expired: freshness == Freshness::Expired,
        })
    }

    /// The normalized origins unsafe requests may come from (`ALLOWED_ORIGINS`); empty when
    /// none are configured. [`SessionLayer`](crate::SessionLayer) checks them by default.
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
        self.check(token, None).await
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
        let deadline = deadline.and_then(crate::budget::known);
        let budget = Budget::new(deadline);
        let result = async {
            let (claims, freshness) = match inner.verifier.cached(token, now) {
                Some(claims) => (claims, Freshness::Current),
                // Boxed for the same reason as the refresh below (the JWKS fetch is in it).
                None => Box::pin(budget.verify(inner.verifier.verify(token, now))).await?,
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
                    }
                    Ok(self.session_of(claims, None))
                }
                Freshness::Expired => {
                    let refresher = Refresher {
                        store: &*inner.store,
                        sealing: &inner.sealing,
                        cognito: &inner.cognito,
                        verifier: &inner.verifier,
                        clock: &*inner.clock,
                        lease: inner.lease,
                        idle: inner.idle,
                        per_device: inner.per_device,
                        deadline,
                        budget,
                        memory: &inner.memory,
                    };
                    // Boxed: the refresh future is large and rare; inline, every valid
                    // token's check would carry (and copy) its space.
                    match Box::pin(refresher.refresh(token, &claims)).await? {
                        Outcome::Refreshed(refreshed) => {
                            let (claims, tokens) = *refreshed;
                            tracing::info!(sub = claims.sub(), "refreshed an expired session");
                            Ok(self.session_of(claims, Some(tokens)))
                        }
                        // Authorized with the claims of the token the refresh produced, and
                        // answered with its cookie, like the request that refreshed.
                        Outcome::Joined(joined) => {
                            let (claims, tokens) = *joined;
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
                    error = %error,
                    "session check failed; the session (if any) was kept, retry the request"
                ),
                other => tracing::warn!(
                    error = %other,
                    "session check failed; the session (if any) was kept"
                ),
            }
        }
        result
    }

    /// With an idle timeout, records activity at most once per touch interval: writing on every
    /// request is what makes DynamoDB session stores expensive.
    async fn touch(&self, row: &SessionRow, now: u64, budget: Budget) {
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
                tracing::warn!(sub = row.sub.as_str(), %error, "could not record activity")
            }
        }
    }

    fn session_of(&self, claims: Claims, refreshed: Option<Tokens>) -> Session {
        Session {
            claims,
            refreshed,
            cookie: self.inner.cookie.clone(),
        }
    }

    /// After a login: verifies the new access token and stores the session row (replacing any
    /// earlier login of the same user). `tokens` must carry the refresh token.
    ///
    /// In a user pool that tracks devices, the login result carries `NewDeviceMetadata`
    /// ([`Tokens::new_device_metadata`]): `start` then confirms the device with Cognito's
    /// `ConfirmDevice` (named `cognito-session`) and stores its key in
    /// the row, and every refresh sends it as `DEVICE_KEY`. If Cognito cannot confirm the device,
    /// nothing is stored: [`Error::Unavailable`] (503) when transient, else [`Error::Config`].
    /// Pass the login result unchanged (`(&result).into()`), and do not confirm the device
    /// yourself (a device already confirmed is accepted).
    /// [`Session::set_cookie`] on the result gives the login cookie.
    ///
    /// ```no_run
    /// # async fn f(sessions: cognito_session::Sessions, result: aws_sdk_cognitoidentityprovider::types::AuthenticationResultType) -> Result<(), cognito_session::Error> {
    /// let session = sessions.start(&(&result).into()).await?;
    /// let set_cookie = session.set_cookie("token");
    /// # Ok(()) }
    /// ```
    pub async fn start(&self, tokens: &Tokens) -> Result<Session, Error> {
        let refresh_token = tokens
            .refresh_token
            .as_deref()
            .ok_or_else(|| Error::InvalidInput("the login tokens have no refresh token".into()))?;
        let now = self.now();
        let (claims, freshness) = self
            .inner
            .verifier
            .verify(&tokens.access_token, now)
            .await?;
        if freshness != Freshness::Current {
            return Err(Error::InvalidInput(
                "the login's access token has already expired".into(),
            ));
        }
        let timestamp = i64::try_from(now).unwrap_or(i64::MAX);
        let mut row = SessionRow::new(
            claims.sub(),
            "",
            timestamp,
            claims.origin_jti().map(str::to_owned),
        );
        row.username = Some(claims.username().to_owned()).filter(|u| !u.is_empty());
        row.session_id = key_of(&claims, self.inner.per_device)
            .session
            .map(str::to_owned);
        let sealed = self.inner.sealing.seal_token(row.key(), refresh_token);
        row.refresh_token = Some(
            sealed
                .map_err(|e| Error::unavailable(Service::DynamoDb, "encrypting the session", e))?,
        );
        // The version of a row written by the login that issued this access token: its refresh
        // expects it (see the `refresh` module).
        row.version = Some(issued(&tokens.access_token));
        let lifetime = i64::try_from(self.inner.cookie.max_age_secs).unwrap_or(i64::MAX);
        row.expires_at = Some(timestamp.saturating_add(lifetime));
        row.last_seen = Some(timestamp);
        if let Some(device) = &tokens.new_device_metadata {
            // A pool that tracks devices refuses every refresh of an unconfirmed device, and
            // only this login's (still valid) access token can confirm it: now or never. A
            // failure stores nothing (503 transient, 500 refused), so no session is started
            // that would end at its first refresh.
            Box::pin(
                self.inner
                    .cognito
                    .confirm_device(&tokens.access_token, device),
            )
            .await?;
            row.device_key = Some(device.device_key.clone());
        }
        self.inner
            .store
            .put(&row)
            .await
            .map_err(|e| store_error(e, "storing the session"))?;
        tracing::info!(sub = claims.sub(), "session started");
        let mut issued = tokens.clone();
        issued.refresh_token = None;
        Ok(self.session_of(claims, Some(issued)))
    }

    /// Logout: removes the session row of the request's cookie `name`, then revokes its refresh
    /// token at Cognito (`RevokeToken`, which also invalidates the tokens issued from it). Succeeds
    /// only when no row of this login remains (also when none did); answer with
    /// [`Sessions::clear_cookie`]. A failed revocation is logged ("revocation pending") and does
    /// not fail the logout: the row, which every refresh needs, is gone. A token that does not
    /// verify, or one from another login of the user, removes nothing and is refused. An expired
    /// token (within the refresh window) can still log out.
    ///
    /// A logout racing a refresh that rotates (or re-encrypts) the refresh token meets a changed
    /// row: it reads the row again and, while it still belongs to this login, deletes it again,
    /// conditioned on what it now holds (a few attempts, then 503 [`Error::Unavailable`]). Every
    /// refresh token it saw in the row (the rotated one and the current one) is revoked.
    ///
    /// The refresh token is decrypted only to revoke it. A row encrypted with a key this
    /// function does not have is left untouched and answers 500 [`Error::Config`] naming the key
    /// id (nothing is sent to Cognito); a damaged ciphertext cannot be revoked, and the row is
    /// deleted all the same.
    pub async fn end<S: CookieSource + ?Sized>(
        &self,
        name: &str,
        request: &S,
    ) -> Result<(), Error> {
        let token = self
            .token_in(name, request)
            .ok_or(Unauthorized::MissingCookie)?;
        let (claims, _) = self.inner.verifier.verify(token, self.now()).await?;
        let key = key_of(&claims, self.inner.per_device);
        self.remove(key, |row| same_family(row, &claims)).await?;
        Ok(())
    }

    /// Ends one session of user `sub` without a token, for operators (the CLI's `session end`):
    /// the row keyed by `sub` and, on a table with `SORT_KEY`, `session_id` (the row's
    /// [`session_id`](crate::store::SessionRow::session_id), as [`Sessions::list`] shows it) is
    /// deleted, then its refresh token is revoked at Cognito (`RevokeToken`), exactly as
    /// [`Sessions::end`] does once it has found the row: the delete is conditioned on what the
    /// row held when read (a row changed by a concurrent refresh is read and deleted again, and
    /// every refresh token seen is revoked), and a failed revocation is logged ("revocation
    /// pending") without failing. Returns whether a session was there.
    ///
    /// A row encrypted with a key this function does not have is left untouched and answers 500
    /// [`Error::Config`] naming the key id (nothing is sent to Cognito). To end every session of
    /// the user and revoke all their refresh tokens, use [`Sessions::end_all`].
    ///
    /// ```no_run
    /// # async fn f(sessions: cognito_session::Sessions) -> Result<(), cognito_session::Error> {
    /// for row in sessions.list("user-sub").await? {
    ///     sessions.end_session(&row.sub, row.session_id.as_deref()).await?;
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn end_session(&self, sub: &str, session_id: Option<&str>) -> Result<bool, Error> {
        let key = SessionKey {
            sub,
            session: session_id,
        };
        self.remove(key, |_| Ok(())).await
    }

    /// Deletes the row at `key` (when `belongs` accepts it; the first refusal is returned)
    /// conditioned on what it holds, then revokes every refresh token it held. Returns whether
    /// there was a row to delete.
    async fn remove(
        &self,
        key: SessionKey<'_>,
        belongs: impl Fn(&SessionRow) -> Result<(), Unauthorized>,
    ) -> Result<bool, Error> {
        /// Reads and conditional deletes before giving up on a row that keeps changing.
        const ATTEMPTS: usize = 4;
        let store = &*self.inner.store;
        // The refresh tokens seen in this login's row, revoked once it is gone.
        let mut seen: Vec<String> = Vec::new();
        let mut ended = false;
        let mut found = false;
        let mut row = store
            .load(key)
            .await
            .map_err(|e| store_error(e, "reading the session"))?;
        for attempt in 0..ATTEMPTS {
            let Some(current) = row.take() else {
                ended = true;
                break;
            };
            if let Err(reason) = belongs(&current) {
                // At first, a token of another login: refused. After a conflict, a newer
                // login replaced this one's row, which is then gone (and that one stays).
                if attempt == 0 {
                    return Err(reason.into());
                }
                ended = true;
                break;
            }
            found = true;
            match reveal(&self.inner.sealing, &current) {
                Ok(refresh_token) if !seen.contains(&refresh_token) => seen.push(refresh_token),
                Ok(_) => {}
                // No refresh token, or a damaged one: nothing to revoke, the row goes all the same.
                Err(Error::Unauthorized(_)) => {}
                // A key this function lacks: the row is kept, nothing is sent to Cognito.
                Err(error) => return Err(error),
            }
            match store.delete(current.key(), current.version.as_ref()).await {
                Ok(()) => {
                    ended = true;
                    break;
                }
                // Changed since the read (rotated or re-encrypted by a refresh): the conflict
                // shows it as it is now.
                Err(StoreError::Conflict(now)) => row = now.map(|r| *r),
                Err(error) => return Err(store_error(error, "deleting the session")),
            }
        }
        if ended && found {
            tracing::info!(sub = key.sub, "session ended");
        }
        for refresh_token in &seen {
            if let Err(error) = Box::pin(self.inner.cognito.revoke(refresh_token)).await {
                tracing::warn!(sub = key.sub, %error, "session row deleted, revocation pending");
            }
        }
        if !ended {
            return Err(Error::unavailable(
                Service::DynamoDb,
                "ending the session",
                "the session row kept changing while it was being deleted; retry the logout",
            ));
        }
        Ok(found)
    }

    /// Every session of user `sub` (one per device with `SORT_KEY`; at most one without), for
    /// display and operations: the rows' refresh tokens are [withheld](crate::store::StoredToken::withheld)
    /// (only the key id of an encrypted one is kept), and nothing is decrypted, so rows under a
    /// key this function lacks are listed too. The access token of each row's last refresh
    /// (`refreshed_token`) is left out.
    ///
    /// ```no_run
    /// # async fn f(sessions: cognito_session::Sessions) -> Result<(), cognito_session::Error> {
    /// for row in sessions.list("user-sub").await? {
    ///     let key = row.refresh_token.as_ref().and_then(|t| t.key_id());
    ///     println!("{:?} since {} (key {key:?})", row.session_id, row.timestamp);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn list(&self, sub: &str) -> Result<Vec<SessionRow>, Error> {
        let rows = self
            .inner
            .store
            .list(sub)
            .await
            .map_err(|e| store_error(e, "listing sessions"))?;
        Ok(rows.into_iter().map(SessionRow::withheld).collect())
    }

    /// Logs user `sub` out everywhere: deletes every session row, then calls Cognito's
    /// `AdminUserGlobalSignOut`, which revokes all of the user's refresh tokens. That call needs
    /// `USER_POOL_ID` and the IAM permission `cognito-idp:AdminUserGlobalSignOut` on the pool.
    /// Returns how many sessions were deleted.
    pub async fn end_all(&self, sub: &str) -> Result<usize, Error> {
        let inner = &*self.inner;
        let pool = inner.pool_id.as_deref().ok_or_else(|| {
            Error::config("end_all needs USER_POOL_ID for Cognito's AdminUserGlobalSignOut")
        })?;
        let rows = self.list(sub).await?;
        let username = rows
            .iter()
            .find_map(|r| r.username.clone())
            .unwrap_or_else(|| sub.to_owned());
        for row in &rows {
            // Each row at the version it was listed with; one changed meanwhile (a refresh) at
            // the version its conflict shows, a few times.
            let mut expected = row.version.clone();
            for _ in 0..4 {
                match inner.store.delete(row.key(), expected.as_ref()).await {
                    Ok(()) | Err(StoreError::Conflict(None)) => break,
                    Err(StoreError::Conflict(Some(current))) => expected = current.version,
                    Err(error) => return Err(store_error(error, "deleting a session")),
                }
            }
        }
        Box::pin(inner.cognito.global_sign_out(pool, &username)).await?;
        tracing::info!(sub, sessions = rows.len(), "signed out everywhere");
        Ok(rows.len())
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

/// An access token that passed verification ([`Sessions::verify`]).
///
/// ```no_run
/// # async fn f(sessions: cognito_session::Sessions) -> Result<(), cognito_session::Error> {
/// let token = sessions.verify("eyJ...").await?;
/// println!("{} {}", token.claims().username(), token.expired());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct VerifiedToken {
    claims: Claims,
    expired: bool,
}

impl VerifiedToken {
    /// The verified claims (see the example on [`VerifiedToken`]).
    pub fn claims(&self) -> &Claims {
        &self.claims
    }

    /// Whether the token has expired (but is still inside the refresh window, so a session
    /// would refresh it).
    pub fn expired(&self) -> bool {
        self.expired
    }
}

/// Builds [`Sessions`]; every setting `from_env` reads can be set here too.
///
/// ```no_run
/// # async fn f(sdk_config: aws_config::SdkConfig) -> Result<(), cognito_session::Error> {
/// let sessions = cognito_session::Sessions::builder()
///     .from_env()?                       // start from the environment...
///     .sdk_config(sdk_config)            // ...with your SDK configuration
///     .jwks_url("http://127.0.0.1:5000/us-east-1_AbC/.well-known/jwks.json")
///     .build()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Default)]
#[must_use]
pub struct SessionsBuilder {
    settings: Settings,
    sdk_config: Option<SdkConfig>,
    dynamodb: Option<aws_sdk_dynamodb::Client>,
    cognito: Option<aws_sdk_cognitoidentityprovider::Client>,
    store: Option<Arc<dyn SessionStore>>,
    clock: Option<Arc<dyn Clock>>,
    #[cfg(feature = "kms")]
    kms: Option<aws_sdk_kms::Client>,
}

impl std::fmt::Debug for SessionsBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The settings redact the client secret and the encryption keys.
        f.debug_struct("SessionsBuilder")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

macro_rules! string_setters {
    ($($(#[$doc:meta])* $name:ident => $field:ident;)*) => {$(
        $(#[$doc])*
        pub fn $name(mut self, value: impl Into<String>) -> Self {
            self.settings.$field = Some(value.into());
            self
        }
    )*};
}

impl SessionsBuilder {
    /// Reads the environment variables (see the [crate docs](crate#configuration)) over what was
    /// set so far.
    pub fn from_env(mut self) -> Result<Self, Error> {
        self.settings.read_vars(|name| std::env::var(name).ok())?;
        Ok(self)
    }

    string_setters! {
        /// `SESSION_TABLE`.
        table => table;
        /// `PARTITION_KEY`.
        partition_key => partition_key;
        /// `CLIENT_ID`.
        client_id => client_id;
        /// `CLIENT_SECRET`.
        client_secret => client_secret;
        /// `USER_POOL_ID`.
        user_pool_id => user_pool_id;
        /// `COGNITO_ISSUER`: the exact `iss` to expect.
        issuer => issuer;
        /// `COGNITO_JWKS_URL`: where the signing keys are fetched from.
        jwks_url => jwks_url;
        /// `COGNITO_JWKS`: a JWKS document (JSON, or a path to a file holding it) to preload.
        jwks => jwks;
        /// `SESSION_ENCRYPTION_KEY`: base64 of 32 random bytes; refresh tokens are then stored
        /// encrypted (AES-256-GCM).
        encryption_key => encryption_key;
        /// `SESSION_ENCRYPTION_OLD_KEYS`: comma-separated base64 keys that may still decrypt
        /// (after a rotation); rows are re-encrypted with the current key on their next write.
        old_encryption_keys => old_encryption_keys;
        /// `SESSION_KMS_CIPHERTEXT`: base64 of a 32-byte data key encrypted by KMS; decrypted
        /// once at cold start (`kms:Decrypt`) and used as the encryption key.
        kms_ciphertext => kms_ciphertext;
    }

    /// A ready KMS client for `SESSION_KMS_CIPHERTEXT`.
    #[cfg(feature = "kms")]
    pub fn kms_client(mut self, client: aws_sdk_kms::Client) -> Self {
        self.kms = Some(client);
        self
    }

    /// `COGNITO_REPLICA_REGIONS`: the Regions of the user pool's multi-Region replicas, whose
    /// original-type issuer (`https://cognito-idp.<replica>.amazonaws.com/<pool>`) is accepted
    /// too. (The updated issuer type always names the pool's primary Region.)
    ///
    /// ```
    /// let builder = cognito_session::Sessions::builder()
    ///     .user_pool_id("us-east-1_AbC123")
    ///     .replica_regions(["us-west-2"]);
    /// # let _ = builder;
    /// ```
    pub fn replica_regions<I, R>(mut self, regions: I) -> Self
    where
        I: IntoIterator<Item = R>,
        R: Into<String>,
    {
        self.settings.replica_regions = regions.into_iter().map(Into::into).collect();
        self
    }

    /// `SORT_KEY`: the session table's sort key attribute; each login (device) then has its own
    /// row, keyed by `sub` and the login's `origin_jti`.
    pub fn sort_key(mut self, sort_key: impl Into<String>) -> Self {
        self.settings.sort_key = Some(sort_key.into());
        self
    }

    /// `SESSION_VALIDATION`.
    pub fn validation(mut self, validation: SessionValidation) -> Self {
        self.settings.validation = validation;
        self
    }

    /// `SESSION_LIFETIME`: the cookie's `Max-Age`, and how long after expiry a token may still be
    /// refreshed.
    pub fn session_lifetime(mut self, lifetime: Duration) -> Self {
        self.settings.cookie.max_age_secs = lifetime.as_secs().max(1);
        self
    }

    /// `REFRESH_TOKEN_ROTATION`: refresh with `GetTokensFromRefreshToken` and store the new
    /// refresh token it returns (for app clients with refresh-token rotation on).
    pub fn refresh_token_rotation(mut self, on: bool) -> Self {
        self.settings.rotation = on;
        self
    }

    /// How long one request may hold the refresh lease (default 3 s): the others wait for it
    /// up to this long plus a second, and take over if it lapses.
    pub fn refresh_lease(mut self, lease: Duration) -> Self {
        self.settings.refresh_lease = lease;
        self
    }

    /// `SESSION_IDLE_TIMEOUT`: end a session after this long without a request (checked in
    /// session mode and at refresh). Off by default.
    pub fn idle_timeout(mut self, idle: Duration) -> Self {
        self.settings.idle_timeout = Some(idle.as_secs());
        self
    }

    /// `SESSION_TOUCH_INTERVAL`: with an idle timeout, record activity at most once per this
    /// interval per session (default 300 s, and at most half the idle timeout).
    pub fn touch_interval(mut self, interval: Duration) -> Self {
        self.settings.touch_interval = interval.as_secs();
        self
    }

    /// Cookie attributes (`SameSite`, `Domain`, `Path`, `Secure`, `Max-Age`).
    pub fn cookie_options(mut self, options: CookieOptions) -> Self {
        self.settings.cookie = options;
        self
    }

    /// `ALLOWED_ORIGINS`: the origins (`https://app.example.com`) that requests with unsafe
    /// methods may come from; [`SessionLayer`](crate::SessionLayer) then refuses the others.
    pub fn allowed_origins<I, O>(mut self, origins: I) -> Self
    where
        I: IntoIterator<Item = O>,
        O: Into<String>,
    {
        self.settings.allowed_origins = origins.into_iter().map(Into::into).collect();
        self
    }

    /// Clock-skew leeway for `exp`, `iat` and `nbf` (default 30 s).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.settings.leeway = leeway.as_secs();
        self
    }

    /// Timeout of one JWKS fetch (default 2 s). A request's deadline
    /// ([`Sessions::session_with_deadline`]) shortens it to the time left.
    pub fn jwks_timeout(mut self, timeout: Duration) -> Self {
        self.settings.jwks_timeout = timeout;
        self
    }

    /// `COGNITO_JWKS_MAX_AGE`: fetched signing keys older than this are revalidated by the next
    /// request that needs them (default 1 h); see [`jwks_max_stale`](Self::jwks_max_stale).
    pub fn jwks_max_age(mut self, age: Duration) -> Self {
        self.settings.jwks_max_age = age.as_secs().max(1);
        self
    }

    /// `COGNITO_JWKS_MAX_STALE`: while revalidation fails (the JWKS endpoint is down), cached
    /// keys are still used until they are this old, counted from their last successful fetch
    /// (default 24 h); after that, requests answer 503 until a fetch succeeds. Keys preloaded
    /// with `COGNITO_JWKS` never go stale.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), cognito_session::Error> {
    /// use std::time::Duration;
    /// let sessions = cognito_session::Sessions::builder()
    ///     .from_env()?
    ///     .jwks_max_age(Duration::from_secs(600))
    ///     .jwks_max_stale(Duration::from_secs(6 * 3600))
    ///     .build()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn jwks_max_stale(mut self, age: Duration) -> Self {
        self.settings.jwks_max_stale = age.as_secs().max(1);
        self
    }

    /// Least time between two JWKS fetches caused by unknown `kid`s (default 10 s).
    pub fn jwks_refetch_interval(mut self, interval: Duration) -> Self {
        self.settings.jwks_penalty = interval;
        self
    }

    /// `SESSION_TOKEN_CACHE`: how many verified tokens to remember (default
    /// 4096 (`cognito_jwt::DEFAULT_TOKEN_CACHE`), 0 turns the cache
    /// off). A request presenting a remembered, still unexpired token skips the signature check;
    /// its time claims are checked again, and tokens signed by a key that leaves the JWKS are
    /// forgotten. Session mode still reads the session row on every request.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), cognito_session::Error> {
    /// let sessions = cognito_session::Sessions::builder()
    ///     .from_env()?
    ///     .token_cache(0) // verify every request's signature
    ///     .build()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn token_cache(mut self, entries: usize) -> Self {
        self.settings.token_cache = entries;
        self
    }

    /// Timeout of one DynamoDB or Cognito operation, retries included (default 2 s). Applies to
    /// the clients the builder creates, not to clients passed in.
    ///
    /// Whatever the clients, when a request's Lambda deadline is known
    /// ([`Sessions::session_with_deadline`], or a `lambda_http` request's context) every call
    /// is also bounded by the time left before it, minus 300 ms to answer: a slow or throttled
    /// dependency (SDK retries included) then answers 503 in time instead of the function
    /// timing out.
    pub fn operation_timeout(mut self, timeout: Duration) -> Self {
        self.settings.operation_timeout = timeout;
        self
    }

    /// The AWS SDK configuration to create the DynamoDB and Cognito clients from (default: loaded
    /// from the environment).
    pub fn sdk_config(mut self, config: SdkConfig) -> Self {
        self.settings.cognito_endpoint = config.endpoint_url().map(str::to_owned);
        self.sdk_config = Some(config);
        self
    }

    /// A ready DynamoDB client (with your interceptors, timeouts, ...).
    pub fn dynamodb_client(mut self, client: aws_sdk_dynamodb::Client) -> Self {
        self.dynamodb = Some(client);
        self
    }

    /// A ready Cognito client.
    pub fn cognito_client(mut self, client: aws_sdk_cognitoidentityprovider::Client) -> Self {
        self.cognito = Some(client);
        self
    }

    /// Another session store instead of the DynamoDB table: any [`SessionStore`] (an
    /// `Arc` of one too, to keep a handle on it). The refresh protocol, and encryption at rest
    /// when a key is configured, apply to it as to the table.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), cognito_session::Error> {
    /// let sessions = cognito_session::Sessions::builder()
    ///     .client_id("5a3b")
    ///     .store(cognito_session::store::MemoryStore::default())
    ///     .build()
    ///     .await?;
    /// # let _ = sessions;
    /// # Ok(()) }
    /// ```
    pub fn store(mut self, store: impl SessionStore + 'static) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// Another clock (for tests).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// Validates the settings and creates the clients. Makes no network call unless a JWKS file
    /// must be read.
    pub async fn build(self) -> Result<Sessions, Error> {
        let SessionsBuilder {
            settings: s,
            sdk_config,
            dynamodb,
            cognito,
            store,
            clock,
            #[cfg(feature = "kms")]
            kms,
        } = self;
        s.validate(store.is_none())?;
        #[cfg(feature = "kms")]
        let needs_kms = s.kms_ciphertext.is_some() && kms.is_none();
        #[cfg(not(feature = "kms"))]
        let needs_kms = false;
        let allowed_origins = parse_origins(&s.allowed_origins.join(","))?;
        let needs_sdk = cognito.is_none() || (store.is_none() && dynamodb.is_none()) || needs_kms;
        let sdk_config = match (sdk_config, needs_sdk) {
            (Some(config), _) => Some(config),
            (None, true) => {
                Some(Box::pin(aws_config::defaults(BehaviorVersion::latest()).load()).await)
            }
            (None, false) => None,
        };
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(s.operation_timeout.min(Duration::from_secs(1)))
            .operation_attempt_timeout(s.operation_timeout)
            .operation_timeout(s.operation_timeout)
            .build();
        let pool_region = s.user_pool_id.as_deref().map(pool_region).transpose()?;
        let region_of = |config: &SdkConfig| {
            config
                .region()
                .cloned()
                .or_else(|| pool_region.map(|r| Region::new(r.to_owned())))
        };
        let cognito_client = match (cognito, &sdk_config) {
            (Some(client), _) => client,
            (None, Some(config)) => {
                let region = pool_region
                    .map(|r| Region::new(r.to_owned()))
                    .or_else(|| config.region().cloned());
                let conf = aws_sdk_cognitoidentityprovider::config::Builder::from(config)
                    .region(region)
                    .timeout_config(timeouts.clone())
                    .build();
                aws_sdk_cognitoidentityprovider::Client::from_conf(conf)
            }
            (None, None) => unreachable_config()?,
        };
        let current = match (&s.encryption_key, &s.kms_ciphertext) {
            (Some(key), _) => Some(parse_key(key).map_err(Error::config)?),
            #[cfg(feature = "kms")]
            (None, Some(ciphertext)) => {
                let client = match (kms, &sdk_config) {
                    (Some(client), _) => client,
                    (_, Some(config)) => aws_sdk_kms::Client::from_conf(
                        aws_sdk_kms::config::Builder::from(config)
                            .region(region_of(config))
                            .timeout_config(timeouts.clone())
                            .build(),
                    ),
                    (None, None) => unreachable_config()?,
                };
                Some(Box::pin(kms_data_key(&client, ciphertext)).await?)
            }
            #[cfg(not(feature = "kms"))]
            (None, Some(_)) => {
                return Err(Error::config(
                    "SESSION_KMS_CIPHERTEXT needs cognito-session's `kms` feature",
                ))
            }
            (None, None) => None,
        };
        let sealer = match current {
            Some(current) => Some(Sealer::new(current, s.old_keys()?)),
            None => None,
        };
        // The table name is part of every sealed value's associated data (for a custom store,
        // whatever `table` says, if anything).
        let sealing = Sealing::new(sealer, s.table.clone().unwrap_or_default());
        let store: Arc<dyn SessionStore> = match (store, dynamodb, &sdk_config) {
            (Some(store), _, _) => store,
            (None, client, config) => {
                let client = match (client, config) {
                    (Some(client), _) => client,
                    (None, Some(config)) => {
                        let conf = aws_sdk_dynamodb::config::Builder::from(config)
                            .region(region_of(config))
                            .timeout_config(timeouts.clone())
                            .build();
                        aws_sdk_dynamodb::Client::from_conf(conf)
                    }
                    (None, None) => unreachable_config()?,
                };
                let table = s.table.clone().unwrap_or_default();
                let key = s.partition_key.clone().unwrap_or_default();
                let mut store = DynamoDbStore::new(client, table, key);
                if let Some(sort_key) = &s.sort_key {
                    store = store.with_sort_key(sort_key);
                }
                Arc::new(store)
            }
        };

        let client_id = s.client_id.clone().unwrap_or_default();
        let verifier = Verifier {
            inner: s.verifier()?.build()?,
            client_id: client_id.clone(),
        };
        if let Some(jwks) = &s.jwks {
            let document = if jwks.trim_start().starts_with('{') {
                jwks.clone().into_bytes()
            } else {
                tokio::fs::read(jwks).await.map_err(|e| {
                    Error::config_with(format!("COGNITO_JWKS: cannot read the file {jwks:?}"), e)
                })?
            };
            verifier.inner.preload(&document).map_err(|why| {
                Error::config(format!(
                    "COGNITO_JWKS: {}",
                    match why {
                        cognito_jwt::Error::Config { message } => message,
                        other => other.to_string(),
                    }
                ))
            })?;
        }
        Ok(Sessions {
            inner: Arc::new(Inner {
                verifier,
                store,
                sealing,
                cognito: Cognito {
                    client: cognito_client,
                    client_id,
                    client_secret: s.client_secret.clone(),
                    rotation: s.rotation,
                },
                validation: s.validation,
                cookie: Arc::new(s.cookie.clone()),
                clock: clock.unwrap_or_else(|| Arc::new(SystemClock)),
                lease: s.refresh_lease,
                idle: s.idle_timeout,
                touch_interval: s.touch_interval,
                per_device: s.sort_key.is_some(),
                pool_id: s.user_pool_id.clone(),
                allowed_origins,
                memory: Default::default(),
            }),
        })
    }
}

fn unreachable_config<T>() -> Result<T, Error> {
    Err(Error::config(
        "internal: no AWS SDK configuration was loaded",
    ))
}
