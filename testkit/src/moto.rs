//! Owns the moto_server processes (fake CloudFront, ACM, SNS, SQS on loopback) and the SDK
//! configuration / environment that point cf-doctor at them.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_credential_types::Credentials;

/// Region every fake resource lives in (CloudFront and ACM-for-CloudFront are us-east-1 in AWS).
pub const REGION: &str = "us-east-1";
/// moto accepts any credentials; these are the conventional "clearly fake" ones.
pub const TEST_ACCESS_KEY: &str = "testing";
const TEST_SECRET_KEY: &str = "testing";

const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// moto exits at once when its port was taken between our probe and its bind; retry that race.
const START_ATTEMPTS: usize = 3;
const STDERR_TAIL_LINES: usize = 40;

/// A running moto_server shared by the whole test process (see [`moto`]).
#[derive(Debug)]
pub struct Moto {
    /// `http://127.0.0.1:PORT`
    pub endpoint: String,
}

/// A moto_server owned by its creator and killed when this is dropped (the lab uses one so that
/// every demo run starts from an empty fake account). Derefs to [`Moto`].
#[derive(Debug)]
pub struct OwnedMoto {
    moto: Moto,
    child: Child,
}

impl std::ops::Deref for OwnedMoto {
    type Target = Moto;
    fn deref(&self) -> &Moto {
        &self.moto
    }
}

impl Drop for OwnedMoto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        // Reap it so no zombie outlives the lab.
        let _ = self.child.wait();
    }
}

/// The moto_server shared by every test of this process: started on first use on a free loopback
/// port, and killed by the kernel when the test process exits (PR_SET_PDEATHSIG), because a
/// `static` is never dropped.
///
/// Tests sharing it must not assume an empty account: list by the ids they created.
///
/// It lives in the process's own network namespace: inside [`crate::isolated`] it is out of
/// reach, so asking for it there panics; start a private one with [`Moto::start`] instead.
pub fn moto() -> &'static Moto {
    assert!(
        crate::netns::in_original_network_namespace(),
        "moto() is the process-wide moto_server in the test process's own network namespace, unreachable from inside isolated(): use Moto::start() there"
    );
    static SHARED: OnceLock<Moto> = OnceLock::new();
    SHARED.get_or_init(|| {
        let (endpoint, child) = launch();
        // Dropping a std Child neither kills nor waits; the process dies with us (PDEATHSIG)
        // and the kernel reaps it when we are gone.
        drop(child);
        Moto { endpoint }
    })
}

impl Moto {
    /// Starts a private moto_server, killed when the returned handle is dropped. Inside
    /// [`crate::isolated`] it is started in (and reachable only from) the isolated network.
    pub fn start() -> OwnedMoto {
        let (endpoint, child) = launch();
        OwnedMoto {
            moto: Moto { endpoint },
            child,
        }
    }

    /// Empties every fake service (POST /moto-api/reset). Only safe when no other test of the
    /// process uses the same server concurrently.
    pub fn reset(&self) {
        let addr = endpoint_addr(&self.endpoint);
        match http_status(addr, "POST", "/moto-api/reset", Duration::from_secs(10)) {
            Ok(200) => {}
            Ok(status) => panic!(
                "moto reset at {} answered HTTP {status}: is this really moto_server?",
                self.endpoint
            ),
            Err(e) => panic!(
                "moto reset at {} failed: {e}: the moto_server process may have died",
                self.endpoint
            ),
        }
    }
}

/// SDK configuration for clients talking to moto at `endpoint`: us-east-1, static test
/// credentials, nothing read from the environment or ~/.aws so a developer's real profile can
/// never leak into a test.
pub async fn sdk_config(endpoint: &str) -> SdkConfig {
    let credentials = Credentials::new(
        TEST_ACCESS_KEY,
        TEST_SECRET_KEY,
        None,
        None,
        "cf-doctor-testkit",
    );
    SdkConfig::builder()
        .region(Region::new(REGION))
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .endpoint_url(endpoint)
        .behavior_version(BehaviorVersion::latest())
        .build()
}

