//! A `tower` layer that resolves the session of every request, for `lambda_http` and axum.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::header::{
    HeaderValue, ACCESS_CONTROL_REQUEST_METHOD, CONTENT_TYPE, RETRY_AFTER, SET_COOKIE,
};
use http::{Method, Request, Response, StatusCode};
use tower_layer::Layer;
use tower_service::Service;

use crate::error::{Error, Unauthorized};
use crate::http::csrf;
use crate::manager::Sessions;
use crate::session::Session;
use crate::CookieSource;

/// Resolves the session of every request and puts the [`Session`] in its extensions.
///
/// [`SessionLayer`] wraps any `tower` service of `http` requests and responses:
/// - it refuses (403) unsafe requests (`POST`, `PUT`, `PATCH`, `DELETE`...) that a browser sent
///   from another site: their `Origin` (or `Referer`) is neither the request's own origin nor
///   one of `ALLOWED_ORIGINS` (CSRF; on every route, public ones included; see below);
/// - it resolves the session from the cookie and puts the [`Session`] in the request's
///   extensions (read it with [`RequestSessionExt::session`] or the axum extractor);
/// - it answers 401 (JSON, with a `Set-Cookie` that clears a dead cookie) and 503 (with
///   `Retry-After`) itself, so the handler only ever sees requests with a session;
/// - it appends the refreshed cookie to the handler's response;
/// - it lets chosen routes through without a session ([`SessionLayer::public`]).
///
/// Every call to DynamoDB, Cognito and the JWKS endpoint is bounded by the Lambda invocation's
/// deadline, read from the `lambda_http::Context` that `lambda_http` puts in the request's
/// extensions: a slow dependency gets a 503 with `Retry-After` 300 ms before the deadline instead
/// of a function timeout. A deadline of 0 (no context, or `Context::default()`) means unknown:
/// no bound but the SDK's own timeouts.
///
/// Every `Set-Cookie` it writes, the refreshed cookie and the one clearing a dead cookie, uses
/// the configured name prefix, `Domain` and `Path` (`COOKIE_PREFIX`, `COOKIE_DOMAIN`,
/// `COOKIE_PATH`): a browser deletes a cookie only when all three match. A refreshed token whose
/// `Set-Cookie` would exceed 4096 bytes,
/// which browsers drop silently, is answered with 500 and logged at error level, naming the
/// cause ([`Session::try_set_cookie`]).
///
/// CSRF: the request's own origin is the host it was addressed to (`X-Forwarded-Host`, `Host`,
/// or the Lambda event's domain) with the scheme of `X-Forwarded-Proto` (API Gateway, ALB and
/// function URLs set it). A request with neither `Origin` nor `Referer` (a server, `curl`) is no
/// forgery and passes. Behind CloudFront, the function sees API Gateway's host, not the site's:
/// list the site's origin in `ALLOWED_ORIGINS`. A refusal is logged once a minute at WARN with
/// the origin seen, the one expected and `ALLOWED_ORIGINS`, so a proxy that rewrites `Host` is
/// visible at once. Turn the check off with [`without_csrf`](Self::without_csrf) (or
/// [`SessionsBuilder::csrf`](crate::SessionsBuilder::csrf)) only for APIs that browsers never
/// call with the cookie.
///
/// CORS: a preflight (`OPTIONS` with `Access-Control-Request-Method`) carries no cookie, so it
/// passes through to the handler without a session, on every route and without the CSRF check;
/// the handler or a CORS layer answers it. Put a CORS layer (such as `tower-http`'s) *outside*
/// this one, so that the 401 and 503 answers carry its headers too. Any other `OPTIONS` request
/// needs a session like every request.
///
/// ```no_run
/// # async fn f(sessions: cognito_session::Sessions) {
/// use cognito_session::SessionLayer;
/// let layer = SessionLayer::new(sessions)
///     .cookie_name("session")          // default "token"
///     .public("/")                     // exact path: the session is optional there
///     .public_prefix("/assets/")       // every path under /assets/
///     .allowed_origins(["https://app.example.com"]); // besides the own origin (default: ALLOWED_ORIGINS)
/// # let _ = layer;
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct SessionLayer {
    config: Arc<Config>,
}

