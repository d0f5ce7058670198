//! The order of work of one generated property, and its worker threads.
//!
//! 1. The saved counterexamples replay first, by name (saved.rs), on one worker. If one still
//!    fails, it is the verdict (made 1-minimal again if the migrations changed), and no new
//!    case runs: a failing project's regressions file stays as it is from run to run.
//! 2. Otherwise the property's case stream (stream.rs) is read a chunk at a time. The `jobs`
//!    workers pre-run a chunk in parallel, sorted so that neighbours share step prefixes, each in
//!    its warm database; then one worker reads the chunk in stream order, finding the outcomes
//!    memoized. The first failure in stream order goes to proptest's shrinking and then to the
//!    minimizer (minimize.rs), on that one worker. Which cases run, which fails first and what it
//!    shrinks to depend on the seed and the shard only, never on `jobs`.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use proptest::strategy::{BoxedStrategy, ValueTree};
use proptest::test_runner::{Config, TestCaseError, TestError};

use crate::catalog::Catalog;
use crate::generate::{self, Plan};
use crate::model::{Failure, Property, Replayed};
use crate::runner::RunnerError;

use super::cases::{CaseRunner, SharedCases, SharedProgress, WorkerResult};
use super::minimize::{minimize, Minimal};
use super::sandbox::{step_keys, CaseOutcome};
use super::saved::{NamedPlan, SavedFile};
use super::stream::{CaseSeed, CaseStream, Generated};
use super::universe::Universe;
use super::ExploreOptions;

/// Cases read from the stream at a time: enough for the workers to share prefixes and keep
/// busy, few enough that a nightly run's millions of cases never sit in memory at once.
const CHUNK: usize = 1024;

/// Shrink steps when neither `--shrink-iters` nor `PROPTEST_MAX_SHRINK_ITERS` says.
const DEFAULT_SHRINK_ITERS: u32 = 256;

/// A property's failure, minimal, with the seed that regenerates its first, unshrunk form.
pub(super) struct Found {
    pub(super) seed: CaseSeed,
    pub(super) minimal: Minimal,
    pub(super) failure: Failure,
}

impl Found {
    /// A failure of the exhaustive run, which has no seed and is not shrunk.
    pub(super) fn unshrunk(plan: Plan, failure: Failure) -> Found {
        let pairs = Vec::new();
        Found { seed: CaseSeed([0; 32]), minimal: Minimal { plan, pairs, complete: true }, failure }
    }
}

/// Whether any of these properties has a saved counterexample in `regressions`.
pub(crate) fn has_saved_cases(regressions: &std::path::Path, properties: &[Property]) -> Result<bool, RunnerError> {
    for &property in properties {
        if !SavedFile::load(&SavedFile::path(regressions, property))?.entries.is_empty() {
            return Ok(true);
        }
    }
    Ok(false)
}

/// What one property's run found.
pub(super) struct Explored {
    pub(super) workers: Vec<WorkerResult>,
    pub(super) found: Option<Found>,
    pub(super) replayed: Option<Replayed>,
    pub(super) error: Option<RunnerError>,
}

pub(super) fn regressions_file(options: &ExploreOptions, property: Property) -> Option<std::path::PathBuf> {
    options.regressions.as_deref().map(|dir| SavedFile::path(dir, property))
}

/// The shrink budget: `--shrink-iters`, else `PROPTEST_MAX_SHRINK_ITERS`, else 256.
pub(super) fn shrink_budget(options: &ExploreOptions) -> u32 {
    options.max_shrink_iters.unwrap_or_else(|| match Config::default().max_shrink_iters {
        // proptest's "unset" (it then derives a budget from the case count).
        u32::MAX => DEFAULT_SHRINK_ITERS,
        set => set,
    })
}

/// Cases per generated property in this shard: `--cases` (else proptest's default, 256 or
/// `PROPTEST_CASES`) split over the shards.
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

/// proptest's configuration for generating and shrinking one case. The shrink budget is
/// pgconverge's own (the test closure stops running cases when it is spent), so proptest's
/// limits are lifted and it never prints its own advice on stderr.
fn proptest_config() -> Config {
    Config { cases: 1, max_shrink_iters: u32::MAX - 1, max_shrink_time: 0, timeout: 0, failure_persistence: None, ..Config::default() }
}

