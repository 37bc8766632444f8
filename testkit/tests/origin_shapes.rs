//! Proves two production origin shapes with real rustls clients:
//! - an origin that demands a client certificate (origin mTLS) refuses a client without one,
//!   with a different error in TLS 1.2 (the handshake fails) and TLS 1.3 (the handshake seems to
//!   complete and the refusal arrives on the first read), and serves a client presenting a
//!   certificate from its CA. Both a rustls server (alert certificate_required in both
//!   versions) and an OpenSSL one (handshake_failure in TLS 1.2, as nginx and most production
//!   servers send) are shown;
//! - a dual-stack origin is one server on 127.0.0.1 and ::1, same port.

use std::net::SocketAddr;
use std::sync::Arc;

use cf_doctor_testkit::{
    openssl_mtls_origin, tls_origin, tls_origin_dual_stack, Leaf, LeafSpec, Origin, OriginConfig,
    TestCa,
};
use rustls::pki_types::ServerName;
use rustls::{AlertDescription, Error};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

const NAME: &str = "origin.shapes.test";

/// Where a TLS exchange failed.
#[derive(Debug, PartialEq)]
enum Failure {
    /// `connect()` (the client's side of the handshake) returned this error.
    Handshake(Error),
    /// The handshake completed from the client's side; the first read returned this error.
    FirstRead(Error),
}

fn rustls_error(e: std::io::Error) -> Error {
    match e.into_inner().map(|inner| inner.downcast::<Error>()) {
        Some(Ok(e)) => *e,
        other => panic!("not a rustls error: {other:?}"),
    }
}

/// Handshakes as NAME with `versions`, optionally presenting `client`, sends a GET to `addr`
/// and reads the response.
async fn exchange(
    addr: SocketAddr,
    ca: &TestCa,
    versions: &[&'static rustls::SupportedProtocolVersion],
    client: Option<&Leaf>,
) -> Result<String, Failure> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(ca.root_store());
    let config = match client {
        None => builder.with_no_client_auth(),
        Some(leaf) => builder
            .with_client_auth_cert(leaf.full_chain(), leaf.key_der.clone_key())
            .expect("a client certificate and its key"),
    };
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let mut tls = TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from(NAME).unwrap(), tcp)
        .await
        .map_err(|e| Failure::Handshake(rustls_error(e)))?;
    tls.write_all(format!("GET / HTTP/1.1\r\nHost: {NAME}\r\n\r\n").as_bytes())
        .await
        .map_err(|e| Failure::FirstRead(rustls_error(e)))?;
    let mut response = String::new();
    match tls.read_to_string(&mut response).await {
        Ok(_) => Ok(response),
        // The origin may close without close_notify after a complete response.
        Err(_) if response.starts_with("HTTP/1.") => Ok(response),
        Err(e) => Err(Failure::FirstRead(rustls_error(e))),
    }
}

const TLS12: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS12];
const TLS13: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS13];

async fn mtls_origin(server_ca: &TestCa, client_ca: &TestCa) -> Origin {
    let leaf = server_ca.leaf(&LeafSpec::valid_for(&[NAME]));
    let mut cfg = OriginConfig::new(leaf.full_chain(), leaf.key_der.clone_key());
    cfg.client_ca = Some(client_ca.cert_der());
    tls_origin(cfg).await
}

#[tokio::test]
async fn an_mtls_origin_refuses_a_client_without_a_certificate() {
    let ca = TestCa::new("mtls server root");
    let clients = TestCa::new("mtls client root");
    let origin = mtls_origin(&ca, &clients).await;

    let tls12 = exchange(origin.addr, &ca, TLS12, None)
        .await
        .expect_err("TLS 1.2 without a client certificate");
    println!("TLS 1.2, no client certificate: {tls12:?}");
    assert_eq!(
        tls12,
        Failure::Handshake(Error::AlertReceived(AlertDescription::CertificateRequired)),
        "TLS 1.2: the server refuses before its Finished, so the handshake itself fails"
    );

    let tls13 = exchange(origin.addr, &ca, TLS13, None)
        .await
        .expect_err("TLS 1.3 without a client certificate");
    println!("TLS 1.3, no client certificate: {tls13:?}");
    assert_eq!(
        tls13,
        Failure::FirstRead(Error::AlertReceived(AlertDescription::CertificateRequired)),
        "TLS 1.3: the client finishes first, the server's refusal comes with the first read"
    );
    assert_eq!(
        Error::AlertReceived(AlertDescription::CertificateRequired).to_string(),
        "received fatal alert: CertificateRequired"
    );
}

