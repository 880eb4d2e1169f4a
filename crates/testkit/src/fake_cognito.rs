//! An in-process fake of the Cognito calls moto lacks or answers unlike Cognito: refreshes
//! (`InitiateAuth` with `REFRESH_TOKEN_AUTH`, and `GetTokensFromRefreshToken` with refresh-token
//! rotation and its grace period), `RevokeToken`, and device tracking (`ConfirmDevice`, and
//! refreshes bound to a device: [`track_devices`](FakeCognito::track_devices)), speaking the real JSON 1.1 wire format
//! behind a [`Proxy`](crate::Proxy) that forwards everything else (logins, admin calls,
//! DynamoDB) to moto.
//!
//! It answers with real Cognito's error codes and messages, so each refusal class can be staged:
//!
//! | staged with | Cognito's answer |
//! |---|---|
//! | a token never [`register`](FakeCognito::register)ed | `NotAuthorizedException`: `Invalid Refresh Token` |
//! | [`revoke`](FakeCognito::revoke), or `RevokeToken` | `NotAuthorizedException`: `Refresh Token has been revoked` |
//! | [`expire`](FakeCognito::expire) | `NotAuthorizedException`: `Refresh Token has expired` |
//! | [`disable_user`](FakeCognito::disable_user) | `NotAuthorizedException`: `User is disabled.` |
//! | [`delete_user`](FakeCognito::delete_user) | `NotAuthorizedException`: `The user has been deleted for the associated refresh token` |
//! | [`bind_to_device`](FakeCognito::bind_to_device) or [`register_with_device`](FakeCognito::register_with_device), refreshed without that (confirmed) `DEVICE_KEY` | `NotAuthorizedException`: `Invalid Refresh Token.` (with the period: a device-binding failure) |
//! | [`with_secret`](FakeCognito::with_secret), no `SECRET_HASH` / `ClientSecret` sent | `NotAuthorizedException`: `Client <id> is configured for secret but secret was not received` |
//! | [`with_secret`](FakeCognito::with_secret), a wrong one sent | `NotAuthorizedException`: `Unable to verify secret hash for client <id>` |
//! | [`without_refresh_token_auth`](FakeCognito::without_refresh_token_auth), `InitiateAuth` | `InvalidParameterException`: `Refresh Token flow not enabled for this client` |
//! | another `ClientId` | `ResourceNotFoundException`: `User pool client <id> does not exist.` |
//! | a rotated-out token used after the grace period (`GetTokensFromRefreshToken`) | `RefreshTokenReuseException` (and the whole family is revoked) |

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_lc_rs::hmac;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};

use crate::proxy::Fake;
use crate::Minter;

#[derive(Debug, Clone)]
struct Family {
    sub: String,
    username: String,
    origin_jti: String,
    device_key: Option<String>,
}

/// A pool's "remember devices" setting ("Always" or "User Opt-In" in the console): either way
/// each login gets a device key that must be confirmed before its refresh token works.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RememberDevices {
    /// Every confirmed device is remembered (`ConfirmDevice` answers
    /// `UserConfirmationNecessary: false`).
    Always,
    /// A confirmed device is tracked, and remembered only if the user opts in
    /// (`UserConfirmationNecessary: true`).
    UserOptIn,
}

#[derive(Debug)]
struct Device {
    sub: String,
    group: String,
    confirmed: bool,
}

/// What real Cognito answers a refresh whose device key is missing, unknown or unconfirmed in a
/// pool that tracks devices: the same as for an invalid refresh token.
#[derive(Debug)]
enum State {
    Active,
    Rotated(Instant),
    Revoked,
    Expired,
}

/// Refresh tokens the fake knows, and what it was asked.
pub struct FakeCognito {
    issuer: String,
    client_id: String,
    grace: Duration,
    secret: Option<String>,
    refresh_token_auth: bool,
    minter: Minter,
    tokens: Mutex<HashMap<String, (Family, State)>>,
    disabled: Mutex<HashSet<String>>,
    deleted: Mutex<HashSet<String>>,
    revoked: Mutex<Vec<String>>,
    counter: Mutex<u64>,
    remember: Mutex<Option<RememberDevices>>,
    devices: Mutex<HashMap<String, Device>>,
    device_keys_sent: Mutex<Vec<Option<String>>>,
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

/// The two refresh operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    InitiateAuth,
    Rotation,
}

