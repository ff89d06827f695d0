//! Service-level tests over a temporary data dir.

use std::sync::Arc;

use kumo_core::identity::{CredentialIssuer, ExecutionRoles};
use kumo_core::RequestContext;

use crate::types::*;
use crate::{AccessKey, IamService, Principal};

const ACCOUNT: &str = "000000000000";
const OTHER: &str = "111111111111";
const LAMBDA_TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
const S3_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;

fn keys() -> Vec<AccessKey> {
    vec![
        AccessKey { access_key_id: "test".into(), secret_access_key: "test".into(), account: ACCOUNT.into() },
        AccessKey { access_key_id: "other".into(), secret_access_key: "secret".into(), account: OTHER.into() },
    ]
}

fn open(dir: &std::path::Path) -> Arc<IamService> {
    IamService::open(dir, keys(), ACCOUNT.into()).unwrap()
}

fn context(account: &str) -> RequestContext {
    RequestContext::new(account, "us-east-1")
}

fn create_role_request(name: &str) -> CreateRoleRequest {
    CreateRoleRequest { role_name: name.into(), assume_role_policy_document: LAMBDA_TRUST.into(), ..Default::default() }
}

#[tokio::test]
async fn roles_have_aws_shapes_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let iam = open(dir.path());
    let mut request = create_role_request("lambda-role");
    request.path = Some("/service-role/".into());
    let created = iam.create_role(context(ACCOUNT), request).await.unwrap().role;
    assert_eq!(created.arn, "arn:aws:iam::000000000000:role/service-role/lambda-role");
    assert!(created.role_id.starts_with("AROA") && created.role_id.len() == 21);
    assert!(created.assume_role_policy_document.starts_with("%7B%22Version%22"));
    assert!(created.create_date.ends_with('Z'));

    let again = iam.create_role(context(ACCOUNT), create_role_request("LAMBDA-ROLE")).await.unwrap_err();
    assert_eq!((again.code, again.status), ("EntityAlreadyExists", 409));
    let missing = iam.get_role(context(ACCOUNT), "nope".into()).await.unwrap_err();
    assert_eq!((missing.code, missing.status), ("NoSuchEntity", 404));
    assert_eq!(missing.message, "The role with name nope cannot be found.");
    let other_account = iam.get_role(context(OTHER), "lambda-role".into()).await.unwrap_err();
    assert_eq!(other_account.code, "NoSuchEntity");
    let mut bad = create_role_request("bad");
    bad.assume_role_policy_document = "not json".into();
    let malformed = iam.create_role(context(ACCOUNT), bad).await.unwrap_err();
    assert_eq!((malformed.code, malformed.status), ("MalformedPolicyDocument", 400));
    let invalid = iam.create_role(context(ACCOUNT), create_role_request("a b")).await.unwrap_err();
    assert_eq!(invalid.code, "ValidationError");

    let fetched = iam.get_role(context(ACCOUNT), "Lambda-Role".into()).await.unwrap().role;
    assert_eq!(fetched.role_name, "lambda-role");
    assert!(fetched.role_last_used.is_some());
}

#[tokio::test]
async fn lists_roles_in_pages() {
    let dir = tempfile::tempdir().unwrap();
    let iam = open(dir.path());
    for name in ["c", "a", "b", "d", "e"] {
        let mut request = create_role_request(name);
        request.path = Some(if name == "e" { "/other/".into() } else { "/app/".into() });
        iam.create_role(context(ACCOUNT), request).await.unwrap();
    }
    let mut names = Vec::new();
    let mut page = Page { marker: None, max_items: Some(2) };
    loop {
        let request = ListRolesRequest { path_prefix: Some("/app/".into()), page: page.clone() };
        let listed = iam.list_roles(context(ACCOUNT), request).await.unwrap();
        names.extend(listed.roles.member.into_iter().map(|role| role.role_name));
        assert_eq!(listed.is_truncated, listed.marker.is_some());
        match listed.marker {
            Some(marker) => page.marker = Some(marker),
            None => break,
        }
    }
    assert_eq!(names, ["a", "b", "c", "d"]);
    let none = iam.list_roles(context(OTHER), ListRolesRequest::default()).await.unwrap();
    assert!(none.roles.member.is_empty() && !none.is_truncated);
}

