use serde_json::{json, Value};

use super::*;

const HOME: &str = "000000000000";
const OTHER: &str = "222222222222";
const SESSION: &str = "arn:aws:sts::000000000000:assumed-role/app/fn";
const ROLE: &str = "arn:aws:iam::000000000000:role/app";
const QUEUE: &str = "arn:aws:sqs:us-east-1:000000000000:jobs";
const SEND: &str = "sqs:SendMessage";

fn session_request<'a>(action: &'a str, resource: &'a str) -> Request<'a> {
    Request::new(Principal::Iam { account: HOME, arn: SESSION, role_arn: Some(ROLE) }, action, Some(resource))
}

fn identity(statements: Value) -> Vec<Value> {
    statements_of(&json!({ "Version": "2012-10-17", "Statement": statements }))
}

fn allow(action: Value, resource: Value) -> Value {
    json!({"Effect": "Allow", "Action": action, "Resource": resource})
}

#[test]
fn actions_match_case_insensitively_with_wildcards() {
    assert!(action_matches("sqs:SendMessage", "sqs:sendmessage"));
    assert!(action_matches("SQS:*", "sqs:SendMessage"));
    assert!(action_matches("*", "lambda:InvokeFunction"));
    assert!(action_matches("lambda:Get*", "lambda:GetFunction"));
    assert!(action_matches("sqs:?endMessage", "sqs:SendMessage"));
    assert!(!action_matches("lambda:Get*", "lambda:InvokeFunction"));
    assert!(!action_matches("sqs:Send", "sqs:SendMessage"));
}

#[test]
fn identity_policies_allow_only_what_they_name() {
    let policy = identity(json!([allow(json!(SEND), json!(QUEUE))]));
    assert_eq!(evaluate(&policy, PolicyKind::Identity, &session_request(SEND, QUEUE)), Effect::Allow);
    let receive = session_request("sqs:ReceiveMessage", QUEUE);
    assert_eq!(evaluate(&policy, PolicyKind::Identity, &receive), Effect::NotApplicable);
    let other_queue = session_request(SEND, "arn:aws:sqs:us-east-1:000000000000:other");
    assert_eq!(evaluate(&policy, PolicyKind::Identity, &other_queue), Effect::NotApplicable);
    assert_eq!(evaluate(&[], PolicyKind::Identity, &session_request(SEND, QUEUE)), Effect::NotApplicable);
}

#[test]
fn resource_wildcards_are_case_sensitive() {
    let policy = identity(json!([allow(json!("sqs:*"), json!("arn:aws:sqs:*:000000000000:job?"))]));
    assert_eq!(evaluate(&policy, PolicyKind::Identity, &session_request(SEND, QUEUE)), Effect::Allow);
    let upper = session_request(SEND, "arn:aws:sqs:us-east-1:000000000000:JOBS");
    assert_eq!(evaluate(&policy, PolicyKind::Identity, &upper), Effect::NotApplicable);
    let everything = identity(json!([allow(json!("*"), json!("*"))]));
    assert_eq!(evaluate(&everything, PolicyKind::Identity, &upper), Effect::Allow);
}

#[test]
fn not_action_and_not_resource_invert_their_lists() {
    // PowerUserAccess: everything but IAM.
    let power_user = identity(json!([{"Effect": "Allow", "NotAction": ["iam:*"], "Resource": "*"}]));
    assert_eq!(evaluate(&power_user, PolicyKind::Identity, &session_request(SEND, QUEUE)), Effect::Allow);
    let create_role = session_request("iam:CreateRole", ROLE);
    assert_eq!(evaluate(&power_user, PolicyKind::Identity, &create_role), Effect::NotApplicable);
    let not_resource = identity(json!([{"Effect": "Allow", "Action": "sqs:*", "NotResource": QUEUE}]));
    assert_eq!(evaluate(&not_resource, PolicyKind::Identity, &session_request(SEND, QUEUE)), Effect::NotApplicable);
    let elsewhere = session_request(SEND, "arn:aws:sqs:us-east-1:000000000000:other");
    assert_eq!(evaluate(&not_resource, PolicyKind::Identity, &elsewhere), Effect::Allow);
}

