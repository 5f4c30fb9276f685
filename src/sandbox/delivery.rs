//! The instance's notification queue, and its delivery as GREEN-API does it.
//!
//! With a webhook URL, one task POSTs the notifications in order, one at a time; on any answer
//! other than 200 (or no answer) it waits the retry delay and POSTs the same notification again,
//! and the later ones wait behind it. Without a webhook URL, the queue waits for
//! receiveNotification, which answers its head until deleteNotification removes it.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use serde_json::Value;
use tokio::sync::watch;
use tokio::time::Instant;

use super::state::lock;
use crate::secret::Secret;

/// How long one webhook POST may take (GREEN-API waits up to 180 s; a local bot answers fast).
const POST_TIMEOUT: Duration = Duration::from_secs(60);

/// Where notifications are POSTed.
#[derive(Debug, Clone)]
pub(crate) struct WebhookTarget {
    pub(crate) url: String,
    pub(crate) token: Option<Secret>,
}

/// A notification waiting in the queue, with its `receiptId`.
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    pub(crate) receipt: u64,
    pub(crate) body: Arc<Value>,
}

/// The queue and where it goes. Its delivery task starts with the first notification.
pub(crate) struct Outbox {
    inner: Arc<Inner>,
}

struct Inner {
    queue: Mutex<Queue>,
    /// Bumped on every change of the queue or the webhook, to wake the waiters.
    changed: watch::Sender<u64>,
    retry_delay: Duration,
    http: reqwest::Client,
    worker_started: AtomicBool,
}

struct Queue {
    next_receipt: u64,
    pending: VecDeque<Pending>,
    webhook: Option<WebhookTarget>,
}

impl Outbox {
    pub(crate) fn new(webhook: Option<WebhookTarget>, retry_delay: Duration) -> Self {
        let http = reqwest::Client::builder()
            .timeout(POST_TIMEOUT)
            .build()
            .unwrap_or_default();
        let inner = Inner {
            queue: Mutex::new(Queue {
                next_receipt: 1,
                pending: VecDeque::new(),
                webhook,
            }),
            changed: watch::Sender::new(0),
            retry_delay,
            http,
            worker_started: AtomicBool::new(false),
        };
        Self {
            inner: Arc::new(inner),
        }
    }

    /// Queues a notification behind the others.
    pub(crate) fn push(&self, body: Value) {
        {
            let mut queue = lock(&self.inner.queue);
            let receipt = queue.next_receipt;
            queue.next_receipt += 1;
            queue.pending.push_back(Pending {
                receipt,
                body: Arc::new(body),
            });
        }
        self.inner.bump();
        self.start_worker();
    }

    /// Sends notifications to `webhook` from now on; `None`: keeps them for receiveNotification.
    pub(crate) fn set_webhook(&self, webhook: Option<WebhookTarget>) {
        lock(&self.inner.queue).webhook = webhook;
        self.inner.bump();
        self.start_worker();
    }

    /// The webhook notifications go to.
    pub(crate) fn webhook(&self) -> Option<WebhookTarget> {
        lock(&self.inner.queue).webhook.clone()
    }

    /// receiveNotification: the head of the queue (it stays there until deleted), waiting up
    /// to `timeout` for one; `None` when none came, or while a webhook takes the notifications.
    pub(crate) async fn receive(&self, timeout: Duration) -> Option<Pending> {
        let mut changed = self.inner.changed.subscribe();
        let deadline = Instant::now() + timeout;
        loop {
            changed.borrow_and_update();
            if let Some(head) = self.inner.head_for_polling() {
                return Some(head);
            }
            match tokio::time::timeout_at(deadline, changed.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => return None,
            }
        }
    }

    /// How many notifications wait: for the webhook, or for receiveNotification.
    pub(crate) fn len(&self) -> usize {
        lock(&self.inner.queue).pending.len()
    }

    /// deleteNotification: removes the notification `receipt`; whether it was there.
    pub(crate) fn delete(&self, receipt: u64) -> bool {
        let removed = self.inner.remove(receipt);
        if removed {
            self.inner.bump();
        }
        removed
    }

    /// Spawns the delivery task once, when a tokio runtime is at hand (else the next call
    /// tries again).
    fn start_worker(&self) {
        if self.inner.worker_started.swap(true, Ordering::AcqRel) {
            return;
        }
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                let changed = self.inner.changed.subscribe();
                runtime.spawn(deliver(Arc::downgrade(&self.inner), changed));
            }
            Err(_) => self.inner.worker_started.store(false, Ordering::Release),
        }
    }
}

impl Inner {
    fn bump(&self) {
        self.changed
            .send_modify(|version| *version = version.wrapping_add(1));
    }

    fn head_for_polling(&self) -> Option<Pending> {
        let queue = lock(&self.queue);
        match queue.webhook {
            Some(_) => None,
            None => queue.pending.front().cloned(),
        }
    }

    fn next_delivery(&self) -> Option<(WebhookTarget, Pending)> {
        let queue = lock(&self.queue);
        Some((queue.webhook.clone()?, queue.pending.front()?.clone()))
    }

    fn remove(&self, receipt: u64) -> bool {
        let mut queue = lock(&self.queue);
        let before = queue.pending.len();
        queue.pending.retain(|pending| pending.receipt != receipt);
        queue.pending.len() != before
    }

    /// POSTs one notification; whether the webhook answered 200.
    async fn post(&self, target: &WebhookTarget, body: &Value) -> bool {
        let mut request = self
            .http
            .post(&target.url)
            .header(CONTENT_TYPE, "application/json")
            .json(body);
        if let Some(token) = &target.token {
            request = request.header(AUTHORIZATION, format!("Bearer {}", token.expose()));
        }
        match request.send().await {
            Ok(answer) if answer.status() == StatusCode::OK => true,
            Ok(answer) => {
                tracing::debug!(status = %answer.status(), "webhook refused a notification; it will be sent again");
                false
            }
            Err(error) => {
                tracing::debug!(error = %error.without_url(), "webhook unreachable; the notification will be sent again");
                false
            }
        }
    }
}

/// The delivery task: the head of the queue to the webhook until it answers 200, then the
/// next. It ends when the sandbox is dropped.
async fn deliver(outbox: Weak<Inner>, mut changed: watch::Receiver<u64>) {
    loop {
        changed.borrow_and_update();
        let Some(inner) = outbox.upgrade() else {
            return;
        };
        let Some((target, pending)) = inner.next_delivery() else {
            drop(inner);
            if changed.changed().await.is_err() {
                return;
            }
            continue;
        };
        if inner.post(&target, &pending.body).await {
            inner.remove(pending.receipt);
        } else {
            let delay = inner.retry_delay;
            drop(inner);
            tokio::time::sleep(delay).await;
        }
    }
}
