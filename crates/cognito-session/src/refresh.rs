//! The refresh protocol: the one place that orchestrates the session store and Cognito.
//!
//! An expired but genuine token (signature, issuer, client and token use already verified)
//! proves who the user is; the row proves the session is still open and belongs to the same
//! login (token family); Cognito decides whether the refresh token still works. Only Cognito's
//! definitive "no" deletes the row; every transient failure changes nothing.
//!
//! # Single flight
//! When a user's access token expires, every request in flight carries the expired token, each
//! in its own Lambda. Exactly one of them refreshes; the others join it through the row:
//!
//! ```text
//!  request A (first)           session row                 request B (concurrent)        Cognito
//!  ─────────────────           ───────────                 ──────────────────────        ───────
//!  GetItem ───────────────────► no lease
//!  take lease (conditional:
//!   no live lease, same token) ► lease_id=A, lease_until=now+L
//!                                                     ◄──── GetItem: lease held by A
//!  InitiateAuth ─────────────────────────────────────────────────────────────────────────► new tokens
//!  verify the new token                                      wait 25–200 ms (jitter), re-read
//!  commit (conditional: lease
//!   is A's, same token) ──────► refreshed_at=now,
//!                               refreshed_from=H(old token),
//!                               refreshed_token=new token
//!                               (sealed), lease removed
//!  200 + Set-Cookie(new)                               ◄──── GetItem: refreshed_from = H(B's token),
//!                                                            refreshed_at within 60 s:
//!                                                            verify refreshed_token (current, same
//!                                                            sub and family), 200 with ITS claims
//!                                                            + Set-Cookie(new)
//! ```
//! If A's refresh fails transiently it releases the lease and answers 503; B then takes the lease
//! and tries itself. If A dies, its lease lapses after `L` (the refresh lease, default 3 s) and B
//! takes over. If Cognito refuses the refresh token, A deletes the row and B finds it gone: both 401.
//! A waiting request gives up with 503 after `L` plus one second (when the request's deadline is
//! known: after up to twice `L` plus one second, always before the deadline). A request whose
//! lease write happened but whose answer was lost recognises its own lease on the next read.
//!
//! # The join rule
//! A request joins a refresh, instead of refreshing itself, only when all of these hold:
//! - the row records that refresh (`refreshed_at`) at most 60 s ago (`JOIN_WINDOW_MS`);
//! - the refresh replaced the very token this request presents: `refreshed_from` is the SHA-256
//!   (base64url) of its bytes. Only that token can have raced the refresh; an older token of the
//!   same login, or a copy with other claims, does not match;
//! - the access token the refresh produced (`refreshed_token`, encrypted like the refresh token
//!   when the store encrypts) still verifies, is current, and has the same `sub` and family.
//!
//! The joiner is then authorized with the claims of that new token, never with those of the
//! token it presented, and answers with the new token's `Set-Cookie`, so every racing request
//! converges the browser on the new token. Anything else refreshes by itself under the lease
//! (Cognito then issues current claims) or is refused: a token presented after the window, a
//! token older than the one refreshed, a row refreshed by an older version of this library
//! (`refreshed_at` without the other two attributes), a stored token that expired or whose key
//! was retired. Per refresh this costs nothing extra in calls: the commit writes two more
//! attributes in the same `UpdateItem`, and a joiner's extra work is one token verification
//! (usually a hit in the verified-token cache).
//!
//! # Rows written by the seed
//! A seed row has no `origin_jti`, so it cannot tell the logins of its user apart: until its
//! first refresh every genuine token of the user passes the family check. That refresh tells us
//! the row's family (the new token's `origin_jti` is the refresh token's), and it is stored
//! whoever asked. When the presented token is of another (older) login, the request is refused
//! (`FamilyMismatch`), gets no token, and nobody may join that refresh; but the row is bound, so
//! that login's tokens are refused from then on without a Cognito call.
//!
//! # Which refusals end a session
//! See the table in the `cognito` module: only the refusals listed there as dead delete the
//! row; a refusal that points at this function's configuration is a 500 that keeps the row
//! (logged at error level the first time per cause in this process, at debug level after that).
//! A row whose refresh token is empty, not a string or longer than 16 KiB is refused with 401
//! before any Cognito call, and kept for the operator to inspect.
//!
//! # Refresh-token rotation
//! With rotation, Cognito's answer carries a new refresh token and the old one dies after the
//! app client's grace period (at once with a grace period of 0), so the new one must not be
//! lost between Cognito's answer and the row:
//! - from Cognito's answer until the commit, the new refresh token is kept in this process's
//!   memory ("pending", for the row's old token value), so no early return loses it (a token
//!   that does not verify during a JWKS outage, say);
//! - a transient failure of the commit is retried within the request's time; if it still
//!   fails, the lease is released and the request answers 503. The next request
//!   for that row in this process refreshes with the pending token instead of the dead one
//!   (another process falls back on the old token, which works within the grace period);
//! - a conflict (our lease was lost while Cognito answered and another request took it) while
//!   the row still holds the old refresh token writes the new one anyway, whoever holds the
//!   lease now (the row's token value is the condition);
//! - a conflict because the row now holds another refresh token of the same login (a
//!   concurrent refresh within the grace period) leaves it: the session stands, and this
//!   request answers with its tokens;
//! - Cognito's `RefreshTokenReuseException` (an old refresh token used after the grace period:
//!   a copy was used twice) ends the session with a warning naming possible token theft.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use crate::budget::Budget;
use crate::cognito::{Cognito, Dead, RefreshFailed, Tokens};
use crate::error::{Error, Unauthorized};
use crate::store::{Lease, Refreshed, SealError, SessionKey, SessionRow, SessionStore, StoreError};
use crate::verify::{Claims, Freshness, TokenCache, Verifier};
use crate::{store_error, Clock, Service};

