//! Managed login end to end against the managed-login fake on moto: the redirect, the
//! callback, the session it starts, logout, and every refusal of the login threat model
//! (login CSRF, open redirect, replay, a code or token that is not this login's, outages).

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use cognito_session::{LoginError, SessionLayer, Sessions};
use testkit::managed_login::{HttpBrowser, Reply};
use testkit::{ManagedLogin, Pool, PoolOptions, PASSWORD};

use crate::{builder, movable_clock};

const CALLBACK: &str = "http://127.0.0.1:9/callback";
const SIGNED_OUT: &str = "http://127.0.0.1:9/";

struct Login {
    pool: Pool,
    fake: ManagedLogin,
    sessions: Sessions,
    clock: Arc<AtomicI64>,
}

async fn setup() -> Login {
    let pool = Pool::new(PoolOptions::managed_login(CALLBACK, SIGNED_OUT)).await;
    let fake = pool.managed_login().await;
    let clock = Arc::new(AtomicI64::new(0));
    let (builder, _) = builder(&pool);
    let sessions = builder
        .cognito_domain(fake.base_url())
        .redirect_uri(CALLBACK)
        .logout_uri(SIGNED_OUT)
        // Generous: under a loaded CI the fake's token endpoint (moto behind it) can be slow;
        // the outage test's hang waits this long.
        .operation_timeout(std::time::Duration::from_secs(8))
        .clock(movable_clock(clock.clone()))
        .build()
        .await
        .expect("build sessions");
    Login {
        pool,
        fake,
        sessions,
        clock,
    }
}

fn get(uri: &str, cookie: Option<&str>) -> http::Request<()> {
    let mut request = http::Request::get(uri).header("accept", "text/html");
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    request.body(()).unwrap()
}

fn header(response: &http::Response<String>, name: &str) -> Vec<String> {
    response
        .headers()
        .get_all(name)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

/// `name=value` of the `Set-Cookie` for `name` in `response`.
fn set_cookie(response: &http::Response<String>, name: &str) -> Option<String> {
    header(response, "set-cookie")
        .into_iter()
        .find(|c| c.starts_with(&format!("{name}=")))
        .map(|c| c.split(';').next().unwrap().to_owned())
}

impl Login {
    /// `/login?return_to=...` on the app: the redirect to the fake, and the login cookie.
    async fn begin(&self, return_to: &str) -> (String, String) {
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("return_to", return_to)
            .finish();
        let response = self
            .sessions
            .login(&get(&format!("/login?{query}"), None))
            .await;
        assert_eq!(response.status(), 302, "{}", response.body());
        let location = header(&response, "location").pop().unwrap();
        let cookie = set_cookie(&response, "__Host-cognito-login").expect("the login cookie");
        (location, cookie)
    }

    /// The browser at the fake: signs in and comes back with the callback URL (path + query).
    async fn sign_in(&self, browser: &mut HttpBrowser, location: &str, username: &str) -> String {
        let back: Reply = browser
            .sign_in(&self.fake, location, username, PASSWORD)
            .await;
        let callback = back.location().expect("redirected to the callback");
        assert!(callback.starts_with(CALLBACK), "{callback}");
        callback.trim_start_matches("http://127.0.0.1:9").to_owned()
    }

    async fn callback(&self, callback: &str, cookie: Option<&str>) -> http::Response<String> {
        self.sessions.callback(&get(callback, cookie)).await
    }
}

fn error_code(response: &http::Response<String>) -> String {
    let body = response.body();
    let from = body.find("data-code=\"").expect("an error page") + "data-code=\"".len();
    body[from..].split('"').next().unwrap().to_owned()
}

#[tokio::test]
async fn managed_login_starts_a_session_with_the_profile_and_returns_to_the_page() {
    let s = setup().await;
    let sub = s.pool.user("ada").await;
    s.pool
        .set_attributes(
            "ada",
            &[("email", "ada@example.com"), ("email_verified", "true")],
        )
        .await;
    let (location, login_cookie) = s.begin("/orders?page=2").await;
    // The authorize request as Cognito documents it.
    let query: std::collections::HashMap<String, String> =
        form_urlencoded::parse(location.split_once('?').unwrap().1.as_bytes())
            .into_owned()
            .collect();
    assert!(location.starts_with(&format!("{}/oauth2/authorize?", s.fake.base_url())));
    assert_eq!(query["response_type"], "code");
    assert_eq!(query["client_id"], s.pool.client_id);
    assert_eq!(query["redirect_uri"], CALLBACK);
    assert_eq!(query["code_challenge_method"], "S256");
    assert_eq!(query["code_challenge"].len(), 43);
    assert_eq!(query["scope"], "openid email");
    assert!(query["nonce"].len() >= 43 && query["state"].len() >= 43);
    // The login cookie holds the nonce and verifier sealed, bound to the state: none in clear.
    let sealed = login_cookie.trim_start_matches("__Host-cognito-login=");
    assert!(sealed.starts_with("enc:v1:"), "{login_cookie}");
    assert!(!sealed.contains(&query["state"]) && !sealed.contains(&query["nonce"]));

    let mut browser = HttpBrowser::new();
    let callback = s.sign_in(&mut browser, &location, "ada").await;
    let response = s.callback(&callback, Some(&login_cookie)).await;
    assert_eq!(response.status(), 302, "{}", response.body());
    assert_eq!(header(&response, "location"), ["/orders?page=2"]);
    let cookies = header(&response, "set-cookie");
    let session_cookie = cookies
        .iter()
        .find(|c| c.starts_with("token="))
        .expect("session cookie");
    assert!(session_cookie.contains("HttpOnly") && session_cookie.contains("Secure"));
    assert!(session_cookie.contains("SameSite=Lax"));
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with("__Host-cognito-login=;") && c.contains("Max-Age=0")),
        "the login cookie is removed: {cookies:?}"
    );
    assert_eq!(header(&response, "cache-control"), ["no-store"]);

    // The cookie is a working session with the profile, read from the row.
    let token = session_cookie
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("token=");
    let session = s
        .sessions
        .session("token", &crate::cookies(token))
        .await
        .expect("a session");
    assert_eq!(session.sub(), sub);
    let profile = session.profile().expect("the profile");
    assert_eq!(profile.email(), Some("ada@example.com"));
    assert_eq!(profile.email_verified(), Some(true));
    assert!(profile.attribute("nonce").is_none() && profile.attribute("aud").is_none());
    let row = s.pool.row(&sub).await.expect("the session row");
    assert!(row.contains_key("profile") && row.contains_key("token"));
    assert_eq!(s.fake.token_requests(), 1);
}

