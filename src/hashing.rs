//! The hashing of maps looked up for every event: keyed per process, cheaper than std's SipHash.

use std::hash::{BuildHasher, RandomState};
use std::sync::LazyLock;

/// Hashes the keys of maps looked up for every event (the dispatcher's per-chat queues, the
/// metric series by instance, the instances by id and by webhook token, the durable store's
/// claims) with foldhash, several times cheaper than SipHash over an id's strings, keyed by a
/// seed drawn once per process from the operating system's randomness as SipHash's is, so that
/// no peer can aim ids at one bucket.
#[derive(Clone)]
pub(crate) struct FoldHashing(foldhash::quality::FixedState);

impl Default for FoldHashing {
    fn default() -> Self {
        static SEED: LazyLock<u64> = LazyLock::new(|| RandomState::new().hash_one(0_u8));
        Self(foldhash::quality::FixedState::with_seed(*SEED))
    }
}

impl BuildHasher for FoldHashing {
    type Hasher = foldhash::quality::FoldHasher<'static>;

    fn build_hasher(&self) -> Self::Hasher {
        self.0.build_hasher()
    }
}
