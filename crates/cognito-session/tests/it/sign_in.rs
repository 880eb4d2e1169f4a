//! Password sign-in against moto: `Sessions::sign_in` (USER_SRP_AUTH), `sign_in_with`
//! (USER_PASSWORD_AUTH), the challenges (`respond`) and the typed refusals.
//!
//! moto answers USER_SRP_AUTH with a random SALT and SRP_B and does not check the password
//! claim's signature (so a wrong password still "signs in" by SRP on moto): these tests prove
//! the flow (calls, parameters, SECRET_HASH, challenges, the session row); the SRP math itself is
//! proven by the test vectors in `src/login/srp.rs`.

use crate::capture::Capture;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::hmac;
use aws_sdk_cognitoidentityprovider::types::SoftwareTokenMfaSettingsType;
use cognito_session::{
    Answer, Challenge, ChallengeKind, Error, Mfa, Session, SignIn, SignInError, SignInFlow,
};
use testkit::{Fake, Fault, PoolOptions, Proxy, Rule, PASSWORD};
use tracing::Level;

use crate::{cookies, sessions_via, setup, setup_with, Setup};

/// The session of a finished sign-in (panics on a challenge).
fn done(step: SignIn) -> Session {
    match step {
        SignIn::Done(session) => session,
        SignIn::Challenge(challenge) => panic!("unexpected challenge {challenge:?}"),
    }
}

/// The challenge of a sign-in step (panics when it is done).
fn challenge(step: SignIn) -> Challenge {
    match step {
        SignIn::Challenge(challenge) => challenge,
        SignIn::Done(session) => panic!("signed in without a challenge: {}", session.sub()),
    }
}

/// The browser's `Cookie` header after it received `set_cookie` (its `name=value`).
pub fn jar(set_cookie: &str) -> http::HeaderMap {
    let mut headers = http::HeaderMap::new();
    let pair = set_cookie.split(';').next().unwrap_or_default();
    headers.insert("cookie", pair.parse().unwrap());
    headers
}

/// `challenge` carried to the next request as a web form does: its state from the page, its
/// cookie from the browser.
pub async fn carry(sessions: &cognito_session::Sessions, challenge: &Challenge) -> Challenge {
    let cookie = challenge
        .set_cookie()
        .expect("an issued challenge sets its cookie");
    sessions
        .open_challenge(&jar(cookie), challenge.state())
        .await
        .expect("the challenge opens in the browser it was issued to")
}

/// The signed-in session is a working one: its row is stored and its cookie's token verifies.
async fn assert_started(s: &Setup, session: &Session) {
    assert!(s.pool.row(session.sub()).await.is_some(), "no session row");
    let set_cookie = session.set_cookie("token").expect("a login cookie");
    assert!(set_cookie.starts_with("token=") && set_cookie.contains("HttpOnly"));
    let access = &session
        .refreshed()
        .expect("the login's tokens")
        .access_token;
    let again = s.sessions.session("token", &cookies(access)).await.unwrap();
    assert_eq!(again.sub(), session.sub());
}

#[tokio::test]
async fn srp_sign_in_starts_a_session() {
    let s = setup().await;
    let sub = s.pool.user("alice").await;
    s.calls.reset();
    let session = done(s.sessions.sign_in("alice", PASSWORD).await.unwrap());
    assert_eq!(session.sub(), sub);
    // InitiateAuth with SRP_A, then RespondToAuthChallenge with the password claim.
    assert_eq!(s.calls.count("InitiateAuth"), 1);
    assert_eq!(s.calls.count("RespondToAuthChallenge"), 1);
    assert_started(&s, &session).await;
}

#[tokio::test]
async fn plain_and_srp_sign_in_with_and_without_a_client_secret() {
    for secret in [false, true] {
        let s = setup_with(
            PoolOptions {
                secret,
                ..Default::default()
            },
            |b| b,
        )
        .await;
        s.pool.user("bob").await;
        s.calls.reset();
        let plain = s
            .sessions
            .sign_in_with(SignInFlow::Password, "bob", PASSWORD)
            .await
            .unwrap();
        let session = done(plain);
        assert_eq!(
            s.calls.count("RespondToAuthChallenge"),
            0,
            "secret {secret}"
        );
        assert_started(&s, &session).await;
        // moto checks SRP's SECRET_HASH on InitiateAuth.
        let session = done(s.sessions.sign_in("bob", PASSWORD).await.unwrap());
        assert_started(&s, &session).await;
    }
}

