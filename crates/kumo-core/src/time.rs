//! Timestamps in the formats AWS puts on the wire.

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Milliseconds since the Unix epoch.
pub fn now_millis() -> u64 {
    let nanos = OffsetDateTime::now_utc().unix_timestamp_nanos();
    u64::try_from(nanos / 1_000_000).unwrap_or(0)
}

/// Lambda's `LastModified` format: `2026-11-26T18:26:57.123+0000`.
pub fn lambda_timestamp(millis: u64) -> String {
    let moment =
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}+0000",
        moment.year(),
        u8::from(moment.month()),
        moment.day(),
        moment.hour(),
        moment.minute(),
        moment.second(),
        moment.millisecond()
    )
}

/// The `YYYY/MM/DD` prefix of a log stream name.
pub fn log_stream_date(millis: u64) -> String {
    let moment =
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    format!("{:04}/{:02}/{:02}", moment.year(), u8::from(moment.month()), moment.day())
}

/// RFC 3339 timestamp, used in Kumo's own JSON.
pub fn rfc3339(millis: u64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .format(&Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_like_lambda() {
        assert_eq!(super::lambda_timestamp(1_764_181_617_123), "2025-11-26T18:26:57.123+0000");
        assert_eq!(super::log_stream_date(1_764_181_617_123), "2025/11/26");
    }
}
