//! The cases of a property for an executor that runs whole migrations only (the project's own
//! migrator, seconds a step): few enough to run them all, in a fixed order, on one worker.

use std::collections::BTreeSet;

use crate::catalog::Catalog;
use crate::generate::Plan;
use crate::model::Property;

use super::cases::{CaseRunner, SharedCases, SharedProgress, WorkerResult};
use super::sandbox::CaseOutcome;
use super::universe::Universe;
use super::ExploreOptions;

/// The cases of a property for an executor that runs whole migrations only (the project's own
/// migrator, seconds a step): few enough to run them all, in this order, the simplest first:
/// each older version applied and the rest pending, then the whole reference pre-existing
/// with the re-entrant migrations pending.
pub(super) fn plans(universe: &Universe) -> Vec<Plan> {
    let n = universe.migrations().len();
    let mut plans: Vec<Plan> = (0..n)
        .map(|applied| Plan {
            applied: (0..applied).collect(),
            preexisting: BTreeSet::new(),
            interrupted: None,
            order: (applied..n).collect(),
        })
        .collect();
    // The whole reference pre-existing, the re-entrant migrations pending and not recorded:
    // the state they are written for (a database loaded from the schema file, say).
    let reentrant = &universe.project.reentrant;
    if !universe.executor.loads_schema() && universe.reference_script().is_some() && !reentrant.is_empty() {
        // A SQL reference pgconverge runs itself (Alembic's schema.sql): what the re-entrant
        // migrations create pre-exists, the migrations before the first of them are applied,
        // and from there on every migration runs (a migrator with a head-only ledger, Alembic's,
        // cannot record a later migration as applied while an earlier one is pending).
        let first = *reentrant.iter().next().expect("not empty");
        let space = &universe.space.units;
        let preexisting: BTreeSet<usize> = (0..space.len()).filter(|&u| space.creator[u].is_some_and(|m| reentrant.contains(&m))).collect();
        if !preexisting.is_empty() {
            plans.push(Plan { applied: (0..first).collect(), preexisting, interrupted: None, order: (first..n).collect() });
        }
    } else if !universe.units.units.is_empty() && !reentrant.is_empty() {
        let everything = (0..universe.units.units.len()).collect();
        let applied = (0..n).filter(|m| !reentrant.contains(m)).collect();
        plans.push(Plan { applied, preexisting: everything, interrupted: None, order: reentrant.iter().copied().collect() });
    }
    plans
}

/// Runs every plan of [`plans`] on one worker; the first failure is the verdict's.
pub(super) fn run_exhaustively(
    universe: &Universe,
    property: Property,
    options: &ExploreOptions,
    expected: &Catalog,
    progress: std::sync::Arc<SharedProgress>,
) -> WorkerResult {
    let plans = plans(universe);
    let mut state = match CaseRunner::new(universe, false, &SharedCases::default()) {
        Ok(state) => state,
        Err(error) => return WorkerResult::failed(error),
    };
    state.cancel = options.cancel.clone();
    state.progress = options.progress.clone().map(|sink| (sink, property, plans.len() as u32, std::time::Instant::now(), progress));
    let mut outcome = Ok(None);
    for plan in plans {
        match state.evaluate(&plan, expected, true) {
            Some(CaseOutcome::Failed(failure)) => {
                state.tick(true);
                outcome = Ok(Some((plan, failure)));
                break;
            }
            Some(_) => state.tick(false),
            None => break,
        }
    }
    let outcome = match state.infrastructure.take() {
        Some(error) => Err(error),
        None => outcome,
    };
    state.finish(outcome)
}
