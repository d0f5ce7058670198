//! reversible: up then down restores the catalog, migration by migration; when every migration
//! has a down, all of them in reverse restore an empty database.
//!
//! A down that fails, leaves a trace, or after which the up no longer applies, is reported, and
//! the check goes on from the state after that migration's up, rebuilt on a new database by the
//! ups so far (what the broken down left cannot be trusted, and the ups are known to apply). So
//! every migration with a broken down is named. An up that fails ends the walk: the migrations
//! after it are not reached.

use super::super::check::{diverged, fail, pass, skipped, Checker, Workspace};
use super::super::prepare::Purpose;
use super::super::CheckError;
use super::{failed, ids, Found};
use crate::catalog::Catalog;
use crate::compare;
use crate::migration::Migration;
use crate::model::{plural, Property, Verdict};

impl Checker<'_> {
    /// Up then down, for each migration that has a down, restores the catalog as it was before
    /// the up; when every migration has a down, all of them in reverse restore an empty database.
    pub(crate) async fn reversible(&mut self, asked: bool) -> Result<Verdict, CheckError> {
        let executor = self.executor();
        let migrations = &self.project.migrations.migrations;
        let without_down: Vec<String> = migrations.iter().filter(|m| !executor.has_down(m)).map(Migration::id).collect();
        let with_down = migrations.len() - without_down.len();
        if with_down == 0 {
            let reason = if asked { "no migration has a down migration" } else { "not applicable: no down migrations" };
            return Ok(skipped(Property::Reversible, reason.to_string()));
        }
        let mut workspace = self.workspace(Purpose::Migrations).await?;
        let verdict = self.reversible_in(&mut workspace, with_down).await;
        workspace.close().await?;
        // Neither passed nor failed: the migrations without a down.
        verdict.map(|verdict| Verdict { not_applicable: without_down, ..verdict })
    }

    /// Walks the migrations on `workspace`, which it replaces when it rebuilds the state.
    async fn reversible_in(&mut self, workspace: &mut Workspace, with_down: usize) -> Result<Verdict, CheckError> {
        let executor = self.executor();
        let migrations = &self.project.migrations.migrations;
        let empty = self.dump(&mut workspace.conn).await?;
        let mut before = empty.clone();
        let mut cases = 0;
        let mut found: Vec<Found> = Vec::new();
        let mut not_reached = Vec::new();
        for (index, migration) in migrations.iter().enumerate() {
            self.stop_if_cancelled()?;
            if let Some(failure) = executor.up(workspace.target(), migration).await? {
                let summary = format!("{} failed on the way up", migration.id());
                found.push(Found::new(migration, summary, "fails on the way up", failure));
                not_reached = ids(&migrations[index + 1..]);
                break;
            }
            if executor.has_down(migration) {
                cases += 1;
                if let Some(broken) = self.down_then_up(workspace, migration, &before).await? {
                    found.push(broken);
                    // Back to the state after this up, for the migrations after it.
                    if let Some((failing, failure)) = self.rebuild(workspace, &migrations[..=index]).await? {
                        let summary = format!("{} failed on the way up, rebuilding the state after {}", failing.id(), migration.id());
                        found.push(Found::new(failing, summary, "fails on the way up", failure));
                        not_reached = ids(&migrations[index + 1..]);
                        break;
                    }
                }
            }
            before = self.dump(&mut workspace.conn).await?;
        }
        let mut summary = format!("{} with a down: up then down restores the catalog", plural(with_down, "migration"));
        if with_down < migrations.len() {
            summary.push_str(&format!("; {} without one not checked", plural(migrations.len() - with_down, "migration")));
        }
        if with_down == migrations.len() && found.is_empty() {
            cases += 1;
            for migration in migrations.iter().rev() {
                self.stop_if_cancelled()?;
                if let Some(failure) = executor.down(workspace.target(), migration).await? {
                    let summary = format!("undoing the whole set: the down migration of {} failed", migration.id());
                    let found = vec![Found::new(migration, summary, "its down fails undoing the whole set", failure)];
                    return Ok(failed(Property::Reversible, "", found, vec![], cases));
                }
            }
            let after = self.dump(&mut workspace.conn).await?;
            let differences = compare::compare(&empty, &after, &self.compare);
            if compare::has_errors(&differences) {
                let summary = "all down migrations in reverse do not restore an empty database".to_string();
                return Ok(fail(Property::Reversible, summary, diverged(&empty, &after, differences, "an empty database"), cases));
            }
            summary.push_str("; all downs in reverse restore an empty database");
        }
        if !found.is_empty() {
            // Position in canonical order: a rebuild's failing up may come before the down that broke.
            found.sort_by_key(|f| migrations.iter().position(|m| m.id() == f.finding.migration));
            let lead = format!("{} fail", plural(found.len(), "migration"));
            return Ok(failed(Property::Reversible, &lead, found, not_reached, cases));
        }
        let mut verdict = pass(Property::Reversible, summary, vec![]);
        verdict.cases = cases;
        Ok(verdict)
    }

    /// The down of `migration`, just after its up, then the up again; what broke, if anything.
    async fn down_then_up(
        &mut self,
        workspace: &mut Workspace,
        migration: &Migration,
        before: &Catalog,
    ) -> Result<Option<Found>, CheckError> {
        let executor = self.executor();
        let id = migration.id();
        if let Some(failure) = executor.down(workspace.target(), migration).await? {
            let summary = format!("the down migration of {id} failed right after its up");
            return Ok(Some(Found::new(migration, summary, "its down fails", failure)));
        }
        let after = self.dump(&mut workspace.conn).await?;
        let mut differences = compare::compare(before, &after, &self.compare);
        if compare::has_errors(&differences) {
            // The same up and down once more: what differs between the two runs froze
            // something like now(), and is not what the down failed to restore.
            let again = match executor.up(workspace.target(), migration).await? {
                None if executor.down(workspace.target(), migration).await?.is_none() => Some(self.dump(&mut workspace.conn).await?),
                _ => None,
            };
            if let Some(again) = again {
                differences = self.stable_differences(differences, &after, &again);
            }
        }
        if compare::has_errors(&differences) {
            let summary = format!("{id} up then down does not restore the catalog");
            let failure = diverged(before, &after, differences, &format!("the catalog before {id} ran"));
            return Ok(Some(Found::new(migration, summary, "up then down leaves a trace", failure)));
        }
        if let Some(failure) = executor.up(workspace.target(), migration).await? {
            let summary = format!("{id} failed when re-applied after its down");
            return Ok(Some(Found::new(migration, summary, "fails when re-applied after its down", failure)));
        }
        Ok(None)
    }

    /// Replaces `workspace` with a new database on which `ups` ran; the first that fails, if any.
    async fn rebuild<'m>(
        &mut self,
        workspace: &mut Workspace,
        ups: &'m [Migration],
    ) -> Result<Option<(&'m Migration, crate::model::Failure)>, CheckError> {
        let executor = self.executor();
        let rebuilt = self.workspace(Purpose::Migrations).await?;
        std::mem::replace(workspace, rebuilt).close().await?;
        for migration in ups {
            self.stop_if_cancelled()?;
            if let Some(failure) = executor.up(workspace.target(), migration).await? {
                return Ok(Some((migration, failure)));
            }
        }
        Ok(None)
    }
}
