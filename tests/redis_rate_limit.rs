//! Rate limits shared by replicas through Redis: two clients of one instance (two replicas)
//! together keep to the instance's limit, as the mock gateway's record of arrivals shows; and
//! with Redis unreachable, sending goes on under each client's own limit.
//!
//! The shared-limit tests need `HOOKBOT_TEST_REDIS_URL` (they print a note and pass without
//! it); each uses a fresh random namespace. The limits are small (5 per second) to keep the
//! tests short. The assertions are on the spacing of the requests the gateway received, with
//! a margin for the network, not on how long the test took.

#![cfg(feature = "redis")]

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{INSTANCE, TOKEN, ZAPI_INSTANCE};
use hookbot::ChatId;
use hookbot::config::Config;
use hookbot::gateway::GatewayKind;
use hookbot::gateway::{
    ClientSettings, Gateway, GreenApi, RateLimits, RetryPolicy, SendOptions, ZApi,
};
use hookbot::redis::Redis;
use serde_json::json;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// The limit of the tests: 5 sends per second, in bursts of up to 5.
const PER_SECOND: u32 = 5;
/// How much later than its turn a request may reach the mock (network, a busy machine).
const MARGIN: Duration = Duration::from_millis(100);

/// Answers every request as a successful send, noting when it arrived.
#[derive(Clone, Default)]
struct Arrivals(Arc<Mutex<Vec<Instant>>>);

impl Respond for Arrivals {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        self.0.lock().unwrap().push(Instant::now());
        ResponseTemplate::new(200).set_body_json(json!({
            "idMessage": "BAE5F4886F6F2D05",
            "zaapId": "3999984263738042930CD6ECDE9VDWSA",
            "messageId": "D241XXXX732339502B68",
            "id": "D241XXXX732339502B68"
        }))
    }
}

impl Arrivals {
    fn sorted(&self) -> Vec<Instant> {
        let mut at = self.0.lock().unwrap().clone();
        at.sort();
        at
    }
}

async fn gateway() -> (MockServer, Arrivals) {
    let server = MockServer::start().await;
    let arrivals = Arrivals::default();
    Mock::given(any())
        .respond_with(arrivals.clone())
        .mount(&server)
        .await;
    (server, arrivals)
}

/// A replica's connection to a fresh namespace shared by the test's replicas; `None` (with a
/// note) when `HOOKBOT_TEST_REDIS_URL` is unset.
fn replicas() -> Option<impl Fn() -> Redis> {
    let Ok(url) = std::env::var("HOOKBOT_TEST_REDIS_URL") else {
        eprintln!("skipped: set HOOKBOT_TEST_REDIS_URL to run the Redis tests");
        return None;
    };
    let namespace = format!("hookbot-test-{:016x}", rand::random::<u64>());
    Some(move || {
        Redis::open(url.as_str())
            .expect("a Redis URL")
            .namespace(&namespace)
    })
}

fn settings() -> ClientSettings {
    ClientSettings::new()
        .retry(RetryPolicy::none())
        .rate_limits(RateLimits::new().sends_per_second(PER_SECOND))
}

/// Sends `count` texts through `client`, all at once.
async fn send(client: &dyn Gateway, count: usize) {
    let chat = ChatId::from(match client.kind() {
        GatewayKind::ZApi => "5511999999999",
        _ => "79001234567@c.us",
    });
    let sends = (0..count).map(|n| {
        let chat = chat.clone();
        async move {
            client
                .send_text(&chat, &format!("message {n}"), &SendOptions::new())
                .await
        }
    });
    for sent in futures_util::future::join_all(sends).await {
        sent.expect("sent");
    }
}

/// Fails unless the arrivals keep to `PER_SECOND` in bursts of up to `PER_SECOND`: any `k`
/// consecutive ones span at least `(k - burst)` turns, less the margin.
fn assert_within_the_limit(at: &[Instant]) {
    let turn = Duration::from_secs(1) / PER_SECOND;
    let burst = PER_SECOND as usize;
    for i in 0..at.len() {
        for j in i + burst..at.len() {
            let least = turn * (j - i + 1 - burst) as u32;
            let spread = at[j] - at[i];
            assert!(
                spread + MARGIN >= least,
                "requests {i} to {j} arrived within {spread:?}, the limit needs {least:?}"
            );
        }
    }
}

#[tokio::test]
async fn two_replicas_of_one_instance_together_keep_to_its_send_limit() {
    let Some(replica) = replicas() else { return };
    let (server, arrivals) = gateway().await;
    let first = GreenApi::whatsapp(server.uri(), INSTANCE, TOKEN)
        .settings(settings().shared_limits(&replica()))
        .build()
        .unwrap();
    let second = GreenApi::whatsapp(server.uri(), INSTANCE, TOKEN)
        .settings(settings().shared_limits(&replica()))
        .build()
        .unwrap();

    tokio::join!(send(&first, 6), send(&second, 5));

    let at = arrivals.sorted();
    assert_eq!(at.len(), 11);
    assert_within_the_limit(&at);
    assert!(
        at[10] - at[0] + MARGIN >= Duration::from_millis(1200),
        "11 sends at 5/s after a burst of 5 span at least 1.2 s: {:?}",
        at[10] - at[0]
    );
}

#[tokio::test]
async fn two_zapi_replicas_share_the_limit_too() {
    let Some(replica) = replicas() else { return };
    let (server, arrivals) = gateway().await;
    let client = || {
        ZApi::builder(server.uri(), ZAPI_INSTANCE, TOKEN)
            .settings(settings().shared_limits(&replica()))
            .build()
            .unwrap()
    };
    let (first, second) = (client(), client());

    tokio::join!(send(&first, 4), send(&second, 4));

    let at = arrivals.sorted();
    assert_eq!(at.len(), 8);
    assert_within_the_limit(&at);
}

#[tokio::test]
async fn clients_connected_from_the_configuration_share_the_limit() {
    let Some(replica) = replicas() else { return };
    let (server, arrivals) = gateway().await;
    let uri = server.uri();
    let vars = [
        ("HOOKBOT_GATEWAY", "green-api"),
        ("HOOKBOT_API_URL", uri.as_str()),
        ("HOOKBOT_INSTANCE", INSTANCE),
        ("HOOKBOT_TOKEN", TOKEN),
    ];
    let config = Config::from_vars(|name| {
        vars.iter()
            .find(|(var, _)| *var == name)
            .map(|(_, value)| value.to_string())
    })
    .unwrap();
    let connect = || {
        config
            .gateway
            .connect_with(settings().shared_limits(&replica()))
            .unwrap()
            .expect("a gateway is configured")
    };
    let (first, second) = (connect(), connect());

    tokio::join!(send(first.as_ref(), 4), send(second.as_ref(), 4));

    let at = arrivals.sorted();
    assert_eq!(at.len(), 8);
    assert_within_the_limit(&at);
}

#[tokio::test]
async fn with_redis_unreachable_sends_go_out_under_the_clients_own_limit() {
    // Nothing listens on port 1.
    let unreachable = Redis::open("redis://127.0.0.1:1").unwrap();
    let (server, arrivals) = gateway().await;
    let client = GreenApi::whatsapp(server.uri(), INSTANCE, TOKEN)
        .settings(settings().shared_limits(&unreachable))
        .build()
        .unwrap();

    tokio::time::timeout(Duration::from_secs(30), send(&client, 8))
        .await
        .expect("sending does not wait for Redis for ever");

    let at = arrivals.sorted();
    assert_eq!(at.len(), 8);
    assert_within_the_limit(&at);
}
