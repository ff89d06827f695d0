//! restJson1 operations by method and path (Lambda; API Gateway and function URLs next): a
//! service's [`RestTable`] names each operation, its method, its path template with AWS's
//! labels (`/2015-03-31/functions/{FunctionName}/invocations`, the form axum routes take) and its
//! body limit. The gateway builds its routes from the table, so each route knows its operation
//! without matching the path again, and the registry makes the operation's metrics from it.

use http::Method;

/// One restJson1 operation.
#[derive(Debug)]
pub struct RestOperation {
    /// The operation's name (`Invoke`).
    pub name: &'static str,
    /// Its HTTP method.
    pub method: Method,
    /// Its path template, with `{Label}` segments.
    pub path: &'static str,
    /// Largest body it accepts.
    pub body_limit: usize,
}

/// A restJson1 service's operations.
#[derive(Debug)]
pub struct RestTable(pub &'static [RestOperation]);

impl RestTable {
    /// The row of `operation`.
    pub fn find(&self, operation: &str) -> Option<&'static RestOperation> {
        self.0.iter().find(|row| row.name == operation)
    }

    /// The names of every operation.
    pub fn names(&self) -> impl Iterator<Item = &'static str> {
        self.0.iter().map(|row| row.name)
    }
}
