//! Cookie extraction from every request shape a Lambda sees, and `Set-Cookie` building.
//!
//! This module knows nothing about JWTs: it finds the raw value of one named cookie. The
//! Lambda event shapes are read in `crate::lambda`.

use http::header::COOKIE;
use http::HeaderMap;

/// Longest `Cookie` string we look into; anything longer is ignored as hostile.
/// API Gateway and ALB cap whole headers well below this.
pub(crate) const MAX_COOKIE_STRING: usize = 16 * 1024;

/// The largest `Set-Cookie` value the library hands out, in bytes: name, value and attributes
/// together. RFC 6265 (section 6.1) only requires browsers to keep cookies up to this size, and
/// they drop larger ones without a word, which would leave the user with the old cookie.
pub(crate) const MAX_SET_COOKIE: usize = 4096;

/// Anything a session cookie can be read from.
///
/// Implemented for `http::HeaderMap`, `http::Request<B>` (so `lambda_http::Request` and axum
/// requests), the `aws_lambda_events` request types for API Gateway REST (v1) and HTTP API (v2),
/// ALB and Lambda function URLs, and a raw `serde_json::Value` event of any of those shapes.
///
/// ```
/// use cognito_session::CookieSource;
/// let event = serde_json::json!({
///     "version": "2.0",
///     "cookies": ["theme=dark", "token=abc"],
///     "headers": {}
/// });
/// assert_eq!(event.cookie("token"), Some("abc"));
/// ```
pub trait CookieSource {
    /// Every raw cookie string in the request: `Cookie` header values (`a=1; b=2`) and entries
    /// of a `cookies` array (`a=1`), in the order the request carries them.
    fn cookie_strings(&self) -> Vec<&str>;

    /// The value of the first cookie named exactly `name` (case-sensitive, as cookie names
    /// are), with surrounding double quotes removed; an empty value is no cookie. Cookie strings
    /// longer than 16 KiB are ignored as hostile (API Gateway and ALB cap whole headers well
    /// below that).
    ///
    /// ```
    /// use cognito_session::CookieSource;
    /// let mut headers = http::HeaderMap::new();
    /// headers.append("Cookie", "xtoken=nope; a=1".parse().unwrap());
    /// headers.append("COOKIE", "token=\"v\"".parse().unwrap());
    /// assert_eq!(headers.cookie("token"), Some("v"));
    /// assert_eq!(headers.cookie("oken"), None);
    /// ```
    fn cookie(&self, name: &str) -> Option<&str> {
        find(name, self)
    }

    /// When the Lambda invocation handling this request times out, if the request knows
    /// (a `lambda_http::Request` carries its Lambda context). A deadline of 0 means unknown.
    ///
    /// ```
    /// use cognito_session::CookieSource;
    /// use std::time::{Duration, UNIX_EPOCH};
    ///
    /// let mut context = lambda_http::Context::default(); // deadline 0: unknown
    /// let request = http::Request::builder().extension(context.clone()).body(()).unwrap();
    /// assert_eq!(request.deadline(), None);
    /// context.deadline = 2_000_000_000_000; // milliseconds since the epoch
    /// let request = http::Request::builder().extension(context).body(()).unwrap();
    /// assert_eq!(request.deadline(), Some(UNIX_EPOCH + Duration::from_secs(2_000_000_000)));
    /// ```
    fn deadline(&self) -> Option<std::time::SystemTime> {
        None
    }

    /// Who sent the request (address, user agent, request id), for the audit trail, as far as
    /// the request knows: from the Lambda event's request context and headers, never its body.
    ///
    /// ```
    /// use cognito_session::CookieSource;
    /// let mut headers = http::HeaderMap::new();
    /// headers.insert("user-agent", "curl/8".parse().unwrap());
    /// assert_eq!(headers.client().user_agent.as_deref(), Some("curl/8"));
    /// ```
    fn client(&self) -> crate::ClientInfo {
        crate::ClientInfo::default()
    }
}

/// The client as headers tell it: the user agent, and an ALB's last `X-Forwarded-For` hop.
pub(crate) fn client_of(headers: &HeaderMap) -> crate::ClientInfo {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    crate::ClientInfo {
        user_agent: header("user-agent").map(crate::ClientInfo::agent),
        source_ip: header("x-forwarded-for")
            .and_then(|chain| chain.rsplit(',').next())
            .map(|ip| crate::ClientInfo::agent(ip.trim())),
        request_id: None,
    }
}

