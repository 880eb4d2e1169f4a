//! Choice-based sign-in (`Sessions::sign_in_choice`, Cognito's `USER_AUTH`): a code by email
//! or SMS, a passkey alone, or the password given in answer to the choice. Against testkit's
//! `FakeAccounts` (codes delivered to its outbox, single-use and attempt-limited; passkeys
//! verified by webauthn-rs) in front of moto, and against moto alone, which has no `USER_AUTH`.

use std::sync::Arc;

use aws_sdk_cognitoidentityprovider::Client;
use cognito_session::{
    Answer, Challenge, ChallengeKind, Error, FirstFactor, Sessions, SessionsBuilder, SignIn,
    SignInError,
};
use testkit::{FakeAccounts, PoolOptions, Proxy, SoftAuthenticator, PASSWORD};

use crate::sign_in::carry;
use crate::{cookies, sessions_via, setup, setup_with, Setup};

const ORIGIN: &str = "http://localhost:3000";

/// A pool on moto, the account fake (passkeys for `localhost`) in front of it, and `Sessions`
/// through the fake.
struct World {
    s: Setup,
    fake: Arc<FakeAccounts>,
    sessions: Sessions,
    proxy: Proxy,
}

async fn world_with(
    secret: bool,
    fake: impl FnOnce(FakeAccounts) -> FakeAccounts,
    pool_id: bool,
) -> World {
    let options = PoolOptions {
        secret,
        ..Default::default()
    };
    let s = setup_with(options, |b| b).await;
    let accounts = Arc::new(fake(
        FakeAccounts::new(&s.pool).passkeys("localhost", ORIGIN),
    ));
    let proxy = Proxy::with_fake(&s.pool.moto.url, accounts.clone()).await;
    let sdk = testkit::sdk_config(&proxy.url).await;
    let with_secret = |b: SessionsBuilder| match &s.pool.client_secret {
        Some(secret) => b.client_secret(secret),
        None => b,
    };
    let sessions = if pool_id {
        sessions_via(&s, &proxy.url, with_secret).await
    } else {
        // No USER_POOL_ID: the issuer is given instead, and SRP cannot be used.
        with_secret(Sessions::builder())
            .table(&s.pool.table)
            .partition_key(&s.pool.partition_key)
            .client_id(&s.pool.client_id)
            .issuer(s.pool.issuer())
            .jwks_url(s.pool.jwks_url())
            .cognito_client(Client::new(&sdk))
            .dynamodb_client(aws_sdk_dynamodb::Client::new(&sdk))
            .build()
            .await
            .unwrap()
    };
    World {
        s,
        fake: accounts,
        sessions,
        proxy,
    }
}

async fn world() -> World {
    world_with(false, |f| f, true).await
}

fn challenge(step: SignIn) -> Challenge {
    match step {
        SignIn::Challenge(challenge) => challenge,
        SignIn::Done(_) => panic!("expected a challenge, got a session"),
    }
}

/// The session's access token is one the library accepts.
async fn signed_in(w: &World, step: SignIn, username: &str) {
    let SignIn::Done(session) = step else {
        panic!("expected a session: {step:?}")
    };
    assert_eq!(session.username(), username);
    let token = &session
        .refreshed()
        .expect("a new login's tokens")
        .access_token;
    let again = w.sessions.current(&cookies(token)).await.unwrap();
    assert_eq!(again.sub(), session.sub());
}

