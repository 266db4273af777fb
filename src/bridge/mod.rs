//! The bridge: routing profiles mounted on Socket.IO namespaces.
//!
//! Each profile is plain routing code over the Socket.IO API
//! ([`crate::socketio`]): event handlers that keep a little state and emit to
//! sockets and rooms. Nothing here touches a socket, a task or the clock, so
//! every rule is unit-tested with [`crate::socketio::testing`].
//!
//! The profiles are specified event by event in the project's
//! `spec/bridge-profiles.md`; each module cites its sections:
//!
//! | profile | module | spec |
//! |---|---|---|
//! | `digital-auto` | [`digital_auto`] | §1, the digital.auto provider bridge |
//! | `hubtel` | [`hubtel`] | §2, Hubtel Realtime channels and rooms |
//! | `directual` | [`directual`] | §3, Directual pushes, triggered over HTTP |
//! | `chat` | [`chat`] | §4, Flask-SocketIO chat rooms |
//!
//! Rules common to every profile (spec §0.2): an inbound event is handled
//! with its first argument only, unknown events are ignored, every outbound
//! event carries one argument, and a namespace with no profile mounted
//! answers CONNECT with CONNECT_ERROR `{"message":"Invalid namespace"}`
//! (the Socket.IO server does that for any namespace nobody registered).
//!
//! ```
//! use siobridge::bridge::{Bridge, Profile};
//! use siobridge::socketio::testing::{ManualClock, TestClient};
//! use siobridge::socketio::{Config, SocketIo};
//!
//! let io = SocketIo::new(Config::default(), ManualClock::new().clock());
//! let mut bridge = Bridge::new(&io);
//! bridge.mount("/", Profile::DigitalAuto);
//! bridge.mount("/chat", Profile::Chat);
//!
//! let client = TestClient::open(&io);
//! assert!(client.connect("/chat", None).is_ok());
//! let refused = client.connect("/other", None).unwrap_err();
//! assert_eq!(refused["message"], "Invalid namespace");
//! ```

use std::fmt;
use std::str::FromStr;

use serde_json::{Map, Value};

use crate::socketio::{AckSender, Args, SocketIo};

pub mod chat;
pub mod digital_auto;
pub mod directual;
pub mod http_api;
pub mod hubtel;
#[cfg(test)]
mod recovery_tests;
pub mod store;

pub use http_api::{ApiRequest, ApiResponse, HttpApi};

/// The routing profiles a namespace can serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Profile {
    /// `digital-auto`: the digital.auto provider/client bridge (spec §1).
    DigitalAuto,
    /// `hubtel`: Hubtel-style channels and rooms with presence (spec §2).
    Hubtel,
    /// `directual`: Directual-style pushes to one user or all, over HTTP
    /// (spec §3).
    Directual,
    /// `chat`: Flask-SocketIO tutorial chat rooms (spec §4).
    Chat,
}

impl Profile {
    /// Every profile, in the order `--help` lists them.
    pub const ALL: [Profile; 4] = [
        Profile::DigitalAuto,
        Profile::Hubtel,
        Profile::Directual,
        Profile::Chat,
    ];

    /// The name used on the command line and in metrics.
    pub fn name(self) -> &'static str {
        match self {
            Profile::DigitalAuto => "digital-auto",
            Profile::Hubtel => "hubtel",
            Profile::Directual => "directual",
            Profile::Chat => "chat",
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A profile name that is not one of [`Profile::ALL`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownProfile(pub String);

impl fmt::Display for UnknownProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = Profile::ALL.iter().map(|p| p.name()).collect();
        write!(
            f,
            "unknown profile {:?} (expected one of {})",
            self.0,
            names.join(", ")
        )
    }
}

impl std::error::Error for UnknownProfile {}

impl FromStr for Profile {
    type Err = UnknownProfile;

    fn from_str(s: &str) -> Result<Profile, UnknownProfile> {
        Profile::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| UnknownProfile(s.to_owned()))
    }
}

/// The profiles mounted on one Socket.IO server, and the state they share
/// (the Directual sessions and the HTTP API that feeds them).
#[derive(Debug)]
pub struct Bridge {
    io: SocketIo,
    mounts: Vec<(String, Profile)>,
    directual: directual::Directual,
    store: std::sync::Arc<dyn store::BridgeStore>,
}

