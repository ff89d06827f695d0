//! Input validation with the error types and messages Lambda returns.

use std::collections::BTreeMap;

use kumo_core::limits;
use kumo_core::AwsError;

/// AWS's generic 400 for a value that breaks a shape constraint.
pub fn validation_error(message: impl Into<String>) -> AwsError {
    AwsError::new("ValidationException", 400, message)
}

/// CreateFunction's `FunctionName` pattern (`FunctionName` in the model: no `.` in a name, no
/// `$LATEST.PUBLISHED`), as AWS quotes it.
const CREATE_FUNCTION_NAME_PATTERN: &str = "(arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?";

/// CreateFunction's error for a name it cannot create (one with a qualifier or a `.`).
pub fn create_function_name_error(value: &str) -> AwsError {
    validation_error(format!(
        "1 validation error detected: Value '{value}' at 'functionName' failed to satisfy constraint: \
         Member must satisfy regular expression pattern: {CREATE_FUNCTION_NAME_PATTERN}"
    ))
}

/// Checks `MemorySize` (128–10,240 MB).
pub fn memory_size(value: i64) -> Result<u32, AwsError> {
    if value < i64::from(limits::MEMORY_MIN_MB) {
        return Err(validation_error(format!(
            "1 validation error detected: Value '{value}' at 'memorySize' failed to satisfy constraint: Member must have value greater than or equal to 128"
        )));
    }
    if value > i64::from(limits::MEMORY_MAX_MB) {
        return Err(validation_error(format!(
            "1 validation error detected: Value '{value}' at 'memorySize' failed to satisfy constraint: Member must have value less than or equal to 10240"
        )));
    }
    Ok(value as u32)
}

/// Checks `Timeout` (1–900 s).
pub fn timeout(value: i64) -> Result<u32, AwsError> {
    if value < i64::from(limits::TIMEOUT_MIN_S) {
        return Err(validation_error(format!(
            "1 validation error detected: Value '{value}' at 'timeout' failed to satisfy constraint: Member must have value greater than or equal to 1"
        )));
    }
    if value > i64::from(limits::TIMEOUT_MAX_S) {
        return Err(validation_error(format!(
            "1 validation error detected: Value '{value}' at 'timeout' failed to satisfy constraint: Member must have value less than or equal to 900"
        )));
    }
    Ok(value as u32)
}

/// Checks `EphemeralStorage.Size` (512–10,240 MB).
pub fn ephemeral_storage(size: u32) -> Result<u32, AwsError> {
    if (limits::EPHEMERAL_MIN_MB..=limits::EPHEMERAL_MAX_MB).contains(&size) {
        return Ok(size);
    }
    Err(validation_error(format!(
        "1 validation error detected: Value '{size}' at 'ephemeralStorage.size' failed to satisfy constraint: Member must have value between 512 and 10240"
    )))
}

/// Checks the handler string (`[^\s]+`, at most 128 characters).
pub fn handler(value: &str) -> Result<(), AwsError> {
    if !value.is_empty() && value.len() <= 128 && !value.chars().any(char::is_whitespace) {
        return Ok(());
    }
    Err(validation_error(format!(
        "1 validation error detected: Value '{value}' at 'handler' failed to satisfy constraint: Member must satisfy regular expression pattern: [^\\s]+"
    )))
}

/// Checks the execution role ARN.
pub fn role(value: &str) -> Result<(), AwsError> {
    let valid =
        value.strip_prefix("arn:").and_then(|rest| rest.split_once(":iam::")).is_some_and(|(partition, rest)| {
            partition.starts_with("aws")
                && rest.split_once(":role/").is_some_and(|(account, name)| {
                    account.len() == 12
                        && account.chars().all(|c| c.is_ascii_digit())
                        && !name.is_empty()
                        && name.chars().all(|c| c.is_ascii_alphanumeric() || "+=,.@-_/".contains(c))
                })
        });
    if valid {
        return Ok(());
    }
    Err(validation_error(format!(
        "1 validation error detected: Value '{value}' at 'role' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*)?:iam::\\d{{12}}:role/?[a-zA-Z_0-9+=,.@\\-_/]+"
    )))
}

/// Runtimes Lambda has retired for creates and updates.
const DEPRECATED_RUNTIMES: &[&str] = &[
    "python2.7",
    "python3.6",
    "python3.7",
    "nodejs",
    "nodejs4.3",
    "nodejs4.3-edge",
    "nodejs6.10",
    "nodejs8.10",
    "nodejs10.x",
    "nodejs12.x",
    "nodejs14.x",
    "dotnetcore1.0",
    "dotnetcore2.0",
    "dotnetcore2.1",
    "dotnetcore3.1",
    "ruby2.5",
    "ruby2.7",
    "go1.x",
    "java8",
];

