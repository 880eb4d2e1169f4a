//! Why a password sign-in did not succeed: [`SignInError`], and how Cognito's answers to
//! `InitiateAuth`, `RespondToAuthChallenge`, `AssociateSoftwareToken` and `VerifySoftwareToken`
//! sort into it.
//!
//! | Cognito answers (code: message) | we |
//! |---|---|
//! | `NotAuthorizedException`: `Incorrect username or password.` (also a passkey that does not verify) | [`SignInError::IncorrectCredentials`] (401) |
//! | `UserNotFoundException` (any message) | [`SignInError::IncorrectCredentials`] (401): the same error, so no answer tells whether a user exists |
//! | `NotAuthorizedException`: `User is disabled.` | [`SignInError::IncorrectCredentials`] (401), logged as "user disabled" |
//! | `NotAuthorizedException`: `Password attempts exceeded` | [`SignInError::TooManyAttempts`] (429) |
//! | `TooManyRequestsException`, `LimitExceededException`, `TooManyFailedAttemptsException` | [`SignInError::TooManyAttempts`] (429) |
//! | `UserNotConfirmedException` | [`SignInError::UserNotConfirmed`] (403) |
//! | `PasswordResetRequiredException` | [`SignInError::PasswordResetRequired`] (403) |
//! | `CodeMismatchException`, `EnableSoftwareTokenMFAException` (`VerifySoftwareToken`); `NotAuthorizedException`: `Your software token has already been used once.` | [`SignInError::WrongCode`] (401) |
//! | `ExpiredCodeException`; `NotAuthorizedException`: `Invalid session for the user, session is expired.` or `Invalid session for the user.` | [`SignInError::ChallengeExpired`] (401) |
//! | `InvalidPasswordException`, `PasswordHistoryPolicyViolationException` | [`SignInError::PasswordRejected`] (400) |
//! | `NotAuthorizedException` about the client secret (`... configured for secret but secret was not received`, `Unable to verify secret hash ...`, or no sentence: moto) | [`Error::Config`] (500) naming `CLIENT_SECRET` |
//! | `InvalidParameterException` (e.g. `USER_PASSWORD_AUTH flow not enabled for this client`, `USER_AUTH flow not enabled for this client`) | [`Error::Config`] (500) naming the app client's auth flows |
//! | `FeatureUnavailableInTierException` | [`Error::Config`] (500): choice-based sign-in needs the Essentials or Plus plan |
//! | `ResourceNotFoundException` | [`Error::Config`] (500): no such app client (`CLIENT_ID`, Region) |
//! | any other `NotAuthorizedException` | [`SignInError::IncorrectCredentials`] (401), Cognito's message logged |
//! | `InternalErrorException`, `ThrottlingException`, HTTP 5xx, timeouts, resets | [`Error::Unavailable`] (503): retry |
//! | any other code | [`Error::Config`] (500), naming code and message |
//!
//! Sources: the `InitiateAuth` and `RespondToAuthChallenge` API references (error codes) and
//! Cognito's messages as the AWS SDKs and Amplify match them.

use crate::error::{Error, Service};
use crate::login::StateError;
use crate::sdk::{classify, credentials_message, Failure};

