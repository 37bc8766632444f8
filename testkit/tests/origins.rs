//! Checks the loopback origins and test certificates behave as cf-doctor's tests assume: a real
//! TLS client (rustls, trusting only the test CA) sees exactly the failure each one simulates.

use std::sync::Arc;
use std::time::{Duration, Instant};

use cf_doctor_testkit::{
    closed_port, plain_http_origin, self_signed, silent_origin, tls_origin, LeafSpec, Origin,
    OriginConfig, TestCa,
};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

fn connector(ca: &TestCa, tls12_only: bool) -> TlsConnector {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider);
    let builder = if tls12_only {
        builder.with_protocol_versions(&[&rustls::version::TLS12])
    } else {
        builder.with_safe_default_protocol_versions()
    };
    let config = builder
        .expect("protocol versions")
        .with_root_certificates(ca.root_store())
        .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}

/// Handshakes as `name`, sends a GET, returns the whole response or the TLS error text.
async fn get(origin: &Origin, ca: &TestCa, name: &str, tls12_only: bool) -> Result<String, String> {
    let tcp = TcpStream::connect(origin.addr)
        .await
        .expect("connect to origin");
    let server_name = ServerName::try_from(name.to_string()).expect("server name");
    let mut tls = connector(ca, tls12_only)
        .connect(server_name, tcp)
        .await
        .map_err(|e| e.to_string())?;
    tls.write_all(format!("GET /health HTTP/1.1\r\nHost: {name}\r\n\r\n").as_bytes())
        .await
        .expect("write request");
    let mut response = String::new();
    // The origin closes without close_notify being guaranteed; what was read is what counts.
    let _ = tls.read_to_string(&mut response).await;
    Ok(response)
}

#[tokio::test]
async fn tls_origin_serves_a_chain_the_test_ca_validates() {
    let root = TestCa::new("origins root");
    let issuing = root.intermediate("origins issuing");
    let leaf = issuing.leaf(&LeafSpec::valid_for(&["origin.shop.example"]));
    assert_eq!(leaf.chain.len(), 1);
    assert_eq!(leaf.full_chain().len(), 2);
    assert!(leaf.chain_pem.starts_with("-----BEGIN CERTIFICATE-----"));
    let origin = tls_origin(OriginConfig::new(
        leaf.full_chain(),
        leaf.key_der.clone_key(),
    ))
    .await;

    let response = get(&origin, &root, "origin.shop.example", false)
        .await
        .expect("handshake");
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(
        response.contains("Server: testkit-origin\r\n"),
        "{response}"
    );
    assert_eq!(origin.hosts_seen(), ["origin.shop.example"]);
    assert_eq!(origin.sni_seen(), ["origin.shop.example"]);
    assert_eq!(origin.connections(), 1);
}

#[tokio::test]
async fn tls_origin_reports_status_and_tls12_still_works() {
    let ca = TestCa::new("origins root");
    let leaf = ca.leaf(&LeafSpec::valid_for(&["origin.example"]));
    let mut cfg = OriginConfig::new(leaf.full_chain(), leaf.key_der.clone_key());
    cfg.status = 503;
    let origin = tls_origin(cfg).await;
    let response = get(&origin, &ca, "origin.example", true)
        .await
        .expect("TLS 1.2 handshake");
    assert!(
        response.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
        "{response}"
    );
}

#[tokio::test]
async fn expired_not_yet_valid_and_self_signed_leaves_are_rejected() {
    let ca = TestCa::new("origins root");
    let cases = [
        (
            ca.leaf(&LeafSpec::valid_for(&["o.example"]).expired_days_ago(3)),
            "expired",
        ),
        (
            ca.leaf(&LeafSpec::valid_for(&["o.example"]).not_yet_valid()),
            "not valid yet",
        ),
        (
            self_signed(&LeafSpec::valid_for(&["o.example"])),
            "UnknownIssuer",
        ),
        (
            ca.leaf(&LeafSpec::valid_for(&["other.example"])),
            "not valid for name",
        ),
    ];
    for (leaf, expected) in cases {
        let origin = tls_origin(OriginConfig::new(
            leaf.full_chain(),
            leaf.key_der.clone_key(),
        ))
        .await;
        let err = get(&origin, &ca, "o.example", false)
            .await
            .expect_err("handshake must fail");
        assert!(err.contains(expected), "wanted {expected:?} in {err:?}");
    }
}

