//! A serde `Deserializer` over a [`QueryNode`] tree: an operation's input type derives
//! `Deserialize` (with its JSON member names) and is read from awsQuery parameters.
//!
//! AWS's list and map forms are recognised where the input type asks for a list or a map:
//! - lists: `Name.member.N` (wrapped) or `Name.N` (flattened); an empty list is sent as `Name=`;
//! - maps: `Name.entry.N.key`/`.value` (wrapped) or `Name.N.Name|Key`/`.Value` (flattened:
//!   `Attribute.1.Name`, `Tag.1.Key`, `MessageAttribute.1.Value.StringValue`).
//!
//! A flattened member's wire name is often the singular of its JSON name (`Attribute` for
//! `Attributes`, `SendMessageBatchRequestEntry` for `Entries`): the service's [`Rename`] maps
//! wire names to member names. Scalars are parsed from text as the type asks (`"3"` as a number,
//! `"true"` as a boolean). Recursion follows the tree, whose depth the parser already bounded.

use serde::de::value::StrDeserializer;
use serde::de::{DeserializeOwned, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor};

use super::QueryNode;
use crate::DecodeError;

/// Maps a wire parameter name to the input member it fills (`Attribute` → `Attributes`); `None`
/// keeps the name.
pub type Rename = fn(&str) -> Option<&'static str>;

/// The rename of services whose wire names are their member names (IAM, STS).
pub fn same_names(_: &str) -> Option<&'static str> {
    None
}

/// Reads `T` from the parameter tree `node`.
pub fn from_node<T: DeserializeOwned>(node: &QueryNode, rename: Rename) -> Result<T, DecodeError> {
    T::deserialize(NodeDeserializer { node, field: "", rename })
}

/// Names a map entry's key child may have, in the order they are tried.
const ENTRY_KEYS: [&str; 4] = ["Name", "Key", "key", "name"];
/// Names a map entry's value child may have.
const ENTRY_VALUES: [&str; 2] = ["Value", "value"];

/// Deserialises one node; `field` is its wire name, for error messages.
#[derive(Clone, Copy)]
struct NodeDeserializer<'a> {
    node: &'a QueryNode,
    field: &'a str,
    rename: Rename,
}

impl<'a> NodeDeserializer<'a> {
    fn text(&self, expected: &'static str) -> Result<&'a str, DecodeError> {
        self.node.value.as_deref().ok_or_else(|| DecodeError::InvalidValue {
            field: self.field.to_string(),
            value: String::new(),
            expected,
        })
    }

    fn parse<T: std::str::FromStr>(&self, expected: &'static str) -> Result<T, DecodeError> {
        let text = self.text(expected)?;
        text.trim().parse().map_err(|_| DecodeError::InvalidValue {
            field: self.field.to_string(),
            value: text.to_string(),
            expected,
        })
    }

    fn list_items(&self) -> Result<Vec<&'a QueryNode>, DecodeError> {
        if let Some(member) = self.node.children.get("member") {
            return Ok(member.indexed());
        }
        if self.node.has_indexed_children() {
            return Ok(self.node.indexed());
        }
        match self.node.value.as_deref() {
            // `Name=` is how awsQuery clients send an empty list.
            None | Some("") => Ok(Vec::new()),
            Some(other) => Err(DecodeError::InvalidValue {
                field: self.field.to_string(),
                value: other.to_string(),
                expected: "list",
            }),
        }
    }

    fn map_entries(&self) -> Vec<(&'a str, &'a QueryNode)> {
        let entries = match self.node.children.get("entry") {
            Some(entry) => entry.indexed(),
            None if self.node.has_indexed_children() => self.node.indexed(),
            // Keys as segments (`Name.k=v`): not an AWS form, read as it is written.
            None => return self.node.children.iter().map(|(key, node)| (key.as_str(), node)).collect(),
        };
        // Entries without a key or a value are left out, as SQS does.
        entries
            .into_iter()
            .filter_map(|entry| {
                let key = ENTRY_KEYS.iter().find_map(|name| entry.child_value(name))?;
                let value = ENTRY_VALUES.iter().find_map(|name| entry.children.get(*name))?;
                Some((key, value))
            })
            .collect()
    }
}

