//! reversible: up then down restores the catalog, migration by migration; when every migration
//! has a down, all of them in reverse restore an empty database.

use super::super::check::{diverged, fail, pass, skipped, Checker, Workspace};
use super::super::prepare::Purpose;
use super::super::CheckError;
use crate::compare;
use crate::model::{plural, Property, Verdict};

impl Checker<'_> {
    /// Up then down, for each migration that has a down, restores the catalog as it was before
    /// the up; when every migration has a down, all of them in reverse restore an empty database.
    pub(crate) async fn reversible(&mut self, asked: bool) -> Result<Verdict, CheckError> {
        let executor = self.executor();
        let with_down = self.project.migrations.migrations.iter().filter(|m| executor.has_down(m)).count();
        if with_down == 0 {
            let reason = if asked { "no migration has a down migration" } else { "not applicable: no down migrations" };
            return Ok(skipped(Property::Reversible, reason.to_string()));
        }
        let mut workspace = self.workspace(Purpose::Migrations).await?;
        let verdict = self.reversible_in(&mut workspace, with_down).await;
        workspace.close().await?;
        verdict
    }

    async fn reversible_in(&mut self, workspace: &mut Workspace, with_down: usize) -> Result<Verdict, CheckError> {
        let executor = self.executor();
        let migrations = &self.project.migrations.migrations;
        let empty = self.dump(&mut workspace.conn).await?;
        let mut before = empty.clone();
        let mut cases = 0;
        for migration in migrations {
            self.stop_if_cancelled()?;
            if let Some(failure) = executor.up(workspace.target(), migration).await? {
                let summary = format!("{} failed on the way up", migration.id());
                return Ok(fail(Property::Reversible, summary, failure, cases));
            }
            if executor.has_down(migration) {
                cases += 1;
                if let Some(failure) = executor.down(workspace.target(), migration).await? {
                    let summary = format!("the down migration of {} failed right after its up", migration.id());
                    return Ok(fail(Property::Reversible, summary, failure, cases));
                }
                let after = self.dump(&mut workspace.conn).await?;
                let mut differences = compare::compare(&before, &after, &self.compare);
                if compare::has_errors(&differences) {
                    // The same up and down once more: what differs between the two runs froze
                    // something like now(), and is not what the down failed to restore.
                    let again = match executor.up(workspace.target(), migration).await? {
                        None if executor.down(workspace.target(), migration).await?.is_none() => {
                            Some(self.dump(&mut workspace.conn).await?)
                        }
                        _ => None,
                    };
                    if let Some(again) = again {
                        differences = self.stable_differences(differences, &after, &again);
                    }
                }
                if compare::has_errors(&differences) {
                    let summary = format!("{} up then down does not restore the catalog", migration.id());
                    let against = format!("the catalog before {} ran", migration.id());
                    return Ok(fail(Property::Reversible, summary, diverged(&before, &after, differences, &against), cases));
                }
                if let Some(failure) = executor.up(workspace.target(), migration).await? {
                    let summary = format!("{} failed when re-applied after its down", migration.id());
                    return Ok(fail(Property::Reversible, summary, failure, cases));
                }
            }
            before = self.dump(&mut workspace.conn).await?;
        }
        let mut summary = format!("{} with a down: up then down restores the catalog", plural(with_down, "migration"));
        if with_down == migrations.len() {
            cases += 1;
            for migration in migrations.iter().rev() {
                self.stop_if_cancelled()?;
                if let Some(failure) = executor.down(workspace.target(), migration).await? {
                    let summary = format!("undoing the whole set: the down migration of {} failed", migration.id());
                    return Ok(fail(Property::Reversible, summary, failure, cases));
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
        let mut verdict = pass(Property::Reversible, summary, vec![]);
        verdict.cases = cases;
        Ok(verdict)
    }
}
