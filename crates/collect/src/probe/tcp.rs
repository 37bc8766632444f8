//! TCP connect to the origin port: refused (a real RST: 502 at CloudFront) and timed out (dropped:
//! 504) are told apart, and neither is confused with this machine having no way to send to the
//! address (no route, no address of that family), which says nothing about the origin.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use tokio::net::TcpStream;

use cf_doctor_model::evidence::TcpResult;

pub async fn connect(
    address: IpAddr,
    port: u16,
    timeout: Duration,
) -> (TcpResult, Option<TcpStream>) {
    let started = Instant::now();
    let elapsed = || started.elapsed().as_millis() as u64;
    match tokio::time::timeout(timeout, TcpStream::connect(SocketAddr::new(address, port))).await {
        Err(_) => (
            TcpResult::TimedOut {
                duration_ms: elapsed(),
            },
            None,
        ),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => (
            TcpResult::Refused {
                duration_ms: elapsed(),
            },
            None,
        ),
        Ok(Err(e)) if is_local_unreachable(&e) => (
            TcpResult::Unreachable {
                error: e.to_string(),
                duration_ms: elapsed(),
            },
            None,
        ),
        Ok(Err(e)) => (
            TcpResult::Failed {
                error: e.to_string(),
                duration_ms: elapsed(),
            },
            None,
        ),
        Ok(Ok(stream)) => {
            let _ = stream.set_nodelay(true);
            (
                TcpResult::Connected {
                    duration_ms: elapsed(),
                },
                Some(stream),
            )
        }
    }
}

/// Errors the kernel gives before any packet leaves: no route to that network (ENETUNREACH), no
/// local address of that family (EADDRNOTAVAIL), the family not supported here (EAFNOSUPPORT).
/// EHOSTUNREACH is not among them: a router's ICMP answer gives it too.
fn is_local_unreachable(error: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(
        error.kind(),
        ErrorKind::NetworkUnreachable | ErrorKind::AddrNotAvailable
    ) || matches!(error.raw_os_error(), Some(97 | 99 | 101))
}
