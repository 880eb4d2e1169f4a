//! AWS for the doctor: the Region and credentials checked once (one FAIL line, not a stream
//! of errors), the clients the function would use, SDK failures sorted, and the KMS data key.

use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::{Region, SdkConfig};
use aws_credential_types::provider::ProvideCredentials;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

use super::report::Report;
use super::setup::Setup;
use crate::output::full_message;

/// The clients, configured as the function's: Cognito in the pool's Region, DynamoDB and KMS
/// in the SDK's (or the pool's, when none is set).
pub struct Aws {
    pub region: String,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub cognito: aws_sdk_cognitoidentityprovider::Client,
    pub cognito_region: String,
    pub kms: aws_sdk_kms::Client,
}

/// What an SDK call's failure was.
#[derive(Debug)]
pub enum Answer {
    /// The service answered with an error code (HTTP `status`).
    Service {
        code: String,
        message: String,
        status: u16,
    },
    /// Not this check's business: AWS unreachable or the credentials refused. Already
    /// reported once (see [`Report::aws_down`]).
    Down,
}

impl Answer {
    /// `Code (message)`, or just the code.
    pub fn describe(code: &str, message: &str) -> String {
        if message.is_empty() {
            code.to_owned()
        } else {
            format!("{code} ({message})")
        }
    }
}

/// The codes meaning "this caller may not", whatever the service.
pub fn is_access_denied(code: &str) -> bool {
    matches!(
        code,
        "AccessDeniedException" | "AccessDenied" | "UnauthorizedOperation"
    )
}

/// The codes meaning "these credentials are not valid".
fn is_bad_credentials(code: &str) -> bool {
    matches!(
        code,
        "UnrecognizedClientException"
            | "InvalidClientTokenId"
            | "InvalidSignatureException"
            | "SignatureDoesNotMatch"
            | "ExpiredToken"
            | "ExpiredTokenException"
            | "MissingAuthenticationTokenException"
            | "IncompleteSignature"
    )
}

/// Sorts a failed call: a service answer for the check to judge, or AWS down (reported here,
/// once, as `aws.endpoint` or `aws.credentials`).
pub fn answer<E>(report: &mut Report, action: &str, error: &SdkError<E>) -> Answer
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    if let SdkError::ServiceError(service) = error {
        let code = service.err().code().unwrap_or_default().to_owned();
        let message = service.err().message().unwrap_or_default().to_owned();
        let status = service.raw().status().as_u16();
        if is_bad_credentials(&code) {
            if !report.aws_down {
                report.fail(
                    "aws.credentials",
                    format!(
                        "AWS refused the credentials on {action}: {}",
                        Answer::describe(&code, &message)
                    ),
                    "set valid credentials (AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY \
                     and AWS_SESSION_TOKEN, or the function's role), and check AWS_REGION",
                );
            }
            report.aws_down = true;
            return Answer::Down;
        }
        if !code.is_empty() {
            return Answer::Service {
                code,
                message,
                status,
            };
        }
        return Answer::Service {
            code: format!("HTTP {status}"),
            message: String::new(),
            status,
        };
    }
    if let SdkError::ResponseError(response) = error {
        // An answer, but not one the SDK could read (moto's HTML 500 to RevokeToken).
        let status = response.raw().status().as_u16();
        return Answer::Service {
            code: format!("HTTP {status}"),
            message: "an answer the SDK could not read".into(),
            status,
        };
    }
    if let SdkError::ConstructionFailure(_) = error {
        return Answer::Service {
            code: "RequestNotBuilt".into(),
            message: full_message(error),
            status: 0,
        };
    }
    if !report.aws_down {
        report.fail(
            "aws.endpoint",
            format!(
                "AWS could not be reached on {action}: {}",
                full_message(error)
            ),
            "check the network, AWS_REGION and AWS_ENDPOINT_URL; the other AWS checks were not \
             tried",
        );
    }
    report.aws_down = true;
    Answer::Down
}