#[test]
fn an_explicit_deny_wins_over_any_allow() {
    let policy = identity(json!([
        allow(json!("*"), json!("*")),
        {"Effect": "Deny", "Action": "sqs:Send*", "Resource": QUEUE}
    ]));
    assert_eq!(evaluate(&policy, PolicyKind::Identity, &session_request(SEND, QUEUE)), Effect::ExplicitDeny);
    assert_eq!(decide(&session_request(SEND, QUEUE), Some(&policy), None, HOME), Err(Denial::IdentityDeny));
    let queue_policy = vec![json!({"Effect": "Deny", "Principal": "*", "Action": "sqs:*", "Resource": QUEUE})];
    let admin = identity(json!([allow(json!("*"), json!("*"))]));
    assert_eq!(
        decide(&session_request(SEND, QUEUE), Some(&admin), Some(&queue_policy), HOME),
        Err(Denial::ResourceDeny)
    );
}

#[test]
fn within_an_account_either_policy_allows_and_root_needs_none() {
    let request = session_request(SEND, QUEUE);
    assert_eq!(decide(&request, Some(&[]), None, HOME), Err(Denial::NoIdentityAllow));
    let queue_policy = vec![json!({"Effect": "Allow", "Principal": {"AWS": ROLE}, "Action": SEND, "Resource": QUEUE})];
    assert_eq!(decide(&request, Some(&[]), Some(&queue_policy), HOME), Ok(()));
    let root = Request::new(
        Principal::Iam { account: HOME, arn: "arn:aws:iam::000000000000:root", role_arn: None },
        SEND,
        Some(QUEUE),
    );
    assert_eq!(decide(&root, None, None, HOME), Ok(()));
}

#[test]
fn across_accounts_both_policies_must_allow() {
    let stranger_root = "arn:aws:iam::222222222222:root";
    let root = Request::new(Principal::Iam { account: OTHER, arn: stranger_root, role_arn: None }, SEND, Some(QUEUE));
    assert_eq!(decide(&root, None, None, HOME), Err(Denial::NoResourceAllow));
    let grant = vec![json!({"Effect": "Allow", "Principal": {"AWS": OTHER}, "Action": SEND, "Resource": QUEUE})];
    assert_eq!(decide(&root, None, Some(&grant), HOME), Ok(()));
    let receive = Request::new(
        Principal::Iam { account: OTHER, arn: stranger_root, role_arn: None },
        "sqs:ReceiveMessage",
        Some(QUEUE),
    );
    assert_eq!(decide(&receive, None, Some(&grant), HOME), Err(Denial::NoResourceAllow));
    let (session, role) = ("arn:aws:sts::222222222222:assumed-role/worker/s", "arn:aws:iam::222222222222:role/worker");
    let role_session =
        Request::new(Principal::Iam { account: OTHER, arn: session, role_arn: Some(role) }, SEND, Some(QUEUE));
    assert_eq!(decide(&role_session, Some(&[]), Some(&grant), HOME), Err(Denial::NoIdentityAllow));
    let allowed = identity(json!([allow(json!("sqs:SendMessage"), json!("*"))]));
    assert_eq!(decide(&role_session, Some(&allowed), Some(&grant), HOME), Ok(()));
}

#[test]
fn principals_of_resource_policies() {
    let request = |account, arn, role_arn| Request::new(Principal::Iam { account, arn, role_arn }, SEND, Some(QUEUE));
    let grants = |principal: Value, request: &Request<'_>| {
        let policy = vec![json!({"Effect": "Allow", "Principal": principal, "Action": "sqs:*", "Resource": "*"})];
        evaluate(&policy, PolicyKind::Resource, request) == Effect::Allow
    };
    let root = request(OTHER, "arn:aws:iam::222222222222:root", None);
    let session = request(
        OTHER,
        "arn:aws:sts::222222222222:assumed-role/worker/s",
        Some("arn:aws:iam::222222222222:role/worker"),
    );
    assert!(grants(json!("*"), &root));
    assert!(grants(json!({"AWS": "*"}), &root));
    assert!(grants(json!({"AWS": OTHER}), &session), "an account grants all its principals");
    assert!(grants(json!({"AWS": "arn:aws:iam::222222222222:root"}), &session));
    assert!(grants(json!({"AWS": ["x", "arn:aws:iam::222222222222:role/worker"]}), &session));
    assert!(!grants(json!({"AWS": "arn:aws:iam::222222222222:role/worker"}), &root), "a role is not its account");
    assert!(!grants(json!({"AWS": "333333333333"}), &root));
    assert!(!grants(json!({"Service": "sns.amazonaws.com"}), &root));
    let sns = Request::new(Principal::Service("sns.amazonaws.com"), SEND, Some(QUEUE));
    assert!(grants(json!({"Service": "sns.amazonaws.com"}), &sns));
    assert!(!grants(json!({"AWS": OTHER}), &sns));
    let not_principal = vec![json!({"Effect": "Deny", "NotPrincipal": {"AWS": HOME}, "Action": "*", "Resource": "*"})];
    assert_eq!(evaluate(&not_principal, PolicyKind::Resource, &root), Effect::ExplicitDeny);
    assert_eq!(
        evaluate(&not_principal, PolicyKind::Resource, &request(HOME, "arn:aws:iam::000000000000:root", None)),
        Effect::NotApplicable
    );
}

