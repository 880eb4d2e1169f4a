//! [`Profile`]: the user's attributes from the ID token (`email`, `name`, `custom:*`...), kept
//! in the session row so that no request needs a Cognito call for them.

use std::fmt;
use std::sync::{Arc, OnceLock};

use serde_json::{Map, Value};

use crate::seal::Sealing;
use crate::store::{SessionKey, SessionRow};
use crate::verify::Claims;

/// The ID token's claims that describe the token rather than the user: left out of a profile.
const PROTOCOL_CLAIMS: &[&str] = &[
    "iss",
    "aud",
    "exp",
    "iat",
    "nbf",
    "auth_time",
    "token_use",
    "jti",
    "origin_jti",
    "at_hash",
    "nonce",
    "event_id",
    "cognito:groups",
    "cognito:roles",
    "cognito:preferred_role",
];

/// The signed-in user's profile: the user attributes of their latest ID token, verified, and
/// renewed with every refresh. Stored in the session row (encrypted like the refresh token
/// when encryption at rest is on).
///
/// ```
/// let profile = cognito_session::Profile::from_json(
///     r#"{"sub":"1b2c","email":"ana@example.com","email_verified":true,"custom:team":"blue"}"#,
/// ).unwrap();
/// assert_eq!(profile.email(), Some("ana@example.com"));
/// assert_eq!(profile.email_verified(), Some(true));
/// assert_eq!(profile.attribute("custom:team").and_then(|v| v.as_str()), Some("blue"));
/// assert_eq!(profile.name(), None);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Profile(Arc<Map<String, Value>>);

impl Profile {
    /// The profile of verified ID-token claims.
    pub(crate) fn of(claims: &Claims) -> Profile {
        let attributes = claims
            .all()
            .iter()
            .filter(|(name, _)| !PROTOCOL_CLAIMS.contains(&name.as_str()))
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        Profile(Arc::new(attributes))
    }

    /// A profile from its stored form (a JSON object), as [`to_json`](Self::to_json) wrote it.
    ///
    /// ```
    /// assert!(cognito_session::Profile::from_json("[1]").is_none());
    /// ```
    pub fn from_json(json: &str) -> Option<Profile> {
        serde_json::from_str::<Map<String, Value>>(json)
            .ok()
            .map(|map| Profile(Arc::new(map)))
    }

    /// The stored form: a JSON object of the attributes.
    ///
    /// ```
    /// let profile = cognito_session::Profile::from_json(r#"{"name":"Ana"}"#).unwrap();
    /// assert_eq!(profile.to_json(), r#"{"name":"Ana"}"#);
    /// ```
    pub fn to_json(&self) -> String {
        Value::Object((*self.0).clone()).to_string()
    }

    /// `email`.
    ///
    /// ```
    /// let profile = cognito_session::Profile::from_json(r#"{"email":"a@example.com"}"#).unwrap();
    /// assert_eq!(profile.email(), Some("a@example.com"));
    /// ```
    pub fn email(&self) -> Option<&str> {
        self.0.get("email").and_then(Value::as_str)
    }

    /// `email_verified` (Cognito sends a boolean; the string `"true"` is read too).
    ///
    /// ```
    /// let profile = cognito_session::Profile::from_json(r#"{"email_verified":"false"}"#).unwrap();
    /// assert_eq!(profile.email_verified(), Some(false));
    /// ```
    pub fn email_verified(&self) -> Option<bool> {
        match self.0.get("email_verified")? {
            Value::Bool(b) => Some(*b),
            Value::String(s) => s.parse().ok(),
            _ => None,
        }
    }

    /// `name`.
    ///
    /// ```
    /// let profile = cognito_session::Profile::from_json(r#"{"name":"Ana Lima"}"#).unwrap();
    /// assert_eq!(profile.name(), Some("Ana Lima"));
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.0.get("name").and_then(Value::as_str)
    }

    /// Any attribute by its claim name: `given_name`, `phone_number`, `custom:plan`...
    ///
    /// ```
    /// let profile = cognito_session::Profile::from_json(r#"{"custom:plan":"pro"}"#).unwrap();
    /// assert_eq!(profile.attribute("custom:plan").and_then(|v| v.as_str()), Some("pro"));
    /// ```
    pub fn attribute(&self, name: &str) -> Option<&Value> {
        self.0.get(name)
    }

    /// Every attribute.
    ///
    /// ```
    /// let profile = cognito_session::Profile::from_json(r#"{"a":1,"b":2}"#).unwrap();
    /// assert_eq!(profile.all().len(), 2);
    /// ```
    pub fn all(&self) -> &Map<String, Value> {
        &self.0
    }
}

/// The profile a request found: none, one at hand, or one still as the row stores it (sealed
/// when encryption is on), decrypted and parsed the first time the app asks
/// ([`Session::profile`](crate::Session::profile)). A request that never asks pays nothing for
/// it.
#[derive(Clone, Default)]
pub(crate) struct Slot {
    stored: Option<Box<Stored>>,
    opened: OnceLock<Option<Profile>>,
}

/// A profile attribute as read, with what opening it needs.
#[derive(Clone)]
struct Stored {
    value: String,
    sub: String,
    session: Option<String>,
    sealing: Sealing,
}

impl Slot {
    /// A profile at hand (or none).
    pub(crate) fn open(profile: Option<Profile>) -> Slot {
        Slot {
            stored: None,
            opened: OnceLock::from(profile),
        }
    }

    /// The profile of `row` (taken from it), opened when first asked for.
    pub(crate) fn sealed(sealing: &Sealing, row: SessionRow) -> Slot {
        let stored = row.profile.map(|value| {
            Box::new(Stored {
                value,
                sub: row.sub,
                session: row.session_id,
                sealing: sealing.clone(),
            })
        });
        Slot {
            stored,
            opened: OnceLock::new(),
        }
    }

    /// The profile, opened now if it was not yet; `None` when there is none or it cannot be
    /// read (a profile is never worth refusing a session over).
    pub(crate) fn get(&self) -> Option<&Profile> {
        self.opened
            .get_or_init(|| {
                let stored = self.stored.as_deref()?;
                let key = SessionKey {
                    sub: &stored.sub,
                    session: stored.session.as_deref(),
                };
                stored.sealing.open_profile_at(key, &stored.value)
            })
            .as_ref()
    }
}

impl fmt::Debug for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.opened.get() {
            Some(profile) => profile.fmt(f),
            None if self.stored.is_some() => f.write_str("<stored, not opened>"),
            None => f.write_str("None"),
        }
    }
}
