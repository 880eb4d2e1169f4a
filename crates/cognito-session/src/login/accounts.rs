//! The account flows' common ground: the [`Accounts`] handle ([`Sessions::accounts`]) that
//! sign-up ([`sign_up`](super::sign_up)), password reset and change
//! ([`password`](super::password)) and passkey management ([`passkeys`](super::passkeys)) hang
//! off, their settings, the [`CodeSent`] step they carry
//! to the next request (sealed, bound to the browser), and the first sorting of Cognito's
//! answers that every flow shares.

use aws_sdk_cognitoidentityprovider::error::ProvideErrorMetadata;
use serde::{Deserialize, Serialize};

use crate::budget::Budget;
use crate::error::{Error, Service, Unauthorized};
use crate::http::cookie::{find, CookieSource};
use crate::login::sign_in_error::Call;
use crate::login::state::{random, Purpose};
use crate::login::StateError;
use crate::manager::Sessions;
use crate::sdk::{classify, credentials_message, Failure};
use crate::session::Session;
use crate::telemetry::{self, Audit, Count};

/// The accounts cookie (`__Host-` prefixed when cookies are `Secure`), binding a pending
/// sign-up's or reset's state to the browser: `Strict`, since the forms post from this site.
const ACCOUNT_COOKIE: [&str; 2] = ["__Host-cognito-account", "cognito-account"];

/// How the account flows behave: which attributes a sign-up may set, the group new users join,
/// and whether refusals may tell that an account exists.
#[derive(Debug, Clone)]
pub(crate) struct AccountSettings {
    /// `SIGN_UP_ATTRIBUTES`: the user attributes a sign-up may carry (default `email`).
    pub attributes: Vec<String>,
    /// `SIGN_UP_GROUP`: the group every new user is added to when confirmed.
    pub group: Option<String>,
    /// `REVEAL_ACCOUNT_EXISTENCE`: taken usernames and unknown users get errors of their own.
    pub reveal: bool,
}

impl Default for AccountSettings {
    fn default() -> Self {
        AccountSettings {
            attributes: vec!["email".to_owned()],
            group: None,
            reveal: false,
        }
    }
}

/// Sign-up, confirmation and password reset and change for an app with its own forms
/// (Cognito's `SignUp`, `ConfirmSignUp`, `ResendConfirmationCode`, `ForgotPassword`,
/// `ConfirmForgotPassword`, `ChangePassword`), and the signed-in user's passkeys
/// (`StartWebAuthnRegistration`, `CompleteWebAuthnRegistration`, `ListWebAuthnCredentials`,
/// `DeleteWebAuthnCredential`), from [`Sessions::accounts`]. It keeps the
/// deadline of the handle it came from ([`Sessions::with_deadline`]).
///
/// By default no answer tells whether an account exists: a taken username signs up "like" a
/// new one (a code was sent; only the owner's unconfirmed account gets a fresh one), and a
/// reset for an unknown user is started "like" a known one's. Turn that off with
/// [`SessionsBuilder::reveal_account_existence`](crate::SessionsBuilder::reveal_account_existence).
///
/// ```no_run
/// # async fn f(sessions: cognito_session::Sessions) -> Result<(), cognito_session::SignUpError> {
/// let accounts = sessions.accounts();
/// let step = accounts.sign_up("ada", "Correct-horse-9!", &[("email", "ada@example.com")]).await?;
/// # let _ = step;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Accounts {
    pub(crate) sessions: Sessions,
}

impl Sessions {
    /// The account flows: sign-up and its confirmation, password reset and change, passkeys. See
    /// [`Accounts`].
    ///
    /// ```no_run
    /// # async fn f(sessions: cognito_session::Sessions) -> Result<(), cognito_session::PasswordError> {
    /// let pending = sessions.accounts().forgot_password("ada").await?;
    /// println!("Set-Cookie: {:?}", pending.set_cookie());
    /// # Ok(()) }
    /// ```
    pub fn accounts(&self) -> Accounts {
        Accounts {
            sessions: self.clone(),
        }
    }
}

