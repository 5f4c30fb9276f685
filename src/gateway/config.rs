//! The configuration of one gateway instance: which gateway, where, and its credentials, as
//! the environment (`HOOKBOT_*`, see [`Config`](crate::config::Config)) or an instances file
//! ([`InstanceConfig`](crate::instance::InstanceConfig)) describes it; the client settings they
//! may set ([`ClientConfig`]); and the client it connects.

use std::sync::Arc;
use std::time::Duration;

use super::{ClientSettings, Gateway, GatewayKind, GreenApi, ZApi};
use crate::error::{Error, Result};
use crate::secret::Secret;

/// GREEN-API's general host, used when `HOOKBOT_API_URL` is unset.
pub const DEFAULT_GREEN_API_URL: &str = "https://api.green-api.com";
/// GREEN-API's host for Telegram instances (its Telegram clients' default), used when
/// `HOOKBOT_API_URL` is unset for `green-api-telegram`.
pub const DEFAULT_GREEN_API_TELEGRAM_URL: &str = "https://4100.api.green-api.com";
/// Z-API's host, used when `HOOKBOT_API_URL` is unset.
pub const DEFAULT_ZAPI_URL: &str = "https://api.z-api.io";

/// The gateway a bot talks to.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum GatewayConfig {
    /// No gateway account: the local sandbox.
    Sandbox,
    /// A GREEN-API instance, WhatsApp, MAX or Telegram.
    GreenApi {
        /// [`GatewayKind::GreenApiWhatsApp`], [`GatewayKind::GreenApiMax`] or
        /// [`GatewayKind::GreenApiTelegram`].
        kind: GatewayKind,
        /// `HOOKBOT_API_URL`.
        api_url: String,
        /// `HOOKBOT_INSTANCE`: `idInstance`.
        instance: String,
        /// `HOOKBOT_TOKEN`: `apiTokenInstance`.
        token: Secret,
    },
    /// A Z-API or PlugzAPI instance.
    ZApi {
        /// `HOOKBOT_API_URL`.
        base_url: String,
        /// `HOOKBOT_INSTANCE`.
        instance: String,
        /// `HOOKBOT_TOKEN`: the instance token.
        token: Secret,
        /// `HOOKBOT_CLIENT_TOKEN`: the account's security token, when enabled.
        client_token: Option<Secret>,
    },
}

impl GatewayConfig {
    /// A client of the configured gateway with default [`ClientSettings`]; `None` for the
    /// sandbox.
    pub fn connect(&self) -> Result<Option<Arc<dyn Gateway>>> {
        self.connect_with(ClientSettings::default())
    }

    /// A client of the configured gateway with the given settings; `None` for the sandbox.
    pub fn connect_with(&self, settings: ClientSettings) -> Result<Option<Arc<dyn Gateway>>> {
        let gateway: Arc<dyn Gateway> = match self {
            GatewayConfig::Sandbox => return Ok(None),
            GatewayConfig::GreenApi {
                kind,
                api_url,
                instance,
                token,
            } => {
                let builder = match kind {
                    GatewayKind::GreenApiMax => GreenApi::max(api_url, instance, token.clone()),
                    GatewayKind::GreenApiTelegram => {
                        GreenApi::telegram(api_url, instance, token.clone())
                    }
                    _ => GreenApi::whatsapp(api_url, instance, token.clone()),
                };
                Arc::new(builder.settings(settings).build()?)
            }
            GatewayConfig::ZApi {
                base_url,
                instance,
                token,
                client_token,
            } => {
                let mut builder =
                    ZApi::builder(base_url, instance, token.clone()).settings(settings);
                if let Some(client_token) = client_token {
                    builder = builder.client_token(client_token.clone());
                }
                Arc::new(builder.build()?)
            }
        };
        Ok(Some(gateway))
    }
}

/// The host a GREEN-API client of `kind` talks to when no URL is given.
pub(crate) fn default_green_api_url(kind: GatewayKind) -> &'static str {
    match kind {
        GatewayKind::GreenApiTelegram => DEFAULT_GREEN_API_TELEGRAM_URL,
        _ => DEFAULT_GREEN_API_URL,
    }
}

