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

/// Whether a policy's statements allow the caller of `context` (its account, its ARN and, for a
/// role session, its role's ARN) to perform `action` directly, as an IAM principal rather than
/// through a service trigger.
pub(crate) fn policy_allows(statements: &[serde_json::Value], context: &RequestContext, action: &str) -> bool {
    let request = AccessRequest::direct(&context.account, &context.caller_arn, context.role_arn.as_deref(), action);
    crate::resource_policy::allows(statements, &request)
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

/// The error AWS gives when a function's execution role may not call `operation` (e.g.
/// `ReceiveMessage`) on a queue Lambda would read or write for it.
pub(crate) fn role_lacks(operation: &str, service: &str) -> AwsError {
    AwsError::invalid_parameter(format!(
        "The provided execution role does not have permissions to call {operation} on {service}"
    ))
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
        let granted = self.load_record(&owner, &context.region, &reference.name, None).ok().is_some_and(|latest| {
            latest
                .settings
                .policies
                .get(policy_key.unwrap_or_default())
                .is_some_and(|policy| policy_allows(&policy.statements, context, action))
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
            Err(Denial::NoIdentityAllow | Denial::NoBoundaryAllow | Denial::NoSessionAllow)
                if owner == context.account =>
            {
                // Within its account a function's own policy (AddPermission naming the role or the
                // session) is enough, as on AWS; it is read only when the role's policies fall short
                // (one naming the session itself also passes its boundary and session policies).
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

    /// Checks that `function_name`'s execution role `role` may perform each of `actions`
    /// (`sqs:ReceiveMessage`, …) on the queue `arn`, as the queue's service decides it through
    /// `authorize` (the role's identity policies and the queue's policy; another account's queue
    /// needs both): Lambda reads and writes queues with the role's credentials on AWS. The first
    /// action refused is AWS's `InvalidParameterValueException`. Not checked under
    /// `--skip-role-check` (the role need not exist then).
    pub(crate) fn check_role_on_queue(
        &self,
        role: &str,
        function_name: &str,
        actions: &[&str],
        authorize: impl Fn(&kumo_core::policy::Caller<'_>, &str) -> Result<(), String>,
    ) -> Result<(), AwsError> {
        if self.execution_roles.get().is_none() {
            return Ok(());
        }
        let role = kumo_core::policy::ExecutionRole::new(role, function_name);
        for action in actions {
            if let Err(why) = authorize(&role.caller(), action) {
                tracing::debug!(role = %role.role_arn, action, %why, "execution role refused");
                let (service, operation) = action.split_once(':').unwrap_or(("sqs", action));
                return Err(role_lacks(operation, &service.to_uppercase()));
            }
        }
        Ok(())
    }

    /// Checks that `function_name`'s execution role may send to its dead-letter queue `target`
    /// (`sqs:SendMessage`), as CreateFunction and UpdateFunctionConfiguration do on AWS.
    pub(crate) fn check_dead_letter_target(
        &self,
        role: &str,
        function_name: &str,
        target: &str,
    ) -> Result<(), AwsError> {
        // Only SQS targets are delivered by Kumo; others (SNS) are stored as given.
        if target.split(':').nth(2) != Some("sqs") {
            return Ok(());
        }
        let Some(sender) = self.engine.destinations().cloned() else { return Ok(()) };
        let action = kumo_invoke::delivery_action(target);
        self.check_role_on_queue(role, function_name, &[action], |caller, action| {
            sender.authorize(target, caller, action)
        })
    }

    /// Whether `caller` (another function's execution role, delivering its outcome) may invoke
    /// the function `arn`: its identity policies and the target function's policy decide, as for
    /// a call of Invoke (across accounts both must allow).
    pub(crate) fn role_may_invoke(&self, arn: &str, caller: &kumo_core::policy::Caller<'_>) -> Result<(), String> {
        let Some(authorizer) = self.authorizer() else { return Ok(()) };
        let reference = parse_function_ref(arn).map_err(|error| error.message)?;
        let owner = reference.account.clone().unwrap_or_else(|| caller.account.to_string());
        let region = reference.region.clone().unwrap_or_else(|| kumo_core::DEFAULT_REGION.to_string());
        let qualifier = reference.qualifier.as_deref().filter(|q| *q != LATEST);
        let statements = self.function_policy_statements(&owner, &region, &reference.name, qualifier);
        let action = "lambda:InvokeFunction";
        authorizer
            .authorize(caller, action, arn, &owner, statements.as_deref(), &[])
            .map_err(|denial| denial.message(caller.arn, action, arn))
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
            Some(record) if policy_allows(&record.policy.statements, context, action) => Ok(Some(record)),
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
    fn a_role_lacking_a_queue_permission_gets_aws_message() {
        let error = role_lacks("ReceiveMessage", "SQS");
        assert_eq!(error.code, "InvalidParameterValueException");
        assert_eq!(
            error.message,
            "The provided execution role does not have permissions to call ReceiveMessage on SQS"
        );
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
