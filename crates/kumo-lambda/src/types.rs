//! Request and response shapes of the Lambda API, named and cased as in botocore's model.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `Environment` in requests.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Environment {
    /// Variables; `None` and empty both mean none.
    pub variables: Option<BTreeMap<String, String>>,
}

/// `FunctionCode` in CreateFunction.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FunctionCode {
    /// Base64 zip (boto3 encodes the bytes for us).
    pub zip_file: Option<String>,
    /// S3 bucket of the package.
    pub s3_bucket: Option<String>,
    /// S3 key.
    pub s3_key: Option<String>,
    /// S3 object version.
    pub s3_object_version: Option<String>,
    /// Container image (not supported).
    pub image_uri: Option<String>,
}

/// `EphemeralStorage`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EphemeralStorage {
    /// `/tmp` size in MB.
    pub size: u32,
}

/// `CreateFunction` input.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateFunctionRequest {
    /// Name of the new function.
    pub function_name: Option<String>,
    /// Runtime id.
    pub runtime: Option<String>,
    /// Execution role ARN.
    pub role: Option<String>,
    /// Handler.
    pub handler: Option<String>,
    /// The code.
    pub code: Option<FunctionCode>,
    /// Description.
    pub description: Option<String>,
    /// Timeout in seconds.
    pub timeout: Option<i64>,
    /// Memory in MB.
    pub memory_size: Option<i64>,
    /// Publish a version right away.
    pub publish: Option<bool>,
    /// `Zip` or `Image`.
    pub package_type: Option<String>,
    /// Environment variables.
    pub environment: Option<Environment>,
    /// Tags.
    pub tags: Option<BTreeMap<String, String>>,
    /// `x86_64` or `arm64`.
    pub architectures: Option<Vec<String>>,
    /// `/tmp` size.
    pub ephemeral_storage: Option<EphemeralStorage>,
    /// Layer version ARNs, applied in order.
    pub layers: Option<Vec<String>>,
    /// Where failed async events go (stored; used by the async engine).
    pub dead_letter_config: Option<DeadLetterConfig>,
    /// X-Ray tracing mode.
    pub tracing_config: Option<TracingConfig>,
    /// Log format and levels.
    pub logging_config: Option<LoggingConfigRequest>,
    /// KMS key for environment variables (stored).
    #[serde(rename = "KMSKeyArn")]
    pub kms_key_arn: Option<String>,
    /// The code signing configuration the function uses.
    pub code_signing_config_arn: Option<String>,
}

/// `DeadLetterConfig`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeadLetterConfig {
    /// SQS queue or SNS topic ARN.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_arn: Option<String>,
}

/// `LoggingConfig` as requests send it (every field optional).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LoggingConfigRequest {
    /// `Text` or `JSON`.
    pub log_format: Option<String>,
    /// Level for the function's own logs (JSON format only).
    pub application_log_level: Option<String>,
    /// Level for platform logs (JSON format only).
    pub system_log_level: Option<String>,
    /// Log group name.
    pub log_group: Option<String>,
}

/// `UpdateFunctionCode` input.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateFunctionCodeRequest {
    /// Base64 zip.
    pub zip_file: Option<String>,
    /// S3 bucket of the package.
    pub s3_bucket: Option<String>,
    /// S3 key.
    pub s3_key: Option<String>,
    /// S3 object version.
    pub s3_object_version: Option<String>,
    /// Container image.
    pub image_uri: Option<String>,
    /// Architectures.
    pub architectures: Option<Vec<String>>,
    /// Publish a version after updating.
    pub publish: Option<bool>,
    /// Validate only.
    pub dry_run: Option<bool>,
    /// Only update if the function is at this revision.
    pub revision_id: Option<String>,
}

/// `UpdateFunctionConfiguration` input.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateFunctionConfigurationRequest {
    /// Execution role.
    pub role: Option<String>,
    /// Handler.
    pub handler: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Timeout.
    pub timeout: Option<i64>,
    /// Memory.
    pub memory_size: Option<i64>,
    /// Environment (replaces the whole set).
    pub environment: Option<Environment>,
    /// Runtime.
    pub runtime: Option<String>,
    /// Only update if the function is at this revision.
    pub revision_id: Option<String>,
    /// `/tmp` size.
    pub ephemeral_storage: Option<EphemeralStorage>,
    /// Layer version ARNs, applied in order (replaces the whole list).
    pub layers: Option<Vec<String>>,
    /// Where failed async events go.
    pub dead_letter_config: Option<DeadLetterConfig>,
    /// X-Ray tracing mode.
    pub tracing_config: Option<TracingConfig>,
    /// Log format and levels.
    pub logging_config: Option<LoggingConfigRequest>,
    /// KMS key for environment variables.
    #[serde(rename = "KMSKeyArn")]
    pub kms_key_arn: Option<String>,
}

