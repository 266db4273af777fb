//! The runner's two transports, kept minimal: HTTP/1.1 requests written by
//! hand over a `TcpStream` (one request per connection), and a WebSocket
//! client on tokio-tungstenite over a `TcpStream` the runner opens itself.
//!
//! Every operation is bounded in time and size, so that a server under test
//! that stalls or floods can only fail a check, never hang the runner or
//! exhaust its memory.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout, timeout_at};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::error::ProtocolError;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// Largest HTTP response the runner reads (head and body). The contract's
/// maxPayload is 1,000,000 bytes; anything much bigger is a failure, not
/// something to buffer.
const MAX_RESPONSE: usize = 4 << 20;

/// Where the server under test listens: `host:port`, from an `http://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    authority: String,
}

impl Target {
    /// Parses `http://HOST[:PORT][/]`. Only plain HTTP is spoken (the runner
    /// has no TLS), and the Engine.IO paths come from the contract, so any
    /// other path is refused rather than silently ignored.
    pub fn parse(url: &str) -> Result<Target, String> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| format!("{url:?}: expected a URL like http://127.0.0.1:3000"))?;
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.is_empty() || authority.contains(['/', '?', '#', '@']) {
            return Err(format!(
                "{url:?}: expected http://HOST[:PORT] with no path (the paths are /engine.io/ and /socket.io/)"
            ));
        }
        let authority = if has_port(authority) {
            authority.to_owned()
        } else {
            format!("{authority}:80")
        };
        Ok(Target { authority })
    }

    /// `host:port`, as written in the `Host` header and passed to connect.
    pub fn authority(&self) -> &str {
        &self.authority
    }
}

/// Whether `authority` ends in `:PORT` (an IPv6 literal is bracketed).
fn has_port(authority: &str) -> bool {
    match authority.rsplit_once(':') {
        Some((host, port)) => {
            !port.is_empty()
                && port.bytes().all(|b| b.is_ascii_digit())
                && (!host.contains(':') || host.ends_with(']'))
        }
        None => false,
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http://{}", self.authority)
    }
}

async fn connect(target: &Target, within: Duration) -> Result<TcpStream, String> {
    match timeout(within, TcpStream::connect(target.authority())).await {
        Ok(Ok(stream)) => {
            // Small writes (one packet each) must leave at once.
            let _ = stream.set_nodelay(true);
            Ok(stream)
        }
        Ok(Err(e)) => Err(format!("cannot connect to {target}: {e}")),
        Err(_) => Err(format!("cannot connect to {target} within {}", ms(within))),
    }
}

/// An HTTP response, body decoded from its transfer encoding.
#[derive(Debug, Clone)]
pub(super) struct Response {
    /// The status code.
    pub(super) status: u16,
    /// The body.
    pub(super) body: Vec<u8>,
}

impl Response {
    /// The body as text (lossy: a check compares it with text anyway).
    pub(super) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends one HTTP/1.1 request (`Connection: close`) and reads its response,
/// all within `within`.
pub(super) async fn request(
    target: &Target,
    method: &str,
    path_and_query: &str,
    body: Option<&[u8]>,
    within: Duration,
) -> Result<Response, String> {
    let body = body.map(|body| (body, "text/plain;charset=UTF-8"));
    request_typed(target, method, path_and_query, body, within).await
}

/// [`request`] with a body of the given `Content-Type`.
pub(super) async fn request_typed(
    target: &Target,
    method: &str,
    path_and_query: &str,
    body: Option<(&[u8], &str)>,
    within: Duration,
) -> Result<Response, String> {
    let exchange = async {
        let mut stream = connect(target, within).await?;
        let mut head = format!(
            "{method} {path_and_query} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
            target.authority()
        );
        if let Some((body, content_type)) = body {
            head.push_str(&format!("Content-Type: {content_type}\r\n"));
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(body.map_or(&[][..], |(body, _)| body));
        // A server may answer before reading the whole body (HTTP 413 for an
        // oversized POST) and close: its answer still counts.
        let sent = stream.write_all(&bytes).await;
        match (read_response(&mut stream).await, sent) {
            (Ok(response), _) => Ok(response),
            (Err(e), Ok(())) => Err(e),
            (Err(_), Err(e)) => Err(format!("cannot send: {e}")),
        }
    };
    timeout(within, exchange)
        .await
        .unwrap_or_else(|_| Err(format!("no complete response within {}", ms(within))))
        .map_err(|e| format!("{method} {path_and_query}: {e}"))
}

/// Reads one response: until its framing says it is complete, or until the
/// server closes the connection, refusing more than [`MAX_RESPONSE`] bytes.
async fn read_response(stream: &mut TcpStream) -> Result<Response, String> {
    let mut raw = Vec::new();
    let mut buffer = [0; 16 * 1024];
    loop {
        let read = match stream.read(&mut buffer).await {
            Ok(read) => read,
            // A reset after a complete response is still a response.
            Err(_) if !raw.is_empty() => 0,
            Err(e) => return Err(format!("the connection failed without a response: {e}")),
        };
        if read == 0 && raw.is_empty() {
            return Err("the connection closed without a response".to_owned());
        }
        raw.extend_from_slice(&buffer[..read]);
        if raw.len() > MAX_RESPONSE {
            return Err(format!("response larger than {MAX_RESPONSE} bytes"));
        }
        if let Some(response) = parse_response(&raw, read == 0)? {
            return Ok(response);
        }
    }
}

/// Parses a status line, headers, and a body framed by `Content-Length`,
/// `Transfer-Encoding: chunked`, or the end of the connection (RFC 9112,
/// section 6.3). `Ok(None)` while more bytes are needed; at the end of the
/// connection (`at_eof`) an incomplete response is an error.
fn parse_response(raw: &[u8], at_eof: bool) -> Result<Option<Response>, String> {
    let incomplete = |what: &str| {
        if at_eof {
            Err(what.to_owned())
        } else {
            Ok(None)
        }
    };
    let Some(end) = find(raw, b"\r\n\r\n") else {
        return incomplete("incomplete response head");
    };
    let head = std::str::from_utf8(&raw[..end]).map_err(|_| "response head is not UTF-8")?;
    let rest = &raw[end + 4..];
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .strip_prefix("HTTP/1.")
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let mut chunked = false;
    let mut length = None;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.to_ascii_lowercase().contains("chunked");
        } else if name.eq_ignore_ascii_case("content-length") {
            length = Some(value.parse::<usize>().map_err(|_| "bad Content-Length")?);
        }
    }
    let body = if chunked {
        match dechunk(rest)? {
            Some(body) => body,
            None => return incomplete("truncated chunked body"),
        }
    } else if let Some(length) = length {
        match rest.get(..length) {
            Some(body) => body.to_vec(),
            None => return incomplete("body shorter than its Content-Length"),
        }
    } else if at_eof {
        rest.to_vec()
    } else {
        return Ok(None);
    };
    Ok(Some(Response { status, body }))
}

