//! Settings, read from the environment (the seed's three variables and ours) or set by the
//! builder, and validated with messages that name the variable to fix.

use std::time::Duration;

use crate::error::Error;
use crate::http::cookie::{CookieOptions, CookiePrefix, SameSite};
use crate::http::csrf::origin_of;
use crate::seal::parse_key;

/// How a request with a valid (unexpired) access token is checked.
///
/// ```
/// use cognito_session::SessionValidation;
/// assert_eq!(SessionValidation::default(), SessionValidation::Session);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SessionValidation {
    /// The token must verify *and* its session row must exist (one `GetItem` per request).
    /// A logout takes effect immediately. The default.
    #[default]
    Session,
    /// The token alone decides until it expires (no DynamoDB read). A logout takes effect when
    /// the access token expires (at most its lifetime, one hour by default), since a signed
    /// token cannot be recalled; the refresh that follows then fails.
    Token,
}

/// Every plain setting, as read from the environment or set on the builder. `Debug` redacts the
/// client secret, the encryption keys and the KMS ciphertext.
#[derive(Clone)]
pub(crate) struct Settings {
    pub table: Option<String>,
    pub partition_key: Option<String>,
    pub sort_key: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub user_pool_id: Option<String>,
    pub issuer: Option<String>,
    pub jwks_url: Option<String>,
    pub jwks: Option<String>,
    /// `COGNITO_REPLICA_REGIONS`: Regions of the pool's multi-Region replicas, whose
    /// original-type issuers are accepted too.
    pub replica_regions: Vec<String>,
    pub encryption_key: Option<String>,
    pub old_encryption_keys: Option<String>,
    pub kms_ciphertext: Option<String>,
    pub validation: SessionValidation,
    pub rotation: bool,
    pub refresh_lease: Duration,
    pub idle_timeout: Option<u64>,
    pub touch_interval: u64,
    /// Seconds after a refresh during which an older token of the login still counts (joins or
    /// refreshes); afterwards it is refused (`SESSION_REPLACED_TOKEN_GRACE`, default 60).
    pub replaced_grace: u64,
    pub cookie: CookieOptions,
    pub leeway: u64,
    pub jwks_timeout: Duration,
    pub jwks_penalty: Duration,
    pub operation_timeout: Duration,
    /// Age (seconds) after which fetched JWKS keys are revalidated.
    pub jwks_max_age: u64,
    /// Age (seconds) up to which fetched JWKS keys are served while revalidation fails.
    pub jwks_max_stale: u64,
    /// Entries of the verified-token cache (`SESSION_TOKEN_CACHE`); 0 turns it off.
    pub token_cache: usize,
    /// The Cognito endpoint override (`AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER` or
    /// `AWS_ENDPOINT_URL`), used to find an emulator's JWKS.
    pub cognito_endpoint: Option<String>,
    /// `ALLOWED_ORIGINS`: the origins (`https://app.example.com`) unsafe requests may come from,
    /// normalized. Empty: no CSRF origin check by default.
    pub allowed_origins: Vec<String>,
    /// Refuse cross-site unsafe requests (default on; only the builder turns it off).
    pub csrf: bool,
    /// Managed login: `COGNITO_DOMAIN`, `REDIRECT_URI`, `LOGOUT_URI`, `OAUTH_SCOPES`.
    pub cognito_domain: Option<String>,
    pub redirect_uri: Option<String>,
    pub logout_uri: Option<String>,
    pub oauth_scopes: Option<String>,
    /// `SIGN_IN_FLOW`: what [`Sessions::sign_in`](crate::Sessions::sign_in) uses.
    pub sign_in_flow: crate::SignInFlow,
    /// EMF metrics on or off (`POWERTOOLS_METRICS_DISABLED`, the builder); `None`: on when
    /// running in Lambda.
    pub metrics: Option<bool>,
    /// Running in Lambda (`AWS_LAMBDA_FUNCTION_NAME` set): metrics on by default.
    pub in_lambda: bool,
    /// `POWERTOOLS_METRICS_NAMESPACE`.
    pub metrics_namespace: Option<String>,
    /// `POWERTOOLS_SERVICE_NAME` (else the function's name).
    pub metrics_service: Option<String>,
    /// `SESSION_AUDIT_CLIENT_INFO`: client address and user agent in audit events (default on).
    pub audit_client_info: bool,
    /// `SIGN_UP_ATTRIBUTES`, `SIGN_UP_GROUP`, `REVEAL_ACCOUNT_EXISTENCE`.
    pub accounts: crate::login::AccountSettings,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secret = |value: &Option<String>| value.as_ref().map(|_| "<redacted>");
        f.debug_struct("Settings")
            .field("table", &self.table)
            .field("partition_key", &self.partition_key)
            .field("sort_key", &self.sort_key)
            .field("client_id", &self.client_id)
            .field("client_secret", &secret(&self.client_secret))
            .field("user_pool_id", &self.user_pool_id)
            .field("issuer", &self.issuer)
            .field("jwks_url", &self.jwks_url)
            .field("jwks", &self.jwks)
            .field("encryption_key", &secret(&self.encryption_key))
            .field("old_encryption_keys", &secret(&self.old_encryption_keys))
            .field("kms_ciphertext", &secret(&self.kms_ciphertext))
            .field("validation", &self.validation)
            .field("rotation", &self.rotation)
            .field("refresh_lease", &self.refresh_lease)
            .field("idle_timeout", &self.idle_timeout)
            .field("touch_interval", &self.touch_interval)
            .field("replaced_grace", &self.replaced_grace)
            .field("cookie", &self.cookie)
            .field("leeway", &self.leeway)
            .field("jwks_timeout", &self.jwks_timeout)
            .field("jwks_penalty", &self.jwks_penalty)
            .field("operation_timeout", &self.operation_timeout)
            .field("jwks_max_age", &self.jwks_max_age)
            .field("jwks_max_stale", &self.jwks_max_stale)
            .field("token_cache", &self.token_cache)
            .field("cognito_endpoint", &self.cognito_endpoint)
            .field("allowed_origins", &self.allowed_origins)
            .field("accounts", &self.accounts)
            .finish()
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            table: None,
            partition_key: None,
            sort_key: None,
            client_id: None,
            client_secret: None,
            user_pool_id: None,
            issuer: None,
            jwks_url: None,
            jwks: None,
            replica_regions: Vec::new(),
            encryption_key: None,
            old_encryption_keys: None,
            kms_ciphertext: None,
            validation: SessionValidation::Session,
            rotation: false,
            refresh_lease: Duration::from_secs(3),
            idle_timeout: None,
            touch_interval: 300,
            replaced_grace: 60,
            cookie: CookieOptions::default(),
            leeway: 30,
            jwks_timeout: Duration::from_secs(2),
            jwks_penalty: Duration::from_secs(10),
            operation_timeout: Duration::from_secs(2),
            jwks_max_age: 3600,
            jwks_max_stale: 86_400,
            token_cache: cognito_jwt::DEFAULT_TOKEN_CACHE,
            cognito_endpoint: None,
            allowed_origins: Vec::new(),
            csrf: true,
            cognito_domain: None,
            redirect_uri: None,
            logout_uri: None,
            oauth_scopes: None,
            sign_in_flow: crate::SignInFlow::Srp,
            metrics: None,
            in_lambda: false,
            metrics_namespace: None,
            metrics_service: None,
            audit_client_info: true,
            accounts: crate::login::AccountSettings::default(),
        }
    }
}

