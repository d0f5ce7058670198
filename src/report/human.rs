//! The human-readable report: one line per verdict (a short summary), the details of each
//! below it, each fact once; warnings summed up per kind (the JSON report lists them all).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use anstyle::{AnsiColor, Style};

use crate::compare::{Change, Difference};
use crate::model::{agreeing, count_with_verb, plural, CaseReport, Failure, Report, Status, Verdict, VerdictStatus};

use super::{location, shown};

/// The widest a verdict line gets, in characters: a longer summary is cut at a word.
pub(super) const VERDICT_LINE_WIDTH: usize = 159;

/// Where the details of a verdict start.
const DETAIL_INDENT: &str = "        ";

/// A list longer than this shows its first and last [`LIST_ENDS`] items and a count.
const LIST_SHOWN: usize = 8;
const LIST_ENDS: usize = 3;

/// The differences of a divergence listed before `... and N more` (the diff follows them).
const DIFFERENCES_SHOWN: usize = 20;

/// What starts a warning's line.
const WARNING_LABEL: &str = "warning: ";

/// Warnings of one kind listed one by one; more are summed up in a line.
const WARNINGS_LISTED: usize = 3;

/// The report as text; with `color`, the verdict marks and the diff are in ANSI colours, and
/// without, it is plain text.
pub fn human(report: &Report, color: bool) -> String {
    let mut out = String::new();
    let reference = match &report.reference {
        Some(path) => format!("reference {}", shown(path)),
        None => "no reference schema (the fresh run is the reference)".to_string(),
    };
    let _ = writeln!(out, "pgconverge check {}", shown(&report.project));
    let _ = writeln!(out, "  {} ({}), {reference}, {}", plural(report.migrations, "migration"), report.format, report.backend);
    if let Some(reason) = &report.backend_reason {
        let _ = writeln!(out, "  backend: {reason}");
    }
    if let Some(detection) = &report.format_detection {
        let _ = writeln!(out, "  format: {} ({} {})", report.format, shown(&detection.file), detection.reason);
    }
    for note in &report.notes {
        let _ = writeln!(out, "  note: {note}");
    }
    out.push('\n');
    let width = report.verdicts.iter().map(|v| v.property.name().len()).max().unwrap_or(0);
    for verdict in &report.verdicts {
        write_verdict(&mut out, verdict, width, color);
    }
    let count = |status: VerdictStatus| report.verdicts.iter().filter(|v| v.status == status).count();
    let held = count(VerdictStatus::Pass);
    let skipped = count(VerdictStatus::Skipped);
    let skipped_note = if skipped > 0 { format!(", {skipped} skipped") } else { String::new() };
    if let Some(seed) = report.seed {
        let _ = writeln!(out, "\n{}", rerun_hint(seed, report));
    }
    if !report.nondeterministic.is_empty() {
        let _ = writeln!(out, "\n  nondeterministic (two runs of the same SQL disagree; left out of every comparison):");
        for object in &report.nondeterministic {
            let _ = writeln!(out, "    {object}");
        }
    }
    if !report.migration_ids.is_empty() && !report.verdicts.is_empty() {
        out.push('\n');
        out.push_str(&super::table(report, &report.migration_ids));
    }
    let holds = count_with_verb(held, "property", "holds");
    let _ = match report.status {
        Status::Converges => writeln!(out, "\nconverges: {holds}{skipped_note}"),
        Status::Counterexample => {
            let failed = count(VerdictStatus::Fail);
            let fail = agreeing(failed, "fails");
            writeln!(out, "\ncounterexample: {failed} of {} {fail}{skipped_note}", plural(report.verdicts.len(), "property"))
        }
        Status::Incomplete => {
            let incomplete = count(VerdictStatus::Incomplete);
            let its = if incomplete == 1 { "its" } else { "their" };
            let could_not = count_with_verb(incomplete, "property", "could");
            writeln!(out, "\nincomplete: {could_not} not run all of {its} cases; {holds}{skipped_note}")
        }
        Status::Nondeterministic => writeln!(
            out,
            "\nnondeterministic: {holds}{skipped_note}, but {} from run to run",
            count_with_verb(report.nondeterministic.len(), "object", "differs")
        ),
    };
    out
}

