//! A bot's settings from the environment (`HOOKBOT_*`), as DESIGN.md's contract lists them,
//! `HOOKBOT_INTAKE` (`webhook`, the default, or `polling`: see [`Intake`]), and
//! `HOOKBOT_INSTANCES` (an instances file for a bot of several numbers: see
//! [`instance`](crate::instance)), `HOOKBOT_STORE`, `HOOKBOT_DATA_DIR` and
//! `HOOKBOT_DURABILITY` (where the bot keeps what it accepted: see [`StoreChoice`]); and the
//! bot they describe: [`Bot::from_env`], or
//! [`BotBuilder::config`] for a [`Config`] read or made elsewhere.
//!
//! ```no_run
//! use hookbot::config::{Config, GatewayConfig};
//!
//! # fn run() -> hookbot::Result<()> {
//! let config = Config::from_env()?;
//! match config.gateway.connect()? {
//!     Some(gateway) => println!("sending through {} instance {}", gateway.kind(), gateway.instance()),
//!     None => println!("no gateway configured: sandbox mode"),
//! }
//! # Ok(()) }
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::bot::{Bot, BotBuilder, DEFAULT_LISTEN, NoState};
use crate::conversation::ConversationState;
use crate::dispatch::DispatchSettings;
use crate::durable::{Durability, StoreSettings};
use crate::error::{Error, Result};
use crate::gateway::{
    ClientConfig, ClientSettings, DEFAULT_ZAPI_URL, GatewayKind, SharedLimits,
    default_green_api_url,
};
use crate::instance::setup::{PUBLIC_URL_RULE, parse_public_url};
use crate::instance::{Instance, InstanceConfig, Instances};
use crate::intake::Intake;
use crate::router::Router;
use crate::sandbox::{Platform, Sandbox};
use crate::secret::Secret;
use crate::server::ServerSettings;
use crate::store::Store;

pub use crate::gateway::GatewayConfig;

/// A bot's settings.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// Which gateway, with its credentials.
    pub gateway: GatewayConfig,
    /// The secret the gateway presents on each webhook call (`HOOKBOT_WEBHOOK_TOKEN`).
    pub webhook_token: Option<Secret>,
    /// Whether a webhook may take notifications without a token
    /// (`HOOKBOT_ALLOW_ANONYMOUS_WEBHOOK=yes-i-understand`, for local experiments only; see
    /// [`BotBuilder::dangerously_allow_anonymous_webhook`]).
    pub allow_anonymous_webhook: bool,
    /// Where the bot's HTTP server listens (`HOOKBOT_LISTEN`, default `127.0.0.1:8080`).
    pub listen: SocketAddr,
    /// How notifications come in (`HOOKBOT_INTAKE`: `webhook`, the default, or `polling`,
    /// each with its default settings). Polling needs GREEN-API or the sandbox.
    pub intake: Intake,
    /// The instances of an instances file (`HOOKBOT_INSTANCES`, see [`InstanceConfig`]);
    /// empty without one. When there are some, the bot serves them, and `gateway` is
    /// [`GatewayConfig::Sandbox`] (unused).
    pub instances: Vec<InstanceConfig>,
    /// The Redis that the bot's replicas share (`HOOKBOT_REDIS_URL`, a secret: it may hold a
    /// password): when set, the bot's [store](BotBuilder::store) is a queue there, and its
    /// clients share their rate limits through it.
    pub redis_url: Option<Secret>,
    /// The prefix of every key the bot writes in Redis (`HOOKBOT_REDIS_NAMESPACE`; default
    /// `hookbot`): two bots sharing one Redis need different ones, replicas of one bot the
    /// same.
    pub redis_namespace: Option<String>,
    /// The messenger the local sandbox emulates when no gateway is set
    /// (`HOOKBOT_SANDBOX_PLATFORM`: `whatsapp`, the default, `max` or `telegram`).
    pub sandbox_platform: Platform,
    /// The HTTP server's deadlines and connection cap (`HOOKBOT_HEADER_READ_TIMEOUT`,
    /// `HOOKBOT_BODY_TIMEOUT` in seconds, `HOOKBOT_MAX_CONNECTIONS`).
    pub server: ServerSettings,
    /// How events are handled (`HOOKBOT_HANDLER_TIMEOUT` in seconds, `HOOKBOT_CHAT_CAPACITY`;
    /// the rest at its defaults).
    pub dispatch: DispatchSettings,
    /// Where a bot without Redis keeps what it accepted (`HOOKBOT_STORE`).
    pub store: StoreChoice,
    /// The durable store's directory (`HOOKBOT_DATA_DIR`, default [`DEFAULT_DATA_DIR`]),
    /// created at start.
    pub data_dir: PathBuf,
    /// How durable the durable store's commits are (`HOOKBOT_DURABILITY`: `process`, the
    /// default, or `power-loss`).
    pub durability: Durability,
    /// The gateway clients' time-out, retries and rate limits (`HOOKBOT_TIMEOUT`,
    /// `HOOKBOT_RETRIES`, `HOOKBOT_SEND_RATE`, `HOOKBOT_LOOKUP_RATE`,
    /// `HOOKBOT_NOTIFICATION_RATE`); an instances file's entry may set its own.
    pub client: ClientConfig,
    /// The bot's public base URL (`HOOKBOT_PUBLIC_URL`, e.g. `https://bot.example.org/hooks`):
    /// when set, a webhook bot points its instances' notifications at `<url>/webhook` on start
    /// (see [`BotBuilder::public_url`]); an instances file's entry may set its own.
    pub public_url: Option<url::Url>,
}

