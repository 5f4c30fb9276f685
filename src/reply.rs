//! What a bot can send besides text and contact cards: a [`File`] by URL, an [`Upload`] from
//! this machine, a [`Location`], a [`Poll`] and [`Buttons`]. Each gateway client checks them against its documented rules before sending
//! (see [`Capabilities`](crate::gateway::Capabilities)); a handler sends them with
//! [`reply_file`](crate::context::Scope::reply_file),
//! [`reply_location`](crate::context::Scope::reply_location),
//! [`reply_poll`](crate::context::Scope::reply_poll) and
//! [`reply_buttons`](crate::context::Scope::reply_buttons).
//!
//! These sends are retried as texts are (see [`RetryPolicy`](crate::gateway::RetryPolicy)),
//! except that after a failure that leaves open whether the gateway took one, no journal is
//! read: it is reported as [`Error::SendUnconfirmed`](crate::Error::SendUnconfirmed), never
//! repeated blindly.
//!
//! ```
//! use hookbot::reply::{File, Location, Poll};
//! use hookbot::event::MediaKind;
//!
//! let menu = File::new("https://example.com/menu.pdf", "menu.pdf").caption("Today's menu");
//! assert_eq!(menu.kind, MediaKind::Document);
//! let shop = Location::new(55.7539, 37.6208).name("The shop").address("Red Square, 1");
//! let lunch = Poll::new("Lunch?", ["Soup", "Salad"]).multiple_answers(true);
//! # let _ = (shop, lunch);
//! ```

use crate::event::{self, Media, MediaKind};

/// A file the gateway fetches from a URL and sends, with its file name and an optional caption.
///
/// GREEN-API tells the file's type by the name's extension; Z-API by [`kind`](File::kind),
/// which [`File::new`] guesses from the extension too.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct File {
    /// Where the gateway downloads the file (absolute `http` or `https`).
    pub url: String,
    /// The name the chat shows, with its extension (`menu.pdf`).
    pub file_name: String,
    /// The text under the file.
    pub caption: Option<String>,
    /// Image, video, audio or document.
    pub kind: MediaKind,
}

impl File {
    /// The file at `url` named `file_name`; its kind guessed from the name's extension
    /// (`jpg`, `png`, ... an image; `mp4`, ... a video; `mp3`, `ogg`, ... audio; else a
    /// document).
    pub fn new(url: impl Into<String>, file_name: impl Into<String>) -> Self {
        let file_name = file_name.into();
        Self {
            url: url.into(),
            kind: kind_of_name(&file_name),
            file_name,
            caption: None,
        }
    }

    /// The same file as a received one: its download URL, file name (or one made from the
    /// URL and its kind), caption and kind; `None` when the gateway gave no URL.
    pub fn from_media(media: &Media) -> Option<Self> {
        let url = media.url.clone()?;
        let file_name = media
            .file_name
            .clone()
            .filter(|name| has_extension(name))
            .or_else(|| name_in_url(&url))
            .unwrap_or_else(|| format!("file.{}", default_extension(media.kind)));
        Some(Self {
            url,
            file_name,
            caption: media.caption.clone().filter(|caption| !caption.is_empty()),
            kind: media.kind,
        })
    }

    /// Writes `caption` under the file.
    #[must_use]
    pub fn caption(mut self, caption: impl Into<String>) -> Self {
        self.caption = Some(caption.into());
        self
    }

    /// Sends it as `kind` rather than the kind guessed from its name.
    #[must_use]
    pub fn kind(mut self, kind: MediaKind) -> Self {
        self.kind = kind;
        self
    }

    /// The file name's extension, lower case, without the dot (`pdf`).
    pub(crate) fn extension(&self) -> Option<String> {
        extension(&self.file_name).map(str::to_ascii_lowercase)
    }
}

