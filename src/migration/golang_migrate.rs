//! golang-migrate: `<version>_<title>.up.sql` and `<version>_<title>.down.sql`, version an
//! unsigned integer. golang-migrate has no per-file transaction marker.

use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;

use super::files::{self, Candidate, Entry, Role};
use super::version::integer_key;
use super::{Format, Migration, MigrationError};

static NAME: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^(\d+)_(.*)\.(up|down)\.sql$").expect("valid regex"));

const PATTERN: &str = "<version>_<title>.up.sql / <version>_<title>.down.sql";

pub(crate) fn load(dir: &Path) -> Result<Vec<Migration>, MigrationError> {
    let candidates = files::list_dir(dir)?.iter().filter(|e| e.is_sql_file()).map(candidate).collect::<Result<Vec<_>, _>>()?;
    let pairs = files::pair_candidates(dir, Format::GolangMigrate, candidates)?;
    files::load_pairs(pairs, |_, _| None)
}

fn candidate(entry: &Entry) -> Result<Candidate, MigrationError> {
    let caps = NAME.captures(&entry.name).ok_or_else(|| files::unrecognized(&entry.path, Format::GolangMigrate, PATTERN))?;
    let version = &caps[1];
    version.parse::<u64>().map_err(|_| MigrationError::Unrecognized {
        path: entry.path.clone(),
        message: format!("version {version} does not fit in a 64-bit unsigned integer"),
    })?;
    let role = if &caps[3] == "down" { Role::Down } else { Role::Up };
    Ok(Candidate { key: integer_key(version), version: version.to_string(), name: caps[2].to_string(), path: entry.path.clone(), role })
}

/// Whether a file name fits golang-migrate's pattern (for format detection).
pub(crate) fn matches_name(name: &str) -> bool {
    NAME.is_match(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migration::files::testutil::layout;

    #[test]
    fn loads_up_and_down_in_numeric_order() {
        let dir = layout(&[
            ("000010_users.up.sql", "CREATE TABLE users (id int);"),
            ("000010_users.down.sql", "DROP TABLE users;"),
            ("000002_init.up.sql", "CREATE SCHEMA app;"),
            ("000002_init.down.sql", "DROP SCHEMA app;"),
            (".keep", ""),
        ]);
        let migrations = load(dir.path()).unwrap();
        let got: Vec<_> = migrations.iter().map(|m| (m.version.as_str(), m.name.as_str(), m.down.is_some())).collect();
        assert_eq!(got, vec![("000002", "init", true), ("000010", "users", true)]);
        assert_eq!(migrations[1].up.statements[0].sql, "CREATE TABLE users (id int)");
    }

    #[test]
    fn detects_non_transactional_statements() {
        let dir = layout(&[("1_idx.up.sql", "CREATE INDEX CONCURRENTLY i ON t (id);")]);
        let migrations = load(dir.path()).unwrap();
        assert_eq!(
            migrations[0].no_transaction.as_deref(),
            Some("line 1: CREATE INDEX CONCURRENTLY cannot run inside a transaction block")
        );
    }

    #[test]
    fn a_simple_sql_file_is_an_error() {
        let dir = layout(&[("1_a.up.sql", "SELECT 1;"), ("2_b.sql", "SELECT 1;")]);
        let err = load(dir.path()).unwrap_err();
        assert!(matches!(err, MigrationError::Unrecognized { .. }), "{err}");
        assert!(err.to_string().contains("2_b.sql"), "{err}");
    }

    #[test]
    fn two_ups_with_one_version_are_duplicates() {
        let dir = layout(&[("1_a.up.sql", "SELECT 1;"), ("001_b.up.sql", "SELECT 1;")]);
        let err = load(dir.path()).unwrap_err();
        assert!(matches!(err, MigrationError::DuplicateVersion { .. }), "{err}");
    }
}
