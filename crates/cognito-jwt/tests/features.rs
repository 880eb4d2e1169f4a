//! The verifier's features, with tokens signed by a fresh key and an in-process JWKS fetcher.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use cognito_jwt::{
    ClaimsRejected, Error, Freshness, KeyRejected, Rejected, TokenUse, Verifier, VerifierBuilder,
};
use serde_json::{json, Value};

mod common;
use common::{access, id, now, Fake, Key, CLIENT, ISSUER, KID, POOL};

fn builder(fake: &Fake) -> VerifierBuilder {
    Verifier::builder()
        .user_pool(POOL)
        .client_id(CLIENT)
        .fetcher(fake.clone())
}

fn refused(result: Result<impl std::fmt::Debug, Error>) -> (Rejected, Option<cognito_jwt::Claims>) {
    match result {
        Err(Error::Rejected { reason, claims }) => (reason, claims),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn with(mut claims: Value, name: &str, value: Value) -> Value {
    claims[name] = value;
    claims
}

#[tokio::test]
async fn verifiers_of_two_token_uses_share_one_key_fetch_and_never_each_others_cache() {
    let key = Key::new();
    let fake = Fake::serving(key.jwks(KID));
    let t = now();
    let access_token = key.sign(KID, &access("a", t));
    let id_token = key.sign(KID, &id("a", t));
    let access_only = builder(&fake).build().unwrap();
    let id_only = access_only.with_token_use(TokenUse::Id);
    assert_eq!(id_only.verify(&id_token).await.unwrap().sub(), "a");
    assert_eq!(access_only.verify(&access_token).await.unwrap().sub(), "a");
    assert_eq!(fake.calls(), 1, "one key cache for both");
    // Each token is now in the shared verified-token cache: neither verifier answers the
    // other's token from it (nor from the pipeline).
    for _ in 0..2 {
        let (reason, _) = refused(access_only.verify(&id_token).await);
        assert_eq!(
            reason,
            Rejected::Claims(ClaimsRejected::TokenUse("id".into()))
        );
        assert!(access_only.cached(&id_token, t).is_none());
        let (reason, _) = refused(id_only.verify(&access_token).await);
        assert_eq!(
            reason,
            Rejected::Claims(ClaimsRejected::TokenUse("access".into()))
        );
        assert!(id_only.cached(&access_token, t).is_none());
    }
    assert!(access_only.cached(&access_token, t).is_some());
    assert!(id_only.cached(&id_token, t).is_some());
}

#[tokio::test]
async fn access_and_id_tokens_by_token_use() {
    let key = Key::new();
    let fake = Fake::serving(key.jwks(KID));
    let t = now();
    let access_token = key.sign(KID, &access("a", t));
    let id_token = key.sign(KID, &id("a", t));

    let access_only = builder(&fake).build().unwrap();
    assert_eq!(access_only.verify(&access_token).await.unwrap().sub(), "a");
    let (reason, claims) = refused(access_only.verify(&id_token).await);
    assert_eq!(
        reason,
        Rejected::Claims(ClaimsRejected::TokenUse("id".into()))
    );
    assert_eq!(
        claims.unwrap().token_use(),
        "id",
        "signed: the claims come along"
    );

    let id_only = builder(&fake).token_use(TokenUse::Id).build().unwrap();
    let claims = id_only.verify(&id_token).await.unwrap();
    assert_eq!(claims.username(), "user-a", "cognito:username");
    assert_eq!(claims.email(), Some("a@example.com"));
    assert_eq!(claims.email_verified(), Some(true));
    assert_eq!(claims.custom("tier").and_then(Value::as_str), Some("gold"));
    assert_eq!(claims.groups(), ["users", "admin"]);
    assert_eq!(claims.client_id(), CLIENT, "aud");
    assert!(claims.payload().contains(r#""custom:tier":"gold""#));
    assert_eq!(
        refused(id_only.verify(&access_token).await).0,
        Rejected::Claims(ClaimsRejected::TokenUse("access".into()))
    );

    let either = builder(&fake).token_use(TokenUse::Any).build().unwrap();
    assert_eq!(either.verify(&id_token).await.unwrap().token_use(), "id");
    assert_eq!(
        either.verify(&access_token).await.unwrap().token_use(),
        "access"
    );
    assert_eq!(
        either.verify(&access_token).await.unwrap().username(),
        "user-a"
    );

    // An ID token's client is its `aud` (a string, or an array naming ours), never `client_id`.
    for (aud, ok) in [
        (json!("other"), false),
        (json!(["other", CLIENT]), true),
        (json!([]), false),
    ] {
        let token = key.sign(KID, &with(id("a", t), "aud", aud.clone()));
        let result = id_only.verify(&token).await;
        assert_eq!(result.is_ok(), ok, "{aud}");
        if !ok {
            assert_eq!(refused(result).0, Rejected::Claims(ClaimsRejected::Client));
        }
    }
    let mut no_aud = id("a", t);
    no_aud.as_object_mut().unwrap().remove("aud");
    no_aud["client_id"] = json!(CLIENT);
    assert_eq!(
        refused(id_only.verify(&key.sign(KID, &no_aud)).await).0,
        Rejected::Claims(ClaimsRejected::Client)
    );
}

#[tokio::test]
async fn several_pools_and_app_clients() {
    let key = Key::new();
    let fake = Fake::serving(key.jwks(KID));
    let other_pool = "eu-west-1_OtherPool2";
    let other_issuer = format!("https://cognito-idp.eu-west-1.amazonaws.com/{other_pool}");
    let verifier = builder(&fake)
        .user_pool(other_pool)
        .client_id("client-2")
        .build()
        .unwrap();
    let t = now();
    let second = with(
        with(access("b", t), "iss", json!(other_issuer)),
        "client_id",
        json!("client-2"),
    );
    assert_eq!(
        verifier
            .verify(&key.sign(KID, &second))
            .await
            .unwrap()
            .sub(),
        "b"
    );
    assert_eq!(
        verifier
            .verify(&key.sign(KID, &access("a", t)))
            .await
            .unwrap()
            .sub(),
        "a"
    );
    assert!(fake
        .urls
        .lock()
        .unwrap()
        .contains(&format!("{other_issuer}/.well-known/jwks.json")));
    let third_client = with(access("c", t), "client_id", json!("client-3"));
    assert_eq!(
        refused(verifier.verify(&key.sign(KID, &third_client)).await).0,
        Rejected::Claims(ClaimsRejected::Client)
    );
    let third_pool = with(
        access("c", t),
        "iss",
        json!("https://cognito-idp.us-west-2.amazonaws.com/us-west-2_Third"),
    );
    assert_eq!(
        refused(verifier.verify(&key.sign(KID, &third_pool)).await).0,
        Rejected::Claims(ClaimsRejected::Issuer)
    );
}

#[tokio::test]
async fn required_groups_and_scopes_are_any_of() {
    let key = Key::new();
    let fake = Fake::serving(key.jwks(KID));
    let t = now();
    let token = key.sign(KID, &access("a", t)); // groups ["users"], scopes admin + api/read
    let verify = |b: VerifierBuilder| {
        let token = token.clone();
        async move { b.build().unwrap().verify(&token).await.map(|_| ()) }
    };
    assert!(verify(builder(&fake).require_groups(["admin", "users"]))
        .await
        .is_ok());
    assert_eq!(
        refused(verify(builder(&fake).require_groups(["admin"])).await).0,
        Rejected::Claims(ClaimsRejected::Group)
    );
    assert!(
        verify(builder(&fake).require_scopes(["api/write", "api/read"]))
            .await
            .is_ok()
    );
    assert_eq!(
        refused(verify(builder(&fake).require_scopes(["api/write"])).await).0,
        Rejected::Claims(ClaimsRejected::Scope)
    );
    let no_groups = {
        let mut c = access("a", t);
        c.as_object_mut().unwrap().remove("cognito:groups");
        key.sign(KID, &c)
    };
    let admins = builder(&fake).require_groups(["users"]).build().unwrap();
    assert_eq!(
        refused(admins.verify(&no_groups).await).0,
        Rejected::Claims(ClaimsRejected::Group)
    );
}

#[derive(Debug, thiserror::Error)]
#[error("tenant {0} is suspended")]
struct Suspended(String);

#[tokio::test]
async fn the_custom_check_sees_verified_claims_and_runs_on_every_hit() {
    let key = Key::new();
    let fake = Fake::serving(key.jwks(KID));
    let suspended = Arc::new(AtomicBool::new(false));
    let flag = suspended.clone();
    let verifier = builder(&fake)
        .check(move |claims| {
            if flag.load(Ordering::SeqCst) {
                Err(Suspended(claims.sub().to_owned()))
            } else {
                Ok(())
            }
        })
        .build()
        .unwrap();
    let t = now();
    let token = key.sign(KID, &access("a", t));
    verifier.verify(&token).await.unwrap();
    assert!(verifier.cached(&token, t).is_some());
    suspended.store(true, Ordering::SeqCst);
    assert!(
        verifier.cached(&token, t).is_none(),
        "a hit runs the check again"
    );
    let (reason, claims) = refused(verifier.verify(&token).await);
    match reason {
        Rejected::Check(failed) => {
            assert_eq!(failed.downcast_ref::<Suspended>().unwrap().0, "a");
            assert_eq!(failed.to_string(), "tenant a is suspended");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(claims.unwrap().sub(), "a");
    // A token whose signature fails never reaches the check, and carries no claims.
    let forged = Key::new().sign(KID, &access("a", t));
    let (reason, claims) = refused(verifier.verify(&forged).await);
    assert_eq!(reason, Rejected::Signature);
    assert!(claims.is_none());
}

#[tokio::test]
async fn expired_tokens_are_refused_with_their_claims_or_returned_within_the_refresh_window() {
    let key = Key::new();
    let fake = Fake::serving(key.jwks(KID));
    let t = now() - 7200; // expired an hour ago
    let token = key.sign(KID, &access("a", t));
    let strict = builder(&fake).build().unwrap();
    let (reason, claims) = refused(strict.verify(&token).await);
    assert_eq!(reason, Rejected::Claims(ClaimsRejected::Expired));
    assert_eq!(
        claims.unwrap().sub(),
        "a",
        "genuine: reportable for a refresh"
    );
    assert_eq!(
        refused(strict.verify_at(&token, now()).await).0,
        Rejected::Claims(ClaimsRejected::Expired),
        "no refresh window by default"
    );
    let refreshing = builder(&fake)
        .refresh_window(Duration::from_secs(86_400))
        .build()
        .unwrap();
    let (claims, freshness) = refreshing.verify_at(&token, now()).await.unwrap();
    assert_eq!((claims.sub(), freshness), ("a", Freshness::Expired));
    assert!(
        refreshing.cached(&token, now()).is_none(),
        "only current tokens are cached"
    );
    assert_eq!(
        refused(refreshing.verify(&token).await).0,
        Rejected::Claims(ClaimsRejected::Expired),
        "verify never returns an expired token"
    );
    assert_eq!(
        refused(refreshing.verify_at(&token, now() + 86_400).await).0,
        Rejected::Claims(ClaimsRejected::Expired)
    );
}

#[tokio::test]
async fn hydrate_fetches_every_configured_pool_once() {
    let key = Key::new();
    let fake = Fake::serving(key.jwks(KID));
    let verifier = builder(&fake)
        .user_pool("eu-west-1_OtherPool2")
        .build()
        .unwrap();
    verifier.hydrate().await.unwrap();
    assert_eq!(
        *fake.urls.lock().unwrap(),
        [
            format!("{ISSUER}/.well-known/jwks.json"),
            "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_OtherPool2/.well-known/jwks.json"
                .to_owned()
        ],
        "the home issuer of each pool; the updated issuer type is fetched only when named"
    );
    verifier.hydrate().await.unwrap();
    verifier
        .verify(&key.sign(KID, &access("a", now())))
        .await
        .unwrap();
    assert_eq!(fake.calls(), 2, "fresh keys are not fetched again");

    let down = Fake::default();
    down.fail("connection refused");
    let error = builder(&down).build().unwrap().hydrate().await.unwrap_err();
    assert!(matches!(error, Error::Unavailable { .. }), "{error}");
    let wrong = Fake::default();
    wrong.refuse();
    let error = builder(&wrong)
        .build()
        .unwrap()
        .hydrate()
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Config { .. }), "{error}");
    assert!(Verifier::builder()
        .learn_user_pool()
        .client_id(CLIENT)
        .fetcher(wrong.clone())
        .build()
        .unwrap()
        .hydrate()
        .await
        .is_ok());
}

#[tokio::test]
async fn concurrent_fetches_are_deduplicated() {
    let key = Key::new();
    let fake = Fake::serving(key.jwks(KID));
    fake.delay(Duration::from_millis(200));
    let verifier = builder(&fake).token_cache(0).build().unwrap();
    let t = now();
    let tokens: Vec<String> = (0..16)
        .map(|i| key.sign(KID, &access(&i.to_string(), t)))
        .collect();
    let results = futures_join(&verifier, &tokens).await;
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(fake.calls(), 1, "one fetch for sixteen concurrent tokens");
}

async fn futures_join(
    verifier: &Verifier,
    tokens: &[String],
) -> Vec<Result<cognito_jwt::Claims, Error>> {
    let handles: Vec<_> = tokens
        .iter()
        .map(|t| {
            let (verifier, t) = (verifier.clone(), t.clone());
            tokio::spawn(async move { verifier.verify(&t).await })
        })
        .collect();
    let mut results = Vec::new();
    for handle in handles {
        results.push(handle.await.unwrap());
    }
    results
}

#[tokio::test]
async fn unknown_kids_refetch_at_most_once_per_interval() {
    let key = Key::new();
    let fake = Fake::serving(key.jwks(KID));
    let verifier = builder(&fake)
        .jwks_refetch_interval(Duration::from_millis(300))
        .build()
        .unwrap();
    let t = now();
    verifier
        .verify(&key.sign(KID, &access("a", t)))
        .await
        .unwrap();
    assert_eq!(fake.calls(), 1);
    tokio::time::sleep(Duration::from_millis(350)).await;
    for i in 0..5 {
        let token = key.sign(&format!("unknown-{i}"), &access("a", t));
        assert_eq!(
            refused(verifier.verify(&token).await).0,
            Rejected::Key(KeyRejected::UnknownKid)
        );
    }
    assert_eq!(
        fake.calls(),
        2,
        "one refetch for five unknown kids (penalty box)"
    );
    tokio::time::sleep(Duration::from_millis(350)).await;
    // A rotated key shows up after the interval.
    let rotated = Key::new();
    fake.serve(
        json!({"keys": [key.jwk(KID), rotated.jwk("kid-2")]})
            .to_string()
            .into_bytes(),
    );
    verifier
        .verify(&rotated.sign("kid-2", &access("b", t)))
        .await
        .unwrap();
    assert_eq!(fake.calls(), 3);
}

#[tokio::test]
async fn max_age_revalidates_and_max_stale_ends_stale_keys() {
    let key = Key::new();
    let fake = Fake::serving(key.jwks(KID));
    let verifier = builder(&fake)
        .jwks_max_age(Duration::from_secs(600))
        .jwks_max_stale(Duration::from_secs(3600))
        .jwks_refetch_interval(Duration::ZERO)
        .leeway(Duration::from_secs(7200))
        .build()
        .unwrap();
    let t = now();
    let token = key.sign(KID, &access("a", t));
    verifier.verify_at(&token, t).await.unwrap();
    assert_eq!(fake.calls(), 1);
    // Older than the maximum age: revalidated (one fetch), also for a cached token.
    verifier.verify_at(&token, t + 601).await.unwrap();
    assert_eq!(fake.calls(), 2);
    // Revalidation fails: the keys are served while younger than the maximum staleness...
    fake.fail("down");
    verifier.verify_at(&token, t + 601 + 601).await.unwrap();
    assert_eq!(fake.calls(), 3);
    // ... and no longer after: 503, not a refusal.
    let error = verifier
        .verify_at(&token, t + 601 + 3600)
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Unavailable { .. }), "{error}");
    assert_eq!(error.status(), 503);
}

#[tokio::test]
async fn preloaded_keys_need_no_fetch_and_the_cache_answers_repeats() {
    let key = Key::new();
    let fake = Fake::default();
    fake.refuse();
    let verifier = builder(&fake).build().unwrap();
    verifier.preload(&key.jwks(KID)).unwrap();
    let t = now();
    let token = key.sign(KID, &access("a", t));
    assert!(verifier.cached(&token, t).is_none());
    verifier.verify_at(&token, t).await.unwrap();
    assert_eq!(verifier.cached(&token, t).unwrap().sub(), "a");
    assert_eq!(fake.calls(), 0);
}

#[tokio::test]
async fn a_transient_failure_is_unavailable_and_a_configured_refusal_is_config() {
    let key = Key::new();
    let token = key.sign(KID, &access("a", now()));
    let down = Fake::default();
    down.fail("timeout");
    let error = builder(&down)
        .build()
        .unwrap()
        .verify(&token)
        .await
        .unwrap_err();
    assert_eq!(error.status(), 503, "{error}");
    let wrong = Fake::default();
    wrong.refuse();
    let error = builder(&wrong)
        .build()
        .unwrap()
        .verify(&token)
        .await
        .unwrap_err();
    assert_eq!(error.status(), 500, "{error}");
    assert!(
        error.to_string().contains("jwks_url"),
        "says what to check: {error}"
    );
    // The same refusal for an issuer no one configured is the token's problem: 401.
    let updated = with(
        access("a", now()),
        "iss",
        json!(format!(
            "https://issuer-cognito-idp.us-east-1.amazonaws.com/{POOL}"
        )),
    );
    let error = builder(&wrong)
        .build()
        .unwrap()
        .verify(&key.sign(KID, &updated))
        .await
        .unwrap_err();
    assert_eq!(
        error.rejected(),
        Some(&Rejected::Key(KeyRejected::NoKeys)),
        "{error}"
    );
}

#[tokio::test]
async fn a_slow_fetch_is_cut_at_the_timeout() {
    let key = Key::new();
    let fake = Fake::serving(key.jwks(KID));
    fake.delay(Duration::from_secs(5));
    let verifier = builder(&fake)
        .jwks_timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let error = verifier
        .verify(&key.sign(KID, &access("a", now())))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Unavailable { .. }), "{error}");
    assert!(started.elapsed() < Duration::from_secs(2));
}