#[tokio::test]
async fn a_missing_client_secret_is_a_configuration_error() {
    let s = setup_with(
        PoolOptions {
            secret: true,
            ..Default::default()
        },
        |b| b,
    )
    .await;
    let sub = s.pool.user("dave").await;
    // The same pool and app client, without CLIENT_SECRET, and with a wrong one. (moto checks
    // SECRET_HASH for USER_SRP_AUTH, not for USER_PASSWORD_AUTH.)
    let without = sessions_via(&s, &s.pool.moto.url, |b| b).await;
    let wrong = sessions_via(&s, &s.pool.moto.url, |b| b.client_secret("not-the-secret")).await;
    for sessions in [without, wrong] {
        let error = sessions.sign_in("dave", PASSWORD).await.unwrap_err();
        assert!(
            matches!(error, SignInError::Failed(Error::Config { .. })),
            "{error:?}"
        );
        assert_eq!(error.status(), 500, "{error}");
        assert!(error.to_string().contains("CLIENT_SECRET"), "{error}");
    }
    assert!(s.pool.row(&sub).await.is_none());
}

#[tokio::test]
async fn a_temporary_password_must_be_replaced() {
    let s = setup().await;
    s.pool
        .user_with_temporary_password("erin", "Temp-horse-1!")
        .await;
    let step = s.sessions.sign_in("erin", "Temp-horse-1!").await.unwrap();
    let first = challenge(step);
    assert!(
        matches!(first.kind(), ChallengeKind::NewPasswordRequired { .. }),
        "{first:?}"
    );
    // Carried across requests as the app would.
    let carried = carry(&s.sessions, &first).await;
    let weak = Answer::NewPassword {
        password: "weak".into(),
        attributes: vec![],
    };
    let refused = s.sessions.respond(&carried, &weak).await.unwrap_err();
    assert!(
        matches!(refused, SignInError::PasswordRejected(_)),
        "{refused:?}"
    );
    assert_eq!(refused.status(), 400);
    // A code is no answer to this challenge.
    let wrong_kind = s
        .sessions
        .respond(&carried, &Answer::Code("123456".into()))
        .await
        .unwrap_err();
    assert_eq!(wrong_kind.status(), 400, "{wrong_kind}");
    let chosen = Answer::NewPassword {
        password: "New-horse-10!".into(),
        attributes: vec![],
    };
    let session = done(s.sessions.respond(&carried, &chosen).await.unwrap());
    assert_started(&s, &session).await;
    // The new password is the password now (USER_PASSWORD_AUTH checks it on moto).
    let again = s
        .sessions
        .sign_in_with(SignInFlow::Password, "erin", "New-horse-10!")
        .await
        .unwrap();
    done(again);
    let old = s
        .sessions
        .sign_in_with(SignInFlow::Password, "erin", "Temp-horse-1!")
        .await
        .unwrap_err();
    assert!(matches!(old, SignInError::IncorrectCredentials), "{old:?}");
}

/// Base32 (RFC 4648) without padding checks, for moto's TOTP secret.
fn base32(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut bits, mut count, mut out) = (0u64, 0, Vec::new());
    for c in text.trim_end_matches('=').bytes() {
        let value = ALPHABET
            .iter()
            .position(|&a| a == c.to_ascii_uppercase())
            .expect("a base32 secret") as u64;
        bits = (bits << 5) | value;
        count += 5;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    out
}

/// The RFC 6238 code (HMAC-SHA1, 30 s, 6 digits) of `secret` at `at` seconds.
fn totp(secret: &str, at: u64) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &base32(secret));
    let tag = hmac::sign(&key, &(at / 30).to_be_bytes());
    let h = tag.as_ref();
    let offset = usize::from(h[19] & 0x0f);
    let value = u32::from_be_bytes([
        h[offset] & 0x7f,
        h[offset + 1],
        h[offset + 2],
        h[offset + 3],
    ]);
    format!("{:06}", value % 1_000_000)
}

/// A code of `secret` that stays current for a few seconds (moto accepts only the current one),
/// and a wrong one.
pub async fn codes(secret: &str) -> (String, String) {
    let now = || {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
    };
    if now() % 30 > 24 {
        tokio::time::sleep(Duration::from_secs(31 - now() % 30)).await;
    }
    let right = totp(secret, now());
    let first = right.as_bytes()[0] - b'0';
    let wrong = format!("{}{}", (first + 1) % 10, &right[1..]);
    (right, wrong)
}

