//! The operators' material in `ops/` against what a bot really exports: every metric the Grafana
//! dashboard and the Prometheus alert rules query is one `GET /metrics` serves, the dashboard
//! filters every query by its `instance` variable, and every alert says what to do.
//!
//! The rules file is read with `yaml-rust2` (maintained, pure Rust, two small dependencies
//! without its encoding feature): `serde_yaml` is deprecated, and writing the rules as JSON
//! (YAML's subset) would make them hard for an operator to read and edit.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use common::{Server, body};
use hookbot::BoxError;
use hookbot::bot::Bot;
use hookbot::context::Context;
use hookbot::filter;
use hookbot::gateway::{ClientSettings, GreenApi, RateLimits, RetryPolicy};
use hookbot::instance::{Instance, Instances};
use hookbot::router::Router;
use regex::Regex;
use reqwest::StatusCode;
use serde_json::{Value, json};
use wiremock::matchers::{body_partial_json, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};
use yaml_rust2::{Yaml, YamlLoader};

const DASHBOARD: &str = include_str!("../ops/grafana/hookbot.json");
const ALERTS: &str = include_str!("../ops/prometheus/alerts.yml");

/// Series Prometheus records itself for each target it scrapes, which no exporter serves.
const PROMETHEUS_OWN: [&str; 1] = ["up"];

const INSTANCE: &str = "1101000301";
const API_TOKEN: &str = "ops-api-token-5d2c8e1a7b";
const WEBHOOK_TOKEN: &str = "ops-webhook-token-9a4f6b3c1e";
const CHAT: &str = "79001234567@c.us";
/// A chat whose replies the gateway refuses: the instance's phone is not linked.
const REFUSED_CHAT: &str = "79007654321@c.us";

/// The dashboard's JSON.
fn dashboard() -> Value {
    serde_json::from_str(DASHBOARD).expect("the dashboard is JSON")
}

/// Every panel of the dashboard, those inside collapsed rows included.
fn panels(dashboard: &Value) -> Vec<&Value> {
    let mut all = Vec::new();
    for panel in dashboard["panels"]
        .as_array()
        .expect("the dashboard has panels")
    {
        all.push(panel);
        if let Some(nested) = panel["panels"].as_array() {
            all.extend(nested);
        }
    }
    all
}

/// The PromQL of every panel's targets and of every query variable.
fn dashboard_queries(dashboard: &Value) -> Vec<String> {
    let targets = panels(dashboard)
        .into_iter()
        .filter_map(|panel| panel["targets"].as_array())
        .flatten()
        .map(|target| {
            target["expr"]
                .as_str()
                .expect("every target has an expr")
                .to_owned()
        });
    let variables = variables(dashboard)
        .iter()
        .filter(|variable| variable["type"] == "query")
        .map(|variable| variable_query(variable).to_owned());
    targets.chain(variables).collect()
}

fn variables(dashboard: &Value) -> &Vec<Value> {
    dashboard["templating"]["list"]
        .as_array()
        .expect("the dashboard has template variables")
}

/// A query variable's query: a string, or an object holding it (Grafana 10's editor).
fn variable_query(variable: &Value) -> &str {
    variable["query"]
        .as_str()
        .or_else(|| variable["query"]["query"].as_str())
        .expect("a query variable has a query")
}

/// The alert rules file, parsed.
fn alert_rules() -> Vec<Yaml> {
    let documents = YamlLoader::load_from_str(ALERTS).expect("the rules file is YAML");
    let [rules] = documents.as_slice() else {
        panic!("the rules file is one YAML document");
    };
    let groups = rules["groups"].as_vec().expect("the rules file has groups");
    groups
        .iter()
        .flat_map(|group| {
            group["rules"]
                .as_vec()
                .expect("each group has rules")
                .clone()
        })
        .collect()
}

/// The PromQL of every alert rule.
fn alert_queries() -> Vec<String> {
    alert_rules()
        .iter()
        .map(|rule| {
            rule["expr"]
                .as_str()
                .expect("each rule has an expr")
                .to_owned()
        })
        .collect()
}