#[tokio::test]
async fn policies_attach_detach_and_block_deletes() {
    let dir = tempfile::tempdir().unwrap();
    let iam = open(dir.path());
    iam.create_role(context(ACCOUNT), create_role_request("r")).await.unwrap();
    let policy = iam
        .create_policy(
            context(ACCOUNT),
            CreatePolicyRequest { policy_name: "s3".into(), policy_document: S3_POLICY.into(), ..Default::default() },
        )
        .await
        .unwrap()
        .policy;
    assert_eq!(policy.arn, "arn:aws:iam::000000000000:policy/s3");
    assert!(policy.policy_id.starts_with("ANPA"));
    let basic = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole";
    for arn in [policy.arn.as_str(), basic] {
        iam.attach_role_policy(context(ACCOUNT), "r".into(), arn.into()).await.unwrap();
    }
    iam.put_role_policy(context(ACCOUNT), "r".into(), "inline".into(), S3_POLICY.into()).await.unwrap();

    let attached = iam
        .list_attached_role_policies(
            context(ACCOUNT),
            ListAttachedRolePoliciesRequest { role_name: "r".into(), ..Default::default() },
        )
        .await
        .unwrap();
    let names: Vec<String> = attached.attached_policies.member.iter().map(|p| p.policy_name.clone()).collect();
    assert_eq!(names, ["s3", "AWSLambdaBasicExecutionRole"]);
    assert_eq!(iam.get_policy(context(ACCOUNT), basic.into()).await.unwrap().policy.attachment_count, 1);
    assert_eq!(iam.get_policy(context(OTHER), basic.into()).await.unwrap().policy.attachment_count, 0);

    let conflict = iam.delete_role(context(ACCOUNT), "r".into()).await.unwrap_err();
    assert_eq!((conflict.code, conflict.status), ("DeleteConflict", 409));
    let in_use = iam.delete_policy(context(ACCOUNT), policy.arn.clone()).await.unwrap_err();
    assert_eq!(in_use.code, "DeleteConflict");
    let missing = iam
        .attach_role_policy(context(ACCOUNT), "r".into(), "arn:aws:iam::000000000000:policy/none".into())
        .await
        .unwrap_err();
    assert_eq!(missing.code, "NoSuchEntity");

    for arn in [policy.arn.as_str(), basic] {
        iam.detach_role_policy(context(ACCOUNT), "r".into(), arn.into()).await.unwrap();
    }
    let again = iam.detach_role_policy(context(ACCOUNT), "r".into(), basic.into()).await.unwrap_err();
    assert_eq!(again.code, "NoSuchEntity");
    let inline_left = iam.delete_role(context(ACCOUNT), "r".into()).await.unwrap_err();
    assert_eq!(inline_left.message, "Cannot delete entity, must delete policies first.");
    let fetched = iam.get_role_policy(context(ACCOUNT), "r".into(), "inline".into()).await.unwrap();
    assert!(fetched.policy_document.starts_with("%7B"));
    iam.delete_role_policy(context(ACCOUNT), "r".into(), "inline".into()).await.unwrap();
    let gone = iam.get_role_policy(context(ACCOUNT), "r".into(), "inline".into()).await.unwrap_err();
    assert_eq!(gone.message, "The role policy with name inline cannot be found.");
    iam.delete_role(context(ACCOUNT), "r".into()).await.unwrap();
    iam.delete_policy(context(ACCOUNT), policy.arn.clone()).await.unwrap();
    let aws = iam.delete_policy(context(ACCOUNT), basic.into()).await.unwrap_err();
    assert_eq!(aws.code, "AccessDenied");
}

#[tokio::test]
async fn list_policies_by_scope() {
    let dir = tempfile::tempdir().unwrap();
    let iam = open(dir.path());
    iam.create_policy(
        context(ACCOUNT),
        CreatePolicyRequest { policy_name: "mine".into(), policy_document: S3_POLICY.into(), ..Default::default() },
    )
    .await
    .unwrap();
    let local = ListPoliciesRequest { scope: PolicyScope::Local, ..Default::default() };
    let listed = iam.list_policies(context(ACCOUNT), local).await.unwrap();
    assert_eq!(listed.policies.member.len(), 1);
    let aws = ListPoliciesRequest { scope: PolicyScope::Aws, ..Default::default() };
    let listed = iam.list_policies(context(ACCOUNT), aws).await.unwrap();
    assert_eq!(listed.policies.member.len(), crate::managed::CATALOGUE.len());
    let all = iam.list_policies(context(ACCOUNT), ListPoliciesRequest::default()).await.unwrap();
    assert_eq!(all.policies.member.len(), crate::managed::CATALOGUE.len() + 1);
    let service_roles = ListPoliciesRequest { path_prefix: Some("/service-role/".into()), ..Default::default() };
    let listed = iam.list_policies(context(ACCOUNT), service_roles).await.unwrap();
    assert!(listed.policies.member.iter().all(|policy| policy.path == "/service-role/"));
    assert!(!listed.policies.member.is_empty());
}

