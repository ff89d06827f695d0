//! A function's execution role as the caller of what Kumo does in-process on the function's
//! behalf (an event source mapping reading its queue, a destination or dead-letter delivery):
//! on AWS, Lambda makes those calls with the role's credentials, so they are decided by the
//! role's identity policies and the target's resource policy, as the function's own calls are.

use super::Caller;

/// The session of an execution role that Lambda acts as for one function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionRole {
    /// The role's account (from its ARN).
    pub account: String,
    /// The role's ARN.
    pub role_arn: String,
    /// `arn:aws:sts::<account>:assumed-role/<role name>/<function name>`, the session the
    /// function's own credentials are.
    pub session_arn: String,
}

impl ExecutionRole {
    /// The session of `role_arn` named after `function_name`.
    pub fn new(role_arn: &str, function_name: &str) -> Self {
        let account = role_arn.split(':').nth(4).unwrap_or_default().to_string();
        let role_name = role_arn.rsplit('/').next().unwrap_or(role_arn);
        let session_arn = format!("arn:aws:sts::{account}:assumed-role/{role_name}/{function_name}");
        Self { account, role_arn: role_arn.to_string(), session_arn }
    }

    /// The role's session as a policy decision's caller (no access key: Kumo holds no session
    /// policies for it).
    pub fn caller(&self) -> Caller<'_> {
        Caller { account: &self.account, arn: &self.session_arn, role_arn: Some(&self.role_arn), access_key: "" }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_is_named_after_the_function() {
        let role = ExecutionRole::new("arn:aws:iam::111111111111:role/service-role/worker", "drain");
        assert_eq!(role.account, "111111111111");
        assert_eq!(role.session_arn, "arn:aws:sts::111111111111:assumed-role/worker/drain");
        assert_eq!(role.caller().role_arn, Some("arn:aws:iam::111111111111:role/service-role/worker"));
    }
}
