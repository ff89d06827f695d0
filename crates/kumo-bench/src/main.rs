//! `kumo-bench`: Kumo's end-to-end load generator. In one run, on loopback with keep-alive
//! connections, it measures warm sync invoke latency, throughput with 1 and N connections and
//! cold start of a Python echo function, each next to its floor measured in the same run (a bare
//! HTTP round trip to `/_kumo/health`; `python3.x -c pass`), Event-invoke acceptance, SQS
//! send+receive+delete throughput (also against moto's server mode, in the same run) and SQS→Lambda
//! latency, and checks them against the targets.
//!
//! By default it starts its own `kumo serve` (free port, temporary data dir) and stops it at the
//! end; `--endpoint` measures a server that is already running instead.
//!
//! Exit status: 0 when every target is met, 1 when one is missed or a request failed, 2 when the
//! benchmark could not run.

mod lambda;
mod load;
mod measure;
mod report;
mod report_s3;
mod report_services;
mod report_sns;
mod report_sqs;
mod s3;
mod s3_trigger;
mod server;
mod sns;
mod sqs;
mod startup;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use base64::Engine as _;
use clap::Parser;

use crate::lambda::{Connection, Endpoint};
use crate::load::Operation;
use crate::measure::ServerMemory;
use crate::report::{BurstRun, ColdStart, EventRun, IdleRun, KumoInfo, Results, Settings, ThroughputRun};
use crate::server::KumoServer;

/// Measure Kumo's warm invoke latency, throughput and cold start against their floors.
#[derive(Parser, Debug)]
#[command(name = "kumo-bench", version, about)]
struct Args {
    /// Measure a Kumo that is already running at this URL instead of starting one.
    #[arg(long, conflicts_with = "kumo_bin")]
    endpoint: Option<String>,
    /// The kumo binary to start [default: `kumo` next to this binary, else target/release/kumo].
    #[arg(long)]
    kumo_bin: Option<PathBuf>,
    /// Seconds each throughput run is measured for.
    #[arg(long, default_value_t = 5.0)]
    duration: f64,
    /// Seconds of unmeasured load before each throughput run.
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// Runtime of the echo function (a python3.x runtime).
    #[arg(long, default_value = "python3.12")]
    runtime: String,
    /// Sequential invokes timed for warm latency (after 10% as many untimed ones).
    #[arg(long, default_value_t = 2000)]
    warm_requests: usize,
    /// Client connections of the concurrent throughput run.
    #[arg(long, default_value_t = 8)]
    connections: usize,
    /// Client connections of the Event-acceptance runs (comma-separated). The target is checked
    /// on 64: acceptance is a capacity, and with few connections each waits for its own commit.
    #[arg(long, value_delimiter = ',', default_values_t = vec![8usize, 64])]
    event_connections: Vec<usize>,
    /// Fresh functions whose first invoke is timed.
    #[arg(long, default_value_t = 5)]
    cold_starts: usize,
    /// Size of the JSON event in bytes.
    #[arg(long, default_value_t = 1024)]
    payload_bytes: usize,
    /// `MemorySize` of the benchmark functions. The default, 1,769 MB, is one full vCPU on AWS:
    /// Kumo applies AWS's CPU share (128 MB gets 7% of a CPU), and the benchmark measures Kumo's
    /// own overhead, not that quota.
    #[arg(long, default_value_t = 1769)]
    memory: u32,
    /// `python3.x -c pass` runs timed for the process-start floor.
    #[arg(long, default_value_t = 20)]
    python_runs: usize,
    /// Bursts of concurrent 0.5 s invocations to run (comma-separated sizes; 0 for none). Each
    /// leaves that many idle environments, whose memory is measured.
    #[arg(long, value_delimiter = ',', default_values_t = vec![100usize, 500])]
    bursts: Vec<usize>,
    /// Skip the SQS workloads (throughput, SQS→Lambda latency, moto).
    #[arg(long)]
    no_sqs: bool,
    /// Skip the comparison with moto's server mode.
    #[arg(long)]
    no_moto: bool,
    /// The `moto_server` to compare with [default: on PATH, else installed with pip into
    /// /tmp/kumo-bench-moto].
    #[arg(long)]
    moto_server: Option<PathBuf>,
    /// SQS messages sent one at a time to time SQS→Lambda latency.
    #[arg(long, default_value_t = 200)]
    sqs_lambda_samples: usize,
    /// Idle environments to hold at once at the end (one per function, each started by a first
    /// invoke), whose memory is measured; 0 for none.
    #[arg(long, default_value_t = 1000)]
    idle_environments: usize,
    /// Run the S3 workloads only (issue #13): 4 KB PUT+GET on 1 and N connections, one large
    /// object's PUT and GET next to `cat` of the same file, a whole ListObjectsV2 listing; each
    /// against Kumo and moto.
    #[arg(long)]
    s3: bool,
    /// Run the SNS workload only (issue #13), with `--s3` the S3 ones too: Publish on N
    /// connections to a topic fanning out to SQS queues, against Kumo and moto.
    #[arg(long)]
    sns: bool,
    /// SQS queues subscribed to the fan-out topic.
    #[arg(long, default_value_t = 10)]
    sns_subscribers: usize,
    /// Size of the S3 large object, in MB.
    #[arg(long, default_value_t = 1024)]
    s3_large_mb: usize,
    /// Keys put and then listed on Kumo.
    #[arg(long, default_value_t = 100_000)]
    s3_list_keys: usize,
    /// Keys put and then listed on moto.
    #[arg(long, default_value_t = 5_000)]
    s3_moto_list_keys: usize,
    /// Objects put one at a time to time S3 PUT → Lambda start (0: not measured).
    #[arg(long, default_value_t = 200)]
    s3_lambda_samples: usize,
    /// Print the results as JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// One thread is enough to drive Kumo past its target (a request costs the client tens of
/// microseconds), and a single-threaded client leaves the other cores to the server and its
/// execution environments, which share the machine with it.
#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("kumo-bench: {error:#}");
            ExitCode::from(2)
        }
    }
}

