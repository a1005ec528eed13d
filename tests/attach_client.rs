//! The attach client against small real SSE servers over loopback (plain TCP and TLS): what a
//! view receives in order, how it resumes, and the reasons it shows when a receiver refuses,
//! lags, dies or cannot be trusted.
//!
//! The server here is scripted by each test: it hands every accepted request to the test, which
//! checks the request headers and writes the response bytes itself (chunked, as hyper sends).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use recmon::attach::feed_client::{
    spawn_source, spawn_source_tuned, SourceConfig, SourceEvent, Tuning,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// The longest any step may take on a loaded machine; the tests wait for conditions, not times.
const CEILING: Duration = Duration::from_secs(20);

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// One request the client made, and the connection to answer it on.
struct Conn {
    head: String,
    io: Box<dyn Io>,
}

impl Conn {
    fn request_line(&self) -> &str {
        self.head.lines().next().unwrap_or("")
    }

    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }

    async fn write(&mut self, bytes: &[u8]) {
        // A client that went away is not this helper's business; the test's asserts are.
        let _ = self.io.write_all(bytes).await;
        let _ = self.io.flush().await;
    }

    /// Starts a 200 event stream with chunked encoding, as hyper's server sends it.
    async fn start_stream(&mut self) {
        self.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n\
              transfer-encoding: chunked\r\n\r\n",
        )
        .await;
    }

    /// Sends `text` as one chunk of the stream.
    async fn chunk(&mut self, text: &str) {
        let framed = format!("{:x}\r\n{text}\r\n", text.len());
        self.write(framed.as_bytes()).await;
    }

    /// A complete non-stream answer, e.g. a 401 with its JSON error.
    async fn answer(&mut self, status: &str, body: &str) {
        let text = format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
             connection: close\r\n\r\n{body}",
            body.len()
        );
        self.write(text.as_bytes()).await;
    }
}

struct Server {
    addr: SocketAddr,
    conns: mpsc::UnboundedReceiver<Conn>,
}

