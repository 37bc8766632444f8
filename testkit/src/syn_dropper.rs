//! Owns the stand-in for "a firewall that admits only CloudFront": a loopback port where a TCP
//! connect from anyone else times out, neither refused (no RST) nor accepted (no SYN-ACK).
//!
//! How it works (Linux): the port has a listening socket with a backlog of 0 that never calls
//! accept(), and the fixture itself completes one connection to it, which then sits in the
//! accept queue. A backlog of 0 admits one queued connection (the queue is full when its length
//! exceeds the backlog), so from then on the queue is full, and the kernel drops every new SYN
//! without answering (`tcp_conn_request` in net/ipv4/tcp_input.c: `if (sk_acceptq_is_full(sk))
//! goto drop;`, counted as `TcpExt: ListenOverflows` in /proc/net/netstat). The client sees
//! what a security group that drops its packets looks like: its SYN retransmits go unanswered
//! until its own connect timeout. That drop is unconditional; `net.ipv4.tcp_abort_on_overflow`
//! (default 0) only decides what happens to a handshake whose SYN was admitted before the queue
//! filled (0: its final ACK is dropped too; 1: it is reset), which cannot happen here because
//! the queue is full before [`syn_dropper`] returns.
//!
//! Dropping the [`SynDropper`] closes the listener and the held connection; the port is then
//! closed (connects are refused).

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

/// How long the fixture waits for its own held connection to land in the accept queue.
const FILL_TIMEOUT: Duration = Duration::from_secs(5);

/// A loopback port whose accept queue is held full: new connects time out.
#[derive(Debug)]
pub struct SynDropper {
    /// Where nobody can connect.
    pub addr: SocketAddr,
    listener: Socket,
    _held: TcpStream,
}

impl SynDropper {
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// (connections in the accept queue, the queue's limit), read from the listening socket's
    /// TCP_INFO (`tcpi_unacked` and `tcpi_sacked` hold them for a listener). `(1, 0)` while the
    /// fixture works: the one held connection, over a limit of 0.
    pub fn accept_queue(&self) -> (u32, u32) {
        let info = tcp_info(&self.listener).unwrap_or_else(|e| {
            panic!("getsockopt(TCP_INFO) on the SYN dropper's listener failed: {e}")
        });
        (info.tcpi_unacked, info.tcpi_sacked)
    }
}

/// A [`SynDropper`] on 127.0.0.1 (a free port).
pub fn syn_dropper() -> SynDropper {
    syn_dropper_on(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

/// A [`SynDropper`] on a free port of the loopback address `ip` (127.0.0.1, ::1, or another
/// 127.0.0.0/8 address). Synchronous: usable from any runtime, or none.
pub fn syn_dropper_on(ip: IpAddr) -> SynDropper {
    assert!(
        ip.is_loopback(),
        "the SYN dropper listens on loopback only, not {ip}"
    );
    let listener = Socket::new(
        Domain::for_address(SocketAddr::new(ip, 0)),
        Type::STREAM,
        Some(Protocol::TCP),
    )
    .unwrap_or_else(|e| panic!("cannot create a TCP socket for the SYN dropper: {e}"));
    listener
        .bind(&SocketAddr::new(ip, 0).into())
        .unwrap_or_else(|e| panic!("cannot bind {ip}:0 for the SYN dropper: {e}: is loopback up?"));
    // Backlog 0: the accept queue is full as soon as one connection waits in it.
    listener
        .listen(0)
        .unwrap_or_else(|e| panic!("listen(0) failed for the SYN dropper: {e}"));
    let addr = listener
        .local_addr()
        .ok()
        .and_then(|a| a.as_socket())
        .expect("a bound loopback listener has no local address (getsockname failed)");
    let held = TcpStream::connect_timeout(&addr, FILL_TIMEOUT).unwrap_or_else(|e| {
        panic!("the SYN dropper could not make its own connection to {addr}: {e}")
    });
    let dropper = SynDropper {
        addr,
        listener,
        _held: held,
    };
    wait_until_full(&dropper);
    dropper
}

/// The held connection joins the accept queue when the server side processes the final ACK;
/// on loopback that is immediate, but nothing guarantees it before connect() returns.
fn wait_until_full(dropper: &SynDropper) {
    let deadline = Instant::now() + FILL_TIMEOUT;
    loop {
        let (queued, limit) = dropper.accept_queue();
        if queued > limit {
            return;
        }
        if Instant::now() >= deadline {
            panic!(
                "the SYN dropper's accept queue at {} holds {queued} connection(s) with a limit of {limit} after {FILL_TIMEOUT:?}: the kernel did not queue the held connection",
                dropper.addr
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn tcp_info(socket: &Socket) -> std::io::Result<libc::tcp_info> {
    // SAFETY: tcp_info is plain old data; getsockopt writes at most `len` bytes into it.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    let rc = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        )
    };
    if rc == 0 {
        Ok(info)
    } else {
        Err(std::io::Error::last_os_error())
    }
}
