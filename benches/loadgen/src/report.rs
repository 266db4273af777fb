//! `loadgen report FILE`: the markdown table of a run.
//!
//! FILE has one line per round, scenario and server,
//! `SERVER<TAB>SCENARIO<TAB>FIGURES` where FIGURES is a scenario's
//! `key=value` line, or `ERROR <why>`. A figure is the median over the rounds
//! that succeeded (delivered/expected: the worst round). The first server
//! seen is the one compared: each other server gets a ratio column
//! `first / other`.

use std::collections::HashMap;
use std::io;

/// Which way a figure is better.
#[derive(Clone, Copy)]
enum Better {
    Higher,
    Lower,
}

/// How the rounds of a figure are combined.
#[derive(Clone, Copy)]
enum Combine {
    Median,
    /// For figures where one bad round is the finding.
    Worst,
}

/// A row of the table.
struct Row {
    scenario: &'static str,
    key: &'static str,
    label: &'static str,
    better: Better,
    combine: Combine,
    /// Whether a ratio between servers means something.
    compare: bool,
}

const fn row(
    scenario: &'static str,
    key: &'static str,
    label: &'static str,
    better: Better,
) -> Row {
    Row {
        scenario,
        key,
        label,
        better,
        combine: Combine::Median,
        compare: true,
    }
}

/// How much CPU each server got is context for its throughput, not a
/// comparison.
const fn share(scenario: &'static str) -> Row {
    Row {
        compare: false,
        ..row(
            scenario,
            "server_cpu_share",
            "server CPU share",
            Better::Higher,
        )
    }
}

/// The generator's CPU share: context too (well under 1.0: it was not the
/// bottleneck).
const fn own_share(scenario: &'static str) -> Row {
    Row {
        compare: false,
        ..row(
            scenario,
            "loadgen_cpu_share",
            "load generator CPU share",
            Better::Lower,
        )
    }
}

