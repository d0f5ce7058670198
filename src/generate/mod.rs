//! Cases as plans, and the proptest strategies that generate them. Pure: no database here.
//!
//! A [`Plan`] says which migrations already ran (`applied`), which reference objects already
//! exist although their migrations are not recorded (`preexisting`), whether a non-transactional
//! migration stopped halfway (`interrupted`), and the order the pending migrations run in.
//! Strategies are constructive (masks, priorities, indices) so that proptest shrinks every part
//! toward the simple case: nothing applied, nothing pre-existing, canonical order.

pub(crate) use crate::model::Granularity;
use std::collections::BTreeSet;
use std::fmt;

use proptest::prelude::*;
use proptest::sample::Index;
use serde::Serialize;

use crate::analysis::deps::DependencyGraph;

/// A non-transactional migration that stopped after `statements_done` of its statements.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub(crate) struct Interruption {
    pub(crate) migration: usize,
    pub(crate) statements_done: usize,
}

/// One case: a start state and the order of the pending migrations (indices into the
/// migration set's canonical order; `preexisting` indexes the reference units).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub(crate) struct Plan {
    pub(crate) applied: BTreeSet<usize>,
    pub(crate) preexisting: BTreeSet<usize>,
    pub(crate) interrupted: Option<Interruption>,
    pub(crate) order: Vec<usize>,
}

impl Plan {
    /// The order everything ran in: the applied migrations (canonical order), then the pending.
    #[cfg(test)]
    pub(crate) fn run_order(&self) -> Vec<usize> {
        self.applied.iter().copied().chain(self.order.iter().copied()).collect()
    }

    /// `(early, late)` pairs where `late` ran before `early` although `early < late`
    /// canonically, over the whole run order (applied, then pending).
    #[cfg(test)]
    pub(crate) fn out_of_order_pairs(&self) -> Vec<(usize, usize)> {
        let run = self.run_order();
        let mut pairs = Vec::new();
        for (i, &a) in run.iter().enumerate() {
            for &b in &run[i + 1..] {
                if b < a {
                    pairs.push((b, a));
                }
            }
        }
        pairs
    }

    #[cfg(test)]
    pub(crate) fn is_canonical_order(&self) -> bool {
        self.order.windows(2).all(|w| w[0] < w[1])
    }
}

// Short, stable Debug: it is what proptest writes after `# shrinks to` in regression files.
impl fmt::Debug for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Plan {{ applied: {:?}, preexisting: {:?}, ", self.applied, self.preexisting)?;
        match &self.interrupted {
            Some(i) => write!(f, "interrupted: migration {} after {} statements, ", i.migration, i.statements_done)?,
            None => write!(f, "interrupted: none, ")?,
        }
        write!(f, "order: {:?} }}", self.order)
    }
}

impl fmt::Debug for Interruption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "migration {} after {} statements", self.migration, self.statements_done)
    }
}

/// The reference schema's units as the generator sees them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct UnitSpace {
    /// The migration whose canonical run creates each unit's object, if one does.
    pub(crate) creator: Vec<Option<usize>>,
    /// Units each unit needs.
    pub(crate) depends_on: Vec<BTreeSet<usize>>,
    /// Migrations each unit needs besides its units: those that add the columns it names.
    pub(crate) needs_migrations: Vec<BTreeSet<usize>>,
}

impl UnitSpace {
    pub(crate) fn len(&self) -> usize {
        self.creator.len()
    }

    pub(crate) fn units_of(&self, migration: usize) -> impl Iterator<Item = usize> + '_ {
        (0..self.len()).filter(move |&u| self.creator[u] == Some(migration))
    }
}

