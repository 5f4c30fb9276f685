//! GREEN-API: WhatsApp and Telegram (`/waInstance{id}/{method}/{token}`) and MAX
//! (`/v3/waInstance...`).
//!
//! All of GREEN-API's REST wire shapes live in this module.

mod contact_list;
pub(crate) mod notification;
pub(crate) mod rules;

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use bytes::Bytes;
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

use super::endpoint::{Endpoint, Endpoints};
use super::json;
use super::multipart::Multipart;
use super::rate_limit::Limiter;
use super::transport::{
    Answer, Body, Call, Found, Idempotency, SendRecords, Transport, common_error, shorten,
};
use super::validate::{self, is_digits};
use super::{
    Capabilities, ClientSettings, Gateway, GatewayKind, Notification, NotificationQueue,
    SendOptions, SentMessage, TypingKind, WebhookChange, WebhookTarget, base_url, log_dropped,
};
use crate::contact::{Contact, ContactCard, ContactInfo, PeerKind, non_blank};
use crate::error::{Error, Result, Rule, ValidationError};
use crate::event::InstanceState;
use crate::id::{ChatId, MessageId};
use crate::reply;
use crate::secret::Secret;
use contact_list::{EntryFields, ListedContact};
pub(crate) use rules::RECEIVE_TIMEOUT_S;
use rules::{
    Cards, MAX_BODY_BYTES, MAX_CAPTION_CHARS, MAX_UPLOAD_BYTES, Platform, PollOptions, Rules,
    TYPING_TIME_MS, whatsapp_phone,
};

/// How much longer than its `receiveTimeout` a receiveNotification call may take before the
/// client gives up on it.
const RECEIVE_GRACE: Duration = Duration::from_secs(10);

/// The longest look back lastOutgoingMessages allows, in minutes (a day).
const JOURNAL_MAX_MINUTES: u64 = 1440;
/// How much earlier than the send's first attempt a journal entry may be dated and still be
/// the send: the gateway's clock and this machine's may differ a little.
const JOURNAL_CLOCK_SLACK: Duration = Duration::from_secs(5);

/// A client of one GREEN-API instance, WhatsApp, MAX or Telegram.
///
/// Cheap to clone; clones share the instance's rate limits.
///
/// ```no_run
/// use hookbot::gateway::{ClientSettings, GreenApi, RetryPolicy};
///
/// # fn run() -> hookbot::Result<()> {
/// let whatsapp = GreenApi::whatsapp("https://7105.api.greenapi.com", "1101000001", "token").build()?;
/// let max = GreenApi::max("https://7105.api.greenapi.com", "3100000001", "token")
///     .settings(ClientSettings::new().retry(RetryPolicy::none()))
///     .build()?;
/// let telegram = GreenApi::telegram("https://4100.api.green-api.com", "4100000001", "token").build()?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct GreenApi {
    inner: Arc<Inner>,
}

/// A client's state, shared by its clones.
///
/// What every call reads — the platform and the endpoints — comes first (`repr(C)`), on one
/// line: a bot of many instances finds an instance's client cold.
#[repr(C)]
struct Inner {
    platform: Platform,
    /// Each method's endpoint built so far, so that a call shares it instead of encoding and
    /// parsing its URL again.
    endpoints: Endpoints,
    api_url: Url,
    /// `{api_url}[/v3]/waInstance{id}`: each call's URL adds the method and the token.
    instance_url: Url,
    /// `{media_url}[/v3]/waInstance{id}`: the same for uploads, on the media host.
    media_instance_url: Url,
    instance: String,
    token: Secret,
    transport: Transport,
}

/// Builds a [`GreenApi`] client; finish with [`build`](GreenApiBuilder::build).
#[derive(Debug)]
#[must_use]
pub struct GreenApiBuilder {
    platform: Platform,
    api_url: String,
    media_url: Option<String>,
    instance: String,
    token: Secret,
    settings: ClientSettings,
}

impl GreenApi {
    /// A client of a WhatsApp instance: `api_url` as shown in the console
    /// (`https://7105.api.greenapi.com`), `idInstance`, `apiTokenInstance`.
    pub fn whatsapp(
        api_url: impl Into<String>,
        instance: impl Into<String>,
        token: impl Into<Secret>,
    ) -> GreenApiBuilder {
        GreenApiBuilder::new(Platform::WhatsApp, api_url, instance, token)
    }

    /// A client of a MAX instance (v3 paths).
    pub fn max(
        api_url: impl Into<String>,
        instance: impl Into<String>,
        token: impl Into<Secret>,
    ) -> GreenApiBuilder {
        GreenApiBuilder::new(Platform::Max, api_url, instance, token)
    }

    /// A client of a Telegram instance (plain paths; GREEN-API's Telegram host is
    /// `https://4100.api.green-api.com`).
    pub fn telegram(
        api_url: impl Into<String>,
        instance: impl Into<String>,
        token: impl Into<Secret>,
    ) -> GreenApiBuilder {
        GreenApiBuilder::new(Platform::Telegram, api_url, instance, token)
    }

    /// The first `count` entries of the contact list (`getContacts?count=`).
    pub async fn contacts_up_to(&self, count: u32) -> Result<Vec<Contact>> {
        let mut url = self.url("getContacts");
        url.query_pairs_mut()
            .append_pair("count", &count.to_string());
        self.get_contacts(&url.into()).await
    }

    /// receiveNotification: the head of the instance's notification queue, waiting up to
    /// `receive_timeout` (5–60 s, whole seconds) for one; `None` when the queue stayed empty.
    /// The head comes back on every call until [`delete_notification`](GreenApi::delete_notification)
    /// removes it. Only while no webhook URL is set does the instance queue notifications.
    ///
    /// Each attempt may take `receive_timeout` plus 10 s (or the client's time-out, when longer)
    /// before it times out; failures are retried like any call (5xx, 429, connection errors).
    pub async fn receive_notification(
        &self,
        receive_timeout: Duration,
    ) -> Result<Option<Notification>> {
        const METHOD: &str = "receiveNotification";
        let (min, max) = RECEIVE_TIMEOUT_S;
        let seconds = validate::seconds("receive_timeout", receive_timeout, min, max)?;
        let mut url = self.url(METHOD);
        url.query_pairs_mut()
            .append_pair("receiveTimeout", &seconds.to_string());
        let call = Call {
            name: METHOD,
            method: Method::GET,
            endpoint: &url.into(),
            body: None,
            limiter: &self.inner.transport.limiters.receive_notification,
            idempotency: Idempotency::Repeatable,
        };
        let transport = &self.inner.transport;
        let timeout = transport.timeout().max(receive_timeout + RECEIVE_GRACE);
        let answer = transport
            .send_within(call, timeout, green_api_error)
            .await?;
        if answer.trim_ascii().is_empty() {
            return Ok(None);
        }
        let received: Option<ReceiveAnswer> = transport.decode(METHOD, &answer)?;
        Ok(received.map(|received| Notification::new(received.receipt_id, received.body)))
    }

