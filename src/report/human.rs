//! The human-readable report.

use std::fmt::Write;

use crate::model::{Failure, Report, Status, Verdict, VerdictStatus};

/// The report as text; `color` keeps ANSI colors in the diff.
pub fn human(report: &Report, color: bool) -> String {
    let mut out = String::new();
    let reference = match &report.reference {
        Some(path) => format!("reference {}", path.display()),
        None => "no reference schema (the fresh run is the reference)".to_string(),
    };
    let _ = writeln!(out, "pgconverge check {}", report.project.display());
    let _ = writeln!(out, "  {} migrations ({}), {reference}, {}", report.migrations, report.format, report.backend);
    for note in &report.notes {
        let _ = writeln!(out, "  note: {note}");
    }
    out.push('\n');
    let width = report.verdicts.iter().map(|v| v.property.name().len()).max().unwrap_or(0);
    for verdict in &report.verdicts {
        write_verdict(&mut out, verdict, width, color);
    }
    let held = report.verdicts.iter().filter(|v| v.status == VerdictStatus::Pass).count();
    let failed = report.verdicts.iter().filter(|v| v.status == VerdictStatus::Fail).count();
    let skipped = report.verdicts.iter().filter(|v| v.status == VerdictStatus::Skipped).count();
    let incomplete = report.verdicts.iter().filter(|v| v.status == VerdictStatus::Incomplete).count();
    let skipped_note = if skipped > 0 { format!(", {skipped} skipped") } else { String::new() };
    if let Some(seed) = report.seed {
        let rerun = match report.shard {
            Some(shard) => format!("seed {seed}, shard {shard} (rerun the same cases with --seed {seed} --shard {shard})"),
            None => format!("seed {seed} (rerun the same cases with --seed {seed})"),
        };
        let _ = writeln!(out, "\n{rerun}");
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
    let _ = match report.status {
        Status::Converges => writeln!(out, "\nconverges: {}{skipped_note}", holds(held)),
        Status::Counterexample => {
            writeln!(out, "\ncounterexample: {failed} of {} properties fail{skipped_note}", report.verdicts.len())
        }
        Status::Incomplete => writeln!(
            out,
            "\nincomplete: {} could not run all of its cases; {}{skipped_note}",
            if incomplete == 1 { "1 property".to_string() } else { format!("{incomplete} properties") },
            holds(held)
        ),
        Status::Nondeterministic => writeln!(
            out,
            "\nnondeterministic: {}{skipped_note}, but {} from run to run",
            holds(held),
            match report.nondeterministic.len() {
                1 => "1 object differs".to_string(),
                n => format!("{n} objects differ"),
            }
        ),
    };
    out
}

/// `1 property holds`, `2 properties hold`.
fn holds(n: usize) -> String {
    if n == 1 {
        "1 property holds".to_string()
    } else {
        format!("{n} properties hold")
    }
}

fn write_verdict(out: &mut String, verdict: &Verdict, width: usize, color: bool) {
    let mark = match verdict.status {
        VerdictStatus::Pass => "ok  ",
        VerdictStatus::Fail => "FAIL",
        VerdictStatus::Skipped => "skip",
        VerdictStatus::Incomplete => "inc.",
    };
    let _ = writeln!(out, "  {mark}  {:width$}  {}", verdict.property.name(), verdict.summary);
    if let Some(timing) = &verdict.timing {
        let per_case = timing.per_case_ms.map(|ms| format!(", {ms:.1} ms for an unshared case")).unwrap_or_default();
        let _ = writeln!(
            out,
            "        {:.1} s, {:.1} ms per case amortized{per_case}, {} jobs",
            timing.elapsed_ms / 1000.0,
            timing.amortized_ms,
            timing.jobs
        );
    }
    if let Some(replayed) = &verdict.replayed {
        let _ = writeln!(out, "        {}", replayed.summary());
    }
    for warning in &verdict.warnings {
        let _ = writeln!(out, "        {warning}");
    }
    if let Some(case) = &verdict.case {
        if let Some(hidden) = &case.hidden_dependency {
            let _ = writeln!(
                out,
                "        hidden order dependency: {} needs {}: {}",
                hidden.migration,
                hidden.needs.join(", "),
                hidden.fixes()
            );
        }
        if !case.applied.is_empty() {
            let _ = writeln!(out, "        applied:      {}", case.applied.join(", "));
        }
        if !case.preexisting.is_empty() {
            let _ = writeln!(out, "        pre-existing: {}", case.preexisting.join(", "));
        }
        if let Some(interrupted) = &case.interrupted {
            let _ = writeln!(out, "        interrupted:  {interrupted}");
        }
        let _ = writeln!(out, "        pending:      {}", case.order.join(", "));
        if let Some(path) = &case.regressions {
            let _ = writeln!(out, "        seed saved:   {} (replayed first on every run)", path.display());
        }
        if let Some(path) = &case.repro {
            let _ = writeln!(out, "        repro:        psql -X -v ON_ERROR_STOP=1 -d <empty database> -f {}", path.display());
        }
    }
    match &verdict.failure {
        None => {}
        Some(Failure::StatementFailed { migration, statement, location, sql, error }) => {
            let _ = writeln!(out, "        {location}: statement {statement} of {migration}");
            for line in excerpt(sql) {
                let _ = writeln!(out, "          | {line}");
            }
            for line in error.to_string().lines() {
                let _ = writeln!(out, "        {line}");
            }
        }
        Some(Failure::Diverged { expected, differences, expected_text, found_text }) => {
            for difference in differences {
                let _ = writeln!(out, "        {difference}");
            }
            let diff = pretty_assertions::StrComparison::new(expected_text, found_text).to_string();
            let diff = if color { diff } else { super::strip_ansi(&diff) };
            let _ = writeln!(out, "        diff (< {expected}, > found):");
            for line in diff.lines() {
                let _ = writeln!(out, "          {line}");
            }
        }
    }
    out.push_str(&super::more_findings(verdict));
}

/// The first lines of a statement, enough to recognize it.
fn excerpt(sql: &str) -> Vec<String> {
    const MAX_LINES: usize = 4;
    let lines: Vec<&str> = sql.lines().collect();
    let mut shown: Vec<String> = lines.iter().take(MAX_LINES).map(|l| l.trim_end().to_string()).collect();
    if lines.len() > MAX_LINES {
        shown.push(format!("... ({} more lines)", lines.len() - MAX_LINES));
    }
    shown
}
