//! Smoke test of the browser harness against a tiny local site: the jar shows `HttpOnly`
//! cookies with their attributes, page JavaScript does not, forms post, contexts are isolated;
//! and what this Chromium does with `Secure`/`__Host-` cookies over plain `http://` and with
//! cookies across ports.

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use testkit::browser::{Browser, JarCookie};

/// A tiny site on 127.0.0.1; returns its port.
///
/// - `GET /set?<cookie>&<cookie>…`: sets each (URL-decoded) `Set-Cookie` value, then the page.
/// - `GET /` (and anything else): a page that shows the `Cookie` header it got and a form.
/// - `POST /submit`: echoes the form field `who` and the `Cookie` header.
/// - `GET /redirect?<url>`: 302 to `<url>`.
async fn site() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let service = hyper::service::service_fn(handle);
                let io = hyper_util::rt::TokioIo::new(stream);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, service)
                    .await;
            });
        }
    });
    port
}

async fn handle(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let cookie_header = request
        .headers()
        .get(hyper::header::COOKIE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let path = request.uri().path().to_string();
    let query = request.uri().query().unwrap_or("").to_string();
    let mut response = Response::builder().header("content-type", "text/html; charset=utf-8");
    let body = match (request.method().as_str(), path.as_str()) {
        ("GET", "/redirect") => {
            let to = decode(&query);
            return Ok(Response::builder()
                .status(302)
                .header("location", to)
                .body(Full::default())
                .unwrap());
        }
        ("POST", "/submit") => {
            let form = request.into_body().collect().await?.to_bytes();
            let form = String::from_utf8_lossy(&form).to_string();
            let who = form
                .split('&')
                .find_map(|pair| pair.strip_prefix("who="))
                .map(decode)
                .unwrap_or_default();
            format!(
                "<h1>Submitted</h1><p id=who>who={}</p><p id=cookies>cookies={}</p>",
                escape(&who),
                escape(&cookie_header)
            )
        }
        _ => {
            if path == "/set" {
                for cookie in query.split('&').filter(|c| !c.is_empty()) {
                    response = response.header("set-cookie", decode(cookie));
                }
            }
            format!(
                "<!doctype html><title>Harness smoke test</title>\
                 <h1>Harness smoke test</h1><p id=cookies>cookies={}</p>\
                 <form method=post action=/submit><label>Who <input name=who id=who></label>\
                 <button type=submit>Send</button></form>",
                escape(&cookie_header)
            )
        }
    };
    Ok(response.body(Full::new(Bytes::from(body))).unwrap())
}

/// Percent-decoding (`%XX` and `+`), enough for the test's own URLs and form.
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap()
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// `/set` URL that sets each of `cookies` (full `Set-Cookie` values).
fn set_url(origin: &str, cookies: &[&str]) -> String {
    let query: Vec<String> = cookies.iter().map(|c| encode(c)).collect();
    format!("{origin}/set?{}", query.join("&"))
}

fn find<'a>(jar: &'a [JarCookie], name: &str) -> Option<&'a JarCookie> {
    jar.iter().find(|c| c.name == name)
}

#[tokio::test]
async fn jar_shows_http_only_cookies_that_page_script_cannot_read() {
    let port = site().await;
    let origin = format!("http://127.0.0.1:{port}");
    let browser = Browser::start().await;
    let page = browser.context("harness-jar").await;
    page.goto(&set_url(
        &origin,
        &[
            "sid=s3cr3t; HttpOnly; Secure; SameSite=Lax; Path=/",
            "theme=dark; Path=/",
        ],
    ))
    .await;
    let shot = page.screenshot("cookies-set").await;
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 2000,
        "{}",
        shot.display()
    );
    assert!(
        shot.ends_with("harness-jar/01-cookies-set.png"),
        "{}",
        shot.display()
    );

    let jar = page.cookies().await;
    let sid = find(&jar, "sid").unwrap_or_else(|| panic!("no sid in {jar:?}"));
    assert_eq!(sid.value, "s3cr3t");
    assert!(sid.http_only && sid.secure, "{sid:?}");
    assert_eq!(sid.same_site.as_deref(), Some("Lax"), "{sid:?}");
    assert_eq!(sid.path.as_deref(), Some("/"));
    assert_eq!(sid.domain.as_deref(), Some("127.0.0.1"));
    assert_eq!(sid.expiry, None, "a session cookie");
    let theme = find(&jar, "theme").unwrap_or_else(|| panic!("no theme in {jar:?}"));
    assert!(!theme.http_only && !theme.secure, "{theme:?}");
    assert_eq!(
        theme.same_site, None,
        "no SameSite attribute shows as None: {theme:?}"
    );
    assert!(!format!("{sid:?}").contains("s3cr3t"), "Debug hides values");

    assert_eq!(page.document_cookie().await, "theme=dark");
    assert_eq!(page.eval_js("return 6 * 7").await, 42);

    // The browser sends both back, and the next page load shows it.
    page.goto(&origin).await;
    let text = page.text().await;
    assert!(
        text.contains("sid=s3cr3t") && text.contains("theme=dark"),
        "{text}"
    );
    page.screenshot("cookies-sent-back").await;
}