#[tokio::test]
async fn an_email_code_signs_in_without_a_password() {
    for secret in [false, true] {
        let w = world_with(secret, |f| f, true).await;
        w.s.pool.user("bea").await;
        w.s.pool
            .set_attributes("bea", &[("email", "bea@example.com")])
            .await;
        // No preference: Cognito offers what this user can use (no phone, no passkey).
        let choice = challenge(w.sessions.sign_in_choice("bea", None).await.unwrap());
        let ChallengeKind::SelectFirstFactor { options } = choice.kind() else {
            panic!("{choice:?}")
        };
        assert!(options.contains(&FirstFactor::EmailOtp), "{options:?}");
        assert!(!options.contains(&FirstFactor::SmsOtp), "{options:?}");
        assert!(!options.contains(&FirstFactor::Passkey), "{options:?}");
        // The choice travels to the next request like any challenge.
        let choice = carry(&w.sessions, &choice).await;
        let sent = challenge(
            w.sessions
                .respond(&choice, &Answer::Factor(FirstFactor::EmailOtp))
                .await
                .unwrap(),
        );
        assert_eq!(
            sent.kind(),
            &ChallengeKind::EmailOtp {
                destination: Some("b***@e***".into())
            }
        );
        let sent = carry(&w.sessions, &sent).await;
        let wrong = w
            .sessions
            .respond(&sent, &Answer::Code("000000x".into()))
            .await
            .unwrap_err();
        assert!(matches!(wrong, SignInError::WrongCode), "{wrong:?}");
        assert_eq!(wrong.status(), 401);
        // The same state answers again, with the delivered code (spaces around it forgiven).
        let code = w.fake.code_for("bea").unwrap();
        let done = w
            .sessions
            .respond(&sent, &Answer::Code(format!(" {code} ")))
            .await
            .unwrap();
        signed_in(&w, done, "bea").await;
        // Spent: Cognito's session for that code is gone.
        let replay = w
            .sessions
            .respond(&sent, &Answer::Code(code))
            .await
            .unwrap_err();
        assert!(
            matches!(replay, SignInError::ChallengeExpired),
            "{replay:?}"
        );

        // With the preference, Cognito sends the code at once.
        let sent = challenge(
            w.sessions
                .sign_in_choice("bea", Some(FirstFactor::EmailOtp))
                .await
                .unwrap(),
        );
        assert!(matches!(sent.kind(), ChallengeKind::EmailOtp { .. }));
        let code = w.fake.code_for("bea").unwrap();
        let done = w
            .sessions
            .respond(&sent, &Answer::Code(code))
            .await
            .unwrap();
        signed_in(&w, done, "bea").await;
    }
}

#[tokio::test]
async fn an_sms_code_signs_in_and_three_wrong_codes_end_the_attempt() {
    let w = world().await;
    w.s.pool.user("cy").await;
    w.s.pool
        .set_attributes("cy", &[("phone_number", "+15555551234")])
        .await;
    let sent = challenge(
        w.sessions
            .sign_in_choice("cy", Some(FirstFactor::SmsOtp))
            .await
            .unwrap(),
    );
    assert_eq!(
        sent.kind(),
        &ChallengeKind::SmsOtp {
            destination: Some("+*******1234".into())
        }
    );
    for _ in 0..2 {
        let wrong = w
            .sessions
            .respond(&sent, &Answer::Code("111111x".into()))
            .await
            .unwrap_err();
        assert!(matches!(wrong, SignInError::WrongCode), "{wrong:?}");
    }
    let third = w
        .sessions
        .respond(&sent, &Answer::Code("111111x".into()))
        .await
        .unwrap_err();
    assert!(matches!(third, SignInError::ChallengeExpired), "{third:?}");
    let code = w.fake.code_for("cy").unwrap();
    let dead = w
        .sessions
        .respond(&sent, &Answer::Code(code))
        .await
        .unwrap_err();
    assert!(matches!(dead, SignInError::ChallengeExpired), "{dead:?}");
    let sent = challenge(
        w.sessions
            .sign_in_choice("cy", Some(FirstFactor::SmsOtp))
            .await
            .unwrap(),
    );
    let code = w.fake.code_for("cy").unwrap();
    let done = w
        .sessions
        .respond(&sent, &Answer::Code(code))
        .await
        .unwrap();
    signed_in(&w, done, "cy").await;
}

#[tokio::test]
async fn the_password_answers_the_choice_by_srp_or_as_is() {
    // With USER_POOL_ID, PASSWORD_SRP (the password never leaves: Cognito's PASSWORD_VERIFIER
    // follows); without, PASSWORD.
    for (secret, pool_id) in [(false, true), (true, true), (false, false), (true, false)] {
        let w = world_with(secret, |f| f, pool_id).await;
        w.s.pool.user("dee").await;
        if !pool_id {
            // (moto checks no SRP password claim, so a wrong password is refused on this path only.)
            let choice = challenge(w.sessions.sign_in_choice("dee", None).await.unwrap());
            let wrong = w
                .sessions
                .respond(&choice, &Answer::Password("Wrong-horse-1!".into()))
                .await
                .unwrap_err();
            assert!(
                matches!(wrong, SignInError::IncorrectCredentials),
                "{wrong:?}"
            );
        }
        let choice = challenge(w.sessions.sign_in_choice("dee", None).await.unwrap());
        let before = w.proxy.count("RespondToAuthChallenge");
        let done = w
            .sessions
            .respond(&choice, &Answer::Password(PASSWORD.into()))
            .await
            .unwrap();
        signed_in(&w, done, "dee").await;
        let answers = w.proxy.count("RespondToAuthChallenge") - before;
        assert_eq!(answers, if pool_id { 2 } else { 1 }, "secret {secret}");
        let empty = w
            .sessions
            .respond(&choice, &Answer::Password(String::new()))
            .await
            .unwrap_err();
        assert!(matches!(empty, SignInError::IncorrectCredentials));
    }
}

