//! The signing keys: the JWKS the function would fetch is reachable and holds RS256 keys of at
//! least 2048 bits, and a `COGNITO_JWKS` preload has the same key ids.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_lc_rs::signature::{RsaPublicKeyComponents, RSA_PKCS1_2048_8192_SHA256};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use cognito_jwt::{FetchError, HttpsFetcher, JwksFetcher};
use serde_json::Value;

use super::report::Report;
use super::setup::Setup;

/// A usable RS256 public key.
#[derive(Debug, Clone)]
pub struct Key {
    pub n: Vec<u8>,
    pub e: Vec<u8>,
}

/// The keys by `kid`: usable, or why not.
pub type Keys = BTreeMap<String, Result<Key, String>>;

/// 127.0.0.0/8, `[::1]` or `localhost`.
fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Where the function fetches the keys, and what to name in a fix: `COGNITO_JWKS_URL`, an
/// emulator's (a loopback `AWS_ENDPOINT_URL`), the issuer's, or the pool's.
fn url(setup: &Setup) -> Option<(String, String)> {
    if let Some(url) = &setup.jwks_url {
        return Some((url.value.clone(), url.name.clone()));
    }
    let emulator = setup.cognito_endpoint.as_deref().filter(|endpoint| {
        endpoint
            .parse::<hyper::Uri>()
            .ok()
            .and_then(|u| u.host().map(is_loopback))
            .unwrap_or(false)
    });
    match (emulator, setup.pool(), &setup.issuer) {
        (Some(endpoint), Some(pool), _) => Some((
            format!(
                "{}/{pool}/.well-known/jwks.json",
                endpoint.trim_end_matches('/')
            ),
            format!("{} (or AWS_ENDPOINT_URL)", setup.pool_name()),
        )),
        (_, _, Some(issuer)) => Some((
            format!(
                "{}/.well-known/jwks.json",
                issuer.value.trim_end_matches('/')
            ),
            issuer.name.clone(),
        )),
        (None, Some(pool), None) => Some((
            format!(
                "https://cognito-idp.{}.amazonaws.com/{pool}/.well-known/jwks.json",
                setup.pool_region.as_deref().unwrap_or_default()
            ),
            setup.pool_name().to_owned(),
        )),
        _ => None,
    }
}

/// GET `url`: https (rustls on aws-lc-rs, the system roots), or plain http to this machine.
async fn fetch(url: &str) -> Result<Vec<u8>, FetchError> {
    let uri: hyper::Uri = url
        .parse()
        .map_err(|e| FetchError::Refused(format!("{url:?} is not a URL: {e}")))?;
    match (uri.scheme_str(), uri.host()) {
        (Some("https"), Some(_)) => {}
        (Some("http"), Some(host)) if is_loopback(host) => {}
        _ => {
            return Err(FetchError::Refused(format!(
                "{url:?} is neither https nor plain http to this machine (127.0.0.1, localhost)"
            )))
        }
    }
    // The verifier's own fetcher: what the function would get.
    tokio::time::timeout(Duration::from_secs(5), HttpsFetcher.fetch(url))
        .await
        .map_err(|_| FetchError::Transient("no answer within 5 s".into()))?
}

/// Parses a JWKS document: each key by `kid`, usable for RS256 or why not.
pub fn parse(body: &[u8]) -> Result<Keys, String> {
    let set: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let keys = set
        .get("keys")
        .and_then(Value::as_array)
        .ok_or("no \"keys\" array")?;
    let mut parsed = Keys::new();
    for jwk in keys {
        let Some(kid) = jwk.get("kid").and_then(Value::as_str) else {
            continue;
        };
        parsed.insert(kid.to_owned(), key(jwk));
    }
    Ok(parsed)
}

