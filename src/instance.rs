//! Several gateway instances in one bot: an [`Instance`] is one number (a GREEN-API WhatsApp or
//! MAX instance, a Z-API one) with its own client, rate limits, contact cache and webhook token;
//! [`Instances`] is the bot's registry of them. Each notification is routed to the instance it
//! names, and its handler replies through that instance ([`Context::instance`]).
//!
//! ```no_run
//! use hookbot::instance::Instances;
//! use hookbot::prelude::*;
//!
//! async fn hello(cx: Context) -> hookbot::Result<()> {
//!     let greeting = format!("Hello from {}", cx.instance().label());
//!     cx.reply(greeting).await?;
//!     Ok(())
//! }
//!
//! # async fn run() -> anyhow::Result<()> {
//! // [[instance]] entries: gateway, url, id, token, webhook_token (see `InstanceConfig`)
//! let instances = Instances::from_file("instances.toml")?;
//! let router = Router::new().route(filter::incoming(), hello);
//! Bot::builder(router).instances(instances).run().await?;
//! # Ok(()) }
//! ```
//!
//! GREEN-API instances post to `POST /webhook` with their own bearer token, and the bot tells
//! them apart by the notification's `instanceData.idInstance`; Z-API instances post to
//! `POST /webhook/{webhook_token}`, the token telling them apart (the body's `instanceId` must
//! agree). A notification naming an instance the bot does not serve is answered 404 and not
//! handled; a known instance's notification with a wrong token, 401.
//!
//! [`Context::instance`]: crate::context::Scope::instance

mod file;
pub(crate) mod setup;

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use url::Url;

use crate::contacts::ContactBook;
use crate::error::{Error, Result};
use crate::gateway::{ClientSettings, Gateway, GatewayKind};
use crate::hashing::FoldHashing;
use crate::secret::Secret;

pub use file::InstanceConfig;

/// The variable that names an instances file, and the one every instance error names.
pub(crate) const VARIABLE: &str = "HOOKBOT_INSTANCES";

/// One gateway instance a bot serves: its gateway and id, an optional name for logs and
/// handlers, its client, its contact book and the token its webhook calls carry. Cheap to
/// clone.
// Its client and contact book come first (`repr(C)`): what an event's handler reads of it,
// on the line of its handlers' services' reference counts (see `context::Services`).
#[derive(Clone)]
#[repr(C)]
pub struct Instance {
    gateway: Arc<dyn Gateway>,
    contacts: ContactBook,
    kind: GatewayKind,
    id: Arc<str>,
    name: Option<Arc<str>>,
    webhook_token: Option<Secret>,
    public_url: Option<Url>,
}

/// Builds an [`Instance`]; finish with [`build`](InstanceBuilder::build).
#[must_use]
pub struct InstanceBuilder {
    gateway: Arc<dyn Gateway>,
    name: Option<Arc<str>>,
    contacts: Option<ContactBook>,
    webhook_token: Option<Secret>,
    public_url: Option<Url>,
}

impl Instance {
    /// The instance `gateway` is a client of, with a contact book of its own and no name or
    /// webhook token.
    pub fn new(gateway: Arc<dyn Gateway>) -> Self {
        Self::builder(gateway).build()
    }

    /// An instance served through `gateway`, with a name, a webhook token or a contact book
    /// of other settings.
    pub fn builder(gateway: Arc<dyn Gateway>) -> InstanceBuilder {
        InstanceBuilder {
            gateway,
            name: None,
            contacts: None,
            webhook_token: None,
            public_url: None,
        }
    }

    /// The instance's gateway.
    pub fn kind(&self) -> GatewayKind {
        self.kind
    }

    /// The instance's id (GREEN-API `idInstance`, Z-API instance id).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The instance's name, when it was given one.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The name, or else the id: how logs and handlers call the instance.
    pub fn label(&self) -> &str {
        self.name().unwrap_or(&self.id)
    }

    /// The client that talks to the instance (its own rate limits).
    pub fn gateway(&self) -> &Arc<dyn Gateway> {
        &self.gateway
    }

    /// The instance's contacts, cached for this instance only.
    pub fn contacts(&self) -> &ContactBook {
        &self.contacts
    }

    /// Whether the instance's webhook calls must carry a token.
    pub fn has_webhook_token(&self) -> bool {
        self.webhook_token.is_some()
    }

