//! The sandbox's own JSON API, for the web chat and for scripts in any language, and the web
//! chat page itself.
//!
//! | request | answer |
//! |---|---|
//! | `GET /` | the web chat page |
//! | `GET /sandbox/instance` | `{"platform", "messenger", "idInstance"}`: which messenger it emulates |
//! | `GET /sandbox/contacts` | `[{"chatId", "name", "contactName", "phone", "username"?, "type"}]` |
//! | `POST /sandbox/messages` `{"from", "chat"?, "text", "quoted"?}` | `{"idMessage"}`, or 400 `{"error"}` |
//! | `GET /sandbox/messages?chat=<chat id>` | the chat's entries in order, or 400 `{"error"}` |
//! | `POST /sandbox/votes` `{"from", "chat"?, "poll", "options": [..]}` | a vote (`pollUpdateMessage` to the bot): `{"idMessage"}`, or 400 `{"error"}` |
//! | `POST /sandbox/presses` `{"from", "chat"?, "message", "buttonId"}` | a pressed reply button (`interactiveButtonsResponse` to the bot): `{"idMessage"}`, or 400 `{"error"}` |
//! | `GET /sandbox/files/{id}/{name}` | a file the bot uploaded with sendFileByUpload |
//! | `GET /sandbox/events` | Server-Sent Events: one `message` event per new entry |

use std::convert::Infallible;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::stream::{self, Stream};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;

use super::Sandbox;
use super::chat::UserMessage;
use crate::id::{ChatId, MessageId};

/// The web chat: one self-contained HTML page.
const PAGE: &str = include_str!("page.html");

/// `/` and `/sandbox/*`.
pub(crate) fn routes() -> Router<Sandbox> {
    Router::new()
        .route("/", get(page))
        .route("/sandbox/instance", get(instance))
        .route("/sandbox/contacts", get(contacts))
        .route("/sandbox/messages", get(history).post(post_message))
        .route("/sandbox/votes", post(post_vote))
        .route("/sandbox/presses", post(post_press))
        .route("/sandbox/files/{id}/{name}", get(super::files::serve))
        .route("/sandbox/events", get(events))
}

async fn page() -> Response {
    ([(CONTENT_TYPE, "text/html; charset=utf-8")], PAGE).into_response()
}

/// Which messenger the sandbox emulates, and its instance id.
async fn instance(State(sandbox): State<Sandbox>) -> Response {
    let platform = sandbox.platform();
    Json(json!({
        "platform": platform.name(),
        "messenger": platform.messenger(),
        "idInstance": sandbox.instance(),
    }))
    .into_response()
}

/// The contact list, in one shape for every platform.
async fn contacts(State(sandbox): State<Sandbox>) -> Response {
    let contacts: Vec<_> = sandbox
        .shared
        .contacts
        .iter()
        .map(|contact| {
            let mut entry = json!({
                "chatId": contact.chat_id, "name": contact.name,
                "contactName": contact.contact_name, "phone": contact.phone,
                "type": contact.kind.name(),
            });
            if let Some(username) = &contact.username {
                entry["username"] = json!(username);
            }
            entry
        })
        .collect();
    Json(contacts).into_response()
}

/// The body of `POST /sandbox/messages`.
#[derive(Deserialize)]
struct NewMessage {
    from: String,
    chat: Option<String>,
    text: String,
    quoted: Option<String>,
}

/// Sends a message as a person.
async fn post_message(State(sandbox): State<Sandbox>, body: Bytes) -> Response {
    let message = match serde_json::from_slice::<NewMessage>(&body) {
        Ok(message) => message,
        Err(error) => {
            return bad_request(&format!(
                "the body must be {{\"from\", \"chat\"?, \"text\", \"quoted\"?}}: {error}"
            ));
        }
    };
    let mut user_message = UserMessage::text(message.from, message.text);
    user_message.chat = message
        .chat
        .filter(|chat| !chat.is_empty())
        .map(ChatId::from);
    user_message.quoted = message
        .quoted
        .filter(|id| !id.is_empty())
        .map(MessageId::from);
    match sandbox.send(user_message).await {
        Ok(id) => Json(json!({"idMessage": id})).into_response(),
        Err(error) => bad_request(&error.to_string()),
    }
}

