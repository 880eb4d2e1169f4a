//! Own-form sign-in on the session manager: [`Sessions::sign_in`] (`USER_SRP_AUTH`),
//! [`Sessions::sign_in_with`] (choosing the flow), [`Sessions::sign_in_choice`] (`USER_AUTH`:
//! codes, passkeys or the password) and [`Sessions::respond`] (answering challenges), ending in
//! [`Sessions::start`].

use std::collections::HashMap;

use aws_sdk_cognitoidentityprovider::operation::initiate_auth::InitiateAuthOutput;
use aws_sdk_cognitoidentityprovider::operation::respond_to_auth_challenge::RespondToAuthChallengeOutput;
use aws_sdk_cognitoidentityprovider::types::{
    AuthFlowType, AuthenticationResultType, ChallengeNameType, VerifySoftwareTokenResponseType,
};

use crate::budget::Budget;
use crate::cognito::{secret_hash, Tokens};
use crate::error::{Error, Service};
use crate::http::cookie::{find, CookieSource};
use crate::login::challenge::{
    Answer, Carried, Challenge, ChallengeKind, FirstFactor, Mfa, SignIn, State,
};
use crate::login::sign_in_error::{sign_in_failure, Call, SignInError};
use crate::login::srp::{self, Srp};
use crate::login::state::{random, Purpose};
use crate::manager::Sessions;
use crate::telemetry::{self, Audit, ClientInfo, Count, Latency};
use tracing::Instrument;

/// Which Cognito flow checks the password.
///
/// ```
/// assert_eq!(cognito_session::SignInFlow::default(), cognito_session::SignInFlow::Srp);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignInFlow {
    /// `USER_SRP_AUTH` (the default): the password never leaves this function; it proves
    /// knowledge of it with SRP-6a. Needs `USER_POOL_ID` and the app client's
    /// `ALLOW_USER_SRP_AUTH`.
    #[default]
    Srp,
    /// `USER_PASSWORD_AUTH`: the password goes to Cognito (over TLS). Needs the app client's
    /// `ALLOW_USER_PASSWORD_AUTH`; some pools (user migration triggers) require it.
    Password,
}

/// The `FriendlyDeviceName` of the authenticator apps set up during sign-in.
const TOTP_DEVICE_NAME: &str = "cognito-session";

/// The challenge cookie (`__Host-` prefixed when cookies are `Secure`): `Strict`, since the
/// sign-in form posts from this site.
const CHALLENGE_COOKIE: [&str; 2] = ["__Host-cognito-signin", "cognito-signin"];

/// How long a challenge's sealed state opens: Cognito's challenge sessions last 3 to 15 minutes
/// (the app client's `AuthSessionValidity`), and Cognito refuses an expired one itself.
const CHALLENGE_LIFETIME_SECS: i64 = 900;

impl Sessions {
    /// Signs `username` in with `password` by `USER_SRP_AUTH` (or the flow `SIGN_IN_FLOW` /
    /// [`SessionsBuilder::sign_in_flow`](crate::SessionsBuilder::sign_in_flow) chose), and starts the session
    /// ([`Sessions::start`]: row, device confirmation) when Cognito asks nothing more. Otherwise
    /// returns the [`Challenge`] to answer with [`Sessions::respond`].
    ///
    /// Refusals are [`SignInError`]s (a wrong password and an unknown user are the same
    /// [`SignInError::IncorrectCredentials`]); a transient failure, or the deadline of this
    /// handle ([`Sessions::with_deadline`]: pass the Lambda's), is [`Error::Unavailable`] (503)
    /// with no session started. Call it from a `POST` route behind
    /// [`SessionLayer`](crate::SessionLayer), whose CSRF check keeps other sites from signing
    /// your users into an account of theirs. Needs `USER_POOL_ID` (the SRP math hashes the pool's name)
    /// and an app client allowing `ALLOW_USER_SRP_AUTH` and `ALLOW_REFRESH_TOKEN_AUTH`; with
    /// `CLIENT_SECRET`, every call carries its `SECRET_HASH`.
    ///
    /// ```no_run
    /// use cognito_session::{SignIn, SignInError};
    /// # async fn f(sessions: cognito_session::Sessions) {
    /// match sessions.sign_in("alice", "Correct-horse-9!").await {
    ///     Ok(SignIn::Done(session)) => println!("Set-Cookie: {:?}", session.set_cookie("token")),
    ///     Ok(SignIn::Challenge(challenge)) => println!("next: {:?}", challenge.kind()),
    ///     Err(error) => println!("{} {error}", error.status()),
    /// }
    /// # }
    /// ```
    pub async fn sign_in(&self, username: &str, password: &str) -> Result<SignIn, SignInError> {
        self.sign_in_with(self.inner.sign_in_flow, username, password)
            .await
    }

