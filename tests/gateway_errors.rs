//! How the gateway clients fail: every error answer maps to its typed variant, exactly the
//! transient ones are retried (counted on the mock), `Retry-After` is honoured, every documented
//! rule refuses a bad request before anything is sent, and no failure shows a token.

mod common;

use std::io::Write;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{
    CLIENT_TOKEN, INSTANCE, MAX_ATTEMPTS, TOKEN, ZAPI_INSTANCE, assert_nothing_sent, fast_settings,
    max, requests, server_answering, whatsapp, zapi, zapi_with_client_token,
};
use hookbot::gateway::{ClientSettings, Gateway, GreenApi, RetryPolicy, SendOptions, ZApi};
use hookbot::{ChatId, ContactCard, Error, Rule, ValidationError};
use serde_json::json;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

/// A mock that accepts every send, for requests that must never reach it.
async fn accepting_server() -> MockServer {
    server_answering(200, json!({"idMessage": "3EB0C767D097B7C7C030"})).await
}

/// The error of a WhatsApp text send to a mock answering `template`, and how many requests the
/// mock received.
async fn whatsapp_send_error(template: ResponseTemplate) -> (Error, usize) {
    let server = common::server_with(template).await;
    let error = whatsapp(&server.uri())
        .send_text(&wa_chat(), "hello", &SendOptions::new())
        .await
        .expect_err("the gateway answered an error");
    (error, requests(&server).await.len())
}

/// The error of a Z-API text send to a mock answering `template`, and how many requests the
/// mock received.
async fn zapi_send_error(template: ResponseTemplate) -> (Error, usize) {
    let server = common::server_with(template).await;
    let error = zapi(&server.uri())
        .send_text(&ChatId::from("5544999999999"), "olá", &SendOptions::new())
        .await
        .expect_err("the gateway answered an error");
    (error, requests(&server).await.len())
}

fn wa_chat() -> ChatId {
    ChatId::from("79001234567@c.us")
}

fn card() -> ContactCard {
    ContactCard::new().phone("79001234568").first_name("Артем")
}

/// The validation error inside `result`; fails on anything else.
fn validation<T: std::fmt::Debug>(result: hookbot::Result<T>) -> ValidationError {
    match result {
        Err(Error::Validation(validation)) => validation,
        other => panic!("expected a validation error, got {other:?}"),
    }
}

fn refused(field: &'static str, rule: Rule) -> ValidationError {
    ValidationError { field, rule }
}

/// An address where nothing listens.
fn closed_port_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{address}")
}

// ---- each error answer maps to its variant, retried or not ----

#[tokio::test]
async fn instance_account_not_authorized_is_not_authorized_and_not_retried() {
    let (error, attempts) = whatsapp_send_error(
        ResponseTemplate::new(400).set_body_string("instance account not authorized"),
    )
    .await;
    assert!(matches!(error, Error::NotAuthorized), "{error:?}");
    assert_eq!(attempts, 1);
}

#[tokio::test]
async fn instance_starting_is_retried_on_every_attempt() {
    let (error, attempts) = whatsapp_send_error(
        ResponseTemplate::new(400).set_body_string("instance in starting process try later"),
    )
    .await;
    assert!(matches!(error, Error::InstanceStarting), "{error:?}");
    assert_eq!(attempts, MAX_ATTEMPTS);
}

#[tokio::test]
async fn instance_starting_then_ready_succeeds() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(
            ResponseTemplate::new(400).set_body_string("instance in starting process try later"),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"idMessage": "BAE5F4"})))
        .mount(&server)
        .await;

    let sent = whatsapp(&server.uri())
        .send_text(&wa_chat(), "hello", &SendOptions::new())
        .await
        .unwrap();

    assert_eq!(sent.id.as_str(), "BAE5F4");
    assert_eq!(requests(&server).await.len(), 2);
}

#[tokio::test]
async fn max_contact_not_found_names_the_contact_and_is_not_retried() {
    for body in [
        "Contact 20000001 not found",
        r#"{"message":"Contact 20000001 not found"}"#,
    ] {
        let server = common::server_with(ResponseTemplate::new(400).set_body_string(body)).await;
        let error = max(&server.uri())
            .send_contact(
                &ChatId::from("10000000"),
                &ContactCard::new().chat_id("20000001"),
                &SendOptions::new(),
            )
            .await
            .unwrap_err();

        match error {
            Error::ContactNotFound { chat_id } => assert_eq!(chat_id, "20000001"),
            other => panic!("{body}: expected ContactNotFound, got {other:?}"),
        }
        assert_eq!(requests(&server).await.len(), 1, "{body}");
    }
}

