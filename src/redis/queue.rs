//! The durable shared queue: accepted notifications as entries of Redis streams, a stream per
//! partition, a partition per chat.

use std::time::Duration;

use redis::Script;
use xxhash_rust::xxh3::Xxh3;

use super::{Redis, storage_error};
use crate::dedupe::{DEFAULT_RETENTION, DedupeKey};
use crate::error::Result;
use crate::event::Event;

/// Partitions (streams) of a queue by default.
pub const DEFAULT_PARTITIONS: u16 = 16;
/// Events a queue holds at most by default, over all partitions; past it the receiver
/// answers 503.
pub const DEFAULT_QUEUE_CAPACITY: usize = 100_000;
/// How long a replica owns a partition without renewing its lease, by default: a replica that
/// dies leaves its partitions, and their pending events, to the others after this long.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(10);
/// The shortest lease: renewals come three times per lease.
const MIN_LEASE: Duration = Duration::from_millis(300);
/// The consumer group of every partition's stream.
pub(crate) const GROUP: &str = "handlers";

/// Claims each notification of a batch against duplicates and appends it to its partition's
/// stream, in order, each in one atomic step: a duplicate is not appended, a full stream takes
/// nothing (and keeps no claim), and an append Redis refuses takes nothing either, while the
/// batch's other notifications go on. Answers per notification 1 (appended), 0 (a duplicate),
/// -1 (full) or -2 (refused). A claim is taken back when its notification is not appended: a
/// claim without its entry would turn the gateway's next delivery into a "duplicate" that
/// nobody handles (so nothing that can fail comes between the claim and the append, which is
/// a protected call). Each stream's length is read once per batch.
const APPEND: &str = r"
-- KEYS: per notification, its partition's stream, then its claim when it has one
-- ARGV[1]: a stream's capacity; ARGV[2]: the claims' retention (s); then per notification:
-- whether it has a claim ('1' or '0'), the gateway, the notification, the instance it was
-- accepted for
local capacity = tonumber(ARGV[1])
local lengths = {}
local answers = {}
local key = 1
for at = 3, #ARGV, 4 do
  local stream = KEYS[key]
  local claim = false
  if ARGV[at] == '1' then
    claim = KEYS[key + 1]
    key = key + 2
  else
    key = key + 1
  end
  local length = lengths[stream] or redis.call('XLEN', stream)
  local answer = 1
  if claim and not redis.call('SET', claim, '1', 'NX', 'EX', ARGV[2]) then
    answer = 0
  elseif length >= capacity then
    answer = -1
  else
    local added = redis.pcall('XADD', stream, '*', 'gateway', ARGV[at + 1],
      'event', ARGV[at + 2], 'instance', ARGV[at + 3])
    if type(added) == 'table' and added.err then
      answer = -2
    else
      length = length + 1
    end
  end
  if answer < 0 and claim then
    redis.call('DEL', claim)
  end
  lengths[stream] = length
  answers[#answers + 1] = answer
end
return answers
";

/// The Redis queue of a bot's accepted notifications, shared by its replicas: the receiver
/// answers 200 only once a notification is appended (`XADD`) to its partition's stream, and
/// each replica handles the partitions it holds a lease on. Cheap to clone.
///
/// ```no_run
/// use std::time::Duration;
/// use hookbot::redis::{Redis, RedisQueue};
///
/// # fn run() -> hookbot::Result<()> {
/// let redis = Redis::open("redis://127.0.0.1:6379")?.namespace("support-bot");
/// let queue = RedisQueue::new(redis)
///     .partitions(32)
///     .lease(Duration::from_secs(15));
/// # let _ = queue;
/// # Ok(()) }
/// ```
///
/// Every replica of one bot must use the same namespace and the same number of partitions.
#[derive(Debug, Clone)]
#[must_use]
pub struct RedisQueue {
    redis: Redis,
    partitions: u16,
    capacity: usize,
    lease: Duration,
    replica: Option<String>,
}

/// What became of an appended notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Appended {
    /// In its partition's stream.
    Queued,
    /// A copy of one appended before: not appended again.
    Duplicate,
    /// Its partition's stream is full: not appended, not claimed.
    Full,
    /// Redis refused to append it (its stream takes no more entries): not appended, not
    /// claimed.
    Refused,
}

impl From<Redis> for RedisQueue {
    fn from(redis: Redis) -> Self {
        Self::new(redis)
    }
}

impl RedisQueue {
    /// A queue on `redis` with [`DEFAULT_PARTITIONS`], [`DEFAULT_QUEUE_CAPACITY`] and
    /// [`DEFAULT_LEASE`].
    pub fn new(redis: Redis) -> Self {
        Self {
            redis,
            partitions: DEFAULT_PARTITIONS,
            capacity: DEFAULT_QUEUE_CAPACITY,
            lease: DEFAULT_LEASE,
            replica: None,
        }
    }

    /// Spreads the chats over this many streams (at least 1). More partitions spread the work
    /// over more replicas; all replicas must agree on the number.
    pub fn partitions(mut self, partitions: u16) -> Self {
        self.partitions = partitions.max(1);
        self
    }

    /// At most this many events wait in the queue (at least one per partition), shared evenly
    /// by the partitions; past it the receiver answers 503.
    pub fn capacity(mut self, events: usize) -> Self {
        self.capacity = events;
        self
    }