/// `EnvironmentResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EnvironmentResponse {
    /// Variables.
    pub variables: BTreeMap<String, String>,
}

/// `TracingConfig` / `TracingConfigResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TracingConfig {
    /// `PassThrough` or `Active`.
    #[serde(default)]
    pub mode: String,
}

/// `LoggingConfig`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LoggingConfig {
    /// `Text` or `JSON`.
    pub log_format: String,
    /// Level for the function's own logs (JSON format only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_log_level: Option<String>,
    /// Level for platform logs (JSON format only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_log_level: Option<String>,
    /// `/aws/lambda/<name>`.
    pub log_group: String,
}

/// `SnapStartResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SnapStartResponse {
    /// `None`.
    pub apply_on: String,
    /// `Off`.
    pub optimization_status: String,
}

/// `FunctionConfiguration`: what most operations return.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FunctionConfiguration {
    /// Name.
    pub function_name: String,
    /// Unqualified ARN (qualified for published versions).
    pub function_arn: String,
    /// Runtime id.
    pub runtime: String,
    /// Role ARN.
    pub role: String,
    /// Handler.
    pub handler: String,
    /// Zip size.
    pub code_size: u64,
    /// Description.
    pub description: String,
    /// Timeout.
    pub timeout: u32,
    /// Memory.
    pub memory_size: u32,
    /// `2026-11-26T18:26:57.123+0000`.
    pub last_modified: String,
    /// Base64 sha256 of the zip.
    pub code_sha256: String,
    /// `$LATEST` or a number.
    pub version: String,
    /// Environment, absent when empty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<EnvironmentResponse>,
    /// Tracing mode.
    pub tracing_config: TracingConfig,
    /// Changes on every update.
    pub revision_id: String,
    /// `Pending`, `Active`, `Failed` (absent in list operations, as on AWS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Why the state is what it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_reason: Option<String>,
    /// Machine-readable reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_reason_code: Option<String>,
    /// `Successful`, `InProgress`, `Failed`; absent while a new function is `Pending`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_update_status: Option<String>,
    /// Why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_update_status_reason: Option<String>,
    /// Machine-readable reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_update_status_reason_code: Option<String>,
    /// `Zip`.
    pub package_type: String,
    /// Architectures.
    pub architectures: Vec<String>,
    /// `/tmp` size.
    pub ephemeral_storage: EphemeralStorage,
    /// SnapStart (always off).
    pub snap_start: SnapStartResponse,
    /// Logging configuration.
    pub logging_config: LoggingConfig,
    /// Dead-letter target, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_letter_config: Option<DeadLetterConfig>,
    /// KMS key, when set.
    #[serde(default, rename = "KMSKeyArn", skip_serializing_if = "Option::is_none")]
    pub kms_key_arn: Option<String>,
    /// The function's layers in order, absent when it has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layers: Option<Vec<LayerReference>>,
    /// The managed runtime's version (not shown by list operations).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime_version_config: Option<RuntimeVersionConfig>,
}

/// `RuntimeVersionConfig`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RuntimeVersionConfig {
    /// `arn:aws:lambda:<region>::runtime:<64 hex>`.
    pub runtime_version_arn: String,
}

impl RuntimeVersionConfig {
    /// The version of a managed runtime in a region: a stable id per runtime (Kumo has one
    /// version of each), in AWS's ARN form.
    pub fn for_runtime(region: &str, runtime: &str) -> Option<Self> {
        let digest = kumo_core::sha256_hex(format!("kumo-runtime:{runtime}").as_bytes());
        Some(Self { runtime_version_arn: format!("arn:aws:lambda:{region}::runtime:{digest}") })
    }
}

impl FunctionConfiguration {
    /// Whether a change is still being prepared (`Pending` or `InProgress`).
    pub fn in_transition(&self) -> bool {
        self.state.as_deref() == Some("Pending") || self.last_update_status.as_deref() == Some("InProgress")
    }

    /// As ListFunctions and ListVersionsByFunction show it: AWS leaves out the state fields and
    /// the runtime version there ("use GetFunction to get them").
    pub fn listed(mut self) -> Self {
        self.state = None;
        self.state_reason = None;
        self.state_reason_code = None;
        self.last_update_status = None;
        self.last_update_status_reason = None;
        self.last_update_status_reason_code = None;
        self.runtime_version_config = None;
        self
    }
}