#[tokio::test]
async fn validation_failed_is_a_gateway_error_with_the_details_and_not_retried() {
    let body = "Validation failed. Details: 'chatId' is required";
    let (error, attempts) =
        whatsapp_send_error(ResponseTemplate::new(400).set_body_string(body)).await;
    match error {
        Error::Gateway {
            status,
            body: shown,
        } => {
            assert_eq!(status, 400);
            assert_eq!(shown, body);
        }
        other => panic!("expected a gateway error, got {other:?}"),
    }
    assert_eq!(attempts, 1);
}

#[tokio::test]
async fn http_401_is_unauthorized_and_not_retried() {
    let (error, attempts) = whatsapp_send_error(ResponseTemplate::new(401)).await;
    assert!(matches!(error, Error::Unauthorized), "{error:?}");
    assert_eq!(attempts, 1);
}

#[tokio::test]
async fn http_403_is_forbidden_and_not_retried() {
    let (error, attempts) = whatsapp_send_error(ResponseTemplate::new(403)).await;
    assert!(matches!(error, Error::Forbidden), "{error:?}");
    assert_eq!(attempts, 1);
}

#[tokio::test]
async fn http_429_is_rate_limited_after_every_attempt() {
    let (error, attempts) = whatsapp_send_error(ResponseTemplate::new(429)).await;
    assert!(
        matches!(error, Error::RateLimited { retry_after: None }),
        "{error:?}"
    );
    assert_eq!(attempts, MAX_ATTEMPTS);
}

#[tokio::test]
async fn rate_limited_error_keeps_the_gateways_retry_after() {
    let server =
        common::server_with(ResponseTemplate::new(429).insert_header("Retry-After", "7")).await;
    let client = GreenApi::whatsapp(server.uri(), INSTANCE, TOKEN)
        .settings(fast_settings().retry(RetryPolicy::none()))
        .build()
        .unwrap();
    let error = client
        .send_text(&wa_chat(), "hello", &SendOptions::new())
        .await
        .unwrap_err();

    assert!(
        matches!(error, Error::RateLimited { retry_after: Some(after) } if after == Duration::from_secs(7)),
        "{error:?}"
    );
    assert_eq!(requests(&server).await.len(), 1);
}

#[tokio::test]
async fn http_466_is_quota_exceeded_with_the_figures_and_not_retried() {
    // GREEN-API's documented answer to a call over the plan's quota.
    let body = json!({
        "invokeStatus": {
            "method": "sendMessage",
            "used": 100,
            "total": 100,
            "status": "QUOTE_EXCEEDED",
            "description": "Monthly quota has been exceeded. The quota will be reset in 30 days."
        },
        "correspondentsStatus": {
            "used": 3,
            "total": 3,
            "status": "QUOTE_EXCEEDED",
            "description": "Monthly quota of correspondents has been exceeded."
        }
    });
    let (error, attempts) =
        whatsapp_send_error(ResponseTemplate::new(466).set_body_json(body)).await;
    match &error {
        Error::QuotaExceeded {
            method,
            used,
            total,
            description,
        } => {
            assert_eq!(method.as_deref(), Some("sendMessage"));
            assert_eq!(*used, Some(100));
            assert_eq!(*total, Some(100));
            assert!(
                description
                    .as_deref()
                    .is_some_and(|text| text.starts_with("Monthly quota has been exceeded")),
                "{description:?}"
            );
        }
        other => panic!("expected QuotaExceeded, got {other:?}"),
    }
    assert!(
        error.to_string().contains("sendMessage: 100 of 100 used"),
        "{error}"
    );
    assert_eq!(attempts, 1);
}