fn invalid(variable: &str, why: impl std::fmt::Display) -> Error {
    Error::config(format!("{variable} is invalid: {why}"))
}

impl Settings {
    /// Overlays the variables `get` returns (an environment lookup) on these settings.
    pub(crate) fn read_vars(&mut self, get: impl Fn(&str) -> Option<String>) -> Result<(), Error> {
        let get = |name: &str| {
            get(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let set = |slot: &mut Option<String>, name: &str| {
            if let Some(value) = get(name) {
                *slot = Some(value);
            }
        };
        set(&mut self.table, "SESSION_TABLE");
        set(&mut self.partition_key, "PARTITION_KEY");
        set(&mut self.sort_key, "SORT_KEY");
        set(&mut self.client_id, "CLIENT_ID");
        set(&mut self.client_secret, "CLIENT_SECRET");
        set(&mut self.user_pool_id, "USER_POOL_ID");
        set(&mut self.issuer, "COGNITO_ISSUER");
        set(&mut self.jwks_url, "COGNITO_JWKS_URL");
        set(&mut self.jwks, "COGNITO_JWKS");
        set(&mut self.encryption_key, "SESSION_ENCRYPTION_KEY");
        set(&mut self.old_encryption_keys, "SESSION_ENCRYPTION_OLD_KEYS");
        set(&mut self.kms_ciphertext, "SESSION_KMS_CIPHERTEXT");
        set(&mut self.cognito_domain, "COGNITO_DOMAIN");
        set(&mut self.redirect_uri, "REDIRECT_URI");
        set(&mut self.logout_uri, "LOGOUT_URI");
        set(&mut self.oauth_scopes, "OAUTH_SCOPES");
        set(&mut self.cognito_endpoint, "AWS_ENDPOINT_URL");
        set(
            &mut self.cognito_endpoint,
            "AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER",
        );
        if let Some(regions) = get("COGNITO_REPLICA_REGIONS") {
            self.replica_regions = regions
                .split(',')
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .map(str::to_owned)
                .collect();
        }
        if let Some(mode) = get("SESSION_VALIDATION") {
            self.validation = match mode.to_ascii_lowercase().as_str() {
                "session" => SessionValidation::Session,
                "token" => SessionValidation::Token,
                _ => {
                    return Err(invalid(
                        "SESSION_VALIDATION",
                        format!("{mode:?}; use `session` or `token`"),
                    ))
                }
            };
        }
        if let Some(on) = get("REFRESH_TOKEN_ROTATION") {
            self.rotation = match on.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => true,
                "false" | "0" | "no" => false,
                _ => {
                    return Err(invalid(
                        "REFRESH_TOKEN_ROTATION",
                        format!("{on:?}; use true or false"),
                    ))
                }
            };
        }
        for (name, slot) in [
            ("SESSION_IDLE_TIMEOUT", 0),
            ("SESSION_TOUCH_INTERVAL", 1),
            ("COGNITO_JWKS_MAX_AGE", 2),
            ("COGNITO_JWKS_MAX_STALE", 3),
        ] {
            if let Some(secs) = get(name) {
                let secs: u64 = secs.parse().ok().filter(|s| *s > 0).ok_or_else(|| {
                    invalid(
                        name,
                        format!("{secs:?} is not a positive number of seconds"),
                    )
                })?;
                match slot {
                    0 => self.idle_timeout = Some(secs),
                    1 => self.touch_interval = secs,
                    2 => self.jwks_max_age = secs,
                    _ => self.jwks_max_stale = secs,
                }
            }
        }
        if let Some(secs) = get("SESSION_OPERATION_TIMEOUT") {
            let secs: f64 = secs
                .parse()
                .ok()
                .filter(|s: &f64| s.is_finite() && *s > 0.0 && *s <= 900.0)
                .ok_or_else(|| {
                    invalid(
                        "SESSION_OPERATION_TIMEOUT",
                        format!("{secs:?} is not a number of seconds between 0 and 900"),
                    )
                })?;
            self.operation_timeout = Duration::from_secs_f64(secs);
        }
        if let Some(secs) = get("SESSION_REPLACED_TOKEN_GRACE") {
            self.replaced_grace = secs.parse().map_err(|_| {
                invalid(
                    "SESSION_REPLACED_TOKEN_GRACE",
                    format!("{secs:?} is not a number of seconds (0 or more)"),
                )
            })?;
        }
        if let Some(secs) = get("SESSION_LIFETIME") {
            let secs: u64 = secs.parse().ok().filter(|s| *s > 0).ok_or_else(|| {
                invalid(
                    "SESSION_LIFETIME",
                    format!("{secs:?} is not a positive number of seconds"),
                )
            })?;
            self.cookie.max_age_secs = secs;
        }
        if let Some(entries) = get("SESSION_TOKEN_CACHE") {
            self.token_cache = entries.parse().map_err(|_| {
                invalid(
                    "SESSION_TOKEN_CACHE",
                    format!("{entries:?} is not a number of entries (0 turns the cache off)"),
                )
            })?;
        }
        if let Some(same_site) = get("COOKIE_SAME_SITE") {
            self.cookie.same_site = match same_site.to_ascii_lowercase().as_str() {
                "lax" => SameSite::Lax,
                "strict" => SameSite::Strict,
                "none" => SameSite::None,
                _ => {
                    return Err(invalid(
                        "COOKIE_SAME_SITE",
                        format!("{same_site:?}; use Lax, Strict or None"),
                    ))
                }
            };
        }
        set(&mut self.cookie.domain, "COOKIE_DOMAIN");
        if let Some(name) = get("COOKIE_NAME") {
            self.cookie.name = name;
        }
        if let Some(path) = get("COOKIE_PATH") {
            self.cookie.path = path;
        }
        if let Some(prefix) = get("COOKIE_PREFIX") {
            self.cookie.prefix = match prefix.to_ascii_lowercase().as_str() {
                "__host-" | "host" => CookiePrefix::Host,
                "__secure-" | "secure" => CookiePrefix::Secure,
                "none" => CookiePrefix::None,
                _ => {
                    return Err(invalid(
                        "COOKIE_PREFIX",
                        format!("{prefix:?}; use __Host-, __Secure- or none"),
                    ))
                }
            };
        }
        if let Some(flow) = get("SIGN_IN_FLOW") {
            self.sign_in_flow = match flow.to_ascii_lowercase().as_str() {
                "srp" | "user_srp_auth" => crate::SignInFlow::Srp,
                "password" | "user_password_auth" => crate::SignInFlow::Password,
                _ => {
                    return Err(invalid(
                        "SIGN_IN_FLOW",
                        format!("{flow:?}; use srp (USER_SRP_AUTH, the default) or password (USER_PASSWORD_AUTH)"),
                    ))
                }
            };
        }
        let flag = |name: &str| -> Result<Option<bool>, Error> {
            match get(name) {
                None => Ok(None),
                Some(value) => match value.to_ascii_lowercase().as_str() {
                    "true" | "1" | "yes" => Ok(Some(true)),
                    "false" | "0" | "no" => Ok(Some(false)),
                    _ => Err(invalid(name, format!("{value:?}; use true or false"))),
                },
            }
        };
        if let Some(disabled) = flag("POWERTOOLS_METRICS_DISABLED")? {
            self.metrics = Some(!disabled);
        }
        if let Some(on) = flag("SESSION_AUDIT_CLIENT_INFO")? {
            self.audit_client_info = on;
        }
        if let Some(on) = flag("REVEAL_ACCOUNT_EXISTENCE")? {
            self.accounts.reveal = on;
        }
        if let Some(names) = get("SIGN_UP_ATTRIBUTES") {
            self.accounts.attributes = names
                .split(',')
                .map(str::trim)
                .filter(|name| !name.is_empty())
                .map(str::to_owned)
                .collect();
        }
        if let Some(group) = get("SIGN_UP_GROUP").filter(|g| !g.trim().is_empty()) {
            self.accounts.group = Some(group.trim().to_owned());
        }
        if let Some(namespace) = get("POWERTOOLS_METRICS_NAMESPACE") {
            self.metrics_namespace = Some(namespace);
        }
        let function = get("AWS_LAMBDA_FUNCTION_NAME");
        self.in_lambda = function.is_some();
        if let Some(service) = get("POWERTOOLS_SERVICE_NAME").or(function) {
            self.metrics_service = Some(service);
        }
        if let Some(secure) = get("COOKIE_SECURE") {
            self.cookie.secure = match secure.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => true,
                "false" | "0" | "no" => false,
                _ => {
                    return Err(invalid(
                        "COOKIE_SECURE",
                        format!("{secure:?}; use true (the default) or false (plain-HTTP local development only)"),
                    ))
                }
            };
        }
        if let Some(origins) = get("ALLOWED_ORIGINS") {
            self.allowed_origins = parse_origins(&origins)?;
        }
        Ok(())
    }

