//! A conformance runner for any Engine.IO v4 / Socket.IO v5 server:
//! `siobridge conform URL`.
//!
//! It speaks the raw protocols (HTTP long-polling requests written by hand,
//! WebSocket frames) to the server at `URL` and checks the behaviours that
//! engine.io-protocol v4 and socket.io-protocol v5 fix, printing one line per
//! check (`ok` or `FAIL`, its name, and on failure what was expected and what
//! came) and a summary. The server must follow the contract of the public
//! test suites of socketio/engine.io-protocol and socketio/socket.io-protocol
//! (`test-suite/`), which `examples/conformance.rs` serves:
//!
//! - at `/engine.io/`, an Engine.IO server echoing every message (text as
//!   text, binary as binary);
//! - at `/socket.io/`, a Socket.IO server with namespaces `/` and `/custom`,
//!   which emits `auth` with the CONNECT payload (`{}` without one) right
//!   after each connect, answers `message` on `/` with `message-back` and the
//!   same arguments, and acknowledges `message-with-ack` with the same
//!   arguments, binary included;
//! - both with pingInterval 300 ms, pingTimeout 200 ms and maxPayload
//!   1,000,000 bytes, and a Socket.IO connectTimeout of 1000 ms
//!   ([`Contract::default`]).
//!
//! The checks, by spec section:
//!
//! - Engine.IO (`src/conform/engineio.rs`): the handshake over
//!   polling and over WebSocket ("Protocol › Handshake": `sid`, `upgrades`,
//!   `pingInterval`, `pingTimeout`, `maxPayload`); the error answers of the
//!   reference server (HTTP 400 with `{"code":N,"message":...}` for an
//!   unknown transport, an unknown sid, a handshake that is not a GET, a bad
//!   request, an unsupported protocol version); polling payloads
//!   ("Protocol › Payload": `\x1e` separators, `b`+base64 binary); WebSocket
//!   frames; invalid packets closing the session; the heartbeat
//!   ("Protocol › Heartbeat": a ping within pingInterval, a pong keeping the
//!   session, silence closing it after pingInterval + pingTimeout); a close
//!   packet over polling; a second concurrent GET closing the session;
//!   maxPayload (HTTP 413 over polling, a close over WebSocket); the upgrade
//!   ("Protocol › Upgrade": `2probe`, `3probe`, NOOP on the pending GET, `5`,
//!   then polling refused; a second WebSocket, or a second probe during an
//!   upgrade, accepted and then closed, as the reference does).
//! - Socket.IO (`src/conform/socketio.rs`): the same handshake at
//!   `/socket.io/`; a connection that joins no namespace closed after
//!   connectTimeout; CONNECT to `/` and `/custom`, with and without auth,
//!   over WebSocket and polling ("Exchange protocol › Connection to a
//!   namespace"); CONNECT_ERROR `Invalid namespace` for an unknown
//!   namespace with the connection kept; DISCONNECT from one namespace;
//!   events, acknowledgements, binary events and binary acknowledgements
//!   ("Packet encoding": attachment counts and placeholders); malformed
//!   packets (unknown type, payload not an array, non-numeric ack id, a
//!   placeholder out of range) closing the connection.
//!
//! - Engine.IO v3 and Socket.IO v4, with [`Contract::eio3`]
//!   (`siobridge conform --eio3`; `src/conform/eio3.rs`): the v3 handshake,
//!   client pings answered with pongs (and a silent client closed after
//!   pingInterval + pingTimeout, a pong from the client refused),
//!   length-prefixed payloads counted in UTF-16 code units, binary bodies,
//!   `b64=1` and `b4` base64, binary WebSocket frames with their type byte,
//!   the upgrade; the implicit connection to `/`, `?query` as the CONNECT's
//!   auth with an empty CONNECT answer, the refusal of an unknown namespace,
//!   events, acknowledgements and binary events.
//! - The msgpack parser, with [`Contract::msgpack`] (`siobridge conform
//!   --msgpack`; `src/conform/msgpack.rs`), in place of the Socket.IO checks
//!   above (which speak the JSON parser): CONNECT and its answer as one
//!   binary message each, over WebSocket and (`b` + base64) polling; events
//!   and acknowledgements; binary inline as MessagePack `bin`; a middleware
//!   refusal's CONNECT_ERROR (the contract's namespace `/refused`, refusing
//!   every connection with `Error("refused")` and `data` `{"code": 403}`);
//!   an unknown namespace; a text frame, malformed MessagePack and an
//!   unknown packet type closing the connection.
//!
//! Every wait is bounded ([`Contract`] holds the bounds), so a server that
//! stalls fails checks instead of hanging the runner.
//!
//! ```no_run
//! # async fn demo() -> Result<(), String> {
//! let mut out = std::io::stdout();
//! let summary = siobridge::conform::run("http://127.0.0.1:3000", &mut out).await?;
//! assert!(summary.all_passed());
//! # Ok(())
//! # }
//! ```

