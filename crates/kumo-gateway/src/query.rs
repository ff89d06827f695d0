//! The awsQuery protocol (IAM, STS; SNS and legacy SQS later): parameters form-encoded in a
//! POST body (or a GET query string) with `Action` and `Version`, answered with
//! `<ActionResponse><ActionResult>…</ActionResult><ResponseMetadata>…` XML, errors as
//! `<ErrorResponse><Error><Type>Sender</Type><Code>…</Code><Message>…</Message></Error>…`.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use http::{HeaderValue, StatusCode};
use http_body_util::{BodyExt, Limited};
use kumo_core::AwsError;
use kumo_iam::types::{Page, Tag};
use serde::Serialize;

/// Largest awsQuery body (policy documents are at most a few KB; generous).
const BODY_LIMIT: usize = 1024 * 1024;

/// IAM's XML namespace.
pub const IAM_NAMESPACE: &str = "https://iam.amazonaws.com/doc/2010-05-08/";
/// STS's XML namespace.
pub const STS_NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

/// The XML namespace of an awsQuery service, by SigV4 service name.
pub fn namespace(service: &str) -> &'static str {
    match service {
        "sts" => STS_NAMESPACE,
        "sqs" => "http://queue.amazonaws.com/doc/2012-11-05/",
        "sns" => "http://sns.amazonaws.com/doc/2010-03-31/",
        "monitoring" => "http://monitoring.amazonaws.com/doc/2010-08-01/",
        _ => IAM_NAMESPACE,
    }
}

/// Whether requests for this SigV4 service name (without `X-Amz-Target`) speak awsQuery.
pub fn is_query_service(service: &str) -> bool {
    matches!(service, "iam" | "sts" | "sns" | "sqs" | "monitoring")
}

/// The decoded parameters of a request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryParams(BTreeMap<String, String>);

/// `RoleName` → `roleName`, as AWS names fields in validation messages.
fn field_name(name: &str) -> String {
    let mut chars = name.chars();
    chars.next().map(|first| first.to_ascii_lowercase().to_string() + chars.as_str()).unwrap_or_default()
}

impl QueryParams {
    /// Parses `application/x-www-form-urlencoded` text.
    pub fn parse(text: &[u8]) -> Self {
        Self(form_urlencoded::parse(text).map(|(key, value)| (key.into_owned(), value.into_owned())).collect())
    }

    /// Reads the parameters of a request: its query string, then its form body.
    pub async fn read(parts: &Parts, body: Body) -> Result<Self, AwsError> {
        let bytes = Limited::new(body, BODY_LIMIT).collect().await.map_err(|_| {
            AwsError::new("ValidationError", 400, format!("Request must be smaller than {BODY_LIMIT} bytes"))
        })?;
        let mut params = Self::parse(parts.uri.query().unwrap_or("").as_bytes());
        params.0.retain(|key, _| !key.starts_with("X-Amz-"));
        params.0.extend(Self::parse(&bytes.to_bytes()).0);
        Ok(params)
    }

    /// `Action`.
    pub fn action(&self) -> Option<&str> {
        self.0.get("Action").map(String::as_str)
    }

    /// A parameter that may be absent.
    pub fn optional(&self, name: &str) -> Option<String> {
        self.0.get(name).cloned()
    }

    /// A parameter the operation needs.
    pub fn required(&self, name: &str) -> Result<String, AwsError> {
        self.optional(name).ok_or_else(|| kumo_iam::error::missing(&field_name(name)))
    }

    /// An integer parameter.
    pub fn integer(&self, name: &str) -> Result<Option<i64>, AwsError> {
        self.0
            .get(name)
            .map(|value| {
                value.trim().parse().map_err(|_| {
                    kumo_iam::error::validation(format!(
                        "1 validation error detected: Value '{value}' at '{}' failed to satisfy constraint: Member must be a number",
                        field_name(name)
                    ))
                })
            })
            .transpose()
    }

    /// A boolean parameter (`true`/`false`).
    pub fn boolean(&self, name: &str) -> Result<Option<bool>, AwsError> {
        match self.0.get(name).map(|value| value.to_ascii_lowercase()) {
            None => Ok(None),
            Some(value) if value == "true" => Ok(Some(true)),
            Some(value) if value == "false" => Ok(Some(false)),
            Some(value) => Err(kumo_iam::error::validation(format!(
                "1 validation error detected: Value '{value}' at '{}' failed to satisfy constraint: Member must be a boolean",
                field_name(name)
            ))),
        }
    }

    /// A list `<prefix>.member.1`, `<prefix>.member.2`, … in index order.
    pub fn list(&self, prefix: &str) -> Vec<String> {
        (1..).map_while(|index| self.0.get(&format!("{prefix}.member.{index}")).cloned()).collect()
    }

    /// Tags `<prefix>.member.N.Key` / `.Value`.
    pub fn tags(&self, prefix: &str) -> Vec<Tag> {
        (1..)
            .map_while(|index| {
                let key = self.0.get(&format!("{prefix}.member.{index}.Key"))?;
                let value = self.0.get(&format!("{prefix}.member.{index}.Value")).cloned().unwrap_or_default();
                Some(Tag { key: key.clone(), value })
            })
            .collect()
    }

