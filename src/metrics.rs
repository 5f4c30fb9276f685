//! Operations: what a bot did, in Prometheus text format, on `GET /metrics`.
//!
//! A bot's HTTP surface serves it already, whatever its [intake](crate::intake)
//! ([`Bot::router`](crate::Bot::router), so [`Bot::run`](crate::Bot::run) and the
//! [test kit](crate::testing) too). An application that serves its own routes mounts
//! [`router`], or answers with [`render`]:
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! let app = axum::Router::new().merge(hookbot::metrics::router());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:9100").await?;
//! axum::serve(listener, app).await
//! # }
//! ```
//!
//! | metric | labels | what it counts |
//! |---|---|---|
//! | `hookbot_events_received_total` | `gateway`, `instance`, `kind` | notifications parsed into events and offered to the intake (webhook or poller), each delivery once |
//! | `hookbot_events_acknowledged_total` | `gateway`, `instance`, `kind` | events the gateway was told it may forget (200, or deleteNotification): queued for handling, or duplicates; received − acknowledged were refused (503, or left in the queue) |
//! | `hookbot_events_duplicate_total` | `gateway`, `instance`, `kind` | acknowledged events that were copies of one accepted before, not handled again |
//! | `hookbot_events_handled_total` | `gateway`, `instance`, `kind` | events whose handler returned `Ok` (an event no route matched included) |
//! | `hookbot_events_failed_total` | `gateway`, `instance`, `kind` | events whose handler returned an error or panicked |
//! | `hookbot_handler_duration_seconds` | `gateway`, `instance`, `kind` | histogram of the handler's time per event, success or failure |
//! | `hookbot_queue_depth` | `gateway`, `instance` | gauge: events accepted and not yet handled |
//! | `hookbot_gateway_calls_total` | `gateway`, `instance`, `method`, `status` | HTTP requests to the gateway, one per attempt (a retried call counts each try): `status` is the answer's code (`200`, `429`, `500`), or `timeout` / `transport` when no answer came |
//! | `hookbot_contact_cache_hits_total` | `gateway`, `instance`, `cache` | [`ContactBook`](crate::contacts::ContactBook) look-ups answered from the cache: `cache` is `contacts` (the list) or `contact_info` (a chat's profile) |
//! | `hookbot_contact_cache_misses_total` | `gateway`, `instance`, `cache` | look-ups that found no fresh entry (callers sharing one load each count a miss; the load's gateway call is counted once) |
//!
//! `gateway` is a [`GatewayKind`] name (`green-api`, `green-api-max`, `zapi`), `kind` an
//! [`EventKind`](crate::EventKind) name (`message`, `status`, ...), `method` the gateway's
//! method name (`sendMessage`, `send-text`). `instance` is the instance id (GREEN-API
//! `idInstance`, Z-API instance id; empty when a notification names none): a bot serves few,
//! and an operator wants to tell them apart. Instance ids come from notifications, so that a webhook without a token cannot be
//! made to grow the output without end, at most [`MAX_INSTANCES`] distinct ones are labelled;
//! later ones are counted under `instance="other"`. No label ever holds a token or a URL.
//!
//! # The recorder
//!
//! The [`metrics`](https://docs.rs/metrics) facade has one recorder per process. hookbot
//! installs a Prometheus recorder the first time it records or renders anything, and keeps its
//! histograms drained every few seconds on a small thread of its own. An application's own
//! `metrics::counter!` calls then appear on the same `GET /metrics`. An application that
//! installed a recorder of its own before (it must do so before building a bot) gets hookbot's
//! metrics in that recorder; hookbot's `GET /metrics` then answers 404 and [`render`] `None`.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Once, OnceLock, PoisonError, RwLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics::{Counter, Gauge, Histogram, SharedString, Unit};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::event::Event;
use crate::gateway::{Gateway, GatewayKind};

