//! Search over a loaded contact list: the index built once per load, and the ranking of
//! matches.
//!
//! Names are compared in their [folded](crate::fold) form: any letter case, no diacritics,
//! words separated by single spaces; and, ranked after those matches, by their transliteration
//! [key](crate::fold::key), so that a Latin query finds a Cyrillic name and the reverse (whole
//! words and the beginnings of words only: inside a word a transliteration is mostly chance).

use std::cmp::Reverse;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Arc;

use hashbrown::HashTable;
use memchr::memmem::Finder;

use crate::contact::Contact;
use crate::fold::{fold, fold_into, key};
use crate::hashing::FoldHashing;

/// How well a contact matches a query; a better match compares greater.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Rank {
    /// Some query word occurs only inside a word of the name; or the digits occur inside the
    /// phone number.
    Substring,
    /// Every query word begins a word of the name, some only as a prefix; or the phone number
    /// begins with the digits.
    Prefix,
    /// Every query word is a whole word of the name; or the phone number ends with the digits
    /// (the number typed without its country code).
    Word,
    /// The whole name is the query; or the phone number is the digits.
    Exact,
}

/// Which form of a name a contact matched on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Form {
    /// The folded name as written: the query is in the name's script.
    Written,
    /// The transliteration key: the query may be in the other script or spelling. Only whole
    /// words and the beginnings of words count.
    Transliterated,
}

/// A contact that matched: on which form, how well, the length in characters of the text it
/// matched on (shorter is closer), and its position in the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Hit {
    form: Form,
    rank: Rank,
    length: usize,
    contact: usize,
}

impl Hit {
    /// Sorts best first: the written form before the transliterated one, then the better rank,
    /// then the shorter text, then the list's order.
    fn order(&self) -> (Form, Reverse<Rank>, usize, usize) {
        (self.form, Reverse(self.rank), self.length, self.contact)
    }
}

/// Words to look for: a text (folded, or a transliteration key) with a searcher for each word.
#[derive(Debug, Clone)]
struct Words {
    /// The words, joined by single spaces.
    whole: String,
    /// How many characters `whole` has: a text as long as the query may be the query.
    chars: usize,
    /// One searcher per word, longest first: a long word is found in few names, and a search
    /// stops at the first word that no name holds.
    finders: Vec<Finder<'static>>,
}

impl Words {
    /// The words of `whole` (words joined by single spaces).
    fn new(whole: String) -> Self {
        let mut finders: Vec<_> = whole
            .split(' ')
            .filter(|word| !word.is_empty())
            .map(|word| Finder::new(word).into_owned())
            .collect();
        finders.sort_by_key(|word| Reverse(word.needle().len()));
        Self {
            chars: whole.chars().count(),
            whole,
            finders,
        }
    }
}

/// A search query, folded once, with a searcher for each of its words. Its transliteration
/// [keys](Query::keys) are made only for a search that needs them.
#[derive(Debug, Clone)]
pub(super) struct Query {
    /// The folded words.
    folded: Words,
    /// The query's digits, when it reads as a phone number.
    digits: Option<String>,
}

impl Query {
    /// Folds `text` for matching names and, when it reads as a phone number, keeps its digits.
    pub(super) fn new(text: &str) -> Self {
        Self {
            folded: Words::new(fold(text)),
            digits: phone_digits(text),
        }
    }

    /// Whether the query has nothing to match: no letter and no digit.
    pub(super) fn is_empty(&self) -> bool {
        self.folded.finders.is_empty() && self.digits.is_none()
    }

    /// The words' transliteration keys.
    fn keys(&self) -> Words {
        Words::new(key(&self.folded.whole))
    }
}

/// A contact list with its folded names and usernames and its phone digits, built once when
/// the list loads.
///
/// Groups (supergroups, channels) are in the list but not in the search: a group cannot be
/// shared as a contact card, and a search is for a person to share or to write to.
pub(super) struct Index {
    contacts: Arc<[Contact]>,
    names: Names,
    /// The names' transliteration keys.
    keys: Names,
    /// Telegram usernames, folded as names are (`ivan_tsarevich` reads `ivan tsarevich`, and
    /// so does the query `@ivan_tsarevich`).
    usernames: Names,
    phones: Haystack,
}

impl Index {
    /// Folds and transliterates each person's name (the phone-book name, else the profile
    /// name), folds the username, and collects phone digits.
    pub(super) fn new(contacts: Vec<Contact>) -> Self {
        let mut names = Haystack::default();
        let mut keys = Haystack::default();
        let mut usernames = Haystack::default();
        let mut phones = Haystack::default();
        let mut scratch = String::new();
        for (position, contact) in contacts.iter().enumerate() {
            if contact.kind.is_group() {
                continue;
            }
            scratch.clear();
            fold_into(&contact.contact_name, &mut scratch);
            if scratch.is_empty() {
                fold_into(&contact.name, &mut scratch);
            }
            names.push(&scratch, position);
            keys.push(&key(&scratch), position);
            scratch.clear();
            fold_into(
                contact.username.as_deref().unwrap_or_default(),
                &mut scratch,
            );
            usernames.push(&scratch, position);
            scratch.clear();
            let digits = contact.phone.as_deref().unwrap_or_default().chars();
            scratch.extend(digits.filter(char::is_ascii_digit));
            phones.push(&scratch, position);
        }
        phones.shrink_to_fit();
        Self {
            contacts: contacts.into(),
            names: Names::new(names, Lookup::Anywhere),
            keys: Names::new(keys, Lookup::Beginnings),
            usernames: Names::new(usernames, Lookup::Anywhere),
            phones,
        }
    }

    /// The whole list, groups included, in the gateway's order.
    pub(super) fn contacts(&self) -> &Arc<[Contact]> {
        &self.contacts
    }

    /// The best `limit` contacts that match `query`, best first. Only those `limit` are
    /// sorted: the rest are left unordered. Names are searched by transliteration only when
    /// fewer than `limit` people match in the query's own script: a match in the query's script
    /// ranks before any transliterated one.
    pub(super) fn find(&self, query: &Query, limit: usize) -> Vec<&Contact> {
        let mut hits = Vec::new();
        self.written_hits(query, &mut hits);
        dedup(&mut hits);
        if hits.len() < limit {
            self.transliterated_hits(query, &mut hits);
            dedup(&mut hits);
        }
        if hits.len() > limit {
            hits.select_nth_unstable_by_key(limit, Hit::order);
            hits.truncate(limit);
        }
        hits.sort_unstable_by_key(Hit::order);
        hits.iter()
            .filter_map(|hit| self.contacts.get(hit.contact))
            .collect()
    }

