//! S3 workloads (issue #13), each run against Kumo and, in the same run, against moto's server
//! mode: small-object PUT+GET on 1 and N connections, one large object's PUT and GET next to
//! `cat` of the same file (the disk floor), and a whole ListObjectsV2 listing of many keys; on
//! Kumo only, the S3 PUT → Lambda start latency of an event notification ([`crate::s3_trigger`]).
//!
//! Requests are path-style and SigV4-signed for `s3` as boto3 signs them: small bodies hashed,
//! the large one `UNSIGNED-PAYLOAD` (as the AWS CLI streams big files), so the client's own
//! hashing does not hide the server's speed.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use bytes::Bytes;
use http_body_util::Full;
use hyper::{Method, Request, StatusCode};
use kumo_core::sigv4::{uri_encode, UNSIGNED_PAYLOAD};

use crate::lambda::{Connection, Endpoint, Reply};
use crate::load::{self, Operation};

/// Size of each object of the small-object runs.
pub const SMALL_OBJECT_BYTES: usize = 4096;

/// Keys the small-object runs cycle through, so the bucket stays small however long they run.
const SMALL_KEYS: u64 = 4096;

/// Keys per ListObjectsV2 page (S3's maximum).
const LIST_PAGE: usize = 1000;

/// How long moving the large object may take before it counts as failed.
const LARGE_TIMEOUT: Duration = Duration::from_secs(600);

impl Connection {
    /// A path-style S3 request; small bodies are hashed into the signature, as boto3 does.
    pub async fn s3(&mut self, method: Method, path_and_query: &str, body: Bytes) -> anyhow::Result<Reply> {
        let mut request = Request::builder().method(method).uri(path_and_query).body(Full::new(body.clone()))?;
        self.sign_for("s3", &mut request, &body);
        self.send(request).await
    }

    /// Creates a bucket in us-east-1 (no location constraint).
    pub async fn create_bucket(&mut self, bucket: &str) -> anyhow::Result<()> {
        let reply = self.s3(Method::PUT, &format!("/{bucket}"), Bytes::new()).await?;
        anyhow::ensure!(reply.status == StatusCode::OK, "CreateBucket {bucket}: {}", reply.describe());
        Ok(())
    }

    /// Puts an object; `Err` unless S3 answered 200.
    pub async fn put_object(&mut self, bucket: &str, key: &str, body: Bytes) -> anyhow::Result<()> {
        let path = format!("/{bucket}/{}", uri_encode(key, true));
        let reply = self.s3(Method::PUT, &path, body).await?;
        anyhow::ensure!(reply.status == StatusCode::OK, "PutObject {key}: {}", reply.describe());
        Ok(())
    }

    /// Gets an object whole.
    pub async fn get_object(&mut self, bucket: &str, key: &str) -> anyhow::Result<Bytes> {
        let path = format!("/{bucket}/{}", uri_encode(key, true));
        let reply = self.s3(Method::GET, &path, Bytes::new()).await?;
        anyhow::ensure!(reply.status == StatusCode::OK, "GetObject {key}: {}", reply.describe());
        Ok(reply.body)
    }

    /// Deletes an object.
    pub async fn delete_object(&mut self, bucket: &str, key: &str) -> anyhow::Result<()> {
        let path = format!("/{bucket}/{}", uri_encode(key, true));
        let reply = self.s3(Method::DELETE, &path, Bytes::new()).await?;
        anyhow::ensure!(reply.status == StatusCode::NO_CONTENT, "DeleteObject {key}: {}", reply.describe());
        Ok(())
    }

