//! The generic resource-policy operations (`Put/Get/DeleteResourcePolicy`, API version
//! 2026-07-09): a whole policy document for a function, version or alias named by ARN. It is the
//! same policy `AddPermission` builds statement by statement and `GetPolicy` shows, so either API
//! sees what the other wrote, and the policy grants what its statements say (cross-account calls,
//! service triggers). Runtime resources (`…:runtime/…`) have no policies in Kumo.

use std::sync::Arc;

use kumo_core::{AwsError, RequestContext};
use serde::{Deserialize, Serialize};

use crate::permissions::{policy_document, StoredPolicy, MAX_POLICY_BYTES};
use crate::{validation, LambdaService};

/// `PutResourcePolicy` body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutResourcePolicyRequest {
    /// The policy document, a JSON string.
    pub policy: Option<String>,
    /// Only replace the policy at this revision.
    pub revision_id: Option<String>,
}

/// `Put/GetResourcePolicy` output.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ResourcePolicyResponse {
    /// The policy document, a JSON string.
    pub policy: String,
    /// Revision of the policy.
    pub revision_id: String,
}

const NO_SUCH_RESOURCE: &str = "The resource you requested does not exist.";
const STALE_REVISION: &str =
    "The Revision Id provided does not match the latest Revision Id. Call the GetPolicy API to retrieve the latest Revision Id";

fn malformed(why: &str) -> AwsError {
    AwsError::invalid_parameter(format!("The policy document is malformed: {why}"))
}

/// The statements of `document`, each an object with `Effect` (`Allow`/`Deny`), `Principal` and
/// `Action`; a statement without `Resource` applies to `resource`.
fn parse_statements(document: &str, resource: &str) -> Result<Vec<serde_json::Value>, AwsError> {
    let value: serde_json::Value = serde_json::from_str(document).map_err(|_| malformed("not valid JSON"))?;
    let statements = match value.get("Statement") {
        Some(serde_json::Value::Array(statements)) => statements.clone(),
        Some(statement @ serde_json::Value::Object(_)) => vec![statement.clone()],
        _ => return Err(malformed("a policy needs a Statement")),
    };
    if statements.is_empty() {
        return Err(malformed("a policy needs a Statement"));
    }
    statements
        .into_iter()
        .map(|mut statement| {
            let object = statement.as_object_mut().ok_or_else(|| malformed("a statement must be an object"))?;
            if !matches!(object.get("Effect").and_then(|e| e.as_str()), Some("Allow" | "Deny")) {
                return Err(malformed("a statement's Effect must be Allow or Deny"));
            }
            if !object.contains_key("Principal") || !object.contains_key("Action") {
                return Err(malformed("a statement needs a Principal and an Action"));
            }
            object.entry("Resource").or_insert_with(|| serde_json::Value::String(resource.to_string()));
            Ok(statement)
        })
        .collect()
}

impl LambdaService {
    /// The function name and qualifier a `ResourceArn` names, checked against the caller's
    /// account and region.
    fn policy_resource(&self, context: &RequestContext, arn: &str) -> Result<(String, Option<String>), AwsError> {
        let parts: Vec<&str> = arn.split(':').collect();
        match parts.as_slice() {
            ["arn", partition, "lambda", _, _, "function", _] | ["arn", partition, "lambda", _, _, "function", _, _]
                if partition.starts_with("aws") => {}
            ["arn", partition, "lambda", _, _, runtime] if partition.starts_with("aws") && runtime.starts_with("runtime/") => {
                return Err(AwsError::not_found(NO_SUCH_RESOURCE));
            }
            _ => {
                return Err(validation::validation_error(format!(
                    "1 validation error detected: Value '{arn}' at 'resourceArn' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*)?:lambda:(eusc-)?[a-z]{{2}}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{{1}}:\\d{{12}}:(function:[a-zA-Z0-9-_]+(:(\\$LATEST(\\.PUBLISHED)?|[a-zA-Z0-9-_])+)?|runtime/[a-zA-Z0-9-_./]+)"
                )))
            }
        }
        let reference = self.function_ref(&context.account, &context.region, arn, None)?;
        Ok((arn.to_string(), reference.qualifier))
    }

