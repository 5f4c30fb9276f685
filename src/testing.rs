//! The test kit: a bot on a sandbox, on free local ports, inside a test. Send as a person, await
//! the bot's replies, assert on them. Tests run in parallel without sharing anything.
//!
//! ```no_run
//! use hookbot::sandbox::EntryContent;
//! use hookbot::testing::TestBot;
//!
//! # async fn run() {
//! let mut bot = TestBot::start(hookbot::bots::contact_card::router()).await;
//! let asked = bot.send("79001234568@c.us", "contact василиса").await;
//! let reply = bot.reply("79001234568@c.us").await;
//! assert_eq!(reply.quoted, Some(asked));
//! let EntryContent::Contact(card) = &reply.content else { panic!("not a card: {reply:?}") };
//! assert_eq!(card.first_name.as_deref(), Some("Василиса Премудрая"));
//! # }
//! ```
//!
//! The bot runs exactly as in production — its webhook, dispatcher, router and GREEN-API client
//! over real HTTP — against the [`Sandbox`], with the client's rate limits off so that tests are
//! quick. [`TestBotBuilder::polling`] makes it poll the sandbox's queue instead of serving its
//! webhook.

use std::collections::VecDeque;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{broadcast, oneshot};
use tokio::task::JoinHandle;

use crate::bot::{Bot, BotBuilder};
use crate::contact::Contact;
use crate::conversation::ConversationState;
use crate::dispatch::DrainReport;
use crate::error::Result;
use crate::gateway::{ClientSettings, RateLimits, RetryPolicy};
use crate::id::{ChatId, MessageId};
use crate::intake::{Intake, PollingSettings};
use crate::router::Router;
use crate::sandbox::{
    Author, ChatEntry, EntryContent, Platform, Sandbox, SandboxBuilder, UserMessage,
};

/// How long [`TestBot::reply`] waits by default.
pub const DEFAULT_REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// A bot under test, on its own sandbox.
pub struct TestBot {
    sandbox: Sandbox,
    url: String,
    entries: broadcast::Receiver<ChatEntry>,
    unread: VecDeque<ChatEntry>,
    timeout: Duration,
    stop: Option<oneshot::Sender<()>>,
    serving: JoinHandle<Result<DrainReport>>,
}

/// Sets up a [`TestBot`]'s sandbox; finish with [`start`](TestBotBuilder::start).
#[must_use]
pub struct TestBotBuilder {
    sandbox: SandboxBuilder,
    platform: Platform,
    timeout: Duration,
    intake: Intake,
}

/// The builder of a bot under test, as [`TestBotBuilder::start_configured`] hands it over:
/// its state given, its sandbox attached.
pub type Configured<S, D> = BotBuilder<S, D, S>;

impl TestBot {
    /// A bot without state, on a sandbox with the seeded contacts.
    pub async fn start<D: ConversationState>(router: Router<(), D>) -> TestBot {
        TestBot::builder().start(router, ()).await
    }

    /// A bot with `state`, on a sandbox with the seeded contacts.
    pub async fn start_with_state<S: Send + Sync + 'static, D: ConversationState>(
        router: Router<S, D>,
        state: S,
    ) -> TestBot {
        TestBot::builder().start(router, state).await
    }

    /// Other contacts, another platform, another reply time-out.
    pub fn builder() -> TestBotBuilder {
        TestBotBuilder {
            sandbox: Sandbox::builder().retry_delay(Duration::from_millis(50)),
            platform: Platform::WhatsApp,
            timeout: DEFAULT_REPLY_TIMEOUT,
            intake: Intake::webhook(),
        }
    }

    /// The sandbox the bot talks to.
    pub fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }

    /// The base URL of the bot and its sandbox (`http://127.0.0.1:<port>`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Sends `text` as the person `from` in their private chat with the bot; returns its id.
    ///
    /// # Panics
    ///
    /// When the sandbox refuses the message (a malformed chat id, an empty text).
    pub async fn send(&self, from: impl Into<ChatId>, text: impl Into<String>) -> MessageId {
        self.send_message(UserMessage::text(from, text)).await
    }

    /// Sends a message as a person (in a group, quoting another message, ...); returns its id.
    ///
    /// # Panics
    ///
    /// When the sandbox refuses the message.
    pub async fn send_message(&self, message: UserMessage) -> MessageId {
        match self.sandbox.send(message).await {
            Ok(id) => id,
            Err(error) => panic!("the sandbox refused the message: {error}"),
        }
    }

    /// Delivers any raw notification to the bot, as the gateway would.
    pub async fn deliver(&self, notification: Value) {
        self.sandbox.deliver(notification).await;
    }

    /// The bot's next message in `chat`.
    ///
    /// # Panics
    ///
    /// When none comes within the time-out; the message shows the chat so far.
    pub async fn reply(&mut self, chat: impl Into<ChatId>) -> ChatEntry {
        let chat = chat.into();
        match self.next_from_bot(&chat, self.timeout).await {
            Some(entry) => entry,
            None => panic!(
                "no reply in {chat} within {:?}; the chat so far: {:#?}",
                self.timeout,
                self.sandbox.history(&chat)
            ),
        }
    }

    /// The bot's next `count` messages in `chat`.
    ///
    /// # Panics
    ///
    /// When they do not all come within the time-out.
    pub async fn replies(&mut self, chat: impl Into<ChatId>, count: usize) -> Vec<ChatEntry> {
        let chat = chat.into();
        let mut replies = Vec::with_capacity(count);
        for _ in 0..count {
            replies.push(self.reply(chat.clone()).await);
        }
        replies
    }

    /// Waits `within` and checks that the bot wrote nothing in `chat`.
    ///
    /// # Panics
    ///
    /// When the bot wrote something.
    pub async fn expect_no_reply(&mut self, chat: impl Into<ChatId>, within: Duration) {
        let chat = chat.into();
        if let Some(entry) = self.next_from_bot(&chat, within).await {
            panic!("expected no reply in {chat}, got {entry:#?}");
        }
    }

    /// Stops the bot: intake stops, accepted events are handled; says what was left.
    pub async fn stop(mut self) -> DrainReport {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match (&mut self.serving).await {
            Ok(Ok(report)) => report,
            Ok(Err(error)) => panic!("the bot's server failed: {error}"),
            Err(error) => panic!("the bot's server panicked: {error}"),
        }
    }

    /// The next message by the bot in `chat` within `within`, keeping other chats' messages.
    /// Typing indicators and read marks are no messages: they are passed over.
    async fn next_from_bot(&mut self, chat: &ChatId, within: Duration) -> Option<ChatEntry> {
        let is_wanted =
            |entry: &ChatEntry| &entry.chat == chat && matches!(entry.author, Author::Bot);
        if let Some(at) = self.unread.iter().position(is_wanted) {
            return self.unread.remove(at);
        }
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let entry = match tokio::time::timeout_at(deadline, self.entries.recv()).await {
                Err(_elapsed) => return None,
                Ok(Ok(entry)) => entry,
                Ok(Err(broadcast::error::RecvError::Lagged(missed))) => {
                    panic!("the test fell {missed} sandbox entries behind")
                }
                Ok(Err(broadcast::error::RecvError::Closed)) => return None,
            };
            if matches!(
                entry.content,
                EntryContent::Typing(_) | EntryContent::Read { .. }
            ) {
                continue;
            }
            if is_wanted(&entry) {
                return Some(entry);
            }
            if matches!(entry.author, Author::Bot) {
                self.unread.push_back(entry);
            }
        }
    }
}