#[tokio::test]
async fn http_466_figures_are_read_from_a_long_pretty_printed_answer() {
    let long = "Monthly quota has been exceeded. The quota will be reset in 30 days. \
                To increase the quota, you need to change the tariff in the console: \
                https://console.green-api.com/app/api/tariffs?instance=1101000001";
    let body = json!({
        "invokeStatus": {
            "method": "sendContact", "used": 100, "total": 100,
            "status": "QUOTE_EXCEEDED", "description": long
        },
        "correspondentsStatus": {"used": 3, "total": 3, "status": "QUOTE_EXCEEDED", "description": long}
    });
    let pretty = serde_json::to_string_pretty(&body).unwrap();
    assert!(
        pretty.len() > 600,
        "the answer is longer than an error body is kept"
    );
    let (error, _) = whatsapp_send_error(ResponseTemplate::new(466).set_body_string(pretty)).await;
    match error {
        Error::QuotaExceeded {
            method,
            used,
            total,
            description,
        } => {
            assert_eq!(method.as_deref(), Some("sendContact"));
            assert_eq!((used, total), (Some(100), Some(100)));
            assert_eq!(description.as_deref(), Some(long));
        }
        other => panic!("expected QuotaExceeded, got {other:?}"),
    }
}

#[tokio::test]
async fn http_466_without_figures_is_still_quota_exceeded() {
    let (error, attempts) =
        whatsapp_send_error(ResponseTemplate::new(466).set_body_string("quota exceeded")).await;
    match error {
        Error::QuotaExceeded {
            used: None,
            total: None,
            description,
            ..
        } => assert_eq!(description.as_deref(), Some("quota exceeded")),
        other => panic!("expected QuotaExceeded without figures, got {other:?}"),
    }
    assert_eq!(attempts, 1);
}

#[tokio::test]
async fn request_entity_too_large_is_payload_too_large_and_not_retried() {
    let (error, attempts) = whatsapp_send_error(
        ResponseTemplate::new(500)
            .set_body_string("Internal Server Error request entity too large"),
    )
    .await;
    assert!(
        matches!(
            error,
            Error::PayloadTooLarge {
                size: None,
                limit: 102400
            }
        ),
        "{error:?}"
    );
    assert_eq!(attempts, 1);
}

#[tokio::test]
async fn gateway_trouble_on_a_look_up_is_retried_on_every_attempt() {
    for status in [499, 500, 502, 503, 504] {
        let server =
            common::server_with(ResponseTemplate::new(status).set_body_string("upstream trouble"))
                .await;
        let error = whatsapp(&server.uri()).contacts().await.unwrap_err();
        let attempts = requests(&server).await.len();
        match error {
            Error::Gateway { status: got, body } => {
                assert_eq!(got, status);
                assert_eq!(body, "upstream trouble");
            }
            other => panic!("{status}: expected a gateway error, got {other:?}"),
        }
        assert_eq!(attempts, MAX_ATTEMPTS, "HTTP {status}");
    }
}

#[tokio::test]
async fn other_error_answers_are_gateway_errors_and_not_retried() {
    for (status, body) in [
        (400, "bad request data"),
        (404, "404 page not found"),
        (405, "Method Not Allowed"),
        (415, "Unsupported Media Type"),
        (501, "Not Implemented"),
    ] {
        let (error, attempts) =
            whatsapp_send_error(ResponseTemplate::new(status).set_body_string(body)).await;
        match error {
            Error::Gateway {
                status: got,
                body: shown,
            } => {
                assert_eq!(got, status);
                assert_eq!(shown, body);
            }
            other => panic!("{status}: expected a gateway error, got {other:?}"),
        }
        assert_eq!(attempts, 1, "HTTP {status}");
    }
}

#[tokio::test]
async fn long_error_bodies_are_shortened() {
    let (error, _) =
        whatsapp_send_error(ResponseTemplate::new(404).set_body_string("x".repeat(10_000))).await;
    match error {
        Error::Gateway { body, .. } => assert!(body.chars().count() < 1000, "{}", body.len()),
        other => panic!("expected a gateway error, got {other:?}"),
    }
}

#[tokio::test]
async fn unreadable_success_answer_is_invalid_response_and_not_retried() {
    let (error, attempts) =
        whatsapp_send_error(ResponseTemplate::new(200).set_body_string("<html>ok</html>")).await;
    assert!(matches!(error, Error::InvalidResponse { .. }), "{error:?}");
    assert_eq!(attempts, 1);
}

#[tokio::test]
async fn zapi_null_not_allowed_is_unauthorized_and_not_retried() {
    let (error, attempts) = zapi_send_error(
        ResponseTemplate::new(400).set_body_json(json!({"error": "null not allowed"})),
    )
    .await;
    assert!(matches!(error, Error::Unauthorized), "{error:?}");
    assert_eq!(attempts, 1);
}

