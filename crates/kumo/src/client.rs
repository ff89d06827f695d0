//! A small HTTP client for the CLI commands, talking to a running Kumo.

use anyhow::Context as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// Where the server is and which region to act in.
#[derive(clap::Args, Clone)]
pub struct Endpoint {
    /// Kumo's URL.
    #[arg(long, env = "KUMO_ENDPOINT", default_value = "http://127.0.0.1:4566", global = true)]
    pub endpoint: String,
    /// Region to act in.
    #[arg(long, env = "AWS_REGION", default_value = kumo_core::DEFAULT_REGION, global = true)]
    pub region: String,
}

/// A response: status, selected headers and body.
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Response headers.
    pub headers: http::HeaderMap,
    /// Body.
    pub body: Bytes,
}

impl Reply {
    /// The body as JSON, or an error carrying AWS's message.
    pub fn json(&self) -> anyhow::Result<serde_json::Value> {
        let value: serde_json::Value = serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null);
        if self.status >= 400 {
            let code = self.headers.get("x-amzn-errortype").and_then(|v| v.to_str().ok()).unwrap_or("Error");
            let message = value.get("message").or_else(|| value.get("Message")).and_then(|m| m.as_str()).unwrap_or("");
            anyhow::bail!("{code}: {message}");
        }
        Ok(value)
    }
}

impl Endpoint {
    /// Sends a request; the credential scope names the region (the CLI uses the default keys).
    pub async fn send(
        &self,
        method: http::Method,
        path: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> anyhow::Result<Reply> {
        let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
        let url = format!("{}{}", self.endpoint.trim_end_matches('/'), path);
        let mut request = http::Request::builder().method(method).uri(&url).header(
            "authorization",
            format!(
                "AWS4-HMAC-SHA256 Credential=test/20260101/{}/lambda/aws4_request, SignedHeaders=host, Signature=0",
                self.region
            ),
        );
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let request = request.body(Full::new(Bytes::from(body)))?;
        let response =
            client.request(request).await.with_context(|| format!("cannot reach Kumo at {}", self.endpoint))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await?.to_bytes();
        Ok(Reply { status, headers, body })
    }
}