fn conditioned(condition: Value) -> Vec<Value> {
    vec![json!({"Effect": "Allow", "Principal": "*", "Action": "sqs:*", "Resource": "*", "Condition": condition})]
}

fn holds(condition: Value, request: &Request<'_>) -> bool {
    evaluate(&conditioned(condition), PolicyKind::Resource, request) == Effect::Allow
}

#[test]
fn source_arn_and_account_conditions() {
    let topic = "arn:aws:sns:us-east-1:000000000000:events";
    let mut from_sns = Request::new(Principal::Service("sns.amazonaws.com"), SEND, Some(QUEUE));
    from_sns.set("aws:SourceArn", topic).set("aws:SourceAccount", HOME);
    assert!(holds(json!({"ArnEquals": {"aws:SourceArn": topic}}), &from_sns));
    assert!(holds(json!({"ArnLike": {"aws:SourceArn": "arn:aws:sns:*:000000000000:*"}}), &from_sns));
    assert!(!holds(json!({"ArnLike": {"aws:SourceArn": "arn:aws:sns:*:111111111111:*"}}), &from_sns));
    assert!(holds(json!({"StringEquals": {"AWS:SourceAccount": HOME}}), &from_sns), "key names ignore case");
    let direct = session_request(SEND, QUEUE);
    assert!(!holds(json!({"ArnEquals": {"aws:SourceArn": topic}}), &direct), "a direct call has no source");
    assert!(holds(json!({"ArnEqualsIfExists": {"aws:SourceArn": topic}}), &direct));
    assert!(holds(json!({"ArnNotEquals": {"aws:SourceArn": topic}}), &direct), "negated tests hold when absent");
    assert!(!holds(json!({"ArnNotEquals": {"aws:SourceArn": topic}}), &from_sns));
}

#[test]
fn string_operators() {
    let request = session_request(SEND, QUEUE);
    assert!(holds(json!({"StringEquals": {"aws:PrincipalAccount": HOME}}), &request));
    assert!(holds(json!({"StringEquals": {"aws:PrincipalAccount": [OTHER, HOME]}}), &request));
    assert!(!holds(json!({"StringEquals": {"aws:PrincipalAccount": OTHER}}), &request));
    assert!(holds(json!({"StringNotEquals": {"aws:PrincipalAccount": OTHER}}), &request));
    assert!(holds(json!({"StringLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/a*"}}), &request));
    assert!(!holds(json!({"StringNotLike": {"aws:PrincipalArn": "*:role/app"}}), &request));
    assert!(holds(json!({"StringEqualsIgnoreCase": {"aws:PrincipalType": "assumedrole"}}), &request));
    assert!(
        holds(json!({"StringEquals": {"aws:PrincipalArn": ROLE}}), &request),
        "a session's PrincipalArn is its role"
    );
}