/// The value of the first cookie named exactly `name` (case-sensitive, as cookie names are),
/// with surrounding double quotes removed. Cookie strings longer than [`MAX_COOKIE_STRING`]
/// are ignored.
pub(crate) fn find<'a, S: CookieSource + ?Sized>(name: &str, source: &'a S) -> Option<&'a str> {
    source
        .cookie_strings()
        .into_iter()
        .filter(|s| s.len() <= MAX_COOKIE_STRING)
        .find_map(|s| find_in(name, s))
}

/// Looks for `name` in one `Cookie` header value, reading it as the `cookie` crate's
/// `split_parse` does (`;`-separated `name=value` pairs, name and value trimmed of whitespace, a
/// pair without `=` or with an empty name skipped, the value raw: no percent-decoding), but
/// without building a cookie per pair: the header is scanned once, and the session cookie's
/// value (a kilobyte) is not read beyond finding where it ends. Returns a sub-slice of
/// `header`: nothing is copied on the request path.
fn find_in<'a>(name: &str, header: &'a str) -> Option<&'a str> {
    if name.is_empty() {
        return None;
    }
    let bytes = header.as_bytes();
    let mut start = 0;
    let mut found = None;
    while start <= bytes.len() {
        // `;` is ASCII: every split point is a character boundary.
        let end = memchr::memchr(b';', &bytes[start..]).map_or(bytes.len(), |i| start + i);
        if let Some((key, value)) = header[start..end].split_once('=') {
            if key.trim() == name {
                found = Some(value.trim());
                break;
            }
        }
        start = end + 1;
    }
    found
        .map(|v| {
            v.strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(v)
        })
        .filter(|v| !v.is_empty())
}

pub(crate) fn header_strs(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(COOKIE)
        .into_iter()
        .filter_map(|v| v.to_str().ok())
}

impl CookieSource for HeaderMap {
    fn cookie_strings(&self) -> Vec<&str> {
        header_strs(self).collect()
    }

    fn client(&self) -> crate::ClientInfo {
        client_of(self)
    }

    /// The default's lookup, without collecting the header values first.
    fn cookie(&self, name: &str) -> Option<&str> {
        header_strs(self)
            .filter(|s| s.len() <= MAX_COOKIE_STRING)
            .find_map(|s| find_in(name, s))
    }
}

impl<B> CookieSource for http::Request<B> {
    fn cookie_strings(&self) -> Vec<&str> {
        self.headers().cookie_strings()
    }

    fn cookie(&self, name: &str) -> Option<&str> {
        self.headers().cookie(name)
    }

    /// The deadline of the `lambda_http::Context` in the extensions; `None` without one, and
    /// for a deadline of 0 (unknown, as in `Context::default()`).
    fn deadline(&self) -> Option<std::time::SystemTime> {
        self.extensions()
            .get::<lambda_http::Context>()
            .and_then(|c| crate::budget::known(c.deadline()))
    }

    /// The address from `lambda_http`'s request context (API Gateway, function URLs) or the
    /// headers (ALB), the user agent, and the Lambda request id of its context.
    fn client(&self) -> crate::ClientInfo {
        use lambda_http::request::RequestContext;
        let mut client = client_of(self.headers());
        let from_context = match self.extensions().get::<RequestContext>() {
            Some(RequestContext::ApiGatewayV1(context)) => context.identity.source_ip.clone(),
            Some(RequestContext::ApiGatewayV2(context)) => context.http.source_ip.clone(),
            _ => None,
        };
        if let Some(ip) = from_context {
            client.source_ip = Some(crate::ClientInfo::agent(&ip));
        }
        client.request_id = self
            .extensions()
            .get::<lambda_http::Context>()
            .map(|c| c.request_id.clone())
            .filter(|id| !id.is_empty());
        client
    }
}

impl<T: CookieSource + ?Sized> CookieSource for &T {
    fn cookie_strings(&self) -> Vec<&str> {
        (**self).cookie_strings()
    }

    fn cookie(&self, name: &str) -> Option<&str> {
        (**self).cookie(name)
    }

    fn deadline(&self) -> Option<std::time::SystemTime> {
        (**self).deadline()
    }

    fn client(&self) -> crate::ClientInfo {
        (**self).client()
    }
}

/// The `SameSite` attribute of the session cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SameSite {
    /// Sent on top-level navigations from other sites, not on their sub-requests (the default).
    #[default]
    Lax,
    /// Never sent on requests started by another site.
    Strict,
    /// Always sent (requires `Secure`); only for cross-site embedding.
    None,
}

