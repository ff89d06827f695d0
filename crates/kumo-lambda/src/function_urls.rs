//! Function URL configuration (`Create/Get/Update/Delete/ListFunctionUrlConfigs`): one per
//! function and one per alias, kept with the function's settings (so they go with the function,
//! and an alias's with the alias). The `FunctionUrl` is Kumo's own address for the function,
//! `http://<url-id>.lambda-url.<region>.localhost:<port>/`; serving requests at it belongs to
//! the HTTP side (a later issue), this module is the control plane only.

use std::sync::Arc;

use kumo_core::{AwsError, RequestContext};
use serde::{Deserialize, Serialize};

use crate::types::FunctionRecord;
use crate::{validation, LambdaService};

/// `Cors`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Cors {
    /// Whether cookies may be sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_credentials: Option<bool>,
    /// Headers origins may send.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_headers: Option<Vec<String>>,
    /// Methods allowed (at most 6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_methods: Option<Vec<String>>,
    /// Origins allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_origins: Option<Vec<String>>,
    /// Headers exposed to the origin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expose_headers: Option<Vec<String>>,
    /// Preflight cache time, 0–86,400 s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age: Option<i64>,
}

/// `Create/UpdateFunctionUrlConfig` body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FunctionUrlConfigRequest {
    /// `NONE` or `AWS_IAM` (required on create).
    pub auth_type: Option<String>,
    /// CORS settings.
    pub cors: Option<Cors>,
    /// `BUFFERED` (default) or `RESPONSE_STREAM`.
    pub invoke_mode: Option<String>,
}

/// A stored function URL configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionUrlRecord {
    /// The random label of the URL's host; never changes while the configuration exists.
    pub url_id: String,
    /// `NONE` or `AWS_IAM`.
    pub auth_type: String,
    /// CORS settings, when set.
    pub cors: Option<Cors>,
    /// `BUFFERED` or `RESPONSE_STREAM`.
    pub invoke_mode: String,
    /// `CreationTime` as rendered.
    pub creation_time: String,
    /// `LastModifiedTime` as rendered.
    pub last_modified_time: String,
}

/// A function URL configuration as AWS answers it; which members appear depends on the operation
/// (Create has no `LastModifiedTime`; Create and Update show `InvokeMode` only when it was sent).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FunctionUrlConfig {
    /// `http://<url-id>.lambda-url.<region>.localhost:<port>/`.
    pub function_url: String,
    /// The function's ARN, qualified with the alias when the URL is an alias's.
    pub function_arn: String,
    /// `NONE` or `AWS_IAM`.
    pub auth_type: String,
    /// CORS settings, when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cors: Option<Cors>,
    /// When the configuration was made.
    pub creation_time: String,
    /// When it last changed (not on Create).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_modified_time: Option<String>,
    /// `BUFFERED` or `RESPONSE_STREAM`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invoke_mode: Option<String>,
}

/// `ListFunctionUrlConfigs` output.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListFunctionUrlConfigsResponse {
    /// The configurations.
    pub function_url_configs: Vec<FunctionUrlConfig>,
    /// Where the next page starts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
}

/// AWS's text for a missing URL configuration (Get, Delete, and any unknown function there).
const NO_SUCH_RESOURCE: &str = "The resource you requested does not exist.";
/// AWS's text for an unknown function or alias on Create and Update.
const NO_SUCH_FUNCTION: &str = "Function does not exist";

/// `FunctionUrlQualifier`: an alias name; `$LATEST` and version numbers are refused.
fn check_qualifier(qualifier: Option<&str>) -> Result<(), AwsError> {
    let Some(qualifier) = qualifier else { return Ok(()) };
    let valid = !qualifier.is_empty()
        && qualifier.len() <= 128
        && qualifier.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && !qualifier.chars().all(|c| c.is_ascii_digit());
    if valid {
        return Ok(());
    }
    Err(validation::validation_error(format!(
        "1 validation error detected: Value '{qualifier}' at 'qualifier' failed to satisfy constraint: Member must satisfy regular expression pattern: ((?!^\\d+$)^[0-9a-zA-Z-_]+$)"
    )))
}

fn check_enum(value: &str, member: &str, allowed: &[&str]) -> Result<(), AwsError> {
    if allowed.contains(&value) {
        return Ok(());
    }
    Err(validation::validation_error(format!(
        "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
        allowed.join(", ")
    )))
}

