//! The function state model, as on AWS: CreateFunction and PublishVersion leave a version
//! `Pending` (`StateReasonCode: Creating`), an update leaves `$LATEST` with
//! `LastUpdateStatus: InProgress`, while Kumo prepares the code in the background (unpacks the
//! package, merges the layers). When that is done the version becomes `Active` / `Successful`, or
//! `Failed` when the package cannot be prepared, and gets a new `RevisionId`, as every AWS state
//! transition does. Waiters (`function_active_v2`, `function_updated_v2`,
//! `published_version_active`) see the transition. After a failed update `$LATEST` keeps running
//! the code and configuration that ran before it (`FunctionRecord::last_prepared`), as AWS does.
//!
//! Kumo's preparation takes milliseconds, so an Invoke (or an update) that arrives meanwhile waits
//! for the transition (it runs the preparation itself, [`LambdaService::settled_record`]) instead
//! of failing with `ResourceConflictException` as AWS would: scripts that create and invoke at once
//! keep working. A version left in transition by a crash is prepared again on start
//! ([`LambdaService::restore_states`]).

use std::sync::Arc;

use kumo_core::{limits, AwsError};

use crate::functions::LATEST;
use crate::types::{FunctionConfiguration, FunctionRecord};
use crate::{internal, LambdaService};

/// How often an Invoke or an update prepares a version that keeps changing before giving up.
const SETTLE_ATTEMPTS: usize = 3;

/// How often the background preparation of a version is tried, and its first back-off.
const TRANSITION_ATTEMPTS: u32 = 5;
const TRANSITION_RETRY_START: std::time::Duration = std::time::Duration::from_millis(200);

/// `StateReason` / `LastUpdateStatusReason` while Kumo prepares a version (AWS's text for both).
const CREATING_REASON: &str = "The function is being created.";

/// Marks a new version `Pending`, as CreateFunction and PublishVersion answer it.
pub(crate) fn mark_pending(configuration: &mut FunctionConfiguration) {
    configuration.state = Some("Pending".to_string());
    configuration.state_reason = Some(CREATING_REASON.to_string());
    configuration.state_reason_code = Some("Creating".to_string());
    configuration.last_update_status = None;
    configuration.last_update_status_reason = None;
    configuration.last_update_status_reason_code = None;
}

/// Marks an updated `$LATEST` `InProgress`, as the update operations answer it.
pub(crate) fn mark_in_progress(configuration: &mut FunctionConfiguration) {
    configuration.last_update_status = Some("InProgress".to_string());
    configuration.last_update_status_reason = Some(CREATING_REASON.to_string());
    configuration.last_update_status_reason_code = Some("Creating".to_string());
}

/// The configuration once its preparation ended: `Active`/`Successful`, or `Failed` with why.
fn settle(configuration: &mut FunctionConfiguration, failure: Option<(&str, String)>) {
    configuration.revision_id = uuid::Uuid::new_v4().to_string();
    let was_pending = configuration.state.as_deref() == Some("Pending");
    match failure {
        None => {
            configuration.state = Some("Active".to_string());
            configuration.state_reason = None;
            configuration.state_reason_code = None;
            configuration.last_update_status = Some("Successful".to_string());
            configuration.last_update_status_reason = None;
            configuration.last_update_status_reason_code = None;
        }
        Some((code, reason)) if was_pending => {
            configuration.state = Some("Failed".to_string());
            configuration.state_reason = Some(reason);
            configuration.state_reason_code = Some(code.to_string());
        }
        Some((code, reason)) => {
            configuration.last_update_status = Some("Failed".to_string());
            configuration.last_update_status_reason = Some(reason);
            configuration.last_update_status_reason_code = Some(code.to_string());
        }
    }
}

impl LambdaService {
    /// Prepares a version left in transition in the background, then settles its state.
    pub(crate) fn spawn_transition(self: &Arc<Self>, account: &str, region: &str, name: &str, version: &str) {
        let service = Arc::clone(self);
        let (account, region, name, version) =
            (account.to_string(), region.to_string(), name.to_string(), version.to_string());
        tokio::task::spawn_blocking(move || {
            // A failure here (the store busy past its timeout) would leave the version in
            // transition until an invoke settles it: retry, backing off, before giving up.
            let mut backoff = TRANSITION_RETRY_START;
            for attempt in 1..=TRANSITION_ATTEMPTS {
                match service.complete_transition(&account, &region, &name, &version) {
                    Ok(()) => return,
                    // Deleted before its preparation ended: nothing left to settle.
                    Err(error) if error.code == "ResourceNotFoundException" => {
                        tracing::debug!(function = %name, %version, "function deleted while in transition");
                        return;
                    }
                    Err(error) if attempt < TRANSITION_ATTEMPTS => {
                        tracing::warn!(function = %name, %version, ?error, attempt, "function state transition failed; retrying");
                        std::thread::sleep(backoff);
                        backoff *= 2;
                    }
                    Err(error) => {
                        tracing::error!(function = %name, %version, ?error, "function state transition failed")
                    }
                }
            }
        });
    }