/// `seed 7, shard 2/4 (rerun the same cases with --seed 7 --shard 2/4)`.
fn rerun_hint(seed: u64, report: &Report) -> String {
    match report.shard {
        Some(shard) => format!("seed {seed}, shard {shard} (rerun the same cases with --seed {seed} --shard {shard})"),
        None => format!("seed {seed} (rerun the same cases with --seed {seed})"),
    }
}

fn write_verdict(out: &mut String, verdict: &Verdict, width: usize, color: bool) {
    let (mark, style) = match verdict.status {
        VerdictStatus::Pass => ("ok  ", AnsiColor::Green.on_default()),
        VerdictStatus::Fail => ("FAIL", AnsiColor::Red.on_default().bold()),
        VerdictStatus::Skipped => ("skip", Style::new().dimmed()),
        VerdictStatus::Incomplete => ("inc.", AnsiColor::Yellow.on_default().bold()),
    };
    let head = format!("  {mark}  {:width$}  ", verdict.property.name());
    let (line, rest) = cut_at_word(&verdict.summary, VERDICT_LINE_WIDTH.saturating_sub(head.chars().count()));
    if color {
        let _ = writeln!(out, "  {style}{mark}{style:#}  {:width$}  {line}", verdict.property.name());
    } else {
        let _ = writeln!(out, "{head}{line}");
    }
    // What the cut left out, unless the details below say it (a failure, a generated case).
    if !rest.is_empty() && verdict.failure.is_none() && verdict.case.is_none() {
        for line in rest.lines() {
            write_wrapped(out, "… ", line);
        }
    }
    if let Some(timing) = &verdict.timing {
        let per_case = timing.per_case_ms.map(|ms| format!(", {ms:.1} ms for an unshared case")).unwrap_or_default();
        let _ = writeln!(
            out,
            "{DETAIL_INDENT}{:.1} s, {:.1} ms per case amortized{per_case}, {}",
            timing.elapsed_ms / 1000.0,
            timing.amortized_ms,
            plural(timing.jobs, "job")
        );
    }
    if let Some(replayed) = &verdict.replayed {
        write_wrapped(out, "", &replayed.summary());
    }
    if let Some(case) = &verdict.case {
        write_case(out, case);
    }
    match &verdict.failure {
        None => {}
        Some(Failure::StatementFailed { migration, statement, location: at, sql, error }) => {
            let _ = writeln!(out, "{DETAIL_INDENT}{}: statement {statement} of {migration}", location(at));
            for line in excerpt(sql) {
                let _ = writeln!(out, "{DETAIL_INDENT}  | {line}");
            }
            for line in error.to_string().lines() {
                let _ = writeln!(out, "{DETAIL_INDENT}{line}");
            }
        }
        Some(Failure::Diverged { expected, differences, expected_text, found_text, origins }) => {
            for difference in differences.iter().take(DIFFERENCES_SHOWN) {
                let _ = writeln!(out, "{DETAIL_INDENT}{difference}");
                if let Some(origin) = super::origin_of(difference, origins) {
                    let _ = writeln!(out, "{DETAIL_INDENT}  {origin}");
                }
            }
            if differences.len() > DIFFERENCES_SHOWN {
                let _ =
                    writeln!(out, "{DETAIL_INDENT}... and {} more (--format json lists them all)", differences.len() - DIFFERENCES_SHOWN);
            }
            if !expected_text.is_empty() || !found_text.is_empty() {
                let _ = writeln!(out, "{DETAIL_INDENT}diff (- {expected}, + found):");
                for line in super::line_diff(expected_text, found_text, color) {
                    let _ = writeln!(out, "{DETAIL_INDENT}  {line}");
                }
            }
        }
    }
    if let Some(case) = &verdict.case {
        if let Some(path) = &case.regressions {
            let _ = writeln!(out, "{DETAIL_INDENT}saved in:     {} (replayed first on every run)", shown(path));
        }
        if let Some(path) = &case.repro {
            let _ = writeln!(out, "{DETAIL_INDENT}repro:        psql -X -v ON_ERROR_STOP=1 -d <empty database> -f {}", shown(path));
        }
    }
    out.push_str(&super::more_findings(verdict));
    for line in warning_lines(&verdict.warnings) {
        write_wrapped(out, WARNING_LABEL, &line);
    }
}