/// Everything the strategies need to know about a migration set.
#[derive(Debug, Clone)]
pub(crate) struct PlanSpace {
    pub(crate) migrations: usize,
    pub(crate) deps: DependencyGraph,
    /// Migrations that claim to be re-entrant.
    pub(crate) reentrant: BTreeSet<usize>,
    /// Non-transactional migrations and their statement counts: where an interruption can happen.
    pub(crate) resumable: Vec<(usize, usize)>,
    pub(crate) units: UnitSpace,
    pub(crate) granularity: Granularity,
    /// The migrator never runs a migration older than one already applied (golang-migrate, whose
    /// ledger is one version number; Flyway without outOfOrder): applied sets are prefixes of
    /// the canonical order, and the pending migrations run in that order.
    pub(crate) in_order_only: bool,
}

impl PlanSpace {
    /// Units that may pre-exist: those created by re-entrant migrations.
    pub(crate) fn eligible_units(&self) -> Vec<usize> {
        (0..self.units.len()).filter(|&u| self.units.creator[u].is_some_and(|m| self.reentrant.contains(&m))).collect()
    }

    /// Makes a start state consistent: `applied` closed under dependencies; `preexisting`
    /// closed under unit dependencies, where a needed unit whose migration is not re-entrant
    /// makes that migration applied instead, and units of applied migrations already exist.
    pub(crate) fn close(&self, applied: BTreeSet<usize>, preexisting: BTreeSet<usize>) -> (BTreeSet<usize>, BTreeSet<usize>) {
        let mut applied = self.deps.dependency_closure(&applied);
        let mut preexisting = preexisting;
        loop {
            let mut grown = false;
            for unit in preexisting.clone() {
                // A column a migration added exists only once that migration ran.
                for &m in self.units.needs_migrations.get(unit).into_iter().flatten() {
                    grown |= applied.insert(m);
                }
                for &needed in &self.units.depends_on[unit] {
                    match self.units.creator[needed] {
                        Some(m) if applied.contains(&m) => {}
                        Some(m) if !self.reentrant.contains(&m) => grown |= applied.insert(m),
                        // At migration granularity a migration's effect pre-exists whole or not at all.
                        Some(m) if self.granularity == Granularity::Migration => {
                            for unit in self.units.units_of(m) {
                                grown |= preexisting.insert(unit);
                            }
                        }
                        _ => grown |= preexisting.insert(needed),
                    }
                }
            }
            let mut closed = self.deps.dependency_closure(&applied);
            if self.in_order_only {
                // Such a migrator has applied everything below the latest applied migration.
                let latest = closed.last().copied();
                closed.extend(latest.into_iter().flat_map(|latest| 0..latest));
            }
            grown |= closed.len() != applied.len();
            applied = closed;
            if !grown {
                break;
            }
        }
        preexisting.retain(|u| !self.units.creator[*u].is_some_and(|m| applied.contains(&m)));
        (applied, preexisting)
    }

    /// The largest part of `set` that holds every dependent of its members: a migration stays
    /// only if everything that depends on it is in the set too.
    pub(crate) fn upward_closed_part(&self, mut set: BTreeSet<usize>) -> BTreeSet<usize> {
        loop {
            let before = set.len();
            let dropped: Vec<usize> = set
                .iter()
                .copied()
                .filter(|&m| (0..self.migrations).any(|d| self.deps.depends_on(d).contains(&m) && !set.contains(&d)))
                .collect();
            for m in dropped {
                set.remove(&m);
            }
            if set.len() == before {
                return set;
            }
        }
    }

    fn pending(&self, applied: &BTreeSet<usize>) -> BTreeSet<usize> {
        (0..self.migrations).filter(|m| !applied.contains(m)).collect()
    }

    fn plan(&self, applied: BTreeSet<usize>, preexisting: BTreeSet<usize>, priorities: &[u32]) -> Plan {
        let (applied, preexisting) = self.close(applied, preexisting);
        let order = self.deps.topological_order(&self.pending(&applied), priorities);
        Plan { applied, preexisting, interrupted: None, order }
    }