macro_rules! parse_number {
    ($($method:ident => $visit:ident),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
            visitor.$visit(self.parse("number")?)
        }
    )*};
}

impl<'de> serde::Deserializer<'de> for NodeDeserializer<'_> {
    type Error = DecodeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        if !self.node.children.is_empty() {
            return self.deserialize_struct("", &[], visitor);
        }
        match self.node.value.as_deref() {
            Some(text) => visitor.visit_str(text),
            None => visitor.visit_unit(),
        }
    }

    parse_number! {
        deserialize_i8 => visit_i8, deserialize_i16 => visit_i16, deserialize_i32 => visit_i32,
        deserialize_i64 => visit_i64, deserialize_u8 => visit_u8, deserialize_u16 => visit_u16,
        deserialize_u32 => visit_u32, deserialize_u64 => visit_u64, deserialize_f32 => visit_f32,
        deserialize_f64 => visit_f64,
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        let text = self.text("boolean")?;
        match text.trim() {
            yes if yes.eq_ignore_ascii_case("true") => visitor.visit_bool(true),
            no if no.eq_ignore_ascii_case("false") => visitor.visit_bool(false),
            _ => Err(DecodeError::InvalidValue {
                field: self.field.to_string(),
                value: text.to_string(),
                expected: "boolean",
            }),
        }
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        visitor.visit_str(self.text("string")?)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        visitor.visit_str(self.text("string")?)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        visitor.visit_str(self.text("string")?)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        visitor.visit_bytes(self.text("string")?.as_bytes())
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        // The node exists, so the member was sent.
        visitor.visit_some(self)
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        visitor.visit_unit()
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(self, _: &'static str, visitor: V) -> Result<V::Value, DecodeError> {
        visitor.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _: &'static str, visitor: V) -> Result<V::Value, DecodeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        let items = self.list_items()?;
        visitor.visit_seq(Items { items: items.into_iter(), field: self.field, rename: self.rename })
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _: usize, visitor: V) -> Result<V::Value, DecodeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: usize,
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        let entries = self.map_entries();
        visitor.visit_map(Entries { entries: entries.into_iter(), pending: None, rename: self.rename, renamed: false })
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        let members = self.node.children.iter().map(|(key, node)| (key.as_str(), node)).collect::<Vec<_>>();
        visitor.visit_map(Entries { entries: members.into_iter(), pending: None, rename: self.rename, renamed: true })
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        let text: StrDeserializer<'_, DecodeError> = self.text("string")?.into_deserializer();
        visitor.visit_enum(text)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        visitor.visit_str(self.text("string")?)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        visitor.visit_unit()
    }
}

/// The items of a list.
struct Items<'a, I> {
    items: I,
    field: &'a str,
    rename: Rename,
}

impl<'de, 'a, I: Iterator<Item = &'a QueryNode>> SeqAccess<'de> for Items<'a, I> {
    type Error = DecodeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, DecodeError> {
        match self.items.next() {
            Some(node) => seed.deserialize(NodeDeserializer { node, field: self.field, rename: self.rename }).map(Some),
            None => Ok(None),
        }
    }
}

/// The members of a structure (`renamed`: keys are wire names) or the entries of a map.
struct Entries<'a, I> {
    entries: I,
    pending: Option<(&'a str, &'a QueryNode)>,
    rename: Rename,
    renamed: bool,
}

