//! The lease holder's part of the refresh protocol: call Cognito, then commit, release, bind a
//! seed row or end the session, each a write conditioned on the lease's version.

use std::time::Duration;

use super::{random_id, Lease, Outcome, Refresher};
use crate::cognito::{Dead, RefreshFailed};
use crate::error::{Error, Unauthorized};
use crate::policy::{issued, same_family};
use crate::profile::Profile;
use crate::store::{Patch, SessionRow, StoreError, Version, Write};
use crate::telemetry::{self, Audit, Count, Latency};
use crate::verify::Claims;
use crate::{store_error, Service};

/// What a completed refresh (or a seed row's binding) writes into the row.
#[derive(Clone, Copy)]
struct Refreshed<'a> {
    /// `timestamp`, epoch seconds (`None`: kept, for a binding).
    timestamp: Option<i64>,
    /// `refreshed_at`, epoch milliseconds.
    refreshed_at_ms: i64,
    /// The token family, to bind a seed row to its login.
    origin_jti: Option<&'a str>,
    /// A new refresh token, when Cognito rotated it (or a pending one worked).
    refresh_token: Option<&'a str>,
    /// The access token this refresh produced, stored (sealed) as `refreshed_token`; its id is
    /// the row's new version. `None`: nobody may join this refresh; remove any earlier one.
    access_token: Option<&'a str>,
    /// Which token this refresh replaced ([`token_id`](crate::policy::token_id)), stored as
    /// `refreshed_from`; `None` together with `access_token`.
    replaced: Option<&'a str>,
    /// The user's profile from the refresh's ID token (JSON), stored sealed as `profile`.
    profile: Option<&'a str>,
}

