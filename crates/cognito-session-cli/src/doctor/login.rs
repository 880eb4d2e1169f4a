//! Managed login as the function is configured for it (`COGNITO_DOMAIN`, `REDIRECT_URI`,
//! `LOGOUT_URI`, `OAUTH_SCOPES`) against the app client's OAuth settings and the pool's domain.

use aws_sdk_cognitoidentityprovider::types::{OAuthFlowType, UserPoolClientType};

use super::aws::{answer, is_access_denied, Answer, Aws};
use super::report::Report;
use super::setup::Setup;

/// The library's default `OAUTH_SCOPES`.
const DEFAULT_SCOPES: &str = "openid email";

/// `login.config`: both halves of managed login, or neither (as the function requires).
pub fn settings(setup: &Setup, report: &mut Report) {
    match (&setup.cognito_domain, &setup.redirect_uri) {
        (Some(domain), None) => report.fail(
            "login.config",
            format!(
                "{} is set but REDIRECT_URI is not: the function refuses to start",
                domain.name
            ),
            "set REDIRECT_URI to the callback URL registered on the app client",
        ),
        (None, Some(redirect)) => report.fail(
            "login.config",
            format!(
                "{} is set but COGNITO_DOMAIN is not: the function refuses to start",
                redirect.name
            ),
            "set COGNITO_DOMAIN to the user pool's domain",
        ),
        _ => {}
    }
}

/// `login.*` checks of the app client's settings (after `DescribeUserPoolClient`).
pub fn client(client: &UserPoolClientType, setup: &Setup, report: &mut Report) {
    let id = client.client_id().unwrap_or("?");
    let Some(redirect) = &setup.redirect_uri else {
        if !client.callback_urls().is_empty() {
            report.info(
                "login.off",
                "the app client has callback URLs, but COGNITO_DOMAIN and REDIRECT_URI are not \
                 set: the function does not offer managed login",
            );
        }
        return;
    };
    let flows = client.allowed_o_auth_flows();
    if client.allowed_o_auth_flows_user_pool_client() == Some(true)
        && flows.contains(&OAuthFlowType::Code)
    {
        report.ok(
            "login.code_flow",
            "the app client allows the authorization code grant",
        );
    } else {
        report.fail(
            "login.code_flow",
            "the app client does not allow the authorization code grant: Cognito answers every \
             login with unauthorized_client",
            format!(
                "on app client {id}, turn on OAuth (AllowedOAuthFlowsUserPoolClient) with the \
                 \"Authorization code grant\" flow"
            ),
        );
    }
    let registered = client.callback_urls();
    if registered.iter().any(|u| u == &redirect.value) {
        report.ok(
            "login.callback_url",
            format!(
                "{} {} is a callback URL of the app client",
                redirect.name, redirect.value
            ),
        );
    } else {
        report.fail(
            "login.callback_url",
            format!(
                "{} {} is not among the app client's callback URLs ({}): Cognito refuses every \
                 login with redirect_mismatch",
                redirect.name,
                redirect.value,
                listed(registered)
            ),
            format!(
                "add {} to the callback URLs of app client {id}, or set {} to one of them",
                redirect.value, redirect.name
            ),
        );
    }
    match &setup.logout_uri {
        Some(logout) if client.logout_urls().iter().any(|u| u == &logout.value) => report.ok(
            "login.logout_url",
            format!(
                "{} {} is a sign-out URL of the app client",
                logout.name, logout.value
            ),
        ),
        Some(logout) => report.fail(
            "login.logout_url",
            format!(
                "{} {} is not among the app client's sign-out URLs ({}): the managed login's \
                 /logout refuses it, and users stay signed in there",
                logout.name,
                logout.value,
                listed(client.logout_urls())
            ),
            format!(
                "add {} to the sign-out URLs of app client {id}",
                logout.value
            ),
        ),
        None => report.warn(
            "login.logout_url",
            "LOGOUT_URI is not set: a logout ends the session here but not the managed-login \
             session, so the next login signs in without asking for the password",
            format!("set LOGOUT_URI to a sign-out URL of app client {id}"),
        ),
    }
    let (scopes, scopes_name) = match &setup.oauth_scopes {
        Some(s) => (s.value.clone(), s.name.clone()),
        None => (
            DEFAULT_SCOPES.to_owned(),
            "OAUTH_SCOPES (default)".to_owned(),
        ),
    };
    let allowed = client.allowed_o_auth_scopes();
    let missing: Vec<&str> = scopes
        .split([' ', ','])
        .filter(|s| !s.is_empty() && !allowed.iter().any(|a| a == s))
        .collect();
    if missing.is_empty() {
        report.ok(
            "login.scopes",
            format!("the app client allows the scopes asked for ({scopes})"),
        );
    } else {
        report.fail(
            "login.scopes",
            format!(
                "{scopes_name} asks for {} which app client {id} does not allow ({}): Cognito \
                 answers invalid_scope",
                missing.join(", "),
                listed(allowed)
            ),
            format!(
                "allow {} on the app client, or remove it from OAUTH_SCOPES",
                missing.join(", ")
            ),
        );
    }
}

