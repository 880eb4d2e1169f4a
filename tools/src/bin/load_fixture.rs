//! A measurement fixture (not a test) for `scripts/bench-load.sh`: it starts moto on 127.0.0.1
//! (through testkit), creates a user pool, a user who logs in for real, the session table and
//! that user's session row (as the seed's login writes it), then prints one JSON line
//! `{"env": {...}, "cookie": "token=..."}`: the environment the `axum_app` example needs to run
//! against this moto, and the cookie of the logged-in user. moto lives as long as this process,
//! which waits until its standard input closes or `MAX_SECONDS` (default 900) pass.

use std::time::Duration;

use serde_json::json;
use testkit::{Pool, PoolOptions};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let pool = Pool::new(PoolOptions::default()).await;
    let sub = pool.user("load-user").await;
    let login = pool.login("load-user").await;
    let token = login
        .access_token()
        .ok_or("the login returned no access token")?;
    let refresh = login
        .refresh_token()
        .ok_or("the login returned no refresh token")?;
    // The row a table made for the seed holds after a login.
    pool.put_seed_row(&sub, refresh).await;
    println!(
        "{}",
        json!({
            "env": {
                "SESSION_TABLE": pool.table,
                "PARTITION_KEY": pool.partition_key,
                "CLIENT_ID": pool.client_id,
                "USER_POOL_ID": pool.pool_id,
                "AWS_ENDPOINT_URL": pool.moto.url,
                "AWS_REGION": "us-east-1",
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
            },
            "cookie": format!("token={token}"),
        })
    );

    let max = std::env::var("MAX_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(900);
    let stdin_closed = tokio::task::spawn_blocking(|| {
        let mut sink = Vec::new();
        let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink);
    });
    tokio::select! {
        _ = stdin_closed => {}
        () = tokio::time::sleep(Duration::from_secs(max)) => {}
    }
    Ok(())
}
