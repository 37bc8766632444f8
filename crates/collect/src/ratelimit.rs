//! Keeps calls to one API under its published rate (ACM DescribeCertificate: 10 per second per
//! region) with a sliding window: no second holds more than `rate` calls, whatever the
//! concurrency of the callers, and a burst of up to `rate` calls goes out at once. (Spacing every
//! call `1/rate` apart kept the same bound but made even two calls wait for each other: the load
//! balancer search took a second with nothing to find.)

use std::collections::VecDeque;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

const WINDOW: Duration = Duration::from_secs(1);

#[derive(Debug)]
pub struct RateLimiter {
    rate: usize,
    /// The start times handed out to the last `rate` callers, oldest first (never decreasing).
    granted: Mutex<VecDeque<Instant>>,
}

impl RateLimiter {
    pub fn per_second(calls: u32) -> RateLimiter {
        let rate = calls.max(1) as usize;
        RateLimiter {
            rate,
            granted: Mutex::new(VecDeque::with_capacity(rate)),
        }
    }

    /// Waits until a call may start: at once while fewer than `rate` calls started in the last
    /// second, else one second after the `rate`-th most recent start.
    pub async fn acquire(&self) {
        let slot = {
            let mut granted = self.granted.lock().await;
            let now = Instant::now();
            let slot = if granted.len() < self.rate {
                granted.back().map_or(now, |last| (*last).max(now))
            } else {
                let oldest = granted.pop_front().expect("the window is full");
                (oldest + WINDOW)
                    .max(*granted.back().unwrap_or(&now))
                    .max(now)
            };
            granted.push_back(slot);
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn no_second_holds_more_calls_than_the_rate_even_with_many_callers() {
        let limiter = std::sync::Arc::new(RateLimiter::per_second(10));
        let calls = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let tasks: Vec<_> = (0..45)
            .map(|_| {
                let (limiter, calls) = (limiter.clone(), calls.clone());
                tokio::spawn(async move {
                    limiter.acquire().await;
                    calls.lock().unwrap().push(Instant::now());
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        let mut at = calls.lock().unwrap().clone();
        at.sort();
        assert_eq!(at.len(), 45);
        assert_eq!(
            at.iter().filter(|t| **t == at[0]).count(),
            10,
            "the first ten go out together, without waiting for each other"
        );
        for (i, start) in at.iter().enumerate() {
            let in_window = at[i..]
                .iter()
                .take_while(|t| **t < *start + Duration::from_secs(1))
                .count();
            assert!(in_window <= 10, "{in_window} calls within one second");
        }
    }
}
