//! `http` subscriptions: SNS posts its messages (the subscription confirmation, then
//! notifications) to the endpoint's URL, as AWS does, with the `x-amz-sns-*` headers. Only
//! `http://` URLs are reached; Kumo has no TLS client, so `https://` deliveries fail (and go to
//! the subscription's dead-letter queue, if it has one).

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::delivery::{BoxFuture, Delivery, Endpoints};

/// How long one POST may take.
const TIMEOUT: Duration = Duration::from_secs(15);

/// Posts deliveries to HTTP endpoints.
pub struct HttpEndpoints {
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Default for HttpEndpoints {
    fn default() -> Self {
        Self { client: Client::builder(TokioExecutor::new()).build_http() }
    }
}

impl Endpoints for HttpEndpoints {
    fn deliver<'a>(&'a self, delivery: &'a Delivery) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            if !delivery.endpoint.starts_with("http://") {
                return Err("Kumo delivers to http:// endpoints only".to_string());
            }
            let mut request = http::Request::post(&delivery.endpoint)
                .header(http::header::CONTENT_TYPE, "text/plain; charset=UTF-8")
                .header(http::header::USER_AGENT, "Amazon Simple Notification Service Agent");
            for (name, value) in &delivery.headers {
                request = request.header(name.as_str(), value.as_str());
            }
            let request = request.body(Full::new(Bytes::from(delivery.body.clone()))).map_err(|e| e.to_string())?;
            let response = tokio::time::timeout(TIMEOUT, self.client.request(request))
                .await
                .map_err(|_| "the endpoint did not answer in time".to_string())?
                .map_err(|error| error.to_string())?;
            match response.status().is_success() {
                true => Ok(()),
                false => Err(format!("the endpoint answered {}", response.status())),
            }
        })
    }
}
