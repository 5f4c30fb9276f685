//! hookbot against the ceiling, in one run: `cargo bench --bench throughput` (add `-- --quick`
//! for the short run CI makes to prove the benchmark still works).
//!
//! | phase | server | one event is |
//! |---|---|---|
//! | a. ceiling | a bare axum `POST` that parses the body into a `serde_json::Value` and answers 200 | one request |
//! | b. intake | a bot on the in-memory backlog: bearer token, parse, dedupe, dispatch to a no-op handler | one request |
//! | c. end to end | the contact-card bot on the in-memory backlog, replying to a local GREEN-API emulator | one request, then its quoted card at the emulator |
//! | d. relay | a bare axum `POST` that parses the body, answers 200 and sends one quoted card to the same emulator with a plain `reqwest::Client` | one request, then its quoted card at the emulator |
//! | b′. intake on Redis | b's webhook on [`BotBuilder::redis`](hookbot::bot::BotBuilder::redis): 200 once the notification is in its Redis stream; the bot's consumer handles it meanwhile | one request |
//! | c′. end to end on Redis | c's bot on Redis | one request, then its quoted card at the emulator |
//! | m. end to end, many instances | c's bot serving [`INSTANCES`] GREEN-API instances of an instances file (each its own id, token and contact book), the notifications spread over them all; each instance's book is loaded before the measured run | one request, then its quoted card at the emulator |
//! | s. intake on the durable store | b's webhook on [`Store::durable`] (default durability) in a fresh temporary directory: 200 once the notification is committed; the bot handles it meanwhile | one request |
//!
//! Every hookbot phase is served as a bot is: by [`Bot::serve`], hookbot's own front door (its
//! time limits on slow peers, its bound on connections) in front of the webhook, so that the
//! ratios against a and d count it, and so that b, s and b′ differ only in their backlog.
//!
//! b′ and c′ run when `HOOKBOT_BENCH_REDIS_URL` (or `HOOKBOT_TEST_REDIS_URL`) names a Redis;
//! each run uses a namespace of its own and deletes its keys afterwards.
//!
//! Each phase runs in a child process of this program (a fresh heap and tokio runtime, as many
//! worker threads as cores), on a fresh server, with the same load generator: [`CONNECTIONS`]
//! keep-alive HTTP/1.1 connections over loopback, each sending its next notification when the last
//! one is done (for c: when the emulator has its reply). Every notification is a realistic
//! GREEN-API `incomingMessageReceived` with its own message id, from one of [`CHATS`] chats. A
//! round starts every phase's child, then loads them in turns: one window of a second each, in an
//! order that keeps each ratio's two phases close together, reversed every other turn, four turns
//! (each child's first window after its warm-up; fresh connections for each window). A change of
//! the machine's speed during a round (this kind of machine has them, for seconds to minutes)
//! then falls on every phase alike. The figures are the medians over the rounds, and b/a, c/a,
//! c/d, s/b, m/c and b′/b are taken within each round (d is c's ceiling: the same two HTTP
//! exchanges per event, without hookbot). Then b runs again paced at half its peak, for its
//! latency there.
//!
//! Each phase also reports the CPU time its measured window cost per event (µs): its child
//! process's (server, emulator and load generator alike, so compare phases, not absolute values),
//! plus the Redis server's for the phases on Redis. A change that trades CPU for latency shows
//! there. `HOOKBOT_BENCH_DURABILITY=power-loss` runs s with an fsync per commit.
//!
//! Memory is read (`VmRSS`) from a child process of this program: once after the contact-card
//! bot has answered [`CHATS`] chats that each sent one message, once with a
//! [`BOOK_CONTACTS`]-contact [`ContactBook`] loaded; the memory of an idle instance, from two
//! children serving one and [`INSTANCES`] instances; and once with each of the [`INSTANCES`]
//! instances' books ([`E2E_CONTACTS`] contacts each) loaded. `find` is timed on that book over
//! queries of each kind the search ranks.
//!
//! `-- --only a` (or `b`, `c`, `d`, `m`, `s`, `b-redis`, `c-redis`, `find`) runs one part alone in
//! this process, for a profiler; `HOOKBOT_BENCH_MEASURE=<seconds>` measures that long instead
//! (a profiler such as callgrind runs the load a hundred times slower).
//!
//! Every phase allocates with the allocator of hookbot's bot binaries
//! ([`hookbot::bots::Allocator`], jemalloc), the bare servers a and d too: the figures are
//! those of the bots as shipped, and each ratio compares two servers on the same allocator.

#[global_allocator]
static ALLOCATOR: hookbot::bots::Allocator = hookbot::bots::ALLOCATOR;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use hookbot::bots::contact_card;
use hookbot::contacts::{ContactBook, FIND_LIMIT};
use hookbot::dispatch::DispatchSettings;
use hookbot::durable::{Durability, StoreSettings};
use hookbot::gateway::{ClientSettings, GreenApi, RateLimits};
use hookbot::instance::{Instance, InstanceConfig, Instances};
use hookbot::redis::Redis;
use hookbot::store::Store;
use hookbot::{Bot, Router};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, mpsc, oneshot, watch};

/// Connections of the load generator: events in flight at once.
const CONNECTIONS: usize = 64;
/// Distinct chats the notifications come from (and the chats of the memory figure).
const CHATS: u64 = 10_000;
/// Contacts in the book of the memory figure and of the `find` benchmark.
const BOOK_CONTACTS: usize = 100_000;
/// Contacts the emulator lists for the end-to-end phase.
const E2E_CONTACTS: usize = 1_000;
/// GREEN-API instances of the many-instances phase (m) and of its memory children.
const INSTANCES: usize = 1_000;
/// The webhook's bearer token.
const WEBHOOK_TOKEN: &str = "bench-webhook-token";
/// The emulated GREEN-API instance (the first of m's) and its API token.
const INSTANCE: &str = "1101000001";
/// The id of m's first instance, as a number.
const FIRST_INSTANCE: u64 = 1_101_000_001;
const API_TOKEN: &str = "bench-api-token";
/// How long an end-to-end reply may take before it counts as lost.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// How long and how often to measure.
#[derive(Clone, Copy)]
struct Plan {
    quick: bool,
    rounds: usize,
    warmup: Duration,
    /// How long each phase is measured in a round, in `turns` windows.
    measure: Duration,
    turns: usize,
    find_repeats: usize,
}

impl Plan {
    fn full() -> Self {
        Self {
            quick: false,
            rounds: 5,
            warmup: Duration::from_secs(1),
            measure: Duration::from_secs(4),
            turns: 4,
            find_repeats: 200,
        }
    }