/// The client settings that configuration may set, each unset one left as it was: the
/// time-out of one attempt, the retry budget, and the rate limits of each group of methods
/// (see [`RateLimits`](super::RateLimits)). The environment sets them for every client
/// (`HOOKBOT_TIMEOUT`, ...), an instances file's entry for its instance (`timeout`, ...), over
/// the environment's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientConfig {
    /// The time-out of one attempt (`HOOKBOT_TIMEOUT`, `timeout`): seconds (`30`), or a
    /// number with `ms`, `s` or `m` (`500ms`, `2m`); from 1 ms to 10 minutes.
    pub timeout: Option<Duration>,
    /// How many times a failed call is tried again (`HOOKBOT_RETRIES`, `retries`), 0 to 10;
    /// 0 for never. Which failures are retried is [`RetryPolicy`](super::RetryPolicy)'s rule.
    pub retries: Option<u32>,
    /// Sends per second (`HOOKBOT_SEND_RATE`, `send_rate`); 0 for no limit.
    pub sends_per_second: Option<u32>,
    /// Look-ups per second, per method (`HOOKBOT_LOOKUP_RATE`, `lookup_rate`); 0 for no limit.
    pub lookups_per_second: Option<u32>,
    /// Notification-queue calls per second, per method (`HOOKBOT_NOTIFICATION_RATE`,
    /// `notification_rate`); 0 for no limit.
    pub notifications_per_second: Option<u32>,
}

/// Each setting of a [`ClientConfig`]: its environment variable and its instances-file field.
const CLIENT_SETTINGS: [(&str, &str); 5] = [
    ("HOOKBOT_TIMEOUT", "timeout"),
    ("HOOKBOT_RETRIES", "retries"),
    ("HOOKBOT_SEND_RATE", "send_rate"),
    ("HOOKBOT_LOOKUP_RATE", "lookup_rate"),
    ("HOOKBOT_NOTIFICATION_RATE", "notification_rate"),
];

/// The longest time-out of one attempt that configuration may set.
const MAX_TIMEOUT: Duration = Duration::from_secs(10 * 60);
/// The most retries configuration may set.
const MAX_RETRIES: u32 = 10;
/// The highest rate configuration may set, in requests per second.
const MAX_RATE: u32 = 10_000;

impl ClientConfig {
    /// The instances-file fields of the settings.
    pub(crate) const FIELDS: [&str; 5] = [
        CLIENT_SETTINGS[0].1,
        CLIENT_SETTINGS[1].1,
        CLIENT_SETTINGS[2].1,
        CLIENT_SETTINGS[3].1,
        CLIENT_SETTINGS[4].1,
    ];

    /// The settings of the `HOOKBOT_*` variables read through `var` (values trimmed, empty
    /// ones unset).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] naming the variable and its rule.
    pub(crate) fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let mut config = Self::default();
        for (variable, field) in CLIENT_SETTINGS {
            if let Some(value) = var(variable) {
                config.set(field, &value).map_err(|rule| Error::Config {
                    variable,
                    reason: format!("{rule}, is {value:?}"),
                })?;
            }
        }
        Ok(config)
    }

    /// Sets the setting of instances-file field `field` (one of [`FIELDS`](Self::FIELDS))
    /// from its text; the rule the text breaks, if it does.
    pub(crate) fn set(&mut self, field: &str, text: &str) -> std::result::Result<(), String> {
        let rate = || {
            text.trim()
                .parse::<u32>()
                .ok()
                .filter(|&rate| rate <= MAX_RATE)
                .ok_or_else(|| {
                    format!("must be a whole number of requests per second up to {MAX_RATE}, 0 for no limit")
                })
        };
        match field {
            "timeout" => {
                self.timeout = Some(parse_timeout(text).ok_or_else(|| {
                    "must be a time-out from 1 ms to 10 minutes: seconds (30) or a number with ms, s or m (500ms, 2m)".to_owned()
                })?);
            }
            "retries" => {
                let retries = text.trim().parse::<u32>().ok();
                self.retries = Some(retries.filter(|&n| n <= MAX_RETRIES).ok_or_else(|| {
                    format!("must be a whole number of retries from 0 to {MAX_RETRIES}")
                })?);
            }
            "send_rate" => self.sends_per_second = Some(rate()?),
            "lookup_rate" => self.lookups_per_second = Some(rate()?),
            "notification_rate" => self.notifications_per_second = Some(rate()?),
            _ => {
                return Err(format!(
                    "is not a client setting ({})",
                    Self::FIELDS.join(", ")
                ));
            }
        }
        Ok(())
    }

    /// `settings` with the settings set here.
    #[must_use]
    pub fn apply(&self, mut settings: ClientSettings) -> ClientSettings {
        if let Some(timeout) = self.timeout {
            settings.timeout = timeout;
        }
        if let Some(retries) = self.retries {
            settings.retry = settings.retry.max_attempts(retries.saturating_add(1));
        }
        let limits = &mut settings.rate_limits;
        if let Some(rate) = self.sends_per_second {
            *limits = limits.sends_per_second(rate);
        }
        if let Some(rate) = self.lookups_per_second {
            *limits = limits.lookups_per_second(rate);
        }
        if let Some(rate) = self.notifications_per_second {
            *limits = limits.notifications_per_second(rate);
        }
        settings
    }
}

