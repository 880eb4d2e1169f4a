//! Logging users in: managed login (the user pool's hosted pages, authorization code with PKCE,
//! `state` and `nonce`), its callback and logout, and the login state kept between them.

mod error;
mod managed;
mod routes;
pub(crate) mod settings;
mod state;
mod token_endpoint;

pub use error::LoginError;
pub(crate) use managed::Managed;
pub use managed::{LoginComplete, LoginStart};
pub(crate) use token_endpoint::TokenEndpoint;
