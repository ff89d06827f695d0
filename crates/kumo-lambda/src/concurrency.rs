//! Reserved concurrency (`Put/Get/DeleteFunctionConcurrency`) and provisioned concurrency
//! (`Put/Get/List/DeleteProvisionedConcurrencyConfig`). Both are function-level settings kept on
//! the `$LATEST` record; the invoke engine enforces them.

use std::sync::Arc;

use kumo_core::{AwsError, RequestContext};

use crate::functions::LATEST;
use crate::types::{
    Concurrency, FunctionRecord, ListProvisionedConcurrencyConfigsResponse, ProvisionedConcurrencyConfig,
    ProvisionedConcurrencyRequest, ProvisionedSetting,
};
use crate::{internal, LambdaService};

/// Lambda keeps at least this much concurrency unreserved.
const MINIMUM_UNRESERVED: u32 = 100;

impl LambdaService {
    /// `PutFunctionConcurrency`.
    pub async fn put_function_concurrency(
        self: &Arc<Self>,
        context: RequestContext,
        function_name: String,
        request: Concurrency,
    ) -> Result<Concurrency, AwsError> {
        let value = request
            .reserved_concurrent_executions
            .ok_or_else(|| AwsError::invalid_parameter("ReservedConcurrentExecutions is a required parameter"))?;
        let limits = Arc::clone(self.engine.concurrency());
        // The model's minimum (0) is checked before; a value beyond the account is refused only
        // once the function is found, as AWS does.
        let value = u32::try_from(value.max(0)).unwrap_or(u32::MAX);
        self.blocking(move |service| {
            let context = service.acting_for(&context, &function_name, None, "lambda:PutFunctionConcurrency")?;
            let _updating = service.lock_updates();
            let latest = service.unqualified_latest(&context.account, &context.region, &function_name).map_err(
                |error| match error.code {
                    // AWS names the version a reservation would apply to.
                    "ResourceNotFoundException" => match kumo_core::arn::parse_function_ref(&function_name) {
                        Ok(reference) => {
                            service.not_found(&context.account, &context.region, &reference.name, Some(LATEST))
                        }
                        Err(_) => error,
                    },
                    _ => error,
                },
            )?;
            let name = &latest.configuration.function_name;
            let others = limits.reserved_total(&context.account, &context.region, Some(name));
            if limits.account_limit().saturating_sub(others.saturating_add(value)) < MINIMUM_UNRESERVED {
                return Err(AwsError::invalid_parameter(format!(
                    "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [{MINIMUM_UNRESERVED}]."
                )));
            }
            let mut record = (*latest).clone();
            record.settings.reserved_concurrency = Some(value);
            service.save_settings(&context.account, &context.region, record)?;
            limits.set_reserved(&context.account, &context.region, name, Some(value));
            Ok(Concurrency { reserved_concurrent_executions: Some(i64::from(value)) })
        })
        .await
    }

    /// `GetFunctionConcurrency`.
    pub async fn get_function_concurrency(
        self: &Arc<Self>,
        context: RequestContext,
        function_name: String,
    ) -> Result<Concurrency, AwsError> {
        self.blocking(move |service| {
            let context = service.acting_for(&context, &function_name, None, "lambda:GetFunctionConcurrency")?;
            let latest = service.unqualified_latest(&context.account, &context.region, &function_name)?;
            Ok(Concurrency { reserved_concurrent_executions: latest.settings.reserved_concurrency.map(i64::from) })
        })
        .await
    }

    /// `DeleteFunctionConcurrency`.
    pub async fn delete_function_concurrency(
        self: &Arc<Self>,
        context: RequestContext,
        function_name: String,
    ) -> Result<(), AwsError> {
        self.blocking(move |service| {
            let context = service.acting_for(&context, &function_name, None, "lambda:DeleteFunctionConcurrency")?;
            let _updating = service.lock_updates();
            let latest = service.unqualified_latest(&context.account, &context.region, &function_name)?;
            let mut record = (*latest).clone();
            record.settings.reserved_concurrency = None;
            service.save_settings(&context.account, &context.region, record)?;
            service.engine.concurrency().set_reserved(
                &context.account,
                &context.region,
                &latest.configuration.function_name,
                None,
            );
            Ok(())
        })
        .await
    }

