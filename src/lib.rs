//! hookbot: chat bots behind hosted messaging gateways — GREEN-API (WhatsApp, MAX) and the
//! Z-API family (Z-API, PlugzAPI).
//!
//! A bot reads top to bottom: handlers, a [`Router`](router::Router) of (filter, handler)
//! routes, a [`Bot`](bot::Bot) that serves them.
//!
//! ```no_run
//! use hookbot::{bot::Bot, context::Context, filter, router::Router};
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
//! Bot::from_env(router)?.build().run().await?; // no gateway configured: a local sandbox
//! # Ok(()) }
//! ```
//!
//! One notification's path, a module each: [`webhook`] (or [`polling`]) receives it, [`event`]
//! parses it, [`dedupe`] claims it once, [`dispatch`] queues it per chat, [`router`] and
//! [`filter`] choose the handler, [`conversation`] loads the person's state, [`context`] gives
//! the handler its replies, [`contacts`] caches look-ups, and a [`gateway`] client sends. The
//! [`sandbox`] emulates GREEN-API locally, with a web chat, and [`testing`] runs a bot on it
//! inside a test; [`bots`] holds the ready bots; [`metrics`] counts it all for `GET /metrics`.
//! A bot serves one gateway instance or several ([`instance`]), and its replicas share a queue,
//! claims, conversations and rate limits through Redis (`redis`, a default feature).
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
pub mod event;
pub mod filter;
pub mod gateway;
pub mod instance;
pub mod metrics;
pub mod polling;
#[cfg(feature = "redis")]
pub mod redis;
pub mod router;
pub mod sandbox;
pub mod store;
pub mod testing;
pub mod webhook;

mod contact;
mod error;
mod id;
mod intake;
mod secret;

pub use contact::{Contact, ContactCard, ContactInfo, ContactKind};
pub use error::{Error, Result, Rule, ValidationError};
pub use event::{
    Content, DeliveryStatus, Direction, Event, EventKind, Message, MessageStatus, ParseError,
    RawJson, SharedContact,
};
pub use id::{ChatId, MessageId};
pub use secret::Secret;

/// The README's examples, compiled as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