fn check_cors(cors: &Cors) -> Result<(), AwsError> {
    let lists = [
        ("cors.allowHeaders", &cors.allow_headers, 100),
        ("cors.allowMethods", &cors.allow_methods, 6),
        ("cors.allowOrigins", &cors.allow_origins, 100),
        ("cors.exposeHeaders", &cors.expose_headers, 100),
    ];
    for (member, list, max) in lists {
        if let Some(list) = list.as_ref().filter(|list| list.len() > max) {
            return Err(validation::validation_error(format!(
                "1 validation error detected: Value '[{}]' at '{member}' failed to satisfy constraint: Member must have length less than or equal to {max}",
                list.join(", ")
            )));
        }
    }
    if let Some(age) = cors.max_age.filter(|age| !(0..=86_400).contains(age)) {
        return Err(validation::validation_error(format!(
            "1 validation error detected: Value '{age}' at 'cors.maxAge' failed to satisfy constraint: Member must have value {}",
            if age < 0 { "greater than or equal to 0" } else { "less than or equal to 86400" }
        )));
    }
    Ok(())
}

fn check_request(request: &FunctionUrlConfigRequest) -> Result<(), AwsError> {
    if let Some(auth) = &request.auth_type {
        check_enum(auth, "authType", &["NONE", "AWS_IAM"])?;
    }
    if let Some(mode) = &request.invoke_mode {
        check_enum(mode, "invokeMode", &["BUFFERED", "RESPONSE_STREAM"])?;
    }
    request.cors.as_ref().map_or(Ok(()), check_cors)
}

/// `2021-10-26T01:40:29.563812Z`: how function URL times read (microseconds, `Z`).
fn url_timestamp(millis: u64) -> String {
    let seconds = (millis / 1000) as i64;
    let date = kumo_core::time::format_utc(
        seconds,
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]"),
    );
    format!("{date}.{:06}Z", (millis % 1000) * 1000)
}

/// A fresh URL id: 32 lowercase alphanumerics, as AWS's.
fn new_url_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

impl LambdaService {
    /// `http://<url-id>.lambda-url.<region>.localhost:<port>/`.
    fn function_url(&self, url_id: &str, region: &str) -> String {
        match self.code_urls.port() {
            Some(port) => format!("http://{url_id}.lambda-url.{region}.localhost:{port}/"),
            None => format!("http://{url_id}.lambda-url.{region}.localhost/"),
        }
    }

    fn render_url(&self, region: &str, arn: String, record: &FunctionUrlRecord) -> FunctionUrlConfig {
        FunctionUrlConfig {
            function_url: self.function_url(&record.url_id, region),
            function_arn: arn,
            auth_type: record.auth_type.clone(),
            cors: record.cors.clone(),
            creation_time: record.creation_time.clone(),
            last_modified_time: Some(record.last_modified_time.clone()),
            invoke_mode: Some(record.invoke_mode.clone()),
        }
    }

    /// The `$LATEST` record, the settings key (`""` or the alias) and the ARN of a URL's target;
    /// `missing` is the text for an unknown function or alias.
    fn url_target(
        &self,
        context: &RequestContext,
        function_name: &str,
        qualifier: Option<&str>,
        missing: &str,
    ) -> Result<(Arc<FunctionRecord>, String, String), AwsError> {
        check_qualifier(qualifier)?;
        let reference = self.function_ref(&context.account, &context.region, function_name, qualifier)?;
        check_qualifier(reference.qualifier.as_deref())?;
        let (account, region) = (&context.account, &context.region);
        let latest =
            self.load_record(account, region, &reference.name, None).map_err(|_| AwsError::not_found(missing))?;
        let name = &latest.configuration.function_name;
        let key = reference.qualifier.unwrap_or_default();
        if !key.is_empty() && !latest.settings.aliases.contains_key(&key) {
            return Err(AwsError::not_found(missing));
        }
        let arn = if key.is_empty() {
            kumo_core::arn::function_arn(region, account, name)
        } else {
            kumo_core::arn::qualified_function_arn(region, account, name, &key)
        };
        Ok((latest, key, arn))
    }

