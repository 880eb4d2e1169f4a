//! Round two, 3 and 5. Cross-site requests are refused by default on the login routes, and the
//! smaller defects the review found: secrets in `Debug`, attributes a new password may carry,
//! configuration text on public error pages, a link aborting a login in progress, one key cache
//! for access and ID tokens, anonymous `/login` writing rows, the example's challenge cookie and
//! MFA retry.

use std::sync::atomic::AtomicI64;
use std::sync::Arc;

use axum::body::Body;
use cognito_session::{
    Answer, CookieOptions, Error, Sessions, SessionsBuilder, SignIn, SignInError,
};
use http::{Request, Response};
use lambda_http::tower::ServiceExt;
use testkit::managed_login::HttpBrowser;
use testkit::{ManagedLogin, Pool, PoolOptions, Proxy, PASSWORD};

use crate::browser::web_app;
use crate::sign_in::carry;
use crate::{builder, setup, via_proxy};

const SITE: &str = "http://localhost:7";
const CALLBACK: &str = "http://localhost:7/callback";
const KEY: &str = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=";

/// A pool with managed login, its fake, and sessions for it (counted clients).
async fn managed() -> (Pool, ManagedLogin, Sessions, testkit::CallCounter) {
    let pool = Pool::new(PoolOptions::managed_login(CALLBACK, &format!("{SITE}/"))).await;
    let fake = pool.managed_login().await;
    let (builder, calls) = builder(&pool);
    let sessions = with_fake(builder, &fake).build().await.unwrap();
    (pool, fake, sessions, calls)
}

/// `builder` with managed login on `fake`, and time for a loaded machine.
fn with_fake(builder: SessionsBuilder, fake: &ManagedLogin) -> SessionsBuilder {
    builder
        .cognito_domain(fake.base_url())
        .redirect_uri(CALLBACK)
        .operation_timeout(std::time::Duration::from_secs(8))
}

/// `/login` then the fake's form: the callback's path and query, and the login cookie.
async fn at_callback(fake: &ManagedLogin, sessions: &Sessions, user: &str) -> (String, String) {
    let start = sessions.begin_login(None).await.unwrap();
    let cookie = start.set_cookie.split(';').next().unwrap().to_owned();
    let back = HttpBrowser::new()
        .sign_in(fake, &start.location, user, PASSWORD)
        .await;
    let back = back.location().unwrap();
    (back.trim_start_matches(SITE).to_owned(), cookie)
}

fn get(uri: &str, cookie: Option<&str>, accept: &str) -> http::Request<()> {
    let mut request = http::Request::get(uri).header("accept", accept);
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    request.body(()).unwrap()
}

#[tokio::test]
async fn login_start_and_completion_print_no_secret() {
    let (pool, fake, sessions, _) = managed().await;
    pool.user("debug-user").await;
    let start = sessions.begin_login(Some("/x")).await.unwrap();
    let debug = format!("{start:?}");
    let query = start.location.split_once('?').unwrap().1;
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        if ["state", "nonce", "code_challenge"].contains(&name.as_ref()) {
            assert!(!debug.contains(value.as_ref()), "{name} in {debug}");
        }
    }
    let sealed = start
        .set_cookie
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1;
    assert!(!debug.contains(sealed), "{debug}");
    let (callback, cookie) = at_callback(&fake, &sessions, "debug-user").await;
    let done = sessions
        .finish_login(&get(&callback, Some(&cookie), "text/html"))
        .await
        .unwrap();
    let debug = format!("{done:?}");
    let access = &done.session.refreshed().unwrap().access_token;
    assert!(!debug.contains(&access[access.len() - 30..]), "{debug}");
    assert!(!debug.contains("eyJ"), "{debug}");
    assert!(debug.contains(done.session.sub()), "{debug}");
}

