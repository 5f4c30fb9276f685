//! The durable backlog: claims and accepted events in the embedded [`DurableStore`]. An event
//! is answered `Queued` only once its claim and entry are kept (written to the store's journal,
//! or committed by its writer thread); it is then handled by the dispatcher, and its entry
//! deleted once its handler finished. At start, what was accepted and not finished before (a
//! crash, a drain's deadline) is handled first, in accept order.
//!
//! The append is written to the journal at once, or handed to the store's writer before
//! anything awaits its commit; from then on the writer keeps it whether or not the request
//! waits, and a request dropped meanwhile (the gateway hung up) leaves the queueing to a task
//! of its own, so that the intake can await [`keep`](Backlog::keep) in place.
//!
//! Delivery is at least once: a process that dies between a handler's effect (a reply) and
//! the commit of its entry's deletion handles the event again at its next start.

use std::time::Duration;

use async_trait::async_trait;

use super::{Accepted, Backlog, Refused};
use crate::dedupe::DedupeKey;
use crate::dispatch::{Dispatcher, Done, DrainReport, EventIdentity, Rejected};
use crate::durable::{Appended, Committing, DurableStore, Seq};
use crate::event::Event;
use crate::metrics::EventSeries;

/// Unfinished entries read at once when recovering.
const RECOVERY_PAGE: usize = 1000;
/// The wait before a recovered event is offered again to a full dispatcher.
const RECOVERY_IDLE: Duration = Duration::from_millis(10);

/// Keeps each event in a [`DurableStore`] and hands it to a [`Dispatcher`].
pub(crate) struct DurableBacklog {
    store: DurableStore,
    dispatcher: Dispatcher,
}

impl DurableBacklog {
    /// Keeps in `store`, handles with `dispatcher`.
    pub(crate) fn new(store: DurableStore, dispatcher: Dispatcher) -> Self {
        Self { store, dispatcher }
    }

    /// Hands every entry left unfinished by the last run to the dispatcher, in accept order,
    /// waiting for room when it is full. Stops early, leaving the rest kept, if the
    /// dispatcher shuts down.
    async fn recover(&self) -> crate::Result<usize> {
        let mut after = None;
        let mut recovered = 0;
        loop {
            let page = self.store.unfinished(after, RECOVERY_PAGE).await?;
            let Some(last) = page.last() else {
                return Ok(recovered);
            };
            after = Some(last.seq);
            for entry in page {
                if !self.resubmit(entry.seq, entry.event).await {
                    return Ok(recovered);
                }
                recovered += 1;
            }
        }
    }

    /// Submits a recovered `event`, waiting while the dispatcher is full; `false` once it shuts
    /// down.
    async fn resubmit(&self, seq: Seq, event: Event) -> bool {
        loop {
            match self
                .dispatcher
                .submit(event.clone(), Some(done(&self.store, seq)))
            {
                Ok(()) => return true,
                Err(Rejected::Full | Rejected::ChatFull) => {
                    tokio::time::sleep(RECOVERY_IDLE).await;
                }
                Err(Rejected::ShuttingDown) => return false,
            }
        }
    }
}

#[async_trait]
impl Backlog for DurableBacklog {
    /// Claims `event` and keeps it in the store (its journal, or the writer's next commit),
    /// then queues it. A full dispatcher refuses before anything is written; one that refuses
    /// after the commit (it filled up meanwhile, or is shutting down) has the entry and claim
    /// withdrawn, so that the gateway's next delivery is accepted. Dropped once the append is handed over, it
    /// finishes in a task of its own.
    async fn keep(&self, event: Event) -> Result<Accepted, Refused> {
        if self.dispatcher.is_closed() {
            return Err(Rejected::ShuttingDown.into());
        }
        if self.dispatcher.room() == 0 {
            return Err(Rejected::Full.into());
        }
        let committing = match self.store.hand_over(&event).await {
            Ok(committing) => committing,
            Err(error) => {
                tracing::error!(%error, "the durable store could not keep a notification");
                return Err(Refused::Unavailable("durable store"));
            }
        };
        Handed(Some(Parts {
            store: self.store.clone(),
            dispatcher: self.dispatcher.clone(),
            committing,
            event,
        }))
        .settle()
        .await
    }