    fn quick() -> Self {
        Self {
            quick: true,
            rounds: 1,
            warmup: Duration::from_millis(200),
            measure: Duration::from_millis(500),
            turns: 1,
            find_repeats: 10,
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|arg| arg == "--child") {
        let child = args.get(at + 1).map_or("", String::as_str);
        runtime().block_on(memory_child(child));
        return;
    }
    let quick = args.iter().any(|arg| arg == "--quick")
        || std::env::var_os("HOOKBOT_BENCH_QUICK").is_some();
    let mut plan = if quick { Plan::quick() } else { Plan::full() };
    if let Some(seconds) = std::env::var("HOOKBOT_BENCH_MEASURE")
        .ok()
        .and_then(|seconds| seconds.parse::<f64>().ok())
        .and_then(|seconds| Duration::try_from_secs_f64(seconds).ok())
    {
        plan.measure = seconds;
    }
    if let Some(at) = args.iter().position(|arg| arg == "--phase") {
        runtime().block_on(phase_child(&args[at + 1..], plan));
        return;
    }
    if let Some(at) = args.iter().position(|arg| arg == "--serve") {
        runtime().block_on(serve_child(&args[at + 1..]));
        return;
    }
    match args.iter().position(|arg| arg == "--only") {
        Some(at) => runtime().block_on(only(args.get(at + 1).map_or("", String::as_str), plan)),
        None => runtime().block_on(run(plan)),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

async fn run(plan: Plan) {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    println!(
        "hookbot throughput: {cores} cores, {CONNECTIONS} connections, {CHATS} chats, {} round(s) of {:?} (+{:?} warm-up)",
        plan.rounds, plan.measure, plan.warmup
    );
    let mut rounds = Vec::new();
    let mut redis_rounds = Vec::new();
    for round in 0..plan.rounds {
        let figures = measure_round(plan, round);
        let [ceiling, intake, end_to_end, relay, durable, many] = [
            Phase::Ceiling,
            Phase::Intake,
            Phase::EndToEnd,
            Phase::Relay,
            Phase::IntakeDurable,
            Phase::ManyInstances,
        ]
        .map(|phase| {
            figures
                .of(phase)
                .expect("every in-memory phase runs each round")
        });
        println!(
            "round {}: a {} | b {} | c {} | d {} | s {} | b/a {:.2} c/a {:.2} c/d {:.2} s/b {:.2}",
            round + 1,
            ceiling,
            intake,
            end_to_end,
            relay,
            durable,
            intake.rate / ceiling.rate,
            end_to_end.rate / ceiling.rate,
            end_to_end.rate / relay.rate,
            durable.rate / intake.rate
        );
        println!(
            "round {}, {INSTANCES} instances: m {} | m/c {:.2}",
            round + 1,
            many,
            many.rate / end_to_end.rate
        );
        rounds.push([ceiling, intake, end_to_end, relay, durable, many]);
        if let (Some(intake_redis), Some(end_to_end_redis)) = (
            figures.of(Phase::IntakeRedis),
            figures.of(Phase::EndToEndRedis),
        ) {
            println!(
                "round {} on Redis: b' {} | c' {} | b'/a {:.2} c'/a {:.2} b'/b {:.2} c'/c {:.2}",
                round + 1,
                intake_redis,
                end_to_end_redis,
                intake_redis.rate / ceiling.rate,
                end_to_end_redis.rate / ceiling.rate,
                intake_redis.rate / intake.rate,
                end_to_end_redis.rate / end_to_end.rate
            );
            redis_rounds.push([ceiling, intake, end_to_end, intake_redis, end_to_end_redis]);
        }
    }
    let median_of = |pick: &dyn Fn(&[Figures; 6]) -> f64| median(rounds.iter().map(pick).collect());
    let names = [
        "a. ceiling (bare axum)",
        "b. intake (webhook)",
        "c. end to end (contact card)",
        "d. relay (bare axum + reqwest)",
        "s. intake (durable store)",
        "m. end to end, 1000 instances",
    ];
    println!("\nmedians of {} round(s):", rounds.len());
    println!(
        "{:<32} {:>10} {:>9} {:>9} {:>12}",
        "phase", "events/s", "p50 ms", "p99 ms", "cpu µs/event"
    );
    print_phase_medians(&rounds, names.iter().copied().enumerate());
    println!(
        "ratios (median of per-round): b/a {:.2}, c/a {:.2}, d/a {:.2}, c/d {:.2}",
        median_of(&|r| r[1].rate / r[0].rate),
        median_of(&|r| r[2].rate / r[0].rate),
        median_of(&|r| r[3].rate / r[0].rate),
        median_of(&|r| r[2].rate / r[3].rate)
    );
    println!(
        "ratios (median of per-round): s/b {:.2}",
        median_of(&|r| r[4].rate / r[1].rate)
    );
    println!(
        "ratios (median of per-round): m/c {:.2}",
        median_of(&|r| r[5].rate / r[2].rate)
    );

    print_redis_medians(&redis_rounds);

    let half = median_of(&|r| r[1].rate) / 2.0;
    let paced = measure_in_child(Phase::Intake, plan, Some(half), 90);
    println!("b. intake paced at half its peak ({half:.0}/s): {paced}");

    for child in ["chats", "contacts"] {
        let report = memory_of_child(child);
        println!("memory, {child}: {report}");
    }
    print_idle_instance_memory();
    println!("memory, books: {}", memory_of_child("books"));
    find_benchmark(plan).await;
}

/// The order the phases of a turn run in: the two phases of each ratio close together (b
/// between a and s, b′ next to s, c between m and d), and every other turn the reverse, so
/// that neither phase of a ratio always runs first — the first of two runs back to back tends to
/// read low.
const ROUND_ORDER: [Phase; 8] = [
    Phase::Ceiling,
    Phase::Intake,
    Phase::IntakeDurable,
    Phase::IntakeRedis,
    Phase::EndToEndRedis,
    Phase::ManyInstances,
    Phase::EndToEnd,
    Phase::Relay,
];

/// One round's figures, by phase; the phases on Redis only when a Redis was given.
struct RoundFigures(Vec<(Phase, Figures)>);

impl RoundFigures {
    fn of(&self, phase: Phase) -> Option<Figures> {
        self.0
            .iter()
            .find(|(measured, _)| *measured == phase)
            .map(|(_, figures)| *figures)
    }
}

/// Measures every phase of a round, each in a child process of its own ([`PhaseChild`]), all
/// started first and then loaded in turns: `plan.turns` windows each, in [`ROUND_ORDER`]
/// (reversed every other turn, and every other round), each child's first window after its
/// warm-up. A change of the machine's speed during the round falls on every phase alike.
fn measure_round(plan: Plan, round: usize) -> RoundFigures {
    let with_redis = redis_url().is_some();
    let mut children: Vec<PhaseChild> = ROUND_ORDER
        .into_iter()
        .filter(|phase| with_redis || !phase.on_redis())
        .map(|phase| PhaseChild::spawn(phase, round as u64 * 10 + phase.tag_offset()))
        .collect();
    for child in &mut children {
        child.wait_for("ready");
    }
    let window = plan.measure.as_secs_f64() / plan.turns as f64;
    for turn in 0..plan.turns {
        let mut order: Vec<&mut PhaseChild> = children.iter_mut().collect();
        if (round + turn) % 2 == 1 {
            order.reverse();
        }
        for child in order {
            std::thread::sleep(SETTLE);
            if turn == 0 {
                child.load(&format!("warm {}", plan.warmup.as_secs_f64()));
            }
            child.load(&format!("window {window}"));
        }
    }
    RoundFigures(
        children
            .into_iter()
            .map(|child| (child.phase, child.finish()))
            .collect(),
    )
}

/// The pause between two windows of a round: the work a phase deferred (a Redis consumer's,
/// a store's writer's) is done before the next phase's window.
const SETTLE: Duration = Duration::from_millis(50);

/// A phase's server and load generator in a child process of this program
/// (`--serve <part> <tag>`, see [`serve_child`]), loaded in windows at the parent's word.
struct PhaseChild {
    phase: Phase,
    process: std::process::Child,
    commands: std::process::ChildStdin,
    answers: std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
}

impl PhaseChild {
    fn spawn(phase: Phase, tag: u64) -> Self {
        let program = std::env::current_exe().expect("this program's path");
        let mut process = std::process::Command::new(program)
            .args(["--serve", phase.part(), &tag.to_string()])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("the phase's child starts");
        let commands = process.stdin.take().expect("the child's stdin");
        let answers = std::io::BufReader::new(process.stdout.take().expect("the child's stdout"));
        Self {
            phase,
            process,
            commands,
            answers: std::io::BufRead::lines(answers),
        }
    }

    /// The child's next line.
    fn answer(&mut self) -> String {
        match self.answers.next() {
            Some(Ok(line)) => line,
            _ => panic!(
                "the child measuring {} ended: {:?}",
                self.phase.part(),
                self.process.wait()
            ),
        }
    }

    /// Waits for the child to say `word`.
    fn wait_for(&mut self, word: &str) {
        let said = self.answer();
        assert_eq!(said, word, "the child measuring {}", self.phase.part());
    }

    /// Has the child run `command` (`warm <seconds>` or `window <seconds>`), and waits until
    /// it has.
    fn load(&mut self, command: &str) {
        use std::io::Write;
        writeln!(self.commands, "{command}").expect("the child takes commands");
        self.wait_for("done");
    }

    /// The figures of the child's windows, once it has stopped its server.
    fn finish(mut self) -> Figures {
        use std::io::Write;
        writeln!(self.commands, "end").expect("the child takes commands");
        let line = self.answer();
        let figures = Figures::decode(&line).unwrap_or_else(|| {
            panic!(
                "the child measuring {} printed no figures: {line}",
                self.phase.part()
            )
        });
        let status = self.process.wait().expect("the child ends");
        assert!(
            status.success(),
            "the child measuring {} failed",
            self.phase.part()
        );
        figures
    }
}

/// One line per phase (its index in each round, its name): the medians of its throughput,
/// p50 and p99 over the rounds.
fn print_phase_medians<const N: usize>(
    rounds: &[[Figures; N]],
    phases: impl IntoIterator<Item = (usize, &'static str)>,
) {
    let median_of = |pick: &dyn Fn(&[Figures; N]) -> f64| median(rounds.iter().map(pick).collect());
    for (i, name) in phases {
        println!(
            "{name:<32} {:>10.0} {:>9.3} {:>9.3} {:>12.1}",
            median_of(&|r| r[i].rate),
            median_of(&|r| r[i].p50_ms),
            median_of(&|r| r[i].p99_ms),
            median_of(&|r| r[i].cpu_us)
        );
    }
}

/// The medians of the rounds on Redis, beside the same rounds' in-memory figures; a note
/// when no Redis was given.
fn print_redis_medians(rounds: &[[Figures; 5]]) {
    if rounds.is_empty() {
        println!("\non Redis: skipped (set HOOKBOT_BENCH_REDIS_URL or HOOKBOT_TEST_REDIS_URL)");
        return;
    }
    let median_of = |pick: &dyn Fn(&[Figures; 5]) -> f64| median(rounds.iter().map(pick).collect());
    println!("\non Redis, medians of {} round(s):", rounds.len());
    print_phase_medians(
        rounds,
        [(3, "b'. intake on Redis"), (4, "c'. end to end on Redis")],
    );
    println!(
        "ratios (median of per-round): b'/a {:.2}, c'/a {:.2}, b'/b {:.2}, c'/c {:.2}",
        median_of(&|r| r[3].rate / r[0].rate),
        median_of(&|r| r[4].rate / r[0].rate),
        median_of(&|r| r[3].rate / r[1].rate),
        median_of(&|r| r[4].rate / r[2].rate)
    );
}

/// The Redis of the phases on Redis: `HOOKBOT_BENCH_REDIS_URL`, else `HOOKBOT_TEST_REDIS_URL`.
fn redis_url() -> Option<String> {
    std::env::var("HOOKBOT_BENCH_REDIS_URL")
        .or_else(|_| std::env::var("HOOKBOT_TEST_REDIS_URL"))
        .ok()
}

/// One part alone, in this process, for a profiler: `--only a`, `b`, `c`, `d`, `m`, `s`,
/// `b-redis`, `c-redis` or `find`.
async fn only(part: &str, plan: Plan) {
    if part == "find" {
        return find_benchmark(plan).await;
    }
    let phase = Phase::from_part(part).unwrap_or_else(|| {
        panic!("--only takes a, b, c, d, m, s, b-redis, c-redis or find, not {part:?}")
    });
    println!("{}", measure(phase, plan, None, 0).await);
}

/// Measures `phase` in a child process of this program, so that no phase runs on the heap,
/// the threads or the leftovers of another (a phase run after m's thousand contact books
/// cost up to twice the CPU per event in the same process).
fn measure_in_child(phase: Phase, plan: Plan, rate: Option<f64>, tag: u64) -> Figures {
    let program = std::env::current_exe().expect("this program's path");
    let mut command = std::process::Command::new(program);
    command.args(["--phase", phase.part(), &tag.to_string()]);
    if let Some(rate) = rate {
        command.args(["--pace", &rate.to_string()]);
    }
    if plan.quick {
        command.arg("--quick");
    }
    let output = command.output().expect("the phase's child runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the child measuring {} failed: {}{}",
        phase.part(),
        stdout,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout.lines().find_map(Figures::decode).unwrap_or_else(|| {
        panic!(
            "the child measuring {} printed no figures: {stdout}",
            phase.part()
        )
    })
}

/// The child of [`measure_in_child`]: `--phase <part> <tag> [--pace <events/s>]`; prints its
/// figures in [`Figures::encode`]'s form.
async fn phase_child(args: &[String], plan: Plan) {
    let phase = args
        .first()
        .and_then(|part| Phase::from_part(part))
        .expect("--phase names a phase");
    let tag = args
        .get(1)
        .and_then(|tag| tag.parse().ok())
        .expect("--phase's tag is a number");
    let rate = args
        .iter()
        .position(|arg| arg == "--pace")
        .and_then(|at| args.get(at + 1))
        .map(|rate| rate.parse().expect("--pace takes events per second"));
    println!("{}", measure(phase, plan, rate, tag).await.encode());
}

/// The child of [`PhaseChild`]: `--serve <part> <tag>`. Starts the phase's server and its
/// load generator and says `ready`; then, for each `warm <seconds>` or `window <seconds>` its
/// parent writes, loads the server that long over fresh connections and says `done`; at `end`,
/// stops the server and prints the windows' figures together.
async fn serve_child(args: &[String]) {
    let phase = args
        .first()
        .and_then(|part| Phase::from_part(part))
        .expect("--serve names a phase");
    let tag = args
        .get(1)
        .and_then(|tag| tag.parse().ok())
        .expect("--serve's tag is a number");
    let (server, load) = Server::ready(phase, tag, None).await;
    let mut generator = load.start();
    println!("ready");
    let mut commands = BufReader::new(tokio::io::stdin()).lines();
    let mut windows = Measured::default();
    while let Some(command) = commands.next_line().await.expect("the parent's commands") {
        let (word, seconds) = command.split_once(' ').unwrap_or((&command, ""));
        if word == "end" {
            break;
        }
        let length = seconds
            .parse()
            .ok()
            .and_then(|seconds| Duration::try_from_secs_f64(seconds).ok())
            .unwrap_or_else(|| panic!("a length in seconds: {command:?}"));
        let counted = match word {
            "warm" => false,
            "window" => true,
            _ => panic!("warm, window or end, not {command:?}"),
        };
        generator.connect().await;
        let measured = generator.run(Stretch::Time { length, counted }).await;
        if counted {
            windows.add(measured);
        }
        println!("done");
    }
    generator.stop().await;
    server.stop().await;
    println!("{}", windows.figures().encode());
}

/// Which server a run measures.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Ceiling,
    Intake,
    EndToEnd,
    Relay,
    ManyInstances,
    IntakeDurable,
    IntakeRedis,
    EndToEndRedis,
}

impl Phase {
    /// Every phase, with its name on the command line.
    const PARTS: [(Self, &'static str); 8] = [
        (Self::Ceiling, "a"),
        (Self::Intake, "b"),
        (Self::EndToEnd, "c"),
        (Self::Relay, "d"),
        (Self::ManyInstances, "m"),
        (Self::IntakeDurable, "s"),
        (Self::IntakeRedis, "b-redis"),
        (Self::EndToEndRedis, "c-redis"),
    ];

    fn from_part(part: &str) -> Option<Self> {
        Self::PARTS
            .iter()
            .find(|(_, name)| *name == part)
            .map(|(phase, _)| *phase)
    }

    fn part(self) -> &'static str {
        Self::PARTS
            .iter()
            .find(|(phase, _)| *phase == self)
            .map(|(_, name)| *name)
            .expect("every phase has a name")
    }

    fn on_redis(self) -> bool {
        matches!(self, Self::IntakeRedis | Self::EndToEndRedis)
    }

    /// Added to a round's tag, so that each phase of each round sends message ids of its own.
    fn tag_offset(self) -> u64 {
        match self {
            Self::Ceiling => 0,
            Self::Intake => 1,
            Self::EndToEnd => 2,
            Self::Relay => 3,
            Self::IntakeRedis => 4,
            Self::EndToEndRedis => 5,
            Self::IntakeDurable => 6,
            Self::ManyInstances => 7,
        }
    }
}

/// One run's result.
#[derive(Clone, Copy)]
struct Figures {
    rate: f64,
    p50_ms: f64,
    p99_ms: f64,
    /// CPU time the measured window cost per event, in µs: this process (server, emulator and
    /// load generator alike) plus, for a phase on Redis, the Redis server.
    cpu_us: f64,
    errors: u64,
}

impl std::fmt::Display for Figures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:.0}/s p50 {:.3} ms p99 {:.3} ms cpu {:.1} µs/event",
            self.rate, self.p50_ms, self.p99_ms, self.cpu_us
        )?;
        if self.errors > 0 {
            write!(f, " ({} errors)", self.errors)?;
        }
        Ok(())
    }
}

