//! Cross-site request forgery defence, on by default: a state-changing request that a browser
//! sent from another site is refused.
//!
//! Browsers attach the session cookie to requests that other sites start (a form posted from
//! `evil.example`, say). `SameSite=Lax` stops most of them; this check stops the rest, and the
//! login CSRF that `SameSite` cannot stop (a cross-site `POST /signin` with the attacker's own
//! credentials signs the victim into the attacker's account). A request with an unsafe method
//! (anything but `GET`, `HEAD`, `OPTIONS` and `TRACE`) must come from the request's own origin
//! or one of `ALLOWED_ORIGINS`, judged by its `Origin` header (or, when a browser omits it, its
//! `Referer`). A request with neither is not a browser's (a server, `curl`): it passes.
//!
//! The request's own origin is what the browser addressed: the host from `X-Forwarded-Host`,
//! `Host` or the Lambda event's domain (which `lambda_http` puts in the URI), the scheme from
//! `X-Forwarded-Proto` (API Gateway, ALB, function URLs and CloudFront set it) or the URI; with
//! no scheme known at all (a local server), `http` and `https` are both taken for that host.
//! Behind a proxy that rewrites `Host` (CloudFront in front of API Gateway forwards the API's
//! own host), the site's origin must be listed in `ALLOWED_ORIGINS`.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use http::header::{HOST, ORIGIN, REFERER};
use http::{Method, Request};

/// Why an unsafe request was refused (answered 403).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum CsrfRejected {
    /// `Origin` (or the `Referer`'s origin) is neither the request's own origin nor an allowed
    /// one; `null` and unreadable values included.
    #[error("origin {seen:?} is not this site's ({expected}) nor in ALLOWED_ORIGINS")]
    CrossSite {
        /// What the browser sent (attacker's text: log it escaped).
        seen: String,
        /// The request's own origin as computed.
        expected: String,
    },
}