    /// Replays what was accepted and not finished before, in accept order (so each chat's in
    /// its order), before the intake serves.
    async fn start(&self) -> crate::Result<()> {
        let recovered = self.recover().await?;
        if recovered > 0 {
            tracing::info!(
                recovered,
                store = %self.store.directory().display(),
                "handling the notifications accepted and not handled before the restart"
            );
        }
        Ok(())
    }

    fn finishes_dropped_keeps(&self) -> bool {
        true
    }

    fn is_closed(&self) -> bool {
        self.dispatcher.is_closed()
    }

    /// Drains the dispatcher within its deadline, then commits the deletions of what was
    /// handled; what was not handled stays for the next start.
    async fn shutdown(&self) -> DrainReport {
        let report = self.dispatcher.shutdown().await;
        if let Err(error) = self.store.flush().await {
            tracing::warn!(%error, "the store could not commit the last handled notifications; they are handled again at the next start");
        }
        report
    }
}

/// What the dispatcher calls once the handler of entry `seq` finished: deletes the entry.
fn done(store: &DurableStore, seq: Seq) -> Done {
    let store = store.clone();
    Box::new(move || store.finish(seq))
}

/// An append handed to the store's writer, with what queues its event once it is committed.
/// Dropped before that (the request was dropped), it leaves the rest to a task of its own,
/// which also counts the event on `GET /metrics` as the request would have: the
/// writer commits the append regardless, and a committed entry must reach the dispatcher (or
/// be withdrawn), or its claim would turn the gateway's redeliveries away while the event
/// waits for the next start.
struct Handed(Option<Parts>);

/// What [`Handed`] holds until its append is answered.
struct Parts {
    store: DurableStore,
    dispatcher: Dispatcher,
    committing: Committing,
    event: Event,
}

impl Handed {
    /// Waits for the commit, then queues the event.
    async fn settle(mut self) -> Result<Accepted, Refused> {
        let Some(parts) = &mut self.0 else {
            return Err(Refused::Unavailable("durable store"));
        };
        let appended = (&mut parts.committing).await;
        match self.0.take() {
            Some(parts) => parts.queue(appended).await,
            None => Err(Refused::Unavailable("durable store")),
        }
    }
}

impl Drop for Handed {
    fn drop(&mut self) {
        let Some(mut parts) = self.0.take() else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(
                "a notification's request ended outside the runtime before its commit; if committed, it is handled at the next start"
            );
            return;
        };
        // Counted as the request would have counted it: the event is kept all the same.
        let counted = EventSeries::of(&parts.event);
        runtime.spawn(async move {
            let appended = (&mut parts.committing).await;
            super::count(counted, &parts.queue(appended).await);
        });
    }
}

