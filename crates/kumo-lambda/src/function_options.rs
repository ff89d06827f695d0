//! Per-function switches with no effect on how Kumo runs code today, kept so that tools that set
//! and read them see AWS's answers: recursive-loop detection (`Put/GetFunctionRecursionConfig`)
//! and the runtime update mode (`Put/GetRuntimeManagementConfig`). Kumo runs the one runtime
//! version it ships per runtime, so a `Manual` mode is stored and reported, not enforced.

use std::sync::Arc;

use kumo_core::{AwsError, RequestContext};
use serde::{Deserialize, Serialize};

use crate::functions::LATEST;
use crate::{validation, LambdaService};

/// `PutFunctionRecursionConfig` body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RecursionConfigRequest {
    /// `Allow` or `Terminate`.
    pub recursive_loop: Option<String>,
}

/// `Put/GetFunctionRecursionConfig` output.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RecursionConfig {
    /// `Allow` or `Terminate` (the default).
    pub recursive_loop: String,
}

/// `PutRuntimeManagementConfig` body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RuntimeManagementRequest {
    /// `Auto`, `FunctionUpdate` or `Manual`.
    pub update_runtime_on: Option<String>,
    /// The pinned runtime version, with `Manual` only.
    pub runtime_version_arn: Option<String>,
}

/// A stored runtime management configuration (absent: `Auto`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeManagementRecord {
    /// `Auto`, `FunctionUpdate` or `Manual`.
    pub update_runtime_on: String,
    /// The pinned version under `Manual`.
    pub runtime_version_arn: Option<String>,
}

/// `Put/GetRuntimeManagementConfig` output.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RuntimeManagementConfig {
    /// `Auto`, `FunctionUpdate` or `Manual`.
    pub update_runtime_on: String,
    /// The pinned version, under `Manual`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime_version_arn: Option<String>,
    /// The function's ARN with the version the configuration is for.
    pub function_arn: String,
}

fn enum_error(value: &str, member: &str, allowed: &str) -> AwsError {
    validation::validation_error(format!(
        "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: Member must satisfy enum value set: [{allowed}]"
    ))
}

/// `RuntimeVersionArn`: `arn:aws:lambda:<region>::runtime:<hash>` (26–2,048 characters).
fn check_runtime_version_arn(value: &str) -> Result<(), AwsError> {
    let parts: Vec<&str> = value.splitn(6, ':').collect();
    let valid = value.len() >= 26
        && value.len() <= 2048
        && matches!(parts.as_slice(), ["arn", partition, "lambda", region, "", rest]
            if partition.starts_with("aws") && !region.is_empty() && rest.strip_prefix("runtime:").is_some_and(|v| !v.is_empty()));
    if valid {
        return Ok(());
    }
    Err(validation::validation_error(format!(
        "1 validation error detected: Value '{value}' at 'runtimeVersionArn' failed to satisfy constraint: Member must satisfy regular expression pattern: ^arn:(aws[a-zA-Z-]*):lambda:[a-z]{{2}}((-gov)|(-iso(b?)))?-[a-z]+-\\d{{1}}::runtime:.+$"
    )))
}

impl LambdaService {
    /// `PutFunctionRecursionConfig` (unqualified functions only).
    pub async fn put_function_recursion_config(
        self: &Arc<Self>,
        context: RequestContext,
        function_name: String,
        request: RecursionConfigRequest,
    ) -> Result<RecursionConfig, AwsError> {
        self.blocking(move |service| {
            let context = service.acting_for(&context, &function_name, None, "lambda:PutFunctionRecursionConfig")?;
            let value = request.recursive_loop.unwrap_or_default();
            if !matches!(value.as_str(), "Allow" | "Terminate") {
                return Err(enum_error(&value, "recursiveLoop", "Terminate, Allow"));
            }
            let _updating = service.lock_updates();
            let latest = service.unqualified_latest(&context.account, &context.region, &function_name)?;
            let mut updated = (*latest).clone();
            updated.settings.recursive_loop = Some(value.clone());
            service.save_settings(&context.account, &context.region, updated)?;
            Ok(RecursionConfig { recursive_loop: value })
        })
        .await
    }

    /// `GetFunctionRecursionConfig`: `Terminate` unless set.
    pub async fn get_function_recursion_config(
        self: &Arc<Self>,
        context: RequestContext,
        function_name: String,
    ) -> Result<RecursionConfig, AwsError> {
        self.blocking(move |service| {
            let context = service.acting_for(&context, &function_name, None, "lambda:GetFunctionRecursionConfig")?;
            let latest = service.unqualified_latest(&context.account, &context.region, &function_name)?;
            let value = latest.settings.recursive_loop.clone().unwrap_or_else(|| "Terminate".to_string());
            Ok(RecursionConfig { recursive_loop: value })
        })
        .await
    }

