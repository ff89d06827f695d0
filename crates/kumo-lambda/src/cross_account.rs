//! Cross-account access: a caller may reach another account's function or layer version by ARN
//! only where that resource's policy (`AddPermission`, `AddLayerVersionPermission`) grants the
//! caller's account the action. A name, not an ARN, always means the caller's own account.

use kumo_core::arn::{parse_function_ref, FunctionRef};
use kumo_core::{AwsError, RequestContext};

use crate::functions::LATEST;
use crate::layers::LayerVersionRecord;
use crate::LambdaService;

/// Whether a policy's statements allow a caller of `caller_account` (acting as `caller_arn`)
/// to perform `action` directly, as an IAM principal rather than through a service trigger.
pub(crate) fn policy_allows(
    statements: &[serde_json::Value],
    caller_account: &str,
    caller_arn: &str,
    action: &str,
) -> bool {
    statements.iter().any(|statement| {
        // Conditions name a trigger's source (SourceArn, SourceAccount) or an organisation Kumo
        // does not know; neither is present on a direct call, so such a statement grants nothing.
        statement["Effect"] == "Allow"
            && statement.get("Condition").is_none()
            && strings(&statement["Action"]).any(|granted| action_matches(granted, action))
            && principal_matches(&statement["Principal"], caller_account, caller_arn)
    })
}

