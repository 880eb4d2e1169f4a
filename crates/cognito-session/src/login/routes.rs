//! Ready-made handlers for the three login routes, on `http` types (so they serve
//! `lambda_http`, axum and any tower stack alike): redirects, cookies, and a clear error page or
//! JSON body for every failure.

use std::future::Future;

use http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION, SET_COOKIE};
use http::{HeaderValue, Response, StatusCode};

use super::managed::safe_return_to;
use super::LoginError;
use crate::error::Error;
use crate::http::cookie::{find, CookieSource};
use crate::http::csrf;
use crate::manager::Sessions;

impl Sessions {
    /// The login route (`GET /login?return_to=/path`): a `302` to the managed login's sign-in
    /// page with the login cookie, or an error page. Mount it wherever the app likes; the
    /// [`SessionLayer`](crate::SessionLayer)'s browser mode sends unauthenticated page loads
    /// there. It makes no call and writes nothing.
    ///
    /// ```no_run
    /// # async fn f(sessions: cognito_session::Sessions, request: lambda_http::Request) {
    /// let response: http::Response<String> = sessions.login(&request).await;
    /// assert_eq!(response.status(), 302);
    /// # }
    /// ```
    pub fn login<B>(
        &self,
        request: &http::Request<B>,
    ) -> impl Future<Output = Response<String>> + Send + '_ {
        let return_to = query_param(request, "return_to");
        let html = wants_html(request);
        let budget = self.budget(request.deadline());
        let home = home_of(request);
        let client = self.inner.telemetry.client(request);
        let route = async move {
            match self.begin(return_to.as_deref(), budget).await {
                Ok(start) => redirect(&start.location, &[start.set_cookie]),
                Err(error) => self.login_failure(html, &error, Failure::home(home)),
            }
        };
        self.inner.telemetry.invocation(client, Box::pin(route))
    }

    /// The callback route (the path of `REDIRECT_URI`): completes the login
    /// ([`Sessions::finish_login`], bounded by the request's Lambda deadline) and answers `302`
    /// to the page the login was started for, with the session cookie. A failure is an error
    /// page (HTML for browsers, JSON otherwise) showing the status and a stable code, never the
    /// cause (which is logged):
    /// - 400 for a login that was not started in this browser, expired, or whose code Cognito
    ///   refused (used, expired): start again (the page links to `/`);
    /// - 401 when Cognito or the tokens said no;
    /// - 503 when something was unavailable or the deadline came first: nothing was stored, the
    ///   login cookie is kept and the page offers the same callback again ("Try again"), which
    ///   completes the login if Cognito had not redeemed the code yet, and otherwise says to
    ///   start again;
    /// - 500 for a misconfiguration.
    ///
    /// The login cookie is removed only when the callback's `state` is that login's: a link to
    /// the callback with `error=` or a foreign `state` cannot abort a login in progress.
    ///
    /// ```no_run
    /// # async fn f(sessions: cognito_session::Sessions, request: lambda_http::Request) {
    /// let response = sessions.callback(&request).await;
    /// # }
    /// ```
    pub fn callback<B>(
        &self,
        request: &http::Request<B>,
    ) -> impl Future<Output = Response<String>> + Send + '_ {
        let html = wants_html(request);
        let query = request.uri().query().unwrap_or("").to_owned();
        let cookie = find(self.login_cookie_name(), request).map(str::to_owned);
        let budget = self.budget(request.deadline());
        let again = request
            .uri()
            .path_and_query()
            .map(|p| p.as_str().to_owned());
        let home = home_of(request);
        let client = self.inner.telemetry.client(request);
        let finish = self.finish_login(request);
        let route = async move {
            match finish.await {
                Ok(done) => redirect(&done.return_to, &done.set_cookies),
                Err(error) => {
                    let failure = if error.status() == 503 {
                        Failure {
                            clear_login: false,
                            again,
                            home,
                        }
                    } else {
                        Failure {
                            clear_login: self.owns_login(&query, cookie.as_deref(), budget).await,
                            again: None,
                            home,
                        }
                    };
                    self.login_failure(html, &error, failure)
                }
            }
        };
        self.inner.telemetry.invocation(client, Box::pin(route))
    }

    /// The logout route: ends the request's session ([`Sessions::end`]: the row, and
    /// `RevokeToken`), removes the session cookie and redirects to
    /// [`Sessions::logout_location`] (the managed login's `/logout`, which ends the managed-login
    /// session too). A request without a valid session is logged out all the same. When the
    /// table is unavailable, or the request's Lambda deadline comes first, the answer is 503
    /// and the cookie is kept: nothing was removed yet. A `POST` another site sent (its
    /// `Origin` or `Referer` is neither this site's nor in `ALLOWED_ORIGINS`) is refused with
    /// 403, so other sites cannot log your users out; mount it as `POST` (a `GET` logout can
    /// be triggered by any link or image).
    ///
    /// ```no_run
    /// # async fn f(sessions: cognito_session::Sessions, request: lambda_http::Request) {
    /// let response = sessions.logout(&request).await;
    /// # }
    /// ```
    pub fn logout<B>(
        &self,
        request: &http::Request<B>,
    ) -> impl Future<Output = Response<String>> + Send + '_ {
        let html = wants_html(request);
        let cross_site = if self.inner.csrf {
            csrf::check(request, self.allowed_origins()).err()
        } else {
            None
        };
        let method = request.method().clone();
        let home = home_of(request);
        // The cookies, and the Lambda deadline the request carries, owned by the future.
        let mut headers = http::Request::new(());
        *headers.headers_mut() = request.headers().clone();
        if let Some(context) = request.extensions().get::<lambda_http::Context>() {
            headers.extensions_mut().insert(context.clone());
        }
        let client = self.inner.telemetry.client(request);
        let route = async move {
            if let Some(why) = cross_site {
                csrf::log_refusal(&why, &method, self.allowed_origins());
                csrf::refused();
                return page(
                    html,
                    403,
                    "forbidden",
                    public_message(403),
                    &Failure::home(home),
                );
            }
            let name = self.inner.cookie.name.clone();
            match self.end(&name, &headers).await {
                Ok(()) | Err(Error::Unauthorized(_)) => {
                    tracing::info!("logged out");
                    // Without the managed login's logout: this site's start page, stage included.
                    let location = match self.logout_location() {
                        location if location == "/" => home,
                        location => location,
                    };
                    redirect(&location, &[self.clear_cookie(&name)])
                }
                Err(error) => {
                    self.login_failure(html, &LoginError::Session(error), Failure::home(home))
                }
            }
        };
        self.inner.telemetry.invocation(client, Box::pin(route))
    }

    /// The error answer of a login route, logged once with its cause; the page itself shows
    /// only the status, a stable code and a fixed sentence (no configuration detail, no text
    /// an attacker chose).
    fn login_failure(
        &self,
        wants_html: bool,
        error: &LoginError,
        failure: Failure,
    ) -> Response<String> {
        let status = error.status();
        let chain = crate::error::Chain(error);
        if let LoginError::Denied {
            description: Some(description),
            ..
        } = error
        {
            tracing::info!(
                description = ?description,
                "Cognito's error description"
            );
        }
        if status >= 500 {
            tracing::error!(code = error.code(), error = %chain, "login failed");
        } else {
            tracing::warn!(code = error.code(), error = %chain, "login refused");
        }
        let mut response = page(
            wants_html,
            status,
            error.code(),
            public_message(status),
            &failure,
        );
        if failure.clear_login {
            if let Ok(clear) = HeaderValue::from_str(&self.clear_login_cookie()) {
                response.headers_mut().append(SET_COOKIE, clear);
            }
        }
        response
    }
}