impl Figures {
    /// One line a parent reads back with [`Figures::decode`].
    fn encode(&self) -> String {
        format!(
            "figures {} {} {} {} {}",
            self.rate, self.p50_ms, self.p99_ms, self.cpu_us, self.errors
        )
    }

    fn decode(line: &str) -> Option<Self> {
        let mut fields = line.strip_prefix("figures ")?.split_whitespace();
        let mut number = || fields.next()?.parse::<f64>().ok();
        let (rate, p50_ms, p99_ms, cpu_us, errors) =
            (number()?, number()?, number()?, number()?, number()?);
        Some(Self {
            rate,
            p50_ms,
            p99_ms,
            cpu_us,
            errors: errors as u64,
        })
    }
}

/// Starts `phase`'s server, loads it for the plan's time (at `rate` events/s when given, else
/// as fast as it answers) after its warm-up, stops it.
async fn measure(phase: Phase, plan: Plan, rate: Option<f64>, tag: u64) -> Figures {
    let (server, load) = Server::ready(phase, tag, rate).await;
    let mut generator = load.start();
    generator.connect().await;
    let warmup = Stretch::Time {
        length: plan.warmup,
        counted: false,
    };
    generator.run(warmup).await;
    let measured = Stretch::Time {
        length: plan.measure,
        counted: true,
    };
    let figures = generator.run(measured).await.figures();
    generator.stop().await;
    server.stop().await;
    figures
}

