//! Password reset and change with the app's own forms: [`Accounts::forgot_password`]
//! (`ForgotPassword`: a code is sent), [`Accounts::reset_password`] (`ConfirmForgotPassword`:
//! the code and the new password), and [`Accounts::change_password`] (`ChangePassword` with the
//! signed-in user's access token).

use crate::error::{Error, Service};
use crate::http::cookie::CookieSource;
use crate::login::accounts::{refusal, Accounts, CodeSent, Pending};
use crate::login::password_error::{sort, Operation, PasswordError};
use crate::login::state::Purpose;
use crate::session::Session;
use crate::telemetry::{self, Audit, ClientInfo};

/// How long a reset's state opens: Cognito's reset codes last an hour.
const RESET_LIFETIME_SECS: i64 = 3600;

impl Accounts {
    /// Starts a password reset for `username` (`ForgotPassword`): Cognito sends a code to the
    /// account's verified email or phone. The step to show next is the returned [`CodeSent`]
    /// (code and new password form). An unknown user, a disabled one or one without a verified
    /// address gets the same answer, with no destination, unless
    /// [`reveal_account_existence`](crate::SessionsBuilder::reveal_account_existence). Call it
    /// from a `POST` route behind [`SessionLayer`](crate::SessionLayer) (CSRF).
    ///
    /// ```no_run
    /// # async fn f(sessions: cognito_session::Sessions) -> Result<(), cognito_session::PasswordError> {
    /// let sent = sessions.accounts().forgot_password("ada").await?;
    /// println!("if the account exists, a code is on its way; Set-Cookie: {:?}", sent.set_cookie());
    /// # Ok(()) }
    /// ```
    pub async fn forgot_password(&self, username: &str) -> Result<CodeSent, PasswordError> {
        let work = self.forgot(username);
        self.step(
            "cognito_session.forgot_password",
            ClientInfo::default(),
            work,
            |_| "password_reset_started",
        )
        .await
    }

    async fn forgot(&self, username: &str) -> Result<CodeSent, PasswordError> {
        let sessions = &self.sessions;
        let cognito = &sessions.inner.cognito;
        let budget = sessions.budget(None);
        let call = sessions.call("starting a password reset");
        let reveal = self.settings().reveal;
        let request = cognito
            .client
            .forgot_password()
            .client_id(&cognito.client_id)
            .username(username)
            .set_secret_hash(self.secret_hash(username))
            .send();
        let destination = match budget.call(Service::Cognito, call.action, request).await? {
            Ok(output) => output.code_delivery_details.and_then(|d| d.destination),
            Err(error) => {
                let (code, message) = refusal(error, &call)?;
                if let Some(refused) = sort(Operation::Forgot, &code, &message, reveal, &call) {
                    return Err(refused);
                }
                tracing::debug!(
                    code,
                    "password reset refused by Cognito, answered as started"
                );
                None
            }
        };
        telemetry::audit(
            "password_reset_started",
            "password reset started",
            Audit::default(),
        );
        let pending = Pending {
            u: username.to_owned(),
            s: None,
            c: false,
            d: destination.filter(|_| reveal),
        };
        Ok(self
            .issue(Purpose::Reset, RESET_LIFETIME_SECS, pending, budget)
            .await?)
    }

    /// The pending reset a form brings back: `state` from the page ([`CodeSent::state`]) and the
    /// binding cookie from `request`. Edited, another browser's, a sign-up's or older than an
    /// hour: [`PasswordError::StateRejected`] (400: start again), decided without any call to
    /// Cognito.
    ///
    /// ```no_run
    /// # async fn f(accounts: cognito_session::Accounts, request: lambda_http::Request, state: &str) -> Result<(), cognito_session::PasswordError> {
    /// let sent = accounts.open_reset(&request, state).await?;
    /// accounts.reset_password(&sent, "123456", "Brand-new-horse-2!").await?;
    /// # Ok(()) }
    /// ```
    pub async fn open_reset<S: CookieSource + ?Sized>(
        &self,
        request: &S,
        state: &str,
    ) -> Result<CodeSent, PasswordError> {
        Ok(self.open_pending(Purpose::Reset, request, state).await??)
    }

