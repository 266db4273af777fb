//! Latency percentiles and the `key=value` result line the driver collects.

use std::fmt::Write;
use std::time::Duration;

/// Latency samples in microseconds.
#[derive(Default)]
pub struct Latencies(Vec<u32>);

impl Latencies {
    /// Records one sample.
    pub fn record(&mut self, latency: Duration) {
        self.0
            .push(u32::try_from(latency.as_micros()).unwrap_or(u32::MAX));
    }

    /// Takes in another task's samples.
    pub fn merge(&mut self, other: Latencies) {
        self.0.extend(other.0);
    }

    /// The `p`-th percentile (0..=100) in microseconds, nearest rank; 0 when
    /// there is no sample.
    pub fn percentile(&mut self, p: f64) -> u32 {
        if self.0.is_empty() {
            return 0;
        }
        let rank = ((p / 100.0) * self.0.len() as f64).ceil() as usize;
        let index = rank.clamp(1, self.0.len()) - 1;
        *self.0.select_nth_unstable(index).1
    }
}

/// One scenario's figures, printed as a single line of `key=value` pairs.
#[derive(Default)]
pub struct Outcome(Vec<(&'static str, String)>);

impl Outcome {
    /// Adds a figure.
    pub fn set(&mut self, key: &'static str, value: impl ToString) -> &mut Self {
        self.0.push((key, value.to_string()));
        self
    }

    /// Adds throughput figure `key` (per second) from a count over a time.
    pub fn rate(&mut self, key: &'static str, count: u64, elapsed: Duration) -> &mut Self {
        self.set(key, format!("{:.0}", count as f64 / elapsed.as_secs_f64()))
    }

    /// Adds p50 and p99 of `latencies`.
    pub fn latencies(&mut self, latencies: &mut Latencies) -> &mut Self {
        self.set("p50_us", latencies.percentile(50.0));
        self.set("p99_us", latencies.percentile(99.0))
    }

    /// The line: `key=value key=value ...`.
    pub fn line(&self) -> String {
        let mut line = String::new();
        for (key, value) in &self.0 {
            if !line.is_empty() {
                line.push(' ');
            }
            let _ = write!(line, "{key}={value}");
        }
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut l = Latencies::default();
        for us in 1..=100 {
            l.record(Duration::from_micros(us));
        }
        assert_eq!(l.percentile(50.0), 50);
        assert_eq!(l.percentile(99.0), 99);
        assert_eq!(l.percentile(100.0), 100);
        assert_eq!(Latencies::default().percentile(50.0), 0);
    }
}
