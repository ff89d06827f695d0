//! S3 PUT → Lambda start latency (issue #13): a bucket notifies a warm function of each new
//! object; the time from sending PutObject to the handler starting (the handler logs its start
//! on the wall clock the benchmark also reads), one object at a time at idle.

use std::io::Write as _;
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::Full;
use hyper::header::CONTENT_TYPE;
use hyper::{Method, Request, StatusCode};

use crate::lambda::{Connection, Endpoint};

/// The probe: logs `PROBE <key> <epoch ms>` when the handler starts, for each record.
const PROBE_HANDLER: &str = "import time\n\ndef lambda_handler(event, context):\n    started = time.time()\n    \
                             for record in event[\"Records\"]:\n        print(\"PROBE %s %.3f\" % \
                             (record[\"s3\"][\"object\"][\"key\"], started * 1000))\n";

/// How long the first object (which pays the function's cold start) may take to arrive.
const WARM_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the measured objects may take to arrive once all are put.
const SAMPLES_TIMEOUT: Duration = Duration::from_secs(30);

impl Connection {
    /// AddPermission: S3 may invoke `function` for `bucket` of account 000000000000.
    async fn allow_s3(&mut self, function: &str, bucket: &str) -> anyhow::Result<()> {
        let document = serde_json::json!({
            "StatementId": "s3",
            "Action": "lambda:InvokeFunction",
            "Principal": "s3.amazonaws.com",
            "SourceArn": format!("arn:aws:s3:::{bucket}"),
            "SourceAccount": "000000000000",
        });
        let body = Bytes::from(serde_json::to_vec(&document)?);
        let mut request = Request::post(format!("/2015-03-31/functions/{function}/policy"))
            .header(CONTENT_TYPE, "application/json")
            .body(Full::new(body.clone()))?;
        self.sign_for("lambda", &mut request, &body);
        let reply = self.send(request).await?;
        anyhow::ensure!(reply.status == StatusCode::CREATED, "AddPermission failed: {}", reply.describe());
        Ok(())
    }

    /// PutBucketNotificationConfiguration: every new object of `bucket` goes to `function_arn`.
    async fn notify_function(&mut self, bucket: &str, function_arn: &str) -> anyhow::Result<()> {
        // S3's XML names a Lambda configuration `CloudFunctionConfiguration` (botocore's locationName).
        let document = format!(
            "<NotificationConfiguration><CloudFunctionConfiguration><Id>probe</Id>\
             <CloudFunction>{function_arn}</CloudFunction><Event>s3:ObjectCreated:*</Event>\
             </CloudFunctionConfiguration></NotificationConfiguration>"
        );
        let reply = self.s3(Method::PUT, &format!("/{bucket}?notification"), Bytes::from(document)).await?;
        anyhow::ensure!(reply.status == StatusCode::OK, "PutBucketNotificationConfiguration: {}", reply.describe());
        Ok(())
    }
}

/// The probe's deployment package.
fn probe_zip() -> anyhow::Result<Vec<u8>> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    writer.start_file("lambda_function.py", options)?;
    writer.write_all(PROBE_HANDLER.as_bytes())?;
    Ok(writer.finish()?.into_inner())
}

/// Waits until the probe logged every key of `wanted` and answers their start times.
async fn starts_of(
    connection: &mut Connection,
    function: &str,
    wanted: &[(String, f64)],
    timeout: Duration,
) -> anyhow::Result<Vec<Duration>> {
    let deadline = Instant::now() + timeout;
    loop {
        let starts = crate::sqs::probe_starts(connection, function).await?;
        let latencies: Vec<Duration> = wanted
            .iter()
            .filter_map(|(key, sent)| {
                let started = starts.iter().find(|(probe, _)| probe == key)?.1;
                Some(Duration::from_secs_f64((started - sent).max(0.0) / 1000.0))
            })
            .collect();
        if latencies.len() == wanted.len() {
            return Ok(latencies);
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "only {} of {} objects reached the handler within {timeout:?}",
            latencies.len(),
            wanted.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Puts `samples` objects one at a time, `gap` apart, into a bucket notifying a warm probe
/// function; answers each PutObject-sent → handler-start latency.
pub async fn put_to_lambda_latency(
    endpoint: &Endpoint,
    prefix: &str,
    runtime: &str,
    samples: usize,
    gap: Duration,
) -> anyhow::Result<Vec<Duration>> {
    let mut connection = endpoint.connect().await?;
    let (bucket, function) = (format!("{prefix}-trigger"), format!("{prefix}-s3-probe"));
    connection.ensure_role().await?;
    connection.create_bucket(&bucket).await?;
    let zip = base64::engine::general_purpose::STANDARD.encode(probe_zip()?);
    connection.create_function(&function, runtime, &zip, 128).await?;
    let measured = async {
        connection.allow_s3(&function, &bucket).await?;
        let arn = format!("arn:aws:lambda:us-east-1:000000000000:function:{function}");
        connection.notify_function(&bucket, &arn).await?;
        // The first object pays the cold start: wait for it before measuring.
        let warm = vec![("warm".to_string(), crate::sqs::wall_ms())];
        connection.put_object(&bucket, "warm", Bytes::from_static(b"w")).await?;
        starts_of(&mut connection, &function, &warm, WARM_TIMEOUT).await?;
        let mut sent = Vec::with_capacity(samples);
        for index in 0..samples {
            tokio::time::sleep(gap).await;
            let key = format!("p{index}");
            sent.push((key.clone(), crate::sqs::wall_ms()));
            connection.put_object(&bucket, &key, Bytes::from_static(b"p")).await?;
        }
        starts_of(&mut connection, &function, &sent, SAMPLES_TIMEOUT).await
    }
    .await;
    connection.delete_function(&function).await?;
    measured
}
