//! Deduplication: the gateways deliver at least once, so each notification is claimed once
//! before it is handled, and a second copy is acknowledged without being handled again.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use moka::sync::Cache;

use crate::event::{Content, Event, EventKind};
use crate::id::MessageId;

/// How long a claim is kept: GREEN-API keeps undelivered notifications for 24 hours.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(24 * 60 * 60);
/// How many claims the in-memory store keeps at most; the oldest go first.
pub const DEFAULT_CAPACITY: u64 = 1_000_000;

/// What makes a notification the same as another: gateway, instance, kind, chat, message id,
/// and what changed for notifications that repeat an id — a status (with every message id it
/// covers), a call's state, an edit's new text.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct DedupeKey(Arc<str>);

impl DedupeKey {
    /// The key of `event`, or `None` for an event without a message id (instance-level events
    /// such as a state change), which is always handled.
    pub fn of(event: &Event) -> Option<Self> {
        let id = event.message_id()?;
        let chat = event.chat().map_or("", |chat| chat.as_str());
        let key = format!(
            "{}\u{1f}{}\u{1f}{}\u{1f}{chat}\u{1f}{id}\u{1f}{}",
            event.gateway,
            event.instance,
            event.kind.name(),
            change(event),
        );
        Some(Self(key.into()))
    }

    /// The key as one string (fields separated by U+001F), for stores that need text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for DedupeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0.replace('\u{1f}', "/"), f)
    }
}

/// What a notification that repeats a message id changes: a status and the ids it covers, a
/// call's state, an edit's new text; empty for the rest.
fn change(event: &Event) -> String {
    match &event.kind {
        EventKind::Status(status) => {
            let ids: Vec<&str> = status.ids.iter().map(MessageId::as_str).collect();
            format!("{}:{}", status.status.as_str(), ids.join(","))
        }
        EventKind::Call(call) => call.status.clone(),
        EventKind::Message(message) => match &message.content {
            Content::Edited { text, .. } => format!("edited:{text}"),
            _ => String::new(),
        },
        _ => String::new(),
    }
}

/// A store of claims. [`MemoryDedupe`] is the embedded default; a shared store (Redis) lets
/// several replicas deduplicate together.
#[async_trait]
pub trait DedupeStore: Send + Sync + 'static {
    /// Claims `key` atomically: `true` for the first claim within the retention time, `false`
    /// for every later one, also when two claims race.
    async fn claim(&self, key: &DedupeKey) -> Result<bool, BoxError>;

    /// Gives up a claim whose notification was not accepted (the receiver answered 503), so that
    /// the gateway's next delivery is handled.
    async fn release(&self, key: &DedupeKey) -> Result<(), BoxError>;
}

/// Any error a store or a handler may return.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Claims kept in memory (moka), bounded in count and kept for a retention time.
#[derive(Clone)]
pub struct MemoryDedupe {
    claims: Cache<DedupeKey, ()>,
}

impl Default for MemoryDedupe {
    fn default() -> Self {
        Self::new(DEFAULT_RETENTION, DEFAULT_CAPACITY)
    }
}

impl MemoryDedupe {
    /// A store keeping up to `capacity` claims, each for `retention`.
    pub fn new(retention: Duration, capacity: u64) -> Self {
        let claims = Cache::builder()
            .time_to_live(retention)
            .max_capacity(capacity)
            .build();
        Self { claims }
    }
}

impl fmt::Debug for MemoryDedupe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryDedupe")
            .field("claims", &self.claims.entry_count())
            .finish()
    }
}

#[async_trait]
impl DedupeStore for MemoryDedupe {
    async fn claim(&self, key: &DedupeKey) -> Result<bool, BoxError> {
        Ok(self.claims.entry_by_ref(key).or_insert(()).is_fresh())
    }

    async fn release(&self, key: &DedupeKey) -> Result<(), BoxError> {
        self.claims.invalidate(key);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(text: &str) -> DedupeKey {
        DedupeKey(text.into())
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
        let status = |ids: &[&str]| {
            Event::from_json(
                crate::gateway::GatewayKind::ZApi,
                serde_json::json!({"type": "MessageStatusCallback", "instanceId": "I", "status": "READ", "ids": ids, "phone": "5544999999999"}),
            )
            .unwrap()
        };
        assert_ne!(
            DedupeKey::of(&status(&["A", "B"])),
            DedupeKey::of(&status(&["A", "C"]))
        );
        assert_eq!(
            DedupeKey::of(&status(&["A", "B"])),
            DedupeKey::of(&status(&["A", "B"]))
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
        assert_eq!(edit, DedupeKey::of(&received(true, "hello")));
    }

    #[tokio::test]
    async fn first_claim_wins_and_release_frees_the_key() {
        let store = MemoryDedupe::default();
        assert!(store.claim(&key("a")).await.unwrap());
        assert!(!store.claim(&key("a")).await.unwrap());
        assert!(store.claim(&key("b")).await.unwrap());
        store.release(&key("a")).await.unwrap();
        assert!(store.claim(&key("a")).await.unwrap());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn racing_claims_have_one_winner() {
        let store = Arc::new(MemoryDedupe::default());
        let claims = (0..16).map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.claim(&key("same")).await.unwrap() })
        });
        let mut winners = 0;
        for claim in claims {
            winners += usize::from(claim.await.unwrap());
        }
        assert_eq!(winners, 1);
    }
}