/// Runs the benchmark and prints the report; `Ok(passed)`.
async fn run(args: Args) -> anyhow::Result<bool> {
    let settings = validate(&args)?;
    let (server, url) = match &args.endpoint {
        Some(url) => (None, url.clone()),
        None => {
            let binary = args.kumo_bin.clone().unwrap_or_else(KumoServer::default_binary);
            progress(&format!("starting {} serve", binary.display()));
            let server = KumoServer::start(&binary).await?;
            let url = server.url.clone();
            (Some(server), url)
        }
    };
    let kumo = KumoInfo {
        url,
        version: None,
        data_dir: server.as_ref().map(|server| server.data_dir().display().to_string()),
        pid: server.as_ref().and_then(KumoServer::pid),
    };
    // The figures as (JSON, table, passed): one report or the other.
    let measured = if args.s3 || args.sns {
        measure_services(&args, &settings, &kumo)
            .await
            .map(|report| (report.to_json(), report.to_table(), report.passed()))
    } else {
        measure_all(settings, kumo).await.map(|results| (results.to_json(), results.to_table(), results.passed()))
    };
    if let Some(server) = server {
        if measured.is_err() {
            eprintln!("kumo-bench: kumo's log ends with:\n{}", server.log_tail());
        }
        server.stop().await;
    }
    let (json, table, passed) = measured?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        print!("{table}");
    }
    Ok(passed)
}

