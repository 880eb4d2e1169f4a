//! `dev`: the local Cognito ([`crate::local`]) in one command. Prints the `export` lines on stdout
//! (progress goes to stderr), optionally runs the web_app example (behind testkit's account
//! fake, for the sign-in codes and passkeys moto lacks) or your own command with them, and on
//! Ctrl-C (or SIGTERM) stops what it started, by process id.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use clap::Args;
use cognito_jwt::{HttpsFetcher, JwksFetcher};
use tokio::signal::unix::{signal, Signal, SignalKind};

use crate::local::{self, LocalCognito, Options};
use crate::output::Failure;

/// `dev` arguments.
#[derive(Debug, Args)]
pub struct DevArgs {
    /// moto's port (Cognito and DynamoDB; `AWS_ENDPOINT_URL`). Reused when moto already serves
    /// it (a second run).
    #[arg(long, default_value_t = local::DEFAULT_MOTO_PORT)]
    pub moto_port: u16,
    /// The managed-login server's port (`COGNITO_DOMAIN`).
    #[arg(long, default_value_t = local::DEFAULT_LOGIN_PORT)]
    pub login_port: u16,
    /// The app's port: the app client's callback and sign-out URLs are on
    /// `http://localhost:<port>`.
    #[arg(long, default_value_t = local::DEFAULT_APP_PORT)]
    pub port: u16,
    /// Also run the web_app example behind testkit's account API (codes and passkeys, which
    /// moto lacks; both built from a checkout of cognito-session: run the command inside it)
    /// and print their URLs.
    #[arg(long)]
    pub app: bool,
    /// The Python virtual environment moto is installed into, created on first use (default
    /// `~/.local/share/cognito-session/venv`).
    #[arg(long)]
    pub venv: Option<PathBuf>,
    /// A Python that already has moto (instead of the virtual environment).
    #[arg(long, env = "MOTO_PYTHON")]
    pub python: Option<PathBuf>,
    /// A command to run with the variables set (your own app), after `--`.
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

/// The signals that stop the command.
struct Stop {
    interrupt: Signal,
    terminate: Signal,
}

impl Stop {
    fn listen() -> Result<Stop, Failure> {
        let listen = |kind| {
            signal(kind).map_err(|e| Failure::config(format!("cannot listen for signals: {e}")))
        };
        Ok(Stop {
            interrupt: listen(SignalKind::interrupt())?,
            terminate: listen(SignalKind::terminate())?,
        })
    }

    async fn wait(&mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
    }
}

/// A process `dev` started, stopped by its id.
struct Started {
    name: String,
    child: Child,
}

impl Started {
    fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        format!("{} (pid {})", self.name, self.child.id())
    }
}

/// Runs `dev` until Ctrl-C.
pub async fn run(args: DevArgs) -> Result<(), Failure> {
    let mut stop = Stop::listen()?;
    let python = match &args.python {
        Some(python) => python.clone(),
        None => {
            let venv = args.venv.clone().unwrap_or_else(local::default_venv);
            if !local::has_moto(&local::venv_python(&venv)) {
                eprintln!(
                    "dev: installing moto into {} (once; about 20 s)",
                    venv.display()
                );
            }
            let install = tokio::task::spawn_blocking(move || local::install_moto(&venv));
            install
                .await
                .map_err(|e| Failure::config(format!("installing moto: {e}")))?
                .map_err(failure)?
        }
    };
    let app_url = format!("http://localhost:{}", args.port);
    let options = Options {
        python,
        moto_port: args.moto_port,
        login_port: args.login_port,
        app_url: app_url.clone(),
    };
    let local = LocalCognito::start(&options).await.map_err(failure)?;
    let mut vars = local.vars();
    vars.push(("PORT", args.port.to_string()));
    for (name, value) in &vars {
        println!("export {name}={}", quote(value));
    }
    let started_or_reused = |pid: Option<u32>| match pid {
        Some(pid) => format!("started, pid {pid}"),
        None => "reused: another run started it".to_owned(),
    };
    println!(
        "# moto (Cognito, DynamoDB): {} ({})",
        local.moto().url(),
        started_or_reused(local.moto().pid())
    );
    println!(
        "# managed login: {} ({})",
        local.login_url(),
        if local.managed_login().is_some() {
            "started"
        } else {
            "reused: another run serves it"
        }
    );
    println!(
        "# sign in as {} / {} ({}, verified)",
        local::USERNAME,
        local::PASSWORD,
        local::EMAIL
    );

    // `None` when Ctrl-C came while the app was being built.
    let mut fake = None;
    let started = if args.app {
        tokio::select! {
            app = web_app(&vars, args.port, &app_url) => Some(app.map(|(app, accounts)| {
                fake = Some(accounts);
                Some(app)
            })),
            () = stop.wait() => None,
        }
    } else if !args.command.is_empty() {
        Some(command(&args.command, &vars).map(Some))
    } else {
        Some(Ok(None))
    };
    let child = match started {
        None => None,
        Some(Err(failure)) => {
            local.stop();
            return Err(failure);
        }
        Some(Ok(child)) => {
            if let Some(accounts) = &fake {
                println!(
                    "# account API (codes, passkeys; codes print below): {} (pid {})",
                    accounts.url,
                    accounts.started.child.id()
                );
            }
            if let Some(child) = &child {
                if args.app {
                    println!("# web app: {app_url} (pid {})", child.child.id());
                } else {
                    println!("# running: {} (pid {})", child.name, child.child.id());
                }
            }
            eprintln!("dev: ready; Ctrl-C stops what this run started");
            watch(child, &mut stop).await
        }
    };

    let mut stopped: Vec<String> = child.into_iter().map(Started::stop).collect();
    stopped.extend(fake.map(|accounts| accounts.started.stop()));
    let login = local.managed_login().map(|l| l.base_url().to_owned());
    let done = local.stop();
    if let Some(url) = login.filter(|_| done.managed_login) {
        stopped.push(format!("managed login ({url})"));
    }
    if let Some(pid) = done.moto_pid {
        stopped.push(format!("moto (pid {pid})"));
    }
    eprintln!(
        "dev: stopped {}",
        if stopped.is_empty() {
            "nothing (everything was reused)".to_owned()
        } else {
            stopped.join(", ")
        }
    );
    Ok(())
}

