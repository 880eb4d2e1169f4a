//! Sealing: refresh tokens (and the last refresh's access token) encrypted at rest, above the
//! store. AES-256-GCM (aws-lc-rs), a random nonce per write, and the row's key as associated
//! data, so a ciphertext copied into another row does not decrypt.
//!
//! Stored form: `enc:v1:<key id>:<base64url(nonce ‖ ciphertext ‖ tag)>`. The key id (8 hex digits
//! of the key's SHA-256) selects the key, so old keys can still decrypt after a rotation. A value
//! without the prefix is a plaintext token (a row written by the seed's login flow).
//!
//! The session code seals what it writes and opens what it sends, whatever the
//! [`SessionStore`](crate::store::SessionStore): a store only keeps the values it is given.
//! Rows are read without decrypting: a row holds its `token` attribute as a
//! [`StoredToken`] (sealed or plain, redacted in `Debug`/`Display`), and the refresh token is
//! decrypted only at the moment it is sent to Cognito (a refresh, a logout's `RevokeToken`). A
//! request with a valid token needs the row's existence and family, not its secret, so it keeps
//! working while the row's key is being retired (or is missing altogether).
//!
//! The sealed form is recognised even with no key configured: it can never be a Cognito refresh
//! token (those are JWEs, `eyJ…`), so it is never sent to Cognito as one.
//!
//! ```
//! use cognito_session::Sealer;
//! let sealer = Sealer::new([7u8; 32], vec![]);
//! let stored = sealer.seal("refresh-token", b"table\0sub").unwrap();
//! assert!(stored.starts_with("enc:v1:"));
//! assert_eq!(sealer.open(&stored, b"table\0sub").unwrap(), "refresh-token");
//! // Another row's key as associated data: refused.
//! assert!(sealer.open(&stored, b"table\0other-sub").is_err());
//! ```

use std::fmt;
use std::sync::Arc;

use aws_lc_rs::aead::{Aad, Nonce, RandomizedNonceKey, AES_256_GCM, NONCE_LEN};
use aws_lc_rs::digest::{digest, SHA256};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use crate::store::{SessionKey, SessionRow, StoredToken, PREFIX};

/// Why a stored refresh token could not be decrypted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    /// The value is encrypted, but with a key we don't have.
    #[error("the refresh token is encrypted with unknown key {0}")]
    UnknownKey(String),
    /// The value is encrypted (with key id `0`), and this store has no encryption key at all.
    #[error("the refresh token is encrypted with key {0}, and no encryption key is configured")]
    NoKey(String),
    /// The value is encrypted but damaged, or belongs to another row.
    #[error("the encrypted refresh token does not decrypt (damaged, or copied from another row)")]
    Corrupt,
    /// Encryption failed (no randomness).
    #[error("encryption failed")]
    Seal,
}

impl StoredToken {
    /// The plaintext token of a store that does not encrypt: the value itself, unless it is
    /// sealed (which no Cognito refresh token looks like), then [`SealError::NoKey`].
    pub(crate) fn reveal_unsealed(&self) -> Result<String, SealError> {
        match (self.is_sealed(), self.key_id()) {
            (false, _) => Ok(self.expose_secret().to_owned()),
            (true, Some(id)) => Err(SealError::NoKey(id.to_owned())),
            (true, None) => Err(SealError::Corrupt),
        }
    }
}

struct Key {
    id: String,
    key: RandomizedNonceKey,
}

/// The current encryption key and the old ones that may still decrypt.
///
/// ```
/// use cognito_session::Sealer;
/// let old = Sealer::new([1u8; 32], vec![]);
/// let stored = old.seal("rt", b"aad").unwrap();
/// let rotated = Sealer::new([2u8; 32], vec![[1u8; 32]]);
/// assert_eq!(rotated.open(&stored, b"aad").unwrap(), "rt");
/// // Written with an old key: re-encrypted with the current one on the next refresh.
/// assert_ne!(rotated.key_id(), old.key_id());
/// ```
pub struct Sealer {
    current: Key,
    old: Vec<Key>,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealer")
            .field("current", &self.current.id)
            .field(
                "old",
                &self.old.iter().map(|k| k.id.as_str()).collect::<Vec<_>>(),
            )
            .finish()
    }
}

fn key(bytes: &[u8; 32]) -> Key {
    let hash = digest(&SHA256, bytes);
    let id = hash.as_ref()[..4]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Key {
        id,
        // A 32-byte key is always valid for AES-256-GCM.
        key: RandomizedNonceKey::new(&AES_256_GCM, bytes).unwrap_or_else(|_| unreachable!()),
    }
}

