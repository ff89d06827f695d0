//! Lambda function and layer names and ARNs: parsing the forms a `FunctionName` or `LayerName`
//! parameter accepts.

use crate::AwsError;

/// A function reference resolved from a name, partial ARN or full ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionRef {
    /// Bare function name.
    pub name: String,
    /// Version or alias, when the reference carried one.
    pub qualifier: Option<String>,
    /// Region named in a full ARN.
    pub region: Option<String>,
    /// Account named in an ARN.
    pub account: Option<String>,
}

/// The ARN of an event source mapping.
pub fn event_source_mapping_arn(region: &str, account: &str, uuid: &str) -> String {
    format!("arn:aws:lambda:{region}:{account}:event-source-mapping:{uuid}")
}

/// The ARN of a function (unqualified).
pub fn function_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:lambda:{region}:{account}:function:{name}")
}

/// The ARN of a function with a qualifier (`$LATEST`, a version or an alias).
pub fn qualified_function_arn(region: &str, account: &str, name: &str, qualifier: &str) -> String {
    format!("arn:aws:lambda:{region}:{account}:function:{name}:{qualifier}")
}

/// The ARN of a layer (all its versions).
pub fn layer_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:lambda:{region}:{account}:layer:{name}")
}

/// The ARN of one version of a layer.
pub fn layer_version_arn(region: &str, account: &str, name: &str, version: u64) -> String {
    format!("arn:aws:lambda:{region}:{account}:layer:{name}:{version}")
}

/// A layer ARN (`…:layer:name`) or layer version ARN (`…:layer:name:3`) taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerRef {
    /// Region of the layer.
    pub region: String,
    /// Owning account.
    pub account: String,
    /// Layer name.
    pub name: String,
    /// Version, for a layer version ARN.
    pub version: Option<u64>,
}

/// Whether `name` is a valid bare layer name (1–140 of `[a-zA-Z0-9-_]`).
pub fn is_valid_layer_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 140 && name.chars().all(is_name_char)
}

/// Parses a layer or layer version ARN; `None` when `value` is neither.
pub fn parse_layer_arn(value: &str) -> Option<LayerRef> {
    let parts: Vec<&str> = value.split(':').collect();
    let (partition, region, account, name, version) = match parts.as_slice() {
        ["arn", partition, "lambda", region, account, "layer", name] => (*partition, *region, *account, *name, None),
        ["arn", partition, "lambda", region, account, "layer", name, version] => {
            let valid = !version.is_empty() && version.len() <= 20 && version.bytes().all(|b| b.is_ascii_digit());
            (*partition, *region, *account, *name, Some(version.parse::<u64>().ok().filter(|_| valid)?))
        }
        _ => return None,
    };
    check_partition(partition)?;
    if !is_region(region) || !is_account(account) || !is_valid_layer_name(name) {
        return None;
    }
    Some(LayerRef { region: region.to_string(), account: account.to_string(), name: name.to_string(), version })
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

fn is_account(s: &str) -> bool {
    s.len() == 12 && s.chars().all(|c| c.is_ascii_digit())
}

fn is_region(s: &str) -> bool {
    // e.g. us-east-1, eu-west-3, us-gov-west-1
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts[0].chars().all(|c| c.is_ascii_lowercase())
        && parts.last().is_some_and(|p| p.len() == 1 && p.chars().all(|c| c.is_ascii_digit()))
}

/// The pattern of a `FunctionName` that may carry a version (`NamespacedFunctionName` in the
/// model: GetFunction, DeleteFunction, Invoke, …), as AWS quotes it.
pub const FUNCTION_NAME_PATTERN: &str = "(arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_\\.]+)(:(\\$LATEST(\\.PUBLISHED)?|[a-zA-Z0-9-_]+))?";

/// The same pattern with its parts named, to take a value apart as AWS's matcher does (leftmost
/// alternative first, as Java's regex engine): `name:1` is a name and a qualifier, and
/// `arn:aws:lambda:us-east-1:123456789012:function` names the function `function`.
static FUNCTION_REF: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(
        "^(?:arn:(?<partition>aws[a-zA-Z-]*)?:lambda:)?(?:(?<region>(?:eusc-)?[a-z]{2}(?:(?:-gov)|(?:-iso(?:[a-z]?)))?-[a-z]+-[0-9]{1}):)?(?:(?<account>[0-9]{12}):)?(?:function:)?(?<name>[a-zA-Z0-9-_\\.]+)(?::(?<qualifier>\\$LATEST(?:\\.PUBLISHED)?|[a-zA-Z0-9-_]+))?$",
    )
    .expect("a constant pattern compiles")
});

