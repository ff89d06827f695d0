//! Receipt handles: opaque to clients, new for every receive. A handle names the queue, the
//! message's position and the receive's random token; only the latest receive's token is current.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

/// What a receipt handle refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Receipt {
    /// Queue id.
    pub queue_id: i64,
    /// Message position.
    pub seq: u64,
    /// Token of the receive.
    pub token: u64,
}

const PREFIX: &str = "kumo1";

/// Encodes a handle.
pub fn encode(receipt: Receipt, message_id: &str) -> String {
    let text = format!("{PREFIX}:{}:{}:{:016x}:{message_id}", receipt.queue_id, receipt.seq, receipt.token);
    URL_SAFE_NO_PAD.encode(text)
}

/// Decodes a handle; `None` when it is not one Kumo issued.
pub fn decode(handle: &str) -> Option<Receipt> {
    let bytes = URL_SAFE_NO_PAD.decode(handle.trim()).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let mut parts = text.splitn(5, ':');
    if parts.next()? != PREFIX {
        return None;
    }
    let queue_id = parts.next()?.parse().ok()?;
    let seq = parts.next()?.parse().ok()?;
    let token = u64::from_str_radix(parts.next()?, 16).ok()?;
    parts.next()?;
    Some(Receipt { queue_id, seq, token })
}

/// A fresh non-zero token (zero means "never received").
pub fn new_token() -> u64 {
    loop {
        let token: u64 = rand::random();
        if token != 0 {
            return token;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rejects_garbage() {
        let receipt = Receipt { queue_id: 3, seq: 42, token: 0xdead_beef };
        let handle = encode(receipt, "id-1");
        assert_eq!(decode(&handle), Some(receipt));
        assert_eq!(decode("not a handle"), None);
        assert_eq!(decode(&URL_SAFE_NO_PAD.encode("other:1:2:3:x")), None);
        assert_ne!(new_token(), 0);
    }
}
