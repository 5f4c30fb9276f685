//! The instance's contacts, cached: [`ContactBook`] finds a contact by name, username or phone
//! and reads a chat's profile without asking the gateway every time.
//!
//! ```no_run
//! use std::sync::Arc;
//! use hookbot::contacts::ContactBook;
//! use hookbot::gateway::GreenApi;
//!
//! # async fn run() -> hookbot::Result<()> {
//! let gateway = GreenApi::whatsapp("https://7105.api.greenapi.com", "1101000001", "token").build()?;
//! let book = ContactBook::new(Arc::new(gateway));
//! // Any case, any script: finds "Василиса Премудрая".
//! if let Some(contact) = book.find_best("василиса").await? {
//!     println!("{} {:?}", contact.display_name(), contact.phone);
//! }
//! # Ok(()) }
//! ```
//!
//! The contact list is loaded once and kept for [`list_ttl`](ContactBookBuilder::list_ttl)
//! (5 minutes by default: the gateway itself refreshes it no faster); each chat's profile is
//! kept for [`info_ttl`](ContactBookBuilder::info_ttl). Callers that miss the same entry at
//! the same time share one gateway call, a failed call is not cached, and the gateway client's
//! rate limiter spaces the calls for different chats (GREEN-API allows one a second).
//!
//! # Search
//!
//! [`find`](ContactBook::find) returns the best [`FIND_LIMIT`] matches,
//! [`find_up_to`](ContactBook::find_up_to) as many as asked for, and
//! [`find_best`](ContactBook::find_best) the best one. A search matches each person by their
//! phone-book name, by their profile name when the phone-book name is empty, by their Telegram
//! username (`@ivan_tsarevich` and `ivan_tsarevich` alike), and by phone number. Names match in any letter case and any script, with Unicode full case folding
//! (`ß` finds `ss`), and without regard to diacritics (`Артем` finds `Артём`, `joao` finds
//! `João`; this also makes `и` find `й`). Across Cyrillic and Latin, names match by
//! transliteration in the common Russian romanisations (`vasilisa` and `vasilissa` find
//! `Василиса`, `иван петров` finds `Ivan Petrov`), ranked after the names in the query's script.
//! Every word of the query must occur in the name; whole words rank above the beginnings of
//! words, which rank above the inside of words, and the whole name typed out ranks first. A
//! query of digits (with or without `+`, spaces, dashes or parentheses) also matches phone
//! numbers that contain them; the exact number ranks first. Groups (supergroups, channels) are
//! not searched: they cannot be shared as a contact card ([`all`](ContactBook::all) still lists
//! them).

mod flight;
mod search;

use std::fmt;
use std::future::Future;
use std::hash::Hash;
use std::ops::Deref;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use moka::future::Cache;
use moka::ops::compute::Op;

use crate::contact::{Contact, ContactCard, ContactInfo};
use crate::error::Result;
use crate::gateway::Gateway;
use crate::id::ChatId;
use crate::metrics::CacheCounters;

use flight::{Flight, Loaded, unshare};
use search::{Index, Query};

/// How many matches [`ContactBook::find`] returns at most: more than a person reads through,
/// few enough that a search over a long list stays cheap.
pub const FIND_LIMIT: usize = 20;
/// How long the contact list is kept by default.
const LIST_TTL: Duration = Duration::from_secs(5 * 60);
/// How long a chat's profile is kept by default.
const INFO_TTL: Duration = Duration::from_secs(10 * 60);
/// How many chats' profiles are kept by default.
const INFO_CAPACITY: u64 = 10_000;
/// The longest time-to-live moka accepts is 1000 years; longer ones are cut to this.
const MAX_TTL: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);

/// The instance's contact list and chats' profiles, cached, with search by name and phone.
///
/// Cheap to clone: clones share the caches. Each cache is built on its first use, so a book
/// that is never read costs little (a bot of a thousand instances holds a thousand books).
/// See the [module docs](self) for how search ranks.
#[derive(Clone)]
pub struct ContactBook {
    gateway: Arc<dyn Gateway>,
    caches: Arc<Caches>,
}

/// A book's caches (the list's loaded on first use, the profiles' built on first use), and
/// their settings and counters.
struct Caches {
    list: Flight<Index>,
    info: OnceLock<Cache<ChatId, Slot<ContactInfo>>>,
    list_ttl: Duration,
    info_ttl: Duration,
    info_capacity: u64,
    list_counts: CacheCounters,
    info_counts: CacheCounters,
}

/// Builds a [`ContactBook`] with other time-to-live or capacity settings; finish with
/// [`build`](ContactBookBuilder::build).
#[derive(Debug)]
#[must_use]
pub struct ContactBookBuilder {
    gateway: Arc<dyn Gateway>,
    list_ttl: Duration,
    info_ttl: Duration,
    info_capacity: u64,
}

