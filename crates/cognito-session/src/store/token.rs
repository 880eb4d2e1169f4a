//! [`StoredToken`]: the `token` attribute as a store holds it, sealed or plain, never printed.

use std::fmt;

/// The marker of a sealed value: `enc:v1:<key id>:<base64 of nonce, ciphertext and tag>`.
pub(crate) const PREFIX: &str = "enc:v1:";

/// A refresh token as the session store holds it: sealed (`enc:v1:<key id>:…`) when encryption
/// at rest is on, the plaintext token otherwise (rows written by the seed, or a store without a
/// key). Reading a row never decrypts it; `Debug` and `Display` print `<redacted>`.
///
/// ```
/// use cognito_session::store::StoredToken;
/// let plain = StoredToken::new("eyJjdHkiOiJKV1Qi.secret");
/// assert_eq!(format!("{plain:?} {plain}"), "<redacted> <redacted>");
/// assert!(!plain.is_sealed());
/// let sealed = StoredToken::new("enc:v1:0a1b2c3d:c2VjcmV0");
/// assert_eq!(sealed.key_id(), Some("0a1b2c3d"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct StoredToken(String);

impl StoredToken {
    /// The `token` attribute exactly as stored (for [`SessionStore`](crate::store::SessionStore)
    /// implementations reading a row).
    pub fn new(value: impl Into<String>) -> Self {
        StoredToken(value.into())
    }

    /// Whether the value is encrypted (`enc:v1:…`).
    pub fn is_sealed(&self) -> bool {
        self.0.starts_with(PREFIX)
    }

    /// The id of the key the value is encrypted with (8 hex digits, as
    /// [`Sealer::key_id`](crate::Sealer::key_id)); `None` for a plaintext token. Not a secret: it tells an operator
    /// which rows still need an old key (see `SESSION_ENCRYPTION_OLD_KEYS`).
    pub fn key_id(&self) -> Option<&str> {
        let rest = self.0.strip_prefix(PREFIX)?;
        rest.split_once(':').map(|(id, _)| id)
    }

    /// The value exactly as stored, to write it back: for [`SessionStore`](crate::store::SessionStore)
    /// implementations only. It is the plaintext refresh token when the store does not encrypt;
    /// never log or display it. The rows of [`Sessions::list`](crate::Sessions::list) hold no
    /// secret here (see [`withheld`](Self::withheld)).
    ///
    /// ```
    /// use cognito_session::store::StoredToken;
    /// assert_eq!(StoredToken::new("stored").expose_secret(), "stored");
    /// ```
    pub fn expose_secret(&self) -> &str {
        &self.0
    }

    /// The same value without its secret, for display and operations: only the key id of a
    /// sealed value is kept (`enc:v1:<key id>:`); a plaintext token becomes empty.
    ///
    /// ```
    /// use cognito_session::store::StoredToken;
    /// let withheld = StoredToken::new("enc:v1:0a1b2c3d:c2VjcmV0").withheld();
    /// assert_eq!(withheld.key_id(), Some("0a1b2c3d"));
    /// assert!(!withheld.expose_secret().contains("c2VjcmV0"));
    /// assert_eq!(StoredToken::new("plaintext").withheld().expose_secret(), "");
    /// ```
    pub fn withheld(&self) -> StoredToken {
        StoredToken(match self.key_id() {
            Some(id) => format!("{PREFIX}{id}:"),
            None => String::new(),
        })
    }
}

impl fmt::Debug for StoredToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for StoredToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}
