//! The doctor's settings: flags, falling back to the library's variables (secrets from the
//! environment only), validated as the library does, each remembering what to name in a fix.

use super::report::Report;
use super::DoctorArgs;
use crate::output::Failure;

/// The library's default `SESSION_LIFETIME` (30 days).
pub const DEFAULT_LIFETIME: u64 = 2_592_000;

/// A setting and what a fix should name: the flag when it came from the command line, the
/// variable otherwise.
#[derive(Debug, Clone)]
pub struct Named {
    pub value: String,
    pub name: String,
}

impl Named {
    fn new(value: Option<String>, flag: &str, var: &str) -> Option<Named> {
        let value = value
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())?;
        let from_env = std::env::var(var).is_ok_and(|v| v.trim() == value);
        Some(Named {
            value,
            name: if from_env { var.into() } else { flag.into() },
        })
    }
}

/// The own-form sign-in's flow (`SIGN_IN_FLOW`), as the library reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInFlow {
    /// `USER_SRP_AUTH`, the library's default.
    Srp,
    /// `USER_PASSWORD_AUTH`.
    Password,
}

impl SignInFlow {
    /// `srp`, `user_srp_auth`, `password`, `user_password_auth` (any case), as the library.
    pub fn parse(text: &str) -> Option<SignInFlow> {
        match text.to_ascii_lowercase().as_str() {
            "srp" | "user_srp_auth" => Some(SignInFlow::Srp),
            "password" | "user_password_auth" => Some(SignInFlow::Password),
            _ => None,
        }
    }

    /// The `InitiateAuth` flow's name.
    pub fn auth_flow(self) -> &'static str {
        match self {
            SignInFlow::Srp => "USER_SRP_AUTH",
            SignInFlow::Password => "USER_PASSWORD_AUTH",
        }
    }
}

/// Everything the checks need.
pub struct Setup {
    pub table: Option<Named>,
    pub partition_key: Option<Named>,
    pub sort_key: Option<Named>,
    pub client_id: Option<Named>,
    pub client_secret: Option<String>,
    pub user_pool_id: Option<Named>,
    /// The pool id's Region (`us-east-1` of `us-east-1_AbC`).
    pub pool_region: Option<String>,
    pub issuer: Option<Named>,
    /// `COGNITO_REPLICA_REGIONS`: Regions whose original-type issuer is accepted too.
    pub replica_regions: Vec<String>,
    pub jwks_url: Option<Named>,
    pub jwks: Option<Named>,
    pub lifetime: u64,
    pub lifetime_name: String,
    pub rotation: bool,
    pub rotation_name: String,
    /// The current encryption key (from `SESSION_ENCRYPTION_KEY`, or KMS once decrypted).
    pub key: Option<[u8; 32]>,
    pub old_keys: Vec<[u8; 32]>,
    pub kms_ciphertext: Option<String>,
    /// `AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER` or `AWS_ENDPOINT_URL`.
    pub cognito_endpoint: Option<String>,
    pub token: Option<String>,
    pub sample: i32,
    /// Managed login: `COGNITO_DOMAIN`, `REDIRECT_URI`, `LOGOUT_URI`, `OAUTH_SCOPES`.
    pub cognito_domain: Option<Named>,
    pub redirect_uri: Option<Named>,
    pub logout_uri: Option<Named>,
    pub oauth_scopes: Option<Named>,
    /// `SIGN_IN_FLOW` when set and valid (the library's default, SRP, when not set).
    pub sign_in_flow: Option<(SignInFlow, Named)>,
    /// `SIGN_UP_GROUP`: the group new users join.
    pub sign_up_group: Option<Named>,
    /// The account flows' variable that is set (`SIGN_UP_GROUP`, `SIGN_UP_ATTRIBUTES`,
    /// `REVEAL_ACCOUNT_EXISTENCE`), if any: the function signs users up.
    pub accounts: Option<String>,
}

