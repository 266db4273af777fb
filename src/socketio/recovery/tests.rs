//! The recovery log on a virtual clock: replay order and rooms, the window,
//! the limits, the offsets it trusts.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::*;
use crate::engineio::Data;
use crate::socketio::config::Parser;
use crate::socketio::encode::event_packet;
use crate::socketio::{Args, BroadcastOptions};

const SEC: Duration = Duration::from_secs(1);
const NS: Duration = Duration::from_nanos(1);

fn log(config: RecoveryConfig) -> Recovery<u32> {
    Recovery::new(config, "t-")
}

fn to(rooms: &[&str], except: &[&str]) -> BroadcastOptions {
    BroadcastOptions {
        rooms: rooms.iter().map(|r| r.to_string()).collect(),
        except: except.iter().map(|r| r.to_string()).collect(),
    }
}

/// Logs event `name` to `options`; returns its offset.
fn send(log: &mut Recovery<u32>, now: Instant, name: &str, options: BroadcastOptions) -> String {
    let mut offset = String::new();
    log.record(now, options, |o| {
        offset = o.to_owned();
        let args = Args::from(vec![Value::from(o)]);
        Encoded::new(Parser::Json, &event_packet("/", name, args, None))
    });
    offset
}

/// The event names of packets, in order.
fn names(packets: &[Encoded]) -> Vec<String> {
    packets
        .iter()
        .map(|p| match &p.messages()[0] {
            Data::Text(text) => {
                let value: Value = serde_json::from_str(&text.as_str()[1..]).unwrap();
                value[0].as_str().unwrap().to_owned()
            }
            other => panic!("text expected, got {other:?}"),
        })
        .collect()
}

fn session(id: &str, rooms: &[&str]) -> Session<u32> {
    Session {
        id: Arc::from(id),
        rooms: rooms.iter().map(|r| r.to_string()).collect(),
        data: 7,
    }
}

#[test]
fn a_session_gets_what_reached_its_rooms_after_its_offset_in_order() {
    let t0 = Instant::now();
    let mut log = log(RecoveryConfig::default());
    log.connected("pid-a", Arc::from("a"));
    let seen = send(&mut log, t0, "seen", to(&[], &[]));
    log.left(t0 + SEC, "pid-a", session("a", &["a", "r1"]));
    send(&mut log, t0 + SEC, "all", to(&[], &[]));
    send(&mut log, t0 + SEC, "direct", to(&["a"], &[]));
    send(&mut log, t0 + SEC, "r1", to(&["r1", "r2"], &[]));
    send(&mut log, t0 + SEC, "r2-only", to(&["r2"], &[]));
    send(&mut log, t0 + SEC, "except-r1", to(&[], &["r1"]));
    send(&mut log, t0 + SEC, "broadcast-from-a", to(&[], &["a"]));
    send(&mut log, t0 + SEC, "other-socket", to(&["b"], &[]));
    let restored = log.restore(t0 + 2 * SEC, "pid-a", Some(&seen)).unwrap();
    assert_eq!(restored.session, session("a", &["a", "r1"]));
    assert_eq!(names(&restored.missed), ["all", "direct", "r1"]);
    // Forgotten once restored: the recovered socket connects anew.
    assert!(log.restore(t0 + 2 * SEC, "pid-a", Some(&seen)).is_none());
}

#[test]
fn a_client_that_received_nothing_recovers_from_its_connect_point() {
    let t0 = Instant::now();
    let mut log = log(RecoveryConfig::default());
    send(&mut log, t0, "before", to(&[], &[]));
    log.connected("p", Arc::from("a"));
    send(&mut log, t0, "after", to(&[], &[]));
    log.left(t0, "p", session("a", &["a"]));
    let restored = log.restore(t0, "p", None).unwrap();
    assert_eq!(names(&restored.missed), ["after"]);
}

#[test]
fn every_blip_recovers_and_never_replays_twice() {
    let t0 = Instant::now();
    let mut log = log(RecoveryConfig::default());
    log.connected("p", Arc::from("a"));
    let last = send(&mut log, t0, "one", to(&[], &[]));
    log.left(t0, "p", session("a", &["a"]));
    send(&mut log, t0, "to-x", to(&["x"], &[]));
    send(&mut log, t0, "two", to(&[], &[]));
    let restored = log.restore(t0, "p", Some(&last)).unwrap();
    assert_eq!(names(&restored.missed), ["two"]);
    // Recovered, it joins x; the client's last offset is that of "two",
    // but even an older one replays nothing from before the recovery.
    log.connected("p", Arc::from("a"));
    log.left(t0 + SEC, "p", session("a", &["a", "x"]));
    let again = log.restore(t0 + SEC, "p", Some(&last)).unwrap();
    assert!(names(&again.missed).is_empty());
}

