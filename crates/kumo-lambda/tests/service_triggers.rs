//! The check a trigger (S3, SNS, API Gateway) makes before invoking: the function's stored
//! resource policy, written by `AddPermission`, evaluated for a service principal with its
//! `SourceArn` and `SourceAccount`.

use std::io::Write;
use std::sync::Arc;

use base64::Engine as _;
use kumo_core::RequestContext;
use kumo_lambda::permissions::AddPermissionRequest;
use kumo_lambda::ServiceTrigger;

mod support;

use support::{service, ACCOUNT, REGION};
const BUCKET: &str = "arn:aws:s3:::uploads";

fn code_zip() -> String {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    zip.start_file("lambda_function.py", zip::write::SimpleFileOptions::default()).unwrap();
    zip.write_all(b"def handler(event, context):\n    return event\n").unwrap();
    base64::engine::general_purpose::STANDARD.encode(zip.finish().unwrap().into_inner())
}

fn s3(source_arn: &str, source_account: &str) -> ServiceTrigger {
    ServiceTrigger {
        service_principal: "s3.amazonaws.com".to_string(),
        source_arn: Some(source_arn.to_string()),
        source_account: Some(source_account.to_string()),
    }
}

#[tokio::test]
async fn a_trigger_may_invoke_only_as_the_policy_allows() {
    let dir = tempfile::tempdir().unwrap();
    let lambda = service(dir.path());
    let context = || RequestContext::new(ACCOUNT, REGION);
    let request = serde_json::from_value(serde_json::json!({
        "FunctionName": "thumbnails",
        "Runtime": "python3.12",
        "Role": "arn:aws:iam::000000000000:role/lambda-role",
        "Handler": "lambda_function.handler",
        "Code": {"ZipFile": code_zip()},
    }))
    .unwrap();
    lambda.create_function(context(), request).await.unwrap();
    let may = |trigger: ServiceTrigger, qualifier: Option<&str>| {
        let lambda = Arc::clone(&lambda);
        let qualifier = qualifier.map(str::to_string);
        async move {
            lambda
                .service_may_invoke(ACCOUNT.into(), REGION.into(), "thumbnails".into(), qualifier, trigger)
                .await
                .unwrap()
        }
    };
    assert!(!may(s3(BUCKET, ACCOUNT), None).await, "no policy, no invoke");

    let permission = AddPermissionRequest {
        statement_id: Some("s3".into()),
        action: Some("lambda:InvokeFunction".into()),
        principal: Some("s3.amazonaws.com".into()),
        source_arn: Some(BUCKET.into()),
        source_account: Some(ACCOUNT.into()),
        ..Default::default()
    };
    lambda.add_permission(context(), "thumbnails".into(), None, permission).await.unwrap();
    assert!(may(s3(BUCKET, ACCOUNT), None).await);
    assert!(!may(s3("arn:aws:s3:::other-bucket", ACCOUNT), None).await);
    assert!(!may(s3(BUCKET, "111111111111"), None).await);
    let sns = ServiceTrigger { service_principal: "sns.amazonaws.com".into(), ..s3(BUCKET, ACCOUNT) };
    assert!(!may(sns, None).await, "the grant names S3 only");

    let missing = lambda
        .service_may_invoke(ACCOUNT.into(), REGION.into(), "missing".into(), None, s3(BUCKET, ACCOUNT))
        .await
        .unwrap_err();
    assert_eq!(missing.code, "ResourceNotFoundException");
}
