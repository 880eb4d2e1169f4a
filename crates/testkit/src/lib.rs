//! Test support for cognito-session, never published: moto (launched by the CLI's `local` module,
//! whose managed-login server it re-exports), AWS fixtures (pool,
//! client, user, table), token minting with moto's own signing key, call counting and the Lambda
//! event fixtures. Every test gets its emulator and its tokens from here.
#![forbid(unsafe_code)]

mod aws;
pub mod browser;
mod fake_accounts;
mod fake_cognito;
mod jwks;
pub mod managed_login;
mod moto;
mod proxy;
mod runtime;
mod seed;
mod tokens;

pub use aws::{create_table, sdk_config, CallCounter, Pool, PoolOptions, PASSWORD};
pub use fake_accounts::{mask, Delivery, FakeAccounts, SoftAuthenticator};
pub use fake_cognito::{FakeCognito, RememberDevices};
pub use jwks::JwksServer;
pub use managed_login::ManagedLogin;
pub use moto::{python as moto_python, Moto};
pub use proxy::{Answering, Fake, Fault, Proxy, Rule};
pub use runtime::{example_binary, Function, Outcome, RuntimeApi};
pub use seed::{SeedDesign, SeedOutcome};
pub use tokens::{access_claims, peek, unsigned, Minter, MOTO_KID};

use std::path::PathBuf;

/// The workspace root (where `.venv` lives).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A Lambda event fixture (`apigw_proxy_request.json`, `apigw_v2_proxy_request.json`,
/// `alb_request.json`, `apigw_multi_value_proxy_request.json`,
/// `lambda_function_url_request.json`) as JSON.
pub fn fixture(name: &str) -> serde_json::Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read fixture {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("fixture {name} is not JSON: {e}"))
}

/// Seconds since the epoch.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
