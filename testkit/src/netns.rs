//! Owns isolated networks: a fresh Linux network namespace holding only a loopback interface,
//! for tests that must meet "network unreachable" (no route to any address but loopback)
//! without a packet ever leaving the machine.
//!
//! [`isolated`] runs a future on a current-thread tokio runtime in a dedicated thread that first
//! calls `unshare(CLONE_NEWNET)`. Network namespaces belong to threads, and everything the
//! thread starts inherits its namespace: sockets it opens, threads it spawns (tokio's blocking
//! pool), and child processes (moto via [`crate::Moto::start`], the cf-doctor binary, `ip`). So
//! inside, 127.0.0.1 and ::1 are this namespace's own loopback, every other destination fails
//! at once with ENETUNREACH (the namespace has no route), and nothing listening in the test's
//! own namespace is reachable.
//!
//! Needs CAP_SYS_ADMIN (root, as the tests and CI run) and `ip` from iproute2 (to bring `lo`
//! up; a new namespace's loopback starts down). Without them [`isolated`] panics saying so: a
//! test that needs isolation must not silently run without it.

use std::future::Future;
use std::os::unix::fs::MetadataExt;
use std::process::Command;

/// Where `ip` is looked for, in order (the PATH of a test process may lack /usr/sbin).
const IP_CANDIDATES: &[&str] = &["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"];

/// Runs `make()`'s future in a new network namespace with only loopback (up), on a
/// current-thread tokio runtime in a dedicated thread, and returns its output. Blocks the
/// caller until the future completes, so call it from a plain `#[test]` (or from
/// `spawn_blocking`), not from inside an async test's runtime thread.
///
/// Everything started inside lives in the namespace and ends with it: drop servers and kill
/// child processes before the future returns (an [`crate::OwnedMoto`] does so on drop). A panic
/// inside is resumed in the caller.
pub fn isolated<F, Fut, T>(make: F) -> T
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = T>,
    T: Send + 'static,
{
    let thread = std::thread::Builder::new()
        .name("testkit-isolated-netns".into())
        .spawn(move || {
            enter_new_network_namespace();
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap_or_else(|e| {
                    panic!("cannot build the isolated namespace's tokio runtime: {e}")
                });
            runtime.block_on(make())
        })
        .unwrap_or_else(|e| panic!("cannot start the isolated namespace's thread: {e}"));
    match thread.join() {
        Ok(output) => output,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// Whether the calling thread is in the process's original network namespace (that of its
/// main thread). False inside [`isolated`].
pub fn in_original_network_namespace() -> bool {
    let inode = |path: &str| std::fs::metadata(path).map(|m| (m.dev(), m.ino()));
    match (
        inode("/proc/thread-self/ns/net"),
        inode(&format!("/proc/{}/ns/net", std::process::id())),
    ) {
        (Ok(this_thread), Ok(main_thread)) => this_thread == main_thread,
        // Without /proc nobody can have moved a thread with this module either.
        _ => true,
    }
}

fn enter_new_network_namespace() {
    // SAFETY: unshare only changes the calling thread's namespace membership.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
        let e = std::io::Error::last_os_error();
        panic!(
            "unshare(CLONE_NEWNET) failed: {e}: an isolated network needs CAP_SYS_ADMIN (run the tests as root, or in a container started with --cap-add SYS_ADMIN / --privileged)"
        );
    }
    let ip = IP_CANDIDATES
        .iter()
        .find(|p| std::path::Path::new(p).is_file())
        .unwrap_or_else(|| {
            panic!("`ip` (iproute2) not found at {IP_CANDIDATES:?}: install it (apt-get install iproute2) to bring up loopback in an isolated network")
        });
    // The child inherits this thread's (new) namespace: it brings up the namespace's own lo.
    let out = Command::new(ip)
        .args(["link", "set", "lo", "up"])
        .output()
        .unwrap_or_else(|e| panic!("cannot run `{ip} link set lo up`: {e}"));
    if !out.status.success() {
        panic!(
            "`{ip} link set lo up` failed in the isolated namespace ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
}
