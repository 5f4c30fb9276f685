//! The HTTP path every gateway call takes: rate limit → request → status check → retry; for
//! a send whose answer was lost, the gateway's records before any retry.

use std::convert::Infallible;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use bytes::Bytes;
use http_body_util::Full;
use reqwest::header::{
    ACCEPT, CONTENT_LENGTH, CONTENT_TYPE, HeaderMap, HeaderValue, RETRY_AFTER, USER_AGENT,
};
use reqwest::{Method, StatusCode};

use super::endpoint::Endpoint;
use super::http::{Direct, Exchanged, Unanswered};
use super::multipart::Multipart;
use super::rate_limit::{Limiter, Limiters};
use super::{ClientSettings, GatewayKind, MAX_RETRY_AFTER, RetryPolicy};
use crate::error::{Error, Result};
use crate::metrics::CallLabels;
use crate::secret::Secret;

/// The longest part of a gateway's error body kept in [`Error::Gateway`].
const MAX_ERROR_BODY_CHARS: usize = 512;

/// The `User-Agent` of every gateway call.
const HOOKBOT_AGENT: &str = concat!("hookbot/", env!("CARGO_PKG_VERSION"));

/// Turns a non-success answer (status, whole body with secrets removed, `Retry-After`) into the
/// gateway's typed error; a body kept in the error is [`shorten`]ed.
pub(crate) type ErrorMapper = fn(StatusCode, &str, Option<Duration>) -> Error;

/// Whether doing a call twice does something twice: what decides if it may be repeated after
/// a failure that leaves open whether the gateway took it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Idempotency {
    /// A look-up or an acknowledgement (getContacts, getSettings, receive and
    /// deleteNotification): doing it twice changes nothing.
    Repeatable,
    /// A send: doing it twice sends the message twice.
    Send,
}

/// One gateway call, ready to send as many times as the retry policy allows.
pub(crate) struct Call<'a> {
    /// The gateway's method name, for logs (`sendContact`, `send-text`).
    pub(crate) name: &'static str,
    pub(crate) method: Method,
    /// `name`'s endpoint (its `200` answers are counted on it), or one made for this call.
    pub(crate) endpoint: &'a Endpoint,
    /// The body, already checked against the gateway's size limit; shared by the attempts,
    /// not copied for each.
    pub(crate) body: Option<Body>,
    pub(crate) limiter: &'a Limiter,
    /// Whether the call may be repeated when it may have been taken.
    pub(crate) idempotency: Idempotency,
}

impl<'a> Call<'a> {
    /// A call of any method the caller names ([`Gateway::call_method`]): a `POST` of `body`,
    /// or a `GET` without one, at `endpoint` (made for this call, not one of the client's
    /// kept endpoints), never repeated once it may have been taken.
    ///
    /// [`Gateway::call_method`]: crate::gateway::Gateway::call_method
    pub(crate) fn generic(
        endpoint: &'a Endpoint,
        body: Option<Body>,
        limiter: &'a Limiter,
    ) -> Self {
        Self {
            name: "call_method",
            method: if body.is_some() {
                Method::POST
            } else {
                Method::GET
            },
            endpoint,
            body,
            limiter,
            idempotency: Idempotency::Send,
        }
    }
}

/// A request's body.
pub(crate) enum Body {
    /// JSON.
    Json(Bytes),
    /// An upload, streamed anew for each attempt.
    Multipart(Multipart),
}

impl From<Vec<u8>> for Body {
    /// A JSON body.
    fn from(json: Vec<u8>) -> Self {
        Body::Json(json.into())
    }
}

/// What a gateway's records of sent messages say about one send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Found<Id> {
    /// The records show it, with this id.
    Sent(Id),
    /// The records hold nothing that could be it.
    NotSent,
    /// The records hold something that may be it, in a shape that cannot be told apart.
    Unknown,
}

/// A gateway's records of the messages an instance sent, asked about one send whose answer
/// was lost.
#[async_trait]
pub(crate) trait SendRecords: Sync {
    /// What identifies a sent message.
    type Id: Send;

    /// Looks for the send among the messages sent since `since` (when its first attempt began).
    async fn find(&self, since: SystemTime) -> Result<Found<Self::Id>>;
}

/// The records of a gateway that keeps none a client can read: there are none to ask.
pub(crate) enum NoRecords {}

#[async_trait]
impl SendRecords for NoRecords {
    type Id = Infallible;

    async fn find(&self, _since: SystemTime) -> Result<Found<Infallible>> {
        match *self {}
    }
}

