//! Proves `isolated` gives a network of its own with only loopback: every other destination is
//! unreachable at once (ENETUNREACH, not a timeout), its own 127.0.0.1 and ::1 work, a moto and
//! a child process started inside live there, and nothing of the test's own namespace is
//! reachable from inside. Needs root (as the tests run here and in CI): without it `isolated`
//! panics saying so.

use std::io::ErrorKind;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use cf_doctor_testkit::{isolated, netns, sdk_config, Moto};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Only so that a wrong behaviour (a connect that hangs) fails instead of hanging the test.
const GUARD: Duration = Duration::from_secs(10);

async fn connect(addr: SocketAddr) -> std::io::Result<TcpStream> {
    tokio::time::timeout(GUARD, TcpStream::connect(addr))
        .await
        .unwrap_or_else(|_| {
            panic!("connect to {addr} neither succeeded nor failed within {GUARD:?}")
        })
}

#[test]
fn addresses_beyond_loopback_are_unreachable_at_once_inside() {
    let errors = isolated(|| async {
        assert!(!netns::in_original_network_namespace());
        let mut kinds = Vec::new();
        // Documentation addresses (RFC 3849, RFC 5737): nothing would answer there anyway.
        for ip in [
            IpAddr::V6("2001:db8::1".parse().unwrap()),
            IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
        ] {
            let e = connect(SocketAddr::new(ip, 443))
                .await
                .expect_err("no route beyond loopback");
            kinds.push((ip, e.kind(), e.raw_os_error(), e.to_string()));
        }
        kinds
    });
    for (ip, kind, errno, text) in errors {
        assert_eq!(kind, ErrorKind::NetworkUnreachable, "{ip}: {text}");
        assert_eq!(errno, Some(libc::ENETUNREACH), "{ip}: {text}");
    }
}

#[test]
fn loopback_inside_works_on_both_families() {
    isolated(|| async {
        for ip in [
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(Ipv6Addr::LOCALHOST),
        ] {
            let listener = TcpListener::bind((ip, 0)).await.expect("bind inside");
            let addr = listener.local_addr().unwrap();
            let server = tokio::spawn(async move {
                let (mut s, _) = listener.accept().await.unwrap();
                s.write_all(b"inside").await.unwrap();
            });
            let mut client = connect(addr).await.expect("loopback inside accepts");
            let mut got = String::new();
            client.read_to_string(&mut got).await.unwrap();
            assert_eq!(got, "inside", "{addr}");
            server.await.unwrap();
        }
    });
}

#[test]
fn a_listener_of_the_test_namespace_is_not_reachable_from_inside() {
    let outside = std::net::TcpListener::bind("127.0.0.1:0").expect("bind in the test namespace");
    let addr = outside.local_addr().unwrap();
    // Control: reachable from where it was made.
    std::net::TcpStream::connect(addr).expect("reachable from the test's own namespace");
    let inside = isolated(move || async move { connect(addr).await.map(|_| ()) });
    let e = inside.expect_err("the test namespace's 127.0.0.1 is another loopback");
    assert_eq!(e.kind(), ErrorKind::ConnectionRefused, "{e}");
}

#[test]
fn child_processes_and_moto_started_inside_live_there() {
    let own = std::fs::read_link("/proc/self/ns/net").expect("own namespace");
    let (child_ns, distributions) = isolated(|| async {
        // A child process inherits the thread's namespace.
        let out = std::process::Command::new("readlink")
            .arg("/proc/self/ns/net")
            .output()
            .expect("run readlink");
        let child_ns = String::from_utf8_lossy(&out.stdout).trim().to_string();

        let moto = Moto::start();
        assert!(moto.endpoint.starts_with("http://127.0.0.1:"));
        let cf = aws_sdk_cloudfront::Client::new(&sdk_config(&moto.endpoint).await);
        let listed = cf
            .list_distributions()
            .send()
            .await
            .expect("moto inside answers ListDistributions");
        let count = listed.distribution_list().map_or(0, |l| l.quantity());
        (child_ns, count)
    });
    assert!(child_ns.starts_with("net:["), "{child_ns:?}");
    assert_ne!(
        std::path::PathBuf::from(&child_ns),
        own,
        "the child ran in the isolated namespace"
    );
    assert_eq!(distributions, 0, "a fresh moto of its own");
}

#[test]
fn the_shared_moto_is_refused_inside_with_a_message() {
    let panic =
        std::thread::spawn(|| isolated(|| async { cf_doctor_testkit::moto().endpoint.clone() }))
            .join()
            .expect_err("moto() must refuse inside isolated()");
    let message = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default();
    assert!(message.contains("use Moto::start() there"), "{message}");
}