#[tokio::test]
async fn zapi_invalid_phone_is_a_gateway_error_and_not_retried() {
    let (error, attempts) = zapi_send_error(
        ResponseTemplate::new(400).set_body_json(json!({"error": "Invalid phone"})),
    )
    .await;
    match error {
        Error::Gateway { status: 400, body } => assert!(body.contains("Invalid phone"), "{body}"),
        other => panic!("expected a 400 gateway error, got {other:?}"),
    }
    assert_eq!(attempts, 1);
}

#[tokio::test]
async fn zapi_errors_map_like_green_apis() {
    let (error, attempts) = zapi_send_error(ResponseTemplate::new(401)).await;
    assert!(matches!(error, Error::Unauthorized), "{error:?}");
    assert_eq!(attempts, 1);
    let (error, attempts) = zapi_send_error(ResponseTemplate::new(403)).await;
    assert!(matches!(error, Error::Forbidden), "{error:?}");
    assert_eq!(attempts, 1);
    let (error, attempts) = zapi_send_error(ResponseTemplate::new(405)).await;
    assert!(
        matches!(error, Error::Gateway { status: 405, .. }),
        "{error:?}"
    );
    assert_eq!(attempts, 1);
    let (error, attempts) = zapi_send_error(ResponseTemplate::new(429)).await;
    assert!(matches!(error, Error::RateLimited { .. }), "{error:?}");
    assert_eq!(attempts, MAX_ATTEMPTS);
    let (error, attempts) = zapi_send_error(ResponseTemplate::new(500)).await;
    match &error {
        Error::SendUnconfirmed { cause } => assert!(
            matches!(**cause, Error::Gateway { status: 500, .. }),
            "{cause:?}"
        ),
        other => panic!("expected an unconfirmed send, got {other:?}"),
    }
    assert_eq!(attempts, 1, "a send that may have gone out is not repeated");
}

#[tokio::test]
async fn timeout_is_retried_then_reported_as_timeout() {
    let server =
        common::server_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5))).await;
    let client = GreenApi::whatsapp(server.uri(), INSTANCE, TOKEN)
        .settings(fast_settings().timeout(Duration::from_millis(100)))
        .build()
        .unwrap();
    let error = client.contacts().await.unwrap_err();

    assert!(matches!(error, Error::Timeout), "{error:?}");
    assert_eq!(requests(&server).await.len(), MAX_ATTEMPTS);
}

#[tokio::test]
async fn connection_refused_is_a_transport_error() {
    let client = whatsapp(&closed_port_url());
    let error = client.contacts().await.unwrap_err();

    assert!(matches!(error, Error::Transport { .. }), "{error:?}");
    assert!(error.is_retryable());
}

#[tokio::test]
async fn retry_after_is_honoured_before_the_next_attempt() {
    let arrivals = Arc::new(Mutex::new(Vec::new()));
    let recorder = Arc::clone(&arrivals);
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(move |_: &Request| {
            let mut arrivals = recorder.lock().unwrap();
            arrivals.push(Instant::now());
            if arrivals.len() == 1 {
                ResponseTemplate::new(429).insert_header("Retry-After", "1")
            } else {
                ResponseTemplate::new(200).set_body_json(json!({"idMessage": "BAE5F4"}))
            }
        })
        .mount(&server)
        .await;

    let sent = whatsapp(&server.uri())
        .send_text(&wa_chat(), "hello", &SendOptions::new())
        .await;

    assert!(sent.is_ok(), "{sent:?}");
    let arrivals = arrivals.lock().unwrap().clone();
    assert_eq!(arrivals.len(), 2);
    let waited = arrivals[1] - arrivals[0];
    assert!(waited >= Duration::from_secs(1), "retried after {waited:?}");
}

// ---- every documented rule refuses a bad request before sending ----

#[tokio::test]
async fn green_api_body_over_100_kb_is_refused_before_sending() {
    let server = accepting_server().await;
    let card = card().company("В".repeat(60 * 1024));
    let error = whatsapp(&server.uri())
        .send_contact(&wa_chat(), &card, &SendOptions::new())
        .await
        .unwrap_err();

    match error {
        Error::PayloadTooLarge {
            size: Some(size),
            limit,
        } => {
            assert_eq!(limit, 100 * 1024);
            assert!(size > limit, "{size}");
        }
        other => panic!("expected PayloadTooLarge, got {other:?}"),
    }
    assert_nothing_sent(&server).await;
}