    /// [`sign_in`](Sessions::sign_in) with the flow of your choice.
    ///
    /// ```no_run
    /// use cognito_session::SignInFlow;
    /// # async fn f(sessions: cognito_session::Sessions) -> Result<(), cognito_session::SignInError> {
    /// let step = sessions.sign_in_with(SignInFlow::Password, "alice", "Correct-horse-9!").await?;
    /// # Ok(()) }
    /// ```
    pub async fn sign_in_with(
        &self,
        flow: SignInFlow,
        username: &str,
        password: &str,
    ) -> Result<SignIn, SignInError> {
        let started = std::time::Instant::now();
        let work = Box::pin(async {
            let result = self.password_sign_in(flow, username, password).await;
            telemetry::latency(Latency::SignIn, started.elapsed());
            outcome(&result);
            result
        });
        self.step("cognito_session.sign_in", work).await
    }

    /// Starts a choice-based sign-in (Cognito's `USER_AUTH`) for `username`: without a password,
    /// by a code sent by email or SMS or with a passkey, or with the password after all,
    /// whichever the pool allows and the user has. With a `preferred` factor that the user can
    /// use, Cognito goes straight to it (a code is sent: [`ChallengeKind::EmailOtp`] /
    /// [`ChallengeKind::SmsOtp`]; a passkey is asked: [`ChallengeKind::Passkey`]); otherwise it
    /// offers the choice ([`ChallengeKind::SelectFirstFactor`], answered with
    /// [`Answer::Factor`] or [`Answer::Password`]). Every step is a [`Challenge`], carried and
    /// answered like a password sign-in's ([`Sessions::respond`],
    /// [`Sessions::open_challenge`]); MFA after a password comes as it does there. The session
    /// starts when Cognito issues tokens.
    ///
    /// The password factors are given in answer to the choice, not as `preferred` (that is an
    /// [`Error::InvalidInput`]). An unknown user is not revealed when the app client prevents
    /// user existence errors (the default): Cognito then asks a code it never sent. Needs the
    /// app client's `ALLOW_USER_AUTH` (else [`Error::Config`] naming it), a pool on the
    /// Essentials or Plus tier with the factors in its sign-in policy, and for passkeys the
    /// pool's WebAuthn relying party (your domain). Call it from a `POST` route behind
    /// [`SessionLayer`](crate::SessionLayer) (CSRF).
    ///
    /// ```no_run
    /// use cognito_session::{Answer, ChallengeKind, FirstFactor, SignIn};
    /// # async fn f(sessions: cognito_session::Sessions) -> Result<(), cognito_session::SignInError> {
    /// if let SignIn::Challenge(challenge) = sessions.sign_in_choice("ada", Some(FirstFactor::EmailOtp)).await? {
    ///     if let ChallengeKind::EmailOtp { destination } = challenge.kind() {
    ///         // show the code form with challenge.state(), send challenge.set_cookie()
    ///         # let _ = destination;
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn sign_in_choice(
        &self,
        username: &str,
        preferred: Option<FirstFactor>,
    ) -> Result<SignIn, SignInError> {
        let started = std::time::Instant::now();
        let work = Box::pin(async {
            let result = self.choice_sign_in(username, preferred).await;
            telemetry::latency(Latency::SignIn, started.elapsed());
            outcome(&result);
            result
        });
        self.step("cognito_session.sign_in_choice", work).await
    }

