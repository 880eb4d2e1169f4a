//! Managed login (the user pool's hosted sign-in pages): the redirect to `/oauth2/authorize`
//! with PKCE, `state` and `nonce`; the callback that exchanges the code and starts the session;
//! the logout that also ends the managed-login session.

use aws_lc_rs::constant_time::verify_slices_are_equal;

use super::settings::ManagedConfig;
use super::state::{challenge, Pending, LIFETIME_SECS};
use super::token_endpoint::{ExchangeError, TokenEndpoint};
use super::LoginError;
use crate::cognito::Tokens;
use crate::error::{Error, Service};
use crate::http::cookie::find;
use crate::manager::Sessions;
use crate::session::Session;
use crate::verify::Freshness;

/// Managed login as built: settings, token endpoint client and ID-token verifier.
pub(crate) struct Managed {
    pub config: ManagedConfig,
    pub endpoint: TokenEndpoint,
}

/// The start of a managed login: send the browser to `location` with `set_cookie`.
///
/// ```no_run
/// # async fn f(sessions: cognito_session::Sessions) -> Result<(), cognito_session::LoginError> {
/// let start = sessions.begin_login(Some("/orders?page=2")).await?;
/// println!("302 Location: {}", start.location);
/// println!("Set-Cookie: {}", start.set_cookie);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LoginStart {
    /// `<domain>/oauth2/authorize?response_type=code&client_id=...&redirect_uri=...&state=...
    /// &nonce=...&code_challenge=...&code_challenge_method=S256&scope=...`.
    pub location: String,
    /// The login cookie binding this login to the browser (`HttpOnly`, `SameSite=Lax`, ten
    /// minutes; `__Host-cognito-login` when cookies are `Secure`).
    pub set_cookie: String,
}

/// A completed managed login: the new session, where to send the browser, and the cookies to
/// set (the session cookie, and the login cookie's removal).
///
/// ```no_run
/// # async fn f(sessions: cognito_session::Sessions, request: http::Request<()>) -> Result<(), cognito_session::LoginError> {
/// let done = sessions.finish_login(&request).await?;
/// println!("signed in: {}", done.session.username());
/// println!("302 Location: {}", done.return_to);
/// for cookie in &done.set_cookies {
///     println!("Set-Cookie: {cookie}");
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LoginComplete {
    /// The session that was started (as [`Sessions::start`] returns it).
    pub session: Session,
    /// The same-origin path the login was started for (default `/`).
    pub return_to: String,
    /// `Set-Cookie` values: the session cookie and the login cookie's deletion.
    pub set_cookies: Vec<String>,
}

/// A same-origin relative path, or `None`: no scheme, no host, no `//` or `/\` (which browsers
/// read as another host), no control characters, at most 2048 bytes.
pub(crate) fn safe_return_to(path: &str) -> Option<&str> {
    let ok = path.starts_with('/')
        && !path.starts_with("//")
        && !path.contains('\\')
        && path.len() <= 2048
        && !path.chars().any(|c| c.is_control());
    ok.then_some(path)
}

impl Sessions {
    fn managed(&self) -> Result<&Managed, LoginError> {
        self.inner.managed.as_ref().ok_or(LoginError::NotConfigured)
    }

