//! Saved counterexamples: `pgconverge-<property>.txt` in the regressions directory, one line per
//! distinct minimal failure, replayed before any new case.
//!
//! A line is proptest's (`cc <case seed>`) followed by the minimal case by migration ids and
//! reference object labels, as JSON: `cc 5f0e… # {"applied":[…],"preexisting":[…],…}`. The
//! names, not the seed, are what replays: a seed means a case only for the migration set it was
//! drawn from, while the names either still name the same migrations or say that they no longer
//! exist (the entry is stale). A line without the JSON (an older pgconverge's) replays by its seed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::generate::{Interruption, Plan};
use crate::runner::RunnerError;

use super::stream::CaseSeed;
use super::universe::Universe;

const HEADER: &str = "\
# pgconverge's saved counterexamples for one property: each line is replayed before any new case.
# `cc <case seed> # <the minimal case, by migration ids>`. Commit this file; `pgconverge replay
# --prune DIR` removes the lines whose case now passes or names migrations that no longer exist.
";

/// A case by names: what a saved line records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct NamedPlan {
    pub(super) applied: Vec<String>,
    pub(super) preexisting: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) interrupted: Option<NamedInterruption>,
    pub(super) order: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct NamedInterruption {
    pub(super) migration: String,
    pub(super) statements_done: usize,
}

impl NamedPlan {
    pub(super) fn of(universe: &Universe, plan: &Plan) -> NamedPlan {
        NamedPlan {
            applied: plan.applied.iter().map(|&m| universe.id(m)).collect(),
            preexisting: plan.preexisting.iter().map(|&u| universe.units.units[u].label.clone()).collect(),
            interrupted: plan
                .interrupted
                .as_ref()
                .map(|i| NamedInterruption { migration: universe.id(i.migration), statements_done: i.statements_done }),
            order: plan.order.iter().map(|&m| universe.id(m)).collect(),
        }
    }

    /// The case in today's migration set, or why it no longer exists there. Migrations added
    /// since it was saved run last, in canonical order, after its pending ones.
    pub(super) fn resolve(&self, universe: &Universe) -> Result<Plan, String> {
        let ids: HashMap<String, usize> = (0..universe.migrations().len()).map(|m| (universe.id(m), m)).collect();
        let migration =
            |id: &String| ids.get(id).copied().ok_or_else(|| format!("it names migration {id}, which is no longer in the project"));
        let unit = |label: &String| {
            universe
                .units
                .units
                .iter()
                .position(|u| &u.label == label)
                .ok_or_else(|| format!("it names reference object {label}, which the reference no longer has"))
        };
        let applied = self.applied.iter().map(migration).collect::<Result<_, _>>()?;
        let preexisting = self.preexisting.iter().map(unit).collect::<Result<_, _>>()?;
        let interrupted = match &self.interrupted {
            None => None,
            Some(i) => {
                let m = migration(&i.migration)?;
                let statements = universe.migrations()[m].up.statements.len();
                if i.statements_done == 0 || i.statements_done > statements {
                    return Err(format!("it stops {} after {} statements, and it now has {statements}", i.migration, i.statements_done));
                }
                Some(Interruption { migration: m, statements_done: i.statements_done })
            }
        };
        let mut order: Vec<usize> = self.order.iter().map(migration).collect::<Result<_, _>>()?;
        let mut plan = Plan { applied, preexisting, interrupted, order: vec![] };
        let named: std::collections::BTreeSet<usize> = plan.applied.iter().chain(&order).copied().collect();
        order.extend((0..universe.migrations().len()).filter(|m| !named.contains(m)));
        plan.order = order;
        Ok(plan)
    }

    fn json(&self) -> String {
        serde_json::to_string(self).expect("names serialize")
    }
}

/// One saved line.
#[derive(Debug, Clone)]
pub(super) struct SavedEntry {
    /// 1-based line in the file.
    pub(super) line: usize,
    pub(super) seed: CaseSeed,
    /// `None` for a line an older pgconverge wrote (seed only).
    pub(super) case: Option<NamedPlan>,
}

/// A property's saved counterexamples.
#[derive(Debug, Clone)]
pub(super) struct SavedFile {
    pub(super) path: PathBuf,
    pub(super) entries: Vec<SavedEntry>,
}

impl SavedFile {
    /// Where a property's saved cases live in the regressions directory `dir`.
    pub(super) fn path(dir: &Path, property: crate::model::Property) -> PathBuf {
        dir.join(format!("pgconverge-{}.txt", property.name()))
    }