    /// One ListObjectsV2 page after `token`: its keys and the next page's token.
    pub async fn list_page(
        &mut self,
        bucket: &str,
        token: Option<&str>,
    ) -> anyhow::Result<(Vec<String>, Option<String>)> {
        let mut query = format!("list-type=2&max-keys={LIST_PAGE}");
        if let Some(token) = token {
            query.push_str(&format!("&continuation-token={}", uri_encode(token, false)));
        }
        let reply = self.s3(Method::GET, &format!("/{bucket}?{query}"), Bytes::new()).await?;
        anyhow::ensure!(reply.status == StatusCode::OK, "ListObjectsV2: {}", reply.describe());
        let document = std::str::from_utf8(&reply.body).context("ListObjectsV2: the reply is not UTF-8")?;
        let keys = elements(document, "Key").map(unescape).collect::<anyhow::Result<Vec<_>>>()?;
        let truncated = elements(document, "IsTruncated").next() == Some("true");
        let next = match elements(document, "NextContinuationToken").next() {
            Some(token) if truncated => Some(unescape(token)?),
            _ => None,
        };
        anyhow::ensure!(!truncated || next.is_some(), "ListObjectsV2: truncated without a continuation token");
        Ok((keys, next))
    }

    /// Puts the large object from memory; `UNSIGNED-PAYLOAD`, as the AWS CLI streams big files.
    async fn put_large(&mut self, bucket: &str, key: &str, body: Bytes) -> anyhow::Result<()> {
        let path = format!("/{bucket}/{}", uri_encode(key, true));
        let mut request = Request::put(path).body(Full::new(body))?;
        self.sign_with_payload_hash("s3", &mut request, UNSIGNED_PAYLOAD.to_string());
        let reply = tokio::time::timeout(LARGE_TIMEOUT, self.send(request)).await.context("PutObject timed out")??;
        anyhow::ensure!(reply.status == StatusCode::OK, "PutObject {key}: {}", reply.describe());
        Ok(())
    }

    /// Gets the large object as it streams, checking it against `expected` byte for byte.
    async fn get_large(&mut self, bucket: &str, key: &str, expected: &[u8]) -> anyhow::Result<()> {
        let path = format!("/{bucket}/{}", uri_encode(key, true));
        let mut request = Request::get(path).body(Full::default())?;
        self.sign_for("s3", &mut request, &Bytes::new());
        let mut offset = 0usize;
        let mut same = true;
        let read = self.send_streaming(request, |chunk| {
            let end = offset + chunk.len();
            same &= expected.get(offset..end) == Some(chunk);
            offset = end;
        });
        let (status, _) = tokio::time::timeout(LARGE_TIMEOUT, read).await.context("GetObject timed out")??;
        anyhow::ensure!(status == StatusCode::OK, "GetObject {key}: HTTP {status}");
        anyhow::ensure!(same && offset == expected.len(), "GetObject {key}: the bytes differ from those put");
        Ok(())
    }
}

/// The text of every `<name>…</name>` element of a small XML document, in order.
fn elements<'a>(document: &'a str, name: &str) -> impl Iterator<Item = &'a str> {
    let (open, close) = (format!("<{name}>"), format!("</{name}>"));
    let mut rest = document;
    std::iter::from_fn(move || {
        let start = rest.find(&open)? + open.len();
        let end = start + rest[start..].find(&close)?;
        let text = &rest[start..end];
        rest = &rest[end + close.len()..];
        Some(text)
    })
}

fn unescape(text: &str) -> anyhow::Result<String> {
    Ok(quick_xml::escape::unescape(text).context("an XML escape S3 does not send")?.into_owned())
}

/// One PUT of a small object, then a GET of it compared with what was put; 2 operations.
pub async fn small_object_cycle(
    connection: &mut Connection,
    bucket: &str,
    next: &AtomicU64,
    body: &Bytes,
) -> anyhow::Result<usize> {
    let key = format!("small/{:05}", next.fetch_add(1, Ordering::Relaxed) % SMALL_KEYS);
    connection.put_object(bucket, &key, body.clone()).await?;
    let got = connection.get_object(bucket, &key).await?;
    anyhow::ensure!(got.len() == body.len(), "GetObject {key}: {} bytes, put {}", got.len(), body.len());
    Ok(2)
}