/// The parts of a minimal case, one field a line.
fn write_case(out: &mut String, case: &CaseReport) {
    if !case.applied.is_empty() {
        write_field(out, "applied", &case.applied);
    }
    if !case.preexisting.is_empty() {
        write_field(out, "pre-existing", &case.preexisting);
    }
    if let Some(interrupted) = &case.interrupted {
        write_wrapped(out, "interrupted:  ", interrupted);
    }
    if case.order.is_empty() {
        write_wrapped(out, "pending:      ", "none");
    } else {
        write_field(out, "pending", &case.order);
    }
    if !case.out_of_order.is_empty() {
        let pairs: Vec<String> = case.out_of_order.iter().map(|[later, earlier]| format!("{later} ran before {earlier}")).collect();
        write_field(out, "out of order", &pairs);
    }
    if let Some(hidden) = &case.hidden_dependency {
        let needs = shortened(&hidden.needs).join(", ");
        write_wrapped(out, "hidden order dependency: ", &format!("{} needs {needs}: {}", hidden.migration, hidden.fixes()));
    }
    if !case.blamed.is_empty() {
        write_field(out, "blamed", &case.blamed);
    }
}

/// `label:` and the items, shortened when there are many, the label column aligned.
fn write_field(out: &mut String, label: &str, items: &[String]) {
    let label = if items.len() > LIST_SHOWN { format!("{label} ({}):", items.len()) } else { format!("{label}:") };
    write_wrapped(out, &format!("{label:<13} "), &shortened(items).join(", "));
}

/// The items, or when there are more than [`LIST_SHOWN`], the first and last few around a count.
fn shortened(items: &[String]) -> Vec<String> {
    if items.len() <= LIST_SHOWN {
        return items.to_vec();
    }
    let left_out = items.len() - 2 * LIST_ENDS;
    let mut shown: Vec<String> = items[..LIST_ENDS].to_vec();
    shown.push(format!("… {left_out} more …"));
    shown.extend_from_slice(&items[items.len() - LIST_ENDS..]);
    shown
}

/// A detail line, `label` then `text`, wrapped at words within [`VERDICT_LINE_WIDTH`]; the
/// continuation lines line up under the text.
fn write_wrapped(out: &mut String, label: &str, text: &str) {
    let head = format!("{DETAIL_INDENT}{label}");
    let hang = " ".repeat(head.chars().count());
    let room = VERDICT_LINE_WIDTH.saturating_sub(head.chars().count()).max(40);
    let mut rest = text.trim();
    let mut first = true;
    while first || !rest.is_empty() {
        let (line, after) = wrap_at_word(rest, room);
        let _ = writeln!(out, "{}{line}", if first { &head } else { &hang });
        rest = after;
        first = false;
    }
}

/// The longest start of `text` that fits `room` characters and ends at a word, and the rest. A
/// word longer than `room` is kept whole: an identifier is never cut.
fn wrap_at_word(text: &str, room: usize) -> (&str, &str) {
    if text.chars().count() <= room {
        return (text, "");
    }
    let mut end = None;
    for (count, (i, c)) in text.char_indices().enumerate() {
        // `count` characters come before `i`: the line up to here.
        if count > room {
            break;
        }
        if c.is_whitespace() {
            end = Some(i);
        }
    }
    let end = end.or_else(|| text.find(char::is_whitespace)).unwrap_or(text.len());
    (text[..end].trim_end(), text[end..].trim_start())
}

