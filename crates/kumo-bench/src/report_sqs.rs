//! The SQS part of a run's results: send+receive+delete throughput on Kumo and moto, and the
//! SQS→Lambda latency, with their targets (issue #5), table rows and JSON.

use std::time::Duration;

use crate::load::Outcome;
use crate::measure::{ms, Summary};
use crate::report::{connections_label, format_ms, format_rate, round, Check, ThroughputRun};

/// Messages per second through SendMessageBatch+ReceiveMessage+DeleteMessageBatch (issue #5).
const SQS_BATCHED_TARGET: f64 = 10_000.0;
/// SQS→Lambda latency p50, send → handler start, at idle (issue #5), in µs.
const SQS_LAMBDA_P50_TARGET_US: u64 = 20_000;

/// One send+receive+delete load run.
#[derive(Debug)]
pub struct SqsRun {
    /// `kumo` or `moto`.
    pub server: &'static str,
    /// Ten messages per request.
    pub batched: bool,
    /// Client connections.
    pub connections: usize,
    /// Cycles (samples) and messages deleted (items).
    pub outcome: Outcome,
}

impl SqsRun {
    fn label(&self) -> String {
        let kind = if self.batched { "batched" } else { "unbatched" };
        format!("SQS {kind}, {}", connections_label(self.connections))
    }
}

/// Everything the SQS phase measured.
#[derive(Debug)]
pub struct SqsResults {
    /// Throughput runs, Kumo's first, then moto's.
    pub runs: Vec<SqsRun>,
    /// moto's version, or why it did not run.
    pub moto: Result<String, String>,
    /// Send → handler start latencies, or why they could not be measured.
    pub lambda_latency: Result<Vec<Duration>, String>,
}

fn messages_per_second(rate: f64) -> String {
    format_rate(rate).replace("/s", " msg/s")
}

impl SqsResults {
    fn kumo_runs(&self) -> impl Iterator<Item = &SqsRun> {
        self.runs.iter().filter(|run| run.server == "kumo")
    }

    fn moto_run(&self, like: &SqsRun) -> Option<&SqsRun> {
        self.runs
            .iter()
            .find(|run| run.server == "moto" && run.batched == like.batched && run.connections == like.connections)
    }

    /// The targets: the batched rate on the most connections, the latency p50, and no errors
    /// from Kumo (moto's errors are reported, not held against Kumo).
    pub(crate) fn checks(&self, target_connections: usize) -> Vec<Check> {
        let mut checks = Vec::new();
        for run in self.kumo_runs() {
            let rate = run.outcome.items_per_second();
            let no_errors = run.outcome.errors == 0 && run.outcome.items > 0;
            let (target, pass) = if run.batched && run.connections == target_connections {
                (
                    format!("≥ {} (issue #5)", messages_per_second(SQS_BATCHED_TARGET)),
                    no_errors && rate >= SQS_BATCHED_TARGET,
                )
            } else {
                ("no errors".to_string(), no_errors)
            };
            checks.push(Check { name: run.label(), value: messages_per_second(rate), target, pass });
        }
        let latency = self.lambda_latency.as_ref().map(|samples| Summary::of(samples));
        checks.push(Check {
            name: "SQS→Lambda p50".to_string(),
            value: latency.as_ref().map_or_else(|error| format!("not measured: {error}"), |s| format_ms(s.p50)),
            target: format!("≤ {} (issue #5)", format_ms(SQS_LAMBDA_P50_TARGET_US)),
            pass: latency.is_ok_and(|s| s.count > 0 && s.p50 <= SQS_LAMBDA_P50_TARGET_US),
        });
        checks
    }

