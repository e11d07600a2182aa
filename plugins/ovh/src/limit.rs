//! The client-side rate limit: requests of one set of credentials go out at most `rate` per
//! second, whichever source of the run sends them, since OVH counts them per consumer key.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::time::Instant;

/// When the next request of one set of credentials may go.
#[derive(Debug)]
pub struct Limiter {
    interval: Duration,
    next: tokio::sync::Mutex<Instant>,
}

impl Limiter {
    /// Waits for this request's turn.
    pub async fn wait(&self) {
        if self.interval.is_zero() {
            return;
        }
        let mut next = self.next.lock().await;
        let now = Instant::now();
        let at = (*next).max(now);
        *next = at + self.interval;
        drop(next);
        tokio::time::sleep_until(at).await;
    }

    /// The API asked to slow down: nobody sends before `after` from now.
    pub async fn hold(&self, after: Duration) {
        let mut next = self.next.lock().await;
        *next = (*next).max(Instant::now() + after);
    }
}

/// The limiters of the process, by credentials and rate.
type Limiters = Mutex<HashMap<(String, Option<u32>), Arc<Limiter>>>;

/// The limiter of `key` (an endpoint and the public part of its credentials) at `rate`
/// requests per second (`None`: unlimited), shared by the whole process.
pub fn limiter(key: &str, rate: Option<u32>) -> Arc<Limiter> {
    static ALL: OnceLock<Limiters> = OnceLock::new();
    let interval = rate.map_or(Duration::ZERO, |rate| Duration::from_secs(1) / rate.max(1));
    let mut all = ALL.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
    all.entry((key.to_owned(), rate))
        .or_insert_with(|| Arc::new(Limiter { interval, next: tokio::sync::Mutex::new(Instant::now()) }))
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn requests_are_spaced_by_the_rate_and_shared_per_key() {
        let limiter = limiter("k1", Some(2));
        let start = Instant::now();
        for _ in 0..5 {
            limiter.wait().await;
        }
        assert_eq!(start.elapsed(), Duration::from_millis(2000));
        assert!(Arc::ptr_eq(&limiter, &super::limiter("k1", Some(2))));
        let free = super::limiter("k2", None);
        let start = Instant::now();
        for _ in 0..100 {
            free.wait().await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
    }
}