    /// Where the best match for `query` is in [`contacts`](Index::contacts): the first of
    /// [`find`](Index::find), kept while the matches stream by, without collecting them; by
    /// transliteration only when nothing matches in the query's script.
    ///
    /// The names and usernames that hold every query word as a whole word are looked up
    /// first, without a scan: when there are any, the best of them is the best of all (see
    /// [`whole_word_hits`](Index::whole_word_hits)), and the scan does not run.
    pub(super) fn best(&self, query: &Query) -> Option<usize> {
        let mut best = Best(None);
        self.whole_word_hits(query, &mut best);
        if best.0.is_none() {
            self.written_hits(query, &mut best);
        }
        if best.0.is_none() {
            self.transliterated_hits(query, &mut best);
        }
        best.0.map(|hit| hit.contact)
    }

    /// The matches of [`written_hits`](Index::written_hits) ranked [`Rank::Word`] or better,
    /// when the query does not read as a phone number: the names and usernames that hold every
    /// query word as a whole word, found by looking the words up. Every other match in the
    /// query's script ranks [`Rank::Prefix`] or worse, and so sorts after these: when there are
    /// any, the best of them is the best of all. A query that reads as a phone number is left
    /// to the scan: a phone number may rank as high.
    fn whole_word_hits(&self, query: &Query, hits: &mut impl Hits) {
        if query.digits.is_some() {
            return;
        }
        for names in [&self.names, &self.usernames] {
            names.holding_whole(&query.folded, Form::Written, hits);
        }
    }

    /// Every match in the query's script (by name, by username and by phone), unordered, to
    /// `hits`; a contact may come more than once.
    fn written_hits(&self, query: &Query, hits: &mut impl Hits) {
        for names in [&self.names, &self.usernames] {
            names.matching(&query.folded, Form::Written, hits);
        }
        if let Some(digits) = &query.digits {
            let finder = Finder::new(digits);
            for (phone, entry) in self.phones.containing(&finder) {
                hits.take(Hit {
                    form: Form::Written,
                    rank: rank_phone(phone, digits),
                    length: entry.chars(),
                    contact: entry.contact(),
                });
            }
        }
    }

    /// Every match by transliterated name, unordered, to `hits` (whole words and beginnings
    /// of words only, see [`Lookup::Beginnings`]).
    fn transliterated_hits(&self, query: &Query, hits: &mut impl Hits) {
        self.keys
            .matching(&query.keys(), Form::Transliterated, hits);
    }
}

/// Where a search's matches go: all of them (to be sorted), or only the best.
trait Hits {
    /// Whether `hit` would count: always for all of them; for the best, whether it sorts
    /// before the best so far.
    fn wants(&self, hit: &Hit) -> bool;

    /// Takes `hit`.
    fn take(&mut self, hit: Hit);
}

impl Hits for Vec<Hit> {
    fn wants(&self, _hit: &Hit) -> bool {
        true
    }

    fn take(&mut self, hit: Hit) {
        self.push(hit);
    }
}

/// The best match so far.
struct Best(Option<Hit>);

impl Hits for Best {
    fn wants(&self, hit: &Hit) -> bool {
        self.0.is_none_or(|best| hit.order() < best.order())
    }

    fn take(&mut self, hit: Hit) {
        if self.wants(&hit) {
            self.0 = Some(hit);
        }
    }
}

/// Leaves each contact of `hits` once, with its best hit (a contact may be found by name,
/// username and phone).
fn dedup(hits: &mut Vec<Hit>) {
    hits.sort_unstable_by_key(|hit| (hit.contact, hit.order()));
    hits.dedup_by_key(|hit| hit.contact);
}

/// Where a query word counts in the words of [`Names`], and so how their vocabulary is
/// searched for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lookup {
    /// Anywhere inside a word: the vocabulary, in the order its words first occur, is scanned.
    Anywhere,
    /// At the beginning of a word only (the transliteration keys: inside a word a
    /// transliteration is mostly chance, "anna" reads "ana", which "Svetlana" holds): the
    /// vocabulary is kept in byte order and bisected, so a search reads a few of its entries.
    Beginnings,
}

/// Names (or usernames, or transliteration keys) with the vocabulary of their words: a query
/// word is looked for once among the distinct words, not in every name, and the names that
/// hold a matching word are read off its list of holders.
///
/// A query word has no space, so it can only occur inside one word of a name: the word's
/// rank (whole, beginning, inside) is the name's rank for that query word.
struct Names {
    texts: Haystack,
    /// The texts' distinct words, in the order they first occur, or in byte order for a
    /// look-up at the beginnings of words; an entry's `contact` is the word's position in the
    /// vocabulary.
    vocabulary: Haystack,
    lookup: Lookup,
    /// The positions in `texts.entries` of the texts that hold each word of the vocabulary:
    /// word after word, each word's ascending.
    holders: Vec<u32>,
    /// Where each word's holders end in `holders`; they begin where the previous word's end.
    ends: Vec<usize>,
    /// The vocabulary's words by their text, for [`holding_whole`](Names::holding_whole);
    /// empty for a [`Lookup::Beginnings`] look-up, which is never searched that way.
    words: HashTable<WholeWord>,
    /// The hashing of `words`.
    hashing: FoldHashing,
}

impl Names {
    /// `texts` (words joined by single spaces) with the vocabulary of their words, to be
    /// searched as `lookup` says.
    fn new(mut texts: Haystack, lookup: Lookup) -> Self {
        texts.shrink_to_fit();
        // Each distinct word with the texts that hold it, in the order words first occur.
        let mut words: Vec<(&str, Vec<u32>)> = Vec::new();
        let mut positions: HashMap<&str, usize> = HashMap::new();
        for (at, entry) in texts.entries.iter().enumerate() {
            let at = u32::try_from(at).expect("a list held in memory has fewer than 2³² names");
            for word in texts
                .text_of(entry)
                .split(' ')
                .filter(|word| !word.is_empty())
            {
                let position = *positions.entry(word).or_insert_with(|| {
                    words.push((word, Vec::new()));
                    words.len() - 1
                });
                if let Some((_, holders)) = words.get_mut(position)
                    && holders.last() != Some(&at)
                {
                    holders.push(at);
                }
            }
        }
        if lookup == Lookup::Beginnings {
            words.sort_unstable_by_key(|&(word, _)| word);
        }
        let mut vocabulary = Haystack::default();
        let mut holders = Vec::with_capacity(words.iter().map(|(_, held)| held.len()).sum());
        let mut ends = Vec::with_capacity(words.len());
        for (position, (word, held)) in words.into_iter().enumerate() {
            vocabulary.push(word, position);
            holders.extend(held);
            ends.push(holders.len());
        }
        vocabulary.shrink_to_fit();
        let hashing = FoldHashing::default();
        let words = match lookup {
            Lookup::Anywhere => whole_words(&vocabulary, &ends, &hashing),
            Lookup::Beginnings => HashTable::new(),
        };
        Self {
            vocabulary,
            lookup,
            holders,
            ends,
            words,
            hashing,
            texts,
        }
    }

