//! Resource-based policies (`AddPermission`, `RemovePermission`, `GetPolicy`) and tags
//! (`TagResource`, `UntagResource`, `ListTags`). Both are function-level settings on the
//! `$LATEST` record; policies are kept per qualifier as AWS does.

use std::collections::BTreeMap;
use std::sync::Arc;

use kumo_core::{AwsError, RequestContext};
use serde::{Deserialize, Serialize};

use crate::functions::LATEST;
use crate::types::FunctionRecord;
use crate::{validation, LambdaService};

/// Largest policy document (AWS: 20 KB).
pub(crate) const MAX_POLICY_BYTES: usize = 20 * 1024;

/// `AddPermission` input.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AddPermissionRequest {
    /// Statement id, unique in the policy.
    pub statement_id: Option<String>,
    /// `lambda:InvokeFunction`, `lambda:*`, …
    pub action: Option<String>,
    /// A service (`s3.amazonaws.com`), an account id, an ARN or `*`.
    pub principal: Option<String>,
    /// Condition: the source ARN.
    pub source_arn: Option<String>,
    /// Condition: the source account.
    pub source_account: Option<String>,
    /// Condition: Alexa event source token.
    pub event_source_token: Option<String>,
    /// Condition: the principal's organisation.
    #[serde(rename = "PrincipalOrgID")]
    pub principal_org_id: Option<String>,
    /// Condition for function URL permissions.
    pub function_url_auth_type: Option<String>,
    /// Only change the policy at this revision.
    pub revision_id: Option<String>,
}

/// A function's policy for one qualifier.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StoredPolicy {
    /// The statements, as JSON objects in AWS's rendering.
    pub statements: Vec<serde_json::Value>,
    /// Changes on every change.
    pub revision_id: String,
}

/// `AddPermission` output.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AddPermissionResponse {
    /// The statement added, as a JSON string.
    pub statement: String,
}

/// `GetPolicy` output.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetPolicyResponse {
    /// The policy document, as a JSON string.
    pub policy: String,
    /// Revision of the policy.
    pub revision_id: String,
}

/// `TagResource` input.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagResourceRequest {
    /// Tags to add or replace.
    pub tags: Option<BTreeMap<String, String>>,
}

/// `ListTags` output.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListTagsResponse {
    /// The tags.
    pub tags: BTreeMap<String, String>,
}

fn principal_json(principal: &str) -> serde_json::Value {
    if principal == "*" {
        return serde_json::Value::String("*".to_string());
    }
    if principal.len() == 12 && principal.chars().all(|c| c.is_ascii_digit()) {
        return serde_json::json!({ "AWS": format!("arn:aws:iam::{principal}:root") });
    }
    if principal.starts_with("arn:") {
        return serde_json::json!({ "AWS": principal });
    }
    serde_json::json!({ "Service": principal })
}

/// One statement in AWS's rendering; the request's condition fields become its `Condition`.
pub(crate) fn statement_json(
    request: &AddPermissionRequest,
    sid: &str,
    action: &str,
    principal: &str,
    resource: &str,
) -> serde_json::Value {
    let mut statement = serde_json::json!({
        "Sid": sid,
        "Effect": "Allow",
        "Principal": principal_json(principal),
        "Action": action,
        "Resource": resource,
    });
    let mut condition = serde_json::Map::new();
    if let Some(source_arn) = &request.source_arn {
        condition.insert("ArnLike".to_string(), serde_json::json!({ "AWS:SourceArn": source_arn }));
    }
    let mut equals = serde_json::Map::new();
    if let Some(account) = &request.source_account {
        equals.insert("AWS:SourceAccount".to_string(), serde_json::Value::String(account.clone()));
    }
    if let Some(token) = &request.event_source_token {
        equals.insert("lambda:EventSourceToken".to_string(), serde_json::Value::String(token.clone()));
    }
    if let Some(org) = &request.principal_org_id {
        equals.insert("aws:PrincipalOrgID".to_string(), serde_json::Value::String(org.clone()));
    }
    if let Some(auth_type) = &request.function_url_auth_type {
        equals.insert("lambda:FunctionUrlAuthType".to_string(), serde_json::Value::String(auth_type.clone()));
    }
    if !equals.is_empty() {
        condition.insert("StringEquals".to_string(), serde_json::Value::Object(equals));
    }
    if !condition.is_empty() {
        statement["Condition"] = serde_json::Value::Object(condition);
    }
    statement
}

