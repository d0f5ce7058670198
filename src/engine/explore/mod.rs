//! The generated properties (partial, order, interrupt): cases from `crate::generate`, run
//! against scratch databases, shrunk by proptest to a minimal counterexample, persisted as
//! proptest seeds and written out as a psql repro script.
//!
//! How `explore` runs one property:
//! - `Universe::build` (universe.rs) has replayed the canonical order once, dumping the catalog
//!   after every migration, to learn the dependencies and which migration makes each reference unit.
//! - The saved counterexamples replay first (saved.rs); one that still fails is the verdict.
//! - Otherwise the property's cases are one stream from (seed, shard, property) (stream.rs).
//!   The workers (workers.rs) pre-run it a chunk at a time, sorted so that neighbours share step
//!   prefixes, each in its warm database (sandbox.rs: one open transaction, a savepoint per step,
//!   a catalog dump compared with the reference at the end); outcomes are memoized (cases.rs).
//! - One worker reads the chunk in stream order; the first failure is shrunk by proptest and made
//!   1-minimal (minimize.rs), saved by name, described in words and written out as a repro
//!   script (describe.rs). None of it depends on how many workers there are.

mod cases;
mod describe;
mod exhaustive;
mod minimize;
mod sandbox;
mod saved;
mod stream;
mod universe;
mod workers;

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

use crate::compare::Difference;
use crate::generate::Granularity;
use crate::model::{plural, Property, Shard, Timing, Verdict, VerdictStatus};
use crate::runner::RunnerError;

use cases::SharedProgress;
use describe::{describe, write_repro};
use workers::{explore_generated, regressions_file, strategy, total_cases, Explored};

pub(crate) use universe::Universe;
pub(crate) use workers::has_saved_cases;
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
    /// Run only the saved counterexamples.
    pub(crate) replay_only: bool,
    /// Remove the saved counterexamples that now pass or are stale.
    pub(crate) prune: bool,
    /// Case runs spent shrinking a failure; `None`: `PROPTEST_MAX_SHRINK_ITERS`, else 256.
    pub(crate) max_shrink_iters: Option<u32>,
    /// Called after every case (the CLI draws a progress bar with it).
    pub(crate) progress: Option<ProgressSink>,
    /// Parallel workers per generated property, each with its own warm database.
    pub(crate) jobs: usize,
    /// Reuse the longest step prefix a case shares with the previous one (savepoints).
    pub(crate) share_prefixes: bool,
    /// Cancelled by the caller (Ctrl-C, SIGTERM): the check stops at the next step or case.
    pub(crate) cancel: tokio_util::sync::CancellationToken,
    /// The statement timeout of every session (`None`: the config's, else the default).
    pub(crate) statement_timeout: Option<std::time::Duration>,
    /// The lock timeout of every session (`None`: the config's, else the default).
    pub(crate) lock_timeout: Option<std::time::Duration>,
    /// Called with each property's verdict once it is decided (the CLI keeps them, so that a
    /// run that ends in an error still reports what it found).
    pub(crate) verdicts: Option<VerdictSink>,
}

/// Where a check hands each verdict as it is decided.
#[derive(Clone)]
pub(crate) struct VerdictSink(pub(crate) std::sync::Arc<dyn Fn(&Verdict) + Send + Sync>);

