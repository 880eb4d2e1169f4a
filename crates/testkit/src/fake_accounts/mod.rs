//! A fake of Cognito's account and choice-based sign-in API for one pool on moto, for what moto
//! lacks or answers unlike Cognito: sign-up confirmation codes (moto confirms any code),
//! `ResendConfirmationCode` (absent), sign-in after sign-up (the `Session` of `SignUp` and
//! `ConfirmSignUp`), password-reset codes checked with Cognito's errors, `USER_AUTH` with
//! `SELECT_CHALLENGE`, `EMAIL_OTP`, `SMS_OTP`, `PASSWORD`, `PASSWORD_SRP` and `WEB_AUTHN`, and
//! the passkey API (`StartWebAuthnRegistration`, `CompleteWebAuthnRegistration`,
//! `ListWebAuthnCredentials`, `DeleteWebAuthnCredential`), the WebAuthn ceremonies verified for
//! real (challenge, origin, relying party, signature, counter) by `webauthn-rs`.
//!
//! moto keeps the users, the pool and the tokens: a sign-up creates the user in moto, a
//! confirmation confirms it there, a new password is set there, and every token this fake hands
//! out is one of moto's own (obtained by moto's `USER_SRP_AUTH`, whose password claim moto does
//! not check, once this fake has checked the one-time code or the passkey itself), so that
//! refreshes, `ChangePassword`, `GetUser` and global sign-out keep working on moto. Codes are
//! "delivered" to an outbox the tests read ([`FakeAccounts::code_for`]).
//!
//! What it checks, as Cognito does: the app client (`ClientId`), its `SECRET_HASH`, that it allows
//! `USER_AUTH`, the pool's allowed first factors; codes are six digits, single-use, expiring
//! (sign-up 24 h, reset 1 h, sign-in codes with their 3-minute session) and attempt-limited (5
//! wrong sign-up or reset codes, then `LimitExceededException`; 3 wrong sign-in codes end the
//! session); a challenge session is bound to its user and used once; access tokens must be
//! moto's, current, and carry `aws.cognito.signin.user.admin`.
//!
//! | situation | answer (code: message) |
//! |---|---|
//! | another `ClientId` | `ResourceNotFoundException`: `User pool client <id> does not exist.` |
//! | no `SECRET_HASH` / a wrong one (client with a secret) | `NotAuthorizedException`: `Client <id> is configured for secret but secret was not received` / `Unable to verify secret hash for client <id>` |
//! | `SignUp` of a taken username | `UsernameExistsException`: `User already exists` |
//! | a password against the policy (`SignUp`; reset, change) | `InvalidPasswordException`: `Password did not conform with policy: <rule>` (`Password does not conform to policy: <rule>`) |
//! | a wrong confirmation or reset code | `CodeMismatchException`: `Invalid verification code provided, please try again.` |
//! | an expired or replaced code | `ExpiredCodeException`: `Invalid code provided, please request a code again.` |
//! | the 6th attempt at a code | `LimitExceededException`: `Attempt limit exceeded, please try after some time.` |
//! | `ConfirmSignUp` of a confirmed user | `NotAuthorizedException`: `User cannot be confirmed. Current status is CONFIRMED` |
//! | `ResendConfirmationCode` for a confirmed user | `InvalidParameterException`: `User is already confirmed.` |
//! | an unknown user, `PreventUserExistenceErrors` `LEGACY` | `UserNotFoundException`: `Username/client id combination not found.` (`User does not exist.` at sign-in) |
//! | an unknown user, `ENABLED` (the default here, as in the console) | a simulated delivery (`ForgotPassword`, `ResendConfirmationCode`), `CodeMismatchException` (`ConfirmSignUp`, `ConfirmForgotPassword`), an email-code challenge no code answers (`USER_AUTH`) |
//! | `USER_AUTH` on a client without `ALLOW_USER_AUTH` | `InvalidParameterException`: `USER_AUTH flow not enabled for this client` |
//! | an unconfirmed user signing in | `UserNotConfirmedException`: `User is not confirmed.` |
//! | a wrong sign-in code | `CodeMismatchException`: `Invalid code or auth state for the user.` |
//! | a challenge session expired / used / of another user / failed 3 times | `NotAuthorizedException`: `Invalid session for the user, session is expired.` / `Invalid session for the user.` |
//! | a passkey assertion that does not verify (or of a removed passkey) | `NotAuthorizedException`: `Incorrect username or password.` |
//! | an access token expired / without the admin scope / unknown or signed out | `NotAuthorizedException`: `Access Token has expired` / `Access Token does not have required scopes` / `Access Token has been revoked` |
//! | passkeys not among the first factors | `WebAuthnNotEnabledException` |
//! | no relying party configured | `WebAuthnConfigurationMissingException` |
//! | a registration whose challenge expired or was never started | `WebAuthnChallengeNotFoundException` |
//! | completed with another app client's token | `WebAuthnClientMismatchException` |
//! | a credential for another relying party / from another origin | `WebAuthnRelyingPartyMismatchException` / `WebAuthnOriginNotAllowedException` |
//! | a credential of an unsupported kind | `WebAuthnCredentialNotSupportedException` |
//! | `DeleteWebAuthnCredential` of an unknown id | `ResourceNotFoundException` |
//!
//! `DescribeUserPool` and `GetUserPoolMfaConfig` of its pool are moto's answers with what this
//! fake plays added: the Essentials plan, the sign-in policy's `AllowedFirstAuthFactors`, the
//! `WebAuthnConfiguration` (relying party).
//!
//! Sources: the API reference's errors per operation (and the SDK models' exception docs for the
//! `WebAuthn*` codes, whose messages are this fake's own words), the ChallengeResponseType and
//! InitiateAuth parameter docs (names: `PREFERRED_CHALLENGE`, `ANSWER`, `EMAIL_OTP_CODE`,
//! `SMS_OTP_CODE`, `CREDENTIAL`, `CREDENTIAL_REQUEST_OPTIONS`, `CODE_DELIVERY_DESTINATION`,
//! `CODE_DELIVERY_DELIVERY_MEDIUM`), the "Managing user existence error responses" guide, and
//! Cognito's messages as SDK users report them.