/// The durable store's directory when `HOOKBOT_DATA_DIR` is unset, in the working directory.
pub const DEFAULT_DATA_DIR: &str = "hookbot-data";

/// Where a bot without `HOOKBOT_REDIS_URL` keeps its accepted notifications, claims and
/// conversations (`HOOKBOT_STORE`); see [`store`](crate::store).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum StoreChoice {
    /// Unset: the durable store for a bot on a real gateway, memory on the local sandbox.
    #[default]
    Default,
    /// `durable`: the [embedded durable store](crate::durable) in [`Config::data_dir`], on the
    /// sandbox too.
    Durable,
    /// `memory`: in this process; what was accepted and not handled is lost if it dies.
    Memory,
}

/// `HOOKBOT_GATEWAY`'s name for the local sandbox, which is no [`GatewayKind`].
const SANDBOX: &str = "sandbox";

/// The variables of a single gateway, which an instances file replaces.
const SINGLE_INSTANCE_VARIABLES: [&str; 6] = [
    "HOOKBOT_GATEWAY",
    "HOOKBOT_API_URL",
    "HOOKBOT_INSTANCE",
    "HOOKBOT_TOKEN",
    "HOOKBOT_WEBHOOK_TOKEN",
    "HOOKBOT_CLIENT_TOKEN",
];

