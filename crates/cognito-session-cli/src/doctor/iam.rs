//! The calls the function makes at run time, tried harmlessly: DynamoDB reads and conditional
//! writes on a key no user has, the refresh call and `RevokeToken` with a refresh token no
//! Cognito issued, and the account flows' admin calls for a user no pool has. A refusal by the
//! condition or by Cognito proves the permission.

use std::collections::HashMap;

use aws_lc_rs::hmac;
use aws_sdk_cognitoidentityprovider::types::AuthFlowType;
use aws_sdk_dynamodb::types::AttributeValue;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::aws::{answer, is_access_denied, Answer, Aws};
use super::cognito::ClientFacts;
use super::report::Report;
use super::setup::Setup;
use super::table::TableState;

/// A partition key value no user has (Cognito `sub`s are UUIDs).
pub const PROBE_KEY: &str = "cognito-session-doctor#probe#no-such-user";
/// A refresh token no Cognito issued (theirs are JWEs, `eyJ…`).
const PROBE_REFRESH_TOKEN: &str = "cognito-session-doctor-not-a-refresh-token";
/// The username the probe's `SECRET_HASH` is computed for.
const PROBE_USERNAME: &str = "cognito-session-doctor";

/// `iam.*` for DynamoDB: each call the function makes, on a key no user has. A conditional
/// write that fails its condition proves the permission without writing anything.
pub async fn dynamodb(aws: &Aws, setup: &Setup, state: TableState, report: &mut Report) {
    let (Some(table), Some(pk)) = (&setup.table, &setup.partition_key) else {
        return;
    };
    if report.aws_down {
        return;
    }
    if state == TableState::Broken {
        report.info(
            "iam.dynamodb",
            "the DynamoDB permissions were not tried: fix the table first",
        );
        return;
    }
    let key = || {
        let mut key = HashMap::from([(pk.value.clone(), AttributeValue::S(PROBE_KEY.into()))]);
        if let Some(sk) = &setup.sort_key {
            key.insert(sk.value.clone(), AttributeValue::S(PROBE_KEY.into()));
        }
        key
    };
    let db = &aws.dynamodb;
    let t = &table.value;
    let exists = "attribute_exists(#pk)";
    let got = db
        .get_item()
        .table_name(t)
        .set_key(Some(key()))
        .send()
        .await;
    judge_dynamodb(report, "iam.get_item", "GetItem", t, got.map(|_| ()));
    let put = db
        .put_item()
        .table_name(t)
        .set_item(Some(key()))
        .condition_expression(exists)
        .expression_attribute_names("#pk", &pk.value)
        .send()
        .await;
    judge_dynamodb(report, "iam.put_item", "PutItem", t, put.map(|_| ()));
    let updated = db
        .update_item()
        .table_name(t)
        .set_key(Some(key()))
        .update_expression("SET #d = :d")
        .condition_expression(exists)
        .expression_attribute_names("#pk", &pk.value)
        .expression_attribute_names("#d", "last_seen")
        .expression_attribute_values(":d", AttributeValue::N("0".into()))
        .send()
        .await;
    judge_dynamodb(
        report,
        "iam.update_item",
        "UpdateItem",
        t,
        updated.map(|_| ()),
    );
    let deleted = db
        .delete_item()
        .table_name(t)
        .set_key(Some(key()))
        .condition_expression(exists)
        .expression_attribute_names("#pk", &pk.value)
        .send()
        .await;
    judge_dynamodb(
        report,
        "iam.delete_item",
        "DeleteItem",
        t,
        deleted.map(|_| ()),
    );
    if setup.sort_key.is_some() {
        let queried = db
            .query()
            .table_name(t)
            .key_condition_expression("#pk = :sub")
            .expression_attribute_names("#pk", &pk.value)
            .expression_attribute_values(":sub", AttributeValue::S(PROBE_KEY.into()))
            .limit(1)
            .send()
            .await
            .map(|_| ());
        judge_dynamodb(report, "iam.query", "Query", t, queried);
    }
}

fn judge_dynamodb<E>(
    report: &mut Report,
    code: &'static str,
    action: &str,
    table: &str,
    result: Result<(), aws_sdk_dynamodb::error::SdkError<E>>,
) where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let error = match result {
        Ok(()) => {
            report.ok(code, format!("dynamodb:{action} allowed"));
            return;
        }
        Err(error) => error,
    };
    match answer(report, &format!("dynamodb:{action}"), &error) {
        Answer::Down => {}
        Answer::Service { code: c, .. } if c == "ConditionalCheckFailedException" => report.ok(
            code,
            format!("dynamodb:{action} allowed (refused by its condition, as intended)"),
        ),
        Answer::Service {
            code: c, message, ..
        } if is_access_denied(&c) => report.fail(
            code,
            format!(
                "dynamodb:{action} on {table:?} is denied: {}",
                Answer::describe(&c, &message)
            ),
            format!("allow dynamodb:{action} on the table for the function's role"),
        ),
        Answer::Service {
            code: c,
            message,
            status,
        } if status >= 500 => report.warn(
            code,
            format!(
                "could not check dynamodb:{action}: {}",
                Answer::describe(&c, &message)
            ),
            "retry",
        ),
        Answer::Service {
            code: c, message, ..
        } => report.fail(
            code,
            format!(
                "dynamodb:{action} on {table:?} failed: {}",
                Answer::describe(&c, &message)
            ),
            "check PARTITION_KEY / SORT_KEY against the table's key schema",
        ),
    }
}