    /// Prepares one version in transition and settles it (a no-op when it is settled already).
    /// A change made meanwhile has its own transition: this one then only prepares.
    pub(crate) fn complete_transition(
        &self,
        account: &str,
        region: &str,
        name: &str,
        version: &str,
    ) -> Result<(), AwsError> {
        let qualifier = (version != LATEST).then_some(version);
        let record = self.load_record(account, region, name, qualifier)?;
        if !record.configuration.in_transition() {
            return Ok(());
        }
        let failure = self.prepare_record(&record);
        let _updating = self.lock_updates();
        let current = self.load_record(account, region, name, qualifier)?;
        // A change of code or layers meanwhile has its own transition; any other change (tags,
        // permissions, concurrency) kept this one's package, which is now prepared: settle it.
        let same_package = current.code_blob == record.code_blob && current.layers == record.layers;
        if !current.configuration.in_transition() || !same_package {
            return Ok(());
        }
        let mut settled = (*current).clone();
        if failure.is_none() {
            // The new package runs from now on: nothing to fall back to.
            settled.last_prepared = None;
        }
        settle(&mut settled.configuration, failure);
        self.save_settings(account, region, settled)?;
        drop(_updating);
        tracing::debug!(function = %name, %version, "function state settled");
        Ok(())
    }

    /// Unpacks the code and merges the layers a version runs with; `Some((code, reason))` when
    /// that fails, with AWS's `StateReasonCode`.
    fn prepare_record(&self, record: &FunctionRecord) -> Option<(&'static str, String)> {
        if let Err(error) = self.store.blobs.unpack_zip(&record.code_blob, limits::UNZIPPED_CODE_MAX_BYTES) {
            tracing::warn!(function = %record.configuration.function_name, %error, "code package cannot be unpacked");
            return Some((
                "InvalidZipFileException",
                "Could not unzip uploaded file. Please check your file, then try to upload again.".to_string(),
            ));
        }
        if let Err(error) = self.prepare_layers(&record.layers) {
            tracing::warn!(function = %record.configuration.function_name, ?error, "layers cannot be merged");
            return Some(("InternalError", "An internal error occurred while preparing the layers.".to_string()));
        }
        None
    }

    /// Settles every version a crash left in transition: `Active` when its code can be
    /// prepared, else `Failed`. Runs once at start, before requests are served.
    pub fn restore_states(&self) -> Result<(), AwsError> {
        for (account, region, document) in self.store.metadata.all_latest_functions().map_err(internal)? {
            let latest: FunctionRecord = serde_json::from_str(&document).map_err(internal)?;
            let name = latest.configuration.function_name.clone();
            let versions = self.store.metadata.list_function_versions(&account, &region, &name).map_err(internal)?;
            for (version, document) in versions {
                let record: FunctionRecord = serde_json::from_str(&document).map_err(internal)?;
                if record.configuration.in_transition() {
                    tracing::info!(function = %name, %version, "settling a version left in transition");
                    self.complete_transition(&account, &region, &name, &version)?;
                }
            }
        }
        Ok(())
    }

    /// The record `resolve` reads, out of transition: a version still being prepared is
    /// prepared here and now (the background task finds it done), so an Invoke or an update
    /// right after a change waits for the preparation instead of failing. A version changed
    /// again meanwhile is retried a few times, then answered with AWS's `ResourceConflictException`.
    pub(crate) fn settled_record<F>(&self, resolve: F) -> Result<Arc<FunctionRecord>, AwsError>
    where
        F: Fn(&LambdaService) -> Result<Arc<FunctionRecord>, AwsError>,
    {
        let mut record = resolve(self)?;
        for _ in 0..SETTLE_ATTEMPTS {
            if !record.configuration.in_transition() {
                return Ok(record);
            }
            let configuration = &record.configuration;
            let arn = kumo_core::arn::parse_function_ref(&configuration.function_arn)?;
            let (Some(account), Some(region)) = (arn.account, arn.region) else {
                return Err(internal("stored function ARN without account or region"));
            };
            self.complete_transition(&account, &region, &configuration.function_name, &configuration.version)?;
            record = resolve(self)?;
        }
        if record.configuration.in_transition() {
            return Err(transition_conflict(&record.configuration));
        }
        Ok(record)
    }
}

