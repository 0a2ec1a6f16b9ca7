//! HTTP/1.1 exchanges on one keep-alive connection, done the lean way wrk does them: the request
//! is serialized once per run and written as it is; the response head is parsed in place by
//! `httparse` (the parser hyper itself uses); the body is framed (Content-Length, chunked, or up
//! to the end of the connection, RFC 9112 §6) and counted, not copied, unless a body check needs
//! it. Each connection owns one read buffer, reused for every response: no allocation, no channel
//! and no second task per request.
//!
//! Why not hyper's client connection: its dispatch (a request channel between the caller and the
//! connection future, a fresh `Request` and `HeaderMap` per request) and its three buffers of
//! ~8 KiB per connection cost the engine its CPU-per-request and memory goals against wrk
//! (measured in docs/benchmarks.md, "HTTP/1.1 client"). The part written here is the framing only;
//! parsing is httparse's.
//!
//! Readiness: a connection asks the socket for data only after tokio reports it readable, and
//! after a complete response it clears the stale readiness instead of paying a read that would
//! return `EAGAIN` (unless the peer has already closed its side, which must stay visible).

use std::future::Future;
use std::io;
use std::mem::MaybeUninit;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{BufMut, Bytes, BytesMut};
use http::header::{AUTHORIZATION, CONTENT_LENGTH, HOST};
use http::{HeaderName, HeaderValue, Method, Uri};
use tokio::io::Interest;
use tokio::net::TcpStream;

use crate::stats::ErrorKind;

/// A connection's read buffer starts at this size: enough for the small responses most
/// benchmarks get, and small enough that 10,000 connections cost 10 MB of buffers. A read that
/// fills the buffer doubles it for the next one, up to [`MAX_READ_BUFFER`], so large bodies are
/// still read in large pieces.
pub const READ_BUFFER: usize = 1024;
/// The read buffer grows to at most this size for bodies (a response head may need more, up to
/// [`MAX_HEAD`]).
pub const MAX_READ_BUFFER: usize = 64 * 1024;
/// A response head (status line and headers) longer than this is refused as a protocol error.
pub const MAX_HEAD: usize = 256 * 1024;
/// At most this many header fields in a response head.
pub const MAX_HEADERS: usize = 128;
/// A chunk-size line or a trailer section longer than this is refused as a protocol error.
const MAX_LINE: usize = 64 * 1024;
/// Read at least this much at a time (the buffer is compacted or grown to make room).
const MIN_READ: usize = 256;

/// The request every connection of a run sends, serialized once.
#[derive(Debug, Clone)]
pub struct RequestBytes {
    bytes: Bytes,
    /// A HEAD request: its response has no body whatever its headers say.
    head: bool,
}

