//! `cargo run --bin auto-reply-bot`: greets the first private message of a chat by name and
//! shares a contact card (see `hookbot::bots::auto_reply`; `HOOKBOT_SHARE_CONTACT`,
//! `HOOKBOT_SHARE_NAME`, `HOOKBOT_COOLDOWN`). With no gateway configured it runs on the local
//! sandbox and prints the web chat's URL.

use hookbot::Bot;
use hookbot::bots::auto_reply::{self, AutoReply};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    hookbot::bots::init_logging();
    Bot::from_env(auto_reply::router())?
        .state(AutoReply::from_env()?)
        .run()
        .await?;
    Ok(())
}
