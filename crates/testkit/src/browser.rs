//! Drives a real headless Chromium from tests: starts `chromedriver` on 127.0.0.1 and opens
//! independent browser contexts (each its own profile, so its own cookie jar) over WebDriver,
//! each of which can hold a virtual WebAuthn authenticator for passkey tests.
//!
//! Needs the Debian packages `chromium` and `chromium-driver` (`/usr/bin/chromium`,
//! `/usr/bin/chromedriver`), which `scripts/setup.sh` installs.

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The WebDriver server (Debian package `chromium-driver`).
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The browser (Debian package `chromium`).
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// How long [`Context::wait_for_text`] and [`Context::submit`] wait.
const WAIT: Duration = Duration::from_secs(10);

/// Headless and quiet: no GPU, no sandbox (tests run as root in containers), and no background
/// traffic (updates, sync, QUIC probes) towards a network the tests do not have.
const FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1024,768",
];

/// A running `chromedriver` on a free 127.0.0.1 port. Dropping it kills chromedriver and every
/// browser it started, and removes the contexts' profiles.
///
/// ```
/// # #[tokio::main] async fn main() {
/// let browser = testkit::browser::Browser::start().await;
/// let page = browser.context("doc-browser").await;
/// page.goto("data:text/html,<p>Hello from Chromium</p>").await;
/// assert_eq!(page.text().await, "Hello from Chromium");
/// # }
/// ```
#[derive(Debug)]
pub struct Browser {
    url: String,
    child: Child,
    profiles: Arc<Mutex<Vec<PathBuf>>>,
}

impl Browser {
    /// Starts chromedriver. Panics with instructions when it or Chromium is not installed.
    ///
    /// ```no_run
    /// # async fn demo() {
    /// let browser = testkit::browser::Browser::start().await;
    /// assert!(browser.webdriver_url().starts_with("http://127.0.0.1:"));
    /// # }
    /// ```
    pub async fn start() -> Browser {
        for binary in [CHROMEDRIVER, CHROMIUM] {
            assert!(
                Path::new(binary).exists(),
                "{binary} not found: run scripts/setup.sh (it installs the Debian packages \
                 chromium and chromium-driver)"
            );
        }
        // chromedriver picks the port itself (`--port=0`) and then binds it on every local
        // address; on a busy machine another process can take it on one of them in between
        // ("bind() failed: Address already in use", and chromedriver exits). A new start picks
        // another port.
        let mut attempt = 0;
        let (child, port) = loop {
            attempt += 1;
            match start_chromedriver().await {
                (child, Some(port)) => break (child, port),
                (mut child, None) => {
                    let _ = child.kill();
                    let status = child.wait();
                    assert!(
                        attempt < 3,
                        "chromedriver did not report its port, {attempt} times (last exit: {status:?})"
                    );
                }
            }
        };
        Browser {
            url: format!("http://127.0.0.1:{port}"),
            child,
            profiles: Arc::default(),
        }
    }

    /// The WebDriver endpoint, `http://127.0.0.1:<port>`.
    ///
    /// ```no_run
    /// # async fn demo() {
    /// let browser = testkit::browser::Browser::start().await;
    /// println!("chromedriver at {}", browser.webdriver_url());
    /// # }
    /// ```
    pub fn webdriver_url(&self) -> &str {
        &self.url
    }

