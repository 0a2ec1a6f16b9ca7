//! When connections are opened (`LoadConfig::connect`), against fake servers on loopback:
//! a server that, like gunicorn's sync worker, serves one connection at a time, answers one
//! request, closes, and lingers until the client closes too; and a keep-alive server.
//!
//! The tests assert relations and counts, never absolute times (a loaded machine still passes):
//! the one time bound is a lower one (no connection before its slot).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use loadgen::{Connect, LoadConfig, Report, StopCondition, Target};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How a fake server treats its connections.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Style {
    /// One accept loop, one connection at a time: blocks reading the accepted connection until a
    /// request arrives, answers `Connection: close`, half-closes and reads until the client
    /// closes (at most 2 s), as gunicorn's sync worker does.
    SyncWorker,
    /// Every connection served at once, one request each, `Connection: close`.
    CloseEach,
    /// Every connection served at once, kept alive.
    KeepAlive,
}

/// Longest a fake server waits on one connection (every wait is bounded).
const SERVER_WAIT: Duration = Duration::from_secs(10);
/// gunicorn's `close_graceful`: how long it reads for the client's close.
const LINGER: Duration = Duration::from_secs(2);

struct FakeServer {
    addr: SocketAddr,
    /// When each connection was accepted, in order (the engine's pre-run check is the first).
    accepts: Arc<Mutex<Vec<Instant>>>,
}

impl FakeServer {
    fn start(style: Style) -> FakeServer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let accepts = Arc::new(Mutex::new(Vec::new()));
        let seen = accepts.clone();
        // The thread ends with the test process; it holds no other resource.
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = TcpListener::from_std(listener).unwrap();
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        continue;
                    };
                    seen.lock().unwrap().push(Instant::now());
                    match style {
                        Style::SyncWorker => serve(stream, style).await,
                        _ => {
                            tokio::spawn(serve(stream, style));
                        }
                    }
                }
            });
        });
        FakeServer { addr, accepts }
    }

    fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    fn accepts(&self) -> Vec<Instant> {
        self.accepts.lock().unwrap().clone()
    }

    /// The accept count once it has stayed the same for 200 ms (the server drains what the run
    /// left in its backlog), waiting at most 5 s.
    fn settled_accepts(&self) -> usize {
        let until = Instant::now() + Duration::from_secs(5);
        let mut last = usize::MAX;
        loop {
            let n = self.accepts.lock().unwrap().len();
            if n == last || Instant::now() >= until {
                return n;
            }
            last = n;
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// Reads one request head; `false` when the client closed (or waited too long) first.
async fn read_request(s: &mut TcpStream, buf: &mut Vec<u8>) -> bool {
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            buf.drain(..end + 4);
            return true;
        }
        let mut chunk = [0u8; 4096];
        match tokio::time::timeout(SERVER_WAIT, s.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => buf.extend_from_slice(&chunk[..n]),
            _ => return false,
        }
    }
}

async fn serve(mut s: TcpStream, style: Style) {
    let mut buf = Vec::new();
    loop {
        if !read_request(&mut s, &mut buf).await {
            return;
        }
        if style == Style::KeepAlive {
            if s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                .await
                .is_err()
            {
                return;
            }
            continue;
        }
        let answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
        if s.write_all(answer).await.is_err() {
            return;
        }
        if style == Style::SyncWorker {
            // Half-close, then wait for the client's close (gunicorn's close_graceful).
            let _ = s.shutdown().await;
            let mut chunk = [0u8; 512];
            let until = tokio::time::Instant::now() + LINGER;
            while let Ok(Ok(n)) = tokio::time::timeout_at(until, s.read(&mut chunk)).await {
                if n == 0 {
                    break;
                }
            }
        }
        return;
    }
}

fn open_loop(server: &FakeServer, connections: usize, rate: f64, secs: f64) -> LoadConfig {
    let mut c = LoadConfig::new(Target::parse(&server.url()).unwrap());
    c.connections = connections;
    c.threads = 1;
    c.rate = Some(rate);
    c.stop = StopCondition {
        duration: Some(Duration::from_secs_f64(secs)),
        requests: None,
    };
    c.timeout = Duration::from_secs(5);
    c
}

fn p99_us(r: &Report) -> f64 {
    r.latency
        .from_schedule
        .as_ref()
        .and_then(|l| l.at(99.0))
        .expect("an open loop reports corrected latency")
}

