//! Aliases: named pointers to a version, optionally splitting traffic with a second version
//! (`RoutingConfig.AdditionalVersionWeights`). Kept on the `$LATEST` record with the other
//! function-level settings; invoking an alias picks a version by weight.

use std::collections::BTreeMap;
use std::sync::Arc;

use kumo_core::{AwsError, RequestContext};
use serde::{Deserialize, Serialize};

use crate::functions::{is_version_number, LATEST};
use crate::types::FunctionRecord;
use crate::{validation, LambdaService};

/// An alias as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AliasRecord {
    /// The version it points at.
    pub function_version: String,
    /// Description.
    pub description: String,
    /// Additional version → share of traffic (0.0–1.0).
    pub weights: BTreeMap<String, f64>,
    /// Changes on every update.
    pub revision_id: String,
}

/// `AliasRoutingConfiguration`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RoutingConfig {
    /// Additional version → weight.
    #[serde(default)]
    pub additional_version_weights: BTreeMap<String, f64>,
}

/// `CreateAlias` / `UpdateAlias` input.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AliasRequest {
    /// Alias name (CreateAlias).
    pub name: Option<String>,
    /// Version to point at.
    pub function_version: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Weighted routing.
    pub routing_config: Option<RoutingConfig>,
    /// Only update if the alias is at this revision.
    pub revision_id: Option<String>,
}

/// `AliasConfiguration`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AliasConfiguration {
    /// `arn:aws:lambda:…:function:NAME:ALIAS`.
    pub alias_arn: String,
    /// Alias name.
    pub name: String,
    /// Version it points at.
    pub function_version: String,
    /// Description.
    pub description: String,
    /// Weighted routing, when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub routing_config: Option<RoutingConfig>,
    /// Revision.
    pub revision_id: String,
}

/// `ListAliases` output.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListAliasesResponse {
    /// This page.
    pub aliases: Vec<AliasConfiguration>,
    /// Marker of the next page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
}

/// Whether a qualifier names an alias (not `$LATEST`, not a version number).
pub fn is_alias_name(qualifier: &str) -> bool {
    qualifier != LATEST && !is_version_number(qualifier)
}

fn validate_alias_name(name: &str) -> Result<(), AwsError> {
    let valid = !name.is_empty()
        && name.len() <= 128
        && !is_version_number(name)
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if valid {
        return Ok(());
    }
    Err(validation::validation_error(format!(
        "1 validation error detected: Value '{name}' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)"
    )))
}

/// Picks the version an invocation of `alias` runs: the additional version with its weight's
/// probability, else the alias's own version.
pub fn pick_version(alias: &AliasRecord) -> String {
    let draw = (uuid::Uuid::new_v4().as_u128() >> 64) as f64 / u64::MAX as f64;
    let mut threshold = 0.0;
    for (version, weight) in &alias.weights {
        threshold += weight;
        if draw < threshold {
            return version.clone();
        }
    }
    alias.function_version.clone()
}

impl LambdaService {
    fn alias_configuration(
        &self,
        account: &str,
        region: &str,
        function: &str,
        name: &str,
        alias: &AliasRecord,
    ) -> AliasConfiguration {
        AliasConfiguration {
            alias_arn: kumo_core::arn::qualified_function_arn(region, account, function, name),
            name: name.to_string(),
            function_version: alias.function_version.clone(),
            description: alias.description.clone(),
            routing_config: (!alias.weights.is_empty())
                .then(|| RoutingConfig { additional_version_weights: alias.weights.clone() }),
            revision_id: alias.revision_id.clone(),
        }
    }

    /// AWS's not-found for an alias (`Cannot find alias arn: …`).
    pub(crate) fn alias_not_found(&self, account: &str, region: &str, function: &str, name: &str) -> AwsError {
        let arn = kumo_core::arn::qualified_function_arn(region, account, function, name);
        AwsError::not_found(format!("Cannot find alias arn: {arn}"))
    }

    /// Checks the version and weights an alias would point at.
    fn check_alias_target(
        &self,
        account: &str,
        region: &str,
        function: &str,
        version: &str,
        weights: &BTreeMap<String, f64>,
    ) -> Result<(), AwsError> {
        if version != LATEST && !is_version_number(version) {
            return Err(validation::validation_error(format!(
                "1 validation error detected: Value '{version}' at 'functionVersion' failed to satisfy constraint: Member must satisfy regular expression pattern: (\\$LATEST|[0-9]+)"
            )));
        }
        self.load_record(account, region, function, Some(version))?;
        if weights.len() > 1 {
            return Err(AwsError::invalid_parameter(
                "Number of items in AdditionalVersionWeights cannot be greater than 1",
            ));
        }
        for (additional, weight) in weights {
            if !(0.0..=1.0).contains(weight) {
                return Err(validation::validation_error(format!(
                    "1 validation error detected: Value '{weight}' at 'routingConfig.additionalVersionWeights' failed to satisfy constraint: Member must have value between 0.0 and 1.0"
                )));
            }
            if version == LATEST || additional == LATEST || !is_version_number(additional) {
                return Err(AwsError::invalid_parameter(
                    "$LATEST is not supported for an alias pointing to more than 1 version",
                ));
            }
            if additional == version {
                return Err(AwsError::invalid_parameter(format!(
                    "Invalid function version {additional}. Function version {additional} is already included in routing configuration."
                )));
            }
            self.load_record(account, region, function, Some(additional))?;
        }
        Ok(())
    }

