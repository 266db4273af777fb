//! The bridge profiles' state in Redis ([`BridgeStore`]), shared by every
//! siobridge node started with the same `--redis` and `--redis-prefix`:
//!
//! - Chat's room histories (spec §4, D-e5): one Redis list per room, key
//!   `<prefix>#bridge#chat#<namespace>#<room>`, appended with `RPUSH`,
//!   bounded with `LTRIM` to `max_history`, read with `LRANGE`, and given
//!   an expiry ([`RedisStoreConfig::history_ttl`]) so that rooms nobody
//!   uses any more leave Redis.
//! - Hubtel's presence (§2, B-e7, B-r6): a set of member socket ids per
//!   channel, `<prefix>#bridge#hubtel#<namespace>#channel#<channel>`, and
//!   per room, `...#room#<room key>`; a hash socket id → how many channels
//!   it is in, `...#online`, whose `HLEN` is `total`. Each change is one
//!   `EVAL` (the change and the counts after it, atomically).
//! - Digital-auto's registry (§1, A-e1, R-A2): a hash provider id →
//!   holder socket id, `<prefix>#bridge#digital-auto#<namespace>#providers`:
//!   `HSET` to register, `HMGET` to route, and on disconnect an `EVAL`
//!   that deletes an id only while it still names the socket.
//! - Directual's sessions (§3, C-h1, C-s1): a hash session id → `{app_id,
//!   user_id}`, `<prefix>#bridge#directual#sessions`, written by an `EVAL`
//!   that refuses a new id past the session bound, read with `HGET`.
//!
//! The commands go over a connection of their own
//! (not the adapter's publishing or subscribing ones), opened on first use
//! and again after a failure; every wait is bounded by
//! [`RedisStoreConfig::command_timeout`], so when Redis is down the one
//! event fails with a log line and no handler hangs: a chat message is
//! dropped, hubtel counts with this node's members only, a digital-auto
//! registration, request or broadcast is dropped, a directual session is
//! not created (503) and an unseen one cannot connect.
//!
//! A node that dies without its sockets' leaves (a crash, a kill) leaves
//! them in the presence sets and the registry: they stay counted, and
//! their provider ids route to a room nobody is in (dropped, as an
//! unknown id) until another socket registers the id.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::redis::{Endpoint, RedisConfig, parse_url};
use crate::bridge::store::{BridgeStore, Counts, StoreError, StoreFuture, Turn, Turns};
use crate::cluster::resp::{self, Reply, RespLimits};

/// Settings of the Redis-backed store.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RedisStoreConfig {
    /// Longest wait for a connection or for one command's reply. Default
    /// **5 s**, as [`RedisConfig::command_timeout`].
    pub command_timeout: Duration,
    /// How long a chat history lives after its last message. Default **24
    /// h** (the in-memory store forgets a room with its last member; across
    /// nodes no node knows that, so Redis forgets it instead).
    pub history_ttl: Duration,
    /// Bounds on what is read from Redis.
    pub resp: RespLimits,
}

impl Default for RedisStoreConfig {
    fn default() -> Self {
        RedisStoreConfig {
            command_timeout: Duration::from_secs(5),
            history_ttl: Duration::from_secs(24 * 3600),
            resp: RespLimits::default(),
        }
    }
}

/// The bridge store in Redis.
#[derive(Debug)]
pub struct RedisStore {
    endpoint: Endpoint,
    prefix: String,
    config: RedisStoreConfig,
    conn: tokio::sync::Mutex<Option<(TcpStream, BytesMut)>>,
    /// The order commands go out in: the order their calls were made (a
    /// profile calls the store in its events' order, before it awaits).
    turns: Arc<Turns>,
    /// The turns taken before the last failure: they waited behind it, so
    /// they fail at once instead of waiting a command timeout each.
    failed_before: std::sync::atomic::AtomicU64,
}

impl RedisStore {
    /// A store on the Redis of `redis` (its URL and key prefix); connects
    /// on first use.
    pub fn new(redis: &RedisConfig, config: RedisStoreConfig) -> Result<RedisStore, String> {
        Ok(RedisStore {
            endpoint: parse_url(&redis.url)?,
            prefix: redis.prefix.clone(),
            config: RedisStoreConfig {
                command_timeout: redis.command_timeout,
                ..config
            },
            conn: tokio::sync::Mutex::new(None),
            turns: Arc::default(),
            failed_before: std::sync::atomic::AtomicU64::new(0),
        })
    }

