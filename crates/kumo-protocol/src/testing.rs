//! Helpers for services' codec tests: decode an awsQuery form as a service would, and make a
//! [`Call`] to encode answers with, without a running gateway.

use kumo_core::RequestContext;
use serde::de::DeserializeOwned;

use crate::service::{Call, Input, Protocol, ServiceDescriptor};

/// Decodes the form body `form` as `descriptor`'s service reads awsQuery input (its limits and
/// renames). Panics on a decode error: for tests.
pub fn query_input<T: DeserializeOwned>(descriptor: &ServiceDescriptor, form: &str) -> T {
    let request = crate::query::QueryRequest::parse(b"", form.as_bytes(), &descriptor.query_limits)
        .unwrap_or_else(|error| panic!("{form}: {error}"));
    crate::query::de::from_node(&request.params, descriptor.query_rename)
        .unwrap_or_else(|error| panic!("{form}: {error}"))
}

/// The head of a request to `path` on `host`.
pub fn parts(host: &str, path: &str) -> http::request::Parts {
    let request = http::Request::builder().uri(path).header("host", host).body(());
    request.unwrap_or_else(|error| panic!("{host}{path}: {error}")).into_parts().0
}

/// A call of `operation` in `protocol` from account `000000000000` in `us-east-1`, request id
/// `req-1`, with an empty input.
pub fn call<'a>(
    protocol: Protocol,
    descriptor: &'static ServiceDescriptor,
    operation: &'a str,
    parts: &'a http::request::Parts,
) -> Call<'a> {
    let mut context = RequestContext::new("000000000000", "us-east-1");
    context.request_id = "req-1".to_string();
    Call {
        operation,
        context,
        input: Input::Json(Default::default()),
        protocol,
        descriptor,
        parts,
        body_limit: 1 << 20,
    }
}
