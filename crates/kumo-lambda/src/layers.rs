//! Layers: `PublishLayerVersion`, `GetLayerVersion(ByArn)`, `ListLayers`, `ListLayerVersions`,
//! `DeleteLayerVersion`; and the `Layers` a function references. Permissions of layer versions
//! are in [`crate::layer_permissions`].
//!
//! A layer version is immutable: its package is a content-addressed blob, unpacked once. A
//! function keeps the blobs of its layers, so it runs unchanged after a version is deleted, as
//! on AWS. Version numbers count up per layer name and are never reused.

use std::sync::Arc;

use kumo_core::arn::{layer_arn, layer_version_arn, parse_layer_arn};
use kumo_core::policy::Denial;
use kumo_core::{limits, AwsError, RequestContext};
use serde::{Deserialize, Serialize};

use crate::code_source::CodeSource;
use crate::functions::{decode_marker, encode_marker};
use crate::permissions::StoredPolicy;
use crate::types::{AttachedLayer, LayerReference};
use crate::{internal, validation, LambdaService};

/// `Content` of `PublishLayerVersion`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LayerContentInput {
    /// Base64 zip.
    pub zip_file: Option<String>,
    /// S3 bucket of the package.
    pub s3_bucket: Option<String>,
    /// S3 key.
    pub s3_key: Option<String>,
    /// S3 object version.
    pub s3_object_version: Option<String>,
}

/// `PublishLayerVersion` input.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PublishLayerVersionRequest {
    /// The package.
    pub content: Option<LayerContentInput>,
    /// Description of the version.
    pub description: Option<String>,
    /// Runtimes the layer is meant for (only informs `ListLayers` filters, as on AWS).
    pub compatible_runtimes: Option<Vec<String>>,
    /// Architectures the layer is meant for.
    pub compatible_architectures: Option<Vec<String>>,
    /// License of the layer's content.
    pub license_info: Option<String>,
}

/// `LayerVersionContentOutput`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LayerVersionContent {
    /// Download URL of the zip.
    pub location: String,
    /// Base64 sha256 of the zip.
    pub code_sha256: String,
    /// Size of the zip.
    pub code_size: u64,
}

/// `PublishLayerVersion` and `GetLayerVersion(ByArn)` output.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LayerVersionResponse {
    /// The package.
    pub content: LayerVersionContent,
    /// ARN of the layer.
    pub layer_arn: String,
    /// The version's own fields, as listings show them.
    #[serde(flatten)]
    pub item: LayerVersionsListItem,
}

/// `LayerVersionsListItem`: one version in `ListLayerVersions` and `ListLayers`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LayerVersionsListItem {
    /// ARN of this version.
    pub layer_version_arn: String,
    /// Version number.
    pub version: u64,
    /// Description.
    pub description: String,
    /// `2026-11-26T18:26:57.123+0000`.
    pub created_date: String,
    /// Compatible runtimes, when the publisher named any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compatible_runtimes: Option<Vec<String>>,
    /// Compatible architectures, when the publisher named any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compatible_architectures: Option<Vec<String>>,
    /// License, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub license_info: Option<String>,
}

/// `ListLayerVersions` output.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListLayerVersionsResponse {
    /// This page, newest first.
    pub layer_versions: Vec<LayerVersionsListItem>,
    /// Marker of the next page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
}

/// `LayersListItem`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LayersListItem {
    /// Layer name.
    pub layer_name: String,
    /// Layer ARN.
    pub layer_arn: String,
    /// The newest version that passes the filters.
    pub latest_matching_version: LayerVersionsListItem,
}

/// `ListLayers` output.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListLayersResponse {
    /// This page, by name.
    pub layers: Vec<LayersListItem>,
    /// Marker of the next page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
}

/// `ListLayers` / `ListLayerVersions` filters.
#[derive(Debug, Clone, Default)]
pub struct LayerFilters {
    /// `CompatibleRuntime`.
    pub runtime: Option<String>,
    /// `CompatibleArchitecture`.
    pub architecture: Option<String>,
}

