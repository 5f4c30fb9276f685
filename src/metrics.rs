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
//! | `hookbot_events_received_total` | `gateway`, `instance_id`, `kind` | notifications parsed into events and offered to the intake (webhook or poller), each delivery once |
//! | `hookbot_events_acknowledged_total` | `gateway`, `instance_id`, `kind` | events accepted for good: the gateway told it may forget them (200, or deleteNotification), or kept although their request was dropped before its answer — queued for handling, or duplicates; received − acknowledged were refused (503, or left in the queue) |
//! | `hookbot_events_duplicate_total` | `gateway`, `instance_id`, `kind` | acknowledged events that were copies of one accepted before, not handled again |
//! | `hookbot_events_handled_total` | `gateway`, `instance_id`, `kind` | events whose handler returned `Ok` (an event no route matched included) |
//! | `hookbot_events_failed_total` | `gateway`, `instance_id`, `kind` | events whose handler returned an error or panicked |
//! | `hookbot_handler_duration_seconds` | `gateway`, `instance_id`, `kind` | histogram of the handler's time per event, success or failure |
//! | `hookbot_queue_depth` | `gateway`, `instance_id` | gauge: events accepted and not yet handled |
//! | `hookbot_instance_connected` | `gateway`, `instance_id` | gauge: 1 when the instance's last state notification said it can send and receive (GREEN-API `authorized`, `online`; Z-API `connected`), 0 when it said it cannot (`notAuthorized`, `blocked`, `sleepMode`, `starting`, `offline`, `disconnected`, ...); absent until one came |
//! | `hookbot_gateway_calls_total` | `gateway`, `instance_id`, `method`, `status` | HTTP requests to the gateway, one per attempt (a retried call counts each try): `status` is the answer's code when it is one of [`STATUS_CODES`] (`200`, `429`, `500`, ...), else its class (`2xx`, `3xx`, `4xx`, `5xx`; `other` past 599), or `timeout` / `transport` when no answer came |
//! | `hookbot_gateway_refusals_total` | `gateway`, `instance_id`, `reason` | answers by which the gateway refused the instance itself, by `reason`: `not_authorized` (the phone is not linked: scan the QR code), `unauthorized` (wrong API token or client token), `forbidden` (wrong instance id), `quota_exceeded` (the plan's quota is used up); each at 0 from the client's start |
//! | `hookbot_contact_cache_hits_total` | `gateway`, `instance_id`, `cache` | [`ContactBook`](crate::contacts::ContactBook) look-ups answered from the cache: `cache` is `contacts` (the list) or `contact_info` (a chat's profile) |
//! | `hookbot_contact_cache_misses_total` | `gateway`, `instance_id`, `cache` | look-ups that found no fresh entry (callers sharing one load each count a miss; the load's gateway call is counted once) |
//!
//! # Label values
//!
//! Every label value comes from what the bot knows, never from what a request says, so that
//! nobody who can post to the webhook can make the output grow. `gateway` is a
//! [`GatewayKind`] name (`green-api`, `green-api-max`, `zapi`, ...), `kind` an
//! [`EventKind`] name (`message`, `status`, ...), `method` the gateway's
//! method name in hookbot's code (`sendMessage`, `send-text`), `status` and `reason` one of
//! a fixed list. `instance_id` is an instance id (GREEN-API `idInstance`, Z-API instance id):
//! for events, the id of an instance the bot [serves](crate::instance::Instances), or
//! [`UNKNOWN_INSTANCE`] for a notification naming any other (a bot built on one client
//! handles those too); for gateway calls and contact caches, the id of the client the
//! application built. No label ever holds a token or a URL.
//!
//! The label is `instance_id`, not `instance`: Prometheus gives every scraped series an
//! `instance` label of its own (the target's address), and would rename a scraped one to
//! `exported_instance`.
//!
//! The dashboard and alert rules in the repository's `ops/` folder read these metrics.
//!
//! # The recorder
//!
//! The [`metrics`](https://docs.rs/metrics) facade has one recorder per process. hookbot
//! installs a Prometheus recorder the first time it records or renders anything, and keeps its
//! histograms drained every few seconds on a small thread of its own (hookbot counts
//! `hookbot_handler_duration_seconds`'s buckets itself and writes them after the recorder's
//! output, in its format). An application's own
//! `metrics::counter!` calls then appear on the same `GET /metrics`. An application that
//! installed a recorder of its own before (it must do so before building a bot) gets hookbot's
//! metrics in that recorder — the events', the gateway's `200`s' and the contact caches' counts
//! and the queue depths each second, as a thread of hookbot's passes them on (hookbot keeps
//! those counts itself, on lines its callers read anyway, and passes them to its own recorder
//! at each render); hookbot's `GET /metrics` then answers 404 and [`render`] `None`.

use std::cell::Cell;
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, OnceLock, PoisonError, RwLock, Weak};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics::{Counter, Gauge, Histogram, Label, SharedString, Unit};
use metrics_exporter_prometheus::{LabelSet, Matcher, PrometheusBuilder, PrometheusHandle};