/// A code was sent (or, where an account's existence must not show, looks sent): the step
/// between a sign-up and its confirmation, or a reset request and the new password.
///
/// Carry it to the next request as a challenge is carried: put [`state`](CodeSent::state) in
/// the page (a hidden form field), send [`set_cookie`](CodeSent::set_cookie) with it; the next
/// request gives both back to [`Accounts::open_sign_up`] or [`Accounts::open_reset`]. The state is sealed and opens only in this
/// browser, for this flow, until it expires (a sign-up's after 24 hours, a reset's after one,
/// as Cognito's codes do). Its `Debug` shows no username and no Cognito session.
///
/// ```no_run
/// # async fn f(accounts: cognito_session::Accounts, request: lambda_http::Request) -> Result<(), cognito_session::SignUpError> {
/// let cognito_session::SignUp::CodeSent(sent) = accounts.sign_up("ada", "Correct-horse-9!", &[]).await? else { return Ok(()) };
/// let page = format!("code sent to {}: <input type=hidden name=state value=\"{}\">",
///     sent.destination().unwrap_or("your address"), sent.state());
/// // ... next request:
/// let again = accounts.open_sign_up(&request, sent.state()).await?;
/// # let _ = (page, again);
/// # Ok(()) }
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct CodeSent {
    /// Which flow it belongs to (`SignUp` or `Reset`).
    pub(crate) purpose: Purpose,
    pub(crate) pending: Pending,
    pub(crate) state: String,
    pub(crate) set_cookie: Option<String>,
}

/// What a [`CodeSent`] state holds (sealed only).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Pending {
    /// Cognito's username.
    pub u: String,
    /// Cognito's `Session` from `SignUp`, for sign-in after confirmation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s: Option<String>,
    /// This browser created the account (so the app's group may be added, and "already
    /// confirmed" tells it nothing new).
    #[serde(default)]
    pub c: bool,
    /// Where the code went, masked (`CodeDeliveryDetails.Destination`), if it may be shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub d: Option<String>,
}

impl std::fmt::Debug for CodeSent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodeSent")
            .field("destination", &self.pending.d)
            .finish_non_exhaustive()
    }
}

impl CodeSent {
    /// Where the code went, masked as Cognito masks it (`a***@e***`, `+*******1234`); `None`
    /// where showing it would tell whether an account exists (a reset, unless
    /// [`reveal_account_existence`](crate::SessionsBuilder::reveal_account_existence)).
    ///
    /// ```no_run
    /// # fn f(sent: cognito_session::CodeSent) {
    /// println!("we sent a code to {}", sent.destination().unwrap_or("your email or phone"));
    /// # }
    /// ```
    pub fn destination(&self) -> Option<&str> {
        self.pending.d.as_deref()
    }

    /// The sealed state for the page (a hidden form field): opaque, URL-safe, and useless
    /// without this browser's cookie.
    ///
    /// ```no_run
    /// # fn f(sent: cognito_session::CodeSent) {
    /// let field = format!("<input type=\"hidden\" name=\"state\" value=\"{}\">", sent.state());
    /// # }
    /// ```
    pub fn state(&self) -> &str {
        &self.state
    }

    /// The `Set-Cookie` binding [`state`](CodeSent::state) to this browser (`HttpOnly`,
    /// `SameSite=Strict`, `__Host-cognito-account` when cookies are `Secure`); `None` for a step
    /// opened from a state. When the flow is over, send [`Accounts::clear_cookie`].
    ///
    /// ```no_run
    /// # fn f(sent: cognito_session::CodeSent) {
    /// if let Some(cookie) = sent.set_cookie() {
    ///     println!("Set-Cookie: {cookie}");
    /// }
    /// # }
    /// ```
    pub fn set_cookie(&self) -> Option<&str> {
        self.set_cookie.as_deref()
    }
}

