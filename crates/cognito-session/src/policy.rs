//! The row rules the session code applies to what a store returns: which row a token's session
//! is in, whether it belongs to the token's login, whether it is still alive, and what version a
//! write gives it. Used by the request path, logout and the refresh protocol alike.

use aws_lc_rs::digest::{digest, SHA256};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use crate::error::Unauthorized;
use crate::store::{SessionKey, SessionRow, Version};
use crate::verify::Claims;

/// How the protocol names an access token in a row: base64url of its SHA-256. A refresh records
/// the token it replaced under it (`refreshed_from`), and a login or refresh that issues a token
/// gives the row that token's id as its version, so the expired token names the version its
/// refresh expects.
pub(crate) fn token_id(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest(&SHA256, token.as_bytes()))
}

/// The version of a row written by the login or refresh that issued access token `token`.
pub(crate) fn issued(token: &str) -> Version {
    Version::new(token_id(token))
}

/// Does the row belong to the login that produced `claims`? Rows written by the seed carry no
/// family; they are bound to one on their first refresh.
pub(crate) fn same_family(row: &SessionRow, claims: &Claims) -> Result<(), Unauthorized> {
    match (&row.origin_jti, claims.origin_jti()) {
        (Some(row_family), Some(token_family)) if row_family == token_family => Ok(()),
        (Some(_), _) => Err(Unauthorized::FamilyMismatch),
        (None, _) => Ok(()),
    }
}

/// Is `row` a live session for the login of `claims` at `now` (epoch seconds)? Checks the token
/// family, the absolute lifetime (`expires_at`, which DynamoDB's TTL enforces only lazily) and,
/// when set, the idle timeout (since the last recorded activity or refresh).
pub(crate) fn usable(
    row: &SessionRow,
    claims: &Claims,
    now: u64,
    idle: Option<u64>,
) -> Result<(), Unauthorized> {
    same_family(row, claims)?;
    let now = i64::try_from(now).unwrap_or(i64::MAX);
    let ended = if row.expires_at.is_some_and(|end| now > end) {
        Some("expired")
    } else {
        idle.filter(|idle| {
            now.saturating_sub(last_active(row)) > i64::try_from(*idle).unwrap_or(i64::MAX)
        })
        .map(|_| "idle")
    };
    match ended {
        Some(reason) => {
            crate::telemetry::ended_once(reason, &row.sub, row.origin_jti.as_deref());
            Err(Unauthorized::SessionEnded)
        }
        None => Ok(()),
    }
}

/// The row of the login that produced `claims`: keyed by `sub`, plus the token family when the
/// table keeps one session per device.
pub(crate) fn key_of(claims: &Claims, per_device: bool) -> SessionKey<'_> {
    SessionKey {
        sub: claims.sub(),
        session: if per_device {
            claims.origin_jti()
        } else {
            None
        },
    }
}

/// The last recorded activity of a session: a touch, a refresh or the login.
pub(crate) fn last_active(row: &SessionRow) -> i64 {
    row.last_seen.unwrap_or(row.timestamp).max(row.timestamp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_ids_are_base64url_sha256() {
        // SHA-256 of the empty string.
        assert_eq!(token_id(""), "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU");
        assert_eq!(issued("").as_str(), token_id(""));
    }

    #[test]
    fn activity_is_the_later_of_touch_and_refresh() {
        let mut row = SessionRow::new("s", "rt", 100, None);
        assert_eq!(last_active(&row), 100);
        row.last_seen = Some(150);
        assert_eq!(last_active(&row), 150);
        row.last_seen = Some(50);
        assert_eq!(last_active(&row), 100);
    }
}
