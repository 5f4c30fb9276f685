//! Deduplication: the gateways deliver at least once, so each notification is claimed once
//! before it is handled, and a second copy is acknowledged without being handled again.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::hash::{BuildHasher, Hash, Hasher, RandomState};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;
use xxhash_rust::xxh3::xxh3_128;

use crate::error::BoxError;
use crate::event::{Content, Event, EventKind};

/// How long a claim is kept: GREEN-API keeps undelivered notifications for 24 hours.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(24 * 60 * 60);
/// How many claims the in-memory store keeps at most; the oldest go first.
pub const DEFAULT_CAPACITY: u64 = 1_000_000;

/// What makes a notification the same as another: gateway, instance, kind, chat, message id,
/// and what changed for notifications that repeat an id — a status (with every message id it
/// covers), a call's state, an edit's new text.
///
/// The key is a 128-bit XXH3 digest of those parts, each written with its length so that no
/// two different lists of parts are written alike: 16 bytes to store and compare whatever
/// the ids' lengths, and the same for the same notification in every process and every
/// version of hookbot, so that replicas sharing a store agree. Two different notifications
/// share a key with a probability of about 10<sup>-27</sup> among a million kept claims.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DedupeKey(u128);

impl DedupeKey {
    /// The key of `event`, or `None` for an event without a message id (instance-level events
    /// such as a state change), which is always handled.
    pub fn of(event: &Event) -> Option<Self> {
        let id = event.message_id()?;
        Some(PARTS.with_borrow_mut(|parts| {
            parts.clear();
            let mut digest = Digest(&mut *parts);
            digest.part(event.gateway.as_str());
            digest.part(&event.instance);
            digest.part(event.kind.name());
            digest.part(event.chat().map_or("", |chat| chat.as_str()));
            digest.part(id.as_str());
            change(event, &mut digest);
            let key = Self(xxh3_128(parts));
            parts.shrink_to(PARTS_KEPT);
            key
        }))
    }

    /// The key as a number, for stores that keep binary keys.
    pub fn as_u128(self) -> u128 {
        self.0
    }

    /// The key as 16 big-endian bytes, for stores that keep byte strings (a Redis key).
    pub fn to_bytes(self) -> [u8; 16] {
        self.0.to_be_bytes()
    }
}

/// 32 lowercase hexadecimal digits, for stores that need text.
impl fmt::Display for DedupeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

impl fmt::Debug for DedupeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DedupeKey({self})")
    }
}

/// The bytes of a key's parts a thread's buffer keeps between keys; a key written longer
/// (a status covering many ids) gives the rest back.
const PARTS_KEPT: usize = 1024;

thread_local! {
    /// Each thread's buffer for the parts of a key: no allocation per notification.
    static PARTS: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(PARTS_KEPT));
}

/// The parts of a key, written one after the other and hashed at once: the same digest as
/// feeding them to the hash one by one, for a fraction of the work.
struct Digest<'a>(&'a mut Vec<u8>);

impl Digest<'_> {
    /// Writes one part, preceded by its length: parts cannot run into each other.
    fn part(&mut self, text: &str) {
        self.count(text.len());
        self.0.extend_from_slice(text.as_bytes());
    }

    /// Writes a length.
    fn count(&mut self, len: usize) {
        self.0.extend_from_slice(&(len as u64).to_le_bytes());
    }
}

/// Writes what a notification that repeats a message id changes: a status and every id it
/// covers, a call's state, an edit's new text; for the rest, that nothing changes. Each kind of
/// change starts with its own tag.
fn change(event: &Event, digest: &mut Digest<'_>) {
    match &event.kind {
        EventKind::Status(status) => {
            digest.part("status");
            digest.part(status.status.as_str());
            digest.count(status.ids.len());
            for id in &status.ids {
                digest.part(id.as_str());
            }
        }
        EventKind::Call(call) => {
            digest.part("call");
            digest.part(&call.status);
        }
        EventKind::Message(message) => match &message.content {
            Content::Edited { text, .. } => {
                digest.part("edited");
                digest.part(text);
            }
            _ => digest.part(""),
        },
        _ => digest.part(""),
    }
}

