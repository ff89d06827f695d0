//! Layers through the AWS SDK for Rust, a strict client: every layer operation's answer must
//! deserialise into the model's shapes, and errors must carry the codes the SDK tells apart.

mod support;

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{Architecture, FunctionCode, LayerVersionContentInput, Runtime};
use base64::Engine as _;
use sha2::Digest as _;

use support::{python_zip, zip_of, KumoServer, ACCOUNT, REGION, ROLE};

const IMPORTER: &str = "import helper\n\ndef handler(event, context):\n    return helper.VALUE\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn layers_with_the_rust_sdk() {
    let server = KumoServer::start();
    let client = server.lambda_client();
    let layer_arn = format!("arn:aws:lambda:{REGION}:{ACCOUNT}:layer:sdk-helpers");
    let zip = zip_of(&[("python/helper.py", "VALUE = 'layer'\n")]);
    let code_sha256 = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(&zip));

    // PublishLayerVersion
    let published = client
        .publish_layer_version()
        .layer_name("sdk-helpers")
        .description("helpers")
        .content(LayerVersionContentInput::builder().zip_file(Blob::new(zip.clone())).build())
        .compatible_runtimes(Runtime::Python312)
        .compatible_architectures(Architecture::X8664)
        .license_info("MIT")
        .send()
        .await
        .expect("PublishLayerVersion");
    let version_arn = format!("{layer_arn}:1");
    assert_eq!(published.layer_arn(), Some(layer_arn.as_str()));
    assert_eq!(published.layer_version_arn(), Some(version_arn.as_str()));
    assert_eq!(published.version(), 1);
    assert!(published.created_date().is_some());
    assert_eq!(published.compatible_runtimes(), [Runtime::Python312]);
    assert_eq!(published.compatible_architectures(), [Architecture::X8664]);
    let content = published.content().expect("PublishLayerVersion.Content");
    assert_eq!(content.code_sha256(), Some(code_sha256.as_str()));
    assert_eq!(content.code_size(), zip.len() as i64);
    assert!(content.location().is_some_and(|location| location.starts_with("http")));

    // GetLayerVersion, GetLayerVersionByArn
    let got = client.get_layer_version().layer_name("sdk-helpers").version_number(1).send().await.expect("Get");
    assert_eq!(got.description(), Some("helpers"));
    assert_eq!(got.license_info(), Some("MIT"));
    let by_arn = client.get_layer_version_by_arn().arn(&version_arn).send().await.expect("GetLayerVersionByArn");
    assert_eq!(by_arn.version(), 1);

    // ListLayers, ListLayerVersions
    let layers = client.list_layers().compatible_runtime(Runtime::Python312).send().await.expect("ListLayers");
    let listed = layers.layers().iter().find(|layer| layer.layer_name() == Some("sdk-helpers")).expect("listed");
    assert_eq!(listed.latest_matching_version().map(|version| version.version()), Some(1));
    let versions = client.list_layer_versions().layer_name(&layer_arn).send().await.expect("ListLayerVersions");
    assert_eq!(versions.layer_versions().len(), 1);

    // A function using the layer
    let created = client
        .create_function()
        .function_name("sdk-layered")
        .runtime(Runtime::Python312)
        .role(ROLE)
        .handler("lambda_function.handler")
        .code(FunctionCode::builder().zip_file(Blob::new(python_zip(IMPORTER))).build())
        .layers(&version_arn)
        .send()
        .await
        .expect("CreateFunction with Layers");
    let layer = &created.layers()[0];
    assert_eq!((layer.arn(), layer.code_size()), (Some(version_arn.as_str()), zip.len() as i64));

    // Layer version permissions
    let added = client
        .add_layer_version_permission()
        .layer_name("sdk-helpers")
        .version_number(1)
        .statement_id("everyone")
        .action("lambda:GetLayerVersion")
        .principal("*")
        .send()
        .await
        .expect("AddLayerVersionPermission");
    let policy = client
        .get_layer_version_policy()
        .layer_name("sdk-helpers")
        .version_number(1)
        .send()
        .await
        .expect("GetLayerVersionPolicy");
    assert_eq!(policy.revision_id(), added.revision_id());
    let document: serde_json::Value = serde_json::from_str(policy.policy().expect("Policy")).expect("policy JSON");
    assert_eq!(document["Statement"][0]["Resource"], version_arn.as_str());
    client
        .remove_layer_version_permission()
        .layer_name("sdk-helpers")
        .version_number(1)
        .statement_id("everyone")
        .send()
        .await
        .expect("RemoveLayerVersionPermission");

    // Errors the SDK tells apart
    let error = client
        .get_layer_version()
        .layer_name("sdk-helpers")
        .version_number(9)
        .send()
        .await
        .expect_err("GetLayerVersion of a missing version")
        .into_service_error();
    assert!(error.is_resource_not_found_exception(), "{error:?}");
    let error = client
        .create_function()
        .function_name("sdk-missing-layer")
        .runtime(Runtime::Python312)
        .role(ROLE)
        .handler("lambda_function.handler")
        .code(FunctionCode::builder().zip_file(Blob::new(python_zip(IMPORTER))).build())
        .layers(format!("{layer_arn}:9"))
        .send()
        .await
        .expect_err("CreateFunction with a missing layer")
        .into_service_error();
    assert!(error.is_invalid_parameter_value_exception(), "{error:?}");

    // DeleteLayerVersion, twice: the second is a no-op as on AWS
    for _ in 0..2 {
        client.delete_layer_version().layer_name("sdk-helpers").version_number(1).send().await.expect("Delete");
    }
}