impl Config {
    /// Reads the `HOOKBOT_*` variables. With neither `HOOKBOT_GATEWAY` nor credentials set, the
    /// gateway is [`GatewayConfig::Sandbox`].
    pub fn from_env() -> Result<Self> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `var` (the environment, or a map in tests). Empty values
    /// count as unset.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let var = |name: &str| {
            var(name)
                .map(|value| value.trim().to_owned())
                .filter(|value| !value.is_empty())
        };
        let listen = match var("HOOKBOT_LISTEN") {
            Some(listen) => listen.parse().map_err(|_| Error::Config {
                variable: "HOOKBOT_LISTEN",
                reason: format!(
                    "must be an address and port such as {DEFAULT_LISTEN}, is {listen:?}"
                ),
            })?,
            None => DEFAULT_LISTEN,
        };
        let instances = match var("HOOKBOT_INSTANCES") {
            Some(path) => instances_file(&var, &path)?,
            None => Vec::new(),
        };
        let gateway = if instances.is_empty() {
            gateway_from_vars(&var)?
        } else {
            GatewayConfig::Sandbox
        };
        let intake = match var("HOOKBOT_INTAKE").map(|name| name.to_ascii_lowercase()) {
            None => Intake::webhook(),
            Some(name) if name == "webhook" => Intake::webhook(),
            Some(name) if name == "polling" => Intake::polling(),
            Some(other) => {
                return Err(Error::Config {
                    variable: "HOOKBOT_INTAKE",
                    reason: format!("must be webhook or polling, is {other:?}"),
                });
            }
        };
        let sandbox_platform = match var("HOOKBOT_SANDBOX_PLATFORM") {
            Some(name) => name.parse().map_err(|unknown| Error::Config {
                variable: "HOOKBOT_SANDBOX_PLATFORM",
                reason: format!("{unknown}, is {name:?}"),
            })?,
            None => Platform::default(),
        };
        let zapi = matches!(gateway, GatewayConfig::ZApi { .. })
            || instances
                .iter()
                .any(|instance| instance.kind() == Some(GatewayKind::ZApi));
        if matches!(intake, Intake::Polling(_)) && zapi {
            return Err(crate::bot::polling_unsupported(GatewayKind::ZApi));
        }
        let (allow, yes) = crate::instance::ALLOW_ANONYMOUS;
        let allow_anonymous_webhook = match var(allow) {
            None => false,
            Some(value) if value == yes => true,
            Some(_) => {
                return Err(Error::Config {
                    variable: allow,
                    reason: format!("takes only the value {yes}"),
                });
            }
        };
        let (server, dispatch) = limits(&var)?;
        let redis_url = var("HOOKBOT_REDIS_URL").map(Secret::new);
        let public_url = match var("HOOKBOT_PUBLIC_URL") {
            Some(text) => Some(parse_public_url(&text).ok_or_else(|| Error::Config {
                variable: "HOOKBOT_PUBLIC_URL",
                reason: format!("{PUBLIC_URL_RULE}, is {text:?}"),
            })?),
            None => None,
        };
        let public_urls = public_url.is_some()
            || instances
                .iter()
                .any(|instance| instance.public_url.is_some());
        if matches!(intake, Intake::Polling(_)) && public_urls {
            return Err(Error::Config {
                variable: "HOOKBOT_PUBLIC_URL",
                reason: "is for the webhook intake: a polling bot needs the instance's webhook URL empty (unset it, or the instances' public_url, or use HOOKBOT_INTAKE=webhook)".to_owned(),
            });
        }
        Ok(Self {
            store: store_choice(&var, redis_url.is_some())?,
            data_dir: var("HOOKBOT_DATA_DIR")
                .unwrap_or_else(|| DEFAULT_DATA_DIR.to_owned())
                .into(),
            durability: durability(&var)?,
            gateway,
            webhook_token: var("HOOKBOT_WEBHOOK_TOKEN").map(Secret::new),
            allow_anonymous_webhook,
            server,
            dispatch,
            listen,
            intake,
            instances,
            redis_url,
            redis_namespace: var("HOOKBOT_REDIS_NAMESPACE"),
            sandbox_platform,
            client: ClientConfig::from_vars(var)?,
            public_url,
        })
    }
}

/// The server's and the dispatcher's limits of the `HOOKBOT_*` variables, defaults for those
/// unset.
fn limits(var: &impl Fn(&str) -> Option<String>) -> Result<(ServerSettings, DispatchSettings)> {
    let mut server = ServerSettings::default();
    if let Some(timeout) = seconds(var, "HOOKBOT_HEADER_READ_TIMEOUT")? {
        server = server.header_read_timeout(timeout);
    }
    if let Some(timeout) = seconds(var, "HOOKBOT_BODY_TIMEOUT")? {
        server = server.body_timeout(timeout);
    }
    if let Some(connections) = count(var, "HOOKBOT_MAX_CONNECTIONS")? {
        server = server.max_connections(connections);
    }
    let mut dispatch = DispatchSettings::default();
    if let Some(timeout) = seconds(var, "HOOKBOT_HANDLER_TIMEOUT")? {
        dispatch = dispatch.handler_timeout(timeout);
    }
    if let Some(events) = count(var, "HOOKBOT_CHAT_CAPACITY")? {
        dispatch = dispatch.chat_capacity(events);
    }
    Ok((server, dispatch))
}