mod authenticator;
mod moto;
mod passkeys;
mod sign_in;

pub use authenticator::SoftAuthenticator;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::proxy::{Answering, Fake};
use crate::Pool;

/// How long codes and sessions stay valid.
const SIGN_UP_CODE: Duration = Duration::from_secs(24 * 3600);
const RESET_CODE: Duration = Duration::from_secs(3600);
/// `AuthSessionValidity`'s default: 3 minutes.
const AUTH_SESSION: Duration = Duration::from_secs(180);
/// Wrong sign-up or reset codes before `LimitExceededException`.
const CODE_ATTEMPTS: u32 = 5;
/// Wrong sign-in codes before the session ends.
const SIGN_IN_ATTEMPTS: u32 = 3;

/// A message the fake "delivered": what a user would find in their inbox or SMS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Cognito's username of the recipient.
    pub username: String,
    /// Where it went, unmasked (the email address or phone number).
    pub to: String,
    /// `sign-up`, `reset` or `sign-in`.
    pub purpose: &'static str,
    /// The code.
    pub code: String,
}

/// A code waiting to be entered.
#[derive(Debug, Clone)]
struct Code {
    value: String,
    issued: Instant,
    lifetime: Duration,
    wrong: u32,
}

impl Code {
    fn new(lifetime: Duration) -> Code {
        Code {
            value: six_digits(),
            issued: Instant::now(),
            lifetime,
            wrong: 0,
        }
    }

    fn expired(&self) -> bool {
        self.issued.elapsed() >= self.lifetime
    }
}

/// A user as moto knows them.
#[derive(Debug, Clone)]
pub(crate) struct User {
    /// Cognito's username.
    pub username: String,
    pub sub: String,
    pub status: String,
    pub enabled: bool,
    pub email: Option<String>,
    pub phone: Option<String>,
}