#[tokio::test]
async fn a_replayed_callback_is_refused_and_changes_nothing() {
    let s = setup().await;
    let sub = s.pool.user("bob").await;
    let (location, cookie) = s.begin("/").await;
    let callback = s.sign_in(&mut HttpBrowser::new(), &location, "bob").await;
    let done = s.callback(&callback, Some(&cookie)).await;
    assert_eq!(done.status(), 302);
    assert!(
        header(&done, "set-cookie")
            .iter()
            .any(|c| c.starts_with("__Host-cognito-login=;")),
        "the browser's login cookie is gone"
    );
    s.sessions.end_all(&sub).await.unwrap();
    // The browser replaying its callback has no login cookie any more: refused at once.
    let replay = s.callback(&callback, None).await;
    assert_eq!(replay.status(), 400);
    assert_eq!(error_code(&replay), "login_state_mismatch");
    assert_eq!(
        s.fake.token_requests(),
        1,
        "never reached the token endpoint"
    );
    // Someone who copied the cookie too: Cognito redeems a code once.
    let replay = s.callback(&callback, Some(&cookie)).await;
    assert_eq!(replay.status(), 400);
    assert_eq!(error_code(&replay), "login_code_rejected");
    assert!(s.pool.row(&sub).await.is_none(), "no session from a replay");
}

#[tokio::test]
async fn a_login_started_in_another_browser_is_refused() {
    let s = setup().await;
    let sub = s.pool.user("eve").await;
    // The attacker starts a login and signs in as herself...
    let (location, _attacker_cookie) = s.begin("/").await;
    let callback = s.sign_in(&mut HttpBrowser::new(), &location, "eve").await;
    // ...and makes the victim's browser open her callback: with the victim's own login cookie
    // (a login of the victim's in flight) or none, it is refused.
    let (_, victim_cookie) = s.begin("/").await;
    for cookie in [Some(victim_cookie.as_str()), None] {
        let response = s.callback(&callback, cookie).await;
        assert_eq!(response.status(), 400, "{}", response.body());
        assert_eq!(error_code(&response), "login_state_mismatch");
        assert!(set_cookie(&response, "token").is_none());
    }
    assert!(s.pool.row(&sub).await.is_none());
    assert_eq!(s.fake.token_requests(), 0);
}

#[tokio::test]
async fn a_login_expires_after_ten_minutes() {
    let s = setup().await;
    s.pool.user("carl").await;
    let (location, cookie) = s.begin("/").await;
    let callback = s.sign_in(&mut HttpBrowser::new(), &location, "carl").await;
    s.clock.store(601, Ordering::Relaxed);
    let response = s.callback(&callback, Some(&cookie)).await;
    assert_eq!(response.status(), 400);
    assert_eq!(error_code(&response), "login_expired");
}

