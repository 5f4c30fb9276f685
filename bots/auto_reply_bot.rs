//! `cargo run --bin auto-reply-bot`: greets the first private message of a chat by name and
//! shares a contact card, and leaves a chat alone while the owner answers from the phone (see
//! `hookbot::bots::auto_reply`; `HOOKBOT_SHARE_CONTACT`, `HOOKBOT_SHARE_NAME`,
//! `HOOKBOT_COOLDOWN`). With no gateway configured it runs on the local sandbox and prints the
//! web chat's URL.

use hookbot::Bot;
use hookbot::bots::auto_reply::AutoReply;

#[global_allocator]
static ALLOCATOR: hookbot::bots::Allocator = hookbot::bots::ALLOCATOR;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    hookbot::bots::init_logging();
    let auto_reply = AutoReply::from_env()?;
    Bot::from_env(auto_reply.router())?
        .state(auto_reply)
        .run()
        .await?;
    Ok(())
}