use crate::error::Error;
use crate::event::{Event, EventKind};
use crate::gateway::{Gateway, GatewayKind};
use crate::hashing::FoldHashing;

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
/// Gauge: whether the instance's last state notification said it can send and receive.
pub const INSTANCE_CONNECTED: &str = "hookbot_instance_connected";
/// HTTP requests to the gateway, one per attempt.
pub const GATEWAY_CALLS: &str = "hookbot_gateway_calls_total";
/// Answers by which the gateway refused the instance itself.
pub const GATEWAY_REFUSALS: &str = "hookbot_gateway_refusals_total";
/// Contact book look-ups answered from the cache.
pub const CONTACT_CACHE_HITS: &str = "hookbot_contact_cache_hits_total";
/// Contact book look-ups that found no fresh entry.
pub const CONTACT_CACHE_MISSES: &str = "hookbot_contact_cache_misses_total";
/// Notifications of a gateway's queue the poller gave up deleting (the gateway kept refusing).
pub const NOTIFICATIONS_UNDELETED: &str = "hookbot_notifications_undeleted_total";

/// The bounds of [`HANDLER_DURATION`]'s buckets, in seconds: from a handler that only
/// computes (1 ms) to one that waits out a gateway's retries (30 s).
pub const HANDLER_DURATION_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The `instance_id` label of events whose notification names an instance the bot does not
/// serve.
pub const UNKNOWN_INSTANCE: &str = "unknown";

/// The answer codes [`GATEWAY_CALLS`] labels as they are: those the gateways document, and
/// the common ones of proxies in front of them. Any other code is labelled by its class.
pub const STATUS_CODES: [&str; 18] = [
    "200", "201", "204", "400", "401", "403", "404", "405", "408", "413", "415", "429", "466",
    "499", "500", "502", "503", "504",
];

/// The `# HELP` text of [`HANDLER_DURATION`].
const HANDLER_DURATION_HELP: &str = "The handler's time per event, success or failure.";

/// How often the recorder's histograms are drained when nobody scrapes.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// How often the events' counts go to a recorder the application installed.
const FLUSH_INTERVAL: Duration = Duration::from_secs(1);

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
    let handle = recorder()?;
    flush_events();
    flush_tallies();
    let mut text = handle.render();
    render_durations(&mut text);
    Some(text)
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
            keep_flushed();
            None
        }
    }
}

/// Passes the events' counts to another recorder every [`FLUSH_INTERVAL`]: nobody renders
/// them through hookbot then.
fn keep_flushed() {
    let flusher = std::thread::Builder::new()
        .name("hookbot-metrics".to_owned())
        .spawn(|| {
            loop {
                std::thread::sleep(FLUSH_INTERVAL);
                flush_events();
                flush_tallies();
            }
        });
    if let Err(error) = flusher {
        tracing::warn!(%error, "no thread to pass the event counts to the metrics recorder: they stay at 0 there");
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
    describe_histogram!(HANDLER_DURATION, Unit::Seconds, HANDLER_DURATION_HELP);
    describe_gauge!(QUEUE_DEPTH, "Events accepted and not yet handled.");
    describe_gauge!(
        INSTANCE_CONNECTED,
        "1 when the instance's last state notification said it can send and receive, 0 when it said it cannot."
    );
    describe_counter!(
        GATEWAY_CALLS,
        "HTTP requests to the gateway, one per attempt, by method and answer status (timeout, transport: no answer)."
    );
    describe_counter!(
        GATEWAY_REFUSALS,
        "Answers by which the gateway refused the instance: not_authorized (link the phone), unauthorized (API or client token), forbidden (instance id), quota_exceeded (plan)."
    );
    describe_counter!(
        CONTACT_CACHE_HITS,
        "Contact book look-ups answered from the cache."
    );
    describe_counter!(
        CONTACT_CACHE_MISSES,
        "Contact book look-ups that found no fresh entry."
    );
    describe_counter!(
        NOTIFICATIONS_UNDELETED,
        "Notifications the poller gave up deleting from the gateway's queue after it kept refusing (the gateway may deliver them again)."
    );
}

/// Counts a notification of `gateway`'s queue that the poller gave up deleting.
pub(crate) fn undeleted(gateway: GatewayKind) {
    recorder();
    metrics::counter!(NOTIFICATIONS_UNDELETED, "gateway" => gateway.as_str()).increment(1);
}

/// Tells the metrics that a bot serves the instance `id`: its events are labelled with `id`,
/// where events naming an instance no bot of this process serves count as
/// [`UNKNOWN_INSTANCE`]. A bot calls it for each of its instances when it is built.
pub(crate) fn label_instance(id: &str) {
    served(id);
}

/// The event series of the instance `id`, which a bot serves from now on (see
/// [`label_instance`]): what an intake that found an event's instance counts the event on,
/// without the registry.
pub(crate) fn served(id: &str) -> &'static InstanceSeries {
    let mut registry = SERIES.write().unwrap_or_else(PoisonError::into_inner);
    if let Some(series) = registry.served.get(id) {
        return series;
    }
    let id: Arc<str> = Arc::from(id);
    let series = InstanceSeries::leaked(Some(id.clone()));
    registry.served.insert(id, series);
    series
}

/// `hookbot_queue_depth{gateway, instance_id}`: moved by one as the dispatcher accepts and
/// handles each event.
fn queue_depth(gateway: GatewayKind, instance: &str) -> Gauge {
    metrics::gauge!(
        QUEUE_DEPTH,
        "gateway" => gateway.as_str(),
        "instance_id" => instance_label(instance),
    )
}

/// What distinguishes one event's series from another's of the same instance: its gateway,
/// its kind, and for an instance's state, whether the state lets the instance work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SeriesKey {
    gateway: GatewayKind,
    kind: &'static str,
    connected: Option<bool>,
}

impl SeriesKey {
    /// How many keys there are: an instance's series are made in as many slots.
    const SLOTS: usize = GATEWAYS * KIND_SLOTS;