/// Why a sign-in (or an answer to one of its challenges) failed. Every variant says what the user
/// or operator should do; [`status`](SignInError::status) gives the HTTP status to answer with.
///
/// A wrong password and an unknown username are the same [`SignInError::IncorrectCredentials`],
/// in `Display` and in logs (which never name the user), so no answer tells whether an account
/// exists.
///
/// ```
/// use cognito_session::SignInError;
/// assert_eq!(SignInError::IncorrectCredentials.status(), 401);
/// assert_eq!(SignInError::TooManyAttempts.status(), 429);
/// assert_eq!(SignInError::IncorrectCredentials.to_string(), "incorrect username or password");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignInError {
    /// Wrong password, unknown user or disabled user (Cognito's `NotAuthorizedException`
    /// "Incorrect username or password.", `UserNotFoundException`, "User is disabled."): ask
    /// the user to check both and try again. 401.
    #[error("incorrect username or password")]
    IncorrectCredentials,
    /// Too many attempts (`NotAuthorizedException` "Password attempts exceeded" when Cognito
    /// locks the user out for a while, `TooManyRequestsException`, `LimitExceededException`,
    /// `TooManyFailedAttemptsException`): ask the user to wait a few minutes. 429.
    #[error("too many sign-in attempts; wait a few minutes and try again")]
    TooManyAttempts,
    /// The account is not confirmed yet (`UserNotConfirmedException`): the user must confirm it
    /// (the code sent at sign-up; `ConfirmSignUp`/`ResendConfirmationCode`). 403.
    #[error("the account is not confirmed; confirm it with the code sent at sign-up")]
    UserNotConfirmed,
    /// The password must be reset first (`PasswordResetRequiredException`): send the user
    /// through "forgot password" (`ForgotPassword`, `ConfirmForgotPassword`). 403.
    #[error("the password must be reset; use \"forgot password\" to choose a new one")]
    PasswordResetRequired,
    /// The MFA code is wrong (`CodeMismatchException`, or a TOTP code used twice): ask for the
    /// current code; the same challenge can be answered again. 401.
    #[error("the code is wrong; enter the current code")]
    WrongCode,
    /// The challenge is no longer valid (`ExpiredCodeException`, `NotAuthorizedException`
    /// "Invalid session for the user, session is expired."): start the sign-in again. 401.
    #[error("the sign-in took too long; start again")]
    ChallengeExpired,
    /// The new password does not meet the pool's policy (`InvalidPasswordException`,
    /// `PasswordHistoryPolicyViolationException`): ask for another. Carries Cognito's
    /// explanation (e.g. "Password does not conform to policy: Password not long enough"),
    /// fit to show the user. 400.
    #[error("the new password was not accepted: {0}")]
    PasswordRejected(String),
    /// The challenge's state from the page did not open ([`StateError`]: edited, another
    /// browser's, an earlier step's, expired): start the sign-in again. Decided without any call
    /// to Cognito. 400.
    #[error("{0}")]
    StateRejected(StateError),
    /// Anything else, as the library's [`Error`]: [`Error::Unavailable`] (503, retry: no
    /// session was started), [`Error::Config`] (500: unknown app client, auth flow not
    /// enabled, wrong `CLIENT_SECRET`...), [`Error::InvalidInput`] (400: an answer that does not
    /// fit the challenge).
    #[error(transparent)]
    Failed(#[from] Error),
}

impl SignInError {
    /// The HTTP status to answer with: 401, 429, 403, 400, or the [`Error`]'s.
    ///
    /// ```
    /// use cognito_session::{Error, SignInError};
    /// assert_eq!(SignInError::UserNotConfirmed.status(), 403);
    /// assert_eq!(SignInError::from(Error::InvalidInput("x".into())).status(), 400);
    /// ```
    pub fn status(&self) -> u16 {
        match self {
            SignInError::IncorrectCredentials
            | SignInError::WrongCode
            | SignInError::ChallengeExpired => 401,
            SignInError::TooManyAttempts => 429,
            SignInError::UserNotConfirmed | SignInError::PasswordResetRequired => 403,
            SignInError::PasswordRejected(_) | SignInError::StateRejected(_) => 400,
            SignInError::Failed(error) => error.status(),
        }
    }