    async fn choice_sign_in(
        &self,
        username: &str,
        preferred: Option<FirstFactor>,
    ) -> Result<SignIn, SignInError> {
        if let Some(factor @ (FirstFactor::Password | FirstFactor::PasswordSrp)) = preferred {
            return Err(Error::InvalidInput(format!(
                "{} cannot be preferred here: the password is given in answer to the choice \
                 (Answer::Password), or use sign_in",
                factor.cognito_name()
            ))
            .into());
        }
        if username.is_empty() {
            return Err(SignInError::IncorrectCredentials);
        }
        let budget = self.budget(None);
        let cognito = &self.inner.cognito;
        let mut request = cognito
            .client
            .initiate_auth()
            .client_id(&cognito.client_id)
            .auth_flow(AuthFlowType::UserAuth)
            .auth_parameters("USERNAME", username);
        if let Some(factor) = preferred {
            request = request.auth_parameters("PREFERRED_CHALLENGE", factor.cognito_name());
        }
        if let Some(secret) = &cognito.client_secret {
            request = request.auth_parameters(
                "SECRET_HASH",
                secret_hash(secret, username, &cognito.client_id),
            );
        }
        let action = "signing in (USER_AUTH)";
        let output = budget
            .call(Service::Cognito, action, request.send())
            .await?
            .map_err(|e| sign_in_failure(e, &self.call(action)))?;
        self.next(Step::from(output), username.to_owned(), budget)
            .await
    }

    /// A sign-in step as one invocation for metrics, in its span.
    async fn step<T>(
        &self,
        name: &'static str,
        work: impl std::future::Future<Output = Result<T, SignInError>>,
    ) -> Result<T, SignInError> {
        let span = tracing::info_span!(
            "cognito_session.sign_in",
            otel.name = name,
            otel.kind = "internal",
            error.r#type = tracing::field::Empty
        );
        let result = self
            .inner
            .telemetry
            .invocation(ClientInfo::default(), work.instrument(span.clone()))
            .await;
        if let Err(error) = &result {
            span.record("error.type", error.code());
        }
        result
    }

    async fn password_sign_in(
        &self,
        flow: SignInFlow,
        username: &str,
        password: &str,
    ) -> Result<SignIn, SignInError> {
        if username.is_empty() || password.is_empty() {
            return Err(SignInError::IncorrectCredentials);
        }
        let budget = self.budget(None);
        let cognito = &self.inner.cognito;
        let srp = match flow {
            SignInFlow::Srp => Some(self.srp_setup()?),
            SignInFlow::Password => None,
        };
        let mut request = cognito
            .client
            .initiate_auth()
            .client_id(&cognito.client_id)
            .auth_parameters("USERNAME", username);
        request = match &srp {
            Some((srp, _)) => request
                .auth_flow(AuthFlowType::UserSrpAuth)
                .auth_parameters("SRP_A", srp.srp_a()),
            None => request
                .auth_flow(AuthFlowType::UserPasswordAuth)
                .auth_parameters("PASSWORD", password),
        };
        if let Some(secret) = &cognito.client_secret {
            request = request.auth_parameters(
                "SECRET_HASH",
                secret_hash(secret, username, &cognito.client_id),
            );
        }
        let output = budget
            .call(Service::Cognito, "signing in", request.send())
            .await?
            .map_err(|e| sign_in_failure(e, &self.call("signing in")))?;
        let step = Step::from(output);
        let step = match (&srp, &step.name) {
            (Some((srp, pool_id)), Some(ChallengeNameType::PasswordVerifier)) => {
                self.password_verifier(srp, pool_id, username, password, step, budget)
                    .await?
            }
            _ => step,
        };
        self.next(step, username.to_owned(), budget).await
    }

