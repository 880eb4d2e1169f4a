//! Round two, 1. Every login-side entry point meets the Lambda deadline.
//!
//! The callback, sign-in (password and choice-based), a challenge's answer, logout and the
//! passkey calls, each with a one-second deadline and
//! one dependency hanging (the token endpoint, DynamoDB, the JWKS endpoint, Cognito's API):
//! the answer comes before the deadline (a 503 where nothing could be finished), no session row
//! is left behind, and a later retry works. Before, the callback took the token endpoint's own
//! 2-second timeout (and the sign-in calls had no bound but the SDK's), so Lambda killed the
//! function first.

use std::sync::atomic::AtomicI64;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use cognito_session::{Answer, Error, Sessions, SignIn, SignInError, SignInFlow};
use testkit::managed_login::HttpBrowser;
use testkit::{Fault, ManagedLogin, Pool, PoolOptions, Proxy, Rule, PASSWORD};

use crate::sign_in::carry;
use crate::{context_until, via_proxy};

const CALLBACK: &str = "http://127.0.0.1:9/callback";
const SIGNED_OUT: &str = "http://127.0.0.1:9/";

/// The deadline every call below must meet.
const DEADLINE: Duration = Duration::from_secs(1);

/// How late an answer may be on a loaded 2-core machine: the library stops waiting 300 ms
/// before the deadline; this is for the scheduler, not for the library.
const SLACK: Duration = Duration::from_millis(500);

/// A hang: far longer than any deadline here.
fn hang() -> Fault {
    Fault::Latency(Duration::from_secs(30))
}

struct World {
    pool: Pool,
    fake: ManagedLogin,
    proxy: Proxy,
    clock: Arc<AtomicI64>,
}

async fn world() -> World {
    let pool = Pool::new(PoolOptions::managed_login(CALLBACK, SIGNED_OUT)).await;
    let fake = pool.managed_login().await;
    let proxy = Proxy::start(&pool.moto.url).await;
    World {
        pool,
        fake,
        proxy,
        clock: Arc::new(AtomicI64::new(0)),
    }
}

impl World {
    /// Sessions whose AWS traffic (and JWKS fetches) go through the proxy: a new one is a cold
    /// instance (no keys cached). Every timeout of its own is a minute: only the deadline can
    /// cut a hanging call short.
    async fn sessions(&self) -> Sessions {
        via_proxy(&self.pool, &self.clock, &self.proxy)
            .await
            .cognito_domain(self.fake.base_url())
            .redirect_uri(CALLBACK)
            .logout_uri(SIGNED_OUT)
            .sign_in_flow(SignInFlow::Password)
            .operation_timeout(Duration::from_secs(60))
            .build()
            .await
            .expect("build sessions")
    }

    /// `/login` then the fake's sign-in form: the callback URL (path and query) and the login
    /// cookie (`name=value`).
    async fn signed_in_at_cognito(&self, sessions: &Sessions, user: &str) -> (String, String) {
        let start = sessions.begin_login(None).await.expect("begin");
        let cookie = start.set_cookie.split(';').next().unwrap().to_owned();
        let back = HttpBrowser::new()
            .sign_in(&self.fake, &start.location, user, PASSWORD)
            .await;
        let callback = back.location().expect("back to the callback");
        (
            callback.trim_start_matches("http://127.0.0.1:9").to_owned(),
            cookie,
        )
    }

    async fn has_row(&self, sub: &str) -> bool {
        self.pool.row(sub).await.is_some()
    }
}

/// A request for `uri` with `cookie`, carrying a Lambda context whose deadline is [`DEADLINE`]
/// from now.
fn request(method: &str, uri: &str, cookie: &str) -> http::Request<()> {
    within(method, uri, cookie, DEADLINE)
}

/// The same for a retry, with time for a loaded machine (the retry is not about the deadline).
fn retry(method: &str, uri: &str, cookie: &str) -> http::Request<()> {
    within(method, uri, cookie, Duration::from_secs(10))
}