impl Refresher<'_> {
    /// The lease holder's part: call Cognito, then commit (or release, or end the session).
    /// `presented` identifies the token being refreshed (its id): the requests that carry it too
    /// may join this refresh.
    pub(super) async fn refresh_holding(
        &self,
        row: SessionRow,
        refresh_token: &str,
        lease: &Lease,
        presented: &str,
        claims: &Claims,
    ) -> Result<Outcome, Error> {
        let sub = claims.sub();
        let started = std::time::Instant::now();
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
            Err(RefreshFailed::Dead(dead)) => {
                return Err(self.end(&row, lease, claims, dead).await)
            }
            Err(RefreshFailed::Misconfigured { cause, error }) => {
                telemetry::count(Count::Misconfigured(telemetry::slug(&cause)));
                if self.memory.first_report(&cause) {
                    tracing::error!(sub, %cause, error = %crate::error::Chain(&error), "Cognito refused the refresh because of this function's configuration; the session was kept");
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

        // The new ID token (verified: no claim is read before) renews the stored profile.
        let profile = match &tokens.id_token {
            Some(id_token) => match self
                .budget
                .verify(self.id_verifier.verify(id_token, now_secs))
                .await
            {
                Ok((id_claims, _)) if id_claims.sub() == sub => Some(Profile::of(&id_claims)),
                other => {
                    tracing::warn!(
                        sub,
                        ok = other.is_ok(),
                        "the refresh's ID token was not accepted; the stored profile is kept"
                    );
                    None
                }
            },
            None => None,
        };
        let profile_json = profile.as_ref().map(Profile::to_json);
        let now_ms = self.now_ms();
        let refreshed = Refreshed {
            timestamp: Some(now_ms / 1000),
            refreshed_at_ms: now_ms,
            origin_jti: new_claims.origin_jti(),
            // A pending token that worked must reach the row even if Cognito did not rotate it.
            refresh_token: tokens.refresh_token.as_deref().or(pending.as_deref()),
            access_token: Some(&tokens.access_token),
            replaced: Some(presented),
            profile: profile_json.as_deref(),
        };
        let rotated = refreshed.refresh_token.is_some();
        self.commit(&row, lease, claims, refreshed, rotated).await?;
        telemetry::latency(Latency::Refresh, started.elapsed());
        if pending.is_some() || rotated {
            self.memory.forget(&row);
        }
        let mut tokens = tokens;
        // The refresh token stays server-side.
        tokens.refresh_token = None;
        Ok(Outcome::Refreshed(Box::new((new_claims, tokens, profile))))
    }

    /// The patch recording `refreshed` in `row`, its values sealed, the lease removed. A stale
    /// row (plaintext, or an old key) is re-encrypted with the current key: it decrypted a
    /// moment ago for this refresh; if it no longer does, it stays as it is.
    fn recording(&self, row: &SessionRow, refreshed: Refreshed<'_>) -> Result<Patch, Error> {
        let sealing = self.sealing;
        let key = row.key();
        let sealed = |e| Error::unavailable(Service::DynamoDb, "encrypting the session", e);
        let version = match refreshed.access_token {
            Some(token) => issued(token),
            None => Version::new(random_id()),
        };
        let mut patch = Patch::new(Some(version));
        if let Some(timestamp) = refreshed.timestamp {
            patch.timestamp = Write::Set(timestamp);
        }
        patch.refreshed_at_ms = Write::Set(refreshed.refreshed_at_ms);
        if let Some(family) = refreshed.origin_jti {
            patch.origin_jti = Write::Set(family.to_owned());
        }
        let current = match refreshed.refresh_token {
            None if sealing.stale(row) => sealing.reveal(row).ok().flatten(),
            _ => None,
        };
        if let Some(token) = refreshed.refresh_token.or(current.as_deref()) {
            patch.refresh_token = Write::Set(sealing.seal_token(key, token).map_err(sealed)?);
        }
        // What a request that raced this refresh needs to join it; or nothing to join.
        match (refreshed.access_token, refreshed.replaced) {
            (Some(token), Some(replaced)) => {
                let token = sealing.seal_refreshed(key, token).map_err(sealed)?;
                patch.refreshed_token = Write::Set(token);
                patch.refreshed_from = Write::Set(replaced.to_owned());
            }
            _ => {
                patch.refreshed_token = Write::Remove;
                patch.refreshed_from = Write::Remove;
            }
        }
        if let Some(profile) = refreshed.profile {
            patch.profile = Write::Set(sealing.seal_profile(key, profile).map_err(sealed)?);
        }
        patch.lease_id = Write::Remove;
        patch.lease_until_ms = Write::Remove;
        Ok(patch)
    }

    /// A seed row's refresh, asked for by an older login's token, told us the row's login
    /// (`family`, the refresh token's): bind the row to it under our lease, so that older
    /// login's tokens are refused from now on without a Cognito call. The refused request gets
    /// no token and nobody may join this refresh; the row's `timestamp` (activity) stays. A
    /// refresh token Cognito rotated meanwhile is stored, or the current login would lose it.
    async fn bind(&self, row: &SessionRow, lease: &Lease, family: &str, rotated: Option<&str>) {
        let binding = Refreshed {
            timestamp: None,
            refreshed_at_ms: self.now_ms(),
            origin_jti: Some(family),
            refresh_token: rotated,
            access_token: None,
            replaced: None,
            profile: None,
        };
        let written = match self.recording(row, binding) {
            Ok(patch) => {
                let expected = [Some(lease.version())];
                let cleanup = self.budget.cleanup();
                self.update(cleanup, row.key(), &expected, &patch)
                    .await
                    .map_err(|e| store_error(e, "binding the session"))
            }
            Err(error) => Err(error),
        };
        if let Err(error) = written {
            tracing::warn!(sub = row.sub.as_str(), error = %crate::error::Chain(&error), "could not bind the seed's session row to its login");
            self.release(row, lease).await;
        }
    }

    /// Cognito said the refresh token is dead: delete the row, if it is still ours or still
    /// holds that token.
    async fn end(&self, row: &SessionRow, lease: &Lease, claims: &Claims, dead: Dead) -> Error {
        let sub = claims.sub();
        let audit = Audit {
            reason: Some(dead.code()),
            sub: Some(sub),
            family: claims.origin_jti(),
            warn: dead == Dead::Reused,
            ..Audit::default()
        };
        if dead == Dead::Reused {
            telemetry::count(Count::RefreshTokenReuse);
            telemetry::count(Count::Ended("reuse"));
            telemetry::audit(
                "session_ended",
                "Cognito reports reuse of a rotated-out refresh token: possible token theft; \
                 ending the session",
                audit,
            );
        } else {
            telemetry::count(Count::Ended("revoked"));
            telemetry::audit(
                "session_ended",
                "Cognito refused the refresh token; ending the session",
                audit,
            );
        }
        self.memory.forget(row);
        let mut expected = Some(lease.version());
        for attempt in 0..2 {
            let delete = self.store.delete(row.key(), expected.as_ref());
            match self.budget.cleanup().store(delete).await {
                Ok(()) | Err(StoreError::Conflict(None)) => break,
                // Our lease was lost, but the row still holds the dead token: delete it all the
                // same, at the version it has now.
                Err(StoreError::Conflict(Some(current)))
                    if attempt == 0 && current.refresh_token == row.refresh_token =>
                {
                    expected = current.version;
                }
                // The row holds another refresh token now (a concurrent refresh stored it, or a
                // new login): whether the session stands is for the retry to find out.
                Err(StoreError::Conflict(Some(_))) => {
                    return Error::unavailable(
                        Service::DynamoDb,
                        "ending a refused session",
                        "the session row changed while Cognito answered",
                    )
                }
                Err(error) => {
                    tracing::warn!(sub, error = %crate::error::Chain(&error), "could not delete the refused session row");
                    break;
                }
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
        let patch = match self.recording(row, refreshed) {
            Ok(patch) => patch,
            Err(error) => {
                self.release(row, lease).await;
                return Err(error);
            }
        };
        let mut expected = Some(lease.version());
        let mut taken_over = false;
        let mut retries = [Duration::from_millis(50), Duration::from_millis(150)].into_iter();
        loop {
            let cleanup = self.budget.cleanup();
            let error = match self
                .update(cleanup, row.key(), std::slice::from_ref(&expected), &patch)
                .await
            {
                Ok(_) => return Ok(()),
                Err(error) => error,
            };
            match error {
                // Our lease lapsed or the row changed while Cognito answered: the conflict
                // shows the row as it is now.
                StoreError::Conflict(current) => match current {
                    Some(current) if same_family(&current, claims).is_ok() => {
                        if !rotated || current.refresh_token != row.refresh_token {
                            // Unchanged refresh token (no rotation), or another refresh of
                            // this login stored its own: the session stands.
                            return Ok(());
                        }
                        if taken_over {
                            return Err(Error::unavailable(
                                Service::DynamoDb,
                                "storing the rotated refresh token",
                                "the session row keeps changing",
                            ));
                        }
                        // Still the refresh token Cognito just rotated out: store the new one
                        // whoever holds the lease now.
                        expected = current.version;
                        taken_over = true;
                    }
                    _ => return Err(Unauthorized::SessionEnded.into()),
                },
                // Without rotation the stored refresh token is unchanged: the session is intact.
                error if !rotated => {
                    tracing::warn!(sub, error = %crate::error::Chain(&error), "refreshed, but could not record the refresh");
                    return Ok(());
                }
                error => match retries.next() {
                    Some(pause) => tokio::time::sleep(pause).await,
                    None => {
                        // The old refresh token may be dead already: the new one stays in
                        // memory for the next request, which may take the lease at once.
                        tracing::warn!(sub, error = %crate::error::Chain(&error), "could not store the rotated refresh token; it is kept in memory for the next request");
                        self.release(row, lease).await;
                        return Err(store_error(error, "storing the rotated refresh token"));
                    }
                },
            }
        }
    }

    /// Gives the lease up without a refresh: the row gets back the version the lease expected,
    /// and is then as it was (a row that had no version gets the guessed one, see the module
    /// docs).
    pub(super) async fn release(&self, row: &SessionRow, lease: &Lease) {
        let mut patch = Patch::new(lease.before.clone());
        patch.lease_id = Write::Remove;
        patch.lease_until_ms = Write::Remove;
        let expected = [Some(lease.version())];
        let cleanup = self.budget.cleanup();
        if let Err(error) = self.update(cleanup, row.key(), &expected, &patch).await {
            tracing::warn!(sub = row.sub.as_str(), error = %crate::error::Chain(&error), "could not release the refresh lease; it lapses by itself");
        }
    }
}
