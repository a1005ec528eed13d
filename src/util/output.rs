//! Writing to stdout and stderr when their reader may go away (`recmon … | head -2`).
//!
//! Rust ignores SIGPIPE, so a write to a pipe whose reader exited fails with EPIPE, and
//! `println!`/`eprintln!` panic on that (exit 101, and in the listener before the journal is
//! synced). recmon writes its lines through here instead, and treats a closed output as a
//! normal stop: the headless view shuts down as on SIGTERM, `simulate` and `replay` stop
//! sending and end as they would have ended after the last request they sent.
//!
//! A closed pipe is also noticed without writing to it ([`reader_gone`]), so that a quiet
//! listener does not keep running for nobody until its next request.

use std::io::{self, Write};

/// One of the process's standard output streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// File descriptor 1.
    Stdout,
    /// File descriptor 2.
    Stderr,
}

impl Stream {
    #[cfg(unix)]
    fn fd(self) -> i32 {
        match self {
            Stream::Stdout => 1,
            Stream::Stderr => 2,
        }
    }
}

/// Writes `line` and a newline to stderr. False when it could not be written (its reader has
/// gone); never panics, unlike `eprintln!`.
pub fn eline(line: &str) -> bool {
    let mut err = io::stderr().lock();
    writeln!(err, "{line}").and_then(|_| err.flush()).is_ok()
}

/// Resolves once nobody can read `stream` any more: the reading end of its pipe was closed,
/// or its terminal hung up. Never resolves for a file, `/dev/null` or a closed descriptor,
/// which stay writable (or silently ignored) for as long as recmon runs.
///
/// A thread waits in `poll(2)` for the error and hang-up conditions only (no readiness
/// events are asked for), so it costs nothing while the reader is there. It is not joined:
/// it ends with the process.
pub async fn reader_gone(stream: Stream) {
    #[cfg(unix)]
    {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let fd = stream.fd();
        let spawned = std::thread::Builder::new()
            .name(format!("recmon-watch-fd{fd}"))
            .spawn(move || {
                if wait_for_hangup(fd) {
                    let _ = tx.send(());
                }
            });
        if spawned.is_ok() && rx.await.is_ok() {
            return;
        }
    }
    #[cfg(not(unix))]
    let _ = stream;
    std::future::pending::<()>().await
}

/// Blocks until `fd` reports POLLERR (a pipe whose readers all closed) or POLLHUP (a hung-up
/// terminal or socket). False when it never can (POLLNVAL: not open; or poll failed).
#[cfg(unix)]
fn wait_for_hangup(fd: i32) -> bool {
    loop {
        let mut p = libc::pollfd {
            fd,
            events: 0,
            revents: 0,
        };
        // SAFETY: one valid pollfd, for the duration of the call.
        let n = unsafe { libc::poll(&mut p, 1, -1) };
        if n < 0 {
            if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return false;
        }
        if p.revents & libc::POLLNVAL != 0 {
            return false;
        }
        if p.revents & (libc::POLLERR | libc::POLLHUP) != 0 {
            return true;
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn a_pipe_whose_reader_closed_is_seen_as_gone_and_an_open_one_is_not() {
        let mut fds = [0i32; 2];
        // SAFETY: a fresh pipe; both ends are closed below.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        let (read_end, write_end) = (fds[0], fds[1]);
        let waiter = std::thread::spawn(move || wait_for_hangup(write_end));
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(
            !waiter.is_finished(),
            "reported gone while the reader is open"
        );
        unsafe { libc::close(read_end) };
        assert!(waiter.join().unwrap());
        unsafe { libc::close(write_end) };
    }
}