#[tokio::test]
async fn return_to_only_takes_same_origin_paths() {
    let s = setup().await;
    s.pool.user("dora").await;
    for (asked, landed) in [
        ("https://evil.example/", "/"),
        ("//evil.example/x", "/"),
        ("/\\evil.example", "/"),
        ("/account", "/account"),
    ] {
        let (location, cookie) = s.begin(asked).await;
        let callback = s.sign_in(&mut HttpBrowser::new(), &location, "dora").await;
        let response = s.callback(&callback, Some(&cookie)).await;
        assert_eq!(
            header(&response, "location"),
            [landed],
            "return_to {asked:?}"
        );
    }
}

#[tokio::test]
async fn a_token_endpoint_outage_is_a_503_and_no_session() {
    let s = setup().await;
    let sub = s.pool.user("finn").await;
    for fault in ["503", "hang"] {
        let (location, cookie) = s.begin("/").await;
        let callback = s.sign_in(&mut HttpBrowser::new(), &location, "finn").await;
        match fault {
            "503" => s.fake.fail_token_endpoint(503),
            _ => s.fake.hang_token_endpoint(),
        }
        let response = s.callback(&callback, Some(&cookie)).await;
        s.fake.heal();
        assert_eq!(response.status(), 503, "{fault}: {}", response.body());
        assert_eq!(header(&response, "retry-after"), ["1"]);
        assert!(
            s.pool.row(&sub).await.is_none(),
            "{fault}: no half-created session"
        );
    }
}

#[tokio::test]
async fn a_code_the_token_endpoint_refuses_and_cognito_errors_are_clear_refusals() {
    let s = setup().await;
    s.pool.user("gus").await;
    let (location, cookie) = s.begin("/").await;
    let callback = s.sign_in(&mut HttpBrowser::new(), &location, "gus").await;
    let forged = callback.replace("code=", "code=x");
    let response = s.callback(&forged, Some(&cookie)).await;
    assert_eq!(response.status(), 400, "{}", response.body());
    assert_eq!(error_code(&response), "login_code_rejected");

    // Cognito sending the browser back with an error (the user cancelled, say).
    let (_, cookie) = s.begin("/").await;
    let denied = s
        .callback(
            "/callback?error=access_denied%3Cb%3E&error_description=Call+%2B1-555+to+unlock",
            Some(&cookie),
        )
        .await;
    assert_eq!(denied.status(), 401);
    assert_eq!(error_code(&denied), "login_denied");
    // Attacker-chosen text never reaches the page (the description is only logged).
    assert!(
        !denied.body().contains("555")
            && !denied.body().contains("<b>")
            && !denied.body().contains("access_denied"),
        "{}",
        denied.body()
    );
    // A link to the callback cannot abort the login in progress: its cookie stays.
    assert!(
        set_cookie(&denied, "__Host-cognito-login").is_none(),
        "{:?}",
        header(&denied, "set-cookie")
    );
    // A callback without parameters, as JSON for an API client.
    let request = http::Request::get("/callback").body(()).unwrap();
    let missing = s.sessions.callback(&request).await;
    assert_eq!(missing.status(), 400);
    let body: serde_json::Value = serde_json::from_str(missing.body()).unwrap();
    assert_eq!(body["error"], "login_missing_parameter");
}

#[tokio::test]
async fn logout_ends_the_session_and_the_managed_login_session() {
    let s = setup().await;
    let sub = s.pool.user("hal").await;
    let mut browser = HttpBrowser::new();
    let (location, cookie) = s.begin("/").await;
    let callback = s.sign_in(&mut browser, &location, "hal").await;
    let done = s.callback(&callback, Some(&cookie)).await;
    let session_cookie = set_cookie(&done, "token").unwrap();

    let logout = s
        .sessions
        .logout(&get("/logout", Some(&session_cookie)))
        .await;
    assert_eq!(logout.status(), 302);
    let to = header(&logout, "location").pop().unwrap();
    let expected = format!(
        "{}/logout?client_id={}&logout_uri={}",
        s.fake.base_url(),
        s.pool.client_id,
        form_urlencoded::byte_serialize(SIGNED_OUT.as_bytes()).collect::<String>()
    );
    assert_eq!(to, expected);
    assert!(header(&logout, "set-cookie")
        .iter()
        .any(|c| c.starts_with("token=;")));
    assert!(s.pool.row(&sub).await.is_none(), "the row is gone");

    // Before the managed login's logout, its session signs the browser in without a form;
    // after it, the next login asks for the password again.
    let (location, _) = s.begin("/").await;
    let again = browser.get(&location).await;
    assert_eq!(again.status, 302);
    assert!(
        again.location().unwrap().starts_with(CALLBACK),
        "signed in without a form"
    );
    let signed_out = browser.get(&to).await;
    assert_eq!(signed_out.location().as_deref(), Some(SIGNED_OUT));
    let (location, _) = s.begin("/").await;
    let form = browser.get(&location).await;
    assert!(
        form.location().unwrap().starts_with("/login?"),
        "the sign-in form again"
    );
}

