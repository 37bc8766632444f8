//! The accept loop every loopback stand-in shares (origins, the AWS proxy, the Slack sink): one
//! task per connection, finished ones reaped, accept errors backed off instead of spun on.

use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::{AbortHandle, JoinSet};

/// Accepts on `listener` until aborted, handing each connection to `handle` on its own task.
pub(crate) fn accept_loop<F, Fut>(listener: TcpListener, mut handle: F) -> AbortHandle
where
    F: FnMut(TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    tokio::spawn(async move {
        let mut connections = JoinSet::new();
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                // e.g. out of file descriptors: back off instead of spinning.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            };
            // Reap finished connections so a long test does not accumulate them.
            while connections.try_join_next().is_some() {}
            connections.spawn(handle(stream));
        }
    })
    .abort_handle()
}
