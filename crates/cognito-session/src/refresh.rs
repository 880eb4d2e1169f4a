//! The refresh protocol: the one place that orchestrates the session store and Cognito.
//!
//! An expired but genuine token (signature, issuer, client and token use already verified)
//! proves who the user is; the row proves the session is still open and belongs to the same
//! login (token family); Cognito decides whether the refresh token still works. Only Cognito's
//! definitive "no" deletes the row; every transient failure changes nothing.
//!
//! The store is a compare-and-set record store ([`SessionStore`]): every rule below (who holds
//! the lease, who commits, who may delete, who joins) is written here once, as a write
//! conditioned on the row's version, for every store.
//!
//! # Versions: a refresh without a read
//! The protocol chooses every version it writes. A login, and every refresh, gives the row the
//! version `H(T)` of the access token `T` it issued (base64url of SHA-256, as `refreshed_from`),
//! so the row a request with expired token `T` needs to refresh is, in the usual case, exactly
//! the row at version `H(T)`. The request therefore takes the lease without reading first: an
//! update expecting version `H(T)`, or no version at all (a row written by the seed or by 0.1,
//! which never had one: [`SessionStore::update_any`]). If the guess is wrong (another request
//! holds the lease or refreshed already, the session was refreshed by a copy of the token), the
//! failed write returns the row as it is (`ReturnValuesOnConditionCheckFailure = ALL_OLD`),
//! which is exactly the read the request would have done, and the protocol goes on from it. A
//! refresh thus costs one `UpdateItem` (lease), one Cognito call and one `UpdateItem` (commit),
//! a seed row's first refresh included.
//!
//! The lease write does not know the whole row, so updates are patches ([`Patch`]: the
//! attributes to set or remove, and the new version), and a successful update returns the row
//! as written (`ReturnValues = ALL_NEW`): the leaseholder reads the refresh token from it.
//! Patches also keep writers from clobbering attributes they did not mean to change.
//!
//! Versions written: login and commit `H(new access token)`; a lease `lease.<id>` (unique per
//! lease, so a conflict showing it means our own write happened and its answer was lost);
//! releasing a lease gives the row the version the lease expected (the row is then as it was,
//! lease attributes removed; a row that had no version and was taken by the guess gets `H(T)`,
//! so the retry of that request guesses right again); a touch keeps the version (it changes
//! only `last_seen`, which no condition depends on, so it never breaks the guess); binding a
//! seed row, a random one.
//!
//! # Single flight
//! When a user's access token expires, every request in flight carries the expired token, each
//! in its own Lambda. Exactly one of them refreshes; the others join it through the row:
//!
//! ```text
//!  request A (first)           session row                 request B (concurrent)        Cognito
//!  ─────────────────           ───────────                 ──────────────────────        ───────
//!  UpdateItem: lease         ► version H(T) → lease.A,
//!   if version = H(T)          lease_id=A, lease_until=now+L
//!   (ALL_NEW: the row)                                ◄──── UpdateItem: lease if version = H(T):
//!                                                           fails, ALL_OLD: lease held by A
//!  InitiateAuth ─────────────────────────────────────────────────────────────────────────► new tokens
//!  verify the new token                                      wait 25–200 ms (jitter), GetItem
//!  UpdateItem: commit        ► version H(T'),
//!   if version = lease.A       refreshed_at=now,
//!                              refreshed_from=H(T),
//!                              refreshed_token=T' (sealed),
//!                              lease removed
//!  200 + Set-Cookie(T')                                ◄──── GetItem: refreshed_from = H(B's token),
//!                                                            refreshed_at within 60 s:
//!                                                            verify refreshed_token (current, same
//!                                                            sub and family), 200 with ITS claims
//!                                                            + Set-Cookie(T')
//! ```
//! If A's refresh fails transiently it releases the lease (version back to `H(T)`) and answers
//! 503; B then takes the lease and tries itself. If A dies, its lease lapses after `L` (the
//! refresh lease, default 3 s) and B takes over, expecting version `lease.A`. If Cognito refuses
//! the refresh token, A deletes the row (if its version is still `lease.A`) and B finds it gone:
//! both 401. A waiting request gives up with 503 after `L` plus one second (when the request's
//! deadline is known: after up to twice `L` plus one second, always before the deadline). A
//! request whose lease write happened but whose answer was lost (the SDK's retry meets its own
//! version) recognises its own lease.
//!
//! A row the request cannot use (ended, idle, another login, a key this function lacks, an
//! unusable refresh token) is found only once the guessed lease is taken; the lease is then
//! released at once (the row as it was), and the request is refused as before.
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
//! # Replaced tokens
//! Once a refresh has issued a newer access token for a login (the row's `refreshed_token`), an
//! expired token of that login with an earlier `iat` is refused after the grace window
//! (`SESSION_REPLACED_TOKEN_GRACE`, default 60 s, counted from `refreshed_at`):
//! [`Unauthorized::Replaced`], no call to Cognito, the row untouched, a warning naming a possibly
//! copied cookie. The check runs on the row the lease guess returned, before the join rule; a
//! guess that succeeds means the presented token is the newest (or the row has no version: a
//! seed or 0.1 row, which records no refresh), so it never applies there.
//! Inside the window everything above holds unchanged. A token newer than the row's record (a
//! refresh whose commit failed) has a later `iat` and is not refused; a row with no refresh
//! recorded (a login's first hour, a seed row) refuses nothing.
//!
//! # Rows written by the seed
//! A seed row has no `version`: the guess accepts that, so its first refresh costs what every
//! refresh costs (lease, Cognito, commit), and the commit gives it a version. Concurrent
//! requests still single-flight: the first lease write gives the row a version, so the others'
//! guesses fail and return the leased row. A seed row has no `origin_jti`, so it cannot tell
//! the logins of its user apart: until its first refresh every genuine token of the user
//! passes the family check. That refresh tells us
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
//!   lease now (conditioned on the version the conflict returned, which holds the old token);
//! - a conflict because the row now holds another refresh token of the same login (a
//!   concurrent refresh within the grace period) leaves it: the session stands, and this
//!   request answers with its tokens;
//! - Cognito's `RefreshTokenReuseException` (an old refresh token used after the grace period:
//!   a copy was used twice) ends the session with a warning naming possible token theft.

