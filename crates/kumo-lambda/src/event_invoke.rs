//! Asynchronous invocation configuration (`Put/Update/Get/List/DeleteFunctionEventInvokeConfig`)
//! and delivery of async outcomes to Lambda destinations.

use std::collections::BTreeMap;
use std::sync::Arc;

use kumo_core::{AwsError, RequestContext};
use kumo_invoke::{AsyncConfig, BoxFuture, DestinationSender};
use serde::{Deserialize, Serialize};

use crate::functions::LATEST;
use crate::types::FunctionRecord;
use crate::{validation, LambdaService};

/// One destination (`OnSuccess` / `OnFailure`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Destination {
    /// ARN of a function, queue, topic or event bus.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
}

/// `DestinationConfig`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DestinationConfig {
    /// Where successful invocations' records go.
    #[serde(default)]
    pub on_success: Destination,
    /// Where failed invocations' records go.
    #[serde(default)]
    pub on_failure: Destination,
}

/// `PutFunctionEventInvokeConfig` / `UpdateFunctionEventInvokeConfig` input.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EventInvokeConfigRequest {
    /// 0–2.
    pub maximum_retry_attempts: Option<i64>,
    /// 60–21,600.
    pub maximum_event_age_in_seconds: Option<i64>,
    /// Destinations.
    pub destination_config: Option<DestinationConfig>,
}

/// A stored configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EventInvokeConfigRecord {
    /// Retries after function errors.
    pub maximum_retry_attempts: Option<u32>,
    /// Oldest event age in seconds.
    pub maximum_event_age_in_seconds: Option<u32>,
    /// Destinations.
    pub destination_config: DestinationConfig,
    /// Epoch ms of the last change.
    pub last_modified_ms: u64,
}

/// `FunctionEventInvokeConfig`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FunctionEventInvokeConfig {
    /// Epoch seconds (restJson1 timestamps).
    pub last_modified: f64,
    /// Qualified function ARN.
    pub function_arn: String,
    /// Retries, when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maximum_retry_attempts: Option<u32>,
    /// Maximum age, when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maximum_event_age_in_seconds: Option<u32>,
    /// Destinations.
    pub destination_config: DestinationConfig,
}

/// `ListFunctionEventInvokeConfigs` output.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListFunctionEventInvokeConfigsResponse {
    /// The configurations.
    pub function_event_invoke_configs: Vec<FunctionEventInvokeConfig>,
    /// Marker of the next page, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
}

fn check_destination(destination: &Destination) -> Result<(), AwsError> {
    let Some(arn) = &destination.destination else { return Ok(()) };
    let service = arn.split(':').nth(2).unwrap_or_default();
    if arn.starts_with("arn:aws") && matches!(service, "lambda" | "sqs" | "sns" | "events") {
        return Ok(());
    }
    Err(AwsError::invalid_parameter(format!(
        "The provided destination config DestinationConfig(onSuccess=null, onFailure={arn}) is invalid."
    )))
}

impl LambdaService {
    /// The `$LATEST` record, the key (`$LATEST`, a version or an alias) and the qualified ARN.
    /// The `$LATEST` record, the qualifier a configuration is kept under and its ARN. A missing
    /// function or version is answered in AWS's words: "The function doesn't exist." to a put,
    /// "The function arn:…:$LATEST doesn't have an EventInvokeConfig" to the others.
    fn event_invoke_target(
        &self,
        account: &str,
        region: &str,
        function_name: &str,
        qualifier: Option<&str>,
        put: bool,
    ) -> Result<(Arc<FunctionRecord>, String, String), AwsError> {
        let reference = self.function_ref(account, region, function_name, qualifier)?;
        let key = reference.qualifier.unwrap_or_else(|| LATEST.to_string());
        let arn = kumo_core::arn::qualified_function_arn(region, account, &reference.name, &key);
        let missing = |_| match put {
            true => AwsError::not_found("The function doesn't exist."),
            false => AwsError::not_found(format!("The function {arn} doesn't have an EventInvokeConfig")),
        };
        let latest = self.load_record(account, region, &reference.name, None).map_err(missing)?;
        self.load_record(account, region, &reference.name, Some(&key)).map_err(missing)?;
        Ok((latest, key, arn))
    }