impl std::fmt::Debug for Setup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Setup")
            .field("table", &self.table)
            .field("client_id", &self.client_id)
            .field("user_pool_id", &self.user_pool_id)
            .finish_non_exhaustive()
    }
}

/// The origins of unsafe requests the function accepts: each request's own (the host it was
/// addressed to) and `ALLOWED_ORIGINS`. Behind CloudFront the function sees API Gateway's host,
/// so the site's origin (`REDIRECT_URI`'s, when managed login is set) must be listed.
fn csrf_origins(report: &mut Report) {
    let allowed: Vec<String> = env("ALLOWED_ORIGINS")
        .iter()
        .flat_map(|o| o.split(','))
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .map(str::to_owned)
        .collect();
    let site = env("REDIRECT_URI").and_then(|uri| {
        let uri: hyper::Uri = uri.parse().ok()?;
        Some(format!("{}://{}", uri.scheme_str()?, uri.authority()?))
    });
    let listed = if allowed.is_empty() {
        "none".to_owned()
    } else {
        allowed.join(", ")
    };
    let mut message = format!(
        "cross-site POST/PUT/PATCH/DELETE requests are refused (403); accepted are each \
         request's own origin (its Host and X-Forwarded-Proto) and ALLOWED_ORIGINS ({listed})"
    );
    if let Some(site) = site.filter(|site| !allowed.iter().any(|a| a.eq_ignore_ascii_case(site))) {
        message.push_str(&format!(
            "; if {site} (REDIRECT_URI's origin) reaches this function through CloudFront or \
             another proxy that rewrites Host, add it to ALLOWED_ORIGINS, or every sign-in and \
             logout form is refused"
        ));
    }
    report.info("config.csrf", message);
}

fn env(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// A base64 (standard or URL-safe) 32-byte key, as the library reads `SESSION_ENCRYPTION_KEY`.
pub fn parse_key(text: &str) -> Result<[u8; 32], String> {
    cognito_session::Sealer::parse_key(text)
}

/// The Region of a pool id such as `us-east-1_AbC`, if it has that shape.
pub fn pool_region(pool: &str) -> Option<String> {
    let (region, id) = pool.split_once('_')?;
    let region_ok = region.contains('-')
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    let id_ok = !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric());
    (region_ok && id_ok).then(|| region.to_owned())
}

