//! The `siobridge` binary: the bridge profiles served over Socket.IO, with a
//! health check, metrics and the Directual HTTP API. Wiring only: the
//! command line is [`siobridge::cli`], the log [`siobridge::server::log`],
//! the metrics [`siobridge::server::ServerMetrics`], the protocol the rest
//! of the library.

use std::process::ExitCode;

use serde_json::json;
use siobridge::admin::{AdminConfig, EngineStats, UiFiles, instrument};
use siobridge::bridge::{ApiRequest, Bridge, HttpApi};
use siobridge::cli::{self, Admin, Command, DEFAULT_ADMIN_UI_DIR, Options, Refusal, USAGE};
use siobridge::server::log::{Level, Log, Logged, log_sockets};
use siobridge::server::redis::{RedisCluster, RedisEvent};
use siobridge::server::{
    FallbackFuture, HttpRequest, HttpResponse, Server, ServerMetrics, SocketIoHandler, Tls,
    shutdown_signal, socket_io,
};

fn json_response(status: u16, body: serde_json::Value) -> HttpResponse {
    HttpResponse {
        status,
        content_type: "application/json",
        body: body.to_string().into(),
    }
}

/// Everything outside /socket.io/: the HTTP API's answers may wait for the
/// shared store, the others are ready at once.
fn operations(
    request: HttpRequest<'_>,
    metrics: &ServerMetrics,
    api: &HttpApi,
    admin_ui: Option<&UiFiles>,
    redis: Option<&RedisCluster>,
) -> FallbackFuture {
    if request.method == "GET"
        && let Some(ui) = admin_ui
        && let Some(answer) = ui.answer("/admin/", request.path)
    {
        return Box::pin(std::future::ready(answer));
    }
    let answer = match (request.method, request.path) {
        // Local service goes on without Redis: still "ok", with the
        // adapter's state beside it.
        ("GET", "/healthz") => match redis {
            None => json_response(200, json!({"status": "ok"})),
            Some(cluster) => {
                let stats = cluster.stats();
                let state = if stats.publisher_up && stats.subscriber_up {
                    "connected"
                } else {
                    "reconnecting"
                };
                json_response(200, json!({"status": "ok", "redis": state}))
            }
        },
        ("GET", "/metrics") => metrics.response(),
        (method, path) if HttpApi::owns(path) => {
            let authorization = request
                .headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let (api, method, path) = (api.clone(), method.to_owned(), path.to_owned());
            let body = request.body.clone();
            return Box::pin(async move {
                let answer = api
                    .handle(ApiRequest {
                        method: &method,
                        path: &path,
                        authorization: authorization.as_deref(),
                        body: &body,
                    })
                    .await;
                json_response(answer.status, answer.body)
            });
        }
        _ => json_response(404, json!({"status": "ERR", "message": "not found"})),
    };
    Box::pin(std::future::ready(answer))
}

/// The admin UI's files, when `--admin` is given: read before the server
/// starts. A `--admin-ui-dir` that does not hold them is a bad flag; the
/// default folder missing is only a warning (`serve`).
fn load_admin_ui(admin: &Admin) -> Result<std::io::Result<UiFiles>, Refusal> {
    let dir = admin.ui_dir.as_deref().unwrap_or(DEFAULT_ADMIN_UI_DIR);
    match UiFiles::load(std::path::Path::new(dir)) {
        Err(e) if admin.ui_dir.is_some() => Err(format!("--admin-ui-dir {dir}: {e}")),
        loaded => Ok(loaded),
    }
}

