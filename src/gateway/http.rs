//! hookbot's own HTTP client for gateway calls: hyper-util's pooled client over rustls with
//! the webpki roots (the TLS stack reqwest uses), HTTP/1.1 and HTTP/2. It has none of
//! reqwest's layers: no redirects followed (a gateway call that gets one fails, as with
//! reqwest's `Policy::none()`), no `Referer`, and no formatting and re-parsing of each
//! request's URL (reqwest's redirect layer does it twice per request even when it follows
//! none: about 15 % of an end-to-end event's instructions).
//!
//! A bot whose environment names a proxy (`HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY`, in either
//! case) sends through reqwest, which honours it; so do uploads and a client the user gives.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;

use crate::error::Error;

/// The environment variables through which reqwest finds a proxy.
const PROXY_VARIABLES: [&str; 6] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// How long an idle pooled connection is kept (reqwest's default).
const POOL_IDLE: Duration = Duration::from_secs(90);

/// A pooled HTTP(S) client; clones share the pool.
#[derive(Clone, Debug)]
pub(crate) struct Direct {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
}

/// A whole answer: status, headers, body.
pub(crate) struct Exchanged {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

/// An exchange that got no whole answer.
pub(crate) struct Unanswered {
    /// hookbot's error for it ([`Error::Timeout`] or [`Error::Transport`]).
    pub(crate) error: Error,
    /// Whether the time-out ended it.
    pub(crate) timed_out: bool,
    /// Whether no connection was made (so nothing was sent).
    pub(crate) unconnected: bool,
    /// The status, when the answer's head came and its body did not.
    pub(crate) status: Option<StatusCode>,
}

impl Direct {
    /// A client with the webpki roots, unless the environment names a proxy (then `None`: the
    /// caller sends through reqwest, which uses it).
    pub(crate) fn unless_proxied() -> Option<Self> {
        if names_a_proxy(|name| std::env::var_os(name)) {
            return None;
        }
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        Some(Self::with_roots(roots))
    }

    /// A client that trusts `roots`.
    fn with_roots(roots: rustls::RootCertStore) -> Self {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("ring supports the default TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        let mut tcp = HttpConnector::new();
        tcp.enforce_http(false);
        tcp.set_nodelay(true);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(tcp);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(POOL_IDLE)
            .pool_timer(TokioTimer::new())
            .build(connector);
        Self { client }
    }

    /// Sends `request` and reads the whole answer, all within `timeout`.
    pub(crate) async fn exchange(
        &self,
        request: hyper::Request<Full<Bytes>>,
        timeout: Duration,
    ) -> Result<Exchanged, Unanswered> {
        let mut status = None;
        let exchange = async {
            let response = self.client.request(request).await.map_err(|error| {
                let unconnected = error.is_connect();
                unanswered(Arc::new(error), unconnected, None)
            })?;
            status = Some(response.status());
            let (head, body) = response.into_parts();
            let body = body
                .collect()
                .await
                .map_err(|error| unanswered(Arc::new(error), false, Some(head.status)))?;
            Ok(Exchanged {
                status: head.status,
                headers: head.headers,
                body: body.to_bytes(),
            })
        };
        let exchanged = tokio::time::timeout(timeout, exchange).await;
        exchanged.unwrap_or_else(|_| {
            Err(Unanswered {
                error: Error::Timeout,
                timed_out: true,
                unconnected: false,
                status,
            })
        })
    }
}

/// Whether the environment, read through `variable`, names a proxy for reqwest.
fn names_a_proxy(variable: impl Fn(&str) -> Option<std::ffi::OsString>) -> bool {
    PROXY_VARIABLES
        .iter()
        .any(|name| variable(name).is_some_and(|value| !value.is_empty()))
}

/// An exchange that failed with `error` (which holds no URL).
fn unanswered(
    error: Arc<dyn std::error::Error + Send + Sync>,
    unconnected: bool,
    status: Option<StatusCode>,
) -> Unanswered {
    Unanswered {
        error: Error::Transport { source: error },
        timed_out: false,
        unconnected,
        status,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use tokio::net::TcpListener;

    const ROOT: &[u8] = include_bytes!("../../tests/fixtures/tls/root.pem");
    const CERTIFICATE: &[u8] = include_bytes!("../../tests/fixtures/tls/localhost.pem");
    const KEY: &[u8] = include_bytes!("../../tests/fixtures/tls/localhost.key.pem");

    /// An HTTPS server for `localhost` (certified by the test root) that answers every request
    /// with `pong`, over HTTP/2 when the client offers it; its port.
    async fn https_server() -> u16 {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let certificate = CertificateDer::from_pem_slice(CERTIFICATE).unwrap();
        let key = PrivateKeyDer::from_pem_slice(KEY).unwrap();
        let mut tls = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![certificate], key)
            .unwrap();
        tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let service =
                        hyper::service::service_fn(|request: hyper::Request<_>| async move {
                            let version = format!("pong {:?}", request.version());
                            Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(
                                Bytes::from(version),
                            )))
                        });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        port
    }

