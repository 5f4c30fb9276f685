//! GREEN-API's REST surface: `/waInstance{id}/{method}/{token}` and
//! `/v3/waInstance{id}/{method}/{token}`, method names in any letter case, as the gateway
//! answers them.

use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::header::{CONTENT_TYPE, HOST};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use subtle::ConstantTimeEq;

use super::chat::{Author, EntryContent};
use super::notification::wid;
use super::rules::{self, Refusal, ReplyMethod};
use super::state::{Shared, lock};
use super::{Platform, Sandbox};
use crate::contact::Contact;
use crate::gateway::green_api::rules::{
    DEFAULT_RECEIVE_TIMEOUT_S, MAX_BODY_BYTES, RECEIVE_TIMEOUT_S,
};
use crate::id::ChatId;
use crate::secret::Secret;

/// The most the sandbox reads of a body, to say which chat an oversized request was for.
const READ_LIMIT: usize = 8 * 1024 * 1024;
/// The most bytes of an upload's form beyond its file (chatId, fileName, caption, ...).
const FORM_FIELDS_BYTES: usize = 256 * 1024;
/// The fields of sendFileByUpload's form other than `file`.
const UPLOAD_FIELDS: [&str; 4] = ["chatId", "fileName", "caption", "quotedMessageId"];

/// The method names the sandbox answers, lower case.
const METHODS: [&str; 9] = [
    "sendmessage",
    "sendcontact",
    "getcontacts",
    "getcontactinfo",
    "receivenotification",
    "deletenotification",
    "getsettings",
    "setsettings",
    "getstateinstance",
];

/// The GREEN-API routes, both path forms, with and without a trailing argument
/// (deleteNotification's `receiptId`).
pub(crate) fn routes() -> Router<Sandbox> {
    Router::new()
        .route("/{instance}/{method}/{token}", any(call))
        .route("/{instance}/{method}/{token}/{argument}", any(call))
        .route("/v3/{instance}/{method}/{token}", any(call))
        .route("/v3/{instance}/{method}/{token}/{argument}", any(call))
}

/// The path of a call: `waInstance{id}`, the method, the token, and an optional argument.
#[derive(Deserialize)]
struct Target {
    instance: String,
    method: String,
    token: String,
    argument: Option<String>,
}