const ROWS: &[Row] = &[
    row("echo", "acks_per_s", "acks/s", Better::Higher),
    row("echo", "p50_us", "p50 µs", Better::Lower),
    row("echo", "p99_us", "p99 µs", Better::Lower),
    row(
        "echo",
        "server_cpu_us_per_op",
        "server CPU µs/ack",
        Better::Lower,
    ),
    share("echo"),
    own_share("echo"),
    row("echo-pipelined", "acks_per_s", "acks/s", Better::Higher),
    row("echo-pipelined", "p50_us", "p50 µs", Better::Lower),
    row("echo-pipelined", "p99_us", "p99 µs", Better::Lower),
    row(
        "echo-pipelined",
        "server_cpu_us_per_op",
        "server CPU µs/ack",
        Better::Lower,
    ),
    share("echo-pipelined"),
    own_share("echo-pipelined"),
    row(
        "fanout",
        "delivered_per_s",
        "delivered msgs/s",
        Better::Higher,
    ),
    Row {
        combine: Combine::Worst,
        compare: false,
        ..row(
            "fanout",
            "delivered_ratio",
            "delivered/expected",
            Better::Higher,
        )
    },
    row(
        "fanout",
        "server_cpu_us_per_op",
        "server CPU µs/msg",
        Better::Lower,
    ),
    share("fanout"),
    own_share("fanout"),
    row("echo-polling", "acks_per_s", "acks/s", Better::Higher),
    row("echo-polling", "p50_us", "p50 µs", Better::Lower),
    row("echo-polling", "p99_us", "p99 µs", Better::Lower),
    row(
        "echo-polling",
        "server_cpu_us_per_op",
        "server CPU µs/ack",
        Better::Lower,
    ),
    share("echo-polling"),
    own_share("echo-polling"),
    row(
        "fanout-polling",
        "delivered_per_s",
        "delivered msgs/s",
        Better::Higher,
    ),
    Row {
        combine: Combine::Worst,
        compare: false,
        ..row(
            "fanout-polling",
            "delivered_ratio",
            "delivered/expected",
            Better::Higher,
        )
    },
    row(
        "fanout-polling",
        "server_cpu_us_per_op",
        "server CPU µs/msg",
        Better::Lower,
    ),
    share("fanout-polling"),
    own_share("fanout-polling"),
    row(
        "cluster-fanout",
        "delivered_per_s",
        "delivered msgs/s",
        Better::Higher,
    ),
    Row {
        combine: Combine::Worst,
        compare: false,
        ..row(
            "cluster-fanout",
            "delivered_ratio",
            "delivered/expected",
            Better::Higher,
        )
    },
    row(
        "cluster-fanout",
        "server_cpu_us_per_op",
        "server CPU µs/msg (both nodes)",
        Better::Lower,
    ),
    share("cluster-fanout"),
    own_share("cluster-fanout"),
    row(
        "fanout-rooms",
        "delivered_per_s",
        "delivered msgs/s",
        Better::Higher,
    ),
    Row {
        combine: Combine::Worst,
        compare: false,
        ..row(
            "fanout-rooms",
            "delivered_ratio",
            "delivered/expected",
            Better::Higher,
        )
    },
    row(
        "fanout-rooms",
        "server_cpu_us_per_op",
        "server CPU µs/msg",
        Better::Lower,
    ),
    share("fanout-rooms"),
    own_share("fanout-rooms"),
    row("idle", "kib_per_conn", "RSS KiB/connection", Better::Lower),
    row(
        "idle-max",
        "kib_per_conn",
        "RSS KiB/connection",
        Better::Lower,
    ),
    row(
        "idle-max",
        "opened_per_s",
        "connections opened/s",
        Better::Higher,
    ),
    row(
        "fanout-max",
        "delivered_per_s",
        "delivered msgs/s",
        Better::Higher,
    ),
    Row {
        combine: Combine::Worst,
        compare: false,
        ..row(
            "fanout-max",
            "delivered_ratio",
            "delivered/expected",
            Better::Higher,
        )
    },
    row(
        "fanout-max",
        "server_cpu_us_per_op",
        "server CPU µs/msg",
        Better::Lower,
    ),
    share("fanout-max"),
    own_share("fanout-max"),
    row("connect", "connects_per_s", "connects/s", Better::Higher),
    row("connect", "p50_us", "p50 µs", Better::Lower),
    row("connect", "p99_us", "p99 µs", Better::Lower),
    row(
        "connect",
        "server_cpu_us_per_op",
        "server CPU µs/connect",
        Better::Lower,
    ),
    share("connect"),
    own_share("connect"),
];

/// Every round of one server on one scenario: figures, or why there are none.
type Rounds = Vec<Result<HashMap<String, String>, String>>;

pub fn run(args: &[String]) -> io::Result<()> {
    let [path] = args else {
        return Err(io::Error::other("usage: loadgen report RESULTS_FILE"));
    };
    let text = std::fs::read_to_string(path)?;
    print!("{}", table(&text));
    Ok(())
}

/// Parses the results file: servers in order of appearance, and the rounds
/// of each (server, scenario).
fn parse(text: &str) -> (Vec<String>, HashMap<(String, String), Rounds>) {
    let mut servers: Vec<String> = Vec::new();
    let mut results: HashMap<(String, String), Rounds> = HashMap::new();
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
        results
            .entry((server.to_owned(), scenario.to_owned()))
            .or_default()
            .push(figures);
    }
    (servers, results)
}

/// A row's figure for one server: `None` when the scenario did not run,
/// `Some(Err)` when every round failed.
fn figure(rounds: Option<&Rounds>, row: &Row) -> Option<Result<f64, ()>> {
    let rounds = rounds?;
    let mut values: Vec<f64> = rounds
        .iter()
        .filter_map(|r| r.as_ref().ok()?.get(row.key)?.parse().ok())
        .collect();
    if values.is_empty() {
        return rounds.iter().any(Result::is_err).then_some(Err(()));
    }
    values.sort_by(f64::total_cmp);
    Some(Ok(match (row.combine, row.better) {
        (Combine::Worst, Better::Higher) => values[0],
        (Combine::Worst, Better::Lower) => values[values.len() - 1],
        (Combine::Median, _) => median(&values),
    }))
}