/// Runs a generated property: saved cases, then the stream (see the module's comment).
pub(super) fn explore_generated(
    universe: &Universe,
    property: Property,
    options: &ExploreOptions,
    expected: &Catalog,
    seed: u64,
) -> Explored {
    let strategy = strategy(universe, property).expect("only generated properties reach the workers");
    let total = total_cases(options) as usize;
    let jobs = options.jobs.max(1).min(total.max(1));
    let progress = std::sync::Arc::new(SharedProgress::default());
    let shared = SharedCases::default();
    let mut explored = Explored { workers: Vec::new(), found: None, replayed: None, error: None };

    // Every worker's case runner lives for the whole property; they move to scoped threads and back.
    let mut runners: Vec<CaseRunner<'_>> = Vec::new();
    for _ in 0..jobs {
        match CaseRunner::new(universe, options.share_prefixes, &shared) {
            Ok(mut runner) => {
                runner.cancel = options.cancel.clone();
                runner.progress =
                    options.progress.clone().map(|sink| (sink, property, total as u32, std::time::Instant::now(), progress.clone()));
                runners.push(runner);
            }
            Err(error) => {
                explored.error = Some(error);
                return finish(explored, runners);
            }
        }
    }

    let mut budget = shrink_budget(options);
    // 1. The saved cases.
    if let Some(path) = regressions_file(options, property) {
        let outcome = on_thread(&mut runners[0], |runner| replay_saved(runner, universe, property, options, expected, &path, &mut budget));
        match outcome {
            Ok((replayed, found)) => {
                explored.replayed = replayed;
                explored.found = found;
            }
            Err(error) => explored.error = Some(error),
        }
        if explored.found.is_some() || explored.error.is_some() {
            return finish(explored, runners);
        }
    }

    // 2. The stream, a chunk at a time.
    let config = proptest_config();
    let mut stream = CaseStream::new(strategy.clone(), config.clone(), seed, options.shard, property);
    let mut read = 0;
    while read < total {
        let chunk = match stream.next_cases(CHUNK.min(total - read)) {
            Ok(chunk) => chunk,
            Err(reason) => {
                explored.error = Some(RunnerError::PropertyAborted { property: property.to_string(), reason });
                break;
            }
        };
        read += chunk.len();
        let prerun = prerun(&mut runners, &chunk, expected, options.share_prefixes);
        let first = on_thread(&mut runners[0], |runner| scan(runner, &chunk, &prerun, expected));
        if let Some(error) = runners.iter_mut().find_map(|r| r.infrastructure.take()) {
            explored.error = Some(error);
            break;
        }
        if let Some(index) = first {
            let case = chunk[index].clone();
            let found = on_thread(&mut runners[0], |runner| shrink(runner, universe, property, expected, &case, &mut budget));
            match found {
                Ok(found) => {
                    if let Some(path) = regressions_file(options, property) {
                        let saved =
                            SavedFile::load(&path).and_then(|mut file| file.save(found.seed, NamedPlan::of(universe, &found.minimal.plan)));
                        // A finding is never lost because saving it failed: report both.
                        if let Err(error) = saved {
                            explored.error = Some(error);
                        }
                    }
                    explored.found = Some(found);
                }
                Err(error) => explored.error = Some(error),
            }
            break;
        }
    }
    finish(explored, runners)
}

fn finish(mut explored: Explored, runners: Vec<CaseRunner<'_>>) -> Explored {
    for mut runner in runners {
        if let Some(error) = runner.infrastructure.take() {
            explored.error.get_or_insert(error);
        }
        explored.workers.push(runner.finish(Ok(None)));
    }
    explored
}

/// Runs `work` with `runner` on a thread of its own: a case runner blocks on a runtime of its
/// own, which the caller's thread (perhaps a runtime's) must not.
fn on_thread<'u, T: Send>(runner: &mut CaseRunner<'u>, work: impl FnOnce(&mut CaseRunner<'u>) -> T + Send) -> T {
    std::thread::scope(|scope| scope.spawn(|| work(runner)).join().expect("a case worker panicked"))
}