impl RequestBytes {
    /// Serializes `method path HTTP/1.1`, `Host`, `Authorization` (if any), the extra headers in
    /// order, a `Content-Length` when there is a body (or the method expects one), and the body.
    /// A `Content-Length` among `headers` is sent as given instead of the computed one.
    pub fn new(
        method: &Method,
        path: &Uri,
        host: &HeaderValue,
        authorization: Option<&HeaderValue>,
        headers: &[(HeaderName, HeaderValue)],
        body: &Bytes,
    ) -> RequestBytes {
        let mut out = BytesMut::with_capacity(128 + body.len());
        let target = path.path_and_query().map_or("/", |p| p.as_str());
        out.put_slice(method.as_str().as_bytes());
        out.put_u8(b' ');
        out.put_slice(target.as_bytes());
        out.put_slice(b" HTTP/1.1\r\n");
        let mut field = |name: &HeaderName, value: &HeaderValue| {
            out.put_slice(name.as_str().as_bytes());
            out.put_slice(b": ");
            out.put_slice(value.as_bytes());
            out.put_slice(b"\r\n");
        };
        field(&HOST, host);
        if let Some(auth) = authorization {
            field(&AUTHORIZATION, auth);
        }
        for (name, value) in headers {
            field(name, value);
        }
        let expects_body = matches!(*method, Method::POST | Method::PUT | Method::PATCH);
        if (!body.is_empty() || expects_body) && !headers.iter().any(|(n, _)| n == CONTENT_LENGTH) {
            field(&CONTENT_LENGTH, &HeaderValue::from(body.len()));
        }
        out.put_slice(b"\r\n");
        out.put_slice(body);
        RequestBytes {
            bytes: out.freeze(),
            head: *method == Method::HEAD,
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// Why an exchange failed: the kind it is counted as, and a message for the report's samples.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExchangeError {
    pub kind: ErrorKind,
    pub message: String,
}

impl ExchangeError {
    fn new(kind: ErrorKind, message: impl Into<String>) -> ExchangeError {
        ExchangeError {
            kind,
            message: message.into(),
        }
    }

    fn protocol(message: impl Into<String>) -> ExchangeError {
        ExchangeError::new(ErrorKind::Protocol, message)
    }

    fn io(what: &str, e: io::Error) -> ExchangeError {
        ExchangeError::new(ErrorKind::Io, format!("{what}: {e}"))
    }
}

/// A complete response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    /// Body bytes (after removing the chunked framing).
    pub body_len: u64,
    /// When the kernel received the response's last bytes, if the socket records it.
    pub received: Option<SystemTime>,
}

/// Where a body check's copy of the body goes, and how much of it to keep.
pub struct BodySink<'a> {
    pub kept: &'a mut Vec<u8>,
    pub limit: usize,
}

/// How a response's body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    None,
    Length(u64),
    Chunked,
    /// Up to the end of the connection.
    UntilClose,
}

/// What the head of a response says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Head {
    status: u16,
    framing: Framing,
    /// The connection may carry another request after this response.
    keep_alive: bool,
}

/// The source of a connection's bytes: a [`Socket`] in the engine, a script in the tests.
pub trait Transport {
    /// Reads into `buf`'s spare capacity once data is there; `Ok(0)` at the end of the stream.
    /// With the bytes, the kernel's receive time of the last of them, when it is recorded.
    fn read_buf(&mut self, buf: &mut Vec<u8>) -> impl Future<Output = io::Result<Received>>;
    /// Writes all of `data`.
    fn write_all(&mut self, data: &[u8]) -> impl Future<Output = io::Result<()>>;
    /// Whether the peer has closed or sent something while the connection was idle (no syscall
    /// when nothing has happened since the last response).
    fn idle_event(&mut self) -> bool;
    /// Forgets a read readiness that a complete response left behind, unless the peer has closed
    /// its side.
    fn clear_read_readiness(&mut self);
}

/// What one read brought.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    /// Bytes read; 0 at the end of the stream.
    pub len: usize,
    /// When the kernel received the last of them (the system clock, `SO_TIMESTAMPNS`), if the
    /// socket records receive times.
    pub at: Option<SystemTime>,
}

/// A connection's socket. With receive timestamps on, every read also returns the kernel's
/// receive time of its bytes: a response's arrival is then known to the microsecond however late
/// the engine thread wakes to read it (open loop: the thread sleeps through arrivals until its
/// next send slot, see [`crate::timer::IdleGate`]).
pub struct Socket {
    stream: TcpStream,
    timestamps: bool,
}

impl Socket {
    /// Wraps `stream`, asking for receive timestamps if `timestamps`. Where the system cannot
    /// record them, the socket reads without them: its responses then carry no receive time.
    pub fn new(stream: TcpStream, timestamps: bool) -> Socket {
        #[cfg(target_os = "linux")]
        let timestamps = timestamps && {
            use std::os::fd::AsRawFd;
            let on: libc::c_int = 1;
            // SAFETY: a valid socket and a c_int option value of the stated size.
            let r = unsafe {
                libc::setsockopt(
                    stream.as_raw_fd(),
                    libc::SOL_SOCKET,
                    libc::SO_TIMESTAMPNS,
                    (&on as *const libc::c_int).cast(),
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                )
            };
            r == 0
        };
        #[cfg(not(target_os = "linux"))]
        let timestamps = {
            let _ = timestamps;
            false
        };
        Socket { stream, timestamps }
    }