/// A store of claims. [`MemoryDedupe`] is the embedded default; a shared store (Redis) lets
/// several replicas deduplicate together.
#[async_trait]
pub trait DedupeStore: Send + Sync + fmt::Debug + 'static {
    /// Claims `key` atomically: `true` for the first claim within the retention time, `false`
    /// for every later one, also when two claims race.
    async fn claim(&self, key: &DedupeKey) -> Result<bool, BoxError>;

    /// Gives up a claim whose notification was not accepted (the receiver answered 503), so that
    /// the gateway's next delivery is handled.
    async fn release(&self, key: &DedupeKey) -> Result<(), BoxError>;
}

/// Claims kept in memory, bounded in count and kept for a retention time; when full, the
/// oldest claim goes first. Cheap to clone; clones share the claims.
///
/// Every claim lives equally long, so claims expire in the order they were made: each shard
/// keeps a hash set of its claims and a queue in claim order, and forgets from the front of
/// the queue. A claim costs one hash insert and one push, under one shard's lock.
#[derive(Clone)]
pub struct MemoryDedupe {
    shards: Arc<[Mutex<Shard>]>,
    /// What a claim's time is counted from.
    epoch: Instant,
    retention: Duration,
    /// Claims one shard keeps at most.
    shard_capacity: usize,
}

/// One part of the claims, chosen by the key.
#[derive(Default)]
struct Shard {
    /// The claims in force, each with the number it was made under.
    claims: HashMap<StoredKey, u64, KeyHashing>,
    /// Claims in the order they were made: the order they expire in. A released claim stays
    /// here until it reaches the front, and then counts for nothing.
    order: VecDeque<Claim>,
    /// The number of the next claim.
    next: u64,
}

/// Hashes [`DedupeKey`]s for a shard's map: a key is a hash already, so one keyed multiply
/// of its folded halves spreads it (as `foldhash` does), far cheaper than SipHash over 16
/// bytes. The process's random seeds keep a peer from aiming keys at one bucket.
#[derive(Clone, Copy)]
struct KeyHashing {
    seeds: [u64; 2],
}

impl Default for KeyHashing {
    fn default() -> Self {
        static SEEDS: LazyLock<[u64; 2]> = LazyLock::new(|| {
            let random = RandomState::new();
            [random.hash_one(0_u8), random.hash_one(1_u8) | 1]
        });
        Self { seeds: *SEEDS }
    }
}

impl BuildHasher for KeyHashing {
    type Hasher = KeyHasher;

    fn build_hasher(&self) -> KeyHasher {
        KeyHasher {
            seeds: self.seeds,
            state: 0,
        }
    }
}

/// See [`KeyHashing`].
struct KeyHasher {
    seeds: [u64; 2],
    state: u64,
}

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        let product = u128::from(self.state ^ self.seeds[0]) * u128::from(self.seeds[1]);
        (product as u64) ^ ((product >> 64) as u64)
    }

    fn write_u128(&mut self, key: u128) {
        self.state ^= (key as u64) ^ ((key >> 64) as u64);
    }

    /// Not used by a key (it writes one `u128`); folds any other input alike.
    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.state = self.state.rotate_left(8) ^ u64::from(*byte);
        }
    }
}

/// A key as a shard keeps it: its two halves, so that a map entry (with its number) takes 24
/// bytes and a queue entry 32, against 32 and 48 for a `u128` key (aligned to 16) and an
/// `Instant`.
#[derive(Clone, Copy, PartialEq, Eq)]
struct StoredKey([u64; 2]);

impl From<&DedupeKey> for StoredKey {
    fn from(key: &DedupeKey) -> Self {
        Self([key.0 as u64, (key.0 >> 64) as u64])
    }
}

impl Hash for StoredKey {
    /// As the key's `u128`, which [`KeyHasher`] folds.
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u128(u128::from(self.0[0]) | (u128::from(self.0[1]) << 64));
    }
}

/// One entry of a shard's queue: the claim's key, its number, and when it was made, in
/// nanoseconds from the store's epoch.
struct Claim {
    key: StoredKey,
    number: u64,
    at: u64,
}

impl Shard {
    /// Forgets the claims older than `retention`, and more of the oldest while `room` more
    /// would not fit in `capacity`.
    /// `now` and `retention` in nanoseconds, as [`Claim::at`].
    fn forget(&mut self, now: u64, retention: u64, capacity: usize, room: usize) {
        while let Some(oldest) = self.order.front() {
            let expired = now.saturating_sub(oldest.at) >= retention;
            if !expired && self.order.len() + room <= capacity {
                break;
            }
            let Claim { key, number, .. } = self.order.pop_front().expect("the front exists");
            if self.claims.get(&key) == Some(&number) {
                self.claims.remove(&key);
            }
        }
    }
}

