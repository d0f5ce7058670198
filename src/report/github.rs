//! The report as GitHub Actions workflow commands: printed in a workflow step, each failing
//! property becomes an error annotation on the migration line at fault.
//!
//! One `::error` per failing verdict, or, for a property judged migration by migration (fresh,
//! idempotent, reversible), one per failing migration; one `::warning` per warning (such as a
//! column-order difference), then one `::notice` with the summary line. Where an error points:
//!
//! - a failed statement: its location (`file=...,line=...,col=...`), the file and position
//!   Postgres reported;
//! - a divergence: the statement behind its first traced difference (its [`Origin`]): the last
//!   migration statement that creates, alters or drops the differing object (for a failing
//!   migration, the last of its own), else the reference schema's statement that creates it;
//! - an untraced divergence of a failing migration (a re-run that changed the catalog, a down
//!   that left a trace): line 1 of that migration's file;
//! - an untraced divergence found by a generated case: line 1 of the file of the migration the
//!   case names (the interrupted migration, else the first pending one) when that file appears
//!   somewhere in the report (a [`Report`] does not list migration files), else line 1 of the
//!   reference schema;
//! - any other untraced divergence: line 1 of the reference schema when the verdict compared
//!   with it (`fresh`), else no file (the annotation then shows on the run, not on a file);
//! - warnings carry no file.
//!
//! Paths are written as the report has them (relative to the working directory when the
//! project was given as a relative path, which is what GitHub expects).

use std::fmt::Write;
use std::path::{Component, Path};

use crate::migration::Location;
use crate::model::{agreeing, count_with_verb, plural, Failure, MigrationFinding, Origin, Property, Report, Verdict, VerdictStatus};

use super::junit::{failure_text, finding_text, suite_name, Detail};

/// The report as GitHub Actions workflow commands, one per line.
pub fn github(report: &Report) -> String {
    let mut out = String::new();
    for verdict in &report.verdicts {
        write_verdict(&mut out, verdict, error_position(report, verdict));
    }
    write_command(&mut out, "notice", &[("title", "pgconverge".to_string())], &summary(report));
    out
}

/// A verdict's annotations: its error (at `position`, when the verdict fails as a whole), or
/// one per failing migration; an incomplete property's error; its warnings.
pub(super) fn write_verdict(out: &mut String, verdict: &Verdict, position: Option<(String, usize, Option<usize>)>) {
    if verdict.status == VerdictStatus::Fail && verdict.findings.is_empty() {
        let properties = error_properties(position, verdict.property);
        let message = failure_text(verdict, Detail::Brief);
        write_command(out, "error", &properties, message.trim_end());
    }
    if verdict.status == VerdictStatus::Fail {
        for finding in &verdict.findings {
            let properties = error_properties(Some(finding_position(finding)), verdict.property);
            let message = finding_text(finding, Detail::Brief);
            write_command(out, "error", &properties, message.trim_end());
        }
    }
    if verdict.status == VerdictStatus::Incomplete {
        let title = format!("pgconverge {} incomplete", verdict.property);
        write_command(out, "error", &[("title", title)], &verdict.summary);
    }
    for warning in &verdict.warnings {
        let title = format!("pgconverge {}", verdict.property);
        write_command(out, "warning", &[("title", title)], &warning.to_string());
    }
}

/// `pgconverge fixtures/x (PostgreSQL 15.18): converges: 2 properties hold, 1 skipped`, with the
/// seed (and shard) of the generated properties when there is one.
fn summary(report: &Report) -> String {
    let count = |status: VerdictStatus| report.verdicts.iter().filter(|v| v.status == status).count();
    let skipped = count(VerdictStatus::Skipped);
    let skipped_note = if skipped > 0 { format!(", {skipped} skipped") } else { String::new() };
    let of_all = |n: usize, verb: &str| format!("{n} of {} {}", plural(report.verdicts.len(), "property"), agreeing(n, verb));
    use crate::model::Status;
    let holds = || count_with_verb(count(VerdictStatus::Pass), "property", "holds");
    let mut line = match report.status {
        Status::Incomplete => format!(
            "{}: incomplete: {} not run all of their cases{skipped_note}",
            suite_name(report),
            of_all(count(VerdictStatus::Incomplete), "could"),
        ),
        Status::Converges => format!("{}: converges: {}{skipped_note}", suite_name(report), holds()),
        Status::Nondeterministic => format!(
            "{}: nondeterministic: {}{skipped_note}, but {} {} between two runs of the same migrations",
            suite_name(report),
            holds(),
            plural(report.nondeterministic.len(), "object"),
            agreeing(report.nondeterministic.len(), "differs")
        ),
        Status::Counterexample => {
            format!("{}: counterexample: {}{skipped_note}", suite_name(report), of_all(count(VerdictStatus::Fail), "fails"))
        }
    };
    match (report.seed, report.shard) {
        (Some(seed), Some(shard)) => {
            let _ = write!(line, " (seed {seed}, shard {shard}; rerun the same cases with --seed {seed} --shard {shard})");
        }
        (Some(seed), None) => {
            let _ = write!(line, " (seed {seed}; rerun the same cases with --seed {seed})");
        }
        (None, _) => {}
    }
    line
}