/// A stored layer version; its ARNs follow from where it is stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct LayerVersionRecord {
    description: String,
    created_date: String,
    compatible_runtimes: Option<Vec<String>>,
    compatible_architectures: Option<Vec<String>>,
    license_info: Option<String>,
    code_sha256: String,
    code_size: u64,
    /// Hex sha256 addressing the package.
    blob: String,
    unzipped_size: u64,
    /// Who else may use the version (layer version permissions).
    #[serde(default)]
    pub(crate) policy: StoredPolicy,
}

impl LayerVersionRecord {
    fn matches(&self, filters: &LayerFilters) -> bool {
        let listed = |values: &Option<Vec<String>>, wanted: &Option<String>| match wanted {
            None => true,
            Some(wanted) => values.as_ref().is_some_and(|values| values.contains(wanted)),
        };
        listed(&self.compatible_runtimes, &filters.runtime)
            && listed(&self.compatible_architectures, &filters.architecture)
    }
}

/// Every runtime id Lambda's model knows: what `CompatibleRuntimes` may name.
const LAMBDA_RUNTIMES: &[&str] = &[
    "nodejs",
    "nodejs4.3",
    "nodejs6.10",
    "nodejs8.10",
    "nodejs10.x",
    "nodejs12.x",
    "nodejs14.x",
    "nodejs16.x",
    "nodejs18.x",
    "nodejs20.x",
    "nodejs22.x",
    "nodejs24.x",
    "java8",
    "java8.al2",
    "java11",
    "java17",
    "java21",
    "java25",
    "python2.7",
    "python3.6",
    "python3.7",
    "python3.8",
    "python3.9",
    "python3.10",
    "python3.11",
    "python3.12",
    "python3.13",
    "python3.14",
    "dotnetcore1.0",
    "dotnetcore2.0",
    "dotnetcore2.1",
    "dotnetcore3.1",
    "dotnet6",
    "dotnet8",
    "dotnet10",
    "nodejs4.3-edge",
    "go1.x",
    "ruby2.5",
    "ruby2.7",
    "ruby3.2",
    "ruby3.3",
    "ruby3.4",
    "ruby4.0",
    "provided",
    "provided.al2",
    "provided.al2023",
    "nodejs26.x",
    "python3.15",
    "java8.al2023",
    "java11.al2023",
    "java17.al2023",
];

/// What `CompatibleArchitectures` may name.
const ARCHITECTURES: &[&str] = &["x86_64", "arm64"];

/// `MaxItems` of the layer list operations: 1–50, default 50.
fn layer_page_size(max_items: Option<i64>) -> Result<usize, AwsError> {
    match max_items {
        None => Ok(50),
        Some(value) if (1..=50).contains(&value) => Ok(value as usize),
        Some(value) => {
            let bound = if value < 1 { "greater than or equal to 1" } else { "less than or equal to 50" };
            Err(validation::validation_error(format!(
                "1 validation error detected: Value '{value}' at 'maxItems' failed to satisfy constraint: Member must have value {bound}"
            )))
        }
    }
}

/// `VersionNumber` of a layer: 1 or more.
pub(crate) fn check_version_number(version: i64) -> Result<u64, AwsError> {
    u64::try_from(version)
        .ok()
        .filter(|version| *version >= 1)
        .ok_or_else(|| AwsError::invalid_parameter("Layer Version Cannot be less than 1"))
}

fn check_compatibility(request: &PublishLayerVersionRequest) -> Result<(), AwsError> {
    let mut errors = Vec::new();
    if let Some(runtimes) = &request.compatible_runtimes {
        if runtimes.iter().any(|runtime| !LAMBDA_RUNTIMES.contains(&runtime.as_str())) {
            errors.push(format!(
                "Value '[{}]' at 'compatibleRuntimes' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [{}]]",
                runtimes.join(", "),
                LAMBDA_RUNTIMES.join(", ")
            ));
        } else if runtimes.len() > 15 {
            errors.push(format!("Value '[{}]' at 'compatibleRuntimes' failed to satisfy constraint: Member must have length less than or equal to 15", runtimes.join(", ")));
        }
    }
    if let Some(architectures) = &request.compatible_architectures {
        if architectures.iter().any(|architecture| !ARCHITECTURES.contains(&architecture.as_str())) {
            errors.push(format!(
                "Value '[{}]' at 'compatibleArchitectures' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [x86_64, arm64]]",
                architectures.join(", ")
            ));
        } else if architectures.len() > 2 {
            errors.push(format!("Value '[{}]' at 'compatibleArchitectures' failed to satisfy constraint: Member must have length less than or equal to 2", architectures.join(", ")));
        }
    }
    if request.description.as_ref().is_some_and(|d| d.len() > 256) {
        errors.push(
            "Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 256"
                .to_string(),
        );
    }
    if request.license_info.as_ref().is_some_and(|l| l.len() > 512) {
        errors.push(
            "Value at 'licenseInfo' failed to satisfy constraint: Member must have length less than or equal to 512"
                .to_string(),
        );
    }
    match errors.len() {
        0 => Ok(()),
        1 => Err(validation::validation_error(format!("1 validation error detected: {}", errors[0]))),
        count => {
            Err(validation::validation_error(format!("{count} validation errors detected: {}", errors.join("; "))))
        }
    }
}

