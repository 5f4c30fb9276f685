//! The instances file: one entry per instance, TOML or JSON.

use std::fmt;
use std::path::Path;

use serde_json::{Map, Value};

use crate::error::Result;
use crate::gateway::{ClientConfig, ClientSettings, GatewayKind};
use crate::gateway::{DEFAULT_ZAPI_URL, GatewayConfig, default_green_api_url};
use crate::secret::Secret;

use super::setup::{PUBLIC_URL_RULE, parse_public_url};
use super::{Instance, config_error};

/// The fields an entry may have.
const FIELDS: [&str; 8] = [
    "name",
    "gateway",
    "url",
    "id",
    "token",
    "webhook_token",
    "client_token",
    "public_url",
];

/// One entry of an instances file (`HOOKBOT_INSTANCES`): an instance's gateway and
/// credentials, its optional name and webhook token, and its client settings.
///
/// In TOML, one `[[instance]]` table per instance; in JSON, `{"instance": [{...}, ...]}`
/// with the same fields:
///
/// ```toml
/// [[instance]]
/// name = "sales"                          # optional: in logs and cx.instance()
/// gateway = "green-api"                   # green-api | green-api-max | green-api-telegram | zapi
/// url = "https://7105.api.greenapi.com"   # optional: the gateway's general host
/// id = "1101000001"                       # idInstance / Z-API instance id
/// token = "..."                           # apiTokenInstance / Z-API instance token
/// webhook_token = "..."                   # optional; required for Z-API beside others
/// # client_token = "..."                  # Z-API only, optional
/// # public_url = "https://bot.example.org" # optional, over HOOKBOT_PUBLIC_URL
/// # Optional client settings, over HOOKBOT_TIMEOUT, HOOKBOT_RETRIES, HOOKBOT_*_RATE:
/// # timeout = "10s"                       # per attempt: seconds, or with ms, s or m
/// # retries = 2                           # 0 to 10
/// # send_rate = 20                        # requests per second, 0 for no limit
/// # lookup_rate = 1
/// # notification_rate = 100
/// ```
///
/// ```
/// use hookbot::instance::InstanceConfig;
///
/// let instances = InstanceConfig::from_toml(r#"
///     [[instance]]
///     gateway = "green-api"
///     id = 1101000001
///     token = "d75b3a66374942c5b3c019c698abc2067e151558acbd412345"
/// "#)?;
/// assert_eq!(instances.len(), 1);
/// # Ok::<(), hookbot::Error>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct InstanceConfig {
    /// The instance's name, for logs and handlers.
    pub name: Option<String>,
    /// Its gateway and credentials (never [`GatewayConfig::Sandbox`]).
    pub gateway: GatewayConfig,
    /// The secret the gateway presents on its webhook calls.
    pub webhook_token: Option<Secret>,
    /// Its client's time-out, retries and rate limits, over the environment's.
    pub client: ClientConfig,
    /// The bot's public base URL for this instance, over `HOOKBOT_PUBLIC_URL` (see
    /// [`InstanceBuilder::public_url`](super::InstanceBuilder::public_url)).
    pub public_url: Option<url::Url>,
}

impl InstanceConfig {
    /// Reads an instances file: TOML when its name ends in `.toml`, JSON when in `.json`.
    ///
    /// # Errors
    ///
    /// [`Error::Config`](crate::Error::Config) naming `HOOKBOT_INSTANCES`: the file cannot be
    /// read, is neither format, or an entry is wrong (the entry and its field are named, never
    /// a secret's value).
    pub fn read_file(path: impl AsRef<Path>) -> Result<Vec<Self>> {
        let path = path.as_ref();
        let extension = path
            .extension()
            .and_then(|extension| extension.to_str())
            .map(str::to_ascii_lowercase);
        let read = || {
            std::fs::read_to_string(path)
                .map_err(|error| config_error(format!("cannot read {}: {error}", path.display())))
        };
        let in_file = |error: crate::Error| match error {
            crate::Error::Config { reason, .. } => {
                config_error(format!("{}: {reason}", path.display()))
            }
            other => other,
        };
        match extension.as_deref() {
            Some("toml") => Self::from_toml(&read()?).map_err(in_file),
            Some("json") => Self::from_json(&read()?).map_err(in_file),
            _ => Err(config_error(format!(
                "{}: an instances file's name must end in .toml or .json",
                path.display()
            ))),
        }
    }