/// Everything the fake remembers.
#[derive(Default)]
pub(crate) struct State {
    /// (purpose, username) → the pending code.
    codes: HashMap<(&'static str, String), Code>,
    outbox: Vec<Delivery>,
    /// `SignUp`'s sessions: session → (username, issued).
    sign_up_sessions: HashMap<String, (String, Instant)>,
    /// `ConfirmSignUp`'s sessions, for sign-in after sign-up: session → (username, issued).
    confirmed_sessions: HashMap<String, (String, Instant)>,
    /// `USER_AUTH` challenge sessions.
    pub auth: HashMap<String, sign_in::AuthSession>,
    /// Passkey registrations in progress, by `sub`.
    pub registrations: HashMap<String, passkeys::Registration>,
    /// Registered passkeys, by `sub`.
    pub passkeys: HashMap<String, Vec<passkeys::Stored>>,
    /// `RevokeToken` calls.
    revoked: Vec<String>,
    /// Counts of the operations answered here.
    answered: HashMap<String, usize>,
}

/// The fake (see the module docs). Put it behind a [`Proxy`](crate::Proxy) in front of moto.
///
/// ```no_run
/// # async fn demo() {
/// use std::sync::Arc;
/// use testkit::{FakeAccounts, Pool, PoolOptions, Proxy};
/// let pool = Pool::new(PoolOptions::default()).await;
/// let fake = Arc::new(FakeAccounts::new(&pool).passkeys("localhost", "http://localhost:3000"));
/// let proxy = Proxy::with_fake(&pool.moto.url, fake.clone()).await;
/// // ... a sign-up through `proxy.url`, then:
/// let code = fake.code_for("ada").expect("a confirmation code was sent");
/// # let _ = code;
/// # }
/// ```
pub struct FakeAccounts {
    pub(crate) moto: moto::MotoApi,
    pub(crate) pool_id: String,
    pub(crate) client_id: String,
    pub(crate) secret: Option<String>,
    user_auth: bool,
    pub(crate) first_factors: Vec<String>,
    prevent_existence_errors: bool,
    pub(crate) webauthn: Option<passkeys::RelyingParty>,
    pub(crate) state: Mutex<State>,
}

impl std::fmt::Debug for FakeAccounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeAccounts")
            .field("pool_id", &self.pool_id)
            .field("client_id", &self.client_id)
            .field("first_factors", &self.first_factors)
            .finish_non_exhaustive()
    }
}

/// A Cognito error answer.
pub(crate) fn error(kind: &str, message: &str) -> Option<(u16, String)> {
    Some((400, json!({"__type": kind, "message": message}).to_string()))
}

pub(crate) fn ok(body: Value) -> Option<(u16, String)> {
    Some((200, body.to_string()))
}

/// Six random digits.
fn six_digits() -> String {
    let mut bytes = [0u8; 4];
    aws_lc_rs::rand::fill(&mut bytes).expect("randomness");
    format!("{:06}", u32::from_le_bytes(bytes) % 1_000_000)
}

/// A random session id (Cognito's are long opaque strings).
pub(crate) fn session_id() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 48];
    aws_lc_rs::rand::fill(&mut bytes).expect("randomness");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Cognito's mask of an email address (`a***@e***`) or phone number (`+*******1234`).
pub fn mask(to: &str) -> String {
    match to.split_once('@') {
        Some((local, domain)) => format!(
            "{}***@{}***",
            local.chars().next().unwrap_or('*'),
            domain.chars().next().unwrap_or('*')
        ),
        None => {
            let digits: Vec<char> = to.chars().collect();
            let keep = digits.len().saturating_sub(4);
            format!("+*******{}", digits[keep..].iter().collect::<String>())
        }
    }
}

/// The first rule of the default password policy (moto's: 5 to 99 characters, upper and lower
/// case, a number, a symbol) that `password` breaks, in Cognito's words.
pub(crate) fn policy_failure(password: &str) -> Option<&'static str> {
    const SYMBOLS: &str = "^$*.[]{}()?\"!@#%&/\\,><':;|_~`=+- ";
    let len = password.chars().count();
    if len < 5 {
        Some("Password not long enough")
    } else if len >= 99 {
        Some("Password must have less than 99 characters")
    } else if !password.chars().any(|c| c.is_ascii_lowercase()) {
        Some("Password must have lowercase characters")
    } else if !password.chars().any(|c| c.is_ascii_uppercase()) {
        Some("Password must have uppercase characters")
    } else if !password.chars().any(|c| c.is_ascii_digit()) {
        Some("Password must have numeric characters")
    } else if !password.chars().any(|c| SYMBOLS.contains(c)) {
        Some("Password must have symbol characters")
    } else {
        None
    }
}

impl FakeAccounts {
    /// A fake for `pool`'s user pool and app client (its secret too), allowing `USER_AUTH`
    /// with the first factors `PASSWORD`, `EMAIL_OTP` and `SMS_OTP` (add passkeys with
    /// [`passkeys`](Self::passkeys)), with `PreventUserExistenceErrors` `ENABLED`.
    pub fn new(pool: &Pool) -> FakeAccounts {
        FakeAccounts::for_client(
            &pool.moto.url,
            &pool.pool_id,
            &pool.client_id,
            pool.client_secret.as_deref(),
        )
    }