#[derive(Debug, Clone)]
struct Config {
    sessions: Sessions,
    cookie: String,
    public: Vec<Public>,
    /// `None`: no CSRF check; otherwise the origins allowed besides the request's own.
    origins: Option<Vec<String>>,
    /// Browser mode: path prefixes whose page loads without a session go to a login route.
    browser: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
enum Public {
    Exact(String),
    Prefix(String),
}

impl Config {
    fn is_public(&self, path: &str) -> bool {
        matches_any(&self.public, path)
    }
}

fn matches_any(routes: &[Public], path: &str) -> bool {
    routes.iter().any(|route| match route {
        Public::Exact(exact) => path == exact,
        Public::Prefix(prefix) => path.starts_with(prefix.as_str()),
    })
}

impl SessionLayer {
    /// A layer reading the configured cookie (`COOKIE_NAME`, default `token`), requiring a
    /// session on every route, and refusing cross-site unsafe requests (allowing the request's
    /// own origin and `ALLOWED_ORIGINS`), unless the builder turned that off.
    pub fn new(sessions: Sessions) -> Self {
        let origins = sessions
            .inner
            .csrf
            .then(|| sessions.allowed_origins().to_vec());
        let cookie = sessions.cookie_options().name.clone();
        SessionLayer {
            config: Arc::new(Config {
                sessions,
                cookie,
                public: Vec::new(),
                origins,
                browser: Vec::new(),
            }),
        }
    }

    fn with(mut self, change: impl FnOnce(&mut Config)) -> Self {
        change(Arc::make_mut(&mut self.config));
        self
    }

    /// The session cookie's name, without any `__Host-` prefix (which the configuration adds),
    /// when it is not the configured one (`COOKIE_NAME`).
    #[must_use]
    pub fn cookie_name(self, name: impl Into<String>) -> Self {
        self.with(|c| c.cookie = name.into())
    }

    /// Lets requests for exactly `path` through without a session. Behind API Gateway, `path`
    /// may leave out the stage that `lambda_http` puts in front of the request path (REST
    /// APIs, HTTP API stages other than `$default`): `.public("/health")` matches `/prod/health`
    /// in stage `prod` (and so does `.public("/prod/health")`). The same holds for
    /// [`public_prefix`](Self::public_prefix). A valid session is still
    /// resolved and put in the extensions when the request carries one (and a dead cookie is
    /// cleared); a failure to check it is not an error there.
    #[must_use]
    pub fn public(self, path: impl Into<String>) -> Self {
        self.with(|c| c.public.push(Public::Exact(path.into())))
    }

    /// Like [`SessionLayer::public`], for every path that starts with `prefix`.
    #[must_use]
    pub fn public_prefix(self, prefix: impl Into<String>) -> Self {
        self.with(|c| c.public.push(Public::Prefix(prefix.into())))
    }

    /// The origins (`https://app.example.com`) unsafe requests may come from besides the
    /// request's own, replacing `ALLOWED_ORIGINS` (and turning the check on if it was off).
    /// Entries that are not origins are ignored.
    #[must_use]
    pub fn allowed_origins<I, O>(self, origins: I) -> Self
    where
        I: IntoIterator<Item = O>,
        O: AsRef<str>,
    {
        let origins = origins
            .into_iter()
            .filter_map(|o| csrf::origin_of(o.as_ref()))
            .collect();
        self.with(|c| c.origins = Some(origins))
    }

    /// Browser mode for every path starting with `prefix`: a page load there without a valid
    /// session (a `GET` or `HEAD` that accepts `text/html`) is answered `302` to `login_path`
    /// with `return_to` set to the page (`/login?return_to=%2Forders%3Fpage%3D2`), instead of the
    /// 401 JSON that API requests (`fetch`, `Accept: application/json`) keep getting. Give
    /// `prefix` and `login_path` without an API Gateway stage: behind a stage (`/Prod/orders`
    /// in stage `Prod`, as `lambda_http` gives REST API paths) the page matches the prefix
    /// without it, and the redirect goes to the login path with it (`/Prod/login`), as the
    /// browser addresses it. The login path becomes public. Several prefixes may each have
    /// their login route; the first match wins.
    ///
    /// ```
    /// # fn f(sessions: cognito_session::Sessions) {
    /// let layer = cognito_session::SessionLayer::new(sessions)
    ///     .login_redirect("/", "/login")     // every page...
    ///     .public("/callback")
    ///     .public_prefix("/assets/");
    /// # }
    /// ```
    #[must_use]
    pub fn login_redirect(self, prefix: impl Into<String>, login_path: impl Into<String>) -> Self {
        let login_path = login_path.into();
        self.with(|c| {
            c.public.push(Public::Exact(login_path.clone()));
            c.browser.push((prefix.into(), login_path));
        })
    }

