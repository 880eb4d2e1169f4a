//! Managed login (the user pool's hosted sign-in pages): the redirect to `/oauth2/authorize`
//! with PKCE, `state` and `nonce`; the callback that exchanges the code and starts the session;
//! the logout that also ends the managed-login session.

use aws_lc_rs::constant_time::verify_slices_are_equal;
use serde::{Deserialize, Serialize};

use super::settings::ManagedConfig;
use super::state::{challenge, random, Purpose, StateError};
use super::token_endpoint::{ExchangeError, TokenEndpoint};
use super::LoginError;
use crate::budget::Budget;
use crate::cognito::Tokens;
use crate::error::{Error, Service};
use crate::http::cookie::{find, CookieSource};
use crate::manager::Sessions;
use crate::session::Session;
use crate::telemetry::{self, Audit, ClientInfo, Count};
use crate::verify::Freshness;

/// The login cookie (`__Host-` prefixed when cookies are `Secure`): `Lax`, since the callback is
/// a top-level navigation from the managed login's site.
const LOGIN_COOKIE: [&str; 2] = ["__Host-cognito-login", "cognito-login"];

/// How long a login may take, from the redirect to Cognito to the callback.
pub(crate) const LIFETIME_SECS: i64 = 600;

/// One authorization request's secrets, sealed into the login cookie and bound to its `state`
/// (which the callback brings back in its query).
#[derive(Serialize, Deserialize)]
pub(crate) struct Pending {
    /// The OpenID `nonce` the ID token must carry.
    #[serde(rename = "n")]
    pub nonce: String,
    /// The PKCE `code_verifier`.
    #[serde(rename = "v")]
    pub verifier: String,
    /// Where to go after the login: a same-origin path.
    #[serde(rename = "r")]
    pub return_to: String,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending")
            .field("return_to", &self.return_to)
            .finish_non_exhaustive()
    }
}

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
#[derive(Clone)]
#[non_exhaustive]
pub struct LoginStart {
    /// `<domain>/oauth2/authorize?response_type=code&client_id=...&redirect_uri=...&state=...
    /// &nonce=...&code_challenge=...&code_challenge_method=S256&scope=...`.
    pub location: String,
    /// The login cookie: this login's nonce and PKCE verifier, sealed with the session
    /// encryption key and bound to its `state` (`HttpOnly`, `SameSite=Lax`, ten minutes;
    /// `__Host-cognito-login` when cookies are `Secure`).
    pub set_cookie: String,
}

/// Shows where the redirect goes, never its `state`, `nonce` or the sealed cookie.
///
/// ```no_run
/// # async fn f(sessions: cognito_session::Sessions) -> Result<(), cognito_session::LoginError> {
/// let start = sessions.begin_login(None).await?;
/// assert!(!format!("{start:?}").contains("state="));
/// # Ok(()) }
/// ```
impl std::fmt::Debug for LoginStart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let target = self.location.split('?').next().unwrap_or_default();
        f.debug_struct("LoginStart")
            .field("location", &format_args!("{target}?<redacted>"))
            .field(
                "set_cookie",
                &cookie_names(std::slice::from_ref(&self.set_cookie)),
            )
            .finish()
    }
}