    /// deleteNotification: removes the notification `receipt_id` from the instance's queue;
    /// whether the gateway found it (`{"result": true}`). Failures are retried like any call.
    pub async fn delete_notification(&self, receipt_id: u64) -> Result<bool> {
        const METHOD: &str = "deleteNotification";
        let mut url = self.url(METHOD);
        url.path_segments_mut()
            .expect("the builder accepts only base URLs")
            .push(&receipt_id.to_string());
        let call = Call {
            name: METHOD,
            method: Method::DELETE,
            endpoint: &url.into(),
            body: None,
            limiter: &self.inner.transport.limiters.delete_notification,
            idempotency: Idempotency::Repeatable,
        };
        let answer = self.inner.transport.send(call, green_api_error).await?;
        let deleted: DeleteAnswer = self.inner.transport.decode(METHOD, &answer)?;
        Ok(deleted.result)
    }

    /// getSettings: the URL the instance posts its notifications to, `None` when it has none
    /// and keeps them in its queue instead (see
    /// [`receive_notification`](GreenApi::receive_notification)).
    pub async fn webhook_url(&self) -> Result<Option<String>> {
        let settings = self.settings().await?;
        Ok(Some(settings.webhook_url).filter(|url| !url.trim().is_empty()))
    }

    /// getSettings: the part of the instance's settings hookbot reads.
    async fn settings(&self) -> Result<Settings> {
        const METHOD: &str = "getSettings";
        let call = Call {
            name: METHOD,
            method: Method::GET,
            endpoint: self.endpoint(METHOD),
            body: None,
            limiter: &self.inner.transport.limiters.settings,
            idempotency: Idempotency::Repeatable,
        };
        let answer = self.inner.transport.send(call, green_api_error).await?;
        self.inner.transport.decode(METHOD, &answer)
    }

    /// setSettings: writes `settings` (the settings it leaves out keep their values).
    async fn set_settings(&self, settings: &Settings) -> Result<()> {
        const METHOD: &str = "setSettings";
        let limiter = &self.inner.transport.limiters.settings;
        let answer = self.post(METHOD, settings, limiter).await?;
        let saved: SaveAnswer = self.inner.transport.decode(METHOD, &answer)?;
        if saved.save_settings {
            Ok(())
        } else {
            Err(Error::InvalidResponse {
                reason: format!("{METHOD}: the gateway did not save the settings"),
            })
        }
    }

    /// The documented rules of the instance's messenger.
    fn rules(&self) -> &'static Rules {
        self.inner.platform.rules()
    }

    fn kind(&self) -> GatewayKind {
        self.inner.platform.gateway_kind()
    }

    /// `{api_url}[/v3]/waInstance{id}/{method}/{token}`, built once per method and kept: for
    /// the methods hookbot's code names.
    fn endpoint(&self, method: &'static str) -> &Endpoint {
        self.inner.endpoints.get(method, || self.url_of(method))
    }

    /// A copy of `method`'s URL, to add a query or a path segment to.
    fn url(&self, method: &'static str) -> Url {
        self.endpoint(method).url().clone()
    }

    /// `{api_url}[/v3]/waInstance{id}/{method}/{token}`, built now: for any method name.
    fn url_of(&self, method: &str) -> Url {
        let mut url = self.inner.instance_url.clone();
        url.path_segments_mut()
            .expect("the builder accepts only base URLs")
            .push(method)
            .push(self.inner.token.expose());
        url
    }

    /// `typingTime` in milliseconds, checked.
    fn typing_time(&self, options: &SendOptions) -> Result<Option<u64>, ValidationError> {
        let (min, max) = TYPING_TIME_MS;
        options
            .typing
            .map(|typing| validate::millis("options.typing", typing, min, max))
            .transpose()
    }

    /// `typingType` of the options' typing kind, unless the messenger takes none (then logged
    /// and left out).
    fn typing_type(&self, options: &SendOptions, method: &'static str) -> Option<&'static str> {
        let kind = options.typing_kind?;
        if self.rules().typing_type {
            Some(typing_type(kind))
        } else {
            log_dropped(self.kind(), method, "typing kind");
            None
        }
    }

    /// The quoted message id, unless `can_quote` is false (then logged and left out).
    fn quote<'a>(
        &self,
        options: &'a SendOptions,
        method: &'static str,
        can_quote: bool,
    ) -> Option<&'a str> {
        let quote = options.quote.as_ref()?;
        if can_quote {
            Some(quote.as_str())
        } else {
            log_dropped(self.kind(), method, "quote");
            None
        }
    }

    /// POSTs `body` to `method` under the send rate limit and reads the new message's id.
    /// After a failure that leaves open whether the gateway took it, `journaled` is looked for
    /// in the instance's journal of sent messages; a message it cannot be told by there is not
    /// repeated (see [`RetryPolicy`](super::RetryPolicy)).
    async fn send_message<B: Serialize>(
        &self,
        method: &'static str,
        body: &B,
        journaled: Option<SentMessages<'_>>,
    ) -> Result<SentMessage> {
        let limiter = &self.inner.transport.limiters.send;
        self.send_limited(method, body, limiter, journaled).await
    }

    /// [`send_message`](Self::send_message) under `limiter`.
    async fn send_limited<B: Serialize>(
        &self,
        method: &'static str,
        body: &B,
        limiter: &Limiter,
        journaled: Option<SentMessages<'_>>,
    ) -> Result<SentMessage> {
        let transport = &self.inner.transport;
        let call = self.post_call(method, body, limiter, Idempotency::Send)?;
        let answer = match &journaled {
            Some(journaled) => {
                transport
                    .send_checked(call, green_api_error, journaled)
                    .await?
            }
            None => Answer::Body(transport.send(call, green_api_error).await?),
        };
        match answer {
            Answer::Body(answer) => {
                let sent: SendAnswer = transport.decode(method, &answer)?;
                Ok(SentMessage::new(sent.id_message))
            }
            Answer::Recorded(id) => Ok(SentMessage::new(id)),
        }
    }

    /// The error for what the messenger cannot send.
    fn unsupported(&self, what: &'static str) -> Error {
        Error::Unsupported {
            gateway: self.kind(),
            what,
        }
    }

    /// The quote of a file, location or poll, after logging the options that `method` does not
    /// take (typing, delay).
    fn media_quote<'a>(&self, options: &'a SendOptions, method: &'static str) -> Option<&'a str> {
        if options.typing.is_some() || options.typing_kind.is_some() {
            log_dropped(self.kind(), method, "typing");
        }
        if options.delay.is_some() {
            log_dropped(self.kind(), method, "delay");
        }
        self.quote(options, method, self.rules().quote_media)
    }

    /// POSTs `body` to `method`, a look-up, under `limiter`.
    async fn post<B: Serialize>(
        &self,
        method: &'static str,
        body: &B,
        limiter: &Limiter,
    ) -> Result<Bytes> {
        let call = self.post_call(method, body, limiter, Idempotency::Repeatable)?;
        self.inner.transport.send(call, green_api_error).await
    }

    /// A POST of `body` to `method`, refused when the body is over GREEN-API's size limit.
    fn post_call<'a, B: Serialize>(
        &'a self,
        method: &'static str,
        body: &B,
        limiter: &'a Limiter,
        idempotency: Idempotency,
    ) -> Result<Call<'a>> {
        Ok(Call {
            name: method,
            method: Method::POST,
            endpoint: self.endpoint(method),
            body: Some(json_body(body)?),
            limiter,
            idempotency,
        })
    }

    /// lastOutgoingMessages: what the instance sent since `since`, give or take a minute, as
    /// the journal's raw entries.
    async fn last_outgoing_messages(&self, since: SystemTime) -> Result<Vec<Value>> {
        const METHOD: &str = "lastOutgoingMessages";
        let elapsed = SystemTime::now().duration_since(since).unwrap_or_default();
        let minutes = (elapsed.as_secs() / 60)
            .saturating_add(2)
            .min(JOURNAL_MAX_MINUTES);
        let mut url = self.url(METHOD);
        url.query_pairs_mut()
            .append_pair("minutes", &minutes.to_string());
        let call = Call {
            name: METHOD,
            method: Method::GET,
            endpoint: &url.into(),
            body: None,
            limiter: &self.inner.transport.limiters.sent_messages,
            idempotency: Idempotency::Repeatable,
        };
        let answer = self.inner.transport.send(call, green_api_error).await?;
        self.inner.transport.decode(METHOD, &answer)
    }

    async fn get_contacts(&self, endpoint: &Endpoint) -> Result<Vec<Contact>> {
        let limiter = &self.inner.transport.limiters.contacts;
        let call = Call {
            name: "getContacts",
            method: Method::GET,
            endpoint,
            body: None,
            limiter,
            idempotency: Idempotency::Repeatable,
        };
        let answer = self.inner.transport.send(call, green_api_error).await?;
        let entries: Vec<ListedContact> = self.inner.transport.decode("getContacts", &answer)?;
        Ok(entries.into_iter().filter_map(|entry| entry.0).collect())
    }
}