#[tokio::test]
async fn without_managed_login_configured_the_routes_say_so() {
    let pool = Pool::new(PoolOptions::default()).await;
    let (builder, _) = builder(&pool);
    let sessions = builder.build().await.unwrap();
    let response = sessions.login(&get("/login", None)).await;
    assert_eq!(response.status(), 500);
    assert_eq!(error_code(&response), "login_not_configured");
    assert!(matches!(
        sessions.begin_login(None).await,
        Err(LoginError::NotConfigured)
    ));
    assert_eq!(sessions.logout_location(), "/");
}

#[tokio::test]
async fn browser_mode_sends_page_loads_to_login_and_keeps_401_for_apis() {
    use lambda_http::tower::{ServiceBuilder, ServiceExt};
    use lambda_http::{service_fn, Body, Request, Response, Service};
    let s = setup().await;
    let mut service = ServiceBuilder::new()
        .layer(SessionLayer::new(s.sessions.clone()).login_redirect("/app", "/login"))
        .service(service_fn(|_request: Request| async {
            Ok::<_, lambda_http::Error>(Response::new(Body::from("page")))
        }));
    let request = |method: &str, path: &str, accept: &str| {
        http::Request::builder()
            .method(method)
            .uri(path)
            .header("accept", accept)
            .body(Body::Empty)
            .unwrap()
    };
    let page = request(
        "GET",
        "/app/orders?page=2",
        "text/html,application/xhtml+xml",
    );
    let response = service.ready().await.unwrap().call(page).await.unwrap();
    assert_eq!(response.status(), 302);
    assert_eq!(
        response.headers()["location"],
        "/login?return_to=%2Fapp%2Forders%3Fpage%3D2"
    );
    for (method, path, accept) in [
        ("GET", "/app/orders", "application/json"),
        ("POST", "/app/orders", "text/html"),
        ("GET", "/other", "text/html"),
    ] {
        let response = service
            .ready()
            .await
            .unwrap()
            .call(request(method, path, accept))
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{method} {path} {accept}");
    }
    // The login route itself is public.
    let login = request("GET", "/login", "text/html");
    let response = service.ready().await.unwrap().call(login).await.unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn every_refresh_renews_the_stored_profile_from_the_new_id_token() {
    let s = setup().await;
    let sub = s.pool.user("ida").await;
    s.pool
        .set_attributes("ida", &[("email", "ida@example.com")])
        .await;
    let (location, cookie) = s.begin("/").await;
    let callback = s.sign_in(&mut HttpBrowser::new(), &location, "ida").await;
    let done = s.callback(&callback, Some(&cookie)).await;
    let token = set_cookie(&done, "token").unwrap();
    let token = token.trim_start_matches("token=");
    s.pool
        .set_attributes("ida", &[("email", "ida@new.example")])
        .await;
    // Within the token's life the stored profile answers (no Cognito call).
    let session = s
        .sessions
        .session("token", &crate::cookies(token))
        .await
        .unwrap();
    assert_eq!(
        session.profile().and_then(|p| p.email()),
        Some("ida@example.com")
    );
    // Expired: the refresh's ID token carries the new address, and the row keeps it.
    s.clock.store(3600 + 60, Ordering::Relaxed);
    let refreshed = s
        .sessions
        .session("token", &crate::cookies(token))
        .await
        .unwrap();
    assert!(refreshed.refreshed().is_some());
    assert_eq!(
        refreshed.profile().and_then(|p| p.email()),
        Some("ida@new.example")
    );
    let new_token = &refreshed.refreshed().unwrap().access_token;
    let later = s
        .sessions
        .session("token", &crate::cookies(new_token))
        .await
        .unwrap();
    assert_eq!(
        later.profile().and_then(|p| p.email()),
        Some("ida@new.example")
    );
    let row = s.pool.row(&sub).await.unwrap();
    assert!(row["profile"].as_s().unwrap().contains("ida@new.example"));
}