/// What the profiles' cache holds: shared, so that a stale entry can be told from its
/// replacement (freshness is judged on tokio's clock; moka's own time-to-live, on the system
/// clock, only frees memory).
type Slot<T> = Arc<Loaded<T>>;

impl ContactBook {
    /// A contact book over `gateway` with the defaults: the list kept 5 minutes, up to 10 000
    /// profiles kept 10 minutes each.
    pub fn new(gateway: Arc<dyn Gateway>) -> Self {
        Self::builder(gateway).build()
    }

    /// A builder for a contact book over `gateway`, starting from the defaults of
    /// [`new`](ContactBook::new).
    pub fn builder(gateway: Arc<dyn Gateway>) -> ContactBookBuilder {
        ContactBookBuilder {
            gateway,
            list_ttl: LIST_TTL,
            info_ttl: INFO_TTL,
            info_capacity: INFO_CAPACITY,
        }
    }

    /// The gateway the book reads from.
    pub fn gateway(&self) -> &Arc<dyn Gateway> {
        &self.gateway
    }

    /// The instance's whole contact list, groups included, in the gateway's order.
    pub async fn all(&self) -> Result<Arc<[Contact]>> {
        Ok(Arc::clone(self.index().await?.value.contacts()))
    }

    /// The best [`FIND_LIMIT`] people whose name or phone number matches `query`, best match
    /// first (names in the query's script before names found by transliteration between
    /// Cyrillic and Latin); empty when nothing matches. A query with no letter and no digit matches nothing
    /// and loads nothing. For another number of matches, see
    /// [`find_up_to`](ContactBook::find_up_to).
    pub async fn find(&self, query: &str) -> Result<Vec<Contact>> {
        self.find_up_to(query, FIND_LIMIT).await
    }

    /// Like [`find`](ContactBook::find), the best `limit` matches; `usize::MAX` for every
    /// match. Only the matches returned are copied out of the list and sorted, so a broad
    /// query over a long list costs little more than a narrow one.
    pub async fn find_up_to(&self, query: &str, limit: usize) -> Result<Vec<Contact>> {
        let query = Query::new(query);
        if query.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let index = self.index().await?;
        let found = index.value.find(&query, limit);
        Ok(found.into_iter().cloned().collect())
    }

    /// The best match for `query`: the first of [`find`](ContactBook::find), without sorting
    /// the rest; shared with the list (see [`Found`]), not copied out of it.
    pub async fn find_best(&self, query: &str) -> Result<Option<Found>> {
        let query = Query::new(query);
        if query.is_empty() {
            return Ok(None);
        }
        let list = self.index().await?;
        let at = list.value.best(&query);
        Ok(at.map(|at| Found { list, at }))
    }

    /// `chat`'s profile (GREEN-API getContactInfo), cached per chat.
    pub async fn info(&self, chat: &ChatId) -> Result<ContactInfo> {
        let load = async { self.gateway.contact_info(chat).await };
        let caches = &*self.caches;
        let (cache, counts) = (caches.info(), &caches.info_counts);
        let slot = load_through(cache, counts, chat.clone(), caches.info_ttl, load).await?;
        Ok(slot.value.clone())
    }

    /// Forgets the contact list: the next look-up loads it again.
    pub async fn invalidate(&self) {
        self.caches.list.invalidate();
    }

    /// Forgets `chat`'s profile: the next [`info`](ContactBook::info) for it loads it again.
    pub async fn invalidate_info(&self, chat: &ChatId) {
        if let Some(info) = self.caches.info.get() {
            info.invalidate(chat).await;
        }
    }

    /// Forgets the contact list and every profile.
    pub async fn invalidate_all(&self) {
        self.caches.list.invalidate();
        if let Some(info) = self.caches.info.get() {
            info.invalidate_all();
        }
    }

    /// The contact list with its search index, loaded when missing or stale.
    async fn index(&self) -> Result<Slot<Index>> {
        let load = async {
            let contacts = self.gateway.contacts().await?;
            tracing::debug!(contacts = contacts.len(), "contact list loaded");
            Ok(Index::new(contacts))
        };
        self.caches.list.get(&self.caches.list_counts, load).await
    }
}

/// A contact [`ContactBook::find_best`] found: shared with the book's list instead of copied
/// out of it. It reads as the [`Contact`] it derefs to, and a reply shares it as a card
/// (`cx.reply_contact(&found)`); `Contact::clone(&found)` copies it out.
///
/// It holds the list it was found in: a book that loads its list again afterwards does not
/// change it.
#[derive(Clone)]
pub struct Found {
    list: Slot<Index>,
    /// Where the contact is in `list`.
    at: usize,
}

impl Deref for Found {
    type Target = Contact;

    fn deref(&self) -> &Contact {
        &self.list.value.contacts()[self.at]
    }
}

