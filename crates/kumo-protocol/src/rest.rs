//! restJson1 operations by method and path (Lambda; API Gateway and function URLs next): a
//! service's [`RestTable`] names each operation, its method, its path template with AWS's
//! labels (`/2015-03-31/functions/{FunctionName}/invocations`, the form axum routes take) and its
//! body limit. The gateway builds its routes from the table, and the registry matches a
//! request's method and path against it while routing ([`RestTable::route`]), so that the
//! operation's body limit is checked before a byte of the body is read.

use std::sync::OnceLock;

use http::Method;
use kumo_core::AwsError;

/// One restJson1 operation.
#[derive(Debug)]
pub struct RestOperation {
    /// The operation's name (`Invoke`).
    pub name: &'static str,
    /// Its HTTP method.
    pub method: Method,
    /// Its path template, with `{Label}` segments (`{Label+}`: greedy, the rest of the path).
    pub path: &'static str,
    /// Largest body it accepts.
    pub body_limit: usize,
}

/// A restJson1 service's operations.
#[derive(Debug)]
pub struct RestTable {
    /// Every operation.
    pub operations: &'static [RestOperation],
    /// Templates also served with one trailing `/` (collections older botocore versions call so).
    pub trailing_slash: &'static [&'static str],
    /// The service's error for a body larger than the operation's limit.
    pub too_large: fn(&RestOperation) -> AwsError,
    /// The rows by method and path, built on first use (`RestIndex::new()` in the table's literal).
    pub index: RestIndex,
}

/// A [`RestTable`]'s rows in one radix-tree router per method: routing walks the path once
/// instead of trying every row's template.
#[derive(Debug)]
pub struct RestIndex(OnceLock<Vec<(Method, matchit::Router<usize>)>>);

impl RestIndex {
    /// An index not built yet.
    pub const fn new() -> Self {
        Self(OnceLock::new())
    }
}

impl Default for RestIndex {
    fn default() -> Self {
        Self::new()
    }
}

/// A request matched to its operation, with its path labels as sent (still percent-encoded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestMatch<'a> {
    /// The operation's row.
    pub operation: &'static RestOperation,
    /// `(label, raw value)` for each `{Label}` of the template, in order.
    pub labels: Vec<(&'static str, &'a str)>,
}

impl PartialEq for RestOperation {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.method == other.method && self.path == other.path
    }
}

impl Eq for RestOperation {}

impl RestTable {
    /// The row of `operation`.
    pub fn find(&self, operation: &str) -> Option<&'static RestOperation> {
        self.operations.iter().find(|row| row.name == operation)
    }

    /// The names of every operation.
    pub fn names(&self) -> impl Iterator<Item = &'static str> {
        self.operations.iter().map(|row| row.name)
    }

    /// The labels of `path` under `operation`'s template (or its trailing-slash variant, where
    /// the table serves one), or `None` if it does not match: what a request routed to that
    /// operation carries, without matching the other rows again.
    pub fn labels<'a>(&self, operation: &RestOperation, path: &'a str) -> Option<Vec<(&'static str, &'a str)>> {
        let trimmed = match path.strip_suffix('/') {
            Some(trimmed) if self.trailing_slash.contains(&operation.path) => trimmed,
            _ => path,
        };
        match_template(operation.path, trimmed)
    }

    /// The operation a request's method and path name, as a router would pick it: of the
    /// templates that match, the one with a literal where the others have a label
    /// (`…/event-invoke-config/list` over a label in that place). `HEAD` matches `GET` operations.
    pub fn route<'a>(&self, method: &Method, path: &'a str) -> Option<RestMatch<'a>> {
        let method = if method == Method::HEAD { &Method::GET } else { method };
        let routers = self.index.0.get_or_init(|| self.build_index());
        let (_, router) = routers.iter().find(|(row_method, _)| row_method == method)?;
        let matched = router.at(path).ok()?;
        let operation = &self.operations[*matched.value];
        // Labels are named by position in the router (templates name them differently).
        let mut labels: Vec<(&'static str, &'a str)> = label_names(operation.path).map(|name| (name, "")).collect();
        for (position, value) in matched.params.iter() {
            let slot = position.strip_prefix('p').and_then(|index| index.parse::<usize>().ok());
            if let Some(label) = slot.and_then(|index| labels.get_mut(index)) {
                label.1 = value;
            }
        }
        // The router takes `//` as an empty label; a label is never empty.
        if labels.iter().any(|(_, value)| value.is_empty()) {
            return None;
        }
        Some(RestMatch { operation, labels })
    }

    /// One router per method, each row under its template (and its trailing-slash form where the
    /// table serves one). A row whose template a router refuses (a duplicate) is left out.
    fn build_index(&self) -> Vec<(Method, matchit::Router<usize>)> {
        let mut routers: Vec<(Method, matchit::Router<usize>)> = Vec::new();
        for (row, operation) in self.operations.iter().enumerate() {
            let position = match routers.iter().position(|(method, _)| *method == operation.method) {
                Some(position) => position,
                None => {
                    routers.push((operation.method.clone(), matchit::Router::new()));
                    routers.len() - 1
                }
            };
            let template = router_template(operation.path);
            let mut forms = vec![template.clone()];
            if self.trailing_slash.contains(&operation.path) {
                forms.push(format!("{template}/"));
            }
            for form in forms {
                if let Err(error) = routers[position].1.insert(form, row) {
                    tracing::error!(operation = operation.name, %error, "a rest template the router refuses");
                }
            }
        }
        routers
    }
}

