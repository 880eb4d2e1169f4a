//! Choice-based sign-in (`InitiateAuth` with `USER_AUTH`) and the answers to its challenges.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use webauthn_rs::prelude::{PasskeyAuthentication, PublicKeyCredential};

use super::{error, ok, session_id, FakeAccounts, User, AUTH_SESSION, SIGN_IN_ATTEMPTS};

/// Where a `USER_AUTH` sign-in stands.
pub(crate) enum Step {
    /// `SELECT_CHALLENGE` with these choices.
    Select(Vec<String>),
    /// `EMAIL_OTP` / `SMS_OTP` with the code sent.
    Code { name: &'static str, code: String },
    /// `WEB_AUTHN` with the ceremony's state.
    WebAuthn(Box<PasskeyAuthentication>),
    /// An unknown user (existence errors prevented): a code step no code answers.
    Nobody,
}

/// A challenge session, bound to its user.
pub(crate) struct AuthSession {
    pub user: User,
    pub step: Step,
    pub issued: Instant,
    pub lifetime: Duration,
    pub wrong: u32,
}

fn invalid_session() -> Option<(u16, String)> {
    error("NotAuthorizedException", "Invalid session for the user.")
}

impl FakeAccounts {
    /// The first factors `user` can use under this pool's sign-in policy.
    fn available(&self, user: &User) -> Vec<String> {
        let has_passkey = self
            .lock()
            .passkeys
            .get(&user.sub)
            .is_some_and(|list| !list.is_empty());
        self.first_factors
            .iter()
            .filter(|factor| match factor.as_str() {
                "EMAIL_OTP" => user.email.is_some(),
                "SMS_OTP" => user.phone.is_some(),
                "WEB_AUTHN" => has_passkey && self.webauthn.is_some(),
                _ => true,
            })
            .cloned()
            .collect()
    }

    /// Stores a new challenge session for `user` at `step`.
    fn issue(&self, user: User, step: Step) -> String {
        let session = session_id();
        self.lock().auth.insert(
            session.clone(),
            AuthSession {
                user,
                step,
                issued: Instant::now(),
                lifetime: AUTH_SESSION,
                wrong: 0,
            },
        );
        session
    }

    /// Moves `user` to challenge `factor`: the answer to send.
    async fn go_to(&self, user: User, factor: &str, parameters: &Value) -> Option<(u16, String)> {
        match factor {
            "EMAIL_OTP" | "SMS_OTP" => {
                let (name, to, medium) = if factor == "EMAIL_OTP" {
                    ("EMAIL_OTP", user.email.clone()?, "EMAIL")
                } else {
                    ("SMS_OTP", user.phone.clone()?, "SMS")
                };
                let code = self.sign_in_code(&user.username, &to);
                let masked = super::mask(&to);
                let username = user.username.clone();
                let session = self.issue(user, Step::Code { name, code });
                ok(json!({
                    "ChallengeName": name,
                    "Session": session,
                    "ChallengeParameters": {
                        "CODE_DELIVERY_DELIVERY_MEDIUM": medium,
                        "CODE_DELIVERY_DESTINATION": masked,
                        "USERNAME": username,
                    },
                }))
            }
            "WEB_AUTHN" => {
                let rp = self.webauthn.as_ref()?;
                let passkeys: Vec<_> = self
                    .lock()
                    .passkeys
                    .get(&user.sub)
                    .map(|list| list.iter().map(|p| p.passkey.clone()).collect())
                    .unwrap_or_default();
                let (options, state) = rp.start_authentication(&passkeys)?;
                let username = user.username.clone();
                let session = self.issue(user, Step::WebAuthn(Box::new(state)));
                ok(json!({
                    "ChallengeName": "WEB_AUTHN",
                    "Session": session,
                    "ChallengeParameters": {
                        "CREDENTIAL_REQUEST_OPTIONS": options.to_string(),
                        "USERNAME": username,
                    },
                }))
            }
            "PASSWORD" => {
                let password = parameters["PASSWORD"].as_str().unwrap_or_default();
                let mut auth = json!({"USERNAME": user.username, "PASSWORD": password});
                if let Some(secret) = &self.secret {
                    auth["SECRET_HASH"] = json!(super::moto::secret_hash(
                        secret,
                        &user.username,
                        &self.client_id
                    ));
                }
                let request = json!({"ClientId": self.client_id, "AuthFlow": "USER_PASSWORD_AUTH", "AuthParameters": auth});
                Some(match self.moto.call("InitiateAuth", request).await {
                    Ok(answer) => (200, answer.to_string()),
                    Err(answer) => answer,
                })
            }
            "PASSWORD_SRP" => {
                let mut auth = json!({"USERNAME": user.username, "SRP_A": parameters["SRP_A"]});
                if let Some(secret) = &self.secret {
                    auth["SECRET_HASH"] = json!(super::moto::secret_hash(
                        secret,
                        &user.username,
                        &self.client_id
                    ));
                }
                let request = json!({"ClientId": self.client_id, "AuthFlow": "USER_SRP_AUTH", "AuthParameters": auth});
                Some(match self.moto.call("InitiateAuth", request).await {
                    Ok(answer) => (200, answer.to_string()),
                    Err(answer) => answer,
                })
            }
            _ => error(
                "InvalidParameterException",
                &format!("{factor} is not an available challenge"),
            ),
        }
    }

