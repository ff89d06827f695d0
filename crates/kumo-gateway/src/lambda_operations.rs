//! Lambda's operation table (restJson1: method, path template, body limit per operation), by
//! which the registry routes Lambda's requests to `LambdaApi` and makes their per-operation
//! metrics (`kumo_api_requests_total{service="lambda",operation=…}`), and Lambda's wording of
//! body-limit and decode errors.

use http::Method;
use kumo_core::AwsError;
use kumo_protocol::{DecodeError, RestIndex, RestOperation, RestTable};

/// Largest control-plane body: a 50 MB zip, base64-encoded, plus JSON around it.
pub(crate) const CONTROL_BODY_LIMIT: usize = 72 * 1024 * 1024;
/// Largest invoke body read before answering 413 (the service checks the exact limits).
pub(crate) const INVOKE_BODY_LIMIT: usize = kumo_core::limits::SYNC_PAYLOAD_MAX_BYTES + 1;

/// Collection paths that botocore's older versions also send with a trailing `/`.
const WITH_TRAILING_SLASH: [&str; 4] = [
    "/2015-03-31/functions",
    "/2016-08-19/account-settings",
    "/2018-10-31/layers",
    "/2015-03-31/event-source-mappings",
];

macro_rules! rows {
    ($($name:literal $method:ident $path:literal $($limit:expr)?;)*) => {
        &[$(RestOperation { name: $name, method: Method::$method, path: $path, body_limit: rows!(@limit $($limit)?) },)*]
    };
    (@limit) => { CONTROL_BODY_LIMIT };
    (@limit $limit:expr) => { $limit };
}

/// Every Lambda operation Kumo serves, with the path templates of the botocore model.
pub static LAMBDA_OPERATIONS: RestTable = RestTable {
    operations: LAMBDA_ROWS,
    trailing_slash: &WITH_TRAILING_SLASH,
    too_large: |operation| {
        // AWS's message names Invoke by its older name.
        let name = if operation.name == "Invoke" { "InvokeFunction" } else { operation.name };
        body_too_large(operation.body_limit, name)
    },
    index: RestIndex::new(),
};

/// Lambda's error for a body over `limit` bytes (what AWS answers a 7 MB Invoke).
pub(crate) fn body_too_large(limit: usize, operation: &str) -> AwsError {
    let message =
        format!("Request must be smaller than {} bytes for the {operation} operation", limit.saturating_sub(1));
    AwsError::new("RequestEntityTooLargeException", 413, message)
}

/// Lambda's error for a request the restJson1 codec could not decode, in the words its handlers
/// answer (`MaxItems=abc`: "Value 'abc' at 'maxItems' is not a number").
pub(crate) fn decode_error(error: &DecodeError) -> AwsError {
    match error {
        DecodeError::InvalidValue { field, value, expected } => {
            let field = lower_camel(field);
            let message = match *expected {
                "number" => format!("Value '{value}' at '{field}' is not a number"),
                expected => {
                    format!("Value '{value}' at '{field}' failed to satisfy constraint: Member must be a {expected}")
                }
            };
            AwsError::new("ValidationException", 400, message)
        }
        DecodeError::Syntax(message) | DecodeError::Shape(message) => {
            AwsError::invalid_request_content(format!("Could not parse request body into json: {message}"))
        }
        other => AwsError::new("ValidationException", 400, other.to_string()),
    }
}

/// `MaxItems` → `maxItems`, as AWS names members in validation messages.
fn lower_camel(name: &str) -> String {
    let mut chars = name.chars();
    chars.next().map(|first| first.to_ascii_lowercase().to_string() + chars.as_str()).unwrap_or_default()
}

