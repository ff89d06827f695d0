//! Layer version permissions: `AddLayerVersionPermission`, `RemoveLayerVersionPermission`,
//! `GetLayerVersionPolicy`. The policy is kept on the layer version and rendered as function
//! policies are (see [`crate::permissions`]).

use std::sync::Arc;

use kumo_core::arn::{layer_version_arn, parse_layer_arn};
use kumo_core::{AwsError, RequestContext};
use serde::{Deserialize, Serialize};

use crate::layers::{check_version_number, LayerVersionRecord};
use crate::permissions::{
    policy_document, render_statement, statement_json, AddPermissionRequest, StoredPolicy, MAX_POLICY_BYTES,
};
use crate::{internal, validation, LambdaService};

/// `AddLayerVersionPermission` input.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AddLayerVersionPermissionRequest {
    /// Statement id, unique in the policy.
    pub statement_id: Option<String>,
    /// Only `lambda:GetLayerVersion`.
    pub action: Option<String>,
    /// An account id, `*`, or an account's root ARN.
    pub principal: Option<String>,
    /// With `*`: only accounts of this organisation.
    pub organization_id: Option<String>,
}

/// `AddLayerVersionPermission` output.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AddLayerVersionPermissionResponse {
    /// The statement added, as a JSON string.
    pub statement: String,
    /// Revision of the policy after the change.
    pub revision_id: String,
}

/// `GetLayerVersionPolicy` output.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetLayerVersionPolicyResponse {
    /// The policy document, as a JSON string.
    pub policy: String,
    /// Revision of the policy.
    pub revision_id: String,
}

fn check_permission(request: &AddLayerVersionPermissionRequest) -> Result<(String, String, String), AwsError> {
    let required = |value: &Option<String>, name: &str| {
        value.clone().ok_or_else(|| AwsError::invalid_parameter(format!("{name} is a required parameter")))
    };
    let sid = required(&request.statement_id, "StatementId")?;
    let action = required(&request.action, "Action")?;
    let principal = required(&request.principal, "Principal")?;
    let pattern_error = |value: &str, field: &str, pattern: &str| {
        validation::validation_error(format!(
            "1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: Member must satisfy regular expression pattern: {pattern}"
        ))
    };
    let sid_valid =
        !sid.is_empty() && sid.len() <= 100 && sid.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !sid_valid {
        return Err(pattern_error(&sid, "statementId", "([a-zA-Z0-9-_]+)"));
    }
    if action != "lambda:GetLayerVersion" {
        return Err(pattern_error(&action, "action", "lambda:GetLayerVersion"));
    }
    let is_account = |value: &str| value.len() == 12 && value.bytes().all(|b| b.is_ascii_digit());
    let root_arn =
        principal.strip_prefix("arn:").and_then(|rest| rest.split_once(":iam::")).is_some_and(|(partition, rest)| {
            partition.starts_with("aws") && rest.strip_suffix(":root").is_some_and(is_account)
        });
    if !(principal == "*" || is_account(&principal) || root_arn) {
        return Err(pattern_error(&principal, "principal", "\\d{12}|\\*|arn:(aws[a-zA-Z-]*):iam::\\d{12}:root"));
    }
    if let Some(organization) = &request.organization_id {
        let valid = organization.strip_prefix("o-").is_some_and(|id| {
            (10..=32).contains(&id.len()) && id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        });
        if !valid {
            return Err(pattern_error(organization, "organizationId", "o-[a-z0-9]{10,32}"));
        }
    }
    Ok((sid, action, principal))
}

fn check_revision(policy: &StoredPolicy, expected: Option<&str>) -> Result<(), AwsError> {
    if expected.is_some_and(|expected| expected != policy.revision_id) {
        return Err(AwsError::precondition_failed(
            "The Revision Id provided does not match the latest Revision Id. Call the GetLayerPolicy API to retrieve the latest Revision Id",
        ));
    }
    Ok(())
}

impl LambdaService {
    /// The stored version a permission call names, or AWS's "does not exist" for it.
    fn permission_target(
        &self,
        account: &str,
        region: &str,
        layer_name: &str,
        version: i64,
    ) -> Result<(String, u64, LayerVersionRecord), AwsError> {
        let name = self.local_layer_name(account, region, layer_name)?;
        let version = check_version_number(version)?;
        let missing = || {
            let shown = parse_layer_arn(layer_name).map_or_else(|| layer_name.to_string(), |layer| layer.name);
            AwsError::not_found(format!(
                "Layer version {} does not exist.",
                layer_version_arn(region, account, &shown, version)
            ))
        };
        let name = name.ok_or_else(missing)?;
        let record = self.load_layer_version(account, region, &name, version)?.ok_or_else(missing)?;
        Ok((name, version, record))
    }

