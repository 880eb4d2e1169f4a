//! The seed package's design, emulated as the baseline for round-trip counts and latency: it asks
//! Cognito about the access token on every request (`GetUser`), and when Cognito says the token
//! is no longer good, reads the session row (`GetItem`) and refreshes (`InitiateAuth`).

use aws_sdk_cognitoidentityprovider::types::AuthFlowType;
use aws_sdk_dynamodb::types::AttributeValue;

use crate::{peek, Pool};

/// What one request of the seed's design came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeedOutcome {
    /// `GetUser` accepted the token.
    Valid,
    /// `GetUser` refused it, and the stored refresh token produced a new access token.
    Refreshed(String),
    /// Neither worked.
    Refused,
}

/// The seed's per-request flow on `pool`, through the given (counted) clients.
#[derive(Debug, Clone)]
pub struct SeedDesign {
    /// Cognito client.
    pub cognito: aws_sdk_cognitoidentityprovider::Client,
    /// DynamoDB client.
    pub dynamodb: aws_sdk_dynamodb::Client,
    /// Table, partition key and app client of the pool.
    pub pool: Pool,
}

impl SeedDesign {
    /// One request presenting `access_token`.
    pub async fn request(&self, access_token: &str) -> SeedOutcome {
        let user = self
            .cognito
            .get_user()
            .access_token(access_token)
            .send()
            .await;
        if user.is_ok() {
            return SeedOutcome::Valid;
        }
        let claims = peek(access_token);
        let (Some(sub), Some(username)) = (claims["sub"].as_str(), claims["username"].as_str())
        else {
            return SeedOutcome::Refused;
        };
        let Ok(row) = self
            .dynamodb
            .get_item()
            .table_name(&self.pool.table)
            .key(&self.pool.partition_key, AttributeValue::S(sub.into()))
            .send()
            .await
        else {
            return SeedOutcome::Refused;
        };
        let Some(refresh_token) = row
            .item
            .as_ref()
            .and_then(|item| item.get("token"))
            .and_then(|token| token.as_s().ok())
        else {
            return SeedOutcome::Refused;
        };
        let refreshed = self
            .cognito
            .initiate_auth()
            .client_id(&self.pool.client_id)
            .auth_flow(AuthFlowType::RefreshTokenAuth)
            .auth_parameters("REFRESH_TOKEN", refresh_token)
            .auth_parameters("USERNAME", username)
            .send()
            .await;
        match refreshed
            .ok()
            .and_then(|r| r.authentication_result)
            .and_then(|r| r.access_token)
        {
            Some(token) => SeedOutcome::Refreshed(token),
            None => SeedOutcome::Refused,
        }
    }
}
