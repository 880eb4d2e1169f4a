//! Why a password reset or change did not succeed: [`PasswordError`], and how Cognito's answers
//! to `ForgotPassword`, `ConfirmForgotPassword` and `ChangePassword` sort into it.
//!
//! | Cognito answers (code: message) | we |
//! |---|---|
//! | `ForgotPassword`: `UserNotFoundException`; `NotAuthorizedException` (`Incorrect username or password.`, `User is disabled.`, `User password cannot be reset in the current state.`); `InvalidParameterException` `Cannot reset password for the user as there is no registered/verified email or phone_number`; `CodeDeliveryFailureException` | hidden by default: the reset "starts" as for a known user; with `reveal_account_existence`, [`PasswordError::UnknownUser`] (404) or [`PasswordError::CannotReset`] (400) |
//! | `NotAuthorizedException` `Contact administrator to reset password.` | [`Error::Config`] (500): the pool allows no self-service recovery (`AccountRecoverySetting` `admin_only`) |
//! | `CodeMismatchException`; `UserNotFoundException` and any `NotAuthorizedException` (`ConfirmForgotPassword`) | [`PasswordError::WrongCode`] (400) |
//! | `ExpiredCodeException` | [`PasswordError::CodeExpired`] (400) |
//! | `InvalidPasswordException`, `PasswordHistoryPolicyViolationException` | [`PasswordError::PasswordRejected`] (400) with Cognito's text (`Password does not conform to policy: ...`) |
//! | `LimitExceededException`, `TooManyRequestsException`, `TooManyFailedAttemptsException` | [`PasswordError::TooManyAttempts`] (429) |
//! | `ChangePassword`: `NotAuthorizedException` `Incorrect username or password.` | [`PasswordError::IncorrectPassword`] (400) |
//! | `ChangePassword`: `NotAuthorizedException` `Access Token has been revoked` / `Access Token has expired` / `Invalid Access Token` | [`Error::Unauthorized`] (401): sign in again |
//! | `ChangePassword`: `NotAuthorizedException` `Access Token does not have required scopes` | [`Error::Config`] (500): the sign-in's tokens lack `aws.cognito.signin.user.admin` (managed login: add it to `OAUTH_SCOPES`) |
//! | client secret refused, `ResourceNotFoundException` | [`Error::Config`] (500) naming `CLIENT_SECRET`, `CLIENT_ID` |
//! | `InternalErrorException`, throttling, HTTP 5xx, timeouts | [`Error::Unavailable`] (503): retry |
//! | any other code | [`Error::Config`] (500), naming code and message |
//!
//! Sources: the `ForgotPassword`, `ConfirmForgotPassword` and `ChangePassword` API references
//! (error codes), the "Managing user existence error responses" guide, and Cognito's messages as
//! SDK users report them.

use crate::error::Error;
use crate::login::accounts::{access_token_refused, plain, shown, Coded};
use crate::login::sign_in_error::Call;
use crate::login::StateError;