/// A user `username` with an authenticator app set up and preferred: its `sub` and TOTP secret.
pub async fn totp_user(s: &Setup, username: &str) -> (String, String) {
    let sub = s.pool.user(username).await;
    let login = s.pool.login(username).await;
    let access = login.access_token().unwrap();
    let cognito = &s.pool.cognito;
    let secret = cognito
        .associate_software_token()
        .access_token(access)
        .send()
        .await
        .unwrap()
        .secret_code
        .unwrap();
    let (code, _) = codes(&secret).await;
    cognito
        .verify_software_token()
        .access_token(access)
        .user_code(code)
        .send()
        .await
        .unwrap();
    cognito
        .set_user_mfa_preference()
        .access_token(access)
        .software_token_mfa_settings(
            SoftwareTokenMfaSettingsType::builder()
                .enabled(true)
                .preferred_mfa(true)
                .build(),
        )
        .send()
        .await
        .unwrap();
    (sub, secret)
}

#[test]
fn the_totp_helper_matches_rfc_6238() {
    // RFC 6238 appendix B, SHA-1, T = 59: 94287082 (8 digits), so 287082 with 6.
    assert_eq!(totp("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", 59), "287082");
}

#[tokio::test]
async fn a_totp_code_completes_the_sign_in_and_a_wrong_one_is_refused() {
    // With a client secret: the challenge responses carry SECRET_HASH (moto checks it).
    let s = setup_with(
        PoolOptions {
            secret: true,
            ..Default::default()
        },
        |b| b,
    )
    .await;
    let (sub, secret) = totp_user(&s, "frank").await;

    for flow in [SignInFlow::Srp, SignInFlow::Password] {
        let step = s
            .sessions
            .sign_in_with(flow, "frank", PASSWORD)
            .await
            .unwrap();
        let asked = challenge(step);
        assert_eq!(asked.kind(), &ChallengeKind::SoftwareTokenMfa, "{flow:?}");
        let (right, wrong) = codes(&secret).await;
        let refused = s
            .sessions
            .respond(&asked, &Answer::Code(wrong))
            .await
            .unwrap_err();
        assert!(matches!(refused, SignInError::WrongCode), "{refused:?}");
        assert_eq!(refused.status(), 401);
        assert!(
            s.pool.row(&sub).await.is_none(),
            "a wrong code started a session"
        );
        // The same challenge, answered right this time.
        let session = done(
            s.sessions
                .respond(&asked, &Answer::Code(right))
                .await
                .unwrap(),
        );
        assert_started(&s, &session).await;
        s.sessions.end_session(&sub, None).await.unwrap();
    }
}

/// Answers the PASSWORD_VERIFIER step with Cognito's MFA_SETUP challenge (moto sends
/// MFAS_CAN_SETUP as a JSON list, which the SDK cannot read; Cognito sends a JSON-array string),
/// with moto's own session for the sign-in, so everything after it runs on moto.
pub struct MfaSetupRequired;

impl Fake for MfaSetupRequired {
    fn answer(&self, operation: &str, body: &[u8]) -> Option<(u16, String)> {
        if operation != "RespondToAuthChallenge" {
            return None;
        }
        let request: serde_json::Value = serde_json::from_slice(body).ok()?;
        if request["ChallengeName"] != "PASSWORD_VERIFIER" {
            return None;
        }
        // moto keys an SRP sign-in's session by its SECRET_BLOCK.
        let session = request["ChallengeResponses"]["PASSWORD_CLAIM_SECRET_BLOCK"].as_str()?;
        let answer = serde_json::json!({
            "ChallengeName": "MFA_SETUP",
            "ChallengeParameters": { "MFAS_CAN_SETUP": "[\"SOFTWARE_TOKEN_MFA\"]" },
            "Session": session,
        });
        Some((200, answer.to_string()))
    }
}

