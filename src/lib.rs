//! hookbot: chat bots behind hosted messaging gateways — GREEN-API (WhatsApp, MAX, Telegram)
//! and the Z-API family (Z-API, PlugzAPI).
//!
//! A bot reads top to bottom: handlers, a [`Router`] of (filter, handler) routes, a [`Bot`]
//! that serves them. One `use` brings what a first bot needs:
//!
//! ```no_run
//! use hookbot::prelude::*;
//!
//! async fn echo(cx: Context) -> hookbot::Result<()> {
//!     if let Some(text) = cx.text() {
//!         cx.reply(text).quote().await?;
//!     }
//!     Ok(())
//! }
//!
//! # async fn run() -> anyhow::Result<()> {
//! let router = Router::new().route(filter::incoming() & filter::content("text"), echo);
//! Bot::from_env(router)?.run().await?; // no gateway configured: a local sandbox
//! # Ok(()) }
//! ```
//!
//! One notification's path, a module each: the [`intake`] receives it (its webhook, or polling
//! the gateway's queue), [`event`] parses it, the backlog claims it once and keeps it in
//! the bot's [`store`], [`dispatch`] queues it per chat, the [`router`] and its [`filter`]s choose
//! the handler, [`conversation`] loads the person's state, [`context`] gives the handler its
//! replies, [`contacts`] caches look-ups, and a [`gateway`] client sends. The [`sandbox`]
//! emulates GREEN-API locally, with a web chat, and [`testing`] runs a bot on it inside a
//! test; [`bots`] holds the ready bots; [`metrics`] counts it all for `GET /metrics`. A bot
//! serves one gateway instance or several ([`instance`]), and its replicas share a store,
//! conversations and rate limits through Redis (`redis`, a default feature).
//!
//! The crate talks to a gateway through one trait, [`Gateway`](gateway::Gateway), with a
//! client per gateway in [`gateway`]. Requests are checked against the gateway's documented
//! rules before they are sent, rate-limited per instance, and retried when the failure is
//! transient; every failure is one typed [`Error`].

#![warn(missing_docs)]

pub mod bot;
pub mod bots;
pub mod config;
pub mod contacts;
pub mod context;
pub mod conversation;
pub mod dedupe;
pub mod dispatch;
pub mod durable;
pub mod event;
pub mod filter;
pub mod gateway;
pub mod instance;
pub mod intake;
pub mod memo;
pub mod metrics;
pub mod prelude;
#[cfg(feature = "redis")]
pub mod redis;
pub mod reply;
pub mod router;
pub mod sandbox;
pub mod server;
pub mod store;
pub mod takeover;
pub mod testing;

mod backlog;
mod backoff;
mod contact;
mod error;
mod fold;
mod hashing;
mod id;
mod secret;
mod shutdown;

pub use bot::Bot;
pub use contact::{Contact, ContactCard, ContactInfo, ContactKind, PeerKind};
pub use context::Context;
pub use error::{BoxError, Error, Result, Rule, ValidationError};
pub use event::{
    Content, DeliveryStatus, Direction, Event, EventKind, Message, MessageStatus, ParseError,
    RawJson, SharedContact,
};
pub use id::{ChatId, MessageId};
pub use memo::Memo;
pub use router::Router;
pub use secret::Secret;
pub use shutdown::shutdown_signal;

/// The README's examples, compiled as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