    /// Turns the CSRF origin check off (for APIs that browsers never call with the cookie): any
    /// site can then make a logged-in browser post to every route.
    #[must_use]
    pub fn without_csrf(self) -> Self {
        self.with(|c| c.origins = None)
    }
}

impl<S> Layer<S> for SessionLayer {
    type Service = SessionService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SessionService {
            inner,
            config: self.config.clone(),
        }
    }
}

/// The service [`SessionLayer`] wraps around yours.
///
/// ```no_run
/// # async fn f(sessions: cognito_session::Sessions) {
/// use cognito_session::{SessionLayer, SessionService};
/// use lambda_http::tower::{service_fn, Layer};
/// use lambda_http::{Body, Error, Request, Response};
///
/// let handler = service_fn(|_: Request| async { Ok::<_, Error>(Response::new(Body::Empty)) });
/// let service: SessionService<_> = SessionLayer::new(sessions).layer(handler);
/// # let _ = service;
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct SessionService<S> {
    inner: S,
    config: Arc<Config>,
}

/// Marks a request that went through [`SessionLayer`], so extractors can tell "no session
/// here" from "the layer is missing".
#[derive(Debug, Clone, Copy)]
pub(crate) struct Checked;

/// Reading the layer's [`Session`] from a request.
///
/// ```
/// use cognito_session::RequestSessionExt;
/// let request = http::Request::new(());
/// assert!(request.session().is_none());
/// ```
pub trait RequestSessionExt {
    /// The session [`SessionLayer`] resolved; `None` on a public route without one (or without
    /// the layer).
    fn session(&self) -> Option<&Session>;
}

impl<B> RequestSessionExt for Request<B> {
    fn session(&self) -> Option<&Session> {
        self.extensions().get::<Session>()
    }
}

impl RequestSessionExt for http::request::Parts {
    fn session(&self) -> Option<&Session> {
        self.extensions.get::<Session>()
    }
}

/// The future [`SessionService`] returns: boxed, `Send`, `'static`.
pub(crate) type ResponseFuture<R, E> = Pin<Box<dyn Future<Output = Result<R, E>> + Send>>;

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for SessionService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: From<String> + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        // The clone is not ready; the one that was polled ready serves this request.
        let ready = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, ready);
        let config = self.config.clone();
        if let Some(origins) = &config.origins {
            if let Err(why) = csrf::check(&request, origins) {
                csrf::log_refusal(&why, request.method(), origins);
                let client = config.sessions.inner.telemetry.client(&request);
                return Box::pin(async move {
                    let refused = async {
                        csrf::refused();
                        Ok(json_response(StatusCode::FORBIDDEN, "Forbidden"))
                    };
                    config
                        .sessions
                        .inner
                        .telemetry
                        .invocation(client, refused)
                        .await
                });
            }
        }
        if is_preflight(&request) {
            // A CORS preflight carries no cookie: the handler (or a CORS layer) answers it.
            request.extensions_mut().insert(Checked);
            return Box::pin(inner.call(request));
        }
        let path = request.uri().path();
        let public = config.is_public(path)
            || without_stage(path, request.extensions()).is_some_and(|p| config.is_public(p));
        // Owned, so the future does not hold the request (whose body need not be `Sync`).
        let token = config
            .sessions
            .token_in(&config.cookie, request.headers())
            .map(str::to_owned);
        let deadline = request.deadline();
        let login = browser_login(&config.browser, &request);
        let return_to = request
            .uri()
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        let client = config.sessions.inner.telemetry.client(&request);
        // The invocation (metrics, audit details) spans the handler too.
        let reporter = config.clone();
        Box::pin(async move {
            let telemetry = &reporter.sessions.inner.telemetry;
            telemetry
                .invocation(client, async move {
                    let sessions = &config.sessions;
                    let outcome = match token {
                        Some(token) => sessions.check_in_span(&token, deadline).await,
                        None => Err(Unauthorized::MissingCookie.into()),
                    };
                    // On a public route a request without a session is no refusal.
                    if let (Err(error), false) = (&outcome, public) {
                        crate::telemetry::failed(error);
                    }
                    let outcome = outcome.and_then(|session| {
                        let set_cookie = session.try_set_cookie(&config.cookie)?;
                        Ok((session, set_cookie))
                    });
                    let set_cookie = match outcome {
                        Ok((session, set_cookie)) => {
                            request.extensions_mut().insert(session);
                            set_cookie
                        }
                        Err(error) if public => sessions.clear_cookie_for(&error, &config.cookie),
                        Err(error @ Error::Unauthorized(_)) if login.is_some() => {
                            let login = login.as_deref().unwrap_or("/");
                            return Ok(login_redirect(
                                sessions,
                                &config.cookie,
                                &error,
                                login,
                                &return_to,
                            ));
                        }
                        Err(error) => return Ok(error_response(sessions, &config.cookie, &error)),
                    };
                    request.extensions_mut().insert(Checked);
                    let mut response = inner.call(request).await?;
                    if let Some(cookie) = set_cookie {
                        let name = sessions.cookie_options().name(&config.cookie).into_owned();
                        add_set_cookie(response.headers_mut(), &name, &cookie);
                    }
                    Ok(response)
                })
                .await
        })
    }
}