/// `Layer`: one layer of a function as its configuration shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LayerReference {
    /// Layer version ARN.
    pub arn: String,
    /// Size of the layer's zip.
    pub code_size: u64,
}

/// A layer version a function uses, with what running it needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachedLayer {
    /// Layer version ARN.
    pub arn: String,
    /// Hex sha256 addressing the layer's package: it stays usable after the version is deleted.
    pub blob: String,
    /// Size of the zip.
    pub code_size: u64,
    /// Unpacked size, counted with the code against the 250 MB limit.
    pub unzipped_size: u64,
}

/// A stored function version: its configuration plus what only Kumo needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionRecord {
    /// As returned to clients.
    pub configuration: FunctionConfiguration,
    /// Hex sha256 addressing the code blob.
    pub code_blob: String,
    /// Unzipped size, for the account's code size.
    pub unzipped_size: u64,
    /// Layers in order (`configuration.layers` shows the same list).
    #[serde(default)]
    pub layers: Vec<AttachedLayer>,
    /// Tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Function-level settings, kept on the `$LATEST` record only.
    #[serde(default)]
    pub settings: FunctionSettings,
    /// What `$LATEST` ran before an update whose package could not be prepared (`LastUpdateStatus:
    /// Failed`): AWS keeps invoking the previous code and configuration until an update succeeds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_prepared: Option<Box<PreparedVersion>>,
}

/// A version as it last ran: its configuration, code and layers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreparedVersion {
    /// The configuration it ran with (its `RevisionId` names its environments).
    pub configuration: FunctionConfiguration,
    /// Hex sha256 addressing the code blob.
    pub code_blob: String,
    /// Layers in order.
    #[serde(default)]
    pub layers: Vec<AttachedLayer>,
}

impl FunctionRecord {
    /// What an update of this record falls back to should its package fail to prepare: the
    /// record itself when it runs, the version it already falls back to after a failed update,
    /// nothing when it never ran (a failed creation).
    pub(crate) fn fallback_for_update(&self) -> Option<Box<PreparedVersion>> {
        if self.configuration.last_update_status.as_deref() == Some("Failed") {
            return self.last_prepared.clone();
        }
        if self.configuration.state.as_deref() != Some("Active") {
            return None;
        }
        Some(Box::new(PreparedVersion {
            configuration: self.configuration.clone(),
            code_blob: self.code_blob.clone(),
            layers: self.layers.clone(),
        }))
    }

    /// The configuration, code and layers an invocation runs: after a failed update, the
    /// version that ran before it.
    pub(crate) fn runnable(&self) -> (&FunctionConfiguration, &str, &[AttachedLayer]) {
        match &self.last_prepared {
            Some(previous) if self.configuration.last_update_status.as_deref() == Some("Failed") => {
                (&previous.configuration, &previous.code_blob, &previous.layers)
            }
            _ => (&self.configuration, &self.code_blob, &self.layers),
        }
    }
}

/// What belongs to a function as a whole rather than to one version.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FunctionSettings {
    /// Highest version number ever published (numbers are never reused).
    pub latest_published: u64,
    /// The `$LATEST` RevisionId the last published version was made from.
    pub published_revision: Option<String>,
    /// Reserved concurrency (`PutFunctionConcurrency`).
    pub reserved_concurrency: Option<u32>,
    /// Provisioned concurrency per qualifier, with when it was last set.
    pub provisioned: BTreeMap<String, ProvisionedSetting>,
    /// Aliases by name.
    #[serde(default)]
    pub aliases: BTreeMap<String, crate::aliases::AliasRecord>,
    /// Resource-based policies by qualifier (`""` for the unqualified function).
    #[serde(default)]
    pub policies: BTreeMap<String, crate::permissions::StoredPolicy>,
    /// Async invocation configuration by qualifier (`$LATEST`, a version or an alias).
    #[serde(default)]
    pub event_invoke: BTreeMap<String, crate::event_invoke::EventInvokeConfigRecord>,
    /// Function URL configurations by qualifier (`""` for the function, else an alias).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub function_urls: BTreeMap<String, crate::function_urls::FunctionUrlRecord>,
    /// `Allow` or `Terminate` (`PutFunctionRecursionConfig`); unset reads as `Terminate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recursive_loop: Option<String>,
    /// Runtime management configuration by version (`$LATEST` or a number); unset is `Auto`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub runtime_management: BTreeMap<String, crate::function_options::RuntimeManagementRecord>,
    /// ARN of the code signing configuration the function uses (`PutFunctionCodeSigningConfig`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_signing_config_arn: Option<String>,
}

