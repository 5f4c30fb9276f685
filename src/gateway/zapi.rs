//! The Z-API family: Z-API and its clones (PlugzAPI), which share paths, bodies and webhooks and
//! differ only in the host (`{base_url}/instances/{id}/token/{token}/{method}`).
//!
//! All of Z-API's REST wire shapes live in this module.

mod contact_list;
pub(crate) mod notification;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

use base64::Engine;

use super::endpoint::{Endpoint, Endpoints};
use super::green_api::rules::whatsapp_phone;
use super::green_api::upload_size;
use super::rate_limit::Limiter;
use super::transport::{Call, Idempotency, Transport, common_error};
use super::validate::{self, is_digits};
use super::{
    Capabilities, ClientSettings, Gateway, GatewayKind, PollLimits, SendOptions, SentMessage,
    TypingKind, WebhookChange, WebhookTarget, base_url, log_dropped,
};
use crate::contact::{Contact, ContactCard, ContactInfo, ContactKind, non_blank};
use crate::error::{Error, Result, Rule, ValidationError};
use crate::event::{InstanceState, MediaKind};
use crate::id::{ChatId, MessageId};
use crate::reply;
use crate::secret::Secret;
use contact_list::{EntryFields, ListedContact};

/// `delayMessage` and `delayTyping` bounds, in seconds.
const DELAY_SECONDS: (u64, u64) = (1, 15);
/// WhatsApp's own limit on a text message, in characters (Z-API documents none of its own).
const MAX_TEXT_CHARS: usize = 65536;
/// Digits of a phone number: a national number with its country code, at most E.164's 15.
const PHONE_DIGITS: (usize, usize) = (8, 15);
/// Contacts asked for per page of `contacts`.
const CONTACTS_PAGE_SIZE: usize = 1000;
/// A bound on pages, against a server that ignores `page`.
const MAX_CONTACT_PAGES: usize = 1000;

/// The longest caption under a file, in characters (Z-API documents none: WhatsApp's reported
/// limit, as on GREEN-API).
const MAX_CAPTION_CHARS: usize = 1024;
/// Z-API's polls: WhatsApp's limits (a question of up to 255 characters, 2 to 12 options).
const POLLS: PollLimits = PollLimits {
    max_question_chars: 255,
    options: (2, 12),
    multiple_answers: true,
    groups_only: false,
};

/// The largest file uploaded as base64 (Z-API documents none: GREEN-API's 100 MB, WhatsApp's
/// own media limit).
const MAX_UPLOAD_BYTES: u64 = 100 * 1024 * 1024;

const ZAPI_CHAT: &str = "a Z-API phone or group id: digits, digits-digits or digits-group";

/// A client of one Z-API (or PlugzAPI) instance.
///
/// Cheap to clone; clones share the instance's rate limits.
///
/// ```no_run
/// use hookbot::gateway::ZApi;
///
/// # fn run() -> hookbot::Result<()> {
/// let zapi = ZApi::builder("https://api.z-api.io", "3C4A1B2C3D4E5F", "instance-token")
///     .client_token("account-security-token")
///     .build()?;
/// let plugzapi = ZApi::builder("https://api.plugzapi.com.br", "3C4A1B2C3D4E5F", "instance-token").build()?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ZApi {
    inner: Arc<Inner>,
}

struct Inner {
    base_url: Url,
    instance: String,
    token: Secret,
    transport: Transport,
    /// Each method's endpoint built so far, so that a call shares it instead of encoding and
    /// parsing its URL again.
    endpoints: Endpoints,
}

/// Builds a [`ZApi`] client; finish with [`build`](ZApiBuilder::build).
#[derive(Debug)]
#[must_use]
pub struct ZApiBuilder {
    base_url: String,
    instance: String,
    token: Secret,
    client_token: Option<Secret>,
    settings: ClientSettings,
}

impl ZApi {
    /// A client of the instance `instance` with its instance token, at `base_url`
    /// (`https://api.z-api.io`, `https://api.plugzapi.com.br`).
    pub fn builder(
        base_url: impl Into<String>,
        instance: impl Into<String>,
        token: impl Into<Secret>,
    ) -> ZApiBuilder {
        ZApiBuilder {
            base_url: base_url.into(),
            instance: instance.into(),
            token: token.into(),
            client_token: None,
            settings: ClientSettings::default(),
        }
    }

