//! Function lifecycle: CreateFunction, GetFunction(Configuration), ListFunctions,
//! UpdateFunctionCode, UpdateFunctionConfiguration, DeleteFunction, GetAccountSettings.

use std::sync::Arc;

use base64::Engine as _;
use kumo_core::arn::{parse_function_ref, FunctionRef};
use kumo_core::{limits, AwsError, RequestContext};
use kumo_store::{inspect_zip, CodePackage, PackageError};

use crate::code_source::CodeSource;
use crate::types::*;
use crate::{internal, validation, LambdaService};

/// The version every function has.
pub const LATEST: &str = "$LATEST";

/// Lambda's limit on the base64 request for a 50 MB zip (what AWS names in its 413 message).
const ZIPPED_REQUEST_LIMIT: u64 = 70_167_211;

impl LambdaService {
    /// Resolves a `FunctionName` parameter of `account`, checking that an ARN names this region
    /// and that account (operations first pass [`Self::acting_for`], which lets another account in where granted).
    pub(crate) fn function_ref(
        &self,
        account: &str,
        region: &str,
        value: &str,
        qualifier: Option<&str>,
    ) -> Result<FunctionRef, AwsError> {
        let mut reference = parse_function_ref(value)?;
        if let Some(arn_region) = reference.region.as_deref().filter(|r| *r != region) {
            return Err(AwsError::not_found(format!(
                "Functions from '{arn_region}' are not reachable in this region ('{region}')"
            )));
        }
        if let Some(other) = reference.account.as_deref().filter(|a| *a != account) {
            let arn = kumo_core::arn::function_arn(region, other, &reference.name);
            return Err(AwsError::not_found(format!("Function not found: {arn}")));
        }
        if let (Some(from_name), Some(from_param)) = (&reference.qualifier, qualifier) {
            if from_name != from_param {
                return Err(AwsError::invalid_parameter(
                    "The derived qualifier from the function name does not match the specified qualifier.",
                ));
            }
        }
        if reference.qualifier.is_none() {
            reference.qualifier = qualifier.map(str::to_string);
        }
        Ok(reference)
    }

    /// AWS's not-found for a function, naming it as it was asked for: with the requested
    /// qualifier, `$LATEST` included (`Function not found: arn:…:function:f:$LATEST`).
    /// The name CreateFunction creates from its `FunctionName`: a name or a (partial) ARN of the
    /// caller's account and region (the model's pattern and 140-character limit are checked
    /// before); the name itself at most 64 characters, which AWS words as a validation message
    /// but answers with `InvalidParameterValueException`.
    pub(crate) fn created_function_name(&self, context: &RequestContext, requested: &str) -> Result<String, AwsError> {
        let reference = parse_function_ref(requested)?;
        if let Some(arn_region) = reference.region.as_deref().filter(|r| *r != context.region) {
            return Err(AwsError::not_found(format!(
                "Functions from '{arn_region}' are not reachable in this region ('{}')",
                context.region
            )));
        }
        if reference.account.as_deref().is_some_and(|a| a != context.account) {
            return Err(AwsError::new("AccessDeniedException", 403, ""));
        }
        if reference.qualifier.is_some()
            || !reference.name.chars().all(|c| c.is_ascii_alphanumeric() || "-_".contains(c))
        {
            return Err(validation::create_function_name_error(requested));
        }
        if reference.name.len() > 64 {
            return Err(AwsError::invalid_parameter(format!(
                "1 validation error detected: Value '{requested}' at 'functionName' failed to satisfy constraint: \
                 Member must have length less than or equal to 64"
            )));
        }
        Ok(reference.name)
    }

    pub(crate) fn not_found(&self, account: &str, region: &str, name: &str, qualifier: Option<&str>) -> AwsError {
        let arn = match qualifier {
            Some(qualifier) => kumo_core::arn::qualified_function_arn(region, account, name, qualifier),
            None => kumo_core::arn::function_arn(region, account, name),
        };
        AwsError::not_found(format!("Function not found: {arn}"))
    }

