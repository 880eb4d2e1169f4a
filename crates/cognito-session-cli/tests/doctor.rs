//! `cognito-session doctor` as a process against moto: a healthy configuration, then each
//! misconfiguration staged, each producing its own FAIL (or WARN) line and exit status.

use std::collections::BTreeSet;
use std::process::Output;

use aws_sdk_cognitoidentityprovider::types::{
    ExplicitAuthFlowsType, FeatureType, RefreshTokenRotationType,
};
use aws_sdk_dynamodb::types::{AttributeValue, TimeToLiveSpecification};
use cognito_session::Sealer;
use serde_json::Value;
use testkit::{Minter, Pool, PoolOptions};

/// 32 zero bytes, the test's encryption key, and its base64 (`SESSION_ENCRYPTION_KEY`).
const KEY: [u8; 32] = [0; 32];
const KEY_BASE64: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

/// Runs `cognito-session doctor` against `endpoint` with dummy credentials, the variables
/// `vars` and nothing else from the environment.
async fn doctor(endpoint: &str, vars: &[(&str, &str)], args: &[&str]) -> (Output, Value) {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_cognito-session"))
        .arg("doctor")
        .args(args)
        .env_clear()
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_MAX_ATTEMPTS", "1")
        .envs(vars.iter().copied())
        .output()
        .await
        .expect("run the CLI");
    let json = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    (output, json)
}

/// The function's variables for `pool`.
fn vars(pool: &Pool) -> Vec<(&'static str, String)> {
    vec![
        ("SESSION_TABLE", pool.table.clone()),
        ("PARTITION_KEY", pool.partition_key.clone()),
        ("CLIENT_ID", pool.client_id.clone()),
        ("USER_POOL_ID", pool.pool_id.clone()),
    ]
}