/// Environment for running the cf-doctor binary against moto at `endpoint`.
pub fn aws_env(endpoint: &str) -> Vec<(String, String)> {
    [
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_REGION", REGION),
        ("AWS_ACCESS_KEY_ID", TEST_ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", TEST_SECRET_KEY),
        // Without this the SDK may spend seconds probing 169.254.169.254 for credentials/region.
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// Where moto_server is: `CF_DOCTOR_MOTO_SERVER`, else the workspace's `.venv`.
fn moto_server_path() -> PathBuf {
    match std::env::var_os("CF_DOCTOR_MOTO_SERVER") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => crate::workspace_root().join(".venv/bin/moto_server"),
    }
}

/// Starts moto_server and waits until it answers; panics with moto's stderr tail otherwise.
fn launch() -> (String, Child) {
    let path = moto_server_path();
    if !path.is_file() {
        panic!(
            "moto_server not found at {}: run `make venv` (python3 -m venv .venv && .venv/bin/pip install 'moto[server]')",
            path.display()
        );
    }
    let mut last_failure = String::new();
    for _ in 0..START_ATTEMPTS {
        let port = free_port();
        let mut child = spawn_with_pdeathsig(&path, port);
        let tail = drain_stderr(&mut child);
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Ok(200) = http_status(addr, "GET", "/moto-api/", Duration::from_secs(2)) {
                return (format!("http://{addr}"), child);
            }
            if let Ok(Some(status)) = child.try_wait() {
                // Typically "Address already in use": another process took the port; retry.
                last_failure = format!(
                    "moto_server exited early ({status}); stderr tail:\n{}",
                    tail_text(&tail)
                );
                break;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "moto_server at {} did not answer GET /moto-api/ on {addr} within {}s: check that `{} -H 127.0.0.1 -p {port}` starts by hand; stderr tail:\n{}",
                    path.display(),
                    READY_TIMEOUT.as_secs(),
                    path.display(),
                    tail_text(&tail)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    panic!(
        "moto_server at {} failed to start {START_ATTEMPTS} times: {last_failure}",
        path.display()
    );
}

/// Asks the kernel for a free loopback port. moto binds it a moment later; the rare race with
/// another process is handled by retrying in [`launch`].
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect(
        "cannot bind 127.0.0.1:0 to pick a port for moto: is loopback networking available?",
    );
    listener
        .local_addr()
        .expect("a bound loopback listener has no local address (getsockname failed): rerun; if it persists, check the sandbox network namespace")
        .port()
}

type SpawnRequest = (PathBuf, u16, mpsc::Sender<std::io::Result<Child>>);

/// Spawns moto_server from a dedicated thread that lives as long as the process.
///
/// PR_SET_PDEATHSIG fires when the *thread* that forked the child exits, not the process: a
/// child spawned from a test thread would be killed as soon as that test finished, while the
/// shared `static` instance is meant to outlive it. The dedicated thread blocks on its channel
/// forever (the sender lives in a static), so the signal only comes when the process dies.
///
/// A child inherits the network namespace of the thread that forks it, so inside
/// [`crate::isolated`] moto is forked from the calling thread instead: it must live in the
/// isolated network, and dies with that thread (which is when the namespace ends).
fn spawn_with_pdeathsig(path: &std::path::Path, port: u16) -> Child {
    if !crate::netns::in_original_network_namespace() {
        return spawn_moto(path, port).unwrap_or_else(|e| {
            panic!(
                "cannot execute moto_server at {}: {e}: recreate the venv with `make venv`",
                path.display()
            )
        });
    }
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<SpawnRequest>>> = OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnRequest>();
        std::thread::Builder::new()
            .name("moto-spawner".into())
            .spawn(move || {
                for (path, port, reply) in rx {
                    let _ = reply.send(spawn_moto(&path, port));
                }
                // Unreachable in practice (the sender is in a static); park rather than exit,
                // because exiting would SIGKILL every moto this thread spawned.
                loop {
                    std::thread::park();
                }
            })
            .expect("cannot start the moto-spawner thread: the process is out of threads?");
        Mutex::new(tx)
    });
    let (reply_tx, reply_rx) = mpsc::channel();
    spawner
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .send((path.to_path_buf(), port, reply_tx))
        .expect("the moto-spawner thread is gone: an earlier panic in it? see the first failure");
    match reply_rx.recv() {
        Ok(Ok(child)) => child,
        Ok(Err(e)) => panic!(
            "cannot execute moto_server at {}: {e}: recreate the venv with `make venv`",
            path.display()
        ),
        Err(_) => {
            panic!("the moto-spawner thread died while starting moto_server: see the first failure")
        }
    }
}

fn spawn_moto(path: &std::path::Path, port: u16) -> std::io::Result<Child> {
    let mut cmd = Command::new(path);
    cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        // Unbuffered so the stderr tail in a failure message is up to date.
        .env("PYTHONUNBUFFERED", "1");
    die_with_spawning_thread(&mut cmd);
    cmd.spawn()
}

/// Has the kernel SIGKILL the child when the thread that spawns it exits (PR_SET_PDEATHSIG), so
/// a test server outlives neither a crashed nor a killed test process.
pub(crate) fn die_with_spawning_thread(cmd: &mut Command) {
    // SAFETY-relevant: the pre_exec closure runs between fork and exec and must only make
    // async-signal-safe calls; prctl, getppid and _exit are plain syscalls.
    let parent = std::process::id() as libc::pid_t;
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            // The parent may have died between fork and prctl; then no signal would ever come.
            if libc::getppid() != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
}

pub(crate) type Tail = Arc<Mutex<VecDeque<String>>>;

/// Keeps reading moto's stderr for its whole life: werkzeug logs every request there, and a
/// full, unread pipe would block moto. The last lines are kept for failure messages.
fn drain_stderr(child: &mut Child) -> Tail {
    let tail: Tail = Arc::default();
    if let Some(stderr) = child.stderr.take() {
        drain_into(stderr, "moto-stderr", &tail);
    }
    tail
}

/// Reads `from` line by line on its own thread until it closes, keeping the last lines in
/// `tail` (a child's pipe that nobody reads eventually blocks the child).
pub(crate) fn drain_into<R: Read + Send + 'static>(from: R, thread_name: &str, tail: &Tail) {
    let sink = Arc::clone(tail);
    let _ = std::thread::Builder::new()
        .name(thread_name.into())
        .spawn(move || {
            for line in BufReader::new(from).lines() {
                let Ok(line) = line else { break };
                keep_line(&sink, line);
            }
        });
}