impl FakeCognito {
    /// A fake for the pool `issuer` and app client `client_id` (without a secret, allowing
    /// `REFRESH_TOKEN_AUTH`); a rotated refresh token stays usable for `grace`. Tokens are
    /// signed with moto's key, so they verify against its JWKS.
    pub fn new(issuer: &str, client_id: &str, grace: Duration) -> FakeCognito {
        FakeCognito {
            issuer: issuer.to_owned(),
            client_id: client_id.to_owned(),
            grace,
            secret: None,
            refresh_token_auth: true,
            minter: Minter::moto(),
            tokens: Mutex::default(),
            disabled: Mutex::default(),
            deleted: Mutex::default(),
            revoked: Mutex::default(),
            counter: Mutex::new(0),
            remember: Mutex::default(),
            devices: Mutex::default(),
            device_keys_sent: Mutex::default(),
        }
    }

    /// The app client has this client secret: refreshes must prove it (`SECRET_HASH` for
    /// `InitiateAuth`, `ClientSecret` for `GetTokensFromRefreshToken`).
    pub fn with_secret(mut self, secret: &str) -> FakeCognito {
        self.secret = Some(secret.to_owned());
        self
    }

    /// The app client lacks `ALLOW_REFRESH_TOKEN_AUTH`.
    pub fn without_refresh_token_auth(mut self) -> FakeCognito {
        self.refresh_token_auth = false;
        self
    }

    /// Makes `refresh_token` (from a real login) known, for the user of `access_token`.
    pub fn register(&self, refresh_token: &str, access_token: &str) {
        let claims = crate::peek(access_token);
        let family = Family {
            sub: claims["sub"].as_str().unwrap_or_default().to_owned(),
            username: claims["username"].as_str().unwrap_or_default().to_owned(),
            origin_jti: claims["origin_jti"].as_str().unwrap_or_default().to_owned(),
            device_key: None,
        };
        self.tokens
            .lock()
            .unwrap()
            .insert(refresh_token.to_owned(), (family, State::Active));
    }

    fn set_state(&self, refresh_token: &str, state: State) {
        if let Some((_, current)) = self.tokens.lock().unwrap().get_mut(refresh_token) {
            *current = state;
        }
    }

    /// Revokes `refresh_token` (as `RevokeToken` or a global sign-out would).
    pub fn revoke(&self, refresh_token: &str) {
        self.set_state(refresh_token, State::Revoked);
    }

    /// Lets `refresh_token` expire (past the app client's refresh token validity).
    pub fn expire(&self, refresh_token: &str) {
        self.set_state(refresh_token, State::Expired);
    }

    /// Disables the user `sub` (`AdminDisableUser`).
    pub fn disable_user(&self, sub: &str) {
        self.disabled.lock().unwrap().insert(sub.to_owned());
    }

    /// Deletes the user `sub` (`AdminDeleteUser`).
    pub fn delete_user(&self, sub: &str) {
        self.deleted.lock().unwrap().insert(sub.to_owned());
    }

    /// Binds `refresh_token` to the remembered device `device_key`: refreshes must send it.
    pub fn bind_to_device(&self, refresh_token: &str, device_key: &str) {
        if let Some((family, _)) = self.tokens.lock().unwrap().get_mut(refresh_token) {
            family.device_key = Some(device_key.to_owned());
        }
    }

    /// Turns on device tracking: `InitiateAuth` `REFRESH_TOKEN_AUTH` is answered here for the
    /// refresh tokens registered with [`register_with_device`](Self::register_with_device), and
    /// refused as real Cognito does unless `DEVICE_KEY` names their confirmed device; so is
    /// `GetTokensFromRefreshToken` without `DeviceKey`; `ConfirmDevice` is answered here.
    pub fn track_devices(&self, remember: RememberDevices) {
        *self.remember.lock().unwrap() = Some(remember);
    }

    /// Like [`register`](Self::register), for a login in a pool that tracks devices: the refresh
    /// token is bound to a new, unconfirmed device, whose `(DeviceKey, DeviceGroupKey)` (the
    /// login result's `NewDeviceMetadata`) this returns.
    pub fn register_with_device(
        &self,
        refresh_token: &str,
        access_token: &str,
    ) -> (String, String) {
        self.register(refresh_token, access_token);
        let n = self.next();
        let key = format!("us-east-1_{n:08x}-0d1c-4b2a-9e8f-{n:012x}");
        let group = format!("-fakegroup{n}");
        let mut tokens = self.tokens.lock().unwrap();
        let sub = match tokens.get_mut(refresh_token) {
            Some((family, _)) => {
                family.device_key = Some(key.clone());
                family.sub.clone()
            }
            None => String::new(),
        };
        self.devices.lock().unwrap().insert(
            key.clone(),
            Device {
                sub,
                group: group.clone(),
                confirmed: false,
            },
        );
        (key, group)
    }