/// Notifications parsed into events and offered to the intake.
pub const EVENTS_RECEIVED: &str = "hookbot_events_received_total";
/// Events the gateway was told it may forget: queued, or duplicates.
pub const EVENTS_ACKNOWLEDGED: &str = "hookbot_events_acknowledged_total";
/// Acknowledged events that were copies of one accepted before.
pub const EVENTS_DUPLICATE: &str = "hookbot_events_duplicate_total";
/// Events whose handler returned `Ok`.
pub const EVENTS_HANDLED: &str = "hookbot_events_handled_total";
/// Events whose handler returned an error or panicked.
pub const EVENTS_FAILED: &str = "hookbot_events_failed_total";
/// Histogram of the handler's time per event, in seconds.
pub const HANDLER_DURATION: &str = "hookbot_handler_duration_seconds";
/// Gauge of the events accepted and not yet handled.
pub const QUEUE_DEPTH: &str = "hookbot_queue_depth";
/// HTTP requests to the gateway, one per attempt.
pub const GATEWAY_CALLS: &str = "hookbot_gateway_calls_total";
/// Contact book look-ups answered from the cache.
pub const CONTACT_CACHE_HITS: &str = "hookbot_contact_cache_hits_total";
/// Contact book look-ups that found no fresh entry.
pub const CONTACT_CACHE_MISSES: &str = "hookbot_contact_cache_misses_total";

/// The bounds of [`HANDLER_DURATION`]'s buckets, in seconds: from a handler that only
/// computes (1 ms) to one that waits out a gateway's retries (30 s).
pub const HANDLER_DURATION_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// How many distinct instance ids are labelled; events of further ones count as `other`.
pub const MAX_INSTANCES: usize = 100;

/// The `instance` label of the instances past [`MAX_INSTANCES`].
const OTHER_INSTANCE: &str = "other";

/// How often the recorder's histograms are drained when nobody scrapes.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// What `GET /metrics` answers when another recorder was installed first.
const NOT_OURS: &str = "hookbot's metrics go to the metrics recorder this process installed before hookbot's; scrape that recorder's exporter\n";

/// The Prometheus recorder's handle, once hookbot installed it; `None` when another recorder
/// was installed first.
static RECORDER: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// `GET /metrics`, to merge into an application's own router.
pub fn router() -> Router {
    Router::new().route("/metrics", get(scrape))
}

/// The metrics of this process in Prometheus text format; `None` when the application
/// installed a metrics recorder of its own before hookbot's (its exporter has them).
pub fn render() -> Option<String> {
    recorder().map(PrometheusHandle::render)
}

/// Installs hookbot's Prometheus recorder as the process's metrics recorder, unless one is
/// installed already; whether hookbot's is the one. hookbot calls it before it records
/// anything; call it yourself to install it before other code of yours keeps metric handles
/// (a handle taken while no recorder is installed counts nothing).
pub fn install() -> bool {
    recorder().is_some()
}

async fn scrape() -> Response {
    match render() {
        Some(text) => (
            [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
            text,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, NOT_OURS).into_response(),
    }
}

fn recorder() -> Option<&'static PrometheusHandle> {
    RECORDER.get_or_init(install_recorder).as_ref()
}

/// Builds and installs the recorder with [`HANDLER_DURATION`]'s buckets, describes every
/// metric (to whichever recorder is installed), and starts the upkeep.
fn install_recorder() -> Option<PrometheusHandle> {
    let installed = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full(HANDLER_DURATION.to_owned()),
            &HANDLER_DURATION_BUCKETS,
        )
        .and_then(PrometheusBuilder::install_recorder);
    describe();
    match installed {
        Ok(handle) => {
            keep_drained(handle.clone());
            Some(handle)
        }
        Err(error) => {
            tracing::info!(%error, "another metrics recorder is installed: hookbot's metrics go to it, and GET /metrics answers 404");
            None
        }
    }
}

/// Drains the histograms now and then, so that their samples do not pile up between scrapes.
fn keep_drained(handle: PrometheusHandle) {
    let upkeep = std::thread::Builder::new()
        .name("hookbot-metrics".to_owned())
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_INTERVAL);
                handle.run_upkeep();
            }
        });
    if let Err(error) = upkeep {
        tracing::warn!(%error, "no thread for the metrics' upkeep: histograms are drained only when scraped");
    }
}