impl GreenApiBuilder {
    fn new(
        platform: Platform,
        api_url: impl Into<String>,
        instance: impl Into<String>,
        token: impl Into<Secret>,
    ) -> Self {
        Self {
            platform,
            api_url: api_url.into(),
            media_url: None,
            instance: instance.into(),
            token: token.into(),
            settings: ClientSettings::default(),
        }
    }

    /// Time-outs, retries, rate limits (shared by replicas with
    /// [`ClientSettings::shared_limits`]) and HTTP client.
    pub fn settings(mut self, settings: ClientSettings) -> Self {
        self.settings = settings;
        self
    }

    /// The instance's media host, where uploads go (GREEN-API's `mediaUrl`, e.g.
    /// `https://7105.media.greenapi.com`). By default it is made from the API URL: `7105.api.`
    /// becomes `7105.media.` on WhatsApp and MAX; Telegram and any other host upload to the API
    /// URL itself.
    pub fn media_url(mut self, media_url: impl Into<String>) -> Self {
        self.media_url = Some(media_url.into());
        self
    }

    /// Checks the URLs and instance id and builds the client.
    pub fn build(self) -> Result<GreenApi> {
        let api_url = base_url("api_url", &self.api_url)?;
        let media_url = match &self.media_url {
            Some(media_url) => base_url("media_url", media_url)?,
            None => default_media_url(self.platform, &api_url),
        };
        if !is_digits(&self.instance) {
            return Err(ValidationError::new("instance", Rule::DigitsOnly).into());
        }
        let mut settings = self.settings;
        settings.rate_limits = settings
            .rate_limits
            .cap_downloads(self.platform.rules().downloads_per_second);
        let transport = Transport::new(
            settings,
            (self.platform.gateway_kind(), &self.instance),
            HeaderMap::new(),
            vec![self.token.clone()],
        );
        let media_instance_url = instance_url(self.platform, &media_url, &self.instance);
        let instance_url = instance_url(self.platform, &api_url, &self.instance);
        let inner = Inner {
            platform: self.platform,
            api_url,
            instance_url,
            media_instance_url,
            instance: self.instance,
            token: self.token,
            transport,
            endpoints: Endpoints::default(),
        };
        Ok(GreenApi {
            inner: Arc::new(inner),
        })
    }
}

/// The size of `upload`'s file, refused when it cannot be read or is over `limit` bytes.
pub(crate) async fn upload_size(upload: &reply::Upload, limit: u64) -> Result<u64> {
    let size = upload.size().await.map_err(|error| Error::File {
        source: Arc::new(error),
    })?;
    if size > limit {
        return Err(Error::PayloadTooLarge {
            size: Some(usize::try_from(size).unwrap_or(usize::MAX)),
            limit: usize::try_from(limit).unwrap_or(usize::MAX),
        });
    }
    Ok(size)
}

/// `{url}[/v3]/waInstance{id}`.
fn instance_url(platform: Platform, url: &Url, instance: &str) -> Url {
    let mut instance_url = url.clone();
    {
        let mut path = instance_url
            .path_segments_mut()
            .expect("base_url accepts only base URLs");
        path.pop_if_empty();
        if let Some(prefix) = platform.rules().path_prefix {
            path.push(prefix);
        }
        path.push(&format!("waInstance{instance}"));
    }
    instance_url
}

/// The media host GREEN-API gives an instance whose API host is `api_url`: `N.media.` for
/// `N.api.` of greenapi.com or green-api.com on WhatsApp and MAX; else the API host itself.
fn default_media_url(platform: Platform, api_url: &Url) -> Url {
    let media_host = api_url.host_str().and_then(|host| {
        let (number, domain) = host.split_once(".api.")?;
        let official = is_digits(number) && matches!(domain, "greenapi.com" | "green-api.com");
        (official && platform != Platform::Telegram).then(|| format!("{number}.media.{domain}"))
    });
    let mut media_url = api_url.clone();
    if let Some(host) = media_host {
        media_url
            .set_host(Some(&host))
            .expect("a host made of digits and a known domain is valid");
    }
    media_url
}

#[async_trait]
impl Gateway for GreenApi {
    fn kind(&self) -> GatewayKind {
        GreenApi::kind(self)
    }

    fn instance(&self) -> &str {
        &self.inner.instance
    }

    fn capabilities(&self) -> Capabilities {
        self.rules().capabilities()
    }

    async fn send_text(
        &self,
        chat: &ChatId,
        text: &str,
        options: &SendOptions,
    ) -> Result<SentMessage> {
        let rules = self.rules();
        rules.check_chat("chat", chat)?;
        validate::text("text", text, rules.max_text_chars)?;
        let typing_time = self.typing_time(options)?;
        if options.delay.is_some() {
            log_dropped(self.kind(), "sendMessage", "delay");
        }
        let body = SendMessageBody {
            chat_id: chat.as_str(),
            message: text,
            quoted_message_id: self.quote(options, "sendMessage", rules.quote_text),
            typing_time,
            typing_type: self.typing_type(options, "sendMessage"),
        };
        let journaled = SentMessages::new(self, chat, Journaled::Text(text));
        self.send_message("sendMessage", &body, Some(journaled))
            .await
    }

