//! hookbot: chat bots behind hosted messaging gateways — GREEN-API (WhatsApp, MAX) and the
//! Z-API family (Z-API, PlugzAPI).
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
pub mod polling;
pub mod router;
pub mod sandbox;
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
    SharedContact,
};
pub use id::{ChatId, MessageId};
pub use secret::Secret;

/// The README's examples, compiled as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