    /// The token the instance's webhook calls must carry.
    pub(crate) fn webhook_token(&self) -> Option<&Secret> {
        self.webhook_token.as_ref()
    }

    /// The bot's public base URL for this instance, when the bot points the instance's
    /// notifications at itself on start (see [`InstanceBuilder::public_url`]).
    pub fn public_url(&self) -> Option<&Url> {
        self.public_url.as_ref()
    }

    /// The family whose ids the instance's id is unique among.
    pub(crate) fn family(&self) -> Family {
        Family::of(self.kind)
    }
}

impl InstanceBuilder {
    /// A name for logs and handlers (`cx.instance().name()`), e.g. `sales`.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(Arc::from(name.into()));
        self
    }

    /// The secret the gateway presents on this instance's webhook calls: GREEN-API's bearer
    /// token, or the last segment of a Z-API webhook URL.
    pub fn webhook_token(mut self, token: impl Into<Secret>) -> Self {
        self.webhook_token = Some(token.into());
        self
    }

    /// The bot's public base URL (`https://bot.example.org/hooks`): on start, a webhook bot
    /// points the instance's notifications at `<public url>/webhook` (Z-API:
    /// `<public url>/webhook/<webhook token>`), with incoming messages and the owner's
    /// messages from the phone on, and warns when the instance is not authorised.
    pub fn public_url(mut self, url: Url) -> Self {
        self.public_url = Some(url);
        self
    }

    /// A contact book of other settings over the same gateway, instead of the default one.
    pub fn contacts(mut self, contacts: ContactBook) -> Self {
        self.contacts = Some(contacts);
        self
    }

    /// The instance.
    pub fn build(self) -> Instance {
        let contacts = self
            .contacts
            .unwrap_or_else(|| ContactBook::new(self.gateway.clone()));
        Instance {
            kind: self.gateway.kind(),
            id: Arc::from(self.gateway.instance()),
            name: self.name,
            gateway: self.gateway,
            contacts,
            webhook_token: self.webhook_token,
            public_url: self.public_url,
        }
    }
}

impl fmt::Debug for Instance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Instance")
            .field("kind", &self.kind)
            .field("id", &self.id)
            .field("name", &self.name)
            .field("gateway", &self.gateway)
            .field("webhook_token", &self.webhook_token)
            .field("public_url", &self.public_url)
            .finish_non_exhaustive()
    }
}

/// `sales (green-api 1101000001)`, or `green-api 1101000001` without a name.
impl fmt::Display for Instance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) => write!(f, "{name} ({} {})", self.kind, self.id),
            None => write!(f, "{} {}", self.kind, self.id),
        }
    }
}

/// The gateways whose instance ids share one space: GREEN-API's WhatsApp and MAX instances
/// are numbered together, Z-API's apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Family {
    GreenApi,
    ZApi,
}

impl Family {
    pub(crate) fn of(kind: GatewayKind) -> Self {
        match kind {
            GatewayKind::ZApi => Family::ZApi,
            _ => Family::GreenApi,
        }
    }
}

/// The instances a bot serves, looked up by gateway and id. Build it from instances in code
/// ([`new`](Instances::new)) or from a file ([`from_file`](Instances::from_file)).
#[derive(Debug, Clone)]
pub struct Instances {
    all: Vec<Instance>,
    by_id: ById,
    /// A bot built on one gateway client ([`BotBuilder::gateway`](crate::bot::BotBuilder::gateway))
    /// serves every notification with it, whatever instance the notification names.
    lenient: bool,
}

/// Positions in [`Instances::all`] by family and id (looked up for every event a bot of
/// several instances handles: hashed with [`FoldHashing`]).
#[derive(Debug, Clone, Default)]
struct ById {
    green_api: HashMap<Arc<str>, usize, FoldHashing>,
    zapi: HashMap<Arc<str>, usize, FoldHashing>,
}

impl ById {
    fn of(&self, family: Family) -> &HashMap<Arc<str>, usize, FoldHashing> {
        match family {
            Family::GreenApi => &self.green_api,
            Family::ZApi => &self.zapi,
        }
    }

