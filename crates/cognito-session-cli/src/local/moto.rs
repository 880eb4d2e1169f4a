//! moto in server mode on 127.0.0.1: started on a port (fixed, or any free one), or found already
//! serving there. A started server stops when its [`Moto`] is dropped or stopped, and also when
//! the process that started it exits (the launcher watches its parent).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use cognito_jwt::{HttpsFetcher, JwksFetcher};

use super::Error;

/// The launcher. DynamoDB checks a write's condition and applies it atomically; moto's threaded
/// server does not (two racing conditional writes can both pass), so its item operations are
/// serialized. It prints the port it serves, then exits when its parent process is gone.
const LAUNCHER: &str = r#"
import os, sys, threading, time
from moto.server import ThreadedMotoServer
from moto.dynamodb.models import DynamoDBBackend
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
server = ThreadedMotoServer(ip_address="127.0.0.1", port=int(sys.argv[1]), verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
while os.getppid() == parent:
    time.sleep(0.2)
server.stop()
"#;

/// How long moto may take to start serving.
const STARTUP: Duration = Duration::from_secs(60);

/// A moto server: one this process started (stopped on drop), or one found running.
///
/// ```no_run
/// # fn demo() -> Result<(), cognito_session_cli::local::Error> {
/// use cognito_session_cli::local::Moto;
/// let moto = Moto::start(std::path::Path::new(".venv/bin/python"), 0)?; // 0: any free port
/// println!("moto at {} (pid {:?})", moto.url(), moto.pid());
/// drop(moto); // stops it
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Moto {
    url: String,
    port: u16,
    child: Option<Child>,
}

impl Moto {
    /// Starts moto with `python` on `127.0.0.1:port` (0: a free port), in a process group of
    /// its own (a terminal's Ctrl-C reaches only this process, which then stops it by its id).
    ///
    /// `MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP` is set: moto then checks TOTP codes (of its
    /// fixed secret), so a wrong code is refused.
    ///
    /// ```no_run
    /// # fn demo() -> Result<(), cognito_session_cli::local::Error> {
    /// let moto = cognito_session_cli::local::Moto::start(std::path::Path::new("python3"), 4500)?;
    /// assert_eq!(moto.url(), "http://127.0.0.1:4500");
    /// # Ok(()) }
    /// ```
    pub fn start(python: &Path, port: u16) -> Result<Moto, Error> {
        use std::os::unix::process::CommandExt;
        let failed = |why: String| Error::MotoStart {
            python: python.to_owned(),
            port,
            why,
        };
        let mut child = Command::new(python)
            .args(["-c", LAUNCHER, &port.to_string()])
            .env("MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP", "true")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .map_err(|e| failed(format!("{e}; is Python installed there?")))?;
        // Its first line is the port; a Python that hangs instead is given a minute.
        let (sender, receiver) = std::sync::mpsc::channel();
        if let Some(stdout) = child.stdout.take() {
            std::thread::spawn(move || {
                let mut line = String::new();
                let read = BufReader::new(stdout).read_line(&mut line);
                let _ = sender.send(read.ok().and_then(|_| line.trim().parse::<u16>().ok()));
            });
        }
        match receiver.recv_timeout(STARTUP) {
            Ok(Some(port)) => Ok(Moto {
                url: format!("http://127.0.0.1:{port}"),
                port,
                child: Some(child),
            }),
            outcome => {
                let _ = child.kill();
                let status = child.wait();
                let why = match outcome {
                    Err(_) => format!("it printed no port within {} s", STARTUP.as_secs()),
                    Ok(_) => match status {
                        Ok(status) => format!("it exited ({status}) without serving"),
                        Err(e) => format!("it stopped without serving ({e})"),
                    },
                };
                Err(failed(format!(
                    "{why}: is moto installed for this Python (run with a venv this command \
                     manages, or `scripts/setup.sh` in the repository), and is the port free?"
                )))
            }
        }
    }

    /// moto serving on `127.0.0.1:port`, if it answers moto's own API (`/moto-api/config`)
    /// within two seconds. Dropping or stopping the value leaves it running.
    ///
    /// ```no_run
    /// # async fn demo() {
    /// if let Some(moto) = cognito_session_cli::local::Moto::running(4500).await {
    ///     println!("reusing {}", moto.url());
    /// }
    /// # }
    /// ```
    pub async fn running(port: u16) -> Option<Moto> {
        let url = format!("http://127.0.0.1:{port}");
        let answer = tokio::time::timeout(
            Duration::from_secs(2),
            HttpsFetcher.fetch(&format!("{url}/moto-api/config")),
        )
        .await;
        let body = answer.ok()?.ok()?;
        serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .filter(serde_json::Value::is_object)?;
        Some(Moto {
            url,
            port,
            child: None,
        })
    }

    /// `http://127.0.0.1:<port>`.
    ///
    /// ```no_run
    /// # fn demo(moto: cognito_session_cli::local::Moto) {
    /// let endpoint = moto.url(); // AWS_ENDPOINT_URL
    /// # let _ = endpoint;
    /// # }
    /// ```
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The port it serves.
    ///
    /// ```no_run
    /// # fn demo(moto: cognito_session_cli::local::Moto) {
    /// assert_ne!(moto.port(), 0);
    /// # }
    /// ```
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The process id when this process started it; `None` for one found running.
    ///
    /// ```no_run
    /// # fn demo(moto: cognito_session_cli::local::Moto) {
    /// if let Some(pid) = moto.pid() {
    ///     println!("moto runs as process {pid}");
    /// }
    /// # }
    /// ```
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Stops it (by its process id) if this process started it, and waits for it to exit;
    /// returns the process id it stopped.
    ///
    /// ```no_run
    /// # fn demo(mut moto: cognito_session_cli::local::Moto) {
    /// if let Some(pid) = moto.stop() {
    ///     println!("stopped moto (pid {pid})");
    /// }
    /// # }
    /// ```
    pub fn stop(&mut self) -> Option<u32> {
        let mut child = self.child.take()?;
        let _ = child.kill();
        let _ = child.wait();
        Some(child.id())
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.stop();
    }
}