    fn render_event_invoke(arn: String, record: &EventInvokeConfigRecord) -> FunctionEventInvokeConfig {
        FunctionEventInvokeConfig {
            last_modified: record.last_modified_ms as f64 / 1000.0,
            function_arn: arn,
            maximum_retry_attempts: record.maximum_retry_attempts,
            maximum_event_age_in_seconds: record.maximum_event_age_in_seconds,
            destination_config: record.destination_config.clone(),
        }
    }

    /// `PutFunctionEventInvokeConfig` (replace) and `UpdateFunctionEventInvokeConfig` (merge).
    pub async fn put_event_invoke_config(
        self: &Arc<Self>,
        context: RequestContext,
        function_name: String,
        qualifier: Option<String>,
        request: EventInvokeConfigRequest,
        merge: bool,
    ) -> Result<FunctionEventInvokeConfig, AwsError> {
        self.blocking(move |service| {
            let context = service.acting_for(&context, &function_name, qualifier.as_deref(), if merge { "lambda:UpdateFunctionEventInvokeConfig" } else { "lambda:PutFunctionEventInvokeConfig" })?;
            let _updating = service.lock_updates();
            let (latest, key, arn) = service.event_invoke_target(
                &context.account,
                &context.region,
                &function_name,
                qualifier.as_deref(),
                !merge,
            )?;
            let existing = latest.settings.event_invoke.get(&key).cloned();
            if merge && existing.is_none() {
                return Err(AwsError::not_found(format!("The function {arn} doesn't have an EventInvokeConfig")));
            }
            let mut record = if merge { existing.unwrap_or_default() } else { EventInvokeConfigRecord::default() };
            if let Some(retries) = request.maximum_retry_attempts {
                if !(0..=2).contains(&retries) {
                    return Err(validation::validation_error(format!(
                        "1 validation error detected: Value '{retries}' at 'maximumRetryAttempts' failed to satisfy constraint: Member must have value less than or equal to 2"
                    )));
                }
                record.maximum_retry_attempts = Some(retries as u32);
            }
            if let Some(age) = request.maximum_event_age_in_seconds {
                if !(60..=21_600).contains(&age) {
                    return Err(validation::validation_error(format!(
                        "1 validation error detected: Value '{age}' at 'maximumEventAgeInSeconds' failed to satisfy constraint: Member must have value between 60 and 21600"
                    )));
                }
                record.maximum_event_age_in_seconds = Some(age as u32);
            }
            if let Some(destinations) = request.destination_config {
                check_destination(&destinations.on_success)?;
                check_destination(&destinations.on_failure)?;
                // Deliveries act as the execution role of the version the configuration is for.
                let version = service.load_record(&context.account, &context.region, &latest.configuration.function_name, Some(&key))?;
                for destination in [&destinations.on_success, &destinations.on_failure] {
                    service.check_destination_reachable(&version.configuration.role, &latest.configuration.function_name, destination)?;
                }
                if !merge || destinations.on_success.destination.is_some() {
                    record.destination_config.on_success = destinations.on_success;
                }
                if !merge || destinations.on_failure.destination.is_some() {
                    record.destination_config.on_failure = destinations.on_failure;
                }
            }
            record.last_modified_ms = kumo_core::time::now_millis();
            let mut updated = (*latest).clone();
            updated.settings.event_invoke.insert(key, record.clone());
            service.save_settings(&context.account, &context.region, updated)?;
            Ok(Self::render_event_invoke(arn, &record))
        })
        .await
    }

