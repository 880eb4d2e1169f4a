//! The steps of a password sign-in: [`SignIn`] (done, or a [`Challenge`] to answer), the
//! challenges Cognito asks ([`ChallengeKind`]), the [`Answer`]s, and how a challenge is carried
//! to the next HTTP request: a sealed state string for the page, bound to the browser by a
//! cookie (see [`Challenge::state`]).

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::session::Session;

/// Where a sign-in stands: done (the session is stored; send [`Session::set_cookie`]), or
/// Cognito asks a [`Challenge`] first, answered with
/// [`Sessions::respond`](crate::Sessions::respond).
///
/// ```no_run
/// use cognito_session::{Answer, SignIn};
/// # async fn f(sessions: cognito_session::Sessions) -> Result<(), cognito_session::SignInError> {
/// match sessions.sign_in("alice", "Correct-horse-9!").await? {
///     SignIn::Done(session) => println!("Set-Cookie: {:?}", session.set_cookie("token")),
///     SignIn::Challenge(challenge) => {
///         // Show the form for `challenge.kind()` with `challenge.state()`, and send `challenge.set_cookie()`.
///         let next = sessions.respond(&challenge, &Answer::Code("123456".into())).await?;
///         # let _ = next;
///     }
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // Returned once per sign-in, never stored.
pub enum SignIn {
    /// Signed in: the session row is stored.
    Done(Session),
    /// Cognito asks for more before it issues tokens.
    Challenge(Challenge),
}

/// A multi-factor method, as Cognito names it in `MFAS_CAN_CHOOSE` / `MFAS_CAN_SETUP`.
///
/// ```
/// use cognito_session::Mfa;
/// assert_eq!(Mfa::Totp.cognito_name(), "SOFTWARE_TOKEN_MFA");
/// assert_eq!(Mfa::from_cognito_name("EMAIL_OTP"), Some(Mfa::Email));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Mfa {
    /// A code sent by SMS (`SMS_MFA`).
    Sms,
    /// An authenticator app's time-based code (`SOFTWARE_TOKEN_MFA`).
    Totp,
    /// A code sent by email (`EMAIL_OTP`).
    Email,
}

impl Mfa {
    /// Cognito's name of the method.
    ///
    /// ```
    /// assert_eq!(cognito_session::Mfa::Sms.cognito_name(), "SMS_MFA");
    /// ```
    pub fn cognito_name(self) -> &'static str {
        match self {
            Mfa::Sms => "SMS_MFA",
            Mfa::Totp => "SOFTWARE_TOKEN_MFA",
            Mfa::Email => "EMAIL_OTP",
        }
    }

    /// The method Cognito calls `name` (also `SMS`, `EMAIL`, as some answers spell them).
    ///
    /// ```
    /// assert_eq!(cognito_session::Mfa::from_cognito_name("SOFTWARE_TOKEN_MFA"), Some(cognito_session::Mfa::Totp));
    /// ```
    pub fn from_cognito_name(name: &str) -> Option<Mfa> {
        match name {
            "SMS_MFA" | "SMS" | "SMS_OTP" => Some(Mfa::Sms),
            "SOFTWARE_TOKEN_MFA" => Some(Mfa::Totp),
            "EMAIL_OTP" | "EMAIL" => Some(Mfa::Email),
            _ => None,
        }
    }
}

/// A first factor of choice-based sign-in ([`Sessions::sign_in_choice`](crate::Sessions::sign_in_choice),
/// Cognito's `USER_AUTH`), as Cognito names it in `AvailableChallenges` and `PREFERRED_CHALLENGE`.
/// Which ones a user is offered depends on the pool's sign-in policy (its allowed first
/// factors) and on the user (an email address, a phone number, a registered passkey).
///
/// ```
/// use cognito_session::FirstFactor;
/// assert_eq!(FirstFactor::Passkey.cognito_name(), "WEB_AUTHN");
/// assert_eq!(FirstFactor::from_cognito_name("EMAIL_OTP"), Some(FirstFactor::EmailOtp));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum FirstFactor {
    /// A one-time code sent by email (`EMAIL_OTP`).
    EmailOtp,
    /// A one-time code sent by SMS (`SMS_OTP`).
    SmsOtp,
    /// The password, sent to Cognito (`PASSWORD`).
    Password,
    /// The password, proven by SRP without sending it (`PASSWORD_SRP`).
    PasswordSrp,
    /// A passkey (`WEB_AUTHN`): the browser signs Cognito's challenge.
    Passkey,
}

