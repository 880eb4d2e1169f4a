//! The web example's account pages in a real browser (headless Chromium over WebDriver) against
//! testkit's `FakeAccounts` in front of moto: sign up and confirm with the emailed code, a
//! password reset that ends another browser's session. Screenshots of each step go to
//! `target/browser-tests/web_app_accounts*/`.

use std::sync::Arc;

use cognito_session::{Sessions, SignInFlow};
use testkit::browser::{Browser, Context};
use testkit::{FakeAccounts, Pool, PoolOptions, Proxy};

use crate::browser::web_app;

const PASSWORD: &str = "First-horse-1!";
const NEW_PASSWORD: &str = "Brand-new-horse-2!";

/// The example app served in-process on `http://localhost:<port>` (a secure context, and a
/// relying party ID: an IP address cannot be one), its Cognito calls through the account fake
/// (passkeys on for `localhost` and this origin) in front of moto; one session per browser
/// (`SORT_KEY`), so that two browsers of one user each keep theirs.
struct App {
    url: String,
    fake: Arc<FakeAccounts>,
    _pool: Pool,
    _proxy: Proxy,
}

async fn app() -> App {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://localhost:{}", listener.local_addr().unwrap().port());
    let pool = Pool::new(PoolOptions {
        sort_key: Some("session".into()),
        ..Default::default()
    })
    .await;
    let fake = Arc::new(FakeAccounts::new(&pool).passkeys("localhost", &url));
    let proxy = Proxy::with_fake(&pool.moto.url, fake.clone()).await;
    let sdk = testkit::sdk_config(&proxy.url).await;
    let sessions = Sessions::builder()
        .table(&pool.table)
        .partition_key(&pool.partition_key)
        .sort_key("session")
        .client_id(&pool.client_id)
        .user_pool_id(&pool.pool_id)
        .jwks_url(pool.jwks_url())
        .cognito_client(aws_sdk_cognitoidentityprovider::Client::new(&sdk))
        .dynamodb_client(aws_sdk_dynamodb::Client::new(&sdk))
        .allowed_origins([url.as_str()])
        // USER_PASSWORD_AUTH for the password form: moto checks passwords there.
        .sign_in_flow(SignInFlow::Password)
        .operation_timeout(std::time::Duration::from_secs(8))
        .build()
        .await
        .expect("build sessions");
    tokio::spawn(async move { axum::serve(listener, web_app::app(sessions)).await });
    App {
        url,
        fake,
        _pool: pool,
        _proxy: proxy,
    }
}

impl App {
    /// The code the fake last delivered to `username`.
    fn code(&self, username: &str) -> String {
        self.fake
            .code_for(username)
            .unwrap_or_else(|| panic!("no code was sent to {username}"))
    }

    /// Signs `page` in with the password form and waits for the signed-in page.
    async fn sign_in_with_password(&self, page: &Context, username: &str, password: &str) {
        page.goto(&format!("{}/signin", self.url)).await;
        page.fill("username", username).await;
        page.fill("password", password).await;
        page.submit("#signin").await;
        page.wait_for_text("Signed in as").await;
    }

    /// Does `page` have a session? (`/app` without one goes to the sign-in form.)
    async fn signed_in(&self, page: &Context) -> bool {
        page.goto(&format!("{}/app", self.url)).await;
        let at = page.current_url().await;
        match at.strip_prefix(&self.url) {
            Some("/app") => true,
            Some(path) if path.starts_with("/signin") => false,
            _ => panic!("/app led to {at}"),
        }
    }
}

/// Signs up through the pages and confirms with the code from the fake's outbox.
async fn sign_up(app: &App, page: &Context, username: &str, email: &str) {
    page.goto(&format!("{}/signup", app.url)).await;
    page.fill("username", username).await;
    page.fill("email", email).await;
    page.fill("password", PASSWORD).await;
    page.screenshot("sign-up").await;
    page.submit("#signup").await;
    page.wait_for_text("Confirm your account").await;
    page.screenshot("confirm-with-code").await;
    page.fill("code", &app.code(username)).await;
    page.submit("#confirm").await;
}

/// Signs `page` out from the signed-in page.
async fn sign_out(app: &App, page: &Context) {
    page.goto(&format!("{}/app", app.url)).await;
    page.submit("#logout").await;
    page.wait_for_text("Not signed in").await;
}