    /// A new browser with a fresh, empty profile: its own cookie jar and storage, sharing nothing
    /// with the other contexts (a "second browser"). `name` (letters, digits, `-`, `_`, `.`)
    /// names its screenshot folder, `target/browser-tests/<name>/`, emptied here.
    ///
    /// ```no_run
    /// # async fn demo() {
    /// let browser = testkit::browser::Browser::start().await;
    /// let alice = browser.context("login-alice").await;
    /// let mallory = browser.context("login-mallory").await;
    /// # }
    /// ```
    pub async fn context(&self, name: &str) -> Context {
        assert!(
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
                && name != "."
                && name != "..",
            "browser context name {name:?}: use letters, digits, '-', '_' or '.'"
        );
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let profile = std::env::temp_dir().join(format!(
            "testkit-chromium-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&profile);
        std::fs::create_dir_all(&profile)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", profile.display()));
        lock(&self.profiles).push(profile.clone());
        let shots = screenshot_dir(name);
        let _ = std::fs::remove_dir_all(&shots);
        std::fs::create_dir_all(&shots)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", shots.display()));

        let mut args: Vec<String> = FLAGS.iter().map(|f| f.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        let options = serde_json::json!({ "binary": CHROMIUM, "args": args });
        let capabilities = serde_json::Map::from_iter([
            ("browserName".to_string(), serde_json::json!("chrome")),
            ("goog:chromeOptions".to_string(), options),
        ]);
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&self.url)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "cannot open a Chromium session through chromedriver at {}: {e}",
                    self.url
                )
            });
        Context {
            client,
            shots,
            step: AtomicU32::new(0),
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The whole group: chromedriver and the browsers it started.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
        for profile in lock(&self.profiles).drain(..) {
            let _ = std::fs::remove_dir_all(profile);
        }
    }
}

/// One cookie of the browser's jar as WebDriver's Get All Cookies reports it: everything the
/// browser stores, `HttpOnly` cookies included. `Debug` hides the value (it may be a session id).
#[derive(Clone, PartialEq, Eq)]
pub struct JarCookie {
    /// The cookie's name.
    pub name: String,
    /// The cookie's value.
    pub value: String,
    /// The `Domain` the browser stored (a host-only cookie reports the page's host).
    pub domain: Option<String>,
    /// The `Path`.
    pub path: Option<String>,
    /// `Secure`.
    pub secure: bool,
    /// `HttpOnly`: page JavaScript cannot read it.
    pub http_only: bool,
    /// The `SameSite` attribute the cookie was set with: `"Lax"`, `"Strict"` or `"None"`, and
    /// `None` when it had none (Chromium then treats it as Lax, and WebDriver reports `"Lax"`:
    /// this field comes from the DevTools protocol, so a missing attribute shows).
    pub same_site: Option<String>,
    /// Expiry in seconds since the epoch; `None` for a session cookie.
    pub expiry: Option<i64>,
}

impl std::fmt::Debug for JarCookie {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JarCookie")
            .field("name", &self.name)
            .field("value", &format_args!("<{} bytes>", self.value.len()))
            .field("domain", &self.domain)
            .field("path", &self.path)
            .field("secure", &self.secure)
            .field("http_only", &self.http_only)
            .field("same_site", &self.same_site)
            .field("expiry", &self.expiry)
            .finish()
    }
}

/// One browser (its own profile and cookie jar) with one window. Every method panics with the
/// step that failed; [`Context::client`] gives the full WebDriver client for anything else.
#[derive(Debug)]
pub struct Context {
    client: Client,
    shots: PathBuf,
    step: AtomicU32,
}

