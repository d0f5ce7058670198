//! A run that ended in an error (exit 2, 3, 101 or 130) in each format: what it had found, then
//! the error. What it had found is the reports of the majors that finished and the verdicts
//! already decided on the one under way, so no counterexample is lost because a later step
//! failed or the run was interrupted; a CI job gets a JUnit document and a JSON object either
//! way, never an empty file.

use std::fmt::Write;
use std::path::Path;

use serde::Serialize;

use crate::model::{Report, Verdict, VerdictStatus};

use super::github::{failure_position, write_command, write_verdict};
use super::junit::{escape_attribute, escape_text, failure_text, junit_suites, write_case, Detail};
use super::Matrix;

/// Why a run ended without a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stopped {
    /// The error's kind: `input`, `infrastructure`, `interrupted` or `internal`.
    pub kind: String,
    /// The error, in a sentence.
    pub message: String,
    /// The exit code the run ends with.
    pub exit_code: u8,
}

impl Stopped {
    /// `stopped by an infrastructure error`, `interrupted`.
    fn what(&self) -> String {
        match self.kind.as_str() {
            "interrupted" => "interrupted".to_string(),
            kind => format!("stopped by an {kind} error"),
        }
    }
}

/// What a run that ended in an error had found, and the error.
#[derive(Debug, Clone, Copy)]
pub struct Unfinished<'a> {
    /// The project directory.
    pub project: &'a Path,
    /// The reports of the majors that finished, in order.
    pub reports: &'a [Report],
    /// The verdicts decided on the major under way when the run stopped.
    pub verdicts: &'a [Verdict],
    /// Why it stopped.
    pub stopped: &'a Stopped,
}

/// The JSON of an unfinished run (see the README, "JSON output").
#[derive(Serialize)]
struct UnfinishedJson<'a> {
    status: &'static str,
    project: String,
    error: &'a str,
    message: &'a str,
    exit_code: u8,
    #[serde(skip_serializing_if = "<[Report]>::is_empty")]
    reports: &'a [Report],
    #[serde(skip_serializing_if = "<[Verdict]>::is_empty")]
    verdicts: &'a [Verdict],
}

impl Unfinished<'_> {
    /// One JUnit document: a `<testsuite>` per finished report, then one for the run that
    /// stopped, with the verdicts it had decided and a test case named `run` whose `<error>`
    /// (of the error's kind as `type`) says why it stopped.
    pub fn junit(&self) -> String {
        let mut out = String::new();
        let classname = format!("pgconverge.{}", super::shown(self.project));
        let count = |status: VerdictStatus| self.verdicts.iter().filter(|v| v.status == status).count();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\">",
            escape_attribute(&format!("pgconverge {} ({})", super::shown(self.project), self.stopped.what())),
            self.verdicts.len() + 1,
            count(VerdictStatus::Fail),
            count(VerdictStatus::Incomplete) + 1,
            count(VerdictStatus::Skipped),
        );
        out.push_str("    <properties>\n");
        for (name, value) in [
            ("project", super::shown(self.project)),
            ("status", "error".to_string()),
            ("error", self.stopped.kind.clone()),
            ("exit_code", self.stopped.exit_code.to_string()),
        ] {
            let _ = writeln!(out, "      <property name=\"{name}\" value=\"{}\"/>", escape_attribute(&value));
        }
        out.push_str("    </properties>\n");
        for verdict in self.verdicts {
            write_case(&mut out, verdict, &classname);
        }
        let _ = writeln!(out, "    <testcase classname=\"{}\" name=\"run\">", escape_attribute(&classname));
        let _ = writeln!(
            out,
            "      <error message=\"{}\" type=\"{}\">{}</error>",
            escape_attribute(&self.stopped.message),
            escape_attribute(&self.stopped.kind),
            escape_text(&self.stopped.message)
        );
        out.push_str("    </testcase>\n  </testsuite>\n");
        let failures = count(VerdictStatus::Fail);
        let errors = count(VerdictStatus::Incomplete) + 1;
        junit_suites(self.reports, (self.verdicts.len() + 1, failures, errors), &out)
    }

    /// `{"status": "error", "project", "error": "<kind>", "message", "exit_code"}`, with `reports` (the
    /// finished majors' reports) and `verdicts` (those decided on the major under way) when
    /// there are any.
    pub fn json(&self) -> String {
        let value = UnfinishedJson {
            status: "error",
            project: super::shown(self.project),
            error: &self.stopped.kind,
            message: &self.stopped.message,
            exit_code: self.stopped.exit_code,
            reports: self.reports,
            verdicts: self.verdicts,
        };
        serde_json::to_string_pretty(&value).expect("a report always serializes")
    }

    /// The finished reports' annotations, those of the verdicts decided on the major under way
    /// (a divergence points where its first traced difference comes from, else at no file),
    /// then one `::error` for the error.
    pub fn github(&self) -> String {
        let mut out = Matrix { reports: self.reports.to_vec() }.github();
        for verdict in self.verdicts {
            write_verdict(&mut out, verdict, failure_position(verdict));
        }
        let title = format!("pgconverge {} error", self.stopped.kind);
        write_command(&mut out, "error", &[("title", title)], &self.stopped.message);
        out
    }

    /// The finished reports as text, then the verdicts decided on the major under way, each
    /// failing one with its counterexample; empty when there are none (the error itself goes
    /// to stderr).
    pub fn human(&self, color: bool) -> String {
        let mut out = Matrix { reports: self.reports.to_vec() }.human(color);
        if self.verdicts.is_empty() {
            return out;
        }
        if !out.is_empty() {
            out.push('\n');
        }
        let _ = writeln!(out, "pgconverge check {}: {}; decided before it stopped:", super::shown(self.project), self.stopped.what());
        let width = self.verdicts.iter().map(|v| v.property.name().len()).max().unwrap_or(0);
        for verdict in self.verdicts {
            let mark = match verdict.status {
                VerdictStatus::Pass => "ok  ",
                VerdictStatus::Fail => "FAIL",
                VerdictStatus::Skipped => "skip",
                VerdictStatus::Incomplete => "inc.",
            };
            let _ = writeln!(out, "  {mark}  {:width$}  {}", verdict.property.name(), verdict.summary);
            if verdict.status == VerdictStatus::Fail {
                // The summary is the text's first line.
                for line in failure_text(verdict, Detail::Brief).lines().skip(1) {
                    let indent = if line.is_empty() { "" } else { "        " };
                    let _ = writeln!(out, "{indent}{line}");
                }
            }
        }
        out
    }
}
