//! What can go wrong while decoding a request body, before any service logic runs. Every
//! decoder returns [`DecodeError`]; a service turns it into its own AWS error (its codes and
//! wording) through [`crate::ServiceDescriptor::decode_error`].

use std::fmt::Display;

/// Why a request body could not be decoded into an operation's input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The body (or query string) is larger than the operation accepts.
    #[error("request must be smaller than {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// More parameters than the protocol accepts.
    #[error("request has more than {limit} parameters")]
    TooManyParameters {
        /// The limit.
        limit: usize,
    },
    /// A key or document nested deeper than the protocol accepts.
    #[error("request nests deeper than {limit} levels")]
    TooDeep {
        /// The limit.
        limit: usize,
    },
    /// A parameter name longer than the protocol accepts.
    #[error("parameter name is longer than {limit} bytes")]
    KeyTooLong {
        /// The limit.
        limit: usize,
    },
    /// A list or map index (`member.N`) out of range.
    #[error("index {index} of {key} is out of range (1 to {limit})")]
    IndexOutOfRange {
        /// The parameter name.
        key: String,
        /// The index sent (as text: it may not fit a number).
        index: String,
        /// The largest index accepted.
        limit: u32,
    },
    /// The body is not well-formed for its protocol (bad JSON, bad CBOR).
    #[error("{0}")]
    Syntax(String),
    /// A required member is absent.
    #[error("missing required member {0}")]
    MissingField(&'static str),
    /// A member's value has the wrong type (`expected` is `number`, `boolean`, …).
    #[error("value '{value}' at '{field}' must be a {expected}")]
    InvalidValue {
        /// The member (wire name).
        field: String,
        /// The value sent.
        value: String,
        /// What the member holds.
        expected: &'static str,
    },
    /// Any other shape mismatch reported by serde.
    #[error("{0}")]
    Shape(String),
}

impl DecodeError {
    /// Whether the error is one of the protocol's hard limits (size, count, depth, index).
    pub fn is_limit(&self) -> bool {
        matches!(
            self,
            DecodeError::TooLarge { .. }
                | DecodeError::TooManyParameters { .. }
                | DecodeError::TooDeep { .. }
                | DecodeError::KeyTooLong { .. }
                | DecodeError::IndexOutOfRange { .. }
        )
    }
}

impl serde::de::Error for DecodeError {
    fn custom<T: Display>(message: T) -> Self {
        DecodeError::Shape(message.to_string())
    }

    fn missing_field(field: &'static str) -> Self {
        DecodeError::MissingField(field)
    }
}
