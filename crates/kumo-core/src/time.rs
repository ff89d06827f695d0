//! Timestamps in the formats AWS puts on the wire.

use time::format_description::well_known::Rfc3339;
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use time::OffsetDateTime;

/// Milliseconds since the Unix epoch.
pub fn now_millis() -> u64 {
    let nanos = OffsetDateTime::now_utc().unix_timestamp_nanos();
    u64::try_from(nanos / 1_000_000).unwrap_or(0)
}

/// Lambda's `LastModified` format: `2026-11-26T18:26:57.123+0000`.
pub fn lambda_timestamp(millis: u64) -> String {
    format_millis(
        millis,
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]+0000"),
    )
}

/// The `YYYY/MM/DD` prefix of a log stream name.
pub fn log_stream_date(millis: u64) -> String {
    format_millis(millis, format_description!("[year]/[month]/[day]"))
}

/// ISO 8601 in whole seconds, as IAM and STS write dates (`2024-05-01T12:00:00Z`).
pub fn iso8601(millis: u64) -> String {
    format_millis(millis, format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z"))
}

/// Epoch seconds in UTC, in `format` (a `time` format description).
pub fn format_utc(seconds: i64, format: &[BorrowedFormatItem<'_>]) -> String {
    OffsetDateTime::from_unix_timestamp(seconds)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .format(format)
        .unwrap_or_default()
}

fn format_millis(millis: u64, format: &[BorrowedFormatItem<'_>]) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .format(format)
        .unwrap_or_default()
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
        assert_eq!(super::iso8601(1_764_181_617_123), "2025-11-26T18:26:57Z");
        assert_eq!(super::format_utc(1_764_181_617, crate::sigv4::AMZ_DATE), "20251126T182657Z");
    }
}