/// Why a password reset or change failed. Every variant says what the user or operator should
/// do; [`status`](PasswordError::status) gives the HTTP status.
///
/// ```
/// use cognito_session::PasswordError;
/// assert_eq!(PasswordError::WrongCode.status(), 400);
/// assert_eq!(PasswordError::TooManyAttempts.code(), "password_too_many_attempts");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PasswordError {
    /// No such user (only with `reveal_account_existence`): ask the user to check the name. 404.
    #[error("no account has this username")]
    UnknownUser,
    /// The account cannot be reset by itself: disabled, no verified email or phone number, a
    /// code that could not be delivered (only with `reveal_account_existence`). 400.
    #[error("this account's password cannot be reset here; contact support")]
    CannotReset,
    /// The reset code is wrong (`CodeMismatchException`): ask again; the same step can be
    /// answered again. 400.
    #[error("the code is wrong; enter the code we sent")]
    WrongCode,
    /// The code has expired (`ExpiredCodeException`): start the reset again. 400.
    #[error("the code has expired; ask for a new one")]
    CodeExpired,
    /// The new password does not meet the pool's policy (`InvalidPasswordException`,
    /// `PasswordHistoryPolicyViolationException`): ask for another. Carries Cognito's
    /// explanation, fit to show. 400.
    #[error("the new password was not accepted: {0}")]
    PasswordRejected(String),
    /// The current password given to a change is wrong. 400 (the session itself is fine).
    #[error("the current password is wrong")]
    IncorrectPassword,
    /// Too many attempts (`LimitExceededException`, `TooManyRequestsException`,
    /// `TooManyFailedAttemptsException`): ask the user to wait a few minutes. 429.
    #[error("too many attempts; wait a few minutes and try again")]
    TooManyAttempts,
    /// The step's state from the page did not open ([`StateError`]): start again. 400.
    #[error("{0}")]
    StateRejected(#[from] StateError),
    /// Anything else, as the library's [`Error`]: [`Error::Unauthorized`] (401: no valid
    /// session for a change), [`Error::Unavailable`] (503, retry), [`Error::Config`] (500),
    /// [`Error::InvalidInput`] (400).
    #[error(transparent)]
    Failed(#[from] Error),
}

impl PasswordError {
    /// The HTTP status to answer with.
    ///
    /// ```
    /// use cognito_session::PasswordError;
    /// assert_eq!(PasswordError::UnknownUser.status(), 404);
    /// assert_eq!(PasswordError::TooManyAttempts.status(), 429);
    /// ```
    pub fn status(&self) -> u16 {
        match self {
            PasswordError::UnknownUser => 404,
            PasswordError::TooManyAttempts => 429,
            PasswordError::Failed(error) => error.status(),
            _ => 400,
        }
    }

    /// A stable code for logs, JSON answers and tests (never a username or a code).
    ///
    /// ```
    /// assert_eq!(cognito_session::PasswordError::WrongCode.code(), "password_wrong_code");
    /// ```
    pub fn code(&self) -> &'static str {
        match self {
            PasswordError::UnknownUser => "password_unknown_user",
            PasswordError::CannotReset => "password_cannot_reset",
            PasswordError::WrongCode => "password_wrong_code",
            PasswordError::CodeExpired => "password_code_expired",
            PasswordError::PasswordRejected(_) => "password_rejected",
            PasswordError::IncorrectPassword => "password_incorrect",
            PasswordError::TooManyAttempts => "password_too_many_attempts",
            PasswordError::StateRejected(why) => why.code(),
            PasswordError::Failed(Error::Unauthorized(_)) => "unauthorized",
            PasswordError::Failed(Error::Unavailable { .. }) => "unavailable",
            PasswordError::Failed(Error::Config { .. }) => "misconfigured",
            PasswordError::Failed(Error::InvalidInput(_)) => "invalid_input",
        }
    }
}

impl Coded for PasswordError {
    fn code(&self) -> &'static str {
        PasswordError::code(self)
    }

    fn failed(&self) -> Option<&Error> {
        match self {
            PasswordError::Failed(error) => Some(error),
            _ => None,
        }
    }
}

/// The Cognito operation a refusal came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operation {
    Forgot,
    ConfirmForgot,
    Change,
}