impl FirstFactor {
    /// Cognito's name of the factor.
    ///
    /// ```
    /// assert_eq!(cognito_session::FirstFactor::SmsOtp.cognito_name(), "SMS_OTP");
    /// ```
    pub fn cognito_name(self) -> &'static str {
        match self {
            FirstFactor::EmailOtp => "EMAIL_OTP",
            FirstFactor::SmsOtp => "SMS_OTP",
            FirstFactor::Password => "PASSWORD",
            FirstFactor::PasswordSrp => "PASSWORD_SRP",
            FirstFactor::Passkey => "WEB_AUTHN",
        }
    }

    /// The factor Cognito calls `name`.
    ///
    /// ```
    /// assert_eq!(cognito_session::FirstFactor::from_cognito_name("WEB_AUTHN"), Some(cognito_session::FirstFactor::Passkey));
    /// assert_eq!(cognito_session::FirstFactor::from_cognito_name("SMS_MFA"), None);
    /// ```
    pub fn from_cognito_name(name: &str) -> Option<FirstFactor> {
        [
            FirstFactor::EmailOtp,
            FirstFactor::SmsOtp,
            FirstFactor::Password,
            FirstFactor::PasswordSrp,
            FirstFactor::Passkey,
        ]
        .into_iter()
        .find(|factor| factor.cognito_name() == name)
    }
}

/// What Cognito asks, and what the app shows the user.
///
/// ```
/// use cognito_session::ChallengeKind;
/// let kind = ChallengeKind::SmsMfa { destination: Some("+*******1234".into()) };
/// assert!(matches!(kind, ChallengeKind::SmsMfa { .. }));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ChallengeKind {
    /// `NEW_PASSWORD_REQUIRED`: the user has a temporary password (created by an administrator)
    /// and must choose one. Answer [`Answer::NewPassword`], with a value for each attribute of
    /// `required_attributes` (names such as `name`, `phone_number`) that the user has none of.
    NewPasswordRequired {
        /// Attributes the pool requires and the user lacks (Cognito's `requiredAttributes`,
        /// without the `userAttributes.` prefix).
        required_attributes: Vec<String>,
    },
    /// `SOFTWARE_TOKEN_MFA`: the code of the user's authenticator app ([`Answer::Code`]).
    SoftwareTokenMfa,
    /// `SMS_MFA`: the code Cognito sent by SMS ([`Answer::Code`]).
    SmsMfa {
        /// Where it went, masked by Cognito (`CODE_DELIVERY_DESTINATION`, e.g. `+*******1234`).
        destination: Option<String>,
    },
    /// `EMAIL_OTP`: the code Cognito sent by email ([`Answer::Code`]).
    EmailOtp {
        /// Where it went, masked by Cognito (`CODE_DELIVERY_DESTINATION`).
        destination: Option<String>,
    },
    /// `SELECT_MFA_TYPE`: the user picks one of `options` ([`Answer::Choose`]); Cognito then
    /// asks that method's code.
    SelectMfaType {
        /// `MFAS_CAN_CHOOSE`.
        options: Vec<Mfa>,
    },
    /// `MFA_SETUP`: the pool requires MFA and the user has none. Answer
    /// [`Answer::Choose`]`(`[`Mfa::Totp`]`)`: the next challenge is [`ChallengeKind::TotpSetup`].
    MfaSetup {
        /// `MFAS_CAN_SETUP`.
        options: Vec<Mfa>,
    },
    /// Setting up an authenticator app during sign-in (after `MFA_SETUP`, from Cognito's
    /// `AssociateSoftwareToken`): show [`Challenge::totp_secret`] (e.g. as a QR code of
    /// [`Challenge::totp_uri`]) and answer with the app's first code ([`Answer::Code`]), which
    /// `VerifySoftwareToken` checks before the sign-in continues.
    TotpSetup,
    /// `SELECT_CHALLENGE` (choice-based sign-in): the user picks a first factor among
    /// `options` ([`Answer::Factor`]), or gives the password ([`Answer::Password`], when
    /// `options` has [`FirstFactor::Password`] or [`FirstFactor::PasswordSrp`]).
    SelectFirstFactor {
        /// Cognito's `AvailableChallenges` for this user.
        options: Vec<FirstFactor>,
    },
    /// `SMS_OTP` (choice-based sign-in): the code Cognito sent by SMS ([`Answer::Code`]).
    SmsOtp {
        /// Where it went, masked by Cognito (`CODE_DELIVERY_DESTINATION`).
        destination: Option<String>,
    },
    /// `WEB_AUTHN` (choice-based sign-in): the browser signs in with a passkey. Hand
    /// `request_options` to the page's script (`PublicKeyCredential.parseRequestOptionsFromJSON`,
    /// then `navigator.credentials.get`) and answer [`Answer::Passkey`] with the credential it
    /// returns (`JSON.stringify(credential.toJSON())`).
    Passkey {
        /// Cognito's `CREDENTIAL_REQUEST_OPTIONS`: WebAuthn's `PublicKeyCredentialRequestOptionsJSON`
        /// (challenge, relying party ID, allowed credentials, timeout).
        request_options: String,
    },
}

