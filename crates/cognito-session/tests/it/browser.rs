//! The web example in a real browser (headless Chromium over WebDriver): managed login on the
//! testkit fake, the cookie jar as the browser keeps it, a refresh, a second browser, an
//! attacker-started login, and logout. Screenshots of each step go to
//! `target/browser-tests/web_app_login/`.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use testkit::browser::Browser;
use testkit::managed_login::HttpBrowser;
use testkit::{ManagedLogin, Pool, PoolOptions, PASSWORD};

use crate::{builder, movable_clock};

#[path = "../../examples/web_app.rs"]
#[allow(dead_code)]
pub mod web_app;

/// The example app served in-process on `localhost` (a host of its own: the fake managed
/// login is on `127.0.0.1`, so the two keep separate cookies, as two domains would).
struct App {
    url: String,
    pool: Pool,
    fake: ManagedLogin,
    clock: Arc<AtomicI64>,
}

async fn app() -> App {
    app_with(|b| b).await
}

/// The app, its sessions built with `customize` (on top of managed login on the fake, and the
/// CSRF origin check for the app's own origin).
async fn app_with(
    customize: impl FnOnce(cognito_session::SessionsBuilder) -> cognito_session::SessionsBuilder,
) -> App {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://localhost:{}", listener.local_addr().unwrap().port());
    let pool = Pool::new(PoolOptions::managed_login(
        &format!("{url}/callback"),
        &format!("{url}/"),
    ))
    .await;
    let fake = pool.managed_login().await;
    let clock = Arc::new(AtomicI64::new(0));
    let (builder, _) = builder(&pool);
    let builder = builder
        .allowed_origins([url.as_str()])
        .cognito_domain(fake.base_url())
        .redirect_uri(format!("{url}/callback"))
        .logout_uri(format!("{url}/"))
        .operation_timeout(std::time::Duration::from_secs(8))
        .clock(movable_clock(clock.clone()));
    let sessions = customize(builder).build().await.expect("build sessions");
    let router = web_app::app(sessions);
    tokio::spawn(async move { axum::serve(listener, router).await });
    App {
        url,
        pool,
        fake,
        clock,
    }
}

