//! The managed-login server's back-channel endpoints: `/oauth2/token` (authorization code with PKCE, refresh
//! token) and `/oauth2/userInfo`, with the ID token re-signed under moto's key to carry the
//! authorize request's `nonce`.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use aws_lc_rs::{constant_time, digest};
use aws_sdk_cognitoidentityprovider::types::AuthFlowType;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, WWW_AUTHENTICATE};
use hyper::http::request::Parts;
use hyper::{Method, Response, StatusCode};
use serde_json::{json, Map, Value};

use super::{lock, parse, Answer, Client, Fault, Grant, Inner, Params};

/// The attributes each OpenID scope puts into the ID token.
const SCOPE_CLAIMS: &[(&str, &[&str])] = &[
    ("email", &["email", "email_verified"]),
    ("phone", &["phone_number", "phone_number_verified"]),
    (
        "profile",
        &[
            "name",
            "family_name",
            "given_name",
            "middle_name",
            "nickname",
            "preferred_username",
            "profile",
            "picture",
            "website",
            "gender",
            "birthdate",
            "zoneinfo",
            "locale",
            "updated_at",
            "address",
        ],
    ),
];

fn json_answer(status: StatusCode, body: &Value) -> Answer {
    Response::builder()
        .status(status)
        .header(CONTENT_TYPE, "application/json;charset=UTF-8")
        .header(CACHE_CONTROL, "no-store")
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("a valid JSON answer")
}

/// A token endpoint refusal: `400 {"error": ...}` as the Cognito documentation shows.
fn refuse(error: &str) -> Answer {
    json_answer(StatusCode::BAD_REQUEST, &json!({ "error": error }))
}

/// The claims of a token moto signed (it is ours: no signature check needed).
fn claims_of(token: &str) -> Option<Map<String, Value>> {
    let payload = token.split('.').nth(1)?;
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
}

/// `at_hash`: the left half of SHA-256 of the access token, base64url.
fn at_hash(access_token: &str) -> String {
    let hash = digest::digest(&digest::SHA256, access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(&hash.as_ref()[..16])
}

/// PKCE S256: base64url(SHA-256(verifier)).
fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, verifier.as_bytes()).as_ref())
}

