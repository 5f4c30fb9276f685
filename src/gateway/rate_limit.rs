//! Per-instance rate limits: every clone of one client waits on the same limiters; with
//! shared limits (the `redis` feature), every replica's client of the instance does.

use std::fmt;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;

use governor::clock::Clock;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};

use crate::error::BoxError;
use crate::gateway::GatewayKind;

/// How many requests per second a client sends to one instance.
///
/// The defaults are GREEN-API's documented limits: 50 sends per second (sendMessage and
/// sendContact together), 1 look-up per second for each of getContacts and getContactInfo, and
/// 100 calls per second for each of receiveNotification and deleteNotification (the polling
/// intake's queue calls). A call over the limit waits for its turn; it does not fail.
///
/// The limits are kept per client (and its clones) by default; with the `redis` feature's
/// `ClientSettings::shared_limits`, in Redis, for every replica's client of the instance
/// together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    sends_per_second: Option<NonZeroU32>,
    lookups_per_second: Option<NonZeroU32>,
    notifications_per_second: Option<NonZeroU32>,
    downloads_per_second: Option<NonZeroU32>,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            sends_per_second: NonZeroU32::new(50),
            lookups_per_second: NonZeroU32::new(1),
            notifications_per_second: NonZeroU32::new(100),
            downloads_per_second: NonZeroU32::new(5),
        }
    }
}

impl RateLimits {
    /// GREEN-API's documented limits: 50 sends/s, 1 look-up/s per method (getContacts,
    /// getContactInfo, getSettings and setSettings together, getStateInstance,
    /// lastOutgoingMessages), 100 queue calls/s per method.
    pub fn new() -> Self {
        Self::default()
    }

    /// No client-side limits (a local emulator, or a gateway that enforces none).
    pub fn unlimited() -> Self {
        Self {
            sends_per_second: None,
            lookups_per_second: None,
            notifications_per_second: None,
            downloads_per_second: None,
        }
    }

    /// Sends per second: texts and contact cards together, and as many again of each of files,
    /// locations, polls, buttons, typing indicators, forwards and other methods (GREEN-API limits each
    /// method on its own; read marks take at most 10/s); 0 means unlimited.
    #[must_use]
    pub fn sends_per_second(mut self, per_second: u32) -> Self {
        self.sends_per_second = NonZeroU32::new(per_second);
        self
    }

    /// Read marks per second: GREEN-API readChat's 10, or fewer when sends are limited to
    /// fewer; none when sends are unlimited.
    fn reads_per_second(&self) -> Option<NonZeroU32> {
        const READ_CHAT: NonZeroU32 = NonZeroU32::new(10).expect("10 is not zero");
        self.sends_per_second.map(|sends| sends.min(READ_CHAT))
    }

    /// Contact-list and contact-info look-ups per second, each; 0 means unlimited.
    #[must_use]
    pub fn lookups_per_second(mut self, per_second: u32) -> Self {
        self.lookups_per_second = NonZeroU32::new(per_second);
        self
    }

    /// downloadFile calls per second (GREEN-API: 5 on WhatsApp and Telegram; a MAX client
    /// takes at most MAX's 1 whatever this says); 0 means unlimited.
    #[must_use]
    pub fn downloads_per_second(mut self, per_second: u32) -> Self {
        self.downloads_per_second = NonZeroU32::new(per_second);
        self
    }

    /// These limits with downloads at most `cap` a second.
    pub(crate) fn cap_downloads(mut self, cap: NonZeroU32) -> Self {
        self.downloads_per_second = self.downloads_per_second.map(|rate| rate.min(cap));
        self
    }

    /// receiveNotification and deleteNotification calls per second, each; 0 means unlimited.
    #[must_use]
    pub fn notifications_per_second(mut self, per_second: u32) -> Self {
        self.notifications_per_second = NonZeroU32::new(per_second);
        self
    }
}