    fn history_key(&self, key: &str) -> String {
        format!("{}#bridge#chat#{key}", self.prefix)
    }

    /// Waits until every call made so far has been answered (or failed),
    /// at most the command timeout: what a stopping node does after its
    /// sockets have left, so that their leaves (hubtel's presence,
    /// digital-auto's releases) reach Redis before the process ends.
    pub async fn drain(&self) {
        let turn = self.turns.take();
        let _ = tokio::time::timeout(self.config.command_timeout, turn.wait()).await;
    }

    fn hubtel_key(&self, namespace: &str, what: &str) -> String {
        format!("{}#bridge#hubtel#{namespace}#{what}", self.prefix)
    }

    /// Directual's sessions (spec §3, C-h1): one hash, session id → `{app_id,
    /// user_id}` as JSON, for every node of the cluster.
    fn sessions_key(&self) -> String {
        format!("{}#bridge#directual#sessions", self.prefix)
    }

    fn providers_key(&self, namespace: &str) -> String {
        format!("{}#bridge#digital-auto#{namespace}#providers", self.prefix)
    }

    /// Runs one `EVAL` of `script` and answers its reply.
    async fn eval(
        &self,
        turn: Turn,
        script: &str,
        keys: &[&str],
        args: &[&str],
        consequence: &str,
    ) -> Result<Reply, StoreError> {
        let command = eval_command(script, keys, args);
        let reply = self.run_in(turn, &[command], consequence).await?.pop();
        match reply {
            Some(Reply::Error(e)) => Err(self.failed(&e, consequence)),
            Some(reply) => Ok(reply),
            None => Err(StoreError("no reply".into())),
        }
    }

    fn failed(&self, why: &str, consequence: &str) -> StoreError {
        eprintln!("siobridge: bridge store: {why}; {consequence}");
        StoreError(why.to_owned())
    }

    async fn counts(
        &self,
        turn: Turn,
        script: &str,
        keys: &[&str],
        socket: &str,
    ) -> Result<Counts, StoreError> {
        const LOCAL: &str = "online-users counts this node's members only";
        match self.eval(turn, script, keys, &[socket], LOCAL).await? {
            Reply::Array(Some(items)) => match items.as_slice() {
                [Reply::Integer(count), Reply::Integer(total)] => Ok(Counts {
                    count: (*count).max(0) as usize,
                    total: (*total).max(0) as usize,
                }),
                _ => Err(self.failed(&format!("unexpected counts {items:?}"), LOCAL)),
            },
            other => Err(self.failed(&format!("unexpected counts {other:?}"), LOCAL)),
        }
    }

    /// Sends `commands` in one write and reads their replies, in order,
    /// reconnecting first when needed; any failure drops the connection.
    async fn run(
        &self,
        commands: &[Vec<Vec<u8>>],
        consequence: &str,
    ) -> Result<Vec<Reply>, StoreError> {
        self.run_in(self.turns.take(), commands, consequence).await
    }

    /// [`run`](Self::run) in `turn`: after every call made before it.
    async fn run_in(
        &self,
        turn: Turn,
        commands: &[Vec<Vec<u8>>],
        consequence: &str,
    ) -> Result<Vec<Reply>, StoreError> {
        turn.wait().await;
        if turn.number()
            < self
                .failed_before
                .load(std::sync::atomic::Ordering::Acquire)
        {
            let why = "redis failed while this call waited";
            return Err(self.failed(why, consequence));
        }
        let mut conn = self.conn.lock().await;
        let answer = tokio::time::timeout(self.config.command_timeout, async {
            if conn.is_none() {
                *conn = Some(self.connect().await?);
            }
            let (stream, buf) = conn.as_mut().expect("connected above");
            let mut out = Vec::new();
            for args in commands {
                command(args, &mut out);
            }
            stream.write_all(&out).await?;
            let mut replies = Vec::with_capacity(commands.len());
            while replies.len() < commands.len() {
                replies.push(read_reply(stream, buf, &self.config.resp).await?);
            }
            Ok::<_, std::io::Error>(replies)
        })
        .await;
        let failure = match answer {
            Ok(Ok(replies)) => return Ok(replies),
            Ok(Err(e)) => e.to_string(),
            Err(_) => "redis did not answer in time".to_owned(),
        };
        *conn = None;
        let waiting = self.turns.taken();
        self.failed_before
            .fetch_max(waiting, std::sync::atomic::Ordering::AcqRel);
        Err(self.failed(&failure, consequence))
    }