/// `login.domain`: the pool's domain is this pool's (`DescribeUserPoolDomain`).
pub async fn domain(aws: &Aws, setup: &Setup, report: &mut Report) {
    let Some(domain) = &setup.cognito_domain else {
        return;
    };
    let host = domain
        .value
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .split(['/', ':'])
        .next()
        .unwrap_or("");
    if matches!(host, "127.0.0.1" | "localhost" | "[::1]") {
        report.info(
            "login.domain",
            format!(
                "{} {} is on this machine (an emulator): not checked",
                domain.name, domain.value
            ),
        );
        return;
    }
    // A prefix domain is described by its prefix, a custom domain by its name.
    let name = match host.split_once(".auth.") {
        Some((prefix, rest)) if rest.ends_with(".amazoncognito.com") => prefix,
        _ => host,
    };
    let Some(pool) = setup.pool() else {
        return;
    };
    let described = aws
        .cognito
        .describe_user_pool_domain()
        .domain(name)
        .send()
        .await;
    match described {
        Ok(output) => match output.domain_description().and_then(|d| d.user_pool_id()) {
            Some(id) if id == pool => report.ok(
                "login.domain",
                format!(
                    "{} {} is user pool {pool}'s domain",
                    domain.name, domain.value
                ),
            ),
            Some(other) => report.fail(
                "login.domain",
                format!(
                    "{} {} belongs to user pool {other}, not {pool}",
                    domain.name, domain.value
                ),
                format!("set {} to the domain of user pool {pool}", domain.name),
            ),
            None => report.fail(
                "login.domain",
                format!(
                    "{} {}: no such user pool domain in {}",
                    domain.name, domain.value, aws.cognito_region
                ),
                format!(
                    "set {} to the domain shown under the pool's \"Domain\" settings",
                    domain.name
                ),
            ),
        },
        Err(error) => match answer(report, "cognito-idp:DescribeUserPoolDomain", &error) {
            Answer::Down => {}
            Answer::Service { code, .. } if is_access_denied(&code) => report.info(
                "login.domain",
                "the function does not need DescribeUserPoolDomain; run the doctor with \
                 cognito-idp:DescribeUserPoolDomain to check COGNITO_DOMAIN",
            ),
            Answer::Service { code, message, .. } => report.warn(
                "login.domain",
                format!(
                    "could not check COGNITO_DOMAIN: {}",
                    Answer::describe(&code, &message)
                ),
                format!("check {}", domain.name),
            ),
        },
    }
}

fn listed(urls: &[String]) -> String {
    if urls.is_empty() {
        "none".to_owned()
    } else {
        urls.join(", ")
    }
}