/// `summary` cut to `room` characters at a word, with an ellipsis, and what was cut. A summary
/// that fits (on its first line) is returned whole; the rest holds its further lines, if any.
pub(super) fn cut_at_word(summary: &str, room: usize) -> (String, &str) {
    let summary = summary.trim();
    let (first_line, further) = summary.split_once('\n').unwrap_or((summary, ""));
    let first_line = first_line.trim_end();
    if first_line.chars().count() <= room {
        return (first_line.to_string(), further.trim_start_matches('\n'));
    }
    // Room for the ellipsis.
    let (mut head, _) = wrap_at_word(first_line, room.saturating_sub(1));
    // Not inside parentheses (`(1…` of `(1 difference)`), unless they open the summary.
    if let Some(open) = unclosed_parenthesis(head).filter(|&open| open > 0) {
        head = &head[..open];
    }
    // Do not end on a separator (`applied: a, b,…`).
    let head = head.trim_end_matches([',', ';', ':', '(', '-']).trim_end();
    let rest = summary[head.len()..].trim_start_matches([',', ';', ':', '(', '-']).trim_start();
    (format!("{head}…"), rest)
}

/// Where the last `(` of `text` that is not closed in `text` is.
fn unclosed_parenthesis(text: &str) -> Option<usize> {
    let mut open = Vec::new();
    for (i, c) in text.char_indices() {
        match c {
            '(' => open.push(i),
            ')' => {
                open.pop();
            }
            _ => {}
        }
    }
    open.first().copied()
}

/// The warnings summed up: per kind of object and of difference, listed one by one when there
/// are a few, else counted in one line that names the first objects. The generated cases of a
/// property may find one table in several column orders: objects and columns count once.
fn warning_lines(warnings: &[Difference]) -> Vec<String> {
    // By object kind (in the catalog's order), then by what differs.
    let mut groups: BTreeMap<(_, String), Vec<&Difference>> = BTreeMap::new();
    for warning in warnings {
        let what = match &warning.change {
            Change::Missing => "missing".to_string(),
            Change::Unexpected => "unexpected".to_string(),
            Change::Attribute { attribute, .. } => attribute.clone(),
        };
        groups.entry((warning.kind, what)).or_default().push(warning);
    }
    let mut lines = Vec::new();
    for ((kind, what), group) in groups {
        if group.len() <= WARNINGS_LISTED {
            lines.extend(group.iter().map(|w| w.to_string().trim_end_matches(" [warning]").to_string()));
            continue;
        }
        let objects: BTreeSet<&str> = group.iter().map(|w| w.object.as_str()).collect();
        let counted = plural(objects.len(), kind.label());
        let sentence = match what.as_str() {
            "missing" => format!("{counted} expected, not found"),
            "unexpected" => format!("{counted} not expected, found"),
            "column_order" => {
                let columns: BTreeSet<(&str, &str)> =
                    group.iter().flat_map(|w| columns_out_of_place(&w.change).into_iter().map(|c| (w.object.as_str(), c))).collect();
                format!("column order differs in {} of {counted}", plural(columns.len(), "column"))
            }
            attribute => format!("{} differs on {counted}", attribute.replace('_', " ")),
        };
        let repeated = if group.len() > objects.len() { format!("{}; ", plural(group.len(), "warning")) } else { String::new() };
        let start = format!("{sentence} ({repeated}first: ");
        let end = "); --format json lists them all";
        // As many of the first objects as fit the line, at least one.
        let room = VERDICT_LINE_WIDTH - DETAIL_INDENT.len() - WARNING_LABEL.len();
        let mut first = String::new();
        for object in objects.iter().take(WARNINGS_LISTED) {
            let next = if first.is_empty() { object.to_string() } else { format!("{first}, {object}") };
            if !first.is_empty() && start.chars().count() + next.chars().count() + end.len() > room {
                break;
            }
            first = next;
        }
        lines.push(format!("{start}{first}{end}"));
    }
    lines
}

