//! AddPermission and RemovePermission: statements AWS writes into (and removes from) the queue's
//! `Policy` attribute, one per label, which the queue policy evaluation then applies like any
//! other policy (`Principal` the accounts' roots, `Action` `SQS:<action>`).

use std::sync::Arc;

use kumo_core::AwsError;
use serde_json::{json, Map, Value};

use crate::queue::Queue;
use crate::store::WriteOp;
use crate::types::*;
use crate::{error, required, SqsService};

/// One entry, or a list when there are more (as AWS writes `Principal.AWS` and `Action`).
fn one_or_many(values: Vec<String>) -> Value {
    match values.len() {
        1 => Value::String(values.into_iter().next().unwrap_or_default()),
        _ => Value::Array(values.into_iter().map(Value::String).collect()),
    }
}

/// The queue's policy: its members but `Statement`, and its statements (AWS's default document
/// when it has none, or when the stored one is not an object).
fn policy_parts(queue: &Queue, policy: Option<&str>) -> (Map<String, Value>, Vec<Value>) {
    let parsed = policy.and_then(|text| serde_json::from_str::<Value>(text).ok());
    let mut document = match parsed {
        Some(Value::Object(document)) => document,
        _ => {
            let mut document = Map::new();
            document.insert("Version".into(), json!("2008-10-17"));
            document.insert("Id".into(), json!(format!("{}/SQSDefaultPolicy", queue.arn)));
            document
        }
    };
    let statements = match document.remove("Statement") {
        Some(Value::Array(statements)) => statements,
        Some(statement @ Value::Object(_)) => vec![statement],
        _ => Vec::new(),
    };
    (document, statements)
}

/// The policy text of `document` with `statements`.
fn policy_text(mut document: Map<String, Value>, statements: Vec<Value>) -> String {
    document.insert("Statement".into(), Value::Array(statements));
    Value::Object(document).to_string()
}

fn has_label(statements: &[Value], label: &str) -> bool {
    statements.iter().any(|statement| statement.get("Sid").and_then(Value::as_str) == Some(label))
}

impl SqsService {
    /// The queue a permission call names, which only its own account may change: a queue
    /// policy never lets another account grant permissions (AWS: "cross-account permissions
    /// don't apply to this action").
    fn owned_queue(&self, context: &SqsContext, url: Option<&str>, action: &str) -> Result<Arc<Queue>, AwsError> {
        let queue = self.queue_for_url(context, url, action)?;
        if queue.account != context.account {
            let denial = kumo_core::policy::Denial::NoResourceAllow;
            return Err(error::access_denied(denial, &context.caller_arn, action, &queue.arn));
        }
        Ok(queue)
    }

    /// Stores a changed policy (`None`: the queue has none any more).
    async fn store_policy(&self, queue: &Queue, policy: Option<String>) -> Result<(), AwsError> {
        let row = {
            let mut state = queue.lock();
            state.attributes.policy = policy;
            state.modified_ms = kumo_core::time::now_millis();
            self.queue_row(queue, &state)?
        };
        self.commit(vec![WriteOp::PutQueue(row)]).await
    }

    /// AddPermission: a statement labelled `Label` allowing `Actions` to `AWSAccountIds`.
    pub async fn add_permission(&self, context: &SqsContext, request: AddPermissionRequest) -> Result<Empty, AwsError> {
        let queue = self.owned_queue(context, request.queue_url.as_deref(), "sqs:AddPermission")?;
        let label = required(&request.label, "Label")?;
        if request.aws_account_ids.is_empty() {
            return Err(error::missing_parameter("AWSAccountIds"));
        }
        if request.actions.is_empty() {
            return Err(error::missing_parameter("Actions"));
        }
        let policy = queue.lock().attributes.policy.clone();
        let (document, mut statements) = policy_parts(&queue, policy.as_deref());
        if has_label(&statements, label) {
            return Err(error::invalid_parameter_value(label, "Label", "Already exists."));
        }
        let principals = request.aws_account_ids.iter().map(|account| format!("arn:aws:iam::{account}:root")).collect();
        let actions = request.actions.iter().map(|action| format!("SQS:{action}")).collect();
        let statement = json!({
            "Sid": label,
            "Effect": "Allow",
            "Principal": {"AWS": one_or_many(principals)},
            "Action": one_or_many(actions),
            "Resource": queue.arn,
        });
        statements.push(statement);
        self.store_policy(&queue, Some(policy_text(document, statements))).await?;
        Ok(Empty {})
    }

    /// RemovePermission: drops the statement labelled `Label`; the policy goes with its last one.
    pub async fn remove_permission(
        &self,
        context: &SqsContext,
        request: RemovePermissionRequest,
    ) -> Result<Empty, AwsError> {
        let queue = self.owned_queue(context, request.queue_url.as_deref(), "sqs:RemovePermission")?;
        let label = required(&request.label, "Label")?;
        let policy = queue.lock().attributes.policy.clone();
        let (document, mut statements) = policy_parts(&queue, policy.as_deref());
        if !has_label(&statements, label) {
            return Err(error::invalid_parameter_value(label, "Label", "can't find label."));
        }
        statements.retain(|statement| statement.get("Sid").and_then(Value::as_str) != Some(label));
        let text = (!statements.is_empty()).then(|| policy_text(document, statements));
        self.store_policy(&queue, text).await?;
        Ok(Empty {})
    }
}