/// How long after a refresh the token it replaced may still join it (that token is what the
/// requests that raced the refresh carry); later, that token refreshes by itself.
const JOIN_WINDOW_MS: i64 = 60_000;

/// How a refresh records the token it replaced (`refreshed_from`): base64url of its SHA-256.
fn token_id(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(TokenCache::hash(token))
}

/// The longest refresh token a row may hold: Cognito's are about 1.8 KB; anything far longer
/// is not one, and is never sent.
const MAX_REFRESH_TOKEN: usize = 16 * 1024;

/// Rotated refresh tokens kept in memory at most (one per row whose commit failed); past it the
/// list starts over, and the rows concerned fall back on the grace period.
const MAX_PENDING: usize = 1024;

/// What the refresh protocol remembers in one process (one cold start): the configuration
/// errors already logged at error level, and rotated refresh tokens not yet stored.
#[derive(Default)]
pub(crate) struct Memory {
    reported: Mutex<HashSet<String>>,
    pending: Mutex<HashMap<(String, Option<String>), Pending>>,
}

impl fmt::Debug for Memory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Memory").finish_non_exhaustive()
    }
}

/// A rotated refresh token that Cognito issued for a row holding `replaces` (the stored value),
/// which could not be written to the row.
struct Pending {
    replaces: String,
    token: String,
}

impl Memory {
    /// Whether `cause` is reported for the first time in this process.
    fn first_report(&self, cause: &str) -> bool {
        let mut reported = self.reported.lock().unwrap_or_else(|p| p.into_inner());
        reported.insert(cause.to_owned())
    }

    /// The pending rotated refresh token for `row`, if it still holds the token it replaces.
    fn pending(&self, row: &SessionRow) -> Option<String> {
        let pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        pending
            .get(&owned(row))
            .filter(|p| row.stored.as_deref() == Some(p.replaces.as_str()))
            .map(|p| p.token.clone())
    }

    fn remember(&self, row: &SessionRow, token: &str) {
        let Some(replaces) = row.stored.clone() else {
            return;
        };
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        if pending.len() >= MAX_PENDING {
            pending.clear();
        }
        pending.insert(
            owned(row),
            Pending {
                replaces,
                token: token.to_owned(),
            },
        );
    }