mod eio3;
mod engineio;
mod msgpack;
mod socketio;
mod wire;

use std::future::Future;
use std::io::Write;
use std::pin::Pin;
use std::process::ExitCode;
use std::time::Duration;

pub use wire::Target;

/// What the server under test promises: the settings of the public test
/// suites, and how much slack the runner allows around them.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Contract {
    /// Path of the Engine.IO echo server. Default `/engine.io/`.
    pub engine_path: String,
    /// Path of the Socket.IO server. Default `/socket.io/`.
    pub socket_path: String,
    /// The pingInterval both servers announce and keep. Default 300 ms.
    pub ping_interval: Duration,
    /// The pingTimeout both servers announce and keep. Default 200 ms.
    pub ping_timeout: Duration,
    /// The maxPayload both servers announce, in bytes. Default 1,000,000.
    pub max_payload: u64,
    /// How long the Socket.IO server waits for a first CONNECT before it
    /// closes the connection. Default 1000 ms (the reference's default is
    /// 45 s; the conformance contract shortens it).
    pub connect_timeout: Duration,
    /// Slack added to every protocol timing (a ping due after pingInterval
    /// may come up to `margin` later), for scheduling and I/O on a busy
    /// machine. Default 500 ms.
    pub margin: Duration,
    /// How long the runner waits for an answer the server owes at once (an
    /// HTTP response, the answer to a packet). Default 2 s.
    pub answer_timeout: Duration,
    /// Upper bound on one whole check. Default 10 s.
    pub check_timeout: Duration,
    /// The servers also serve Engine.IO v3 / Socket.IO v4 clients
    /// (socket.io 2.x; the reference's `allowEIO3`): the v3 checks run too,
    /// and `EIO=3` is no longer expected to be refused. Default `false`.
    pub eio3: bool,
    /// The Socket.IO server uses the msgpack parser (the reference's
    /// `parser: require("socket.io-msgpack-parser")`; siobridge's
    /// `socketio::Parser::Msgpack`) and has a namespace `/refused` whose
    /// middleware refuses every connection with the message `refused` and
    /// `data` `{"code": 403}`: the msgpack checks run in place of the
    /// Socket.IO (JSON parser) checks. Default `false`.
    pub msgpack: bool,
}

impl Default for Contract {
    fn default() -> Self {
        Contract {
            engine_path: "/engine.io/".to_owned(),
            socket_path: "/socket.io/".to_owned(),
            ping_interval: Duration::from_millis(300),
            ping_timeout: Duration::from_millis(200),
            max_payload: 1_000_000,
            connect_timeout: Duration::from_millis(1000),
            margin: Duration::from_millis(500),
            answer_timeout: Duration::from_secs(2),
            check_timeout: Duration::from_secs(10),
            eio3: false,
            msgpack: false,
        }
    }
}

/// What a check found wrong: a sentence saying what was expected and what
/// came instead.
type Verdict = Result<(), String>;

/// One check, not started yet: futures do nothing until awaited, so the
/// whole list can be built up front and run in order.
type Check<'a> = Pin<Box<dyn Future<Output = Verdict> + 'a>>;

/// The server under test and its contract, shared by every check.
#[derive(Debug, Clone)]
struct Ctx {
    target: Target,
    contract: Contract,
}

/// The outcome of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Names of the checks that passed, in order.
    pub passed: Vec<String>,
    /// Names of the checks that failed with what each found, in order.
    pub failed: Vec<(String, String)>,
}

impl Summary {
    /// Whether every check passed (and at least one ran).
    pub fn all_passed(&self) -> bool {
        self.failed.is_empty() && !self.passed.is_empty()
    }

    /// How many checks ran.
    pub fn total(&self) -> usize {
        self.passed.len() + self.failed.len()
    }
}

/// Writes one line per check as it completes, and collects the summary.
struct Report<'a, W: Write> {
    out: &'a mut W,
    summary: Summary,
    check_timeout: Duration,
}