/// A location pin: latitude and longitude in degrees, optionally the place's name and address.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Location {
    /// Latitude in degrees, -90 to 90.
    pub latitude: f64,
    /// Longitude in degrees, -180 to 180.
    pub longitude: f64,
    /// The place's name.
    pub name: Option<String>,
    /// The place's address.
    pub address: Option<String>,
}

impl Location {
    /// The pin at `latitude`, `longitude` (degrees).
    pub fn new(latitude: f64, longitude: f64) -> Self {
        Self {
            latitude,
            longitude,
            name: None,
            address: None,
        }
    }

    /// The same pin as a received one (name and address too); `None` without coordinates.
    pub fn from_received(location: &event::Location) -> Option<Self> {
        Some(Self {
            latitude: location.latitude?,
            longitude: location.longitude?,
            name: location.name.clone().filter(|name| !name.is_empty()),
            address: location
                .address
                .clone()
                .filter(|address| !address.is_empty()),
        })
    }

    /// Names the place.
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Gives the place's address.
    #[must_use]
    pub fn address(mut self, address: impl Into<String>) -> Self {
        self.address = Some(address.into());
        self
    }
}

/// A poll: a question, 2 to 12 different options, and whether a person may pick several.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Poll {
    /// The question.
    pub question: String,
    /// The options, each different.
    pub options: Vec<String>,
    /// Whether a person may pick several options (one by default).
    pub multiple_answers: bool,
}

impl Poll {
    /// Asks `question` with `options`, one answer each.
    pub fn new(
        question: impl Into<String>,
        options: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        Self {
            question: question.into(),
            options: options.into_iter().map(Into::into).collect(),
            multiple_answers: false,
        }
    }

    /// The same poll as a received one: its question, options and answer mode (no votes).
    pub fn from_received(poll: &event::Poll) -> Self {
        Self {
            question: poll.name.clone(),
            options: poll.options.clone(),
            multiple_answers: poll.multiple_answers,
        }
    }

    /// Lets a person pick several options.
    #[must_use]
    pub fn multiple_answers(mut self, multiple: bool) -> Self {
        self.multiple_answers = multiple;
        self
    }
}

/// A file sent from this machine: read from a path (streamed, never held in memory whole, to
/// GREEN-API's media host) or given as bytes; with its file name and an optional caption.
/// GREEN-API takes up to 100 MB; Z-API takes it as base64 inside the send, up to the same.
///
/// ```no_run
/// use hookbot::reply::Upload;
///
/// # fn run() -> hookbot::Result<()> {
/// let report = Upload::from_path("reports/2026-11.pdf").caption("November");
/// let chart = Upload::from_bytes(vec![0x89, b'P', b'N', b'G'], "chart.png");
/// # let _ = (report, chart); Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Upload {
    /// Where the file's bytes come from.
    pub source: UploadSource,
    /// The name the chat shows, with its extension.
    pub file_name: String,
    /// The text under the file.
    pub caption: Option<String>,
    /// Image, video, audio or document (guessed from the name's extension).
    pub kind: MediaKind,
}

/// Where an [`Upload`]'s bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UploadSource {
    /// A file on this machine, read as it is sent (again for each attempt).
    Path(std::path::PathBuf),
    /// Bytes in memory.
    Bytes(bytes::Bytes),
}

impl Upload {
    /// The file at `path`, named as its last component.
    pub fn from_path(path: impl Into<std::path::PathBuf>) -> Self {
        let path = path.into();
        let file_name = path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        Self::with(UploadSource::Path(path), file_name)
    }

    /// `bytes`, named `file_name`.
    pub fn from_bytes(bytes: impl Into<bytes::Bytes>, file_name: impl Into<String>) -> Self {
        Self::with(UploadSource::Bytes(bytes.into()), file_name.into())
    }

    fn with(source: UploadSource, file_name: String) -> Self {
        Self {
            source,
            kind: kind_of_name(&file_name),
            file_name,
            caption: None,
        }
    }

