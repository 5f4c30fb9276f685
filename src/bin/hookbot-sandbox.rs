//! `hookbot-sandbox`: the sandbox gateway alone, for bots in any language — GREEN-API's own
//! Python, Go, Java and JS libraries included.
//!
//! | variable | meaning |
//! |---|---|
//! | `HOOKBOT_INSTANCE` | the `idInstance` to answer to (default `1101000001`) |
//! | `HOOKBOT_TOKEN` | the `apiTokenInstance` to accept (default `sandbox-token`) |
//! | `HOOKBOT_LISTEN` | address to bind (default `127.0.0.1:8080`) |
//! | `HOOKBOT_SANDBOX_WEBHOOK` | where to POST notifications; unset: they wait for receiveNotification |
//! | `HOOKBOT_WEBHOOK_TOKEN` | the bearer token of those POSTs |
//! | `HOOKBOT_SANDBOX_PLATFORM` | `whatsapp` (default), `max` or `telegram` |
//! | `HOOKBOT_SANDBOX_REMOTE_WEBHOOK` | `yes`: setSettings may point the webhook at another machine (default: this one only) |

use std::net::SocketAddr;

use hookbot::Secret;
use hookbot::sandbox::{DEFAULT_TOKEN, Platform, Sandbox, UnknownPlatform};
use hookbot::shutdown_signal;
use tracing_subscriber::EnvFilter;

#[global_allocator]
static ALLOCATOR: hookbot::bots::Allocator = hookbot::bots::ALLOCATOR;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();

    let instance = variable("HOOKBOT_INSTANCE");
    let token = variable("HOOKBOT_TOKEN");
    let listen: SocketAddr = match variable("HOOKBOT_LISTEN") {
        Some(listen) => listen.parse().map_err(|error| {
            format!("HOOKBOT_LISTEN must be an address like 127.0.0.1:8080: {error}")
        })?,
        None => hookbot::bot::DEFAULT_LISTEN,
    };
    let platform = match variable("HOOKBOT_SANDBOX_PLATFORM") {
        None => Platform::WhatsApp,
        Some(name) => name.parse().map_err(|unknown: UnknownPlatform| {
            format!("HOOKBOT_SANDBOX_PLATFORM {unknown}, is {name:?}")
        })?,
    };
    let webhook = variable("HOOKBOT_SANDBOX_WEBHOOK");
    let webhook_token = variable("HOOKBOT_WEBHOOK_TOKEN").map(Secret::new);

    let remote_webhook = match variable("HOOKBOT_SANDBOX_REMOTE_WEBHOOK").as_deref() {
        None | Some("no") => false,
        Some("yes") => true,
        Some(other) => {
            return Err(
                format!("HOOKBOT_SANDBOX_REMOTE_WEBHOOK must be yes or no, is {other:?}").into(),
            );
        }
    };
    let mut builder = Sandbox::builder()
        .platform(platform)
        .remote_webhook(remote_webhook);
    if let Some(instance) = &instance {
        builder = builder.instance(instance.as_str());
    }
    if let Some(token) = &token {
        builder = builder.token(token.as_str());
    }
    if let Some(url) = &webhook {
        builder = builder.webhook(url.as_str(), webhook_token);
    }
    let sandbox = builder.build();

    let listener = tokio::net::TcpListener::bind(listen).await?;
    let address = listener.local_addr()?;
    let path = match platform {
        Platform::Max => "/v3/waInstance{idInstance}/{method}/{apiTokenInstance}",
        _ => "/waInstance{idInstance}/{method}/{apiTokenInstance}",
    };
    let paths = format!("{}: {path}", platform.messenger());
    println!("hookbot sandbox on http://{address}");
    println!("  web chat:         http://{address}/");
    println!("  apiUrl:           http://{address}   ({paths})");
    println!(
        "  idInstance:       {}{}",
        sandbox.instance(),
        if instance.is_none() {
            "   (default; set HOOKBOT_INSTANCE)"
        } else {
            ""
        }
    );
    match token {
        None => println!("  apiTokenInstance: {DEFAULT_TOKEN}   (default; set HOOKBOT_TOKEN)"),
        Some(_) => println!("  apiTokenInstance: the value of HOOKBOT_TOKEN"),
    }
    match &webhook {
        Some(url) => println!("  notifications:    POSTed to {url}"),
        None => println!(
            "  notifications:    queued for receiveNotification (set HOOKBOT_SANDBOX_WEBHOOK to POST them)"
        ),
    }

    let settings = hookbot::server::ServerSettings::default();
    hookbot::server::serve(listener, sandbox.router(), settings, shutdown_signal()).await?;
    println!("hookbot sandbox stopped");
    Ok(())
}

/// A variable's value; unset and empty are the same.
fn variable(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .filter(|value| !value.trim().is_empty())
}