    /// Answers `challenge` (from [`sign_in`](Sessions::sign_in) or an earlier `respond`, or
    /// [`Sessions::open_challenge`]) with `answer`: the session when Cognito is satisfied, or the
    /// next challenge (with a new state and cookie: the earlier state no longer opens). An
    /// answer that does not fit the challenge is [`Error::InvalidInput`] (400), and so is a new
    /// password sent with an attribute the challenge does not require (Cognito would set any
    /// writable attribute it is given: `custom:role`, say). A wrong code
    /// ([`SignInError::WrongCode`]) or a refused new password leaves the challenge as it was:
    /// the same state may be answered again.
    ///
    /// For [`ChallengeKind::MfaSetup`], [`Answer::Choose`]`(`[`Mfa::Totp`]`)` calls Cognito's
    /// `AssociateSoftwareToken` and returns a [`ChallengeKind::TotpSetup`] with the secret for
    /// the authenticator app; its [`Answer::Code`] is checked by `VerifySoftwareToken`, then the
    /// sign-in continues (`MFA_SETUP` with the new Cognito session).
    ///
    /// ```no_run
    /// use cognito_session::{Answer, Challenge, SignIn};
    /// # async fn f(sessions: cognito_session::Sessions, state: &str) -> Result<(), cognito_session::SignInError> {
    /// # let request = http::Request::new(());
    /// let challenge = sessions.open_challenge(&request, state).await?;
    /// if let SignIn::Done(session) = sessions.respond(&challenge, &Answer::Code("123456".into())).await? {
    ///     println!("Set-Cookie: {:?}", session.set_cookie("token"));
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn respond(
        &self,
        challenge: &Challenge,
        answer: &Answer,
    ) -> Result<SignIn, SignInError> {
        let work = Box::pin(async {
            let result = self.answer_challenge(challenge, answer).await;
            outcome(&result);
            result
        });
        self.step("cognito_session.respond", work).await
    }

    async fn answer_challenge(
        &self,
        challenge: &Challenge,
        answer: &Answer,
    ) -> Result<SignIn, SignInError> {
        let budget = self.budget(None);
        let mut responses = HashMap::new();
        match (&challenge.kind, answer) {
            (
                ChallengeKind::NewPasswordRequired {
                    required_attributes,
                },
                Answer::NewPassword {
                    password,
                    attributes,
                },
            ) => {
                responses.insert("NEW_PASSWORD".to_owned(), password.clone());
                for (name, value) in attributes {
                    if !required_attributes.contains(name) {
                        return Err(Error::InvalidInput(format!(
                            "the attribute {name:?} is not one the new-password challenge \
                             requires ({required_attributes:?}); only those are sent"
                        ))
                        .into());
                    }
                    responses.insert(format!("userAttributes.{name}"), value.clone());
                }
            }
            (ChallengeKind::SoftwareTokenMfa, Answer::Code(code)) => {
                responses.insert("SOFTWARE_TOKEN_MFA_CODE".to_owned(), code.trim().to_owned());
            }
            (ChallengeKind::SmsMfa { .. }, Answer::Code(code)) => {
                responses.insert("SMS_MFA_CODE".to_owned(), code.trim().to_owned());
            }
            (ChallengeKind::EmailOtp { .. }, Answer::Code(code)) => {
                responses.insert("EMAIL_OTP_CODE".to_owned(), code.trim().to_owned());
            }
            (ChallengeKind::SelectMfaType { options }, Answer::Choose(mfa))
                if options.contains(mfa) =>
            {
                responses.insert("ANSWER".to_owned(), mfa.cognito_name().to_owned());
            }
            (ChallengeKind::MfaSetup { options }, Answer::Choose(Mfa::Totp))
                if options.is_empty() || options.contains(&Mfa::Totp) =>
            {
                return self.associate_totp(challenge, budget).await;
            }
            (ChallengeKind::TotpSetup, Answer::Code(code)) => {
                return self.verify_totp(challenge, code.trim(), budget).await;
            }
            (ChallengeKind::SmsOtp { .. }, Answer::Code(code)) => {
                responses.insert("SMS_OTP_CODE".to_owned(), code.trim().to_owned());
            }
            (ChallengeKind::SelectFirstFactor { options }, Answer::Factor(factor))
                if options.contains(factor)
                    && !matches!(factor, FirstFactor::Password | FirstFactor::PasswordSrp) =>
            {
                responses.insert("ANSWER".to_owned(), factor.cognito_name().to_owned());
            }
            (ChallengeKind::SelectFirstFactor { options }, Answer::Password(password)) => {
                return self
                    .choose_password(challenge, options, password, budget)
                    .await;
            }
            (ChallengeKind::Passkey { .. }, Answer::Passkey(credential)) => {
                // A browser's credential is a JSON object; anything else never reaches Cognito.
                let object = serde_json::from_str::<serde_json::Value>(credential)
                    .is_ok_and(|value| value.is_object());
                if !object {
                    return Err(Error::InvalidInput(
                        "the passkey answer is not the browser's credential JSON \
                         (JSON.stringify(credential.toJSON()))"
                            .to_owned(),
                    )
                    .into());
                }
                responses.insert("CREDENTIAL".to_owned(), credential.clone());
            }
            (kind, answer) => {
                return Err(Error::InvalidInput(format!(
                    "{answer:?} does not answer the sign-in challenge {kind:?} (MFA setup supports \
                     the authenticator app, Mfa::Totp, only; a first factor must be one offered)"
                ))
                .into())
            }
        }
        self.answer(challenge, responses, budget).await
    }