impl Accounts {
    /// Opens a pending step for `purpose`: the state from the page and the binding cookie from
    /// `request`; the outer error is the browser-state key being unavailable (503), the inner
    /// one the state's refusal (counted and audited here).
    pub(crate) async fn open_pending<S: CookieSource + ?Sized>(
        &self,
        purpose: Purpose,
        request: &S,
        state: &str,
    ) -> Result<Result<CodeSent, StateError>, Error> {
        let sessions = &self.sessions;
        let binding = find(sessions.flow_cookie_name(ACCOUNT_COOKIE), request);
        let budget = sessions.budget(request.deadline());
        let work = async {
            let opened = sessions
                .open_state::<Pending>(purpose, binding, state, budget)
                .await?;
            if let Err(why) = &opened {
                refused(why.code());
            }
            Ok(opened.map(|pending| CodeSent {
                purpose,
                pending,
                state: state.to_owned(),
                set_cookie: None,
            }))
        };
        sessions
            .inner
            .telemetry
            .invocation(sessions.inner.telemetry.client(request), work)
            .await
    }

    /// The `Set-Cookie` that removes the accounts cookie: send it when a sign-up or reset is
    /// over, so its state no longer opens.
    ///
    /// ```no_run
    /// # fn f(accounts: cognito_session::Accounts) {
    /// println!("Set-Cookie: {}", accounts.clear_cookie());
    /// # }
    /// ```
    pub fn clear_cookie(&self) -> String {
        self.sessions
            .flow_cookie(ACCOUNT_COOKIE, "", 0, ::cookie::SameSite::Strict)
    }

    /// Seals `pending` for `purpose` with a fresh browser binding: the step to hand out.
    pub(crate) async fn issue(
        &self,
        purpose: Purpose,
        lifetime: i64,
        pending: Pending,
        budget: Budget,
    ) -> Result<CodeSent, Error> {
        let binding = random(32)?;
        let state = self
            .sessions
            .seal_state(purpose, &binding, lifetime, &pending, budget)
            .await?;
        let set_cookie = self.sessions.flow_cookie(
            ACCOUNT_COOKIE,
            &binding,
            lifetime,
            ::cookie::SameSite::Strict,
        );
        Ok(CodeSent {
            purpose,
            pending,
            state,
            set_cookie: Some(set_cookie),
        })
    }

    /// The session of the user signed in on `request` ([`Sessions::current`]) and its access
    /// token for Cognito's calls on the user's behalf: the refreshed one when the session was
    /// refreshed on the way, else the cookie's. No valid session: [`Error::Unauthorized`].
    pub(crate) async fn signed_in<S: CookieSource + ?Sized>(
        &self,
        request: &S,
    ) -> Result<(Session, String), Error> {
        let sessions = &self.sessions;
        let session = sessions.current(request).await?;
        let token = match session.refreshed() {
            Some(tokens) => Some(tokens.access_token.clone()),
            None => sessions
                .token_in(&sessions.inner.cookie.name, request)
                .map(str::to_owned),
        };
        let token = token.ok_or(Error::Unauthorized(Unauthorized::MissingCookie))?;
        Ok((session, token))
    }

    pub(crate) fn settings(&self) -> &AccountSettings {
        &self.sessions.inner.accounts
    }

    /// `SECRET_HASH` for `username`, when the app client has a secret.
    pub(crate) fn secret_hash(&self, username: &str) -> Option<String> {
        let cognito = &self.sessions.inner.cognito;
        cognito
            .client_secret
            .as_deref()
            .map(|secret| crate::cognito::secret_hash(secret, username, &cognito.client_id))
    }