    /// The positions in `texts.entries` of the texts that hold the whole word `word`, if any
    /// does.
    fn holders_of_whole(&self, word: &str) -> Option<&[u32]> {
        let head = WholeWord::head_of(word);
        let is_word = |whole: &WholeWord| whole.is(word, &head, &self.vocabulary.text);
        let whole = self.words.find(self.hashing.hash_one(word), is_word)?;
        self.holders
            .get(whole.holders[0] as usize..whole.holders[1] as usize)
    }

    /// The positions in `texts.entries` of the texts that hold the vocabulary's `word`-th word.
    fn holders_of(&self, word: usize) -> &[u32] {
        let start = match word.checked_sub(1) {
            Some(previous) => self.ends.get(previous).copied().unwrap_or_default(),
            None => 0,
        };
        let end = self.ends.get(word).copied().unwrap_or_default();
        self.holders.get(start..end).unwrap_or_default()
    }

    /// Every text that `words` match, ranked on `form`, to `hits`, in no particular order
    /// (a hit's [order](Hit::order) decides). Only the entries of the texts that match are
    /// read, and a text itself only when it might be the whole query and would then count: a
    /// search touches little of an index that is not in the processor's caches (a bot of many
    /// instances searches a different book each time).
    fn matching(&self, words: &Words, form: Form, hits: &mut impl Hits) {
        for (at, rank) in self.ranks(words) {
            let _ = self.take(at, rank, words, form, hits);
        }
    }

    /// The texts that hold every one of `words` as a whole word, the matches that
    /// [`matching`](Names::matching) ranks [`Rank::Word`] or better, ranked alike, to `hits`:
    /// each word is looked up in the table of whole words, and the holders of the word with
    /// the fewest are kept if every other word's hold them too. Nothing when some word is no
    /// whole word of any text, or when there are no words. For a [`Lookup::Anywhere`]
    /// look-up only (a [`Lookup::Beginnings`] one has no table, and so finds nothing).
    ///
    /// The holders' lists, each ascending, are walked once side by side (a bisection per
    /// holder cost several times the instructions over lists of a few dozen), so a look-up
    /// reads no more holders than the scan's ranking of the same words does; and it stops
    /// once no holder still to come could count: the texts, and so their contacts, come in the
    /// list's order, and none ranks better than exact on a text as long as the query.
    fn holding_whole(&self, words: &Words, form: Form, hits: &mut impl Hits) {
        let mut held = Vec::with_capacity(words.finders.len());
        for word in words.whole.split(' ').filter(|word| !word.is_empty()) {
            let Some(holders) = self.holders_of_whole(word) else {
                return;
            };
            held.push(holders);
        }
        held.sort_unstable_by_key(|holders| holders.len());
        let Some((fewest, others)) = held.split_first_mut() else {
            return;
        };
        for &at in *fewest {
            // Each other list's holders before `at` are passed for good: `at` only grows.
            let everywhere = others.iter_mut().all(|rest| {
                let before = rest.iter().take_while(|&&holder| holder < at).count();
                *rest = rest.get(before..).unwrap_or_default();
                rest.first() == Some(&at)
            });
            if !everywhere {
                continue;
            }
            let Some(contact) = self.take(at as usize, Rank::Word, words, form, hits) else {
                continue;
            };
            let best_to_come = Hit {
                form,
                rank: Rank::Exact,
                length: words.chars,
                contact: contact + 1,
            };
            if !hits.wants(&best_to_come) {
                return;
            }
        }
    }

    /// Ranks on `form` the text at `at` in `texts.entries`, which `words` match with `rank`,
    /// to `hits`: a whole-word match is exact when the text is the whole query (compared only
    /// when an exact hit would count and the text is as long as the query). The contact it
    /// ranked, if `at` is a text's.
    fn take(
        &self,
        at: usize,
        rank: Rank,
        words: &Words,
        form: Form,
        hits: &mut impl Hits,
    ) -> Option<usize> {
        let entry = self.texts.entries.get(at)?;
        let mut hit = Hit {
            form,
            rank,
            length: entry.chars(),
            contact: entry.contact(),
        };
        let exact = Hit {
            rank: Rank::Exact,
            ..hit
        };
        if rank == Rank::Word
            && hit.length == words.chars
            && hits.wants(&exact)
            && self.texts.text_of(entry) == words.whole
        {
            hit = exact;
        }
        hits.take(hit);
        Some(hit.contact)
    }

    /// Each text that `words` match (its position in `texts.entries`) with its rank, that of
    /// its weakest word, in no particular order; empty where some word occurs in no text as
    /// far as the [look-up](Lookup) reaches, or where there are no words. Only the texts that
    /// hold the first word (the longest, so the rarest) are followed through the others: a
    /// search costs what its matches cost, not a pass over every text per word.
    fn ranks(&self, words: &Words) -> Vec<(usize, Rank)> {
        /// Above one text in this many, the first word's texts are read off in the list's
        /// order by a pass over every text's rank, not in the order they were found.
        const DENSE: usize = 8;
        let Some((first, others)) = words.finders.split_first() else {
            return Vec::new();
        };
        // Each text's rank for the word at hand: set at the texts that hold it (`held`), and
        // reset there before the next word.
        let mut word_ranks = vec![None; self.texts.entries.len()];
        // Room for as many as the sparse reading takes: one allocation, not a growth in steps.
        let mut held = Vec::with_capacity(word_ranks.len() / DENSE + 1);
        self.rank_holders(first, &mut word_ranks, &mut held);
        let mut found = Vec::with_capacity(held.len());
        let ranked = |(at, rank): (usize, &Option<Rank>)| Some((at, (*rank)?));
        if held.len() > word_ranks.len() / DENSE {
            // Many: in the list's order, which the sorts of many hits after this favour.
            found.extend(word_ranks.iter().enumerate().filter_map(ranked));
        } else {
            found.extend(
                held.iter()
                    .filter_map(|&at| ranked((at, word_ranks.get(at)?))),
            );
        }
        for word in others {
            if found.is_empty() {
                break;
            }
            for &at in &held {
                if let Some(slot) = word_ranks.get_mut(at) {
                    *slot = None;
                }
            }
            held.clear();
            self.rank_holders(word, &mut word_ranks, &mut held);
            found.retain_mut(|(at, rank)| match word_ranks.get(*at).copied().flatten() {
                Some(word_rank) => {
                    *rank = (*rank).min(word_rank);
                    true
                }
                None => false,
            });
        }
        found
    }