    /// The place of `event`'s key among [`SLOTS`](SeriesKey::SLOTS): by gateway, then kind,
    /// then what an instance's state says.
    fn slot(event: &Event) -> usize {
        let gateway = match event.gateway {
            GatewayKind::GreenApiWhatsApp => 0,
            GatewayKind::GreenApiMax => 1,
            GatewayKind::GreenApiTelegram => 2,
            GatewayKind::ZApi => 3,
        };
        let kind = match &event.kind {
            EventKind::Message(_) => 0,
            EventKind::Status(_) => 1,
            EventKind::Call(_) => 2,
            EventKind::Block(_) => 3,
            EventKind::Unknown { .. } => 4,
            EventKind::InstanceState(state) => match state.connected {
                None => 5,
                Some(false) => 6,
                Some(true) => 7,
            },
        };
        gateway * KIND_SLOTS + kind
    }

    fn of(event: &Event) -> Self {
        let connected = match &event.kind {
            EventKind::InstanceState(state) => state.connected,
            _ => None,
        };
        Self {
            gateway: event.gateway,
            kind: event.kind.name(),
            connected,
        }
    }
}

/// How many gateways there are.
const GATEWAYS: usize = GatewayKind::ALL.len();

/// How many keys a gateway's events have: five kinds, and an instance's state of three
/// (connected, not, not said).
const KIND_SLOTS: usize = 8;

/// The counters and histogram of one (gateway, instance, kind), fetched once and kept: the
/// intake and the dispatcher count each event with a few atomic additions, without
/// formatting or allocating. The series of an instance's state event also carries what the
/// state says, and sets [`INSTANCE_CONNECTED`] when the event is acknowledged.
pub(crate) struct EventSeries {
    key: SeriesKey,
    /// The served instance the series is of; `None` for those of instances no bot serves.
    instance: Option<Arc<str>>,
    /// What the events did, counted here and passed on to the counters and the depth gauge
    /// when the metrics are [flushed](EventSeries::flush); and the recorder's histogram.
    counts: Counts,
    /// The handler's times, when hookbot's recorder renders them.
    durations: Durations,
    /// The series' labels, as the recorder writes them.
    labels: LabelSet,
    /// The counts passed on so far.
    flushed: Mutex<Flushed>,
    received: Counter,
    acknowledged: Counter,
    duplicate: Counter,
    handled: Counter,
    failed: Counter,
    depth: Gauge,
    /// [`INSTANCE_CONNECTED`] and the value this event's state gives it.
    connection: Option<(Gauge, f64)>,
}

/// One series' event counts and its histogram's handle, on one cache line: an event is
/// counted with a few additions there (and a handler's end reads the histogram there), where
/// the recorder's counters and gauge are each an allocation of their own (and each addition
/// two atomic operations), several lines an event would miss on when events rotate over many
/// instances.
#[repr(C, align(64))]
struct Counts {
    received: AtomicU64,
    acknowledged: AtomicU64,
    duplicate: AtomicU64,
    handled: AtomicU64,
    failed: AtomicU64,
    /// Events the dispatcher accepted less those whose handler is done: the queue's depth
    /// (below zero for a moment when a handler is done before its hand-over is counted).
    waiting: AtomicI64,
    /// The handler's time per event, for a recorder the application installed (a no-op when
    /// hookbot's renders: [`Durations`] count them then).
    duration: Histogram,
}

/// One series' [`HANDLER_DURATION`] histogram, counted by hookbot and rendered in its
/// recorder's format with its output (see [`render_durations`]): a handler's end adds one to
/// the bucket its time falls in and the time to the sum, on the first of two lines when it
/// took at most 100 ms. The recorder's own histogram writes three lines per sample (its
/// handle's, its block's and the sample's slot: cold when events rotate over many instances)
/// and keeps every sample until drained.
#[repr(C, align(64))]
struct Durations {
    /// The times' sum, in nanoseconds.
    sum: AtomicU64,
    /// How many times were at most each bound of [`HANDLER_DURATION_BUCKETS`] and over the one
    /// before (not cumulative); the last, those over every bound.
    buckets: [AtomicU64; HANDLER_DURATION_BUCKETS.len() + 1],
}

impl Durations {
    fn new() -> Self {
        Self {
            sum: AtomicU64::default(),
            buckets: std::array::from_fn(|_| AtomicU64::default()),
        }
    }

    /// Counts one handler's time.
    fn record(&self, took: Duration) {
        let seconds = took.as_secs_f64();
        let bucket = HANDLER_DURATION_BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(HANDLER_DURATION_BUCKETS.len());
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        self.sum.fetch_add(nanos, Ordering::Relaxed);
    }

    /// Writes the series' lines as the recorder writes a histogram's: each bound's cumulative
    /// count, `+Inf`'s, the sum in seconds, the count.
    fn render(&self, labels: &LabelSet, text: &mut String) {
        use metrics_exporter_prometheus::formatting::write_metric_line;
        let bounds = HANDLER_DURATION_BUCKETS
            .iter()
            .map(|bound| bound as &dyn fmt::Display)
            .chain([&"+Inf" as &dyn fmt::Display]);
        let mut count = 0;
        for (le, bucket) in bounds.zip(&self.buckets) {
            count += bucket.load(Ordering::Relaxed);
            write_metric_line(
                text,
                HANDLER_DURATION,
                Some("bucket"),
                labels,
                Some(("le", le)),
                count,
                None,
            );
        }
        let sum = self.sum.load(Ordering::Relaxed) as f64 / 1e9;
        write_metric_line::<&str, f64>(
            text,
            HANDLER_DURATION,
            Some("sum"),
            labels,
            None,
            sum,
            None,
        );
        write_metric_line::<&str, u64>(
            text,
            HANDLER_DURATION,
            Some("count"),
            labels,
            None,
            count,
            None,
        );
    }
}

