//! How much credit a leasing meter asks for at a time: the block adapts to
//! the spending rate, so that a busy worker goes to the database about once
//! a second per account and an idle one holds little.
//!
//! Bounds (documented in the README):
//! - the block is the credit reserved over the last [`HORIZON`] at the
//!   current rate (an average that follows the rate within a few ticks);
//! - at least [`MIN_RESERVATIONS`] times the largest reservation that had to
//!   wait for the database, so that a burst does not wait once per task;
//! - at most half of what the account has available (the grant's rule,
//!   `store::grant_size`), so other workers still find credit;
//! - a top-up is asked for in the background once the local block falls
//!   under half the block ([`low_water`]).

use std::time::Duration;

/// The spending a block covers.
pub const HORIZON: Duration = Duration::from_secs(1);

/// A block is at least this many of the largest reservation that waited.
pub const MIN_RESERVATIONS: i64 = 16;

/// The spending rate, in credits per second, followed as an exponential average.
#[derive(Debug, Default, Clone, Copy)]
pub struct Rate {
    per_second: f64,
}

impl Rate {
    /// Takes in `spent` credits over `elapsed`.
    pub fn observe(&mut self, spent: i64, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        if secs <= 0.0 {
            return;
        }
        // the weight of a sample grows with its length: a 100 ms tick moves the average by a quarter
        let weight = (secs / 0.4).min(1.0);
        self.per_second += (spent.max(0) as f64 / secs - self.per_second) * weight;
    }

    pub fn per_second(&self) -> f64 {
        self.per_second
    }
}

/// The block to hold for `rate`, given the largest reservation that waited.
pub fn block(rate: Rate, largest_wait: i64) -> i64 {
    let horizon = (rate.per_second() * HORIZON.as_secs_f64()).ceil();
    let horizon = if horizon >= i64::MAX as f64 { i64::MAX / 4 } else { horizon as i64 };
    horizon.max(largest_wait.saturating_mul(MIN_RESERVATIONS)).max(1)
}

/// Under this much local credit, the meter tops its block up in the background.
pub fn low_water(block: i64) -> i64 {
    block / 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_block_follows_the_rate_and_covers_a_burst() {
        let mut rate = Rate::default();
        assert_eq!(block(rate, 0), 1);
        assert_eq!(block(rate, 5), 80);
        for _ in 0..20 {
            rate.observe(1000, Duration::from_millis(100));
        }
        let b = block(rate, 1);
        assert!((9_000..=10_000).contains(&b), "{b}");
        for _ in 0..40 {
            rate.observe(0, Duration::from_millis(100));
        }
        assert!(block(rate, 1) < 100);
        assert_eq!(low_water(80), 40);
    }
}