#[tokio::test]
async fn green_api_body_size_is_measured_in_json_bytes_not_characters() {
    let server = accepting_server().await;
    // 20000 characters, within the text limit; each is escaped as `\u0001` (6 bytes) in JSON.
    let text = "\u{1}".repeat(20000);
    let error = whatsapp(&server.uri())
        .send_text(&wa_chat(), &text, &SendOptions::new())
        .await
        .unwrap_err();

    assert!(
        matches!(error, Error::PayloadTooLarge { size: Some(size), .. } if size > 100 * 1024),
        "{error:?}"
    );
    assert_nothing_sent(&server).await;
}

#[tokio::test]
async fn green_api_generic_call_over_the_body_limit_is_refused_before_it_is_sent() {
    let server = accepting_server().await;
    let body = serde_json::json!({ "message": "a".repeat(100 * 1024) });
    let error = whatsapp(&server.uri())
        .call_method("sendMessage", Some(&body))
        .await
        .unwrap_err();

    assert!(
        matches!(error, Error::PayloadTooLarge { size: Some(size), .. } if size > 100 * 1024),
        "{error:?}"
    );
    assert_nothing_sent(&server).await;
}

#[tokio::test]
async fn phone_with_plus_is_refused_before_sending() {
    let server = accepting_server().await;
    let card = ContactCard::new().phone("+79001234568").first_name("Артем");
    let result = whatsapp(&server.uri())
        .send_contact(&wa_chat(), &card, &SendOptions::new())
        .await;

    assert_eq!(validation(result), refused("card.phone", Rule::DigitsOnly));
    assert_nothing_sent(&server).await;
}

#[tokio::test]
async fn phone_of_10_or_13_digits_is_refused_before_sending() {
    let server = accepting_server().await;
    for phone in ["7900123456", "7900123456812"] {
        let card = ContactCard::new().phone(phone).first_name("Артем");
        let result = whatsapp(&server.uri())
            .send_contact(&wa_chat(), &card, &SendOptions::new())
            .await;

        assert_eq!(
            validation(result),
            refused(
                "card.phone",
                Rule::DigitCount {
                    min: 11,
                    max: 12,
                    actual: phone.len()
                }
            )
        );
    }
    assert_nothing_sent(&server).await;
}

#[tokio::test]
async fn whatsapp_card_without_phone_or_c_us_chat_id_is_refused_before_sending() {
    let server = accepting_server().await;
    let card = ContactCard::new()
        .chat_id("120650379300963@lid")
        .first_name("Артем");
    let result = whatsapp(&server.uri())
        .send_contact(&wa_chat(), &card, &SendOptions::new())
        .await;

    assert!(
        matches!(
            validation(result),
            ValidationError {
                field: "card.phone",
                rule: Rule::Required { .. }
            }
        ),
        "a @lid id is no phone number"
    );
    assert_nothing_sent(&server).await;
}

#[tokio::test]
async fn whatsapp_card_without_any_name_is_refused_before_sending() {
    let server = accepting_server().await;
    let card = ContactCard::new()
        .phone("79001234568")
        .first_name(" ")
        .description("only a description");
    let result = whatsapp(&server.uri())
        .send_contact(&wa_chat(), &card, &SendOptions::new())
        .await;

    assert_eq!(validation(result), refused("card", Rule::NameRequired));
    assert_nothing_sent(&server).await;
}

#[tokio::test]
async fn zapi_card_without_name_or_with_a_bad_phone_is_refused_before_sending() {
    let server = accepting_server().await;
    let client = zapi(&server.uri());
    let chat = ChatId::from("5544999999999");
    let options = SendOptions::new();

    let nameless = ContactCard::new().phone("5544999999999");
    assert_eq!(
        validation(client.send_contact(&chat, &nameless, &options).await),
        refused("card", Rule::NameRequired)
    );
    let plus = ContactCard::new().phone("+5544999999999").first_name("Ana");
    assert_eq!(
        validation(client.send_contact(&chat, &plus, &options).await),
        refused("card.phone", Rule::DigitsOnly)
    );
    assert_nothing_sent(&server).await;
}