    /// One `recvmsg` into `buf`'s spare capacity, with the receive timestamp.
    #[cfg(target_os = "linux")]
    fn recv_timestamped(&self, buf: &mut Vec<u8>) -> io::Result<Received> {
        use std::os::fd::AsRawFd;
        let spare = buf.spare_capacity_mut();
        let mut iov = libc::iovec {
            iov_base: spare.as_mut_ptr().cast(),
            iov_len: spare.len(),
        };
        // Room for one control message carrying a timespec, 8-byte aligned.
        let mut control = [0u64; 8];
        // SAFETY: msghdr is plain data; all-zero is a valid empty header.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&control) as _;
        // SAFETY: the iovec points at `buf`'s spare capacity, the control buffer is ours.
        let n = unsafe { libc::recvmsg(self.stream.as_raw_fd(), &mut msg, 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let len = n as usize;
        // SAFETY: the kernel initialised the first `len` bytes of the spare capacity.
        unsafe { buf.set_len(buf.len() + len) };
        let mut at = None;
        // SAFETY: walking the control messages the kernel wrote, with libc's macros.
        unsafe {
            let mut c = libc::CMSG_FIRSTHDR(&msg);
            while !c.is_null() {
                if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_TIMESTAMPNS {
                    let t: libc::timespec = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast());
                    at = Some(UNIX_EPOCH + Duration::new(t.tv_sec as u64, t.tv_nsec as u32));
                }
                c = libc::CMSG_NXTHDR(&msg, c);
            }
        }
        Ok(Received { len, at })
    }
}

impl Transport for Socket {
    async fn read_buf(&mut self, buf: &mut Vec<u8>) -> io::Result<Received> {
        loop {
            self.stream.readable().await?;
            #[cfg(target_os = "linux")]
            let r = if self.timestamps {
                self.stream
                    .try_io(Interest::READABLE, || self.recv_timestamped(buf))
            } else {
                self.stream
                    .try_read_buf(buf)
                    .map(|len| Received { len, at: None })
            };
            #[cfg(not(target_os = "linux"))]
            let r = self
                .stream
                .try_read_buf(buf)
                .map(|len| Received { len, at: None });
            match r {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                r => return r,
            }
        }
    }

    async fn write_all(&mut self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            match self.stream.try_write(data) {
                Ok(n) => data = &data[n..],
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.stream.writable().await?,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn idle_event(&mut self) -> bool {
        let mut probe = [0u8; 1];
        // `try_read` makes no syscall unless tokio saw the socket become readable.
        match self.stream.try_read(&mut probe) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => false,
            // End of stream, unsolicited bytes or an error: the connection cannot be trusted.
            _ => true,
        }
    }

    fn clear_read_readiness(&mut self) {
        let mut cx = Context::from_waker(Waker::noop());
        let ready = std::pin::pin!(self.stream.ready(Interest::READABLE));
        if let Poll::Ready(Ok(r)) = ready.poll(&mut cx) {
            if r.is_read_closed() {
                return;
            }
        }
        // A `WouldBlock` from `try_io` clears the readiness tokio holds, without a syscall. Data
        // or a close arriving later is a new edge, reported by the next poll of the reactor.
        let _ = self.stream.try_io(Interest::READABLE, || {
            Err::<(), _>(io::ErrorKind::WouldBlock.into())
        });
    }
}

/// One HTTP/1.1 connection and its read buffer.
pub struct Connection<T = Socket> {
    io: T,
    buf: Vec<u8>,
    /// Start of the bytes in `buf` not yet consumed.
    pos: usize,
    /// The last response allows another request on this connection.
    reusable: bool,
    /// Responses received on this connection.
    answered: u64,
    /// The kernel's receive time of the last read in this exchange.
    received: Option<SystemTime>,
    /// The last read filled all the room there was: more is probably waiting.
    filled: bool,
}

impl<T: Transport> Connection<T> {
    pub fn new(io: T) -> Connection<T> {
        Connection {
            io,
            buf: Vec::with_capacity(READ_BUFFER),
            pos: 0,
            reusable: true,
            answered: 0,
            received: None,
            filled: false,
        }
    }