/// Decodes a chunked body (RFC 9112, section 7.1), ignoring extensions and
/// trailers; `Ok(None)` while it is incomplete.
fn dechunk(mut rest: &[u8]) -> Result<Option<Vec<u8>>, String> {
    let mut body = Vec::new();
    loop {
        let Some(line_end) = find(rest, b"\r\n") else {
            return Ok(None);
        };
        let size_text = std::str::from_utf8(&rest[..line_end]).map_err(|_| "bad chunk size")?;
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| "bad chunk size")?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Ok(Some(body));
        }
        let (Some(chunk), Some(after)) = (rest.get(..size), rest.get(size + 2..)) else {
            return Ok(None);
        };
        body.extend_from_slice(chunk);
        rest = after;
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// One WebSocket message as a check sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Frame {
    /// A text frame.
    Text(String),
    /// A binary frame.
    Binary(Bytes),
    /// The server closed the connection (close frame, EOF or reset).
    Closed,
}

impl fmt::Display for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Frame::Text(text) => write!(f, "{}", quote(text)),
            Frame::Binary(bytes) => write!(f, "{}", hex(bytes)),
            Frame::Closed => f.write_str("the connection closed"),
        }
    }
}

/// A text as a check reports it: JSON-quoted (so `\x1e` and quotes show),
/// cut after 200 characters.
pub(super) fn quote(text: &str) -> String {
    const MAX: usize = 200;
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}...", Value::String(text[..cut].to_owned())),
        None => Value::String(text.to_owned()).to_string(),
    }
}

/// Binary data as a check reports it: `<01 02 03>`.
pub(super) fn hex(bytes: &[u8]) -> String {
    let shown: Vec<String> = bytes.iter().take(32).map(|b| format!("{b:02x}")).collect();
    let more = if bytes.len() > 32 { " ..." } else { "" };
    format!("<{}{more}>", shown.join(" "))
}

/// A duration as a check reports it.
pub(super) fn ms(d: Duration) -> String {
    format!("{} ms", d.as_millis())
}

/// A WebSocket client connection.
pub(super) struct WebSocket {
    stream: WebSocketStream<TcpStream>,
}

impl WebSocket {
    /// Opens `ws://<target><path_and_query>`. A refused upgrade is reported
    /// with its HTTP status.
    pub(super) async fn connect(
        target: &Target,
        path_and_query: &str,
        within: Duration,
    ) -> Result<WebSocket, String> {
        let url = format!("ws://{}{path_and_query}", target.authority());
        let opening = async {
            let tcp = connect(target, within).await?;
            // The contract's maxPayload bounds every message the server may
            // send; a little more room keeps the check's verdict about size
            // its own rather than the client library's.
            let config = WebSocketConfig::default()
                .max_message_size(Some(MAX_RESPONSE))
                .max_frame_size(Some(MAX_RESPONSE));
            tokio_tungstenite::client_async_with_config(url.as_str(), tcp, Some(config))
                .await
                .map(|(stream, _)| WebSocket { stream })
                .map_err(|e| match e {
                    tokio_tungstenite::tungstenite::Error::Http(response) => format!(
                        "WebSocket {path_and_query} refused with HTTP {}",
                        response.status().as_u16()
                    ),
                    tokio_tungstenite::tungstenite::Error::Protocol(
                        ProtocolError::HandshakeIncomplete,
                    ) => format!(
                        "WebSocket {path_and_query} refused: the server closed the connection during the upgrade"
                    ),
                    other => format!("WebSocket {path_and_query} failed: {other}"),
                })
        };
        timeout(within, opening).await.unwrap_or_else(|_| {
            Err(format!(
                "WebSocket {path_and_query} not open within {}",
                ms(within)
            ))
        })
    }

