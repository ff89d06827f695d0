//! A test-only service, `kumotest`, registered only when Kumo starts with
//! `KUMO_TEST_SERVICES=1`: it is not part of Kumo's AWS surface. It lets end-to-end tests drive
//! what no production operation exercises yet (a streaming body; S3 will be the first real
//! one) through the real listener, routing and authentication.
//!
//! AWS JSON 1.0, `X-Amz-Target: KumoTest.<Operation>`, signing name `kumotest`:
//! - `Digest` streams its body (up to 5 GiB) and answers `{"Length": n, "Sha256": "<hex>"}`;
//!   it records the digest only once the body has ended verified (a streaming operation
//!   commits nothing when its body ends in error);
//! - `ListDigests` answers the digests recorded, oldest first (the last 100).

use std::collections::VecDeque;
use std::sync::Mutex;

use kumo_core::AwsError;
use kumo_protocol::query::de::same_names;
use kumo_protocol::query::QueryLimits;
use kumo_protocol::service::same_code;
use kumo_protocol::{AwsService, BoxFuture, Call, DecodeError, Encoded, Input, Operation, OperationTable, Protocol};
use kumo_protocol::{ServiceDescriptor, ServiceHealth};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// The environment variable that registers the test services.
pub const ENV: &str = "KUMO_TEST_SERVICES";

/// Whether Kumo was started with the test services (`KUMO_TEST_SERVICES=1`). Deliberately an
/// environment variable and not a `kumo serve` flag: tests set it, users have no use for it.
pub fn enabled() -> bool {
    std::env::var(ENV).is_ok_and(|value| value == "1")
}

/// Largest body `Digest` takes (S3's largest single PUT).
const DIGEST_LIMIT: usize = 5 * 1024 * 1024 * 1024;
/// `ListDigests` takes an empty JSON object.
const SMALL_LIMIT: usize = 1024;
/// Digests kept for `ListDigests`.
const KEPT: usize = 100;

/// The test service: the digests of the bodies it read to their verified end.
#[derive(Default)]
pub struct StreamingTestApi {
    digests: Mutex<VecDeque<BodyDigest>>,
}

/// A body's length and SHA-256.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
struct BodyDigest {
    length: u64,
    sha256: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct DigestList {
    digests: Vec<BodyDigest>,
}

#[derive(Debug, Deserialize)]
struct NoInput {}

fn decode_error(protocol: Protocol, error: &DecodeError) -> AwsError {
    match error {
        DecodeError::TooLarge { limit } => kumo_protocol::registry::too_large(*limit, protocol),
        other => AwsError::new("ValidationException", 400, other.to_string()),
    }
}

/// The test service's declaration.
pub static DESCRIPTOR: ServiceDescriptor = ServiceDescriptor {
    name: "kumotest",
    signing_name: "kumotest",
    json_target_prefix: Some("KumoTest"),
    cbor_service_name: None,
    hosts: &[],
    protocols: &[Protocol::AwsJson1_0],
    xml_namespace: "",
    json_error_prefix: "",
    aws_query_compatible: false,
    query_error_detail: false,
    default_body_limit: SMALL_LIMIT,
    query_limits: QueryLimits::DEFAULT,
    query_rename: same_names,
    xml_shape: None,
    query_error_code: same_code,
    decode_error,
    unknown_operation: |operation| {
        AwsError::new("UnknownOperationException", 400, format!("Unknown operation {}", operation.unwrap_or_default()))
    },
};

impl StreamingTestApi {
    /// Reads the body to its end, hashing it; records and answers its digest.
    async fn digest(&self, mut call: Call<'_>) -> Result<Encoded, AwsError> {
        let input = std::mem::replace(&mut call.input, Input::Json(bytes::Bytes::new()));
        let Input::Stream(mut body) = input else {
            return Err(AwsError::new("InternalFailure", 500, "Digest expects a streamed body"));
        };
        let mut hasher = Sha256::new();
        let mut length = 0u64;
        while let Some(piece) = body.next().await {
            // A body that failed verification answers its error, and nothing is recorded.
            let piece = piece?;
            length += piece.len() as u64;
            hasher.update(&piece);
        }
        let digest = BodyDigest { length, sha256: hex::encode(hasher.finalize()) };
        {
            // Plain values: a panic elsewhere cannot leave the list inconsistent.
            let mut digests = self.digests.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if digests.len() == KEPT {
                digests.pop_front();
            }
            digests.push_back(digest.clone());
        }
        call.encode(&digest)
    }

    fn list(&self) -> DigestList {
        let digests = self.digests.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        DigestList { digests: digests.iter().cloned().collect() }
    }
}

/// The test service's operations.
static OPERATIONS: OperationTable<StreamingTestApi> = OperationTable(&[
    Operation { name: "Digest", body_limit: DIGEST_LIMIT, handler: |api, call| Box::pin(api.digest(call)) },
    Operation {
        name: "ListDigests",
        body_limit: SMALL_LIMIT,
        handler: |api, call| Box::pin(async move { call.run(|_: NoInput| async move { Ok(api.list()) }).await }),
    },
]);

impl AwsService for StreamingTestApi {
    fn descriptor(&self) -> &'static ServiceDescriptor {
        &DESCRIPTOR
    }

    fn body_limit(&self, operation: &str) -> Option<usize> {
        OPERATIONS.body_limit(operation)
    }

    fn streams_body(&self, operation: &str) -> bool {
        operation == "Digest"
    }

    fn call<'a>(&'a self, call: Call<'a>) -> BoxFuture<'a, Result<Encoded, AwsError>> {
        OPERATIONS.call(self, call)
    }

    fn health(&self) -> ServiceHealth {
        ServiceHealth::Running
    }
}