#[tokio::test]
async fn a_new_password_carries_only_the_attributes_the_challenge_requires() {
    let s = setup().await;
    s.pool
        .user_with_temporary_password("role-seeker", "Temp-horse-1!")
        .await;
    let SignIn::Challenge(challenge) = s
        .sessions
        .sign_in("role-seeker", "Temp-horse-1!")
        .await
        .unwrap()
    else {
        panic!("a new-password challenge")
    };
    let challenge = carry(&s.sessions, &challenge).await;
    s.calls.reset();
    let answer = Answer::NewPassword {
        password: "New-horse-10!".into(),
        attributes: vec![("custom:role".into(), "admin".into())],
    };
    let refused = s.sessions.respond(&challenge, &answer).await.unwrap_err();
    assert!(
        matches!(refused, SignInError::Failed(Error::InvalidInput(_))),
        "{refused:?}"
    );
    assert_eq!(refused.status(), 400);
    assert!(refused.to_string().contains("custom:role"), "{refused}");
    assert_eq!(
        s.calls.all(),
        Vec::<String>::new(),
        "nothing was sent to Cognito"
    );
}

#[tokio::test]
async fn login_error_pages_show_the_status_and_a_code_only() {
    // Managed login not configured: the page does not say which variables.
    let s = setup().await;
    for accept in ["text/html", "application/json"] {
        let response = s.sessions.login(&get("/login", None, accept)).await;
        assert_eq!(response.status(), 500);
        let body = response.body();
        assert!(body.contains("login_not_configured"), "{body}");
        for secret in ["COGNITO_DOMAIN", "REDIRECT_URI", "configuration error"] {
            assert!(!body.contains(secret), "{accept}: {body}");
        }
    }
    // The token endpoint refusing the app client: a 500 that names no variable.
    let (pool, fake, _, _) = managed().await;
    pool.user("wrong-secret").await;
    let (wrong, _) = builder(&pool);
    let sessions = with_fake(wrong.client_secret("not-the-client-secret"), &fake)
        .build()
        .await
        .unwrap();
    let (callback, cookie) = at_callback(&fake, &sessions, "wrong-secret").await;
    let response = sessions
        .callback(&get(&callback, Some(&cookie), "text/html"))
        .await;
    assert_eq!(response.status(), 500, "{}", response.body());
    for secret in [
        "CLIENT_ID",
        "CLIENT_SECRET",
        &pool.client_id,
        "invalid_client",
    ] {
        assert!(!response.body().contains(secret), "{}", response.body());
    }
    // A missing table on logout: neither the table nor the Region.
    let (missing, _) = builder(&pool);
    let sessions = missing.table("no-such-table-here").build().await.unwrap();
    let token = pool
        .login("wrong-secret")
        .await
        .access_token()
        .unwrap()
        .to_owned();
    let response = sessions
        .logout(&get(
            "/logout",
            Some(&format!("token={token}")),
            "text/html",
        ))
        .await;
    assert_eq!(response.status(), 500, "{}", response.body());
    for secret in ["no-such-table-here", "us-east-1", "SESSION_TABLE"] {
        assert!(!response.body().contains(secret), "{}", response.body());
    }
}

#[tokio::test]
async fn only_the_login_s_own_callback_removes_its_cookie() {
    let (pool, fake, sessions, _) = managed().await;
    pool.user("abort-victim").await;
    pool.user("abort-attacker").await;
    let (_, victim_cookie) = at_callback(&fake, &sessions, "abort-victim").await;
    let (planted, _) = at_callback(&fake, &sessions, "abort-attacker").await;
    let login_cookie_cleared = |response: &Response<String>| {
        crate::response_cookies(response)
            .iter()
            .any(|c| c.starts_with("__Host-cognito-login=;"))
    };
    for link in [
        planted.as_str(),
        "/callback?error=access_denied",
        "/callback?error=access_denied&state=not-this-one",
        "/callback",
    ] {
        let response = sessions
            .callback(&get(link, Some(&victim_cookie), "text/html"))
            .await;
        assert!(
            response.status().is_client_error(),
            "{link}: {}",
            response.status()
        );
        assert!(
            !login_cookie_cleared(&response),
            "{link} aborted the login in progress"
        );
    }
    // The login's own callback with an error (the user cancelled): that login is over.
    let start = sessions.begin_login(None).await.unwrap();
    let cookie = start.set_cookie.split(';').next().unwrap().to_owned();
    let state: String =
        form_urlencoded::parse(start.location.split_once('?').unwrap().1.as_bytes())
            .find(|(k, _)| k == "state")
            .unwrap()
            .1
            .into_owned();
    let own = format!("/callback?error=access_denied&state={state}");
    let response = sessions
        .callback(&get(&own, Some(&cookie), "text/html"))
        .await;
    assert_eq!(response.status(), 401);
    assert!(login_cookie_cleared(&response));
}