/// A statement with its keys in the order AWS writes them (serde_json's own maps sort keys).
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct OrderedStatement<'a> {
    // A statement put whole by `PutResourcePolicy` may have no `Sid`.
    #[serde(skip_serializing_if = "serde_json::Value::is_null")]
    sid: &'a serde_json::Value,
    effect: &'a serde_json::Value,
    principal: &'a serde_json::Value,
    action: &'a serde_json::Value,
    resource: &'a serde_json::Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    condition: Option<&'a serde_json::Value>,
}

impl<'a> OrderedStatement<'a> {
    fn of(statement: &'a serde_json::Value) -> Self {
        Self {
            sid: &statement["Sid"],
            effect: &statement["Effect"],
            principal: &statement["Principal"],
            action: &statement["Action"],
            resource: &statement["Resource"],
            condition: statement.get("Condition"),
        }
    }
}

/// A policy document with its keys in AWS's order.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct OrderedPolicy<'a> {
    version: &'static str,
    id: &'static str,
    statement: Vec<OrderedStatement<'a>>,
}

/// One statement as `AddPermission` and `AddLayerVersionPermission` return it.
pub(crate) fn render_statement(statement: &serde_json::Value) -> String {
    serde_json::to_string(&OrderedStatement::of(statement)).unwrap_or_default()
}

/// The policy document as `GetPolicy` and `GetLayerVersionPolicy` return it.
pub(crate) fn policy_document(policy: &StoredPolicy) -> String {
    let statement = policy.statements.iter().map(OrderedStatement::of).collect();
    // Serialising borrowed JSON values into a string cannot fail.
    serde_json::to_string(&OrderedPolicy { version: "2012-10-17", id: "default", statement }).unwrap_or_default()
}

fn check_action(action: &str) -> Result<(), AwsError> {
    let valid = action == "*"
        || action
            .strip_prefix("lambda:")
            .is_some_and(|rest| !rest.is_empty() && rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '*'));
    if valid {
        return Ok(());
    }
    Err(validation::validation_error(format!(
        "1 validation error detected: Value '{action}' at 'action' failed to satisfy constraint: Member must satisfy regular expression pattern: (lambda:[*]|lambda:[a-zA-Z]+|[*])"
    )))
}

impl LambdaService {
    /// The `$LATEST` record and the qualifier key (`""` for the unqualified function) a policy call names.
    pub(crate) fn policy_target(
        &self,
        account: &str,
        region: &str,
        function_name: &str,
        qualifier: Option<&str>,
    ) -> Result<(Arc<FunctionRecord>, String, String), AwsError> {
        let reference = self.function_ref(account, region, function_name, qualifier)?;
        let latest = self.load_record(account, region, &reference.name, None)?;
        let (key, resource) = match reference.qualifier.as_deref().filter(|q| *q != LATEST) {
            Some(qualifier) => {
                if crate::aliases::is_alias_name(qualifier) && !latest.settings.aliases.contains_key(qualifier) {
                    return Err(self.alias_not_found(account, region, &reference.name, qualifier));
                }
                self.load_record(account, region, &reference.name, Some(qualifier))?;
                let arn = kumo_core::arn::qualified_function_arn(region, account, &reference.name, qualifier);
                (qualifier.to_string(), arn)
            }
            None => (String::new(), kumo_core::arn::function_arn(region, account, &reference.name)),
        };
        Ok((latest, key, resource))
    }

