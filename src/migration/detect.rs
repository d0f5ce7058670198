//! Telling a directory's migration format from its file names and markers.

use std::path::Path;

use super::files::{self, Entry};
use super::{dbmate, diesel, flyway, golang_migrate, sqlx, Format, MigrationError};

/// Detects the format of `dir`, first rule that fits:
/// 1. diesel: a subdirectory holds `up.sql`;
/// 2. dbmate: a `.sql` file has a `-- migrate:up` line;
/// 3. flyway: a file is named `V<version>__<desc>.sql`;
/// 4. golang-migrate: every `.sql` file is `<digits>_<title>.up.sql`/`.down.sql`, none starting
///    with `-- no-transaction`;
/// 5. sqlx: every `.sql` file is `<digits>_<desc>.sql`;
/// 6. plain otherwise (including a directory without `.sql` files, which then fails to load as
///    empty).
pub fn detect_format(dir: &Path) -> Result<Format, MigrationError> {
    let entries = files::list_dir(dir)?;
    let sql: Vec<&Entry> = entries.iter().filter(|e| e.is_sql_file()).collect();
    let format = if diesel::has_migration_dirs(&entries) {
        Format::Diesel
    } else if sql.iter().any(|e| has_dbmate_marker(e)) {
        Format::Dbmate
    } else if sql.iter().any(|e| flyway::is_versioned_name(&e.name)) {
        Format::Flyway
    } else if sql.is_empty() {
        Format::Plain
    } else if sql.iter().all(|e| golang_migrate::matches_name(&e.name) && !has_sqlx_marker(e)) {
        Format::GolangMigrate
    } else if sql.iter().all(|e| sqlx::matches_name(&e.name)) {
        Format::Sqlx
    } else {
        Format::Plain
    };
    Ok(format)
}

/// Unreadable or non-UTF-8 files count as unmarked here; loading reports them properly.
fn has_dbmate_marker(entry: &Entry) -> bool {
    std::fs::read(&entry.path).is_ok_and(|bytes| dbmate::text_has_up_marker(&String::from_utf8_lossy(&bytes)))
}

fn has_sqlx_marker(entry: &Entry) -> bool {
    std::fs::read(&entry.path).is_ok_and(|bytes| sqlx::text_has_marker(&bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migration::files::testutil::layout;

    fn detect(files: &[(&str, &str)]) -> Format {
        let dir = layout(files);
        detect_format(dir.path()).unwrap()
    }

    #[test]
    fn picks_each_format() {
        assert_eq!(detect(&[("2023-01-01-000000_a/up.sql", "SELECT 1;"), (".keep", "")]), Format::Diesel);
        assert_eq!(detect(&[("20240101_a.sql", "-- migrate:up\nSELECT 1;\n-- migrate:down\n")]), Format::Dbmate);
        assert_eq!(detect(&[("V1__a.sql", "SELECT 1;"), ("R__b.sql", "SELECT 1;")]), Format::Flyway);
        assert_eq!(detect(&[("1_a.up.sql", "SELECT 1;"), ("1_a.down.sql", "SELECT 1;")]), Format::GolangMigrate);
        assert_eq!(detect(&[("1_a.sql", "SELECT 1;"), ("2_b.up.sql", "SELECT 1;")]), Format::Sqlx);
        assert_eq!(detect(&[("1_a.up.sql", "-- no-transaction\nVACUUM;")]), Format::Sqlx);
        assert_eq!(detect(&[("schema.sql", "SELECT 1;"), ("1_a.sql", "SELECT 1;")]), Format::Plain);
        assert_eq!(detect(&[("README.md", "")]), Format::Plain);
    }

    #[test]
    fn missing_directory_and_file_are_errors() {
        let dir = layout(&[("f.sql", "")]);
        let err = detect_format(&dir.path().join("nope")).unwrap_err();
        assert!(matches!(err, MigrationError::Io { ref source, .. } if source.kind() == std::io::ErrorKind::NotFound), "{err}");
        let err = detect_format(&dir.path().join("f.sql")).unwrap_err();
        assert!(matches!(err, MigrationError::NotADirectory { .. }), "{err}");
    }
}
