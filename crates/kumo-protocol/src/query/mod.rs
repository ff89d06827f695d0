//! The awsQuery protocol (IAM, STS, SNS, CloudWatch, SQS's legacy form): `Action=<Op>` plus
//! flattened parameters, form-encoded in a POST body or a GET query string, answered in XML.
//!
//! Parameters name a path through the input: `Tags.member.2.Key`, `Attribute.1.Name`,
//! `MessageAttribute.1.Value.StringValue`, `Attributes.entry.3.value`. [`QueryRequest::parse`]
//! builds a tree of them under hard [`QueryLimits`] (number of parameters, key length, key depth,
//! list indices), iteratively, so no input can make it recurse deeply or allocate without bound;
//! [`de`] then reads the tree into an operation's typed input with serde, and [`xml`] renders
//! results and errors.

pub mod adapter;
pub mod de;
pub mod xml;

use std::collections::BTreeMap;

use crate::DecodeError;

/// The hard limits of the awsQuery decoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryLimits {
    /// Most `key=value` pairs in the query string and body together.
    pub max_parameters: usize,
    /// Most `.`-separated segments in one key (`A.member.1.B` has 4).
    pub max_depth: usize,
    /// Longest key in bytes.
    pub max_key_bytes: usize,
    /// Largest list or map index (`member.N`, `Attribute.N`).
    pub max_index: u32,
}

impl QueryLimits {
    /// Generous for every AWS operation: the deepest real key (an SQS batch entry's message
    /// attribute's string list item) has 7 segments; the largest real request (a 10-entry SQS
    /// batch with 10 attributes each) has well under 1,000 parameters.
    pub const DEFAULT: Self = Self { max_parameters: 4_096, max_depth: 16, max_key_bytes: 512, max_index: 10_000 };
}

impl Default for QueryLimits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// One node of the parameter tree: the value sent for its exact key, and its children by segment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryNode {
    /// The value of the key that ends here, if one was sent.
    pub value: Option<String>,
    /// Children by the next key segment.
    pub children: BTreeMap<String, QueryNode>,
}

impl QueryNode {
    /// Inserts `value` at `key`, enforcing `limits` before anything is allocated.
    pub fn insert(&mut self, key: &str, value: String, limits: &QueryLimits) -> Result<(), DecodeError> {
        // Depth first: a key 30,000 segments deep is refused as too deep, whatever its length.
        if key.bytes().filter(|byte| *byte == b'.').count() >= limits.max_depth {
            return Err(DecodeError::TooDeep { limit: limits.max_depth });
        }
        if key.len() > limits.max_key_bytes {
            return Err(DecodeError::KeyTooLong { limit: limits.max_key_bytes });
        }
        let mut node = self;
        for segment in key.split('.') {
            if !segment.is_empty() && segment.bytes().all(|byte| byte.is_ascii_digit()) {
                let in_range = segment.parse::<u32>().is_ok_and(|index| index <= limits.max_index);
                if !in_range {
                    return Err(DecodeError::IndexOutOfRange {
                        key: key.to_string(),
                        index: segment.to_string(),
                        limit: limits.max_index,
                    });
                }
            }
            node = node.children.entry(segment.to_string()).or_default();
        }
        node.value = Some(value);
        Ok(())
    }

    /// The children whose segment is an index (`1`, `2`, … `10`), in numeric order.
    pub fn indexed(&self) -> Vec<&QueryNode> {
        let mut items: Vec<(u32, &QueryNode)> = self
            .children
            .iter()
            .filter_map(|(segment, node)| segment.parse::<u32>().ok().map(|index| (index, node)))
            .collect();
        items.sort_by_key(|(index, _)| *index);
        items.into_iter().map(|(_, node)| node).collect()
    }

    /// Whether any child is an index.
    pub fn has_indexed_children(&self) -> bool {
        self.children.keys().any(|segment| segment.parse::<u32>().is_ok())
    }

    /// The value of child `name`, if it has one.
    pub fn child_value(&self, name: &str) -> Option<&str> {
        self.children.get(name).and_then(|node| node.value.as_deref())
    }
}

/// A decoded awsQuery request: its `Action`, `Version` and the tree of the other parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryRequest {
    /// `Action`, the operation.
    pub action: Option<String>,
    /// `Version`, the API version the client speaks.
    pub version: Option<String>,
    /// Every other parameter (SigV4's presigned `X-Amz-*` parameters left out).
    pub params: QueryNode,
}

impl QueryRequest {
    /// Decodes a request's query string and form body (both `application/x-www-form-urlencoded`;
    /// body parameters override query-string ones of the same name).
    pub fn parse(query_string: &[u8], body: &[u8], limits: &QueryLimits) -> Result<Self, DecodeError> {
        let mut request = QueryRequest::default();
        let mut count = 0usize;
        for (key, value) in form_urlencoded::parse(query_string).chain(form_urlencoded::parse(body)) {
            count += 1;
            if count > limits.max_parameters {
                return Err(DecodeError::TooManyParameters { limit: limits.max_parameters });
            }
            match key.as_ref() {
                "Action" => request.action = Some(value.into_owned()),
                "Version" => request.version = Some(value.into_owned()),
                signing if signing.starts_with("X-Amz-") => {}
                other => request.params.insert(other, value.into_owned(), limits)?,
            }
        }
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_a_tree_and_orders_indices_numerically() {
        let request = QueryRequest::parse(
            b"Action=SendMessageBatch&Version=2012-11-05&X-Amz-Date=x&E.10.Id=c&E.2.Id=b&E.1.Id=a",
            b"QueueUrl=http%3A%2F%2Fh%2Fq",
            &QueryLimits::default(),
        )
        .unwrap();
        assert_eq!(request.action.as_deref(), Some("SendMessageBatch"));
        assert_eq!(request.version.as_deref(), Some("2012-11-05"));
        assert_eq!(request.params.child_value("QueueUrl"), Some("http://h/q"));
        assert!(!request.params.children.contains_key("X-Amz-Date"));
        let ids: Vec<_> = request.params.children["E"].indexed().iter().map(|n| n.child_value("Id").unwrap()).collect();
        assert_eq!(ids, ["a", "b", "c"]);
    }

    #[test]
    fn a_key_thirty_thousand_levels_deep_is_refused_without_recursing() {
        let key = vec!["x"; 30_000].join(".");
        let body = format!("Action=ListQueues&{key}=1");
        let error = QueryRequest::parse(b"", body.as_bytes(), &QueryLimits::default()).unwrap_err();
        assert_eq!(error, DecodeError::TooDeep { limit: 16 });
    }

    #[test]
    fn limits_count_length_and_indices() {
        let limits = QueryLimits { max_parameters: 3, ..QueryLimits::default() };
        let error = QueryRequest::parse(b"a=1&b=2&c=3&d=4", b"", &limits).unwrap_err();
        assert_eq!(error, DecodeError::TooManyParameters { limit: 3 });
        let long = format!("{}=1", "k".repeat(600));
        let error = QueryRequest::parse(long.as_bytes(), b"", &QueryLimits::default()).unwrap_err();
        assert_eq!(error, DecodeError::KeyTooLong { limit: 512 });
        for key in ["A.member.10001", "A.99999999999999999999"] {
            let error = QueryRequest::parse(format!("{key}=1").as_bytes(), b"", &QueryLimits::default()).unwrap_err();
            assert!(matches!(error, DecodeError::IndexOutOfRange { .. }), "{key}: {error:?}");
        }
    }
}