/// A server under test, and for the end-to-end phase the gateway emulator behind it.
struct Server {
    address: SocketAddr,
    replies: Option<Arc<Replies>>,
    background: Background,
}

/// Servers running in the background until stopped.
#[derive(Default)]
struct Background {
    stops: Vec<oneshot::Sender<()>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// The Redis namespace of a phase on Redis, emptied when stopped.
    namespace: Option<String>,
    /// The directory of a phase on the durable store, deleted when stopped.
    directory: Option<tempfile::TempDir>,
}

impl Server {
    async fn start(phase: Phase, contacts: usize, tag: u64) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a local port");
        let address = listener.local_addr().expect("a bound address");
        let mut background = Background::default();
        let mut replies = None;
        match phase {
            Phase::Ceiling => {
                background.serve(
                    listener,
                    axum::Router::new().route("/webhook", post(ceiling)),
                );
            }
            Phase::Intake => {
                let nowhere = GreenApi::whatsapp("http://127.0.0.1:9", INSTANCE, API_TOKEN)
                    .build()
                    .expect("a valid client");
                let bot = Bot::builder(Router::<()>::new())
                    .gateway(nowhere)
                    .webhook_token(WEBHOOK_TOKEN)
                    .build()
                    .expect("a bot");
                background.serve_bot(listener, bot);
            }
            Phase::EndToEnd => {
                let (gateway, emulated) = background.emulator(contacts).await;
                let bot = Bot::builder(contact_card::router())
                    .instances(Instance::new(gateway))
                    .webhook_token(WEBHOOK_TOKEN)
                    .build()
                    .expect("a bot");
                background.serve_bot(listener, bot);
                replies = Some(emulated);
            }
            Phase::ManyInstances => {
                let (url, emulated) = background.emulator_at(contacts).await;
                let bot = Bot::builder(contact_card::router())
                    .instances(many_instances(&url, INSTANCES))
                    .webhook_token(WEBHOOK_TOKEN)
                    .build()
                    .expect("a bot");
                background.serve_bot(listener, bot);
                replies = Some(emulated);
            }
            Phase::Relay => {
                let (url, emulated) = background.emulator_at(contacts).await;
                let relay = Arc::new(Relay {
                    http: reqwest::Client::new(),
                    send_contact: format!("{url}/waInstance{INSTANCE}/sendContact/{API_TOKEN}"),
                });
                let app = axum::Router::new()
                    .route("/webhook", post(relay_one))
                    .with_state(relay);
                background.serve(listener, app);
                replies = Some(emulated);
            }
            Phase::IntakeDurable => {
                let nowhere = GreenApi::whatsapp("http://127.0.0.1:9", INSTANCE, API_TOKEN)
                    .build()
                    .expect("a valid client");
                let bot = Bot::builder(Router::<()>::new())
                    .gateway(nowhere)
                    .webhook_token(WEBHOOK_TOKEN)
                    .store(background.durable_store())
                    .dispatch(DispatchSettings::new().drain_deadline(Duration::from_secs(2)))
                    .build()
                    .expect("a bot");
                background.serve_bot(listener, bot);
            }
            Phase::IntakeRedis => {
                let (gateway, _) = background.emulator(contacts).await;
                let bot = Bot::builder(Router::<()>::new())
                    .instances(Instance::new(gateway))
                    .webhook_token(WEBHOOK_TOKEN)
                    .store(background.redis(tag))
                    .dispatch(DispatchSettings::new().drain_deadline(Duration::from_secs(2)))
                    .build()
                    .expect("a bot");
                background.serve_bot(listener, bot);
            }
            Phase::EndToEndRedis => {
                let (gateway, emulated) = background.emulator(contacts).await;
                let bot = Bot::builder(contact_card::router())
                    .instances(Instance::new(gateway))
                    .webhook_token(WEBHOOK_TOKEN)
                    .store(background.redis(tag))
                    .dispatch(DispatchSettings::new().drain_deadline(Duration::from_secs(2)))
                    .build()
                    .expect("a bot");
                background.serve_bot(listener, bot);
                replies = Some(emulated);
            }
        }
        Server {
            address,
            replies,
            background,
        }
    }

    /// Starts `phase`'s server, ready to be measured (for m: each instance's contact book
    /// loaded), and the load generator's settings for it.
    async fn ready(phase: Phase, tag: u64, rate: Option<f64>) -> (Self, Load) {
        let server = Server::start(phase, E2E_CONTACTS, tag).await;
        let instances = if phase == Phase::ManyInstances {
            server.touch_every_instance(tag).await;
            INSTANCES
        } else {
            1
        };
        let load = Load {
            instances,
            rate,
            redis_cpu: phase.on_redis(),
            ..server.load(tag)
        };
        (server, load)
    }

    /// The load generator's settings for this server: one instance, as fast as it answers.
    fn load(&self, tag: u64) -> Load {
        Load {
            address: self.address,
            replies: self.replies.clone(),
            tag,
            instances: 1,
            rate: None,
            redis_cpu: false,
        }
    }

    /// Sends one notification to each of m's instances, each waiting for its card: every
    /// instance's contact book is loaded before the measured run.
    async fn touch_every_instance(&self, tag: u64) {
        let load = Load {
            instances: INSTANCES,
            ..self.load(tag + 1_000)
        };
        let figures = load.send(INSTANCES as u64).await;
        assert_eq!(
            figures.errors, 0,
            "every instance answered its first message"
        );
    }

    async fn stop(self) {
        self.background.stop().await;
    }
}