#[tokio::test]
async fn state_and_sessions_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (role_id, access_key) = {
        let iam = open(dir.path());
        let role = iam.create_role(context(ACCOUNT), create_role_request("kept")).await.unwrap().role;
        iam.put_role_policy(context(ACCOUNT), "kept".into(), "inline".into(), S3_POLICY.into()).await.unwrap();
        let root = iam.principal("test").unwrap();
        let request =
            AssumeRoleRequest { role_arn: role.arn.clone(), role_session_name: "session".into(), ..Default::default() };
        let assumed = iam.assume_role(root, request).await.unwrap();
        (role.role_id, assumed.credentials.access_key_id)
    };
    let iam = open(dir.path());
    let role = iam.get_role(context(ACCOUNT), "kept".into()).await.unwrap().role;
    assert_eq!(role.role_id, role_id);
    let listed = iam.list_role_policies(context(ACCOUNT), "kept".into(), Page::default()).await.unwrap();
    assert_eq!(listed.policy_names.member, ["inline"]);
    let session = iam.principal(&access_key).expect("session survives");
    assert_eq!(session.arn, "arn:aws:sts::000000000000:assumed-role/kept/session");
}

#[tokio::test]
async fn assume_role_checks_durations_trust_and_chaining() {
    let dir = tempfile::tempdir().unwrap();
    let iam = open(dir.path());
    let role = iam.create_role(context(ACCOUNT), create_role_request("r")).await.unwrap().role;
    let root = iam.principal("test").unwrap();
    let assume = |caller: Arc<Principal>, arn: &str, duration: Option<i64>| {
        let request = AssumeRoleRequest {
            role_arn: arn.into(),
            role_session_name: "s1".into(),
            duration_seconds: duration,
            policy: None,
            policy_arns: Vec::new(),
        };
        let iam = Arc::clone(&iam);
        async move { iam.assume_role(caller, request).await }
    };
    let assumed = assume(Arc::clone(&root), &role.arn, Some(900)).await.unwrap();
    assert!(assumed.credentials.access_key_id.starts_with("ASIA"));
    assert_eq!(assumed.assumed_role_user.assumed_role_id, format!("{}:s1", role.role_id));
    let session = iam.principal(&assumed.credentials.access_key_id).unwrap();
    assert!(session.accepts_token(Some(&assumed.credentials.session_token)));
    assert_eq!(iam.get_caller_identity(&session).arn, "arn:aws:sts::000000000000:assumed-role/r/s1");
    assert_eq!(iam.get_caller_identity(&root).arn, "arn:aws:iam::000000000000:root");

    let short = assume(Arc::clone(&root), &role.arn, Some(899)).await.unwrap_err();
    assert_eq!(short.code, "ValidationError");
    let long = assume(Arc::clone(&root), &role.arn, Some(7200)).await.unwrap_err();
    assert_eq!(long.message, "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.");
    let missing = assume(Arc::clone(&root), "arn:aws:iam::000000000000:role/none", None).await.unwrap_err();
    assert_eq!((missing.code, missing.status), ("AccessDenied", 403));
    let foreign = assume(iam.principal("other").unwrap(), &role.arn, None).await.unwrap_err();
    assert_eq!(foreign.code, "AccessDenied");
    // A role session's own policies must allow sts:AssumeRole (role r has none yet).
    let refused = assume(Arc::clone(&session), &role.arn, Some(3600)).await.unwrap_err();
    assert_eq!((refused.code, refused.status), ("AccessDenied", 403));
    assert_eq!(
        refused.message,
        format!("User: arn:aws:sts::000000000000:assumed-role/r/s1 is not authorized to perform: sts:AssumeRole on resource: {} because no identity-based policy allows the sts:AssumeRole action", role.arn)
    );
    let may_assume =
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}"#;
    iam.put_role_policy(context(ACCOUNT), "r".into(), "assume".into(), may_assume.into()).await.unwrap();
    let chained = assume(Arc::clone(&session), &role.arn, Some(3600)).await.unwrap();
    assert!(iam.principal(&chained.credentials.access_key_id).unwrap().role_session);

    let mut cross = create_role_request("cross");
    cross.assume_role_policy_document = r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:root"},"Action":"sts:AssumeRole"}]}"#.into();
    let cross = iam.create_role(context(ACCOUNT), cross).await.unwrap().role;
    assert!(assume(iam.principal("other").unwrap(), &cross.arn, None).await.is_ok());
}