/// The metric names `query` selects. Grafana's `label_values(selector, label)` counts by its
/// selector; string literals, label matchers, ranges, grouping clauses, functions, keywords
/// and numbers are not names.
fn metric_names(query: &str) -> BTreeSet<String> {
    let label_values = Regex::new(r"^\s*label_values\((.*),\s*[a-zA-Z_][a-zA-Z0-9_]*\s*\)\s*$")
        .expect("a valid pattern");
    let query = match label_values.captures(query) {
        Some(selector) => selector[1].to_owned(),
        None => query.to_owned(),
    };
    let not_names = [
        r#""(?:[^"\\]|\\.)*""#,
        r"\{[^}]*\}",
        r"\[[^\]]*\]",
        r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)",
    ];
    let stripped = not_names.iter().fold(query, |query, pattern| {
        let pattern = Regex::new(pattern).expect("a valid pattern");
        pattern.replace_all(&query, " ").into_owned()
    });
    let keywords = [
        "and",
        "or",
        "unless",
        "bool",
        "offset",
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "inf",
        "nan",
    ];
    let token = Regex::new(
        r"(?i)0x[0-9a-f]+|[0-9]+(?:\.[0-9]+)?(?:e[+-]?[0-9]+)?|([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?",
    )
    .expect("a valid pattern");
    token
        .captures_iter(&stripped)
        .filter(|token| token.get(2).is_none())
        .filter_map(|token| token.get(1).map(|name| name.as_str().to_owned()))
        .filter(|name| !keywords.contains(&name.to_ascii_lowercase().as_str()))
        .collect()
}

/// The names `queries` select that neither `exported` nor Prometheus itself has.
fn missing(queries: &[String], exported: &BTreeSet<String>) -> BTreeSet<String> {
    queries
        .iter()
        .flat_map(|query| metric_names(query))
        .filter(|name| !exported.contains(name) && !PROMETHEUS_OWN.contains(&name.as_str()))
        .collect()
}

/// The names of the samples in a Prometheus text scrape (a histogram's `_bucket`, `_sum` and
/// `_count` each).
fn sample_names(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| line.split(['{', ' ']).next())
        .map(str::to_owned)
        .collect()
}

/// The value of the sample named `name` whose labels include `labels` (as they are written);
/// 0 when there is none.
fn value(text: &str, name: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|line| line.starts_with(&format!("{name}{{")))
        .filter(|line| labels.iter().all(|label| line.contains(label)))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Mounts the gateway's answers: sendMessage refused for [`REFUSED_CHAT`] (the phone is not
/// linked), accepted for any other chat; one contact.
async fn gateway() -> MockServer {
    let gateway = MockServer::start().await;
    let at = |method: &str| format!("/waInstance{INSTANCE}/{method}/{API_TOKEN}");
    Mock::given(method("POST"))
        .and(path(at("sendMessage")))
        .and(body_partial_json(json!({"chatId": REFUSED_CHAT})))
        .respond_with(
            ResponseTemplate::new(400)
                .set_body_json(json!({"message": "Instance account not authorized"})),
        )
        .with_priority(1)
        .mount(&gateway)
        .await;
    Mock::given(method("POST"))
        .and(path(at("sendMessage")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"idMessage": "BAE5"})))
        .mount(&gateway)
        .await;
    let contacts = json!([{"id": "79001234568@c.us", "name": "Alice", "contactName": "Alice Liddell", "type": "user"}]);
    Mock::given(method("GET"))
        .and(path(at("getContacts")))
        .respond_with(ResponseTemplate::new(200).set_body_json(contacts))
        .mount(&gateway)
        .await;
    gateway
}

/// `find <name>`: looks the name up and answers with the count; `fail`: fails; anything
/// else: echoed.
async fn handle(cx: Context) -> Result<(), BoxError> {
    let text = cx.text().unwrap_or_default();
    if let Some(name) = text.strip_prefix("find ") {
        let found = cx.contacts().find(name).await?;
        cx.reply(format!("{} found", found.len())).await?;
    } else if text == "fail" {
        return Err("asked to fail".into());
    } else {
        cx.reply(text).await?;
    }
    Ok(())
}

/// A bot serving [`INSTANCE`] through `gateway`, as an instances file would set it up.
async fn bot(gateway: &MockServer) -> Server {
    let settings = ClientSettings::new()
        .retry(RetryPolicy::none())
        .rate_limits(RateLimits::unlimited());
    let client = GreenApi::whatsapp(gateway.uri(), INSTANCE, API_TOKEN)
        .settings(settings)
        .build()
        .unwrap();
    let instance = Instance::builder(Arc::new(client))
        .webhook_token(WEBHOOK_TOKEN)
        .build();
    let instances = Instances::new([instance]).unwrap();
    let router = Router::new().route(filter::incoming(), handle);
    Server::start(Bot::builder(router).instances(instances).build().unwrap()).await
}

