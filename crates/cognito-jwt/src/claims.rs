//! Step 5 of the pipeline: the claims of a Cognito access or ID token, parsed (typed) before the
//! signature check and checked after it.

use std::borrow::Cow;
use std::num::NonZeroU64;
use std::sync::{Arc, OnceLock};

use serde::Deserialize;

/// Why the claims of a correctly signed token were refused (step 5).
///
/// ```
/// use cognito_jwt::ClaimsRejected;
/// assert_eq!(ClaimsRejected::Group.to_string(), "the user is in none of the required groups");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClaimsRejected {
    /// The payload is not a JSON object of the expected types, or repeats a claim.
    #[error("the payload is not a valid claims object: {0}")]
    Malformed(String),
    /// A required claim is absent.
    #[error("the `{0}` claim is missing")]
    Missing(&'static str),
    /// `iss` is not a configured (or the learned) user pool's.
    #[error("the token was issued by another issuer")]
    Issuer,
    /// `token_use` is not the one accepted ([`TokenUse`]): an ID token where access tokens are
    /// expected, for instance.
    #[error("the token is not of an accepted use (token_use = {0:?})")]
    TokenUse(String),
    /// The app client (`client_id` of an access token, `aud` of an ID token) is none of the
    /// configured ones.
    #[error("the token was issued to another app client")]
    Client,
    /// The user is in none of the required groups (`cognito:groups`).
    #[error("the user is in none of the required groups")]
    Group,
    /// The token has none of the required scopes (`scope`).
    #[error("the token has none of the required scopes")]
    Scope,
    /// `iat` lies in the future beyond the leeway.
    #[error("the token was issued in the future")]
    IssuedInFuture,
    /// `nbf` lies in the future beyond the leeway.
    #[error("the token is not valid yet")]
    NotYetValid,
    /// A time claim is out of any sensible range (before `iat`, absurdly far away, ...).
    #[error("the token's time claims are not plausible")]
    ImplausibleTimes,
    /// The token expired longer ago than the refresh window allows.
    #[error("the token expired beyond the refresh window")]
    Expired,
}

impl ClaimsRejected {
    /// A stable machine-readable code (`claims.expired`, `claims.issuer`, ...), for logs and JSON.
    ///
    /// ```
    /// assert_eq!(cognito_jwt::ClaimsRejected::Expired.code(), "claims.expired");
    /// ```
    pub fn code(&self) -> &'static str {
        match self {
            ClaimsRejected::Malformed(_) => "claims.malformed",
            ClaimsRejected::Missing(_) => "claims.missing",
            ClaimsRejected::Issuer => "claims.issuer",
            ClaimsRejected::TokenUse(_) => "claims.token_use",
            ClaimsRejected::Client => "claims.client",
            ClaimsRejected::Group => "claims.group",
            ClaimsRejected::Scope => "claims.scope",
            ClaimsRejected::IssuedInFuture => "claims.issued_in_future",
            ClaimsRejected::NotYetValid => "claims.not_yet_valid",
            ClaimsRejected::ImplausibleTimes => "claims.implausible_times",
            ClaimsRejected::Expired => "claims.expired",
        }
    }
}

/// The verified claims of a Cognito access or ID token.
///
/// Handed out only for a token whose signature, issuer, client and token use were verified
/// (or, in [`Error::Rejected`](crate::Error::Rejected), whose signature was). Cloning is cheap
/// (the decoded claims are shared), which lets the verified-token cache hand out the same claims
/// to every request that presents the same token.
///
/// ```
/// # use cognito_jwt::Claims;
/// fn greet(claims: &Claims) -> String {
///     format!("hello {} ({}), groups {:?}", claims.username(), claims.sub(), claims.groups())
/// }
/// ```
#[derive(Debug, Clone)]
pub struct Claims(Arc<Decoded>);

/// Kept compact: the verified-token cache holds one per entry (`cache.rs` measures it).
#[derive(Debug)]
struct Decoded {
    wire: Wire,
    /// The payload (checked to be UTF-8 once, so the JSON parser need not check each string),
    /// then the decoded values of the claims that have JSON escapes.
    text: Box<str>,
    /// Where the payload ends in `text`.
    payload_len: u16,
    all: OnceLock<Box<serde_json::Map<String, serde_json::Value>>>,
}