/// Runtime ids in Lambda's enum that Kumo does not run.
const KNOWN_RUNTIMES: &[&str] = &[
    "java8.al2",
    "java11",
    "java17",
    "java21",
    "java25",
    "dotnet6",
    "dotnet8",
    "dotnet10",
    "ruby3.2",
    "ruby3.3",
    "ruby3.4",
    "ruby4.0",
    "java8.al2023",
    "java11.al2023",
    "java17.al2023",
];

/// Checks a runtime id: known to Lambda, not retired, and runnable by Kumo.
pub fn runtime(value: &str) -> Result<(), AwsError> {
    if kumo_sandbox::runtimes::parse_runtime(value).is_some() && !DEPRECATED_RUNTIMES.contains(&value) {
        return Ok(());
    }
    if DEPRECATED_RUNTIMES.contains(&value) {
        return Err(AwsError::invalid_parameter(format!(
            "The runtime parameter of {value} is no longer supported for creating or updating AWS Lambda functions. \
             We recommend you use a supported runtime while creating or updating functions."
        )));
    }
    if KNOWN_RUNTIMES.contains(&value) {
        // Accepted as AWS accepts it; without the runtime on this host Invoke fails Init with
        // `Runtime.InvalidEntrypoint` (tools deploy such functions without invoking them).
        return Ok(());
    }
    Err(AwsError::invalid_parameter(format!(
        "Value {value} at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: \
         [{AWS_RUNTIME_LIST}] or be a valid ARN"
    )))
}

/// The runtimes AWS lists, in its order, when it refuses an unknown one (as recorded from AWS).
const AWS_RUNTIME_LIST: &str = "nodejs20.x, python3.14, provided.al2023, python3.12, python3.13, nodejs24.x, \
     nodejs22.x, java25, python3.10, python3.11, java21, ruby3.3, ruby3.4, ruby3.2, python3.8, python3.9, java17, \
     nodejs16.x, dotnet10, dotnet8, java11, dotnet6, nodejs18.x, provided.al2, java8.al2";

/// Keys a function may not set: the runtime owns them.
const RESERVED_VARIABLES: &[&str] = &[
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
];

/// Checks environment variables: names, reserved keys and the 4 KB total.
pub fn environment(variables: &BTreeMap<String, String>) -> Result<(), AwsError> {
    for key in variables.keys() {
        let mut chars = key.chars();
        let valid = key.len() >= 2
            && chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(validation_error(
                "1 validation error detected: Value at 'environment.variables' failed to satisfy constraint: Map keys must satisfy constraint: [Member must satisfy regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+]"
            ));
        }
    }
    let reserved: Vec<&str> =
        variables.keys().map(String::as_str).filter(|key| RESERVED_VARIABLES.contains(key)).collect();
    if !reserved.is_empty() {
        return Err(AwsError::invalid_parameter(format!(
            "Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: {}",
            reserved.join(", ")
        )));
    }
    let measured = serde_json::to_string(variables).unwrap_or_default();
    if measured.len() > limits::ENVIRONMENT_MAX_BYTES {
        return Err(AwsError::invalid_parameter(format!(
            "Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit. String measured: {measured}"
        )));
    }
    Ok(())
}

/// Checks `Architectures` (exactly one of `x86_64`, `arm64`).
pub fn architectures(values: &[String]) -> Result<(), AwsError> {
    match values {
        [one] if one == "x86_64" || one == "arm64" => Ok(()),
        [_] => Err(validation_error(
            "1 validation error detected: Value at 'architectures' failed to satisfy constraint: Member must satisfy enum value set: [x86_64, arm64]",
        )),
        _ => Err(validation_error(
            "1 validation error detected: Value at 'architectures' failed to satisfy constraint: Member must have length less than or equal to 1",
        )),
    }
}

/// Checks `TracingConfig.Mode`.
pub fn tracing_mode(mode: &str) -> Result<(), AwsError> {
    if matches!(mode, "Active" | "PassThrough") {
        return Ok(());
    }
    Err(validation_error(format!(
        "1 validation error detected: Value '{mode}' at 'tracingConfig.mode' failed to satisfy constraint: Member must satisfy enum value set: [Active, PassThrough]"
    )))
}