/// `doctor --json` with `pool`'s variables, `extra` on top (replacing same-named ones).
async fn run(pool: &Pool, extra: &[(&'static str, &str)], args: &[&str]) -> (Output, Value) {
    let mut all: Vec<(&str, String)> = vars(pool)
        .into_iter()
        .filter(|(k, _)| !extra.iter().any(|(e, _)| e == k))
        .collect();
    all.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
    let borrowed: Vec<(&str, &str)> = all.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut args = args.to_vec();
    args.push("--json");
    doctor(&pool.moto.url, &borrowed, &args).await
}

fn code(output: &Output) -> i32 {
    output.status.code().unwrap_or(-1)
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The checks with this status, by code.
fn with_status(json: &Value, status: &str) -> BTreeSet<String> {
    json["checks"]
        .as_array()
        .expect("a checks array")
        .iter()
        .filter(|c| c["status"] == status)
        .map(|c| c["code"].as_str().expect("a code").to_owned())
        .collect()
}

/// The first check with this code.
fn line<'a>(json: &'a Value, code: &str) -> &'a Value {
    json["checks"]
        .as_array()
        .expect("a checks array")
        .iter()
        .find(|c| c["code"] == code)
        .unwrap_or_else(|| panic!("no {code} line in {json:#}"))
}

fn set(codes: &[&str]) -> BTreeSet<String> {
    codes.iter().map(|c| (*c).to_owned()).collect()
}

/// Turns on TTL for `expires_at`, as `table create` does.
async fn enable_ttl(pool: &Pool) {
    pool.dynamodb
        .update_time_to_live()
        .table_name(&pool.table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name("expires_at")
                .enabled(true)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("enable TTL");
}

/// Writes a row of `sub` as the library does with encryption on: the refresh token sealed
/// with `key`, bound to the row (table, sub, no session id).
async fn put_sealed_row(pool: &Pool, key: [u8; 32], sub: &str) {
    let aad = [pool.table.as_bytes(), b"\0", sub.as_bytes(), b"\0"].concat();
    let sealed = Sealer::new(key, vec![])
        .seal("refresh-token-of-the-test", &aad)
        .unwrap();
    pool.dynamodb
        .put_item()
        .table_name(&pool.table)
        .item(&pool.partition_key, AttributeValue::S(sub.into()))
        .item("token", AttributeValue::S(sealed))
        .item("timestamp", AttributeValue::N(testkit::now().to_string()))
        .send()
        .await
        .expect("put a sealed row");
}

/// What moto does not provide, reported honestly: it does not report the app client's
/// refresh-token rotation unless it was set, and answers `RevokeToken` with HTTP 500.
const MOTO_GAPS: [&str; 2] = ["client.rotation", "iam.revoke_token"];

#[tokio::test]
async fn doctor_passes_a_healthy_configuration_except_what_moto_lacks() {
    let pool = Pool::new(PoolOptions::default()).await;
    enable_ttl(&pool).await;
    let sub = pool.user("doctor-ok").await;
    let login = pool.login("doctor-ok").await;
    let access_token = login.access_token().unwrap().to_owned();
    pool.put_seed_row("plain-user", "plain-refresh-token").await;
    put_sealed_row(&pool, KEY, &sub).await;
    let jwks = fetch_body(&pool.jwks_url()).await;

    let extra = [
        ("SESSION_ENCRYPTION_KEY", KEY_BASE64),
        ("COGNITO_JWKS", jwks.as_str()),
    ];
    let (output, json) = run(&pool, &extra, &["--token", &access_token]).await;
    assert_eq!(code(&output), 1, "{}", text(&output));
    assert_eq!(with_status(&json, "fail"), set(&[]), "{json:#}");
    assert_eq!(with_status(&json, "warn"), set(&MOTO_GAPS), "{json:#}");
    assert_eq!(json["status"], "warn");
    for ok in [
        "aws.region",
        "table.exists",
        "table.key_schema",
        "table.ttl",
        "table.sample",
        "table.key_ids",
        "iam.get_item",
        "iam.put_item",
        "iam.update_item",
        "iam.delete_item",
        "pool.exists",
        "pool.devices",
        "client.exists",
        "client.refresh_flow",
        "client.secret",
        "client.revocation",
        "client.refresh_validity",
        "iam.refresh",
        "jwks.fetch",
        "jwks.keys",
        "jwks.preload",
        "jwks.preload_matches",
        "token.issuer",
        "token.client_id",
        "token.token_use",
        "token.expiry",
        "token.kid",
        "token.signature",
    ] {
        assert_eq!(line(&json, ok)["status"], "ok", "{ok}: {json:#}");
    }
    assert_eq!(line(&json, "table.billing")["status"], "info");
    assert!(
        line(&json, "iam.revoke_token")["message"]
            .as_str()
            .unwrap()
            .contains("HTTP 500"),
        "{json:#}"
    );
    let key_id = Sealer::new(KEY, vec![]).key_id().to_owned();
    assert!(
        line(&json, "table.sample")["message"]
            .as_str()
            .unwrap()
            .contains(&key_id),
        "{json:#}"
    );
    let printed = text(&output);
    for secret in [
        access_token.as_str(),
        "plain-refresh-token",
        KEY_BASE64,
        login.refresh_token().unwrap(),
    ] {
        assert!(!printed.contains(secret), "a secret was printed: {printed}");
    }

    // Once the client reports its rotation (off), that check passes too.
    pool.cognito
        .update_user_pool_client()
        .user_pool_id(&pool.pool_id)
        .client_id(&pool.client_id)
        .refresh_token_rotation(
            RefreshTokenRotationType::builder()
                .feature(FeatureType::Disabled)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let key = [("SESSION_ENCRYPTION_KEY", KEY_BASE64)];
    let (output, json) = run(&pool, &key, &[]).await;
    assert_eq!(code(&output), 1, "{}", text(&output));
    assert_eq!(line(&json, "client.rotation")["status"], "ok", "{json:#}");
    assert_eq!(with_status(&json, "warn"), set(&["iam.revoke_token"]));
    // ... and REFRESH_TOKEN_ROTATION=true against it is named.
    let (_, json) = run(&pool, &[("REFRESH_TOKEN_ROTATION", "true")], &[]).await;
    assert_eq!(line(&json, "client.rotation")["status"], "warn", "{json:#}");
    assert!(
        line(&json, "client.rotation")["fix"]
            .as_str()
            .unwrap()
            .contains("REFRESH_TOKEN_ROTATION"),
        "{json:#}"
    );

    // The text form: one line per check, the fix under it, the summary last.
    let mut borrowed: Vec<(&str, String)> = vars(&pool);
    borrowed.push(("SESSION_ENCRYPTION_KEY", KEY_BASE64.into()));
    let borrowed: Vec<(&str, &str)> = borrowed.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (output, _) = doctor(&pool.moto.url, &borrowed, &[]).await;
    assert_eq!(code(&output), 1);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("OK    table.exists"), "{stdout}");
    assert!(stdout.contains("WARN  iam.revoke_token"), "{stdout}");
    assert!(stdout.contains("fix: "), "{stdout}");
    assert!(
        stdout.trim_end().ends_with("0 failures, 1 warning"),
        "{stdout}"
    );
}

/// The JWKS body at `url` (moto's), fetched with the verifier's own fetcher.
async fn fetch_body(url: &str) -> String {
    use cognito_jwt::JwksFetcher;
    let body = cognito_jwt::HttpsFetcher
        .fetch(url)
        .await
        .expect("GET jwks");
    String::from_utf8(body).unwrap()
}

#[tokio::test]
async fn doctor_names_each_broken_table_setting() {
    let pool = Pool::new(PoolOptions::default()).await;

    // TTL off: a warning (sessions still expire; their rows are never deleted).
    let (output, json) = run(&pool, &[], &[]).await;
    assert_eq!(code(&output), 1, "{}", text(&output));
    let mut expected = set(&MOTO_GAPS);
    expected.insert("table.ttl".into());
    assert_eq!(with_status(&json, "warn"), expected, "{json:#}");
    assert!(line(&json, "table.ttl")["fix"]
        .as_str()
        .unwrap()
        .contains("expires_at"));
    enable_ttl(&pool).await;

    // A wrong table name.
    let (output, json) = run(&pool, &[("SESSION_TABLE", "no-such-table")], &[]).await;
    assert_eq!(code(&output), 2, "{}", text(&output));
    assert_eq!(
        with_status(&json, "fail"),
        set(&["table.exists"]),
        "{json:#}"
    );
    let exists = line(&json, "table.exists");
    assert!(exists["message"]
        .as_str()
        .unwrap()
        .contains("no-such-table"));
    assert!(exists["fix"].as_str().unwrap().contains("SESSION_TABLE"));
    assert_eq!(line(&json, "iam.dynamodb")["status"], "info");

    // A wrong partition key name, from the variable, then from the flag: the fix names each.
    let (output, json) = run(&pool, &[("PARTITION_KEY", "user_id")], &[]).await;
    assert_eq!(code(&output), 2, "{}", text(&output));
    assert_eq!(
        with_status(&json, "fail"),
        set(&["table.key_schema"]),
        "{json:#}"
    );
    let schema = line(&json, "table.key_schema");
    assert!(
        schema["message"].as_str().unwrap().contains("\"sub\""),
        "{schema}"
    );
    assert!(
        schema["fix"].as_str().unwrap().contains("PARTITION_KEY"),
        "{schema}"
    );
    let (output, json) = run(&pool, &[], &["--partition-key", "user_id"]).await;
    assert_eq!(code(&output), 2);
    assert!(line(&json, "table.key_schema")["fix"]
        .as_str()
        .unwrap()
        .contains("--partition-key"));
    // A sort key the table does not have.
    let (output, json) = run(&pool, &[("SORT_KEY", "sid")], &[]).await;
    assert_eq!(code(&output), 2);
    assert!(line(&json, "table.key_schema")["message"]
        .as_str()
        .unwrap()
        .contains("no sort key"));

    // A row sealed under a key the function does not have: its key id named.
    let stranger = [7u8; 32];
    put_sealed_row(&pool, stranger, "sealed-user").await;
    let stranger_id = Sealer::new(stranger, vec![]).key_id().to_owned();
    for extra in [vec![], vec![("SESSION_ENCRYPTION_KEY", KEY_BASE64)]] {
        let (output, json) = run(&pool, &extra, &[]).await;
        assert_eq!(code(&output), 2, "{}", text(&output));
        assert_eq!(
            with_status(&json, "fail"),
            set(&["table.key_ids"]),
            "{json:#}"
        );
        let key_ids = line(&json, "table.key_ids");
        assert!(key_ids["message"].as_str().unwrap().contains(&stranger_id));
        assert!(key_ids["fix"]
            .as_str()
            .unwrap()
            .contains("SESSION_ENCRYPTION_OLD_KEYS"));
    }
    // With the key among the old ones: it decrypts.
    let old = base64_of(stranger);
    let (output, json) = run(
        &pool,
        &[
            ("SESSION_ENCRYPTION_KEY", KEY_BASE64),
            ("SESSION_ENCRYPTION_OLD_KEYS", old.as_str()),
        ],
        &[],
    )
    .await;
    assert_eq!(code(&output), 1, "{}", text(&output));
    assert_eq!(line(&json, "table.key_ids")["status"], "ok", "{json:#}");

    // The key from KMS (SESSION_KMS_CIPHERTEXT), as the function's cold start gets it.
    let kms = aws_sdk_kms::Client::new(&pool.sdk);
    let kms_key = kms
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    let data_key = kms
        .generate_data_key()
        .key_id(&kms_key)
        .key_spec(aws_sdk_kms::types::DataKeySpec::Aes256)
        .send()
        .await
        .unwrap();
    let plaintext: [u8; 32] = data_key.plaintext.unwrap().into_inner().try_into().unwrap();
    let ciphertext = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .encode(data_key.ciphertext_blob.unwrap().into_inner())
    };
    put_sealed_row(&pool, plaintext, "kms-user").await;
    let with_kms = [
        ("SESSION_KMS_CIPHERTEXT", ciphertext.as_str()),
        ("SESSION_ENCRYPTION_OLD_KEYS", old.as_str()),
    ];
    let (output, json) = run(&pool, &with_kms, &[]).await;
    assert_eq!(code(&output), 1, "{}", text(&output));
    assert_eq!(line(&json, "iam.kms_decrypt")["status"], "ok", "{json:#}");
    assert_eq!(line(&json, "table.key_ids")["status"], "ok", "{json:#}");
    // A sealed value copied into another row does not decrypt there (bound to its row).
    let sealed = pool.row("kms-user").await.unwrap()["token"].clone();
    pool.dynamodb
        .put_item()
        .table_name(&pool.table)
        .item("sub", AttributeValue::S("copied-user".into()))
        .item("token", sealed)
        .item("timestamp", AttributeValue::N(testkit::now().to_string()))
        .send()
        .await
        .unwrap();
    let (output, json) = run(&pool, &with_kms, &[]).await;
    assert_eq!(code(&output), 2, "{}", text(&output));
    assert!(line(&json, "table.key_ids")["message"]
        .as_str()
        .unwrap()
        .contains("do not decrypt"));
    let (output, json) = run(&pool, &[("SESSION_KMS_CIPHERTEXT", "AAAAAAAA")], &[]).await;
    assert_eq!(code(&output), 2, "{}", text(&output));
    assert_eq!(line(&json, "iam.kms_decrypt")["status"], "fail", "{json:#}");

    // One session per device: the sort key checked, and Query tried.
    let sorted = Pool::new(PoolOptions {
        sort_key: Some("sid".into()),
        ..PoolOptions::default()
    })
    .await;
    enable_ttl(&sorted).await;
    let (output, json) = run(&sorted, &[("SORT_KEY", "sid")], &[]).await;
    assert_eq!(code(&output), 1, "{}", text(&output));
    assert_eq!(line(&json, "table.key_schema")["status"], "ok", "{json:#}");
    assert_eq!(line(&json, "iam.query")["status"], "ok", "{json:#}");
    let (output, json) = run(&sorted, &[], &[]).await;
    assert_eq!(code(&output), 2, "{}", text(&output));
    assert!(line(&json, "table.key_schema")["fix"]
        .as_str()
        .unwrap()
        .contains("SORT_KEY"));
}

fn base64_of(key: [u8; 32]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(key)
}

#[tokio::test]
async fn doctor_names_each_broken_cognito_setting() {
    let pool = Pool::new(PoolOptions::default()).await;
    enable_ttl(&pool).await;

    // CLIENT_SECRET for a client without a secret.
    let (output, json) = run(&pool, &[("CLIENT_SECRET", "made-up-secret")], &[]).await;
    assert_eq!(code(&output), 2, "{}", text(&output));
    assert_eq!(
        with_status(&json, "fail"),
        set(&["client.secret"]),
        "{json:#}"
    );
    assert!(line(&json, "client.secret")["fix"]
        .as_str()
        .unwrap()
        .contains("unset CLIENT_SECRET"));
    assert!(!text(&output).contains("made-up-secret"));

    // A wrong pool id: the pool check fails, the app client is not asked.
    let (output, json) = run(&pool, &[("USER_POOL_ID", "us-east-1_NoSuchPool")], &[]).await;
    assert_eq!(code(&output), 2, "{}", text(&output));
    assert!(
        with_status(&json, "fail").contains("pool.exists"),
        "{json:#}"
    );
    assert!(line(&json, "pool.exists")["fix"]
        .as_str()
        .unwrap()
        .contains("USER_POOL_ID"));
    assert!(json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| !c["code"].as_str().unwrap().starts_with("client.")));

    // An unreachable JWKS (a dead 127.0.0.1 port).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    drop(listener);
    let (output, json) = run(&pool, &[("COGNITO_JWKS_URL", dead.as_str())], &[]).await;
    assert_eq!(code(&output), 2, "{}", text(&output));
    assert_eq!(with_status(&json, "fail"), set(&["jwks.fetch"]), "{json:#}");
    assert!(line(&json, "jwks.fetch")["fix"]
        .as_str()
        .unwrap()
        .contains("COGNITO_JWKS_URL"));

    // A token for another app client (signed by the pool's key).
    let sub = pool.user("doctor-other").await;
    let claims = testkit::access_claims(
        &pool.issuer(),
        "another-app-client",
        &sub,
        "doctor-other",
        "family-1",
        testkit::now(),
    );
    let other = Minter::moto().access(&claims);
    let (output, json) = run(&pool, &[], &["--token", &other]).await;
    assert_eq!(code(&output), 2, "{}", text(&output));
    assert_eq!(
        with_status(&json, "fail"),
        set(&["token.client_id"]),
        "{json:#}"
    );
    let client = line(&json, "token.client_id");
    assert!(client["message"]
        .as_str()
        .unwrap()
        .contains("another-app-client"));
    assert!(client["fix"].as_str().unwrap().contains("CLIENT_ID"));
    assert_eq!(line(&json, "token.signature")["status"], "ok");
    // The same from stdin (`--token -`), keeping it out of the process list.
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_cognito-session"))
        .args(["doctor", "--json", "--token", "-"])
        .env_clear()
        .env("AWS_ENDPOINT_URL", &pool.moto.url)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_MAX_ATTEMPTS", "1")
        .envs(vars(&pool))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use tokio::io::AsyncWriteExt;
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all(format!("{other}\n").as_bytes())
            .await
            .unwrap();
    }
    let output = child.wait_with_output().await.unwrap();
    assert_eq!(code(&output), 2, "{}", text(&output));
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(line(&json, "token.client_id")["status"], "fail", "{json:#}");
    // Its signature altered: refused.
    let (head, _) = other.rsplit_once('.').unwrap();
    let forged = format!("{head}.{}", "A".repeat(342));
    let (_, json) = run(&pool, &[], &["--token", &forged]).await;
    assert_eq!(line(&json, "token.signature")["status"], "fail", "{json:#}");

    // A client without ALLOW_REFRESH_TOKEN_AUTH, and without revocation.
    pool.cognito
        .update_user_pool_client()
        .user_pool_id(&pool.pool_id)
        .client_id(&pool.client_id)
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserPasswordAuth)
        .enable_token_revocation(false)
        .send()
        .await
        .unwrap();
    let (output, json) = run(&pool, &[], &[]).await;
    assert_eq!(code(&output), 2, "{}", text(&output));
    assert_eq!(
        with_status(&json, "fail"),
        set(&["client.refresh_flow"]),
        "{json:#}"
    );
    assert!(line(&json, "client.refresh_flow")["fix"]
        .as_str()
        .unwrap()
        .contains("ALLOW_REFRESH_TOKEN_AUTH"));
    assert_eq!(line(&json, "client.revocation")["status"], "warn");
    assert!(line(&json, "client.revocation")["message"]
        .as_str()
        .unwrap()
        .contains("origin_jti"));
    // Without revocation, RevokeToken is not tried.
    assert!(json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["code"] != "iam.revoke_token"));

    // A client with a secret: CLIENT_SECRET missing, then wrong, then right.
    let secret_pool = Pool::new(PoolOptions {
        secret: true,
        ..PoolOptions::default()
    })
    .await;
    enable_ttl(&secret_pool).await;
    let right = secret_pool.client_secret.clone().unwrap();
    for (configured, fails) in [
        (None, true),
        (Some("wrong-secret"), true),
        (Some(right.as_str()), false),
    ] {
        let extra: Vec<(&str, &str)> = configured
            .map(|s| ("CLIENT_SECRET", s))
            .into_iter()
            .collect();
        let (output, json) = run(&secret_pool, &extra, &[]).await;
        let status = line(&json, "client.secret")["status"].clone();
        if fails {
            assert_eq!(code(&output), 2, "{}", text(&output));
            assert_eq!(status, "fail", "{json:#}");
            assert!(line(&json, "client.secret")["fix"]
                .as_str()
                .unwrap()
                .contains("set CLIENT_SECRET"));
        } else {
            assert_eq!(status, "ok", "{json:#}");
            assert_eq!(with_status(&json, "fail"), set(&[]), "{json:#}");
        }
        assert!(!text(&output).contains(&right), "the secret was printed");
    }
}

