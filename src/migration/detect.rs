//! Telling a directory's migration format from its file names and markers, and which file
//! decided it. A few files never switch the format the rest share: one Flyway-named file among
//! sqlx-named ones is an error naming it, not a Flyway project whose other files do not fit.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::files::{self, Entry};
use super::{dbmate, diesel, flyway, golang_migrate, sqlx, Format, MigrationError};

/// The file that decided a detected format, and what about it did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Detection {
    /// The file: a diesel migration's `up.sql`, a file with dbmate's `-- migrate:up`, ...
    pub file: PathBuf,
    /// What about it decided, said after its path: "has `-- migrate:up`".
    pub reason: String,
}

impl fmt::Display for Detection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.file.display(), self.reason)
    }
}

/// Detects the format of `dir`, first rule that fits:
/// 1. diesel: a subdirectory holds `up.sql`;
/// 2. dbmate: a `.sql` file has a `-- migrate:up` line;
/// 3. flyway: a file is named `V<version>__<desc>.sql`;
/// 4. golang-migrate: every `.sql` file is `<digits>_<title>.up.sql`/`.down.sql`, none starting
///    with `-- no-transaction`;
/// 5. sqlx: every `.sql` file is `<digits>_<desc>.sql`;
/// 6. plain otherwise (including a directory without `.sql` files, which then fails to load as
///    empty).
///
/// Rules 2, 3 and 6 are decided by some of the files; when those are fewer than the files that
/// do not fit them (one `V1__x.sql` among twenty sqlx-named files), detection refuses, naming them.
pub fn detect_format(dir: &Path) -> Result<Format, MigrationError> {
    detect(dir).map(|(format, _)| format)
}

/// [`detect_format`], and the file that decided it (`None` for a directory without `.sql` files).
pub(crate) fn detect(dir: &Path) -> Result<(Format, Option<Detection>), MigrationError> {
    let entries = files::list_dir(dir)?;
    if let Some(up) = diesel::first_migration_up(&entries) {
        return Ok((Format::Diesel, Some(Detection { file: up, reason: "is a diesel migration (`<version>_<name>/up.sql`)".into() })));
    }
    let sql: Vec<&Entry> = entries.iter().filter(|e| e.is_sql_file()).collect();
    let (marked, unmarked): (Vec<&Entry>, Vec<&Entry>) = sql.iter().partition(|e| has_dbmate_marker(e));
    if let Some(first) = marked.first() {
        few_do_not_switch(&marked, "has `-- migrate:up` (dbmate's marker)", &unmarked)?;
        return Ok(decided(Format::Dbmate, first, "has `-- migrate:up`"));
    }
    if let Some(versioned) = sql.iter().find(|e| flyway::is_versioned_name(&e.name)) {
        let (named, others): (Vec<&Entry>, Vec<&Entry>) = sql.iter().partition(|e| flyway::matches_name(&e.name));
        few_do_not_switch(&named, "is named like a Flyway migration", &others)?;
        return Ok(decided(Format::Flyway, versioned, "is named `V<version>__<desc>.sql`"));
    }
    let Some(first) = sql.first() else {
        return Ok((Format::Plain, None));
    };
    let (named, others): (Vec<&Entry>, Vec<&Entry>) = sql.iter().partition(|e| sqlx::matches_name(&e.name));
    if let Some(other) = others.first() {
        few_do_not_switch(&others, "is not named `<version>_<desc>.sql`", &named)?;
        return Ok(decided(Format::Plain, other, "is named like no format's migration, so every .sql file runs in name order"));
    }
    let simple: Vec<&&Entry> = sql.iter().filter(|e| !golang_migrate::matches_name(&e.name)).collect();
    match simple.first() {
        Some(_) if simple.len() == sql.len() => Ok(decided(Format::Sqlx, first, &every(sql.len(), "`<version>_<desc>.sql`"))),
        Some(simple) => {
            Ok(decided(Format::Sqlx, simple, "is named `<version>_<desc>.sql`, not .up.sql or .down.sql as golang-migrate's are"))
        }
        None => match sql.iter().find(|e| has_sqlx_marker(e)) {
            Some(marked) => {
                Ok(decided(Format::Sqlx, marked, "starts with `-- no-transaction` (sqlx's marker; the names fit golang-migrate too)"))
            }
            None => Ok(decided(Format::GolangMigrate, first, &every(sql.len(), "`<version>_<title>.up.sql` or `.down.sql`"))),
        },
    }
}

