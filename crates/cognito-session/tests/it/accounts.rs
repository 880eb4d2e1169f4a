//! The account flows (`Sessions::accounts`): sign-up, confirmation and sign-in after sign-up,
//! new codes, password reset and change. Against testkit's `FakeAccounts` (which speaks
//! Cognito's codes, sessions and refusals where moto does not: confirmation codes checked,
//! expiring and attempt-limited, `ResendConfirmationCode`, `USER_AUTH` with the confirmation's
//! session) in front of moto, and against moto alone where moto has the operation.

use std::sync::Arc;

use aws_sdk_cognitoidentityprovider::types::{AuthFlowType, AuthenticationResultType};
use cognito_session::{
    CodeSent, Confirmed, Error, NoAutoSignIn, PasswordError, Sessions, SessionsBuilder, SignIn,
    SignInFlow, SignUp, SignUpError, StateError, Tokens, Unauthorized,
};
use testkit::{FakeAccounts, PoolOptions, Proxy, PASSWORD};

use crate::capture::Capture;
use crate::sign_in::jar;
use crate::{cookies, sessions_via, setup, setup_with, Setup};

const NEW_PASSWORD: &str = "Brand-new-horse-2!";

/// A pool on moto, the account fake in front of it, and `Sessions` whose Cognito calls go
/// through the fake.
pub struct World {
    pub s: Setup,
    pub fake: Arc<FakeAccounts>,
    pub sessions: Sessions,
    pub proxy: Proxy,
}

pub async fn world_with(
    secret: bool,
    fake: impl FnOnce(FakeAccounts) -> FakeAccounts,
    customize: impl FnOnce(SessionsBuilder) -> SessionsBuilder,
) -> World {
    let options = PoolOptions {
        secret,
        ..Default::default()
    };
    world_in(options, fake, customize).await
}

async fn world_in(
    options: PoolOptions,
    fake: impl FnOnce(FakeAccounts) -> FakeAccounts,
    customize: impl FnOnce(SessionsBuilder) -> SessionsBuilder,
) -> World {
    let s = setup_with(options, |b| b).await;
    let accounts = Arc::new(fake(FakeAccounts::new(&s.pool)));
    let proxy = Proxy::with_fake(&s.pool.moto.url, accounts.clone()).await;
    let sessions = sessions_via(&s, &proxy.url, |b| {
        let b = match &s.pool.client_secret {
            Some(secret) => b.client_secret(secret),
            None => b,
        };
        customize(b)
    })
    .await;
    World {
        s,
        fake: accounts,
        sessions,
        proxy,
    }
}

async fn world() -> World {
    world_with(false, |f| f, |b| b).await
}

/// The code-sent step of a sign-up (panics otherwise).
fn code_sent(step: SignUp) -> CodeSent {
    match step {
        SignUp::CodeSent(sent) => sent,
        other => panic!("expected a code to be sent: {other:?}"),
    }
}

