//! The proptest plumbing and the worker threads: each worker's configuration and RNG stream,
//! the pre-run blocks, the persisted seeds, and the exhaustive run for a migrator that runs
//! whole migrations only.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::path::PathBuf;

use proptest::strategy::{BoxedStrategy, Strategy, ValueTree};
use proptest::test_runner::{
    Config, FailurePersistence, FileFailurePersistence, PersistedSeed, RngAlgorithm, TestError, TestRng, TestRunner,
};

use crate::catalog::Catalog;
use crate::generate::{self, Plan};
use crate::model::{Property, Shard};
use crate::runner::RunnerError;

use super::cases::{CaseRunner, SharedCases, SharedProgress, WorkerResult};
use super::sandbox::{step_keys, CaseOutcome};
use super::universe::Universe;
use super::ExploreOptions;

/// Whether the property's regressions file holds a saved seed (a `cc <seed>` line).
pub(super) fn has_saved_seeds(options: &ExploreOptions, property: Property) -> bool {
    regressions_file(options, property)
        .and_then(|path| std::fs::read_to_string(path).ok())
        .is_some_and(|text| text.lines().any(|line| line.starts_with("cc ")))
}

/// Blocks of cases per worker: small enough that the workers' loads even out (each takes the
/// next block when it is done with one), large enough that a block's cases share prefixes.
const BLOCKS_PER_WORKER: usize = 8;

/// The cases every worker's proptest runner will generate first (one per case it must pass),
/// pooled, sorted by their steps so that neighbours share the longest prefixes, and cut into
/// contiguous blocks that the workers take in turn: each runs a block in its own warm database,
/// and the sharing is nearly that of one sorted run however many workers there are.
pub(super) fn presorted_blocks(universe: &Universe, property: Property, runners: &[TestRunner], worker_cases: &[u32]) -> Vec<Vec<Plan>> {
    let Some(strategy) = strategy(universe, property) else { return Vec::new() };
    let mut pooled: Vec<Plan> = Vec::new();
    for (runner, &cases) in runners.iter().zip(worker_cases) {
        // A clone: the worker's own runner must start from the same RNG state.
        pooled.extend(next_cases(&strategy, &mut runner.clone(), cases).unwrap_or_default());
    }
    pooled.sort_by_cached_key(step_keys);
    let blocks = if worker_cases.len() > 1 { worker_cases.len() * BLOCKS_PER_WORKER } else { 1 };
    pooled.chunks(pooled.len().div_ceil(blocks).max(1)).map(<[Plan]>::to_vec).collect()
}

/// The next `count` cases `runner` would generate in `TestRunner::run`, which before each case
/// replaces the runner's RNG with one seeded from it (`gen_get_seed`, crate-private; `new_rng`
/// is the same draw). `None` when the strategy gives up.
fn next_cases<S: Strategy>(strategy: &S, runner: &mut TestRunner, count: u32) -> Option<Vec<S::Value>> {
    (0..count)
        .map(|_| {
            let rng = runner.new_rng();
            *runner.rng() = rng;
            strategy.new_tree(runner).ok().map(|tree| tree.current())
        })
        .collect()
}

/// Persists new failures but loads none: the workers after the first save what they find,
/// and only the first replays the saved seeds.
#[derive(Debug, Clone, PartialEq)]
struct SaveOnly(FileFailurePersistence);

impl FailurePersistence for SaveOnly {
    fn load_persisted_failures2(&self, _source_file: Option<&'static str>) -> Vec<PersistedSeed> {
        Vec::new()
    }

    fn save_persisted_failure2(&mut self, source_file: Option<&'static str>, seed: PersistedSeed, value: &dyn std::fmt::Debug) {
        self.0.save_persisted_failure2(source_file, seed, value);
    }

    fn box_clone(&self) -> Box<dyn FailurePersistence> {
        Box::new(self.clone())
    }

