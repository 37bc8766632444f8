//! A child process measured as the benches report it: wall time, its own peak RSS (wait4 reads the
//! child's rusage, which std cannot), its exit code, and what it printed.

use std::io::{Read, Seek};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub struct Measured {
    pub wall: Duration,
    pub max_rss_kb: i64,
    pub code: i32,
    pub stdout: Vec<u8>,
}

/// Runs `bin` with only `env`, its stdout into a temporary file, stderr dropped.
// The child is reaped by wait4, which std cannot see; wait4 is what reports its peak RSS.
#[allow(clippy::zombie_processes)]
pub fn run_measured(bin: &str, args: &[&str], env: &[(String, String)]) -> Measured {
    let mut out = tempfile::tempfile().expect("a temp file for stdout");
    let started = Instant::now();
    let child = Command::new(bin)
        .args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdout(Stdio::from(out.try_clone().expect("the temp file again")))
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{bin} starts: {e}"));
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waiting on our own child's pid with valid out-pointers.
    unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    let wall = started.elapsed();
    let mut stdout = Vec::new();
    out.rewind().and_then(|_| out.read_to_end(&mut stdout)).ok();
    Measured {
        wall,
        max_rss_kb: usage.ru_maxrss,
        code: libc::WEXITSTATUS(status),
        stdout,
    }
}
