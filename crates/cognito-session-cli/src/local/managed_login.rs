//! Cognito managed login (the user pool domain's hosted pages), which moto lacks, for one pool on
//! moto: `/oauth2/authorize`, `/login` (an HTML sign-in form), `/oauth2/token`, `/logout` and
//! `/oauth2/userInfo`, answering as the Cognito documentation says and handing out moto's real
//! tokens, so everything after the login (refresh, revocation) runs on moto. `cognito-session dev`
//! serves it as the pool's domain; tests also make its token endpoint fail, hang or heal.

mod browser;
mod token;

use std::collections::HashMap;
use std::convert::Infallible;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use aws_sdk_cognitoidentityprovider::types::AuthFlowType;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

use super::{Error, MotoKey};

use browser::{
    code_redirect, cookies, page, parse, random_id, random_uuid, redirect, redirect_error,
    secret_hash, serialize, sign_in_form,
};

/// The managed-login session cookie on the server's own origin (Cognito's is also `cognito`).
///
/// ```
/// assert_eq!(cognito_session_cli::local::managed_login::SESSION_COOKIE, "cognito");
/// ```
pub const SESSION_COOKIE: &str = "cognito";
/// The double-submit cookie the sign-in form's `_csrf` field must match.
const CSRF_COOKIE: &str = "XSRF-TOKEN";
/// Cognito's message for a wrong password or an unknown user, shown above the form.
///
/// ```
/// use cognito_session_cli::local::managed_login::INCORRECT;
/// assert_eq!(INCORRECT, "Incorrect username or password.");
/// ```
pub const INCORRECT: &str = "Incorrect username or password.";
/// How long a managed-login session lasts (Cognito: one hour).
const SESSION_LIFETIME: Duration = Duration::from_secs(3600);

/// The user pool a [`ManagedLogin`] signs users into: its id, a Cognito client for moto, and
/// moto's signing key (the ID tokens are re-signed to carry the `nonce`).
///
/// ```no_run
/// # fn demo(cognito: aws_sdk_cognitoidentityprovider::Client) -> Result<(), cognito_session_cli::local::Error> {
/// use cognito_session_cli::local::{managed_login::Upstream, MotoKey};
/// let upstream = Upstream {
///     pool_id: "us-east-1_0123".into(),
///     cognito,
///     key: MotoKey::load(std::path::Path::new(".venv/bin/python"))?,
/// };
/// # let _ = upstream; Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Upstream {
    /// The user pool's id.
    pub pool_id: String,
    /// A Cognito client whose endpoint is moto.
    pub cognito: aws_sdk_cognitoidentityprovider::Client,
    /// moto's signing key ([`MotoKey::load`]).
    pub key: MotoKey,
}

/// A running managed-login server. Its [`base_url`](Self::base_url) plays the pool's domain
/// (`COGNITO_DOMAIN`). It stops when the last clone is dropped.
///
/// ```no_run
/// # async fn demo(upstream: cognito_session_cli::local::managed_login::Upstream)
/// # -> Result<(), cognito_session_cli::local::Error> {
/// use cognito_session_cli::local::ManagedLogin;
/// let login = ManagedLogin::start(upstream, 0).await?; // port 0: any free port
/// let domain = login.base_url(); // http://127.0.0.1:<port>
/// login.fail_token_endpoint(503); // the token endpoint is down ...
/// login.heal(); // ... and back
/// # let _ = domain; Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct ManagedLogin {
    base_url: String,
    inner: Arc<Inner>,
    _server: Arc<Server>,
}

impl fmt::Debug for ManagedLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManagedLogin")
            .field("base_url", &self.base_url)
            .field("token_requests", &self.token_requests())
            .finish_non_exhaustive()
    }
}

/// Aborts the accept loop when the last [`ManagedLogin`] is gone.
struct Server(tokio::task::JoinHandle<()>);

impl Drop for Server {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// What the token endpoint does instead of answering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    Status(u16),
    Hang,
}

struct Inner {
    pool_id: String,
    cognito: aws_sdk_cognitoidentityprovider::Client,
    key: MotoKey,
    state: Mutex<State>,
    token_requests: AtomicUsize,
    sign_ins: AtomicUsize,
    fault: Mutex<Option<Fault>>,
    code_lifetime: Mutex<Duration>,
}

