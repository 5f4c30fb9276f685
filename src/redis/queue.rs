//! The durable shared queue: accepted notifications as entries of Redis streams, a stream per
//! partition, a partition per chat.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use redis::{FromRedisValue, ParsingError, RedisWrite, Script, ToRedisArgs, Value};
use xxhash_rust::xxh3::{Xxh3, xxh3_64};

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

/// Claims each notification of a batch against duplicates and appends it to its partition's
/// stream, in order, each in one atomic step: a duplicate is not appended, a full stream takes
/// nothing (and keeps no claim), and an append Redis refuses takes nothing either, while the
/// batch's other notifications go on. Answers per notification its entry's id (appended), or
/// 0 (a duplicate), -1 (full) or -2 (refused); then, per stream of the batch, 1 when it was
/// given a cursor and held nothing after it before the batch (else 0). A claim is taken back
/// when its notification is not appended: a claim without its entry would turn the gateway's
/// next delivery into a "duplicate" that nobody handles (so nothing that can fail comes
/// between the claim and the append, which is a protected call). Each stream's length is
/// read once per batch; an empty one holds nothing after a cursor, unread.
///
/// What repeats within a batch goes once: its streams, and its sources (a gateway and an
/// instance); a notification names both by one number, its tag.
const APPEND: &str = r"
-- KEYS: the batch's streams, each once (n); then the claims of the notifications that have
-- one, in order
-- ARGV[1]: a stream's capacity; ARGV[2]: the claims' retention (s); ARGV[3]: n; ARGV[4]: how
-- many sources follow the cursors; then per stream its cursor ('' for none); then per source
-- its gateway and instance; then per notification its tag and its text. A tag is
-- (source - 1) * n + stream, negated when the notification has no claim.
local capacity = tonumber(ARGV[1])
local streams = tonumber(ARGV[3])
local sources = 5 + streams
local first = sources + 2 * tonumber(ARGV[4])
local lengths = {}
local clear = {}
for s = 1, streams do
  lengths[s] = redis.call('XLEN', KEYS[s])
  local cursor = ARGV[4 + s]
  clear[s] = 0
  if cursor ~= '' and lengths[s] == 0 then
    clear[s] = 1
  elseif cursor ~= '' then
    local after = redis.pcall('XRANGE', KEYS[s], '(' .. cursor, '+', 'COUNT', 1)
    if type(after) == 'table' and not after.err and #after == 0 then
      clear[s] = 1
    end
  end
end
local answers = {}
local claims = streams
for at = first, #ARGV, 2 do
  local tag = tonumber(ARGV[at])
  local claim = false
  if tag > 0 then
    claims = claims + 1
    claim = KEYS[claims]
  else
    tag = -tag
  end
  local s = (tag - 1) % streams + 1
  local source = sources + 2 * ((tag - s) / streams)
  local answer
  if claim and not redis.call('SET', claim, '1', 'NX', 'EX', ARGV[2]) then
    answer = 0
  elseif lengths[s] >= capacity then
    answer = -1
  else
    local added = redis.pcall('XADD', KEYS[s], '*', 'gateway', ARGV[source],
      'event', ARGV[at + 1], 'instance', ARGV[source + 1])
    if type(added) == 'table' and added.err then
      answer = -2
    else
      answer = added
      lengths[s] = lengths[s] + 1
    end
  end
  if type(answer) == 'number' and answer < 0 and claim then
    redis.call('DEL', claim)
  end
  answers[#answers + 1] = answer
end
for s = 1, streams do
  answers[#answers + 1] = clear[s]
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
    /// Each partition's stream key, made once.
    streams: Arc<[String]>,
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
            streams: stream_keys(&redis, DEFAULT_PARTITIONS),
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
        self.streams = stream_keys(&self.redis, self.partitions);
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

    /// The stream of `partition` (one of the queue's).
    pub(crate) fn stream(&self, partition: u16) -> &str {
        &self.streams[usize::from(partition)]
    }

    /// The partition of `event`: a stable hash of its gateway, instance and chat (no chat: the
    /// instance's events share one), the same in every replica and version.
    pub(crate) fn partition_of(&self, event: &Event) -> u16 {
        let digest = digest_of(&[
            event.gateway.as_str(),
            &event.instance,
            event.chat().map_or("", |chat| chat.as_str()),
        ]);
        (digest % u64::from(self.partitions)) as u16
    }

    /// Claims each of `events` and appends it to its partition's stream (`partitions`, one
    /// per event, as [`partition_of`](Self::partition_of) gives them), in order, each
    /// atomically, in one round trip; what became of each, in the same order. For each of
    /// `cursors` (a partition and an entry id) it also says whether the partition's stream
    /// held nothing after that entry before the call appended to it.
    pub(crate) async fn append(
        &self,
        events: &[Event],
        partitions: &[u16],
        cursors: &[(u16, StreamId)],
    ) -> redis::RedisResult<Appends> {
        static SCRIPT: std::sync::LazyLock<Script> =
            std::sync::LazyLock::new(|| Script::new(APPEND));
        let call = AppendCall::new(self, events, partitions);
        let command = call.command(SCRIPT.get_hash(), cursors);
        let mut connection = self.redis.connection();
        let answers: Vec<Value> = match command.query_async(&mut connection).await {
            Err(error)
                if error.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript) =>
            {
                SCRIPT.prepare_invoke().load_async(&mut connection).await?;
                command.query_async(&mut connection).await?
            }
            answers => answers?,
        };
        Appends::of(answers, events.len(), call.streams.len())
            .map(|appends| appends.per_cursor(&call.streams, cursors))
            .ok_or_else(|| {
                redis::RedisError::from((
                    redis::ErrorKind::UnexpectedReturnType,
                    "the append script answered in another shape",
                ))
            })
    }
}