/// The `# HELP` lines.
fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        EVENTS_RECEIVED,
        "Notifications parsed into events and offered to the intake (webhook or poller), each delivery once."
    );
    describe_counter!(
        EVENTS_ACKNOWLEDGED,
        "Events the gateway was told it may forget: queued for handling, or duplicates."
    );
    describe_counter!(
        EVENTS_DUPLICATE,
        "Acknowledged events that were copies of one accepted before, not handled again."
    );
    describe_counter!(EVENTS_HANDLED, "Events whose handler returned Ok.");
    describe_counter!(
        EVENTS_FAILED,
        "Events whose handler returned an error or panicked."
    );
    describe_histogram!(
        HANDLER_DURATION,
        Unit::Seconds,
        "The handler's time per event, success or failure."
    );
    describe_gauge!(QUEUE_DEPTH, "Events accepted and not yet handled.");
    describe_counter!(
        GATEWAY_CALLS,
        "HTTP requests to the gateway, one per attempt, by method and answer status (timeout, transport: no answer)."
    );
    describe_counter!(
        CONTACT_CACHE_HITS,
        "Contact book look-ups answered from the cache."
    );
    describe_counter!(
        CONTACT_CACHE_MISSES,
        "Contact book look-ups that found no fresh entry."
    );
}

/// `hookbot_queue_depth{gateway, instance}`: for a queue backend to move (`increment`,
/// `decrement`) or `set`. The in-memory dispatcher moves it by one as it accepts and handles
/// each event.
pub(crate) fn queue_depth(gateway: GatewayKind, instance: &str) -> Gauge {
    recorder();
    metrics::gauge!(
        QUEUE_DEPTH,
        "gateway" => gateway.as_str(),
        "instance" => instance_label(instance),
    )
}

/// The counters and histogram of one (gateway, instance, kind), fetched once and kept: the
/// intake and the dispatcher count each event with a few atomic additions, without
/// formatting or allocating.
pub(crate) struct EventSeries {
    gateway: GatewayKind,
    kind: &'static str,
    received: Counter,
    acknowledged: Counter,
    duplicate: Counter,
    handled: Counter,
    failed: Counter,
    duration: Histogram,
    depth: Gauge,
}

/// The series made so far, by instance id.
type Registry = HashMap<Arc<str>, Vec<&'static EventSeries>>;

static SERIES: LazyLock<RwLock<Registry>> = LazyLock::new(Default::default);

impl EventSeries {
    /// The series of `event`'s gateway, instance and kind.
    pub(crate) fn of(event: &Event) -> &'static EventSeries {
        let (gateway, kind) = (event.gateway, event.kind.name());
        let found = {
            let series = SERIES.read().unwrap_or_else(PoisonError::into_inner);
            find(&series, gateway, &event.instance, kind)
        };
        found.unwrap_or_else(|| Self::make(gateway, &event.instance, kind))
    }

    /// Makes the series (once per key; they live as long as the recorder keeps them).
    fn make(gateway: GatewayKind, instance: &Arc<str>, kind: &'static str) -> &'static Self {
        let mut registry = SERIES.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(made) = find(&registry, gateway, instance, kind) {
            return made;
        }
        let key = if registry.len() < MAX_INSTANCES || registry.contains_key(&**instance) {
            instance.clone()
        } else {
            static WARNED: Once = Once::new();
            WARNED.call_once(|| {
                tracing::warn!(
                    limit = MAX_INSTANCES,
                    "more instances than metrics label: the rest count as instance=\"other\""
                )
            });
            Arc::from(OTHER_INSTANCE)
        };
        if let Some(made) = find(&registry, gateway, &key, kind) {
            return made;
        }
        let made: &'static Self = Box::leak(Box::new(Self::register(gateway, &key, kind)));
        registry.entry(key).or_default().push(made);
        made
    }

    fn register(gateway: GatewayKind, instance: &Arc<str>, kind: &'static str) -> Self {
        recorder();
        let labels = || {
            [
                ("gateway", SharedString::const_str(gateway.as_str())),
                ("instance", SharedString::from(instance.clone())),
                ("kind", SharedString::const_str(kind)),
            ]
        };
        let counter = |name: &'static str| metrics::counter!(name, &labels());
        Self {
            gateway,
            kind,
            received: counter(EVENTS_RECEIVED),
            acknowledged: counter(EVENTS_ACKNOWLEDGED),
            duplicate: counter(EVENTS_DUPLICATE),
            handled: counter(EVENTS_HANDLED),
            failed: counter(EVENTS_FAILED),
            duration: metrics::histogram!(HANDLER_DURATION, &labels()),
            depth: queue_depth(gateway, instance),
        }
    }

    /// The event was offered to the intake.
    pub(crate) fn received(&self) {
        self.received.increment(1);
    }

    /// The event was queued for handling, and the gateway told so.
    pub(crate) fn acknowledged(&self) {
        self.acknowledged.increment(1);
    }

    /// The event was a copy of one accepted before: acknowledged, not handled again.
    pub(crate) fn duplicate(&self) {
        self.acknowledged.increment(1);
        self.duplicate.increment(1);
    }

    /// The dispatcher accepted the event: one more waits.
    pub(crate) fn queued(&self) {
        self.depth.increment(1.0);
    }

    /// The handler that started at `started` is done with the event, `ok` or not: one fewer
    /// waits.
    pub(crate) fn done(&self, started: Instant, ok: bool) {
        self.depth.decrement(1.0);
        self.duration.record(started.elapsed().as_secs_f64());
        if ok {
            self.handled.increment(1);
        } else {
            self.failed.increment(1);
        }
    }
}