impl Sealer {
    /// A sealer that encrypts with `current` and can also decrypt with each of `old`.
    pub fn new(current: [u8; 32], old: Vec<[u8; 32]>) -> Self {
        Sealer {
            current: key(&current),
            old: old.iter().map(key).collect(),
        }
    }

    /// Reads a key as `SESSION_ENCRYPTION_KEY` holds it: 32 bytes in base64 (standard or
    /// URL-safe, padded or not); the error says what is wrong with it (never the key).
    ///
    /// ```
    /// use cognito_session::Sealer;
    /// let key = Sealer::parse_key("AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=").unwrap();
    /// assert_eq!(key[0], 1);
    /// assert!(Sealer::parse_key("c2hvcnQ=").unwrap_err().contains("32"));
    /// ```
    pub fn parse_key(text: &str) -> Result<[u8; 32], String> {
        parse_key(text)
    }

    /// The id of the current key (8 hex digits).
    pub fn key_id(&self) -> &str {
        &self.current.id
    }

    /// Encrypts `token` for the row identified by `aad`.
    pub fn seal(&self, token: &str, aad: &[u8]) -> Result<String, SealError> {
        let mut in_out = token.as_bytes().to_vec();
        let nonce = self
            .current
            .key
            .seal_in_place_append_tag(Aad::from(aad), &mut in_out)
            .map_err(|_| SealError::Seal)?;
        let mut blob = nonce.as_ref().to_vec();
        blob.extend_from_slice(&in_out);
        Ok(format!(
            "{PREFIX}{}:{}",
            self.current.id,
            URL_SAFE_NO_PAD.encode(blob)
        ))
    }

    /// Decrypts a stored value (or passes a plaintext one through).
    pub fn open(&self, stored: &str, aad: &[u8]) -> Result<String, SealError> {
        let Some(rest) = stored.strip_prefix(PREFIX) else {
            return Ok(stored.to_owned());
        };
        let (id, blob) = rest.split_once(':').ok_or(SealError::Corrupt)?;
        let key = std::iter::once(&self.current)
            .chain(&self.old)
            .find(|k| k.id == id)
            .ok_or_else(|| SealError::UnknownKey(id.to_owned()))?;
        let mut blob = URL_SAFE_NO_PAD
            .decode(blob)
            .map_err(|_| SealError::Corrupt)?;
        if blob.len() < NONCE_LEN {
            return Err(SealError::Corrupt);
        }
        let mut ciphertext = blob.split_off(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(&blob).map_err(|_| SealError::Corrupt)?;
        let plain = key
            .key
            .open_in_place(nonce, Aad::from(aad), &mut ciphertext)
            .map_err(|_| SealError::Corrupt)?;
        String::from_utf8(plain.to_vec()).map_err(|_| SealError::Corrupt)
    }
}

/// Sealing as the session code applies it, whatever the store: the sealer (when encryption at
/// rest is on) and the table name, which is part of every value's associated data with the
/// row's key values (as it always was), so values move neither between rows nor tables.
#[derive(Debug, Clone, Default)]
pub(crate) struct Sealing {
    sealer: Option<Arc<Sealer>>,
    /// Shared: a request that keeps its profile sealed until asked keeps a copy.
    table: Arc<str>,
}

/// The attribute the last refresh's access token is stored in (part of its associated data).
const REFRESHED_TOKEN: &str = "refreshed_token";

impl Sealing {
    /// The sealer, when encryption at rest is on.
    pub(crate) fn sealer(&self) -> Option<&Sealer> {
        self.sealer.as_deref()
    }

    /// The sealer, shared, when encryption at rest is on.
    pub(crate) fn sealer_arc(&self) -> Option<Arc<Sealer>> {
        self.sealer.clone()
    }

    /// Seals with `sealer` (none: values are stored as given) for rows of table `table`.
    pub(crate) fn new(sealer: Option<Sealer>, table: impl Into<String>) -> Self {
        Sealing {
            sealer: sealer.map(Arc::new),
            table: Arc::from(table.into()),
        }
    }

    /// The associated data binding a ciphertext to its row: table and key values.
    fn aad(&self, key: SessionKey<'_>) -> Vec<u8> {
        let session = key.session.unwrap_or_default();
        [
            self.table.as_bytes(),
            b"\0",
            key.sub.as_bytes(),
            b"\0",
            session.as_bytes(),
        ]
        .concat()
    }