    /// How long a replica owns a partition without renewing its lease (at least 300 ms): after
    /// a replica dies, another takes its partitions and their pending events this much later.
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease.max(MIN_LEASE);
        self
    }

    /// Names this replica in Redis (the value of its leases, its consumer name in the
    /// streams), say by its host or pod name; by default a random id per start. Two running
    /// replicas must not share a name.
    pub fn replica(mut self, name: impl Into<String>) -> Self {
        self.replica = Some(name.into());
        self
    }

    /// The name this replica goes by, if one was set.
    pub(crate) fn replica_name(&self) -> Option<&str> {
        self.replica.as_deref()
    }

    /// The connection the queue uses.
    pub fn redis(&self) -> &Redis {
        &self.redis
    }

    /// Events in the queue, over all partitions: waiting, or being handled by some replica.
    pub async fn depth(&self) -> Result<usize> {
        let mut pipe = redis::pipe();
        for partition in 0..self.partitions {
            pipe.cmd("XLEN").arg(self.stream(partition));
        }
        let lengths: Vec<usize> = pipe
            .query_async(&mut self.redis.connection())
            .await
            .map_err(storage_error)?;
        Ok(lengths.iter().sum())
    }

    /// The number of partitions.
    pub(crate) fn partition_count(&self) -> u16 {
        self.partitions
    }

    /// How long a lease lasts without renewal.
    pub(crate) fn lease_time(&self) -> Duration {
        self.lease
    }

    /// The stream of `partition`.
    pub(crate) fn stream(&self, partition: u16) -> String {
        self.redis.key(format_args!("queue:{partition}"))
    }

    /// The partition of `event`: a stable hash of its gateway, instance and chat (no chat: the
    /// instance's events share one), the same in every replica and version.
    pub(crate) fn partition_of(&self, event: &Event) -> u16 {
        let mut hash = Xxh3::new();
        for part in [
            event.gateway.as_str(),
            &event.instance,
            event.chat().map_or("", |chat| chat.as_str()),
        ] {
            hash.update(&(part.len() as u64).to_le_bytes());
            hash.update(part.as_bytes());
        }
        (hash.digest() % u64::from(self.partitions)) as u16
    }

    /// Claims each of `events` and appends it to its partition's stream, in order, each
    /// atomically, in one round trip; what became of each, in the same order.
    pub(crate) async fn append(&self, events: &[Event]) -> redis::RedisResult<Vec<Appended>> {
        static SCRIPT: std::sync::LazyLock<Script> =
            std::sync::LazyLock::new(|| Script::new(APPEND));
        let per_partition = self.capacity.div_ceil(usize::from(self.partitions)).max(1);
        let mut invocation = SCRIPT.prepare_invoke();
        invocation
            .arg(per_partition)
            .arg(DEFAULT_RETENTION.as_secs());
        for event in events {
            invocation.key(self.stream(self.partition_of(event)));
            let claim = DedupeKey::of(event);
            if let Some(key) = &claim {
                invocation.key(super::dedupe::claim_key(&self.redis, key));
            }
            invocation
                .arg(if claim.is_some() { "1" } else { "0" })
                .arg(event.gateway.as_str())
                .arg(event.raw.as_str())
                .arg(&*event.instance);
        }
        let answers: Vec<i64> = invocation
            .invoke_async(&mut self.redis.connection())
            .await?;
        if answers.len() != events.len() {
            return Err(redis::RedisError::from((
                redis::ErrorKind::UnexpectedReturnType,
                "the append script answered for another number of notifications",
            )));
        }
        Ok(answers
            .into_iter()
            .map(|answer| match answer {
                1 => Appended::Queued,
                0 => Appended::Duplicate,
                -1 => Appended::Full,
                _ => Appended::Refused,
            })
            .collect())
    }
}

/// The event an entry holds, or `None` for an entry hookbot did not write (logged by the
/// caller, then acknowledged: it can never be handled). The event keeps the instance it was
/// accepted for, also when the notification names none (a Z-API callback is its path token's
/// instance).
pub(crate) fn decode(entry: &redis::streams::StreamId) -> Option<Event> {
    let gateway: String = entry.get("gateway")?;
    let notification: String = entry.get("event")?;
    let instance: String = entry.get("instance").unwrap_or_default();
    Event::restore(&gateway, &notification, &instance)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::GatewayKind;

    fn text(chat: &str) -> Event {
        Event::from_json(
            GatewayKind::GreenApiWhatsApp,
            serde_json::json!({
                "typeWebhook": "incomingMessageReceived",
                "instanceData": {"idInstance": 1, "wid": "", "typeInstance": "whatsapp"},
                "timestamp": 1, "idMessage": "M1",
                "senderData": {"chatId": chat, "sender": chat, "senderName": "Anna"},
                "messageData": {"typeMessage": "textMessage", "textMessageData": {"textMessage": "hi"}}
            }),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn a_chat_always_has_the_same_partition_and_chats_spread() {
        let queue = RedisQueue::new(Redis::open("redis://127.0.0.1:1").unwrap());
        assert_eq!(
            queue.partition_of(&text("79001234567@c.us")),
            queue.partition_of(&text("79001234567@c.us"))
        );
        let used: std::collections::HashSet<u16> = (0..200)
            .map(|n| queue.partition_of(&text(&format!("7900{n:07}@c.us"))))
            .collect();
        assert_eq!(used.len(), usize::from(DEFAULT_PARTITIONS));
    }
}
