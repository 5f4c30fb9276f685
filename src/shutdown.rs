//! One shutdown signal for every loop of a bot, in the spirit of mini-redis' `shutdown.rs`: the
//! bot holds a [`Trigger`]; each loop (a poller, a store's consumer) holds a [`Shutdown`] and
//! stops at its next step once the trigger is pulled. [`shutdown_signal`] is the operating
//! system's side: SIGINT or SIGTERM.

use std::time::Duration;

use tokio::sync::watch;

/// Pulls every [`Shutdown`] made from it; dropping it pulls them too.
#[derive(Debug)]
pub(crate) struct Trigger(watch::Sender<bool>);

/// Tells a loop when to stop. Cheap to clone; every clone sees the same signal.
#[derive(Debug, Clone)]
pub(crate) struct Shutdown(watch::Receiver<bool>);

/// A new trigger and the shutdown signal it pulls.
pub(crate) fn channel() -> (Trigger, Shutdown) {
    let (sender, receiver) = watch::channel(false);
    (Trigger(sender), Shutdown(receiver))
}

impl Trigger {
    /// Signals shutdown to every [`Shutdown`] of this trigger.
    pub(crate) fn pull(&self) {
        let _ = self.0.send(true);
    }
}

impl Shutdown {
    /// Whether shutdown was signalled.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn is_signalled(&self) -> bool {
        *self.0.borrow() || self.0.has_changed().is_err()
    }

    /// Resolves once shutdown is signalled (at once if it was).
    pub(crate) async fn signalled(&mut self) {
        let _ = self.0.wait_for(|stop| *stop).await;
    }

    /// Waits `wait`; `false` when shutdown came first.
    pub(crate) async fn pause(&mut self, wait: Duration) -> bool {
        tokio::select! {
            biased;
            () = self.signalled() => false,
            () = tokio::time::sleep(wait) => true,
        }
    }
}

/// Resolves on SIGINT (Ctrl-C) or, on Unix, SIGTERM: what [`Bot::run`](crate::Bot::run)
/// stops on.
pub async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_pause_ends_early_once_the_trigger_is_pulled() {
        let (trigger, mut shutdown) = channel();
        assert!(shutdown.pause(Duration::from_secs(1)).await);
        assert!(!shutdown.is_signalled());
        let mut waiting = shutdown.clone();
        let paused = tokio::spawn(async move { waiting.pause(Duration::from_secs(3600)).await });
        tokio::task::yield_now().await;
        trigger.pull();
        assert!(!paused.await.unwrap());
        assert!(shutdown.is_signalled());
        shutdown.signalled().await;
    }

    #[tokio::test]
    async fn dropping_the_trigger_signals_too() {
        let (trigger, mut shutdown) = channel();
        drop(trigger);
        assert!(shutdown.is_signalled());
        shutdown.signalled().await;
    }
}