    /// The associated data of the `refreshed_token` value: the row's, and the attribute's name,
    /// so neither that value nor the refresh token's can stand in for the other.
    fn refreshed_aad(&self, key: SessionKey<'_>) -> Vec<u8> {
        [&self.aad(key)[..], b"\0", REFRESHED_TOKEN.as_bytes()].concat()
    }

    /// The `token` attribute to store for refresh token `token` in the row at `key`.
    pub(crate) fn seal_token(
        &self,
        key: SessionKey<'_>,
        token: &str,
    ) -> Result<StoredToken, SealError> {
        match &self.sealer {
            None => Ok(StoredToken::new(token)),
            Some(sealer) => sealer.seal(token, &self.aad(key)).map(StoredToken::new),
        }
    }

    /// The `profile` attribute to store for `profile` (JSON) in the row at `key`.
    pub(crate) fn seal_profile(
        &self,
        key: SessionKey<'_>,
        profile: &str,
    ) -> Result<String, SealError> {
        match &self.sealer {
            None => Ok(profile.to_owned()),
            Some(sealer) => sealer.seal(profile, &[&self.aad(key)[..], b"\0profile"].concat()),
        }
    }

    /// The row's profile; `None` when it has none or it cannot be read (a profile is never
    /// worth refusing a session over).
    pub(crate) fn open_profile(&self, row: &SessionRow) -> Option<crate::Profile> {
        self.open_profile_at(row.key(), row.profile.as_deref()?)
    }

    /// The profile `stored` in the row at `key` (see [`open_profile`](Self::open_profile)).
    pub(crate) fn open_profile_at(
        &self,
        key: SessionKey<'_>,
        stored: &str,
    ) -> Option<crate::Profile> {
        match &self.sealer {
            None if stored.starts_with("enc:") => None,
            None => crate::Profile::from_json(stored),
            Some(sealer) => {
                let json = sealer
                    .open(stored, &[&self.aad(key)[..], b"\0profile"].concat())
                    .ok()?;
                crate::Profile::from_json(&json)
            }
        }
    }

    /// The `refreshed_token` attribute to store for access token `token`.
    pub(crate) fn seal_refreshed(
        &self,
        key: SessionKey<'_>,
        token: &str,
    ) -> Result<String, SealError> {
        match &self.sealer {
            None => Ok(token.to_owned()),
            Some(sealer) => sealer.seal(token, &self.refreshed_aad(key)),
        }
    }

    /// The access token of the row's last refresh, for a request that joins it. One that cannot
    /// be read is as good as none: a request that cannot join refreshes by itself.
    pub(crate) fn open_refreshed(&self, row: &SessionRow) -> Option<String> {
        let stored = row.refreshed_token.as_deref()?;
        match &self.sealer {
            None if stored.starts_with("enc:") => None,
            None => Some(stored.to_owned()),
            Some(sealer) => match sealer.open(stored, &self.refreshed_aad(row.key())) {
                Ok(token) => Some(token),
                Err(error) => {
                    tracing::debug!(sub = row.sub.as_str(), error = %crate::error::Chain(&error), "the last refresh's access token cannot be read; no request can join it");
                    None
                }
            },
        }
    }

    /// The plaintext refresh token of `row`; `None` if the row has none. Without a sealer, a
    /// sealed value is [`SealError::NoKey`]; with one that lacks the row's key id,
    /// [`SealError::UnknownKey`]; a damaged value (or one copied from another row),
    /// [`SealError::Corrupt`].
    pub(crate) fn reveal(&self, row: &SessionRow) -> Result<Option<String>, SealError> {
        let Some(token) = &row.refresh_token else {
            return Ok(None);
        };
        match &self.sealer {
            None => token.reveal_unsealed().map(Some),
            Some(sealer) => sealer
                .open(token.expose_secret(), &self.aad(row.key()))
                .map(Some),
        }
    }

    /// Whether the row's refresh token is plaintext or under an old key while encryption is on
    /// (known from its key id, without decrypting): re-encrypt it on the next refresh.
    pub(crate) fn stale(&self, row: &SessionRow) -> bool {
        match (&row.refresh_token, &self.sealer) {
            (Some(token), Some(sealer)) => token.key_id() != Some(sealer.key_id()),
            _ => false,
        }
    }
}

/// Parses a base64 (standard or URL-safe) 32-byte key, as in `SESSION_ENCRYPTION_KEY`
/// (the public face is [`Sealer::parse_key`]).
pub(crate) fn parse_key(text: &str) -> Result<[u8; 32], String> {
    use base64::engine::general_purpose::{STANDARD, URL_SAFE};
    let text = text.trim();
    let bytes = STANDARD
        .decode(text)
        .or_else(|_| URL_SAFE.decode(text))
        .or_else(|_| URL_SAFE_NO_PAD.decode(text))
        .map_err(|_| "not base64".to_owned())?;
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| {
        format!(
            "{} bytes; it must be 32 (e.g. `openssl rand -base64 32`)",
            bytes.len()
        )
    })
}