impl fmt::Debug for Found {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Contact::fmt(self, f)
    }
}

impl PartialEq for Found {
    fn eq(&self, other: &Found) -> bool {
        **self == **other
    }
}

impl Eq for Found {}

impl PartialEq<Contact> for Found {
    fn eq(&self, other: &Contact) -> bool {
        **self == *other
    }
}

impl From<&Found> for ContactCard {
    fn from(found: &Found) -> Self {
        found.to_card()
    }
}

impl From<Found> for ContactCard {
    fn from(found: Found) -> Self {
        found.to_card()
    }
}

impl Caches {
    /// The chats' profiles' cache, built on first use.
    fn info(&self) -> &Cache<ChatId, Slot<ContactInfo>> {
        self.info.get_or_init(|| {
            Cache::builder()
                .max_capacity(self.info_capacity)
                .time_to_live(self.info_ttl.min(MAX_TTL))
                .build()
        })
    }
}

impl fmt::Debug for ContactBook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ContactBook")
            .field("gateway", &self.gateway)
            .field("list_ttl", &self.caches.list_ttl)
            .field("info_ttl", &self.caches.info_ttl)
            .field(
                "info_entries",
                &self.caches.info.get().map_or(0, Cache::entry_count),
            )
            .finish_non_exhaustive()
    }
}

impl ContactBookBuilder {
    /// How long the contact list is kept (default 5 minutes). Zero loads it for every look-up,
    /// though callers at the same moment still share one load.
    pub fn list_ttl(mut self, ttl: Duration) -> Self {
        self.list_ttl = ttl;
        self
    }

    /// How long a chat's profile is kept (default 10 minutes).
    pub fn info_ttl(mut self, ttl: Duration) -> Self {
        self.info_ttl = ttl;
        self
    }

    /// How many chats' profiles are kept at most (default 10 000); the least used go first.
    pub fn info_capacity(mut self, capacity: u64) -> Self {
        self.info_capacity = capacity;
        self
    }

    /// Builds the contact book; nothing is loaded, and no cache built, until the first
    /// look-up.
    pub fn build(self) -> ContactBook {
        let caches = Caches {
            list: Flight::new(self.list_ttl),
            info: OnceLock::new(),
            list_ttl: self.list_ttl,
            info_ttl: self.info_ttl,
            info_capacity: self.info_capacity,
            list_counts: CacheCounters::new(&*self.gateway, "contacts"),
            info_counts: CacheCounters::new(&*self.gateway, "contact_info"),
        };
        ContactBook {
            gateway: self.gateway,
            caches: Arc::new(caches),
        }
    }
}

/// The value at `key`, loaded with `load` when missing or older than `ttl`; counted as a
/// hit or a miss.
///
/// Callers that miss at the same time share one `load` (moka's `try_get_with`); a failed load
/// is not kept, and each of them gets the error (see [`unshare`]).
async fn load_through<K, T, F>(
    cache: &Cache<K, Slot<T>>,
    counts: &CacheCounters,
    key: K,
    ttl: Duration,
    load: F,
) -> Result<Slot<T>>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    T: Send + Sync + 'static,
    F: Future<Output = Result<T>>,
{
    if let Some(hit) = cache.get(&key).await {
        if hit.is_fresh(ttl) {
            counts.hit();
            return Ok(hit);
        }
        remove_if_same(cache, key.clone(), &hit).await;
    }
    counts.miss();
    let load = async { Ok(Loaded::new(load.await?)) };
    cache.try_get_with(key, load).await.map_err(unshare)
}

/// Removes the entry at `key` if it is still `stale`, and leaves a fresh replacement that
/// another caller has loaded meanwhile.
async fn remove_if_same<K, T>(cache: &Cache<K, Slot<T>>, key: K, stale: &Slot<T>)
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    T: Send + Sync + 'static,
{
    cache
        .entry(key)
        .and_compute_with(|entry| {
            let same = entry.is_some_and(|entry| Arc::ptr_eq(entry.value(), stale));
            std::future::ready(if same { Op::Remove } else { Op::Nop })
        })
        .await;
}

#[cfg(test)]
mod tests {
    use std::io;

    use super::*;
    use crate::error::Error;

    #[test]
    fn every_caller_sharing_a_failed_load_gets_the_whole_error() {
        let cause = io::Error::new(io::ErrorKind::ConnectionRefused, "refused");
        let first = Arc::new(Error::Transport {
            source: Arc::new(cause),
        });
        let second = Arc::clone(&first);
        for error in [unshare(first), unshare(second)] {
            let Error::Transport { source } = &error else {
                panic!("not a transport error: {error}")
            };
            assert!(source.downcast_ref::<io::Error>().is_some());
            assert!(error.is_retryable());
        }
    }
}