#[tokio::test]
async fn doctor_reports_missing_credentials_and_unreachable_aws_once() {
    let pool = Pool::new(PoolOptions::default()).await;
    let vars: Vec<(&str, String)> = vars(&pool);
    // No credentials at all (and no instance metadata to ask).
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_cognito-session"));
    command
        .args(["doctor", "--json"])
        .env_clear()
        .env("AWS_ENDPOINT_URL", &pool.moto.url)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("HOME", "/nonexistent")
        .envs(vars.iter().map(|(k, v)| (*k, v.as_str())));
    let output = command.output().await.unwrap();
    assert_eq!(code(&output), 2, "{}", text(&output));
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    let aws_lines: Vec<&Value> = json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| {
            let code = c["code"].as_str().unwrap();
            ["aws.", "table.", "iam.", "pool.", "client."]
                .iter()
                .any(|p| code.starts_with(p))
        })
        .collect();
    assert_eq!(aws_lines.len(), 1, "{json:#}");
    assert_eq!(aws_lines[0]["code"], "aws.credentials");
    assert_eq!(aws_lines[0]["status"], "fail");

    // AWS unreachable (a dead port): one FAIL, not one per call.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let borrowed: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (output, json) = doctor(&dead, &borrowed, &["--json"]).await;
    assert_eq!(code(&output), 2, "{}", text(&output));
    let fails = with_status(&json, "fail");
    assert!(fails.contains("aws.endpoint"), "{json:#}");
    let aws_fails = fails.iter().filter(|c| !c.starts_with("jwks.")).count();
    assert_eq!(aws_fails, 1, "{json:#}");

    // Nothing configured: each missing variable named, exit 2.
    let (output, json) = doctor(&pool.moto.url, &[], &["--json"]).await;
    assert_eq!(code(&output), 2, "{}", text(&output));
    let messages: Vec<&str> = json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["code"] == "config.missing")
        .map(|c| c["message"].as_str().unwrap())
        .collect();
    for var in ["SESSION_TABLE", "PARTITION_KEY", "CLIENT_ID"] {
        assert!(messages.iter().any(|m| m.contains(var)), "{messages:?}");
    }
    assert_eq!(line(&json, "config.user_pool_id")["status"], "warn");
}

