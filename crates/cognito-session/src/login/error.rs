//! [`LoginError`]: why a managed login did not complete, with the HTTP status to answer.

use crate::error::Error;

/// Why a managed login (redirect, callback, token exchange) did not complete.
///
/// None of them leaves a session behind: a session row is written only after the code was
/// exchanged and both tokens verified.
///
/// ```
/// use cognito_session::LoginError;
/// let error = LoginError::Expired;
/// assert_eq!(error.status(), 400);
/// assert_eq!(error.code(), "login_expired");
/// assert!(error.to_string().contains("start the login again"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoginError {
    /// `COGNITO_DOMAIN` and `REDIRECT_URI` are not set (500).
    #[error("managed login is not configured: set COGNITO_DOMAIN and REDIRECT_URI (or SessionsBuilder::cognito_domain and redirect_uri)")]
    NotConfigured,
    /// Cognito sent the browser back with `error=` (for example `access_denied`, or
    /// `invalid_request` for a misconfigured app client) (401).
    ///
    /// Anyone can send a browser to the callback with any `error_description`, so it is kept
    /// for logs (control characters removed) but never shown: the message names the code alone.
    #[error("Cognito did not sign the user in ({error}): start the login again")]
    Denied {
        /// The OAuth `error` code (letters, digits and `_` only).
        error: String,
        /// Cognito's `error_description`, if any (for logs; attacker-controlled).
        description: Option<String>,
    },
    /// The callback lacks `code` or `state` (400).
    #[error("the login callback has no `{0}` parameter: start the login again")]
    MissingParameter(&'static str),
    /// The callback's `state` is not the one this browser's login cookie holds: the login was
    /// started in another browser (login CSRF) or the cookie was lost (400).
    #[error("this login was not started in this browser (its state does not match the login cookie): start the login again")]
    ForeignState,
    /// The login took longer than ten minutes, was never started, or its callback was already
    /// used (a replay) (400).
    #[error("this login has expired or was already completed: start the login again")]
    Expired,
    /// The token endpoint refused the authorization code (`invalid_grant`: already used,
    /// expired, issued to another client or redirect URI, or a wrong PKCE verifier) (400).
    #[error("the token endpoint refused the authorization code ({error}): start the login again")]
    CodeRejected {
        /// The OAuth error code.
        error: String,
    },
    /// The tokens from the token endpoint did not verify (signature, issuer, audience, token
    /// use, nonce, or the two tokens name different users) (401).
    #[error("the login's tokens were refused: {0}")]
    TokenRejected(String),
    /// Storing the session, verifying the tokens or reaching the token endpoint failed:
    /// [`Error::Unavailable`] (503, try again) or [`Error::Config`] (500).
    #[error(transparent)]
    Session(#[from] Error),
}

impl LoginError {
    /// The HTTP status to answer with.
    ///
    /// ```
    /// use cognito_session::LoginError;
    /// assert_eq!(LoginError::ForeignState.status(), 400);
    /// assert_eq!(LoginError::NotConfigured.status(), 500);
    /// ```
    pub fn status(&self) -> u16 {
        match self {
            LoginError::NotConfigured => 500,
            LoginError::Denied { .. } | LoginError::TokenRejected(_) => 401,
            LoginError::MissingParameter(_)
            | LoginError::ForeignState
            | LoginError::Expired
            | LoginError::CodeRejected { .. } => 400,
            LoginError::Session(error) => error.status(),
        }
    }

    /// A stable code for logs, JSON answers and tests.
    ///
    /// ```
    /// use cognito_session::LoginError;
    /// assert_eq!(LoginError::ForeignState.code(), "login_state_mismatch");
    /// ```
    pub fn code(&self) -> &'static str {
        match self {
            LoginError::NotConfigured => "login_not_configured",
            LoginError::Denied { .. } => "login_denied",
            LoginError::MissingParameter(_) => "login_missing_parameter",
            LoginError::ForeignState => "login_state_mismatch",
            LoginError::Expired => "login_expired",
            LoginError::CodeRejected { .. } => "login_code_rejected",
            LoginError::TokenRejected(_) => "login_token_rejected",
            LoginError::Session(Error::Unavailable { .. }) => "unavailable",
            LoginError::Session(Error::Config { .. }) => "misconfigured",
            LoginError::Session(_) => "login_failed",
        }
    }
}