#[tokio::test]
async fn chains_are_sent_exactly_as_given_even_in_the_wrong_order() {
    let root = TestCa::new("origins root");
    let issuing = root.intermediate("origins issuing");
    let leaf = issuing.leaf(&LeafSpec::valid_for(&["o.example"]));

    // Missing intermediate: the client cannot build a path to the root.
    let origin = tls_origin(OriginConfig::new(
        vec![leaf.cert_der.clone()],
        leaf.key_der.clone_key(),
    ))
    .await;
    let err = get(&origin, &root, "o.example", false)
        .await
        .expect_err("incomplete chain");
    assert!(err.contains("UnknownIssuer"), "{err}");

    // Intermediate first: the server still starts (no key/cert consistency check) and the
    // client sees the intermediate as the end-entity certificate.
    let reversed = vec![leaf.chain[0].clone(), leaf.cert_der.clone()];
    let origin = tls_origin(OriginConfig::new(reversed, leaf.key_der.clone_key())).await;
    let err = get(&origin, &root, "o.example", false)
        .await
        .expect_err("wrong order");
    assert!(!err.is_empty());
    assert_eq!(origin.connections(), 1);
}

#[tokio::test]
async fn tls13_only_origin_refuses_a_tls12_client() {
    let ca = TestCa::new("origins root");
    let leaf = ca.leaf(&LeafSpec::valid_for(&["o.example"]));
    let mut cfg = OriginConfig::new(leaf.full_chain(), leaf.key_der.clone_key());
    cfg.tls13_only = true;
    let origin = tls_origin(cfg).await;
    let err = get(&origin, &ca, "o.example", true)
        .await
        .expect_err("TLS 1.2 client vs 1.3-only origin");
    assert!(err.to_lowercase().contains("protocol"), "{err}");
    get(&origin, &ca, "o.example", false)
        .await
        .expect("TLS 1.3 client is fine");
}

#[tokio::test]
async fn plain_http_origin_delays_the_response_head() {
    let origin = plain_http_origin(404, Duration::from_millis(300)).await;
    let mut tcp = TcpStream::connect(origin.addr).await.expect("connect");
    let started = Instant::now();
    tcp.write_all(b"GET / HTTP/1.1\r\nHost: plain.example\r\n\r\n")
        .await
        .expect("write");
    let mut response = String::new();
    tcp.read_to_string(&mut response).await.expect("read");
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(
        response.starts_with("HTTP/1.1 404 Not Found\r\n"),
        "{response}"
    );
    assert_eq!(origin.hosts_seen(), ["plain.example"]);
}

#[tokio::test]
async fn silent_origin_accepts_and_never_answers() {
    let origin = silent_origin().await;
    let mut tcp = TcpStream::connect(origin.addr)
        .await
        .expect("silent origin accepts TCP");
    tcp.write_all(b"\x16\x03\x01 not really a ClientHello")
        .await
        .expect("write");
    let mut buf = [0u8; 1];
    let read = tokio::time::timeout(Duration::from_millis(300), tcp.read(&mut buf)).await;
    assert!(read.is_err(), "silent origin sent something: {read:?}");

    // Dropping the origin closes the connections it held open.
    drop(origin);
    let read = tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut buf)).await;
    assert!(
        matches!(read, Ok(Ok(0)) | Ok(Err(_))),
        "connection should be closed: {read:?}"
    );
}

#[tokio::test]
async fn closed_port_refuses_connections() {
    let port = closed_port();
    let err = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect_err("nothing listens there");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
}

#[test]
fn leaf_spec_windows() {
    let now = time::OffsetDateTime::now_utc();
    let day = time::Duration::days(1);
    let expired = LeafSpec::valid_for(&["a"]).expired_days_ago(3);
    let off: time::Duration = expired.not_after - (now - 3 * day);
    assert!(off.abs() < time::Duration::minutes(1));
    assert!(expired.not_before < expired.not_after);
    let soon = LeafSpec::valid_for(&["a"]).expiring_in_days(5);
    assert!(soon.not_before < now && soon.not_after > now + 4 * day);
    let future = LeafSpec::valid_for(&["a"]).not_yet_valid();
    assert!(future.not_before > now + 9 * day);
}
