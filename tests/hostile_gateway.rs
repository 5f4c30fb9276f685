//! A gateway is input too: a client never follows a redirect (nothing reaches the redirect's
//! target, the error names the status and no token), sends no `Referer`, survives absurd
//! `Retry-After` headers and absurd figures in answers, and warns when its API URL would carry
//! the token unencrypted to another machine. All over real HTTP against mock gateways.

mod common;

use std::time::Duration;

use common::{
    INSTANCE, MAX_ATTEMPTS, TOKEN, capture_logs, requests, whatsapp, whatsapp_path, zapi,
};
use hookbot::gateway::{Gateway, GreenApi, MAX_RETRY_AFTER, SendOptions, ZApi};
use hookbot::{ChatId, Error};
use serde_json::json;
use wiremock::ResponseTemplate;

const CHAT: &str = "79001234567@c.us";

// ---- redirects ----

#[tokio::test]
async fn a_redirect_is_an_error_naming_the_status_and_its_target_gets_nothing() {
    let target =
        common::server_with(ResponseTemplate::new(200).set_body_json(json!({"idMessage": "X"})))
            .await;
    for status in [301, 302, 303, 307, 308] {
        // The Location repeats the whole URL, token included, on another host.
        let location = format!("{}{}", target.uri(), whatsapp_path("sendMessage"));
        let gateway = common::server_with(
            ResponseTemplate::new(status).insert_header("Location", location.as_str()),
        )
        .await;

        let sent = whatsapp(&gateway.uri())
            .send_text(&ChatId::from(CHAT), "hello", &SendOptions::new())
            .await;
        let looked_up = zapi(&gateway.uri()).contacts().await;

        for error in [sent.unwrap_err(), looked_up.unwrap_err()] {
            assert!(
                matches!(error, Error::Redirected { status: got } if got == status),
                "{status}: {error:?}"
            );
            assert!(!error.is_retryable());
            for shown in [error.to_string(), format!("{error:?}")] {
                assert!(shown.contains(&status.to_string()), "{shown}");
                assert!(!shown.contains(TOKEN), "{shown}");
                assert!(!shown.contains(&target.uri()), "{shown}");
            }
        }
        let received = requests(&gateway).await;
        assert_eq!(received.len(), 2, "{status}: each call once, not retried");
        assert!(
            received
                .iter()
                .all(|request| !request.headers.contains_key("referer")),
            "no Referer header"
        );
    }
    assert!(
        requests(&target).await.is_empty(),
        "the redirect's target received nothing"
    );
}

// ---- absurd numbers ----

/// The error of a GREEN-API contact list look-up answered 429 with `Retry-After: value`, and how
/// many attempts reached the mock.
async fn rate_limited_look_up(value: &str) -> (Error, usize) {
    let server =
        common::server_with(ResponseTemplate::new(429).insert_header("Retry-After", value)).await;
    let error = whatsapp(&server.uri()).contacts().await.unwrap_err();
    (error, requests(&server).await.len())
}

#[tokio::test]
async fn a_retry_after_longer_than_the_longest_wait_is_clamped_and_given_up_on() {
    for value in [
        "18446744073709551615",
        "999999999999999999999999999999",
        "Fri, 31 Dec 9999 23:59:59 GMT",
    ] {
        let (error, attempts) = rate_limited_look_up(value).await;
        assert!(
            matches!(error, Error::RateLimited { retry_after: Some(wait) } if wait == MAX_RETRY_AFTER),
            "{value}: {error:?}"
        );
        assert_eq!(attempts, 1, "{value}: longer than the policy waits in all");
    }
}

#[tokio::test]
async fn a_retry_after_that_is_no_wait_leaves_the_backoff_in_charge() {
    for (value, read) in [
        ("-1", None),
        ("1.5", None),
        ("soon", None),
        ("", None),
        ("Thu, 01 Jan 1970 00:00:00 GMT", Some(Duration::ZERO)),
        ("0", Some(Duration::ZERO)),
    ] {
        let (error, attempts) = rate_limited_look_up(value).await;
        assert!(
            matches!(error, Error::RateLimited { retry_after } if retry_after == read),
            "{value:?}: {error:?}"
        );
        assert_eq!(attempts, MAX_ATTEMPTS, "{value:?}");
    }
}