/// Starts a passwordless sign-in of `username` on the sign-in page with the button `button`
/// (`#signin-passkey`, `#signin-email`, `#signin-other`).
async fn sign_in_without_password(app: &App, page: &Context, username: &str, button: &str) {
    page.goto(&format!("{}/signin", app.url)).await;
    page.fill("choice-username", username).await;
    page.submit(button).await;
}

#[tokio::test]
async fn a_browser_signs_up_and_signs_in_without_a_password_and_a_reset_ends_sessions() {
    let app = app().await;
    let browser = Browser::start().await;
    let ada = browser.context("web_app_accounts").await;

    // 1. Sign up, confirm with the emailed code: signed in without the password again. (The
    //    page shows the username: moto's ID token of a signed-up user has no `email`.)
    sign_up(&app, &ada, "ada", "ada@example.com").await;
    ada.wait_for_text("Signed in as ada").await;
    assert_eq!(ada.current_url().await, format!("{}/app", app.url));
    let cookie = ada.cookie("token").await.expect("the session cookie");
    assert!(cookie.http_only && cookie.secure, "{cookie:?}");
    ada.screenshot("signed-in-after-sign-up").await;
    sign_out(&app, &ada).await;

    // 2. Sign in with an emailed code: a wrong code asks again, the right one signs in.
    sign_in_without_password(&app, &ada, "ada", "#signin-email").await;
    ada.wait_for_text("We sent a code to a***@e***").await;
    let challenge = ada
        .cookie("__Host-cognito-signin")
        .await
        .expect("the challenge cookie");
    assert!(challenge.http_only && challenge.secure, "{challenge:?}");
    ada.screenshot("email-code-asked").await;
    let code = app.code("ada");
    let wrong = if code == "000000" { "111111" } else { "000000" };
    ada.fill("code", wrong).await;
    ada.submit("#next").await;
    ada.wait_for_text("We sent a code to").await;
    assert!(ada
        .eval_js("return document.getElementById('error') !== null")
        .await
        .as_bool()
        .unwrap_or(false));
    ada.screenshot("email-code-wrong").await;
    ada.fill("code", &code).await;
    ada.submit("#next").await;
    ada.wait_for_text("Signed in as ada").await;
    assert_eq!(ada.current_url().await, format!("{}/app", app.url));
    ada.screenshot("signed-in-with-email-code").await;

    // 3. A second browser signs in with the password; both have their session.
    let other = browser.context("web_app_accounts_other").await;
    app.sign_in_with_password(&other, "ada", PASSWORD).await;
    other.screenshot("signed-in-elsewhere").await;
    assert!(app.signed_in(&ada).await && app.signed_in(&other).await);

    // 4. The first resets the password (forgot → code → new password): every session ends,
    //    the other browser's included.
    ada.goto(&format!("{}/forgot", app.url)).await;
    ada.fill("username", "ada").await;
    ada.submit("#forgot").await;
    ada.wait_for_text("Enter the code").await;
    ada.fill("code", &app.code("ada")).await;
    ada.fill("new_password", NEW_PASSWORD).await;
    ada.screenshot("reset-code-and-new-password").await;
    ada.submit("#reset").await;
    ada.wait_for_text("Your password was changed").await;
    ada.screenshot("password-reset").await;
    assert!(!app.signed_in(&other).await, "the other session ended");
    other.wait_for_text("Sign in").await;
    other.screenshot("other-session-ended").await;
    assert!(!app.signed_in(&ada).await);

    // 5. The old password is refused; the new one signs in, from the choice of factors too.
    ada.goto(&format!("{}/signin", app.url)).await;
    ada.fill("username", "ada").await;
    ada.fill("password", PASSWORD).await;
    ada.submit("#signin").await;
    ada.wait_for_text("incorrect username or password").await;
    app.sign_in_with_password(&other, "ada", NEW_PASSWORD).await;
    sign_in_without_password(&app, &ada, "ada", "#signin-other").await;
    ada.wait_for_text("How do you want to sign in?").await;
    ada.screenshot("factor-choice").await;
    ada.fill("password", NEW_PASSWORD).await;
    ada.submit("#factor-PASSWORD").await;
    ada.wait_for_text("Signed in as ada").await;
}
