//! Code signing configurations (`Create/Get/Update/Delete/ListCodeSigningConfigs`,
//! `ListFunctionsByCodeSigningConfig`) and their association with functions
//! (`Put/Get/DeleteFunctionCodeSigningConfig`). Configurations are stored per account and region
//! and a function names at most one. Kumo has no AWS Signer: it keeps and reports the allowed
//! publishers and the `UntrustedArtifactOnDeployment` policy as given. Having no signer, Kumo
//! holds every package unsigned: under `Enforce` a deployment of code or layers is refused with
//! AWS's `CodeVerificationFailedException`, under `Warn` it goes ahead with a logged warning (AWS
//! records the warning in CloudWatch and CloudTrail). Code deployed before a configuration was
//! attached keeps running, as on AWS.

use std::collections::BTreeMap;
use std::sync::Arc;

use kumo_core::{AwsError, RequestContext};
use serde::{Deserialize, Serialize};

use crate::functions::LATEST;
use crate::types::FunctionRecord;
use crate::{internal, validation, LambdaService};

/// `AllowedPublishers`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AllowedPublishers {
    /// Signing profile version ARNs (1–20).
    #[serde(default)]
    pub signing_profile_version_arns: Vec<String>,
}

/// `CodeSigningPolicies`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CodeSigningPolicies {
    /// `Warn` (the default) or `Enforce`.
    pub untrusted_artifact_on_deployment: String,
}

impl Default for CodeSigningPolicies {
    fn default() -> Self {
        Self { untrusted_artifact_on_deployment: "Warn".to_string() }
    }
}

/// `Create/UpdateCodeSigningConfig` body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CodeSigningConfigRequest {
    /// Up to 256 characters.
    pub description: Option<String>,
    /// Required on create.
    pub allowed_publishers: Option<AllowedPublishers>,
    /// The policy for unsigned or badly signed code.
    pub code_signing_policies: Option<CodeSigningPolicies>,
    /// Tags (create only).
    pub tags: Option<BTreeMap<String, String>>,
}

/// `CodeSigningConfig`, as answered and as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CodeSigningConfig {
    /// `csc-` and 17 lowercase hexadecimal digits.
    pub code_signing_config_id: String,
    /// Its ARN.
    pub code_signing_config_arn: String,
    /// Empty unless set.
    pub description: String,
    /// Who may sign code.
    pub allowed_publishers: AllowedPublishers,
    /// What a deployment of untrusted code does.
    pub code_signing_policies: CodeSigningPolicies,
    /// Lambda's timestamp format.
    pub last_modified: String,
}

/// A configuration as stored: what is answered plus its tags.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredCodeSigningConfig {
    /// As answered.
    pub config: CodeSigningConfig,
    /// Tags given on create.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// `Create/Get/UpdateCodeSigningConfig` output.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CodeSigningConfigResponse {
    /// The configuration.
    pub code_signing_config: CodeSigningConfig,
}

/// `ListCodeSigningConfigs` output.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListCodeSigningConfigsResponse {
    /// The page.
    pub code_signing_configs: Vec<CodeSigningConfig>,
    /// Where the next page starts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
}

/// `ListFunctionsByCodeSigningConfig` output.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListFunctionsByCodeSigningConfigResponse {
    /// Unqualified ARNs of the functions using the configuration.
    pub function_arns: Vec<String>,
    /// Where the next page starts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
}

/// `PutFunctionCodeSigningConfig` body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FunctionCodeSigningConfigRequest {
    /// The configuration to use.
    pub code_signing_config_arn: Option<String>,
}

/// `Put/GetFunctionCodeSigningConfig` output; Get answers `{}` for a function without one, as AWS.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FunctionCodeSigningConfig {
    /// The configuration's ARN.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code_signing_config_arn: Option<String>,
    /// The function's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub function_name: Option<String>,
}

const ARN_PATTERN: &str =
    "arn:(aws[a-zA-Z-]*)?:lambda:[a-z]{2}((-gov)|(-iso(b?)))?-[a-z]+-\\d{1}:\\d{12}:code-signing-config:csc-[a-z0-9]{17}";

/// `(region, account, id)` of a well-formed code signing configuration ARN.
fn parse_arn(value: &str) -> Option<(&str, &str, &str)> {
    let ["arn", partition, "lambda", region, account, "code-signing-config", id] =
        value.split(':').collect::<Vec<_>>()[..]
    else {
        return None;
    };
    let hex = id.strip_prefix("csc-")?;
    let valid = partition.starts_with("aws")
        && region.len() >= 9
        && region.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && account.len() == 12
        && account.chars().all(|c| c.is_ascii_digit())
        && hex.len() == 17
        && hex.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    valid.then_some((region, account, id))
}

