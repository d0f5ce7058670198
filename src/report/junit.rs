//! The report as JUnit XML, for CI servers that show test results (Jenkins, GitLab, Azure, the
//! GitHub test-report actions).
//!
//! The layout is the one Jenkins and Ant read (the `junit-10.xsd` schema): one `<testsuites>`
//! root, one `<testsuite>` per report (a report is the run against one server major), one
//! `<testcase>` per property. A failing property carries a `<failure>`, a skipped one a
//! `<skipped>`; the verdict's summary and warnings go to `<system-out>`. A property judged
//! migration by migration (fresh, idempotent, reversible) stays one test case: its summary
//! names every failing migration, its `<failure>` text shows each one's failure, then the
//! migrations it did not reach. `errors` counts the incomplete properties (an `<error>` each).
//! A run that ends in an error writes its document through [`Unfinished`](super::Unfinished):
//! what it found, then one more test case with that `<error>`.
//!
//! A `time` attribute (seconds) is written only on the test cases whose verdict records how long
//! it took (the generated properties); the suites have none, since a [`Report`] does not time
//! the other properties, and a made-up `0` would show on dashboards as a measurement. `time` is
//! optional in the schema.

use std::fmt::Write;

use crate::model::{CaseReport, MigrationFinding};
use crate::model::{Failure, Report, Verdict, VerdictStatus};

/// One report (one server major) as a JUnit XML document.
pub fn junit(report: &Report) -> String {
    junit_many(std::slice::from_ref(report))
}

/// Several reports (the same project against several server majors) as one JUnit XML document:
/// one `<testsuite>` per report, in the order given.
pub fn junit_many(reports: &[Report]) -> String {
    junit_suites(reports, (0, 0, 0), "")
}

/// The document of `reports`' suites, then `more` (suites written by the caller) whose test
/// cases, failures and errors are `more_counts`.
pub(super) fn junit_suites(reports: &[Report], more_counts: (usize, usize, usize), more: &str) -> String {
    let count = |status: VerdictStatus| -> usize { reports.iter().flat_map(|r| &r.verdicts).filter(|v| v.status == status).count() };
    let tests: usize = reports.iter().map(|r| r.verdicts.len()).sum();
    let (more_tests, more_failures, more_errors) = more_counts;
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    // `testsuites` has no `skipped` attribute in junit-10.xsd.
    let _ = writeln!(
        out,
        "<testsuites name=\"pgconverge\" tests=\"{}\" failures=\"{}\" errors=\"{}\">",
        tests + more_tests,
        count(VerdictStatus::Fail) + more_failures,
        count(VerdictStatus::Incomplete) + more_errors
    );
    for report in reports {
        write_suite(&mut out, report);
    }
    out.push_str(more);
    out.push_str("</testsuites>\n");
    out
}

/// The suite's name: `pgconverge <project> (PostgreSQL <version>)`.
pub(super) fn suite_name(report: &Report) -> String {
    format!("pgconverge {} (PostgreSQL {})", super::shown(&report.project), report.server_version)
}

fn write_suite(out: &mut String, report: &Report) {
    let count = |status: VerdictStatus| report.verdicts.iter().filter(|v| v.status == status).count();
    let _ = writeln!(
        out,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\">",
        escape_attribute(&suite_name(report)),
        report.verdicts.len(),
        count(VerdictStatus::Fail),
        count(VerdictStatus::Incomplete),
        count(VerdictStatus::Skipped),
    );
    let mut properties: Vec<(&str, String)> = vec![
        ("project", super::shown(&report.project)),
        ("server_version", report.server_version.clone()),
        ("backend", report.backend.clone()),
        ("format", report.format.clone()),
        ("migrations", report.migrations.to_string()),
    ];
    if let Some(reference) = &report.reference {
        properties.push(("reference", super::shown(reference)));
    }
    properties.push(("reference_objects", report.reference_objects.to_string()));
    if let Some(seed) = report.seed {
        properties.push(("seed", seed.to_string()));
    }
    if let Some(shard) = report.shard {
        properties.push(("shard", shard.to_string()));
    }
    let status = match report.status {
        crate::model::Status::Counterexample => "counterexample",
        crate::model::Status::Incomplete => "incomplete",
        crate::model::Status::Converges | crate::model::Status::Nondeterministic => "converges",
    };
    properties.push(("status", status.to_string()));
    out.push_str("    <properties>\n");
    for (name, value) in properties {
        let _ = writeln!(out, "      <property name=\"{name}\" value=\"{}\"/>", escape_attribute(&value));
    }
    out.push_str("    </properties>\n");
    let classname = format!("pgconverge.{}", super::shown(&report.project));
    for verdict in &report.verdicts {
        write_case(out, verdict, &classname);
    }
    out.push_str("  </testsuite>\n");
}

