//! The session table: it exists, its keys are the configured ones, TTL is on for the expiry
//! attribute, sample rows hold what the library reads under keys it has; and the DynamoDB
//! calls the function makes, tried harmlessly.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::{AttributeValue, KeyType, ScalarAttributeType, TimeToLiveStatus};
use cognito_session::Sealer;

use super::aws::{answer, is_access_denied, Answer, Aws};
use super::report::Report;
use super::setup::{Named, Setup};

/// The attribute the library writes each row's expiry to (DynamoDB's TTL deletes by it).
pub const TTL_ATTRIBUTE: &str = "expires_at";
/// The attributes of a row the library reads to serve and refresh a session.
const TOKEN: &str = "token";
const TIMESTAMP: &str = "timestamp";

/// Whether the table could be used by the probes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableState {
    /// Exists with the configured keys (or could not be described: the probes tell).
    Usable,
    /// Missing, or keyed otherwise: every call would fail for that reason.
    Broken,
}

/// The id the library gives a key (8 hex digits of its SHA-256), computed by its own `Sealer`.
fn key_id(key: &[u8; 32]) -> String {
    Sealer::new(*key, vec![]).key_id().to_owned()
}

/// `table.*`: describes the table, its TTL and a sample of rows.
pub async fn check(aws: &Aws, setup: &Setup, report: &mut Report) -> TableState {
    let (Some(table), Some(pk)) = (&setup.table, &setup.partition_key) else {
        return TableState::Broken;
    };
    let described = aws
        .dynamodb
        .describe_table()
        .table_name(&table.value)
        .send()
        .await;
    let description = match described {
        Ok(output) => output.table,
        Err(error) => {
            match answer(report, "dynamodb:DescribeTable", &error) {
                Answer::Down => return TableState::Broken,
                Answer::Service { code, .. } if code == "ResourceNotFoundException" => {
                    report.fail(
                        "table.exists",
                        format!(
                            "the table {:?} does not exist in {} (this account)",
                            table.value, aws.region
                        ),
                        format!(
                            "fix {} (or AWS_REGION), or create it: cognito-session table create \
                             --table {} --partition-key {}",
                            table.name, table.value, pk.value
                        ),
                    );
                    return TableState::Broken;
                }
                Answer::Service { code, message, .. } if is_access_denied(&code) => {
                    report.warn(
                        "table.exists",
                        format!(
                            "could not check the table {:?}: dynamodb:DescribeTable is denied \
                             ({})",
                            table.value,
                            Answer::describe(&code, &message)
                        ),
                        "the function does not need DescribeTable; run the doctor with a role \
                         that may describe the table to check its keys and TTL",
                    );
                }
                Answer::Service { code, message, .. } => report.warn(
                    "table.exists",
                    format!(
                        "could not describe the table {:?}: {}",
                        table.value,
                        Answer::describe(&code, &message)
                    ),
                    "retry; check AWS_REGION and the table name",
                ),
            }
            return TableState::Usable;
        }
    };
    let Some(description) = description else {
        report.warn(
            "table.exists",
            "DescribeTable answered without a table description",
            "retry",
        );
        return TableState::Usable;
    };
    report.ok(
        "table.exists",
        format!(
            "table {:?} exists in {} ({})",
            table.value,
            aws.region,
            description
                .table_status()
                .map_or("status not reported", |s| s.as_str())
        ),
    );
    let state = key_schema(&description, table, pk, setup.sort_key.as_ref(), report);
    let billing = description
        .billing_mode_summary()
        .and_then(|b| b.billing_mode())
        .map_or("PROVISIONED (no billing mode summary)", |m| m.as_str());
    report.info("table.billing", format!("billing mode {billing}"));
    ttl(aws, table, report).await;
    if state == TableState::Usable {
        sample(aws, setup, table, pk, report).await;
    }
    state
}