    fn of_mut(&mut self, family: Family) -> &mut HashMap<Arc<str>, usize, FoldHashing> {
        match family {
            Family::GreenApi => &mut self.green_api,
            Family::ZApi => &mut self.zapi,
        }
    }
}

impl Instances {
    /// A registry of `instances`, checked: at least one; no two with the same gateway family
    /// and id; when there are several, each Z-API instance has a webhook token of its own
    /// (its webhook URL's last segment is how the bot tells its notifications apart).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] naming `HOOKBOT_INSTANCES` and the instance at fault.
    pub fn new(instances: impl IntoIterator<Item = Instance>) -> Result<Self> {
        let all: Vec<Instance> = instances.into_iter().collect();
        if all.is_empty() {
            return Err(config_error("lists no instance".to_owned()));
        }
        let mut by_id = ById::default();
        for (at, instance) in all.iter().enumerate() {
            check(&all, at, instance)?;
            by_id
                .of_mut(instance.family())
                .insert(instance.id.clone(), at);
        }
        Ok(Self {
            all,
            by_id,
            lenient: false,
        })
    }

    /// The instances an instances file lists (TOML or JSON, by its extension; see
    /// [`InstanceConfig`]), each with a client of default [`ClientSettings`].
    ///
    /// # Errors
    ///
    /// [`Error::Config`] naming `HOOKBOT_INSTANCES` and, for a bad entry, the entry and the
    /// field (never a secret's value).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        Self::connect(
            &InstanceConfig::read_file(path)?,
            &ClientSettings::default(),
        )
    }

    /// The instances `configs` describe, each with its own client of `settings` (its own
    /// token, time-out, retries and rate limits). The clients send through one HTTP client,
    /// `settings`' own or else one built here, so that a thousand instances hold one
    /// connection pool per host and one TLS configuration between them.
    ///
    /// # Errors
    ///
    /// As [`new`](Instances::new), and when a client cannot be built (a malformed URL).
    pub fn connect(configs: &[InstanceConfig], settings: &ClientSettings) -> Result<Self> {
        let settings = settings.clone().sharing_http();
        let instances = configs
            .iter()
            .enumerate()
            .map(|(at, config)| config.connect_as(at + 1, settings.clone()))
            .collect::<Result<Vec<_>>>()?;
        Self::new(instances)
    }

    /// The registry of a bot built on one client: it serves every notification it is posted.
    fn single(instance: Instance) -> Self {
        let mut by_id = ById::default();
        by_id
            .of_mut(instance.family())
            .insert(instance.id.clone(), 0);
        Self {
            all: vec![instance],
            by_id,
            lenient: true,
        }
    }

    /// How many instances there are.
    pub fn len(&self) -> usize {
        self.all.len()
    }

    /// Whether there are none (never, for a registry that was built).
    pub fn is_empty(&self) -> bool {
        self.all.is_empty()
    }

    /// The instances, in the order given.
    pub fn iter(&self) -> impl Iterator<Item = &Instance> {
        self.all.iter()
    }

    /// The instance of `gateway` with the id `id` (GREEN-API's WhatsApp and MAX instances
    /// share their ids' space).
    pub fn get(&self, gateway: GatewayKind, id: &str) -> Option<&Instance> {
        self.position(gateway, id).and_then(|at| self.all.get(at))
    }

    /// Where the instance of `gateway` and `id` is; a lenient registry's one instance serves
    /// every id.
    pub(crate) fn position(&self, gateway: GatewayKind, id: &str) -> Option<usize> {
        if self.lenient {
            return Some(0);
        }
        self.by_id.of(Family::of(gateway)).get(id).copied()
    }

    /// The first instance.
    pub(crate) fn first(&self) -> &Instance {
        self.all
            .first()
            .expect("a registry is built with at least one instance")
    }

    /// Gives `token` to every instance that has no webhook token of its own.
    pub(crate) fn default_webhook_token(&mut self, token: &Secret) {
        for instance in &mut self.all {
            if instance.webhook_token.is_none() {
                instance.webhook_token = Some(token.clone());
            }
        }
    }

    /// Gives `url` to every instance that has no public URL of its own.
    pub(crate) fn default_public_url(&mut self, url: &Url) {
        for instance in &mut self.all {
            if instance.public_url.is_none() {
                instance.public_url = Some(url.clone());
            }
        }
    }

    /// Whether the registry is one client's, serving every notification it is posted
    /// whatever instance the notification names.
    pub(crate) fn is_lenient(&self) -> bool {
        self.lenient
    }
}