/// The names of `Set-Cookie` values, for `Debug` (their values are secrets).
fn cookie_names(cookies: &[String]) -> Vec<&str> {
    cookies
        .iter()
        .map(|c| c.split('=').next().unwrap_or_default())
        .collect()
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
#[derive(Clone)]
#[non_exhaustive]
pub struct LoginComplete {
    /// The session that was started (as [`Sessions::start`] returns it).
    pub session: Session,
    /// The same-origin path the login was started for (default `/`).
    pub return_to: String,
    /// `Set-Cookie` values: the session cookie and the login cookie's deletion.
    pub set_cookies: Vec<String>,
}

/// Shows the user and the page, never a token (the session cookie holds the access token).
impl std::fmt::Debug for LoginComplete {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginComplete")
            .field("sub", &self.session.sub())
            .field("return_to", &self.return_to)
            .field("set_cookies", &cookie_names(&self.set_cookies))
            .finish_non_exhaustive()
    }
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
        self.flow_cookie_name(LOGIN_COOKIE)
    }

    fn login_cookie(&self, value: &str, max_age: i64) -> String {
        self.flow_cookie(LOGIN_COOKIE, value, max_age, ::cookie::SameSite::Lax)
    }

    /// The `Set-Cookie` that removes the login cookie.
    pub(crate) fn clear_login_cookie(&self) -> String {
        self.login_cookie("", 0)
    }

    /// Starts a managed login: a fresh `state`, `nonce` and PKCE verifier, and the redirect to
    /// the user pool's `/oauth2/authorize` plus the login cookie, which holds the nonce and
    /// verifier sealed with the session encryption key, bound to the `state` and valid ten
    /// minutes. Nothing is written anywhere: a flood of anonymous `/login` requests costs no
    /// DynamoDB capacity. `return_to` is where the callback sends the browser: a same-origin
    /// path; anything else (`https://evil.example`, `//evil.example`) is ignored and `/` used.
    /// Fails with [`LoginError::NotConfigured`] without `COGNITO_DOMAIN` and `REDIRECT_URI`.
    pub async fn begin_login(&self, return_to: Option<&str>) -> Result<LoginStart, LoginError> {
        let begin = self.begin(return_to, self.budget(None));
        self.inner
            .telemetry
            .invocation(ClientInfo::default(), Box::pin(begin))
            .await
    }

    /// [`begin_login`](Self::begin_login) within `budget` (the generated state key may have to
    /// be read once per process).
    pub(crate) async fn begin(
        &self,
        return_to: Option<&str>,
        budget: Budget,
    ) -> Result<LoginStart, LoginError> {
        let managed = self.managed()?;
        let return_to = return_to.and_then(safe_return_to).unwrap_or("/");
        let state = random(32)?;
        let pending = Pending {
            nonce: random(32)?,
            verifier: random(32)?,
            return_to: return_to.to_owned(),
        };
        let sealed = self
            .seal_state(Purpose::Login, &state, LIFETIME_SECS, &pending, budget)
            .await?;
        let config = &managed.config;
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.inner.cognito.client_id)
            .append_pair("redirect_uri", &config.redirect_uri)
            .append_pair("scope", &config.scopes)
            .append_pair("state", &state)
            .append_pair("nonce", &pending.nonce)
            .append_pair("code_challenge", &challenge(&pending.verifier))
            .append_pair("code_challenge_method", "S256")
            .finish();
        Ok(LoginStart {
            location: format!("{}/oauth2/authorize?{query}", config.domain),
            set_cookie: self.login_cookie(&sealed, LIFETIME_SECS),
        })
    }

    /// Completes a managed login from the callback request (the redirect back from Cognito,
    /// with `code` and `state` in its query), in named steps:
    /// 1. the callback's parameters (`error=` from Cognito, `code`, `state`);
    /// 2. the login cookie, opened: sealed by this function, bound to this `state` (so started
    ///    in this browser: login CSRF), not older than ten minutes;
    /// 3. the code exchange at `<domain>/oauth2/token` with the PKCE verifier (client secret as
    ///    HTTP Basic when set);
    /// 4. the pair of tokens: the ID token (signature, `iss`, `aud`, `token_use=id`, this
    ///    login's `nonce`) and the access token, naming the same user;
    /// 5. [`Sessions::start`]: the session row, with the user's profile from the ID token.
    ///
    /// Every call is bounded by the Lambda deadline of the request (its `lambda_http::Context`)
    /// and of this handle ([`Sessions::with_deadline`]). A transient failure or the deadline is
    /// a 503 [`Error::Unavailable`] in [`LoginError::Session`] that leaves no session (a
    /// session whose row could not be stored has its refresh token revoked). Nothing of the
    /// login is used up on the way: the same callback may be retried, and works as long as
    /// Cognito has not redeemed the code (it redeems a code once: afterwards a retry is
    /// [`LoginError::CodeRejected`], and the user starts again). A replayed callback is refused
    /// the same way, and in a browser whose login completed the login cookie is gone
    /// ([`LoginError::ForeignState`]).
    ///
    /// The returned future holds nothing of `request` (it is `Send` whatever the body type).
    pub fn finish_login<B>(
        &self,
        request: &http::Request<B>,
    ) -> impl std::future::Future<Output = Result<LoginComplete, LoginError>> + Send + '_ {
        let query = request.uri().query().unwrap_or("").to_owned();
        let cookie = find(self.login_cookie_name(), request).map(str::to_owned);
        let budget = self.budget(request.deadline());
        let client = self.inner.telemetry.client(request);
        async move {
            let span = tracing::info_span!(
                "cognito_session.login_callback",
                otel.kind = "internal",
                error.r#type = tracing::field::Empty
            );
            let work = async {
                let result = self.finish(query, cookie, budget).await;
                if let Err(error) = &result {
                    telemetry::count(Count::LoginRefused(error.code()));
                    if let LoginError::Session(error) = error {
                        telemetry::failed(error);
                    }
                    telemetry::audit(
                        "login_refused",
                        "a managed login's callback was refused",
                        Audit {
                            reason: Some(error.code()),
                            ..Audit::default()
                        },
                    );
                    tracing::Span::current().record("error.type", error.code());
                }
                result
            };
            self.inner
                .telemetry
                .invocation(
                    client,
                    Box::pin(tracing::Instrument::instrument(work, span)),
                )
                .await
        }
    }

    /// Whether the callback in `query` belongs to the login whose cookie is `cookie` (its
    /// `state` opens it, expired or not): only then may a failed callback remove the cookie, or
    /// any link to the callback could abort a login in progress.
    pub(crate) async fn owns_login(
        &self,
        query: &str,
        cookie: Option<&str>,
        budget: Budget,
    ) -> bool {
        let Some(cookie) = cookie else { return false };
        let params = callback_params(query);
        let state = params.get("state").map(String::as_str);
        matches!(
            self.open_state::<Pending>(Purpose::Login, state, cookie, budget)
                .await,
            Ok(Ok(_) | Err(StateError::Expired))
        )
    }

    async fn finish(
        &self,
        query: String,
        cookie: Option<String>,
        budget: Budget,
    ) -> Result<LoginComplete, LoginError> {
        let managed = self.managed()?;
        let params = callback_params(&query);
        if let Some(error) = params.get("error") {
            return Err(LoginError::Denied {
                error: error
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .take(64)
                    .collect(),
                description: params
                    .get("error_description")
                    .map(|d| d.chars().filter(|c| !c.is_control()).take(300).collect()),
            });
        }
        let state = params
            .get("state")
            .ok_or(LoginError::MissingParameter("state"))?;
        let code = params
            .get("code")
            .ok_or(LoginError::MissingParameter("code"))?;
        let cookie = cookie.ok_or(LoginError::ForeignState)?;
        let pending: Pending = self
            .open_state(Purpose::Login, Some(state), &cookie, budget)
            .await?
            .map_err(|error| match error {
                StateError::Expired => LoginError::Expired,
                _ => LoginError::ForeignState,
            })?;
        let tokens = self.exchange(managed, code, &pending, budget).await?;
        let session = self.start_login(tokens, budget).await?;
        let name = self.inner.cookie.name.clone();
        let mut set_cookies = vec![self.clear_login_cookie()];
        set_cookies.push(session.try_set_cookie(&name)?.unwrap_or_default());
        set_cookies.retain(|c| !c.is_empty());

        Ok(LoginComplete {
            session,
            return_to: pending.return_to,
            set_cookies,
        })
    }

    /// Step 3 and 4: the code for tokens at the token endpoint, then the pair verified.
    async fn exchange(
        &self,
        managed: &Managed,
        code: &str,
        pending: &Pending,
        budget: Budget,
    ) -> Result<Tokens, LoginError> {
        let exchange = managed.endpoint.exchange(
            &self.inner.cognito.client_id,
            self.inner.cognito.client_secret.as_deref(),
            code,
            &managed.config.redirect_uri,
            &pending.verifier,
        );
        let span = tracing::info_span!(
            "cognito_session.token_endpoint",
            otel.kind = "client",
            http.request.method = "POST",
            server.address = managed.endpoint.host()
        );
        let response = budget
            .call(
                Service::TokenEndpoint,
                "exchanging the authorization code",
                tracing::Instrument::instrument(exchange, span),
            )
            .await?
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
        let refused = |what: &str| {
            let what = what.to_owned();
            move |error| match error {
                Error::Unauthorized(why) => LoginError::TokenRejected(format!("{what}: {why}")),
                other => LoginError::Session(other),
            }
        };
        let (id_claims, freshness) = budget
            .verify(self.inner.id_verifier.verify(id_token, now))
            .await
            .map_err(refused("the ID token"))?;
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
        let (access_claims, _) = budget
            .verify(self.inner.verifier.verify(&response.access_token, now))
            .await
            .map_err(refused("the access token"))?;
        if access_claims.sub() != id_claims.sub() {
            return Err(LoginError::TokenRejected(
                "the ID token and the access token name different users".into(),
            ));
        }
        Ok(Tokens {
            access_token: response.access_token,
            id_token: Some(id_token.to_owned()),
            refresh_token: response.refresh_token,
            expires_in: i32::try_from(response.expires_in).unwrap_or(i32::MAX),
            new_device_metadata: None,
        })
    }

    /// Step 5: the session, as [`Sessions::start`] stores it.
    async fn start_login(&self, tokens: Tokens, budget: Budget) -> Result<Session, LoginError> {
        match self.start_owned(&tokens, budget, "managed_login").await {
            Ok(session) => Ok(session),
            Err(Error::Unauthorized(why)) => Err(LoginError::TokenRejected(format!(
                "the access token: {why}"
            ))),
            Err(Error::InvalidInput(why)) => Err(LoginError::TokenRejected(why)),
            Err(other) => Err(other.into()),
        }
    }

    /// Whether managed login is configured (`COGNITO_DOMAIN` and `REDIRECT_URI`): a page that
    /// offers the ways to sign in shows its link, and sends signed-out visitors to it, only then.
    ///
    /// ```no_run
    /// # fn f(sessions: cognito_session::Sessions) {
    /// let login_page = if sessions.has_managed_login() { "/login" } else { "/signin" };
    /// # let _ = login_page;
    /// # }
    /// ```
    pub fn has_managed_login(&self) -> bool {
        self.inner.managed.is_some()
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

/// The callback's query parameters, each present and non-empty (the first of a repeated one).
fn callback_params(query: &str) -> std::collections::HashMap<String, String> {
    let mut params = std::collections::HashMap::new();
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        if !value.is_empty() {
            params
                .entry(name.into_owned())
                .or_insert_with(|| value.into_owned());
        }
    }
    params
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
