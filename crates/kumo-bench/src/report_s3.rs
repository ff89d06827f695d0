//! The S3 part of a run's results (issue #13): small-object PUT+GET rates, a large object's
//! throughput next to the disk floor, and a whole listing's rate, on Kumo and moto, with their
//! targets, table rows and JSON.

use std::time::Duration;

use crate::load::Outcome;
use crate::measure::Summary;
use crate::report::{connections_label, format_ms, format_rate, round, Check};
use crate::s3::{DiskFloor, LargeTransfer, Listing};

/// Small-object operations per second on the most connections (issue #13).
const SMALL_OPS_TARGET: f64 = 5_000.0;
/// A large object's PUT and GET throughput as a share of the disk floor (issue #13).
const LARGE_FLOOR_SHARE_TARGET: f64 = 0.5;
/// Kumo over moto on every figure (issue #13).
const MOTO_RATIO_TARGET: f64 = 20.0;
/// S3 PUT → Lambda handler start, median (issue #13).
const TRIGGER_P50_TARGET: Duration = Duration::from_millis(20);

/// One server's figures.
#[derive(Debug)]
pub struct S3Server {
    /// `kumo` or `moto <version>`.
    pub name: String,
    /// Small-object runs: connections and their outcome (items are operations).
    pub small: Vec<(usize, Outcome)>,
    /// The large object's transfer, or why it failed.
    pub large: Result<LargeTransfer, String>,
    /// The listing, or why it failed.
    pub listing: Result<Listing, String>,
}

/// Everything the S3 phase measured.
#[derive(Debug)]
pub struct S3Results {
    /// Kumo's figures.
    pub kumo: S3Server,
    /// moto's figures, or why it did not run.
    pub moto: Result<S3Server, String>,
    /// `cat` of the large object's file.
    pub floor: Result<DiskFloor, String>,
    /// S3 PUT → Lambda start latencies on Kumo (moto has no notifications to compare with), or
    /// why they were not measured.
    pub lambda_latency: Result<Vec<Duration>, String>,
}

fn ops(rate: f64) -> String {
    format_rate(rate).replace("/s", " ops/s")
}

fn megabytes_per_second(bytes: u64, took: Duration) -> f64 {
    bytes as f64 / 1_048_576.0 / took.as_secs_f64().max(f64::MIN_POSITIVE)
}

fn mbps(rate: f64) -> String {
    format!("{rate:.0} MB/s")
}

fn keys_per_second(rate: f64) -> String {
    format_rate(rate).replace("/s", " keys/s")
}

impl S3Server {
    fn small_rate(&self, connections: usize) -> Option<f64> {
        self.small.iter().find(|(count, _)| *count == connections).map(|(_, outcome)| outcome.items_per_second())
    }
}

impl S3Results {
    fn moto_ratio(&self, kumo: f64, moto: impl Fn(&S3Server) -> Option<f64>) -> Option<f64> {
        let moto = moto(self.moto.as_ref().ok()?)?;
        Some(kumo / moto.max(f64::MIN_POSITIVE))
    }

    fn small_label(connections: usize) -> String {
        format!("S3 4 KB PUT+GET, {}", connections_label(connections))
    }

    fn large_label(kind: &str, bytes: u64) -> String {
        format!("S3 {} MB object {kind}", bytes / 1_048_576)
    }

    fn listing_label(keys: usize) -> String {
        format!("S3 ListObjectsV2, {keys} keys")
    }

    const TRIGGER_LABEL: &'static str = "S3 PUT → Lambda start p50";

