//! The ready bots, tested with the test kit: each runs on its own sandbox, over real HTTP.

mod common;

use std::time::Duration;

use hookbot::bots::auto_reply::{self, AutoReply};
use hookbot::bots::{contact_card, echo};
use hookbot::sandbox::{ChatEntry, EntryContent, Platform, SharedCard, UserMessage};
use hookbot::testing::TestBot;
use serde_json::json;

const VASILISA: &str = "79001234567@c.us";
const IVAN: &str = "79001234568@c.us";
const NAMELESS: &str = "79001234571@c.us";
const GROUP: &str = "120363043968066561@g.us";
/// Someone not in the contact list.
const STRANGER: &str = "79005550000@c.us";

fn card(entry: &ChatEntry) -> &SharedCard {
    match &entry.content {
        EntryContent::Contact(card) => card,
        other => panic!("expected a contact card, got {other:?}"),
    }
}

#[tokio::test]
async fn contact_card_bot_finds_a_cyrillic_name_in_any_case_and_quotes_the_request() {
    let mut bot = TestBot::start(contact_card::router()).await;
    for request in [
        "contact василиса",
        "КОНТАКТ Василиса",
        "/contact ВАСИЛИСА премудрая",
        "contato vasilisa-does-not-match",
    ] {
        let asked = bot.send(STRANGER, request).await;
        let reply = bot.reply(STRANGER).await;
        assert_eq!(reply.quoted.as_ref(), Some(&asked), "{request}");
        if request.contains("does-not-match") {
            assert_eq!(
                common::text(&reply),
                "Nenhum contato encontrado para “vasilisa-does-not-match”."
            );
            continue;
        }
        let card = card(&reply);
        assert_eq!(
            card.first_name.as_deref(),
            Some("Василиса Премудрая"),
            "{request}"
        );
        assert_eq!(card.phone_contact, Some(79001234567), "{request}");
    }
}

#[tokio::test]
async fn contact_card_bot_finds_a_cyrillic_name_from_a_latin_query() {
    let mut bot = TestBot::start(contact_card::router()).await;
    for (request, name, phone) in [
        ("contact vasilisa", "Василиса Премудрая", 79001234567),
        (
            "contact Vasilissa Premudraya",
            "Василиса Премудрая",
            79001234567,
        ),
        ("/contact ivan tsarevich", "Иван Царевич", 79001234568),
        ("контакт Ivan Tsarevich", "Иван Царевич", 79001234568),
    ] {
        let asked = bot.send(STRANGER, request).await;
        let reply = bot.reply(STRANGER).await;
        assert_eq!(reply.quoted.as_ref(), Some(&asked), "{request}");
        let card = card(&reply);
        assert_eq!(card.first_name.as_deref(), Some(name), "{request}");
        assert_eq!(card.phone_contact, Some(phone), "{request}");
    }
}

#[tokio::test]
async fn contact_card_bot_answers_no_match_with_a_quoted_text_in_the_commands_language() {
    let mut bot = TestBot::start(contact_card::router()).await;
    let asked = bot.send(STRANGER, "contact nobody such").await;
    let reply = bot.reply(STRANGER).await;
    assert_eq!(common::text(&reply), "No contact matches “nobody such”.");
    assert_eq!(reply.quoted, Some(asked));
    bot.send(STRANGER, "контакт никто").await;
    assert_eq!(
        common::text(&bot.reply(STRANGER).await),
        "Контакт «никто» не найден."
    );
}

#[tokio::test]
async fn contact_card_bot_shares_a_contact_with_an_empty_name_by_its_phone() {
    let mut bot = TestBot::start(contact_card::router()).await;
    bot.send(STRANGER, "contact +7 900 123-45-71").await;
    let card = card(&bot.reply(STRANGER).await).clone();
    assert_eq!(card.phone_contact, Some(79001234571));
    assert_eq!(
        card.first_name.as_deref(),
        Some("79001234571"),
        "named by its phone"
    );
    let _ = NAMELESS;
}