impl std::fmt::Debug for VerdictSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VerdictSink")
    }
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
            prune: false,
            max_shrink_iters: None,
            progress: None,
            jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
            share_prefixes: true,
            cancel: tokio_util::sync::CancellationToken::new(),
            statement_timeout: None,
            lock_timeout: None,
            verdicts: None,
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
            Property::Order if universe.unknown_sql.is_some() => {
                let runner = universe.project.runner_name();
                let why = universe.unknown_sql.as_deref().unwrap_or_default();
                format!("not applicable with runner = \"{runner}\": {why}, so dependencies between migrations cannot be inferred")
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
    let exhaustive = !generates_cases(&universe.project, universe.executor.as_ref(), property);
    let seed = options.seed.unwrap_or_else(random_seed);
    let (total, jobs, explored) = if exhaustive {
        let plans = exhaustive::plans(universe).len() as u32;
        let progress = std::sync::Arc::new(SharedProgress::default());
        let mut result = exhaustive::run_exhaustively(universe, property, options, expected, progress);
        let outcome = std::mem::replace(&mut result.outcome, Ok(None));
        let (found, error) = match outcome {
            Ok(found) => (found.map(|(plan, failure)| workers::Found::unshrunk(plan, failure)), None),
            Err(error) => (None, Some(error)),
        };
        (plans, 1, Explored { workers: vec![result], found, replayed: None, error })
    } else {
        let total = total_cases(options);
        (total, options.jobs.max(1).min(total.max(1) as usize), explore_generated(universe, property, options, expected, seed))
    };
    let Explored { workers: results, found, replayed, error } = explored;
    if let Some(sink) = &options.progress {
        (sink.0)(&Progress {
            property,
            cases: total as u64,
            target: total,
            failed: u64::from(found.is_some()),
            elapsed: started.elapsed(),
            finished: true,
        });
    }
    // A counterexample stands even when the server failed afterwards: an infrastructure fault
    // never hides a finding (and never is one).
    if let (Some(error), None) = (error, &found) {
        return Err(error);
    }
    let cases: u64 = results.iter().map(|r| r.cases).sum();
    let start_states: HashSet<_> = results.iter().flat_map(|r| r.start_states.iter().cloned()).collect();
    let orders: HashSet<_> = results.iter().flat_map(|r| r.orders.iter().cloned()).collect();
    let mut warnings: BTreeMap<String, Difference> = BTreeMap::new();
    let mut times: Vec<std::time::Duration> = Vec::new();
    let mut dump_times: Vec<std::time::Duration> = Vec::new();
    let mut warm_databases = 0;
    let mut recycled = 0;
    let (mut unbuildable, mut unbuildable_reason) = (0, None);
    for result in results {
        warm_databases += result.warm_databases;
        recycled += result.recycled;
        warnings.extend(result.warnings);
        times.extend(result.unshared_case_times);
        dump_times.extend(result.dump_times);
        unbuildable += result.unbuildable.0;
        unbuildable_reason = unbuildable_reason.or(result.unbuildable.1);
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
    let (status, summary, failure, case) = match found {
        None if unbuildable > 0 => (
            VerdictStatus::Incomplete,
            format!(
                "{}; {} of {cases} could not build their start state and proved nothing (first: {}); a dependency pgconverge does not see: declare it under [dependencies] in pgconverge.toml",
                coverage(property, cases - unbuildable, start_states.len(), orders.len()),
                plural(unbuildable as usize, "case"),
                unbuildable_reason.unwrap_or_default()
            ),
            None,
            None,
        ),
        None => (VerdictStatus::Pass, coverage(property, cases, start_states.len(), orders.len()), None, None),
        Some(found) => {
            let mut case = describe(universe, &found);
            case.regressions = regressions_file(options, property).filter(|_| !exhaustive);
            // A script needs the SQL: pgconverge's own, or what a framework driver recorded.
            // Writing it may fail (a framework case runs again to record its SQL): the finding
            // stands without it, and says why.
            if universe.executor.runs_sql() || universe.project.framework.is_some() {
                match write_repro(universe, property, &found.minimal.plan, &found.failure, options) {
                    Ok(path) => case.repro = path,
                    Err(error) => case.description.push_str(&format!(" (no repro script: {error})")),
                }
            }
            (VerdictStatus::Fail, case.description.clone(), Some(found.failure), Some(case))
        }
    };
    let verdict = Verdict { cases, failure, case, timing: Some(timing), warnings, replayed, ..Verdict::new(property, status, summary) };
    Ok(verdict)
}

/// Whether `property`'s cases are generated from a seed (shrunk, saved and replayed), or are a
/// fixed list, all run (exhaustive.rs): the list for a migrator pgconverge does not run itself,
/// except order with a framework driver, whose steps cost milliseconds and which reports the
/// SQL they sent.
pub(crate) fn generates_cases(
    project: &crate::project::Project,
    executor: &dyn crate::engine::executor::Executor,
    property: Property,
) -> bool {
    executor.runs_sql() || (property == Property::Order && project.framework.is_some())
}

fn skipped(property: Property, summary: String) -> Verdict {
    Verdict::new(property, VerdictStatus::Skipped, summary)
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
