//! An application that installs a metrics recorder of its own before hookbot's: hookbot's
//! metrics go to it, and `GET /metrics` says they are not served here. (A test file of its own:
//! the recorder is global to the test process.)

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hookbot::bots::contact_card;
use hookbot::testing::TestBot;
use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use reqwest::StatusCode;

/// A recorder that keeps the names of the counters registered with it, and the counters.
#[derive(Clone, Default)]
struct Names(Arc<Mutex<Vec<Named>>>);

/// A counter's name and its count.
type Named = (String, Arc<AtomicU64>);

impl Names {
    /// The sum of the counters named `name`.
    fn count(&self, name: &str) -> u64 {
        let names = self.0.lock().unwrap();
        let named = names.iter().filter(|(counter, _)| counter == name);
        named.map(|(_, count)| count.load(Ordering::Relaxed)).sum()
    }
}

impl Recorder for Names {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        let count = Arc::new(AtomicU64::new(0));
        let name = key.name().to_owned();
        self.0.lock().unwrap().push((name, Arc::clone(&count)));
        Counter::from_arc(count)
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
    for expected in [
        "hookbot_events_received_total",
        "hookbot_gateway_calls_total",
    ] {
        let names = names.0.lock().unwrap();
        let names: Vec<&str> = names.iter().map(|(name, _)| name.as_str()).collect();
        assert!(names.contains(&expected), "{expected} not in {names:?}");
    }
    // The event's counts, and the reply's `200` from the gateway, reach the application's
    // recorder too (hookbot keeps both counts and passes them on).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while names.count("hookbot_events_handled_total") == 0
        || names.count("hookbot_gateway_calls_total") == 0
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the handled event or the reply's call never reached the application's recorder"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let handled = names.count("hookbot_events_handled_total");
    assert!(names.count("hookbot_events_received_total") >= handled);
    assert!(names.count("hookbot_events_acknowledged_total") >= handled);
}