/// AWS's answer to an operation on a version that is still being prepared.
pub(crate) fn transition_conflict(configuration: &FunctionConfiguration) -> AwsError {
    match configuration.state.as_deref() {
        Some(state) if state != "Active" => AwsError::conflict(format!(
            "The operation cannot be performed at this time. The function is currently in the following state: {state}"
        )),
        _ => AwsError::conflict(format!(
            "The operation cannot be performed at this time. An update is in progress for resource: {}",
            configuration.function_arn
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn configuration() -> FunctionConfiguration {
        serde_json::from_value(serde_json::json!({
            "FunctionName": "f", "FunctionArn": "arn:aws:lambda:us-east-1:000000000000:function:f",
            "Runtime": "python3.12", "Role": "arn:aws:iam::000000000000:role/r", "Handler": "h.h",
            "CodeSize": 1, "Description": "", "Timeout": 3, "MemorySize": 128,
            "LastModified": "2026-01-01T00:00:00.000+0000", "CodeSha256": "x", "Version": "$LATEST",
            "TracingConfig": {"Mode": "PassThrough"}, "RevisionId": "r1", "PackageType": "Zip",
            "Architectures": ["x86_64"], "EphemeralStorage": {"Size": 512},
            "SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"},
            "LoggingConfig": {"LogFormat": "Text", "LogGroup": "/aws/lambda/f"}
        }))
        .unwrap()
    }

    #[test]
    fn creation_settles_active_with_a_new_revision() {
        let mut created = configuration();
        mark_pending(&mut created);
        assert!(created.in_transition());
        assert_eq!(created.last_update_status, None);
        settle(&mut created, None);
        assert_eq!(created.state.as_deref(), Some("Active"));
        assert_eq!(created.last_update_status.as_deref(), Some("Successful"));
        assert_eq!(created.state_reason, None);
        assert_ne!(created.revision_id, "r1");
        assert!(!created.in_transition());
    }

    #[test]
    fn a_failed_update_keeps_the_function_active() {
        let mut updated = configuration();
        updated.state = Some("Active".into());
        mark_in_progress(&mut updated);
        assert!(updated.in_transition());
        assert!(transition_conflict(&updated).message.contains("An update is in progress for resource"));
        settle(&mut updated, Some(("InvalidZipFileException", "bad".into())));
        assert_eq!(updated.state.as_deref(), Some("Active"));
        assert_eq!(updated.last_update_status.as_deref(), Some("Failed"));
        assert_eq!(updated.last_update_status_reason_code.as_deref(), Some("InvalidZipFileException"));
    }

    fn record(code_blob: &str) -> FunctionRecord {
        FunctionRecord {
            configuration: configuration(),
            code_blob: code_blob.to_string(),
            unzipped_size: 1,
            layers: Vec::new(),
            tags: Default::default(),
            settings: Default::default(),
            last_prepared: None,
        }
    }

    /// An update as `save_updated` makes it, settled with `failure`.
    fn updated(current: &FunctionRecord, code_blob: &str, failure: Option<(&str, String)>) -> FunctionRecord {
        let mut next = current.clone();
        next.code_blob = code_blob.to_string();
        next.last_prepared = current.fallback_for_update();
        mark_in_progress(&mut next.configuration);
        settle(&mut next.configuration, failure);
        next
    }

    #[test]
    fn a_failed_update_runs_what_ran_before_until_an_update_succeeds() {
        let mut running = record("first");
        mark_pending(&mut running.configuration);
        settle(&mut running.configuration, None);
        assert_eq!(running.runnable().1, "first");

        let broken = || Some(("InvalidZipFileException", "bad".to_string()));
        let failed = updated(&running, "broken", broken());
        assert_eq!(failed.configuration.last_update_status.as_deref(), Some("Failed"));
        let (configuration, code_blob, _) = failed.runnable();
        assert_eq!(
            (code_blob, configuration.revision_id.as_str()),
            ("first", running.configuration.revision_id.as_str())
        );
        // Failing again keeps the version that last ran, not the one that failed before.
        let failed_again = updated(&failed, "broken again", broken());
        assert_eq!(failed_again.runnable().1, "first");
        let fixed = updated(&failed_again, "fixed", None);
        assert_eq!(fixed.runnable().1, "fixed");
    }

    #[test]
    fn a_function_whose_creation_failed_has_nothing_to_fall_back_to() {
        let mut created = record("broken");
        mark_pending(&mut created.configuration);
        settle(&mut created.configuration, Some(("InvalidZipFileException", "bad".into())));
        assert!(created.fallback_for_update().is_none());
        assert_eq!(created.runnable().1, "broken");
    }

    #[test]
    fn a_pending_function_that_cannot_be_prepared_fails() {
        let mut created = configuration();
        mark_pending(&mut created);
        assert!(transition_conflict(&created).message.ends_with("following state: Pending"));
        settle(&mut created, Some(("InvalidZipFileException", "bad".into())));
        assert_eq!(created.state.as_deref(), Some("Failed"));
        assert_eq!(created.state_reason_code.as_deref(), Some("InvalidZipFileException"));
    }
}