/// Pre-runs a chunk on every worker in parallel, sorted by steps (when prefixes are shared) so
/// that neighbours share them; stops early once any worker finds a failure. Which stream indices ran.
fn prerun(runners: &mut [CaseRunner<'_>], chunk: &[Generated], expected: &Catalog, sort: bool) -> Vec<bool> {
    let ran: Vec<AtomicBool> = chunk.iter().map(|_| AtomicBool::new(false)).collect();
    if runners.len() == 1 && !sort {
        // One worker, nothing to gain from another order: the scan runs the cases itself.
        return vec![false; chunk.len()];
    }
    let mut sorted: Vec<usize> = (0..chunk.len()).collect();
    if sort {
        sorted.sort_by_cached_key(|&i| step_keys(&chunk[i].plan));
    }
    let blocks: Vec<&[usize]> = sorted.chunks(sorted.len().div_ceil(runners.len() * 8).max(1)).collect();
    let next_block = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    std::thread::scope(|scope| {
        for runner in runners.iter_mut() {
            let (blocks, next_block, failed, ran) = (&blocks, &next_block, &failed, &ran);
            scope.spawn(move || {
                while let Some(block) = blocks.get(next_block.fetch_add(1, Ordering::Relaxed)) {
                    for &i in *block {
                        if failed.load(Ordering::Relaxed) {
                            return;
                        }
                        match runner.evaluate(&chunk[i].plan, expected, false) {
                            Some(outcome) => {
                                ran[i].store(true, Ordering::Relaxed);
                                let failing = matches!(outcome, CaseOutcome::Failed(_));
                                runner.tick(failing);
                                if failing {
                                    failed.store(true, Ordering::Relaxed);
                                }
                            }
                            None => {
                                failed.store(true, Ordering::Relaxed);
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    ran.into_iter().map(AtomicBool::into_inner).collect()
}

/// Reads a chunk in stream order, counting each case once (outcomes the pre-run memoized are
/// looked up); the index of the first failure.
fn scan(runner: &mut CaseRunner<'_>, chunk: &[Generated], prerun: &[bool], expected: &Catalog) -> Option<usize> {
    for (i, case) in chunk.iter().enumerate() {
        let outcome = runner.evaluate(&case.plan, expected, true)?;
        let failing = matches!(outcome, CaseOutcome::Failed(_));
        if !prerun[i] {
            runner.tick(failing);
        }
        if failing {
            return Some(i);
        }
    }
    None
}

/// Whether `outcome` is the failure `like`: the same migration fails, or the same objects
/// differ. Shrinking keeps to it, so the minimal case shows the bug that was found.
fn same_failure(outcome: &CaseOutcome, like: &Failure) -> bool {
    let CaseOutcome::Failed(failure) = outcome else { return false };
    match (failure, like) {
        (Failure::StatementFailed { migration: a, .. }, Failure::StatementFailed { migration: b, .. }) => a == b,
        (Failure::Diverged { differences: a, .. }, Failure::Diverged { differences: b, .. }) => {
            let objects = |d: &[crate::compare::Difference]| d.iter().map(|d| (d.kind, d.object.clone())).collect::<BTreeSet<_>>();
            objects(a) == objects(b)
        }
        _ => false,
    }
}

/// Shrinks a failing stream case: proptest's value tree first, then the minimizer, both within
/// the budget and both keeping to the same failure.
fn shrink(
    runner: &mut CaseRunner<'_>,
    universe: &Universe,
    property: Property,
    expected: &Catalog,
    case: &Generated,
    budget: &mut u32,
) -> Result<Found, RunnerError> {
    // A boxed strategy is neither Send nor Sync: each thread makes its own.
    let strategy = &strategy(universe, property).expect("only generated properties shrink");
    let Some(CaseOutcome::Failed(failure)) = runner.evaluate(&case.plan, expected, false) else {
        return Err(runner.infrastructure.take().unwrap_or_else(|| RunnerError::NotRepeatable {
            what: format!("a failing case of {property}"),
            detail: "it passed when run again; is a migration nondeterministic?".into(),
        }));
    };
    let mut proptest_runner = case.seed.runner(&proptest_config());
    let tree = case
        .seed
        .tree(strategy, &mut proptest_runner)
        .map_err(|reason| RunnerError::PropertyAborted { property: property.to_string(), reason })?;
    let last_failing = RefCell::new(case.plan.clone());
    // proptest shrinks a mask bit by bit, a run each: on hundreds of migrations it would spend
    // the whole budget there. It gets half; the minimizer, which removes by halves, the rest.
    let mut proptest_budget = *budget / 2;
    *budget -= proptest_budget;
    let state = RefCell::new((&mut *runner, &mut proptest_budget));
    let result = proptest_runner.run_one(tree, |plan: Plan| {
        let mut state = state.borrow_mut();
        let (runner, budget) = &mut *state;
        // A spent budget or a stopped run: every further step "passes", and proptest walks back
        // to the last failing case.
        if **budget == 0 || runner.infrastructure.is_some() {
            return Ok(());
        }
        **budget -= 1;
        let Some(outcome) = runner.evaluate(&plan, expected, false) else { return Ok(()) };
        runner.tick(matches!(outcome, CaseOutcome::Failed(_)));
        if same_failure(&outcome, &failure) {
            *last_failing.borrow_mut() = plan;
            Err(TestCaseError::fail("fails"))
        } else {
            Ok(())
        }
    });
    *budget += proptest_budget;
    if let Some(error) = runner.infrastructure.take() {
        return Err(error);
    }
    // proptest ends at the last failing value; the closure's record is the fallback.
    let shrunk = match result {
        Err(TestError::Fail(_, plan)) if runner.failure_of(&plan).is_some_and(|f| same_failure(&CaseOutcome::Failed(f), &failure)) => plan,
        _ => last_failing.into_inner(),
    };
    let minimal = minimize_within(runner, universe, property, expected, shrunk, &failure, budget)?;
    let failure = runner.failure_of(&minimal.plan).unwrap_or(failure);
    Ok(Found { seed: case.seed, minimal, failure })
}

/// The minimizer, each probe a case run on `runner` within the budget.
fn minimize_within(
    runner: &mut CaseRunner<'_>,
    universe: &Universe,
    property: Property,
    expected: &Catalog,
    plan: Plan,
    failure: &Failure,
    budget: &mut u32,
) -> Result<Minimal, RunnerError> {
    let mut probe = |candidate: &Plan| {
        if *budget == 0 {
            return None;
        }
        *budget -= 1;
        let outcome = runner.evaluate(candidate, expected, false)?;
        runner.tick(matches!(outcome, CaseOutcome::Failed(_)));
        Some(same_failure(&outcome, failure))
    };
    let minimal = minimize(&universe.space, property, plan, &mut probe);
    match runner.infrastructure.take() {
        Some(error) => Err(error),
        None => Ok(minimal),
    }
}

/// Replays the saved cases; the first that still fails is made minimal again and returned.
/// With `options.prune`, the passing and stale ones are removed from the file.
fn replay_saved(
    runner: &mut CaseRunner<'_>,
    universe: &Universe,
    property: Property,
    options: &ExploreOptions,
    expected: &Catalog,
    path: &std::path::Path,
    budget: &mut u32,
) -> Result<(Option<Replayed>, Option<Found>), RunnerError> {
    let strategy = &strategy(universe, property).expect("only generated properties replay");
    let mut file = SavedFile::load(path)?;
    if file.entries.is_empty() {
        return Ok((None, None));
    }
    let mut replayed =
        Replayed { file: path.to_path_buf(), saved: file.entries.len(), still_failing: 0, passing: 0, stale: Vec::new(), pruned: 0 };
    let mut removable = Vec::new();
    let mut first_failing: Option<(usize, Plan, Failure)> = None;
    for (index, entry) in file.entries.iter().enumerate() {
        let plan = match &entry.case {
            Some(case) => case.resolve(universe),
            // An older line: its seed regenerates the case with today's generator.
            None => entry.seed.tree(strategy, &mut entry.seed.runner(&proptest_config())).map(|tree| tree.current()),
        };
        let plan = match plan {
            Ok(plan) => plan,
            Err(why) => {
                replayed.stale.push(format!("line {}: {why}", entry.line));
                removable.push(index);
                continue;
            }
        };
        let Some(outcome) = runner.evaluate(&plan, expected, true) else {
            return Err(runner.infrastructure.take().unwrap_or(RunnerError::Interrupted));
        };
        runner.tick(matches!(outcome, CaseOutcome::Failed(_)));
        match outcome {
            CaseOutcome::Failed(failure) => {
                replayed.still_failing += 1;
                first_failing.get_or_insert((index, plan, failure));
            }
            CaseOutcome::Converged { .. } => {
                replayed.passing += 1;
                removable.push(index);
            }
            CaseOutcome::Invalid(why) => {
                replayed.stale.push(format!("line {}: its start state can no longer be built ({why})", entry.line));
                removable.push(index);
            }
        }
    }
    if options.prune {
        replayed.pruned = removable.len();
    }
    let kept_index = |index: usize| if options.prune { index - removable.iter().filter(|&&r| r < index).count() } else { index };
    let seed_of_first = first_failing.as_ref().map(|(index, ..)| file.entries[*index].seed);
    if options.prune {
        file.remove(&removable)?;
    }
    let found = match (first_failing, seed_of_first) {
        (Some((index, plan, failure)), Some(seed)) => {
            let minimal = minimize_within(runner, universe, property, expected, plan, &failure, budget)?;
            let failure = runner.failure_of(&minimal.plan).unwrap_or(failure);
            // The migrations changed and the case shrank further: the line says so from now on.
            file.replace(kept_index(index), NamedPlan::of(universe, &minimal.plan))?;
            Some(Found { seed, minimal, failure })
        }
        _ => None,
    };
    Ok((Some(replayed), found))
}
