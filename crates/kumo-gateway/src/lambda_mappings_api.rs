//! Lambda's event source mappings, served by [`LambdaApi`]: each operation's input decoded by
//! the restJson1 codec, its output encoded with its status (`202` for changes, as AWS answers).

use http::StatusCode;
use kumo_core::AwsError;
use kumo_protocol::rest_json::{Bindings, Location, Member, Payload, RestInput, Shape};
use kumo_protocol::{Call, RestAnswer};
use serde::Deserialize;

use crate::lambda_service::{answer, body, decode, Handler, LambdaApi, JSON_OUT};

/// The family's handlers by operation name.
pub(crate) const HANDLERS: &[(&str, Handler)] = &[
    ("ListEventSourceMappings", |api, call| Box::pin(api.list_mappings(call))),
    ("CreateEventSourceMapping", |api, call| Box::pin(api.create_mapping(call))),
    ("GetEventSourceMapping", |api, call| Box::pin(api.get_mapping(call))),
    ("UpdateEventSourceMapping", |api, call| Box::pin(api.update_mapping(call))),
    ("DeleteEventSourceMapping", |api, call| Box::pin(api.delete_mapping(call))),
];

const BY_UUID: Bindings = Bindings {
    members: &[Member { name: "UUID", location: Location::Label("UUID"), shape: Shape::String }],
    payload: Payload::Empty,
};
const LIST: Bindings = Bindings {
    members: &[
        Member { name: "EventSourceArn", location: Location::Query("EventSourceArn"), shape: Shape::String },
        Member { name: "FunctionName", location: Location::Query("FunctionName"), shape: Shape::String },
        Member { name: "Marker", location: Location::Query("Marker"), shape: Shape::String },
        Member { name: "MaxItems", location: Location::Query("MaxItems"), shape: Shape::Integer },
    ],
    payload: Payload::Empty,
};

#[derive(Debug, Deserialize)]
struct UuidInput {
    #[serde(rename = "UUID")]
    uuid: String,
}

impl RestInput for UuidInput {}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListInput {
    event_source_arn: Option<String>,
    function_name: Option<String>,
    marker: Option<String>,
    max_items: Option<i64>,
}

impl RestInput for ListInput {}

impl LambdaApi {
    async fn create_mapping(&self, call: Call<'_>) -> Result<RestAnswer, AwsError> {
        let request = body(&call)?;
        let mapping = self.lambda.create_event_source_mapping(call.context, request).await?;
        answer(&JSON_OUT, StatusCode::ACCEPTED, &mapping)
    }

    async fn get_mapping(&self, call: Call<'_>) -> Result<RestAnswer, AwsError> {
        let input: UuidInput = decode(&call, &BY_UUID)?;
        let mapping = self.lambda.get_event_source_mapping(call.context, input.uuid).await?;
        answer(&JSON_OUT, StatusCode::OK, &mapping)
    }

    async fn update_mapping(&self, call: Call<'_>) -> Result<RestAnswer, AwsError> {
        let (input, request): (UuidInput, _) = (decode(&call, &BY_UUID)?, body(&call)?);
        let mapping = self.lambda.update_event_source_mapping(call.context, input.uuid, request).await?;
        answer(&JSON_OUT, StatusCode::ACCEPTED, &mapping)
    }

    async fn delete_mapping(&self, call: Call<'_>) -> Result<RestAnswer, AwsError> {
        let input: UuidInput = decode(&call, &BY_UUID)?;
        let mapping = self.lambda.delete_event_source_mapping(call.context, input.uuid).await?;
        answer(&JSON_OUT, StatusCode::ACCEPTED, &mapping)
    }

    async fn list_mappings(&self, call: Call<'_>) -> Result<RestAnswer, AwsError> {
        let input: ListInput = decode(&call, &LIST)?;
        let (source, function, marker) = (input.event_source_arn, input.function_name, input.marker);
        let listed =
            self.lambda.list_event_source_mappings(call.context, source, function, marker, input.max_items).await?;
        answer(&JSON_OUT, StatusCode::OK, &listed)
    }
}
