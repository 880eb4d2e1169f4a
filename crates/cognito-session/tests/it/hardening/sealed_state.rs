//! Round two, 2. The state a login leaves with the browser is sealed, bound and not a bearer
//! secret.
//!
//! A sign-in's challenge travels as a sealed state (in the page) bound to the browser's
//! challenge cookie, and managed login's nonce and PKCE verifier travel sealed in the login
//! cookie bound to the login's `state`. An edited, swapped, replayed or expired state is refused
//! with a 400 before any call to AWS. Before, the challenge state was plain base64 JSON that
//! anyone holding it could read (Cognito's session, the TOTP secret) and rewrite (the challenge
//! kind, the username).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use cognito_session::{
    Answer, Challenge, ChallengeKind, Mfa, Sessions, SignIn, SignInError, StateError,
};
use testkit::{Proxy, PASSWORD};

use crate::sign_in::{carry, jar, MfaSetupRequired};
use crate::{sessions_via, setup, setup_with, Setup};

/// A user with a temporary password, and the new-password challenge of their sign-in.
async fn new_password_challenge(s: &Setup, sessions: &Sessions, user: &str) -> Challenge {
    s.pool
        .user_with_temporary_password(user, "Temp-horse-1!")
        .await;
    match sessions.sign_in(user, "Temp-horse-1!").await.unwrap() {
        SignIn::Challenge(challenge) => challenge,
        SignIn::Done(_) => panic!("a new-password challenge"),
    }
}

/// The refusal of opening `state` with the browser cookies `cookie` (none: no cookie), asserting
/// it cost no AWS call at all.
async fn refused(s: &Setup, sessions: &Sessions, cookie: Option<&str>, state: &str) -> StateError {
    s.calls.reset();
    let headers = cookie.map(jar).unwrap_or_default();
    let error = sessions.open_challenge(&headers, state).await.unwrap_err();
    assert_eq!(s.calls.all(), Vec::<String>::new(), "no AWS call: {error}");
    assert_eq!(error.status(), 400, "{error}");
    match error {
        SignInError::StateRejected(why) => why,
        other => panic!("{other:?}"),
    }
}

/// `state` with one character of its sealed part changed.
fn flipped(state: &str) -> String {
    let mut bytes = state.as_bytes().to_vec();
    let at = bytes.len() - 10;
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).unwrap()
}

