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

fn is_qualifier(s: &str) -> bool {
    s == "$LATEST" || (!s.is_empty() && s.len() <= 128 && s.chars().all(is_name_char))
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

/// The error AWS gives when a `FunctionName` does not match its pattern.
pub fn invalid_function_name(value: &str) -> AwsError {
    AwsError::new("ValidationException", 400, format!(
        "1 validation error detected: Value '{value}' at 'functionName' failed to satisfy constraint: \
         Member must satisfy regular expression pattern: \
         (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{{2}}(-gov)?-[a-z]+-\\d{{1}}:)?(\\d{{12}}:)?(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?"
    ))
}

/// Parses every form Lambda accepts: `name`, `name:qualifier`, `account:function:name[:q]`
/// and `arn:aws:lambda:region:account:function:name[:q]`.
pub fn parse_function_ref(value: &str) -> Result<FunctionRef, AwsError> {
    let invalid = || invalid_function_name(value);
    if value.is_empty() || value.len() > 256 {
        return Err(invalid());
    }
    let parts: Vec<&str> = value.split(':').collect();
    let (region, account, name, qualifier) = match parts.as_slice() {
        [name] => (None, None, *name, None),
        [name, qualifier] => (None, None, *name, Some(*qualifier)),
        [account, "function", name] => (None, Some(*account), *name, None),
        [account, "function", name, qualifier] => (None, Some(*account), *name, Some(*qualifier)),
        ["arn", partition, "lambda", region, account, "function", name] => {
            check_partition(partition).ok_or_else(invalid)?;
            (Some(*region), Some(*account), *name, None)
        }
        ["arn", partition, "lambda", region, account, "function", name, qualifier] => {
            check_partition(partition).ok_or_else(invalid)?;
            (Some(*region), Some(*account), *name, Some(*qualifier))
        }
        _ => return Err(invalid()),
    };
    if name.is_empty() || name.len() > 64 || !name.chars().all(is_name_char) {
        return Err(invalid());
    }
    if region.is_some_and(|r| !is_region(r)) || account.is_some_and(|a| !is_account(a)) {
        return Err(invalid());
    }
    if qualifier.is_some_and(|q| !is_qualifier(q)) {
        return Err(invalid());
    }
    Ok(FunctionRef {
        name: name.to_string(),
        qualifier: qualifier.map(str::to_string),
        region: region.map(str::to_string),
        account: account.map(str::to_string),
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
    }

    #[test]
    fn rejects_malformed_names() {
        for bad in ["", "a b", "x/y", "arn:aws:s3:::bucket", "1:function:f", "f:", &"a".repeat(65)] {
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
