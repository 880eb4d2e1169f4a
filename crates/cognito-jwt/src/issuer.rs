//! The issuers a verifier accepts: Cognito issuer shapes, a pool's issuers (both issuer types,
//! replica Regions), and per issuer the key cache that is created on the first token naming it.

use std::sync::{Arc, OnceLock};

use crate::jwks::{Jwks, KeyContext};

/// An issuer tokens may carry, and where its keys are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AcceptedIssuer {
    pub issuer: String,
    pub jwks_url: String,
    /// A refused JWKS fetch is a configuration error (the issuer or URL was configured, or is
    /// the pool's own home issuer), not a token naming an issuer without keys.
    pub configured: bool,
}

/// The issuers tokens may carry, each with its own key cache, created on the first token that
/// names that issuer (so a pool's updated-issuer JWKS is never fetched unless a token names
/// it). The first issuer is the one a token naming none of them is checked (and refused)
/// against.
pub(crate) struct Issuers {
    pub(crate) entries: Box<[IssuerKeys]>,
    pub(crate) context: Arc<KeyContext>,
}

pub(crate) struct IssuerKeys {
    pub issuer: Arc<str>,
    pub url: String,
    /// A refused fetch is this configuration's fault (500), not the token's (401).
    pub configured: bool,
    pub jwks: OnceLock<Arc<Jwks>>,
}

impl Issuers {
    pub(crate) fn new(accepted: Vec<AcceptedIssuer>, context: Arc<KeyContext>) -> Self {
        Issuers {
            entries: accepted
                .into_iter()
                .map(|a| IssuerKeys {
                    issuer: a.issuer.into(),
                    url: a.jwks_url,
                    configured: a.configured,
                    jwks: OnceLock::new(),
                })
                .collect(),
            context,
        }
    }

    pub(crate) fn jwks(&self, entry: &IssuerKeys) -> Arc<Jwks> {
        entry
            .jwks
            .get_or_init(|| Arc::new(Jwks::new(entry.url.clone(), self.context.clone())))
            .clone()
    }

    /// The issuer to expect for a token whose (unverified) `iss` is `iss`, its key cache, and
    /// whether a refused fetch is a configuration error.
    pub(crate) fn select(&self, iss: &str) -> Option<(Arc<str>, Arc<Jwks>, bool)> {
        let entry = self
            .entries
            .iter()
            .find(|e| *e.issuer == *iss)
            .or_else(|| self.entries.first())?;
        Some((entry.issuer.clone(), self.jwks(entry), entry.configured))
    }
}

/// The two shapes of a Cognito issuer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IssuerType {
    /// `https://cognito-idp.<region>.amazonaws.com/<pool>`: `<region>` is the pool's home
    /// Region, or with multi-Region replication the replica's that issued the token.
    Original,
    /// `https://issuer-cognito-idp.<region>.amazonaws.com/<pool>`: `<region>` is always the
    /// pool's primary Region.
    Updated,
}

/// A Cognito issuer taken apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CognitoIssuer<'a> {
    pub kind: IssuerType,
    /// The Region in the host name.
    pub region: &'a str,
    /// The pool id, `<home region>_<id>`.
    pub pool: &'a str,
    /// The pool's home Region (the pool id's prefix).
    pub home: &'a str,
}

/// `iss` taken apart if it is exactly `https://cognito-idp.<region>.amazonaws.com/<pool>` or
/// `https://issuer-cognito-idp.<region>.amazonaws.com/<pool>` with a pool id `<region>_<id>`.
pub(crate) fn parse_cognito_issuer(iss: &str) -> Option<CognitoIssuer<'_>> {
    let (kind, rest) = if let Some(rest) = iss.strip_prefix("https://cognito-idp.") {
        (IssuerType::Original, rest)
    } else {
        (
            IssuerType::Updated,
            iss.strip_prefix("https://issuer-cognito-idp.")?,
        )
    };
    let (region, pool) = rest.split_once(".amazonaws.com/")?;
    let (home, id) = pool.split_once('_')?;
    let region_ok = |r: &str| {
        !r.is_empty()
            && r.len() <= 32
            && r.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    let id_ok = !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric());
    (region_ok(region) && region_ok(home) && id_ok).then_some(CognitoIssuer {
        kind,
        region,
        pool,
        home,
    })
}

/// The issuers of `pool` (home Region `home`): the original type of the home Region, the
/// updated type, and the original type of each replica Region (the updated type always names
/// the primary Region, so replicas add nothing to it).
pub(crate) fn pool_issuers(pool: &str, home: &str, replicas: &[String]) -> Vec<String> {
    let mut issuers = vec![
        format!("https://cognito-idp.{home}.amazonaws.com/{pool}"),
        format!("https://issuer-cognito-idp.{home}.amazonaws.com/{pool}"),
    ];
    issuers.extend(
        replicas
            .iter()
            .filter(|r| *r != home)
            .map(|r| format!("https://cognito-idp.{r}.amazonaws.com/{pool}")),
    );
    issuers
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_cognito_issuer(iss: &str) -> bool {
        parse_cognito_issuer(iss).is_some_and(|i| i.region == i.home)
    }

    #[test]
    fn cognito_issuer_shape() {
        assert!(is_cognito_issuer(
            "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbC"
        ));
        assert_eq!(
            parse_cognito_issuer(
                "https://issuer-cognito-idp.us-east-1.amazonaws.com/us-east-1_AbC"
            ),
            Some(CognitoIssuer {
                kind: IssuerType::Updated,
                region: "us-east-1",
                pool: "us-east-1_AbC",
                home: "us-east-1"
            })
        );
        assert_eq!(
            parse_cognito_issuer("https://cognito-idp.eu-west-1.amazonaws.com/us-east-1_AbC")
                .map(|i| (i.kind, i.region, i.home)),
            Some((IssuerType::Original, "eu-west-1", "us-east-1")),
            "a replica Region's original-type issuer"
        );
        for bad in [
            "http://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbC",
            "https://cognito-idp.us-east-1.amazonaws.com.evil.com/us-east-1_AbC",
            "https://cognito-idp.us-east-1.amazonaws.com/eu-west-1_AbC",
            "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbC/x",
            "https://issuer.cognito-idp.us-east-1.amazonaws.com/us-east-1_AbC",
            "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_",
            "https://cognito-idp.evil/x.amazonaws.com/evil_AbC",
            "https://issuer-cognito-idp.us-east-1.amazonaws.com/eu-west-1_AbC",
            "http://issuer-cognito-idp.us-east-1.amazonaws.com/us-east-1_AbC",
        ] {
            assert!(!is_cognito_issuer(bad), "{bad}");
        }
    }
}