fn invalid_arn(value: &str, member: &str) -> AwsError {
    validation::validation_error(format!(
        "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: Member must satisfy regular expression pattern: {ARN_PATTERN}"
    ))
}

fn not_found(arn: &str) -> AwsError {
    AwsError::not_found(format!("The Lambda code signing configuration {arn} can not be found."))
}

/// AWS's answer to unsigned code or an unsigned layer under an `Enforce` policy (the text as AWS
/// returns it through CloudFormation and the SDKs, e.g. aws-cdk#29474, opentelemetry-lambda#1548).
fn code_verification_failed(subject: &str) -> AwsError {
    AwsError::new(
        "CodeVerificationFailedException",
        400,
        format!(
            "Lambda cannot deploy the function. The function or layer might be signed using a signature that the client is not configured to accept. Check the provided signature for {subject}."
        ),
    )
}

fn check_request(request: &CodeSigningConfigRequest) -> Result<(), AwsError> {
    if let Some(description) = request.description.as_ref().filter(|d| d.chars().count() > 256) {
        return Err(validation::validation_error(format!(
            "1 validation error detected: Value '{description}' at 'description' failed to satisfy constraint: Member must have length less than or equal to 256"
        )));
    }
    if let Some(publishers) = &request.allowed_publishers {
        let arns = &publishers.signing_profile_version_arns;
        if arns.is_empty() || arns.len() > 20 {
            return Err(validation::validation_error(format!(
                "1 validation error detected: Value '[{}]' at 'allowedPublishers.signingProfileVersionArns' failed to satisfy constraint: Member must have length {}",
                arns.join(", "),
                if arns.is_empty() { "greater than or equal to 1" } else { "less than or equal to 20" }
            )));
        }
        if let Some(bad) = arns.iter().find(|arn| arn.split(':').count() < 6 || !arn.starts_with("arn:aws")) {
            return Err(validation::validation_error(format!(
                "1 validation error detected: Value '[{bad}]' at 'allowedPublishers.signingProfileVersionArns' failed to satisfy constraint: Member must satisfy constraint: [Member must have length less than or equal to 1024, Member must have length greater than or equal to 12, Member must satisfy regular expression pattern: arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\\-])+:([a-z]{{2}}(-gov)?-[a-z]+-\\d{{1}})?:(\\d{{12}})?:(.*)]"
            )));
        }
    }
    if let Some(policies) = &request.code_signing_policies {
        let value = &policies.untrusted_artifact_on_deployment;
        if !matches!(value.as_str(), "Warn" | "Enforce") {
            return Err(validation::validation_error(format!(
                "1 validation error detected: Value '{value}' at 'codeSigningPolicies.untrustedArtifactOnDeployment' failed to satisfy constraint: Member must satisfy enum value set: [Warn, Enforce]"
            )));
        }
    }
    Ok(())
}

/// A new id: `csc-` and 17 lowercase hexadecimal digits.
fn new_id() -> String {
    let hex = uuid::Uuid::new_v4().simple().to_string();
    format!("csc-{}", &hex[..17])
}

/// `Marker`/`MaxItems` paging over items in order by `key`.
fn page<T: Clone>(
    items: &[T],
    key: impl Fn(&T) -> &str,
    marker: Option<&str>,
    max_items: Option<i64>,
) -> Result<(Vec<T>, Option<String>), AwsError> {
    let size = crate::functions::page_size(max_items)?;
    let start = marker.map_or(0, |marker| items.iter().position(|item| key(item) > marker).unwrap_or(items.len()));
    let end = items.len().min(start + size);
    let chosen = items[start..end].to_vec();
    let next = (end < items.len()).then(|| chosen.last().map(|item| key(item).to_string())).flatten();
    Ok((chosen, next))
}

impl LambdaService {
    /// The stored configuration named by `arn` in the caller's account and region.
    pub(crate) fn load_code_signing_config(
        &self,
        context: &RequestContext,
        arn: &str,
    ) -> Result<StoredCodeSigningConfig, AwsError> {
        let (region, account, id) = parse_arn(arn).ok_or_else(|| invalid_arn(arn, "codeSigningConfigArn"))?;
        if region != context.region || account != context.account {
            return Err(not_found(arn));
        }
        let document = self
            .store
            .metadata
            .get_code_signing_config(account, region, id)
            .map_err(internal)?
            .ok_or_else(|| not_found(arn))?;
        serde_json::from_str(&document).map_err(internal)
    }

