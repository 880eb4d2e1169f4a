//! The state a login flow leaves with the browser between two requests (a managed login's
//! `nonce` and PKCE verifier; a sign-in's pending challenge), sealed so the browser can carry it
//! but neither read nor change it, and bound to its purpose, its expiry and that browser.
//!
//! Sealed as AES-256-GCM, with the app client in the associated data (another function sharing
//! the key cannot stand in). The sealed body holds the purpose, the SHA-256 of the browser
//! binding (a random value the browser keeps in an `HttpOnly` cookie, or for managed login the
//! `state` it brings back), the expiry and the value. Opening checks all four before anything
//! else is done, so an edited, swapped, expired or foreign state costs no call to AWS.
//!
//! The key: the session encryption key (`SESSION_ENCRYPTION_KEY`, or the KMS data key) when one
//! is configured. Without one, a random key generated once and kept server-side in the session
//! table itself (the row `cognito-session#browser-state-key`, next to the refresh tokens it then
//! protects no less), read once per process at the first login. Two instances creating it at
//! the same first moment converge: a state sealed with a key this process does not know makes
//! it read the row again (at most every ten seconds) and adopt the stored key, keeping its own
//! for opening. Delete the row to rotate that key (logins in flight then start again).
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::digest::{digest, SHA256};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::budget::Budget;
use crate::error::Error;
use crate::manager::Sessions;
use crate::seal::{SealError, Sealer};
use crate::store::{SessionKey, SessionRow, StoredToken, Version, PREFIX};
use crate::store_error;

/// The partition key value of the row holding the generated state key (never a Cognito `sub`).
const KEY_ROW: &str = "cognito-session#browser-state-key";

/// How often at most a process reads the key row again for a state sealed with a key it lacks.
const RELOAD_INTERVAL: Duration = Duration::from_secs(10);

/// The generated state key of this process (when no encryption key is configured): the keys
/// known, the current one first, and when the row was last read.
#[derive(Default)]
pub(crate) struct StateKeys {
    known: Mutex<(Vec<[u8; 32]>, Option<Instant>)>,
}

impl std::fmt::Debug for StateKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateKeys").finish_non_exhaustive()
    }
}

impl StateKeys {
    fn sealer(&self) -> Option<Sealer> {
        let known = self.known.lock().unwrap_or_else(|p| p.into_inner());
        let (current, old) = known.0.split_first()?;
        Some(Sealer::new(*current, old.to_vec()))
    }

    /// Makes `key` the current key (keeping the others for opening); marks a read.
    fn adopt(&self, key: [u8; 32]) {
        let mut known = self.known.lock().unwrap_or_else(|p| p.into_inner());
        known.0.retain(|k| *k != key);
        known.0.insert(0, key);
        known.0.truncate(4);
        known.1 = Some(Instant::now());
    }

    /// Whether a read of the key row is allowed now (and records it if so).
    fn may_reload(&self) -> bool {
        let mut known = self.known.lock().unwrap_or_else(|p| p.into_inner());
        let due = known.1.is_none_or(|at| at.elapsed() >= RELOAD_INTERVAL);
        if due {
            known.1 = Some(Instant::now());
        }
        due
    }
}

/// What a sealed state is for: a state sealed for one purpose never opens for another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// A managed login between the redirect to Cognito and its callback.
    Login,
    /// A password sign-in's pending challenge.
    SignIn,
}

impl Purpose {
    fn name(self) -> &'static str {
        match self {
            Purpose::Login => "login",
            Purpose::SignIn => "sign-in",
        }
    }
}

/// Why a sealed state was refused. Every case means the same to the user: start again.
///
/// ```
/// use cognito_session::StateError;
/// assert_eq!(StateError::Expired.code(), "state_expired");
/// assert!(StateError::OtherBrowser.to_string().contains("start again"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// No state, or no binding cookie to check it against (the flow was not started in this
    /// browser, or its cookie expired or was cleared when the flow moved on).
    #[error("no sign-in in progress in this browser; start again")]
    Missing,
    /// The state is not one this function sealed (edited, truncated, sealed with another key or
    /// for another app client).
    #[error("the sign-in state was not issued here or was changed; start again")]
    Tampered,
    /// The state was sealed for another step (another purpose).
    #[error("the sign-in state belongs to another step; start again")]
    OtherPurpose,
    /// The state was issued to another browser, or was replaced by a newer step in this one
    /// (a replayed state).
    #[error("the sign-in state belongs to another browser or an earlier step; start again")]
    OtherBrowser,
    /// The state has expired.
    #[error("the sign-in took too long; start again")]
    Expired,
}

impl StateError {
    /// A stable code for logs and JSON answers.
    ///
    /// ```
    /// assert_eq!(cognito_session::StateError::Tampered.code(), "state_tampered");
    /// ```
    pub fn code(&self) -> &'static str {
        match self {
            StateError::Missing => "state_missing",
            StateError::Tampered => "state_tampered",
            StateError::OtherPurpose => "state_other_purpose",
            StateError::OtherBrowser => "state_other_browser",
            StateError::Expired => "state_expired",
        }
    }
}

