//! A software passkey authenticator (1Password's `passkey` crate) for tests without a browser:
//! it answers the options Cognito sends with the JSON a browser's `PublicKeyCredential.toJSON()`
//! would post, for one origin.

use passkey::authenticator::{Authenticator, MemoryStore, UiHint, UserCheck, UserValidationMethod};
use passkey::client::{Client, DefaultClientData};
use passkey::crypto::aws_lc_rs::AwsLcRsBackend;
use passkey::types::ctap2::{Aaguid, Ctap2Error};
use passkey::types::webauthn::{CredentialCreationOptions, CredentialRequestOptions};
use passkey::types::Passkey;
use url::Url;

/// A user who is always present and verified (a biometric that always matches).
struct Present;

#[async_trait::async_trait]
impl UserValidationMethod for Present {
    type PasskeyItem = Passkey;

    async fn check_user<'a>(
        &self,
        _hint: UiHint<'a, Passkey>,
        presence: bool,
        verification: bool,
    ) -> Result<UserCheck, Ctap2Error> {
        Ok(UserCheck {
            presence,
            verification,
        })
    }

    fn is_presence_enabled(&self) -> bool {
        true
    }

    fn is_verification_enabled(&self) -> Option<bool> {
        Some(true)
    }
}

type Inner = Client<MemoryStore, Present, AwsLcRsBackend, public_suffix::PublicSuffixList, ()>;

/// A software authenticator holding passkeys, used from `origin` (a browser on that page).
///
/// ```no_run
/// # async fn demo(creation_options: &str, request_options: &str) {
/// let mut authenticator = testkit::SoftAuthenticator::new("http://localhost:3000");
/// let registration = authenticator.register(creation_options).await.unwrap();
/// let assertion = authenticator.sign_in(request_options).await.unwrap();
/// # let _ = (registration, assertion);
/// # }
/// ```
pub struct SoftAuthenticator {
    client: Inner,
    origin: Url,
}

impl std::fmt::Debug for SoftAuthenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SoftAuthenticator")
            .field("origin", &self.origin.as_str())
            .finish_non_exhaustive()
    }
}

impl SoftAuthenticator {
    /// An authenticator with no passkeys, in a page of `origin`.
    pub fn new(origin: &str) -> SoftAuthenticator {
        let authenticator = Authenticator::new(
            Aaguid::new_empty(),
            MemoryStore::new(),
            Present,
            AwsLcRsBackend,
        );
        SoftAuthenticator {
            client: Client::new(authenticator).allows_insecure_localhost(true),
            origin: Url::parse(origin).expect("an origin URL"),
        }
    }

    /// The same passkeys, used from another origin (a phishing page, say).
    pub fn at(mut self, origin: &str) -> SoftAuthenticator {
        self.origin = Url::parse(origin).expect("an origin URL");
        self
    }

    /// Creates a passkey for `options` (`CredentialCreationOptions` as Cognito returns it: the
    /// `publicKey` member's JSON) and returns the registration response JSON.
    pub async fn register(&mut self, options: &str) -> Result<String, String> {
        let wrapped = format!("{{\"publicKey\":{options}}}");
        let request: CredentialCreationOptions =
            serde_json::from_str(&wrapped).map_err(|e| format!("creation options: {e}"))?;
        let created = self
            .client
            .register(&self.origin, request, DefaultClientData)
            .await
            .map_err(|e| format!("{e:?}"))?;
        serde_json::to_string(&created).map_err(|e| e.to_string())
    }

    /// Signs `options` (`CREDENTIAL_REQUEST_OPTIONS`) with a passkey it holds and returns the
    /// authentication response JSON (Cognito's `CREDENTIAL`).
    pub async fn sign_in(&mut self, options: &str) -> Result<String, String> {
        let wrapped = format!("{{\"publicKey\":{options}}}");
        let request: CredentialRequestOptions =
            serde_json::from_str(&wrapped).map_err(|e| format!("request options: {e}"))?;
        let assertion = self
            .client
            .authenticate(&self.origin, request, DefaultClientData)
            .await
            .map_err(|e| format!("{e:?}"))?;
        serde_json::to_string(&assertion).map_err(|e| e.to_string())
    }
}