    pub(crate) fn save_code_signing_config(
        &self,
        context: &RequestContext,
        stored: &StoredCodeSigningConfig,
    ) -> Result<(), AwsError> {
        let document = serde_json::to_string(stored).map_err(internal)?;
        let id = &stored.config.code_signing_config_id;
        self.store.metadata.put_code_signing_config(&context.account, &context.region, id, &document).map_err(internal)
    }

    /// `arn` if it names an existing configuration a function of the caller's may use
    /// (PutFunctionCodeSigningConfig, CreateFunction), else AWS's errors.
    pub(crate) fn usable_code_signing_config(&self, context: &RequestContext, arn: String) -> Result<String, AwsError> {
        parse_arn(&arn).ok_or_else(|| invalid_arn(&arn, "codeSigningConfigArn"))?;
        if self.load_code_signing_config(context, &arn).is_err() {
            return Err(AwsError::new(
                "CodeSigningConfigNotFoundException",
                404,
                format!(
                    "The code signing configuration cannot be found. Check that the provided configuration is not deleted: {arn}."
                ),
            ));
        }
        Ok(arn)
    }

    /// Checks code or a layer deployed to a function under the code signing configuration `arn`
    /// (if any): every package Kumo holds is unsigned, so `Enforce` refuses it. `subject` is what
    /// AWS names in its message: the function's name for its code, a layer version's ARN.
    pub(crate) fn verify_code_signature(
        &self,
        context: &RequestContext,
        arn: Option<&str>,
        subject: &str,
    ) -> Result<(), AwsError> {
        let Some(arn) = arn else { return Ok(()) };
        let stored = self.load_code_signing_config(context, arn)?;
        if stored.config.code_signing_policies.untrusted_artifact_on_deployment != "Enforce" {
            tracing::warn!(code_signing_config = arn, %subject, "deploying unsigned code under a Warn code signing policy");
            return Ok(());
        }
        Err(code_verification_failed(subject))
    }

