//! How commands report: JSON on stdout, a failure with its exit status.

use cognito_session::Error;

/// A command's failure: the message for stderr and the process exit status.
#[derive(Debug)]
pub struct Failure {
    /// What went wrong, for a human.
    pub message: String,
    /// 1 refused / not found, 2 usage or configuration, 3 unavailable.
    pub code: u8,
}

impl Failure {
    /// Refused or not found (exit 1).
    pub fn refused(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            code: 1,
        }
    }

    /// Usage or configuration (exit 2).
    pub fn config(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            code: 2,
        }
    }

    /// AWS could not be reached or throttled us (exit 3).
    pub fn unavailable(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            code: 3,
        }
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        let message = full_message(&error);
        match error.status() {
            401 | 400 => Failure::refused(message),
            503 => Failure::unavailable(message),
            _ => Failure::config(message),
        }
    }
}

/// The error and its causes, `: `-separated, each text once: the AWS SDK's errors often repeat
/// their cause's message in their own, and a cause already said is skipped.
pub fn full_message(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !text.is_empty() && !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

/// Prints `value` as pretty JSON on stdout.
pub fn print(value: &serde_json::Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
    );
}

/// The AWS SDK configuration from the environment.
pub async fn aws() -> aws_config::SdkConfig {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let region = config
        .region()
        .map_or_else(|| "none (set AWS_REGION)".to_owned(), |r| r.to_string());
    let _ = REGION.set(region);
    config
}

/// The AWS Region this run called (once `aws()` loaded the configuration): a failure names it,
/// since a wrong Region looks like a missing table, pool or session.
pub static REGION: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// `message`, naming the AWS Region called when the command called AWS and it does not yet.
pub fn with_region(message: &str) -> String {
    match REGION.get() {
        Some(region) if !message.contains(region.as_str()) => {
            format!("{message} (AWS Region {region})")
        }
        _ => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::full_message;

    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);

    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|l| l as _)
        }
    }

    #[test]
    fn a_cause_already_in_the_message_is_not_repeated() {
        let error = Layer(
            "service error: ResourceNotFoundException: no such table",
            Some(Box::new(Layer(
                "ResourceNotFoundException: no such table",
                Some(Box::new(Layer("connection reset", None))),
            ))),
        );
        assert_eq!(
            full_message(&error),
            "service error: ResourceNotFoundException: no such table: connection reset"
        );
    }
}
