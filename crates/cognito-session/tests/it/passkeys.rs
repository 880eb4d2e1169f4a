//! Passkey management for the signed-in user (`Accounts::start_passkey_registration`,
//! `complete_passkey_registration`, `list_passkeys`, `delete_passkey`): against testkit's
//! `FakeAccounts` in front of moto (moto has no WebAuthn API; the fake verifies the ceremonies
//! with `webauthn-rs` and answers Cognito's refusals), with testkit's `SoftAuthenticator`
//! making the browser's credentials; and against moto alone.

use cognito_session::{Error, PasskeyError, Unauthorized};
use testkit::{FakeAccounts, Fault, Rule, SoftAuthenticator};

use crate::accounts::{world_with, World};
use crate::{cookies, minter, setup};

const RP: &str = "localhost";
const ORIGIN: &str = "http://localhost:3000";

async fn world(fake: impl FnOnce(FakeAccounts) -> FakeAccounts) -> World {
    world_with(false, fake, |b| b).await
}

async fn with_passkeys() -> World {
    world(|f| f.passkeys(RP, ORIGIN)).await
}

/// A signed-in user: their `sub` and the request carrying their session cookie.
async fn signed_in(w: &World, username: &str) -> (String, http::HeaderMap) {
    let (sub, login) = w.s.logged_in(username).await;
    (sub, cookies(login.access_token().unwrap()))
}

/// Start, the authenticator's answer, complete.
async fn register(
    w: &World,
    request: &http::HeaderMap,
    authenticator: &mut SoftAuthenticator,
) -> Result<(), PasskeyError> {
    let accounts = w.sessions.accounts();
    let options = accounts.start_passkey_registration(request).await?;
    let credential = authenticator.register(&options).await.unwrap();
    accounts
        .complete_passkey_registration(request, &credential)
        .await
}

#[tokio::test]
async fn a_passkey_is_added_listed_and_removed() {
    let w = with_passkeys().await;
    let (sub, request) = signed_in(&w, "ada").await;
    let accounts = w.sessions.accounts();
    assert!(accounts.list_passkeys(&request).await.unwrap().is_empty());

    let options = accounts.start_passkey_registration(&request).await.unwrap();
    let parsed: serde_json::Value = serde_json::from_str(&options).unwrap();
    assert_eq!(parsed["rp"]["id"], RP, "{options}");
    assert_eq!(parsed["user"]["name"], "ada", "{options}");
    assert!(parsed["challenge"].as_str().is_some_and(|c| c.len() >= 16));
    let mut authenticator = SoftAuthenticator::new(ORIGIN);
    let credential = authenticator.register(&options).await.unwrap();
    accounts
        .complete_passkey_registration(&request, &credential)
        .await
        .unwrap();
    assert_eq!(w.fake.passkey_ids(&sub).len(), 1);

    let listed = accounts.list_passkeys(&request).await.unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    let passkey = &listed[0];
    assert_eq!(passkey.id(), w.fake.passkey_ids(&sub)[0]);
    assert_eq!(passkey.name(), Some("Passkey"));
    assert_eq!(passkey.relying_party_id(), RP);
    let age = passkey.created_at().elapsed().unwrap_or_default();
    assert!(age.as_secs() < 300, "created {age:?} ago");

    // A second one; both listed.
    let mut other = SoftAuthenticator::new(ORIGIN);
    register(&w, &request, &mut other).await.unwrap();
    assert_eq!(accounts.list_passkeys(&request).await.unwrap().len(), 2);

    accounts
        .delete_passkey(&request, passkey.id())
        .await
        .unwrap();
    let left = accounts.list_passkeys(&request).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_ne!(left[0].id(), passkey.id());
    let again = accounts
        .delete_passkey(&request, passkey.id())
        .await
        .unwrap_err();
    assert!(matches!(again, PasskeyError::NotFound), "{again:?}");
    assert_eq!(again.status(), 404);
    // Another user cannot remove it: unknown to them.
    let (_, bob) = signed_in(&w, "bob").await;
    let foreign = accounts
        .delete_passkey(&bob, left[0].id())
        .await
        .unwrap_err();
    assert!(matches!(foreign, PasskeyError::NotFound), "{foreign:?}");
    assert_eq!(accounts.list_passkeys(&request).await.unwrap().len(), 1);
    // The session goes on.
    w.sessions.current(&request).await.unwrap();
}