/// `duration` in nanoseconds (up to 584 years; longer ones count as that).
fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// How many claims make a shard of their own: small stores keep one exact queue.
const CLAIMS_PER_SHARD: u64 = 4096;
/// The most shards a store has.
const MAX_SHARDS: u64 = 16;

impl Default for MemoryDedupe {
    fn default() -> Self {
        Self::new(DEFAULT_RETENTION, DEFAULT_CAPACITY)
    }
}

impl MemoryDedupe {
    /// A store keeping up to `capacity` claims (at least 1), each for `retention`.
    pub fn new(retention: Duration, capacity: u64) -> Self {
        let capacity = capacity.max(1);
        let shards = (capacity / CLAIMS_PER_SHARD).clamp(1, MAX_SHARDS);
        let shard_capacity = usize::try_from(capacity.div_ceil(shards)).unwrap_or(usize::MAX);
        Self {
            shards: (0..shards).map(|_| Mutex::default()).collect(),
            epoch: Instant::now(),
            retention,
            shard_capacity,
        }
    }

    /// The shard that holds `key`.
    fn shard(&self, key: &DedupeKey) -> MutexGuard<'_, Shard> {
        // The key is a hash already: its low bits spread claims evenly.
        let at = (key.0 % self.shards.len() as u128) as usize;
        self.shards[at]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Claims kept: expired ones count until a later claim in their shard forgets them.
    fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|shard| {
                let shard = shard
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                shard.claims.len()
            })
            .sum()
    }
}

impl fmt::Debug for MemoryDedupe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryDedupe")
            .field("claims", &self.len())
            .field("retention", &self.retention)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl DedupeStore for MemoryDedupe {
    async fn claim(&self, key: &DedupeKey) -> Result<bool, BoxError> {
        Ok(self.claim_now(key))
    }

    async fn release(&self, key: &DedupeKey) -> Result<(), BoxError> {
        self.release_now(key);
        Ok(())
    }
}

impl MemoryDedupe {
    /// [`claim`](DedupeStore::claim), which in memory never waits nor fails.
    pub(crate) fn claim_now(&self, key: &DedupeKey) -> bool {
        let now = nanos(self.epoch.elapsed());
        let retention = nanos(self.retention);
        let stored = StoredKey::from(key);
        let mut shard = self.shard(key);
        shard.forget(now, retention, self.shard_capacity, 0);
        if shard.claims.contains_key(&stored) {
            return false;
        }
        shard.forget(now, retention, self.shard_capacity, 1);
        let number = shard.next;
        shard.next += 1;
        shard.claims.insert(stored, number);
        shard.order.push_back(Claim {
            key: stored,
            number,
            at: now,
        });
        true
    }

    /// [`release`](DedupeStore::release), which in memory never waits nor fails.
    pub(crate) fn release_now(&self, key: &DedupeKey) {
        self.shard(key).claims.remove(&StoredKey::from(key));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u128) -> DedupeKey {
        DedupeKey(n)
    }

    fn green_api(json: serde_json::Value) -> Event {
        Event::from_json(crate::gateway::GatewayKind::GreenApiWhatsApp, json).unwrap()
    }

    fn call(status: &str) -> Event {
        green_api(serde_json::json!({
            "typeWebhook": "incomingCall", "instanceData": {"idInstance": 1, "wid": "", "typeInstance": "whatsapp"},
            "timestamp": 1, "idMessage": "CALL1", "from": "79001234567@c.us", "status": status
        }))
    }

    fn text(instance: u64, chat: &str, id: &str) -> Event {
        text_on("whatsapp", instance, chat, id)
    }

    fn text_on(platform: &str, instance: u64, chat: &str, id: &str) -> Event {
        green_api(serde_json::json!({
            "typeWebhook": "incomingMessageReceived",
            "instanceData": {"idInstance": instance, "wid": "", "typeInstance": platform},
            "timestamp": 1, "idMessage": id,
            "senderData": {"chatId": chat, "sender": chat, "senderName": "Anna"},
            "messageData": {"typeMessage": "textMessage", "textMessageData": {"textMessage": "hi"}}
        }))
    }