    /// Ranks in `ranks` each text that holds `word` as far as the [look-up](Lookup) reaches
    /// (the best rank among the text's words), and adds each such text's position to `held`
    /// once (`ranks` must be `None` everywhere else).
    fn rank_holders(&self, word: &Finder<'_>, ranks: &mut [Option<Rank>], held: &mut Vec<usize>) {
        let mut rank = |text: &str, entry: Entry| {
            let rank = rank_word(text, word.needle());
            for &at in self.holders_of(entry.contact()) {
                let at = at as usize;
                if let Some(slot) = ranks.get_mut(at) {
                    if slot.is_none() {
                        held.push(at);
                    }
                    *slot = (*slot).max(Some(rank));
                }
            }
        };
        match self.lookup {
            Lookup::Beginnings => {
                for (text, entry) in self.vocabulary.beginning_with(word.needle()) {
                    rank(text, entry);
                }
            }
            Lookup::Anywhere => {
                for (text, entry) in self.vocabulary.containing(word) {
                    rank(text, entry);
                }
            }
        }
    }
}

/// The words of `vocabulary` (distinct; the holders of each end at its place in `ends`) by
/// their text, hashed by `hashing`.
fn whole_words(
    vocabulary: &Haystack,
    ends: &[usize],
    hashing: &FoldHashing,
) -> HashTable<WholeWord> {
    let hash_of = |whole: &WholeWord| hashing.hash_one(whole.text(&vocabulary.text));
    let mut table = HashTable::with_capacity(vocabulary.entries.len());
    let mut begin = 0;
    for (entry, &end) in vocabulary.entries.iter().zip(ends) {
        let (Ok(first), Ok(last)) = (u32::try_from(begin), u32::try_from(end)) else {
            break;
        };
        let word = vocabulary.text_of(entry);
        let whole = WholeWord::new(word, entry.start, [first, last]);
        table.insert_unique(hashing.hash_one(word), whole, hash_of);
        begin = end;
    }
    table
}

/// Bytes of a word a [`WholeWord`] holds itself.
const HEAD: usize = 12;

/// A word of the table of [`Names::holding_whole`], with all a look-up reads: its first
/// [`HEAD`] bytes (a word no longer is compared without reading the vocabulary's text), its
/// length, where it is in the vocabulary's text, and where its holders are. A probe reads the
/// entry it lands on and the holders, not also the word's entry in the vocabulary, its text
/// and the bounds of its holders: each a cache miss in a bot of many instances, which
/// searches a different book each time.
#[derive(Debug, Clone, Copy)]
struct WholeWord {
    head: [u8; HEAD],
    len: u32,
    /// Where the word begins in the vocabulary's text.
    start: u32,
    /// Where its holders begin and end in [`Names::holders`].
    holders: [u32; 2],
}

impl WholeWord {
    /// The word `word`, at `start` in the vocabulary's text, held by `holders`.
    fn new(word: &str, start: u32, holders: [u32; 2]) -> Self {
        Self {
            head: Self::head_of(word),
            // A word of the vocabulary's text, which is shorter than 4 GiB.
            len: word.len() as u32,
            start,
            holders,
        }
    }

    /// The first [`HEAD`] bytes of `word`, zeros after a shorter one.
    fn head_of(word: &str) -> [u8; HEAD] {
        let mut head = [0; HEAD];
        let bytes = word.as_bytes();
        let kept = bytes.len().min(HEAD);
        head[..kept].copy_from_slice(&bytes[..kept]);
        head
    }

    /// Whether this is `word`, whose [head](WholeWord::head_of) is `head`; `vocabulary` is
    /// the vocabulary's text.
    fn is(&self, word: &str, head: &[u8; HEAD], vocabulary: &str) -> bool {
        self.len as usize == word.len()
            && self.head == *head
            && (word.len() <= HEAD || self.text(vocabulary) == word)
    }

    /// The word, read from `vocabulary`, the vocabulary's text.
    fn text<'a>(&self, vocabulary: &'a str) -> &'a str {
        let start = self.start as usize;
        vocabulary
            .get(start..start + self.len as usize)
            .unwrap_or_default()
    }
}

/// Search texts joined by newlines, so that one `memmem` pass scans all of them.
#[derive(Debug, Default)]
struct Haystack {
    text: String,
    entries: Vec<Entry>,
}

/// Where one text sits in a [`Haystack`], how many characters it has, and whose it is; in
/// 32-bit fields (16 bytes an entry, not 32: an index holds a few entries per contact).
#[derive(Debug, Clone, Copy)]
struct Entry {
    start: u32,
    end: u32,
    chars: u32,
    /// The contact's position in the list (in a [`Names`] vocabulary, the word's position).
    contact: u32,
}

impl Entry {
    /// Where the text begins in its haystack's text.
    fn start(&self) -> usize {
        self.start as usize
    }

    /// Where the text ends in its haystack's text.
    fn end(&self) -> usize {
        self.end as usize
    }

    /// How many characters the text has.
    fn chars(&self) -> usize {
        self.chars as usize
    }

    /// The contact's position in the list (in a [`Names`] vocabulary, the word's position).
    fn contact(&self) -> usize {
        self.contact as usize
    }
}

impl Haystack {
    /// Adds `text` (without newlines) for the contact at `contact`; empty texts are left out,
    /// and so is a text that would end past 4 GiB of texts (4 GiB of names is no real
    /// contact list).
    fn push(&mut self, text: &str, contact: usize) {
        if text.is_empty() {
            return;
        }
        let separator = usize::from(!self.entries.is_empty());
        let start = self.text.len() + separator;
        let (Ok(start32), Ok(end), Ok(contact)) = (
            u32::try_from(start),
            u32::try_from(start + text.len()),
            u32::try_from(contact),
        ) else {
            return;
        };
        if separator == 1 {
            self.text.push('\n');
        }
        self.text.push_str(text);
        self.entries.push(Entry {
            start: start32,
            end,
            // No more characters than bytes, which fit.
            chars: text.chars().count() as u32,
            contact,
        });
    }