    /// The file's entries (none when it does not exist). A line that is neither a comment nor
    /// an entry is an input error at its place.
    pub(super) fn load(path: &Path) -> Result<SavedFile, RunnerError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(source) => return Err(RunnerError::File { action: "read", path: path.to_path_buf(), source }),
        };
        let mut entries = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let trimmed = line.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let invalid = |message: String| RunnerError::SavedCase { path: path.to_path_buf(), line: i + 1, message };
            let Some(rest) = trimmed.strip_prefix("cc ") else {
                return Err(invalid("not a saved case: a line is `cc <seed> # <case>` or a `#` comment".into()));
            };
            let (hex, comment) = rest.split_once('#').map_or((rest, None), |(h, c)| (h, Some(c.trim())));
            let seed =
                CaseSeed::parse(hex.trim()).ok_or_else(|| invalid(format!("`{}` is not a case seed (64 hex digits)", hex.trim())))?;
            // JSON after the `#` is the case by names; anything else (proptest's `shrinks to ...`) is a comment.
            let case = match comment {
                Some(json) if json.starts_with('{') => {
                    Some(serde_json::from_str(json).map_err(|error| invalid(format!("the case after `#` does not parse: {error}")))?)
                }
                _ => None,
            };
            entries.push(SavedEntry { line: i + 1, seed, case });
        }
        Ok(SavedFile { path: path.to_path_buf(), entries })
    }

    /// Saves a minimal failure unless an entry already records the same case.
    pub(super) fn save(&mut self, seed: CaseSeed, case: NamedPlan) -> Result<(), RunnerError> {
        if self.entries.iter().any(|e| e.case.as_ref() == Some(&case)) {
            return Ok(());
        }
        self.entries.push(SavedEntry { line: 0, seed, case: Some(case) });
        self.write()
    }

    /// Replaces entry `index`'s case (a replayed case that shrank further).
    pub(super) fn replace(&mut self, index: usize, case: NamedPlan) -> Result<(), RunnerError> {
        if self.entries[index].case.as_ref() == Some(&case) {
            return Ok(());
        }
        if self.entries.iter().any(|e| e.case.as_ref() == Some(&case)) {
            self.entries.remove(index);
        } else {
            self.entries[index].case = Some(case);
        }
        self.write()
    }

    /// Removes the entries at `indices`; the file goes when none is left.
    pub(super) fn remove(&mut self, indices: &[usize]) -> Result<(), RunnerError> {
        if indices.is_empty() {
            return Ok(());
        }
        let mut i = 0;
        self.entries.retain(|_| {
            i += 1;
            !indices.contains(&(i - 1))
        });
        if self.entries.is_empty() {
            return match std::fs::remove_file(&self.path) {
                Err(source) if source.kind() != std::io::ErrorKind::NotFound => {
                    Err(RunnerError::File { action: "remove", path: self.path.clone(), source })
                }
                _ => Ok(()),
            };
        }
        self.write()
    }

    fn write(&self) -> Result<(), RunnerError> {
        let mut text = HEADER.to_string();
        for entry in &self.entries {
            text.push_str(&entry.seed.persisted());
            if let Some(case) = &entry.case {
                text.push_str(" # ");
                text.push_str(&case.json());
            }
            text.push('\n');
        }
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| RunnerError::File { action: "create", path: dir.to_path_buf(), source })?;
        }
        // Written whole, then renamed: a run killed mid-write never leaves half a file.
        let temporary = self.path.with_extension("txt.tmp");
        std::fs::write(&temporary, text).map_err(|source| RunnerError::File { action: "write", path: temporary.clone(), source })?;
        std::fs::rename(&temporary, &self.path).map_err(|source| RunnerError::File { action: "rename", path: self.path.clone(), source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(order: &[&str]) -> NamedPlan {
        NamedPlan {
            applied: vec!["1_a".into()],
            preexisting: vec![],
            interrupted: None,
            order: order.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn entries_round_trip_and_duplicates_are_not_saved() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("sub").join("pgconverge-order.txt");
        let mut file = SavedFile::load(&path).expect("a missing file is empty");
        assert!(file.entries.is_empty());
        file.save(CaseSeed([1; 32]), case(&["3_c", "2_b"])).expect("save");
        let first = std::fs::read_to_string(&path).expect("written");
        file.save(CaseSeed([2; 32]), case(&["3_c", "2_b"])).expect("save");
        assert_eq!(std::fs::read_to_string(&path).expect("written"), first, "the same case is saved once");
        file.save(CaseSeed([3; 32]), case(&["2_b", "3_c"])).expect("save");
        let loaded = SavedFile::load(&path).expect("loads");
        assert_eq!(loaded.entries.len(), 2);
        assert_eq!(loaded.entries[0].case, Some(case(&["3_c", "2_b"])));
        assert_eq!(loaded.entries[1].seed, CaseSeed([3; 32]));
        assert_eq!(loaded.entries[1].line, 5, "three header lines, then one line per entry");
        let mut loaded = loaded;
        loaded.remove(&[0, 1]).expect("remove");
        assert!(!path.exists(), "the file goes with its last entry");
    }

    #[test]
    fn an_older_line_replays_by_seed_and_garbage_is_an_error_at_its_line() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("pgconverge-partial.txt");
        let old = format!("# comment\n\n{} # shrinks to Plan {{ applied: {{}}, .. }}\n", CaseSeed([9; 32]).persisted());
        std::fs::write(&path, &old).expect("write");
        let file = SavedFile::load(&path).expect("loads");
        assert_eq!(file.entries.len(), 1);
        assert!(file.entries[0].case.is_none());
        std::fs::write(&path, format!("{old}xs 1234\n")).expect("write");
        let error = SavedFile::load(&path).expect_err("an unknown line");
        assert!(error.to_string().contains(":4:1:"), "{error}");
        std::fs::write(&path, "cc 12 # {}\n").expect("write");
        assert!(SavedFile::load(&path).expect_err("a short seed").to_string().contains("not a case seed"));
    }
}
