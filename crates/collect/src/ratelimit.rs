//! Keeps calls to one API under its published rate (ACM DescribeCertificate: 10 per second per
//! region) by spacing them evenly, whatever the concurrency of the callers.

use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

#[derive(Debug)]
pub struct RateLimiter {
    spacing: Duration,
    next_slot: Mutex<Option<Instant>>,
}

impl RateLimiter {
    pub fn per_second(calls: u32) -> RateLimiter {
        RateLimiter {
            spacing: Duration::from_secs(1) / calls.max(1),
            next_slot: Mutex::new(None),
        }
    }

    /// Waits for the next free slot. Slots are `1/rate` apart, so no window of one second holds
    /// more than `rate` calls.
    pub async fn acquire(&self) {
        let slot = {
            let mut next = self.next_slot.lock().await;
            let now = Instant::now();
            let slot = next.map_or(now, |n| n.max(now));
            *next = Some(slot + self.spacing);
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
        for (i, start) in at.iter().enumerate() {
            let in_window = at[i..]
                .iter()
                .take_while(|t| **t < *start + Duration::from_secs(1))
                .count();
            assert!(in_window <= 10, "{in_window} calls within one second");
        }
    }
}
