//! Managed login for tests: the server lives in the CLI's `local` module (which `cognito-session
//! dev` serves), re-exported here, plus [`HttpBrowser`], a cookie-keeping client that signs in
//! through its form without a real browser.

mod client;

pub use client::{HttpBrowser, Reply};
pub use cognito_session_cli::local::managed_login::{
    ManagedLogin, Upstream, INCORRECT, SESSION_COOKIE,
};