    /// Checks everything that can be checked without the network.
    pub(crate) fn validate(&self, needs_table: bool) -> Result<(), Error> {
        let required = |value: &Option<String>, name: &str, what: &str| {
            if value.is_none() {
                Err(Error::config(format!(
                    "{name} is not set: it must name {what}"
                )))
            } else {
                Ok(())
            }
        };
        required(&self.client_id, "CLIENT_ID", "the Cognito app client id")?;
        if needs_table {
            required(&self.table, "SESSION_TABLE", "the DynamoDB session table")?;
            required(
                &self.partition_key,
                "PARTITION_KEY",
                "the session table's partition key attribute",
            )?;
        }
        if let Some(pool) = &self.user_pool_id {
            pool_region(pool)?;
        }
        if !self.cookie.secure {
            if let Some(uri) = self
                .redirect_uri
                .as_deref()
                .filter(|u| u.starts_with("https://"))
            {
                return Err(invalid(
                    "COOKIE_SECURE",
                    format!("false while REDIRECT_URI is {uri:?}: cookies without Secure are for plain-HTTP local development only; remove COOKIE_SECURE"),
                ));
            }
        }
        if let Err(why) = self.cookie.check() {
            let variable = if why.contains("not a cookie name") {
                "COOKIE_NAME"
            } else {
                "COOKIE_PREFIX"
            };
            return Err(invalid(
                variable,
                format!("{why} (check COOKIE_NAME, COOKIE_DOMAIN and COOKIE_PATH)"),
            ));
        }
        for (name, url) in [
            ("COGNITO_ISSUER", &self.issuer),
            ("COGNITO_JWKS_URL", &self.jwks_url),
        ] {
            if let Some(url) = url {
                check_url(url).map_err(|why| invalid(name, why))?;
            }
        }
        for region in &self.replica_regions {
            if !is_region(region) {
                return Err(invalid(
                    "COGNITO_REPLICA_REGIONS",
                    format!(
                        "{region:?} is not an AWS Region name; list Regions separated by commas, \
                         such as eu-west-1,us-west-2"
                    ),
                ));
            }
        }
        if self.encryption_key.is_some() && self.kms_ciphertext.is_some() {
            return Err(invalid(
                "SESSION_KMS_CIPHERTEXT",
                "set either SESSION_ENCRYPTION_KEY or SESSION_KMS_CIPHERTEXT, not both",
            ));
        }
        if let Some(key) = &self.encryption_key {
            parse_key(key).map_err(|why| invalid("SESSION_ENCRYPTION_KEY", why))?;
        }
        self.old_keys()?;
        if self.jwks_max_stale < self.jwks_max_age {
            return Err(invalid(
                "COGNITO_JWKS_MAX_STALE",
                format!(
                    "{} s is less than COGNITO_JWKS_MAX_AGE ({} s): cached keys must be usable at \
                     least until they are revalidated",
                    self.jwks_max_stale, self.jwks_max_age
                ),
            ));
        }
        Ok(())
    }

