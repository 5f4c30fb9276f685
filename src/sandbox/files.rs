//! Files the bot uploaded with sendFileByUpload, kept in memory and served back at
//! `GET /sandbox/files/{id}/{fileName}`, so that the web chat can show them. Bounded: each file
//! by the sandbox's upload limit, and all of them by [`MAX_FILES`] and [`MAX_TOTAL_BYTES`]; the
//! oldest go first.

use std::collections::VecDeque;
use std::sync::Mutex;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_SECURITY_POLICY, CONTENT_TYPE,
};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use super::Sandbox;
use super::chat::new_message_id;
use super::state::lock;

/// The most uploaded files kept.
pub(crate) const MAX_FILES: usize = 64;
/// The most bytes of uploaded files kept, in all.
pub(crate) const MAX_TOTAL_BYTES: usize = 256 * 1024 * 1024;

/// The uploaded files, oldest first.
#[derive(Default)]
pub(crate) struct Files {
    kept: Mutex<VecDeque<Stored>>,
}

struct Stored {
    id: String,
    name: String,
    bytes: Bytes,
}

impl Files {
    /// Keeps `bytes` as `name` (dropping the oldest files past the bounds); the path it is
    /// served at.
    pub(crate) fn keep(&self, name: &str, bytes: Bytes) -> String {
        let id = new_message_id().to_string();
        let path = format!("/sandbox/files/{id}/{}", encode(name));
        let mut kept = lock(&self.kept);
        kept.push_back(Stored {
            id,
            name: name.to_owned(),
            bytes,
        });
        let mut total: usize = kept.iter().map(|file| file.bytes.len()).sum();
        while kept.len() > MAX_FILES || (total > MAX_TOTAL_BYTES && kept.len() > 1) {
            if let Some(dropped) = kept.pop_front() {
                total -= dropped.bytes.len();
            }
        }
        path
    }

    /// The file `id`: its name and bytes.
    fn get(&self, id: &str) -> Option<(String, Bytes)> {
        lock(&self.kept)
            .iter()
            .find(|file| file.id == id)
            .map(|file| (file.name.clone(), file.bytes.clone()))
    }
}

/// `GET /sandbox/files/{id}/{name}`: the file, as a picture, sound, video or PDF the browser
/// shows, or else as a download; never as a page of the sandbox's own origin.
pub(crate) async fn serve(
    State(sandbox): State<Sandbox>,
    Path((id, _name)): Path<(String, String)>,
) -> Response {
    let Some((name, bytes)) = sandbox.shared.files.get(&id) else {
        return (StatusCode::NOT_FOUND, "no such file").into_response();
    };
    let kind = media_type(&name);
    let disposition = match kind {
        Some(_) => "inline".to_owned(),
        None => format!(
            "attachment; filename=\"{}\"",
            name.replace(['"', '\\'], "_")
        ),
    };
    (
        [
            (
                CONTENT_TYPE,
                kind.unwrap_or("application/octet-stream").to_owned(),
            ),
            (CONTENT_DISPOSITION, disposition),
            (CONTENT_SECURITY_POLICY, "sandbox".to_owned()),
            (CACHE_CONTROL, "private, max-age=3600".to_owned()),
        ],
        bytes,
    )
        .into_response()
}

/// The media type of the kinds of files a browser shows safely, by extension.
fn media_type(name: &str) -> Option<&'static str> {
    let extension = name.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match extension.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        "mp3" => "audio/mpeg",
        "ogg" | "oga" => "audio/ogg",
        "pdf" => "application/pdf",
        "txt" => "text/plain; charset=utf-8",
        _ => return None,
    })
}

/// `name` as one URL path segment.
fn encode(name: &str) -> String {
    url::form_urlencoded::byte_serialize(name.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_files_go_first_past_the_count() {
        let files = Files::default();
        let first = files.keep("a.txt", Bytes::from_static(b"a"));
        for _ in 0..MAX_FILES {
            files.keep("b.txt", Bytes::from_static(b"b"));
        }
        let id = first.split('/').nth(3).unwrap();
        assert!(files.get(id).is_none());
        assert_eq!(lock(&files.kept).len(), MAX_FILES);
    }

    #[test]
    fn only_harmless_kinds_are_shown_inline() {
        assert_eq!(media_type("menu.JPG"), Some("image/jpeg"));
        assert_eq!(media_type("page.html"), None);
        assert_eq!(media_type("logo.svg"), None);
        assert_eq!(encode("my menu.pdf"), "my%20menu.pdf");
    }
}