#[tokio::test]
async fn contact_card_bot_falls_back_to_the_profile_name() {
    let mut bot = TestBot::start(contact_card::router()).await;
    bot.send(STRANGER, "contact лягушка").await;
    assert_eq!(
        card(&bot.reply(STRANGER).await).first_name.as_deref(),
        Some("Царевна Лягушка")
    );
}

#[tokio::test]
async fn contact_card_bot_answers_help_and_start_with_the_usage() {
    let mut bot = TestBot::start(contact_card::router()).await;
    for request in ["help", "/start", "HELP"] {
        bot.send(STRANGER, request).await;
        assert_eq!(
            common::text(&bot.reply(STRANGER).await),
            contact_card::USAGE,
            "{request}"
        );
    }
    bot.send(STRANGER, "contact").await;
    assert_eq!(
        common::text(&bot.reply(STRANGER).await),
        "Whose contact? Send: contact <name>"
    );
    bot.send(STRANGER, "hello there").await;
    bot.expect_no_reply(STRANGER, Duration::from_millis(300))
        .await;
}

#[tokio::test]
async fn contact_card_bot_answers_in_a_group_quoting_the_member() {
    let mut bot = TestBot::start(contact_card::router()).await;
    let asked = bot
        .send_message(UserMessage::text(IVAN, "contact alice").in_group(GROUP))
        .await;
    let reply = bot.reply(GROUP).await;
    assert_eq!(reply.quoted, Some(asked));
    assert_eq!(card(&reply).first_name.as_deref(), Some("Alice Johnson"));
}

#[tokio::test]
async fn auto_reply_bot_greets_the_first_message_by_name_with_the_quoted_card_then_waits_out_the_cooldown()
 {
    let state = AutoReply::new(
        auto_reply::share_card("79001234570", Some("Bob Smith")),
        Duration::from_millis(800),
    );
    let mut bot = TestBot::start_with_state(state.router(), state).await;
    let first = bot.send(VASILISA, "Здравствуйте!").await;
    let [greeting, shared] = <[ChatEntry; 2]>::try_from(bot.replies(VASILISA, 2).await).unwrap();
    assert_eq!(greeting.quoted.as_ref(), Some(&first));
    assert_eq!(
        shared.quoted,
        Some(first),
        "the card quotes the message too"
    );
    assert!(
        common::text(&greeting).contains("Василиса Премудрая"),
        "{}",
        common::text(&greeting)
    );
    assert_eq!(card(&shared).phone_contact, Some(79001234570));
    assert_eq!(card(&shared).first_name.as_deref(), Some("Bob Smith"));

    bot.send(VASILISA, "are you there?").await;
    bot.expect_no_reply(VASILISA, Duration::from_millis(300))
        .await;

    tokio::time::sleep(Duration::from_millis(900)).await;
    let again = bot.send(VASILISA, "back again").await;
    assert_eq!(
        bot.reply(VASILISA).await.quoted,
        Some(again),
        "greeted again after the cooldown"
    );
}

#[tokio::test]
async fn auto_reply_bot_greets_a_stranger_by_the_notifications_name_and_leaves_groups_alone() {
    let state = AutoReply::new(
        auto_reply::share_card("79001234570", Some("Bob Smith")),
        Duration::from_secs(3600),
    );
    let mut bot = TestBot::start_with_state(state.router(), state).await;
    bot.send_message(UserMessage::text(IVAN, "hi all").in_group(GROUP))
        .await;
    bot.expect_no_reply(GROUP, Duration::from_millis(300)).await;
    bot.send(STRANGER, "hello").await;
    let greeting = bot.reply(STRANGER).await;
    assert!(
        common::text(&greeting).starts_with("Hello, "),
        "{}",
        common::text(&greeting)
    );
}