    fn eq(&self, other: &dyn FailurePersistence) -> bool {
        other.as_any().downcast_ref::<SaveOnly>().is_some_and(|o| o == self)
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

pub(super) fn regressions_file(options: &ExploreOptions, property: Property) -> Option<PathBuf> {
    options.regressions.as_ref().map(|dir| dir.join(format!("pgconverge-{}.txt", property.name())))
}

/// The proptest configuration of one worker of one property.
pub(super) fn config(options: &ExploreOptions, property: Property, worker: usize, cases: u32) -> Config {
    // Config::default() honours PROPTEST_CASES and the other PROPTEST_* settings.
    let mut config = Config { cases, max_shrink_iters: options.max_shrink_iters, ..Config::default() };
    config.failure_persistence = regressions_file(options, property).map(|path| {
        // proptest wants a 'static path; one small leak per property, worker and run.
        let path: &'static str = Box::leak(path.to_string_lossy().into_owned().into_boxed_str());
        let file = FileFailurePersistence::Direct(path);
        if worker == 0 {
            Box::new(file) as Box<dyn FailurePersistence>
        } else {
            Box::new(SaveOnly(file)) as Box<dyn FailurePersistence>
        }
    });
    config
}

/// Cases per generated property, before sharding: `--cases`, else proptest's default.
pub(super) fn total_cases(options: &ExploreOptions) -> u32 {
    if options.replay_only {
        return 0;
    }
    let cases = options.cases.unwrap_or_else(|| Config::default().cases);
    match options.shard {
        Some(shard) => cases.div_ceil(shard.count),
        None => cases,
    }
}

/// The RNG of one worker of one property: from the base seed, the shard, the property and the
/// worker, so each explores its own deterministic stream.
pub(super) fn rng(seed: u64, shard: Option<Shard>, property: Property, worker: usize) -> TestRng {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    bytes[8..16].copy_from_slice(&u64::from(shard.map_or(0, |s| s.index)).to_le_bytes());
    bytes[16] = property as u8;
    bytes[17] = worker as u8;
    TestRng::from_seed(RngAlgorithm::ChaCha, &bytes)
}

/// A base seed when none was given.
pub(crate) fn random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos());
    hasher.finish() >> 1
}

pub(super) fn strategy(universe: &Universe, property: Property) -> Option<BoxedStrategy<Plan>> {
    match property {
        Property::Partial => Some(generate::partial_plans(universe.space.clone())),
        Property::Order => generate::order_plans(universe.space.clone()),
        Property::Interrupt => generate::interrupt_plans(universe.space.clone()),
        _ => None,
    }
}

/// Waits at the barrier when dropped, so a worker that returns early (or panics) still lets the
/// others past the end of the pre-runs.
struct ArriveOnDrop<'b>(&'b std::sync::Barrier);

impl Drop for ArriveOnDrop<'_> {
    fn drop(&mut self) {
        self.0.wait();
    }
}

/// Where a worker stands in its property's run.
pub(super) struct WorkerContext<'c> {
    /// The worker's proptest runner (its configuration and its own RNG stream).
    pub(super) test_runner: TestRunner,
    pub(super) progress: std::sync::Arc<SharedProgress>,
    pub(super) target: u32,
    pub(super) cases_shared: &'c SharedCases,
    pub(super) blocks: &'c [Vec<Plan>],
    pub(super) next_block: &'c std::sync::atomic::AtomicUsize,
    pub(super) prerun_done: &'c std::sync::Barrier,
}

pub(super) fn run_worker(
    universe: &Universe,
    property: Property,
    options: &ExploreOptions,
    expected: &Catalog,
    context: WorkerContext<'_>,
) -> WorkerResult {
    let WorkerContext { mut test_runner, progress, target, cases_shared, blocks, next_block, prerun_done } = context;
    let arrival = ArriveOnDrop(prerun_done);
    let strategy = strategy(universe, property).expect("only generated properties reach a worker");
    let mut state = match CaseRunner::new(universe, options.share_prefixes, cases_shared) {
        Ok(state) => state,
        Err(error) => return WorkerResult::failed(error),
    };
    state.cancel = options.cancel.clone();
    state.progress = options.progress.clone().map(|sink| (sink, property, target, std::time::Instant::now(), progress));
    state.prerun(blocks, next_block, expected);
    // Every worker's slice is run before any proptest run starts looking outcomes up.
    drop(arrival);
    let case_runner = RefCell::new(state);
    let result = test_runner.run(&strategy, |plan| case_runner.borrow_mut().test(plan, expected));
    let mut state = case_runner.into_inner();
    let outcome = match (state.infrastructure.take(), result) {
        (Some(error), _) => Err(error),
        (None, Ok(())) => Ok(None),
        (None, Err(TestError::Fail(_, plan))) => {
            let failure = state.failures.get(&plan).cloned().expect("every failing plan is recorded");
            Ok(Some((plan, failure)))
        }
        (None, Err(TestError::Abort(reason))) => {
            Err(RunnerError::PropertyAborted { property: property.to_string(), reason: reason.to_string() })
        }
    };
    state.finish(outcome)
}

