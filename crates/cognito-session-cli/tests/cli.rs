//! Every command of the `cognito-session` binary, run as a process against moto.

use std::process::Output;

use aws_sdk_dynamodb::types::{KeyType, TimeToLiveStatus};
use serde_json::Value;
use testkit::{Minter, Pool, PoolOptions};

/// Runs the CLI with moto's endpoint and dummy credentials, and nothing else from the environment.
async fn cli(pool: &Pool, args: &[&str]) -> (Output, Value) {
    cli_with(&pool.moto.url, &[], None, args).await
}

/// Runs the CLI against `endpoint` with dummy credentials, the variables `vars` and nothing else
/// from the environment, with `stdin` piped in (or none).
async fn cli_with(
    endpoint: &str,
    vars: &[(&str, &str)],
    stdin: Option<&str>,
    args: &[&str],
) -> (Output, Value) {
    use std::process::Stdio;
    use tokio::io::AsyncWriteExt;
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_cognito-session"));
    command
        .args(args)
        .env_clear()
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .envs(vars.iter().copied())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("run the CLI");
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("stdin");
        pipe.write_all(input.as_bytes()).await.expect("write stdin");
    }
    let output = child.wait_with_output().await.expect("run the CLI");
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
    // Creating it again with the same schema is nothing to do (exit 0).
    let args = [
        "table",
        "create",
        "--table",
        "cli-sessions",
        "--partition-key",
        "pk",
    ];
    let (output, json) = cli(&pool, &args).await;
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(json["status"], "exists");
    assert_eq!(json["differences"], serde_json::json!([]));
}

