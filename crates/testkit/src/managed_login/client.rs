//! A cookie-keeping HTTP client that signs in through the managed-login fake's form, for
//! tests that need no real browser.

use std::collections::HashMap;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

use super::ManagedLogin;

/// An answer: status, headers, body.
#[derive(Debug)]
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// The headers.
    pub headers: hyper::HeaderMap,
    /// The body, as text.
    pub body: String,
}

impl Reply {
    /// The `Location` header, if any.
    pub fn location(&self) -> Option<String> {
        self.headers
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned())
    }

    /// The body as JSON (panics if it is not).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// The query parameters of the redirect target.
    pub fn redirect_params(&self) -> HashMap<String, String> {
        let location = self.location().expect("a redirect");
        let query = location.split_once('?').map(|(_, q)| q).unwrap_or("");
        form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect()
    }
}

/// A cookie-keeping HTTP client (one cookie jar for every host), for driving managed login
/// without a real browser.
pub struct HttpBrowser {
    http: Client<HttpConnector, Full<Bytes>>,
    /// The cookies kept, by name.
    pub jar: HashMap<String, String>,
}

impl Default for HttpBrowser {
    fn default() -> Self {
        HttpBrowser::new()
    }
}

impl HttpBrowser {
    /// A client with an empty cookie jar.
    pub fn new() -> HttpBrowser {
        HttpBrowser {
            http: Client::builder(TokioExecutor::new()).build_http(),
            jar: HashMap::new(),
        }
    }

    /// Sends a request with the jar's cookies and keeps the answer's.
    pub async fn send(
        &mut self,
        method: &str,
        url: &str,
        headers: &[(&str, String)],
        body: String,
    ) -> Reply {
        let mut request = hyper::Request::builder().method(method).uri(url);
        if !self.jar.is_empty() {
            let cookie: Vec<String> = self.jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
            request = request.header("cookie", cookie.join("; "));
        }
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let response = self
            .http
            .request(request.body(Full::new(Bytes::from(body))).unwrap())
            .await
            .expect("the fake answers");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        for cookie in headers.get_all("set-cookie") {
            let cookie = cookie.to_str().unwrap();
            let (pair, attributes) = cookie.split_once(';').unwrap_or((cookie, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if attributes.contains("Max-Age=0") {
                self.jar.remove(name);
            } else {
                self.jar.insert(name.to_owned(), value.to_owned());
            }
        }
        let body = response.into_body().collect().await.unwrap().to_bytes();
        Reply {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    }

    /// `GET url`.
    pub async fn get(&mut self, url: &str) -> Reply {
        self.send("GET", url, &[], String::new()).await
    }

    /// Follows the authorize redirect to the sign-in form and submits it.
    /// Follows `/oauth2/authorize` (a full URL, or its query) to the sign-in form and submits it.
    pub async fn sign_in(
        &mut self,
        login: &ManagedLogin,
        query: &str,
        username: &str,
        password: &str,
    ) -> Reply {
        let authorize = self
            .get(&if query.starts_with("http") {
                query.to_owned()
            } else {
                format!("{}/oauth2/authorize?{query}", login.base_url())
            })
            .await;
        assert_eq!(authorize.status, 302, "{}", authorize.body);
        let to_form = authorize.location().unwrap();
        assert!(to_form.starts_with("/login?"), "{to_form}");
        let form = self.get(&format!("{}{to_form}", login.base_url())).await;
        assert_eq!(form.status, 200, "{}", form.body);
        self.submit(login, &form, username, password).await
    }

    /// Submits the sign-in `form` with `username` and `password`.
    pub async fn submit(
        &mut self,
        login: &ManagedLogin,
        form: &Reply,
        username: &str,
        password: &str,
    ) -> Reply {
        let action = between(&form.body, "action=\"", "\"").replace("&amp;", "&");
        let csrf = between(&form.body, "name=\"_csrf\" value=\"", "\"");
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("_csrf", &csrf)
            .append_pair("username", username)
            .append_pair("password", password)
            .finish();
        let content_type = [(
            "content-type",
            "application/x-www-form-urlencoded".to_owned(),
        )];
        self.send(
            "POST",
            &format!("{}{action}", login.base_url()),
            &content_type,
            body,
        )
        .await
    }
}

fn between(text: &str, start: &str, end: &str) -> String {
    let from = text
        .find(start)
        .unwrap_or_else(|| panic!("no {start} in {text}"))
        + start.len();
    let to = text[from..].find(end).unwrap() + from;
    text[from..to].to_owned()
}