    /// One account step as one invocation (metrics, audit client details) in its span, with its
    /// outcome counted: `Ok`'s code from `done`, or the error's.
    pub(crate) async fn step<T, E: Coded>(
        &self,
        name: &'static str,
        client: crate::ClientInfo,
        work: impl std::future::Future<Output = Result<T, E>>,
        done: impl FnOnce(&T) -> &'static str,
    ) -> Result<T, E> {
        use tracing::Instrument;
        let span = tracing::info_span!(
            "cognito_session.account",
            otel.name = name,
            otel.kind = "internal",
            error.r#type = tracing::field::Empty
        );
        // Boxed: an account step's future (several SDK calls) is large, and a caller's
        // `block_on` keeps the whole future on its stack.
        let work = Box::pin(async {
            let result = work.await;
            match &result {
                Ok(value) => telemetry::count(Count::Account(done(value))),
                Err(error) => {
                    if let Some(failed) = error.failed() {
                        telemetry::failed(failed);
                    }
                    refused(error.code());
                }
            }
            result
        });
        let result = self
            .sessions
            .inner
            .telemetry
            .invocation(client, work.instrument(span.clone()))
            .await;
        if let Err(error) = &result {
            span.record("error.type", error.code());
        }
        result
    }
}

/// What [`Accounts::step`] needs of a flow's error.
pub(crate) trait Coded {
    fn code(&self) -> &'static str;
    /// The library error inside, for a 503 or 500.
    fn failed(&self) -> Option<&Error>;
}

/// Counts and audits a refused account step (never the username).
fn refused(code: &'static str) {
    telemetry::count(Count::Account(code));
    telemetry::audit(
        "account_refused",
        "account step refused",
        Audit {
            reason: Some(code),
            ..Audit::default()
        },
    );
}

/// An SDK operation's error type, as [`refusal`] sorts it.
pub(crate) trait OperationError:
    ProvideErrorMetadata + std::error::Error + Send + Sync + 'static
{
}

impl<E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static> OperationError for E {}

/// Cognito's refusal of an account call: its code and message, or the library error when it is
/// not a refusal (no answer, throttling and 5xx: [`Error::Unavailable`]; no credentials, a
/// request that cannot be built, an unknown app client, a client secret problem:
/// [`Error::Config`]).
pub(crate) fn refusal<E: OperationError>(
    error: aws_sdk_cognitoidentityprovider::error::SdkError<E>,
    call: &Call,
) -> Result<(String, String), Error> {
    let (code, message) = token_call_refusal(error, call)?;
    if let Some(problem) = client_problem(&code, &message, call) {
        tracing::error!(code, action = call.action, "account step failed: {problem}");
        return Err(problem);
    }
    Ok((code, message))
}

/// Cognito's refusal's code and message, or the library error when it is not one; without
/// [`refusal`]'s app client problems, for calls made with the user's access token (no
/// `ClientId`, no `SECRET_HASH`), where a `ResourceNotFoundException` is the call's own (an
/// unknown passkey, say).
pub(crate) fn token_call_refusal<E: OperationError>(
    error: aws_sdk_cognitoidentityprovider::error::SdkError<E>,
    call: &Call,
) -> Result<(String, String), Error> {
    let (code, message) = match classify(&error) {
        Failure::Service { code, message } => (code, message),
        Failure::Credentials(problem) => {
            return Err(Error::config_with(
                credentials_message(Service::Cognito, call.action, &problem),
                error,
            ))
        }
        Failure::Construction => {
            return Err(Error::config_with(
                format!("the Cognito request could not be built ({})", call.action),
                error,
            ))
        }
        Failure::Transient => return Err(Error::unavailable(Service::Cognito, call.action, error)),
    };
    let status = error.raw_response().map_or(400, |r| r.status().as_u16());
    if status >= 500
        || matches!(
            code.as_str(),
            "InternalErrorException"
                | "ThrottlingException"
                | "Throttling"
                | "UnexpectedLambdaException"
                | "ServiceUnavailable"
        )
    {
        return Err(Error::unavailable(Service::Cognito, call.action, error));
    }
    Ok((code, message))
}