fn key(jwk: &Value) -> Result<Key, String> {
    let field = |name: &str| jwk.get(name).and_then(Value::as_str);
    if field("kty") != Some("RSA") {
        return Err(format!(
            "kty is {:?}, not RSA",
            field("kty").unwrap_or("missing")
        ));
    }
    if let Some(use_) = field("use").filter(|u| *u != "sig") {
        return Err(format!("use is {use_:?}, not sig"));
    }
    if let Some(alg) = field("alg").filter(|a| *a != "RS256") {
        return Err(format!("alg is {alg:?}, not RS256"));
    }
    let decode = |name: &str| {
        field(name)
            .and_then(|v| URL_SAFE_NO_PAD.decode(v).ok())
            .ok_or_else(|| format!("{name} is missing or not base64url"))
    };
    let (n, e) = (decode("n")?, decode("e")?);
    let bits = n.iter().skip_while(|b| **b == 0).count() * 8;
    if !(2048..=8192).contains(&bits) {
        return Err(format!("the RSA modulus has {bits} bits, not 2048 to 8192"));
    }
    RsaPublicKeyComponents { n: &n, e: &e }
        .to_parsed_public_key(&RSA_PKCS1_2048_8192_SHA256)
        .map_err(|_| "not a valid RSA public key".to_owned())?;
    Ok(Key { n, e })
}

/// `jwks.*`: the live keys (with the preload's, which the function also trusts), if any.
pub async fn check(setup: &Setup, report: &mut Report) -> Option<Keys> {
    let preload = preload(setup, report);
    let Some((url, name)) = url(setup) else {
        if setup.user_pool_id.is_none() {
            report.warn(
                "jwks.fetch",
                "no JWKS to check: neither USER_POOL_ID, COGNITO_ISSUER nor COGNITO_JWKS_URL is \
                 set",
                "set USER_POOL_ID (or --user-pool-id)",
            );
        }
        return preload;
    };
    let live = match fetch(&url).await {
        Err(FetchError::Refused(why)) => {
            report.fail(
                "jwks.fetch",
                format!("the JWKS {url} was refused ({why}): no such pool or issuer there"),
                format!("fix {name}"),
            );
            return preload;
        }
        Err(why) => {
            report.fail(
                "jwks.fetch",
                format!(
                    "the JWKS {url} cannot be fetched: {}",
                    crate::output::full_message(&why)
                ),
                format!(
                    "fix {name}; the function answers 503 to every token until the keys can be \
                     fetched"
                ),
            );
            return preload;
        }
        Ok(body) => match parse(&body) {
            Ok(keys) => {
                report.ok("jwks.fetch", format!("fetched {url}"));
                keys
            }
            Err(why) => {
                report.fail(
                    "jwks.fetch",
                    format!("{url} is not a JWKS: {why}"),
                    format!("fix {name}"),
                );
                return preload;
            }
        },
    };
    judge_keys("jwks.keys", "the JWKS", &live, report);
    if let Some(preload) = &preload {
        compare(preload, &live, report);
    }
    let mut keys = live;
    for (kid, key) in preload.unwrap_or_default() {
        keys.entry(kid).or_insert(key);
    }
    Some(keys)
}

fn judge_keys(code: &'static str, what: &str, keys: &Keys, report: &mut Report) {
    let bad: Vec<String> = keys
        .iter()
        .filter_map(|(kid, key)| key.as_ref().err().map(|why| format!("{kid}: {why}")))
        .collect();
    let good = keys.values().filter(|k| k.is_ok()).count();
    if good == 0 {
        report.fail(
            code,
            format!(
                "{what} holds no usable RS256 key{}",
                if bad.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", bad.join("; "))
                }
            ),
            "point COGNITO_JWKS_URL (or USER_POOL_ID) at the pool's JWKS",
        );
    } else if bad.is_empty() {
        report.ok(
            code,
            format!(
                "{what}: {good} RSA key(s) of at least 2048 bits for RS256 (kid {})",
                keys.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        );
    } else {
        report.warn(
            code,
            format!(
                "{what}: {good} usable key(s); tokens signed by the others are refused: {}",
                bad.join("; ")
            ),
            "check that the JWKS is the pool's",
        );
    }
}

/// `COGNITO_JWKS`: inline JSON, or a path to a file holding it.
fn preload(setup: &Setup, report: &mut Report) -> Option<Keys> {
    let jwks = setup.jwks.as_ref()?;
    let document = if jwks.value.trim_start().starts_with('{') {
        jwks.value.clone().into_bytes()
    } else {
        match std::fs::read(&jwks.value) {
            Ok(bytes) => bytes,
            Err(e) => {
                report.fail(
                    "jwks.preload",
                    format!(
                        "{} names the file {:?}, which cannot be read: {e}",
                        jwks.name, jwks.value
                    ),
                    format!(
                        "fix {}: inline JWKS JSON, or the path of a file holding it",
                        jwks.name
                    ),
                );
                return None;
            }
        }
    };
    match parse(&document) {
        Ok(keys) => {
            judge_keys("jwks.preload", &jwks.name, &keys, report);
            Some(keys)
        }
        Err(why) => {
            report.fail(
                "jwks.preload",
                format!("{} is not a JWKS: {why}", jwks.name),
                format!("set {} to the pool's JWKS document", jwks.name),
            );
            None
        }
    }
}

