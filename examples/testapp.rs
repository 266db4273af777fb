//! The Socket.IO application the official-client tests run against.
//!
//! `CONFORMANCE_PORT=0 cargo run --example testapp` listens on 127.0.0.1
//! (printing `listening on 127.0.0.1:PORT`) and serves Socket.IO at
//! `/socket.io/` with pingInterval 300 ms, pingTimeout 200 ms (unless
//! `TESTAPP_PING_INTERVAL_MS` / `TESTAPP_PING_TIMEOUT_MS` say otherwise), connectTimeout
//! 1000 ms, CORS for any origin (or, when `TESTAPP_CORS_ORIGINS` lists
//! origins separated by commas, for those only). Its events exercise the
//! whole server API; the contract is written out in
//! `protocol-tests/node/README.md`, and
//! `protocol-tests/node/reference/socketio-testapp.mjs` is the same app on the
//! Node reference server. Caps and timeouts can be set from the environment
//! (`common/limits.rs`).

use std::time::Duration;

use serde_json::{Value, json};
use siobridge::engineio;
use siobridge::server::redis::RedisCluster;
use siobridge::server::{Cors, Server, ServerConfig, SocketIoHandler, shutdown_signal};
use siobridge::socketio::{self, AckSender, Args, ConnectError, Namespace, Socket, SocketIo};

#[path = "common/limits.rs"]
mod limits;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::var("CONFORMANCE_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    // Before the announcement: a SIGTERM right after it is a clean stop.
    let shutdown = shutdown_signal();
    println!("listening on {}", listener.local_addr()?);

    let (io, cluster) = limits::socket_io(limits::socketio_limits(
        socketio::Config::default().with_connect_timeout(Duration::from_millis(1000)),
    )?)?;
    register(&io);
    // In a cluster: the server-side listeners and the `cluster-*` events
    // of the Node test app.
    if let Some(cluster) = &cluster {
        register_cluster(&io, cluster);
    }
    let engine = limits::engine_limits(
        engineio::Config::default()
            .with_heartbeat(Duration::from_millis(300), Duration::from_millis(200)),
    )?;
    let config = limits::server_limits(
        ServerConfig::default()
            .with_engine(engine)
            .with_path("/socket.io/")
            .with_cors(cors_from_env()),
    )?;
    let mut server = Server::new(config, SocketIoHandler::new(io));
    // In a cluster: polling requests for another node's session are passed
    // to it (sticky sessions past the adapter, docs/cluster.md).
    if let Ok(url) = std::env::var("SIOBRIDGE_REDIS") {
        let mut redis = siobridge::server::redis::RedisConfig::new(url);
        if let Ok(prefix) = std::env::var("SIOBRIDGE_REDIS_PREFIX") {
            redis = redis.with_prefix(prefix);
        }
        server = server
            .with_redis_forward(&redis, Default::default())
            .map_err(std::io::Error::other)?;
    }
    server.serve(listener, shutdown).await
}

/// `TESTAPP_CORS_ORIGINS=http://a.example,http://b.example` allows those
/// origins only (the browser suite checks that others are refused); unset or
/// empty, any origin is allowed.
fn cors_from_env() -> Cors {
    let listed = std::env::var("TESTAPP_CORS_ORIGINS").unwrap_or_default();
    let origins: Vec<String> = listed
        .split(',')
        .map(str::trim)
        .filter(|origin| !origin.is_empty())
        .map(str::to_owned)
        .collect();
    if origins.is_empty() {
        Cors::AnyOrigin
    } else {
        Cors::Origins(origins)
    }
}

/// `welcome`, unless the CONNECT payload says `silent: true` (a client
/// that must receive no event, as connection state recovery's tests need).
fn welcome(socket: &Socket) {
    if socket.handshake().auth.get("silent") == Some(&json!(true)) {
        return;
    }
    socket.emit(
        "welcome",
        json!({ "id": socket.id(), "nsp": socket.namespace(), "auth": socket.handshake().auth }),
    );
}

/// `echo`: acknowledged with the same arguments, or sent back as `echo`.
fn echo(ns: &Namespace) {
    ns.on("echo", |socket, args, ack| match ack {
        Some(ack) => ack.send(args),
        None => socket.emit("echo", args),
    });
}

/// The first argument's string field `key`.
fn field<'a>(args: &'a Args, key: &str) -> &'a str {
    args.first()
        .and_then(|v| v[key].as_str())
        .unwrap_or_default()
}

/// The first argument's `data` field, with the attachments its binary
/// placeholders point at, so that binary data is relayed as binary.
fn data(args: &Args) -> Args {
    let value = args
        .first()
        .map(|v| v["data"].clone())
        .unwrap_or(Value::Null);
    Args::from_parts(vec![value], args.binary.clone())
}