/// What Cognito's `NotAuthorizedException` to a call made with the session's access token
/// (`api`, e.g. `ChangePassword`) means: a token without the scope
/// `aws.cognito.signin.user.admin` is the app's configuration ([`Error::Config`], 500); any
/// other (`Access Token has expired`, `... has been revoked`, `Invalid Access Token`) ends the
/// session ([`Error::Unauthorized`], 401: sign in again).
pub(crate) fn access_token_refused(api: &str, message: &str) -> Error {
    if plain(message).contains("required scopes") {
        Error::config(format!(
            "{api} needs an access token with the scope aws.cognito.signin.user.admin: \
             own-form sign-ins have it; for managed login add it to OAUTH_SCOPES and to the app \
             client's allowed scopes"
        ))
    } else {
        Error::Unauthorized(Unauthorized::SessionEnded)
    }
}

/// The refusals that mean this function's app client settings are wrong, as a configuration
/// error naming what to fix.
pub(crate) fn client_problem(code: &str, message: &str, call: &Call) -> Option<Error> {
    let text = plain(message);
    let client_id = &call.client_id;
    match code {
        "NotAuthorizedException"
            if text.contains("configured for secret but secret was not received") =>
        {
            Some(Error::config(format!(
                "the app client {client_id} has a client secret, but CLIENT_SECRET is not set: \
                 set CLIENT_SECRET to the app client's secret ({})",
                shown(message)
            )))
        }
        "NotAuthorizedException"
            if text.contains("secret hash")
                || text.contains("secrethash")
                || !text.contains(' ') =>
        {
            Some(Error::config(format!(
                "Cognito refused the SECRET_HASH ({}): check that CLIENT_SECRET is set to the \
                 secret of app client {client_id}, or unset for an app client without one",
                shown(message)
            )))
        }
        "ResourceNotFoundException" => Some(Error::config(format!(
            "Cognito does not know the app client {client_id} in Region {} ({}): check \
             CLIENT_ID and the function's Region (AWS_REGION)",
            call.region,
            shown(message)
        ))),
        _ => None,
    }
}

/// Cognito's message, fit to repeat: a sentence (moto echoes secrets as one-word messages).
pub(crate) fn shown(message: &str) -> &str {
    if message.trim().contains(' ') {
        message.trim()
    } else {
        "no message"
    }
}

/// The message, lowercased and trimmed, without one trailing period.
pub(crate) fn plain(message: &str) -> String {
    let message = message.trim().to_ascii_lowercase();
    message.strip_suffix('.').unwrap_or(&message).to_owned()
}

/// An email address or phone number masked as Cognito masks delivery destinations
/// (`a***@e***`, `+*******1234`).
pub(crate) fn mask(to: &str) -> String {
    match to.split_once('@') {
        Some((local, domain)) => format!(
            "{}***@{}***",
            local.chars().next().unwrap_or('*'),
            domain.chars().next().unwrap_or('*')
        ),
        None => {
            let digits: Vec<char> = to.chars().filter(char::is_ascii_digit).collect();
            let keep = digits.len().saturating_sub(4);
            format!(
                "+{}{}",
                "*".repeat(keep),
                digits[keep..].iter().collect::<String>()
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_are_masked_as_cognito_masks_them() {
        assert_eq!(mask("ada@example.com"), "a***@e***");
        assert_eq!(mask("+15555551234"), "+*******1234");
    }

    #[test]
    fn a_pending_step_never_shows_its_secrets() {
        let sent = CodeSent {
            purpose: Purpose::SignUp,
            pending: Pending {
                u: "ada-the-user".into(),
                s: Some("cognito-session-secret".into()),
                c: true,
                d: Some("a***@e***".into()),
            },
            state: "sealed-state".into(),
            set_cookie: Some("cognito-account=binding".into()),
        };
        let shown = format!("{sent:?}");
        for secret in [
            "ada-the-user",
            "cognito-session-secret",
            "sealed-state",
            "binding",
        ] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(shown.contains("a***@e***"), "{shown}");
    }
}