fn check_filters(filters: &LayerFilters) -> Result<(), AwsError> {
    if let Some(runtime) = filters.runtime.as_deref().filter(|r| !LAMBDA_RUNTIMES.contains(r)) {
        return Err(validation::validation_error(format!(
            "1 validation error detected: Value '{runtime}' at 'compatibleRuntime' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
            LAMBDA_RUNTIMES.join(", ")
        )));
    }
    if let Some(architecture) = filters.architecture.as_deref().filter(|a| !ARCHITECTURES.contains(a)) {
        return Err(validation::validation_error(format!(
            "1 validation error detected: Value '{architecture}' at 'compatibleArchitecture' failed to satisfy constraint: Member must satisfy enum value set: [x86_64, arm64]"
        )));
    }
    Ok(())
}

fn no_such_version() -> AwsError {
    AwsError::not_found("The resource you requested does not exist.")
}

impl LambdaService {
    /// The identity check of a layer operation: the resource is the layer version's ARN (or the
    /// layer's, without a version), in the caller's account unless `layer_name` is an ARN. Within
    /// its account the layer version's own policy (`AddLayerVersionPermission`) is enough when the
    /// caller's identity policies fall short, as for functions and queues on AWS; across accounts
    /// the version's policy is checked by [`Self::shared_layer_version`] as well.
    pub(crate) fn authorize_layer(
        &self,
        context: &RequestContext,
        action: &str,
        layer_name: &str,
        version: Option<i64>,
    ) -> Result<(), AwsError> {
        if context.role_arn.is_none() {
            return Ok(());
        }
        let version = version.and_then(|v| u64::try_from(v).ok());
        let (region, owner, name, version) = match parse_layer_arn(layer_name) {
            Some(layer) => (layer.region, layer.account, layer.name, version.or(layer.version)),
            None => (context.region.clone(), context.account.clone(), layer_name.to_string(), version),
        };
        let resource = match version {
            Some(version) => layer_version_arn(&region, &owner, &name, version),
            None => layer_arn(&region, &owner, &name),
        };
        let Some(authorizer) = self.authorizer() else { return Ok(()) };
        let caller = context.caller();
        let denial = match authorizer.authorize_identity(&caller, action, &resource) {
            Ok(()) => return Ok(()),
            Err(Denial::NoIdentityAllow | Denial::NoBoundaryAllow | Denial::NoSessionAllow)
                if owner == context.account && region == context.region =>
            {
                // Read only when the role's policies fall short, as for a function's policy.
                let statements = version
                    .and_then(|version| self.load_layer_version(&owner, &region, &name, version).ok().flatten())
                    .map(|record| record.policy.statements);
                match authorizer.authorize(&caller, action, &resource, &owner, statements.as_deref(), &[]) {
                    Ok(()) => return Ok(()),
                    Err(denial) => denial,
                }
            }
            Err(denial) => denial,
        };
        Err(AwsError::new("AccessDeniedException", 403, denial.message(&context.caller_arn, action, &resource)))
    }

