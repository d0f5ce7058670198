//! The properties that run whole migrations, each written once over the executor. The
//! generated ones (partial, order, interrupt) are in `explore/`.
//!
//! fresh, idempotent and reversible judge migrations one by one: each names every migration
//! that fails it (`Verdict::findings`), and the migrations an earlier failure kept it from
//! checking (`Verdict::not_reached`), never passing them.

mod fresh;
mod idempotent;
mod reversible;

use super::check::fail;
use crate::migration::Migration;
use crate::model::{plural, Failure, MigrationFinding, Property, Verdict};

/// One migration that fails a property, and a few words on how for the verdict's summary.
struct Found {
    finding: MigrationFinding,
    reason: String,
}

impl Found {
    fn new(migration: &Migration, summary: String, reason: impl Into<String>, failure: Failure) -> Found {
        Found {
            finding: MigrationFinding { migration: migration.id(), file: migration.up.path.clone(), summary, failure },
            reason: reason.into(),
        }
    }
}

/// The failing verdict of a property judged migration by migration, `found` not empty: the
/// first finding is the counterexample, every one is listed. One finding is summarized by its
/// own sentence; several by `lead` and each migration with its reason.
fn failed(property: Property, lead: &str, found: Vec<Found>, not_reached: Vec<String>, cases: u64) -> Verdict {
    let mut summary = match found.as_slice() {
        [only] => only.finding.summary.clone(),
        _ => {
            let each: Vec<String> = found.iter().map(|f| format!("{} ({})", f.finding.migration, f.reason)).collect();
            format!("{lead}: {}", each.join(", "))
        }
    };
    if !not_reached.is_empty() {
        summary.push_str(&format!("; {} not reached", plural(not_reached.len(), "later migration")));
    }
    let first = found[0].finding.failure.clone();
    let mut verdict = fail(property, summary, first, cases);
    verdict.findings = found.into_iter().map(|f| f.finding).collect();
    verdict.not_reached = not_reached;
    verdict
}

/// The ids of `migrations`.
fn ids(migrations: &[Migration]) -> Vec<String> {
    migrations.iter().map(Migration::id).collect()
}