    fn forget(&self, row: &SessionRow) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        pending.remove(&owned(row));
    }
}

fn owned(row: &SessionRow) -> (String, Option<String>) {
    (row.sub.clone(), row.session_id.clone())
}

/// Why the row's (decrypted) refresh token cannot be sent to Cognito, if it cannot, and the 401
/// to answer. (A missing or non-string `token` attribute never gets here: [`reveal`] refuses it.)
fn unusable_refresh_token(token: &str) -> Option<(&'static str, Unauthorized)> {
    if token.is_empty() {
        Some((
            "the session row's refresh token is empty",
            Unauthorized::UnusableRefreshToken,
        ))
    } else if token.len() > MAX_REFRESH_TOKEN {
        Some((
            "the session row's refresh token is longer than 16 KiB",
            Unauthorized::UnusableRefreshToken,
        ))
    } else {
        None
    }
}

/// Does the row belong to the login that produced `claims`? Rows written by the seed carry no
/// family; they are bound to one on their first refresh.
pub(crate) fn same_family(row: &SessionRow, claims: &Claims) -> Result<(), Unauthorized> {
    match (&row.origin_jti, claims.origin_jti()) {
        (Some(row_family), Some(token_family)) if row_family == token_family => Ok(()),
        (Some(_), _) => Err(Unauthorized::FamilyMismatch),
        (None, _) => Ok(()),
    }
}

/// Is `row` a live session for the login of `claims` at `now` (epoch seconds)? Checks the token
/// family, the absolute lifetime (`expires_at`, which DynamoDB's TTL enforces only lazily) and,
/// when set, the idle timeout (since the last recorded activity or refresh).
pub(crate) fn usable(
    row: &SessionRow,
    claims: &Claims,
    now: u64,
    idle: Option<u64>,
) -> Result<(), Unauthorized> {
    same_family(row, claims)?;
    let now = i64::try_from(now).unwrap_or(i64::MAX);
    if row.expires_at.is_some_and(|end| now > end) {
        return Err(Unauthorized::SessionEnded);
    }
    if let Some(idle) = idle {
        if now.saturating_sub(last_active(row)) > i64::try_from(idle).unwrap_or(i64::MAX) {
            return Err(Unauthorized::SessionEnded);
        }
    }
    Ok(())
}

/// The row of the login that produced `claims`: keyed by `sub`, plus the token family when the
/// table keeps one session per device.
pub(crate) fn key_of(claims: &Claims, per_device: bool) -> SessionKey<'_> {
    SessionKey {
        sub: claims.sub(),
        session: if per_device {
            claims.origin_jti()
        } else {
            None
        },
    }
}

/// The last recorded activity of a session: a touch, a refresh or the login.
pub(crate) fn last_active(row: &SessionRow) -> i64 {
    row.last_seen.unwrap_or(row.timestamp).max(row.timestamp)
}

/// The plaintext refresh token of `row`, decrypted for the one call that sends it to Cognito (a
/// refresh, a logout's `RevokeToken`); nothing else decrypts a row.
///
/// - A row encrypted with a key this function does not have (no `SESSION_ENCRYPTION_KEY` at
///   all, or keys without the row's key id) is this function's misconfiguration:
///   [`Error::Config`] (500) naming the key id. The row is kept, and the ciphertext is never
///   sent to Cognito (it would refuse it, and the refusal would end the session).
/// - A damaged ciphertext (or one copied from another row) decrypts with no key: the session
///   cannot be refreshed, so 401 [`Unauthorized::SessionEnded`] with an error log; the row is
///   kept for the operator to inspect (only Cognito's refusal or a logout deletes a row).
pub(crate) fn reveal(store: &dyn SessionStore, row: &SessionRow) -> Result<String, Error> {
    let sub = row.sub.as_str();
    match store.reveal(row) {
        Ok(Some(opened)) => Ok(opened.token),
        Ok(None) => {
            tracing::warn!(
                sub,
                "the session row has no refresh token (missing or not a string); refusing without calling Cognito; the row is kept"
            );
            Err(Unauthorized::SessionEnded.into())
        }
        Err(SealError::UnknownKey(id) | SealError::NoKey(id)) => {
            tracing::error!(sub, key_id = id.as_str(), "a session row is encrypted with a key this function does not have; the row was kept");
            Err(Error::config(format!(
                "a session row's refresh token is encrypted with key {id}, which this function \
                 does not have: set SESSION_ENCRYPTION_KEY (or SESSION_KMS_CIPHERTEXT) to that key, \
                 or add it to SESSION_ENCRYPTION_OLD_KEYS; the row was kept and nothing was sent \
                 to Cognito"
            )))
        }
        Err(error) => {
            tracing::error!(sub, %error, "the stored refresh token cannot be decrypted; the session cannot be refreshed; the row was kept");
            Err(Unauthorized::SessionEnded.into())
        }
    }
}

