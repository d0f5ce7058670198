//! The generated properties (partial, order, interrupt): cases from `crate::generate`, run
//! against scratch databases, shrunk by proptest to a minimal counterexample, persisted as
//! proptest seeds and written out as a psql repro script.
//!
//! How `explore` runs one property:
//! - `Universe::build` (universe.rs) has replayed the canonical order once, dumping the catalog
//!   after every migration, to learn the dependencies and which migration makes each reference unit.
//! - Each worker (workers.rs) gets a proptest runner with its own RNG stream. The cases those
//!   runners will generate first are pooled, sorted so that neighbours share step prefixes, and
//!   cut into blocks that the workers pre-run, each in its warm database (sandbox.rs: one open
//!   transaction, a savepoint per step, a catalog dump compared with the reference at the end).
//! - Proptest then runs its own cases, finding the pre-run outcomes memoized (cases.rs), shrinks
//!   the first failure to a minimal case and persists its seed.
//! - The minimal case is described in words and written out as a repro script (describe.rs).

mod cases;
mod describe;
mod sandbox;
mod universe;
mod workers;

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

use proptest::test_runner::TestRunner;

use crate::compare::Difference;
use crate::generate::Granularity;
use crate::model::{plural, Property, Shard, Timing, Verdict, VerdictStatus};
use crate::runner::RunnerError;

use cases::{SharedCases, SharedProgress, WorkerResult};
use describe::{describe, write_repro};
use workers::{
    config, exhaustive_plans, has_saved_seeds, presorted_blocks, regressions_file, rng, run_exhaustively, run_worker, strategy,
    total_cases, WorkerContext,
};

pub(crate) use universe::Universe;
pub(crate) use workers::random_seed;

/// How the generated properties explore.
#[derive(Debug, Clone)]
pub struct ExploreOptions {
    /// Cases per generated property; `None`: proptest's default (256, or `PROPTEST_CASES`).
    pub(crate) cases: Option<u32>,
    /// Base seed: the same seed (and shard) generates the same cases.
    pub(crate) seed: Option<u64>,
    pub(crate) shard: Option<Shard>,
    pub(crate) granularity: Granularity,
    /// Where failing seeds are saved and replayed from (`None`: neither).
    pub(crate) regressions: Option<PathBuf>,
    /// Where repro scripts are written (`None`: not written).
    pub(crate) repro_dir: Option<PathBuf>,
    /// Run only the persisted seeds.
    pub(crate) replay_only: bool,
    pub(crate) max_shrink_iters: u32,
    /// Called after every case (the CLI draws a progress bar with it).
    pub(crate) progress: Option<ProgressSink>,
    /// Parallel workers per generated property, each with its own warm database.
    pub(crate) jobs: usize,
    /// Reuse the longest step prefix a case shares with the previous one (savepoints).
    pub(crate) share_prefixes: bool,
    /// Cancelled by the caller (Ctrl-C, SIGTERM): the check stops at the next step or case.
    pub(crate) cancel: tokio_util::sync::CancellationToken,
}

/// Where a run reports its progress.
#[derive(Clone)]
pub(crate) struct ProgressSink(pub(crate) std::sync::Arc<dyn Fn(&Progress) + Send + Sync>);

impl std::fmt::Debug for ProgressSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProgressSink")
    }
}

/// A generated property's progress after a case.
#[derive(Debug, Clone)]
pub struct Progress {
    /// The property running.
    pub property: Property,
    /// Cases run so far (shrinking steps included).
    pub cases: u64,
    /// The cases the property aims at (before any shrinking).
    pub target: u32,
    /// Cases that failed so far (the first failure and its shrinking steps).
    pub failed: u64,
    /// Wall time since the property started.
    pub elapsed: std::time::Duration,
    /// The property is done: this is its last report.
    pub finished: bool,
}

impl Default for ExploreOptions {
    fn default() -> Self {
        ExploreOptions {
            cases: None,
            seed: None,
            shard: None,
            granularity: Granularity::Migration,
            regressions: None,
            repro_dir: None,
            replay_only: false,
            max_shrink_iters: 256,
            progress: None,
            jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
            share_prefixes: true,
            cancel: tokio_util::sync::CancellationToken::new(),
        }
    }
}

