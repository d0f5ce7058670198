//! What every format loader shares: listing a directory, pairing up and down files by version,
//! and turning a pair of scripts into a [`Migration`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::transaction::detect_no_transaction;
use super::version::SortKey;
use super::{Format, Migration, MigrationError, Script};

/// Directories that hold pgconverge's own output (seeds and repro scripts in
/// `proptest-regressions/`, anything under `target/`, cargo's too), never migrations: loading
/// never walks them, so a project whose migrations directory is its root (`migrations = "."`)
/// does not read what an earlier check wrote.
const OUTPUT_DIRS: [&str; 2] = ["proptest-regressions", "target"];

/// Whether loading skips a directory of this name (hidden, or pgconverge's output).
pub(crate) fn is_skipped_dir(name: &str) -> bool {
    name.starts_with('.') || OUTPUT_DIRS.contains(&name)
}

/// One directory entry, by name. Hidden entries (`.keep`, editor lock files) and pgconverge's
/// output directories are never listed.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) path: PathBuf,
    pub(crate) name: String,
    pub(crate) is_dir: bool,
}

impl Entry {
    pub(crate) fn is_sql_file(&self) -> bool {
        !self.is_dir && self.name.ends_with(".sql")
    }
}

/// Whether a file name is almost a migration's: `.sql` in another case (`.SQL`), `.sql` with
/// something after it (`.sql.bak`, `.sql~`), except a Flyway `.sql.conf`, or another SQL
/// extension (`.pgsql`, `.psql`).
fn is_near_miss(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    (lower.ends_with(".sql") && !name.ends_with(".sql"))
        || (lower.contains(".sql") && !lower.ends_with(".sql") && !lower.ends_with(".sql.conf"))
        || lower.ends_with(".pgsql")
        || lower.ends_with(".psql")
}

/// The `.sql` files of `dir`'s subdirectories (one level down, where a misplaced migration would
/// be), sorted: a format that reads only the top level never runs them.
pub(crate) fn sql_in_subdirectories(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = list_dir(dir) else { return Vec::new() };
    let inner = entries.iter().filter(|e| e.is_dir).filter_map(|e| list_dir(&e.path).ok());
    inner.flatten().filter(Entry::is_sql_file).map(|e| e.path).collect()
}

/// The near-miss files of `dir` and its subdirectories (where diesel and nested layouts keep
/// migrations; no deeper, as `dir` may be a project's root), sorted.
pub(crate) fn near_misses(dir: &Path) -> Vec<PathBuf> {
    near_misses_within(dir, 1)
}

fn near_misses_within(dir: &Path, depth: usize) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = list_dir(dir) else { return found };
    for entry in entries {
        if entry.is_dir {
            if depth > 0 {
                found.extend(near_misses_within(&entry.path, depth - 1));
            }
        } else if is_near_miss(&entry.name) {
            found.push(entry.path);
        }
    }
    found
}

