//! Client settings from configuration, against a mock GREEN-API over real HTTP: the time-out
//! and retry budget of `HOOKBOT_TIMEOUT` / `HOOKBOT_RETRIES` and of an instances file's entries
//! reach the clients (the mock sees as many attempts as configured), and wrong values are
//! refused naming the variable or the entry and the rule.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::{INSTANCE, TOKEN, fast_settings, requests};
use hookbot::config::Config;
use hookbot::gateway::{ClientConfig, Gateway, GatewayKind};
use hookbot::instance::{InstanceConfig, Instances};
use hookbot::{Error, Result};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The configuration of these variables, with a GREEN-API instance at `uri`.
fn config(uri: &str, vars: &[(&str, &str)]) -> Result<Config> {
    let mut all: HashMap<&str, &str> = HashMap::from([
        ("HOOKBOT_GATEWAY", "green-api"),
        ("HOOKBOT_API_URL", uri),
        ("HOOKBOT_INSTANCE", INSTANCE),
        ("HOOKBOT_TOKEN", TOKEN),
    ]);
    all.extend(vars.iter().copied());
    Config::from_vars(|name| all.get(name).map(|value| (*value).to_owned()))
}

/// The client of `config`: the test kit's fast retries and no rate limits, under what the
/// configuration sets.
fn client(config: &Config) -> std::sync::Arc<dyn Gateway> {
    config
        .gateway
        .connect_with(config.client.apply(fast_settings()))
        .expect("a valid client")
        .expect("not the sandbox")
}

/// A mock gateway that answers every request with `template`.
async fn gateway(template: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(template)
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn hookbot_retries_sets_how_often_a_failed_call_is_tried_again() {
    for (retries, attempts) in [("0", 1), ("1", 2), ("4", 5)] {
        let server = gateway(ResponseTemplate::new(500)).await;
        let config = config(&server.uri(), &[("HOOKBOT_RETRIES", retries)]).unwrap();
        let error = client(&config).contacts().await.unwrap_err();
        assert!(
            matches!(error, Error::Gateway { status: 500, .. }),
            "{error}"
        );
        assert_eq!(
            requests(&server).await.len(),
            attempts,
            "HOOKBOT_RETRIES={retries}"
        );
    }
}

#[tokio::test]
async fn hookbot_timeout_sets_the_time_out_of_one_attempt() {
    let slow = ResponseTemplate::new(200)
        .set_body_json(serde_json::json!([]))
        .set_delay(Duration::from_secs(5));
    let server = gateway(slow).await;
    let config = config(
        &server.uri(),
        &[("HOOKBOT_TIMEOUT", "200ms"), ("HOOKBOT_RETRIES", "0")],
    )
    .unwrap();
    assert_eq!(config.client.timeout, Some(Duration::from_millis(200)));
    let error = client(&config).contacts().await.unwrap_err();
    assert!(matches!(error, Error::Timeout), "{error}");
    assert_eq!(requests(&server).await.len(), 1);
}

#[tokio::test]
async fn an_instances_entry_sets_its_own_client_over_the_environment() {
    let server = gateway(ResponseTemplate::new(503)).await;
    let uri = server.uri();
    let file = format!(
        r#"
        [[instance]]
        name = "own"
        gateway = "green-api"
        url = "{uri}"
        id = "1101000001"
        token = "{TOKEN}"
        retries = 0
        lookup_rate = "0"

        [[instance]]
        name = "environment's"
        gateway = "green-api"
        url = "{uri}"
        id = "1101000002"
        token = "{TOKEN}"
        "#
    );
    let entries = InstanceConfig::from_toml(&file).unwrap();
    assert_eq!(entries[0].client.retries, Some(0));
    assert_eq!(entries[0].client.lookups_per_second, Some(0));
    assert_eq!(entries[1].client, ClientConfig::default());
    let environment = config(&uri, &[("HOOKBOT_RETRIES", "2")]).unwrap().client;
    let instances = Instances::connect(&entries, &environment.apply(fast_settings())).unwrap();

    for (id, attempts) in [("1101000001", 1), ("1101000002", 3)] {
        let instance = instances.get(GatewayKind::GreenApiWhatsApp, id).unwrap();
        let before = requests(&server).await.len();
        instance.gateway().contacts().await.unwrap_err();
        assert_eq!(requests(&server).await.len() - before, attempts, "{id}");
    }
}

#[test]
fn wrong_values_are_refused_naming_the_variable_and_the_rule() {
    for (variable, value, rule) in [
        (
            "HOOKBOT_TIMEOUT",
            "0",
            "must be a time-out from 1 ms to 10 minutes",
        ),
        (
            "HOOKBOT_TIMEOUT",
            "1h",
            "must be a time-out from 1 ms to 10 minutes",
        ),
        (
            "HOOKBOT_RETRIES",
            "11",
            "must be a whole number of retries from 0 to 10",
        ),
        (
            "HOOKBOT_RETRIES",
            "-1",
            "must be a whole number of retries from 0 to 10",
        ),
        (
            "HOOKBOT_SEND_RATE",
            "fast",
            "must be a whole number of requests per second",
        ),
        (
            "HOOKBOT_LOOKUP_RATE",
            "0.5",
            "must be a whole number of requests per second",
        ),
        (
            "HOOKBOT_NOTIFICATION_RATE",
            "20000",
            "up to 10000, 0 for no limit",
        ),
    ] {
        let error = config("http://127.0.0.1:9", &[(variable, value)]).unwrap_err();
        let Error::Config {
            variable: named,
            reason,
        } = &error
        else {
            panic!("not a configuration error: {error}");
        };
        assert_eq!(*named, variable);
        assert!(reason.contains(rule), "{variable}={value}: {reason}");
        assert!(reason.contains(&format!("{value:?}")), "{reason}");
    }
}

#[test]
fn wrong_entries_are_refused_naming_the_entry_the_field_and_the_rule_not_the_value() {
    let entry = |setting: &str| {
        format!(
            "[[instance]]\nname = \"sales\"\ngateway = \"green-api\"\nid = \"1\"\ntoken = \"{TOKEN}\"\n{setting}\n"
        )
    };
    for (setting, reason) in [
        (
            "timeout = \"secret-forever\"",
            "instance 1 (\"sales\"): `timeout` must be a time-out from 1 ms to 10 minutes",
        ),
        (
            "retries = 99",
            "instance 1 (\"sales\"): `retries` must be a whole number of retries from 0 to 10",
        ),
        (
            "send_rate = true",
            "instance 1 (\"sales\"): `send_rate` must be a number or text",
        ),
        (
            "lookup_rate = 1.5",
            "instance 1 (\"sales\"): `lookup_rate` must be a whole number of requests per second",
        ),
    ] {
        let error = InstanceConfig::from_toml(&entry(setting)).unwrap_err();
        let Error::Config {
            variable,
            reason: said,
        } = &error
        else {
            panic!("not a configuration error: {error}");
        };
        assert_eq!(*variable, "HOOKBOT_INSTANCES");
        assert!(said.starts_with(reason), "{setting}: {said}");
        assert!(!said.contains("secret"), "{said}");
    }
}
