//! An in-process fake of the Cognito calls moto lacks (`GetTokensFromRefreshToken` with
//! refresh-token rotation, `RevokeToken`), speaking the real JSON 1.1 wire format behind a
//! [`Proxy`](crate::Proxy) that forwards everything else to moto.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::proxy::Fake;
use crate::Minter;

#[derive(Debug, Clone)]
struct Family {
    sub: String,
    username: String,
    origin_jti: String,
}

#[derive(Debug)]
enum State {
    Active,
    Rotated(Instant),
    Revoked,
}

/// Refresh tokens the fake knows, and what it was asked.
pub struct FakeCognito {
    issuer: String,
    client_id: String,
    grace: Duration,
    minter: Minter,
    tokens: Mutex<HashMap<String, (Family, State)>>,
    revoked: Mutex<Vec<String>>,
    counter: Mutex<u64>,
}

impl std::fmt::Debug for FakeCognito {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeCognito")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

fn error(kind: &str, message: &str) -> Option<(u16, String)> {
    Some((400, json!({"__type": kind, "message": message}).to_string()))
}

impl FakeCognito {
    /// A fake for the pool `issuer` and app client `client_id`; a rotated refresh token stays
    /// usable for `grace`. Tokens are signed with moto's key, so they verify against its JWKS.
    pub fn new(issuer: &str, client_id: &str, grace: Duration) -> FakeCognito {
        FakeCognito {
            issuer: issuer.to_owned(),
            client_id: client_id.to_owned(),
            grace,
            minter: Minter::moto(),
            tokens: Mutex::default(),
            revoked: Mutex::default(),
            counter: Mutex::new(0),
        }
    }

    /// Makes `refresh_token` (from a real login) known, for the user of `access_token`.
    pub fn register(&self, refresh_token: &str, access_token: &str) {
        let claims = crate::peek(access_token);
        let family = Family {
            sub: claims["sub"].as_str().unwrap_or_default().to_owned(),
            username: claims["username"].as_str().unwrap_or_default().to_owned(),
            origin_jti: claims["origin_jti"].as_str().unwrap_or_default().to_owned(),
        };
        self.tokens
            .lock()
            .unwrap()
            .insert(refresh_token.to_owned(), (family, State::Active));
    }

    /// The refresh tokens `RevokeToken` was called with.
    pub fn revoked(&self) -> Vec<String> {
        self.revoked.lock().unwrap().clone()
    }

    fn rotate(&self, body: &Value) -> Option<(u16, String)> {
        let old = body["RefreshToken"].as_str().unwrap_or_default();
        if body["ClientId"].as_str() != Some(self.client_id.as_str()) {
            return error(
                "ResourceNotFoundException",
                "User pool client does not exist.",
            );
        }
        let mut tokens = self.tokens.lock().unwrap();
        let Some((family, state)) = tokens.get(old).map(|(f, s)| (f.clone(), s)) else {
            return error("NotAuthorizedException", "Invalid Refresh Token");
        };
        match state {
            State::Active => {}
            State::Rotated(at) if at.elapsed() <= self.grace => {}
            State::Rotated(_) => {
                // Reuse after the grace period: a theft signal; the whole family is revoked.
                for (f, s) in tokens.values_mut() {
                    if f.origin_jti == family.origin_jti {
                        *s = State::Revoked;
                    }
                }
                return error("NotAuthorizedException", "Refresh Token has been revoked");
            }
            State::Revoked => {
                return error("NotAuthorizedException", "Refresh Token has been revoked")
            }
        }
        let n = {
            let mut counter = self.counter.lock().unwrap();
            *counter += 1;
            *counter
        };
        let new = format!("rotated-{n}-{}", family.sub);
        if let Some((_, state)) = tokens.get_mut(old) {
            *state = State::Rotated(Instant::now());
        }
        tokens.insert(new.clone(), (family.clone(), State::Active));
        let now = crate::now();
        let mut claims = crate::access_claims(
            &self.issuer,
            &self.client_id,
            &family.sub,
            &family.username,
            &family.origin_jti,
            now,
        );
        claims["jti"] = json!(format!("fake-{n}"));
        let access = self.minter.access(&claims);
        let mut id_claims = claims.clone();
        id_claims["token_use"] = json!("id");
        Some((
            200,
            json!({"AuthenticationResult": {
                "AccessToken": access,
                "IdToken": self.minter.access(&id_claims),
                "RefreshToken": new,
                "ExpiresIn": 3600,
                "TokenType": "Bearer",
            }})
            .to_string(),
        ))
    }
}

impl Fake for FakeCognito {
    fn answer(&self, operation: &str, body: &[u8]) -> Option<(u16, String)> {
        let body: Value = serde_json::from_slice(body).unwrap_or_default();
        match operation {
            "GetTokensFromRefreshToken" => self.rotate(&body),
            "RevokeToken" => {
                let token = body["Token"].as_str().unwrap_or_default().to_owned();
                if let Some((_, state)) = self.tokens.lock().unwrap().get_mut(&token) {
                    *state = State::Revoked;
                }
                self.revoked.lock().unwrap().push(token);
                Some((200, "{}".to_owned()))
            }
            _ => None,
        }
    }
}