    /// Sets the new password of the pending reset `sent` with the `code` the user received
    /// (`ConfirmForgotPassword`). A wrong code or a refused password leaves the step as it was;
    /// an unknown user's reset answers [`PasswordError::WrongCode`] like a wrong code. Send
    /// [`Accounts::clear_cookie`] once it succeeded, and show the sign-in form.
    ///
    /// A reset ends every session of the user, wherever it is: Cognito's
    /// `ConfirmForgotPassword` revokes no token, so the user is looked up (`AdminGetUser`, for
    /// the `sub` that keys the rows), every session row is deleted and the user is signed out
    /// everywhere (`AdminUserGlobalSignOut`, which also revokes refresh tokens this library
    /// never held, such as one an attacker obtained with the old password). The user then signs
    /// in anew. This needs `USER_POOL_ID` (without it the reset is refused before any call,
    /// [`Error::Config`]) and the permissions `cognito-idp:AdminGetUser` and
    /// `cognito-idp:AdminUserGlobalSignOut`. If ending the sessions fails after Cognito set the
    /// password, the error is returned (503 or 500) and logged: the new password holds, and
    /// [`Sessions::end_all`](crate::Sessions::end_all) ends the rest.
    ///
    /// ```no_run
    /// # async fn f(accounts: cognito_session::Accounts, sent: cognito_session::CodeSent) {
    /// match accounts.reset_password(&sent, "123456", "Brand-new-horse-2!").await {
    ///     Ok(()) => println!("password changed: sign in"),
    ///     Err(error) => println!("{} {error}", error.status()),
    /// }
    /// # }
    /// ```
    pub async fn reset_password(
        &self,
        sent: &CodeSent,
        code: &str,
        new_password: &str,
    ) -> Result<(), PasswordError> {
        let work = self.reset(sent, code, new_password);
        self.step(
            "cognito_session.reset_password",
            ClientInfo::default(),
            work,
            |_| "password_reset",
        )
        .await
    }

    async fn reset(
        &self,
        sent: &CodeSent,
        code: &str,
        new_password: &str,
    ) -> Result<(), PasswordError> {
        if sent.purpose != Purpose::Reset {
            return Err(
                Error::InvalidInput("reset_password was given a sign-up's step".into()).into(),
            );
        }
        let username = &sent.pending.u;
        let sessions = &self.sessions;
        let cognito = &sessions.inner.cognito;
        // Checked first: a reset that could not end the user's sessions is not made.
        let pool = sessions.inner.pool_id.as_deref().ok_or_else(|| {
            Error::config(
                "reset_password needs USER_POOL_ID: after a reset every session of the user \
                 ends (AdminGetUser, AdminUserGlobalSignOut)",
            )
        })?;
        let budget = sessions.budget(None);
        let call = sessions.call("resetting the password");
        let request = cognito
            .client
            .confirm_forgot_password()
            .client_id(&cognito.client_id)
            .username(username)
            .confirmation_code(code.trim())
            .password(new_password)
            .set_secret_hash(self.secret_hash(username))
            .send();
        let answer = budget.call(Service::Cognito, call.action, request).await?;
        if let Err(error) = answer {
            let (code, message) = refusal(error, &call)?;
            let reveal = self.settings().reveal;
            return Err(
                sort(Operation::ConfirmForgot, &code, &message, reveal, &call)
                    .unwrap_or(PasswordError::WrongCode),
            );
        }
        // Cognito's reset revokes nothing: whoever held a session (or a refresh token of their
        // own, from the old password) keeps it unless it is ended here.
        let lookup = Box::pin(cognito.user_ids(pool, username));
        let user = budget
            .call(Service::Cognito, "looking up the user", lookup)
            .await?;
        let ended = match user.map_err(|e| not_ended("reset", e))? {
            Some((sub, name)) => {
                let ended = sessions
                    .end_everywhere(&sub, Some(&name))
                    .await
                    .map_err(|e| not_ended("reset", e))?;
                telemetry::audit(
                    "password_reset",
                    "password reset",
                    Audit {
                        sub: Some(&sub),
                        ..Audit::default()
                    },
                );
                ended
            }
            None => 0,
        };
        tracing::debug!(ended, "password reset: the user's sessions ended");
        Ok(())
    }

