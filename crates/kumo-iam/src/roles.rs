//! Roles: CreateRole, GetRole, ListRoles, UpdateRole, UpdateAssumeRolePolicy, DeleteRole,
//! TagRole, UntagRole, ListRoleTags, and the check Lambda makes on an execution role.

use std::sync::Arc;

use kumo_core::identity::ExecutionRoles;
use kumo_core::{AwsError, RequestContext};

use crate::documents::{self, PolicyKind};
use crate::model::{RoleRecord, Tag};
use crate::pagination::paginate;
use crate::types::{
    AttachedPermissionsBoundary, CreateRoleRequest, ListRoleTagsResult, ListRolesRequest, ListRolesResult, Page, Role,
    RoleLastUsed, RoleResult, UpdateRoleRequest,
};
use crate::{error, ids, iso8601, IamService};

/// Shortest `MaxSessionDuration`.
pub const MAX_SESSION_DURATION_MIN: i64 = 3600;
/// Longest `MaxSessionDuration`.
pub const MAX_SESSION_DURATION_MAX: i64 = 43_200;
/// Most tags on one entity.
const TAGS_MAX: usize = 50;

/// Checks an entity name: 1–`max` characters of `[\w+=,.@-]`.
pub(crate) fn check_name(field: &str, value: &str, max: usize) -> Result<(), AwsError> {
    if value.chars().count() > max {
        return Err(error::too_long(field, value, max));
    }
    let valid = !value.is_empty() && value.chars().all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c));
    if !valid {
        return Err(error::pattern(field, value, "[\\w+=,.@-]+"));
    }
    Ok(())
}

/// Checks a path: `/` or `/…/` of printable ASCII, at most 512 characters.
pub(crate) fn check_path(value: &str) -> Result<(), AwsError> {
    if value.len() > 512 {
        return Err(error::too_long("path", value, 512));
    }
    let printable = value.chars().all(|c| ('\u{21}'..='\u{7e}').contains(&c));
    if value.starts_with('/') && value.ends_with('/') && printable {
        return Ok(());
    }
    Err(error::pattern("path", value, "(\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)"))
}

/// Checks a path prefix: `/` followed by printable ASCII.
pub(crate) fn check_path_prefix(value: &str) -> Result<(), AwsError> {
    if value.starts_with('/') && value.len() <= 512 && value.chars().all(|c| ('\u{21}'..='\u{7f}').contains(&c)) {
        return Ok(());
    }
    Err(error::pattern("pathPrefix", value, "\\u002F[\\u0021-\\u007F]*"))
}

/// Checks a description (at most 1,000 characters).
pub(crate) fn check_description(value: &str) -> Result<(), AwsError> {
    if value.chars().count() > 1000 {
        return Err(error::too_long("description", value, 1000));
    }
    Ok(())
}

/// Checks tags: at most 50, keys 1–128 and values up to 256 characters, keys unique.
pub(crate) fn check_tags(tags: &[Tag]) -> Result<(), AwsError> {
    if tags.len() > TAGS_MAX {
        return Err(error::limit_exceeded(format!("Cannot exceed quota for TagsPerRole: {TAGS_MAX}")));
    }
    for tag in tags {
        if tag.key.is_empty() || tag.key.chars().count() > 128 {
            return Err(error::too_long("tags.member.key", &tag.key, 128));
        }
        if tag.value.chars().count() > 256 {
            return Err(error::too_long("tags.member.value", &tag.value, 256));
        }
    }
    let mut keys: Vec<String> = tags.iter().map(|tag| tag.key.to_ascii_lowercase()).collect();
    keys.sort();
    keys.dedup();
    if keys.len() != tags.len() {
        return Err(error::invalid_input("Duplicate tag keys found. Please note that Tag keys are case insensitive."));
    }
    Ok(())
}

fn check_max_session_duration(value: i64) -> Result<(), AwsError> {
    if !(MAX_SESSION_DURATION_MIN..=MAX_SESSION_DURATION_MAX).contains(&value) {
        return Err(error::out_of_range(
            "maxSessionDuration",
            value,
            MAX_SESSION_DURATION_MIN,
            MAX_SESSION_DURATION_MAX,
        ));
    }
    Ok(())
}

fn check_trust_policy(document: &str) -> Result<(), AwsError> {
    if documents::counted_size(document) > documents::TRUST_POLICY_MAX_CHARS {
        return Err(error::limit_exceeded(format!(
            "Cannot exceed quota for ACLSizePerRole: {}",
            documents::TRUST_POLICY_MAX_CHARS
        )));
    }
    documents::parse(document, PolicyKind::Trust).map(|_| ())
}