impl Bridge {
    /// A bridge over `io` with nothing mounted yet.
    pub fn new(io: &SocketIo) -> Bridge {
        Bridge::with_store(io, std::sync::Arc::new(store::InMemoryStore::new()))
    }

    /// A bridge over `io` keeping the profiles' state in `store` (chat's
    /// histories, spec §4 D-e5; hubtel's presence counts, §2 B-e7 and
    /// B-r6; digital-auto's registry, §1 A-e1; Directual's sessions, §3
    /// C-h1); mount after this.
    pub fn with_store(io: &SocketIo, store: std::sync::Arc<dyn store::BridgeStore>) -> Bridge {
        Bridge {
            io: io.clone(),
            mounts: Vec::new(),
            directual: directual::Directual::with_store(io, store.clone()),
            store,
        }
    }

    /// Serves `profile` on `namespace` (spec §0.2 rule 10). Mount each
    /// namespace once, before clients connect.
    pub fn mount(&mut self, namespace: &str, profile: Profile) {
        match profile {
            Profile::DigitalAuto => {
                digital_auto::mount_with_store(&self.io, namespace, self.store.clone())
            }
            Profile::Hubtel => hubtel::mount_with_store(&self.io, namespace, self.store.clone()),
            Profile::Directual => self.directual.mount(namespace),
            Profile::Chat => chat::mount_with_store(
                &self.io,
                namespace,
                chat::ChatConfig::default(),
                self.store.clone(),
            ),
        }
        self.mounts.push((namespace.to_owned(), profile));
    }

    /// What is mounted where, in mount order.
    pub fn mounts(&self) -> &[(String, Profile)] {
        &self.mounts
    }

    /// Whether a Directual profile is mounted (and so the HTTP API served).
    pub fn serves_http_api(&self) -> bool {
        self.mounts.iter().any(|(_, p)| *p == Profile::Directual)
    }

    /// The HTTP API (spec §3.2), requiring `Authorization: Bearer <token>`
    /// when `token` is set.
    pub fn http_api(&self, token: Option<String>) -> HttpApi {
        HttpApi::new(self.directual.clone(), self.serves_http_api(), token)
    }
}

// ----- helpers shared by the profiles ------------------------------------------

/// The first argument of an event, when it is a JSON object (spec §0.2 rule
/// 5: only the first argument counts).
fn first_object(args: &Args) -> Option<&Map<String, Value>> {
    args.first()?.as_object()
}

/// `value` when it is a non-empty string.
fn non_empty_str(value: Option<&Value>) -> Option<&str> {
    value?.as_str().filter(|s| !s.is_empty())
}

/// JavaScript truthiness: everything but `undefined`, `null`, `false`, `0`,
/// `NaN` and `""` (spec §1.3 R-A1 uses it for `cmd`).
fn truthy(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(_) | Value::Object(_)) => true,
    }
}

/// Acknowledges a handled event with no arguments when the client asked
/// (spec §0.2 rule 9: allowed, never required).
fn ack(ack: Option<AckSender>) {
    if let Some(ack) = ack {
        ack.send(());
    }
}

/// The names Socket.IO reserves for its own events: no application event may
/// use them (socket.io's `RESERVED_EVENTS`).
const RESERVED_EVENTS: [&str; 6] = [
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
];

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn profile_names_round_trip() {
        for profile in Profile::ALL {
            assert_eq!(profile.name().parse::<Profile>(), Ok(profile));
        }
        let err = "digital_auto".parse::<Profile>().unwrap_err();
        assert!(
            err.to_string()
                .contains("digital-auto, hubtel, directual, chat")
        );
    }

    #[test]
    fn truthiness_follows_javascript() {
        for falsy in [json!(null), json!(false), json!(0), json!(0.0), json!("")] {
            assert!(!truthy(Some(&falsy)), "{falsy}");
        }
        assert!(!truthy(None));
        for value in [
            json!(true),
            json!(1),
            json!(-0.5),
            json!("0"),
            json!([]),
            json!({}),
        ] {
            assert!(truthy(Some(&value)), "{value}");
        }
    }
}
