//! The Redis backend: what several replicas of one bot share, kept in Redis — the queue of
//! accepted notifications, the claims against duplicates, conversation states and the
//! gateways' rate limits. The embedded in-memory parts stay the default; a bot switches with
//! one line, or with `HOOKBOT_REDIS_URL`.
//!
//! [`Redis`] is the connection every part shares: one multiplexed connection that reconnects
//! by itself, and a namespace that prefixes every key the bot writes.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::error::{Error, Result};
use crate::secret::Secret;

/// The namespace of a bot's keys by default: every key starts with `hookbot:`.
pub const DEFAULT_NAMESPACE: &str = "hookbot";
/// How long connecting to Redis may take before the command fails.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(2);
/// How long one command may wait for Redis's answer before it fails.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);

/// A connection to one Redis server, shared by every part of the backend. Cheap to clone;
/// clones share the connection.
///
/// It connects on first use and reconnects after a failure by itself, so a bot starts while
/// Redis is down and works again when Redis is back; meanwhile each command fails within
/// a few seconds with a typed error.
#[derive(Clone)]
pub struct Redis {
    client: redis::Client,
    connection: ConnectionManager,
    namespace: Arc<str>,
}

impl Redis {
    /// A connection to the server at `url` (`redis://[:password@]host[:port][/db]`), made on
    /// first use. Fails only when the URL cannot be read; the error never repeats the URL
    /// (it may hold a password).
    pub fn open(url: impl Into<Secret>) -> Result<Self> {
        let url = url.into();
        let client = redis::Client::open(url.expose()).map_err(|error| Error::Config {
            variable: "HOOKBOT_REDIS_URL",
            reason: format!("not a Redis URL: {}", error.category()),
        })?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECTION_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT));
        let connection = ConnectionManager::new_lazy_with_config(client.clone(), config)
            .map_err(|error| Error::Config {
                variable: "HOOKBOT_REDIS_URL",
                reason: error.category().to_owned(),
            })?;
        Ok(Self {
            client,
            connection,
            namespace: DEFAULT_NAMESPACE.into(),
        })
    }

    /// Prefixes every key with `namespace` instead of `hookbot`: two bots sharing one Redis
    /// need different namespaces; replicas of one bot need the same.
    #[must_use]
    pub fn namespace(mut self, namespace: &str) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// The shared multiplexed connection, for commands that answer at once.
    pub(crate) fn connection(&self) -> ConnectionManager {
        self.connection.clone()
    }

    /// The client, to open a connection of one's own (a blocking read must not hold up the
    /// shared connection's other commands).
    pub(crate) fn client(&self) -> &redis::Client {
        &self.client
    }

    /// The key `{namespace}:{name}`.
    pub(crate) fn key(&self, name: impl fmt::Display) -> String {
        format!("{}:{name}", self.namespace)
    }
}

impl fmt::Debug for Redis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redis")
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

/// A Redis error as the crate's [`Error::Storage`], for the parts whose callers expect one.
pub(crate) fn storage_error(error: redis::RedisError) -> Error {
    Error::storage(Box::new(error))
}