/// A step of a sign-in that the user must answer: [`kind`](Challenge::kind) says what to show.
/// [`Sessions::respond`](crate::Sessions::respond) answers it.
///
/// It holds Cognito's `Session` string for this sign-in, a short-lived secret (3 minutes by
/// default, the app client's `AuthSessionValidity`): its `Debug` output shows only the kind. To
/// carry it to the next HTTP request, put [`state`](Challenge::state) in the page (a hidden form
/// field) and send [`set_cookie`](Challenge::set_cookie) with the page; the next request gives
/// both back to [`Sessions::open_challenge`](crate::Sessions::open_challenge). The state is
/// sealed (nobody can read or change it) and opens only with this browser's cookie, for 15
/// minutes (Cognito's own limit is usually shorter), and only until a newer step replaced the
/// cookie: a state copied from a page, a log or another browser is refused without any call to
/// AWS.
///
/// ```no_run
/// # async fn f(sessions: cognito_session::Sessions, request: lambda_http::Request, challenge: cognito_session::Challenge) -> Result<(), cognito_session::SignInError> {
/// // Request 1: show the form with the state, set the cookie.
/// let hidden = format!("<input type=hidden name=state value=\"{}\">", challenge.state());
/// let set_cookie = challenge.set_cookie();
/// // Request 2: the form's state and the browser's cookie give the challenge back.
/// let again = sessions.open_challenge(&request, challenge.state()).await?;
/// assert_eq!(again.kind(), challenge.kind());
/// # let _ = (hidden, set_cookie);
/// # Ok(()) }
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Challenge {
    pub(crate) kind: ChallengeKind,
    /// Cognito's challenge name (`SMS_MFA`, ...).
    pub(crate) name: String,
    /// Cognito's `Session`.
    pub(crate) session: String,
    /// The `USERNAME` the challenge responses carry (Cognito's, not necessarily what was typed).
    pub(crate) username: String,
    /// `AssociateSoftwareToken`'s `SecretCode`, for [`ChallengeKind::TotpSetup`], in the
    /// challenge as issued only (never in its state).
    pub(crate) totp_secret: Option<String>,
    /// The sealed state and the binding cookie, once issued by the session manager.
    pub(crate) carried: Carried,
}

/// How a challenge travels to the next request.
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct Carried {
    /// The sealed state (for the page).
    pub state: String,
    /// The `Set-Cookie` binding it to the browser (`None` for a challenge opened from a state:
    /// the browser has the cookie).
    pub set_cookie: Option<String>,
}

/// A [`Challenge`] as its sealed state holds it (private: `Challenge` itself has no serde, so
/// its secrets are serialized only here, and only sealed). The TOTP secret of an MFA setup is
/// not in it: it is shown once, from the challenge as issued.
#[derive(Serialize, Deserialize)]
pub(crate) struct State {
    k: ChallengeKind,
    n: String,
    s: String,
    u: String,
}

impl Challenge {
    /// What Cognito asks.
    ///
    /// ```
    /// # fn f(challenge: cognito_session::Challenge) {
    /// if let cognito_session::ChallengeKind::SmsMfa { destination } = challenge.kind() {
    ///     println!("enter the code sent to {}", destination.as_deref().unwrap_or("your phone"));
    /// }
    /// # }
    /// ```
    pub fn kind(&self) -> &ChallengeKind {
        &self.kind
    }