/// `SECRET_HASH` = base64(HMAC-SHA256(secret, username + client id)).
fn secret_hash(secret: &str, username: &str, client_id: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let tag = hmac::sign(&key, format!("{username}{client_id}").as_bytes());
    STANDARD.encode(tag.as_ref())
}

/// `iam.refresh` and `iam.revoke_token`: the refresh call and `RevokeToken`, with a refresh
/// token that cannot exist. Cognito refusing the token (NotAuthorized) means the call is
/// allowed and reached the app client.
pub async fn cognito(aws: &Aws, setup: &Setup, facts: &ClientFacts, report: &mut Report) {
    let Some(client_id) = &setup.client_id else {
        return;
    };
    if report.aws_down || facts.missing {
        return;
    }
    let id = &client_id.value;
    let (code, action) = if setup.rotation {
        ("iam.refresh", "cognito-idp:GetTokensFromRefreshToken")
    } else {
        (
            "iam.refresh",
            "cognito-idp:InitiateAuth (REFRESH_TOKEN_AUTH)",
        )
    };
    let refreshed = if setup.rotation {
        aws.cognito
            .get_tokens_from_refresh_token()
            .refresh_token(PROBE_REFRESH_TOKEN)
            .client_id(id)
            .set_client_secret(setup.client_secret.clone())
            .send()
            .await
            .map(|_| ())
            .map_err(|e| answer(report, action, &e))
    } else {
        let mut request = aws
            .cognito
            .initiate_auth()
            .auth_flow(AuthFlowType::RefreshTokenAuth)
            .client_id(id)
            .auth_parameters("REFRESH_TOKEN", PROBE_REFRESH_TOKEN);
        if let Some(secret) = &setup.client_secret {
            request =
                request.auth_parameters("SECRET_HASH", secret_hash(secret, PROBE_USERNAME, id));
        }
        request
            .send()
            .await
            .map(|_| ())
            .map_err(|e| answer(report, action, &e))
    };
    judge_cognito(report, code, action, setup, refreshed);
    if facts.revocation == Some(false) {
        return;
    }
    let revoked = aws
        .cognito
        .revoke_token()
        .token(PROBE_REFRESH_TOKEN)
        .client_id(id)
        .set_client_secret(setup.client_secret.clone())
        .send()
        .await
        .map(|_| ())
        .map_err(|e| answer(report, "cognito-idp:RevokeToken", &e));
    judge_cognito(
        report,
        "iam.revoke_token",
        "cognito-idp:RevokeToken",
        setup,
        revoked,
    );
}

/// `iam.admin_get_user`, `iam.global_sign_out` and (with `SIGN_UP_GROUP`)
/// `iam.add_user_to_group`: the admin calls of the account flows (a reset looks the user up and
/// signs them out everywhere; a confirmed sign-up joins the app's group), each for a user no
/// pool has, so Cognito's `UserNotFoundException` proves the permission and nothing changes.
/// Tried when an account variable is set (`SIGN_UP_GROUP`, `SIGN_UP_ATTRIBUTES`,
/// `REVEAL_ACCOUNT_EXISTENCE`).
pub async fn accounts(aws: &Aws, setup: &Setup, facts: &ClientFacts, report: &mut Report) {
    let Some(variable) = &setup.accounts else {
        return;
    };
    if report.aws_down || facts.missing {
        return;
    }
    let Some(pool) = setup.pool() else {
        report.fail(
            "iam.accounts",
            format!(
                "{variable} is set (the account flows), but {} is not: a password reset is \
                 refused without it, and SIGN_UP_GROUP cannot be joined",
                setup.pool_name()
            ),
            format!("set {} to the user pool's id", setup.pool_name()),
        );
        return;
    };
    let got = aws
        .cognito
        .admin_get_user()
        .user_pool_id(pool)
        .username(PROBE_KEY)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| answer(report, "cognito-idp:AdminGetUser", &e));
    judge_admin(report, "iam.admin_get_user", "AdminGetUser", setup, got);
    let signed_out = aws
        .cognito
        .admin_user_global_sign_out()
        .user_pool_id(pool)
        .username(PROBE_KEY)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| answer(report, "cognito-idp:AdminUserGlobalSignOut", &e));
    judge_admin(
        report,
        "iam.global_sign_out",
        "AdminUserGlobalSignOut",
        setup,
        signed_out,
    );
    if let Some(group) = &setup.sign_up_group {
        let added = aws
            .cognito
            .admin_add_user_to_group()
            .user_pool_id(pool)
            .username(PROBE_KEY)
            .group_name(&group.value)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| answer(report, "cognito-idp:AdminAddUserToGroup", &e));
        judge_admin(
            report,
            "iam.add_user_to_group",
            "AdminAddUserToGroup",
            setup,
            added,
        );
    }
}