#[test]
fn the_window_is_inclusive_and_expired_entries_are_reclaimed() {
    let t0 = Instant::now();
    let window = 10 * SEC;
    let mut log = log(RecoveryConfig::with_window(window));
    log.connected("p", Arc::from("a"));
    log.connected("q", Arc::from("b"));
    let offset = send(&mut log, t0, "e", to(&[], &[]));
    log.left(t0, "p", session("a", &["a"]));
    log.left(t0 + SEC, "q", session("b", &["b"]));
    assert_eq!(log.poll_timeout(), Some(t0 + window + NS));
    assert!(log.restore(t0 + window, "p", Some(&offset)).is_some());
    // One tick past its window, q's session is expired.
    assert!(
        log.restore(t0 + SEC + window + Duration::from_millis(1), "q", None)
            .is_none()
    );
    log.connected("r", Arc::from("c"));
    log.left(t0 + 2 * SEC, "r", session("c", &["c"]));
    log.handle_timeout(t0 + window);
    assert_eq!((log.packets(), log.sessions_kept()), (1, 1));
    log.handle_timeout(t0 + window + Duration::from_millis(1));
    assert_eq!((log.packets(), log.bytes()), (0, 0));
    assert_eq!(log.poll_timeout(), Some(t0 + 2 * SEC + window + NS));
    log.handle_timeout(t0 + 2 * SEC + window + Duration::from_millis(1));
    assert_eq!((log.sessions_kept(), log.poll_timeout()), (0, None));
}

#[test]
fn a_session_whose_missed_packets_fell_out_of_the_log_is_not_recovered() {
    let t0 = Instant::now();
    let config = RecoveryConfig {
        max_packets: 2,
        ..RecoveryConfig::default()
    };
    let mut log = log(config);
    log.connected("p", Arc::from("a"));
    log.connected("q", Arc::from("b"));
    let offset = send(&mut log, t0, "one", to(&[], &[]));
    log.left(t0, "p", session("a", &["a"]));
    send(&mut log, t0, "two", to(&[], &[]));
    send(&mut log, t0, "three", to(&[], &[]));
    let q_offset = send(&mut log, t0, "four", to(&[], &[]));
    assert_eq!(log.packets(), 2);
    // p missed "two", which is gone: an ordinary new connection.
    assert!(log.restore(t0, "p", Some(&offset)).is_none());
    // q had "four": nothing it missed is gone.
    log.left(t0, "q", session("b", &["b"]));
    let restored = log.restore(t0, "q", Some(&q_offset)).unwrap();
    assert!(restored.missed.is_empty());
}

#[test]
fn the_byte_limit_drops_the_oldest_packets() {
    let t0 = Instant::now();
    let mut log = log(RecoveryConfig::default());
    send(&mut log, t0, "x", to(&[], &[]));
    let one = log.bytes();
    let mut log = Recovery::<u32>::new(
        RecoveryConfig {
            max_bytes: 2 * one,
            ..RecoveryConfig::default()
        },
        "t-",
    );
    for _ in 0..5 {
        send(&mut log, t0, "x", to(&[], &[]));
    }
    assert_eq!((log.packets(), log.bytes()), (2, 2 * one));
}

#[test]
fn the_oldest_session_goes_past_the_session_limit() {
    let t0 = Instant::now();
    let config = RecoveryConfig {
        max_sessions: 2,
        ..RecoveryConfig::default()
    };
    let mut log = log(config);
    for (i, pid) in ["p1", "p2", "p3"].into_iter().enumerate() {
        log.connected(pid, Arc::from(pid));
        log.left(t0 + i as u32 * SEC, pid, session(pid, &[pid]));
    }
    assert_eq!(log.sessions_kept(), 2);
    assert!(log.restore(t0 + 3 * SEC, "p1", None).is_none());
    assert!(log.restore(t0 + 3 * SEC, "p3", None).is_some());
}

#[test]
fn offsets_not_made_here_are_not_trusted() {
    let t0 = Instant::now();
    let mut log = log(RecoveryConfig::default());
    for offset in ["1", "t-99", "t-x", "", "hello"] {
        log.connected("p", Arc::from("a"));
        send(&mut log, t0, "e", to(&[], &[]));
        log.left(t0, "p", session("a", &["a"]));
        assert!(log.restore(t0, "p", Some(offset)).is_none(), "{offset}");
    }
    assert!(log.restore(t0, "unknown", None).is_none());
    // A socket that left for good keeps nothing.
    log.connected("p", Arc::from("a"));
    log.forget("p");
    log.left(t0, "p", session("a", &["a"]));
    assert_eq!(log.sessions_kept(), 0);
    assert_eq!(log.live_socket("p"), None);
}

#[test]
fn only_the_reference_reasons_keep_a_session() {
    for reason in [
        "transport error",
        "transport close",
        "forced close",
        "ping timeout",
        "server shutting down",
        "forced server close",
    ] {
        assert!(is_recoverable(reason), "{reason}");
    }
    for reason in [
        "client namespace disconnect",
        "server namespace disconnect",
        "parse error",
        "slow consumer",
        "rate limited",
    ] {
        assert!(!is_recoverable(reason), "{reason}");
    }
}
