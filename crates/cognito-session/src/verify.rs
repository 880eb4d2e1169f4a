//! The glue between the session manager and the [`cognito_jwt`] verifier: verification answering
//! the session manager's [`Error`]s.

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