#[tokio::test]
async fn a_pool_without_passkeys_says_which_setting_is_missing() {
    // Passkeys not among the sign-in policy's first factors.
    let w = world(|f| {
        f.passkeys(RP, ORIGIN)
            .first_factors(&["PASSWORD", "EMAIL_OTP"])
    })
    .await;
    let (_, request) = signed_in(&w, "ada").await;
    let refused = w
        .sessions
        .accounts()
        .start_passkey_registration(&request)
        .await
        .unwrap_err();
    assert!(
        matches!(refused, PasskeyError::Failed(Error::Config { .. })),
        "{refused:?}"
    );
    assert_eq!(refused.status(), 500);
    let text = refused.to_string();
    assert!(text.contains("WEB_AUTHN"), "{text}");
    assert!(text.contains("AllowedFirstAuthFactors"), "{text}");

    // No relying party configured.
    let w = world(|f| f.first_factors(&["PASSWORD", "WEB_AUTHN"])).await;
    let (_, request) = signed_in(&w, "ada").await;
    let refused = w
        .sessions
        .accounts()
        .start_passkey_registration(&request)
        .await
        .unwrap_err();
    assert_eq!(refused.status(), 500, "{refused:?}");
    let text = refused.to_string();
    assert!(text.contains("RelyingPartyId"), "{text}");
    assert!(
        text.contains("WebAuthnConfigurationMissingException"),
        "{text}"
    );
    // Either way the session is untouched.
    w.sessions.current(&request).await.unwrap();
}

#[tokio::test]
async fn a_credential_from_another_origin_or_without_a_start_is_refused() {
    let w = with_passkeys().await;
    let (sub, request) = signed_in(&w, "ada").await;
    let accounts = w.sessions.accounts();

    // A phishing page's credential: refused for its origin.
    let mut phished = SoftAuthenticator::new("http://localhost:4000");
    let refused = register(&w, &request, &mut phished).await.unwrap_err();
    assert!(
        matches!(refused, PasskeyError::OriginNotAllowed),
        "{refused:?}"
    );
    assert_eq!(refused.status(), 400);

    // The refusal spent the challenge: completing again is "start again".
    let options = accounts.start_passkey_registration(&request).await.unwrap();
    let mut authenticator = SoftAuthenticator::new(ORIGIN);
    let credential = authenticator.register(&options).await.unwrap();
    accounts
        .complete_passkey_registration(&request, &credential)
        .await
        .unwrap();
    let replayed = accounts
        .complete_passkey_registration(&request, &credential)
        .await
        .unwrap_err();
    assert!(
        matches!(replayed, PasskeyError::ChallengeExpired),
        "{replayed:?}"
    );
    assert!(
        replayed.to_string().contains("start it again"),
        "{replayed}"
    );

    // Completing with no registration started at all.
    let (_, bob) = signed_in(&w, "bob").await;
    let unstarted = accounts
        .complete_passkey_registration(&bob, &credential)
        .await
        .unwrap_err();
    assert!(
        matches!(unstarted, PasskeyError::ChallengeExpired),
        "{unstarted:?}"
    );
    assert_eq!(w.fake.passkey_ids(&sub).len(), 1);
}