    /// `GetFunctionEventInvokeConfig`.
    pub async fn get_event_invoke_config(
        self: &Arc<Self>,
        context: RequestContext,
        function_name: String,
        qualifier: Option<String>,
    ) -> Result<FunctionEventInvokeConfig, AwsError> {
        self.blocking(move |service| {
            let context = service.acting_for(
                &context,
                &function_name,
                qualifier.as_deref(),
                "lambda:GetFunctionEventInvokeConfig",
            )?;
            let (latest, key, arn) = service.event_invoke_target(
                &context.account,
                &context.region,
                &function_name,
                qualifier.as_deref(),
                false,
            )?;
            let record =
                latest.settings.event_invoke.get(&key).ok_or_else(|| {
                    AwsError::not_found(format!("The function {arn} doesn't have an EventInvokeConfig"))
                })?;
            Ok(Self::render_event_invoke(arn, record))
        })
        .await
    }

    /// `ListFunctionEventInvokeConfigs`.
    pub async fn list_event_invoke_configs(
        self: &Arc<Self>,
        context: RequestContext,
        function_name: String,
        marker: Option<String>,
        max_items: Option<i64>,
    ) -> Result<ListFunctionEventInvokeConfigsResponse, AwsError> {
        self.blocking(move |service| {
            let context =
                service.acting_for(&context, &function_name, None, "lambda:ListFunctionEventInvokeConfigs")?;
            let latest = service.unqualified_latest(&context.account, &context.region, &function_name)?;
            let name = &latest.configuration.function_name;
            let keys: Vec<&String> = latest.settings.event_invoke.keys().collect();
            let (page, next_marker) =
                crate::functions::paginate(keys, marker.as_deref(), max_items, |key| key.to_string());
            let configs = page
                .into_iter()
                .filter_map(|key| Some((key, latest.settings.event_invoke.get(key)?)))
                .map(|(key, record)| {
                    let arn = kumo_core::arn::qualified_function_arn(&context.region, &context.account, name, key);
                    Self::render_event_invoke(arn, record)
                })
                .collect();
            Ok(ListFunctionEventInvokeConfigsResponse { function_event_invoke_configs: configs, next_marker })
        })
        .await
    }

    /// `DeleteFunctionEventInvokeConfig`.
    pub async fn delete_event_invoke_config(
        self: &Arc<Self>,
        context: RequestContext,
        function_name: String,
        qualifier: Option<String>,
    ) -> Result<(), AwsError> {
        self.blocking(move |service| {
            let context = service.acting_for(
                &context,
                &function_name,
                qualifier.as_deref(),
                "lambda:DeleteFunctionEventInvokeConfig",
            )?;
            let _updating = service.lock_updates();
            let (latest, key, arn) = service.event_invoke_target(
                &context.account,
                &context.region,
                &function_name,
                qualifier.as_deref(),
                false,
            )?;
            let mut updated = (*latest).clone();
            if updated.settings.event_invoke.remove(&key).is_none() {
                return Err(AwsError::not_found(format!("The function {arn} doesn't have an EventInvokeConfig")));
            }
            service.save_settings(&context.account, &context.region, updated)?;
            Ok(())
        })
        .await
    }

    /// Checks that `function_name`'s execution role `role` may deliver to `destination`, as AWS
    /// checks when the configuration is put: `sqs:SendMessage` on a queue, `lambda:InvokeFunction`
    /// on a function (each decided by the target's service: the role's policies and the target's
    /// own policy). Other targets (SNS, EventBridge) are not delivered by Kumo and are stored as
    /// given; under `--skip-role-check` nothing is checked. Deliveries are checked again each time,
    /// since a role's policies can change later.
    fn check_destination_reachable(
        &self,
        role: &str,
        function_name: &str,
        destination: &Destination,
    ) -> Result<(), AwsError> {
        let Some(arn) = destination.destination.as_deref() else { return Ok(()) };
        if !matches!(arn.split(':').nth(2), Some("sqs" | "lambda")) || self.execution_roles.get().is_none() {
            return Ok(());
        }
        let Some(sender) = self.engine.destinations() else { return Ok(()) };
        let action = kumo_invoke::delivery_action(arn);
        let role = kumo_core::policy::ExecutionRole::new(role, function_name);
        sender.authorize(arn, &role.caller(), action).map_err(|why| {
            tracing::debug!(role = %role.role_arn, destination = arn, %why, "execution role refused");
            let operation = action.split_once(':').map_or(action, |(_, operation)| operation);
            AwsError::invalid_parameter(format!(
                "The function's execution role does not have permissions to call {operation} on {arn}"
            ))
        })
    }