#[tokio::test]
async fn typing_of_999_ms_or_20001_ms_is_refused_before_sending() {
    let server = accepting_server().await;
    for millis in [999, 20001] {
        let typing = Duration::from_millis(millis);
        let options = SendOptions::new().typing(typing);
        let expected = refused(
            "options.typing",
            Rule::DurationRange {
                unit: "ms",
                min: 1000,
                max: 20000,
                actual: typing,
            },
        );
        let text = whatsapp(&server.uri())
            .send_text(&wa_chat(), "hello", &options)
            .await;
        assert_eq!(validation(text), expected);
        let max_card = max(&server.uri())
            .send_contact(
                &ChatId::from("10000000"),
                &ContactCard::new().chat_id("10000001"),
                &options,
            )
            .await;
        assert_eq!(validation(max_card), expected);
    }
    assert_nothing_sent(&server).await;
}

#[tokio::test]
async fn zapi_delay_of_0_s_or_16_s_is_refused_before_sending() {
    let server = accepting_server().await;
    let client = zapi(&server.uri());
    let chat = ChatId::from("5544999999999");
    let card = ContactCard::new().phone("5544999999999").first_name("Ana");
    for seconds in [0, 16] {
        let delay = Duration::from_secs(seconds);
        let range = Rule::DurationRange {
            unit: "s",
            min: 1,
            max: 15,
            actual: delay,
        };
        let options = SendOptions::new().delay(delay);
        assert_eq!(
            validation(client.send_text(&chat, "olá", &options).await),
            refused("options.delay", range.clone())
        );
        assert_eq!(
            validation(client.send_contact(&chat, &card, &options).await),
            refused("options.delay", range.clone())
        );
        let typing = SendOptions::new().typing(delay);
        assert_eq!(
            validation(client.send_text(&chat, "olá", &typing).await),
            refused("options.typing", range)
        );
    }
    assert_nothing_sent(&server).await;
}

#[tokio::test]
async fn text_over_the_platform_limit_is_refused_before_sending() {
    let server = accepting_server().await;
    let whatsapp_text = whatsapp(&server.uri())
        .send_text(&wa_chat(), &"я".repeat(20001), &SendOptions::new())
        .await;
    assert_eq!(
        validation(whatsapp_text),
        refused(
            "text",
            Rule::TooLong {
                max: 20000,
                actual: 20001
            }
        )
    );
    let max_text = max(&server.uri())
        .send_text(
            &ChatId::from("10000000"),
            &"я".repeat(4001),
            &SendOptions::new(),
        )
        .await;
    assert_eq!(
        validation(max_text),
        refused(
            "text",
            Rule::TooLong {
                max: 4000,
                actual: 4001
            }
        )
    );
    assert_nothing_sent(&server).await;
}

#[tokio::test]
async fn empty_text_is_refused_before_sending() {
    let server = accepting_server().await;
    let options = SendOptions::new();
    for text in ["", " \n\t"] {
        let results = [
            whatsapp(&server.uri())
                .send_text(&wa_chat(), text, &options)
                .await,
            max(&server.uri())
                .send_text(&ChatId::from("10000000"), text, &options)
                .await,
            zapi(&server.uri())
                .send_text(&ChatId::from("5544999999999"), text, &options)
                .await,
        ];
        for result in results {
            assert_eq!(validation(result), refused("text", Rule::Empty));
        }
    }
    assert_nothing_sent(&server).await;
}

/// Asserts that `result` refused the chat id `actual` for its shape.
fn assert_bad_chat_shape<T: std::fmt::Debug>(result: hookbot::Result<T>, actual: &str) {
    match validation(result) {
        ValidationError {
            field: "chat",
            rule: Rule::ChatIdShape { actual: shown, .. },
        } => assert_eq!(shown, actual),
        other => panic!("expected a chat id shape error for {actual}, got {other:?}"),
    }
}