/// A cookie name prefix that makes browsers enforce attributes (RFC 6265bis, "cookie prefixes").
///
/// With a prefix, the name your code uses (`token`) is the cookie's name without it: the library
/// reads and writes `__Host-token`.
///
/// ```
/// use cognito_session::CookiePrefix;
/// assert_eq!(CookiePrefix::Host.apply("token"), "__Host-token");
/// assert_eq!(CookiePrefix::Host.apply("__Host-token"), "__Host-token");
/// assert_eq!(CookiePrefix::None.apply("token"), "token");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CookiePrefix {
    /// No prefix (the default).
    #[default]
    None,
    /// `__Host-`: the browser only accepts the cookie with `Secure`, `Path=/` and no `Domain`,
    /// so no sibling or parent domain can set or shadow it. The strongest choice.
    Host,
    /// `__Secure-`: the browser only accepts the cookie with `Secure`.
    Secure,
}

impl CookiePrefix {
    /// The prefix as written in the cookie name (`""`, `"__Host-"` or `"__Secure-"`).
    ///
    /// ```
    /// assert_eq!(cognito_session::CookiePrefix::Secure.as_str(), "__Secure-");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            CookiePrefix::None => "",
            CookiePrefix::Host => "__Host-",
            CookiePrefix::Secure => "__Secure-",
        }
    }

    /// The full cookie name for `name` (unchanged when it already carries the prefix).
    pub fn apply(self, name: &str) -> std::borrow::Cow<'_, str> {
        let prefix = self.as_str();
        if name.starts_with(prefix) {
            std::borrow::Cow::Borrowed(name)
        } else {
            std::borrow::Cow::Owned(format!("{prefix}{name}"))
        }
    }
}

/// How the session cookie is written: `HttpOnly; Secure; SameSite=Lax; Path=/` and a
/// `Max-Age` of the session lifetime by default.
///
/// ```
/// use cognito_session::CookieOptions;
/// let options = CookieOptions::default();
/// assert_eq!(
///     options.set("token", "eyJ..."),
///     "token=eyJ...; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=2592000"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieOptions {
    /// The cookie's name (without the prefix) wherever the caller names none:
    /// [`Sessions::current`](crate::Sessions::current), [`SessionLayer`](crate::SessionLayer)
    /// (`COOKIE_NAME`, default `token`).
    pub name: String,
    /// `Max-Age` in seconds: the session lifetime, not the access token's hour, since an
    /// expired token is what lets the library refresh the session.
    pub max_age_secs: u64,
    /// `SameSite` attribute.
    pub same_site: SameSite,
    /// `Path` attribute.
    pub path: String,
    /// Optional `Domain` attribute.
    pub domain: Option<String>,
    /// `Secure` attribute (default on; turn off only for plain-HTTP local development).
    pub secure: bool,
    /// Name prefix (default none). See [`CookieOptions::check`] for what `__Host-` requires.
    pub prefix: CookiePrefix,
}

impl Default for CookieOptions {
    fn default() -> Self {
        CookieOptions {
            name: "token".to_owned(),
            max_age_secs: 30 * 24 * 3600,
            same_site: SameSite::Lax,
            path: "/".to_owned(),
            domain: None,
            secure: true,
            prefix: CookiePrefix::None,
        }
    }
}