/// The body of `POST /sandbox/votes`.
#[derive(Deserialize)]
struct NewVote {
    from: String,
    chat: Option<String>,
    poll: String,
    options: Vec<String>,
}

/// Votes on a poll as a person.
async fn post_vote(State(sandbox): State<Sandbox>, body: Bytes) -> Response {
    let vote = match serde_json::from_slice::<NewVote>(&body) {
        Ok(vote) => vote,
        Err(error) => {
            return bad_request(&format!(
                "the body must be {{\"from\", \"chat\"?, \"poll\", \"options\"}}: {error}"
            ));
        }
    };
    let person = person(vote.from, vote.chat);
    let answer = sandbox
        .vote(&person, &MessageId::from(vote.poll), &vote.options)
        .await;
    match answer {
        Ok(id) => Json(json!({"idMessage": id})).into_response(),
        Err(error) => bad_request(&error.to_string()),
    }
}

/// The body of `POST /sandbox/presses`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NewPress {
    from: String,
    chat: Option<String>,
    message: String,
    button_id: String,
}

/// Presses a reply button as a person.
async fn post_press(State(sandbox): State<Sandbox>, body: Bytes) -> Response {
    let press = match serde_json::from_slice::<NewPress>(&body) {
        Ok(press) => press,
        Err(error) => {
            return bad_request(&format!(
                "the body must be {{\"from\", \"chat\"?, \"message\", \"buttonId\"}}: {error}"
            ));
        }
    };
    let person = person(press.from, press.chat);
    let answer = sandbox
        .press(&person, &MessageId::from(press.message), &press.button_id)
        .await;
    match answer {
        Ok(id) => Json(json!({"idMessage": id})).into_response(),
        Err(error) => bad_request(&error.to_string()),
    }
}

/// A person acting in their private chat, or in the group `chat`.
fn person(from: String, chat: Option<String>) -> UserMessage {
    let mut person = UserMessage::text(from, "");
    person.chat = chat.filter(|chat| !chat.is_empty()).map(ChatId::from);
    person
}

/// The query of `GET /sandbox/messages`.
#[derive(Deserialize)]
struct HistoryQuery {
    chat: Option<String>,
}

/// One chat's entries, in order.
async fn history(
    State(sandbox): State<Sandbox>,
    query: Result<Query<HistoryQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let chat = query
        .ok()
        .and_then(|Query(query)| query.chat)
        .filter(|chat| !chat.is_empty());
    match chat {
        Some(chat) => Json(sandbox.history(&ChatId::from(chat))).into_response(),
        None => {
            bad_request("the query parameter chat is required: /sandbox/messages?chat=<chat id>")
        }
    }
}

/// Every new entry, as a Server-Sent Event named `message` with the entry's JSON.
async fn events(
    State(sandbox): State<Sandbox>,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let entries = sandbox.subscribe();
    let stream = stream::unfold(entries, |mut entries| async move {
        loop {
            match entries.recv().await {
                Ok(entry) => {
                    let event = SseEvent::default()
                        .event("message")
                        .id(entry.id.as_str())
                        .json_data(&entry);
                    match event {
                        Ok(event) => return Some((Ok(event), entries)),
                        Err(error) => tracing::debug!(%error, "entry not serialisable; skipped"),
                    }
                }
                Err(RecvError::Lagged(missed)) => {
                    tracing::debug!(missed, "an SSE client fell behind; entries skipped");
                }
                Err(RecvError::Closed) => return None,
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

/// 400 `{"error": reason}`, one line.
fn bad_request(reason: &str) -> Response {
    let reason = reason.replace(['\n', '\r'], " ");
    (StatusCode::BAD_REQUEST, Json(json!({"error": reason}))).into_response()
}