/// The string or every string of a list, as IAM policy elements take either.
fn strings(value: &serde_json::Value) -> impl Iterator<Item = &str> {
    let list = match value {
        serde_json::Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    list.into_iter().filter_map(serde_json::Value::as_str)
}

/// IAM action names are case-insensitive; `lambda:*` and `*` cover every Lambda action.
fn action_matches(granted: &str, action: &str) -> bool {
    granted == "*" || granted.eq_ignore_ascii_case("lambda:*") || granted.eq_ignore_ascii_case(action)
}

fn principal_matches(principal: &serde_json::Value, caller_account: &str, caller_arn: &str) -> bool {
    if principal == "*" {
        return true;
    }
    let root = format!("arn:aws:iam::{caller_account}:root");
    let role = assumed_role_arn(caller_arn);
    strings(&principal["AWS"]).any(|granted| {
        granted == "*"
            || granted == caller_account
            || granted == root
            || granted == caller_arn
            || role.as_deref() == Some(granted)
    })
}

/// `arn:aws:iam::<account>:role/<name>` for a caller acting as a session of that role: a
/// policy naming the role grants its sessions.
fn assumed_role_arn(caller_arn: &str) -> Option<String> {
    let rest = caller_arn.strip_prefix("arn:aws:sts::")?;
    let (account, session) = rest.split_once(":assumed-role/")?;
    let (role, _) = session.split_once('/')?;
    Some(format!("arn:aws:iam::{account}:role/{role}"))
}

/// Whether a `FunctionName` parameter is an ARN of an account other than the caller's.
pub(crate) fn names_other_account(context: &RequestContext, value: &str) -> bool {
    parse_function_ref(value).ok().and_then(|reference| reference.account).is_some_and(|a| a != context.account)
}

/// AWS's answer when no resource-based policy grants a cross-account call.
pub(crate) fn access_denied(caller_arn: &str, action: &str, resource: &str) -> AwsError {
    AwsError::new(
        "AccessDeniedException",
        403,
        format!(
            "User: {caller_arn} is not authorized to perform: {action} on resource: {resource} because no resource-based policy allows the {action} action"
        ),
    )
}

impl LambdaService {
    /// Resolves a `FunctionName` parameter to its owning account and reference: the caller's own
    /// function, or another account's named by ARN when its policy for that qualifier grants the
    /// caller `action`. A missing function of another account is denied as AWS denies it, so
    /// callers cannot probe which functions exist.
    pub(crate) fn shared_function_ref(
        &self,
        context: &RequestContext,
        value: &str,
        qualifier: Option<&str>,
        action: &str,
    ) -> Result<(String, FunctionRef), AwsError> {
        let named = parse_function_ref(value)?;
        let owner = match named.account {
            Some(account) if account != context.account => account,
            _ => {
                let reference = self.function_ref(&context.account, &context.region, value, qualifier)?;
                return Ok((context.account.clone(), reference));
            }
        };
        let reference = self.function_ref(&owner, &context.region, value, qualifier)?;
        let policy_key = reference.qualifier.as_deref().filter(|q| *q != LATEST);
        let resource = match policy_key {
            Some(qualifier) => {
                kumo_core::arn::qualified_function_arn(&context.region, &owner, &reference.name, qualifier)
            }
            None => kumo_core::arn::function_arn(&context.region, &owner, &reference.name),
        };
        let granted =
            self.load_record(&owner, &context.region, &reference.name, None).ok().is_some_and(|latest| {
                latest.settings.policies.get(policy_key.unwrap_or_default()).is_some_and(|policy| {
                    policy_allows(&policy.statements, &context.account, &context.caller_arn, action)
                })
            });
        if !granted {
            return Err(access_denied(&context.caller_arn, action, &resource));
        }
        Ok((owner, reference))
    }

    /// A version of `owner`'s layer as the caller may read it: its own account's, or another
    /// account's whose version policy grants the caller `lambda:GetLayerVersion` (else denied,
    /// missing or not, as AWS does).
    pub(crate) fn shared_layer_version(
        &self,
        context: &RequestContext,
        owner: &str,
        name: &str,
        version: u64,
    ) -> Result<Option<LayerVersionRecord>, AwsError> {
        let record = self.load_layer_version(owner, &context.region, name, version)?;
        if owner == context.account {
            return Ok(record);
        }
        let action = "lambda:GetLayerVersion";
        match record {
            Some(record) if policy_allows(&record.policy.statements, &context.account, &context.caller_arn, action) => {
                Ok(Some(record))
            }
            _ => {
                let resource = kumo_core::arn::layer_version_arn(&context.region, owner, name, version);
                Err(access_denied(&context.caller_arn, action, &resource))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const CALLER: &str = "222222222222";
    const ROOT: &str = "arn:aws:iam::222222222222:root";

    fn grant(principal: serde_json::Value, action: &str) -> Vec<serde_json::Value> {
        vec![json!({"Sid": "s", "Effect": "Allow", "Principal": principal, "Action": action, "Resource": "r"})]
    }

    #[test]
    fn an_account_principal_grants_every_caller_of_that_account() {
        let policy = grant(json!({"AWS": ROOT}), "lambda:InvokeFunction");
        assert!(policy_allows(&policy, CALLER, ROOT, "lambda:InvokeFunction"));
        let session = "arn:aws:sts::222222222222:assumed-role/app/s1";
        assert!(policy_allows(&policy, CALLER, session, "lambda:InvokeFunction"));
        assert!(!policy_allows(&policy, "333333333333", "arn:aws:iam::333333333333:root", "lambda:InvokeFunction"));
    }

    #[test]
    fn the_action_must_be_granted() {
        let policy = grant(json!({"AWS": ROOT}), "lambda:GetFunction");
        assert!(!policy_allows(&policy, CALLER, ROOT, "lambda:InvokeFunction"));
        assert!(policy_allows(&policy, CALLER, ROOT, "lambda:getfunction"), "action names are case-insensitive");
        let wildcard = grant(json!({"AWS": ROOT}), "lambda:*");
        assert!(policy_allows(&wildcard, CALLER, ROOT, "lambda:InvokeFunction"));
    }

    #[test]
    fn everyone_and_role_principals() {
        assert!(policy_allows(&grant(json!("*"), "lambda:InvokeFunction"), CALLER, ROOT, "lambda:InvokeFunction"));
        let role = grant(json!({"AWS": "arn:aws:iam::222222222222:role/app"}), "lambda:InvokeFunction");
        let session = "arn:aws:sts::222222222222:assumed-role/app/s1";
        assert!(policy_allows(&role, CALLER, session, "lambda:InvokeFunction"));
        assert!(!policy_allows(&role, CALLER, ROOT, "lambda:InvokeFunction"), "a role grant is not the account's");
    }

    #[test]
    fn service_principals_and_conditional_statements_grant_no_direct_caller() {
        let service = grant(json!({"Service": "s3.amazonaws.com"}), "lambda:InvokeFunction");
        assert!(!policy_allows(&service, CALLER, ROOT, "lambda:InvokeFunction"));
        let mut conditional = grant(json!({"AWS": ROOT}), "lambda:InvokeFunction");
        conditional[0]["Condition"] = json!({"ArnLike": {"AWS:SourceArn": "arn:aws:s3:::bucket"}});
        assert!(!policy_allows(&conditional, CALLER, ROOT, "lambda:InvokeFunction"));
        assert!(!policy_allows(&[], CALLER, ROOT, "lambda:InvokeFunction"));
    }

    #[test]
    fn denial_names_the_caller_action_and_resource_as_aws_does() {
        let error = access_denied(ROOT, "lambda:InvokeFunction", "arn:aws:lambda:us-east-1:111111111111:function:f");
        assert_eq!((error.code, error.status), ("AccessDeniedException", 403));
        assert_eq!(
            error.message,
            "User: arn:aws:iam::222222222222:root is not authorized to perform: lambda:InvokeFunction on resource: arn:aws:lambda:us-east-1:111111111111:function:f because no resource-based policy allows the lambda:InvokeFunction action"
        );
    }
}