/// A duration of `variable`, in seconds (fractions allowed), from a millisecond to a day.
fn seconds(
    var: &impl Fn(&str) -> Option<String>,
    variable: &'static str,
) -> Result<Option<Duration>> {
    let Some(value) = var(variable) else {
        return Ok(None);
    };
    match value.parse::<f64>() {
        Ok(seconds) if (0.001..=86_400.0).contains(&seconds) => {
            Ok(Some(Duration::from_secs_f64(seconds)))
        }
        _ => Err(Error::Config {
            variable,
            reason: format!("must be a number of seconds from 0.001 to 86400, is {value:?}"),
        }),
    }
}

/// A positive whole number of `variable`.
fn count(var: &impl Fn(&str) -> Option<String>, variable: &'static str) -> Result<Option<usize>> {
    let Some(value) = var(variable) else {
        return Ok(None);
    };
    match value.parse::<usize>() {
        Ok(count) if count > 0 => Ok(Some(count)),
        _ => Err(Error::Config {
            variable,
            reason: format!("must be a whole number above 0, is {value:?}"),
        }),
    }
}

/// `HOOKBOT_STORE`, which a bot on Redis does not take.
fn store_choice(var: &impl Fn(&str) -> Option<String>, redis: bool) -> Result<StoreChoice> {
    let Some(name) = var("HOOKBOT_STORE") else {
        return Ok(StoreChoice::Default);
    };
    let reason = match name.to_ascii_lowercase().as_str() {
        _ if redis => "must not be set with HOOKBOT_REDIS_URL: the store is then Redis".to_owned(),
        "durable" => return Ok(StoreChoice::Durable),
        "memory" => return Ok(StoreChoice::Memory),
        _ => format!("must be durable or memory, is {name:?}"),
    };
    Err(Error::Config {
        variable: "HOOKBOT_STORE",
        reason,
    })
}

/// `HOOKBOT_DURABILITY`.
fn durability(var: &impl Fn(&str) -> Option<String>) -> Result<Durability> {
    match var("HOOKBOT_DURABILITY").map(|name| name.to_ascii_lowercase()) {
        None => Ok(Durability::Process),
        Some(name) if name == "process" => Ok(Durability::Process),
        Some(name) if name == "power-loss" => Ok(Durability::PowerLoss),
        Some(other) => Err(Error::Config {
            variable: "HOOKBOT_DURABILITY",
            reason: format!("must be process or power-loss, is {other:?}"),
        }),
    }
}

/// The instances of the file at `path`, once no single gateway's variable is set too.
fn instances_file(
    var: &impl Fn(&str) -> Option<String>,
    path: &str,
) -> Result<Vec<InstanceConfig>> {
    if let Some(variable) = SINGLE_INSTANCE_VARIABLES
        .into_iter()
        .find(|variable| var(variable).is_some())
    {
        return Err(Error::Config {
            variable,
            reason: "must not be set with HOOKBOT_INSTANCES: each instance's gateway, URL, id and tokens come from the instances file".to_owned(),
        });
    }
    InstanceConfig::read_file(path)
}

/// The gateway of the `HOOKBOT_*` variables.
fn gateway_from_vars(var: &impl Fn(&str) -> Option<String>) -> Result<GatewayConfig> {
    let has_credentials = var("HOOKBOT_INSTANCE").is_some() || var("HOOKBOT_TOKEN").is_some();
    let name = var("HOOKBOT_GATEWAY").unwrap_or_else(|| {
        if has_credentials {
            GatewayKind::GreenApiWhatsApp.as_str()
        } else {
            SANDBOX
        }
        .to_owned()
    });
    let required = |variable: &'static str| {
        var(variable).ok_or_else(|| Error::Config {
            variable,
            reason: format!("is required for HOOKBOT_GATEWAY={name}"),
        })
    };
    let green_api = |kind| -> Result<GatewayConfig> {
        Ok(GatewayConfig::GreenApi {
            kind,
            api_url: var("HOOKBOT_API_URL")
                .unwrap_or_else(|| default_green_api_url(kind).to_owned()),
            instance: required("HOOKBOT_INSTANCE")?,
            token: Secret::new(required("HOOKBOT_TOKEN")?),
        })
    };
    if name == SANDBOX {
        return Ok(GatewayConfig::Sandbox);
    }
    let kind = name
        .parse::<GatewayKind>()
        .map_err(|unknown| Error::Config {
            variable: "HOOKBOT_GATEWAY",
            reason: format!("{unknown}, or {SANDBOX}"),
        })?;
    match kind {
        GatewayKind::ZApi => Ok(GatewayConfig::ZApi {
            base_url: var("HOOKBOT_API_URL").unwrap_or_else(|| DEFAULT_ZAPI_URL.to_owned()),
            instance: required("HOOKBOT_INSTANCE")?,
            token: Secret::new(required("HOOKBOT_TOKEN")?),
            client_token: var("HOOKBOT_CLIENT_TOKEN").map(Secret::new),
        }),
        green_api_kind => green_api(green_api_kind),
    }
}

