//! The login in flight: the `state`, OpenID `nonce` and PKCE verifier of one authorization
//! request, kept for ten minutes as a record in the session store (so the callback may land on
//! any Lambda instance) and taken exactly once.
//!
//! The record's key is derived from the `state` (`login#<base64url(SHA-256(state))>` in the
//! partition key, so it can never be a user's `sub`); the PKCE verifier, nonce and return path
//! are its `token` attribute, sealed like refresh tokens when encryption at rest is on. Taking it
//! is a compare-and-set of its version to `used`: of two callbacks carrying the same `state`,
//! exactly one gets it.

use aws_lc_rs::digest::{digest, SHA256};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::manager::Sessions;
use crate::store::{Patch, SessionKey, SessionRow, StoreError, Version};
use crate::{store_error, Service};

/// How long a login may take, from the redirect to Cognito to the callback.
pub(crate) const LIFETIME_SECS: i64 = 600;

/// The version a taken record is left with until it is deleted.
const USED: &str = "used";

/// One authorization request's secrets.
#[derive(Serialize, Deserialize)]
pub(crate) struct Pending {
    /// The `state` parameter (also the browser-binding cookie's value).
    #[serde(skip)]
    pub state: String,
    /// The OpenID `nonce` the ID token must carry.
    #[serde(rename = "n")]
    pub nonce: String,
    /// The PKCE `code_verifier`.
    #[serde(rename = "v")]
    pub verifier: String,
    /// Where to go after the login: a same-origin path.
    #[serde(rename = "r")]
    pub return_to: String,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending")
            .field("return_to", &self.return_to)
            .finish_non_exhaustive()
    }
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

impl Pending {
    /// Fresh secrets for a login that returns to `return_to`. 32 random bytes each: the
    /// verifier is 43 characters, the shortest RFC 7636 allows.
    pub(crate) fn new(return_to: String) -> Result<Pending, Error> {
        Ok(Pending {
            state: random(32)?,
            nonce: random(32)?,
            verifier: random(32)?,
            return_to,
        })
    }
}

impl Sessions {
    fn pending_key(&self, state: &str) -> (String, Option<&'static str>) {
        let sub = format!(
            "login#{}",
            URL_SAFE_NO_PAD.encode(digest(&SHA256, state.as_bytes()))
        );
        (sub, self.inner.per_device.then_some("login"))
    }

    /// Stores `pending` for [`LIFETIME_SECS`].
    pub(crate) async fn save_pending(&self, pending: &Pending) -> Result<(), Error> {
        let (sub, session) = self.pending_key(&pending.state);
        let key = SessionKey { sub: &sub, session };
        let secrets = serde_json::to_string(pending)
            .map_err(|e| Error::config_with("internal: cannot encode the login state", e))?;
        let now = i64::try_from(self.now()).unwrap_or(i64::MAX);
        let mut row = SessionRow::at(key);
        row.timestamp = now;
        row.expires_at = Some(now.saturating_add(LIFETIME_SECS));
        row.refresh_token = Some(
            self.inner
                .sealing
                .seal_token(key, &secrets)
                .map_err(|e| Error::unavailable(Service::DynamoDb, "encrypting the login", e))?,
        );
        row.version = Some(Version::new(random(16)?));
        self.inner
            .store
            .put(&row)
            .await
            .map_err(|e| store_error(e, "storing the login"))
    }

    /// Takes the pending login of `state`, once: `None` when it was never issued, has expired,
    /// or was taken before.
    pub(crate) async fn take_pending(&self, state: &str) -> Result<Option<Pending>, Error> {
        let (sub, session) = self.pending_key(state);
        let key = SessionKey { sub: &sub, session };
        let row = self
            .inner
            .store
            .load(key)
            .await
            .map_err(|e| store_error(e, "reading the login"))?;
        let Some(row) = row else {
            return Ok(None);
        };
        let now = i64::try_from(self.now()).unwrap_or(i64::MAX);
        let version = match &row.version {
            Some(v) if v.as_str() != USED => v.clone(),
            _ => return Ok(None),
        };
        if row.expires_at.is_none_or(|at| at <= now) {
            self.forget_pending(key, Some(&version)).await;
            return Ok(None);
        }
        let used = Version::new(USED);
        match self
            .inner
            .store
            .update(key, Some(&version), &Patch::new(Some(used.clone())))
            .await
        {
            Ok(_) => {}
            Err(StoreError::Conflict(_)) => return Ok(None),
            Err(e) => return Err(store_error(e, "taking the login")),
        }
        // Taken: the record's work is done whatever happens next.
        self.forget_pending(key, Some(&used)).await;
        let secrets = match self.inner.sealing.reveal(&row) {
            Ok(Some(secrets)) => secrets,
            Ok(None) => return Ok(None),
            Err(error) => {
                tracing::error!(error = %crate::error::Chain(&error), "a pending login cannot be decrypted (was the encryption key changed during the login?)");
                return Ok(None);
            }
        };
        match serde_json::from_str::<Pending>(&secrets) {
            Ok(mut pending) => {
                pending.state = state.to_owned();
                Ok(Some(pending))
            }
            Err(_) => Ok(None),
        }
    }

    /// Deletes a used or expired login record; a failure only leaves it to expire.
    async fn forget_pending(&self, key: SessionKey<'_>, version: Option<&Version>) {
        if let Err(error) = self.inner.store.delete(key, version).await {
            tracing::debug!(error = %crate::error::Chain(&error), "a used login record was not deleted; it expires by itself");
        }
    }
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
    fn secrets_are_fresh_and_long_enough() {
        let a = Pending::new("/".into()).unwrap();
        let b = Pending::new("/".into()).unwrap();
        assert_eq!(a.verifier.len(), 43);
        assert_ne!(a.state, b.state);
        assert_ne!(a.nonce, b.nonce);
        assert_ne!(a.verifier, b.verifier);
        assert!(!format!("{a:?}").contains(&a.verifier));
    }
}