/// The login route for a page load (a `GET`/`HEAD` accepting `text/html`) under a browser-mode
/// prefix.
fn browser_login<B>(browser: &[(String, String)], request: &Request<B>) -> Option<String> {
    if !matches!(*request.method(), Method::GET | Method::HEAD) {
        return None;
    }
    let html = request
        .headers()
        .get_all(http::header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("text/html"));
    if !html {
        return None;
    }
    let full = request.uri().path();
    let stage = stage_prefix(full, request.extensions()).unwrap_or("");
    let path = full
        .strip_prefix(stage)
        .filter(|p| !p.is_empty())
        .unwrap_or("/");
    browser
        .iter()
        .find(|(prefix, _)| path.starts_with(prefix.as_str()))
        .map(|(_, login)| format!("{stage}{login}"))
}

/// Browser mode's answer to a page load without a session: to the login route, remembering
/// the page, and clearing a dead cookie.
fn login_redirect<B: From<String>>(
    sessions: &Sessions,
    name: &str,
    error: &Error,
    login: &str,
    return_to: &str,
) -> Response<B> {
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("return_to", return_to)
        .finish();
    let separator = if login.contains('?') { '&' } else { '?' };
    let mut response = Response::new(B::from(String::new()));
    *response.status_mut() = StatusCode::FOUND;
    let headers = response.headers_mut();
    if let Ok(location) = HeaderValue::from_str(&format!("{login}{separator}{query}")) {
        headers.insert(http::header::LOCATION, location);
    }
    headers.insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    if let Some(cookie) = sessions.clear_cookie_for(error, name) {
        let name = sessions.cookie_options().name(name).into_owned();
        add_set_cookie(headers, &name, &cookie);
    }
    response
}

/// A CORS preflight (Fetch standard): `OPTIONS` with `Access-Control-Request-Method`.
fn is_preflight<B>(request: &Request<B>) -> bool {
    request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(ACCESS_CONTROL_REQUEST_METHOD)
}

/// `path` without the API Gateway stage that `lambda_http` puts in front of it (REST APIs, and
/// HTTP APIs on a stage other than `$default`): `/prod/health` in stage `prod` is `/health`.
/// `None` when the request has no stage or the path does not start with it.
fn without_stage<'p>(path: &'p str, extensions: &http::Extensions) -> Option<&'p str> {
    let stage = stage_prefix(path, extensions)?;
    match &path[stage.len()..] {
        "" => Some("/"),
        rest => Some(rest),
    }
}

