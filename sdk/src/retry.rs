//! Exponential backoff with full jitter, for errors a provider marked temporary.
//!
//! The engine retries `check`, every listing page and every `open` on its own. A provider
//! uses [`retry`] only for its sub-requests (an object's tag set beside its body, a
//! bucket's configuration documents), each retried alone so that one fault never costs the
//! requests that already succeeded; it gets the user's policy in its [`crate::Context`].

use std::future::Future;
use std::time::Duration;

use crate::error::Error;

/// How often and how patiently to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub retries: u32,
    /// The first backoff ceiling.
    pub base: Duration,
    /// The largest backoff ceiling.
    pub max: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { retries: 5, base: Duration::from_millis(200), max: Duration::from_secs(30) }
    }
}

impl RetryPolicy {
    /// The default backoff with `retries` retries after the first attempt.
    pub fn with_retries(retries: u32) -> Self {
        Self { retries, ..Self::default() }
    }

    /// A policy with every parameter given (tests use short delays).
    pub fn new(retries: u32, base: Duration, max: Duration) -> Self {
        Self { retries, base, max }
    }

    /// The wait before retry number `retry` (0 for the first retry): a random duration up
    /// to `base × 2^retry` (capped at `max`), but never less than what the provider asked.
    pub fn delay(&self, retry: u32, asked: Option<Duration>) -> Duration {
        let ceiling = self.base.saturating_mul(1u32 << retry.min(20)).min(self.max);
        let jittered = ceiling.mul_f64(fastrand::f64());
        asked.map_or(jittered, |asked| asked.max(jittered))
    }
}

/// An error that says whether trying again may help.
pub trait Retryable {
    /// `Some` when a retry may succeed, with the delay the other side asked for, if any.
    fn retry_hint(&self) -> Option<Option<Duration>>;
}

impl Retryable for Error {
    fn retry_hint(&self) -> Option<Option<Duration>> {
        self.is_temporary().then(|| self.retry_after())
    }
}

/// Runs `op` until it succeeds, fails permanently, or the retries are spent; calls
/// `on_retry` before each wait. Returns the last result and the number of attempts made.
pub async fn retry<T, E: Retryable, Fut>(
    policy: &RetryPolicy,
    mut on_retry: impl FnMut(u32, &E),
    mut op: impl FnMut() -> Fut,
) -> (Result<T, E>, u32)
where
    Fut: Future<Output = Result<T, E>>,
{
    let mut attempts = 0;
    loop {
        attempts += 1;
        match op().await {
            Err(error) if attempts <= policy.retries && error.retry_hint().is_some() => {
                on_retry(attempts, &error);
                let asked = error.retry_hint().flatten();
                tokio::time::sleep(policy.delay(attempts - 1, asked)).await;
            }
            result => return (result, attempts),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_stay_capped_and_honour_retry_after() {
        let policy = RetryPolicy { retries: 5, base: Duration::from_millis(100), max: Duration::from_secs(1) };
        for retry in 0..30 {
            let ceiling = Duration::from_millis(100).saturating_mul(1 << retry.min(20)).min(Duration::from_secs(1));
            assert!(policy.delay(retry, None) <= ceiling);
        }
        assert!(policy.delay(0, Some(Duration::from_secs(7))) >= Duration::from_secs(7));
    }

    #[tokio::test(start_paused = true)]
    async fn retries_temporary_errors_only_and_counts_attempts() {
        use crate::error::ErrorKind;
        let policy = RetryPolicy { retries: 3, ..RetryPolicy::default() };
        let mut calls = 0;
        let (result, attempts) = retry(
            &policy,
            |_, _| {},
            || {
                calls += 1;
                let fail = calls < 3;
                async move {
                    if fail {
                        Err(Error::new(ErrorKind::Unavailable, "busy").temporary())
                    } else {
                        Ok(calls)
                    }
                }
            },
        )
        .await;
        assert_eq!((result.unwrap(), attempts), (3, 3));

        let (result, attempts) =
            retry(&policy, |_, _| {}, || async { Err::<(), _>(Error::new(ErrorKind::NotFound, "gone")) }).await;
        assert_eq!((result.unwrap_err().kind(), attempts), (ErrorKind::NotFound, 1));

        let (result, attempts) = retry(
            &policy,
            |_, _| {},
            || async { Err::<(), _>(Error::new(ErrorKind::Unavailable, "down").temporary()) },
        )
        .await;
        assert!(result.is_err());
        assert_eq!(attempts, 4);
    }
}
