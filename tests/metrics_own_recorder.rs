//! An application that installs a metrics recorder of its own before hookbot's: hookbot's
//! metrics go to it, and `GET /metrics` says they are not served here. (A test file of its own:
//! the recorder is global to the test process.)

use std::sync::{Arc, Mutex};

use hookbot::bots::contact_card;
use hookbot::testing::TestBot;
use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use reqwest::StatusCode;

/// A recorder that keeps the names of the counters registered with it.
#[derive(Clone, Default)]
struct Names(Arc<Mutex<Vec<String>>>);

impl Recorder for Names {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        self.0.lock().unwrap().push(key.name().to_owned());
        Counter::noop()
    }

    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::noop()
    }

    fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::noop()
    }
}

#[tokio::test]
async fn an_application_recorder_installed_first_gets_the_metrics_and_get_metrics_is_404() {
    let names = Names::default();
    metrics::set_global_recorder(names.clone()).expect("the first recorder of this process");

    let mut bot = TestBot::start(contact_card::router()).await;
    bot.send("79001234568@c.us", "help").await;
    bot.reply("79001234568@c.us").await;

    let response = reqwest::get(format!("{}/metrics", bot.url()))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(response.text().await.unwrap().contains("recorder"));
    assert_eq!(hookbot::metrics::render(), None);
    assert!(!hookbot::metrics::install());
    let names = names.0.lock().unwrap();
    for expected in [
        "hookbot_events_received_total",
        "hookbot_gateway_calls_total",
    ] {
        assert!(
            names.iter().any(|name| name == expected),
            "{expected} not in {names:?}"
        );
    }
}