    async fn send_contact(
        &self,
        chat: &ChatId,
        card: &ContactCard,
        options: &SendOptions,
    ) -> Result<SentMessage> {
        let rules = self.rules();
        rules.check_chat("chat", chat)?;
        let contact = match rules.cards {
            Cards::ByPhone {
                digits,
                middle_name,
            } => phone_contact(card, rules, digits, middle_name)?,
            Cards::ByChatId => chat_contact(card, rules)?,
        };
        let typing_time = if rules.typing_contact {
            self.typing_time(options)?
        } else {
            if options.typing.is_some() {
                log_dropped(self.kind(), "sendContact", "typing");
            }
            None
        };
        if options.delay.is_some() {
            log_dropped(self.kind(), "sendContact", "delay");
        }
        if options.typing_kind.is_some() {
            log_dropped(self.kind(), "sendContact", "typing kind");
        }
        let journaled = match contact {
            WireContact::Phone { phone_contact, .. } => Some(SentMessages::new(
                self,
                chat,
                Journaled::ContactPhone(phone_contact),
            )),
            // How MAX's journal shows a contact shared by its chat id is not documented.
            WireContact::Chat { .. } => None,
        };
        let body = SendContactBody {
            chat_id: chat.as_str(),
            contact,
            quoted_message_id: self.quote(options, "sendContact", rules.quote_contact),
            typing_time,
        };
        self.send_message("sendContact", &body, journaled).await
    }

    async fn send_file(
        &self,
        chat: &ChatId,
        file: &reply::File,
        options: &SendOptions,
    ) -> Result<SentMessage> {
        const METHOD: &str = "sendFileByUrl";
        self.rules().check_chat("chat", chat)?;
        validate::file(file, MAX_CAPTION_CHARS)?;
        let body = SendFileByUrlBody {
            chat_id: chat.as_str(),
            url_file: &file.url,
            file_name: &file.file_name,
            caption: file.caption.as_deref(),
            quoted_message_id: self.media_quote(options, METHOD),
        };
        let limiter = &self.inner.transport.limiters.file;
        self.send_limited(METHOD, &body, limiter, None).await
    }

    async fn send_upload(
        &self,
        chat: &ChatId,
        upload: &reply::Upload,
        options: &SendOptions,
    ) -> Result<SentMessage> {
        const METHOD: &str = "sendFileByUpload";
        self.rules().check_chat("chat", chat)?;
        validate::upload(upload, MAX_CAPTION_CHARS)?;
        let size = upload_size(upload, MAX_UPLOAD_BYTES).await?;
        let mut fields = vec![
            ("chatId", chat.to_string()),
            ("fileName", upload.file_name.clone()),
        ];
        if let Some(caption) = &upload.caption {
            fields.push(("caption", caption.clone()));
        }
        if let Some(quote) = self.media_quote(options, METHOD) {
            fields.push(("quotedMessageId", quote.to_owned()));
        }
        let mut url = self.inner.media_instance_url.clone();
        url.path_segments_mut()
            .expect("the builder accepts only base URLs")
            .push(METHOD)
            .push(self.inner.token.expose());
        let call = Call {
            name: METHOD,
            method: Method::POST,
            endpoint: &url.into(),
            body: Some(Body::Multipart(Multipart::new(
                fields,
                "file",
                upload.clone(),
                size,
            ))),
            limiter: &self.inner.transport.limiters.file,
            idempotency: Idempotency::Send,
        };
        let answer = self.inner.transport.send(call, green_api_error).await?;
        let sent: SendAnswer = self.inner.transport.decode(METHOD, &answer)?;
        Ok(SentMessage::new(sent.id_message))
    }

    async fn send_location(
        &self,
        chat: &ChatId,
        location: &reply::Location,
        options: &SendOptions,
    ) -> Result<SentMessage> {
        const METHOD: &str = "sendLocation";
        self.rules().check_chat("chat", chat)?;
        validate::location(location)?;
        let body = SendLocationBody {
            chat_id: chat.as_str(),
            latitude: location.latitude,
            longitude: location.longitude,
            name_location: location.name.as_deref(),
            address: location.address.as_deref(),
            quoted_message_id: self.media_quote(options, METHOD),
        };
        let limiter = &self.inner.transport.limiters.location;
        self.send_limited(METHOD, &body, limiter, None).await
    }

    async fn send_poll(
        &self,
        chat: &ChatId,
        poll: &reply::Poll,
        options: &SendOptions,
    ) -> Result<SentMessage> {
        const METHOD: &str = "sendPoll";
        let rules = self.rules();
        let limits = rules.polls;
        rules.check_chat("chat", chat)?;
        if poll.multiple_answers && !limits.multiple_answers {
            return Err(self.unsupported("a poll with multiple answers"));
        }
        if limits.groups_only {
            validate::group_chat("chat", rules.chat_ids.is_group(chat.as_str()))?;
        }
        validate::poll(poll, limits.max_question_chars, limits.options)?;
        let quoted_message_id = self.media_quote(options, METHOD);
        let body = match rules.poll_options {
            PollOptions::Named => SendPollBody {
                chat_id: chat.as_str(),
                message: &poll.question,
                options: WirePollOptions::Named(
                    poll.options
                        .iter()
                        .map(|option| OptionName {
                            option_name: option,
                        })
                        .collect(),
                ),
                multiple_answers: poll.multiple_answers.then_some(true),
                kind: None,
                quoted_message_id,
            },
            PollOptions::Plain => SendPollBody {
                chat_id: chat.as_str(),
                message: &poll.question,
                options: WirePollOptions::Plain(&poll.options),
                multiple_answers: None,
                kind: Some("regular"),
                quoted_message_id,
            },
        };
        let limiter = &self.inner.transport.limiters.poll;
        self.send_limited(METHOD, &body, limiter, None).await
    }

    async fn send_buttons(
        &self,
        chat: &ChatId,
        buttons: &reply::Buttons,
        options: &SendOptions,
    ) -> Result<SentMessage> {
        let rules = self.rules();
        if !rules.buttons {
            return Err(self.unsupported("buttons"));
        }
        rules.check_chat("chat", chat)?;
        validate::buttons(buttons, rules.max_text_chars)?;
        let wire: Vec<WireButton<'_>> = buttons.buttons.iter().map(wire_button).collect();
        let method = if buttons.replies_only() {
            "sendInteractiveButtonsReply"
        } else if wire.iter().all(|button| button.kind.is_some()) {
            "sendInteractiveButtons"
        } else {
            return Err(self.unsupported("reply buttons together with URL, call or copy buttons"));
        };
        let body = SendButtonsBody {
            chat_id: chat.as_str(),
            header: buttons.header.as_deref(),
            body: &buttons.text,
            footer: buttons.footer.as_deref(),
            buttons: wire,
            quoted_message_id: self.media_quote(options, method),
        };
        let limiter = &self.inner.transport.limiters.buttons;
        self.send_limited(method, &body, limiter, None).await
    }

