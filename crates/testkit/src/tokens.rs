//! Token minting: RS256 JWTs signed with moto's own pool key (so they verify against moto's
//! JWKS) or with a fresh key (so they must not), with any header and claims a test needs.

use std::process::Command;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeyPairComponents, KeySize, PublicKeyComponents};
use aws_lc_rs::signature::RSA_PKCS1_SHA256;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};

/// The `kid` of moto's Cognito signing key.
pub const MOTO_KID: &str = "dummy";

/// Signs tokens with one RSA key.
#[derive(Debug)]
pub struct Minter {
    key: KeyPair,
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

impl Minter {
    /// moto's Cognito key (read from the installed moto package).
    pub fn moto() -> Minter {
        let python = crate::moto::python();
        // moto ships only n, e and d; the CRT parameters are recovered with `cryptography`.
        let script = r#"
import base64, gzip, json, os, moto
from cryptography.hazmat.primitives.asymmetric import rsa
path = os.path.join(os.path.dirname(moto.__file__), "cognitoidp/resources/jwks-private.json.gz")
jwk = json.loads(gzip.open(path).read())
num = lambda k: int.from_bytes(base64.urlsafe_b64decode(jwk[k] + "=="), "big")
enc = lambda i: base64.urlsafe_b64encode(i.to_bytes((i.bit_length() + 7) // 8, "big")).rstrip(b"=").decode()
n, e, d = num("n"), num("e"), num("d")
p, q = rsa.rsa_recover_prime_factors(n, e, d)
jwk.update(p=enc(p), q=enc(q), dp=enc(rsa.rsa_crt_dmp1(d, p)), dq=enc(rsa.rsa_crt_dmq1(d, q)), qi=enc(rsa.rsa_crt_iqmp(p, q)))
print(json.dumps(jwk))
"#;
        let output = Command::new(&python)
            .args(["-c", script])
            .output()
            .unwrap_or_else(|e| {
                panic!("cannot run {}: {e}; run scripts/setup.sh", python.display())
            });
        assert!(
            output.status.success(),
            "cannot read moto's private key: is moto installed? run scripts/setup.sh"
        );
        let jwk: Value = serde_json::from_slice(&output.stdout).expect("moto's key is JSON");
        let part = |name: &str| {
            URL_SAFE_NO_PAD
                .decode(
                    jwk[name]
                        .as_str()
                        .unwrap_or_else(|| panic!("moto key lacks {name}")),
                )
                .expect("base64url")
        };
        let (n, e, d, p, q, dp, dq, qi) = (
            part("n"),
            part("e"),
            part("d"),
            part("p"),
            part("q"),
            part("dp"),
            part("dq"),
            part("qi"),
        );
        let key = KeyPair::from_components(&KeyPairComponents {
            public_key: PublicKeyComponents {
                n: &n[..],
                e: &e[..],
            },
            d: &d[..],
            p: &p[..],
            q: &q[..],
            dP: &dp[..],
            dQ: &dq[..],
            qInv: &qi[..],
        })
        .expect("moto's key is a valid RSA key");
        Minter { key }
    }

    /// A fresh 2048-bit key that no JWKS knows.
    pub fn random() -> Minter {
        Minter {
            key: KeyPair::generate(KeySize::Rsa2048).expect("generate an RSA key"),
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
        let input = format!("{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()));
        let mut signature = vec![0; self.key.public_modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                input.as_bytes(),
                &mut signature,
            )
            .expect("RSA signing");
        format!("{input}.{}", b64(&signature))
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
