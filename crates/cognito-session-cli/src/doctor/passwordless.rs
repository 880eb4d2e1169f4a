//! The pool's sign-in policy as choice-based sign-in (`Sessions::sign_in_choice`, `USER_AUTH`)
//! needs it: which first factors the pool allows, its feature plan, and for passkeys the
//! WebAuthn relying party the app's pages must live under.

use aws_sdk_cognitoidentityprovider::types::{
    AuthFactorType, EmailSendingAccountType, ExplicitAuthFlowsType, UserPoolClientType,
    UserPoolTierType, UserPoolType,
};

use super::aws::{answer, Answer, Aws};
use super::report::Report;
use super::setup::Setup;

/// `pool.sign_in_policy` and `pool.passkeys`, when the app client allows `ALLOW_USER_AUTH` or
/// the account flows are configured (sign-in after sign-up uses the same flow).
pub async fn check(
    aws: &Aws,
    pool: &UserPoolType,
    client: &UserPoolClientType,
    setup: &Setup,
    report: &mut Report,
) {
    let user_auth = client
        .explicit_auth_flows()
        .contains(&ExplicitAuthFlowsType::AllowUserAuth);
    if !user_auth && setup.accounts.is_none() {
        return;
    }
    let pool_id = pool.id().unwrap_or("?");
    if pool.user_pool_tier() == Some(&UserPoolTierType::Lite) {
        report.warn(
            "pool.sign_in_policy",
            format!(
                "user pool {pool_id} is on the Lite feature plan: choice-based sign-in \
                 (sign_in_choice, sign-in after sign-up) needs Essentials or Plus, and Cognito \
                 refuses it with FeatureUnavailableInTierException"
            ),
            format!("move user pool {pool_id} to the Essentials (or Plus) feature plan"),
        );
        return;
    }
    let factors: Vec<&str> = pool
        .policies()
        .and_then(|p| p.sign_in_policy())
        .map(|p| {
            p.allowed_first_auth_factors()
                .iter()
                .map(AuthFactorType::as_str)
                .collect()
        })
        .unwrap_or_default();
    if factors.is_empty() {
        report.info(
            "pool.sign_in_policy",
            format!(
                "user pool {pool_id} reports no sign-in policy (AllowedFirstAuthFactors): \
                 sign_in_choice offers what Cognito allows by default, the password"
            ),
        );
        return;
    }
    let passwordless: Vec<&str> = factors
        .iter()
        .copied()
        .filter(|f| *f != "PASSWORD")
        .collect();
    if passwordless.is_empty() {
        report.info(
            "pool.sign_in_policy",
            format!(
                "the sign-in policy of user pool {pool_id} allows the password only: \
                 sign_in_choice offers no code or passkey (add EMAIL_OTP, SMS_OTP or WEB_AUTHN \
                 to its allowed first factors for passwordless sign-in)"
            ),
        );
    } else {
        report.ok(
            "pool.sign_in_policy",
            format!(
                "the sign-in policy of user pool {pool_id} allows {}: sign_in_choice offers \
                 each to the users who have it (an email address, a phone number, a passkey)",
                factors.join(", ")
            ),
        );
    }
    if factors.contains(&"EMAIL_OTP") {
        let default_sender = pool
            .email_configuration()
            .and_then(|e| e.email_sending_account())
            .is_none_or(|a| *a == EmailSendingAccountType::CognitoDefault);
        if default_sender {
            report.info(
                "pool.email_delivery",
                format!(
                    "user pool {pool_id} sends email with Cognito's default sender, which has a \
                     low daily quota: for sign-in codes by email in production, send with Amazon \
                     SES (EmailConfiguration EmailSendingAccount DEVELOPER)"
                ),
            );
        }
    }
    if factors.contains(&"WEB_AUTHN") {
        relying_party(aws, pool_id, report).await;
    }
}

/// `pool.passkeys`: the WebAuthn relying party. Passkeys are bound to it: the pages that create
/// and use them must be served from that domain or a subdomain.
async fn relying_party(aws: &Aws, pool_id: &str, report: &mut Report) {
    let config = aws
        .cognito
        .get_user_pool_mfa_config()
        .user_pool_id(pool_id)
        .send()
        .await;
    let output = match config {
        Ok(output) => output,
        Err(error) => {
            if let Answer::Service { code, message, .. } =
                answer(report, "cognito-idp:GetUserPoolMfaConfig", &error)
            {
                report.warn(
                    "pool.passkeys",
                    format!(
                        "could not read the passkey settings: {}",
                        Answer::describe(&code, &message)
                    ),
                    "run the doctor with cognito-idp:GetUserPoolMfaConfig to check the WebAuthn \
                     relying party",
                );
            }
            return;
        }
    };
    let rp = output
        .web_authn_configuration()
        .and_then(|w| w.relying_party_id())
        .filter(|rp| !rp.is_empty());
    let Some(rp) = rp else {
        report.warn(
            "pool.passkeys",
            format!(
                "passkeys are allowed, but user pool {pool_id} names no WebAuthn relying party: \
                 Cognito then uses the pool's own domain (managed login), and passkeys created \
                 on your app's pages are refused (WebAuthnRelyingPartyMismatchException), or \
                 without a domain every passkey call fails (WebAuthnConfigurationMissingException)"
            ),
            format!(
                "set the relying party to the domain your pages are served from: \
                 SetUserPoolMfaConfig --user-pool-id {pool_id} --web-authn-configuration \
                 RelyingPartyId=app.example.com,UserVerification=preferred"
            ),
        );
        return;
    };
    let allowed = std::env::var("ALLOWED_ORIGINS").unwrap_or_default();
    let outside: Vec<&str> = allowed
        .split(',')
        .map(str::trim)
        .filter(|origin| !origin.is_empty())
        .filter(|origin| !under(origin, rp))
        .collect();
    if outside.is_empty() {
        report.ok(
            "pool.passkeys",
            format!(
                "passkeys belong to the relying party {rp}: serve the pages that create and use \
                 them from {rp} or a subdomain"
            ),
        );
    } else {
        report.warn(
            "pool.passkeys",
            format!(
                "passkeys belong to the relying party {rp}, but ALLOWED_ORIGINS has {} outside \
                 it: a browser there cannot create or use them",
                outside.join(", ")
            ),
            format!(
                "serve the passkey pages from {rp} or a subdomain, or set the pool's relying \
                 party to the domain they are served from"
            ),
        );
    }
}

/// Whether `origin` (`https://host[:port]`) is `rp` or a subdomain of it.
fn under(origin: &str, rp: &str) -> bool {
    let host = origin
        .split_once("://")
        .map_or(origin, |(_, rest)| rest)
        .split(['/', ':'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let rp = rp.to_ascii_lowercase();
    host == rp || host.ends_with(&format!(".{rp}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn origins_under_the_relying_party() {
        assert!(super::under("https://example.com", "example.com"));
        assert!(super::under("https://app.example.com:8443", "example.com"));
        assert!(super::under("http://localhost:3000", "localhost"));
        assert!(!super::under("https://example.com.evil.net", "example.com"));
        assert!(!super::under("https://notexample.com", "example.com"));
        assert!(!super::under("https://example.com", "app.example.com"));
    }
}
