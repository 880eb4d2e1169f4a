//! The user pool and the app client as the function needs them (refresh flow, secret,
//! revocation, validity, rotation, device tracking, issuers).

use aws_sdk_cognitoidentityprovider::types::{
    ExplicitAuthFlowsType, FeatureType, TimeUnitsType, UserPoolClientType,
};

use super::aws::{answer, Answer, Aws};
use super::report::Report;
use super::setup::{Setup, SignInFlow};

/// What the pool and client checks learned, for the probes.
#[derive(Debug, Default)]
pub struct ClientFacts {
    /// The pool or client does not exist: the Cognito probes would only repeat it.
    pub missing: bool,
    /// `EnableTokenRevocation`, if reported.
    pub revocation: Option<bool>,
}

/// `pool.*` and `client.*`.
pub async fn check(aws: &Aws, setup: &Setup, report: &mut Report) -> ClientFacts {
    let mut facts = ClientFacts::default();
    let Some(pool) = setup.pool() else {
        return facts;
    };
    if report.aws_down {
        return facts;
    }
    let pool_name = setup.pool_name();
    let mut pool_described = None;
    match aws
        .cognito
        .describe_user_pool()
        .user_pool_id(pool)
        .send()
        .await
    {
        Ok(output) => {
            let described = output.user_pool;
            report.ok(
                "pool.exists",
                format!(
                    "user pool {pool} ({}) exists in {}",
                    described
                        .as_ref()
                        .and_then(|p| p.name())
                        .unwrap_or("name not reported"),
                    aws.cognito_region
                ),
            );
            let devices = described.as_ref().and_then(|p| p.device_configuration());
            match devices {
                // Present only when the pool remembers devices (always or on the user's prompt).
                Some(d) => {
                    report.info(
                        "pool.devices",
                        format!(
                            "device tracking is on (remembered {}{}): the library confirms each \
                             login's device (ConfirmDevice) and sends its DEVICE_KEY with every \
                             refresh; pass the login's NewDeviceMetadata to Sessions::start",
                            if d.device_only_remembered_on_user_prompt() {
                                "on the user's prompt"
                            } else {
                                "always"
                            },
                            if d.challenge_required_on_new_device() {
                                ", challenge on new devices"
                            } else {
                                ""
                            }
                        ),
                    );
                }
                _ => report.ok("pool.devices", "device tracking is off"),
            }
            let region = setup.pool_region.as_deref().unwrap_or_default();
            report.info(
                "pool.issuer",
                match &setup.issuer {
                    Some(issuer) => format!(
                        "only iss {} ({}) is accepted, with its JWKS",
                        issuer.value, issuer.name
                    ),
                    None => format!(
                        "tokens may carry iss https://cognito-idp.{region}.amazonaws.com/{pool} \
                         (original issuer type) or \
                         https://issuer-cognito-idp.{region}.amazonaws.com/{pool} (updated type): \
                         the verifier accepts both, each with its own JWKS"
                    ),
                },
            );
            pool_described = described;
        }
        Err(error) => match answer(report, "cognito-idp:DescribeUserPool", &error) {
            Answer::Down => return facts,
            Answer::Service { code, .. } if code == "ResourceNotFoundException" => {
                report.fail(
                    "pool.exists",
                    format!(
                        "the user pool {pool} does not exist in {} (this account)",
                        aws.cognito_region
                    ),
                    format!("fix {pool_name} (the pool's id, with its Region: us-east-1_AbC123)"),
                );
                facts.missing = true;
                return facts;
            }
            Answer::Service { code, message, .. } => report.warn(
                "pool.exists",
                format!(
                    "could not check the user pool: {}",
                    Answer::describe(&code, &message)
                ),
                "the function does not need DescribeUserPool; run the doctor with \
                 cognito-idp:DescribeUserPool to check the pool",
            ),
        },
    }
    let Some(client_id) = &setup.client_id else {
        return facts;
    };
    let described = aws
        .cognito
        .describe_user_pool_client()
        .user_pool_id(pool)
        .client_id(&client_id.value)
        .send()
        .await;
    match described {
        Ok(output) => match output.user_pool_client {
            Some(client) => {
                client_checks(&client, setup, report, &mut facts);
                if let Some(pool) = &pool_described {
                    super::passwordless::check(aws, pool, &client, setup, report).await;
                }
            }
            None => report.warn(
                "client.exists",
                "DescribeUserPoolClient answered without a client",
                "retry",
            ),
        },
        Err(error) => match answer(report, "cognito-idp:DescribeUserPoolClient", &error) {
            Answer::Down => {}
            Answer::Service { code, .. } if code == "ResourceNotFoundException" => {
                report.fail(
                    "client.exists",
                    format!(
                        "the app client {} is not a client of the pool {pool}",
                        client_id.value
                    ),
                    format!(
                        "fix {} (or {pool_name}): the app client's id, in the pool's App \
                         integration tab",
                        client_id.name
                    ),
                );
                facts.missing = true;
            }
            Answer::Service { code, message, .. } => report.warn(
                "client.exists",
                format!(
                    "could not check the app client: {}",
                    Answer::describe(&code, &message)
                ),
                "the function does not need DescribeUserPoolClient; run the doctor with \
                 cognito-idp:DescribeUserPoolClient to check the app client",
            ),
        },
    }
    facts
}

