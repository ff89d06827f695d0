//! Tags on Lambda resources other than functions: event source mappings
//! (`arn:aws:lambda:<region>:<account>:event-source-mapping:<uuid>`) and code signing
//! configurations (`…:code-signing-config:csc-…`), through the same `TagResource`,
//! `UntagResource` and `ListTags` as functions. A mapping's tags live in its stored document
//! beside what is answered (`KUMO_TAGS`, never rendered); a configuration's in its
//! [`crate::code_signing::StoredCodeSigningConfig`].

use std::collections::BTreeMap;

use kumo_core::{AwsError, RequestContext};

use crate::code_signing::StoredCodeSigningConfig;
use crate::{internal, LambdaService};

/// The member of a stored mapping document holding its tags.
pub(crate) const KUMO_TAGS: &str = "KumoTags";
/// AWS's limit on tags per resource.
const MAX_TAGS: usize = 50;

/// A taggable resource that is not a function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TaggedResource {
    /// An event source mapping by UUID.
    Mapping(String),
    /// A code signing configuration by ARN.
    CodeSigning(String),
}

/// The ARN pattern AWS names when a tagging `Resource` is malformed.
const RESOURCE_PATTERN: &str = "arn:(aws[a-zA-Z-]*):lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:\\d{12}:(function:[a-zA-Z0-9-_]+(:(\\$LATEST|[a-zA-Z0-9-_]+))?|layer:([a-zA-Z0-9-_]+)|code-signing-config:csc-[a-z0-9]{17}|event-source-mapping:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|capacity-provider:[a-zA-Z0-9-_]+)";

fn invalid_resource(resource: &str) -> AwsError {
    crate::validation::validation_error(format!(
        "1 validation error detected: Value '{resource}' at 'resource' failed to satisfy constraint: Member must satisfy regular expression pattern: {RESOURCE_PATTERN}"
    ))
}

fn is_uuid(value: &str) -> bool {
    let groups: Vec<&str> = value.split('-').collect();
    groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups.iter().all(|g| g.chars().all(|c| c.is_ascii_hexdigit()))
}

/// What a tagging `Resource` names when it is not a function (`None` for a function ARN, which
/// the function path handles); a malformed mapping or configuration ARN is AWS's
/// `ValidationException`.
pub(crate) fn tagged_resource(resource: &str) -> Result<Option<TaggedResource>, AwsError> {
    let parts: Vec<&str> = resource.split(':').collect();
    match parts.as_slice() {
        ["arn", _, "lambda", _, _, "event-source-mapping", rest @ ..] => match rest {
            [uuid] if is_uuid(uuid) => Ok(Some(TaggedResource::Mapping(uuid.to_string()))),
            _ => Err(invalid_resource(resource)),
        },
        ["arn", _, "lambda", _, _, "code-signing-config", ..] => {
            Ok(Some(TaggedResource::CodeSigning(resource.to_string())))
        }
        ["arn", _, "lambda", _, _, kind, ..] if *kind != "function" => Err(invalid_resource(resource)),
        _ => Ok(None),
    }
}

impl LambdaService {
    /// The `(region, account)` an ARN names must be the caller's, else the resource is not found.
    fn same_place(context: &RequestContext, resource: &str, missing: impl Fn() -> AwsError) -> Result<(), AwsError> {
        let parts: Vec<&str> = resource.split(':').collect();
        if parts.get(3) != Some(&context.region.as_str()) || parts.get(4) != Some(&context.account.as_str()) {
            return Err(missing());
        }
        Ok(())
    }

    /// The tags of `target`.
    pub(crate) fn resource_tags(
        &self,
        context: &RequestContext,
        resource: &str,
        target: &TaggedResource,
    ) -> Result<BTreeMap<String, String>, AwsError> {
        match target {
            TaggedResource::Mapping(uuid) => {
                let missing = || AwsError::not_found(format!("Event source mapping not found: {resource}"));
                Self::same_place(context, resource, missing)?;
                let document = self
                    .store
                    .metadata
                    .get_event_source_mapping(uuid, &context.account, &context.region)
                    .map_err(internal)?
                    .ok_or_else(missing)?;
                let value: serde_json::Value = serde_json::from_str(&document).map_err(internal)?;
                Ok(value
                    .get(KUMO_TAGS)
                    .cloned()
                    .map(serde_json::from_value)
                    .transpose()
                    .map_err(internal)?
                    .unwrap_or_default())
            }
            TaggedResource::CodeSigning(arn) => Ok(self.load_code_signing_config(context, arn)?.tags),
        }
    }