/// A claim's text: where it sits in `text` (in the payload when it has no JSON escapes, the
/// usual case, else after it). Payloads are at most 6 KiB ([`MAX_TOKEN_BYTES`](crate::MAX_TOKEN_BYTES)).
#[derive(Debug, Clone, Copy)]
struct Text {
    start: u16,
    len: u16,
}

/// A time claim (seconds since the epoch) stored as `value + 1`, saturating: 8 bytes instead
/// of 16 for an `Option<u64>`. Only `u64::MAX` reads back changed (as `u64::MAX - 1`), which
/// every check refuses alike (implausible, or not valid yet).
#[derive(Debug, Clone, Copy)]
struct Time(NonZeroU64);

impl Time {
    fn new(value: Option<u64>) -> Option<Time> {
        value.and_then(|v| NonZeroU64::new(v.saturating_add(1)).map(Time))
    }
}

fn time(t: Option<Time>) -> Option<u64> {
    t.map(|Time(n)| n.get() - 1)
}

/// The claims we check and expose.
#[derive(Debug)]
struct Wire {
    iss: Option<Text>,
    sub: Option<Text>,
    token_use: Option<Text>,
    client_id: Option<Text>,
    username: Option<Text>,
    cognito_username: Option<Text>,
    aud: Option<Aud>,
    origin_jti: Option<Text>,
    jti: Option<Text>,
    scope: Option<Text>,
    groups: Option<Box<[String]>>,
    exp: Option<Time>,
    iat: Option<Time>,
    nbf: Option<Time>,
    auth_time: Option<Time>,
}

/// The claims as they come off the wire. Serde refuses a repeated claim name among these fields.
///
/// Every field is a [`Present`]: an absent claim is `None`, but a claim that is present must
/// have its type (`"jti": null` is refused, as aws-jwt-verify refuses it), where `Option<T>`
/// would read `null` as absent.
#[derive(Deserialize)]
struct WireIn<'a> {
    #[serde(borrow, default)]
    iss: Present<Str<'a>>,
    #[serde(borrow, default)]
    sub: Present<Str<'a>>,
    #[serde(borrow, default)]
    token_use: Present<Str<'a>>,
    #[serde(borrow, default)]
    client_id: Present<Str<'a>>,
    #[serde(borrow, default)]
    username: Present<Str<'a>>,
    #[serde(borrow, rename = "cognito:username", default)]
    cognito_username: Present<Str<'a>>,
    #[serde(borrow, default)]
    origin_jti: Present<Str<'a>>,
    #[serde(borrow, default)]
    jti: Present<Str<'a>>,
    #[serde(borrow, default)]
    scope: Present<Str<'a>>,
    #[serde(rename = "cognito:groups", default)]
    groups: Present<Vec<String>>,
    /// An ID token's app client (access tokens name theirs in `client_id`): a string or an
    /// array of strings.
    #[serde(borrow, default)]
    aud: Present<Audience<'a>>,
    #[serde(default)]
    exp: Present<u64>,
    #[serde(default)]
    iat: Present<u64>,
    #[serde(default)]
    nbf: Present<u64>,
    #[serde(default)]
    auth_time: Present<u64>,
}

/// A claim that may be absent, but when present must deserialize as `T`: `null` is an error
/// (serde's `Option<T>` would read it as absent). No allocation beyond `T`'s own.
pub(crate) struct Present<T>(pub Option<T>);

impl<T> Default for Present<T> {
    fn default() -> Self {
        Present(None)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Present<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(deserializer).map(|value| Present(Some(value)))
    }
}

/// `aud`: a string (borrowed when it has no escapes) or an array of strings.
pub(crate) enum Audience<'a> {
    One(Str<'a>),
    Many(Vec<String>),
}

impl<'de: 'a, 'a> Deserialize<'de> for Audience<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Audience<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string or an array of strings")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Audience::One(Str(Cow::Borrowed(v))))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Audience::One(Str(Cow::Owned(v.to_owned()))))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Audience::One(Str(Cow::Owned(v))))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Self::Value, A::Error> {
                let mut all = Vec::new();
                while let Some(one) = seq.next_element::<String>()? {
                    all.push(one);
                }
                Ok(Audience::Many(all))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// `aud` as kept.