/// An `incomingMessageReceived` text of `chat`.
fn incoming(id: &str, chat: &str, text: &str) -> Value {
    json!({
        "typeWebhook": "incomingMessageReceived",
        "instanceData": {"idInstance": INSTANCE.parse::<u64>().unwrap(), "wid": "79990000000@c.us", "typeInstance": "whatsapp"},
        "timestamp": 1588091580,
        "idMessage": id,
        "senderData": {"chatId": chat, "sender": chat, "chatName": "Tester", "senderName": "Tester"},
        "messageData": {"typeMessage": "textMessage", "textMessageData": {"textMessage": text}}
    })
}

/// Posts every kind of traffic an operator's panels show, and scrapes `/metrics` once all of
/// it was handled.
async fn scrape_after_traffic(server: &Server) -> String {
    let state = json!({
        "typeWebhook": "stateInstanceChanged",
        "instanceData": {"idInstance": INSTANCE.parse::<u64>().unwrap(), "wid": "", "typeInstance": "whatsapp"},
        "timestamp": 1586700690,
        "stateInstance": "authorized"
    });
    let notifications = [
        incoming("O1", CHAT, "hello"),
        incoming("O1", CHAT, "hello"),
        incoming("O2", CHAT, "fail"),
        incoming("O3", CHAT, "find alice"),
        incoming("O4", CHAT, "find liddell"),
        incoming("O5", REFUSED_CHAT, "hello"),
        state,
    ];
    for notification in &notifications {
        let status = server
            .post("/webhook", body(notification), Some(WEBHOOK_TOKEN))
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    let client = reqwest::Client::new();
    let of = format!("instance_id=\"{INSTANCE}\"");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let text = client
            .get(format!("{}/metrics", server.url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let done = value(&text, "hookbot_events_handled_total", &[&of])
            + value(&text, "hookbot_events_failed_total", &[&of]);
        if done == 6.0 {
            return text;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out; the last scrape:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn every_metric_the_dashboard_and_the_alerts_query_is_exported() {
    let gateway = gateway().await;
    let server = bot(&gateway).await;
    let text = scrape_after_traffic(&server).await;
    let exported = sample_names(&text);

    let dashboard = dashboard_queries(&dashboard());
    let alerts = alert_queries();
    let queried: BTreeSet<String> = dashboard
        .iter()
        .chain(&alerts)
        .flat_map(|query| metric_names(query))
        .collect();
    assert!(
        queried.len() >= 12,
        "too few names found in the queries: {queried:?}"
    );
    let not_exported = missing(&dashboard, &exported);
    assert!(
        not_exported.is_empty(),
        "the dashboard queries {not_exported:?}, which GET /metrics does not export:\n{text}"
    );
    let not_exported = missing(&alerts, &exported);
    assert!(
        not_exported.is_empty(),
        "the alert rules query {not_exported:?}, which GET /metrics does not export:\n{text}"
    );

    // The traffic reached every outcome the panels and alerts show, for this instance.
    let of = format!("instance_id=\"{INSTANCE}\"");
    let counted = |name, labels: &[&str]| value(&text, name, &[&[of.as_str()], labels].concat());
    assert_eq!(counted("hookbot_events_duplicate_total", &[]), 1.0);
    assert_eq!(counted("hookbot_events_failed_total", &[]), 2.0);
    let not_authorized = ["reason=\"not_authorized\""];
    assert_eq!(
        counted("hookbot_gateway_refusals_total", &not_authorized),
        1.0
    );
    assert_eq!(counted("hookbot_instance_connected", &[]), 1.0);
    assert_eq!(
        counted("hookbot_contact_cache_hits_total", &["cache=\"contacts\""]),
        1.0
    );
    assert_eq!(
        counted(
            "hookbot_contact_cache_misses_total",
            &["cache=\"contacts\""]
        ),
        1.0
    );
}

#[test]
fn a_query_of_a_metric_that_is_not_exported_is_caught() {
    let exported: BTreeSet<String> = ["hookbot_events_received_total", "hookbot_queue_depth"]
        .map(str::to_owned)
        .into();
    let queries = [
        r#"sum by (instance_id) (rate(hookbot_events_received_total{instance_id=~"$instance"}[$__rate_interval]))"#,
        r#"sum(rate(hookbot_events_recieved_total{instance_id=~"$instance"}[5m])) / 2"#,
        r#"hookbot_queue_depth > 100 and deriv(hookbot_queue_depth[15m]) > 0 or up{job="hookbot"} == 0"#,
        r#"label_values({__name__=~"hookbot_.+"}, instance_id)"#,
        r#"label_values(hookbot_handler_duration_seconds_bucket, instance_id)"#,
    ]
    .map(str::to_owned);
    let expected: BTreeSet<String> = [
        "hookbot_events_recieved_total",
        "hookbot_handler_duration_seconds_bucket",
    ]
    .map(str::to_owned)
    .into();
    assert_eq!(missing(&queries, &exported), expected);
}

#[test]
fn metric_names_are_read_from_promql_without_functions_labels_or_numbers() {
    let query = r#"histogram_quantile(0.95, sum by (le, instance_id) (rate(hookbot_handler_duration_seconds_bucket{instance_id=~"$instance", kind!="a b"}[$__rate_interval]))) > 1e3 unless on (instance_id) hookbot_instance_connected == bool 0"#;
    let names: Vec<String> = metric_names(query).into_iter().collect();
    assert_eq!(
        names,
        [
            "hookbot_handler_duration_seconds_bucket",
            "hookbot_instance_connected"
        ]
    );
}

#[test]
fn the_dashboard_chooses_its_prometheus_and_filters_every_query_by_instance() {
    let dashboard = dashboard();
    let variables = variables(&dashboard);
    let named = |name: &str| {
        variables
            .iter()
            .find(|variable| variable["name"] == name)
            .unwrap_or_else(|| panic!("no {name} variable"))
    };
    let datasource = named("datasource");
    assert_eq!(
        (&datasource["type"], &datasource["query"]),
        (&json!("datasource"), &json!("prometheus"))
    );
    let instance = named("instance");
    assert_eq!(instance["type"], "query");
    assert_eq!(instance["multi"], true);
    assert!(variable_query(instance).contains("instance_id"));
    assert_eq!(dashboard["uid"], "hookbot");
    assert!(dashboard["schemaVersion"].as_u64().unwrap() >= 36);

    let selector = Regex::new(r"(hookbot_[a-z0-9_]+)(\{[^}]*\})?").unwrap();
    let mut titles = BTreeSet::new();
    for panel in panels(&dashboard) {
        if panel["type"] == "row" {
            continue;
        }
        let title = panel["title"].as_str().expect("every panel has a title");
        assert!(titles.insert(title), "two panels are titled {title:?}");
        assert_eq!(
            panel["datasource"]["uid"], "${datasource}",
            "{title}: not on the chosen Prometheus"
        );
        let targets = panel["targets"].as_array().expect("a panel has targets");
        assert!(!targets.is_empty(), "{title}: no query");
        for target in targets {
            assert_eq!(target["datasource"]["uid"], "${datasource}", "{title}");
            let expr = target["expr"].as_str().unwrap();
            for selected in selector.captures_iter(expr) {
                let matchers = selected.get(2).map_or("", |matchers| matchers.as_str());
                assert!(
                    matchers.contains(r#"instance_id=~"$instance""#),
                    "{title}: {} is not filtered by the instance variable in {expr}",
                    &selected[1]
                );
            }
        }
    }
    for shown in [
        "Events by kind and outcome",
        "Handler latency",
        "Queue depth",
        "Gateway calls by method and status",
        "Contact cache hit rate",
        "Instance connected",
    ] {
        assert!(titles.contains(shown), "no panel {shown:?}");
    }
}

#[test]
fn every_alert_tells_the_operator_what_to_do() {
    let rules = alert_rules();
    let mut names = BTreeSet::new();
    for rule in &rules {
        let name = rule["alert"].as_str().expect("every rule is an alert");
        assert!(names.insert(name), "two alerts are named {name}");
        let severity = rule["labels"]["severity"].as_str();
        assert!(
            matches!(severity, Some("critical" | "warning")),
            "{name}: severity {severity:?}"
        );
        for annotation in ["summary", "description"] {
            let text = rule["annotations"][annotation].as_str().unwrap_or_default();
            assert!(text.len() > 20, "{name}: no {annotation}");
        }
    }
    for needed in [
        "HookbotInstanceNotAuthorized",
        "HookbotGatewayRefusesCredentials",
        "HookbotQueueGrowing",
        "HookbotHandlerErrors",
        "HookbotGatewayFailing",
    ] {
        assert!(names.contains(needed), "no alert {needed}");
    }
}
