//! `cargo run --bin contact-card-bot`: the contact directory bot (see
//! `hookbot::bots::contact_card`). With no gateway configured it runs on the local sandbox and
//! prints the web chat's URL.

use hookbot::Bot;
use hookbot::bots::contact_card;

#[global_allocator]
static ALLOCATOR: hookbot::bots::Allocator = hookbot::bots::ALLOCATOR;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    hookbot::bots::init_logging();
    Bot::from_env(contact_card::router())?.run().await?;
    Ok(())
}
