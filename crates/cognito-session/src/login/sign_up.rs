//! Sign-up with the app's own form: [`Accounts::sign_up`] (`SignUp`), then
//! [`Accounts::confirm_sign_up`] (`ConfirmSignUp`, and the app's group for new users), which
//! signs the user in without the password again (`InitiateAuth` `USER_AUTH` with the
//! confirmation's `Session`), or says why not ([`NoAutoSignIn`]) so the app shows its sign-in
//! form; [`Accounts::resend_code`] (`ResendConfirmationCode`) in between.

use aws_sdk_cognitoidentityprovider::types::{AttributeType, AuthFlowType};

use crate::budget::Budget;
use crate::error::{Error, Service};
use crate::http::cookie::CookieSource;
use crate::login::accounts::{mask, refusal, Accounts, CodeSent, Pending};
use crate::login::sign_in::Step;
use crate::login::sign_in_error::{sign_in_failure, SignInError};
use crate::login::sign_up_error::{sort, Reading, SignUpError};
use crate::login::state::Purpose;
use crate::login::SignIn;
use crate::telemetry::{self, Audit, ClientInfo};

/// How long a sign-up's state opens: Cognito's confirmation codes last 24 hours.
const SIGN_UP_LIFETIME_SECS: i64 = 24 * 3600;

/// What a sign-up did.
///
/// ```no_run
/// # async fn f(accounts: cognito_session::Accounts) -> Result<(), cognito_session::SignUpError> {
/// match accounts.sign_up("ada", "Correct-horse-9!", &[("email", "ada@example.com")]).await? {
///     cognito_session::SignUp::CodeSent(sent) => println!("enter the code sent to {:?}", sent.destination()),
///     cognito_session::SignUp::Confirmed => println!("your account is ready: sign in"),
///     _ => {}
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignUp {
    /// A confirmation code was sent (where: [`CodeSent::destination`]): show the code form with
    /// [`CodeSent::state`], and send [`CodeSent::set_cookie`].
    CodeSent(CodeSent),
    /// The pool confirmed the account at once (a pre sign-up trigger's `autoConfirmUser`): show
    /// the sign-in form.
    Confirmed,
}

/// What a confirmation did: the user is signed in (or Cognito asks an MFA step first, as after
/// a password), or the account is confirmed and the user must sign in with the password.
///
/// ```no_run
/// # async fn f(accounts: cognito_session::Accounts, sent: cognito_session::CodeSent) -> Result<(), cognito_session::SignUpError> {
/// match accounts.confirm_sign_up(&sent, "123456").await? {
///     cognito_session::Confirmed::SignedIn(cognito_session::SignIn::Done(session)) => {
///         println!("Set-Cookie: {:?}", session.set_cookie("token"));
///     }
///     cognito_session::Confirmed::SignedIn(cognito_session::SignIn::Challenge(challenge)) => {
///         println!("one more step: {:?}", challenge.kind());
///     }
///     cognito_session::Confirmed::SignInNeeded(why) => println!("confirmed; sign in ({why})"),
///     _ => {}
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Confirmed {
    /// Signed in by Cognito's sign-in after sign-up: the session is stored (or a challenge is
    /// to be answered with [`Sessions::respond`](crate::Sessions::respond)).
    SignedIn(SignIn),
    /// Confirmed, but not signed in: show the sign-in form. Says why.
    SignInNeeded(NoAutoSignIn),
}

/// Why a confirmed user was not signed in at once (the confirmation itself succeeded).
///
/// ```
/// use cognito_session::NoAutoSignIn;
/// assert!(NoAutoSignIn::NoSession.to_string().contains("ALLOW_USER_AUTH"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NoAutoSignIn {
    /// Cognito gave no sign-in session with the confirmation: the pool or app client does not
    /// offer sign-in after sign-up (it needs the app client's `ALLOW_USER_AUTH` and a pool
    /// with choice-based sign-in, the Essentials plan or higher), or this confirmation came
    /// without the sign-up's session (the sign-up was made elsewhere, or long ago).
    #[error(
        "Cognito gave no session to sign in with after the confirmation (sign-in after sign-up \
         needs the app client's ALLOW_USER_AUTH and a user pool with choice-based sign-in)"
    )]
    NoSession,
    /// Cognito refused the sign-in with the confirmation's session (for example
    /// `USER_AUTH flow not enabled for this client`: allow `ALLOW_USER_AUTH` on the app
    /// client), or it could not be completed (an outage, the deadline).
    #[error("sign-in after sign-up failed: {0}")]
    Refused(#[source] SignInError),
}