/// How much of a role a response shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Detail {
    /// ListRoles: no tags, boundary or last use.
    Listed,
    /// CreateRole: tags when there are some.
    Created,
    /// GetRole: everything.
    Full,
}

fn render(role: &RoleRecord, detail: Detail) -> Role {
    let tags = match detail {
        Detail::Full | Detail::Created if !role.tags.is_empty() => Some(role.tags.clone().into()),
        _ => None,
    };
    Role {
        path: role.path.clone(),
        role_name: role.name.clone(),
        role_id: role.role_id.clone(),
        arn: role.arn.clone(),
        create_date: iso8601(role.created_ms),
        assume_role_policy_document: documents::url_encode(&role.trust_policy),
        description: role.description.clone(),
        max_session_duration: role.max_session_duration,
        permissions_boundary: role.permissions_boundary.clone().filter(|_| detail != Detail::Listed).map(|arn| {
            AttachedPermissionsBoundary {
                permissions_boundary_type: "PermissionsBoundaryPolicy".to_string(),
                permissions_boundary_arn: arn,
            }
        }),
        tags,
        role_last_used: (detail == Detail::Full).then(RoleLastUsed::default),
    }
}

impl IamService {
    /// `CreateRole`.
    pub async fn create_role(
        self: &Arc<Self>,
        context: RequestContext,
        request: CreateRoleRequest,
    ) -> Result<RoleResult, AwsError> {
        check_name("roleName", &request.role_name, 64)?;
        let path = request.path.clone().unwrap_or_else(|| "/".to_string());
        check_path(&path)?;
        if let Some(description) = &request.description {
            check_description(description)?;
        }
        let max_session_duration = request.max_session_duration.unwrap_or(MAX_SESSION_DURATION_MIN);
        check_max_session_duration(max_session_duration)?;
        check_tags(&request.tags)?;
        check_trust_policy(&request.assume_role_policy_document)?;
        if let Some(boundary) = &request.permissions_boundary {
            self.check_policy_exists(&context.account, boundary)?;
        }
        self.blocking(move |service| {
            let _changing = service.begin_change();
            if service.role(&context.account, &request.role_name).is_ok() {
                return Err(error::entity_already_exists(format!(
                    "Role with name {} already exists.",
                    request.role_name
                )));
            }
            let role = RoleRecord {
                arn: format!("arn:aws:iam::{}:role{path}{}", context.account, request.role_name),
                account: context.account,
                name: request.role_name,
                path,
                role_id: ids::unique_id(ids::ROLE_PREFIX),
                created_ms: kumo_core::time::now_millis(),
                trust_policy: request.assume_role_policy_document,
                description: request.description,
                max_session_duration,
                tags: request.tags,
                permissions_boundary: request.permissions_boundary,
                inline_policies: Default::default(),
                attached_policies: Vec::new(),
            };
            let role = service.save_role(role)?;
            tracing::info!(arn = %role.arn, "role created");
            Ok(RoleResult { role: render(&role, Detail::Created) })
        })
        .await
    }

    /// `GetRole`.
    pub async fn get_role(
        self: &Arc<Self>,
        context: RequestContext,
        role_name: String,
    ) -> Result<RoleResult, AwsError> {
        self.blocking(move |service| {
            let role = service.role(&context.account, &role_name)?;
            Ok(RoleResult { role: render(&role, Detail::Full) })
        })
        .await
    }

    /// `ListRoles`, in name order.
    pub async fn list_roles(
        self: &Arc<Self>,
        context: RequestContext,
        request: ListRolesRequest,
    ) -> Result<ListRolesResult, AwsError> {
        if let Some(prefix) = &request.path_prefix {
            check_path_prefix(prefix)?;
        }
        self.blocking(move |service| {
            let prefix = request.path_prefix.as_deref().unwrap_or("/");
            let roles: Vec<RoleRecord> = service
                .read()
                .roles
                .iter()
                .filter(|((account, _), role)| *account == context.account && role.path.starts_with(prefix))
                .map(|(_, role)| role.clone())
                .collect();
            let (page, marker) = paginate(roles, |role| role.name.to_ascii_lowercase(), &request.page)?;
            Ok(ListRolesResult {
                roles: page.iter().map(|role| render(role, Detail::Listed)).collect::<Vec<_>>().into(),
                is_truncated: marker.is_some(),
                marker,
            })
        })
        .await
    }