impl Setup {
    /// Reads and validates the settings; each problem is a FAIL (or WARN) line, not an abort.
    pub fn read(args: DoctorArgs, report: &mut Report) -> Result<Setup, Failure> {
        let table = Named::new(args.table, "--table", "SESSION_TABLE");
        let partition_key = Named::new(args.partition_key, "--partition-key", "PARTITION_KEY");
        let client_id = Named::new(args.client_id, "--client-id", "CLIENT_ID");
        let user_pool_id = Named::new(args.user_pool_id, "--user-pool-id", "USER_POOL_ID");
        for (value, var, flag, what) in [
            (
                &table,
                "SESSION_TABLE",
                "--table",
                "the DynamoDB session table",
            ),
            (
                &partition_key,
                "PARTITION_KEY",
                "--partition-key",
                "the session table's partition key attribute",
            ),
            (
                &client_id,
                "CLIENT_ID",
                "--client-id",
                "the Cognito app client id",
            ),
        ] {
            if value.is_none() {
                report.fail(
                    "config.missing",
                    format!("{var} is not set: the function needs {what}"),
                    format!("set {var} (or {flag})"),
                );
            }
        }
        let mut pool_region_of = None;
        match &user_pool_id {
            None => report.warn(
                "config.user_pool_id",
                "USER_POOL_ID is not set: the function learns the pool from the first token that \
                 verifies, and the pool, app client and JWKS checks cannot run",
                "set USER_POOL_ID (or --user-pool-id), e.g. us-east-1_AbC123",
            ),
            Some(pool) => match pool_region(&pool.value) {
                Some(region) => pool_region_of = Some(region),
                None => report.fail(
                    "config.user_pool_id",
                    format!(
                        "{} {:?} is not a user pool id (<region>_<id>, such as us-east-1_AbC123)",
                        pool.name, pool.value
                    ),
                    format!("fix {}", pool.name),
                ),
            },
        }
        let lifetime = Named::new(
            args.session_lifetime,
            "--session-lifetime",
            "SESSION_LIFETIME",
        );
        let lifetime_name = lifetime
            .as_ref()
            .map_or("SESSION_LIFETIME".to_owned(), |l| l.name.clone());
        let lifetime = match lifetime {
            None => DEFAULT_LIFETIME,
            Some(l) => match l.value.parse::<u64>().ok().filter(|s| *s > 0) {
                Some(secs) => secs,
                None => {
                    report.fail(
                        "config.session_lifetime",
                        format!(
                            "{} {:?} is not a positive number of seconds",
                            l.name, l.value
                        ),
                        format!("fix {}", l.name),
                    );
                    DEFAULT_LIFETIME
                }
            },
        };
        let rotation = Named::new(
            args.refresh_token_rotation,
            "--refresh-token-rotation",
            "REFRESH_TOKEN_ROTATION",
        );
        let rotation_name = rotation
            .as_ref()
            .map_or("REFRESH_TOKEN_ROTATION".to_owned(), |r| r.name.clone());
        let rotation = match rotation {
            None => false,
            Some(r) => match r.value.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => true,
                "false" | "0" | "no" => false,
                _ => {
                    report.fail(
                        "config.refresh_token_rotation",
                        format!("{} {:?} is not true or false", r.name, r.value),
                        format!("set {} to true or false", r.name),
                    );
                    false
                }
            },
        };
        let key = match env("SESSION_ENCRYPTION_KEY") {
            None => None,
            Some(text) => match parse_key(&text) {
                Ok(key) => Some(key),
                Err(why) => {
                    report.fail(
                        "config.encryption_key",
                        format!("SESSION_ENCRYPTION_KEY is invalid: {why}"),
                        "set SESSION_ENCRYPTION_KEY to base64 of 32 random bytes",
                    );
                    None
                }
            },
        };
        let mut old_keys = Vec::new();
        for text in env("SESSION_ENCRYPTION_OLD_KEYS")
            .iter()
            .flat_map(|keys| keys.split(','))
            .map(str::trim)
            .filter(|k| !k.is_empty())
        {
            match parse_key(text) {
                Ok(key) => old_keys.push(key),
                Err(why) => report.fail(
                    "config.encryption_key",
                    format!("SESSION_ENCRYPTION_OLD_KEYS holds an invalid key: {why}"),
                    "list base64 32-byte keys separated by commas in SESSION_ENCRYPTION_OLD_KEYS",
                ),
            }
        }
        csrf_origins(report);
        let kms_ciphertext = env("SESSION_KMS_CIPHERTEXT");
        if kms_ciphertext.is_some() && env("SESSION_ENCRYPTION_KEY").is_some() {
            report.fail(
                "config.encryption_key",
                "both SESSION_ENCRYPTION_KEY and SESSION_KMS_CIPHERTEXT are set: the function \
                 refuses to start",
                "unset one of SESSION_ENCRYPTION_KEY and SESSION_KMS_CIPHERTEXT",
            );
        }
        let sign_in_flow = match Named::new(args.sign_in_flow, "--sign-in-flow", "SIGN_IN_FLOW") {
            None => None,
            Some(named) => match SignInFlow::parse(&named.value) {
                Some(flow) => Some((flow, named)),
                None => {
                    report.fail(
                        "config.sign_in_flow",
                        format!(
                            "{} {:?} is not a sign-in flow: the function refuses to start",
                            named.name, named.value
                        ),
                        format!(
                            "set {} to srp (USER_SRP_AUTH, the default) or password \
                             (USER_PASSWORD_AUTH)",
                            named.name
                        ),
                    );
                    None
                }
            },
        };
        let sign_up_group = Named::new(args.sign_up_group, "--sign-up-group", "SIGN_UP_GROUP");
        let token = match args.token.as_deref() {
            Some("-") => Some(read_stdin()?),
            other => other.map(str::to_owned),
        };
        Ok(Setup {
            table,
            partition_key,
            sort_key: Named::new(args.sort_key, "--sort-key", "SORT_KEY"),
            client_id,
            client_secret: env("CLIENT_SECRET"),
            user_pool_id,
            pool_region: pool_region_of,
            issuer: Named::new(args.issuer, "--issuer", "COGNITO_ISSUER"),
            replica_regions: env("COGNITO_REPLICA_REGIONS")
                .iter()
                .flat_map(|r| r.split(','))
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .map(str::to_owned)
                .collect(),
            jwks_url: Named::new(args.jwks_url, "--jwks-url", "COGNITO_JWKS_URL"),
            jwks: Named::new(args.jwks, "--jwks", "COGNITO_JWKS"),
            lifetime,
            lifetime_name,
            rotation,
            rotation_name,
            key,
            old_keys,
            kms_ciphertext,
            cognito_endpoint: env("AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER")
                .or_else(|| env("AWS_ENDPOINT_URL")),
            token,
            sample: args.sample.max(0),
            cognito_domain: Named::new(args.cognito_domain, "--cognito-domain", "COGNITO_DOMAIN"),
            redirect_uri: Named::new(args.redirect_uri, "--redirect-uri", "REDIRECT_URI"),
            logout_uri: Named::new(args.logout_uri, "--logout-uri", "LOGOUT_URI"),
            oauth_scopes: Named::new(args.oauth_scopes, "--oauth-scopes", "OAUTH_SCOPES"),
            sign_in_flow,
            accounts: match &sign_up_group {
                Some(group) => Some(group.name.clone()),
                None => ["SIGN_UP_ATTRIBUTES", "REVEAL_ACCOUNT_EXISTENCE"]
                    .into_iter()
                    .find(|name| env(name).is_some())
                    .map(str::to_owned),
            },
            sign_up_group,
        })
    }

    /// The pool id, once it is known to be well-formed.
    pub fn pool(&self) -> Option<&str> {
        self.pool_region
            .as_ref()
            .and(self.user_pool_id.as_ref())
            .map(|p| p.value.as_str())
    }

    /// What to name for the client id in a fix.
    pub fn client_name(&self) -> &str {
        self.client_id.as_ref().map_or("CLIENT_ID", |c| &c.name)
    }

    /// What to name for the pool id in a fix.
    pub fn pool_name(&self) -> &str {
        self.user_pool_id
            .as_ref()
            .map_or("USER_POOL_ID", |p| &p.name)
    }
}

/// The token piped on stdin.
fn read_stdin() -> Result<String, Failure> {
    use std::io::Read;
    let mut token = String::new();
    std::io::stdin()
        .read_to_string(&mut token)
        .map_err(|e| Failure::config(format!("cannot read the token from stdin: {e}")))?;
    let token = token.trim().to_owned();
    if token.is_empty() {
        return Err(Failure::config(
            "`doctor --token -` reads the token from stdin, which was empty",
        ));
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    use base64::Engine;

    use super::*;

    #[test]
    fn keys_and_pool_ids_parse_as_the_library_reads_them() {
        assert_eq!(parse_key(&STANDARD.encode([5u8; 32])), Ok([5u8; 32]));
        assert_eq!(parse_key(&URL_SAFE_NO_PAD.encode([6u8; 32])), Ok([6u8; 32]));
        assert!(parse_key("c2hvcnQ=").unwrap_err().contains("32"));
        assert_eq!(pool_region("eu-west-1_AbC12").as_deref(), Some("eu-west-1"));
        for bad in ["nope", "us-east-1_", "US-EAST-1_abc", "useast1_abc"] {
            assert_eq!(pool_region(bad), None, "{bad}");
        }
    }
}