    /// `SESSION_ENCRYPTION_OLD_KEYS`: comma-separated base64 keys that may still decrypt.
    pub(crate) fn old_keys(&self) -> Result<Vec<[u8; 32]>, Error> {
        self.old_encryption_keys
            .iter()
            .flat_map(|keys| keys.split(','))
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(|k| parse_key(k).map_err(|why| invalid("SESSION_ENCRYPTION_OLD_KEYS", why)))
            .collect()
    }

    /// The token verifier these settings describe: `COGNITO_ISSUER` as the only issuer (keys
    /// at `COGNITO_JWKS_URL`, an emulator's or its own), else `USER_POOL_ID` (with
    /// `COGNITO_REPLICA_REGIONS`), else the pool learned from the first token. Tokens expired
    /// within the session lifetime come back for a refresh.
    pub(crate) fn verifier(&self) -> Result<cognito_jwt::VerifierBuilder, Error> {
        let mut builder = cognito_jwt::Verifier::builder()
            .client_id(self.client_id.clone().unwrap_or_default())
            .replica_regions(self.replica_regions.iter().cloned())
            .leeway(Duration::from_secs(self.leeway))
            .refresh_window(Duration::from_secs(self.cookie.max_age_secs))
            .jwks_timeout(self.jwks_timeout)
            .jwks_refetch_interval(self.jwks_penalty)
            .jwks_max_age(Duration::from_secs(self.jwks_max_age))
            .jwks_max_stale(Duration::from_secs(self.jwks_max_stale))
            .token_cache(self.token_cache)
            .setting_names(cognito_jwt::SettingNames {
                client_ids: "CLIENT_ID".into(),
                issuers: "USER_POOL_ID (its Region prefix), COGNITO_ISSUER and \
                          COGNITO_REPLICA_REGIONS"
                    .into(),
                jwks: "USER_POOL_ID, COGNITO_ISSUER and COGNITO_JWKS_URL".into(),
            });
        if let Some(issuer) = &self.issuer {
            let issuer = issuer.trim_end_matches('/');
            return Ok(builder.issuer(issuer).jwks_url(self.jwks_url_for(issuer)));
        }
        if let Some(url) = &self.jwks_url {
            builder = builder.jwks_url(url);
        }
        if let Some(endpoint) = self.emulator() {
            builder = builder.emulator(endpoint);
        }
        Ok(match &self.user_pool_id {
            Some(pool) => {
                pool_region(pool)?;
                builder.user_pool(pool)
            }
            None => builder.learn_user_pool(),
        })
    }

