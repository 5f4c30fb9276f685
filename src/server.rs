//! The HTTP server of a bot and of the sandbox: hyper-util's server with deadlines for slow
//! peers and a cap on connections, so that a client sending half a request, or holding many
//! connections open, cannot stall the bot or lock the gateway out.
//!
//! | limit | default | what happens past it |
//! |---|---|---|
//! | [`header_read_timeout`](ServerSettings::header_read_timeout) | 10 s | a request's headers not read in time, from the moment the connection opens or its previous answer was sent (so an idle keep-alive connection too): the connection is closed |
//! | [`body_timeout`](ServerSettings::body_timeout) | 30 s | a body that sends nothing for that long: the request fails (the webhook answers 408) and the connection is closed |
//! | [`max_connections`](ServerSettings::max_connections) | 10 000 | further connections wait in the listen queue until one closes |
//!
//! It speaks HTTP/1.1, which the gateways post with and a TLS proxy in front speaks to the bot.
//! (Serving HTTP/2 too means sniffing each connection's first bytes, which hyper-util does with
//! no deadline: a connection that sends nothing would then hold its slot for ever.)
//!
//! ```no_run
//! use std::time::Duration;
//! use hookbot::server::{ServerSettings, serve};
//!
//! # async fn run(app: axum::Router) -> std::io::Result<()> {
//! let settings = ServerSettings::new().header_read_timeout(Duration::from_secs(5));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! serve(listener, app, settings, hookbot::shutdown_signal()).await
//! # }
//! ```

use std::collections::HashMap;
use std::fmt;
use std::future::{Future, poll_fn};
use std::io;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulConnection;
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};
use tokio::task::{self, JoinSet};

use body_timeout::BodyTimeout;

mod body_timeout;

/// How long a request's headers may take to arrive, by default.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a request body may send nothing, by default.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// How many connections are served at once, by default.
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;

/// How long open connections get to finish once the server stops; then they are cut.
const STOP_GRACE: Duration = Duration::from_secs(2);
/// How long the server pauses after the system refused a connection (out of file
/// descriptors), before accepting again.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

/// The server's deadlines and its connection cap. Give it to
/// [`BotBuilder::server`](crate::bot::BotBuilder::server); bots read it from
/// `HOOKBOT_HEADER_READ_TIMEOUT`, `HOOKBOT_BODY_TIMEOUT` (seconds) and
/// `HOOKBOT_MAX_CONNECTIONS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct ServerSettings {
    header_read_timeout: Duration,
    body_timeout: Duration,
    max_connections: usize,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

impl ServerSettings {
    /// Headers within 10 s, bodies never silent for 30 s, 10 000 connections.
    pub fn new() -> Self {
        Self::default()
    }

    /// How long a request's headers may take to arrive (at least 1 ms); an HTTP/1 connection
    /// kept alive is closed when no next request's headers arrive within it.
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// How long a request body may send nothing (at least 1 ms); past it the request fails and
    /// its connection is closed.
    pub fn body_timeout(mut self, timeout: Duration) -> Self {
        self.body_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// How many connections are served at once (at least 1); more wait in the system's listen
    /// queue until one closes.
    pub fn max_connections(mut self, connections: usize) -> Self {
        self.max_connections = connections.max(1);
        self
    }

    /// A connection builder for HTTP/1.1 with these deadlines.
    fn connection_builder(&self) -> auto::Builder<TokioExecutor> {
        let mut builder = auto::Builder::new(TokioExecutor::new()).http1_only();
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(self.header_read_timeout)
            .keep_alive(true);
        builder
    }
}

/// Serves `app` on `listener` within `settings` until `shutdown` resolves; then stops
/// accepting, gives open connections a moment to finish their requests, and closes them.
///
/// # Errors
///
/// None today: a connection the system refused is logged and the server goes on.
pub async fn serve(
    listener: TcpListener,
    app: axum::Router,
    settings: ServerSettings,
    shutdown: impl Future<Output = ()> + Send,
) -> io::Result<()> {
    let app = BodyTimeout::new(app, settings.body_timeout);
    let builder = settings.connection_builder();
    let slots = Arc::new(Semaphore::new(settings.max_connections));
    let mut connections = Connections::default();
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            () = &mut shutdown => break,
            slot = slots.clone().acquire_owned() => slot.expect("the connection semaphore is never closed"),
        };
        let stream = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    pause_after(&error).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let connection = builder
            .serve_connection(TokioIo::new(stream), app.clone())
            .into_owned();
        connections.serve(connection, slot);
    }
    drop(listener);
    connections.close().await;
    Ok(())
}

/// The open connections: each one's task, and its stop signal.
#[derive(Default)]
struct Connections {
    tasks: JoinSet<()>,
    /// Each open connection's stop signal, by its task's id: dropped, it tells the
    /// connection to stop.
    stops: HashMap<task::Id, oneshot::Sender<()>>,
}

impl Connections {
    /// Serves `connection` in a task of its own, holding its `slot` until it closes; forgets
    /// the connections that closed meanwhile.
    fn serve<C>(&mut self, connection: C, slot: OwnedSemaphorePermit)
    where
        C: GracefulConnection + Send + 'static,
        C::Error: fmt::Display,
    {
        let (stop, stopped) = oneshot::channel();
        let task = self.tasks.spawn(async move {
            if let Err(error) = serve_until_stopped(connection, stopped).await {
                tracing::debug!(%error, "connection closed with an error");
            }
            drop(slot);
        });
        self.stops.insert(task.id(), stop);
        while let Some(closed) = self.tasks.try_join_next_with_id() {
            let id = closed.map_or_else(|error| error.id(), |(id, ())| id);
            self.stops.remove(&id);
        }
    }

    /// Tells every connection to stop, gives them [`STOP_GRACE`] to finish the requests in
    /// hand, and cuts those still open.
    async fn close(mut self) {
        self.stops.clear();
        let closed = async { while self.tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(STOP_GRACE, closed).await.is_err() {
            tracing::debug!(
                open = self.tasks.len(),
                "connections still open after the grace period; closed"
            );
        }
        self.tasks.shutdown().await;
    }
}

/// Serves `connection` until it closes; once `stop` resolves (its sender sent or dropped), it
/// finishes the request in hand, answers it and closes.
///
/// Each connection has a signal of its own: a wake-up of one connection reads only its own
/// signal. (hyper-util's `GracefulShutdown` and axum's serve share one watch channel among
/// every connection, whose wait locks the channel's one mutex at each wake-up of each
/// connection: a line every core writes, twice per request.)
async fn serve_until_stopped<C: GracefulConnection>(
    connection: C,
    mut stop: oneshot::Receiver<()>,
) -> C::Output {
    let mut connection = pin!(connection);
    let mut stopping = false;
    poll_fn(|cx| {
        if !stopping && Pin::new(&mut stop).poll(cx).is_ready() {
            stopping = true;
            connection.as_mut().graceful_shutdown();
        }
        connection.as_mut().poll(cx)
    })
    .await
}

/// Waits a moment after an accept error that is the system's (out of file descriptors), so
/// that the loop does not spin; a peer's reset needs no pause.
async fn pause_after(error: &io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        error.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::error!(%error, "could not accept a connection");
    tokio::time::sleep(ACCEPT_PAUSE).await;
}