    async fn download_url(&self, chat: &ChatId, message: &MessageId) -> Result<String> {
        const METHOD: &str = "downloadFile";
        self.rules().check_chat("chat", chat)?;
        validate::message_ids("message", std::slice::from_ref(message))?;
        let body = DownloadFileBody {
            chat_id: chat.as_str(),
            id_message: message.as_str(),
        };
        let answer = self
            .post(METHOD, &body, &self.inner.transport.limiters.download)
            .await?;
        let found: DownloadAnswer = self.inner.transport.decode(METHOD, &answer)?;
        Ok(found.download_url)
    }

    async fn send_typing(
        &self,
        chat: &ChatId,
        duration: Duration,
        kind: Option<TypingKind>,
    ) -> Result<()> {
        const METHOD: &str = "sendTyping";
        let rules = self.rules();
        if !rules.send_typing {
            return Err(self.unsupported("a typing indicator without a message"));
        }
        rules.check_chat("chat", chat)?;
        let (min, max) = TYPING_TIME_MS;
        let typing_time = validate::millis("duration", duration, min, max)?;
        let typing_type = match kind {
            Some(TypingKind::ChooseContact) => {
                log_dropped(self.kind(), METHOD, "typing kind");
                None
            }
            Some(kind) => Some(typing_type(kind)),
            None => None,
        };
        let body = SendTypingBody {
            chat_id: chat.as_str(),
            typing_time,
            typing_type,
        };
        let limiter = &self.inner.transport.limiters.typing;
        let call = self.post_call(METHOD, &body, limiter, Idempotency::Repeatable)?;
        self.inner.transport.send(call, green_api_error).await?;
        Ok(())
    }

    async fn mark_read(&self, chat: &ChatId, message: Option<&MessageId>) -> Result<()> {
        const METHOD: &str = "readChat";
        let rules = self.rules();
        if !rules.read_chat {
            return Err(self.unsupported("a read mark"));
        }
        rules.check_chat("chat", chat)?;
        let body = ReadChatBody {
            chat_id: chat.as_str(),
            id_message: message.map(MessageId::as_str),
        };
        let limiter = &self.inner.transport.limiters.read;
        let call = self.post_call(METHOD, &body, limiter, Idempotency::Repeatable)?;
        self.inner.transport.send(call, green_api_error).await?;
        Ok(())
    }

    async fn forward(
        &self,
        chat: &ChatId,
        from: &ChatId,
        messages: &[MessageId],
    ) -> Result<Vec<SentMessage>> {
        const METHOD: &str = "forwardMessages";
        let rules = self.rules();
        if !rules.forward_messages {
            return Err(self.unsupported("a forward"));
        }
        rules.check_chat("chat", chat)?;
        rules.check_chat("from", from)?;
        validate::message_ids("messages", messages)?;
        let body = ForwardMessagesBody {
            chat_id: chat.as_str(),
            chat_id_from: from.as_str(),
            messages: messages.iter().map(MessageId::as_str).collect(),
        };
        let limiter = &self.inner.transport.limiters.forward;
        let call = self.post_call(METHOD, &body, limiter, Idempotency::Send)?;
        let answer = self.inner.transport.send(call, green_api_error).await?;
        let forwarded: ForwardAnswer = self.inner.transport.decode(METHOD, &answer)?;
        Ok(forwarded
            .messages
            .into_iter()
            .map(SentMessage::new)
            .collect())
    }

    async fn call_method(&self, method: &str, body: Option<&Value>) -> Result<Value> {
        validate::method_name("method", method, false)?;
        let limiter = &self.inner.transport.limiters.other;
        let endpoint = self.url_of(method).into();
        let call = Call::generic(&endpoint, body.map(json_body).transpose()?, limiter);
        let answer = self.inner.transport.send(call, green_api_error).await?;
        self.inner.transport.decode_any(method, &answer)
    }

    async fn contacts(&self) -> Result<Vec<Contact>> {
        self.get_contacts(self.endpoint("getContacts")).await
    }

    async fn contact_info(&self, chat: &ChatId) -> Result<ContactInfo> {
        self.rules().check_individual_chat("chat", chat)?;
        let body = ChatBody {
            chat_id: chat.as_str(),
        };
        let answer = self
            .post(
                "getContactInfo",
                &body,
                &self.inner.transport.limiters.contact_info,
            )
            .await?;
        let info: ContactInfoAnswer = self.inner.transport.decode("getContactInfo", &answer)?;
        Ok(info.into_contact_info(chat))
    }

    /// getStateInstance.
    async fn instance_state(&self) -> Result<InstanceState> {
        const METHOD: &str = "getStateInstance";
        let call = Call {
            name: METHOD,
            method: Method::GET,
            endpoint: self.endpoint(METHOD),
            body: None,
            limiter: &self.inner.transport.limiters.instance_state,
            idempotency: Idempotency::Repeatable,
        };
        let answer = self.inner.transport.send(call, green_api_error).await?;
        let state: StateAnswer = self.inner.transport.decode(METHOD, &answer)?;
        Ok(notification::named_state(state.state_instance))
    }

    /// getSettings, then setSettings when the webhook URL or token differ, or incoming or
    /// phone-sent (`outgoingMessageWebhook`) notifications are off.
    async fn point_webhook(&self, webhook: &WebhookTarget) -> Result<WebhookChange> {
        let wanted = Settings {
            webhook_url: webhook.url().to_string(),
            webhook_url_token: webhook
                .token()
                .map(|token| token.expose().to_owned())
                .unwrap_or_default(),
            incoming_webhook: YES.to_owned(),
            outgoing_message_webhook: YES.to_owned(),
        };
        if self.settings().await? == wanted {
            return Ok(WebhookChange::AlreadySet);
        }
        self.set_settings(&wanted).await?;
        Ok(WebhookChange::Written)
    }

    fn notification_queue(&self) -> Option<Arc<dyn NotificationQueue>> {
        Some(Arc::new(self.clone()))
    }
}

#[async_trait]
impl NotificationQueue for GreenApi {
    fn kind(&self) -> GatewayKind {
        GreenApi::kind(self)
    }

    async fn receive_notification(
        &self,
        receive_timeout: Duration,
    ) -> Result<Option<Notification>> {
        GreenApi::receive_notification(self, receive_timeout).await
    }

    async fn delete_notification(&self, receipt_id: u64) -> Result<bool> {
        GreenApi::delete_notification(self, receipt_id).await
    }

    async fn webhook_url(&self) -> Result<Option<String>> {
        GreenApi::webhook_url(self).await
    }
}