#[tokio::test]
async fn a_long_poll_answered_with_the_largest_retry_after_returns_an_error() {
    // The 429 ends a long poll that took over a second: the seconds already spent plus the
    // largest wait once overflowed and killed the poller.
    let server = common::server_with(
        ResponseTemplate::new(429)
            .insert_header("Retry-After", "18446744073709551615")
            .set_delay(Duration::from_millis(1100)),
    )
    .await;

    let error = whatsapp(&server.uri())
        .receive_notification(Duration::from_secs(5))
        .await
        .unwrap_err();

    assert!(matches!(error, Error::RateLimited { .. }), "{error:?}");
}

#[tokio::test]
async fn absurd_receipts_are_read_or_refused_without_panicking() {
    let largest = common::server_with(
        ResponseTemplate::new(200)
            .set_body_json(json!({"receiptId": 18446744073709551615_u64, "body": {}})),
    )
    .await;
    let received = whatsapp(&largest.uri())
        .receive_notification(Duration::from_secs(5))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(received.receipt_id, u64::MAX);

    for receipt in [json!(-1), json!(1e30), json!("7"), json!(1.5)] {
        let server = common::server_with(
            ResponseTemplate::new(200).set_body_json(json!({"receiptId": receipt, "body": {}})),
        )
        .await;
        let error = whatsapp(&server.uri())
            .receive_notification(Duration::from_secs(5))
            .await
            .unwrap_err();
        assert!(
            matches!(error, Error::InvalidResponse { .. }),
            "{receipt}: {error:?}"
        );
    }
}

#[tokio::test]
async fn absurd_quota_figures_are_left_out_and_the_others_kept() {
    let body = json!({"invokeStatus": {
        "method": "sendMessage", "used": -5, "total": 1e300, "description": "over"
    }});
    let server = common::server_with(ResponseTemplate::new(466).set_body_json(body)).await;

    let error = whatsapp(&server.uri())
        .send_text(&ChatId::from(CHAT), "hello", &SendOptions::new())
        .await
        .unwrap_err();

    match error {
        Error::QuotaExceeded {
            method,
            used,
            total,
            description,
        } => {
            assert_eq!(method.as_deref(), Some("sendMessage"));
            assert_eq!((used, total), (None, None));
            assert_eq!(description.as_deref(), Some("over"));
        }
        other => panic!("expected QuotaExceeded, got {other:?}"),
    }
}

#[tokio::test]
async fn absurd_phone_numbers_in_a_contact_list_fall_back_to_the_chat_id() {
    let contacts = json!([
        {"chatId": "79001234567@c.us", "name": "A", "type": "user", "phoneNumber": -79001234567_i64},
        {"chatId": "79001234568@c.us", "name": "B", "type": "user", "phoneNumber": 1e300},
        {"chatId": "79001234569@c.us", "name": "C", "type": "user", "phoneNumber": "+7 (900)"},
    ]);
    let server = common::server_with(ResponseTemplate::new(200).set_body_json(contacts)).await;

    let contacts = whatsapp(&server.uri()).contacts().await.unwrap();

    let phones: Vec<_> = contacts
        .iter()
        .map(|contact| contact.phone.as_deref())
        .collect();
    assert_eq!(
        phones,
        [
            Some("79001234567"),
            Some("79001234568"),
            Some("79001234569")
        ]
    );
}

// ---- plain http to another machine ----

/// What building a GREEN-API and a Z-API client of `url` logs at warning level.
fn warnings_building_clients_of(url: &str) -> String {
    let (logs, _guard) = capture_logs("hookbot=warn");
    GreenApi::whatsapp(url, INSTANCE, TOKEN).build().unwrap();
    ZApi::builder(url, "3C4A1B2C", TOKEN).build().unwrap();
    logs.text()
}

#[test]
fn plain_http_to_another_machine_is_warned_about_when_a_client_is_built() {
    let logs = warnings_building_clients_of("http://7105.api.greenapi.com");

    assert_eq!(logs.matches("WARN").count(), 2, "{logs}");
    assert!(logs.contains("http://"), "{logs}");
    assert!(logs.contains("7105.api.greenapi.com"), "{logs}");
    assert!(!logs.contains(TOKEN), "{logs}");
}

#[test]
fn https_and_this_machine_are_not_warned_about() {
    for url in [
        "https://7105.api.greenapi.com",
        "http://127.0.0.1:9000",
        "http://[::1]:9000",
        "http://localhost:9000",
    ] {
        let logs = warnings_building_clients_of(url);
        assert!(logs.is_empty(), "{url}: {logs}");
    }
}