    /// Names the file `file_name` in the chat.
    #[must_use]
    pub fn file_name(mut self, file_name: impl Into<String>) -> Self {
        self.file_name = file_name.into();
        self
    }

    /// Writes `caption` under the file.
    #[must_use]
    pub fn caption(mut self, caption: impl Into<String>) -> Self {
        self.caption = Some(caption.into());
        self
    }

    /// Sends it as `kind` rather than the kind guessed from its name.
    #[must_use]
    pub fn kind(mut self, kind: MediaKind) -> Self {
        self.kind = kind;
        self
    }

    /// The file's MIME type, from its name's extension (`application/octet-stream` when
    /// unknown).
    pub(crate) fn mime_type(&self) -> &'static str {
        mime_of_name(&self.file_name)
    }

    /// The file's size in bytes.
    pub(crate) async fn size(&self) -> std::io::Result<u64> {
        match &self.source {
            UploadSource::Path(path) => Ok(tokio::fs::metadata(path).await?.len()),
            UploadSource::Bytes(bytes) => Ok(bytes.len() as u64),
        }
    }
}

fn mime_of_name(name: &str) -> &'static str {
    let extension = extension(name).unwrap_or_default().to_ascii_lowercase();
    match extension.as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "bmp" => "image/bmp",
        "mp4" => "video/mp4",
        "3gp" => "video/3gpp",
        "mov" => "video/quicktime",
        "mkv" => "video/x-matroska",
        "webm" => "video/webm",
        "avi" => "video/x-msvideo",
        "mp3" => "audio/mpeg",
        "ogg" | "oga" | "opus" => "audio/ogg",
        "m4a" => "audio/mp4",
        "aac" => "audio/aac",
        "wav" => "audio/wav",
        "amr" => "audio/amr",
        "pdf" => "application/pdf",
        "txt" => "text/plain",
        "csv" => "text/csv",
        "zip" => "application/zip",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xls" => "application/vnd.ms-excel",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        _ => "application/octet-stream",
    }
}

/// A message with buttons under it (GREEN-API WhatsApp interactive buttons, **beta**; Z-API
/// button lists and button actions). The gateways warn that buttons may not show on every
/// device. A pressed reply button reaches the bot as a
/// [`Content::ButtonReply`](crate::Content::ButtonReply) with the button's id.
///
/// ```
/// use hookbot::reply::{Button, Buttons};
///
/// let order = Buttons::new("Your order is ready. Pick it up?")
///     .header("Order 42")
///     .button(Button::reply("yes", "Yes, now"))
///     .button(Button::reply("later", "Later"));
/// # let _ = order;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Buttons {
    /// The message's text.
    pub text: String,
    /// A title above the text.
    pub header: Option<String>,
    /// A small text under it.
    pub footer: Option<String>,
    /// The buttons, 1 to 3.
    pub buttons: Vec<Button>,
}

impl Buttons {
    /// A message of `text`, with no buttons yet.
    pub fn new(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            header: None,
            footer: None,
            buttons: Vec::new(),
        }
    }

    /// Puts `header` above the text.
    #[must_use]
    pub fn header(mut self, header: impl Into<String>) -> Self {
        self.header = Some(header.into());
        self
    }

    /// Puts `footer` under the text.
    #[must_use]
    pub fn footer(mut self, footer: impl Into<String>) -> Self {
        self.footer = Some(footer.into());
        self
    }

    /// Adds `button`.
    #[must_use]
    pub fn button(mut self, button: Button) -> Self {
        self.buttons.push(button);
        self
    }

    /// Whether every button is a [`reply`](Button::reply) button.
    pub(crate) fn replies_only(&self) -> bool {
        self.buttons
            .iter()
            .all(|button| matches!(button.action, ButtonAction::Reply))
    }
}