    /// The challenge a sign-in form brings back: `state` from the page
    /// ([`Challenge::state`]) and the binding cookie from `request` (any
    /// [`CookieSource`]: an `http::Request`, a Lambda event, a header map). A state that was
    /// edited, sealed elsewhere, sent from another browser, replaced by a newer step, or is
    /// older than 15 minutes is [`SignInError::StateRejected`] (400: start the sign-in again),
    /// decided without any call to Cognito.
    ///
    /// ```no_run
    /// # async fn f(sessions: cognito_session::Sessions, request: lambda_http::Request, form_state: &str) -> Result<(), cognito_session::SignInError> {
    /// let challenge = sessions.open_challenge(&request, form_state).await?;
    /// println!("{:?}", challenge.kind());
    /// # Ok(()) }
    /// ```
    pub async fn open_challenge<S: CookieSource + ?Sized>(
        &self,
        request: &S,
        state: &str,
    ) -> Result<Challenge, SignInError> {
        let binding = find(self.challenge_cookie_name(), request);
        let budget = self.budget(request.deadline());
        let work = async {
            let sealed: Result<State, SignInError> = match self
                .open_state(Purpose::SignIn, binding, state, budget)
                .await
            {
                Ok(opened) => opened.map_err(SignInError::StateRejected),
                Err(error) => Err(error.into()),
            };
            let carried = Carried {
                state: state.to_owned(),
                set_cookie: None,
            };
            let opened = sealed.and_then(|sealed| {
                Challenge::from_sealed(sealed, carried)
                    .ok_or(SignInError::StateRejected(super::StateError::Tampered))
            });
            if let Err(error) = &opened {
                failure(error);
            }
            opened
        };
        self.inner
            .telemetry
            .invocation(self.inner.telemetry.client(request), Box::pin(work))
            .await
    }

    /// The `Set-Cookie` that removes the challenge cookie: send it when a sign-in is over
    /// (signed in, or given up), so no state of it opens again.
    ///
    /// ```no_run
    /// # fn f(sessions: cognito_session::Sessions) {
    /// println!("Set-Cookie: {}", sessions.clear_challenge_cookie());
    /// # }
    /// ```
    pub fn clear_challenge_cookie(&self) -> String {
        self.challenge_cookie("", 0)
    }