/// A contact shared by its chat id, which must be a person's (MAX).
fn chat_contact<'a>(
    card: &'a ContactCard,
    rules: &Rules,
) -> Result<WireContact<'a>, ValidationError> {
    let chat = card.chat_id.as_ref().ok_or(ValidationError::new(
        "card.chat_id",
        Rule::Required {
            why: rules.card_needs,
        },
    ))?;
    rules.check_individual_chat("card.chat_id", chat)?;
    Ok(WireContact::Chat {
        chat_id: chat.as_str(),
    })
}

/// A contact shared by its phone number (from the card, or from a WhatsApp `digits@c.us` chat
/// id) of `digits` (min, max) digits, with at least one name (WhatsApp, Telegram). Where the
/// messenger takes no middle name, it follows the first name.
fn phone_contact<'a>(
    card: &'a ContactCard,
    rules: &Rules,
    (min, max): (usize, usize),
    takes_middle_name: bool,
) -> Result<WireContact<'a>, ValidationError> {
    validate::phone_shown("card.phone", card)?;
    let phone = card
        .phone
        .as_deref()
        .or_else(|| whatsapp_phone(card.chat_id.as_ref()?.as_str()))
        .ok_or(ValidationError::new(
            "card.phone",
            Rule::Required {
                why: rules.card_needs,
            },
        ))?;
    validate::phone("card.phone", phone, min, max)?;
    let phone_contact = phone
        .parse()
        .expect("the table allows at most 19 digits, which fit in u64");
    let first_name = non_blank(card.first_name.as_deref());
    let middle_name = non_blank(card.middle_name.as_deref());
    let (first_name, middle_name) = match (takes_middle_name, first_name, middle_name) {
        (true, first, middle) => (first.map(Cow::Borrowed), middle),
        (false, Some(first), Some(middle)) => (Some(Cow::Owned(format!("{first} {middle}"))), None),
        (false, first, middle) => (first.or(middle).map(Cow::Borrowed), None),
    };
    let contact = WireContact::Phone {
        phone_contact,
        first_name,
        middle_name,
        last_name: non_blank(card.last_name.as_deref()),
        company: non_blank(card.company.as_deref()),
    };
    match contact {
        WireContact::Phone {
            first_name: None,
            middle_name: None,
            last_name: None,
            company: None,
            ..
        } => Err(ValidationError::new("card", Rule::NameRequired)),
        contact => Ok(contact),
    }
}

/// How a message this client sends shows in the instance's journal of sent messages.
#[derive(Debug, Clone, Copy)]
enum Journaled<'a> {
    /// A text (`textMessage`, or `extendedTextMessage` when it got a link preview).
    Text(&'a str),
    /// A contact card sharing this phone (`contactMessage`, with the card's vCard).
    ContactPhone(u64),
}

/// The instance's journal of sent messages (`lastOutgoingMessages`), asked about one send.
struct SentMessages<'a> {
    client: &'a GreenApi,
    chat: &'a ChatId,
    message: Journaled<'a>,
}

/// How one journal entry compares with the send looked for.
enum Entry {
    /// It is the send, with this id.
    Ours(String),
    /// It is another message.
    Other,
    /// It cannot be told apart: something needed is missing or unreadable.
    Unclear,
}

impl<'a> SentMessages<'a> {
    fn new(client: &'a GreenApi, chat: &'a ChatId, message: Journaled<'a>) -> Self {
        Self {
            client,
            chat,
            message,
        }
    }

    /// The send among `entries`: sent when one of them is it; unknown when one of them may
    /// be it; else not sent. `since` is when the send's first attempt began.
    fn find_in(&self, entries: &[Value], since: SystemTime) -> Found<MessageId> {
        let earliest = since
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs()
            .saturating_sub(JOURNAL_CLOCK_SLACK.as_secs());
        let mut unclear = false;
        for entry in entries {
            match self.compare(entry, earliest) {
                Entry::Ours(id) => return Found::Sent(MessageId::from(id)),
                Entry::Other => {}
                Entry::Unclear => unclear = true,
            }
        }
        if unclear {
            Found::Unknown
        } else {
            Found::NotSent
        }
    }

    /// Whether `entry` is the send: to its chat, through the API, at `earliest` (unix
    /// seconds) or later, with its content.
    fn compare(&self, entry: &Value, earliest: u64) -> Entry {
        let Ok(entry) = JournalEntry::deserialize(entry) else {
            return Entry::Unclear;
        };
        let facts = [
            entry
                .chat_id
                .as_ref()
                .map(|chat| chat == self.chat.as_str()),
            Some(entry.send_by_api != Some(false)),
            entry
                .timestamp
                .as_ref()
                .and_then(Value::as_u64)
                .map(|timestamp| timestamp >= earliest),
            self.same_content(&entry),
        ];
        if facts.contains(&Some(false)) {
            Entry::Other
        } else if facts.contains(&None) {
            Entry::Unclear
        } else {
            entry
                .id_message
                .filter(|id| !id.is_empty())
                .map_or(Entry::Unclear, Entry::Ours)
        }
    }

    /// Whether the entry holds the message's content; `None` when it cannot be read.
    fn same_content(&self, entry: &JournalEntry) -> Option<bool> {
        let kind = entry.type_message.as_deref()?;
        match (self.message, kind) {
            (Journaled::Text(text), "textMessage") => {
                let journaled = entry.text_message.as_deref()?;
                Some(journaled.trim() == text.trim())
            }
            (Journaled::Text(text), "extendedTextMessage") => {
                let journaled = entry
                    .extended_text_message
                    .as_ref()?
                    .get("text")?
                    .as_str()?;
                Some(journaled.trim() == text.trim())
            }
            (Journaled::ContactPhone(phone), "contactMessage") => {
                let vcard = entry.contact.as_ref()?.get("vcard")?.as_str()?;
                let shared = crate::event::SharedContact::from_vcard(vcard);
                Some(shared.phones.contains(&phone.to_string()))
            }
            _ => Some(false),
        }
    }
}

#[async_trait]
impl SendRecords for SentMessages<'_> {
    type Id = MessageId;

    async fn find(&self, since: SystemTime) -> Result<Found<MessageId>> {
        let entries = self.client.last_outgoing_messages(since).await?;
        Ok(self.find_in(&entries, since))
    }
}

impl fmt::Debug for GreenApi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GreenApi")
            .field("kind", &self.kind())
            .field("api_url", &self.inner.api_url.as_str())
            .field("instance", &self.inner.instance)
            .field("token", &self.inner.token)
            .finish()
    }
}

/// `body` as a JSON request body, refused when it is over GREEN-API's size limit.
fn json_body<B: Serialize + ?Sized>(body: &B) -> Result<Body> {
    let body =
        serde_json::to_vec(body).expect("request bodies are plain data that always serialise");
    if body.len() > MAX_BODY_BYTES {
        return Err(Error::PayloadTooLarge {
            size: Some(body.len()),
            limit: MAX_BODY_BYTES,
        });
    }
    Ok(body.into())
}