impl<W: Write> Report<'_, W> {
    /// Runs one check, bounded by [`Contract::check_timeout`], and prints its
    /// line: `ok   NAME` or `FAIL NAME: WHAT`.
    async fn check(&mut self, name: &str, check: impl Future<Output = Verdict>) {
        let verdict = tokio::time::timeout(self.check_timeout, check)
            .await
            .unwrap_or_else(|_| {
                Err(format!(
                    "did not finish within {}",
                    wire::ms(self.check_timeout)
                ))
            });
        // A closed stdout must not stop the run; the summary still counts.
        let _ = match &verdict {
            Ok(()) => writeln!(self.out, "ok   {name}"),
            Err(what) => writeln!(self.out, "FAIL {name}: {what}"),
        };
        let _ = self.out.flush();
        match verdict {
            Ok(()) => self.summary.passed.push(name.to_owned()),
            Err(what) => self.summary.failed.push((name.to_owned(), what)),
        }
    }
}

/// Runs every check against the server at `base_url` (`http://HOST:PORT`)
/// with the public suites' [`Contract`], writing one line per check and then
/// the summary line to `out`. Errs only when `base_url` is not usable.
pub async fn run(base_url: &str, out: &mut impl Write) -> Result<Summary, String> {
    run_with(base_url, Contract::default(), out).await
}

/// [`run`] with another contract (other paths, timings or slack).
pub async fn run_with(
    base_url: &str,
    contract: Contract,
    out: &mut impl Write,
) -> Result<Summary, String> {
    let target = Target::parse(base_url)?;
    let _ = writeln!(out, "siobridge conform {target}");
    let ctx = Ctx { target, contract };
    let mut report = Report {
        out,
        summary: Summary::default(),
        check_timeout: ctx.contract.check_timeout,
    };
    let eio3 = if ctx.contract.eio3 {
        eio3::checks(&ctx)
    } else {
        Vec::new()
    };
    let socket_io = if ctx.contract.msgpack {
        msgpack::checks(&ctx)
    } else {
        socketio::checks(&ctx)
    };
    for (name, check) in engineio::checks(&ctx)
        .into_iter()
        .chain(socket_io)
        .chain(eio3)
    {
        report.check(&name, check).await;
    }
    let summary = report.summary;
    let _ = writeln!(
        out,
        "{} checks: {} passed, {} failed",
        summary.total(),
        summary.passed.len(),
        summary.failed.len()
    );
    Ok(summary)
}

const USAGE: &str = "\
usage: siobridge conform [--eio3] [--msgpack] URL

Checks the Engine.IO v4 / Socket.IO v5 server at URL (e.g. http://127.0.0.1:3000)
against the contract of the public protocol test suites: an Engine.IO echo
server at /engine.io/ and a Socket.IO server at /socket.io/, pingInterval 300 ms,
pingTimeout 200 ms, maxPayload 1000000, connectTimeout 1000 ms (see
examples/conformance.rs).
With --eio3, the servers must also serve socket.io 2.x clients (Node's
allowEIO3): the Engine.IO v3 / Socket.IO v4 checks run as well.
With --msgpack, the Socket.IO server must use the msgpack parser
(socket.io-msgpack-parser) and refuse every connection to /refused with
Error(\"refused\") and data {\"code\": 403}: the msgpack checks replace the
Socket.IO ones.
Prints one line per check and a summary; exits 0 only when every check passes.
";

/// The `siobridge conform` command: `args` are the arguments after
/// `conform`. Exit status 0 when every check passes, 1 when one fails, 2 on a
/// usage error.
pub fn main(args: impl IntoIterator<Item = String>) -> ExitCode {
    let mut args: Vec<String> = args.into_iter().collect();
    let mut contract = Contract::default();
    if let Some(at) = args.iter().position(|a| a == "--eio3") {
        args.remove(at);
        contract.eio3 = true;
    }
    if let Some(at) = args.iter().position(|a| a == "--msgpack") {
        args.remove(at);
        contract.msgpack = true;
    }
    let url = match args.as_slice() {
        [flag] if flag == "-h" || flag == "--help" => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        [url] if !url.starts_with('-') => url,
        _ => {
            eprint!("siobridge conform: expected one URL\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("siobridge conform: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut stdout = std::io::stdout();
    match runtime.block_on(run_with(url, contract, &mut stdout)) {
        Ok(summary) if summary.all_passed() => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(message) => {
            eprint!("siobridge conform: {message}\n\n{USAGE}");
            ExitCode::from(2)
        }
    }
}