#[derive(Debug)]
enum Aud {
    One(Text),
    Many(Box<[String]>),
}

/// The typed claims and the JSON type each must have, for the message of a refusal.
const TYPED_CLAIMS: [(&str, &str); 15] = [
    ("iss", "a string"),
    ("sub", "a string"),
    ("token_use", "a string"),
    ("client_id", "a string"),
    ("username", "a string"),
    ("cognito:username", "a string"),
    ("origin_jti", "a string"),
    ("jti", "a string"),
    ("scope", "a string"),
    ("cognito:groups", "an array of strings"),
    ("aud", "a string or an array of strings"),
    ("exp", "a non-negative integer"),
    ("iat", "a non-negative integer"),
    ("nbf", "a non-negative integer"),
    ("auth_time", "a non-negative integer"),
];

/// Why `payload` did not deserialize, naming the claim when one has the wrong type (the slow
/// path of a refusal only: the payload is parsed again, untyped).
fn diagnose(payload: &str, error: serde_json::Error) -> ClaimsRejected {
    use serde_json::Value;
    let Ok(Value::Object(claims)) = serde_json::from_str::<Value>(payload) else {
        return ClaimsRejected::Malformed(error.to_string());
    };
    for (name, expected) in TYPED_CLAIMS {
        let Some(value) = claims.get(name) else {
            continue;
        };
        let strings = |v: &Value| v.as_array().is_some_and(|a| a.iter().all(Value::is_string));
        let ok = match expected {
            "a string" => value.is_string(),
            "an array of strings" => strings(value),
            "a string or an array of strings" => value.is_string() || strings(value),
            _ => value.is_u64(),
        };
        if !ok {
            return ClaimsRejected::Malformed(format!(
                "the `{name}` claim is {value}, not {expected}"
            ));
        }
    }
    ClaimsRejected::Malformed(error.to_string())
}

/// A JSON string borrowed from the input when it has no escapes, decoded otherwise. (Serde's own
/// `Option<Cow<str>>` always allocates.)
pub(crate) struct Str<'a>(pub Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Str<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Str(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Str(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

/// Which tokens a verifier accepts by `token_use`.
///
/// ```
/// use cognito_jwt::TokenUse;
/// assert_eq!(TokenUse::default(), TokenUse::Access);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TokenUse {
    /// Access tokens (`token_use = access`), whose app client is `client_id`. The default.
    #[default]
    Access,
    /// ID tokens (`token_use = id`), whose app client is `aud`.
    Id,
    /// Either.
    Any,
}

/// What the claims step checks against.
#[derive(Debug, Clone)]
pub(crate) struct Expect<'a> {
    pub issuer: &'a str,
    pub clients: &'a [String],
    pub token_use: TokenUse,
    /// Any of these groups (none: no requirement).
    pub groups: &'a [String],
    /// Any of these scopes (none: no requirement).
    pub scopes: &'a [String],
    pub now: u64,
    pub leeway: u64,
    pub refresh_window: u64,
}

/// Whether a verified token is current or expired (but still inside the refresh window).
///
/// ```
/// use cognito_jwt::Freshness;
/// assert_ne!(Freshness::Current, Freshness::Expired);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// Not expired (within the leeway).
    Current,
    /// Expired, but less than the refresh window ago
    /// ([`VerifierBuilder::refresh_window`](crate::VerifierBuilder::refresh_window)).
    Expired,
}

/// Latest plausible time claim (year 2500); anything later is an attack or a bug.
const MAX_TIME: u64 = 16_725_225_600;
/// Longest plausible access-token lifetime (Cognito allows at most one day; we allow a week).
const MAX_LIFETIME: u64 = 7 * 24 * 3600;

