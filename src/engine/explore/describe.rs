//! A counterexample in words (its start state, order and outcome, and any hidden order
//! dependency it reveals), and the psql script that reproduces it.

use std::path::PathBuf;

use crate::compare::{Difference, Severity};
use crate::engine::origins::Origins;
use crate::generate::Plan;
use crate::model::{plural, CaseReport, Failure, HiddenDependency, Property};
use crate::runner::RunnerError;

use super::universe::Universe;
use super::workers::Found;
use super::ExploreOptions;

/// The minimal case in words, with its parts named: a short description (the start state that
/// matters and what went wrong), the parts as fields, and the migrations the case blames.
pub(super) fn describe(universe: &Universe, found: &Found) -> CaseReport {
    let plan = &found.minimal.plan;
    let failure = &found.failure;
    let ids = |set: &mut dyn Iterator<Item = usize>| -> Vec<String> { set.map(|m| universe.id(m)).collect() };
    let applied = ids(&mut plan.applied.iter().copied());
    let order = ids(&mut plan.order.iter().copied());
    let preexisting: Vec<String> = plan.preexisting.iter().map(|&u| universe.units.units[u].label.clone()).collect();
    let interrupted = plan.interrupted.as_ref().map(|i| {
        let total = universe.migrations()[i.migration].up.statements.len();
        format!("{} stopped after {} of {}", universe.id(i.migration), i.statements_done, plural(total, "statement"))
    });
    let pairs = hinge_pairs(universe, plan, &found.minimal.pairs, failure);
    let out_of_order: Vec<[String; 2]> = pairs.iter().map(|&(early, late)| [universe.id(late), universe.id(early)]).collect();

    let mut start = Vec::new();
    if !preexisting.is_empty() {
        start.push(format!("pre-existing {}", list(&preexisting)));
    }
    if let Some(interrupted) = &interrupted {
        start.push(interrupted.clone());
    }
    start.extend(out_of_order.iter().map(|[late, early]| format!("{late} ran before {early}")));
    if start.is_empty() {
        start.push(match applied.len() {
            0 => "from an empty database".into(),
            1..=3 => format!("applied {}", applied.join(", ")),
            n => format!("{} applied", plural(n, "migration")),
        });
        if order.len() <= 3 && !applied.is_empty() {
            start.push(format!("pending {}", order.join(", ")));
        }
    }
    let outcome = match failure {
        Failure::StatementFailed { migration, location, error, .. } => format!("{migration} fails at {location}: {}", error.message),
        Failure::Diverged { differences, .. } => {
            let more = if differences.len() > 1 { format!(" (and {} more)", differences.len() - 1) } else { String::new() };
            format!("the catalog differs: {}{more}", differences.first().map(|d| d.to_string()).unwrap_or_default())
        }
    };
    let hidden_dependency = hidden_dependency(universe, plan, failure);
    let mut description = format!("{}: {outcome}", start.join("; "));
    if let Some(hidden) = &hidden_dependency {
        description.push_str(&format!(" (hidden order dependency: {} needs {})", hidden.migration, list(&hidden.needs)));
    }
    if !found.minimal.complete {
        description.push_str(" (shrinking stopped at its budget: --shrink-iters or PROPTEST_MAX_SHRINK_ITERS for a smaller case)");
    }

    // Blamed: the migration that fails, or for a divergence the pending migrations the minimal
    // case needs; both sides of each order pair; the interrupted migration; a hidden dependency.
    let mut blamed: Vec<String> = Vec::new();
    let mut blame = |id: &str| {
        if !blamed.iter().any(|b| b == id) {
            blamed.push(id.to_string());
        }
    };
    match failure {
        Failure::StatementFailed { migration, .. } => blame(migration.strip_suffix(" (down)").unwrap_or(migration)),
        Failure::Diverged { .. } => order.iter().for_each(|id| blame(id)),
    }
    for [late, early] in &out_of_order {
        blame(late);
        blame(early);
    }
    if let Some(i) = &plan.interrupted {
        blame(&universe.id(i.migration));
    }
    if let Some(hidden) = &hidden_dependency {
        blame(&hidden.migration);
        hidden.needs.iter().for_each(|id| blame(id));
    }
    CaseReport {
        description,
        applied,
        preexisting,
        interrupted,
        order,
        out_of_order,
        hidden_dependency,
        blamed,
        regressions: None,
        repro: None,
    }
}