    /// `PutResourcePolicy`: replaces the policy of the function, version or alias.
    pub async fn put_resource_policy(
        self: &Arc<Self>,
        context: RequestContext,
        resource_arn: String,
        request: PutResourcePolicyRequest,
    ) -> Result<ResourcePolicyResponse, AwsError> {
        self.blocking(move |service| {
            let (name, qualifier) = service.policy_resource(&context, &resource_arn)?;
            let context = service.acting_for(&context, &name, qualifier.as_deref(), "lambda:PutResourcePolicy")?;
            let Some(document) = request.policy.filter(|policy| !policy.is_empty()) else {
                return Err(validation::validation_error(
                    "1 validation error detected: Value null at 'policy' failed to satisfy constraint: Member must not be null",
                ));
            };
            if document.len() > MAX_POLICY_BYTES {
                return Err(AwsError::new("PolicyLengthExceededException", 400, "The final policy size is bigger than the limit."));
            }
            let _updating = service.lock_updates();
            let (latest, key, resource) =
                service.policy_target(&context.account, &context.region, &name, qualifier.as_deref())?;
            let current = latest.settings.policies.get(&key).cloned().unwrap_or_default();
            if request.revision_id.as_deref().is_some_and(|expected| expected != current.revision_id) {
                return Err(AwsError::precondition_failed(STALE_REVISION));
            }
            let policy = StoredPolicy {
                statements: parse_statements(&document, &resource)?,
                revision_id: uuid::Uuid::new_v4().to_string(),
            };
            if policy_document(&policy).len() > MAX_POLICY_BYTES {
                return Err(AwsError::new("PolicyLengthExceededException", 400, "The final policy size is bigger than the limit."));
            }
            let answer = ResourcePolicyResponse { policy: policy_document(&policy), revision_id: policy.revision_id.clone() };
            let mut record = (*latest).clone();
            record.settings.policies.insert(key, policy);
            service.save_settings(&context.account, &context.region, record)?;
            Ok(answer)
        })
        .await
    }

    /// `GetResourcePolicy`.
    pub async fn get_resource_policy(
        self: &Arc<Self>,
        context: RequestContext,
        resource_arn: String,
    ) -> Result<ResourcePolicyResponse, AwsError> {
        self.blocking(move |service| {
            let (name, qualifier) = service.policy_resource(&context, &resource_arn)?;
            let context = service.acting_for(&context, &name, qualifier.as_deref(), "lambda:GetResourcePolicy")?;
            let (latest, key, _) =
                service.policy_target(&context.account, &context.region, &name, qualifier.as_deref())?;
            let policy = latest
                .settings
                .policies
                .get(&key)
                .filter(|policy| !policy.statements.is_empty())
                .ok_or_else(|| AwsError::not_found(NO_SUCH_RESOURCE))?;
            Ok(ResourcePolicyResponse { policy: policy_document(policy), revision_id: policy.revision_id.clone() })
        })
        .await
    }

    /// `DeleteResourcePolicy`.
    pub async fn delete_resource_policy(
        self: &Arc<Self>,
        context: RequestContext,
        resource_arn: String,
        revision_id: Option<String>,
    ) -> Result<(), AwsError> {
        self.blocking(move |service| {
            let (name, qualifier) = service.policy_resource(&context, &resource_arn)?;
            let context = service.acting_for(&context, &name, qualifier.as_deref(), "lambda:DeleteResourcePolicy")?;
            let _updating = service.lock_updates();
            let (latest, key, _) =
                service.policy_target(&context.account, &context.region, &name, qualifier.as_deref())?;
            let current = latest.settings.policies.get(&key).ok_or_else(|| AwsError::not_found(NO_SUCH_RESOURCE))?;
            if revision_id.as_deref().is_some_and(|expected| expected != current.revision_id) {
                return Err(AwsError::precondition_failed(STALE_REVISION));
            }
            let mut record = (*latest).clone();
            record.settings.policies.remove(&key);
            service.save_settings(&context.account, &context.region, record)?;
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_are_checked_and_get_their_resource() {
        let document = r#"{"Version":"2012-10-17","Statement":{"Sid":"a","Effect":"Allow","Principal":"*","Action":"lambda:InvokeFunction"}}"#;
        let statements = parse_statements(document, "arn:f").unwrap();
        assert_eq!(statements[0]["Resource"], "arn:f");
        for bad in
            ["nope", "{}", r#"{"Statement":[]}"#, r#"{"Statement":[{"Effect":"Maybe","Principal":"*","Action":"x"}]}"#]
        {
            assert_eq!(parse_statements(bad, "arn:f").unwrap_err().code, "InvalidParameterValueException", "{bad}");
        }
    }
}