    /// [`new`](Self::new) for a pool made elsewhere (`cognito-session dev`'s): moto at
    /// `moto_url`, the pool, its app client and the client's secret, if any.
    ///
    /// ```no_run
    /// let fake = testkit::FakeAccounts::for_client("http://127.0.0.1:4500", "us-east-1_abc", "client1", None);
    /// # let _ = fake;
    /// ```
    pub fn for_client(
        moto_url: &str,
        pool_id: &str,
        client_id: &str,
        secret: Option<&str>,
    ) -> FakeAccounts {
        FakeAccounts {
            moto: moto::MotoApi::new(moto_url),
            pool_id: pool_id.to_owned(),
            client_id: client_id.to_owned(),
            secret: secret.map(str::to_owned),
            user_auth: true,
            first_factors: ["PASSWORD", "PASSWORD_SRP", "EMAIL_OTP", "SMS_OTP"]
                .map(String::from)
                .to_vec(),
            prevent_existence_errors: true,
            webauthn: None,
            state: Mutex::default(),
        }
    }

    /// Passkeys on: `WEB_AUTHN` among the first factors, relying party `rp_id` (e.g.
    /// `localhost`), ceremonies accepted from `origin` (e.g. `http://localhost:3000`) only.
    pub fn passkeys(mut self, rp_id: &str, origin: &str) -> FakeAccounts {
        self.webauthn = Some(passkeys::RelyingParty::new(rp_id, origin));
        if !self.first_factors.iter().any(|f| f == "WEB_AUTHN") {
            self.first_factors.push("WEB_AUTHN".into());
        }
        self
    }

    /// The pool's sign-in policy allows exactly these first factors (`PASSWORD`, `EMAIL_OTP`,
    /// `SMS_OTP`, `WEB_AUTHN`; `PASSWORD` brings `PASSWORD_SRP`).
    pub fn first_factors(mut self, factors: &[&str]) -> FakeAccounts {
        let mut list: Vec<String> = factors.iter().map(|f| (*f).to_owned()).collect();
        if list.iter().any(|f| f == "PASSWORD") {
            list.push("PASSWORD_SRP".into());
        }
        self.first_factors = list;
        self
    }

    /// The app client lacks `ALLOW_USER_AUTH`.
    pub fn without_user_auth(mut self) -> FakeAccounts {
        self.user_auth = false;
        self
    }

    /// `PreventUserExistenceErrors` `LEGACY`: unknown users get `UserNotFoundException`.
    pub fn legacy_existence_errors(mut self) -> FakeAccounts {
        self.prevent_existence_errors = false;
        self
    }

    /// The last code delivered to `username` (any purpose), if any.
    pub fn code_for(&self, username: &str) -> Option<String> {
        self.lock()
            .outbox
            .iter()
            .rev()
            .find(|d| d.username == username || d.to == username)
            .map(|d| d.code.clone())
    }

    /// Every message delivered, in order.
    pub fn outbox(&self) -> Vec<Delivery> {
        self.lock().outbox.clone()
    }

    /// Makes every pending code and challenge session of `username` expire now.
    pub fn expire_codes(&self, username: &str) {
        let mut state = self.lock();
        let long_ago = Duration::from_secs(0);
        for ((_, user), code) in state.codes.iter_mut() {
            if user == username {
                code.lifetime = long_ago;
            }
        }
        for session in state.auth.values_mut() {
            if session.user.username == username {
                session.lifetime = long_ago;
            }
        }
    }

    /// The credential ids of `sub`'s registered passkeys (base64url).
    pub fn passkey_ids(&self, sub: &str) -> Vec<String> {
        self.lock()
            .passkeys
            .get(sub)
            .map(|list| list.iter().map(|p| p.id.clone()).collect())
            .unwrap_or_default()
    }

    /// The refresh tokens `RevokeToken` was called with.
    pub fn revoked(&self) -> Vec<String> {
        self.lock().revoked.clone()
    }

