//! An in-process fake of the Cognito calls moto lacks (`GetTokensFromRefreshToken` with
//! refresh-token rotation, `RevokeToken`, and device tracking: `ConfirmDevice` and refreshes
//! bound to a device), speaking the real JSON 1.1 wire format behind a
//! [`Proxy`](crate::Proxy) that forwards everything else to moto.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{json, Value};

use crate::proxy::Fake;
use crate::Minter;

#[derive(Debug, Clone)]
struct Family {
    sub: String,
    username: String,
    origin_jti: String,
    /// The device this login's refresh token is bound to (device tracking).
    device: Option<String>,
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
const INVALID_REFRESH_TOKEN: &str = "Invalid Refresh Token";

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
            remember: Mutex::default(),
            devices: Mutex::default(),
            device_keys_sent: Mutex::default(),
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
                family.device = Some(key.clone());
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

    /// New access and ID tokens for `family`, signed with moto's key; `n` makes them unique.
    fn mint(&self, family: &Family, n: u64) -> (String, String) {
        let mut claims = crate::access_claims(
            &self.issuer,
            &self.client_id,
            &family.sub,
            &family.username,
            &family.origin_jti,
            crate::now(),
        );
        claims["jti"] = json!(format!("fake-{n}"));
        let access = self.minter.access(&claims);
        let mut id_claims = claims;
        id_claims["token_use"] = json!("id");
        (access, self.minter.access(&id_claims))
    }

    /// With device tracking on, refuses a refresh of `family` unless `sent` is its confirmed
    /// device (records what was sent).
    fn device_refusal(&self, family: &Family, sent: Option<&str>) -> Option<(u16, String)> {
        if self.remember.lock().unwrap().is_none() {
            return None;
        }
        self.device_keys_sent
            .lock()
            .unwrap()
            .push(sent.map(str::to_owned));
        let devices = self.devices.lock().unwrap();
        let confirmed = |key: &str| devices.get(key).is_some_and(|d| d.confirmed);
        match (&family.device, sent) {
            (Some(bound), Some(sent)) if bound == sent && confirmed(sent) => None,
            (None, _) => None,
            _ => error("NotAuthorizedException", INVALID_REFRESH_TOKEN),
        }
    }

    /// `InitiateAuth` `REFRESH_TOKEN_AUTH` for a refresh token registered with a device (with
    /// device tracking on); anything else goes on to moto.
    fn initiate_auth(&self, body: &Value) -> Option<(u16, String)> {
        if self.remember.lock().unwrap().is_none()
            || body["AuthFlow"].as_str() != Some("REFRESH_TOKEN_AUTH")
        {
            return None;
        }
        let parameters = &body["AuthParameters"];
        let token = parameters["REFRESH_TOKEN"].as_str().unwrap_or_default();
        let (family, revoked) = {
            let tokens = self.tokens.lock().unwrap();
            let (family, state) = tokens.get(token)?;
            family.device.as_ref()?;
            (family.clone(), matches!(state, State::Revoked))
        };
        if body["ClientId"].as_str() != Some(self.client_id.as_str()) {
            return error(
                "ResourceNotFoundException",
                "User pool client does not exist.",
            );
        }
        if revoked {
            return error("NotAuthorizedException", "Refresh Token has been revoked");
        }
        if let Some(refusal) = self.device_refusal(&family, parameters["DEVICE_KEY"].as_str()) {
            return Some(refusal);
        }
        let n = self.next();
        let (access, id) = self.mint(&family, n);
        Some((
            200,
            json!({"AuthenticationResult": {
                "AccessToken": access,
                "IdToken": id,
                "ExpiresIn": 3600,
                "TokenType": "Bearer",
            }, "ChallengeParameters": {}})
            .to_string(),
        ))
    }

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

    /// Makes `refresh_token` (from a real login) known, for the user of `access_token`.
    pub fn register(&self, refresh_token: &str, access_token: &str) {
        let claims = crate::peek(access_token);
        let family = Family {
            sub: claims["sub"].as_str().unwrap_or_default().to_owned(),
            username: claims["username"].as_str().unwrap_or_default().to_owned(),
            origin_jti: claims["origin_jti"].as_str().unwrap_or_default().to_owned(),
            device: None,
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
        if let Some(refusal) = self.device_refusal(&family, body["DeviceKey"].as_str()) {
            return Some(refusal);
        }
        let n = self.next();
        let new = format!("rotated-{n}-{}", family.sub);
        if let Some((_, state)) = tokens.get_mut(old) {
            *state = State::Rotated(Instant::now());
        }
        tokens.insert(new.clone(), (family.clone(), State::Active));
        let (access, id) = self.mint(&family, n);
        Some((
            200,
            json!({"AuthenticationResult": {
                "AccessToken": access,
                "IdToken": id,
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
            "InitiateAuth" => self.initiate_auth(&body),
            "ConfirmDevice" => self.confirm_device(&body),
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
