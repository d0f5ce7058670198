//! A counterexample in words (its start state, order and outcome, and any hidden order
//! dependency it reveals), and the psql script that reproduces it.

use std::path::PathBuf;

use crate::generate::Plan;
use crate::model::{CaseReport, Failure, HiddenDependency, Property};
use crate::runner::RunnerError;

use super::universe::Universe;
use super::ExploreOptions;

/// The minimal case in words, with its parts named.
pub(super) fn describe(universe: &Universe, plan: &Plan, failure: &Failure) -> CaseReport {
    let ids = |set: &mut dyn Iterator<Item = usize>| -> Vec<String> { set.map(|m| universe.id(m)).collect() };
    let applied = ids(&mut plan.applied.iter().copied());
    let order = ids(&mut plan.order.iter().copied());
    let preexisting: Vec<String> = plan.preexisting.iter().map(|&u| universe.units.units[u].label.clone()).collect();
    let interrupted = plan.interrupted.as_ref().map(|i| {
        let total = universe.migrations()[i.migration].up.statements.len();
        format!("{} stopped after {} of {} statements", universe.id(i.migration), i.statements_done, total)
    });
    let mut start = Vec::new();
    start.push(if applied.is_empty() { "nothing applied".to_string() } else { format!("applied: {}", list(&applied)) });
    if !preexisting.is_empty() {
        start.push(format!("with only {} pre-existing", list(&preexisting)));
    }
    if let Some(interrupted) = &interrupted {
        start.push(interrupted.clone());
    }
    let out_of_order: Vec<[String; 2]> =
        plan.out_of_order_pairs().iter().map(|&(early, late)| [universe.id(late), universe.id(early)]).collect();
    let swapped: Vec<String> = out_of_order.iter().take(3).map(|[late, early]| format!("{late} ran before {early}")).collect();
    if !swapped.is_empty() {
        start.push(swapped.join(", "));
    }
    let outcome = match failure {
        Failure::StatementFailed { migration, location, error, .. } => {
            format!("{migration} fails at {location}: {}", error.message)
        }
        Failure::Diverged { differences, .. } => {
            let more = if differences.len() > 1 { format!(" (and {} more)", differences.len() - 1) } else { String::new() };
            format!("the catalog differs: {}{more}", differences.first().map(|d| d.to_string()).unwrap_or_default())
        }
    };
    let hidden_dependency = hidden_dependency(universe, plan, failure);
    let mut description = format!("{}; {} pending: {outcome}", start.join("; "), order.len());
    if let Some(hidden) = &hidden_dependency {
        description.push_str(&format!(
            ". Hidden order dependency: {} needs {}. Declare it in pgconverge.toml ([dependencies] \"{}\" = [{}]) or make the migration robust to running first",
            hidden.migration,
            list(&hidden.needs),
            universe.migrations().iter().find(|m| m.id() == hidden.migration).map_or("", |m| m.version.as_str()),
            hidden
                .needs
                .iter()
                .filter_map(|id| universe.migrations().iter().find(|m| &m.id() == id))
                .map(|m| format!("\"{}\"", m.version))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    CaseReport { description, applied, preexisting, interrupted, order, out_of_order, hidden_dependency, blamed: vec![], regressions: None, repro: None }
}

/// A statement failure in an order where the failing migration ran before migrations that
/// precede it canonically: those are what it silently needs.
fn hidden_dependency(universe: &Universe, plan: &Plan, failure: &Failure) -> Option<HiddenDependency> {
    let Failure::StatementFailed { migration, .. } = failure else { return None };
    let failed = (0..universe.migrations().len()).find(|&m| &universe.id(m) == migration)?;
    let position = plan.order.iter().position(|&m| m == failed)?;
    let needs: Vec<String> = plan.order[position + 1..].iter().filter(|&&m| m < failed).map(|&m| universe.id(m)).collect();
    (!needs.is_empty()).then(|| HiddenDependency { migration: migration.clone(), needs })
}

fn list(items: &[String]) -> String {
    const SHOWN: usize = 6;
    if items.len() <= SHOWN {
        items.join(", ")
    } else {
        format!("{} and {} more", items[..SHOWN].join(", "), items.len() - SHOWN)
    }
}

pub(super) fn write_repro(
    universe: &Universe,
    property: Property,
    plan: &Plan,
    failure: &Failure,
    options: &ExploreOptions,
) -> Result<Option<PathBuf>, RunnerError> {
    let Some(dir) = &options.repro_dir else { return Ok(None) };
    let differences = match failure {
        Failure::Diverged { differences, .. } => differences.as_slice(),
        Failure::StatementFailed { .. } => &[],
    };
    let input = crate::engine::repro::ReproInput {
        title: format!("property {property} of {}", universe.project.dir.display()),
        migrations: universe.migrations(),
        plan,
        reference: universe.reference_script().map(|s| (s, universe.unit_statements(&plan.preexisting))),
        differences,
    };
    let text = crate::engine::repro::script(&input);
    std::fs::create_dir_all(dir).map_err(|source| RunnerError::File { action: "create", path: dir.to_path_buf(), source })?;
    let path = dir.join(format!("{}.sql", property.name()));
    std::fs::write(&path, text).map_err(|source| RunnerError::File { action: "write", path: path.clone(), source })?;
    Ok(Some(path))
}