    /// How many `operation` requests this fake answered itself.
    pub fn answered(&self, operation: &str) -> usize {
        self.lock().answered.get(operation).copied().unwrap_or(0)
    }

    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The app client checks every unauthenticated operation starts with: `ClientId`, then the
    /// `SECRET_HASH` of `username`.
    pub(crate) fn client_checks(
        &self,
        body: &Value,
        secret_hash: Option<&str>,
        username: &str,
    ) -> Option<(u16, String)> {
        let id = &self.client_id;
        if body["ClientId"].as_str() != Some(id.as_str()) {
            let other = body["ClientId"].as_str().unwrap_or_default();
            return error(
                "ResourceNotFoundException",
                &format!("User pool client {other} does not exist."),
            );
        }
        let Some(secret) = &self.secret else {
            return None;
        };
        match secret_hash.filter(|h| !h.is_empty()) {
            None => error(
                "NotAuthorizedException",
                &format!("Client {id} is configured for secret but secret was not received"),
            ),
            Some(sent) if sent != moto::secret_hash(secret, username, id) => error(
                "NotAuthorizedException",
                &format!("Unable to verify secret hash for client {id}"),
            ),
            Some(_) => None,
        }
    }

    /// Stores a new code for (`purpose`, user) and delivers it to `to`.
    fn send_code(&self, purpose: &'static str, user: &str, to: &str, lifetime: Duration) -> Code {
        let code = Code::new(lifetime);
        let mut state = self.lock();
        state.codes.insert((purpose, user.to_owned()), code.clone());
        state.outbox.push(Delivery {
            username: user.to_owned(),
            to: to.to_owned(),
            purpose,
            code: code.value.clone(),
        });
        code
    }

    /// Checks `given` against the pending code for (`purpose`, user): consumed when right.
    fn check_code(&self, purpose: &'static str, user: &str, given: &str) -> Option<(u16, String)> {
        let mut state = self.lock();
        let key = (purpose, user.to_owned());
        let Some(code) = state.codes.get_mut(&key) else {
            return error(
                "CodeMismatchException",
                "Invalid verification code provided, please try again.",
            );
        };
        if code.wrong >= CODE_ATTEMPTS {
            return error(
                "LimitExceededException",
                "Attempt limit exceeded, please try after some time.",
            );
        }
        if code.expired() {
            state.codes.remove(&key);
            return error(
                "ExpiredCodeException",
                "Invalid code provided, please request a code again.",
            );
        }
        let right = aws_lc_rs::constant_time::verify_slices_are_equal(
            code.value.as_bytes(),
            given.trim().as_bytes(),
        )
        .is_ok();
        if !right {
            code.wrong += 1;
            return error(
                "CodeMismatchException",
                "Invalid verification code provided, please try again.",
            );
        }
        state.codes.remove(&key);
        None
    }

    /// The delivery details of a code sent to `to`.
    fn delivery(to: &str) -> Value {
        let (medium, attribute) = if to.contains('@') {
            ("EMAIL", "email")
        } else {
            ("SMS", "phone_number")
        };
        json!({"Destination": mask(to), "DeliveryMedium": medium, "AttributeName": attribute})
    }

    /// An unknown user: `UserNotFoundException` (`LEGACY`) or `None` (the caller simulates).
    fn unknown_user(&self) -> Option<(u16, String)> {
        (!self.prevent_existence_errors).then(|| {
            (
                400,
                json!({"__type": "UserNotFoundException", "message": "Username/client id combination not found."})
                    .to_string(),
            )
        })
    }

    async fn sign_up(&self, body: &Value) -> Option<(u16, String)> {
        let username = body["Username"].as_str().unwrap_or_default();
        if let Some(refusal) = self.client_checks(body, body["SecretHash"].as_str(), username) {
            return Some(refusal);
        }
        let password = body["Password"].as_str().unwrap_or_default();
        if let Ok(Some(_)) = self.moto.user(&self.pool_id, username).await {
            return error("UsernameExistsException", "User already exists");
        }
        if let Some(rule) = policy_failure(password) {
            return error(
                "InvalidPasswordException",
                &format!("Password did not conform with policy: {rule}"),
            );
        }
        // A pool that verifies email (this fake's) requires an address to send the code to;
        // moto does not check its schema, so the fake refuses before moto keeps the user.
        let has_address = body["UserAttributes"].as_array().is_some_and(|list| {
            list.iter()
                .any(|a| matches!(a["Name"].as_str(), Some("email" | "phone_number")))
        });
        if !has_address {
            return error(
                "InvalidParameterException",
                "Attributes did not conform to the schema: email: The attribute is required",
            );
        }
        let created = match self.moto.call("SignUp", body.clone()).await {
            Ok(created) => created,
            Err(answer) => return Some(answer),
        };
        let user = match self.moto.user(&self.pool_id, username).await {
            Ok(Some(user)) => user,
            _ => return error("InternalErrorException", "the user vanished"),
        };
        let Some(to) = user.email.clone().or_else(|| user.phone.clone()) else {
            return error("InternalErrorException", "the user's address vanished");
        };
        self.send_code("sign-up", &user.username, &to, SIGN_UP_CODE);
        let session = session_id();
        self.lock()
            .sign_up_sessions
            .insert(session.clone(), (user.username.clone(), Instant::now()));
        ok(json!({
            "UserConfirmed": false,
            "UserSub": created["UserSub"],
            "CodeDeliveryDetails": Self::delivery(&to),
            "Session": session,
        }))
    }