impl Accounts {
    /// Creates the account `username` with `password` and the user `attributes` (names as
    /// Cognito's: `email`, `phone_number`, `name`...; each must be among the app's allowed ones,
    /// [`SessionsBuilder::sign_up_attributes`](crate::SessionsBuilder::sign_up_attributes),
    /// default `email` only, else [`Error::InvalidInput`]: never pass whatever a form posted).
    /// Cognito sends a confirmation code: the result carries the step to show.
    ///
    /// A taken username gets the same answer as a new one ([`SignUp::CodeSent`], its destination
    /// masked from the form's own email or phone), and if that account is still unconfirmed its
    /// owner gets a fresh code; only with
    /// [`reveal_account_existence`](crate::SessionsBuilder::reveal_account_existence) is it
    /// [`SignUpError::UsernameTaken`]. Call it from a `POST` route behind
    /// [`SessionLayer`](crate::SessionLayer) (CSRF).
    ///
    /// ```no_run
    /// # async fn f(sessions: cognito_session::Sessions) -> Result<(), cognito_session::SignUpError> {
    /// let step = sessions
    ///     .accounts()
    ///     .sign_up("ada", "Correct-horse-9!", &[("email", "ada@example.com")])
    ///     .await?;
    /// if let cognito_session::SignUp::CodeSent(sent) = step {
    ///     println!("Set-Cookie: {:?}", sent.set_cookie());
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn sign_up(
        &self,
        username: &str,
        password: &str,
        attributes: &[(&str, &str)],
    ) -> Result<SignUp, SignUpError> {
        let work = self.create(username, password, attributes);
        self.step(
            "cognito_session.sign_up",
            ClientInfo::default(),
            work,
            |done| match done {
                SignUp::CodeSent(_) => "sign_up_code_sent",
                SignUp::Confirmed => "sign_up_confirmed",
            },
        )
        .await
    }

    async fn create(
        &self,
        username: &str,
        password: &str,
        attributes: &[(&str, &str)],
    ) -> Result<SignUp, SignUpError> {
        let settings = self.settings();
        let mut typed = Vec::with_capacity(attributes.len());
        for (name, value) in attributes {
            if !settings.attributes.iter().any(|allowed| allowed == name) {
                return Err(Error::InvalidInput(format!(
                    "the attribute {name:?} is not one this app accepts at sign-up (allowed: \
                     {:?}; SIGN_UP_ATTRIBUTES)",
                    settings.attributes
                ))
                .into());
            }
            let attribute = AttributeType::builder()
                .name(*name)
                .value(*value)
                .build()
                .map_err(|e| Error::InvalidInput(format!("the attribute {name:?}: {e}")))?;
            typed.push(attribute);
        }
        let sessions = &self.sessions;
        let cognito = &sessions.inner.cognito;
        let budget = sessions.budget(None);
        let call = sessions.call("signing up");
        let request = cognito
            .client
            .sign_up()
            .client_id(&cognito.client_id)
            .username(username)
            .password(password)
            .set_user_attributes(Some(typed))
            .set_secret_hash(self.secret_hash(username));
        let answer = budget
            .call(Service::Cognito, call.action, request.send())
            .await?;
        let output = match answer {
            Ok(output) => output,
            Err(error) => {
                let (code, message) = refusal(error, &call)?;
                let reading = Reading {
                    reveal: settings.reveal,
                    own: false,
                };
                if let Some(refused) = sort(&code, &message, reading, &call) {
                    return Err(refused);
                }
                // Taken: answer as for a new account (see `sign_up`'s docs).
                return Ok(SignUp::CodeSent(
                    self.taken(username, attributes, budget).await?,
                ));
            }
        };
        telemetry::audit(
            "signed_up",
            "account created",
            Audit {
                sub: Some(&output.user_sub),
                ..Audit::default()
            },
        );
        if output.user_confirmed {
            return Ok(SignUp::Confirmed);
        }
        let pending = Pending {
            u: username.to_owned(),
            s: output.session,
            c: true,
            d: output.code_delivery_details.and_then(|d| d.destination),
        };
        let sent = self
            .issue(Purpose::SignUp, SIGN_UP_LIFETIME_SECS, pending, budget)
            .await?;
        Ok(SignUp::CodeSent(sent))
    }