/// One call of the append script for a batch: its streams and sources, each once, and each
/// notification's tag naming them.
struct AppendCall<'a> {
    queue: &'a RedisQueue,
    events: &'a [Event],
    /// The batch's partitions, in the order they first come.
    streams: Vec<u16>,
    /// The batch's gateways and instances, in the order they first come.
    sources: Vec<(&'a str, &'a str)>,
    /// Per notification: its tag (see [`APPEND`]) and its claim, if it has one.
    tags: Vec<(i64, Option<DedupeKey>)>,
}

impl<'a> AppendCall<'a> {
    fn new(queue: &'a RedisQueue, events: &'a [Event], partitions: &[u16]) -> Self {
        let mut streams = Vec::new();
        let mut sources = Vec::new();
        let placed: Vec<(i64, i64, Option<DedupeKey>)> = events
            .iter()
            .zip(partitions)
            .map(|(event, &partition)| {
                let stream = index_of(&mut streams, partition);
                let source = index_of(&mut sources, (event.gateway.as_str(), &*event.instance));
                (stream, source, DedupeKey::of(event))
            })
            .collect();
        let count = streams.len() as i64;
        let tags = placed
            .into_iter()
            .map(|(stream, source, claim)| (source * count + stream + 1, claim))
            .collect();
        Self {
            queue,
            events,
            streams,
            sources,
            tags,
        }
    }

    /// The `EVALSHA` of the script whose hash is `hash`, checking `cursors`: each argument
    /// written once, straight into the command.
    fn command(&self, hash: &str, cursors: &[(u16, StreamId)]) -> redis::Cmd {
        let claims = self
            .tags
            .iter()
            .filter(|(_, claim)| claim.is_some())
            .count();
        let arguments =
            7 + 2 * self.streams.len() + 2 * self.sources.len() + claims + 2 * self.events.len();
        let bytes: usize = self
            .events
            .iter()
            .map(|event| event.raw.as_str().len() + 96)
            .sum();
        let mut command = redis::Cmd::with_capacity(arguments, bytes + 64 * self.streams.len());
        command
            .arg("EVALSHA")
            .arg(hash)
            .arg(self.streams.len() + claims);
        for &partition in &self.streams {
            command.arg(self.queue.stream(partition));
        }
        for (_, claim) in &self.tags {
            if let Some(key) = claim {
                command.arg(super::dedupe::ClaimKey::new(&self.queue.redis, key));
            }
        }
        let per_partition = self
            .queue
            .capacity
            .div_ceil(usize::from(self.queue.partitions))
            .max(1);
        command
            .arg(per_partition)
            .arg(DEFAULT_RETENTION.as_secs())
            .arg(self.streams.len())
            .arg(self.sources.len());
        for partition in &self.streams {
            match cursors.iter().find(|(sent, _)| sent == partition) {
                Some((_, cursor)) => command.arg(cursor),
                None => command.arg(""),
            };
        }
        for (gateway, instance) in &self.sources {
            command.arg(*gateway).arg(*instance);
        }
        for (event, (tag, claim)) in self.events.iter().zip(&self.tags) {
            let tag = if claim.is_some() { *tag } else { -*tag };
            command.arg(tag).arg(event.raw.as_str());
        }
        command
    }
}