fn key_schema(
    description: &aws_sdk_dynamodb::types::TableDescription,
    table: &Named,
    pk: &Named,
    sort_key: Option<&Named>,
    report: &mut Report,
) -> TableState {
    let attribute_type = |name: &str| {
        description
            .attribute_definitions()
            .iter()
            .find(|a| a.attribute_name() == name)
            .map(|a| a.attribute_type().clone())
    };
    let key = |kind: KeyType| {
        description
            .key_schema()
            .iter()
            .find(|k| k.key_type() == &kind)
            .map(|k| k.attribute_name().to_owned())
    };
    let (hash, range) = (key(KeyType::Hash), key(KeyType::Range));
    let mut problems = Vec::new();
    let mut fixes = Vec::new();
    match &hash {
        Some(hash) if *hash == pk.value => {}
        Some(hash) => {
            problems.push(format!(
                "its partition key is {hash:?}, but {} is {:?}",
                pk.name, pk.value
            ));
            fixes.push(format!("set {} to {hash}", pk.name));
        }
        None => problems.push("it reports no partition key".into()),
    }
    match (&range, sort_key) {
        (None, None) => {}
        (Some(range), Some(sk)) if *range == sk.value => {}
        (Some(range), Some(sk)) => {
            problems.push(format!(
                "its sort key is {range:?}, but {} is {:?}",
                sk.name, sk.value
            ));
            fixes.push(format!("set {} to {range}", sk.name));
        }
        (Some(range), None) => {
            problems.push(format!(
                "it has the sort key {range:?}, but SORT_KEY is not set"
            ));
            fixes.push(format!("set SORT_KEY (or --sort-key) to {range}"));
        }
        (None, Some(sk)) => {
            problems.push(format!(
                "it has no sort key, but {} is {:?}",
                sk.name, sk.value
            ));
            fixes.push(format!(
                "unset {} (this table keeps one session per user)",
                sk.name
            ));
        }
    }
    for name in hash.iter().chain(range.iter()) {
        if let Some(kind) = attribute_type(name) {
            if kind != ScalarAttributeType::S {
                problems.push(format!(
                    "its key attribute {name:?} is of type {}, but the library writes strings (S)",
                    kind.as_str()
                ));
                fixes.push(format!(
                    "recreate the table with {name:?} of type S (cognito-session table create)"
                ));
            }
        }
    }
    if problems.is_empty() {
        report.ok(
            "table.key_schema",
            match &range {
                Some(range) => format!(
                    "keys {:?} (partition) and {range:?} (sort), strings, as configured",
                    pk.value
                ),
                None => format!(
                    "partition key {:?} (string), no sort key, as configured",
                    pk.value
                ),
            },
        );
        TableState::Usable
    } else {
        report.fail(
            "table.key_schema",
            format!("table {:?}: {}", table.value, problems.join("; ")),
            fixes.join("; "),
        );
        TableState::Broken
    }
}

async fn ttl(aws: &Aws, table: &Named, report: &mut Report) {
    let described = aws
        .dynamodb
        .describe_time_to_live()
        .table_name(&table.value)
        .send()
        .await;
    let enable = format!(
        "aws dynamodb update-time-to-live --table-name {} --time-to-live-specification \
         Enabled=true,AttributeName={TTL_ATTRIBUTE}",
        table.value
    );
    match described {
        Ok(output) => {
            let ttl = output.time_to_live_description();
            let status = ttl.and_then(|t| t.time_to_live_status());
            let attribute = ttl.and_then(|t| t.attribute_name());
            match (status, attribute) {
                (Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling), Some(a))
                    if a == TTL_ATTRIBUTE =>
                {
                    report.ok("table.ttl", format!("TTL is on for {TTL_ATTRIBUTE:?}"));
                }
                (Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling), Some(a)) => {
                    report.warn(
                        "table.ttl",
                        format!(
                            "TTL is on for {a:?}, but the library writes each row's expiry to \
                             {TTL_ATTRIBUTE:?}: expired sessions are never deleted"
                        ),
                        format!("disable TTL on {a:?} and enable it on {TTL_ATTRIBUTE}: {enable}"),
                    );
                }
                (status, _) => report.warn(
                    "table.ttl",
                    format!(
                        "TTL is off ({}): sessions still expire (the library checks \
                         {TTL_ATTRIBUTE:?}), but their rows, with their refresh tokens, are \
                         never deleted",
                        status.map_or("no TTL description", |s| s.as_str())
                    ),
                    enable,
                ),
            }
        }
        Err(error) => match answer(report, "dynamodb:DescribeTimeToLive", &error) {
            Answer::Down => {}
            Answer::Service { code, message, .. } => report.warn(
                "table.ttl",
                format!("could not check TTL: {}", Answer::describe(&code, &message)),
                "run the doctor with dynamodb:DescribeTimeToLive to check it",
            ),
        },
    }
}

