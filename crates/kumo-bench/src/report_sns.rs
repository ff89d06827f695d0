//! The SNS part of a run's results (issue #13): publishes accepted and deliveries made per
//! second when a topic fans out to SQS queues, on Kumo and moto, with their targets, table rows
//! and JSON.

use crate::measure::Summary;
use crate::report::{connections_label, format_ms, format_rate, round, Check};
use crate::sns::FanOut;

/// Kumo over moto on every figure (issue #13).
const MOTO_RATIO_TARGET: f64 = 20.0;

/// Everything the SNS phase measured.
#[derive(Debug)]
pub struct SnsResults {
    /// Kumo's run.
    pub kumo: FanOut,
    /// moto's run on the same workload, or why it did not run.
    pub moto: Result<FanOut, String>,
}

impl SnsResults {
    fn label(&self) -> String {
        format!("SNS fan-out to {} SQS queues, {}", self.kumo.subscribers, connections_label(self.kumo.connections))
    }

    /// Kumo's deliveries per second against moto's (≥ 20×), or no errors when moto did not run;
    /// the publish rate likewise.
    pub(crate) fn checks(&self) -> Vec<Check> {
        let name = self.label();
        let kumo = &self.kumo;
        let no_errors = kumo.publish.errors == 0 && kumo.published > 0 && kumo.delivered_after.is_ok();
        let moto = self.moto.as_ref().ok();
        let ratio = |kumo: Option<f64>, moto: Option<f64>| Some(kumo? / moto?.max(f64::MIN_POSITIVE));
        let target = |ratio: Option<f64>| match ratio {
            Some(ratio) => {
                (format!("≥ {MOTO_RATIO_TARGET:.0}× moto (issue #13)"), no_errors && ratio >= MOTO_RATIO_TARGET)
            }
            None => ("no errors".to_string(), no_errors),
        };
        let delivered = ratio(kumo.deliveries_per_second(), moto.and_then(FanOut::deliveries_per_second));
        let (delivered_target, delivered_pass) = target(delivered);
        let published = ratio(Some(kumo.publish.per_second()), moto.map(|moto| moto.publish.per_second()));
        let (published_target, published_pass) = target(published);
        vec![
            Check {
                name: format!("{name}: deliveries"),
                value: kumo.deliveries_per_second().map_or_else(|| "not measured".into(), format_rate),
                target: delivered_target,
                pass: delivered_pass,
            },
            Check {
                name: format!("{name}: publishes"),
                value: format_rate(kumo.publish.per_second()),
                target: published_target,
                pass: published_pass,
            },
        ]
    }

    /// Table rows, moto's under Kumo's.
    pub(crate) fn rows(&self, checks: &[Check]) -> Vec<[String; 5]> {
        let mut rows = Vec::new();
        for check in checks {
            let moto = match &self.moto {
                Ok(moto) => {
                    let value = if check.name.ends_with("deliveries") {
                        moto.deliveries_per_second().map_or_else(|| "failed".into(), format_rate)
                    } else {
                        format_rate(moto.publish.per_second())
                    };
                    [format!("  {}, same workload", moto.server), value, String::new(), String::new(), String::new()]
                }
                Err(why) => {
                    ["  moto, same workload".into(), "skipped".into(), String::new(), why.clone(), String::new()]
                }
            };
            let result = if check.pass { "pass" } else { "FAIL" };
            rows.push([check.name.clone(), check.value.clone(), String::new(), check.target.clone(), result.into()]);
            rows.push(moto);
        }
        let publish = Summary::of(&self.kumo.publish.samples);
        rows.push([
            "  Publish p50 / p99".into(),
            format!("{} / {}", format_ms(publish.p50), format_ms(publish.p99)),
            String::new(),
            String::new(),
            String::new(),
        ]);
        rows
    }

    /// Errors worth a line under the table.
    pub(crate) fn error_lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for run in std::iter::once(&self.kumo).chain(self.moto.as_ref().ok()) {
            if run.publish.errors > 0 {
                let first = run.publish.first_error.as_deref().unwrap_or("");
                lines.push(format!("SNS Publish on {}: {} failed; first: {first}", run.server, run.publish.errors));
            }
            if let Err(error) = &run.delivered_after {
                lines.push(format!("SNS deliveries on {}: {error}", run.server));
            }
        }
        lines
    }

    /// The machine-readable part.
    pub(crate) fn to_json(&self) -> serde_json::Value {
        let run = |run: &FanOut| {
            serde_json::json!({
                "server": run.server,
                "subscribers": run.subscribers,
                "connections": run.connections,
                "published": run.published,
                "publishes_per_s": round(run.publish.per_second()),
                "publish": Summary::of(&run.publish.samples).to_json(),
                "deliveries_per_s": run.deliveries_per_second().map(round),
                "delivery_error": run.delivered_after.as_ref().err(),
            })
        };
        serde_json::json!({
            "kumo": run(&self.kumo),
            "moto": match &self.moto {
                Ok(moto) => run(moto),
                Err(why) => serde_json::json!({ "skipped": why }),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::load::Outcome;

    fn run(server: &str, publishes: usize, delivered_secs: f64) -> FanOut {
        FanOut {
            server: server.to_string(),
            subscribers: 10,
            connections: 8,
            publish: Outcome {
                samples: vec![Duration::from_millis(1); publishes],
                items: publishes,
                elapsed: Duration::from_secs(1),
                ..Outcome::default()
            },
            published: publishes as u64,
            delivered_after: Ok(Duration::from_secs_f64(delivered_secs)),
        }
    }

    #[test]
    fn compares_deliveries_and_publishes_with_moto() {
        let results = SnsResults { kumo: run("kumo", 5_000, 1.0), moto: Ok(run("moto 5.2.1", 100, 1.0)) };
        let checks = results.checks();
        assert_eq!(checks.len(), 2);
        assert!(checks.iter().all(|check| check.pass), "{checks:?}");
        assert_eq!(checks[0].value, "50,000/s");
        let slow = SnsResults { kumo: run("kumo", 1_000, 1.0), moto: Ok(run("moto 5.2.1", 100, 1.0)) };
        assert!(slow.checks().iter().all(|check| !check.pass), "10× moto misses 20×");
        let rows = slow.rows(&slow.checks());
        assert!(rows.iter().any(|row| row[0] == "  moto 5.2.1, same workload" && row[1] == "1,000/s"));
    }
}
