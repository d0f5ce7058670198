//! dbmate: `<version>_<name>.sql`, one file per migration, split into a `-- migrate:up` and an
//! optional `-- migrate:down` section; `transaction:false` after a marker opts that section out
//! of the transaction. Each section is a [`Script`] over the whole file text, so positions stay
//! file-relative.

use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;

use super::files::{self, Candidate, Entry, Pair, Role};
use super::version::integer_key;
use super::{location_at, read_text, Format, Migration, MigrationError, Script, Span};

static NAME: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^(\d+)(?:_(.*))?\.sql$").expect("valid regex"));

/// A section marker line: `-- migrate:up` or `-- migrate:down`, then options.
static MARKER: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?m)^--[ \t]*migrate:(up|down)\b([^\n]*)$").expect("valid regex"));

const PATTERN: &str = "<version>_<name>.sql";

pub(crate) fn load(dir: &Path) -> Result<Vec<Migration>, MigrationError> {
    let candidates = files::list_dir(dir)?.iter().filter(|e| e.is_sql_file()).map(candidate).collect::<Result<Vec<_>, _>>()?;
    let pairs = files::pair_candidates(dir, Format::Dbmate, candidates)?;
    pairs.iter().map(load_migration).collect()
}

fn candidate(entry: &Entry) -> Result<Candidate, MigrationError> {
    let caps = NAME.captures(&entry.name).ok_or_else(|| files::unrecognized(&entry.path, Format::Dbmate, PATTERN))?;
    Ok(Candidate {
        key: integer_key(&caps[1]),
        version: caps[1].to_string(),
        name: caps.get(2).map_or("", |m| m.as_str()).to_string(),
        path: entry.path.clone(),
        role: Role::Up,
    })
}

/// One `-- migrate:` section of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Section {
    /// Byte offset of the marker line.
    marker: usize,
    /// The SQL after the marker line, up to the next marker or the end of the file.
    body: Span,
    no_transaction: bool,
}

#[derive(Debug, Default)]
struct Sections {
    up: Option<Section>,
    down: Option<Section>,
}

fn load_migration(pair: &Pair) -> Result<Migration, MigrationError> {
    let path = &pair.up;
    let text = read_text(path)?;
    let sections = split_sections(path, &text)?;
    let up_section = sections.up.ok_or_else(|| invalid(path, &text, 0, "no `-- migrate:up` section"))?;
    let up = Script::parse(path, text.clone(), up_section.body)?;
    let down = sections.down.as_ref().map(|s| Script::parse(path, text.clone(), s.body)).transpose()?;
    let declared = declared_no_transaction(&up_section, sections.down.as_ref());
    Ok(files::migration(pair, up, down, declared))
}

/// Finds the up and down sections. As dbmate does, it refuses SQL before the first marker, a
/// repeated marker, and a down section before the up one.
fn split_sections(path: &Path, text: &str) -> Result<Sections, MigrationError> {
    let markers: Vec<_> = MARKER.captures_iter(text).collect();
    let first = markers.first().map_or(text.len(), |m| m.get(0).map_or(0, |g| g.start()));
    if let Some(offset) = first_sql_offset(&text[..first]) {
        return Err(invalid(path, text, offset, "SQL before `-- migrate:up`; dbmate runs only the marked sections"));
    }
    let mut sections = Sections::default();
    for (i, caps) in markers.iter().enumerate() {
        let whole = caps.get(0).expect("group 0 always matches");
        let end = markers.get(i + 1).map_or(text.len(), |next| next.get(0).map_or(text.len(), |g| g.start()));
        let body_start = (whole.end() + 1).min(end);
        let section = Section {
            marker: whole.start(),
            body: Span { start: body_start, end },
            no_transaction: caps[2].split_whitespace().any(|option| option == "transaction:false"),
        };
        let slot = if &caps[1] == "up" { &mut sections.up } else { &mut sections.down };
        if slot.is_some() {
            let message = format!("second `-- migrate:{}` marker", &caps[1]);
            return Err(invalid(path, text, whole.start(), &message));
        }
        *slot = Some(section);
    }
    if let (Some(up), Some(down)) = (&sections.up, &sections.down) {
        if down.marker < up.marker {
            return Err(invalid(path, text, down.marker, "`-- migrate:down` comes before `-- migrate:up`"));
        }
    }
    Ok(sections)
}

/// Offset of the first line that is neither blank nor a `--` comment.
fn first_sql_offset(text: &str) -> Option<usize> {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if !trimmed.is_empty() && !trimmed.starts_with("--") {
            return Some(offset + (line.len() - trimmed.len()));
        }
        offset += line.len();
    }
    None
}

fn declared_no_transaction(up: &Section, down: Option<&Section>) -> Option<String> {
    if up.no_transaction {
        return Some("declared: -- migrate:up transaction:false".into());
    }
    down.filter(|d| d.no_transaction).map(|_| "declared: -- migrate:down transaction:false".into())
}