    /// Gives back the room left over from growing: a loaded index is kept for minutes, a
    /// thousand of them in a bot of a thousand instances.
    fn shrink_to_fit(&mut self) {
        self.text.shrink_to_fit();
        self.entries.shrink_to_fit();
    }

    /// The text of `entry`, one of this haystack's.
    fn text_of(&self, entry: &Entry) -> &str {
        self.text
            .get(entry.start()..entry.end())
            .unwrap_or_default()
    }

    /// Each text that begins with `prefix`, with its entry, in a haystack whose texts were
    /// pushed in byte order (the vocabulary of a [`Lookup::Beginnings`] look-up): the first is
    /// found by bisection.
    fn beginning_with<'a>(&'a self, prefix: &'a [u8]) -> impl Iterator<Item = (&'a str, Entry)> {
        let first = self
            .entries
            .partition_point(|entry| self.text_of(entry).as_bytes() < prefix);
        self.entries
            .get(first..)
            .unwrap_or_default()
            .iter()
            .map(|&entry| (self.text_of(&entry), entry))
            .take_while(move |(text, _)| text.as_bytes().starts_with(prefix))
    }

    /// Each text that contains the searcher's needle (not empty, without newlines), once, with
    /// its entry.
    fn containing<'a>(
        &'a self,
        finder: &'a Finder<'_>,
    ) -> impl Iterator<Item = (&'a str, Entry)> + 'a {
        let mut from = 0;
        let mut entries = self.entries.as_slice();
        std::iter::from_fn(move || {
            let rest = self.text.as_bytes().get(from..)?;
            let at = from + finder.find(rest)?;
            // Hits come in order, so the entry is at or after the previous one.
            let skipped = first_ending_after(entries, at);
            let (&entry, after) = entries.get(skipped..)?.split_first()?;
            entries = after;
            // Skip the rest of this text: one hit per contact is enough to rank it.
            from = entry.end();
            Some((self.text.get(entry.start()..entry.end())?, entry))
        })
    }
}

/// The position of the first of `entries` (in text order) that ends after byte `at`, or
/// `entries.len()`. The entry is usually a few places on from the previous hit's, so the
/// search gallops from the front before it bisects.
fn first_ending_after(entries: &[Entry], at: usize) -> usize {
    let mut bound = 1;
    while bound < entries.len() && entries[bound - 1].end() <= at {
        bound *= 2;
    }
    let from = bound / 2;
    let to = bound.min(entries.len());
    from + entries[from..to].partition_point(|entry| entry.end() <= at)
}

/// How well `word` (a word of a name) holds the query word `needle`, which occurs in it:
/// whole, at its beginning, or inside it.
fn rank_word(word: &str, needle: &[u8]) -> Rank {
    if word.as_bytes() == needle {
        Rank::Word
    } else if word.as_bytes().starts_with(needle) {
        Rank::Prefix
    } else {
        Rank::Substring
    }
}

/// How well a phone number (digits) matches the query's digits, which it contains.
fn rank_phone(phone: &str, digits: &str) -> Rank {
    if phone == digits {
        Rank::Exact
    } else if phone.ends_with(digits) {
        Rank::Word
    } else if phone.starts_with(digits) {
        Rank::Prefix
    } else {
        Rank::Substring
    }
}