    async fn confirm_sign_up(&self, body: &Value) -> Option<(u16, String)> {
        let username = body["Username"].as_str().unwrap_or_default();
        if let Some(refusal) = self.client_checks(body, body["SecretHash"].as_str(), username) {
            return Some(refusal);
        }
        let user = match self.moto.user(&self.pool_id, username).await {
            Ok(Some(user)) => user,
            Ok(None) => {
                return self.unknown_user().or_else(|| {
                    error(
                        "CodeMismatchException",
                        "Invalid verification code provided, please try again.",
                    )
                })
            }
            Err(answer) => return Some(answer),
        };
        if user.status == "CONFIRMED" {
            return error(
                "NotAuthorizedException",
                "User cannot be confirmed. Current status is CONFIRMED",
            );
        }
        let code = body["ConfirmationCode"].as_str().unwrap_or_default();
        if let Some(refusal) = self.check_code("sign-up", &user.username, code) {
            return Some(refusal);
        }
        let confirm = json!({"ClientId": self.client_id, "Username": user.username, "ConfirmationCode": code});
        if let Err(answer) = self.moto.call("ConfirmSignUp", confirm).await {
            return Some(answer);
        }
        // Sign-in after sign-up: the session of this user's SignUp, once.
        let mut state = self.lock();
        let signed_up = body["Session"]
            .as_str()
            .and_then(|s| state.sign_up_sessions.remove(s))
            .filter(|(name, issued)| *name == user.username && issued.elapsed() < SIGN_UP_CODE);
        match signed_up {
            Some(_) => {
                let session = session_id();
                state
                    .confirmed_sessions
                    .insert(session.clone(), (user.username.clone(), Instant::now()));
                ok(json!({ "Session": session }))
            }
            None => ok(json!({})),
        }
    }

    async fn resend_confirmation_code(&self, body: &Value) -> Option<(u16, String)> {
        let username = body["Username"].as_str().unwrap_or_default();
        if let Some(refusal) = self.client_checks(body, body["SecretHash"].as_str(), username) {
            return Some(refusal);
        }
        let user = match self.moto.user(&self.pool_id, username).await {
            Ok(Some(user)) => user,
            Ok(None) => {
                return self.unknown_user().or_else(|| {
                    ok(json!({"CodeDeliveryDetails": Self::delivery(&format!("{username}@example.com"))}))
                })
            }
            Err(answer) => return Some(answer),
        };
        if user.status == "CONFIRMED" {
            return error("InvalidParameterException", "User is already confirmed.");
        }
        let Some(to) = user.email.clone().or_else(|| user.phone.clone()) else {
            return error(
                "InvalidParameterException",
                "Cannot send a confirmation code: the user has no email address or phone number",
            );
        };
        self.send_code("sign-up", &user.username, &to, SIGN_UP_CODE);
        ok(json!({"CodeDeliveryDetails": Self::delivery(&to)}))
    }

    async fn forgot_password(&self, body: &Value) -> Option<(u16, String)> {
        let username = body["Username"].as_str().unwrap_or_default();
        if let Some(refusal) = self.client_checks(body, body["SecretHash"].as_str(), username) {
            return Some(refusal);
        }
        let user = match self.moto.user(&self.pool_id, username).await {
            Ok(Some(user)) => user,
            Ok(None) => {
                return self.unknown_user().or_else(|| {
                    ok(json!({"CodeDeliveryDetails": Self::delivery(&format!("{username}@example.com"))}))
                })
            }
            Err(answer) => return Some(answer),
        };
        let Some(to) = user.email.clone().or_else(|| user.phone.clone()) else {
            return error(
                "InvalidParameterException",
                "Cannot reset password for the user as there is no registered/verified email or phone_number",
            );
        };
        self.send_code("reset", &user.username, &to, RESET_CODE);
        ok(json!({"CodeDeliveryDetails": Self::delivery(&to)}))
    }