/// Registers a passkey for `username` through the library's passkey management, as the
/// user's browser would, returning the authenticator that holds it.
async fn passkey(w: &World, username: &str) -> SoftAuthenticator {
    let SignIn::Done(session) = w.sessions.sign_in(username, PASSWORD).await.unwrap() else {
        panic!("a password sign-in without MFA")
    };
    let request = cookies(&session.refreshed().unwrap().access_token);
    let accounts = w.sessions.accounts();
    let options = accounts.start_passkey_registration(&request).await.unwrap();
    let mut authenticator = SoftAuthenticator::new(ORIGIN);
    let created = authenticator.register(&options).await.unwrap();
    accounts
        .complete_passkey_registration(&request, &created)
        .await
        .unwrap();
    authenticator
}

/// The passkey challenge's request options.
fn request_options(challenge: &Challenge) -> String {
    match challenge.kind() {
        ChallengeKind::Passkey { request_options } => request_options.clone(),
        other => panic!("expected a passkey challenge: {other:?}"),
    }
}

#[tokio::test]
async fn a_passkey_alone_signs_in_and_one_used_from_another_origin_is_refused() {
    let w = world().await;
    w.s.pool.user("eve").await;
    // Before any passkey, the choice does not offer one, and preferring it falls back to the
    // choice.
    let before = challenge(
        w.sessions
            .sign_in_choice("eve", Some(FirstFactor::Passkey))
            .await
            .unwrap(),
    );
    assert!(
        matches!(before.kind(), ChallengeKind::SelectFirstFactor { options } if !options.contains(&FirstFactor::Passkey)),
        "{before:?}"
    );
    let not_offered = w
        .sessions
        .respond(&before, &Answer::Factor(FirstFactor::Passkey))
        .await
        .unwrap_err();
    assert_eq!(not_offered.status(), 400, "{not_offered:?}");

    let authenticator = passkey(&w, "eve").await;
    // A phishing page at another origin gets a signature Cognito refuses.
    let mut phished = authenticator.at("http://localhost:4000");
    let asked = challenge(
        w.sessions
            .sign_in_choice("eve", Some(FirstFactor::Passkey))
            .await
            .unwrap(),
    );
    let foreign = phished.sign_in(&request_options(&asked)).await.unwrap();
    let refused = w
        .sessions
        .respond(&asked, &Answer::Passkey(foreign))
        .await
        .unwrap_err();
    assert!(
        matches!(refused, SignInError::IncorrectCredentials),
        "{refused:?}"
    );
    // Not a credential at all: refused before any call.
    let asked = carry(
        &w.sessions,
        &challenge(
            w.sessions
                .sign_in_choice("eve", Some(FirstFactor::Passkey))
                .await
                .unwrap(),
        ),
    )
    .await;
    let calls = w.fake.answered("RespondToAuthChallenge");
    for junk in ["", "null", "[1,2]", "{"] {
        let junk = w
            .sessions
            .respond(&asked, &Answer::Passkey(junk.into()))
            .await
            .unwrap_err();
        assert!(
            matches!(junk, SignInError::Failed(Error::InvalidInput(_))),
            "{junk:?}"
        );
    }
    assert_eq!(w.fake.answered("RespondToAuthChallenge"), calls);
    // The page's own origin: signed in with the passkey alone (the options came through the
    // sealed state, as a page would have them).
    let mut authenticator = phished.at(ORIGIN);
    let credential = authenticator
        .sign_in(&request_options(&asked))
        .await
        .unwrap();
    let done = w
        .sessions
        .respond(&asked, &Answer::Passkey(credential))
        .await
        .unwrap();
    signed_in(&w, done, "eve").await;
}

