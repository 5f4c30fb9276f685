//! The ready bots: each is a router (with its state) that the binaries in `bots/` run, and that a
//! program of your own can run, mount or extend.
//!
//! - [`contact_card`]: a contact directory: `contact <name>` answers with the best match's
//!   contact card, quoting the request.
//! - [`auto_reply`]: the first private message of a chat gets a greeting by name and a contact
//!   card to reach you; a chat in which you answer from the phone is left alone.
//! - [`echo`]: answers each text with the same text.
//!
//! # No bot loops
//!
//! The ready bots answer people only: a message the gateway says a bot wrote (GREEN-API
//! Telegram `senderType: "bot"`, see [`filter::from_bot`]) matches none of their routes, so it
//! is acknowledged and left alone. Two bots that answer every message would otherwise answer
//! each other for ever. The rule lives in these routers, not in [`Router`](crate::Router):
//! a router does what its filters say, so a program of your own sees bots' messages and
//! routes them — or not — with a filter, like anything else.

pub mod auto_reply;
pub mod contact_card;
pub mod echo;

use crate::filter::{self, Filter};

/// Messages received from people: what the ready bots answer. Never a bot's (see the
/// [module docs](self#no-bot-loops)).
fn from_people() -> Filter {
    filter::incoming() & !filter::from_bot()
}

/// Logs to standard error at `info` (or as `RUST_LOG` says), for the bots' binaries.
#[cfg(feature = "bots")]
pub fn init_logging() {
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    tracing_subscriber::fmt().with_env_filter(filter).init();
}

/// The memory allocator of the bots' binaries: jemalloc (the system's allocator where jemalloc
/// does not build, with MSVC). A bot's work is many small allocations freed on another thread
/// than the one that made them (a request's event, its reply, the gateway's answer), which
/// glibc's allocator serves slowly: in `cargo bench --bench throughput` the contact-card bot
/// answers ≈ 1.4 times as many requests per second with jemalloc, in about the same memory
/// (see `BENCHMARKS.md`). A program of your own chooses its allocator; to take this one:
///
/// ```
/// #[global_allocator]
/// static ALLOCATOR: hookbot::bots::Allocator = hookbot::bots::ALLOCATOR;
///
/// fn main() {}
/// ```
#[cfg(all(feature = "bots", not(target_env = "msvc")))]
pub type Allocator = tikv_jemallocator::Jemalloc;
/// The memory allocator of the bots' binaries: jemalloc (the system's allocator where jemalloc
/// does not build, as here, with MSVC).
#[cfg(all(feature = "bots", target_env = "msvc"))]
pub type Allocator = std::alloc::System;

/// The [`Allocator`], for a `#[global_allocator]` static.
#[cfg(feature = "bots")]
pub const ALLOCATOR: Allocator = Allocator {};