    /// `{base_url}/instances/{id}/token/{token}/{segments...}`.
    fn url(&self, segments: &[&str]) -> Url {
        let inner = &*self.inner;
        let mut url = inner.base_url.clone();
        url.path_segments_mut()
            .expect("the builder accepts only base URLs")
            .pop_if_empty()
            .extend(["instances", &inner.instance, "token", inner.token.expose()])
            .extend(segments);
        url
    }

    /// `{base_url}/instances/{id}/token/{token}/{method}`, built once per method and kept.
    fn endpoint(&self, method: &'static str) -> &Endpoint {
        self.inner.endpoints.get(method, || self.url(&[method]))
    }

    /// A delay option in whole seconds, checked.
    fn seconds(
        field: &'static str,
        delay: Option<Duration>,
    ) -> Result<Option<u64>, ValidationError> {
        delay
            .map(|delay| validate::seconds(field, delay, DELAY_SECONDS.0, DELAY_SECONDS.1))
            .transpose()
    }

    /// POSTs `body` to `method` under the send rate limit and reads the new message's id. Z-API
    /// keeps no journal a client can read: a failure that leaves open whether it took the
    /// message is reported, not repeated (see [`RetryPolicy`](super::RetryPolicy)).
    async fn send_message<B: Serialize>(
        &self,
        method: &'static str,
        body: &B,
    ) -> Result<SentMessage> {
        let limiter = &self.inner.transport.limiters.send;
        self.send_limited(method, body, limiter).await
    }

    /// [`send_message`](Self::send_message) under `limiter`.
    async fn send_limited<B: Serialize>(
        &self,
        method: &'static str,
        body: &B,
        limiter: &Limiter,
    ) -> Result<SentMessage> {
        let body = serde_json::to_vec(body)
            .expect("request bodies are plain structs that always serialise");
        let call = Call {
            name: method,
            method: Method::POST,
            endpoint: self.endpoint(method),
            body: Some(body.into()),
            limiter,
            idempotency: Idempotency::Send,
        };
        self.sent(method, call).await
    }

    /// Makes the send `call` of `method` and reads the new message's id.
    async fn sent(&self, method: &'static str, call: Call<'_>) -> Result<SentMessage> {
        let answer = self.inner.transport.send(call, zapi_error).await?;
        let sent: SendAnswer = self.inner.transport.decode(method, &answer)?;
        Ok(SentMessage::new(sent.message_id.or(sent.id).ok_or_else(
            || Error::InvalidResponse {
                reason: format!("{method}: no messageId in the answer"),
            },
        )?))
    }