#[tokio::test]
async fn a_browser_logs_in_refreshes_and_logs_out_through_managed_login() {
    let app = app().await;

    for (user, email) in [("ada", "ada@example.com"), ("bob", "bob@example.com")] {
        app.pool.user(user).await;
        app.pool
            .set_attributes(user, &[("email", email), ("email_verified", "true")])
            .await;
    }
    let browser = Browser::start().await;
    let ada = browser.context("web_app_login").await;

    // 1. The start page, signed out.
    ada.goto(&format!("{}/", app.url)).await;
    ada.wait_for_text("Not signed in").await;
    ada.screenshot("home-signed-out").await;

    // 2. A protected page sends the browser to the managed login's sign-in form.
    ada.goto(&format!("{}/app", app.url)).await;
    let at = ada.current_url().await;
    assert!(
        at.starts_with(&format!("{}/login?", app.fake.base_url())),
        "{at}"
    );
    ada.screenshot("sign-in-form").await;

    // 3. Signing in lands back on the page that asked.
    ada.fill("username", "ada").await;
    ada.fill("password", PASSWORD).await;
    ada.submit("input[name=signInSubmitButton]").await;
    ada.wait_for_text("Signed in as ada@example.com").await;
    assert_eq!(ada.current_url().await, format!("{}/app", app.url));
    ada.screenshot("signed-in").await;

    // 4. The browser's own jar: the session cookie is HttpOnly, Secure, SameSite=Lax, and no
    //    token is readable by page JavaScript; the login cookie is gone.
    let cookie = ada.cookie("token").await.expect("the session cookie");
    assert!(cookie.http_only && cookie.secure, "{cookie:?}");
    assert_eq!(cookie.same_site.as_deref(), Some("Lax"));
    assert!(ada.cookie("__Host-cognito-login").await.is_none());
    let script_sees = ada.document_cookie().await;
    assert!(!script_sees.contains(&cookie.value) && !script_sees.contains("token="));
    assert!(
        !script_sees.contains("eyJ"),
        "no JWT visible to scripts: {script_sees}"
    );

    // 5. A protected JSON route works with the cookie.
    ada.goto(&format!("{}/api/me", app.url)).await;
    ada.wait_for_text("ada@example.com").await;
    ada.screenshot("api-me").await;

    // 6. The access token expires: the next page load refreshes it and the cookie changes.
    app.clock.store(3600 + 60, Ordering::Relaxed);
    ada.goto(&format!("{}/app", app.url)).await;
    ada.wait_for_text("Signed in as ada@example.com").await;
    let refreshed = ada.cookie("token").await.expect("still a session cookie");
    assert_ne!(
        refreshed.value, cookie.value,
        "the refresh set a new cookie"
    );
    assert!(refreshed.http_only && refreshed.secure);
    ada.screenshot("after-refresh").await;
    app.clock.store(0, Ordering::Relaxed);

    // 7. A second browser has no session; its own login does not touch the first one's.
    let bob = browser.context("web_app_login_second").await;
    bob.goto(&format!("{}/app", app.url)).await;
    assert!(bob.current_url().await.starts_with(app.fake.base_url()));
    assert!(bob.cookie("token").await.is_none());
    bob.fill("username", "bob").await;
    bob.fill("password", PASSWORD).await;
    bob.submit("input[name=signInSubmitButton]").await;
    bob.wait_for_text("Signed in as bob@example.com").await;
    ada.goto(&format!("{}/app", app.url)).await;
    ada.wait_for_text("Signed in as ada@example.com").await;

    // 8. An attacker-started login: she begins a login and signs in as herself, then makes
    //    the victim's browser open her callback. Refused; the victim is still herself.
    let mut attacker = HttpBrowser::new();
    let begin = attacker.get(&format!("{}/login", app.url)).await;
    let authorize = begin.location().expect("to the managed login");
    let back = attacker
        .sign_in(&app.fake, &authorize, "bob", PASSWORD)
        .await;
    let planted = back.location().expect("the attacker's callback URL");
    assert!(
        planted.starts_with(&format!("{}/callback?", app.url)),
        "{planted}"
    );
    ada.goto(&planted).await;
    ada.wait_for_text("started in another browser").await;
    ada.screenshot("attacker-login-refused").await;
    ada.goto(&format!("{}/app", app.url)).await;
    ada.wait_for_text("Signed in as ada@example.com").await;

    // 9. Logout clears the cookie and ends the managed-login session too.
    ada.submit("#logout").await;
    ada.wait_for_text("Not signed in").await;
    assert!(
        ada.cookie("token").await.is_none(),
        "the session cookie is gone"
    );
    ada.screenshot("logged-out").await;

    // 10. The next visit asks for the password again.
    ada.goto(&format!("{}/app", app.url)).await;
    let at = ada.current_url().await;
    assert!(
        at.starts_with(&format!("{}/login?", app.fake.base_url())),
        "{at}"
    );
    ada.wait_for_text("Sign in").await;
    ada.screenshot("password-asked-again").await;
    assert_eq!(
        app.fake.sign_ins(),
        3,
        "ada, bob, and the attacker signed in with a password"
    );
}