impl Bot {
    /// A bot of `router` as the environment describes it (`HOOKBOT_*`, see [`Config`]): its
    /// gateway, or the instances of `HOOKBOT_INSTANCES`, or with neither a local
    /// [`Sandbox`]; its webhook token, address and intake; its store: Redis when
    /// `HOOKBOT_REDIS_URL` is set, else on a real gateway the durable store in
    /// `HOOKBOT_DATA_DIR` (see [`StoreChoice`]). Give the handlers' state with [`state`](BotBuilder::state) if they take one.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] naming the variable at fault; [`Error::Storage`] naming the path
    /// when the durable store cannot be opened.
    pub fn from_env<S: Send + Sync + 'static, D: ConversationState>(
        router: Router<S, D>,
    ) -> Result<BotBuilder<S, D, NoState>> {
        Bot::builder(router).config(Config::from_env()?)
    }
}

impl<S: Send + Sync + 'static, D: ConversationState, St> BotBuilder<S, D, St> {
    /// Sets what `config` describes: the gateway (a client built with the clients' settings),
    /// or the instances (each entry's client settings over the environment's), or else a
    /// [`Sandbox`]; the webhook token, public URL, address and intake; the
    /// [store](BotBuilder::store) (the durable store, opened now, for a bot on a real gateway
    /// unless `HOOKBOT_STORE` says otherwise); and, with a Redis URL, the store and the
    /// clients' shared rate limits in Redis.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when a client or the Redis connection cannot be made from it;
    /// [`Error::Storage`] naming the path when the durable store cannot be opened (see
    /// [`Store::durable`]).
    pub fn config(self, config: Config) -> Result<Self> {
        let on_gateway =
            !config.instances.is_empty() || !matches!(config.gateway, GatewayConfig::Sandbox);
        let shared = shared_store(config.redis_url, config.redis_namespace.as_deref())?;
        let durable = match shared {
            Some(_) => None,
            None => durable_store(config.store, config.data_dir, config.durability, on_gateway)?,
        };
        let settings = config.client.apply(ClientSettings::default());
        let settings = match &shared {
            Some((_, limits)) => settings.with_shared_limits(limits.clone()),
            None => settings,
        };
        let mut builder = self
            .listen(config.listen)
            .intake(config.intake)
            .server(config.server)
            .dispatch(config.dispatch);
        if let Some(token) = config.webhook_token {
            builder = builder.webhook_token(token);
        }
        if config.allow_anonymous_webhook {
            builder = builder.dangerously_allow_anonymous_webhook();
        }
        if let Some(url) = config.public_url {
            builder = builder.public_url(url);
        }
        builder = if !config.instances.is_empty() {
            builder.instances(Instances::connect(&config.instances, &settings)?)
        } else if let Some(gateway) = config.gateway.connect_with(settings)? {
            builder.instances(Instance::new(gateway))
        } else {
            builder.sandbox(Sandbox::builder().platform(config.sandbox_platform))
        };
        Ok(match (shared, durable) {
            (Some((store, _)), _) | (None, Some(store)) => builder.store(store),
            (None, None) => builder,
        })
    }
}

