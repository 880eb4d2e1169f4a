//! The managed-login settings (`COGNITO_DOMAIN`, `REDIRECT_URI`, `LOGOUT_URI`, `OAUTH_SCOPES`),
//! checked once when [`Sessions`](crate::Sessions) is built.

use crate::error::Error;

/// Managed login as configured: the pool's domain and the app's URLs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ManagedConfig {
    /// `https://<prefix>.auth.<region>.amazoncognito.com` or a custom domain, without a
    /// trailing slash.
    pub domain: String,
    /// The callback URL registered on the app client.
    pub redirect_uri: String,
    /// Where Cognito's `/logout` sends the browser (a sign-out URL of the app client).
    pub logout_uri: Option<String>,
    /// Space-separated scopes; always with `openid`.
    pub scopes: String,
}

/// The scopes asked for when `OAUTH_SCOPES` is not set.
pub(crate) const DEFAULT_SCOPES: &str = "openid email";

impl ManagedConfig {
    /// The managed-login settings, or `None` when managed login is not configured. Each half
    /// without the other, a URL that is not `https://` (plain `http://` only to a loopback host,
    /// as Cognito itself allows only for `localhost`), or scopes without `openid` are
    /// configuration errors naming the variable.
    pub(crate) fn from_settings(
        domain: Option<&str>,
        redirect_uri: Option<&str>,
        logout_uri: Option<&str>,
        scopes: Option<&str>,
    ) -> Result<Option<ManagedConfig>, Error> {
        let (domain, redirect_uri) =
            match (domain, redirect_uri) {
                (None, None) => {
                    if logout_uri.is_some() {
                        return Err(Error::config(
                            "LOGOUT_URI is set but COGNITO_DOMAIN and REDIRECT_URI are not: set \
                         both for managed login, or remove LOGOUT_URI",
                        ));
                    }
                    return Ok(None);
                }
                (Some(_), None) => return Err(Error::config(
                    "COGNITO_DOMAIN is set but REDIRECT_URI is not: set it to the callback URL \
                     registered on the app client (e.g. https://app.example.com/callback)",
                )),
                (None, Some(_)) => {
                    return Err(Error::config(
                        "REDIRECT_URI is set but COGNITO_DOMAIN is not: set it to the user pool's \
                     domain (e.g. https://myapp.auth.us-east-1.amazoncognito.com)",
                    ))
                }
                (Some(domain), Some(redirect_uri)) => (domain, redirect_uri),
            };
        let domain = domain.trim_end_matches('/');
        check_url("COGNITO_DOMAIN", domain)?;
        if domain.matches('/').count() > 2 || domain.contains(['?', '#']) {
            return Err(Error::config(format!(
                "COGNITO_DOMAIN is {domain:?}: give the domain alone, without a path \
                 (e.g. https://myapp.auth.us-east-1.amazoncognito.com)"
            )));
        }
        check_url("REDIRECT_URI", redirect_uri)?;
        if let Some(uri) = logout_uri {
            check_url("LOGOUT_URI", uri)?;
        }
        let scopes: Vec<&str> = scopes
            .unwrap_or(DEFAULT_SCOPES)
            .split([' ', ','])
            .filter(|s| !s.is_empty())
            .collect();
        if !scopes.contains(&"openid") {
            return Err(Error::config(format!(
                "OAUTH_SCOPES is {:?}: it must contain `openid` (the ID token, its nonce and \
                 the user's profile come with it); the default is {DEFAULT_SCOPES:?}",
                scopes.join(" ")
            )));
        }
        Ok(Some(ManagedConfig {
            domain: domain.to_owned(),
            redirect_uri: redirect_uri.to_owned(),
            logout_uri: logout_uri.map(str::to_owned),
            scopes: scopes.join(" "),
        }))
    }
}

/// Whether `url` is `http://` to a loopback host (local development and emulators only).
pub(crate) fn is_loopback_http(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = match host.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host,
        _ => host,
    };
    matches!(host, "127.0.0.1" | "localhost" | "[::1]")
}

fn check_url(name: &str, url: &str) -> Result<(), Error> {
    let host = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .map(|rest| rest.split(['/', '?', '#']).next().unwrap_or(""));
    match host {
        Some(host)
            if !host.is_empty() && (url.starts_with("https://") || is_loopback_http(url)) =>
        {
            Ok(())
        }
        Some(host) if !host.is_empty() => Err(Error::config(format!(
            "{name} is {url:?}: use https:// (plain http:// only to 127.0.0.1 or localhost, \
             for local development)"
        ))),
        _ => Err(Error::config(format!(
            "{name} is {url:?}: give an absolute URL such as https://app.example.com/callback"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(
        domain: Option<&str>,
        redirect: Option<&str>,
        logout: Option<&str>,
        scopes: Option<&str>,
    ) -> Result<Option<ManagedConfig>, String> {
        ManagedConfig::from_settings(domain, redirect, logout, scopes).map_err(|e| e.to_string())
    }

    #[test]
    fn both_halves_or_neither() {
        assert_eq!(config(None, None, None, None), Ok(None));
        let only_domain = config(Some("https://d.example"), None, None, None).unwrap_err();
        assert!(only_domain.contains("REDIRECT_URI is not"), "{only_domain}");
        let only_redirect = config(None, Some("https://a.example/cb"), None, None).unwrap_err();
        assert!(
            only_redirect.contains("COGNITO_DOMAIN is not"),
            "{only_redirect}"
        );
        let logout_alone = config(None, None, Some("https://a.example/"), None).unwrap_err();
        assert!(logout_alone.contains("LOGOUT_URI"), "{logout_alone}");
    }

    #[test]
    fn urls_are_https_or_loopback_http() {
        let ok = config(
            Some("https://myapp.auth.us-east-1.amazoncognito.com/"),
            Some("http://localhost:3000/callback"),
            Some("http://127.0.0.1:3000/"),
            None,
        )
        .unwrap()
        .unwrap();
        assert_eq!(ok.domain, "https://myapp.auth.us-east-1.amazoncognito.com");
        assert_eq!(ok.scopes, "openid email");
        let plain = config(
            Some("http://auth.example.com"),
            Some("https://a.example/cb"),
            None,
            None,
        )
        .unwrap_err();
        assert!(
            plain.contains("COGNITO_DOMAIN") && plain.contains("https://"),
            "{plain}"
        );
        let relative =
            config(Some("https://d.example"), Some("/callback"), None, None).unwrap_err();
        assert!(
            relative.contains("REDIRECT_URI") && relative.contains("absolute"),
            "{relative}"
        );
        let path = config(
            Some("https://d.example/oauth2"),
            Some("https://a/cb"),
            None,
            None,
        )
        .unwrap_err();
        assert!(path.contains("without a path"), "{path}");
        assert!(!is_loopback_http("http://127.0.0.1.evil.example/"));
        assert!(!is_loopback_http("http://localhost@evil.example/"));
    }

    #[test]
    fn scopes_need_openid() {
        let scopes = config(
            Some("https://d.example"),
            Some("https://a.example/cb"),
            None,
            Some("email,profile"),
        )
        .unwrap_err();
        assert!(
            scopes.contains("OAUTH_SCOPES") && scopes.contains("openid"),
            "{scopes}"
        );
        let ok = config(
            Some("https://d.example"),
            Some("https://a.example/cb"),
            None,
            Some("openid,profile aws.cognito.signin.user.admin"),
        )
        .unwrap()
        .unwrap();
        assert_eq!(ok.scopes, "openid profile aws.cognito.signin.user.admin");
    }
}
