//! Writing reports: human text, JSON, JUnit, GitHub annotations, and a run that ended in an
//! error in each. Writers return strings; the caller decides where they go.

mod findings;
mod github;
mod human;
mod junit;
mod matrix;
mod table;
mod unfinished;

pub use findings::more_findings;
pub use github::{escape_data as github_escape_data, github};
pub use human::human;
pub use junit::{junit, junit_many};
pub use matrix::Matrix;
pub use table::table;
pub use unfinished::{Stopped, Unfinished};

use std::fmt::Write;
use std::path::Path;

use anstyle::{AnsiColor, Style};
use similar::{ChangeTag, TextDiff};

use crate::migration::Location;
use crate::model::Report;
use crate::project::paths::normalize;

/// The full report as pretty JSON (the format is documented in the README).
pub(crate) fn json(report: &Report) -> String {
    serde_json::to_string_pretty(report).expect("a report always serializes")
}

/// Lines only the expected text has: red.
const REMOVED: Style = AnsiColor::Red.on_default();
/// Lines only the found text has: green.
const ADDED: Style = AnsiColor::Green.on_default();

/// The line diff of `expected` and `found`, one string a line: `- ` starts a line only
/// `expected` has, `+ ` one only `found` has, two spaces one both have. With `color`, removed
/// lines are red, added ones green, and the words that changed within a line bold and
/// underlined; without, plain text.
pub(crate) fn line_diff(expected: &str, found: &str, color: bool) -> Vec<String> {
    let diff = TextDiff::from_lines(expected, found);
    let mut lines = Vec::new();
    for op in diff.ops() {
        for change in diff.iter_inline_changes(op) {
            let (sign, style) = match change.tag() {
                ChangeTag::Delete => ('-', REMOVED),
                ChangeTag::Insert => ('+', ADDED),
                ChangeTag::Equal => (' ', Style::new()),
            };
            let mut line = String::new();
            if color {
                let _ = write!(line, "{style}{sign} ");
            } else {
                let _ = write!(line, "{sign} ");
            }
            for (emphasized, text) in change.iter_strings_lossy() {
                let text = text.trim_end_matches(['\n', '\r']);
                if color && emphasized {
                    let emphasis = style.bold().underline();
                    let _ = write!(line, "{emphasis}{text}{emphasis:#}{style}");
                } else {
                    line.push_str(text);
                }
            }
            if color {
                let _ = write!(line, "{style:#}");
            }
            lines.push(line.trim_end().to_string());
        }
    }
    lines
}

/// A path as the user would write it: no `/./`, no trailing `/.`.
pub(crate) fn shown(path: &Path) -> String {
    normalize(path).display().to_string()
}

/// `file:line:column`, the file as [`shown`].
pub(crate) fn location(location: &Location) -> String {
    format!("{}:{}:{}", shown(&location.file), location.line, location.column)
}

/// Where the SQL behind `difference` is, for the line under it: `from FILE:LINE:COL (migration
/// ID)`, or `(the reference)` when no migration writes the object.
pub(crate) fn origin_of(difference: &crate::compare::Difference, origins: &[crate::model::Origin]) -> Option<String> {
    let origin = origins.iter().find(|o| o.kind == difference.kind && o.object == difference.object)?;
    let whose = match &origin.migration {
        Some(migration) => format!("migration {migration}"),
        None => "the reference".to_string(),
    };
    Some(format!("from {} ({whose})", location(&origin.location)))
}

#[cfg(test)]
mod tests {
    use super::{line_diff, origin_of};
    use crate::catalog::ObjectKind;
    use crate::compare::{Change, Difference, Severity};
    use crate::migration::Location;
    use crate::model::Origin;

    #[test]
    fn a_difference_names_the_statement_it_comes_from() {
        let difference = |object: &str| Difference {
            kind: ObjectKind::Index,
            object: object.into(),
            change: Change::Missing,
            severity: Severity::Error,
            dependents: 0,
        };
        let origin = |object: &str, migration: Option<&str>, file: &str| Origin {
            kind: ObjectKind::Index,
            object: object.into(),
            migration: migration.map(String::from),
            location: Location { file: file.into(), line: 4, column: 3 },
        };
        let origins = [
            origin("public.by_email", Some("20260101_create_users"), "migrations/20260101_create_users.sql"),
            origin("public.by_name", None, "schema.sql"),
        ];
        assert_eq!(
            origin_of(&difference("public.by_email"), &origins).as_deref(),
            Some("from migrations/20260101_create_users.sql:4:3 (migration 20260101_create_users)")
        );
        assert_eq!(origin_of(&difference("public.by_name"), &origins).as_deref(), Some("from schema.sql:4:3 (the reference)"));
        assert_eq!(origin_of(&difference("public.unnamed"), &origins), None);
    }

    const EXPECTED: &str = "column public.t.status\n  default: 'inactive'::varchar\n  not_null: true\n";
    const FOUND: &str = "column public.t.status\n  default: 'active'::varchar\n  not_null: true\n";

    #[test]
    fn a_line_diff_is_plain_text_unless_colour_is_asked_for() {
        let plain = line_diff(EXPECTED, FOUND, false);
        assert_eq!(
            plain,
            ["  column public.t.status", "-   default: 'inactive'::varchar", "+   default: 'active'::varchar", "    not_null: true"]
        );
        let coloured = line_diff(EXPECTED, FOUND, true);
        assert_eq!(coloured[0], plain[0], "a line both have is not coloured");
        // Removed red, added green, the changed words bold and underlined, each line reset.
        assert_eq!(coloured[1], "\x1b[31m-   default: \x1b[1m\x1b[4m\x1b[31m'inactive'::varchar\x1b[0m\x1b[31m\x1b[0m");
        assert!(coloured[2].starts_with("\x1b[32m+   default: ") && coloured[2].ends_with("\x1b[0m"), "{:?}", coloured[2]);
    }
}