    async fn confirm_forgot_password(&self, body: &Value) -> Option<(u16, String)> {
        let username = body["Username"].as_str().unwrap_or_default();
        if let Some(refusal) = self.client_checks(body, body["SecretHash"].as_str(), username) {
            return Some(refusal);
        }
        let user = match self.moto.user(&self.pool_id, username).await {
            Ok(Some(user)) => user,
            Ok(None) => {
                return self.unknown_user().or_else(|| {
                    error(
                        "CodeMismatchException",
                        "Invalid verification code provided, please try again.",
                    )
                })
            }
            Err(answer) => return Some(answer),
        };
        let password = body["Password"].as_str().unwrap_or_default();
        if let Some(rule) = policy_failure(password) {
            return error(
                "InvalidPasswordException",
                &format!("Password does not conform to policy: {rule}"),
            );
        }
        let code = body["ConfirmationCode"].as_str().unwrap_or_default();
        if let Some(refusal) = self.check_code("reset", &user.username, code) {
            return Some(refusal);
        }
        let set = json!({
            "UserPoolId": self.pool_id,
            "Username": user.username,
            "Password": password,
            "Permanent": true,
        });
        match self.moto.call("AdminSetUserPassword", set).await {
            Ok(_) => ok(json!({})),
            Err(answer) => Some(answer),
        }
    }

    async fn change_password(&self, body: &Value) -> Option<(u16, String)> {
        let token = body["AccessToken"].as_str().unwrap_or_default();
        if let Err(answer) = self.authorize(token).await {
            return Some(answer);
        }
        let proposed = body["ProposedPassword"].as_str().unwrap_or_default();
        if let Some(rule) = policy_failure(proposed) {
            return error(
                "InvalidPasswordException",
                &format!("Password does not conform to policy: {rule}"),
            );
        }
        match self.moto.call("ChangePassword", body.clone()).await {
            Ok(_) => ok(json!({})),
            // moto names the user as its message; Cognito does not.
            Err((_, answer)) if answer.contains("NotAuthorized") => {
                error("NotAuthorizedException", "Incorrect username or password.")
            }
            Err(answer) => Some(answer),
        }
    }

    /// The user an access token acts for, checked as Cognito checks the token of a call that
    /// needs the `aws.cognito.signin.user.admin` scope.
    pub(crate) async fn authorize(&self, token: &str) -> Result<User, (u16, String)> {
        let refuse = |message: &str| {
            error("NotAuthorizedException", message).unwrap_or((400, String::new()))
        };
        let claims = claims_of(token).ok_or_else(|| refuse("Invalid Access Token"))?;
        if claims["token_use"] != "access" || claims["client_id"] != self.client_id.as_str() {
            return Err(refuse("Invalid Access Token"));
        }
        if claims["exp"].as_u64().is_none_or(|exp| exp <= crate::now()) {
            return Err(refuse("Access Token has expired"));
        }
        let scoped = claims["scope"]
            .as_str()
            .is_some_and(|s| s.split(' ').any(|s| s == "aws.cognito.signin.user.admin"));
        if !scoped {
            return Err(refuse("Access Token does not have required scopes"));
        }
        // moto knows the tokens it issued and forgets those of a signed-out user.
        let known = self
            .moto
            .call("GetUser", json!({ "AccessToken": token }))
            .await;
        let username = match known {
            Ok(user) => user["Username"].as_str().unwrap_or_default().to_owned(),
            Err(_) => return Err(refuse("Access Token has been revoked")),
        };
        match self.moto.user(&self.pool_id, &username).await {
            Ok(Some(user)) => Ok(user),
            _ => Err(refuse("Access Token has been revoked")),
        }
    }

