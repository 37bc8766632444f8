//! Owns the loopback origins cf-doctor probes in tests: a TLS origin serving any chain (even a
//! broken one), optionally demanding a client certificate (origin mTLS) or listening on both
//! 127.0.0.1 and ::1 (a dual-stack origin), a plain HTTP origin, a silent origin and a refused
//! port.
//!
//! Each origin listens on 127.0.0.1:0 (and [::1] on the same port when dual-stack) and runs on
//! the current tokio runtime; dropping the [`Origin`] stops the listeners and every open
//! connection.
//!
//! Because the origin shares the test's runtime, a test must not block that runtime while the
//! code under test talks to the origin: running the cf-doctor binary with a blocking
//! `std::process::Command::output()` inside a current-thread `#[tokio::test]` starves the origin
//! (every probe then times out). Use `tokio::process::Command`, or
//! `#[tokio::test(flavor = "multi_thread")]`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert, ServerConfig, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;
use tokio_rustls::TlsAcceptor;

use crate::http;

/// What a TLS origin serves.
#[derive(Debug)]
pub struct OriginConfig {
    /// Sent exactly in this order (leaf first when correct), so tests can also send a wrong
    /// order or a missing intermediate.
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
    /// Refuse TLS 1.2 (tests CloudFront's OriginSslProtocols mismatch).
    pub tls13_only: bool,
    /// HTTP status of every response.
    pub status: u16,
    /// Wait before writing the response head (tests origin read timeouts).
    pub delay: Duration,
    /// Extra response headers, e.g. `X-Cache: Error from cloudfront` for a stand-in edge.
    pub headers: Vec<(String, String)>,
    /// Demand a client certificate issued by this CA (origin mTLS): a client without one fails
    /// the handshake. `None`: no client certificate is requested.
    pub client_ca: Option<CertificateDer<'static>>,
}

impl OriginConfig {
    /// Status 200, no delay, TLS 1.2 and 1.3.
    pub fn new(chain: Vec<CertificateDer<'static>>, key: PrivateKeyDer<'static>) -> OriginConfig {
        OriginConfig {
            chain,
            key,
            tls13_only: false,
            status: 200,
            delay: Duration::ZERO,
            headers: Vec::new(),
            client_ca: None,
        }
    }
}

/// A running loopback origin. Dropping it closes its listeners and all their connections.
#[derive(Debug)]
pub struct Origin {
    /// Where it listens on IPv4 (127.0.0.1); see [`Origin::addrs`] for a dual-stack origin.
    pub addr: SocketAddr,
    addrs: Vec<SocketAddr>,
    seen: Arc<Seen>,
    tasks: Vec<AbortHandle>,
}

#[derive(Debug, Default)]
struct Seen {
    hosts: Mutex<Vec<String>>,
    snis: Mutex<Vec<String>>,
    connections: Mutex<usize>,
    arrived_at: Mutex<Vec<SocketAddr>>,
}

fn push(list: &Mutex<Vec<String>>, value: String) {
    list.lock().unwrap_or_else(|p| p.into_inner()).push(value);
}