    /// A POST of `body` to `method` under `limiter`, which may be repeated.
    fn post<'a, B: Serialize>(
        &'a self,
        method: &'static str,
        body: &B,
        limiter: &'a Limiter,
    ) -> Call<'a> {
        Call {
            name: method,
            method: Method::POST,
            endpoint: self.endpoint(method),
            body: Some(
                serde_json::to_vec(body)
                    .expect("request bodies are plain structs that always serialise")
                    .into(),
            ),
            limiter,
            idempotency: Idempotency::Repeatable,
        }
    }

    /// send-document/{extension}: a separate path per file type, the same call otherwise.
    async fn send_document(
        &self,
        body: &SendFileBody<'_>,
        extension: &str,
        limiter: &Limiter,
    ) -> Result<SentMessage> {
        const METHOD: &str = "send-document";
        let body = serde_json::to_vec(body)
            .expect("request bodies are plain structs that always serialise");
        let mut url = self.url(&[METHOD]);
        url.path_segments_mut()
            .expect("the builder accepts only base URLs")
            .push(extension);
        let call = Call {
            name: METHOD,
            method: Method::POST,
            endpoint: &url.into(),
            body: Some(body.into()),
            limiter,
            idempotency: Idempotency::Send,
        };
        self.sent(METHOD, call).await
    }

    /// Sends `file` (by URL, or a base64 data URI) to `chat` with the method of its kind:
    /// send-image, send-video, send-audio or send-document/{extension}; no sticker.
    async fn send_media(
        &self,
        chat: &ChatId,
        file: &reply::File,
        options: &SendOptions,
    ) -> Result<SentMessage> {
        let (method, field) = match file.kind {
            MediaKind::Image => ("send-image", "image"),
            MediaKind::Video => ("send-video", "video"),
            MediaKind::Audio => ("send-audio", "audio"),
            MediaKind::Document => ("send-document", "document"),
            _ => {
                return Err(Error::Unsupported {
                    gateway: GatewayKind::ZApi,
                    what: "a sticker",
                });
            }
        };
        Self::drop_media_options(options, method);
        let body = SendFileBody {
            phone: chat.as_str(),
            field,
            url: &file.url,
            file_name: (file.kind == MediaKind::Document).then_some(file.file_name.as_str()),
            caption: file.caption.as_deref(),
        };
        let limiter = &self.inner.transport.limiters.file;
        match file.kind {
            MediaKind::Document => {
                let extension = file.extension().unwrap_or_default();
                self.send_document(&body, &extension, limiter).await
            }
            _ => self.send_limited(method, &body, limiter).await,
        }
    }

    /// Logs the options that `method` (a file, location or poll) does not take: quote, typing,
    /// delay.
    fn drop_media_options(options: &SendOptions, method: &'static str) {
        if options.quote.is_some() {
            log_dropped(GatewayKind::ZApi, method, "quote");
        }
        if options.typing.is_some() || options.typing_kind.is_some() {
            log_dropped(GatewayKind::ZApi, method, "typing");
        }
        if options.delay.is_some() {
            log_dropped(GatewayKind::ZApi, method, "delay");
        }
    }

    async fn get(&self, name: &'static str, url: Url, lookup: Lookup) -> Result<Bytes> {
        let limiters = &self.inner.transport.limiters;
        let limiter = match lookup {
            Lookup::Contacts => &limiters.contacts,
            Lookup::ContactInfo => &limiters.contact_info,
        };
        let call = Call {
            name,
            method: Method::GET,
            endpoint: &url.into(),
            body: None,
            limiter,
            idempotency: Idempotency::Repeatable,
        };
        self.inner.transport.send(call, zapi_error).await
    }

    /// PUTs `body` to the instance setting `method` and checks the answer's `value: true`.
    async fn update<B: Serialize>(&self, method: &'static str, body: &B) -> Result<()> {
        let body = serde_json::to_vec(body)
            .expect("request bodies are plain structs that always serialise");
        let call = Call {
            name: method,
            method: Method::PUT,
            endpoint: self.endpoint(method),
            body: Some(body.into()),
            limiter: &self.inner.transport.limiters.settings,
            idempotency: Idempotency::Repeatable,
        };
        let answer = self.inner.transport.send(call, zapi_error).await?;
        let updated: UpdateAnswer = self.inner.transport.decode(method, &answer)?;
        if updated.value {
            Ok(())
        } else {
            Err(Error::InvalidResponse {
                reason: format!("{method}: the gateway did not take the setting"),
            })
        }
    }

    async fn contacts_page(&self, page: usize) -> Result<Vec<ListedContact>> {
        let mut url = self.url(&["contacts"]);
        url.query_pairs_mut()
            .append_pair("page", &page.to_string())
            .append_pair("pageSize", &CONTACTS_PAGE_SIZE.to_string());
        self.inner.transport.decode(
            "contacts",
            &self.get("contacts", url, Lookup::Contacts).await?,
        )
    }
}

/// Which look-up limiter a GET waits on.
enum Lookup {
    Contacts,
    ContactInfo,
}

impl ZApiBuilder {
    /// The account's security token, sent as the `Client-Token` header.
    pub fn client_token(mut self, token: impl Into<Secret>) -> Self {
        self.client_token = Some(token.into());
        self
    }

    /// Time-outs, retries, rate limits (shared by replicas with
    /// [`ClientSettings::shared_limits`]) and HTTP client.
    pub fn settings(mut self, settings: ClientSettings) -> Self {
        self.settings = settings;
        self
    }

    /// Checks the URL and instance id and builds the client.
    pub fn build(self) -> Result<ZApi> {
        let base_url = base_url("base_url", &self.base_url)?;
        if self.instance.is_empty()
            || !self
                .instance
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric())
        {
            return Err(ValidationError::new(
                "instance",
                Rule::Required {
                    why: "Z-API instance ids are letters and digits",
                },
            )
            .into());
        }
        let mut headers = HeaderMap::new();
        let mut secrets = vec![self.token.clone()];
        if let Some(client_token) = self.client_token {
            let mut value = HeaderValue::from_str(client_token.expose()).map_err(|_| {
                ValidationError::new(
                    "client_token",
                    Rule::Required {
                        why: "a header value: visible ASCII only",
                    },
                )
            })?;
            value.set_sensitive(true);
            headers.insert("Client-Token", value);
            secrets.push(client_token);
        }
        let settings = self.settings;
        let transport = Transport::new(
            settings,
            (GatewayKind::ZApi, &self.instance),
            headers,
            secrets,
        );
        let inner = Inner {
            base_url,
            instance: self.instance,
            token: self.token,
            transport,
            endpoints: Endpoints::default(),
        };
        Ok(ZApi {
            inner: Arc::new(inner),
        })
    }
}

