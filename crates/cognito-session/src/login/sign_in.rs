//! Password sign-in on the session manager: [`Sessions::sign_in`] (`USER_SRP_AUTH`),
//! [`Sessions::sign_in_with`] (choosing the flow) and [`Sessions::respond`] (answering
//! challenges), ending in [`Sessions::start`].

use std::collections::HashMap;

use aws_sdk_cognitoidentityprovider::types::{
    AuthFlowType, AuthenticationResultType, ChallengeNameType, VerifySoftwareTokenResponseType,
};

use crate::cognito::{secret_hash, Tokens};
use crate::error::{Error, Service};
use crate::login::challenge::{Answer, Challenge, ChallengeKind, Mfa, SignIn};
use crate::login::sign_in_error::{sign_in_failure, Call, SignInError};
use crate::login::srp::{self, Srp};
use crate::manager::Sessions;

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

impl Sessions {
    /// Signs `username` in with `password` by `USER_SRP_AUTH` (or the flow `SIGN_IN_FLOW` /
    /// [`SessionsBuilder::sign_in_flow`](crate::SessionsBuilder::sign_in_flow) chose), and starts the session
    /// ([`Sessions::start`]: row, device confirmation) when Cognito asks nothing more. Otherwise
    /// returns the [`Challenge`] to answer with [`Sessions::respond`].
    ///
    /// Refusals are [`SignInError`]s (a wrong password and an unknown user are the same
    /// [`SignInError::IncorrectCredentials`]); a transient failure is [`Error::Unavailable`]
    /// (503) with no session started. Needs `USER_POOL_ID` (the SRP math hashes the pool's name)
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
        if username.is_empty() || password.is_empty() {
            return Err(SignInError::IncorrectCredentials);
        }
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
        let output = request
            .send()
            .await
            .map_err(|e| sign_in_failure(e, &self.call("signing in")))?;
        let step = Step {
            name: output.challenge_name,
            parameters: output.challenge_parameters.unwrap_or_default(),
            session: output.session,
            result: output.authentication_result,
        };
        let step = match (&srp, &step.name) {
            (Some((srp, pool_id)), Some(ChallengeNameType::PasswordVerifier)) => {
                self.password_verifier(srp, pool_id, username, password, step)
                    .await?
            }
            _ => step,
        };
        self.next(step, username.to_owned()).await
    }

    /// Answers `challenge` (from [`sign_in`](Sessions::sign_in) or an earlier `respond`, or
    /// [`Challenge::from_state`]) with `answer`: the session when Cognito is satisfied, or the
    /// next challenge. An answer that does not fit the challenge is [`Error::InvalidInput`] (400).
    ///
    /// For [`ChallengeKind::MfaSetup`], [`Answer::Choose`]`(`[`Mfa::Totp`]`)` calls Cognito's
    /// `AssociateSoftwareToken` and returns a [`ChallengeKind::TotpSetup`] with the secret for
    /// the authenticator app; its [`Answer::Code`] is checked by `VerifySoftwareToken`, then the
    /// sign-in continues (`MFA_SETUP` with the new Cognito session).
    ///
    /// ```no_run
    /// use cognito_session::{Answer, Challenge, SignIn};
    /// # async fn f(sessions: cognito_session::Sessions, state: &str) -> Result<(), cognito_session::SignInError> {
    /// let challenge = Challenge::from_state(state)?;
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
        let mut responses = HashMap::new();
        match (&challenge.kind, answer) {
            (
                ChallengeKind::NewPasswordRequired { .. },
                Answer::NewPassword {
                    password,
                    attributes,
                },
            ) => {
                responses.insert("NEW_PASSWORD".to_owned(), password.clone());
                for (name, value) in attributes {
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
                return self.associate_totp(challenge).await;
            }
            (ChallengeKind::TotpSetup, Answer::Code(code)) => {
                return self.verify_totp(challenge, code.trim()).await;
            }
            (kind, answer) => {
                return Err(Error::InvalidInput(format!(
                    "{answer:?} does not answer the sign-in challenge {kind:?} (MFA setup supports \
                     the authenticator app, Mfa::Totp, only)"
                ))
                .into())
            }
        }
        self.answer(challenge, responses).await
    }

    /// `RespondToAuthChallenge` for `challenge` with `responses` (plus `USERNAME` and
    /// `SECRET_HASH`), then the next step.
    async fn answer(
        &self,
        challenge: &Challenge,
        mut responses: HashMap<String, String>,
    ) -> Result<SignIn, SignInError> {
        let cognito = &self.inner.cognito;
        responses.insert("USERNAME".to_owned(), challenge.username.clone());
        if let Some(secret) = &cognito.client_secret {
            responses.insert(
                "SECRET_HASH".to_owned(),
                secret_hash(secret, &challenge.username, &cognito.client_id),
            );
        }
        let output = cognito
            .client
            .respond_to_auth_challenge()
            .client_id(&cognito.client_id)
            .challenge_name(ChallengeNameType::from(challenge.name.as_str()))
            .session(&challenge.session)
            .set_challenge_responses(Some(responses))
            .send()
            .await
            .map_err(|e| sign_in_failure(e, &self.call("answering the sign-in challenge")))?;
        let step = Step {
            name: output.challenge_name,
            parameters: output.challenge_parameters.unwrap_or_default(),
            session: output.session,
            result: output.authentication_result,
        };
        self.next(step, challenge.username.clone()).await
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
        let output = cognito
            .client
            .respond_to_auth_challenge()
            .client_id(&cognito.client_id)
            .challenge_name(ChallengeNameType::PasswordVerifier)
            .set_session(step.session)
            .set_challenge_responses(Some(responses))
            .send()
            .await
            .map_err(|e| sign_in_failure(e, &self.call("signing in")))?;
        let mut parameters = output.challenge_parameters.unwrap_or_default();
        parameters
            .entry("USERNAME".to_owned())
            .or_insert(cognito_username);
        Ok(Step {
            name: output.challenge_name,
            parameters,
            session: output.session,
            result: output.authentication_result,
        })
    }

    /// `AssociateSoftwareToken` with the challenge's session: the TOTP secret to show.
    async fn associate_totp(&self, challenge: &Challenge) -> Result<SignIn, SignInError> {
        let output = self
            .inner
            .cognito
            .client
            .associate_software_token()
            .session(&challenge.session)
            .send()
            .await
            .map_err(|e| sign_in_failure(e, &self.call("setting up the authenticator app")))?;
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
        Ok(SignIn::Challenge(Challenge {
            kind: ChallengeKind::TotpSetup,
            name: challenge.name.clone(),
            session: output.session.unwrap_or_else(|| challenge.session.clone()),
            username: challenge.username.clone(),
            totp_secret: Some(secret),
        }))
    }

    /// `VerifySoftwareToken` of the first code, then `MFA_SETUP` with the session it returns.
    async fn verify_totp(&self, challenge: &Challenge, code: &str) -> Result<SignIn, SignInError> {
        let output = self
            .inner
            .cognito
            .client
            .verify_software_token()
            .session(&challenge.session)
            .user_code(code)
            .friendly_device_name(TOTP_DEVICE_NAME)
            .send()
            .await
            .map_err(|e| sign_in_failure(e, &self.call("verifying the authenticator app")))?;
        if output.status != Some(VerifySoftwareTokenResponseType::Success) {
            return Err(SignInError::WrongCode);
        }
        let next = Challenge {
            kind: challenge.kind.clone(),
            name: "MFA_SETUP".to_owned(),
            session: output.session.unwrap_or_else(|| challenge.session.clone()),
            username: challenge.username.clone(),
            totp_secret: None,
        };
        self.answer(&next, HashMap::new()).await
    }

    /// Tokens: start the session. A challenge: hand it to the caller.
    async fn next(&self, step: Step, username: String) -> Result<SignIn, SignInError> {
        if let Some(result) = &step.result {
            return Ok(SignIn::Done(self.start_signed_in(result).await?));
        }
        let name = step.name.as_ref().map_or("", ChallengeNameType::as_str);
        let session = step.session.filter(|s| !s.is_empty()).ok_or_else(|| {
            Error::unavailable(
                Service::Cognito,
                "signing in",
                "Cognito answered with neither tokens nor a challenge session",
            )
        })?;
        match Challenge::of(name, &step.parameters, session, username) {
            Some(challenge) => {
                tracing::info!(challenge = name, "sign-in challenge");
                Ok(SignIn::Challenge(challenge))
            }
            None => Err(Error::config(format!(
                "the user pool asked the sign-in challenge {name}, which this library does not \
                 answer (it answers NEW_PASSWORD_REQUIRED, SOFTWARE_TOKEN_MFA, SMS_MFA, \
                 EMAIL_OTP, SELECT_MFA_TYPE and MFA_SETUP): check the pool's sign-in settings \
                 (custom auth triggers, passwordless factors)"
            ))
            .into()),
        }
    }

    /// [`Sessions::start`] with the sign-in's tokens. When it fails (503, nothing stored), the
    /// new refresh token is revoked (best effort) rather than left valid and unused.
    async fn start_signed_in(
        &self,
        result: &AuthenticationResultType,
    ) -> Result<crate::Session, Error> {
        let tokens = Tokens::from(result);
        match self.start(&tokens).await {
            Ok(session) => {
                tracing::info!("signed in");
                Ok(session)
            }
            Err(error) => {
                if let Some(refresh_token) = &tokens.refresh_token {
                    if let Err(revoke) = Box::pin(self.inner.cognito.revoke(refresh_token)).await {
                        tracing::warn!(error = %crate::error::Chain(&revoke), "sign-in's session not started, revocation pending");
                    }
                }
                Err(error)
            }
        }
    }

    fn call(&self, action: &'static str) -> Call {
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
struct Step {
    name: Option<ChallengeNameType>,
    parameters: HashMap<String, String>,
    session: Option<String>,
    result: Option<AuthenticationResultType>,
}