    fn get(url: &str) -> hyper::Request<Full<Bytes>> {
        let mut request = hyper::Request::new(Full::default());
        *request.uri_mut() = url.parse().unwrap();
        request
    }

    #[tokio::test]
    async fn https_goes_over_rustls_to_a_server_the_roots_certify() {
        let port = https_server().await;
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(ROOT).unwrap())
            .unwrap();
        let client = Direct::with_roots(roots);
        let url = format!("https://localhost:{port}/waInstance1/getSettings/token");
        let answer = client
            .exchange(get(&url), Duration::from_secs(10))
            .await
            .map_err(|unanswered| unanswered.error)
            .unwrap();
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.body, "pong HTTP/2.0");
    }

    #[tokio::test]
    async fn a_server_no_root_certifies_is_refused_without_the_url_in_the_error() {
        let port = https_server().await;
        let client = Direct::unless_proxied().unwrap_or_else(|| {
            Direct::with_roots(rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            })
        });
        let url = format!("https://localhost:{port}/waInstance1/getSettings/secret-token");
        let Err(unanswered) = client.exchange(get(&url), Duration::from_secs(10)).await else {
            panic!("an uncertified server was trusted");
        };
        assert!(matches!(unanswered.error, Error::Transport { .. }));
        assert!(unanswered.unconnected);
        let mut chain = String::new();
        let mut cause: Option<&dyn std::error::Error> = Some(&unanswered.error);
        while let Some(error) = cause {
            chain.push_str(&format!("{error} | {error:?} | "));
            cause = error.source();
        }
        assert!(!chain.contains("secret-token"), "{chain}");
        assert!(!chain.contains("getSettings"), "{chain}");
    }

    #[tokio::test]
    async fn a_closed_port_is_unconnected_and_a_silent_server_times_out() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let closed = listener.local_addr().unwrap();
        drop(listener);
        let client = Direct::with_roots(rustls::RootCertStore::empty());
        let Err(refused) = client
            .exchange(get(&format!("http://{closed}/")), Duration::from_secs(10))
            .await
        else {
            panic!("a closed port answered");
        };
        assert!(refused.unconnected && !refused.timed_out);

        let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = silent.local_addr().unwrap();
        let held = tokio::spawn(async move { silent.accept().await });
        let Err(late) = client
            .exchange(
                get(&format!("http://{address}/")),
                Duration::from_millis(50),
            )
            .await
        else {
            panic!("a silent server answered");
        };
        assert!(matches!(late.error, Error::Timeout));
        assert!(late.timed_out && !late.unconnected);
        held.abort();
    }

    #[test]
    fn a_proxy_in_the_environment_is_left_to_reqwest() {
        let only = |set: &'static str| {
            move |name: &str| (name == set).then(|| std::ffi::OsString::from("http://proxy:3128"))
        };
        for name in PROXY_VARIABLES {
            assert!(names_a_proxy(only(name)), "{name}");
        }
        assert!(!names_a_proxy(only("NO_PROXY")));
        assert!(!names_a_proxy(|_| Some(std::ffi::OsString::new())));
        assert!(!names_a_proxy(|_| None));
    }
}