    /// Whether `ConfirmDevice` confirmed the device `device_key`.
    pub fn confirmed(&self, device_key: &str) -> bool {
        self.devices
            .lock()
            .unwrap()
            .get(device_key)
            .is_some_and(|d| d.confirmed)
    }

    /// The `DEVICE_KEY` (or `DeviceKey`) each refresh answered here carried, in order.
    pub fn device_keys_sent(&self) -> Vec<Option<String>> {
        self.device_keys_sent.lock().unwrap().clone()
    }

    fn next(&self) -> u64 {
        let mut counter = self.counter.lock().unwrap();
        *counter += 1;
        *counter
    }

    /// The refresh tokens `RevokeToken` was called with.
    pub fn revoked(&self) -> Vec<String> {
        self.revoked.lock().unwrap().clone()
    }

    fn secret_hash(&self, secret: &str, username: &str) -> String {
        let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
        let tag = hmac::sign(&key, format!("{username}{}", self.client_id).as_bytes());
        STANDARD.encode(tag.as_ref())
    }

    /// A refresh by either operation: the checks in Cognito's order, then new tokens.
    fn refresh(&self, flow: Flow, body: &Value) -> Option<(u16, String)> {
        let (old, sent_secret, device_key) = match flow {
            Flow::InitiateAuth => {
                let params = &body["AuthParameters"];
                (
                    params["REFRESH_TOKEN"].as_str(),
                    params["SECRET_HASH"].as_str(),
                    params["DEVICE_KEY"].as_str(),
                )
            }
            Flow::Rotation => (
                body["RefreshToken"].as_str(),
                body["ClientSecret"].as_str(),
                body["DeviceKey"].as_str(),
            ),
        };
        let id = self.client_id.as_str();
        if body["ClientId"].as_str() != Some(id) {
            let other = body["ClientId"].as_str().unwrap_or_default();
            return error(
                "ResourceNotFoundException",
                &format!("User pool client {other} does not exist."),
            );
        }
        if flow == Flow::InitiateAuth && !self.refresh_token_auth {
            return error(
                "InvalidParameterException",
                "Refresh Token flow not enabled for this client",
            );
        }
        if self.secret.is_some() && sent_secret.is_none_or(str::is_empty) {
            return error(
                "NotAuthorizedException",
                &format!("Client {id} is configured for secret but secret was not received"),
            );
        }
        let Some(old) = old.filter(|t| !t.is_empty()) else {
            return error(
                "InvalidParameterException",
                "Missing required parameter REFRESH_TOKEN",
            );
        };
        let mut tokens = self.tokens.lock().unwrap();
        let Some((family, state)) = tokens.get(old).map(|(f, s)| (f.clone(), s)) else {
            return error("NotAuthorizedException", "Invalid Refresh Token");
        };
        if self.deleted.lock().unwrap().contains(&family.sub) {
            return error(
                "NotAuthorizedException",
                "The user has been deleted for the associated refresh token",
            );
        }
        if let (Some(secret), Some(sent)) = (&self.secret, sent_secret) {
            let expected = match flow {
                Flow::InitiateAuth => self.secret_hash(secret, &family.username),
                Flow::Rotation => secret.clone(),
            };
            if sent != expected {
                return error(
                    "NotAuthorizedException",
                    &format!("Unable to verify secret hash for client {id}"),
                );
            }
        }
        if self.disabled.lock().unwrap().contains(&family.sub) {
            return error("NotAuthorizedException", "User is disabled.");
        }
        match state {
            State::Active => {}
            State::Rotated(at) if flow == Flow::Rotation && at.elapsed() <= self.grace => {}
            State::Rotated(_) if flow == Flow::Rotation => {
                // Reuse after the grace period: a theft signal; the whole family is revoked.
                for (f, s) in tokens.values_mut() {
                    if f.origin_jti == family.origin_jti {
                        *s = State::Revoked;
                    }
                }
                return error("RefreshTokenReuseException", "Refresh token reuse detected");
            }
            State::Rotated(_) | State::Revoked => {
                return error("NotAuthorizedException", "Refresh Token has been revoked")
            }
            State::Expired => return error("NotAuthorizedException", "Refresh Token has expired"),
        }
        if self.remember.lock().unwrap().is_some() {
            self.device_keys_sent
                .lock()
                .unwrap()
                .push(device_key.map(str::to_owned));
        }
        // A device `register_with_device` made must also be confirmed; one bound with
        // `bind_to_device` stands for a device confirmed elsewhere.
        let confirmed = |key: &str| {
            self.devices
                .lock()
                .unwrap()
                .get(key)
                .is_none_or(|device| device.confirmed)
        };
        if let Some(bound) = &family.device_key {
            if device_key != Some(bound.as_str()) || !confirmed(bound) {
                return error("NotAuthorizedException", "Invalid Refresh Token.");
            }
        }
        let n = self.next();
        let new = (flow == Flow::Rotation).then(|| {
            let new = format!("rotated-{n}-{}", family.sub);
            if let Some((_, state)) = tokens.get_mut(old) {
                *state = State::Rotated(Instant::now());
            }
            tokens.insert(new.clone(), (family.clone(), State::Active));
            new
        });
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
        let mut result = json!({
            "AccessToken": access,
            "IdToken": self.minter.access(&id_claims),
            "ExpiresIn": 3600,
            "TokenType": "Bearer",
        });
        if let Some(new) = new {
            result["RefreshToken"] = json!(new);
        }
        Some((
            200,
            json!({"AuthenticationResult": result, "ChallengeParameters": {}}).to_string(),
        ))
    }
}