#[tokio::test]
async fn table_create_on_an_existing_table_says_what_differs() {
    let pool = Pool::new(PoolOptions::default()).await;
    // A table made by hand: key "id", no sort key, no TTL.
    pool.dynamodb
        .create_table()
        .table_name("by-hand")
        .billing_mode(aws_sdk_dynamodb::types::BillingMode::PayPerRequest)
        .attribute_definitions(
            aws_sdk_dynamodb::types::AttributeDefinition::builder()
                .attribute_name("id")
                .attribute_type(aws_sdk_dynamodb::types::ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            aws_sdk_dynamodb::types::KeySchemaElement::builder()
                .attribute_name("id")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let base = ["table", "create", "--table", "by-hand", "--partition-key"];
    let cases: [(&[&str], &[&str]); 3] = [
        (&["id"], &["TTL is off", "expires_at"]),
        (
            &["pk"],
            &["partition key is \"id\", not \"pk\"", "PARTITION_KEY"],
        ),
        (&["id", "--sort-key", "sk"], &["no sort key", "SORT_KEY"]),
    ];
    for (rest, expected) in cases {
        let args: Vec<&str> = base.iter().chain(rest).copied().collect();
        let (output, json) = cli(&pool, &args).await;
        assert_eq!(code(&output), 2, "{args:?}: {}", stderr(&output));
        let text = stderr(&output);
        for part in expected {
            assert!(text.contains(part), "{args:?}: {part:?} missing in {text}");
        }
        assert!(!json["differences"].as_array().unwrap().is_empty());
    }
    // Nothing was changed: TTL is still off.
    let ttl = pool
        .dynamodb
        .describe_time_to_live()
        .table_name("by-hand")
        .send()
        .await
        .unwrap();
    assert_ne!(
        ttl.time_to_live_description()
            .and_then(|t| t.time_to_live_status()),
        Some(&TimeToLiveStatus::Enabled)
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
    // A stable code, not Rust Debug text.
    assert_eq!(json["detail"], "claims.client", "{json}");
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
    assert_eq!(json["detail"], "malformed.segments", "{json}");
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
            if command == "end" {
                args.extend(["--client-id", pool.client_id.as_str()]);
            }
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

    // Ending it (moto answers `RevokeToken` with HTTP 500: "revocation pending", not a failure).
    let (output, json) = run("end", sub.clone()).await;
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(json["ended"], true);
    assert!(pool.row(&sub).await.is_none());
    assert!(
        stderr(&output).contains("revocation pending"),
        "{}",
        stderr(&output)
    );

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
    assert!(
        stderr(&output).contains("(AWS Region us-east-1)"),
        "a failure names the Region called: {}",
        stderr(&output)
    );
}

/// A store on `pool`'s table (with its sort key, if any), and the table's name and the key to
/// encrypt with (as the library does above the store), if given.
struct Rows {
    store: cognito_session::store::DynamoDbStore,
    table: String,
    sealer: Option<cognito_session::Sealer>,
}

impl std::ops::Deref for Rows {
    type Target = cognito_session::store::DynamoDbStore;
    fn deref(&self) -> &Self::Target {
        &self.store
    }
}

fn store(pool: &Pool, key: Option<[u8; 32]>) -> Rows {
    use cognito_session::store::DynamoDbStore;
    let mut store = DynamoDbStore::new(pool.dynamodb.clone(), &pool.table, &pool.partition_key);
    if let Some(sort_key) = &pool.sort_key {
        store = store.with_sort_key(sort_key);
    }
    Rows {
        store,
        table: pool.table.clone(),
        sealer: key.map(|key| cognito_session::Sealer::new(key, vec![])),
    }
}

/// Writes a session row of `sub` (user `username`, as the library's login records it) holding
/// `refresh_token` (device `session_id` on a sort-key table), sealed as the library seals it.
async fn put_row(
    rows: &Rows,
    (sub, username): (&str, &str),
    session_id: Option<&str>,
    refresh_token: &str,
) {
    use cognito_session::store::{SessionRow, SessionStore};
    let aad = format!("{}\0{sub}\0{}", rows.table, session_id.unwrap_or_default());
    let stored = match &rows.sealer {
        Some(sealer) => sealer.seal(refresh_token, aad.as_bytes()).unwrap(),
        None => refresh_token.to_owned(),
    };
    let store = &rows.store;
    let mut row = SessionRow::new(
        sub,
        stored,
        i64::try_from(testkit::now()).unwrap(),
        session_id.map(str::to_owned),
    );
    row.session_id = session_id.map(str::to_owned);
    row.username = Some(username.to_owned());
    store.put(&row).await.expect("put a session row");
}

/// 32 zero bytes, the test's encryption key, and its base64 (`SESSION_ENCRYPTION_KEY`).
const KEY: [u8; 32] = [0; 32];
const KEY_BASE64: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

#[tokio::test]
async fn session_end_revokes_the_refresh_token() {
    let pool = Pool::new(PoolOptions::default()).await;
    let fake = std::sync::Arc::new(testkit::FakeCognito::new(
        &pool.issuer(),
        &pool.client_id,
        std::time::Duration::from_secs(30),
    ));
    let proxy = testkit::Proxy::with_fake(&pool.moto.url, fake.clone()).await;
    let end = |sub: String, vars: Vec<(&'static str, &'static str)>| {
        let (pool, url) = (pool.clone(), proxy.url.clone());
        async move {
            let args = [
                "session",
                "end",
                sub.as_str(),
                "--table",
                pool.table.as_str(),
                "--partition-key",
                pool.partition_key.as_str(),
                "--client-id",
                pool.client_id.as_str(),
            ];
            cli_with(&url, &vars, None, &args).await
        }
    };

    // A plaintext row: deleted, and its refresh token revoked.
    let sub = pool.user("cli-end").await;
    let refresh_token = pool
        .login("cli-end")
        .await
        .refresh_token()
        .unwrap()
        .to_owned();
    pool.put_seed_row(&sub, &refresh_token).await;
    let (output, json) = end(sub.clone(), vec![]).await;
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(json["ended"], true);
    assert!(pool.row(&sub).await.is_none());
    assert_eq!(fake.revoked(), vec![refresh_token.clone()]);

    // An encrypted row under a key the CLI lacks: exit 2 naming the key id, the row untouched.
    let sealed = store(&pool, Some(KEY));
    put_row(&sealed, (&sub, "cli-end"), None, &refresh_token).await;
    let before = pool.row(&sub).await.unwrap();
    let key_id = cognito_session::Sealer::new(KEY, vec![])
        .key_id()
        .to_owned();
    let (output, _) = end(sub.clone(), vec![]).await;
    assert_eq!(code(&output), 2, "{}", stderr(&output));
    assert!(stderr(&output).contains(&key_id), "{}", stderr(&output));
    assert_eq!(pool.row(&sub).await, Some(before), "the row is untouched");
    assert_eq!(fake.revoked().len(), 1, "nothing was sent to Cognito");

    // With the key: decrypted, deleted, and the plaintext refresh token revoked.
    let (output, json) = end(sub.clone(), vec![("SESSION_ENCRYPTION_KEY", KEY_BASE64)]).await;
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(json["ended"], true);
    assert!(pool.row(&sub).await.is_none());
    assert_eq!(fake.revoked(), vec![refresh_token.clone(), refresh_token]);
}

#[tokio::test]
async fn session_end_all_signs_the_user_out_everywhere() {
    let pool = Pool::new(PoolOptions {
        sort_key: Some("sid".into()),
        ..PoolOptions::default()
    })
    .await;
    let sub = pool.user("cli-end-all").await;
    let mut refresh_tokens = Vec::new();
    let store = store(&pool, None);
    for device in ["laptop", "phone"] {
        let login = pool.login("cli-end-all").await;
        let refresh_token = login.refresh_token().unwrap().to_owned();
        put_row(&store, (&sub, "cli-end-all"), Some(device), &refresh_token).await;
        refresh_tokens.push(refresh_token);
    }
    let table = [
        "--table",
        pool.table.as_str(),
        "--partition-key",
        pool.partition_key.as_str(),
        "--sort-key",
        "sid",
        "--client-id",
        pool.client_id.as_str(),
    ];
    // Two devices: one must be named, or all ended.
    let mut args = vec!["session", "end", sub.as_str()];
    args.extend(table);
    let (output, _) = cli(&pool, &args).await;
    assert_eq!(code(&output), 2, "{}", stderr(&output));
    assert!(stderr(&output).contains("--all"), "{}", stderr(&output));
    // --all needs the user pool.
    args.push("--all");
    let (output, _) = cli(&pool, &args).await;
    assert_eq!(code(&output), 2, "{}", stderr(&output));
    assert!(
        stderr(&output).contains("USER_POOL_ID"),
        "{}",
        stderr(&output)
    );
    use cognito_session::store::SessionStore;
    assert_eq!(store.list(&sub).await.unwrap().len(), 2, "nothing ended");

    args.extend(["--user-pool-id", pool.pool_id.as_str()]);
    let (output, json) = cli(&pool, &args).await;
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(json["sessions"], 2);
    assert!(
        store.list(&sub).await.unwrap().is_empty(),
        "every row is gone"
    );
    // AdminUserGlobalSignOut: no refresh token of the user works any more.
    for refresh_token in refresh_tokens {
        let refreshed = pool
            .cognito
            .initiate_auth()
            .client_id(&pool.client_id)
            .auth_flow(aws_sdk_cognitoidentityprovider::types::AuthFlowType::RefreshTokenAuth)
            .auth_parameters("REFRESH_TOKEN", refresh_token)
            .send()
            .await;
        assert!(refreshed.is_err(), "{refreshed:?}");
    }
}

#[tokio::test]
async fn session_list_shows_every_device_without_tokens() {
    let pool = Pool::new(PoolOptions {
        sort_key: Some("sid".into()),
        ..PoolOptions::default()
    })
    .await;
    let plain = store(&pool, None);
    let sealed = store(&pool, Some(KEY));
    put_row(
        &plain,
        ("user-1", "user-1"),
        Some("laptop"),
        "refresh-token-of-the-laptop",
    )
    .await;
    put_row(
        &sealed,
        ("user-1", "user-1"),
        Some("phone"),
        "refresh-token-of-the-phone",
    )
    .await;
    put_row(
        &plain,
        ("user-2", "user-2"),
        Some("tablet"),
        "refresh-token-of-someone-else",
    )
    .await;
    let (output, json) = cli(
        &pool,
        &[
            "session",
            "list",
            "user-1",
            "--table",
            &pool.table,
            "--partition-key",
            &pool.partition_key,
            "--sort-key",
            "sid",
        ],
    )
    .await;
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let mut devices: Vec<&str> = json["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["session_id"].as_str().unwrap())
        .collect();
    devices.sort_unstable();
    assert_eq!(devices, ["laptop", "phone"], "{json}");
    let key_id = cognito_session::Sealer::new(KEY, vec![])
        .key_id()
        .to_owned();
    assert!(json["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["key_id"] == key_id.as_str()));
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(!printed.contains("refresh-token-of"), "{printed}");
    let sealed_value = pool
        .dynamodb
        .get_item()
        .table_name(&pool.table)
        .key(
            "sub",
            aws_sdk_dynamodb::types::AttributeValue::S("user-1".into()),
        )
        .key(
            "sid",
            aws_sdk_dynamodb::types::AttributeValue::S("phone".into()),
        )
        .send()
        .await
        .unwrap()
        .item
        .unwrap()["token"]
        .as_s()
        .unwrap()
        .clone();
    assert!(!printed.contains(&sealed_value), "{printed}");
}

#[tokio::test]
async fn token_verify_checks_id_tokens_too() {
    let pool = Pool::new(PoolOptions::default()).await;
    let sub = pool.user("cli-id").await;
    let login = pool.login("cli-id").await;
    let (id, access) = (login.id_token().unwrap(), login.access_token().unwrap());
    let verify = |token: &str, token_use: &str| {
        let (pool, token, token_use) = (pool.clone(), token.to_owned(), token_use.to_owned());
        async move {
            let mut args = vec![
                "token",
                "verify",
                token.as_str(),
                "--client-id",
                pool.client_id.as_str(),
                "--user-pool-id",
                pool.pool_id.as_str(),
            ];
            if !token_use.is_empty() {
                args.extend(["--token-use", token_use.as_str()]);
            }
            cli(&pool, &args).await
        }
    };
    // Auto (the default) and `id`: verified, with the ID token's own claims.
    for token_use in ["", "id"] {
        let (output, json) = verify(id, token_use).await;
        assert_eq!(code(&output), 0, "{token_use}: {}", stderr(&output));
        assert_eq!(json["valid"], true);
        assert_eq!(json["token_use"], "id");
        assert_eq!(json["sub"], sub.as_str());
        assert_eq!(json["username"], "cli-id", "cognito:username");
        assert_eq!(json["client_id"], pool.client_id.as_str(), "aud");
        assert!(json["custom"].is_object(), "{json}");
    }
    // `access` refuses the ID token, `id` the access token: by token use.
    for (token, token_use, found) in [(id, "access", "\"id\""), (access, "id", "\"access\"")] {
        let (output, json) = verify(token, token_use).await;
        assert_eq!(code(&output), 1, "{json}");
        assert_eq!(json["valid"], false);
        let reason = json["reason"].as_str().unwrap();
        assert!(
            reason.contains("token_use = ") && reason.contains(found),
            "{reason}"
        );
    }
    // An ID token of another app client: refused by its `aud`.
    let (output, json) = cli(
        &pool,
        &[
            "token",
            "verify",
            id,
            "--client-id",
            "another-client",
            "--user-pool-id",
            &pool.pool_id,
        ],
    )
    .await;
    assert_eq!(code(&output), 1, "{json}");
    assert!(
        json["reason"]
            .as_str()
            .unwrap()
            .contains("another app client"),
        "{json}"
    );
}

#[tokio::test]
async fn token_verify_reads_stdin() {
    let pool = Pool::new(PoolOptions::default()).await;
    let sub = pool.user("cli-stdin").await;
    let token = pool
        .login("cli-stdin")
        .await
        .access_token()
        .unwrap()
        .to_owned();
    let args = [
        "token",
        "verify",
        "-",
        "--client-id",
        pool.client_id.as_str(),
        "--user-pool-id",
        pool.pool_id.as_str(),
    ];
    let (output, json) = cli_with(&pool.moto.url, &[], Some(&format!("{token}\n")), &args).await;
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(json["valid"], true);
    assert_eq!(json["sub"], sub.as_str());
    // Nothing on stdin: a usage error, not a refused token.
    let (output, _) = cli_with(&pool.moto.url, &[], Some(""), &args).await;
    assert_eq!(code(&output), 2, "{}", stderr(&output));
    assert!(stderr(&output).contains("stdin"), "{}", stderr(&output));
}

#[tokio::test]
async fn sort_key_falls_back_to_the_variable() {
    let pool = Pool::new(PoolOptions::default()).await;
    let (output, json) = cli_with(
        &pool.moto.url,
        &[("SORT_KEY", "device")],
        None,
        &[
            "table",
            "create",
            "--table",
            "cli-env-sorted",
            "--partition-key",
            "pk",
        ],
    )
    .await;
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(json["sort_key"], "device");
    let described = pool
        .dynamodb
        .describe_table()
        .table_name("cli-env-sorted")
        .send()
        .await
        .unwrap();
    let range: Vec<&str> = described
        .table()
        .unwrap()
        .key_schema()
        .iter()
        .filter(|k| k.key_type() == &KeyType::Range)
        .map(|k| k.attribute_name())
        .collect();
    assert_eq!(range, ["device"]);

    // A sort key the table does not have: a usage error (exit 2) that says so.
    pool.put_seed_row("user-1", "refresh-token").await;
    for (vars, flag) in [(vec![], Some("sid")), (vec![("SORT_KEY", "sid")], None)] {
        let mut args = vec![
            "session",
            "show",
            "user-1",
            "--table",
            pool.table.as_str(),
            "--partition-key",
            pool.partition_key.as_str(),
        ];
        if let Some(flag) = flag {
            args.extend(["--sort-key", flag]);
        }
        let (output, _) = cli_with(&pool.moto.url, &vars, None, &args).await;
        assert_eq!(code(&output), 2, "{}", stderr(&output));
        assert!(
            stderr(&output).contains("has no sort key"),
            "{}",
            stderr(&output)
        );
    }
}