/// A store of rate limiters shared by every replica of a bot — a
/// [`Redis`](crate::redis::Redis) (`redis` feature) — from which the clients built with
/// [`ClientSettings::shared_limits`](crate::gateway::ClientSettings::shared_limits) take their
/// turns, so that the replicas together keep to the instance's [`RateLimits`].
pub trait SharedLimits: Send + Sync + fmt::Debug + 'static {
    /// The shared limiters of the instance `instance` of `gateway`.
    fn instance(&self, gateway: GatewayKind, instance: &str) -> Arc<dyn InstanceLimits>;
}

/// One instance's limiters in a [`SharedLimits`] store, a limiter per group of methods.
#[async_trait]
pub trait InstanceLimits: Send + Sync + fmt::Debug {
    /// Waits until a call of `group` (`send`, `contacts`, ...; at most `rate` a second, in
    /// bursts of up to `rate`) may go out.
    ///
    /// # Errors
    ///
    /// When the store cannot tell (it does not answer): the call was not counted, and waits
    /// on the client's own limiter instead.
    async fn until_ready(&self, group: &'static str, rate: NonZeroU32) -> Result<(), BoxError>;
}

/// The limiters of one instance, one per group of methods the gateway limits together.
#[derive(Debug)]
pub(crate) struct Limiters {
    pub(crate) send: Limiter,
    /// Files by URL.
    pub(crate) file: Limiter,
    /// Locations.
    pub(crate) location: Limiter,
    /// Polls.
    pub(crate) poll: Limiter,
    /// Messages with buttons.
    pub(crate) buttons: Limiter,
    /// Typing indicators.
    pub(crate) typing: Limiter,
    /// Read marks (GREEN-API readChat: 10/s).
    pub(crate) read: Limiter,
    /// Forwards.
    pub(crate) forward: Limiter,
    /// downloadFile.
    pub(crate) download: Limiter,
    /// Any other method ([`Gateway::call_method`](crate::gateway::Gateway::call_method)).
    pub(crate) other: Limiter,
    pub(crate) contacts: Limiter,
    pub(crate) contact_info: Limiter,
    pub(crate) receive_notification: Limiter,
    pub(crate) delete_notification: Limiter,
    pub(crate) settings: Limiter,
    /// The instance's state (GREEN-API getStateInstance, Z-API status).
    pub(crate) instance_state: Limiter,
    /// The journal of sent messages, read after a send whose answer was lost.
    pub(crate) sent_messages: Limiter,
}

impl Limiters {
    /// Limiters of this client alone.
    pub(crate) fn new(limits: RateLimits) -> Self {
        Self {
            send: Limiter::local(limits.sends_per_second),
            file: Limiter::local(limits.sends_per_second),
            location: Limiter::local(limits.sends_per_second),
            poll: Limiter::local(limits.sends_per_second),
            buttons: Limiter::local(limits.sends_per_second),
            typing: Limiter::local(limits.sends_per_second),
            read: Limiter::local(limits.reads_per_second()),
            forward: Limiter::local(limits.sends_per_second),
            download: Limiter::local(limits.downloads_per_second),
            other: Limiter::local(limits.sends_per_second),
            contacts: Limiter::local(limits.lookups_per_second),
            contact_info: Limiter::local(limits.lookups_per_second),
            receive_notification: Limiter::local(limits.notifications_per_second),
            delete_notification: Limiter::local(limits.notifications_per_second),
            settings: Limiter::local(limits.lookups_per_second),
            instance_state: Limiter::local(limits.lookups_per_second),
            sent_messages: Limiter::local(limits.lookups_per_second),
        }
    }

