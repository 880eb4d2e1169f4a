//! The time source: [`Clock`] (the system clock, `SystemTime::now`, unless a test moves it).

use std::time::SystemTime;

/// A source of the current time, so tests can move it.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use cognito_session::Clock;
/// let later = || UNIX_EPOCH + Duration::from_secs(2_000_000_000);
/// assert_eq!(later.now(), UNIX_EPOCH + Duration::from_secs(2_000_000_000));
/// ```
pub trait Clock: Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> SystemTime;
}

impl<F: Fn() -> SystemTime + Send + Sync + 'static> Clock for F {
    fn now(&self) -> SystemTime {
        self()
    }
}