#[tokio::test]
async fn chat_id_of_another_platform_is_refused_before_sending() {
    let server = accepting_server().await;
    let options = SendOptions::new();
    let cases: [(Box<dyn Gateway>, &str); 6] = [
        (Box::new(whatsapp(&server.uri())), "79001234567"),
        (Box::new(whatsapp(&server.uri())), "10000000"),
        (Box::new(max(&server.uri())), "79001234567@c.us"),
        (Box::new(max(&server.uri())), "+10000000"),
        (Box::new(zapi(&server.uri())), "5544@c.us"),
        (Box::new(zapi(&server.uri())), "+5544999999999"),
    ];
    for (client, id) in cases {
        let chat = ChatId::from(id);
        let card = ContactCard::new()
            .phone("79001234568")
            .chat_id("10000001")
            .first_name("Артем");
        assert_bad_chat_shape(client.send_text(&chat, "hello", &options).await, id);
        assert_bad_chat_shape(client.send_contact(&chat, &card, &options).await, id);
        assert_bad_chat_shape(client.contact_info(&chat).await, id);
    }
    assert_nothing_sent(&server).await;
}

#[tokio::test]
async fn contact_info_of_a_group_is_refused_before_sending() {
    let server = accepting_server().await;
    let cases: [(Box<dyn Gateway>, &str); 4] = [
        (Box::new(whatsapp(&server.uri())), "120363043968066561@g.us"),
        (
            Box::new(whatsapp(&server.uri())),
            "79001234567-1479621234@g.us",
        ),
        (Box::new(max(&server.uri())), "-10000000000000"),
        (Box::new(zapi(&server.uri())), "120363019502650977-group"),
    ];
    for (client, id) in cases {
        let result = client.contact_info(&ChatId::from(id)).await;
        assert_eq!(
            validation(result),
            refused("chat", Rule::IndividualChatOnly),
            "{id}"
        );
    }
    assert_nothing_sent(&server).await;
}

#[test]
fn builders_refuse_bad_urls_and_instance_ids() {
    let error = GreenApi::whatsapp("7105.api.greenapi.com", INSTANCE, TOKEN)
        .build()
        .unwrap_err();
    assert!(
        matches!(&error, Error::Validation(v) if *v == refused("api_url", Rule::HttpUrl)),
        "{error:?}"
    );
    let error = GreenApi::max("https://7105.api.greenapi.com", "waInstance1", TOKEN)
        .build()
        .unwrap_err();
    assert!(
        matches!(&error, Error::Validation(v) if *v == refused("instance", Rule::DigitsOnly)),
        "{error:?}"
    );
    let error = ZApi::builder("ftp://api.z-api.io", ZAPI_INSTANCE, TOKEN)
        .build()
        .unwrap_err();
    assert!(
        matches!(&error, Error::Validation(v) if *v == refused("base_url", Rule::HttpUrl)),
        "{error:?}"
    );
    let error = ZApi::builder("https://api.z-api.io", "../admin", TOKEN)
        .build()
        .unwrap_err();
    assert!(
        matches!(
            &error,
            Error::Validation(ValidationError {
                field: "instance",
                ..
            })
        ),
        "{error:?}"
    );
}

// ---- no failure shows a token ----

/// Fails if `shown` contains the instance token or the client token.
fn assert_no_secret(shown: &str) {
    assert!(!shown.contains(TOKEN), "instance token shown in {shown:?}");
    assert!(
        !shown.contains(CLIENT_TOKEN),
        "client token shown in {shown:?}"
    );
}

/// Fails if the error, formatted either way or through its sources, shows a token.
fn assert_error_hides_secrets(error: &Error) {
    assert_no_secret(&format!("{error}"));
    assert_no_secret(&format!("{error:?}"));
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        assert_no_secret(&format!("{cause}"));
        assert_no_secret(&format!("{cause:?}"));
        source = cause.source();
    }
}

/// Answers 500 with a body that echoes the request's URL (with the instance token) and its
/// `Client-Token` header.
fn echoing_500(request: &Request) -> ResponseTemplate {
    let client_token = request
        .headers
        .get("client-token")
        .and_then(|value| value.to_str().ok())
        .unwrap_or("none");
    ResponseTemplate::new(500).set_body_string(format!(
        "cannot serve {} for Client-Token {client_token}",
        request.url
    ))
}