/// Two open loops at once against one sync worker, as the lab's mixed workloads run them (an
/// `/io` stream and a `/cpu` stream, each with its own connections and period): the worst of the
/// two streams' p99.
///
/// Two streams, because with a single stream whose connections were opened in slot order the
/// sync worker meets them in slot order, and an eager client's idle connections cost nothing;
/// with two, the worker accepts one stream's idle connection while the other stream's due
/// requests wait behind it.
fn two_streams(mode: Connect) -> (f64, Vec<Report>) {
    let server = FakeServer::start(Style::SyncWorker);
    let mut a = open_loop(&server, 32, 16.0, 1.5);
    let mut b = open_loop(&server, 8, 4.0, 1.5);
    a.connect = mode;
    b.connect = mode;
    let ha = loadgen::start(a).unwrap();
    let hb = loadgen::start(b).unwrap();
    let reports = vec![ha.join().unwrap(), hb.join().unwrap()];
    let worst = reports.iter().map(p99_us).fold(0.0, f64::max);
    (worst, reports)
}

#[test]
fn connecting_when_due_spares_a_sync_worker_the_idle_connections() {
    let (eager, _) = two_streams(Connect::Eager);
    let (when_due, reports) = two_streams(Connect::WhenDue);
    eprintln!(
        "worst stream's p99: eager {:.1} ms, when due {:.1} ms",
        eager / 1e3,
        when_due / 1e3
    );
    for r in &reports {
        assert_eq!(r.config.connect, Connect::WhenDue);
        let q = &r.requests;
        assert!(q.sent > 0, "{q:?}");
        assert_eq!(
            q.succeeded, q.sent,
            "every request answered correctly: {q:?}"
        );
        assert_eq!(q.total_errors + q.cut_off, 0, "{q:?}");
        let rate = r.rate.as_ref().expect("open loop");
        assert_eq!(
            rate.missed, 0,
            "every slot of the window was sent: {rate:?}"
        );
    }
    assert!(
        when_due * 4.0 < eager,
        "p99 connecting when due {:.1} ms, eagerly {:.1} ms: the sync worker should wait on \
         idle connections only in the eager run",
        when_due / 1e3,
        eager / 1e3
    );
}

#[test]
fn connecting_when_due_opens_no_connection_before_its_slot() {
    // 8 connections at 4 req/s for 1.5 s: connection k's first slot is at k/4 s, so 0..=5 send
    // in the window, 6 and 7 never do.
    let server = FakeServer::start(Style::CloseEach);
    let mut c = open_loop(&server, 8, 4.0, 1.5);
    c.connect = Connect::WhenDue;
    let before = Instant::now();
    let r = loadgen::run(c.clone()).unwrap();
    let accepted = server.settled_accepts();
    assert_eq!(r.requests.succeeded, 6, "{:?}", r.requests);
    assert_eq!(
        accepted,
        1 + 6,
        "the pre-run check, then one connection per request sent: none opened idle"
    );
    // The pre-run check comes first; then the k-th connection no earlier than the k-th slot
    // (the run's start, and so every slot, is after `before`).
    for (k, at) in server.accepts().iter().skip(1).enumerate() {
        let slot = before + Duration::from_millis(250 * k as u64);
        assert!(
            *at >= slot,
            "connection {k} accepted {:?} before its slot",
            slot - *at
        );
    }

    // Eagerly, every connection is open from the start, even those no slot of the window uses.
    let eager = FakeServer::start(Style::CloseEach);
    let mut c = open_loop(&eager, 8, 4.0, 1.5);
    c.connect = Connect::Eager;
    let r = loadgen::run(c).unwrap();
    assert_eq!(r.requests.succeeded, 6, "{:?}", r.requests);
    assert_eq!(eager.settled_accepts(), 1 + 8);
}

#[test]
fn connecting_when_due_keeps_a_connection_the_server_keeps_open() {
    // 2 connections at 8 req/s for 1 s: each sends 4 requests over the one connection it
    // opened for its first slot.
    let server = FakeServer::start(Style::KeepAlive);
    let mut c = open_loop(&server, 2, 8.0, 1.0);
    c.connect = Connect::WhenDue;
    let r = loadgen::run(c).unwrap();
    assert_eq!(r.requests.succeeded, 8, "{:?}", r.requests);
    assert_eq!(server.settled_accepts(), 1 + 2);
}

#[test]
fn a_closed_loop_is_the_same_in_both_modes() {
    for mode in [Connect::Eager, Connect::WhenDue] {
        let server = FakeServer::start(Style::SyncWorker);
        let mut c = LoadConfig::new(Target::parse(&server.url()).unwrap());
        c.connections = 4;
        c.threads = 1;
        c.stop = StopCondition {
            duration: None,
            requests: Some(40),
        };
        c.connect = mode;
        let r = loadgen::run(c).unwrap();
        assert_eq!(r.config.connect, mode);
        assert_eq!(r.requests.succeeded, 40, "{mode}: {:?}", r.requests);
        assert_eq!(r.requests.total_errors, 0, "{mode}: {:?}", r.requests);
        // One connection per request (the server closes each), plus the pre-run check, plus at
        // most one per connection opened as the count ran out.
        let accepted = server.settled_accepts();
        assert!((41..=45).contains(&accepted), "{mode}: {accepted} accepts");
    }
}