impl FakeCognito {
    /// `ConfirmDevice` (with device tracking on), checking its inputs as Cognito does.
    fn confirm_device(&self, body: &Value) -> Option<(u16, String)> {
        let remember = (*self.remember.lock().unwrap())?;
        let claims = body["AccessToken"]
            .as_str()
            .and_then(|token| token.split('.').nth(1))
            .and_then(|payload| {
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(payload)
                    .ok()
            })
            .and_then(|json| serde_json::from_slice::<Value>(&json).ok())
            .filter(|c| {
                c["iss"].as_str() == Some(self.issuer.as_str())
                    && c["token_use"].as_str() == Some("access")
                    && c["exp"].as_u64().is_some_and(|exp| exp > crate::now())
            });
        let Some(claims) = claims else {
            return error("NotAuthorizedException", "Invalid Access Token");
        };
        let key = body["DeviceKey"].as_str().unwrap_or_default();
        let mut devices = self.devices.lock().unwrap();
        let Some(device) = devices
            .get_mut(key)
            .filter(|d| claims["sub"].as_str() == Some(d.sub.as_str()))
        else {
            return error("InvalidParameterException", "Invalid device key given.");
        };
        // A verifier of base64 salt and password verifier, as the SDKs compute them.
        let config = &body["DeviceSecretVerifierConfig"];
        let decoded = |name: &str| {
            config[name]
                .as_str()
                .and_then(|v| base64::engine::general_purpose::STANDARD.decode(v).ok())
                .filter(|bytes| !bytes.is_empty())
        };
        let well_formed = matches!(
            (decoded("Salt"), decoded("PasswordVerifier")),
            (Some(salt), Some(verifier)) if salt.len() <= 17 && verifier.len() <= 385
        );
        if !well_formed || device.group.is_empty() {
            return error("InvalidParameterException", "Invalid device key given.");
        }
        if device.confirmed {
            return error("DeviceKeyExistsException", "Device key already exists.");
        }
        device.confirmed = true;
        Some((
            200,
            json!({"UserConfirmationNecessary": remember == RememberDevices::UserOptIn})
                .to_string(),
        ))
    }
}

impl Fake for FakeCognito {
    fn answer(&self, operation: &str, body: &[u8]) -> Option<(u16, String)> {
        let body: Value = serde_json::from_slice(body).unwrap_or_default();
        match operation {
            "GetTokensFromRefreshToken" => self.refresh(Flow::Rotation, &body),
            // Only refreshes: logins and everything else go to moto.
            "InitiateAuth"
                if matches!(
                    body["AuthFlow"].as_str(),
                    Some("REFRESH_TOKEN_AUTH" | "REFRESH_TOKEN")
                ) =>
            {
                self.refresh(Flow::InitiateAuth, &body)
            }
            "ConfirmDevice" => self.confirm_device(&body),
            "RevokeToken" => {
                let token = body["Token"].as_str().unwrap_or_default().to_owned();
                self.revoke(&token);
                self.revoked.lock().unwrap().push(token);
                Some((200, "{}".to_owned()))
            }
            _ => None,
        }
    }
}