    /// Reads the instances of a TOML document (`[[instance]]` tables).
    ///
    /// # Errors
    ///
    /// As [`read_file`](InstanceConfig::read_file).
    pub fn from_toml(text: &str) -> Result<Vec<Self>> {
        // The parser's own message is kept, its quote of the offending line is not: that line
        // may hold a token.
        let document: Value = toml::from_str(text).map_err(|error| {
            let line = error
                .span()
                .and_then(|span| text.get(..span.start))
                .map(|before| before.matches('\n').count() + 1);
            let at = line
                .map(|line| format!(" at line {line}"))
                .unwrap_or_default();
            config_error(format!(
                "not valid TOML{at}: {}",
                error.message().lines().next().unwrap_or("")
            ))
        })?;
        entries(document)
    }

    /// Reads the instances of a JSON document (`{"instance": [...]}`).
    ///
    /// # Errors
    ///
    /// As [`read_file`](InstanceConfig::read_file).
    pub fn from_json(text: &str) -> Result<Vec<Self>> {
        let document: Value = serde_json::from_str(text).map_err(|error| {
            config_error(format!(
                "not valid JSON at line {} column {}",
                error.line(),
                error.column()
            ))
        })?;
        entries(document)
    }

    /// The instance this entry describes, with a client of `settings` and the entry's own
    /// [client settings](InstanceConfig::client) over them.
    ///
    /// # Errors
    ///
    /// [`Error::Config`](crate::Error::Config) when the client cannot be built (a malformed
    /// URL).
    pub fn connect(&self, settings: ClientSettings) -> Result<Instance> {
        self.connect_as(1, settings)
    }

    /// Like [`connect`](InstanceConfig::connect), naming the entry by its `number` in errors.
    pub(crate) fn connect_as(&self, number: usize, settings: ClientSettings) -> Result<Instance> {
        let label = Label {
            number,
            name: self.name.as_deref(),
        };
        let gateway = self
            .gateway
            .connect_with(self.client.apply(settings))
            .map_err(|error| match error {
                // The client's field is the file's `url`.
                crate::Error::Validation(invalid) => {
                    config_error(format!("{label}: `url` {}", invalid.rule))
                }
                other => config_error(format!("{label}: {other}")),
            })?
            .ok_or_else(|| config_error(format!("{label}: the sandbox is not an instance")))?;
        let mut instance = Instance::builder(gateway);
        if let Some(name) = &self.name {
            instance = instance.name(name.clone());
        }
        if let Some(token) = &self.webhook_token {
            instance = instance.webhook_token(token.clone());
        }
        if let Some(url) = &self.public_url {
            instance = instance.public_url(url.clone());
        }
        Ok(instance.build())
    }

    /// The gateway kind of the entry.
    pub fn kind(&self) -> Option<GatewayKind> {
        match &self.gateway {
            GatewayConfig::GreenApi { kind, .. } => Some(*kind),
            GatewayConfig::ZApi { .. } => Some(GatewayKind::ZApi),
            _ => None,
        }
    }
}

/// An entry as errors name it: `instance 2 ("sales")`, counted from 1.
#[derive(Clone, Copy)]
struct Label<'a> {
    number: usize,
    name: Option<&'a str>,
}

impl fmt::Display for Label<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "instance {}", self.number)?;
        if let Some(name) = self.name {
            write!(f, " ({name:?})")?;
        }
        Ok(())
    }
}

/// The entries of a document, TOML or JSON alike.
fn entries(document: Value) -> Result<Vec<InstanceConfig>> {
    let Value::Object(mut top) = document else {
        return Err(config_error(
            "must hold a list of instances: [[instance]] tables, or {\"instance\": [...]}"
                .to_owned(),
        ));
    };
    let list = top.remove("instance").or_else(|| top.remove("instances"));
    if let Some(key) = top.keys().next() {
        return Err(config_error(format!(
            "unknown key `{key}`: the file holds [[instance]] entries"
        )));
    }
    let list = match list {
        Some(Value::Array(list)) => list,
        Some(_) => {
            return Err(config_error(
                "`instance` must be a list of entries ([[instance]] tables)".to_owned(),
            ));
        }
        None => Vec::new(),
    };
    if list.is_empty() {
        return Err(config_error("lists no instance".to_owned()));
    }
    list.into_iter()
        .enumerate()
        .map(|(at, entry)| read_entry(at + 1, entry))
        .collect()
}

