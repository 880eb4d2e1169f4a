//! moto for a test binary: one server on a free 127.0.0.1 port, started on first use with the
//! local Cognito's launcher (`cognito_session_cli::local::Moto`).

use std::path::PathBuf;
use std::sync::OnceLock;

/// A running moto server (DynamoDB + Cognito IDP). It stops when the test process exits: the
/// launcher watches its parent and shuts moto down when it is gone.
#[derive(Debug)]
pub struct Moto {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    _server: cognito_session_cli::local::Moto,
}

/// The Python that has moto: `MOTO_PYTHON`, else the workspace's `.venv` (`testkit::moto_python`).
pub fn python() -> PathBuf {
    if let Some(python) = std::env::var_os("MOTO_PYTHON") {
        return PathBuf::from(python);
    }
    crate::workspace_root().join(".venv/bin/python")
}

impl Moto {
    /// The shared moto server of this test binary, started on first use.
    ///
    /// Panics with instructions when moto is not installed: tests never skip silently.
    pub fn shared() -> &'static Moto {
        static MOTO: OnceLock<Moto> = OnceLock::new();
        MOTO.get_or_init(Moto::start)
    }

    fn start() -> Moto {
        let python = python();
        let server = cognito_session_cli::local::Moto::start(&python, 0).unwrap_or_else(|e| {
            panic!(
                "{e}. Install moto with `scripts/setup.sh` (creates .venv with moto) or point \
                 MOTO_PYTHON at a Python that has moto[server]."
            )
        });
        Moto {
            url: server.url().to_owned(),
            _server: server,
        }
    }

    /// The JWKS URL moto serves for `pool_id`.
    pub fn jwks_url(&self, pool_id: &str) -> String {
        format!("{}/{pool_id}/.well-known/jwks.json", self.url)
    }
}