#[tokio::test]
async fn a_form_posts_back_with_the_cookies() {
    let port = site().await;
    let origin = format!("http://127.0.0.1:{port}");
    let browser = Browser::start().await;
    let page = browser.context("harness-form").await;
    page.goto(&set_url(
        &origin,
        &["sid=abc; HttpOnly; Secure; SameSite=Lax; Path=/"],
    ))
    .await;
    page.fill("who", "alice & bob").await;
    page.screenshot("form-filled").await;
    page.submit("button[type=submit]").await;
    assert_eq!(page.current_url().await, format!("{origin}/submit"));
    let text = page.wait_for_text("Submitted").await;
    assert!(text.contains("who=alice & bob"), "{text}");
    assert!(text.contains("cookies=sid=abc"), "{text}");
    page.screenshot("form-submitted").await;
}

#[tokio::test]
async fn a_second_context_has_its_own_cookie_jar() {
    let port = site().await;
    let origin = format!("http://127.0.0.1:{port}");
    let browser = Browser::start().await;
    let first = browser.context("harness-isolation-first").await;
    let second = browser.context("harness-isolation-second").await;
    first
        .goto(&set_url(
            &origin,
            &["sid=first; HttpOnly; Path=/", "theme=dark; Path=/"],
        ))
        .await;
    assert_eq!(first.cookies().await.len(), 2);

    second.goto(&origin).await;
    assert_eq!(second.cookies().await, Vec::new());
    assert_eq!(second.document_cookie().await, "");
    let seen = second
        .eval_js("return document.getElementById('cookies').textContent")
        .await;
    assert_eq!(
        seen, "cookies=",
        "the server got no cookie from the second context"
    );
    second.screenshot("no-cookies").await;

    // And the first one keeps its own.
    first.goto(&origin).await;
    assert!(first.text().await.contains("sid=first"));
    second.close().await;
    assert!(first.cookie("sid").await.is_some());
}

/// Facts for local tests of Secure cookies: over plain `http://`, does Chromium keep a `Secure`
/// cookie and a `__Host-` cookie set by 127.0.0.1 and by localhost?
#[tokio::test]
async fn secure_and_host_prefixed_cookies_over_plain_http() {
    let port = site().await;
    let browser = Browser::start().await;
    let page = browser.context("harness-secure").await;
    for host in ["127.0.0.1", "localhost"] {
        let origin = format!("http://{host}:{port}");
        page.goto(&set_url(
            &origin,
            &[
                "plain=1; Path=/",
                "sec=1; Secure; Path=/",
                "__Host-sid=1; Secure; HttpOnly; SameSite=Lax; Path=/",
                "__Secure-sid=1; Secure; Path=/",
                // The prefix rules are enforced: without Secure refused; with a Domain, see below.
                "__Host-nosecure=1; Path=/",
                &format!("__Host-domain=1; Secure; Path=/; Domain={host}"),
            ],
        ))
        .await;
        let jar = page.cookies().await;
        let names: Vec<&str> = jar.iter().map(|c| c.name.as_str()).collect();
        assert!(names.contains(&"plain"), "{host}: {names:?}");
        assert!(names.contains(&"sec"), "{host}: {names:?}");
        assert!(names.contains(&"__Host-sid"), "{host}: {names:?}");
        assert!(names.contains(&"__Secure-sid"), "{host}: {names:?}");
        assert!(!names.contains(&"__Host-nosecure"), "{host}: {names:?}");
        // Chromium makes a cookie with `Domain=<the page's own IP address>` host-only, so it
        // keeps `__Host-` with `Domain=127.0.0.1`, and refuses it with `Domain=localhost`.
        assert_eq!(
            names.contains(&"__Host-domain"),
            host == "127.0.0.1",
            "{host}: {names:?}"
        );
        page.goto(&origin).await;
        let text = page.text().await;
        assert!(
            text.contains("sec=1") && text.contains("__Host-sid=1"),
            "{host} sends them back: {text}"
        );
    }
}

