//! fresh: the migrations in canonical order, on an empty database, succeed and end at the
//! reference (or, without one, this run is the reference). When one fails, the ones after it
//! are not reached: they may need what it creates.

use super::super::check::{fail, pass, Checker};
use super::{failed, ids, Found};
use crate::catalog::Catalog;
use crate::compare::{self, Severity};
use crate::model::{plural, Failure, Property, Verdict};

/// The fresh verdict, and the catalog the canonical run ended at when every migration succeeded.
pub(crate) struct FreshRun {
    pub(crate) verdict: Verdict,
    pub(crate) catalog: Option<Catalog>,
}

impl Checker<'_> {
    pub(crate) fn fresh(&self, outcome: Result<Catalog, (String, Failure)>, reference: Option<&Catalog>) -> FreshRun {
        let migrations = &self.project.migrations.migrations;
        let catalog = match outcome {
            Ok(catalog) => catalog,
            Err((migration, failure)) => {
                let summary = format!("{migration} failed on an empty database after the migrations before it");
                // The later migrations may need what the failing one creates: not reached, not passed.
                let Some(position) = migrations.iter().position(|m| m.id() == migration) else {
                    return FreshRun { verdict: fail(Property::Fresh, summary, failure, 1), catalog: None };
                };
                let found = vec![Found::new(&migrations[position], summary, "fails", failure)];
                let verdict = failed(Property::Fresh, "", found, ids(&migrations[position + 1..]), 1);
                return FreshRun { verdict, catalog: None };
            }
        };
        let verdict = match reference {
            None => pass(
                Property::Fresh,
                format!(
                    "{} applied in order to an empty database (no reference schema: this run is the reference, {})",
                    plural(migrations.len(), "migration"),
                    plural(catalog.objects.len(), "object")
                ),
                vec![],
            ),
            Some(reference) => {
                let restored = self.ignore.with_changed_setup_objects(reference, &catalog);
                let (reference, found) = restored.as_ref().map_or((reference, &catalog), |(e, f)| (e, f));
                let differences = compare::compare(reference, found, &self.compare);
                let against = self.project.reference_path().map(|p| p.display().to_string()).unwrap_or_default();
                if compare::has_errors(&differences) {
                    let summary = format!(
                        "{} applied in order to an empty database, but the catalog differs from {against} ({})",
                        plural(migrations.len(), "migration"),
                        plural(differences.iter().filter(|d| d.severity == Severity::Error).count(), "difference")
                    );
                    fail(Property::Fresh, summary, super::super::check::diverged(reference, found, differences, &against), 1)
                } else {
                    let summary = format!(
                        "{} applied in order to an empty database; the catalog equals {against} ({})",
                        plural(migrations.len(), "migration"),
                        plural(reference.objects.len(), "object")
                    );
                    pass(Property::Fresh, summary, differences)
                }
            }
        };
        FreshRun { verdict, catalog: Some(catalog) }
    }
}