    /// Replaces the tags of `target` (at most 50).
    pub(crate) fn set_resource_tags(
        &self,
        context: &RequestContext,
        resource: &str,
        target: &TaggedResource,
        tags: BTreeMap<String, String>,
    ) -> Result<(), AwsError> {
        if tags.len() > MAX_TAGS {
            return Err(AwsError::invalid_parameter("Number of tags exceeds resource tag limit."));
        }
        match target {
            TaggedResource::Mapping(uuid) => {
                self.resource_tags(context, resource, target)?;
                self.save_mapping_tags(&context.account, &context.region, uuid, &tags)
            }
            TaggedResource::CodeSigning(arn) => {
                let stored = self.load_code_signing_config(context, arn)?;
                self.save_code_signing_config(context, &StoredCodeSigningConfig { tags, ..stored })
            }
        }
    }

    /// `TagResource` on a mapping or configuration: `tags` added to or replacing its own.
    pub(crate) fn tag_other_resource(
        &self,
        context: &RequestContext,
        resource: &str,
        target: &TaggedResource,
        tags: Option<BTreeMap<String, String>>,
    ) -> Result<(), AwsError> {
        self.authorize_identity(context, "lambda:TagResource", resource)?;
        let tags = tags.ok_or_else(|| AwsError::invalid_parameter("Tags is a required parameter"))?;
        let _updating = self.lock_updates();
        let mut current = self.resource_tags(context, resource, target)?;
        current.extend(tags);
        self.set_resource_tags(context, resource, target, current)
    }

    /// `UntagResource` on a mapping or configuration (keys it lacks are ignored, as AWS does).
    pub(crate) fn untag_other_resource(
        &self,
        context: &RequestContext,
        resource: &str,
        target: &TaggedResource,
        keys: &[String],
    ) -> Result<(), AwsError> {
        self.authorize_identity(context, "lambda:UntagResource", resource)?;
        let _updating = self.lock_updates();
        let mut current = self.resource_tags(context, resource, target)?;
        for key in keys {
            current.remove(key);
        }
        self.set_resource_tags(context, resource, target, current)
    }

    /// Writes `tags` into the stored document of mapping `uuid`.
    pub(crate) fn save_mapping_tags(
        &self,
        account: &str,
        region: &str,
        uuid: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<(), AwsError> {
        let metadata = &self.store.metadata;
        let Some(document) = metadata.get_event_source_mapping(uuid, account, region).map_err(internal)? else {
            return Ok(());
        };
        let mut value: serde_json::Value = serde_json::from_str(&document).map_err(internal)?;
        let Some(object) = value.as_object_mut() else { return Err(internal("a mapping document is not an object")) };
        object.remove(KUMO_TAGS);
        if !tags.is_empty() {
            object.insert(KUMO_TAGS.to_string(), serde_json::to_value(tags).map_err(internal)?);
        }
        let document = serde_json::to_string(&value).map_err(internal)?;
        metadata.put_event_source_mapping(uuid, account, region, &document).map_err(internal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_are_told_apart_as_aws_does() {
        let uuid = "a1b2c3d4-0000-1111-2222-333344445555";
        let mapping = format!("arn:aws:lambda:us-east-1:000000000000:event-source-mapping:{uuid}");
        assert_eq!(tagged_resource(&mapping).unwrap(), Some(TaggedResource::Mapping(uuid.into())));
        assert_eq!(tagged_resource("arn:aws:lambda:us-east-1:000000000000:function:f").unwrap(), None);
        assert_eq!(tagged_resource("f").unwrap(), None);
        for bad in [format!("{mapping}:alias"), "arn:aws:lambda:us-east-1:000000000000:foobar:x".to_string()] {
            let error = tagged_resource(&bad).unwrap_err();
            assert_eq!(error.code, "ValidationException");
            assert!(error.message.starts_with(&format!("1 validation error detected: Value '{bad}' at 'resource'")));
        }
    }
}