/// Appends [`HANDLER_DURATION`]'s histograms to the recorder's `text`, in its format: the
/// help and type lines, then each series made so far (at zero until its first event is
/// handled, as the recorder shows a histogram it has a handle of).
fn render_durations(text: &mut String) {
    use metrics_exporter_prometheus::formatting::{write_help_line, write_type_line};
    let registry = SERIES.read().unwrap_or_else(PoisonError::into_inner);
    let mut made = registry
        .served
        .values()
        .chain([&registry.unknown])
        .flat_map(|instance| instance.made.iter().filter_map(OnceLock::get))
        .peekable();
    if made.peek().is_none() {
        return;
    }
    write_help_line(text, HANDLER_DURATION, None, None, HANDLER_DURATION_HELP);
    write_type_line(text, HANDLER_DURATION, None, None, "histogram");
    for series in made {
        series.durations.render(&series.labels, text);
    }
    text.push('\n');
}

/// The counters' values last passed on to the recorder.
#[derive(Default)]
struct Flushed {
    received: u64,
    acknowledged: u64,
    duplicate: u64,
    handled: u64,
    failed: u64,
}

/// The event series of one instance label: a served instance's, or [`UNKNOWN_INSTANCE`]'s.
/// Each (gateway, kind) has a slot, its series made on its first event and kept; an intake
/// that found an event's instance holds these, so that counting the event takes neither the
/// registry's lock nor a hash of the instance's id.
pub(crate) struct InstanceSeries {
    /// The served instance; `None` for the series of instances no bot serves.
    instance: Option<Arc<str>>,
    made: [OnceLock<&'static EventSeries>; SeriesKey::SLOTS],
}

impl InstanceSeries {
    /// The series of `instance` (`None`: of every instance no bot serves), kept for good.
    fn leaked(instance: Option<Arc<str>>) -> &'static Self {
        Box::leak(Box::new(Self {
            instance,
            made: std::array::from_fn(|_| OnceLock::new()),
        }))
    }

    /// The series of `event`'s gateway and kind, made if it is the first such event. The
    /// caller vouches that `event` is of this instance.
    pub(crate) fn of(&self, event: &Event) -> &'static EventSeries {
        self.made[SeriesKey::slot(event)].get_or_init(|| {
            let key = SeriesKey::of(event);
            let label = self.instance.as_deref().unwrap_or(UNKNOWN_INSTANCE);
            let made = EventSeries::register(key, label, self.instance.clone());
            Box::leak(Box::new(made))
        })
    }

    /// Passes each series' counts to the recorder, and each gateway's queue depth: the events
    /// of all its kinds that wait (one gauge per gateway and instance).
    fn flush(&self) {
        for gateway in self.made.chunks(KIND_SLOTS) {
            let mut made = gateway.iter().filter_map(OnceLock::get).peekable();
            let Some(depth) = made.peek().map(|series| &series.depth) else {
                continue;
            };
            let waiting: i64 = made.map(|series| series.flush()).sum();
            // A handler may be done before its event's hand-over is counted: the depth read
            // in that moment is clamped at zero.
            depth.set(waiting.max(0) as f64);
        }
    }

    /// Whether these are `instance`'s own series.
    pub(crate) fn is_of(&self, instance: &str) -> bool {
        self.instance.as_deref() == Some(instance)
    }
}

/// The series made so far, by instance label.
struct Registry {
    /// By the id of each instance a bot serves.
    served: HashMap<Arc<str>, &'static InstanceSeries, FoldHashing>,
    /// Of the instances no bot serves, all labelled [`UNKNOWN_INSTANCE`].
    unknown: &'static InstanceSeries,
}

impl Default for Registry {
    fn default() -> Self {
        Self {
            served: HashMap::default(),
            unknown: InstanceSeries::leaked(None),
        }
    }
}

impl Registry {
    /// The series of `instance`'s label: its own when it is served, else the unknown ones.
    fn series_of(&self, instance: &str) -> &'static InstanceSeries {
        self.served.get(instance).copied().unwrap_or(self.unknown)
    }
}

static SERIES: LazyLock<RwLock<Registry>> = LazyLock::new(Default::default);

thread_local! {
    /// The series this thread found last for a served instance, for the events counted without
    /// their instance's [`InstanceSeries`] at hand (those a store hands back to the dispatcher,
    /// the poller's): a bot's events mostly come from few instances of few kinds, so most
    /// lookups end here without touching the registry's lock, which both cores would otherwise
    /// pass between them. Only a served instance's series is kept: an unknown instance's label
    /// changes once the instance is served.
    static LAST_SERIES: Cell<Option<&'static EventSeries>> = const { Cell::new(None) };
}

