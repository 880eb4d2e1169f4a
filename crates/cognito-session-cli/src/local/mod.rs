//! A local Cognito, for development and tests: moto in server mode (Cognito user pools and
//! DynamoDB), a managed-login server (the pool domain's hosted pages, which moto lacks), a user
//! pool with an app client configured as a real web app's, a user who can sign in, and the
//! session table. `cognito-session dev` runs it; this project's tests use its parts (through
//! `testkit`), and so can yours.
//!
//! ```no_run
//! # async fn demo() -> Result<(), cognito_session_cli::local::Error> {
//! use cognito_session_cli::local::{default_venv, install_moto, LocalCognito, Options};
//! let python = install_moto(&default_venv())?;
//! let local = LocalCognito::start(&Options::new(python)).await?;
//! for (name, value) in local.vars() {
//!     println!("export {name}={value}");
//! }
//! local.stop();
//! # Ok(()) }
//! ```
//!
//! What differs from Cognito is moto's: see "moto differences" in the README.

mod error;
mod key;
pub mod managed_login;
mod moto;
mod provision;
mod python;

use std::path::PathBuf;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use cognito_jwt::{HttpsFetcher, JwksFetcher};

pub use error::Error;
pub use key::{sign_raw, MotoKey, MOTO_KID};
pub use managed_login::ManagedLogin;
pub use moto::Moto;
pub use provision::{CLIENT_NAME, EMAIL, PARTITION_KEY, PASSWORD, POOL_NAME, TABLE, USERNAME};
pub use python::{default_venv, has_moto, install_moto, moto_requirements, venv_python};

use managed_login::Upstream;
use provision::{provision, Provisioned};

/// moto's port unless told otherwise (`AWS_ENDPOINT_URL`).
pub const DEFAULT_MOTO_PORT: u16 = 4500;
/// The managed-login server's port unless told otherwise (`COGNITO_DOMAIN`).
pub const DEFAULT_LOGIN_PORT: u16 = 4501;
/// The app's port unless told otherwise (the web_app example's default).
pub const DEFAULT_APP_PORT: u16 = 3000;
/// The Region moto serves the pool in (its unsigned Cognito calls go to us-east-1).
pub const REGION: &str = "us-east-1";

/// How to bring the local Cognito up.
///
/// ```
/// use cognito_session_cli::local::Options;
/// let options = Options::new(".venv/bin/python".into());
/// assert_eq!(options.moto_port, 4500);
/// assert_eq!(options.app_url, "http://localhost:3000");
/// ```
#[derive(Debug, Clone)]
pub struct Options {
    /// A Python that has moto ([`install_moto`] gives one).
    pub python: PathBuf,
    /// moto's port; 0 picks a free one. When moto already serves it, it is reused.
    pub moto_port: u16,
    /// The managed-login server's port; 0 picks a free one. When a managed-login server of an
    /// earlier run serves this pool there, it is reused.
    pub login_port: u16,
    /// The app's origin: the app client's callback URL is `<app_url>/callback`, its sign-out
    /// URL `<app_url>/`, and `ALLOWED_ORIGINS` is this origin.
    pub app_url: String,
}

impl Options {
    /// The default ports, the app on `http://localhost:3000`, moto run by `python`.
    ///
    /// ```
    /// let options = cognito_session_cli::local::Options::new("python3".into());
    /// assert_eq!(options.login_port, 4501);
    /// ```
    pub fn new(python: PathBuf) -> Options {
        Options {
            python,
            moto_port: DEFAULT_MOTO_PORT,
            login_port: DEFAULT_LOGIN_PORT,
            app_url: format!("http://localhost:{DEFAULT_APP_PORT}"),
        }
    }
}