    async fn dispatch(&self, operation: &str, body: &Value) -> Option<(u16, String)> {
        match operation {
            "SignUp" => self.sign_up(body).await,
            "ConfirmSignUp" => self.confirm_sign_up(body).await,
            "ResendConfirmationCode" => self.resend_confirmation_code(body).await,
            "ForgotPassword" => self.forgot_password(body).await,
            "ConfirmForgotPassword" => self.confirm_forgot_password(body).await,
            "ChangePassword" => self.change_password(body).await,
            "InitiateAuth" if body["AuthFlow"] == "USER_AUTH" => {
                if !self.user_auth {
                    return error(
                        "InvalidParameterException",
                        "USER_AUTH flow not enabled for this client",
                    );
                }
                self.initiate_user_auth(body).await
            }
            "RespondToAuthChallenge" => self.respond(body).await,
            "StartWebAuthnRegistration" => self.start_registration(body).await,
            "CompleteWebAuthnRegistration" => self.complete_registration(body).await,
            "ListWebAuthnCredentials" => self.list_credentials(body).await,
            "DeleteWebAuthnCredential" => self.delete_credential(body).await,
            "DescribeUserPool" | "GetUserPoolMfaConfig" if body["UserPoolId"] == self.pool_id => {
                self.pool_settings(operation, body).await
            }
            "RevokeToken" => {
                let token = body["Token"].as_str().unwrap_or_default().to_owned();
                self.lock().revoked.push(token);
                ok(json!({}))
            }
            _ => None,
        }
    }

    /// moto's `DescribeUserPool` / `GetUserPoolMfaConfig` with what this fake plays: the
    /// Essentials plan, the sign-in policy's first factors, the WebAuthn relying party.
    async fn pool_settings(&self, operation: &str, body: &Value) -> Option<(u16, String)> {
        let mut answer = match self.moto.call(operation, body.clone()).await {
            Ok(answer) => answer,
            Err(refusal) => return Some(refusal),
        };
        if operation == "DescribeUserPool" {
            let factors: Vec<&str> = self
                .first_factors
                .iter()
                .map(String::as_str)
                .filter(|f| *f != "PASSWORD_SRP")
                .collect();
            let pool = &mut answer["UserPool"];
            pool["UserPoolTier"] = json!("ESSENTIALS");
            pool["Policies"]["SignInPolicy"] = json!({ "AllowedFirstAuthFactors": factors });
        } else if let Some(rp) = &self.webauthn {
            answer["WebAuthnConfiguration"] =
                json!({ "RelyingPartyId": rp.id, "UserVerification": "preferred" });
        }
        ok(answer)
    }

    /// The ids a sign-in-after-sign-up `Session` stands for, taken once.
    pub(crate) fn take_confirmed_session(&self, session: &str) -> Option<String> {
        let mut state = self.lock();
        let (username, issued) = state.confirmed_sessions.remove(session)?;
        (issued.elapsed() < AUTH_SESSION).then_some(username)
    }

    /// Sends a sign-in code for `session` to `to`.
    pub(crate) fn sign_in_code(&self, user: &str, to: &str) -> String {
        let code = six_digits();
        self.lock().outbox.push(Delivery {
            username: user.to_owned(),
            to: to.to_owned(),
            purpose: "sign-in",
            code: code.clone(),
        });
        code
    }
}

/// The claims of a JWT, decoded without any check (`None`: not a JWT).
pub(crate) fn claims_of(token: &str) -> Option<Value> {
    use base64::Engine;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

impl Fake for FakeAccounts {
    fn answer(&self, _: &str, _: &[u8]) -> Option<(u16, String)> {
        None
    }

    fn answer_async<'a>(&'a self, operation: &'a str, body: &'a [u8]) -> Answering<'a> {
        Box::pin(async move {
            let body: Value = serde_json::from_slice(body).unwrap_or_default();
            let answer = self.dispatch(operation, &body).await;
            if answer.is_some() {
                *self
                    .lock()
                    .answered
                    .entry(operation.to_owned())
                    .or_default() += 1;
            }
            answer
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_are_cognitos() {
        assert_eq!(mask("ada@example.com"), "a***@e***");
        assert_eq!(mask("+15555551234"), "+*******1234");
    }

    #[test]
    fn the_policy_names_the_first_broken_rule() {
        assert_eq!(policy_failure("Aa1!"), Some("Password not long enough"));
        assert_eq!(
            policy_failure("aaaaaa1!"),
            Some("Password must have uppercase characters")
        );
        assert_eq!(policy_failure("Correct-horse-9!"), None);
    }
}