/// The series of (`gateway`, `instance`, `kind`) or, past [`MAX_INSTANCES`], of `other`.
fn find(
    registry: &Registry,
    gateway: GatewayKind,
    instance: &str,
    kind: &'static str,
) -> Option<&'static EventSeries> {
    let same = |series: &&&EventSeries| {
        series.gateway == gateway && (std::ptr::eq(series.kind, kind) || series.kind == kind)
    };
    registry.get(instance)?.iter().find(same).copied()
}

/// `instance` as a label value, for the series of gateway clients and contact books: the
/// application makes those, so their instances are few (only events' instance ids come from
/// the network).
fn instance_label(instance: &str) -> SharedString {
    SharedString::from_owned(instance.to_owned())
}

/// The labels of one gateway client's calls: its gateway and instance.
#[derive(Debug, Clone)]
pub(crate) struct CallLabels {
    gateway: &'static str,
    instance: SharedString,
}

impl CallLabels {
    /// The labels of a client of `gateway`'s instance `instance`.
    pub(crate) fn new(gateway: GatewayKind, instance: &str) -> Self {
        Self {
            gateway: gateway.as_str(),
            instance: instance_label(instance),
        }
    }

    /// Counts one attempt of `method` that got an answer with `status`.
    pub(crate) fn answered(&self, method: &'static str, status: reqwest::StatusCode) {
        self.count(method, SharedString::from_owned(status.as_str().to_owned()));
    }

    /// Counts one attempt of `method` that got no answer: `timeout`, or `transport` (the
    /// connection failed).
    pub(crate) fn unanswered(&self, method: &'static str, error: &reqwest::Error) {
        let status = if error.is_timeout() {
            "timeout"
        } else {
            "transport"
        };
        self.count(method, SharedString::const_str(status));
    }

    fn count(&self, method: &'static str, status: SharedString) {
        recorder();
        metrics::counter!(
            GATEWAY_CALLS,
            "gateway" => self.gateway,
            "instance" => self.instance.clone(),
            "method" => method,
            "status" => status,
        )
        .increment(1);
    }
}

/// The hit and miss counters of one contact book cache.
#[derive(Clone)]
pub(crate) struct CacheCounters {
    hits: Counter,
    misses: Counter,
}

impl CacheCounters {
    /// The counters of `gateway`'s cache named `cache` (`contacts`, `contact_info`).
    pub(crate) fn new(gateway: &dyn Gateway, cache: &'static str) -> Self {
        recorder();
        let labels = [
            ("gateway", SharedString::const_str(gateway.kind().as_str())),
            ("instance", instance_label(gateway.instance())),
            ("cache", SharedString::const_str(cache)),
        ];
        Self {
            hits: metrics::counter!(CONTACT_CACHE_HITS, &labels),
            misses: metrics::counter!(CONTACT_CACHE_MISSES, &labels),
        }
    }

    /// A look-up found a fresh entry.
    pub(crate) fn hit(&self) {
        self.hits.increment(1);
    }

    /// A look-up found none.
    pub(crate) fn miss(&self) {
        self.misses.increment(1);
    }
}