/// A running local Cognito. Dropping it (or [`stop`](Self::stop)) stops what it started: moto
/// (by its process id) and the managed-login server; what it found running is left alone.
///
/// ```no_run
/// # async fn demo(options: cognito_session_cli::local::Options)
/// # -> Result<(), cognito_session_cli::local::Error> {
/// let local = cognito_session_cli::local::LocalCognito::start(&options).await?;
/// let vars = local.vars(); // the function's environment
/// assert!(vars.iter().any(|(name, _)| *name == "CLIENT_ID"));
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct LocalCognito {
    moto: Moto,
    login: Option<ManagedLogin>,
    login_url: String,
    provisioned: Provisioned,
    app_url: String,
}

impl std::fmt::Debug for Provisioned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provisioned")
            .field("pool_id", &self.pool_id)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// What [`LocalCognito::stop`] stopped.
///
/// ```
/// let stopped = cognito_session_cli::local::Stopped::default();
/// assert_eq!(stopped.moto_pid, None);
/// ```
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Stopped {
    /// moto's process id, when this run had started it.
    pub moto_pid: Option<u32>,
    /// Whether this run's managed-login server was stopped (false: it reused another's).
    pub managed_login: bool,
}

/// SDK configuration for moto at `endpoint`: Region [`REGION`], dummy credentials.
///
/// ```no_run
/// # async fn demo() {
/// let sdk = cognito_session_cli::local::sdk_config("http://127.0.0.1:4500").await;
/// let cognito = aws_sdk_cognitoidentityprovider::Client::new(&sdk);
/// # let _ = cognito;
/// # }
/// ```
pub async fn sdk_config(endpoint: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(aws_credential_types::Credentials::new(
            "testing",
            "testing",
            None,
            None,
            "cognito-session-local",
        ))
        .load()
        .await
}

/// Whether `127.0.0.1:port` accepts connections.
async fn in_use(port: u16) -> bool {
    port != 0
        && tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .is_err()
}

