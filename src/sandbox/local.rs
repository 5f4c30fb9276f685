//! The sandbox is a local tool: its writes come from scripts, bots and its own web chat, never
//! from another site a browser on the same machine happens to show. Every request that changes
//! something (any method but GET, HEAD and OPTIONS) must carry a JSON content type (when it has
//! a body; sendFileByUpload a `multipart/form-data` one, as GREEN-API takes it) and, when it carries an `Origin`, the sandbox's own; and its webhook stays on this
//! machine unless the sandbox was told otherwise.

use axum::Json;
use axum::extract::Request;
use axum::http::header::{CONTENT_TYPE, HOST, ORIGIN};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Refuses a cross-site write: 403 for a foreign `Origin` (or `Sec-Fetch-Site: cross-site`),
/// 415 for a body that is not declared JSON (an HTML form's).
pub(crate) async fn same_site_writes(request: Request, next: Next) -> Response {
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) {
        return next.run(request).await;
    }
    let headers = request.headers();
    if !same_origin(headers) {
        return refusal(
            StatusCode::FORBIDDEN,
            "cross-site request refused: the sandbox takes writes only from its own page, scripts and bots",
        );
    }
    let upload = is_upload(request.uri().path()) && is_type(headers, "multipart/form-data");
    if has_body(headers) && !is_type(headers, "application/json") && !upload {
        return refusal(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the body must be JSON, sent with Content-Type: application/json",
        );
    }
    next.run(request).await
}

/// Whether the request comes from no other site: no `Origin`, or one naming the host the
/// request was sent to; and no browser saying it is cross-site.
fn same_origin(headers: &HeaderMap) -> bool {
    let cross_site = headers
        .get("sec-fetch-site")
        .is_some_and(|site| site.as_bytes().eq_ignore_ascii_case(b"cross-site"));
    if cross_site {
        return false;
    }
    let Some(origin) = headers.get(ORIGIN) else {
        return true;
    };
    let host = headers.get(HOST).and_then(|host| host.to_str().ok());
    let origin_host = origin.to_str().ok().and_then(|origin| {
        origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"))
    });
    matches!((origin_host, host), (Some(origin), Some(host)) if origin.eq_ignore_ascii_case(host))
}

/// Whether the request declares a body.
fn has_body(headers: &HeaderMap) -> bool {
    headers.contains_key(CONTENT_TYPE)
        || headers.contains_key("transfer-encoding")
        || headers
            .get("content-length")
            .is_some_and(|length| length.as_bytes() != b"0")
}

/// Whether the body is declared of the media type `essence` (parameters allowed).
fn is_type(headers: &HeaderMap, essence: &str) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|declared| declared.trim().eq_ignore_ascii_case(essence))
}

/// Whether `path` calls GREEN-API's sendFileByUpload (`…/sendFileByUpload/{token}`).
fn is_upload(path: &str) -> bool {
    let mut segments = path.trim_end_matches('/').rsplit('/');
    segments.next();
    segments
        .next()
        .is_some_and(|method| method.eq_ignore_ascii_case("sendFileByUpload"))
}

/// Whether `url` names this machine (localhost, 127.0.0.0/8, ::1): where a sandbox may post
/// notifications unless told otherwise.
pub(crate) fn is_loopback_url(url: &str) -> bool {
    match url::Url::parse(url).ok().as_ref().and_then(url::Url::host) {
        Some(url::Host::Domain(domain)) => {
            let domain = domain.trim_end_matches('.').to_ascii_lowercase();
            domain == "localhost" || domain.ends_with(".localhost")
        }
        Some(url::Host::Ipv4(address)) => address.is_loopback(),
        Some(url::Host::Ipv6(address)) => address.is_loopback(),
        None => false,
    }
}

fn refusal(status: StatusCode, text: &str) -> Response {
    (status, Json(json!({"message": text, "error": text}))).into_response()
}

#[cfg(test)]
mod tests {
    use super::{is_loopback_url, is_upload};

    #[test]
    fn only_send_file_by_upload_is_an_upload() {
        assert!(is_upload("/waInstance1101000001/sendFileByUpload/token"));
        assert!(is_upload("/v3/waInstance1/SENDFILEBYUPLOAD/token/"));
        assert!(!is_upload("/waInstance1/sendFileByUrl/token"));
        assert!(!is_upload("/sandbox/messages"));
        assert!(!is_upload("/waInstance1/sendMessage/sendFileByUpload"));
    }

    #[test]
    fn only_this_machine_is_loopback() {
        for url in [
            "http://127.0.0.1:8080/webhook",
            "http://localhost/webhook",
            "http://bot.localhost:9/x",
            "http://[::1]:8080/",
            "http://127.9.9.9/",
        ] {
            assert!(is_loopback_url(url), "{url}");
        }
        for url in [
            "http://example.com/webhook",
            "https://10.0.0.1/",
            "http://localhost.example.com/",
            "http://[::2]/",
            "not a url",
            "",
        ] {
            assert!(!is_loopback_url(url), "{url}");
        }
    }
}
