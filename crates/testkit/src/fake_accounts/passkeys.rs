//! The passkey API (`StartWebAuthnRegistration`, `CompleteWebAuthnRegistration`,
//! `ListWebAuthnCredentials`, `DeleteWebAuthnCredential`) and the relying party that verifies
//! both ceremonies with `webauthn-rs`.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};
use webauthn_rs::prelude::{
    AuthenticationResult, Passkey, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, Url, Uuid, WebauthnError,
};
use webauthn_rs::{Webauthn, WebauthnBuilder};

use super::{error, ok, FakeAccounts};

/// How long a registration's challenge stays valid.
const REGISTRATION: Duration = Duration::from_secs(300);
/// Cognito's limit of passkeys per user.
const MAX_PASSKEYS: usize = 20;

/// The pool's WebAuthn relying party.
pub(crate) struct RelyingParty {
    pub(crate) id: String,
    webauthn: Webauthn,
}

impl RelyingParty {
    pub(crate) fn new(rp_id: &str, origin: &str) -> RelyingParty {
        let origin = Url::parse(origin).expect("an origin URL");
        let webauthn = WebauthnBuilder::new(rp_id, &origin)
            .expect("the relying party id is the origin's domain")
            .rp_name(rp_id)
            .build()
            .expect("a relying party");
        RelyingParty {
            id: rp_id.to_owned(),
            webauthn,
        }
    }

    /// The request options (`PublicKeyCredentialRequestOptionsJSON`) and the ceremony's state.
    pub(crate) fn start_authentication(
        &self,
        passkeys: &[Passkey],
    ) -> Option<(Value, PasskeyAuthentication)> {
        let (options, state) = self.webauthn.start_passkey_authentication(passkeys).ok()?;
        let options = serde_json::to_value(options).ok()?;
        Some((options["publicKey"].clone(), state))
    }

    pub(crate) fn finish_authentication(
        &self,
        credential: &PublicKeyCredential,
        state: &PasskeyAuthentication,
    ) -> Option<AuthenticationResult> {
        self.webauthn
            .finish_passkey_authentication(credential, state)
            .ok()
    }
}

/// A registration in progress.
pub(crate) struct Registration {
    state: PasskeyRegistration,
    client_id: String,
    issued: Instant,
}

/// A registered passkey.
#[derive(Clone)]
pub(crate) struct Stored {
    pub passkey: Passkey,
    /// The credential id, base64url.
    pub id: String,
    attachment: Option<String>,
    transports: Vec<String>,
    created: f64,
}

/// The user id WebAuthn gets for `sub` (a UUID, as Cognito's `sub` is).
fn user_id(sub: &str) -> Uuid {
    Uuid::parse_str(sub).unwrap_or_else(|_| {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, sub.as_bytes());
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest.as_ref()[..16]);
        Uuid::from_bytes(bytes)
    })
}

impl FakeAccounts {
    /// The checks the pool makes before any passkey registration: passkeys among the first
    /// factors, a relying party configured.
    fn passkeys_configured(&self) -> Result<&RelyingParty, (u16, String)> {
        let refuse = |kind: &str, message: &str| error(kind, message).unwrap_or_default();
        if !self.first_factors.iter().any(|f| f == "WEB_AUTHN") {
            return Err(refuse(
                "WebAuthnNotEnabledException",
                "Passkeys are not enabled for this user pool.",
            ));
        }
        self.webauthn.as_ref().ok_or_else(|| {
            refuse(
                "WebAuthnConfigurationMissingException",
                "The user pool has no WebAuthn relying party ID and no user pool domain.",
            )
        })
    }

    pub(crate) async fn start_registration(&self, body: &Value) -> Option<(u16, String)> {
        let token = body["AccessToken"].as_str().unwrap_or_default();
        let user = match self.authorize(token).await {
            Ok(user) => user,
            Err(answer) => return Some(answer),
        };
        let rp = match self.passkeys_configured() {
            Ok(rp) => rp,
            Err(answer) => return Some(answer),
        };
        let existing: Vec<_> = self
            .lock()
            .passkeys
            .get(&user.sub)
            .map(|list| list.iter().map(|p| p.passkey.cred_id().clone()).collect())
            .unwrap_or_default();
        if existing.len() >= MAX_PASSKEYS {
            return error(
                "LimitExceededException",
                "The user has reached the maximum number of passkeys.",
            );
        }
        let started = rp.webauthn.start_passkey_registration(
            user_id(&user.sub),
            &user.username,
            &user.username,
            Some(existing),
        );
        let Ok((options, state)) = started else {
            return error("InternalErrorException", "could not start the registration");
        };
        let options = serde_json::to_value(options).unwrap_or_default();
        let client_id = super::claims_of(token)
            .and_then(|c| c["client_id"].as_str().map(str::to_owned))
            .unwrap_or_default();
        self.lock().registrations.insert(
            user.sub.clone(),
            Registration {
                state,
                client_id,
                issued: Instant::now(),
            },
        );
        ok(json!({ "CredentialCreationOptions": options["publicKey"] }))
    }

