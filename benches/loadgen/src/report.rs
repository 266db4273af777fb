//! `loadgen report FILE`: the markdown table of a run.
//!
//! FILE has one line per scenario and server, `SERVER<TAB>SCENARIO<TAB>FIGURES`
//! where FIGURES is a scenario's `key=value` line, or `ERROR <why>`. The
//! first server seen is the one compared: each other server gets a ratio
//! column `first / other`.

use std::collections::HashMap;
use std::io;

/// Which way a figure is better.
#[derive(Clone, Copy)]
enum Better {
    Higher,
    Lower,
}

/// The rows of the table: scenario, figure key, label, better.
const ROWS: &[(&str, &str, &str, Better)] = &[
    ("echo", "acks_per_s", "acks/s", Better::Higher),
    ("echo", "p50_us", "p50 µs", Better::Lower),
    ("echo", "p99_us", "p99 µs", Better::Lower),
    (
        "echo",
        "server_cpu_us_per_op",
        "server CPU µs/ack",
        Better::Lower,
    ),
    (
        "echo",
        "server_cpu_share",
        "server CPU share",
        Better::Higher,
    ),
    ("echo-pipelined", "acks_per_s", "acks/s", Better::Higher),
    ("echo-pipelined", "p50_us", "p50 µs", Better::Lower),
    ("echo-pipelined", "p99_us", "p99 µs", Better::Lower),
    (
        "echo-pipelined",
        "server_cpu_us_per_op",
        "server CPU µs/ack",
        Better::Lower,
    ),
    (
        "echo-pipelined",
        "server_cpu_share",
        "server CPU share",
        Better::Higher,
    ),
    (
        "fanout",
        "delivered_per_s",
        "delivered msgs/s",
        Better::Higher,
    ),
    (
        "fanout",
        "delivered_ratio",
        "delivered/expected",
        Better::Higher,
    ),
    (
        "fanout",
        "server_cpu_us_per_op",
        "server CPU µs/msg",
        Better::Lower,
    ),
    (
        "fanout",
        "server_cpu_share",
        "server CPU share",
        Better::Higher,
    ),
    ("idle", "kib_per_conn", "RSS KiB/connection", Better::Lower),
    ("connect", "connects_per_s", "connects/s", Better::Higher),
    ("connect", "p50_us", "p50 µs", Better::Lower),
    ("connect", "p99_us", "p99 µs", Better::Lower),
    (
        "connect",
        "server_cpu_us_per_op",
        "server CPU µs/connect",
        Better::Lower,
    ),
    (
        "connect",
        "server_cpu_share",
        "server CPU share",
        Better::Higher,
    ),
];

/// A server's result for one scenario: its figures, or why it has none.
type Figures = Result<HashMap<String, String>, String>;

pub fn run(args: &[String]) -> io::Result<()> {
    let [path] = args else {
        return Err(io::Error::other("usage: loadgen report RESULTS_FILE"));
    };
    let text = std::fs::read_to_string(path)?;
    print!("{}", table(&text));
    Ok(())
}

/// Parses the results file: servers in order of appearance, and figures by
/// (server, scenario).
fn parse(text: &str) -> (Vec<String>, HashMap<(String, String), Figures>) {
    let mut servers: Vec<String> = Vec::new();
    let mut results = HashMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let mut fields = line.splitn(3, '\t');
        let (Some(server), Some(scenario)) = (fields.next(), fields.next()) else {
            continue;
        };
        let rest = fields.next().unwrap_or("").trim();
        if !servers.iter().any(|s| s == server) {
            servers.push(server.to_owned());
        }
        let figures = match rest.strip_prefix("ERROR") {
            Some(why) => Err(why.trim().to_owned()),
            None => Ok(rest
                .split_whitespace()
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect()),
        };
        results.insert((server.to_owned(), scenario.to_owned()), figures);
    }
    (servers, results)
}

/// The markdown table.
pub fn table(text: &str) -> String {
    let (servers, results) = parse(text);
    let mut out = String::from("| scenario | figure |");
    for server in &servers {
        out += &format!(" {server} |");
    }
    for other in servers.iter().skip(1) {
        out += &format!(" {} / {other} |", servers[0]);
    }
    out += "\n|---|---|";
    out += &"---:|".repeat(servers.len() * 2 - 1);
    out += "\n";
    for &(scenario, key, label, better) in ROWS {
        let figure = |server: &str| -> Option<Result<f64, String>> {
            match results.get(&(server.to_owned(), scenario.to_owned()))? {
                Ok(figures) => figures.get(key)?.parse().ok().map(Ok),
                Err(why) => Some(Err(why.clone())),
            }
        };
        let values: Vec<_> = servers.iter().map(|s| figure(s)).collect();
        if values.iter().all(Option::is_none) {
            continue;
        }
        let arrow = match better {
            Better::Higher => "↑",
            Better::Lower => "↓",
        };
        out += &format!("| {scenario} | {label} {arrow} |");
        for value in &values {
            out += &match value {
                Some(Ok(v)) => format!(" {} |", show(key, *v)),
                Some(Err(_)) => " failed |".to_owned(),
                None => " – |".to_owned(),
            };
        }
        for value in values.iter().skip(1) {
            // How much CPU each server got is context, not a comparison.
            let comparable = !key.ends_with("share");
            out += &match (&values[0], value) {
                (Some(Ok(ours)), Some(Ok(theirs))) if comparable && *theirs != 0.0 => {
                    format!(" {:.2}x |", ours / theirs)
                }
                _ => " – |".to_owned(),
            };
        }
        out += "\n";
    }
    for ((server, scenario), figures) in sorted(&results) {
        if let Err(why) = figures {
            out += &format!("\n{server} failed {scenario}: {why}\n");
        }
    }
    out
}

fn sorted(results: &HashMap<(String, String), Figures>) -> Vec<(&(String, String), &Figures)> {
    let mut entries: Vec<_> = results.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    entries
}

/// A figure with the precision it deserves.
fn show(key: &str, v: f64) -> String {
    if key.ends_with("ratio") {
        format!("{v:.4}")
    } else if key.ends_with("share") || key.ends_with("per_op") {
        format!("{v:.2}")
    } else if v.fract() == 0.0 || v >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_compare_the_first_server_with_each_other() {
        let text = "a\techo\tacks_per_s=300 p50_us=10 p99_us=20\n\
                    b\techo\tacks_per_s=100 p50_us=20 p99_us=40\n\
                    c\techo\tERROR boom\n";
        let table = table(text);
        assert!(
            table.contains("| echo | acks/s ↑ | 300 | 100 | failed | 3.00x | – |"),
            "{table}"
        );
        assert!(
            table.contains("| echo | p50 µs ↓ | 10 | 20 | failed | 0.50x | – |"),
            "{table}"
        );
        assert!(table.contains("c failed echo: boom"), "{table}");
        assert!(!table.contains("fanout"), "{table}");
    }
}