fn decided(format: Format, entry: &Entry, reason: &str) -> (Format, Option<Detection>) {
    (format, Some(Detection { file: entry.path.clone(), reason: reason.to_string() }))
}

/// "is named P", and how many other files are too.
fn every(files: usize, pattern: &str) -> String {
    match files {
        1 => format!("is named {pattern}, the only .sql file"),
        2 => format!("is named {pattern}, as is the other .sql file"),
        n => format!("is named {pattern}, as are the {} other .sql files", n - 1),
    }
}

/// An error naming `few` (the files that would decide the format, each as `what` says) when they
/// are fewer than `rest`, the files that do not fit that format.
fn few_do_not_switch(few: &[&Entry], what: &str, rest: &[&Entry]) -> Result<(), MigrationError> {
    if few.is_empty() || few.len() >= rest.len() {
        return Ok(());
    }
    let also = match few.len() {
        1 => String::new(),
        n => {
            let shown: Vec<&str> = few[1..].iter().take(3).map(|e| e.name.as_str()).collect();
            let more = if n - 1 > shown.len() { format!(" and {} more", n - 1 - shown.len()) } else { String::new() };
            format!(" (so do {}{more})", shown.join(", "))
        }
    };
    let them = if few.len() == 1 { "it" } else { "them" };
    Err(MigrationError::Unrecognized {
        path: few[0].path.clone(),
        message: format!(
            "{what}{also}, unlike the other {} .sql files here ({}, like {}); a few files do not switch the detected format: \
             rename {them} to fit the rest, or set `format` in pgconverge.toml",
            rest.len(),
            names_of(rest),
            rest[0].name
        ),
    })
}