    /// Loads a function version: `$LATEST` (no qualifier) or a published version number.
    /// Aliases do not exist yet, so any other qualifier is not found.
    pub(crate) fn load_record(
        &self,
        account: &str,
        region: &str,
        name: &str,
        qualifier: Option<&str>,
    ) -> Result<Arc<FunctionRecord>, AwsError> {
        if let Some(record) = self.cached_record(account, region, name, qualifier) {
            return Ok(record);
        }
        let version = qualifier.unwrap_or(LATEST);
        if crate::aliases::is_alias_name(version) {
            // An alias reads as the version it points at; a missing function is named as asked.
            let latest = self
                .load_record(account, region, name, None)
                .map_err(|_| self.not_found(account, region, name, qualifier))?;
            let alias =
                latest.settings.aliases.get(version).ok_or_else(|| self.not_found(account, region, name, qualifier))?;
            return self.load_record(account, region, name, Some(&alias.function_version));
        }
        let document = self.store.metadata.get_function(account, region, name, version).map_err(internal)?;
        let document = document.ok_or_else(|| self.not_found(account, region, name, qualifier))?;
        let record: Arc<FunctionRecord> = Arc::new(serde_json::from_str(&document).map_err(internal)?);
        self.cache_write().insert(cache_key(account, region, name, version), Arc::clone(&record));
        Ok(record)
    }

    /// The cached record, when warm: lets Invoke skip the blocking store path entirely.
    pub(crate) fn cached_record(
        &self,
        account: &str,
        region: &str,
        name: &str,
        qualifier: Option<&str>,
    ) -> Option<Arc<FunctionRecord>> {
        self.cache_read().get(&cache_key(account, region, name, qualifier.unwrap_or(LATEST))).cloned()
    }

    /// Stores a record under its own version; the engine retires environments of that version.
    pub(crate) fn save_record(
        &self,
        account: &str,
        region: &str,
        record: FunctionRecord,
    ) -> Result<Arc<FunctionRecord>, AwsError> {
        let record = self.save_settings(account, region, record)?;
        let configuration = &record.configuration;
        self.engine.retire_version(account, region, &configuration.function_name, &configuration.version);
        Ok(record)
    }

    /// Stores a record without touching running environments (function-level settings changes).
    pub(crate) fn save_settings(
        &self,
        account: &str,
        region: &str,
        record: FunctionRecord,
    ) -> Result<Arc<FunctionRecord>, AwsError> {
        let configuration = &record.configuration;
        let (name, version) = (configuration.function_name.clone(), configuration.version.clone());
        let document = serde_json::to_string(&record).map_err(internal)?;
        self.store.metadata.put_function(account, region, &name, &version, &document).map_err(internal)?;
        let record = Arc::new(record);
        self.cache_write().insert(cache_key(account, region, &name, &version), Arc::clone(&record));
        Ok(record)
    }

    /// Stores a zip after checking Lambda's size limits: the unzipped code plus the `layers` it
    /// runs with must fit in 250 MB, checked before anything is unpacked.
    pub(crate) fn store_zip(
        &self,
        zip_base64: &str,
        operation: &str,
        layers: &[AttachedLayer],
    ) -> Result<CodePackage, AwsError> {
        let too_large = || {
            AwsError::new(
                "RequestEntityTooLargeException",
                413,
                format!("Request must be smaller than {ZIPPED_REQUEST_LIMIT} bytes for the {operation} operation"),
            )
        };
        if zip_base64.len() as u64 > ZIPPED_REQUEST_LIMIT {
            return Err(too_large());
        }
        let bytes = base64::engine::general_purpose::STANDARD.decode(zip_base64).map_err(|_| {
            AwsError::invalid_parameter(
                "Could not unzip uploaded file. Please check your file, then try to upload again.",
            )
        })?;
        if bytes.len() as u64 > limits::ZIPPED_CODE_MAX_BYTES {
            return Err(AwsError::new(
                "RequestEntityTooLargeException",
                413,
                format!("Zipped size must be smaller than {} bytes", limits::ZIPPED_CODE_MAX_BYTES),
            ));
        }
        self.store_package(&bytes, layers)
    }

    /// Stores a zip's bytes after checking that its unzipped code plus the `layers` it runs with
    /// fit in 250 MB, before anything is unpacked.
    pub(crate) fn store_package(&self, bytes: &[u8], layers: &[AttachedLayer]) -> Result<CodePackage, AwsError> {
        let unzipped_size = inspect_zip(bytes, limits::UNZIPPED_CODE_MAX_BYTES).map_err(package_error)?;
        crate::layers::check_total_size(unzipped_size, layers)?;
        // Unpacked while the function is Pending / InProgress (see `state`).
        self.store.blobs.store_zip(bytes, limits::UNZIPPED_CODE_MAX_BYTES).map_err(package_error)
    }

