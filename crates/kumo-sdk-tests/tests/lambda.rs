//! Drives `kumo serve` with the AWS SDK for Rust, a strict client: its generated deserialisers
//! fail on a field of the wrong type or a malformed body, and it tells errors apart by their code.
//! Where the SDK is lenient (an enum value it does not know becomes `Unknown`, a missing number
//! reads as 0) the test checks for itself. Every call must deserialise, and the key fields must be
//! what AWS returns.

mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_sdk_lambda::error::ProvideErrorMetadata as _;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{
    AliasRoutingConfiguration, ApplicationLogLevel, Architecture, Environment, FunctionCode, InvocationType,
    LastUpdateStatus, LastUpdateStatusReasonCode, LogFormat, LogType, PackageType, Runtime, SnapStartApplyOn,
    SnapStartOptimizationStatus, State, StateReasonCode, SystemLogLevel, TracingMode,
};
use aws_sdk_lambda::Client;
use base64::Engine as _;
use sha2::Digest as _;

use support::{python_zip, KumoServer, ACCOUNT, REGION, ROLE};

/// Echoes the event with what the function sees of its configuration, and logs a line.
const ECHO_HANDLER: &str = r#"
import json
import os

def handler(event, context):
    print("echo " + json.dumps(event))
    return {
        "event": event,
        "greeting": os.environ.get("GREETING"),
        "invoked_arn": context.invoked_function_arn,
        "version": context.function_version,
    }
"#;

fn function_arn(name: &str) -> String {
    format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}")
}

