//! Versions: `PublishVersion` snapshots `$LATEST` (code and configuration) as an immutable,
//! numbered version; `ListVersionsByFunction` lists them.

use std::sync::Arc;

use kumo_core::{AwsError, RequestContext};

use crate::functions::{is_version_number, LATEST};
use crate::types::{
    FunctionConfiguration, FunctionRecord, ListFunctionsResponse, ListVersionsResponse, PublishVersionRequest,
};
use crate::{internal, validation, LambdaService};

impl LambdaService {
    /// `PublishVersion`.
    pub async fn publish_version(
        self: &Arc<Self>,
        context: RequestContext,
        function_name: String,
        request: PublishVersionRequest,
    ) -> Result<FunctionConfiguration, AwsError> {
        self.settle_before_update(&context, &function_name).await;
        let published = self.blocking(move |service| {
            let context = service.acting_for(&context, &function_name, None, "lambda:PublishVersion")?;
            let _updating = service.lock_updates();
            let latest =
                service.current_for_update(
                    &context.account,
                    &context.region,
                    &function_name,
                    request.revision_id.as_deref(),
                )?;
            if let Some(expected) = request.code_sha256.as_deref() {
                let current = &latest.configuration.code_sha256;
                if expected != current {
                    return Err(AwsError::invalid_parameter(format!(
                        "CodeSHA256 ({expected}) is different from current CodeSHA256 in $LATEST ({current}). Please try again with the CodeSHA256 in $LATEST."
                    )));
                }
            }
            if request.description.as_ref().is_some_and(|d| d.len() > 256) {
                return Err(validation::validation_error(
                    "1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 256",
                ));
            }
            service.publish_locked(&context.account, &context.region, &latest, request.description)
        })
        .await?;
        // The version is prepared while the call returns: `published_version_active` sees it.
        self.spawn_update_transitions(&published);
        Ok(published)
    }

    /// Publishes `$LATEST`; the caller holds the update lock. Publishing an unchanged `$LATEST`
    /// returns the version already made from it, as AWS does.
    pub(crate) fn publish_locked(
        &self,
        account: &str,
        region: &str,
        latest: &FunctionRecord,
        description: Option<String>,
    ) -> Result<FunctionConfiguration, AwsError> {
        let name = latest.configuration.function_name.clone();
        let settings = &latest.settings;
        if settings.latest_published > 0
            && settings.published_revision.as_deref() == Some(&latest.configuration.revision_id)
        {
            let existing = settings.latest_published.to_string();
            if let Ok(record) = self.load_record(account, region, &name, Some(&existing)) {
                return Ok(record.configuration.clone());
            }
        }
        let number = settings.latest_published + 1;
        let version = number.to_string();
        let mut published = latest.clone();
        published.settings = Default::default();
        published.last_prepared = None;
        let configuration = &mut published.configuration;
        configuration.version = version.clone();
        configuration.function_arn = kumo_core::arn::qualified_function_arn(region, account, &name, &version);
        configuration.revision_id = uuid::Uuid::new_v4().to_string();
        configuration.last_modified = kumo_core::time::lambda_timestamp(kumo_core::time::now_millis());
        crate::state::mark_pending(configuration);
        if let Some(description) = description {
            configuration.description = description;
        }
        let document = serde_json::to_string(&published).map_err(internal)?;
        if !self.store.metadata.insert_function(account, region, &name, &version, &document).map_err(internal)? {
            return Err(AwsError::conflict(format!("Version {version} of function {name} already exists")));
        }
        let mut updated_latest = latest.clone();
        updated_latest.settings.latest_published = number;
        updated_latest.settings.published_revision = Some(latest.configuration.revision_id.clone());
        self.save_settings(account, region, updated_latest)?;
        tracing::info!(function = %name, %version, region, "version published");
        Ok(published.configuration)
    }

