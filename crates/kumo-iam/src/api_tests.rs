//! Codec round trips of IAM and STS operations with the request bodies boto3 sends (generated
//! with botocore's own awsQuery serializer); answers rendered as IAM does.

use kumo_protocol::testing::{call, parts, query_input};
use kumo_protocol::Protocol;

use crate::api;

#[test]
fn iam_and_sts_requests_decode_as_botocore_sends_them() {
    #[derive(Debug, serde::Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Tag {
        key: String,
        value: String,
    }
    #[derive(Debug, serde::Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct CreateRole {
        role_name: String,
        path: Option<String>,
        assume_role_policy_document: String,
        max_session_duration: Option<i64>,
        tags: Vec<Tag>,
    }
    let role: CreateRole = query_input(
        &api::IAM,
        "Action=CreateRole&Version=2010-05-08&RoleName=r&Path=%2Fsvc%2F&AssumeRolePolicyDocument=%7B%22Version%22%3A%222012-10-17%22%7D&Description=d&MaxSessionDuration=7200&Tags.member.1.Key=k&Tags.member.1.Value=v&Tags.member.2.Key=k2&Tags.member.2.Value=",
    );
    assert_eq!((role.role_name.as_str(), role.path.as_deref()), ("r", Some("/svc/")));
    assert_eq!(role.assume_role_policy_document, r#"{"Version":"2012-10-17"}"#);
    assert_eq!(role.max_session_duration, Some(7200));
    assert_eq!((role.tags[1].key.as_str(), role.tags[1].value.as_str()), ("k2", ""));

    #[derive(Debug, serde::Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct ListPolicies {
        scope: Option<String>,
        only_attached: Option<bool>,
        max_items: Option<i64>,
        tag_keys: Option<Vec<String>>,
    }
    let list: ListPolicies = query_input(
        &api::IAM,
        "Action=ListPolicies&Version=2010-05-08&Scope=Local&OnlyAttached=true&PathPrefix=%2F&Marker=m&MaxItems=5&TagKeys.member.1=a&TagKeys.member.2=b",
    );
    assert_eq!((list.scope.as_deref(), list.only_attached, list.max_items), (Some("Local"), Some(true), Some(5)));
    assert_eq!(list.tag_keys.unwrap(), ["a", "b"]);

    #[derive(Debug, serde::Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct AssumeRole {
        role_arn: String,
        duration_seconds: Option<i64>,
    }
    let assume: AssumeRole = query_input(
        &api::STS,
        "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A000000000000%3Arole%2Fr&RoleSessionName=ss&DurationSeconds=900&Policy=%7B%7D",
    );
    assert_eq!((assume.role_arn.as_str(), assume.duration_seconds), ("arn:aws:iam::000000000000:role/r", Some(900)));
}

#[test]
fn iam_decode_errors_read_as_iam_writes_them() {
    let error = (api::IAM.decode_error)(Protocol::AwsQuery, &kumo_protocol::DecodeError::MissingField("PolicyArn"));
    assert_eq!(error.code, "ValidationError");
    assert!(error.message.contains("'policyArn'"), "{}", error.message);
    let error = (api::IAM.decode_error)(
        Protocol::AwsQuery,
        &kumo_protocol::DecodeError::InvalidValue { field: "MaxItems".into(), value: "x".into(), expected: "number" },
    );
    assert_eq!(
        error.message,
        "1 validation error detected: Value 'x' at 'maxItems' failed to satisfy constraint: Member must be a number"
    );
}

#[test]
fn iam_results_render_as_iam_does() {
    use crate::types::{Members, Role, RoleLastUsed, RoleResult, Tag};
    let role = Role {
        path: "/".into(),
        role_name: "r&d".into(),
        role_id: "AROAEXAMPLE".into(),
        arn: "arn:aws:iam::000000000000:role/r&d".into(),
        create_date: "2024-01-01T00:00:00Z".into(),
        assume_role_policy_document: "%7B%7D".into(),
        description: None,
        max_session_duration: 3600,
        permissions_boundary: None,
        tags: Some(Members { member: vec![Tag { key: "k".into(), value: "v".into() }] }),
        role_last_used: Some(RoleLastUsed::default()),
    };
    let head = parts("h", "/");
    let xml = call(Protocol::AwsQuery, &api::IAM, "GetRole", &head).encode(&RoleResult { role }).unwrap();
    assert_eq!(
        std::str::from_utf8(&xml.body).unwrap(),
        "<GetRoleResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><GetRoleResult><Role><Path>/</Path>\
         <RoleName>r&amp;d</RoleName><RoleId>AROAEXAMPLE</RoleId><Arn>arn:aws:iam::000000000000:role/r&amp;d</Arn>\
         <CreateDate>2024-01-01T00:00:00Z</CreateDate><AssumeRolePolicyDocument>%7B%7D</AssumeRolePolicyDocument>\
         <MaxSessionDuration>3600</MaxSessionDuration><Tags><member><Key>k</Key><Value>v</Value></member></Tags>\
         <RoleLastUsed/></Role></GetRoleResult><ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata>\
         </GetRoleResponse>"
    );
}
