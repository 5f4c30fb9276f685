//! Who handles which partition: each replica announces itself with a heartbeat, and holds a
//! lease (a key whose value is its id, with a time to live) on each partition it handles.
//! Leases are taken with `SET NX PX`, renewed and released only by their holder (the scripts
//! compare the value first).

use std::sync::LazyLock;
use std::time::Duration;

use redis::Script;

use super::queue::RedisQueue;

/// Renews the holder's own heartbeat, forgets the replicas whose heartbeat expired, and
/// counts the live ones. On Redis's clock, so that replicas' clocks need not agree.
static HEARTBEAT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
-- KEYS[1]: the replicas (a sorted set by expiry); ARGV: this replica's id, the lease (ms)
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZCARD', KEYS[1])
",
    )
});

/// Renews each of the given leases that the replica still holds; answers 1 (renewed) or 0
/// (lost) per lease.
static RENEW: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
-- KEYS: leases; ARGV: this replica's id, the lease (ms)
local renewed = {}
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then
    redis.call('PEXPIRE', key, ARGV[2])
    renewed[i] = 1
  else
    renewed[i] = 0
  end
end
return renewed
",
    )
});

/// Deletes each of the given leases that the replica holds, and its heartbeat when asked.
static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
-- KEYS[1]: the replicas; KEYS[2..]: leases; ARGV: this replica's id, 1 to leave the replicas
for i = 2, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[1] then
    redis.call('DEL', KEYS[i])
  end
end
if ARGV[2] == '1' then
  redis.call('ZREM', KEYS[1], ARGV[1])
end
return 1
",
    )
});

/// One replica's view of the leases.
pub(crate) struct Leases {
    queue: RedisQueue,
    id: String,
}

impl Leases {
    /// Leases held under `id`.
    pub(crate) fn new(queue: RedisQueue, id: String) -> Self {
        Self { queue, id }
    }

    /// This replica's id: the value of its leases and its consumer name in the streams.
    pub(crate) fn id(&self) -> &str {
        &self.id
    }

    fn key(&self, partition: u16) -> String {
        self.queue.redis().key(format_args!("lease:{partition}"))
    }

    fn replicas(&self) -> String {
        self.queue.redis().key("replicas")
    }

    fn millis(&self) -> u64 {
        u64::try_from(self.queue.lease_time().as_millis()).unwrap_or(u64::MAX)
    }

    /// Announces this replica for one more lease time; answers how many replicas are live.
    pub(crate) async fn heartbeat(&self) -> redis::RedisResult<usize> {
        HEARTBEAT
            .key(self.replicas())
            .arg(&self.id)
            .arg(self.millis())
            .invoke_async(&mut self.queue.redis().connection())
            .await
    }

    /// Takes the lease on `partition` if nobody holds it.
    pub(crate) async fn acquire(&self, partition: u16) -> redis::RedisResult<bool> {
        let taken: Option<String> = redis::cmd("SET")
            .arg(self.key(partition))
            .arg(&self.id)
            .arg("NX")
            .arg("PX")
            .arg(self.millis())
            .query_async(&mut self.queue.redis().connection())
            .await?;
        Ok(taken.is_some())
    }

    /// Renews the leases on `partitions`; answers whether each is still held.
    pub(crate) async fn renew(&self, partitions: &[u16]) -> redis::RedisResult<Vec<bool>> {
        if partitions.is_empty() {
            return Ok(Vec::new());
        }
        let mut invocation = RENEW.prepare_invoke();
        for partition in partitions {
            invocation.key(self.key(*partition));
        }
        let renewed: Vec<i64> = invocation
            .arg(&self.id)
            .arg(self.millis())
            .invoke_async(&mut self.queue.redis().connection())
            .await?;
        Ok(renewed.into_iter().map(|held| held == 1).collect())
    }

    /// Gives up the leases on `partitions` (those still held), and leaves the replicas when
    /// `leaving`.
    pub(crate) async fn release(
        &self,
        partitions: &[u16],
        leaving: bool,
    ) -> redis::RedisResult<()> {
        let mut invocation = RELEASE.key(self.replicas());
        for partition in partitions {
            invocation.key(self.key(*partition));
        }
        invocation
            .arg(&self.id)
            .arg(if leaving { "1" } else { "0" })
            .invoke_async::<()>(&mut self.queue.redis().connection())
            .await
    }
}

/// The partitions a replica should hold when `live` replicas share `partitions`.
pub(crate) fn fair_share(partitions: u16, live: usize) -> usize {
    usize::from(partitions).div_ceil(live.max(1))
}

/// How often a replica renews its leases: three times per lease.
pub(crate) fn renewal_period(lease: Duration) -> Duration {
    lease / 3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replicas_share_the_partitions_rounding_up() {
        assert_eq!(fair_share(16, 1), 16);
        assert_eq!(fair_share(16, 3), 6);
        assert_eq!(fair_share(16, 16), 1);
        assert_eq!(fair_share(16, 40), 1);
        assert_eq!(fair_share(16, 0), 16);
    }
}