/// The registry of a bot built on one instance: it serves every notification it is posted
/// with that instance's token, whatever instance the notification names.
impl From<Instance> for Instances {
    fn from(instance: Instance) -> Self {
        Instances::single(instance)
    }
}

/// The variable that lets a webhook run without a token, and the one value it takes.
pub(crate) const ALLOW_ANONYMOUS: (&str, &str) =
    ("HOOKBOT_ALLOW_ANONYMOUS_WEBHOOK", "yes-i-understand");

impl Instances {
    /// Refuses an instance whose webhook would take notifications without a token: anyone who
    /// can reach the bot could then make it send from the business number. The error names
    /// `HOOKBOT_WEBHOOK_TOKEN` for a bot of one gateway, `HOOKBOT_INSTANCES` and the entry for
    /// one of several.
    pub(crate) fn require_webhook_tokens(&self) -> Result<()> {
        let Some((at, open)) = self
            .all
            .iter()
            .enumerate()
            .find(|(_, instance)| instance.webhook_token.is_none())
        else {
            return Ok(());
        };
        let at_gateway = match open.family() {
            Family::GreenApi => {
                "give the gateway the same as the instance's webhookUrlToken (console, or setSettings)"
            }
            Family::ZApi => "end the webhook URL you give the gateway with it (…/webhook/<token>)",
        };
        let (allow, yes) = ALLOW_ANONYMOUS;
        let how = format!(
            "set it to a long random secret and {at_gateway}; or poll instead (HOOKBOT_INTAKE=polling); or, for a local experiment only, {allow}={yes}"
        );
        Err(if self.lenient {
            Error::Config {
                variable: "HOOKBOT_WEBHOOK_TOKEN",
                reason: format!("is required for a webhook on a real gateway ({open}): {how}"),
            }
        } else {
            config_error(format!(
                "{}: `webhook_token` is required for a webhook on a real gateway: {how}",
                describe(at, open)
            ))
        })
    }
}

/// Checks the instance at `at` against those before it.
fn check(all: &[Instance], at: usize, instance: &Instance) -> Result<()> {
    let label = describe(at, instance);
    if instance.id.trim().is_empty() {
        return Err(config_error(format!("{label}: `id` is empty")));
    }
    let earlier = all.iter().take(at).enumerate();
    for (other_at, other) in earlier {
        if other.family() == instance.family() && other.id == instance.id {
            return Err(config_error(format!(
                "{label}: the same gateway and id as {}",
                describe(other_at, other)
            )));
        }
    }
    if instance.family() != Family::ZApi || all.len() == 1 {
        return Ok(());
    }
    let Some(token) = &instance.webhook_token else {
        return Err(config_error(format!(
            "{label}: a Z-API instance served beside others needs a `webhook_token`: its webhook URL ends with it (POST /webhook/{{webhook_token}}), which is how the bot tells its notifications apart"
        )));
    };
    let shared = all
        .iter()
        .enumerate()
        .find(|(other_at, other)| *other_at != at && other.webhook_token.as_ref() == Some(token));
    if let Some((other_at, other)) = shared {
        return Err(config_error(format!(
            "{label}: `webhook_token` is the same as {}'s; a Z-API instance's webhook token must be its own",
            describe(other_at, other)
        )));
    }
    Ok(())
}

/// `instance 2 ("sales", zapi 3C4A1B)`: the entry's number, counted from 1, its name and id.
fn describe(at: usize, instance: &Instance) -> String {
    match &instance.name {
        Some(name) => format!(
            "instance {} ({name:?}, {} {})",
            at + 1,
            instance.kind,
            instance.id
        ),
        None => format!("instance {} ({} {})", at + 1, instance.kind, instance.id),
    }
}

/// A configuration error of the instances.
pub(crate) fn config_error(reason: String) -> Error {
    Error::Config {
        variable: VARIABLE,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_instance_s_client_and_contact_book_come_first() {
        assert_eq!(std::mem::offset_of!(Instance, gateway), 0);
        assert_eq!(
            std::mem::offset_of!(Instance, contacts),
            std::mem::size_of::<Arc<dyn Gateway>>()
        );
    }
}