    /// The layer a `LayerName` parameter names in this region and account: `None` when it is an
    /// ARN of another region or account (no such layer here).
    pub(crate) fn local_layer_name(
        &self,
        account: &str,
        region: &str,
        value: &str,
    ) -> Result<Option<String>, AwsError> {
        if kumo_core::arn::is_valid_layer_name(value) {
            return Ok(Some(value.to_string()));
        }
        match parse_layer_arn(value) {
            Some(layer) if layer.version.is_none() => {
                Ok((layer.region == region && layer.account == account).then_some(layer.name))
            }
            _ => Err(validation::validation_error(format!(
                "1 validation error detected: Value '{value}' at 'layerName' failed to satisfy constraint: Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:(eusc-)?[a-z]{{2}}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{{1}}:\\d{{12}}:layer:[a-zA-Z0-9-_]+)|[a-zA-Z0-9-_]+"
            ))),
        }
    }

    pub(crate) fn load_layer_version(
        &self,
        account: &str,
        region: &str,
        name: &str,
        version: u64,
    ) -> Result<Option<LayerVersionRecord>, AwsError> {
        let document = self.store.metadata.get_layer_version(account, region, name, version).map_err(internal)?;
        document.map(|document| serde_json::from_str(&document).map_err(internal)).transpose()
    }

    fn list_item(
        &self,
        account: &str,
        region: &str,
        name: &str,
        version: u64,
        record: &LayerVersionRecord,
    ) -> LayerVersionsListItem {
        LayerVersionsListItem {
            layer_version_arn: layer_version_arn(region, account, name, version),
            version,
            description: record.description.clone(),
            created_date: record.created_date.clone(),
            compatible_runtimes: record.compatible_runtimes.clone(),
            compatible_architectures: record.compatible_architectures.clone(),
            license_info: record.license_info.clone(),
        }
    }

    fn layer_version_response(
        &self,
        account: &str,
        region: &str,
        name: &str,
        version: u64,
        record: &LayerVersionRecord,
    ) -> LayerVersionResponse {
        LayerVersionResponse {
            content: LayerVersionContent {
                location: self.code_location(&record.blob, region),
                code_sha256: record.code_sha256.clone(),
                code_size: record.code_size,
            },
            layer_arn: layer_arn(region, account, name),
            item: self.list_item(account, region, name, version, record),
        }
    }

    /// `PublishLayerVersion`.
    pub async fn publish_layer_version(
        self: &Arc<Self>,
        context: RequestContext,
        layer_name: String,
        request: PublishLayerVersionRequest,
    ) -> Result<LayerVersionResponse, AwsError> {
        self.authorize_layer(&context, "lambda:PublishLayerVersion", &layer_name, None)?;
        self.blocking(move |service| {
            let account = &context.account;
            let region = &context.region;
            let name = service.local_layer_name(account, region, &layer_name)?.ok_or_else(no_such_version)?;
            check_compatibility(&request)?;
            let content =
                request.content.ok_or_else(|| AwsError::invalid_parameter("Content is a required parameter"))?;
            let source = CodeSource::of(
                content.zip_file.as_deref(),
                content.s3_bucket.as_deref(),
                content.s3_key.as_deref(),
                content.s3_object_version.as_deref(),
                None,
            )?;
            let package = service.store_code(&context, source, "PublishLayerVersion", &[])?;
            // Functions merge layers from their unpacked directories.
            service.store.blobs.unpack_zip(&package.sha256_hex, limits::UNZIPPED_CODE_MAX_BYTES).map_err(internal)?;
            let record = LayerVersionRecord {
                description: request.description.unwrap_or_default(),
                created_date: kumo_core::time::lambda_timestamp(kumo_core::time::now_millis()),
                compatible_runtimes: request.compatible_runtimes,
                compatible_architectures: request.compatible_architectures,
                license_info: request.license_info,
                code_sha256: package.code_sha256,
                code_size: package.code_size,
                blob: package.sha256_hex,
                unzipped_size: package.unzipped_size,
                policy: StoredPolicy::default(),
            };
            let document = serde_json::to_string(&record).map_err(internal)?;
            let version = service
                .store
                .metadata
                .insert_layer_version(&context.account, region, &name, &document)
                .map_err(internal)?;
            tracing::info!(layer = %name, version, region = %region, "layer version published");
            Ok(service.layer_version_response(account, region, &name, version, &record))
        })
        .await
    }

