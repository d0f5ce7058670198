//! From proptest's shrunk case to a 1-minimal one. Proptest shrinks toward nothing applied,
//! nothing pre-existing and the canonical order, but stops at whatever its value tree can reach.
//! This pass removes the case's moving parts directly, keeping the failure the same (the same
//! migration fails, or the same objects differ):
//! - pre-existing objects (whole re-entrant migrations at migration granularity);
//! - pending migrations, by recording them as applied: what stays pending is what the failure needs;
//! - in an order case, out-of-order pairs, by swapping neighbours back into canonical order;
//!   the pairs left are each needed, and when none is left among the pending migrations, an
//!   applied migration that ran before a pending older one is looked for by bisection.
//!
//! Removals go by halves, then quarters, down to single elements (delta debugging), so a
//! case that hinges on one element takes a logarithmic number of runs. Each run counts against
//! the shrink budget; a pass that runs out says so (the case is then not claimed 1-minimal).

use std::collections::BTreeSet;

use crate::generate::{Plan, PlanSpace};
use crate::model::{Granularity, Property};

/// What a candidate did: `Some(true)` it fails the same way, `Some(false)` it does not,
/// `None` the pass must stop (budget spent, cancelled, the server failed).
pub(super) type Probe<'p> = &'p mut dyn FnMut(&Plan) -> Option<bool>;

/// The minimal case and the out-of-order pairs `(early, late)` that matter (`late` ran first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Minimal {
    pub(super) plan: Plan,
    pub(super) pairs: Vec<(usize, usize)>,
    /// Every removal was tried (false: the budget ran out or the run stopped first).
    pub(super) complete: bool,
}

struct Stopped;

pub(super) fn minimize(space: &PlanSpace, property: Property, plan: Plan, probe: Probe<'_>) -> Minimal {
    let mut current = plan;
    let complete = run(space, property, &mut current, probe).is_ok();
    // A partial start state is an order too: applied migrations ran before the older pending ones.
    let pairs = if complete && property != Property::Interrupt { order_pairs(space, &mut current, probe) } else { None };
    let pairs = pairs.unwrap_or_else(|| pending_pairs(&current));
    Minimal { plan: current, pairs, complete }
}

fn run(space: &PlanSpace, property: Property, current: &mut Plan, probe: Probe<'_>) -> Result<(), Stopped> {
    reduce(current, probe, |plan| preexisting_groups(space, plan), |plan, chunk| without_preexisting(space, plan, chunk))?;
    reduce(current, probe, pending, |plan, chunk| with_applied(space, plan, chunk))?;
    if property == Property::Order {
        uninvert(space, current, probe)?;
    }
    Ok(())
}

/// Delta debugging over the elements `elements(plan)` names: try removing chunks of them
/// (halves first), keep any removal that still fails, until no single element can go.
fn reduce<E: Clone>(
    current: &mut Plan,
    probe: Probe<'_>,
    elements: impl Fn(&Plan) -> Vec<E>,
    remove: impl Fn(&Plan, &[E]) -> Option<Plan>,
) -> Result<(), Stopped> {
    let mut parts = 2usize;
    loop {
        let all = elements(current);
        if all.is_empty() {
            return Ok(());
        }
        let size = all.len().div_ceil(parts.min(all.len()));
        let mut removed = false;
        for chunk in all.chunks(size) {
            let Some(candidate) = remove(current, chunk) else { continue };
            if candidate == *current {
                continue;
            }
            if probe(&candidate).ok_or(Stopped)? {
                *current = candidate;
                removed = true;
                break;
            }
        }
        if removed {
            parts = parts.saturating_sub(1).max(2);
        } else if size == 1 {
            return Ok(());
        } else {
            parts = (parts * 2).min(all.len());
        }
    }
}

/// What may be removed from the pre-existing set: single units, or at migration granularity
/// the units of one migration together.
fn preexisting_groups(space: &PlanSpace, plan: &Plan) -> Vec<BTreeSet<usize>> {
    match space.granularity {
        Granularity::Object => plan.preexisting.iter().map(|&u| BTreeSet::from([u])).collect(),
        Granularity::Migration => {
            let mut groups: Vec<(Option<usize>, BTreeSet<usize>)> = Vec::new();
            for &unit in &plan.preexisting {
                let creator = space.units.creator.get(unit).copied().flatten();
                match groups.iter_mut().find(|(c, _)| *c == creator) {
                    Some((_, group)) => {
                        group.insert(unit);
                    }
                    None => groups.push((creator, BTreeSet::from([unit]))),
                }
            }
            groups.into_iter().map(|(_, group)| group).collect()
        }
    }
}