    /// Table rows; each Kumo run's floor is the health round trip on as many connections.
    pub(crate) fn rows(&self, checks: &[Check], throughput: &[ThroughputRun]) -> Vec<[String; 5]> {
        let check = |name: &str| checks.iter().find(|check| check.name == name);
        let mut rows = Vec::new();
        for run in self.kumo_runs() {
            let name = run.label();
            let floor = throughput
                .iter()
                .find(|floor| floor.connections == run.connections)
                .map_or(String::new(), |floor| format!("{} health", format_rate(floor.health.per_second())));
            let cycle = Summary::of(&run.outcome.samples);
            rows.push([
                name.clone(),
                messages_per_second(run.outcome.items_per_second()),
                floor,
                check(&name).map_or(String::new(), |c| c.target.clone()),
                check(&name).map_or("", |c| if c.pass { "pass" } else { "FAIL" }).to_string(),
            ]);
            rows.push([
                "  cycle p50 / p99".into(),
                format!("{} / {}", format_ms(cycle.p50), format_ms(cycle.p99)),
                String::new(),
                String::new(),
                String::new(),
            ]);
            let moto = match (self.moto_run(run), &self.moto) {
                (Some(moto), Ok(version)) => {
                    let ratio = run.outcome.items_per_second() / moto.outcome.items_per_second().max(f64::MIN_POSITIVE);
                    let errors = if moto.outcome.errors > 0 {
                        format!(", {} errors", moto.outcome.errors)
                    } else {
                        String::new()
                    };
                    [
                        format!("  moto {version}, same workload"),
                        messages_per_second(moto.outcome.items_per_second()),
                        String::new(),
                        format!("Kumo {ratio:.1}× moto{errors}"),
                        String::new(),
                    ]
                }
                (_, Err(why)) => {
                    ["  moto, same workload".into(), "skipped".into(), String::new(), why.clone(), String::new()]
                }
                (None, Ok(_)) => continue,
            };
            rows.push(moto);
        }
        let name = "SQS→Lambda p50";
        match &self.lambda_latency {
            Ok(samples) => {
                let latency = Summary::of(samples);
                rows.push([
                    format!("SQS→Lambda p50 (of {}, idle)", latency.count),
                    format_ms(latency.p50),
                    String::new(),
                    check(name).map_or(String::new(), |c| c.target.clone()),
                    check(name).map_or("", |c| if c.pass { "pass" } else { "FAIL" }).to_string(),
                ]);
                rows.push([
                    "  p90 / p99 / max".into(),
                    format!("{} / {} / {}", format_ms(latency.p90), format_ms(latency.p99), format_ms(latency.max)),
                    String::new(),
                    String::new(),
                    String::new(),
                ]);
            }
            Err(error) => rows.push([
                "SQS→Lambda p50".into(),
                format!("not measured: {error}"),
                String::new(),
                String::new(),
                "FAIL".into(),
            ]),
        }
        rows
    }

    /// Errors worth a line under the table.
    pub(crate) fn error_lines(&self) -> Vec<String> {
        self.runs
            .iter()
            .filter(|run| run.outcome.errors > 0)
            .map(|run| {
                let first = run.outcome.first_error.as_deref().unwrap_or("");
                format!("{} on {}: {} failed cycles; first: {first}", run.label(), run.server, run.outcome.errors)
            })
            .collect()
    }

    /// The machine-readable part.
    pub(crate) fn to_json(&self) -> serde_json::Value {
        let runs: Vec<serde_json::Value> = self
            .runs
            .iter()
            .map(|run| {
                let mut cycle = Summary::of(&run.outcome.samples).to_json();
                cycle["errors"] = run.outcome.errors.into();
                cycle["first_error"] = run.outcome.first_error.clone().into();
                cycle["kumo_cpu_us_per_request"] = run.outcome.cpu_per_request().map(crate::report::cpu_micros).into();
                serde_json::json!({
                    "server": run.server,
                    "batched": run.batched,
                    "connections": run.connections,
                    "messages_per_s": round(run.outcome.items_per_second()),
                    "cycle": cycle,
                })
            })
            .collect();
        serde_json::json!({
            "runs": runs,
            "moto": match &self.moto {
                Ok(version) => serde_json::json!({ "version": version }),
                Err(why) => serde_json::json!({ "skipped": why }),
            },
            "lambda_latency": match &self.lambda_latency {
                Ok(samples) => Summary::of(samples).to_json(),
                Err(error) => serde_json::json!({ "error": error }),
            },
            "lambda_latency_target_p50_ms": ms(SQS_LAMBDA_P50_TARGET_US),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(server: &'static str, batched: bool, connections: usize, messages: usize) -> SqsRun {
        let outcome = Outcome {
            samples: vec![Duration::from_millis(1); messages / 10],
            items: messages,
            elapsed: Duration::from_secs(2),
            ..Outcome::default()
        };
        SqsRun { server, batched, connections, outcome }
    }

    #[test]
    fn checks_the_batched_rate_and_the_latency_and_compares_with_moto() {
        let results = SqsResults {
            runs: vec![run("kumo", true, 8, 25_000), run("kumo", false, 8, 4_000), run("moto", true, 8, 400)],
            moto: Ok("5.2.5".to_string()),
            lambda_latency: Ok(vec![Duration::from_millis(2); 10]),
        };
        let checks = results.checks(8);
        let names: Vec<(&str, bool)> = checks.iter().map(|c| (c.name.as_str(), c.pass)).collect();
        assert_eq!(names, [("SQS batched, 8 conns", true), ("SQS unbatched, 8 conns", true), ("SQS→Lambda p50", true)]);
        assert_eq!(checks[0].value, "12,500 msg/s");
        let rows = results.rows(&checks, &[]);
        assert!(rows.iter().any(|row| row[0] == "  moto 5.2.5, same workload" && row[3] == "Kumo 62.5× moto"));

        let slow = SqsResults {
            runs: vec![run("kumo", true, 8, 10_000)],
            moto: Err("--no-moto".to_string()),
            lambda_latency: Err("no mapping".to_string()),
        };
        let checks = slow.checks(8);
        assert!(checks.iter().all(|check| !check.pass), "5,000 msg/s and no latency both miss");
        assert!(slow.rows(&checks, &[]).iter().any(|row| row[1] == "skipped" && row[3] == "--no-moto"));
    }
}
