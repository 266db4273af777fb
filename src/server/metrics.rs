//! Traffic counters of a [`Server`](super::Server), and a writer for the
//! Prometheus text exposition format (version 0.0.4) to publish them.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::engineio::Data;

/// What went through a server since it started. Engine.IO messages are
/// counted (a Socket.IO packet with attachments is several), not the
/// protocol's own PING/PONG/NOOP.
#[derive(Debug, Default)]
pub struct Stats {
    packets_in: AtomicU64,
    bytes_in: AtomicU64,
    packets_out: AtomicU64,
    bytes_out: AtomicU64,
    upgrades: AtomicU64,
}

/// A copy of [`Stats`] at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Messages received from clients.
    pub packets_in: u64,
    /// Their payload bytes.
    pub bytes_in: u64,
    /// Messages queued for clients.
    pub packets_out: u64,
    /// Their payload bytes.
    pub bytes_out: u64,
    /// Sessions upgraded from polling to WebSocket.
    pub upgrades: u64,
}

fn size(data: &Data) -> u64 {
    match data {
        Data::Text(text) => text.len() as u64,
        Data::Binary(bytes) => bytes.len() as u64,
    }
}

impl Stats {
    pub(super) fn received(&self, data: &Data) {
        self.packets_in.fetch_add(1, Ordering::Relaxed);
        self.bytes_in.fetch_add(size(data), Ordering::Relaxed);
    }

    pub(super) fn sent(&self, data: &Data) {
        self.packets_out.fetch_add(1, Ordering::Relaxed);
        self.bytes_out.fetch_add(size(data), Ordering::Relaxed);
    }

    pub(super) fn upgraded(&self) {
        self.upgrades.fetch_add(1, Ordering::Relaxed);
    }

    /// The counters now.
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            packets_in: self.packets_in.load(Ordering::Relaxed),
            bytes_in: self.bytes_in.load(Ordering::Relaxed),
            packets_out: self.packets_out.load(Ordering::Relaxed),
            bytes_out: self.bytes_out.load(Ordering::Relaxed),
            upgrades: self.upgrades.load(Ordering::Relaxed),
        }
    }
}

/// The content type of the Prometheus text format.
pub const PROMETHEUS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Builds a page in the Prometheus text format: for each metric a `# HELP`
/// and `# TYPE` line, then its samples.
///
/// ```
/// use siobridge::server::Prometheus;
///
/// let mut page = Prometheus::new();
/// page.metric("requests_total", "counter", "Requests served.");
/// page.sample("requests_total", &[("method", "GET")], 3);
/// let lines: Vec<String> = page.finish().lines().map(String::from).collect();
/// assert_eq!(lines, [
///     "# HELP requests_total Requests served.",
///     "# TYPE requests_total counter",
///     "requests_total{method=\"GET\"} 3",
/// ]);
/// ```
#[derive(Debug, Default)]
pub struct Prometheus {
    text: String,
}

impl Prometheus {
    /// An empty page.
    pub fn new() -> Prometheus {
        Prometheus::default()
    }

    /// Starts metric `name` of `kind` (`counter`, `gauge`).
    pub fn metric(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.text, "# HELP {name} {help}");
        let _ = writeln!(self.text, "# TYPE {name} {kind}");
    }

    /// One sample of metric `name`, with its labels.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: u64) {
        self.text.push_str(name);
        if !labels.is_empty() {
            self.text.push('{');
            for (i, (key, value)) in labels.iter().enumerate() {
                if i > 0 {
                    self.text.push(',');
                }
                let _ = write!(self.text, "{key}=\"{}\"", escape(value));
            }
            self.text.push('}');
        }
        let _ = writeln!(self.text, " {value}");
    }

    /// The page.
    pub fn finish(self) -> String {
        self.text
    }
}

/// Label values escape `\`, `"` and newlines.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        let mut page = Prometheus::new();
        page.sample("m", &[("reason", "a \"b\"\\\n")], 1);
        assert_eq!(page.finish(), "m{reason=\"a \\\"b\\\"\\\\\\n\"} 1\n");
    }
}
