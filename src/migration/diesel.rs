//! diesel: one directory per migration, `<version>_<name>/up.sql` and optional `down.sql`, the
//! version digits and dashes (`2023-01-01-000000`, `00000000000000`). A `metadata.toml` with
//! `run_in_transaction = false` opts out of the transaction.

use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;

use super::files::{self, Candidate, Entry, Pair, Role};
use super::version::integer_key;
use super::{location_at, read_text, Format, Migration, MigrationError, Script};

static DIR_NAME: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^(\d[\d-]*)_(.*)$").expect("valid regex"));

const PATTERN: &str = "<version>_<name>/up.sql";

pub(crate) fn load(dir: &Path) -> Result<Vec<Migration>, MigrationError> {
    load_with_stray(dir).map(|(migrations, _)| migrations)
}

/// The migrations, and the `.sql` files beside the migration directories: diesel never runs
/// those (a data script kept next to the migrations), so they are left out and reported.
pub(crate) fn load_with_stray(dir: &Path) -> Result<(Vec<Migration>, Vec<std::path::PathBuf>), MigrationError> {
    let mut candidates = Vec::new();
    let mut stray = Vec::new();
    for entry in files::list_dir(dir)? {
        if entry.is_sql_file() {
            stray.push(entry.path.clone());
        } else if let Some(candidate) = candidate(&entry)? {
            candidates.push(candidate);
        }
    }
    let pairs = files::pair_candidates(dir, Format::Diesel, candidates)?;
    Ok((pairs.iter().map(load_migration).collect::<Result<_, _>>()?, stray))
}

/// A migration directory as a candidate; other entries are ignored unless they hold SQL that
/// would otherwise be skipped.
fn candidate(entry: &Entry) -> Result<Option<Candidate>, MigrationError> {
    if !entry.is_dir {
        return Ok(None);
    }
    let Some(caps) = DIR_NAME.captures(&entry.name) else {
        return match files::list_dir(&entry.path)?.iter().find(|e| e.is_sql_file()) {
            Some(sql) => Err(files::unrecognized(&sql.path, Format::Diesel, PATTERN)),
            None => Ok(None),
        };
    };
    let version = caps[1].to_string();
    check_migration_dir(&entry.path, &version)?;
    Ok(Some(Candidate {
        // diesel compares versions with the dashes removed.
        key: integer_key(&version.replace('-', "")),
        version,
        name: caps[2].to_string(),
        path: entry.path.clone(),
        role: Role::Up,
    }))
}

/// A migration directory needs `up.sql`; any other `.sql` file in it is an error.
fn check_migration_dir(path: &Path, version: &str) -> Result<(), MigrationError> {
    let entries = files::list_dir(path)?;
    let has = |name: &str| entries.iter().any(|e| !e.is_dir && e.name == name);
    if let Some(stray) = entries.iter().find(|e| e.is_sql_file() && e.name != "up.sql" && e.name != "down.sql") {
        return Err(MigrationError::Unrecognized {
            path: stray.path.clone(),
            message: "a diesel migration directory holds only up.sql and down.sql".into(),
        });
    }
    match (has("up.sql"), has("down.sql")) {
        (true, _) => Ok(()),
        (false, true) => Err(MigrationError::DownWithoutUp { path: path.join("down.sql"), version: version.into() }),
        (false, false) => {
            Err(MigrationError::Unrecognized { path: path.to_path_buf(), message: "diesel migration directory has no up.sql".into() })
        }
    }
}

fn load_migration(pair: &Pair) -> Result<Migration, MigrationError> {
    let dir = &pair.up;
    let up = Script::read(&dir.join("up.sql"))?;
    let down_path = dir.join("down.sql");
    let down = if down_path.is_file() { Some(Script::read(&down_path)?) } else { None };
    let declared = declared_no_transaction(&dir.join("metadata.toml"))?;
    Ok(files::migration(pair, up, down, declared))
}

/// `run_in_transaction = false` in the migration's `metadata.toml`, if there is one.
fn declared_no_transaction(metadata: &Path) -> Result<Option<String>, MigrationError> {
    if !metadata.is_file() {
        return Ok(None);
    }
    let text = read_text(metadata)?;
    let table: toml::Table = toml::from_str(&text).map_err(|e| toml_error(metadata, &text, &e))?;
    let off = table.get("run_in_transaction").and_then(toml::Value::as_bool) == Some(false);
    Ok(off.then(|| "declared: run_in_transaction = false in metadata.toml".to_string()))
}