    /// The async behaviour of an invocation of `qualifier`: its event invoke config and the
    /// version's dead-letter target.
    pub(crate) fn async_config_for(
        &self,
        account: &str,
        region: &str,
        name: &str,
        qualifier: Option<&str>,
    ) -> AsyncConfig {
        let mut config = AsyncConfig::default();
        let Ok(latest) = self.load_record(account, region, name, None) else { return config };
        let key = qualifier.unwrap_or(LATEST);
        if let Some(record) = latest.settings.event_invoke.get(key) {
            if let Some(retries) = record.maximum_retry_attempts {
                config.maximum_retry_attempts = retries;
            }
            if let Some(age) = record.maximum_event_age_in_seconds {
                config.maximum_event_age = std::time::Duration::from_secs(u64::from(age));
            }
            config.on_success = record.destination_config.on_success.destination.clone();
            config.on_failure = record.destination_config.on_failure.destination.clone();
        }
        if let Ok(version) = self.load_record(account, region, name, qualifier) {
            config.dead_letter = version.configuration.dead_letter_config.as_ref().and_then(|d| d.target_arn.clone());
            // Deliveries act as the role; under --skip-role-check it need not exist, so they
            // are not checked.
            if self.execution_roles.get().is_some() {
                config.role = Some(version.configuration.role.clone());
            }
        }
        config
    }
}

/// Delivers async outcomes: Lambda ARNs become async invocations of the target function;
/// other services' ARNs go to `others` (e.g. SQS), keyed by the ARN's service.
pub struct Destinations {
    lambda: Arc<LambdaService>,
    others: BTreeMap<String, Arc<dyn DestinationSender>>,
}

impl Destinations {
    /// Destinations served by the Lambda service, plus senders for other services.
    pub fn new(lambda: Arc<LambdaService>, others: BTreeMap<String, Arc<dyn DestinationSender>>) -> Self {
        Self { lambda, others }
    }

    async fn invoke_function(&self, arn: &str, body: String) -> Result<(), String> {
        let reference = kumo_core::arn::parse_function_ref(arn).map_err(|e| e.message)?;
        let region = reference.region.clone().unwrap_or_else(|| kumo_core::DEFAULT_REGION.to_string());
        // The destination ARN names its function's account; the event is queued for that function.
        let account = reference.account.clone().unwrap_or_else(|| self.lambda.default_account().to_string());
        let mut context = RequestContext::new(account, region);
        context.request_id = uuid::Uuid::new_v4().to_string();
        let input = crate::types::InvokeInput {
            function_name: arn.to_string(),
            qualifier: None,
            invocation_type: Some("Event".to_string()),
            log_type: None,
            client_context: None,
            payload: bytes::Bytes::from(body),
        };
        self.lambda.invoke(context, input).await.map(|_| ()).map_err(|e| e.to_string())
    }
}

impl DestinationSender for Destinations {
    fn send<'a>(
        &'a self,
        arn: &'a str,
        body: String,
        attributes: Vec<(String, String)>,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let service = arn.split(':').nth(2).unwrap_or_default();
            if service == "lambda" {
                return self.invoke_function(arn, body).await;
            }
            match self.others.get(service) {
                Some(sender) => sender.send(arn, body, attributes).await,
                None => Err(format!("Kumo cannot deliver to {service} destinations yet ({arn})")),
            }
        })
    }

    fn authorize(&self, arn: &str, caller: &kumo_core::policy::Caller<'_>, action: &str) -> Result<(), String> {
        let service = arn.split(':').nth(2).unwrap_or_default();
        if service == "lambda" {
            return self.lambda.role_may_invoke(arn, caller);
        }
        match self.others.get(service) {
            Some(sender) => sender.authorize(arn, caller, action),
            None => Err(format!("Kumo cannot deliver to {service} destinations yet ({arn})")),
        }
    }
}