/// Maps GREEN-API's documented error answers to typed errors.
fn green_api_error(status: StatusCode, body: &str, retry_after: Option<Duration>) -> Error {
    let lower = body.to_ascii_lowercase();
    match status.as_u16() {
        400 if lower.contains("instance in starting process") => Error::InstanceStarting,
        400 if lower.contains("instance account not authorized") => Error::NotAuthorized,
        400 => match contact_not_found(body, &lower) {
            Some(chat_id) => Error::ContactNotFound { chat_id },
            None => common_error(status, body, retry_after),
        },
        466 => quota_exceeded(body),
        500 if lower.contains("request entity too large") => Error::PayloadTooLarge {
            size: None,
            limit: MAX_BODY_BYTES,
        },
        _ => common_error(status, body, retry_after),
    }
}

/// The id in MAX's `Contact 20000001 not found`.
fn contact_not_found(body: &str, lower: &str) -> Option<String> {
    let start = lower.find("contact ")? + "contact ".len();
    let length = lower[start..].find(" not found")?;
    let id = body[start..start + length].trim();
    (!id.is_empty() && !id.contains(char::is_whitespace)).then(|| id.to_owned())
}

/// HTTP 466 with the figures of `invokeStatus`, as far as the body has them: a figure that is
/// no count (negative, fractional, too large) is left out, the others kept.
fn quota_exceeded(body: &str) -> Error {
    let answer: Value = serde_json::from_str(body).unwrap_or_default();
    let status = json::at(&answer, "/invokeStatus");
    Error::QuotaExceeded {
        method: json::text(status, "/method"),
        used: json::unsigned(status, "/used"),
        total: json::unsigned(status, "/total"),
        description: json::text(status, "/description")
            .or_else(|| (!body.is_empty()).then(|| shorten(body))),
    }
}

/// One `getContacts` entry's fields as a [`Contact`]; `None` without a chat id.
fn contact_from_fields(entry: EntryFields<'_>) -> Option<Contact> {
    let chat_id = ChatId::from(entry.chat_id.or(entry.id)?);
    let kind = contact_kind(entry.kind.as_deref(), &chat_id);
    let mut contact = Contact::new(chat_id, kind);
    contact.phone = phone_of(entry.phone_number.as_ref(), &contact.chat_id).map(Into::into);
    contact.phone_hidden = !kind.is_group() && is_hidden(entry.phone_number.as_ref());
    contact.username = username(entry.username.as_ref()).map(Into::into);
    contact.name = entry.name.unwrap_or_default().into();
    contact.contact_name = entry.contact_name.unwrap_or_default().into();
    Some(contact)
}

/// The kind a `getContacts` `type` names; a group-shaped id is a group whatever the type says
/// of a single account, and an unknown type is a person's or a group's by the id's shape.
fn contact_kind(type_name: Option<&str>, chat: &ChatId) -> PeerKind {
    match type_name.and_then(PeerKind::of_name) {
        Some(kind) if kind.is_group() || !chat.is_group() => kind,
        _ if chat.is_group() => PeerKind::Group,
        _ => PeerKind::User,
    }
}

/// Whether `phoneNumber` is GREEN-API's 0: the phone is hidden.
fn is_hidden(phone_number: Option<&Value>) -> bool {
    match phone_number {
        Some(Value::Number(number)) => number.as_u64() == Some(0),
        Some(Value::String(text)) => is_digits(text) && text.trim_start_matches('0').is_empty(),
        _ => false,
    }
}

/// A Telegram username without its `@`; `None` when blank or not text.
fn username(name: Option<&Value>) -> Option<String> {
    let bare = name?.as_str()?.trim().trim_start_matches('@');
    (!bare.is_empty()).then(|| bare.to_owned())
}

/// GREEN-API's word for a kind of typing indicator (`typingType`).
fn typing_type(kind: TypingKind) -> &'static str {
    match kind {
        TypingKind::Text => "text",
        TypingKind::Recording => "recording",
        TypingKind::ChooseContact => "choose_contact",
    }
}

/// The phone number from `phoneNumber` (0 when hidden), else from a `digits@c.us` chat id.
fn phone_of(phone_number: Option<&Value>, chat: &ChatId) -> Option<String> {
    let from_field = match phone_number {
        Some(Value::Number(number)) => number.as_u64().filter(|&n| n != 0).map(|n| n.to_string()),
        Some(Value::String(text))
            if is_digits(text) && !text.trim_start_matches('0').is_empty() =>
        {
            Some(text.clone())
        }
        _ => None,
    };
    from_field.or_else(|| whatsapp_phone(chat.as_str()).map(str::to_owned))
}

// ---- wire shapes ----

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SendMessageBody<'a> {
    chat_id: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    quoted_message_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    typing_time: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    typing_type: Option<&'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SendButtonsBody<'a> {
    chat_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    header: Option<&'a str>,
    body: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    footer: Option<&'a str>,
    buttons: Vec<WireButton<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    quoted_message_id: Option<&'a str>,
}

/// A button of sendInteractiveButtons (`type` and its field) or of
/// sendInteractiveButtonsReply (no `type`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WireButton<'a> {
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    button_id: &'a str,
    button_text: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    phone_number: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    copy_code: Option<&'a str>,
}

/// The wire form of `button`.
fn wire_button(button: &reply::Button) -> WireButton<'_> {
    let mut wire = WireButton {
        kind: None,
        button_id: &button.id,
        button_text: &button.label,
        url: None,
        phone_number: None,
        copy_code: None,
    };
    match &button.action {
        reply::ButtonAction::Reply => {}
        reply::ButtonAction::Url(url) => (wire.kind, wire.url) = (Some("url"), Some(url.as_str())),
        reply::ButtonAction::Call(phone) => {
            (wire.kind, wire.phone_number) = (Some("call"), Some(phone.as_str()));
        }
        reply::ButtonAction::Copy(code) => {
            (wire.kind, wire.copy_code) = (Some("copy"), Some(code.as_str()))
        }
    }
    wire
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DownloadFileBody<'a> {
    chat_id: &'a str,
    id_message: &'a str,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DownloadAnswer {
    download_url: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SendTypingBody<'a> {
    chat_id: &'a str,
    typing_time: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    typing_type: Option<&'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ReadChatBody<'a> {
    chat_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    id_message: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ForwardMessagesBody<'a> {
    chat_id: &'a str,
    chat_id_from: &'a str,
    messages: Vec<&'a str>,
}

/// forwardMessages' answer: the forwarded copies' ids.
#[derive(Deserialize)]
struct ForwardAnswer {
    #[serde(default)]
    messages: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SendFileByUrlBody<'a> {
    chat_id: &'a str,
    url_file: &'a str,
    file_name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    caption: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    quoted_message_id: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SendLocationBody<'a> {
    chat_id: &'a str,
    latitude: f64,
    longitude: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    name_location: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    address: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    quoted_message_id: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SendPollBody<'a> {
    chat_id: &'a str,
    message: &'a str,
    options: WirePollOptions<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    multiple_answers: Option<bool>,
    /// Telegram's `type`: `regular` (not a quiz).
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    quoted_message_id: Option<&'a str>,
}

