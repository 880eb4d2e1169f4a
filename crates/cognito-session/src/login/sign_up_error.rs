//! Why a sign-up step did not succeed: [`SignUpError`], and how Cognito's answers to `SignUp`,
//! `ConfirmSignUp` and `ResendConfirmationCode` sort into it.
//!
//! | Cognito answers (code: message) | we |
//! |---|---|
//! | `UsernameExistsException`, `AliasExistsException` | hidden by default: `SignUp` answers as for a new account, a confirmation as [`SignUpError::WrongCode`]; with `reveal_account_existence`, [`SignUpError::UsernameTaken`] (409) |
//! | `InvalidPasswordException` | [`SignUpError::PasswordRejected`] (400) with Cognito's text (`Password did not conform with policy: Password not long enough`) |
//! | `InvalidParameterException` (`SignUp`: a username or attribute Cognito refuses, e.g. `Invalid email address format.`), `UserLambdaValidationException` (a pre sign-up trigger said no) | [`SignUpError::Rejected`] (400) with Cognito's text |
//! | `CodeMismatchException`; `UserNotFoundException`; `NotAuthorizedException` `User cannot be confirmed. Current status is CONFIRMED` for an account this browser did not create | [`SignUpError::WrongCode`] (400) |
//! | `NotAuthorizedException` `... Current status is CONFIRMED` for this browser's own account; `InvalidParameterException` `User is already confirmed.` (resend) with `reveal_account_existence` | [`SignUpError::AlreadyConfirmed`] (409) |
//! | `ExpiredCodeException` | [`SignUpError::CodeExpired`] (400) |
//! | `LimitExceededException`, `TooManyRequestsException`, `TooManyFailedAttemptsException` | [`SignUpError::TooManyAttempts`] (429) |
//! | `CodeDeliveryFailureException` | [`SignUpError::CodeNotDelivered`] (400) |
//! | client secret refused, `ResourceNotFoundException` | [`Error::Config`] (500) naming `CLIENT_SECRET`, `CLIENT_ID` |
//! | `InternalErrorException`, throttling, HTTP 5xx, timeouts | [`Error::Unavailable`] (503): retry |
//! | any other code (`InvalidEmailRoleAccessPolicyException`, `InvalidSmsRole...`, `InvalidLambdaResponseException`, ...) | [`Error::Config`] (500), naming code and message |
//!
//! Sources: the `SignUp`, `ConfirmSignUp` and `ResendConfirmationCode` API references (error
//! codes), the "Managing user existence error responses" guide, and Cognito's messages as SDK
//! users report them.

use crate::error::Error;
use crate::login::accounts::{plain, shown, Coded};
use crate::login::sign_in_error::Call;
use crate::login::StateError;