    /// For [`ChallengeKind::TotpSetup`]: the secret to enter into the authenticator app
    /// (base32), `None` otherwise. A secret: show it to the user only.
    ///
    /// ```
    /// # fn f(challenge: cognito_session::Challenge) {
    /// if let Some(secret) = challenge.totp_secret() {
    ///     println!("add this key to your authenticator app: {secret}");
    /// }
    /// # }
    /// ```
    pub fn totp_secret(&self) -> Option<&str> {
        self.totp_secret.as_deref()
    }

    /// For [`ChallengeKind::TotpSetup`]: the `otpauth://totp/...` URI authenticator apps read
    /// from a QR code, labelled `issuer` (your app's name) and the user's name.
    ///
    /// ```
    /// # fn f(challenge: cognito_session::Challenge) {
    /// if let Some(uri) = challenge.totp_uri("My App") {
    ///     // render `uri` as a QR code
    ///     # let _ = uri;
    /// }
    /// # }
    /// ```
    pub fn totp_uri(&self, issuer: &str) -> Option<String> {
        let secret = self.totp_secret.as_deref()?;
        let issuer = uri_escape(issuer);
        Some(format!(
            "otpauth://totp/{issuer}:{}?secret={secret}&issuer={issuer}",
            uri_escape(&self.username)
        ))
    }

    /// The sealed state to put in the page (a hidden form field) for the next request: opaque,
    /// URL-safe, and useless without this browser's cookie ([`set_cookie`](Challenge::set_cookie)).
    ///
    /// ```no_run
    /// # fn f(challenge: cognito_session::Challenge) {
    /// let field = format!("<input type=\"hidden\" name=\"state\" value=\"{}\">", challenge.state());
    /// # }
    /// ```
    pub fn state(&self) -> &str {
        &self.carried.state
    }

    /// The `Set-Cookie` binding [`state`](Challenge::state) to this browser (`HttpOnly`,
    /// `SameSite=Strict`, `__Host-cognito-signin` when cookies are `Secure`), to send with the
    /// page of a newly issued challenge; `None` for a challenge opened from a state (the browser
    /// holds the cookie already). When the sign-in is over, send
    /// [`Sessions::clear_challenge_cookie`](crate::Sessions::clear_challenge_cookie).
    ///
    /// ```no_run
    /// # fn f(challenge: cognito_session::Challenge) {
    /// if let Some(cookie) = challenge.set_cookie() {
    ///     println!("Set-Cookie: {cookie}");
    /// }
    /// # }
    /// ```
    pub fn set_cookie(&self) -> Option<&str> {
        self.carried.set_cookie.as_deref()
    }

    /// What the sealed state holds.
    pub(crate) fn to_sealed(&self) -> State {
        State {
            k: self.kind.clone(),
            n: self.name.clone(),
            s: self.session.clone(),
            u: self.username.clone(),
        }
    }

    /// The challenge a sealed state held.
    pub(crate) fn from_sealed(state: State, carried: Carried) -> Option<Challenge> {
        if state.s.is_empty() || state.n.is_empty() {
            return None;
        }
        Some(Challenge {
            kind: state.k,
            name: state.n,
            session: state.s,
            username: state.u,
            totp_secret: None,
            carried,
        })
    }