/// Waits for Ctrl-C or SIGTERM; a child that exits first is reported and the wait goes on.
async fn watch(mut child: Option<Started>, stop: &mut Stop) -> Option<Started> {
    loop {
        tokio::select! {
            () = stop.wait() => return child,
            () = tokio::time::sleep(Duration::from_millis(500)), if child.is_some() => {
                if let Some(started) = &mut child {
                    if let Ok(Some(status)) = started.child.try_wait() {
                        eprintln!(
                            "dev: {} exited ({status}); the local Cognito keeps running until \
                             Ctrl-C",
                            started.name
                        );
                        child = None;
                    }
                }
            }
        }
    }
}

fn failure(error: local::Error) -> Failure {
    match error {
        local::Error::Setup { .. } => Failure::unavailable(error.to_string()),
        _ => Failure::config(error.to_string()),
    }
}

/// `value` as one shell word: bare when it is safe, else single-quoted.
fn quote(value: &str) -> String {
    let safe = !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=+@,".contains(&b));
    if safe {
        value.to_owned()
    } else {
        format!("'{}'", value.replace('\'', r"'\''"))
    }
}

/// Applies the variables to `command`, without AWS settings of the caller's own that would
/// point it elsewhere.
fn environment(command: &mut Command, vars: &[(&str, String)]) {
    for name in [
        "AWS_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_ENDPOINT_URL_DYNAMODB",
        "AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER",
    ] {
        command.env_remove(name);
    }
    command.envs(vars.iter().map(|(name, value)| (name, value)));
}

/// Your command, with the variables, in a process group of its own.
fn command(argv: &[String], vars: &[(&str, String)]) -> Result<Started, Failure> {
    let mut command = Command::new(&argv[0]);
    command.args(&argv[1..]).process_group(0);
    environment(&mut command, vars);
    let child = command
        .spawn()
        .map_err(|e| Failure::config(format!("cannot run {}: {e}", argv[0])))?;
    Ok(Started {
        name: argv.join(" "),
        child,
    })
}

/// The checkout of cognito-session above the current directory.
fn checkout() -> Option<PathBuf> {
    let here = std::env::current_dir().ok()?;
    here.ancestors()
        .find(|dir| {
            dir.join("crates/cognito-session/examples/web_app.rs")
                .is_file()
        })
        .map(Path::to_path_buf)
}

/// testkit's account fake in front of moto, as `dev --app` runs it: its endpoint, and the
/// process.
struct Accounts {
    url: String,
    started: Started,
}