    /// `GetLayerVersion`.
    pub async fn get_layer_version(
        self: &Arc<Self>,
        context: RequestContext,
        layer_name: String,
        version: i64,
    ) -> Result<LayerVersionResponse, AwsError> {
        self.authorize_layer(&context, "lambda:GetLayerVersion", &layer_name, Some(version))?;
        self.blocking(move |service| {
            let region = &context.region;
            // An unversioned layer ARN may name another account's layer.
            let (owner, name) = match parse_layer_arn(&layer_name) {
                Some(layer)
                    if layer.version.is_none() && layer.region == *region && layer.account != context.account =>
                {
                    (layer.account, Some(layer.name))
                }
                _ => (context.account.clone(), service.local_layer_name(&context.account, region, &layer_name)?),
            };
            let version = check_version_number(version)?;
            let name = name.ok_or_else(no_such_version)?;
            let record = service.shared_layer_version(&context, &owner, &name, version)?.ok_or_else(no_such_version)?;
            Ok(service.layer_version_response(&owner, region, &name, version, &record))
        })
        .await
    }

    /// `GetLayerVersionByArn`.
    pub async fn get_layer_version_by_arn(
        self: &Arc<Self>,
        context: RequestContext,
        arn: String,
    ) -> Result<LayerVersionResponse, AwsError> {
        self.authorize_layer(&context, "lambda:GetLayerVersion", &arn, None)?;
        let layer = parse_layer_arn(&arn).filter(|layer| layer.version.is_some()).ok_or_else(|| {
            validation::validation_error(format!(
                "1 validation error detected: Value '{arn}' at 'arn' failed to satisfy constraint: Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:(eusc-)?[a-z]{{2}}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{{1}}:\\d{{12}}:layer:[a-zA-Z0-9-_]+:[0-9]+)|(arn:[a-zA-Z0-9-]+:lambda:::awslayer:[a-zA-Z0-9-_]+)"
            ))
        })?;
        if layer.region != context.region {
            return Err(no_such_version());
        }
        let version = layer.version.map_or(0, |version| version as i64);
        let layer_name = if layer.account == context.account {
            layer.name
        } else {
            layer_arn(&layer.region, &layer.account, &layer.name)
        };
        self.get_layer_version(context, layer_name, version).await
    }

    /// `ListLayers`: each layer with its newest version that passes the filters.
    pub async fn list_layers(
        self: &Arc<Self>,
        context: RequestContext,
        filters: LayerFilters,
        marker: Option<String>,
        max_items: Option<i64>,
    ) -> Result<ListLayersResponse, AwsError> {
        self.authorize_identity(&context, "lambda:ListLayers", "*")?;
        check_filters(&filters)?;
        let max_items = layer_page_size(max_items)?;
        let after = marker.as_deref().map(decode_marker).transpose()?;
        self.blocking(move |service| {
            let account = &context.account;
            let region = &context.region;
            let rows = service.store.metadata.list_layer_versions(&context.account, region).map_err(internal)?;
            let mut layers: Vec<LayersListItem> = Vec::new();
            for (name, version, document) in rows {
                if after.as_ref().is_some_and(|after| &name <= after) {
                    continue;
                }
                if layers.last().is_some_and(|last| last.layer_name == name) {
                    continue; // Rows come newest first: this layer already has its latest match.
                }
                let record: LayerVersionRecord = serde_json::from_str(&document).map_err(internal)?;
                if record.matches(&filters) {
                    layers.push(LayersListItem {
                        layer_arn: layer_arn(region, &context.account, &name),
                        latest_matching_version: service.list_item(account, region, &name, version, &record),
                        layer_name: name,
                    });
                }
            }
            let more = layers.len() > max_items;
            layers.truncate(max_items);
            let next_marker = more.then(|| layers.last().map(|layer| encode_marker(&layer.layer_name))).flatten();
            Ok(ListLayersResponse { layers, next_marker })
        })
        .await
    }