    /// The challenge Cognito named `name` with `parameters`, or `None` for one this library
    /// does not answer.
    pub(crate) fn of(
        name: &str,
        parameters: &HashMap<String, String>,
        available: &[String],
        session: String,
        username: String,
    ) -> Option<Challenge> {
        let destination = || parameters.get("CODE_DELIVERY_DESTINATION").cloned();
        let methods = |key: &str| -> Vec<Mfa> {
            parameters
                .get(key)
                .and_then(|list| serde_json::from_str::<Vec<String>>(list).ok())
                .unwrap_or_default()
                .iter()
                .filter_map(|name| Mfa::from_cognito_name(name))
                .collect()
        };
        let kind = match name {
            "NEW_PASSWORD_REQUIRED" => ChallengeKind::NewPasswordRequired {
                required_attributes: parameters
                    .get("requiredAttributes")
                    .and_then(|list| serde_json::from_str::<Vec<String>>(list).ok())
                    .unwrap_or_default()
                    .into_iter()
                    .map(|a| a.strip_prefix("userAttributes.").unwrap_or(&a).to_owned())
                    .collect(),
            },
            "SOFTWARE_TOKEN_MFA" => ChallengeKind::SoftwareTokenMfa,
            "SMS_MFA" => ChallengeKind::SmsMfa {
                destination: destination(),
            },
            "EMAIL_OTP" => ChallengeKind::EmailOtp {
                destination: destination(),
            },
            "SELECT_MFA_TYPE" => ChallengeKind::SelectMfaType {
                options: methods("MFAS_CAN_CHOOSE"),
            },
            "MFA_SETUP" => ChallengeKind::MfaSetup {
                options: methods("MFAS_CAN_SETUP"),
            },
            "SELECT_CHALLENGE" => ChallengeKind::SelectFirstFactor {
                options: available
                    .iter()
                    .filter_map(|name| FirstFactor::from_cognito_name(name))
                    .collect(),
            },
            "SMS_OTP" => ChallengeKind::SmsOtp {
                destination: destination(),
            },
            "WEB_AUTHN" => ChallengeKind::Passkey {
                request_options: parameters.get("CREDENTIAL_REQUEST_OPTIONS")?.clone(),
            },
            _ => return None,
        };
        // Cognito's own name for the user: later responses must carry it.
        let username = parameters
            .get("USERNAME")
            .or_else(|| parameters.get("USER_ID_FOR_SRP"))
            .filter(|u| !u.is_empty())
            .cloned()
            .unwrap_or(username);
        Some(Challenge {
            kind,
            name: name.to_owned(),
            session,
            username,
            totp_secret: None,
            carried: Carried::default(),
        })
    }
}

