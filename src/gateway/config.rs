//! The configuration of one gateway instance: which gateway, where, and its credentials, as
//! the environment (`HOOKBOT_*`, see [`Config`](crate::config::Config)) or an instances file
//! ([`InstanceConfig`](crate::instance::InstanceConfig)) describes it; and the client it
//! connects.

use std::sync::Arc;

use super::{ClientSettings, Gateway, GatewayKind, GreenApi, ZApi};
use crate::error::Result;
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