fn done(ack: Option<AckSender>, args: impl Into<Args>) {
    if let Some(ack) = ack {
        ack.send(args);
    }
}

fn register(io: &SocketIo) {
    let main = io.namespace("/");
    main.on_connect(welcome);
    echo(&main);
    main.on("join", |socket, args, ack| {
        let room = args
            .first()
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        socket.join(&room);
        done(ack, Value::from(room));
    });
    main.on("leave", |socket, args, ack| {
        let room = args
            .first()
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        socket.leave(&room);
        done(ack, Value::from(room));
    });
    main.on("rooms", |socket, _args, ack| {
        done(ack, json!(socket.rooms()))
    });
    let io2 = io.clone();
    main.on("to-room", move |_socket, args, ack| {
        io2.of("/")
            .to(field(&args, "room"))
            .emit(field(&args, "event"), data(&args));
        done(ack, ());
    });
    main.on("to-room-from-me", |socket, args, ack| {
        socket
            .to(field(&args, "room"))
            .emit(field(&args, "event"), data(&args));
        done(ack, ());
    });
    main.on("broadcast", |socket, args, ack| {
        socket.broadcast().emit(field(&args, "event"), data(&args));
        done(ack, ());
    });
    let io2 = io.clone();
    main.on("to-all", move |_socket, args, ack| {
        io2.of("/").emit(field(&args, "event"), data(&args));
        done(ack, ());
    });
    let io2 = io.clone();
    main.on("except-room", move |_socket, args, ack| {
        io2.of("/")
            .except(field(&args, "room"))
            .emit(field(&args, "event"), data(&args));
        done(ack, ());
    });
    main.on("ask", |socket, args, ack| {
        let timeout = args
            .first()
            .and_then(|v| v["timeout"].as_u64())
            .unwrap_or(1000);
        socket.emit_with_ack(
            field(&args, "event"),
            data(&args),
            Duration::from_millis(timeout),
            move |result| {
                let answer = match result {
                    // The reply keeps its attachments: its placeholders still
                    // number into `reply.binary`, so binary stays binary.
                    Ok(reply) => Args::from_parts(
                        vec![json!({ "err": null, "reply": reply.first().cloned() })],
                        reply.binary,
                    ),
                    Err(e) => json!({ "err": e.to_string(), "reply": null }).into(),
                };
                done(ack, answer);
            },
        );
    });
    let io2 = io.clone();
    main.on("ask-all", move |_socket, args, ack| {
        let timeout = args
            .first()
            .and_then(|v| v["timeout"].as_u64())
            .unwrap_or(1000);
        io2.of("/").emit_with_ack(
            field(&args, "event"),
            data(&args),
            Duration::from_millis(timeout),
            move |result| {
                let (err, replies) = match result {
                    Ok(replies) => (Value::Null, replies),
                    Err((e, replies)) => (Value::from(e.to_string()), replies),
                };
                let mut replies: Vec<Value> = replies
                    .into_iter()
                    .filter_map(|r| r.first().cloned())
                    .collect();
                replies.sort_by_key(|v| v.to_string());
                done(ack, json!({ "err": err, "replies": replies }));
            },
        );
    });
    main.on("volatile", |socket, args, ack| {
        socket.volatile().emit(field(&args, "event"), data(&args));
        done(ack, ());
    });
    main.on("disconnect-me", |socket, _args, _ack| socket.disconnect());
    // siobridge only (the reference has no slow consumers): how many
    // clients were dropped as slow consumers, and disconnects by reason.
    let io2 = io.clone();
    main.on("server-stats", move |_socket, _args, ack| {
        let reasons: serde_json::Map<String, Value> = io2
            .disconnects_by_reason()
            .into_iter()
            .map(|(reason, n)| (reason, Value::from(n)))
            .collect();
        done(
            ack,
            json!({ "slowConsumers": io2.slow_consumers_dropped(), "disconnects": reasons }),
        );
    });
    main.on("close-transport", |socket, _args, _ack| {
        socket.close_connection()
    });
    // An async handler: it awaits a timer (a database call, say) without
    // holding up the events its client sends meanwhile.
    main.on_async("later", |_socket, args, ack| async move {
        let ms = args.first().and_then(|v| v["ms"].as_u64()).unwrap_or(0);
        tokio::time::sleep(Duration::from_millis(ms)).await;
        done(
            ack,
            args.first().map(|v| v["value"].clone()).unwrap_or_default(),
        );
    });
    // Typed arguments: `(item, quantity)`; arguments of other types get
    // `{error}` in the ack and never reach the handler.
    main.on_typed("order", |_socket, (item, quantity): (String, u32), ack| {
        done(ack, json!({ "item": item, "quantity": quantity }));
    });

    let custom = io.namespace("/custom");
    custom.on_connect(welcome);
    echo(&custom);

    let private = io.namespace("/private");
    private.use_middleware(|handshake| {
        if handshake.auth["token"] == "secret" {
            Ok(())
        } else {
            Err(ConnectError::new("unauthorized").with_data(json!({ "code": 401 })))
        }
    });
    private.on_connect(welcome);

    let dynamic = io.dynamic_namespace(|name| {
        name.strip_prefix("/dyn-")
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    });
    dynamic.on_connect(welcome);
    echo(&dynamic);
}