    /// The targets: the small-object rate on the most connections, the large transfer against
    /// the disk floor, ≥ 20× moto on every figure moto was measured on, and no errors.
    pub(crate) fn checks(&self, target_connections: usize) -> Vec<Check> {
        let mut checks = Vec::new();
        let moto_target = format!("≥ {MOTO_RATIO_TARGET:.0}× moto (issue #13)");
        for (connections, outcome) in &self.kumo.small {
            let rate = outcome.items_per_second();
            let no_errors = outcome.errors == 0 && outcome.items > 0;
            let name = Self::small_label(*connections);
            let (target, pass) = if *connections == target_connections {
                (format!("≥ {} (issue #13)", ops(SMALL_OPS_TARGET)), no_errors && rate >= SMALL_OPS_TARGET)
            } else {
                ("no errors".to_string(), no_errors)
            };
            checks.push(Check { name: name.clone(), value: ops(rate), target, pass });
            if let Some(ratio) = self.moto_ratio(rate, |moto| moto.small_rate(*connections)) {
                let pass = no_errors && ratio >= MOTO_RATIO_TARGET;
                checks.push(Check {
                    name: format!("{name} vs moto"),
                    value: format!("{ratio:.1}×"),
                    target: moto_target.clone(),
                    pass,
                });
            }
        }
        match (&self.kumo.large, &self.floor) {
            (Ok(large), Ok(floor)) => {
                for (kind, took, floor) in [("PUT", large.put, floor.write), ("GET", large.get, floor.read)] {
                    let rate = megabytes_per_second(large.bytes, took);
                    let floor_rate = megabytes_per_second(large.bytes, floor);
                    let name = Self::large_label(kind, large.bytes);
                    checks.push(Check {
                        name: name.clone(),
                        value: mbps(rate),
                        target: format!("≥ {:.0}% of the disk floor (issue #13)", LARGE_FLOOR_SHARE_TARGET * 100.0),
                        pass: rate >= LARGE_FLOOR_SHARE_TARGET * floor_rate,
                    });
                    let moto_took = |moto: &S3Server| {
                        let moto = moto.large.as_ref().ok()?;
                        Some(megabytes_per_second(moto.bytes, if kind == "PUT" { moto.put } else { moto.get }))
                    };
                    if let Some(ratio) = self.moto_ratio(rate, moto_took) {
                        let pass = ratio >= MOTO_RATIO_TARGET;
                        checks.push(Check {
                            name: format!("{name} vs moto"),
                            value: format!("{ratio:.1}×"),
                            target: moto_target.clone(),
                            pass,
                        });
                    }
                }
            }
            (large, floor) => {
                let why = large.as_ref().err().or(floor.as_ref().err()).cloned().unwrap_or_default();
                checks.push(Check {
                    name: "S3 large object".into(),
                    value: format!("not measured: {why}"),
                    target: String::new(),
                    pass: false,
                });
            }
        }
        match &self.kumo.listing {
            Ok(listing) => {
                let rate = listing.keys_per_second();
                let name = Self::listing_label(listing.keys);
                let ratio = self.moto_ratio(rate, |moto| moto.listing.as_ref().ok().map(Listing::keys_per_second));
                let (target, pass) = match ratio {
                    Some(ratio) => (moto_target.clone(), ratio >= MOTO_RATIO_TARGET),
                    None => ("no errors".to_string(), true),
                };
                checks.push(Check { name, value: keys_per_second(rate), target, pass });
            }
            Err(why) => checks.push(Check {
                name: "S3 ListObjectsV2".into(),
                value: format!("not measured: {why}"),
                target: String::new(),
                pass: false,
            }),
        }
        if let Ok(latencies) = &self.lambda_latency {
            let p50 = Summary::of(latencies).p50;
            checks.push(Check {
                name: Self::TRIGGER_LABEL.into(),
                value: format_ms(p50),
                target: format!("≤ {} (issue #13)", format_ms(micros(TRIGGER_P50_TARGET))),
                pass: !latencies.is_empty() && p50 <= micros(TRIGGER_P50_TARGET),
            });
        }
        checks
    }