/// The median of sorted values.
fn median(sorted: &[f64]) -> f64 {
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    }
}

/// The table's rows in order: each scenario of [`ROWS`] with its rows, and
/// after it its variants (`SCENARIO@N`, the same scenario with `--clients
/// N`), by N.
fn rows_of(results: &HashMap<(String, String), Rounds>) -> Vec<(String, &'static Row)> {
    let mut names: Vec<&str> = Vec::new();
    for row in ROWS {
        if !names.contains(&row.scenario) {
            names.push(row.scenario);
        }
    }
    let mut out = Vec::new();
    for base in names {
        let mut variants: Vec<(u64, &String)> = results
            .keys()
            .map(|(_, scenario)| scenario)
            .filter_map(|scenario| {
                let n = scenario.strip_prefix(base)?.strip_prefix('@')?;
                Some((n.parse().ok()?, scenario))
            })
            .collect();
        variants.sort();
        variants.dedup();
        let all =
            std::iter::once(base.to_owned()).chain(variants.into_iter().map(|(_, s)| s.clone()));
        for scenario in all {
            for row in ROWS.iter().filter(|row| row.scenario == base) {
                out.push((scenario.clone(), row));
            }
        }
    }
    out
}

/// The markdown table, then the failures.
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
    for (scenario, row) in rows_of(&results) {
        let values: Vec<_> = servers
            .iter()
            .map(|s| figure(results.get(&(s.clone(), scenario.clone())), row))
            .collect();
        if values.iter().all(Option::is_none) {
            continue;
        }
        let arrow = match row.better {
            Better::Higher => "↑",
            Better::Lower => "↓",
        };
        out += &format!("| {scenario} | {} {arrow} |", row.label);
        for value in &values {
            out += &match value {
                Some(Ok(v)) => format!(" {} |", show(row.key, *v)),
                Some(Err(())) => " failed |".to_owned(),
                None => " – |".to_owned(),
            };
        }
        for value in values.iter().skip(1) {
            out += &match (&values[0], value) {
                (Some(Ok(ours)), Some(Ok(theirs))) if row.compare && *theirs != 0.0 => {
                    format!(" {:.2}x |", ours / theirs)
                }
                _ => " – |".to_owned(),
            };
        }
        out += "\n";
    }
    let mut failures: Vec<_> = results
        .iter()
        .flat_map(|((server, scenario), rounds)| {
            rounds
                .iter()
                .filter_map(move |r| r.as_ref().err().map(|why| (server, scenario, why)))
        })
        .collect();
    failures.sort();
    for (server, scenario, why) in failures {
        out += &format!("\n{server} failed a round of {scenario}: {why}\n");
    }
    out
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
    fn variants_follow_their_scenario() {
        let text = "a\techo@1000\tacks_per_s=3\n\
                    a\techo@200\tacks_per_s=2\n\
                    a\techo\tacks_per_s=1\n";
        let table = table(text);
        let at = |needle: &str| table.find(needle).expect(needle);
        assert!(at("| echo | acks/s") < at("| echo@200 | acks/s"), "{table}");
        assert!(
            at("| echo@200 | acks/s") < at("| echo@1000 | acks/s"),
            "{table}"
        );
    }

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
        assert!(table.contains("c failed a round of echo: boom"), "{table}");
        assert!(!table.contains("fanout"), "{table}");
    }

    #[test]
    fn rounds_give_the_median_and_the_worst_delivery() {
        let text = "a\tfanout\tdelivered_per_s=100 delivered_ratio=1.0\n\
                    a\tfanout\tdelivered_per_s=300 delivered_ratio=0.9\n\
                    a\tfanout\tERROR stalled\n\
                    a\tfanout\tdelivered_per_s=200 delivered_ratio=1.0\n";
        let table = table(text);
        assert!(
            table.contains("| fanout | delivered msgs/s ↑ | 200 |"),
            "{table}"
        );
        assert!(
            table.contains("| fanout | delivered/expected ↑ | 0.9000 |"),
            "{table}"
        );
        assert!(
            table.contains("a failed a round of fanout: stalled"),
            "{table}"
        );
    }
}
