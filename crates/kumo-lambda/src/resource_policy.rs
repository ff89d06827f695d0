//! Evaluation of resource-based policies (a function's `AddPermission` statements, a layer
//! version's `AddLayerVersionPermission` statements) for one request: who calls, which action,
//! and the condition keys the request carries. Cross-account API calls use it today; the
//! triggers to come (S3, SNS, API Gateway) call [`allows`] with a service principal and the
//! `SourceArn`/`SourceAccount` of the resource they act for.
//!
//! As in IAM, a matching `Deny` wins over any `Allow`, and a statement applies only when every
//! one of its conditions holds. A condition key the request does not carry fails a positive
//! test, so a statement conditioned on `AWS:SourceArn` or `AWS:SourceAccount` grants no direct
//! caller: AWS sets those keys only when a service calls on behalf of one of its resources.

use kumo_core::policy::{evaluate, Effect, PolicyKind, Principal, Request};
use serde_json::Value;

pub use kumo_core::policy::arn_like;

/// Who makes a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller<'a> {
    /// An IAM principal of `account` calling Lambda directly: the account's root, a user, or an
    /// assumed-role session (`arn:aws:sts::<account>:assumed-role/<role>/<session>`).
    Iam {
        /// The caller's account id.
        account: &'a str,
        /// The caller's ARN.
        arn: &'a str,
        /// For a role session, its role's ARN with the role's path (which the session ARN
        /// leaves out); `None` for an account's root.
        role_arn: Option<&'a str>,
    },
    /// An AWS service acting for one of its resources, named as policies name it
    /// (`s3.amazonaws.com`, `sns.amazonaws.com`, `apigateway.amazonaws.com`).
    Service(&'a str),
}

/// One request as a resource policy sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessRequest<'a> {
    /// Who calls.
    pub caller: Caller<'a>,
    /// The IAM action, e.g. `lambda:InvokeFunction`.
    pub action: &'a str,
    /// `AWS:SourceArn`: the resource a service acts for (a bucket, topic, API); absent on direct calls.
    pub source_arn: Option<&'a str>,
    /// `AWS:SourceAccount`: the account owning that resource; absent on direct calls.
    pub source_account: Option<&'a str>,
    /// `lambda:FunctionUrlAuthType` (`AWS_IAM` or `NONE`): present on function URL requests only.
    pub function_url_auth_type: Option<&'a str>,
}

impl<'a> AccessRequest<'a> {
    /// A direct API call by an IAM principal (`role_arn` for a role session): it carries no
    /// source keys.
    pub fn direct(account: &'a str, arn: &'a str, role_arn: Option<&'a str>, action: &'a str) -> Self {
        Self {
            caller: Caller::Iam { account, arn, role_arn },
            action,
            source_arn: None,
            source_account: None,
            function_url_auth_type: None,
        }
    }

    /// A service calling for its resource `source_arn` of `source_account` (the trigger case).
    pub fn from_service(
        principal: &'a str,
        action: &'a str,
        source_arn: Option<&'a str>,
        source_account: Option<&'a str>,
    ) -> Self {
        Self { caller: Caller::Service(principal), action, source_arn, source_account, function_url_auth_type: None }
    }
}