#[tokio::test]
async fn a_browser_signs_in_with_the_apps_own_form_and_sets_a_new_password() {
    // USER_PASSWORD_AUTH: moto checks passwords there (over SRP it cannot tell a wrong one).
    let app = app_with(|b| b.sign_in_flow(cognito_session::SignInFlow::Password)).await;
    app.pool
        .user_with_temporary_password("cleo", "Temp-horse-1!")
        .await;
    app.pool
        .set_attributes("cleo", &[("email", "cleo@example.com")])
        .await;
    let browser = Browser::start().await;
    let cleo = browser.context("web_app_password_form").await;

    // A wrong password and an unknown user get the same words.
    cleo.goto(&format!("{}/signin", app.url)).await;
    cleo.fill("username", "cleo").await;
    cleo.fill("password", "Wrong-horse-1!").await;
    cleo.submit("#signin").await;
    let wrong = cleo.wait_for_text("incorrect username or password").await;
    cleo.screenshot("wrong-password").await;
    cleo.fill("username", "nobody-at-all").await;
    cleo.fill("password", "Wrong-horse-1!").await;
    cleo.submit("#signin").await;
    let unknown = cleo.wait_for_text("incorrect username or password").await;
    assert_eq!(wrong, unknown, "the same page for both");

    // The temporary password leads to the new-password step; the challenge waits sealed in
    // the page, bound to this browser by an HttpOnly cookie that page scripts cannot read.
    cleo.fill("username", "cleo").await;
    cleo.fill("password", "Temp-horse-1!").await;
    cleo.submit("#signin").await;
    cleo.wait_for_text("One more step").await;
    let challenge = cleo
        .cookie("__Host-cognito-signin")
        .await
        .expect("the challenge cookie");
    assert!(challenge.http_only && challenge.secure, "{challenge:?}");
    assert_eq!(challenge.path.as_deref(), Some("/"));
    assert_eq!(challenge.same_site.as_deref(), Some("Strict"));
    assert!(!cleo.document_cookie().await.contains("cognito-signin"));
    cleo.screenshot("new-password-step").await;
    cleo.fill("new_password", "Brand-new-horse-2!").await;
    cleo.submit("#next").await;
    cleo.wait_for_text("Signed in as cleo@example.com").await;
    cleo.goto(&format!("{}/signin", app.url)).await;
    assert!(
        cleo.cookie("__Host-cognito-signin").await.is_none(),
        "the challenge cookie is gone"
    );
    cleo.goto(&format!("{}/app", app.url)).await;
    cleo.wait_for_text("Signed in as cleo@example.com").await;
    let cookie = cleo.cookie("token").await.expect("the session cookie");
    assert!(cookie.http_only && cookie.secure);
    assert_eq!(cookie.same_site.as_deref(), Some("Lax"));
    assert!(!cleo.document_cookie().await.contains("token="));
    cleo.screenshot("signed-in-with-own-form").await;

    // The new password is the password now.
    cleo.submit("#logout").await;
    cleo.wait_for_text("Not signed in").await;
    cleo.goto(&format!("{}/signin", app.url)).await;
    cleo.fill("username", "cleo").await;
    cleo.fill("password", "Brand-new-horse-2!").await;
    cleo.submit("#signin").await;
    cleo.wait_for_text("Signed in as cleo@example.com").await;
    assert_eq!(app.fake.sign_ins(), 0, "no managed login involved");
}

#[tokio::test]
async fn without_managed_login_a_browser_is_sent_to_the_apps_own_form_and_sees_only_it() {
    // Only the own form: no COGNITO_DOMAIN, no REDIRECT_URI.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://localhost:{}", listener.local_addr().unwrap().port());
    let pool = Pool::new(PoolOptions::default()).await;
    pool.user("dora").await;
    let (builder, _) = builder(&pool);
    let sessions = builder
        .allowed_origins([url.as_str()])
        .sign_in_flow(cognito_session::SignInFlow::Password)
        .build()
        .await
        .expect("build sessions");
    assert!(!sessions.has_managed_login());
    tokio::spawn(async move { axum::serve(listener, web_app::app(sessions)).await });
    let browser = Browser::start().await;
    let dora = browser.context("web_app_own_form_only").await;

    // The home page offers the one way that is configured: no managed-login link (a 500).
    dora.goto(&format!("{url}/")).await;
    dora.wait_for_text("Not signed in").await;
    assert!(
        !dora.text().await.contains("Log in"),
        "{}",
        dora.text().await
    );
    assert!(
        dora.eval_js("return document.getElementById('login') === null")
            .await
            .as_bool()
            .unwrap_or(false),
        "no managed-login link"
    );
    dora.screenshot("home-own-form-only").await;

    // A signed-out page load goes to the own form (not to "managed login is not configured"),
    // and signing in there lands on the page.
    dora.goto(&format!("{url}/app")).await;
    let at = dora.current_url().await;
    assert!(at.starts_with(&format!("{url}/signin")), "{at}");
    dora.wait_for_text("Sign in").await;
    dora.fill("username", "dora").await;
    dora.fill("password", PASSWORD).await;
    dora.submit("#signin").await;
    dora.wait_for_text("Signed in as dora").await;
    assert_eq!(dora.current_url().await, format!("{url}/app"));
    dora.screenshot("signed-in-own-form-only").await;
}