/// The guard of `mutex`, also after a panic elsewhere poisoned it (its data stays consistent:
/// every critical section here is one insert, remove or read).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Seconds since the epoch.
fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[derive(Default)]
struct State {
    codes: HashMap<String, Grant>,
    sessions: HashMap<String, LoginSession>,
    /// Refresh tokens handed out by the code grant, with the username and scopes they carry.
    refresh: HashMap<String, (String, Vec<String>)>,
}

/// What an authorization code stands for (bound to the client, redirect URI and PKCE challenge).
struct Grant {
    client_id: String,
    redirect_uri: String,
    code_challenge: Option<String>,
    nonce: Option<String>,
    scopes: Vec<String>,
    username: String,
    auth_time: u64,
    attributes: Vec<(String, String)>,
    tokens: Tokens,
    issued: Instant,
}

/// moto's tokens from a sign-in.
struct Tokens {
    id: String,
    access: String,
    refresh: Option<String>,
    expires_in: i32,
}

/// A signed-in browser of the server's origin. The password stays in memory so that each new
/// authorization code gets fresh moto tokens (a new refresh token family), as Cognito's do.
struct LoginSession {
    username: String,
    password: String,
    signed_in_at: u64,
    expires: Instant,
}

/// An app client as `DescribeUserPoolClient` returns it.
struct Client {
    id: String,
    secret: Option<String>,
    callback_urls: Vec<String>,
    logout_urls: Vec<String>,
    flows: Vec<String>,
    scopes: Vec<String>,
    oauth: bool,
}

/// A checked `/oauth2/authorize` (or `/login`) request.
struct Authorize {
    client: Client,
    redirect_uri: String,
    state: Option<String>,
    scopes: Vec<String>,
    code_challenge: Option<String>,
    nonce: Option<String>,
}

type Params = HashMap<String, String>;
type Answer = Response<Full<Bytes>>;