    /// Table rows: Kumo's figures, each with moto's under it; small runs' floor is the health
    /// round trip on as many connections, when the run measured it.
    pub(crate) fn rows(&self, checks: &[Check], health: &[(usize, f64)]) -> Vec<[String; 5]> {
        let check = |name: &str| checks.iter().find(|check| check.name == name);
        let target = |name: &str| check(name).map_or(String::new(), |c| c.target.clone());
        let result = |name: &str| check(name).map_or("", |c| if c.pass { "pass" } else { "FAIL" }).to_string();
        let moto_row = |figure: Option<String>, name: &str| -> Option<[String; 5]> {
            let label = match &self.moto {
                Ok(moto) => format!("  {}, same workload", moto.name),
                Err(why) => {
                    return Some([
                        "  moto, same workload".into(),
                        "skipped".into(),
                        String::new(),
                        why.clone(),
                        String::new(),
                    ])
                }
            };
            let vs = format!("{name} vs moto");
            let ratio = check(&vs).map_or(String::new(), |c| format!("Kumo {} moto", c.value));
            Some([label, figure.unwrap_or_else(|| "failed".into()), String::new(), ratio, result(&vs)])
        };
        let mut rows = Vec::new();
        for (connections, outcome) in &self.kumo.small {
            let name = Self::small_label(*connections);
            let floor = health
                .iter()
                .find(|(count, _)| count == connections)
                .map_or(String::new(), |(_, rate)| format!("{} health", format_rate(*rate)));
            rows.push([name.clone(), ops(outcome.items_per_second()), floor, target(&name), result(&name)]);
            let cycle = Summary::of(&outcome.samples);
            rows.push([
                "  PUT+GET p50 / p99".into(),
                format!("{} / {}", format_ms(cycle.p50), format_ms(cycle.p99)),
                String::new(),
                String::new(),
                String::new(),
            ]);
            let moto = self.moto.as_ref().ok().and_then(|moto| moto.small_rate(*connections)).map(ops);
            rows.extend(moto_row(moto, &name));
        }
        if let (Ok(large), Ok(floor)) = (&self.kumo.large, &self.floor) {
            for (kind, took, floor) in [("PUT", large.put, floor.write), ("GET", large.get, floor.read)] {
                let name = Self::large_label(kind, large.bytes);
                let floor_label = if kind == "PUT" { "cat > file; sync" } else { "cat file" };
                rows.push([
                    name.clone(),
                    mbps(megabytes_per_second(large.bytes, took)),
                    format!("{} {floor_label}", mbps(megabytes_per_second(large.bytes, floor))),
                    target(&name),
                    result(&name),
                ]);
                let moto = self.moto.as_ref().ok().and_then(|moto| moto.large.as_ref().ok()).map(|moto| {
                    mbps(megabytes_per_second(moto.bytes, if kind == "PUT" { moto.put } else { moto.get }))
                });
                rows.extend(moto_row(moto, &name));
            }
        }
        if let Ok(listing) = &self.kumo.listing {
            let name = Self::listing_label(listing.keys);
            let pages = Summary::of(&listing.pages);
            rows.push([
                name.clone(),
                keys_per_second(listing.keys_per_second()),
                String::new(),
                target(&name),
                result(&name),
            ]);
            rows.push([
                format!("  page of {} p50 / p99", 1000),
                format!("{} / {}", format_ms(pages.p50), format_ms(pages.p99)),
                format!("filled in {}", format_ms(pages_micros(listing.fill))),
                String::new(),
                String::new(),
            ]);
            let moto = self.moto.as_ref().ok().and_then(|moto| moto.listing.as_ref().ok());
            let figure = moto.map(|moto| format!("{} ({} keys)", keys_per_second(moto.keys_per_second()), moto.keys));
            rows.extend(moto_row(figure, &name));
        }
        if let Ok(latencies) = &self.lambda_latency {
            let summary = Summary::of(latencies);
            let name = Self::TRIGGER_LABEL;
            rows.push([
                name.into(),
                format_ms(summary.p50),
                format!("p99 {}, {} objects", format_ms(summary.p99), latencies.len()),
                target(name),
                result(name),
            ]);
        }
        rows
    }