/// The cases of a property for an executor that runs whole migrations only (the project's own
/// migrator, seconds a step): few enough to run them all, in this order, the simplest first:
/// each older version applied and the rest pending, then the whole reference pre-existing
/// with every migration pending.
pub(super) fn exhaustive_plans(universe: &Universe) -> Vec<Plan> {
    let n = universe.migrations().len();
    let mut plans: Vec<Plan> = (0..n)
        .map(|applied| Plan {
            applied: (0..applied).collect(),
            preexisting: BTreeSet::new(),
            interrupted: None,
            order: (applied..n).collect(),
        })
        .collect();
    if !universe.units.units.is_empty() {
        let everything = (0..universe.units.units.len()).collect();
        plans.push(Plan { applied: BTreeSet::new(), preexisting: everything, interrupted: None, order: (0..n).collect() });
    }
    plans
}

/// Runs every plan of [`exhaustive_plans`] on one worker; the first failure is the verdict's.
pub(super) fn run_exhaustively(
    universe: &Universe,
    property: Property,
    options: &ExploreOptions,
    expected: &Catalog,
    progress: std::sync::Arc<SharedProgress>,
) -> WorkerResult {
    let plans = exhaustive_plans(universe);
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
                outcome = Ok(Some((plan, failure)));
                break;
            }
            Some(_) => {}
            None => break,
        }
    }
    let outcome = match state.infrastructure.take() {
        Some(error) => Err(error),
        None => outcome,
    };
    state.finish(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pre-run only saves time if it runs the very cases proptest then generates: the
    /// replicated generation must give proptest's own sequence, case for case.
    #[test]
    fn pre_generated_cases_are_the_ones_proptest_runs() {
        let strategy = proptest::collection::vec(0..1000u32, 0..12);
        let config = Config { cases: 40, failure_persistence: None, ..Config::default() };
        let seeded = || TestRunner::new_with_rng(config.clone(), rng(7, None, Property::Order, 0));
        let predicted = next_cases(&strategy, &mut seeded(), 40).expect("vectors always generate");
        let seen = RefCell::new(Vec::new());
        seeded()
            .run(&strategy, |value| {
                seen.borrow_mut().push(value);
                Ok(())
            })
            .expect("every case passes");
        assert_eq!(seen.into_inner(), predicted);
        assert!(predicted.windows(2).any(|w| w[0] != w[1]), "the cases differ from each other");
    }

    /// Saved failures replay before new cases: a regressions file with a seed turns the
    /// pre-run off; one with only proptest's header comments does not.
    #[test]
    fn a_saved_seed_lets_proptest_go_first() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let options = ExploreOptions { regressions: Some(dir.path().to_path_buf()), ..ExploreOptions::default() };
        let file = regressions_file(&options, Property::Order).expect("a regressions directory gives a file");
        assert!(!has_saved_seeds(&options, Property::Order), "no file yet");
        std::fs::write(&file, "# Seeds for failure cases proptest has generated in the past.\n").expect("write");
        assert!(!has_saved_seeds(&options, Property::Order));
        std::fs::write(&file, "# header\ncc 0123abcd # shrinks to Plan { .. }\n").expect("write");
        assert!(has_saved_seeds(&options, Property::Order));
        assert!(!has_saved_seeds(&options, Property::Partial), "each property has its own file");
    }
}
