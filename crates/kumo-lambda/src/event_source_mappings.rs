//! Event source mappings (`Create/Get/Update/Delete/ListEventSourceMappings`) for SQS queues.
//! The configuration is stored here; the invoke engine's pollers run enabled mappings.

use std::sync::Arc;
use std::time::Duration;

use kumo_core::{AwsError, RequestContext};
use kumo_invoke::event_sources::{validate_pattern, MappingSpec, QueueSource, DEFAULT_MAXIMUM_CONCURRENCY};
use serde::{Deserialize, Serialize};

use crate::resource_tags::KUMO_TAGS;
use crate::{internal, validation, LambdaService};

/// What an SQS event source mapping's execution role must be allowed on its queue (AWS's
/// `AWSLambdaSQSQueueExecutionRole` grants these), in the order AWS reports a missing one.
pub const QUEUE_ACTIONS: [&str; 3] = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"];

/// `FilterCriteria`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FilterCriteria {
    /// The filters.
    #[serde(default)]
    pub filters: Vec<Filter>,
}

/// One `Filter`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Filter {
    /// The pattern, a JSON document as a string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
}

/// `ScalingConfig`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScalingConfig {
    /// 2–1,000 concurrent batches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_concurrency: Option<u32>,
}

/// `CreateEventSourceMapping` / `UpdateEventSourceMapping` input.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MappingRequest {
    /// Queue ARN (create only).
    pub event_source_arn: Option<String>,
    /// Function name or ARN.
    pub function_name: Option<String>,
    /// Whether the pollers run.
    pub enabled: Option<bool>,
    /// 1–10,000 (default 10).
    pub batch_size: Option<i64>,
    /// 0–300 s.
    pub maximum_batching_window_in_seconds: Option<i64>,
    /// Filters.
    pub filter_criteria: Option<FilterCriteria>,
    /// `ReportBatchItemFailures`.
    pub function_response_types: Option<Vec<String>>,
    /// Maximum concurrency.
    pub scaling_config: Option<ScalingConfig>,
    /// Tags of the mapping (create only).
    pub tags: Option<std::collections::BTreeMap<String, String>>,
}

/// A stored mapping, rendered as `EventSourceMappingConfiguration`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EventSourceMapping {
    /// Its id.
    #[serde(rename = "UUID")]
    pub uuid: String,
    /// Batch size.
    pub batch_size: u32,
    /// Batching window.
    pub maximum_batching_window_in_seconds: u32,
    /// The queue.
    pub event_source_arn: String,
    /// Filters, when any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter_criteria: Option<FilterCriteria>,
    /// The function (qualified when the mapping names a version or alias).
    pub function_arn: String,
    /// Epoch seconds of the last change.
    pub last_modified: f64,
    /// `No records processed` or `OK`.
    pub last_processing_result: String,
    /// `Creating`, `Enabled`, `Disabled`, `Updating`, `Deleting`, …
    pub state: String,
    /// Why the state changed.
    pub state_transition_reason: String,
    /// `ReportBatchItemFailures`, or `[]` (AWS shows the empty list).
    #[serde(default)]
    pub function_response_types: Vec<String>,
    /// Scaling, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scaling_config: Option<ScalingConfig>,
    /// `arn:aws:lambda:{region}:{account}:event-source-mapping:{uuid}`.
    pub event_source_mapping_arn: String,
}

/// `ListEventSourceMappings` output.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListEventSourceMappingsResponse {
    /// This page.
    pub event_source_mappings: Vec<EventSourceMapping>,
    /// Marker of the next page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
}

fn not_found(uuid: &str) -> AwsError {
    AwsError::not_found(format!(
        "The resource you requested does not exist. (Service: Lambda, Status Code: 404, Request ID: {uuid})"
    ))
}

fn check_settings(mapping: &EventSourceMapping) -> Result<(), AwsError> {
    if !(1..=10_000).contains(&mapping.batch_size) {
        return Err(validation::validation_error(format!(
            "1 validation error detected: Value '{}' at 'batchSize' failed to satisfy constraint: Member must have value less than or equal to 10000",
            mapping.batch_size
        )));
    }
    if mapping.maximum_batching_window_in_seconds > 300 {
        return Err(validation::validation_error(format!(
            "1 validation error detected: Value '{}' at 'maximumBatchingWindowInSeconds' failed to satisfy constraint: Member must have value less than or equal to 300",
            mapping.maximum_batching_window_in_seconds
        )));
    }
    if mapping.batch_size > 10 && mapping.maximum_batching_window_in_seconds == 0 {
        return Err(AwsError::invalid_parameter(
            "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10",
        ));
    }
    if let Some(concurrency) = mapping.scaling_config.as_ref().and_then(|s| s.maximum_concurrency) {
        if !(2..=1000).contains(&concurrency) {
            return Err(validation::validation_error(format!(
                "1 validation error detected: Value '{concurrency}' at 'scalingConfig.maximumConcurrency' failed to satisfy constraint: Member must have value greater than or equal to 2"
            )));
        }
    }
    for kind in &mapping.function_response_types {
        if kind != "ReportBatchItemFailures" {
            return Err(validation::validation_error(format!(
                "1 validation error detected: Value '[{kind}]' at 'functionResponseTypes' failed to satisfy constraint: Member must satisfy enum value set: [ReportBatchItemFailures]"
            )));
        }
    }
    for filter in mapping.filter_criteria.iter().flat_map(|f| &f.filters) {
        let pattern = filter.pattern.as_deref().unwrap_or("");
        validate_pattern(pattern)
            .map_err(|error| AwsError::invalid_parameter(format!("Invalid filter pattern definition. {error}")))?;
    }
    Ok(())
}