    /// moto's tokens for `user`, as this sign-in's result.
    async fn signed_in(&self, user: &User) -> Option<(u16, String)> {
        Some(
            match self
                .moto
                .tokens(&self.client_id, self.secret.as_deref(), &user.username)
                .await
            {
                Ok(answer) => (200, answer.to_string()),
                Err(answer) => answer,
            },
        )
    }

    pub(crate) async fn initiate_user_auth(&self, body: &Value) -> Option<(u16, String)> {
        let parameters = &body["AuthParameters"];
        let username = parameters["USERNAME"].as_str().unwrap_or_default();
        if let Some(refusal) =
            self.client_checks(body, parameters["SECRET_HASH"].as_str(), username)
        {
            return Some(refusal);
        }
        let user = match self.moto.user(&self.pool_id, username).await {
            Ok(user) => user,
            Err(answer) => return Some(answer),
        };
        // Sign-in after sign-up: ConfirmSignUp's session stands for the first factor.
        if let Some(session) = body["Session"].as_str().filter(|s| !s.is_empty()) {
            let Some(user) = user else {
                return invalid_session();
            };
            return match self.take_confirmed_session(session) {
                Some(name) if name == user.username => self.signed_in(&user).await,
                _ => invalid_session(),
            };
        }
        let Some(user) = user else {
            if !self.prevent_existence_errors {
                return error("UserNotFoundException", "User does not exist.");
            }
            let session = self.issue(
                User {
                    username: username.to_owned(),
                    sub: String::new(),
                    status: String::new(),
                    enabled: true,
                    email: None,
                    phone: None,
                },
                Step::Nobody,
            );
            return ok(json!({
                "ChallengeName": "EMAIL_OTP",
                "Session": session,
                "ChallengeParameters": {
                    "CODE_DELIVERY_DELIVERY_MEDIUM": "EMAIL",
                    "CODE_DELIVERY_DESTINATION": super::mask(&format!("{username}@example.com")),
                },
            }));
        };
        if !user.enabled {
            return error("NotAuthorizedException", "User is disabled.");
        }
        if user.status == "UNCONFIRMED" {
            return error("UserNotConfirmedException", "User is not confirmed.");
        }
        let available = self.available(&user);
        if let Some(preferred) = parameters["PREFERRED_CHALLENGE"].as_str() {
            if available.iter().any(|f| f == preferred) {
                return self.go_to(user, preferred, parameters).await;
            }
        }
        let session = self.issue(user, Step::Select(available.clone()));
        ok(json!({
            "ChallengeName": "SELECT_CHALLENGE",
            "Session": session,
            "ChallengeParameters": {},
            "AvailableChallenges": available,
        }))
    }

