//! Policy documents: the checks IAM makes when one is stored (valid JSON, the grammar's required
//! fields, size quotas), the URL encoding IAM answers them in, and the trust-policy questions
//! Kumo asks ("may Lambda assume this role?", "may this account assume it?"). Kumo does not
//! evaluate identity policies: every authenticated caller may call every API in its account.

use kumo_core::AwsError;
use serde_json::Value;

use crate::error::malformed_policy;

/// Largest trust policy (IAM's default `ACLSizePerRole` quota).
pub const TRUST_POLICY_MAX_CHARS: usize = 2048;
/// Largest managed policy document (`PolicySize`, whitespace excluded).
pub const MANAGED_POLICY_MAX_CHARS: usize = 6144;
/// Largest total of a role's inline policies.
pub const INLINE_POLICIES_MAX_CHARS: usize = 10_240;

/// What a document is used as; the grammar differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyKind {
    /// An identity policy (managed or inline): actions on resources.
    Identity,
    /// A role's trust policy: who may assume it.
    Trust,
}

/// The characters IAM counts against size quotas: everything but whitespace.
pub fn counted_size(document: &str) -> usize {
    document.chars().filter(|c| !c.is_whitespace()).count()
}

fn statements(document: &Value) -> Vec<&Value> {
    match document.get("Statement") {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(statement @ Value::Object(_)) => vec![statement],
        _ => Vec::new(),
    }
}

/// Checks a document as IAM does before storing it; returns it parsed.
pub fn parse(document: &str, kind: PolicyKind) -> Result<Value, AwsError> {
    let parsed: Value =
        serde_json::from_str(document).map_err(|_| malformed_policy("This policy contains invalid Json"))?;
    let Some(object) = parsed.as_object() else {
        return Err(malformed_policy("Syntax errors in policy."));
    };
    if let Some(version) = object.get("Version") {
        if version != "2012-10-17" && version != "2008-10-17" {
            return Err(malformed_policy("The policy failed legacy parsing"));
        }
    }
    let statement = object.get("Statement").ok_or_else(|| malformed_policy("Syntax errors in policy."))?;
    let listed = statements(&parsed);
    if listed.is_empty() && !statement.as_array().is_some_and(Vec::is_empty) {
        return Err(malformed_policy("Syntax errors in policy."));
    }
    for statement in listed {
        let Some(statement) = statement.as_object() else {
            return Err(malformed_policy("Syntax errors in policy."));
        };
        match statement.get("Effect").and_then(Value::as_str) {
            Some("Allow" | "Deny") => {}
            _ => return Err(malformed_policy("Syntax errors in policy.")),
        }
        if !statement.contains_key("Action") && !statement.contains_key("NotAction") {
            return Err(malformed_policy("Policy statement must contain actions."));
        }
        let has_principal = statement.contains_key("Principal") || statement.contains_key("NotPrincipal");
        let has_resource = statement.contains_key("Resource") || statement.contains_key("NotResource");
        match kind {
            PolicyKind::Identity if has_principal => {
                return Err(malformed_policy("Policy document should not specify a principal."))
            }
            PolicyKind::Identity if !has_resource => {
                return Err(malformed_policy("Policy statement must contain resources."))
            }
            PolicyKind::Trust if !has_principal => return Err(malformed_policy("Missing required field Principal")),
            PolicyKind::Trust if has_resource => return Err(malformed_policy("Has prohibited field Resource")),
            _ => {}
        }
    }
    Ok(parsed)
}

/// Percent-encodes a document as IAM returns documents (RFC 3986 unreserved characters kept);
/// botocore and the AWS CLI decode it back into JSON.
pub fn url_encode(document: &str) -> String {
    kumo_core::sigv4::uri_encode(document, false)
}