fn client_checks(
    client: &UserPoolClientType,
    setup: &Setup,
    report: &mut Report,
    facts: &mut ClientFacts,
) {
    let id = client.client_id().unwrap_or("?");
    report.ok(
        "client.exists",
        format!(
            "app client {id} ({}) exists",
            client.client_name().unwrap_or("no name")
        ),
    );
    // Auth flows.
    let flows = client.explicit_auth_flows();
    let modern = flows.iter().any(|f| f.as_str().starts_with("ALLOW_"));
    if flows.contains(&ExplicitAuthFlowsType::AllowRefreshTokenAuth) {
        report.ok("client.refresh_flow", "ALLOW_REFRESH_TOKEN_AUTH is enabled");
    } else if flows.is_empty() {
        report.warn(
            "client.refresh_flow",
            "the explicit auth flows are not reported by this endpoint",
            "check that the app client allows ALLOW_REFRESH_TOKEN_AUTH",
        );
    } else if !modern {
        report.ok(
            "client.refresh_flow",
            "legacy auth flows: refreshing is always allowed",
        );
    } else {
        report.fail(
            "client.refresh_flow",
            format!(
                "ALLOW_REFRESH_TOKEN_AUTH is not among the app client's auth flows ({}): every \
                 refresh fails and users are logged out when their access token expires",
                flows
                    .iter()
                    .map(|f| f.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            format!("add ALLOW_REFRESH_TOKEN_AUTH to the explicit auth flows of app client {id}"),
        );
    }
    sign_in_flow(client, setup, report);
    user_auth(client, setup, report);
    // The secret: compared, never printed.
    match (client.client_secret(), &setup.client_secret) {
        (None, None) => report.ok(
            "client.secret",
            "the app client has no secret and CLIENT_SECRET is not set",
        ),
        (Some(secret), Some(configured)) if secret == configured => {
            report.ok("client.secret", "CLIENT_SECRET is the app client's secret")
        }
        (Some(_), Some(_)) => report.fail(
            "client.secret",
            "CLIENT_SECRET is not the app client's secret: every refresh fails (SECRET_HASH)",
            format!("set CLIENT_SECRET to the secret of app client {id}"),
        ),
        (Some(_), None) => report.fail(
            "client.secret",
            "the app client has a secret, but CLIENT_SECRET is not set: every refresh fails",
            format!("set CLIENT_SECRET to the secret of app client {id}"),
        ),
        (None, Some(_)) => report.fail(
            "client.secret",
            "CLIENT_SECRET is set, but the app client has no secret: Cognito refuses the \
             SECRET_HASH the function sends",
            "unset CLIENT_SECRET (or use an app client with a secret)",
        ),
    }
    // Revocation.
    facts.revocation = client.enable_token_revocation();
    match client.enable_token_revocation() {
        Some(true) => report.ok(
            "client.revocation",
            "token revocation is enabled: tokens carry origin_jti (refresh-token family binding) \
             and a logout revokes the refresh token",
        ),
        Some(false) => report.warn(
            "client.revocation",
            "token revocation is disabled: tokens carry no origin_jti, so a session is not bound \
             to its refresh-token family, and logout cannot revoke the refresh token",
            format!("enable token revocation on app client {id} (EnableTokenRevocation)"),
        ),
        None => report.warn(
            "client.revocation",
            "EnableTokenRevocation is not reported by this endpoint",
            "check that token revocation is enabled on the app client",
        ),
    }
    validity(client, setup, report);
    rotation(client, setup, report);
    super::login::client(client, setup, report);
}

/// Whether the app client's explicit auth flows let `InitiateAuth` use `flow`: its `ALLOW_`
/// value, or for a client with the legacy values, SRP unless `CUSTOM_AUTH_FLOW_ONLY` and the
/// password flow with `USER_PASSWORD_AUTH`. (`ALLOW_USER_AUTH` does not count: it allows the
/// `USER_AUTH` flow, not these two.)
fn allows(flows: &[ExplicitAuthFlowsType], flow: SignInFlow) -> bool {
    let modern = flows.iter().any(|f| f.as_str().starts_with("ALLOW_"));
    let has = |name: &str| flows.iter().any(|f| f.as_str() == name);
    match (flow, modern) {
        (SignInFlow::Srp, true) => has("ALLOW_USER_SRP_AUTH"),
        (SignInFlow::Password, true) => has("ALLOW_USER_PASSWORD_AUTH"),
        (SignInFlow::Srp, false) => !has("CUSTOM_AUTH_FLOW_ONLY"),
        (SignInFlow::Password, false) => has("USER_PASSWORD_AUTH"),
    }
}

/// `client.sign_in_flow`: the flow `SIGN_IN_FLOW` makes the own-form sign-in use is one the app
/// client allows. A FAIL when `SIGN_IN_FLOW` is set; when it is not, the function may not sign
/// users in itself (managed login needs neither flow), so a missing SRP flow is INFO.
fn sign_in_flow(client: &UserPoolClientType, setup: &Setup, report: &mut Report) {
    let id = client.client_id().unwrap_or("?");
    let flows = client.explicit_auth_flows();
    if flows.is_empty() {
        if let Some((_, named)) = &setup.sign_in_flow {
            report.warn(
                "client.sign_in_flow",
                "the explicit auth flows are not reported by this endpoint",
                format!("check that the app client allows what {} needs", named.name),
            );
        }
        return;
    }
    let (flow, configured) = match &setup.sign_in_flow {
        Some((flow, named)) => (*flow, Some(named)),
        None => (SignInFlow::Srp, None),
    };
    let needed = format!("ALLOW_{}", flow.auth_flow());
    let other = match flow {
        SignInFlow::Srp => SignInFlow::Password,
        SignInFlow::Password => SignInFlow::Srp,
    };
    let listed = flows
        .iter()
        .map(|f| f.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    match configured {
        _ if allows(flows, flow) => report.ok(
            "client.sign_in_flow",
            match configured {
                Some(named) => format!(
                    "{} {} ({}): the app client allows {needed}",
                    named.name,
                    named.value,
                    flow.auth_flow()
                ),
                None => format!(
                    "the own-form sign-in (SIGN_IN_FLOW not set: {}) is allowed: {needed}",
                    flow.auth_flow()
                ),
            },
        ),
        Some(named) => {
            let instead = if allows(flows, other) {
                format!(
                    ", or set {}={} ({}), which it allows",
                    named.name,
                    match other {
                        SignInFlow::Srp => "srp",
                        SignInFlow::Password => "password",
                    },
                    other.auth_flow()
                )
            } else {
                String::new()
            };
            report.fail(
                "client.sign_in_flow",
                format!(
                    "{} is {} ({}), but {needed} is not among app client {id}'s auth flows \
                     ({listed}): Cognito refuses every sign-in with the function's own form",
                    named.name,
                    named.value,
                    flow.auth_flow()
                ),
                format!("add {needed} to the explicit auth flows of app client {id}{instead}"),
            );
        }
        None => {
            report.info(
                "client.sign_in_flow",
                format!(
                "the app client does not allow {needed} ({listed}): if the function signs users \
                 in with its own form (Sessions::sign_in, SIGN_IN_FLOW not set: {}), Cognito \
                 refuses it; add {needed}{}, and set SIGN_IN_FLOW to have this checked",
                flow.auth_flow(),
                if allows(flows, other) {
                    format!(" or set SIGN_IN_FLOW=password ({}, allowed)", other.auth_flow())
                } else {
                    String::new()
                }
            ),
            )
        }
    }
}

/// `client.user_auth`: when the function signs users up (an account variable is set), the app
/// client allows `ALLOW_USER_AUTH`, which Cognito's sign-in after sign-up needs. Without it
/// the account is still confirmed, `confirm_sign_up` answers `Confirmed::SignInNeeded` and the
/// user signs in with the form: a WARN naming that fallback.
fn user_auth(client: &UserPoolClientType, setup: &Setup, report: &mut Report) {
    let Some(variable) = &setup.accounts else {
        return;
    };
    let id = client.client_id().unwrap_or("?");
    let flows = client.explicit_auth_flows();
    if flows.is_empty() {
        report.warn(
            "client.user_auth",
            "the explicit auth flows are not reported by this endpoint",
            format!("check that app client {id} allows ALLOW_USER_AUTH (sign-in after sign-up)"),
        );
    } else if flows.contains(&ExplicitAuthFlowsType::AllowUserAuth) {
        report.ok(
            "client.user_auth",
            format!(
                "sign-in after sign-up ({variable} is set): the app client allows ALLOW_USER_AUTH"
            ),
        );
    } else {
        report.warn(
            "client.user_auth",
            format!(
                "{variable} is set (the account flows), but app client {id} does not allow \
                 ALLOW_USER_AUTH: after confirming a sign-up the user is not signed in \
                 (Confirmed::SignInNeeded) and must sign in with the form"
            ),
            format!(
                "add ALLOW_USER_AUTH to the explicit auth flows of app client {id} (and allow a \
                 first factor such as PASSWORD in the pool's sign-in policy), or accept the \
                 sign-in form after confirmation"
            ),
        );
    }
}

/// `client.refresh_validity`: a session cannot outlive its refresh token.
fn validity(client: &UserPoolClientType, setup: &Setup, report: &mut Report) {
    let value = client.refresh_token_validity();
    if value <= 0 {
        report.warn(
            "client.refresh_validity",
            "the refresh token validity is not reported by this endpoint",
            format!(
                "check that the app client's refresh token validity is at least {} ({} s)",
                setup.lifetime_name, setup.lifetime
            ),
        );
        return;
    }
    let unit = client
        .token_validity_units()
        .and_then(|u| u.refresh_token())
        .cloned()
        .unwrap_or(TimeUnitsType::Days);
    let (per, name) = match unit {
        TimeUnitsType::Seconds => (1, "seconds"),
        TimeUnitsType::Minutes => (60, "minutes"),
        TimeUnitsType::Hours => (3600, "hours"),
        _ => (86_400, "days"),
    };
    let secs = u64::try_from(value).unwrap_or(0) * per;
    let validity = format!("{value} {name} ({secs} s)");
    if secs < setup.lifetime {
        report.warn(
            "client.refresh_validity",
            format!(
                "the refresh token is valid for {validity}, less than {} ({} s): sessions end \
                 when it expires, before the cookie does",
                setup.lifetime_name, setup.lifetime
            ),
            format!(
                "set {} to at most {secs}, or raise the app client's refresh token validity",
                setup.lifetime_name
            ),
        );
    } else {
        report.ok(
            "client.refresh_validity",
            format!(
                "the refresh token is valid for {validity}, at least {} ({} s)",
                setup.lifetime_name, setup.lifetime
            ),
        );
    }
}

/// `client.rotation`: the refresh call the function makes must be the one the client takes.
fn rotation(client: &UserPoolClientType, setup: &Setup, report: &mut Report) {
    let name = &setup.rotation_name;
    let configured = if setup.rotation { "true" } else { "false" };
    match client.refresh_token_rotation().map(|r| r.feature()) {
        None => report.warn(
            "client.rotation",
            format!(
                "refresh-token rotation is not reported by this endpoint: {name}={configured} \
                 cannot be checked"
            ),
            format!("check that {name} is true exactly when the app client rotates refresh tokens"),
        ),
        Some(feature) => {
            let on = *feature == FeatureType::Enabled;
            if on == setup.rotation {
                report.ok(
                    "client.rotation",
                    format!(
                        "refresh-token rotation is {} and {name} is {configured}",
                        if on { "on" } else { "off" }
                    ),
                );
            } else if on {
                report.fail(
                    "client.rotation",
                    format!(
                        "the app client rotates refresh tokens, but {name} is {configured}: \
                         InitiateAuth refreshes are refused"
                    ),
                    format!("set {name}=true"),
                );
            } else {
                report.warn(
                    "client.rotation",
                    format!(
                        "{name} is true, but the app client does not rotate refresh tokens \
                         (GetTokensFromRefreshToken then returns no new refresh token)"
                    ),
                    format!("unset {name} (or enable rotation on the app client)"),
                );
            }
        }
    }
}