/// `--s3` / `--sns`: those services' workloads alone, with the health round trip as their
/// HTTP floor.
async fn measure_services(
    args: &Args,
    settings: &Settings,
    kumo: &KumoInfo,
) -> anyhow::Result<report_services::ServicesReport> {
    anyhow::ensure!(args.s3_large_mb >= 1 && args.s3_list_keys >= 1, "--s3-large-mb and --s3-list-keys must be ≥ 1");
    let endpoint = Endpoint::resolve(&kumo.url).await?;
    let mut connection = endpoint.connect().await?;
    let health = connection.health().await.context("GET /_kumo/health")?;
    anyhow::ensure!(health.status.is_success(), "Kumo is not healthy: {}", health.describe());
    let version = serde_json::from_slice::<serde_json::Value>(&health.body)
        .ok()
        .and_then(|report| report["version"].as_str().map(str::to_string));
    let mut connections = vec![1];
    if settings.connections != 1 {
        connections.push(settings.connections);
    }
    let mut health_rates = Vec::new();
    for &count in &connections {
        progress(&format!("health load on {count} connection(s), {:?}", settings.duration));
        let outcome =
            load::closed_loop(&endpoint, &Operation::Health, count, settings.warmup, settings.duration, kumo.pid)
                .await?;
        health_rates.push((count, outcome.per_second()));
    }
    let prefix = function_prefix();
    let s3 = if args.s3 {
        let s3_settings = s3::S3Settings {
            connections,
            warmup: settings.warmup,
            duration: settings.duration,
            large_bytes: args.s3_large_mb << 20,
            list_keys: args.s3_list_keys,
            moto_list_keys: args.s3_moto_list_keys,
            lambda_samples: args.s3_lambda_samples,
            runtime: settings.runtime.clone(),
            moto: settings.moto.clone(),
        };
        Some(s3::measure(&s3_settings, &endpoint, kumo.pid, &prefix).await?)
    } else {
        None
    };
    let sns = if args.sns {
        let (subscribers, count, duration) = (args.sns_subscribers, settings.connections, settings.duration);
        progress(&format!("SNS fan-out to {subscribers} queues on Kumo"));
        let kumo_run = sns::fan_out("kumo".into(), &endpoint, &prefix, subscribers, count, duration, kumo.pid).await?;
        let moto = match &settings.moto {
            None => Err("--no-moto".to_string()),
            Some(explicit) => match sqs::MotoServer::start(explicit.as_deref()).await {
                Err(error) => Err(format!("moto not available: {error:#}")),
                Ok(moto) => {
                    progress(&format!("SNS fan-out to {subscribers} queues on moto {}", moto.version));
                    let name = format!("moto {}", moto.version);
                    let moto_endpoint = Endpoint::resolve(&moto.url).await?;
                    let run = sns::fan_out(name, &moto_endpoint, &prefix, subscribers, count, duration, None).await;
                    moto.stop().await;
                    run.map_err(|error| format!("{error:#}"))
                }
            },
        };
        Some(report_sns::SnsResults { kumo: kumo_run, moto })
    } else {
        None
    };
    Ok(report_services::ServicesReport {
        machine: measure::Machine::describe(),
        command: command_line(),
        kumo: format!("{} at {}", version.as_deref().unwrap_or("?"), kumo.url),
        health: health_rates,
        connections: settings.connections,
        s3,
        sns,
    })
}

fn validate(args: &Args) -> anyhow::Result<Settings> {
    let minor = args
        .runtime
        .strip_prefix("python3.")
        .and_then(|minor| minor.parse::<u32>().ok())
        .with_context(|| format!("--runtime must be a python3.x runtime, got {}", args.runtime))?;
    anyhow::ensure!(args.duration > 0.0 && args.warmup >= 0.0, "--duration must be positive, --warmup not negative");
    anyhow::ensure!(args.connections >= 1 && args.warm_requests >= 1, "--connections and --warm-requests must be ≥ 1");
    anyhow::ensure!(args.payload_bytes >= 14, "--payload-bytes must be at least 14 (the JSON frame)");
    Ok(Settings {
        runtime: args.runtime.clone(),
        python_minor: minor,
        payload_bytes: args.payload_bytes,
        memory_mb: args.memory,
        bursts: args.bursts.iter().copied().filter(|&count| count > 0).collect(),
        idle_environments: args.idle_environments,
        warm_requests: args.warm_requests,
        duration: Duration::from_secs_f64(args.duration),
        warmup: Duration::from_secs_f64(args.warmup),
        connections: args.connections,
        event_connections: args.event_connections.iter().copied().filter(|&count| count > 0).collect(),
        cold_starts: args.cold_starts,
        python_runs: args.python_runs,
        sqs: !args.no_sqs,
        moto: (!args.no_moto).then(|| args.moto_server.clone()),
        sqs_lambda_samples: args.sqs_lambda_samples,
    })
}

fn progress(message: &str) {
    eprintln!("kumo-bench: {message}");
}

