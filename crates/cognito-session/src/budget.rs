//! The time a request may spend waiting for AWS: everything up to the Lambda deadline, minus a
//! reserve to answer.
//!
//! Each call to DynamoDB, Cognito or the JWKS endpoint is bounded twice: by the SDK's own
//! operation timeout (`operation_timeout`, retries included, for the clients the builder
//! creates) and, when the request's deadline is known, by the time left before it. A call still
//! running when the budget runs out is abandoned and answers 503 ([`Error::Unavailable`]):
//! nothing was changed that a retry would not redo.

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

use crate::cognito::RefreshFailed;
use crate::error::{Error, Service};
use crate::store::StoreError;
use crate::telemetry::{self, Count};

/// What a request keeps for itself after its last call: time to build and send its answer.
pub(crate) const RESERVE: Duration = Duration::from_millis(300);

/// How long best-effort clean-up (releasing a lease) may run past the budget, inside the reserve.
const CLEANUP: Duration = Duration::from_millis(150);

/// A Lambda deadline as the runtime reports it, with `0` (the epoch: what `lambda_runtime`'s
/// `Context::default()` and any event without a deadline carry) meaning "unknown", not "already
/// past". Any other deadline counts, a past one too: the request then answers 503 at once.
pub(crate) fn known(deadline: SystemTime) -> Option<SystemTime> {
    (deadline != UNIX_EPOCH).then_some(deadline)
}

/// The end of a request's time for AWS calls (`None`: no deadline known, no bound).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Budget {
    until: Option<Instant>,
}

impl Budget {
    /// The budget of a request that must have answered by `deadline`.
    pub(crate) fn new(deadline: Option<SystemTime>) -> Budget {
        let until = deadline.map(|deadline| {
            let left = deadline
                .duration_since(SystemTime::now())
                .unwrap_or_default()
                .saturating_sub(RESERVE);
            Instant::now() + left
        });
        Budget { until }
    }

    /// The budget for clean-up after the request's work: a little longer, within the reserve.
    pub(crate) fn cleanup(self) -> Budget {
        Budget {
            until: self.until.map(|until| until + CLEANUP),
        }
    }

    async fn run<T, E>(
        self,
        work: impl Future<Output = Result<T, E>>,
        out_of_time: impl FnOnce() -> E,
    ) -> Result<T, E> {
        match self.until {
            None => work.await,
            Some(until) => tokio::time::timeout_at(until, work)
                .await
                .unwrap_or_else(|_| Err(out_of_time())),
        }
    }

    /// A session store call, bounded.
    pub(crate) async fn store<T>(
        self,
        work: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        telemetry::count(Count::DynamoDbCall);
        self.run(work, || StoreError::Unavailable(out_of_time("DynamoDB")))
            .await
    }

    /// A Cognito refresh, bounded.
    pub(crate) async fn cognito<T>(
        self,
        work: impl Future<Output = Result<T, RefreshFailed>>,
    ) -> Result<T, RefreshFailed> {
        telemetry::count(Count::CognitoCall);
        self.run(work, || {
            RefreshFailed::Other(Error::unavailable(
                Service::Cognito,
                "refreshing the session",
                out_of_time("Cognito"),
            ))
        })
        .await
    }

    /// Any call to `service`, bounded: its own result, or [`Error::Unavailable`] when the
    /// budget ran out first.
    pub(crate) async fn call<T, E>(
        self,
        service: Service,
        action: &'static str,
        work: impl Future<Output = Result<T, E>>,
    ) -> Result<Result<T, E>, Error> {
        match service {
            Service::Cognito => telemetry::count(Count::CognitoCall),
            Service::TokenEndpoint => telemetry::count(Count::TokenEndpointCall),
            Service::DynamoDb => telemetry::count(Count::DynamoDbCall),
            _ => {}
        }
        match self.until {
            None => Ok(work.await),
            Some(until) => tokio::time::timeout_at(until, work).await.map_err(|_| {
                Error::unavailable(service, action, out_of_time(&service.to_string()))
            }),
        }
    }

    /// Token verification (which may fetch the JWKS), bounded.
    pub(crate) async fn verify<T>(
        self,
        work: impl Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        self.run(work, || {
            Error::unavailable(
                Service::Jwks,
                "fetching the signing keys",
                out_of_time("the JWKS endpoint"),
            )
        })
        .await
    }
}

fn out_of_time(service: &str) -> crate::error::BoxError {
    format!("{service} did not answer before the request's deadline").into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn no_deadline_no_bound() {
        let budget = Budget::new(None);
        let slow = async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            Ok::<_, StoreError>(7)
        };
        assert_eq!(budget.store(slow).await.ok(), Some(7));
    }

    #[tokio::test]
    async fn a_call_past_the_deadline_is_unavailable() {
        let budget = Budget::new(Some(SystemTime::now() + Duration::from_millis(400)));
        let never = std::future::pending::<Result<(), StoreError>>();
        assert!(matches!(
            budget.store(never).await,
            Err(StoreError::Unavailable(_))
        ));
        let error = Budget::new(Some(SystemTime::now()))
            .verify(std::future::pending::<Result<(), Error>>())
            .await
            .unwrap_err();
        assert_eq!(error.status(), 503);
    }

    #[test]
    fn a_zero_deadline_is_unknown() {
        assert_eq!(known(UNIX_EPOCH), None);
        let past = SystemTime::now() - Duration::from_secs(1);
        assert_eq!(known(past), Some(past));
    }

    #[tokio::test]
    async fn a_ready_answer_wins_even_when_late() {
        let budget = Budget::new(Some(SystemTime::now() - Duration::from_secs(1)));
        assert_eq!(budget.store(async { Ok(1) }).await.ok(), Some(1));
    }
}