/// Runs one generated property to a verdict, on `options.jobs` workers in parallel, each with
/// its own warm database and its own slice of the cases.
pub(crate) fn explore(universe: &Universe, property: Property, options: &ExploreOptions) -> Result<Verdict, RunnerError> {
    let expected = match property {
        Property::Order => &universe.canonical,
        _ => &universe.reference,
    };
    if strategy(universe, property).is_none() {
        let why = match property {
            Property::Order if !universe.executor.runs_sql() => {
                "not applicable with runner = \"command\": the migrator's SQL is unknown, so dependencies between migrations cannot be inferred".into()
            }
            Property::Order => match universe.project.config.out_of_order {
                Some(false) => "not applicable: out_of_order = false (migrations run in version order only), so there is no other order".into(),
                _ => format!(
                    "not applicable: {} applies migrations in version order only, so there is no other order (out_of_order = true if yours does not)",
                    universe.project.migrations.format
                ),
            },
            _ => "no migration runs outside a transaction".into(),
        };
        return Ok(skipped(property, why));
    }
    let started = std::time::Instant::now();
    let exhaustive = !universe.executor.runs_sql();
    let total = if exhaustive { exhaustive_plans(universe).len() as u32 } else { total_cases(options) };
    let jobs = if exhaustive { 1 } else { options.jobs.max(1).min(total.max(1) as usize) };
    let shared = std::sync::Arc::new(SharedProgress::default());
    let seed = options.seed.unwrap_or_else(random_seed);
    // Split the cases evenly; the first workers take the remainder.
    let worker_cases: Vec<u32> = (0..jobs).map(|w| total / jobs as u32 + u32::from((w as u32) < total % jobs as u32)).collect();
    // Saved failures replay first, before any new case: with seeds saved, proptest goes first.
    let presort = !exhaustive && options.share_prefixes && !has_saved_seeds(options, property);
    let runners: Vec<TestRunner> = (0..jobs)
        .map(|worker| {
            TestRunner::new_with_rng(config(options, property, worker, worker_cases[worker]), rng(seed, options.shard, property, worker))
        })
        .collect();
    let blocks = if presort { presorted_blocks(universe, property, &runners, &worker_cases) } else { Vec::new() };
    let next_block = std::sync::atomic::AtomicUsize::new(0);
    let cases_shared = SharedCases::default();
    let prerun_done = std::sync::Barrier::new(jobs);
    let results: Vec<WorkerResult> = if exhaustive {
        vec![run_exhaustively(universe, property, options, expected, shared.clone())]
    } else {
        std::thread::scope(|scope| {
            let handles: Vec<_> = runners
                .into_iter()
                .map(|test_runner| {
                    let context = WorkerContext {
                        test_runner,
                        progress: shared.clone(),
                        target: total,
                        cases_shared: &cases_shared,
                        blocks: &blocks,
                        next_block: &next_block,
                        prerun_done: &prerun_done,
                    };
                    scope.spawn(move || run_worker(universe, property, options, expected, context))
                })
                .collect();
            handles.into_iter().map(|h| h.join().expect("a case worker panicked")).collect()
        })
    };
    if let Some(sink) = &options.progress {
        use std::sync::atomic::Ordering::Relaxed;
        (sink.0)(&Progress {
            property,
            cases: shared.cases.load(Relaxed),
            target: total,
            failed: shared.failed.load(Relaxed),
            elapsed: started.elapsed(),
            finished: true,
        });
    }
    let cases: u64 = results.iter().map(|r| r.cases).sum();
    let start_states: HashSet<_> = results.iter().flat_map(|r| r.start_states.iter().cloned()).collect();
    let orders: HashSet<_> = results.iter().flat_map(|r| r.orders.iter().cloned()).collect();
    let mut warnings: BTreeMap<String, Difference> = BTreeMap::new();
    let mut times: Vec<std::time::Duration> = Vec::new();
    let mut dump_times: Vec<std::time::Duration> = Vec::new();
    let mut warm_databases = 0;
    let mut recycled = 0;
    let mut first_failure = None;
    let mut first_error = None;
    let (mut unbuildable, mut unbuildable_reason) = (0, None);
    for result in results {
        warm_databases += result.warm_databases;
        recycled += result.recycled;
        warnings.extend(result.warnings);
        times.extend(result.unshared_case_times);
        dump_times.extend(result.dump_times);
        unbuildable += result.unbuildable.0;
        unbuildable_reason = unbuildable_reason.or(result.unbuildable.1);
        // The first worker's failure wins, so a seed gives one answer however the workers race.
        match result.outcome {
            Err(error) => first_error = first_error.or(Some(error)),
            Ok(Some(found)) if first_failure.is_none() => first_failure = Some(found),
            Ok(_) => {}
        }
    }
    // A counterexample one worker found stands even when another worker's server failed: an
    // infrastructure fault never hides a finding (and never is one).
    if let (Some(error), None) = (first_error, &first_failure) {
        return Err(error);
    }
    let median_ms = |mut times: Vec<std::time::Duration>| {
        times.sort();
        times.get(times.len() / 2).map(|d| d.as_secs_f64() * 1000.0)
    };
    let elapsed = started.elapsed();
    let judged = dump_times.len();
    let timing = Timing {
        elapsed_ms: elapsed.as_secs_f64() * 1000.0,
        amortized_ms: elapsed.as_secs_f64() * 1000.0 / cases.max(1) as f64,
        per_case_ms: median_ms(times),
        dump_ms: median_ms(dump_times),
        judged,
        warm_databases,
        recycled,
        jobs,
    };
    let warnings: Vec<Difference> = warnings.into_values().collect();
    let verdict = match first_failure {
        None if unbuildable > 0 => Verdict {
            property,
            status: VerdictStatus::Incomplete,
            summary: format!(
                "{}; {} of {cases} could not build their start state and proved nothing (first: {}); a dependency pgconverge does not see: declare it under [dependencies] in pgconverge.toml",
                coverage(property, cases - unbuildable, start_states.len(), orders.len()),
                plural(unbuildable as usize, "case"),
                unbuildable_reason.unwrap_or_default()
            ),
            cases,
            failure: None,
            case: None,
            timing: Some(timing),
            warnings,
            findings: vec![],
            not_reached: vec![],
        },
        None => Verdict {
            property,
            status: VerdictStatus::Pass,
            summary: coverage(property, cases, start_states.len(), orders.len()),
            cases,
            failure: None,
            case: None,
            timing: Some(timing),
            warnings,
            findings: vec![],
            not_reached: vec![],
        },
        Some((plan, failure)) => {
            let mut case = describe(universe, &plan, &failure);
            case.regressions = regressions_file(options, property);
            if universe.executor.runs_sql() {
                case.repro = write_repro(universe, property, &plan, &failure, options)?;
            }
            Verdict {
                property,
                status: VerdictStatus::Fail,
                summary: case.description.clone(),
                cases,
                failure: Some(failure),
                case: Some(case),
                timing: Some(timing),
                warnings,
                findings: vec![],
                not_reached: vec![],
            }
        }
    };
    Ok(verdict)
}

fn skipped(property: Property, summary: String) -> Verdict {
    Verdict {
        property,
        status: VerdictStatus::Skipped,
        summary,
        cases: 0,
        failure: None,
        case: None,
        timing: None,
        warnings: vec![],
        findings: vec![],
        not_reached: vec![],
    }
}

fn coverage(property: Property, cases: u64, start_states: usize, orders: usize) -> String {
    let cases = plural(cases as usize, "case");
    match property {
        Property::Partial => {
            format!("{cases} converged from {} (applied migrations and pre-existing objects)", plural(start_states, "distinct start state"))
        }
        Property::Order => format!("{cases} converged to the canonical catalog over {}", plural(orders, "distinct order")),
        _ => format!("{cases} converged after {}", plural(start_states, "distinct interruption")),
    }
}
