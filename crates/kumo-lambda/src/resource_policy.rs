//! Evaluation of resource-based policies (a function's `AddPermission` statements, a layer
//! version's `AddLayerVersionPermission` statements) for one request: who calls, which action,
//! and the condition keys the request carries. Cross-account API calls use it today; the
//! triggers to come (S3, SNS, API Gateway) call [`allows`] with a service principal and the
//! `SourceArn`/`SourceAccount` of the resource they act for.
//!
//! As in IAM, a matching `Deny` wins over any `Allow`, and a statement applies only when every
//! one of its conditions holds. A condition key the request does not carry fails its test
//! (no `…IfExists` operator is produced by Lambda's APIs), so a statement conditioned on
//! `AWS:SourceArn` or `AWS:SourceAccount` grants no direct caller: AWS sets those keys only
//! when a service calls on behalf of one of its resources.

use serde_json::Value;

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
    /// A direct API call by an IAM principal: it carries no source keys.
    pub fn direct(account: &'a str, arn: &'a str, action: &'a str) -> Self {
        Self {
            caller: Caller::Iam { account, arn },
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

/// Whether the statements allow the request: some `Allow` applies and no `Deny` does.
pub fn allows(statements: &[Value], request: &AccessRequest<'_>) -> bool {
    let applies = |statement: &Value, unknown_condition_holds: bool| {
        strings(&statement["Action"]).any(|granted| action_matches(granted, request.action))
            && principal_matches(&statement["Principal"], &request.caller)
            && conditions_hold(statement.get("Condition"), request, unknown_condition_holds)
    };
    // A condition Kumo cannot evaluate never lets an Allow grant, and never lets a Deny lapse.
    let denied = statements.iter().any(|statement| statement["Effect"] == "Deny" && applies(statement, true));
    !denied && statements.iter().any(|statement| statement["Effect"] == "Allow" && applies(statement, false))
}

/// The string or every string of a list, as IAM policy elements take either.
fn strings(value: &Value) -> impl Iterator<Item = &str> {
    let list = match value {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    list.into_iter().filter_map(Value::as_str)
}

/// IAM action names are case-insensitive; `lambda:*` and `*` cover every Lambda action.
fn action_matches(granted: &str, action: &str) -> bool {
    granted == "*" || granted.eq_ignore_ascii_case("lambda:*") || granted.eq_ignore_ascii_case(action)
}

fn principal_matches(principal: &Value, caller: &Caller<'_>) -> bool {
    if principal == "*" {
        return true;
    }
    match *caller {
        Caller::Service(service) => {
            strings(&principal["Service"]).any(|granted| granted == "*" || granted.eq_ignore_ascii_case(service))
        }
        Caller::Iam { account, arn } => {
            let root = format!("arn:aws:iam::{account}:root");
            let role = assumed_role_arn(arn);
            strings(&principal["AWS"]).any(|granted| {
                granted == "*"
                    || granted == account
                    || granted == root
                    || granted == arn
                    || role.as_deref() == Some(granted)
            })
        }
    }
}

/// `arn:aws:iam::<account>:role/<name>` for a caller acting as a session of that role: a
/// policy naming the role grants its sessions.
fn assumed_role_arn(caller_arn: &str) -> Option<String> {
    let rest = caller_arn.strip_prefix("arn:aws:sts::")?;
    let (account, session) = rest.split_once(":assumed-role/")?;
    let (role, _) = session.split_once('/')?;
    Some(format!("arn:aws:iam::{account}:role/{role}"))
}

/// The value of a condition key in this request: `Ok(None)` when the request does not carry
/// it, `Err(())` when Kumo cannot know it.
fn context_value<'a>(key: &str, request: &AccessRequest<'a>) -> Result<Option<&'a str>, ()> {
    // Condition key names are case-insensitive in IAM; their values are not.
    match key.to_ascii_lowercase().as_str() {
        "aws:sourcearn" => Ok(request.source_arn),
        "aws:sourceaccount" => Ok(request.source_account),
        "lambda:functionurlauthtype" => Ok(request.function_url_auth_type),
        "aws:principalaccount" => Ok(match request.caller {
            Caller::Iam { account, .. } => Some(account),
            Caller::Service(_) => None,
        }),
        // `aws:PrincipalOrgID` needs AWS Organizations, which Kumo does not have: whether a
        // caller belongs to an organisation cannot be known locally. `lambda:EventSourceToken`
        // comes from Alexa, which never calls Kumo. Everything else is unknown too.
        _ => Err(()),
    }
}

/// Whether every condition of a statement holds; `unknown_holds` answers for conditions whose
/// operator or key Kumo cannot evaluate.
fn conditions_hold(condition: Option<&Value>, request: &AccessRequest<'_>, unknown_holds: bool) -> bool {
    let Some(condition) = condition else {
        return true;
    };
    let Some(operators) = condition.as_object() else {
        return unknown_holds;
    };
    operators.iter().all(|(operator, keys)| {
        let Some(keys) = keys.as_object() else {
            return unknown_holds;
        };
        keys.iter().all(|(key, expected)| match context_value(key, request) {
            Err(()) => unknown_holds,
            Ok(actual) => match compare(operator, actual, expected) {
                Some(holds) => holds,
                None => unknown_holds,
            },
        })
    })
}

/// One condition test: any of the expected values matching is enough. `None` for an operator
/// Kumo does not evaluate.
fn compare(operator: &str, actual: Option<&str>, expected: &Value) -> Option<bool> {
    let matcher: fn(&str, &str) -> bool = match operator {
        "StringEquals" => |pattern, value| pattern == value,
        "StringEqualsIgnoreCase" => |pattern, value| pattern.eq_ignore_ascii_case(value),
        "StringLike" => glob_matches,
        "ArnEquals" | "ArnLike" => arn_like,
        _ => return None,
    };
    // Without the key in the request a positive test fails (there are no `…IfExists` forms here).
    let Some(actual) = actual else {
        return Some(false);
    };
    Some(strings(expected).any(|pattern| matcher(pattern, actual)))
}

/// `ArnLike`: each of the six colon-separated parts of the ARN is matched on its own, with `*`
/// and `?` wildcards, case-sensitively (the resource part keeps its own colons).
pub fn arn_like(pattern: &str, arn: &str) -> bool {
    let pattern_parts: Vec<&str> = pattern.splitn(6, ':').collect();
    let arn_parts: Vec<&str> = arn.splitn(6, ':').collect();
    pattern_parts.len() == 6
        && arn_parts.len() == 6
        && pattern_parts.iter().zip(&arn_parts).all(|(pattern, part)| glob_matches(pattern, part))
}

/// `*` matches any run of characters, `?` any one character; everything else itself.
fn glob_matches(pattern: &str, value: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let value: Vec<char> = value.chars().collect();
    let (mut p, mut v) = (0, 0);
    // Where the last `*` was and how much of the value it had taken: the classic backtracking
    // matcher, linear in practice and never exponential.
    let mut star: Option<(usize, usize)> = None;
    while v < value.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == value[v]) {
            p += 1;
            v += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            star = Some((p, v));
            p += 1;
        } else if let Some((star_p, star_v)) = star {
            p = star_p + 1;
            v = star_v + 1;
            star = Some((star_p, star_v + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
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
        AccessRequest::direct(CALLER, ROOT, action)
    }

    #[test]
    fn an_account_principal_grants_every_caller_of_that_account() {
        let policy = grant(json!({"AWS": ROOT}), INVOKE);
        assert!(allows(&policy, &direct(INVOKE)));
        let session = "arn:aws:sts::222222222222:assumed-role/app/s1";
        assert!(allows(&policy, &AccessRequest::direct(CALLER, session, INVOKE)));
        let stranger = AccessRequest::direct("333333333333", "arn:aws:iam::333333333333:root", INVOKE);
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
        assert!(allows(&role, &AccessRequest::direct(CALLER, session, INVOKE)));
        assert!(!allows(&role, &direct(INVOKE)), "a role grant is not the account's");
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
        let stranger = AccessRequest::direct("333333333333", "arn:aws:iam::333333333333:root", INVOKE);
        assert!(allows(&policy, &stranger));
        let unknown = with_condition(
            grant(json!("*"), INVOKE),
            json!({"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}}),
        );
        assert!(!allows(&unknown, &direct(INVOKE)));
    }

    #[test]
    fn globs() {
        assert!(glob_matches("a*c", "abbbc"));
        assert!(glob_matches("*", ""));
        assert!(glob_matches("a?c", "abc"));
        assert!(!glob_matches("a?c", "ac"));
        assert!(glob_matches("*b*b*", "abab"));
        assert!(!glob_matches("*b*b*", "ab"));
    }
}