fn within(method: &str, uri: &str, cookie: &str, deadline: Duration) -> http::Request<()> {
    let mut request = http::Request::builder()
        .method(method)
        .uri(uri)
        .header("accept", "text/html")
        .header("cookie", cookie)
        .body(())
        .unwrap();
    request
        .extensions_mut()
        .insert(context_until(SystemTime::now() + deadline));
    request
}

/// Runs `call`, asserting it answers before the deadline (bounded at 10 s, so a regression
/// fails rather than hangs).
async fn timed<T>(case: &str, call: impl std::future::Future<Output = T>) -> T {
    let started = Instant::now();
    let answer = tokio::time::timeout(Duration::from_secs(10), call)
        .await
        .unwrap_or_else(|_| panic!("{case}: no answer within 10 s"));
    let took = started.elapsed();
    assert!(
        took < DEADLINE + SLACK,
        "{case}: answered after {took:?}, past the {DEADLINE:?} deadline"
    );
    answer
}

fn status_of(case: &str, response: &http::Response<String>, expected: u16) {
    assert_eq!(response.status(), expected, "{case}: {}", response.body());
    if expected == 503 {
        assert_eq!(
            response
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap()),
            Some("1"),
            "{case}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_callback_answers_before_the_deadline_and_a_retry_completes_the_login() {
    let w = world().await;
    let sessions = w.sessions().await;

    // The token endpoint hangs: 503 in time, nothing stored, the login cookie kept, and the
    // same callback again (Cognito never redeemed the code) completes the login.
    let sub = w.pool.user("cb-token").await;
    let (callback, cookie) = w.signed_in_at_cognito(&sessions, "cb-token").await;
    w.fake.hang_token_endpoint();
    let case = "callback, token endpoint hangs";
    let response = timed(case, sessions.callback(&request("GET", &callback, &cookie))).await;
    w.fake.heal();
    status_of(case, &response, 503);
    assert!(!w.has_row(&sub).await, "{case}: a row without a cookie");
    assert!(
        crate::response_cookies(&response).is_empty(),
        "{case}: the login cookie stays"
    );
    assert!(
        response.body().contains("id=\"again\""),
        "{case}: the page offers the same callback again: {}",
        response.body()
    );
    let again = sessions.callback(&retry("GET", &callback, &cookie)).await;
    status_of("the same callback, retried", &again, 302);
    assert!(w.has_row(&sub).await);

    // DynamoDB hangs on the session's write: 503 in time, no row. The code is redeemed now, so
    // the same callback says to start again, and a new login works.
    let sub = w.pool.user("cb-dynamodb").await;
    let (callback, cookie) = w.signed_in_at_cognito(&sessions, "cb-dynamodb").await;
    w.proxy.inject(Rule::on("PutItem", hang()));
    let case = "callback, DynamoDB hangs";
    let response = timed(case, sessions.callback(&request("GET", &callback, &cookie))).await;
    w.proxy.heal();
    status_of(case, &response, 503);
    assert!(!w.has_row(&sub).await, "{case}: a row without a cookie");
    let again = sessions.callback(&retry("GET", &callback, &cookie)).await;
    status_of("the redeemed callback, retried", &again, 400);
    let (callback, cookie) = w.signed_in_at_cognito(&sessions, "cb-dynamodb").await;
    status_of(
        "a new login",
        &sessions.callback(&retry("GET", &callback, &cookie)).await,
        302,
    );
    assert!(w.has_row(&sub).await);

    // The JWKS endpoint hangs on a cold instance (the tokens cannot be verified): 503 in time.
    let sub = w.pool.user("cb-jwks").await;
    let cold = w.sessions().await;
    let (callback, cookie) = w.signed_in_at_cognito(&cold, "cb-jwks").await;
    w.proxy.inject(Rule::on("GET", hang()));
    let case = "callback, JWKS hangs";
    let response = timed(case, cold.callback(&request("GET", &callback, &cookie))).await;
    w.proxy.heal();
    status_of(case, &response, 503);
    assert!(!w.has_row(&sub).await, "{case}");
    let (callback, cookie) = w.signed_in_at_cognito(&cold, "cb-jwks").await;
    status_of(
        "a new login",
        &cold.callback(&retry("GET", &callback, &cookie)).await,
        302,
    );
    assert!(w.has_row(&sub).await);
}

/// The 503 of a bounded sign-in call.
fn unavailable(case: &str, result: Result<SignIn, SignInError>) {
    match result {
        Err(SignInError::Failed(Error::Unavailable { .. })) => {}
        other => panic!("{case}: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_answers_before_the_deadline_whatever_hangs() {
    let w = world().await;
    for (operation, cold) in [("InitiateAuth", false), ("PutItem", false), ("GET", true)] {
        let user = format!("si-{}", operation.to_lowercase());
        let sub = w.pool.user(&user).await;
        let sessions = w.sessions().await;
        if !cold {
            // A warm instance: its keys are cached.
            let warm = w.pool.user(&format!("{user}-warm")).await;
            sessions
                .sign_in(&format!("{user}-warm"), PASSWORD)
                .await
                .expect("a warm-up sign-in");
            assert!(w.has_row(&warm).await);
        }
        w.proxy.inject(Rule::on(operation, hang()));
        let case = format!("sign-in, {operation} hangs");
        let bounded = sessions.with_deadline(SystemTime::now() + DEADLINE);
        let result = timed(&case, bounded.sign_in(&user, PASSWORD)).await;
        w.proxy.heal();
        unavailable(&case, result);
        assert!(!w.has_row(&sub).await, "{case}: no session row");
        let retry = sessions
            .with_deadline(SystemTime::now() + Duration::from_secs(10))
            .sign_in(&user, PASSWORD)
            .await;
        assert!(
            matches!(retry, Ok(SignIn::Done(_))),
            "{case}, retried: {retry:?}"
        );
        assert!(w.has_row(&sub).await, "{case}, retried");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answering_a_challenge_meets_the_deadline_and_can_be_retried() {
    let w = world().await;
    let sessions = w.sessions().await;
    for operation in ["RespondToAuthChallenge", "PutItem"] {
        let user = format!("respond-{}", operation.to_lowercase());
        w.pool
            .user_with_temporary_password(&user, "Temp-horse-1!")
            .await;
        let step = sessions.sign_in(&user, "Temp-horse-1!").await.unwrap();
        let SignIn::Challenge(challenge) = step else {
            panic!("a new-password challenge")
        };
        let challenge = carry(&sessions, &challenge).await;
        let answer = Answer::NewPassword {
            password: "New-horse-10!".into(),
            attributes: vec![],
        };
        w.proxy.inject(Rule::on(operation, hang()));
        let case = format!("respond, {operation} hangs");
        let bounded = sessions.with_deadline(SystemTime::now() + DEADLINE);
        let result = timed(&case, bounded.respond(&challenge, &answer)).await;
        w.proxy.heal();
        unavailable(&case, result);
        // Retried: the same challenge while Cognito has not answered it, else a new sign-in
        // (Cognito took the new password; only the session was not stored).
        let retry = match operation {
            "RespondToAuthChallenge" => sessions.respond(&challenge, &answer).await,
            _ => sessions.sign_in(&user, "New-horse-10!").await,
        };
        let Ok(SignIn::Done(session)) = retry else {
            panic!("{case}, retried: {retry:?}")
        };
        assert!(w.has_row(session.sub()).await, "{case}, retried");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_answers_before_the_deadline_and_keeps_the_session_until_it_can_end_it() {
    let w = world().await;
    for (operation, cold, ends) in [
        ("GetItem", false, false),
        ("GET", true, false),
        // RevokeToken comes after the row is gone: the logout is done, revocation pending.
        ("RevokeToken", false, true),
    ] {
        let user = format!("logout-{}", operation.to_lowercase());
        let sub = w.pool.user(&user).await;
        let sessions = w.sessions().await;
        let SignIn::Done(session) = sessions.sign_in(&user, PASSWORD).await.unwrap() else {
            panic!("signed in")
        };
        let cookie = session.set_cookie("token").unwrap();
        let cookie = cookie.split(';').next().unwrap().to_owned();
        let sessions = if cold { w.sessions().await } else { sessions };
        w.proxy.inject(Rule::on(operation, hang()));
        let case = format!("logout, {operation} hangs");
        let response = timed(&case, sessions.logout(&request("POST", "/logout", &cookie))).await;
        w.proxy.heal();
        if ends {
            status_of(&case, &response, 302);
            assert!(!w.has_row(&sub).await, "{case}: the session ended");
            continue;
        }
        status_of(&case, &response, 503);
        assert!(w.has_row(&sub).await, "{case}: the session is kept");
        assert!(
            !crate::response_cookies(&response)
                .iter()
                .any(|c| c.starts_with("token=")),
            "{case}: the cookie is kept"
        );
        let again = sessions.logout(&retry("POST", "/logout", &cookie)).await;
        status_of(&format!("{case}, retried"), &again, 302);
        assert!(!w.has_row(&sub).await, "{case}, retried");
    }
}

/// Choice-based sign-in, its answers and the passkey calls meet the deadline too: Cognito's
/// API hanging (behind the account fake, which answers what moto lacks) is a 503 before the
/// deadline, no session row is left, and the retry works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn choice_sign_in_and_passkey_calls_answer_before_the_deadline() {
    let pool = Pool::new(PoolOptions::default()).await;
    let fake = Arc::new(testkit::FakeAccounts::new(&pool));
    let proxy = Proxy::with_fake(&pool.moto.url, fake).await;
    let sessions = via_proxy(&pool, &Arc::new(AtomicI64::new(0)), &proxy)
        .await
        .build()
        .await
        .unwrap();
    let sub = pool.user("cho").await;
    pool.set_attributes("cho", &[("email", "cho@example.com")])
        .await;
    let bounded = || sessions.with_deadline(SystemTime::now() + DEADLINE);

    proxy.inject(Rule::on("InitiateAuth", hang()));
    let case = "sign_in_choice, InitiateAuth hangs";
    let result = timed(case, bounded().sign_in_choice("cho", None)).await;
    proxy.heal();
    unavailable(case, result);

    let SignIn::Challenge(choice) = sessions.sign_in_choice("cho", None).await.unwrap() else {
        panic!("the choice of first factor")
    };
    let choice = carry(&sessions, &choice).await;
    proxy.inject(Rule::on("RespondToAuthChallenge", hang()));
    let case = "respond to the choice, RespondToAuthChallenge hangs";
    let answer = Answer::Password(PASSWORD.into());
    let result = timed(case, bounded().respond(&choice, &answer)).await;
    proxy.heal();
    unavailable(case, result);
    assert!(pool.row(&sub).await.is_none(), "{case}: no session row");
    let SignIn::Challenge(choice) = sessions.sign_in_choice("cho", None).await.unwrap() else {
        panic!("the choice of first factor")
    };
    let Ok(SignIn::Done(session)) = sessions.respond(&choice, &answer).await else {
        panic!("{case}, retried")
    };

    // The passkey list of the signed-in user, with ListWebAuthnCredentials hanging: a 503
    // before the deadline, and the session stays.
    let cookie = format!("token={}", session.refreshed().unwrap().access_token);
    proxy.inject(Rule::on("ListWebAuthnCredentials", hang()));
    let case = "list_passkeys, ListWebAuthnCredentials hangs";
    let request = within("GET", "/app/passkeys", &cookie, DEADLINE);
    let listed = timed(case, sessions.accounts().list_passkeys(&request)).await;
    proxy.heal();
    let refused = listed.unwrap_err();
    assert_eq!(refused.status(), 503, "{case}: {refused:?}");
    let request = within("GET", "/app/passkeys", &cookie, Duration::from_secs(10));
    assert!(sessions.accounts().list_passkeys(&request).await.is_ok());
    assert!(pool.row(&sub).await.is_some(), "{case}: the session stays");
}