/// The xxh3 hash of `parts`, each preceded by its length (eight bytes, little-endian): hashed
/// at once from the stack when they are short (as they are: a gateway, an instance and a
/// chat), else streamed; the same digest either way.
fn digest_of(parts: &[&str]) -> u64 {
    let mut buffer = [0u8; 256];
    let mut used = 0;
    for part in parts {
        let end = used + 8 + part.len();
        let Some(room) = buffer.get_mut(used..end) else {
            return streamed_digest_of(parts);
        };
        room[..8].copy_from_slice(&(part.len() as u64).to_le_bytes());
        room[8..].copy_from_slice(part.as_bytes());
        used = end;
    }
    xxh3_64(&buffer[..used])
}

/// [`digest_of`] `parts` of any length, streamed.
fn streamed_digest_of(parts: &[&str]) -> u64 {
    let mut hash = Xxh3::new();
    for part in parts {
        hash.update(&(part.len() as u64).to_le_bytes());
        hash.update(part.as_bytes());
    }
    hash.digest()
}

/// The place of `item` in `items`, added at the end when it is not there yet.
fn index_of<T: PartialEq>(items: &mut Vec<T>, item: T) -> i64 {
    let at = items
        .iter()
        .position(|seen| *seen == item)
        .unwrap_or_else(|| {
            items.push(item);
            items.len() - 1
        });
    at as i64
}

/// What one call of the append script did.
pub(crate) struct Appends {
    /// Per notification, in order: what became of it, and its entry's id when it was
    /// appended.
    pub(crate) outcomes: Vec<(Appended, Option<StreamId>)>,
    /// Per cursor given, in order: whether its stream held nothing after it before the
    /// call.
    pub(crate) clear: Vec<bool>,
}

impl Appends {
    /// The answers with one clear flag per stream of `streams` turned into one per cursor of
    /// `cursors` (not clear for a cursor whose stream the batch did not append to).
    fn per_cursor(mut self, streams: &[u16], cursors: &[(u16, StreamId)]) -> Self {
        self.clear = cursors
            .iter()
            .map(|(partition, _)| {
                streams
                    .iter()
                    .position(|stream| stream == partition)
                    .is_some_and(|at| self.clear[at])
            })
            .collect();
        self
    }

    /// The script's `answers` for `events` notifications in `streams` streams (a clear flag
    /// per stream); `None` when they are of another shape.
    fn of(answers: Vec<Value>, events: usize, streams: usize) -> Option<Self> {
        if answers.len() != events + streams {
            return None;
        }
        let mut answers = answers.into_iter();
        let outcomes = answers
            .by_ref()
            .take(events)
            .map(|answer| match answer {
                Value::BulkString(id) => Some((Appended::Queued, Some(StreamId::parse(&id)?))),
                Value::Int(0) => Some((Appended::Duplicate, None)),
                Value::Int(-1) => Some((Appended::Full, None)),
                Value::Int(_) => Some((Appended::Refused, None)),
                _ => None,
            })
            .collect::<Option<_>>()?;
        let clear = answers
            .map(|answer| match answer {
                Value::Int(flag) => Some(flag == 1),
                _ => None,
            })
            .collect::<Option<_>>()?;
        Some(Self { outcomes, clear })
    }
}

/// An entry's id in its stream (`{milliseconds}-{sequence}`), ordered as Redis orders them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct StreamId {
    millis: u64,
    sequence: u64,
}

impl StreamId {
    /// Before a stream's first entry: `0-0`.
    pub(crate) const START: Self = Self {
        millis: 0,
        sequence: 0,
    };

    /// The id written as `text`, if it is one.
    fn parse(text: &[u8]) -> Option<Self> {
        let text = std::str::from_utf8(text).ok()?;
        let (millis, sequence) = text.split_once('-')?;
        Some(Self {
            millis: millis.parse().ok()?,
            sequence: sequence.parse().ok()?,
        })
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.millis, self.sequence)
    }
}