pub(super) fn write_case(out: &mut String, verdict: &Verdict, classname: &str) {
    let time = verdict
        .timing
        .as_ref()
        .map(|t| t.elapsed_ms / 1000.0)
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| format!(" time=\"{s:.3}\""))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "    <testcase classname=\"{}\" name=\"{}\"{time}>",
        escape_attribute(classname),
        escape_attribute(verdict.property.name())
    );
    match verdict.status {
        VerdictStatus::Pass => {}
        VerdictStatus::Skipped => {
            let _ = writeln!(out, "      <skipped message=\"{}\"/>", escape_attribute(&verdict.summary));
        }
        VerdictStatus::Incomplete => {
            let _ = writeln!(out, "      <error message=\"{}\" type=\"incomplete\"/>", escape_attribute(&verdict.summary));
        }
        VerdictStatus::Fail => {
            let kind = match &verdict.failure {
                Some(Failure::StatementFailed { .. }) => "statement_failed",
                Some(Failure::Diverged { .. }) => "diverged",
                None => "failure",
            };
            let _ = writeln!(
                out,
                "      <failure message=\"{}\" type=\"{kind}\">{}</failure>",
                escape_attribute(&failure_message(verdict)),
                escape_text(&failure_text(verdict, Detail::Full))
            );
        }
    }
    let mut stdout = format!("{}\n", verdict.summary);
    for warning in &verdict.warnings {
        let _ = writeln!(stdout, "{warning}");
    }
    let _ = writeln!(out, "      <system-out>{}</system-out>", escape_text(&stdout));
    out.push_str("    </testcase>\n");
}

/// A failing verdict in a sentence: its summary, then the Postgres error (with the location)
/// or the first difference, unless the summary already says it.
pub(super) fn failure_message(verdict: &Verdict) -> String {
    let mut message = verdict.summary.clone();
    match &verdict.failure {
        Some(Failure::StatementFailed { location, error, .. }) if !message.contains(&error.message) => {
            let _ = write!(message, ": {}: ERROR {}: {}", super::location(location), error.code, error.message);
        }
        Some(Failure::Diverged { differences, .. }) => {
            let first = differences.first().map(|d| d.to_string()).filter(|first| !message.contains(first));
            if let Some(first) = first {
                let _ = write!(message, ": {first}");
                if differences.len() > 1 {
                    let _ = write!(message, " (and {} more)", differences.len() - 1);
                }
            }
        }
        _ => {}
    }
    message
}

/// How much of a failure [`failure_text`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Detail {
    /// Everything: the whole statement and the diff of the differing objects.
    Full,
    /// What fits an annotation: the error, or at most [`BRIEF_DIFFERENCES`] differences.
    Brief,
}

/// The differences an annotation lists before `... and N more`.
pub(super) const BRIEF_DIFFERENCES: usize = 20;

/// A failing verdict in full, as plain text (no colors): the summary, the minimal case of a
/// generated property, then the failing statement with its location and the Postgres error, or
/// the list of differences; for a property judged migration by migration, that of every
/// failing migration under its own sentence, then the migrations not reached.
pub(super) fn failure_text(verdict: &Verdict, detail: Detail) -> String {
    let mut out = format!("{}\n", verdict.summary);
    if let Some(case) = &verdict.case {
        write_case_report(&mut out, case);
    }
    match verdict.findings.as_slice() {
        [] => write_failure(&mut out, verdict.failure.as_ref(), detail),
        // The summary is this finding's sentence.
        [only] => write_failure(&mut out, Some(&only.failure), detail),
        findings => {
            for finding in findings {
                let _ = writeln!(out, "\n{}", finding.summary);
                write_failure(&mut out, Some(&finding.failure), detail);
            }
        }
    }
    if !verdict.not_reached.is_empty() {
        let _ = writeln!(out, "not reached: {}", verdict.not_reached.join(", "));
    }
    out
}

/// One failing migration of a property judged migration by migration, as [`failure_text`]
/// writes a verdict: its sentence, then its failure.
pub(super) fn finding_text(finding: &MigrationFinding, detail: Detail) -> String {
    let mut out = format!("{}\n", finding.summary);
    write_failure(&mut out, Some(&finding.failure), detail);
    out
}