    /// Errors worth a line under the table.
    pub(crate) fn error_lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for server in std::iter::once(&self.kumo).chain(self.moto.as_ref().ok()) {
            for (connections, outcome) in &server.small {
                if outcome.errors > 0 {
                    let first = outcome.first_error.as_deref().unwrap_or("");
                    let label = Self::small_label(*connections);
                    lines.push(format!("{label} on {}: {} failed; first: {first}", server.name, outcome.errors));
                }
            }
            if let Err(error) = &server.large {
                lines.push(format!("S3 large object on {}: {error}", server.name));
            }
            if let Err(error) = &server.listing {
                lines.push(format!("S3 listing on {}: {error}", server.name));
            }
        }
        if let Err(error) = &self.lambda_latency {
            lines.push(format!("S3 PUT → Lambda start on kumo: {error}"));
        }
        lines
    }

    /// The machine-readable part.
    pub(crate) fn to_json(&self) -> serde_json::Value {
        let server = |server: &S3Server| {
            let small: Vec<serde_json::Value> = server
                .small
                .iter()
                .map(|(connections, outcome)| {
                    let mut cycle = Summary::of(&outcome.samples).to_json();
                    cycle["errors"] = outcome.errors.into();
                    serde_json::json!({
                        "connections": connections,
                        "ops_per_s": round(outcome.items_per_second()),
                        "put_get": cycle,
                    })
                })
                .collect();
            serde_json::json!({
                "name": server.name,
                "small": small,
                "large": match &server.large {
                    Ok(large) => serde_json::json!({
                        "bytes": large.bytes,
                        "put_mb_per_s": round(megabytes_per_second(large.bytes, large.put)),
                        "get_mb_per_s": round(megabytes_per_second(large.bytes, large.get)),
                    }),
                    Err(error) => serde_json::json!({ "error": error }),
                },
                "listing": match &server.listing {
                    Ok(listing) => serde_json::json!({
                        "keys": listing.keys,
                        "keys_per_s": round(listing.keys_per_second()),
                        "page": Summary::of(&listing.pages).to_json(),
                        "fill_s": round(listing.fill.as_secs_f64()),
                    }),
                    Err(error) => serde_json::json!({ "error": error }),
                },
            })
        };
        serde_json::json!({
            "kumo": server(&self.kumo),
            "moto": match &self.moto {
                Ok(moto) => server(moto),
                Err(why) => serde_json::json!({ "skipped": why }),
            },
            "disk_floor": match &self.floor {
                Ok(floor) => serde_json::json!({
                    "read_s": round(floor.read.as_secs_f64()),
                    "write_sync_s": round(floor.write.as_secs_f64()),
                }),
                Err(error) => serde_json::json!({ "error": error }),
            },
            "put_to_lambda_start": match &self.lambda_latency {
                Ok(latencies) => Summary::of(latencies).to_json(),
                Err(error) => serde_json::json!({ "error": error }),
            },
        })
    }
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

fn pages_micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(operations: usize) -> Outcome {
        Outcome {
            samples: vec![Duration::from_millis(1); operations / 2],
            items: operations,
            elapsed: Duration::from_secs(1),
            ..Outcome::default()
        }
    }

    fn server(name: &str, small_ops: usize, large_secs: f64, listing_secs: f64) -> S3Server {
        let took = Duration::from_secs_f64(large_secs);
        S3Server {
            name: name.to_string(),
            small: vec![(8, outcome(small_ops))],
            large: Ok(LargeTransfer { bytes: 1 << 30, put: took, get: took }),
            listing: Ok(Listing {
                keys: 1000,
                fill: Duration::from_secs(1),
                pages: vec![Duration::from_secs_f64(listing_secs)],
            }),
        }
    }

    #[test]
    fn checks_the_targets_against_the_floor_and_moto() {
        let floor = DiskFloor { read: Duration::from_secs(1), write: Duration::from_secs(2) };
        let results = S3Results {
            kumo: server("kumo", 6_000, 1.5, 0.01),
            moto: Ok(server("moto 5.2.1", 200, 40.0, 1.0)),
            floor: Ok(floor),
            lambda_latency: Err("--s3-lambda-samples 0".into()),
        };
        let checks = results.checks(8);
        let verdicts: Vec<(&str, bool)> = checks.iter().map(|c| (c.name.as_str(), c.pass)).collect();
        assert_eq!(
            verdicts,
            [
                ("S3 4 KB PUT+GET, 8 conns", true),
                ("S3 4 KB PUT+GET, 8 conns vs moto", true),
                ("S3 1024 MB object PUT", true),
                ("S3 1024 MB object PUT vs moto", true),
                // 1.5 s against a 1 s read floor is 67%: passes; GET vs moto 26.7×.
                ("S3 1024 MB object GET", true),
                ("S3 1024 MB object GET vs moto", true),
                ("S3 ListObjectsV2, 1000 keys", true),
            ]
        );
        let rows = results.rows(&checks, &[(8, 20_000.0)]);
        assert!(rows.iter().any(|row| row[0] == "  moto 5.2.1, same workload" && row[3] == "Kumo 30.0× moto"));

        let slow = S3Results {
            kumo: server("kumo", 3_000, 3.0, 0.5),
            moto: Err("--no-moto".into()),
            floor: Ok(floor),
            lambda_latency: Ok(vec![Duration::from_millis(30); 3]),
        };
        let failed: Vec<String> = slow.checks(8).into_iter().filter(|c| !c.pass).map(|c| c.name).collect();
        assert_eq!(failed, ["S3 4 KB PUT+GET, 8 conns", "S3 1024 MB object GET", "S3 PUT → Lambda start p50"]);
    }
}
