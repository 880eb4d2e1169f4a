//! What the browser sees of the server: the sign-in form, error pages, redirects and cookies,
//! `/logout`, and the small parsing and randomness helpers behind them.

use aws_lc_rs::hmac;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use hyper::{Response, StatusCode};

use super::{lock, Answer, Authorize, Inner, Params, CSRF_COOKIE, SESSION_COOKIE};

impl Inner {
    /// `GET /logout`: ends the managed-login session and redirects to a registered `logout_uri`
    /// (or, with `redirect_uri` and `response_type`, to the sign-in form).
    pub(super) async fn logout(&self, params: &Params, cookies: &Params) -> Answer {
        let get = |name: &str| params.get(name).filter(|v| !v.is_empty()).cloned();
        let client = match self.client(&get("client_id").unwrap_or_default()).await {
            Ok(Some(client)) => client,
            Ok(None) => {
                return page(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "the client_id is not an app client of this user pool",
                )
            }
            Err(error) => return page(StatusCode::INTERNAL_SERVER_ERROR, "server_error", &error),
        };
        let target = if let Some(logout_uri) = get("logout_uri") {
            if !client.logout_urls.contains(&logout_uri) {
                return page(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "the logout_uri is not a sign-out URL of the app client",
                );
            }
            logout_uri
        } else if get("redirect_uri").is_some() {
            let mut login = params.clone();
            login.remove("logout_uri");
            if let Err(answer) = self.check_authorize(&login).await {
                return *answer;
            }
            format!("/login?{}", serialize(&login))
        } else {
            return page(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "logout_uri is required",
            );
        };
        if let Some(id) = cookies.get(SESSION_COOKIE) {
            lock(&self.state).sessions.remove(id);
        }
        let clear = format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0");
        redirect(&target, vec![clear])
    }
}

/// Cognito's `SECRET_HASH`: Base64(HMAC-SHA256(secret, username + client id)).
pub(super) fn secret_hash(secret: &str, username: &str, client_id: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    STANDARD.encode(hmac::sign(&key, format!("{username}{client_id}").as_bytes()).as_ref())
}

pub(super) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    SystemRandom::new()
        .fill(&mut bytes)
        .expect("system randomness");
    bytes
}

pub(super) fn random_id() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<32>())
}

/// A random version-4 UUID (Cognito's authorization codes look like UUIDs).
pub(super) fn random_uuid() -> String {
    let mut b = random_bytes::<16>();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

pub(super) fn parse(text: &str) -> Params {
    form_urlencoded::parse(text.as_bytes())
        .into_owned()
        .collect()
}

pub(super) fn serialize(params: &Params) -> String {
    let mut sorted: Vec<_> = params.iter().collect();
    sorted.sort();
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(sorted)
        .finish()
}

pub(super) fn cookies(headers: &hyper::HeaderMap) -> Params {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// `uri` with `pairs` appended to its query.
pub(super) fn with_query(uri: &str, pairs: &[(&str, &str)]) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    let separator = if uri.contains('?') { '&' } else { '?' };
    format!("{uri}{separator}{query}")
}

pub(super) fn redirect_error(redirect_uri: &str, error: &str, state: Option<&str>) -> Answer {
    let mut pairs = vec![("error", error)];
    pairs.extend(state.map(|s| ("state", s)));
    redirect(&with_query(redirect_uri, &pairs), Vec::new())
}

pub(super) fn code_redirect(request: &Authorize, code: &str, cookies: Vec<String>) -> Answer {
    let mut pairs = vec![("code", code)];
    pairs.extend(request.state.as_deref().map(|s| ("state", s)));
    redirect(&with_query(&request.redirect_uri, &pairs), cookies)
}

pub(super) fn redirect(location: &str, cookies: Vec<String>) -> Answer {
    let mut builder = Response::builder()
        .status(StatusCode::FOUND)
        .header(LOCATION, location)
        .header(CACHE_CONTROL, "no-store");
    for cookie in cookies {
        builder = builder.header(SET_COOKIE, cookie);
    }
    builder.body(Full::new(Bytes::new())).unwrap_or_else(|_| {
        page(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the redirect target is not a valid header value",
        )
    })
}

pub(super) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

pub(super) fn html(status: StatusCode, body: String, cookies: Vec<String>) -> Answer {
    let mut builder = Response::builder()
        .status(status)
        .header(CONTENT_TYPE, "text/html;charset=UTF-8")
        .header(CACHE_CONTROL, "no-store");
    for cookie in cookies {
        builder = builder.header(SET_COOKIE, cookie);
    }
    builder
        .body(Full::new(Bytes::from(body)))
        .expect("a valid page")
}

/// An error page naming the OAuth error (`redirect_mismatch`, `invalid_request`, ...).
pub(super) fn page(status: StatusCode, error: &str, detail: &str) -> Answer {
    let body = format!(
        "<!doctype html><html><head><title>Error</title></head><body>\
         <h1>An error was encountered with the requested page.</h1>\
         <p id=\"error\">error={}</p><p>{}</p></body></html>",
        escape(error),
        escape(detail)
    );
    html(status, body, Vec::new())
}

/// The sign-in form; it posts back to `/login` with the authorize request in its query.
pub(super) fn sign_in_form(params: &Params, message: Option<&str>) -> Answer {
    let csrf = random_id();
    let error = message
        .map(|m| {
            format!(
                "<p id=\"loginErrorMessage\" class=\"error\">{}</p>",
                escape(m)
            )
        })
        .unwrap_or_default();
    let body = format!(
        "<!doctype html><html><head><title>Signin</title></head><body>\
         <h1>Sign in with your username and password</h1>{error}\
         <form name=\"signin\" method=\"post\" action=\"/login?{action}\">\
         <input type=\"hidden\" name=\"_csrf\" value=\"{csrf}\">\
         <label for=\"signInFormUsername\">Username</label>\
         <input id=\"signInFormUsername\" name=\"username\" type=\"text\" autocomplete=\"username\">\
         <label for=\"signInFormPassword\">Password</label>\
         <input id=\"signInFormPassword\" name=\"password\" type=\"password\" autocomplete=\"current-password\">\
         <input name=\"signInSubmitButton\" type=\"submit\" value=\"Sign in\">\
         </form></body></html>",
        action = escape(&serialize(params)),
    );
    let cookie = format!("{CSRF_COOKIE}={csrf}; Path=/; HttpOnly; SameSite=Lax");
    html(StatusCode::OK, body, vec![cookie])
}
