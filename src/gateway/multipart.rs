//! `multipart/form-data` bodies for uploads: text fields, then one file part streamed from
//! its source (a file is read chunk by chunk as the request goes out, and again for each
//! attempt), with a known length.

use std::hash::{BuildHasher, Hasher};

use bytes::Bytes;
use futures_util::{StreamExt, stream};
use tokio::io::AsyncReadExt;
use tokio_util::io::ReaderStream;

use crate::reply::{Upload, UploadSource};

/// A multipart body: its fields, the file part's field name, and the file.
#[derive(Debug)]
pub(crate) struct Multipart {
    boundary: String,
    fields: Vec<(&'static str, String)>,
    file_field: &'static str,
    upload: Upload,
    size: u64,
}

impl Multipart {
    /// A body of `fields` and the file `upload` of `size` bytes as the part `file_field`.
    pub(crate) fn new(
        fields: Vec<(&'static str, String)>,
        file_field: &'static str,
        upload: Upload,
        size: u64,
    ) -> Self {
        Self {
            boundary: boundary(),
            fields,
            file_field,
            upload,
            size,
        }
    }

    /// The `Content-Type` header, with the boundary.
    pub(crate) fn content_type(&self) -> String {
        format!("multipart/form-data; boundary={}", self.boundary)
    }

    /// The body's length in bytes.
    pub(crate) fn content_length(&self) -> u64 {
        (self.head().len() + self.tail().len()) as u64 + self.size
    }

    /// The body, the file streamed from its source; fails when the file cannot be opened.
    pub(crate) async fn body(&self) -> std::io::Result<reqwest::Body> {
        let head = stream::once(std::future::ready(Ok(Bytes::from(self.head()))));
        let tail = stream::once(std::future::ready(Ok(Bytes::from(self.tail()))));
        let file = match &self.upload.source {
            UploadSource::Path(path) => {
                let file = tokio::fs::File::open(path).await?;
                ReaderStream::new(file.take(self.size)).boxed()
            }
            UploadSource::Bytes(bytes) => {
                stream::once(std::future::ready(Ok(bytes.clone()))).boxed()
            }
        };
        Ok(reqwest::Body::wrap_stream(head.chain(file).chain(tail)))
    }

    /// The text fields and the file part's headers.
    fn head(&self) -> Vec<u8> {
        let mut head = String::new();
        for (name, value) in &self.fields {
            head.push_str(&format!(
                "--{}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n",
                self.boundary
            ));
        }
        head.push_str(&format!(
            "--{}\r\nContent-Disposition: form-data; name=\"{}\"; filename=\"{}\"\r\nContent-Type: {}\r\n\r\n",
            self.boundary,
            self.file_field,
            quoted(&self.upload.file_name),
            self.upload.mime_type(),
        ));
        head.into_bytes()
    }

    /// The end of the file part and of the body.
    fn tail(&self) -> Vec<u8> {
        format!("\r\n--{}--\r\n", self.boundary).into_bytes()
    }
}

/// A boundary no file is likely to contain: 128 random bits.
fn boundary() -> String {
    let random = || {
        std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish()
    };
    format!("hookbot-{:016x}{:016x}", random(), random())
}

/// A file name fit for a quoted header parameter: quotes and line breaks percent-encoded, as
/// browsers write them.
fn quoted(name: &str) -> String {
    name.replace('"', "%22")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_body_is_as_long_as_it_says_and_ends_with_the_boundary() {
        let upload = Upload::from_bytes(&b"%PDF-1.7"[..], "a\"b.pdf");
        let multipart = Multipart::new(vec![("chatId", "1@c.us".into())], "file", upload, 8);
        let body = multipart.body().await.unwrap();
        let bytes = http_body_util::BodyExt::collect(body)
            .await
            .unwrap()
            .to_bytes();
        assert_eq!(bytes.len() as u64, multipart.content_length());
        let text = String::from_utf8(bytes.to_vec()).unwrap();
        assert!(text.contains("filename=\"a%22b.pdf\""), "{text}");
        assert!(text.ends_with(&format!("--{}--\r\n", multipart.boundary)));
    }
}
