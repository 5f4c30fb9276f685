//! Rate limits shared by every replica: one GCRA limiter per instance and group of methods,
//! kept in Redis and run in a Lua script on Redis's own clock, so that the replicas' requests
//! together keep to the instance's limits ([`RateLimits`](crate::gateway::RateLimits)).
//!
//! ```no_run
//! use hookbot::gateway::{ClientSettings, GreenApi};
//! use hookbot::redis::Redis;
//!
//! # fn run() -> hookbot::Result<()> {
//! let redis = Redis::open("redis://127.0.0.1:6379")?;
//! // Every replica built like this sends at most 50 messages a second in all.
//! let client = GreenApi::whatsapp("https://7105.api.greenapi.com", "1101000001", "token")
//!     .settings(ClientSettings::new().shared_limits(&redis))
//!     .build()?;
//! # let _ = client; Ok(()) }
//! ```
//!
//! A call asks the script for its turn; the script answers at once, or with how long to wait,
//! and the client sleeps and asks again. When Redis cannot answer, the call waits on the
//! client's own in-process limiter instead (for that call, and for the next few seconds
//! without asking Redis), with a warning at most every ten seconds: sending goes on, each
//! replica keeping to the limits alone.

use std::num::NonZeroU32;
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use redis::Script;
use tokio::time::Instant;

use super::Redis;
use crate::error::BoxError;
use crate::gateway::{GatewayKind, InstanceLimits, SharedLimits};

/// How long one ask for a turn may take before the call falls back to the local limiter.
const ASK_TIMEOUT: Duration = Duration::from_secs(1);
/// How long calls use the local limiters without asking Redis after Redis failed.
const FALLBACK_PERIOD: Duration = Duration::from_secs(5);
/// The least time between two warnings that the limits are not shared.
const WARNING_EVERY: Duration = Duration::from_secs(10);

/// GCRA: takes a turn and answers 0, or answers how many µs until the next turn.
/// KEYS: the limiter. ARGV: µs between turns, µs of burst tolerance.
static TAKE_TURN: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        local time = redis.call('TIME')
        local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
        local interval = tonumber(ARGV[1])
        local tolerance = tonumber(ARGV[2])
        local tat = tonumber(redis.call('GET', KEYS[1])) or now
        if tat < now then tat = now end
        local earliest = tat - tolerance
        if now < earliest then return math.max(1, math.ceil(earliest - now)) end
        local next_tat = tat + interval
        local ttl = math.ceil((next_tat - now) / 1000) + 1
        redis.call('SET', KEYS[1], string.format('%.0f', next_tat), 'PX', ttl)
        return 0
        ",
    )
});

/// The shared limiters of one client's instance, and whether Redis answers them.
#[derive(Debug)]
pub(crate) struct RedisLimits {
    redis: Redis,
    /// `{namespace}:rate:{gateway}:{instance}`; each group adds `:{group}`.
    prefix: String,
    health: Mutex<Health>,
}

/// When Redis last failed the limiters, and when that was last told.
#[derive(Debug, Default)]
struct Health {
    local_until: Option<Instant>,
    warned_at: Option<Instant>,
    fallbacks: u64,
}

/// Redis could not tell the call its turn; the caller waits on its local limiter.
#[derive(Debug, thiserror::Error)]
#[error("Redis does not answer the shared rate limiter")]
pub(crate) struct Unavailable;

/// The rate limiters of every instance, kept in this Redis for all replicas.
impl SharedLimits for Redis {
    fn instance(&self, gateway: GatewayKind, instance: &str) -> Arc<dyn InstanceLimits> {
        Arc::new(RedisLimits {
            prefix: self.key(format_args!("rate:{gateway}:{instance}")),
            redis: self.clone(),
            health: Mutex::default(),
        })
    }
}

#[async_trait]
impl InstanceLimits for RedisLimits {
    async fn until_ready(&self, group: &'static str, rate: NonZeroU32) -> Result<(), BoxError> {
        Ok(self.take_turn(group, rate).await?)
    }
}

impl RedisLimits {
    /// Waits until the limiter of `group` (`rate` calls per second, in bursts of up to `rate`)
    /// gives the call its turn.
    ///
    /// # Errors
    ///
    /// [`Unavailable`] when Redis does not answer (or failed moments ago): the call has not
    /// been counted, and should wait on a local limiter.
    async fn take_turn(&self, group: &str, rate: NonZeroU32) -> Result<(), Unavailable> {
        if self.in_fallback() {
            return Err(Unavailable);
        }
        let key = format!("{}:{group}", self.prefix);
        let interval = 1_000_000_u64.div_ceil(u64::from(rate.get()));
        let tolerance = interval * u64::from(rate.get() - 1);
        let mut connection = self.redis.connection();
        loop {
            let mut asked = TAKE_TURN.prepare_invoke();
            asked.key(&key).arg(interval).arg(tolerance);
            let wait =
                tokio::time::timeout(ASK_TIMEOUT, asked.invoke_async::<i64>(&mut connection)).await;
            match wait {
                Ok(Ok(wait)) if wait <= 0 => return Ok(()),
                Ok(Ok(wait)) => {
                    // A turn is never further than one burst window away; a longer answer
                    // (a foreign or damaged key) is asked again after that window.
                    let wait = wait.unsigned_abs().min(interval + tolerance);
                    tokio::time::sleep(Duration::from_micros(wait)).await
                }
                Ok(Err(error)) => return Err(self.failed(error.category())),
                Err(_) => return Err(self.failed("no answer in time")),
            }
        }
    }

    /// Whether Redis failed within the last [`FALLBACK_PERIOD`].
    fn in_fallback(&self) -> bool {
        let mut health = self.health();
        match health.local_until {
            Some(until) if Instant::now() < until => {
                health.fallbacks += 1;
                true
            }
            _ => false,
        }
    }

    /// Notes that Redis failed: calls use local limiters for a while; warns unless it did
    /// moments ago.
    fn failed(&self, reason: &str) -> Unavailable {
        let now = Instant::now();
        let mut health = self.health();
        health.local_until = Some(now + FALLBACK_PERIOD);
        health.fallbacks += 1;
        let quiet = health
            .warned_at
            .is_some_and(|at| now.duration_since(at) < WARNING_EVERY);
        if !quiet {
            tracing::warn!(
                limiter = %self.prefix,
                reason,
                calls = health.fallbacks,
                "Redis does not answer the shared rate limiter: calls wait on this replica's own limits"
            );
            health.warned_at = Some(now);
            health.fallbacks = 0;
        }
        Unavailable
    }

    fn health(&self) -> MutexGuard<'_, Health> {
        self.health
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