const LAMBDA_ROWS: &[RestOperation] = rows! {
    "CreateFunction" POST "/2015-03-31/functions";
    "ListFunctions" GET "/2015-03-31/functions";
    "GetFunction" GET "/2015-03-31/functions/{FunctionName}";
    "DeleteFunction" DELETE "/2015-03-31/functions/{FunctionName}";
    "GetFunctionConfiguration" GET "/2015-03-31/functions/{FunctionName}/configuration";
    "UpdateFunctionConfiguration" PUT "/2015-03-31/functions/{FunctionName}/configuration";
    "UpdateFunctionCode" PUT "/2015-03-31/functions/{FunctionName}/code";
    "Invoke" POST "/2015-03-31/functions/{FunctionName}/invocations" INVOKE_BODY_LIMIT;
    "InvokeWithResponseStream" POST "/2021-11-15/functions/{FunctionName}/response-streaming-invocations" INVOKE_BODY_LIMIT;
    "GetAccountSettings" GET "/2016-08-19/account-settings";
    "ListVersionsByFunction" GET "/2015-03-31/functions/{FunctionName}/versions";
    "PublishVersion" POST "/2015-03-31/functions/{FunctionName}/versions";
    "ListAliases" GET "/2015-03-31/functions/{FunctionName}/aliases";
    "CreateAlias" POST "/2015-03-31/functions/{FunctionName}/aliases";
    "GetAlias" GET "/2015-03-31/functions/{FunctionName}/aliases/{Name}";
    "UpdateAlias" PUT "/2015-03-31/functions/{FunctionName}/aliases/{Name}";
    "DeleteAlias" DELETE "/2015-03-31/functions/{FunctionName}/aliases/{Name}";
    "PutFunctionConcurrency" PUT "/2017-10-31/functions/{FunctionName}/concurrency";
    "DeleteFunctionConcurrency" DELETE "/2017-10-31/functions/{FunctionName}/concurrency";
    "GetFunctionConcurrency" GET "/2019-09-30/functions/{FunctionName}/concurrency";
    "GetProvisionedConcurrencyConfig" GET "/2019-09-30/functions/{FunctionName}/provisioned-concurrency";
    "PutProvisionedConcurrencyConfig" PUT "/2019-09-30/functions/{FunctionName}/provisioned-concurrency";
    "DeleteProvisionedConcurrencyConfig" DELETE "/2019-09-30/functions/{FunctionName}/provisioned-concurrency";
    "GetPolicy" GET "/2015-03-31/functions/{FunctionName}/policy";
    "AddPermission" POST "/2015-03-31/functions/{FunctionName}/policy";
    "RemovePermission" DELETE "/2015-03-31/functions/{FunctionName}/policy/{StatementId}";
    "ListTags" GET "/2017-03-31/tags/{Resource}";
    "TagResource" POST "/2017-03-31/tags/{Resource}";
    "UntagResource" DELETE "/2017-03-31/tags/{Resource}";
    "GetFunctionCodeSigningConfig" GET "/2020-06-30/functions/{FunctionName}/code-signing-config";
    "GetFunctionEventInvokeConfig" GET "/2019-09-25/functions/{FunctionName}/event-invoke-config";
    "PutFunctionEventInvokeConfig" PUT "/2019-09-25/functions/{FunctionName}/event-invoke-config";
    "UpdateFunctionEventInvokeConfig" POST "/2019-09-25/functions/{FunctionName}/event-invoke-config";
    "DeleteFunctionEventInvokeConfig" DELETE "/2019-09-25/functions/{FunctionName}/event-invoke-config";
    "ListFunctionEventInvokeConfigs" GET "/2019-09-25/functions/{FunctionName}/event-invoke-config/list";
    "ListEventSourceMappings" GET "/2015-03-31/event-source-mappings";
    "CreateEventSourceMapping" POST "/2015-03-31/event-source-mappings";
    "GetEventSourceMapping" GET "/2015-03-31/event-source-mappings/{UUID}";
    "UpdateEventSourceMapping" PUT "/2015-03-31/event-source-mappings/{UUID}";
    "DeleteEventSourceMapping" DELETE "/2015-03-31/event-source-mappings/{UUID}";
    // GetLayerVersionByArn is ListLayers' path with `?find=LayerVersion`: one route, counted here.
    "ListLayers" GET "/2018-10-31/layers";
    "ListLayerVersions" GET "/2018-10-31/layers/{LayerName}/versions";
    "PublishLayerVersion" POST "/2018-10-31/layers/{LayerName}/versions";
    "GetLayerVersion" GET "/2018-10-31/layers/{LayerName}/versions/{VersionNumber}";
    "DeleteLayerVersion" DELETE "/2018-10-31/layers/{LayerName}/versions/{VersionNumber}";
    "GetLayerVersionPolicy" GET "/2018-10-31/layers/{LayerName}/versions/{VersionNumber}/policy";
    "AddLayerVersionPermission" POST "/2018-10-31/layers/{LayerName}/versions/{VersionNumber}/policy";
    "RemoveLayerVersionPermission" DELETE "/2018-10-31/layers/{LayerName}/versions/{VersionNumber}/policy/{StatementId}";
    "CreateFunctionUrlConfig" POST "/2021-10-31/functions/{FunctionName}/url";
    "GetFunctionUrlConfig" GET "/2021-10-31/functions/{FunctionName}/url";
    "UpdateFunctionUrlConfig" PUT "/2021-10-31/functions/{FunctionName}/url";
    "DeleteFunctionUrlConfig" DELETE "/2021-10-31/functions/{FunctionName}/url";
    "ListFunctionUrlConfigs" GET "/2021-10-31/functions/{FunctionName}/urls";
    "PutFunctionRecursionConfig" PUT "/2024-08-31/functions/{FunctionName}/recursion-config";
    "GetFunctionRecursionConfig" GET "/2024-08-31/functions/{FunctionName}/recursion-config";
    "PutRuntimeManagementConfig" PUT "/2021-07-20/functions/{FunctionName}/runtime-management-config";
    "GetRuntimeManagementConfig" GET "/2021-07-20/functions/{FunctionName}/runtime-management-config";
    "CreateCodeSigningConfig" POST "/2020-04-22/code-signing-configs";
    "ListCodeSigningConfigs" GET "/2020-04-22/code-signing-configs";
    "GetCodeSigningConfig" GET "/2020-04-22/code-signing-configs/{CodeSigningConfigArn}";
    "UpdateCodeSigningConfig" PUT "/2020-04-22/code-signing-configs/{CodeSigningConfigArn}";
    "DeleteCodeSigningConfig" DELETE "/2020-04-22/code-signing-configs/{CodeSigningConfigArn}";
    "ListFunctionsByCodeSigningConfig" GET "/2020-04-22/code-signing-configs/{CodeSigningConfigArn}/functions";
    "PutFunctionCodeSigningConfig" PUT "/2020-06-30/functions/{FunctionName}/code-signing-config";
    "DeleteFunctionCodeSigningConfig" DELETE "/2020-06-30/functions/{FunctionName}/code-signing-config";
    "InvokeAsync" POST "/2014-11-13/functions/{FunctionName}/invoke-async" crate::lambda_invoke_async_api::INVOKE_ASYNC_BODY_LIMIT;
    "PutResourcePolicy" PUT "/2026-07-09/resource-policy/{ResourceArn}";
    "GetResourcePolicy" GET "/2026-07-09/resource-policy/{ResourceArn}";
    "DeleteResourcePolicy" DELETE "/2026-07-09/resource-policy/{ResourceArn}";
};

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use kumo_protocol::{PathService, Registry, ServiceHealth};

    use super::*;

    #[test]
    fn every_row_is_served_once_and_every_handler_has_a_row() {
        let served: Vec<&str> = crate::lambda_service::served().collect();
        let unique: BTreeSet<&str> = served.iter().copied().collect();
        assert_eq!(unique.len(), served.len(), "an operation served twice");
        let rows: BTreeSet<&str> = LAMBDA_OPERATIONS.names().collect();
        assert_eq!(rows.len(), LAMBDA_OPERATIONS.operations.len(), "a row named twice");
        assert_eq!(unique, rows);
    }

    #[test]
    fn every_row_routes_to_itself() {
        for row in LAMBDA_OPERATIONS.operations {
            let path: Vec<String> = row
                .path
                .split('/')
                .map(|segment| if segment.starts_with('{') { "some-label".to_string() } else { segment.to_string() })
                .collect();
            let path = path.join("/");
            let matched = LAMBDA_OPERATIONS.route(&row.method, &path);
            assert_eq!(matched.map(|matched| matched.operation.name), Some(row.name), "{}", row.path);
        }
    }

    #[test]
    fn decode_errors_keep_the_handlers_texts() {
        let error = decode_error(&DecodeError::InvalidValue {
            field: "MaxItems".into(),
            value: "abc".into(),
            expected: "number",
        });
        assert_eq!((error.code, error.status), ("ValidationException", 400));
        assert_eq!(error.message, "Value 'abc' at 'maxItems' is not a number");
        let error = decode_error(&DecodeError::Syntax("EOF while parsing an object at line 1 column 1".into()));
        assert_eq!(error.code, "InvalidRequestContentException");
        assert_eq!(
            error.message,
            "Could not parse request body into json: EOF while parsing an object at line 1 column 1"
        );
    }

    #[test]
    fn the_table_makes_a_counter_per_operation() {
        let mut registry = Registry::new();
        let lambda =
            PathService { name: "lambda", signing_name: "lambda", health: Box::new(|| ServiceHealth::Running) };
        registry.register_rest_service(lambda, &LAMBDA_OPERATIONS);
        for name in LAMBDA_OPERATIONS.names() {
            assert!(registry.path_operation("lambda", name).is_some(), "{name}");
        }
        registry.path_operation("lambda", "Invoke").unwrap().record(200, std::time::Duration::from_millis(1));
        let text = registry.render_prometheus();
        let line = r#"kumo_api_requests_total{service="lambda",operation="Invoke",outcome="success"} 1"#;
        assert!(text.lines().any(|candidate| candidate == line), "{text}");
        assert_eq!(LAMBDA_OPERATIONS.find("Invoke").map(|row| row.body_limit), Some(INVOKE_BODY_LIMIT));
    }
}