    /// Whether another request may be sent: the last response allowed it, and the server has not
    /// closed the connection (nor sent anything) while it was idle.
    pub fn usable(&mut self) -> bool {
        if !self.reusable {
            return false;
        }
        if self.answered > 0 && self.io.idle_event() {
            self.reusable = false;
        }
        self.reusable
    }

    /// Whether the last response ended the connection (`Connection: close`, HTTP/1.0 without
    /// keep-alive, a body delimited by the close, or bytes beyond the response): no request may
    /// follow, and the connection should be closed now. No syscall.
    pub fn ended(&self) -> bool {
        !self.reusable
    }

    /// Sends `req` and reads its whole response. After an error the connection must be dropped.
    pub async fn exchange(
        &mut self,
        req: &RequestBytes,
        sink: Option<BodySink<'_>>,
    ) -> Result<Response, ExchangeError> {
        self.received = None;
        self.io
            .write_all(req.as_bytes())
            .await
            .map_err(|e| ExchangeError::io("sending the request", e))?;
        let head = self.read_head(req.head).await?;
        let body_len = self.read_body(head.framing, sink).await?;
        self.answered += 1;
        // Bytes beyond the response: the server answered more than it was asked; the next
        // response could not be told from them, so this connection is not used again.
        self.reusable = head.keep_alive && self.pos == self.buf.len();
        if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
            self.io.clear_read_readiness();
        }
        Ok(Response {
            status: head.status,
            body_len,
            received: self.received,
        })
    }

    /// Reads more bytes into the buffer, making room first; `Ok(0)` at the end of the stream.
    async fn fill(&mut self) -> io::Result<usize> {
        let r = self.read_more().await?;
        if r.at.is_some() {
            self.received = r.at;
        }
        Ok(r.len)
    }

    async fn read_more(&mut self) -> io::Result<Received> {
        if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        } else if self.buf.capacity() - self.buf.len() < MIN_READ {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        let cap = self.buf.capacity();
        if cap - self.buf.len() < MIN_READ || (self.filled && cap < MAX_READ_BUFFER) {
            // Twice the capacity (`reserve` counts from the length).
            self.buf.reserve_exact(2 * cap - self.buf.len());
        }
        let room = self.buf.capacity() - self.buf.len();
        let r = self.io.read_buf(&mut self.buf).await?;
        self.filled = r.len == room;
        Ok(r)
    }

    async fn fill_or(&mut self, closed: impl FnOnce() -> String) -> Result<(), ExchangeError> {
        match self.fill().await {
            Ok(0) => Err(ExchangeError::new(ErrorKind::Closed, closed())),
            Ok(_) => Ok(()),
            Err(e) => Err(ExchangeError::io("reading the response", e)),
        }
    }

    async fn read_head(&mut self, head_request: bool) -> Result<Head, ExchangeError> {
        let mut got_any = self.pos < self.buf.len();
        loop {
            if self.pos < self.buf.len() {
                got_any = true;
                match parse_head(&self.buf[self.pos..], head_request)? {
                    Some((used, head)) => {
                        self.pos += used;
                        match head {
                            // An interim response (103 Early Hints, 100 Continue): the final one
                            // follows.
                            Some(head) => return Ok(head),
                            None => continue,
                        }
                    }
                    None if self.buf.len() - self.pos >= MAX_HEAD => {
                        return Err(ExchangeError::protocol(format!(
                            "response head longer than {} KiB",
                            MAX_HEAD / 1024
                        )))
                    }
                    None => {}
                }
            }
            let started = got_any;
            self.fill_or(|| {
                if started {
                    "connection closed in the middle of the response head".to_string()
                } else {
                    "connection closed before any response".to_string()
                }
            })
            .await?;
        }
    }

    /// Consumes up to `n` buffered body bytes; returns how many.
    fn take(&mut self, n: u64, sink: &mut Option<BodySink<'_>>) -> u64 {
        let available = self.buf.len() - self.pos;
        let k = (n.min(available as u64)) as usize;
        if let Some(s) = sink {
            let room = s.limit.saturating_sub(s.kept.len()).min(k);
            s.kept
                .extend_from_slice(&self.buf[self.pos..self.pos + room]);
        }
        self.pos += k;
        k as u64
    }

