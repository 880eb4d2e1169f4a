//! moto's Cognito signing key, read from the installed moto package: tokens signed with it verify
//! against moto's JWKS (the managed-login server re-signs ID tokens with it; tests mint their own).

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeyPairComponents, PublicKeyComponents};
use aws_lc_rs::signature::RSA_PKCS1_SHA256;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};

use super::Error;

/// The `kid` of moto's Cognito signing key.
///
/// ```
/// assert_eq!(cognito_session_cli::local::MOTO_KID, "dummy");
/// ```
pub const MOTO_KID: &str = "dummy";

/// moto ships its key as n, e and d only; the CRT parameters a signer needs are recovered with
/// `cryptography` (one of moto's own dependencies).
const READ_KEY: &str = r#"
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

/// moto's RSA signing key (cheap to clone). `Debug` shows only its `kid`.
///
/// ```no_run
/// # fn demo() -> Result<(), cognito_session_cli::local::Error> {
/// use cognito_session_cli::local::MotoKey;
/// let key = MotoKey::load(std::path::Path::new(".venv/bin/python"))?;
/// let token = key.sign(&serde_json::json!({"sub": "ada", "token_use": "access"}));
/// assert_eq!(token.split('.').count(), 3);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct MotoKey(Arc<KeyPair>);

impl std::fmt::Debug for MotoKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MotoKey")
            .field("kid", &MOTO_KID)
            .finish_non_exhaustive()
    }
}

impl MotoKey {
    /// Reads the key from the moto package that `python` imports.
    ///
    /// ```no_run
    /// # fn demo() -> Result<(), cognito_session_cli::local::Error> {
    /// let key = cognito_session_cli::local::MotoKey::load(std::path::Path::new("/usr/bin/python3"))?;
    /// # let _ = key; Ok(()) }
    /// ```
    pub fn load(python: &Path) -> Result<MotoKey, Error> {
        let failed = |why: String| Error::Key {
            python: python.to_owned(),
            why,
        };
        let output = Command::new(python)
            .args(["-c", READ_KEY])
            .output()
            .map_err(|e| failed(e.to_string()))?;
        if !output.status.success() {
            return Err(failed(tail(&output.stderr)));
        }
        let jwk: Value = serde_json::from_slice(&output.stdout)
            .map_err(|e| failed(format!("its output is not a JWK: {e}")))?;
        let part = |name: &str| {
            jwk[name]
                .as_str()
                .and_then(|v| URL_SAFE_NO_PAD.decode(v).ok())
                .ok_or_else(|| failed(format!("the key lacks {name}")))
        };
        let (n, e, d) = (part("n")?, part("e")?, part("d")?);
        let (p, q, dp, dq, qi) = (
            part("p")?,
            part("q")?,
            part("dp")?,
            part("dq")?,
            part("qi")?,
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
        .map_err(|e| failed(format!("not a valid RSA key: {e}")))?;
        Ok(MotoKey(Arc::new(key)))
    }

    /// The RSA key pair itself (shared, not copied).
    ///
    /// ```no_run
    /// # fn demo(key: cognito_session_cli::local::MotoKey) {
    /// assert_eq!(key.key_pair().public_modulus_len(), 256);
    /// # }
    /// ```
    pub fn key_pair(&self) -> Arc<KeyPair> {
        self.0.clone()
    }

    /// A Cognito-shaped token with these claims: RS256 under moto's `kid`.
    ///
    /// ```no_run
    /// # fn demo(key: cognito_session_cli::local::MotoKey) {
    /// let token = key.sign(&serde_json::json!({"token_use": "id"}));
    /// # let _ = token;
    /// # }
    /// ```
    pub fn sign(&self, claims: &Value) -> String {
        let header = json!({"kid": MOTO_KID, "alg": "RS256"});
        sign_raw(&self.0, &header.to_string(), &claims.to_string())
    }
}

/// A compact RS256 JWT whose header and payload are exactly these texts, signed with `key`.
///
/// ```
/// use aws_lc_rs::rsa::{KeyPair, KeySize};
/// let key = KeyPair::generate(KeySize::Rsa2048).unwrap();
/// let token = cognito_session_cli::local::sign_raw(&key, r#"{"alg":"RS256"}"#, "{}");
/// assert!(token.starts_with("eyJhbGciOiJSUzI1NiJ9.e30."));
/// ```
pub fn sign_raw(key: &KeyPair, header: &str, payload: &str) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.as_bytes()),
        URL_SAFE_NO_PAD.encode(payload.as_bytes())
    );
    let mut signature = vec![0; key.public_modulus_len()];
    // Fails only for a signature buffer of the wrong size, which this one is not.
    let signed = key.sign(
        &RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        input.as_bytes(),
        &mut signature,
    );
    debug_assert!(signed.is_ok(), "RSA signing: {signed:?}");
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(&signature))
}

/// The last lines of a process's stderr, for an error message.
pub(super) fn tail(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let from = lines.len().saturating_sub(3);
    match lines[from..].join(" | ") {
        empty if empty.is_empty() => "no output".to_owned(),
        text => text,
    }
}