#[tokio::test]
async fn an_mtls_origin_serves_a_client_with_a_certificate_from_its_ca_only() {
    let ca = TestCa::new("mtls server root");
    let clients = TestCa::new("mtls client root");
    let origin = mtls_origin(&ca, &clients).await;
    let good = clients.client_leaf(&LeafSpec::valid_for(&["edge.client.test"]));

    for versions in [TLS12, TLS13] {
        let page = exchange(origin.addr, &ca, versions, Some(&good))
            .await
            .unwrap_or_else(|e| panic!("{versions:?} with a certificate from the CA: {e:?}"));
        assert!(page.starts_with("HTTP/1.1 200 OK"), "{page}");
    }

    let stranger =
        TestCa::new("another client root").client_leaf(&LeafSpec::valid_for(&["edge.client.test"]));
    let refused = exchange(origin.addr, &ca, TLS12, Some(&stranger))
        .await
        .expect_err("a certificate from another CA");
    println!("TLS 1.2, client certificate from another CA: {refused:?}");
    assert_eq!(
        refused,
        Failure::Handshake(Error::AlertReceived(AlertDescription::UnknownCA))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_openssl_mtls_origin_refuses_with_handshake_failure_in_tls12() {
    let ca = TestCa::new("openssl mtls server root");
    let clients = TestCa::new("openssl mtls client root");
    let leaf = ca.leaf(&LeafSpec::valid_for(&[NAME]));
    let origin = openssl_mtls_origin(&leaf, &clients.cert_pem());

    let tls12 = exchange(origin.addr, &ca, TLS12, None)
        .await
        .expect_err("TLS 1.2 without a client certificate");
    println!("OpenSSL, TLS 1.2, no client certificate: {tls12:?}");
    assert_eq!(
        tls12,
        Failure::Handshake(Error::AlertReceived(AlertDescription::HandshakeFailure)),
        "OpenSSL's TLS 1.2 refusal is the same alert as 'no cipher suite in common'"
    );

    let tls13 = exchange(origin.addr, &ca, TLS13, None)
        .await
        .expect_err("TLS 1.3 without a client certificate");
    println!("OpenSSL, TLS 1.3, no client certificate: {tls13:?}");
    assert_eq!(
        tls13,
        Failure::FirstRead(Error::AlertReceived(AlertDescription::CertificateRequired))
    );

    let good = clients.client_leaf(&LeafSpec::valid_for(&["edge.client.test"]));
    for versions in [TLS12, TLS13] {
        let page = exchange(origin.addr, &ca, versions, Some(&good))
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "{versions:?} with a certificate from the CA: {e:?}: {}",
                    origin.output_tail()
                )
            });
        assert!(page.starts_with("HTTP/1.0 200 ok"), "{page}");
    }
}

/// Records whether the server asked for a client certificate (rustls calls the resolver when a
/// CertificateRequest arrives) and offers none.
#[derive(Debug, Default)]
struct AskedForCertificate(std::sync::atomic::AtomicUsize);

impl rustls::client::ResolvesClientCert for AskedForCertificate {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[rustls::SignatureScheme],
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        None
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// A TLS 1.2 handshake with `addr` offering no client certificate: (the error, whether the
/// server sent a CertificateRequest first).
async fn tls12_handshake_noting_certificate_requests(
    addr: SocketAddr,
    ca: &TestCa,
) -> (Error, bool) {
    let asked = Arc::new(AskedForCertificate::default());
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(TLS12)
        .unwrap()
        .with_root_certificates(ca.root_store())
        .with_client_cert_resolver(asked.clone());
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let e = TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from(NAME).unwrap(), tcp)
        .await
        .expect_err("the handshake fails");
    (
        rustls_error(e),
        asked.0.load(std::sync::atomic::Ordering::SeqCst) > 0,
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_tls12_alert_is_told_apart_by_whether_a_certificate_was_requested() {
    let ca = TestCa::new("tell-apart root");
    let clients = TestCa::new("tell-apart client root");
    let leaf = ca.leaf(&LeafSpec::valid_for(&[NAME]));
    let mtls = openssl_mtls_origin(&leaf, &clients.cert_pem());
    let cbc =
        cf_doctor_testkit::legacy_tls_origin(cf_doctor_testkit::LegacyTls::Tls12CbcOnly, &leaf);

    let (mtls_error, mtls_asked) =
        tls12_handshake_noting_certificate_requests(mtls.addr, &ca).await;
    let (cbc_error, cbc_asked) = tls12_handshake_noting_certificate_requests(cbc.addr, &ca).await;
    let handshake_failure = Error::AlertReceived(AlertDescription::HandshakeFailure);
    assert_eq!(
        (mtls_error, mtls_asked),
        (handshake_failure.clone(), true),
        "mTLS origin"
    );
    assert_eq!(
        (cbc_error, cbc_asked),
        (handshake_failure, false),
        "CBC-only origin"
    );
}

#[tokio::test]
async fn a_dual_stack_origin_is_one_server_on_127_0_0_1_and_ipv6_loopback() {
    let ca = TestCa::new("dual-stack root");
    let leaf = ca.leaf(&LeafSpec::valid_for(&[NAME]));
    let origin = tls_origin_dual_stack(OriginConfig::new(
        leaf.full_chain(),
        leaf.key_der.clone_key(),
    ))
    .await;
    let addrs = origin.addrs().to_vec();
    assert_eq!(addrs.len(), 2, "{addrs:?}");
    assert_eq!(addrs[0], origin.addr);
    assert_eq!(addrs[0].ip().to_string(), "127.0.0.1");
    assert_eq!(addrs[1].ip().to_string(), "::1");
    assert_eq!(addrs[0].port(), addrs[1].port(), "the same port on both");

    for addr in &addrs {
        let page = exchange(*addr, &ca, TLS13, None)
            .await
            .unwrap_or_else(|e| panic!("{addr}: {e:?}"));
        assert!(page.starts_with("HTTP/1.1 200 OK"), "{addr}: {page}");
    }
    assert_eq!(origin.connections(), 2, "one server saw both connections");
    assert_eq!(origin.arrived_at(), addrs, "one over each family, in order");
    assert_eq!(origin.hosts_seen(), vec![NAME, NAME]);
    assert_eq!(origin.sni_seen(), vec![NAME, NAME]);
}

#[tokio::test]
async fn a_plain_tls_origin_listens_on_ipv4_only() {
    let ca = TestCa::new("v4 root");
    let leaf = ca.leaf(&LeafSpec::valid_for(&[NAME]));
    let origin = tls_origin(OriginConfig::new(
        leaf.full_chain(),
        leaf.key_der.clone_key(),
    ))
    .await;
    assert_eq!(origin.addrs(), &[origin.addr]);
    let v6 = SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, origin.port()));
    let e = TcpStream::connect(v6).await.expect_err("nothing on ::1");
    assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused);
}
