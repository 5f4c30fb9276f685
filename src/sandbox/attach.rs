//! A bot on a sandbox: one local port serves the bot's webhook, the emulator's GREEN-API methods
//! and its web chat, and the bot's client talks to the emulator over real HTTP, exactly as it
//! would talk to GREEN-API. [`BotBuilder::sandbox`](crate::bot::BotBuilder::sandbox) and the
//! [test kit](crate::testing) both attach a bot this way.

use std::net::SocketAddr;
use std::sync::Arc;

use super::{Platform, Sandbox, SandboxBuilder};
use crate::error::{Error, Result};
use crate::gateway::{Gateway, GreenApi};
use crate::secret::Secret;

/// A sandbox ready for a bot: the sandbox, the bot's client of it, the socket both are
/// served on, and the token the sandbox's webhook calls carry.
pub(crate) struct Attached {
    pub(crate) sandbox: Sandbox,
    pub(crate) gateway: Arc<dyn Gateway>,
    pub(crate) listener: std::net::TcpListener,
    pub(crate) webhook_token: Secret,
}

impl SandboxBuilder {
    /// Binds `listen` now (port 0 picks a free one: the sandbox's URLs need the port), builds
    /// the sandbox posting its notifications to the bot's `POST /webhook` with `webhook_token`
    /// (a random one when `None`) — or, for a bot that `polls`, keeping them queued — and the
    /// bot's client of it.
    pub(crate) fn attach(
        self,
        listen: SocketAddr,
        polls: bool,
        webhook_token: Option<Secret>,
    ) -> Result<Attached> {
        let listener = bind_now(listen)?;
        let address = listener
            .local_addr()
            .map_err(|error| listen_error(listen, &error))?;
        let base = format!("http://{address}");
        let webhook_token = webhook_token.unwrap_or_else(random_token);
        let client = self.client.clone();
        let builder = if polls {
            self
        } else {
            self.webhook(format!("{base}/webhook"), Some(webhook_token.clone()))
        };
        let sandbox = builder.build();
        let (instance, token) = (sandbox.instance(), sandbox.token().clone());
        let gateway = match sandbox.platform() {
            Platform::Max => GreenApi::max(&base, instance, token),
            Platform::Telegram => GreenApi::telegram(&base, instance, token),
            Platform::WhatsApp => GreenApi::whatsapp(&base, instance, token),
        }
        .settings(client)
        .build()?;
        Ok(Attached {
            sandbox,
            gateway: Arc::new(gateway),
            listener,
            webhook_token,
        })
    }
}

/// Binds `address` now, for a tokio listener later.
fn bind_now(address: SocketAddr) -> Result<std::net::TcpListener> {
    let listener =
        std::net::TcpListener::bind(address).map_err(|error| listen_error(address, &error))?;
    listener
        .set_nonblocking(true)
        .map_err(|error| listen_error(address, &error))?;
    Ok(listener)
}

/// Why the bot cannot listen on `address`.
pub(crate) fn listen_error(address: SocketAddr, error: &std::io::Error) -> Error {
    Error::Config {
        variable: "HOOKBOT_LISTEN",
        reason: format!("cannot listen on {address}: {error}"),
    }
}

/// A fresh webhook token for a sandbox whose owner set none.
fn random_token() -> Secret {
    Secret::new(format!("{:032x}", rand::random::<u128>()))
}