    async fn connect(&self) -> std::io::Result<(TcpStream, BytesMut)> {
        let e = &self.endpoint;
        let mut stream = TcpStream::connect((e.host.as_str(), e.port)).await?;
        stream.set_nodelay(true)?;
        let mut buf = BytesMut::with_capacity(4096);
        let mut login: Vec<Vec<Vec<u8>>> = Vec::new();
        match (&e.user, &e.password) {
            (Some(u), Some(p)) => {
                login.push(vec![b"AUTH".to_vec(), u.clone().into(), p.clone().into()])
            }
            (None, Some(p)) => login.push(vec![b"AUTH".to_vec(), p.clone().into()]),
            _ => {}
        }
        if let Some(db) = e.db {
            login.push(vec![b"SELECT".to_vec(), db.to_string().into_bytes()]);
        }
        for args in login {
            let mut out = Vec::new();
            command(&args, &mut out);
            stream.write_all(&out).await?;
            if let Reply::Error(e) = read_reply(&mut stream, &mut buf, &self.config.resp).await? {
                return Err(std::io::Error::other(e));
            }
        }
        Ok((stream, buf))
    }
}

fn command(args: &[Vec<u8>], out: &mut Vec<u8>) {
    let args: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
    resp::command(&args, out);
}

async fn read_reply(
    stream: &mut TcpStream,
    buf: &mut BytesMut,
    limits: &RespLimits,
) -> std::io::Result<Reply> {
    loop {
        match resp::parse(buf, limits) {
            Ok(Some((reply, used))) => {
                buf.advance(used);
                return Ok(reply);
            }
            Ok(None) => {}
            Err(e) => return Err(std::io::Error::other(e)),
        }
        if stream.read_buf(buf).await? == 0 {
            return Err(std::io::Error::other("redis closed the connection"));
        }
    }
}

/// The commands of a chat history push (spec §4 D-e5): `RPUSH`, `LTRIM`
/// to the last `max`, `EXPIRE`, `LRANGE` of the whole list.
pub fn history_push_commands(
    key: &str,
    value: &Value,
    max: usize,
    ttl: Duration,
) -> Vec<Vec<Vec<u8>>> {
    let keep = -(max.max(1) as i64);
    vec![
        vec![
            b"RPUSH".to_vec(),
            key.into(),
            value.to_string().into_bytes(),
        ],
        vec![
            b"LTRIM".to_vec(),
            key.into(),
            keep.to_string().into_bytes(),
            b"-1".to_vec(),
        ],
        vec![
            b"EXPIRE".to_vec(),
            key.into(),
            ttl.as_secs().max(1).to_string().into_bytes(),
        ],
        vec![
            b"LRANGE".to_vec(),
            key.into(),
            b"0".to_vec(),
            b"-1".to_vec(),
        ],
    ]
}

/// B-e1: join a channel (KEYS: the channel's set, the namespace's
/// `online` hash; ARGV: the socket), answering `{count, total}`.
const CHANNEL_JOIN: &str = "\
if redis.call('SADD', KEYS[1], ARGV[1]) == 1 then redis.call('HINCRBY', KEYS[2], ARGV[1], 1) end \
return {redis.call('SCARD', KEYS[1]), redis.call('HLEN', KEYS[2])}";

/// B-e3: leave a channel; a socket in no channel any more leaves `online`.
const CHANNEL_LEAVE: &str = "\
if redis.call('SREM', KEYS[1], ARGV[1]) == 1 and \
redis.call('HINCRBY', KEYS[2], ARGV[1], -1) <= 0 then redis.call('HDEL', KEYS[2], ARGV[1]) end \
return {redis.call('SCARD', KEYS[1]), redis.call('HLEN', KEYS[2])}";

/// B-r1: join a room, answering its member count.
const ROOM_JOIN: &str = "redis.call('SADD', KEYS[1], ARGV[1]) return redis.call('SCARD', KEYS[1])";

/// R-A2 on disconnect: delete each id (ARGV[2..]) still held by ARGV[1].
const PROVIDER_RELEASE: &str = "\
for i = 2, #ARGV do \
if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[1] then redis.call('HDEL', KEYS[1], ARGV[i]) end \
end return 0";

