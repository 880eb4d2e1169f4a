//! WARN lines for tokens that verify against the pool's keys but are refused for a
//! configuration-shaped reason (another app client, another issuer): a wrong client id, pool id
//! or Region would otherwise refuse every user without a line above DEBUG. Rate-limited per
//! cause; only refused tokens pay for the lock.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::claims::ClaimsRejected;
use crate::settings::SettingNames;

/// One line per cause (kind, expected, actual) per this interval, per process.
pub(crate) const INTERVAL: Duration = Duration::from_secs(60);
/// Causes remembered at once (client ids and issuers of one pool: few in practice).
const MAX_CAUSES: usize = 64;

type Cause = (&'static str, Box<str>, Box<str>);

fn last_warned() -> &'static Mutex<HashMap<Cause, Instant>> {
    static MAP: OnceLock<Mutex<HashMap<Cause, Instant>>> = OnceLock::new();
    MAP.get_or_init(Mutex::default)
}

/// Whether the cause is due a line now (and records it if so).
fn due(cause: Cause, now: Instant) -> bool {
    let mut map = last_warned().lock().unwrap_or_else(|p| p.into_inner());
    if let Some(at) = map.get(&cause) {
        if now.duration_since(*at) < INTERVAL {
            return false;
        }
    }
    if map.len() >= MAX_CAUSES && !map.contains_key(&cause) {
        map.retain(|_, at| now.duration_since(*at) < INTERVAL);
        if map.len() >= MAX_CAUSES {
            return false;
        }
    }
    map.insert(cause, now);
    true
}

/// A token whose signature verified was refused with `rejected`: warn (rate-limited) if that
/// points at this function's configuration. Never logs the token.
pub(crate) fn signed_but_refused(
    rejected: &ClaimsRejected,
    expected_issuer: &str,
    expected_clients: &[String],
    actual_issuer: &str,
    actual_client: &str,
    names: &SettingNames,
) {
    let expected_client = &*expected_clients.join(", ");
    match rejected {
        ClaimsRejected::Client
            if due(
                ("client", expected_client.into(), actual_client.into()),
                Instant::now(),
            ) =>
        {
            tracing::warn!(
                expected_client_id = expected_client,
                actual_client_id = actual_client,
                "a token signed by the user pool's keys was refused: it was issued to app \
                 client {actual_client}, not to the configured {expected_client}; check {} \
                 (every such request is a 401; at most one line per minute per cause)",
                names.client_ids
            );
        }
        ClaimsRejected::Issuer
            if due(
                ("issuer", expected_issuer.into(), actual_issuer.into()),
                Instant::now(),
            ) =>
        {
            tracing::warn!(
                expected_issuer,
                actual_issuer,
                "a token signed by the user pool's keys was refused: its issuer is \
                 {actual_issuer}, not the configured {expected_issuer}; check {} (every such \
                 request is a 401; at most one line per minute per cause)",
                names.issuers
            );
        }
        _ => {}
    }
}

/// While the pool is still being learned, a token for another app client is refused before any
/// key is fetched (a forged token must cost nothing), so nobody knows whether it is genuine. If
/// every user is refused that way, the configured client id is the likely mistake: say so, at
/// most once a minute whatever the token says (so made-up client ids cannot flood the log).
pub(crate) fn refused_while_learning(
    rejected: &ClaimsRejected,
    expected_clients: &[String],
    actual_client: &str,
    names: &SettingNames,
) {
    let expected_client = &*expected_clients.join(", ");
    if matches!(rejected, ClaimsRejected::Client)
        && due(
            ("learning-client", expected_client.into(), "".into()),
            Instant::now(),
        )
    {
        // The token is unverified: its client id is attacker's text, so it goes only into a
        // field, Debug-escaped (no newline or terminal escape reaches the log as such) and cut.
        let actual: String = actual_client.chars().take(128).collect();
        tracing::warn!(
            expected_client_id = expected_client,
            actual_client_id = ?actual,
            "a token for another app client (actual_client_id, unverified) was refused before \
             its signature was checked (the user pool is not configured, so it is learned from \
             the first token for {expected_client}); if every user is refused, check {}, or set \
             USER_POOL_ID so that such tokens are checked against the pool's keys (at most one \
             line per minute)",
            names.client_ids
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_cause_per_interval() {
        let t0 = Instant::now();
        let cause = || {
            (
                "client",
                Box::from("unit-expected"),
                Box::from("unit-actual"),
            )
        };
        assert!(due(cause(), t0));
        assert!(!due(cause(), t0 + Duration::from_secs(59)));
        assert!(
            due(("client", "unit-expected".into(), "unit-other".into()), t0),
            "another cause has its own line"
        );
        assert!(due(cause(), t0 + INTERVAL));
    }
}