    fn save_layer_version(
        &self,
        account: &str,
        region: &str,
        name: &str,
        version: u64,
        record: &LayerVersionRecord,
    ) -> Result<(), AwsError> {
        let document = serde_json::to_string(record).map_err(internal)?;
        self.store.metadata.update_layer_version(account, region, name, version, &document).map_err(internal)
    }

    /// `AddLayerVersionPermission`.
    pub async fn add_layer_version_permission(
        self: &Arc<Self>,
        context: RequestContext,
        layer_name: String,
        version: i64,
        revision_id: Option<String>,
        request: AddLayerVersionPermissionRequest,
    ) -> Result<AddLayerVersionPermissionResponse, AwsError> {
        self.authorize_layer(&context, "lambda:AddLayerVersionPermission", &layer_name, Some(version))?;
        self.blocking(move |service| {
            let _updating = service.lock_updates();
            let account = &context.account;
            let region = &context.region;
            let (sid, action, principal) = check_permission(&request)?;
            let (name, version, mut record) = service.permission_target(account, region, &layer_name, version)?;
            if record.policy.statements.iter().any(|statement| statement["Sid"] == sid.as_str()) {
                return Err(AwsError::conflict(format!(
                    "The statement id ({sid}) provided already exists. Please provide a new statement id, or remove the existing statement."
                )));
            }
            check_revision(&record.policy, revision_id.as_deref())?;
            let condition = AddPermissionRequest { principal_org_id: request.organization_id, ..Default::default() };
            let resource = layer_version_arn(region, &context.account, &name, version);
            let statement = statement_json(&condition, &sid, &action, &principal, &resource);
            record.policy.statements.push(statement.clone());
            if policy_document(&record.policy).len() > MAX_POLICY_BYTES {
                return Err(AwsError::new(
                    "PolicyLengthExceededException",
                    400,
                    "The final policy size is bigger than the limit.",
                ));
            }
            record.policy.revision_id = uuid::Uuid::new_v4().to_string();
            service.save_layer_version(account, region, &name, version, &record)?;
            Ok(AddLayerVersionPermissionResponse {
                statement: render_statement(&statement),
                revision_id: record.policy.revision_id,
            })
        })
        .await
    }

    /// `RemoveLayerVersionPermission`.
    pub async fn remove_layer_version_permission(
        self: &Arc<Self>,
        context: RequestContext,
        layer_name: String,
        version: i64,
        statement_id: String,
        revision_id: Option<String>,
    ) -> Result<(), AwsError> {
        self.authorize_layer(&context, "lambda:RemoveLayerVersionPermission", &layer_name, Some(version))?;
        self.blocking(move |service| {
            let _updating = service.lock_updates();
            let account = &context.account;
            let region = &context.region;
            let (name, version, mut record) = service.permission_target(account, region, &layer_name, version)?;
            check_revision(&record.policy, revision_id.as_deref())?;
            let before = record.policy.statements.len();
            record.policy.statements.retain(|statement| statement["Sid"] != statement_id.as_str());
            if record.policy.statements.len() == before {
                return Err(AwsError::not_found(format!("Statement {statement_id} is not found in resource policy.")));
            }
            record.policy.revision_id = uuid::Uuid::new_v4().to_string();
            service.save_layer_version(account, region, &name, version, &record)
        })
        .await
    }

    /// `GetLayerVersionPolicy`.
    pub async fn get_layer_version_policy(
        self: &Arc<Self>,
        context: RequestContext,
        layer_name: String,
        version: i64,
    ) -> Result<GetLayerVersionPolicyResponse, AwsError> {
        self.authorize_layer(&context, "lambda:GetLayerVersionPolicy", &layer_name, Some(version))?;
        self.blocking(move |service| {
            let (_, _, record) = service.permission_target(&context.account, &context.region, &layer_name, version)?;
            if record.policy.statements.is_empty() {
                return Err(AwsError::not_found("No policy is associated with the given resource."));
            }
            Ok(GetLayerVersionPolicyResponse {
                policy: policy_document(&record.policy),
                revision_id: record.policy.revision_id.clone(),
            })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_take_only_what_aws_allows() {
        let request = |action: &str, principal: &str| AddLayerVersionPermissionRequest {
            statement_id: Some("s1".into()),
            action: Some(action.into()),
            principal: Some(principal.into()),
            organization_id: None,
        };
        assert!(check_permission(&request("lambda:GetLayerVersion", "*")).is_ok());
        assert!(check_permission(&request("lambda:GetLayerVersion", "111122223333")).is_ok());
        assert!(check_permission(&request("lambda:GetLayerVersion", "arn:aws:iam::111122223333:root")).is_ok());
        assert_eq!(check_permission(&request("lambda:InvokeFunction", "*")).unwrap_err().code, "ValidationException");
        assert_eq!(
            check_permission(&request("lambda:GetLayerVersion", "s3.amazonaws.com")).unwrap_err().code,
            "ValidationException"
        );
    }
}
