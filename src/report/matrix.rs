//! One check on several PostgreSQL majors (`--pg 15,16,18`): one report per major, combined by
//! the most severe status. A plain run is a matrix of one, and is written as its one report.

use serde::Serialize;

use crate::model::{Report, Status};

/// The reports of one project, one per major, in the order the majors were given.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Matrix {
    /// One report per major.
    pub reports: Vec<Report>,
}

/// The JSON of a matrix of more than one report (see the README, "JSON output").
#[derive(Serialize)]
struct MatrixJson<'a> {
    status: Status,
    majors: Vec<u32>,
    reports: &'a [Report],
}

impl Matrix {
    /// The most severe status over the reports (converges for none).
    pub fn status(&self) -> Status {
        self.reports.iter().map(|r| r.status).max().unwrap_or(Status::Converges)
    }

    pub(crate) fn majors(&self) -> Vec<u32> {
        self.reports.iter().map(|r| r.major).collect()
    }

    /// One report: that report's JSON. More: `{"status", "majors", "reports"}`.
    pub fn json(&self) -> String {
        match self.reports.as_slice() {
            [single] => super::json(single),
            reports => {
                let value = MatrixJson { status: self.status(), majors: self.majors(), reports };
                serde_json::to_string_pretty(&value).expect("a report always serializes")
            }
        }
    }

    /// Each report as text; with more than one, a blank line after each and a line per major.
    pub fn human(&self, color: bool) -> String {
        let many = self.reports.len() > 1;
        let mut out = String::new();
        for report in &self.reports {
            out.push_str(&super::human(report, color));
            if many {
                out.push('\n');
            }
        }
        if many {
            for report in &self.reports {
                out.push_str(&format!("PostgreSQL {}: {}\n", report.server_version, report.status));
            }
        }
        out
    }

    /// One JUnit document, a `<testsuite>` per major.
    pub fn junit(&self) -> String {
        super::junit_many(&self.reports)
    }

    /// The GitHub Actions annotations of every report.
    pub fn github(&self) -> String {
        self.reports.iter().map(super::github).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(major: u32, status: Status) -> Report {
        Report {
            status,
            project: "p".into(),
            format: "plain".into(),
            format_detection: None,
            migrations: 0,
            migration_ids: vec![],
            reference: None,
            backend: "embedded".into(),
            backend_reason: None,
            server_version: format!("{major}.1"),
            major,
            reference_objects: 0,
            seed: None,
            shard: None,
            nondeterministic: vec![],
            notes: vec![],
            verdicts: vec![],
        }
    }

    #[test]
    fn the_most_severe_status_decides_and_the_json_keeps_its_shape() {
        let matrix = Matrix {
            reports: vec![report(15, Status::Nondeterministic), report(16, Status::Counterexample), report(18, Status::Converges)],
        };
        assert_eq!(matrix.status(), Status::Counterexample);
        let value: serde_json::Value = serde_json::from_str(&matrix.json()).unwrap();
        assert_eq!(value["status"], "counterexample");
        assert_eq!(value["majors"], serde_json::json!([15, 16, 18]));
        assert_eq!(value["reports"][1]["major"], 16);
        let human = matrix.human(false);
        let lines: Vec<&str> = human.lines().rev().take(3).collect();
        assert_eq!(lines, ["PostgreSQL 18.1: converges", "PostgreSQL 16.1: counterexample", "PostgreSQL 15.1: nondeterministic"]);

        let single = Matrix { reports: vec![report(16, Status::Incomplete)] };
        let value: serde_json::Value = serde_json::from_str(&single.json()).unwrap();
        assert_eq!((value["status"].as_str(), value["major"].as_u64()), (Some("incomplete"), Some(16)), "one report is written as itself");
        assert_eq!(Matrix { reports: vec![] }.status(), Status::Converges);
    }
}