    /// `CreateFunction`.
    pub async fn create_function(
        self: &Arc<Self>,
        context: RequestContext,
        request: CreateFunctionRequest,
    ) -> Result<FunctionConfiguration, AwsError> {
        let (account, region) = (context.account.clone(), context.region.clone());
        let created = self.blocking(move |service| service.create_function_blocking(&context, request)).await?;
        // The code is unpacked while the call returns: clients see Pending, then Active.
        self.spawn_transition(&account, &region, &created.function_name, LATEST);
        if created.version != LATEST {
            self.spawn_transition(&account, &region, &created.function_name, &created.version);
        }
        Ok(created)
    }

    /// Before an update: lets a change still being prepared finish, so that updating right
    /// after a create or another update works (see `state`). Errors are the update's to report.
    pub(crate) async fn settle_before_update(self: &Arc<Self>, context: &RequestContext, function_name: &str) {
        let (account, region, function_name) =
            (context.account.clone(), context.region.clone(), function_name.to_string());
        let _ = self
            .blocking(move |service| {
                let name = service.function_ref(&account, &region, &function_name, None)?.name;
                service.settled_record(|service| service.load_record(&account, &region, &name, None)).map(drop)
            })
            .await;
    }

    /// Starts the preparation of what an update left in transition: `$LATEST`, and the version
    /// it published, if any.
    pub(crate) fn spawn_update_transitions(self: &Arc<Self>, updated: &FunctionConfiguration) {
        let Ok(arn) = kumo_core::arn::parse_function_ref(&updated.function_arn) else { return };
        let (Some(account), Some(region)) = (arn.account, arn.region) else { return };
        self.spawn_transition(&account, &region, &updated.function_name, LATEST);
        if updated.version != LATEST {
            self.spawn_transition(&account, &region, &updated.function_name, &updated.version);
        }
    }