/// Whether `method` can change state (everything but `GET`, `HEAD`, `OPTIONS`, `TRACE`).
pub(crate) fn is_unsafe(method: &Method) -> bool {
    !matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

/// Checks one request: safe methods pass; unsafe ones pass when they carry neither `Origin`
/// nor `Referer`, or when the origin they name is the request's own or in `allowed` (normalized
/// origins, as [`origin_of`] returns them).
pub(crate) fn check<B>(request: &Request<B>, allowed: &[String]) -> Result<(), CsrfRejected> {
    if !is_unsafe(request.method()) {
        return Ok(());
    }
    let headers = request.headers();
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let (seen, origin) = match (headers.get(ORIGIN), header(REFERER)) {
        (Some(origin), _) => {
            let text = origin.to_str().unwrap_or("(not text)");
            (text, parse(text, true))
        }
        (None, Some(referer)) => (referer, parse(referer, false)),
        (None, None) => return Ok(()),
    };
    let own = own_origins(request);
    if let Some(origin) = &origin {
        if allowed.contains(origin) || own.contains(origin) {
            return Ok(());
        }
    }
    Err(CsrfRejected::CrossSite {
        seen: seen.chars().take(200).collect(),
        expected: own.first().cloned().unwrap_or_else(|| "unknown".to_owned()),
    })
}

/// The origins the request was addressed to (one, or two when no scheme is known).
fn own_origins<B>(request: &Request<B>) -> Vec<String> {
    let headers = request.headers();
    let first = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let uri = request.uri();
    let host = first("x-forwarded-host")
        .or_else(|| first(HOST.as_str()))
        .or_else(|| uri.authority().map(|a| a.as_str()));
    let Some(host) = host else {
        return Vec::new();
    };
    let schemes: Vec<&str> = match first("x-forwarded-proto").or(uri.scheme_str()) {
        Some(scheme) => vec![scheme],
        None => vec!["https", "http"],
    };
    schemes
        .into_iter()
        .filter_map(|scheme| origin_of(&format!("{scheme}://{host}")))
        .collect()
}

/// Counts a refusal (metric `SessionRefused` with cause `csrf`) and writes its audit event.
pub(crate) fn refused() {
    crate::telemetry::count(crate::telemetry::Count::Refused("csrf"));
    crate::telemetry::audit(
        "csrf_refused",
        "refused a cross-site request (CSRF)",
        crate::telemetry::Audit::default(),
    );
}

/// Refusals logged at WARN at most once per this interval per process (the rest at INFO):
/// the origins are attacker's text, and a misconfigured proxy would otherwise flood the log.
const WARN_INTERVAL: Duration = Duration::from_secs(60);

/// Logs a refusal: one WARN a minute naming what was seen, what was expected and
/// `ALLOWED_ORIGINS` (the usual fix behind CloudFront), INFO otherwise.
pub(crate) fn log_refusal(why: &CsrfRejected, method: &Method, allowed: &[String]) {
    static LAST: Mutex<Option<Instant>> = Mutex::new(None);
    let CsrfRejected::CrossSite { seen, expected } = why;
    let due = {
        let mut last = LAST.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let due = last.is_none_or(|at| now.duration_since(at) >= WARN_INTERVAL);
        if due {
            *last = Some(now);
        }
        due
    };
    if due {
        tracing::warn!(
            origin = ?seen,
            expected = expected.as_str(),
            allowed_origins = ?allowed,
            %method,
            "refused a cross-site request (CSRF): its Origin/Referer is neither this site's nor \
             in ALLOWED_ORIGINS; if this is your own site behind a proxy that rewrites Host \
             (CloudFront in front of API Gateway), add its origin to ALLOWED_ORIGINS (at most \
             one line per minute)"
        );
    } else {
        tracing::info!(origin = ?seen, expected = expected.as_str(), %method, "refused a cross-site request (CSRF)");
    }
}

/// The normalized origin `scheme://host[:port]` of an origin string: lower case, without the
/// scheme's default port or a trailing `/`. `None` for anything that is not an http(s) origin
/// (a path, a query, user info, `null`).
pub(crate) fn origin_of(value: &str) -> Option<String> {
    parse(value, true)
}

/// `strict`: the value must be an origin (an `Origin` header, a configured origin); otherwise
/// it is a full URL (a `Referer`) whose origin is taken.
fn parse(value: &str, strict: bool) -> Option<String> {
    let uri: http::Uri = value.trim().parse().ok()?;
    let scheme = uri.scheme_str()?.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => 443,
        "http" => 80,
        _ => return None,
    };
    let authority = uri.authority()?;
    if authority.as_str().contains('@') {
        return None;
    }
    if strict {
        let path_ok = matches!(uri.path(), "" | "/");
        if !path_ok || uri.query().is_some() || value.contains('#') {
            return None;
        }
    }
    let host = authority.host().to_ascii_lowercase();
    if host.is_empty() {
        return None;
    }
    Some(match authority.port_u16() {
        Some(port) if port != default_port => format!("{scheme}://{host}:{port}"),
        _ => format!("{scheme}://{host}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALLOWED: [&str; 1] = ["https://app.example.com"];

    fn run(method: Method, pairs: &[(&'static str, &str)]) -> Result<(), CsrfRejected> {
        run_at("/signin", method, pairs)
    }

    fn run_at(
        uri: &str,
        method: Method,
        pairs: &[(&'static str, &str)],
    ) -> Result<(), CsrfRejected> {
        let mut request = Request::builder().method(method).uri(uri);
        for (name, value) in pairs {
            request = request.header(*name, *value);
        }
        let allowed: Vec<String> = ALLOWED.iter().map(|s| s.to_string()).collect();
        check(&request.body(()).unwrap(), &allowed)
    }

    fn refused(result: Result<(), CsrfRejected>) -> bool {
        matches!(result, Err(CsrfRejected::CrossSite { .. }))
    }

    #[test]
    fn unsafe_methods_need_the_own_or_an_allowed_origin() {
        for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
            // Neither header: not a browser.
            assert!(run(method.clone(), &[]).is_ok());
            assert!(run(method.clone(), &[("origin", "https://app.example.com")]).is_ok());
            let site = [("host", "site.example"), ("x-forwarded-proto", "https")];
            assert!(run(
                method.clone(),
                &[site[0], site[1], ("origin", "https://site.example")]
            )
            .is_ok());
            for bad in [
                "https://evil.example",
                "null",
                "http://site.example",
                "https://site.example.evil.example",
                "https://site.example:8443",
                "",
            ] {
                assert!(
                    refused(run(method.clone(), &[site[0], site[1], ("origin", bad)])),
                    "{bad}"
                );
            }
        }
    }

    #[test]
    fn the_own_origin_comes_from_forwarded_headers_or_the_uri() {
        let origin = ("origin", "https://www.example.com");
        assert!(run(
            Method::POST,
            &[
                ("x-forwarded-host", "www.example.com"),
                ("host", "abc.execute-api.us-east-1.amazonaws.com"),
                ("x-forwarded-proto", "https"),
                origin
            ]
        )
        .is_ok());
        assert!(refused(run(
            Method::POST,
            &[
                ("host", "abc.execute-api.us-east-1.amazonaws.com"),
                ("x-forwarded-proto", "https"),
                origin
            ]
        )));
        // lambda_http puts the event's domain and scheme in the URI.
        assert!(run_at("https://www.example.com/signin", Method::POST, &[origin]).is_ok());
        assert!(refused(run_at(
            "http://www.example.com/signin",
            Method::POST,
            &[origin]
        )));
        // A local server: no scheme known, the host decides; the default port is implied.
        assert!(run(
            Method::POST,
            &[
                ("host", "localhost:3000"),
                ("origin", "http://localhost:3000")
            ]
        )
        .is_ok());
        assert!(run(Method::POST, &[("host", "www.example.com:443"), origin]).is_ok());
        assert!(refused(run(
            Method::POST,
            &[
                ("host", "localhost:3000"),
                ("origin", "http://localhost:4000")
            ]
        )));
        // No host at all: only ALLOWED_ORIGINS.
        assert!(refused(run(Method::POST, &[origin])));
    }

    #[test]
    fn referer_is_the_fallback() {
        let host = ("host", "app.example.com");
        assert!(run(
            Method::POST,
            &[("referer", "https://app.example.com/a/b?c=d")]
        )
        .is_ok());
        assert!(run(
            Method::POST,
            &[host, ("referer", "http://app.example.com/")]
        )
        .is_ok());
        assert!(refused(run(
            Method::POST,
            &[host, ("referer", "https://evil.example/app.example.com")]
        )));
        // Origin wins over Referer.
        assert!(refused(run(
            Method::POST,
            &[
                host,
                ("origin", "https://evil.example"),
                ("referer", "https://app.example.com/")
            ]
        )));
    }

    #[test]
    fn safe_methods_pass() {
        for method in [Method::GET, Method::HEAD, Method::OPTIONS, Method::TRACE] {
            assert!(run(method, &[("origin", "https://evil.example")]).is_ok());
        }
    }

    #[test]
    fn origins_are_strict() {
        for bad in [
            "ftp://app.example.com",
            "https://user@app.example.com",
            "https://app.example.com/x",
            "https://app.example.com?x",
            "app.example.com",
            "",
        ] {
            assert_eq!(origin_of(bad), None, "{bad}");
        }
        assert_eq!(
            origin_of("http://LOCALHOST:80").as_deref(),
            Some("http://localhost")
        );
    }
}
