//! Writes the seed corpora of the structured targets (`seeds/eio_session/`,
//! `seeds/sio_server/`, `seeds/sio_client/`) from readable scripts of the spec's examples.
//!
//! Run from `fuzz/`: `cargo run --example make_seeds`. The other targets'
//! seeds are the spec's example packets themselves, committed as files.

use std::fs;
use std::path::Path;

use siobridge_fuzz::Encode;
use siobridge_fuzz::eio_script::{Script, Setup, Step};
use siobridge_fuzz::{client_script, sio_script};

fn main() -> std::io::Result<()> {
    write_all("seeds/eio_session", eio_seeds())?;
    write_all("seeds/sio_server", sio_seeds())?;
    write_all("seeds/sio_client", client_seeds())?;
    Ok(())
}

fn write_all(dir: &str, scripts: Vec<(&str, Vec<u8>)>) -> std::io::Result<()> {
    fs::create_dir_all(dir)?;
    for (name, bytes) in scripts {
        fs::write(Path::new(dir).join(name), bytes)?;
    }
    Ok(())
}

fn eio(name: &'static str, websocket: bool, steps: Vec<Step>) -> (&'static str, Vec<u8>) {
    eio_with(name, websocket, false, steps)
}

/// An Engine.IO v3 script (`eio3`), binary allowed.
fn eio3(name: &'static str, websocket: bool, steps: Vec<Step>) -> (&'static str, Vec<u8>) {
    eio_with(name, websocket, true, steps)
}

fn eio_with(
    name: &'static str,
    websocket: bool,
    eio3: bool,
    steps: Vec<Step>,
) -> (&'static str, Vec<u8>) {
    let script = Script {
        setup: Setup {
            websocket,
            eio3,
            b64: false,
            max_buffered: 3,
            max_payload: 21, // 100 bytes
        },
        steps,
    };
    let mut out = Vec::new();
    script.encode(&mut out);
    (name, out)
}

/// engine.io-protocol v4: "Handshake", "Heartbeat", "Upgrade", "Message",
/// "Payload" and the close cases, as the unit tests of `session.rs` run them.
fn eio_seeds() -> Vec<(&'static str, Vec<u8>)> {
    use Step::*;
    let post = |s: &str| Post(s.as_bytes().to_vec());
    let text = |s: &str| WsText(s.to_owned());
    vec![
        // engine.io-protocol v3: length-prefixed payloads, binary bodies,
        // the client's pings.
        eio3(
            "v3-polling-messages-and-pings",
            false,
            vec![
                Get,
                post("6:4hello2:4€10:b4AQIDBA==1:2"),
                SendText("hi\x1e".into()),
                SendBinary(vec![1, 2, 3, 4]),
                Get,
                Post(vec![1, 3, 255, 4, 9, 8, 0, 1, 255, b'2']),
                Get,
                Advance(400),
                post("1:2"),
                Get,
                Advance(600),
            ],
        ),
        eio3(
            "v3-upgrade",
            false,
            vec![
                Get,
                Get,
                BeginUpgrade,
                text("2probe"),
                WsFlush,
                Get,
                text("5"),
                WsBinary(vec![4, 7]),
                text("b4AQI="),
                text("2"),
                SendBinary(vec![5]),
                WsFlush,
            ],
        ),
        eio3(
            "v3-websocket-pong-from-client",
            true,
            vec![WsFlush, text("2"), WsFlush, text("3")],
        ),
        eio(
            "polling-handshake-and-messages",
            false,
            vec![
                Get,
                post("4hello\x1e4€\x1ebAQIDBA=="),
                SendText("hi".into()),
                SendBinary(vec![1, 2, 3, 4]),
                Get,
            ],
        ),
        eio(
            "polling-heartbeat",
            false,
            vec![
                Get,
                Get,
                Advance(300),
                post("3"),
                Advance(300),
                Get,
                Advance(250),
            ],
        ),
        eio(
            "polling-upgrade",
            false,
            vec![
                Get,
                Get,
                BeginUpgrade,
                text("2probe"),
                WsFlush,
                Get,
                SendText("queued".into()),
                text("5"),
                WsFlush,
                text("4over ws"),
                WsBinary(vec![9]),
                Advance(300),
                WsFlush,
                text("3"),
            ],
        ),
        eio(
            "upgrade-without-probe",
            false,
            vec![Get, BeginUpgrade, text("5"), Get],
        ),
        eio(
            "upgrade-timeout",
            false,
            vec![
                Get,
                BeginUpgrade,
                text("2probe"),
                WsFlush,
                Deadline,
                Deadline,
                Deadline,
                Get,
                post("3"),
            ],
        ),
        eio("client-close-pending-get", false, vec![Get, Get, post("1")]),
        eio("concurrent-get", false, vec![Get, Get, Get]),
        eio("aborted-get", false, vec![Get, Get, GetAborted]),
        eio("malformed-post", false, vec![Get, post("abc")]),
        eio(
            "oversized-post",
            false,
            vec![Get, post(&format!("4{}", "x".repeat(120)))],
        ),
        eio("post-too-large", false, vec![Get, PostTooLarge]),
        eio(
            "server-close-flush",
            false,
            vec![Get, SendText("bye".into()), Close, Get],
        ),
        eio("shutdown-unfetched", false, vec![Get, Shutdown, Deadline]),
        eio(
            "slow-consumer",
            false,
            vec![
                Get,
                SendText("1".into()),
                SendText("2".into()),
                SendText("3".into()),
                SendText("4".into()),
                Get,
            ],
        ),
        eio(
            "websocket-session",
            true,
            vec![
                WsFlush,
                text("4hi"),
                WsBinary(vec![9]),
                Advance(300),
                WsFlush,
                text("3"),
                SendText("x".into()),
                WsFlush,
                text("1"),
                WsFlush,
            ],
        ),
        eio(
            "websocket-errors",
            true,
            vec![WsFlush, text("abc"), text("4after")],
        ),
        eio(
            "websocket-closed",
            true,
            vec![WsFlush, WsClosed, SendText("late".into())],
        ),
        eio(
            "websocket-server-close",
            true,
            vec![SendText("bye".into()), Close, WsFlush],
        ),
    ]
}

