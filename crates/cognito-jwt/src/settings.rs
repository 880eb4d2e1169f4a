//! [`SettingNames`]: how the caller's configuration names each setting, so that log lines and
//! configuration errors say what to check.

/// What the verifier's log lines and configuration errors tell an operator to check, named as
/// the operator sets them (environment variables, say). The defaults name the builder methods.
///
/// ```
/// let names = cognito_jwt::SettingNames {
///     client_ids: "CLIENT_ID".into(),
///     ..Default::default()
/// };
/// assert_eq!(names.client_ids, "CLIENT_ID");
/// ```
#[derive(Debug, Clone)]
pub struct SettingNames {
    /// The accepted app clients (a token of another client verified).
    pub client_ids: String,
    /// The accepted issuers (a token of another issuer verified).
    pub issuers: String,
    /// Where the keys come from (a configured JWKS URL refused).
    pub jwks: String,
}

impl Default for SettingNames {
    fn default() -> Self {
        SettingNames {
            client_ids: "the verifier's client_id".into(),
            issuers: "the verifier's user_pool (its Region prefix), issuer and replica_regions"
                .into(),
            jwks: "the verifier's user_pool, issuer and jwks_url".into(),
        }
    }
}