/// GREEN-API's notification of a message the instance sent (`outgoingMessageReceived`: the
/// owner, from the phone; `outgoingAPIMessageReceived`: through the API) in `chat`.
fn sent_by_the_instance(type_webhook: &str, chat: &str, id: &str, text: &str) -> serde_json::Value {
    json!({
        "typeWebhook": type_webhook,
        "instanceData": {"idInstance": 1101000001, "wid": "79990000000@c.us", "typeInstance": "whatsapp"},
        "timestamp": 1700000000, "idMessage": id,
        "senderData": {"chatId": chat, "chatName": "", "sender": "79990000000@c.us", "senderName": "Shop"},
        "messageData": {"typeMessage": "textMessage", "textMessageData": {"textMessage": text}}
    })
}

#[tokio::test]
async fn auto_reply_bot_leaves_a_chat_alone_after_the_owner_writes_from_the_phone() {
    let state = AutoReply::new(
        auto_reply::share_card("79001234570", Some("Bob Smith")),
        Duration::from_secs(3600),
    );
    let mut bot = TestBot::start_with_state(state.router(), state).await;
    // The sandbox delivers a chat's notifications in turn, and the bot handles them in order:
    // the owner's message is handled before the customer's.
    bot.deliver(sent_by_the_instance(
        "outgoingMessageReceived",
        VASILISA,
        "OWNER1",
        "Здравствуйте, Василиса! Сейчас посмотрю.",
    ))
    .await;
    bot.send(VASILISA, "Спасибо!").await;
    bot.expect_no_reply(VASILISA, Duration::from_millis(300))
        .await;

    let first = bot.send(IVAN, "Добрый день").await;
    let [greeting, shared] = <[ChatEntry; 2]>::try_from(bot.replies(IVAN, 2).await).unwrap();
    assert!(common::text(&greeting).starts_with("Hello, "));
    assert_eq!(greeting.quoted.as_ref(), Some(&first));
    assert_eq!(
        shared.quoted,
        Some(first),
        "another chat: the usual greeting"
    );
}

#[tokio::test]
async fn auto_reply_bot_is_not_paused_by_its_own_api_messages_and_resumes_after_the_cooldown() {
    let state = AutoReply::new(
        auto_reply::share_card("79001234570", Some("Bob Smith")),
        Duration::from_millis(800),
    );
    let mut bot = TestBot::start_with_state(state.router(), state).await;
    bot.deliver(sent_by_the_instance(
        "outgoingAPIMessageReceived",
        STRANGER,
        "API1",
        "Our hours: 9 to 18",
    ))
    .await;
    let asked = bot.send(STRANGER, "hello").await;
    assert_eq!(bot.replies(STRANGER, 2).await[1].quoted, Some(asked));

    bot.deliver(sent_by_the_instance(
        "outgoingMessageReceived",
        VASILISA,
        "OWNER2",
        "I'll call you",
    ))
    .await;
    bot.send(VASILISA, "ok").await;
    bot.expect_no_reply(VASILISA, Duration::from_millis(300))
        .await;
    tokio::time::sleep(Duration::from_millis(900)).await;
    let again = bot.send(VASILISA, "still there?").await;
    assert_eq!(
        bot.reply(VASILISA).await.quoted,
        Some(again),
        "greeted once the owner's pause is over"
    );
}

#[tokio::test]
async fn echo_bot_answers_a_text_with_the_same_text() {
    let mut bot = TestBot::start(echo::router()).await;
    bot.send(IVAN, "Привет, мир!").await;
    assert_eq!(common::text(&bot.reply(IVAN).await), "Привет, мир!");
}

// ---- on a Telegram sandbox ----

const TG_VASILISA: &str = "10000000";
const TG_IVAN: &str = "10000001";
const TG_BOT: &str = "20000000";
const TG_SUPERGROUP: &str = "-1001234567890";

async fn telegram_bot(router: hookbot::Router) -> TestBot {
    TestBot::builder()
        .platform(Platform::Telegram)
        .start(router, ())
        .await
}