/// Judges an account flow's admin call for a user that does not exist.
fn judge_admin(
    report: &mut Report,
    code: &'static str,
    action: &str,
    setup: &Setup,
    result: Result<(), Answer>,
) {
    let permission = format!("cognito-idp:{action}");
    match result {
        Ok(()) => report.ok(code, format!("{permission} allowed")),
        Err(Answer::Down) => {}
        Err(Answer::Service {
            code: c, message, ..
        }) if c == "UserNotFoundException" => report.ok(
            code,
            format!(
                "{permission} allowed (Cognito answered for a made-up user: {})",
                Answer::describe(&c, &message)
            ),
        ),
        Err(Answer::Service {
            code: c, message, ..
        }) if is_access_denied(&c) => report.fail(
            code,
            format!("{permission} is denied: {}", Answer::describe(&c, &message)),
            format!(
                "allow {permission} on the user pool for the function's role (the account \
                 flows need it)"
            ),
        ),
        Err(Answer::Service {
            code: c, message, ..
        }) if c == "ResourceNotFoundException" => {
            let fix = match &setup.sign_up_group {
                Some(group) if action == "AdminAddUserToGroup" => format!(
                    "create the group {:?} in the user pool, or set {} to one that exists",
                    group.value, group.name
                ),
                _ => format!("check {} and the Region", setup.pool_name()),
            };
            report.fail(
                code,
                format!("{action}: {}", Answer::describe(&c, &message)),
                fix,
            );
        }
        Err(Answer::Service {
            code: c,
            message,
            status,
        }) => report.warn(
            code,
            format!(
                "could not check {permission} (HTTP {status}): {}",
                Answer::describe(&c, &message)
            ),
            "retry",
        ),
    }
}

fn judge_cognito(
    report: &mut Report,
    code: &'static str,
    action: &str,
    setup: &Setup,
    result: Result<(), Answer>,
) {
    let client = setup.client_name();
    match result {
        Ok(()) => report.warn(
            code,
            format!("{action} accepted a made-up refresh token"),
            "check that CLIENT_ID is a Cognito app client",
        ),
        Err(Answer::Down) => {}
        Err(Answer::Service {
            code: c, message, ..
        }) if is_access_denied(&c) => report.fail(
            code,
            format!("{action} is denied: {}", Answer::describe(&c, &message)),
            format!("allow {action} for the function's role"),
        ),
        Err(Answer::Service {
            code: c, message, ..
        }) if c == "NotAuthorizedException" && message.to_ascii_lowercase().contains("secret") => {
            report.fail(
                code,
                format!(
                    "{action}: Cognito refused the client secret ({c}: {})",
                    shown(&message)
                ),
                "set CLIENT_SECRET to the app client's secret, or unset it for a client without \
                 one",
            );
        }
        Err(Answer::Service {
            code: c, message, ..
        }) if c == "NotAuthorizedException" || c == "UnsupportedTokenTypeException" => {
            report.ok(
                code,
                format!(
                    "{action} allowed (Cognito refused the made-up token: {c}: {})",
                    shown(&message)
                ),
            );
        }
        Err(Answer::Service {
            code: c, message, ..
        }) if c == "ResourceNotFoundException" => {
            report.fail(
                code,
                format!(
                    "{action}: Cognito does not know the app client ({})",
                    Answer::describe(&c, &message)
                ),
                format!("fix {client} and check the Region (the pool's)"),
            );
        }
        Err(Answer::Service {
            code: c, message, ..
        }) if c == "InvalidParameterException" => {
            report.fail(
                code,
                format!("{action} refused: {}", Answer::describe(&c, &message)),
                format!(
                    "allow ALLOW_REFRESH_TOKEN_AUTH on the app client; with refresh-token \
                     rotation set {}=true",
                    setup.rotation_name
                ),
            );
        }
        Err(Answer::Service {
            code: c,
            message,
            status,
        }) if status >= 500 => report.warn(
            code,
            format!(
                "could not check {action}: the endpoint answered HTTP {status} ({})",
                if c.starts_with("HTTP ") {
                    message
                } else {
                    Answer::describe(&c, &message)
                }
            ),
            "retry; an emulator such as moto does not implement every call (its RevokeToken \
             answers 500)",
        ),
        Err(Answer::Service {
            code: c, message, ..
        }) => report.warn(
            code,
            format!("{action}: {}", Answer::describe(&c, &message)),
            format!("check {client}, CLIENT_SECRET and the app client's settings"),
        ),
    }
}

/// A message without a space is an echoed value (moto echoes the `SECRET_HASH`): not shown.
fn shown(message: &str) -> &str {
    if message.trim().is_empty() {
        "no message"
    } else if message.contains(' ') {
        message
    } else {
        "message withheld"
    }
}