/// How a call ended well: the gateway's answer, or for a send whose answer was lost, the id
/// the gateway's records show for it.
#[derive(Debug)]
pub(crate) enum Answer<Id> {
    /// The body of the gateway's successful answer.
    Body(Bytes),
    /// The id of the message as the records show it.
    Recorded(Id),
}

/// An HTTP client with one instance's rate limits, retry policy and secrets.
#[derive(Debug)]
pub(crate) struct Transport {
    clients: Clients,
    timeout: Duration,
    retry: RetryPolicy,
    headers: HeaderMap,
    secrets: Vec<Secret>,
    pub(crate) limiters: Limiters,
    /// Labels each attempt in `hookbot_gateway_calls_total`, and counts the refusals.
    counted: CallLabels,
}

/// The instance's limiters: in the shared store when the settings name one, else the client's
/// own.
fn limiters(settings: &ClientSettings, gateway: GatewayKind, instance: &str) -> Limiters {
    match &settings.shared_limits {
        Some(store) => Limiters::shared(settings.rate_limits, &store.instance(gateway, instance)),
        None => Limiters::new(settings.rate_limits),
    }
}

/// A failed attempt: the error, how long the gateway asked to wait, and whether the gateway
/// may have taken the request.
struct Failure {
    error: Error,
    retry_after: Option<Duration>,
    reach: Reach,
}

/// Whether a failed attempt may have been taken by the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reach {
    /// Nothing was taken: no connection was made, or the gateway refused the request.
    Refused,
    /// The gateway may have taken it: the request went out and no refusal came back.
    Unknown,
}

impl Reach {
    /// What an answer with `status` says: a 4xx (but 499) or 3xx is a refusal; a 5xx, 499 or
    /// a success whose body was lost leave it open.
    fn of_status(status: StatusCode) -> Self {
        if status.is_client_error() && status.as_u16() != 499 || status.is_redirection() {
            Reach::Refused
        } else {
            Reach::Unknown
        }
    }
}

/// What a send's records said, when they allow going on.
enum Confirmed<Id> {
    /// The message was sent: its id.
    Recorded(Id),
    /// It was not sent: try again now.
    NotSent,
}

impl Transport {
    /// A transport to `instance` of `gateway` that sends `headers` with every request,
    /// removes `secrets` from every error body, and counts its attempts.
    pub(crate) fn new(
        settings: ClientSettings,
        (gateway, instance): (GatewayKind, &str),
        headers: HeaderMap,
        secrets: Vec<Secret>,
    ) -> Self {
        let limiters = limiters(&settings, gateway, instance);
        Self {
            clients: settings.http.unwrap_or_else(Clients::own),
            timeout: settings.timeout,
            retry: settings.retry,
            headers,
            secrets,
            limiters,
            counted: CallLabels::new(gateway, instance),
        }
    }

