//! Cross-account access: a caller may reach another account's function or layer version by ARN
//! only where that resource's policy (`AddPermission`, `AddLayerVersionPermission`) grants the
//! caller's account the action; every function operation checks it through [`LambdaService::acting_for`].
//! A name, not an ARN, always means the caller's own account. Services triggering a function
//! ask [`LambdaService::service_may_invoke`].

use kumo_core::arn::{parse_function_ref, FunctionRef};
use kumo_core::policy::Denial;
use kumo_core::{AwsError, RequestContext};

use crate::functions::LATEST;
use crate::layers::LayerVersionRecord;
use crate::resource_policy::AccessRequest;
use crate::LambdaService;

/// Whether a policy's statements allow a caller of `caller_account` (acting as `caller_arn`)
/// to perform `action` directly, as an IAM principal rather than through a service trigger.
pub(crate) fn policy_allows(
    statements: &[serde_json::Value],
    caller_account: &str,
    caller_arn: &str,
    action: &str,
) -> bool {
    crate::resource_policy::allows(statements, &AccessRequest::direct(caller_account, caller_arn, action))
}

/// An AWS service about to invoke a function for one of its resources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceTrigger {
    /// The service as policies name it, e.g. `s3.amazonaws.com`.
    pub service_principal: String,
    /// The resource it acts for (`AWS:SourceArn`), e.g. `arn:aws:s3:::bucket`.
    pub source_arn: Option<String>,
    /// The account owning that resource (`AWS:SourceAccount`).
    pub source_account: Option<String>,
}

/// Whether a `FunctionName` parameter is an ARN of an account other than the caller's.
pub(crate) fn names_other_account(context: &RequestContext, value: &str) -> bool {
    parse_function_ref(value).ok().and_then(|reference| reference.account).is_some_and(|a| a != context.account)
}

