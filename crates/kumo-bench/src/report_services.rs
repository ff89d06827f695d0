//! The report of a run of the other services' workloads alone (`kumo-bench --s3`, `--sns`):
//! each phase's rows under one header, with the health round trip as the HTTP floor.

use crate::measure::Machine;
use crate::report::{header_row, render_rows, round, Check};
use crate::report_s3::S3Results;
use crate::report_sns::SnsResults;

/// What a `--s3` / `--sns` run measured.
pub struct ServicesReport {
    /// Where it ran.
    pub machine: Machine,
    /// How it was started.
    pub command: String,
    /// The server measured: version and URL.
    pub kumo: String,
    /// Health round trips per second on each connection count, the HTTP floor.
    pub health: Vec<(usize, f64)>,
    /// Connections of the target runs.
    pub connections: usize,
    /// The S3 figures, when asked for.
    pub s3: Option<S3Results>,
    /// The SNS figures, when asked for.
    pub sns: Option<SnsResults>,
}

impl ServicesReport {
    fn checks(&self) -> Vec<Check> {
        let mut checks = Vec::new();
        if let Some(s3) = &self.s3 {
            checks.extend(s3.checks(self.connections));
        }
        if let Some(sns) = &self.sns {
            checks.extend(sns.checks());
        }
        checks
    }

    /// Whether every target was met.
    pub fn passed(&self) -> bool {
        self.checks().iter().all(|check| check.pass)
    }

    /// The human-readable report.
    pub fn to_table(&self) -> String {
        let mut rows = vec![header_row()];
        let mut errors = Vec::new();
        if let Some(s3) = &self.s3 {
            rows.extend(s3.rows(&s3.checks(self.connections), &self.health));
            errors.extend(s3.error_lines());
        }
        if let Some(sns) = &self.sns {
            rows.extend(sns.rows(&sns.checks()));
            errors.extend(sns.error_lines());
        }
        let machine = &self.machine;
        let mut out = format!(
            "Kumo services benchmark\nmachine:  {} CPUs (nproc), {}, {}\ncommand:  {}\nkumo:     {}\n",
            machine.cpus, machine.model, machine.kernel, self.command, self.kumo
        );
        out.push_str(&render_rows(&rows));
        for line in errors {
            out.push_str(&format!("error: {line}\n"));
        }
        let checks = self.checks();
        let failed: Vec<&str> = checks.iter().filter(|check| !check.pass).map(|check| check.name.as_str()).collect();
        if failed.is_empty() {
            out.push_str(&format!("result: PASS (all {} checks)\n", checks.len()));
        } else {
            out.push_str(&format!("result: FAIL ({})\n", failed.join(", ")));
        }
        out
    }

    /// The machine-readable report.
    pub fn to_json(&self) -> serde_json::Value {
        let health: Vec<serde_json::Value> = self
            .health
            .iter()
            .map(|(connections, rate)| serde_json::json!({ "connections": connections, "per_s": round(*rate) }))
            .collect();
        serde_json::json!({
            "machine": self.machine.to_json(),
            "command": self.command,
            "server": self.kumo,
            "health": health,
            "s3": self.s3.as_ref().map(S3Results::to_json),
            "sns": self.sns.as_ref().map(SnsResults::to_json),
            "passed": self.passed(),
        })
    }
}