impl Drop for TestBot {
    fn drop(&mut self) {
        self.serving.abort();
    }
}

impl TestBotBuilder {
    /// The sandbox's contact list, instead of the seeded one.
    pub fn contacts(mut self, contacts: Vec<Contact>) -> Self {
        self.sandbox = self.sandbox.contacts(contacts);
        self
    }

    /// A sandbox of another messenger and a client of it, instead of WhatsApp:
    /// [`Platform::Max`] (v3 paths, MAX rules) or [`Platform::Telegram`] (Telegram's ids,
    /// seeded usernames, a bot and a supergroup).
    pub fn platform(mut self, platform: Platform) -> Self {
        self.platform = platform;
        self.sandbox = self.sandbox.platform(platform);
        self
    }

    /// The sandbox's instance id (digits), instead of the default one: to tell this bot's
    /// series apart on `GET /metrics`, which every bot of the test process shares.
    pub fn instance(mut self, instance: impl Into<String>) -> Self {
        self.sandbox = self.sandbox.instance(instance);
        self
    }

    /// How long [`TestBot::reply`] waits (default 10 s).
    pub fn reply_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The bot polls the sandbox's notification queue (receiveNotification and
    /// deleteNotification, long polls of 5 s, backoff from 10 ms) instead of serving its
    /// webhook; the sandbox keeps its notifications queued.
    pub fn polling(self) -> Self {
        self.polling_with(
            PollingSettings::new()
                .receive_timeout(Duration::from_secs(5))
                .backoff(Duration::from_millis(10), Duration::from_millis(200)),
        )
    }

    /// Like [`polling`](TestBotBuilder::polling), with these settings.
    pub fn polling_with(mut self, settings: PollingSettings) -> Self {
        self.intake = Intake::Polling(settings);
        self
    }

    /// Starts the sandbox and the bot on one free local port.
    ///
    /// # Panics
    ///
    /// When no local port can be bound.
    pub async fn start<S: Send + Sync + 'static, D: ConversationState>(
        self,
        router: Router<S, D>,
        state: S,
    ) -> TestBot {
        self.start_configured(router, state, |bot| bot).await
    }

    /// Like [`start`](TestBotBuilder::start), with the bot's builder passed through
    /// `configure` first: for conversations, an error hook, bounds.
    ///
    /// # Panics
    ///
    /// When no local port can be bound.
    pub async fn start_configured<S: Send + Sync + 'static, D: ConversationState>(
        self,
        router: Router<S, D>,
        state: S,
        configure: impl FnOnce(Configured<S, D>) -> Configured<S, D>,
    ) -> TestBot {
        let client = ClientSettings::new()
            .rate_limits(RateLimits::unlimited())
            .retry(RetryPolicy::new().initial_delay(Duration::from_millis(10)));
        let bot = Bot::builder(router)
            .state(state)
            .sandbox(self.sandbox.client(client))
            .listen(([127, 0, 0, 1], 0).into())
            .intake(self.intake);
        let bot = configure(bot)
            .build()
            .expect("a free local port for the test bot");
        let url = format!(
            "http://{}",
            bot.local_addr()
                .expect("a bot on a sandbox is bound when built")
        );
        let sandbox = bot.sandbox().expect("a test bot runs on a sandbox").clone();
        let entries = sandbox.subscribe();
        let (stop, stopped) = oneshot::channel::<()>();
        let serving = tokio::spawn(bot.run_until(async move {
            let _ = stopped.await;
        }));
        TestBot {
            sandbox,
            url,
            entries,
            unread: VecDeque::new(),
            timeout: self.timeout,
            stop: Some(stop),
            serving,
        }
    }
}