    #[test]
    fn the_key_is_the_same_in_every_process() {
        // Replicas sharing a store must agree: the digest has no per-process seed.
        let key = DedupeKey::of(&text(1101000001, "79001234567@c.us", "BAE5F4886F6F2D05"))
            .expect("a message has a key");
        assert_eq!(key.to_string(), format!("{:032x}", key.as_u128()));
        assert_eq!(key.to_bytes(), key.as_u128().to_be_bytes());
        assert_eq!(key.to_string(), "9c098d348a3df7ed9afaa08be71b8f9d");
    }

    #[test]
    fn every_part_of_the_key_counts() {
        let base = DedupeKey::of(&text(1, "79001234567@c.us", "M1"));
        assert_eq!(base, DedupeKey::of(&text(1, "79001234567@c.us", "M1")));
        assert_ne!(base, DedupeKey::of(&text(2, "79001234567@c.us", "M1")));
        assert_ne!(base, DedupeKey::of(&text(1, "79001234568@c.us", "M1")));
        assert_ne!(base, DedupeKey::of(&text(1, "79001234567@c.us", "M2")));
        let max = text_on("v3", 1, "79001234567@c.us", "M1");
        assert_ne!(base, DedupeKey::of(&max));
    }

    #[test]
    fn parts_cannot_run_into_each_other() {
        assert_ne!(
            DedupeKey::of(&text(1, "79001234567@c.us", "AB")),
            DedupeKey::of(&text(1, "79001234567@c.usA", "B"))
        );
    }

    #[test]
    fn the_states_of_one_call_are_different_notifications() {
        assert_eq!(DedupeKey::of(&call("offer")), DedupeKey::of(&call("offer")));
        assert_ne!(
            DedupeKey::of(&call("offer")),
            DedupeKey::of(&call("hangUp"))
        );
    }

    #[test]
    fn instance_events_have_no_key() {
        let state = green_api(serde_json::json!({
            "typeWebhook": "stateInstanceChanged", "instanceData": {"idInstance": 1, "wid": "", "typeInstance": "whatsapp"},
            "timestamp": 1, "stateInstance": "authorized"
        }));
        assert_eq!(DedupeKey::of(&state), None);
    }

    #[test]
    fn a_zapi_status_is_keyed_by_every_id_it_covers() {
        let status = |status: &str, ids: &[&str]| {
            Event::from_json(
                crate::gateway::GatewayKind::ZApi,
                serde_json::json!({"type": "MessageStatusCallback", "instanceId": "I", "status": status, "ids": ids, "phone": "5544999999999"}),
            )
            .unwrap()
        };
        let read = |ids: &[&str]| DedupeKey::of(&status("READ", ids));
        assert_ne!(read(&["A", "B"]), read(&["A", "C"]));
        assert_ne!(read(&["A", "B"]), read(&["A"]));
        assert_ne!(read(&["A", "B"]), read(&["A", "B", "C"]));
        assert_ne!(read(&["A,B"]), read(&["A", "B"]));
        assert_eq!(read(&["A", "B"]), read(&["A", "B"]));
        assert_ne!(
            read(&["A", "B"]),
            DedupeKey::of(&status("RECEIVED", &["A", "B"]))
        );
    }

    #[test]
    fn an_edit_is_not_a_duplicate_of_the_message_it_edits() {
        let received = |edit: bool, text: &str| {
            Event::from_json(
                crate::gateway::GatewayKind::ZApi,
                serde_json::json!({"type": "ReceivedCallback", "instanceId": "I", "messageId": "M1", "phone": "5544999999999",
                    "isEdit": edit, "text": {"message": text}}),
            )
            .unwrap()
        };
        let original = DedupeKey::of(&received(false, "helo"));
        let edit = DedupeKey::of(&received(true, "hello"));
        let second_edit = DedupeKey::of(&received(true, "hello!"));
        assert_ne!(original, edit);
        assert_ne!(edit, second_edit);
        assert_ne!(DedupeKey::of(&received(true, "")), original);
        assert_eq!(edit, DedupeKey::of(&received(true, "hello")));
    }

