//! Starts moto in server mode on a free 127.0.0.1 port, one process per test binary.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};

/// A running moto server (DynamoDB + Cognito IDP). It stops when the test process exits: the
/// launcher watches its parent and shuts moto down when it is gone.
#[derive(Debug)]
pub struct Moto {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    _child: Mutex<Child>,
}

const LAUNCHER: &str = r#"
import os, sys, threading, time
from moto.server import ThreadedMotoServer
from moto.dynamodb.models import DynamoDBBackend
# DynamoDB checks a write's condition and applies it atomically; moto's threaded server does
# not (two racing conditional writes can both pass): serialize its item operations.
lock = threading.RLock()
def atomic(method):
    def locked(self, *args, **kwargs):
        with lock:
            return method(self, *args, **kwargs)
    return locked
for name in ("get_item", "put_item", "update_item", "delete_item", "query", "transact_write_items"):
    if hasattr(DynamoDBBackend, name):
        setattr(DynamoDBBackend, name, atomic(getattr(DynamoDBBackend, name)))
parent = os.getppid()
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
while os.getppid() == parent:
    time.sleep(0.2)
server.stop()
"#;

/// The Python that has moto: `MOTO_PYTHON`, else the workspace's `.venv`.
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
        let mut child = Command::new(&python)
            .args(["-c", LAUNCHER])
            // moto checks TOTP codes (of its fixed secret) only with this; the sign-in tests
            // need a wrong code refused.
            .env("MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP", "true")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start moto with {}: {e}. Install it with `scripts/setup.sh` \
                     (creates .venv with moto) or point MOTO_PYTHON at a Python that has moto[server].",
                    python.display()
                )
            });
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        let read = BufReader::new(stdout).read_line(&mut line);
        let port: u16 = match read.ok().and_then(|_| line.trim().parse().ok()) {
            Some(port) => port,
            None => {
                let _ = child.kill();
                panic!(
                    "moto did not start with {} (is moto installed there? run `scripts/setup.sh`)",
                    python.display()
                )
            }
        };
        Moto {
            url: format!("http://127.0.0.1:{port}"),
            _child: Mutex::new(child),
        }
    }

    /// The JWKS URL moto serves for `pool_id`.
    pub fn jwks_url(&self, pool_id: &str) -> String {
        format!("{}/{pool_id}/.well-known/jwks.json", self.url)
    }
}
