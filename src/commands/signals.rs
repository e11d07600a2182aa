//! The signals that stop a command: Ctrl-C (SIGINT), SIGTERM (`timeout`, systemd,
//! Kubernetes) and SIGHUP (a closed terminal), all of which end an export or an extraction
//! the same way: what is not finished removed, the exit code 128 + the signal's number, as a
//! shell reports a process the signal killed.

use tokio::signal::unix::{Signal, SignalKind, signal};

use crate::exit::{self, Stopped};

/// Listeners registered once, when a command starts, and kept until it ends. A signal that
/// arrives between two stages (while no `select!` waits on a listener) is kept by its
/// listener and seen by the next wait, not lost: a listener made only when a stage starts
/// would miss it, and the command would carry on as if nothing was asked.
pub struct StopSignals {
    interrupt: Option<Signal>,
    terminate: Option<Signal>,
    hang_up: Option<Signal>,
}

impl StopSignals {
    /// Starts listening. A signal whose handler cannot be installed keeps its default
    /// action (the process ends at once, leaving a `.partial` behind, never a false archive).
    pub fn listen() -> Self {
        StopSignals {
            interrupt: signal(SignalKind::interrupt()).ok(),
            terminate: signal(SignalKind::terminate()).ok(),
            hang_up: signal(SignalKind::hangup()).ok(),
        }
    }

    /// Waits for the first of the signals.
    pub async fn next(&mut self) -> Stopped {
        tokio::select! {
            () = received(&mut self.interrupt) => Stopped { signal: "SIGINT", code: exit::INTERRUPTED },
            () = received(&mut self.terminate) => Stopped { signal: "SIGTERM", code: exit::TERMINATED },
            () = received(&mut self.hang_up) => Stopped { signal: "SIGHUP", code: exit::HUNG_UP },
        }
    }
}

/// Returns when the signal arrives; never when it is not listened to.
async fn received(listener: &mut Option<Signal>) {
    match listener {
        Some(listener) => {
            listener.recv().await;
        }
        None => std::future::pending().await,
    }
}
