//! Passkey management for the signed-in user: [`Accounts::start_passkey_registration`] and
//! [`Accounts::complete_passkey_registration`] (`StartWebAuthnRegistration`,
//! `CompleteWebAuthnRegistration`), [`Accounts::list_passkeys`] (`ListWebAuthnCredentials`)
//! and [`Accounts::delete_passkey`] (`DeleteWebAuthnCredential`), each with the session's
//! access token.
//!
//! Cognito's WebAuthn documents (the creation options, the browser's credential) travel as
//! JSON text, converted with the SDK's own JSON codec (`aws-smithy-json`).

use std::future::Future;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_cognitoidentityprovider::error::SdkError;
use aws_sdk_cognitoidentityprovider::types::WebAuthnCredentialDescription;
use aws_smithy_json::deserialize::json_token_iter;
use aws_smithy_json::deserialize::token::expect_document;
use aws_smithy_json::serialize::JsonValueWriter;
use aws_smithy_types::Document;

use crate::budget::Budget;
use crate::error::{Error, Service};
use crate::http::cookie::CookieSource;
use crate::login::accounts::{token_call_refusal, Accounts, OperationError};
use crate::login::passkey_error::{sort, Operation, PasskeyError};
use crate::login::sign_in_error::Call;
use crate::telemetry::{self, Audit};

/// `ListWebAuthnCredentials` pages read at most (20 credentials each; Cognito allows 20
/// passkeys per user, so one page is the rule).
const MAX_PAGES: usize = 20;
/// `MaxResults` per page: Cognito's maximum.
const PAGE_SIZE: i32 = 20;
/// The largest credential accepted from a browser: a registration response with an attestation
/// is a few kilobytes.
const MAX_CREDENTIAL_BYTES: usize = 64 * 1024;

/// A passkey of the signed-in user, as [`Accounts::list_passkeys`] returns it (Cognito's
/// `WebAuthnCredentialDescription`).
///
/// ```no_run
/// # async fn f(accounts: cognito_session::Accounts, request: lambda_http::Request) -> Result<(), cognito_session::PasskeyError> {
/// for passkey in accounts.list_passkeys(&request).await? {
///     println!("{} ({}) for {}", passkey.name().unwrap_or("Passkey"), passkey.id(), passkey.relying_party_id());
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Passkey {
    id: String,
    name: Option<String>,
    relying_party_id: String,
    authenticator_attachment: Option<String>,
    transports: Vec<String>,
    created_at: SystemTime,
}

