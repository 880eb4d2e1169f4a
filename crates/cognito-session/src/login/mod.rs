//! Logging users in: password sign-in for apps with their own login form ([`Sessions::sign_in`],
//! Cognito's `USER_SRP_AUTH` / `USER_PASSWORD_AUTH` and the challenges that follow), ending in
//! [`Sessions::start`] like every other login.
//!
//! [`Sessions::sign_in`]: crate::Sessions::sign_in
//! [`Sessions::start`]: crate::Sessions::start

mod challenge;
mod error;
mod sign_in;
pub(crate) mod srp;

pub use challenge::{Answer, Challenge, ChallengeKind, Mfa, SignIn};
pub use error::SignInError;
pub use sign_in::SignInFlow;