impl<'de, 'a, I: Iterator<Item = (&'a str, &'a QueryNode)>> MapAccess<'de> for Entries<'a, I> {
    type Error = DecodeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, DecodeError> {
        let Some((key, node)) = self.entries.next() else {
            return Ok(None);
        };
        self.pending = Some((key, node));
        let name = if self.renamed { (self.rename)(key).unwrap_or(key) } else { key };
        let name: StrDeserializer<'_, DecodeError> = name.into_deserializer();
        seed.deserialize(name).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DecodeError> {
        let (field, node) = self.pending.take().ok_or_else(|| DecodeError::Shape("value without a key".into()))?;
        seed.deserialize(NodeDeserializer { node, field, rename: self.rename })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Deserialize;

    use super::*;
    use crate::query::{QueryLimits, QueryRequest};

    fn tree(text: &str) -> QueryNode {
        QueryRequest::parse(text.as_bytes(), b"", &QueryLimits::default()).unwrap().params
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "PascalCase")]
    struct Value {
        data_type: String,
        string_value: Option<String>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "PascalCase")]
    struct Input {
        name: String,
        count: Option<i64>,
        flag: Option<bool>,
        #[serde(default)]
        attributes: BTreeMap<String, String>,
        #[serde(default)]
        message_attributes: BTreeMap<String, Value>,
        #[serde(default)]
        keys: Vec<String>,
        #[serde(default)]
        tags: Vec<Tag>,
        #[serde(default)]
        entries_map: BTreeMap<String, String>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "PascalCase")]
    struct Tag {
        key: String,
        #[serde(default)]
        value: String,
    }

    fn rename(name: &str) -> Option<&'static str> {
        match name {
            "Attribute" => Some("Attributes"),
            "MessageAttribute" => Some("MessageAttributes"),
            "Item" => Some("Keys"),
            _ => None,
        }
    }

    #[test]
    fn reads_every_list_and_map_form() {
        let input: Input = from_node(
            &tree(
                "Name=n&Count=+42&Flag=TRUE&Attribute.2.Name=B&Attribute.2.Value=2&Attribute.1.Name=A&Attribute.1.Value=1\
                 &MessageAttribute.1.Name=color&MessageAttribute.1.Value.DataType=String&MessageAttribute.1.Value.StringValue=red\
                 &Item.2=y&Item.1=x&Tags.member.1.Key=k&Tags.member.1.Value=v&Tags.member.2.Key=k2\
                 &EntriesMap.entry.1.key=a&EntriesMap.entry.1.value=b",
            ),
            rename,
        )
        .unwrap();
        assert_eq!(input.name, "n");
        assert_eq!(input.count, Some(42));
        assert_eq!(input.flag, Some(true));
        assert_eq!(input.attributes, BTreeMap::from([("A".into(), "1".into()), ("B".into(), "2".into())]));
        assert_eq!(input.message_attributes["color"].string_value.as_deref(), Some("red"));
        assert_eq!(input.keys, ["x", "y"]);
        assert_eq!(
            input.tags,
            [Tag { key: "k".into(), value: "v".into() }, Tag { key: "k2".into(), value: "".into() }]
        );
        assert_eq!(input.entries_map, BTreeMap::from([("a".into(), "b".into())]));
        let empty: Input = from_node(&tree("Name=n&Tags="), rename).unwrap();
        assert!(empty.tags.is_empty());
    }

    #[test]
    fn type_errors_name_the_member() {
        let error = from_node::<Input>(&tree("Name=n&Count=many"), rename).unwrap_err();
        assert_eq!(
            error,
            DecodeError::InvalidValue { field: "Count".into(), value: "many".into(), expected: "number" }
        );
        let error = from_node::<Input>(&tree("Name=n&Flag=yes"), rename).unwrap_err();
        assert!(matches!(error, DecodeError::InvalidValue { expected: "boolean", .. }), "{error:?}");
        assert_eq!(from_node::<Input>(&tree("Count=1"), rename).unwrap_err(), DecodeError::MissingField("Name"));
        let error = from_node::<Input>(&tree("Name.x=1"), rename).unwrap_err();
        assert!(matches!(error, DecodeError::InvalidValue { expected: "string", .. }), "{error:?}");
    }
}