impl EventSeries {
    /// The series of `event`'s gateway, instance and kind, found in the registry (through this
    /// thread's last one); an intake that found the event's instance takes them from its
    /// [`InstanceSeries`] instead.
    pub(crate) fn of(event: &Event) -> &'static EventSeries {
        let key = SeriesKey::of(event);
        if let Some(last) = LAST_SERIES.get()
            && last.key == key
            && last.instance.as_deref() == Some(&*event.instance)
        {
            return last;
        }
        let found = Self::look_up(event);
        if found.instance.is_some() {
            LAST_SERIES.set(Some(found));
        }
        found
    }

    /// The series of `event`'s instance, gateway and kind in the registry, made if it is new.
    fn look_up(event: &Event) -> &'static EventSeries {
        let series = SERIES
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .series_of(&event.instance);
        series.of(event)
    }

    fn register(key: SeriesKey, label: &str, served: Option<Arc<str>>) -> Self {
        let ours = recorder().is_some();
        let labels = || {
            [
                ("gateway", SharedString::const_str(key.gateway.as_str())),
                ("instance_id", instance_label(label)),
                ("kind", SharedString::const_str(key.kind)),
            ]
        };
        let counter = |name: &'static str| metrics::counter!(name, &labels());
        let connection = key.connected.map(|connected| {
            let gauge = metrics::gauge!(
                INSTANCE_CONNECTED,
                "gateway" => key.gateway.as_str(),
                "instance_id" => instance_label(label),
            );
            (gauge, if connected { 1.0 } else { 0.0 })
        });
        Self {
            key,
            instance: served,
            counts: Counts {
                received: AtomicU64::default(),
                acknowledged: AtomicU64::default(),
                duplicate: AtomicU64::default(),
                handled: AtomicU64::default(),
                failed: AtomicU64::default(),
                waiting: AtomicI64::default(),
                duration: if ours {
                    Histogram::noop()
                } else {
                    metrics::histogram!(HANDLER_DURATION, &labels())
                },
            },
            durations: Durations::new(),
            labels: LabelSet::from_key_and_global(
                &metrics::Key::from_parts(
                    HANDLER_DURATION,
                    labels().iter().map(Label::from).collect::<Vec<_>>(),
                ),
                &Default::default(),
            ),
            flushed: Mutex::default(),
            received: counter(EVENTS_RECEIVED),
            acknowledged: counter(EVENTS_ACKNOWLEDGED),
            duplicate: counter(EVENTS_DUPLICATE),
            handled: counter(EVENTS_HANDLED),
            failed: counter(EVENTS_FAILED),
            depth: queue_depth(key.gateway, label),
            connection,
        }
    }

    /// The event was offered to the intake.
    pub(crate) fn received(&self) {
        add(&self.counts.received);
    }

    /// The event was queued for handling, and the gateway told so; an instance's state takes
    /// effect.
    pub(crate) fn acknowledged(&self) {
        add(&self.counts.acknowledged);
        if let Some((gauge, value)) = &self.connection {
            gauge.set(*value);
        }
    }

    /// The event was a copy of one accepted before: acknowledged, not handled again.
    pub(crate) fn duplicate(&self) {
        add(&self.counts.acknowledged);
        add(&self.counts.duplicate);
    }

    /// The dispatcher accepted the event: one more waits.
    pub(crate) fn queued(&self) {
        self.counts.waiting.fetch_add(1, Ordering::Release);
    }

    /// The handler that started at `started` is done with the event, `ok` or not: one fewer
    /// waits.
    pub(crate) fn done(&self, started: Instant, ok: bool) {
        let took = started.elapsed();
        self.durations.record(took);
        self.counts.duration.record(took.as_secs_f64());
        add(if ok {
            &self.counts.handled
        } else {
            &self.counts.failed
        });
        self.counts.waiting.fetch_sub(1, Ordering::Release);
    }

    /// Passes the counts to the recorder: what each counter gained since the last flush;
    /// returns how many of its events wait now.
    fn flush(&self) -> i64 {
        let mut flushed = self.flushed.lock().unwrap_or_else(PoisonError::into_inner);
        let flushed = &mut *flushed;
        let counts = &self.counts;
        for (counter, count, passed) in [
            (&self.received, &counts.received, &mut flushed.received),
            (
                &self.acknowledged,
                &counts.acknowledged,
                &mut flushed.acknowledged,
            ),
            (&self.duplicate, &counts.duplicate, &mut flushed.duplicate),
            (&self.handled, &counts.handled, &mut flushed.handled),
            (&self.failed, &counts.failed, &mut flushed.failed),
        ] {
            let now = count.load(Ordering::Relaxed);
            counter.increment(now - *passed);
            *passed = now;
        }
        counts.waiting.load(Ordering::Acquire)
    }
}

/// Counts one more in `count`.
fn add(count: &AtomicU64) {
    count.fetch_add(1, Ordering::Release);
}

/// Passes every event series' counts and every queue depth to the recorder (see
/// [`InstanceSeries::flush`]).
fn flush_events() {
    let registry = SERIES.read().unwrap_or_else(PoisonError::into_inner);
    for instance in registry.served.values().chain([&registry.unknown]) {
        instance.flush();
    }
}

/// `instance` as a label value: the id of an instance a bot serves, of a gateway client or of
/// a contact book (the application makes those from its configuration, so they are few), or
/// [`UNKNOWN_INSTANCE`].
fn instance_label(instance: &str) -> SharedString {
    SharedString::from_owned(instance.to_owned())
}

/// `status` as a label value: the code when it is one of [`STATUS_CODES`], else its class.
fn status_label(status: reqwest::StatusCode) -> &'static str {
    let code = status.as_str();
    if let Some(known) = STATUS_CODES.iter().find(|known| **known == code) {
        return known;
    }
    match status.as_u16() / 100 {
        1 => "1xx",
        2 => "2xx",
        3 => "3xx",
        4 => "4xx",
        5 => "5xx",
        _ => "other",
    }
}

/// The labels of one gateway client's calls (its gateway and instance), its refusal
/// counters, and the call counters it used so far.
#[derive(Clone)]
pub(crate) struct CallLabels {
    gateway: &'static str,
    instance: SharedString,
    refusals: Refusals,
    calls: Arc<RwLock<Vec<CallCounter>>>,
}

