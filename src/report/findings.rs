//! The failing migrations of a property judged migration by migration (fresh, idempotent,
//! reversible), as text for the human report. The report shows the verdict's counterexample in
//! full, which is the first failing migration's; [`more_findings`] writes the others, and the
//! migrations the property did not reach, indented to sit under that counterexample.

use std::fmt::Write;

use crate::model::{Failure, Verdict};

/// The verdict's failing migrations after the first (each one's sentence, then its failed
/// statement and error, or what the catalog gained or lost), then the migrations not reached;
/// empty when there are none.
pub fn more_findings(verdict: &Verdict) -> String {
    let mut out = String::new();
    for finding in verdict.findings.iter().skip(1) {
        let _ = writeln!(out, "        {}", finding.summary);
        match &finding.failure {
            Failure::StatementFailed { migration, statement, location, error, .. } => {
                let _ = writeln!(out, "          {location}: statement {statement} of {migration}");
                for line in error.to_string().lines() {
                    let _ = writeln!(out, "          {line}");
                }
            }
            Failure::Diverged { differences, .. } => {
                for difference in differences {
                    let _ = writeln!(out, "          {difference}");
                }
            }
        }
    }
    if !verdict.not_reached.is_empty() {
        let _ = writeln!(out, "        not reached: {}", verdict.not_reached.join(", "));
    }
    out
}