#[tokio::test]
async fn doctor_checks_managed_login_against_the_app_client_and_the_pool_domain() {
    let callback = "https://app.example.com/callback";
    let signed_out = "https://app.example.com/";
    let pool = Pool::new(PoolOptions::managed_login(callback, signed_out)).await;
    enable_ttl(&pool).await;
    let domain = format!("doc{}", std::process::id());
    pool.cognito
        .create_user_pool_domain()
        .user_pool_id(&pool.pool_id)
        .domain(&domain)
        .send()
        .await
        .expect("a pool domain");
    let url = format!("https://{domain}.auth.us-east-1.amazoncognito.com");
    let login = |redirect: &'static str, logout: &'static str| {
        vec![("REDIRECT_URI", redirect), ("LOGOUT_URI", logout)]
    };
    let logins = [
        "login.code_flow",
        "login.callback_url",
        "login.logout_url",
        "login.scopes",
        "login.domain",
    ];

    // As registered: every managed-login check passes.
    let mut extra = login(callback, signed_out);
    extra.push(("COGNITO_DOMAIN", url.as_str()));
    let (_, json) = run(&pool, &extra, &[]).await;
    let ok = with_status(&json, "ok");
    for check in logins {
        assert!(ok.contains(check), "{check}: {json:#}");
    }

    // A callback URL, a sign-out URL and a scope the client does not have.
    let mut extra = login("https://app.example.com/cb", "https://other.example/");
    extra.push(("COGNITO_DOMAIN", url.as_str()));
    extra.push(("OAUTH_SCOPES", "openid phone"));
    let (output, json) = run(&pool, &extra, &[]).await;
    assert_eq!(code(&output), 2, "{}", text(&output));
    let failed = with_status(&json, "fail");
    for check in ["login.callback_url", "login.logout_url", "login.scopes"] {
        assert!(failed.contains(check), "{check}: {json:#}");
    }
    assert!(line(&json, "login.callback_url")["message"]
        .as_str()
        .unwrap()
        .contains(callback));
    assert!(line(&json, "login.scopes")["message"]
        .as_str()
        .unwrap()
        .contains("phone"));

    // Another pool's domain, and no such domain.
    let other = Pool::new(PoolOptions::default()).await;
    let foreign = format!("doc-other{}", std::process::id());
    other
        .cognito
        .create_user_pool_domain()
        .user_pool_id(&other.pool_id)
        .domain(&foreign)
        .send()
        .await
        .expect("another pool's domain");
    for (name, says) in [
        (foreign.as_str(), "belongs to user pool"),
        ("no-such-domain-x", "no such user pool domain"),
    ] {
        let url = format!("https://{name}.auth.us-east-1.amazoncognito.com");
        let mut extra = login(callback, signed_out);
        extra.push(("COGNITO_DOMAIN", url.as_str()));
        let (_, json) = run(&pool, &extra, &[]).await;
        assert_eq!(line(&json, "login.domain")["status"], "fail", "{json:#}");
        assert!(
            line(&json, "login.domain")["message"]
                .as_str()
                .unwrap()
                .contains(says),
            "{json:#}"
        );
    }

    // An app client without the code grant, and one half of the configuration alone.
    let plain = Pool::new(PoolOptions::default()).await;
    let mut extra = login(callback, signed_out);
    extra.push(("COGNITO_DOMAIN", url.as_str()));
    let (_, json) = run(&plain, &extra, &[]).await;
    assert_eq!(line(&json, "login.code_flow")["status"], "fail", "{json:#}");
    let (_, json) = run(&pool, &[("REDIRECT_URI", callback)], &[]).await;
    assert_eq!(line(&json, "login.config")["status"], "fail", "{json:#}");
    assert!(line(&json, "login.config")["fix"]
        .as_str()
        .unwrap()
        .contains("COGNITO_DOMAIN"));
}