    /// The units chosen by a mask: over eligible units (object granularity) or over re-entrant
    /// migrations, each taking all its units (migration granularity).
    fn chosen_units(&self, mask: &[bool]) -> BTreeSet<usize> {
        match self.granularity {
            Granularity::Object => self.eligible_units().into_iter().zip(mask).filter(|(_, &on)| on).map(|(u, _)| u).collect(),
            Granularity::Migration => {
                self.reentrant.iter().zip(mask).filter(|(_, &on)| on).flat_map(|(&m, _)| self.units.units_of(m)).collect()
            }
        }
    }

    fn preexisting_mask_len(&self) -> usize {
        match self.granularity {
            Granularity::Object => self.eligible_units().len(),
            Granularity::Migration => self.reentrant.len(),
        }
    }
}

fn mask(len: usize) -> impl Strategy<Value = Vec<bool>> {
    proptest::collection::vec(any::<bool>(), len)
}

fn selected(mask: &[bool]) -> BTreeSet<usize> {
    mask.iter().enumerate().filter(|(_, &on)| on).map(|(i, _)| i).collect()
}

/// Start states for the *partial* property: any applied set (a prefix, for an in-order-only
/// migrator), any pre-existing set, canonical order.
pub(crate) fn partial_plans(space: PlanSpace) -> BoxedStrategy<Plan> {
    let zeros = vec![0u32; space.migrations];
    if space.in_order_only {
        // The prefix length shrinks toward nothing applied.
        return (0..=space.migrations, mask(space.preexisting_mask_len()))
            .prop_map(move |(applied, preexisting)| space.plan((0..applied).collect(), space.chosen_units(&preexisting), &zeros))
            .boxed();
    }
    (mask(space.migrations), mask(space.preexisting_mask_len()))
        .prop_map(move |(applied, preexisting)| space.plan(selected(&applied), space.chosen_units(&preexisting), &zeros))
        .boxed()
}

/// Orders for the *order* property: a pending set, the rest applied first in canonical order
/// (an environment that got some migrations, from any branch, earlier), then the pending ones in
/// any dependency-respecting order. The pending set is the largest part of the mask whose
/// dependents are all pending too, so turning a mask bit off never adds a pending migration:
/// shrinking reaches the fewest pending migrations, and priorities shrink toward zero, which is
/// the canonical order. `None` for an in-order-only migrator: it has no other order.
pub(crate) fn order_plans(space: PlanSpace) -> Option<BoxedStrategy<Plan>> {
    if space.in_order_only {
        return None;
    }
    // Mostly-pending masks: the whole set from an empty database stays a common case.
    let pending_mask = proptest::collection::vec(proptest::bool::weighted(0.85), space.migrations);
    let strategy = (pending_mask, proptest::collection::vec(any::<u32>(), space.migrations))
        .prop_map(move |(pending, priorities)| {
            let pending = space.upward_closed_part(selected(&pending));
            let applied: BTreeSet<usize> = (0..space.migrations).filter(|m| !pending.contains(m)).collect();
            space.plan(applied, BTreeSet::new(), &priorities)
        })
        .boxed();
    Some(strategy)
}