    /// `ListLayerVersions`: newest first; an unknown layer has no versions.
    pub async fn list_layer_versions(
        self: &Arc<Self>,
        context: RequestContext,
        layer_name: String,
        filters: LayerFilters,
        marker: Option<String>,
        max_items: Option<i64>,
    ) -> Result<ListLayerVersionsResponse, AwsError> {
        self.authorize_layer(&context, "lambda:ListLayerVersions", &layer_name, None)?;
        check_filters(&filters)?;
        let max_items = layer_page_size(max_items)?;
        let before = match marker.as_deref().map(decode_marker).transpose()? {
            None => None,
            Some(marker) => {
                Some(marker.parse::<u64>().map_err(|_| AwsError::invalid_parameter("Invalid pagination marker"))?)
            }
        };
        self.blocking(move |service| {
            let account = &context.account;
            let region = &context.region;
            let Some(name) = service.local_layer_name(account, region, &layer_name)? else {
                return Ok(ListLayerVersionsResponse { layer_versions: Vec::new(), next_marker: None });
            };
            let rows = service.store.metadata.list_layer_versions(&context.account, region).map_err(internal)?;
            let mut layer_versions = Vec::new();
            for (row_name, version, document) in rows {
                if row_name != name || before.is_some_and(|before| version >= before) {
                    continue;
                }
                let record: LayerVersionRecord = serde_json::from_str(&document).map_err(internal)?;
                if record.matches(&filters) {
                    layer_versions.push(service.list_item(account, region, &name, version, &record));
                }
            }
            let more = layer_versions.len() > max_items;
            layer_versions.truncate(max_items);
            let next_marker =
                more.then(|| layer_versions.last().map(|item| encode_marker(&item.version.to_string()))).flatten();
            Ok(ListLayerVersionsResponse { layer_versions, next_marker })
        })
        .await
    }

    /// `DeleteLayerVersion`: deleting a version that does not exist (any more) succeeds, as on AWS.
    pub async fn delete_layer_version(
        self: &Arc<Self>,
        context: RequestContext,
        layer_name: String,
        version: i64,
    ) -> Result<(), AwsError> {
        self.authorize_layer(&context, "lambda:DeleteLayerVersion", &layer_name, Some(version))?;
        self.blocking(move |service| {
            let account = &context.account;
            let region = &context.region;
            let name = service.local_layer_name(account, region, &layer_name)?;
            let version = check_version_number(version)?;
            if let Some(name) = name {
                if service
                    .store
                    .metadata
                    .delete_layer_version(&context.account, region, &name, version)
                    .map_err(internal)?
                {
                    tracing::info!(layer = %name, version, region = %region, "layer version deleted");
                }
            }
            Ok(())
        })
        .await
    }

    /// Bytes of all layer versions stored in a region (their zips).
    pub(crate) fn layers_code_size(&self, account: &str, region: &str) -> Result<u64, AwsError> {
        let rows = self.store.metadata.list_layer_versions(account, region).map_err(internal)?;
        let mut total = 0;
        for (_, _, document) in rows {
            let record: LayerVersionRecord = serde_json::from_str(&document).map_err(internal)?;
            total += record.code_size;
        }
        Ok(total)
    }

    /// Resolves a function's `Layers` to the stored versions, checked as AWS checks them.
    pub(crate) fn resolve_layers(
        &self,
        context: &RequestContext,
        arns: &[String],
    ) -> Result<Vec<AttachedLayer>, AwsError> {
        let region = context.region.as_str();
        if arns.len() > limits::LAYERS_PER_FUNCTION_MAX {
            return Err(AwsError::invalid_parameter("Cannot reference more than 5 layers."));
        }
        let mut attached: Vec<AttachedLayer> = Vec::with_capacity(arns.len());
        let mut seen: Vec<(String, String)> = Vec::new();
        for arn in arns {
            let Some(layer) = parse_layer_arn(arn).filter(|layer| layer.version.is_some()) else {
                return Err(validation::validation_error(format!(
                    "1 validation error detected: Value '[{}]' at 'layers' failed to satisfy constraint: Member must satisfy constraint: [Member must have length less than or equal to 2048, Member must have length greater than or equal to 1, Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:(eusc-)?[a-z]{{2}}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{{1}}:\\d{{12}}:layer:[a-zA-Z0-9-_]+:[0-9]+)|(arn:[a-zA-Z0-9-]+:lambda:::awslayer:[a-zA-Z0-9-_]+), Member must not be null]",
                    arns.join(", ")
                )));
            };
            if layer.region != region {
                return Err(AwsError::invalid_parameter(format!(
                    "Layers are not in the same region as the function. Layers are expected to be in region {region}."
                )));
            }
            let version = layer.version.unwrap_or_default();
            let record = self.shared_layer_version(context, &layer.account, &layer.name, version)?;
            let record =
                record.ok_or_else(|| AwsError::invalid_parameter(format!("Layer version {arn} does not exist.")))?;
            let layer_key = layer_arn(&layer.region, &layer.account, &layer.name);
            if let Some((_, first)) = seen.iter().find(|(key, _)| *key == layer_key) {
                return Err(AwsError::invalid_parameter(format!(
                    "Two different versions of the same layer are not allowed to be referenced in the same function. {first} and {arn} are versions of the same layer."
                )));
            }
            seen.push((layer_key, arn.clone()));
            attached.push(AttachedLayer {
                arn: arn.clone(),
                blob: record.blob,
                code_size: record.code_size,
                unzipped_size: record.unzipped_size,
            });
        }
        Ok(attached)
    }