    #[tokio::test]
    async fn first_claim_wins_and_release_frees_the_key() {
        let store = MemoryDedupe::default();
        assert!(store.claim(&key(1)).await.unwrap());
        assert!(!store.claim(&key(1)).await.unwrap());
        assert!(store.claim(&key(2)).await.unwrap());
        store.release(&key(1)).await.unwrap();
        assert!(store.claim(&key(1)).await.unwrap());
        assert!(!store.claim(&key(1)).await.unwrap());
    }

    #[tokio::test(start_paused = true)]
    async fn a_claim_expires_after_the_retention_time() {
        let store = MemoryDedupe::new(Duration::from_secs(60), 100);
        assert!(store.claim(&key(1)).await.unwrap());
        tokio::time::advance(Duration::from_secs(59)).await;
        assert!(!store.claim(&key(1)).await.unwrap());
        assert!(store.claim(&key(2)).await.unwrap());
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(store.claim(&key(1)).await.unwrap());
        assert!(!store.claim(&key(2)).await.unwrap());
    }

    #[tokio::test]
    async fn a_full_store_forgets_the_oldest_claim_first() {
        let store = MemoryDedupe::new(DEFAULT_RETENTION, 3);
        for n in 1..=3 {
            assert!(store.claim(&key(n)).await.unwrap());
        }
        assert!(store.claim(&key(4)).await.unwrap());
        assert!(
            store.claim(&key(1)).await.unwrap(),
            "the oldest was forgotten"
        );
        assert!(!store.claim(&key(3)).await.unwrap());
        assert!(!store.claim(&key(4)).await.unwrap());
        assert_eq!(store.len(), 3);
    }

    #[tokio::test]
    async fn a_store_of_several_shards_keeps_its_newest_claims_up_to_its_capacity() {
        let capacity = 4 * CLAIMS_PER_SHARD;
        let store = MemoryDedupe::new(DEFAULT_RETENTION, capacity);
        assert_eq!(store.shards.len(), 4);
        let claims = u128::from(capacity) * 3;
        for n in 1..=claims {
            assert!(store.claim(&key(n)).await.unwrap(), "claim {n}");
        }
        assert!(store.len() <= capacity as usize);
        // Keys spread evenly: the newest half of a full store's worth is still claimed.
        let newest = claims - u128::from(capacity) / 2..=claims;
        for n in newest {
            assert!(
                !store.claim(&key(n)).await.unwrap(),
                "claim {n} was forgotten"
            );
        }
        assert!(
            store.claim(&key(1)).await.unwrap(),
            "the oldest was forgotten"
        );
    }

    #[tokio::test]
    async fn a_claim_released_and_made_again_outlives_its_first_place_in_a_full_store() {
        let store = MemoryDedupe::new(DEFAULT_RETENTION, 3);
        assert!(store.claim(&key(1)).await.unwrap());
        store.release(&key(1)).await.unwrap();
        assert!(store.claim(&key(2)).await.unwrap());
        assert!(store.claim(&key(1)).await.unwrap());
        // Full: the first claim on 1 leaves the queue, and must not take the second with it.
        assert!(store.claim(&key(3)).await.unwrap());
        assert!(!store.claim(&key(1)).await.unwrap());
        assert!(!store.claim(&key(2)).await.unwrap());
        assert!(!store.claim(&key(3)).await.unwrap());
    }

    #[tokio::test(start_paused = true)]
    async fn a_released_claim_made_again_lives_its_full_time() {
        let store = MemoryDedupe::new(Duration::from_secs(60), 100);
        assert!(store.claim(&key(1)).await.unwrap());
        store.release(&key(1)).await.unwrap();
        tokio::time::advance(Duration::from_secs(30)).await;
        assert!(store.claim(&key(1)).await.unwrap());
        // The first claim's place in the queue expires now; the second claim must stay.
        tokio::time::advance(Duration::from_secs(31)).await;
        assert!(store.claim(&key(2)).await.unwrap());
        assert!(!store.claim(&key(1)).await.unwrap());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn racing_claims_have_one_winner() {
        let store = Arc::new(MemoryDedupe::default());
        let claims = (0..16).map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.claim(&key(7)).await.unwrap() })
        });
        let mut winners = 0;
        for claim in claims {
            winners += usize::from(claim.await.unwrap());
        }
        assert_eq!(winners, 1);
    }
}
