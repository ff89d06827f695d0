//! What the invoke engine needs to know about a function version, resolved once by the
//! Lambda service ("prepare once, instantiate per invocation").

use std::collections::BTreeMap;
use std::path::PathBuf;

use kumo_core::AwsError;

/// A function version ready to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionVersion {
    /// Region the function lives in.
    pub region: String,
    /// Owning account.
    pub account: String,
    /// Function name.
    pub name: String,
    /// `$LATEST` or a published version number.
    pub version: String,
    /// Changes whenever code or configuration changes; environments of an older revision retire.
    pub revision: String,
    /// Lambda runtime id.
    pub runtime: String,
    /// Handler string.
    pub handler: String,
    /// Execution role ARN: environments run with a session of it.
    pub role: String,
    /// Configured memory in MB.
    pub memory_mb: u32,
    /// Timeout in seconds.
    pub timeout_s: u32,
    /// `EphemeralStorage` in MB: the size of `/tmp`.
    pub ephemeral_mb: u32,
    /// Unpacked code.
    pub code_dir: PathBuf,
    /// The function's layers merged in order (mounted at `/opt`), when it has any.
    pub layers_dir: Option<PathBuf>,
    /// The user's environment variables.
    pub variables: BTreeMap<String, String>,
}

impl FunctionVersion {
    /// `/aws/lambda/<name>`.
    pub fn log_group(&self) -> String {
        format!("/aws/lambda/{}", self.name)
    }

    /// The unqualified function ARN.
    pub fn function_arn(&self) -> String {
        kumo_core::arn::function_arn(&self.region, &self.account, &self.name)
    }
}

/// Resolves a function reference to a runnable version; implemented by the Lambda service so
/// the engine can run queued async events after a restart.
pub trait FunctionResolver: Send + Sync + 'static {
    /// The version `qualifier` (or `$LATEST`) of `account`'s function `name` in `region`.
    fn resolve(
        &self,
        account: &str,
        region: &str,
        name: &str,
        qualifier: Option<&str>,
    ) -> Result<FunctionVersion, AwsError>;

    /// How async invocations of that function are retried and where their outcome goes.
    fn async_config(&self, _account: &str, _region: &str, _name: &str, _qualifier: Option<&str>) -> crate::AsyncConfig {
        crate::AsyncConfig::default()
    }

    /// The execution role ARN that in-process work for that function (an event source mapping's
    /// poller reading and deleting its queue) acts as: the role of the version it runs. `None`
    /// when that work is not held to the role (`--skip-role-check`: the role need not exist) or
    /// the function cannot be resolved.
    fn execution_role(&self, _account: &str, _region: &str, _name: &str, _qualifier: Option<&str>) -> Option<String> {
        None
    }
}