impl fmt::Debug for Challenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Challenge")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// Percent-encoding of everything but unreserved characters (RFC 3986), for [`Challenge::totp_uri`].
fn uri_escape(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The user's answer to a [`Challenge`]. `Debug` never shows a password or code.
///
/// ```
/// use cognito_session::Answer;
/// let answer = Answer::NewPassword {
///     password: "New-horse-10!".into(),
///     attributes: vec![("name".into(), "Alice".into())],
/// };
/// assert!(!format!("{answer:?}").contains("horse"));
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Answer {
    /// For [`ChallengeKind::NewPasswordRequired`]: the new password, and the required attributes
    /// (name without `userAttributes.`, value).
    NewPassword {
        /// The password the user chose.
        password: String,
        /// Values for [`ChallengeKind::NewPasswordRequired::required_attributes`].
        attributes: Vec<(String, String)>,
    },
    /// A one-time code: for SOFTWARE_TOKEN_MFA, SMS_MFA, EMAIL_OTP and [`ChallengeKind::TotpSetup`].
    Code(String),
    /// For [`ChallengeKind::SelectMfaType`] and [`ChallengeKind::MfaSetup`]: the method.
    Choose(Mfa),
    /// For [`ChallengeKind::SelectFirstFactor`]: the first factor to continue with (a code
    /// factor or [`FirstFactor::Passkey`]; for the password, [`Answer::Password`]).
    Factor(FirstFactor),
    /// For [`ChallengeKind::SelectFirstFactor`]: the password, proven by SRP when Cognito offers
    /// `PASSWORD_SRP` and `USER_POOL_ID` is set, sent as `PASSWORD` otherwise.
    Password(String),
    /// For [`ChallengeKind::Passkey`]: the browser's credential, as
    /// `JSON.stringify(credential.toJSON())` (WebAuthn's `AuthenticationResponseJSON`).
    Passkey(String),
}

impl fmt::Debug for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Answer::NewPassword { attributes, .. } => f
                .debug_struct("NewPassword")
                .field("password", &"<redacted>")
                .field(
                    "attributes",
                    &attributes.iter().map(|(name, _)| name).collect::<Vec<_>>(),
                )
                .finish(),
            Answer::Code(_) => f.write_str("Code(<redacted>)"),
            Answer::Choose(mfa) => f.debug_tuple("Choose").field(mfa).finish(),
            Answer::Factor(factor) => f.debug_tuple("Factor").field(factor).finish(),
            Answer::Password(_) => f.write_str("Password(<redacted>)"),
            Answer::Passkey(_) => f.write_str("Passkey(<credential>)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parameters(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn cognitos_parameters_become_typed_challenges() {
        let challenge = Challenge::of(
            "NEW_PASSWORD_REQUIRED",
            &parameters(&[
                (
                    "requiredAttributes",
                    r#"["userAttributes.name","userAttributes.phone_number"]"#,
                ),
                ("userAttributes", r#"{"email":"a@example.com"}"#),
                ("USER_ID_FOR_SRP", "alice-internal"),
            ]),
            &[],
            "session".into(),
            "a@example.com".into(),
        )
        .unwrap();
        assert_eq!(
            challenge.kind(),
            &ChallengeKind::NewPasswordRequired {
                required_attributes: vec!["name".into(), "phone_number".into()]
            }
        );
        assert_eq!(challenge.username, "alice-internal");
        let select = Challenge::of(
            "SELECT_MFA_TYPE",
            &parameters(&[(
                "MFAS_CAN_CHOOSE",
                r#"["SMS_MFA","SOFTWARE_TOKEN_MFA","WEB"]"#,
            )]),
            &[],
            "s".into(),
            "alice".into(),
        )
        .unwrap();
        assert_eq!(
            select.kind(),
            &ChallengeKind::SelectMfaType {
                options: vec![Mfa::Sms, Mfa::Totp]
            }
        );
        assert_eq!(select.username, "alice");
        let sms = Challenge::of(
            "SMS_MFA",
            &parameters(&[("CODE_DELIVERY_DESTINATION", "+*******1234")]),
            &[],
            "s".into(),
            "alice".into(),
        )
        .unwrap();
        assert_eq!(
            sms.kind(),
            &ChallengeKind::SmsMfa {
                destination: Some("+*******1234".into())
            }
        );
        let choice = Challenge::of(
            "SELECT_CHALLENGE",
            &HashMap::new(),
            &["WEB_AUTHN".into(), "CUSTOM".into(), "EMAIL_OTP".into()],
            "s".into(),
            "alice".into(),
        )
        .unwrap();
        assert_eq!(
            choice.kind(),
            &ChallengeKind::SelectFirstFactor {
                options: vec![FirstFactor::Passkey, FirstFactor::EmailOtp]
            }
        );
        let passkey = Challenge::of(
            "WEB_AUTHN",
            &parameters(&[("CREDENTIAL_REQUEST_OPTIONS", r#"{"challenge":"abc"}"#)]),
            &[],
            "s".into(),
            "alice".into(),
        )
        .unwrap();
        assert_eq!(
            passkey.kind(),
            &ChallengeKind::Passkey {
                request_options: r#"{"challenge":"abc"}"#.into()
            }
        );
        // A passkey challenge without its options cannot be answered.
        assert!(Challenge::of("WEB_AUTHN", &HashMap::new(), &[], "s".into(), "a".into()).is_none());
        assert!(Challenge::of(
            "CUSTOM_CHALLENGE",
            &HashMap::new(),
            &[],
            "s".into(),
            "a".into()
        )
        .is_none());
    }

    #[test]
    fn debug_hides_the_session_and_the_totp_secret() {
        let mut challenge = Challenge::of(
            "SOFTWARE_TOKEN_MFA",
            &HashMap::new(),
            &[],
            "AYABeC0gNjM-cognito-session".into(),
            "alice".into(),
        )
        .unwrap();
        challenge.totp_secret = Some("JBSWY3DPEHPK3PXP".into());
        let debug = format!("{challenge:?}");
        assert!(
            !debug.contains("AYAB") && !debug.contains("JBSW"),
            "{debug}"
        );
    }

    #[test]
    fn a_totp_uri_escapes_its_labels() {
        let challenge = Challenge {
            kind: ChallengeKind::TotpSetup,
            name: "MFA_SETUP".into(),
            session: "s".into(),
            username: "a b@example.com".into(),
            totp_secret: Some("JBSWY3DPEHPK3PXP".into()),
            carried: Carried::default(),
        };
        assert_eq!(
            challenge.totp_uri("My App").unwrap(),
            "otpauth://totp/My%20App:a%20b%40example.com?secret=JBSWY3DPEHPK3PXP&issuer=My%20App"
        );
    }

    #[test]
    fn answers_never_show_secrets() {
        let debug = format!(
            "{:?} {:?}",
            Answer::Code("123456".into()),
            Answer::NewPassword {
                password: "hunter2".into(),
                attributes: vec![("name".into(), "Alice".into())]
            }
        );
        assert!(
            !debug.contains("123456") && !debug.contains("hunter2") && !debug.contains("Alice")
        );
    }
}
