//! idempotent: on the migrated database, every re-entrant migration runs again, succeeds, and
//! changes nothing.

use super::super::check::{diverged, fail, pass, skipped, Checker, Workspace};
use super::super::CheckError;
use crate::catalog::Catalog;
use crate::compare;
use crate::migration::Migration;
use crate::model::{plural, Property, Verdict};

impl Checker<'_> {
    /// Re-runs the re-entrant migrations on `migrated`, the database the fresh run left.
    pub(crate) async fn idempotent(&mut self, migrated: &mut Workspace, catalog: Option<&Catalog>) -> Result<Verdict, CheckError> {
        let executor = self.executor();
        let reentrant: Vec<&Migration> = self.project.reentrant.iter().map(|&i| &self.project.migrations.migrations[i]).collect();
        if let Some(why) = executor.no_rerun() {
            return Ok(skipped(Property::Idempotent, why.to_string()));
        }
        if reentrant.is_empty() {
            return Ok(skipped(
                Property::Idempotent,
                "no migration claims to be re-entrant (set `idempotent` in pgconverge.toml)".to_string(),
            ));
        }
        let Some(before) = catalog else {
            return Ok(skipped(
                Property::Idempotent,
                "not run: the fresh run failed, so there is no migrated database to re-run on".to_string(),
            ));
        };
        for migration in &reentrant {
            self.stop_if_cancelled()?;
            if let Some(failure) = executor.up(migrated.target(), migration).await? {
                let summary = format!("re-running {} on the migrated database failed", migration.id());
                return Ok(fail(Property::Idempotent, summary, failure, 1));
            }
        }
        let after = self.dump(&mut migrated.conn).await?;
        let mut differences = compare::compare(before, &after, &self.compare);
        if !differences.is_empty() {
            // Re-run once more: what differs between the two re-runs froze something like now().
            let mut again_ok = true;
            for migration in &reentrant {
                again_ok &= executor.up(migrated.target(), migration).await?.is_none();
            }
            if again_ok {
                let again = self.dump(&mut migrated.conn).await?;
                differences = self.stable_differences(differences, &after, &again);
            }
        }
        if differences.is_empty() {
            let summary = format!(
                "{} re-run on the migrated database: all succeeded and the catalog is unchanged",
                plural(reentrant.len(), "re-entrant migration")
            );
            Ok(pass(Property::Idempotent, summary, vec![]))
        } else {
            let summary = format!(
                "re-running {} succeeded but changed the catalog ({})",
                plural(reentrant.len(), "re-entrant migration"),
                plural(differences.len(), "difference")
            );
            Ok(fail(Property::Idempotent, summary, diverged(before, &after, differences, "the catalog before the re-run"), 1))
        }
    }
}