mod holder;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::budget::Budget;
use crate::cognito::{Cognito, Tokens};
use crate::error::{Error, Unauthorized};
use crate::policy::{issued, key_of, token_id, usable};
use crate::seal::{SealError, Sealing};
use crate::store::{Patch, SessionKey, SessionRow, SessionStore, StoreError, Version, Write};
use crate::telemetry::{self, Audit, Count};
use crate::verify::{Claims, Freshness, Verifier};
use crate::{store_error, Clock, Service};

/// How long after a refresh the token it replaced may still join it (that token is what the
/// requests that raced the refresh carry); later, that token refreshes by itself.
const JOIN_WINDOW_MS: i64 = 60_000;

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

fn stored(row: &SessionRow) -> Option<&str> {
    row.refresh_token.as_ref().map(|t| t.expose_secret())
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
            .filter(|p| stored(row) == Some(p.replaces.as_str()))
            .map(|p| p.token.clone())
    }

    fn remember(&self, row: &SessionRow, token: &str) {
        let Some(replaces) = stored(row).map(str::to_owned) else {
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
pub(crate) fn reveal(sealing: &Sealing, row: &SessionRow) -> Result<String, Error> {
    let sub = row.sub.as_str();
    match sealing.reveal(row) {
        Ok(Some(token)) => Ok(token),
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
            tracing::error!(sub, error = %crate::error::Chain(&error), "the stored refresh token cannot be decrypted; the session cannot be refreshed; the row was kept");
            Err(Unauthorized::SessionEnded.into())
        }
    }
}

/// The refresh token of `row` if this request may send it to Cognito (decrypted, and plausible).
fn sendable(sealing: &Sealing, row: &SessionRow) -> Result<String, Error> {
    // Decrypted before any call: a row this function cannot read is never sent.
    let refresh_token = reveal(sealing, row)?;
    // Never sent to Cognito, never deleted: the operator may want to see it.
    if let Some((why, reason)) = unusable_refresh_token(&refresh_token) {
        tracing::warn!(
            sub = row.sub.as_str(),
            why,
            "refusing without calling Cognito; the row is kept"
        );
        return Err(reason.into());
    }
    Ok(refresh_token)
}

/// The `iat` of a token this library stored itself (the last refresh's, read back from the
/// row, sealed when encryption is on): read, not verified.
fn issued_at(token: &str) -> Option<u64> {
    use base64::Engine;
    let payload = token.split('.').nth(1)?;
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    serde_json::from_slice::<serde_json::Value>(&json)
        .ok()?
        .get("iat")?
        .as_u64()
}

/// The outcome of a refresh.
pub(crate) enum Outcome {
    /// This request refreshed: new tokens and their verified claims.
    Refreshed(Box<(Claims, Tokens, Option<crate::Profile>)>),
    /// Another request refreshed this very token moments ago: the access token that refresh
    /// produced (verified again here) and its claims, never the presented token's.
    Joined(Box<(Claims, Tokens)>),
}

/// A short lease on a session row: only its holder calls Cognito to refresh the session.
#[derive(Debug, Clone)]
pub(crate) struct Lease {
    /// Random id of the holder.
    id: String,
    /// When it lapses, epoch milliseconds (a crashed holder's lease lapses by itself).
    until_ms: i64,
    /// The version releasing the lease gives the row back: the one it expected.
    before: Option<Version>,
    /// The versions the lease write accepts: `before`, and for the guess also none.
    expects: Vec<Option<Version>>,
}

impl Lease {
    /// A lease on the row at version `before`.
    fn new(until_ms: i64, before: Option<Version>) -> Self {
        Lease {
            id: random_id(),
            until_ms,
            expects: vec![before.clone()],
            before,
        }
    }

    /// The guess for a request presenting `token`: the row at the version its login or refresh
    /// gave it, or a row with no version at all (written by the seed or by 0.1), whose first
    /// refresh thus costs no more than any other.
    fn guess(until_ms: i64, token: &str) -> Self {
        let version = issued(token);
        Lease {
            id: random_id(),
            until_ms,
            expects: vec![Some(version.clone()), None],
            before: Some(version),
        }
    }

    /// The row's version while this lease is held.
    fn version(&self) -> Version {
        Version::new(format!("lease.{}", self.id))
    }

    fn patch(&self) -> Patch {
        let mut patch = Patch::new(Some(self.version()));
        patch.lease_id = Write::Set(self.id.clone());
        patch.lease_until_ms = Write::Set(self.until_ms);
        patch
    }
}

/// Whether `row` carries a lease still held at `now_ms`.
fn leased_at(row: &SessionRow, now_ms: i64) -> bool {
    row.lease_id.is_some() && row.lease_until_ms.is_some_and(|until| now_ms <= until)
}

/// What the refresh needs from the `Sessions` it runs in.
pub(crate) struct Refresher<'a> {
    pub store: &'a dyn SessionStore,
    pub sealing: &'a Sealing,
    pub cognito: &'a Cognito,
    pub verifier: &'a Verifier,
    /// Verifies the refresh's ID token, whose claims renew the stored profile.
    pub id_verifier: &'a Verifier,
    pub clock: &'a dyn Clock,
    pub lease: Duration,
    pub idle: Option<u64>,
    /// How long after a refresh an older token of the login still counts (milliseconds).
    pub grace_ms: i64,
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

/// What a lease write found.
enum Taken {
    /// The lease is ours: the row as written.
    Leased(SessionRow),
    /// Another version: the row as it is.
    Current(SessionRow),
}

impl Refresher<'_> {
    fn now_ms(&self) -> i64 {
        millis(self.clock.now())
    }

    /// A conditional update within `budget`, if the row's version is any of `expected`. A
    /// conflict showing the very version this write gives means the write happened and its
    /// answer was lost (the SDK's retry met it): the write's success.
    async fn update(
        &self,
        budget: Budget,
        key: SessionKey<'_>,
        expected: &[Option<Version>],
        patch: &Patch,
    ) -> Result<SessionRow, StoreError> {
        match budget
            .store(self.store.update_any(key, expected, patch))
            .await
        {
            Err(StoreError::Conflict(Some(current)))
                if patch.version.is_some()
                    && current.version == patch.version
                    && !expected.contains(&patch.version) =>
            {
                Ok(*current)
            }
            other => other,
        }
    }

    /// Takes `lease` on the row at `key` if its version is still the one the lease expects.
    async fn take(&self, key: SessionKey<'_>, lease: &Lease) -> Result<Taken, Error> {
        match self
            .update(self.budget, key, &lease.expects, &lease.patch())
            .await
        {
            Ok(row) => Ok(Taken::Leased(row)),
            Err(StoreError::Conflict(Some(current))) => Ok(Taken::Current(*current)),
            Err(StoreError::Conflict(None)) => Err(Unauthorized::SessionEnded.into()),
            Err(error) => Err(store_error(error, "taking the refresh lease")),
        }
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
        let key = key_of(claims, self.per_device);
        // The guess: the row as the login or refresh that issued this token left it (or a row
        // without a version).
        let guess = Lease::guess(start + lease_ms, token);
        let mut row = match self.take(key, &guess).await? {
            Taken::Leased(row) => {
                return self.refresh_guessed(row, &guess, &presented, claims).await
            }
            Taken::Current(row) => row,
        };
        let mut pause = Duration::from_millis(25);
        loop {
            let now = self.now_ms();
            usable(
                &row,
                claims,
                u64::try_from(now / 1000).unwrap_or_default(),
                self.idle,
            )?;
            if self.replaced(&row, claims, now) {
                telemetry::count(Count::ReplacedToken);
                telemetry::audit(
                    "replaced_token_refused",
                    "an expired access token that a refresh replaced was presented after the \
                     grace window: possibly a copied cookie; refused, the session is kept",
                    Audit {
                        sub: Some(claims.sub()),
                        family: claims.origin_jti(),
                        warn: true,
                        ..Audit::default()
                    },
                );
                return Err(Unauthorized::Replaced.into());
            }
            if let Some(joined) = self.join(&row, &presented, claims, now).await? {
                return Ok(Outcome::Joined(Box::new(joined)));
            }
            let refresh_token = sendable(self.sealing, &row)?;
            if !leased_at(&row, now) {
                if row.lease_id.is_some() {
                    // A lease that lapsed: its holder crashed or timed out.
                    telemetry::count(Count::LeaseTakeover);
                }
                let lease = Lease::new(now + lease_ms, row.version.clone());
                match self.take(key, &lease).await? {
                    Taken::Leased(row) => {
                        return self
                            .refresh_holding(row, &refresh_token, &lease, &presented, claims)
                            .await
                    }
                    // The row changed since it was read: look at it again at once.
                    Taken::Current(current) => {
                        row = current;
                        if self.now_ms() <= give_up {
                            continue;
                        }
                    }
                }
            }
            if self.now_ms() > give_up {
                return Err(Error::unavailable(
                    Service::DynamoDb,
                    "waiting for a concurrent refresh",
                    "another request holds the refresh lease",
                ));
            }
            telemetry::count(Count::LeaseWait);
            let jitter = Duration::from_millis(u64::from(random_id().as_bytes()[0] % 16) * 3);
            tokio::time::sleep(pause + jitter).await;
            pause = (pause * 2).min(Duration::from_millis(200));
            row = self
                .budget
                .store(self.store.load(key))
                .await
                .map_err(|e| store_error(e, "reading the session"))?
                .ok_or(Unauthorized::SessionEnded)?;
        }
    }

    /// The guessed lease was taken: the row is the one the presented token's login or refresh
    /// wrote, or one without a version (written by the seed or by 0.1, neither of which records
    /// a refresh): either way there is no refresh of that token to join. The checks a read
    /// would have made come now; a row that fails them gets its lease back, unchanged but for
    /// its version (see the module docs).
    async fn refresh_guessed(
        &self,
        row: SessionRow,
        lease: &Lease,
        presented: &str,
        claims: &Claims,
    ) -> Result<Outcome, Error> {
        let now = u64::try_from(self.now_ms() / 1000).unwrap_or_default();
        let checked = usable(&row, claims, now, self.idle)
            .map_err(Error::from)
            .and_then(|()| sendable(self.sealing, &row));
        match checked {
            Ok(refresh_token) => {
                self.refresh_holding(row, &refresh_token, lease, presented, claims)
                    .await
            }
            Err(error) => {
                self.release(&row, lease).await;
                Err(error)
            }
        }
    }

    /// Whether the presented token (`claims`) is older than the newest token of its login, and
    /// the refresh that issued that one is past the grace window. The newest token is the last
    /// refresh's (`refreshed_token`); a row with none (a login not refreshed yet, a seed row
    /// before its first refresh) has no history to compare with. Older means an earlier `iat`:
    /// a token newer than the row's record (a refresh whose commit failed) is not refused.
    fn replaced(&self, row: &SessionRow, claims: &Claims, now_ms: i64) -> bool {
        let Some(at) = row.refreshed_at_ms else {
            return false;
        };
        if now_ms.saturating_sub(at) <= self.grace_ms {
            return false;
        }
        self.sealing
            .open_refreshed(row)
            .and_then(|newest| issued_at(&newest))
            .is_some_and(|newest| claims.iat() < newest)
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
        let (Some(at), Some(replaced), Some(_)) = (
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
        let Some(token) = self.sealing.open_refreshed(row) else {
            return Ok(None);
        };
        let now_secs = u64::try_from(now_ms / 1000).unwrap_or_default();
        match self
            .budget
            .verify(self.verifier.verify(&token, now_secs))
            .await
        {
            Ok((new_claims, Freshness::Current))
                if new_claims.sub() == claims.sub()
                    && new_claims.origin_jti() == claims.origin_jti() =>
            {
                let left = new_claims.exp().saturating_sub(now_secs);
                let mut tokens = Tokens::new(&token, None);
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
}
