//! What the gateway client tests share: fixed credentials, clients pointed at a mock server
//! with fast retries and no client-side rate limits, and the requests the mock received.

// Each test file uses its own part of these helpers.
#![allow(dead_code)]

use std::time::Duration;

use hookbot::gateway::{ClientSettings, GreenApi, RateLimits, RetryPolicy, ZApi};
use serde_json::Value;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

/// GREEN-API `idInstance`.
pub const INSTANCE: &str = "1101000001";
/// GREEN-API `apiTokenInstance`, and the Z-API instance token.
pub const TOKEN: &str = "d75b3a66374942c5b3c019c698abc2067e151558acbd412345";
/// Z-API instance id.
pub const ZAPI_INSTANCE: &str = "3C4A1B2C3D4E5F6A7B8C9D0E1F2A3B4C";
/// Z-API account `Client-Token`.
pub const CLIENT_TOKEN: &str = "F7c2e9a41b5d3e8f6a0c4b2d9e1f7a3c5S";
/// Attempts the test clients make before giving up on a retryable failure.
pub const MAX_ATTEMPTS: usize = 3;

/// Three attempts a few milliseconds apart, no client-side rate limits.
pub fn fast_settings() -> ClientSettings {
    ClientSettings::new()
        .retry(
            RetryPolicy::new()
                .max_attempts(MAX_ATTEMPTS as u32)
                .initial_delay(Duration::from_millis(1))
                .max_delay(Duration::from_millis(5)),
        )
        .rate_limits(RateLimits::unlimited())
}

/// A GREEN-API WhatsApp client of [`INSTANCE`] at `uri`.
pub fn whatsapp(uri: &str) -> GreenApi {
    GreenApi::whatsapp(uri, INSTANCE, TOKEN)
        .settings(fast_settings())
        .build()
        .expect("a valid WhatsApp client")
}

/// A GREEN-API MAX client of [`INSTANCE`] at `uri`.
pub fn max(uri: &str) -> GreenApi {
    GreenApi::max(uri, INSTANCE, TOKEN)
        .settings(fast_settings())
        .build()
        .expect("a valid MAX client")
}

/// A Z-API client of [`ZAPI_INSTANCE`] at `uri`, without a client token.
pub fn zapi(uri: &str) -> ZApi {
    ZApi::builder(uri, ZAPI_INSTANCE, TOKEN)
        .settings(fast_settings())
        .build()
        .expect("a valid Z-API client")
}

/// A Z-API client of [`ZAPI_INSTANCE`] at `uri` that sends [`CLIENT_TOKEN`].
pub fn zapi_with_client_token(uri: &str) -> ZApi {
    ZApi::builder(uri, ZAPI_INSTANCE, TOKEN)
        .client_token(CLIENT_TOKEN)
        .settings(fast_settings())
        .build()
        .expect("a valid Z-API client")
}

/// `/waInstance{id}/{method}/{token}`.
pub fn whatsapp_path(method: &str) -> String {
    format!("/waInstance{INSTANCE}/{method}/{TOKEN}")
}

/// `/v3/waInstance{id}/{method}/{token}`.
pub fn max_path(method: &str) -> String {
    format!("/v3/waInstance{INSTANCE}/{method}/{TOKEN}")
}

/// `/instances/{id}/token/{token}/{method}`.
pub fn zapi_path(method: &str) -> String {
    format!("/instances/{ZAPI_INSTANCE}/token/{TOKEN}/{method}")
}

/// A mock server that answers every request with `status` and the JSON `body`.
pub async fn server_answering(status: u16, body: Value) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
        .mount(&server)
        .await;
    server
}

/// Every request the mock received, in order.
pub async fn requests(server: &MockServer) -> Vec<Request> {
    server
        .received_requests()
        .await
        .expect("request recording is on")
}

/// The one request the mock received; fails if it received another number.
pub async fn only_request(server: &MockServer) -> Request {
    let mut received = requests(server).await;
    assert_eq!(received.len(), 1, "expected exactly one request");
    received.remove(0)
}

/// Fails unless the mock received no request at all.
pub async fn assert_nothing_sent(server: &MockServer) {
    let received = requests(server).await;
    assert!(
        received.is_empty(),
        "expected no request, got {}: {:?}",
        received.len(),
        received.iter().map(|r| r.url.path()).collect::<Vec<_>>()
    );
}

/// Asserts a JSON POST to exactly `path`, without a query, whose body is exactly `body`.
pub fn assert_json_post(request: &Request, path: &str, body: Value) {
    assert_eq!(request.method.as_str(), "POST");
    assert_eq!(request.url.path(), path);
    assert_eq!(request.url.query(), None);
    assert_eq!(
        request
            .headers
            .get("content-type")
            .and_then(|value| value.to_str().ok()),
        Some("application/json")
    );
    let sent: Value = serde_json::from_slice(&request.body).expect("the body is JSON");
    assert_eq!(sent, body);
}

/// Asserts a GET of exactly `path` with exactly `query` and no body.
pub fn assert_get(request: &Request, path: &str, query: Option<&str>) {
    assert_eq!(request.method.as_str(), "GET");
    assert_eq!(request.url.path(), path);
    assert_eq!(request.url.query(), query);
    assert!(request.body.is_empty(), "a GET carries no body");
}