/// The sealed body.
#[derive(Serialize, Deserialize)]
struct Body<T> {
    /// The purpose's name.
    p: String,
    /// base64url(SHA-256(binding)).
    b: String,
    /// Expiry, epoch seconds.
    e: i64,
    /// The value.
    v: T,
}

/// `n` random bytes, base64url without padding.
pub(crate) fn random(n: usize) -> Result<String, Error> {
    let mut bytes = vec![0u8; n];
    aws_lc_rs::rand::fill(&mut bytes)
        .map_err(|_| Error::config("the system random number generator failed"))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// The PKCE `S256` challenge of `verifier`: base64url(SHA-256(verifier)).
pub(crate) fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest(&SHA256, verifier.as_bytes()))
}

fn binding_hash(binding: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest(&SHA256, binding.as_bytes()))
}

impl Sessions {
    /// The sealer for browser state: the session encryption key's, or the generated key's
    /// (read, or created, in the session table on first use).
    async fn state_sealer(&self, budget: Budget) -> Result<Arc<Sealer>, Error> {
        if let Some(sealer) = self.inner.sealing.sealer_arc() {
            return Ok(sealer);
        }
        if let Some(sealer) = self.inner.state_keys.sealer() {
            return Ok(Arc::new(sealer));
        }
        self.read_state_key(budget, true).await?;
        self.inner
            .state_keys
            .sealer()
            .map(Arc::new)
            .ok_or_else(|| Error::config("internal: the browser-state key was not adopted"))
    }