/// Directual (spec §3, C-h1): records a session only while the hash holds
/// fewer than `max` sessions or already holds this one (so a flood of
/// session requests cannot grow Redis without bound, as
/// `directual::MAX_SESSIONS` bounds one process), atomically. Answers 1
/// when recorded, 0 when refused. KEYS: the hash; ARGV: id, binding, max.
const SESSION_PUT: &str = "\
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 \
or redis.call('HLEN', KEYS[1]) < tonumber(ARGV[3]) then \
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) return 1 end return 0";

/// `EVAL script numkeys keys... args...`.
pub fn eval_command(script: &str, keys: &[&str], args: &[&str]) -> Vec<Vec<u8>> {
    let mut command = vec![
        b"EVAL".to_vec(),
        script.as_bytes().to_vec(),
        keys.len().to_string().into_bytes(),
    ];
    command.extend(keys.iter().chain(args).map(|s| s.as_bytes().to_vec()));
    command
}

impl BridgeStore for RedisStore {
    fn shared(&self) -> bool {
        true
    }

    fn history_push(&self, key: &str, value: Value, max: usize) -> StoreFuture<'_, Vec<Value>> {
        let key = self.history_key(key);
        Box::pin(async move {
            let commands = history_push_commands(&key, &value, max, self.config.history_ttl);
            let replies = self.run(&commands, "the message is dropped").await?;
            match replies.last() {
                Some(Reply::Array(Some(items))) => Ok(items
                    .iter()
                    .map(|item| {
                        item.bytes()
                            .and_then(|b| serde_json::from_slice(b).ok())
                            .unwrap_or(Value::Null)
                    })
                    .collect()),
                other => Err(StoreError(format!("unexpected LRANGE reply {other:?}"))),
            }
        })
    }

    fn history_forget(&self, key: &str) -> StoreFuture<'_, ()> {
        let key = self.history_key(key);
        Box::pin(async move {
            let del = vec![b"DEL".to_vec(), key.into_bytes()];
            self.run(&[del], "the history stays until it expires")
                .await?;
            Ok(())
        })
    }

    fn session_put(&self, id: &str, binding: Value, max: usize) -> StoreFuture<'_, bool> {
        let (key, binding, max) = (self.sessions_key(), binding.to_string(), max.to_string());
        let id = id.to_owned();
        Box::pin(async move {
            const REFUSED: &str = "the session is not created (503)";
            let turn = self.turns.take();
            let args = [id.as_str(), binding.as_str(), max.as_str()];
            match self
                .eval(turn, SESSION_PUT, &[&key], &args, REFUSED)
                .await?
            {
                Reply::Integer(stored) => Ok(stored == 1),
                other => Err(self.failed(&format!("unexpected EVAL reply {other:?}"), REFUSED)),
            }
        })
    }

    fn session_get(&self, id: &str) -> StoreFuture<'_, Option<Value>> {
        let command = vec![
            b"HGET".to_vec(),
            self.sessions_key().into_bytes(),
            id.as_bytes().to_vec(),
        ];
        Box::pin(async move {
            const REFUSED: &str = "the CONNECT is refused as unauthorized";
            match self.run(&[command], REFUSED).await?.pop() {
                Some(Reply::Bulk(None)) => Ok(None),
                Some(Reply::Bulk(Some(bytes))) => serde_json::from_slice(&bytes)
                    .map(Some)
                    .map_err(|e| self.failed(&format!("a session that is not JSON: {e}"), REFUSED)),
                other => Err(self.failed(&format!("unexpected HGET reply {other:?}"), REFUSED)),
            }
        })
    }

    fn channel_join(
        self: Arc<Self>,
        namespace: &str,
        channel: &str,
        socket: &str,
    ) -> StoreFuture<'static, Counts> {
        let set = self.hubtel_key(namespace, &format!("channel#{channel}"));
        let online = self.hubtel_key(namespace, "online");
        let (socket, turn) = (socket.to_owned(), self.turns.take());
        Box::pin(async move {
            let keys = [set.as_str(), online.as_str()];
            self.counts(turn, CHANNEL_JOIN, &keys, &socket).await
        })
    }

    fn channel_leave(
        self: Arc<Self>,
        namespace: &str,
        channel: &str,
        socket: &str,
    ) -> StoreFuture<'static, Counts> {
        let set = self.hubtel_key(namespace, &format!("channel#{channel}"));
        let online = self.hubtel_key(namespace, "online");
        let (socket, turn) = (socket.to_owned(), self.turns.take());
        Box::pin(async move {
            let keys = [set.as_str(), online.as_str()];
            self.counts(turn, CHANNEL_LEAVE, &keys, &socket).await
        })
    }

    fn room_join(
        self: Arc<Self>,
        namespace: &str,
        room: &str,
        socket: &str,
    ) -> StoreFuture<'static, usize> {
        let set = self.hubtel_key(namespace, &format!("room#{room}"));
        let (socket, turn) = (socket.to_owned(), self.turns.take());
        Box::pin(async move {
            const LOCAL: &str = "room-online-users counts this node's members only";
            match self
                .eval(turn, ROOM_JOIN, &[&set], &[&socket], LOCAL)
                .await?
            {
                Reply::Integer(n) => Ok(n.max(0) as usize),
                other => Err(self.failed(&format!("unexpected SCARD {other:?}"), LOCAL)),
            }
        })
    }

    fn room_leave(
        self: Arc<Self>,
        namespace: &str,
        room: &str,
        socket: &str,
    ) -> StoreFuture<'static, ()> {
        let set = self.hubtel_key(namespace, &format!("room#{room}"));
        let command = vec![b"SREM".to_vec(), set.into_bytes(), socket.into()];
        let turn = self.turns.take();
        Box::pin(async move {
            self.run_in(turn, &[command], "the member stays counted")
                .await?;
            Ok(())
        })
    }

    fn provider_register(
        self: Arc<Self>,
        namespace: &str,
        provider: &str,
        socket: &str,
    ) -> StoreFuture<'static, ()> {
        let command = vec![
            b"HSET".to_vec(),
            self.providers_key(namespace).into_bytes(),
            provider.into(),
            socket.into(),
        ];
        let turn = self.turns.take();
        Box::pin(async move {
            const WHAT: &str = "the registration is dropped";
            match self.run_in(turn, &[command], WHAT).await?.pop() {
                Some(Reply::Integer(_)) => Ok(()),
                other => Err(self.failed(&format!("unexpected HSET {other:?}"), WHAT)),
            }
        })
    }

    fn provider_holders(
        self: Arc<Self>,
        namespace: &str,
        providers: &[String],
    ) -> StoreFuture<'static, Vec<Option<String>>> {
        // One HMGET per chunk, so that no reply is longer than the bound
        // on arrays read from Redis (`resp.max_array`).
        let chunk = self.config.resp.max_array.clamp(1, 1000);
        let key = self.providers_key(namespace);
        let commands: Vec<Vec<Vec<u8>>> = providers
            .chunks(chunk)
            .map(|ids| {
                let mut command = vec![b"HMGET".to_vec(), key.clone().into_bytes()];
                command.extend(ids.iter().map(|id| id.as_bytes().to_vec()));
                command
            })
            .collect();
        let (wanted, turn) = (providers.len(), self.turns.take());
        Box::pin(async move {
            const WHAT: &str = "the event is dropped";
            if wanted == 0 {
                return Ok(Vec::new());
            }
            let mut holders = Vec::with_capacity(wanted);
            for reply in self.run_in(turn, &commands, WHAT).await? {
                let Reply::Array(Some(items)) = reply else {
                    return Err(self.failed(&format!("unexpected HMGET {reply:?}"), WHAT));
                };
                holders.extend(items.iter().map(|item| {
                    item.bytes()
                        .map(|b| String::from_utf8_lossy(b).into_owned())
                }));
            }
            if holders.len() != wanted {
                return Err(self.failed("HMGET answered the wrong count", WHAT));
            }
            Ok(holders)
        })
    }

    fn provider_release(
        self: Arc<Self>,
        namespace: &str,
        socket: &str,
        providers: &[String],
    ) -> StoreFuture<'static, ()> {
        let key = self.providers_key(namespace);
        let mut args = vec![socket.to_owned()];
        args.extend(providers.iter().cloned());
        let turn = self.turns.take();
        Box::pin(async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let what = "its ids stay registered until taken over";
            self.eval(turn, PROVIDER_RELEASE, &[&key], &args, what)
                .await?;
            Ok(())
        })
    }

    fn detach(&self, work: StoreFuture<'static, ()>) {
        tokio::spawn(async move {
            let _ = work.await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn history_push_encodes_as_resp2() {
        let commands = history_push_commands(
            "p#bridge#chat#/#r",
            &json!("hi"),
            2,
            Duration::from_secs(60),
        );
        let mut out = Vec::new();
        for c in &commands {
            command(c, &mut out);
        }
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "*3\r\n$5\r\nRPUSH\r\n$17\r\np#bridge#chat#/#r\r\n$4\r\n\"hi\"\r\n\
             *4\r\n$5\r\nLTRIM\r\n$17\r\np#bridge#chat#/#r\r\n$2\r\n-2\r\n$2\r\n-1\r\n\
             *3\r\n$6\r\nEXPIRE\r\n$17\r\np#bridge#chat#/#r\r\n$2\r\n60\r\n\
             *4\r\n$6\r\nLRANGE\r\n$17\r\np#bridge#chat#/#r\r\n$1\r\n0\r\n$2\r\n-1\r\n"
        );
    }

    #[test]
    fn eval_encodes_script_keys_and_args() {
        let mut out = Vec::new();
        command(&eval_command("return 1", &["k"], &["a", "b"]), &mut out);
        assert_eq!(
            out,
            b"*6\r\n$4\r\nEVAL\r\n$8\r\nreturn 1\r\n$1\r\n1\r\n$1\r\nk\r\n$1\r\na\r\n$1\r\nb\r\n"
        );
    }

    #[tokio::test]
    async fn redis_down_fails_every_profile_call_in_time() {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let mut redis = RedisConfig::new(format!("redis://127.0.0.1:{port}"));
        redis.command_timeout = Duration::from_millis(500);
        let store = Arc::new(RedisStore::new(&redis, RedisStoreConfig::default()).unwrap());
        let ids = ["P1".to_owned()];
        assert!(store.clone().channel_join("/", "c", "s").await.is_err());
        assert!(store.clone().channel_leave("/", "c", "s").await.is_err());
        assert!(store.clone().room_join("/", "r", "s").await.is_err());
        assert!(store.clone().room_leave("/", "r", "s").await.is_err());
        assert!(
            store
                .clone()
                .provider_register("/", "P1", "s")
                .await
                .is_err()
        );
        assert!(store.clone().provider_holders("/", &ids).await.is_err());
        assert!(
            store
                .clone()
                .provider_release("/", "s", &ids)
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn redis_down_fails_the_one_call_in_time() {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let mut redis = RedisConfig::new(format!("redis://127.0.0.1:{port}"));
        redis.command_timeout = Duration::from_millis(500);
        let store = RedisStore::new(&redis, RedisStoreConfig::default()).unwrap();
        assert!(store.history_push("/#r", json!(1), 10).await.is_err());
        assert!(store.history_forget("/#r").await.is_err());
    }

    /// Calls queued behind one that timed out fail with it, not one
    /// command timeout each; a later call tries Redis again.
    #[tokio::test(start_paused = true)]
    async fn calls_queued_behind_a_failure_fail_at_once() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut redis = RedisConfig::new(format!("redis://127.0.0.1:{port}"));
        redis.command_timeout = Duration::from_secs(5);
        let store = Arc::new(RedisStore::new(&redis, RedisStoreConfig::default()).unwrap());
        let start = tokio::time::Instant::now();
        let calls: Vec<_> = (0..10)
            .map(|i| store.clone().channel_join("/", "c", &format!("s{i}")))
            .collect();
        let handles: Vec<_> = calls.into_iter().map(tokio::spawn).collect();
        for handle in handles {
            assert!(handle.await.unwrap().is_err());
        }
        assert_eq!(
            start.elapsed(),
            Duration::from_secs(5),
            "one timeout for all"
        );
        let later = tokio::time::Instant::now();
        assert!(store.clone().room_join("/", "r", "s").await.is_err());
        assert_eq!(later.elapsed(), Duration::from_secs(5), "tried again");
        drop(listener);
    }

    #[tokio::test]
    async fn a_silent_redis_times_out() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut redis = RedisConfig::new(format!("redis://127.0.0.1:{port}"));
        redis.command_timeout = Duration::from_millis(200);
        let store = RedisStore::new(&redis, RedisStoreConfig::default()).unwrap();
        let err = store.history_push("/#r", json!(1), 10).await.unwrap_err();
        assert!(err.0.contains("in time"), "{err}");
        drop(listener);
    }
}