#[tokio::test]
async fn contact_card_bot_on_telegram_finds_a_username_and_answers_in_the_supergroup() {
    let mut bot = telegram_bot(contact_card::router()).await;
    let asked = bot.send(TG_VASILISA, "contact @ivan_tsarevich").await;
    let reply = bot.reply(TG_VASILISA).await;
    assert_eq!(reply.quoted, Some(asked));
    assert_eq!(card(&reply).phone_contact, Some(79001234568));
    assert_eq!(card(&reply).first_name.as_deref(), Some("Иван Царевич"));

    let asked = bot
        .send_message(UserMessage::text(TG_IVAN, "contact alice_j").in_group(TG_SUPERGROUP))
        .await;
    let reply = bot.reply(TG_SUPERGROUP).await;
    assert_eq!(reply.quoted, Some(asked));
    assert_eq!(card(&reply).first_name.as_deref(), Some("Alice Johnson"));
}

#[tokio::test]
async fn contact_card_bot_on_telegram_names_a_contact_hiding_their_phone_in_a_quoted_text() {
    let mut bot = telegram_bot(contact_card::router()).await;
    let asked = bot.send(TG_IVAN, "contact лягушка").await;
    let reply = bot.reply(TG_IVAN).await;
    assert_eq!(reply.quoted, Some(asked));
    assert_eq!(
        common::text(&reply),
        "Царевна Лягушка (@tsarevna_lyagushka) hides their phone number, so their card cannot be shared."
    );
}

#[tokio::test]
async fn ready_bots_on_telegram_leave_a_bots_message_alone_and_answer_the_next_person() {
    // The sandbox delivers a chat's notifications one at a time, the next only once the bot
    // acknowledged the one before, and the bot handles a chat's messages in order: had the
    // bot's message been answered, that answer would come first.
    let bot_asks = UserMessage::text(TG_BOT, "contact alice").in_group(TG_SUPERGROUP);
    let person_asks = UserMessage::text(TG_IVAN, "contact bob").in_group(TG_SUPERGROUP);

    let mut bot = telegram_bot(contact_card::router()).await;
    bot.send_message(bot_asks.clone()).await;
    let asked = bot.send_message(person_asks.clone()).await;
    let reply = bot.reply(TG_SUPERGROUP).await;
    assert_eq!(reply.quoted, Some(asked));
    assert_eq!(card(&reply).first_name.as_deref(), Some("Bob Smith"));

    let mut bot = telegram_bot(echo::router()).await;
    bot.send_message(bot_asks).await;
    bot.send_message(person_asks).await;
    assert_eq!(common::text(&bot.reply(TG_SUPERGROUP).await), "contact bob");
}

#[tokio::test]
async fn contact_card_bot_on_telegram_answers_through_the_notification_queue_too() {
    let mut bot = TestBot::builder()
        .platform(Platform::Telegram)
        .polling()
        .start(contact_card::router(), ())
        .await;
    let asked = bot.send(TG_VASILISA, "/contact bobsmith").await;
    let reply = bot.reply(TG_VASILISA).await;
    assert_eq!(reply.quoted, Some(asked));
    assert_eq!(card(&reply).phone_contact, Some(79001234570));
}

// ---- the test kit ----

async fn typing_then_reading_then_text(cx: hookbot::Context) -> hookbot::Result<()> {
    cx.typing(Duration::from_secs(1), None).await?;
    cx.mark_read().await?;
    cx.reply("typed, read, then said").await?;
    Ok(())
}

#[tokio::test]
async fn a_reply_is_the_bots_next_message_past_its_typing_and_read_marks() {
    let router =
        hookbot::Router::new().route(hookbot::filter::incoming(), typing_then_reading_then_text);
    let mut bot = TestBot::start(router).await;
    bot.send(VASILISA, "hello").await;
    let reply = bot.reply(VASILISA).await;
    assert_eq!(
        reply.content,
        EntryContent::Text("typed, read, then said".to_owned())
    );
    let journal = bot.sandbox().history(&hookbot::ChatId::new(VASILISA));
    assert!(
        journal
            .iter()
            .any(|entry| matches!(entry.content, EntryContent::Typing(_))),
        "the typing indicator reached the sandbox"
    );
}