    /// The login cookie's name: `__Host-` prefixed whenever cookies are `Secure`.
    pub(crate) fn login_cookie_name(&self) -> &'static str {
        if self.inner.cookie.secure {
            "__Host-cognito-login"
        } else {
            "cognito-login"
        }
    }

    fn login_cookie(&self, value: &str, max_age: i64) -> String {
        ::cookie::Cookie::build((self.login_cookie_name(), value))
            .http_only(true)
            .secure(self.inner.cookie.secure)
            .same_site(::cookie::SameSite::Lax)
            .path("/")
            .max_age(::cookie::time::Duration::seconds(max_age))
            .build()
            .to_string()
    }

    /// The `Set-Cookie` that removes the login cookie.
    pub(crate) fn clear_login_cookie(&self) -> String {
        self.login_cookie("", 0)
    }

    /// Starts a managed login: stores a fresh `state`, `nonce` and PKCE verifier for ten minutes
    /// and returns the redirect to the user pool's `/oauth2/authorize` plus the cookie binding
    /// the login to this browser. `return_to` is where the callback sends the browser: a
    /// same-origin path; anything else (`https://evil.example`, `//evil.example`) is ignored and
    /// `/` used. Fails with [`LoginError::NotConfigured`] without `COGNITO_DOMAIN` and
    /// `REDIRECT_URI`, and with a 503 [`Error::Unavailable`] when the session table is.
    pub async fn begin_login(&self, return_to: Option<&str>) -> Result<LoginStart, LoginError> {
        let managed = self.managed()?;
        let return_to = return_to.and_then(safe_return_to).unwrap_or("/");
        let pending = Pending::new(return_to.to_owned())?;
        self.save_pending(&pending).await?;
        let config = &managed.config;
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.inner.cognito.client_id)
            .append_pair("redirect_uri", &config.redirect_uri)
            .append_pair("scope", &config.scopes)
            .append_pair("state", &pending.state)
            .append_pair("nonce", &pending.nonce)
            .append_pair("code_challenge", &challenge(&pending.verifier))
            .append_pair("code_challenge_method", "S256")
            .finish();
        Ok(LoginStart {
            location: format!("{}/oauth2/authorize?{query}", config.domain),
            set_cookie: self.login_cookie(&pending.state, LIFETIME_SECS),
        })
    }

    /// Completes a managed login from the callback request (the redirect back from Cognito,
    /// with `code` and `state` in its query): checks that `state` is the one this browser's
    /// login cookie holds, takes the pending login (once: a replayed callback is
    /// [`LoginError::Expired`]), exchanges the code at `<domain>/oauth2/token` with the PKCE
    /// verifier (client secret as HTTP Basic when set), verifies the ID token (signature, `iss`,
    /// `aud`, `token_use=id`, `nonce`) and the access token, and stores the session as
    /// [`Sessions::start`] does, with the user's profile from the ID token.
    ///
    /// A transient failure (token endpoint, JWKS or table unavailable) is a 503
    /// [`Error::Unavailable`] in [`LoginError::Session`] and leaves no session: the user starts
    /// the login again.
    ///
    /// The returned future holds nothing of `request` (it is `Send` whatever the body type).
    pub fn finish_login<B>(
        &self,
        request: &http::Request<B>,
    ) -> impl std::future::Future<Output = Result<LoginComplete, LoginError>> + Send + '_ {
        let query = request.uri().query().unwrap_or("").to_owned();
        let cookie = find(self.login_cookie_name(), request).map(str::to_owned);
        self.finish(query, cookie)
    }

    async fn finish(
        &self,
        query: String,
        cookie: Option<String>,
    ) -> Result<LoginComplete, LoginError> {
        let managed = self.managed()?;
        let params: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        let param = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
                .filter(|v| !v.is_empty())
        };
        if let Some(error) = param("error") {
            return Err(LoginError::Denied {
                error: error
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .take(64)
                    .collect(),
                description: param("error_description")
                    .map(|d| d.chars().filter(|c| !c.is_control()).take(300).collect()),
            });
        }
        let state = param("state").ok_or(LoginError::MissingParameter("state"))?;
        let code = param("code").ok_or(LoginError::MissingParameter("code"))?;
        let cookie = cookie.ok_or(LoginError::ForeignState)?;
        if verify_slices_are_equal(cookie.as_bytes(), state.as_bytes()).is_err() {
            return Err(LoginError::ForeignState);
        }
        let pending = self.take_pending(state).await?.ok_or(LoginError::Expired)?;
        let response = managed
            .endpoint
            .exchange(
                &self.inner.cognito.client_id,
                self.inner.cognito.client_secret.as_deref(),
                code,
                &managed.config.redirect_uri,
                &pending.verifier,
            )
            .await
            .map_err(|error| match error {
                ExchangeError::Refused { error, .. } if error == "invalid_grant" => {
                    LoginError::CodeRejected { error }
                }
                ExchangeError::Refused { status, error } => {
                    LoginError::Session(Error::config(format!(
                    "the token endpoint of COGNITO_DOMAIN refused the app client (HTTP {status}, \
                     {error}): check CLIENT_ID and CLIENT_SECRET, and that the app client allows \
                     the authorization code grant and lists REDIRECT_URI among its callback URLs"
                )))
                }
                ExchangeError::Transient(source) => LoginError::Session(Error::unavailable(
                    Service::TokenEndpoint,
                    "exchanging the authorization code",
                    source,
                )),
            })?;
        let id_token = response.id_token.as_deref().ok_or_else(|| {
            LoginError::TokenRejected(
                "the token endpoint returned no ID token: add `openid` to the app client's \
                 allowed OAuth scopes"
                    .into(),
            )
        })?;
        let now = self.now();
        let (id_claims, freshness) = match self.inner.id_verifier.verify(id_token, now).await {
            Ok(verified) => verified,
            Err(error) => {
                return Err(match error {
                    Error::Unauthorized(why) => {
                        LoginError::TokenRejected(format!("the ID token: {why}"))
                    }
                    other => LoginError::Session(other),
                });
            }
        };
        if freshness != Freshness::Current {
            return Err(LoginError::TokenRejected("the ID token has expired".into()));
        }
        let nonce = id_claims
            .get("nonce")
            .and_then(|n| n.as_str())
            .unwrap_or("");
        if verify_slices_are_equal(nonce.as_bytes(), pending.nonce.as_bytes()).is_err() {
            return Err(LoginError::TokenRejected(
                "the ID token's nonce is not this login's (a replayed or injected token)".into(),
            ));
        }
        // The access token must verify too, and name the same user, before anything is stored.
        let (access_claims, _) = self
            .inner
            .verifier
            .verify(&response.access_token, now)
            .await
            .map_err(|error| match error {
                Error::Unauthorized(why) => {
                    LoginError::TokenRejected(format!("the access token: {why}"))
                }
                other => LoginError::Session(other),
            })?;
        if access_claims.sub() != id_claims.sub() {
            return Err(LoginError::TokenRejected(
                "the ID token and the access token name different users".into(),
            ));
        }
        let tokens = Tokens {
            access_token: response.access_token,
            id_token: Some(id_token.to_owned()),
            refresh_token: response.refresh_token,
            expires_in: i32::try_from(response.expires_in).unwrap_or(i32::MAX),
            new_device_metadata: None,
        };
        let session = match self.start(&tokens).await {
            Ok(session) => session,
            Err(Error::Unauthorized(why)) => {
                return Err(LoginError::TokenRejected(format!(
                    "the access token: {why}"
                )))
            }
            Err(Error::InvalidInput(why)) => return Err(LoginError::TokenRejected(why)),
            Err(other) => return Err(other.into()),
        };
        let name = self.inner.cookie.name.clone();
        let mut set_cookies = vec![self.clear_login_cookie()];
        set_cookies.push(session.try_set_cookie(&name)?.unwrap_or_default());
        set_cookies.retain(|c| !c.is_empty());
        tracing::info!(sub = session.sub(), "managed login completed");
        Ok(LoginComplete {
            session,
            return_to: pending.return_to,
            set_cookies,
        })
    }

    /// Where a logout sends the browser: the managed login's `/logout` (so the next login asks
    /// for the password again) when `LOGOUT_URI` is set, else `/`.
    ///
    /// ```no_run
    /// # fn f(sessions: cognito_session::Sessions) {
    /// println!("302 Location: {}", sessions.logout_location());
    /// # }
    /// ```
    pub fn logout_location(&self) -> String {
        match self.inner.managed.as_ref() {
            Some(Managed {
                config:
                    ManagedConfig {
                        domain,
                        logout_uri: Some(logout_uri),
                        ..
                    },
                ..
            }) => {
                let query = form_urlencoded::Serializer::new(String::new())
                    .append_pair("client_id", &self.inner.cognito.client_id)
                    .append_pair("logout_uri", logout_uri)
                    .finish();
                format!("{domain}/logout?{query}")
            }
            _ => "/".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::safe_return_to;

    #[test]
    fn return_to_is_a_same_origin_path() {
        assert_eq!(
            safe_return_to("/orders?page=2#top"),
            Some("/orders?page=2#top")
        );
        assert_eq!(safe_return_to("/"), Some("/"));
        for hostile in [
            "https://evil.example/",
            "//evil.example/",
            "/\\evil.example",
            "\\\\evil.example",
            "evil.example",
            "/ok\r\nSet-Cookie: x=1",
            "javascript:alert(1)",
            "",
        ] {
            assert_eq!(safe_return_to(hostile), None, "{hostile:?}");
        }
        assert_eq!(safe_return_to(&format!("/{}", "a".repeat(3000))), None);
    }
}
