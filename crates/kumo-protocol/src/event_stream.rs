//! AWS's event stream encoding (`application/vnd.amazon.eventstream`), in which restJson1
//! operations with an event stream output (Lambda's `InvokeWithResponseStream`) answer: each
//! event is one binary message (prelude with its CRC32, headers, payload, message CRC32), framed
//! by `aws-smithy-eventstream` as the AWS SDK for Rust frames it, and decoded by botocore's
//! `EventStream` and every other SDK's parser.

use aws_smithy_eventstream::frame::write_message_to;
use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
use bytes::Bytes;

/// The `Content-Type` of an event stream answer.
pub const CONTENT_TYPE: &str = "application/vnd.amazon.eventstream";

/// Largest payload put in one event: bigger ones are split, far below the format's 16 MB so
/// that a client never holds much of a message before it can hand it on.
pub const MAX_EVENT_PAYLOAD: usize = 1024 * 1024;

/// Why an event could not be framed (a header or payload over the format's limits).
pub type EncodeError = aws_smithy_eventstream::error::Error;

/// One event message: `:event-type` names the output member it carries, `:content-type` its
/// payload's type, `:message-type` is `event`.
pub fn event(event_type: &'static str, content_type: &'static str, payload: Bytes) -> Result<Bytes, EncodeError> {
    let capacity = payload.len() + 128;
    let message = Message::new(payload)
        .add_header(Header::new(":event-type", HeaderValue::String(event_type.into())))
        .add_header(Header::new(":content-type", HeaderValue::String(content_type.into())))
        .add_header(Header::new(":message-type", HeaderValue::String("event".into())));
    let mut buffer = Vec::with_capacity(capacity);
    write_message_to(&message, &mut buffer)?;
    Ok(Bytes::from(buffer))
}

#[cfg(test)]
mod tests {
    use aws_smithy_eventstream::frame::read_message_from;

    use super::*;

    fn header<'a>(message: &'a Message, name: &str) -> Option<&'a str> {
        let header = message.headers().iter().find(|header| header.name().as_str() == name)?;
        header.value().as_string().ok().map(|value| value.as_str())
    }

    #[test]
    fn an_event_decodes_to_its_headers_and_payload() {
        let frame = event("PayloadChunk", "application/octet-stream", Bytes::from_static(b"hello")).unwrap();
        let message = read_message_from(frame.clone()).unwrap();
        assert_eq!(header(&message, ":event-type"), Some("PayloadChunk"));
        assert_eq!(header(&message, ":content-type"), Some("application/octet-stream"));
        assert_eq!(header(&message, ":message-type"), Some("event"));
        assert_eq!(message.payload().as_ref(), b"hello");
    }

    /// The layout AWS documents: total length, headers length, prelude CRC32 over those 8
    /// bytes, headers, payload, then a CRC32 over everything before it.
    #[test]
    fn the_prelude_and_message_crcs_are_aws_checksums() {
        let frame = event("InvokeComplete", "application/json", Bytes::from_static(b"{}")).unwrap();
        let word = |at: usize| u32::from_be_bytes(frame[at..at + 4].try_into().unwrap());
        assert_eq!(word(0) as usize, frame.len());
        assert_eq!(word(8), crc32fast::hash(&frame[..8]));
        let end = frame.len() - 4;
        assert_eq!(word(end), crc32fast::hash(&frame[..end]));
        let headers_len = word(4) as usize;
        assert_eq!(&frame[12 + headers_len..end], b"{}");
        // The first header as the format writes it: name length, name, type 7 (string),
        // value length (big-endian u16), value.
        assert_eq!(frame[12] as usize, ":event-type".len());
        assert_eq!(&frame[13..24], b":event-type");
        assert_eq!(frame[24], 7);
        assert_eq!(u16::from_be_bytes([frame[25], frame[26]]) as usize, "InvokeComplete".len());
        assert_eq!(&frame[27..41], b"InvokeComplete");
    }

    #[test]
    fn a_flipped_bit_fails_the_checksum() {
        let frame = event("PayloadChunk", "application/octet-stream", Bytes::from_static(b"data")).unwrap();
        for at in [1usize, 9, 20, frame.len() - 6, frame.len() - 1] {
            let mut corrupt = frame.to_vec();
            corrupt[at] ^= 0x01;
            assert!(read_message_from(Bytes::from(corrupt)).is_err(), "bit flipped at {at}");
        }
    }

    #[test]
    fn an_empty_payload_is_a_valid_event() {
        let frame = event("PayloadChunk", "application/octet-stream", Bytes::new()).unwrap();
        assert!(read_message_from(frame).unwrap().payload().is_empty());
    }
}