/// The durable store in `directory`, opened, when `choice` asks for it (by default, for a bot
/// on a real gateway); `None` for memory. Logs where it is.
fn durable_store(
    choice: StoreChoice,
    directory: PathBuf,
    durability: Durability,
    on_gateway: bool,
) -> Result<Option<Store>> {
    let durable = match choice {
        StoreChoice::Durable => true,
        StoreChoice::Memory => false,
        StoreChoice::Default => on_gateway,
    };
    if !durable {
        return Ok(None);
    }
    let store = Store::durable_with(&directory, StoreSettings::new().durability(durability))?;
    let shown = std::path::absolute(&directory).unwrap_or(directory);
    tracing::info!(
        directory = %shown.display(),
        ?durability,
        "accepted notifications, claims and conversations are kept in the durable store"
    );
    Ok(Some(store))
}

/// The Redis of `HOOKBOT_REDIS_URL`, when set: the bot's store, and the rate limits its
/// clients share, in the namespace of `HOOKBOT_REDIS_NAMESPACE`. Without the redis feature, a
/// URL is refused.
fn shared_store(
    url: Option<Secret>,
    namespace: Option<&str>,
) -> Result<Option<(Store, Arc<dyn SharedLimits>)>> {
    let Some(url) = url else {
        return Ok(None);
    };
    #[cfg(feature = "redis")]
    return crate::redis::Redis::open_namespaced(url, namespace).map(|redis| {
        let limits: Arc<dyn SharedLimits> = Arc::new(redis.clone());
        Some((Store::from(redis), limits))
    });
    #[cfg(not(feature = "redis"))]
    {
        let _ = (url, namespace);
        Err(Error::Config {
            variable: "HOOKBOT_REDIS_URL",
            reason: "hookbot was built without its redis feature".to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_vars(|name| vars.get(name).cloned())
    }

    #[test]
    fn nothing_set_means_sandbox_on_the_default_address() {
        let config = config(&[]).unwrap();
        assert!(matches!(config.gateway, GatewayConfig::Sandbox));
        assert_eq!(config.listen, DEFAULT_LISTEN);
        assert!(config.gateway.connect().unwrap().is_none());
    }

    #[test]
    fn credentials_without_a_gateway_name_mean_green_api_whatsapp() {
        let config = config(&[
            ("HOOKBOT_INSTANCE", "1101000001"),
            ("HOOKBOT_TOKEN", "secret-token"),
        ])
        .unwrap();
        let gateway = config.gateway.connect().unwrap().unwrap();
        assert_eq!(gateway.kind(), GatewayKind::GreenApiWhatsApp);
        assert_eq!(gateway.instance(), "1101000001");
        assert!(!format!("{config:?}{gateway:?}").contains("secret-token"));
    }

    #[test]
    fn green_api_telegram_connects_a_telegram_client_on_telegrams_host_by_default() {
        let vars = [
            ("HOOKBOT_GATEWAY", "green-api-telegram"),
            ("HOOKBOT_INSTANCE", "4100000001"),
            ("HOOKBOT_TOKEN", "secret-token"),
        ];
        let config = config(&vars).unwrap();
        assert!(matches!(
            &config.gateway,
            GatewayConfig::GreenApi { kind: GatewayKind::GreenApiTelegram, api_url, .. }
                if api_url == crate::gateway::DEFAULT_GREEN_API_TELEGRAM_URL
        ));
        let gateway = config.gateway.connect().unwrap().unwrap();
        assert_eq!(gateway.kind(), GatewayKind::GreenApiTelegram);
        assert_eq!(gateway.capabilities().max_text_chars, 4096);

        let mut with_url = vars.to_vec();
        with_url.push(("HOOKBOT_API_URL", "https://7105.api.greenapi.com"));
        assert!(matches!(
            &self::config(&with_url).unwrap().gateway,
            GatewayConfig::GreenApi { api_url, .. } if api_url == "https://7105.api.greenapi.com"
        ));
    }

    #[test]
    fn the_sandbox_emulates_the_platform_asked_for() {
        assert_eq!(config(&[]).unwrap().sandbox_platform, Platform::WhatsApp);
        let telegram = config(&[("HOOKBOT_SANDBOX_PLATFORM", "telegram")]).unwrap();
        assert_eq!(telegram.sandbox_platform, Platform::Telegram);
        let error = config(&[("HOOKBOT_SANDBOX_PLATFORM", "viber")]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "configuration: HOOKBOT_SANDBOX_PLATFORM must be one of whatsapp, max, telegram, is \"viber\""
        );
    }

    #[test]
    fn zapi_takes_its_client_token() {
        let config = config(&[
            ("HOOKBOT_GATEWAY", "zapi"),
            ("HOOKBOT_API_URL", "https://api.plugzapi.com.br"),
            ("HOOKBOT_INSTANCE", "ABC123"),
            ("HOOKBOT_TOKEN", "tok"),
            ("HOOKBOT_CLIENT_TOKEN", "client"),
        ])
        .unwrap();
        assert!(matches!(
            &config.gateway,
            GatewayConfig::ZApi {
                client_token: Some(_),
                ..
            }
        ));
        assert_eq!(
            config.gateway.connect().unwrap().unwrap().kind(),
            GatewayKind::ZApi
        );
    }

    #[test]
    fn missing_and_malformed_variables_are_named() {
        let error = config(&[
            ("HOOKBOT_GATEWAY", "green-api-max"),
            ("HOOKBOT_INSTANCE", "1"),
        ])
        .unwrap_err();
        assert!(
            matches!(
                error,
                Error::Config {
                    variable: "HOOKBOT_TOKEN",
                    ..
                }
            ),
            "{error}"
        );
        let error = config(&[("HOOKBOT_GATEWAY", "telegram")]).unwrap_err();
        assert!(
            matches!(
                error,
                Error::Config {
                    variable: "HOOKBOT_GATEWAY",
                    ..
                }
            ),
            "{error}"
        );
        let error = config(&[("HOOKBOT_INTAKE", "push")]).unwrap_err();
        assert!(
            matches!(
                error,
                Error::Config {
                    variable: "HOOKBOT_INTAKE",
                    ..
                }
            ),
            "{error}"
        );
        let error = config(&[("HOOKBOT_LISTEN", "8080")]).unwrap_err();
        assert!(
            matches!(
                error,
                Error::Config {
                    variable: "HOOKBOT_LISTEN",
                    ..
                }
            ),
            "{error}"
        );
    }

    #[test]
    fn intake_is_webhook_unless_polling_is_asked_for() {
        assert_eq!(config(&[]).unwrap().intake, Intake::webhook());
        assert_eq!(
            config(&[("HOOKBOT_INTAKE", "webhook")]).unwrap().intake,
            Intake::webhook()
        );
        assert_eq!(
            config(&[("HOOKBOT_INTAKE", "Polling")]).unwrap().intake,
            Intake::polling()
        );
        let green_api = config(&[
            ("HOOKBOT_INTAKE", "polling"),
            ("HOOKBOT_GATEWAY", "green-api-max"),
            ("HOOKBOT_INSTANCE", "3100000001"),
            ("HOOKBOT_TOKEN", "tok"),
        ])
        .unwrap();
        assert!(matches!(green_api.intake, Intake::Polling(_)));
    }

    #[test]
    fn the_redis_url_is_read_and_kept_secret() {
        assert!(config(&[]).unwrap().redis_url.is_none());
        let config = config(&[(
            "HOOKBOT_REDIS_URL",
            "redis://:hunter2@redis.internal:6379/2",
        )])
        .unwrap();
        assert_eq!(
            config.redis_url.as_ref().map(Secret::expose),
            Some("redis://:hunter2@redis.internal:6379/2")
        );
        assert!(!format!("{config:?}").contains("hunter2"));
        assert_eq!(config.redis_namespace, None);
    }

    #[test]
    fn an_unknown_gateway_is_refused_without_repeating_the_value() {
        let error = config(&[("HOOKBOT_GATEWAY", "tok-3f9a-secret")]).unwrap_err();
        assert!(matches!(
            error,
            Error::Config {
                variable: "HOOKBOT_GATEWAY",
                ..
            }
        ));
        assert!(!error.to_string().contains("tok-3f9a-secret"), "{error}");
        assert!(
            error.to_string().contains(
                "must be green-api, green-api-max, green-api-telegram or zapi, or sandbox"
            ),
            "{error}"
        );
    }

    #[test]
    fn the_store_is_chosen_by_its_variables() {
        let defaults = config(&[]).unwrap();
        assert_eq!(defaults.store, StoreChoice::Default);
        assert_eq!(defaults.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
        assert_eq!(defaults.durability, Durability::Process);
        let chosen = config(&[
            ("HOOKBOT_STORE", "Durable"),
            ("HOOKBOT_DATA_DIR", "/var/lib/card-bot"),
            ("HOOKBOT_DURABILITY", "power-loss"),
        ])
        .unwrap();
        assert_eq!(chosen.store, StoreChoice::Durable);
        assert_eq!(chosen.data_dir, PathBuf::from("/var/lib/card-bot"));
        assert_eq!(chosen.durability, Durability::PowerLoss);
        assert_eq!(
            config(&[("HOOKBOT_STORE", "memory")]).unwrap().store,
            StoreChoice::Memory
        );
    }

    #[test]
    fn a_wrong_store_or_durability_is_refused_with_the_reason() {
        for (vars, variable, reason) in [
            (
                vec![("HOOKBOT_STORE", "disk")],
                "HOOKBOT_STORE",
                "must be durable or memory",
            ),
            (
                vec![("HOOKBOT_DURABILITY", "fsync")],
                "HOOKBOT_DURABILITY",
                "must be process or power-loss",
            ),
            (
                vec![
                    ("HOOKBOT_STORE", "durable"),
                    ("HOOKBOT_REDIS_URL", "redis://127.0.0.1"),
                ],
                "HOOKBOT_STORE",
                "must not be set with HOOKBOT_REDIS_URL",
            ),
        ] {
            let error = config(&vars).unwrap_err();
            let Error::Config {
                variable: named,
                reason: told,
            } = &error
            else {
                panic!("expected a configuration error, got {error:?}");
            };
            assert_eq!(*named, variable);
            assert!(told.contains(reason), "{told}");
        }
    }

    #[test]
    fn the_redis_namespace_is_read() {
        let named = config(&[("HOOKBOT_REDIS_NAMESPACE", "card-bot")]).unwrap();
        assert_eq!(named.redis_namespace.as_deref(), Some("card-bot"));
    }

    #[test]
    fn limits_are_read_in_seconds_and_counts() {
        let config = config(&[
            ("HOOKBOT_HEADER_READ_TIMEOUT", "2.5"),
            ("HOOKBOT_MAX_CONNECTIONS", "500"),
            ("HOOKBOT_HANDLER_TIMEOUT", "90"),
            ("HOOKBOT_CHAT_CAPACITY", "20"),
        ])
        .unwrap();
        assert_eq!(
            config.server,
            ServerSettings::new()
                .header_read_timeout(Duration::from_millis(2500))
                .max_connections(500)
        );
        assert_eq!(
            config.dispatch,
            DispatchSettings::new()
                .handler_timeout(Duration::from_secs(90))
                .chat_capacity(20)
        );
        for (variable, value) in [
            ("HOOKBOT_BODY_TIMEOUT", "0"),
            ("HOOKBOT_HEADER_READ_TIMEOUT", "forever"),
            ("HOOKBOT_MAX_CONNECTIONS", "-1"),
            ("HOOKBOT_CHAT_CAPACITY", "0"),
        ] {
            let error = self::config(&[(variable, value)]).unwrap_err();
            assert!(
                matches!(error, Error::Config { variable: named, .. } if named == variable),
                "{error}"
            );
        }
    }

    #[test]
    fn polling_with_zapi_is_refused_with_the_reason() {
        let error = config(&[
            ("HOOKBOT_INTAKE", "polling"),
            ("HOOKBOT_GATEWAY", "zapi"),
            ("HOOKBOT_INSTANCE", "ABC123"),
            ("HOOKBOT_TOKEN", "tok"),
        ])
        .unwrap_err();
        let Error::Config { variable, reason } = &error else {
            panic!("not a config error: {error}");
        };
        assert_eq!(*variable, "HOOKBOT_INTAKE");
        assert!(
            reason.contains("zapi") && reason.contains("webhook"),
            "{reason}"
        );
    }
}
