//! [`PasskeyError`]: why a passkey could not be added, listed or removed, and how Cognito's
//! refusals of `StartWebAuthnRegistration`, `CompleteWebAuthnRegistration`,
//! `ListWebAuthnCredentials` and `DeleteWebAuthnCredential` are sorted into it.
//!
//! | Cognito answers | we |
//! |---|---|
//! | `WebAuthnChallengeNotFoundException` (the registration's challenge expired or was never started) | [`PasskeyError::ChallengeExpired`] (400) |
//! | `WebAuthnClientMismatchException` (completed with another app client's token than the start) | [`PasskeyError::ClientMismatch`] (400) |
//! | `WebAuthnOriginNotAllowedException` | [`PasskeyError::OriginNotAllowed`] (400) |
//! | `WebAuthnRelyingPartyMismatchException` | [`PasskeyError::RelyingPartyMismatch`] (400) |
//! | `WebAuthnCredentialNotSupportedException` | [`PasskeyError::NotSupported`] (400) |
//! | `InvalidParameterException` (`CompleteWebAuthnRegistration`), or a credential that is no JSON object (refused before any call) | [`PasskeyError::InvalidCredential`] (400) |
//! | `InvalidParameterException` (the other three) | [`Error::InvalidInput`] (400) |
//! | `ResourceNotFoundException` (`DeleteWebAuthnCredential`) | [`PasskeyError::NotFound`] (404) |
//! | `ForbiddenException` (AWS WAF) | [`PasskeyError::Blocked`] (403) |
//! | `LimitExceededException`, `TooManyRequestsException` | [`PasskeyError::TooManyRequests`] (429) |
//! | `NotAuthorizedException` `Access Token does not have required scopes` | [`Error::Config`] (500): the sign-in's tokens lack `aws.cognito.signin.user.admin` (own-form sign-ins have it; managed login only when `OAUTH_SCOPES` asks for it) |
//! | `NotAuthorizedException` `Access Token has expired` / `has been revoked` / `Invalid Access Token`; `PasswordResetRequiredException` | [`Error::Unauthorized`] (401): sign in again |
//! | `WebAuthnNotEnabledException` | [`Error::Config`] (500): passkeys are not among the pool's allowed first factors |
//! | `WebAuthnConfigurationMissingException` | [`Error::Config`] (500): the pool has no relying party ID (nor a domain to take it from) |
//! | `OperationNotEnabledException` | [`Error::Config`] (500): not available for the pool in this Region (a replica?) |
//! | `InternalErrorException`, throttling, HTTP 5xx, timeouts | [`Error::Unavailable`] (503): retry; nothing changed, the session stays |
//! | any other code | [`Error::Config`] (500), naming code and message |
//!
//! Sources: the four operations' API references (their error lists) and the SDK model's
//! documentation of each `WebAuthn*` exception.

use crate::error::{Error, Unauthorized};
use crate::login::accounts::{access_token_refused, shown, Coded};
use crate::login::sign_in_error::Call;

