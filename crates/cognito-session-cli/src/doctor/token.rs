//! `--token`: decodes a token (printing no secret), compares its issuer, app client,
//! `token_use` and expiry with the configuration, and checks its `kid` and RS256 signature
//! against the keys found.

use aws_lc_rs::signature::{RsaPublicKeyComponents, RSA_PKCS1_2048_8192_SHA256};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::Value;

use super::jwks::Keys;
use super::report::Report;
use super::setup::Setup;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn decode(part: &str) -> Option<Value> {
    let bytes = URL_SAFE_NO_PAD.decode(part).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The issuers the function accepts: `COGNITO_ISSUER`, else the pool's two issuer types and
/// the original-type issuer of each replica Region.
fn expected_issuers(setup: &Setup) -> Vec<String> {
    if let Some(issuer) = &setup.issuer {
        return vec![issuer.value.trim_end_matches('/').to_owned()];
    }
    let (Some(pool), Some(home)) = (setup.pool(), &setup.pool_region) else {
        return Vec::new();
    };
    let mut issuers = vec![
        format!("https://cognito-idp.{home}.amazonaws.com/{pool}"),
        format!("https://issuer-cognito-idp.{home}.amazonaws.com/{pool}"),
    ];
    issuers.extend(
        setup
            .replica_regions
            .iter()
            .filter(|r| *r != home)
            .map(|r| format!("https://cognito-idp.{r}.amazonaws.com/{pool}")),
    );
    issuers
}

/// `token.*`.
pub fn check(setup: &Setup, keys: Option<&Keys>, report: &mut Report) {
    let Some(token) = &setup.token else {
        return;
    };
    let parts: Vec<&str> = token.split('.').collect();
    let (header, claims) = match parts.as_slice() {
        [h, c, _] => match (decode(h), decode(c)) {
            (Some(header), Some(claims)) if claims.is_object() => (header, claims),
            _ => {
                report.fail(
                    "token.decode",
                    "the token's header or claims are not base64url JSON",
                    "pass the access token (or ID token) itself, three base64url parts",
                );
                return;
            }
        },
        _ => {
            report.fail(
                "token.decode",
                format!(
                    "the token has {} part(s), not the three of a signed JWT",
                    parts.len()
                ),
                "pass the access token (or ID token), not the refresh token (an encrypted JWE)",
            );
            return;
        }
    };
    let text = |v: &Value, name: &str| v.get(name).and_then(Value::as_str).map(str::to_owned);
    let token_use = text(&claims, "token_use");
    // An access token names its client in `client_id`, an ID token in `aud`.
    let client = match token_use.as_deref() {
        Some("id") => text(&claims, "aud"),
        _ => text(&claims, "client_id"),
    };
    let issuer = text(&claims, "iss");
    let exp = claims.get("exp").and_then(Value::as_i64);
    let kid = text(&header, "kid");
    report.info(
        "token.decode",
        format!(
            "header alg {}, kid {}; claims: token_use {}, sub {}, username {}, client {}, iss {}, \
             exp {}, origin_jti {}",
            text(&header, "alg").unwrap_or_else(|| "missing".into()),
            kid.as_deref().unwrap_or("missing"),
            token_use.as_deref().unwrap_or("missing"),
            text(&claims, "sub").unwrap_or_else(|| "missing".into()),
            text(&claims, "username")
                .or_else(|| text(&claims, "cognito:username"))
                .unwrap_or_else(|| "missing".into()),
            client.as_deref().unwrap_or("missing"),
            issuer.as_deref().unwrap_or("missing"),
            exp.map_or("missing".into(), |e| e.to_string()),
            if claims.get("origin_jti").is_some() {
                "present"
            } else {
                "absent"
            },
        ),
    );
    // Issuer.
    let expected = expected_issuers(setup);
    match (&issuer, expected.is_empty()) {
        (_, true) => report.warn(
            "token.issuer",
            format!(
                "the token's issuer is {}; none is configured to compare it with",
                issuer.as_deref().unwrap_or("missing")
            ),
            "set USER_POOL_ID (or COGNITO_ISSUER)",
        ),
        (Some(iss), false) if expected.contains(iss) => {
            report.ok("token.issuer", format!("issuer {iss}, as expected"));
        }
        (actual, false) => report.fail(
            "token.issuer",
            format!(
                "the token's issuer is {}, expected {}: another pool or Region",
                actual.as_deref().unwrap_or("missing"),
                expected.join(" or ")
            ),
            format!(
                "fix {} (or COGNITO_ISSUER, COGNITO_REPLICA_REGIONS), or use a token of this pool",
                setup.pool_name()
            ),
        ),
    }
    // App client.
    match (&setup.client_id, &client) {
        (Some(expected), Some(actual)) if expected.value == *actual => {
            report.ok(
                "token.client_id",
                format!("app client {actual}, as expected"),
            );
        }
        (Some(expected), actual) => report.fail(
            "token.client_id",
            format!(
                "the token is for app client {}, but {} is {}: the function refuses it",
                actual.as_deref().unwrap_or("(none)"),
                expected.name,
                expected.value
            ),
            format!(
                "fix {} (the app client the login uses), or use a token of this app client",
                expected.name
            ),
        ),
        (None, _) => {}
    }
    // Use.
    match token_use.as_deref() {
        Some("access") => report.ok("token.token_use", "token_use access"),
        Some("id") => report.info(
            "token.token_use",
            "token_use id: an ID token (the session cookie carries the access token)",
        ),
        other => report.fail(
            "token.token_use",
            format!(
                "token_use is {}, not access or id",
                other.unwrap_or("missing")
            ),
            "pass a Cognito access token",
        ),
    }
    // Expiry.
    match exp {
        Some(exp) if exp > now() => {
            report.ok("token.expiry", format!("expires in {} s", exp - now()))
        }
        Some(exp) => report.info(
            "token.expiry",
            format!(
                "expired {} s ago: the function refreshes it if its session row exists",
                now() - exp
            ),
        ),
        None => report.fail(
            "token.expiry",
            "the token has no exp claim",
            "pass a Cognito token",
        ),
    }
    if claims.get("origin_jti").is_none() {
        report.warn(
            "token.origin_jti",
            "the token carries no origin_jti: the session is not bound to its refresh-token \
             family",
            "enable token revocation on the app client (EnableTokenRevocation)",
        );
    }
    signature(token, &header, kid.as_deref(), keys, report);
}

fn signature(
    token: &str,
    header: &Value,
    kid: Option<&str>,
    keys: Option<&Keys>,
    report: &mut Report,
) {
    if header.get("alg").and_then(Value::as_str) != Some("RS256") {
        report.fail(
            "token.signature",
            "the token is not signed with RS256",
            "pass a token issued by Cognito",
        );
        return;
    }
    let Some(keys) = keys else {
        report.warn(
            "token.signature",
            "no JWKS was available to check the signature",
            "fix the jwks.* findings above",
        );
        return;
    };
    let Some(kid) = kid else {
        report.fail(
            "token.kid",
            "the token names no kid",
            "pass a token issued by Cognito",
        );
        return;
    };
    let key = match keys.get(kid) {
        None => {
            report.fail(
                "token.kid",
                format!(
                    "kid {kid} is not in the JWKS ({}): another pool, or a token not from Cognito",
                    keys.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
                "check USER_POOL_ID / COGNITO_JWKS_URL, or use a token of this pool",
            );
            return;
        }
        Some(Err(why)) => {
            report.fail(
                "token.kid",
                format!("kid {kid} is in the JWKS but not usable: {why}"),
                "check that the JWKS is the pool's",
            );
            return;
        }
        Some(Ok(key)) => {
            report.ok("token.kid", format!("kid {kid} is in the JWKS"));
            key
        }
    };
    let Some((signed, signature)) = token.rsplit_once('.') else {
        return;
    };
    let verified = URL_SAFE_NO_PAD.decode(signature).ok().is_some_and(|sig| {
        RsaPublicKeyComponents {
            n: &key.n,
            e: &key.e,
        }
        .verify(&RSA_PKCS1_2048_8192_SHA256, signed.as_bytes(), &sig)
        .is_ok()
    });
    if verified {
        report.ok("token.signature", "the RS256 signature verifies");
    } else {
        report.fail(
            "token.signature",
            "the RS256 signature does not verify with the JWKS key of this kid: the token was \
             altered, or is not from this pool",
            "use an unaltered token of this pool",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use serde_json::json;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        doctor: super::super::DoctorArgs,
    }

    const POOL: &str = "eu-west-1_AbC";
    const ISSUER: &str = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC";

    fn setup(token: &str) -> Setup {
        let cli = Cli::parse_from([
            "doctor",
            "--client-id",
            "client-1",
            "--user-pool-id",
            POOL,
            "--token",
            token,
        ]);
        Setup::read(cli.doctor, &mut Report::default()).unwrap()
    }

    fn keys(minter: &testkit::Minter) -> Keys {
        super::super::jwks::parse(json!({"keys": [minter.jwk("k1")]}).to_string().as_bytes())
            .unwrap()
    }

    fn claims() -> Value {
        let now = u64::try_from(now()).unwrap();
        testkit::access_claims(ISSUER, "client-1", "sub-1", "alice", "family", now)
    }

    /// The status of `code` after checking `token` against `keys`.
    fn status(token: &str, keys: &Keys, code: &str) -> Option<&'static str> {
        let mut report = Report::default();
        check(&setup(token), Some(keys), &mut report);
        report
            .checks
            .iter()
            .find(|c| c.code == code)
            .map(|c| c.status.json())
    }

    #[test]
    fn a_good_token_passes_every_check() {
        let minter = testkit::Minter::random();
        let header = json!({"kid": "k1", "alg": "RS256"});
        let token = minter.sign(&header, &claims());
        let mut report = Report::default();
        check(&setup(&token), Some(&keys(&minter)), &mut report);
        assert_eq!(report.exit_code(), 0, "{:?}", report.checks);
        assert!(report.checks.iter().all(|c| !c.message.contains(&token)));
    }

    #[test]
    fn each_mismatch_is_its_own_failure() {
        let minter = testkit::Minter::random();
        let keys = keys(&minter);
        let header = json!({"kid": "k1", "alg": "RS256"});
        let sign = |claims: &Value| minter.sign(&header, claims);
        let mut other = claims();
        other["iss"] = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Other".into();
        assert_eq!(status(&sign(&other), &keys, "token.issuer"), Some("fail"));
        let mut other = claims();
        other["client_id"] = "client-2".into();
        assert_eq!(
            status(&sign(&other), &keys, "token.client_id"),
            Some("fail")
        );
        let mut other = claims();
        other["token_use"] = "refresh".into();
        assert_eq!(
            status(&sign(&other), &keys, "token.token_use"),
            Some("fail")
        );
        let mut other = claims();
        other["exp"] = 1.into();
        assert_eq!(status(&sign(&other), &keys, "token.expiry"), Some("info"));
        // An ID token names its client in `aud`.
        let mut id = claims();
        id["token_use"] = "id".into();
        id["aud"] = "client-1".into();
        assert_eq!(status(&sign(&id), &keys, "token.client_id"), Some("ok"));
        // Another key, another kid, no signature at all.
        let stranger = testkit::Minter::random().sign(&header, &claims());
        assert_eq!(status(&stranger, &keys, "token.signature"), Some("fail"));
        let unknown = minter.sign(&json!({"kid": "k9", "alg": "RS256"}), &claims());
        assert_eq!(status(&unknown, &keys, "token.kid"), Some("fail"));
        assert_eq!(
            status(&testkit::unsigned(&claims()), &keys, "token.signature"),
            Some("fail")
        );
        assert_eq!(status("not-a-jwt", &keys, "token.decode"), Some("fail"));
    }

    #[test]
    fn replica_regions_and_the_updated_issuer_type_are_expected_issuers() {
        let minter = testkit::Minter::random();
        let header = json!({"kid": "k1", "alg": "RS256"});
        let issuer_status = |iss: &str, replicas: &[&str]| {
            let mut claims = claims();
            claims["iss"] = iss.into();
            let mut setup = setup(&minter.sign(&header, &claims));
            setup.replica_regions = replicas.iter().map(|r| (*r).to_owned()).collect();
            let mut report = Report::default();
            check(&setup, Some(&keys(&minter)), &mut report);
            report
                .checks
                .iter()
                .find(|c| c.code == "token.issuer")
                .map(|c| c.status.json())
        };
        let updated = "https://issuer-cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC";
        assert_eq!(issuer_status(updated, &[]), Some("ok"));
        let replica = "https://cognito-idp.us-west-2.amazonaws.com/eu-west-1_AbC";
        assert_eq!(issuer_status(replica, &[]), Some("fail"));
        assert_eq!(issuer_status(replica, &["us-west-2"]), Some("ok"));
    }
}