/// An error annotation's properties: where it points, if anywhere, and its title.
fn error_properties(position: Option<(String, usize, Option<usize>)>, property: Property) -> Vec<(&'static str, String)> {
    let mut properties = Vec::new();
    if let Some((file, line, column)) = position {
        properties.push(("file", file));
        properties.push(("line", line.to_string()));
        if let Some(column) = column {
            properties.push(("col", column.to_string()));
        }
    }
    properties.push(("title", format!("pgconverge {property}")));
    properties
}

/// Where the annotation of one failing migration points: its failed statement, else line 1 of
/// its file.
fn finding_position(finding: &MigrationFinding) -> (String, usize, Option<usize>) {
    match &finding.failure {
        Failure::StatementFailed { location, .. } => position(location),
        failure @ Failure::Diverged { .. } => match failure.first_origin() {
            Some(origin) => position(&origin.location),
            None => (super::shown(&finding.file), 1, None),
        },
    }
}

/// Where a failing verdict's own failure says it is: the failed statement, or the statement
/// behind its first traced difference.
pub(super) fn failure_position(verdict: &Verdict) -> Option<(String, usize, Option<usize>)> {
    match verdict.failure.as_ref()? {
        Failure::StatementFailed { location, .. } => Some(position(location)),
        failure @ Failure::Diverged { .. } => failure.first_origin().map(|Origin { location, .. }| position(location)),
    }
}

/// A statement's place as an annotation's file, line and column.
fn position(location: &Location) -> (String, usize, Option<usize>) {
    (super::shown(&location.file), location.line, Some(location.column))
}

/// The file, line and column an error annotation points at (see the module documentation).
fn error_position(report: &Report, verdict: &Verdict) -> Option<(String, usize, Option<usize>)> {
    verdict.failure.as_ref()?;
    if let Some(found) = failure_position(verdict) {
        return Some(found);
    }
    // An untraced divergence.
    let reference = || report.reference.as_ref().map(|path| (super::shown(path), 1, None));
    match &verdict.case {
        Some(case) => {
            let interrupted = case.interrupted.as_deref().and_then(|text| text.split(' ').next());
            let named = interrupted.or(case.order.first().map(String::as_str));
            named.and_then(|id| migration_file(report, id)).map(|file| (file, 1, None)).or_else(reference)
        }
        None if verdict.property == Property::Fresh => reference(),
        None => None,
    }
}

/// The file of migration `id`, when a failed statement somewhere in the report lies in it: a
/// file named `<id>.sql`, `<id>.up.sql` and the like, or a file in a directory named `<id>`
/// (diesel's `<id>/up.sql`).
fn migration_file(report: &Report, id: &str) -> Option<String> {
    report
        .verdicts
        .iter()
        .filter_map(|v| match &v.failure {
            Some(Failure::StatementFailed { location, .. }) => Some(location.file.as_path()),
            _ => None,
        })
        .find(|file| belongs_to(file, id))
        .map(super::shown)
}

fn belongs_to(file: &Path, id: &str) -> bool {
    let named = file
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|name| name.strip_prefix(id).is_some_and(|rest| rest.starts_with('.') && rest.ends_with(".sql")));
    let in_directory = file
        .parent()
        .and_then(|p| p.components().next_back())
        .is_some_and(|c| matches!(c, Component::Normal(name) if name.to_str() == Some(id)));
    named || in_directory
}

pub(super) fn write_command(out: &mut String, command: &str, properties: &[(&str, String)], message: &str) {
    let properties: Vec<String> = properties.iter().map(|(name, value)| format!("{name}={}", escape_property(value))).collect();
    let _ = writeln!(out, "::{command} {}::{}", properties.join(","), escape_data(message));
}

/// Escapes a command's message per GitHub's rules: `%`, `\r`, `\n`. Other control characters
/// but tab (such as the ESC of a color sequence), which the log viewer would interpret, are
/// written as the visible text `\u{1b}`.
pub fn escape_data(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '%' => out.push_str("%25"),
            '\r' => out.push_str("%0D"),
            '\n' => out.push_str("%0A"),
            '\t' => out.push(c),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// Escapes a command property's value: as [`escape_data`], and also `:` and `,`.
pub(super) fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_data_and_properties() {
        assert_eq!(escape_data("100% a\r\nb: c, d"), "100%25 a%0D%0Ab: c, d");
        assert_eq!(escape_property("100% a\r\nb: c, d"), "100%25 a%0D%0Ab%3A c%2C d");
        // `%` first, so the escapes themselves are not escaped again.
        assert_eq!(escape_property("%3A"), "%253A");
        assert_eq!(escape_data("\u{1b}[31mred\u{7f}\tx"), "\\u{1b}[31mred\\u{7f}\tx");
    }

    #[test]
    fn finds_a_migration_file_by_id() {
        let id = "20260216000001_create_ai_provider_configs";
        assert!(belongs_to(Path::new("m/20260216000001_create_ai_provider_configs.sql"), id));
        assert!(belongs_to(Path::new("m/20260216000001_create_ai_provider_configs.up.sql"), id));
        assert!(belongs_to(Path::new("m/20260216000001_create_ai_provider_configs/up.sql"), id));
        assert!(!belongs_to(Path::new("m/20260216000001_create_ai_provider_configs_v2.sql"), id));
        assert!(!belongs_to(Path::new("m/20260216000001_create.sql"), id));
    }
}
