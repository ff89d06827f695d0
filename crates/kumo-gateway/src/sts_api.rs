//! STS behind the registry: GetCallerIdentity and AssumeRole for the caller the SigV4 check
//! identified, over awsQuery.

use std::sync::Arc;

use kumo_core::AwsError;
use kumo_iam::types::AssumeRoleRequest;
use kumo_iam::{IamService, Principal};
use kumo_protocol::query::de::same_names;
use kumo_protocol::query::QueryLimits;
use kumo_protocol::service::same_code;
use kumo_protocol::{AwsService, BoxFuture, Call, Encoded, Operation, OperationTable, Protocol};
use kumo_protocol::{ServiceDescriptor, ServiceHealth};
use serde::Deserialize;

use crate::iam_api::{invalid_action, query_decode_error};
use crate::query::STS_NAMESPACE;

/// The API version STS clients send.
const VERSION: &str = "2011-06-15";
/// A session policy is at most 2,048 characters; generous.
const BODY_LIMIT: usize = 1024 * 1024;

/// STS as the registry sees it (IAM's service answers it).
pub struct StsApi {
    iam: Arc<IamService>,
}

impl StsApi {
    /// Wraps the identity service.
    pub fn new(iam: Arc<IamService>) -> Self {
        Self { iam }
    }

    /// The caller the authentication middleware identified (the default account's root when
    /// nothing was verified).
    fn caller(&self, call: &Call<'_>) -> Arc<Principal> {
        call.parts
            .extensions
            .get::<Arc<Principal>>()
            .cloned()
            .unwrap_or_else(|| Arc::new(Principal::unverified("anonymous", self.iam.default_account())))
    }
}

/// STS's declaration.
pub static DESCRIPTOR: ServiceDescriptor = ServiceDescriptor {
    name: "sts",
    signing_name: "sts",
    json_target_prefix: None,
    cbor_service_name: None,
    hosts: &[],
    protocols: &[Protocol::AwsQuery],
    xml_namespace: STS_NAMESPACE,
    json_error_prefix: "",
    json_query_error_header: false,
    query_error_detail: false,
    default_body_limit: BODY_LIMIT,
    query_limits: QueryLimits::DEFAULT,
    query_rename: same_names,
    xml_shape: None,
    query_error_code: same_code,
    decode_error: query_decode_error,
    unknown_operation: |operation| invalid_action(operation.unwrap_or_default(), VERSION),
};

/// GetCallerIdentity takes no parameters.
#[derive(Debug, Deserialize)]
struct NoInput {}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AssumeRole {
    role_arn: String,
    role_session_name: String,
    duration_seconds: Option<i64>,
    policy: Option<String>,
    #[serde(default)]
    policy_arns: Vec<WirePolicyArn>,
}

/// A managed session policy, `PolicyArns.member.N.arn`.
#[derive(Debug, Deserialize)]
struct WirePolicyArn {
    arn: String,
}

/// Every STS operation.
static OPERATIONS: OperationTable<StsApi> = OperationTable(&[
    Operation {
        name: "GetCallerIdentity",
        body_limit: BODY_LIMIT,
        handler: |api, call| {
            Box::pin(async move {
                let caller = api.caller(&call);
                call.run(|_: NoInput| async move { Ok(api.iam.get_caller_identity(&caller)) }).await
            })
        },
    },
    Operation {
        name: "AssumeRole",
        body_limit: BODY_LIMIT,
        handler: |api, call| {
            Box::pin(async move {
                let caller = api.caller(&call);
                call.run(|request: AssumeRole| async move {
                    let request = AssumeRoleRequest {
                        role_arn: request.role_arn,
                        role_session_name: request.role_session_name,
                        duration_seconds: request.duration_seconds,
                        policy: request.policy,
                        policy_arns: request.policy_arns.into_iter().map(|policy| policy.arn).collect(),
                    };
                    api.iam.assume_role(caller, request).await
                })
                .await
            })
        },
    },
]);

impl AwsService for StsApi {
    fn descriptor(&self) -> &'static ServiceDescriptor {
        &DESCRIPTOR
    }

    fn body_limit(&self, operation: &str) -> Option<usize> {
        OPERATIONS.body_limit(operation)
    }

    fn call<'a>(&'a self, call: Call<'a>) -> BoxFuture<'a, Result<Encoded, AwsError>> {
        OPERATIONS.call(self, call)
    }

    fn health(&self) -> ServiceHealth {
        ServiceHealth::Running
    }
}