#[async_trait]
impl Gateway for ZApi {
    fn kind(&self) -> GatewayKind {
        GatewayKind::ZApi
    }

    fn instance(&self) -> &str {
        &self.inner.instance
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            max_text_chars: MAX_TEXT_CHARS,
            quote_text: true,
            quote_contact: true,
            typing_text: true,
            typing_kind: false,
            typing_contact: false,
            delay: true,
            quote_media: false,
            max_caption_chars: MAX_CAPTION_CHARS,
            polls: POLLS,
            buttons: true,
            typing: false,
            mark_read: true,
            forward: true,
        }
    }

    async fn send_text(
        &self,
        chat: &ChatId,
        text: &str,
        options: &SendOptions,
    ) -> Result<SentMessage> {
        validate::chat_id("chat", chat, is_zapi_chat, ZAPI_CHAT)?;
        validate::text("text", text, MAX_TEXT_CHARS)?;
        if options.typing_kind.is_some() {
            log_dropped(GatewayKind::ZApi, "send-text", "typing kind");
        }
        let body = SendTextBody {
            phone: chat.as_str(),
            message: text,
            message_id: options.quote.as_ref().map(|id| id.as_str()),
            delay_message: Self::seconds("options.delay", options.delay)?,
            delay_typing: Self::seconds("options.typing", options.typing)?,
        };
        self.send_message("send-text", &body).await
    }

    async fn send_contact(
        &self,
        chat: &ChatId,
        card: &ContactCard,
        options: &SendOptions,
    ) -> Result<SentMessage> {
        validate::chat_id("chat", chat, is_zapi_chat, ZAPI_CHAT)?;
        let contact_name =
            contact_name(card).ok_or(ValidationError::new("card", Rule::NameRequired))?;
        let contact_phone = contact_phone(card)?;
        if options.typing.is_some() {
            log_dropped(GatewayKind::ZApi, "send-contact", "typing");
        }
        let body = SendContactBody {
            phone: chat.as_str(),
            contact_name: &contact_name,
            contact_phone,
            contact_business_description: non_blank(card.description.as_deref()),
            message_id: options.quote.as_ref().map(|id| id.as_str()),
            delay_message: Self::seconds("options.delay", options.delay)?,
        };
        self.send_message("send-contact", &body).await
    }

    /// `status`: connected to a phone or not, with Z-API's explanation.
    async fn instance_state(&self) -> Result<InstanceState> {
        const METHOD: &str = "status";
        let call = Call {
            name: METHOD,
            method: Method::GET,
            endpoint: self.endpoint(METHOD),
            body: None,
            limiter: &self.inner.transport.limiters.instance_state,
            idempotency: Idempotency::Repeatable,
        };
        let answer = self.inner.transport.send(call, zapi_error).await?;
        let status: StatusAnswer = self.inner.transport.decode(METHOD, &answer)?;
        Ok(notification::connection_state(
            status.connected,
            status.error,
        ))
    }

    /// update-webhook-received with the webhook's URL and token, then
    /// update-notify-sent-by-me, so that what the owner sends from the phone arrives too. Z-API
    /// cannot be asked what is set, so both are always written. The token is taken out of any
    /// error.
    async fn point_webhook(&self, webhook: &WebhookTarget) -> Result<WebhookChange> {
        let url = webhook.url_with_token();
        let written = async {
            self.update(
                "update-webhook-received",
                &ValueBody {
                    value: url.as_str(),
                },
            )
            .await?;
            self.update(
                "update-notify-sent-by-me",
                &NotifySentByMeBody {
                    notify_sent_by_me: true,
                },
            )
            .await
        };
        match (written.await, webhook.token()) {
            (Ok(()), _) => Ok(WebhookChange::Written),
            (Err(error), Some(token)) => Err(without_secret(error, token)),
            (Err(error), None) => Err(error),
        }
    }

    async fn send_file(
        &self,
        chat: &ChatId,
        file: &reply::File,
        options: &SendOptions,
    ) -> Result<SentMessage> {
        validate::chat_id("chat", chat, is_zapi_chat, ZAPI_CHAT)?;
        validate::file(file, MAX_CAPTION_CHARS)?;
        self.send_media(chat, file, options).await
    }

    async fn send_upload(
        &self,
        chat: &ChatId,
        upload: &reply::Upload,
        options: &SendOptions,
    ) -> Result<SentMessage> {
        validate::chat_id("chat", chat, is_zapi_chat, ZAPI_CHAT)?;
        validate::upload(upload, MAX_CAPTION_CHARS)?;
        upload_size(upload, MAX_UPLOAD_BYTES).await?;
        let bytes = match &upload.source {
            reply::UploadSource::Path(path) => {
                Bytes::from(tokio::fs::read(path).await.map_err(|error| Error::File {
                    source: Arc::new(error),
                })?)
            }
            reply::UploadSource::Bytes(bytes) => bytes.clone(),
        };
        let data = format!(
            "data:{};base64,{}",
            upload.mime_type(),
            base64::engine::general_purpose::STANDARD.encode(&bytes)
        );
        let mut file = reply::File::new(data, upload.file_name.clone()).kind(upload.kind);
        file.caption = upload.caption.clone();
        self.send_media(chat, &file, options).await
    }

    async fn send_location(
        &self,
        chat: &ChatId,
        location: &reply::Location,
        options: &SendOptions,
    ) -> Result<SentMessage> {
        const METHOD: &str = "send-location";
        validate::chat_id("chat", chat, is_zapi_chat, ZAPI_CHAT)?;
        validate::location(location)?;
        let body = SendLocationBody {
            phone: chat.as_str(),
            title: location_text("location.name", location.name.as_deref())?,
            address: location_text("location.address", location.address.as_deref())?,
            latitude: location.latitude.to_string(),
            longitude: location.longitude.to_string(),
        };
        Self::drop_media_options(options, METHOD);
        let limiter = &self.inner.transport.limiters.location;
        self.send_limited(METHOD, &body, limiter).await
    }

    async fn send_poll(
        &self,
        chat: &ChatId,
        poll: &reply::Poll,
        options: &SendOptions,
    ) -> Result<SentMessage> {
        const METHOD: &str = "send-poll";
        validate::chat_id("chat", chat, is_zapi_chat, ZAPI_CHAT)?;
        validate::poll(poll, POLLS.max_question_chars, POLLS.options)?;
        Self::drop_media_options(options, METHOD);
        let body = SendPollBody {
            phone: chat.as_str(),
            message: &poll.question,
            poll: poll
                .options
                .iter()
                .map(|option| PollOption { name: option })
                .collect(),
            poll_max_options: (!poll.multiple_answers).then_some(1),
        };
        let limiter = &self.inner.transport.limiters.poll;
        self.send_limited(METHOD, &body, limiter).await
    }

    async fn send_buttons(
        &self,
        chat: &ChatId,
        buttons: &reply::Buttons,
        options: &SendOptions,
    ) -> Result<SentMessage> {
        validate::chat_id("chat", chat, is_zapi_chat, ZAPI_CHAT)?;
        validate::buttons(buttons, MAX_TEXT_CHARS)?;
        let limiter = &self.inner.transport.limiters.buttons;
        if buttons.replies_only() {
            const METHOD: &str = "send-button-list";
            Self::drop_media_options(options, METHOD);
            if buttons.header.is_some() || buttons.footer.is_some() {
                log_dropped(GatewayKind::ZApi, METHOD, "header and footer");
            }
            let body = SendButtonListBody {
                phone: chat.as_str(),
                message: &buttons.text,
                button_list: ButtonList {
                    buttons: buttons
                        .buttons
                        .iter()
                        .map(|button| ListButton {
                            id: &button.id,
                            label: &button.label,
                        })
                        .collect(),
                },
            };
            return self.send_limited(METHOD, &body, limiter).await;
        }
        const METHOD: &str = "send-button-actions";
        Self::drop_media_options(options, METHOD);
        let button_actions = buttons
            .buttons
            .iter()
            .map(button_action)
            .collect::<Option<Vec<_>>>()
            .ok_or(Error::Unsupported {
                gateway: GatewayKind::ZApi,
                what: "a copy button",
            })?;
        let body = SendButtonActionsBody {
            phone: chat.as_str(),
            message: &buttons.text,
            title: buttons.header.as_deref(),
            footer: buttons.footer.as_deref(),
            button_actions,
        };
        self.send_limited(METHOD, &body, limiter).await
    }

    async fn download_url(&self, _chat: &ChatId, _message: &MessageId) -> Result<String> {
        // Z-API's callbacks carry each file's URL; it has no method to ask for one.
        Err(Error::Unsupported {
            gateway: GatewayKind::ZApi,
            what: "a download URL of a received file (its callback carries it)",
        })
    }

    async fn send_typing(
        &self,
        _chat: &ChatId,
        _duration: Duration,
        _kind: Option<TypingKind>,
    ) -> Result<()> {
        // Z-API shows typing only before a text (`delayTyping`, see `SendOptions::typing`).
        Err(Error::Unsupported {
            gateway: GatewayKind::ZApi,
            what: "a typing indicator without a message",
        })
    }

    async fn mark_read(&self, chat: &ChatId, message: Option<&MessageId>) -> Result<()> {
        const METHOD: &str = "read-message";
        validate::chat_id("chat", chat, is_zapi_chat, ZAPI_CHAT)?;
        let message = message.ok_or(ValidationError::new(
            "message",
            Rule::Required {
                why: "Z-API read-message marks one message read",
            },
        ))?;
        let body = ReadMessageBody {
            phone: chat.as_str(),
            message_id: message.as_str(),
        };
        let call = self.post(METHOD, &body, &self.inner.transport.limiters.read);
        self.inner.transport.send(call, zapi_error).await?;
        Ok(())
    }

    async fn forward(
        &self,
        chat: &ChatId,
        from: &ChatId,
        messages: &[MessageId],
    ) -> Result<Vec<SentMessage>> {
        const METHOD: &str = "forward-message";
        validate::chat_id("chat", chat, is_zapi_chat, ZAPI_CHAT)?;
        validate::chat_id("from", from, is_zapi_chat, ZAPI_CHAT)?;
        validate::message_ids("messages", messages)?;
        let limiter = &self.inner.transport.limiters.forward;
        let mut forwarded = Vec::with_capacity(messages.len());
        for message in messages {
            let body = ForwardMessageBody {
                phone: chat.as_str(),
                message_id: message.as_str(),
                message_phone: from.as_str(),
            };
            forwarded.push(self.send_limited(METHOD, &body, limiter).await?);
        }
        Ok(forwarded)
    }

    async fn call_method(&self, method: &str, body: Option<&Value>) -> Result<Value> {
        validate::method_name("method", method, true)?;
        let mut url = self.url(&[]);
        url.path_segments_mut()
            .expect("the builder accepts only base URLs")
            .extend(method.split('/'));
        let limiter = &self.inner.transport.limiters.other;
        let body = body.map(|body| {
            serde_json::to_vec(body)
                .expect("a JSON value always serialises")
                .into()
        });
        let endpoint = url.into();
        let call = Call::generic(&endpoint, body, limiter);
        let answer = self.inner.transport.send(call, zapi_error).await?;
        self.inner.transport.decode_any(method, &answer)
    }

    async fn contacts(&self) -> Result<Vec<Contact>> {
        let mut contacts = Vec::new();
        for page in 1..=MAX_CONTACT_PAGES {
            let entries = self.contacts_page(page).await?;
            let last = entries.len() < CONTACTS_PAGE_SIZE;
            contacts.extend(entries.into_iter().filter_map(|entry| entry.0));
            if last {
                break;
            }
        }
        Ok(contacts)
    }

    async fn contact_info(&self, chat: &ChatId) -> Result<ContactInfo> {
        validate::chat_id("chat", chat, is_zapi_chat, ZAPI_CHAT)?;
        validate::individual_chat("chat", chat)?;
        let answer = self
            .get(
                "contacts/{phone}",
                self.url(&["contacts", chat.as_str()]),
                Lookup::ContactInfo,
            )
            .await?;
        let info: ContactAnswer = self.inner.transport.decode("contacts/{phone}", &answer)?;
        let mut contact_info = ContactInfo::new(chat.clone());
        contact_info.phone = info
            .phone
            .filter(|phone| is_digits(phone))
            .or_else(|| Some(chat.to_string()));
        contact_info.name = info.notify.or(info.vname).unwrap_or_default();
        contact_info.contact_name = info.name.or(info.short).unwrap_or_default();
        contact_info.avatar = info.img_url.filter(|url| !url.is_empty());
        contact_info.description = info.about.filter(|about| !about.is_empty());
        Ok(contact_info)
    }
}