#[tokio::test]
async fn answers_that_do_not_fit_and_unknown_users_reveal_nothing() {
    let w = world().await;
    w.s.pool.user("fay").await;
    for preferred in [FirstFactor::Password, FirstFactor::PasswordSrp] {
        let error = w
            .sessions
            .sign_in_choice("fay", Some(preferred))
            .await
            .unwrap_err();
        assert!(
            matches!(error, SignInError::Failed(Error::InvalidInput(_))),
            "{error:?}"
        );
    }
    let choice = challenge(w.sessions.sign_in_choice("fay", None).await.unwrap());
    let calls = w.fake.answered("RespondToAuthChallenge");
    for answer in [
        Answer::Factor(FirstFactor::Password),
        Answer::Factor(FirstFactor::SmsOtp),
        Answer::Code("123456".into()),
        Answer::Passkey("{}".into()),
    ] {
        let error = w.sessions.respond(&choice, &answer).await.unwrap_err();
        assert_eq!(error.status(), 400, "{answer:?}: {error:?}");
    }
    assert_eq!(w.fake.answered("RespondToAuthChallenge"), calls);
    let empty = w.sessions.sign_in_choice("", None).await.unwrap_err();
    assert!(matches!(empty, SignInError::IncorrectCredentials));

    // An unknown user is asked a code like a known one, and no code answers it.
    let nobody = challenge(
        w.sessions
            .sign_in_choice("nobody", Some(FirstFactor::EmailOtp))
            .await
            .unwrap(),
    );
    assert!(matches!(nobody.kind(), ChallengeKind::EmailOtp { .. }));
    let wrong = w
        .sessions
        .respond(&nobody, &Answer::Code("123456".into()))
        .await
        .unwrap_err();
    assert!(matches!(wrong, SignInError::WrongCode), "{wrong:?}");
}

#[tokio::test]
async fn an_app_client_without_user_auth_is_a_configuration_error_naming_it() {
    let w = world_with(false, FakeAccounts::without_user_auth, true).await;
    w.s.pool.user("gus").await;
    let error = w.sessions.sign_in_choice("gus", None).await.unwrap_err();
    assert_eq!(error.status(), 500, "{error:?}");
    assert!(error.to_string().contains("ALLOW_USER_AUTH"), "{error}");
}

/// moto has no `USER_AUTH`: whatever it answers comes out as a typed error, never a panic or a
/// session; the outage of Cognito is a 503.
#[tokio::test]
async fn on_moto_alone_and_in_an_outage_the_errors_are_typed() {
    let s = setup().await;
    s.pool.user("hal").await;
    let error = s.sessions.sign_in_choice("hal", None).await.unwrap_err();
    assert!(
        matches!(error.status(), 400 | 401 | 500),
        "{error:?}: {error}"
    );
    let down = sessions_via(&s, &crate::dead_endpoint(), |b| b).await;
    let error = down.sign_in_choice("hal", None).await.unwrap_err();
    assert_eq!(error.status(), 503, "{error:?}");
}

/// MFA after a password given to the choice comes as after `sign_in`: the authenticator app's
/// code, then the session.
#[tokio::test]
async fn mfa_follows_the_password_given_to_the_choice() {
    for pool_id in [true, false] {
        let w = world_with(false, |f| f, pool_id).await;
        let (sub, secret) = crate::sign_in::totp_user(&w.s, "ivy").await;
        let choice = challenge(w.sessions.sign_in_choice("ivy", None).await.unwrap());
        let asked = challenge(
            w.sessions
                .respond(&choice, &Answer::Password(PASSWORD.into()))
                .await
                .unwrap(),
        );
        assert_eq!(asked.kind(), &ChallengeKind::SoftwareTokenMfa);
        let asked = carry(&w.sessions, &asked).await;
        let (right, wrong) = crate::sign_in::codes(&secret).await;
        let refused = w
            .sessions
            .respond(&asked, &Answer::Code(wrong))
            .await
            .unwrap_err();
        assert!(matches!(refused, SignInError::WrongCode), "{refused:?}");
        assert!(w.s.pool.row(&sub).await.is_none());
        let done = w
            .sessions
            .respond(&asked, &Answer::Code(right))
            .await
            .unwrap();
        signed_in(&w, done, "ivy").await;
    }
}
