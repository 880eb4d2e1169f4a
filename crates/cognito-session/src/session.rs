//! What a request resolves to: the [`Session`] (verified claims, and the new tokens when it was
//! refreshed) and, for a bare token check, the [`VerifiedToken`].

use std::sync::Arc;

use crate::cognito::Tokens;
use crate::error::Error;
use crate::http::cookie::CookieOptions;
use crate::profile::{Profile, Slot};
use crate::verify::Claims;

/// A verified session for one request.
///
/// ```no_run
/// # async fn f(sessions: cognito_session::Sessions, request: lambda_http::Request) -> Result<(), cognito_session::Error> {
/// let session = sessions.session("token", &request).await?;
/// if session.claims().groups().iter().any(|g| g == "admin") {
///     println!("{} is an admin", session.username());
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Session {
    pub(crate) claims: Claims,
    pub(crate) refreshed: Option<Tokens>,
    pub(crate) cookie: Arc<CookieOptions>,
    pub(crate) profile: Slot,
}

impl Session {
    /// The user's `sub`.
    pub fn sub(&self) -> &str {
        self.claims.sub()
    }

    /// Cognito's username for the user.
    pub fn username(&self) -> &str {
        self.claims.username()
    }

    /// All verified claims of the current access token (scope, groups, custom claims...).
    pub fn claims(&self) -> &Claims {
        &self.claims
    }

    /// The user's profile (`email`, `name`, custom attributes) from the login's latest ID
    /// token, when this request read it: in [`SessionValidation::Session`](crate::SessionValidation)
    /// mode (the row is read anyway), after a refresh, and from [`Sessions::start`](crate::Sessions::start).
    /// Otherwise (token mode, a joined refresh, a session started without an ID token) `None`:
    /// [`Sessions::profile`](crate::Sessions::profile) reads it. The stored profile is decrypted
    /// and parsed on the first call, not before: a request that never asks pays nothing for it.
    ///
    /// ```no_run
    /// # async fn f(sessions: cognito_session::Sessions, request: lambda_http::Request) -> Result<(), cognito_session::Error> {
    /// let session = sessions.session("token", &request).await?;
    /// if let Some(email) = session.profile().and_then(|p| p.email()) {
    ///     println!("signed in as {email}");
    /// }
    /// # Ok(()) }
    /// ```
    pub fn profile(&self) -> Option<&Profile> {
        self.profile.get()
    }

    pub(crate) fn with_profile(self, profile: Option<Profile>) -> Session {
        self.with_slot(Slot::open(profile))
    }

    pub(crate) fn with_slot(mut self, profile: Slot) -> Session {
        self.profile = profile;
        self
    }

    /// The new tokens, when this call produced some: after a refresh (like the seed's `cognito`
    /// property), or the login tokens passed to [`Sessions::start`](crate::Sessions::start). A request that joined a
    /// concurrent refresh of its token gets that refresh's access token (without an ID token).
    /// `None` when the presented token was still valid.
    pub fn refreshed(&self) -> Option<&Tokens> {
        self.refreshed.as_ref()
    }

    /// A `Set-Cookie` value that stores the new access token in cookie `name`, when there is a
    /// new one: `HttpOnly; Secure; SameSite=Lax; Path=/; Max-Age=<session lifetime>` by default,
    /// with the configured name prefix, `Domain` and `Path`.
    ///
    /// A cookie over 4096 bytes, which the browser
    /// would drop, is not handed out: this returns `None` and logs the cause at error level. Use
    /// [`try_set_cookie`](Self::try_set_cookie) to answer that with a 500 instead.
    ///
    /// ```no_run
    /// # async fn f(sessions: cognito_session::Sessions, request: lambda_http::Request) -> Result<(), cognito_session::Error> {
    /// let session = sessions.session("token", &request).await?;
    /// if let Some(set_cookie) = session.set_cookie("token") {
    ///     println!("Set-Cookie: {set_cookie}"); // the token was refreshed
    /// }
    /// # Ok(()) }
    /// ```
    pub fn set_cookie(&self, name: &str) -> Option<String> {
        self.try_set_cookie(name).ok().flatten()
    }

    /// Like [`set_cookie`](Self::set_cookie), with a cookie too large for browsers reported as
    /// [`Error::Config`] (500, naming its size and what to reduce) rather than left out.
    /// [`SessionLayer`](crate::SessionLayer) answers such a request with 500.
    ///
    /// ```no_run
    /// # async fn f(sessions: cognito_session::Sessions, request: lambda_http::Request) -> Result<(), cognito_session::Error> {
    /// let session = sessions.session("token", &request).await?;
    /// let set_cookie: Option<String> = session.try_set_cookie("token")?;
    /// # Ok(()) }
    /// ```
    pub fn try_set_cookie(&self, name: &str) -> Result<Option<String>, Error> {
        self.refreshed
            .as_ref()
            .map(|tokens| self.cookie.try_set(name, &tokens.access_token))
            .transpose()
    }
}

/// An access token that passed verification ([`Sessions::verify`](crate::Sessions::verify)).
///
/// ```no_run
/// # async fn f(sessions: cognito_session::Sessions) -> Result<(), cognito_session::Error> {
/// let token = sessions.verify("eyJ...").await?;
/// println!("{} {}", token.claims().username(), token.expired());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct VerifiedToken {
    pub(crate) claims: Claims,
    pub(crate) expired: bool,
}

impl VerifiedToken {
    /// The verified claims (see the example on [`VerifiedToken`]).
    pub fn claims(&self) -> &Claims {
        &self.claims
    }

    /// Whether the token has expired (but is still inside the refresh window, so a session
    /// would refresh it).
    pub fn expired(&self) -> bool {
        self.expired
    }
}