/// The [`GATEWAY_CALLS`] counter of one method and status, looked up once per client (a
/// look-up builds, hashes and finds the labels; an increment is one atomic addition). At most
/// one per method in hookbot's code and status label: both come from fixed lists.
struct CallCounter {
    method: &'static str,
    status: &'static str,
    counter: Counter,
}

/// The [`GATEWAY_CALLS`] tally of one method's `200` answers, kept with the method's
/// endpoint (of one client) and set on its first `200`: a call of a bot of many instances
/// finds it on the line of the endpoint it read already, not through its client's list of
/// counters (a lock's count written and the list read: two more lines, cold when calls rotate
/// over instances).
#[derive(Default)]
pub(crate) struct AnsweredOk(OnceLock<Arc<Tally>>);

/// A count hookbot keeps itself for one of its recorder's counters and passes to it when the
/// metrics are flushed (before each render, and every second for another recorder), rather
/// than incrementing the counter at each event: the Prometheus recorder's counter is three
/// allocations (the handle, its value and its generation, each written), three cache misses
/// when events rotate over many instances; a tally is one line.
pub(crate) struct Tally {
    count: AtomicU64,
    /// How much of `count` the counter has.
    flushed: AtomicU64,
    counter: Counter,
}

/// Every tally that may still have counts to pass on: weak, so that a tally goes with its
/// owner (passing on its last counts as it goes); the dead ones are left out at each flush,
/// and at a registration that finds the list twice as long as its live tallies were.
static TALLIES: Mutex<Tallies> = Mutex::new(Tallies {
    all: Vec::new(),
    live: 0,
});

/// The registered tallies, and how many of them were live at the last count.
struct Tallies {
    all: Vec<Weak<Tally>>,
    /// How many were live when the dead were last left out.
    live: usize,
}

impl Tallies {
    /// Leaves out the tallies whose owners are gone, and counts the live ones.
    fn leave_out_the_dead(&mut self) {
        self.all.retain(|tally| tally.strong_count() > 0);
        self.live = self.all.len();
    }
}

impl Tally {
    /// A tally for `counter`, registered for the flushes.
    pub(crate) fn new(counter: Counter) -> Arc<Self> {
        let tally = Arc::new(Self {
            count: AtomicU64::new(0),
            flushed: AtomicU64::new(0),
            counter,
        });
        let mut tallies = TALLIES.lock().unwrap_or_else(PoisonError::into_inner);
        if tallies.all.len() >= 2 * tallies.live + 64 {
            tallies.leave_out_the_dead();
        }
        tallies.all.push(Arc::downgrade(&tally));
        tally
    }

    /// Counts one more.
    pub(crate) fn add_one(&self) {
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// Passes the counter what it does not have yet (two flushes at once pass it once).
    fn flush(&self) {
        let now = self.count.load(Ordering::Relaxed);
        let before = self.flushed.fetch_max(now, Ordering::Relaxed);
        self.counter.increment(now.saturating_sub(before));
    }
}

impl Drop for Tally {
    fn drop(&mut self) {
        self.flush();
    }
}

/// Passes every live tally's counts to its counter.
fn flush_tallies() {
    let live: Vec<Arc<Tally>> = {
        let mut tallies = TALLIES.lock().unwrap_or_else(PoisonError::into_inner);
        tallies.leave_out_the_dead();
        tallies.all.iter().filter_map(Weak::upgrade).collect()
    };
    for tally in live {
        tally.flush();
    }
}

/// [`GATEWAY_REFUSALS`] of one client, by reason.
#[derive(Clone)]
struct Refusals {
    not_authorized: Counter,
    unauthorized: Counter,
    forbidden: Counter,
    quota_exceeded: Counter,
}

impl Refusals {
    /// The counters of `gateway`'s instance `instance`, registered now so that each is at 0
    /// before the first refusal (a rate over a series that appears at 1 misses that one).
    fn new(gateway: &'static str, instance: &SharedString) -> Self {
        let counter = |reason: &'static str| {
            metrics::counter!(
                GATEWAY_REFUSALS,
                "gateway" => gateway,
                "instance_id" => instance.clone(),
                "reason" => reason,
            )
        };
        Self {
            not_authorized: counter("not_authorized"),
            unauthorized: counter("unauthorized"),
            forbidden: counter("forbidden"),
            quota_exceeded: counter("quota_exceeded"),
        }
    }

    /// The counter of `error`'s reason, when it is a refusal of the instance.
    fn of(&self, error: &Error) -> Option<&Counter> {
        match error {
            Error::NotAuthorized => Some(&self.not_authorized),
            Error::Unauthorized => Some(&self.unauthorized),
            Error::Forbidden => Some(&self.forbidden),
            Error::QuotaExceeded { .. } => Some(&self.quota_exceeded),
            _ => None,
        }
    }
}

impl CallLabels {
    /// The labels of a client of `gateway`'s instance `instance`.
    pub(crate) fn new(gateway: GatewayKind, instance: &str) -> Self {
        recorder();
        let (gateway, instance) = (gateway.as_str(), instance_label(instance));
        Self {
            refusals: Refusals::new(gateway, &instance),
            gateway,
            instance,
            calls: Arc::default(),
        }
    }

    /// Counts one attempt of `method` that got an answer with `status`; a `200` on
    /// `answered_ok`, the counter kept with `method`'s endpoint.
    pub(crate) fn answered(
        &self,
        method: &'static str,
        status: reqwest::StatusCode,
        answered_ok: &AnsweredOk,
    ) {
        if status == reqwest::StatusCode::OK {
            answered_ok
                .0
                .get_or_init(|| Tally::new(self.counter(method, "200")))
                .add_one();
        } else {
            self.count(method, status_label(status));
        }
    }