impl LambdaService {
    /// What the engine's pollers need for a mapping.
    fn mapping_spec(&self, account: &str, region: &str, mapping: &EventSourceMapping) -> Option<MappingSpec> {
        let reference = kumo_core::arn::parse_function_ref(&mapping.function_arn).ok()?;
        let filters = mapping
            .filter_criteria
            .iter()
            .flat_map(|f| &f.filters)
            .filter_map(|f| f.pattern.as_deref().and_then(|p| validate_pattern(p).ok()))
            .collect();
        Some(MappingSpec {
            uuid: mapping.uuid.clone(),
            account: account.to_string(),
            region: region.to_string(),
            event_source_arn: mapping.event_source_arn.clone(),
            function_name: reference.name,
            qualifier: reference.qualifier,
            batch_size: mapping.batch_size as usize,
            batching_window: Duration::from_secs(u64::from(mapping.maximum_batching_window_in_seconds)),
            filters,
            report_batch_item_failures: mapping.function_response_types.iter().any(|t| t == "ReportBatchItemFailures"),
            maximum_concurrency: mapping
                .scaling_config
                .as_ref()
                .and_then(|s| s.maximum_concurrency)
                .map_or(DEFAULT_MAXIMUM_CONCURRENCY, |c| c as usize),
            enabled: mapping.state == "Enabled",
        })
    }

    fn save_mapping(&self, account: &str, region: &str, mapping: &EventSourceMapping) -> Result<(), AwsError> {
        let mut value = serde_json::to_value(mapping).map_err(internal)?;
        // Tags are kept beside what is answered (`resource_tags`): a change of the mapping keeps them.
        let previous =
            self.store.metadata.get_event_source_mapping(&mapping.uuid, account, region).map_err(internal)?;
        if let Some(Ok(serde_json::Value::Object(mut previous))) = previous.map(|d| serde_json::from_str(&d)) {
            if let (Some(tags), Some(object)) = (previous.remove(KUMO_TAGS), value.as_object_mut()) {
                object.insert(KUMO_TAGS.to_string(), tags);
            }
        }
        let document = serde_json::to_string(&value).map_err(internal)?;
        self.store.metadata.put_event_source_mapping(&mapping.uuid, account, region, &document).map_err(internal)?;
        if let Some(spec) = self.mapping_spec(account, region, mapping) {
            self.engine.event_sources().apply(spec);
        }
        Ok(())
    }

    fn load_mapping(&self, account: &str, region: &str, uuid: &str) -> Result<EventSourceMapping, AwsError> {
        let document = self.store.metadata.get_event_source_mapping(uuid, account, region).map_err(internal)?;
        let mut mapping: EventSourceMapping =
            serde_json::from_str(&document.ok_or_else(|| not_found(uuid))?).map_err(internal)?;
        mapping.last_processing_result = self.engine.event_sources().last_result(uuid).render();
        Ok(mapping)
    }

    /// The function ARN a mapping names (qualified when the reference is).
    fn mapping_function_arn(&self, account: &str, region: &str, function_name: &str) -> Result<String, AwsError> {
        let reference = self.function_ref(account, region, function_name, None)?;
        self.load_record(account, region, &reference.name, reference.qualifier.as_deref())?;
        Ok(match reference.qualifier {
            Some(qualifier) => kumo_core::arn::qualified_function_arn(region, account, &reference.name, &qualifier),
            None => kumo_core::arn::function_arn(region, account, &reference.name),
        })
    }

    /// Checks that the execution role of the function version `function_name` names (the one the
    /// poller will run and act as) may do what the poller does with the queue ([`QUEUE_ACTIONS`]),
    /// as AWS checks when a mapping is created or pointed at another function.
    fn check_mapping_role(
        &self,
        context: &RequestContext,
        function_name: &str,
        source_arn: &str,
        source: &dyn QueueSource,
    ) -> Result<(), AwsError> {
        let reference = self.function_ref(&context.account, &context.region, function_name, None)?;
        let function = self.resolve_invocation(
            &context.account,
            &context.region,
            &reference.name,
            reference.qualifier.as_deref(),
        )?;
        self.check_role_on_queue(&function.configuration.role, &reference.name, &QUEUE_ACTIONS, |caller, action| {
            source.authorize(source_arn, caller, action)
        })
    }