    /// `Marker` and `MaxItems`.
    pub fn page(&self) -> Result<Page, AwsError> {
        Ok(Page { marker: self.optional("Marker"), max_items: self.integer("MaxItems")? })
    }
}

/// The `<ActionResult>` element of a result, serialised.
pub fn result_xml<T: Serialize>(action: &str, result: &T) -> Result<String, AwsError> {
    quick_xml::se::to_string_with_root(&format!("{action}Result"), result).map_err(|error| {
        tracing::error!(%error, action, "rendering an awsQuery result failed");
        AwsError::new("ServiceFailure", 500, "An internal error occurred")
    })
}

fn xml(status: StatusCode, body: String, request_id: &str) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
    if let Ok(value) = HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-requestid", value);
    }
    response
}

/// A successful answer: `result` is the `<ActionResult>` element (absent for operations that
/// return nothing).
pub fn response(action: &str, namespace: &str, result: Option<String>, request_id: &str) -> Response {
    let body = format!(
        "<{action}Response xmlns=\"{namespace}\">{}<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{action}Response>",
        result.unwrap_or_default()
    );
    xml(StatusCode::OK, body, request_id)
}

/// Escapes text for XML content.
fn escape(text: &str) -> String {
    quick_xml::escape::escape(text).into_owned()
}

/// An error answer.
pub fn error_response(namespace: &str, error: &AwsError, request_id: &str) -> Response {
    let fault = if error.status >= 500 { "Receiver" } else { "Sender" };
    let body = format!(
        "<ErrorResponse xmlns=\"{namespace}\"><Error><Type>{fault}</Type><Code>{}</Code><Message>{}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>",
        error.code,
        escape(&error.message)
    );
    let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    xml(status, body, request_id)
}

/// The answer to an `Action` the service does not have.
pub fn invalid_action(action: &str, version: &str) -> AwsError {
    AwsError::new("InvalidAction", 400, format!("Could not find operation {action} for version {version}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kumo_iam::types::{Members, Role, RoleLastUsed, RoleResult};

    #[test]
    fn decodes_form_parameters() {
        let params = QueryParams::parse(
            b"Action=CreateRole&RoleName=r&AssumeRolePolicyDocument=%7B%22a%22%3A+1%7D&Tags.member.1.Key=k&Tags.member.1.Value=v\
              &Tags.member.2.Key=k2&TagKeys.member.1=x&TagKeys.member.2=y&MaxItems=5&OnlyAttached=true",
        );
        assert_eq!(params.action(), Some("CreateRole"));
        assert_eq!(params.required("AssumeRolePolicyDocument").unwrap(), r#"{"a": 1}"#);
        assert_eq!(params.tags("Tags").len(), 2);
        assert_eq!(params.tags("Tags")[1].value, "");
        assert_eq!(params.list("TagKeys"), ["x", "y"]);
        assert_eq!(params.page().unwrap().max_items, Some(5));
        assert_eq!(params.boolean("OnlyAttached").unwrap(), Some(true));
        let missing = params.required("PolicyArn").unwrap_err();
        assert_eq!(missing.code, "ValidationError");
        assert!(missing.message.contains("'policyArn'"));
    }

    #[test]
    fn renders_results_as_iam_does() {
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
        let xml = result_xml("GetRole", &RoleResult { role }).unwrap();
        assert_eq!(
            xml,
            "<GetRoleResult><Role><Path>/</Path><RoleName>r&amp;d</RoleName><RoleId>AROAEXAMPLE</RoleId>\
             <Arn>arn:aws:iam::000000000000:role/r&amp;d</Arn><CreateDate>2024-01-01T00:00:00Z</CreateDate>\
             <AssumeRolePolicyDocument>%7B%7D</AssumeRolePolicyDocument><MaxSessionDuration>3600</MaxSessionDuration>\
             <Tags><member><Key>k</Key><Value>v</Value></member></Tags><RoleLastUsed/></Role></GetRoleResult>"
        );
        let names: Members<String> = vec!["a".to_string(), "b".to_string()].into();
        #[derive(Serialize)]
        #[serde(rename_all = "PascalCase")]
        struct Names {
            policy_names: Members<String>,
            is_truncated: bool,
        }
        let xml = result_xml("ListRolePolicies", &Names { policy_names: names, is_truncated: false }).unwrap();
        assert_eq!(
            xml,
            "<ListRolePoliciesResult><PolicyNames><member>a</member><member>b</member></PolicyNames>\
             <IsTruncated>false</IsTruncated></ListRolePoliciesResult>"
        );
        let empty = result_xml("ListRoles", &Names { policy_names: Vec::new().into(), is_truncated: true }).unwrap();
        assert!(empty.contains("<PolicyNames/>") || empty.contains("<PolicyNames></PolicyNames>"), "{empty}");
    }

    #[tokio::test]
    async fn renders_errors_as_iam_does() {
        let error = kumo_iam::error::no_such_role("a<b");
        let response = error_response(IAM_NAMESPACE, &error, "req-1");
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(
            std::str::from_utf8(&body).unwrap(),
            "<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><Error><Type>Sender</Type>\
             <Code>NoSuchEntity</Code><Message>The role with name a&lt;b cannot be found.</Message></Error>\
             <RequestId>req-1</RequestId></ErrorResponse>"
        );
    }
}
