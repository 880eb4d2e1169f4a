//! Login and logout on the session manager: [`Sessions::start`] stores a new session;
//! [`Sessions::end`], [`Sessions::end_session`] and [`Sessions::end_all`] remove sessions (and
//! revoke their refresh tokens); [`Sessions::list`] shows a user's sessions. A password change
//! or reset ends the user's other sessions here too (`end_others`, `end_everywhere`).

use crate::budget::Budget;
use crate::cognito::Tokens;
use crate::error::{Error, Unauthorized};
use crate::http::cookie::CookieSource;
use crate::manager::Sessions;
use crate::policy::{issued, key_of, same_family};
use crate::profile::Profile;
use crate::refresh::reveal;
use crate::session::Session;
use crate::store::{SessionKey, SessionRow, SessionStore, StoreError};
use crate::telemetry::{self, Audit, ClientInfo, Count};
use crate::verify::{Claims, Freshness};
use crate::{store_error, Service};

impl Sessions {
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
        let start = self.start_within(tokens, self.budget(None), "start");
        self.inner
            .telemetry
            .invocation(ClientInfo::default(), Box::pin(start))
            .await
    }

    /// [`start`](Self::start) for a login flow that owns `tokens` (the callback, a sign-in):
    /// when the session cannot be stored, the new refresh token is revoked (within the budget's
    /// clean-up time) rather than left valid with nobody holding it.
    pub(crate) async fn start_owned(
        &self,
        tokens: &Tokens,
        budget: Budget,
        how: &'static str,
    ) -> Result<Session, Error> {
        let started = self.start_within(tokens, budget, how).await;
        if started.is_err() {
            if let Some(refresh_token) = &tokens.refresh_token {
                if let Err(error) = self.revoke_within(refresh_token, budget).await {
                    tracing::warn!(
                        error = %crate::error::Chain(&error),
                        "the login's session was not started; revocation of its refresh token pending"
                    );
                }
            }
        }
        started
    }

    /// `RevokeToken` for `refresh_token`, best effort after the work is done: within the
    /// budget's clean-up time.
    async fn revoke_within(&self, refresh_token: &str, budget: Budget) -> Result<(), Error> {
        let revoke = Box::pin(self.inner.cognito.revoke(refresh_token));
        budget
            .cleanup()
            .call(Service::Cognito, "revoking the refresh token", revoke)
            .await?
    }

    /// [`start`](Self::start) with every call bounded by `budget`.
    pub(crate) async fn start_within(
        &self,
        tokens: &Tokens,
        budget: Budget,
        how: &'static str,
    ) -> Result<Session, Error> {
        let refresh_token = tokens
            .refresh_token
            .as_deref()
            .ok_or_else(|| Error::InvalidInput("the login tokens have no refresh token".into()))?;
        let now = self.now();
        let (claims, freshness) = budget
            .verify(self.inner.verifier.verify(&tokens.access_token, now))
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
        // The ID token, verified, gives the profile; one of another user refuses the login.
        let profile = match &tokens.id_token {
            Some(id_token) => {
                let (id_claims, _) = budget
                    .verify(self.inner.id_verifier.verify(id_token, now))
                    .await?;
                if id_claims.sub() != claims.sub() {
                    return Err(Error::InvalidInput(
                        "the login's ID token and access token name different users".into(),
                    ));
                }
                let profile = Profile::of(&id_claims);
                row.profile = Some(
                    self.inner
                        .sealing
                        .seal_profile(row.key(), &profile.to_json())
                        .map_err(|e| {
                            Error::unavailable(Service::DynamoDb, "encrypting the session", e)
                        })?,
                );
                Some(profile)
            }
            None => None,
        };
        let lifetime = i64::try_from(self.inner.cookie.max_age_secs).unwrap_or(i64::MAX);
        row.expires_at = Some(timestamp.saturating_add(lifetime));
        row.last_seen = Some(timestamp);
        if let Some(device) = &tokens.new_device_metadata {
            // A pool that tracks devices refuses every refresh of an unconfirmed device, and
            // only this login's (still valid) access token can confirm it: now or never. A
            // failure stores nothing (503 transient, 500 refused), so no session is started
            // that would end at its first refresh.
            let confirm = Box::pin(
                self.inner
                    .cognito
                    .confirm_device(&tokens.access_token, device),
            );
            budget
                .call(Service::Cognito, "confirming the device", confirm)
                .await??;
            row.device_key = Some(device.device_key.clone());
        }
        budget
            .store(self.inner.store.put(&row))
            .await
            .map_err(|e| store_error(e, "storing the session"))?;
        telemetry::count(Count::Started(how));
        telemetry::audit(
            "session_started",
            "session started",
            Audit {
                how: Some(how),
                sub: Some(claims.sub()),
                family: claims.origin_jti(),
                ..Audit::default()
            },
        );
        let mut issued = tokens.clone();
        issued.refresh_token = None;
        Ok(self.session_of(claims, Some(issued)).with_profile(profile))
    }

    /// The user's profile for `session` ([`Session::profile`] when the request read it, else
    /// from the session row): `None` when the row has none (a session started without an ID
    /// token, or by the seed) or the session has ended.
    ///
    /// ```no_run
    /// # async fn f(sessions: cognito_session::Sessions, session: cognito_session::Session) -> Result<(), cognito_session::Error> {
    /// if let Some(profile) = sessions.profile(&session).await? {
    ///     println!("{:?} {:?}", profile.email(), profile.name());
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn profile(&self, session: &Session) -> Result<Option<Profile>, Error> {
        if let Some(profile) = session.profile() {
            return Ok(Some(profile.clone()));
        }
        let key = key_of(session.claims(), self.inner.per_device);
        let row = self
            .budget(None)
            .store(self.inner.store.load(key))
            .await
            .map_err(|e| store_error(e, "reading the session"))?;
        Ok(row
            .filter(|row| same_family(row, session.claims()).is_ok())
            .and_then(|row| self.inner.sealing.open_profile(&row)))
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
        let token = self.token_in(name, request);
        let budget = self.budget(request.deadline());
        let end = async {
            let token = token.ok_or(Unauthorized::MissingCookie)?;
            let (claims, _) = budget
                .verify(self.inner.verifier.verify(token, self.now()))
                .await?;
            let key = key_of(&claims, self.inner.per_device);
            self.remove(key, |row| same_family(row, &claims), budget, "logout")
                .await?;
            Ok(())
        };
        self.inner
            .telemetry
            .invocation(self.inner.telemetry.client(request), Box::pin(end))
            .await
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
        let end = self.remove(key, |_| Ok(()), self.budget(None), "operator");
        self.inner
            .telemetry
            .invocation(ClientInfo::default(), Box::pin(end))
            .await
    }

    /// Deletes the row at `key` (when `belongs` accepts it; the first refusal is returned)
    /// conditioned on what it holds, then revokes every refresh token it held. Returns whether
    /// there was a row to delete.
    async fn remove(
        &self,
        key: SessionKey<'_>,
        belongs: impl Fn(&SessionRow) -> Result<(), Unauthorized>,
        budget: Budget,
        reason: &'static str,
    ) -> Result<bool, Error> {
        /// Reads and conditional deletes before giving up on a row that keeps changing.
        const ATTEMPTS: usize = 4;
        let store = &*self.inner.store;
        // The refresh tokens seen in this login's row, revoked once it is gone.
        let mut seen: Vec<String> = Vec::new();
        let mut ended = false;
        let mut found = false;
        // The login's token family, for the audit trail.
        let mut family: Option<String> = None;
        let mut row = budget
            .store(store.load(key))
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
            family = current.origin_jti.clone();
            match reveal(&self.inner.sealing, &current) {
                Ok(refresh_token) if !seen.contains(&refresh_token) => seen.push(refresh_token),
                Ok(_) => {}
                // No refresh token, or a damaged one: nothing to revoke, the row goes all the same.
                Err(Error::Unauthorized(_)) => {}
                // A key this function lacks: the row is kept, nothing is sent to Cognito.
                Err(error) => return Err(error),
            }
            match budget
                .store(store.delete(current.key(), current.version.as_ref()))
                .await
            {
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
            telemetry::count(Count::Ended(reason));
            telemetry::audit(
                "session_ended",
                "session ended",
                Audit {
                    reason: Some(reason),
                    sub: Some(key.sub),
                    family: family.as_deref(),
                    ..Audit::default()
                },
            );
        }
        // The row is gone (every refresh needs it): revocation is best effort, in the time left.
        for refresh_token in &seen {
            if let Err(error) = self.revoke_within(refresh_token, budget).await {
                tracing::warn!(sub = key.sub, error = %crate::error::Chain(&error), "session row deleted, revocation pending");
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
            .budget(None)
            .store(self.inner.store.list(sub))
            .await
            .map_err(|e| store_error(e, "listing sessions"))?;
        Ok(rows.into_iter().map(SessionRow::withheld).collect())
    }

    /// Logs user `sub` out everywhere: deletes every session row, then calls Cognito's
    /// `AdminUserGlobalSignOut`, which revokes all of the user's refresh tokens. That call needs
    /// `USER_POOL_ID` and the IAM permission `cognito-idp:AdminUserGlobalSignOut` on the pool.
    /// Returns how many sessions were deleted.
    pub async fn end_all(&self, sub: &str) -> Result<usize, Error> {
        self.inner
            .telemetry
            .invocation(
                ClientInfo::default(),
                Box::pin(self.end_everywhere(sub, None)),
            )
            .await
    }

    /// After a password change: ends every session of the user of `claims` but this login's
    /// own (its row, when it still belongs to this login), each as [`Sessions::end_session`]
    /// does: row deleted, then its refresh token revoked (`RevokeToken`; a failed revocation is
    /// logged, the row is gone). Not a global sign-out, which would revoke the kept session's
    /// refresh token too. Returns how many sessions ended, or the first failure once every
    /// other row was tried.
    pub(crate) async fn end_others(&self, claims: &Claims, budget: Budget) -> Result<usize, Error> {
        let keep = key_of(claims, self.inner.per_device);
        let rows = budget
            .store(self.inner.store.list(keep.sub))
            .await
            .map_err(|e| store_error(e, "listing sessions"))?;
        let own = |row: &SessionRow| row.key() == keep && same_family(row, claims).is_ok();
        // One row that cannot be ended (a key this function lacks, a row that keeps changing)
        // does not spare the others: each is tried, the first failure returned.
        let mut ended = 0;
        let mut failed = None;
        for row in rows.iter().filter(|row| !own(row)) {
            match self
                .remove(row.key(), |_| Ok(()), budget, "password_changed")
                .await
            {
                Ok(true) => ended += 1,
                Ok(false) => {}
                Err(error) => {
                    failed.get_or_insert(error);
                }
            }
        }
        failed.map_or(Ok(ended), Err)
    }

    /// Deletes every session row of user `sub`, then signs `username` out everywhere
    /// (`AdminUserGlobalSignOut`; `None`: the username the rows recorded, else `sub`).
    pub(crate) async fn end_everywhere(
        &self,
        sub: &str,
        username: Option<&str>,
    ) -> Result<usize, Error> {
        let inner = &*self.inner;
        let pool = inner.pool_id.as_deref().ok_or_else(|| {
            Error::config("end_all needs USER_POOL_ID for Cognito's AdminUserGlobalSignOut")
        })?;
        let budget = self.budget(None);
        let rows = self.list(sub).await?;
        let username = username
            .map(str::to_owned)
            .or_else(|| rows.iter().find_map(|r| r.username.clone()))
            .unwrap_or_else(|| sub.to_owned());
        for row in &rows {
            // Each row at the version it was listed with; one changed meanwhile (a refresh) at
            // the version its conflict shows, a few times.
            let mut expected = row.version.clone();
            for _ in 0..4 {
                match budget
                    .store(inner.store.delete(row.key(), expected.as_ref()))
                    .await
                {
                    Ok(()) | Err(StoreError::Conflict(None)) => break,
                    Err(StoreError::Conflict(Some(current))) => expected = current.version,
                    Err(error) => return Err(store_error(error, "deleting a session")),
                }
            }
        }
        let sign_out = Box::pin(inner.cognito.global_sign_out(pool, &username));
        budget
            .call(
                Service::Cognito,
                "signing the user out everywhere",
                sign_out,
            )
            .await??;
        for _ in &rows {
            telemetry::count(Count::Ended("everywhere"));
        }
        telemetry::audit(
            "signed_out_everywhere",
            "signed out everywhere",
            Audit {
                reason: Some("everywhere"),
                sub: Some(sub),
                ..Audit::default()
            },
        );
        Ok(rows.len())
    }
}