impl fmt::Debug for ZApi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ZApi")
            .field("base_url", &self.inner.base_url.as_str())
            .field("instance", &self.inner.instance)
            .field("token", &self.inner.token)
            .finish()
    }
}

/// The card's full name, else its company.
/// A location's name or address, which send-location requires.
fn location_text<'a>(
    field: &'static str,
    value: Option<&'a str>,
) -> Result<&'a str, ValidationError> {
    non_blank(value).ok_or(ValidationError::new(
        field,
        Rule::Required {
            why: "Z-API send-location takes a title and an address",
        },
    ))
}

fn contact_name(card: &ContactCard) -> Option<String> {
    let full_name = card.full_name();
    if full_name.is_empty() {
        non_blank(card.company.as_deref()).map(|company| company.trim().to_owned())
    } else {
        Some(full_name)
    }
}

/// The card's phone, else the digits of its chat id (Z-API digits or WhatsApp `@c.us`).
fn contact_phone(card: &ContactCard) -> Result<&str, ValidationError> {
    validate::phone_shown("card.phone", card)?;
    let phone = card
        .phone
        .as_deref()
        .or_else(|| {
            let chat = card.chat_id.as_ref()?.as_str();
            Some(whatsapp_phone(chat).unwrap_or(chat))
        })
        .ok_or(ValidationError::new(
            "card.phone",
            Rule::Required {
                why: "Z-API shares a contact by phone number",
            },
        ))?;
    validate::phone("card.phone", phone, PHONE_DIGITS.0, PHONE_DIGITS.1)?;
    Ok(phone)
}