/// Sets the app client's explicit auth flows (moto stores them, though it enforces none).
async fn set_flows(pool: &Pool, flows: &[ExplicitAuthFlowsType]) {
    pool.cognito
        .update_user_pool_client()
        .user_pool_id(&pool.pool_id)
        .client_id(&pool.client_id)
        .set_explicit_auth_flows(Some(flows.to_vec()))
        .send()
        .await
        .expect("update the app client's flows");
}

#[tokio::test]
async fn doctor_checks_the_sign_in_flow_against_the_app_clients_auth_flows() {
    use ExplicitAuthFlowsType::{AllowRefreshTokenAuth, AllowUserPasswordAuth, AllowUserSrpAuth};
    let pool = Pool::new(PoolOptions::default()).await;
    enable_ttl(&pool).await;

    // SRP only, as many clients are: SIGN_IN_FLOW=password fails, naming both ways out.
    set_flows(&pool, &[AllowUserSrpAuth, AllowRefreshTokenAuth]).await;
    let (output, json) = run(&pool, &[("SIGN_IN_FLOW", "password")], &[]).await;
    assert_eq!(code(&output), 2, "{}", text(&output));
    assert_eq!(
        with_status(&json, "fail"),
        set(&["client.sign_in_flow"]),
        "{json:#}"
    );
    let flow = line(&json, "client.sign_in_flow");
    assert!(
        flow["message"]
            .as_str()
            .unwrap()
            .contains("ALLOW_USER_PASSWORD_AUTH is not among"),
        "{flow:#}"
    );
    let fix = flow["fix"].as_str().unwrap();
    assert!(
        fix.contains("add ALLOW_USER_PASSWORD_AUTH") && fix.contains("SIGN_IN_FLOW=srp"),
        "{fix}"
    );
    // The same client with SRP (set, or the default): allowed.
    for extra in [&[("SIGN_IN_FLOW", "srp")][..], &[]] {
        let (_, json) = run(&pool, extra, &[]).await;
        assert_eq!(
            line(&json, "client.sign_in_flow")["status"],
            "ok",
            "{json:#}"
        );
    }
    // Named by the flag when it came from the flag.
    let (_, json) = run(&pool, &[], &["--sign-in-flow", "user_password_auth"]).await;
    assert!(line(&json, "client.sign_in_flow")["fix"]
        .as_str()
        .unwrap()
        .contains("--sign-in-flow=srp"));

    // Password only: SIGN_IN_FLOW=srp fails; unset, it is only INFO (the function may use
    // managed login alone), saying what to do if it does sign users in.
    set_flows(&pool, &[AllowUserPasswordAuth, AllowRefreshTokenAuth]).await;
    let (output, json) = run(&pool, &[("SIGN_IN_FLOW", "srp")], &[]).await;
    assert_eq!(code(&output), 2, "{}", text(&output));
    assert!(line(&json, "client.sign_in_flow")["fix"]
        .as_str()
        .unwrap()
        .contains("add ALLOW_USER_SRP_AUTH"));
    let (_, json) = run(&pool, &[], &[]).await;
    let flow = line(&json, "client.sign_in_flow");
    assert_eq!(flow["status"], "info", "{json:#}");
    assert!(flow["message"]
        .as_str()
        .unwrap()
        .contains("SIGN_IN_FLOW=password"));
    assert!(!with_status(&json, "fail").contains("client.sign_in_flow"));

    // Neither flow, nor refresh: both fail, each with its fix.
    set_flows(&pool, &[ExplicitAuthFlowsType::AllowCustomAuth]).await;
    let (output, json) = run(&pool, &[("SIGN_IN_FLOW", "password")], &[]).await;
    assert_eq!(code(&output), 2, "{}", text(&output));
    assert_eq!(
        with_status(&json, "fail"),
        set(&["client.refresh_flow", "client.sign_in_flow"]),
        "{json:#}"
    );
    assert!(!line(&json, "client.sign_in_flow")["fix"]
        .as_str()
        .unwrap()
        .contains("or set"));

    // A value the library refuses is a configuration failure of its own.
    let (output, json) = run(&pool, &[("SIGN_IN_FLOW", "user_auth")], &[]).await;
    assert_eq!(code(&output), 2, "{}", text(&output));
    assert!(with_status(&json, "fail").contains("config.sign_in_flow"));
}