    fn save_aliases(
        &self,
        account: &str,
        region: &str,
        latest: &FunctionRecord,
        aliases: BTreeMap<String, AliasRecord>,
    ) -> Result<(), AwsError> {
        let mut record = latest.clone();
        record.settings.aliases = aliases;
        self.save_settings(account, region, record)?;
        Ok(())
    }

    /// `CreateAlias`.
    pub async fn create_alias(
        self: &Arc<Self>,
        context: RequestContext,
        function_name: String,
        request: AliasRequest,
    ) -> Result<AliasConfiguration, AwsError> {
        self.blocking(move |service| {
            let context = service.acting_for(&context, &function_name, None, "lambda:CreateAlias")?;
            let _updating = service.lock_updates();
            let latest = service.unqualified_latest(&context.account, &context.region, &function_name)?;
            let function = latest.configuration.function_name.clone();
            let name = request.name.ok_or_else(|| AwsError::invalid_parameter("Name is a required parameter"))?;
            validate_alias_name(&name)?;
            let version = request
                .function_version
                .ok_or_else(|| AwsError::invalid_parameter("FunctionVersion is a required parameter"))?;
            let weights = request.routing_config.map(|r| r.additional_version_weights).unwrap_or_default();
            service.check_alias_target(&context.account, &context.region, &function, &version, &weights)?;
            if latest.settings.aliases.contains_key(&name) {
                let arn = kumo_core::arn::qualified_function_arn(&context.region, &context.account, &function, &name);
                return Err(AwsError::conflict(format!("Alias already exists: {arn}")));
            }
            let alias = AliasRecord {
                function_version: version,
                description: request.description.unwrap_or_default(),
                weights,
                revision_id: uuid::Uuid::new_v4().to_string(),
            };
            let configuration =
                service.alias_configuration(&context.account, &context.region, &function, &name, &alias);
            let mut aliases = latest.settings.aliases.clone();
            aliases.insert(name, alias);
            service.save_aliases(&context.account, &context.region, &latest, aliases)?;
            Ok(configuration)
        })
        .await
    }

    /// `GetAlias`.
    pub async fn get_alias(
        self: &Arc<Self>,
        context: RequestContext,
        function_name: String,
        name: String,
    ) -> Result<AliasConfiguration, AwsError> {
        self.blocking(move |service| {
            let context = service.acting_for(&context, &function_name, None, "lambda:GetAlias")?;
            let latest = service.unqualified_latest(&context.account, &context.region, &function_name)?;
            let function = &latest.configuration.function_name;
            let alias = latest
                .settings
                .aliases
                .get(&name)
                .ok_or_else(|| service.alias_not_found(&context.account, &context.region, function, &name))?;
            Ok(service.alias_configuration(&context.account, &context.region, function, &name, alias))
        })
        .await
    }

    /// `UpdateAlias`.
    pub async fn update_alias(
        self: &Arc<Self>,
        context: RequestContext,
        function_name: String,
        name: String,
        request: AliasRequest,
    ) -> Result<AliasConfiguration, AwsError> {
        self.blocking(move |service| {
            let context = service.acting_for(&context, &function_name, None, "lambda:UpdateAlias")?;
            let _updating = service.lock_updates();
            let latest = service.unqualified_latest(&context.account, &context.region, &function_name)?;
            let function = latest.configuration.function_name.clone();
            let mut alias = latest
                .settings
                .aliases
                .get(&name)
                .cloned()
                .ok_or_else(|| {
                    // UpdateAlias words it differently from GetAlias.
                    let arn = kumo_core::arn::qualified_function_arn(&context.region, &context.account, &function, &name);
                    AwsError::not_found(format!("Alias not found: {arn}"))
                })?;
            if request.revision_id.as_deref().is_some_and(|expected| expected != alias.revision_id) {
                return Err(AwsError::precondition_failed(
                    "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id",
                ));
            }
            if let Some(version) = request.function_version {
                alias.function_version = version;
            }
            if let Some(routing) = request.routing_config {
                alias.weights = routing.additional_version_weights;
            }
            if let Some(description) = request.description {
                alias.description = description;
            }
            service.check_alias_target(
                &context.account,
                &context.region,
                &function,
                &alias.function_version,
                &alias.weights,
            )?;
            alias.revision_id = uuid::Uuid::new_v4().to_string();
            let configuration = service.alias_configuration(
                &context.account,
                &context.region,
                &function,
                &name,
                &alias,
            );
            let mut aliases = latest.settings.aliases.clone();
            aliases.insert(name, alias);
            service.save_aliases(&context.account, &context.region, &latest, aliases)?;
            Ok(configuration)
        })
        .await
    }

