//! Cross-site request forgery defence: a state-changing request must come from an allowed origin.
//!
//! Browsers attach the session cookie to requests that other sites start (a form posted from
//! `evil.example`, say). `SameSite=Lax` stops most of them; this check stops the rest by
//! looking at the `Origin` header (or, when a browser omits it, the `Referer`) of every request
//! with an unsafe method (anything but `GET`, `HEAD`, `OPTIONS` and `TRACE`).

use http::header::{ORIGIN, REFERER};
use http::{HeaderMap, Method};

/// Why an unsafe request was refused (answered 403).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum CsrfRejected {
    /// Neither `Origin` nor `Referer` is present (or they are unreadable).
    #[error("the request has neither Origin nor Referer")]
    Missing,
    /// `Origin` (or the `Referer`'s origin) is not an allowed origin; `null` included.
    #[error("origin {0:?} is not allowed")]
    Origin(String),
}

/// Whether `method` can change state (everything but `GET`, `HEAD`, `OPTIONS`, `TRACE`).
pub(crate) fn is_unsafe(method: &Method) -> bool {
    !matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

/// Checks one request: safe methods pass; unsafe ones need an `Origin` in `allowed` (normalized
/// origins, as [`origin_of`] returns them), or without `Origin`, a `Referer` from one of them.
pub(crate) fn check(
    method: &Method,
    headers: &HeaderMap,
    allowed: &[String],
) -> Result<(), CsrfRejected> {
    if !is_unsafe(method) {
        return Ok(());
    }
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let origin = match (header(ORIGIN), header(REFERER)) {
        (Some(origin), _) => parse(origin, true).ok_or_else(|| origin.to_owned()),
        (None, Some(referer)) => parse(referer, false).ok_or_else(|| referer.to_owned()),
        (None, None) => return Err(CsrfRejected::Missing),
    };
    match origin {
        Ok(origin) if allowed.contains(&origin) => Ok(()),
        Ok(other) | Err(other) => Err(CsrfRejected::Origin(other)),
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

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, value.parse().unwrap());
        }
        map
    }

    const ALLOWED: [&str; 2] = ["https://app.example.com", "http://localhost:3000"];

    fn run(method: Method, pairs: &[(&'static str, &str)]) -> Result<(), CsrfRejected> {
        let allowed: Vec<String> = ALLOWED.iter().map(|s| s.to_string()).collect();
        check(&method, &headers(pairs), &allowed)
    }

    #[test]
    fn unsafe_methods_need_an_allowed_origin() {
        for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
            assert_eq!(run(method.clone(), &[]), Err(CsrfRejected::Missing));
            assert!(run(method.clone(), &[("origin", "https://app.example.com")]).is_ok());
            assert!(run(method.clone(), &[("origin", "http://localhost:3000")]).is_ok());
            for bad in [
                "https://evil.example",
                "null",
                "http://app.example.com",
                "https://app.example.com.evil.example",
                "https://app.example.com:8443",
            ] {
                assert_eq!(
                    run(method.clone(), &[("origin", bad)]),
                    Err(CsrfRejected::Origin(bad.into())),
                    "{bad}"
                );
            }
        }
    }

    #[test]
    fn referer_is_the_fallback() {
        assert!(run(
            Method::POST,
            &[("referer", "https://app.example.com/a/b?c=d")]
        )
        .is_ok());
        assert!(run(
            Method::POST,
            &[("referer", "https://evil.example/app.example.com")]
        )
        .is_err());
        // Origin wins over Referer.
        assert!(run(
            Method::POST,
            &[
                ("origin", "https://evil.example"),
                ("referer", "https://app.example.com/")
            ]
        )
        .is_err());
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
