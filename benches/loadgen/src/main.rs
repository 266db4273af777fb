//! Load generator for `benches/run`: raw Engine.IO v4 / Socket.IO v5 clients
//! over WebSocket (tokio-tungstenite, one thread, so that it fits the one
//! core it is pinned to and is not the bottleneck).
//!
//! ```text
//! loadgen SCENARIO --addr 127.0.0.1:PORT [options]   prints key=value figures
//! loadgen report RESULTS_FILE                        prints the markdown table
//! ```
//!
//! Scenarios: `echo`, `echo-pipelined`, `fanout`, `fanout-rooms`, `idle`,
//! `connect`, and
//! over HTTP long-polling `echo-polling` and `fanout-polling` (see each
//! module). Options, with their defaults:
//!
//! ```text
//! --path /socket.io/   --warmup 2 --duration 10 (seconds)
//! --clients 500        echo clients        --depth 16 acks in flight (echo-pipelined)
//! --receivers 1000     fanout receivers    --window 64 unfinished broadcasts
//! --rooms 100          fanout-rooms: rooms, one sender each
//! --connections 10000  idle connections    --concurrency 32 (connect loops; connects at once)
//! --server-pid PID     the server, whose memory idle reads
//! --addr2 HOST:PORT    fanout: a second node of the same cluster; half the
//!                      receivers connect there (the sender stays on --addr)
//! --server-pid2 PID    that node, whose CPU time is added to the server's
//! ```

mod client;
mod conn;
mod cpu;
mod echo;
mod fanout;
mod polling;
mod report;
mod stats;

use std::io;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use futures_util::{StreamExt, TryStreamExt};

use crate::client::{Target, Ws};

/// The scenario settings (see the crate docs).
#[derive(Debug, Clone)]
pub struct Options {
    addr: Option<SocketAddr>,
    addr2: Option<SocketAddr>,
    path: String,
    warmup: Duration,
    duration: Duration,
    clients: usize,
    depth: usize,
    receivers: usize,
    rooms: usize,
    window: usize,
    connections: usize,
    concurrency: usize,
    server_pid: Option<u32>,
    server_pid2: Option<u32>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            addr: None,
            addr2: None,
            path: "/socket.io/".to_owned(),
            warmup: Duration::from_secs(2),
            duration: Duration::from_secs(10),
            clients: 500,
            depth: 16,
            receivers: 1000,
            rooms: 100,
            window: 64,
            connections: 10_000,
            concurrency: 32,
            server_pid: None,
            server_pid2: None,
        }
    }
}

impl Options {
    fn parse(args: &[String]) -> Result<Options, String> {
        let mut options = Options::default();
        let mut args = args.iter();
        while let Some(flag) = args.next() {
            let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
            let bad = |e: &dyn std::fmt::Display| format!("{flag} {value}: {e}");
            let secs = |v: &str| {
                v.parse::<f64>()
                    .map(Duration::from_secs_f64)
                    .map_err(|e| bad(&e))
            };
            let count = |v: &str| v.parse::<usize>().map_err(|e| bad(&e));
            match flag.as_str() {
                "--addr" => options.addr = Some(value.parse().map_err(|e| bad(&e))?),
                "--addr2" => options.addr2 = Some(value.parse().map_err(|e| bad(&e))?),
                "--server-pid2" => options.server_pid2 = Some(value.parse().map_err(|e| bad(&e))?),
                "--path" => options.path = value.clone(),
                "--warmup" => options.warmup = secs(value)?,
                "--duration" => options.duration = secs(value)?,
                "--clients" => options.clients = count(value)?,
                "--depth" => options.depth = count(value)?,
                "--receivers" => options.receivers = count(value)?,
                "--rooms" => options.rooms = count(value)?.max(1),
                "--window" => options.window = count(value)?.max(1),
                "--connections" => options.connections = count(value)?,
                "--concurrency" => options.concurrency = count(value)?.max(1),
                "--server-pid" => options.server_pid = Some(value.parse().map_err(|e| bad(&e))?),
                _ => return Err(format!("unknown option {flag}")),
            }
        }
        Ok(options)
    }
}

/// Opens `count` clients connected to `/`, `concurrency` at a time.
pub async fn connect_all(target: &Target, count: usize, concurrency: usize) -> io::Result<Vec<Ws>> {
    futures_util::stream::iter(0..count)
        .map(|_| client::connect(target))
        .buffer_unordered(concurrency)
        .try_collect()
        .await
}

async fn run_scenario(scenario: &str, options: &Options) -> io::Result<stats::Outcome> {
    let addr = options
        .addr
        .ok_or_else(|| io::Error::other("--addr is required"))?;
    let target = Target::new(addr, &options.path);
    match scenario {
        "echo" => echo::run(&target, options, 1).await,
        "echo-pipelined" => echo::run(&target, options, options.depth).await,
        "fanout" => {
            let second = options.addr2.map(|addr| Target::new(addr, &options.path));
            fanout::run(&target, second.as_ref(), options).await
        }
        "fanout-rooms" => fanout::run_rooms(&target, options).await,
        "echo-polling" => polling::echo(&target, options).await,
        "fanout-polling" => polling::fanout(&target, options).await,
        "idle" => conn::idle(&target, options).await,
        "connect" => conn::connect(&target, options).await,
        _ => Err(io::Error::other(format!("unknown scenario {scenario}"))),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        None | Some("-h" | "--help") => {
            eprintln!("usage: loadgen SCENARIO --addr HOST:PORT [options] | loadgen report FILE");
            return ExitCode::from(2);
        }
        Some("report") => report::run(&args[1..]).map_err(|e| e.to_string()),
        Some(scenario) => Options::parse(&args[1..]).and_then(|options| {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            let outcome = runtime
                .block_on(run_scenario(scenario, &options))
                .map_err(|e| format!("{scenario}: {e}"))?;
            println!("{}", outcome.line());
            Ok(())
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("loadgen: {e}");
            ExitCode::FAILURE
        }
    }
}
