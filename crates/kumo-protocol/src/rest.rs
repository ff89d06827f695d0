//! restJson1 operations by method and path (Lambda; API Gateway and function URLs next): a
//! service's [`RestTable`] names each operation, its method, its path template with AWS's
//! labels (`/2015-03-31/functions/{FunctionName}/invocations`, the form axum routes take) and its
//! body limit. The gateway builds its routes from the table, and the registry matches a
//! request's method and path against it while routing ([`RestTable::route`]), so that the
//! operation's body limit is checked before a byte of the body is read.

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
    /// templates that match, the one with the most literal segments (`…/event-invoke-config/list`
    /// over a label in that place). `HEAD` matches `GET` operations.
    pub fn route<'a>(&self, method: &Method, path: &'a str) -> Option<RestMatch<'a>> {
        let method = if method == Method::HEAD { &Method::GET } else { method };
        let mut best: Option<(usize, RestMatch<'a>)> = None;
        for operation in self.operations.iter().filter(|row| row.method == *method) {
            // Most rows fail on their literal start: one comparison before any label is read.
            if !path.starts_with(literal_prefix(operation.path)) {
                continue;
            }
            let Some(labels) = self.labels(operation, path) else {
                continue;
            };
            let literals = operation.path.split('/').filter(|segment| !segment.starts_with('{')).count();
            if best.as_ref().is_none_or(|(most, _)| literals > *most) {
                best = Some((literals, RestMatch { operation, labels }));
            }
        }
        best.map(|(_, matched)| matched)
    }
}

/// A template's text before its first label (all of it when it has none): every path it
/// matches starts so.
fn literal_prefix(template: &'static str) -> &'static str {
    template.find('{').map_or(template, |label| &template[..label])
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