/// `count` GREEN-API instances at the emulator at `url`, from an instances file as a user
/// writes one: ids from [`INSTANCE`] up, each its own token, client rate limits off (as in c).
fn many_instances(url: &str, count: usize) -> Instances {
    let file: String = (0..count as u64)
        .map(|n| {
            format!(
                "[[instance]]\ngateway = \"green-api\"\nurl = \"{url}\"\nid = \"{}\"\ntoken = \"{API_TOKEN}-{n}\"\n\n",
                FIRST_INSTANCE + n
            )
        })
        .collect();
    let configs = InstanceConfig::from_toml(&file).expect("a valid instances file");
    let settings = ClientSettings::new().rate_limits(RateLimits::unlimited());
    Instances::connect(&configs, &settings).expect("the instances connect")
}

impl Background {
    fn serve(&mut self, listener: TcpListener, app: axum::Router) {
        let (stop, stopped) = oneshot::channel::<()>();
        self.stops.push(stop);
        self.tasks.push(tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await;
        }));
    }

    /// Serves `bot` as a user's bot is served (its front door, its webhook, and on Redis its
    /// consumer) until stopped.
    fn serve_bot(&mut self, listener: TcpListener, bot: Bot) {
        let (stop, stopped) = oneshot::channel::<()>();
        self.stops.push(stop);
        self.tasks.push(tokio::spawn(async move {
            let _ = bot
                .serve(listener, async move {
                    let _ = stopped.await;
                })
                .await;
        }));
    }

    /// A durable store in a fresh temporary directory, with the default settings
    /// (`HOOKBOT_BENCH_DURABILITY=power-loss`: an fsync per commit).
    fn durable_store(&mut self) -> Store {
        let directory = tempfile::tempdir().expect("a temporary directory");
        let durability = match std::env::var("HOOKBOT_BENCH_DURABILITY").as_deref() {
            Ok("power-loss") => Durability::PowerLoss,
            _ => Durability::Process,
        };
        let settings = StoreSettings::new().durability(durability);
        let store = Store::durable_with(directory.path(), settings).expect("the store opens");
        self.directory = Some(directory);
        store
    }

    /// The bench's Redis, in a namespace of this run's own.
    fn redis(&mut self, tag: u64) -> Redis {
        let url = redis_url().expect("phases on Redis run only with a Redis URL");
        let namespace = format!("hookbot-bench-{}-{tag}", std::process::id());
        let redis = Redis::open(url)
            .expect("a valid Redis URL")
            .namespace(&namespace);
        self.namespace = Some(namespace);
        redis
    }

    /// Starts a GREEN-API emulator listing `contacts` generated people; returns its URL and
    /// what it receives.
    async fn emulator_at(&mut self, contacts: usize) -> (String, Arc<Replies>) {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a local port");
        let url = format!("http://{}", listener.local_addr().expect("a bound address"));
        let replies = Arc::new(Replies::new(contacts));
        self.serve(listener, emulator(replies.clone()));
        (url, replies)
    }

    /// Starts a GREEN-API emulator listing `contacts` generated people; returns a client of it
    /// (without client-side rate limits) and what it receives.
    async fn emulator(&mut self, contacts: usize) -> (Arc<GreenApi>, Arc<Replies>) {
        let (url, replies) = self.emulator_at(contacts).await;
        let gateway = GreenApi::whatsapp(url, INSTANCE, API_TOKEN)
            .settings(ClientSettings::new().rate_limits(RateLimits::unlimited()))
            .build()
            .expect("a valid emulator URL");
        (Arc::new(gateway), replies)
    }

    async fn stop(self) {
        for stop in self.stops {
            let _ = stop.send(());
        }
        for task in self.tasks {
            let _ = task.await;
        }
        if let Some(namespace) = self.namespace {
            forget_namespace(&namespace).await;
        }
        drop(self.directory);
    }
}

/// Deletes every key of `namespace`: the streams, claims and leases a phase left.
async fn forget_namespace(namespace: &str) {
    let url = redis_url().expect("a Redis URL");
    let client = redis::Client::open(url).expect("a valid Redis URL");
    let mut connection = client
        .get_multiplexed_async_connection()
        .await
        .expect("Redis answers");
    let pattern = format!("{namespace}:*");
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(&pattern)
        .query_async(&mut connection)
        .await
        .expect("Redis lists the namespace's keys");
    for chunk in keys.chunks(1_000) {
        let _: () = redis::cmd("UNLINK")
            .arg(chunk)
            .query_async(&mut connection)
            .await
            .expect("Redis deletes the namespace's keys");
    }
}

/// The ceiling: read the body, parse it as hookbot must, answer 200.
async fn ceiling(body: Bytes) -> StatusCode {
    match serde_json::from_slice::<serde_json::Value>(&body) {
        Ok(value) => {
            std::hint::black_box(value);
            StatusCode::OK
        }
        Err(_) => StatusCode::BAD_REQUEST,
    }
}

/// The relay (d): the least a bot answering with a quoted card must do, without hookbot.
struct Relay {
    http: reqwest::Client,
    send_contact: String,
}

/// d: parse the notification, answer 200, and send one quoted contact card to the emulator
/// with a plain `reqwest::Client` (no routing, no search, no validation, no retry).
async fn relay_one(State(relay): State<Arc<Relay>>, body: Bytes) -> StatusCode {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    let text = |pointer: &str| value.pointer(pointer).and_then(serde_json::Value::as_str);
    let reply = serde_json::json!({
        "chatId": text("/senderData/chatId"),
        "contact": {"phoneContact": 79100000000_u64, "firstName": "Ivan Petrov"},
        "quotedMessageId": text("/idMessage"),
    });
    let request = relay.http.post(&relay.send_contact).json(&reply);
    tokio::spawn(async move {
        if let Ok(response) = request.send().await {
            let _ = response.bytes().await;
        }
    });
    StatusCode::OK
}

/// What the emulator received, and a bell per connection of the load generator that rings
/// when that connection's reply arrives.
struct Replies {
    bells: Vec<Notify>,
    cards: AtomicU64,
    others: AtomicU64,
    contacts: Bytes,
}

impl Replies {
    fn new(contacts: usize) -> Self {
        Self {
            bells: (0..CONNECTIONS).map(|_| Notify::new()).collect(),
            cards: AtomicU64::new(0),
            others: AtomicU64::new(0),
            contacts: contact_list(contacts),
        }
    }
}

/// A minimal GREEN-API: `getContacts` lists the generated contacts; `sendContact` and
/// `sendMessage` answer with an id and ring the bell of the connection whose message the
/// reply quotes.
fn emulator(replies: Arc<Replies>) -> axum::Router {
    axum::Router::new()
        .route(
            "/{instance}/{method}/{token}",
            get(list_contacts).post(send),
        )
        .with_state(replies)
}