    async fn read_body(
        &mut self,
        framing: Framing,
        mut sink: Option<BodySink<'_>>,
    ) -> Result<u64, ExchangeError> {
        match framing {
            Framing::None => Ok(0),
            Framing::Length(len) => {
                let mut got = 0;
                while got < len {
                    got += self.take(len - got, &mut sink);
                    if got < len {
                        self.fill_or(|| {
                            format!("connection closed after {got} of {len} body bytes")
                        })
                        .await?;
                    }
                }
                Ok(len)
            }
            Framing::UntilClose => {
                let mut got = 0;
                loop {
                    got += self.take(u64::MAX, &mut sink);
                    match self.fill().await {
                        Ok(0) => return Ok(got),
                        Ok(_) => {}
                        Err(e) => return Err(ExchangeError::io("reading the response", e)),
                    }
                }
            }
            Framing::Chunked => self.read_chunked(sink).await,
        }
    }

    async fn read_chunked(&mut self, mut sink: Option<BodySink<'_>>) -> Result<u64, ExchangeError> {
        let mut total = 0u64;
        let truncated = |total: u64| {
            move || format!("connection closed after {total} body bytes of a chunked body")
        };
        loop {
            let size = loop {
                match httparse::parse_chunk_size(&self.buf[self.pos..]) {
                    Ok(httparse::Status::Complete((used, size))) => {
                        self.pos += used;
                        break size;
                    }
                    Ok(httparse::Status::Partial) if self.buf.len() - self.pos < MAX_LINE => {
                        self.fill_or(truncated(total)).await?
                    }
                    _ => return Err(ExchangeError::protocol("invalid chunk-size line")),
                }
            };
            if size == 0 {
                break;
            }
            let mut got = 0;
            while got < size {
                got += self.take(size - got, &mut sink);
                if got < size {
                    self.fill_or(truncated(total + got)).await?;
                }
            }
            total += size;
            while self.buf.len() - self.pos < 2 {
                self.fill_or(truncated(total)).await?;
            }
            if &self.buf[self.pos..self.pos + 2] != b"\r\n" {
                return Err(ExchangeError::protocol("chunk data not followed by CRLF"));
            }
            self.pos += 2;
        }
        // The trailer section: header lines (ignored), then an empty line.
        let mut trailer = 0;
        loop {
            match self.buf[self.pos..].windows(2).position(|w| w == b"\r\n") {
                Some(0) => {
                    self.pos += 2;
                    return Ok(total);
                }
                Some(i) => {
                    trailer += i + 2;
                    self.pos += i + 2;
                }
                None if trailer + self.buf.len() - self.pos < MAX_LINE => {
                    self.fill_or(truncated(total)).await?
                }
                None => return Err(ExchangeError::protocol("chunked trailer section too long")),
            }
            if trailer >= MAX_LINE {
                return Err(ExchangeError::protocol("chunked trailer section too long"));
            }
        }
    }
}

/// Parses a response head at the start of `buf`. `Ok(None)`: incomplete. `Ok(Some((n, None)))`:
/// an interim (1xx) response of `n` bytes, to be skipped. `Ok(Some((n, Some(head))))`: a final
/// response head of `n` bytes.
fn parse_head(
    buf: &[u8],
    head_request: bool,
) -> Result<Option<(usize, Option<Head>)>, ExchangeError> {
    let mut headers = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut []);
    let used = match httparse::ParserConfig::default().parse_response_with_uninit_headers(
        &mut resp,
        buf,
        &mut headers,
    ) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(ExchangeError::protocol(format!(
                "more than {MAX_HEADERS} header fields in the response"
            )))
        }
        Err(e) => {
            return Err(ExchangeError::protocol(format!(
                "invalid response head: {e}"
            )))
        }
    };
    let status = resp.code.unwrap_or(0);
    if status == 101 {
        return Err(ExchangeError::protocol(
            "101 Switching Protocols, which was not asked for",
        ));
    }
    if (100..200).contains(&status) {
        return Ok(Some((used, None)));
    }
    let http10 = resp.version == Some(0);
    let mut length: Option<u64> = None;
    let mut chunked = false;
    let mut transfer_encoding = false;
    let mut close = false;
    let mut keep_alive_token = false;
    for h in resp.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            let v = std::str::from_utf8(h.value)
                .ok()
                .map(str::trim)
                .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|v| v.parse::<u64>().ok())
                .ok_or_else(|| {
                    ExchangeError::protocol(format!(
                        "invalid Content-Length {:?}",
                        String::from_utf8_lossy(h.value)
                    ))
                })?;
            if length.is_some_and(|l| l != v) {
                return Err(ExchangeError::protocol(
                    "conflicting Content-Length headers",
                ));
            }
            length = Some(v);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            transfer_encoding = true;
            // Chunked only when it is the last coding applied.
            chunked = last_token(h.value).is_some_and(|t| t.eq_ignore_ascii_case(b"chunked"));
        } else if h.name.eq_ignore_ascii_case("connection") {
            for t in h.value.split(|b| *b == b',') {
                let t = t.trim_ascii();
                close |= t.eq_ignore_ascii_case(b"close");
                keep_alive_token |= t.eq_ignore_ascii_case(b"keep-alive");
            }
        }
    }
    let framing = if head_request || status == 204 || status == 304 {
        Framing::None
    } else if transfer_encoding {
        if chunked {
            Framing::Chunked
        } else {
            Framing::UntilClose
        }
    } else if let Some(n) = length {
        Framing::Length(n)
    } else {
        Framing::UntilClose
    };
    let keep_alive = !close
        && (!http10 || keep_alive_token)
        && framing != Framing::UntilClose
        // Both Transfer-Encoding and Content-Length: the message is framed by the former, and
        // the connection must not be reused (RFC 9112 §6.3).
        && !(transfer_encoding && length.is_some());
    Ok(Some((
        used,
        Some(Head {
            status,
            framing,
            keep_alive,
        }),
    )))
}