/// Polls `GetFunctionConfiguration` until the function is `Active` and its last update done.
async fn wait_until_ready(client: &Client, name: &str) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let configuration =
            client.get_function_configuration().function_name(name).send().await.expect("GetFunctionConfiguration");
        let active = configuration.state() == Some(&State::Active);
        let updated = matches!(configuration.last_update_status(), None | Some(LastUpdateStatus::Successful));
        if active && updated {
            return;
        }
        assert!(
            configuration.state() != Some(&State::Failed),
            "function {name} failed: {:?}",
            configuration.state_reason()
        );
        assert!(Instant::now() < deadline, "function {name} not ready: {configuration:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The SDK keeps an enum value it does not know as `Unknown` instead of failing: check that each
/// one Kumo sent is a value of the model.
macro_rules! assert_known {
    ($value:expr, $enum:ty) => {
        if let Some(value) = $value {
            let value: &$enum = value;
            assert!(
                <$enum>::values().contains(&value.as_str()),
                "{} {:?} is not a value of {}",
                stringify!($value),
                value.as_str(),
                stringify!($enum)
            );
        }
    };
}

/// What a strict client needs of every function configuration (`FunctionConfiguration` and the
/// outputs of the operations that return one): enums from the model, and
/// `LastModified` in Lambda's `yyyy-MM-ddTHH:mm:ss.SSS+0000` form.
macro_rules! check_configuration {
    ($configuration:expr) => {{
        let configuration = &$configuration;
        assert_known!(configuration.runtime(), Runtime);
        assert_known!(configuration.state(), State);
        assert_known!(configuration.state_reason_code(), StateReasonCode);
        assert_known!(configuration.last_update_status(), LastUpdateStatus);
        // AWS answers an update in progress with `LastUpdateStatusReasonCode: Creating`, a value
        // the model's enum lacks (the SDK keeps it as `Unknown`): the one value allowed outside it.
        assert_known!(
            configuration.last_update_status_reason_code().filter(|code| code.as_str() != "Creating"),
            LastUpdateStatusReasonCode
        );
        assert_known!(configuration.package_type(), PackageType);
        for architecture in configuration.architectures() {
            assert_known!(Some(architecture), Architecture);
        }
        assert_known!(configuration.tracing_config().and_then(|tracing| tracing.mode()), TracingMode);
        assert_known!(configuration.snap_start().and_then(|snap| snap.apply_on()), SnapStartApplyOn);
        assert_known!(
            configuration.snap_start().and_then(|snap| snap.optimization_status()),
            SnapStartOptimizationStatus
        );
        let logging = configuration.logging_config();
        assert_known!(logging.and_then(|logging| logging.log_format()), LogFormat);
        assert_known!(logging.and_then(|logging| logging.application_log_level()), ApplicationLogLevel);
        assert_known!(logging.and_then(|logging| logging.system_log_level()), SystemLogLevel);
        let modified = configuration.last_modified().expect("LastModified");
        let bytes = modified.as_bytes();
        let shape_ok = bytes.len() == 28
            && modified.ends_with("+0000")
            && [4, 7].iter().all(|&i| bytes[i] == b'-')
            && bytes[10] == b'T'
            && [13, 16].iter().all(|&i| bytes[i] == b':')
            && bytes[19] == b'.';
        assert!(shape_ok, "LastModified {modified:?} is not yyyy-MM-ddTHH:mm:ss.SSS+0000");
        assert!(configuration.revision_id().is_some_and(|id| !id.is_empty()), "no RevisionId: {configuration:?}");
    }};
}

fn payload_json(payload: Option<&Blob>) -> serde_json::Value {
    let bytes = payload.expect("a payload").as_ref();
    serde_json::from_slice(bytes)
        .unwrap_or_else(|error| panic!("payload {:?}: {error}", String::from_utf8_lossy(bytes)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_publish_alias_invoke_with_the_rust_sdk() {
    let server = KumoServer::start();
    let client = server.lambda_client();
    let name = "sdk-echo";
    let arn = function_arn(name);
    let code = python_zip(ECHO_HANDLER);
    let code_sha256 = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(&code));

    // CreateFunction
    let created = client
        .create_function()
        .function_name(name)
        .runtime(Runtime::Python312)
        .role(ROLE)
        .handler("lambda_function.handler")
        .description("echo for the Rust SDK test")
        .timeout(30)
        .memory_size(256)
        .code(FunctionCode::builder().zip_file(Blob::new(code.clone())).build())
        .tags("team", "kumo")
        .send()
        .await
        .expect("CreateFunction");
    check_configuration!(created);
    assert_eq!(created.function_name(), Some(name));
    assert_eq!(created.function_arn(), Some(arn.as_str()));
    assert_eq!(created.version(), Some("$LATEST"));
    assert_eq!(created.code_sha256(), Some(code_sha256.as_str()));
    assert_eq!(created.code_size(), code.len() as i64);
    assert_eq!(created.runtime(), Some(&Runtime::Python312));
    assert_eq!(created.handler(), Some("lambda_function.handler"));
    assert_eq!(created.role(), Some(ROLE));
    assert_eq!(created.timeout(), Some(30));
    assert_eq!(created.memory_size(), Some(256));
    assert_eq!(created.package_type(), Some(&PackageType::Zip));
    assert!(created.revision_id().is_some_and(|id| !id.is_empty()));
    assert!(created.last_modified().is_some());
    wait_until_ready(&client, name).await;

    // GetFunction
    let function = client.get_function().function_name(name).send().await.expect("GetFunction");
    let configuration = function.configuration().expect("GetFunction.Configuration");
    check_configuration!(*configuration);
    assert_eq!(configuration.function_arn(), Some(arn.as_str()));
    assert_eq!(configuration.code_sha256(), Some(code_sha256.as_str()));
    assert_eq!(configuration.state(), Some(&State::Active));
    let location = function.code().and_then(|code| code.location()).expect("GetFunction.Code.Location");
    assert!(location.starts_with("http"), "{location}");
    assert_eq!(function.tags().and_then(|tags| tags.get("team")).map(String::as_str), Some("kumo"));

    // GetFunctionConfiguration
    let configuration =
        client.get_function_configuration().function_name(&arn).send().await.expect("GetFunctionConfiguration");
    check_configuration!(configuration);
    assert_eq!(configuration.function_name(), Some(name));
    assert_eq!(configuration.version(), Some("$LATEST"));
    assert_eq!(configuration.description(), Some("echo for the Rust SDK test"));

    // ListFunctions
    let listed = client.list_functions().send().await.expect("ListFunctions");
    let listed_function = listed
        .functions()
        .iter()
        .find(|function| function.function_name() == Some(name))
        .expect("the function in ListFunctions");
    check_configuration!(*listed_function);
    assert_eq!(listed_function.function_arn(), Some(arn.as_str()));
    assert_eq!(listed_function.code_sha256(), Some(code_sha256.as_str()));

    // UpdateFunctionConfiguration
    let updated = client
        .update_function_configuration()
        .function_name(name)
        .environment(Environment::builder().variables("GREETING", "hello").build())
        .send()
        .await
        .expect("UpdateFunctionConfiguration");
    check_configuration!(updated);
    let variables = updated.environment().and_then(|environment| environment.variables());
    assert_eq!(variables.and_then(|variables| variables.get("GREETING")).map(String::as_str), Some("hello"));
    assert_ne!(updated.revision_id(), created.revision_id());
    wait_until_ready(&client, name).await;

    // PublishVersion: version 1 (GREETING=hello), then version 2 (GREETING=bye).
    let latest_revision = client
        .get_function_configuration()
        .function_name(name)
        .send()
        .await
        .expect("GetFunctionConfiguration")
        .revision_id()
        .map(str::to_string);
    let version1 = client
        .publish_version()
        .function_name(name)
        .code_sha256(&code_sha256)
        .revision_id(latest_revision.clone().expect("a RevisionId"))
        .description("first")
        .send()
        .await
        .expect("PublishVersion 1");
    check_configuration!(version1);
    assert_eq!(version1.version(), Some("1"));
    assert_eq!(version1.function_arn(), Some(format!("{arn}:1").as_str()));
    assert_eq!(version1.code_sha256(), Some(code_sha256.as_str()));
    assert_eq!(version1.description(), Some("first"));
    assert!(version1.revision_id().is_some_and(|id| !id.is_empty()));

    client
        .update_function_configuration()
        .function_name(name)
        .environment(Environment::builder().variables("GREETING", "bye").build())
        .send()
        .await
        .expect("UpdateFunctionConfiguration 2");
    wait_until_ready(&client, name).await;
    let version2 = client.publish_version().function_name(name).send().await.expect("PublishVersion 2");
    check_configuration!(version2);
    assert_eq!(version2.version(), Some("2"));
    assert_eq!(version2.function_arn(), Some(format!("{arn}:2").as_str()));

    // ListVersionsByFunction
    let versions = client.list_versions_by_function().function_name(name).send().await.expect("ListVersionsByFunction");
    for version in versions.versions() {
        check_configuration!(*version);
    }
    let listed_versions: Vec<&str> = versions.versions().iter().filter_map(|version| version.version()).collect();
    assert_eq!(listed_versions, ["$LATEST", "1", "2"]);

    // CreateAlias with a weighted RoutingConfig: 1 gets half, 2 the other half.
    let alias = client
        .create_alias()
        .function_name(name)
        .name("live")
        .function_version("1")
        .description("blue/green")
        .routing_config(AliasRoutingConfiguration::builder().additional_version_weights("2", 0.5).build())
        .send()
        .await
        .expect("CreateAlias");
    assert_eq!(alias.alias_arn(), Some(format!("{arn}:live").as_str()));
    assert_eq!(alias.name(), Some("live"));
    assert_eq!(alias.function_version(), Some("1"));
    assert_eq!(alias.description(), Some("blue/green"));
    assert_eq!(
        alias.routing_config().and_then(|routing| routing.additional_version_weights()).and_then(|w| w.get("2")),
        Some(&0.5)
    );
    assert!(alias.revision_id().is_some_and(|id| !id.is_empty()));

    // GetAlias
    let got_alias = client.get_alias().function_name(name).name("live").send().await.expect("GetAlias");
    assert_eq!(got_alias.alias_arn(), alias.alias_arn());
    assert_eq!(got_alias.function_version(), Some("1"));
    assert_eq!(got_alias.revision_id(), alias.revision_id());
    assert_eq!(
        got_alias.routing_config().and_then(|routing| routing.additional_version_weights()).and_then(|w| w.get("2")),
        Some(&0.5)
    );

    // ListAliases
    let aliases = client.list_aliases().function_name(name).send().await.expect("ListAliases");
    let alias_names: Vec<&str> = aliases.aliases().iter().filter_map(|alias| alias.name()).collect();
    assert_eq!(alias_names, ["live"]);

    // Invoke by name: $LATEST, GREETING=bye.
    let invoked = client
        .invoke()
        .function_name(name)
        .payload(Blob::new(br#"{"hello":"world"}"#.to_vec()))
        .send()
        .await
        .expect("Invoke");
    assert_eq!(invoked.status_code(), 200);
    assert_eq!(invoked.executed_version(), Some("$LATEST"));
    assert_eq!(invoked.function_error(), None);
    let echoed = payload_json(invoked.payload());
    assert_eq!(echoed["event"], serde_json::json!({"hello": "world"}));
    assert_eq!(echoed["greeting"], "bye");
    assert_eq!(echoed["invoked_arn"], arn.as_str());

    // Invoke version 1 by qualifier: GREETING=hello.
    let invoked = client
        .invoke()
        .function_name(name)
        .qualifier("1")
        .payload(Blob::new(b"{}".to_vec()))
        .send()
        .await
        .expect("Invoke :1");
    assert_eq!(invoked.executed_version(), Some("1"));
    assert_eq!(payload_json(invoked.payload())["greeting"], "hello");

    // Invoke by alias qualifier: either version may run; each answer says which did.
    let mut seen = HashMap::new();
    for _ in 0..20 {
        let invoked = client
            .invoke()
            .function_name(name)
            .qualifier("live")
            .payload(Blob::new(b"{}".to_vec()))
            .send()
            .await
            .expect("Invoke :live");
        assert_eq!(invoked.status_code(), 200);
        let version = invoked.executed_version().expect("ExecutedVersion").to_string();
        let echoed = payload_json(invoked.payload());
        assert_eq!(echoed["version"], version.as_str());
        assert_eq!(echoed["greeting"], if version == "1" { "hello" } else { "bye" });
        assert_eq!(echoed["invoked_arn"], format!("{arn}:live"));
        *seen.entry(version).or_insert(0) += 1;
    }
    // Half and half over 20 invokes: both versions run (all on one has odds of 2 in a million).
    assert!(seen.keys().all(|version| version == "1" || version == "2"), "{seen:?}");
    assert_eq!(seen.len(), 2, "weighted alias ran only {seen:?}");

    // UpdateAlias: all traffic to version 2, routing cleared.
    let updated_alias = client
        .update_alias()
        .function_name(name)
        .name("live")
        .function_version("2")
        .routing_config(
            AliasRoutingConfiguration::builder().set_additional_version_weights(Some(HashMap::new())).build(),
        )
        .revision_id(got_alias.revision_id().expect("alias RevisionId"))
        .send()
        .await
        .expect("UpdateAlias");
    assert_eq!(updated_alias.function_version(), Some("2"));
    assert_ne!(updated_alias.revision_id(), got_alias.revision_id());
    let weights = updated_alias.routing_config().and_then(|routing| routing.additional_version_weights());
    assert!(weights.is_none_or(HashMap::is_empty), "{weights:?}");

    // Invoke the alias with LogType Tail: version 2 ran, and the log tail has the run's lines.
    let invoked = client
        .invoke()
        .function_name(name)
        .qualifier("live")
        .log_type(LogType::Tail)
        .payload(Blob::new(br#"{"tail":true}"#.to_vec()))
        .send()
        .await
        .expect("Invoke :live LogType=Tail");
    assert_eq!(invoked.status_code(), 200);
    assert_eq!(invoked.executed_version(), Some("2"));
    let log = base64::engine::general_purpose::STANDARD
        .decode(invoked.log_result().expect("LogResult"))
        .expect("LogResult is base64");
    let log = String::from_utf8(log).expect("LogResult is UTF-8");
    for marker in ["START RequestId:", "END RequestId:", "REPORT RequestId:", r#"echo {"tail": true}"#] {
        assert!(log.contains(marker), "no {marker:?} in the log tail:\n{log}");
    }

    // InvocationType Event: 202, nothing to read back.
    let queued = client
        .invoke()
        .function_name(name)
        .invocation_type(InvocationType::Event)
        .payload(Blob::new(b"{}".to_vec()))
        .send()
        .await
        .expect("Invoke Event");
    assert_eq!(queued.status_code(), 202);

    // InvocationType DryRun: 204.
    let dry_run = client
        .invoke()
        .function_name(name)
        .invocation_type(InvocationType::DryRun)
        .send()
        .await
        .expect("Invoke DryRun");
    assert_eq!(dry_run.status_code(), 204);

    // PutFunctionConcurrency / GetFunctionConcurrency
    let reserved = client
        .put_function_concurrency()
        .function_name(name)
        .reserved_concurrent_executions(5)
        .send()
        .await
        .expect("PutFunctionConcurrency");
    assert_eq!(reserved.reserved_concurrent_executions(), Some(5));
    let concurrency =
        client.get_function_concurrency().function_name(name).send().await.expect("GetFunctionConcurrency");
    assert_eq!(concurrency.reserved_concurrent_executions(), Some(5));

    // AddPermission / GetPolicy
    let permission = client
        .add_permission()
        .function_name(name)
        .statement_id("s3-invoke")
        .action("lambda:InvokeFunction")
        .principal("s3.amazonaws.com")
        .source_arn("arn:aws:s3:::kumo-bucket")
        .source_account(ACCOUNT)
        .send()
        .await
        .expect("AddPermission");
    let statement: serde_json::Value =
        serde_json::from_str(permission.statement().expect("AddPermission.Statement")).expect("Statement is JSON");
    assert_eq!(statement["Sid"], "s3-invoke");
    assert_eq!(statement["Action"], "lambda:InvokeFunction");
    assert_eq!(statement["Resource"], arn.as_str());
    let policy = client.get_policy().function_name(name).send().await.expect("GetPolicy");
    assert!(policy.revision_id().is_some_and(|id| !id.is_empty()));
    let document: serde_json::Value =
        serde_json::from_str(policy.policy().expect("GetPolicy.Policy")).expect("Policy is JSON");
    assert_eq!(document["Statement"][0]["Sid"], "s3-invoke");
    assert_eq!(document["Statement"][0]["Condition"]["ArnLike"]["AWS:SourceArn"], "arn:aws:s3:::kumo-bucket");

    // TagResource / ListTags
    client.tag_resource().resource(&arn).tags("stage", "test").send().await.expect("TagResource");
    let tags = client.list_tags().resource(&arn).send().await.expect("ListTags");
    let tags = tags.tags().expect("ListTags.Tags");
    assert_eq!(tags.get("team").map(String::as_str), Some("kumo"));
    assert_eq!(tags.get("stage").map(String::as_str), Some("test"));

    // GetAccountSettings
    let settings = client.get_account_settings().send().await.expect("GetAccountSettings");
    let limit = settings.account_limit().expect("AccountLimit");
    assert!(limit.concurrent_executions() > 0, "{limit:?}");
    assert!(limit.code_size_zipped() > 0, "{limit:?}");
    let usage = settings.account_usage().expect("AccountUsage");
    assert!(usage.function_count() >= 1, "{usage:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_typed_for_the_rust_sdk() {
    let server = KumoServer::start();
    let client = server.lambda_client();

    // A missing function: the SDK's modelled ResourceNotFoundException.
    let error = client.get_function().function_name("no-such-function").send().await.expect_err("GetFunction");
    let status = error.raw_response().map(|response| response.status().as_u16());
    let error = error.into_service_error();
    assert!(error.is_resource_not_found_exception(), "{error:?}");
    assert_eq!(status, Some(404));
    assert_eq!(error.code(), Some("ResourceNotFoundException"));
    assert!(error.message().is_some_and(|message| message.contains("no-such-function")), "{error:?}");

    // Invoke of a missing function: the same, through Invoke's error type.
    let error = client.invoke().function_name("no-such-function").send().await.expect_err("Invoke");
    assert!(error.into_service_error().is_resource_not_found_exception());

    // A wrong secret: a 403 that the SDK reads as a service error with AWS's code.
    let wrong = server.lambda_client_with("test", "not-the-secret");
    let error = wrong.list_functions().send().await.expect_err("ListFunctions with a wrong secret");
    let status = error.raw_response().map(|response| response.status().as_u16());
    assert_eq!(status, Some(403), "{error:?}");
    let error = error.into_service_error();
    assert_eq!(error.code(), Some("InvalidSignatureException"), "{error:?}");
    assert!(error.message().is_some(), "{error:?}");

    // An unknown access key: 403 UnrecognizedClientException.
    let unknown = server.lambda_client_with("AKIDUNKNOWN", "whatever");
    let error = unknown.list_functions().send().await.expect_err("ListFunctions with an unknown key");
    let status = error.raw_response().map(|response| response.status().as_u16());
    assert_eq!(status, Some(403), "{error:?}");
    assert_eq!(error.into_service_error().code(), Some("UnrecognizedClientException"));
}