/// Why adding, listing or removing a passkey failed. Every variant says what the user or the
/// operator should do; [`status`](PasskeyError::status) gives the HTTP status.
///
/// ```
/// use cognito_session::PasskeyError;
/// assert_eq!(PasskeyError::NotFound.status(), 404);
/// assert_eq!(PasskeyError::ChallengeExpired.code(), "passkey_challenge_expired");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PasskeyError {
    /// The registration's challenge expired or was never started
    /// (`WebAuthnChallengeNotFoundException`): start the registration again. 400.
    #[error("the passkey registration expired or was not started; start it again")]
    ChallengeExpired,
    /// The registration was started with another app client's session than the one completing
    /// it (`WebAuthnClientMismatchException`): start it again here. 400.
    #[error("the passkey registration was started by another app; start it again here")]
    ClientMismatch,
    /// The passkey was created on a page whose origin the user pool does not accept for its
    /// relying party ID (`WebAuthnOriginNotAllowedException`): a page of another site, or an
    /// app served outside the relying party's domain. 400.
    #[error(
        "the passkey was created on a page of another site; add it from this site (operator: \
         serve the page from the user pool's relying party ID domain or a subdomain of it)"
    )]
    OriginNotAllowed,
    /// The passkey was created for another relying party ID than the user pool's
    /// (`WebAuthnRelyingPartyMismatchException`): the page changed the creation options, or
    /// the pool's relying party ID (`SetUserPoolMfaConfig` `WebAuthnConfiguration`
    /// `RelyingPartyId`) changed since the registration started. 400.
    #[error(
        "the passkey was created for another site than this user pool's; start again (operator: \
         pass the creation options to the browser unchanged; the pool's relying party is \
         SetUserPoolMfaConfig WebAuthnConfiguration RelyingPartyId)"
    )]
    RelyingPartyMismatch,
    /// The authenticator or passkey provider is not supported, or the passkey is registered
    /// already (`WebAuthnCredentialNotSupportedException`): try another device or provider. 400.
    #[error(
        "this passkey is not supported or already added; try another device or passkey provider"
    )]
    NotSupported,
    /// What the browser sent is not a passkey registration: not a JSON object (refused before
    /// any call), or refused by Cognito (`InvalidParameterException`). Carries why. 400.
    #[error("the browser's answer is not a passkey registration ({0}); start again")]
    InvalidCredential(String),
    /// The user has no passkey with this id (`ResourceNotFoundException`): removed already,
    /// or another user's. Reload the list. 404.
    #[error("this account has no such passkey; reload the list")]
    NotFound,
    /// The user pool's web ACL (AWS WAF) blocked the request (`ForbiddenException`): try
    /// again later or contact support. 403.
    #[error(
        "the request was blocked by the user pool's firewall; try again later or contact support"
    )]
    Blocked,
    /// Too many requests, or the account has as many passkeys as the pool allows
    /// (`LimitExceededException`, `TooManyRequestsException`): wait a few minutes, or remove a
    /// passkey no longer used. 429. (Cognito's throttling and outages are
    /// [`Error::Unavailable`], 503.)
    #[error(
        "too many passkey requests, or as many passkeys as an account may have; wait a few \
         minutes, or remove a passkey you no longer use"
    )]
    TooManyRequests,
    /// Anything else, as the library's [`Error`]: [`Error::Unauthorized`] (401: no valid
    /// session; sign in again), [`Error::Unavailable`] (503, retry; nothing changed),
    /// [`Error::Config`] (500: passkeys not enabled or configured, a token without the admin
    /// scope), [`Error::InvalidInput`] (400).
    #[error(transparent)]
    Failed(#[from] Error),
}

impl PasskeyError {
    /// The HTTP status to answer with.
    ///
    /// ```
    /// use cognito_session::PasskeyError;
    /// assert_eq!(PasskeyError::OriginNotAllowed.status(), 400);
    /// assert_eq!(PasskeyError::TooManyRequests.status(), 429);
    /// ```
    pub fn status(&self) -> u16 {
        match self {
            PasskeyError::NotFound => 404,
            PasskeyError::Blocked => 403,
            PasskeyError::TooManyRequests => 429,
            PasskeyError::Failed(error) => error.status(),
            _ => 400,
        }
    }

    /// A stable code for logs, JSON answers and tests (never a credential or its id).
    ///
    /// ```
    /// assert_eq!(cognito_session::PasskeyError::NotFound.code(), "passkey_not_found");
    /// ```
    pub fn code(&self) -> &'static str {
        match self {
            PasskeyError::ChallengeExpired => "passkey_challenge_expired",
            PasskeyError::ClientMismatch => "passkey_client_mismatch",
            PasskeyError::OriginNotAllowed => "passkey_origin_not_allowed",
            PasskeyError::RelyingPartyMismatch => "passkey_relying_party_mismatch",
            PasskeyError::NotSupported => "passkey_not_supported",
            PasskeyError::InvalidCredential(_) => "passkey_invalid_credential",
            PasskeyError::NotFound => "passkey_not_found",
            PasskeyError::Blocked => "passkey_blocked",
            PasskeyError::TooManyRequests => "passkey_too_many_requests",
            PasskeyError::Failed(error) => error.code(),
        }
    }
}

