//! The server's CPU time, so that figures can also be given per unit of
//! server work: on a shared machine the server does not always get its
//! whole core, and CPU time per operation is steadier than throughput.

use std::io;
use std::time::Duration;

use crate::stats::Outcome;

/// CPU time used so far by process `pid`, summed over its threads: the
/// first field of `/proc/PID/task/TID/schedstat` is a thread's time on a CPU
/// in nanoseconds.
fn cpu_time(pid: u32) -> io::Result<Duration> {
    let mut total = 0u64;
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        // A thread may end between the listing and the read.
        let Ok(stat) = std::fs::read_to_string(task?.path().join("schedstat")) else {
            continue;
        };
        total += stat
            .split_whitespace()
            .next()
            .and_then(|ns| ns.parse::<u64>().ok())
            .unwrap_or(0);
    }
    Ok(Duration::from_nanos(total))
}

/// The CPU time of every process in `pids`, or nothing when there is none
/// or one cannot be read.
fn total_cpu_time(pids: &[u32]) -> Option<Duration> {
    if pids.is_empty() {
        return None;
    }
    pids.iter()
        .map(|&pid| cpu_time(pid).ok())
        .sum::<Option<Duration>>()
}

/// The server's and the generator's CPU time from the start of a
/// measurement.
pub struct CpuMeter {
    pids: Vec<u32>,
    start: Duration,
    own_start: Duration,
}

impl CpuMeter {
    /// Starts measuring process `pid` (the server; nothing to measure
    /// without one) and this process.
    pub fn start(pid: Option<u32>) -> CpuMeter {
        CpuMeter::start_all(&[pid])
    }

    /// Starts measuring every process in `pids` (the nodes of one cluster),
    /// whose CPU times are summed, and this process.
    pub fn start_all(pids: &[Option<u32>]) -> CpuMeter {
        let pids: Vec<u32> = pids.iter().flatten().copied().collect();
        let start = total_cpu_time(&pids).unwrap_or_default();
        CpuMeter {
            pids,
            start,
            own_start: cpu_time(std::process::id()).unwrap_or_default(),
        }
    }

    /// Adds `server_cpu_share` (CPU time over `elapsed`: 1.0 is a whole
    /// core), `server_cpu_us_per_op` (CPU time over `ops`) and
    /// `loadgen_cpu_share` (this generator's share: well under 1.0 shows it
    /// was not the bottleneck).
    pub fn finish(self, outcome: &mut Outcome, elapsed: Duration, ops: u64) {
        let share = |used: Duration| format!("{:.2}", used.as_secs_f64() / elapsed.as_secs_f64());
        if let Some(used) = total_cpu_time(&self.pids).map(|now| now.saturating_sub(self.start)) {
            outcome.set("server_cpu_share", share(used));
            outcome.set(
                "server_cpu_us_per_op",
                format!("{:.2}", used.as_secs_f64() * 1e6 / ops.max(1) as f64),
            );
        }
        if let Ok(now) = cpu_time(std::process::id()) {
            outcome.set(
                "loadgen_cpu_share",
                share(now.saturating_sub(self.own_start)),
            );
        }
    }
}
