//! What a bot sets at its gateway instance on start: where the instance posts its
//! notifications ([`WebhookTarget`], [`Gateway::point_webhook`](super::Gateway::point_webhook)).

use url::Url;

use crate::secret::Secret;

/// Where an instance should post its notifications: the bot's webhook URL
/// (`https://bot.example.org/hooks/webhook`) and the token its calls must carry. Each gateway
/// presents the token its own way: GREEN-API as `webhookUrlToken` (a bearer token), Z-API as
/// the URL's last segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookTarget {
    url: Url,
    token: Option<Secret>,
}

impl WebhookTarget {
    /// The webhook at `url`, whose calls carry `token` when there is one.
    pub fn new(url: Url, token: Option<Secret>) -> Self {
        Self { url, token }
    }

    /// The bot's webhook URL, without the token.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The token the gateway's calls must carry.
    pub(crate) fn token(&self) -> Option<&Secret> {
        self.token.as_ref()
    }

    /// The URL with the token as its last path segment, when there is one (Z-API's form).
    pub(crate) fn url_with_token(&self) -> Url {
        let mut url = self.url.clone();
        if let Some(token) = &self.token {
            url.path_segments_mut()
                .expect("a webhook URL is an http(s) URL, which has a path")
                .pop_if_empty()
                .push(token.expose());
        }
        url
    }
}

/// What [`Gateway::point_webhook`](super::Gateway::point_webhook) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WebhookChange {
    /// The instance posted to the bot already, with the notifications the bot needs on:
    /// nothing was written.
    AlreadySet,
    /// The settings were written; a gateway may take a while to apply them (GREEN-API: up to
    /// 5 minutes).
    Written,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_becomes_the_last_segment() {
        let url = Url::parse("https://bot.example.org/hooks/webhook").unwrap();
        let target = WebhookTarget::new(url.clone(), Some(Secret::new("s3cr3t")));
        assert_eq!(
            target.url_with_token().as_str(),
            "https://bot.example.org/hooks/webhook/s3cr3t"
        );
        assert_eq!(target.url(), &url);
        let bare = WebhookTarget::new(url, None);
        assert_eq!(
            bare.url_with_token().as_str(),
            "https://bot.example.org/hooks/webhook"
        );
        assert!(!format!("{target:?}").contains("s3cr3t"));
    }
}