    /// Unpacks a function's layers into the one tree its environments mount at `/opt`.
    pub(crate) fn prepare_layers(&self, layers: &[AttachedLayer]) -> Result<(), AwsError> {
        if layers.is_empty() {
            return Ok(());
        }
        self.store.blobs.merge_layers(&layer_blobs(layers)).map(drop).map_err(internal)
    }
}

/// The packages of a function's layers, in order.
pub(crate) fn layer_blobs(layers: &[AttachedLayer]) -> Vec<String> {
    layers.iter().map(|layer| layer.blob.clone()).collect()
}

/// How a function's configuration shows its layers (absent when there are none).
pub(crate) fn layer_references(layers: &[AttachedLayer]) -> Option<Vec<LayerReference>> {
    let references: Vec<LayerReference> =
        layers.iter().map(|layer| LayerReference { arn: layer.arn.clone(), code_size: layer.code_size }).collect();
    Some(references).filter(|references| !references.is_empty())
}

/// Lambda's 250 MB unzipped limit applies to the code and all its layers together.
pub(crate) fn check_total_size(code_unzipped: u64, layers: &[AttachedLayer]) -> Result<(), AwsError> {
    let total = layers.iter().fold(code_unzipped, |total, layer| total.saturating_add(layer.unzipped_size));
    if total > limits::UNZIPPED_CODE_MAX_BYTES {
        return Err(AwsError::invalid_parameter(format!(
            "Function code combined with layers exceeds the maximum allowed size of {} bytes. The actual size is {total} bytes.",
            limits::UNZIPPED_CODE_MAX_BYTES
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attached(unzipped_size: u64) -> AttachedLayer {
        AttachedLayer { arn: "arn".into(), blob: "b".into(), code_size: 1, unzipped_size }
    }

    #[test]
    fn the_size_limit_counts_code_and_layers() {
        let limit = limits::UNZIPPED_CODE_MAX_BYTES;
        assert!(check_total_size(limit - 10, &[attached(5), attached(5)]).is_ok());
        let error = check_total_size(limit - 10, &[attached(5), attached(6)]).unwrap_err();
        assert_eq!(error.code, "InvalidParameterValueException");
        assert_eq!(
            error.message,
            "Function code combined with layers exceeds the maximum allowed size of 262144000 bytes. The actual size is 262144001 bytes."
        );
    }

    #[test]
    fn filters_need_the_value_listed() {
        let record = LayerVersionRecord {
            description: String::new(),
            created_date: String::new(),
            compatible_runtimes: Some(vec!["python3.12".into()]),
            compatible_architectures: None,
            license_info: None,
            code_sha256: String::new(),
            code_size: 0,
            blob: String::new(),
            unzipped_size: 0,
            policy: StoredPolicy::default(),
        };
        assert!(record.matches(&LayerFilters::default()));
        assert!(record.matches(&LayerFilters { runtime: Some("python3.12".into()), architecture: None }));
        assert!(!record.matches(&LayerFilters { runtime: Some("nodejs20.x".into()), architecture: None }));
        assert!(!record.matches(&LayerFilters { runtime: None, architecture: Some("arm64".into()) }));
    }
}