impl Context {
    /// Opens `url` and waits for the page to load.
    ///
    /// ```no_run
    /// # async fn demo(page: testkit::browser::Context) {
    /// page.goto("http://127.0.0.1:8080/login").await;
    /// # }
    /// ```
    pub async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("browser: goto {url}: {e}"));
    }

    /// The address of the current page (after redirects).
    ///
    /// ```no_run
    /// # async fn demo(page: testkit::browser::Context) {
    /// assert!(page.current_url().await.ends_with("/"));
    /// # }
    /// ```
    pub async fn current_url(&self) -> String {
        self.client
            .current_url()
            .await
            .unwrap_or_else(|e| panic!("browser: current url: {e}"))
            .to_string()
    }

    /// Types `value` into the form field whose `name` or `id` is `field` (cleared first).
    ///
    /// ```no_run
    /// # async fn demo(page: testkit::browser::Context) {
    /// page.fill("username", "alice@example.com").await;
    /// # }
    /// ```
    pub async fn fill(&self, field: &str, value: &str) {
        assert!(
            !field.contains(['"', '\\']),
            "browser: field name {field:?} has a quote or a backslash"
        );
        let css = format!("[name=\"{field}\"], [id=\"{field}\"]");
        let element = self.find(&css).await;
        element
            .clear()
            .await
            .unwrap_or_else(|e| panic!("browser: clear field {field}: {e}"));
        element
            .send_keys(value)
            .await
            .unwrap_or_else(|e| panic!("browser: type into field {field}: {e}"));
    }

    /// Clicks the element matching the CSS selector `css`, without waiting for a navigation.
    ///
    /// ```no_run
    /// # async fn demo(page: testkit::browser::Context) {
    /// page.click("a#logout").await;
    /// # }
    /// ```
    pub async fn click(&self, css: &str) {
        self.find(css)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("browser: click {css}: {e}"));
    }

    /// Clicks the button matching `css` (e.g. `"button[type=submit]"`) and waits until the
    /// browser has left the current page and loaded the next one (redirects included).
    ///
    /// ```no_run
    /// # async fn demo(page: testkit::browser::Context) {
    /// page.fill("password", "secret").await;
    /// page.submit("button[type=submit]").await;
    /// # }
    /// ```
    pub async fn submit(&self, css: &str) {
        let old_page = self.find("html").await;
        self.click(css).await;
        let deadline = tokio::time::Instant::now() + WAIT;
        // The old document's element goes stale once the next document has replaced it.
        while old_page.tag_name().await.is_ok() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "browser: clicking {css} did not leave {} within {WAIT:?}",
                self.current_url().await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        while self.eval_js("return document.readyState").await != "complete" {
            assert!(
                tokio::time::Instant::now() < deadline,
                "browser: the page after clicking {css} did not finish loading within {WAIT:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The page's visible text (`document.body.innerText`).
    ///
    /// ```no_run
    /// # async fn demo(page: testkit::browser::Context) {
    /// assert!(page.text().await.contains("Signed in as"));
    /// # }
    /// ```
    pub async fn text(&self) -> String {
        match self
            .eval_js("return document.body ? document.body.innerText : ''")
            .await
        {
            serde_json::Value::String(text) => text,
            other => panic!("browser: page text is not a string: {other}"),
        }
    }

    /// Waits (up to 10 s) until the page's text contains `needle`, and returns that text.
    ///
    /// ```no_run
    /// # async fn demo(page: testkit::browser::Context) {
    /// page.wait_for_text("Sign in").await;
    /// # }
    /// ```
    pub async fn wait_for_text(&self, needle: &str) -> String {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let text = self.text().await;
            if text.contains(needle) {
                return text;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "browser: {:?} did not appear on {} within {WAIT:?}; the page says:\n{text}",
                needle,
                self.current_url().await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Every cookie the browser holds for the current page's address, `HttpOnly` ones included,
    /// with their attributes (WebDriver Get All Cookies; `same_site` from DevTools'
    /// `Network.getCookies`, see [`JarCookie::same_site`]).
    ///
    /// ```no_run
    /// # async fn demo(page: testkit::browser::Context) {
    /// let jar = page.cookies().await;
    /// assert!(jar.iter().any(|c| c.http_only));
    /// # }
    /// ```
    pub async fn cookies(&self) -> Vec<JarCookie> {
        let cookies = self
            .client
            .get_all_cookies()
            .await
            .unwrap_or_else(|e| panic!("browser: get all cookies: {e}"));
        let devtools = self.devtools_cookies().await;
        cookies
            .into_iter()
            .map(|c| {
                let (name, domain, path) = (c.name(), c.domain(), c.path());
                let same_site = devtools
                    .iter()
                    .find(|d| {
                        d["name"] == name
                            && Some(d["domain"].as_str().unwrap_or_default()) == domain
                            && Some(d["path"].as_str().unwrap_or_default()) == path
                    })
                    .and_then(|d| d["sameSite"].as_str())
                    .map(str::to_string);
                JarCookie {
                    name: name.to_string(),
                    value: c.value().to_string(),
                    domain: domain.map(str::to_string),
                    path: path.map(str::to_string),
                    secure: c.secure().unwrap_or(false),
                    http_only: c.http_only().unwrap_or(false),
                    same_site,
                    expiry: c
                        .expires()
                        .and_then(|e| e.datetime())
                        .map(|t| t.unix_timestamp()),
                }
            })
            .collect()
    }

    /// DevTools' `Network.getCookies` for the current page (through chromedriver).
    async fn devtools_cookies(&self) -> Vec<serde_json::Value> {
        let command = Call::post(
            "goog/cdp/execute".into(),
            serde_json::json!({ "cmd": "Network.getCookies", "params": {} }),
        );
        let result = self.send(command).await;
        match result.get("cookies") {
            Some(serde_json::Value::Array(cookies)) => cookies.clone(),
            _ => panic!("browser: DevTools Network.getCookies answered {result}"),
        }
    }

    /// The cookie called `name` in [`Context::cookies`], if any.
    ///
    /// ```no_run
    /// # async fn demo(page: testkit::browser::Context) {
    /// let session = page.cookie("session").await.expect("logged in");
    /// assert!(session.http_only);
    /// # }
    /// ```
    pub async fn cookie(&self, name: &str) -> Option<JarCookie> {
        self.cookies().await.into_iter().find(|c| c.name == name)
    }

    /// Runs `script` (a function body: `return …` gives the result) in the page, as the page's
    /// own JavaScript would, and returns its result as JSON.
    ///
    /// ```no_run
    /// # async fn demo(page: testkit::browser::Context) {
    /// let title = page.eval_js("return document.title").await;
    /// # }
    /// ```
    pub async fn eval_js(&self, script: &str) -> serde_json::Value {
        self.client
            .execute(script, Vec::new())
            .await
            .unwrap_or_else(|e| panic!("browser: run script {script:?}: {e}"))
    }

    /// What page JavaScript sees as `document.cookie` (never the `HttpOnly` cookies).
    ///
    /// ```no_run
    /// # async fn demo(page: testkit::browser::Context) {
    /// assert!(!page.document_cookie().await.contains("session="));
    /// # }
    /// ```
    pub async fn document_cookie(&self) -> String {
        match self.eval_js("return document.cookie").await {
            serde_json::Value::String(cookies) => cookies,
            other => panic!("browser: document.cookie is not a string: {other}"),
        }
    }

    /// Saves a PNG of the window as `target/browser-tests/<context>/<NN>-<step>.png` (`NN`
    /// counts this context's screenshots from 01) and returns its path.
    ///
    /// ```no_run
    /// # async fn demo(page: testkit::browser::Context) {
    /// let png = page.screenshot("signed-in").await;
    /// println!("see {}", png.display());
    /// # }
    /// ```
    pub async fn screenshot(&self, step: &str) -> PathBuf {
        let step_name: String = step
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let n = self.step.fetch_add(1, Ordering::Relaxed) + 1;
        let path = self.shots.join(format!("{n:02}-{step_name}.png"));
        let png = self
            .client
            .screenshot()
            .await
            .unwrap_or_else(|e| panic!("browser: screenshot {step}: {e}"));
        std::fs::write(&path, png)
            .unwrap_or_else(|e| panic!("browser: cannot write {}: {e}", path.display()));
        path
    }

    /// Adds a WebAuthn virtual authenticator to this browser (the W3C WebAuthn WebDriver
    /// extension): a platform authenticator (CTAP2, `internal` transport) that keeps
    /// discoverable credentials (passkeys) and verifies the user at once, without a prompt.
    /// From then on `navigator.credentials.create` and `get` on this context's pages use it.
    /// WebAuthn needs a secure context: `https://`, or `http://localhost` (an IP address
    /// cannot be a relying party ID).
    ///
    /// ```no_run
    /// # async fn demo(page: testkit::browser::Context) {
    /// let authenticator = page.add_authenticator().await;
    /// page.goto("http://localhost:3000/app/passkeys").await;
    /// page.submit("#add-passkey").await;
    /// let held = page.credentials(&authenticator).await;
    /// assert_eq!(held.len(), 1);
    /// assert_eq!(held[0].rp_id, "localhost");
    /// page.remove_authenticator(authenticator).await;
    /// # }
    /// ```
    pub async fn add_authenticator(&self) -> VirtualAuthenticator {
        let options = serde_json::json!({
            "protocol": "ctap2",
            "transport": "internal",
            "hasResidentKey": true,
            "hasUserVerification": true,
            "isUserVerified": true,
            "isUserConsenting": true,
        });
        let id = self
            .send(Call::post("webauthn/authenticator".into(), options))
            .await;
        match id {
            serde_json::Value::String(id) => VirtualAuthenticator { id },
            other => panic!("browser: add a virtual authenticator: answered {other}"),
        }
    }

    /// The credentials `authenticator` holds, in the order they were created.
    ///
    /// ```no_run
    /// # async fn demo(page: testkit::browser::Context) {
    /// let authenticator = page.add_authenticator().await;
    /// assert!(page.credentials(&authenticator).await.is_empty());
    /// # }
    /// ```
    pub async fn credentials(
        &self,
        authenticator: &VirtualAuthenticator,
    ) -> Vec<VirtualCredential> {
        let path = format!("webauthn/authenticator/{}/credentials", authenticator.id);
        let answer = self.send(Call::get(path)).await;
        let serde_json::Value::Array(list) = answer else {
            panic!("browser: the authenticator's credentials: answered {answer}");
        };
        list.iter()
            .map(|c| VirtualCredential {
                id: c["credentialId"].as_str().unwrap_or_default().to_owned(),
                rp_id: c["rpId"].as_str().unwrap_or_default().to_owned(),
                user_handle: c["userHandle"].as_str().map(str::to_owned),
                sign_count: c["signCount"].as_u64().unwrap_or_default(),
                resident: c["isResidentCredential"].as_bool().unwrap_or_default(),
            })
            .collect()
    }

    /// Removes `authenticator` and the credentials it holds: the browser has no passkey any more.
    ///
    /// ```no_run
    /// # async fn demo(page: testkit::browser::Context) {
    /// let authenticator = page.add_authenticator().await;
    /// page.remove_authenticator(authenticator).await;
    /// # }
    /// ```
    pub async fn remove_authenticator(&self, authenticator: VirtualAuthenticator) {
        let path = format!("webauthn/authenticator/{}", authenticator.id);
        self.send(Call::delete(path)).await;
    }

    /// The WebDriver client of this context, for anything the helpers above do not cover.
    ///
    /// ```no_run
    /// # async fn demo(page: testkit::browser::Context) {
    /// page.client().refresh().await.unwrap();
    /// # }
    /// ```
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Ends the browser session (the browser process exits). Dropping the context does the same
    /// in the background; the [`Browser`]'s drop kills whatever is left.
    ///
    /// ```no_run
    /// # async fn demo(page: testkit::browser::Context) {
    /// page.close().await;
    /// # }
    /// ```
    pub async fn close(self) {
        self.client
            .close()
            .await
            .unwrap_or_else(|e| panic!("browser: close the session: {e}"));
    }

    /// Sends a WebDriver command this module has no fantoccini call for; its `value`.
    async fn send(&self, call: Call) -> serde_json::Value {
        let what = format!("{} {}", call.method, call.path);
        self.client
            .issue_cmd(call)
            .await
            .unwrap_or_else(|e| panic!("browser: WebDriver {what}: {e}"))
    }

    async fn find(&self, css: &str) -> Element {
        match self.client.find(Locator::Css(css)).await {
            Ok(element) => element,
            Err(e) => panic!(
                "browser: no element {css} on {}: {e}",
                self.current_url().await
            ),
        }
    }
}

/// A virtual WebAuthn authenticator in one [`Context`]'s browser
/// ([`Context::add_authenticator`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VirtualAuthenticator {
    id: String,
}

impl VirtualAuthenticator {
    /// Its id, as chromedriver named it.
    ///
    /// ```no_run
    /// # async fn demo(page: testkit::browser::Context) {
    /// let authenticator = page.add_authenticator().await;
    /// println!("authenticator {}", authenticator.id());
    /// # }
    /// ```
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// One credential a [`VirtualAuthenticator`] holds ([`Context::credentials`]). Its private key
/// is not kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VirtualCredential {
    /// The credential id, base64url without padding (the `id` the relying party sees).
    pub id: String,
    /// The relying party it belongs to (e.g. `localhost`).
    pub rp_id: String,
    /// The user handle the relying party gave at registration, base64url; discoverable
    /// credentials have one.
    pub user_handle: Option<String>,
    /// How many assertions it has signed.
    pub sign_count: u64,
    /// A discoverable (resident) credential: a passkey, usable without a username.
    pub resident: bool,
}

/// A WebDriver command by method and path under the session (`goog/cdp/execute`,
/// `webauthn/authenticator`, ...), for the endpoints fantoccini has no call for.
#[derive(Debug)]
struct Call {
    method: hyper::Method,
    path: String,
    body: Option<serde_json::Value>,
}

impl Call {
    fn get(path: String) -> Call {
        Call {
            method: hyper::Method::GET,
            path,
            body: None,
        }
    }

    fn post(path: String, body: serde_json::Value) -> Call {
        Call {
            method: hyper::Method::POST,
            path,
            body: Some(body),
        }
    }

    fn delete(path: String) -> Call {
        Call {
            method: hyper::Method::DELETE,
            path,
            body: None,
        }
    }
}

impl fantoccini::wd::WebDriverCompatibleCommand for Call {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/{}",
            session_id.unwrap_or_default(),
            self.path
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (hyper::Method, Option<String>) {
        let body = self.body.as_ref().map(serde_json::Value::to_string);
        (self.method.clone(), body)
    }
}

/// `<target>/browser-tests/<name>`, with `CARGO_TARGET_DIR` respected.
fn screenshot_dir(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::workspace_root().join("target"));
    target.join("browser-tests").join(name)
}

/// Reads chromedriver's stdout up to "… started successfully on port N." and returns N.
fn read_port<R: Read>(stdout: R) -> (Option<u16>, BufReader<R>) {
    let mut reader = BufReader::new(stdout);
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return (None, reader),
            Ok(_) => {}
        }
        if let Some(rest) = line.split("started successfully on port ").nth(1) {
            let port = rest.trim().trim_end_matches('.').parse().ok();
            return (port, reader);
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Starts chromedriver on a port of its choosing: the process, and the port it reported (none
/// when it exited first).
async fn start_chromedriver() -> (Child, Option<u16>) {
    let mut child = Command::new(CHROMEDRIVER)
        // Port 0: chromedriver picks a free port and prints it. It accepts local
        // connections only (no --allowed-ips).
        .args(["--port=0", "--log-level=WARNING"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        // Its own process group, so that drop can kill the browsers too.
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {CHROMEDRIVER}: {e}"));
    let Some(stdout) = child.stdout.take() else {
        panic!("chromedriver has no stdout");
    };
    let (port, stdout) = tokio::task::spawn_blocking(move || read_port(stdout))
        .await
        .unwrap_or_else(|e| panic!("reading chromedriver's port: {e}"));
    // Keep draining its stdout so that it never blocks on a full pipe.
    std::thread::spawn(move || std::io::copy(&mut { stdout }, &mut std::io::sink()));
    (child, port)
}