impl Server {
    async fn start(tls: Option<tokio_rustls::TlsAcceptor>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, conns) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let tx = tx.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    let mut io: Box<dyn Io> = match tls {
                        None => Box::new(tcp),
                        // A refused handshake (the TLS test without --ca-cert) never reaches
                        // the test as a request.
                        Some(acceptor) => match acceptor.accept(tcp).await {
                            Ok(stream) => Box::new(stream),
                            Err(_) => return,
                        },
                    };
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") {
                        match io.read(&mut byte).await {
                            Ok(1) => head.push(byte[0]),
                            _ => return,
                        }
                    }
                    let head = String::from_utf8_lossy(&head).into_owned();
                    let _ = tx.send(Conn { head, io });
                });
            }
        });
        Server { addr, conns }
    }

    async fn next(&mut self) -> Conn {
        tokio::time::timeout(CEILING, self.conns.recv())
            .await
            .expect("the client did not connect in time")
            .expect("the server stopped")
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// The view's end of one source.
struct View {
    index: usize,
    rx: mpsc::Receiver<(usize, SourceEvent)>,
    task: tokio::task::JoinHandle<()>,
}

impl View {
    fn start(index: usize, cfg: SourceConfig, after: u64, tuning: Tuning) -> View {
        let (tx, rx) = mpsc::channel(64);
        let task = spawn_source_tuned(index, cfg, after, tx, tuning).unwrap();
        View { index, rx, task }
    }

    async fn next(&mut self) -> SourceEvent {
        let (index, event) = tokio::time::timeout(CEILING, self.rx.recv())
            .await
            .expect("no event from the source in time")
            .expect("the source task ended");
        assert_eq!(index, self.index);
        event
    }

    async fn connected(&mut self) -> serde_json::Value {
        match self.next().await {
            SourceEvent::Connected { hello } => hello,
            other => panic!("expected Connected, got {other:?}"),
        }
    }

    async fn entry(&mut self) -> (u64, String) {
        match self.next().await {
            SourceEvent::Entry { seq, line } => (seq, line),
            other => panic!("expected an Entry, got {other:?}"),
        }
    }

    async fn disconnected(&mut self) -> (String, Duration) {
        match self.next().await {
            SourceEvent::Disconnected { reason, retry_in } => (reason, retry_in),
            other => panic!("expected Disconnected, got {other:?}"),
        }
    }
}

fn cfg(url: String) -> SourceConfig {
    SourceConfig {
        url,
        token: None,
        ca_cert: None,
    }
}

fn hello(last_seq: u64) -> String {
    format!(
        "event: hello\ndata: {{\"version\":\"0.1.0\",\"listen\":\"127.0.0.1:8080\",\"journal\":\"recmon.jsonl\",\
         \"started_at\":\"2026-11-27T17:54:13.847Z\",\"signature_checking\":false,\"last_seq\":{last_seq}}}\n\n"
    )
}

fn line(seq: u64) -> String {
    format!(
        "{{\"seq\":{seq},\"received_at\":\"2026-11-27T17:54:13.847Z\",\"remote\":\"203.0.113.7:56376\",\
         \"method\":\"POST\",\"path\":\"/recmon\",\"outcome\":\"accepted\",\"status\":200}}"
    )
}

fn entry(seq: u64) -> String {
    format!("id: {seq}\nevent: entry\ndata: {}\n\n", line(seq))
}

#[tokio::test]
async fn hello_then_entries_arrive_in_order_from_a_base_url_with_a_path_and_slash() {
    let mut server = Server::start(None).await;
    let mut view = View::start(
        3,
        cfg(format!("{}/behind/proxy/", server.url())),
        0,
        Tuning::default(),
    );
    let mut conn = server.next().await;
    assert_eq!(conn.request_line(), "GET /behind/proxy/api/events HTTP/1.1");
    assert_eq!(conn.header("accept").as_deref(), Some("text/event-stream"));
    assert_eq!(conn.header("last-event-id"), None, "{}", conn.head);
    assert_eq!(conn.header("authorization"), None);
    conn.start_stream().await;
    conn.chunk(&format!("{}{}{}", hello(5), entry(1), entry(2)))
        .await;
    // A keep-alive, and an entry split across chunks mid-line.
    let third = entry(3);
    let (a, b) = third.split_at(17);
    conn.chunk(&format!(": keep-alive\n\n{a}")).await;
    conn.chunk(&format!("{b}{}{}", entry(4), entry(5))).await;

    let hello = view.connected().await;
    assert_eq!(hello["last_seq"], 5);
    assert_eq!(hello["version"], "0.1.0");
    for seq in 1..=5 {
        assert_eq!(view.entry().await, (seq, line(seq)));
    }
}

#[tokio::test]
async fn a_cut_connection_resumes_after_the_last_entry_without_repeats() {
    let mut server = Server::start(None).await;
    let mut config = cfg(server.url());
    config.token = Some("s3cret".into());
    let mut view = View::start(0, config, 2, Tuning::default());

    let mut conn = server.next().await;
    assert_eq!(conn.header("last-event-id").as_deref(), Some("2"));
    assert_eq!(
        conn.header("authorization").as_deref(),
        Some("Bearer s3cret")
    );
    conn.start_stream().await;
    // Entry 5 is cut off before its blank line: it must not be delivered from this connection.
    let partial = entry(5);
    conn.chunk(&format!(
        "{}{}{}{}",
        hello(4),
        entry(3),
        entry(4),
        &partial[..partial.len() - 1]
    ))
    .await;
    assert!(view.connected().await.is_object());
    assert_eq!(view.entry().await.0, 3);
    assert_eq!(view.entry().await.0, 4);
    drop(conn);
    let (reason, retry_in) = view.disconnected().await;
    assert_eq!(reason, "the receiver closed the connection mid-stream");
    assert_eq!(retry_in, Duration::from_millis(250), "{reason}");

    let mut conn = server.next().await;
    assert_eq!(conn.header("last-event-id").as_deref(), Some("4"));
    conn.start_stream().await;
    // A server that ignores Last-Event-ID and repeats: the view still gets each entry once.
    conn.chunk(&format!(
        "{}{}{}{}{}",
        hello(6),
        entry(3),
        entry(4),
        entry(5),
        entry(6)
    ))
    .await;
    view.connected().await;
    assert_eq!(view.entry().await, (5, line(5)));
    assert_eq!(view.entry().await, (6, line(6)));
    // Then closing cleanly (the terminating chunk) is also a disconnection, resumed at 6.
    conn.write(b"0\r\n\r\n").await;
    let (reason, retry_in) = view.disconnected().await;
    assert_eq!(reason, "the receiver closed the connection");
    // The backoff went back to its start: this connection got its hello.
    assert_eq!(retry_in, Duration::from_millis(250));
    let conn = server.next().await;
    assert_eq!(conn.header("last-event-id").as_deref(), Some("6"));
}

#[tokio::test]
async fn lagged_makes_the_client_reconnect_from_its_last_entry() {
    let mut server = Server::start(None).await;
    let mut view = View::start(0, cfg(server.url()), 0, Tuning::default());
    let mut conn = server.next().await;
    conn.start_stream().await;
    conn.chunk(&format!(
        "{}{}{}event: lagged\ndata: {{\"last_seq\":2}}\n\n",
        hello(9),
        entry(1),
        entry(2)
    ))
    .await;
    view.connected().await;
    assert_eq!(view.entry().await.0, 1);
    assert_eq!(view.entry().await.0, 2);
    // The server keeps this connection open: the client leaves on its own.
    let (reason, retry_in) = view.disconnected().await;
    assert_eq!(reason, "the receiver said we fell behind (lagged)");
    assert_eq!(retry_in, Duration::from_millis(250));
    let conn2 = server.next().await;
    assert_eq!(conn2.header("last-event-id").as_deref(), Some("2"));
    drop(conn);
}

#[tokio::test]
async fn refusals_name_the_token_and_back_off_doubling() {
    let mut server = Server::start(None).await;
    let mut view = View::start(0, cfg(server.url()), 0, Tuning::default());
    let mut conn = server.next().await;
    conn.answer(
        "401 Unauthorized",
        r#"{"error":"missing bearer token\u001b[31m"}"#,
    )
    .await;
    let (reason, retry_in) = view.disconnected().await;
    assert!(
        reason.starts_with("401: the receiver wants --api-token (it said: missing bearer token"),
        "{reason}"
    );
    assert!(!reason.contains('\x1b'), "{reason}");
    assert_eq!(retry_in, Duration::from_millis(250));
    let mut conn = server.next().await;
    conn.answer("401 Unauthorized", "not json").await;
    let (reason, retry_in) = view.disconnected().await;
    assert_eq!(reason, "401: the receiver wants --api-token");
    assert_eq!(retry_in, Duration::from_millis(500));
    let mut conn = server.next().await;
    conn.answer("404 Not Found", "").await;
    let (reason, retry_in) = view.disconnected().await;
    assert!(reason.starts_with("404: no /api/events here"), "{reason}");
    assert_eq!(retry_in, Duration::from_secs(1));

    let mut config = cfg(server.url());
    config.token = Some("wrong".into());
    let mut view = View::start(1, config, 0, Tuning::default());
    let mut conn = server.next().await;
    conn.answer("401 Unauthorized", r#"{"error":"wrong token"}"#)
        .await;
    let (reason, _) = view.disconnected().await;
    assert_eq!(
        reason,
        "401: the receiver refused our --api-token (it said: wrong token)"
    );
}

#[tokio::test]
async fn a_silent_connection_is_dropped_after_the_idle_timeout_and_resumed() {
    let mut server = Server::start(None).await;
    let tuning = Tuning {
        idle_timeout: Duration::from_millis(300),
        ..Tuning::default()
    };
    let mut view = View::start(0, cfg(server.url()), 0, tuning);
    let mut conn = server.next().await;
    conn.start_stream().await;
    conn.chunk(&format!("{}{}", hello(1), entry(1))).await;
    view.connected().await;
    assert_eq!(view.entry().await.0, 1);
    // The server holds the connection open and sends nothing more.
    let (reason, _) = view.disconnected().await;
    assert_eq!(
        reason,
        "nothing from the receiver for 300 ms; the connection looks dead"
    );
    let conn2 = server.next().await;
    assert_eq!(conn2.header("last-event-id").as_deref(), Some("1"));
    drop(conn);
}

#[tokio::test]
async fn keep_alives_keep_an_idle_connection() {
    let mut server = Server::start(None).await;
    let tuning = Tuning {
        idle_timeout: Duration::from_millis(1500),
        ..Tuning::default()
    };
    let mut view = View::start(0, cfg(server.url()), 0, tuning);
    let mut conn = server.next().await;
    conn.start_stream().await;
    conn.chunk(&hello(0)).await;
    view.connected().await;
    // Twice the idle timeout in keep-alives, one every 50 ms: the connection must survive.
    for _ in 0..60 {
        conn.chunk(": keep-alive\n\n").await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    conn.chunk(&entry(1)).await;
    assert_eq!(view.entry().await.0, 1);
}

#[tokio::test]
async fn an_event_over_the_size_limit_ends_the_connection() {
    let mut server = Server::start(None).await;
    let tuning = Tuning {
        max_event_bytes: 1024,
        ..Tuning::default()
    };
    let mut view = View::start(0, cfg(server.url()), 0, tuning);
    let mut conn = server.next().await;
    conn.start_stream().await;
    conn.chunk(&hello(1)).await;
    view.connected().await;
    conn.chunk(&format!("id: 1\nevent: entry\ndata: {}", "x".repeat(4096)))
        .await;
    let (reason, _) = view.disconnected().await;
    assert_eq!(
        reason,
        "the receiver sent one event larger than 1,024 bytes; dropped the connection"
    );
}

#[tokio::test]
async fn nothing_listening_is_connection_refused() {
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let mut view = View::start(0, cfg(format!("http://{addr}")), 0, Tuning::default());
    let (reason, retry_in) = view.disconnected().await;
    assert_eq!(reason, "connection refused");
    assert_eq!(retry_in, Duration::from_millis(250));
    let (_, retry_in) = view.disconnected().await;
    assert_eq!(retry_in, Duration::from_millis(500));
}

#[tokio::test]
async fn the_task_stops_when_the_view_goes_away_even_on_an_idle_connection() {
    let mut server = Server::start(None).await;
    let mut view = View::start(0, cfg(server.url()), 0, Tuning::default());
    let mut conn = server.next().await;
    conn.start_stream().await;
    conn.chunk(&hello(0)).await;
    // Once connected the task waits for bytes that do not come (the idle timeout is 45 s): only
    // noticing the closed channel can end it within the ceiling.
    view.connected().await;
    let View { rx, task, .. } = view;
    drop(rx);
    tokio::time::timeout(CEILING, task)
        .await
        .expect("the source task outlived its view")
        .unwrap();
}

#[tokio::test]
async fn config_mistakes_are_errors_before_connecting() {
    let (tx, _rx) = mpsc::channel(1);
    let err = spawn_source(0, cfg("ftp://127.0.0.1:1".into()), 0, tx.clone()).unwrap_err();
    assert!(err.contains("must be http or https"), "{err}");
    // The feed's URL itself (as in the README's curl lines) names the base URL to use instead.
    for url in [
        "http://127.0.0.1:1/api/events",
        "http://127.0.0.1:1/api/events/",
    ] {
        let err = spawn_source(0, cfg(url.into()), 0, tx.clone()).unwrap_err();
        assert!(
            err.ends_with("recmon adds /api/events itself: recmon attach http://127.0.0.1:1"),
            "{err}"
        );
    }
    let err = spawn_source(0, cfg("https://h/rec/api/state".into()), 0, tx.clone()).unwrap_err();
    assert!(err.ends_with("recmon attach https://h/rec"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.pem");
    let mut config = cfg("https://127.0.0.1:1".into());
    config.ca_cert = Some(missing);
    let err = spawn_source(0, config.clone(), 0, tx.clone()).unwrap_err();
    assert!(
        err.starts_with("cannot read --ca-cert ") && err.ends_with("missing.pem: no such file"),
        "{err}"
    );

    let not_pem = dir.path().join("key.txt");
    std::fs::write(&not_pem, "just some text\n").unwrap();
    config.ca_cert = Some(not_pem);
    let err = spawn_source(0, config.clone(), 0, tx.clone()).unwrap_err();
    assert!(err.contains("has no certificate in it"), "{err}");

    let garbage = dir.path().join("garbage.pem");
    std::fs::write(
        &garbage,
        "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    config.ca_cert = Some(garbage);
    let err = spawn_source(0, config, 0, tx.clone()).unwrap_err();
    assert!(err.contains("cannot be used as a CA"), "{err}");

    let mut config = cfg("http://127.0.0.1:1".into());
    config.token = Some("bad\ntoken".into());
    let err = spawn_source(0, config, 0, tx).unwrap_err();
    assert!(err.contains("--api-token"), "{err}");
}

/// A private CA and a server certificate it signed for 127.0.0.1 and localhost.
struct TestPki {
    ca_pem: String,
    acceptor: tokio_rustls::TlsAcceptor,
}

fn test_pki() -> TestPki {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "recmon test CA");
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);

    let server_key = KeyPair::generate().unwrap();
    let server_params =
        CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    let server_cert = server_params.signed_by(&server_key, &issuer).unwrap();

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![server_cert.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der())),
        )
        .unwrap();
    TestPki {
        ca_pem: ca_cert.pem(),
        acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
    }
}

#[tokio::test]
async fn https_with_a_private_ca_from_ca_cert() {
    let pki = test_pki();
    let mut server = Server::start(Some(pki.acceptor)).await;
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &pki.ca_pem).unwrap();
    let mut config = cfg(format!("https://{}/", server.addr));
    config.ca_cert = Some(ca_file);
    let mut view = View::start(0, config, 0, Tuning::default());
    let mut conn = server.next().await;
    assert_eq!(conn.request_line(), "GET /api/events HTTP/1.1");
    conn.start_stream().await;
    conn.chunk(&format!("{}{}", hello(1), entry(1))).await;
    assert_eq!(view.connected().await["last_seq"], 1);
    assert_eq!(view.entry().await, (1, line(1)));
}

#[tokio::test]
async fn https_without_the_ca_says_the_certificate_is_not_trusted() {
    let pki = test_pki();
    let mut server = Server::start(Some(pki.acceptor)).await;
    let mut view = View::start(
        0,
        cfg(format!("https://{}", server.addr)),
        0,
        Tuning::default(),
    );
    let (reason, _) = view.disconnected().await;
    assert_eq!(
        reason,
        "the receiver's TLS certificate is not signed by an authority this machine trusts; \
         for a private CA pass --ca-cert FILE"
    );
    // No request ever got through the refused handshake.
    assert!(server.conns.try_recv().is_err());
}

/// A hello like [`hello`] from a receiver with another journal and start time.
fn hello_of(journal: &str, started_at: &str, last_seq: u64) -> String {
    format!(
        "event: hello\ndata: {{\"version\":\"0.1.0\",\"listen\":\"127.0.0.1:8080\",\"journal\":\"{journal}\",\
         \"started_at\":\"{started_at}\",\"signature_checking\":false,\"last_seq\":{last_seq}}}\n\n"
    )
}

#[tokio::test]
async fn a_receiver_restarted_without_resume_is_named_not_silently_skipped() {
    let mut server = Server::start(None).await;
    let mut view = View::start(0, cfg(server.url()), 0, Tuning::default());

    let mut conn = server.next().await;
    conn.start_stream().await;
    conn.chunk(&format!("{}{}{}", hello(2), entry(1), entry(2)))
        .await;
    view.connected().await;
    assert_eq!(view.entry().await.0, 1);
    assert_eq!(view.entry().await.0, 2);
    drop(conn);
    view.disconnected().await;

    // Restarted with a new journal file: its entry 1 must not be waited past in silence.
    let mut conn = server.next().await;
    assert_eq!(conn.header("last-event-id").as_deref(), Some("2"));
    conn.start_stream().await;
    conn.chunk(&format!(
        "{}{}",
        hello_of("recmon-new.jsonl", "2026-11-27T18:00:00Z", 1),
        entry(1)
    ))
    .await;
    let (reason, retry_in) = view.disconnected().await;
    assert!(
        reason.starts_with("restarted without --resume: quit and attach again"),
        "{reason}"
    );
    assert!(reason.contains("\"recmon-new.jsonl\" at #1"), "{reason}");
    assert!(
        reason.contains("; this view holds another, up to #2)"),
        "{reason}"
    );
    // Not a connection that counts: the retries slow down to the cap.
    assert!(retry_in > Duration::from_millis(250), "{retry_in:?}");

    // The same path, but its seq is behind ours: a file moved away and a new one started.
    let mut conn = server.next().await;
    conn.start_stream().await;
    conn.chunk(&hello_of("recmon.jsonl", "2026-11-27T18:00:00Z", 1))
        .await;
    let (reason, _) = view.disconnected().await;
    assert!(
        reason.starts_with("restarted without --resume: quit and attach again"),
        "{reason}"
    );

    // Restarted with --resume: the same journal (named from another working directory), a
    // later process. Followed on.
    let mut conn = server.next().await;
    assert_eq!(conn.header("last-event-id").as_deref(), Some("2"));
    conn.start_stream().await;
    conn.chunk(&format!(
        "{}{}",
        hello_of("../rec/recmon.jsonl", "2026-11-27T18:00:00Z", 3),
        entry(3)
    ))
    .await;
    view.connected().await;
    assert_eq!(view.entry().await.0, 3);
    view.task.abort();
}

/// A hello from a receiver that says its journal's id.
fn hello_with_id(journal: &str, id: &str, last_seq: u64) -> String {
    format!(
        "event: hello\ndata: {{\"version\":\"0.1.0\",\"listen\":\"127.0.0.1:8080\",\"journal\":\"{journal}\",\
         \"journal_id\":\"{id}\",\"started_at\":\"2026-11-27T17:54:13.847Z\",\"signature_checking\":false,\
         \"last_seq\":{last_seq}}}\n\n"
    )
}

#[tokio::test]
async fn a_new_journal_at_the_same_path_is_told_by_its_id_even_when_it_is_ahead() {
    let mut server = Server::start(None).await;
    let mut view = View::start(0, cfg(server.url()), 0, Tuning::default());

    let mut conn = server.next().await;
    conn.start_stream().await;
    conn.chunk(&format!(
        "{}{}{}",
        hello_with_id("recmon.jsonl", "j-00000000000000aa", 2),
        entry(1),
        entry(2)
    ))
    .await;
    view.connected().await;
    assert_eq!(view.entry().await.0, 1);
    assert_eq!(view.entry().await.0, 2);
    drop(conn);
    view.disconnected().await;

    // The file was deleted and the receiver started again without --resume: the same name,
    // and by the time the view reconnects the new journal is past the view's #2, so neither
    // the name nor the seq tells it from a resumed one. Its #3 is not ours.
    let mut conn = server.next().await;
    assert_eq!(conn.header("last-event-id").as_deref(), Some("2"));
    conn.start_stream().await;
    conn.chunk(&format!(
        "{}{}",
        hello_with_id("recmon.jsonl", "j-00000000000000bb", 5),
        entry(3)
    ))
    .await;
    let (reason, _) = view.disconnected().await;
    assert!(
        reason.starts_with("restarted without --resume: quit and attach again"),
        "{reason}"
    );
    assert!(
        reason.contains("\"recmon.jsonl\" at #5, a new journal at the same path; this view holds another, up to #2)"),
        "{reason}"
    );

    // The first journal resumed under another name (moved, then --resume): the same id, so
    // it is followed on.
    let mut conn = server.next().await;
    assert_eq!(conn.header("last-event-id").as_deref(), Some("2"));
    conn.start_stream().await;
    conn.chunk(&format!(
        "{}{}",
        hello_with_id("archive/cam.jsonl", "j-00000000000000aa", 3),
        entry(3)
    ))
    .await;
    view.connected().await;
    assert_eq!(view.entry().await.0, 3);
    view.task.abort();
}
