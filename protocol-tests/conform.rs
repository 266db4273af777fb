//! `siobridge conform URL`, run as a user runs it: the built binary against
//! real servers on 127.0.0.1 (port 0).
//!
//! - Against `examples/conformance.rs` every check passes and the exit status
//!   is 0.
//! - Against a deliberately broken server defined here, the runner reports
//!   exactly the failures built into it, each with what was expected and what
//!   came, and exits with status 1.
//! - Against a port where nothing listens, every check fails quickly and the
//!   runner still finishes.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use siobridge::engineio::{self, Data, Sid};
use siobridge::server::{EngineSocket, Handler, Server, ServerConfig};
use siobridge::socketio::{Decoder, Packet, PacketType};

/// How many checks a run makes (a change here is a change of the runner).
const CHECKS: usize = 40;
/// How many `conform --eio3` makes: the v3 checks, less the refusal of
/// `EIO=3`.
const CHECKS_EIO3: usize = 58;
/// How many `conform --msgpack` makes: the Engine.IO checks and the msgpack
/// ones, in place of the Socket.IO (JSON parser) checks.
const CHECKS_MSGPACK: usize = 34;

/// The `siobridge` binary, built by cargo for this test target.
fn siobridge() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_siobridge"))
}

/// Runs `siobridge conform URL` to completion.
fn conform(url: &str) -> Output {
    conform_with(&[url])
}

/// Runs `siobridge conform ARGS` to completion.
fn conform_with(args: &[&str]) -> Output {
    Command::new(siobridge())
        .arg("conform")
        .args(args)
        .output()
        .expect("siobridge conform runs")
}

fn stdout_lines(output: &Output) -> Vec<String> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

fn failures(lines: &[String]) -> Vec<&str> {
    lines
        .iter()
        .filter(|line| line.starts_with("FAIL "))
        .map(String::as_str)
        .collect()
}

/// A child process killed when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `examples/conformance` (cargo builds the examples before running
/// the tests, next to the binary) and returns it with its URL.
fn start_conformance_example() -> (Running, String) {
    start_conformance_example_with(&[])
}

/// [`start_conformance_example`] with extra environment.
fn start_conformance_example_with(env: &[(&str, &str)]) -> (Running, String) {
    let bin = siobridge();
    let example = bin
        .parent()
        .expect("the binary has a directory")
        .join("examples")
        .join(format!("conformance{}", std::env::consts::EXE_SUFFIX));
    assert!(
        example.exists(),
        "{} is missing: build it with `cargo build --example conformance`",
        example.display()
    );
    let mut child = Command::new(&example)
        .env("CONFORMANCE_PORT", "0")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the conformance example starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let running = Running(child);
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("the example prints its address");
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    (running, format!("http://{addr}"))
}

#[test]
fn conform_passes_against_the_conformance_example() {
    let (_server, url) = start_conformance_example();
    let output = conform(&url);
    let lines = stdout_lines(&output);
    assert_eq!(failures(&lines), Vec::<&str>::new(), "{lines:#?}");
    assert_eq!(
        lines.last().map(String::as_str),
        Some(format!("{CHECKS} checks: {CHECKS} passed, 0 failed").as_str())
    );
    assert_eq!(output.status.code(), Some(0));
}

#[test]
fn conform_eio3_passes_against_the_conformance_example_with_allow_eio3() {
    let (_server, url) = start_conformance_example_with(&[("SIOBRIDGE_ALLOW_EIO3", "1")]);
    let output = conform_with(&["--eio3", &url]);
    let lines = stdout_lines(&output);
    assert_eq!(failures(&lines), Vec::<&str>::new(), "{lines:#?}");
    assert_eq!(
        lines.last().map(String::as_str),
        Some(format!("{CHECKS_EIO3} checks: {CHECKS_EIO3} passed, 0 failed").as_str())
    );
    assert_eq!(output.status.code(), Some(0));
}

#[test]
fn conform_msgpack_passes_against_the_conformance_example_with_the_msgpack_parser() {
    let (_server, url) = start_conformance_example_with(&[("SIOBRIDGE_PARSER", "msgpack")]);
    let output = conform_with(&["--msgpack", &url]);
    let lines = stdout_lines(&output);
    assert_eq!(failures(&lines), Vec::<&str>::new(), "{lines:#?}");
    assert_eq!(
        lines.last().map(String::as_str),
        Some(format!("{CHECKS_MSGPACK} checks: {CHECKS_MSGPACK} passed, 0 failed").as_str())
    );
    assert_eq!(output.status.code(), Some(0));
}

#[test]
fn conform_msgpack_fails_against_the_json_parser() {
    let (_server, url) = start_conformance_example();
    let output = conform_with(&["--msgpack", &url]);
    let lines = stdout_lines(&output);
    assert!(
        lines
            .iter()
            .any(|line| line.starts_with("FAIL msgpack: CONNECT to / is one binary message")),
        "{lines:#?}"
    );
    assert_eq!(output.status.code(), Some(1));
}

/// A Socket.IO server written by hand over siobridge's Engine.IO server,
/// with two bugs: it accepts every namespace (no CONNECT_ERROR for an
/// unknown one) and acknowledges with the event's id plus one. Everything
/// else follows the conformance contract.
#[derive(Default)]
struct BrokenSocketIo {
    connections: Arc<Mutex<HashMap<Sid, Connection>>>,
}

#[derive(Default)]
struct Connection {
    decoder: Decoder,
    joined: bool,
}

