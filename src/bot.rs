//! A bot: a router, the gateway instances it serves (or a local sandbox), how notifications
//! come in and where they wait, behind one HTTP server. It reads top to bottom: build the
//! router, build the bot, run it.
//!
//! ```no_run
//! use hookbot::prelude::*;
//! use hookbot::gateway::GreenApi;
//!
//! async fn echo(cx: Context) -> hookbot::Result<()> {
//!     if let Some(text) = cx.text() {
//!         cx.reply(text).await?;
//!     }
//!     Ok(())
//! }
//!
//! # async fn run() -> anyhow::Result<()> {
//! let router = Router::new().route(filter::incoming(), echo);
//! Bot::builder(router)
//!     .gateway(GreenApi::whatsapp("https://7105.api.greenapi.com", "1101000001", "token").build()?)
//!     .webhook_token("webhook-secret")
//!     .listen("0.0.0.0:8080".parse()?)
//!     .run()
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! A bot binary takes all of that from the environment (`HOOKBOT_*`, see
//! [`Config`](crate::config::Config)); with no gateway configured it runs on a local
//! [`Sandbox`]:
//!
//! ```no_run
//! # use hookbot::prelude::*;
//! # async fn run(router: Router) -> anyhow::Result<()> {
//! Bot::from_env(router)?.run().await?;
//! # Ok(()) }
//! ```
//!
//! Handlers that share a state get it with [`state`](BotBuilder::state); a bot that cannot be
//! reached from outside polls the gateway's queue instead
//! ([`Intake::Polling`](crate::intake::Intake::Polling)); several replicas share a
//! [`Store`](crate::store::Store) in Redis.

mod builder;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::backlog::Backlog;
use crate::contacts::ContactBook;
use crate::dispatch::DrainReport;
use crate::error::{Error, Result};
use crate::gateway::Gateway;
use crate::instance::{Instances, setup};
use crate::intake::Receiver;
use crate::sandbox::{Sandbox, listen_error};
use crate::server::ServerSettings;

pub(crate) use builder::polling_unsupported;
pub use builder::{BotBuilder, GivenState, NoState};

/// Where a bot listens when told nothing else: `127.0.0.1:8080`.
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::V4(std::net::SocketAddrV4::new(
    std::net::Ipv4Addr::LOCALHOST,
    8080,
));

/// A bot ready to serve: its intake (with the backlog and dispatcher behind it), its instances
/// and its HTTP routes. Build it with [`Bot::builder`] or [`Bot::from_env`].
pub struct Bot {
    intake: Receiver,
    backlog: Arc<dyn Backlog>,
    instances: Instances,
    routes: axum::Router,
    listen: Listen,
    server: ServerSettings,
    sandbox: Option<Sandbox>,
    /// Ends timed-out conversations while the bot serves.
    timeouts: Option<Background>,
}

/// Work the bot runs beside its intake while it serves.
type Background = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Where [`Bot::run`] listens: an address to bind, or a socket bound already (a bot on a
/// sandbox binds when built, because the sandbox's URLs need the port).
enum Listen {
    Address(SocketAddr),
    Bound(std::net::TcpListener),
}

impl Bot {
    /// The bot's HTTP surface, to serve alone or merge into an application's own axum router:
    /// `POST /webhook`, `GET /healthz` and `GET /metrics`; with the polling intake no
    /// `POST /webhook`. Prefer [`BotBuilder::routes`] to serve an application's routes beside
    /// the bot's: a bot served only through this router does not start its store's own work
    /// (a shared queue's consumer, the durable store's replay of what a crash left), does not
    /// end idle conversations unless its
    /// [`conversation_timeouts`](Bot::conversation_timeouts) are spawned, and does not drain
    /// at shutdown.
    pub fn router(&self) -> axum::Router {
        self.intake.router()
    }

    /// The work that ends idle conversations and calls the
    /// [timeout hook](BotBuilder::on_conversation_timeout); `None` for a bot without
    /// conversations, or once taken. [`run`](Bot::run) and [`serve`](Bot::serve) spawn it
    /// themselves; a bot served through [`router`](Bot::router) spawns it with
    /// `tokio::spawn` (it runs until aborted).
    pub fn conversation_timeouts(&mut self) -> Option<impl Future<Output = ()> + Send + 'static> {
        self.timeouts.take()
    }

    /// The gateway the bot talks to (with several instances, the first one's).
    pub fn gateway(&self) -> &Arc<dyn Gateway> {
        self.instances.first().gateway()
    }

    /// The bot's contact book (with several instances, the first one's).
    pub fn contacts(&self) -> &ContactBook {
        self.instances.first().contacts()
    }

    /// The instances the bot serves.
    pub fn instances(&self) -> &Instances {
        &self.instances
    }

    /// The sandbox the bot runs on, when it runs on one.
    pub fn sandbox(&self) -> Option<&Sandbox> {
        self.sandbox.as_ref()
    }

    /// The address the bot listens on, when its socket is bound already (a bot on a sandbox
    /// binds when built).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        match &self.listen {
            Listen::Bound(listener) => listener.local_addr().ok(),
            Listen::Address(_) => None,
        }
    }

    /// Listens on the bot's address and serves until SIGINT or SIGTERM (polling the gateway,
    /// with the polling intake); then stops intake and handles what was accepted. On a sandbox
    /// it prints the web chat's URL.
    pub async fn run(self) -> Result<DrainReport> {
        self.run_until(crate::shutdown::shutdown_signal()).await
    }

    /// Like [`run`](Bot::run), until `shutdown` resolves instead of a signal.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<DrainReport> {
        let listener = self.listen.bind().await?;
        let address = listener.local_addr().map_err(Error::server)?;
        for instance in self.instances.iter() {
            tracing::info!(gateway = %instance.kind(), instance = instance.label(), "serving");
        }
        tracing::info!(intake = self.intake.name(), "listening on http://{address}");
        if self.sandbox.is_some() {
            println!("hookbot sandbox: no gateway configured, so the bot runs on a local one.");
            println!("Open http://{address}/ to chat with the bot.");
        }
        self.serve_on(listener, shutdown).await
    }

    /// Serves on `listener` (and polls, with the polling intake) until `shutdown` resolves;
    /// then stops intake and handles what was accepted. A bot on a sandbox serves on the
    /// socket it bound: use [`run`](Bot::run) or [`run_until`](Bot::run_until) for it.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<DrainReport> {
        if let (Some(_), Ok(address)) = (&self.sandbox, listener.local_addr()) {
            return Err(listen_error(
                address,
                &std::io::Error::other(
                    "a bot on a sandbox serves on the socket it bound when built: use run or run_until",
                ),
            ));
        }
        self.serve_on(listener, shutdown).await
    }

    async fn serve_on(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<DrainReport> {
        self.backlog.start().await?;
        let app = self.router().merge(self.routes);
        let timeouts = self.timeouts.map(tokio::spawn);
        if matches!(self.intake, Receiver::Webhook(_)) {
            tokio::spawn(setup::point_at_bot(self.instances.clone()));
        }
        let served = self
            .intake
            .serve((app, self.server), listener, shutdown, self.backlog)
            .await;
        if let Some(timeouts) = timeouts {
            timeouts.abort();
        }
        served.map_err(Error::server)
    }
}

impl Listen {
    /// A tokio listener on the address, or on the socket bound already.
    async fn bind(&self) -> Result<TcpListener> {
        match self {
            Listen::Address(address) => TcpListener::bind(address)
                .await
                .map_err(|error| listen_error(*address, &error)),
            Listen::Bound(listener) => listener
                .try_clone()
                .and_then(TcpListener::from_std)
                .map_err(Error::server),
        }
    }
}