    /// The challenge cookie's name: `__Host-` prefixed whenever cookies are `Secure`.
    fn challenge_cookie_name(&self) -> &'static str {
        self.flow_cookie_name(CHALLENGE_COOKIE)
    }

    fn challenge_cookie(&self, value: &str, max_age: i64) -> String {
        self.flow_cookie(CHALLENGE_COOKIE, value, max_age, ::cookie::SameSite::Strict)
    }

    /// A challenge Cognito just asked, sealed for the page and bound to a fresh cookie (which
    /// replaces the previous step's, so that step's state no longer opens).
    async fn issue(&self, mut challenge: Challenge, budget: Budget) -> Result<Challenge, Error> {
        let binding = random(32)?;
        let state = self
            .seal_state(
                Purpose::SignIn,
                &binding,
                CHALLENGE_LIFETIME_SECS,
                &challenge.to_sealed(),
                budget,
            )
            .await?;
        challenge.carried = Carried {
            state,
            set_cookie: Some(self.challenge_cookie(&binding, CHALLENGE_LIFETIME_SECS)),
        };
        Ok(challenge)
    }

    /// `RespondToAuthChallenge` for `challenge` with `responses` (plus `USERNAME` and
    /// `SECRET_HASH`), then the next step.
    async fn answer(
        &self,
        challenge: &Challenge,
        responses: HashMap<String, String>,
        budget: Budget,
    ) -> Result<SignIn, SignInError> {
        let step = self.send_answer(challenge, responses, budget).await?;
        self.next(step, challenge.username.clone(), budget).await
    }

    /// The password in answer to `SELECT_CHALLENGE`: `PASSWORD_SRP` (then Cognito's
    /// `PASSWORD_VERIFIER`) when offered and the pool id is known, `PASSWORD` otherwise.
    async fn choose_password(
        &self,
        challenge: &Challenge,
        options: &[FirstFactor],
        password: &str,
        budget: Budget,
    ) -> Result<SignIn, SignInError> {
        if password.is_empty() {
            return Err(SignInError::IncorrectCredentials);
        }
        let srp = options.contains(&FirstFactor::PasswordSrp) && self.inner.pool_id.is_some();
        if srp {
            let (srp, pool_id) = self.srp_setup()?;
            let responses = HashMap::from([
                ("ANSWER".to_owned(), "PASSWORD_SRP".to_owned()),
                ("SRP_A".to_owned(), srp.srp_a()),
            ]);
            let step = self.send_answer(challenge, responses, budget).await?;
            let username = &challenge.username;
            let step = match step.name {
                Some(ChallengeNameType::PasswordVerifier) => {
                    self.password_verifier(&srp, &pool_id, username, password, step, budget)
                        .await?
                }
                _ => step,
            };
            return self.next(step, username.clone(), budget).await;
        }
        if !options.contains(&FirstFactor::Password) {
            return Err(Error::InvalidInput(format!(
                "Cognito does not offer this user a password sign-in here (offered: {options:?})"
            ))
            .into());
        }
        let responses = HashMap::from([
            ("ANSWER".to_owned(), "PASSWORD".to_owned()),
            ("PASSWORD".to_owned(), password.to_owned()),
        ]);
        self.answer(challenge, responses, budget).await
    }

    /// `RespondToAuthChallenge` for `challenge` with `responses` (plus `USERNAME` and
    /// `SECRET_HASH`): Cognito's answer.
    async fn send_answer(
        &self,
        challenge: &Challenge,
        mut responses: HashMap<String, String>,
        budget: Budget,
    ) -> Result<Step, SignInError> {
        let cognito = &self.inner.cognito;
        responses.insert("USERNAME".to_owned(), challenge.username.clone());
        if let Some(secret) = &cognito.client_secret {
            responses.insert(
                "SECRET_HASH".to_owned(),
                secret_hash(secret, &challenge.username, &cognito.client_id),
            );
        }
        let request = cognito
            .client
            .respond_to_auth_challenge()
            .client_id(&cognito.client_id)
            .challenge_name(ChallengeNameType::from(challenge.name.as_str()))
            .session(&challenge.session)
            .set_challenge_responses(Some(responses));
        let output = budget
            .call(
                Service::Cognito,
                "answering the sign-in challenge",
                request.send(),
            )
            .await?
            .map_err(|e| sign_in_failure(e, &self.call("answering the sign-in challenge")))?;
        Ok(Step::from(output))
    }

    /// The SRP secret and the pool id its math needs.
    fn srp_setup(&self) -> Result<(Srp, String), SignInError> {
        let pool_id = self.inner.pool_id.clone().ok_or_else(|| {
            Error::config(
                "sign_in (USER_SRP_AUTH) needs USER_POOL_ID: set it, or use \
                 sign_in_with(SignInFlow::Password, ..)",
            )
        })?;
        let srp = Srp::new().map_err(|e| Error::unavailable(Service::Cognito, "signing in", e))?;
        Ok((srp, pool_id))
    }

    /// Answers Cognito's `PASSWORD_VERIFIER` with the password claim.
    async fn password_verifier(
        &self,
        srp: &Srp,
        pool_id: &str,
        username: &str,
        password: &str,
        step: Step,
        budget: Budget,
    ) -> Result<Step, SignInError> {
        let cognito = &self.inner.cognito;
        let parameter = |name: &str| step.parameters.get(name).map_or("", String::as_str);
        let user_id = parameter("USER_ID_FOR_SRP");
        // The USERNAME of the responses: Cognito's own name for the user (the same as
        // USER_ID_FOR_SRP in Cognito; moto's USER_ID_FOR_SRP is the sub instead).
        let cognito_username = [parameter("USERNAME"), user_id, username]
            .into_iter()
            .find(|u| !u.is_empty())
            .unwrap_or(username)
            .to_owned();
        let timestamp = srp::timestamp(self.inner.clock.now());
        let signature = srp
            .password_claim(&srp::Challenge {
                pool_id,
                user_id,
                password,
                salt: parameter("SALT"),
                srp_b: parameter("SRP_B"),
                secret_block: parameter("SECRET_BLOCK"),
                timestamp: &timestamp,
            })
            .map_err(|e| {
                tracing::warn!(error = %e, "sign-in refused: unusable SRP challenge from Cognito");
                Error::unavailable(Service::Cognito, "signing in", e)
            })?;
        let mut responses = HashMap::from([
            ("USERNAME".to_owned(), cognito_username.clone()),
            (
                "PASSWORD_CLAIM_SECRET_BLOCK".to_owned(),
                parameter("SECRET_BLOCK").to_owned(),
            ),
            ("PASSWORD_CLAIM_SIGNATURE".to_owned(), signature),
            ("TIMESTAMP".to_owned(), timestamp),
        ]);
        if let Some(secret) = &cognito.client_secret {
            responses.insert(
                "SECRET_HASH".to_owned(),
                secret_hash(secret, &cognito_username, &cognito.client_id),
            );
        }
        let request = cognito
            .client
            .respond_to_auth_challenge()
            .client_id(&cognito.client_id)
            .challenge_name(ChallengeNameType::PasswordVerifier)
            .set_session(step.session)
            .set_challenge_responses(Some(responses));
        let output = budget
            .call(Service::Cognito, "signing in", request.send())
            .await?
            .map_err(|e| sign_in_failure(e, &self.call("signing in")))?;
        let mut step = Step::from(output);
        step.parameters
            .entry("USERNAME".to_owned())
            .or_insert(cognito_username);
        Ok(step)
    }

    /// `AssociateSoftwareToken` with the challenge's session: the TOTP secret to show.
    async fn associate_totp(
        &self,
        challenge: &Challenge,
        budget: Budget,
    ) -> Result<SignIn, SignInError> {
        let request = self
            .inner
            .cognito
            .client
            .associate_software_token()
            .session(&challenge.session);
        let action = "setting up the authenticator app";
        let output = budget
            .call(Service::Cognito, action, request.send())
            .await?
            .map_err(|e| sign_in_failure(e, &self.call(action)))?;
        let secret = output
            .secret_code
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                Error::unavailable(
                    Service::Cognito,
                    "setting up the authenticator app",
                    "AssociateSoftwareToken answered without a SecretCode",
                )
            })?;
        let next = Challenge {
            kind: ChallengeKind::TotpSetup,
            name: challenge.name.clone(),
            session: output.session.unwrap_or_else(|| challenge.session.clone()),
            username: challenge.username.clone(),
            totp_secret: Some(secret),
            carried: Carried::default(),
        };
        Ok(SignIn::Challenge(self.issue(next, budget).await?))
    }

    /// `VerifySoftwareToken` of the first code, then `MFA_SETUP` with the session it returns.
    async fn verify_totp(
        &self,
        challenge: &Challenge,
        code: &str,
        budget: Budget,
    ) -> Result<SignIn, SignInError> {
        let request = self
            .inner
            .cognito
            .client
            .verify_software_token()
            .session(&challenge.session)
            .user_code(code)
            .friendly_device_name(TOTP_DEVICE_NAME);
        let action = "verifying the authenticator app";
        let output = budget
            .call(Service::Cognito, action, request.send())
            .await?
            .map_err(|e| sign_in_failure(e, &self.call(action)))?;
        if output.status != Some(VerifySoftwareTokenResponseType::Success) {
            return Err(SignInError::WrongCode);
        }
        let next = Challenge {
            kind: challenge.kind.clone(),
            name: "MFA_SETUP".to_owned(),
            session: output.session.unwrap_or_else(|| challenge.session.clone()),
            username: challenge.username.clone(),
            totp_secret: None,
            carried: Carried::default(),
        };
        self.answer(&next, HashMap::new(), budget).await
    }

    /// Tokens: start the session (a session that cannot be stored has its refresh token
    /// revoked). A challenge: seal it and hand it to the caller.
    pub(crate) async fn next(
        &self,
        step: Step,
        username: String,
        budget: Budget,
    ) -> Result<SignIn, SignInError> {
        if let Some(result) = &step.result {
            let session = self
                .start_owned(&Tokens::from(result), budget, "own_form")
                .await?;
            return Ok(SignIn::Done(session));
        }
        let name = step.name.as_ref().map_or("", ChallengeNameType::as_str);
        let session = step.session.filter(|s| !s.is_empty()).ok_or_else(|| {
            Error::unavailable(
                Service::Cognito,
                "signing in",
                "Cognito answered with neither tokens nor a challenge session",
            )
        })?;
        match Challenge::of(name, &step.parameters, &step.available, session, username) {
            Some(challenge) => Ok(SignIn::Challenge(self.issue(challenge, budget).await?)),
            None => Err(Error::config(format!(
                "the user pool asked the sign-in challenge {name}, which this library does not \
                 answer (it answers NEW_PASSWORD_REQUIRED, SOFTWARE_TOKEN_MFA, SMS_MFA, \
                 EMAIL_OTP, SMS_OTP, SELECT_MFA_TYPE, MFA_SETUP, SELECT_CHALLENGE and \
                 WEB_AUTHN): check the pool's sign-in settings (custom auth triggers)"
            ))
            .into()),
        }
    }

    pub(crate) fn call(&self, action: &'static str) -> Call {
        Call {
            action,
            client_id: self.inner.cognito.client_id.clone(),
            region: self
                .inner
                .cognito
                .client
                .config()
                .region()
                .map_or_else(|| "(none configured)".to_owned(), ToString::to_string),
        }
    }
}