#[tokio::test]
async fn a_login_on_a_cold_instance_fetches_the_pools_keys_once() {
    let pool = Pool::new(PoolOptions::managed_login(CALLBACK, &format!("{SITE}/"))).await;
    let fake = pool.managed_login().await;
    pool.user("one-fetch").await;
    let proxy = Proxy::start(&pool.moto.url).await;
    let cold = via_proxy(&pool, &Arc::new(AtomicI64::new(0)), &proxy).await;
    let sessions = with_fake(cold, &fake).build().await.unwrap();
    let (callback, cookie) = at_callback(&fake, &sessions, "one-fetch").await;
    let response = sessions
        .callback(&get(&callback, Some(&cookie), "text/html"))
        .await;
    assert_eq!(response.status(), 302, "{}", response.body());
    assert_eq!(
        proxy.count("GET"),
        1,
        "one JWKS fetch for the ID and the access token"
    );
}

#[tokio::test]
async fn anonymous_login_requests_write_nothing() {
    // With the encryption key: not even the first one.
    let (pool, fake, _, _) = managed().await;
    let (keyed, calls) = builder(&pool);
    let sessions = with_fake(keyed.encryption_key(KEY), &fake)
        .build()
        .await
        .unwrap();
    for _ in 0..5 {
        let response = sessions.login(&get("/login", None, "text/html")).await;
        assert_eq!(response.status(), 302);
    }
    assert_eq!(calls.all(), Vec::<String>::new());
    // Without it: the first reads (and here creates) the generated state key, once.
    let (_, _, sessions, calls) = managed().await;
    for _ in 0..5 {
        sessions.login(&get("/login", None, "text/html")).await;
    }
    let first = calls.all();
    assert!(first.len() <= 3 && !first.is_empty(), "{first:?}");
    calls.reset();
    for _ in 0..5 {
        sessions.login(&get("/login", None, "text/html")).await;
    }
    assert_eq!(calls.all(), Vec::<String>::new());
}

/// The example's router for `sessions`, answering one request.
async fn web(sessions: &Sessions, request: Request<Body>) -> Response<String> {
    let response = web_app::app(sessions.clone())
        .oneshot(request)
        .await
        .unwrap();
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    Response::from_parts(parts, String::from_utf8(bytes.to_vec()).unwrap())
}

fn post(path: &str, origin: Option<&str>, cookie: Option<&str>, form: &str) -> Request<Body> {
    let mut request = Request::post(path)
        .header("host", "localhost:7")
        .header("content-type", "application/x-www-form-urlencoded");
    if let Some(origin) = origin {
        request = request.header("origin", origin);
    }
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    request.body(Body::from(form.to_owned())).unwrap()
}

fn hidden_state(page: &str) -> String {
    let from = page.find("name=\"state\" value=\"").expect("a state field") + 20;
    page[from..]
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&")
}

#[tokio::test]
async fn the_example_refuses_cross_site_sign_in_and_logout_posts() {
    let s = setup().await;
    let sub = s.pool.user("csrf-web").await;
    let credentials = format!("username=csrf-web&password={PASSWORD}");
    for origin in ["https://evil.example", "null", "http://localhost:8"] {
        for path in ["/signin", "/signin/next", "/logout"] {
            let response = web(&s.sessions, post(path, Some(origin), None, &credentials)).await;
            assert_eq!(
                response.status(),
                403,
                "{origin} {path}: {}",
                response.body()
            );
        }
    }
    assert!(s.pool.row(&sub).await.is_none());
    // The site's own origin, or no Origin at all (not a browser): signed in.
    for origin in [Some(SITE), None] {
        let response = web(&s.sessions, post("/signin", origin, None, &credentials)).await;
        assert_eq!(response.status(), 303, "{origin:?}: {}", response.body());
    }
    // The logout route on its own (without the layer) refuses too.
    let token = s
        .pool
        .login("csrf-web")
        .await
        .access_token()
        .unwrap()
        .to_owned();
    let mut request = get("/logout", Some(&format!("token={token}")), "text/html");
    *request.method_mut() = http::Method::POST;
    request
        .headers_mut()
        .insert("origin", "https://evil.example".parse().unwrap());
    let response = s.sessions.logout(&request).await;
    assert_eq!(response.status(), 403);
    assert!(crate::response_cookies(&response).is_empty());
}

