//! Files and locations: `menu` answers with a PDF by URL, `where` with the shop's location,
//! and a received picture or document is answered with its file name, MIME type and download
//! URL (GREEN-API's downloadFile when the notification carried none).
//!
//! ```sh
//! cargo run --example media   # no gateway configured: the local sandbox
//! ```

use hookbot::event::Media;
use hookbot::prelude::*;
use hookbot::reply::{File, Location};

async fn menu(cx: Context) -> hookbot::Result<()> {
    let pdf = File::new("https://example.com/menu.pdf", "menu.pdf").caption("Today's menu");
    cx.reply_file(pdf).quote().await?;
    Ok(())
}

async fn location(cx: Context) -> hookbot::Result<()> {
    let shop = Location::new(55.7539, 37.6208)
        .name("The shop")
        .address("Red Square, 1");
    cx.reply_location(shop).await?;
    Ok(())
}

async fn received_file(cx: Context) -> hookbot::Result<()> {
    let Some(media) = cx.message().and_then(|message| message.media()).cloned() else {
        return Ok(());
    };
    let url = cx.download_url().await?.unwrap_or_default();
    cx.reply(describe(&media, &url)).quote().await?;
    Ok(())
}

fn describe(media: &Media, url: &str) -> String {
    format!(
        "Got a {} named {:?} ({}): {url}",
        media.kind.name(),
        media.file_name.as_deref().unwrap_or("-"),
        media.mime_type.as_deref().unwrap_or("unknown type"),
    )
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_env_filter("info").init();
    let router = Router::new()
        .route(filter::command("menu"), menu)
        .route(filter::command("where"), location)
        .route(
            filter::incoming() & (filter::content("image") | filter::content("document")),
            received_file,
        );
    Bot::from_env(router)?.run().await?;
    Ok(())
}