    fn create_function_blocking(
        &self,
        context: &RequestContext,
        request: CreateFunctionRequest,
    ) -> Result<FunctionConfiguration, AwsError> {
        let requested = request.function_name.ok_or_else(|| missing("FunctionName"))?;
        let name = self.created_function_name(context, &requested)?;
        if let Some(tags) = &request.tags {
            crate::permissions::check_tag_count(tags)?;
        }
        let arn = kumo_core::arn::function_arn(&context.region, &context.account, &name);
        self.authorize_identity(context, "lambda:CreateFunction", &arn)?;
        let code_signing_config_arn =
            request.code_signing_config_arn.map(|csc| self.usable_code_signing_config(context, csc)).transpose()?;
        let role = request.role.ok_or_else(|| missing("Role"))?;
        validation::role(&role)?;
        if request.package_type.as_deref().is_some_and(|p| p != "Zip") {
            return Err(AwsError::invalid_parameter(
                "Kumo runs Zip packages only: container images are not supported.",
            ));
        }
        let runtime = request.runtime.ok_or_else(|| {
            AwsError::invalid_parameter(
                "Runtime and Handler are mandatory parameters for functions created with deployment packages.",
            )
        })?;
        validation::runtime(&runtime)?;
        let handler = request.handler.ok_or_else(|| {
            AwsError::invalid_parameter(
                "Runtime and Handler are mandatory parameters for functions created with deployment packages.",
            )
        })?;
        validation::handler(&handler)?;
        let memory_size = validation::memory_size(request.memory_size.unwrap_or(i64::from(limits::MEMORY_DEFAULT_MB)))?;
        let timeout = validation::timeout(request.timeout.unwrap_or(i64::from(limits::TIMEOUT_DEFAULT_S)))?;
        let description = request.description.unwrap_or_default();
        if description.len() > 256 {
            return Err(validation::validation_error(
                "1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 256",
            ));
        }
        // An Environment sent empty is kept and shown as `{"Variables": {}}`, as on AWS.
        let environment_set = request.environment.is_some();
        let variables = request.environment.and_then(|e| e.variables).unwrap_or_default();
        validation::environment(&variables)?;
        let architectures = request.architectures.unwrap_or_else(|| vec!["x86_64".to_string()]);
        validation::architectures(&architectures)?;
        let ephemeral =
            validation::ephemeral_storage(request.ephemeral_storage.map_or(limits::EPHEMERAL_MIN_MB, |e| e.size))?;
        let layers = self.resolve_layers(context, request.layers.as_deref().unwrap_or_default())?;
        let code = request.code.ok_or_else(|| missing("Code"))?;
        let source = CodeSource::of(
            code.zip_file.as_deref(),
            code.s3_bucket.as_deref(),
            code.s3_key.as_deref(),
            code.s3_object_version.as_deref(),
            code.image_uri.as_deref(),
        )?;
        self.check_execution_role(&context.account, &role)?;
        if let Some(target) = request.dead_letter_config.as_ref().and_then(|d| d.target_arn.as_deref()) {
            self.check_dead_letter_target(&role, &name, target)?;
        }
        if self
            .store
            .metadata
            .get_function(&context.account, &context.region, &name, LATEST)
            .map_err(internal)?
            .is_some()
        {
            return Err(function_exists(&name));
        }
        self.verify_code_signature(context, code_signing_config_arn.as_deref(), &name)?;
        let package = self.store_code(context, source, "CreateFunction", &layers)?;
        let tracing_config = TracingConfig {
            mode: request
                .tracing_config
                .and_then(|t| Some(t.mode).filter(|m| !m.is_empty()))
                .unwrap_or_else(|| "PassThrough".to_string()),
        };
        validation::tracing_mode(&tracing_config.mode)?;
        let mut logging_config = LoggingConfig {
            log_format: "Text".to_string(),
            application_log_level: None,
            system_log_level: None,
            log_group: format!("/aws/lambda/{name}"),
        };
        if let Some(logging) = request.logging_config {
            validation::apply_logging(&mut logging_config, logging)?;
        }
        let runtime_name = runtime.clone();
        let mut configuration = FunctionConfiguration {
            function_arn: kumo_core::arn::function_arn(&context.region, &context.account, &name),
            runtime,
            role,
            handler,
            code_size: package.code_size,
            description,
            timeout,
            memory_size,
            last_modified: kumo_core::time::lambda_timestamp(kumo_core::time::now_millis()),
            code_sha256: package.code_sha256.clone(),
            version: LATEST.to_string(),
            environment: Some(EnvironmentResponse { variables }).filter(|e| environment_set || !e.variables.is_empty()),
            tracing_config,
            revision_id: uuid::Uuid::new_v4().to_string(),
            state: None,
            state_reason: None,
            state_reason_code: None,
            last_update_status: None,
            last_update_status_reason: None,
            last_update_status_reason_code: None,
            package_type: "Zip".to_string(),
            architectures,
            ephemeral_storage: EphemeralStorage { size: ephemeral },
            snap_start: SnapStartResponse { apply_on: "None".to_string(), optimization_status: "Off".to_string() },
            logging_config,
            dead_letter_config: request.dead_letter_config.filter(|d| d.target_arn.is_some()),
            kms_key_arn: request.kms_key_arn,
            layers: crate::layers::layer_references(&layers),
            runtime_version_config: RuntimeVersionConfig::for_runtime(&context.region, &runtime_name),
            function_name: name.clone(),
        };
        crate::state::mark_pending(&mut configuration);
        let record = FunctionRecord {
            configuration,
            code_blob: package.sha256_hex,
            unzipped_size: package.unzipped_size,
            layers,
            tags: request.tags.unwrap_or_default(),
            settings: FunctionSettings { code_signing_config_arn, ..FunctionSettings::default() },
            last_prepared: None,
        };
        let document = serde_json::to_string(&record).map_err(internal)?;
        let inserted = self
            .store
            .metadata
            .insert_function(&context.account, &context.region, &name, LATEST, &document)
            .map_err(internal)?;
        if !inserted {
            return Err(function_exists(&name));
        }
        tracing::info!(function = %name, region = %context.region, "function created");
        if request.publish == Some(true) {
            let _updating = self.lock_updates();
            let latest = self.load_record(&context.account, &context.region, &name, None)?;
            let mut published = self.publish_locked(&context.account, &context.region, &latest, None)?;
            // AWS answers `Version: "1"` with the function's unqualified ARN here.
            published.function_arn = record.configuration.function_arn;
            return Ok(published);
        }
        Ok(record.configuration)
    }

    /// `GetFunction`.
    pub async fn get_function(
        self: &Arc<Self>,
        context: RequestContext,
        function_name: String,
        qualifier: Option<String>,
    ) -> Result<GetFunctionResponse, AwsError> {
        self.blocking(move |service| {
            let (owner, reference) =
                service.shared_function_ref(&context, &function_name, qualifier.as_deref(), "lambda:GetFunction")?;
            let record =
                service.load_record(&owner, &context.region, &reference.name, reference.qualifier.as_deref())?;
            Ok(GetFunctionResponse {
                configuration: as_qualified(&record, &owner, &context.region, reference.qualifier.as_deref()),
                code: FunctionCodeLocation {
                    repository_type: "S3".to_string(),
                    location: service.code_location(&record.code_blob, &context.region),
                },
                tags: Some(record.tags.clone()).filter(|tags| !tags.is_empty()),
                concurrency: service
                    .load_record(&owner, &context.region, &reference.name, None)?
                    .settings
                    .reserved_concurrency
                    .map(|reserved| Concurrency { reserved_concurrent_executions: Some(i64::from(reserved)) }),
            })
        })
        .await
    }