impl Parts {
    /// Queues the event once its append is answered: a committed entry is submitted to the
    /// dispatcher, and withdrawn when the dispatcher refuses it.
    async fn queue(self, appended: crate::Result<Appended>) -> Result<Accepted, Refused> {
        let Self {
            store,
            dispatcher,
            event,
            ..
        } = self;
        let seq = match appended {
            Ok(Appended::Queued(seq)) => seq,
            Ok(Appended::Duplicate) => {
                tracing::debug!(
                    event = %EventIdentity::of(&event),
                    "duplicate notification acknowledged, not handled again"
                );
                return Ok(Accepted::Duplicate);
            }
            Ok(Appended::Full) => {
                tracing::debug!("the durable store is full; the notification is refused");
                return Err(Rejected::Full.into());
            }
            Err(error) => {
                tracing::error!(%error, "the durable store could not keep a notification");
                return Err(Refused::Unavailable("durable store"));
            }
        };
        let claim = DedupeKey::of(&event);
        let Err(rejected) = dispatcher.submit(event, Some(done(&store, seq))) else {
            return Ok(Accepted::Queued);
        };
        // In a task of its own, which a dropped request cannot stop half-way.
        let withdrawing = tokio::spawn(async move { store.withdraw(seq, claim).await });
        match withdrawing.await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                tracing::error!(%error, "could not withdraw a refused notification; it is handled at the next start");
            }
            Err(error) => {
                tracing::error!(%error, "the withdrawal of a refused notification failed; it is handled at the next start");
            }
        }
        Err(rejected.into())
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::Pin;
    use std::sync::{Arc, Mutex};
    use std::task::{Context, Poll, Waker};

    use super::*;
    use crate::dispatch::{DispatchSettings, Handler};
    use crate::durable::test_support::{T0, open, text, unhandled, writer_settings};
    use crate::durable::{Clock, StoreSettings};
    use crate::error::BoxError;

    const ANNA: &str = "79001234567@c.us";
    const BORIS: &str = "79007654321@c.us";

    /// Records the message id of each event it handles.
    #[derive(Clone, Default)]
    struct Record(Arc<Mutex<Vec<String>>>);

    impl Handler for Record {
        fn handle(
            &self,
            event: Event,
        ) -> Pin<Box<dyn Future<Output = Result<(), BoxError>> + Send>> {
            let id = event.message_id().map(ToString::to_string);
            self.0.lock().unwrap().extend(id);
            Box::pin(async { Ok(()) })
        }
    }

    #[tokio::test]
    async fn a_keep_dropped_once_its_append_was_handed_over_is_still_handled() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path(), writer_settings(), &Clock::manual(T0));
        let record = Record::default();
        let dispatcher = Dispatcher::new(record.clone(), DispatchSettings::new(), None);
        let backlog = DurableBacklog::new(store, dispatcher);
        backlog.start().await.unwrap();

        // A request that goes away while its append is being committed (one whose commit was
        // answered at the first poll is an ordinary keep: the next one is tried).
        let mut sent = Vec::new();
        loop {
            let event = text(ANNA, &format!("M{}", sent.len()), "hi");
            sent.push(event.message_id().unwrap().to_string());
            let mut keep = backlog.keep(event);
            match keep.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
                Poll::Pending => break,
                Poll::Ready(kept) => assert_eq!(kept, Ok(Accepted::Queued)),
            }
        }

        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while record.0.lock().unwrap().len() < sent.len() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the dropped request's event was never handled"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(*record.0.lock().unwrap(), sent);
        let copy = text(ANNA, sent.last().unwrap(), "hi");
        assert_eq!(backlog.keep(copy).await, Ok(Accepted::Duplicate));
        assert_eq!(backlog.shutdown().await, DrainReport::default());
        assert_eq!(unhandled(dir.path()), 0);
    }

    #[tokio::test]
    async fn a_committed_event_the_dispatcher_refuses_is_withdrawn_and_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path(), writer_settings(), &Clock::manual(T0));
        let dispatcher = Dispatcher::new(Record::default(), DispatchSettings::new(), None);
        let backlog = DurableBacklog::new(store.clone(), dispatcher.clone());
        backlog.start().await.unwrap();

        // The dispatcher had room when the request came, and shuts down while its append is
        // being committed.
        let event = text(ANNA, "M1", "hi");
        let mut keep = backlog.keep(event.clone());
        let first = keep.as_mut().poll(&mut Context::from_waker(Waker::noop()));
        assert!(first.is_pending(), "answered before its commit: {first:?}");
        dispatcher.shutdown().await;

        assert_eq!(keep.await, Err(Rejected::ShuttingDown.into()));
        assert_eq!(unhandled(dir.path()), 0, "the entry is withdrawn");
        let again = store.append(&event).await;
        assert!(
            matches!(again, Ok(Appended::Queued(_))),
            "its claim is withdrawn too, so the gateway's next delivery is kept: {again:?}"
        );
    }

    /// `hookbot_events_acknowledged_total` of `instance`'s text messages, as `GET /metrics`
    /// shows it.
    fn acknowledged(instance: &str) -> f64 {
        let label = format!("instance_id=\"{instance}\"");
        crate::metrics::render()
            .expect("hookbot's recorder")
            .lines()
            .find(|line| {
                line.starts_with(crate::metrics::EVENTS_ACKNOWLEDGED) && line.contains(&label)
            })
            .and_then(|line| line.rsplit(' ').next()?.parse().ok())
            .unwrap_or(0.0)
    }

    #[tokio::test]
    async fn a_keep_dropped_once_its_append_was_handed_over_is_counted_as_acknowledged() {
        const INSTANCE: &str = "durable-dropped-keep";
        crate::metrics::label_instance(INSTANCE);
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path(), writer_settings(), &Clock::manual(T0));
        let record = Record::default();
        let dispatcher = Dispatcher::new(record.clone(), DispatchSettings::new(), None);
        let backlog: Box<dyn Backlog> = Box::new(DurableBacklog::new(store, dispatcher));
        backlog.start().await.unwrap();

        // Accepted as an intake accepts, by requests of which the last goes away while its
        // append is being committed.
        let mut sent = 0;
        loop {
            let mut event = text(ANNA, &format!("M{sent}"), "hi");
            event.instance = INSTANCE.into();
            sent += 1;
            let mut accept = std::pin::pin!(backlog.accept(event));
            match accept
                .as_mut()
                .poll(&mut Context::from_waker(Waker::noop()))
            {
                Poll::Pending => break,
                Poll::Ready(kept) => assert_eq!(kept, Ok(Accepted::Queued)),
            }
        }

        // Counted once its task queued it, which may be after its handler ran.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while acknowledged(INSTANCE) < sent as f64 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the dropped request's event was never counted"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(acknowledged(INSTANCE), sent as f64);
        assert_eq!(backlog.shutdown().await, DrainReport::default());
        assert_eq!(record.0.lock().unwrap().len(), sent, "each handled once");
    }

    #[tokio::test]
    async fn what_was_left_is_replayed_in_accept_order_through_a_dispatcher_smaller_than_it() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Clock::manual(T0);
        let mut accepted = Vec::new();
        {
            let store = open(dir.path(), StoreSettings::new(), &clock);
            for n in 0..10 {
                let (chat, id) = (if n % 3 == 0 { BORIS } else { ANNA }, format!("M{n}"));
                let appended = store.append(&text(chat, &id, "hi")).await.unwrap();
                assert!(matches!(appended, Appended::Queued(_)));
                accepted.push((chat, id));
            }
        }
        let store = open(dir.path(), StoreSettings::new(), &clock);
        let record = Record::default();
        let settings = DispatchSettings::new().capacity(2);
        let backlog = DurableBacklog::new(store, Dispatcher::new(record.clone(), settings, None));

        backlog.start().await.unwrap();
        // Once the replayed events are handled (a full dispatcher refuses before it looks at
        // claims), the claims stay: a redelivery is a duplicate.
        while record.0.lock().unwrap().len() < accepted.len() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let copy = text(ANNA, "M1", "hi");
        assert_eq!(backlog.keep(copy).await, Ok(Accepted::Duplicate));
        assert_eq!(backlog.shutdown().await, DrainReport::default());

        let handled = record.0.lock().unwrap().clone();
        for chat in [ANNA, BORIS] {
            let expected: Vec<&String> = accepted
                .iter()
                .filter(|(of, _)| *of == chat)
                .map(|(_, id)| id)
                .collect();
            let ids: Vec<&String> = handled.iter().filter(|id| expected.contains(id)).collect();
            assert_eq!(ids, expected, "{chat}'s events in accept order");
        }
        assert_eq!(handled.len(), accepted.len(), "each once");
        assert_eq!(unhandled(dir.path()), 0);
    }
}
