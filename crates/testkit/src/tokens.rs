//! Token minting: RS256 JWTs signed with moto's own pool key (so they verify against moto's
//! JWKS) or with a fresh key (so they must not), with any header and claims a test needs.

use std::sync::Arc;

use aws_lc_rs::rsa::{KeyPair, KeySize, PublicKeyComponents};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
pub use cognito_session_cli::local::MOTO_KID;
use cognito_session_cli::local::{sign_raw, MotoKey};
use serde_json::{json, Value};

/// Signs tokens with one RSA key.
#[derive(Debug)]
pub struct Minter {
    key: Arc<KeyPair>,
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

impl Minter {
    /// moto's Cognito key (read from the installed moto package).
    pub fn moto() -> Minter {
        let python = crate::moto::python();
        let key = MotoKey::load(&python)
            .unwrap_or_else(|e| panic!("{e}; run scripts/setup.sh"))
            .key_pair();
        Minter { key }
    }

    /// A fresh 2048-bit key that no JWKS knows.
    pub fn random() -> Minter {
        Minter {
            key: Arc::new(KeyPair::generate(KeySize::Rsa2048).expect("generate an RSA key")),
        }
    }

    /// The public key as a JWK with `kid`.
    pub fn jwk(&self, kid: &str) -> Value {
        use aws_lc_rs::signature::KeyPair as _;
        let public: PublicKeyComponents<Vec<u8>> = self.key.public_key().into();
        json!({"kty": "RSA", "alg": "RS256", "use": "sig", "kid": kid, "n": b64(&public.n), "e": b64(&public.e)})
    }

    /// The DER bytes of the public key (for algorithm-confusion attacks that HMAC with them).
    pub fn public_key_der(&self) -> Vec<u8> {
        use aws_lc_rs::signature::KeyPair as _;
        self.key.public_key().as_ref().to_vec()
    }

    /// A compact JWT with exactly this header and these claims.
    pub fn sign(&self, header: &Value, claims: &Value) -> String {
        self.sign_raw(&header.to_string(), &claims.to_string())
    }

    /// A compact JWT whose header and payload are exactly these texts (duplicate names,
    /// trailing garbage, anything).
    pub fn sign_raw(&self, header: &str, payload: &str) -> String {
        sign_raw(&self.key, header, payload)
    }

    /// A Cognito-shaped access token, signed under moto's `kid`.
    pub fn access(&self, claims: &Value) -> String {
        self.sign(&json!({"kid": MOTO_KID, "alg": "RS256"}), claims)
    }
}

/// Access-token claims as Cognito writes them, issued at `iat` and valid for an hour.
pub fn access_claims(
    issuer: &str,
    client_id: &str,
    sub: &str,
    username: &str,
    origin_jti: &str,
    iat: u64,
) -> Value {
    json!({
        "iss": issuer,
        "sub": sub,
        "client_id": client_id,
        "token_use": "access",
        "scope": "aws.cognito.signin.user.admin",
        "auth_time": iat,
        "iat": iat,
        "exp": iat + 3600,
        "jti": format!("jti-{iat}-{sub}"),
        "origin_jti": origin_jti,
        "username": username,
    })
}

/// The claims of a token, decoded without any check (tests only).
pub fn peek(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("three segments");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("JSON")
}

/// An unsigned (`alg: none`) token with these claims: the seed's takeover.
pub fn unsigned(claims: &Value) -> String {
    format!(
        "{}.{}.",
        b64(json!({"alg": "none", "kid": MOTO_KID})
            .to_string()
            .as_bytes()),
        b64(claims.to_string().as_bytes())
    )
}
