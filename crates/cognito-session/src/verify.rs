//! The glue between the session manager and the [`cognito_jwt`] verifier: verification answering
//! the session manager's [`Error`]s, and the stored hash of a replaced token.

use aws_lc_rs::digest::{digest, SHA256};

pub(crate) use cognito_jwt::{Claims, Freshness};

use crate::error::Error;

/// The verifier of a [`Sessions`](crate::Sessions), answering the session manager's errors.
pub(crate) struct Verifier {
    pub inner: cognito_jwt::Verifier,
    pub client_id: String,
}

impl Verifier {
    /// Verifies `token` at `now` (epoch seconds): tokens expired within the refresh window
    /// (the session lifetime) come back as [`Freshness::Expired`].
    pub(crate) async fn verify(&self, token: &str, now: u64) -> Result<(Claims, Freshness), Error> {
        Ok(self.inner.verify_at(token, now).await?)
    }

    /// The verified-token cache's answer alone (synchronous: a hit builds no future).
    pub(crate) fn cached(&self, token: &str, now: u64) -> Option<Claims> {
        self.inner.cached(token, now)
    }
}

/// How a refresh records the token it replaced (the row's `refreshed_from`): a stored format,
/// SHA-256 of the whole token. (Named as before the verifier moved out, for `refresh.rs`.)
pub(crate) struct TokenCache;

impl TokenCache {
    /// SHA-256 of `token`.
    pub(crate) fn hash(token: &str) -> [u8; 32] {
        let mut hash = [0; 32];
        hash.copy_from_slice(digest(&SHA256, token.as_bytes()).as_ref());
        hash
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_id_is_sha256() {
        // The SHA-256 of "abc" (FIPS 180-2): rows written by earlier versions stay joinable.
        let expected = [
            0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae,
            0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61,
            0xf2, 0x00, 0x15, 0xad,
        ];
        assert_eq!(TokenCache::hash("abc"), expected);
    }
}