/// One button of [`Buttons`]: its id, its label, and what pressing it does.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Button {
    /// The id the bot gets back when a reply button is pressed.
    pub id: String,
    /// The label on the button.
    pub label: String,
    /// What pressing it does.
    pub action: ButtonAction,
}

/// What pressing a [`Button`] does.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ButtonAction {
    /// Sends the button's id back to the bot.
    Reply,
    /// Opens a URL.
    Url(String),
    /// Calls a phone number (digits only).
    Call(String),
    /// Copies a code to the clipboard (GREEN-API only).
    Copy(String),
}

impl Button {
    /// A button whose press comes back to the bot with `id`.
    pub fn reply(id: impl Into<String>, label: impl Into<String>) -> Self {
        Self::with(id, label, ButtonAction::Reply)
    }

    /// A button that opens `url`.
    pub fn url(id: impl Into<String>, label: impl Into<String>, url: impl Into<String>) -> Self {
        Self::with(id, label, ButtonAction::Url(url.into()))
    }

    /// A button that calls `phone` (digits only, with the country code).
    pub fn call(id: impl Into<String>, label: impl Into<String>, phone: impl Into<String>) -> Self {
        Self::with(id, label, ButtonAction::Call(phone.into()))
    }

    /// A button that copies `code`.
    pub fn copy(id: impl Into<String>, label: impl Into<String>, code: impl Into<String>) -> Self {
        Self::with(id, label, ButtonAction::Copy(code.into()))
    }

    fn with(id: impl Into<String>, label: impl Into<String>, action: ButtonAction) -> Self {
        Self {
            id: id.into(),
            label: label.into(),
            action,
        }
    }
}

fn extension(name: &str) -> Option<&str> {
    let (stem, extension) = name.rsplit_once('.')?;
    let fits = !stem.is_empty()
        && !extension.is_empty()
        && extension.len() <= 8
        && extension.bytes().all(|byte| byte.is_ascii_alphanumeric());
    fits.then_some(extension)
}

/// Whether `name` ends in an extension (`menu.pdf`).
pub(crate) fn has_extension(name: &str) -> bool {
    extension(name).is_some()
}

/// The last segment of `url`'s path, when it is a file name with an extension.
fn name_in_url(url: &str) -> Option<String> {
    let url = url::Url::parse(url).ok()?;
    let last = url.path_segments()?.next_back()?;
    has_extension(last).then(|| last.to_owned())
}

fn default_extension(kind: MediaKind) -> &'static str {
    match kind {
        MediaKind::Image => "jpg",
        MediaKind::Video => "mp4",
        MediaKind::Audio => "ogg",
        MediaKind::Sticker => "webp",
        _ => "bin",
    }
}

fn kind_of_name(name: &str) -> MediaKind {
    let extension = extension(name).unwrap_or_default().to_ascii_lowercase();
    match extension.as_str() {
        "jpg" | "jpeg" | "png" | "gif" | "webp" | "bmp" => MediaKind::Image,
        "mp4" | "3gp" | "mov" | "mkv" | "webm" | "avi" => MediaKind::Video,
        "mp3" | "ogg" | "oga" | "opus" | "m4a" | "aac" | "wav" | "amr" => MediaKind::Audio,
        _ => MediaKind::Document,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_kind_is_guessed_from_its_extension() {
        assert_eq!(File::new("https://x/a", "a.JPG").kind, MediaKind::Image);
        assert_eq!(File::new("https://x/a", "a.mp4").kind, MediaKind::Video);
        assert_eq!(File::new("https://x/a", "a.ogg").kind, MediaKind::Audio);
        assert_eq!(File::new("https://x/a", "a.pdf").kind, MediaKind::Document);
        assert_eq!(File::new("https://x/a", "noext").kind, MediaKind::Document);
        assert_eq!(
            File::new("https://x/a", "a.PDF").extension().as_deref(),
            Some("pdf")
        );
        assert!(!has_extension(".hidden") && !has_extension("a.") && !has_extension("a"));
    }
}