    /// `GetFunctionConfiguration`.
    pub async fn get_function_configuration(
        self: &Arc<Self>,
        context: RequestContext,
        function_name: String,
        qualifier: Option<String>,
    ) -> Result<FunctionConfiguration, AwsError> {
        self.blocking(move |service| {
            let (owner, reference) = service.shared_function_ref(
                &context,
                &function_name,
                qualifier.as_deref(),
                "lambda:GetFunctionConfiguration",
            )?;
            let record =
                service.load_record(&owner, &context.region, &reference.name, reference.qualifier.as_deref())?;
            Ok(as_qualified(&record, &owner, &context.region, reference.qualifier.as_deref()))
        })
        .await
    }

    /// `ListFunctions` with `Marker`/`MaxItems` pagination.
    pub async fn list_functions(
        self: &Arc<Self>,
        context: RequestContext,
        marker: Option<String>,
        max_items: Option<i64>,
        function_version: Option<String>,
    ) -> Result<ListFunctionsResponse, AwsError> {
        self.authorize_identity(&context, "lambda:ListFunctions", "*")?;
        let max_items = page_size(max_items)?;
        let after = match marker {
            None => None,
            Some(marker) => Some(decode_marker(&marker)?),
        };
        if function_version.as_deref() == Some("ALL") {
            return self
                .blocking(move |service| service.list_every_version(&context, after.as_deref(), max_items))
                .await;
        }
        self.blocking(move |service| {
            let rows = service
                .store
                .metadata
                .list_functions(&context.account, &context.region, LATEST, after.as_deref(), max_items + 1)
                .map_err(internal)?;
            let more = rows.len() > max_items;
            let mut functions = Vec::with_capacity(max_items);
            for (_, document) in rows.into_iter().take(max_items) {
                let record: FunctionRecord = serde_json::from_str(&document).map_err(internal)?;
                functions.push(record.configuration.listed());
            }
            let next_marker = more.then(|| functions.last().map(|f| encode_marker(&f.function_name))).flatten();
            Ok(ListFunctionsResponse { functions, next_marker })
        })
        .await
    }

    /// `UpdateFunctionCode`.
    pub async fn update_function_code(
        self: &Arc<Self>,
        context: RequestContext,
        function_name: String,
        request: UpdateFunctionCodeRequest,
    ) -> Result<FunctionConfiguration, AwsError> {
        self.settle_before_update(&context, &function_name).await;
        let dry_run = request.dry_run == Some(true);
        let updated = self
            .blocking(move |service| {
                let context = service.acting_for(&context, &function_name, None, "lambda:UpdateFunctionCode")?;
                let _updating = service.lock_updates();
                let current = service.current_for_update(
                    &context.account,
                    &context.region,
                    &function_name,
                    request.revision_id.as_deref(),
                )?;
                if let Some(architectures) = &request.architectures {
                    validation::architectures(architectures)?;
                }
                let source = CodeSource::of(
                    request.zip_file.as_deref(),
                    request.s3_bucket.as_deref(),
                    request.s3_key.as_deref(),
                    request.s3_object_version.as_deref(),
                    request.image_uri.as_deref(),
                )?;
                let signing = current.settings.code_signing_config_arn.as_deref();
                service.verify_code_signature(&context, signing, &current.configuration.function_name)?;
                let package = service.store_code(&context, source, "UpdateFunctionCode", &current.layers)?;
                let mut record = (*current).clone();
                record.code_blob = package.sha256_hex;
                record.unzipped_size = package.unzipped_size;
                let configuration = &mut record.configuration;
                configuration.code_sha256 = package.code_sha256;
                configuration.code_size = package.code_size;
                if let Some(architectures) = request.architectures {
                    configuration.architectures = architectures;
                }
                if request.dry_run == Some(true) {
                    return Ok(record.configuration);
                }
                let saved = service.save_updated(&context.account, &context.region, &current, record)?;
                if request.publish == Some(true) {
                    let latest = service.load_record(&context.account, &context.region, &saved.function_name, None)?;
                    return service.publish_locked(&context.account, &context.region, &latest, None);
                }
                Ok(saved)
            })
            .await?;
        if !dry_run {
            self.spawn_update_transitions(&updated);
        }
        Ok(updated)
    }