/// What a failed login route does besides answering.
struct Failure {
    /// Remove the login cookie (the login of this browser is over).
    clear_login: bool,
    /// The same request again, offered as "Try again" (a transient failure).
    again: Option<String>,
    /// The site's start page (`/`, or `/<stage>/` behind an API Gateway stage).
    home: String,
}

impl Failure {
    fn home(home: String) -> Failure {
        Failure {
            clear_login: false,
            again: None,
            home,
        }
    }
}

/// The site's start page as the browser addresses it: `/`, with the API Gateway stage in front
/// when the request path carries one.
fn home_of<B>(request: &http::Request<B>) -> String {
    let stage = crate::http::layer::stage_prefix(request.uri().path(), request.extensions());
    format!("{}/", stage.unwrap_or(""))
}

/// The sentence a login error page shows for `status`: what the user can do, nothing more.
fn public_message(status: u16) -> &'static str {
    match status {
        400 => {
            "This sign-in has expired, was already completed, or was started in another \
                browser. Please start again."
        }
        401 => "The sign-in was not accepted. Please start again.",
        403 => "This request came from another site and was refused.",
        503 => {
            "Sign-in is temporarily unavailable; nothing was saved. Please try again in a \
                moment."
        }
        _ => {
            "Sign-in is not available right now; the problem was logged for the site's \
              operator."
        }
    }
}

/// An error answer: HTML for a browser (with "Try again" when the failure offers the same
/// request again, else a link to the start page), JSON otherwise; never cached; 503 with
/// `Retry-After`.
fn page(
    wants_html: bool,
    status: u16,
    code: &str,
    message: &str,
    failure: &Failure,
) -> Response<String> {
    let (content_type, body) = if wants_html {
        let next = match &failure.again {
            Some(again) => format!("<a id=\"again\" href=\"{}\">Try again</a>", escape(again)),
            None => format!(
                "<a id=\"home\" href=\"{}\">Back to the start page</a>",
                escape(&failure.home)
            ),
        };
        (
            "text/html; charset=utf-8",
            format!(
                "<!doctype html><html><head><meta charset=\"utf-8\">\
                 <meta name=\"referrer\" content=\"no-referrer\"><title>Sign-in failed</title>\
                 </head><body><h1>Sign-in failed</h1><p id=\"error\" data-code=\"{code}\" \
                 data-status=\"{status}\">{}</p><p>{next}</p></body></html>",
                escape(message)
            ),
        )
    } else {
        (
            "application/json",
            serde_json::json!({ "error": code, "status": status }).to_string(),
        )
    };
    let mut response = Response::new(body);
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if status == 503 {
        headers.insert(http::header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}

/// Whether the request is a browser's page load (it accepts `text/html`).
fn wants_html<B>(request: &http::Request<B>) -> bool {
    request
        .headers()
        .get_all(http::header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("text/html"))
}

/// The decoded value of query parameter `name`, if present and a same-origin path candidate.
fn query_param<B>(request: &http::Request<B>, name: &str) -> Option<String> {
    form_urlencoded::parse(request.uri().query().unwrap_or("").as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .filter(|v| safe_return_to(v).is_some())
}

fn redirect(location: &str, cookies: &[String]) -> Response<String> {
    let mut response = Response::new(String::new());
    *response.status_mut() = StatusCode::FOUND;
    let headers = response.headers_mut();
    if let Ok(location) = HeaderValue::from_str(location) {
        headers.insert(LOCATION, location);
    }
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    for cookie in cookies {
        if let Ok(cookie) = HeaderValue::from_str(cookie) {
            headers.append(SET_COOKIE, cookie);
        }
    }
    response
}

/// HTML-escapes `text` for an element's content.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn escape_neutralizes_markup() {
        assert_eq!(
            super::escape("<script>alert('x')</script>&\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;"
        );
    }
}