    /// Limiters kept in a shared store for every replica's client of the instance, each
    /// falling back to one of this client's when the store does not answer.
    pub(crate) fn shared(limits: RateLimits, shared: &Arc<dyn InstanceLimits>) -> Self {
        let limiter = |group, rate| Limiter::shared(shared, group, rate);
        Self {
            send: limiter("send", limits.sends_per_second),
            file: limiter("file", limits.sends_per_second),
            location: limiter("location", limits.sends_per_second),
            poll: limiter("poll", limits.sends_per_second),
            buttons: limiter("buttons", limits.sends_per_second),
            typing: limiter("typing", limits.sends_per_second),
            read: limiter("read", limits.reads_per_second()),
            forward: limiter("forward", limits.sends_per_second),
            download: limiter("download", limits.downloads_per_second),
            other: limiter("other", limits.sends_per_second),
            contacts: limiter("contacts", limits.lookups_per_second),
            contact_info: limiter("contact-info", limits.lookups_per_second),
            receive_notification: limiter("receive-notification", limits.notifications_per_second),
            delete_notification: limiter("delete-notification", limits.notifications_per_second),
            settings: limiter("settings", limits.lookups_per_second),
            instance_state: limiter("instance-state", limits.lookups_per_second),
            sent_messages: limiter("sent-messages", limits.lookups_per_second),
        }
    }
}

/// A GCRA limiter on tokio's clock, so that waits follow a paused test clock too.
type Governor = RateLimiter<NotKeyed, InMemoryState, TokioClock>;

/// One group of methods' limiter: none, this client's own, or shared by the replicas.
#[derive(Debug)]
pub(crate) enum Limiter {
    /// No limit.
    Unlimited,
    /// This client's own limiter.
    Local(Governor),
    /// The replicas' limiter in a shared store, and this client's own for when the store does
    /// not answer.
    Shared {
        /// The instance's shared limiters.
        limits: Arc<dyn InstanceLimits>,
        /// Which of them: `send`, `contacts`, ...
        group: &'static str,
        /// Calls per second.
        rate: NonZeroU32,
        /// The fallback.
        local: Governor,
    },
}

impl Limiter {
    fn local(per_second: Option<NonZeroU32>) -> Self {
        match per_second {
            Some(rate) => Limiter::Local(governor(rate)),
            None => Limiter::Unlimited,
        }
    }

    fn shared(
        limits: &Arc<dyn InstanceLimits>,
        group: &'static str,
        per_second: Option<NonZeroU32>,
    ) -> Self {
        match per_second {
            Some(rate) => Limiter::Shared {
                limits: limits.clone(),
                group,
                rate,
                local: governor(rate),
            },
            None => Limiter::Unlimited,
        }
    }

    /// Waits until the next request may go out.
    pub(crate) async fn until_ready(&self) {
        match self {
            Limiter::Unlimited => {}
            Limiter::Local(local) => until_ready(local).await,
            Limiter::Shared {
                limits,
                group,
                rate,
                local,
            } => {
                if limits.until_ready(group, *rate).await.is_err() {
                    until_ready(local).await;
                }
            }
        }
    }
}

fn governor(rate: NonZeroU32) -> Governor {
    RateLimiter::direct_with_clock(Quota::per_second(rate), TokioClock)
}

/// Waits on `limiter` until the next request may go out.
async fn until_ready(limiter: &Governor) {
    while let Err(not_until) = limiter.check() {
        tokio::time::sleep(not_until.wait_time_from(TokioClock.now())).await;
    }
}

/// governor's clock reading tokio's time, which tests can pause and advance.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TokioClock;

impl Clock for TokioClock {
    type Instant = Instant;

    fn now(&self) -> Instant {
        tokio::time::Instant::now().into_std()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn one_per_second_spaces_calls_a_second_apart() {
        let limiter = Limiter::local(NonZeroU32::new(1));
        let start = tokio::time::Instant::now();
        let mut at = Vec::new();
        for _ in 0..3 {
            limiter.until_ready().await;
            at.push(start.elapsed());
        }
        assert_eq!(at[0], Duration::ZERO);
        assert!(at[1] >= Duration::from_secs(1), "{at:?}");
        assert!(at[2] >= Duration::from_secs(2), "{at:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_within_the_rate_does_not_wait() {
        let limiter = Limiter::local(NonZeroU32::new(50));
        let start = tokio::time::Instant::now();
        for _ in 0..50 {
            limiter.until_ready().await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
        limiter.until_ready().await;
        assert!(start.elapsed() >= Duration::from_millis(20));
    }

    #[tokio::test(start_paused = true)]
    async fn unlimited_never_waits() {
        let limiter = Limiter::local(None);
        let start = tokio::time::Instant::now();
        for _ in 0..1000 {
            limiter.until_ready().await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
    }
}
