//! A gateway call's URL, with the `http::Uri` hookbot's own client sends to: both made once
//! per method of an instance (when it is first called) and shared by every call of it, instead
//! of a URL cloned and parsed again for each call.

use std::sync::{Arc, PoisonError, RwLock};

use hyper::Uri;
use hyper::http::uri::InvalidUri;
use url::Url;

/// A call's URL and its [`Uri`], parsed once; clones share both. It holds the instance token:
/// it has no `Debug`, and its parse error holds no part of it.
#[derive(Clone)]
pub(crate) struct Endpoint(Arc<Parsed>);

struct Parsed {
    url: Url,
    /// `url` as hookbot's client's `Uri`, or why `http` refused it.
    uri: Result<Uri, Arc<InvalidUri>>,
}

impl Endpoint {
    /// `url`, parsed into a [`Uri`] now.
    pub(crate) fn new(url: Url) -> Self {
        let uri = url.as_str().parse().map_err(Arc::new);
        Self(Arc::new(Parsed { url, uri }))
    }

    /// The URL (for reqwest).
    pub(crate) fn url(&self) -> &Url {
        &self.0.url
    }

    /// The URL as a [`Uri`] (for hookbot's own client), or why it is none.
    pub(crate) fn uri(&self) -> Result<&Uri, &Arc<InvalidUri>> {
        self.0.uri.as_ref()
    }
}

impl From<Url> for Endpoint {
    fn from(url: Url) -> Self {
        Self::new(url)
    }
}

/// The endpoint of each method an instance has called so far (at most one per method name in
/// hookbot's code).
#[derive(Default)]
pub(crate) struct Endpoints(RwLock<Vec<(&'static str, Endpoint)>>);

impl Endpoints {
    /// `method`'s endpoint; the first call builds its URL with `url`.
    pub(crate) fn get(&self, method: &'static str, url: impl FnOnce() -> Url) -> Endpoint {
        let built = |endpoints: &[(&'static str, Endpoint)]| {
            let found = endpoints.iter().find(|(name, _)| *name == method);
            found.map(|(_, endpoint)| endpoint.clone())
        };
        if let Some(endpoint) = built(&self.0.read().unwrap_or_else(PoisonError::into_inner)) {
            return endpoint;
        }
        let mut endpoints = self.0.write().unwrap_or_else(PoisonError::into_inner);
        built(&endpoints).unwrap_or_else(|| {
            let endpoint = Endpoint::new(url());
            endpoints.push((method, endpoint.clone()));
            endpoint
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_method_s_endpoint_is_built_once_and_shared() {
        let endpoints = Endpoints::default();
        let mut builds = 0;
        let mut url = |path: &str| {
            builds += 1;
            Url::parse(&format!("https://gateway.test/{path}")).unwrap()
        };
        let first = endpoints.get("sendMessage", || url("sendMessage/token"));
        let again = endpoints.get("sendMessage", || url("never"));
        let other = endpoints.get("getSettings", || url("getSettings/token"));
        assert_eq!(builds, 2);
        assert!(Arc::ptr_eq(&first.0, &again.0));
        assert_eq!(
            again.url().as_str(),
            "https://gateway.test/sendMessage/token"
        );
        assert_eq!(
            again.uri().unwrap().to_string(),
            "https://gateway.test/sendMessage/token"
        );
        assert_eq!(other.url().path(), "/getSettings/token");
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
