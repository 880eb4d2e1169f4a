//! `cognito-session dev` as a process: a fresh virtual environment gets moto, the printed
//! variables are a configuration `doctor` passes, a second run reuses everything, Ctrl-C stops
//! what the run started (by process id) and a killed run leaves nothing behind; with `--app`, a
//! real browser signs in through the web_app example with the own form and with managed login
//! (taking the README's screenshots).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_cognitoidentityprovider::types::AuthFlowType;
use base64::Engine;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

/// A running `cognito-session dev`.
struct Dev {
    child: Child,
    /// Its stderr so far (drained as it comes: the web app logs there too).
    stderr: Arc<Mutex<String>>,
    stdout: Lines<BufReader<ChildStdout>>,
    /// The `export NAME=value` lines, by name.
    vars: BTreeMap<String, String>,
    /// The `# ...` lines.
    notes: Vec<String>,
}

/// A port nothing listens on (right now).
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Whether something accepts connections on `127.0.0.1:port`.
fn listening(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
}

/// Whether process `pid` exists.
fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

fn workspace() -> PathBuf {
    testkit::workspace_root()
}

impl Dev {
    /// Starts `cognito-session dev args…` in the workspace and reads its stdout until the line
    /// starting with `until` (within `wait`).
    async fn start(args: &[&str], until: &str, wait: Duration) -> Dev {
        let mut child = Command::new(env!("CARGO_BIN_EXE_cognito-session"))
            .arg("dev")
            .args(args)
            .current_dir(workspace())
            .env_remove("MOTO_PYTHON")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("run cognito-session dev");
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut pipe = BufReader::new(child.stderr.take().expect("piped stderr")).lines();
        let drained = stderr.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = pipe.next_line().await {
                let mut text = drained.lock().unwrap();
                text.push_str(&line);
                text.push('\n');
            }
        });
        let mut dev = Dev {
            stderr,
            stdout: BufReader::new(stdout).lines(),
            child,
            vars: BTreeMap::new(),
            notes: Vec::new(),
        };
        dev.read_until(until, wait).await;
        dev
    }

    async fn read_until(&mut self, until: &str, wait: Duration) {
        let read = async {
            while let Some(line) = self.stdout.next_line().await.unwrap() {
                if let Some(export) = line.strip_prefix("export ") {
                    let (name, value) = export.split_once('=').unwrap();
                    self.vars.insert(name.to_owned(), value.to_owned());
                } else {
                    self.notes.push(line.clone());
                }
                if line.starts_with(until) {
                    return;
                }
            }
            panic!("dev's stdout ended before {until:?}: {:?}", self.notes);
        };
        if tokio::time::timeout(wait, read).await.is_err() {
            let _ = self.child.start_kill();
            let stderr = self.stderr();
            panic!(
                "no {until:?} from dev within {wait:?}; notes {:?}; stderr: {stderr}",
                self.notes
            );
        }
    }

    fn var(&self, name: &str) -> &str {
        self.vars
            .get(name)
            .unwrap_or_else(|| panic!("dev printed no {name}: {:?}", self.vars))
    }

    fn note(&self, prefix: &str) -> &str {
        self.notes
            .iter()
            .find(|n| n.starts_with(prefix))
            .unwrap_or_else(|| panic!("no note {prefix:?} in {:?}", self.notes))
    }

    /// The pid in a note such as `# moto (…): http://… (started, pid 123)`.
    fn pid(&self, prefix: &str) -> u32 {
        let note = self.note(prefix);
        let (_, pid) = note.rsplit_once("pid ").unwrap_or_else(|| panic!("{note}"));
        pid.trim_end_matches(')').parse().unwrap()
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Sends `signal` (`INT` is a terminal's Ctrl-C) and waits for the exit; returns stderr.
    async fn signal(mut self, signal: &str) -> (std::process::ExitStatus, String) {
        let pid = self.child.id().expect("still running").to_string();
        let sent = std::process::Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status()
            .unwrap();
        assert!(sent.success(), "kill -{signal} {pid}");
        let status = tokio::time::timeout(Duration::from_secs(20), self.child.wait())
            .await
            .expect("dev exits after the signal")
            .unwrap();
        // The pipe's last lines.
        tokio::time::sleep(Duration::from_millis(200)).await;
        (status, self.stderr())
    }
}

/// `cognito-session doctor --json` with exactly `vars` as its environment.
async fn doctor(vars: &BTreeMap<String, String>) -> (i32, Value) {
    let output = Command::new(env!("CARGO_BIN_EXE_cognito-session"))
        .args(["doctor", "--json"])
        .env_clear()
        .env("AWS_MAX_ATTEMPTS", "1")
        .envs(vars)
        .output()
        .await
        .unwrap();
    let json = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "doctor printed no JSON ({e}): {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output.status.code().unwrap_or(-1), json)
}

fn with_status<'a>(json: &'a Value, status: &str) -> Vec<&'a str> {
    json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == status)
        .map(|c| c["code"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn dev_installs_moto_prints_a_configuration_doctor_passes_reuses_it_and_stops_what_it_started(
) {
    let (moto, login, app) = (free_port(), free_port(), free_port());
    let venv =
        std::env::temp_dir().join(format!("cognito-session-dev-venv-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&venv);
    let ports = [
        "--moto-port",
        &moto.to_string(),
        "--login-port",
        &login.to_string(),
        "--port",
        &app.to_string(),
    ]
    .map(String::from);
    let mut args: Vec<&str> = ports.iter().map(String::as_str).collect();
    let venv_arg = venv.display().to_string();
    args.extend(["--venv", &venv_arg]);

    // 1. A fresh virtual environment: moto is installed into it, then everything comes up.
    let first = Dev::start(&args, "# sign in as", Duration::from_secs(300)).await;
    assert!(cognito_session_cli::local::has_moto(
        &venv.join("bin/python")
    ));
    let expected = [
        ("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{moto}")),
        ("AWS_REGION", "us-east-1".into()),
        ("SESSION_TABLE", "sessions".into()),
        ("PARTITION_KEY", "sub".into()),
        ("SIGN_IN_FLOW", "password".into()),
        ("COGNITO_DOMAIN", format!("http://127.0.0.1:{login}")),
        ("REDIRECT_URI", format!("http://localhost:{app}/callback")),
        ("LOGOUT_URI", format!("http://localhost:{app}/")),
        ("ALLOWED_ORIGINS", format!("http://localhost:{app}")),
        ("COOKIE_SECURE", "false".into()),
        ("PORT", app.to_string()),
    ];
    for (name, value) in &expected {
        assert_eq!(first.var(name), value, "{name}");
    }
    let key = base64::engine::general_purpose::STANDARD
        .decode(first.var("SESSION_ENCRYPTION_KEY"))
        .unwrap();
    assert_eq!(key.len(), 32, "SESSION_ENCRYPTION_KEY is 32 bytes");
    assert!(first.var("USER_POOL_ID").starts_with("us-east-1_"));
    let moto_pid = first.pid("# moto");
    assert!(alive(moto_pid));
    assert!(first.note("# managed login").contains("(started)"));

    // 2. The variables are a configuration doctor passes: only what moto lacks warns (it
    //    reports no rotation and answers RevokeToken with 500).
    let (code, json) = doctor(&first.vars).await;
    assert_eq!(with_status(&json, "fail"), Vec::<&str>::new(), "{json:#}");
    assert_eq!(
        with_status(&json, "warn"),
        ["client.rotation", "iam.revoke_token"],
        "{json:#}"
    );
    assert_eq!(code, 1);
    for check in [
        "client.refresh_flow",
        "client.sign_in_flow",
        "client.revocation",
        "login.code_flow",
        "login.callback_url",
        "login.logout_url",
        "login.scopes",
        "table.ttl",
        "jwks.keys",
    ] {
        assert!(
            with_status(&json, "ok").contains(&check),
            "{check}: {json:#}"
        );
    }

    // 3. The user signs in with the printed password, and the ID token carries the verified
    //    email (moto writes only the client's ReadAttributes into it).
    let sdk = cognito_session_cli::local::sdk_config(first.var("AWS_ENDPOINT_URL")).await;
    let cognito = aws_sdk_cognitoidentityprovider::Client::new(&sdk);
    let tokens = cognito
        .initiate_auth()
        .client_id(first.var("CLIENT_ID"))
        .auth_flow(AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", cognito_session_cli::local::USERNAME)
        .auth_parameters("PASSWORD", cognito_session_cli::local::PASSWORD)
        .send()
        .await
        .expect("the printed user signs in")
        .authentication_result
        .unwrap();
    let id = testkit::peek(tokens.id_token().unwrap());
    assert_eq!(id["email"], cognito_session_cli::local::EMAIL);
    // Cognito writes a boolean; moto the attribute's string (the library reads both).
    assert_eq!(id["email_verified"], "true");

    // 4. A second run on the same ports reuses moto, the pool, the client, the key and the
    //    managed-login server, and prints the same variables; stopping it stops nothing.
    let second = Dev::start(&args, "# sign in as", Duration::from_secs(60)).await;
    assert_eq!(second.vars, first.vars);
    assert!(second.note("# moto").contains("reused"));
    assert!(second.note("# managed login").contains("reused"));
    let (status, stderr) = second.signal("INT").await;
    assert!(status.success(), "{status}: {stderr}");
    assert!(stderr.contains("stopped nothing"), "{stderr}");
    assert!(listening(moto) && listening(login) && alive(moto_pid));

    // 5. Ctrl-C on the first run stops moto (by its pid) and the managed-login server.
    let (status, stderr) = first.signal("INT").await;
    assert!(status.success(), "{status}: {stderr}");
    assert!(
        stderr.contains(&format!("moto (pid {moto_pid})")) && stderr.contains("managed login"),
        "{stderr}"
    );
    assert!(!listening(moto) && !listening(login));
    assert!(!alive(moto_pid), "moto is gone");

    // 6. A run killed outright (no chance to clean up) leaves no moto behind: the launcher
    //    exits with its parent. The venv is reused as it is (no second install).
    let third = Dev::start(&args, "# sign in as", Duration::from_secs(60)).await;
    let moto_pid = third.pid("# moto");
    let (status, _) = third.signal("KILL").await;
    assert!(!status.success());
    let gone = async {
        while alive(moto_pid) || listening(moto) {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(5), gone)
        .await
        .expect("moto exits with the killed run");
    let _ = std::fs::remove_dir_all(&venv);
}

#[tokio::test]
async fn dev_refuses_a_port_taken_by_another_program_naming_the_flag() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let python = testkit::moto_python().display().to_string();
    let output = Command::new(env!("CARGO_BIN_EXE_cognito-session"))
        .args(["dev", "--python", &python, "--moto-port", &port])
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("port {port}")) && stderr.contains("--moto-port"),
        "{stderr}"
    );
    assert!(
        output.stdout.is_empty(),
        "no exports for a run that did not start"
    );
}

/// The latest code dev printed for `username` (the account API's deliveries, on stderr).
async fn wait_for_code(dev: &Dev, username: &str) -> String {
    let prefix = format!("code for {username} (sent to ");
    for _ in 0..100 {
        let code = dev
            .stderr()
            .lines()
            .rev()
            .filter(|line| line.contains(&prefix))
            .find_map(|line| line.rsplit(": ").next())
            .map(str::to_owned);
        if let Some(code) = code {
            return code;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("dev printed no code for {username}: {}", dev.stderr())
}

/// Copies a screenshot into `docs/` when `UPDATE_SCREENSHOTS` is set (the README shows them);
/// otherwise they stay in `target/browser-tests/`.
fn publish(png: &Path, name: &str) {
    if std::env::var_os("UPDATE_SCREENSHOTS").is_some() {
        std::fs::copy(png, workspace().join("docs").join(name))
            .unwrap_or_else(|e| panic!("copy {} to docs/{name}: {e}", png.display()));
    }
}

#[tokio::test]
async fn dev_app_signs_in_with_the_own_form_managed_login_an_email_code_and_a_passkey() {
    use cognito_session_cli::local::{EMAIL, PASSWORD, USERNAME};
    let (moto, login, port) = (free_port(), free_port(), free_port());
    let python = testkit::moto_python().display().to_string();
    let ports = [moto, login, port].map(|p| p.to_string());
    let dev = Dev::start(
        &[
            "--python",
            &python,
            "--moto-port",
            &ports[0],
            "--login-port",
            &ports[1],
            "--port",
            &ports[2],
            "--app",
        ],
        "# web app:",
        // The first build of the example takes minutes on a small machine.
        Duration::from_secs(900),
    )
    .await;
    let app = format!("http://localhost:{port}");
    assert!(dev.note("# web app:").contains(&app), "{:?}", dev.notes);
    let app_pid = dev.pid("# web app:");
    let domain = dev.var("COGNITO_DOMAIN").to_owned();
    let signed_in = format!("Signed in as {EMAIL}");

    let browser = testkit::browser::Browser::start().await;
    let page = browser.context("dev_web_app").await;
    page.goto(&format!("{app}/")).await;
    page.wait_for_text("Not signed in").await;
    page.screenshot("home-signed-out").await;

    // The app's own form (SIGN_IN_FLOW=password): the protected page, with the verified
    // email from the ID token.
    page.goto(&format!("{app}/signin")).await;
    publish(&page.screenshot("own-form").await, "login-own-form.png");
    page.fill("username", USERNAME).await;
    page.fill("password", PASSWORD).await;
    page.submit("#signin").await;
    page.wait_for_text(&signed_in).await;
    assert_eq!(page.current_url().await, format!("{app}/app"));
    page.wait_for_text("email verified: yes").await;
    publish(&page.screenshot("signed-in").await, "login-signed-in.png");
    // Plain HTTP locally: HttpOnly, not Secure (COOKIE_SECURE=false), and no token for scripts.
    let cookie = page.cookie("token").await.expect("the session cookie");
    assert!(cookie.http_only && !cookie.secure, "{cookie:?}");
    assert!(!page.document_cookie().await.contains("eyJ"));
    page.submit("#logout").await;
    page.wait_for_text("Not signed in").await;

    // Managed login: a protected page sends the browser to the local managed login's form,
    // and back.
    page.goto(&format!("{app}/app")).await;
    let at = page.current_url().await;
    assert!(at.starts_with(&format!("{domain}/login?")), "{at}");
    page.wait_for_text("Sign in").await;
    publish(
        &page.screenshot("managed-login-form").await,
        "login-sign-in-form.png",
    );
    page.fill("username", USERNAME).await;
    page.fill("password", PASSWORD).await;
    page.submit("input[name=signInSubmitButton]").await;
    page.wait_for_text(&signed_in).await;
    assert_eq!(page.current_url().await, format!("{app}/app"));
    page.screenshot("signed-in-through-managed-login").await;
    // Logout ends the managed-login session too: the next visit asks for the password.
    page.submit("#logout").await;
    page.wait_for_text("Not signed in").await;
    page.goto(&format!("{app}/app")).await;
    assert!(page.current_url().await.starts_with(&domain));
    page.wait_for_text("Sign in").await;

    // Without a password (the account API dev runs in front of moto): a code by email, read
    // where dev prints it, then a passkey made by the browser for localhost, used alone.
    let accounts_pid = dev.pid("# account API");
    page.goto(&format!("{app}/signin")).await;
    page.fill("choice-username", USERNAME).await;
    page.submit("#signin-email").await;
    page.wait_for_text("We sent a code to").await;
    let code = wait_for_code(&dev, USERNAME).await;
    page.fill("code", &code).await;
    page.submit("#next").await;
    page.wait_for_text(&signed_in).await;
    let authenticator = page.add_authenticator().await;
    page.click("#passkeys-link").await;
    page.submit("#add-passkey").await;
    page.submit("#create-passkey").await;
    page.wait_for_text("Passkey added.").await;
    assert_eq!(page.credentials(&authenticator).await.len(), 1);
    page.goto(&format!("{app}/app")).await;
    page.submit("#logout").await;
    page.wait_for_text("Not signed in").await;
    page.goto(&format!("{app}/signin")).await;
    page.fill("choice-username", USERNAME).await;
    page.submit("#signin-passkey").await;
    page.wait_for_text("Sign in with your passkey").await;
    page.submit("#use-passkey").await;
    page.wait_for_text(&signed_in).await;
    page.close().await;

    // Ctrl-C stops the app, the account API, the managed-login server and moto, each by its
    // process id.
    let (status, stderr) = dev.signal("INT").await;
    assert!(status.success(), "{status}: {stderr}");
    assert!(
        stderr.contains(&format!("web_app (pid {app_pid})"))
            && stderr.contains(&format!("account API (pid {accounts_pid})"))
            && stderr.contains("moto (pid"),
        "{stderr}"
    );
    assert!(!alive(app_pid) && !alive(accounts_pid));
    assert!(!listening(port) && !listening(login) && !listening(moto));
}