/// The errors of a client's failed calls: 401, a 500 echoing the credentials, a closed port, a
/// time-out.
async fn failures(build: impl Fn(&str, ClientSettings) -> Box<dyn Gateway>) -> Vec<Error> {
    let mut errors = Vec::new();
    let unauthorized = common::server_with(ResponseTemplate::new(401)).await;
    let echoing = MockServer::start().await;
    Mock::given(any())
        .respond_with(echoing_500)
        .mount(&echoing)
        .await;
    let slow =
        common::server_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5))).await;

    for (uri, settings) in [
        (unauthorized.uri(), fast_settings()),
        (echoing.uri(), fast_settings()),
        (closed_port_url(), fast_settings()),
        (
            slow.uri(),
            fast_settings().timeout(Duration::from_millis(100)),
        ),
    ] {
        let client = build(&uri, settings);
        errors.push(client.contacts().await.unwrap_err());
    }
    assert!(matches!(errors[0], Error::Unauthorized), "{:?}", errors[0]);
    match &errors[1] {
        Error::Gateway { status: 500, body } => {
            assert!(body.contains("***"), "the echoed token is redacted: {body}")
        }
        other => panic!("expected a gateway error, got {other:?}"),
    }
    assert!(
        matches!(errors[2], Error::Transport { .. }),
        "{:?}",
        errors[2]
    );
    assert!(matches!(errors[3], Error::Timeout), "{:?}", errors[3]);
    errors
}

#[tokio::test]
async fn failed_green_api_calls_never_show_the_token() {
    let errors = failures(|uri, settings| {
        Box::new(
            GreenApi::whatsapp(uri, INSTANCE, TOKEN)
                .settings(settings)
                .build()
                .unwrap(),
        )
    })
    .await;
    for error in &errors {
        assert_error_hides_secrets(error);
    }
}

#[tokio::test]
async fn failed_zapi_calls_never_show_the_tokens() {
    let errors = failures(|uri, settings| {
        Box::new(
            ZApi::builder(uri, ZAPI_INSTANCE, TOKEN)
                .client_token(CLIENT_TOKEN)
                .settings(settings)
                .build()
                .unwrap(),
        )
    })
    .await;
    for error in &errors {
        assert_error_hides_secrets(error);
    }
}

#[tokio::test]
async fn an_answer_echoing_the_token_in_a_bad_shape_does_not_show_it() {
    let server = MockServer::start().await;
    // A JSON string where an object belongs: the decoding error quotes the string.
    Mock::given(any())
        .respond_with(|request: &Request| {
            ResponseTemplate::new(200).set_body_json(json!(request.url.as_str()))
        })
        .mount(&server)
        .await;

    let error = whatsapp(&server.uri())
        .send_text(&wa_chat(), "hello", &SendOptions::new())
        .await
        .unwrap_err();

    assert!(matches!(error, Error::InvalidResponse { .. }), "{error:?}");
    assert_error_hides_secrets(&error);
}

#[test]
fn clients_and_builders_never_show_the_tokens() {
    let green_builder = GreenApi::whatsapp("https://7105.api.greenapi.com", INSTANCE, TOKEN);
    let zapi_builder =
        ZApi::builder("https://api.z-api.io", ZAPI_INSTANCE, TOKEN).client_token(CLIENT_TOKEN);
    assert_no_secret(&format!("{green_builder:?}"));
    assert_no_secret(&format!("{zapi_builder:?}"));

    let green = green_builder.build().unwrap();
    let zapi = zapi_builder.build().unwrap();
    let green_debug = format!("{green:?}");
    assert_no_secret(&green_debug);
    assert!(green_debug.contains(INSTANCE), "{green_debug}");
    assert_no_secret(&format!("{zapi:?}"));
    assert_no_secret(&format!(
        "{:?}",
        zapi_with_client_token("http://127.0.0.1:9")
    ));
}

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn logs_of_failed_calls_never_show_the_tokens() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter("hookbot=trace")
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    // Global, not per thread: tracing caches per call site whether anyone listens, and tests on
    // other threads would otherwise race this one to that cache.
    tracing::subscriber::set_global_default(subscriber)
        .expect("no other test of this file sets a subscriber");

    let echoing = MockServer::start().await;
    Mock::given(any())
        .respond_with(echoing_500)
        .mount(&echoing)
        .await;
    let client = zapi_with_client_token(&echoing.uri());
    client.contacts().await.unwrap_err();
    let client = whatsapp(&echoing.uri());
    client
        .send_text(
            &wa_chat(),
            "hello",
            &SendOptions::new().delay(Duration::from_secs(1)),
        )
        .await
        .unwrap_err();
    whatsapp(&closed_port_url()).contacts().await.unwrap_err();

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("retrying"), "the calls were logged: {logs}");
    assert_no_secret(&logs);
}
