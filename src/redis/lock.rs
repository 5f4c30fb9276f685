//! A lease on a key, held across replicas: taken with `SET key token NX PX ttl` (a random
//! token per holder), renewed by a background task while held, given up with a
//! compare-and-delete, so that a holder never deletes someone else's lease. A holder that dies
//! stops renewing, and its lease lapses after the time-to-live.
//!
//! [`RedisStorage`](crate::redis::RedisStorage) holds each conversation's key with one while
//! its handler runs; its time-to-live is a setting of the store:
//!
//! ```no_run
//! use std::time::Duration;
//! use hookbot::redis::{Redis, RedisStorage};
//!
//! # fn run() -> hookbot::Result<()> {
//! let redis = Redis::open("redis://127.0.0.1:6379")?;
//! // A replica that dies holding a conversation blocks it for at most 10 s.
//! let storage: RedisStorage<u32> = RedisStorage::new(&redis).lease_ttl(Duration::from_secs(10));
//! # let _ = storage; Ok(()) }
//! ```
//!
//! The lease is safe while its renewals reach Redis within the time-to-live; a holder cut off
//! from Redis for longer logs that it lost the lease (there is no fencing token).

use std::sync::LazyLock;
use std::time::Duration;

use redis::Script;
use redis::aio::ConnectionManager;
use tokio::sync::oneshot;

use super::Redis;
use crate::backoff::Backoff;

/// The most the first wait after finding the key held by someone else can be; each further
/// try doubles it, up to [`MAX_BACKOFF`] (a random half of it is kept).
const INITIAL_BACKOFF: Duration = Duration::from_millis(10);
/// The most a wait between two tries to take a held key can be.
const MAX_BACKOFF: Duration = Duration::from_millis(150);

/// Extends the lease if the token still holds it: 1 if so, 0 if it was lost.
static RENEW: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        if redis.call('GET', KEYS[1]) == ARGV[1] then
            return redis.call('PEXPIRE', KEYS[1], ARGV[2])
        end
        return 0
        ",
    )
});

/// Deletes the lease if the token still holds it.
static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        if redis.call('GET', KEYS[1]) == ARGV[1] then
            return redis.call('DEL', KEYS[1])
        end
        return 0
        ",
    )
});

/// A held lease; dropping it stops the renewals and gives the lease up (in the background).
#[derive(Debug)]
pub(crate) struct LeaseGuard {
    /// Dropped with the guard, which tells the keeper to give the lease up.
    _stop: oneshot::Sender<()>,
}

/// Waits until `key` is free, takes it for `ttl`, and keeps it until the guard is dropped.
/// Fails when Redis does.
pub(crate) async fn acquire(
    redis: &Redis,
    key: String,
    ttl: Duration,
) -> Result<LeaseGuard, redis::RedisError> {
    let mut connection = redis.connection();
    let token = format!("{:032x}", rand::random::<u128>());
    let ttl = ttl.max(Duration::from_millis(30));
    let mut backoff = Backoff::new(INITIAL_BACKOFF, MAX_BACKOFF);
    while !try_take(&mut connection, &key, &token, ttl).await? {
        tokio::time::sleep(backoff.next()).await;
    }
    let (stop, stopped) = oneshot::channel();
    tokio::spawn(keep(connection, key, token, ttl, stopped));
    Ok(LeaseGuard { _stop: stop })
}

/// `SET key token NX PX ttl`: whether the key was free and is now ours.
async fn try_take(
    connection: &mut ConnectionManager,
    key: &str,
    token: &str,
    ttl: Duration,
) -> Result<bool, redis::RedisError> {
    let answer: redis::Value = redis::cmd("SET")
        .arg(key)
        .arg(token)
        .arg("NX")
        .arg("PX")
        .arg(millis(ttl))
        .query_async(connection)
        .await?;
    Ok(!matches!(answer, redis::Value::Nil))
}

/// Renews the lease every third of its time-to-live until `stopped`, then gives it up.
async fn keep(
    mut connection: ConnectionManager,
    key: String,
    token: String,
    ttl: Duration,
    mut stopped: oneshot::Receiver<()>,
) {
    let every = ttl / 3;
    loop {
        tokio::select! {
            _ = &mut stopped => break,
            () = tokio::time::sleep(every) => {}
        }
        let renewed = RENEW
            .key(&key)
            .arg(&token)
            .arg(millis(ttl))
            .invoke_async::<i64>(&mut connection)
            .await;
        match renewed {
            Ok(1) => {}
            Ok(_) => {
                tracing::error!(lease = %key, "lease lost before its holder was done: another replica may hold the key now");
                return;
            }
            Err(error) => {
                tracing::warn!(lease = %key, error = error.category(), "could not renew a lease; trying again");
            }
        }
    }
    let released = RELEASE
        .key(&key)
        .arg(&token)
        .invoke_async::<i64>(&mut connection)
        .await;
    if let Err(error) = released {
        tracing::warn!(lease = %key, error = error.category(), "could not give a lease up; it lapses by itself");
    }
}

/// Whole milliseconds, at least 1 (Redis refuses a zero time-to-live).
pub(crate) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis())
        .unwrap_or(u64::MAX)
        .max(1)
}