/// Why a sign-up, its confirmation or a new code failed. Every variant says what the user or
/// operator should do; [`status`](SignUpError::status) gives the HTTP status.
///
/// By default a taken username is not one of them: see [`Accounts`](crate::Accounts).
///
/// ```
/// use cognito_session::SignUpError;
/// assert_eq!(SignUpError::WrongCode.status(), 400);
/// assert_eq!(SignUpError::WrongCode.code(), "sign_up_wrong_code");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignUpError {
    /// The username (or the email address or phone number, where those sign in) belongs to an
    /// account already (`UsernameExistsException`, `AliasExistsException`): only with
    /// `reveal_account_existence`. Ask the user to sign in or choose another. 409.
    #[error("an account with this username, email address or phone number exists already")]
    UsernameTaken,
    /// The password does not meet the pool's policy (`InvalidPasswordException`): ask for
    /// another. Carries Cognito's explanation, fit to show. 400.
    #[error("the password was not accepted: {0}")]
    PasswordRejected(String),
    /// Cognito refused the username or an attribute (`InvalidParameterException`, e.g. an email
    /// address it cannot read; `UserLambdaValidationException`, the pool's pre sign-up trigger):
    /// carries Cognito's explanation, fit to show. 400.
    #[error("the sign-up was not accepted: {0}")]
    Rejected(String),
    /// The confirmation code is wrong (`CodeMismatchException`): ask again; the same step can
    /// be answered again. 400.
    #[error("the code is wrong; enter the code we sent")]
    WrongCode,
    /// The code has expired (`ExpiredCodeException`): send a new one
    /// ([`Accounts::resend_code`](crate::Accounts::resend_code)). 400.
    #[error("the code has expired; ask for a new one")]
    CodeExpired,
    /// The account is confirmed already: ask the user to sign in. 409.
    #[error("the account is confirmed already; sign in")]
    AlreadyConfirmed,
    /// Too many attempts or codes (`LimitExceededException`, `TooManyRequestsException`,
    /// `TooManyFailedAttemptsException`): ask the user to wait a few minutes. 429.
    #[error("too many attempts; wait a few minutes and try again")]
    TooManyAttempts,
    /// Cognito could not deliver the code (`CodeDeliveryFailureException`): ask the user to
    /// check the email address or phone number. 400.
    #[error("the code could not be delivered; check the email address or phone number")]
    CodeNotDelivered,
    /// The step's state from the page did not open ([`StateError`]): start again. 400.
    #[error("{0}")]
    StateRejected(#[from] StateError),
    /// Anything else, as the library's [`Error`]: [`Error::Unavailable`] (503, retry),
    /// [`Error::Config`] (500), [`Error::InvalidInput`] (400: an attribute the app does not
    /// accept at sign-up).
    #[error(transparent)]
    Failed(#[from] Error),
}

impl SignUpError {
    /// The HTTP status to answer with.
    ///
    /// ```
    /// use cognito_session::SignUpError;
    /// assert_eq!(SignUpError::TooManyAttempts.status(), 429);
    /// assert_eq!(SignUpError::AlreadyConfirmed.status(), 409);
    /// ```
    pub fn status(&self) -> u16 {
        match self {
            SignUpError::UsernameTaken | SignUpError::AlreadyConfirmed => 409,
            SignUpError::TooManyAttempts => 429,
            SignUpError::Failed(error) => error.status(),
            _ => 400,
        }
    }

    /// A stable code for logs, JSON answers and tests (never a username or a code).
    ///
    /// ```
    /// assert_eq!(cognito_session::SignUpError::CodeExpired.code(), "sign_up_code_expired");
    /// ```
    pub fn code(&self) -> &'static str {
        match self {
            SignUpError::UsernameTaken => "sign_up_username_taken",
            SignUpError::PasswordRejected(_) => "sign_up_password_rejected",
            SignUpError::Rejected(_) => "sign_up_rejected",
            SignUpError::WrongCode => "sign_up_wrong_code",
            SignUpError::CodeExpired => "sign_up_code_expired",
            SignUpError::AlreadyConfirmed => "sign_up_already_confirmed",
            SignUpError::TooManyAttempts => "sign_up_too_many_attempts",
            SignUpError::CodeNotDelivered => "sign_up_code_not_delivered",
            SignUpError::StateRejected(why) => why.code(),
            SignUpError::Failed(Error::Unavailable { .. }) => "unavailable",
            SignUpError::Failed(Error::Config { .. }) => "misconfigured",
            SignUpError::Failed(Error::InvalidInput(_)) => "invalid_input",
            SignUpError::Failed(_) => "sign_up_failed",
        }
    }
}

impl Coded for SignUpError {
    fn code(&self) -> &'static str {
        SignUpError::code(self)
    }

    fn failed(&self) -> Option<&Error> {
        match self {
            SignUpError::Failed(error) => Some(error),
            _ => None,
        }
    }
}

/// How a refusal is read: whether the account's existence may show, and whether this browser
/// created the account.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reading {
    pub reveal: bool,
    pub own: bool,
}