    pub(crate) async fn complete_registration(&self, body: &Value) -> Option<(u16, String)> {
        let token = body["AccessToken"].as_str().unwrap_or_default();
        let user = match self.authorize(token).await {
            Ok(user) => user,
            Err(answer) => return Some(answer),
        };
        let rp = match self.passkeys_configured() {
            Ok(rp) => rp,
            Err(answer) => return Some(answer),
        };
        let Some(registration) = self.lock().registrations.remove(&user.sub) else {
            return error(
                "WebAuthnChallengeNotFoundException",
                "The registration challenge was not found or has expired.",
            );
        };
        if registration.issued.elapsed() >= REGISTRATION {
            return error(
                "WebAuthnChallengeNotFoundException",
                "The registration challenge was not found or has expired.",
            );
        }
        let client = super::claims_of(token)
            .and_then(|c| c["client_id"].as_str().map(str::to_owned))
            .unwrap_or_default();
        if client != registration.client_id {
            return error(
                "WebAuthnClientMismatchException",
                "The access token is of another app client than the registration's.",
            );
        }
        // The browser's RegistrationResponseJSON, as a JSON document.
        let credential = &body["Credential"];
        let Ok(parsed) = serde_json::from_value::<RegisterPublicKeyCredential>(credential.clone())
        else {
            return error("InvalidParameterException", "Invalid Credential.");
        };
        let passkey = match rp
            .webauthn
            .finish_passkey_registration(&parsed, &registration.state)
        {
            Ok(passkey) => passkey,
            Err(WebauthnError::InvalidRPOrigin) => {
                return error(
                    "WebAuthnOriginNotAllowedException",
                    "The credential's origin does not match the relying party ID.",
                )
            }
            Err(WebauthnError::InvalidRPIDHash) => {
                return error(
                    "WebAuthnRelyingPartyMismatchException",
                    "The credential is associated with another relying party ID.",
                )
            }
            Err(WebauthnError::MismatchedChallenge | WebauthnError::ChallengeNotFound) => {
                return error(
                    "WebAuthnChallengeNotFoundException",
                    "The registration challenge was not found or has expired.",
                )
            }
            Err(_) => {
                return error(
                    "WebAuthnCredentialNotSupportedException",
                    "The credential is not supported.",
                )
            }
        };
        let id = URL_SAFE_NO_PAD.encode::<&[u8]>(passkey.cred_id().as_ref());
        let created = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let stored = Stored {
            passkey,
            id,
            attachment: credential["authenticatorAttachment"]
                .as_str()
                .map(str::to_owned),
            transports: credential["response"]["transports"]
                .as_array()
                .map(|list| {
                    list.iter()
                        .filter_map(|t| t.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            created,
        };
        let mut state = self.lock();
        let list = state.passkeys.entry(user.sub.clone()).or_default();
        if list.iter().any(|p| p.id == stored.id) {
            return error(
                "WebAuthnCredentialNotSupportedException",
                "The credential is already registered.",
            );
        }
        list.push(stored);
        ok(json!({}))
    }

    pub(crate) async fn list_credentials(&self, body: &Value) -> Option<(u16, String)> {
        let token = body["AccessToken"].as_str().unwrap_or_default();
        let user = match self.authorize(token).await {
            Ok(user) => user,
            Err(answer) => return Some(answer),
        };
        let rp_id = self
            .webauthn
            .as_ref()
            .map(|rp| rp.id.clone())
            .unwrap_or_default();
        let all: Vec<Value> = self
            .lock()
            .passkeys
            .get(&user.sub)
            .map(|list| {
                list.iter()
                    .map(|p| {
                        let mut description = json!({
                            "CredentialId": p.id,
                            "FriendlyCredentialName": "Passkey",
                            "RelyingPartyId": rp_id,
                            "AuthenticatorTransports": p.transports,
                            "CreatedAt": p.created,
                        });
                        if let Some(attachment) = &p.attachment {
                            description["AuthenticatorAttachment"] = json!(attachment);
                        }
                        description
                    })
                    .collect()
            })
            .unwrap_or_default();
        let page = usize::try_from(body["MaxResults"].as_u64().unwrap_or(20)).unwrap_or(20);
        let from: usize = body["NextToken"]
            .as_str()
            .and_then(|t| t.parse().ok())
            .unwrap_or(0);
        let to = (from + page.max(1)).min(all.len());
        let mut answer = json!({ "Credentials": all.get(from..to).unwrap_or_default() });
        if to < all.len() {
            answer["NextToken"] = json!(to.to_string());
        }
        ok(answer)
    }

    pub(crate) async fn delete_credential(&self, body: &Value) -> Option<(u16, String)> {
        let token = body["AccessToken"].as_str().unwrap_or_default();
        let user = match self.authorize(token).await {
            Ok(user) => user,
            Err(answer) => return Some(answer),
        };
        let id = body["CredentialId"].as_str().unwrap_or_default();
        let mut state = self.lock();
        let list = state.passkeys.entry(user.sub).or_default();
        let before = list.len();
        list.retain(|p| p.id != id);
        if list.len() == before {
            return error("ResourceNotFoundException", "Credential not found.");
        }
        ok(json!({}))
    }
}