    fn state_key_row(&self) -> SessionKey<'static> {
        SessionKey {
            sub: KEY_ROW,
            session: self.inner.per_device.then_some("key"),
        }
    }

    /// Reads the generated key from the session table and adopts it; creates it first when
    /// `create` and the row is missing. Returns whether a key was adopted.
    async fn read_state_key(&self, budget: Budget, create: bool) -> Result<bool, Error> {
        let store = &*self.inner.store;
        let key = self.state_key_row();
        let parse = |row: &SessionRow| -> Result<[u8; 32], Error> {
            let text = row.refresh_token.as_ref().map(|t| t.expose_secret());
            STANDARD
                .decode(text.unwrap_or_default())
                .ok()
                .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
                .ok_or_else(|| {
                    Error::config(format!(
                        "the session table's row {KEY_ROW} (the generated browser-state key) \
                         is damaged: delete it (a new one is made), or set \
                         SESSION_ENCRYPTION_KEY"
                    ))
                })
        };
        let read = |budget: Budget| async move {
            budget
                .store(store.load(key))
                .await
                .map_err(|e| store_error(e, "reading the browser-state key"))
        };
        let row = match read(budget).await? {
            Some(row) => row,
            None if create => {
                let mut bytes = [0u8; 32];
                aws_lc_rs::rand::fill(&mut bytes)
                    .map_err(|_| Error::config("the system random number generator failed"))?;
                let mut row = SessionRow::at(key);
                row.refresh_token = Some(StoredToken::new(STANDARD.encode(bytes)));
                row.timestamp = i64::try_from(self.now()).unwrap_or(i64::MAX);
                row.version = Some(Version::new(random(16)?));
                budget
                    .store(store.put(&row))
                    .await
                    .map_err(|e| store_error(e, "storing the browser-state key"))?;
                tracing::info!(
                    row = KEY_ROW,
                    "generated the browser-state key (no SESSION_ENCRYPTION_KEY is configured)"
                );
                // Read back: of two instances creating it at once, the later write counts.
                read(budget).await?.unwrap_or(row)
            }
            None => return Ok(false),
        };
        self.inner.state_keys.adopt(parse(&row)?);
        Ok(true)
    }

    /// The name of a flow's cookie (`[secure name, plain name]`): the `__Host-` one whenever
    /// cookies are `Secure`.
    pub(crate) fn flow_cookie_name(&self, names: [&'static str; 2]) -> &'static str {
        names[usize::from(!self.inner.cookie.secure)]
    }

    /// A flow's cookie binding its state to the browser: `HttpOnly`, `Path=/`, `Secure` when
    /// the session cookie is.
    pub(crate) fn flow_cookie(
        &self,
        names: [&'static str; 2],
        value: &str,
        max_age: i64,
        same_site: ::cookie::SameSite,
    ) -> String {
        ::cookie::Cookie::build((self.flow_cookie_name(names), value))
            .http_only(true)
            .secure(self.inner.cookie.secure)
            .same_site(same_site)
            .path("/")
            .max_age(::cookie::time::Duration::seconds(max_age))
            .build()
            .to_string()
    }

    /// The associated data of every browser state of this app client.
    fn state_aad(&self) -> Vec<u8> {
        [
            b"cognito-session\0browser-state\0".as_slice(),
            self.inner.cognito.client_id.as_bytes(),
        ]
        .concat()
    }

    /// Seals `value` for `purpose`, bound to `binding`, valid `lifetime` seconds from now.
    pub(crate) async fn seal_state<T: Serialize>(
        &self,
        purpose: Purpose,
        binding: &str,
        lifetime: i64,
        value: &T,
        budget: Budget,
    ) -> Result<String, Error> {
        let sealer = self.state_sealer(budget).await?;
        let now = i64::try_from(self.now()).unwrap_or(i64::MAX);
        let body = Body {
            p: purpose.name().to_owned(),
            b: binding_hash(binding),
            e: now.saturating_add(lifetime),
            v: value,
        };
        let json = serde_json::to_string(&body)
            .map_err(|e| Error::config_with("internal: cannot encode the browser state", e))?;
        sealer
            .seal(&json, &self.state_aad())
            .map_err(|e| Error::config_with("the system random number generator failed", e))
    }

    /// Opens a state sealed by [`seal_state`](Self::seal_state) for `purpose`, checking that it
    /// is bound to `binding` (`None`: the browser has no binding) and has not expired. Only a
    /// state sealed with a key this process does not know (yet) may cost a read of the
    /// generated key's row; nothing else is asked of AWS.
    ///
    /// The outer error is the generated key's row being unavailable (a 503 to retry); the
    /// inner one the state's refusal.
    pub(crate) async fn open_state<T: DeserializeOwned>(
        &self,
        purpose: Purpose,
        binding: Option<&str>,
        sealed: &str,
        budget: Budget,
    ) -> Result<Result<T, StateError>, Error> {
        // Only a sealed value: `Sealer::open` passes plaintext through.
        if !sealed.starts_with(PREFIX) || sealed.len() > 8 * 1024 {
            return Ok(Err(StateError::Tampered));
        }
        let sealer = self.state_sealer(budget).await?;
        let json = match sealer.open(sealed, &self.state_aad()) {
            Ok(json) => json,
            Err(SealError::UnknownKey(_))
                if self.inner.sealing.sealer().is_none() && self.inner.state_keys.may_reload() =>
            {
                // Another instance's generated key (their first moments): read the row again.
                self.read_state_key(budget, false).await?;
                let opened = self
                    .inner
                    .state_keys
                    .sealer()
                    .and_then(|sealer| sealer.open(sealed, &self.state_aad()).ok());
                match opened {
                    Some(json) => json,
                    None => return Ok(Err(StateError::Tampered)),
                }
            }
            Err(_) => return Ok(Err(StateError::Tampered)),
        };
        Ok(check_body(purpose, binding, &json, self.now()))
    }
}

/// The checks of an opened state's body: purpose, browser binding, expiry (`now`, epoch
/// seconds); its value when all pass.
fn check_body<T: DeserializeOwned>(
    purpose: Purpose,
    binding: Option<&str>,
    json: &str,
    now: u64,
) -> Result<T, StateError> {
    let body: Body<T> = serde_json::from_str(json).map_err(|_| StateError::Tampered)?;
    if body.p != purpose.name() {
        return Err(StateError::OtherPurpose);
    }
    let binding = binding.ok_or(StateError::Missing)?;
    if verify_slices_are_equal(body.b.as_bytes(), binding_hash(binding).as_bytes()).is_err() {
        return Err(StateError::OtherBrowser);
    }
    if i64::try_from(now).unwrap_or(i64::MAX) >= body.e {
        return Err(StateError::Expired);
    }
    Ok(body.v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_challenge_is_rfc7636_s256() {
        // RFC 7636, appendix B.
        assert_eq!(
            challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn a_state_opens_only_for_its_purpose_browser_and_time() {
        let body = Body {
            p: "sign-in".to_owned(),
            b: binding_hash("browser-1"),
            e: 100,
            v: 7,
        };
        let json = serde_json::to_string(&body).unwrap();
        let check = |purpose, binding, now| check_body::<i32>(purpose, binding, &json, now);
        assert_eq!(check(Purpose::SignIn, Some("browser-1"), 99), Ok(7));
        assert_eq!(
            check(Purpose::Login, Some("browser-1"), 99),
            Err(StateError::OtherPurpose)
        );
        assert_eq!(
            check(Purpose::SignIn, Some("browser-2"), 99),
            Err(StateError::OtherBrowser)
        );
        assert_eq!(check(Purpose::SignIn, None, 99), Err(StateError::Missing));
        assert_eq!(
            check(Purpose::SignIn, Some("browser-1"), 100),
            Err(StateError::Expired)
        );
        assert_eq!(
            check_body::<i32>(Purpose::SignIn, Some("browser-1"), "{}", 0),
            Err(StateError::Tampered)
        );
    }

    #[test]
    fn randoms_are_fresh_and_long_enough() {
        let (a, b) = (random(32).unwrap(), random(32).unwrap());
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
    }
}