/// The small-object body: 4 KB of printable bytes.
pub fn small_body() -> Bytes {
    Bytes::from((0..SMALL_OBJECT_BYTES).map(|i| b'a' + (i % 26) as u8).collect::<Vec<u8>>())
}

/// Small-object PUT+GET on each connection count; each run on its own bucket.
pub async fn small_runs(
    endpoint: &Endpoint,
    bucket_prefix: &str,
    connection_counts: &[usize],
    warmup: Duration,
    duration: Duration,
    pid: Option<u32>,
) -> anyhow::Result<Vec<(usize, load::Outcome)>> {
    let mut connection = endpoint.connect().await?;
    let body = small_body();
    let mut runs = Vec::new();
    for &connections in connection_counts {
        let bucket = format!("{bucket_prefix}-small-{connections}");
        connection.create_bucket(&bucket).await?;
        let operation =
            Operation::S3SmallObject { bucket: Arc::from(bucket.as_str()), next: Arc::default(), body: body.clone() };
        runs.push((connections, load::closed_loop(endpoint, &operation, connections, warmup, duration, pid).await?));
    }
    Ok(runs)
}

/// One large object moved both ways, and `cat` of the same file for the floor.
#[derive(Debug, Clone, Copy)]
pub struct LargeTransfer {
    /// Object size in bytes.
    pub bytes: u64,
    /// PutObject, request sent → answered.
    pub put: Duration,
    /// GetObject, request sent → last byte read.
    pub get: Duration,
}

/// The disk floor of a large transfer: `cat` reading the file, and `cat` copying it to a new file
/// then `sync` of the copy (a PUT answers only once its object is on disk).
#[derive(Debug, Clone, Copy)]
pub struct DiskFloor {
    /// `cat file > /dev/null` (the file in the page cache, as Kumo's object right after its PUT).
    pub read: Duration,
    /// `cat file > copy && sync copy`.
    pub write: Duration,
}

/// Writes the large object's bytes to a file in `dir` and times `cat` on it.
pub async fn disk_floor(dir: &Path, data: &Bytes) -> anyhow::Result<DiskFloor> {
    let source = dir.join("large-object");
    let copy = dir.join("large-object-copy");
    tokio::fs::write(&source, data).await.context("writing the large object's file")?;
    let run = |script: String| async move {
        let start = Instant::now();
        let status = tokio::process::Command::new("sh").args(["-c", &script]).status().await?;
        anyhow::ensure!(status.success(), "`{script}` failed");
        anyhow::Ok(start.elapsed())
    };
    let quoted = |path: &Path| format!("'{}'", path.display().to_string().replace('\'', r"'\''"));
    // A first read brings the file into the page cache, as a fresh PUT leaves Kumo's object.
    run(format!("cat {} > /dev/null", quoted(&source))).await?;
    let read = run(format!("cat {} > /dev/null", quoted(&source))).await?;
    let write = run(format!("cat {} > {copy} && sync {copy}", quoted(&source), copy = quoted(&copy))).await?;
    let _ = tokio::fs::remove_file(&source).await;
    let _ = tokio::fs::remove_file(&copy).await;
    Ok(DiskFloor { read, write })
}

/// PUTs then GETs `data` as one object of a fresh bucket.
pub async fn large_transfer(endpoint: &Endpoint, bucket: &str, data: &Bytes) -> anyhow::Result<LargeTransfer> {
    let mut connection = endpoint.connect().await?;
    connection.create_bucket(bucket).await?;
    let start = Instant::now();
    connection.put_large(bucket, "large", data.clone()).await?;
    let put = start.elapsed();
    let start = Instant::now();
    connection.get_large(bucket, "large", data).await?;
    let get = start.elapsed();
    connection.delete_object(bucket, "large").await?;
    Ok(LargeTransfer { bytes: data.len() as u64, put, get })
}