/// The error AWS gives when a `FunctionName` does not match its pattern.
pub fn invalid_function_name(value: &str) -> AwsError {
    AwsError::new(
        "ValidationException",
        400,
        format!(
            "1 validation error detected: Value '{value}' at 'functionName' failed to satisfy constraint: \
             Member must satisfy regular expression pattern: {FUNCTION_NAME_PATTERN}"
        ),
    )
}

/// Parses every form Lambda accepts, as its model's pattern reads them: `name`, `name:qualifier`,
/// `account:function:name[:q]`, `arn:aws:lambda:region:account:function:name[:q]` and the
/// shorter ARN forms the pattern allows. How long a name may be is each operation's model
/// constraint (checked before this); a name too long to exist is simply not found.
pub fn parse_function_ref(value: &str) -> Result<FunctionRef, AwsError> {
    if value.len() > 256 {
        return Err(invalid_function_name(value));
    }
    // A bare name (the common case, Invoke's hot path) matches only the name group: no regex.
    if !value.contains(':') {
        let valid = !value.is_empty() && value.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if !valid {
            return Err(invalid_function_name(value));
        }
        return Ok(FunctionRef { name: value.to_string(), qualifier: None, region: None, account: None });
    }
    let captures = FUNCTION_REF.captures(value).ok_or_else(|| invalid_function_name(value))?;
    let part = |name: &str| captures.name(name).map(|found| found.as_str().to_string());
    Ok(FunctionRef {
        name: part("name").unwrap_or_default(),
        qualifier: part("qualifier"),
        region: part("region"),
        account: part("account"),
    })
}

fn check_partition(partition: &str) -> Option<()> {
    partition.starts_with("aws").then_some(())
}

/// Whether `name` is a valid bare function name for CreateFunction (1–64 of `[a-zA-Z0-9-_]`).
pub fn is_valid_function_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 64 && name.chars().all(is_name_char)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_accepted_form() {
        let plain = parse_function_ref("my-fn").unwrap();
        assert_eq!((plain.name.as_str(), plain.qualifier), ("my-fn", None));
        let qualified = parse_function_ref("my-fn:$LATEST").unwrap();
        assert_eq!(qualified.qualifier.as_deref(), Some("$LATEST"));
        let partial = parse_function_ref("123456789012:function:f_1").unwrap();
        assert_eq!(partial.account.as_deref(), Some("123456789012"));
        let full = parse_function_ref("arn:aws:lambda:eu-west-1:000000000000:function:f:prod").unwrap();
        assert_eq!(full.region.as_deref(), Some("eu-west-1"));
        assert_eq!(full.qualifier.as_deref(), Some("prod"));
        let incomplete = parse_function_ref("arn:aws:lambda:us-east-1:000000000000:function").unwrap();
        assert_eq!((incomplete.name.as_str(), incomplete.account.as_deref()), ("function", Some("000000000000")));
        let long = parse_function_ref(&"a".repeat(65)).unwrap();
        assert_eq!(long.name.len(), 65, "too long to exist, not malformed");
        let published = parse_function_ref("f:$LATEST.PUBLISHED").unwrap();
        assert_eq!(published.qualifier.as_deref(), Some("$LATEST.PUBLISHED"));
    }

    #[test]
    fn rejects_malformed_names() {
        for bad in ["", "a b", "x/y", "arn:aws:s3:::bucket", "1:function:f", "f:", &"a".repeat(257)] {
            let error = parse_function_ref(bad).unwrap_err();
            assert_eq!(error.code, "ValidationException", "{bad}");
        }
    }

    #[test]
    fn parses_layer_arns() {
        let arn = layer_version_arn("us-east-1", "000000000000", "deps", 3);
        assert_eq!(arn, "arn:aws:lambda:us-east-1:000000000000:layer:deps:3");
        let parsed = parse_layer_arn(&arn).unwrap();
        assert_eq!((parsed.name.as_str(), parsed.version), ("deps", Some(3)));
        let unversioned = parse_layer_arn(&layer_arn("eu-west-1", "111122223333", "x_y-z")).unwrap();
        assert_eq!((unversioned.region.as_str(), unversioned.version), ("eu-west-1", None));
        for bad in [
            "deps",
            "arn:aws:lambda:us-east-1:000000000000:function:deps",
            "arn:aws:lambda:us-east-1:000000000000:layer:deps:latest",
            "arn:aws:lambda:us-east-1:0000:layer:deps:1",
            "arn:aws:lambda:us-east-1:000000000000:layer:de ps:1",
        ] {
            assert_eq!(parse_layer_arn(bad), None, "{bad}");
        }
    }
}