    /// `AddPermission`.
    pub async fn add_permission(
        self: &Arc<Self>,
        context: RequestContext,
        function_name: String,
        qualifier: Option<String>,
        request: AddPermissionRequest,
    ) -> Result<AddPermissionResponse, AwsError> {
        self.blocking(move |service| {
            let context = service.acting_for(&context, &function_name, qualifier.as_deref(), "lambda:AddPermission")?;
            let _updating = service.lock_updates();
            let named = service.function_ref(&context.account, &context.region, &function_name, qualifier.as_deref())?;
            if named.qualifier.as_deref() == Some(LATEST) {
                return Err(AwsError::invalid_parameter("We currently do not support adding policies for $LATEST."));
            }
            let (latest, key, resource) = service.policy_target(
                &context.account,
                &context.region,
                &function_name,
                qualifier.as_deref(),
            )?;
            let sid = request.statement_id.clone().ok_or_else(|| AwsError::invalid_parameter("StatementId is a required parameter"))?;
            let action = request.action.clone().ok_or_else(|| AwsError::invalid_parameter("Action is a required parameter"))?;
            let principal =
                request.principal.clone().ok_or_else(|| AwsError::invalid_parameter("Principal is a required parameter"))?;
            check_action(&action)?;
            let mut policy = latest.settings.policies.get(&key).cloned().unwrap_or_default();
            if request.revision_id.as_deref().is_some_and(|expected| expected != policy.revision_id) {
                return Err(AwsError::precondition_failed(
                    "The Revision Id provided does not match the latest Revision Id. Call the GetPolicy API to retrieve the latest Revision Id",
                ));
            }
            if policy.statements.iter().any(|statement| statement["Sid"] == sid.as_str()) {
                return Err(AwsError::conflict(format!(
                    "The statement id ({sid}) provided already exists. Please provide a new statement id, or remove the existing statement."
                )));
            }
            let statement = statement_json(&request, &sid, &action, &principal, &resource);
            policy.statements.push(statement.clone());
            if policy_document(&policy).len() > MAX_POLICY_BYTES {
                return Err(AwsError::new(
                    "PolicyLengthExceededException",
                    400,
                    "The final policy size is bigger than the limit.",
                ));
            }
            policy.revision_id = uuid::Uuid::new_v4().to_string();
            let mut record = (*latest).clone();
            record.settings.policies.insert(key, policy);
            service.save_settings(&context.account, &context.region, record)?;
            Ok(AddPermissionResponse { statement: render_statement(&statement) })
        })
        .await
    }

    /// `RemovePermission`.
    pub async fn remove_permission(
        self: &Arc<Self>,
        context: RequestContext,
        function_name: String,
        statement_id: String,
        qualifier: Option<String>,
        revision_id: Option<String>,
    ) -> Result<(), AwsError> {
        self.blocking(move |service| {
            let context = service.acting_for(&context, &function_name, qualifier.as_deref(), "lambda:RemovePermission")?;
            let _updating = service.lock_updates();
            let named = service.function_ref(&context.account, &context.region, &function_name, qualifier.as_deref())?;
            if service.load_record(&context.account, &context.region, &named.name, None).is_err() {
                // A function that does not exist has no policy, in AWS's words.
                let arn = kumo_core::arn::function_arn(&context.region, &context.account, &named.name);
                return Err(AwsError::not_found(format!("No policy found for: {arn}")));
            }
            let (latest, key, _) =
                service.policy_target(&context.account, &context.region, &function_name, qualifier.as_deref())?;
            let mut policy = latest.settings.policies.get(&key).cloned().unwrap_or_default();
            if policy.statements.is_empty() {
                return Err(AwsError::not_found("No policy is associated with the given resource."));
            }
            if revision_id.as_deref().is_some_and(|expected| expected != policy.revision_id) {
                return Err(AwsError::precondition_failed(
                    "The Revision Id provided does not match the latest Revision Id. Call the GetPolicy API to retrieve the latest Revision Id",
                ));
            }
            let before = policy.statements.len();
            policy.statements.retain(|statement| statement["Sid"] != statement_id.as_str());
            if policy.statements.len() == before {
                return Err(AwsError::not_found(format!("Statement {statement_id} is not found in resource policy.")));
            }
            policy.revision_id = uuid::Uuid::new_v4().to_string();
            let mut record = (*latest).clone();
            if policy.statements.is_empty() {
                record.settings.policies.remove(&key);
            } else {
                record.settings.policies.insert(key, policy);
            }
            service.save_settings(&context.account, &context.region, record)?;
            Ok(())
        })
        .await
    }

    /// `GetPolicy`.
    pub async fn get_policy(
        self: &Arc<Self>,
        context: RequestContext,
        function_name: String,
        qualifier: Option<String>,
    ) -> Result<GetPolicyResponse, AwsError> {
        self.blocking(move |service| {
            let context = service.acting_for(&context, &function_name, qualifier.as_deref(), "lambda:GetPolicy")?;
            let (latest, key, _) =
                service.policy_target(&context.account, &context.region, &function_name, qualifier.as_deref())?;
            let policy = latest
                .settings
                .policies
                .get(&key)
                .filter(|policy| !policy.statements.is_empty())
                .ok_or_else(|| AwsError::not_found("The resource you requested does not exist."))?;
            Ok(GetPolicyResponse { policy: policy_document(policy), revision_id: policy.revision_id.clone() })
        })
        .await
    }