    /// `CreateFunctionUrlConfig`.
    pub async fn create_function_url_config(
        self: &Arc<Self>,
        context: RequestContext,
        function_name: String,
        qualifier: Option<String>,
        request: FunctionUrlConfigRequest,
    ) -> Result<FunctionUrlConfig, AwsError> {
        self.blocking(move |service| {
            let context = service.acting_for(&context, &function_name, qualifier.as_deref(), "lambda:CreateFunctionUrlConfig")?;
            let Some(auth_type) = request.auth_type.clone() else {
                return Err(validation::validation_error(
                    "1 validation error detected: Value null at 'authType' failed to satisfy constraint: Member must not be null",
                ));
            };
            check_request(&request)?;
            let _updating = service.lock_updates();
            let (latest, key, arn) = service.url_target(&context, &function_name, qualifier.as_deref(), NO_SUCH_FUNCTION)?;
            if latest.settings.function_urls.contains_key(&key) {
                return Err(AwsError::conflict(format!(
                    "Failed to create function url config for [functionArn = {arn}]. Error message:  FunctionUrlConfig exists for this Lambda function"
                )));
            }
            let now = url_timestamp(kumo_core::time::now_millis());
            let record = FunctionUrlRecord {
                url_id: new_url_id(),
                auth_type,
                cors: request.cors.clone(),
                invoke_mode: request.invoke_mode.clone().unwrap_or_else(|| "BUFFERED".to_string()),
                creation_time: now.clone(),
                last_modified_time: now,
            };
            let mut updated = (*latest).clone();
            updated.settings.function_urls.insert(key, record.clone());
            service.save_settings(&context.account, &context.region, updated)?;
            let mut answer = service.render_url(&context.region, arn, &record);
            answer.last_modified_time = None;
            answer.invoke_mode = request.invoke_mode;
            Ok(answer)
        })
        .await
    }

    /// `UpdateFunctionUrlConfig`: the members sent replace the stored ones.
    pub async fn update_function_url_config(
        self: &Arc<Self>,
        context: RequestContext,
        function_name: String,
        qualifier: Option<String>,
        request: FunctionUrlConfigRequest,
    ) -> Result<FunctionUrlConfig, AwsError> {
        self.blocking(move |service| {
            let context =
                service.acting_for(&context, &function_name, qualifier.as_deref(), "lambda:UpdateFunctionUrlConfig")?;
            check_request(&request)?;
            let _updating = service.lock_updates();
            let (latest, key, arn) =
                service.url_target(&context, &function_name, qualifier.as_deref(), NO_SUCH_FUNCTION)?;
            let mut record = latest
                .settings
                .function_urls
                .get(&key)
                .cloned()
                .ok_or_else(|| AwsError::not_found(NO_SUCH_RESOURCE))?;
            if let Some(auth_type) = request.auth_type {
                record.auth_type = auth_type;
            }
            if let Some(cors) = request.cors {
                record.cors = Some(cors);
            }
            if let Some(mode) = request.invoke_mode.clone() {
                record.invoke_mode = mode;
            }
            record.last_modified_time = url_timestamp(kumo_core::time::now_millis());
            let mut updated = (*latest).clone();
            updated.settings.function_urls.insert(key, record.clone());
            service.save_settings(&context.account, &context.region, updated)?;
            let mut answer = service.render_url(&context.region, arn, &record);
            answer.invoke_mode = request.invoke_mode;
            Ok(answer)
        })
        .await
    }

    /// `GetFunctionUrlConfig`.
    pub async fn get_function_url_config(
        self: &Arc<Self>,
        context: RequestContext,
        function_name: String,
        qualifier: Option<String>,
    ) -> Result<FunctionUrlConfig, AwsError> {
        self.blocking(move |service| {
            let context =
                service.acting_for(&context, &function_name, qualifier.as_deref(), "lambda:GetFunctionUrlConfig")?;
            let (latest, key, arn) =
                service.url_target(&context, &function_name, qualifier.as_deref(), NO_SUCH_RESOURCE)?;
            let record =
                latest.settings.function_urls.get(&key).ok_or_else(|| AwsError::not_found(NO_SUCH_RESOURCE))?;
            Ok(service.render_url(&context.region, arn, record))
        })
        .await
    }