    /// The `$LATEST` record, the version a provisioned concurrency call runs (an alias's version
    /// for an alias) and the qualifier the configuration is kept under. A missing function or
    /// alias is named as AWS names it (`Cannot find alias arn: …` for an alias, `Function not
    /// found: …:7` for a version); `$LATEST` is refused in `put`'s words or the others'.
    fn provisioned_target(
        &self,
        account: &str,
        region: &str,
        function_name: &str,
        qualifier: Option<&str>,
        put: bool,
    ) -> Result<(Arc<FunctionRecord>, Arc<FunctionRecord>, String), AwsError> {
        let reference = self.function_ref(account, region, function_name, qualifier)?;
        let qualifier = reference.qualifier.as_deref().ok_or_else(|| {
            AwsError::invalid_parameter("The function resource provided must be an alias or a published version.")
        })?;
        if qualifier == LATEST {
            return Err(AwsError::invalid_parameter(match put {
                true => "Provisioned Concurrency Configs cannot be applied to unpublished function versions.",
                false => "The function resource provided must be an alias or a published version.",
            }));
        }
        let name = &reference.name;
        let missing = || match crate::aliases::is_alias_name(qualifier) {
            true => self.alias_not_found(account, region, name, qualifier),
            false => self.not_found(account, region, name, Some(qualifier)),
        };
        let latest = self.load_record(account, region, name, None).map_err(|_| missing())?;
        if crate::aliases::is_alias_name(qualifier) && !latest.settings.aliases.contains_key(qualifier) {
            return Err(missing());
        }
        let version = self.load_record(account, region, name, Some(qualifier))?;
        Ok((latest, version, qualifier.to_string()))
    }

    /// AWS's conflicts between an alias's configuration and its version's: one version is
    /// provisioned either through one of its aliases or directly, never both.
    fn check_provisioned_conflict(latest: &FunctionRecord, key: &str, version: &str) -> Result<(), AwsError> {
        let provisioned = &latest.settings.provisioned;
        if crate::aliases::is_alias_name(key) {
            if provisioned.contains_key(version) {
                return Err(AwsError::conflict(
                    "Alias can't be used for Provisioned Concurrency configuration on an already Provisioned version",
                ));
            }
            return Ok(());
        }
        let through_alias = latest.settings.aliases.iter().any(|(alias, target)| {
            alias.as_str() != key && target.function_version == version && provisioned.contains_key(alias)
        });
        if through_alias {
            return Err(AwsError::conflict("Version is pointed by a Provisioned Concurrency alias"));
        }
        Ok(())
    }

    /// `PutProvisionedConcurrencyConfig`.
    pub async fn put_provisioned_concurrency(
        self: &Arc<Self>,
        context: RequestContext,
        function_name: String,
        qualifier: Option<String>,
        request: ProvisionedConcurrencyRequest,
    ) -> Result<ProvisionedConcurrencyConfig, AwsError> {
        let requested = request
            .provisioned_concurrent_executions
            .ok_or_else(|| AwsError::invalid_parameter("ProvisionedConcurrentExecutions is a required parameter"))?;
        if requested < 1 {
            return Err(crate::validation::validation_error(format!(
                "1 validation error detected: Value '{requested}' at 'provisionedConcurrentExecutions' failed to satisfy constraint: Member must have value greater than or equal to 1"
            )));
        }
        let requested = u32::try_from(requested).unwrap_or(u32::MAX);
        self.blocking(move |service| {
            let context = service.acting_for(&context, &function_name, qualifier.as_deref(), "lambda:PutProvisionedConcurrencyConfig")?;
            let _updating = service.lock_updates();
            let (latest, version, key) = service.provisioned_target(
                &context.account,
                &context.region,
                &function_name,
                qualifier.as_deref(),
                true,
            )?;
            Self::check_provisioned_conflict(&latest, &key, &version.configuration.version)?;
            let limits = service.engine.concurrency();
            let ceiling = latest.settings.reserved_concurrency.unwrap_or_else(
                || limits.unreserved(&context.account, &context.region),
            );
            if requested > ceiling {
                return Err(AwsError::invalid_parameter(format!(
                    "Requested Provisioned Concurrency should not be greater than the reservedConcurrentExecution for function ({ceiling})."
                )));
            }
            let last_modified = kumo_core::time::lambda_timestamp(kumo_core::time::now_millis());
            let mut record = (*latest).clone();
            record.settings.provisioned.insert(
                key,
                ProvisionedSetting { requested, last_modified: last_modified.clone() },
            );
            service.save_settings(&context.account, &context.region, record)?;
            service.engine.set_provisioned(
                service.function_version(&context.account, &context.region, &version),
                requested,
            );
            Ok(ProvisionedConcurrencyConfig {
                function_arn: None,
                requested_provisioned_concurrent_executions: requested,
                available_provisioned_concurrent_executions: 0,
                allocated_provisioned_concurrent_executions: 0,
                status: "IN_PROGRESS".to_string(),
                status_reason: None,
                last_modified,
            })
        })
        .await
    }

    fn provisioned_status(
        &self,
        account: &str,
        region: &str,
        name: &str,
        version: &str,
        setting: &ProvisionedSetting,
    ) -> ProvisionedConcurrencyConfig {
        let allocated = self.engine.provisioned_allocated(account, region, name, version).min(setting.requested);
        let failure = self.engine.provisioned_failure(account, region, name, version);
        let status = match (&failure, allocated >= setting.requested) {
            (Some(_), _) => "FAILED",
            (None, true) => "READY",
            (None, false) => "IN_PROGRESS",
        };
        ProvisionedConcurrencyConfig {
            function_arn: None,
            requested_provisioned_concurrent_executions: setting.requested,
            available_provisioned_concurrent_executions: allocated,
            allocated_provisioned_concurrent_executions: allocated,
            status: status.to_string(),
            status_reason: failure,
            last_modified: setting.last_modified.clone(),
        }
    }