impl LocalCognito {
    /// Brings it up: moto (reused when it already serves `moto_port`), the pool, app client,
    /// user and table (found by name and updated, or created), and the managed-login server
    /// (reused when an earlier run's serves this pool on `login_port`).
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), cognito_session_cli::local::Error> {
    /// use cognito_session_cli::local::{LocalCognito, Options};
    /// let mut options = Options::new(".venv/bin/python".into());
    /// (options.moto_port, options.login_port) = (0, 0); // free ports, as in tests
    /// let local = LocalCognito::start(&options).await?;
    /// # let _ = local; Ok(())
    /// # }
    /// ```
    pub async fn start(options: &Options) -> Result<LocalCognito, Error> {
        // Reading moto's key runs Python for about a second: alongside moto's start.
        let python = options.python.clone();
        let key = tokio::task::spawn_blocking(move || MotoKey::load(&python));
        let found = match options.moto_port {
            0 => None,
            port => Moto::running(port).await,
        };
        let moto = match found {
            Some(moto) => moto,
            None if in_use(options.moto_port).await => {
                return Err(Error::PortTaken {
                    what: "moto",
                    port: options.moto_port,
                    flag: "--moto-port",
                })
            }
            None => Moto::start(&options.python, options.moto_port)?,
        };
        let sdk = sdk_config(moto.url()).await;
        let provisioned = provision(&sdk, &options.app_url).await?;
        let url = format!("http://127.0.0.1:{}", options.login_port);
        let (login, login_url) = if options.login_port != 0
            && serves_sign_in(&url, &provisioned.client_id, &options.app_url).await
        {
            (None, url)
        } else if in_use(options.login_port).await {
            return Err(Error::PortTaken {
                what: "the managed-login server",
                port: options.login_port,
                flag: "--login-port",
            });
        } else {
            let upstream = Upstream {
                pool_id: provisioned.pool_id.clone(),
                cognito: aws_sdk_cognitoidentityprovider::Client::new(&sdk),
                key: key.await.map_err(|e| Error::Key {
                    python: options.python.clone(),
                    why: e.to_string(),
                })??,
            };
            let login = ManagedLogin::start(upstream, options.login_port).await?;
            let url = login.base_url().to_owned();
            (Some(login), url)
        };
        Ok(LocalCognito {
            moto,
            login,
            login_url,
            provisioned,
            app_url: options.app_url.clone(),
        })
    }

    /// Every variable the function needs, in the order `dev` prints them: AWS (moto's
    /// endpoint, Region, dummy credentials), the table, the pool and client, `SIGN_IN_FLOW=password`
    /// (moto checks passwords only there), managed login, the CSRF origin, `COOKIE_SECURE=false`
    /// (plain HTTP) and a generated `SESSION_ENCRYPTION_KEY`.
    ///
    /// ```no_run
    /// # fn demo(local: cognito_session_cli::local::LocalCognito) {
    /// let vars = local.vars();
    /// assert_eq!(vars[0], ("AWS_ENDPOINT_URL", local.moto().url().to_owned()));
    /// # }
    /// ```
    pub fn vars(&self) -> Vec<(&'static str, String)> {
        let app = &self.app_url;
        [
            ("AWS_ENDPOINT_URL", self.moto.url().to_owned()),
            ("AWS_REGION", REGION.to_owned()),
            ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
            ("SESSION_TABLE", TABLE.to_owned()),
            ("PARTITION_KEY", PARTITION_KEY.to_owned()),
            ("USER_POOL_ID", self.provisioned.pool_id.clone()),
            ("CLIENT_ID", self.provisioned.client_id.clone()),
            ("SIGN_IN_FLOW", "password".to_owned()),
            ("COGNITO_DOMAIN", self.login_url.clone()),
            ("REDIRECT_URI", format!("{app}/callback")),
            ("LOGOUT_URI", format!("{app}/")),
            ("ALLOWED_ORIGINS", app.clone()),
            ("COOKIE_SECURE", "false".to_owned()),
            (
                "SESSION_ENCRYPTION_KEY",
                self.provisioned.encryption_key.clone(),
            ),
        ]
        .into()
    }

    /// moto (started by this run, or found running).
    ///
    /// ```no_run
    /// # fn demo(local: cognito_session_cli::local::LocalCognito) {
    /// println!("moto at {}", local.moto().url());
    /// # }
    /// ```
    pub fn moto(&self) -> &Moto {
        &self.moto
    }

    /// This run's managed-login server (`None` when it reused an earlier run's).
    ///
    /// ```no_run
    /// # fn demo(local: cognito_session_cli::local::LocalCognito) {
    /// if let Some(login) = local.managed_login() {
    ///     println!("{} sign-ins", login.sign_ins());
    /// }
    /// # }
    /// ```
    pub fn managed_login(&self) -> Option<&ManagedLogin> {
        self.login.as_ref()
    }

    /// The pool's domain (`COGNITO_DOMAIN`): `http://127.0.0.1:<login port>`.
    ///
    /// ```no_run
    /// # fn demo(local: cognito_session_cli::local::LocalCognito) {
    /// assert!(local.login_url().starts_with("http://127.0.0.1:"));
    /// # }
    /// ```
    pub fn login_url(&self) -> &str {
        &self.login_url
    }

    /// Stops what this run started: the managed-login server and moto (by its process id).
    ///
    /// ```no_run
    /// # fn demo(local: cognito_session_cli::local::LocalCognito) {
    /// let stopped = local.stop();
    /// if let Some(pid) = stopped.moto_pid {
    ///     println!("stopped moto (pid {pid})");
    /// }
    /// # }
    /// ```
    pub fn stop(mut self) -> Stopped {
        let managed_login = self.login.take().is_some();
        Stopped {
            moto_pid: self.moto.stop(),
            managed_login,
        }
    }
}

/// Whether a managed-login server at `url` serves the sign-in form of `client_id` (an earlier
/// run's, for this same pool).
async fn serves_sign_in(url: &str, client_id: &str, app_url: &str) -> bool {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", &format!("{app_url}/callback"))
        .finish();
    let answer = tokio::time::timeout(
        std::time::Duration::from_secs(2),
        HttpsFetcher.fetch(&format!("{url}/login?{query}")),
    )
    .await;
    matches!(answer, Ok(Ok(body)) if String::from_utf8_lossy(&body).contains("signInSubmitButton"))
}