fn last_token(value: &[u8]) -> Option<&[u8]> {
    value
        .split(|b| *b == b',')
        .map(<[u8]>::trim_ascii)
        .rfind(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    /// A scripted peer: hands out the response in the given pieces, then the end of the stream.
    struct Script {
        pieces: VecDeque<Vec<u8>>,
        written: Vec<u8>,
        idle: bool,
        reads: u64,
    }

    impl Transport for Script {
        async fn read_buf(&mut self, buf: &mut Vec<u8>) -> io::Result<Received> {
            // An empty piece would read as the end of the stream: skip it.
            let Some(mut p) = self
                .pieces
                .pop_front()
                .filter(|p| !p.is_empty())
                .or_else(|| self.pieces.pop_front())
            else {
                return Ok(Received { len: 0, at: None });
            };
            let room = buf.capacity() - buf.len();
            if p.len() > room {
                self.pieces.push_front(p.split_off(room));
            }
            buf.extend_from_slice(&p);
            self.reads += 1;
            Ok(Received {
                len: p.len(),
                at: Some(UNIX_EPOCH + Duration::from_secs(self.reads)),
            })
        }
        async fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
            self.written.extend_from_slice(data);
            Ok(())
        }
        fn idle_event(&mut self) -> bool {
            self.idle
        }
        fn clear_read_readiness(&mut self) {}
    }

    fn block_on<F: Future>(f: F) -> F::Output {
        let mut f = std::pin::pin!(f);
        let mut cx = Context::from_waker(Waker::noop());
        match f.as_mut().poll(&mut cx) {
            Poll::Ready(v) => v,
            Poll::Pending => panic!("the scripted transport never blocks"),
        }
    }

    fn get() -> RequestBytes {
        RequestBytes::new(
            &Method::GET,
            &Uri::from_static("/x?y=1"),
            &HeaderValue::from_static("h:1"),
            None,
            &[],
            &Bytes::new(),
        )
    }

    fn conn(pieces: Vec<Vec<u8>>) -> Connection<Script> {
        Connection::new(Script {
            pieces: pieces.into(),
            written: vec![],
            idle: false,
            reads: 0,
        })
    }

    /// Every way of cutting `wire` in two pieces gives the same result.
    fn exchange_split(
        wire: &[u8],
        req: &RequestBytes,
    ) -> Vec<(Result<Response, ExchangeError>, Vec<u8>, bool)> {
        (0..=wire.len())
            .map(|cut| {
                let mut c = conn(vec![wire[..cut].to_vec(), wire[cut..].to_vec()]);
                let mut kept = vec![];
                let r = block_on(c.exchange(
                    req,
                    Some(BodySink {
                        kept: &mut kept,
                        limit: 1 << 20,
                    }),
                ));
                let reusable = c.reusable;
                (r, kept, reusable)
            })
            .collect()
    }

    fn ok_all(wire: &[u8], req: &RequestBytes, status: u16, body: &[u8], reusable: bool) {
        for (cut, (r, kept, reuse)) in exchange_split(wire, req).into_iter().enumerate() {
            let r = r.unwrap_or_else(|e| panic!("cut at {cut}: {e:?}"));
            assert_eq!(r.status, status, "cut at {cut}");
            assert_eq!(r.body_len, body.len() as u64, "cut at {cut}");
            assert_eq!(kept, body, "cut at {cut}");
            assert_eq!(reuse, reusable, "cut at {cut}");
        }
    }

    #[test]
    fn the_request_is_serialized_once_with_host_auth_headers_and_length() {
        let r = RequestBytes::new(
            &Method::POST,
            &Uri::from_static("/p"),
            &HeaderValue::from_static("example:8080"),
            Some(&HeaderValue::from_static("Basic dTpw")),
            &[(
                HeaderName::from_static("x-a"),
                HeaderValue::from_static("1"),
            )],
            &Bytes::from_static(b"abc"),
        );
        assert_eq!(
            r.as_bytes(),
            b"POST /p HTTP/1.1\r\nhost: example:8080\r\nauthorization: Basic dTpw\r\nx-a: 1\r\n\
              content-length: 3\r\n\r\nabc"
        );
        assert_eq!(
            get().as_bytes(),
            b"GET /x?y=1 HTTP/1.1\r\nhost: h:1\r\n\r\n"
        );
        let empty_post = RequestBytes::new(
            &Method::POST,
            &Uri::from_static("/"),
            &HeaderValue::from_static("h"),
            None,
            &[],
            &Bytes::new(),
        );
        assert!(empty_post
            .as_bytes()
            .ends_with(b"content-length: 0\r\n\r\n"));
    }

    #[test]
    fn content_length_bodies_whatever_the_read_boundaries() {
        let wire = b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\nX: y\r\n\r\nHello, World!";
        ok_all(wire, &get(), 200, b"Hello, World!", true);
    }

    #[test]
    fn chunked_bodies_with_extensions_and_trailers() {
        let wire = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n\
                     5;ext=1\r\nHello\r\n8\r\n, World!\r\n0\r\nX-Trailer: t\r\n\r\n";
        ok_all(wire, &get(), 200, b"Hello, World!", true);
    }

    #[test]
    fn interim_responses_are_skipped_and_no_body_statuses_have_none() {
        let wire = b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 204 No Content\r\n\
                     Content-Length: 5\r\n\r\n";
        ok_all(wire, &get(), 204, b"", true);
        let head = RequestBytes::new(
            &Method::HEAD,
            &Uri::from_static("/"),
            &HeaderValue::from_static("h"),
            None,
            &[],
            &Bytes::new(),
        );
        ok_all(
            b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n",
            &head,
            200,
            b"",
            true,
        );
    }

    #[test]
    fn close_delimited_and_http10_responses_end_the_connection() {
        ok_all(
            b"HTTP/1.1 200 OK\r\n\r\nuntil close",
            &get(),
            200,
            b"until close",
            false,
        );
        ok_all(
            b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nhi",
            &get(),
            200,
            b"hi",
            false,
        );
        ok_all(
            b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nhi",
            &get(),
            200,
            b"hi",
            true,
        );
        ok_all(
            b"HTTP/1.1 200 OK\r\nConnection: Close\r\nContent-Length: 2\r\n\r\nhi",
            &get(),
            200,
            b"hi",
            false,
        );
    }

    #[test]
    fn truncations_are_closed_and_garbage_is_protocol() {
        let cases: [(&[u8], ErrorKind, &str); 6] = [
            (b"", ErrorKind::Closed, "before any response"),
            (
                b"HTTP/1.1 200 OK\r\nContent-",
                ErrorKind::Closed,
                "middle of the response head",
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
                ErrorKind::Closed,
                "3 of 10",
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
                ErrorKind::Closed,
                "chunked",
            ),
            (
                b"SSH-2.0-OpenSSH\r\n\r\n",
                ErrorKind::Protocol,
                "invalid response head",
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n",
                ErrorKind::Protocol,
                "Content-Length",
            ),
        ];
        for (wire, kind, words) in cases {
            let mut c = conn(vec![wire.to_vec()]);
            let e = block_on(c.exchange(&get(), None)).unwrap_err();
            assert_eq!(e.kind, kind, "{wire:?}: {e:?}");
            assert!(e.message.contains(words), "{wire:?}: {e:?}");
        }
    }

    #[test]
    fn responses_follow_each_other_on_one_connection_and_the_buffer_is_reused() {
        let one = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi".to_vec();
        let mut c = conn(vec![one.clone(), one.clone(), one]);
        for _ in 0..3 {
            assert!(c.usable());
            assert_eq!(block_on(c.exchange(&get(), None)).unwrap().body_len, 2);
        }
        assert_eq!(
            c.buf.capacity(),
            READ_BUFFER,
            "no growth for small responses"
        );
        assert_eq!(c.io.written, get().as_bytes().repeat(3));
        c.io.idle = true;
        assert!(
            !c.usable(),
            "a close seen while idle retires the connection"
        );
    }

    #[test]
    fn a_large_head_grows_the_buffer_up_to_its_limit() {
        let big = format!(
            "HTTP/1.1 200 OK\r\nX: {}\r\nContent-Length: 0\r\n\r\n",
            "a".repeat(20_000)
        );
        let mut c = conn(vec![big.into_bytes()]);
        assert_eq!(block_on(c.exchange(&get(), None)).unwrap().status, 200);
        let huge = format!("HTTP/1.1 200 OK\r\nX: {}\r\n", "a".repeat(MAX_HEAD));
        let mut c = conn(vec![huge.into_bytes()]);
        let e = block_on(c.exchange(&get(), None)).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Protocol, "{e:?}");
    }

    #[test]
    fn a_response_is_received_when_its_last_bytes_were() {
        let wire = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nabcd";
        let mut c = conn(vec![
            wire[..10].to_vec(),
            wire[10..40].to_vec(),
            wire[40..].to_vec(),
        ]);
        let r = block_on(c.exchange(&get(), None)).unwrap();
        assert_eq!(r.received, Some(UNIX_EPOCH + Duration::from_secs(3)));
    }

    #[test]
    fn a_large_body_grows_the_buffer_to_read_it_in_large_pieces() {
        let body = vec![b'x'; 1 << 20];
        let mut wire =
            format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
        wire.extend_from_slice(&body);
        let mut c = conn(vec![wire]);
        assert_eq!(
            block_on(c.exchange(&get(), None)).unwrap().body_len,
            1 << 20
        );
        assert!(c.io.reads < 40, "{} reads for 1 MiB", c.io.reads);
        assert!(c.buf.capacity() <= MAX_READ_BUFFER, "{}", c.buf.capacity());
    }

    #[test]
    fn bytes_beyond_the_response_retire_the_connection() {
        let wire = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhiHTTP/1.1 200 OK\r\n";
        let mut c = conn(vec![wire.to_vec()]);
        block_on(c.exchange(&get(), None)).unwrap();
        assert!(!c.usable());
    }
}
