//! Ctrl-C and SIGTERM: every long-running mode ends on them with a graceful shutdown.
//! `recmon attach` also ends on SIGHUP (its terminal or ssh session closed), so that it
//! still removes its temporary copy of the entries.

/// Ctrl-C and SIGTERM, with their handlers installed when this is created. Create it before
/// the listener starts: a signal that arrives while recmon is starting (or before the first
/// await reaches the handler) then still leads to the graceful shutdown, instead of the
/// default action that kills the process without syncing the journal or printing the
/// summary.
pub struct ShutdownSignal {
    #[cfg(unix)]
    interrupt: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    terminate: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    hangup: Option<tokio::signal::unix::Signal>,
}

impl ShutdownSignal {
    /// Installs the handlers now.
    pub fn register() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            ShutdownSignal {
                interrupt: signal(SignalKind::interrupt()).ok(),
                terminate: signal(SignalKind::terminate()).ok(),
                hangup: None,
            }
        }
        #[cfg(not(unix))]
        {
            ShutdownSignal {}
        }
    }

    /// [`ShutdownSignal::register`], and SIGHUP too: a closed terminal or a dropped ssh
    /// session would otherwise kill the process with no clean-up at all. A SIGHUP that was
    /// ignored when recmon started (`nohup`) stays ignored.
    pub fn register_with_hangup() -> Self {
        #[cfg(unix)]
        {
            let mut signals = Self::register();
            if !hangup_ignored() {
                use tokio::signal::unix::{signal, SignalKind};
                signals.hangup = signal(SignalKind::hangup()).ok();
            }
            signals
        }
        #[cfg(not(unix))]
        {
            Self::register()
        }
    }

    /// Resolves on the next Ctrl-C or SIGTERM (or SIGHUP, when registered with it).
    pub async fn wait(&mut self) {
        #[cfg(unix)]
        {
            async fn next(s: &mut Option<tokio::signal::unix::Signal>) {
                match s.as_mut() {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending().await,
                }
            }
            tokio::select! {
                _ = next(&mut self.interrupt) => {},
                _ = next(&mut self.terminate) => {},
                _ = next(&mut self.hangup) => {},
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Whether SIGHUP is ignored now (as `nohup` leaves it), read without changing it.
#[cfg(unix)]
fn hangup_ignored() -> bool {
    // SAFETY: sigaction with a null new action only reads the current disposition into `old`,
    // a zeroed, properly aligned struct that lives for the call.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        libc::sigaction(libc::SIGHUP, std::ptr::null(), &mut old) == 0
            && old.sa_sigaction == libc::SIG_IGN
    }
}

/// Resolves on Ctrl-C or SIGTERM (handlers installed at the first call).
pub async fn shutdown_signal() {
    ShutdownSignal::register().wait().await
}
