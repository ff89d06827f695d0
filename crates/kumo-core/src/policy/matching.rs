//! Matching of a statement's elements: actions, resources (wildcards) and principals.

use serde_json::Value;

use super::Principal;

/// The string or every string of a list, as policy elements take either.
pub(super) fn strings(value: &Value) -> impl Iterator<Item = &str> {
    let list = match value {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    list.into_iter().filter_map(Value::as_str)
}

/// Action names are case-insensitive and take `*` and `?` (`sqs:*`, `lambda:Get*`, `*`).
pub fn action_matches(granted: &str, action: &str) -> bool {
    glob_matches(&granted.to_ascii_lowercase(), &action.to_ascii_lowercase())
}

/// `arn:aws:iam::<account>:role/<name>` of a session ARN
/// `arn:aws:sts::<account>:assumed-role/<name>/<session>`: the role's ARN only when the role has
/// no path (the session ARN never shows it), so callers that know the role's ARN say so
/// ([`Principal::Iam`]'s `role_arn`).
pub(super) fn role_of_session(arn: &str) -> Option<String> {
    let rest = arn.strip_prefix("arn:aws:sts::")?;
    let (account, session) = rest.split_once(":assumed-role/")?;
    let (role, _) = session.split_once('/')?;
    Some(format!("arn:aws:iam::{account}:role/{role}"))
}

/// Whether a `Principal` element names the caller: `*`, the caller's account (as an id or its
/// root ARN: every principal of the account, when `account_counts`), its role (every session of
/// it, by the role's full ARN: `role/service-role/<name>` for a role with that path, while
/// `role/<name>` names another role, as on AWS), the session itself, or a service.
pub(super) fn principal_matches(element: &Value, principal: &Principal<'_>, account_counts: bool) -> bool {
    if element == "*" {
        return true;
    }
    match *principal {
        Principal::Service(service) => {
            strings(&element["Service"]).any(|granted| granted == "*" || granted.eq_ignore_ascii_case(service))
        }
        Principal::Iam { account, arn, .. } => {
            let root = format!("arn:aws:iam::{account}:root");
            let role = principal.role_arn();
            strings(&element["AWS"]).any(|granted| {
                granted == "*"
                    || (account_counts && (granted == account || granted == root))
                    || granted == arn
                    || role.as_deref() == Some(granted)
            })
        }
    }
}

/// Whether a `Principal` element names the caller's own role session by its ARN (not its role,
/// account or `*`): a grant made to that session directly.
pub(super) fn names_session(element: &Value, principal: &Principal<'_>) -> bool {
    match *principal {
        Principal::Iam { arn, .. } => {
            role_of_session(arn).is_some() && strings(&element["AWS"]).any(|granted| granted == arn)
        }
        Principal::Service(_) => false,
    }
}

/// `ArnLike`/`ArnEquals`: each of the six colon-separated parts of the ARN is matched on its own,
/// with `*` and `?` wildcards, case-sensitively (the resource part keeps its own colons).
pub fn arn_like(pattern: &str, arn: &str) -> bool {
    let pattern_parts: Vec<&str> = pattern.splitn(6, ':').collect();
    let arn_parts: Vec<&str> = arn.splitn(6, ':').collect();
    pattern_parts.len() == 6
        && arn_parts.len() == 6
        && pattern_parts.iter().zip(&arn_parts).all(|(pattern, part)| glob_matches(pattern, part))
}

/// `*` matches any run of characters, `?` any one character; everything else itself.
pub fn glob_matches(pattern: &str, value: &str) -> bool {
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
