//! Which execution environment a request came from, when it came through the listener Kumo
//! serves inside that environment's network namespace (see the sandbox's `design.md`). The
//! gateway puts a [`CallerEnvironment`] into such a request's extensions; a request without one
//! came from outside every environment. Other layers (authorisation, metering) may use it.

/// The execution environment that sent a request to Kumo's endpoint from inside its sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerEnvironment {
    /// The function version's ARN (qualified: `…:function:name:$LATEST` or `…:name:3`).
    pub function_arn: String,
    /// The function's account.
    pub account: String,
    /// The function's region.
    pub region: String,
    /// The environment's log stream name, unique per environment.
    pub log_stream: String,
}

impl CallerEnvironment {
    /// The environment of `name` at `version` in `account` and `region`.
    pub fn new(region: &str, account: &str, name: &str, version: &str, log_stream: &str) -> Self {
        Self {
            function_arn: crate::arn::qualified_function_arn(region, account, name, version),
            account: account.to_string(),
            region: region.to_string(),
            log_stream: log_stream.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_function_version() {
        let caller = CallerEnvironment::new("eu-west-1", "111111111111", "f", "$LATEST", "2026/01/01/[$LATEST]ab");
        assert_eq!(caller.function_arn, "arn:aws:lambda:eu-west-1:111111111111:function:f:$LATEST");
        assert_eq!(caller.account, "111111111111");
    }
}