    /// The `$LATEST` record an update applies to, after the `RevisionId` precondition.
    /// Callers hold `updates`, so check-then-save cannot interleave with another update.
    pub(crate) fn current_for_update(
        &self,
        account: &str,
        region: &str,
        function_name: &str,
        revision_id: Option<&str>,
    ) -> Result<Arc<FunctionRecord>, AwsError> {
        let reference = self.function_ref(account, region, function_name, None)?;
        match reference.qualifier.as_deref() {
            None | Some(LATEST) => {}
            Some(_) => {
                return Err(AwsError::invalid_parameter("Only the $LATEST version of a function can be updated."))
            }
        }
        let current = self.load_record(account, region, &reference.name, None)?;
        // A stale RevisionId fails its precondition whatever happens meanwhile: of concurrent
        // conditional updates one wins and the others always read PreconditionFailed, not the
        // winner's transition.
        if revision_id.is_some_and(|expected| expected != current.configuration.revision_id) {
            return Err(AwsError::precondition_failed(
                "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id",
            ));
        }
        if current.configuration.in_transition() {
            return Err(crate::state::transition_conflict(&current.configuration));
        }
        Ok(current)
    }

    fn save_updated(
        &self,
        account: &str,
        region: &str,
        current: &FunctionRecord,
        mut record: FunctionRecord,
    ) -> Result<FunctionConfiguration, AwsError> {
        record.last_prepared = current.fallback_for_update();
        record.configuration.revision_id = uuid::Uuid::new_v4().to_string();
        crate::state::mark_in_progress(&mut record.configuration);
        record.configuration.last_modified = kumo_core::time::lambda_timestamp(kumo_core::time::now_millis());
        let saved = self.save_record(account, region, record)?;
        Ok(saved.configuration.clone())
    }

    /// `UpdateFunctionConfiguration`.
    pub async fn update_function_configuration(
        self: &Arc<Self>,
        context: RequestContext,
        function_name: String,
        request: UpdateFunctionConfigurationRequest,
    ) -> Result<FunctionConfiguration, AwsError> {
        self.settle_before_update(&context, &function_name).await;
        let updated = self
            .blocking(move |service| {
                let context =
                    service.acting_for(&context, &function_name, None, "lambda:UpdateFunctionConfiguration")?;
                let _updating = service.lock_updates();
                let current = service.current_for_update(
                    &context.account,
                    &context.region,
                    &function_name,
                    request.revision_id.as_deref(),
                )?;
                let mut record = (*current).clone();
                if let Some(arns) = &request.layers {
                    let layers = service.resolve_layers(&context, arns)?;
                    let signing = current.settings.code_signing_config_arn.as_deref();
                    for layer in layers.iter().filter(|layer| !current.layers.contains(layer)) {
                        service.verify_code_signature(&context, signing, &layer.arn)?;
                    }
                    crate::layers::check_total_size(record.unzipped_size, &layers)?;
                    service.prepare_layers(&layers)?;
                    record.configuration.layers = crate::layers::layer_references(&layers);
                    record.layers = layers;
                }
                let configuration = &mut record.configuration;
                if let Some(role) = request.role {
                    validation::role(&role)?;
                    service.check_execution_role(&context.account, &role)?;
                    configuration.role = role;
                }
                if let Some(handler) = request.handler {
                    validation::handler(&handler)?;
                    configuration.handler = handler;
                }
                if let Some(runtime) = request.runtime {
                    validation::runtime(&runtime)?;
                    configuration.runtime_version_config = RuntimeVersionConfig::for_runtime(&context.region, &runtime);
                    configuration.runtime = runtime;
                }
                if let Some(description) = request.description {
                    configuration.description = description;
                }
                if let Some(timeout) = request.timeout {
                    configuration.timeout = validation::timeout(timeout)?;
                }
                if let Some(memory) = request.memory_size {
                    configuration.memory_size = validation::memory_size(memory)?;
                }
                if let Some(storage) = request.ephemeral_storage {
                    configuration.ephemeral_storage =
                        EphemeralStorage { size: validation::ephemeral_storage(storage.size)? };
                }
                if let Some(tracing) = request.tracing_config.filter(|t| !t.mode.is_empty()) {
                    validation::tracing_mode(&tracing.mode)?;
                    configuration.tracing_config = tracing;
                }
                if let Some(logging) = request.logging_config {
                    validation::apply_logging(&mut configuration.logging_config, logging)?;
                }
                if let Some(dead_letter) = request.dead_letter_config {
                    if let Some(arn) = &dead_letter.target_arn {
                        service.check_dead_letter_target(&configuration.role, &configuration.function_name, arn)?;
                    }
                    configuration.dead_letter_config = Some(dead_letter).filter(|d| d.target_arn.is_some());
                }
                if let Some(key) = request.kms_key_arn {
                    configuration.kms_key_arn = Some(key).filter(|k| !k.is_empty());
                }
                if let Some(environment) = request.environment {
                    let variables = environment.variables.unwrap_or_default();
                    validation::environment(&variables)?;
                    configuration.environment = Some(EnvironmentResponse { variables });
                }
                service.save_updated(&context.account, &context.region, &current, record)
            })
            .await?;
        self.spawn_update_transitions(&updated);
        Ok(updated)
    }