impl Claims {
    pub(crate) fn parse(payload: Vec<u8>) -> Result<Self, ClaimsRejected> {
        let payload = String::from_utf8(payload)
            .map_err(|_| ClaimsRejected::Malformed("the payload is not UTF-8".into()))?;
        // A struct also deserializes from a JSON array (by position): only an object is claims.
        if !payload.trim_start().starts_with('{') {
            return Err(ClaimsRejected::Malformed(
                "the payload is not a JSON object".into(),
            ));
        }
        let w: WireIn<'_> = serde_json::from_str(&payload).map_err(|e| diagnose(&payload, e))?;
        let too_long = || ClaimsRejected::Malformed("the payload is too long".into());
        let base = payload.as_ptr() as usize;
        // Decoded values of escaped strings, stored after the payload.
        let mut extra = String::new();
        let mut text = |Present(value): Present<Str<'_>>| -> Result<Option<Text>, ClaimsRejected> {
            let Some(Str(value)) = value else {
                return Ok(None);
            };
            let (start, len) = match &value {
                Cow::Borrowed(b) => {
                    let start = (b.as_ptr() as usize).wrapping_sub(base);
                    let end = start.wrapping_add(b.len());
                    // A borrowed string lies inside the payload; checked rather than assumed.
                    match payload.get(start..end) {
                        Some(span) if span.as_ptr() == b.as_ptr() => (start, b.len()),
                        _ => (usize::MAX, 0),
                    }
                }
                Cow::Owned(_) => (usize::MAX, 0),
            };
            let (start, len) = if start == usize::MAX {
                let start = payload.len() + extra.len();
                extra.push_str(&value);
                (start, value.len())
            } else {
                (start, len)
            };
            Ok(Some(Text {
                start: u16::try_from(start).map_err(|_| too_long())?,
                len: u16::try_from(len).map_err(|_| too_long())?,
            }))
        };
        let wire = Wire {
            iss: text(w.iss)?,
            sub: text(w.sub)?,
            token_use: text(w.token_use)?,
            client_id: text(w.client_id)?,
            username: text(w.username)?,
            cognito_username: text(w.cognito_username)?,
            aud: match w.aud.0 {
                Some(Audience::One(one)) => text(Present(Some(one)))?.map(Aud::One),
                Some(Audience::Many(all)) => Some(Aud::Many(all.into_boxed_slice())),
                None => None,
            },
            origin_jti: text(w.origin_jti)?,
            jti: text(w.jti)?,
            scope: text(w.scope)?,
            groups: w.groups.0.map(Vec::into_boxed_slice),
            exp: Time::new(w.exp.0),
            iat: Time::new(w.iat.0),
            nbf: Time::new(w.nbf.0),
            auth_time: Time::new(w.auth_time.0),
        };
        let payload_len = u16::try_from(payload.len()).map_err(|_| too_long())?;
        u16::try_from(payload.len() + extra.len()).map_err(|_| too_long())?;
        let mut all = payload;
        all.push_str(&extra);
        Ok(Claims(Arc::new(Decoded {
            wire,
            text: all.into_boxed_str(),
            payload_len,
            all: OnceLock::new(),
        })))
    }

    fn wire(&self) -> &Wire {
        &self.0.wire
    }

    fn text(&self, text: &Option<Text>) -> Option<&str> {
        self.text_of(text.as_ref()?)
    }

    fn text_of(&self, text: &Text) -> Option<&str> {
        let start = usize::from(text.start);
        self.0.text.get(start..start + usize::from(text.len))
    }

    /// Runs every check; the order puts "who issued it, for whom" before "when".
    pub(crate) fn check(&self, expect: &Expect<'_>) -> Result<Freshness, ClaimsRejected> {
        let w = self.wire();
        if self.text(&w.iss) != Some(expect.issuer) {
            return Err(ClaimsRejected::Issuer);
        }
        let id = match (self.text(&w.token_use), expect.token_use) {
            (Some("access"), TokenUse::Access | TokenUse::Any) => false,
            (Some("id"), TokenUse::Id | TokenUse::Any) => true,
            (Some(other), _) => return Err(ClaimsRejected::TokenUse(other.to_owned())),
            (None, _) => return Err(ClaimsRejected::Missing("token_use")),
        };
        let ours = |client: Option<&str>| {
            client.is_some_and(|c| expect.clients.iter().any(|ours| ours == c))
        };
        let client_ok = if id {
            match &w.aud {
                Some(Aud::One(text)) => ours(self.text_of(text)),
                Some(Aud::Many(all)) => all.iter().any(|a| ours(Some(a))),
                None => false,
            }
        } else {
            ours(self.text(&w.client_id))
        };
        if !client_ok {
            return Err(ClaimsRejected::Client);
        }
        if self.text(&w.sub).is_none_or(str::is_empty) {
            return Err(ClaimsRejected::Missing("sub"));
        }
        if !expect.groups.is_empty() && !self.groups().iter().any(|g| expect.groups.contains(g)) {
            return Err(ClaimsRejected::Group);
        }
        if !expect.scopes.is_empty() && !expect.scopes.iter().any(|s| self.has_scope(s)) {
            return Err(ClaimsRejected::Scope);
        }
        self.check_times(expect.now, expect.leeway, expect.refresh_window)
    }

    /// The time checks alone (`exp`, `iat`, `nbf`). The verified-token cache runs them again on
    /// every hit, since the same token ages between requests (and a test clock may go back).
    pub(crate) fn check_times(
        &self,
        now: u64,
        leeway: u64,
        refresh_window: u64,
    ) -> Result<Freshness, ClaimsRejected> {
        let w = self.wire();
        let exp = time(w.exp).ok_or(ClaimsRejected::Missing("exp"))?;
        let iat = time(w.iat).ok_or(ClaimsRejected::Missing("iat"))?;
        if exp > MAX_TIME || iat > exp || exp - iat > MAX_LIFETIME {
            return Err(ClaimsRejected::ImplausibleTimes);
        }
        if iat > now.saturating_add(leeway) {
            return Err(ClaimsRejected::IssuedInFuture);
        }
        if let Some(nbf) = time(w.nbf) {
            if nbf > now.saturating_add(leeway) {
                return Err(ClaimsRejected::NotYetValid);
            }
        }
        if now <= exp.saturating_add(leeway) {
            Ok(Freshness::Current)
        } else if now <= exp.saturating_add(refresh_window) {
            Ok(Freshness::Expired)
        } else {
            Err(ClaimsRejected::Expired)
        }
    }

    /// The user's stable id (`sub`).
    ///
    /// ```
    /// fn user_key(claims: &cognito_jwt::Claims) -> String {
    ///     format!("user#{}", claims.sub())
    /// }
    /// ```
    pub fn sub(&self) -> &str {
        self.text(&self.wire().sub).unwrap_or_default()
    }

    /// Cognito's username for the user: `username` in an access token, `cognito:username` in an
    /// ID token (not necessarily the email).
    ///
    /// ```
    /// fn hello(claims: &cognito_jwt::Claims) -> String {
    ///     format!("hello {}", claims.username())
    /// }
    /// ```
    pub fn username(&self) -> &str {
        let w = self.wire();
        self.text(&w.username)
            .or_else(|| self.text(&w.cognito_username))
            .unwrap_or_default()
    }

    /// `token_use`: `access` or `id`.
    ///
    /// ```
    /// fn is_id_token(claims: &cognito_jwt::Claims) -> bool {
    ///     claims.token_use() == "id"
    /// }
    /// ```
    pub fn token_use(&self) -> &str {
        self.text(&self.wire().token_use).unwrap_or_default()
    }

    /// The app client the token was issued to: `client_id` of an access token, `aud` of an ID
    /// token (its first entry, if it is an array).
    ///
    /// ```
    /// fn client(claims: &cognito_jwt::Claims) -> &str {
    ///     claims.client_id()
    /// }
    /// ```
    pub fn client_id(&self) -> &str {
        let w = self.wire();
        if let Some(client) = self.text(&w.client_id) {
            return client;
        }
        match &w.aud {
            Some(Aud::One(text)) => self.text_of(text).unwrap_or_default(),
            Some(Aud::Many(all)) => all.first().map(String::as_str).unwrap_or_default(),
            None => "",
        }
    }

    /// The issuer (`iss`): `https://cognito-idp.<region>.amazonaws.com/<pool id>` (or the
    /// `issuer-cognito-idp` type).
    ///
    /// ```
    /// fn pool(claims: &cognito_jwt::Claims) -> Option<&str> {
    ///     claims.issuer().rsplit('/').next()
    /// }
    /// ```
    pub fn issuer(&self) -> &str {
        self.text(&self.wire().iss).unwrap_or_default()
    }

    /// The token family: the same for every token refreshed from one login.
    ///
    /// ```
    /// fn same_login(a: &cognito_jwt::Claims, b: &cognito_jwt::Claims) -> bool {
    ///     a.origin_jti().is_some() && a.origin_jti() == b.origin_jti()
    /// }
    /// ```
    pub fn origin_jti(&self) -> Option<&str> {
        self.text(&self.wire().origin_jti)
    }

    /// This token's own id.
    ///
    /// ```
    /// fn id(claims: &cognito_jwt::Claims) -> &str {
    ///     claims.jti().unwrap_or("-")
    /// }
    /// ```
    pub fn jti(&self) -> Option<&str> {
        self.text(&self.wire().jti)
    }

    /// Space-separated OAuth scopes (access tokens).
    ///
    /// ```
    /// fn scopes(claims: &cognito_jwt::Claims) -> Vec<&str> {
    ///     claims.scope().unwrap_or_default().split(' ').collect()
    /// }
    /// ```
    pub fn scope(&self) -> Option<&str> {
        self.text(&self.wire().scope)
    }

    /// The scopes, one by one.
    ///
    /// ```
    /// fn count(claims: &cognito_jwt::Claims) -> usize {
    ///     claims.scopes().count()
    /// }
    /// ```
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope().unwrap_or_default().split_ascii_whitespace()
    }

    /// Whether `scope` contains `wanted`.
    ///
    /// ```
    /// fn may_write(claims: &cognito_jwt::Claims) -> bool {
    ///     claims.has_scope("api/write")
    /// }
    /// ```
    pub fn has_scope(&self, wanted: &str) -> bool {
        self.scopes().any(|x| x == wanted)
    }

    /// The user's Cognito groups (`cognito:groups`).
    ///
    /// ```
    /// fn is_admin(claims: &cognito_jwt::Claims) -> bool {
    ///     claims.groups().iter().any(|g| g == "admin")
    /// }
    /// ```
    pub fn groups(&self) -> &[String] {
        self.wire().groups.as_deref().unwrap_or_default()
    }

    /// Expiry, seconds since the epoch.
    ///
    /// ```
    /// fn left(claims: &cognito_jwt::Claims, now: u64) -> u64 {
    ///     claims.exp().saturating_sub(now)
    /// }
    /// ```
    pub fn exp(&self) -> u64 {
        time(self.wire().exp).unwrap_or_default()
    }

    /// Issue time, seconds since the epoch.
    ///
    /// ```
    /// fn age(claims: &cognito_jwt::Claims, now: u64) -> u64 {
    ///     now.saturating_sub(claims.iat())
    /// }
    /// ```
    pub fn iat(&self) -> u64 {
        time(self.wire().iat).unwrap_or_default()
    }

    /// When the user authenticated, seconds since the epoch.
    ///
    /// ```
    /// fn logged_in_at(claims: &cognito_jwt::Claims) -> u64 {
    ///     claims.auth_time().unwrap_or(claims.iat())
    /// }
    /// ```
    pub fn auth_time(&self) -> Option<u64> {
        time(self.wire().auth_time)
    }

    /// The user's email (ID tokens; `None` if absent or not a string).
    ///
    /// ```
    /// fn contact(claims: &cognito_jwt::Claims) -> Option<&str> {
    ///     claims.email().filter(|_| claims.email_verified() == Some(true))
    /// }
    /// ```
    pub fn email(&self) -> Option<&str> {
        self.get("email")?.as_str()
    }

    /// `email_verified` (ID tokens): a boolean, or the strings `"true"`/`"false"` some
    /// federated pools write.
    ///
    /// ```
    /// fn verified(claims: &cognito_jwt::Claims) -> bool {
    ///     claims.email_verified().unwrap_or(false)
    /// }
    /// ```
    pub fn email_verified(&self) -> Option<bool> {
        match self.get("email_verified")? {
            serde_json::Value::Bool(b) => Some(*b),
            serde_json::Value::String(s) if s == "true" => Some(true),
            serde_json::Value::String(s) if s == "false" => Some(false),
            _ => None,
        }
    }

    /// A custom user attribute of an ID token: `custom("tier")` reads `custom:tier`.
    ///
    /// ```
    /// fn tier(claims: &cognito_jwt::Claims) -> &str {
    ///     claims.custom("tier").and_then(|v| v.as_str()).unwrap_or("free")
    /// }
    /// ```
    pub fn custom(&self, attribute: &str) -> Option<&serde_json::Value> {
        let all = self.all();
        all.iter()
            .find(|(name, _)| name.strip_prefix("custom:") == Some(attribute))
            .map(|(_, value)| value)
    }

    /// Any claim by name, including those without an accessor. The full claim set is decoded on
    /// first use only.
    ///
    /// ```
    /// fn locale(claims: &cognito_jwt::Claims) -> Option<&str> {
    ///     claims.get("locale")?.as_str()
    /// }
    /// ```
    pub fn get(&self, name: &str) -> Option<&serde_json::Value> {
        self.all().get(name)
    }

    /// Every claim, decoded (on first use only).
    ///
    /// ```
    /// fn names(claims: &cognito_jwt::Claims) -> Vec<&String> {
    ///     claims.all().keys().collect()
    /// }
    /// ```
    pub fn all(&self) -> &serde_json::Map<String, serde_json::Value> {
        self.0
            .all
            .get_or_init(|| Box::new(serde_json::from_str(self.payload()).unwrap_or_default()))
    }

    /// The raw payload: the JSON text the signature covers (decoded from base64url).
    ///
    /// ```
    /// fn log_size(claims: &cognito_jwt::Claims) -> usize {
    ///     claims.payload().len()
    /// }
    /// ```
    pub fn payload(&self) -> &str {
        self.0
            .text
            .get(..usize::from(self.0.payload_len))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(json: &str) -> Result<Claims, ClaimsRejected> {
        Claims::parse(json.as_bytes().to_vec())
    }

    fn clients() -> &'static [String] {
        static C: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
        C.get_or_init(|| vec!["c".to_owned()])
    }

    fn expect() -> Expect<'static> {
        Expect {
            issuer: "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_X",
            clients: clients(),
            token_use: TokenUse::Access,
            groups: &[],
            scopes: &[],
            now: 1_000_000,
            leeway: 60,
            refresh_window: 3600,
        }
    }

    fn good(extra: &str) -> String {
        format!(
            r#"{{"iss":"https://cognito-idp.us-east-1.amazonaws.com/us-east-1_X","sub":"s","token_use":"access","client_id":"c","iat":999000,"exp":1000100{extra}}}"#
        )
    }

    #[test]
    fn current_expired_and_beyond() {
        assert_eq!(
            claims(&good("")).unwrap().check(&expect()),
            Ok(Freshness::Current)
        );
        let mut e = expect();
        e.now = 1_000_100 + 61;
        assert_eq!(claims(&good("")).unwrap().check(&e), Ok(Freshness::Expired));
        e.now = 1_000_100 + 3601;
        assert_eq!(
            claims(&good("")).unwrap().check(&e),
            Err(ClaimsRejected::Expired)
        );
    }

    #[test]
    fn duplicate_and_non_numeric_claims_are_malformed() {
        assert!(matches!(
            claims(&good(r#","sub":"t""#)),
            Err(ClaimsRejected::Malformed(_))
        ));
        let s = good("").replace("\"iat\":999000", "\"iat\":\"999000\"");
        assert!(matches!(claims(&s), Err(ClaimsRejected::Malformed(_))));
        let s = good("").replace("\"iat\":999000", "\"iat\":999000.5");
        assert!(matches!(claims(&s), Err(ClaimsRejected::Malformed(_))));
    }

    #[test]
    fn future_iat_and_nbf() {
        let s = good("").replace("999000", "1000061");
        assert_eq!(
            claims(&s).unwrap().check(&expect()),
            Err(ClaimsRejected::IssuedInFuture)
        );
        let s = good(r#","nbf":1000061"#);
        assert_eq!(
            claims(&s).unwrap().check(&expect()),
            Err(ClaimsRejected::NotYetValid)
        );
    }

    #[test]
    fn absurd_times() {
        let s = good("").replace("1000100", "99999999999999");
        assert_eq!(
            claims(&s).unwrap().check(&expect()),
            Err(ClaimsRejected::ImplausibleTimes)
        );
        let s = good("").replace("999000", "1");
        assert_eq!(
            claims(&s).unwrap().check(&expect()),
            Err(ClaimsRejected::ImplausibleTimes)
        );
    }

    #[test]
    fn other_use_client_issuer() {
        let s = good("").replace("\"access\"", "\"id\"");
        assert_eq!(
            claims(&s).unwrap().check(&expect()),
            Err(ClaimsRejected::TokenUse("id".into()))
        );
        let s = good("").replace("\"client_id\":\"c\"", "\"client_id\":\"d\"");
        assert_eq!(
            claims(&s).unwrap().check(&expect()),
            Err(ClaimsRejected::Client)
        );
        let s = good("").replace("us-east-1_X", "us-east-1_Y");
        assert_eq!(
            claims(&s).unwrap().check(&expect()),
            Err(ClaimsRejected::Issuer)
        );
        let s = good("").replace(r#""exp":1000100"#, r#""x":1"#);
        assert_eq!(
            claims(&s).unwrap().check(&expect()),
            Err(ClaimsRejected::Missing("exp"))
        );
    }

    #[test]
    fn escaped_and_plain_strings_read_the_same() {
        let c = claims(&good(r#","username":"al\u0069ce","scope":"a b""#)).unwrap();
        assert_eq!(c.username(), "alice");
        assert_eq!(c.scope(), Some("a b"));
        assert_eq!(c.sub(), "s");
        assert_eq!(c.check(&expect()), Ok(Freshness::Current));
        assert!(matches!(
            Claims::parse(vec![b'{', 0xff, b'}']),
            Err(ClaimsRejected::Malformed(_))
        ));
    }

    #[test]
    fn custom_claims_by_name() {
        let c = claims(&good(r#","custom:tier":"gold","cognito:groups":["a","b"]"#)).unwrap();
        assert_eq!(c.get("custom:tier").and_then(|v| v.as_str()), Some("gold"));
        assert_eq!(c.groups(), ["a", "b"]);
    }

    #[test]
    fn a_present_claim_must_have_its_type() {
        for (claim, value) in [
            ("jti", "null"),
            ("scope", "null"),
            ("nbf", "null"),
            ("origin_jti", "null"),
            ("username", "null"),
            ("auth_time", "null"),
            ("cognito:groups", "null"),
            ("cognito:groups", r#"["a",1]"#),
            ("aud", "null"),
            ("aud", "1"),
            ("aud", "{}"),
            ("aud", r#"["c",null]"#),
            ("aud", "true"),
            ("scope", "1"),
            ("auth_time", "-1"),
            ("nbf", "1.5"),
        ] {
            let json = good(&format!(r#","{claim}":{value}"#));
            match claims(&json) {
                Err(ClaimsRejected::Malformed(m)) => {
                    assert!(m.contains(&format!("`{claim}`")), "{claim}: {m}")
                }
                other => panic!("{claim} = {value}: {other:?}"),
            }
        }
        for (claim, value) in [("sub", "null"), ("iss", "null"), ("token_use", "null")] {
            let json = good("").replacen(
                &format!(r#""{claim}":"#),
                &format!(r#""{claim}":{value},"x":"#),
                1,
            );
            assert!(
                matches!(claims(&json), Err(ClaimsRejected::Malformed(_))),
                "{claim}"
            );
        }
        for aud in [r#""c""#, r#"["c"]"#, "[]", r#"["c","d"]"#, r#""\u0063""#] {
            let c = claims(&good(&format!(r#","aud":{aud}"#))).unwrap();
            assert_eq!(c.check(&expect()), Ok(Freshness::Current), "{aud}");
        }
        // Absent is still fine, and an array is not an object.
        assert!(claims(&good("")).is_ok());
        assert!(matches!(
            claims(
                r#"["https://cognito-idp.us-east-1.amazonaws.com/us-east-1_X","s","access","c"]"#
            ),
            Err(ClaimsRejected::Malformed(_))
        ));
    }
}