/// sendPoll's options: `[{optionName}]`, or Telegram's plain strings.
#[derive(Serialize)]
#[serde(untagged)]
enum WirePollOptions<'a> {
    Named(Vec<OptionName<'a>>),
    Plain(&'a [String]),
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OptionName<'a> {
    option_name: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SendContactBody<'a> {
    chat_id: &'a str,
    contact: WireContact<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    quoted_message_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    typing_time: Option<u64>,
}

/// sendContact's `contact`, in the shape of the messenger's [`Cards`].
#[derive(Serialize)]
#[serde(untagged)]
enum WireContact<'a> {
    #[serde(rename_all = "camelCase")]
    Phone {
        phone_contact: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        first_name: Option<Cow<'a, str>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        middle_name: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        last_name: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        company: Option<&'a str>,
    },
    #[serde(rename_all = "camelCase")]
    Chat { chat_id: &'a str },
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ChatBody<'a> {
    chat_id: &'a str,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SendAnswer {
    id_message: String,
}

/// receiveNotification's answer when the queue has a notification (`null` otherwise).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReceiveAnswer {
    receipt_id: u64,
    #[serde(default)]
    body: Value,
}

#[derive(Deserialize)]
struct DeleteAnswer {
    result: bool,
}

/// An instance setting that is on.
const YES: &str = "yes";

/// The instance settings hookbot reads (getSettings) and writes (setSettings): where
/// notifications go, and which of them are sent.
/// No `Debug`: it holds the webhook token.
#[derive(Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct Settings {
    webhook_url: String,
    webhook_url_token: String,
    incoming_webhook: String,
    /// Messages the account's owner sends from the phone (`outgoingMessageReceived`).
    outgoing_message_webhook: String,
}

/// setSettings' answer.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SaveAnswer {
    save_settings: bool,
}

/// getStateInstance's answer.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StateAnswer {
    state_instance: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct ContactInfoAnswer {
    chat_id: Option<String>,
    name: Option<String>,
    contact_name: Option<String>,
    avatar: Option<String>,
    email: Option<String>,
    description: Option<String>,
    is_business: Option<bool>,
    phone_number: Option<Value>,
    username: Option<Value>,
}

impl ContactInfoAnswer {
    fn into_contact_info(self, asked: &ChatId) -> ContactInfo {
        let chat_id = self
            .chat_id
            .filter(|id| !id.is_empty())
            .map_or_else(|| asked.clone(), ChatId::from);
        let mut info = ContactInfo::new(chat_id);
        info.phone = phone_of(self.phone_number.as_ref(), &info.chat_id);
        info.username = username(self.username.as_ref());
        info.name = self.name.unwrap_or_default();
        info.contact_name = self.contact_name.unwrap_or_default();
        info.avatar = self.avatar.filter(|text| !text.is_empty());
        info.email = self.email.filter(|text| !text.is_empty());
        info.description = self.description.filter(|text| !text.is_empty());
        info.is_business = self.is_business.unwrap_or(false);
        info
    }
}

/// The part of a lastOutgoingMessages entry that tells a send apart; every field may be
/// missing, and the numbers and objects are read leniently.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct JournalEntry {
    id_message: Option<String>,
    chat_id: Option<String>,
    timestamp: Option<Value>,
    type_message: Option<String>,
    send_by_api: Option<bool>,
    text_message: Option<String>,
    extended_text_message: Option<Value>,
    contact: Option<Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_media_host_is_made_from_an_official_api_host_except_on_telegram() {
        let media = |platform, url: &str| {
            default_media_url(platform, &Url::parse(url).unwrap()).to_string()
        };
        let whatsapp = media(Platform::WhatsApp, "https://7105.api.greenapi.com");
        assert_eq!(whatsapp, "https://7105.media.greenapi.com/");
        let max = media(Platform::Max, "https://3100.api.green-api.com");
        assert_eq!(max, "https://3100.media.green-api.com/");
        let telegram = media(Platform::Telegram, "https://4100.api.green-api.com");
        assert_eq!(telegram, "https://4100.api.green-api.com/");
        let local = media(Platform::WhatsApp, "http://127.0.0.1:9000");
        assert_eq!(local, "http://127.0.0.1:9000/");
        let lookalike = media(
            Platform::WhatsApp,
            "https://x.api.greenapi.com.evil.example",
        );
        assert_eq!(lookalike, "https://x.api.greenapi.com.evil.example/");
    }

    #[test]
    fn contact_not_found_reads_the_id_from_plain_and_json_bodies() {
        let plain = "Contact 20000001 not found";
        assert_eq!(
            contact_not_found(plain, &plain.to_ascii_lowercase()).as_deref(),
            Some("20000001")
        );
        let json = r#"{"message":"Contact 20000001 not found"}"#;
        assert_eq!(
            contact_not_found(json, &json.to_ascii_lowercase()).as_deref(),
            Some("20000001")
        );
        let other = "Validation failed. Details: contact is required";
        assert_eq!(contact_not_found(other, &other.to_ascii_lowercase()), None);
    }

    #[test]
    fn contact_kinds_follow_the_type_unless_the_id_is_a_groups() {
        let person = ChatId::from("10000000");
        let group = ChatId::from("-1001234567890");
        assert_eq!(contact_kind(Some("bot"), &person), PeerKind::Bot);
        assert_eq!(
            contact_kind(Some("supergroup"), &group),
            PeerKind::Supergroup
        );
        assert_eq!(contact_kind(Some("user"), &group), PeerKind::Group);
        assert_eq!(contact_kind(Some("robot"), &person), PeerKind::User);
        assert_eq!(contact_kind(None, &group), PeerKind::Group);
    }

    #[test]
    fn zero_is_a_hidden_phone_and_usernames_lose_their_at() {
        assert!(is_hidden(Some(&Value::from(0))));
        assert!(is_hidden(Some(&Value::from("000"))));
        assert!(!is_hidden(Some(&Value::from(79001234567_u64))));
        assert!(!is_hidden(None));
        assert_eq!(
            username(Some(&Value::from(" @ivan_tsarevich"))).as_deref(),
            Some("ivan_tsarevich")
        );
        assert_eq!(username(Some(&Value::from("@"))), None);
        assert_eq!(username(Some(&Value::from(7))), None, "not text");
        assert_eq!(username(None), None);
    }

    #[test]
    fn phone_comes_from_the_field_or_a_c_us_chat_id() {
        let chat = ChatId::from("79001234567@c.us");
        assert_eq!(
            phone_of(Some(&Value::from(79876543210_u64)), &chat).as_deref(),
            Some("79876543210")
        );
        assert_eq!(
            phone_of(Some(&Value::from(0)), &chat).as_deref(),
            Some("79001234567")
        );
        assert_eq!(phone_of(None, &ChatId::from("10000002")), None);
        assert_eq!(
            phone_of(Some(&Value::from(0)), &ChatId::from("10000002")),
            None
        );
    }
}