    /// `DeleteFunction`: the whole function, or one published version with a qualifier.
    pub async fn delete_function(
        self: &Arc<Self>,
        context: RequestContext,
        function_name: String,
        qualifier: Option<String>,
    ) -> Result<(), AwsError> {
        self.blocking(move |service| {
            let context =
                service.acting_for(&context, &function_name, qualifier.as_deref(), "lambda:DeleteFunction")?;
            let _updating = service.lock_updates();
            let reference =
                service.function_ref(&context.account, &context.region, &function_name, qualifier.as_deref())?;
            if reference.qualifier.as_deref() == Some(LATEST) {
                return Err(AwsError::invalid_parameter(
                    "$LATEST version cannot be deleted without deleting the function.",
                ));
            }
            // AWS refuses an alias-like qualifier before looking anything up, and names a missing
            // function or version unqualified.
            if reference.qualifier.as_deref().is_some_and(|q| !is_version_number(q) && !q.contains('$')) {
                return Err(AwsError::invalid_parameter("Deletion of aliases is not currently supported."));
            }
            if let Some(version) = reference.qualifier.as_deref() {
                if is_version_number(version) {
                    let latest = service.load_record(&context.account, &context.region, &reference.name, None)?;
                    service.check_version_unreferenced(&latest, version)?;
                }
                let deleted = is_version_number(version)
                    && service
                        .store
                        .metadata
                        .delete_function_version(&context.account, &context.region, &reference.name, version)
                        .map_err(internal)?;
                if !deleted {
                    return Err(service.not_found(&context.account, &context.region, &reference.name, None));
                }
                service.cache_write().remove(&cache_key(&context.account, &context.region, &reference.name, version));
                service.engine.retire_version(&context.account, &context.region, &reference.name, version);
                return Ok(());
            }
            if let Ok(latest) = service.load_record(&context.account, &context.region, &reference.name, None) {
                service.forget_settings(&context.account, &context.region, &latest);
            }
            let deleted = service
                .store
                .metadata
                .delete_function(&context.account, &context.region, &reference.name)
                .map_err(internal)?;
            service.cache_write().retain(|(account, region, name, _), _| {
                !(account == &context.account && region == &context.region && name == &reference.name)
            });
            service.engine.retire_function(&context.account, &context.region, &reference.name);
            if deleted == 0 {
                return Err(service.not_found(&context.account, &context.region, &reference.name, None));
            }
            tracing::info!(function = %reference.name, region = %context.region, "function deleted");
            Ok(())
        })
        .await
    }

    /// `GetAccountSettings`.
    pub async fn get_account_settings(
        self: &Arc<Self>,
        context: RequestContext,
    ) -> Result<GetAccountSettingsResponse, AwsError> {
        self.authorize_identity(&context, "lambda:GetAccountSettings", "*")?;
        self.blocking(move |service| {
            let mut total_code_size = 0;
            let mut function_count = 0;
            let mut after: Option<String> = None;
            loop {
                let rows = service
                    .store
                    .metadata
                    .list_functions(&context.account, &context.region, LATEST, after.as_deref(), 1000)
                    .map_err(internal)?;
                let Some((last, _)) = rows.last() else { break };
                after = Some(last.clone());
                for (name, _) in &rows {
                    // Every published version keeps its own copy of the code, as AWS counts it.
                    let versions = service
                        .store
                        .metadata
                        .list_function_versions(&context.account, &context.region, name)
                        .map_err(internal)?;
                    for (_, document) in versions {
                        let record: FunctionRecord = serde_json::from_str(&document).map_err(internal)?;
                        total_code_size += record.configuration.code_size;
                    }
                    function_count += 1;
                }
            }
            // AWS counts layers in the storage the account uses, with the functions' code.
            total_code_size += service.layers_code_size(&context.account, &context.region)?;
            Ok(GetAccountSettingsResponse {
                account_limit: AccountLimit {
                    total_code_size: 80_530_636_800,
                    code_size_unzipped: limits::UNZIPPED_CODE_MAX_BYTES,
                    code_size_zipped: limits::ZIPPED_CODE_MAX_BYTES,
                    concurrent_executions: service.engine.concurrency().account_limit(),
                    unreserved_concurrent_executions: service
                        .engine
                        .concurrency()
                        .unreserved(&context.account, &context.region),
                },
                account_usage: AccountUsage { total_code_size, function_count },
            })
        })
        .await
    }