/// In a cluster (`SIOBRIDGE_REDIS`): `ping-servers` from another node's
/// `serverSideEmit` is answered with `{pong: <its first argument>}` and
/// `announce` is emitted to this node's clients as `announced`, and the
/// `cluster-*` events run the adapter's requests from this node through
/// the plain application API (`io.of("/").to(room).join(..)`,
/// `fetch_sockets`, `disconnect_sockets`, `io.server_side_emit`,
/// `on_server_side`; `ask-all` is `register`'s), answering `{err, value}`
/// as the Node test app does.
/// Only `serverCount` and `allRooms`, which the application API does not
/// have, ask the [`RedisCluster`] itself.
fn register_cluster(io: &SocketIo, cluster: &RedisCluster) {
    let main = io.namespace("/");
    main.on_server_side("ping-servers", |args| {
        Some(json!({ "pong": args.first() }).into())
    });
    let io2 = io.clone();
    main.on_server_side("announce", move |args| {
        io2.of("/").local().emit("announced", args);
        None
    });
    let reply = |ack: Option<AckSender>, result: Result<Value, String>| match result {
        Ok(value) => done(ack, json!({ "err": null, "value": value })),
        Err(err) => done(ack, json!({ "err": err, "value": null })),
    };
    // `io.in(room)`: the sockets in `room`, or every socket without one.
    let targets = |io: &SocketIo, args: &Args| match args.first().map(|v| &v["room"]) {
        Some(Value::String(room)) => io.of("/").to(room),
        _ => io.of("/"),
    };
    let c = cluster.clone();
    main.on_async("cluster-count", move |_socket, _args, ack| {
        let c = c.clone();
        async move {
            let count = c.server_count("/").await.map_err(|e| e.to_string());
            reply(ack, count.map(Value::from));
        }
    });
    let io2 = io.clone();
    main.on_async("cluster-fetch", move |_socket, args, ack| {
        let ops = targets(&io2, &args);
        async move {
            let value = ops
                .try_fetch_sockets()
                .await
                .map(|sockets| {
                    let mut sockets: Vec<Value> = sockets
                        .into_iter()
                        .map(|mut s| {
                            // Sorted, as the Node test app sorts them: a Node
                            // node gives them in the order they were joined.
                            s.rooms.sort();
                            json!({ "id": s.id, "rooms": s.rooms, "auth": s.handshake["auth"] })
                        })
                        .collect();
                    sockets.sort_by_key(|s| s["id"].to_string());
                    Value::from(sockets)
                })
                .map_err(|e| e.to_string());
            reply(ack, value);
        }
    });
    let c = cluster.clone();
    main.on_async("cluster-all-rooms", move |_socket, _args, ack| {
        let c = c.clone();
        async move {
            let rooms = c.all_rooms("/").await.map_err(|e| e.to_string());
            reply(ack, rooms.map(Value::from));
        }
    });
    for (event, leave, local) in [
        ("cluster-join", false, false),
        ("cluster-leave", true, false),
        ("cluster-join-local", false, true),
    ] {
        let io2 = io.clone();
        main.on(event, move |_socket, args, ack| {
            let mut ops = targets(&io2, &args);
            if local {
                ops = ops.local();
            }
            let target = field(&args, "target");
            if leave {
                ops.leave(target);
            } else {
                ops.join(target);
            }
            done(ack, ());
        });
    }
    let io2 = io.clone();
    main.on("cluster-disconnect", move |_socket, args, ack| {
        let close = args.first().is_some_and(|v| v["close"] == true);
        targets(&io2, &args).disconnect_sockets(close);
        done(ack, ());
    });
    let io2 = io.clone();
    main.on_async("cluster-server-side-emit", move |_socket, args, ack| {
        let io = io2.clone();
        async move {
            let event = field(&args, "event").to_owned();
            if args.first().is_some_and(|v| v["ack"] == false) {
                io.server_side_emit("/", &event, data(&args));
                return reply(ack, Ok(Value::Null));
            }
            let result = io.server_side_emit_with_ack("/", &event, data(&args)).await;
            let value = result
                .map(|mut replies| {
                    replies.sort_by_key(|r| r.to_string());
                    Value::from(replies)
                })
                .map_err(|e| e.to_string());
            reply(ack, value);
        }
    });
}
