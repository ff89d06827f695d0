//! `http` and `https` subscriptions: SNS posts its messages (the subscription confirmation,
//! notifications, the unsubscribe confirmation) to the endpoint's URL, as AWS does, with the
//! `x-amz-sns-*` headers. `https` goes through rustls, trusting the system's roots and an
//! operator's CA file (`--sns-ca-file`). Every connection passes [`EndpointAccess`]: the names
//! are resolved by [`GuardedResolver`] and the addresses checked before connecting, and the
//! peer checked once connected.
//!
//! As AWS counts them, an answer from 200 to 499 is a delivery (4xx is the endpoint refusing
//! the message, which retrying cannot change); 5xx, a timeout or a failed connection is a
//! failure that the delivery policy retries.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};

use crate::delivery::{BoxFuture, Delivery, Endpoints};
use crate::endpoint_access::{literal_address, EndpointAccess};

/// How long one POST may take (AWS gives an endpoint about 15 seconds).
const TIMEOUT: Duration = Duration::from_secs(15);
/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The content type of messages whose delivery policy names none.
pub const DEFAULT_CONTENT_TYPE: &str = "text/plain; charset=UTF-8";

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Resolves endpoint names, refusing any that resolves to an address [`EndpointAccess`]
/// refuses (all of its addresses are checked: a connection may be tried on any).
#[derive(Clone)]
struct GuardedResolver(Arc<EndpointAccess>);

impl tower_service::Service<Name> for GuardedResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let access = Arc::clone(&self.0);
        Box::pin(async move {
            // The port is the connector's to set; resolution only needs the host.
            let addresses: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            if let Some(refused) = addresses.iter().find(|address| access.refuses(**address)) {
                return Err(format!("{name} resolves to {}, an address Kumo does not deliver to", refused.ip()).into());
            }
            Ok(addresses.into_iter())
        })
    }
}

/// The TCP connector behind http and https: literal addresses checked before connecting
/// (the resolver never sees them), every peer checked once connected.
#[derive(Clone)]
struct GuardedConnector {
    inner: HttpConnector<GuardedResolver>,
    access: Arc<EndpointAccess>,
}

impl tower_service::Service<http::Uri> for GuardedConnector {
    type Response = TokioIo<tokio::net::TcpStream>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(context).map_err(Into::into)
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        let access = Arc::clone(&self.access);
        let default_port = if uri.scheme_str() == Some("https") { 443 } else { 80 };
        let literal =
            uri.host().and_then(literal_address).map(|ip| SocketAddr::new(ip, uri.port_u16().unwrap_or(default_port)));
        let connecting = self.inner.call(uri);
        Box::pin(async move {
            if let Some(address) = literal.filter(|address| access.refuses(*address)) {
                return Err(format!("{address} is an address Kumo does not deliver to").into());
            }
            let stream = connecting.await?;
            let (local, peer) = (stream.inner().local_addr()?, stream.inner().peer_addr()?);
            if access.refuses_connection(local, peer) {
                return Err(format!("{peer} is an address Kumo does not deliver to").into());
            }
            Ok(stream)
        })
    }
}

/// Posts deliveries to HTTP and HTTPS endpoints.
pub struct HttpEndpoints {
    client: Client<hyper_rustls::HttpsConnector<GuardedConnector>, Full<Bytes>>,
}

/// Why the HTTPS client could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    /// The CA file could not be read or holds no usable certificate.
    #[error("the CA file {path}: {why}")]
    CaFile {
        /// The file.
        path: String,
        /// What is wrong with it.
        why: String,
    },
    /// rustls refused the configuration.
    #[error("tls: {0}")]
    Tls(#[from] rustls::Error),
}