fn sio(name: &'static str, steps: Vec<sio_script::Step>) -> (&'static str, Vec<u8>) {
    let mut out = Vec::new();
    sio_script::Script { steps }.encode(&mut out);
    (name, out)
}

/// socket.io-protocol v5: "Exchange protocol" (connection, events, acks,
/// binary, disconnection) and the "Sample session", over the handlers of
/// the target.
fn sio_seeds() -> Vec<(&'static str, Vec<u8>)> {
    use sio_script::Step::*;
    let open = |slot| Open { slot, capacity: 15 };
    let t = |slot, s: &str| Text {
        slot,
        text: s.to_owned(),
    };
    let bin = |slot, b: &[u8]| Binary {
        slot,
        bytes: b.to_vec(),
    };
    let read = |slot| Read { slot };
    vec![
        sio(
            "connect-main-and-admin",
            vec![
                open(0),
                t(0, "0"),
                t(0, "0/admin,{\"token\":\"123\"}"),
                read(0),
                t(0, "0/admin,{\"token\":\"deny\"}"),
                t(0, "0/nope,"),
                read(0),
            ],
        ),
        sio(
            "events-and-acks",
            vec![
                open(0),
                t(0, "0"),
                t(0, "2[\"echo\",\"hey\",\"Jude\"]"),
                t(0, "212[\"echo\",1]"),
                t(0, "2[\"ask\",\"tellme\"]"),
                read(0),
                t(0, "30[\"answer\"]"),
                read(0),
            ],
        ),
        sio(
            "binary-event-and-ack",
            vec![
                open(0),
                t(0, "0/admin,"),
                t(0, "51-/admin,[\"echo\",{\"_placeholder\":true,\"num\":0}]"),
                bin(0, &[1, 2, 3, 4]),
                t(
                    0,
                    "52-/admin,7[\"baz\",{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}]",
                ),
                bin(0, &[1, 2]),
                bin(0, &[3, 4]),
                t(0, "2/admin,[\"ask\",1]"),
                read(0),
                t(0, "61-/admin,0[{\"_placeholder\":true,\"num\":0}]"),
                bin(0, b"<binary>"),
                read(0),
            ],
        ),
        sio(
            "rooms-and-broadcasts",
            vec![
                open(0),
                open(1),
                t(0, "0"),
                t(1, "0"),
                t(0, "2[\"join\",\"a\"]"),
                t(1, "2[\"room\",\"hi\"]"),
                t(0, "2[\"others\",1]"),
                t(1, "2[\"askall\"]"),
                read(0),
                read(1),
                t(0, "30[]"),
                ServerEmit(0),
                ServerEmit(3),
                ServerEmit(9),
                ServerEmit(12),
                ServerEmit(15),
                read(0),
                read(1),
            ],
        ),
        sio(
            "slow-consumer-and-volatile",
            vec![
                Open {
                    slot: 0,
                    capacity: 2,
                },
                t(0, "0"),
                ServerEmit(6),
                t(0, "2[\"volatile\",1]"),
                t(0, "2[\"echo\",1]"),
                t(0, "2[\"echo\",2]"),
                read(0),
            ],
        ),
        sio(
            "volatile-binary-on-a-nearly-full-queue",
            vec![
                Open {
                    slot: 0,
                    capacity: 2,
                },
                t(0, "0"),
                ServerEmit(6),
                read(0),
                t(0, "2[\"echo\",1]"),
                read(0),
            ],
        ),
        sio(
            "connect-on-a-full-queue",
            vec![
                Open {
                    slot: 0,
                    capacity: 1,
                },
                t(0, "0"),
                t(0, "0/admin,"),
                read(0),
                t(0, "2/admin,[\"echo\",1]"),
                read(0),
            ],
        ),
        sio(
            "disconnects",
            vec![
                open(0),
                t(0, "0"),
                t(0, "0/dyn-1,"),
                t(0, "2/dyn-1,[\"bye\"]"),
                t(0, "1"),
                read(0),
                t(0, "0"),
                t(0, "2[\"close\"]"),
                EngineClosed { slot: 0 },
            ],
        ),
        sio(
            "timeouts",
            vec![
                open(0),
                Advance(2500),
                open(1),
                t(1, "0"),
                t(1, "2[\"ask\"]"),
                Deadline,
                Deadline,
                read(1),
                t(1, "30[]"),
            ],
        ),
        sio(
            "malformed",
            vec![
                open(0),
                t(0, "0"),
                t(0, "2[\"connect\"]"),
                open(1),
                t(1, "51-[\"a\"]"),
                t(1, "2[\"b\"]"),
                open(2),
                bin(2, &[1]),
                t(2, "4{}"),
            ],
        ),
    ]
}