/// One answer of Cognito: tokens or a challenge.
pub(crate) struct Step {
    pub name: Option<ChallengeNameType>,
    pub parameters: HashMap<String, String>,
    /// `AvailableChallenges` (`InitiateAuth` with `USER_AUTH` only): the first factors offered.
    pub available: Vec<String>,
    pub session: Option<String>,
    pub result: Option<AuthenticationResultType>,
}

impl From<InitiateAuthOutput> for Step {
    fn from(output: InitiateAuthOutput) -> Step {
        Step {
            name: output.challenge_name,
            parameters: output.challenge_parameters.unwrap_or_default(),
            available: output
                .available_challenges
                .unwrap_or_default()
                .iter()
                .map(|name| name.as_str().to_owned())
                .collect(),
            session: output.session,
            result: output.authentication_result,
        }
    }
}

impl From<RespondToAuthChallengeOutput> for Step {
    fn from(output: RespondToAuthChallengeOutput) -> Step {
        Step {
            name: output.challenge_name,
            parameters: output.challenge_parameters.unwrap_or_default(),
            available: Vec::new(),
            session: output.session,
            result: output.authentication_result,
        }
    }
}

/// Counts a sign-in step's outcome and writes its audit event: `succeeded` (the session's own
/// `session_started` follows), `challenge` (with Cognito's challenge name), or the failure's
/// code. Never the username.
pub(crate) fn outcome(result: &Result<SignIn, SignInError>) {
    match result {
        Ok(SignIn::Done(_)) => telemetry::count(Count::SignIn("succeeded")),
        Ok(SignIn::Challenge(challenge)) => {
            telemetry::count(Count::SignIn("challenge"));
            telemetry::audit(
                "sign_in_challenge",
                "sign-in challenge",
                Audit {
                    reason: Some(challenge.name.as_str()),
                    ..Audit::default()
                },
            );
        }
        Err(error) => failure(error),
    }
}

/// Counts and audits a refused or failed sign-in step.
fn failure(error: &SignInError) {
    telemetry::count(Count::SignIn(error.code()));
    if let SignInError::Failed(error) = error {
        telemetry::failed(error);
    }
    telemetry::audit(
        "sign_in_failed",
        "sign-in refused",
        Audit {
            reason: Some(error.code()),
            ..Audit::default()
        },
    );
}