#[test]
fn bool_null_numeric_and_date_operators() {
    let request = session_request(SEND, QUEUE);
    assert!(holds(json!({"Bool": {"aws:SecureTransport": "false"}}), &request));
    assert!(holds(json!({"Bool": {"aws:SecureTransport": false}}), &request));
    assert!(!holds(json!({"Bool": {"aws:SecureTransport": "true"}}), &request));
    assert!(holds(json!({"Null": {"aws:SourceArn": "true"}}), &request));
    assert!(holds(json!({"Null": {"aws:PrincipalArn": "false"}}), &request));
    assert!(holds(json!({"NumericGreaterThan": {"aws:EpochTime": 1_000_000_000}}), &request));
    assert!(holds(json!({"NumericLessThanEquals": {"aws:EpochTime": "99999999999"}}), &request));
    assert!(!holds(json!({"NumericEquals": {"aws:EpochTime": "not a number"}}), &request));
    assert!(holds(json!({"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}}), &request));
    assert!(holds(json!({"DateLessThan": {"aws:CurrentTime": "2999-01-01"}}), &request));
    assert!(!holds(json!({"DateLessThan": {"aws:CurrentTime": "1577836800"}}), &request));
    assert!(holds(json!({"NumericLessThanIfExists": {"aws:MultiFactorAuthPresent": 3}}), &request));
}

#[test]
fn every_operator_and_key_must_hold() {
    let request = session_request(SEND, QUEUE);
    let both = json!({"StringEquals": {"aws:PrincipalAccount": HOME, "aws:PrincipalType": "AssumedRole"},
                      "Bool": {"aws:SecureTransport": "false"}});
    assert!(holds(both, &request));
    let one_fails = json!({"StringEquals": {"aws:PrincipalAccount": HOME}, "Bool": {"aws:SecureTransport": "true"}});
    assert!(!holds(one_fails, &request));
}

#[test]
fn set_operators() {
    let mut request = session_request(SEND, QUEUE);
    request.keys.insert("aws:calledvia".into(), vec!["a.amazonaws.com".into(), "b.amazonaws.com".into()]);
    assert!(holds(json!({"ForAnyValue:StringEquals": {"aws:CalledVia": "b.amazonaws.com"}}), &request));
    assert!(!holds(json!({"ForAllValues:StringEquals": {"aws:CalledVia": "b.amazonaws.com"}}), &request));
    assert!(holds(json!({"ForAllValues:StringLike": {"aws:CalledVia": "*.amazonaws.com"}}), &request));
    let bare = session_request(SEND, QUEUE);
    assert!(holds(json!({"ForAllValues:StringEquals": {"aws:CalledVia": "x"}}), &bare), "empty set");
    assert!(!holds(json!({"ForAnyValue:StringEquals": {"aws:CalledVia": "x"}}), &bare));
}

#[test]
fn what_kumo_cannot_know_fails_closed() {
    let request = session_request(SEND, QUEUE);
    let org = json!({"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}});
    assert!(!holds(org.clone(), &request));
    let not_org = json!({"StringNotEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}});
    assert!(!holds(not_org.clone(), &request), "an unknown key never lets an Allow grant");
    let deny = vec![json!({"Effect": "Deny", "Principal": "*", "Action": "*", "Resource": "*", "Condition": not_org})];
    assert_eq!(evaluate(&deny, PolicyKind::Resource, &request), Effect::ExplicitDeny, "nor a Deny lapse");
    assert!(!holds(json!({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}), &request));
    assert!(!holds(json!({"NoSuchOperator": {"aws:PrincipalAccount": HOME}}), &request));
    assert!(!holds(json!("not an object"), &request));
}

#[test]
fn a_resource_less_resource_policy_governs_its_own_resource() {
    let policy = vec![json!({"Effect": "Allow", "Principal": {"AWS": HOME}, "Action": "lambda:InvokeFunction"})];
    let request = Request::new(
        Principal::Iam { account: HOME, arn: "arn:aws:iam::000000000000:root", role_arn: None },
        "lambda:InvokeFunction",
        None,
    );
    assert_eq!(evaluate(&policy, PolicyKind::Resource, &request), Effect::Allow);
}

#[test]
fn denial_messages_read_as_aws_writes_them() {
    assert_eq!(
        Denial::NoIdentityAllow.message(SESSION, "lambda:InvokeFunction", "arn:aws:lambda:us-east-1:000000000000:function:x"),
        "User: arn:aws:sts::000000000000:assumed-role/app/fn is not authorized to perform: lambda:InvokeFunction on resource: arn:aws:lambda:us-east-1:000000000000:function:x because no identity-based policy allows the lambda:InvokeFunction action"
    );
    assert!(Denial::IdentityDeny
        .message(SESSION, SEND, QUEUE)
        .ends_with("with an explicit deny in an identity-based policy"));
    assert!(Denial::NoResourceAllow
        .message(SESSION, SEND, QUEUE)
        .ends_with("because no resource-based policy allows the sqs:SendMessage action"));
}

struct Fixed(Vec<Value>);

impl IdentityPolicies for Fixed {
    fn statements_of_role(&self, _role_arn: &str) -> Arc<Vec<Value>> {
        Arc::new(self.0.clone())
    }
}

#[test]
fn the_authorizer_holds_role_sessions_to_their_policies_when_enforcing() {
    let caller = Caller { account: HOME, arn: SESSION, role_arn: Some(ROLE), access_key: "" };
    let root = Caller { account: HOME, arn: "arn:aws:iam::000000000000:root", role_arn: None, access_key: "" };
    let nothing = Authorizer::enforcing(Arc::new(Fixed(Vec::new())));
    assert_eq!(nothing.authorize(&caller, SEND, QUEUE, HOME, None, &[]), Err(Denial::NoIdentityAllow));
    assert_eq!(nothing.authorize(&root, SEND, QUEUE, HOME, None, &[]), Ok(()));
    let sender = Authorizer::enforcing(Arc::new(Fixed(identity(json!([allow(json!(SEND), json!("*"))])))));
    assert_eq!(sender.authorize(&caller, SEND, QUEUE, HOME, None, &[]), Ok(()));
    let off = Authorizer::identity_not_enforced();
    assert_eq!(off.authorize(&caller, SEND, QUEUE, HOME, None, &[]), Ok(()));
    let stranger = Caller { account: OTHER, arn: "arn:aws:iam::222222222222:root", role_arn: None, access_key: "" };
    assert_eq!(off.authorize(&stranger, SEND, QUEUE, HOME, None, &[]), Err(Denial::NoResourceAllow));
    let conditioned = identity(json!([{"Effect": "Allow", "Action": "sqs:*", "Resource": "*",
        "Condition": {"ArnEquals": {"aws:SourceArn": "arn:aws:sns:us-east-1:000000000000:t"}}}]));
    let with_source = Authorizer::enforcing(Arc::new(Fixed(conditioned)));
    assert!(with_source.authorize(&caller, SEND, QUEUE, HOME, None, &[]).is_err());
    let keys = [("aws:SourceArn", "arn:aws:sns:us-east-1:000000000000:t")];
    assert_eq!(with_source.authorize(&caller, SEND, QUEUE, HOME, None, &keys), Ok(()));
}

#[test]
fn globs() {
    assert!(glob_matches("a*c", "abbbc"));
    assert!(glob_matches("*", ""));
    assert!(glob_matches("a?c", "abc"));
    assert!(!glob_matches("a?c", "ac"));
    assert!(glob_matches("*b*b*", "abab"));
    assert!(!glob_matches("*b*b*", "ab"));
    assert!(arn_like("arn:aws:sns:*:222222222222:topic-?", "arn:aws:sns:eu-west-1:222222222222:topic-a"));
    assert!(!arn_like("arn:aws:s3:::Uploads", "arn:aws:s3:::uploads"));
    assert!(!arn_like("*", "arn:aws:s3:::uploads"), "a pattern must have the six parts of an ARN");
}

#[test]
fn within_an_account_a_resource_policy_naming_only_the_account_delegates() {
    let request = session_request(SEND, QUEUE);
    for account in [json!(HOME), json!("arn:aws:iam::000000000000:root")] {
        let policy = vec![json!({"Effect": "Allow", "Principal": {"AWS": account}, "Action": SEND})];
        assert_eq!(decide(&request, Some(&[]), Some(&policy), HOME), Err(Denial::NoIdentityAllow));
        let allowed = identity(json!([allow(json!(SEND), json!("*"))]));
        assert_eq!(decide(&request, Some(&allowed), Some(&policy), HOME), Ok(()));
        // Across accounts naming the account is the grant (the caller's own policies decide too).
        let stranger = Request::new(
            Principal::Iam {
                account: OTHER,
                arn: "arn:aws:sts::222222222222:assumed-role/r/s",
                role_arn: Some("arn:aws:iam::222222222222:role/r"),
            },
            SEND,
            Some(QUEUE),
        );
        let policy = vec![json!({"Effect": "Allow", "Principal": {"AWS": OTHER}, "Action": SEND})];
        assert_eq!(decide(&stranger, None, Some(&policy), HOME), Ok(()));
    }
    // A Deny naming the account still applies to each of its principals.
    let deny = vec![json!({"Effect": "Deny", "Principal": {"AWS": HOME}, "Action": SEND})];
    let allowed = identity(json!([allow(json!(SEND), json!("*"))]));
    assert_eq!(decide(&request, Some(&allowed), Some(&deny), HOME), Err(Denial::ResourceDeny));
    let session = vec![json!({"Effect": "Allow", "Principal": {"AWS": SESSION}, "Action": SEND})];
    assert_eq!(decide(&request, Some(&[]), Some(&session), HOME), Ok(()));
}

/// Identity policies with a permissions boundary and session policies.
struct Limited {
    identity: Vec<Value>,
    boundary: Option<Vec<Value>>,
    session: Option<Vec<Value>>,
}

impl IdentityPolicies for Limited {
    fn statements_of_role(&self, _role_arn: &str) -> Arc<Vec<Value>> {
        Arc::new(self.identity.clone())
    }

    fn boundary_of_role(&self, _role_arn: &str) -> Option<Arc<Vec<Value>>> {
        self.boundary.clone().map(Arc::new)
    }

    fn session_statements(&self, access_key: &str) -> Option<Arc<Vec<Value>>> {
        self.session.clone().filter(|_| access_key == "ASIASESSION").map(Arc::new)
    }
}

#[test]
fn boundaries_and_session_policies_intersect_with_identity_policies() {
    let caller = Caller { account: HOME, arn: SESSION, role_arn: Some(ROLE), access_key: "ASIASESSION" };
    let everything = identity(json!([allow(json!("*"), json!("*"))]));
    let sqs_only = identity(json!([allow(json!("sqs:*"), json!("*"))]));
    let authorizer = |boundary: Option<Vec<Value>>, session: Option<Vec<Value>>| {
        Authorizer::enforcing(Arc::new(Limited { identity: everything.clone(), boundary, session }))
    };
    let list = "lambda:ListFunctions";
    let bounded = authorizer(Some(sqs_only.clone()), None);
    assert_eq!(bounded.authorize_identity(&caller, SEND, QUEUE), Ok(()));
    assert_eq!(bounded.authorize_identity(&caller, list, "*"), Err(Denial::NoBoundaryAllow));
    assert_eq!(bounded.authorize(&caller, list, "*", HOME, None, &[]), Err(Denial::NoBoundaryAllow));
    let session = authorizer(None, Some(sqs_only.clone()));
    assert_eq!(session.authorize_identity(&caller, list, "*"), Err(Denial::NoSessionAllow));
    assert_eq!(session.authorize(&caller, SEND, QUEUE, HOME, None, &[]), Ok(()));
    let other_key = Caller { access_key: "ASIAOTHER", ..caller };
    assert_eq!(session.authorize_identity(&other_key, list, "*"), Ok(()), "session policies are per session");
    let denying =
        identity(json!([allow(json!("*"), json!("*")), {"Effect": "Deny", "Action": "sqs:*", "Resource": "*"}]));
    assert_eq!(
        authorizer(None, Some(denying.clone())).authorize_identity(&caller, SEND, QUEUE),
        Err(Denial::SessionDeny)
    );
    assert_eq!(authorizer(Some(denying), None).authorize_identity(&caller, SEND, QUEUE), Err(Denial::BoundaryDeny));
    // Neither grants what the role's own policies do not.
    let bare =
        Authorizer::enforcing(Arc::new(Limited { identity: Vec::new(), boundary: None, session: Some(everything) }));
    assert_eq!(bare.authorize_identity(&caller, SEND, QUEUE), Err(Denial::NoIdentityAllow));
    assert!(Denial::NoSessionAllow
        .message(SESSION, list, "*")
        .ends_with("because no session policy allows the lambda:ListFunctions action"));
}

/// A resource policy allowing `SEND` to `principal` (a `Principal` element's `AWS` value).
fn granting(principal: &str) -> Vec<Value> {
    vec![json!({"Effect": "Allow", "Principal": {"AWS": principal}, "Action": SEND, "Resource": QUEUE})]
}

/// A role with no identity policies of its own, the given boundary, and session policies for the
/// `ASIASESSION` key.
fn limited(boundary: Option<Vec<Value>>, session: Option<Vec<Value>>) -> Authorizer {
    Authorizer::enforcing(Arc::new(Limited { identity: Vec::new(), boundary, session }))
}

#[test]
fn a_session_policy_does_not_limit_a_grant_to_the_session_arn() {
    let caller = Caller { account: HOME, arn: SESSION, role_arn: Some(ROLE), access_key: "ASIASESSION" };
    let lambda_only = identity(json!([allow(json!("lambda:*"), json!("*"))]));
    let authorizer = limited(None, Some(lambda_only));
    // AWS adds a grant to the session's ARN after the session policy is applied.
    assert_eq!(authorizer.authorize(&caller, SEND, QUEUE, HOME, Some(&granting(SESSION)), &[]), Ok(()));
    // A grant to the role's ARN is added before: the session policy caps it.
    assert_eq!(
        authorizer.authorize(&caller, SEND, QUEUE, HOME, Some(&granting(ROLE)), &[]),
        Err(Denial::NoSessionAllow)
    );
    assert_eq!(
        authorizer.authorize(&caller, SEND, QUEUE, HOME, Some(&granting("*")), &[]),
        Err(Denial::NoSessionAllow)
    );
    // Another session of the same role is not the session named.
    let other = Caller { arn: "arn:aws:sts::000000000000:assumed-role/app/other", ..caller };
    assert_eq!(
        authorizer.authorize(&other, SEND, QUEUE, HOME, Some(&granting(SESSION)), &[]),
        Err(Denial::NoIdentityAllow)
    );
}

#[test]
fn a_permissions_boundary_does_not_limit_a_grant_to_the_session_arn() {
    let caller = Caller { account: HOME, arn: SESSION, role_arn: Some(ROLE), access_key: "" };
    let lambda_only = identity(json!([allow(json!("lambda:*"), json!("*"))]));
    let authorizer = limited(Some(lambda_only), None);
    assert_eq!(authorizer.authorize(&caller, SEND, QUEUE, HOME, Some(&granting(SESSION)), &[]), Ok(()));
    // The boundary caps a grant to the role's ARN (and to everyone).
    assert_eq!(
        authorizer.authorize(&caller, SEND, QUEUE, HOME, Some(&granting(ROLE)), &[]),
        Err(Denial::NoBoundaryAllow)
    );
    assert_eq!(
        authorizer.authorize(&caller, SEND, QUEUE, HOME, Some(&granting("*")), &[]),
        Err(Denial::NoBoundaryAllow)
    );
    // Naming the account only delegates to the role's own policies, which allow nothing.
    assert_eq!(
        authorizer.authorize(&caller, SEND, QUEUE, HOME, Some(&granting(HOME)), &[]),
        Err(Denial::NoIdentityAllow)
    );
}

#[test]
fn explicit_denies_still_limit_a_grant_to_the_session_arn() {
    let caller = Caller { account: HOME, arn: SESSION, role_arn: Some(ROLE), access_key: "ASIASESSION" };
    let denying =
        identity(json!([allow(json!("*"), json!("*")), {"Effect": "Deny", "Action": "sqs:*", "Resource": "*"}]));
    let session = limited(None, Some(denying.clone()));
    assert_eq!(session.authorize(&caller, SEND, QUEUE, HOME, Some(&granting(SESSION)), &[]), Err(Denial::SessionDeny));
    let bounded = limited(Some(denying), None);
    assert_eq!(bounded.authorize(&caller, SEND, QUEUE, HOME, Some(&granting(SESSION)), &[]), Err(Denial::BoundaryDeny));
}

#[test]
fn across_accounts_a_grant_to_the_session_arn_is_still_limited() {
    let stranger_session = "arn:aws:sts::222222222222:assumed-role/app/fn";
    let stranger_role = "arn:aws:iam::222222222222:role/app";
    let caller =
        Caller { account: OTHER, arn: stranger_session, role_arn: Some(stranger_role), access_key: "ASIASESSION" };
    let everything = identity(json!([allow(json!("*"), json!("*"))]));
    let lambda_only = identity(json!([allow(json!("lambda:*"), json!("*"))]));
    // The caller's own account must allow it too, through its boundary and session policies.
    let bounded = Authorizer::enforcing(Arc::new(Limited {
        identity: everything.clone(),
        boundary: Some(lambda_only.clone()),
        session: None,
    }));
    assert_eq!(
        bounded.authorize(&caller, SEND, QUEUE, HOME, Some(&granting(stranger_session)), &[]),
        Err(Denial::NoBoundaryAllow)
    );
    let session =
        Authorizer::enforcing(Arc::new(Limited { identity: everything, boundary: None, session: Some(lambda_only) }));
    assert_eq!(
        session.authorize(&caller, SEND, QUEUE, HOME, Some(&granting(stranger_session)), &[]),
        Err(Denial::NoSessionAllow)
    );
    let request = Request::new(caller.principal(), SEND, Some(QUEUE));
    assert!(!grants_session_directly(&request, Some(&granting(stranger_session)), HOME));
}

/// `service-role/worker`'s session `drain`: the session ARN leaves the role's path out.
const PATHED_SESSION: &str = "arn:aws:sts::000000000000:assumed-role/worker/drain";
const PATHED_ROLE: &str = "arn:aws:iam::000000000000:role/service-role/worker";

fn pathed_session_request(action: &str) -> Request<'_> {
    Request::new(
        Principal::Iam { account: HOME, arn: PATHED_SESSION, role_arn: Some(PATHED_ROLE) },
        action,
        Some(QUEUE),
    )
}

#[test]
fn a_resource_policy_names_a_role_with_a_path_by_its_full_arn() {
    let request = pathed_session_request(SEND);
    let grants = |principal: &str| {
        let policy = vec![json!({"Effect": "Allow", "Principal": {"AWS": principal}, "Action": SEND})];
        evaluate(&policy, PolicyKind::Resource, &request) == Effect::Allow
    };
    assert!(grants(PATHED_ROLE), "the role's ARN with its path grants every session of the role");
    assert!(grants(PATHED_SESSION), "the session's own ARN still grants it");
    // Role names are unique in an account whatever their path, so `role/worker` is the ARN of
    // no role that exists alongside `service-role/worker` (AWS would not take it as a principal).
    assert!(!grants("arn:aws:iam::000000000000:role/worker"), "without its path the ARN names another role");
    assert!(!grants("arn:aws:iam::000000000000:role/other-path/worker"));
    // Within the account such a grant is enough, with no identity policy allowing it.
    let queue_policy = vec![json!({"Effect": "Allow", "Principal": {"AWS": PATHED_ROLE}, "Action": SEND})];
    assert_eq!(decide(&request, Some(&[]), Some(&queue_policy), HOME), Ok(()));
    let deny = vec![json!({"Effect": "Deny", "Principal": {"AWS": PATHED_ROLE}, "Action": SEND})];
    let allowed = identity(json!([allow(json!(SEND), json!("*"))]));
    assert_eq!(decide(&request, Some(&allowed), Some(&deny), HOME), Err(Denial::ResourceDeny));
}

#[test]
fn a_sessions_principal_arn_is_its_roles_arn_with_the_path() {
    let request = pathed_session_request(SEND);
    assert!(holds(json!({"StringEquals": {"aws:PrincipalArn": PATHED_ROLE}}), &request));
    assert!(holds(json!({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/service-role/*"}}), &request));
    assert!(!holds(json!({"StringEquals": {"aws:PrincipalArn": "arn:aws:iam::000000000000:role/worker"}}), &request));
    assert!(!holds(json!({"StringEquals": {"aws:PrincipalArn": PATHED_SESSION}}), &request), "never the session");
    assert!(holds(json!({"StringEquals": {"aws:PrincipalType": "AssumedRole"}}), &request));
}

#[test]
fn the_authorizer_matches_a_callers_role_by_the_arn_it_carries() {
    let caller = Caller { account: HOME, arn: PATHED_SESSION, role_arn: Some(PATHED_ROLE), access_key: "" };
    let enforcing = Authorizer::enforcing(Arc::new(Fixed(Vec::new())));
    assert_eq!(enforcing.authorize(&caller, SEND, QUEUE, HOME, None, &[]), Err(Denial::NoIdentityAllow));
    assert_eq!(enforcing.authorize(&caller, SEND, QUEUE, HOME, Some(&granting(PATHED_ROLE)), &[]), Ok(()));
    let conditioned = vec![json!({
        "Effect": "Allow", "Principal": "*", "Action": SEND,
        "Condition": {"ArnEquals": {"aws:PrincipalArn": PATHED_ROLE}},
    })];
    assert_eq!(enforcing.authorize(&caller, SEND, QUEUE, HOME, Some(&conditioned), &[]), Ok(()));
    // Across accounts a stranger's pathed role is matched the same way.
    let stranger = Caller {
        account: OTHER,
        arn: "arn:aws:sts::222222222222:assumed-role/worker/drain",
        role_arn: Some("arn:aws:iam::222222222222:role/service-role/worker"),
        access_key: "",
    };
    let not_enforced = Authorizer::identity_not_enforced();
    let to_stranger = granting("arn:aws:iam::222222222222:role/service-role/worker");
    assert_eq!(not_enforced.authorize(&stranger, SEND, QUEUE, HOME, Some(&to_stranger), &[]), Ok(()));
    let pathless = granting("arn:aws:iam::222222222222:role/worker");
    assert_eq!(
        not_enforced.authorize(&stranger, SEND, QUEUE, HOME, Some(&pathless), &[]),
        Err(Denial::NoResourceAllow)
    );
}