    /// The JWKS URL for a known issuer: explicit, an emulator's, or the issuer's own.
    pub(crate) fn jwks_url_for(&self, issuer: &str) -> String {
        if let Some(url) = &self.jwks_url {
            return url.clone();
        }
        match (self.emulator(), &self.user_pool_id) {
            (Some(endpoint), Some(pool)) => format!(
                "{}/{pool}/.well-known/jwks.json",
                endpoint.trim_end_matches('/')
            ),
            _ => format!("{issuer}/.well-known/jwks.json"),
        }
    }

    /// The Cognito endpoint override, if it points at this machine (an emulator such as moto).
    pub(crate) fn emulator(&self) -> Option<&str> {
        let endpoint = self.cognito_endpoint.as_deref()?;
        let uri: http::Uri = endpoint.parse().ok()?;
        matches!(uri.host(), Some("127.0.0.1" | "localhost" | "[::1]")).then_some(endpoint)
    }
}

/// `COGNITO_ISSUER` / `COGNITO_JWKS_URL`: https, or plain http to this machine only (an
/// emulator): keys fetched over plain http from elsewhere could be anyone's.
fn check_url(url: &str) -> Result<(), String> {
    let uri: http::Uri = url
        .parse()
        .map_err(|_| format!("{url:?} is not an http(s) URL"))?;
    match (uri.scheme_str(), uri.host()) {
        (Some("https"), Some(_)) => Ok(()),
        (Some("http"), Some(host)) if is_loopback(host) => Ok(()),
        (Some("http"), Some(_)) => Err(format!(
            "{url:?} uses plain http to another host; use https (plain http is only for \
             127.0.0.0/8, [::1] and localhost)"
        )),
        _ => Err(format!("{url:?} is not an http(s) URL")),
    }
}

