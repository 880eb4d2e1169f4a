//! Where JWKS documents come from: the [`JwksFetcher`] trait, and the built-in
//! [`HttpsFetcher`] (feature `https`, on by default).

use std::future::Future;
use std::pin::Pin;
#[cfg(feature = "https")]
use std::sync::Arc;

use crate::error::BoxError;

/// Largest JWKS document the built-in fetcher reads (Cognito's is under 2 KiB).
#[cfg(feature = "https")]
const MAX_JWKS_BYTES: usize = 64 * 1024;

/// A failure to obtain the JWKS.
///
/// ```
/// use cognito_jwt::FetchError;
/// let refused = FetchError::Refused("the endpoint answered 404".into());
/// assert_eq!(refused.to_string(), "the JWKS endpoint refused: the endpoint answered 404");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The endpoint answered 4xx, or with something that is not a JWKS: not transient (a
    /// wrong URL, or an issuer that publishes no keys).
    #[error("the JWKS endpoint refused: {0}")]
    Refused(String),
    /// Network failure, timeout, 5xx, 408 or 429: try again later.
    #[error("the JWKS endpoint is unavailable: {0}")]
    Transient(BoxError),
}

/// What [`JwksFetcher::fetch`] returns: the document's bytes.
///
/// ```
/// let ready: cognito_jwt::FetchFuture<'static> = Box::pin(async { Ok(br#"{"keys":[]}"#.to_vec()) });
/// ```
pub type FetchFuture<'a> = Pin<Box<dyn Future<Output = Result<Vec<u8>, FetchError>> + Send + 'a>>;

/// Fetches a JWKS document. The verifier calls it at most once per refetch interval per key
/// cache, deduplicates concurrent calls, bounds each by the JWKS timeout, and parses the result.
///
/// Give one to [`VerifierBuilder::fetcher`](crate::VerifierBuilder::fetcher) to use your own HTTP
/// client (or a test double):
///
/// ```
/// use cognito_jwt::{FetchError, FetchFuture, JwksFetcher};
///
/// /// Serves one fixed document, whatever the URL.
/// struct Fixed(Vec<u8>);
///
/// impl JwksFetcher for Fixed {
///     fn fetch<'a>(&'a self, _url: &'a str) -> FetchFuture<'a> {
///         Box::pin(async move { Ok(self.0.clone()) })
///     }
/// }
///
/// let verifier = cognito_jwt::Verifier::builder()
///     .user_pool("us-east-1_AbC")
///     .client_id("5a3b")
///     .fetcher(Fixed(br#"{"keys":[]}"#.to_vec()))
///     .build()
///     .unwrap();
/// ```
pub trait JwksFetcher: Send + Sync + 'static {
    /// GET `url`: the body of a 2xx answer; [`FetchError::Refused`] for 4xx (but 408 and 429),
    /// [`FetchError::Transient`] for anything that may pass.
    fn fetch<'a>(&'a self, url: &'a str) -> FetchFuture<'a>;
}

/// The built-in fetcher: HTTP/1.1 over rustls (aws-lc-rs, the system's root certificates),
/// plain `http://` too (for emulators), at most 64 KiB read. The default when built with
/// feature `https`.
///
/// ```
/// let verifier = cognito_jwt::Verifier::builder()
///     .user_pool("us-east-1_AbC")
///     .client_id("5a3b")
///     .fetcher(cognito_jwt::HttpsFetcher)
///     .build()
///     .unwrap();
/// ```
#[cfg(feature = "https")]
#[derive(Debug, Clone, Copy, Default)]
pub struct HttpsFetcher;

#[cfg(feature = "https")]
impl JwksFetcher for HttpsFetcher {
    fn fetch<'a>(&'a self, url: &'a str) -> FetchFuture<'a> {
        Box::pin(get(url))
    }
}

/// GET `url` with a size cap.
#[cfg(feature = "https")]
async fn get(url: &str) -> Result<Vec<u8>, FetchError> {
    use http_body_util::{BodyExt, Empty, Limited};
    use hyper::body::Bytes;

    let uri: hyper::Uri = url
        .parse()
        .map_err(|e| FetchError::Refused(format!("invalid JWKS URL {url:?}: {e}")))?;
    let mut roots = rustls::RootCertStore::empty();
    // Certificates that fail to load are skipped; plain-HTTP URLs need none.
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| FetchError::Transient(Box::new(e)))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .build();
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build::<_, Empty<Bytes>>(https);
    let request = async {
        let response = client
            .get(uri)
            .await
            .map_err(|e| FetchError::Transient(Box::new(e)))?;
        let status = response.status();
        // 5xx, 429 (throttled) and 408 are the endpoint's trouble, not a wrong URL.
        let transient = matches!(status.as_u16(), 408 | 429);
        if status.is_server_error() || transient {
            return Err(FetchError::Transient(
                format!("JWKS endpoint answered {status}").into(),
            ));
        }
        if !status.is_success() {
            return Err(FetchError::Refused(format!(
                "JWKS endpoint {url} answered {status}"
            )));
        }
        let body = Limited::new(response.into_body(), MAX_JWKS_BYTES)
            .collect()
            .await
            .map_err(FetchError::Transient)?;
        Ok(body.to_bytes().to_vec())
    };
    request.await
}