#[tokio::test]
async fn functions_get_role_sessions_and_lambda_checks_trust() {
    let dir = tempfile::tempdir().unwrap();
    let iam = open(dir.path());
    let role = iam.create_role(context(ACCOUNT), create_role_request("exec")).await.unwrap().role;
    assert!(iam.check_assumable_by_lambda(ACCOUNT, &role.arn).is_ok());
    let error = iam.check_assumable_by_lambda(OTHER, &role.arn).unwrap_err();
    assert_eq!(error.message, "The role defined for the function cannot be assumed by Lambda.");
    assert!(iam.check_assumable_by_lambda(ACCOUNT, "arn:aws:iam::000000000000:role/none").is_err());
    assert!(iam.check_assumable_by_lambda(ACCOUNT, "arn:aws:iam::000000000000:role/path/exec").is_err());
    let mut other_trust = create_role_request("states");
    other_trust.assume_role_policy_document = LAMBDA_TRUST.replace("lambda", "states");
    let states = iam.create_role(context(ACCOUNT), other_trust).await.unwrap().role;
    assert!(iam.check_assumable_by_lambda(ACCOUNT, &states.arn).is_err());

    let first = iam.credentials_for(&role.arn, "my-function");
    let again = iam.credentials_for(&role.arn, "my-function");
    assert_eq!(first, again, "a role session is reused for new environments");
    let principal = iam.principal(&first.access_key_id).unwrap();
    assert_eq!(principal.arn, "arn:aws:sts::000000000000:assumed-role/exec/my-function");
    assert_eq!(principal.user_id, format!("{}:my-function", role.role_id));
    let other_function = iam.credentials_for(&role.arn, "other-function");
    assert_ne!(first.access_key_id, other_function.access_key_id);
    let unknown = iam.credentials_for("arn:aws:iam::000000000000:role/never-created", "f");
    assert!(iam.principal(&unknown.access_key_id).unwrap().user_id.starts_with("AROA"));
}

#[tokio::test]
async fn a_role_sessions_identity_policies_follow_every_change_at_once() {
    use kumo_core::policy::{Authorizer, Caller, Denial, IdentityPolicies};

    let dir = tempfile::tempdir().unwrap();
    let iam = open(dir.path());
    let role = iam.create_role(context(ACCOUNT), create_role_request("worker")).await.unwrap().role;
    let authorizer = Authorizer::enforcing(Arc::clone(&iam) as Arc<dyn IdentityPolicies>);
    let caller = Caller {
        account: ACCOUNT,
        arn: "arn:aws:sts::000000000000:assumed-role/worker/s",
        role_arn: Some(&role.arn),
        access_key: "",
    };
    let queue = "arn:aws:sqs:us-east-1:000000000000:jobs";
    let send = |authorizer: &Authorizer| authorizer.authorize(&caller, "sqs:SendMessage", queue, ACCOUNT, None, &[]);
    assert_eq!(send(&authorizer), Err(Denial::NoIdentityAllow), "a role with no policies may do nothing");

    let inline = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sqs:SendMessage","Resource":"arn:aws:sqs:*:*:jobs"}]}"#;
    iam.put_role_policy(context(ACCOUNT), "worker".into(), "send".into(), inline.into()).await.unwrap();
    assert_eq!(send(&authorizer), Ok(()), "an inline policy applies to the next request");
    iam.delete_role_policy(context(ACCOUNT), "worker".into(), "send".into()).await.unwrap();
    assert_eq!(send(&authorizer), Err(Denial::NoIdentityAllow));

    let full_access = "arn:aws:iam::aws:policy/AmazonSQSFullAccess";
    iam.attach_role_policy(context(ACCOUNT), "worker".into(), full_access.into()).await.unwrap();
    assert_eq!(send(&authorizer), Ok(()), "AWS-managed policies apply");
    let deny = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"sqs:Send*","Resource":"*"}]}"#;
    let request =
        CreatePolicyRequest { policy_name: "no-send".into(), policy_document: deny.into(), ..Default::default() };
    let created = iam.create_policy(context(ACCOUNT), request).await.unwrap().policy;
    iam.attach_role_policy(context(ACCOUNT), "worker".into(), created.arn.clone()).await.unwrap();
    assert_eq!(send(&authorizer), Err(Denial::IdentityDeny), "a customer-managed deny wins");
    iam.detach_role_policy(context(ACCOUNT), "worker".into(), created.arn).await.unwrap();
    assert_eq!(send(&authorizer), Ok(()));

    let missing = Caller { role_arn: Some("arn:aws:iam::000000000000:role/gone"), ..caller };
    assert_eq!(
        authorizer.authorize(&missing, "sqs:SendMessage", queue, ACCOUNT, None, &[]),
        Err(Denial::NoIdentityAllow)
    );
    assert_eq!(
        Authorizer::identity_not_enforced().authorize(&missing, "sqs:SendMessage", queue, ACCOUNT, None, &[]),
        Ok(())
    );
}
