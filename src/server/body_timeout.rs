//! The body time limit of [`serve`](super::serve): a request body that sends nothing for the
//! limit fails. The timer runs only while the body waits for its peer: a body that came in
//! with its headers — a gateway's notification nearly always does — is read without touching
//! the runtime's timers (a timer started and stopped for every frame would be two trips to
//! the timer wheel per request).

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::BoxError;
use axum::body::HttpBody;
use axum::extract::Request;
use axum::response::Response;
use hyper::body::{Frame, SizeHint};
use tokio::time::Sleep;
use tower_service::Service;

/// `app` as a connection's service, each request's body under [`TimedBody`].
#[derive(Clone)]
pub(super) struct BodyTimeout {
    app: axum::Router,
    limit: Duration,
}

impl BodyTimeout {
    /// Serves `app`, failing a body that sends nothing for `limit`.
    pub(super) fn new(app: axum::Router, limit: Duration) -> Self {
        Self { app, limit }
    }
}

impl<B> hyper::service::Service<Request<B>> for BodyTimeout
where
    B: HttpBody<Data = axum::body::Bytes> + Unpin + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = <axum::Router as Service<Request<TimedBody<B>>>>::Future;

    fn call(&self, request: Request<B>) -> Self::Future {
        let limit = self.limit;
        // A router is always ready: it needs no `poll_ready` before its call.
        self.app
            .clone()
            .call(request.map(|body| TimedBody::new(body, limit)))
    }
}

/// A request body that fails with [`BodySilent`] once it has sent nothing for its limit.
pub(super) struct TimedBody<B> {
    body: B,
    limit: Duration,
    /// Running while the body waits for its peer; none while frames come at once.
    silence: Option<Pin<Box<Sleep>>>,
}

impl<B> TimedBody<B> {
    fn new(body: B, limit: Duration) -> Self {
        Self {
            body,
            limit,
            silence: None,
        }
    }
}

impl<B> HttpBody for TimedBody<B>
where
    B: HttpBody + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = B::Data;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        if let Poll::Ready(frame) = Pin::new(&mut this.body).poll_frame(cx) {
            this.silence = None;
            return Poll::Ready(frame.map(|frame| frame.map_err(Into::into)));
        }
        let limit = this.limit;
        let silence = this
            .silence
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match silence.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(BodySilent(limit).into()))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// A request body sent nothing for its time limit.
#[derive(Debug)]
pub(super) struct BodySilent(Duration);

impl fmt::Display for BodySilent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the request's body sent nothing for {:?}", self.0)
    }
}

impl std::error::Error for BodySilent {}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Bytes;
    use futures_util::Stream;
    use http_body_util::{BodyExt, StreamBody};
    use tokio::sync::mpsc;

    const LIMIT: Duration = Duration::from_secs(30);

    /// What the test's peer sends: a frame of the body.
    type Sent = Result<Frame<Bytes>, Infallible>;

    /// A body whose frames are sent through the returned channel.
    fn channel_body() -> (
        mpsc::Sender<Sent>,
        TimedBody<StreamBody<impl Stream<Item = Sent> + Unpin>>,
    ) {
        let (send, mut receive) = mpsc::channel(4);
        let frames = futures_util::stream::poll_fn(move |cx| receive.poll_recv(cx));
        (send, TimedBody::new(StreamBody::new(frames), LIMIT))
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_keeps_sending_within_the_limit_is_read_whole() {
        let (send, mut body) = channel_body();
        let sender = tokio::spawn(async move {
            for part in ["a", "b", "c"] {
                tokio::time::sleep(LIMIT - Duration::from_secs(1)).await;
                let frame = Frame::data(Bytes::from_static(part.as_bytes()));
                send.send(Ok(frame)).await.unwrap();
            }
        });
        let mut read = Vec::new();
        while let Some(frame) = body.frame().await {
            read.extend_from_slice(&frame.unwrap().into_data().unwrap());
        }
        assert_eq!(read, b"abc");
        sender.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_silent_for_the_limit_fails_even_after_sending() {
        let (send, mut body) = channel_body();
        send.send(Ok(Frame::data(Bytes::from_static(b"a"))))
            .await
            .unwrap();
        assert!(body.frame().await.unwrap().is_ok());
        let started = tokio::time::Instant::now();
        let error = body.frame().await.unwrap().unwrap_err();
        assert!(error.is::<BodySilent>(), "{error}");
        assert_eq!(started.elapsed(), LIMIT);
        drop(send);
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_ready_at_once_starts_no_timer() {
        let (send, mut body) = channel_body();
        send.send(Ok(Frame::data(Bytes::from_static(b"a"))))
            .await
            .unwrap();
        drop(send);
        assert!(body.frame().await.unwrap().is_ok());
        assert!(body.silence.is_none());
        assert!(body.frame().await.is_none());
        assert!(body.silence.is_none());
    }
}
