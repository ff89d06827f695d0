//! The platform's log lines around an invocation (START, END, REPORT) and its metering record,
//! worded exactly as AWS Lambda writes them.

use std::time::Duration;

use crate::store::MeteringRecord;
use kumo_sandbox::LogLine;

use crate::FunctionVersion;

/// Measurements of one finished invocation.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurements {
    /// Request id.
    pub request_id: String,
    /// When the invocation started (epoch ms).
    pub started_ms: u64,
    /// Handler time.
    pub duration: Duration,
    /// Init time on a cold start.
    pub init_duration: Option<Duration>,
    /// Peak memory in MB.
    pub max_memory_used_mb: u64,
    /// `Status: timeout` / `Status: error` and error type, for abnormal ends.
    pub status: Option<(&'static str, String)>,
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// Billed milliseconds: handler time plus Init time (billed for zip functions since August
/// 2025), rounded up to the next millisecond.
pub fn billed_ms(measurements: &Measurements) -> u64 {
    let total = measurements.duration + measurements.init_duration.unwrap_or_default();
    let micros = total.as_micros() as u64;
    micros.div_ceil(1000).max(1)
}

/// The `REPORT` line.
pub fn report_line(function: &FunctionVersion, measurements: &Measurements) -> String {
    let mut line = format!(
        "REPORT RequestId: {}\tDuration: {:.2} ms\tBilled Duration: {} ms\tMemory Size: {} MB\tMax Memory Used: {} MB\t",
        measurements.request_id,
        millis(measurements.duration),
        billed_ms(measurements),
        function.memory_mb,
        measurements.max_memory_used_mb.min(u64::from(function.memory_mb)).max(1),
    );
    if let Some(init) = measurements.init_duration {
        line.push_str(&format!("Init Duration: {:.2} ms\t", millis(init)));
    }
    if let Some((status, error_type)) = &measurements.status {
        line.push_str(&format!("Status: {status}\tError Type: {error_type}\t"));
    }
    line
}

/// Every log line of an invocation in order: init output, START, output, END, REPORT.
pub fn invocation_log(
    function: &FunctionVersion,
    measurements: &Measurements,
    init_lines: Vec<LogLine>,
    output: Vec<LogLine>,
) -> Vec<LogLine> {
    let at = |text: String| LogLine { timestamp_ms: kumo_core::time::now_millis(), text };
    let mut lines = init_lines;
    lines.push(LogLine {
        timestamp_ms: measurements.started_ms,
        text: format!("START RequestId: {} Version: {}", measurements.request_id, function.version),
    });
    lines.extend(output);
    lines.push(at(format!("END RequestId: {}", measurements.request_id)));
    lines.push(at(report_line(function, measurements)));
    lines
}

/// The last 4 KB of the log text, as `X-Amz-Log-Result` carries it (before base64).
pub fn tail(lines: &[LogLine]) -> String {
    let mut text = String::new();
    for line in lines {
        text.push_str(&line.text);
        text.push('\n');
    }
    let limit = kumo_core::limits::TAIL_LOG_BYTES;
    if text.len() <= limit {
        return text;
    }
    let mut start = text.len() - limit;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    text[start..].to_string()
}

/// The metering record Lambda would bill for this invocation.
pub fn metering(function: &FunctionVersion, measurements: &Measurements) -> MeteringRecord {
    let billed = billed_ms(measurements);
    MeteringRecord {
        request_id: measurements.request_id.clone(),
        account: function.account.clone(),
        region: function.region.clone(),
        function_name: function.name.clone(),
        version: function.version.clone(),
        started_ms: measurements.started_ms,
        duration_ms: millis(measurements.duration),
        billed_ms: billed,
        memory_mb: function.memory_mb,
        max_memory_used_mb: measurements.max_memory_used_mb,
        init_duration_ms: measurements.init_duration.map(millis),
        gb_seconds: f64::from(function.memory_mb) / 1024.0 * billed as f64 / 1000.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn function() -> FunctionVersion {
        FunctionVersion {
            region: "us-east-1".into(),
            account: "000000000000".into(),
            name: "f".into(),
            version: "$LATEST".into(),
            revision: "r".into(),
            runtime: "python3.12".into(),
            handler: "h.h".into(),
            role: "arn:aws:iam::000000000000:role/r".into(),
            memory_mb: 256,
            timeout_s: 3,
            ephemeral_mb: 512,
            code_dir: "/code".into(),
            layers_dir: None,
            variables: Default::default(),
        }
    }

    fn measurements(duration_us: u64, init: Option<Duration>) -> Measurements {
        Measurements {
            request_id: "abc".into(),
            started_ms: 0,
            duration: Duration::from_micros(duration_us),
            init_duration: init,
            max_memory_used_mb: 40,
            status: None,
        }
    }

    #[test]
    fn bills_rounded_up_to_the_millisecond() {
        assert_eq!(billed_ms(&measurements(26_730, None)), 27);
        assert_eq!(billed_ms(&measurements(2_000, None)), 2);
        assert_eq!(billed_ms(&measurements(10, Some(Duration::from_micros(5_500)))), 6);
        let record = metering(&function(), &measurements(1_000_000, None));
        assert!((record.gb_seconds - 0.25).abs() < 1e-9);
    }

    #[test]
    fn report_line_matches_aws() {
        let warm = report_line(&function(), &measurements(26_730, None));
        assert_eq!(
            warm,
            "REPORT RequestId: abc\tDuration: 26.73 ms\tBilled Duration: 27 ms\tMemory Size: 256 MB\tMax Memory Used: 40 MB\t"
        );
        let cold = report_line(&function(), &measurements(1_000, Some(Duration::from_micros(166_620))));
        assert!(cold.ends_with("Init Duration: 166.62 ms\t"));
    }

    #[test]
    fn tail_keeps_the_last_4_kb() {
        let lines: Vec<LogLine> = (0..1000).map(|i| LogLine { timestamp_ms: 0, text: format!("line {i}") }).collect();
        let tail = tail(&lines);
        assert!(tail.len() <= 4096);
        assert!(tail.ends_with("line 999\n"));
    }
}
