//! A test-only CloudWatch, `kumotest-cloudwatch`, registered only when Kumo starts with
//! `KUMO_TEST_SERVICES=1`: it is not part of Kumo's AWS surface. It speaks Smithy RPC v2 CBOR
//! under CloudWatch's Smithy service name (`GraniteServiceVersion20100801`) and signing name
//! (`monitoring`), so that end-to-end tests drive Kumo's CBOR codec, routing and error rendering
//! with a real client (botocore's `cloudwatch` client, made to pick the model's own protocol,
//! `smithy-rpc-v2-cbor`, over the `json` it prefers).
//!
//! Three operations with CloudWatch's shapes, their data in memory per account and region:
//! - `PutMetricData` records data points (a `Value`, `Values` with `Counts`, or
//!   `StatisticValues`), refusing what CloudWatch refuses (`InvalidParameterValue`: an `AWS/`
//!   namespace, a value that is not a finite number, `Values` and `Counts` of different lengths;
//!   `InvalidParameterCombination`: `Value` with `StatisticValues`);
//! - `ListMetrics` lists the metrics recorded, filtered by namespace, name and dimensions;
//! - `GetMetricData` answers `MetricStat` queries: the statistic of the points in each period
//!   of `[StartTime, EndTime)`, newest first (`ScanBy` `TimestampAscending` reverses it).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;

use kumo_core::{AwsError, RequestContext};
use kumo_protocol::cbor::Timestamp;
use kumo_protocol::query::de::same_names;
use kumo_protocol::query::QueryLimits;
use kumo_protocol::{operation, AwsService, BoxFuture, Call, DecodeError, Encoded, NoResult, OperationTable, Protocol};
use kumo_protocol::{ServiceContext, ServiceDescriptor, ServiceHealth};
use serde::{Deserialize, Serialize};

/// `PutMetricData` takes up to 1 MiB, as CloudWatch does.
const PUT_LIMIT: usize = 1024 * 1024;
/// Every other operation's body limit.
const SMALL_LIMIT: usize = 64 * 1024;
/// Data points kept per account and region; the oldest go first.
const KEPT_POINTS: usize = 100_000;
/// Data a `PutMetricData` may carry (CloudWatch's limit).
const MAX_DATA: usize = 1000;
/// Dimensions a metric may have (CloudWatch's limit).
const MAX_DIMENSIONS: usize = 30;

/// A metric's dimension (also `ListMetrics`' `DimensionFilter`, whose `Value` is optional).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Dimension {
    name: String,
    value: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DimensionFilter {
    name: String,
    value: Option<String>,
}