impl ToRedisArgs for StreamId {
    fn write_redis_args<W: ?Sized + RedisWrite>(&self, out: &mut W) {
        out.write_arg_fmt(self);
    }
}

impl FromRedisValue for StreamId {
    fn from_redis_value(value: Value) -> Result<Self, ParsingError> {
        match &value {
            Value::BulkString(text) => {
                Self::parse(text).ok_or_else(|| "a stream entry's id is malformed".into())
            }
            other => Err(unexpected("a stream entry's id", other)),
        }
    }
}

/// The stream keys of `partitions` partitions under `redis`'s namespace.
fn stream_keys(redis: &Redis, partitions: u16) -> Arc<[String]> {
    (0..partitions)
        .map(|partition| redis.key(format_args!("queue:{partition}")))
        .collect()
}

/// One entry of a partition's stream, decoded straight from Redis's reply: its fields are
/// moved out of the reply and read once, into the event.
pub(crate) struct Entry {
    /// The entry's id in its stream.
    pub(crate) id: StreamId,
    /// The event it holds, or `None` for an entry hookbot did not write (logged by the
    /// caller, then deleted: it can never be handled). The event keeps the instance it
    /// was accepted for, also when the notification names none (a Z-API callback is its path
    /// token's instance).
    pub(crate) event: Option<Event>,
}

/// A stream's entries in stream order, as `XRANGE` returns them (and `XREAD` per stream).
pub(crate) struct Entries(pub(crate) Vec<Entry>);

/// What a read of several streams (`XREAD`) returned: each stream's key and
/// entries; empty when the read timed out.
pub(crate) struct StreamsRead(pub(crate) Vec<(String, Vec<Entry>)>);

impl FromRedisValue for Entry {
    fn from_redis_value(value: Value) -> Result<Self, ParsingError> {
        let Value::Array(parts) = value else {
            return Err(unexpected("a stream entry", &value));
        };
        let mut parts = parts.into_iter();
        let (Some(id), Some(fields), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err("a stream entry is not an id and its fields".into());
        };
        Ok(Self {
            id: StreamId::from_redis_value(id)?,
            event: event_of(fields),
        })
    }
}

impl FromRedisValue for Entries {
    fn from_redis_value(value: Value) -> Result<Self, ParsingError> {
        match value {
            Value::Nil => Ok(Self(Vec::new())),
            Value::Array(entries) => Ok(Self(
                entries
                    .into_iter()
                    .map(Entry::from_redis_value)
                    .collect::<Result<_, _>>()?,
            )),
            other => Err(unexpected("a stream's entries", &other)),
        }
    }
}

