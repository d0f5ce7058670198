//! sqlx: `<version>_<desc>.sql` (simple) or `<version>_<desc>.up.sql` + `.down.sql`
//! (reversible), version an `i64`; a first line `-- no-transaction` opts out of the transaction.

use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;

use super::files::{self, Candidate, Entry, Role};
use super::version::integer_key;
use super::{Format, Migration, MigrationError, Script};

static NAME: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^(\d+)_(.*?)(\.up|\.down)?\.sql$").expect("valid regex"));

const PATTERN: &str = "<version>_<desc>.sql or <version>_<desc>.up.sql / .down.sql";

/// The marker sqlx looks for at the very start of a migration file.
pub(crate) const NO_TRANSACTION_MARKER: &str = "-- no-transaction";

pub(crate) fn load(dir: &Path) -> Result<Vec<Migration>, MigrationError> {
    let candidates = files::list_dir(dir)?.iter().filter(|e| e.is_sql_file()).map(candidate).collect::<Result<Vec<_>, _>>()?;
    let pairs = files::pair_candidates(dir, Format::Sqlx, candidates)?;
    files::load_pairs(pairs, declared_no_transaction)
}

fn candidate(entry: &Entry) -> Result<Candidate, MigrationError> {
    let caps = NAME.captures(&entry.name).ok_or_else(|| files::unrecognized(&entry.path, Format::Sqlx, PATTERN))?;
    let version = &caps[1];
    // sqlx parses the version as i64 and refuses anything larger.
    version.parse::<i64>().map_err(|_| MigrationError::Unrecognized {
        path: entry.path.clone(),
        message: format!("version {version} does not fit in a 64-bit signed integer"),
    })?;
    let role = if caps.get(3).is_some_and(|m| m.as_str() == ".down") { Role::Down } else { Role::Up };
    Ok(Candidate { key: integer_key(version), version: version.to_string(), name: caps[2].to_string(), path: entry.path.clone(), role })
}

/// sqlx reads the marker per file; a migration that declares it on either side runs outside.
fn declared_no_transaction(up: &Script, down: Option<&Script>) -> Option<String> {
    if has_marker(up) {
        return Some(format!("declared: {NO_TRANSACTION_MARKER}"));
    }
    let down = down.filter(|d| has_marker(d))?;
    Some(format!("declared: {NO_TRANSACTION_MARKER} in {}", files::file_name(&down.path)))
}

fn has_marker(script: &Script) -> bool {
    script.file_text.starts_with(NO_TRANSACTION_MARKER)
}

/// Whether a file's text starts with sqlx's `-- no-transaction` marker (for format detection).
pub(crate) fn text_has_marker(text: &[u8]) -> bool {
    text.starts_with(NO_TRANSACTION_MARKER.as_bytes())
}

/// Whether a file name fits sqlx's pattern (for format detection).
pub(crate) fn matches_name(name: &str) -> bool {
    NAME.is_match(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migration::files::testutil::layout;

    #[test]
    fn loads_simple_and_reversible_in_numeric_order() {
        let dir = layout(&[
            ("10_third.sql", "CREATE TABLE c (id int);"),
            ("2_second.up.sql", "CREATE TABLE b (id int);"),
            ("2_second.down.sql", "DROP TABLE b;"),
            ("1_first.sql", "CREATE TABLE a (id int);"),
            ("README.md", "not a migration"),
        ]);
        let migrations = load(dir.path()).unwrap();
        let ids: Vec<_> = migrations.iter().map(|m| m.id()).collect();
        assert_eq!(ids, vec!["1_first", "2_second", "10_third"]);
        assert!(migrations[0].down.is_none());
        let down = migrations[1].down.as_ref().unwrap();
        assert_eq!(down.statements[0].sql, "DROP TABLE b");
        assert!(migrations.iter().all(|m| m.no_transaction.is_none() && !m.repeatable));
    }

    #[test]
    fn declared_marker_wins_over_detection() {
        let dir = layout(&[
            ("1_a.sql", "-- no-transaction\nCREATE INDEX CONCURRENTLY i ON t (id);"),
            ("2_b.sql", "SELECT 1;\nCREATE INDEX CONCURRENTLY j ON t (id);"),
        ]);
        let migrations = load(dir.path()).unwrap();
        assert_eq!(migrations[0].no_transaction.as_deref(), Some("declared: -- no-transaction"));
        assert_eq!(
            migrations[1].no_transaction.as_deref(),
            Some("line 2: CREATE INDEX CONCURRENTLY cannot run inside a transaction block")
        );
    }

    #[test]
    fn down_side_reasons_name_the_down_file() {
        let dir = layout(&[("1_a.up.sql", "SELECT 1;"), ("1_a.down.sql", "SELECT 1;\nVACUUM;")]);
        let migrations = load(dir.path()).unwrap();
        assert_eq!(
            migrations[0].no_transaction.as_deref(),
            Some("down (1_a.down.sql): line 2: VACUUM cannot run inside a transaction block")
        );
    }

    #[test]
    fn a_sql_file_outside_the_pattern_is_an_error() {
        let dir = layout(&[("1_a.sql", "SELECT 1;"), ("schema.sql", "SELECT 1;")]);
        let err = load(dir.path()).unwrap_err();
        assert!(matches!(err, MigrationError::Unrecognized { .. }), "{err}");
        assert!(err.to_string().contains("schema.sql"), "{err}");
    }

    #[test]
    fn version_beyond_i64_is_an_error() {
        let dir = layout(&[("99999999999999999999_a.sql", "SELECT 1;")]);
        let err = load(dir.path()).unwrap_err();
        assert!(err.to_string().contains("does not fit"), "{err}");
    }

    #[test]
    fn simple_and_up_with_same_version_are_duplicates() {
        let dir = layout(&[("1_a.sql", "SELECT 1;"), ("1_a.up.sql", "SELECT 1;")]);
        let err = load(dir.path()).unwrap_err();
        assert!(matches!(err, MigrationError::DuplicateVersion { .. }), "{err}");
        let message = err.to_string();
        assert!(message.contains("1_a.sql") && message.contains("1_a.up.sql"), "{message}");
    }

    #[test]
    fn down_without_up_is_an_error() {
        let dir = layout(&[("1_a.sql", "SELECT 1;"), ("2_b.down.sql", "SELECT 1;")]);
        let err = load(dir.path()).unwrap_err();
        assert!(matches!(err, MigrationError::DownWithoutUp { ref version, .. } if version == "2"), "{err}");
        assert!(err.to_string().contains("2_b.down.sql"), "{err}");
    }
}
