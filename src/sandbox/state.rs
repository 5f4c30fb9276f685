//! What one sandbox instance holds: its credentials, contacts, chat histories and outbox.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use serde_json::{Map, Value};
use tokio::sync::broadcast;

use super::Platform;
use super::chat::{Author, ChatEntry, EntryContent, new_message_id, unix_now};
use super::delivery::Outbox;
use super::files::Files;
use crate::contact::Contact;
use crate::id::{ChatId, MessageId};
use crate::secret::Secret;

/// How many entries a slow subscriber may fall behind before it misses some.
const BROADCAST_CAPACITY: usize = 1024;

/// The state shared by a [`Sandbox`](super::Sandbox) and its clones.
pub(crate) struct Shared {
    pub(crate) instance: String,
    pub(crate) token: Secret,
    pub(crate) platform: Platform,
    pub(crate) contacts: Vec<Contact>,
    pub(crate) entries: broadcast::Sender<ChatEntry>,
    pub(crate) outbox: Outbox,
    /// Whether setSettings may point the webhook at another machine.
    pub(crate) remote_webhook: bool,
    /// Settings stored by setSettings, other than the webhook (which the outbox holds).
    pub(crate) settings: Mutex<Map<String, Value>>,
    /// Files uploaded with sendFileByUpload.
    pub(crate) files: Files,
    /// The largest file sendFileByUpload takes, in bytes.
    pub(crate) upload_limit: usize,
    chats: Mutex<HashMap<ChatId, Vec<ChatEntry>>>,
}

impl Shared {
    pub(crate) fn new(
        instance: String,
        token: Secret,
        platform: Platform,
        contacts: Vec<Contact>,
        outbox: Outbox,
        remote_webhook: bool,
        upload_limit: usize,
    ) -> Self {
        Self {
            instance,
            token,
            platform,
            contacts,
            entries: broadcast::channel(BROADCAST_CAPACITY).0,
            outbox,
            remote_webhook,
            settings: Mutex::new(Map::new()),
            files: Files::default(),
            upload_limit,
            chats: Mutex::new(HashMap::new()),
        }
    }

    /// Appends a new entry to `chat` and broadcasts it; the quoted entry's summary is looked up
    /// in the same chat.
    pub(crate) fn record(
        &self,
        chat: ChatId,
        author: Author,
        content: EntryContent,
        quoted: Option<MessageId>,
    ) -> ChatEntry {
        self.record_entry(chat, author, content, quoted, false)
    }

    /// Records a copy of `content` the bot forwarded to `chat`.
    pub(crate) fn record_forward(&self, chat: ChatId, content: EntryContent) -> ChatEntry {
        self.record_entry(chat, Author::Bot, content, None, true)
    }

    fn record_entry(
        &self,
        chat: ChatId,
        author: Author,
        content: EntryContent,
        quoted: Option<MessageId>,
        forwarded: bool,
    ) -> ChatEntry {
        let mut chats = lock(&self.chats);
        let history = chats.entry(chat.clone()).or_default();
        let quoted_text = quoted.as_ref().and_then(|id| {
            history
                .iter()
                .find(|entry| &entry.id == id)
                .and_then(ChatEntry::summary)
        });
        let entry = ChatEntry {
            id: new_message_id(),
            chat,
            author,
            content,
            quoted,
            forwarded,
            quoted_text,
            timestamp: unix_now(),
        };
        history.push(entry.clone());
        // Sent under the lock, so that subscribers see entries in history order; nobody
        // listening is fine.
        let _ = self.entries.send(entry.clone());
        entry
    }

    /// Records a refused request of the bot as an error entry in `chat`.
    pub(crate) fn record_refusal(&self, chat: ChatId, method: &str, reason: &str) {
        let content = EntryContent::Error(format!("{method} refused: {reason}"));
        self.record(chat, Author::Bot, content, None);
    }

    /// The entries of `chat`, in order.
    pub(crate) fn history(&self, chat: &ChatId) -> Vec<ChatEntry> {
        lock(&self.chats).get(chat).cloned().unwrap_or_default()
    }

    /// The entry `id` of `chat`.
    pub(crate) fn find(&self, chat: &ChatId, id: &MessageId) -> Option<ChatEntry> {
        lock(&self.chats)
            .get(chat)?
            .iter()
            .find(|entry| &entry.id == id)
            .cloned()
    }

    /// The contact list's entry for `chat`.
    pub(crate) fn contact(&self, chat: &str) -> Option<&Contact> {
        self.contacts
            .iter()
            .find(|contact| contact.chat_id.as_str() == chat)
    }
}

/// Locks `mutex`, also when another thread panicked while holding it (the data are plain
/// collections that stay consistent).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