    /// Sends `call` until it succeeds, fails for good, or the retry policy gives up; returns
    /// the body of the successful answer. A send that may have been taken is not repeated
    /// (unless the policy says at least once): its failure is [`Error::SendUnconfirmed`].
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
        match self
            .run(&call, timeout, map_error, None::<&NoRecords>)
            .await?
        {
            Answer::Body(body) => Ok(body),
            Answer::Recorded(never) => match never {},
        }
    }

    /// Like [`send`](Transport::send) for a send whose gateway keeps `records` of what it
    /// sent: after a failure that leaves open whether the gateway took it, the records decide
    /// (see [`RetryPolicy`]).
    pub(crate) async fn send_checked<R: SendRecords>(
        &self,
        call: Call<'_>,
        map_error: ErrorMapper,
        records: &R,
    ) -> Result<Answer<R::Id>> {
        self.run(&call, self.timeout, map_error, Some(records))
            .await
    }

    /// The attempts of `call` under the retry policy.
    async fn run<R: SendRecords>(
        &self,
        call: &Call<'_>,
        timeout: Duration,
        map_error: ErrorMapper,
        records: Option<&R>,
    ) -> Result<Answer<R::Id>> {
        let started = tokio::time::Instant::now();
        let since = SystemTime::now();
        let mut failed_attempts = 0;
        loop {
            call.limiter.until_ready().await;
            let failure = match self.attempt(call, timeout, map_error).await {
                Ok(body) => return Ok(Answer::Body(body)),
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
            if self.must_not_repeat_blindly(call, &failure) {
                match confirm(call.name, failure.error, wait, records, since).await? {
                    Confirmed::Recorded(id) => return Ok(Answer::Recorded(id)),
                    Confirmed::NotSent => continue,
                }
            }
            let Some(wait) = wait else {
                tracing::debug!(method = call.name, attempts = failed_attempts, error = %failure.error, "gateway call failed");
                return Err(failure.error);
            };
            tracing::debug!(method = call.name, attempt = failed_attempts, ?wait, error = %failure.error, "gateway call failed; retrying");
            tokio::time::sleep(wait).await;
        }
    }

    /// Whether `failure` of `call` is a send's that a retry could deliver twice: a failure
    /// worth retrying, which leaves open whether the gateway took the message, under a policy
    /// that does not ask for at-least-once sends.
    fn must_not_repeat_blindly(&self, call: &Call<'_>, failure: &Failure) -> bool {
        call.idempotency == Idempotency::Send
            && failure.reach == Reach::Unknown
            && failure.error.is_retryable()
            && !self.retry.repeats_unconfirmed_sends()
    }

    async fn attempt(
        &self,
        call: &Call<'_>,
        timeout: Duration,
        map_error: ErrorMapper,
    ) -> Result<Bytes, Failure> {
        let exchanged = match (self.clients.direct(), &call.body) {
            (Some(direct), None | Some(Body::Json(_))) => {
                let request = self.direct_request(call)?;
                direct.exchange(request, timeout).await
            }
            _ => {
                let request = self.reqwest_request(call, timeout).await?;
                exchange(request).await
            }
        };
        let Exchanged {
            status,
            headers,
            body,
        } = exchanged.map_err(|unanswered| self.unanswered(call.name, unanswered))?;
        self.counted
            .answered(call.name, status, call.endpoint.answered_ok());
        if status.is_redirection() {
            return Err(Failure {
                error: Error::Redirected {
                    status: status.as_u16(),
                },
                retry_after: None,
                reach: Reach::Refused,
            });
        }
        tracing::trace!(
            method = call.name,
            status = status.as_u16(),
            "gateway answered"
        );
        if status.is_success() {
            return Ok(body);
        }
        let retry_after = retry_after(&headers);
        let text = self.redact(&String::from_utf8_lossy(&body));
        let error = map_error(status, &text, retry_after);
        self.counted.refused(&error);
        Err(Failure {
            error,
            retry_after,
            reach: Reach::of_status(status),
        })
    }

    /// `call` as a request of hookbot's own client: its URL, the instance's headers, and for
    /// a body, JSON.
    fn direct_request(&self, call: &Call<'_>) -> Result<hyper::Request<Full<Bytes>>, Failure> {
        let json = match &call.body {
            Some(Body::Json(json)) => Some(json.clone()),
            _ => None,
        };
        let is_json = json.is_some();
        let mut request = hyper::Request::new(Full::new(json.unwrap_or_default()));
        *request.method_mut() = call.method.clone();
        *request.uri_mut() = call.endpoint.uri().cloned().map_err(|error| Failure {
            error: Error::Transport {
                source: error.clone(),
            },
            retry_after: None,
            reach: Reach::Refused,
        })?;
        let headers = request.headers_mut();
        for (name, value) in &self.headers {
            headers.append(name, value.clone());
        }
        headers.insert(USER_AGENT, HeaderValue::from_static(HOOKBOT_AGENT));
        headers.insert(ACCEPT, HeaderValue::from_static("*/*"));
        if is_json {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        Ok(request)
    }

    /// `call` as a request of the reqwest client (uploads, a client the user gave, a proxy);
    /// fails when an upload's file cannot be opened.
    async fn reqwest_request(
        &self,
        call: &Call<'_>,
        timeout: Duration,
    ) -> Result<reqwest::RequestBuilder, Failure> {
        let http = self.clients.reqwest().map_err(|error| Failure {
            error,
            retry_after: None,
            reach: Reach::Refused,
        })?;
        let mut request = http
            .request(call.method.clone(), call.endpoint.url().clone())
            .timeout(timeout);
        if !self.headers.is_empty() {
            request = request.headers(self.headers.clone());
        }
        match &call.body {
            Some(Body::Json(body)) => {
                request = request
                    .header(CONTENT_TYPE, "application/json")
                    .body(body.clone());
            }
            Some(Body::Multipart(multipart)) => {
                let body = multipart.body().await.map_err(|error| Failure {
                    error: Error::File {
                        source: Arc::new(error),
                    },
                    retry_after: None,
                    reach: Reach::Refused,
                })?;
                request = request
                    .header(CONTENT_TYPE, multipart.content_type())
                    .header(CONTENT_LENGTH, multipart.content_length())
                    .body(body);
            }
            None => {}
        }
        Ok(request)
    }

    /// Counts an attempt of `method` that got no whole answer; the failure as hookbot's.
    fn unanswered(&self, method: &'static str, unanswered: Unanswered) -> Failure {
        self.counted.unanswered(method, unanswered.timed_out);
        let reach = match unanswered.status {
            Some(status) => Reach::of_status(status),
            None if unanswered.unconnected => Reach::Refused,
            None => Reach::Unknown,
        };
        Failure {
            error: unanswered.error,
            retry_after: None,
            reach,
        }
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

    /// Any JSON answer of `method`; `null` for an empty one.
    pub(crate) fn decode_any(&self, method: &str, body: &[u8]) -> Result<serde_json::Value> {
        if body.trim_ascii().is_empty() {
            Ok(serde_json::Value::Null)
        } else {
            self.decode(method, body)
        }
    }

    /// The body, trimmed, with every secret replaced by `***`.
    fn redact(&self, body: &str) -> String {
        self.secrets
            .iter()
            .fold(body.trim().to_owned(), |text, secret| secret.redact(&text))
    }
}

/// The HTTP clients of a gateway client; clones share them (and their connection pools).
#[derive(Debug, Clone)]
pub(crate) enum Clients {
    /// A reqwest client the user gave, for every call.
    Given(reqwest::Client),
    /// hookbot's own.
    Own(Arc<Own>),
}

/// hookbot's own clients: `direct` for JSON and body-less calls (none when the environment
/// names a proxy), and for the other calls (uploads, every call through a proxy) reqwest's
/// [`http_client`], built at the first such call: a bot that never makes one never builds it.
#[derive(Debug)]
pub(crate) struct Own {
    direct: Option<Direct>,
    reqwest: OnceLock<reqwest::Client>,
}

impl Clients {
    /// hookbot's own clients, reqwest's not built yet.
    pub(crate) fn own() -> Self {
        Clients::Own(Arc::new(Own {
            direct: Direct::unless_proxied(),
            reqwest: OnceLock::new(),
        }))
    }

    /// hookbot's own client, when the call can go through it.
    fn direct(&self) -> Option<&Direct> {
        match self {
            Clients::Given(_) => None,
            Clients::Own(own) => own.direct.as_ref(),
        }
    }

    /// The reqwest client, built now if it is hookbot's and was not yet.
    fn reqwest(&self) -> Result<&reqwest::Client> {
        match self {
            Clients::Given(http) => Ok(http),
            Clients::Own(own) => {
                if let Some(http) = own.reqwest.get() {
                    return Ok(http);
                }
                let built = http_client()?;
                Ok(own.reqwest.get_or_init(|| built))
            }
        }
    }
}

/// The HTTP client hookbot builds when it is given none: its user agent, no redirects
/// followed (a redirect would carry the instance token in the URL elsewhere), no `Referer`.
/// Its connection pool and TLS settings are its own; clients that share it share them, and
/// each request carries its instance's own URL, headers and time-out.
pub(crate) fn http_client() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .user_agent(HOOKBOT_AGENT)
        .redirect(reqwest::redirect::Policy::none())
        .referer(false)
        .build()
        .map_err(transport_error)
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

/// Sends `request` through reqwest and reads the whole answer (a redirect's without its
/// body).
async fn exchange(request: reqwest::RequestBuilder) -> Result<Exchanged, Unanswered> {
    let response = request
        .send()
        .await
        .map_err(|error| reqwest_unanswered(error, None))?;
    let status = response.status();
    let headers = response.headers().clone();
    if status.is_redirection() {
        return Ok(Exchanged {
            status,
            headers,
            body: Bytes::new(),
        });
    }
    let body = response
        .bytes()
        .await
        .map_err(|error| reqwest_unanswered(error, Some(status)))?;
    Ok(Exchanged {
        status,
        headers,
        body,
    })
}

/// A reqwest error that left an exchange without a whole answer (the answer's `status` came
/// when given).
fn reqwest_unanswered(error: reqwest::Error, status: Option<StatusCode>) -> Unanswered {
    Unanswered {
        timed_out: error.is_timeout(),
        unconnected: error.is_connect(),
        status,
        error: transport_error(error),
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

/// After a send's failure that leaves open whether the gateway took it: what the gateway's
/// `records` say, asked once the retry's `wait` has passed. The failure comes back as
/// [`Error::SendUnconfirmed`] unless they show the message was sent, or show it was not and a
/// retry is due; without records, at once.
async fn confirm<R: SendRecords>(
    method: &'static str,
    error: Error,
    wait: Option<Duration>,
    records: Option<&R>,
    since: SystemTime,
) -> Result<Confirmed<R::Id>> {
    let unconfirmed = |error| Error::SendUnconfirmed {
        cause: Box::new(error),
    };
    let Some(records) = records else {
        tracing::debug!(method, %error, "send failed and may have gone out; not repeated");
        return Err(unconfirmed(error));
    };
    if let Some(wait) = wait {
        tokio::time::sleep(wait).await;
    }
    match records.find(since).await {
        Ok(Found::Sent(id)) => {
            tracing::debug!(method, %error, "send failed, but the gateway's records show it sent");
            Ok(Confirmed::Recorded(id))
        }
        Ok(Found::NotSent) if wait.is_some() => {
            tracing::debug!(method, %error, "send failed and the gateway's records show it unsent; retrying");
            Ok(Confirmed::NotSent)
        }
        Ok(_) => {
            tracing::debug!(method, %error, "send failed and may have gone out; not repeated");
            Err(unconfirmed(error))
        }
        Err(unread) => {
            tracing::debug!(method, %error, %unread, "send failed and the gateway's records could not be read; not repeated");
            Err(unconfirmed(error))
        }
    }
}

/// `Retry-After` as seconds or as an HTTP date, at most [`MAX_RETRY_AFTER`]: more seconds
/// than fit in a `u64` are the longest wait, a date in the past is no wait, anything else no
/// hint.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    let wait = if !value.is_empty() && value.bytes().all(|byte| byte.is_ascii_digit()) {
        Duration::from_secs(value.parse().unwrap_or(u64::MAX))
    } else {
        let at = httpdate::parse_http_date(value).ok()?;
        at.duration_since(SystemTime::now()).unwrap_or_default()
    };
    Some(wait.min(MAX_RETRY_AFTER))
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

    #[test]
    fn absurd_retry_afters_are_clamped_or_ignored() {
        let read = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(RETRY_AFTER, HeaderValue::from_str(value).unwrap());
            retry_after(&headers)
        };
        for longest in [
            "18446744073709551615",
            "99999999999999999999999999",
            "3601",
            "Fri, 31 Dec 9999 23:59:59 GMT",
        ] {
            assert_eq!(read(longest), Some(MAX_RETRY_AFTER), "{longest}");
        }
        assert_eq!(read("Thu, 01 Jan 1970 00:00:00 GMT"), Some(Duration::ZERO));
        for ignored in ["-5", "1.5", "soon", "", "+7", "Mon, 99 Foo 2024"] {
            assert_eq!(read(ignored), None, "{ignored:?}");
        }
    }

    #[test]
    fn only_refusals_prove_a_request_was_not_taken() {
        for refused in [301, 307, 400, 401, 403, 404, 429, 466] {
            let status = StatusCode::from_u16(refused).unwrap();
            assert_eq!(Reach::of_status(status), Reach::Refused, "{refused}");
        }
        for open in [200, 499, 500, 502, 503, 504] {
            let status = StatusCode::from_u16(open).unwrap();
            assert_eq!(Reach::of_status(status), Reach::Unknown, "{open}");
        }
    }

    #[test]
    fn hookbot_s_reqwest_client_is_built_at_its_first_use_and_shared_by_clones() {
        let own = Clients::own();
        let Clients::Own(shared) = &own else {
            panic!("hookbot's own clients are not Own");
        };
        assert!(
            shared.reqwest.get().is_none(),
            "built before any call needed it"
        );
        let clone = own.clone();
        let first: *const reqwest::Client = own.reqwest().unwrap();
        assert!(shared.reqwest.get().is_some());
        assert!(std::ptr::eq(first, clone.reqwest().unwrap()));
        assert!(std::ptr::eq(first, own.reqwest().unwrap()));

        let given = Clients::Given(http_client().unwrap());
        assert!(given.direct().is_none());
        assert!(given.reqwest().is_ok());
    }

    #[tokio::test]
    async fn a_refused_connection_proves_nothing_was_taken() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        drop(listener);
        let error = reqwest::get(format!("http://{address}/"))
            .await
            .unwrap_err();
        assert!(reqwest_unanswered(error, None).unconnected);
    }
}