    /// `ListVersionsByFunction`: `$LATEST` first, then versions in ascending order.
    pub async fn list_versions(
        self: &Arc<Self>,
        context: RequestContext,
        function_name: String,
        marker: Option<String>,
        max_items: Option<i64>,
    ) -> Result<ListVersionsResponse, AwsError> {
        let max_items = crate::functions::page_size(max_items)?;
        self.blocking(move |service| {
            let context = service.acting_for(&context, &function_name, None, "lambda:ListVersionsByFunction")?;
            let reference = service.function_ref(&context.account, &context.region, &function_name, None)?;
            service.load_record(&context.account, &context.region, &reference.name, None)?;
            let mut rows = service
                .store
                .metadata
                .list_function_versions(&context.account, &context.region, &reference.name)
                .map_err(internal)?;
            rows.sort_by_key(|(version, _)| version_order(version));
            let start = match marker.as_deref() {
                None => 0,
                Some(marker) => {
                    let after = version_order(marker);
                    rows.iter().position(|(version, _)| version_order(version) > after).unwrap_or(rows.len())
                }
            };
            let page: Vec<&(String, String)> = rows.iter().skip(start).take(max_items).collect();
            let more = start + page.len() < rows.len();
            let mut versions = Vec::with_capacity(page.len());
            for (_, document) in &page {
                let record: FunctionRecord = serde_json::from_str(document).map_err(internal)?;
                versions.push(record.configuration.listed());
            }
            let next_marker = more.then(|| versions.last().map(|v| v.version.clone())).flatten();
            Ok(ListVersionsResponse { versions, next_marker })
        })
        .await
    }
}

impl LambdaService {
    /// `ListFunctions` with `FunctionVersion=ALL`: every function's `$LATEST` then its published
    /// versions, by function name, `max_items` entries a page. The marker (`name` or
    /// `name:version`, encoded) is the last entry sent: a page may end inside a function.
    pub(crate) fn list_every_version(
        &self,
        context: &RequestContext,
        after: Option<&str>,
        max_items: usize,
    ) -> Result<ListFunctionsResponse, AwsError> {
        let (account, region) = (&context.account, &context.region);
        // Where the last page stopped: after a whole function, or after one of its versions.
        let (mut after_name, mut after_version) = match after.and_then(|after| after.split_once(':')) {
            Some((name, version)) => (Some(name.to_string()), Some(version_order(version))),
            None => (after.map(str::to_string), None),
        };
        let mut functions: Vec<FunctionConfiguration> = Vec::new();
        let mut last = None;
        loop {
            // The function a page stopped inside comes first, then the names after it.
            let names: Vec<String> = match after_version {
                Some(_) => after_name.iter().cloned().collect(),
                None => {
                    let rows =
                        self.store.metadata.list_functions(account, region, LATEST, after_name.as_deref(), max_items);
                    rows.map_err(internal)?.into_iter().map(|(name, _)| name).collect()
                }
            };
            if names.is_empty() {
                return Ok(ListFunctionsResponse { functions, next_marker: None });
            }
            for name in names {
                let mut rows = self.store.metadata.list_function_versions(account, region, &name).map_err(internal)?;
                rows.sort_by_key(|(version, _)| version_order(version));
                let skip = after_version.take();
                for (version, document) in rows {
                    if skip.is_some_and(|skip| version_order(&version) <= skip) {
                        continue;
                    }
                    if functions.len() == max_items {
                        let marker = last.map(|(name, version): (String, String)| format!("{name}:{version}"));
                        return Ok(ListFunctionsResponse {
                            functions,
                            next_marker: marker.map(|marker| crate::functions::encode_marker(&marker)),
                        });
                    }
                    let record: FunctionRecord = serde_json::from_str(&document).map_err(internal)?;
                    functions.push(record.configuration.listed());
                    last = Some((name.clone(), version));
                }
                after_name = Some(name);
            }
        }
    }
}

/// `$LATEST` sorts before every number; numbers sort numerically.
fn version_order(version: &str) -> u64 {
    if version == LATEST || !is_version_number(version) {
        return 0;
    }
    version.parse::<u64>().map_or(u64::MAX, |number| number.saturating_add(1))
}
