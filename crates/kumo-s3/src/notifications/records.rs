//! The messages S3 sends: the event record (`{"Records":[…]}`, eventVersion 2.1) of a change
//! to an object, and the `s3:TestEvent` a queue or topic gets when a configuration names it.

use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::json;

use super::{DestinationKind, Rules};
use crate::store::{BucketRow, OutboxEntry};

/// The last sequencer handed out (nanoseconds since the epoch, kept increasing).
static LAST_SEQUENCER: AtomicU64 = AtomicU64::new(0);

/// What happened to an object.
#[derive(Debug, Clone)]
pub struct ObjectEvent<'a> {
    /// `ObjectCreated:Put`, `ObjectRemoved:Delete`, … (the event type without `s3:`).
    pub name: &'a str,
    /// The object's key.
    pub key: &'a str,
    /// Its size and ETag (created objects only).
    pub created: Option<(u64, &'a str)>,
    /// When S3 finished the request, milliseconds since the epoch.
    pub time_ms: i64,
}

/// A sequencer: hex that grows with every event (a later change of a key always has a greater
/// one, as S3 promises), from the clock so that it keeps growing across restarts.
fn next_sequencer() -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let now = u64::try_from(now.as_nanos()).unwrap_or(u64::MAX);
    let mut last = LAST_SEQUENCER.load(Ordering::Relaxed);
    loop {
        let next = now.max(last + 1);
        match LAST_SEQUENCER.compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return format!("00{next:016X}"),
            Err(current) => last = current,
        }
    }
}

/// A key as S3's events carry it: each `/`-separated segment form-encoded (a space is `+`).
pub fn encode_key(key: &str) -> String {
    key.split('/')
        .map(|segment| form_urlencoded::byte_serialize(segment.as_bytes()).collect::<String>())
        .collect::<Vec<_>>()
        .join("/")
}

/// `2026-12-08T00:00:00.123Z`.
fn event_time(ms: i64) -> String {
    let ms = u64::try_from(ms).unwrap_or(0);
    let seconds = kumo_core::time::iso8601(ms);
    let without_zone = seconds.strip_suffix('Z').unwrap_or(&seconds);
    format!("{without_zone}.{:03}Z", ms % 1000)
}

/// `x-amz-id-2` of a request: S3's host id, opaque base64.
fn host_id(request_id: &str) -> String {
    use base64::Engine as _;
    use md5::Digest as _;
    base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(format!("kumo-host/{request_id}")))
}

/// The caller as `userIdentity.principalId` names it: `AWS:<account>` for an account's root,
/// `AWS:<role>:<session>` for a role session.
fn principal_id(context: &kumo_core::RequestContext) -> String {
    let session = context.caller_arn.split_once(":assumed-role/").map(|(_, session)| session.replacen('/', ":", 1));
    format!("AWS:{}", session.unwrap_or_else(|| context.account.clone()))
}

/// One outbox entry per rule that `event` matches, each carrying AWS's event record.
pub fn event_records(
    bucket: &BucketRow,
    context: &kumo_core::RequestContext,
    rules: &Rules,
    event: &super::ObjectEvent<'_>,
) -> Vec<OutboxEntry> {
    let full_name = format!("s3:{}", event.name);
    let matching: Vec<_> = rules.matching(&full_name, event.key).collect();
    if matching.is_empty() {
        return Vec::new();
    }
    let sequencer = next_sequencer();
    let mut object = json!({ "key": encode_key(event.key) });
    if let Some((size, etag)) = event.created {
        object["size"] = json!(size);
        object["eTag"] = json!(etag);
    }
    object["sequencer"] = json!(sequencer);
    matching
        .into_iter()
        .map(|rule| {
            let record = json!({
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": bucket.region,
                "eventTime": event_time(event.time_ms),
                "eventName": event.name,
                "userIdentity": { "principalId": principal_id(context) },
                // Kumo's gateway does not hand the peer's address to services.
                "requestParameters": { "sourceIPAddress": "127.0.0.1" },
                "responseElements": {
                    "x-amz-request-id": context.request_id,
                    "x-amz-id-2": host_id(&context.request_id),
                },
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": rule.id,
                    "bucket": {
                        "name": bucket.name,
                        "ownerIdentity": { "principalId": bucket.account },
                        "arn": format!("arn:aws:s3:::{}", bucket.name),
                    },
                    "object": object,
                },
            });
            OutboxEntry {
                seq: 0,
                destination: rule.arn.clone(),
                body: json!({ "Records": [record] }).to_string(),
                bucket: bucket.name.clone(),
                owner: bucket.account.clone(),
            }
        })
        .collect()
}

/// The `s3:TestEvent` each queue and topic of `rules` is sent when the configuration is put
/// (functions get none).
pub fn test_events(bucket: &BucketRow, rules: &Rules, context: &kumo_core::RequestContext) -> Vec<OutboxEntry> {
    let body = json!({
        "Service": "Amazon S3",
        "Event": "s3:TestEvent",
        "Time": event_time(crate::now_ms()),
        "Bucket": bucket.name,
        "RequestId": context.request_id,
        "HostId": host_id(&context.request_id),
    })
    .to_string();
    let mut sent: Vec<&str> = Vec::new();
    let mut entries = Vec::new();
    for rule in &rules.rules {
        if rule.kind == DestinationKind::Lambda || sent.contains(&rule.arn.as_str()) {
            continue;
        }
        sent.push(&rule.arn);
        entries.push(OutboxEntry {
            seq: 0,
            destination: rule.arn.clone(),
            body: body.clone(),
            bucket: bucket.name.clone(),
            owner: bucket.account.clone(),
        });
    }
    entries
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_form_encoded_but_keep_their_slashes() {
        assert_eq!(encode_key("in/my file (1).csv"), "in/my+file+%281%29.csv");
        assert_eq!(encode_key("a=b/ü"), "a%3Db/%C3%BC");
    }

    #[test]
    fn sequencers_grow() {
        let (first, second) = (next_sequencer(), next_sequencer());
        assert_eq!(first.len(), 18);
        assert!(second > first);
    }
}
