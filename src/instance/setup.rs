//! On start, a webhook bot with a public URL (`HOOKBOT_PUBLIC_URL`, or an instance's
//! `public_url`) points each such instance's notifications at itself and says plainly when the
//! instance cannot work yet (not linked to a phone, blocked, starting). It never stops the bot
//! from starting: a failure is a warning that says what to do by hand.

use url::Url;

use super::{Instance, Instances};
use crate::gateway::{WebhookChange, WebhookTarget};

/// The rule a public URL keeps, for configuration errors.
pub(crate) const PUBLIC_URL_RULE: &str = "must be the bot's public base URL, http(s)://host[:port][/path], without user, query or fragment";

/// A public base URL as configuration gives it (`https://bot.example.org/hooks`); `None` when
/// it breaks [`PUBLIC_URL_RULE`].
pub(crate) fn parse_public_url(text: &str) -> Option<Url> {
    let url = Url::parse(text.trim()).ok()?;
    let plain = matches!(url.scheme(), "http" | "https")
        && url.host().is_some()
        && url.username().is_empty()
        && url.password().is_none()
        && url.query().is_none()
        && url.fragment().is_none();
    plain.then_some(url)
}

/// The bot's webhook under the public base URL: `<public url>/webhook`.
fn webhook_url(public: &Url) -> Url {
    let mut url = public.clone();
    url.path_segments_mut()
        .expect("a public URL is an http(s) URL, which has a path")
        .pop_if_empty()
        .push("webhook");
    url
}

/// Points every instance that has a public URL at the bot, and checks its state.
pub(crate) async fn point_at_bot(instances: Instances) {
    for instance in instances.iter() {
        if let Some(public) = instance.public_url() {
            point_instance(instance, public).await;
        }
    }
}

/// Points `instance` at the webhook under `public`, then reads its state.
async fn point_instance(instance: &Instance, public: &Url) {
    let gateway = instance.gateway();
    let webhook = webhook_url(public);
    let target = WebhookTarget::new(webhook.clone(), instance.webhook_token().cloned());
    // The URL logged is the one without the token (Z-API's carries it as its last segment).
    let label = instance.label();
    match gateway.point_webhook(&target).await {
        Ok(WebhookChange::AlreadySet) => {
            tracing::info!(instance = label, %webhook, "the instance already posts its notifications to this bot");
        }
        Ok(WebhookChange::Written) if instance.kind().is_green_api() => {
            tracing::info!(instance = label, %webhook, "pointed the instance's notifications at this bot; GREEN-API can take up to 5 minutes to apply the change");
        }
        Ok(WebhookChange::Written) => {
            tracing::info!(instance = label, %webhook, "pointed the instance's notifications at this bot");
        }
        Err(error) => {
            tracing::warn!(instance = label, %webhook, %error, "could not point the instance's notifications at this bot: set its webhook in the gateway's console");
        }
    }
    match gateway.instance_state().await {
        Ok(state) => match state.advice() {
            Some(advice) => {
                tracing::warn!(instance = label, state = %state.state, "the instance cannot send or receive yet: {advice}");
            }
            None => tracing::info!(instance = label, state = %state.state, "instance state"),
        },
        Err(error) => {
            tracing::warn!(instance = label, %error, "could not read the instance's state");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_urls_are_plain_http_base_urls() {
        for good in [
            "https://bot.example.org",
            "https://bot.example.org/hooks/",
            "http://10.0.0.5:8080/bot",
        ] {
            assert!(parse_public_url(good).is_some(), "{good}");
        }
        for bad in [
            "bot.example.org",
            "ftp://bot.example.org",
            "https://user:pw@bot.example.org",
            "https://bot.example.org/?token=x",
            "https://bot.example.org/#x",
            "",
        ] {
            assert!(parse_public_url(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn the_webhook_is_under_the_public_url() {
        for (public, webhook) in [
            ("https://bot.example.org", "https://bot.example.org/webhook"),
            (
                "https://bot.example.org/hooks",
                "https://bot.example.org/hooks/webhook",
            ),
            (
                "https://bot.example.org/hooks/",
                "https://bot.example.org/hooks/webhook",
            ),
        ] {
            let public = parse_public_url(public).unwrap();
            assert_eq!(webhook_url(&public).as_str(), webhook);
        }
    }
}
