//! One request id per request. The gateway's outermost middleware mints it, keeps it in the
//! request's extensions and in a task-local for the request's task, and stamps it on the answer
//! (`x-amzn-RequestId`); every renderer (success or error, any protocol) and the request context
//! take it from there, so a client sees one id per request, as AWS sends.

use std::future::Future;
use std::sync::Arc;

/// The header AWS carries the request id in.
pub const HEADER: &str = "x-amzn-requestid";

/// A request's id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(Arc<str>);

impl RequestId {
    /// A fresh random (v4 UUID) id.
    pub fn new() -> Self {
        Self(Arc::from(uuid::Uuid::new_v4().to_string()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for RequestId {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

tokio::task_local! {
    static CURRENT: RequestId;
}

/// Runs `future` (a request's handling) with `id` as its current request id.
pub async fn scope<F: Future>(id: RequestId, future: F) -> F::Output {
    CURRENT.scope(id, future).await
}

/// The id of the request being handled on this task, or a fresh one outside any request (a
/// renderer called from a test or a spawned task still answers with some id).
pub fn current() -> RequestId {
    CURRENT.try_with(RequestId::clone).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_scope_sets_the_current_id() {
        let id = RequestId::new();
        let seen = scope(id.clone(), async { current() }).await;
        assert_eq!(seen, id);
        assert_ne!(current(), id);
    }
}
