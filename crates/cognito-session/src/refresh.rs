//! The refresh protocol: the one place that orchestrates the session store and Cognito.
//!
//! An expired but genuine token (signature, issuer, client and token use already verified)
//! proves who the user is; the row proves the session is still open and belongs to the same
//! login (token family); Cognito decides whether the refresh token still works.
//! Only Cognito's definitive "no" deletes the row; every transient failure changes nothing.

use crate::cognito::{Cognito, RefreshFailed, Tokens};
use crate::error::{Error, Unauthorized};
use crate::store::{SessionRow, SessionStore};
use crate::verify::{Claims, Verifier};
use crate::{store_error, Service};

/// Does the row belong to the login that produced `claims`? Rows written by the seed carry no
/// family; they are bound to one on their first refresh.
pub(crate) fn same_family(row: &SessionRow, claims: &Claims) -> Result<(), Unauthorized> {
    match (&row.origin_jti, claims.origin_jti()) {
        (Some(row_family), Some(token_family)) if row_family == token_family => Ok(()),
        (Some(_), _) => Err(Unauthorized::FamilyMismatch),
        (None, _) => Ok(()),
    }
}

/// Refreshes the session of the expired token `claims`. Returns the new tokens and their
/// verified claims.
pub(crate) async fn refresh(
    store: &dyn SessionStore,
    cognito: &Cognito,
    verifier: &Verifier,
    claims: &Claims,
    now: u64,
) -> Result<(Claims, Tokens), Error> {
    let sub = claims.sub();
    let row = store
        .get(sub)
        .await
        .map_err(|e| store_error(e, "reading the session"))?
        .ok_or(Unauthorized::SessionEnded)?;
    same_family(&row, claims)?;
    let Some(refresh_token) = row.refresh_token.as_deref() else {
        tracing::warn!(sub, "the session row has no `token` attribute; refusing");
        return Err(Unauthorized::SessionEnded.into());
    };

    let tokens = match Box::pin(cognito.refresh(refresh_token, claims.username())).await {
        Ok(tokens) => tokens,
        Err(RefreshFailed::Rejected(reason)) => {
            tracing::info!(sub, %reason, "Cognito refused the refresh token; ending the session");
            if let Err(error) = store.delete(sub, Some(&row)).await {
                tracing::warn!(sub, %error, "could not delete the refused session row");
            }
            return Err(Unauthorized::Revoked.into());
        }
        Err(RefreshFailed::Other(error)) => return Err(error),
    };

    let (new_claims, _) = verifier
        .verify(&tokens.access_token, now, None)
        .await
        .map_err(|e| {
            Error::unavailable(
                Service::Cognito,
                "checking the refreshed token",
                format!("Cognito returned an access token that does not verify: {e}"),
            )
        })?;
    if new_claims.sub() != sub {
        return Err(Error::unavailable(
            Service::Cognito,
            "checking the refreshed token",
            "Cognito returned a token for another user",
        ));
    }
    // A seed row has no family yet: the refresh token's family (the new token's origin_jti)
    // must be the presented token's, or the presented token is from an older login.
    if row.origin_jti.is_none() {
        if let (Some(presented), Some(current)) = (claims.origin_jti(), new_claims.origin_jti()) {
            if presented != current {
                return Err(Unauthorized::FamilyMismatch.into());
            }
        }
    }

    let timestamp = i64::try_from(now).unwrap_or(i64::MAX);
    match store
        .record_refresh(&row, timestamp, new_claims.origin_jti())
        .await
    {
        Ok(()) => {}
        // Logged out or logged in again while we refreshed: this token's session is over.
        Err(crate::store::StoreError::Conflict) => return Err(Unauthorized::SessionEnded.into()),
        // The refresh token did not change, so the session is intact: hand out the tokens.
        Err(error) => {
            tracing::warn!(sub, %error, "refreshed, but could not record the refresh time");
        }
    }
    Ok((new_claims, tokens))
}