async fn serve(
    options: Options,
    tls: Option<Tls>,
    log: Log,
    admin_ui: std::io::Result<UiFiles>,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(options.listen).await?;
    // Before the announcement: a SIGTERM right after it is a clean stop.
    let shutdown = shutdown_signal();
    // The first stdout line: tests and scripts read the port from it.
    println!("listening on {}", listener.local_addr()?);

    let cluster = match &options.redis {
        None => None,
        Some(config) => {
            let cluster = siobridge::server::redis::RedisCluster::start(config.clone())
                .map_err(std::io::Error::other)?;
            log.at(Level::Info, "redis", || {
                format!(
                    "joining the Redis cluster with key prefix {:?}",
                    config.prefix
                )
            });
            cluster.on_state_change(move |event| match event {
                RedisEvent::Up(connection) => log.at(Level::Info, "redis", || {
                    format!("Redis {connection} connection up")
                }),
                RedisEvent::Down(connection, why) => log.at(Level::Warn, "redis", || {
                    format!("Redis {connection} connection down ({why}); retrying, local service goes on")
                }),
            });
            Some(cluster)
        }
    };
    let io = match &cluster {
        None => socket_io(options.socketio_config()),
        Some(cluster) => cluster.socket_io(options.socketio_config()),
    };
    let store = match &options.redis {
        None => None,
        Some(config) => Some(std::sync::Arc::new(
            siobridge::server::redis_store::RedisStore::new(config, Default::default())
                .map_err(std::io::Error::other)?,
        )),
    };
    let mut bridge = match &store {
        None => Bridge::new(&io),
        Some(store) => Bridge::with_store(&io, store.clone()),
    };
    for (namespace, profile) in &options.profiles {
        bridge.mount(namespace, *profile);
        if let Some(cluster) = &cluster {
            cluster.subscribe(namespace);
        }
        log.event(Level::Info, "mount", || {
            (
                format!("serving {profile} on namespace {namespace}"),
                vec![
                    ("namespace", namespace.clone()),
                    ("profile", profile.name().to_owned()),
                ],
            )
        });
    }
    log_sockets(&io, log);
    let api = bridge.http_api(options.api_token.clone());
    if bridge.serves_http_api() {
        let guard = if options.api_token.is_some() {
            "bearer token required"
        } else {
            "no token: loopback only"
        };
        log.at(Level::Info, "http_api", || {
            format!("HTTP API at /api/v1/sessions and /api/v1/push ({guard})")
        });
    }

    let mut config = options.server_config();
    if !options.trust_proxy.is_empty() {
        log.at(Level::Info, "trust_proxy", || {
            "client addresses from X-Forwarded-For / Forwarded of trusted proxies".into()
        });
    }
    if let Some(tls) = tls {
        log.at(Level::Info, "tls", || "serving HTTPS and WSS".into());
        config.tls = Some(tls);
    }
    let server = Server::new(config, Logged::new(SocketIoHandler::new(io.clone()), log));
    // With --redis, a polling request for another node's session is passed
    // to it (docs/cluster.md, "Sticky sessions"): round-robin balancers work.
    let server = match &options.redis {
        None => server,
        Some(redis) => server
            .with_redis_forward(redis, Default::default())
            .map_err(std::io::Error::other)?,
    };
    let mut metrics = ServerMetrics::new(&server).with_socket_io(&io);
    if let Some(cluster) = &cluster {
        metrics = metrics.with_redis(cluster);
    }
    for (namespace, profile) in bridge.mounts() {
        metrics = metrics.with_namespace(namespace, &[("profile", profile.name())]);
    }
    let admin_ui = match &options.admin {
        None => None,
        Some(admin) => {
            let mut config = AdminConfig::new(&admin.username, &admin.password);
            config.namespaces = bridge.mounts().iter().map(|(ns, _)| ns.clone()).collect();
            let observed = server.clone();
            instrument(&io, config, move || {
                let stats = observed.stats();
                let (polling, _) = observed.sessions_by_transport();
                EngineStats {
                    clients: observed.session_count(),
                    polling_clients: polling,
                    packets_in: stats.packets_in,
                    packets_out: stats.packets_out,
                    bytes_in: stats.bytes_in,
                    bytes_out: stats.bytes_out,
                    connections: stats.sessions_opened,
                    disconnections: stats.sessions_closed,
                }
            });
            let dir = admin.ui_dir.as_deref().unwrap_or(DEFAULT_ADMIN_UI_DIR);
            match admin_ui {
                Ok(files) => {
                    log.at(Level::Info, "admin_ui", || {
                        format!("admin UI at /admin/ (files from {dir}), namespace /admin")
                    });
                    Some(files)
                }
                Err(e) => {
                    log.at(Level::Warn, "admin_ui", || {
                        format!(
                            "admin namespace /admin served, but not the UI's page: {dir}: {e} \
                             (run scripts/admin-ui, or pass --admin-ui-dir)"
                        )
                    });
                    None
                }
            }
        }
    };
    let server = server.with_async_fallback(move |request| {
        operations(request, &metrics, &api, admin_ui.as_ref(), cluster.as_ref())
    });
    let result = server.serve(listener, shutdown).await;
    // The leaves of the sockets that just went, to Redis before exiting.
    if let Some(store) = &store {
        store.drain().await;
    }
    log.at(Level::Info, "stopped", || "stopped".into());
    result
}

fn main() -> ExitCode {
    let options = match cli::from_env(std::env::args().skip(1)) {
        Ok(Command::Serve(options)) => *options,
        Ok(Command::Help) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Ok(Command::Conform(args)) => return siobridge::conform::main(args),
        Err(refusal) => {
            eprintln!("siobridge: {refusal}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let log = options.log();
    // A certificate that cannot be used is a mistake of the command line:
    // said before anything starts, with status 2.
    let tls = match &options.tls {
        None => None,
        Some((cert, key)) => match Tls::from_pem_files(cert, key) {
            Ok(tls) => Some(tls),
            Err(e) => {
                eprintln!("siobridge: {e}");
                return ExitCode::from(2);
            }
        },
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("siobridge: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let admin_ui = match options.admin.as_ref().map(load_admin_ui) {
        Some(Err(refusal)) => {
            eprintln!("siobridge: {refusal}");
            return ExitCode::from(2);
        }
        Some(Ok(loaded)) => loaded,
        None => Err(std::io::Error::other("no --admin")),
    };
    match runtime.block_on(serve(options, tls, log, admin_ui)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log.at(Level::Error, "error", || e.to_string());
            ExitCode::FAILURE
        }
    }
}
