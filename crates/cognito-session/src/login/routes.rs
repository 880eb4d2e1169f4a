//! Ready-made handlers for the three login routes, on `http` types (so they serve
//! `lambda_http`, axum and any tower stack alike): redirects, cookies, and a clear error page or
//! JSON body for every failure.

use std::future::Future;

use http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION, SET_COOKIE};
use http::{HeaderValue, Response, StatusCode};

use super::managed::safe_return_to;
use super::LoginError;
use crate::error::Error;
use crate::manager::Sessions;

impl Sessions {
    /// The login route (`GET /login?return_to=/path`): a `302` to the managed login's sign-in
    /// page with the login cookie, or an error page. Mount it wherever the app likes; the
    /// [`SessionLayer`](crate::SessionLayer)'s browser mode sends unauthenticated page loads
    /// there.
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
        async move {
            match self.begin_login(return_to.as_deref()).await {
                Ok(start) => redirect(&start.location, &[start.set_cookie]),
                Err(error) => self.login_failure(html, &error),
            }
        }
    }

    /// The callback route (the path of `REDIRECT_URI`): completes the login
    /// ([`Sessions::finish_login`]) and answers `302` to the page the login was started for,
    /// with the session cookie; or an error page (400 for a foreign, expired or replayed login,
    /// 401 when Cognito or the tokens said no, 503 when something was unavailable: start the
    /// login again) that also removes the login cookie.
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
        let finish = self.finish_login(request);
        async move {
            match finish.await {
                Ok(done) => redirect(&done.return_to, &done.set_cookies),
                Err(error) => self.login_failure(html, &error),
            }
        }
    }

    /// The logout route: ends the request's session ([`Sessions::end`]: the row, and
    /// `RevokeToken`), removes the session cookie and redirects to
    /// [`Sessions::logout_location`] (the managed login's `/logout`, which ends the managed-login
    /// session too). A request without a valid session is logged out all the same. When the
    /// table is unavailable the answer is 503 and the cookie is kept: nothing was removed yet.
    /// Prefer `POST` for it behind [`SessionLayer`](crate::SessionLayer)'s CSRF check, so other
    /// sites cannot log your users out.
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
        // The cookies, and the Lambda deadline the request carries, owned by the future.
        let mut headers = http::Request::new(());
        *headers.headers_mut() = request.headers().clone();
        if let Some(context) = request.extensions().get::<lambda_http::Context>() {
            headers.extensions_mut().insert(context.clone());
        }
        async move {
            let name = self.inner.cookie.name.clone();
            match self.end(&name, &headers).await {
                Ok(()) | Err(Error::Unauthorized(_)) => {
                    tracing::info!("logged out");
                    redirect(&self.logout_location(), &[self.clear_cookie(&name)])
                }
                Err(error) => self.login_failure(html, &LoginError::Session(error)),
            }
        }
    }

    /// The error answer of a login route, logged once.
    fn login_failure(&self, wants_html: bool, error: &LoginError) -> Response<String> {
        let status = error.status();
        let chain = crate::error::Chain(error);
        if let LoginError::Denied {
            description: Some(description),
            ..
        } = error
        {
            tracing::info!(
                description = description.as_str(),
                "Cognito's error description"
            );
        }
        if status >= 500 {
            tracing::error!(code = error.code(), error = %chain, "login failed");
        } else {
            tracing::warn!(code = error.code(), error = %chain, "login refused");
        }
        let message = error.to_string();
        let (content_type, body) = if wants_html {
            let message = escape(&message);
            (
                "text/html; charset=utf-8",
                format!(
                    "<!doctype html><html><head><meta charset=\"utf-8\"><title>Sign-in failed</title></head>\
                     <body><h1>Sign-in failed</h1><p id=\"error\" data-code=\"{}\">{message}</p>\
                     <p><a href=\"/\">Back to the start page</a></p></body></html>",
                    error.code()
                ),
            )
        } else {
            (
                "application/json",
                serde_json::json!({ "error": error.code(), "message": message }).to_string(),
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
        // A failed login is over: its cookie goes (a failed logout has none to lose).
        if let Ok(clear) = HeaderValue::from_str(&self.clear_login_cookie()) {
            headers.append(SET_COOKIE, clear);
        }
        response
    }
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
