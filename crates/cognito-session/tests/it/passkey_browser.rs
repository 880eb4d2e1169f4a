//! The web example's account pages in a real browser (headless Chromium over WebDriver, with a
//! virtual WebAuthn authenticator) against testkit's `FakeAccounts` in front of moto, which
//! verifies the passkey ceremonies for real: sign up and confirm with the emailed code, add a
//! passkey, sign in with it alone and with an emailed code, a password reset that ends another
//! browser's session, and a removed passkey that no longer signs in. Screenshots of each step
//! go to `target/browser-tests/web_app_accounts*/`.

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

/// The signed-in user's `sub`, from the app's JSON route.
async fn sub(app: &App, page: &Context) -> String {
    page.goto(&format!("{}/api/me", app.url)).await;
    let me: serde_json::Value = serde_json::from_str(&page.text().await).expect("JSON");
    me["sub"].as_str().expect("a sub").to_owned()
}

/// Copies a screenshot into `docs/` when `UPDATE_SCREENSHOTS` is set (the README shows it);
/// otherwise it stays in `target/browser-tests/`.
fn publish(png: &std::path::Path, name: &str) {
    if std::env::var_os("UPDATE_SCREENSHOTS").is_some() {
        let to = testkit::workspace_root().join("docs").join(name);
        std::fs::copy(png, &to)
            .unwrap_or_else(|e| panic!("copy {} to {}: {e}", png.display(), to.display()));
    }
}

/// How many elements match `css` on the page.
async fn count(page: &Context, css: &str) -> u64 {
    let script = format!("return document.querySelectorAll({css:?}).length");
    page.eval_js(&script).await.as_u64().unwrap_or_default()
}

#[tokio::test]
async fn a_browser_signs_up_adds_a_passkey_signs_in_without_a_password_and_loses_it() {
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
    let sub = sub(&app, &ada).await;

    // 2. Add a passkey: the browser's authenticator creates it for `localhost`, Cognito (the
    //    fake) verifies and keeps it, and the list shows it.
    let authenticator = ada.add_authenticator().await;
    ada.goto(&format!("{}/app", app.url)).await;
    ada.click("#passkeys-link").await;
    ada.wait_for_text("No passkeys yet.").await;
    ada.submit("#add-passkey").await;
    ada.wait_for_text("Add a passkey").await;
    ada.screenshot("passkey-add").await;
    ada.submit("#create-passkey").await;
    ada.wait_for_text("Passkey added.").await;
    let held = ada.credentials(&authenticator).await;
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(held[0].rp_id, "localhost");
    assert_eq!(app.fake.passkey_ids(&sub), [held[0].id.clone()]);
    assert_eq!(count(&ada, "#passkeys li").await, 1);
    assert!(ada.text().await.contains("added today"));
    publish(&ada.screenshot("passkey-list").await, "passkeys-list.png");
    sign_out(&app, &ada).await;

    // 3. Sign in with the passkey alone: the username, then the browser signs Cognito's
    //    challenge; no password, no code.
    sign_in_without_password(&app, &ada, "ada", "#signin-passkey").await;
    ada.wait_for_text("Sign in with your passkey").await;
    publish(
        &ada.screenshot("passkey-sign-in").await,
        "passkeys-sign-in.png",
    );
    let signed = ada.credentials(&authenticator).await[0].sign_count;
    ada.submit("#use-passkey").await;
    ada.wait_for_text("Signed in as ada").await;
    assert_eq!(ada.current_url().await, format!("{}/app", app.url));
    assert_eq!(
        ada.credentials(&authenticator).await[0].sign_count,
        signed + 1
    );
    ada.screenshot("signed-in-with-passkey").await;
    sign_out(&app, &ada).await;

    // 4. Sign in with an emailed code: a wrong code asks again, the right one signs in.
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

    // 5. A second browser signs in with the password; both have their session.
    let other = browser.context("web_app_accounts_other").await;
    app.sign_in_with_password(&other, "ada", PASSWORD).await;
    other.screenshot("signed-in-elsewhere").await;
    assert!(app.signed_in(&ada).await && app.signed_in(&other).await);

    // 6. The first resets the password (forgot → code → new password): every session ends,
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

    // 7. The old password is refused; the new one signs in, from the choice of factors too.
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
    sign_out(&app, &ada).await;

    // 8. The passkey is removed (in the other browser) while this one is on the passkey page:
    //    its answer is refused, and the next sign-in no longer offers a passkey.
    sign_in_without_password(&app, &ada, "ada", "#signin-passkey").await;
    ada.wait_for_text("Sign in with your passkey").await;
    other.goto(&format!("{}/app/passkeys", app.url)).await;
    assert_eq!(count(&other, "#passkeys li").await, 1);
    other.submit(".remove-passkey").await;
    other.wait_for_text("Passkey removed.").await;
    other.wait_for_text("No passkeys yet.").await;
    other.screenshot("passkey-removed").await;
    assert!(app.fake.passkey_ids(&sub).is_empty());
    ada.submit("#use-passkey").await;
    ada.wait_for_text("incorrect username or password").await;
    ada.screenshot("removed-passkey-refused").await;
    assert!(!app.signed_in(&ada).await);
    sign_in_without_password(&app, &ada, "ada", "#signin-passkey").await;
    ada.wait_for_text("How do you want to sign in?").await;
    assert_eq!(
        count(&ada, "#factor-WEB_AUTHN").await,
        0,
        "{}",
        ada.text().await
    );
    ada.screenshot("no-passkey-offered").await;
    assert_eq!(
        ada.credentials(&authenticator).await.len(),
        1,
        "the browser still holds it"
    );
}
