//! `cargo run --bin echo-bot`: answers each message with the same kind of message — text, file,
//! location, contact card, poll (see `hookbot::bots::echo`).
//! With no gateway configured it runs on the local sandbox and prints the web chat's URL.

use hookbot::Bot;
use hookbot::bots::echo;

#[global_allocator]
static ALLOCATOR: hookbot::bots::Allocator = hookbot::bots::ALLOCATOR;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    hookbot::bots::init_logging();
    Bot::from_env(echo::router())?.run().await?;
    Ok(())
}
