//! A bot for several replicas: accepted notifications wait in a durable queue in Redis that all
//! replicas share, each chat's messages are answered in order by one replica at a time, and a
//! replica that stops or dies leaves its work to the others. Answers every text with the same
//! text, naming the replica that answered.
//!
//! ```sh
//! # two replicas of one GREEN-API bot behind one load balancer (or both polling)
//! export HOOKBOT_GATEWAY=green-api HOOKBOT_API_URL=https://7105.api.greenapi.com \
//!     HOOKBOT_INSTANCE=1101000001 HOOKBOT_TOKEN=... HOOKBOT_WEBHOOK_TOKEN=...
//! HOOKBOT_REDIS_URL=redis://127.0.0.1:6379 HOOKBOT_LISTEN=0.0.0.0:8081 cargo run --example replicas
//! HOOKBOT_REDIS_URL=redis://127.0.0.1:6379 HOOKBOT_LISTEN=0.0.0.0:8082 cargo run --example replicas
//! ```
//!
//! The queue is chosen in code here, to set its partitions and lease and to name the replica;
//! a bot binary needs only `HOOKBOT_REDIS_URL` (`Bot::from_env` reads it, with the defaults).

use std::time::Duration;

use hookbot::prelude::*;
use hookbot::redis::{Redis, RedisQueue};

async fn echo(cx: Context) -> hookbot::Result<()> {
    if let Some(text) = cx.text() {
        let replica = std::env::var("HOOKBOT_LISTEN").unwrap_or_default();
        cx.reply(format!("{text} (from {replica})")).quote().await?;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter("info,hookbot=debug")
        .init();
    let url =
        std::env::var("HOOKBOT_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let queue = RedisQueue::new(Redis::open(url)?.namespace("replicas-example"))
        .partitions(16)
        .lease(Duration::from_secs(10));
    let router = Router::new().route(filter::incoming() & filter::content("text"), echo);
    let report = Bot::from_env(router)?.store(queue).run().await?;
    tracing::info!(unfinished = report.unfinished, "stopped");
    Ok(())
}