/// Digits (a person), `digits-digits` or `digits-group` (a group).
fn is_zapi_chat(id: &str) -> bool {
    match id.split_once('-') {
        Some((owner, "group")) => is_digits(owner),
        Some((owner, created)) => is_digits(owner) && is_digits(created),
        None => is_digits(id),
    }
}

/// Z-API answers errors as `{"error": "..."}`; a missing `Client-Token` is "null not allowed".
/// `error` with `secret` taken out of the gateway's words it quotes.
fn without_secret(error: Error, secret: &Secret) -> Error {
    match error {
        Error::Gateway { status, body } => Error::Gateway {
            status,
            body: secret.redact(&body),
        },
        Error::InvalidResponse { reason } => Error::InvalidResponse {
            reason: secret.redact(&reason),
        },
        other => other,
    }
}

fn zapi_error(status: StatusCode, body: &str, retry_after: Option<Duration>) -> Error {
    if status == StatusCode::BAD_REQUEST && body.to_ascii_lowercase().contains("null not allowed") {
        Error::Unauthorized
    } else {
        common_error(status, body, retry_after)
    }
}

/// One `contacts` entry as a [`Contact`]: `name` is the phone-book name, `notify` the person's own.
fn contact_from_answer(entry: EntryFields) -> Option<Contact> {
    let chat_id = ChatId::from(entry.phone.filter(|phone| !phone.is_empty())?);
    let kind = if chat_id.is_group() {
        ContactKind::Group
    } else {
        ContactKind::User
    };
    let mut contact = Contact::new(chat_id, kind);
    contact.phone = is_digits(contact.chat_id.as_str()).then(|| contact.chat_id.as_str().into());
    contact.name = entry.notify.or(entry.vname).unwrap_or_default().into();
    contact.contact_name = entry.name.or(entry.short).unwrap_or_default().into();
    Some(contact)
}