impl HttpEndpoints {
    /// A client that reaches what `access` allows, trusting the system's CA roots and, if
    /// given, the certificates in the PEM file `ca_file`.
    pub fn new(access: EndpointAccess, ca_file: Option<&Path>) -> Result<Self, TlsSetupError> {
        let mut roots = rustls::RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        let (added, _) = roots.add_parsable_certificates(native.certs);
        if let Some(path) = ca_file {
            use rustls_pki_types::pem::PemObject as _;
            let failure = |why: String| TlsSetupError::CaFile { path: path.display().to_string(), why };
            let certificates = rustls_pki_types::CertificateDer::pem_file_iter(path)
                .map_err(|error| failure(error.to_string()))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|error| failure(error.to_string()))?;
            if certificates.is_empty() {
                return Err(failure("no certificate in it".to_string()));
            }
            for certificate in certificates {
                roots.add(certificate).map_err(|error| failure(error.to_string()))?;
            }
        } else if added == 0 {
            tracing::warn!("no system CA certificates found: https endpoints will not be trusted");
        }
        // ring, not aws-lc-rs: no cmake/C build on CI's two cores. Its provider is deprecated only
        // for lacking post-quantum key exchange, which webhook deliveries can do without.
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let access = Arc::new(access);
        let mut tcp = HttpConnector::new_with_resolver(GuardedResolver(Arc::clone(&access)));
        // https:// URIs reach the TCP connector too, under the TLS one.
        tcp.enforce_http(false);
        tcp.set_connect_timeout(Some(CONNECT_TIMEOUT));
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(GuardedConnector { inner: tcp, access });
        Ok(Self { client: Client::builder(TokioExecutor::new()).build(connector) })
    }
}

impl Endpoints for HttpEndpoints {
    fn deliver<'a>(&'a self, delivery: &'a Delivery) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            if !delivery.endpoint.starts_with("http://") && !delivery.endpoint.starts_with("https://") {
                return Err("not an http or https endpoint".to_string());
            }
            let content_type = delivery.content_type.as_deref().unwrap_or(DEFAULT_CONTENT_TYPE);
            let mut request = http::Request::post(&delivery.endpoint)
                .header(http::header::CONTENT_TYPE, content_type)
                .header(http::header::USER_AGENT, "Amazon Simple Notification Service Agent");
            for (name, value) in &delivery.headers {
                request = request.header(name.as_str(), value.as_str());
            }
            let request = request.body(Full::new(Bytes::from(delivery.body.clone()))).map_err(|e| e.to_string())?;
            let response = tokio::time::timeout(TIMEOUT, self.client.request(request))
                .await
                .map_err(|_| "the endpoint did not answer in time".to_string())?
                .map_err(|error| describe(&error))?;
            let status = response.status();
            if status.is_server_error() || status.is_informational() || status.as_u16() >= 600 {
                return Err(format!("the endpoint answered {status}"));
            }
            if status.is_client_error() {
                tracing::warn!(endpoint = %delivery.endpoint, %status, "an sns endpoint refused a message (not retried)");
            }
            Ok(())
        })
    }
}

/// The client error with its causes (hyper's own text says only "client error (Connect)").
fn describe(error: &hyper_util::client::legacy::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(endpoint: String) -> Delivery {
        Delivery {
            topic_arn: "arn:aws:sns:us-east-1:000000000000:topic".to_string(),
            protocol: "http".to_string(),
            endpoint,
            body: "{}".to_string(),
            attributes: Vec::new(),
            group_id: None,
            dedup_id: None,
            headers: Vec::new(),
            content_type: None,
        }
    }

    /// Subscribe's check can be outlived (a name re-pointed at the host later): each delivery
    /// checks again, before anything is sent.
    #[tokio::test]
    async fn deliveries_to_private_addresses_are_refused_when_made() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let refusing = HttpEndpoints::new(EndpointAccess::default(), None).unwrap();
        for url in [format!("http://127.0.0.1:{port}/hook"), format!("http://localhost:{port}/hook")] {
            let error = refusing.deliver(&delivery(url.clone())).await.unwrap_err();
            assert!(error.contains("does not deliver to"), "{url}: {error}");
        }
        let accepted = tokio::time::timeout(Duration::from_millis(200), listener.accept()).await;
        assert!(accepted.is_err(), "a refused delivery connected");

        let allowing = HttpEndpoints::new(EndpointAccess { allow_private: true, own_listener: None }, None).unwrap();
        let server = tokio::spawn(async move {
            use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut request = vec![0; 4096];
            let read = stream.read(&mut request).await.unwrap();
            stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").await.unwrap();
            String::from_utf8_lossy(&request[..read]).to_string()
        });
        allowing.deliver(&delivery(format!("http://127.0.0.1:{port}/hook"))).await.unwrap();
        let request = server.await.unwrap();
        assert!(request.to_ascii_lowercase().contains("content-type: text/plain; charset=utf-8"), "{request}");
    }
}