fn write_failure(out: &mut String, failure: Option<&Failure>, detail: Detail) {
    match failure {
        None => {}
        Some(Failure::StatementFailed { migration, statement, location, sql, error }) => {
            let _ = writeln!(out, "{}: statement {statement} of {migration}", super::location(location));
            if detail == Detail::Full {
                for line in sql.lines() {
                    let _ = writeln!(out, "  | {}", line.trim_end());
                }
            }
            let _ = writeln!(out, "{error}");
        }
        Some(Failure::Diverged { expected, differences, expected_text, found_text, origins }) => {
            let shown = match detail {
                Detail::Full => differences.len(),
                Detail::Brief => BRIEF_DIFFERENCES,
            };
            for difference in differences.iter().take(shown) {
                let _ = writeln!(out, "{difference}");
                if let Some(origin) = super::origin_of(difference, origins).filter(|_| detail == Detail::Full) {
                    let _ = writeln!(out, "  {origin}");
                }
            }
            if differences.len() > shown {
                let _ = writeln!(out, "... and {} more", differences.len() - shown);
            }
            if detail == Detail::Full && (!expected_text.is_empty() || !found_text.is_empty()) {
                let _ = writeln!(out, "diff (- {expected}, + found):");
                for line in super::line_diff(expected_text, found_text, false) {
                    let _ = writeln!(out, "  {line}");
                }
            }
        }
    }
}

fn write_case_report(out: &mut String, case: &CaseReport) {
    if let Some(hidden) = &case.hidden_dependency {
        let _ = writeln!(out, "hidden order dependency: {} needs {}", hidden.migration, hidden.needs.join(", "));
    }
    if !case.applied.is_empty() {
        let _ = writeln!(out, "applied:      {}", case.applied.join(", "));
    }
    if !case.preexisting.is_empty() {
        let _ = writeln!(out, "pre-existing: {}", case.preexisting.join(", "));
    }
    if let Some(interrupted) = &case.interrupted {
        let _ = writeln!(out, "interrupted:  {interrupted}");
    }
    let _ = writeln!(out, "pending:      {}", case.order.join(", "));
    if let Some(path) = &case.regressions {
        let _ = writeln!(out, "seed saved:   {}", super::shown(path));
    }
    if let Some(path) = &case.repro {
        let _ = writeln!(out, "repro:        {}", super::shown(path));
    }
}

/// Escapes text for an XML 1.0 attribute value in double quotes.
///
/// `<`, `>`, `&` and `"` become entities; tab, newline and carriage return become character
/// references, so attribute-value normalization keeps them. Characters XML 1.0 does not allow
/// at all, even as references (the other C0 controls, U+FFFE, U+FFFF), are written as the
/// visible text `\u{1b}`.
pub(crate) fn escape_attribute(text: &str) -> String {
    escape(text, true)
}

/// Escapes text for XML 1.0 element content: as [`escape_attribute`], except that newlines and
/// tabs stay as they are (element content keeps them); carriage returns are still written as
/// `&#13;`, which parsers would otherwise turn into newlines.
pub(crate) fn escape_text(text: &str) -> String {
    escape(text, false)
}

fn escape(text: &str, attribute: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' if attribute => out.push_str("&quot;"),
            '\t' if attribute => out.push_str("&#9;"),
            '\n' if attribute => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' | '\n' => out.push(c),
            '\u{0}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}' => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_attributes() {
        assert_eq!(escape_attribute(r#"a<b>&"c"'d'"#), "a&lt;b&gt;&amp;&quot;c&quot;'d'");
        assert_eq!(escape_attribute("x\ty\nz\r"), "x&#9;y&#10;z&#13;");
    }

    #[test]
    fn escapes_text() {
        assert_eq!(escape_text(r#"a<b>&"c"'d'"#), r#"a&lt;b&gt;&amp;"c"'d'"#);
        assert_eq!(escape_text("x\ty\nz\r\n"), "x\ty\nz&#13;\n");
    }

    #[test]
    fn replaces_characters_xml_forbids() {
        assert_eq!(escape_attribute("\u{1b}[31mred\u{0}"), "\\u{1b}[31mred\\u{0}");
        assert_eq!(escape_text("\u{fffe}\u{ffff}\u{b}"), "\\u{fffe}\\u{ffff}\\u{b}");
        // Everything else, including non-ASCII, passes through.
        assert_eq!(escape_text("é 🐘 \u{7f} \u{85}"), "é 🐘 \u{7f} \u{85}");
    }
}
