//! Logging users in: managed login (the user pool's hosted pages: authorization code with PKCE,
//! `state` and `nonce`, its callback and logout) and password sign-in for apps with their own
//! login form ([`Sessions::sign_in`], Cognito's `USER_SRP_AUTH` / `USER_PASSWORD_AUTH` and the
//! challenges that follow), each ending in [`Sessions::start`] like every other login; and the
//! account flows of such apps ([`Sessions::accounts`]: sign-up, confirmation, password reset
//! and change, passkeys). What a
//! flow leaves with the browser between two requests is sealed by one helper (`state`).
//!
//! [`Sessions::sign_in`]: crate::Sessions::sign_in
//! [`Sessions::start`]: crate::Sessions::start
//! [`Sessions::accounts`]: crate::Sessions::accounts

mod accounts;
mod challenge;
mod error;
mod managed;
mod passkey_error;
mod passkeys;
mod password;
mod password_error;
mod routes;
pub(crate) mod settings;
mod sign_in;
mod sign_in_error;
mod sign_up;
mod sign_up_error;
pub(crate) mod srp;
mod state;
mod token_endpoint;

pub(crate) use accounts::AccountSettings;
pub use accounts::{Accounts, CodeSent};
pub use challenge::{Answer, Challenge, ChallengeKind, FirstFactor, Mfa, SignIn};
pub use error::LoginError;
pub(crate) use managed::Managed;
pub use managed::{LoginComplete, LoginStart};
pub use passkey_error::PasskeyError;
pub use passkeys::Passkey;
pub use password_error::PasswordError;
pub use sign_in::SignInFlow;
pub use sign_in_error::SignInError;
pub use sign_up::{Confirmed, NoAutoSignIn, SignUp};
pub use sign_up_error::SignUpError;
pub use state::StateError;
pub(crate) use state::StateKeys;
pub(crate) use token_endpoint::TokenEndpoint;