async fn list_contacts(State(replies): State<Arc<Replies>>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        replies.contacts.clone(),
    )
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Sent {
    quoted_message_id: Option<String>,
}

async fn send(
    State(replies): State<Arc<Replies>>,
    Path((_, method, _)): Path<(String, String, String)>,
    body: Bytes,
) -> impl IntoResponse {
    let counter = if method == "sendContact" {
        &replies.cards
    } else {
        &replies.others
    };
    counter.fetch_add(1, Ordering::Relaxed);
    let sent: Option<Sent> = serde_json::from_slice(&body).ok();
    let connection = sent
        .and_then(|sent| sent.quoted_message_id)
        .and_then(|id| id.split('-').nth(2)?.parse::<usize>().ok());
    if let Some(bell) = connection.and_then(|at| replies.bells.get(at)) {
        bell.notify_one();
    }
    (
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"idMessage":"BAE5F4886F6F2D05"}"#,
    )
}

/// The load generator's settings.
struct Load {
    address: SocketAddr,
    /// For the end-to-end phase: wait for each reply at the emulator.
    replies: Option<Arc<Replies>>,
    /// Makes the run's message ids its own.
    tag: u64,
    /// How many instances the notifications are spread over, from [`INSTANCE`] up.
    instances: usize,
    /// Events per second over all connections; `None` for as fast as answered.
    rate: Option<f64>,
    /// Count the Redis server's CPU time with this process's.
    redis_cpu: bool,
}

/// A stretch of load a [`Generator`] runs.
#[derive(Clone, Copy)]
enum Stretch {
    /// As long as this, its events counted or not (a warm-up).
    Time { length: Duration, counted: bool },
    /// This many notifications, each counted (a set-up).
    Notifications(u64),
}

/// What the connections are told to do next.
#[derive(Clone, Copy)]
enum Order {
    /// Open a fresh connection (a server's idle time-out may have closed the last one).
    Connect,
    /// Send until `until`; count the events that start and finish within `from..until`.
    Until {
        from: Instant,
        until: Instant,
        counted: bool,
    },
    /// Send the notifications numbered below `end`, counting each.
    Below { end: u64 },
}

/// What a stretch of load measured: the latencies (µs) of the events it counted, how many
/// failed, and for a [`Stretch::Time`], how long it counted and the CPU time that took.
#[derive(Default)]
struct Measured {
    latencies: Vec<u32>,
    errors: u64,
    seconds: f64,
    cpu: Duration,
}

impl Measured {
    /// Adds what `other` measured.
    fn add(&mut self, mut other: Measured) {
        self.latencies.append(&mut other.latencies);
        self.errors += other.errors;
        self.seconds += other.seconds;
        self.cpu += other.cpu;
    }

    fn figures(mut self) -> Figures {
        self.latencies.sort_unstable();
        let events = self.latencies.len() as f64;
        Figures {
            rate: events / self.seconds,
            p50_ms: percentile(&self.latencies, 0.50),
            p99_ms: percentile(&self.latencies, 0.99),
            cpu_us: self.cpu.as_secs_f64() * 1e6 / events,
            errors: self.errors,
        }
    }
}

impl Load {
    /// Starts [`CONNECTIONS`] connections' tasks, waiting for their first [`Order`].
    fn start(self) -> Generator {
        let load = Arc::new(self);
        let next = Arc::new(AtomicU64::new(0));
        let (orders, _) = watch::channel(Order::Connect);
        let (reports, reported) = mpsc::channel(CONNECTIONS);
        let connections = (0..CONNECTIONS)
            .map(|connection| {
                let load = load.clone();
                let next = next.clone();
                let orders = orders.subscribe();
                let reports = reports.clone();
                tokio::spawn(async move {
                    load.connection(connection, &next, orders, reports).await;
                })
            })
            .collect();
        Generator {
            redis_cpu: load.redis_cpu,
            next,
            orders,
            reported,
            connections,
        }
    }

    /// Sends `count` notifications over fresh connections, as fast as answered.
    async fn send(self, count: u64) -> Figures {
        let mut generator = self.start();
        generator.connect().await;
        let measured = generator.run(Stretch::Notifications(count)).await;
        generator.stop().await;
        measured.figures()
    }

    /// One connection: its loop over the generator's orders, each answered with what it
    /// measured.
    async fn connection(
        &self,
        connection: usize,
        next: &AtomicU64,
        mut orders: watch::Receiver<Order>,
        reports: mpsc::Sender<Measured>,
    ) {
        let mut sender = None;
        let mut ticks = None;
        while orders.changed().await.is_ok() {
            let order = *orders.borrow_and_update();
            let measured = match (order, &mut sender) {
                (Order::Connect, _) => {
                    sender = Some(self.connect().await);
                    ticks = self.ticks(connection);
                    Measured::default()
                }
                (_, Some(sender)) => {
                    self.send_while(connection, next, order, sender, ticks.as_mut())
                        .await
                }
                (_, None) => panic!("a connection is told to send before it connects"),
            };
            if reports.send(measured).await.is_err() {
                return;
            }
        }
    }

    /// A fresh keep-alive HTTP/1.1 connection to the server.
    async fn connect(&self) -> SendRequest<Full<Bytes>> {
        let stream = TcpStream::connect(self.address)
            .await
            .expect("the server accepts");
        stream.set_nodelay(true).expect("TCP_NODELAY");
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .expect("an HTTP/1.1 handshake");
        tokio::spawn(conn);
        sender
    }

    /// Paced, the turns of connection number `connection`: its share of the rate, its first
    /// turn staggered from the other connections'.
    fn ticks(&self, connection: usize) -> Option<tokio::time::Interval> {
        self.rate.map(|rate| {
            let period = Duration::from_secs_f64(CONNECTIONS as f64 / rate);
            let first = tokio::time::Instant::now()
                + period.mul_f64(connection as f64 / CONNECTIONS as f64);
            tokio::time::interval_at(first, period)
        })
    }

    /// Sends notifications one after another on `sender` while `order` says so; returns the
    /// latencies of those it counts and how many failed.
    async fn send_while(
        &self,
        connection: usize,
        next: &AtomicU64,
        order: Order,
        sender: &mut SendRequest<Full<Bytes>>,
        mut ticks: Option<&mut tokio::time::Interval>,
    ) -> Measured {
        let host = self.address.to_string();
        let authorization = format!("Bearer {WEBHOOK_TOKEN}");
        let mut measured = Measured::default();
        loop {
            // Paced, a connection waits for its turn, then times from the moment it sends:
            // tokio's timer fires up to a millisecond late, which is the generator's delay,
            // not the server's.
            if let Some(ticks) = &mut ticks {
                ticks.tick().await;
            }
            let start = Instant::now();
            if let Order::Until { until, .. } = order
                && start >= until
            {
                break;
            }
            let n = next.fetch_add(1, Ordering::Relaxed);
            if let Order::Below { end } = order
                && n >= end
            {
                break;
            }
            let request = hyper::Request::post("/webhook")
                .header(header::HOST, &host)
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::AUTHORIZATION, &authorization)
                .body(Full::new(Bytes::from(notification(
                    self.tag,
                    connection,
                    n,
                    self.instances,
                ))))
                .expect("a valid request");
            let ok = match sender.send_request(request).await {
                Ok(response) => {
                    let ok = response.status() == StatusCode::OK;
                    ok && response.into_body().collect().await.is_ok()
                }
                Err(_) => false,
            };
            let replied = match (&self.replies, ok) {
                (Some(replies), true) => {
                    tokio::time::timeout(REPLY_TIMEOUT, replies.bells[connection].notified())
                        .await
                        .is_ok()
                }
                _ => ok,
            };
            let end = Instant::now();
            let counted = match order {
                Order::Until {
                    from,
                    until,
                    counted,
                } => counted && start >= from && end <= until,
                _ => true,
            };
            if !replied {
                measured.errors += 1;
            } else if counted {
                let micros = end.duration_since(start).as_micros();
                measured
                    .latencies
                    .push(u32::try_from(micros).unwrap_or(u32::MAX));
            }
        }
        measured
    }
}