/// `sent` carried to the next request as a web form does: its state from the page, its cookie
/// from the browser.
async fn carried(sessions: &Sessions, sent: &CodeSent, reset: bool) -> CodeSent {
    let cookie = sent.set_cookie().expect("a new step sets its cookie");
    let accounts = sessions.accounts();
    if reset {
        accounts
            .open_reset(&jar(cookie), sent.state())
            .await
            .unwrap()
    } else {
        accounts
            .open_sign_up(&jar(cookie), sent.state())
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn a_sign_up_confirmed_with_its_code_lands_signed_in() {
    for secret in [false, true] {
        let w = world_with(secret, |f| f, |b| b.sign_up_group("members")).await;
        w.s.pool
            .cognito
            .create_group()
            .user_pool_id(&w.s.pool.pool_id)
            .group_name("members")
            .send()
            .await
            .unwrap();
        let accounts = w.sessions.accounts();
        let sent = code_sent(
            accounts
                .sign_up("ada", PASSWORD, &[("email", "ada@example.com")])
                .await
                .unwrap(),
        );
        assert_eq!(sent.destination(), Some("a***@e***"));
        let debug = format!("{sent:?}");
        assert!(
            !debug.contains("ada@") && !debug.contains("\"ada\""),
            "{debug}"
        );
        let sent = carried(&w.sessions, &sent, false).await;
        let code = w.fake.code_for("ada").expect("a code was delivered");
        let wrong = accounts.confirm_sign_up(&sent, "000000").await.unwrap_err();
        assert!(matches!(wrong, SignUpError::WrongCode), "{wrong:?}");
        // The same step answers again, and signs in without the password.
        let confirmed = accounts.confirm_sign_up(&sent, &code).await.unwrap();
        let session = match confirmed {
            Confirmed::SignedIn(SignIn::Done(session)) => session,
            other => panic!("not signed in (secret {secret}): {other:?}"),
        };
        assert_eq!(session.username(), "ada");
        assert!(
            w.s.pool.row(session.sub()).await.is_some(),
            "no session row"
        );
        let access = &session.refreshed().unwrap().access_token;
        let again =
            w.s.sessions
                .session("token", &cookies(access))
                .await
                .unwrap();
        assert_eq!(again.sub(), session.sub());
        // The app's group, chosen by the app.
        let groups =
            w.s.pool
                .cognito
                .admin_list_groups_for_user()
                .user_pool_id(&w.s.pool.pool_id)
                .username("ada")
                .send()
                .await
                .unwrap();
        let names: Vec<_> = groups
            .groups()
            .iter()
            .filter_map(|g| g.group_name())
            .collect();
        assert_eq!(names, ["members"]);
        // Confirmed already: this browser's own account says so.
        let twice = accounts.confirm_sign_up(&sent, &code).await.unwrap_err();
        assert!(matches!(twice, SignUpError::AlreadyConfirmed), "{twice:?}");
    }
}

#[tokio::test]
async fn a_taken_username_gets_the_answer_of_a_new_one() {
    let w = world().await;
    w.s.pool.user("bob").await;
    let accounts = w.sessions.accounts();
    let taken = code_sent(
        accounts
            .sign_up("bob", PASSWORD, &[("email", "bob@example.com")])
            .await
            .unwrap(),
    );
    let new = code_sent(
        accounts
            .sign_up("bea", PASSWORD, &[("email", "bob@example.com")])
            .await
            .unwrap(),
    );
    assert_eq!(taken.destination(), new.destination());
    assert_eq!(format!("{taken:?}"), format!("{new:?}"));
    // Its confirmation refuses every code as wrong, and a new code "goes out" as for any.
    let taken = carried(&w.sessions, &taken, false).await;
    let refused = accounts
        .confirm_sign_up(&taken, "123456")
        .await
        .unwrap_err();
    assert!(matches!(refused, SignUpError::WrongCode), "{refused:?}");
    accounts.resend_code(&taken).await.unwrap();
    // Revealing, on request.
    let w = world_with(false, |f| f, |b| b.reveal_account_existence(true)).await;
    w.s.pool.user("bob").await;
    let refused = w
        .sessions
        .accounts()
        .sign_up("bob", PASSWORD, &[])
        .await
        .unwrap_err();
    assert!(matches!(refused, SignUpError::UsernameTaken), "{refused:?}");
    assert_eq!(refused.status(), 409);
}

#[tokio::test]
async fn attributes_outside_the_allow_list_never_reach_cognito() {
    let w = world().await;
    let accounts = w.sessions.accounts();
    let refused = accounts
        .sign_up(
            "cleo",
            PASSWORD,
            &[("email", "cleo@example.com"), ("custom:role", "admin")],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(refused, SignUpError::Failed(Error::InvalidInput(_))),
        "{refused:?}"
    );
    assert!(refused.to_string().contains("custom:role"), "{refused}");
    assert_eq!(w.fake.answered("SignUp"), 0);
    // A password against the policy: Cognito's text, fit to show.
    let weak = accounts
        .sign_up("cleo", "weak", &[("email", "cleo@example.com")])
        .await
        .unwrap_err();
    match &weak {
        SignUpError::PasswordRejected(text) => {
            assert_eq!(
                text,
                "Password did not conform with policy: Password not long enough"
            )
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn codes_expire_are_attempt_limited_and_can_be_sent_again() {
    let w = world().await;
    let accounts = w.sessions.accounts();
    let sent = code_sent(
        accounts
            .sign_up("dan", PASSWORD, &[("email", "dan@example.com")])
            .await
            .unwrap(),
    );
    let code = w.fake.code_for("dan").unwrap();
    w.fake.expire_codes("dan");
    let expired = accounts.confirm_sign_up(&sent, &code).await.unwrap_err();
    assert!(matches!(expired, SignUpError::CodeExpired), "{expired:?}");
    let again = accounts.resend_code(&sent).await.unwrap();
    assert_eq!(again.destination(), Some("d***@e***"));
    assert!(again.set_cookie().is_none(), "the browser keeps its cookie");
    let fresh = w.fake.code_for("dan").unwrap();
    for _ in 0..5 {
        let wrong = accounts.confirm_sign_up(&sent, "999999").await.unwrap_err();
        assert!(matches!(wrong, SignUpError::WrongCode), "{wrong:?}");
    }
    let limited = accounts.confirm_sign_up(&sent, &fresh).await.unwrap_err();
    assert!(
        matches!(limited, SignUpError::TooManyAttempts),
        "{limited:?}"
    );
    assert_eq!(limited.status(), 429);
}

/// A sign-up whose step was lost (expired after 24 hours, the page closed) is picked up by
/// username: a new code, a fresh step, the account confirmed, then the password signs in. Any
/// username gets the same answer, so it tells nobody whether an account exists.
#[tokio::test]
async fn a_lost_sign_up_is_resumed_by_username_and_reveals_nothing() {
    let w = world().await;
    let accounts = w.sessions.accounts();
    code_sent(
        accounts
            .sign_up("ian", PASSWORD, &[("email", "ian@example.com")])
            .await
            .unwrap(),
    );
    let first = w.fake.code_for("ian").unwrap();
    let resumed = accounts.resume_sign_up(" ian ").await.unwrap();
    assert_eq!(
        resumed.destination(),
        None,
        "no destination for a typed name"
    );
    let resumed = carried(&w.sessions, &resumed, false).await;
    let code = w.fake.code_for("ian").unwrap();
    assert_ne!(code, first, "a new code was sent");
    match accounts.confirm_sign_up(&resumed, &code).await.unwrap() {
        Confirmed::SignInNeeded(NoAutoSignIn::NoSession) => {}
        other => panic!("{other:?}"),
    }
    let signed_in = w.sessions.sign_in("ian", PASSWORD).await.unwrap();
    assert!(matches!(signed_in, SignIn::Done(_)));
    // Confirmed now, or never signed up: the same answer, and no code goes anywhere.
    let sent_before = w.fake.outbox().len();
    for name in ["ian", "nobody-at-all"] {
        let step = accounts.resume_sign_up(name).await.unwrap();
        assert_eq!(step.destination(), None);
        assert!(step.set_cookie().is_some());
    }
    assert_eq!(w.fake.outbox().len(), sent_before);
    let empty = accounts.resume_sign_up("  ").await.unwrap_err();
    assert_eq!(empty.status(), 400);
    // With existence revealed, a confirmed account says so.
    let w = world_with(false, |f| f, |b| b.reveal_account_existence(true)).await;
    w.s.pool.user("jan").await;
    let confirmed = w
        .sessions
        .accounts()
        .resume_sign_up("jan")
        .await
        .unwrap_err();
    assert!(
        matches!(confirmed, SignUpError::AlreadyConfirmed),
        "{confirmed:?}"
    );
}

#[tokio::test]
async fn without_user_auth_the_confirmation_falls_back_to_the_sign_in_form() {
    let w = world_with(false, FakeAccounts::without_user_auth, |b| b).await;
    let accounts = w.sessions.accounts();
    let sent = code_sent(
        accounts
            .sign_up("eve", PASSWORD, &[("email", "eve@example.com")])
            .await
            .unwrap(),
    );
    let code = w.fake.code_for("eve").unwrap();
    match accounts.confirm_sign_up(&sent, &code).await.unwrap() {
        Confirmed::SignInNeeded(NoAutoSignIn::Refused(why)) => {
            assert!(why.to_string().contains("USER_AUTH"), "{why}")
        }
        other => panic!("{other:?}"),
    }
    // Confirmed: the password signs in.
    let signed_in = w
        .sessions
        .sign_in_with(SignInFlow::Password, "eve", PASSWORD)
        .await
        .unwrap();
    assert!(matches!(signed_in, SignIn::Done(_)));
}

#[tokio::test]
async fn a_pending_step_opens_only_in_its_browser_and_its_flow() {
    let w = world().await;
    w.s.pool.user("fay").await;
    let accounts = w.sessions.accounts();
    let sign_up = code_sent(
        accounts
            .sign_up("gus", PASSWORD, &[("email", "gus@example.com")])
            .await
            .unwrap(),
    );
    let reset = accounts.forgot_password("fay").await.unwrap();
    let sign_up_cookie = jar(sign_up.set_cookie().unwrap());
    let reset_cookie = jar(reset.set_cookie().unwrap());
    let refused = accounts
        .open_reset(&sign_up_cookie, sign_up.state())
        .await
        .unwrap_err();
    assert!(
        matches!(
            refused,
            PasswordError::StateRejected(StateError::OtherPurpose)
        ),
        "{refused:?}"
    );
    let refused = accounts
        .open_sign_up(&reset_cookie, sign_up.state())
        .await
        .unwrap_err();
    assert!(
        matches!(
            refused,
            SignUpError::StateRejected(StateError::OtherBrowser)
        ),
        "{refused:?}"
    );
    let refused = accounts
        .open_sign_up(&http::HeaderMap::new(), sign_up.state())
        .await
        .unwrap_err();
    assert!(
        matches!(refused, SignUpError::StateRejected(StateError::Missing)),
        "{refused:?}"
    );
    let mut edited = sign_up.state().to_owned();
    edited.push('A');
    let refused = accounts
        .open_sign_up(&sign_up_cookie, &edited)
        .await
        .unwrap_err();
    assert_eq!(refused.status(), 400);
    // A step handed straight to the other flow is refused too.
    let wrong_flow = accounts
        .reset_password(&sign_up, "123456", NEW_PASSWORD)
        .await
        .unwrap_err();
    assert!(
        matches!(wrong_flow, PasswordError::Failed(Error::InvalidInput(_))),
        "{wrong_flow:?}"
    );
}

#[tokio::test]
async fn a_reset_sets_the_password_and_an_unknown_user_looks_like_a_known_one() {
    let w = world().await;
    w.s.pool.user("hal").await;
    w.s.pool
        .set_attributes("hal", &[("email", "hal@example.com")])
        .await;
    let accounts = w.sessions.accounts();
    let capture = Capture::default();
    let guard = capture.install(tracing::Level::DEBUG);
    let known = accounts.forgot_password("hal").await.unwrap();
    let unknown = accounts.forgot_password("nobody-here").await.unwrap();
    drop(guard);
    assert_eq!(known.destination(), None);
    assert_eq!(format!("{known:?}"), format!("{unknown:?}"));
    assert_eq!(
        capture.text().matches("password_reset_started").count(),
        2,
        "{}",
        capture.text()
    );
    for name in ["hal", "nobody-here"] {
        assert!(
            !capture.text().contains(name),
            "a username was logged: {}",
            capture.text()
        );
    }
    let known = carried(&w.sessions, &known, true).await;
    let unknown = carried(&w.sessions, &unknown, true).await;
    let code = w.fake.code_for("hal").unwrap();
    let weak = accounts
        .reset_password(&known, &code, "weak")
        .await
        .unwrap_err();
    match &weak {
        PasswordError::PasswordRejected(text) => assert_eq!(
            text,
            "Password does not conform to policy: Password not long enough"
        ),
        other => panic!("{other:?}"),
    }
    let wrong = accounts
        .reset_password(&known, "000000", NEW_PASSWORD)
        .await
        .unwrap_err();
    let nobody = accounts
        .reset_password(&unknown, "000000", NEW_PASSWORD)
        .await
        .unwrap_err();
    assert!(matches!(wrong, PasswordError::WrongCode), "{wrong:?}");
    assert_eq!(format!("{wrong:?}"), format!("{nobody:?}"));
    accounts
        .reset_password(&known, &code, NEW_PASSWORD)
        .await
        .unwrap();
    let signed_in = w
        .sessions
        .sign_in_with(SignInFlow::Password, "hal", NEW_PASSWORD)
        .await
        .unwrap();
    assert!(matches!(signed_in, SignIn::Done(_)));
    // The code was single-use.
    let replay = accounts
        .reset_password(&known, &code, "Another-horse-3!")
        .await
        .unwrap_err();
    assert!(matches!(replay, PasswordError::WrongCode), "{replay:?}");
    // Revealing, on request.
    let w = world_with(false, FakeAccounts::legacy_existence_errors, |b| {
        b.reveal_account_existence(true)
    })
    .await;
    let unknown = w
        .sessions
        .accounts()
        .forgot_password("nobody-here")
        .await
        .unwrap_err();
    assert!(matches!(unknown, PasswordError::UnknownUser), "{unknown:?}");
}

#[tokio::test]
async fn a_signed_in_user_changes_the_password() {
    let w = world().await;
    let sub = w.s.pool.user("ivy").await;
    let session = match w
        .sessions
        .sign_in_with(SignInFlow::Password, "ivy", PASSWORD)
        .await
        .unwrap()
    {
        SignIn::Done(session) => session,
        other => panic!("{other:?}"),
    };
    let request = cookies(&session.refreshed().unwrap().access_token);
    let accounts = w.sessions.accounts();
    let wrong = accounts
        .change_password(&request, "Not-the-password-1!", NEW_PASSWORD)
        .await
        .unwrap_err();
    assert!(
        matches!(wrong, PasswordError::IncorrectPassword),
        "{wrong:?}"
    );
    let weak = accounts
        .change_password(&request, PASSWORD, "weak")
        .await
        .unwrap_err();
    assert!(
        weak.to_string().contains("Password not long enough"),
        "{weak}"
    );
    let changed = accounts
        .change_password(&request, PASSWORD, NEW_PASSWORD)
        .await
        .unwrap();
    assert_eq!(changed.sub(), sub);
    assert!(w
        .sessions
        .sign_in_with(SignInFlow::Password, "ivy", NEW_PASSWORD)
        .await
        .is_ok());
    // No session, no change.
    let anonymous = accounts
        .change_password(&http::HeaderMap::new(), NEW_PASSWORD, PASSWORD)
        .await
        .unwrap_err();
    assert_eq!(anonymous.status(), 401);
}

/// A world whose table keeps one session per device (`SORT_KEY`) or one per user.
async fn world_keyed(per_device: bool) -> World {
    let options = PoolOptions {
        sort_key: per_device.then(|| "session".to_owned()),
        ..Default::default()
    };
    world_in(
        options,
        |f| f,
        |b| if per_device { b.sort_key("session") } else { b },
    )
    .await
}

/// A browser of `username`: a real login at moto, its session started (its row stored).
async fn browser(w: &World, username: &str) -> AuthenticationResultType {
    let login = w.s.pool.login(username).await;
    w.sessions.start(&Tokens::from(&login)).await.unwrap();
    login
}

/// What `session()` answers for the cookie of `login`: its access token as issued, or (for
/// `expired`) a copy that expired an hour ago, which needs a refresh.
async fn visit(w: &World, login: &AuthenticationResultType, expired: bool) -> Result<(), Error> {
    let token = login.access_token().unwrap();
    let token = if expired {
        w.s.expired_copy(token)
    } else {
        token.to_owned()
    };
    w.sessions
        .session("token", &cookies(&token))
        .await
        .map(drop)
}

/// Is `login`'s refresh token still accepted by Cognito (moto)?
async fn refresh_works(w: &World, login: &AuthenticationResultType) -> bool {
    w.s.pool
        .cognito
        .initiate_auth()
        .client_id(&w.s.pool.client_id)
        .auth_flow(AuthFlowType::RefreshTokenAuth)
        .auth_parameters("REFRESH_TOKEN", login.refresh_token().unwrap())
        .send()
        .await
        .is_ok()
}

/// Two browsers of one user; the password is changed in the first. With `SORT_KEY` the other
/// browser's session ends (row deleted, refresh token revoked: refused at once and at its
/// refresh) while the changing one goes on, refresh included. Without a sort key the table
/// holds one session per user: the later login already replaced the earlier one's, which stays
/// refused, and the change keeps the one there is.
#[tokio::test]
async fn a_password_change_ends_the_other_browsers_sessions_and_keeps_this_one() {
    for per_device in [true, false] {
        let w = world_keyed(per_device).await;
        let sub = w.s.pool.user("liv").await;
        let other = browser(&w, "liv").await;
        let this = browser(&w, "liv").await;
        visit(&w, &this, false).await.unwrap();
        let before = visit(&w, &other, false).await;
        assert_eq!(before.is_ok(), per_device, "{before:?}");
        let request = cookies(this.access_token().unwrap());
        let changed = w
            .sessions
            .accounts()
            .change_password(&request, PASSWORD, NEW_PASSWORD)
            .await
            .unwrap();
        assert_eq!(changed.sub(), sub);
        // The other browser is refused, before and after its access token expires.
        for expired in [false, true] {
            let refused = visit(&w, &other, expired).await.unwrap_err();
            assert_eq!(refused.status(), 401, "{refused:?}");
        }
        if per_device {
            let refused = visit(&w, &other, false).await.unwrap_err();
            assert_eq!(refused.unauthorized(), Some(&Unauthorized::SessionEnded));
            assert_eq!(w.fake.revoked(), [other.refresh_token().unwrap()]);
        } else {
            assert!(w.fake.revoked().is_empty(), "{:?}", w.fake.revoked());
        }
        // This browser goes on: its cookie, and its refresh.
        visit(&w, &this, false).await.unwrap();
        visit(&w, &this, true).await.unwrap();
        let rows = w.sessions.list(&sub).await.unwrap();
        assert_eq!(rows.len(), 1, "per device {per_device}: {rows:?}");
        assert!(refresh_works(&w, &this).await);
    }
}

/// Two browsers of one user; the password is reset (in a third, signed out): every session
/// ends, rows deleted and every refresh token revoked at Cognito (a global sign-out), and the
/// user signs in anew with the new password.
#[tokio::test]
async fn a_password_reset_ends_every_session_and_the_user_signs_in_anew() {
    for per_device in [true, false] {
        let w = world_keyed(per_device).await;
        let sub = w.s.pool.user("max").await;
        w.s.pool
            .set_attributes("max", &[("email", "max@example.com")])
            .await;
        let first = browser(&w, "max").await;
        let second = browser(&w, "max").await;
        visit(&w, &second, false).await.unwrap();
        let accounts = w.sessions.accounts();
        let sent = accounts.forgot_password("max").await.unwrap();
        let sent = carried(&w.sessions, &sent, true).await;
        let code = w.fake.code_for("max").unwrap();
        accounts
            .reset_password(&sent, &code, NEW_PASSWORD)
            .await
            .unwrap();
        for login in [&first, &second] {
            for expired in [false, true] {
                let refused = visit(&w, login, expired).await.unwrap_err();
                assert_eq!(refused.status(), 401, "{refused:?}");
            }
            assert!(!refresh_works(&w, login).await, "a refresh token survived");
        }
        assert!(w.sessions.list(&sub).await.unwrap().is_empty());
        let signed_in = match w
            .sessions
            .sign_in_with(SignInFlow::Password, "max", NEW_PASSWORD)
            .await
            .unwrap()
        {
            SignIn::Done(session) => session,
            other => panic!("{other:?}"),
        };
        let token = &signed_in.refreshed().unwrap().access_token;
        w.sessions.session("token", &cookies(token)).await.unwrap();
    }
}

/// Without `USER_POOL_ID` a reset could not end the user's sessions: refused before Cognito
/// is asked, and the code still works once the configuration is fixed.
#[tokio::test]
async fn a_reset_without_the_pool_id_is_refused_before_any_change() {
    let w = world().await;
    w.s.pool.user("ned").await;
    w.s.pool
        .set_attributes("ned", &[("email", "ned@example.com")])
        .await;
    let sdk = testkit::sdk_config(&w.proxy.url).await;
    let no_pool = Sessions::builder()
        .table(&w.s.pool.table)
        .partition_key(&w.s.pool.partition_key)
        .client_id(&w.s.pool.client_id)
        .issuer(w.s.pool.issuer())
        .jwks_url(w.s.pool.jwks_url())
        .cognito_client(aws_sdk_cognitoidentityprovider::Client::new(&sdk))
        .dynamodb_client(aws_sdk_dynamodb::Client::new(&sdk))
        .build()
        .await
        .unwrap();
    let accounts = no_pool.accounts();
    let sent = accounts.forgot_password("ned").await.unwrap();
    let sent = carried(&no_pool, &sent, true).await;
    let code = w.fake.code_for("ned").unwrap();
    let refused = accounts
        .reset_password(&sent, &code, NEW_PASSWORD)
        .await
        .unwrap_err();
    assert!(
        matches!(refused, PasswordError::Failed(Error::Config { .. })),
        "{refused:?}"
    );
    assert!(refused.to_string().contains("USER_POOL_ID"), "{refused}");
    assert_eq!(w.fake.answered("ConfirmForgotPassword"), 0);
    w.sessions
        .accounts()
        .reset_password(&sent, &code, NEW_PASSWORD)
        .await
        .unwrap();
}

/// moto has `SignUp`, `ConfirmSignUp` (any code confirms), `ForgotPassword`,
/// `ConfirmForgotPassword` (a code not of its own format is accepted) and `ChangePassword`, but
/// no sign-in after sign-up (no `Session`): the flows against moto alone.
#[tokio::test]
async fn on_moto_alone_sign_up_reset_and_change_work_and_sign_in_falls_back() {
    let s = setup().await;
    let accounts = s.sessions.accounts();
    let sent = code_sent(
        accounts
            .sign_up("jo", PASSWORD, &[("email", "jo@example.com")])
            .await
            .unwrap(),
    );
    match accounts.confirm_sign_up(&sent, "123456").await.unwrap() {
        Confirmed::SignInNeeded(NoAutoSignIn::NoSession) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(s.calls.count("SignUp"), 1);
    assert_eq!(s.calls.count("ConfirmSignUp"), 1);
    // Taken: answered as new.
    let taken = accounts.sign_up("jo", PASSWORD, &[]).await.unwrap();
    assert!(matches!(taken, SignUp::CodeSent(_)));
    let reset = accounts.forgot_password("jo").await.unwrap();
    accounts
        .reset_password(&reset, "123456", NEW_PASSWORD)
        .await
        .unwrap();
    let session = match s
        .sessions
        .sign_in_with(SignInFlow::Password, "jo", NEW_PASSWORD)
        .await
        .unwrap()
    {
        SignIn::Done(session) => session,
        other => panic!("{other:?}"),
    };
    let request = cookies(&session.refreshed().unwrap().access_token);
    let weak = accounts
        .change_password(&request, NEW_PASSWORD, "weak")
        .await
        .unwrap_err();
    assert!(
        matches!(weak, PasswordError::PasswordRejected(_)),
        "{weak:?}"
    );
    accounts
        .change_password(&request, NEW_PASSWORD, PASSWORD)
        .await
        .unwrap();
    assert!(s
        .sessions
        .sign_in_with(SignInFlow::Password, "jo", PASSWORD)
        .await
        .is_ok());
}

#[tokio::test]
async fn an_outage_is_a_503_that_changes_nothing() {
    let s = setup().await;
    let sessions = sessions_via(&s, &crate::dead_endpoint(), |b| b).await;
    let accounts = sessions.accounts();
    let down = accounts.sign_up("kim", PASSWORD, &[]).await.unwrap_err();
    assert_eq!(down.status(), 503, "{down:?}");
    let down = accounts.forgot_password("kim").await.unwrap_err();
    assert_eq!(down.status(), 503, "{down:?}");
}