#[tokio::test]
async fn an_edited_swapped_or_expired_challenge_state_is_refused_without_any_aws_call() {
    // Without an encryption key (the generated state key in the table) and with one.
    for key in [None, Some("AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=")] {
        let s = match key {
            None => setup().await,
            Some(key) => setup_with(Default::default(), |b| b.encryption_key(key)).await,
        };
        let sessions = &s.sessions;
        let ada = new_password_challenge(&s, sessions, "state-ada").await;
        let bob = new_password_challenge(&s, sessions, "state-bob").await;
        let ada_cookie = ada.set_cookie().unwrap().to_owned();
        let bob_cookie = bob.set_cookie().unwrap().to_owned();
        // Nothing of Cognito's session or the username is readable in what the browser holds.
        assert!(ada.state().starts_with("enc:v1:"), "{}", ada.state());
        for text in [ada.state(), &ada_cookie] {
            assert!(
                !text.contains("state-ada") && !text.contains("NEW_PASSWORD"),
                "{text}"
            );
        }
        // Its own browser opens it (no call either: the key is at hand).
        s.calls.reset();
        let opened = sessions
            .open_challenge(&jar(&ada_cookie), ada.state())
            .await
            .unwrap();
        assert_eq!(s.calls.all(), Vec::<String>::new());
        assert_eq!(opened.kind(), ada.kind());

        // A byte flipped.
        let why = refused(&s, sessions, Some(&ada_cookie), &flipped(ada.state())).await;
        assert_eq!(why, StateError::Tampered, "{key:?}");
        // Swapped: Bob's state in Ada's browser, and the other way round.
        assert_eq!(
            refused(&s, sessions, Some(&ada_cookie), bob.state()).await,
            StateError::OtherBrowser
        );
        assert_eq!(
            refused(&s, sessions, Some(&bob_cookie), ada.state()).await,
            StateError::OtherBrowser
        );
        // No cookie at all (the state copied elsewhere).
        assert_eq!(
            refused(&s, sessions, None, ada.state()).await,
            StateError::Missing
        );
        // The kind changed, in the readable format of before (a forger has no key).
        let forged = format!(
            "v1.{}",
            URL_SAFE_NO_PAD.encode(
                br#"{"k":{"MfaSetup":{"options":["Totp"]}},"n":"MFA_SETUP","s":"AYAB","u":"state-ada"}"#
            )
        );
        assert_eq!(
            refused(&s, sessions, Some(&ada_cookie), &forged).await,
            StateError::Tampered
        );
        // A managed-login cookie is a sealed state too, but for another purpose.
        // Expired: fifteen minutes later.
        s.clock.store(15 * 60 + 1, Ordering::Relaxed);
        assert_eq!(
            refused(&s, sessions, Some(&ada_cookie), ada.state()).await,
            StateError::Expired
        );
        s.clock.store(0, Ordering::Relaxed);
        // A function of another app client (another CLIENT_ID) sharing the key: refused.
        let other = sessions_via(&s, &s.pool.moto.url, |b| {
            let b = b.client_id("another-app-client");
            match key {
                Some(key) => b.encryption_key(key),
                None => b,
            }
        })
        .await;
        let error = other
            .open_challenge(&jar(&ada_cookie), ada.state())
            .await
            .unwrap_err();
        assert!(
            matches!(error, SignInError::StateRejected(StateError::Tampered)),
            "{error:?}"
        );
        // The untouched state still works: nothing above used it up.
        let answer = Answer::NewPassword {
            password: "New-horse-10!".into(),
            attributes: vec![],
        };
        assert!(matches!(
            sessions.respond(&opened, &answer).await,
            Ok(SignIn::Done(_))
        ));
    }
}

#[tokio::test]
async fn a_used_state_is_refused_once_the_browser_moved_on_and_the_totp_secret_never_travels() {
    let s = setup().await;
    s.pool.user("state-grace").await;
    let proxy = Proxy::with_fake(&s.pool.moto.url, Arc::new(MfaSetupRequired)).await;
    let sessions = sessions_via(&s, &proxy.url, |b| b).await;
    let first = match sessions.sign_in("state-grace", PASSWORD).await.unwrap() {
        SignIn::Challenge(challenge) => challenge,
        SignIn::Done(_) => panic!("MFA setup"),
    };
    let first = carry(&sessions, &first).await;
    let first_state = first.state().to_owned();
    let SignIn::Challenge(second) = sessions
        .respond(&first, &Answer::Choose(Mfa::Totp))
        .await
        .unwrap()
    else {
        panic!("the authenticator app's setup step")
    };
    assert_eq!(second.kind(), &ChallengeKind::TotpSetup);
    let secret = second.totp_secret().expect("shown once").to_owned();
    let second_cookie = second.set_cookie().expect("a new binding").to_owned();
    // The first step's state, replayed in the browser that moved on: refused, no call.
    let before = proxy.total();
    let error = sessions
        .open_challenge(&jar(&second_cookie), &first_state)
        .await
        .unwrap_err();
    assert!(
        matches!(error, SignInError::StateRejected(StateError::OtherBrowser)),
        "{error:?}"
    );
    assert_eq!(proxy.total(), before, "no AWS call");
    // The secret is not in the state: opened again, the challenge does not carry it.
    let again = sessions
        .open_challenge(&jar(&second_cookie), second.state())
        .await
        .unwrap();
    assert_eq!(again.kind(), &ChallengeKind::TotpSetup);
    assert_eq!(again.totp_secret(), None);
    assert!(!second.state().contains(&secret));
    // Once signed in the app clears the cookie: every state of the sign-in is dead.
    let cleared = sessions.clear_challenge_cookie();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    let error = sessions
        .open_challenge(&jar(&cleared), second.state())
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            SignInError::StateRejected(StateError::OtherBrowser | StateError::Missing)
        ),
        "{error:?}"
    );
}