/// The outcome of a refresh.
pub(crate) enum Outcome {
    /// This request refreshed: new tokens and their verified claims.
    Refreshed(Box<(Claims, Tokens)>),
    /// Another request refreshed this very token moments ago: the access token that refresh
    /// produced (verified again here) and its claims, never the presented token's.
    Joined(Box<(Claims, Tokens)>),
}

/// What the refresh needs from the `Sessions` it runs in.
pub(crate) struct Refresher<'a> {
    pub store: &'a dyn SessionStore,
    pub cognito: &'a Cognito,
    pub verifier: &'a Verifier,
    pub clock: &'a dyn Clock,
    pub lease: Duration,
    pub idle: Option<u64>,
    pub per_device: bool,
    /// The Lambda invocation's deadline, if known: the lease and the wait end before it.
    pub deadline: Option<SystemTime>,
    /// Every store and Cognito call is bounded by it.
    pub budget: Budget,
    /// What this process remembers between requests.
    pub memory: &'a Memory,
}

fn millis(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn random_id() -> String {
    let mut bytes = [0u8; 8];
    // Without randomness the lease id still only has to differ between concurrent requests.
    if aws_lc_rs::rand::fill(&mut bytes).is_err() {
        bytes = millis(SystemTime::now()).to_le_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Refresher<'_> {
    fn now_ms(&self) -> i64 {
        millis(self.clock.now())
    }

    /// Refreshes the session of the expired `token` (whose verified claims are `claims`), or
    /// joins a concurrent refresh of the same token.
    pub(crate) async fn refresh(&self, token: &str, claims: &Claims) -> Result<Outcome, Error> {
        let presented = token_id(token);
        let start = self.now_ms();
        let configured = i64::try_from(self.lease.as_millis()).unwrap_or(3_000);
        // Leave the function time to answer: the lease and the wait end 300 ms before its deadline.
        let remaining = self.deadline.map(|d| millis(d) - start - 300);
        let lease_ms = remaining.map_or(configured, |r| configured.min(r).max(100));
        // With a known deadline a waiter may outlast one more lease (taken by another waiter
        // after the first holder failed), as long as its deadline allows.
        let give_up = remaining.map_or(start + lease_ms + 1_000, |r| {
            start + r.min(2 * lease_ms + 1_000)
        });
        let mut pause = Duration::from_millis(25);
        // The lease this request last tried to take, in case the write happened but its answer
        // was lost (the SDK's retry then meets our own lease and reports a conflict).
        let mut attempted: Option<Lease> = None;
        loop {
            let row = self
                .budget
                .store(self.store.get(key_of(claims, self.per_device)))
                .await
                .map_err(|e| store_error(e, "reading the session"))?
                .ok_or(Unauthorized::SessionEnded)?;
            let now = self.now_ms();
            usable(
                &row,
                claims,
                u64::try_from(now / 1000).unwrap_or_default(),
                self.idle,
            )?;
            if let Some(joined) = self.join(&row, &presented, claims, now).await? {
                return Ok(Outcome::Joined(Box::new(joined)));
            }
            // Decrypted before any write: a row this function cannot read stays untouched.
            let refresh_token = reveal(self.store, &row)?;
            // Never sent to Cognito, never deleted: the operator may want to see it.
            if let Some((why, reason)) = unusable_refresh_token(&refresh_token) {
                tracing::warn!(
                    sub = row.sub.as_str(),
                    why,
                    "refusing without calling Cognito; the row is kept"
                );
                return Err(reason.into());
            }
            if let (Some(mine), Some(held)) = (&attempted, &row.lease) {
                if held.id == mine.id && held.held_at(now) {
                    let lease = held.clone();
                    return self
                        .refresh_holding(row, &refresh_token, &lease, &presented, claims)
                        .await;
                }
            }
            if !row.lease.as_ref().is_some_and(|l| l.held_at(now)) {
                let lease = Lease {
                    id: random_id(),
                    until_ms: now + lease_ms,
                };
                match self
                    .budget
                    .store(self.store.take_lease(&row, &lease, now))
                    .await
                {
                    Ok(()) => {
                        return self
                            .refresh_holding(row, &refresh_token, &lease, &presented, claims)
                            .await
                    }
                    Err(StoreError::Conflict) => attempted = Some(lease),
                    Err(error) => return Err(store_error(error, "taking the refresh lease")),
                }
            }
            if self.now_ms() > give_up {
                return Err(Error::unavailable(
                    Service::DynamoDb,
                    "waiting for a concurrent refresh",
                    "another request holds the refresh lease",
                ));
            }
            let jitter = Duration::from_millis(u64::from(random_id().as_bytes()[0] % 16) * 3);
            tokio::time::sleep(pause + jitter).await;
            pause = (pause * 2).min(Duration::from_millis(200));
        }
    }

    /// The join rule: `row` records a refresh of the presented token (`presented`, its
    /// [`token_id`]) within the join window, and the access token that refresh produced still
    /// verifies, is current, and belongs to the same user and login. Then that token and its
    /// claims; `None` when this request may not join (it refreshes by itself).
    async fn join(
        &self,
        row: &SessionRow,
        presented: &str,
        claims: &Claims,
        now_ms: i64,
    ) -> Result<Option<(Claims, Tokens)>, Error> {
        let (Some(at), Some(replaced), Some(token)) = (
            row.refreshed_at_ms,
            row.refreshed_from.as_deref(),
            row.refreshed_token.as_deref(),
        ) else {
            // No refresh, or one recorded without what a joiner needs (by an older version of
            // this library, or a refused refresh): nothing to join.
            return Ok(None);
        };
        if replaced != presented || now_ms - at > JOIN_WINDOW_MS {
            return Ok(None);
        }
        let now_secs = u64::try_from(now_ms / 1000).unwrap_or_default();
        match self
            .budget
            .verify(self.verifier.verify(token, now_secs))
            .await
        {
            Ok((new_claims, Freshness::Current))
                if new_claims.sub() == claims.sub()
                    && new_claims.origin_jti() == claims.origin_jti() =>
            {
                let left = new_claims.exp().saturating_sub(now_secs);
                let mut tokens = Tokens::new(token, None);
                tokens.expires_in = i32::try_from(left).unwrap_or(i32::MAX);
                Ok(Some((new_claims, tokens)))
            }
            // Not a current token of this login (it expired, or its key was retired): refresh.
            Ok(_) | Err(Error::Unauthorized(_)) => {
                tracing::debug!(
                    sub = claims.sub(),
                    "the last refresh's access token is no longer usable; refreshing instead of joining"
                );
                Ok(None)
            }
            Err(error) => Err(error),
        }
    }

    /// The lease holder's part: call Cognito, then commit (or release, or end the session).
    /// `presented` identifies the token being refreshed ([`token_id`]): the requests that carry
    /// it too may join this refresh.
    async fn refresh_holding(
        &self,
        row: SessionRow,
        refresh_token: &str,
        lease: &Lease,
        presented: &str,
        claims: &Claims,
    ) -> Result<Outcome, Error> {
        let sub = claims.sub();
        // A rotated refresh token that this process could not store replaces the row's (which
        // Cognito may already have invalidated).
        let pending = self.memory.pending(&row);
        let refresh_token = pending.as_deref().unwrap_or(refresh_token);
        let refreshing = Box::pin(self.cognito.refresh(
            refresh_token,
            claims.username(),
            row.device_key.as_deref(),
        ));
        let tokens = match self.budget.cognito(refreshing).await {
            Ok(tokens) => tokens,
            Err(RefreshFailed::Dead(dead)) => return Err(self.end(&row, claims, dead).await),
            Err(RefreshFailed::Misconfigured { cause, error }) => {
                if self.memory.first_report(&cause) {
                    tracing::error!(sub, %cause, %error, "Cognito refused the refresh because of this function's configuration; the session was kept");
                } else {
                    tracing::debug!(sub, %cause, "Cognito refused the refresh (configuration, already reported)");
                }
                self.release(&row, lease).await;
                return Err(error);
            }
            Err(RefreshFailed::Other(error)) => {
                self.release(&row, lease).await;
                return Err(error);
            }
        };
        // From here on the row's refresh token may be dead: until the new one is stored, this
        // process keeps it (every early return below would otherwise lose it).
        if let Some(new) = &tokens.refresh_token {
            self.memory.remember(&row, new);
        }

        let now_secs = u64::try_from(self.now_ms() / 1000).unwrap_or_default();
        let verified = self
            .budget
            .verify(self.verifier.verify(&tokens.access_token, now_secs))
            .await;
        let new_claims = match verified {
            Ok((new_claims, _)) if new_claims.sub() == sub => new_claims,
            other => {
                self.release(&row, lease).await;
                let why = match other {
                    Err(e) => format!("Cognito returned an access token that does not verify: {e}"),
                    Ok(_) => "Cognito returned a token for another user".to_owned(),
                };
                return Err(Error::unavailable(
                    Service::Cognito,
                    "checking the refreshed token",
                    why,
                ));
            }
        };
        // A seed row has no family yet: the refresh token's family (the new token's origin_jti)
        // must be the presented token's, or the presented token is from an older login.
        if row.origin_jti.is_none() {
            if let (Some(family), Some(current)) = (claims.origin_jti(), new_claims.origin_jti()) {
                if family != current {
                    self.bind(&row, lease, current, tokens.refresh_token.as_deref())
                        .await;
                    return Err(Unauthorized::FamilyMismatch.into());
                }
            }
        }

        let now_ms = self.now_ms();
        let refreshed = Refreshed {
            timestamp: now_ms / 1000,
            refreshed_at_ms: now_ms,
            origin_jti: new_claims.origin_jti(),
            // A pending token that worked must reach the row even if Cognito did not rotate it.
            refresh_token: tokens.refresh_token.as_deref().or(pending.as_deref()),
            access_token: Some(&tokens.access_token),
            replaced: Some(presented),
        };
        let rotated = refreshed.refresh_token.is_some();
        self.commit(&row, lease, claims, refreshed, rotated).await?;
        if pending.is_some() || rotated {
            self.memory.forget(&row);
        }
        let mut tokens = tokens;
        // The refresh token stays server-side.
        tokens.refresh_token = None;
        Ok(Outcome::Refreshed(Box::new((new_claims, tokens))))
    }

    /// A seed row's refresh, asked for by an older login's token, told us the row's login
    /// (`family`, the refresh token's): bind the row to it under our lease, so that older
    /// login's tokens are refused from now on without a Cognito call. The refused request gets
    /// no token and nobody may join this refresh; the row's `timestamp` (activity) stays. A
    /// refresh token Cognito rotated meanwhile is stored, or the current login would lose it.
    async fn bind(&self, row: &SessionRow, lease: &Lease, family: &str, rotated: Option<&str>) {
        let binding = Refreshed {
            timestamp: row.timestamp,
            refreshed_at_ms: self.now_ms(),
            origin_jti: Some(family),
            refresh_token: rotated,
            access_token: None,
            replaced: None,
        };
        let commit = self.store.commit_refresh(row, Some(&lease.id), binding);
        if let Err(error) = self.budget.cleanup().store(commit).await {
            tracing::warn!(sub = row.sub.as_str(), %error, "could not bind the seed's session row to its login");
            self.release(row, lease).await;
        }
    }

    /// Cognito said the refresh token is dead: delete the row (if it still holds that token).
    async fn end(&self, row: &SessionRow, claims: &Claims, dead: Dead) -> Error {
        let sub = claims.sub();
        if dead == Dead::Reused {
            tracing::warn!(sub, reason = %dead, "Cognito reports reuse of a rotated-out refresh token: possible token theft; ending the session");
        } else {
            tracing::info!(sub, reason = %dead, "Cognito refused the refresh token; ending the session");
        }
        self.memory.forget(row);
        let delete = self.store.delete(row.key(), Some(row));
        match self.budget.cleanup().store(delete).await {
            Ok(()) => {}
            // The row holds another refresh token now (a concurrent refresh stored it, or a new
            // login): whether the session stands is for the retry to find out.
            Err(StoreError::Conflict) => {
                return Error::unavailable(
                    Service::DynamoDb,
                    "ending a refused session",
                    "the session row changed while Cognito answered",
                )
            }
            Err(error) => {
                tracing::warn!(sub, %error, "could not delete the refused session row");
            }
        }
        Unauthorized::Revoked.into()
    }

    /// Records the refresh in the row (see "Refresh-token rotation" in the module docs).
    async fn commit(
        &self,
        row: &SessionRow,
        lease: &Lease,
        claims: &Claims,
        refreshed: Refreshed<'_>,
        rotated: bool,
    ) -> Result<(), Error> {
        let sub = claims.sub();
        let mut lease_id = Some(lease.id.as_str());
        let mut retries = [Duration::from_millis(50), Duration::from_millis(150)].into_iter();
        loop {
            let commit = self.store.commit_refresh(row, lease_id, refreshed);
            let error = match self.budget.cleanup().store(commit).await {
                Ok(()) => return Ok(()),
                Err(error) => error,
            };
            match error {
                StoreError::Conflict => {
                    // Our lease lapsed or the row changed while Cognito answered (or our own
                    // commit happened and its answer was lost). If the row cannot be read now,
                    // we cannot tell: 503, not 401.
                    let current = self.budget.cleanup().store(self.store.get(row.key()));
                    let current = current
                        .await
                        .map_err(|e| store_error(e, "checking the session after a refresh"))?;
                    match current {
                        Some(current) if same_family(&current, claims).is_ok() => {
                            if !rotated || current.stored != row.stored {
                                // Unchanged refresh token (no rotation), or another refresh of
                                // this login stored its own: the session stands.
                                return Ok(());
                            }
                            if lease_id.is_none() {
                                return Err(Error::unavailable(
                                    Service::DynamoDb,
                                    "storing the rotated refresh token",
                                    "the session row keeps changing",
                                ));
                            }
                            // Still the refresh token Cognito just rotated out: store the new
                            // one whoever holds the lease now.
                            lease_id = None;
                        }
                        _ => return Err(Unauthorized::SessionEnded.into()),
                    }
                }
                // Without rotation the stored refresh token is unchanged: the session is intact.
                error if !rotated => {
                    tracing::warn!(sub, %error, "refreshed, but could not record the refresh");
                    return Ok(());
                }
                error => match retries.next() {
                    Some(pause) => tokio::time::sleep(pause).await,
                    None => {
                        // The old refresh token may be dead already: the new one stays in
                        // memory for the next request, which may take the lease at once.
                        tracing::warn!(sub, %error, "could not store the rotated refresh token; it is kept in memory for the next request");
                        self.release(row, lease).await;
                        return Err(store_error(error, "storing the rotated refresh token"));
                    }
                },
            }
        }
    }

    async fn release(&self, row: &SessionRow, lease: &Lease) {
        let release = self.store.release_lease(row, &lease.id);
        if let Err(error) = self.budget.cleanup().store(release).await {
            tracing::warn!(sub = row.sub.as_str(), %error, "could not release the refresh lease; it lapses by itself");
        }
    }
}