    /// The answer to a sign-up of a taken username: a fresh code for its owner if the account is
    /// unconfirmed (Cognito's `ResendConfirmationCode`, whose answer is not shown), and a step
    /// like a new account's.
    async fn taken(
        &self,
        username: &str,
        attributes: &[(&str, &str)],
        budget: Budget,
    ) -> Result<CodeSent, Error> {
        telemetry::audit(
            "sign_up_taken",
            "sign-up of a taken username answered as a new one",
            Audit::default(),
        );
        let cognito = &self.sessions.inner.cognito;
        let resend = cognito
            .client
            .resend_confirmation_code()
            .client_id(&cognito.client_id)
            .username(username)
            .set_secret_hash(self.secret_hash(username))
            .send();
        if let Ok(Err(error)) = budget
            .call(Service::Cognito, "sending a new confirmation code", resend)
            .await
        {
            tracing::debug!(error = %crate::error::Chain(&error), "new code for a taken username not sent");
        }
        let to = ["email", "phone_number"]
            .iter()
            .find_map(|name| attributes.iter().find(|(n, _)| n == name))
            .map(|(_, value)| mask(value));
        let pending = Pending {
            u: username.to_owned(),
            s: None,
            c: false,
            d: to,
        };
        self.issue(Purpose::SignUp, SIGN_UP_LIFETIME_SECS, pending, budget)
            .await
    }

    /// The pending sign-up a code form brings back: `state` from the page
    /// ([`CodeSent::state`]) and the binding cookie from `request`. Edited, another browser's,
    /// a reset's or older than 24 hours: [`SignUpError::StateRejected`] (400: sign up again),
    /// decided without any call to Cognito.
    ///
    /// ```no_run
    /// # async fn f(accounts: cognito_session::Accounts, request: lambda_http::Request, state: &str) -> Result<(), cognito_session::SignUpError> {
    /// let sent = accounts.open_sign_up(&request, state).await?;
    /// let confirmed = accounts.confirm_sign_up(&sent, "123456").await?;
    /// # let _ = confirmed;
    /// # Ok(()) }
    /// ```
    pub async fn open_sign_up<S: CookieSource + ?Sized>(
        &self,
        request: &S,
        state: &str,
    ) -> Result<CodeSent, SignUpError> {
        Ok(self.open_pending(Purpose::SignUp, request, state).await??)
    }

    /// Confirms the pending sign-up `sent` with the `code` the user received
    /// (`ConfirmSignUp`), adds the new user to the app's group
    /// ([`SessionsBuilder::sign_up_group`](crate::SessionsBuilder::sign_up_group), only for an
    /// account this browser created), and signs the user in with the confirmation's session
    /// (`InitiateAuth` `USER_AUTH`): [`Confirmed::SignedIn`], or [`Confirmed::SignInNeeded`]
    /// saying why not. A wrong code ([`SignUpError::WrongCode`]) leaves the step as it was.
    /// Send [`Accounts::clear_cookie`] once it succeeded.
    ///
    /// ```no_run
    /// # async fn f(accounts: cognito_session::Accounts, sent: cognito_session::CodeSent) {
    /// match accounts.confirm_sign_up(&sent, "123456").await {
    ///     Ok(confirmed) => println!("{confirmed:?}"),
    ///     Err(error) => println!("{} {error}", error.status()),
    /// }
    /// # }
    /// ```
    pub async fn confirm_sign_up(
        &self,
        sent: &CodeSent,
        code: &str,
    ) -> Result<Confirmed, SignUpError> {
        let work = self.confirm(sent, code);
        self.step(
            "cognito_session.confirm_sign_up",
            ClientInfo::default(),
            work,
            |done| match done {
                Confirmed::SignedIn(_) => "sign_up_signed_in",
                Confirmed::SignInNeeded(_) => "sign_up_confirmed",
            },
        )
        .await
    }