/// Whether the statements allow the request: some `Allow` applies and no `Deny` does. The
/// matching is [`kumo_core::policy`]'s, which every service's policies share; the statements
/// govern the function (or layer version) they are attached to, so `Resource` is not consulted.
pub fn allows(statements: &[Value], request: &AccessRequest<'_>) -> bool {
    let principal = match request.caller {
        Caller::Iam { account, arn, role_arn } => Principal::Iam { account, arn, role_arn },
        Caller::Service(service) => Principal::Service(service),
    };
    let mut evaluated = Request::new(principal, request.action, None);
    evaluated
        .set_optional("aws:SourceArn", request.source_arn)
        .set_optional("aws:SourceAccount", request.source_account)
        .set_optional("lambda:FunctionUrlAuthType", request.function_url_auth_type);
    evaluate(statements, PolicyKind::Resource, &evaluated) == Effect::Allow
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const CALLER: &str = "222222222222";
    const ROOT: &str = "arn:aws:iam::222222222222:root";
    const INVOKE: &str = "lambda:InvokeFunction";
    const BUCKET: &str = "arn:aws:s3:::uploads";

    fn grant(principal: Value, action: &str) -> Vec<Value> {
        vec![json!({"Sid": "s", "Effect": "Allow", "Principal": principal, "Action": action, "Resource": "r"})]
    }

    fn with_condition(mut policy: Vec<Value>, condition: Value) -> Vec<Value> {
        policy[0]["Condition"] = condition;
        policy
    }

    fn direct(action: &str) -> AccessRequest<'_> {
        AccessRequest::direct(CALLER, ROOT, None, action)
    }

    #[test]
    fn an_account_principal_grants_every_caller_of_that_account() {
        let policy = grant(json!({"AWS": ROOT}), INVOKE);
        assert!(allows(&policy, &direct(INVOKE)));
        let session = "arn:aws:sts::222222222222:assumed-role/app/s1";
        let role = Some("arn:aws:iam::222222222222:role/app");
        assert!(allows(&policy, &AccessRequest::direct(CALLER, session, role, INVOKE)));
        let stranger = AccessRequest::direct("333333333333", "arn:aws:iam::333333333333:root", None, INVOKE);
        assert!(!allows(&policy, &stranger));
    }

    #[test]
    fn the_action_must_be_granted() {
        let policy = grant(json!({"AWS": ROOT}), "lambda:GetFunction");
        assert!(!allows(&policy, &direct(INVOKE)));
        assert!(allows(&policy, &direct("lambda:getfunction")), "action names are case-insensitive");
        assert!(allows(&grant(json!({"AWS": ROOT}), "lambda:*"), &direct(INVOKE)));
        let listed =
            vec![json!({"Effect": "Allow", "Principal": {"AWS": [CALLER]}, "Action": ["lambda:GetPolicy", INVOKE]})];
        assert!(allows(&listed, &direct(INVOKE)));
    }

    #[test]
    fn everyone_and_role_principals() {
        assert!(allows(&grant(json!("*"), INVOKE), &direct(INVOKE)));
        let role = grant(json!({"AWS": "arn:aws:iam::222222222222:role/app"}), INVOKE);
        let session = "arn:aws:sts::222222222222:assumed-role/app/s1";
        let role_arn = Some("arn:aws:iam::222222222222:role/app");
        assert!(allows(&role, &AccessRequest::direct(CALLER, session, role_arn, INVOKE)));
        assert!(!allows(&role, &direct(INVOKE)), "a role grant is not the account's");
    }

    #[test]
    fn a_role_with_a_path_is_named_by_its_full_arn() {
        let session = "arn:aws:sts::222222222222:assumed-role/app/s1";
        let role_arn = Some("arn:aws:iam::222222222222:role/service-role/app");
        let request = AccessRequest::direct(CALLER, session, role_arn, INVOKE);
        assert!(allows(&grant(json!({"AWS": "arn:aws:iam::222222222222:role/service-role/app"}), INVOKE), &request));
        assert!(
            !allows(&grant(json!({"AWS": "arn:aws:iam::222222222222:role/app"}), INVOKE), &request),
            "without its path the ARN names another role"
        );
        assert!(allows(&grant(json!({"AWS": session}), INVOKE), &request), "the session's own ARN still matches");
    }

    #[test]
    fn a_service_principal_grants_that_service_and_no_direct_caller() {
        let policy = grant(json!({"Service": "s3.amazonaws.com"}), INVOKE);
        assert!(!allows(&policy, &direct(INVOKE)));
        assert!(allows(&policy, &AccessRequest::from_service("s3.amazonaws.com", INVOKE, Some(BUCKET), Some(CALLER))));
        assert!(!allows(&policy, &AccessRequest::from_service("sns.amazonaws.com", INVOKE, None, None)));
        assert!(!allows(&[], &direct(INVOKE)));
    }

    /// The statement `aws lambda add-permission --principal s3.amazonaws.com --source-arn
    /// arn:aws:s3:::uploads --source-account 222222222222` produces.
    fn s3_trigger_policy() -> Vec<Value> {
        with_condition(
            grant(json!({"Service": "s3.amazonaws.com"}), INVOKE),
            json!({"StringEquals": {"AWS:SourceAccount": CALLER}, "ArnLike": {"AWS:SourceArn": BUCKET}}),
        )
    }

    #[test]
    fn a_trigger_is_allowed_only_for_its_source_arn_and_account() {
        let policy = s3_trigger_policy();
        let s3 = |arn, account| AccessRequest::from_service("s3.amazonaws.com", INVOKE, arn, account);
        assert!(allows(&policy, &s3(Some(BUCKET), Some(CALLER))));
        assert!(!allows(&policy, &s3(Some("arn:aws:s3:::other-bucket"), Some(CALLER))));
        assert!(!allows(&policy, &s3(Some(BUCKET), Some("333333333333"))));
        assert!(!allows(&policy, &s3(None, Some(CALLER))), "a missing key fails its condition");
        assert!(!allows(&policy, &s3(Some(BUCKET), None)));
    }

    #[test]
    fn source_arn_patterns_match_as_arn_like_does() {
        let policy = with_condition(
            grant(json!({"Service": "apigateway.amazonaws.com"}), INVOKE),
            json!({"ArnLike": {"AWS:SourceArn": "arn:aws:execute-api:us-east-1:222222222222:abc123/*/GET/items"}}),
        );
        let api = |arn| AccessRequest::from_service("apigateway.amazonaws.com", INVOKE, Some(arn), None);
        assert!(allows(&policy, &api("arn:aws:execute-api:us-east-1:222222222222:abc123/prod/GET/items")));
        assert!(!allows(&policy, &api("arn:aws:execute-api:us-east-1:222222222222:abc123/prod/POST/items")));
        assert!(!allows(&policy, &api("arn:aws:execute-api:eu-west-1:222222222222:abc123/prod/GET/items")));
        assert!(arn_like("arn:aws:sns:*:222222222222:topic-?", "arn:aws:sns:eu-west-1:222222222222:topic-a"));
        assert!(!arn_like("arn:aws:sns:*:222222222222:topic-?", "arn:aws:sns:eu-west-1:222222222222:topic-ab"));
        assert!(!arn_like("arn:aws:s3:::Uploads", BUCKET), "ARN matching is case-sensitive");
        assert!(!arn_like("*", BUCKET), "a pattern must have the six parts of an ARN");
    }

    #[test]
    fn source_conditions_never_grant_a_direct_call() {
        // AWS sets AWS:SourceArn and AWS:SourceAccount only when a service calls for a resource.
        let account_condition =
            with_condition(grant(json!({"AWS": ROOT}), INVOKE), json!({"StringEquals": {"AWS:SourceAccount": CALLER}}));
        assert!(!allows(&account_condition, &direct(INVOKE)));
        let arn_condition = with_condition(grant(json!("*"), INVOKE), json!({"ArnLike": {"AWS:SourceArn": BUCKET}}));
        assert!(!allows(&arn_condition, &direct(INVOKE)));
    }

    #[test]
    fn function_url_auth_type_must_match() {
        let policy = with_condition(
            grant(json!("*"), "lambda:InvokeFunctionUrl"),
            json!({"StringEquals": {"lambda:FunctionUrlAuthType": "NONE"}}),
        );
        let mut request = direct("lambda:InvokeFunctionUrl");
        assert!(!allows(&policy, &request), "a direct call carries no auth type");
        request.function_url_auth_type = Some("NONE");
        assert!(allows(&policy, &request));
        request.function_url_auth_type = Some("AWS_IAM");
        assert!(!allows(&policy, &request));
    }

    #[test]
    fn an_organisation_condition_cannot_be_known_and_grants_nothing() {
        let policy =
            with_condition(grant(json!("*"), INVOKE), json!({"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}));
        assert!(!allows(&policy, &direct(INVOKE)));
    }

    #[test]
    fn condition_key_names_are_case_insensitive_and_values_are_not() {
        let policy = with_condition(
            grant(json!({"AWS": ROOT}), INVOKE),
            json!({"StringEquals": {"aws:principalaccount": CALLER}}),
        );
        assert!(allows(&policy, &direct(INVOKE)));
        let service = with_condition(
            grant(json!({"Service": "s3.amazonaws.com"}), INVOKE),
            json!({"ArnLike": {"aws:sourcearn": "arn:aws:s3:::UPLOADS"}}),
        );
        assert!(!allows(&service, &AccessRequest::from_service("s3.amazonaws.com", INVOKE, Some(BUCKET), None)));
    }

    #[test]
    fn a_matching_deny_wins_and_an_unknown_operator_fails_closed() {
        let mut policy = grant(json!("*"), INVOKE);
        policy.push(json!({"Effect": "Deny", "Principal": {"AWS": CALLER}, "Action": "lambda:*"}));
        assert!(!allows(&policy, &direct(INVOKE)));
        let stranger = AccessRequest::direct("333333333333", "arn:aws:iam::333333333333:root", None, INVOKE);
        assert!(allows(&policy, &stranger));
        let unknown = with_condition(grant(json!("*"), INVOKE), json!({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}));
        assert!(!allows(&unknown, &direct(INVOKE)));
    }
}