impl ManagedLogin {
    /// Serves managed login for `upstream` on `127.0.0.1:port` (0: any free port).
    ///
    /// ```no_run
    /// # async fn demo(upstream: cognito_session_cli::local::managed_login::Upstream)
    /// # -> Result<(), cognito_session_cli::local::Error> {
    /// let login = cognito_session_cli::local::ManagedLogin::start(upstream, 4501).await?;
    /// assert_eq!(login.base_url(), "http://127.0.0.1:4501");
    /// # Ok(()) }
    /// ```
    pub async fn start(upstream: Upstream, port: u16) -> Result<ManagedLogin, Error> {
        let bound = tokio::net::TcpListener::bind(("127.0.0.1", port)).await;
        let listener = bound.map_err(|source| Error::Listen {
            what: "the managed-login server",
            port,
            source,
        })?;
        let port = listener
            .local_addr()
            .map_err(|source| Error::Listen {
                what: "the managed-login server",
                port,
                source,
            })?
            .port();
        let inner = Arc::new(Inner {
            pool_id: upstream.pool_id,
            cognito: upstream.cognito,
            key: upstream.key,
            state: Mutex::default(),
            token_requests: AtomicUsize::new(0),
            sign_ins: AtomicUsize::new(0),
            fault: Mutex::new(None),
            code_lifetime: Mutex::new(Duration::from_secs(300)),
        });
        let served = inner.clone();
        let handle = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    // Out of file descriptors, say: try again shortly rather than spin.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                let inner = served.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let inner = inner.clone();
                        async move { Ok::<_, Infallible>(inner.handle(request).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(ManagedLogin {
            base_url: format!("http://127.0.0.1:{port}"),
            inner,
            _server: Arc::new(Server(handle)),
        })
    }

    /// `http://127.0.0.1:<port>`: the pool's domain.
    ///
    /// ```no_run
    /// # fn demo(login: cognito_session_cli::local::ManagedLogin) {
    /// let authorize = format!("{}/oauth2/authorize", login.base_url());
    /// # let _ = authorize;
    /// # }
    /// ```
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// How many requests reached `/oauth2/token` (failed, refused and hung ones included).
    ///
    /// ```no_run
    /// # fn demo(login: cognito_session_cli::local::ManagedLogin) {
    /// assert_eq!(login.token_requests(), 0);
    /// # }
    /// ```
    pub fn token_requests(&self) -> usize {
        self.inner.token_requests.load(Ordering::SeqCst)
    }

    /// How many password sign-ins the form accepted (a session cookie skipping the form does
    /// not count).
    ///
    /// ```no_run
    /// # fn demo(login: cognito_session_cli::local::ManagedLogin) {
    /// assert_eq!(login.sign_ins(), 0);
    /// # }
    /// ```
    pub fn sign_ins(&self) -> usize {
        self.inner.sign_ins.load(Ordering::SeqCst)
    }

    /// From now on `/oauth2/token` answers `status` (e.g. 500, 503) with
    /// `{"error":"server_error"}`, until [`heal`](Self::heal).
    ///
    /// ```no_run
    /// # fn demo(login: cognito_session_cli::local::ManagedLogin) {
    /// login.fail_token_endpoint(503);
    /// # }
    /// ```
    pub fn fail_token_endpoint(&self, status: u16) {
        *lock(&self.inner.fault) = Some(Fault::Status(status));
    }

    /// From now on `/oauth2/token` never answers (the caller's timeout fires), until
    /// [`heal`](Self::heal).
    ///
    /// ```no_run
    /// # fn demo(login: cognito_session_cli::local::ManagedLogin) {
    /// login.hang_token_endpoint();
    /// # }
    /// ```
    pub fn hang_token_endpoint(&self) {
        *lock(&self.inner.fault) = Some(Fault::Hang);
    }

    /// The token endpoint answers normally again.
    ///
    /// ```no_run
    /// # fn demo(login: cognito_session_cli::local::ManagedLogin) {
    /// login.fail_token_endpoint(500);
    /// login.heal();
    /// # }
    /// ```
    pub fn heal(&self) {
        *lock(&self.inner.fault) = None;
    }

    /// How long a new authorization code stays valid (Cognito: five minutes, the default).
    ///
    /// ```no_run
    /// # fn demo(login: cognito_session_cli::local::ManagedLogin) {
    /// login.set_code_lifetime(std::time::Duration::ZERO); // every new code is already expired
    /// # }
    /// ```
    pub fn set_code_lifetime(&self, lifetime: Duration) {
        *lock(&self.inner.code_lifetime) = lifetime;
    }
}

impl Inner {
    async fn handle(self: Arc<Self>, request: Request<Incoming>) -> Answer {
        let (parts, body) = request.into_parts();
        let params = parse(parts.uri.query().unwrap_or(""));
        let cookies = cookies(&parts.headers);
        let body = match body.collect().await {
            Ok(body) => body.to_bytes(),
            Err(_) => {
                return page(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "unreadable body",
                )
            }
        };
        match (parts.method.clone(), parts.uri.path()) {
            (Method::GET, "/oauth2/authorize") => self.authorize(&params, &cookies, false).await,
            (Method::GET, "/login") => self.authorize(&params, &cookies, true).await,
            (Method::POST, "/login") => self.sign_in(&params, &cookies, &body).await,
            (Method::GET, "/logout") => self.logout(&params, &cookies).await,
            (_, "/oauth2/token") => self.token(&parts, &body).await,
            (Method::GET | Method::POST, "/oauth2/userInfo") => self.user_info(&parts).await,
            (_, "/oauth2/authorize" | "/login" | "/logout" | "/oauth2/userInfo") => page(
                StatusCode::METHOD_NOT_ALLOWED,
                "invalid_request",
                "method not allowed",
            ),
            _ => page(StatusCode::NOT_FOUND, "not_found", "no such page"),
        }
    }

    /// `DescribeUserPoolClient`: `Ok(None)` for an unknown client.
    async fn client(&self, client_id: &str) -> Result<Option<Client>, String> {
        if client_id.is_empty() {
            return Ok(None);
        }
        let described = self
            .cognito
            .describe_user_pool_client()
            .user_pool_id(&self.pool_id)
            .client_id(client_id)
            .send()
            .await;
        let client = match described {
            Ok(output) => output.user_pool_client,
            Err(error) => {
                let unknown = error
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception());
                return if unknown {
                    Ok(None)
                } else {
                    Err(format!("DescribeUserPoolClient failed: {error}"))
                };
            }
        };
        Ok(client.map(|c| Client {
            id: client_id.to_owned(),
            secret: c.client_secret().map(str::to_owned),
            callback_urls: c.callback_urls().to_vec(),
            logout_urls: c.logout_urls().to_vec(),
            flows: c
                .allowed_o_auth_flows()
                .iter()
                .map(|f| f.as_str().to_owned())
                .collect(),
            scopes: c.allowed_o_auth_scopes().to_vec(),
            oauth: c.allowed_o_auth_flows_user_pool_client().unwrap_or(false),
        }))
    }

    /// Checks an authorize request as Cognito does: an unknown client or an unregistered
    /// `redirect_uri` gets an error page; every other problem goes back to the `redirect_uri`.
    async fn check_authorize(&self, params: &Params) -> Result<Authorize, Box<Answer>> {
        let get = |name: &str| params.get(name).filter(|v| !v.is_empty()).cloned();
        let client = match self.client(&get("client_id").unwrap_or_default()).await {
            Ok(Some(client)) => client,
            Ok(None) => {
                return Err(Box::new(page(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "the client_id is not an app client of this user pool",
                )))
            }
            Err(error) => {
                return Err(Box::new(page(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "server_error",
                    &error,
                )))
            }
        };
        let redirect_uri = get("redirect_uri").unwrap_or_default();
        if !client.callback_urls.contains(&redirect_uri) {
            return Err(Box::new(page(
                StatusCode::BAD_REQUEST,
                "redirect_mismatch",
                "the redirect_uri is not a callback URL of the app client",
            )));
        }
        let state = get("state");
        let refuse = |error: &str| {
            Err(Box::new(redirect_error(
                &redirect_uri,
                error,
                state.as_deref(),
            )))
        };
        let (challenge, method) = (get("code_challenge"), get("code_challenge_method"));
        match get("response_type").as_deref() {
            None => return refuse("invalid_request"),
            Some("code" | "token") => {}
            Some(_) => return refuse("unsupported_response_type"),
        }
        if method.as_deref().is_some_and(|m| m != "S256") || method.is_some() != challenge.is_some()
        {
            return refuse("invalid_request");
        }
        let flow = match get("response_type").as_deref() {
            Some("token") => "implicit",
            _ => "code",
        };
        if !client.oauth || !client.flows.iter().any(|f| f == flow) {
            return refuse("unauthorized_client");
        }
        if flow == "implicit" {
            // This server serves the authorization code flow only.
            return refuse("unsupported_response_type");
        }
        let scopes: Vec<String> = match get("scope") {
            Some(scope) => scope
                .split(' ')
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect(),
            None => client.scopes.clone(),
        };
        if scopes.iter().any(|s| !client.scopes.contains(s)) {
            return refuse("invalid_scope");
        }
        Ok(Authorize {
            client,
            redirect_uri,
            state,
            scopes,
            code_challenge: challenge,
            nonce: get("nonce"),
        })
    }

    /// `GET /oauth2/authorize` (`form` false: no session → redirect to `/login`) and
    /// `GET /login` (`form` true: no session → the sign-in form).
    async fn authorize(&self, params: &Params, cookies: &Params, form: bool) -> Answer {
        let request = match self.check_authorize(params).await {
            Ok(request) => request,
            Err(answer) => return *answer,
        };
        if let Some(session) = self.session(cookies) {
            if let Ok(tokens) = self
                .authenticate(&request.client, &session.0, &session.1)
                .await
            {
                let code = self.grant(&request, &session.0, session.2, tokens).await;
                return code_redirect(&request, &code, Vec::new());
            }
        }
        if form {
            sign_in_form(params, None)
        } else {
            redirect(&format!("/login?{}", serialize(params)), Vec::new())
        }
    }

    /// `POST /login`: the sign-in form's answer.
    async fn sign_in(&self, params: &Params, cookies: &Params, body: &[u8]) -> Answer {
        let request = match self.check_authorize(params).await {
            Ok(request) => request,
            Err(answer) => return *answer,
        };
        let form = parse(&String::from_utf8_lossy(body));
        let csrf = form.get("_csrf").filter(|c| !c.is_empty());
        if csrf.is_none() || csrf != cookies.get(CSRF_COOKIE) {
            return page(
                StatusCode::FORBIDDEN,
                "invalid_request",
                "the form's CSRF token does not match",
            );
        }
        let username = form.get("username").cloned().unwrap_or_default();
        let password = form.get("password").cloned().unwrap_or_default();
        let tokens = match self
            .authenticate(&request.client, &username, &password)
            .await
        {
            Ok(tokens) => tokens,
            Err(message) => return sign_in_form(params, Some(&message)),
        };
        self.sign_ins.fetch_add(1, Ordering::SeqCst);
        let session_id = random_id();
        let signed_in_at = now();
        lock(&self.state).sessions.insert(
            session_id.clone(),
            LoginSession {
                username: username.clone(),
                password,
                signed_in_at,
                expires: Instant::now() + SESSION_LIFETIME,
            },
        );
        let code = self.grant(&request, &username, signed_in_at, tokens).await;
        let cookie = format!("{SESSION_COOKIE}={session_id}; Path=/; HttpOnly; SameSite=Lax");
        code_redirect(&request, &code, vec![cookie])
    }

    /// The live managed-login session of this browser: username, password, sign-in time.
    fn session(&self, cookies: &Params) -> Option<(String, String, u64)> {
        let id = cookies.get(SESSION_COOKIE)?;
        let mut state = lock(&self.state);
        let session = state.sessions.get(id)?;
        if session.expires < Instant::now() {
            state.sessions.remove(id);
            return None;
        }
        Some((
            session.username.clone(),
            session.password.clone(),
            session.signed_in_at,
        ))
    }

    /// `InitiateAuth` `USER_PASSWORD_AUTH` at moto (with `SECRET_HASH` for a secret client).
    /// The error is the message the form shows.
    async fn authenticate(
        &self,
        client: &Client,
        username: &str,
        password: &str,
    ) -> Result<Tokens, String> {
        if username.is_empty() || password.is_empty() {
            return Err(INCORRECT.to_owned());
        }
        let mut auth = self
            .cognito
            .initiate_auth()
            .client_id(&client.id)
            .auth_flow(AuthFlowType::UserPasswordAuth)
            .auth_parameters("USERNAME", username)
            .auth_parameters("PASSWORD", password);
        if let Some(secret) = &client.secret {
            auth = auth.auth_parameters("SECRET_HASH", secret_hash(secret, username, &client.id));
        }
        let output = match auth.send().await {
            Ok(output) => output,
            Err(error) => {
                let service = error.as_service_error();
                return Err(match service {
                    Some(e)
                        if e.is_not_authorized_exception() || e.is_user_not_found_exception() =>
                    {
                        INCORRECT.to_owned()
                    }
                    Some(e) if e.is_user_not_confirmed_exception() => {
                        "User is not confirmed.".to_owned()
                    }
                    Some(e) if e.is_password_reset_required_exception() => {
                        "Password reset required for the user".to_owned()
                    }
                    _ => "An error was encountered with the requested page.".to_owned(),
                });
            }
        };
        match output.authentication_result {
            Some(result) => Ok(Tokens {
                id: result.id_token.unwrap_or_default(),
                access: result.access_token.unwrap_or_default(),
                refresh: result.refresh_token,
                expires_in: result.expires_in,
            }),
            None => Err(format!(
                "This local managed login does not serve the {} challenge.",
                output
                    .challenge_name
                    .map(|c| c.as_str().to_owned())
                    .unwrap_or_default()
            )),
        }
    }

    /// A new one-time authorization code for `tokens`.
    async fn grant(
        &self,
        request: &Authorize,
        username: &str,
        auth_time: u64,
        tokens: Tokens,
    ) -> String {
        let attributes = self.attributes(username).await.unwrap_or_default();
        let code = random_uuid();
        lock(&self.state).codes.insert(
            code.clone(),
            Grant {
                client_id: request.client.id.clone(),
                redirect_uri: request.redirect_uri.clone(),
                code_challenge: request.code_challenge.clone(),
                nonce: request.nonce.clone(),
                scopes: request.scopes.clone(),
                username: username.to_owned(),
                auth_time,
                attributes,
                tokens,
                issued: Instant::now(),
            },
        );
        code
    }
}