/// Every measurement, in an order that keeps them from disturbing each other: floors first, cold
/// starts while no environment is busy, then warm latency, then load.
async fn measure_all(settings: Settings, mut kumo: KumoInfo) -> anyhow::Result<Results> {
    let endpoint = Endpoint::resolve(&kumo.url).await?;
    let mut connection = endpoint.connect().await?;
    let health = connection.health().await.context("GET /_kumo/health")?;
    anyhow::ensure!(health.status.is_success(), "Kumo is not healthy: {}", health.describe());
    let health_report: serde_json::Value = serde_json::from_slice(&health.body).unwrap_or_default();
    kumo.version = health_report["version"].as_str().map(str::to_string);
    let node = health_report["runtimes"]["node"]["major"]
        .as_u64()
        .zip(health_report["runtimes"]["node"]["path"].as_str().map(PathBuf::from));

    let python = measure::find_python(settings.python_minor)
        .with_context(|| format!("no python3.{} or python3 interpreter found", settings.python_minor))?;
    progress(&format!("timing `{} -c pass` ({} runs)", python.display(), settings.python_runs));
    let python_start = {
        let python = python.clone();
        let runs = settings.python_runs;
        tokio::task::spawn_blocking(move || measure::python_start(&python, runs)).await??
    };

    let warmup_count = (settings.warm_requests / 10).max(10);
    progress(&format!("timing {} health round trips", settings.warm_requests));
    let health = load::sequential(&mut connection, &Operation::Health, warmup_count, settings.warm_requests).await;

    let prefix = function_prefix();
    connection.ensure_role().await.context("creating the benchmark's execution role")?;
    let zip = base64::engine::general_purpose::STANDARD.encode(lambda::echo_function_zip()?);
    let payload = lambda::payload_of_size(settings.payload_bytes);
    let mut created = Vec::new();
    let measured = async {
        progress("waiting for the Python zygote");
        let zygote_function = format!("{prefix}-zygote");
        created.push(zygote_function.clone());
        let zygote =
            startup::ready_zygote(&mut connection, &zygote_function, &settings.runtime, &zip, settings.memory_mb)
                .await?;
        progress(&format!("timing {} cold starts", settings.cold_starts));
        let mut cold = Vec::with_capacity(settings.cold_starts);
        for index in 0..settings.cold_starts {
            let name = format!("{prefix}-cold-{index}");
            cold.push(cold_start(&mut connection, &name, &settings.runtime, &zip, settings.memory_mb, &payload).await?);
            created.push(name);
            // Let the new environment go idle before the next one starts.
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let names = |kind: &str| (0..settings.cold_starts).map(|i| format!("{prefix}-{kind}-{i}")).collect::<Vec<_>>();
        progress(&format!("timing {} cold starts of a boto3 client at import", settings.cold_starts));
        let boto3_names = names("boto3");
        created.extend(boto3_names.iter().cloned());
        let mut startups = vec![
            startup::boto3(
                &mut connection,
                &boto3_names,
                &settings.runtime,
                &python,
                settings.memory_mb,
                settings.python_runs,
            )
            .await?,
        ];
        if let Some((major, node)) = &node {
            progress(&format!("timing {} Node.js cold starts", settings.cold_starts));
            let node_names = names("node");
            let warm_up = format!("{prefix}-node-warm-up");
            created.extend(node_names.iter().cloned());
            created.push(warm_up.clone());
            let memory = settings.memory_mb;
            startups.push(
                startup::node(&mut connection, &warm_up, &node_names, *major, node, memory, settings.python_runs)
                    .await?,
            );
        }

        let echo = format!("{prefix}-echo");
        connection.create_function(&echo, &settings.runtime, &zip, settings.memory_mb).await?;
        created.push(echo.clone());
        let invoke = Operation::Invoke { function: Arc::from(echo.as_str()), payload: payload.clone() };
        progress(&format!("timing {} warm invokes", settings.warm_requests));
        let warm = load::sequential(&mut connection, &invoke, warmup_count, settings.warm_requests).await;

        let mut throughput = Vec::new();
        let mut counts = vec![1];
        if settings.connections != 1 {
            counts.push(settings.connections);
        }
        for connections in counts {
            progress(&format!(
                "load on {connections} connection(s): health, then invoke, {:?} each",
                settings.duration
            ));
            let (warmup, duration) = (settings.warmup, settings.duration);
            let health = load::closed_loop(&endpoint, &Operation::Health, connections, warmup, duration, kumo.pid);
            let health = health.await?;
            let invoke = load::closed_loop(&endpoint, &invoke, connections, warmup, duration, kumo.pid).await?;
            throughput.push(ThroughputRun { connections, health, invoke });
        }

        // Event invokes of a function with reserved concurrency 0: every event is stored and
        // held (throttled), so the run measures durable acceptance alone.
        let held = format!("{prefix}-held");
        connection.create_function(&held, &settings.runtime, &zip, settings.memory_mb).await?;
        created.push(held.clone());
        connection.put_function_concurrency(&held, 0).await?;
        let event = Operation::InvokeEvent { function: Arc::from(held.as_str()), payload: payload.clone() };
        let mut events = Vec::new();
        for &connections in &settings.event_connections {
            progress(&format!("accepting Event invokes on {connections} connection(s), {:?}", settings.duration));
            let outcome =
                load::closed_loop(&endpoint, &event, connections, settings.warmup, settings.duration, kumo.pid).await?;
            events.push(EventRun { connections, outcome });
        }
        let sqs = if settings.sqs {
            let latency_function = format!("{prefix}-sqs-probe");
            created.push(latency_function.clone());
            Some(measure_sqs(&settings, &endpoint, kumo.pid, &mut connection, &prefix, &latency_function).await?)
        } else {
            None
        };
        // Bursts of concurrent 0.5 s invocations of a fresh function: how fast Kumo scales out.
        let sleeper_zip = base64::engine::general_purpose::STANDARD.encode(lambda::sleeper_function_zip()?);
        let mut bursts = Vec::new();
        for count in settings.bursts.clone() {
            let name = format!("{prefix}-burst-{count}");
            connection.create_function(&name, &settings.runtime, &sleeper_zip, settings.memory_mb).await?;
            created.push(name.clone());
            progress(&format!("burst of {count} concurrent 0.5 s invocations"));
            let memory_before = server_memory(kumo.pid).await;
            let burst = load::burst(&endpoint, &name, bytes::Bytes::from_static(br#"{"sleep": 0.5}"#), count).await?;
            let status = connection.status().await?;
            let key = format!("us-east-1/{name}:$LATEST");
            let environments = status["pools"][&key]["idle"].as_u64().unwrap_or(0) as usize;
            let memory = memory_before.zip(server_memory(kumo.pid).await);
            bursts.push(BurstRun { burst, environments, memory });
        }
        let idle = if settings.idle_environments > 0 {
            progress(&format!("starting {} idle environments", settings.idle_environments));
            let names: Vec<String> = (0..settings.idle_environments).map(|i| format!("{prefix}-idle-{i}")).collect();
            created.extend(names.iter().cloned());
            let memory_before = server_memory(kumo.pid).await;
            let started = startup::idle_environments(&endpoint, &names, &settings.runtime, &zip, 128).await?;
            let status = connection.status().await?;
            let environments = names
                .iter()
                .map(|name| status["pools"][format!("us-east-1/{name}:$LATEST")]["idle"].as_u64().unwrap_or(0))
                .sum::<u64>() as usize;
            let memory = memory_before.zip(server_memory(kumo.pid).await);
            Some(IdleRun { requested: names.len(), started, environments, memory })
        } else {
            None
        };
        anyhow::Ok((cold, warm, throughput, events, bursts, sqs, zygote, startups, idle))
    }
    .await;

    for name in &created {
        if let Err(error) = connection.delete_function(name).await {
            progress(&format!("cleanup: {error:#}"));
        }
    }
    let (cold, warm, throughput, events, bursts, sqs, zygote, startups, idle) = measured?;
    Ok(Results {
        machine: measure::Machine::describe(),
        command: command_line(),
        kumo,
        settings,
        python,
        python_start,
        health,
        warm,
        throughput,
        events,
        bursts,
        cold,
        sqs,
        zygote,
        startups,
        idle,
    })
}

/// The server's memory and that of everything below it, when kumo-bench started it.
async fn server_memory(pid: Option<u32>) -> Option<ServerMemory> {
    let pid = pid?;
    tokio::task::spawn_blocking(move || ServerMemory::read(pid)).await.ok()
}

/// The SQS workloads: send+receive+delete cycles, unbatched and batched, on 1 and N connections
/// against Kumo, the SQS→Lambda latency, then the same cycles against moto.
async fn measure_sqs(
    settings: &Settings,
    endpoint: &Endpoint,
    kumo_pid: Option<u32>,
    connection: &mut Connection,
    prefix: &str,
    latency_function: &str,
) -> anyhow::Result<report_sqs::SqsResults> {
    let mut runs = Vec::new();
    progress("SQS send+receive+delete on Kumo");
    runs.extend(sqs_runs("kumo", settings, endpoint, kumo_pid, prefix).await?);

    progress(&format!("SQS→Lambda latency: {} messages one at a time", settings.sqs_lambda_samples));
    let lambda_latency = async {
        let queue_url = connection.create_queue(&format!("{prefix}-probe")).await?;
        let zip = base64::engine::general_purpose::STANDARD.encode(sqs::probe_function_zip()?);
        connection.create_function(latency_function, &settings.runtime, &zip, settings.memory_mb).await?;
        let arn = connection.queue_arn(&queue_url).await?;
        let mapping = connection.create_event_source_mapping(&arn, latency_function, 1).await?;
        let gap = Duration::from_millis(20);
        let measured =
            sqs::lambda_latency(connection, &queue_url, latency_function, settings.sqs_lambda_samples, gap).await;
        connection.delete_event_source_mapping(&mapping).await?;
        connection.delete_queue(&queue_url).await?;
        measured
    }
    .await
    .map_err(|error| format!("{error:#}"));

    let moto = match &settings.moto {
        None => Err("--no-moto".to_string()),
        Some(explicit) => match sqs::MotoServer::start(explicit.as_deref()).await {
            Err(error) => {
                progress(&format!("moto is not available, skipping it: {error:#}"));
                Err(format!("moto not available: {error:#}"))
            }
            Ok(moto) => {
                progress(&format!("SQS send+receive+delete on moto {} at {}", moto.version, moto.url));
                let moto_endpoint = Endpoint::resolve(&moto.url).await?;
                let measured = sqs_runs("moto", settings, &moto_endpoint, None, prefix).await;
                let version = moto.version.clone();
                moto.stop().await;
                match measured {
                    Ok(measured) => {
                        runs.extend(measured);
                        Ok(version)
                    }
                    Err(error) => Err(format!("moto {version} failed: {error:#}")),
                }
            }
        },
    };
    Ok(report_sqs::SqsResults { runs, moto, lambda_latency })
}

/// Unbatched and batched cycles on 1 and N connections, each on a fresh queue (`pid`: the
/// server's, to read its CPU time).
async fn sqs_runs(
    server: &'static str,
    settings: &Settings,
    endpoint: &Endpoint,
    pid: Option<u32>,
    prefix: &str,
) -> anyhow::Result<Vec<report_sqs::SqsRun>> {
    let mut connection = endpoint.connect().await?;
    let body = sqs::message_body();
    let mut runs = Vec::new();
    let mut counts = vec![1];
    if settings.connections != 1 {
        counts.push(settings.connections);
    }
    for batched in [false, true] {
        for &connections in &counts {
            let queue_name = format!("{prefix}-{}-{connections}", if batched { "batched" } else { "single" });
            let queue_url = connection.create_queue(&queue_name).await?;
            let operation =
                Operation::SqsCycle { queue_url: Arc::from(queue_url.as_str()), batched, body: Arc::clone(&body) };
            let outcome =
                load::closed_loop(endpoint, &operation, connections, settings.warmup, settings.duration, pid).await?;
            connection.delete_queue(&queue_url).await?;
            runs.push(report_sqs::SqsRun { server, batched, connections, outcome });
        }
    }
    Ok(runs)
}

/// Creates a fresh function and times its first invoke, client-observed.
pub(crate) async fn cold_start(
    connection: &mut Connection,
    name: &str,
    runtime: &str,
    zip: &str,
    memory_mb: u32,
    payload: &bytes::Bytes,
) -> anyhow::Result<ColdStart> {
    let start = Instant::now();
    connection.create_function(name, runtime, zip, memory_mb).await?;
    let create = start.elapsed();
    let start = Instant::now();
    let reply = connection.invoke(name, payload.clone(), true).await?;
    let first_invoke = start.elapsed();
    let ok = reply.status == hyper::StatusCode::OK
        && !reply.headers.contains_key("x-amz-function-error")
        && lambda::is_echo(&reply.body, payload);
    Ok(ColdStart {
        create,
        first_invoke,
        init_duration_ms: lambda::init_duration_ms(&reply),
        error: (!ok).then(|| reply.describe()),
    })
}

/// A name prefix no earlier run used, so that `--endpoint` runs do not collide.
fn function_prefix() -> String {
    let seconds = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    format!("kumo-bench-{}-{seconds}", std::process::id())
}

/// This process's command line, quoted for a shell where needed.
fn command_line() -> String {
    std::env::args()
        .map(|arg| {
            let plain = !arg.is_empty() && arg.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:=,@+%".contains(c));
            if plain {
                arg
            } else {
                format!("'{}'", arg.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}