    /// `DeleteFunctionUrlConfig`.
    pub async fn delete_function_url_config(
        self: &Arc<Self>,
        context: RequestContext,
        function_name: String,
        qualifier: Option<String>,
    ) -> Result<(), AwsError> {
        self.blocking(move |service| {
            let context =
                service.acting_for(&context, &function_name, qualifier.as_deref(), "lambda:DeleteFunctionUrlConfig")?;
            let _updating = service.lock_updates();
            let (latest, key, _) =
                service.url_target(&context, &function_name, qualifier.as_deref(), NO_SUCH_RESOURCE)?;
            let mut updated = (*latest).clone();
            if updated.settings.function_urls.remove(&key).is_none() {
                return Err(AwsError::not_found(NO_SUCH_RESOURCE));
            }
            service.save_settings(&context.account, &context.region, updated)?;
            Ok(())
        })
        .await
    }

    /// `ListFunctionUrlConfigs`: the function's and its aliases' URLs, by ARN, paged by
    /// `MaxItems` (1–50) and the previous page's `NextMarker`.
    pub async fn list_function_url_configs(
        self: &Arc<Self>,
        context: RequestContext,
        function_name: String,
        marker: Option<String>,
        max_items: Option<i64>,
    ) -> Result<ListFunctionUrlConfigsResponse, AwsError> {
        self.blocking(move |service| {
            let context = service.acting_for(&context, &function_name, None, "lambda:ListFunctionUrlConfigs")?;
            if let Some(value) = max_items.filter(|value| !(1..=50).contains(value)) {
                return Err(validation::validation_error(format!(
                    "1 validation error detected: Value '{value}' at 'maxItems' failed to satisfy constraint: Member must have value {}",
                    if value < 1 { "greater than or equal to 1" } else { "less than or equal to 50" }
                )));
            }
            let page = max_items.unwrap_or(50) as usize;
            let (latest, _, _) = service.url_target(&context, &function_name, None, NO_SUCH_FUNCTION)?;
            let name = &latest.configuration.function_name;
            let (account, region) = (&context.account, &context.region);
            let mut configs: Vec<(&String, &FunctionUrlRecord)> = latest.settings.function_urls.iter().collect();
            configs.sort_by(|a, b| a.0.cmp(b.0));
            let start = match marker.as_deref() {
                Some(marker) => configs.iter().position(|(key, _)| key.as_str() > marker).unwrap_or(configs.len()),
                None => 0,
            };
            let chosen = &configs[start..configs.len().min(start + page)];
            let next_marker = (start + page < configs.len()).then(|| chosen.last().map(|(key, _)| (*key).clone())).flatten();
            let function_url_configs = chosen
                .iter()
                .map(|(key, record)| {
                    let arn = if key.is_empty() {
                        kumo_core::arn::function_arn(region, account, name)
                    } else {
                        kumo_core::arn::qualified_function_arn(region, account, name, key)
                    };
                    service.render_url(region, arn, record)
                })
                .collect();
            Ok(ListFunctionUrlConfigsResponse { function_url_configs, next_marker })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qualifiers_are_aliases_only() {
        assert!(check_qualifier(Some("live")).is_ok());
        assert!(check_qualifier(None).is_ok());
        for bad in ["1", "$LATEST", "", "a:b"] {
            let error = check_qualifier(Some(bad)).unwrap_err();
            assert_eq!((error.code, error.status), ("ValidationException", 400), "{bad}");
        }
    }

    #[test]
    fn times_and_ids_read_as_aws_writes_them() {
        assert_eq!(url_timestamp(1_764_181_617_123), "2025-11-26T18:26:57.123000Z");
        let id = new_url_id();
        assert_eq!(id.len(), 32);
        assert!(id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
    }

    #[test]
    fn cors_limits_are_the_models() {
        let cors = Cors { allow_methods: Some(vec!["GET".into(); 7]), ..Cors::default() };
        assert!(check_cors(&cors).unwrap_err().message.contains("less than or equal to 6"));
        assert!(check_cors(&Cors { max_age: Some(86_401), ..Cors::default() }).is_err());
        assert!(check_cors(&Cors { max_age: Some(86_400), ..Cors::default() }).is_ok());
        let error = check_enum("BAD", "authType", &["NONE", "AWS_IAM"]).unwrap_err();
        assert!(error.message.ends_with("Member must satisfy enum value set: [NONE, AWS_IAM]"));
    }
}