    /// `CreateEventSourceMapping`: the function's execution role must be allowed what the poller
    /// does with the queue ([`QUEUE_ACTIONS`]).
    pub async fn create_event_source_mapping(
        self: &Arc<Self>,
        context: RequestContext,
        request: MappingRequest,
    ) -> Result<EventSourceMapping, AwsError> {
        self.authorize_identity(&context, "lambda:CreateEventSourceMapping", "*")?;
        let source_arn = request
            .event_source_arn
            .clone()
            .ok_or_else(|| AwsError::invalid_parameter("EventSourceArn is a required parameter"))?;
        if source_arn.split(':').nth(2) != Some("sqs") {
            return Err(AwsError::invalid_parameter(format!(
                "Unsupported event source {source_arn}: Kumo maps SQS queues for now."
            )));
        }
        let source = self
            .engine
            .event_sources()
            .source()
            .ok_or_else(|| AwsError::invalid_parameter("The SQS service is not available in this Kumo."))?;
        if !source.exists(&source_arn).await {
            return Err(AwsError::invalid_parameter(format!(
                "Error occurred while ReceiveMessage. SQS Error Code: AWS.SimpleQueueService.NonExistentQueue. SQS Error Message: The specified queue does not exist ({source_arn})"
            )));
        }
        self.blocking(move |service| {
            let function_name = request
                .function_name
                .clone()
                .ok_or_else(|| AwsError::invalid_parameter("FunctionName is a required parameter"))?;
            let function_arn = service.mapping_function_arn(&context.account, &context.region, &function_name)?;
            service.check_mapping_role(&context, &function_name, &source_arn, source.as_ref())?;
            let uuid = uuid::Uuid::new_v4().to_string();
            let mut mapping = EventSourceMapping {
                event_source_mapping_arn: format!(
                    "arn:aws:lambda:{}:{}:event-source-mapping:{uuid}",
                    context.region, context.account
                ),
                uuid,
                batch_size: request.batch_size.unwrap_or(10).clamp(0, i64::from(u32::MAX)) as u32,
                maximum_batching_window_in_seconds: request
                    .maximum_batching_window_in_seconds
                    .unwrap_or(0)
                    .clamp(0, 100_000) as u32,
                event_source_arn: source_arn,
                filter_criteria: request.filter_criteria.clone().filter(|f| !f.filters.is_empty()),
                function_arn,
                last_modified: kumo_core::time::now_millis() as f64 / 1000.0,
                last_processing_result: "No records processed".to_string(),
                state: if request.enabled.unwrap_or(true) { "Enabled" } else { "Disabled" }.to_string(),
                state_transition_reason: "USER_INITIATED".to_string(),
                function_response_types: request.function_response_types.clone().unwrap_or_default(),
                scaling_config: request.scaling_config.clone().filter(|s| s.maximum_concurrency.is_some()),
            };
            check_settings(&mapping)?;
            let tags = request.tags.clone().unwrap_or_default();
            if tags.len() > 50 {
                return Err(AwsError::invalid_parameter("Number of tags exceeds resource tag limit."));
            }
            service.save_mapping(&context.account, &context.region, &mapping)?;
            if !tags.is_empty() {
                service.save_mapping_tags(&context.account, &context.region, &mapping.uuid, &tags)?;
            }
            // AWS answers while the mapping is being created.
            mapping.state = "Creating".to_string();
            Ok(mapping)
        })
        .await
    }

    /// `GetEventSourceMapping`.
    pub async fn get_event_source_mapping(
        self: &Arc<Self>,
        context: RequestContext,
        uuid: String,
    ) -> Result<EventSourceMapping, AwsError> {
        let mapping_arn = kumo_core::arn::event_source_mapping_arn(&context.region, &context.account, &uuid);
        self.authorize_identity(&context, "lambda:GetEventSourceMapping", &mapping_arn)?;
        self.blocking(move |service| service.load_mapping(&context.account, &context.region, &uuid)).await
    }