    /// The `$LATEST` record, the version key and the qualified ARN of a runtime management call:
    /// `$LATEST` or a published version (an alias names no version of its own here).
    fn runtime_target(
        &self,
        context: &RequestContext,
        function_name: &str,
        qualifier: Option<&str>,
    ) -> Result<(Arc<crate::types::FunctionRecord>, String, String), AwsError> {
        let reference = self.function_ref(&context.account, &context.region, function_name, qualifier)?;
        let key = reference.qualifier.clone().unwrap_or_else(|| LATEST.to_string());
        let latest = self.load_record(&context.account, &context.region, &reference.name, None)?;
        if crate::aliases::is_alias_name(&key) {
            return Err(self.not_found(&context.account, &context.region, &reference.name, Some(&key)));
        }
        let version = self.load_record(&context.account, &context.region, &reference.name, Some(&key))?;
        let name = &version.configuration.function_name;
        let arn = kumo_core::arn::qualified_function_arn(&context.region, &context.account, name, &key);
        Ok((latest, key, arn))
    }

    /// `PutRuntimeManagementConfig`.
    pub async fn put_runtime_management_config(
        self: &Arc<Self>,
        context: RequestContext,
        function_name: String,
        qualifier: Option<String>,
        request: RuntimeManagementRequest,
    ) -> Result<RuntimeManagementConfig, AwsError> {
        self.blocking(move |service| {
            let context = service.acting_for(
                &context,
                &function_name,
                qualifier.as_deref(),
                "lambda:PutRuntimeManagementConfig",
            )?;
            let mode = request.update_runtime_on.unwrap_or_default();
            if !matches!(mode.as_str(), "Auto" | "FunctionUpdate" | "Manual") {
                return Err(enum_error(&mode, "updateRuntimeOn", "Auto, Manual, FunctionUpdate"));
            }
            if let Some(arn) = &request.runtime_version_arn {
                check_runtime_version_arn(arn)?;
            }
            match (mode.as_str(), &request.runtime_version_arn) {
                ("Manual", None) => {
                    return Err(AwsError::invalid_parameter(
                        "RuntimeVersionArn must be provided when UpdateRuntimeOn is Manual.",
                    ))
                }
                ("Auto" | "FunctionUpdate", Some(_)) => {
                    return Err(AwsError::invalid_parameter(format!(
                        "RuntimeVersionArn should not be provided when UpdateRuntimeOn is {mode}."
                    )))
                }
                _ => {}
            }
            let _updating = service.lock_updates();
            let (latest, key, arn) = service.runtime_target(&context, &function_name, qualifier.as_deref())?;
            let record =
                RuntimeManagementRecord { update_runtime_on: mode, runtime_version_arn: request.runtime_version_arn };
            let mut updated = (*latest).clone();
            updated.settings.runtime_management.insert(key, record.clone());
            service.save_settings(&context.account, &context.region, updated)?;
            Ok(RuntimeManagementConfig {
                update_runtime_on: record.update_runtime_on,
                runtime_version_arn: record.runtime_version_arn,
                function_arn: arn,
            })
        })
        .await
    }

    /// `GetRuntimeManagementConfig`: `Auto` unless set.
    pub async fn get_runtime_management_config(
        self: &Arc<Self>,
        context: RequestContext,
        function_name: String,
        qualifier: Option<String>,
    ) -> Result<RuntimeManagementConfig, AwsError> {
        self.blocking(move |service| {
            let context = service.acting_for(
                &context,
                &function_name,
                qualifier.as_deref(),
                "lambda:GetRuntimeManagementConfig",
            )?;
            let (latest, key, arn) = service.runtime_target(&context, &function_name, qualifier.as_deref())?;
            let stored = latest.settings.runtime_management.get(&key);
            Ok(RuntimeManagementConfig {
                update_runtime_on: stored.map_or_else(|| "Auto".to_string(), |s| s.update_runtime_on.clone()),
                runtime_version_arn: stored.and_then(|s| s.runtime_version_arn.clone()),
                function_arn: arn,
            })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_version_arns_follow_the_model() {
        let arn = "arn:aws:lambda:us-east-1::runtime:8eeff65f6809a3ce81507fe733fe09b835899b99481ba22fd75b5a7338290ec1";
        assert!(check_runtime_version_arn(arn).is_ok());
        for bad in ["arn:aws:lambda:us-east-1::runtime:", "nope", "arn:aws:s3:us-east-1::runtime:abcdefabcdef"] {
            assert_eq!(check_runtime_version_arn(bad).unwrap_err().code, "ValidationException", "{bad}");
        }
    }
}