impl FromRedisValue for StreamsRead {
    fn from_redis_value(value: Value) -> Result<Self, ParsingError> {
        let streams = match value {
            Value::Nil => return Ok(Self(Vec::new())),
            // RESP3 answers a map of stream keys to entries.
            Value::Map(streams) => streams,
            Value::Array(streams) => streams
                .into_iter()
                .map(|stream| {
                    let Value::Array(pair) = stream else {
                        return Err(unexpected("a stream and its entries", &stream));
                    };
                    let mut pair = pair.into_iter();
                    match (pair.next(), pair.next(), pair.next()) {
                        (Some(key), Some(entries), None) => Ok((key, entries)),
                        _ => Err("a stream read is not a key and its entries".into()),
                    }
                })
                .collect::<Result<_, ParsingError>>()?,
            other => return Err(unexpected("streams read", &other)),
        };
        streams
            .into_iter()
            .map(|(key, entries)| {
                Ok((
                    String::from_redis_value(key)?,
                    Entries::from_redis_value(entries)?.0,
                ))
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }
}

/// The event of an entry's fields, read in place; `None` when they are not hookbot's (or the
/// entry was deleted: no fields).
fn event_of(fields: Value) -> Option<Event> {
    let pairs: Vec<(Value, Value)> = match fields {
        Value::Array(flat) => {
            let mut flat = flat.into_iter();
            std::iter::from_fn(|| Some((flat.next()?, flat.next()?))).collect()
        }
        Value::Map(pairs) => pairs,
        _ => return None,
    };
    let (mut gateway, mut notification, mut instance) = (None, None, None);
    for (name, value) in pairs {
        let (Value::BulkString(name), Value::BulkString(value)) = (name, value) else {
            continue;
        };
        match name.as_slice() {
            b"gateway" => gateway = Some(value),
            b"event" => notification = Some(value),
            b"instance" => instance = Some(value),
            _ => {}
        }
    }
    Event::restore(
        text(gateway.as_deref())?,
        text(notification.as_deref())?,
        text(instance.as_deref()).unwrap_or_default(),
    )
}

/// `bytes` as text, if they are some and UTF-8.
fn text(bytes: Option<&[u8]>) -> Option<&str> {
    std::str::from_utf8(bytes?).ok()
}

/// The error for a reply that is not `what`, naming the reply's kind only (a reply may hold
/// a notification's text).
fn unexpected(what: &str, value: &Value) -> ParsingError {
    let kind = match value {
        Value::Nil => "nil",
        Value::Int(_) => "an integer",
        Value::Array(_) => "an array",
        Value::Map(_) => "a map",
        Value::BulkString(_) | Value::SimpleString(_) | Value::VerbatimString { .. } => "a string",
        _ => "another kind of value",
    };
    format!("expected {what}, got {kind}").into()
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

    #[tokio::test]
    async fn a_partition_is_the_same_hashed_at_once_or_streamed() {
        let queue = RedisQueue::new(Redis::open("redis://127.0.0.1:1").unwrap());
        let event = text("79001234567@c.us");
        let parts = [event.gateway.as_str(), &*event.instance, "79001234567@c.us"];
        assert_eq!(digest_of(&parts), streamed_digest_of(&parts));
        assert_eq!(
            u64::from(queue.partition_of(&event)),
            streamed_digest_of(&parts) % u64::from(DEFAULT_PARTITIONS)
        );
        let long = "7".repeat(300);
        let parts = ["green-api-whatsapp", "1101000001", long.as_str()];
        assert_eq!(digest_of(&parts), streamed_digest_of(&parts));
        assert_eq!(digest_of(&["", "", ""]), streamed_digest_of(&["", "", ""]));
    }

    fn bulk(text: &str) -> Value {
        Value::BulkString(text.as_bytes().to_vec())
    }

    fn entry(id: &str, fields: &[(&str, &str)]) -> Value {
        let fields = fields
            .iter()
            .flat_map(|(name, value)| [bulk(name), bulk(value)])
            .collect();
        Value::Array(vec![bulk(id), Value::Array(fields)])
    }

    #[test]
    fn a_read_decodes_each_streams_entries_in_order_and_marks_foreign_ones() {
        let event = text("79001234567@c.us");
        let ours = [
            ("gateway", event.gateway.as_str()),
            ("event", event.raw.as_str()),
            ("instance", "1101000001"),
        ];
        let reply = Value::Array(vec![Value::Array(vec![
            bulk("bot:queue:3"),
            Value::Array(vec![
                entry("1-0", &ours),
                entry("2-0", &[("junk", "1")]),
                Value::Array(vec![bulk("3-0"), Value::Nil]),
                entry("4-0", &ours),
            ]),
        ])]);
        let StreamsRead(streams) = StreamsRead::from_redis_value(reply).unwrap();
        assert_eq!(streams.len(), 1);
        let (key, entries) = &streams[0];
        assert_eq!(key, "bot:queue:3");
        let ids: Vec<String> = entries.iter().map(|entry| entry.id.to_string()).collect();
        assert_eq!(ids, ["1-0", "2-0", "3-0", "4-0"]);
        let decoded: Vec<bool> = entries.iter().map(|entry| entry.event.is_some()).collect();
        assert_eq!(decoded, [true, false, false, true]);
        let first = entries[0].event.as_ref().unwrap();
        assert_eq!(first.raw.as_str(), event.raw.as_str());
        assert_eq!(first.chat(), event.chat());
    }

    #[test]
    fn a_read_that_timed_out_is_empty_and_a_reply_of_another_shape_is_an_error() {
        assert!(
            StreamsRead::from_redis_value(Value::Nil)
                .unwrap()
                .0
                .is_empty()
        );
        let error = StreamsRead::from_redis_value(Value::Int(1))
            .err()
            .unwrap()
            .to_string();
        assert!(
            error.contains("expected streams read, got an integer"),
            "{error}"
        );
        let truncated = Value::Array(vec![Value::Array(vec![bulk("1-0")])]);
        assert!(Entries::from_redis_value(truncated).is_err());
    }
}