#[tokio::test]
async fn what_is_no_credential_never_reaches_cognito() {
    let w = with_passkeys().await;
    let (_, request) = signed_in(&w, "ada").await;
    let accounts = w.sessions.accounts();
    accounts.start_passkey_registration(&request).await.unwrap();
    for bad in ["", "not json", "[]", "{\"id\":", "{} {}"] {
        let refused = accounts
            .complete_passkey_registration(&request, bad)
            .await
            .unwrap_err();
        assert!(
            matches!(refused, PasskeyError::InvalidCredential(_)),
            "{bad:?}: {refused:?}"
        );
        assert_eq!(refused.status(), 400);
    }
    assert_eq!(w.fake.answered("CompleteWebAuthnRegistration"), 0);
    // A JSON object that is no registration: Cognito's InvalidParameterException, sorted.
    let refused = accounts
        .complete_passkey_registration(&request, r#"{"id":"x","type":"public-key"}"#)
        .await
        .unwrap_err();
    assert!(
        matches!(refused, PasskeyError::InvalidCredential(_)),
        "{refused:?}"
    );
    let empty = accounts.delete_passkey(&request, " ").await.unwrap_err();
    assert!(
        matches!(empty, PasskeyError::Failed(Error::InvalidInput(_))),
        "{empty:?}"
    );
    assert_eq!(w.fake.answered("DeleteWebAuthnCredential"), 0);
}

/// A managed-login session whose `OAUTH_SCOPES` lacks `aws.cognito.signin.user.admin`: its
/// token is genuine (signed with moto's key, same login) and the session valid, but Cognito
/// refuses the passkey calls with its own message.
#[tokio::test]
async fn a_token_without_the_admin_scope_says_how_to_get_it() {
    let w = with_passkeys().await;
    let (_, login) = w.s.logged_in("ada").await;
    let mut claims = testkit::peek(login.access_token().unwrap());
    assert!(
        claims["scope"]
            .as_str()
            .is_some_and(|s| s.contains("aws.cognito.signin.user.admin")),
        "{claims}"
    );
    claims["scope"] = "openid email".into();
    let request = cookies(&minter().access(&claims));
    w.sessions.current(&request).await.unwrap();
    let accounts = w.sessions.accounts();
    let refused = accounts
        .start_passkey_registration(&request)
        .await
        .unwrap_err();
    assert!(
        matches!(refused, PasskeyError::Failed(Error::Config { .. })),
        "{refused:?}"
    );
    let text = refused.to_string();
    for needed in [
        "aws.cognito.signin.user.admin",
        "own-form sign-ins have it",
        "OAUTH_SCOPES",
    ] {
        assert!(text.contains(needed), "{needed}: {text}");
    }
    let refused = accounts.list_passkeys(&request).await.unwrap_err();
    assert_eq!(refused.status(), 500, "{refused:?}");
    // Not a logout: the session stays.
    w.sessions.current(&request).await.unwrap();
}

#[tokio::test]
async fn without_a_session_nothing_is_asked() {
    let w = with_passkeys().await;
    let accounts = w.sessions.accounts();
    let none = http::HeaderMap::new();
    let refused = accounts
        .start_passkey_registration(&none)
        .await
        .unwrap_err();
    assert!(
        matches!(
            refused,
            PasskeyError::Failed(Error::Unauthorized(Unauthorized::MissingCookie))
        ),
        "{refused:?}"
    );
    assert_eq!(refused.status(), 401);
    assert_eq!(
        accounts.list_passkeys(&none).await.unwrap_err().status(),
        401
    );
    let forged = cookies(&testkit::unsigned(&serde_json::json!({"sub": "x"})));
    assert_eq!(
        accounts
            .delete_passkey(&forged, "some-id")
            .await
            .unwrap_err()
            .status(),
        401
    );
    // A signed-out session: its row is gone.
    let (sub, request) = signed_in(&w, "ada").await;
    w.sessions.end_all(&sub).await.unwrap();
    let ended = accounts.list_passkeys(&request).await.unwrap_err();
    assert_eq!(ended.status(), 401, "{ended:?}");
    for operation in [
        "StartWebAuthnRegistration",
        "ListWebAuthnCredentials",
        "DeleteWebAuthnCredential",
    ] {
        assert_eq!(w.fake.answered(operation), 0, "{operation}");
    }
}

#[tokio::test]
async fn an_outage_is_a_503_that_changes_nothing() {
    let w = with_passkeys().await;
    let (sub, request) = signed_in(&w, "ada").await;
    let mut authenticator = SoftAuthenticator::new(ORIGIN);
    register(&w, &request, &mut authenticator).await.unwrap();
    let accounts = w.sessions.accounts();
    let id = accounts.list_passkeys(&request).await.unwrap()[0]
        .id()
        .to_owned();
    for fault in [Fault::Reset, Fault::Status(503), Fault::InternalError] {
        w.proxy
            .inject(Rule::on("DeleteWebAuthnCredential", fault.clone()));
        w.proxy
            .inject(Rule::on("StartWebAuthnRegistration", fault.clone()));
        let down = accounts.delete_passkey(&request, &id).await.unwrap_err();
        assert!(
            matches!(down, PasskeyError::Failed(Error::Unavailable { .. })),
            "{fault:?}: {down:?}"
        );
        assert_eq!(down.status(), 503);
        let down = accounts
            .start_passkey_registration(&request)
            .await
            .unwrap_err();
        assert_eq!(down.status(), 503, "{fault:?}: {down:?}");
        w.proxy.heal();
        // Nothing changed: the passkey is there, the session goes on.
        assert_eq!(w.fake.passkey_ids(&sub), std::slice::from_ref(&id));
        w.sessions.current(&request).await.unwrap();
    }
    // Cognito's per-user request limit: a 429, not an outage, not a logout.
    w.proxy
        .inject(Rule::on("ListWebAuthnCredentials", Fault::Throttled));
    let limited = accounts.list_passkeys(&request).await.unwrap_err();
    assert!(
        matches!(limited, PasskeyError::TooManyRequests),
        "{limited:?}"
    );
    assert_eq!(limited.status(), 429);
    w.proxy.heal();
    accounts.delete_passkey(&request, &id).await.unwrap();
}

/// moto has no WebAuthn API: it answers these operations with an HTML page and HTTP 500
/// (its server's "not implemented"), which is what a failing Cognito would answer too. That
/// must come out as a typed 503 (retry; nothing lost), never a panic and never a logout.
#[tokio::test]
async fn on_moto_alone_the_missing_api_is_a_503_that_keeps_the_session() {
    let s = setup().await;
    let (_, login) = s.logged_in("ada").await;
    let request = cookies(login.access_token().unwrap());
    let accounts = s.sessions.accounts();
    let refused = accounts
        .start_passkey_registration(&request)
        .await
        .unwrap_err();
    assert!(
        matches!(refused, PasskeyError::Failed(Error::Unavailable { .. })),
        "{refused:?}"
    );
    assert_eq!(refused.status(), 503);
    assert!(
        refused
            .to_string()
            .contains("starting a passkey registration"),
        "{refused}"
    );
    for refused in [
        accounts.list_passkeys(&request).await.unwrap_err(),
        accounts
            .delete_passkey(&request, "some-id")
            .await
            .unwrap_err(),
    ] {
        assert_eq!(refused.status(), 503, "{refused:?}");
    }
    s.sessions.current(&request).await.unwrap();
}