/// The entries of `dir` sorted by name, so errors and detection do not depend on readdir order.
pub(super) fn list_dir(dir: &Path) -> Result<Vec<Entry>, MigrationError> {
    let io = |source| MigrationError::Io { path: dir.to_path_buf(), source };
    let meta = std::fs::metadata(dir).map_err(io)?;
    if !meta.is_dir() {
        return Err(MigrationError::NotADirectory { path: dir.to_path_buf() });
    }
    let mut entries = Vec::new();
    for item in std::fs::read_dir(dir).map_err(io)? {
        let path = item.map_err(io)?.path();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if name.starts_with('.') {
            continue;
        }
        // `metadata` follows symlinks: a linked migration counts like a real one.
        let is_dir = std::fs::metadata(&path).map(|m| m.is_dir()).unwrap_or(false);
        if is_dir && is_skipped_dir(&name) {
            continue;
        }
        entries.push(Entry { path, name, is_dir });
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(entries)
}

/// A `.sql` file whose name does not fit the format: an error, so nothing is skipped silently.
pub(super) fn unrecognized(path: &Path, format: Format, expected: &str) -> MigrationError {
    MigrationError::Unrecognized { path: path.to_path_buf(), message: format!("file name does not match the {format} pattern {expected}") }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Up,
    Down,
}

/// A file (or, for diesel, a directory) that holds one side of one migration.
#[derive(Debug, Clone)]
pub(super) struct Candidate {
    pub(crate) key: SortKey,
    pub(crate) version: String,
    pub(crate) name: String,
    pub(crate) path: PathBuf,
    pub(crate) role: Role,
}

/// The files of one migration, found by version.
#[derive(Debug, Clone)]
pub(super) struct Pair {
    pub(crate) version: String,
    pub(crate) name: String,
    pub(crate) up: PathBuf,
    pub(crate) down: Option<PathBuf>,
}

#[derive(Default)]
struct Slot {
    up: Option<Candidate>,
    down: Option<Candidate>,
}

/// Groups candidates by version into pairs in canonical order. Errors on an empty set, on two
/// files for the same side of a version, and on a down without an up.
pub(super) fn pair_candidates(dir: &Path, format: Format, candidates: Vec<Candidate>) -> Result<Vec<Pair>, MigrationError> {
    if candidates.is_empty() {
        return Err(MigrationError::Empty { path: dir.to_path_buf(), format });
    }
    let mut slots: BTreeMap<SortKey, Slot> = BTreeMap::new();
    for candidate in candidates {
        let slot = slots.entry(candidate.key.clone()).or_default();
        let side = match candidate.role {
            Role::Up => &mut slot.up,
            Role::Down => &mut slot.down,
        };
        if let Some(other) = side {
            return Err(MigrationError::DuplicateVersion { path: candidate.path, other: other.path.clone(), version: candidate.version });
        }
        *side = Some(candidate);
    }
    slots.into_values().map(pair_from_slot).collect()
}

fn pair_from_slot(slot: Slot) -> Result<Pair, MigrationError> {
    match (slot.up, slot.down) {
        (Some(up), down) => Ok(Pair { version: up.version, name: up.name, up: up.path, down: down.map(|d| d.path) }),
        (None, Some(down)) => Err(MigrationError::DownWithoutUp { path: down.path, version: down.version }),
        (None, None) => unreachable!("a slot is made for a candidate"),
    }
}

/// Reads the up file and optional down file of a pair as whole-file scripts.
pub(super) fn read_pair(pair: &Pair) -> Result<(Script, Option<Script>), MigrationError> {
    let up = Script::read(&pair.up)?;
    let down = pair.down.as_deref().map(Script::read).transpose()?;
    Ok((up, down))
}

/// Why a migration must run outside a transaction: a declared marker wins; otherwise a statement
/// of the up script, then of the down script, that Postgres refuses inside a transaction block.
pub(super) fn no_transaction_reason(declared: Option<String>, up: &Script, down: Option<&Script>) -> Option<String> {
    declared.or_else(|| detect_no_transaction(up)).or_else(|| {
        let down = down?;
        let reason = detect_no_transaction(down)?;
        Some(format!("down ({}): {reason}", file_name(&down.path)))
    })
}

/// Assembles a versioned migration, filling in `no_transaction`.
pub(super) fn migration(pair: &Pair, up: Script, down: Option<Script>, declared: Option<String>) -> Migration {
    let no_transaction = no_transaction_reason(declared, &up, down.as_ref());
    Migration { version: pair.version.clone(), name: pair.name.clone(), up, down, no_transaction, repeatable: false }
}

pub(super) fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// Loads a format whose migrations are plain up/down files with no declared marker beyond what
/// `declared` finds in the two scripts.
pub(super) fn load_pairs(
    pairs: Vec<Pair>,
    declared: impl Fn(&Script, Option<&Script>) -> Option<String>,
) -> Result<Vec<Migration>, MigrationError> {
    pairs
        .iter()
        .map(|pair| {
            let (up, down) = read_pair(pair)?;
            let declared = declared(&up, down.as_ref());
            Ok(migration(pair, up, down, declared))
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod testutil {
    //! Writing small migration layouts in temporary directories.
    use std::path::Path;

    pub(crate) fn write(dir: &Path, rel: &str, text: &str) {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(path, text).unwrap();
    }

    pub(crate) fn layout(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (rel, text) in files {
            write(dir.path(), rel, text);
        }
        dir
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::layout;
    use super::*;
    use crate::migration::version::integer_key;

    fn candidate(version: &str, path: &str, role: Role) -> Candidate {
        Candidate { key: integer_key(version), version: version.into(), name: "n".into(), path: path.into(), role }
    }

    #[test]
    fn pairs_sort_by_version_and_match_up_with_down() {
        let pairs = pair_candidates(
            Path::new("d"),
            Format::Sqlx,
            vec![candidate("10", "10.up", Role::Up), candidate("2", "2.down", Role::Down), candidate("2", "2.up", Role::Up)],
        )
        .unwrap();
        let got: Vec<_> = pairs.iter().map(|p| (p.version.as_str(), p.down.is_some())).collect();
        assert_eq!(got, vec![("2", true), ("10", false)]);
    }

    #[test]
    fn same_version_twice_is_a_duplicate() {
        let err =
            pair_candidates(Path::new("d"), Format::Sqlx, vec![candidate("1", "01_a.sql", Role::Up), candidate("01", "1_b.sql", Role::Up)])
                .unwrap_err();
        assert!(matches!(err, MigrationError::DuplicateVersion { .. }), "{err}");
        assert_eq!(err.to_string(), "1_b.sql: duplicate migration version 01 (also 01_a.sql)");
    }

    #[test]
    fn listing_skips_hidden_entries_and_output_dirs_and_sorts() {
        let dir = layout(&[
            ("b.sql", ""),
            ("a.sql", ""),
            (".keep", ""),
            ("sub/x", ""),
            ("proptest-regressions/order.sql", "-- pgconverge repro"),
            ("target/pgconverge/repro/partial.sql", "-- pgconverge repro"),
            ("target.sql", ""),
        ]);
        let names: Vec<_> = list_dir(dir.path()).unwrap().into_iter().map(|e| (e.name, e.is_dir)).collect();
        assert_eq!(names, vec![("a.sql".into(), false), ("b.sql".into(), false), ("sub".into(), true), ("target.sql".into(), false)]);
    }
}