/// A running load generator: [`CONNECTIONS`] connections to one server, loading it in
/// stretches at its word, each connection sending its next notification when the last is
/// done (for an end-to-end phase: when the emulator has its reply).
struct Generator {
    redis_cpu: bool,
    /// The number of the next notification, over all connections and stretches.
    next: Arc<AtomicU64>,
    orders: watch::Sender<Order>,
    reported: mpsc::Receiver<Measured>,
    connections: Vec<tokio::task::JoinHandle<()>>,
}

impl Generator {
    /// Opens a fresh connection for each of the generator's: outside any measured stretch, so
    /// that stretches far apart (a server's idle time-out closes connections) cost the same.
    async fn connect(&mut self) {
        self.order(Order::Connect).await;
    }

    /// Runs `stretch` on the open connections; what it measured.
    async fn run(&mut self, stretch: Stretch) -> Measured {
        match stretch {
            Stretch::Time { length, counted } => {
                let start = cpu_time(self.redis_cpu).await;
                let from = Instant::now();
                let until = from + length;
                let redis_cpu = self.redis_cpu;
                let cpu = tokio::spawn(async move {
                    tokio::time::sleep_until(until.into()).await;
                    cpu_time(redis_cpu).await.saturating_sub(start)
                });
                let mut measured = self
                    .order(Order::Until {
                        from,
                        until,
                        counted,
                    })
                    .await;
                measured.seconds = length.as_secs_f64();
                measured.cpu = cpu.await.expect("the CPU clock");
                measured
            }
            Stretch::Notifications(count) => {
                let started = Instant::now();
                let end = self.next.load(Ordering::Relaxed) + count;
                let mut measured = self.order(Order::Below { end }).await;
                measured.seconds = started.elapsed().as_secs_f64();
                measured
            }
        }
    }

    /// Gives every connection `order`; what they measured, together.
    async fn order(&mut self, order: Order) -> Measured {
        self.orders.send_replace(order);
        let mut measured = Measured::default();
        for _ in 0..CONNECTIONS {
            let report = self
                .reported
                .recv()
                .await
                .expect("every connection reports");
            measured.add(report);
        }
        measured
    }

    /// Closes the connections.
    async fn stop(self) {
        drop(self.orders);
        for connection in self.connections {
            connection.await.expect("a load connection");
        }
    }
}

/// CPU time spent so far by this process, and with `redis` by the bench's Redis server too (its
/// `INFO cpu`).
async fn cpu_time(redis: bool) -> Duration {
    let redis = if redis {
        redis_cpu_time().await
    } else {
        Duration::ZERO
    };
    process_cpu_time() + redis
}

/// CPU time of every thread of this process so far (`CLOCK_PROCESS_CPUTIME_ID`).
fn process_cpu_time() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable timespec for the call's whole duration.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut now) };
    assert_eq!(status, 0, "the process CPU clock reads");
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

/// CPU time of the bench's Redis server so far: `used_cpu_user` plus `used_cpu_sys`.
async fn redis_cpu_time() -> Duration {
    let url = redis_url().expect("a Redis URL");
    let client = redis::Client::open(url).expect("a valid Redis URL");
    let mut connection = client
        .get_multiplexed_async_connection()
        .await
        .expect("Redis answers");
    let info: String = redis::cmd("INFO")
        .arg("cpu")
        .query_async(&mut connection)
        .await
        .expect("Redis answers INFO");
    let seconds: f64 = info
        .lines()
        .filter_map(|line| {
            let value = line
                .strip_prefix("used_cpu_user:")
                .or_else(|| line.strip_prefix("used_cpu_sys:"))?;
            value.trim().parse::<f64>().ok()
        })
        .sum();
    Duration::from_secs_f64(seconds)
}

/// A realistic GREEN-API `incomingMessageReceived`: `contact Ivan Petrov` from one of [`CHATS`]
/// chats to one of `instances` instances, with a message id of its own that names the
/// connection that sent it.
fn notification(tag: u64, connection: usize, n: u64, instances: usize) -> String {
    let chat = 79_000_000_000 + n % CHATS;
    let instance = FIRST_INSTANCE + n % instances as u64;
    format!(
        r#"{{"typeWebhook":"incomingMessageReceived","instanceData":{{"idInstance":{instance},"wid":"79001234567@c.us","typeInstance":"whatsapp"}},"timestamp":1700000000,"idMessage":"BENCH-{tag}-{connection}-{n}","senderData":{{"chatId":"{chat}@c.us","chatName":"Client {chat}","sender":"{chat}@c.us","senderName":"Client {chat}","senderContactName":"","senderPhoneNumber":{chat}}},"messageData":{{"typeMessage":"textMessage","textMessageData":{{"textMessage":"contact Ivan Petrov"}}}}}}"#
    )
}