    /// A stable code for logs, JSON answers and tests (never a username or a code).
    ///
    /// ```
    /// use cognito_session::SignInError;
    /// assert_eq!(SignInError::IncorrectCredentials.code(), "sign_in_incorrect_credentials");
    /// ```
    pub fn code(&self) -> &'static str {
        match self {
            SignInError::IncorrectCredentials => "sign_in_incorrect_credentials",
            SignInError::TooManyAttempts => "sign_in_too_many_attempts",
            SignInError::UserNotConfirmed => "sign_in_user_not_confirmed",
            SignInError::PasswordResetRequired => "sign_in_password_reset_required",
            SignInError::WrongCode => "sign_in_wrong_code",
            SignInError::ChallengeExpired => "sign_in_challenge_expired",
            SignInError::PasswordRejected(_) => "sign_in_password_rejected",
            SignInError::StateRejected(why) => why.code(),
            SignInError::Failed(Error::Unavailable { .. }) => "unavailable",
            SignInError::Failed(Error::Config { .. }) => "misconfigured",
            SignInError::Failed(Error::InvalidInput(_)) => "invalid_input",
            SignInError::Failed(_) => "sign_in_failed",
        }
    }
}

/// Cognito's message, fit to repeat (see `crate::cognito`).
fn shown(message: &str) -> &str {
    if message.trim().contains(' ') {
        message.trim()
    } else {
        "no message"
    }
}

/// The message, lowercased and trimmed, without one trailing period.
fn plain(message: &str) -> String {
    let message = message.trim().to_ascii_lowercase();
    message.strip_suffix('.').unwrap_or(&message).to_owned()
}

/// Where the call was made, for the error messages.
pub(crate) struct Call {
    /// What we were doing ("signing in", "answering the sign-in challenge", ...).
    pub action: &'static str,
    pub client_id: String,
    pub region: String,
}

/// Sorts the failure of a sign-in call (see the table in the module docs) and logs refusals
/// (without the username).
pub(crate) fn sign_in_failure<E>(
    error: aws_sdk_cognitoidentityprovider::error::SdkError<E>,
    call: &Call,
) -> SignInError
where
    E: aws_sdk_cognitoidentityprovider::error::ProvideErrorMetadata
        + std::error::Error
        + Send
        + Sync
        + 'static,
{
    let (code, message) = match classify(&error) {
        Failure::Service { code, message } => (code, message),
        Failure::Credentials(problem) => {
            return Error::config_with(
                credentials_message(Service::Cognito, call.action, &problem),
                error,
            )
            .into()
        }
        Failure::Construction => {
            return Error::config_with(
                format!("the Cognito request could not be built ({})", call.action),
                error,
            )
            .into()
        }
        Failure::Transient => {
            return Error::unavailable(Service::Cognito, call.action, error).into()
        }
    };
    let status = error.raw_response().map_or(400, |r| r.status().as_u16());
    let sorted = sort(status, &code, &message, call);
    match &sorted {
        SignInError::Failed(Error::Unavailable { .. }) => {
            return Error::unavailable(Service::Cognito, call.action, error).into()
        }
        SignInError::Failed(_) => {
            tracing::error!(code, action = call.action, "sign-in failed: {sorted}");
        }
        SignInError::IncorrectCredentials => {
            let reason = match plain(&message).as_str() {
                "incorrect username or password" => "incorrect credentials",
                "user is disabled" => "user disabled",
                _ if code == "UserNotFoundException" => "incorrect credentials",
                _ => shown(&message),
            };
            // The audit event `sign_in_failed` says it at INFO; Cognito's own reason here.
            tracing::debug!(reason, "sign-in refusal's detail");
        }
        refused => tracing::debug!(code, "sign-in refusal's detail: {refused}"),
    }
    sorted
}

