//! Two numbers in one bot: each message is answered by the instance it came to, through that
//! instance's own client.
//!
//! ```sh
//! cargo run --example instances
//! ```
//!
//! With no instances file, two local sandboxes play the two instances ("sales" and "support"),
//! each posting to the bot's one `POST /webhook` with its own token; the console prints their
//! web chats. With real instances, list them in a file and name it:
//!
//! ```sh
//! HOOKBOT_INSTANCES=instances.toml cargo run --example instances
//! ```
//!
//! ```toml
//! [[instance]]
//! name = "sales"
//! gateway = "green-api"
//! url = "https://7105.api.greenapi.com"
//! id = "1101000001"
//! token = "..."
//! webhook_token = "..."
//!
//! [[instance]]
//! name = "support"
//! gateway = "zapi"
//! id = "3C4A1B2C3D4E5F6A7B8C9D0E1F2A3B4C"
//! token = "..."
//! webhook_token = "..."   # Z-API posts to https://<your host>/webhook/<webhook_token>
//! ```

use std::sync::Arc;

use hookbot::gateway::GreenApi;
use hookbot::instance::{Instance, Instances};
use hookbot::prelude::*;
use hookbot::sandbox::Sandbox;

/// Answers in the name of the instance the message came to.
async fn answer(cx: Context) -> hookbot::Result<()> {
    let Some(text) = cx.text() else {
        return Ok(());
    };
    let reply = format!("This is {}. You wrote: {text}", cx.instance().label());
    cx.reply(reply).quote().await?;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter("info,hookbot=debug")
        .init();
    let router = Router::new().route(filter::incoming() & filter::content("text"), answer);
    if std::env::var_os("HOOKBOT_INSTANCES").is_some() {
        Bot::from_env(router)?.run().await?;
        return Ok(());
    }

    let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
    let webhook_url = format!("http://{}/webhook", listener.local_addr()?);
    let mut instances = Vec::new();
    for (name, id) in [("sales", "1101000001"), ("support", "1101000002")] {
        let token = format!("{name}-webhook-secret");
        let sandbox = Sandbox::builder()
            .instance(id)
            .webhook(webhook_url.clone(), Some(token.clone().into()))
            .build();
        let sandbox_url = serve_sandbox(&sandbox).await?;
        println!("{name}: open {sandbox_url}/ to write to instance {id}");
        let gateway = GreenApi::whatsapp(&sandbox_url, id, sandbox.token().clone()).build()?;
        instances.push(
            Instance::builder(Arc::new(gateway))
                .name(name)
                .webhook_token(token)
                .build(),
        );
    }

    let bot = Bot::builder(router)
        .instances(Instances::new(instances)?)
        .build()?;
    bot.serve(listener, hookbot::shutdown_signal()).await?;
    Ok(())
}

/// Serves `sandbox`'s emulator and web chat on a free local port; returns its base URL.
async fn serve_sandbox(sandbox: &Sandbox) -> std::io::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let (router, settings) = (sandbox.router(), hookbot::server::ServerSettings::new());
    tokio::spawn(hookbot::server::serve(
        listener,
        router,
        settings,
        std::future::pending(),
    ));
    Ok(url)
}