// ---- wire shapes ----

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SendTextBody<'a> {
    phone: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    message_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    delay_message: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    delay_typing: Option<u64>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SendContactBody<'a> {
    phone: &'a str,
    contact_name: &'a str,
    contact_phone: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    contact_business_description: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    delay_message: Option<u64>,
}

/// update-webhook-received's body.
#[derive(Serialize)]
struct ValueBody<'a> {
    value: &'a str,
}

/// update-notify-sent-by-me's body.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NotifySentByMeBody {
    notify_sent_by_me: bool,
}

/// The answer of an instance setting's update.
#[derive(Deserialize)]
struct UpdateAnswer {
    #[serde(default)]
    value: bool,
}

/// `status`' answer.
#[derive(Deserialize)]
struct StatusAnswer {
    #[serde(default)]
    connected: bool,
    #[serde(default)]
    error: Option<String>,
}

/// send-image, send-video, send-audio `{phone, image|video|audio, caption?}` and
/// send-document `{phone, document, fileName, caption?}`.
struct SendFileBody<'a> {
    phone: &'a str,
    /// `image`, `video`, `audio` or `document`: the name of the URL's field.
    field: &'static str,
    url: &'a str,
    file_name: Option<&'a str>,
    caption: Option<&'a str>,
}

impl Serialize for SendFileBody<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("phone", self.phone)?;
        map.serialize_entry(self.field, self.url)?;
        if let Some(file_name) = self.file_name {
            map.serialize_entry("fileName", file_name)?;
        }
        if let Some(caption) = self.caption {
            map.serialize_entry("caption", caption)?;
        }
        map.end()
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SendButtonListBody<'a> {
    phone: &'a str,
    message: &'a str,
    button_list: ButtonList<'a>,
}