impl Coded for PasskeyError {
    fn code(&self) -> &'static str {
        PasskeyError::code(self)
    }

    fn failed(&self) -> Option<&Error> {
        match self {
            PasskeyError::Failed(error) => Some(error),
            _ => None,
        }
    }
}

/// The Cognito operation a refusal came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operation {
    Start,
    Complete,
    List,
    Delete,
}

impl Operation {
    fn api(self) -> &'static str {
        match self {
            Operation::Start => "StartWebAuthnRegistration",
            Operation::Complete => "CompleteWebAuthnRegistration",
            Operation::List => "ListWebAuthnCredentials",
            Operation::Delete => "DeleteWebAuthnCredential",
        }
    }
}

/// The refusals that are the user's or the page's to act on, whichever operation gave them.
fn user_refusal(code: &str) -> Option<PasskeyError> {
    Some(match code {
        "WebAuthnChallengeNotFoundException" => PasskeyError::ChallengeExpired,
        "WebAuthnClientMismatchException" => PasskeyError::ClientMismatch,
        "WebAuthnOriginNotAllowedException" => PasskeyError::OriginNotAllowed,
        "WebAuthnRelyingPartyMismatchException" => PasskeyError::RelyingPartyMismatch,
        "WebAuthnCredentialNotSupportedException" => PasskeyError::NotSupported,
        "ForbiddenException" => PasskeyError::Blocked,
        "LimitExceededException" | "TooManyRequestsException" => PasskeyError::TooManyRequests,
        _ => return None,
    })
}

/// The refusals that mean the user pool is not set up for passkeys: what to fix.
const POOL_PROBLEMS: [(&str, &str); 3] = [
    (
        "WebAuthnNotEnabledException",
        "passkeys are not enabled for the user pool: add WEB_AUTHN to the allowed first factors \
         of its sign-in policy (UpdateUserPool Policies.SignInPolicy.AllowedFirstAuthFactors; \
         the Essentials tier or higher) and allow ALLOW_USER_AUTH on the app client",
    ),
    (
        "WebAuthnConfigurationMissingException",
        "the user pool has no passkey relying party: set its relying party ID (SetUserPoolMfaConfig \
         WebAuthnConfiguration RelyingPartyId, the domain the app's pages are served from) or \
         give the pool a domain",
    ),
    (
        "OperationNotEnabledException",
        "Cognito does not offer passkey management for this user pool in this Region (a \
         multi-Region replica?): call the pool's primary Region",
    ),
];