/// One GREEN-API call: instance (403) → token (401) → method (404, 405) → the method itself.
async fn call(
    State(sandbox): State<Sandbox>,
    Path(target): Path<Target>,
    verb: Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let shared = &*sandbox.shared;
    let Some(instance) = target.instance.strip_prefix("waInstance") else {
        return message(StatusCode::NOT_FOUND, "not found");
    };
    if instance != shared.instance {
        return message(StatusCode::FORBIDDEN, "wrong idInstance");
    }
    if !bool::from(
        target
            .token
            .as_bytes()
            .ct_eq(shared.token.expose().as_bytes()),
    ) {
        return message(StatusCode::UNAUTHORIZED, "wrong apiTokenInstance");
    }
    let method = target.method.to_ascii_lowercase();
    let argument = target.argument.as_deref();
    if let Some(reply) = ReplyMethod::of(shared.platform, &method) {
        return match (verb, argument) {
            (Method::POST, None) => send_reply(shared, reply, &headers, body).await,
            _ => message(StatusCode::METHOD_NOT_ALLOWED, "method not allowed"),
        };
    }
    match (method.as_str(), verb, argument) {
        ("sendmessage", Method::POST, None) => send_message(shared, body).await,
        ("sendcontact", Method::POST, None) => send_contact(shared, body).await,
        ("getcontacts", Method::GET, None) => get_contacts(shared, query.as_deref()),
        ("getcontactinfo", Method::POST, None) => contact_info(shared, body).await,
        ("receivenotification", Method::GET, None) => receive(shared, query.as_deref()).await,
        ("deletenotification", Method::DELETE, Some(receipt)) => delete(shared, receipt),
        ("getsettings", Method::GET, None) => Json(settings(shared)).into_response(),
        ("setsettings", Method::POST, None) => set_settings(&sandbox, body).await,
        ("getstateinstance", Method::GET, None) => {
            Json(json!({"stateInstance": "authorized"})).into_response()
        }
        (known, _, _) if METHODS.contains(&known) => {
            message(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
        }
        _ => message(StatusCode::NOT_FOUND, "not found"),
    }
}

/// sendMessage: a text of the bot, recorded in its chat.
async fn send_message(shared: &Shared, body: Body) -> Response {
    const METHOD: &str = "sendMessage";
    let body = match read_object(body).await {
        Ok(body) => body,
        Err((refusal, chat)) => return refuse(shared, METHOD, chat, refusal),
    };
    match rules::send_message(shared.platform, &body) {
        Ok(request) => sent(
            shared,
            request.chat,
            EntryContent::Text(request.text),
            request.quoted,
        ),
        Err(refusal) => refuse(shared, METHOD, rules::named_chat(&body), refusal),
    }
}

/// sendContact: a contact card of the bot, recorded in its chat.
async fn send_contact(shared: &Shared, body: Body) -> Response {
    const METHOD: &str = "sendContact";
    let body = match read_object(body).await {
        Ok(body) => body,
        Err((refusal, chat)) => return refuse(shared, METHOD, chat, refusal),
    };
    match rules::send_contact(shared.platform, &shared.contacts, &body) {
        Ok(request) => sent(
            shared,
            request.chat,
            EntryContent::Contact(request.card),
            request.quoted,
        ),
        Err(refusal) => refuse(shared, METHOD, rules::named_chat(&body), refusal),
    }
}

/// One of the reply methods beyond text and contact cards: checked by its rules, recorded in
/// its chat, answered as GREEN-API answers it.
async fn send_reply(
    shared: &Shared,
    method: ReplyMethod,
    headers: &HeaderMap,
    body: Body,
) -> Response {
    let form = headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            value
                .trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/")
        });
    if method == ReplyMethod::SendFileByUpload && form {
        return upload(shared, headers, body).await;
    }
    let body = match read_object(body).await {
        Ok(body) => body,
        Err((refusal, chat)) => return refuse(shared, method.name(), chat, refusal),
    };
    let platform = shared.platform;
    let answer = match method {
        ReplyMethod::SendFileByUrl => rules::send_file_by_url(platform, &body).map(|reply| {
            sent(
                shared,
                reply.chat,
                EntryContent::File(reply.content),
                reply.quoted,
            )
        }),
        ReplyMethod::SendLocation => rules::send_location(platform, &body).map(|reply| {
            sent(
                shared,
                reply.chat,
                EntryContent::Location(reply.content),
                reply.quoted,
            )
        }),
        ReplyMethod::SendPoll => rules::send_poll(platform, &body).map(|reply| {
            sent(
                shared,
                reply.chat,
                EntryContent::Poll(reply.content),
                reply.quoted,
            )
        }),
        ReplyMethod::SendInteractiveButtons | ReplyMethod::SendInteractiveButtonsReply => {
            let reply_buttons = method == ReplyMethod::SendInteractiveButtonsReply;
            rules::send_buttons(platform, &body, reply_buttons).map(|reply| {
                sent(
                    shared,
                    reply.chat,
                    EntryContent::Buttons(reply.content),
                    reply.quoted,
                )
            })
        }
        ReplyMethod::ForwardMessages => forward(shared, &body),
        ReplyMethod::SendTyping => rules::send_typing(platform, &body).map(|(chat, typing)| {
            shared.record(chat, Author::Bot, EntryContent::Typing(typing), None);
            StatusCode::OK.into_response()
        }),
        ReplyMethod::ReadChat => rules::read_chat(platform, &body).map(|(chat, message)| {
            shared.record(chat, Author::Bot, EntryContent::Read { message }, None);
            Json(json!({"setRead": true})).into_response()
        }),
        // A JSON body: GREEN-API takes uploads as a form only.
        ReplyMethod::SendFileByUpload => Err(not_a_form()),
    };
    answer
        .unwrap_or_else(|refusal| refuse(shared, method.name(), rules::named_chat(&body), refusal))
}

