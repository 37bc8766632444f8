//! Proves the SYN dropper is what it stands for (a firewall that admits only CloudFront): from
//! outside, a TCP connect neither succeeds nor is refused, it times out, again and again, and
//! the kernel's own counter says it dropped those SYNs because the accept queue was full.

use std::io::ErrorKind;
use std::net::{IpAddr, Ipv6Addr, SocketAddr, TcpStream};
use std::time::Duration;

use cf_doctor_testkit::{syn_dropper, syn_dropper_on};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// `TcpExt: ListenOverflows` from /proc/net/netstat: SYNs dropped because an accept queue was
/// full (in this network namespace, since boot; it only grows).
fn listen_overflows() -> u64 {
    let netstat = std::fs::read_to_string("/proc/net/netstat").expect("read /proc/net/netstat");
    let lines: Vec<&str> = netstat
        .lines()
        .filter(|l| l.starts_with("TcpExt:"))
        .collect();
    assert_eq!(lines.len(), 2, "TcpExt header and values in:\n{netstat}");
    let names = lines[0].split_whitespace();
    let values = lines[1].split_whitespace();
    names
        .zip(values)
        .find(|(name, _)| *name == "ListenOverflows")
        .map(|(_, value)| value.parse().expect("a counter"))
        .expect("TcpExt has ListenOverflows")
}

fn assert_times_out(addr: SocketAddr) {
    match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
        Err(e) if e.kind() == ErrorKind::TimedOut => {}
        Err(e) => panic!("a connect to {addr} must time out, it failed with {e:?} instead"),
        Ok(_) => panic!("a connect to {addr} must time out, it was accepted"),
    }
}

#[test]
fn a_connect_times_out_repeatedly_while_the_dropper_lives_and_is_refused_after() {
    let dropper = syn_dropper();
    assert!(dropper.addr.ip().is_loopback());
    assert_eq!(
        dropper.accept_queue(),
        (1, 0),
        "one held connection over a backlog of 0"
    );
    let overflows_before = listen_overflows();

    for _ in 0..3 {
        assert_times_out(dropper.addr);
    }
    assert_eq!(
        dropper.accept_queue(),
        (1, 0),
        "no connection of ours reached the accept queue"
    );
    // Each attempt's SYN (and its retransmit after 1 s, if it went out in time) was dropped.
    let dropped = listen_overflows() - overflows_before;
    assert!(
        dropped >= 3,
        "the kernel counted {dropped} SYNs dropped on a full accept queue, expected at least 3"
    );

    let addr = dropper.addr;
    drop(dropper);
    let after = TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT)
        .expect_err("nothing listens once the dropper is dropped");
    assert_eq!(after.kind(), ErrorKind::ConnectionRefused, "{after:?}");
}

#[tokio::test]
async fn an_async_client_times_out_too_and_so_does_ipv6() {
    let v4 = syn_dropper();
    let v6 = syn_dropper_on(IpAddr::V6(Ipv6Addr::LOCALHOST));
    for addr in [v4.addr, v6.addr] {
        let attempt =
            tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(addr)).await;
        assert!(
            attempt.is_err(),
            "a tokio connect to {addr} must still be pending after {CONNECT_TIMEOUT:?}, got {attempt:?}"
        );
    }
}