/// `table.sample` and `table.key_ids`: up to `--sample` rows, never printing a token.
async fn sample(aws: &Aws, setup: &Setup, table: &Named, pk: &Named, report: &mut Report) {
    if setup.sample == 0 {
        return;
    }
    let scanned = aws
        .dynamodb
        .scan()
        .table_name(&table.value)
        .limit(setup.sample)
        .send()
        .await;
    let items = match scanned {
        Ok(output) => output.items.unwrap_or_default(),
        Err(error) => {
            if let Answer::Service { code, message, .. } = answer(report, "dynamodb:Scan", &error) {
                report.warn(
                    "table.sample",
                    format!(
                        "could not read sample rows: {}",
                        Answer::describe(&code, &message)
                    ),
                    "the function does not need Scan; run the doctor with dynamodb:Scan to check \
                     the rows and their encryption keys",
                );
            }
            return;
        }
    };
    if items.is_empty() {
        report.info(
            "table.sample",
            "the table has no rows yet: nothing to check",
        );
        return;
    }
    let (mut no_token, mut no_timestamp, mut plain) = (0, 0, 0);
    // key id -> rows encrypted with it
    let mut sealed: BTreeMap<String, usize> = BTreeMap::new();
    let mut undecryptable = 0;
    let known: Vec<([u8; 32], String)> = setup
        .key
        .iter()
        .chain(&setup.old_keys)
        .map(|k| (*k, key_id(k)))
        .collect();
    let sealer = setup
        .key
        .or(setup.old_keys.first().copied())
        .map(|current| Sealer::new(current, known.iter().map(|(k, _)| *k).collect()));
    for item in &items {
        let string = |name: &str| item.get(name).and_then(|v| v.as_s().ok());
        match string(TOKEN) {
            None => no_token += 1,
            Some(token) => match token
                .strip_prefix("enc:v1:")
                .and_then(|r| r.split_once(':'))
            {
                None => plain += 1,
                Some((id, _)) => {
                    *sealed.entry(id.to_owned()).or_default() += 1;
                    if let (Some(sealer), true) =
                        (&sealer, known.iter().any(|(_, known)| known == id))
                    {
                        if sealer
                            .open(token, &aad(&table.value, pk, setup, item))
                            .is_err()
                        {
                            undecryptable += 1;
                        }
                    }
                }
            },
        }
        if item.get(TIMESTAMP).is_none_or(|v| v.as_n().is_err()) {
            no_timestamp += 1;
        }
    }
    let n = items.len();
    let mut fine = format!("{n} sample row(s): {plain} plaintext");
    for (id, count) in &sealed {
        fine.push_str(&format!(", {count} encrypted with key {id}"));
    }
    if no_token + no_timestamp == 0 {
        report.ok("table.sample", fine);
    } else {
        report.warn(
            "table.sample",
            format!(
                "{fine}; {no_token} without a {TOKEN:?} (string) attribute (cannot be refreshed), \
                 {no_timestamp} without a numeric {TIMESTAMP:?}"
            ),
            "rows must hold the refresh token in \"token\" (S) and the login time in \
             \"timestamp\" (N), as the library writes them: check whatever else writes this \
             table",
        );
    }
    key_ids(&known, &sealed, plain, undecryptable, report);
}

/// The row's associated data, as the library binds a ciphertext to its row: table, sub and
/// session id (sort key value), NUL-separated.
fn aad(table: &str, pk: &Named, setup: &Setup, item: &HashMap<String, AttributeValue>) -> Vec<u8> {
    let value = |name: &str| {
        item.get(name)
            .and_then(|v| v.as_s().ok())
            .map_or("", String::as_str)
    };
    let session = setup.sort_key.as_ref().map_or("", |sk| value(&sk.value));
    [
        table.as_bytes(),
        b"\0",
        value(&pk.value).as_bytes(),
        b"\0",
        session.as_bytes(),
    ]
    .concat()
}

fn key_ids(
    known: &[([u8; 32], String)],
    sealed: &BTreeMap<String, usize>,
    plain: usize,
    undecryptable: usize,
    report: &mut Report,
) {
    let known_ids: Vec<&str> = known.iter().map(|(_, id)| id.as_str()).collect();
    let unknown: Vec<&str> = sealed
        .keys()
        .map(String::as_str)
        .filter(|id| !known_ids.contains(id))
        .collect();
    let known_text = if known_ids.is_empty() {
        "no key is configured".to_owned()
    } else {
        format!("configured keys: {}", known_ids.join(", "))
    };
    if !unknown.is_empty() {
        report.fail(
            "table.key_ids",
            format!(
                "rows are encrypted with key(s) {} that the function does not have ({known_text}): \
                 their refresh and logout answer 500",
                unknown.join(", ")
            ),
            "add the key(s) with those ids to SESSION_ENCRYPTION_OLD_KEYS (or make one \
             SESSION_ENCRYPTION_KEY / SESSION_KMS_CIPHERTEXT); `cognito-session session list` \
             shows each row's key id",
        );
    } else if undecryptable > 0 {
        report.fail(
            "table.key_ids",
            format!(
                "{undecryptable} sample row(s) name a configured key but do not decrypt \
                 (damaged, or copied from another row or table)"
            ),
            "end those sessions (cognito-session session end); their users log in again",
        );
    } else if !sealed.is_empty() {
        report.ok(
            "table.key_ids",
            format!("every encrypted sample row decrypts ({known_text})"),
        );
    }
    if plain > 0 && !known_ids.is_empty() {
        report.info(
            "table.key_ids",
            format!(
                "{plain} sample row(s) hold a plaintext refresh token: encrypted on their next \
                 refresh"
            ),
        );
    }
}
