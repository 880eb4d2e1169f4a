//! `doctor`: checks a deployment's configuration (table, app client, pool, JWKS, a token, IAM)
//! the way the function will use it, and says for each finding what to change.
//!
//! Every check is one line: OK, INFO, WARN or FAIL, with a stable `code` (`table.key_schema`)
//! and, unless OK, the fix naming the variable (or flag) to change. Exit status: 0 all OK or
//! INFO, 1 warnings, 2 failures. Nothing secret (a token, a refresh token, a key, the client
//! secret) is ever printed.

mod aws;
mod cognito;
mod iam;
mod jwks;
mod login;
mod passwordless;
mod report;
mod setup;
mod table;
mod token;

use clap::Args;

use crate::output::Failure;
use report::Report;

/// `doctor` arguments. Each flag falls back to the library's variable; the secrets
/// (`CLIENT_SECRET`, `SESSION_ENCRYPTION_KEY`, `SESSION_ENCRYPTION_OLD_KEYS`,
/// `SESSION_KMS_CIPHERTEXT`) are read from the environment only.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// The session table.
    #[arg(long, env = "SESSION_TABLE")]
    pub table: Option<String>,
    /// Its partition key attribute.
    #[arg(long, env = "PARTITION_KEY")]
    pub partition_key: Option<String>,
    /// Its sort key attribute, if the table keeps one session per device.
    #[arg(long, env = "SORT_KEY")]
    pub sort_key: Option<String>,
    /// The app client id.
    #[arg(long, env = "CLIENT_ID")]
    pub client_id: Option<String>,
    /// The user pool (e.g. `us-east-1_AbC`).
    #[arg(long, env = "USER_POOL_ID")]
    pub user_pool_id: Option<String>,
    /// Where the signing keys are fetched (default: the pool's, or an emulator's).
    #[arg(long, env = "COGNITO_JWKS_URL")]
    pub jwks_url: Option<String>,
    /// The exact `iss` to expect.
    #[arg(long, env = "COGNITO_ISSUER")]
    pub issuer: Option<String>,
    /// A preloaded JWKS (inline JSON or a file path), compared with the live one.
    #[arg(long, env = "COGNITO_JWKS")]
    pub jwks: Option<String>,
    /// Session lifetime in seconds (default 2592000), compared with the refresh token validity.
    #[arg(long, env = "SESSION_LIFETIME")]
    pub session_lifetime: Option<String>,
    /// `true` if the app client rotates refresh tokens.
    #[arg(long, env = "REFRESH_TOKEN_ROTATION")]
    pub refresh_token_rotation: Option<String>,
    /// An access (or ID) token to decode and verify, or `-` to read it from stdin.
    #[arg(long)]
    pub token: Option<String>,
    /// How many rows of the table to sample (a `Scan` with this `Limit`); 0 reads none.
    #[arg(long, default_value_t = 25)]
    pub sample: i32,
    /// The user pool's domain for managed login.
    #[arg(long, env = "COGNITO_DOMAIN")]
    pub cognito_domain: Option<String>,
    /// The managed login's callback URL.
    #[arg(long, env = "REDIRECT_URI")]
    pub redirect_uri: Option<String>,
    /// Where the managed login's `/logout` sends the browser.
    #[arg(long, env = "LOGOUT_URI")]
    pub logout_uri: Option<String>,
    /// The scopes managed login asks for (default `openid email`).
    #[arg(long, env = "OAUTH_SCOPES")]
    pub oauth_scopes: Option<String>,
    /// The own-form sign-in's flow: `srp` (the library's default) or `password`; checked against
    /// the app client's explicit auth flows.
    #[arg(long, env = "SIGN_IN_FLOW")]
    pub sign_in_flow: Option<String>,
    /// The group every user who signed up joins (`AdminAddUserToGroup`): its permission is
    /// tried.
    #[arg(long, env = "SIGN_UP_GROUP")]
    pub sign_up_group: Option<String>,
    /// Print the checks as JSON: `{"status", "summary", "checks": [{check, status, message,
    /// fix?, code}]}`.
    #[arg(long)]
    pub json: bool,
}

/// Runs every check, prints the report, and fails with exit status 1 (warnings) or 2
/// (failures).
pub async fn run(args: DoctorArgs) -> Result<(), Failure> {
    let json = args.json;
    let mut report = Report::default();
    let mut setup = setup::Setup::read(args, &mut report)?;
    login::settings(&setup, &mut report);
    if let Some(aws) = aws::Aws::connect(&setup, &mut report).await {
        aws::kms(&aws, &mut setup, &mut report).await;
        let table_ok = table::check(&aws, &setup, &mut report).await;
        iam::dynamodb(&aws, &setup, table_ok, &mut report).await;
        let client = cognito::check(&aws, &setup, &mut report).await;
        login::domain(&aws, &setup, &mut report).await;
        iam::cognito(&aws, &setup, &client, &mut report).await;
        iam::accounts(&aws, &setup, &client, &mut report).await;
    }
    let keys = jwks::check(&setup, &mut report).await;
    token::check(&setup, keys.as_ref(), &mut report);
    report.print(json);
    match report.exit_code() {
        0 => Ok(()),
        code => Err(Failure {
            message: format!("doctor: {}", report.summary_line()),
            code,
        }),
    }
}