    /// Path of a stored code package for `Code.Location` downloads.
    pub fn code_zip_path(&self, sha256_hex: &str) -> Option<std::path::PathBuf> {
        let valid = sha256_hex.len() == 64 && sha256_hex.chars().all(|c| c.is_ascii_hexdigit());
        valid.then(|| self.store.blobs.zip_path(sha256_hex)).filter(|path| path.is_file())
    }
}

/// A version's configuration as read through `qualifier`: through an alias, AWS answers the
/// alias's ARN.
fn as_qualified(
    record: &FunctionRecord,
    account: &str,
    region: &str,
    qualifier: Option<&str>,
) -> FunctionConfiguration {
    let mut configuration = record.configuration.clone();
    if let Some(alias) = qualifier.filter(|q| crate::aliases::is_alias_name(q)) {
        configuration.function_arn =
            kumo_core::arn::qualified_function_arn(region, account, &configuration.function_name, alias);
    }
    configuration
}

/// `MaxItems` of list operations: 1–10,000, default 50.
pub(crate) fn page_size(max_items: Option<i64>) -> Result<usize, AwsError> {
    match max_items {
        None => Ok(50),
        Some(value) if (1..=10_000).contains(&value) => Ok(value as usize),
        Some(value) => Err(validation::validation_error(format!(
            "1 validation error detected: Value '{value}' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 10000"
        ))),
    }
}

/// One page of `items` (sorted by `key`) after `marker` (the key of the last item of the page
/// before), at most `max_items` (the model's bounds are checked before), and the marker of the
/// next page when there is one.
pub(crate) fn paginate<T>(
    items: Vec<T>,
    marker: Option<&str>,
    max_items: Option<i64>,
    key: impl Fn(&T) -> String,
) -> (Vec<T>, Option<String>) {
    let size = usize::try_from(max_items.unwrap_or(50).max(1)).unwrap_or(usize::MAX);
    let mut rest: Vec<T> = match marker {
        Some(marker) => items.into_iter().filter(|item| key(item).as_str() > marker).collect(),
        None => items,
    };
    let more = rest.len() > size;
    rest.truncate(size);
    let next = more.then(|| rest.last().map(&key)).flatten();
    (rest, next)
}

/// The cache key of one function version.
pub(crate) fn cache_key(account: &str, region: &str, name: &str, version: &str) -> crate::FunctionKey {
    (account.to_string(), region.to_string(), name.to_string(), version.to_string())
}

/// Whether a qualifier is a published version number (`1`, `2`, …).
pub(crate) fn is_version_number(qualifier: &str) -> bool {
    !qualifier.is_empty() && qualifier.len() <= 20 && qualifier.bytes().all(|b| b.is_ascii_digit())
}

fn missing(parameter: &str) -> AwsError {
    AwsError::invalid_parameter(format!("{parameter} is a required parameter"))
}

fn function_exists(name: &str) -> AwsError {
    AwsError::conflict(format!("Function already exist: {name}"))
}

/// The error for a package Lambda cannot take.
fn package_error(error: PackageError) -> AwsError {
    match error {
        PackageError::NotAZip => AwsError::invalid_parameter(
            "Could not unzip uploaded file. Please check your file, then try to upload again.",
        ),
        PackageError::UnsafeEntry(entry) => AwsError::invalid_parameter(format!(
            "Could not unzip uploaded file. The entry '{entry}' points outside the package or is a link."
        )),
        PackageError::TooLarge(limit) => {
            AwsError::invalid_parameter(format!("Unzipped size must be smaller than {limit} bytes"))
        }
        PackageError::TooManyEntries(limit) => AwsError::invalid_parameter(format!(
            "Could not unzip uploaded file. The package holds more than {limit} files and directories."
        )),
        PackageError::Io(detail) => internal(detail),
    }
}

/// An opaque pagination marker for a position (a name, a version).
pub(crate) fn encode_marker(name: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(name)
}

/// The position a marker from [`encode_marker`] stands for.
pub(crate) fn decode_marker(marker: &str) -> Result<String, AwsError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(marker)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| AwsError::invalid_parameter("Invalid pagination marker"))
}