/// A metric: namespace, name and dimensions (sorted, so equal metrics compare equal).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Metric {
    namespace: String,
    metric_name: String,
    #[serde(default)]
    dimensions: Vec<Dimension>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StatisticSet {
    sample_count: f64,
    sum: f64,
    minimum: f64,
    maximum: f64,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct MetricDatum {
    metric_name: String,
    #[serde(default)]
    dimensions: Vec<Dimension>,
    timestamp: Option<Timestamp>,
    value: Option<f64>,
    statistic_values: Option<StatisticSet>,
    #[serde(default)]
    values: Vec<f64>,
    #[serde(default)]
    counts: Vec<f64>,
    unit: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PutMetricDataInput {
    namespace: String,
    #[serde(default)]
    metric_data: Vec<MetricDatum>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListMetricsInput {
    namespace: Option<String>,
    metric_name: Option<String>,
    #[serde(default)]
    dimensions: Vec<DimensionFilter>,
    next_token: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct ListMetricsOutput {
    metrics: Vec<Metric>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct MetricStat {
    metric: Metric,
    period: i64,
    stat: String,
    unit: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct MetricDataQuery {
    id: String,
    metric_stat: Option<MetricStat>,
    expression: Option<String>,
    label: Option<String>,
    return_data: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GetMetricDataInput {
    metric_data_queries: Vec<MetricDataQuery>,
    start_time: Timestamp,
    end_time: Timestamp,
    next_token: Option<String>,
    scan_by: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct MetricDataResult {
    id: String,
    label: String,
    timestamps: Vec<Timestamp>,
    values: Vec<f64>,
    status_code: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct GetMetricDataOutput {
    metric_data_results: Vec<MetricDataResult>,
}

/// One recorded data point: its metric, time, unit and samples.
#[derive(Debug, Clone)]
struct Point {
    metric: Metric,
    timestamp: f64,
    unit: Option<String>,
    samples: StatisticSet,
}

/// The test CloudWatch: data points by (account, region).
#[derive(Default)]
pub struct CborTestApi {
    points: Mutex<HashMap<(String, String), Vec<Point>>>,
}

fn invalid_value(value: impl std::fmt::Display, parameter: &str) -> AwsError {
    AwsError::new(
        "InvalidParameterValueException",
        400,
        format!("The value {value} for parameter {parameter} is invalid."),
    )
}

fn decode_error(protocol: Protocol, error: &DecodeError) -> AwsError {
    match error {
        DecodeError::TooLarge { limit } => kumo_protocol::registry::too_large(*limit, protocol),
        DecodeError::Shape(message) if message.starts_with("missing field") => {
            let member = message.split('`').nth(1).unwrap_or_default();
            AwsError::new("MissingRequiredParameterException", 400, format!("The parameter {member} is required."))
        }
        other => AwsError::new("SerializationException", 400, other.to_string()),
    }
}

/// The awsQuery code of each of CloudWatch's error shapes that has one (`awsQueryError` in the
/// model), which awsQuery-compatible answers carry in `x-amzn-query-error`; codes that are not
/// the model's errors are their own.
fn query_error_code(shape: &'static str) -> &'static str {
    match shape {
        "InvalidParameterValueException" => "InvalidParameterValue",
        "InvalidParameterCombinationException" => "InvalidParameterCombination",
        "MissingRequiredParameterException" => "MissingParameter",
        "ValidationException" => "ValidationError",
        other => other,
    }
}

/// The test CloudWatch's declaration: CloudWatch's Smithy namespace and, as its model is
/// `awsQueryCompatible`, errors named by shape in `__type` and by awsQuery code in
/// `x-amzn-query-error`.
pub static DESCRIPTOR: ServiceDescriptor = ServiceDescriptor {
    name: "kumotest-cloudwatch",
    signing_name: "monitoring",
    json_target_prefix: None,
    cbor_service_name: Some("GraniteServiceVersion20100801"),
    hosts: &[],
    protocols: &[Protocol::RpcV2Cbor],
    xml_namespace: "",
    json_error_prefix: "com.amazonaws.cloudwatch#",
    aws_query_compatible: true,
    query_error_detail: false,
    default_body_limit: PUT_LIMIT,
    query_limits: QueryLimits::DEFAULT,
    query_rename: same_names,
    xml_shape: None,
    query_error_code,
    decode_error,
    unknown_operation: |operation| {
        let operation = operation.unwrap_or_default();
        AwsError::new("UnknownOperationException", 404, format!("Unknown operation {operation}"))
    },
};

/// The samples of one datum, or CloudWatch's error for it (`index` counts from 1).
fn samples_of(datum: &MetricDatum, index: usize) -> Result<Vec<StatisticSet>, AwsError> {
    let parameter = |member: &str| format!("MetricData.member.{index}.{member}");
    let finite = |value: f64, member: &str| {
        if value.is_finite() {
            Ok(value)
        } else {
            Err(invalid_value(value, &parameter(member)))
        }
    };
    let single = |value: f64, count: f64| StatisticSet {
        sample_count: count,
        sum: value * count,
        minimum: value,
        maximum: value,
    };
    match (datum.value, datum.statistic_values, datum.values.is_empty()) {
        (Some(_), Some(_), _) => Err(AwsError::new(
            "InvalidParameterCombinationException",
            400,
            format!(
                "The parameters {} and {} are mutually exclusive and you have specified both.",
                parameter("Value"),
                parameter("StatisticValues")
            ),
        )),
        (Some(value), None, _) => Ok(vec![single(finite(value, "Value")?, 1.0)]),
        (None, Some(set), _) => {
            for (value, member) in [
                (set.sample_count, "SampleCount"),
                (set.sum, "Sum"),
                (set.minimum, "Minimum"),
                (set.maximum, "Maximum"),
            ] {
                finite(value, &format!("StatisticValues.{member}"))?;
            }
            Ok(vec![set])
        }
        (None, None, false) => {
            if !datum.counts.is_empty() && datum.counts.len() != datum.values.len() {
                return Err(invalid_value(datum.counts.len(), &parameter("Counts")));
            }
            let counts = datum.counts.iter().copied().chain(std::iter::repeat(1.0));
            let pairs = datum.values.iter().copied().zip(counts).enumerate();
            pairs
                .map(|(position, (value, count))| {
                    let value = finite(value, &format!("Values.member.{}", position + 1))?;
                    Ok(single(value, finite(count, &format!("Counts.member.{}", position + 1))?))
                })
                .collect()
        }
        (None, None, true) => Err(AwsError::new(
            "MissingRequiredParameterException",
            400,
            format!("The parameter {} is required.", parameter("Value")),
        )),
    }
}

/// The statistic `stat` of `samples` (`None`: a statistic this test service does not compute).
fn statistic(stat: &str, samples: &[StatisticSet]) -> Option<f64> {
    let count: f64 = samples.iter().map(|set| set.sample_count).sum();
    let sum: f64 = samples.iter().map(|set| set.sum).sum();
    match stat {
        "Sum" => Some(sum),
        "SampleCount" => Some(count),
        "Average" => Some(if count > 0.0 { sum / count } else { 0.0 }),
        "Minimum" => samples.iter().map(|set| set.minimum).reduce(f64::min),
        "Maximum" => samples.iter().map(|set| set.maximum).reduce(f64::max),
        _ => None,
    }
}

impl CborTestApi {
    fn with_points<T>(&self, context: &RequestContext, work: impl FnOnce(&mut Vec<Point>) -> T) -> T {
        // Plain values: a panic elsewhere cannot leave them inconsistent.
        let mut points = self.points.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        work(points.entry((context.account.clone(), context.region.clone())).or_default())
    }

    async fn put_metric_data(&self, context: &RequestContext, input: PutMetricDataInput) -> Result<NoResult, AwsError> {
        let namespace = input.namespace;
        if namespace.is_empty() || namespace.starts_with("AWS/") || namespace.len() > 255 {
            return Err(invalid_value(&namespace, "Namespace"));
        }
        if input.metric_data.len() > MAX_DATA {
            return Err(invalid_value(input.metric_data.len(), "MetricData"));
        }
        let now = kumo_core::time::now_millis() as f64 / 1000.0;
        let mut recorded = Vec::new();
        for (position, datum) in input.metric_data.iter().enumerate() {
            let index = position + 1;
            if datum.metric_name.is_empty() {
                return Err(invalid_value("", &format!("MetricData.member.{index}.MetricName")));
            }
            if datum.dimensions.len() > MAX_DIMENSIONS {
                return Err(invalid_value(datum.dimensions.len(), &format!("MetricData.member.{index}.Dimensions")));
            }
            let mut dimensions = datum.dimensions.clone();
            dimensions.sort();
            let metric = Metric { namespace: namespace.clone(), metric_name: datum.metric_name.clone(), dimensions };
            let timestamp = datum.timestamp.map_or(now, |Timestamp(seconds)| seconds);
            for samples in samples_of(datum, index)? {
                recorded.push(Point { metric: metric.clone(), timestamp, unit: datum.unit.clone(), samples });
            }
        }
        self.with_points(context, |points| {
            points.extend(recorded);
            let excess = points.len().saturating_sub(KEPT_POINTS);
            points.drain(..excess);
        });
        Ok(NoResult {})
    }

    async fn list_metrics(
        &self,
        context: &RequestContext,
        input: ListMetricsInput,
    ) -> Result<ListMetricsOutput, AwsError> {
        if let Some(token) = input.next_token {
            return Err(invalid_value(token, "NextToken"));
        }
        let matches = |metric: &Metric| {
            input.namespace.as_ref().is_none_or(|namespace| *namespace == metric.namespace)
                && input.metric_name.as_ref().is_none_or(|name| *name == metric.metric_name)
                && input.dimensions.iter().all(|filter| {
                    metric.dimensions.iter().any(|dimension| {
                        dimension.name == filter.name
                            && filter.value.as_ref().is_none_or(|value| *value == dimension.value)
                    })
                })
        };
        let metrics: BTreeSet<Metric> = self.with_points(context, |points| {
            points.iter().map(|point| &point.metric).filter(|metric| matches(metric)).cloned().collect()
        });
        Ok(ListMetricsOutput { metrics: metrics.into_iter().collect() })
    }

    async fn get_metric_data(
        &self,
        context: &RequestContext,
        input: GetMetricDataInput,
    ) -> Result<GetMetricDataOutput, AwsError> {
        if let Some(token) = input.next_token {
            return Err(AwsError::new("InvalidNextToken", 400, format!("The token {token} is not valid.")));
        }
        let (Timestamp(start), Timestamp(end)) = (input.start_time, input.end_time);
        if start >= end {
            return Err(AwsError::new(
                "ValidationException",
                400,
                "The parameter StartTime must be less than the parameter EndTime.",
            ));
        }
        let ascending = match input.scan_by.as_deref() {
            None | Some("TimestampDescending") => false,
            Some("TimestampAscending") => true,
            Some(other) => return Err(invalid_value(other, "ScanBy")),
        };
        let mut results = Vec::new();
        for (position, query) in input.metric_data_queries.iter().enumerate() {
            let index = position + 1;
            let Some(stat) = &query.metric_stat else {
                let parameter = format!("MetricDataQueries.member.{index}.Expression");
                return Err(invalid_value(query.expression.as_deref().unwrap_or_default(), &parameter));
            };
            if stat.period <= 0 {
                return Err(invalid_value(stat.period, &format!("MetricDataQueries.member.{index}.MetricStat.Period")));
            }
            let mut wanted = stat.metric.clone();
            wanted.dimensions.sort();
            let mut periods: BTreeMap<i64, Vec<StatisticSet>> = BTreeMap::new();
            self.with_points(context, |points| {
                let selected = points.iter().filter(|point| {
                    point.metric == wanted
                        && (start..end).contains(&point.timestamp)
                        && stat.unit.as_ref().is_none_or(|unit| point.unit.as_ref() == Some(unit))
                });
                for point in selected {
                    // `floor` first: a cast truncates toward zero, misplacing points before 1970.
                    let period_start = (point.timestamp.floor() as i64).div_euclid(stat.period) * stat.period;
                    periods.entry(period_start).or_default().push(point.samples);
                }
            });
            let mut series = Vec::new();
            for (period_start, samples) in periods {
                let Some(value) = statistic(&stat.stat, &samples) else {
                    return Err(invalid_value(
                        &stat.stat,
                        &format!("MetricDataQueries.member.{index}.MetricStat.Stat"),
                    ));
                };
                series.push((Timestamp(period_start as f64), value));
            }
            if !ascending {
                series.reverse();
            }
            if query.return_data == Some(false) {
                continue;
            }
            results.push(MetricDataResult {
                id: query.id.clone(),
                label: query.label.clone().unwrap_or_else(|| stat.metric.metric_name.clone()),
                timestamps: series.iter().map(|(timestamp, _)| *timestamp).collect(),
                values: series.iter().map(|(_, value)| *value).collect(),
                status_code: "Complete",
            });
        }
        Ok(GetMetricDataOutput { metric_data_results: results })
    }
}

impl ServiceContext for CborTestApi {
    type Context = RequestContext;

    fn context(&self, call: &Call<'_>) -> RequestContext {
        call.context.clone()
    }
}

/// The test CloudWatch's operations.
static OPERATIONS: OperationTable<CborTestApi> = OperationTable(&[
    operation!("PutMetricData", PUT_LIMIT, put_metric_data),
    operation!("ListMetrics", SMALL_LIMIT, list_metrics),
    operation!("GetMetricData", SMALL_LIMIT, get_metric_data),
]);

impl AwsService for CborTestApi {
    fn descriptor(&self) -> &'static ServiceDescriptor {
        &DESCRIPTOR
    }

    fn body_limit(&self, operation: &str) -> Option<usize> {
        OPERATIONS.body_limit(operation)
    }

    fn operation_names(&self) -> Vec<&'static str> {
        OPERATIONS.names().collect()
    }

    fn call<'a>(&'a self, call: Call<'a>) -> BoxFuture<'a, Result<Encoded, AwsError>> {
        OPERATIONS.call(self, call)
    }

    fn health(&self) -> ServiceHealth {
        ServiceHealth::Running
    }
}
