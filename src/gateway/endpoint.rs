//! A gateway call's URL, with the `http::Uri` hookbot's own client sends to: both made once
//! per method of an instance (when it is first called) and kept by the instance, so that a
//! call borrows them instead of a URL cloned and parsed again for each call, and takes no
//! lock and touches no reference count to find them.

use std::sync::{Arc, OnceLock};

use hyper::Uri;
use hyper::http::uri::InvalidUri;
use url::Url;

use crate::metrics::AnsweredOk;

/// A call's URL and its [`Uri`], parsed once. It holds the instance token: it has no
/// `Debug`, and its parse error holds no part of it.
///
/// What a call reads comes first (`repr(C)`), next to the method's name in [`Kept`]: where
/// its `200` answers are tallied and the `Uri` of hookbot's client (an instance's endpoints
/// are cold in a bot of many instances).
#[repr(C)]
pub(crate) struct Endpoint {
    /// The tally of the method's `200` answers, found on the line the method's name is read
    /// from (the count itself is on the tally's own line).
    answered_ok: AnsweredOk,
    /// `url` as hookbot's client's `Uri`, or why `http` refused it.
    uri: Result<Uri, Arc<InvalidUri>>,
    url: Url,
}

impl Endpoint {
    /// `url`, parsed into a [`Uri`] now.
    pub(crate) fn new(url: Url) -> Self {
        let uri = url.as_str().parse().map_err(Arc::new);
        Self {
            answered_ok: AnsweredOk::default(),
            uri,
            url,
        }
    }

    /// Where the metrics count the `200` answers of the method this is the endpoint of.
    pub(crate) fn answered_ok(&self) -> &AnsweredOk {
        &self.answered_ok
    }

    /// The URL (for reqwest).
    pub(crate) fn url(&self) -> &Url {
        &self.url
    }

    /// The URL as a [`Uri`] (for hookbot's own client), or why it is none.
    pub(crate) fn uri(&self) -> Result<&Uri, &Arc<InvalidUri>> {
        self.uri.as_ref()
    }
}

impl From<Url> for Endpoint {
    fn from(url: Url) -> Self {
        Self::new(url)
    }
}

/// The endpoint of each method an instance has called so far (at most one per method name in
/// hookbot's code), in the order of their first calls: a list that only grows, each link set
/// once, so that finding one reads and never writes.
#[derive(Default)]
pub(crate) struct Endpoints(OnceLock<Box<Kept>>);

/// One method's endpoint, and the methods called after it. The method's name, the next
/// link and the endpoint's counter come first (`repr(C)`), on one line (a line's
/// alignment): a call walks past the links of the methods called before its own reading one
/// line of each, not the ends of three, and finds its answer's tally on its own link's.
#[repr(C, align(64))]
struct Kept {
    method: &'static str,
    next: Endpoints,
    endpoint: Endpoint,
}

impl Endpoints {
    /// `method`'s endpoint; the first call builds its URL with `url`.
    pub(crate) fn get(&self, method: &'static str, url: impl FnOnce() -> Url) -> &Endpoint {
        let mut url = Some(url);
        let mut link = self;
        loop {
            // Built only when this call sets the link, and then it is `method`'s.
            let kept = link.0.get_or_init(|| {
                let url = url.take().expect("a link is set once");
                Box::new(Kept {
                    method,
                    next: Endpoints::default(),
                    endpoint: Endpoint::new(url()),
                })
            });
            if std::ptr::eq(kept.method, method) || kept.method == method {
                return &kept.endpoint;
            }
            link = &kept.next;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_method_s_endpoint_is_built_once_and_shared() {
        let endpoints = Endpoints::default();
        let builds = std::cell::Cell::new(0);
        let url = |path: &str| {
            builds.set(builds.get() + 1);
            Url::parse(&format!("https://gateway.test/{path}")).unwrap()
        };
        let first = endpoints.get("sendMessage", || url("sendMessage/token"));
        let again = endpoints.get("sendMessage", || url("never"));
        let other = endpoints.get("getSettings", || url("getSettings/token"));
        assert_eq!(builds.get(), 2);
        assert!(std::ptr::eq(first, again));
        assert_eq!(
            again.url().as_str(),
            "https://gateway.test/sendMessage/token"
        );
        assert_eq!(
            again.uri().unwrap().to_string(),
            "https://gateway.test/sendMessage/token"
        );
        assert_eq!(other.url().path(), "/getSettings/token");
        let same_name: &'static str = String::from("sendMessage").leak();
        assert!(std::ptr::eq(
            endpoints.get(same_name, || url("never")),
            first
        ));
        assert_eq!(builds.get(), 2);
    }

    #[test]
    fn threads_calling_methods_at_once_build_each_endpoint_once() {
        let endpoints = Endpoints::default();
        let builds = std::sync::atomic::AtomicUsize::new(0);
        let methods = ["sendMessage", "sendContact", "readChat", "getSettings"];
        let found: Vec<Vec<&Endpoint>> = std::thread::scope(|scope| {
            let threads: Vec<_> = (0..8)
                .map(|thread| {
                    let (endpoints, builds) = (&endpoints, &builds);
                    scope.spawn(move || {
                        let mut order = methods;
                        order.rotate_left(thread % methods.len());
                        let get = |method: &'static str| {
                            endpoints.get(method, || {
                                builds.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                                Url::parse(&format!("https://gateway.test/{method}")).unwrap()
                            })
                        };
                        order.iter().for_each(|method| {
                            get(method);
                        });
                        methods.map(get).to_vec()
                    })
                })
                .collect();
            threads.into_iter().map(|t| t.join().unwrap()).collect()
        });
        assert_eq!(builds.into_inner(), methods.len());
        for endpoints in &found {
            for (endpoint, method) in endpoints.iter().zip(methods) {
                assert!(std::ptr::eq(
                    *endpoint,
                    found[0][methods.iter().position(|m| *m == method).unwrap()]
                ));
                assert_eq!(endpoint.url().path(), format!("/{method}"));
            }
        }
    }

    #[test]
    fn a_link_s_method_next_link_and_answer_counter_share_its_first_line() {
        let counter_ends = std::mem::offset_of!(Kept, endpoint) + std::mem::size_of::<AnsweredOk>();
        assert!(counter_ends <= 64, "{counter_ends}");
        assert_eq!(std::mem::offset_of!(Kept, method), 0);
        assert_eq!(std::mem::align_of::<Kept>(), 64);
    }

    #[test]
    fn a_url_http_refuses_keeps_its_error_without_the_url() {
        let long = "a".repeat(70_000);
        let url = Url::parse(&format!("https://gateway.test/send/secret-token/{long}")).unwrap();
        let endpoint = Endpoint::new(url.clone());
        assert_eq!(endpoint.url(), &url);
        let Err(error) = endpoint.uri() else {
            panic!("http took a URL over its length limit");
        };
        let told = format!("{error} {error:?}");
        assert!(!told.contains("secret-token"), "{told}");
    }
}
