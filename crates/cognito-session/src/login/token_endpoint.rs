//! The managed login's token endpoint (`POST <domain>/oauth2/token`): exchanges an
//! authorization code, with its PKCE verifier, for tokens.

use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use serde::Deserialize;

use crate::error::BoxError;

/// The largest token response read (three tokens with many custom attributes fit well below).
const MAX_RESPONSE_BYTES: usize = 256 * 1024;

/// What the token endpoint answered for an `authorization_code` grant.
#[derive(Deserialize)]
pub(crate) struct TokenResponse {
    pub id_token: Option<String>,
    pub access_token: String,
    pub refresh_token: Option<String>,
    #[serde(default)]
    pub expires_in: i64,
}

/// Why an exchange failed.
#[derive(Debug)]
pub(crate) enum ExchangeError {
    /// The endpoint refused the request with an OAuth error (`invalid_grant`, `invalid_client`,
    /// `unauthorized_client`...): status and error code.
    Refused { status: u16, error: String },
    /// Unreachable, timed out, 5xx, 429: try again later.
    Transient(BoxError),
}

/// A client for one domain's token endpoint.
pub(crate) struct TokenEndpoint {
    url: hyper::Uri,
    client: hyper_util::client::legacy::Client<
        hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
        Full<Bytes>,
    >,
    timeout: Duration,
}

impl TokenEndpoint {
    /// For `<domain>/oauth2/token`. `domain` was checked to be `https://` (or loopback `http://`).
    pub(crate) fn new(domain: &str, timeout: Duration) -> Result<TokenEndpoint, BoxError> {
        let url: hyper::Uri = format!("{domain}/oauth2/token").parse()?;
        let mut roots = rustls::RootCertStore::empty();
        roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .build();
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build(https);
        Ok(TokenEndpoint {
            url,
            client,
            timeout,
        })
    }

    /// The endpoint's host, for spans.
    pub(crate) fn host(&self) -> &str {
        self.url.host().unwrap_or_default()
    }

    /// `grant_type=authorization_code` with the PKCE verifier; the client secret, when the app
    /// client has one, as HTTP Basic authentication (as the Cognito documentation shows).
    pub(crate) async fn exchange(
        &self,
        client_id: &str,
        client_secret: Option<&str>,
        code: &str,
        redirect_uri: &str,
        verifier: &str,
    ) -> Result<TokenResponse, ExchangeError> {
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "authorization_code")
            .append_pair("client_id", client_id)
            .append_pair("code", code)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("code_verifier", verifier)
            .finish();
        let mut request = hyper::Request::post(self.url.clone())
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json");
        if let Some(secret) = client_secret {
            // Cognito's app client ids and secrets are alphanumeric: no escaping needed.
            let credentials = format!("{client_id}:{secret}");
            request = request.header(
                "authorization",
                format!("Basic {}", STANDARD.encode(credentials)),
            );
        }
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| ExchangeError::Transient(Box::new(e)))?;
        let call = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| ExchangeError::Transient(Box::new(e)))?;
            let status = response.status().as_u16();
            let body = Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
                .collect()
                .await
                .map_err(ExchangeError::Transient)?
                .to_bytes();
            if status >= 500 || status == 429 || status == 408 {
                return Err(ExchangeError::Transient(
                    format!("the token endpoint answered HTTP {status}").into(),
                ));
            }
            if !(200..300).contains(&status) {
                #[derive(Deserialize)]
                struct OAuthError {
                    error: String,
                }
                let error = serde_json::from_slice::<OAuthError>(&body)
                    .map(|e| e.error)
                    .unwrap_or_else(|_| format!("HTTP {status}"));
                return Err(ExchangeError::Refused { status, error });
            }
            serde_json::from_slice::<TokenResponse>(&body).map_err(|e| {
                ExchangeError::Transient(
                    format!("the token endpoint's answer is not a token response: {e}").into(),
                )
            })
        };
        match tokio::time::timeout(self.timeout, call).await {
            Ok(result) => result,
            Err(_) => Err(ExchangeError::Transient(
                format!(
                    "the token endpoint did not answer within {:?}",
                    self.timeout
                )
                .into(),
            )),
        }
    }
}