/// Whether the report has a line with this code.
fn has_line(json: &Value, code: &str) -> bool {
    json["checks"]
        .as_array()
        .expect("a checks array")
        .iter()
        .any(|c| c["code"] == code)
}

#[tokio::test]
async fn doctor_checks_the_account_flows_permissions_and_user_auth() {
    use ExplicitAuthFlowsType::{AllowRefreshTokenAuth, AllowUserAuth, AllowUserSrpAuth};
    let pool = Pool::new(PoolOptions::default()).await;
    enable_ttl(&pool).await;
    set_flows(&pool, &[AllowUserSrpAuth, AllowRefreshTokenAuth]).await;
    pool.cognito
        .create_group()
        .user_pool_id(&pool.pool_id)
        .group_name("members")
        .send()
        .await
        .expect("create the group");
    let accounts = [
        "iam.admin_get_user",
        "iam.global_sign_out",
        "iam.add_user_to_group",
        "client.user_auth",
    ];

    // No account variable: the function signs nobody up, nothing of it is checked.
    let (_, json) = run(&pool, &[], &[]).await;
    for code in accounts {
        assert!(!has_line(&json, code), "{code} in {json:#}");
    }

    // SIGN_UP_GROUP of a group that exists, a client without ALLOW_USER_AUTH: every admin call
    // is allowed (Cognito answers for the made-up user), and a WARN names the fallback.
    let (_, json) = run(&pool, &[("SIGN_UP_GROUP", "members")], &[]).await;
    for code in &accounts[..3] {
        assert_eq!(line(&json, code)["status"], "ok", "{json:#}");
    }
    let user_auth = line(&json, "client.user_auth");
    assert_eq!(user_auth["status"], "warn", "{json:#}");
    let message = user_auth["message"].as_str().unwrap();
    assert!(
        message.contains("SIGN_UP_GROUP") && message.contains("Confirmed::SignInNeeded"),
        "{message}"
    );
    assert!(user_auth["fix"]
        .as_str()
        .unwrap()
        .contains("add ALLOW_USER_AUTH"));
    // Nobody was added to the group, nor signed out.
    let members = pool
        .cognito
        .list_users_in_group()
        .user_pool_id(&pool.pool_id)
        .group_name("members")
        .send()
        .await
        .unwrap();
    assert!(members.users().is_empty());

    // With ALLOW_USER_AUTH, another account variable, no group: no group probe.
    set_flows(
        &pool,
        &[AllowUserSrpAuth, AllowUserAuth, AllowRefreshTokenAuth],
    )
    .await;
    let (_, json) = run(&pool, &[("SIGN_UP_ATTRIBUTES", "email,name")], &[]).await;
    assert_eq!(line(&json, "client.user_auth")["status"], "ok", "{json:#}");
    assert!(!has_line(&json, "iam.add_user_to_group"), "{json:#}");
    assert_eq!(line(&json, "iam.admin_get_user")["status"], "ok");

    // A group the pool does not have: a FAIL naming it, and the flag when it came from one.
    let (output, json) = run(&pool, &[], &["--sign-up-group", "no-such-group"]).await;
    assert_eq!(code(&output), 2, "{}", text(&output));
    let group = line(&json, "iam.add_user_to_group");
    assert_eq!(group["status"], "fail", "{json:#}");
    let fix = group["fix"].as_str().unwrap();
    assert!(
        fix.contains("\"no-such-group\"") && fix.contains("--sign-up-group"),
        "{fix}"
    );

    // The account flows without USER_POOL_ID: a reset would be refused.
    let (_, json) = run(
        &pool,
        &[("SIGN_UP_GROUP", "members"), ("USER_POOL_ID", "")],
        &[],
    )
    .await;
    let missing = line(&json, "iam.accounts");
    assert_eq!(missing["status"], "fail", "{json:#}");
    assert!(missing["fix"].as_str().unwrap().contains("USER_POOL_ID"));
}

