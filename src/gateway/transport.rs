//! The HTTP path every gateway call takes: rate limit → request → status check → retry.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use reqwest::header::{CONTENT_TYPE, HeaderMap, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use url::Url;

use super::rate_limit::{Limiter, Limiters};
use super::{ClientSettings, GatewayKind, RetryPolicy};
use crate::error::{Error, Result};
use crate::metrics::CallLabels;
use crate::secret::Secret;

/// The longest part of a gateway's error body kept in [`Error::Gateway`].
const MAX_ERROR_BODY_CHARS: usize = 512;

/// Turns a non-success answer (status, whole body with secrets removed, `Retry-After`) into the
/// gateway's typed error; a body kept in the error is [`shorten`]ed.
pub(crate) type ErrorMapper = fn(StatusCode, &str, Option<Duration>) -> Error;

/// One gateway call, ready to send as many times as the retry policy allows.
pub(crate) struct Call<'a> {
    /// The gateway's method name, for logs (`sendContact`, `send-text`).
    pub(crate) name: &'static str,
    pub(crate) method: Method,
    pub(crate) url: Url,
    /// The JSON body, already checked against the gateway's size limit; shared by the
    /// attempts, not copied for each.
    pub(crate) body: Option<Bytes>,
    pub(crate) limiter: &'a Limiter,
}

/// An HTTP client with one instance's rate limits, retry policy and secrets.
#[derive(Debug)]
pub(crate) struct Transport {
    http: reqwest::Client,
    timeout: Duration,
    retry: RetryPolicy,
    headers: HeaderMap,
    secrets: Vec<Secret>,
    pub(crate) limiters: Limiters,
    /// Labels each attempt in `hookbot_gateway_calls_total`, and counts the refusals.
    counted: CallLabels,
}

/// The instance's limiters: shared in Redis when the settings say so, else the client's own.
fn limiters(settings: &ClientSettings, gateway: GatewayKind, instance: &str) -> Limiters {
    #[cfg(feature = "redis")]
    if let Some(redis) = &settings.shared_limits {
        let shared = crate::redis::rate_limit::SharedLimits::new(redis, gateway, instance);
        return Limiters::shared(settings.rate_limits, &shared);
    }
    let _ = (gateway, instance);
    Limiters::new(settings.rate_limits)
}

/// A failed attempt: the error, and how long the gateway asked to wait.
struct Failure {
    error: Error,
    retry_after: Option<Duration>,
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Self {
            error,
            retry_after: None,
        }
    }
}