    /// Changes the password of the user signed in on `request` (the session cookie of the
    /// configured name, [`Sessions::current`](crate::Sessions::current)) from `previous` to
    /// `proposed` (`ChangePassword` with the session's access token, which needs the scope
    /// `aws.cognito.signin.user.admin`: own-form sign-ins have it, managed login only when
    /// `OAUTH_SCOPES` asks for it). Returns the session: if its token was refreshed on the
    /// way, send its [`Session::set_cookie`]. Call it from a `POST` route behind
    /// [`SessionLayer`](crate::SessionLayer) (CSRF).
    ///
    /// This session continues (its row and cookie keep working); every other session of the
    /// user ends: its row is deleted and its refresh token revoked (`RevokeToken`), so another
    /// browser, or someone who stole a session, is refused at its next request. Cognito's
    /// `ChangePassword` itself revokes no token, and a global sign-out would revoke this
    /// session's refresh token too, so none is made: a refresh token this library never held
    /// (one obtained straight from Cognito with the old password) stays valid until it
    /// expires. Where that matters, reset the password instead
    /// ([`forgot_password`](Accounts::forgot_password)), or call
    /// [`Sessions::end_all`](crate::Sessions::end_all), which ends this session as well. A copy
    /// of this very session's cookie continues with it. If ending the others fails after
    /// Cognito changed the password, the error is returned (503 or 500) and logged.
    ///
    /// ```no_run
    /// # async fn f(accounts: cognito_session::Accounts, request: lambda_http::Request) {
    /// match accounts.change_password(&request, "Correct-horse-9!", "Brand-new-horse-2!").await {
    ///     Ok(session) => println!("changed; Set-Cookie: {:?}", session.set_cookie("token")),
    ///     Err(error) => println!("{} {error}", error.status()),
    /// }
    /// # }
    /// ```
    pub async fn change_password<S: CookieSource + ?Sized>(
        &self,
        request: &S,
        previous: &str,
        proposed: &str,
    ) -> Result<Session, PasswordError> {
        let work = self.change(request, previous, proposed);
        let client = self.sessions.inner.telemetry.client(request);
        self.step("cognito_session.change_password", client, work, |_| {
            "password_changed"
        })
        .await
    }

    async fn change<S: CookieSource + ?Sized>(
        &self,
        request: &S,
        previous: &str,
        proposed: &str,
    ) -> Result<Session, PasswordError> {
        let sessions = &self.sessions;
        let (session, token) = self.signed_in(request).await?;
        let cognito = &sessions.inner.cognito;
        let call = sessions.call("changing the password");
        let change = cognito
            .client
            .change_password()
            .access_token(token)
            .previous_password(previous)
            .proposed_password(proposed)
            .send();
        let budget = sessions.budget(request.deadline());
        let answer = budget.call(Service::Cognito, call.action, change).await?;
        if let Err(error) = answer {
            let (code, message) = refusal(error, &call)?;
            return Err(sort(Operation::Change, &code, &message, false, &call)
                .unwrap_or(PasswordError::IncorrectPassword));
        }
        // Cognito's ChangePassword revokes nothing; a global sign-out would revoke this
        // session's refresh token too. So the other sessions end one by one, this one stays.
        let ended = sessions
            .end_others(session.claims(), budget)
            .await
            .map_err(|e| not_ended("change", e))?;
        tracing::debug!(ended, "password changed: the user's other sessions ended");
        telemetry::audit(
            "password_changed",
            "password changed",
            Audit {
                sub: Some(session.sub()),
                ..Audit::default()
            },
        );
        Ok(session)
    }
}

/// The error of a password `what` (change or reset) that Cognito made but whose session ending
/// failed: logged as such, and returned (the password is set; `Sessions::end_all` ends the rest).
fn not_ended(what: &'static str, error: Error) -> PasswordError {
    tracing::error!(
        what,
        error = %crate::error::Chain(&error),
        "password set, but the user's other sessions were not all ended: retry with end_all"
    );
    error.into()
}