impl Aws {
    /// The clients, once the Region and credentials are there; `None` after one FAIL line.
    pub async fn connect(setup: &Setup, report: &mut Report) -> Option<Aws> {
        let config = crate::output::aws().await;
        let region = config
            .region()
            .map(|r| r.as_ref().to_owned())
            .or_else(|| setup.pool_region.clone());
        let Some(region) = region else {
            report.fail(
                "aws.region",
                "no AWS Region is configured (and USER_POOL_ID names none)",
                "set AWS_REGION (or USER_POOL_ID, whose Region the function then uses)",
            );
            return None;
        };
        match config.credentials_provider() {
            None => {
                report.fail(
                    "aws.credentials",
                    "no AWS credentials provider is configured",
                    "set credentials (AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY) or \
                     run with a role",
                );
                return None;
            }
            Some(provider) => {
                if let Err(error) = provider.provide_credentials().await {
                    report.fail(
                        "aws.credentials",
                        format!("no usable AWS credentials: {}", full_message(&error)),
                        "set credentials (AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY \
                         and AWS_SESSION_TOKEN) or run with a role; the AWS checks were not tried",
                    );
                    return None;
                }
            }
        }
        let cognito_region = setup.pool_region.clone().unwrap_or_else(|| region.clone());
        if cognito_region != region {
            report.info(
                "aws.region",
                format!(
                    "DynamoDB and KMS are called in {region} (AWS_REGION), Cognito in \
                     {cognito_region} (the pool's Region), as the function does"
                ),
            );
        } else {
            report.ok("aws.region", format!("Region {region}, credentials found"));
        }
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(3))
            .operation_attempt_timeout(Duration::from_secs(10))
            .operation_timeout(Duration::from_secs(20))
            .build();
        let with = |region: &str| -> SdkConfig {
            config
                .to_builder()
                .region(Region::new(region.to_owned()))
                .timeout_config(timeouts.clone())
                .build()
        };
        let main = with(&region);
        Some(Aws {
            dynamodb: aws_sdk_dynamodb::Client::new(&main),
            kms: aws_sdk_kms::Client::new(&main),
            cognito: aws_sdk_cognitoidentityprovider::Client::new(&with(&cognito_region)),
            region,
            cognito_region,
        })
    }
}

/// `SESSION_KMS_CIPHERTEXT`: decrypted with KMS as the function's cold start does; the data key
/// becomes the current encryption key for the table checks.
pub async fn kms(aws: &Aws, setup: &mut Setup, report: &mut Report) {
    use base64::Engine;
    let Some(ciphertext) = &setup.kms_ciphertext else {
        return;
    };
    let code = "iam.kms_decrypt";
    let Ok(blob) = base64::engine::general_purpose::STANDARD.decode(ciphertext) else {
        report.fail(
            code,
            "SESSION_KMS_CIPHERTEXT is not base64",
            "set SESSION_KMS_CIPHERTEXT to the base64 CiphertextBlob of GenerateDataKey \
             (KeySpec AES_256)",
        );
        return;
    };
    let decrypted = aws
        .kms
        .decrypt()
        .ciphertext_blob(aws_sdk_kms::primitives::Blob::new(blob))
        .send()
        .await;
    match decrypted {
        Ok(output) => {
            let plain = output.plaintext.map(|b| b.into_inner()).unwrap_or_default();
            match <[u8; 32]>::try_from(plain.as_slice()) {
                Ok(key) => {
                    report.ok(
                        code,
                        format!(
                            "kms:Decrypt of SESSION_KMS_CIPHERTEXT works (key {})",
                            output.key_id.as_deref().unwrap_or("?")
                        ),
                    );
                    setup.key = Some(key);
                }
                Err(_) => report.fail(
                    code,
                    format!(
                        "SESSION_KMS_CIPHERTEXT decrypts to {} bytes, not a 32-byte data key",
                        plain.len()
                    ),
                    "generate it with GenerateDataKey --key-spec AES_256 and set \
                     SESSION_KMS_CIPHERTEXT to its CiphertextBlob",
                ),
            }
        }
        Err(error) => match answer(report, "kms:Decrypt", &error) {
            Answer::Down => {}
            Answer::Service {
                code: c, message, ..
            } if is_access_denied(&c) => report.fail(
                code,
                format!(
                    "kms:Decrypt of SESSION_KMS_CIPHERTEXT is denied: {}",
                    Answer::describe(&c, &message)
                ),
                "allow kms:Decrypt on the key for the function's role (and in the key policy)",
            ),
            Answer::Service {
                code: c, message, ..
            } => report.fail(
                code,
                format!(
                    "KMS cannot decrypt SESSION_KMS_CIPHERTEXT: {}",
                    Answer::describe(&c, &message)
                ),
                "check SESSION_KMS_CIPHERTEXT (a CiphertextBlob of this account and Region), the \
                 key's state and its policy",
            ),
        },
    }
}