/// Sorts Cognito's refusal (`code`, `message`) of a sign-up step (see the table). `None`: the
/// refusal says the account exists and that must not show (the caller answers as for a new
/// account).
pub(crate) fn sort(
    code: &str,
    message: &str,
    reading: Reading,
    call: &Call,
) -> Option<SignUpError> {
    let text = plain(message);
    Some(match code {
        "UsernameExistsException" | "AliasExistsException" if reading.reveal => {
            SignUpError::UsernameTaken
        }
        "UsernameExistsException" | "AliasExistsException" => return None,
        "InvalidPasswordException" | "PasswordHistoryPolicyViolationException" => {
            SignUpError::PasswordRejected(shown(message).to_owned())
        }
        "InvalidParameterException" if text == "user is already confirmed" => {
            if reading.reveal || reading.own {
                SignUpError::AlreadyConfirmed
            } else {
                return None;
            }
        }
        "InvalidParameterException" | "UserLambdaValidationException" => {
            SignUpError::Rejected(shown(message).to_owned())
        }
        "CodeMismatchException" | "UserNotFoundException" => SignUpError::WrongCode,
        "NotAuthorizedException" if text.contains("current status is confirmed") => {
            if reading.reveal || reading.own {
                SignUpError::AlreadyConfirmed
            } else {
                SignUpError::WrongCode
            }
        }
        "ExpiredCodeException" => SignUpError::CodeExpired,
        "LimitExceededException"
        | "TooManyRequestsException"
        | "TooManyFailedAttemptsException" => SignUpError::TooManyAttempts,
        "CodeDeliveryFailureException" => SignUpError::CodeNotDelivered,
        _ => Error::config(format!(
            "Cognito refused the sign-up ({}): {code} ({}); check the user pool's and app client \
             {}'s settings (message delivery, Lambda triggers, sign-up allowed)",
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

    fn call() -> Call {
        Call {
            action: "signing up",
            client_id: "client1".into(),
            region: "us-east-1".into(),
        }
    }

    fn sorted(code: &str, message: &str, reveal: bool, own: bool) -> Option<SignUpError> {
        sort(code, message, Reading { reveal, own }, &call())
    }

    #[test]
    fn a_taken_username_shows_only_when_revealing() {
        for code in ["UsernameExistsException", "AliasExistsException"] {
            assert!(sorted(code, "User already exists", false, false).is_none());
            assert!(matches!(
                sorted(code, "User already exists", true, false),
                Some(SignUpError::UsernameTaken)
            ));
        }
        // Confirming someone else's confirmed account: a wrong code, like any other.
        let confirmed = "User cannot be confirmed. Current status is CONFIRMED";
        let hidden = sorted("NotAuthorizedException", confirmed, false, false).unwrap();
        let wrong = sorted(
            "CodeMismatchException",
            "Invalid verification code provided, please try again.",
            false,
            false,
        )
        .unwrap();
        assert_eq!(hidden.to_string(), wrong.to_string());
        assert_eq!(format!("{hidden:?}"), format!("{wrong:?}"));
        assert!(matches!(
            sorted("NotAuthorizedException", confirmed, false, true),
            Some(SignUpError::AlreadyConfirmed)
        ));
        assert!(sorted(
            "InvalidParameterException",
            "User is already confirmed.",
            false,
            false
        )
        .is_none());
    }

    #[test]
    fn each_refusal_gets_its_variant() {
        let cases = [
            (
                "InvalidPasswordException",
                "Password did not conform with policy: Password not long enough",
                "sign_up_password_rejected",
            ),
            (
                "InvalidParameterException",
                "Invalid email address format.",
                "sign_up_rejected",
            ),
            (
                "UserLambdaValidationException",
                "PreSignUp failed with error no.",
                "sign_up_rejected",
            ),
            (
                "ExpiredCodeException",
                "Invalid code provided, please request a code again.",
                "sign_up_code_expired",
            ),
            (
                "LimitExceededException",
                "Attempt limit exceeded, please try after some time.",
                "sign_up_too_many_attempts",
            ),
            (
                "TooManyFailedAttemptsException",
                "Too many failed attempts.",
                "sign_up_too_many_attempts",
            ),
            (
                "CodeDeliveryFailureException",
                "Unable to deliver message",
                "sign_up_code_not_delivered",
            ),
            (
                "UserNotFoundException",
                "Username/client id combination not found.",
                "sign_up_wrong_code",
            ),
            (
                "InvalidEmailRoleAccessPolicyException",
                "Cognito is not allowed to use your email identity.",
                "misconfigured",
            ),
        ];
        for (code, message, expected) in cases {
            let error = sorted(code, message, false, false).unwrap();
            assert_eq!(error.code(), expected, "{code}: {message}: {error:?}");
        }
        let rejected = sorted(
            "InvalidPasswordException",
            "Password did not conform with policy: Password must have numeric characters",
            false,
            false,
        )
        .unwrap();
        assert!(
            rejected.to_string().contains("numeric characters"),
            "{rejected}"
        );
        assert_eq!(rejected.status(), 400);
    }
}
