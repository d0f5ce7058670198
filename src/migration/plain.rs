//! Plain: every `*.sql` file of the directory is a migration, applied in file-name order, with
//! runs of digits compared by value (`2_b.sql` before `10_a.sql`). The version is the file stem.

use std::path::Path;

use super::files::{self, Candidate, Entry, Role};
use super::version::{natural_parts, Part, SortKey};
use super::{Format, Migration, MigrationError};

pub(crate) fn load(dir: &Path) -> Result<Vec<Migration>, MigrationError> {
    let candidates: Vec<_> = files::list_dir(dir)?.iter().filter(|e| e.is_sql_file()).map(candidate).collect();
    let pairs = files::pair_candidates(dir, Format::Plain, candidates)?;
    files::load_pairs(pairs, |_, _| None)
}

fn candidate(entry: &Entry) -> Candidate {
    let stem = entry.name.strip_suffix(".sql").unwrap_or(&entry.name).to_string();
    // The stem itself breaks ties, so `01.sql` and `1.sql` are two migrations, not a duplicate.
    let mut parts = natural_parts(&stem);
    parts.push(Part::Text(stem.clone()));
    Candidate { key: SortKey::Versioned(parts), version: stem, name: String::new(), path: entry.path.clone(), role: Role::Up }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migration::files::testutil::layout;

    #[test]
    fn every_sql_file_in_natural_name_order() {
        let dir = layout(&[
            ("10_last.sql", "SELECT 10;"),
            ("2_middle.sql", "SELECT 2;"),
            ("1_first.sql", "SELECT 1;"),
            ("01.sql", "SELECT 1;"),
            ("notes.txt", "ignored"),
            ("sub/3.sql", "ignored: only the top level counts"),
        ]);
        let migrations = load(dir.path()).unwrap();
        let ids: Vec<_> = migrations.iter().map(|m| m.id()).collect();
        assert_eq!(ids, vec!["01", "1_first", "2_middle", "10_last"]);
        assert!(migrations.iter().all(|m| m.name.is_empty() && m.down.is_none()));
    }

    #[test]
    fn empty_directory_is_an_error() {
        let dir = layout(&[("README.md", "nothing")]);
        let err = load(dir.path()).unwrap_err();
        assert!(matches!(err, MigrationError::Empty { format: Format::Plain, .. }), "{err}");
    }
}