    /// `DeleteAlias`.
    pub async fn delete_alias(
        self: &Arc<Self>,
        context: RequestContext,
        function_name: String,
        name: String,
    ) -> Result<(), AwsError> {
        self.blocking(move |service| {
            let context = service.acting_for(&context, &function_name, None, "lambda:DeleteAlias")?;
            let _updating = service.lock_updates();
            let latest = service.unqualified_latest(&context.account, &context.region, &function_name)?;
            let mut aliases = latest.settings.aliases.clone();
            // AWS answers 204 for an alias that does not exist.
            if aliases.remove(&name).is_some() {
                // The alias's function URL goes with it.
                let mut latest = (*latest).clone();
                latest.settings.function_urls.remove(&name);
                service.save_aliases(&context.account, &context.region, &latest, aliases)?;
            }
            Ok(())
        })
        .await
    }

    /// `ListAliases`, optionally only those pointing at `function_version`.
    pub async fn list_aliases(
        self: &Arc<Self>,
        context: RequestContext,
        function_name: String,
        function_version: Option<String>,
        marker: Option<String>,
        max_items: Option<i64>,
    ) -> Result<ListAliasesResponse, AwsError> {
        let max_items = crate::functions::page_size(max_items)?;
        self.blocking(move |service| {
            let context = service.acting_for(&context, &function_name, None, "lambda:ListAliases")?;
            let latest = service.unqualified_latest(&context.account, &context.region, &function_name)?;
            let function = &latest.configuration.function_name;
            let matching: Vec<(&String, &AliasRecord)> = latest
                .settings
                .aliases
                .iter()
                .filter(|(_, alias)| function_version.as_ref().is_none_or(|v| &alias.function_version == v))
                .filter(|(name, _)| marker.as_ref().is_none_or(|m| *name > m))
                .collect();
            let more = matching.len() > max_items;
            let aliases: Vec<AliasConfiguration> = matching
                .into_iter()
                .take(max_items)
                .map(|(name, alias)| {
                    service.alias_configuration(&context.account, &context.region, function, name, alias)
                })
                .collect();
            let next_marker = more.then(|| aliases.last().map(|a| a.name.clone())).flatten();
            Ok(ListAliasesResponse { aliases, next_marker })
        })
        .await
    }

    /// The `$LATEST` record of an unqualified `FunctionName`.
    pub(crate) fn unqualified_latest(
        &self,
        account: &str,
        region: &str,
        function_name: &str,
    ) -> Result<Arc<FunctionRecord>, AwsError> {
        let reference = self.function_ref(account, region, function_name, None)?;
        if reference.qualifier.as_deref().is_some_and(|q| q != LATEST) {
            return Err(AwsError::invalid_parameter(
                "This operation is permitted on Lambda functions only. Aliases and versions do not support this \
                 operation. Please specify either a function name or an unqualified function ARN.",
            ));
        }
        self.load_record(account, region, &reference.name, None)
    }

    /// The record an invocation of `qualifier` runs: for an alias, a version picked by weight.
    pub(crate) fn resolve_invocation(
        &self,
        account: &str,
        region: &str,
        name: &str,
        qualifier: Option<&str>,
    ) -> Result<Arc<FunctionRecord>, AwsError> {
        // Invoke names a missing function with the qualifier it ran, `$LATEST` by default.
        let missing = || self.not_found(account, region, name, Some(qualifier.unwrap_or(LATEST)));
        match qualifier {
            Some(alias) if is_alias_name(alias) => {
                let latest = self.load_record(account, region, name, None).map_err(|_| missing())?;
                let record = latest
                    .settings
                    .aliases
                    .get(alias)
                    .ok_or_else(|| self.not_found(account, region, name, Some(alias)))?;
                self.load_record(account, region, name, Some(&pick_version(record)))
            }
            _ => self.load_record(account, region, name, qualifier).map_err(|error| match error.code {
                "ResourceNotFoundException" => missing(),
                _ => error,
            }),
        }
    }

    /// [`Self::resolve_invocation`] from the cache only; `None` when something is not cached.
    pub(crate) fn resolve_invocation_cached(
        &self,
        account: &str,
        region: &str,
        name: &str,
        qualifier: Option<&str>,
    ) -> Option<Arc<FunctionRecord>> {
        match qualifier {
            Some(alias) if is_alias_name(alias) => {
                let latest = self.cached_record(account, region, name, None)?;
                let record = latest.settings.aliases.get(alias)?;
                self.cached_record(account, region, name, Some(&pick_version(record)))
            }
            _ => self.cached_record(account, region, name, qualifier),
        }
    }

    /// Fails deleting a version that aliases still point at.
    pub(crate) fn check_version_unreferenced(&self, latest: &FunctionRecord, version: &str) -> Result<(), AwsError> {
        let users: Vec<&String> = latest
            .settings
            .aliases
            .iter()
            .filter(|(_, alias)| alias.function_version == version || alias.weights.contains_key(version))
            .map(|(name, _)| name)
            .collect();
        if users.is_empty() {
            return Ok(());
        }
        let names: Vec<&str> = users.iter().map(|name| name.as_str()).collect();
        Err(AwsError::conflict(format!(
            "Unable to delete version because the following aliases reference it: [{}]",
            names.join(", ")
        )))
    }
}