/// How `files` are named, in words.
fn names_of(files: &[&Entry]) -> &'static str {
    if files.iter().all(|e| golang_migrate::matches_name(&e.name)) {
        "golang-migrate names"
    } else if files.iter().all(|e| sqlx::matches_name(&e.name)) {
        "sqlx names"
    } else if files.iter().all(|e| flyway::matches_name(&e.name)) {
        "Flyway names"
    } else {
        "no single format's names"
    }
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

    fn detect_in(files: &[(&str, &str)]) -> Format {
        let dir = layout(files);
        detect_format(dir.path()).unwrap()
    }

    /// The deciding file's name and the reason.
    fn decided_by(files: &[(&str, &str)]) -> String {
        let dir = layout(files);
        let (_, detection) = detect(dir.path()).unwrap();
        let detection = detection.expect("a detection");
        format!("{} {}", detection.file.strip_prefix(dir.path()).unwrap().display(), detection.reason)
    }

    fn refusal(files: &[(&str, &str)]) -> String {
        let dir = layout(files);
        let err = detect(dir.path()).unwrap_err();
        assert!(matches!(err, MigrationError::Unrecognized { .. }), "{err}");
        err.to_string().replace(&format!("{}/", dir.path().display()), "")
    }

    #[test]
    fn picks_each_format() {
        assert_eq!(detect_in(&[("2023-01-01-000000_a/up.sql", "SELECT 1;"), (".keep", "")]), Format::Diesel);
        assert_eq!(detect_in(&[("20240101_a.sql", "-- migrate:up\nSELECT 1;\n-- migrate:down\n")]), Format::Dbmate);
        assert_eq!(detect_in(&[("V1__a.sql", "SELECT 1;"), ("R__b.sql", "SELECT 1;")]), Format::Flyway);
        assert_eq!(detect_in(&[("1_a.up.sql", "SELECT 1;"), ("1_a.down.sql", "SELECT 1;")]), Format::GolangMigrate);
        assert_eq!(detect_in(&[("1_a.sql", "SELECT 1;"), ("2_b.up.sql", "SELECT 1;")]), Format::Sqlx);
        assert_eq!(detect_in(&[("1_a.up.sql", "-- no-transaction\nVACUUM;")]), Format::Sqlx);
        assert_eq!(detect_in(&[("schema.sql", "SELECT 1;"), ("1_a.sql", "SELECT 1;")]), Format::Plain);
        assert_eq!(detect_in(&[("README.md", "")]), Format::Plain);
    }

    #[test]
    fn says_which_file_decided() {
        let dbmate = [("1_a.sql", "-- migrate:up\nSELECT 1;\n"), ("2_b.sql", "-- migrate:up\nSELECT 2;\n")];
        assert_eq!(decided_by(&dbmate), "1_a.sql has `-- migrate:up`");
        assert_eq!(
            decided_by(&[("2023-01-01-000000_a/up.sql", "")]),
            "2023-01-01-000000_a/up.sql is a diesel migration (`<version>_<name>/up.sql`)"
        );
        assert_eq!(decided_by(&[("R__v.sql", ""), ("V1__a.sql", "")]), "V1__a.sql is named `V<version>__<desc>.sql`");
        let golang = [("1_a.up.sql", ""), ("1_a.down.sql", ""), ("2_b.up.sql", "")];
        assert_eq!(decided_by(&golang), "1_a.down.sql is named `<version>_<title>.up.sql` or `.down.sql`, as are the 2 other .sql files");
        assert_eq!(
            decided_by(&[("1_a.up.sql", ""), ("2_b.up.sql", "-- no-transaction\nVACUUM;")]),
            "2_b.up.sql starts with `-- no-transaction` (sqlx's marker; the names fit golang-migrate too)"
        );
        assert_eq!(
            decided_by(&[("1_a.up.sql", ""), ("2_b.sql", "")]),
            "2_b.sql is named `<version>_<desc>.sql`, not .up.sql or .down.sql as golang-migrate's are"
        );
        assert_eq!(decided_by(&[("1_a.sql", ""), ("2_b.sql", "")]), "1_a.sql is named `<version>_<desc>.sql`, as is the other .sql file");
        assert_eq!(
            decided_by(&[("a.sql", ""), ("b.sql", "")]),
            "a.sql is named like no format's migration, so every .sql file runs in name order"
        );
    }

    #[test]
    fn one_odd_file_does_not_switch_the_format() {
        let sqlx = [("1_a.sql", "SELECT 1;"), ("2_b.sql", "SELECT 1;"), ("3_c.sql", "SELECT 1;")];
        let with = |extra: (&'static str, &'static str)| sqlx.iter().copied().chain([extra]).collect::<Vec<_>>();
        assert_eq!(
            refusal(&with(("V4__d.sql", "SELECT 1;"))),
            "V4__d.sql: is named like a Flyway migration, unlike the other 3 .sql files here (sqlx names, like 1_a.sql); a few files \
             do not switch the detected format: rename it to fit the rest, or set `format` in pgconverge.toml"
        );
        let message = refusal(&with(("4_d.sql", "-- migrate:up\nSELECT 1;\n")));
        assert!(message.starts_with("4_d.sql: has `-- migrate:up` (dbmate's marker), unlike the other 3 .sql files"), "{message}");
        let message = refusal(&with(("notes.sql", "SELECT 1;")));
        assert!(message.starts_with("notes.sql: is not named `<version>_<desc>.sql`, unlike the other 3 .sql files"), "{message}");
        // Two of five are still a minority, named together.
        let message = refusal(&[("1_a.sql", ""), ("2_b.sql", ""), ("3_c.sql", ""), ("V4__d.sql", ""), ("V5__e.sql", "")]);
        assert!(message.starts_with("V4__d.sql: is named like a Flyway migration (so do V5__e.sql), unlike the other 3"), "{message}");
        // The majority decides as before: the loader then names the files that do not fit.
        assert_eq!(detect_in(&[("V1__a.sql", ""), ("V2__b.sql", ""), ("3_c.sql", "")]), Format::Flyway);
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