/// The out-of-order pairs `(early, late)` to report. The minimizer finds an applied migration
/// whose deferral (with everything that depends on it) makes the case pass; that may be an
/// unrelated migration that other applied ones depend on. For a divergence, when applied
/// migrations newer than a pending one write a differing object (another label added to the
/// same enum), those are what the case hinges on: each is paired with the oldest pending
/// migration older than it.
fn hinge_pairs(universe: &Universe, plan: &Plan, found: &[(usize, usize)], failure: &Failure) -> Vec<(usize, usize)> {
    let Failure::Diverged { differences, .. } = failure else { return found.to_vec() };
    let Some(&oldest) = plan.order.iter().min() else { return found.to_vec() };
    // Pairs among the pending migrations stand: both ran in the case.
    if found.iter().all(|(_, late)| plan.order.contains(late)) {
        return found.to_vec();
    }
    let origins = Origins::of(&universe.project);
    let failing: Vec<&Difference> = differences.iter().filter(|d| d.severity == Severity::Error).collect();
    let writes = |m: usize| failing.iter().any(|d| origins.writes(m, d));
    if found.iter().all(|&(_, late)| writes(late)) {
        return found.to_vec();
    }
    let writers: Vec<(usize, usize)> = plan
        .applied
        .iter()
        .copied()
        .filter(|&late| late > oldest && writes(late))
        .filter_map(|late| plan.order.iter().copied().filter(|&p| p < late).min().map(|early| (early, late)))
        .collect();
    if writers.is_empty() {
        found.to_vec()
    } else {
        writers
    }
}

/// A statement failure in an order where the failing migration ran before migrations that
/// precede it canonically: those are what it silently needs.
fn hidden_dependency(universe: &Universe, plan: &Plan, failure: &Failure) -> Option<HiddenDependency> {
    let Failure::StatementFailed { migration, .. } = failure else { return None };
    let failed = (0..universe.migrations().len()).find(|&m| &universe.id(m) == migration)?;
    let position = plan.order.iter().position(|&m| m == failed)?;
    let needs: Vec<String> = plan.order[position + 1..].iter().filter(|&&m| m < failed).map(|&m| universe.id(m)).collect();
    let version = |id: &String| universe.migrations().iter().find(|m| &m.id() == id).map_or(id.clone(), |m| m.version.clone());
    let declare = format!(
        "[dependencies] \"{}\" = [{}]",
        version(migration),
        needs.iter().map(|id| format!("\"{}\"", version(id))).collect::<Vec<_>>().join(", ")
    );
    (!needs.is_empty()).then(|| HiddenDependency { migration: migration.clone(), needs, declare })
}

fn list(items: &[String]) -> String {
    const SHOWN: usize = 3;
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
    let Some(requested) = &options.repro_dir else { return Ok(None) };
    let project = &universe.project;
    // Never where the next load would read it as a migration.
    let dir = crate::engine::repro::repro_dir(requested, &project.dir, &project.migrations.dir);
    let mut title = format!("property {property} of {}", project.dir.display());
    // A framework's migrations are code: the script holds the SQL they sent in this case.
    let recorded = match universe.executor.runs_sql() {
        true => None,
        false => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|source| RunnerError::Runtime { purpose: "recording a repro", source })?;
            title.push_str(&format!(" (each step as the SQL the {} driver recorded it sending)", project.runner_name()));
            Some(runtime.block_on(super::sandbox::record_case(universe, plan))?)
        }
    };
    let reference = match recorded.as_ref().and_then(|r| r.schema_load.as_ref()) {
        Some(load) => Some((load, (0..load.statements.len()).collect())),
        None => universe.reference_script().map(|s| (s, universe.unit_statements(&plan.preexisting))),
    };
    let input = crate::engine::repro::ReproInput {
        title,
        preparation: &universe.prep,
        migrations: recorded.as_ref().map_or(universe.migrations(), |r| r.migrations.as_slice()),
        plan,
        reference,
        failure,
    };
    let text = crate::engine::repro::script(&input);
    std::fs::create_dir_all(&dir).map_err(|source| RunnerError::File { action: "create", path: dir.clone(), source })?;
    let path = dir.join(format!("{}.sql", property.name()));
    std::fs::write(&path, text).map_err(|source| RunnerError::File { action: "write", path: path.clone(), source })?;
    Ok(Some(path))
}