/// One provisioned concurrency configuration as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvisionedSetting {
    /// Requested environments.
    pub requested: u32,
    /// `LastModified` of the configuration.
    pub last_modified: String,
}

/// `FunctionCodeLocation`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FunctionCodeLocation {
    /// `S3` as on AWS.
    pub repository_type: String,
    /// Download URL of the zip.
    pub location: String,
}

/// `GetFunction` output.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetFunctionResponse {
    /// Configuration.
    pub configuration: FunctionConfiguration,
    /// Where to download the code.
    pub code: FunctionCodeLocation,
    /// Tags, when any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, String>>,
    /// Reserved concurrency, when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<Concurrency>,
}

/// `Concurrency` (PutFunctionConcurrency input and output, GetFunctionConcurrency output).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Concurrency {
    /// Reserved concurrent executions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reserved_concurrent_executions: Option<i64>,
}

/// `PublishVersion` input.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PublishVersionRequest {
    /// Only publish if `$LATEST` has this code.
    pub code_sha256: Option<String>,
    /// Description of the version.
    pub description: Option<String>,
    /// Only publish if `$LATEST` is at this revision.
    pub revision_id: Option<String>,
}

/// `ListVersionsByFunction` output.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListVersionsResponse {
    /// This page.
    pub versions: Vec<FunctionConfiguration>,
    /// Marker of the next page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
}

/// `PutProvisionedConcurrencyConfig` input.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProvisionedConcurrencyRequest {
    /// Environments to keep initialised.
    pub provisioned_concurrent_executions: Option<i64>,
}

/// A provisioned concurrency configuration as the API returns it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProvisionedConcurrencyConfig {
    /// Qualified ARN (only in List).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub function_arn: Option<String>,
    /// Requested environments.
    pub requested_provisioned_concurrent_executions: u32,
    /// Environments ready to serve.
    pub available_provisioned_concurrent_executions: u32,
    /// Environments allocated.
    pub allocated_provisioned_concurrent_executions: u32,
    /// `IN_PROGRESS`, `READY` or `FAILED`.
    pub status: String,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
    /// When it was last set.
    pub last_modified: String,
}

/// `ListProvisionedConcurrencyConfigs` output.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListProvisionedConcurrencyConfigsResponse {
    /// The configurations.
    pub provisioned_concurrency_configs: Vec<ProvisionedConcurrencyConfig>,
    /// Marker of the next page, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
}

/// `ListFunctions` output.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListFunctionsResponse {
    /// This page.
    pub functions: Vec<FunctionConfiguration>,
    /// Marker of the next page, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
}

/// `AccountLimit`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccountLimit {
    /// Storage for all code.
    pub total_code_size: u64,
    /// Unzipped package limit.
    pub code_size_unzipped: u64,
    /// Zipped upload limit.
    pub code_size_zipped: u64,
    /// Account concurrency.
    pub concurrent_executions: u32,
    /// Concurrency not reserved by functions.
    pub unreserved_concurrent_executions: u32,
}

/// `AccountUsage`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccountUsage {
    /// Code stored.
    pub total_code_size: u64,
    /// Number of functions.
    pub function_count: u64,
}

/// `GetAccountSettings` output.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetAccountSettingsResponse {
    /// Limits.
    pub account_limit: AccountLimit,
    /// Usage.
    pub account_usage: AccountUsage,
}

/// `InvocationType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvocationType {
    /// Synchronous.
    RequestResponse,
    /// Asynchronous, queued.
    Event,
    /// Validate only.
    DryRun,
}

/// `Invoke` input, already taken apart from HTTP by the gateway.
#[derive(Debug, Clone)]
pub struct InvokeInput {
    /// Name or ARN.
    pub function_name: String,
    /// `Qualifier` query parameter.
    pub qualifier: Option<String>,
    /// `X-Amz-Invocation-Type` (raw, validated here).
    pub invocation_type: Option<String>,
    /// `X-Amz-Log-Type`.
    pub log_type: Option<String>,
    /// `X-Amz-Client-Context` (base64).
    pub client_context: Option<String>,
    /// Body.
    pub payload: bytes::Bytes,
}

/// `Invoke` output.
#[derive(Debug, Clone)]
pub struct InvokeOutput {
    /// 200, 202 or 204.
    pub status: u16,
    /// Response body.
    pub payload: bytes::Bytes,
    /// `X-Amz-Function-Error`.
    pub function_error: Option<&'static str>,
    /// `X-Amz-Log-Result`.
    pub log_result: Option<String>,
    /// `X-Amz-Executed-Version`.
    pub executed_version: Option<String>,
    /// The request id of the invocation (`x-amzn-RequestId`).
    pub request_id: String,
}