#[derive(Serialize)]
struct ButtonList<'a> {
    buttons: Vec<ListButton<'a>>,
}

#[derive(Serialize)]
struct ListButton<'a> {
    id: &'a str,
    label: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SendButtonActionsBody<'a> {
    phone: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    footer: Option<&'a str>,
    button_actions: Vec<ButtonActionBody<'a>>,
}

/// One of send-button-actions' buttons: `type` CALL, URL or REPLY.
#[derive(Serialize)]
struct ButtonActionBody<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    phone: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<&'a str>,
    label: &'a str,
}

/// The send-button-actions form of `button`; `None` for a copy button, which Z-API lacks.
fn button_action(button: &reply::Button) -> Option<ButtonActionBody<'_>> {
    let (kind, phone, url) = match &button.action {
        reply::ButtonAction::Reply => ("REPLY", None, None),
        reply::ButtonAction::Call(phone) => ("CALL", Some(phone.as_str()), None),
        reply::ButtonAction::Url(url) => ("URL", None, Some(url.as_str())),
        reply::ButtonAction::Copy(_) => return None,
    };
    Some(ButtonActionBody {
        id: &button.id,
        kind,
        phone,
        url,
        label: &button.label,
    })
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ReadMessageBody<'a> {
    phone: &'a str,
    message_id: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ForwardMessageBody<'a> {
    phone: &'a str,
    message_id: &'a str,
    message_phone: &'a str,
}

/// send-location: the coordinates as strings.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SendLocationBody<'a> {
    phone: &'a str,
    title: &'a str,
    address: &'a str,
    latitude: String,
    longitude: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SendPollBody<'a> {
    phone: &'a str,
    message: &'a str,
    poll: Vec<PollOption<'a>>,
    /// 1 for a single answer; left out for several.
    #[serde(skip_serializing_if = "Option::is_none")]
    poll_max_options: Option<u8>,
}

#[derive(Serialize)]
struct PollOption<'a> {
    name: &'a str,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SendAnswer {
    message_id: Option<String>,
    id: Option<String>,
}

/// An entry of `contacts`, and the answer of `contacts/{phone}`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ContactAnswer {
    phone: Option<String>,
    name: Option<String>,
    short: Option<String>,
    notify: Option<String>,
    vname: Option<String>,
    img_url: Option<String>,
    about: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zapi_chat_ids() {
        for id in [
            "5544999999999",
            "120363019502650977-group",
            "5511999999999-1623281429",
        ] {
            assert!(is_zapi_chat(id), "{id}");
        }
        for id in [
            "+5544999999999",
            "5544999999999@c.us",
            "-group",
            "1-2-3",
            "",
        ] {
            assert!(!is_zapi_chat(id), "{id}");
        }
    }

    #[test]
    fn contact_name_prefers_the_full_name_then_the_company() {
        let card = ContactCard::new()
            .first_name("Ana")
            .last_name("Souza")
            .company("Plug");
        assert_eq!(contact_name(&card).as_deref(), Some("Ana Souza"));
        let card = ContactCard::new().company(" Plug ");
        assert_eq!(contact_name(&card).as_deref(), Some("Plug"));
        assert_eq!(contact_name(&ContactCard::new().first_name(" ")), None);
    }
}