fn without_preexisting(space: &PlanSpace, plan: &Plan, groups: &[BTreeSet<usize>]) -> Option<Plan> {
    let preexisting: BTreeSet<usize> = plan.preexisting.iter().copied().filter(|u| !groups.iter().any(|g| g.contains(u))).collect();
    let (applied, preexisting) = space.close(plan.applied.clone(), preexisting);
    rebuilt(plan, applied, preexisting)
}

/// The pending migrations that may be recorded as applied instead (not the interrupted one).
fn pending(plan: &Plan) -> Vec<usize> {
    let interrupted = plan.interrupted.as_ref().map(|i| i.migration);
    plan.order.iter().copied().filter(|&m| Some(m) != interrupted).collect()
}

fn with_applied(space: &PlanSpace, plan: &Plan, migrations: &[usize]) -> Option<Plan> {
    let mut applied = plan.applied.clone();
    applied.extend(migrations.iter().copied());
    let (applied, preexisting) = space.close(applied, plan.preexisting.clone());
    // What depends on the interrupted migration cannot have run before it stopped.
    if plan.interrupted.as_ref().is_some_and(|i| applied.contains(&i.migration)) {
        return None;
    }
    rebuilt(plan, applied, preexisting)
}

/// `plan` with a new start state; the pending migrations keep their relative order.
fn rebuilt(plan: &Plan, applied: BTreeSet<usize>, preexisting: BTreeSet<usize>) -> Option<Plan> {
    let order: Vec<usize> = plan.order.iter().copied().filter(|m| !applied.contains(m)).collect();
    // The closure must not have dropped a pending migration that was never applied.
    let covered = applied.len() + order.len();
    (covered == plan.applied.len() + plan.order.len() && applied.is_superset(&plan.applied)).then(|| Plan {
        applied,
        preexisting,
        interrupted: plan.interrupted.clone(),
        order,
    })
}

/// Swaps out-of-order neighbours among the pending migrations back while the case still fails.
fn uninvert(space: &PlanSpace, current: &mut Plan, probe: Probe<'_>) -> Result<(), Stopped> {
    loop {
        let mut swapped = false;
        for i in 0..current.order.len().saturating_sub(1) {
            let (first, second) = (current.order[i], current.order[i + 1]);
            if first < second || space.deps.dependency_closure(&BTreeSet::from([second])).contains(&first) {
                continue;
            }
            let mut candidate = current.clone();
            candidate.order.swap(i, i + 1);
            if probe(&candidate).ok_or(Stopped)? {
                *current = candidate;
                swapped = true;
                break;
            }
        }
        if !swapped {
            return Ok(());
        }
    }
}

/// Out-of-order pairs among the pending migrations: `(early, late)`, `late` ran first.
fn pending_pairs(plan: &Plan) -> Vec<(usize, usize)> {
    let mut pairs = Vec::new();
    for (i, &a) in plan.order.iter().enumerate() {
        for &b in &plan.order[i + 1..] {
            if b < a {
                pairs.push((b, a));
            }
        }
    }
    pairs
}

/// The pairs an order or partial case hinges on. Among the pending migrations, those still out of order
/// after [`uninvert`]. When the pending ones run in canonical order, the failure comes from an
/// applied migration that ran before an older pending one: bisect the applied migrations newer
/// than the oldest pending one, moving a part of them to run after the pending ones, for the
/// one whose move makes the case pass. `None` when the budget ran out.
fn order_pairs(space: &PlanSpace, current: &mut Plan, probe: Probe<'_>) -> Option<Vec<(usize, usize)>> {
    let pairs = pending_pairs(current);
    if !pairs.is_empty() {
        return Some(pairs);
    }
    let oldest = *current.order.iter().min()?;
    let mut suspects: Vec<usize> = current.applied.iter().copied().filter(|&m| m > oldest).collect();
    if suspects.is_empty() {
        return Some(vec![]);
    }
    // Moving every suspect must make the case pass, or no applied migration explains it.
    match deferred(space, current, &suspects) {
        Some(candidate) if !probe(&candidate)? => {}
        _ => return Some(vec![]),
    }
    while suspects.len() > 1 {
        let half: Vec<usize> = suspects[..suspects.len() / 2].to_vec();
        let passes = match deferred(space, current, &half) {
            Some(candidate) => !probe(&candidate)?,
            None => false,
        };
        suspects = if passes { half } else { suspects[suspects.len() / 2..].to_vec() };
    }
    let late = suspects[0];
    let early = current.order.iter().copied().filter(|&p| p < late).min()?;
    Some(vec![(early, late)])
}