    /// `GetProvisionedConcurrencyConfig`.
    pub async fn get_provisioned_concurrency(
        self: &Arc<Self>,
        context: RequestContext,
        function_name: String,
        qualifier: Option<String>,
    ) -> Result<ProvisionedConcurrencyConfig, AwsError> {
        self.blocking(move |service| {
            let context = service.acting_for(
                &context,
                &function_name,
                qualifier.as_deref(),
                "lambda:GetProvisionedConcurrencyConfig",
            )?;
            let (latest, version, key) = service.provisioned_target(
                &context.account,
                &context.region,
                &function_name,
                qualifier.as_deref(),
                false,
            )?;
            let number = &version.configuration.version;
            let setting = latest.settings.provisioned.get(&key).ok_or_else(|| {
                AwsError::new(
                    "ProvisionedConcurrencyConfigNotFoundException",
                    404,
                    "No Provisioned Concurrency Config found for this function",
                )
            })?;
            Ok(service.provisioned_status(
                &context.account,
                &context.region,
                &latest.configuration.function_name,
                number,
                setting,
            ))
        })
        .await
    }

    /// `ListProvisionedConcurrencyConfigs`.
    pub async fn list_provisioned_concurrency(
        self: &Arc<Self>,
        context: RequestContext,
        function_name: String,
        marker: Option<String>,
        max_items: Option<i64>,
    ) -> Result<ListProvisionedConcurrencyConfigsResponse, AwsError> {
        self.blocking(move |service| {
            let context =
                service.acting_for(&context, &function_name, None, "lambda:ListProvisionedConcurrencyConfigs")?;
            let latest = service.unqualified_latest(&context.account, &context.region, &function_name)?;
            let name = &latest.configuration.function_name;
            let keys: Vec<&String> = latest.settings.provisioned.keys().collect();
            let (page, next_marker) =
                crate::functions::paginate(keys, marker.as_deref(), max_items, |key| key.to_string());
            let configs = page
                .into_iter()
                .filter_map(|qualifier| Some((qualifier, latest.settings.provisioned.get(qualifier)?)))
                .map(|(qualifier, setting)| {
                    let version = service
                        .load_record(&context.account, &context.region, name, Some(qualifier))
                        .map_or_else(|_| qualifier.clone(), |record| record.configuration.version.clone());
                    let mut config =
                        service.provisioned_status(&context.account, &context.region, name, &version, setting);
                    config.function_arn = Some(kumo_core::arn::qualified_function_arn(
                        &context.region,
                        &context.account,
                        name,
                        qualifier,
                    ));
                    config
                })
                .collect();
            Ok(ListProvisionedConcurrencyConfigsResponse { provisioned_concurrency_configs: configs, next_marker })
        })
        .await
    }

    /// `DeleteProvisionedConcurrencyConfig`.
    pub async fn delete_provisioned_concurrency(
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
                "lambda:DeleteProvisionedConcurrencyConfig",
            )?;
            let _updating = service.lock_updates();
            let (latest, version, key) = service.provisioned_target(
                &context.account,
                &context.region,
                &function_name,
                qualifier.as_deref(),
                false,
            )?;
            let mut record = (*latest).clone();
            if record.settings.provisioned.remove(&key).is_none() {
                // Deleting a configuration that does not exist succeeds, as in AWS.
                return Ok(());
            }
            service.save_settings(&context.account, &context.region, record)?;
            service.engine.set_provisioned(service.function_version(&context.account, &context.region, &version), 0);
            Ok(())
        })
        .await
    }

    /// Re-applies reservations and provisioned concurrency after a restart.
    pub fn restore_settings(&self) -> Result<(), AwsError> {
        for (account, region, document) in self.store.metadata.all_latest_functions().map_err(internal)? {
            let latest: FunctionRecord = serde_json::from_str(&document).map_err(internal)?;
            let name = &latest.configuration.function_name;
            if let Some(reserved) = latest.settings.reserved_concurrency {
                self.engine.concurrency().set_reserved(&account, &region, name, Some(reserved));
            }
            for (version, setting) in &latest.settings.provisioned {
                match self.load_record(&account, &region, name, Some(version)) {
                    Ok(record) => self
                        .engine
                        .set_provisioned(self.function_version(&account, &region, &record), setting.requested),
                    Err(error) => tracing::warn!(function = %name, %version, %error, "provisioned version is gone"),
                }
            }
        }
        Ok(())
    }

    /// Drops a deleted function's concurrency settings from the engine.
    pub(crate) fn forget_settings(&self, account: &str, region: &str, latest: &FunctionRecord) {
        let name = &latest.configuration.function_name;
        self.engine.concurrency().set_reserved(account, region, name, None);
        for version in latest.settings.provisioned.keys() {
            if let Ok(record) = self.load_record(account, region, name, Some(version)) {
                self.engine.set_provisioned(self.function_version(account, region, &record), 0);
            }
        }
    }
}