impl Passkey {
    /// The credential id (base64url): what [`Accounts::delete_passkey`] takes.
    ///
    /// ```no_run
    /// # async fn f(accounts: cognito_session::Accounts, request: lambda_http::Request, passkey: cognito_session::Passkey) -> Result<(), cognito_session::PasskeyError> {
    /// accounts.delete_passkey(&request, passkey.id()).await?;
    /// # Ok(()) }
    /// ```
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The name Cognito gave it (`FriendlyCredentialName`), if any.
    ///
    /// ```no_run
    /// # fn f(passkey: cognito_session::Passkey) {
    /// println!("{}", passkey.name().unwrap_or("Passkey"));
    /// # }
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The relying party ID it was made for (the user pool's, e.g. `example.com`).
    ///
    /// ```no_run
    /// # fn f(passkey: cognito_session::Passkey) {
    /// println!("usable on {} and its subdomains", passkey.relying_party_id());
    /// # }
    /// ```
    pub fn relying_party_id(&self) -> &str {
        &self.relying_party_id
    }

    /// `platform` (built into the device, such as a fingerprint reader) or `cross-platform`
    /// (a security key or a phone), when the browser said.
    ///
    /// ```no_run
    /// # fn f(passkey: cognito_session::Passkey) {
    /// let kind = match passkey.authenticator_attachment() {
    ///     Some("platform") => "this device",
    ///     Some(_) => "a security key or phone",
    ///     None => "a passkey",
    /// };
    /// # let _ = kind;
    /// # }
    /// ```
    pub fn authenticator_attachment(&self) -> Option<&str> {
        self.authenticator_attachment.as_deref()
    }

    /// How the authenticator is reached (`internal`, `usb`, `nfc`, `ble`, `hybrid`...).
    ///
    /// ```no_run
    /// # fn f(passkey: cognito_session::Passkey) {
    /// println!("transports: {}", passkey.transports().join(", "));
    /// # }
    /// ```
    pub fn transports(&self) -> &[String] {
        &self.transports
    }

    /// When it was added.
    ///
    /// ```no_run
    /// # fn f(passkey: cognito_session::Passkey) {
    /// let age = passkey.created_at().elapsed().unwrap_or_default();
    /// println!("added {} days ago", age.as_secs() / 86_400);
    /// # }
    /// ```
    pub fn created_at(&self) -> SystemTime {
        self.created_at
    }
}

impl From<&WebAuthnCredentialDescription> for Passkey {
    fn from(description: &WebAuthnCredentialDescription) -> Passkey {
        let name = description.friendly_credential_name();
        Passkey {
            id: description.credential_id().to_owned(),
            name: (!name.is_empty()).then(|| name.to_owned()),
            relying_party_id: description.relying_party_id().to_owned(),
            authenticator_attachment: description.authenticator_attachment().map(str::to_owned),
            transports: description.authenticator_transports().to_vec(),
            created_at: SystemTime::try_from(*description.created_at()).unwrap_or(UNIX_EPOCH),
        }
    }
}

impl Accounts {
    /// Starts adding a passkey for the user signed in on `request`
    /// (`StartWebAuthnRegistration` with the session's access token): the
    /// `PublicKeyCredentialCreationOptions` as JSON text, for the page to hand to
    /// `PublicKeyCredential.parseCreationOptionsFromJSON` and `navigator.credentials.create`;
    /// then post `JSON.stringify(credential.toJSON())` to
    /// [`complete_passkey_registration`](Accounts::complete_passkey_registration).
    ///
    /// The access token needs the scope `aws.cognito.signin.user.admin`: own-form sign-ins
    /// ([`Sessions::sign_in`](crate::Sessions::sign_in), sign-in after sign-up) have it,
    /// managed login only when `OAUTH_SCOPES` asks for it (else [`Error::Config`], 500). The
    /// user pool must allow `WEB_AUTHN` among its first factors and have a relying party ID
    /// (else [`Error::Config`] naming the setting). No valid session: [`Error::Unauthorized`]
    /// (401); an outage: [`Error::Unavailable`] (503), the session stays.
    ///
    /// ```no_run
    /// # async fn f(accounts: cognito_session::Accounts, request: lambda_http::Request) -> Result<(), cognito_session::PasskeyError> {
    /// let options = accounts.start_passkey_registration(&request).await?;
    /// let script = format!(
    ///     "const options = PublicKeyCredential.parseCreationOptionsFromJSON({options});\n\
    ///      const credential = await navigator.credentials.create({{ publicKey: options }});\n\
    ///      await fetch('/passkeys', {{ method: 'POST', body: JSON.stringify(credential.toJSON()) }});"
    /// );
    /// # let _ = script;
    /// # Ok(()) }
    /// ```
    pub async fn start_passkey_registration<S: CookieSource + ?Sized>(
        &self,
        request: &S,
    ) -> Result<String, PasskeyError> {
        let work = self.start_registration(request);
        let client = self.sessions.inner.telemetry.client(request);
        self.step(
            "cognito_session.start_passkey_registration",
            client,
            work,
            |_| "passkey_registration_started",
        )
        .await
    }

    async fn start_registration<S: CookieSource + ?Sized>(
        &self,
        request: &S,
    ) -> Result<String, PasskeyError> {
        let (_, token) = self.signed_in(request).await?;
        let sessions = &self.sessions;
        let call = sessions.call("starting a passkey registration");
        let start = sessions
            .inner
            .cognito
            .client
            .start_web_authn_registration()
            .access_token(token)
            .send();
        let budget = sessions.budget(request.deadline());
        let started = ask(Operation::Start, &call, budget, start).await?;
        Ok(json_text(started.credential_creation_options()))
    }

