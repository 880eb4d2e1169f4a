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
        _ => Failure::Transient,
    }
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