    /// `RespondToAuthChallenge` for a session this fake issued; `None` (moto's) otherwise.
    pub(crate) async fn respond(&self, body: &Value) -> Option<(u16, String)> {
        let session = body["Session"].as_str().unwrap_or_default();
        let challenge = body["ChallengeName"].as_str().unwrap_or_default();
        let Some(mut auth) = self.lock().auth.remove(session) else {
            // moto issues none of these challenges: a session for one of them was this fake's,
            // and is spent or expired (Cognito's answer for an unknown session).
            let ours = matches!(
                challenge,
                "SELECT_CHALLENGE" | "EMAIL_OTP" | "SMS_OTP" | "WEB_AUTHN"
            );
            return ours.then(invalid_session).flatten();
        };
        let responses = &body["ChallengeResponses"];
        let username = responses["USERNAME"].as_str().unwrap_or_default();
        if let Some(refusal) = self.client_checks(body, responses["SECRET_HASH"].as_str(), username)
        {
            return Some(refusal);
        }
        if auth.issued.elapsed() >= auth.lifetime {
            return error(
                "NotAuthorizedException",
                "Invalid session for the user, session is expired.",
            );
        }
        // The session is bound to its user: another user's name does not answer it.
        if username != auth.user.username {
            return invalid_session();
        }
        match (&auth.step, challenge) {
            (Step::Select(available), "SELECT_CHALLENGE") => {
                let answer = responses["ANSWER"].as_str().unwrap_or_default();
                if !available.iter().any(|f| f == answer) {
                    return error(
                        "InvalidParameterException",
                        &format!("{answer} is not an available challenge"),
                    );
                }
                self.go_to(auth.user, answer, responses).await
            }
            (Step::Code { name, code }, _) if challenge == *name => {
                let field = format!("{name}_CODE");
                let given = responses[field.as_str()].as_str().unwrap_or_default();
                let right = aws_lc_rs::constant_time::verify_slices_are_equal(
                    code.as_bytes(),
                    given.trim().as_bytes(),
                )
                .is_ok();
                if right {
                    return self.signed_in(&auth.user).await;
                }
                auth.wrong += 1;
                if auth.wrong >= SIGN_IN_ATTEMPTS {
                    return invalid_session();
                }
                self.lock().auth.insert(session.to_owned(), auth);
                error(
                    "CodeMismatchException",
                    "Invalid code or auth state for the user.",
                )
            }
            (Step::Nobody, _) => {
                auth.wrong += 1;
                if auth.wrong < SIGN_IN_ATTEMPTS {
                    self.lock().auth.insert(session.to_owned(), auth);
                    return error(
                        "CodeMismatchException",
                        "Invalid code or auth state for the user.",
                    );
                }
                invalid_session()
            }
            (Step::WebAuthn(state), "WEB_AUTHN") => {
                let credential: Option<PublicKeyCredential> = responses["CREDENTIAL"]
                    .as_str()
                    .and_then(|json| serde_json::from_str(json).ok());
                let verified = credential.and_then(|credential| {
                    let rp = self.webauthn.as_ref()?;
                    rp.finish_authentication(&credential, state)
                });
                let Some(result) = verified else {
                    return error("NotAuthorizedException", "Incorrect username or password.");
                };
                // The counter moves on; a passkey removed meanwhile no longer signs in.
                let known = {
                    let mut state = self.lock();
                    let passkeys = state.passkeys.entry(auth.user.sub.clone()).or_default();
                    match passkeys
                        .iter_mut()
                        .find(|p| p.passkey.cred_id() == result.cred_id())
                    {
                        Some(stored) => {
                            stored.passkey.update_credential(&result);
                            true
                        }
                        None => false,
                    }
                };
                if !known {
                    return error("NotAuthorizedException", "Incorrect username or password.");
                }
                self.signed_in(&auth.user).await
            }
            _ => error(
                "InvalidParameterException",
                &format!("{challenge} does not answer this session's challenge"),
            ),
        }
    }
}