/// Sorts Cognito's refusal (`code`, `message`) of `operation` (see the table). `None`: a
/// `ForgotPassword` refusal that would tell whether the account exists, hidden (the caller
/// answers as for a known user).
pub(crate) fn sort(
    operation: Operation,
    code: &str,
    message: &str,
    reveal: bool,
    call: &Call,
) -> Option<PasswordError> {
    let text = plain(message);
    Some(match (operation, code) {
        (Operation::Forgot, "NotAuthorizedException") if text.contains("contact administrator") => {
            Error::config(format!(
                "the user pool allows no self-service password recovery ({}): set its \
                 AccountRecoverySetting to verified_email or verified_phone_number, or do not \
                 offer \"forgot password\"",
                shown(message)
            ))
            .into()
        }
        (Operation::Forgot, "UserNotFoundException") if reveal => PasswordError::UnknownUser,
        (Operation::Forgot, "NotAuthorizedException") if reveal => {
            if text == "incorrect username or password" {
                PasswordError::UnknownUser
            } else {
                PasswordError::CannotReset
            }
        }
        (Operation::Forgot, "InvalidParameterException" | "CodeDeliveryFailureException")
            if reveal && (code != "InvalidParameterException" || text.contains("verified")) =>
        {
            PasswordError::CannotReset
        }
        (Operation::Forgot, "UserNotFoundException" | "NotAuthorizedException") => return None,
        (Operation::Forgot, "InvalidParameterException") if text.contains("verified") => {
            return None
        }
        (Operation::Forgot, "CodeDeliveryFailureException") => return None,
        (_, "CodeMismatchException") => PasswordError::WrongCode,
        (Operation::ConfirmForgot, "UserNotFoundException" | "NotAuthorizedException") => {
            PasswordError::WrongCode
        }
        (_, "ExpiredCodeException") => PasswordError::CodeExpired,
        (_, "InvalidPasswordException" | "PasswordHistoryPolicyViolationException") => {
            PasswordError::PasswordRejected(shown(message).to_owned())
        }
        (
            _,
            "LimitExceededException"
            | "TooManyRequestsException"
            | "TooManyFailedAttemptsException",
        ) => PasswordError::TooManyAttempts,
        (Operation::Change, "NotAuthorizedException")
            if text == "incorrect username or password" =>
        {
            PasswordError::IncorrectPassword
        }
        (Operation::Change, "NotAuthorizedException") => {
            access_token_refused("ChangePassword", message).into()
        }
        _ => Error::config(format!(
            "Cognito refused the password step ({}): {code} ({}); check the user pool's and app \
             client {}'s settings",
            call.action,
            shown(message),
            call.client_id
        ))
        .into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(
        operation: Operation,
        code: &str,
        message: &str,
        reveal: bool,
    ) -> Option<PasswordError> {
        let call = Call {
            action: "resetting the password",
            client_id: "client1".into(),
            region: "us-east-1".into(),
        };
        sort(operation, code, message, reveal, &call)
    }

    #[test]
    fn an_unknown_user_is_answered_like_a_known_one() {
        let hidden = [
            ("UserNotFoundException", "Username/client id combination not found."),
            ("NotAuthorizedException", "Incorrect username or password."),
            ("NotAuthorizedException", "User is disabled."),
            (
                "InvalidParameterException",
                "Cannot reset password for the user as there is no registered/verified email or phone_number",
            ),
            ("CodeDeliveryFailureException", "Unable to deliver message"),
        ];
        for (code, message) in hidden {
            assert!(
                sorted(Operation::Forgot, code, message, false).is_none(),
                "{code}"
            );
            assert!(
                sorted(Operation::Forgot, code, message, true).is_some(),
                "{code}"
            );
        }
        assert!(matches!(
            sorted(Operation::Forgot, "UserNotFoundException", "x y", true),
            Some(PasswordError::UnknownUser)
        ));
        // Confirming an unknown user's reset: a wrong code, like any other.
        let unknown = sorted(
            Operation::ConfirmForgot,
            "UserNotFoundException",
            "Username/client id combination not found.",
            false,
        )
        .unwrap();
        let wrong = sorted(
            Operation::ConfirmForgot,
            "CodeMismatchException",
            "Invalid verification code provided, please try again.",
            false,
        )
        .unwrap();
        assert_eq!(format!("{unknown:?}"), format!("{wrong:?}"));
    }

    #[test]
    fn each_refusal_gets_its_variant() {
        let cases = [
            (
                Operation::ConfirmForgot,
                "ExpiredCodeException",
                "Invalid code provided, please request a code again.",
                "password_code_expired",
            ),
            (
                Operation::ConfirmForgot,
                "InvalidPasswordException",
                "Password does not conform to policy: Password not long enough",
                "password_rejected",
            ),
            (
                Operation::ConfirmForgot,
                "LimitExceededException",
                "Attempt limit exceeded, please try after some time.",
                "password_too_many_attempts",
            ),
            (
                Operation::Change,
                "NotAuthorizedException",
                "Incorrect username or password.",
                "password_incorrect",
            ),
            (
                Operation::Change,
                "NotAuthorizedException",
                "Access Token has been revoked",
                "unauthorized",
            ),
            (
                Operation::Change,
                "NotAuthorizedException",
                "Access Token does not have required scopes",
                "misconfigured",
            ),
            (
                Operation::Change,
                "PasswordHistoryPolicyViolationException",
                "The password was used recently.",
                "password_rejected",
            ),
            (
                Operation::Forgot,
                "NotAuthorizedException",
                "Contact administrator to reset password.",
                "misconfigured",
            ),
            (
                Operation::Forgot,
                "TooManyRequestsException",
                "Too many requests",
                "password_too_many_attempts",
            ),
        ];
        for (operation, code, message, expected) in cases {
            let error = sorted(operation, code, message, false).unwrap();
            assert_eq!(error.code(), expected, "{code}: {message}: {error:?}");
        }
        let rejected = sorted(
            Operation::Change,
            "InvalidPasswordException",
            "Password does not conform to policy: Password must have symbol characters",
            false,
        )
        .unwrap();
        assert!(
            rejected.to_string().contains("symbol characters"),
            "{rejected}"
        );
    }
}