    /// The function a tagging ARN names (tags belong to the unqualified function; the model's
    /// pattern has refused anything but a full ARN before).
    fn tagged_function(&self, account: &str, region: &str, resource: &str) -> Result<Arc<FunctionRecord>, AwsError> {
        let reference = kumo_core::arn::parse_function_ref(resource)?;
        if reference.qualifier.is_some() {
            return Err(AwsError::invalid_parameter(
                "Tags on function aliases and versions are not supported. Please specify a function ARN.",
            ));
        }
        self.unqualified_latest(account, region, resource)
    }

    /// `TagResource`.
    pub async fn tag_resource(
        self: &Arc<Self>,
        context: RequestContext,
        resource: String,
        request: TagResourceRequest,
    ) -> Result<(), AwsError> {
        self.blocking(move |service| {
            if let Some(target) = crate::resource_tags::tagged_resource(&resource)? {
                return service.tag_other_resource(&context, &resource, &target, request.tags);
            }
            let context = service.acting_for(&context, &resource, None, "lambda:TagResource")?;
            let _updating = service.lock_updates();
            let latest = service.tagged_function(&context.account, &context.region, &resource)?;
            let tags = request.tags.ok_or_else(|| AwsError::invalid_parameter("Tags is a required parameter"))?;
            if tags.is_empty() {
                // AWS's words for an empty `Tags` map.
                return Err(AwsError::invalid_parameter("An error occurred and the request cannot be processed."));
            }
            let mut record = (*latest).clone();
            record.tags.extend(tags);
            check_tag_count(&record.tags)?;
            service.save_settings(&context.account, &context.region, record)?;
            Ok(())
        })
        .await
    }

    /// `UntagResource`.
    pub async fn untag_resource(
        self: &Arc<Self>,
        context: RequestContext,
        resource: String,
        keys: Vec<String>,
    ) -> Result<(), AwsError> {
        self.blocking(move |service| {
            if let Some(target) = crate::resource_tags::tagged_resource(&resource)? {
                return service.untag_other_resource(&context, &resource, &target, &keys);
            }
            let context = service.acting_for(&context, &resource, None, "lambda:UntagResource")?;
            let _updating = service.lock_updates();
            let latest = service.tagged_function(&context.account, &context.region, &resource)?;
            let mut record = (*latest).clone();
            for key in &keys {
                record.tags.remove(key);
            }
            service.save_settings(&context.account, &context.region, record)?;
            Ok(())
        })
        .await
    }

    /// `ListTags`.
    pub async fn list_tags(
        self: &Arc<Self>,
        context: RequestContext,
        resource: String,
    ) -> Result<ListTagsResponse, AwsError> {
        self.blocking(move |service| {
            if let Some(target) = crate::resource_tags::tagged_resource(&resource)? {
                service.authorize_identity(&context, "lambda:ListTags", &resource)?;
                return Ok(ListTagsResponse { tags: service.resource_tags(&context, &resource, &target)? });
            }
            let context = service.acting_for(&context, &resource, None, "lambda:ListTags")?;
            let latest = service.tagged_function(&context.account, &context.region, &resource)?;
            Ok(ListTagsResponse { tags: latest.tags.clone() })
        })
        .await
    }
}

/// Lambda's limit of 50 tags on a function.
pub(crate) fn check_tag_count(tags: &std::collections::BTreeMap<String, String>) -> Result<(), AwsError> {
    if tags.len() > 50 {
        return Err(AwsError::invalid_parameter("Number of tags exceeds resource tag limit."));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_statements_as_aws_does() {
        let request = AddPermissionRequest {
            source_arn: Some("arn:aws:s3:::bucket".into()),
            source_account: Some("000000000000".into()),
            ..Default::default()
        };
        let statement = statement_json(&request, "s3", "lambda:InvokeFunction", "s3.amazonaws.com", "arn:f");
        assert_eq!(statement["Principal"], serde_json::json!({ "Service": "s3.amazonaws.com" }));
        assert_eq!(statement["Condition"]["ArnLike"]["AWS:SourceArn"], "arn:aws:s3:::bucket");
        assert_eq!(statement["Condition"]["StringEquals"]["AWS:SourceAccount"], "000000000000");
        assert_eq!(principal_json("111122223333"), serde_json::json!({ "AWS": "arn:aws:iam::111122223333:root" }));
        assert!(check_action("lambda:InvokeFunction").is_ok());
        let policy = StoredPolicy { statements: vec![statement], revision_id: String::new() };
        assert!(policy_document(&policy).starts_with(
            r#"{"Version":"2012-10-17","Id":"default","Statement":[{"Sid":"s3","Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},"Action":"lambda:InvokeFunction","Resource":"arn:f","Condition":{"#
        ));
        assert!(check_action("s3:GetObject").is_err());
    }
}