#[tokio::test]
async fn the_example_keeps_a_challenge_for_a_retry_and_honours_cookie_secure() {
    let s = setup().await;
    s.pool
        .user_with_temporary_password("retry-web", "Temp-horse-1!")
        .await;
    // Plain-HTTP local development: COOKIE_SECURE=false.
    let (plain, _) = builder(&s.pool);
    let sessions = plain
        .cookie_options(CookieOptions {
            secure: false,
            ..CookieOptions::default()
        })
        .sign_in_flow(cognito_session::SignInFlow::Password)
        .build()
        .await
        .unwrap();
    let step = web(
        &sessions,
        post(
            "/signin",
            Some(SITE),
            None,
            "username=retry-web&password=Temp-horse-1%21",
        ),
    )
    .await;
    assert_eq!(step.status(), 200, "{}", step.body());
    let binding = crate::response_cookies(&step)
        .into_iter()
        .find(|c| c.starts_with("cognito-signin="))
        .expect("the challenge cookie, without the __Host- prefix");
    assert!(!binding.contains("Secure"), "{binding}");
    let binding = binding.split(';').next().unwrap().to_owned();
    let state = hidden_state(step.body());
    let encoded: String = form_urlencoded::byte_serialize(state.as_bytes()).collect();
    // A password the pool refuses: the same step again, its state still good, no cookie change.
    let weak = web(
        &sessions,
        post(
            "/signin/next",
            Some(SITE),
            Some(&binding),
            &format!("state={encoded}&new_password=weak"),
        ),
    )
    .await;
    assert_eq!(weak.status(), 400, "{}", weak.body());
    assert!(weak.body().contains("not accepted"), "{}", weak.body());
    assert_eq!(hidden_state(weak.body()), state);
    assert!(
        crate::response_cookies(&weak).is_empty(),
        "{:?}",
        crate::response_cookies(&weak)
    );
    let done = web(
        &sessions,
        post(
            "/signin/next",
            Some(SITE),
            Some(&binding),
            &format!("state={encoded}&new_password=New-horse-10%21"),
        ),
    )
    .await;
    assert_eq!(done.status(), 303, "{}", done.body());
    let cookies = crate::response_cookies(&done);
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with("token=") && !c.contains("Secure")),
        "{cookies:?}"
    );
    assert!(
        cookies.iter().any(|c| c.starts_with("cognito-signin=;")),
        "{cookies:?}"
    );
}

#[tokio::test]
async fn the_example_lets_a_wrong_mfa_code_be_corrected() {
    let s = setup().await;
    let (sub, secret) = crate::sign_in::totp_user(&s, "mfa-web").await;
    let step = web(
        &s.sessions,
        post(
            "/signin",
            Some(SITE),
            None,
            &format!("username=mfa-web&password={PASSWORD}"),
        ),
    )
    .await;
    assert_eq!(step.status(), 200, "{}", step.body());
    assert!(step.body().contains("name=\"code\""), "{}", step.body());
    let binding = crate::response_cookies(&step)
        .into_iter()
        .find(|c| c.starts_with("__Host-cognito-signin="))
        .expect("the challenge cookie");
    let binding = binding.split(';').next().unwrap().to_owned();
    let state = hidden_state(step.body());
    let encoded: String = form_urlencoded::byte_serialize(state.as_bytes()).collect();
    let (right, wrong) = crate::sign_in::codes(&secret).await;
    let answer = |code: &str| format!("state={encoded}&code={code}");
    let refused = web(
        &s.sessions,
        post("/signin/next", Some(SITE), Some(&binding), &answer(&wrong)),
    )
    .await;
    assert_eq!(refused.status(), 401, "{}", refused.body());
    assert!(
        refused.body().contains("the code is wrong"),
        "{}",
        refused.body()
    );
    assert_eq!(hidden_state(refused.body()), state, "the same step again");
    assert!(
        crate::response_cookies(&refused).is_empty(),
        "the challenge cookie is kept"
    );
    assert!(s.pool.row(&sub).await.is_none());
    let done = web(
        &s.sessions,
        post("/signin/next", Some(SITE), Some(&binding), &answer(&right)),
    )
    .await;
    assert_eq!(done.status(), 303, "{}", done.body());
    assert!(s.pool.row(&sub).await.is_some());
}