    /// `UpdateRole`: description and longest session.
    pub async fn update_role(
        self: &Arc<Self>,
        context: RequestContext,
        request: UpdateRoleRequest,
    ) -> Result<(), AwsError> {
        if let Some(description) = &request.description {
            check_description(description)?;
        }
        if let Some(duration) = request.max_session_duration {
            check_max_session_duration(duration)?;
        }
        self.change_role(context, request.role_name.clone(), move |_, role| {
            if let Some(description) = request.description {
                role.description = Some(description).filter(|d| !d.is_empty());
            }
            if let Some(duration) = request.max_session_duration {
                role.max_session_duration = duration;
            }
            Ok(())
        })
        .await
    }

    /// `UpdateAssumeRolePolicy`.
    pub async fn update_assume_role_policy(
        self: &Arc<Self>,
        context: RequestContext,
        role_name: String,
        policy_document: String,
    ) -> Result<(), AwsError> {
        check_trust_policy(&policy_document)?;
        self.change_role(context, role_name, move |_, role| {
            role.trust_policy = policy_document;
            Ok(())
        })
        .await
    }

    /// `DeleteRole`: only once no policy is attached or inline.
    pub async fn delete_role(self: &Arc<Self>, context: RequestContext, role_name: String) -> Result<(), AwsError> {
        self.blocking(move |service| {
            let _changing = service.begin_change();
            let role = service.role(&context.account, &role_name)?;
            if !role.attached_policies.is_empty() {
                return Err(error::delete_conflict("Cannot delete entity, must detach all policies first."));
            }
            if !role.inline_policies.is_empty() {
                return Err(error::delete_conflict("Cannot delete entity, must delete policies first."));
            }
            service.remove_role(&context.account, &role.name)?;
            tracing::info!(arn = %role.arn, "role deleted");
            Ok(())
        })
        .await
    }

    /// `TagRole`: adds or replaces tags.
    pub async fn tag_role(
        self: &Arc<Self>,
        context: RequestContext,
        role_name: String,
        tags: Vec<Tag>,
    ) -> Result<(), AwsError> {
        check_tags(&tags)?;
        self.change_role(context, role_name, move |_, role| {
            for tag in tags {
                role.tags.retain(|existing| !existing.key.eq_ignore_ascii_case(&tag.key));
                role.tags.push(tag);
            }
            check_tags(&role.tags)
        })
        .await
    }

    /// `UntagRole`.
    pub async fn untag_role(
        self: &Arc<Self>,
        context: RequestContext,
        role_name: String,
        tag_keys: Vec<String>,
    ) -> Result<(), AwsError> {
        self.change_role(context, role_name, move |_, role| {
            role.tags.retain(|tag| !tag_keys.iter().any(|key| key.eq_ignore_ascii_case(&tag.key)));
            Ok(())
        })
        .await
    }

    /// `ListRoleTags`.
    pub async fn list_role_tags(
        self: &Arc<Self>,
        context: RequestContext,
        role_name: String,
        page: Page,
    ) -> Result<ListRoleTagsResult, AwsError> {
        self.blocking(move |service| {
            let role = service.role(&context.account, &role_name)?;
            let tags: Vec<(usize, Tag)> = role.tags.into_iter().enumerate().collect();
            let (tags, marker) = paginate(tags, |(index, _)| format!("{index:08}"), &page)?;
            Ok(ListRoleTagsResult {
                tags: tags.into_iter().map(|(_, tag)| tag).collect::<Vec<_>>().into(),
                is_truncated: marker.is_some(),
                marker,
            })
        })
        .await
    }

    /// Applies `change` to a role and stores it (nothing is stored when `change` fails).
    pub(crate) async fn change_role(
        self: &Arc<Self>,
        context: RequestContext,
        role_name: String,
        change: impl FnOnce(&IamService, &mut RoleRecord) -> Result<(), AwsError> + Send + 'static,
    ) -> Result<(), AwsError> {
        self.blocking(move |service| {
            let _changing = service.begin_change();
            let mut role = service.role(&context.account, &role_name)?;
            change(service, &mut role)?;
            service.save_role(role)?;
            Ok(())
        })
        .await
    }

    /// The role an ARN names, if it exists (path included).
    pub(crate) fn role_by_arn(&self, role_arn: &str) -> Option<RoleRecord> {
        let parsed = crate::parse_iam_arn(role_arn).filter(|arn| arn.kind == "role")?;
        self.role(&parsed.account, &parsed.name).ok().filter(|role| role.path == parsed.path)
    }
}

impl ExecutionRoles for IamService {
    fn check_assumable_by_lambda(&self, account: &str, role_arn: &str) -> Result<(), AwsError> {
        let role = self.role_by_arn(role_arn).ok_or_else(kumo_core::identity::role_cannot_be_assumed)?;
        if role.account != account || !documents::trusts_service(&role.trust_policy, "lambda.amazonaws.com") {
            return Err(kumo_core::identity::role_cannot_be_assumed());
        }
        Ok(())
    }
}