fn client(
    name: &'static str,
    setup: u8,
    steps: Vec<client_script::Step>,
) -> (&'static str, Vec<u8>) {
    let mut out = Vec::new();
    client_script::Script { setup, steps }.encode(&mut out);
    (name, out)
}

/// The machine's scripts: namespaces 0 = `/`, 1 = `/a`, 2 = `/b`.
fn client_seeds() -> Vec<(&'static str, Vec<u8>)> {
    use client_script::Step::*;
    let t = |s: &str| Text(s.to_owned());
    vec![
        client(
            "connect-event-ack",
            0,
            vec![
                t("0"),
                Accept(0),
                t("2[\"hello\",1]"),
                t("25[\"ask\",{\"a\":[1,2]}]"),
                SendWithAck { ns: 0, ms: 500 },
                t("30[\"yes\"]"),
                SendWithAck { ns: 0, ms: 300 },
                Deadline,
                t("1"),
            ],
        ),
        client(
            "namespaces-refused-and-left",
            4,
            vec![
                t("0/a,{\"token\":\"x\"}"),
                t("0/b,"),
                t("0"),
                Accept(1),
                Refuse(2),
                Refuse(3),
                Send {
                    ns: 1,
                    volatile: true,
                },
                SendWithAck { ns: 1, ms: 0 },
                Disconnect(1),
                t("0/a,"),
                Accept(1),
                t("1/a,"),
            ],
        ),
        client(
            "binary-and-out-of-place",
            0,
            vec![
                t("0"),
                Accept(0),
                t("51-[\"file\",{\"_placeholder\":true,\"num\":0}]"),
                Binary(vec![1, 2, 3]),
                t("61-[{\"_placeholder\":true,\"num\":0}]"),
                Binary(vec![4]),
                t("0"),
            ],
        ),
        client(
            "connect-timeout-and-close",
            0,
            vec![Advance(45_000), Deadline, ConnectionClosed],
        ),
        client(
            "rate-limit-and-slow-consumer",
            2,
            vec![
                t("0"),
                Accept(0),
                t("2[\"e\"]"),
                t("2[\"e\"]"),
                t("2[\"e\"]"),
                t("0"),
                Accept(0),
                SendWithAck { ns: 0, ms: 100 },
                DropClient,
            ],
        ),
        client(
            "msgpack",
            1,
            vec![
                // {"type":0,"nsp":"/"}
                Binary(vec![
                    0x82, 0xa4, b't', b'y', b'p', b'e', 0x00, 0xa3, b'n', b's', b'p', 0xa1, b'/',
                ]),
                Accept(0),
                Send {
                    ns: 0,
                    volatile: false,
                },
                Close,
                ConnectionClosed,
            ],
        ),
    ]
}