    /// Counts one attempt of `method` that got no answer: `timeout`, or `transport` (the
    /// connection failed).
    pub(crate) fn unanswered(&self, method: &'static str, timed_out: bool) {
        let status = if timed_out { "timeout" } else { "transport" };
        self.count(method, status);
    }

    /// Counts an error answer that refuses the instance itself ([`Error::NotAuthorized`],
    /// [`Error::Unauthorized`], [`Error::Forbidden`], [`Error::QuotaExceeded`]); other errors
    /// are not refusals.
    pub(crate) fn refused(&self, error: &Error) {
        if let Some(counter) = self.refusals.of(error) {
            counter.increment(1);
        }
    }

    fn count(&self, method: &'static str, status: &'static str) {
        self.counter(method, status).increment(1);
    }

    /// The [`GATEWAY_CALLS`] counter of `method` and `status`, registered on its first use.
    fn counter(&self, method: &'static str, status: &'static str) -> Counter {
        let found = |calls: &[CallCounter]| {
            let call = calls
                .iter()
                .find(|call| call.method == method && call.status == status);
            call.map(|call| call.counter.clone())
        };
        if let Some(counter) = found(&self.calls.read().unwrap_or_else(PoisonError::into_inner)) {
            return counter;
        }
        let mut calls = self.calls.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(counter) = found(&calls) {
            return counter;
        }
        let counter = metrics::counter!(
            GATEWAY_CALLS,
            "gateway" => self.gateway,
            "instance_id" => self.instance.clone(),
            "method" => method,
            "status" => status,
        );
        calls.push(CallCounter {
            method,
            status,
            counter: counter.clone(),
        });
        counter
    }
}

impl fmt::Debug for CallLabels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallLabels")
            .field("gateway", &self.gateway)
            .field("instance", &self.instance)
            .finish_non_exhaustive()
    }
}

/// The hit and miss tallies of one contact book cache.
#[derive(Clone)]
pub(crate) struct CacheCounters {
    hits: Arc<Tally>,
    misses: Arc<Tally>,
}

impl CacheCounters {
    /// The counters of `gateway`'s cache named `cache` (`contacts`, `contact_info`).
    pub(crate) fn new(gateway: &dyn Gateway, cache: &'static str) -> Self {
        recorder();
        let labels = [
            ("gateway", SharedString::const_str(gateway.kind().as_str())),
            ("instance_id", instance_label(gateway.instance())),
            ("cache", SharedString::const_str(cache)),
        ];
        Self {
            hits: Tally::new(metrics::counter!(CONTACT_CACHE_HITS, &labels)),
            misses: Tally::new(metrics::counter!(CONTACT_CACHE_MISSES, &labels)),
        }
    }

    /// A look-up found a fresh entry.
    pub(crate) fn hit(&self) {
        self.hits.add_one();
    }