/// The large object's bytes: a repeating pattern no compression or deduplication could guess
/// cheaply (each 8-byte word is its own offset, scrambled).
pub fn large_body(bytes: usize) -> Bytes {
    let mut data = Vec::with_capacity(bytes + 8);
    let mut word = 0u64;
    while data.len() < bytes {
        data.extend_from_slice(&(word.wrapping_mul(0x9E37_79B9_7F4A_7C15)).to_le_bytes());
        word += 1;
    }
    data.truncate(bytes);
    Bytes::from(data)
}

/// A whole listing of a bucket of many keys.
#[derive(Debug, Clone)]
pub struct Listing {
    /// Keys put, then listed.
    pub keys: usize,
    /// How long putting them took (on N connections).
    pub fill: Duration,
    /// Every ListObjectsV2 page, in order.
    pub pages: Vec<Duration>,
}

impl Listing {
    /// Keys listed per second over the whole listing.
    pub fn keys_per_second(&self) -> f64 {
        let total: Duration = self.pages.iter().sum();
        self.keys as f64 / total.as_secs_f64().max(f64::MIN_POSITIVE)
    }
}

/// Puts `keys` empty objects on `connections` connections, then lists them all, page by page,
/// checking that every key comes back once and in order.
pub async fn listing(endpoint: &Endpoint, bucket: &str, keys: usize, connections: usize) -> anyhow::Result<Listing> {
    let mut connection = endpoint.connect().await?;
    connection.create_bucket(bucket).await?;
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let tasks: Vec<_> = (0..connections.max(1))
        .map(|_| {
            let (endpoint, next, bucket) = (endpoint.clone(), Arc::clone(&next), bucket.to_string());
            tokio::spawn(async move {
                let mut connection = endpoint.connect().await?;
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed) as usize;
                    if index >= keys {
                        return anyhow::Ok(());
                    }
                    connection.put_object(&bucket, &list_key(index), Bytes::new()).await?;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await??;
    }
    let fill = start.elapsed();
    let mut pages = Vec::new();
    let mut listed = 0usize;
    let mut token: Option<String> = None;
    loop {
        let start = Instant::now();
        let (page, next) = connection.list_page(bucket, token.as_deref()).await?;
        pages.push(start.elapsed());
        for key in &page {
            anyhow::ensure!(*key == list_key(listed), "ListObjectsV2: {key} where {} was due", list_key(listed));
            listed += 1;
        }
        match next {
            Some(next) => token = Some(next),
            None => break,
        }
    }
    anyhow::ensure!(listed == keys, "ListObjectsV2 listed {listed} keys of {keys}");
    Ok(Listing { keys, fill, pages })
}

/// The `index`th key of the listing bucket (zero-padded, so that keys sort as they count).
fn list_key(index: usize) -> String {
    format!("transactions/2026/{index:07}.csv")
}

/// What the S3 phase is asked to do.
#[derive(Debug, Clone)]
pub struct S3Settings {
    /// Connection counts of the small-object runs (1 and N).
    pub connections: Vec<usize>,
    /// Unmeasured load before each small-object run.
    pub warmup: Duration,
    /// Measured time of each small-object run.
    pub duration: Duration,
    /// Size of the large object.
    pub large_bytes: usize,
    /// Keys listed on Kumo.
    pub list_keys: usize,
    /// Keys listed on moto (fewer: moto fills a bucket at a few hundred PUTs per second, and a
    /// smaller listing only flatters moto's rate).
    pub moto_list_keys: usize,
    /// Compare with moto (its `moto_server` when given), or not.
    pub moto: Option<Option<std::path::PathBuf>>,
    /// Objects put one at a time for the PUT → Lambda start latency (0: not measured).
    pub lambda_samples: usize,
    /// Runtime of the probe function.
    pub runtime: String,
}

/// The S3 phase: Kumo's figures, the disk floor, then moto's figures on the same workloads.
pub async fn measure(
    settings: &S3Settings,
    endpoint: &Endpoint,
    pid: Option<u32>,
    prefix: &str,
) -> anyhow::Result<crate::report_s3::S3Results> {
    let data = large_body(settings.large_bytes);
    let scratch = tempfile::tempdir().context("creating a scratch directory for the disk floor")?;
    progress(&format!("S3 disk floor: cat of a {} MB file", settings.large_bytes >> 20));
    let floor = disk_floor(scratch.path(), &data).await.map_err(|error| format!("{error:#}"));
    let kumo = server_figures("kumo".to_string(), settings, endpoint, pid, prefix, &data, settings.list_keys).await?;
    let lambda_latency = if settings.lambda_samples == 0 {
        Err("--s3-lambda-samples 0".to_string())
    } else {
        progress(&format!("S3 PUT → Lambda start: {} objects one at a time", settings.lambda_samples));
        let gap = Duration::from_millis(20);
        let measured =
            crate::s3_trigger::put_to_lambda_latency(endpoint, prefix, &settings.runtime, settings.lambda_samples, gap);
        measured.await.map_err(|error| format!("{error:#}"))
    };
    let moto = match &settings.moto {
        None => Err("--no-moto".to_string()),
        Some(explicit) => match crate::sqs::MotoServer::start(explicit.as_deref()).await {
            Err(error) => Err(format!("moto not available: {error:#}")),
            Ok(moto) => {
                let name = format!("moto {}", moto.version);
                let moto_endpoint = Endpoint::resolve(&moto.url).await?;
                let keys = settings.moto_list_keys;
                let measured = server_figures(name, settings, &moto_endpoint, None, prefix, &data, keys).await;
                moto.stop().await;
                measured.map_err(|error| format!("{error:#}"))
            }
        },
    };
    Ok(crate::report_s3::S3Results { kumo, moto, floor, lambda_latency })
}

async fn server_figures(
    name: String,
    settings: &S3Settings,
    endpoint: &Endpoint,
    pid: Option<u32>,
    prefix: &str,
    data: &Bytes,
    list_keys: usize,
) -> anyhow::Result<crate::report_s3::S3Server> {
    progress(&format!("S3 4 KB PUT+GET on {name}"));
    let small = small_runs(endpoint, prefix, &settings.connections, settings.warmup, settings.duration, pid).await?;
    progress(&format!("S3 {} MB object PUT and GET on {name}", data.len() >> 20));
    let large = large_transfer(endpoint, &format!("{prefix}-large"), data).await.map_err(|error| format!("{error:#}"));
    progress(&format!("S3 listing of {list_keys} keys on {name}"));
    let most = settings.connections.iter().copied().max().unwrap_or(1);
    let listing =
        listing(endpoint, &format!("{prefix}-list"), list_keys, most).await.map_err(|error| format!("{error:#}"));
    Ok(crate::report_s3::S3Server { name, small, large, listing })
}

fn progress(message: &str) {
    eprintln!("kumo-bench: {message}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_list_page() {
        let page = "<ListBucketResult><IsTruncated>true</IsTruncated><Contents><Key>a&amp;b</Key></Contents>\
                    <Contents><Key>c</Key></Contents><NextContinuationToken>t&lt;1</NextContinuationToken>\
                    </ListBucketResult>";
        let keys: Vec<String> = elements(page, "Key").map(|key| unescape(key).unwrap()).collect();
        assert_eq!(keys, ["a&b", "c"]);
        assert_eq!(elements(page, "NextContinuationToken").next().map(|t| unescape(t).unwrap()), Some("t<1".into()));
        assert_eq!(elements(page, "Missing").next(), None);
    }

    #[test]
    fn keys_sort_as_they_count_and_bodies_have_their_size() {
        assert!(list_key(9) < list_key(10) && list_key(99_999) < list_key(100_000));
        assert_eq!(small_body().len(), SMALL_OBJECT_BYTES);
        let large = large_body(1_000_003);
        assert_eq!(large.len(), 1_000_003);
        assert_ne!(large[..8], large[8..16]);
    }
}