/// The digits of a query that reads as a phone number: digits, with or without `+`, spaces,
/// dashes, dots, slashes and parentheses.
fn phone_digits(query: &str) -> Option<String> {
    let phone_like = query
        .chars()
        .all(|c| c.is_ascii_digit() || c.is_whitespace() || "+-().\u{2010}\u{2013}/".contains(c));
    let digits: String = query.chars().filter(char::is_ascii_digit).collect();
    (phone_like && !digits.is_empty()).then_some(digits)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::contact::ContactKind;

    fn person(chat: &str, contact_name: &str, name: &str, phone: Option<&str>) -> Contact {
        let mut contact = Contact::new(chat, ContactKind::User);
        contact.contact_name = contact_name.into();
        contact.name = name.into();
        contact.phone = phone.map(Into::into);
        contact
    }

    fn group(chat: &str, name: &str) -> Contact {
        let mut contact = Contact::new(chat, ContactKind::Group);
        contact.name = name.into();
        contact
    }

    fn with_username(mut contact: Contact, username: &str) -> Contact {
        contact.username = Some(username.into());
        contact
    }

    /// The chats of every match of `query`, best first.
    fn found<'a>(index: &'a Index, query: &str) -> Vec<&'a str> {
        found_up_to(index, query, usize::MAX)
    }

    /// The chats of the best `limit` matches of `query`, best first.
    fn found_up_to<'a>(index: &'a Index, query: &str, limit: usize) -> Vec<&'a str> {
        index
            .find(&Query::new(query), limit)
            .into_iter()
            .map(|contact| contact.chat_id.as_str())
            .collect()
    }

    /// The chat of the best match of `query`.
    fn best_of<'a>(index: &'a Index, query: &str) -> Option<&'a str> {
        index
            .best(&Query::new(query))
            .map(|at| index.contacts()[at].chat_id.as_str())
    }

    #[test]
    fn phone_digits_accept_usual_phone_punctuation_only() {
        assert_eq!(
            phone_digits("+7 (987) 654-32-10").as_deref(),
            Some("79876543210")
        );
        assert_eq!(phone_digits("654 32 10").as_deref(), Some("6543210"));
        assert_eq!(phone_digits("Room 101"), None);
        assert_eq!(phone_digits("+ -"), None);
        assert_eq!(phone_digits(""), None);
    }

    /// The rank of the name `name` (not yet folded) for `query`, written form.
    fn rank(name: &str, query: &str) -> Option<Rank> {
        let mut texts = Haystack::default();
        texts.push(&fold(name), 0);
        let mut hits = Vec::new();
        Names::new(texts, Lookup::Anywhere).matching(
            &Query::new(query).folded,
            Form::Written,
            &mut hits,
        );
        hits.first().map(|hit| hit.rank)
    }

    #[test]
    fn bisecting_for_beginnings_finds_what_the_scan_ranks_above_substring() {
        let names = [
            "Ivan Petrov",
            "Ivanka Petrova",
            "Iva Ivanova (Office 12)",
            "Divan Sofa",
            "Ива Ивановна",
            "João Gonçalves",
            "Ann Annabel",
            "Zoe",
            "Bob Smith (Office 2)",
        ];
        let built = |lookup| {
            let mut texts = Haystack::default();
            for (at, name) in names.iter().enumerate() {
                texts.push(&fold(name), at);
            }
            Names::new(texts, lookup)
        };
        let (anywhere, beginnings) = (built(Lookup::Anywhere), built(Lookup::Beginnings));
        let mut queries: Vec<String> = Vec::new();
        for name in names {
            let folded = fold(name);
            for word in folded.split(' ') {
                let chars: Vec<char> = word.chars().collect();
                for from in 0..chars.len() {
                    for to in from + 1..=chars.len() {
                        queries.push(chars[from..to].iter().collect());
                    }
                }
            }
        }
        queries.extend(
            ["ivan petrov", "petr iva", "an an", "office 1", "zz", "a z"].map(String::from),
        );
        for query in queries {
            let words = Query::new(&query).folded;
            // No match at all leaves the ranks empty.
            let scanned = anywhere.ranks(&words);
            let bisected = beginnings.ranks(&words);
            let rank_at = |ranks: &[(usize, Rank)], at| {
                let mut of_at = ranks.iter().filter(|&&(held, _)| held == at);
                let rank = of_at.next().map(|&(_, rank)| rank);
                assert!(of_at.next().is_none(), "query {query:?}, name {at} twice");
                rank
            };
            for at in 0..names.len() {
                let expected = rank_at(&scanned, at).filter(|&rank| rank > Rank::Substring);
                let found = rank_at(&bisected, at);
                assert_eq!(found, expected, "query {query:?}, name {at}");
            }
        }
    }

    #[test]
    fn a_match_inside_a_word_counts_only_when_nothing_better_does() {
        let index = Index::new(vec![
            person("1", "Диван Кожаный", "", None),
            person("2", "Иванов Петр", "", None),
            person("3", "Иван", "", None),
        ]);
        assert_eq!(found_up_to(&index, "иван", 2), ["3", "2"]);
        assert_eq!(found_up_to(&index, "иван", 3), ["3", "2", "1"]);
        assert_eq!(found_up_to(&index, "ван", 3), ["3", "2", "1"]);
        assert_eq!(best_of(&index, "иван"), Some("3"));
        assert_eq!(best_of(&index, "ван"), Some("3"));
        assert_eq!(best_of(&index, "диван"), Some("1"));
        assert_eq!(best_of(&index, "ожан"), Some("1"));
        assert_eq!(best_of(&index, "етр"), Some("2"));
    }

    #[test]
    fn word_match_beats_prefix_beats_substring() {
        assert_eq!(rank("Иван Царевич", "иван"), Some(Rank::Word));
        assert_eq!(rank("Иванов Петр", "иван"), Some(Rank::Prefix));
        assert_eq!(rank("Диван кожаный", "иван"), Some(Rank::Substring));
        assert_eq!(rank("Петр", "иван"), None);
        // The best of several places counts.
        assert_eq!(rank("Диван Иван", "иван"), Some(Rank::Word));
        assert_eq!(rank_word("ивановна", "иван".as_bytes()), Rank::Prefix);
    }

    #[test]
    fn every_query_word_must_match_and_the_weakest_decides() {
        let name = "Василиса Премудрая";
        assert_eq!(rank(name, "прем васил"), Some(Rank::Prefix));
        assert_eq!(rank(name, "премудрая василиса"), Some(Rank::Word));
        assert_eq!(rank(name, "Василиса Премудрая"), Some(Rank::Exact));
        assert_eq!(rank(name, "Василиса Премудрая ПРЕМ"), Some(Rank::Prefix));
        assert_eq!(rank("Василиса Прекрасная", "прем васил"), None);
    }

    #[test]
    fn phone_ranks_exact_then_national_number_then_prefix_then_inside() {
        assert_eq!(rank_phone("79876543210", "79876543210"), Rank::Exact);
        assert_eq!(rank_phone("79876543210", "9876543210"), Rank::Word);
        assert_eq!(rank_phone("79876543210", "7987"), Rank::Prefix);
        assert_eq!(rank_phone("79876543210", "6543"), Rank::Substring);
    }

    /// Five Ivans, whole and in parts of names, and one Пётр.
    fn ivans() -> Index {
        Index::new(vec![
            person("1", "Диван Иванович", "", None),
            person("2", "Иванов Петр", "", None),
            person("3", "Иван Царевич", "", None),
            person("4", "Иван", "", None),
            person("5", "Иван Грозный", "", None),
            person("6", "Пётр", "", None),
        ])
    }

    #[test]
    fn find_orders_best_first_then_shorter_then_list_order() {
        let index = ivans();
        assert_eq!(found(&index, "иван"), ["4", "3", "5", "2", "1"]);
        assert_eq!(found(&index, "петр"), ["6", "2"]);
    }

    #[test]
    fn a_limit_keeps_the_best_matches_in_order() {
        let index = ivans();
        assert_eq!(found_up_to(&index, "иван", 2), ["4", "3"]);
        assert_eq!(found_up_to(&index, "иван", 4), ["4", "3", "5", "2"]);
        assert_eq!(found_up_to(&index, "иван", 9), ["4", "3", "5", "2", "1"]);
        assert!(found_up_to(&index, "иван", 0).is_empty());
    }

    #[test]
    fn the_rarest_word_leads_and_every_word_still_counts() {
        let mut people: Vec<Contact> = (0..50)
            .map(|n| person(&n.to_string(), &format!("Office Anna {n}"), "", None))
            .collect();
        people.push(person("bob", "Office Bob", "", None));
        people.push(person("bobby", "Bobby Tables", "", None));
        let index = Index::new(people);
        assert_eq!(found(&index, "office bob"), ["bob"]);
        assert_eq!(found(&index, "bob office"), ["bob"]);
        assert_eq!(found(&index, "anna 7"), ["7", "17", "27", "37", "47"]);
        assert!(found(&index, "office tables").is_empty());
        assert_eq!(found(&index, "bob"), ["bob", "bobby"]);
    }

    #[test]
    fn galloping_finds_the_same_entry_as_bisecting() {
        let entries: Vec<Entry> = (0..100)
            .map(|n| Entry {
                start: n * 10,
                end: n * 10 + 9,
                chars: 9,
                contact: n,
            })
            .collect();
        for from in [0, 1, 2, 3, 50, 99, 100] {
            let rest = &entries[from..];
            for at in 0..1005 {
                assert_eq!(
                    first_ending_after(rest, at),
                    rest.partition_point(|entry| entry.end() <= at),
                    "from {from} at {at}"
                );
            }
        }
    }

    #[test]
    fn name_falls_back_to_profile_name_then_phone() {
        let index = Index::new(vec![
            person("1", "", "Лягушка", None),
            person("2", "❤️", "Елена", None),
            person("3", "", "", Some("79998887766")),
            person("4", "Мама", "Ольга", None),
        ]);
        assert_eq!(found(&index, "лягушка"), ["1"]);
        assert_eq!(found(&index, "елена"), ["2"]);
        assert_eq!(found(&index, "+7 999 888-77-66"), ["3"]);
        // The profile name is not searched when the phone-book name is set.
        assert!(found(&index, "ольга").is_empty());
    }

    #[test]
    fn groups_are_not_searched() {
        let index = Index::new(vec![
            group("120363043968066561@g.us", "Велосипедисты"),
            person(
                "79001234567@c.us",
                "Велосипедист Артем",
                "",
                Some("79001234567"),
            ),
        ]);
        assert_eq!(found(&index, "велосипедист"), ["79001234567@c.us"]);
        assert_eq!(index.contacts().len(), 2);
    }

    #[test]
    fn usernames_are_found_with_and_without_the_at() {
        let index = Index::new(vec![
            with_username(person("1", "Иван Царевич", "", None), "ivan_tsarevich"),
            with_username(person("2", "Кощей", "", None), "koschei"),
            person("3", "Ivan Petrov", "", None),
        ]);
        assert_eq!(found(&index, "@ivan_tsarevich"), ["1"]);
        assert_eq!(found(&index, "ivan_tsarevich"), ["1"]);
        assert_eq!(found(&index, "@KOSCHEI"), ["2"]);
        // A name and a username that both match count once each, the whole name first.
        assert_eq!(found(&index, "ivan"), ["3", "1"]);
    }

    #[test]
    fn a_contact_found_by_name_and_username_appears_once() {
        let index = Index::new(vec![with_username(
            person("1", "Bob Smith", "", None),
            "bob_smith",
        )]);
        assert_eq!(found(&index, "bob smith"), ["1"]);
    }

    #[test]
    fn supergroups_and_channels_are_not_searched_but_bots_are() {
        let mut supergroup = group("-1001234567890", "Hookbot testers");
        supergroup.kind = ContactKind::Supergroup;
        let mut channel = group("-1009876543210", "Hookbot news");
        channel.kind = ContactKind::Channel;
        let mut bot = with_username(
            person("20000000", "", "Hookbot Helper", None),
            "hookbot_bot",
        );
        bot.kind = ContactKind::Bot;
        let index = Index::new(vec![supergroup, channel, bot]);
        assert_eq!(found(&index, "hookbot"), ["20000000"]);
    }

    #[test]
    fn a_contact_found_by_name_and_phone_appears_once() {
        let index = Index::new(vec![person("1", "Office 2024", "", Some("79990002024"))]);
        assert_eq!(found(&index, "2024"), ["1"]);
    }

    #[test]
    fn best_is_the_first_of_find_whichever_comes_first_in_the_list() {
        let names = [
            "Ivan Petrov (Office 1)",
            "Ivan Petrov",
            "Petrov Ivan",
            "ivan petrov",
            "Ivanka Petrova",
            "Иван Петров",
        ];
        for shift in 0..names.len() {
            let mut order = names;
            order.rotate_left(shift);
            let contacts = order
                .iter()
                .enumerate()
                .map(|(at, name)| person(&at.to_string(), name, "", None))
                .collect();
            let index = Index::new(contacts);
            for query in [
                "ivan petrov",
                "IVAN",
                "petrov",
                "ivan petrov office",
                "иван",
                "petr",
            ] {
                let first = found_up_to(&index, query, 1).first().copied();
                assert_eq!(best_of(&index, query), first, "{order:?}");
            }
        }
    }

    #[test]
    fn best_is_the_first_of_find() {
        let index = Index::new(vec![
            person("1", "Иванов Петр", "", None),
            person("2", "Иван Царевич", "", None),
        ]);
        assert_eq!(best_of(&index, "ИВАН"), Some("2"));
        assert_eq!(index.best(&Query::new("кощей")), None);
    }

    #[test]
    fn a_query_finds_names_in_the_other_script_after_those_in_its_own() {
        let index = Index::new(vec![
            person("1", "Василиса Премудрая", "", None),
            person("2", "Vasilisa Smith", "", None),
            person("3", "Иван Петров", "", None),
            person("4", "Ivan Petrov", "", None),
            person("5", "Пётр Хабаров", "", None),
        ]);
        assert_eq!(found(&index, "vasilisa"), ["2", "1"]);
        assert_eq!(found(&index, "Vasilissa"), ["2", "1"]);
        assert_eq!(found(&index, "василиса"), ["1", "2"]);
        assert_eq!(found(&index, "ivan petrov"), ["4", "3"]);
        assert_eq!(found(&index, "иван петров"), ["3", "4"]);
        assert_eq!(found(&index, "pyotr khabarov"), ["5"]);
        // A whole transliterated name ranks after a same-script prefix.
        assert_eq!(found(&index, "petr"), ["4", "5", "3"]);
        // Inside a word, only the written form counts.
        assert_eq!(found(&index, "etro"), ["4"]);
    }

    #[test]
    fn transliterated_names_fill_a_limit_that_written_ones_leave_open() {
        let index = Index::new(vec![
            person("1", "Иван Петров", "", None),
            person("2", "Ivan Petrov", "", None),
            person("3", "Ivan Petrovich", "", None),
            person("4", "Иван", "", None),
        ]);
        assert_eq!(found_up_to(&index, "ivan petrov", 1), ["2"]);
        assert_eq!(found_up_to(&index, "ivan petrov", 2), ["2", "3"]);
        assert_eq!(found_up_to(&index, "ivan petrov", 3), ["2", "3", "1"]);
        assert_eq!(found_up_to(&index, "ivan", 3), ["2", "3", "4"]);
        assert_eq!(found_up_to(&index, "ivan", 9), ["2", "3", "4", "1"]);
        assert_eq!(best_of(&index, "иван петров"), Some("1"));
        assert_eq!(best_of(&index, "ivan petrovich"), Some("3"));
        // Nothing written in the query's script: the best transliterated name.
        assert_eq!(best_of(&index, "иван петрович"), Some("3"));
        assert_eq!(best_of(&index, "ivanov"), None);
    }

    #[test]
    fn words_that_no_one_name_holds_whole_are_left_to_the_scan() {
        let index = Index::new(vec![
            person("1", "Ivan Smith", "", None),
            person("2", "Ivanka Petrov", "", None),
        ]);
        // "ivan" and "petrov" are whole words, but of different names: the look-up finds
        // none, and the scan ranks "Ivanka Petrov" a prefix match.
        assert_eq!(best_of(&index, "ivan petrov"), Some("2"));
        assert_eq!(best_of(&index, "ivan"), Some("1"));
    }

    #[test]
    fn a_phone_number_query_is_left_to_the_scan() {
        let index = Index::new(vec![
            person("1", "Office 2024", "", None),
            person("2", "Zed", "", Some("2024")),
        ]);
        // The name holds "2024" as a whole word, but the phone number is the query: exact.
        assert_eq!(best_of(&index, "2024"), Some("2"));
        assert_eq!(best_of(&index, "office 2024"), Some("1"));
    }

    /// Words for generated names and queries: Latin and Cyrillic, in several cases, with and
    /// without diacritics, and words that begin or hold others; the last four longer than a
    /// [`WholeWord`]'s head, two by two alike but for their ends.
    const WORDS: [&str; 28] = [
        "Ivan",
        "ivan",
        "IVAN",
        "Iv",
        "Ivanka",
        "Ivanov",
        "van",
        "Anna",
        "ann",
        "Ana",
        "Petrov",
        "petrova",
        "Иван",
        "иван",
        "Ива",
        "Анна",
        "Пётр",
        "петр",
        "Петров",
        "João",
        "joao",
        "Müller",
        "muller",
        "2024",
        "Александрович",
        "Александровна",
        "Konstantinopolis",
        "konstantinopolit",
    ];

    fn words(most: usize) -> impl Strategy<Value = Vec<&'static str>> {
        prop::collection::vec(prop::sample::select(WORDS.as_slice()), 0..=most)
    }

    /// A generated contact: a phone-book name or a profile name, maybe a username and a phone
    /// number, sometimes a group.
    fn contact() -> impl Strategy<Value = Contact> {
        let phone = prop::option::of(prop_oneof!["2024", "72024", "20245", "[0-9]{1,6}"]);
        let username = prop::option::of(words(2));
        (
            words(4),
            words(2),
            username,
            phone,
            prop::bool::weighted(0.1),
        )
            .prop_map(|(contact_name, name, username, phone, is_group)| {
                let kind = if is_group {
                    ContactKind::Group
                } else {
                    ContactKind::User
                };
                let mut contact = Contact::new("", kind);
                contact.contact_name = contact_name.join(" ").into();
                contact.name = name.join(", ").into();
                contact.username = username.map(|words| words.join("_").into());
                contact.phone = phone.map(Into::into);
                contact
            })
    }

    /// A generated query: words (maybe repeated, in any case), or a phone number's digits
    /// (some of them a word of [`WORDS`] too).
    fn query() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => words(3).prop_map(|words| words.join(" ")),
            1 => prop_oneof!["2024", "[+]?[0-9]{1,4}"],
        ]
    }

    /// The index of `contacts`, each with its position as its chat.
    fn indexed(contacts: Vec<Contact>) -> Index {
        let contacts = contacts
            .into_iter()
            .enumerate()
            .map(|(at, mut contact)| {
                contact.chat_id = at.to_string().into();
                contact
            })
            .collect();
        Index::new(contacts)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]

        #[test]
        fn best_is_what_the_full_scan_finds(
            contacts in prop::collection::vec(contact(), 0..12),
            queries in prop::collection::vec(query(), 1..6),
        ) {
            let index = indexed(contacts);
            for text in &queries {
                let query = Query::new(text);
                let mut scanned = Best(None);
                index.written_hits(&query, &mut scanned);
                if scanned.0.is_none() {
                    index.transliterated_hits(&query, &mut scanned);
                }
                let best = index.best(&query);
                prop_assert_eq!(best, scanned.0.map(|hit| hit.contact), "{:?}", text);
                let first = found_up_to(&index, text, 1).first().copied();
                prop_assert_eq!(best_of(&index, text), first, "{:?}", text);
            }
        }

        #[test]
        fn whole_word_holders_are_the_scan_s_word_matches(
            contacts in prop::collection::vec(contact(), 0..12),
            queries in prop::collection::vec(words(3), 1..6),
        ) {
            let index = indexed(contacts);
            for words in &queries {
                let query = Query::new(&words.join(" "));
                for names in [&index.names, &index.usernames] {
                    let mut looked_up = Vec::new();
                    names.holding_whole(&query.folded, Form::Written, &mut looked_up);
                    let mut scanned = Vec::new();
                    names.matching(&query.folded, Form::Written, &mut scanned);
                    scanned.retain(|hit| hit.rank >= Rank::Word);
                    looked_up.sort_unstable_by_key(Hit::order);
                    scanned.sort_unstable_by_key(Hit::order);
                    prop_assert_eq!(&looked_up, &scanned, "{:?}", words);
                }
            }
        }
    }

    #[test]
    fn a_whole_word_is_only_itself_whatever_its_length() {
        let vocabulary = "ivan\nалександровна\nkonstantinopolis";
        let word = |start: usize, len: usize| {
            let text = &vocabulary[start..start + len];
            (WholeWord::new(text, start as u32, [0, 0]), text)
        };
        let (ivan, _) = word(0, 4);
        let (alexandrovna, _) = word(5, "александровна".len());
        let (konstantinopolis, _) = word(5 + "александровна".len() + 1, 16);
        let is =
            |whole: &WholeWord, text: &str| whole.is(text, &WholeWord::head_of(text), vocabulary);
        assert!(is(&ivan, "ivan"));
        assert!(!is(&ivan, "iva"));
        assert!(!is(&ivan, "ivana"));
        assert!(is(&alexandrovna, "александровна"));
        assert!(
            !is(&alexandrovna, "александрович"),
            "alike in the head, not after"
        );
        assert!(is(&konstantinopolis, "konstantinopolis"));
        assert!(!is(&konstantinopolis, "konstantinopolit"));
        assert!(!is(&konstantinopolis, "konstantinopoli"));
        assert_eq!(konstantinopolis.text(vocabulary), "konstantinopolis");
    }

    #[test]
    fn a_query_without_letters_or_digits_is_empty() {
        assert!(Query::new(" -!? ").is_empty());
        assert!(!Query::new("а").is_empty());
        assert!(!Query::new("+7").is_empty());
    }
}