fn toml_error(path: &Path, text: &str, error: &toml::de::Error) -> MigrationError {
    let offset = error.span().map_or(0, |s| s.start);
    MigrationError::Invalid { location: location_at(path, text, offset), message: error.message().to_string() }
}

/// The `up.sql` of the first subdirectory that holds one (for format detection).
pub(crate) fn first_migration_up(entries: &[Entry]) -> Option<std::path::PathBuf> {
    entries.iter().filter(|e| e.is_dir).map(|e| e.path.join("up.sql")).find(|up| up.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migration::files::testutil::layout;

    #[test]
    fn loads_directories_in_version_order() {
        let dir = layout(&[
            ("2023-02-01-000000_posts/up.sql", "CREATE TABLE posts (id int);"),
            ("2023-02-01-000000_posts/down.sql", "DROP TABLE posts;"),
            ("00000000000000_diesel_initial_setup/up.sql", "SELECT 1;"),
            ("2023-01-01-000000_users/up.sql", "CREATE TABLE users (id int);"),
            (".keep", ""),
        ]);
        let migrations = load(dir.path()).unwrap();
        let got: Vec<_> = migrations.iter().map(|m| (m.version.as_str(), m.name.as_str(), m.down.is_some())).collect();
        assert_eq!(
            got,
            vec![
                ("00000000000000", "diesel_initial_setup", false),
                ("2023-01-01-000000", "users", false),
                ("2023-02-01-000000", "posts", true),
            ]
        );
        assert!(migrations[2].up.path.ends_with("2023-02-01-000000_posts/up.sql"));
    }

    #[test]
    fn metadata_opts_out_of_the_transaction() {
        let dir = layout(&[
            ("1_a/up.sql", "SELECT 1;"),
            ("1_a/metadata.toml", "run_in_transaction = false\n"),
            ("2_b/up.sql", "SELECT 1;"),
            ("2_b/metadata.toml", "run_in_transaction = true\n"),
        ]);
        let migrations = load(dir.path()).unwrap();
        assert_eq!(migrations[0].no_transaction.as_deref(), Some("declared: run_in_transaction = false in metadata.toml"));
        assert_eq!(migrations[1].no_transaction, None);
    }

    #[test]
    fn bad_metadata_names_the_position() {
        let dir = layout(&[("1_a/up.sql", "SELECT 1;"), ("1_a/metadata.toml", "\nrun_in_transaction = \n")]);
        let err = load(dir.path()).unwrap_err();
        assert!(matches!(err, MigrationError::Invalid { .. }), "{err}");
        assert!(err.to_string().contains("metadata.toml:2:"), "{err}");
    }

    #[test]
    fn down_without_up_is_an_error() {
        let dir = layout(&[("1_a/up.sql", "SELECT 1;"), ("2_b/down.sql", "SELECT 1;")]);
        let err = load(dir.path()).unwrap_err();
        assert!(matches!(err, MigrationError::DownWithoutUp { ref version, .. } if version == "2"), "{err}");
        assert!(err.to_string().contains("2_b/down.sql"), "{err}");
    }

    #[test]
    fn stray_sql_in_a_directory_is_an_error() {
        for stray in ["1_a/extra.sql", "notes/x.sql"] {
            let dir = layout(&[("1_a/up.sql", "SELECT 1;"), (stray, "SELECT 1;")]);
            let err = load(dir.path()).unwrap_err();
            assert!(matches!(err, MigrationError::Unrecognized { .. }), "{err}");
            assert!(err.to_string().contains(stray), "{stray}: {err}");
        }
    }

    /// diesel reads only migration directories: a `.sql` file beside them (crates.io keeps a
    /// data script there) is never run, so it is left out, and named for the report.
    #[test]
    fn sql_beside_the_migration_directories_is_left_out_and_named() {
        let dir = layout(&[("1_a/up.sql", "SELECT 1;"), ("data_backfill.sql", "SELECT 1;")]);
        let (migrations, stray) = load_with_stray(dir.path()).unwrap();
        assert_eq!(migrations.len(), 1);
        assert_eq!(stray, vec![dir.path().join("data_backfill.sql")]);
    }

    #[test]
    fn equal_versions_are_duplicates() {
        let dir = layout(&[("2023-01-01-000000_a/up.sql", "SELECT 1;"), ("20230101000000_b/up.sql", "SELECT 1;")]);
        let err = load(dir.path()).unwrap_err();
        assert!(matches!(err, MigrationError::DuplicateVersion { .. }), "{err}");
    }
}
