//! Flyway: `V<version>__<desc>.sql` (versioned), `U<version>__<desc>.sql` (undo, the down side)
//! and `R__<desc>.sql` (repeatable, run after the versioned ones by description). A version is
//! dotted (`1`, `1.1`; `_` stands for `.`) and compares component-wise. A script config file
//! `<script>.sql.conf` with `executeInTransaction=false` opts out of the transaction.

use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;

use super::files::{self, Candidate, Entry, Pair, Role};
use super::version::{dotted_key, SortKey};
use super::{read_text, Format, Migration, MigrationError, Script};

static NAME: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^(?:([VU])(\d+(?:[._]\d+)*)|R)__(.+)\.sql$").expect("valid regex"));

/// `executeInTransaction=false` in a script config file, spaces allowed around `=`.
static NO_TX_CONF: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?m)^[ \t]*executeInTransaction[ \t]*=[ \t]*false[ \t]*\r?$").expect("valid regex"));

const PATTERN: &str = "V<version>__<desc>.sql, U<version>__<desc>.sql or R__<desc>.sql";

/// The version Flyway's repeatable migrations carry.
pub(crate) const REPEATABLE_VERSION: &str = "R";

pub(crate) fn load(dir: &Path) -> Result<Vec<Migration>, MigrationError> {
    let candidates = files::list_dir(dir)?.iter().filter(|e| e.is_sql_file()).map(candidate).collect::<Result<Vec<_>, _>>()?;
    let pairs = files::pair_candidates(dir, Format::Flyway, candidates)?;
    pairs.iter().map(load_migration).collect()
}

fn candidate(entry: &Entry) -> Result<Candidate, MigrationError> {
    let caps = NAME.captures(&entry.name).ok_or_else(|| files::unrecognized(&entry.path, Format::Flyway, PATTERN))?;
    let name = caps[3].to_string();
    let path = entry.path.clone();
    let Some(version) = caps.get(2) else {
        let key = SortKey::Repeatable(name.clone());
        return Ok(Candidate { key, version: REPEATABLE_VERSION.into(), name, path, role: Role::Up });
    };
    let version = version.as_str().replace('_', ".");
    let role = if &caps[1] == "U" { Role::Down } else { Role::Up };
    Ok(Candidate { key: dotted_key(&version), version, name, path, role })
}

fn load_migration(pair: &Pair) -> Result<Migration, MigrationError> {
    let (up, down) = files::read_pair(pair)?;
    let declared = declared_no_transaction(&up, down.as_ref())?;
    let mut migration = files::migration(pair, up, down, declared);
    migration.repeatable = pair.version == REPEATABLE_VERSION;
    Ok(migration)
}

fn declared_no_transaction(up: &Script, down: Option<&Script>) -> Result<Option<String>, MigrationError> {
    for script in std::iter::once(up).chain(down) {
        if let Some(conf) = conf_opting_out(&script.path)? {
            return Ok(Some(format!("declared: executeInTransaction=false in {conf}")));
        }
    }
    Ok(None)
}

/// The name of the script's config file if it sets `executeInTransaction=false`.
fn conf_opting_out(script: &Path) -> Result<Option<String>, MigrationError> {
    let mut conf = script.as_os_str().to_owned();
    conf.push(".conf");
    let conf = Path::new(&conf);
    if !conf.is_file() {
        return Ok(None);
    }
    let text = read_text(conf)?;
    Ok(NO_TX_CONF.is_match(&text).then(|| files::file_name(conf)))
}

/// Whether a file name is any Flyway migration's: versioned, undo or repeatable (for format detection).
pub(crate) fn matches_name(name: &str) -> bool {
    NAME.is_match(name)
}

/// Whether a file name is a Flyway versioned migration (for format detection).
pub(crate) fn is_versioned_name(name: &str) -> bool {
    NAME.captures(name).is_some_and(|caps| caps.get(1).is_some_and(|m| m.as_str() == "V"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migration::files::testutil::layout;

    #[test]
    fn versions_compare_component_wise_and_repeatables_come_last() {
        let dir = layout(&[
            ("R__views.sql", "CREATE OR REPLACE VIEW v AS SELECT 1;"),
            ("R__functions.sql", "SELECT 1;"),
            ("V1_10__ten.sql", "SELECT 1;"),
            ("V1.2__two.sql", "SELECT 1;"),
            ("U1.2__two.sql", "SELECT 1;"),
            ("V1__init.sql", "SELECT 1;"),
            ("V2__later.sql", "SELECT 1;"),
            ("flyway.conf", "flyway.url=x"),
        ]);
        let migrations = load(dir.path()).unwrap();
        let got: Vec<_> = migrations.iter().map(|m| (m.version.as_str(), m.name.as_str(), m.down.is_some(), m.repeatable)).collect();
        assert_eq!(
            got,
            vec![
                ("1", "init", false, false),
                ("1.2", "two", true, false),
                ("1.10", "ten", false, false),
                ("2", "later", false, false),
                ("R", "functions", false, true),
                ("R", "views", false, true),
            ]
        );
    }

    #[test]
    fn script_config_opts_out_of_the_transaction() {
        let dir = layout(&[
            ("V1__idx.sql", "CREATE INDEX CONCURRENTLY i ON t (id);"),
            ("V1__idx.sql.conf", "executeInTransaction=false\n"),
            ("V2__vacuum.sql", "VACUUM t;"),
        ]);
        let migrations = load(dir.path()).unwrap();
        assert_eq!(migrations[0].no_transaction.as_deref(), Some("declared: executeInTransaction=false in V1__idx.sql.conf"));
        assert_eq!(migrations[1].no_transaction.as_deref(), Some("line 1: VACUUM cannot run inside a transaction block"));
    }

    #[test]
    fn undo_without_versioned_is_an_error() {
        let dir = layout(&[("V1__a.sql", "SELECT 1;"), ("U2__b.sql", "SELECT 1;")]);
        let err = load(dir.path()).unwrap_err();
        assert!(matches!(err, MigrationError::DownWithoutUp { ref version, .. } if version == "2"), "{err}");
    }

    #[test]
    fn equal_versions_are_duplicates() {
        let dir = layout(&[("V1.0__a.sql", "SELECT 1;"), ("V1__b.sql", "SELECT 1;")]);
        let err = load(dir.path()).unwrap_err();
        assert!(matches!(err, MigrationError::DuplicateVersion { .. }), "{err}");
        let message = err.to_string();
        assert!(message.contains("V1.0__a.sql") && message.contains("V1__b.sql"), "{message}");
    }

    #[test]
    fn other_sql_files_are_errors() {
        let dir = layout(&[("V1__a.sql", "SELECT 1;"), ("B1__baseline.sql", "SELECT 1;")]);
        let err = load(dir.path()).unwrap_err();
        assert!(matches!(err, MigrationError::Unrecognized { .. }), "{err}");
        assert!(err.to_string().contains("B1__baseline.sql"), "{err}");
    }
}
