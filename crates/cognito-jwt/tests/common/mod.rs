//! Test support: a fresh RSA key that signs Cognito-shaped tokens, and an in-process JWKS
//! fetcher that counts its calls and answers what the test says.
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use cognito_jwt::{FetchError, FetchFuture, JwksFetcher};
use serde_json::{json, Value};

pub const POOL: &str = "us-east-1_TestPool1";
pub const ISSUER: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_TestPool1";
pub const CLIENT: &str = "client-1";
/// Shaped like a Cognito `kid` (base64 of a SHA-256).
pub const KID: &str = "1EuNIJOexeCjDaI0fx9xGjE48LXbMs5aAlKLkJFs/nI=";

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// An RSA key that signs tokens.
pub struct Key(KeyPair);

impl Key {
    pub fn new() -> Key {
        Key(KeyPair::generate(KeySize::Rsa2048).unwrap())
    }

    pub fn jwk(&self, kid: &str) -> Value {
        let public: PublicKeyComponents<Vec<u8>> = self.0.public_key().into();
        json!({"kty": "RSA", "alg": "RS256", "use": "sig", "kid": kid, "n": b64(&public.n), "e": b64(&public.e)})
    }

    pub fn jwks(&self, kid: &str) -> Vec<u8> {
        json!({ "keys": [self.jwk(kid)] }).to_string().into_bytes()
    }

    /// The DER public key and the signing input / signature of `token`, for a bare check.
    pub fn public_der(&self) -> Vec<u8> {
        self.0.public_key().as_ref().to_vec()
    }

    pub fn sign_raw(&self, header: &str, payload: &str) -> String {
        let input = format!("{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()));
        let mut signature = vec![0; self.0.public_modulus_len()];
        self.0
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                input.as_bytes(),
                &mut signature,
            )
            .unwrap();
        format!("{input}.{}", b64(&signature))
    }

    pub fn sign(&self, kid: &str, claims: &Value) -> String {
        self.sign_raw(
            &json!({"kid": kid, "alg": "RS256"}).to_string(),
            &claims.to_string(),
        )
    }
}

/// Access-token claims as Cognito writes them, valid for an hour from `iat`.
pub fn access(sub: &str, iat: u64) -> Value {
    json!({
        "sub": sub,
        "iss": ISSUER,
        "client_id": CLIENT,
        "origin_jti": format!("origin-{sub}"),
        "event_id": "6f1c5a3e-1d2b-4c8a-9e7f-0a1b2c3d4e5f",
        "token_use": "access",
        "scope": "aws.cognito.signin.user.admin api/read",
        "auth_time": iat,
        "exp": iat + 3600,
        "iat": iat,
        "jti": format!("jti-{sub}-{iat}"),
        "username": format!("user-{sub}"),
        "cognito:groups": ["users"],
    })
}

/// ID-token claims as Cognito writes them.
pub fn id(sub: &str, iat: u64) -> Value {
    json!({
        "sub": sub,
        "iss": ISSUER,
        "aud": CLIENT,
        "token_use": "id",
        "auth_time": iat,
        "exp": iat + 3600,
        "iat": iat,
        "jti": format!("jti-{sub}-{iat}"),
        "origin_jti": format!("origin-{sub}"),
        "cognito:username": format!("user-{sub}"),
        "email": format!("{sub}@example.com"),
        "email_verified": true,
        "custom:tier": "gold",
        "cognito:groups": ["users", "admin"],
    })
}

/// What the fake answers: a body, a transient failure (its message), or (`None`) a refusal.
type Answer = Option<Result<Vec<u8>, String>>;

/// A fetcher serving one answer for every URL, counting calls, optionally slow.
#[derive(Clone, Default)]
pub struct Fake {
    pub calls: Arc<AtomicUsize>,
    pub urls: Arc<Mutex<Vec<String>>>,
    answer: Arc<Mutex<Answer>>,
    delay: Arc<Mutex<Duration>>,
}

impl Fake {
    pub fn serving(body: Vec<u8>) -> Fake {
        let fake = Fake::default();
        fake.serve(body);
        fake
    }

    pub fn serve(&self, body: Vec<u8>) {
        *self.answer.lock().unwrap() = Some(Ok(body));
    }

    /// Answers transient failures (the message).
    pub fn fail(&self, message: &str) {
        *self.answer.lock().unwrap() = Some(Err(message.to_owned()));
    }

    /// Answers a refusal (4xx).
    pub fn refuse(&self) {
        *self.answer.lock().unwrap() = None;
    }

    pub fn delay(&self, delay: Duration) {
        *self.delay.lock().unwrap() = delay;
    }

    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl JwksFetcher for Fake {
    fn fetch<'a>(&'a self, url: &'a str) -> FetchFuture<'a> {
        Box::pin(async move {
            self.calls.fetch_add(1, Ordering::SeqCst);
            self.urls.lock().unwrap().push(url.to_owned());
            let delay = *self.delay.lock().unwrap();
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            match self.answer.lock().unwrap().clone() {
                Some(Ok(body)) => Ok(body),
                Some(Err(message)) => Err(FetchError::Transient(message.into())),
                None => Err(FetchError::Refused("404".into())),
            }
        })
    }
}