    async fn confirm(&self, sent: &CodeSent, code: &str) -> Result<Confirmed, SignUpError> {
        if sent.purpose != Purpose::SignUp {
            return Err(Error::InvalidInput(
                "confirm_sign_up was given a password reset's step".into(),
            )
            .into());
        }
        let pending = &sent.pending;
        let sessions = &self.sessions;
        let budget = sessions.budget(None);
        if pending.c {
            self.join_group(&pending.u, budget).await?;
        }
        let cognito = &sessions.inner.cognito;
        let call = sessions.call("confirming the sign-up");
        let confirm = |session: Option<String>| {
            cognito
                .client
                .confirm_sign_up()
                .client_id(&cognito.client_id)
                .username(&pending.u)
                .confirmation_code(code.trim())
                .set_secret_hash(self.secret_hash(&pending.u))
                .set_session(session)
                .send()
        };
        let mut answer = budget
            .call(Service::Cognito, call.action, confirm(pending.s.clone()))
            .await?;
        // A sign-up session Cognito no longer takes: confirm without it.
        if pending.s.is_some() {
            if let Err(error) = &answer {
                let about_session = error.as_service_error().is_some_and(|e| {
                    e.is_not_authorized_exception()
                        && e.meta()
                            .message()
                            .is_some_and(|m| m.to_ascii_lowercase().contains("session"))
                });
                if about_session {
                    answer = budget
                        .call(Service::Cognito, call.action, confirm(None))
                        .await?;
                }
            }
        }
        let output = match answer {
            Ok(output) => output,
            Err(error) => {
                let (code, message) = refusal(error, &call)?;
                let reading = Reading {
                    reveal: self.settings().reveal,
                    own: pending.c,
                };
                return Err(sort(&code, &message, reading, &call).unwrap_or(SignUpError::WrongCode));
            }
        };
        telemetry::audit("sign_up_confirmed", "account confirmed", Audit::default());
        let Some(session) = output.session.filter(|s| !s.is_empty()) else {
            return Ok(Confirmed::SignInNeeded(NoAutoSignIn::NoSession));
        };
        match self.sign_in_after(&pending.u, session, budget).await {
            Ok(step) => Ok(Confirmed::SignedIn(step)),
            Err(why) => {
                tracing::warn!(code = why.code(), "sign-in after sign-up failed: {why}");
                Ok(Confirmed::SignInNeeded(NoAutoSignIn::Refused(why)))
            }
        }
    }

    /// `InitiateAuth` with `USER_AUTH` and the confirmation's `session`: the first factor is the
    /// code just confirmed; tokens start the session, a challenge (MFA) goes to the caller.
    async fn sign_in_after(
        &self,
        username: &str,
        session: String,
        budget: Budget,
    ) -> Result<SignIn, SignInError> {
        let sessions = &self.sessions;
        let cognito = &sessions.inner.cognito;
        let action = "signing in after sign-up";
        let mut request = cognito
            .client
            .initiate_auth()
            .client_id(&cognito.client_id)
            .auth_flow(AuthFlowType::UserAuth)
            .auth_parameters("USERNAME", username)
            .session(session);
        if let Some(hash) = self.secret_hash(username) {
            request = request.auth_parameters("SECRET_HASH", hash);
        }
        let output = budget
            .call(Service::Cognito, action, request.send())
            .await?
            .map_err(|e| sign_in_failure(e, &sessions.call(action)))?;
        let result = sessions
            .next(Step::from(output), username.to_owned(), budget)
            .await;
        crate::login::sign_in::outcome(&result);
        result
    }

    /// `AdminAddUserToGroup` of the app's group for new users, if one is configured.
    async fn join_group(&self, username: &str, budget: Budget) -> Result<(), SignUpError> {
        let Some(group) = &self.settings().group else {
            return Ok(());
        };
        let sessions = &self.sessions;
        let pool = sessions.inner.pool_id.as_deref().ok_or_else(|| {
            Error::config("SIGN_UP_GROUP needs USER_POOL_ID (for AdminAddUserToGroup)")
        })?;
        let call = sessions.call("adding the new user to SIGN_UP_GROUP");
        let request = sessions
            .inner
            .cognito
            .client
            .admin_add_user_to_group()
            .user_pool_id(pool)
            .username(username)
            .group_name(group)
            .send();
        let Err(error) = budget.call(Service::Cognito, call.action, request).await? else {
            return Ok(());
        };
        let (code, message) = refusal(error, &call)?;
        Err(match code.as_str() {
            "UserNotFoundException" => SignUpError::WrongCode,
            "ResourceNotFoundException" => Error::config(format!(
                "SIGN_UP_GROUP {group:?} is not a group of user pool {pool} ({message})"
            ))
            .into(),
            _ => Error::config(format!(
                "Cognito refused to add the new user to SIGN_UP_GROUP {group:?}: {code} \
                 ({message}); the function's role needs cognito-idp:AdminAddUserToGroup on \
                 user pool {pool}"
            ))
            .into(),
        })
    }