/// Interruptions for the *interrupt* property: one non-transactional migration stopped after
/// k of its statements (its dependencies applied), then every pending migration in canonical order.
/// `None` when no migration runs outside a transaction.
pub(crate) fn interrupt_plans(space: PlanSpace) -> Option<BoxedStrategy<Plan>> {
    if space.resumable.is_empty() {
        return None;
    }
    let zeros = vec![0u32; space.migrations];
    let strategy = (any::<Index>(), any::<Index>(), mask(space.migrations))
        .prop_map(move |(which, after, applied)| {
            let (migration, statements) = space.resumable[which.index(space.resumable.len())];
            let statements_done = after.index(statements.max(1)) + 1;
            let mut applied = selected(&applied);
            if space.in_order_only {
                // Everything before the interrupted migration, and nothing after it.
                applied = (0..migration).collect();
            }
            applied.extend(space.deps.depends_on(migration).iter().copied());
            // Whatever depends on the interrupted migration cannot have run yet.
            applied.retain(|&m| m != migration && !space.deps.dependency_closure(&[m].into()).contains(&migration));
            let mut plan = space.plan(applied, BTreeSet::new(), &zeros);
            if plan.applied.contains(&migration) {
                // The closure re-applied it: fall back to interrupting with nothing else applied.
                plan = space.plan(space.deps.depends_on(migration).clone(), BTreeSet::new(), &zeros);
            }
            plan.interrupted = Some(Interruption { migration, statements_done });
            plan
        })
        .boxed();
    Some(strategy)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    /// 0 ← 1 ← 2, and 3 independent; 1 and 3 re-entrant; 3 runs outside a transaction.
    fn space(granularity: Granularity) -> PlanSpace {
        let mut deps = DependencyGraph::new(4);
        deps.add(1, 0, "1 needs 0".into());
        deps.add(2, 1, "2 needs 1".into());
        // Units: 0 table of m1, 1 index of m1 (needs 0), 2 table of m3, 3 table of m0.
        let units = UnitSpace {
            creator: vec![Some(1), Some(1), Some(3), Some(0)],
            depends_on: vec![[3].into(), [0].into(), BTreeSet::new(), BTreeSet::new()],
            needs_migrations: vec![BTreeSet::new(); 4],
        };
        PlanSpace { migrations: 4, deps, reentrant: [1, 3].into(), resumable: vec![(3, 2)], units, granularity, in_order_only: false }
    }

    proptest! {
        #[test]
        fn partial_plans_are_consistent(plan in partial_plans(space(Granularity::Object))) {
            let space = space(Granularity::Object);
            prop_assert_eq!(space.deps.dependency_closure(&plan.applied), plan.applied.clone());
            prop_assert!(space.deps.respects(&plan.order));
            let pending: BTreeSet<usize> = plan.order.iter().copied().collect();
            prop_assert!(pending.is_disjoint(&plan.applied));
            prop_assert_eq!(pending.len() + plan.applied.len(), 4);
            for &unit in &plan.preexisting {
                let creator = space.units.creator[unit].unwrap();
                prop_assert!(!plan.applied.contains(&creator));
                for needed in &space.units.depends_on[unit] {
                    let present = plan.preexisting.contains(needed)
                        || plan.applied.contains(&space.units.creator[*needed].unwrap());
                    prop_assert!(present, "unit {} needs {}", unit, needed);
                }
            }
        }

        #[test]
        fn orders_respect_dependencies(plan in order_plans(space(Granularity::Migration)).unwrap()) {
            let space = space(Granularity::Migration);
            prop_assert!(space.deps.respects(&plan.order));
            prop_assert_eq!(plan.order.len() + plan.applied.len(), 4);
            prop_assert_eq!(space.deps.dependency_closure(&plan.applied), plan.applied.clone());
            prop_assert!(plan.preexisting.is_empty());
        }

        #[test]
        fn interruptions_have_their_dependencies_applied(plan in interrupt_plans(space(Granularity::Migration)).unwrap()) {
            let interrupted = plan.interrupted.clone().unwrap();
            prop_assert_eq!(interrupted.migration, 3);
            prop_assert!((1..=2).contains(&interrupted.statements_done));
            prop_assert!(!plan.applied.contains(&3));
            prop_assert!(plan.order.contains(&3));
        }

        /// An in-order-only migrator (golang-migrate) only ever has a prefix applied, runs the
        /// rest in canonical order, and has no order property.
        #[test]
        fn in_order_only_states_are_prefixes_in_canonical_order(plan in partial_plans(in_order(Granularity::Migration))) {
            let applied: Vec<usize> = plan.applied.iter().copied().collect();
            prop_assert_eq!(applied.clone(), (0..applied.len()).collect::<Vec<_>>());
            prop_assert!(plan.is_canonical_order() && plan.out_of_order_pairs().is_empty(), "{:?}", plan);
        }

        #[test]
        fn in_order_only_interruptions_follow_a_prefix(plan in interrupt_plans(in_order(Granularity::Migration)).unwrap()) {
            prop_assert_eq!(plan.applied.clone(), BTreeSet::from([0, 1, 2]));
            prop_assert_eq!(plan.order.clone(), vec![3]);
        }
    }

    /// The same space for an in-order-only migrator, where pre-existing unit 1 also needs
    /// migration 3 (it names a column 3 adds): prefixes must stay prefixes even so.
    fn in_order(granularity: Granularity) -> PlanSpace {
        let mut space = PlanSpace { in_order_only: true, ..space(granularity) };
        space.units.needs_migrations[1] = [3].into();
        space
    }

    #[test]
    fn an_in_order_only_migrator_has_no_order_property() {
        assert!(order_plans(in_order(Granularity::Migration)).is_none());
    }

    #[test]
    fn turning_a_pending_bit_off_never_adds_pending_migrations() {
        let space = space(Granularity::Migration);
        // 0 is pending only if its dependents 1 (and so 2) are.
        assert_eq!(space.upward_closed_part([0, 2].into()), [2].into());
        assert_eq!(space.upward_closed_part([0, 1, 2].into()), [0, 1, 2].into());
        assert_eq!(space.upward_closed_part([1, 3].into()), [3].into());
    }

    #[test]
    fn a_preexisting_index_brings_its_table_and_the_table_brings_applied_base() {
        let space = space(Granularity::Object);
        let (applied, preexisting) = space.close(BTreeSet::new(), [1].into());
        assert_eq!(preexisting, [0, 1].into());
        assert_eq!(applied, [0].into(), "unit 0 needs unit 3, created by non-re-entrant migration 0");
    }

    /// A pre-existing view over a column that a later migration added needs that migration: a
    /// table its migrations built has only the columns they added.
    #[test]
    fn a_preexisting_unit_brings_the_migrations_that_add_its_columns() {
        let mut space = space(Granularity::Object);
        space.units.needs_migrations[1] = [2].into();
        let (applied, preexisting) = space.close(BTreeSet::new(), [1].into());
        assert_eq!(applied, [0, 1, 2].into(), "2 and what it needs; 1 made unit 1 itself");
        assert!(preexisting.is_empty(), "{preexisting:?}");
    }

    #[test]
    fn strategies_shrink_to_the_simple_case() {
        let mut runner = TestRunner::deterministic();
        let mut tree = partial_plans(space(Granularity::Object)).new_tree(&mut runner).unwrap();
        while tree.simplify() {}
        let simplest = tree.current();
        assert!(simplest.applied.is_empty() && simplest.preexisting.is_empty(), "{simplest:?}");
        assert_eq!(simplest.order, vec![0, 1, 2, 3]);
        // Orders shrink toward nothing pending (all applied), in canonical order.
        let mut tree = order_plans(space(Granularity::Migration)).unwrap().new_tree(&mut runner).unwrap();
        while tree.simplify() {}
        assert!(tree.current().order.is_empty(), "{:?}", tree.current());
    }

    #[test]
    fn out_of_order_pairs_name_the_swapped_migrations() {
        let plan = Plan { applied: BTreeSet::new(), preexisting: BTreeSet::new(), interrupted: None, order: vec![0, 3, 1, 2] };
        assert_eq!(plan.out_of_order_pairs(), vec![(1, 3), (2, 3)]);
        assert!(!plan.is_canonical_order());
        // An applied later migration counts as having run first.
        let plan = Plan { applied: [0, 2].into(), preexisting: BTreeSet::new(), interrupted: None, order: vec![1] };
        assert_eq!(plan.out_of_order_pairs(), vec![(1, 2)]);
    }
}