    /// Completes adding the passkey (`CompleteWebAuthnRegistration`): `credential_json` is what
    /// the browser made of the options of
    /// [`start_passkey_registration`](Accounts::start_passkey_registration), as
    /// `JSON.stringify(credential.toJSON())` (a `RegistrationResponseJSON`). Text that is no
    /// JSON object is [`PasskeyError::InvalidCredential`] (400) before any call. Cognito checks
    /// the challenge (one registration at a time per user, valid for minutes:
    /// [`PasskeyError::ChallengeExpired`]), the page's origin and the relying party
    /// ([`PasskeyError::OriginNotAllowed`], [`PasskeyError::RelyingPartyMismatch`]). The
    /// passkey then signs the user in (`USER_AUTH` with `WEB_AUTHN`). Call it from a `POST`
    /// route behind [`SessionLayer`](crate::SessionLayer) (CSRF). The scope and pool settings
    /// of [`start_passkey_registration`](Accounts::start_passkey_registration) apply.
    ///
    /// ```no_run
    /// # async fn f(accounts: cognito_session::Accounts, request: lambda_http::Request, body: &str) {
    /// match accounts.complete_passkey_registration(&request, body).await {
    ///     Ok(()) => println!("passkey added"),
    ///     Err(error) => println!("{} {error}", error.status()),
    /// }
    /// # }
    /// ```
    pub async fn complete_passkey_registration<S: CookieSource + ?Sized>(
        &self,
        request: &S,
        credential_json: &str,
    ) -> Result<(), PasskeyError> {
        let work = self.complete_registration(request, credential_json);
        let client = self.sessions.inner.telemetry.client(request);
        self.step(
            "cognito_session.complete_passkey_registration",
            client,
            work,
            |_| "passkey_added",
        )
        .await
    }

    async fn complete_registration<S: CookieSource + ?Sized>(
        &self,
        request: &S,
        credential_json: &str,
    ) -> Result<(), PasskeyError> {
        let credential = credential_document(credential_json)?;
        let (session, token) = self.signed_in(request).await?;
        let sessions = &self.sessions;
        let call = sessions.call("adding a passkey");
        let complete = sessions
            .inner
            .cognito
            .client
            .complete_web_authn_registration()
            .access_token(token)
            .credential(credential)
            .send();
        let budget = sessions.budget(request.deadline());
        ask(Operation::Complete, &call, budget, complete).await?;
        telemetry::audit(
            "passkey_added",
            "passkey added",
            Audit {
                sub: Some(session.sub()),
                ..Audit::default()
            },
        );
        Ok(())
    }

    /// The passkeys of the user signed in on `request` (`ListWebAuthnCredentials`, every page,
    /// at most 20 of them), in Cognito's order. The scope and errors of
    /// [`start_passkey_registration`](Accounts::start_passkey_registration) apply, except that
    /// listing needs no passkey settings on the pool.
    ///
    /// ```no_run
    /// # async fn f(accounts: cognito_session::Accounts, request: lambda_http::Request) -> Result<(), cognito_session::PasskeyError> {
    /// let passkeys = accounts.list_passkeys(&request).await?;
    /// println!("{} passkeys", passkeys.len());
    /// # Ok(()) }
    /// ```
    pub async fn list_passkeys<S: CookieSource + ?Sized>(
        &self,
        request: &S,
    ) -> Result<Vec<Passkey>, PasskeyError> {
        let work = self.list(request);
        let client = self.sessions.inner.telemetry.client(request);
        self.step("cognito_session.list_passkeys", client, work, |_| {
            "passkeys_listed"
        })
        .await
    }

    async fn list<S: CookieSource + ?Sized>(
        &self,
        request: &S,
    ) -> Result<Vec<Passkey>, PasskeyError> {
        let (_, token) = self.signed_in(request).await?;
        let sessions = &self.sessions;
        let call = sessions.call("listing the passkeys");
        let budget = sessions.budget(request.deadline());
        let mut passkeys = Vec::new();
        let mut next: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let page = sessions
                .inner
                .cognito
                .client
                .list_web_authn_credentials()
                .access_token(&token)
                .max_results(PAGE_SIZE)
                .set_next_token(next.take())
                .send();
            let page = ask(Operation::List, &call, budget, page).await?;
            passkeys.extend(page.credentials().iter().map(Passkey::from));
            match page.next_token().filter(|t| !t.is_empty()) {
                Some(token) => next = Some(token.to_owned()),
                None => return Ok(passkeys),
            }
        }
        tracing::warn!(
            pages = MAX_PAGES,
            listed = passkeys.len(),
            "ListWebAuthnCredentials had more pages than a user can have passkeys; the list stops here"
        );
        Ok(passkeys)
    }