/// A time-out of configuration: `30` (seconds), `500ms`, `30s`, `2m`; from 1 ms to
/// [`MAX_TIMEOUT`].
fn parse_timeout(text: &str) -> Option<Duration> {
    let text = text.trim();
    let (number, millis_per_unit) = if let Some(number) = text.strip_suffix("ms") {
        (number, 1)
    } else if let Some(number) = text.strip_suffix('s') {
        (number, 1000)
    } else if let Some(number) = text.strip_suffix('m') {
        (number, 60_000)
    } else {
        (text, 1000)
    };
    let number: u64 = number.trim().parse().ok()?;
    let timeout = Duration::from_millis(number.checked_mul(millis_per_unit)?);
    (!timeout.is_zero() && timeout <= MAX_TIMEOUT).then_some(timeout)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::{RateLimits, RetryPolicy};

    #[test]
    fn timeouts_in_seconds_or_with_a_unit() {
        assert_eq!(parse_timeout("30"), Some(Duration::from_secs(30)));
        assert_eq!(parse_timeout("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_timeout(" 500ms "), Some(Duration::from_millis(500)));
        assert_eq!(parse_timeout("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_timeout("10m"), Some(MAX_TIMEOUT));
        for wrong in [
            "0",
            "0ms",
            "11m",
            "-1",
            "1.5",
            "soon",
            "5h",
            "",
            "99999999999999999999m",
        ] {
            assert_eq!(parse_timeout(wrong), None, "{wrong:?}");
        }
    }

    #[test]
    fn what_is_set_is_applied_and_the_rest_kept() {
        let config = ClientConfig {
            timeout: Some(Duration::from_secs(5)),
            retries: Some(0),
            sends_per_second: Some(10),
            ..ClientConfig::default()
        };
        let settings = config.apply(ClientSettings::new());
        assert_eq!(settings.timeout, Duration::from_secs(5));
        assert_eq!(settings.retry, RetryPolicy::none());
        assert_eq!(settings.rate_limits, RateLimits::new().sends_per_second(10));
        let untouched = ClientConfig::default().apply(ClientSettings::new());
        assert_eq!(untouched.timeout, ClientSettings::new().timeout);
        assert_eq!(untouched.retry, RetryPolicy::new());
        assert_eq!(untouched.rate_limits, RateLimits::new());
    }

    #[test]
    fn each_rule_is_told() {
        let mut config = ClientConfig::default();
        let rule = config.set("retries", "11").unwrap_err();
        assert_eq!(rule, "must be a whole number of retries from 0 to 10");
        let rule = config.set("send_rate", "fast").unwrap_err();
        assert!(rule.contains("requests per second"), "{rule}");
        assert!(config.set("lookup_rate", "10001").is_err());
        assert!(config.set("timeout", "0").is_err());
        assert_eq!(config, ClientConfig::default());
    }
}