    /// Sends a text frame.
    pub(super) async fn send_text(&mut self, text: &str) -> Result<(), String> {
        self.send(Message::text(text)).await
    }

    /// Sends a binary frame.
    pub(super) async fn send_binary(&mut self, bytes: Bytes) -> Result<(), String> {
        self.send(Message::Binary(bytes)).await
    }

    async fn send(&mut self, message: Message) -> Result<(), String> {
        self.stream
            .send(message)
            .await
            .map_err(|e| format!("cannot send over the WebSocket: {e}"))
    }

    /// The next text or binary frame, or [`Frame::Closed`]; an error when
    /// nothing came within `within`. WebSocket-level pings and pongs are
    /// handled by the library and never returned.
    pub(super) async fn next(&mut self, within: Duration) -> Result<Frame, String> {
        let deadline = Instant::now() + within;
        loop {
            let message = match timeout_at(deadline, self.stream.next()).await {
                Err(_) => return Err(format!("nothing received within {}", ms(within))),
                Ok(None | Some(Err(_))) => return Ok(Frame::Closed),
                Ok(Some(Ok(message))) => message,
            };
            match message {
                Message::Text(text) => return Ok(Frame::Text(text.as_str().to_owned())),
                Message::Binary(bytes) => return Ok(Frame::Binary(bytes)),
                Message::Close(_) => return Ok(Frame::Closed),
                Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => continue,
            }
        }
    }

    /// Closes the connection politely, not waiting for the answer.
    pub(super) async fn close(mut self) {
        let _ = timeout(Duration::from_millis(100), self.stream.close(None)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_http_host_and_port_only() {
        let parsed = |url| Target::parse(url).map(|t| t.authority().to_owned());
        assert_eq!(parsed("http://127.0.0.1:3000"), Ok("127.0.0.1:3000".into()));
        assert_eq!(
            parsed("http://localhost:3000/"),
            Ok("localhost:3000".into())
        );
        assert_eq!(parsed("http://example.com"), Ok("example.com:80".into()));
        assert_eq!(parsed("http://[::1]:8080"), Ok("[::1]:8080".into()));
        assert_eq!(parsed("http://[::1]"), Ok("[::1]:80".into()));
        assert!(parsed("https://example.com").is_err());
        assert!(parsed("127.0.0.1:3000").is_err());
        assert!(parsed("http://h:1/socket.io/").is_err());
        assert!(parsed("http://").is_err());
    }

    #[test]
    fn responses_are_framed_by_length_chunks_or_eof() {
        let parsed =
            |raw: &[u8], eof| parse_response(raw, eof).map(|r| r.map(|r| (r.status, r.body)));
        let by_length = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA";
        assert_eq!(parsed(by_length, false), Ok(Some((200, b"ok".to_vec()))));
        let chunked: &[u8] =
            b"HTTP/1.1 400 Bad\r\ntransfer-encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        assert_eq!(parsed(chunked, false), Ok(Some((400, b"abcde".to_vec()))));
        let to_eof = b"HTTP/1.0 200 OK\r\n\r\n4hello";
        assert_eq!(parsed(to_eof, false), Ok(None));
        assert_eq!(parsed(to_eof, true), Ok(Some((200, b"4hello".to_vec()))));
        // Incomplete: more is needed, or at the end of the connection an error.
        let short = b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort";
        assert_eq!(parsed(short, false), Ok(None));
        assert!(parsed(short, true).is_err());
        assert_eq!(parsed(&chunked[..chunked.len() - 7], false), Ok(None));
        assert!(parsed(&chunked[..chunked.len() - 7], true).is_err());
        assert_eq!(parsed(b"HTTP/1.1 200", false), Ok(None));
        assert!(parsed(b"HTTP/1.1 200", true).is_err());
        assert!(parsed(b"garbage\r\n\r\n", false).is_err());
        assert!(
            parsed(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                false
            )
            .is_err()
        );
    }

    #[test]
    fn reports_quote_text_and_show_binary_as_hex() {
        assert_eq!(quote("4a\x1e4b"), r#""4a\u001e4b""#);
        assert_eq!(quote(&"x".repeat(300)).len(), 2 + 200 + 3);
        assert_eq!(hex(&[1, 2, 0xff]), "<01 02 ff>");
        assert_eq!(Frame::Closed.to_string(), "the connection closed");
    }
}