/// Cookies ignore ports: after a 302 from one 127.0.0.1 port to another, both ports share the
/// same jar.
#[tokio::test]
async fn cookies_are_shared_across_ports_of_one_host() {
    let app = format!("http://127.0.0.1:{}", site().await);
    let login = format!("http://127.0.0.1:{}", site().await);
    let browser = Browser::start().await;
    let page = browser.context("harness-ports").await;
    page.goto(&set_url(&app, &["app=1; Path=/"])).await;
    // The app redirects to the "login server" on another port, which sets its own cookie and
    // redirects back.
    let back = format!("{login}/redirect?{}", encode(&app));
    let to_login = set_url(&login, &["login=1; Path=/"]);
    page.goto(&to_login).await;
    page.goto(&format!("{app}/redirect?{}", encode(&back)))
        .await;
    assert_eq!(page.current_url().await, format!("{app}/"));
    let text = page.text().await;
    assert!(text.contains("app=1") && text.contains("login=1"), "{text}");
    let names: Vec<String> = page.cookies().await.into_iter().map(|c| c.name).collect();
    assert!(
        names.contains(&"app".into()) && names.contains(&"login".into()),
        "{names:?}"
    );
}

/// Registers a passkey at `http://localhost:<port>` (a secure context, relying party
/// `localhost`) with `navigator.credentials.create`; the page's answer (`id`, or the error's
/// `name`).
const CREATE: &str = "const done = arguments[arguments.length - 1];
navigator.credentials.create({ publicKey: {
  challenge: new Uint8Array(32), rp: { id: 'localhost', name: 'Harness' },
  user: { id: new Uint8Array([1, 2, 3, 4]), name: 'ada', displayName: 'Ada' },
  pubKeyCredParams: [{ type: 'public-key', alg: -7 }],
  authenticatorSelection: { residentKey: 'required', userVerification: 'required' },
  timeout: 5000 } })
  .then(c => done({ id: c.id }), e => done({ error: e.name }));";

/// Signs in with any passkey of `localhost` (no allow list: a discoverable credential).
const GET: &str = "const done = arguments[arguments.length - 1];
navigator.credentials.get({ publicKey: {
  challenge: new Uint8Array(32), rpId: 'localhost', userVerification: 'required', timeout: 2000 } })
  .then(c => done({ id: c.id, user: c.toJSON().response.userHandle }), e => done({ error: e.name }));";

#[tokio::test]
async fn a_virtual_authenticator_creates_and_uses_a_passkey_until_removed() {
    let origin = format!("http://localhost:{}", site().await);
    let browser = Browser::start().await;
    let page = browser.context("harness-webauthn").await;
    page.goto(&origin).await;
    let authenticator = page.add_authenticator().await;
    assert!(!authenticator.id().is_empty());
    assert!(page.credentials(&authenticator).await.is_empty());

    let created = page
        .client()
        .execute_async(CREATE, Vec::new())
        .await
        .unwrap();
    let id = created["id"]
        .as_str()
        .unwrap_or_else(|| panic!("create: {created}"))
        .to_owned();
    let held = page.credentials(&authenticator).await;
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(held[0].id, id, "the id the page saw, base64url");
    assert_eq!(held[0].rp_id, "localhost");
    assert!(held[0].resident, "a discoverable credential");
    assert_eq!(held[0].user_handle.as_deref(), Some("AQIDBA"));
    let count = held[0].sign_count;

    // An assertion without a username: the passkey answers, with its user handle, and counts.
    let got = page.client().execute_async(GET, Vec::new()).await.unwrap();
    assert_eq!(got["id"], id.as_str(), "{got}");
    assert_eq!(got["user"], "AQIDBA", "{got}");
    assert_eq!(
        page.credentials(&authenticator).await[0].sign_count,
        count + 1
    );

    // Removed: the browser has no passkey any more, and a sign-in finds none.
    page.remove_authenticator(authenticator).await;
    let refused = page.client().execute_async(GET, Vec::new()).await.unwrap();
    assert_eq!(refused["error"], "NotAllowedError", "{refused}");
}