impl Origin {
    /// The port (the origin always listens on 127.0.0.1).
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The Host header of every request read so far, in arrival order (recorded as soon as the
    /// request head arrives, before any configured delay).
    pub fn hosts_seen(&self) -> Vec<String> {
        self.seen
            .hosts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The TLS SNI of every ClientHello so far ("" when the client sent none). TLS origins only.
    pub fn sni_seen(&self) -> Vec<String> {
        self.seen
            .snis
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// How many TCP connections were accepted so far.
    pub fn connections(&self) -> usize {
        *self
            .seen
            .connections
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Every address the origin listens on: `[127.0.0.1:P]`, or `[127.0.0.1:P, [::1]:P]` for a
    /// dual-stack origin.
    pub fn addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// The local address each accepted TCP connection arrived at, in arrival order: tells which
    /// address family a client used to reach a dual-stack origin.
    pub fn arrived_at(&self) -> Vec<SocketAddr> {
        self.seen
            .arrived_at
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl Drop for Origin {
    fn drop(&mut self) {
        // Aborting an accept loop drops its JoinSet, which aborts every connection task.
        for task in &self.tasks {
            task.abort();
        }
    }
}

async fn bind() -> TcpListener {
    TcpListener::bind("127.0.0.1:0")
        .await
        .expect("cannot bind 127.0.0.1:0 for a test origin: is loopback networking available?")
}

fn spawn_accept_loop<F, Fut>(listener: TcpListener, seen: Arc<Seen>, handle: F) -> AbortHandle
where
    F: Fn(TcpStream, Arc<Seen>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    crate::serve::accept_loop(listener, move |stream| {
        *seen.connections.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        if let Ok(local) = stream.local_addr() {
            seen.arrived_at
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(local);
        }
        handle(stream, Arc::clone(&seen))
    })
}

fn local_addr(listener: &TcpListener) -> SocketAddr {
    listener
        .local_addr()
        .expect("a bound loopback listener has no local address (getsockname failed): rerun; if it persists, check the sandbox network namespace")
}

/// An origin whose listeners all run `handle`.
fn origin_on<F, Fut>(listeners: Vec<TcpListener>, seen: Arc<Seen>, handle: F) -> Origin
where
    F: Fn(TcpStream, Arc<Seen>) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let addrs: Vec<SocketAddr> = listeners.iter().map(local_addr).collect();
    let tasks = listeners
        .into_iter()
        .map(|listener| spawn_accept_loop(listener, Arc::clone(&seen), handle.clone()))
        .collect();
    Origin {
        addr: addrs[0],
        addrs,
        seen,
        tasks,
    }
}

/// A TLS origin on 127.0.0.1 serving `cfg.chain` (exactly as given) with `cfg.key`.
pub async fn tls_origin(cfg: OriginConfig) -> Origin {
    tls_origin_on(cfg, vec![bind().await])
}

/// Attempts at finding a port free on both 127.0.0.1 and ::1.
const DUAL_STACK_ATTEMPTS: usize = 20;

/// The same TLS origin on 127.0.0.1:P and [::1]:P (one port, one certificate, one record of
/// hosts and connections), so a name with an A record 127.0.0.1 and an AAAA record ::1 reaches
/// one server whichever family the client picks. [`Origin::arrived_at`] tells which it picked.
pub async fn tls_origin_dual_stack(cfg: OriginConfig) -> Origin {
    let mut last_error = None;
    for _ in 0..DUAL_STACK_ATTEMPTS {
        let v4 = bind().await;
        let port = local_addr(&v4).port();
        // The port is free on 127.0.0.1; another process may hold it on ::1: then try another.
        match TcpListener::bind((std::net::Ipv6Addr::LOCALHOST, port)).await {
            Ok(v6) => return tls_origin_on(cfg, vec![v4, v6]),
            Err(e) => last_error = Some(e),
        }
    }
    panic!(
        "found no port free on both 127.0.0.1 and [::1] in {DUAL_STACK_ATTEMPTS} attempts (last error: {last_error:?}): is IPv6 enabled on loopback (`ip -6 addr show lo` lists ::1)?"
    )
}

/// A TLS origin on a given loopback address, e.g. `127.0.0.N:443` for a stand-in CloudFront edge
/// (viewers always connect on 443). Binding a port under 1024 needs root or CAP_NET_BIND_SERVICE.
pub async fn tls_origin_at(cfg: OriginConfig, addr: SocketAddr) -> Origin {
    assert!(
        addr.ip().is_loopback(),
        "test origins listen on loopback only, not {addr}"
    );
    let listener = TcpListener::bind(addr).await.unwrap_or_else(|e| {
        panic!("cannot bind {addr} for a stand-in edge: {e} (ports under 1024 need root or CAP_NET_BIND_SERVICE)")
    });
    tls_origin_on(cfg, vec![listener])
}

fn tls_origin_on(cfg: OriginConfig, listeners: Vec<TcpListener>) -> Origin {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let versions: &[&'static rustls::SupportedProtocolVersion] = if cfg.tls13_only {
        &[&rustls::version::TLS13]
    } else {
        &[&rustls::version::TLS12, &rustls::version::TLS13]
    };
    let seen = Arc::new(Seen::default());
    let resolver = FixedChain::new(&provider, cfg.chain, cfg.key, Arc::clone(&seen));
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(versions)
        .expect("aws-lc-rs provider does not support TLS 1.2/1.3: rustls features out of sync?");
    let config = match cfg.client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => builder.with_client_cert_verifier(client_verifier(ca, provider)),
    }
    .with_cert_resolver(Arc::new(resolver));
    let acceptor = TlsAcceptor::from(Arc::new(config));

    let (status, delay) = (cfg.status, cfg.delay);
    let headers = Arc::new(cfg.headers);
    origin_on(listeners, seen, move |stream, seen| {
        let acceptor = acceptor.clone();
        let headers = Arc::clone(&headers);
        async move {
            // Errors are expected and ignored: the client under test may reject the
            // certificate and hang up mid-handshake, which is the point of many tests.
            if let Ok(mut tls) = acceptor.accept(stream).await {
                let _ = serve(&mut tls, &seen, status, delay, &headers).await;
            }
        }
    })
}

/// Requires a client certificate chaining to `ca` (webpki's verifier is mandatory by default:
/// a client that sends none fails the handshake).
fn client_verifier(
    ca: CertificateDer<'static>,
    provider: Arc<CryptoProvider>,
) -> Arc<dyn rustls::server::danger::ClientCertVerifier> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca).unwrap_or_else(|e| {
        panic!("rustls rejected the client CA certificate: {e}: pass TestCa::cert_der()")
    });
    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
        .build()
        .unwrap_or_else(|e| panic!("rustls cannot build a client certificate verifier: {e}"))
}

/// A plain HTTP origin on 127.0.0.1 answering `status` after `delay`.
pub async fn plain_http_origin(status: u16, delay: Duration) -> Origin {
    let seen = Arc::new(Seen::default());
    origin_on(
        vec![bind().await],
        seen,
        move |mut stream, seen| async move {
            let _ = serve(&mut stream, &seen, status, delay, &[]).await;
        },
    )
}

/// An origin that accepts TCP connections and never sends a byte (a hung backend / black-holed
/// TLS): sockets stay open until the [`Origin`] is dropped.
///
/// Not a firewall: the TCP handshake completes here. For a connect that times out (SYNs
/// dropped), see [`crate::syn_dropper`].
pub async fn silent_origin() -> Origin {
    let seen = Arc::new(Seen::default());
    origin_on(vec![bind().await], seen, |stream, _| async move {
        // Hold the socket without reading: the client's ClientHello sits unanswered.
        let _keep_open = stream;
        std::future::pending::<()>().await;
    })
}

/// A loopback port with nothing listening (connections are refused). The port was free a moment
/// ago; another process could grab it, which is unlikely enough for tests.
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("cannot bind 127.0.0.1:0 to find a closed port: is loopback networking available?");
    listener
        .local_addr()
        .expect("a bound loopback listener has no local address (getsockname failed): rerun; if it persists, check the sandbox network namespace")
        .port()
}

async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    seen: &Seen,
    status: u16,
    delay: Duration,
    extra: &[(String, String)],
) -> std::io::Result<()> {
    let (head, _) = http::read_head(stream).await?;
    push(
        &seen.hosts,
        head.header("host").unwrap_or_default().to_string(),
    );
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let body = format!("testkit origin answered {status} for {}\n", head.path);
    let mut headers = vec![
        ("Server", "testkit-origin".to_string()),
        ("Content-Type", "text/plain".to_string()),
    ];
    headers.extend(extra.iter().map(|(k, v)| (k.as_str(), v.clone())));
    http::write_response(
        stream,
        status,
        &headers,
        body.as_bytes(),
        head.method != "HEAD",
    )
    .await
}

/// Serves one fixed chain whatever the SNI, without rustls' check that the key matches the first
/// certificate (`with_single_cert` does that check, which would forbid wrong-order chains).
#[derive(Debug)]
struct FixedChain {
    key: Arc<CertifiedKey>,
    seen: Arc<Seen>,
}

impl FixedChain {
    fn new(
        provider: &CryptoProvider,
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
        seen: Arc<Seen>,
    ) -> FixedChain {
        let signing_key = provider
            .key_provider
            .load_private_key(key)
            .unwrap_or_else(|e| panic!("rustls cannot load the origin's private key: {e}: pass a PKCS#8 key such as Leaf::key_der"));
        FixedChain {
            key: Arc::new(CertifiedKey::new(chain, signing_key)),
            seen,
        }
    }
}

impl ResolvesServerCert for FixedChain {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        push(
            &self.seen.snis,
            hello.server_name().unwrap_or_default().to_string(),
        );
        Some(Arc::clone(&self.key))
    }
}