fn compare(preload: &Keys, live: &Keys, report: &mut Report) {
    let missing: Vec<&str> = live
        .keys()
        .filter(|kid| !preload.contains_key(*kid))
        .map(String::as_str)
        .collect();
    let retired: Vec<&str> = preload
        .keys()
        .filter(|kid| !live.contains_key(*kid))
        .map(String::as_str)
        .collect();
    if missing.is_empty() && retired.is_empty() {
        report.ok(
            "jwks.preload_matches",
            "COGNITO_JWKS has the same key ids as the live JWKS",
        );
        return;
    }
    let mut differences = Vec::new();
    if !missing.is_empty() {
        differences.push(format!(
            "the live JWKS has kid {} that COGNITO_JWKS lacks (fetched on first use)",
            missing.join(", ")
        ));
    }
    if !retired.is_empty() {
        differences.push(format!(
            "COGNITO_JWKS has kid {} that the pool no longer publishes (still trusted)",
            retired.join(", ")
        ));
    }
    report.warn(
        "jwks.preload_matches",
        differences.join("; "),
        "refresh COGNITO_JWKS from the pool's JWKS",
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_rs256_rsa_keys_of_2048_bits_or_more_are_usable() {
        let good = testkit::Minter::random().jwk("good");
        let short = json!({"kid": "short", "kty": "RSA", "n": URL_SAFE_NO_PAD.encode([0xffu8; 128]), "e": "AQAB"});
        let mut rs512 = good.clone();
        rs512["kid"] = "rs512".into();
        rs512["alg"] = "RS512".into();
        let mut enc = good.clone();
        enc["kid"] = "enc".into();
        enc["use"] = "enc".into();
        let ec = json!({"kid": "ec", "kty": "EC", "crv": "P-256"});
        let document = json!({"keys": [good, short, rs512, enc, ec, {"kty": "RSA"}]});
        let keys = parse(document.to_string().as_bytes()).unwrap();
        assert_eq!(keys.len(), 5, "a key without kid is skipped");
        assert!(keys["good"].is_ok());
        assert!(keys["short"].as_ref().unwrap_err().contains("1024 bits"));
        assert!(keys["rs512"].as_ref().unwrap_err().contains("RS512"));
        assert!(keys["enc"].as_ref().unwrap_err().contains("sig"));
        assert!(keys["ec"].as_ref().unwrap_err().contains("RSA"));
        assert!(parse(b"{}").is_err());
        assert!(parse(b"not json").is_err());

        let mut report = Report::default();
        judge_keys("jwks.keys", "the JWKS", &keys, &mut report);
        assert_eq!(
            report.exit_code(),
            1,
            "usable keys beside unusable ones: a warning"
        );
        let mut report = Report::default();
        let only_bad: Keys = keys.into_iter().filter(|(k, _)| k != "good").collect();
        judge_keys("jwks.keys", "the JWKS", &only_bad, &mut report);
        assert_eq!(report.exit_code(), 2, "no usable key: a failure");
    }

    #[test]
    fn a_preload_is_compared_by_key_id() {
        let minter = testkit::Minter::random();
        let set = |kids: &[&str]| {
            let keys: Vec<Value> = kids.iter().map(|k| minter.jwk(k)).collect();
            parse(json!({ "keys": keys }).to_string().as_bytes()).unwrap()
        };
        let mut report = Report::default();
        compare(&set(&["a", "b"]), &set(&["b", "a"]), &mut report);
        assert_eq!(report.exit_code(), 0);
        let mut report = Report::default();
        compare(&set(&["a", "old"]), &set(&["a", "new"]), &mut report);
        let message = &report.checks[0].message;
        assert!(
            message.contains("new") && message.contains("old"),
            "{message}"
        );
        assert_eq!(report.exit_code(), 1);
    }
}
