//! `cognito_jwt` on its own against moto: real logins, moto's JWKS, no `Sessions`.

use cognito_jwt::{ClaimsRejected, Rejected, TokenUse, Verifier};
use testkit::{Pool, PoolOptions};

fn verifier(pool: &Pool, token_use: TokenUse) -> Verifier {
    Verifier::builder()
        .user_pool(&pool.pool_id)
        .client_id(&pool.client_id)
        .emulator(&pool.moto.url)
        .token_use(token_use)
        .build()
        .unwrap()
}

#[tokio::test]
async fn access_and_id_tokens_from_moto_verify_against_its_jwks() {
    let pool = Pool::new(PoolOptions::default()).await;
    let sub = pool.user("jwt-alice").await;
    pool.add_to_group("jwt-alice", "readers").await;
    let login = pool.login("jwt-alice").await;
    let access = login.access_token().unwrap();
    let id = login.id_token().unwrap();

    let either = verifier(&pool, TokenUse::Any);
    either.hydrate().await.unwrap();
    let claims = either.verify(access).await.unwrap();
    assert_eq!(
        (claims.sub(), claims.username()),
        (sub.as_str(), "jwt-alice")
    );
    assert_eq!(claims.token_use(), "access");
    assert_eq!(claims.client_id(), pool.client_id);
    assert_eq!(claims.groups(), ["readers"]);
    let claims = either.verify(id).await.unwrap();
    assert_eq!((claims.sub(), claims.token_use()), (sub.as_str(), "id"));
    assert_eq!(claims.username(), "jwt-alice", "cognito:username");
    assert_eq!(claims.client_id(), pool.client_id, "aud");
    assert!(either.cached(id, testkit::now()).is_some());

    // Each token use on its own refuses the other, with the (verified) claims attached.
    let access_only = verifier(&pool, TokenUse::Access);
    let error = access_only.verify(id).await.unwrap_err();
    assert_eq!(
        error.rejected(),
        Some(&Rejected::Claims(ClaimsRejected::TokenUse("id".into())))
    );
    assert_eq!(error.verified_claims().map(|c| c.sub()), Some(sub.as_str()));
    let id_only = verifier(&pool, TokenUse::Id);
    assert!(id_only.verify(id).await.is_ok());
    assert!(id_only.verify(access).await.is_err());

    // Required groups, against the real `cognito:groups`.
    let writers = Verifier::builder()
        .user_pool(&pool.pool_id)
        .client_id(&pool.client_id)
        .emulator(&pool.moto.url)
        .require_groups(["writers"])
        .build()
        .unwrap();
    assert_eq!(
        writers.verify(access).await.unwrap_err().rejected(),
        Some(&Rejected::Claims(ClaimsRejected::Group))
    );
}