    /// `UpdateEventSourceMapping`.
    pub async fn update_event_source_mapping(
        self: &Arc<Self>,
        context: RequestContext,
        uuid: String,
        request: MappingRequest,
    ) -> Result<EventSourceMapping, AwsError> {
        let mapping_arn = kumo_core::arn::event_source_mapping_arn(&context.region, &context.account, &uuid);
        self.authorize_identity(&context, "lambda:UpdateEventSourceMapping", &mapping_arn)?;
        let source = self.engine.event_sources().source();
        self.blocking(move |service| {
            let _updating = service.lock_updates();
            let mut mapping = service.load_mapping(&context.account, &context.region, &uuid)?;
            if let Some(function_name) = &request.function_name {
                mapping.function_arn =
                    service.mapping_function_arn(&context.account, &context.region, function_name)?;
                // Another function's poller acts as that function's role: AWS checks it again.
                if let Some(source) = &source {
                    service.check_mapping_role(&context, function_name, &mapping.event_source_arn, source.as_ref())?;
                }
            }
            if let Some(enabled) = request.enabled {
                mapping.state = if enabled { "Enabled" } else { "Disabled" }.to_string();
            }
            if let Some(size) = request.batch_size {
                mapping.batch_size = size.clamp(0, i64::from(u32::MAX)) as u32;
            }
            if let Some(window) = request.maximum_batching_window_in_seconds {
                mapping.maximum_batching_window_in_seconds = window.clamp(0, 100_000) as u32;
            }
            if let Some(filters) = request.filter_criteria {
                mapping.filter_criteria = Some(filters).filter(|f| !f.filters.is_empty());
            }
            if let Some(types) = request.function_response_types {
                mapping.function_response_types = types;
            }
            if let Some(scaling) = request.scaling_config {
                mapping.scaling_config = Some(scaling).filter(|s| s.maximum_concurrency.is_some());
            }
            check_settings(&mapping)?;
            mapping.last_modified = kumo_core::time::now_millis() as f64 / 1000.0;
            service.save_mapping(&context.account, &context.region, &mapping)?;
            mapping.state = "Updating".to_string();
            Ok(mapping)
        })
        .await
    }

    /// `DeleteEventSourceMapping`.
    pub async fn delete_event_source_mapping(
        self: &Arc<Self>,
        context: RequestContext,
        uuid: String,
    ) -> Result<EventSourceMapping, AwsError> {
        let mapping_arn = kumo_core::arn::event_source_mapping_arn(&context.region, &context.account, &uuid);
        self.authorize_identity(&context, "lambda:DeleteEventSourceMapping", &mapping_arn)?;
        self.blocking(move |service| {
            let mut mapping = service.load_mapping(&context.account, &context.region, &uuid)?;
            service.engine.event_sources().remove(&uuid);
            service.store.metadata.delete_event_source_mapping(&uuid).map_err(internal)?;
            mapping.state = "Deleting".to_string();
            Ok(mapping)
        })
        .await
    }

    /// `ListEventSourceMappings`, optionally by queue and function.
    pub async fn list_event_source_mappings(
        self: &Arc<Self>,
        context: RequestContext,
        event_source_arn: Option<String>,
        function_name: Option<String>,
        marker: Option<String>,
        max_items: Option<i64>,
    ) -> Result<ListEventSourceMappingsResponse, AwsError> {
        self.authorize_identity(&context, "lambda:ListEventSourceMappings", "*")?;
        let max_items = crate::functions::page_size(max_items)?;
        self.blocking(move |service| {
            let function_arn = match &function_name {
                Some(name) => Some(service.mapping_function_arn(&context.account, &context.region, name)?),
                None => None,
            };
            let mut mappings = Vec::new();
            for (account, region, document) in service.store.metadata.list_event_source_mappings().map_err(internal)? {
                if account != context.account || region != context.region {
                    continue;
                }
                let mapping: EventSourceMapping = serde_json::from_str(&document).map_err(internal)?;
                let source_matches = event_source_arn.as_ref().is_none_or(|arn| &mapping.event_source_arn == arn);
                let function_matches = function_arn.as_ref().is_none_or(|arn| &mapping.function_arn == arn);
                let after_marker = marker.as_ref().is_none_or(|m| &mapping.uuid > m);
                if source_matches && function_matches && after_marker {
                    mappings.push(service.load_mapping(&account, &region, &mapping.uuid)?);
                }
            }
            let more = mappings.len() > max_items;
            mappings.truncate(max_items);
            let next_marker = more.then(|| mappings.last().map(|m| m.uuid.clone())).flatten();
            Ok(ListEventSourceMappingsResponse { event_source_mappings: mappings, next_marker })
        })
        .await
    }

    /// Starts the pollers of every stored mapping (at start-up, once SQS is connected).
    pub fn restore_event_source_mappings(&self) -> Result<(), AwsError> {
        for (account, region, document) in self.store.metadata.list_event_source_mappings().map_err(internal)? {
            let mapping: EventSourceMapping = serde_json::from_str(&document).map_err(internal)?;
            if let Some(spec) = self.mapping_spec(&account, &region, &mapping) {
                self.engine.event_sources().apply(spec);
            }
        }
        Ok(())
    }
}