/// One entry, checked field by field.
fn read_entry(number: usize, entry: Value) -> Result<InstanceConfig> {
    let Value::Object(fields) = entry else {
        return Err(config_error(format!(
            "instance {number} must be a table of fields"
        )));
    };
    let name = match fields.get("name") {
        Some(Value::String(name)) if !name.trim().is_empty() => Some(name.trim().to_owned()),
        _ => None,
    };
    let label = Label {
        number,
        name: name.as_deref(),
    };
    let entry = Entry { label, fields };
    entry.check_fields()?;
    let gateway = entry.gateway()?;
    Ok(InstanceConfig {
        name: name.clone(),
        gateway,
        webhook_token: entry.text("webhook_token")?.map(Secret::new),
        client: entry.client()?,
        public_url: entry.public_url()?,
    })
}

/// An entry's fields, and its label for errors.
struct Entry<'a> {
    label: Label<'a>,
    fields: Map<String, Value>,
}

impl Entry<'_> {
    /// Refuses a field the entry cannot have, and a name that is not text.
    fn check_fields(&self) -> Result<()> {
        let known = |key: &str| FIELDS.contains(&key) || ClientConfig::FIELDS.contains(&key);
        if let Some(key) = self.fields.keys().find(|key| !known(key)) {
            return Err(self.error(format!(
                "unknown field `{key}` (the fields are {}, {})",
                FIELDS.join(", "),
                ClientConfig::FIELDS.join(", ")
            )));
        }
        self.text("name").map(|_| ())
    }

    /// The gateway and its credentials.
    fn gateway(&self) -> Result<GatewayConfig> {
        let name = self.required("gateway")?;
        let url = self.text("url")?;
        let id = self.id()?;
        let token = Secret::new(self.required("token")?);
        let client_token = self.text("client_token")?.map(Secret::new);
        let green_api = |kind| -> Result<GatewayConfig> {
            if client_token.is_some() {
                return Err(self.error("`client_token` is for Z-API only".to_owned()));
            }
            Ok(GatewayConfig::GreenApi {
                kind,
                api_url: url
                    .clone()
                    .unwrap_or_else(|| default_green_api_url(kind).to_owned()),
                instance: id.clone(),
                token: token.clone(),
            })
        };
        // The value is not quoted: a token put in the wrong field would be.
        let kind = name
            .to_ascii_lowercase()
            .parse::<GatewayKind>()
            .map_err(|unknown| self.error(format!("`gateway` {unknown}")))?;
        match kind {
            GatewayKind::ZApi => Ok(GatewayConfig::ZApi {
                base_url: url.clone().unwrap_or_else(|| DEFAULT_ZAPI_URL.to_owned()),
                instance: id.clone(),
                token: token.clone(),
                client_token: client_token.clone(),
            }),
            green_api_kind => green_api(green_api_kind),
        }
    }

    /// The public base URL, checked.
    fn public_url(&self) -> Result<Option<url::Url>> {
        self.text("public_url")?
            .map(|text| {
                parse_public_url(&text)
                    .ok_or_else(|| self.error(format!("`public_url` {PUBLIC_URL_RULE}")))
            })
            .transpose()
    }

    /// The client settings: each a number or text (`timeout = "500ms"`).
    fn client(&self) -> Result<ClientConfig> {
        let mut client = ClientConfig::default();
        for field in ClientConfig::FIELDS {
            let text = match self.fields.get(field) {
                None | Some(Value::Null) => continue,
                Some(Value::Number(number)) => number.to_string(),
                Some(Value::String(text)) => text.clone(),
                Some(_) => return Err(self.error(format!("`{field}` must be a number or text"))),
            };
            // The value is not quoted: it may be a token put in the wrong field.
            client
                .set(field, &text)
                .map_err(|rule| self.error(format!("`{field}` {rule}")))?;
        }
        Ok(client)
    }

    /// The instance id: text, or a whole number (GREEN-API's `idInstance` is one).
    fn id(&self) -> Result<String> {
        match self.fields.get("id") {
            Some(Value::Number(number)) if number.is_u64() => Ok(number.to_string()),
            Some(Value::Number(_)) => {
                Err(self.error("`id` must be text or a whole non-negative number".to_owned()))
            }
            _ => self.required("id"),
        }
    }

    /// A text field that must be there.
    fn required(&self, field: &str) -> Result<String> {
        self.text(field)?
            .ok_or_else(|| self.error(format!("`{field}` is missing")))
    }

    /// A text field, `None` when absent or blank. A value of another type is refused without
    /// being quoted (it may be a secret).
    fn text(&self, field: &str) -> Result<Option<String>> {
        match self.fields.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => {
                let text = text.trim();
                Ok((!text.is_empty()).then(|| text.to_owned()))
            }
            Some(_) => Err(self.error(format!("`{field}` must be text"))),
        }
    }

    fn error(&self, reason: String) -> crate::Error {
        config_error(format!("{}: {reason}", self.label))
    }
}