    /// Sends the pending sign-up's user a new code (`ResendConfirmationCode`): the same step,
    /// with where the code went. Where the answer would tell whether the account exists or is
    /// confirmed (another browser's sign-up), the step comes back unchanged.
    ///
    /// ```no_run
    /// # async fn f(accounts: cognito_session::Accounts, sent: cognito_session::CodeSent) -> Result<(), cognito_session::SignUpError> {
    /// let sent = accounts.resend_code(&sent).await?;
    /// println!("a new code went to {:?}", sent.destination());
    /// # Ok(()) }
    /// ```
    pub async fn resend_code(&self, sent: &CodeSent) -> Result<CodeSent, SignUpError> {
        let work = self.resend(sent);
        self.step(
            "cognito_session.resend_code",
            ClientInfo::default(),
            work,
            |_| "sign_up_code_resent",
        )
        .await
    }

    /// Picks up a sign-up whose step is lost (its state expired after 24 hours, or the user
    /// closed the page): sends `username` a new confirmation code (`ResendConfirmationCode`)
    /// and returns a fresh step for the code form, confirmed with
    /// [`confirm_sign_up`](Accounts::confirm_sign_up) as usual. Since anyone can type any
    /// username, the step reveals nothing: an unknown or already confirmed user gets the same
    /// answer (unless
    /// [`reveal_account_existence`](crate::SessionsBuilder::reveal_account_existence)), no
    /// destination is shown, `SIGN_UP_GROUP` is not added, and the confirmation ends in
    /// [`Confirmed::SignInNeeded`] (sign-in after sign-up belongs to the browser that signed
    /// up): the user then signs in with the password.
    ///
    /// ```no_run
    /// # async fn f(accounts: cognito_session::Accounts) -> Result<(), cognito_session::SignUpError> {
    /// let sent = accounts.resume_sign_up("ada").await?;
    /// println!("Set-Cookie: {:?}; state {}", sent.set_cookie(), sent.state());
    /// # Ok(()) }
    /// ```
    pub async fn resume_sign_up(&self, username: &str) -> Result<CodeSent, SignUpError> {
        let work = async {
            let username = username.trim();
            if username.is_empty() {
                return Err(
                    Error::InvalidInput("a username is needed to resume a sign-up".into()).into(),
                );
            }
            let draft = CodeSent {
                purpose: Purpose::SignUp,
                pending: Pending {
                    u: username.to_owned(),
                    s: None,
                    c: false,
                    d: None,
                },
                state: String::new(),
                set_cookie: None,
            };
            let sent = self.resend(&draft).await?;
            let budget = self.sessions.budget(None);
            Ok(self
                .issue(Purpose::SignUp, SIGN_UP_LIFETIME_SECS, sent.pending, budget)
                .await?)
        };
        self.step(
            "cognito_session.resume_sign_up",
            ClientInfo::default(),
            work,
            |_| "sign_up_resumed",
        )
        .await
    }

    async fn resend(&self, sent: &CodeSent) -> Result<CodeSent, SignUpError> {
        if sent.purpose != Purpose::SignUp {
            return Err(Error::InvalidInput(
                "resend_code was given a password reset's step".into(),
            )
            .into());
        }
        let pending = &sent.pending;
        let sessions = &self.sessions;
        let cognito = &sessions.inner.cognito;
        let call = sessions.call("sending a new confirmation code");
        let request = cognito
            .client
            .resend_confirmation_code()
            .client_id(&cognito.client_id)
            .username(&pending.u)
            .set_secret_hash(self.secret_hash(&pending.u))
            .send();
        let answer = sessions
            .budget(None)
            .call(Service::Cognito, call.action, request)
            .await?;
        let reveal = self.settings().reveal;
        let mut again = sent.clone();
        again.set_cookie = None;
        match answer {
            Ok(output) => {
                if pending.c || reveal {
                    again.pending.d = output
                        .code_delivery_details
                        .and_then(|d| d.destination)
                        .or(again.pending.d);
                }
                Ok(again)
            }
            Err(error) => {
                let (code, message) = refusal(error, &call)?;
                if code == "UserNotFoundException" && !reveal {
                    return Ok(again);
                }
                let reading = Reading {
                    reveal,
                    own: pending.c,
                };
                match sort(&code, &message, reading, &call) {
                    Some(refused) => Err(refused),
                    None => Ok(again),
                }
            }
        }
    }
}
