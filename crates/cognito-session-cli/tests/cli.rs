//! Every command of the `cognito-session` binary, run as a process against moto.

use std::process::Output;

use aws_sdk_dynamodb::types::{KeyType, TimeToLiveStatus};
use serde_json::Value;
use testkit::{Minter, Pool, PoolOptions};

/// Runs the CLI with moto's endpoint and dummy credentials, and nothing else from the environment.
async fn cli(pool: &Pool, args: &[&str]) -> (Output, Value) {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_cognito-session"));
    command
        .args(args)
        .env_clear()
        .env("AWS_ENDPOINT_URL", &pool.moto.url)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing");
    let output = command.output().await.expect("run the CLI");
    let json = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    (output, json)
}

fn code(output: &Output) -> i32 {
    output.status.code().unwrap_or(-1)
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test]
async fn table_create_makes_an_on_demand_table_with_ttl_and_optional_sort_key() {
    let pool = Pool::new(PoolOptions::default()).await;
    for (table, sort_key) in [("cli-sessions", None), ("cli-sessions-sorted", Some("sk"))] {
        let mut args = vec!["table", "create", "--table", table, "--partition-key", "pk"];
        if let Some(sort_key) = sort_key {
            args.extend(["--sort-key", sort_key]);
        }
        let (output, json) = cli(&pool, &args).await;
        assert_eq!(code(&output), 0, "{}", stderr(&output));
        assert_eq!(json["ttl_attribute"], "expires_at");

        let described = pool
            .dynamodb
            .describe_table()
            .table_name(table)
            .send()
            .await
            .unwrap();
        let description = described.table().unwrap();
        assert_eq!(
            description
                .billing_mode_summary()
                .and_then(|b| b.billing_mode())
                .map(|m| m.as_str()),
            Some("PAY_PER_REQUEST")
        );
        let keys: Vec<(String, KeyType)> = description
            .key_schema()
            .iter()
            .map(|k| (k.attribute_name().to_owned(), k.key_type().clone()))
            .collect();
        let mut expected = vec![("pk".to_owned(), KeyType::Hash)];
        if let Some(sort_key) = sort_key {
            expected.push((sort_key.to_owned(), KeyType::Range));
        }
        assert_eq!(keys, expected);
        let ttl = pool
            .dynamodb
            .describe_time_to_live()
            .table_name(table)
            .send()
            .await
            .unwrap();
        let ttl = ttl.time_to_live_description().unwrap();
        assert_eq!(ttl.attribute_name(), Some("expires_at"));
        assert_eq!(ttl.time_to_live_status(), Some(&TimeToLiveStatus::Enabled));
    }
    // Creating it again is refused (exit 1), naming the problem.
    let (output, _) = cli(
        &pool,
        &[
            "table",
            "create",
            "--table",
            "cli-sessions",
            "--partition-key",
            "pk",
        ],
    )
    .await;
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    assert!(
        stderr(&output).contains("ResourceInUse"),
        "{}",
        stderr(&output)
    );
}

#[tokio::test]
async fn token_verify_prints_claims_or_the_typed_reason() {
    let pool = Pool::new(PoolOptions::default()).await;
    let sub = pool.user("cli-verify").await;
    let login = pool.login("cli-verify").await;
    let token = login.access_token().unwrap();
    let verify = |token: String, client: String| {
        let pool = pool.clone();
        async move {
            cli(
                &pool,
                &[
                    "token",
                    "verify",
                    &token,
                    "--client-id",
                    &client,
                    "--user-pool-id",
                    &pool.pool_id,
                ],
            )
            .await
        }
    };
    let (output, json) = verify(token.to_owned(), pool.client_id.clone()).await;
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(json["valid"], true);
    assert_eq!(json["expired"], false);
    assert_eq!(json["sub"], sub.as_str());
    assert_eq!(json["username"], "cli-verify");
    assert_eq!(json["token_use"], "access");

    // Expired but refreshable: valid, flagged expired.
    let mut claims = testkit::peek(token);
    let iat = testkit::now() - 7200;
    claims["iat"] = iat.into();
    claims["exp"] = (iat + 3600).into();
    let (output, json) = verify(Minter::moto().access(&claims), pool.client_id.clone()).await;
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(json["expired"], true);

    // Another app client: refused with the claims step's reason.
    let (output, json) = verify(token.to_owned(), "another-client".into()).await;
    assert_eq!(code(&output), 1);
    assert_eq!(json["valid"], false);
    assert!(
        json["reason"]
            .as_str()
            .unwrap()
            .contains("another app client"),
        "{json}"
    );
    // Unsigned: refused at the signature or header step.
    let (output, json) = verify(testkit::unsigned(&claims), pool.client_id.clone()).await;
    assert_eq!(code(&output), 1, "{json}");
    assert!(
        json["reason"]
            .as_str()
            .unwrap()
            .starts_with("invalid token"),
        "{json}"
    );
    // Garbage: malformed.
    let (output, json) = verify("not-a-jwt".into(), pool.client_id.clone()).await;
    assert_eq!(code(&output), 1);
    assert!(
        json["detail"].as_str().unwrap().contains("Malformed"),
        "{json}"
    );
}

#[tokio::test]
async fn session_show_and_end() {
    let pool = Pool::new(PoolOptions::default()).await;
    let sub = pool.user("cli-session").await;
    let login = pool.login("cli-session").await;
    let refresh_token = login.refresh_token().unwrap();
    pool.put_seed_row(&sub, refresh_token).await;
    let table = [
        "--table",
        pool.table.as_str(),
        "--partition-key",
        pool.partition_key.as_str(),
    ];
    let run = |command: &'static str, sub: String| {
        let pool = pool.clone();
        async move {
            let mut args = vec!["session", command, sub.as_str()];
            args.extend(table);
            cli(&pool, &args).await
        }
    };

    let (output, json) = run("show", sub.clone()).await;
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(json["sub"], sub.as_str());
    assert_eq!(json["has_refresh_token"], true);
    assert!(json["timestamp"].as_i64().unwrap() > 1_700_000_000);
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        !printed.contains(refresh_token),
        "the refresh token must never be printed"
    );

    let (output, json) = run("end", sub.clone()).await;
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(json["ended"], true);
    assert!(pool.row(&sub).await.is_none());

    let (output, _) = run("show", sub.clone()).await;
    assert_eq!(code(&output), 1);
    assert!(
        stderr(&output).contains("no session"),
        "{}",
        stderr(&output)
    );
    let (output, json) = run("end", sub.clone()).await;
    assert_eq!(code(&output), 0);
    assert_eq!(json["ended"], false);

    // A wrong table is a configuration error (exit 2) that names it.
    let (output, _) = cli(
        &pool,
        &[
            "session",
            "show",
            &sub,
            "--table",
            "no-such-table",
            "--partition-key",
            "sub",
        ],
    )
    .await;
    assert_eq!(code(&output), 2, "{}", stderr(&output));
    assert!(
        stderr(&output).contains("no-such-table"),
        "{}",
        stderr(&output)
    );
}

#[tokio::test]
async fn an_unreachable_aws_is_exit_status_3() {
    let pool = Pool::new(PoolOptions::default()).await;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_cognito-session"))
        .args([
            "session",
            "show",
            "x",
            "--table",
            &pool.table,
            "--partition-key",
            "sub",
        ])
        .env_clear()
        .env("AWS_ENDPOINT_URL", &dead)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_MAX_ATTEMPTS", "1")
        .output()
        .await
        .unwrap();
    assert_eq!(code(&output), 3, "{}", stderr(&output));
}
