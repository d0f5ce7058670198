//! The closing table of the human report: which migration each failing property implicates.

use std::fmt::Write;

use crate::model::{Failure, Report, Verdict, VerdictStatus};

/// The label of the table's last row, the verdict over the whole migration set.
pub(super) const ALL_ROW: &str = "all";

/// The cell of a migration the property could not check (see [`table`]).
const NOT_REACHED: &str = "-";

/// A migration × property table, one row per migration of `migrations` (ids, in the order
/// given), one column per verdict of the report (in report order), then a last row `all`.
///
/// A cell is:
///
/// - `n/a` when the property was skipped, or does not apply to the migration (reversible: it
///   has no down);
/// - `inc` when the property could not run all of its cases;
/// - `-` (not reached) when an earlier failure kept the property from checking the migration
///   (`Verdict::not_reached`: the migrations after one that fails on an empty database);
/// - `fail` when the property fails and its counterexample names the migration: one of the
///   verdict's per-migration findings (`Verdict::findings`: a fresh run that fails at it, a
///   re-run that fails or changes the catalog, a down that fails or leaves a trace), the
///   migration whose statement failed (`StatementFailed.migration`, a `<id> (down)` suffix
///   included), or, for a generated case, a migration its minimal case blames (`case.blamed`:
///   the one that fails, the pending ones a divergence needs, both sides of an order pair, the
///   interrupted one, a hidden dependency's);
/// - `ok` otherwise: the property holds, or its counterexample does not implicate the migration.
///
/// The `all` row holds the verdict itself: `ok`, `fail`, `n/a` or `inc`. A failure that names no
/// migration (a `fresh` catalog that differs from the reference, all `reversible` downs in
/// reverse that do not restore an empty database) leaves every migration's cell `ok` and shows
/// only as `fail` in the `all` row: which migration is at fault is not known, and marking all of
/// them would bury the ones a counterexample does name. When a `-` cell is shown, a legend line
/// under the table says what it means.
pub fn table(report: &Report, migrations: &[String]) -> String {
    let header: Vec<&str> = report.verdicts.iter().map(|v| v.property.name()).collect();
    let mut rows: Vec<(&str, Vec<&str>)> =
        migrations.iter().map(|id| (id.as_str(), report.verdicts.iter().map(|v| cell(v, id)).collect())).collect();
    rows.push((ALL_ROW, report.verdicts.iter().map(status_cell).collect()));

    let first = rows.iter().map(|(label, _)| label.chars().count()).chain(["migration".len()]).max().unwrap_or(0);
    let widths: Vec<usize> = header.iter().map(|name| name.len().max("fail".len())).collect();
    let mut out = String::new();
    let mut write_row = |label: &str, cells: &[&str]| {
        let mut line = format!("  {label:first$}");
        for (cell, width) in cells.iter().zip(&widths) {
            let _ = write!(line, "  {cell:width$}");
        }
        let _ = writeln!(out, "{}", line.trim_end());
    };
    write_row("migration", &header);
    for (label, cells) in &rows {
        write_row(label, cells);
    }
    if rows.iter().any(|(_, cells)| cells.contains(&NOT_REACHED)) {
        let _ = writeln!(out, "  {NOT_REACHED}: not reached (an earlier migration failed, so the property could not check it)");
    }
    out
}

fn status_cell(verdict: &Verdict) -> &'static str {
    match verdict.status {
        VerdictStatus::Pass => "ok",
        VerdictStatus::Fail => "fail",
        VerdictStatus::Skipped => "n/a",
        VerdictStatus::Incomplete => "inc",
    }
}

fn cell(verdict: &Verdict, id: &str) -> &'static str {
    match verdict.status {
        VerdictStatus::Skipped => "n/a",
        // Not every case ran: no migration is known to be fine.
        VerdictStatus::Incomplete => "inc",
        _ if verdict.not_reached.iter().any(|m| m == id) => NOT_REACHED,
        _ if verdict.not_applicable.iter().any(|m| m == id) => "n/a",
        VerdictStatus::Fail if implicates(verdict, id) || verdict.findings.iter().any(|f| f.migration == id) => "fail",
        _ => "ok",
    }
}

/// True when the verdict's counterexample names migration `id`.
fn implicates(verdict: &Verdict, id: &str) -> bool {
    // `<id>` itself, or `<id>` followed by words: `<id> (down)`, `<id> stopped after 2 of 5 statements`.
    let names = |text: &str| text.strip_prefix(id).is_some_and(|rest| rest.is_empty() || rest.starts_with(' '));
    let statement = matches!(&verdict.failure, Some(Failure::StatementFailed { migration, .. }) if names(migration));
    // A minimal case names what it blames; a case without that list (a migrator's, run whole)
    // blames its pending migrations.
    let case = verdict.case.as_ref().is_some_and(|case| {
        if !case.blamed.is_empty() {
            return case.blamed.iter().any(|m| m == id);
        }
        case.order.iter().any(|m| m == id)
            || case.interrupted.as_deref().is_some_and(names)
            || case.hidden_dependency.as_ref().is_some_and(|h| h.migration == id || h.needs.iter().any(|m| m == id))
    });
    statement || case
}