    /// `$LATEST` records of the caller's account and region, in name order.
    fn all_latest(&self, context: &RequestContext) -> Result<Vec<FunctionRecord>, AwsError> {
        let mut records = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let rows = self
                .store
                .metadata
                .list_functions(&context.account, &context.region, LATEST, after.as_deref(), 1000)
                .map_err(internal)?;
            let Some((last, _)) = rows.last() else { break };
            after = Some(last.clone());
            for (_, document) in rows {
                records.push(serde_json::from_str(&document).map_err(internal)?);
            }
        }
        Ok(records)
    }

    /// `CreateCodeSigningConfig`.
    pub async fn create_code_signing_config(
        self: &Arc<Self>,
        context: RequestContext,
        request: CodeSigningConfigRequest,
    ) -> Result<CodeSigningConfigResponse, AwsError> {
        self.authorize_identity(&context, "lambda:CreateCodeSigningConfig", "*")?;
        self.blocking(move |service| {
            if request.allowed_publishers.is_none() {
                return Err(validation::validation_error(
                    "1 validation error detected: Value null at 'allowedPublishers' failed to satisfy constraint: Member must not be null",
                ));
            }
            check_request(&request)?;
            let tags = request.tags.unwrap_or_default();
            if tags.len() > 50 {
                return Err(AwsError::invalid_parameter("Number of tags exceeds resource tag limit."));
            }
            let id = new_id();
            let config = CodeSigningConfig {
                code_signing_config_arn: format!(
                    "arn:aws:lambda:{}:{}:code-signing-config:{id}",
                    context.region, context.account
                ),
                code_signing_config_id: id,
                description: request.description.unwrap_or_default(),
                allowed_publishers: request.allowed_publishers.unwrap_or_default(),
                code_signing_policies: request.code_signing_policies.unwrap_or_default(),
                last_modified: kumo_core::time::lambda_timestamp(kumo_core::time::now_millis()),
            };
            service.save_code_signing_config(&context, &StoredCodeSigningConfig { config: config.clone(), tags })?;
            Ok(CodeSigningConfigResponse { code_signing_config: config })
        })
        .await
    }

    /// `GetCodeSigningConfig`.
    pub async fn get_code_signing_config(
        self: &Arc<Self>,
        context: RequestContext,
        arn: String,
    ) -> Result<CodeSigningConfigResponse, AwsError> {
        self.authorize_identity(&context, "lambda:GetCodeSigningConfig", &arn)?;
        self.blocking(move |service| {
            let stored = service.load_code_signing_config(&context, &arn)?;
            Ok(CodeSigningConfigResponse { code_signing_config: stored.config })
        })
        .await
    }

    /// `UpdateCodeSigningConfig`: the members sent replace the stored ones.
    pub async fn update_code_signing_config(
        self: &Arc<Self>,
        context: RequestContext,
        arn: String,
        request: CodeSigningConfigRequest,
    ) -> Result<CodeSigningConfigResponse, AwsError> {
        self.authorize_identity(&context, "lambda:UpdateCodeSigningConfig", &arn)?;
        self.blocking(move |service| {
            check_request(&request)?;
            let _updating = service.lock_updates();
            let mut stored = service.load_code_signing_config(&context, &arn)?;
            let config = &mut stored.config;
            if let Some(description) = request.description {
                config.description = description;
            }
            if let Some(publishers) = request.allowed_publishers {
                config.allowed_publishers = publishers;
            }
            if let Some(policies) = request.code_signing_policies {
                config.code_signing_policies = policies;
            }
            config.last_modified = kumo_core::time::lambda_timestamp(kumo_core::time::now_millis());
            service.save_code_signing_config(&context, &stored)?;
            Ok(CodeSigningConfigResponse { code_signing_config: stored.config })
        })
        .await
    }

    /// `DeleteCodeSigningConfig`: refused while a function uses the configuration.
    pub async fn delete_code_signing_config(
        self: &Arc<Self>,
        context: RequestContext,
        arn: String,
    ) -> Result<(), AwsError> {
        self.authorize_identity(&context, "lambda:DeleteCodeSigningConfig", &arn)?;
        self.blocking(move |service| {
            let _updating = service.lock_updates();
            let stored = service.load_code_signing_config(&context, &arn)?;
            let in_use = service
                .all_latest(&context)?
                .iter()
                .any(|record| record.settings.code_signing_config_arn.as_deref() == Some(arn.as_str()));
            if in_use {
                return Err(AwsError::conflict(format!(
                    "The code signing configuration {arn} cannot be deleted because it is used by one or more functions."
                )));
            }
            let id = &stored.config.code_signing_config_id;
            service.store.metadata.delete_code_signing_config(&context.account, &context.region, id).map_err(internal)?;
            Ok(())
        })
        .await
    }

    /// `ListCodeSigningConfigs`.
    pub async fn list_code_signing_configs(
        self: &Arc<Self>,
        context: RequestContext,
        marker: Option<String>,
        max_items: Option<i64>,
    ) -> Result<ListCodeSigningConfigsResponse, AwsError> {
        self.authorize_identity(&context, "lambda:ListCodeSigningConfigs", "*")?;
        self.blocking(move |service| {
            let rows = service
                .store
                .metadata
                .list_code_signing_configs(&context.account, &context.region)
                .map_err(internal)?;
            let configs = rows
                .iter()
                .map(|(_, document)| {
                    serde_json::from_str::<StoredCodeSigningConfig>(document)
                        .map(|stored| stored.config)
                        .map_err(internal)
                })
                .collect::<Result<Vec<CodeSigningConfig>, _>>()?;
            let (page, next_marker) =
                page(&configs, |config| config.code_signing_config_id.as_str(), marker.as_deref(), max_items)?;
            Ok(ListCodeSigningConfigsResponse { code_signing_configs: page, next_marker })
        })
        .await
    }

    /// `ListFunctionsByCodeSigningConfig`.
    pub async fn list_functions_by_code_signing_config(
        self: &Arc<Self>,
        context: RequestContext,
        arn: String,
        marker: Option<String>,
        max_items: Option<i64>,
    ) -> Result<ListFunctionsByCodeSigningConfigResponse, AwsError> {
        self.authorize_identity(&context, "lambda:ListFunctionsByCodeSigningConfig", &arn)?;
        self.blocking(move |service| {
            service.load_code_signing_config(&context, &arn)?;
            let arns: Vec<String> = service
                .all_latest(&context)?
                .iter()
                .filter(|record| record.settings.code_signing_config_arn.as_deref() == Some(arn.as_str()))
                .map(|record| {
                    kumo_core::arn::function_arn(&context.region, &context.account, &record.configuration.function_name)
                })
                .collect();
            let (function_arns, next_marker) = page(&arns, String::as_str, marker.as_deref(), max_items)?;
            Ok(ListFunctionsByCodeSigningConfigResponse { function_arns, next_marker })
        })
        .await
    }

    /// `PutFunctionCodeSigningConfig`.
    pub async fn put_function_code_signing_config(
        self: &Arc<Self>,
        context: RequestContext,
        function_name: String,
        request: FunctionCodeSigningConfigRequest,
    ) -> Result<FunctionCodeSigningConfig, AwsError> {
        self.blocking(move |service| {
            let context =
                service.acting_for(&context, &function_name, None, "lambda:PutFunctionCodeSigningConfig")?;
            let Some(arn) = request.code_signing_config_arn else {
                return Err(validation::validation_error(
                    "1 validation error detected: Value null at 'codeSigningConfigArn' failed to satisfy constraint: Member must not be null",
                ));
            };
            let _updating = service.lock_updates();
            let arn = service.usable_code_signing_config(&context, arn)?;
            let latest = service.unqualified_latest(&context.account, &context.region, &function_name)?;
            let mut updated = (*latest).clone();
            updated.settings.code_signing_config_arn = Some(arn.clone());
            service.save_settings(&context.account, &context.region, updated)?;
            Ok(FunctionCodeSigningConfig {
                code_signing_config_arn: Some(arn),
                function_name: Some(latest.configuration.function_name.clone()),
            })
        })
        .await
    }

    /// `GetFunctionCodeSigningConfig`: `{}` for a function without a configuration.
    pub async fn get_function_code_signing_config(
        self: &Arc<Self>,
        context: RequestContext,
        function_name: String,
    ) -> Result<FunctionCodeSigningConfig, AwsError> {
        self.blocking(move |service| {
            let context = service.acting_for(&context, &function_name, None, "lambda:GetFunctionCodeSigningConfig")?;
            let latest = service.unqualified_latest(&context.account, &context.region, &function_name)?;
            Ok(match &latest.settings.code_signing_config_arn {
                Some(arn) => FunctionCodeSigningConfig {
                    code_signing_config_arn: Some(arn.clone()),
                    function_name: Some(latest.configuration.function_name.clone()),
                },
                None => FunctionCodeSigningConfig::default(),
            })
        })
        .await
    }

    /// `DeleteFunctionCodeSigningConfig` (204 also when none was set, as AWS).
    pub async fn delete_function_code_signing_config(
        self: &Arc<Self>,
        context: RequestContext,
        function_name: String,
    ) -> Result<(), AwsError> {
        self.blocking(move |service| {
            let context =
                service.acting_for(&context, &function_name, None, "lambda:DeleteFunctionCodeSigningConfig")?;
            let _updating = service.lock_updates();
            let latest = service.unqualified_latest(&context.account, &context.region, &function_name)?;
            if latest.settings.code_signing_config_arn.is_some() {
                let mut updated = (*latest).clone();
                updated.settings.code_signing_config_arn = None;
                service.save_settings(&context.account, &context.region, updated)?;
            }
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_arns_follow_the_model() {
        let id = new_id();
        assert_eq!(id.len(), 21);
        let arn = format!("arn:aws:lambda:us-east-1:000000000000:code-signing-config:{id}");
        assert_eq!(parse_arn(&arn), Some(("us-east-1", "000000000000", id.as_str())));
        for bad in [
            "arn:aws:lambda:us-east-1:000000000000:code-signing-config:csc-short",
            "arn:aws:lambda:us-east-1:0000:code-signing-config:csc-0123456789abcdef0",
            "arn:aws:lambda:us-east-1:000000000000:function:csc-0123456789abcdef0",
            "csc-0123456789abcdef0",
        ] {
            assert_eq!(parse_arn(bad), None, "{bad}");
        }
    }

    #[test]
    fn pages_follow_markers() {
        let items: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let (first, next) = page(&items, String::as_str, None, Some(2)).unwrap();
        assert_eq!((first.as_slice(), next.as_deref()), (&items[..2], Some("b")));
        let (rest, next) = page(&items, String::as_str, Some("b"), Some(2)).unwrap();
        assert_eq!((rest.as_slice(), next), (&items[2..], None));
        assert!(page(&items, String::as_str, None, Some(0)).is_err());
    }

    #[test]
    fn requests_are_checked_as_aws_checks_them() {
        let empty = CodeSigningConfigRequest {
            allowed_publishers: Some(AllowedPublishers::default()),
            ..CodeSigningConfigRequest::default()
        };
        assert_eq!(check_request(&empty).unwrap_err().code, "ValidationException");
        let policy = CodeSigningConfigRequest {
            code_signing_policies: Some(CodeSigningPolicies { untrusted_artifact_on_deployment: "Ignore".into() }),
            ..CodeSigningConfigRequest::default()
        };
        assert!(check_request(&policy).unwrap_err().message.ends_with("[Warn, Enforce]"));
    }
}