/// Applies a `LoggingConfig` request to the stored configuration, checking enum values.
pub fn apply_logging(
    current: &mut crate::types::LoggingConfig,
    request: crate::types::LoggingConfigRequest,
) -> Result<(), AwsError> {
    const LEVELS: &[&str] = &["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];
    let levels_sent = request.application_log_level.is_some() || request.system_log_level.is_some();
    if let Some(format) = request.log_format {
        if !matches!(format.as_str(), "Text" | "JSON") {
            return Err(validation_error(format!(
                "1 validation error detected: Value '{format}' at 'loggingConfig.logFormat' failed to satisfy constraint: Member must satisfy enum value set: [JSON, Text]"
            )));
        }
        current.log_format = format;
    }
    for (value, target, field) in [
        (request.application_log_level, &mut current.application_log_level, "applicationLogLevel"),
        (request.system_log_level, &mut current.system_log_level, "systemLogLevel"),
    ] {
        if let Some(level) = value {
            if !LEVELS.contains(&level.as_str()) {
                return Err(validation_error(format!(
                    "1 validation error detected: Value '{level}' at 'loggingConfig.{field}' failed to satisfy constraint: Member must satisfy enum value set: [TRACE, DEBUG, INFO, WARN, ERROR, FATAL]"
                )));
            }
            *target = Some(level);
        }
    }
    if let Some(group) = request.log_group {
        current.log_group = group;
    }
    if current.log_format == "Text" {
        // Levels sent with the Text format are refused; switching to Text drops the levels JSON had.
        if levels_sent {
            return Err(AwsError::invalid_parameter(
                "LogLevel is not supported when LogFormat is set to \"Text\". Remove LogLevel from your request or change the LogFormat to \"Json\" and try again.",
            ));
        }
        current.application_log_level = None;
        current.system_log_level = None;
    }
    if current.log_format == "JSON" {
        current.application_log_level.get_or_insert_with(|| "INFO".to_string());
        current.system_log_level.get_or_insert_with(|| "INFO".to_string());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_match_lambda() {
        assert!(memory_size(127).is_err());
        assert_eq!(memory_size(10240).unwrap(), 10240);
        assert!(memory_size(10241).is_err());
        assert!(timeout(0).is_err());
        assert!(timeout(901).is_err());
        assert_eq!(timeout(900).unwrap(), 900);
    }

    #[test]
    fn roles_and_handlers() {
        assert!(role("arn:aws:iam::000000000000:role/lambda-role").is_ok());
        assert!(role("not-a-role").is_err());
        assert!(handler("dir/mod.fn").is_ok());
        assert!(handler("has space").is_err());
    }

    #[test]
    fn environment_rejects_reserved_and_oversized() {
        let reserved = BTreeMap::from([("AWS_REGION".to_string(), "x".to_string())]);
        assert_eq!(environment(&reserved).unwrap_err().code, "InvalidParameterValueException");
        let big = BTreeMap::from([("BIG".to_string(), "x".repeat(5000))]);
        let message = environment(&big).unwrap_err().message;
        assert!(
            message
                .ends_with(&format!("exceeded the 4KB limit. String measured: {{\"BIG\":\"{}\"}}", "x".repeat(5000))),
            "{message}"
        );
        let fine = BTreeMap::from([("GREETING".to_string(), "hello".to_string())]);
        assert!(environment(&fine).is_ok());
    }

    #[test]
    fn runtimes() {
        assert!(runtime("python3.12").is_ok());
        assert!(runtime("provided.al2023").is_ok());
        assert_eq!(runtime("python2.7").unwrap_err().code, "InvalidParameterValueException");
        let unknown = runtime("cobol").unwrap_err();
        assert_eq!(unknown.code, "InvalidParameterValueException");
        assert!(unknown.message.starts_with("Value cobol at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: [nodejs20.x, python3.14, "), "{}", unknown.message);
        assert!(unknown.message.ends_with(", provided.al2, java8.al2] or be a valid ARN"), "{}", unknown.message);
        for accepted in ["java21", "dotnet8", "ruby3.3"] {
            assert!(runtime(accepted).is_ok(), "{accepted}");
        }
    }

    fn logging(format: Option<&str>, level: Option<&str>) -> crate::types::LoggingConfigRequest {
        crate::types::LoggingConfigRequest {
            log_format: format.map(str::to_string),
            application_log_level: level.map(str::to_string),
            system_log_level: None,
            log_group: None,
        }
    }

    #[test]
    fn log_format_switches() {
        let mut current = crate::types::LoggingConfig {
            log_format: "Text".into(),
            application_log_level: None,
            system_log_level: None,
            log_group: "/aws/lambda/f".into(),
        };
        let refused = apply_logging(&mut current.clone(), logging(None, Some("DEBUG"))).unwrap_err();
        assert!(refused.message.starts_with("LogLevel is not supported when LogFormat is set to \"Text\"."));
        apply_logging(&mut current, logging(Some("JSON"), None)).unwrap();
        assert_eq!(current.application_log_level.as_deref(), Some("INFO"));
        assert_eq!(current.system_log_level.as_deref(), Some("INFO"));
        apply_logging(&mut current, logging(None, Some("DEBUG"))).unwrap();
        assert_eq!(current.application_log_level.as_deref(), Some("DEBUG"));
        apply_logging(&mut current, logging(Some("Text"), None)).unwrap();
        assert_eq!((current.application_log_level, current.system_log_level), (None, None));
    }
}