/// Kumo's in-process deliveries to queues (event source mappings, destinations, dead-letter
/// queues) act for the function's account and do not consult another account's queue policy,
/// so a queue of another account is refused when configured, with the error AWS gives a role that
/// cannot reach the queue.
pub(crate) fn check_own_queue(account: &str, arn: &str, action: &str) -> Result<(), AwsError> {
    let mut parts = arn.split(':');
    let (service, owner) = (parts.nth(2), parts.nth(1));
    if service == Some("sqs") && owner.is_some_and(|owner| owner != account) {
        return Err(AwsError::invalid_parameter(format!(
            "The provided execution role does not have permissions to call {action} on SQS"
        )));
    }
    Ok(())
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
        let owner = match named.account.clone() {
            Some(account) if account != context.account => account,
            _ => {
                self.authorize_function_identity(context, &context.account, &named, qualifier, action)?;
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
        // Across accounts the caller's own policies must allow it too.
        self.authorize_identity(context, action, &resource)?;
        Ok((owner, reference))
    }

    /// The identity check of an operation on `owner`'s function `named` (with the operation's
    /// `qualifier` parameter, if any), before anything about the function is looked up: a role
    /// session not allowed learns nothing about what exists.
    pub(crate) fn authorize_function_identity(
        &self,
        context: &RequestContext,
        owner: &str,
        named: &FunctionRef,
        qualifier: Option<&str>,
        action: &str,
    ) -> Result<(), AwsError> {
        if context.role_arn.is_none() {
            return Ok(());
        }
        let region = named.region.as_deref().unwrap_or(&context.region);
        let qualifier = qualifier.or(named.qualifier.as_deref()).filter(|q| *q != LATEST);
        let resource = match qualifier {
            Some(qualifier) => kumo_core::arn::qualified_function_arn(region, owner, &named.name, qualifier),
            None => kumo_core::arn::function_arn(region, owner, &named.name),
        };
        let Some(authorizer) = self.authorizer() else { return Ok(()) };
        let caller = context.caller();
        let denial = match authorizer.authorize_identity(&caller, action, &resource) {
            Ok(()) => return Ok(()),
            Err(Denial::NoIdentityAllow) if owner == context.account => {
                // Within its account a function's own policy (AddPermission naming the role or the
                // session) is enough, as on AWS; it is read only when the role's policies fall short.
                let statements = self.function_policy_statements(owner, region, &named.name, qualifier);
                match authorizer.authorize(&caller, action, &resource, owner, statements.as_deref(), &[]) {
                    Ok(()) => return Ok(()),
                    Err(denial) => denial,
                }
            }
            Err(denial) => denial,
        };
        Err(AwsError::new("AccessDeniedException", 403, denial.message(&context.caller_arn, action, &resource)))
    }

    /// The statements of the policy of `owner`'s function `name` for `qualifier` (a version or
    /// alias; `None` for the unqualified function), if the function and that policy exist.
    fn function_policy_statements(
        &self,
        owner: &str,
        region: &str,
        name: &str,
        qualifier: Option<&str>,
    ) -> Option<Vec<serde_json::Value>> {
        let latest = self.load_record(owner, region, name, None).ok()?;
        latest.settings.policies.get(qualifier.unwrap_or_default()).map(|policy| policy.statements.clone())
    }

    /// The context an operation on `function_name` runs in: the caller's own, or, for another
    /// account's function named by ARN whose policy grants the caller `action`, that account's
    /// (keeping the caller's ARN). Anything else of another account is denied as AWS denies it.
    pub(crate) fn acting_for(
        &self,
        context: &RequestContext,
        function_name: &str,
        qualifier: Option<&str>,
        action: &str,
    ) -> Result<RequestContext, AwsError> {
        if !names_other_account(context, function_name) {
            let named = parse_function_ref(function_name)?;
            self.authorize_function_identity(context, &context.account, &named, qualifier, action)?;
            return Ok(context.clone());
        }
        let (owner, _) = self.shared_function_ref(context, function_name, qualifier, action)?;
        let mut acting = context.clone();
        acting.account = owner;
        Ok(acting)
    }

    /// Whether the policy of `account`'s function (its version or alias `qualifier`, else the
    /// unqualified function) lets the AWS service `service_principal` (`s3.amazonaws.com`, …)
    /// invoke it for the resource `source_arn` of `source_account`: the check a trigger makes
    /// before it invokes. A function that does not exist is not found.
    pub async fn service_may_invoke(
        self: &std::sync::Arc<Self>,
        account: String,
        region: String,
        function_name: String,
        qualifier: Option<String>,
        trigger: ServiceTrigger,
    ) -> Result<bool, AwsError> {
        self.blocking(move |service| {
            let reference = service.function_ref(&account, &region, &function_name, qualifier.as_deref())?;
            let latest = service.load_record(&account, &region, &reference.name, None)?;
            let key = reference.qualifier.as_deref().filter(|q| *q != LATEST).unwrap_or_default();
            let request = AccessRequest::from_service(
                &trigger.service_principal,
                "lambda:InvokeFunction",
                trigger.source_arn.as_deref(),
                trigger.source_account.as_deref(),
            );
            Ok(latest
                .settings
                .policies
                .get(key)
                .is_some_and(|policy| crate::resource_policy::allows(&policy.statements, &request)))
        })
        .await
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

    const ROOT: &str = "arn:aws:iam::222222222222:root";

    #[test]
    fn queues_of_other_accounts_are_refused_as_delivery_targets() {
        assert!(check_own_queue("000000000000", "arn:aws:sqs:us-east-1:000000000000:q", "SendMessage").is_ok());
        let error =
            check_own_queue("000000000000", "arn:aws:sqs:us-east-1:111111111111:q", "ReceiveMessage").unwrap_err();
        assert_eq!(
            error.message,
            "The provided execution role does not have permissions to call ReceiveMessage on SQS"
        );
        assert!(check_own_queue("000000000000", "arn:aws:lambda:us-east-1:111111111111:function:f", "x").is_ok());
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