impl Handler for BrokenSocketIo {
    fn on_open(&self, socket: &EngineSocket) {
        self.connections
            .lock()
            .unwrap()
            .insert(socket.sid(), Connection::default());
        // connectTimeout: a connection that joins no namespace is dropped.
        let (connections, socket) = (self.connections.clone(), socket.clone());
        tokio::spawn(async move {
            tokio::time::sleep(CONNECT_TIMEOUT).await;
            let joined = connections
                .lock()
                .unwrap()
                .get(&socket.sid())
                .is_some_and(|c| c.joined);
            if !joined {
                socket.close();
            }
        });
    }

    fn on_message(&self, socket: &EngineSocket, data: Data) {
        let decoded = {
            let mut connections = self.connections.lock().unwrap();
            let Some(connection) = connections.get_mut(&socket.sid()) else {
                return;
            };
            let decoded = match data {
                Data::Text(text) => connection.decoder.decode_text(&text),
                Data::Binary(bytes) => connection.decoder.decode_binary(bytes),
            };
            if let Ok(Some(packet)) = &decoded {
                connection.joined |= packet.kind == PacketType::Connect;
            }
            decoded
        };
        match decoded {
            Ok(Some(packet)) => answer(socket, packet),
            Ok(None) => {}
            Err(_) => socket.close(),
        }
    }

    fn on_close(&self, socket: &EngineSocket, _reason: engineio::CloseReason) {
        self.connections.lock().unwrap().remove(&socket.sid());
    }
}

const CONNECT_TIMEOUT: Duration = Duration::from_millis(1000);

fn answer(socket: &EngineSocket, packet: Packet) {
    let namespace = packet.namespace.clone();
    match packet.kind {
        PacketType::Connect => {
            // Bug 1: any namespace is accepted, `/random` included.
            send(
                socket,
                Packet::connect(&namespace, Some(json!({ "sid": "broken" }))),
            );
            let auth = packet.data.unwrap_or_else(|| json!({}));
            send(
                socket,
                Packet::event(&namespace, vec![json!("auth"), auth], None),
            );
        }
        PacketType::Event | PacketType::BinaryEvent => {
            let Some(Value::Array(mut args)) = packet.data else {
                return;
            };
            let name = args.remove(0);
            let attachments = packet.attachments;
            if name == "message" {
                args.insert(0, json!("message-back"));
                send(
                    socket,
                    Packet::event_with_binary(&namespace, args, None, attachments),
                );
            } else if let (Some(id), true) = (packet.ack_id, name == "message-with-ack") {
                // Bug 2: the acknowledgement carries the wrong id.
                send(
                    socket,
                    Packet::ack_with_binary(&namespace, args, id + 1, attachments),
                );
            }
        }
        _ => {}
    }
}

fn send(socket: &EngineSocket, packet: Packet) {
    let _ = socket.send(Data::from(packet.encode()));
    for attachment in packet.attachments {
        let _ = socket.send(Data::Binary(attachment));
    }
}

/// Echoes every message, like the contract's Engine.IO server.
struct Echo;

impl Handler for Echo {
    fn on_message(&self, socket: &EngineSocket, data: Data) {
        let _ = socket.send(data);
    }
}

#[test]
fn conform_reports_exactly_what_a_broken_server_breaks() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let settings = |ping_interval| {
        let engine = engineio::Config::default()
            .with_heartbeat(
                Duration::from_millis(ping_interval),
                Duration::from_millis(200),
            )
            .with_max_payload(1_000_000);
        ServerConfig::default().with_engine(engine)
    };
    // Bug 3: the Engine.IO server announces (and keeps) pingInterval 250.
    let engine = Server::new(settings(250).with_path("/engine.io/"), Echo);
    let server = Server::new(
        settings(300).with_path("/socket.io/"),
        BrokenSocketIo::default(),
    )
    .and(engine);
    runtime.spawn(async move { server.serve(listener, std::future::pending()).await });

    let output = conform(&url);
    let lines = stdout_lines(&output);
    let expected = [
        r#"FAIL engine.io: handshake over polling: pingInterval: expected 300, got 250"#,
        r#"FAIL engine.io: handshake over websocket: pingInterval: expected 300, got 250"#,
        r#"FAIL socket.io: unknown namespace gets CONNECT_ERROR, connection stays open: expected "4/random,{\"message\":\"Invalid namespace\"}", got "0/random,{\"sid\":\"broken\"}""#,
        r#"FAIL socket.io: acknowledgement: expected "3456[1,\"2\",{\"3\":[false]}]", got "3457[1,\"2\",{\"3\":[false]}]""#,
        r#"FAIL socket.io: binary acknowledgement: expected "62-789[{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}]" + <01 02 03> + <04 05 06>, got "62-790[{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}]" + <01 02 03> + <04 05 06>"#,
    ];
    assert_eq!(failures(&lines), expected, "{lines:#?}");
    assert_eq!(
        lines.last().map(String::as_str),
        Some(format!("{CHECKS} checks: {} passed, 5 failed", CHECKS - 5).as_str())
    );
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn conform_fails_every_check_when_nothing_listens() {
    // A port that was free a moment ago: connections are refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let output = conform(&format!("http://127.0.0.1:{port}"));
    let lines = stdout_lines(&output);
    let failed = failures(&lines);
    assert_eq!(failed.len(), CHECKS, "{lines:#?}");
    assert!(
        failed[0].starts_with("FAIL engine.io: handshake over polling: GET /engine.io/?EIO=4&transport=polling: cannot connect to"),
        "{}",
        failed[0]
    );
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn conform_refuses_a_missing_or_unusable_url() {
    for args in [&["conform"][..], &["conform", "https://127.0.0.1:1"]] {
        let output = Command::new(siobridge()).args(args).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("usage: siobridge conform [--eio3] [--msgpack] URL"),
            "{stderr}"
        );
    }
}
