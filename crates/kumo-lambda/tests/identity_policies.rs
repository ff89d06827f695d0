//! Role sessions held to their identity policies: every Lambda operation names its action and
//! the function's ARN, and is refused with AWS's `AccessDeniedException` unless the role's
//! statements allow it; an account's root needs none.

use std::io::Write;
use std::sync::Arc;

use base64::Engine as _;
use kumo_core::policy::{Authorizer, IdentityPolicies};
use kumo_core::RequestContext;
use kumo_lambda::types::InvokeInput;
use serde_json::{json, Value};

mod support;

use support::{service, ACCOUNT, REGION};
const SESSION: &str = "arn:aws:sts::000000000000:assumed-role/reader/s";
const FUNCTION: &str = "arn:aws:lambda:us-east-1:000000000000:function:reports";

fn code_zip() -> String {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    zip.start_file("lambda_function.py", zip::write::SimpleFileOptions::default()).unwrap();
    zip.write_all(b"def handler(event, context):\n    return event\n").unwrap();
    base64::engine::general_purpose::STANDARD.encode(zip.finish().unwrap().into_inner())
}

struct Fixed(Vec<Value>);

impl IdentityPolicies for Fixed {
    fn statements_of_role(&self, _role_arn: &str) -> Arc<Vec<Value>> {
        Arc::new(self.0.clone())
    }
}

fn session() -> RequestContext {
    let mut context = RequestContext::new(ACCOUNT, REGION);
    context.caller_arn = SESSION.to_string();
    context.role_arn = Some("arn:aws:iam::000000000000:role/reader".to_string());
    context
}

fn denied(action: &str, resource: &str) -> String {
    format!(
        "User: {SESSION} is not authorized to perform: {action} on resource: {resource} because no identity-based policy allows the {action} action"
    )
}

#[tokio::test]
async fn role_sessions_may_do_only_what_their_policies_allow() {
    let dir = tempfile::tempdir().unwrap();
    let lambda = service(dir.path());
    let request = |name: &str| {
        serde_json::from_value(json!({
            "FunctionName": name,
            "Runtime": "python3.12",
            "Role": "arn:aws:iam::000000000000:role/lambda-role",
            "Handler": "lambda_function.handler",
            "Code": {"ZipFile": code_zip()},
        }))
        .unwrap()
    };
    lambda.create_function(RequestContext::new(ACCOUNT, REGION), request("reports")).await.unwrap();
    let statements = vec![json!({"Effect": "Allow", "Action": "lambda:Get*", "Resource": FUNCTION})];
    lambda.set_authorizer(Authorizer::enforcing(Arc::new(Fixed(statements))));

    let fetched = lambda.get_function(session(), "reports".into(), None).await.unwrap();
    assert_eq!(fetched.configuration.function_arn, FUNCTION);

    let refused = lambda.list_functions(session(), None, None, None).await.unwrap_err();
    assert_eq!((refused.code, refused.status), ("AccessDeniedException", 403));
    assert_eq!(refused.message, denied("lambda:ListFunctions", "*"));
    let invoke = InvokeInput {
        function_name: "reports".into(),
        qualifier: None,
        invocation_type: Some("DryRun".into()),
        log_type: None,
        client_context: None,
        payload: bytes::Bytes::new(),
    };
    let refused = lambda.invoke(session(), invoke.clone()).await.unwrap_err();
    assert_eq!(refused.message, denied("lambda:InvokeFunction", FUNCTION));
    let refused = lambda.delete_function(session(), "reports".into(), Some("1".into())).await.unwrap_err();
    assert_eq!(refused.message, denied("lambda:DeleteFunction", &format!("{FUNCTION}:1")));
    let other = "arn:aws:lambda:us-east-1:000000000000:function:missing";
    let refused = lambda.get_function(session(), "missing".into(), None).await.unwrap_err();
    assert_eq!(refused.message, denied("lambda:GetFunction", other), "not allowed: existence is not revealed");
    let refused = lambda.create_function(session(), request("made")).await.unwrap_err();
    assert_eq!(refused.message, denied("lambda:CreateFunction", "arn:aws:lambda:us-east-1:000000000000:function:made"));

    // The account's root is allowed everything.
    assert_eq!(lambda.invoke(RequestContext::new(ACCOUNT, REGION), invoke).await.unwrap().status, 204);
}
