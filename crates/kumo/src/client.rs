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
    /// Access key id used to sign requests.
    #[arg(long, env = "AWS_ACCESS_KEY_ID", default_value = "test", global = true, hide_env_values = true)]
    pub access_key: String,
    /// Secret key used to sign requests.
    #[arg(long, env = "AWS_SECRET_ACCESS_KEY", default_value = "test", global = true, hide_env_values = true)]
    pub secret_key: String,
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

impl Reply {
    /// The text of the first `<name>` element of an XML (awsQuery) answer.
    pub fn xml_field(&self, name: &str) -> Option<String> {
        let text = std::str::from_utf8(&self.body).ok()?;
        let start = text.find(&format!("<{name}>"))? + name.len() + 2;
        let end = text[start..].find(&format!("</{name}>"))? + start;
        Some(text[start..end].to_string())
    }
}

impl Endpoint {
    /// Sends a Lambda request, SigV4-signed.
    pub async fn send(
        &self,
        method: http::Method,
        path: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> anyhow::Result<Reply> {
        self.send_signed("lambda", method, path, headers, body).await
    }

    /// Reads one of Kumo's own `/_kumo` endpoints (a GET), signed for the service `kumo` as
    /// they require; an error answer becomes `Err("<Code>: <message>")`.
    pub async fn kumo(&self, path: &str) -> anyhow::Result<serde_json::Value> {
        self.send_signed(kumo_gateway::KUMO_SIGNING_SERVICE, http::Method::GET, path, &[], Vec::new()).await?.json()
    }

    /// Calls an awsQuery operation (IAM, STS); an error answer becomes `Err("<Code>: <Message>")`.
    pub async fn query(&self, service: &str, params: &[(&str, &str)]) -> anyhow::Result<Reply> {
        let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(params).finish();
        let content_type = ("content-type", "application/x-www-form-urlencoded; charset=utf-8".to_string());
        let reply = self.send_signed(service, http::Method::POST, "/", &[content_type], body.into_bytes()).await?;
        if reply.status >= 400 {
            let code = reply.xml_field("Code").unwrap_or_else(|| format!("HTTP {}", reply.status));
            anyhow::bail!("{code}: {}", reply.xml_field("Message").unwrap_or_default());
        }
        Ok(reply)
    }

    /// Sends a request signed for `service`.
    async fn send_signed(
        &self,
        service: &str,
        method: http::Method,
        path: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> anyhow::Result<Reply> {
        let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
        let url = format!("{}{}", self.endpoint.trim_end_matches('/'), path);
        let uri: http::Uri = url.parse().with_context(|| format!("invalid endpoint {}", self.endpoint))?;
        let host = uri.authority().map(|authority| authority.to_string()).unwrap_or_default();
        let mut signed_headers: Vec<(String, String)> = vec![("host".to_string(), host)];
        signed_headers.extend(headers.iter().map(|(name, value)| (name.to_string(), value.clone())));
        let mut parts = kumo_core::sigv4::RequestParts {
            method: method.as_str(),
            path: uri.path(),
            query: uri.query().unwrap_or(""),
            headers: signed_headers.clone(),
            payload_hash: kumo_core::sigv4::payload_hash(&body),
        };
        let now = (kumo_core::time::now_millis() / 1000) as i64;
        let added = kumo_core::sigv4::sign(&mut parts, &self.access_key, &self.secret_key, &self.region, service, now);
        let mut request = http::Request::builder().method(method.clone()).uri(&uri);
        // `host` is set by the client from the URI; the rest are sent as signed.
        for (name, value) in signed_headers.iter().skip(1).chain(added.iter()) {
            request = request.header(name.as_str(), value.as_str());
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