impl Transport {
    /// A transport to `instance` of `gateway` that sends `headers` with every request,
    /// removes `secrets` from every error body, and counts its attempts.
    pub(crate) fn new(
        settings: ClientSettings,
        (gateway, instance): (GatewayKind, &str),
        headers: HeaderMap,
        secrets: Vec<Secret>,
    ) -> Result<Self> {
        let limiters = limiters(&settings, gateway, instance);
        let http = match settings.http {
            Some(http) => http,
            None => reqwest::Client::builder()
                .user_agent(concat!("hookbot/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(transport_error)?,
        };
        Ok(Self {
            http,
            timeout: settings.timeout,
            retry: settings.retry,
            headers,
            secrets,
            limiters,
            counted: CallLabels::new(gateway, instance),
        })
    }

    /// Sends `call` until it succeeds, fails for good, or the retry policy gives up; returns
    /// the body of the successful answer.
    pub(crate) async fn send(&self, call: Call<'_>, map_error: ErrorMapper) -> Result<Bytes> {
        self.send_within(call, self.timeout, map_error).await
    }

    /// Like [`send`](Transport::send), each attempt timing out after `timeout` instead of the
    /// client's time-out (a long poll needs longer than the wait it asks the gateway for).
    pub(crate) async fn send_within(
        &self,
        call: Call<'_>,
        timeout: Duration,
        map_error: ErrorMapper,
    ) -> Result<Bytes> {
        let started = tokio::time::Instant::now();
        let mut failed_attempts = 0;
        loop {
            call.limiter.until_ready().await;
            let failure = match self.attempt(&call, timeout, map_error).await {
                Ok(body) => return Ok(body),
                Err(failure) => failure,
            };
            failed_attempts += 1;
            let wait = failure
                .error
                .is_retryable()
                .then(|| {
                    self.retry
                        .delay(failed_attempts, started.elapsed(), failure.retry_after)
                })
                .flatten();
            let Some(wait) = wait else {
                tracing::debug!(method = call.name, attempts = failed_attempts, error = %failure.error, "gateway call failed");
                return Err(failure.error);
            };
            tracing::debug!(method = call.name, attempt = failed_attempts, ?wait, error = %failure.error, "gateway call failed; retrying");
            tokio::time::sleep(wait).await;
        }
    }

    async fn attempt(
        &self,
        call: &Call<'_>,
        timeout: Duration,
        map_error: ErrorMapper,
    ) -> Result<Bytes, Failure> {
        let mut request = self
            .http
            .request(call.method.clone(), call.url.clone())
            .timeout(timeout);
        if !self.headers.is_empty() {
            request = request.headers(self.headers.clone());
        }
        if let Some(body) = &call.body {
            request = request
                .header(CONTENT_TYPE, "application/json")
                .body(body.clone());
        }
        let unanswered = |error: reqwest::Error| self.unanswered(call.name, error);
        let response = request.send().await.map_err(unanswered)?;
        let status = response.status();
        let retry_after = retry_after(response.headers());
        let body = response.bytes().await.map_err(unanswered)?;
        self.counted.answered(call.name, status);
        tracing::trace!(
            method = call.name,
            status = status.as_u16(),
            "gateway answered"
        );
        if status.is_success() {
            return Ok(body);
        }
        let text = self.redact(&String::from_utf8_lossy(&body));
        let error = map_error(status, &text, retry_after);
        self.counted.refused(&error);
        Err(Failure { error, retry_after })
    }

    /// Counts an attempt of `method` that got no (whole) answer; the error as hookbot's.
    fn unanswered(&self, method: &'static str, error: reqwest::Error) -> Error {
        self.counted.unanswered(method, &error);
        transport_error(error)
    }

    /// The time-out of one attempt.
    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Decodes a successful answer's JSON body. serde quotes the values it could not read, so
    /// the reason is redacted like an error body.
    pub(crate) fn decode<T: serde::de::DeserializeOwned>(
        &self,
        method: &str,
        body: &[u8],
    ) -> Result<T> {
        serde_json::from_slice(body).map_err(|error| Error::InvalidResponse {
            reason: shorten(&self.redact(&format!("{method}: {error}"))),
        })
    }

    /// The body, trimmed, with every secret replaced by `***`.
    fn redact(&self, body: &str) -> String {
        self.secrets
            .iter()
            .fold(body.trim().to_owned(), |text, secret| secret.redact(&text))
    }
}

/// The errors every gateway answers alike: 401, 403, 429; anything else keeps its status and
/// body.
pub(crate) fn common_error(status: StatusCode, body: &str, retry_after: Option<Duration>) -> Error {
    match status {
        StatusCode::UNAUTHORIZED => Error::Unauthorized,
        StatusCode::FORBIDDEN => Error::Forbidden,
        StatusCode::TOO_MANY_REQUESTS => Error::RateLimited { retry_after },
        _ => Error::Gateway {
            status: status.as_u16(),
            body: shorten(body),
        },
    }
}

/// The first [`MAX_ERROR_BODY_CHARS`] characters of an error body, for an error message. The
/// whole body is read first: a long answer still has its details parsed.
pub(crate) fn shorten(text: &str) -> String {
    match text.char_indices().nth(MAX_ERROR_BODY_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// A reqwest error as hookbot's error, without the URL (it holds the instance token).
pub(crate) fn transport_error(error: reqwest::Error) -> Error {
    if error.is_timeout() {
        Error::Timeout
    } else {
        Error::Transport {
            source: Arc::new(error.without_url()),
        }
    }
}

/// `Retry-After` as seconds or as an HTTP date.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(SystemTime::now()).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        let later = SystemTime::now() + Duration::from_secs(120);
        let date = httpdate::fmt_http_date(later);
        headers.insert(RETRY_AFTER, HeaderValue::from_str(&date).unwrap());
        let wait = retry_after(&headers).unwrap();
        assert!(
            wait > Duration::from_secs(100) && wait <= Duration::from_secs(120),
            "{wait:?}"
        );
    }
}