    /// A look-up found none.
    pub(crate) fn miss(&self) {
        self.misses.add_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tally_passes_each_count_once_and_its_last_ones_as_it_goes() {
        let counted = Arc::new(AtomicU64::new(0));
        let tally = Tally::new(Counter::from_arc(Arc::clone(&counted)));
        tally.add_one();
        tally.add_one();
        tally.flush();
        tally.flush();
        assert_eq!(counted.load(Ordering::Relaxed), 2);
        tally.add_one();
        flush_tallies();
        assert_eq!(counted.load(Ordering::Relaxed), 3);
        tally.add_one();
        drop(tally);
        assert_eq!(counted.load(Ordering::Relaxed), 4);
    }

    #[test]
    fn the_tallies_of_owners_gone_are_left_out_of_the_list() {
        for _ in 0..1_000 {
            drop(Tally::new(Counter::noop()));
        }
        let _kept = Tally::new(Counter::noop());
        let tallies = TALLIES.lock().unwrap();
        assert!(
            tallies.all.len() <= 2 * tallies.live + 64,
            "{}",
            tallies.all.len()
        );
    }

    /// A GREEN-API WhatsApp notification of `type_webhook`, with `fields`, as if `gateway`
    /// had sent it.
    fn event(gateway: GatewayKind, type_webhook: &str, fields: serde_json::Value) -> Event {
        let mut value = serde_json::json!({
            "typeWebhook": type_webhook,
            "instanceData": {"idInstance": 1101000901u64, "wid": "79990000000@c.us"},
            "timestamp": 1588091580,
            "idMessage": "M1",
            "chatId": "79001234567@c.us",
        });
        for (key, field) in fields.as_object().unwrap() {
            value[key] = field.clone();
        }
        let mut event = Event::from_json(GatewayKind::GreenApiWhatsApp, value).unwrap();
        event.gateway = gateway;
        event
    }

    /// One event of every key: each kind, and an instance's state of every kind, of `gateway`.
    fn one_of_each(gateway: GatewayKind) -> Vec<Event> {
        use serde_json::json;
        let message = json!({
            "senderData": {"chatId": "79001234567@c.us", "sender": "79001234567@c.us"},
            "messageData": {"typeMessage": "textMessage", "textMessageData": {"textMessage": "hi"}}
        });
        vec![
            event(gateway, "incomingMessageReceived", message),
            event(gateway, "outgoingMessageStatus", json!({"status": "read"})),
            event(gateway, "incomingCall", json!({"from": "79001234567@c.us"})),
            event(gateway, "incomingBlock", json!({"statusBlock": "blocked"})),
            event(gateway, "deviceInfo", json!({})),
            event(
                gateway,
                "stateInstanceChanged",
                json!({"stateInstance": "madeUp"}),
            ),
            event(
                gateway,
                "stateInstanceChanged",
                json!({"stateInstance": "blocked"}),
            ),
            event(
                gateway,
                "stateInstanceChanged",
                json!({"stateInstance": "authorized"}),
            ),
        ]
    }

    #[test]
    fn an_instance_has_one_series_of_each_gateway_kind_and_state_and_each_is_its_own() {
        let served = served("1101000901");
        assert!(std::ptr::eq(served, super::served("1101000901")));
        let mut made: Vec<&'static EventSeries> = Vec::new();
        for gateway in GatewayKind::ALL {
            for event in one_of_each(gateway) {
                let series = served.of(&event);
                assert_eq!(series.key, SeriesKey::of(&event));
                assert_eq!(series.instance.as_deref(), Some("1101000901"));
                assert!(std::ptr::eq(series, served.of(&event)));
                assert!(std::ptr::eq(series, EventSeries::of(&event)));
                assert!(
                    made.iter().all(|other| other.key != series.key),
                    "{:?} made twice",
                    series.key
                );
                made.push(series);
            }
        }
        assert_eq!(made.len(), SeriesKey::SLOTS);
    }

    #[test]
    fn an_event_of_an_instance_no_bot_serves_is_counted_on_the_unknown_series() {
        let mut event = event(
            GatewayKind::GreenApiWhatsApp,
            "stateInstanceChanged",
            serde_json::json!({"stateInstance": "authorized"}),
        );
        event.instance = Arc::from("1101000902");
        let series = EventSeries::of(&event);
        assert_eq!(series.instance, None);
        assert!(!served("1101000903").is_of("1101000902"));
        assert!(served("1101000902").is_of("1101000902"));
        let series = EventSeries::of(&event);
        assert_eq!(series.instance.as_deref(), Some("1101000902"));
    }

    #[test]
    fn an_instance_s_queue_depth_counts_the_waiting_events_of_every_kind() {
        let served = served("1101000904");
        let [message, status, ..] = &one_of_each(GatewayKind::GreenApiWhatsApp)[..] else {
            unreachable!()
        };
        let (message, status) = (served.of(message), served.of(status));
        message.queued();
        message.queued();
        status.queued();
        message.done(Instant::now(), true);
        status.queued();
        let depth = || {
            let text = render().expect("hookbot's recorder");
            let line = text
                .lines()
                .find(|line| {
                    line.starts_with(QUEUE_DEPTH) && line.contains("instance_id=\"1101000904\"")
                })
                .unwrap_or_else(|| panic!("no depth in {text}"))
                .to_owned();
            line.rsplit(' ').next().unwrap().parse::<f64>().unwrap()
        };
        assert_eq!(depth(), 3.0);
        status.done(Instant::now(), false);
        assert_eq!(depth(), 2.0);
    }

    #[test]
    fn handler_times_render_as_the_recorder_renders_a_histogram() {
        let series = served("1101000905").of(&one_of_each(GatewayKind::GreenApiWhatsApp)[0]);
        for took in [500_000, 1_000_000, 7_000_000, 31_000_000_000] {
            series.durations.record(Duration::from_nanos(took));
        }
        let text = render().expect("hookbot's recorder");
        let labels = r#"gateway="green-api",instance_id="1101000905",kind="message""#;
        let mut expected: Vec<String> = [
            ("0.001", 2),
            ("0.0025", 2),
            ("0.005", 2),
            ("0.01", 3),
            ("0.025", 3),
            ("0.05", 3),
            ("0.1", 3),
            ("0.25", 3),
            ("0.5", 3),
            ("1", 3),
            ("2.5", 3),
            ("5", 3),
            ("10", 3),
            ("30", 3),
            ("+Inf", 4),
        ]
        .iter()
        .map(|(le, count)| format!("{HANDLER_DURATION}_bucket{{{labels},le=\"{le}\"}} {count}"))
        .collect();
        expected.push(format!("{HANDLER_DURATION}_sum{{{labels}}} 31.0085"));
        expected.push(format!("{HANDLER_DURATION}_count{{{labels}}} 4"));
        let rendered: Vec<&str> = text
            .lines()
            .filter(|line| line.contains("\"1101000905\"") && line.starts_with(HANDLER_DURATION))
            .collect();
        assert_eq!(rendered, expected, "{text}");
        let once = |line: &str| text.lines().filter(|l| *l == line).count() == 1;
        assert!(once(&format!(
            "# HELP {HANDLER_DURATION} {HANDLER_DURATION_HELP}"
        )));
        assert!(once(&format!("# TYPE {HANDLER_DURATION} histogram")));
    }

    #[test]
    fn a_series_counts_and_its_histogram_s_handle_are_one_line() {
        assert_eq!(std::mem::size_of::<Counts>(), 64);
        assert_eq!(std::mem::align_of::<Counts>(), 64);
    }

    #[test]
    fn a_status_the_gateways_document_is_its_code_and_any_other_its_class() {
        let label = |code| status_label(reqwest::StatusCode::from_u16(code).unwrap());
        assert_eq!(label(200), "200");
        assert_eq!(label(466), "466");
        assert_eq!(label(503), "503");
        assert_eq!(label(102), "1xx");
        assert_eq!(label(299), "2xx");
        assert_eq!(label(307), "3xx");
        assert_eq!(label(418), "4xx");
        assert_eq!(label(599), "5xx");
        assert_eq!(label(999), "other");
    }
}