/// Sorts Cognito's refusal (`code`, `message`) of `operation` (see the module's table).
pub(crate) fn sort(operation: Operation, code: &str, message: &str, call: &Call) -> PasskeyError {
    if let Some(refusal) = user_refusal(code) {
        return refusal;
    }
    if let Some((_, problem)) = POOL_PROBLEMS.iter().find(|(known, _)| *known == code) {
        return Error::config(format!("{problem} ({code}: {})", shown(message))).into();
    }
    match (operation, code) {
        (_, "NotAuthorizedException") => access_token_refused(operation.api(), message).into(),
        // The user must reset the password at the next sign-in.
        (_, "PasswordResetRequiredException") => {
            Error::Unauthorized(Unauthorized::SessionEnded).into()
        }
        (Operation::Delete, "ResourceNotFoundException") => PasskeyError::NotFound,
        (Operation::Complete, "InvalidParameterException") => {
            PasskeyError::InvalidCredential(shown(message).to_owned())
        }
        (_, "InvalidParameterException") => Error::InvalidInput(format!(
            "Cognito refused the request ({}): {}",
            call.action,
            shown(message)
        ))
        .into(),
        _ => Error::config(format!(
            "Cognito refused the passkey step ({}, {}): {code} ({}); check the user pool's \
             passkey settings and app client {}",
            call.action,
            operation.api(),
            shown(message),
            call.client_id
        ))
        .into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(operation: Operation, code: &str, message: &str) -> PasskeyError {
        let call = Call {
            action: "adding a passkey",
            client_id: "client1".into(),
            region: "us-east-1".into(),
        };
        sort(operation, code, message, &call)
    }

    #[test]
    fn each_refusal_gets_its_variant() {
        let cases = [
            (
                Operation::Complete,
                "WebAuthnChallengeNotFoundException",
                "passkey_challenge_expired",
                400,
            ),
            (
                Operation::Complete,
                "WebAuthnClientMismatchException",
                "passkey_client_mismatch",
                400,
            ),
            (
                Operation::Complete,
                "WebAuthnOriginNotAllowedException",
                "passkey_origin_not_allowed",
                400,
            ),
            (
                Operation::Complete,
                "WebAuthnRelyingPartyMismatchException",
                "passkey_relying_party_mismatch",
                400,
            ),
            (
                Operation::Complete,
                "WebAuthnCredentialNotSupportedException",
                "passkey_not_supported",
                400,
            ),
            (
                Operation::Complete,
                "InvalidParameterException",
                "passkey_invalid_credential",
                400,
            ),
            (
                Operation::List,
                "InvalidParameterException",
                "invalid_input",
                400,
            ),
            (
                Operation::Delete,
                "ResourceNotFoundException",
                "passkey_not_found",
                404,
            ),
            (
                Operation::List,
                "ForbiddenException",
                "passkey_blocked",
                403,
            ),
            (
                Operation::Start,
                "LimitExceededException",
                "passkey_too_many_requests",
                429,
            ),
            (
                Operation::Delete,
                "TooManyRequestsException",
                "passkey_too_many_requests",
                429,
            ),
            (
                Operation::Start,
                "WebAuthnNotEnabledException",
                "misconfigured",
                500,
            ),
            (
                Operation::Start,
                "WebAuthnConfigurationMissingException",
                "misconfigured",
                500,
            ),
            (
                Operation::List,
                "OperationNotEnabledException",
                "misconfigured",
                500,
            ),
            (
                Operation::Start,
                "PasswordResetRequiredException",
                "session_ended",
                401,
            ),
            (
                Operation::Start,
                "SomethingNewException",
                "misconfigured",
                500,
            ),
        ];
        for (operation, code, expected, status) in cases {
            let error = sorted(operation, code, "Some message here.");
            assert_eq!(error.code(), expected, "{code}: {error:?}");
            assert_eq!(error.status(), status, "{code}: {error:?}");
        }
    }

    #[test]
    fn a_token_without_the_admin_scope_says_which_sign_ins_have_it() {
        let error = sorted(
            Operation::Start,
            "NotAuthorizedException",
            "Access Token does not have required scopes",
        );
        assert_eq!(error.status(), 500, "{error:?}");
        let text = error.to_string();
        for needed in [
            "StartWebAuthnRegistration",
            "aws.cognito.signin.user.admin",
            "own-form sign-ins",
            "OAUTH_SCOPES",
        ] {
            assert!(text.contains(needed), "{needed}: {text}");
        }
        for message in [
            "Access Token has expired",
            "Access Token has been revoked",
            "Invalid Access Token",
        ] {
            let error = sorted(Operation::Delete, "NotAuthorizedException", message);
            assert_eq!(error.code(), "session_ended", "{message}: {error:?}");
        }
    }

    #[test]
    fn pool_problems_name_the_setting_to_change() {
        let not_enabled = sorted(
            Operation::Start,
            "WebAuthnNotEnabledException",
            "Passkeys are not enabled.",
        )
        .to_string();
        assert!(not_enabled.contains("WEB_AUTHN"), "{not_enabled}");
        assert!(
            not_enabled.contains("AllowedFirstAuthFactors"),
            "{not_enabled}"
        );
        let missing = sorted(
            Operation::Start,
            "WebAuthnConfigurationMissingException",
            "No relying party.",
        )
        .to_string();
        assert!(missing.contains("RelyingPartyId"), "{missing}");
        assert!(missing.contains("SetUserPoolMfaConfig"), "{missing}");
    }
}