fn invalid(path: &Path, text: &str, offset: usize, message: &str) -> MigrationError {
    MigrationError::Invalid { location: location_at(path, text, offset), message: message.to_string() }
}

/// Whether a file's text has a `-- migrate:up` marker (for format detection).
pub(crate) fn text_has_up_marker(text: &str) -> bool {
    MARKER.captures_iter(text).any(|caps| &caps[1] == "up")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migration::files::testutil::layout;

    const USERS: &str = "-- migrate:up\nCREATE TABLE users (id int);\n\n-- migrate:down\nDROP TABLE users;\n";

    #[test]
    fn loads_sections_with_file_relative_lines() {
        let dir = layout(&[
            ("20240102000000_users.sql", USERS),
            ("20240101000000_init.sql", "-- migrate:up\nCREATE SCHEMA app;\n"),
            ("README.md", "docs"),
        ]);
        let migrations = load(dir.path()).unwrap();
        let ids: Vec<_> = migrations.iter().map(|m| m.id()).collect();
        assert_eq!(ids, vec!["20240101000000_init", "20240102000000_users"]);
        assert!(migrations[0].down.is_none());
        let users = &migrations[1];
        assert_eq!(users.up.statements.len(), 1);
        assert_eq!((users.up.statements[0].line, users.up.statements[0].sql.as_str()), (2, "CREATE TABLE users (id int)"));
        let down = users.down.as_ref().unwrap();
        assert_eq!((down.statements[0].line, down.statements[0].sql.as_str()), (5, "DROP TABLE users"));
        assert_eq!(users.no_transaction, None);
    }

    #[test]
    fn transaction_false_is_declared() {
        let dir = layout(&[
            ("1_a.sql", "-- migrate:up transaction:false\nCREATE INDEX CONCURRENTLY i ON t (id);\n-- migrate:down\n"),
            ("2_b.sql", "-- migrate:up\nSELECT 1;\n-- migrate:down transaction:false\nDROP INDEX CONCURRENTLY i;\n"),
            ("3_c.sql", "-- migrate:up\nSELECT 1;\n-- migrate:down\nSELECT 1;\nDROP INDEX CONCURRENTLY i;\n"),
        ]);
        let migrations = load(dir.path()).unwrap();
        let reasons: Vec<_> = migrations.iter().map(|m| m.no_transaction.clone().unwrap()).collect();
        assert_eq!(reasons[0], "declared: -- migrate:up transaction:false");
        assert_eq!(reasons[1], "declared: -- migrate:down transaction:false");
        assert_eq!(reasons[2], "down (3_c.sql): line 5: DROP INDEX CONCURRENTLY cannot run inside a transaction block");
    }

    #[test]
    fn file_without_up_marker_is_an_error() {
        let dir = layout(&[("1_a.sql", "-- migrate:up\nSELECT 1;\n"), ("2_b.sql", "-- just a comment\n")]);
        let err = load(dir.path()).unwrap_err();
        assert!(matches!(err, MigrationError::Invalid { .. }), "{err}");
        assert!(err.to_string().contains("2_b.sql:1:1: no `-- migrate:up` section"), "{err}");
    }

    #[test]
    fn sql_before_the_up_marker_is_an_error() {
        let dir = layout(&[("1_a.sql", "-- header\n  SELECT 1;\n-- migrate:up\nSELECT 2;\n")]);
        let err = load(dir.path()).unwrap_err();
        assert!(err.to_string().contains("1_a.sql:2:3: SQL before"), "{err}");
    }

    #[test]
    fn down_before_up_and_repeated_markers_are_errors() {
        let cases = [
            ("-- migrate:down\nSELECT 1;\n-- migrate:up\nSELECT 2;\n", ":1:1: `-- migrate:down` comes before"),
            ("-- migrate:up\nSELECT 1;\n-- migrate:up\nSELECT 2;\n", ":3:1: second `-- migrate:up`"),
        ];
        for (text, expected) in cases {
            let dir = layout(&[("1_a.sql", text)]);
            let err = load(dir.path()).unwrap_err();
            assert!(err.to_string().contains(expected), "{err}");
        }
    }

    #[test]
    fn syntax_error_in_down_section_has_file_position() {
        let dir = layout(&[("1_a.sql", "-- migrate:up\nSELECT 1;\n-- migrate:down\nDROP TABLEX t;\n")]);
        let err = load(dir.path()).unwrap_err();
        assert!(matches!(err, MigrationError::Syntax { .. }), "{err}");
        assert!(err.to_string().contains("1_a.sql:4:6:"), "{err}");
    }

    #[test]
    fn crlf_files_split_cleanly() {
        let dir = layout(&[("1_a.sql", "-- migrate:up transaction:false\r\nSELECT 1;\r\n-- migrate:down\r\nSELECT 2;\r\n")]);
        let migrations = load(dir.path()).unwrap();
        assert_eq!(migrations[0].up.statements[0].sql, "SELECT 1");
        assert!(migrations[0].no_transaction.is_some());
        assert_eq!(migrations[0].down.as_ref().unwrap().statements[0].line, 4);
    }
}