    /// Removes the passkey `credential_id` ([`Passkey::id`]) of the user signed in on
    /// `request` (`DeleteWebAuthnCredential`): it no longer signs in. An id the user does not
    /// have (removed already, or another user's): [`PasskeyError::NotFound`] (404). Call it
    /// from a `POST` route behind [`SessionLayer`](crate::SessionLayer) (CSRF). The scope and
    /// errors of [`start_passkey_registration`](Accounts::start_passkey_registration) apply.
    ///
    /// ```no_run
    /// # async fn f(accounts: cognito_session::Accounts, request: lambda_http::Request, id: &str) {
    /// match accounts.delete_passkey(&request, id).await {
    ///     Ok(()) => println!("removed"),
    ///     Err(error) => println!("{} {error}", error.status()),
    /// }
    /// # }
    /// ```
    pub async fn delete_passkey<S: CookieSource + ?Sized>(
        &self,
        request: &S,
        credential_id: &str,
    ) -> Result<(), PasskeyError> {
        let work = self.delete(request, credential_id);
        let client = self.sessions.inner.telemetry.client(request);
        self.step("cognito_session.delete_passkey", client, work, |_| {
            "passkey_removed"
        })
        .await
    }

    async fn delete<S: CookieSource + ?Sized>(
        &self,
        request: &S,
        credential_id: &str,
    ) -> Result<(), PasskeyError> {
        let credential_id = credential_id.trim();
        if credential_id.is_empty() {
            return Err(
                Error::InvalidInput("delete_passkey was given no passkey id".into()).into(),
            );
        }
        let (session, token) = self.signed_in(request).await?;
        let sessions = &self.sessions;
        let call = sessions.call("removing a passkey");
        let delete = sessions
            .inner
            .cognito
            .client
            .delete_web_authn_credential()
            .access_token(token)
            .credential_id(credential_id)
            .send();
        let budget = sessions.budget(request.deadline());
        ask(Operation::Delete, &call, budget, delete).await?;
        telemetry::audit(
            "passkey_removed",
            "passkey removed",
            Audit {
                sub: Some(session.sub()),
                ..Audit::default()
            },
        );
        Ok(())
    }
}

/// One passkey call to Cognito within `budget`: its output, or its refusal sorted.
async fn ask<T, E: OperationError>(
    operation: Operation,
    call: &Call,
    budget: Budget,
    work: impl Future<Output = Result<T, SdkError<E>>>,
) -> Result<T, PasskeyError> {
    match budget.call(Service::Cognito, call.action, work).await? {
        Ok(output) => Ok(output),
        Err(error) => {
            let (code, message) = token_call_refusal(error, call)?;
            tracing::debug!(
                code,
                action = call.action,
                "passkey step refused by Cognito"
            );
            Err(sort(operation, &code, &message, call))
        }
    }
}

/// A document as JSON text.
fn json_text(document: &Document) -> String {
    let mut text = String::new();
    JsonValueWriter::new(&mut text).document(document);
    text
}

/// The browser's credential (JSON text) as a document: one JSON object, nothing after it.
fn credential_document(json: &str) -> Result<Document, PasskeyError> {
    let invalid = |why: &str| PasskeyError::InvalidCredential(why.to_owned());
    if json.len() > MAX_CREDENTIAL_BYTES {
        return Err(invalid("larger than a passkey registration"));
    }
    let mut tokens = json_token_iter(json.as_bytes()).peekable();
    let document = expect_document(&mut tokens).map_err(|_| invalid("not JSON"))?;
    if tokens.next().is_some() {
        return Err(invalid("text after the JSON"));
    }
    if !document.is_object() {
        return Err(invalid("not a JSON object"));
    }
    Ok(document)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_text_and_documents_round_trip() {
        let json = r#"{"id":"abc","rawId":"abc","type":"public-key","response":{"transports":["internal","hybrid"],"n":-3,"f":1.5,"t":true,"z":null,"s":"\"quoted\" é"}}"#;
        let document = credential_document(json).unwrap();
        let again = json_text(&document);
        let back = credential_document(&again).unwrap();
        assert_eq!(document, back);
        let value: serde_json::Value = serde_json::from_str(&again).unwrap();
        let original: serde_json::Value = serde_json::from_str(json).unwrap();
        assert_eq!(value, original);
        assert!(credential_document(&format!(" {json}\n")).is_ok());
    }

    #[test]
    fn what_is_no_credential_is_refused_before_any_call() {
        for bad in [
            "",
            "not json",
            "{\"id\":",
            "[1,2]",
            "\"text\"",
            "{} {}",
            "{\"a\":1}x",
        ] {
            let refused = credential_document(bad).unwrap_err();
            assert_eq!(refused.code(), "passkey_invalid_credential", "{bad:?}");
            assert_eq!(refused.status(), 400);
        }
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(credential_document(&format!("{{\"a\":{deep}}}")).is_err());
        let huge = format!("{{\"a\":\"{}\"}}", "x".repeat(MAX_CREDENTIAL_BYTES));
        assert!(credential_document(&huge).is_err());
    }
}