/// The API Gateway stage at the start of `path` (`/prod` of `/prod/health` in stage `prod`),
/// when the request came through a stage that `lambda_http` puts in front of the path.
pub(crate) fn stage_prefix<'p>(path: &'p str, extensions: &http::Extensions) -> Option<&'p str> {
    use lambda_http::request::RequestContext;
    let stage = match extensions.get::<RequestContext>()? {
        RequestContext::ApiGatewayV1(context) => context.stage.as_deref(),
        RequestContext::ApiGatewayV2(context) => context.stage.as_deref(),
        _ => None,
    }
    .filter(|stage| !stage.is_empty() && *stage != "$default")?;
    let rest = path.strip_prefix('/')?.strip_prefix(stage)?;
    (rest.is_empty() || rest.starts_with('/')).then(|| &path[..=stage.len()])
}

fn json_response<B: From<String>>(status: StatusCode, message: &str) -> Response<B> {
    let body = serde_json::json!({ "error": message }).to_string();
    let mut response = Response::new(B::from(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// The layer's own answer to a request without a usable session: 401 (clearing a dead cookie),
/// 503 with `Retry-After: 1`, or 500 for a misconfiguration.
fn error_response<B: From<String>>(sessions: &Sessions, name: &str, error: &Error) -> Response<B> {
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let message = status.canonical_reason().unwrap_or("Error");
    let mut response = json_response(status, message);
    let headers = response.headers_mut();
    if status == StatusCode::SERVICE_UNAVAILABLE {
        headers.insert(RETRY_AFTER, HeaderValue::from_static("1"));
    }
    if let Some(cookie) = sessions.clear_cookie_for(error, name) {
        let name = sessions.cookie_options().name(name).into_owned();
        add_set_cookie(headers, &name, &cookie);
    }
    response
}

/// Adds the session's `Set-Cookie` unless the handler already set that cookie (a logout or a
/// login wins over a refresh). It goes first: an ALB without multi-value headers passes only
/// the first value of each header, and `lambda_http` fills that field from the same headers.
fn add_set_cookie(headers: &mut http::HeaderMap, name: &str, cookie: &str) {
    let Ok(value) = HeaderValue::try_from(cookie) else {
        return;
    };
    let prefix = format!("{name}=");
    let existing: Vec<HeaderValue> = headers.get_all(SET_COOKIE).iter().cloned().collect();
    if existing
        .iter()
        .any(|v| v.as_bytes().starts_with(prefix.as_bytes()))
    {
        return;
    }
    headers.remove(SET_COOKIE);
    headers.append(SET_COOKIE, value);
    for other in existing {
        headers.append(SET_COOKIE, other);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_cookie_goes_first_and_never_overrides_the_handler() {
        let mut headers = http::HeaderMap::new();
        headers.append(SET_COOKIE, HeaderValue::from_static("theme=dark"));
        add_set_cookie(&mut headers, "token", "token=new; HttpOnly");
        let all: Vec<_> = headers.get_all(SET_COOKIE).iter().collect();
        assert_eq!(all, ["token=new; HttpOnly", "theme=dark"]);

        let mut headers = http::HeaderMap::new();
        headers.append(SET_COOKIE, HeaderValue::from_static("token=; Max-Age=0"));
        add_set_cookie(&mut headers, "token", "token=new; HttpOnly");
        let all: Vec<_> = headers.get_all(SET_COOKIE).iter().collect();
        assert_eq!(all, ["token=; Max-Age=0"]);
    }

    #[test]
    fn the_api_gateway_stage_is_left_out_of_public_paths() {
        use aws_lambda_events::apigw::ApiGatewayProxyRequestContext;
        use lambda_http::request::RequestContext;
        let mut extensions = http::Extensions::new();
        assert_eq!(without_stage("/prod/health", &extensions), None);
        let mut context = ApiGatewayProxyRequestContext::default();
        context.stage = Some("prod".into());
        extensions.insert(RequestContext::ApiGatewayV1(context));
        assert_eq!(without_stage("/prod/health", &extensions), Some("/health"));
        assert_eq!(without_stage("/prod", &extensions), Some("/"));
        assert_eq!(without_stage("/production/x", &extensions), None);
        assert_eq!(without_stage("/health", &extensions), None);
    }

    #[test]
    fn public_routes_match_exactly_or_by_prefix() {
        let routes = [
            Public::Exact("/health".into()),
            Public::Prefix("/assets/".into()),
        ];
        let is_public = |path: &str| matches_any(&routes, path);
        assert!(is_public("/health"));
        assert!(!is_public("/health/x"));
        assert!(is_public("/assets/app.js"));
        assert!(!is_public("/assetsx"));
    }
}