/// The pool's sign-in policy for choice-based sign-in: checked once the app client allows
/// `ALLOW_USER_AUTH`; on moto alone (which keeps the policy but knows no WebAuthn settings)
/// and through the account fake, which reports a relying party as Cognito does.
#[tokio::test]
async fn doctor_checks_the_pools_sign_in_policy_and_the_passkey_relying_party() {
    use aws_sdk_cognitoidentityprovider::types::{
        AuthFactorType, SignInPolicyType, UserPoolPolicyType,
    };
    use ExplicitAuthFlowsType::{AllowRefreshTokenAuth, AllowUserAuth, AllowUserSrpAuth};
    let pool = Pool::new(PoolOptions::default()).await;
    enable_ttl(&pool).await;
    let codes = [
        "pool.sign_in_policy",
        "pool.passkeys",
        "pool.email_delivery",
    ];

    // Without ALLOW_USER_AUTH (and no account flows), none of it is checked.
    set_flows(&pool, &[AllowUserSrpAuth, AllowRefreshTokenAuth]).await;
    let (_, json) = run(&pool, &[], &[]).await;
    for code in codes {
        assert!(!has_line(&json, code), "{code} in {json:#}");
    }

    // moto: the policy it keeps is read; passkeys allowed but no relying party known: a WARN
    // naming SetUserPoolMfaConfig.
    set_flows(
        &pool,
        &[AllowUserSrpAuth, AllowUserAuth, AllowRefreshTokenAuth],
    )
    .await;
    let policy = SignInPolicyType::builder()
        .allowed_first_auth_factors(AuthFactorType::Password)
        .allowed_first_auth_factors(AuthFactorType::EmailOtp)
        .allowed_first_auth_factors(AuthFactorType::WebAuthn)
        .build();
    pool.cognito
        .update_user_pool()
        .user_pool_id(&pool.pool_id)
        .policies(UserPoolPolicyType::builder().sign_in_policy(policy).build())
        .send()
        .await
        .expect("set the sign-in policy");
    let (_, json) = run(&pool, &[], &[]).await;
    let policy = line(&json, "pool.sign_in_policy");
    assert_eq!(policy["status"], "ok", "{json:#}");
    assert!(
        policy["message"]
            .as_str()
            .unwrap()
            .contains("PASSWORD, EMAIL_OTP, WEB_AUTHN"),
        "{policy:#}"
    );
    assert_eq!(line(&json, "pool.email_delivery")["status"], "info");
    let passkeys = line(&json, "pool.passkeys");
    assert_eq!(passkeys["status"], "warn", "{json:#}");
    assert!(
        passkeys["fix"]
            .as_str()
            .unwrap()
            .contains("SetUserPoolMfaConfig"),
        "{passkeys:#}"
    );

    // Through the account fake (relying party `localhost`): OK, and a WARN for an allowed
    // origin outside it.
    let fake = std::sync::Arc::new(
        testkit::FakeAccounts::new(&pool).passkeys("localhost", "http://localhost:3000"),
    );
    let proxy = testkit::Proxy::with_fake(&pool.moto.url, fake).await;
    let mut vars = vars(&pool);
    let (_, json) = doctor(&proxy.url, &borrow(&vars), &["--json"]).await;
    let passkeys = line(&json, "pool.passkeys");
    assert_eq!(passkeys["status"], "ok", "{json:#}");
    assert!(passkeys["message"].as_str().unwrap().contains("localhost"));
    vars.push(("ALLOWED_ORIGINS", "https://shop.example.com".to_owned()));
    let (_, json) = doctor(&proxy.url, &borrow(&vars), &["--json"]).await;
    let passkeys = line(&json, "pool.passkeys");
    assert_eq!(passkeys["status"], "warn", "{json:#}");
    assert!(passkeys["message"]
        .as_str()
        .unwrap()
        .contains("https://shop.example.com"));

    // A policy of the password alone: sign_in_choice offers no code or passkey.
    let fake = std::sync::Arc::new(testkit::FakeAccounts::new(&pool).first_factors(&["PASSWORD"]));
    let proxy = testkit::Proxy::with_fake(&pool.moto.url, fake).await;
    let (_, json) = doctor(&proxy.url, &borrow(&vars[..4]), &["--json"]).await;
    let policy = line(&json, "pool.sign_in_policy");
    assert_eq!(policy["status"], "info", "{json:#}");
    assert!(policy["message"]
        .as_str()
        .unwrap()
        .contains("password only"));
    assert!(!has_line(&json, "pool.passkeys"), "{json:#}");
}

fn borrow<'a>(vars: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    vars.iter().map(|(k, v)| (*k, v.as_str())).collect()
}
