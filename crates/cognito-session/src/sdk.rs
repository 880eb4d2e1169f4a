//! Sorting AWS SDK failures into "the service said no" and "try again later".

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

/// What an SDK call's failure means for us.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The service answered with an error `code`.
    Service { code: String, message: String },
    /// No usable answer: timeout, connection failure, unparsable response.
    Transient,
    /// The request could not even be built (a bug or a configuration problem).
    Construction,
    /// The request could not be signed: no usable AWS credentials (see [`credentials_problem`]).
    Credentials(String),
}

pub(crate) fn classify<E: ProvideErrorMetadata>(error: &SdkError<E>) -> Failure {
    match error {
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or_default().to_owned();
            let message = service.err().message().unwrap_or_default().to_owned();
            if code.is_empty() {
                Failure::Transient
            } else {
                Failure::Service { code, message }
            }
        }
        SdkError::ConstructionFailure(_) => Failure::Construction,
        SdkError::DispatchFailure(dispatch) => match dispatch
            .as_connector_error()
            .and_then(|connector| credentials_problem(connector))
        {
            Some(problem) => Failure::Credentials(problem),
            None => Failure::Transient,
        },
        _ => Failure::Transient,
    }
}

/// Why `error` (or an error in its cause chain) says the request could not be signed for want
/// of AWS credentials: none configured (the SDK finds no identity resolver), or a credentials
/// provider that found none or is misconfigured. A provider that timed out or failed on its own
/// (the instance metadata service, STS) is transient: `None`.
pub(crate) fn credentials_problem(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    use aws_credential_types::provider::error::CredentialsError;
    let mut cause = Some(error);
    while let Some(error) = cause {
        if let Some(credentials) = error.downcast_ref::<CredentialsError>() {
            return matches!(
                credentials,
                CredentialsError::CredentialsNotLoaded(_)
                    | CredentialsError::InvalidConfiguration(_)
            )
            .then(|| chain(credentials));
        }
        // The SDK's (private) NoMatchingAuthSchemeError when no credentials provider is set.
        let text = error.to_string();
        if text.contains("there was no identity resolver for it") {
            return Some(text);
        }
        cause = error.source();
    }
    None
}

/// `error` and its causes, `: `-separated.
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(error) = cause {
        text.push_str(": ");
        text.push_str(&error.to_string());
        cause = error.source();
    }
    text
}

/// The configuration error for a request that could not be signed (`problem`, from
/// [`credentials_problem`]) while calling `service` for `action`.
pub(crate) fn credentials_message(
    service: impl std::fmt::Display,
    action: &str,
    problem: &str,
) -> String {
    format!(
        "no usable AWS credentials to call {service} ({action}): {problem}; give the function \
         credentials (on Lambda its execution role; elsewhere AWS_ACCESS_KEY_ID and \
         AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or the SDK configuration passed to the builder)"
    )
}

/// Error codes that no retry fixes: the deployment must change.
pub(crate) fn is_config_code(code: &str) -> bool {
    matches!(
        code,
        "AccessDeniedException"
            | "UnrecognizedClientException"
            | "MissingAuthenticationTokenException"
            | "InvalidSignatureException"
            | "IncompleteSignature"
            | "InvalidClientTokenId"
            | "ValidationException"
            | "ResourceNotFoundException"
            | "InvalidParameterException"
            | "InvalidUserPoolConfigurationException"
    )
}