#[tokio::test]
async fn an_authenticator_app_is_set_up_during_sign_in() {
    let s = setup().await;
    let sub = s.pool.user("grace").await;
    let proxy = Proxy::with_fake(&s.pool.moto.url, Arc::new(MfaSetupRequired)).await;
    let sessions = sessions_via(&s, &proxy.url, |b| b).await;
    let setup_step = challenge(sessions.sign_in("grace", PASSWORD).await.unwrap());
    assert_eq!(
        setup_step.kind(),
        &ChallengeKind::MfaSetup {
            options: vec![Mfa::Totp]
        }
    );
    let app = challenge(
        sessions
            .respond(&setup_step, &Answer::Choose(Mfa::Totp))
            .await
            .unwrap(),
    );
    assert_eq!(app.kind(), &ChallengeKind::TotpSetup);
    assert_eq!(proxy.count("AssociateSoftwareToken"), 1);
    let secret = app
        .totp_secret()
        .expect("the secret for the app")
        .to_owned();
    assert!(app.totp_uri("Example").unwrap().contains(&secret));
    // Carried across requests, as a web form would.
    let app = carry(&sessions, &app).await;
    let (right, wrong) = codes(&secret).await;
    let refused = sessions
        .respond(&app, &Answer::Code(wrong))
        .await
        .unwrap_err();
    assert!(matches!(refused, SignInError::WrongCode), "{refused:?}");
    assert!(s.pool.row(&sub).await.is_none());
    let session = done(sessions.respond(&app, &Answer::Code(right)).await.unwrap());
    assert_eq!(session.sub(), sub);
    assert_eq!(proxy.count("VerifySoftwareToken"), 2);
    assert!(s.pool.row(&sub).await.is_some());
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_user_get_the_same_answer() {
    let capture = Capture::default();
    let _guard = capture.install(Level::TRACE);
    let s = setup().await;
    let sub = s.pool.user("heidi").await;
    let password = SignInFlow::Password;
    let wrong = s
        .sessions
        .sign_in_with(password, "heidi", "Wrong-horse-9!")
        .await
        .unwrap_err();
    let unknown = s
        .sessions
        .sign_in_with(password, "nobody-here", PASSWORD)
        .await
        .unwrap_err();
    // By SRP, moto refuses an unknown user at InitiateAuth (it checks no password claim).
    let unknown_srp = s
        .sessions
        .sign_in("nobody-here", PASSWORD)
        .await
        .unwrap_err();
    for error in [&wrong, &unknown, &unknown_srp] {
        assert!(
            matches!(error, SignInError::IncorrectCredentials),
            "{error:?}"
        );
        assert_eq!(error.to_string(), wrong.to_string());
        assert_eq!(format!("{error:?}"), format!("{wrong:?}"));
        assert_eq!(error.status(), 401);
    }
    assert!(s.pool.row(&sub).await.is_none());
    let logs = capture.text();
    assert_eq!(logs.matches("sign-in refused").count(), 3, "{logs}");
    for secret in ["heidi", "nobody-here", "Wrong-horse-9!", PASSWORD] {
        assert!(!logs.contains(secret), "{secret} in the logs: {logs}");
    }
}

#[tokio::test]
async fn an_unconfirmed_user_is_asked_to_confirm() {
    let s = setup().await;
    s.pool
        .cognito
        .sign_up()
        .client_id(&s.pool.client_id)
        .username("ivan")
        .password(PASSWORD)
        .send()
        .await
        .unwrap();
    for flow in [SignInFlow::Srp, SignInFlow::Password] {
        let error = s
            .sessions
            .sign_in_with(flow, "ivan", PASSWORD)
            .await
            .unwrap_err();
        assert!(
            matches!(error, SignInError::UserNotConfirmed),
            "{flow:?}: {error:?}"
        );
        assert_eq!(error.status(), 403);
        assert!(error.to_string().contains("confirm"), "{error}");
    }
}

#[tokio::test]
async fn a_transient_failure_starts_no_session() {
    let s = setup().await;
    let sub = s.pool.user("judy").await;
    let proxy = Proxy::start(&s.pool.moto.url).await;
    let sessions = sessions_via(&s, &proxy.url, |b| b).await;
    let faults = [
        ("InitiateAuth", Fault::Reset),
        ("RespondToAuthChallenge", Fault::InternalError),
        ("RespondToAuthChallenge", Fault::Status(503)),
        ("PutItem", Fault::Status(503)),
    ];
    for (operation, fault) in faults {
        proxy.heal();
        proxy.inject(Rule::on(operation, fault.clone()));
        let error = sessions.sign_in("judy", PASSWORD).await.unwrap_err();
        assert!(
            matches!(error, SignInError::Failed(Error::Unavailable { .. })),
            "{operation} {fault:?}: {error:?}"
        );
        assert_eq!(error.status(), 503);
        assert!(s.pool.row(&sub).await.is_none(), "{operation} {fault:?}");
    }
    // Only the last one got tokens: their refresh token, never stored, was revoked (moto does
    // not implement RevokeToken, so the SDK retries it: attempts, not calls, are counted).
    assert!(
        proxy.count("RevokeToken") >= 1,
        "the unused refresh token was not revoked"
    );
    // Throttled sign-ins are "too many attempts" (429), not an outage.
    proxy.heal();
    proxy.inject(Rule::on("InitiateAuth", Fault::Throttled));
    let error = sessions.sign_in("judy", PASSWORD).await.unwrap_err();
    assert!(matches!(error, SignInError::TooManyAttempts), "{error:?}");
    assert_eq!(error.status(), 429);
    proxy.heal();
    done(sessions.sign_in("judy", PASSWORD).await.unwrap());
    assert!(s.pool.row(&sub).await.is_some());
}
