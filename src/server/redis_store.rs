//! The bridge profiles' state in Redis ([`BridgeStore`]), shared by every
//! siobridge node started with the same `--redis` and `--redis-prefix`.
//!
//! So far chat's room histories (spec §4, D-e5): one Redis list per room,
//! key `<prefix>#bridge#chat#<namespace>#<room>`, appended with `RPUSH`,
//! bounded with `LTRIM` to `max_history`, read with `LRANGE`, and given an
//! expiry ([`RedisStoreConfig::history_ttl`]) so that rooms nobody uses
//! any more leave Redis. The commands go over a connection of their own
//! (not the adapter's publishing or subscribing ones), opened on first use
//! and again after a failure; every wait is bounded by
//! [`RedisStoreConfig::command_timeout`], so when Redis is down the one
//! event fails with a log line and no handler hangs.

use std::time::Duration;

use bytes::{Buf, BytesMut};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::redis::{Endpoint, RedisConfig, parse_url};
use crate::bridge::store::{BridgeStore, StoreError, StoreFuture};
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
        })
    }

    fn history_key(&self, key: &str) -> String {
        format!("{}#bridge#chat#{key}", self.prefix)
    }

    /// Directual's sessions (spec §3, C-h1): one hash, session id → `{app_id,
    /// user_id}` as JSON, for every node of the cluster.
    fn sessions_key(&self) -> String {
        format!("{}#bridge#directual#sessions", self.prefix)
    }

    /// Sends `commands` in one write and reads their replies, in order,
    /// reconnecting first when needed; any failure drops the connection.
    async fn run(&self, commands: &[Vec<Vec<u8>>]) -> Result<Vec<Reply>, StoreError> {
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
        eprintln!("siobridge: bridge store: {failure}; the event is dropped");
        Err(StoreError(failure))
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

impl BridgeStore for RedisStore {
    fn shared(&self) -> bool {
        true
    }

    fn history_push(&self, key: &str, value: Value, max: usize) -> StoreFuture<'_, Vec<Value>> {
        let key = self.history_key(key);
        Box::pin(async move {
            let commands = history_push_commands(&key, &value, max, self.config.history_ttl);
            let replies = self.run(&commands).await?;
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
            self.run(&[vec![b"DEL".to_vec(), key.into_bytes()]]).await?;
            Ok(())
        })
    }

    fn session_put(&self, id: &str, binding: Value, max: usize) -> StoreFuture<'_, bool> {
        let command = session_put_command(&self.sessions_key(), id, &binding, max);
        Box::pin(async move {
            match self.run(&[command]).await?.pop() {
                Some(Reply::Integer(stored)) => Ok(stored == 1),
                other => Err(StoreError(format!("unexpected EVAL reply {other:?}"))),
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
            match self.run(&[command]).await?.pop() {
                Some(Reply::Bulk(None)) => Ok(None),
                Some(Reply::Bulk(Some(bytes))) => serde_json::from_slice(&bytes)
                    .map(Some)
                    .map_err(|e| StoreError(format!("a session that is not JSON: {e}"))),
                other => Err(StoreError(format!("unexpected HGET reply {other:?}"))),
            }
        })
    }
}

/// Records a Directual session only while the hash holds fewer than `max`
/// sessions or already holds this one (so a flood of C-h1 requests cannot
/// grow Redis without bound, as `directual::MAX_SESSIONS` bounds one
/// process), atomically: one script, one round trip. Answers 1 when
/// recorded, 0 when refused.
const SESSION_PUT_SCRIPT: &str = "\
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 \
   or redis.call('HLEN', KEYS[1]) < tonumber(ARGV[3]) then \
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) return 1 \
end return 0";

/// The command of a Directual session put (spec §3, C-h1): `EVAL` of
/// [`SESSION_PUT_SCRIPT`] on the sessions hash.
pub fn session_put_command(key: &str, id: &str, binding: &Value, max: usize) -> Vec<Vec<u8>> {
    vec![
        b"EVAL".to_vec(),
        SESSION_PUT_SCRIPT.into(),
        b"1".to_vec(),
        key.into(),
        id.into(),
        binding.to_string().into_bytes(),
        max.to_string().into_bytes(),
    ]
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