/// Decrypts the data key `ciphertext` (base64, from `SESSION_KMS_CIPHERTEXT`) with KMS.
#[cfg(feature = "kms")]
pub(crate) async fn kms_data_key(
    client: &aws_sdk_kms::Client,
    ciphertext: &str,
) -> Result<[u8; 32], crate::Error> {
    use crate::sdk::{classify, is_config_code, Failure};
    use crate::{Error, Service};
    let blob = base64::engine::general_purpose::STANDARD
        .decode(ciphertext.trim())
        .map_err(|_| Error::config("SESSION_KMS_CIPHERTEXT is invalid: not base64"))?;
    let output = client
        .decrypt()
        .ciphertext_blob(aws_sdk_kms::primitives::Blob::new(blob))
        .send()
        .await
        .map_err(|error| match classify(&error) {
            Failure::Service { code, message } if is_config_code(&code) || code.starts_with("Invalid") || code.contains("Key") => {
                Error::config_with(
                    format!("KMS cannot decrypt SESSION_KMS_CIPHERTEXT: {code} ({message}); check the ciphertext, the key policy and kms:Decrypt permission"),
                    error,
                )
            }
            _ => Error::unavailable(Service::Kms, "decrypting the session encryption key", error),
        })?;
    let plaintext = output.plaintext.map(|b| b.into_inner()).unwrap_or_default();
    <[u8; 32]>::try_from(plaintext.as_slice()).map_err(|_| {
        Error::config(format!(
            "SESSION_KMS_CIPHERTEXT decrypts to {} bytes; it must be a 32-byte data key (GenerateDataKey with KeySpec AES_256)",
            plaintext.len()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_differ_per_write() {
        let sealer = Sealer::new([9; 32], vec![]);
        assert_ne!(
            sealer.seal("t", b"a").unwrap(),
            sealer.seal("t", b"a").unwrap()
        );
    }

    #[test]
    fn plaintext_passes_through() {
        let sealer = Sealer::new([9; 32], vec![]);
        assert_eq!(sealer.open("plain-token", b"a").unwrap(), "plain-token");
    }

    #[test]
    fn damaged_and_unknown() {
        let sealer = Sealer::new([9; 32], vec![]);
        let stored = sealer.seal("t", b"a").unwrap();
        let mut damaged = stored.clone();
        damaged.pop();
        damaged.push(if stored.ends_with('A') { 'B' } else { 'A' });
        assert_eq!(sealer.open(&damaged, b"a"), Err(SealError::Corrupt));
        assert_eq!(sealer.open("enc:v1:zz", b"a"), Err(SealError::Corrupt));
        assert_eq!(
            sealer.open("enc:v1:00000000:AAAA", b"a"),
            Err(SealError::UnknownKey("00000000".into()))
        );
        let other = Sealer::new([8; 32], vec![]);
        assert!(matches!(
            other.open(&stored, b"a"),
            Err(SealError::UnknownKey(_))
        ));
    }

    #[test]
    fn a_store_without_a_key_recognises_sealed_values() {
        let stored = Sealer::new([9; 32], vec![]).seal("t", b"a").unwrap();
        let id = Sealer::new([9; 32], vec![]).key_id().to_owned();
        assert_eq!(
            StoredToken::new(stored).reveal_unsealed(),
            Err(SealError::NoKey(id))
        );
        assert_eq!(
            StoredToken::new("enc:v1:no-colon").reveal_unsealed(),
            Err(SealError::Corrupt)
        );
        assert_eq!(
            StoredToken::new("plain").reveal_unsealed().unwrap(),
            "plain"
        );
    }

    #[test]
    fn keys_parse_from_base64() {
        assert_eq!(
            parse_key(&base64::engine::general_purpose::STANDARD.encode([5u8; 32])),
            Ok([5u8; 32])
        );
        assert!(parse_key("c2hvcnQ=").unwrap_err().contains("32"));
        assert!(parse_key("***").is_err());
    }
}