impl Inner {
    /// `POST /oauth2/token`.
    pub(super) async fn token(&self, parts: &Parts, body: &[u8]) -> Answer {
        self.token_requests.fetch_add(1, Ordering::SeqCst);
        let fault = *lock(&self.fault);
        match fault {
            Some(Fault::Status(status)) => {
                let status =
                    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                return json_answer(status, &json!({"error": "server_error"}));
            }
            Some(Fault::Hang) => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                return refuse("server_error");
            }
            None => {}
        }
        if parts.method != Method::POST {
            return json_answer(
                StatusCode::METHOD_NOT_ALLOWED,
                &json!({"error": "invalid_request"}),
            );
        }
        let form_encoded = parts
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(';').next().map(str::trim) == Some("application/x-www-form-urlencoded")
            });
        if !form_encoded {
            return refuse("invalid_request");
        }
        let form = parse(&String::from_utf8_lossy(body));
        let client = match self.authenticate_client(parts, &form).await {
            Ok(client) => client,
            Err(answer) => return answer,
        };
        match form.get("grant_type").map(String::as_str) {
            None | Some("") => refuse("invalid_request"),
            Some("authorization_code") => self.code_grant(&client, &form),
            Some("refresh_token") => self.refresh_grant(&client, &form).await,
            Some("client_credentials")
                if !client.flows.iter().any(|f| f == "client_credentials") =>
            {
                refuse("unauthorized_client")
            }
            Some(_) => refuse("unsupported_grant_type"),
        }
    }

    /// `client_secret_basic` (HTTP Basic `client_id:client_secret`), `client_secret_post`
    /// (`client_id` and `client_secret` in the body) or, for a client without a secret,
    /// `client_id` alone.
    async fn authenticate_client(&self, parts: &Parts, form: &Params) -> Result<Client, Answer> {
        let basic = match parts.headers.get(AUTHORIZATION) {
            None => None,
            Some(value) => {
                let decoded = value
                    .to_str()
                    .ok()
                    .and_then(|v| v.strip_prefix("Basic "))
                    .and_then(|v| STANDARD.decode(v.trim()).ok())
                    .and_then(|v| String::from_utf8(v).ok());
                let Some((id, secret)) = decoded.as_deref().and_then(|d| d.split_once(':')) else {
                    return Err(refuse("invalid_client"));
                };
                Some((id.to_owned(), secret.to_owned()))
            }
        };
        let body_id = form.get("client_id").filter(|v| !v.is_empty());
        let (id, secret) = match (&basic, body_id) {
            (Some((id, _)), Some(body_id)) if id != body_id => {
                return Err(refuse("invalid_client"))
            }
            (Some((id, secret)), _) => (id.clone(), Some(secret.clone())),
            (None, Some(id)) => (id.clone(), form.get("client_secret").cloned()),
            (None, None) => return Err(refuse("invalid_client")),
        };
        let client = match self.client(&id).await {
            Ok(Some(client)) => client,
            Ok(None) => return Err(refuse("invalid_client")),
            Err(_) => {
                return Err(json_answer(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &json!({"error": "server_error"}),
                ))
            }
        };
        let authenticated = match (&client.secret, &secret) {
            (None, None) => true,
            (None, Some(given)) => given.is_empty(),
            (Some(_), None) => false,
            (Some(expected), Some(given)) => {
                constant_time::verify_slices_are_equal(expected.as_bytes(), given.as_bytes())
                    .is_ok()
            }
        };
        if !authenticated {
            return Err(refuse("invalid_client"));
        }
        if !client.oauth {
            return Err(refuse("unauthorized_client"));
        }
        Ok(client)
    }

    /// `grant_type=authorization_code`: the code is one-time (consumed when its client presents
    /// it, whatever the outcome), expires, and is bound to the client, the `redirect_uri` and
    /// the PKCE challenge.
    fn code_grant(&self, client: &Client, form: &Params) -> Answer {
        let (Some(code), Some(redirect_uri)) = (
            form.get("code").filter(|c| !c.is_empty()),
            form.get("redirect_uri").filter(|r| !r.is_empty()),
        ) else {
            return refuse("invalid_request");
        };
        if !client.flows.iter().any(|f| f == "code") {
            return refuse("unauthorized_client");
        }
        let grant = {
            let mut state = lock(&self.state);
            let bound_here = state
                .codes
                .get(code)
                .is_some_and(|g| g.client_id == client.id);
            if !bound_here {
                return refuse("invalid_grant");
            }
            let Some(grant) = state.codes.remove(code) else {
                return refuse("invalid_grant");
            };
            grant
        };
        let lifetime = *lock(&self.code_lifetime);
        if grant.issued + lifetime < Instant::now() || &grant.redirect_uri != redirect_uri {
            return refuse("invalid_grant");
        }
        if let Some(challenge) = &grant.code_challenge {
            let verified = form.get("code_verifier").is_some_and(|v| {
                constant_time::verify_slices_are_equal(s256(v).as_bytes(), challenge.as_bytes())
                    .is_ok()
            });
            if !verified {
                return refuse("invalid_grant");
            }
        }
        let mut answer = json!({
            "access_token": grant.tokens.access,
            "expires_in": grant.tokens.expires_in,
            "token_type": "Bearer",
        });
        if grant.scopes.iter().any(|s| s == "openid") {
            match self.id_token(&grant) {
                Some(id_token) => answer["id_token"] = json!(id_token),
                None => return refuse("server_error"),
            }
        }
        if let Some(refresh) = &grant.tokens.refresh {
            answer["refresh_token"] = json!(refresh);
            lock(&self.state).refresh.insert(
                refresh.clone(),
                (grant.username.clone(), grant.scopes.clone()),
            );
        }
        json_answer(StatusCode::OK, &answer)
    }

    /// moto's ID token re-signed with moto's key (same `kid`) with the `nonce`, `at_hash`, the
    /// session's `auth_time` and the attributes the scopes ask for.
    fn id_token(&self, grant: &Grant) -> Option<String> {
        let mut claims = claims_of(&grant.tokens.id)?;
        if let Some(nonce) = &grant.nonce {
            claims.insert("nonce".into(), json!(nonce));
        }
        claims.insert("auth_time".into(), json!(grant.auth_time));
        claims.insert("at_hash".into(), json!(at_hash(&grant.tokens.access)));
        Some(self.sign_id(claims, &grant.scopes, &grant.attributes))
    }

    fn sign_id(
        &self,
        mut claims: Map<String, Value>,
        scopes: &[String],
        attributes: &[(String, String)],
    ) -> String {
        for (scope, names) in SCOPE_CLAIMS {
            if !scopes.iter().any(|s| s == scope) {
                continue;
            }
            for (name, value) in attributes
                .iter()
                .filter(|(n, _)| names.contains(&n.as_str()))
            {
                let value = if name.ends_with("_verified") {
                    json!(value == "true")
                } else {
                    json!(value)
                };
                claims.insert(name.clone(), value);
            }
        }
        self.key.sign(&Value::Object(claims))
    }

    /// `grant_type=refresh_token`: `AdminInitiateAuth` `REFRESH_TOKEN_AUTH` at moto.
    async fn refresh_grant(&self, client: &Client, form: &Params) -> Answer {
        let Some(refresh_token) = form.get("refresh_token").filter(|t| !t.is_empty()) else {
            return refuse("invalid_request");
        };
        let refreshed = self
            .cognito
            .admin_initiate_auth()
            .user_pool_id(&self.pool_id)
            .client_id(&client.id)
            .auth_flow(AuthFlowType::RefreshTokenAuth)
            .auth_parameters("REFRESH_TOKEN", refresh_token)
            .send()
            .await;
        let result = match refreshed {
            Ok(output) => output.authentication_result,
            Err(error) => {
                let not_authorized = error.as_service_error().is_some_and(|e| {
                    e.is_not_authorized_exception() || e.is_resource_not_found_exception()
                });
                return if not_authorized {
                    refuse("invalid_grant")
                } else {
                    refuse("server_error")
                };
            }
        };
        let Some(result) = result else {
            return refuse("invalid_grant");
        };
        let (id, access) = (
            result.id_token.unwrap_or_default(),
            result.access_token.unwrap_or_default(),
        );
        let Some(mut claims) = claims_of(&id) else {
            return refuse("server_error");
        };
        if claims.get("aud").and_then(Value::as_str) != Some(client.id.as_str()) {
            // The refresh token was issued to another app client.
            return refuse("invalid_grant");
        }
        let remembered = lock(&self.state).refresh.get(refresh_token).cloned();
        let id_token = match remembered {
            Some((username, scopes)) => {
                claims.insert("at_hash".into(), json!(at_hash(&access)));
                let attributes = self.attributes(&username).await.unwrap_or_default();
                self.sign_id(claims, &scopes, &attributes)
            }
            None => id,
        };
        json_answer(
            StatusCode::OK,
            &json!({
                "id_token": id_token,
                "access_token": access,
                "expires_in": result.expires_in,
                "token_type": "Bearer",
            }),
        )
    }

    /// The user's attributes (`AdminGetUser`).
    pub(super) async fn attributes(&self, username: &str) -> Option<Vec<(String, String)>> {
        let user = self
            .cognito
            .admin_get_user()
            .user_pool_id(&self.pool_id)
            .username(username)
            .send()
            .await
            .ok()?;
        Some(
            user.user_attributes()
                .iter()
                .map(|a| {
                    (
                        a.name().to_owned(),
                        a.value().unwrap_or_default().to_owned(),
                    )
                })
                .collect(),
        )
    }

    /// `GET /oauth2/userInfo` with `Authorization: Bearer <access token>`: moto's `GetUser`,
    /// every attribute as the string Cognito stores, plus `username`.
    pub(super) async fn user_info(&self, parts: &Parts) -> Answer {
        let token = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty());
        let Some(token) = token else {
            return bearer_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "Bad OAuth2 request at UserInfo Endpoint",
            );
        };
        let Ok(user) = self.cognito.get_user().access_token(token).send().await else {
            return bearer_error(
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "Access token is expired, disabled, or deleted, or the user has globally signed out.",
            );
        };
        let mut body = Map::new();
        for attribute in user.user_attributes() {
            body.insert(
                attribute.name().to_owned(),
                json!(attribute.value().unwrap_or_default()),
            );
        }
        body.insert("username".into(), json!(user.username()));
        json_answer(StatusCode::OK, &Value::Object(body))
    }
}

fn bearer_error(status: StatusCode, error: &str, description: &str) -> Answer {
    Response::builder()
        .status(status)
        .header(
            WWW_AUTHENTICATE,
            format!("error=\"{error}\", error_description=\"{description}\""),
        )
        .body(Full::new(Bytes::new()))
        .expect("a valid refusal")
}