fn strings(value: Option<&Value>) -> Vec<&str> {
    match value {
        Some(Value::String(single)) => vec![single.as_str()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn allows_assume_role(statement: &Value) -> bool {
    strings(statement.get("Action")).iter().any(|action| {
        let action = action.to_ascii_lowercase();
        action == "*" || action == "sts:*" || action == "sts:assumerole"
    })
}

/// Whether a trust policy's `Allow` statements let `matches(principal kind, value)` assume the
/// role and no unconditional `Deny` takes it back.
fn trusts(document: &str, matches: impl Fn(&str, &str) -> bool) -> bool {
    let Ok(parsed) = serde_json::from_str::<Value>(document) else {
        return false;
    };
    let applies = |statement: &Value| {
        allows_assume_role(statement)
            && match statement.get("Principal") {
                Some(Value::String(star)) => star == "*",
                Some(Value::Object(principals)) => principals
                    .iter()
                    .any(|(kind, values)| strings(Some(values)).iter().any(|value| matches(kind, value))),
                _ => false,
            }
    };
    let mut allowed = false;
    for statement in statements(&parsed) {
        match statement.get("Effect").and_then(Value::as_str) {
            Some("Allow") if applies(statement) => allowed = true,
            Some("Deny") if applies(statement) && statement.get("Condition").is_none() => return false,
            _ => {}
        }
    }
    allowed
}

/// Whether a trust policy lets an AWS service (e.g. `lambda.amazonaws.com`) assume the role.
pub fn trusts_service(document: &str, service: &str) -> bool {
    trusts(document, |kind, value| (kind == "Service" && value == service) || (kind == "AWS" && value == "*"))
}

/// Whether a trust policy lets principals of `account` assume the role: `*`, the account id,
/// its root ARN or any ARN in it.
pub fn trusts_account(document: &str, account: &str) -> bool {
    let prefix = format!("arn:aws:iam::{account}:");
    let sts_prefix = format!("arn:aws:sts::{account}:");
    trusts(document, |kind, value| {
        kind == "AWS"
            && (value == "*" || value == account || value.starts_with(&prefix) || value.starts_with(&sts_prefix))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LAMBDA_TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
        "Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

    #[test]
    fn checks_the_grammar() {
        assert_eq!(parse("not json", PolicyKind::Identity).unwrap_err().message, "This policy contains invalid Json");
        assert_eq!(parse("[]", PolicyKind::Identity).unwrap_err().code, "MalformedPolicyDocument");
        assert_eq!(
            parse(r#"{"Version":"2000-01-01","Statement":[]}"#, PolicyKind::Identity).unwrap_err().message,
            "The policy failed legacy parsing"
        );
        let identity = r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#;
        assert!(parse(identity, PolicyKind::Identity).is_ok());
        assert_eq!(parse(identity, PolicyKind::Trust).unwrap_err().message, "Missing required field Principal");
        assert!(parse(LAMBDA_TRUST, PolicyKind::Trust).is_ok());
        assert_eq!(
            parse(LAMBDA_TRUST, PolicyKind::Identity).unwrap_err().message,
            "Policy document should not specify a principal."
        );
        let no_effect = r#"{"Statement":[{"Action":"s3:*","Resource":"*"}]}"#;
        assert_eq!(parse(no_effect, PolicyKind::Identity).unwrap_err().message, "Syntax errors in policy.");
    }

    #[test]
    fn encodes_documents_as_iam_does() {
        assert_eq!(url_encode(r#"{"a": "b/c"}"#), "%7B%22a%22%3A%20%22b%2Fc%22%7D");
    }

    #[test]
    fn answers_trust_questions() {
        assert!(trusts_service(LAMBDA_TRUST, "lambda.amazonaws.com"));
        assert!(!trusts_service(LAMBDA_TRUST, "states.amazonaws.com"));
        assert!(!trusts_account(LAMBDA_TRUST, "111111111111"));
        let list = r#"{"Statement":[{"Effect":"Allow","Principal":{"Service":["edgelambda.amazonaws.com",
            "lambda.amazonaws.com"]},"Action":["sts:AssumeRole","sts:TagSession"]}]}"#;
        assert!(trusts_service(list, "lambda.amazonaws.com"));
        let account = r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:root"},
            "Action":"sts:AssumeRole"}]}"#;
        assert!(trusts_account(account, "111111111111"));
        assert!(!trusts_account(account, "222222222222"));
        let denied = r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"},
            {"Effect":"Deny","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
        assert!(!trusts_service(denied, "lambda.amazonaws.com"));
        assert!(!trusts_service("garbage", "lambda.amazonaws.com"));
    }
}