/// Appends `line` to `tail`, forgetting the oldest beyond the last few.
pub(crate) fn keep_line(tail: &Tail, line: String) {
    let mut tail = tail.lock().unwrap_or_else(|p| p.into_inner());
    if tail.len() == STDERR_TAIL_LINES {
        tail.pop_front();
    }
    tail.push_back(line);
}

pub(crate) fn tail_text(tail: &Tail) -> String {
    let tail = tail.lock().unwrap_or_else(|p| p.into_inner());
    if tail.is_empty() {
        "(empty)".to_string()
    } else {
        tail.iter().cloned().collect::<Vec<_>>().join("\n")
    }
}

fn endpoint_addr(endpoint: &str) -> SocketAddr {
    endpoint
        .strip_prefix("http://")
        .and_then(|rest| rest.trim_end_matches('/').parse().ok())
        .unwrap_or_else(|| {
            panic!("moto endpoint {endpoint:?} is not http://IP:PORT: build Moto only through moto() or Moto::start()")
        })
}

/// One blocking HTTP/1.1 request without a body; returns the status code. Blocking on purpose:
/// [`moto`] must work from sync code and from inside any tokio runtime flavour.
fn http_status(
    addr: SocketAddr,
    method: &str,
    path: &str,
    timeout: Duration,
) -> std::io::Result<u16> {
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    let mut head = [0u8; 16];
    let mut got = 0;
    while got < head.len() {
        let n = stream.read(&mut head[got..])?;
        if n == 0 {
            break;
        }
        got += n;
    }
    let text = String::from_utf8_lossy(&head[..got]);
    text.strip_prefix("HTTP/1.")
        .and_then(|rest| rest.get(2..5))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("not an HTTP response: {text:?}"),
            )
        })
}