/// forwardMessages: copies of the messages `messages` of `chatIdFrom` in `chatId`, marked
/// forwarded; `{"messages": [new ids]}`. A message the chat does not have is refused.
fn forward(shared: &Shared, body: &Map<String, Value>) -> Result<Response, Refusal> {
    let (chat, from, ids) = rules::forward_messages(shared.platform, body)?;
    let contents = ids
        .iter()
        .map(|id| {
            shared
                .find(&from, id)
                .map(|entry| entry.content)
                .filter(|content| {
                    !matches!(
                        content,
                        EntryContent::Error(_)
                            | EntryContent::Typing(_)
                            | EntryContent::Read { .. }
                    )
                })
                .ok_or_else(|| {
                    Refusal::Validation(format!("message {id} not found in chat {from}"))
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let forwarded: Vec<_> = contents
        .into_iter()
        .map(|content| shared.record_forward(chat.clone(), content).id)
        .collect();
    Ok(Json(json!({"messages": forwarded})).into_response())
}

/// sendFileByUpload: a multipart form (`file`, `chatId`, `fileName`, `caption`,
/// `quotedMessageId`); the file is kept and served back by the sandbox. Answers `{idMessage,
/// urlFile}`.
async fn upload(shared: &Shared, headers: &HeaderMap, body: Body) -> Response {
    const METHOD: &str = "sendFileByUpload";
    let boundary = headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| multer::parse_boundary(value).ok());
    let Some(boundary) = boundary else {
        return refuse(shared, METHOD, None, not_a_form());
    };
    let (fields, file) = match read_form(body, boundary, shared.upload_limit).await {
        Ok(form) => form,
        Err((refusal, fields)) => {
            return refuse(shared, METHOD, rules::named_chat(&fields), refusal);
        }
    };
    let Some((uploaded_name, bytes)) = file else {
        let refusal = Refusal::Validation("file is required".to_owned());
        return refuse(shared, METHOD, rules::named_chat(&fields), refusal);
    };
    let mut reply = match rules::send_file_by_upload(shared.platform, &fields, uploaded_name) {
        Ok(reply) => reply,
        Err(refusal) => return refuse(shared, METHOD, rules::named_chat(&fields), refusal),
    };
    let host = headers
        .get(HOST)
        .and_then(|host| host.to_str().ok())
        .unwrap_or("127.0.0.1");
    let path = shared.files.keep(&reply.content.file_name, bytes);
    reply.content.url = format!("http://{host}{path}");
    let url = reply.content.url.clone();
    let entry = shared.record(
        reply.chat,
        Author::Bot,
        EntryContent::File(reply.content),
        reply.quoted,
    );
    Json(json!({"idMessage": entry.id, "urlFile": url})).into_response()
}

/// The refusal of an upload that is not a `multipart/form-data` form (with its boundary).
fn not_a_form() -> Refusal {
    Refusal::Validation("the body must be a multipart/form-data form".to_owned())
}

/// An upload's form: its text fields, and its `file` (the part's own file name and bytes).
type Form = (Map<String, Value>, Option<(Option<String>, bytes::Bytes)>);

/// Reads an upload's form, the file at most `limit` bytes; a refusal keeps the fields read
/// so far (to say which chat it was for).
async fn read_form(
    body: Body,
    boundary: String,
    limit: usize,
) -> Result<Form, (Refusal, Map<String, Value>)> {
    let sizes = multer::SizeLimit::new()
        .whole_stream(u64::try_from(limit.saturating_add(FORM_FIELDS_BYTES)).unwrap_or(u64::MAX))
        .per_field(u64::try_from(limit).unwrap_or(u64::MAX));
    let constraints = multer::Constraints::new().size_limit(sizes);
    let mut form =
        multer::Multipart::with_constraints(body.into_data_stream(), boundary, constraints);
    let mut fields = Map::new();
    let mut file = None;
    loop {
        let field = match form.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => return Ok((fields, file)),
            Err(error) => return Err((form_refusal(&error, limit), fields)),
        };
        let name = field.name().unwrap_or_default().to_owned();
        if name == "file" {
            let file_name = field.file_name().map(str::to_owned);
            match field.bytes().await {
                Ok(bytes) => file = Some((file_name, bytes)),
                Err(error) => return Err((form_refusal(&error, limit), fields)),
            }
        } else if UPLOAD_FIELDS.contains(&name.as_str()) {
            match field.text().await {
                Ok(text) => {
                    fields.insert(name, Value::String(text));
                }
                Err(error) => return Err((form_refusal(&error, limit), fields)),
            }
        }
    }
}

/// The refusal of a form that could not be read: too large, or not a form.
fn form_refusal(error: &multer::Error, limit: usize) -> Refusal {
    match error {
        multer::Error::FieldSizeExceeded { .. } | multer::Error::StreamSizeExceeded { .. } => {
            Refusal::Validation(format!("file must be at most {limit} bytes"))
        }
        _ => Refusal::Validation("the body is not a valid multipart/form-data form".to_owned()),
    }
}

/// Records an accepted message of the bot and answers its id.
fn sent(
    shared: &Shared,
    chat: ChatId,
    content: EntryContent,
    quoted: Option<crate::id::MessageId>,
) -> Response {
    let entry = shared.record(chat, Author::Bot, content, quoted);
    Json(json!({"idMessage": entry.id})).into_response()
}

/// getContacts (`?count=N`): the contact list in the platform's shape.
fn get_contacts(shared: &Shared, query: Option<&str>) -> Response {
    let count = match query_value(query, "count").map(|count| count.parse::<usize>()) {
        None => usize::MAX,
        Some(Ok(count)) => count,
        Some(Err(_)) => {
            return refuse(
                shared,
                "getContacts",
                None,
                Refusal::Validation("count must be a non-negative integer".to_owned()),
            );
        }
    };
    let entries: Vec<Value> = shared
        .contacts
        .iter()
        .take(count)
        .map(|contact| contact_entry(shared.platform, contact))
        .collect();
    Json(entries).into_response()
}

/// One getContacts entry: WhatsApp `{id, name, contactName, type}`; MAX `{chatId, name,
/// contactName, type, phoneNumber}` (0 when hidden); Telegram adds `username`.
fn contact_entry(platform: Platform, contact: &Contact) -> Value {
    let kind = contact.kind.name();
    match platform {
        Platform::WhatsApp => json!({
            "id": contact.chat_id, "name": contact.name, "contactName": contact.contact_name,
            "type": kind,
        }),
        Platform::Max => json!({
            "chatId": contact.chat_id, "name": contact.name, "contactName": contact.contact_name,
            "type": kind, "phoneNumber": phone_number(contact),
        }),
        Platform::Telegram => json!({
            "chatId": contact.chat_id, "name": contact.name, "contactName": contact.contact_name,
            "type": kind, "phoneNumber": phone_number(contact),
            "username": contact.username.as_deref().unwrap_or_default(),
        }),
    }
}

/// getContactInfo: one person's profile (empty names for a stranger); refused for groups.
async fn contact_info(shared: &Shared, body: Body) -> Response {
    const METHOD: &str = "getContactInfo";
    let body = match read_object(body).await {
        Ok(body) => body,
        Err((refusal, chat)) => return refuse(shared, METHOD, chat, refusal),
    };
    let chat = match rules::contact_info(shared.platform, &body) {
        Ok(chat) => chat,
        Err(refusal) => return refuse(shared, METHOD, rules::named_chat(&body), refusal),
    };
    let known = shared.contact(chat.as_str());
    let name = known.map(|contact| &*contact.name).unwrap_or_default();
    let contact_name = known
        .map(|contact| &*contact.contact_name)
        .unwrap_or_default();
    let info = match shared.platform {
        Platform::WhatsApp => json!({
            "avatar": "", "name": name, "contactName": contact_name, "email": "",
            "category": "", "description": "", "products": [], "chatId": chat,
            "lastSeen": null, "isArchive": false, "isDisappearing": false, "isMute": false,
            "messageExpiration": 0, "muteExpiration": null, "isBusiness": false,
        }),
        Platform::Max => json!({
            "avatar": "", "name": name, "contactName": contact_name, "chatId": chat,
            "lastSeen": null, "phoneNumber": known.map_or(0, phone_number),
        }),
        Platform::Telegram => json!({
            "avatar": "", "name": name, "contactName": contact_name, "chatId": chat,
            "lastSeen": null, "phoneNumber": known.map_or(0, phone_number),
            "username": known.and_then(|contact| contact.username.clone()).unwrap_or_default(),
        }),
    };
    Json(info).into_response()
}

/// receiveNotification (`?receiveTimeout=N` seconds, within GREEN-API's bounds): the head of
/// the queue as `{receiptId, body}`, or `null` when none came in time.
async fn receive(shared: &Shared, query: Option<&str>) -> Response {
    let (min, max) = RECEIVE_TIMEOUT_S;
    let seconds = match query_value(query, "receiveTimeout").map(|value| value.parse::<u64>()) {
        None => DEFAULT_RECEIVE_TIMEOUT_S,
        Some(Ok(seconds)) => seconds.clamp(min, max),
        Some(Err(_)) => {
            return refuse(
                shared,
                "receiveNotification",
                None,
                Refusal::Validation(format!(
                    "receiveTimeout must be an integer from {min} to {max}"
                )),
            );
        }
    };
    match shared.outbox.receive(Duration::from_secs(seconds)).await {
        Some(pending) => {
            Json(json!({"receiptId": pending.receipt, "body": &*pending.body})).into_response()
        }
        None => Json(Value::Null).into_response(),
    }
}

/// deleteNotification: removes the notification `receipt` from the queue.
fn delete(shared: &Shared, receipt: &str) -> Response {
    match receipt.parse::<u64>() {
        Ok(receipt) => Json(json!({"result": shared.outbox.delete(receipt)})).into_response(),
        Err(_) => refuse(
            shared,
            "deleteNotification",
            None,
            Refusal::Validation("receiptId must be an integer".to_owned()),
        ),
    }
}

/// getSettings: GREEN-API's settings object, with the webhook in use (its token never shown:
/// `webhookUrlToken` is empty) and what setSettings stored.
fn settings(shared: &Shared) -> Value {
    let webhook = shared.outbox.webhook();
    let mut settings = json!({
        "wid": wid(shared.platform), "countryInstance": "", "typeAccount": "sandbox",
        "webhookUrl": webhook.as_ref().map(|target| target.url.as_str()).unwrap_or_default(),
        "webhookUrlToken": "",
        "delaySendMessagesMilliseconds": 0, "markIncomingMessagesReaded": "no",
        "markIncomingMessagesReadedOnReply": "no", "outgoingWebhook": "no",
        "outgoingMessageWebhook": "no", "outgoingAPIMessageWebhook": "no",
        "incomingWebhook": "yes", "deviceWebhook": "no", "statusInstanceWebhook": "no",
        "stateWebhook": "no", "enableMessagesHistory": "no", "keepOnlineStatus": "no",
        "pollMessageWebhook": "yes", "incomingBlockWebhook": "no", "incomingCallWebhook": "no",
        "editedMessageWebhook": "no", "deletedMessageWebhook": "no",
    });
    if let Value::Object(settings) = &mut settings {
        for (key, value) in lock(&shared.settings).iter() {
            settings.insert(key.clone(), value.clone());
        }
    }
    settings
}

/// setSettings: `webhookUrl` and `webhookUrlToken` change where notifications go (an empty
/// URL: the queue; another machine's only when the sandbox allows it); the other settings are
/// kept for getSettings.
async fn set_settings(sandbox: &Sandbox, body: Body) -> Response {
    let shared = &*sandbox.shared;
    let mut body = match read_object(body).await {
        Ok(body) => body,
        Err((refusal, _)) => return refuse(shared, "setSettings", None, refusal),
    };
    let current = shared.outbox.webhook();
    let url = match body.remove("webhookUrl") {
        Some(Value::String(url)) => Some(url),
        _ => current.as_ref().map(|target| target.url.clone()),
    };
    if let Some(url) = url.as_deref().filter(|url| !url.trim().is_empty())
        && !shared.remote_webhook
        && !super::local::is_loopback_url(url)
    {
        return refuse(
            shared,
            "setSettings",
            None,
            Refusal::Validation(
                "webhookUrl must be on this machine (localhost, 127.0.0.1, ::1): the sandbox is a local tool".to_owned(),
            ),
        );
    }
    let token = match body.remove("webhookUrlToken") {
        Some(Value::String(token)) => (!token.is_empty()).then(|| Secret::new(token)),
        _ => current.and_then(|target| target.token),
    };
    sandbox.set_webhook(url, token);
    lock(&shared.settings).extend(body);
    Json(json!({"saveSettings": true})).into_response()
}

/// Reads the body as a JSON object of at most 100 KB; a refusal says the chat it named, when
/// it can be read.
async fn read_object(body: Body) -> Result<Map<String, Value>, (Refusal, Option<ChatId>)> {
    let Ok(bytes) = axum::body::to_bytes(body, READ_LIMIT).await else {
        return Err((Refusal::TooLarge, None));
    };
    if bytes.len() > MAX_BODY_BYTES {
        let chat = rules::object(&bytes)
            .ok()
            .and_then(|body| rules::named_chat(&body));
        return Err((Refusal::TooLarge, chat));
    }
    rules::object(&bytes).map_err(|refusal| (refusal, None))
}

/// Answers a refusal with GREEN-API's status and message, and shows it in the chat the
/// request named.
fn refuse(shared: &Shared, method: &str, chat: Option<ChatId>, refusal: Refusal) -> Response {
    let text = refusal.message();
    tracing::debug!(method, reason = %text, "sandbox refused a request");
    if let Some(chat) = chat {
        shared.record_refusal(chat, method, &text);
    }
    message(refusal.status(), &text)
}

/// `{"message": text}` with `status`.
fn message(status: StatusCode, text: &str) -> Response {
    (status, Json(json!({"message": text}))).into_response()
}

/// The value of `key` in a URL query.
fn query_value(query: Option<&str>, key: &str) -> Option<String> {
    url::form_urlencoded::parse(query?.as_bytes())
        .find(|(name, _)| name == key)
        .map(|(_, value)| value.into_owned())
}

/// The contact's phone number as an integer; 0 when hidden or unknown.
fn phone_number(contact: &Contact) -> u64 {
    contact
        .phone
        .as_deref()
        .and_then(|phone| phone.parse().ok())
        .unwrap_or(0)
}