/// The `{Label}` names of a template, in order (`{Key+}` gives `Key`).
fn label_names(template: &'static str) -> impl Iterator<Item = &'static str> {
    template.split('/').filter_map(|segment| {
        let label = segment.strip_prefix('{')?.strip_suffix('}')?;
        Some(label.strip_suffix('+').unwrap_or(label))
    })
}

/// A template in the router's syntax, labels named by position: `{p0}`, and `{*p1}` for a
/// greedy `{Key+}`.
fn router_template(template: &'static str) -> String {
    let mut position = 0;
    let segments = template.split('/').map(|segment| {
        let Some(label) = segment.strip_prefix('{').and_then(|label| label.strip_suffix('}')) else {
            return segment.to_string();
        };
        let name = format!("p{position}");
        position += 1;
        if label.ends_with('+') {
            format!("{{*{name}}}")
        } else {
            format!("{{{name}}}")
        }
    });
    segments.collect::<Vec<_>>().join("/")
}

/// The labels of `path` under `template`, or `None` if it does not match. A `{Label}` takes one
/// non-empty segment; a `{Label+}` (last in a template) takes the rest of the path, slashes and all.
pub fn match_template<'a>(template: &'static str, path: &'a str) -> Option<Vec<(&'static str, &'a str)>> {
    let mut labels = Vec::new();
    let mut rest = path.strip_prefix('/')?;
    let mut segments = template.strip_prefix('/')?.split('/').peekable();
    while let Some(segment) = segments.next() {
        let last = segments.peek().is_none();
        if let Some(label) = segment.strip_prefix('{').and_then(|label| label.strip_suffix('}')) {
            if let Some(greedy) = label.strip_suffix('+') {
                if rest.is_empty() {
                    return None;
                }
                labels.push((greedy, rest));
                rest = "";
                if !last {
                    return None;
                }
                continue;
            }
            let (value, after) = rest.split_once('/').map_or((rest, None), |(value, after)| (value, Some(after)));
            if value.is_empty() || last != after.is_none() {
                return None;
            }
            labels.push((label, value));
            rest = after.unwrap_or("");
        } else {
            let (value, after) = rest.split_once('/').map_or((rest, None), |(value, after)| (value, Some(after)));
            if value != segment || last != after.is_none() {
                return None;
            }
            rest = after.unwrap_or("");
        }
    }
    Some(labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn too_large(operation: &RestOperation) -> AwsError {
        AwsError::new("RequestEntityTooLargeException", 413, operation.name)
    }

    static TABLE: RestTable = RestTable {
        operations: &[
            RestOperation { name: "List", method: Method::GET, path: "/v1/things", body_limit: 10 },
            RestOperation { name: "Get", method: Method::GET, path: "/v1/things/{Name}", body_limit: 10 },
            RestOperation { name: "Put", method: Method::PUT, path: "/v1/things/{Name}/parts/{Part}", body_limit: 20 },
            RestOperation { name: "GetLabel", method: Method::GET, path: "/v1/things/{Name}/label", body_limit: 10 },
            RestOperation { name: "ListAll", method: Method::GET, path: "/v1/things/{Name}/{Which}", body_limit: 10 },
            RestOperation { name: "GetObject", method: Method::GET, path: "/v1/objects/{Key+}", body_limit: 10 },
        ],
        trailing_slash: &["/v1/things"],
        too_large,
        index: RestIndex::new(),
    };

    fn route(method: Method, path: &str) -> Option<(&'static str, Vec<(&'static str, &str)>)> {
        TABLE.route(&method, path).map(|matched| (matched.operation.name, matched.labels))
    }

    #[test]
    fn matches_method_literals_and_labels() {
        assert_eq!(route(Method::GET, "/v1/things"), Some(("List", vec![])));
        assert_eq!(route(Method::HEAD, "/v1/things"), Some(("List", vec![])));
        assert_eq!(route(Method::GET, "/v1/things/a%2Fb"), Some(("Get", vec![("Name", "a%2Fb")])));
        assert_eq!(route(Method::PUT, "/v1/things/x/parts/7"), Some(("Put", vec![("Name", "x"), ("Part", "7")])));
        assert_eq!(route(Method::POST, "/v1/things/x"), None);
        assert_eq!(route(Method::GET, "/v1/things/x/parts/7/more"), None);
        assert_eq!(route(Method::GET, "/v1/other"), None);
        assert_eq!(route(Method::GET, "v1/things"), None);
    }

    #[test]
    fn a_trailing_slash_only_where_the_table_allows_it() {
        assert_eq!(route(Method::GET, "/v1/things/"), Some(("List", vec![])));
        assert_eq!(route(Method::GET, "/v1/things/x/"), None);
        assert_eq!(route(Method::GET, "/v1/things//label"), None, "a label is never empty");
    }

    #[test]
    fn a_literal_segment_wins_over_a_label() {
        assert_eq!(route(Method::GET, "/v1/things/x/label"), Some(("GetLabel", vec![("Name", "x")])));
        assert_eq!(
            route(Method::GET, "/v1/things/x/other"),
            Some(("ListAll", vec![("Name", "x"), ("Which", "other")]))
        );
    }

    #[test]
    fn a_greedy_label_takes_the_rest_of_the_path() {
        assert_eq!(route(Method::GET, "/v1/objects/a/b/c.txt"), Some(("GetObject", vec![("Key", "a/b/c.txt")])));
        assert_eq!(route(Method::GET, "/v1/objects/"), None);
        assert_eq!(route(Method::GET, "/v1/objects"), None);
    }
}
