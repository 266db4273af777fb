//! The `siobridge` binary: wiring only.
//!
//! Until the Socket.IO server and the bridge profiles land, it serves a plain
//! Engine.IO echo at `/engine.io/` with the reference server's defaults.

use std::net::SocketAddr;
use std::process::ExitCode;

use siobridge::engineio::Data;
use siobridge::server::{Cors, EngineSocket, Handler, Server, ServerConfig, shutdown_signal};

const USAGE: &str = "\
usage: siobridge [--listen ADDR]
       siobridge conform URL   check the server at URL against the protocol specs

  --listen ADDR   address to listen on (default 127.0.0.1:3000; env SIOBRIDGE_LISTEN)
  -h, --help      print this help
";

struct Echo;

impl Handler for Echo {
    fn on_message(&self, socket: &EngineSocket, data: Data) {
        let _ = socket.send(data);
    }
}

fn parse_args() -> Result<SocketAddr, String> {
    let mut listen = std::env::var("SIOBRIDGE_LISTEN").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => listen = args.next().ok_or("--listen needs an address")?,
            "-h" | "--help" => {
                print!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    listen
        .parse()
        .map_err(|_| format!("--listen: {listen:?} is not an address like 127.0.0.1:3000"))
}

fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some("conform") {
        return siobridge::conform::main(std::env::args().skip(2));
    }
    let addr = match parse_args() {
        Ok(addr) => addr,
        Err(message) => {
            eprintln!("siobridge: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("siobridge: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        println!("listening on {}", listener.local_addr()?);
        let config = ServerConfig::default().with_cors(Cors::AnyOrigin);
        Server::new(config, Echo)
            .serve(listener, shutdown_signal())
            .await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("siobridge: {e}");
            ExitCode::FAILURE
        }
    }
}