impl CookieOptions {
    /// The full name of cookie `name`: with the configured [`CookiePrefix`].
    ///
    /// ```
    /// use cognito_session::{CookieOptions, CookiePrefix};
    /// let options = CookieOptions { prefix: CookiePrefix::Host, ..Default::default() };
    /// assert_eq!(options.name("token"), "__Host-token");
    /// ```
    pub fn name<'a>(&self, name: &'a str) -> std::borrow::Cow<'a, str> {
        self.prefix.apply(name)
    }

    /// Whether these attributes are consistent: a `__Host-` prefix forbids `Domain` and requires
    /// `Secure` and `Path=/`; `__Secure-` requires `Secure`. Browsers drop cookies that break
    /// these rules, so a mistake here would log every user out silently.
    ///
    /// ```
    /// use cognito_session::{CookieOptions, CookiePrefix};
    /// let host = CookieOptions { prefix: CookiePrefix::Host, ..Default::default() };
    /// assert!(host.check().is_ok());
    /// let bad = CookieOptions { domain: Some("example.com".into()), ..host };
    /// assert!(bad.check().unwrap_err().contains("Domain"));
    /// let bad = CookieOptions { name: "my token".into(), ..Default::default() };
    /// assert!(bad.check().unwrap_err().contains("not a cookie name"));
    /// ```
    pub fn check(&self) -> Result<(), String> {
        // RFC 6265: a cookie name is a token (visible ASCII, no separators).
        let separator = |c: char| "()<>@,;:\\\"/[]?={} \t".contains(c);
        if self.name.is_empty()
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_graphic() && !separator(c))
        {
            return Err(format!(
                "{:?} is not a cookie name (letters, digits and !#$%&'*+-.^_`|~ only)",
                self.name
            ));
        }
        let prefix = self.prefix.as_str();
        match self.prefix {
            CookiePrefix::None => Ok(()),
            _ if !self.secure => Err(format!("a {prefix} cookie must be Secure")),
            CookiePrefix::Host if self.domain.is_some() => {
                Err(format!("a {prefix} cookie cannot have a Domain attribute"))
            }
            CookiePrefix::Host if self.path != "/" => {
                Err(format!("a {prefix} cookie must have Path=/"))
            }
            _ => Ok(()),
        }
    }

    fn build<'a>(&'a self, name: &'a str, value: &'a str) -> ::cookie::CookieBuilder<'a> {
        let same_site = match self.same_site {
            SameSite::Lax => ::cookie::SameSite::Lax,
            SameSite::Strict => ::cookie::SameSite::Strict,
            SameSite::None => ::cookie::SameSite::None,
        };
        let mut builder = ::cookie::Cookie::build((name, value))
            .http_only(true)
            .same_site(same_site)
            .secure(self.secure || self.same_site == SameSite::None)
            .path(self.path.as_str());
        if let Some(domain) = &self.domain {
            builder = builder.domain(domain.as_str());
        }
        builder
    }

    /// A `Set-Cookie` value that stores `value` in cookie `name`.
    ///
    /// ```
    /// use cognito_session::{CookieOptions, SameSite};
    /// let options = CookieOptions { same_site: SameSite::Strict, max_age_secs: 60, ..Default::default() };
    /// assert_eq!(options.set("s", "v"), "s=v; HttpOnly; SameSite=Strict; Secure; Path=/; Max-Age=60");
    /// ```
    pub fn set(&self, name: &str, value: &str) -> String {
        let max_age = i64::try_from(self.max_age_secs).unwrap_or(i64::MAX);
        let name = self.name(name);
        self.build(&name, value)
            .max_age(::cookie::time::Duration::seconds(max_age))
            .build()
            .to_string()
    }

    /// Like [`set`](Self::set), refusing a cookie over 4096 bytes, which browsers
    /// would drop silently: [`Error::Config`](crate::Error::Config) naming its size and the cure,
    /// logged at error level. The access token is what grows (groups and custom claims that a
    /// pre-token-generation trigger adds); the value never appears in the message.
    ///
    /// ```
    /// use cognito_session::CookieOptions;
    /// let options = CookieOptions::default();
    /// assert!(options.try_set("token", "eyJ...").is_ok());
    /// let error = options.try_set("token", &"x".repeat(4096)).unwrap_err();
    /// assert_eq!(error.status(), 500);
    /// assert!(error.to_string().contains("too large for a cookie"));
    /// ```
    pub fn try_set(&self, name: &str, value: &str) -> Result<String, crate::Error> {
        let cookie = self.set(name, value);
        if cookie.len() <= MAX_SET_COOKIE {
            return Ok(cookie);
        }
        let error = crate::Error::Config {
            message: format!(
                "the access token is too large for a cookie: its Set-Cookie ({}) would be {} \
                 bytes, over the {MAX_SET_COOKIE} that browsers keep; reduce the groups and custom \
                 claims in the pool's access tokens (pre token generation trigger, group \
                 membership)",
                self.name(name),
                cookie.len()
            ),
            source: None,
        };
        tracing::error!(error = %crate::error::Chain(&error), "refusing to hand out a cookie the browser would drop");
        Err(error)
    }

    /// A `Set-Cookie` value that deletes cookie `name` (same attributes, `Max-Age=0`).
    ///
    /// ```
    /// use cognito_session::CookieOptions;
    /// assert!(CookieOptions::default().clear("token").starts_with("token=; HttpOnly"));
    /// ```
    pub fn clear(&self, name: &str) -> String {
        let name = self.name(name);
        self.build(&name, "")
            .max_age(::cookie::time::Duration::ZERO)
            .expires(::cookie::time::OffsetDateTime::UNIX_EPOCH)
            .build()
            .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_name_match() {
        assert_eq!(find_in("token", "xtoken=1; token=2"), Some("2"));
        assert_eq!(find_in("token", "tokenx=1"), None);
        assert_eq!(find_in("token", " token = 3 "), Some("3"));
        assert_eq!(find_in("token", "token="), None);
        assert_eq!(find_in("token", "token=a=b"), Some("a=b"));
        assert_eq!(find_in("Token", "token=1"), None);
    }

    #[test]
    fn oversized_strings_are_ignored() {
        let mut headers = HeaderMap::new();
        let big = format!("pad={}; token=big", "x".repeat(MAX_COOKIE_STRING));
        headers.append(COOKIE, big.parse().unwrap());
        assert_eq!(find("token", &headers), None);
        assert_eq!(headers.cookie("token"), None, "the header map's own lookup");
        headers.append(COOKIE, "token=small".parse().unwrap());
        assert_eq!(find("token", &headers), Some("small"));
        assert_eq!(headers.cookie("token"), Some("small"));
    }

    proptest::proptest! {
        /// Our lookup agrees with the `cookie` crate's parser, and with the pairs we joined.
        #[test]
        fn lookup_agrees_with_the_cookie_crate(
            pairs in proptest::collection::vec(
                ("[A-Za-z0-9!#$%&'*+.^_`|~-]{1,8}", "[!#-+./0-9:<-\\[\\]-~-]{0,16}"),
                0..8,
            ),
            quoted in proptest::bool::ANY,
            pick in 0usize..10,
        ) {
            let render = |v: &str| if quoted { format!("\"{v}\"") } else { v.to_owned() };
            let header = pairs
                .iter()
                .map(|(n, v)| format!("{n}={}", render(v)))
                .collect::<Vec<_>>()
                .join("; ");
            let wanted = pairs.get(pick).map_or("absent-name", |(n, _)| n.as_str());
            let by_crate = ::cookie::Cookie::split_parse(header.as_str())
                .filter_map(Result::ok)
                .find(|c| c.name() == wanted)
                .map(|c| c.value_trimmed().to_owned())
                .filter(|v| !v.is_empty());
            let by_pairs = pairs
                .iter()
                .find(|(n, _)| n == wanted)
                .map(|(_, v)| v.clone())
                .filter(|v| !v.is_empty());
            let ours = find_in(wanted, &header).map(str::to_owned);
            proptest::prop_assert_eq!(&ours, &by_crate);
            proptest::prop_assert_eq!(&ours, &by_pairs);
        }

        /// Messy headers (stray whitespace, quotes, pairs without `=`, empty names, repeated
        /// names) read exactly as the `cookie` crate's parser reads them, which this lookup
        /// used before it scanned by itself.
        #[test]
        fn messy_headers_read_as_the_cookie_crate_reads_them(
            header in "[ a-c=;\"\t]{0,40}",
            name in "[a-c]{0,2}",
        ) {
            let by_crate = ::cookie::Cookie::split_parse(header.as_str())
                .filter_map(Result::ok)
                .find(|c| c.name() == name)
                .and_then(|c| c.value_raw())
                .map(|v| {
                    v.strip_prefix('"')
                        .and_then(|v| v.strip_suffix('"'))
                        .unwrap_or(v)
                })
                .filter(|v| !v.is_empty());
            proptest::prop_assert_eq!(find_in(&name, &header), by_crate);
        }

        /// Arbitrary input never panics, and a match is always a slice of the input.
        #[test]
        fn arbitrary_headers_are_safe(header in ".{0,200}", name in ".{0,12}") {
            if let Some(value) = find_in(&name, &header) {
                proptest::prop_assert!(header.contains(value));
            }
        }
    }

    #[test]
    fn samesite_none_forces_secure() {
        let options = CookieOptions {
            same_site: SameSite::None,
            secure: false,
            ..Default::default()
        };
        assert!(options.set("a", "b").contains("Secure"));
    }

    #[test]
    fn host_prefix_names_and_rules() {
        let host = CookieOptions {
            prefix: CookiePrefix::Host,
            ..Default::default()
        };
        assert!(host.set("token", "v").starts_with("__Host-token=v; "));
        assert!(host.clear("token").starts_with("__Host-token=; "));
        assert!(!host.set("token", "v").contains("Domain"));
        for bad in [
            CookieOptions {
                secure: false,
                ..host.clone()
            },
            CookieOptions {
                path: "/app".into(),
                ..host.clone()
            },
            CookieOptions {
                domain: Some("example.com".into()),
                ..host.clone()
            },
        ] {
            assert!(bad.check().is_err(), "{bad:?}");
        }
        let secure = CookieOptions {
            prefix: CookiePrefix::Secure,
            path: "/app".into(),
            domain: Some("example.com".into()),
            ..Default::default()
        };
        assert!(secure.check().is_ok());
        assert!(CookieOptions {
            secure: false,
            ..secure
        }
        .check()
        .is_err());
    }
}