/// Starts testkit's account fake (`binary`) in front of moto for the pool in `vars`, with
/// passkeys for `app_url`, and reads its endpoint. Its stderr (the delivered codes) goes to
/// this process's.
async fn account_fake(
    binary: &Path,
    vars: &[(&str, String)],
    app_url: &str,
) -> Result<Accounts, Failure> {
    let var = |name: &str| {
        vars.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let mut command = Command::new(binary);
    command
        .args(["--moto", &var("AWS_ENDPOINT_URL")])
        .args(["--pool", &var("USER_POOL_ID")])
        .args(["--client", &var("CLIENT_ID")])
        .args(["--origin", app_url])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .process_group(0);
    let secret = var("CLIENT_SECRET");
    if !secret.is_empty() {
        command.args(["--secret", &secret]);
    }
    let mut child = command
        .spawn()
        .map_err(|e| Failure::config(format!("cannot run {}: {e}", binary.display())))?;
    let stdout = child.stdout.take();
    let mut started = Started {
        name: "account API".to_owned(),
        child,
    };
    let ready = tokio::task::spawn_blocking(move || {
        use std::io::BufRead;
        let mut line = String::new();
        stdout.map(|out| std::io::BufReader::new(out).read_line(&mut line));
        line
    });
    let line = match tokio::time::timeout(Duration::from_secs(30), ready).await {
        Ok(Ok(line)) => line,
        _ => String::new(),
    };
    let url = serde_json::from_str::<serde_json::Value>(&line)
        .ok()
        .and_then(|v| v["url"].as_str().map(str::to_owned));
    match url {
        Some(url) => Ok(Accounts { url, started }),
        None => {
            let _ = started.child.kill();
            Err(Failure::unavailable(
                "testkit's account fake did not start; its error is above",
            ))
        }
    }
}

/// Builds the web_app example and testkit's account fake, starts the fake in front of moto
/// (sign-in codes, passkeys for `app_url`: what moto lacks) and the app with the variables
/// on `port`, its AWS endpoint the fake's, and waits until the app answers.
async fn web_app(
    vars: &[(&str, String)],
    port: u16,
    app_url: &str,
) -> Result<(Started, Accounts), Failure> {
    let Some(root) = checkout() else {
        return Err(Failure::config(
            "--app runs the web_app example from a checkout of cognito-session: run this \
             command inside one, or run your own app with `cognito-session dev -- <command>`",
        ));
    };
    if local_port_in_use(port).await {
        return Err(Failure::config(format!(
            "port {port} (for the web app) is in use: stop what serves it or pass --port"
        )));
    }
    eprintln!("dev: building the web_app example (the first build takes a few minutes)");
    let (binary, fake) = tokio::task::spawn_blocking(move || build_web_app(&root))
        .await
        .map_err(|e| Failure::config(format!("building the web_app example: {e}")))??;
    let accounts = account_fake(&fake, vars, app_url).await?;
    let mut app = Command::new(&binary);
    app.stdin(Stdio::null())
        // Its "listening on" line goes with the progress, not among the exports.
        .stdout(stderr())
        .process_group(0);
    environment(&mut app, vars);
    app.env("AWS_ENDPOINT_URL", &accounts.url);
    let child = match app.spawn() {
        Ok(child) => child,
        Err(e) => {
            accounts.started.stop();
            return Err(Failure::config(format!(
                "cannot run {}: {e}",
                binary.display()
            )));
        }
    };
    let mut started = Started {
        name: "web_app".to_owned(),
        child,
    };
    let url = format!("http://127.0.0.1:{port}/");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let answer = tokio::time::timeout(Duration::from_secs(2), HttpsFetcher.fetch(&url)).await;
        if matches!(answer, Ok(Ok(_))) {
            return Ok((started, accounts));
        }
        if let Ok(Some(status)) = started.child.try_wait() {
            accounts.started.stop();
            return Err(Failure::config(format!(
                "the web_app example exited ({status}) before answering; its error is above"
            )));
        }
        if tokio::time::Instant::now() >= deadline {
            started.stop();
            accounts.started.stop();
            return Err(Failure::unavailable(format!(
                "the web_app example did not answer on {url} within 60 s"
            )));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn local_port_in_use(port: u16) -> bool {
    tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .is_err()
}

/// This process's stderr, for a child's stdout.
fn stderr() -> Stdio {
    use std::os::fd::AsFd;
    match std::io::stderr().as_fd().try_clone_to_owned() {
        Ok(fd) => Stdio::from(fd),
        Err(_) => Stdio::null(),
    }
}

/// `cargo build` of the example and of testkit's account fake (in this process group: a
/// Ctrl-C stops the build too); the binaries' paths from cargo's JSON messages.
fn build_web_app(root: &Path) -> Result<(PathBuf, PathBuf), Failure> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(&cargo)
        .args([
            "build",
            "--quiet",
            "-p",
            "cognito-session",
            "-p",
            "testkit",
            "--example",
            "web_app",
            "--bin",
            "account-fake",
            "--message-format=json-render-diagnostics",
        ])
        .current_dir(root)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| Failure::config(format!("cannot run cargo: {e}")))?;
    if !output.status.success() {
        return Err(Failure::config(format!(
            "cargo build --example web_app failed ({}); its errors are above",
            output.status
        )));
    }
    let messages = String::from_utf8_lossy(&output.stdout);
    let built = |name: &str| {
        messages
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == name)
            .find_map(|m| m["executable"].as_str().map(PathBuf::from))
            .ok_or_else(|| Failure::config(format!("cargo built no {name} executable")))
    };
    Ok((built("web_app")?, built("account-fake")?))
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn values_are_quoted_for_the_shell_only_when_needed() {
        assert_eq!(quote("http://127.0.0.1:4500"), "http://127.0.0.1:4500");
        assert_eq!(quote("abc+/def=="), "abc+/def==");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote(""), "''");
    }
}