/// `plan` with `migrations` (and the applied migrations that depend on them) run after the
/// pending ones instead of before.
fn deferred(space: &PlanSpace, plan: &Plan, migrations: &[usize]) -> Option<Plan> {
    let mut moved: BTreeSet<usize> = migrations.iter().copied().collect();
    loop {
        let dependents: Vec<usize> = plan
            .applied
            .iter()
            .copied()
            .filter(|&a| !moved.contains(&a) && space.deps.depends_on(a).iter().any(|d| moved.contains(d)))
            .collect();
        if dependents.is_empty() {
            break;
        }
        moved.extend(dependents);
    }
    let applied: BTreeSet<usize> = plan.applied.difference(&moved).copied().collect();
    let nodes: BTreeSet<usize> = plan.order.iter().chain(&moved).copied().collect();
    let mut priority = vec![u32::MAX; space.migrations];
    for (position, &m) in plan.order.iter().enumerate() {
        priority[m] = position as u32;
    }
    for &m in &moved {
        priority[m] = plan.order.len() as u32 + m as u32;
    }
    let order = space.deps.topological_order(&nodes, &priority);
    Some(Plan { applied, preexisting: plan.preexisting.clone(), interrupted: plan.interrupted.clone(), order })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::deps::DependencyGraph;
    use crate::generate::UnitSpace;

    /// Six independent migrations, 0..6, none re-entrant.
    fn space() -> PlanSpace {
        PlanSpace {
            migrations: 6,
            deps: DependencyGraph::new(6),
            reentrant: BTreeSet::new(),
            resumable: vec![],
            units: UnitSpace::default(),
            granularity: Granularity::Object,
            in_order_only: false,
        }
    }

    fn plan(applied: &[usize], order: &[usize]) -> Plan {
        Plan { applied: applied.iter().copied().collect(), preexisting: BTreeSet::new(), interrupted: None, order: order.to_vec() }
    }

    /// An order case that hinges on 4 running before 1 comes down to 1 pending and the rest
    /// applied (4 among them, so it ran first), and names the pair; every removal was tried.
    #[test]
    fn an_order_case_comes_down_to_its_pair() {
        let mut runs = 0;
        let mut probe = |p: &Plan| {
            runs += 1;
            let position = |m| p.run_order().iter().position(|&x| x == m);
            Some(position(4) < position(1) && p.order.contains(&1))
        };
        let minimal = minimize(&space(), Property::Order, plan(&[], &[5, 4, 3, 2, 1, 0]), &mut probe);
        assert_eq!(minimal.plan.order, vec![1]);
        assert_eq!(minimal.plan.applied, BTreeSet::from([0, 2, 3, 4, 5]));
        assert_eq!(minimal.pairs, vec![(1, 4)]);
        assert!(minimal.complete);
        assert!(runs < 30, "{runs} runs");
    }

    /// When the pending migrations run in canonical order, the applied migration that ran
    /// before an older pending one is found by bisection.
    #[test]
    fn an_applied_migration_that_ran_first_is_named() {
        let mut probe = |p: &Plan| Some(p.applied.contains(&3) && p.order.contains(&1));
        let minimal = minimize(&space(), Property::Order, plan(&[], &[0, 1, 2, 3, 4, 5]), &mut probe);
        assert_eq!(minimal.plan.order, vec![1]);
        assert_eq!(minimal.pairs, vec![(1, 3)]);
    }

    /// A case that needs two pending migrations keeps both (1-minimal: either alone passes).
    #[test]
    fn a_partial_case_keeps_what_it_needs_and_nothing_else() {
        let mut probe = |p: &Plan| Some(p.order.contains(&2) && p.order.contains(&5));
        let minimal = minimize(&space(), Property::Partial, plan(&[], &[0, 1, 2, 3, 4, 5]), &mut probe);
        assert_eq!(minimal.plan.order, vec![2, 5]);
        assert!(minimal.pairs.is_empty());
    }

    /// A probe that stops (budget spent) leaves the case as far as it got, marked incomplete.
    #[test]
    fn a_spent_budget_is_reported() {
        let mut left = 1;
        let mut probe = |p: &Plan| {
            if left == 0 {
                return None;
            }
            left -= 1;
            Some(p.order.contains(&2))
        };
        let minimal = minimize(&space(), Property::Partial, plan(&[], &[0, 1, 2, 3, 4, 5]), &mut probe);
        assert!(!minimal.complete);
        assert!(minimal.plan.order.contains(&2));
    }
}
