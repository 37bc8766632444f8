//! Failed deliveries, counted for the run's metrics line: the Lambda face hands the total to
//! `metrics::Meter::finish`, which writes it as `CfDoctor/DeliveryFailures` in CloudWatch's
//! embedded metric format (src/metrics.rs, docs/contract.md "Metrics"). One count per channel and
//! message (report or recovery note) that failed, whether or not the invocation failed with it:
//! a channel that failed beside one that delivered, with no record kept, is a success that still
//! counts here.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// The run's failed deliveries. Clones share the tally.
#[derive(Debug, Clone, Default)]
pub struct DeliveryFailures(Arc<AtomicUsize>);

impl DeliveryFailures {
    /// Counts one failed delivery to `channel`.
    pub fn count(&self, channel: &str) {
        self.0.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(channel, "delivery failed (counted in DeliveryFailures)");
    }

    /// How many deliveries failed so far.
    pub fn total(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_one_tally() {
        let failures = DeliveryFailures::default();
        let seen_by_delivery = failures.clone();
        seen_by_delivery.count("slack");
        seen_by_delivery.count("sns");
        assert_eq!(failures.total(), 2);
    }
}