/// The sorting itself, from status, code and message.
fn sort(status: u16, code: &str, message: &str, call: &Call) -> SignInError {
    let text = plain(message);
    let client_id = &call.client_id;
    match code {
        "UserNotFoundException" => SignInError::IncorrectCredentials,
        "TooManyRequestsException"
        | "LimitExceededException"
        | "TooManyFailedAttemptsException" => SignInError::TooManyAttempts,
        "UserNotConfirmedException" => SignInError::UserNotConfirmed,
        "PasswordResetRequiredException" => SignInError::PasswordResetRequired,
        "CodeMismatchException" | "EnableSoftwareTokenMFAException" => SignInError::WrongCode,
        "ExpiredCodeException" => SignInError::ChallengeExpired,
        "InvalidPasswordException" | "PasswordHistoryPolicyViolationException" => {
            SignInError::PasswordRejected(shown(message).to_owned())
        }
        "NotAuthorizedException" => match text.as_str() {
            "incorrect username or password" | "user is disabled" => {
                SignInError::IncorrectCredentials
            }
            "password attempts exceeded" => SignInError::TooManyAttempts,
            "invalid session for the user, session is expired" | "invalid session for the user" => {
                SignInError::ChallengeExpired
            }
            "your software token has already been used once" => SignInError::WrongCode,
            t if t.contains("configured for secret but secret was not received") => {
                Error::config(format!(
                    "the app client {client_id} has a client secret, but CLIENT_SECRET is not \
                     set: set CLIENT_SECRET to the app client's secret ({})",
                    shown(message)
                ))
                .into()
            }
            t if t.contains("secret hash") || t.contains("secrethash") || !t.contains(' ') => {
                Error::config(format!(
                    "Cognito refused the SECRET_HASH ({}): check that CLIENT_SECRET is set to \
                     the secret of app client {client_id}, or unset for an app client without one",
                    shown(message)
                ))
                .into()
            }
            _ => SignInError::IncorrectCredentials,
        },
        "InvalidParameterException" => Error::config(format!(
            "Cognito refused the sign-in request ({}, {}): the app client {client_id} must allow \
             the flow used (ALLOW_USER_SRP_AUTH for sign_in, ALLOW_USER_PASSWORD_AUTH for \
             SignInFlow::Password, ALLOW_USER_AUTH for sign_in_choice) and \
             ALLOW_REFRESH_TOKEN_AUTH",
            call.action,
            shown(message)
        ))
        .into(),
        "FeatureUnavailableInTierException" => Error::config(format!(
            "Cognito refused the sign-in ({}): {} Choice-based sign-in (codes, passkeys) needs \
             the user pool's Essentials or Plus feature plan",
            call.action,
            shown(message)
        ))
        .into(),
        "ResourceNotFoundException" => Error::config(format!(
            "Cognito does not know the app client {client_id} in Region {} ({}): check \
             CLIENT_ID and the function's Region (AWS_REGION)",
            call.region,
            shown(message)
        ))
        .into(),
        _ if status >= 500
            || matches!(
                code,
                "InternalErrorException"
                    | "ThrottlingException"
                    | "Throttling"
                    | "UnexpectedLambdaException"
                    | "ServiceUnavailable"
            ) =>
        {
            // Replaced by the caller with the SDK error as the cause.
            Error::Unavailable {
                service: Service::Cognito,
                action: call.action,
                source: code.to_owned().into(),
            }
            .into()
        }
        _ => Error::config(format!(
            "Cognito refused the sign-in ({}): {code} ({}); check the user pool's and app \
             client {client_id}'s settings",
            call.action,
            shown(message)
        ))
        .into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(code: &str, message: &str) -> SignInError {
        let call = Call {
            action: "signing in",
            client_id: "client1".into(),
            region: "us-east-1".into(),
        };
        sort(400, code, message, &call)
    }

    #[test]
    fn wrong_password_and_unknown_user_are_one_error() {
        let wrong = sorted("NotAuthorizedException", "Incorrect username or password.");
        let unknown = sorted("UserNotFoundException", "User does not exist.");
        let disabled = sorted("NotAuthorizedException", "User is disabled.");
        for error in [&wrong, &unknown, &disabled] {
            assert!(
                matches!(error, SignInError::IncorrectCredentials),
                "{error:?}"
            );
            assert_eq!(error.to_string(), wrong.to_string());
            assert_eq!(format!("{error:?}"), format!("{wrong:?}"));
        }
    }

    /// The variant's name (the `Failed` ones by the error's kind).
    fn variant(error: &SignInError) -> &'static str {
        match error {
            SignInError::IncorrectCredentials => "IncorrectCredentials",
            SignInError::TooManyAttempts => "TooManyAttempts",
            SignInError::UserNotConfirmed => "UserNotConfirmed",
            SignInError::PasswordResetRequired => "PasswordResetRequired",
            SignInError::WrongCode => "WrongCode",
            SignInError::ChallengeExpired => "ChallengeExpired",
            SignInError::PasswordRejected(_) => "PasswordRejected",
            SignInError::StateRejected(_) => "StateRejected",
            SignInError::Failed(Error::Unavailable { .. }) => "Unavailable",
            SignInError::Failed(Error::Config { .. }) => "Config",
            SignInError::Failed(_) => "Failed",
        }
    }

    #[test]
    fn each_refusal_gets_its_variant() {
        let cases = [
            (
                "NotAuthorizedException",
                "Password attempts exceeded",
                "TooManyAttempts",
            ),
            (
                "TooManyRequestsException",
                "Too many requests",
                "TooManyAttempts",
            ),
            (
                "LimitExceededException",
                "Attempt limit exceeded, please try after some time.",
                "TooManyAttempts",
            ),
            (
                "UserNotConfirmedException",
                "User is not confirmed.",
                "UserNotConfirmed",
            ),
            (
                "PasswordResetRequiredException",
                "Password reset required for the user",
                "PasswordResetRequired",
            ),
            (
                "CodeMismatchException",
                "Invalid code received for user",
                "WrongCode",
            ),
            (
                "EnableSoftwareTokenMFAException",
                "Code mismatch",
                "WrongCode",
            ),
            (
                "ExpiredCodeException",
                "Invalid code provided, please request a code again.",
                "ChallengeExpired",
            ),
            (
                "NotAuthorizedException",
                "Invalid session for the user, session is expired.",
                "ChallengeExpired",
            ),
            (
                "InvalidPasswordException",
                "Password does not conform to policy: Password not long enough",
                "PasswordRejected",
            ),
            ("InternalErrorException", "boom", "Unavailable"),
            (
                "NotAuthorizedException",
                "Unable to verify secret hash for client client1",
                "Config",
            ),
            (
                "NotAuthorizedException",
                "Client client1 is configured for secret but secret was not received",
                "Config",
            ),
            (
                "InvalidUserPoolConfigurationException",
                "User pool is not configured for MFA",
                "Config",
            ),
        ];
        for (code, message, expected) in cases {
            let error = sorted(code, message);
            assert_eq!(variant(&error), expected, "{code}: {message}: {error:?}");
        }
        let rejected = sorted(
            "InvalidPasswordException",
            "Password does not conform to policy: Password not long enough",
        );
        assert!(
            rejected.to_string().contains("not long enough"),
            "{rejected}"
        );
        let secret = sorted(
            "NotAuthorizedException",
            "Unable to verify secret hash for client client1",
        );
        assert!(secret.to_string().contains("CLIENT_SECRET"), "{secret}");
    }

    #[test]
    fn misconfigurations_name_what_to_fix() {
        let flow = sorted(
            "InvalidParameterException",
            "USER_PASSWORD_AUTH flow not enabled for this client",
        );
        assert_eq!(flow.status(), 500);
        assert!(
            flow.to_string().contains("ALLOW_USER_PASSWORD_AUTH"),
            "{flow}"
        );
        let client = sorted(
            "ResourceNotFoundException",
            "User pool client client1 does not exist.",
        );
        assert!(client.to_string().contains("us-east-1"), "{client}");
        // moto echoes the SECRET_HASH it was sent as its message: never repeated.
        let echoed = sorted("NotAuthorizedException", "c2VjcmV0aGFzaA==");
        assert!(echoed.to_string().contains("CLIENT_SECRET"), "{echoed}");
        assert!(!echoed.to_string().contains("c2VjcmV0aGFzaA=="), "{echoed}");
    }
}