/// The value at quantile `q` of sorted microseconds, in milliseconds.
fn percentile(sorted: &[u32], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let at = ((sorted.len() - 1) as f64 * q).round() as usize;
    f64::from(sorted[at]) / 1000.0
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

const FIRST_NAMES: [&str; 24] = [
    "Ivan",
    "Anna",
    "Maria",
    "João",
    "Pedro",
    "Ana",
    "Lucas",
    "Olga",
    "Sergey",
    "Elena",
    "Dmitry",
    "Natalia",
    "Иван",
    "Анна",
    "Мария",
    "Сергей",
    "Ольга",
    "Дмитрий",
    "Артём",
    "Наталья",
    "Beatriz",
    "Rafael",
    "Juliana",
    "Conceição",
];
const LAST_NAMES: [&str; 20] = [
    "Petrov",
    "Smirnova",
    "Silva",
    "Santos",
    "Oliveira",
    "Souza",
    "Kuznetsov",
    "Popova",
    "Costa",
    "Pereira",
    "Петров",
    "Смирнова",
    "Кузнецов",
    "Попова",
    "Соколов",
    "Лебедева",
    "Gonçalves",
    "Araújo",
    "Müller",
    "Straße",
];

/// The `n`-th generated contact's name: first and last names in Latin and Cyrillic script,
/// some with diacritics, every fourth with a company after it.
fn contact_name(n: usize) -> String {
    let first = FIRST_NAMES[n % FIRST_NAMES.len()];
    let last = LAST_NAMES[(n / FIRST_NAMES.len()) % LAST_NAMES.len()];
    if n % 4 == 3 {
        format!("{first} {last} (Office {})", n / 4)
    } else {
        format!("{first} {last}")
    }
}

/// The `n`-th generated contact's phone: 11 digits.
fn contact_phone(n: usize) -> u64 {
    79_100_000_000 + n as u64 * 7
}

/// A `getContacts` answer listing `count` generated people.
fn contact_list(count: usize) -> Bytes {
    let entries: Vec<serde_json::Value> = (0..count)
        .map(|n| {
            serde_json::json!({
                "id": format!("{}@c.us", contact_phone(n)),
                "name": "",
                "contactName": contact_name(n),
                "type": "user",
            })
        })
        .collect();
    Bytes::from(serde_json::to_vec(&entries).expect("JSON"))
}

/// A contact book over a GREEN-API emulator listing `count` generated people, loaded.
async fn loaded_book(count: usize) -> (ContactBook, Background) {
    let mut background = Background::default();
    let (gateway, _) = background.emulator(count).await;
    let book = ContactBook::new(gateway);
    let listed = book.all().await.expect("the emulator lists contacts").len();
    assert_eq!(listed, count, "the book holds every generated contact");
    (book, background)
}

/// Runs this program again as a child that reports its resident memory.
fn memory_of_child(child: &str) -> String {
    let program = std::env::current_exe().expect("this program's path");
    let output = std::process::Command::new(program)
        .args(["--child", child])
        .output()
        .expect("the memory child runs");
    assert!(
        output.status.success(),
        "the memory child failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// A child's measurement: `chats`, the contact-card bot after one message from each of
/// [`CHATS`] chats; `contacts`, a loaded [`BOOK_CONTACTS`]-contact book.
async fn memory_child(child: &str) {
    let before = resident_kib();
    match child {
        "chats" => {
            let server = Server::start(Phase::EndToEnd, E2E_CONTACTS, 0).await;
            let figures = server.load(0).send(CHATS).await;
            assert_eq!(figures.errors, 0, "every chat got its reply");
            let replies = server.replies.as_ref().expect("an end-to-end server");
            let cards = replies.cards.load(Ordering::Relaxed);
            assert_eq!(cards, CHATS, "one card per chat");
            tokio::time::sleep(Duration::from_millis(200)).await;
            println!(
                "{:.1} MiB resident after {CHATS} chats each sent a message and got a card ({:.1} MiB before; bot, emulator and load generator in one process)",
                mib(resident_kib()),
                mib(before)
            );
            server.stop().await;
        }
        "contacts" => {
            let (book, background) = loaded_book(BOOK_CONTACTS).await;
            tokio::time::sleep(Duration::from_millis(200)).await;
            println!(
                "{:.1} MiB resident with a {BOOK_CONTACTS}-contact book loaded ({:.1} MiB before)",
                mib(resident_kib()),
                mib(before)
            );
            drop(book);
            background.stop().await;
        }
        "books" => {
            let mut background = Background::default();
            let (url, _) = background.emulator_at(E2E_CONTACTS).await;
            let instances = many_instances(&url, INSTANCES);
            let loaded_before = resident_kib();
            for instance in instances.iter() {
                let listed = instance.contacts().all().await.expect("the emulator lists");
                assert_eq!(listed.len(), E2E_CONTACTS, "each book holds every contact");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            println!(
                "{:.1} MiB resident with each of {INSTANCES} instances' books ({E2E_CONTACTS} contacts each) loaded ({:.1} MiB before loading, {:.1} KiB per book)",
                mib(resident_kib()),
                mib(loaded_before),
                resident_kib().saturating_sub(loaded_before) as f64 / INSTANCES as f64
            );
            drop(instances);
            background.stop().await;
        }
        idle => {
            let count = idle
                .strip_prefix("idle-")
                .and_then(|count| count.parse().ok())
                .unwrap_or_else(|| {
                    panic!("no memory child {idle:?}: chats, contacts, books or idle-N")
                });
            idle_child(count).await;
        }
    }
}

/// A child serving the contact-card bot with `count` idle instances (built, serving, no
/// event yet): prints its resident KiB.
async fn idle_child(count: usize) {
    let mut background = Background::default();
    let (url, _) = background.emulator_at(E2E_CONTACTS).await;
    let bot = Bot::builder(contact_card::router())
        .instances(many_instances(&url, count))
        .webhook_token(WEBHOOK_TOKEN)
        .build()
        .expect("a bot");
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a local port");
    background.serve(listener, bot.router());
    tokio::time::sleep(Duration::from_millis(200)).await;
    println!("{}", resident_kib());
    background.stop().await;
}

/// The resident memory of one idle instance: (RSS with [`INSTANCES`] − RSS with 1) / the
/// instances added, each read in a child of its own.
fn print_idle_instance_memory() {
    let resident = |count: usize| -> u64 {
        let report = memory_of_child(&format!("idle-{count}"));
        report
            .parse()
            .expect("the idle child prints its resident KiB")
    };
    let (one, many) = (resident(1), resident(INSTANCES));
    println!(
        "memory, idle instances: {:.1} MiB with 1, {:.1} MiB with {INSTANCES}: {:.1} KiB per idle instance",
        mib(one),
        mib(many),
        many.saturating_sub(one) as f64 / (INSTANCES - 1) as f64
    );
}

/// This process's resident memory (`VmRSS`), in KiB.
fn resident_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Times `repeats` searches for the best `limit` matches of `query` (µs each), and counts the
/// matches.
async fn time_find(
    book: &ContactBook,
    query: &str,
    limit: usize,
    repeats: usize,
) -> (Vec<u32>, usize) {
    let mut times = Vec::with_capacity(repeats);
    let mut matches = 0;
    for _ in 0..repeats {
        let started = Instant::now();
        let found = book
            .find_up_to(query, limit)
            .await
            .expect("the list is loaded");
        let micros = started.elapsed().as_micros();
        matches = std::hint::black_box(found).len();
        times.push(u32::try_from(micros).unwrap_or(u32::MAX));
    }
    (times, matches)
}

/// Times [`ContactBook::find`] over a [`BOOK_CONTACTS`]-contact book, for each kind of query
/// the search ranks.
async fn find_benchmark(plan: Plan) {
    let (book, background) = loaded_book(BOOK_CONTACTS).await;
    let unique = contact_name(4 * 1234 + 3);
    let phone = contact_phone(56_789).to_string();
    let queries = [
        ("whole name, many matches", "Ivan Petrov".to_owned()),
        ("one common word", "anna".to_owned()),
        ("prefix", "serg".to_owned()),
        ("inside words", "etro".to_owned()),
        ("other script and case", "ИВАН петров".to_owned()),
        ("without diacritics", "joao goncalves".to_owned()),
        ("a unique name", unique),
        (
            "whole phone, formatted",
            format!("+{} {}", &phone[..1], &phone[1..]),
        ),
        ("end of a phone", phone[5..].to_owned()),
        ("no match", "zzyzx".to_owned()),
    ];
    println!(
        "
ContactBook::find (the best {FIND_LIMIT}) and find_up_to(.., usize::MAX) (every match) over {BOOK_CONTACTS} contacts, {} runs per query, ms:",
        plan.find_repeats
    );
    println!(
        "{:<28} {:>8} {:>10} {:>10} {:>10} {:>10}",
        "query", "matches", "find p50", "find p99", "all p50", "all p99"
    );
    let mut best = Vec::new();
    let mut every = Vec::new();
    for (kind, query) in &queries {
        let (mut times, _) = time_find(&book, query, FIND_LIMIT, plan.find_repeats).await;
        let (mut all_times, matches) = time_find(&book, query, usize::MAX, plan.find_repeats).await;
        times.sort_unstable();
        all_times.sort_unstable();
        println!(
            "{kind:<28} {matches:>8} {:>10.3} {:>10.3} {:>10.3} {:>10.3}",
            percentile(&times, 0.5),
            percentile(&times, 0.99),
            percentile(&all_times, 0.5),
            percentile(&all_times, 0.99)
        );
        best.extend(times);
        every.extend(all_times);
    }
    best.sort_unstable();
    every.sort_unstable();
    println!(
        "{:<28} {:>8} {:>10.3} {:>10.3} {:>10.3} {:>10.3}",
        "all queries",
        "",
        percentile(&best, 0.5),
        percentile(&best, 0.99),
        percentile(&every, 0.5),
        percentile(&every, 0.99)
    );
    drop(book);
    background.stop().await;
}