/// 127.0.0.0/8, `[::1]` or `localhost` (as `http::Uri::host` spells them).
pub(crate) fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// An AWS Region name such as `eu-west-1` (the shape, not a list of today's Regions).
pub(crate) fn is_region(region: &str) -> bool {
    (5..=32).contains(&region.len())
        && region.contains('-')
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !region.starts_with('-')
        && !region.ends_with('-')
}

/// `ALLOWED_ORIGINS`: origins separated by commas or spaces, each `scheme://host[:port]`.
pub(crate) fn parse_origins(list: &str) -> Result<Vec<String>, Error> {
    list.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|item| !item.is_empty())
        .map(|item| {
            origin_of(item).ok_or_else(|| {
                invalid(
                    "ALLOWED_ORIGINS",
                    format!("{item:?} is not an origin such as https://app.example.com"),
                )
            })
        })
        .collect()
}

/// The region of a user pool id such as `us-east-1_AbC`.
pub(crate) fn pool_region(pool: &str) -> Result<&str, Error> {
    let shape = "expected <region>_<id>, such as us-east-1_AbC123";
    let (region, id) = pool
        .split_once('_')
        .ok_or_else(|| invalid("USER_POOL_ID", format!("{pool:?}: {shape}")))?;
    let region_ok = !region.is_empty()
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && region.contains('-');
    let id_ok = !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric());
    if region_ok && id_ok {
        Ok(region)
    } else {
        Err(invalid("USER_POOL_ID", format!("{pool:?}: {shape}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The variables a `| variable | meaning |` table in `text` lists: every backticked
    /// upper-case name in its first column.
    fn table(text: &str, line_prefix: &str) -> std::collections::BTreeSet<String> {
        let rows: Vec<&str> = text
            .lines()
            .map(|l| l.trim_start_matches(line_prefix).trim())
            .skip_while(|l| *l != "| variable | meaning |")
            .take_while(|l| l.starts_with('|'))
            .skip(2)
            .collect();
        assert!(!rows.is_empty(), "no `| variable | meaning |` table");
        rows.iter()
            .filter_map(|row| row.split('|').nth(1))
            .flat_map(|cell| cell.split('`').skip(1).step_by(2))
            .filter(|name| {
                !name.is_empty()
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
            })
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn the_configuration_tables_list_exactly_the_variables_the_code_reads() {
        let asked = std::sync::Mutex::new(std::collections::BTreeSet::new());
        Settings::default()
            .read_vars(|name| {
                asked.lock().unwrap().insert(name.to_owned());
                None
            })
            .unwrap();
        let asked = asked.into_inner().unwrap();
        assert!(asked.contains("SESSION_TABLE") && asked.contains("COOKIE_SECURE"));
        let readme = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"));
        let crate_docs = include_str!("lib.rs");
        for (name, listed) in [
            ("README.md's configuration table", table(readme, "")),
            (
                "the crate docs' table (src/lib.rs)",
                table(crate_docs, "//!"),
            ),
        ] {
            let missing: Vec<_> = asked.difference(&listed).collect();
            let stale: Vec<_> = listed.difference(&asked).collect();
            assert!(
                missing.is_empty() && stale.is_empty(),
                "{name}: read but not listed {missing:?}; listed but never read {stale:?}"
            );
        }
    }

    #[test]
    fn debug_redacts_the_client_secret_and_the_keys() {
        let mut s = Settings::default();
        s.read_vars(|name| {
            Some(match name {
                "CLIENT_SECRET" => "client-secret-value".into(),
                "SESSION_ENCRYPTION_KEY" => "current-key-value".into(),
                "SESSION_ENCRYPTION_OLD_KEYS" => "old-key-value".into(),
                "SESSION_KMS_CIPHERTEXT" => "kms-ciphertext-value".into(),
                "CLIENT_ID" => "client-id-value".into(),
                _ => return None,
            })
        })
        .unwrap();
        let debug = format!("{s:?}");
        for secret in ["client-secret", "current-key", "old-key", "kms-ciphertext"] {
            assert!(!debug.contains(secret), "{debug}");
        }
        assert!(debug.contains("client-id-value"), "{debug}");
        assert!(debug.contains("<redacted>"), "{debug}");
    }

    fn read(vars: &[(&str, &str)]) -> Result<Settings, Error> {
        let mut s = Settings::default();
        s.read_vars(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        })?;
        s.validate(true)?;
        Ok(s)
    }

    const SEED: [(&str, &str); 3] = [
        ("SESSION_TABLE", "t"),
        ("PARTITION_KEY", "pk"),
        ("CLIENT_ID", "c"),
    ];

    #[test]
    fn seed_variables_suffice() {
        let s = read(&SEED).unwrap();
        assert_eq!(s.table.as_deref(), Some("t"));
        let verifier = format!("{:?}", s.verifier().unwrap());
        assert!(verifier.contains("learn: true"), "{verifier}");
    }

    #[test]
    fn missing_variables_are_named() {
        for missing in ["SESSION_TABLE", "PARTITION_KEY", "CLIENT_ID"] {
            let vars: Vec<_> = SEED
                .iter()
                .copied()
                .filter(|(k, _)| *k != missing)
                .collect();
            let message = read(&vars).unwrap_err().to_string();
            assert!(message.contains(missing), "{message}");
        }
    }

    #[test]
    fn malformed_variables_are_named() {
        for (name, value) in [
            ("USER_POOL_ID", "nope"),
            ("USER_POOL_ID", "us-east-1_"),
            ("SESSION_VALIDATION", "maybe"),
            ("SESSION_LIFETIME", "-5"),
            ("COGNITO_JWKS_URL", "file:///etc/passwd"),
            ("COGNITO_ISSUER", "not a url"),
            ("COOKIE_SAME_SITE", "sometimes"),
            ("SESSION_TOKEN_CACHE", "-1"),
            ("SESSION_TOKEN_CACHE", "lots"),
            ("SESSION_ENCRYPTION_KEY", "c2hvcnQ="),
            ("SESSION_ENCRYPTION_OLD_KEYS", "not base64!"),
            ("COOKIE_PREFIX", "__Weird-"),
            ("ALLOWED_ORIGINS", "https://ok.example, not-an-origin"),
            ("ALLOWED_ORIGINS", "https://app.example/path"),
            ("COGNITO_JWKS_MAX_AGE", "0"),
            ("COGNITO_JWKS_MAX_STALE", "60"),
            ("COOKIE_NAME", "my token"),
            ("COOKIE_NAME", "sid;Domain=evil.example"),
            ("COGNITO_REPLICA_REGIONS", "eu west 1"),
            ("COGNITO_REPLICA_REGIONS", "eu-west-1,https://evil.example"),
            ("COGNITO_REPLICA_REGIONS", "EU-WEST-1"),
            ("COGNITO_JWKS_URL", "http://jwks.example/keys.json"),
            (
                "COGNITO_JWKS_URL",
                "http://127.0.0.1.evil.example/keys.json",
            ),
            ("COGNITO_JWKS_URL", "http://10.0.0.1/keys.json"),
            (
                "COGNITO_ISSUER",
                "http://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbC",
            ),
            (
                "COGNITO_ISSUER",
                "ftp://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbC",
            ),
        ] {
            let mut vars = SEED.to_vec();
            vars.push((name, value));
            let message = read(&vars).unwrap_err().to_string();
            assert!(message.contains(name), "{message}");
        }
    }

    #[test]
    fn allowed_origins_are_normalized() {
        let mut vars = SEED.to_vec();
        vars.push((
            "ALLOWED_ORIGINS",
            "https://App.Example.com/, http://localhost:3000 https://api.example.com:443",
        ));
        let s = read(&vars).unwrap();
        assert_eq!(
            s.allowed_origins,
            [
                "https://app.example.com",
                "http://localhost:3000",
                "https://api.example.com"
            ]
        );
    }

    #[test]
    fn host_prefix_is_checked_against_the_other_cookie_variables() {
        let mut vars = SEED.to_vec();
        vars.push(("COOKIE_PREFIX", "__Host-"));
        let s = read(&vars).unwrap();
        assert_eq!(s.cookie.prefix, CookiePrefix::Host);
        for (name, value) in [("COOKIE_DOMAIN", "example.com"), ("COOKIE_PATH", "/app")] {
            let mut bad = vars.clone();
            bad.push((name, value));
            let message = read(&bad).unwrap_err().to_string();
            assert!(
                message.contains("COOKIE_PREFIX") && message.contains(name),
                "{message}"
            );
        }
    }

    #[test]
    fn jwks_ages() {
        let s = read(&SEED).unwrap();
        assert_eq!((s.jwks_max_age, s.jwks_max_stale), (3600, 86_400));
        let mut vars = SEED.to_vec();
        vars.extend([
            ("COGNITO_JWKS_MAX_AGE", "60"),
            ("COGNITO_JWKS_MAX_STALE", "600"),
        ]);
        let s = read(&vars).unwrap();
        assert_eq!((s.jwks_max_age, s.jwks_max_stale), (60, 600));
    }

    #[test]
    fn token_cache_size() {
        assert_eq!(
            read(&SEED).unwrap().token_cache,
            cognito_jwt::DEFAULT_TOKEN_CACHE
        );
        let mut vars = SEED.to_vec();
        vars.push(("SESSION_TOKEN_CACHE", "0"));
        assert_eq!(read(&vars).unwrap().token_cache, 0);
    }

    #[test]
    fn issuer_and_jwks_from_pool() {
        let mut vars = SEED.to_vec();
        vars.push(("USER_POOL_ID", "eu-west-1_AbC"));
        let s = read(&vars).unwrap();
        let verifier = format!("{:?}", s.verifier().unwrap());
        assert!(
            verifier.contains(r#"pools: ["eu-west-1_AbC"]"#) && verifier.contains("emulator: None"),
            "{verifier}"
        );
        let issuer = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC".to_owned();
        assert_eq!(
            s.jwks_url_for(&issuer),
            format!("{issuer}/.well-known/jwks.json")
        );
        vars.push(("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"));
        let s = read(&vars).unwrap();
        let verifier = format!("{:?}", s.verifier().unwrap());
        assert!(
            verifier.contains(r#"emulator: Some("http://127.0.0.1:5000")"#),
            "{verifier}"
        );
        assert_eq!(
            s.jwks_url_for(&issuer),
            "http://127.0.0.1:5000/eu-west-1_AbC/.well-known/jwks.json"
        );
        // A non-loopback endpoint (a VPC endpoint, say) is not assumed to serve the JWKS.
        vars.push((
            "AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER",
            "https://vpce.example",
        ));
        let s = read(&vars).unwrap();
        assert_eq!(
            s.jwks_url_for(&issuer),
            format!("{issuer}/.well-known/jwks.json")
        );
    }

    #[test]
    fn plain_http_only_to_this_machine() {
        for url in [
            "http://127.0.0.1:5000/us-east-1_AbC/.well-known/jwks.json",
            "http://127.8.9.10/jwks.json",
            "http://localhost:8080/jwks.json",
            "http://[::1]:9000/jwks.json",
            "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbC/.well-known/jwks.json",
        ] {
            for name in ["COGNITO_JWKS_URL", "COGNITO_ISSUER"] {
                let mut vars = SEED.to_vec();
                vars.push((name, url));
                assert!(read(&vars).is_ok(), "{name}={url}");
            }
        }
    }

    #[test]
    fn replica_regions_add_original_type_issuers() {
        // Which issuers and JWKS URLs a pool gives is cognito-jwt's (tested there); here: the
        // variables reach the verifier.
        let mut vars = SEED.to_vec();
        vars.extend([
            ("USER_POOL_ID", "us-east-1_AbC"),
            ("COGNITO_REPLICA_REGIONS", " eu-west-1 , us-west-2,"),
        ]);
        let s = read(&vars).unwrap();
        let debug = format!("{:?}", s.verifier().unwrap());
        assert!(
            debug.contains(r#"pools: ["us-east-1_AbC"]"#)
                && debug.contains(r#"replicas: ["eu-west-1", "us-west-2"]"#)
                && debug.contains("issuers: []")
                && debug.contains("jwks_url: None"),
            "{debug}"
        );
        // An explicit issuer is the only one, with its own keys; an explicit JWKS URL serves
        // every issuer.
        let mut explicit = vars.clone();
        explicit.push(("COGNITO_ISSUER", "https://idp.example/pool/"));
        let debug = format!("{:?}", read(&explicit).unwrap().verifier().unwrap());
        assert!(
            debug.contains(r#"pools: []"#)
                && debug.contains(r#"issuers: ["https://idp.example/pool"]"#)
                && debug.contains(
                    r#"jwks_url: Some("https://idp.example/pool/.well-known/jwks.json")"#
                ),
            "{debug}"
        );
        vars.push(("COGNITO_JWKS_URL", "https://keys.example/jwks.json"));
        let debug = format!("{:?}", read(&vars).unwrap().verifier().unwrap());
        assert!(
            debug.contains(r#"jwks_url: Some("https://keys.example/jwks.json")"#),
            "{debug}"
        );
        // Without USER_POOL_ID the pool is learned.
        let debug = format!("{:?}", read(&SEED).unwrap().verifier().unwrap());
        assert!(debug.contains("learn: true"), "{debug}");
    }
}
