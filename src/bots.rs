//! The ready bots: each is a router (with its state) that the binaries in `bots/` run, and that a
//! program of your own can run, mount or extend.
//!
//! - [`contact_card`]: a contact directory: `contact <name>` answers with the best match's
//!   contact card, quoting the request.
//! - [`auto_reply`]: the first private message of a chat gets a greeting by name and a contact
//!   card to reach you.
//! - [`echo`]: answers each text with the same text.

pub mod auto_reply;
pub mod contact_card;
pub mod echo;

/// Logs to standard error at `info` (or as `RUST_LOG` says), for the bots' binaries.
#[cfg(feature = "bots")]
pub fn init_logging() {
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    tracing_subscriber::fmt().with_env_filter(filter).init();
}
