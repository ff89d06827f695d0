//! The MD5 digests SQS returns and SDKs verify: of the body, and of message attributes in
//! AWS's binary encoding (names sorted; each of name, data type and value prefixed with its
//! 4-byte big-endian length; a transport byte 1 for string/number values, 2 for binary).

use md5::{Digest, Md5};

use crate::types::{MessageAttributeValue, MessageAttributes};

/// Hex MD5 of a message body.
pub fn of_body(body: &str) -> String {
    hex::encode(Md5::digest(body.as_bytes()))
}

fn length_prefixed(hasher: &mut Md5, bytes: &[u8]) {
    // Attribute names, types and values are far below 4 GiB (messages are at most 1 MiB).
    let length = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    hasher.update(length.to_be_bytes());
    hasher.update(bytes);
}

/// Hex MD5 of message (or system) attributes; `None` when there are none.
pub fn of_attributes(attributes: &MessageAttributes) -> Option<String> {
    if attributes.is_empty() {
        return None;
    }
    let mut hasher = Md5::new();
    // BTreeMap iterates in byte order of the names, as AWS sorts them.
    for (name, value) in attributes {
        length_prefixed(&mut hasher, name.as_bytes());
        length_prefixed(&mut hasher, value.data_type.as_bytes());
        encode_value(&mut hasher, value);
    }
    Some(hex::encode(hasher.finalize()))
}

fn encode_value(hasher: &mut Md5, value: &MessageAttributeValue) {
    if let Some(binary) = &value.binary_value {
        hasher.update([2u8]);
        length_prefixed(hasher, binary);
    } else if let Some(text) = &value.string_value {
        hasher.update([1u8]);
        length_prefixed(hasher, text.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string(value: &str) -> MessageAttributeValue {
        MessageAttributeValue { data_type: "String".into(), string_value: Some(value.into()), binary_value: None }
    }

    #[test]
    fn body_digest() {
        assert_eq!(of_body("msg"), "6e2baaf3b97dbeef01c0043275f9a0e7");
        assert_eq!(of_body("test"), "098f6bcd4621d373cade4e832627b4f6");
    }

    #[test]
    fn attribute_digests_match_aws() {
        // Values recorded against AWS (LocalStack's snapshot tests of the real service).
        let mut attributes = MessageAttributes::new();
        attributes.insert("General".into(), string("Kenobi"));
        attributes.insert("Hello".into(), string("There"));
        attributes.insert("Help.Me".into(), string("Me"));
        assert_eq!(of_attributes(&attributes).as_deref(), Some("4c360f3fdafd970e05fae2f149d997f5"));
        attributes.remove("Help.Me");
        assert_eq!(of_attributes(&attributes).as_deref(), Some("fca026605781cb4126a1e9044df24232"));
        let mut foo = MessageAttributes::new();
        foo.insert("Foo".into(), string("Bar"));
        assert_eq!(of_attributes(&foo).as_deref(), Some("ae7155c6026991b6d54b11589678bf9c"));
        assert_eq!(of_attributes(&MessageAttributes::new()), None);
    }

    #[test]
    fn binary_attributes_use_transport_byte_two() {
        let mut attributes = MessageAttributes::new();
        attributes.insert(
            "attr1".into(),
            MessageAttributeValue {
                data_type: "Binary".into(),
                string_value: None,
                binary_value: Some(b"traceparent\x1e00-774062d6c37081a5a0b9b5b88e30627c-2d2482211f6489da-01".to_vec()),
            },
        );
        assert_eq!(of_attributes(&attributes).as_deref(), Some("8cbe4db156db8a94db8b801b7addb984"));
    }
}