/// The columns of a `column_order` difference that are not where the expected order has them.
fn columns_out_of_place(change: &Change) -> Vec<&str> {
    let Change::Attribute { expected, found, .. } = change else { return vec![] };
    fn columns(order: &Option<String>) -> Vec<&str> {
        order.as_deref().map(|o| o.split(", ").collect()).unwrap_or_default()
    }
    let (expected, found) = (columns(expected), columns(found));
    let mut moved: Vec<&str> = expected.iter().zip(&found).filter(|(e, f)| e != f).map(|(e, _)| *e).collect();
    moved.extend(expected.iter().skip(found.len()));
    moved
}

/// The first lines of a statement, enough to recognize it.
fn excerpt(sql: &str) -> Vec<String> {
    const MAX_LINES: usize = 4;
    let lines: Vec<&str> = sql.lines().collect();
    let mut shown: Vec<String> = lines.iter().take(MAX_LINES).map(|l| l.trim_end().to_string()).collect();
    if lines.len() > MAX_LINES {
        let more = lines.len() - MAX_LINES;
        shown.push(format!("... ({more} more {})", if more == 1 { "line" } else { "lines" }));
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_summary_is_kept_whole() {
        assert_eq!(cut_at_word("4 migrations applied", 40), ("4 migrations applied".to_string(), ""));
    }

    #[test]
    fn a_long_summary_is_cut_at_a_word() {
        let summary = "applied: 20260101000000_create_schools, 20260102000000_create_courses; 3 pending: the catalog differs";
        let (line, rest) = cut_at_word(summary, 60);
        assert_eq!(line, "applied: 20260101000000_create_schools…");
        assert!(line.chars().count() <= 60);
        assert_eq!(rest, "20260102000000_create_courses; 3 pending: the catalog differs");
    }

    #[test]
    fn an_identifier_longer_than_the_room_is_kept_whole() {
        let (line, rest) = cut_at_word("20260101000000_a_very_long_migration_name fails", 10);
        assert_eq!(line, "20260101000000_a_very_long_migration_name…");
        assert_eq!(rest, "fails");
    }

    #[test]
    fn a_summary_is_not_cut_inside_parentheses() {
        let summary = "4 migrations applied, but the catalog differs from p/schema.sql (1 difference)";
        let (line, rest) = cut_at_word(summary, summary.len() - 2);
        assert_eq!(line, "4 migrations applied, but the catalog differs from p/schema.sql…");
        assert_eq!(rest, "(1 difference)");
        assert_eq!(cut_at_word("(a b c d e f)", 8).0, "(a b c…");
    }

    #[test]
    fn further_lines_of_a_summary_are_the_rest() {
        assert_eq!(cut_at_word("could not be decided: x\nDETAIL: y", 80), ("could not be decided: x".to_string(), "DETAIL: y"));
    }

    #[test]
    fn long_lists_show_their_ends_and_a_count() {
        let items: Vec<String> = (1..=20).map(|i| format!("m{i}")).collect();
        assert_eq!(shortened(&items).join(", "), "m1, m2, m3, … 14 more …, m18, m19, m20");
        assert_eq!(shortened(&items[..8]).len(), 8);
    }

    #[test]
    fn counts_columns_out_of_place() {
        let change =
            |e: &str, f: &str| Change::Attribute { attribute: "column_order".into(), expected: Some(e.into()), found: Some(f.into()) };
        assert_eq!(columns_out_of_place(&change("id, a, b, c", "id, c, a, b")), ["a", "b", "c"]);
        assert_eq!(columns_out_of_place(&change("id, a, b", "id, b, a")), ["a", "b"]);
        assert!(columns_out_of_place(&change("id, a", "id, a")).is_empty());
    }
}
