//! The fake's own calls to moto: raw AWS JSON 1.1 requests, and the user lookup every
//! operation starts with.

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};

use super::User;

/// `SECRET_HASH`: base64(HMAC-SHA256(secret, username + client id)).
pub(crate) fn secret_hash(secret: &str, username: &str, client_id: &str) -> String {
    use aws_lc_rs::hmac;
    use base64::Engine;
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let tag = hmac::sign(&key, format!("{username}{client_id}").as_bytes());
    base64::engine::general_purpose::STANDARD.encode(tag.as_ref())
}

/// moto's Cognito API, called directly (not through the proxy in front of it).
pub(crate) struct MotoApi {
    url: String,
    http: Client<HttpConnector, Full<Bytes>>,
}

impl MotoApi {
    pub(crate) fn new(url: &str) -> MotoApi {
        MotoApi {
            url: url.to_owned(),
            http: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    /// `operation` with `body`: moto's answer, or its error as the fake passes it on.
    pub(crate) async fn call(&self, operation: &str, body: Value) -> Result<Value, (u16, String)> {
        let request = hyper::Request::post(&self.url)
            .header(
                "x-amz-target",
                format!("AWSCognitoIdentityProviderService.{operation}"),
            )
            .header("content-type", "application/x-amz-json-1.1")
            // moto reads the Region from the credential scope.
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=testing/20240101/us-east-1/cognito-idp/aws4_request, \
                 SignedHeaders=host, Signature=0",
            )
            .body(Full::new(Bytes::from(body.to_string())))
            .expect("a request");
        let response = self.http.request(request).await.map_err(|e| {
            (
                500,
                json!({"__type": "InternalErrorException", "message": e.to_string()}).to_string(),
            )
        })?;
        let status = response.status().as_u16();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        if status >= 300 {
            return Err((status, text));
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// The user `username` of `pool_id` (`None`: no such user).
    pub(crate) async fn user(
        &self,
        pool_id: &str,
        username: &str,
    ) -> Result<Option<User>, (u16, String)> {
        if username.is_empty() {
            return Ok(None);
        }
        let found = self
            .call(
                "AdminGetUser",
                json!({"UserPoolId": pool_id, "Username": username}),
            )
            .await;
        let user = match found {
            Ok(user) => user,
            Err((_, text)) if text.contains("UserNotFoundException") => return Ok(None),
            Err(other) => return Err(other),
        };
        let attribute = |name: &str| {
            user["UserAttributes"].as_array().and_then(|list| {
                list.iter()
                    .find(|a| a["Name"] == name)
                    .and_then(|a| a["Value"].as_str())
                    .map(str::to_owned)
            })
        };
        Ok(Some(User {
            username: user["Username"].as_str().unwrap_or(username).to_owned(),
            sub: attribute("sub").unwrap_or_default(),
            status: user["UserStatus"].as_str().unwrap_or_default().to_owned(),
            enabled: user["Enabled"].as_bool().unwrap_or(true),
            email: attribute("email"),
            phone: attribute("phone_number"),
        }))
    }

    /// moto's own tokens for `username`, by its `USER_SRP_AUTH` (whose password claim moto does
    /// not check): the answer of a sign-in this fake has already verified.
    pub(crate) async fn tokens(
        &self,
        client_id: &str,
        secret: Option<&str>,
        username: &str,
    ) -> Result<Value, (u16, String)> {
        let mut parameters = json!({"USERNAME": username, "SRP_A": "1"});
        if let Some(secret) = secret {
            parameters["SECRET_HASH"] = json!(secret_hash(secret, username, client_id));
        }
        let started = self
            .call(
                "InitiateAuth",
                json!({"ClientId": client_id, "AuthFlow": "USER_SRP_AUTH", "AuthParameters": parameters}),
            )
            .await?;
        let block = started["ChallengeParameters"]["SECRET_BLOCK"].clone();
        let name = started["ChallengeParameters"]["USERNAME"]
            .as_str()
            .unwrap_or(username)
            .to_owned();
        let mut responses = json!({
            "USERNAME": name,
            "PASSWORD_CLAIM_SECRET_BLOCK": block,
            "PASSWORD_CLAIM_SIGNATURE": "verified-by-the-fake",
            "TIMESTAMP": "Mon Jan 1 00:00:00 UTC 2024",
        });
        if let Some(secret) = secret {
            responses["SECRET_HASH"] = json!(secret_hash(secret, &name, client_id));
        }
        let mut answer = self
            .call(
                "RespondToAuthChallenge",
                json!({
                    "ClientId": client_id,
                    "ChallengeName": "PASSWORD_VERIFIER",
                    "Session": started["Session"],
                    "ChallengeResponses": responses,
                }),
            )
            .await?;
        if answer.get("ChallengeParameters").is_none() {
            answer["ChallengeParameters"] = json!({});
        }
        Ok(answer)
    }
}
