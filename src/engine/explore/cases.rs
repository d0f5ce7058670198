//! The case runner of one worker: runs cases as proptest (or the pre-run) asks for them,
//! memoizes outcomes across the workers of a property, counts coverage and reports progress.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use crate::catalog::Catalog;
use crate::compare::Difference;
use crate::generate::{self, Plan};
use crate::model::{Failure, Property};
use crate::runner::RunnerError;

use super::sandbox::{run_case, CaseOutcome, Judge, WarmSlot};
use super::universe::Universe;
use super::{Progress, ProgressSink};

type SharedMap<V> = std::sync::Arc<std::sync::Mutex<HashMap<Plan, V>>>;

/// What the workers of one property share: the outcomes of the plans run so far.
#[derive(Default)]
pub(super) struct SharedCases {
    memo: SharedMap<CaseOutcome>,
}

/// A lock that outlives a panicked holder (the maps stay consistent: each update is one insert).
fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Counters shared by the workers of one property, for the progress bar.
#[derive(Default)]
pub(super) struct SharedProgress {
    pub(super) cases: std::sync::atomic::AtomicU64,
    pub(super) failed: std::sync::atomic::AtomicU64,
}

/// Runs cases on one thread with a runtime of its own (proptest's runner is synchronous).
pub(super) struct CaseRunner<'u> {
    universe: &'u Universe,
    runtime: tokio::runtime::Runtime,
    judge: Judge,
    warm: WarmSlot,
    share_prefixes: bool,
    /// Outcomes of the plans run so far, shared by the workers of a property.
    memo: SharedMap<CaseOutcome>,
    warnings: BTreeMap<String, Difference>,
    start_states: HashSet<(BTreeSet<usize>, BTreeSet<usize>, Option<generate::Interruption>)>,
    orders: HashSet<Vec<usize>>,
    cases: u64,
    /// Wall time of cases that shared no prefix with an earlier one and were not memoized.
    unshared_case_times: Vec<std::time::Duration>,
    pub(super) infrastructure: Option<RunnerError>,
    /// Cases whose start state could not be built, and the first reason.
    unbuildable: (u64, Option<String>),
    pub(super) progress: Option<(ProgressSink, Property, u32, std::time::Instant, std::sync::Arc<SharedProgress>)>,
    pub(super) cancel: tokio_util::sync::CancellationToken,
}

impl<'u> CaseRunner<'u> {
    pub(super) fn new(universe: &'u Universe, share_prefixes: bool, shared: &SharedCases) -> Result<Self, RunnerError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|source| RunnerError::Runtime { purpose: "a case runtime", source })?;
        Ok(CaseRunner {
            universe,
            runtime,
            judge: Judge::default(),
            warm: WarmSlot::new(share_prefixes),
            share_prefixes,
            memo: shared.memo.clone(),
            warnings: BTreeMap::new(),
            start_states: HashSet::new(),
            orders: HashSet::new(),
            cases: 0,
            unshared_case_times: Vec::new(),
            infrastructure: None,
            unbuildable: (0, None),
            progress: None,
            cancel: tokio_util::sync::CancellationToken::new(),
        })
    }

    /// Runs one case (or looks it up), counting it in the coverage when `count`; `None` once the run has
    /// stopped (cancelled, or a harness failure, which is recorded).
    pub(super) fn evaluate(&mut self, plan: &Plan, expected: &Catalog, count: bool) -> Option<CaseOutcome> {
        if self.cancel.is_cancelled() && self.infrastructure.is_none() {
            self.infrastructure = Some(RunnerError::Interrupted);
        }
        if self.infrastructure.is_some() {
            return None;
        }
        if count {
            self.cases += 1;
            self.start_states.insert((plan.applied.clone(), plan.preexisting.clone(), plan.interrupted.clone()));
            self.orders.insert(plan.order.clone());
        }
        let memoized = lock(&self.memo).get(plan).cloned();
        let outcome = match memoized {
            Some(outcome) => Ok(outcome),
            None => {
                let started = std::time::Instant::now();
                let universe = self.universe;
                let (judge, warm, share) = (&mut self.judge, &mut self.warm, self.share_prefixes);
                let result = self.runtime.block_on(run_case(universe, judge, warm, share, plan, expected));
                if let Ok((outcome, shared)) = &result {
                    if *shared == 0 {
                        self.unshared_case_times.push(started.elapsed());
                    }
                    lock(&self.memo).insert(plan.clone(), outcome.clone());
                }
                result.map(|(outcome, _)| outcome)
            }
        };
        match outcome {
            Ok(outcome) => {
                if count {
                    if let CaseOutcome::Converged { warnings } = &outcome {
                        for warning in warnings {
                            self.warnings.entry(warning.to_string()).or_insert_with(|| warning.clone());
                        }
                    }
                    if let CaseOutcome::Invalid(reason) = &outcome {
                        self.unbuildable.0 += 1;
                        self.unbuildable.1.get_or_insert_with(|| reason.clone());
                    }
                }
                Some(outcome)
            }
            Err(error) => {
                self.infrastructure = Some(error);
                None
            }
        }
    }

    /// The failure a plan that already ran ended in.
    pub(super) fn failure_of(&self, plan: &Plan) -> Option<Failure> {
        match lock(&self.memo).get(plan) {
            Some(CaseOutcome::Failed(failure)) => Some(failure.clone()),
            _ => None,
        }
    }

    /// Reports a case run (or a shrinking step) to the progress sink.
    pub(super) fn tick(&self, failed_now: bool) {
        if let Some((sink, property, target, started, shared)) = &self.progress {
            use std::sync::atomic::Ordering::Relaxed;
            let cases = shared.cases.fetch_add(1, Relaxed) + 1;
            let failed = shared.failed.fetch_add(u64::from(failed_now), Relaxed) + u64::from(failed_now);
            (sink.0)(&Progress { property: *property, cases, target: *target, failed, elapsed: started.elapsed(), finished: false });
        }
    }

    /// What the worker found, its warm database dropped.
    pub(super) fn finish(mut self, outcome: Result<Option<(Plan, Failure)>, RunnerError>) -> WorkerResult {
        let result = WorkerResult {
            cases: self.cases,
            start_states: std::mem::take(&mut self.start_states),
            orders: std::mem::take(&mut self.orders),
            warnings: std::mem::take(&mut self.warnings),
            unshared_case_times: std::mem::take(&mut self.unshared_case_times),
            dump_times: std::mem::take(&mut self.judge.dump_times),
            warm_databases: self.warm.databases(),
            recycled: self.warm.recycled,
            unbuildable: std::mem::take(&mut self.unbuildable),
            outcome,
        };
        let _ = self.runtime.block_on(self.warm.close());
        result
    }
}

/// What one worker found.
pub(super) struct WorkerResult {
    pub(super) cases: u64,
    pub(super) start_states: HashSet<(BTreeSet<usize>, BTreeSet<usize>, Option<generate::Interruption>)>,
    pub(super) orders: HashSet<Vec<usize>>,
    pub(super) warnings: BTreeMap<String, Difference>,
    pub(super) unshared_case_times: Vec<std::time::Duration>,
    pub(super) dump_times: Vec<std::time::Duration>,
    pub(super) warm_databases: u32,
    pub(super) recycled: u32,
    /// Cases whose start state could not be built, and the first reason.
    pub(super) unbuildable: (u64, Option<String>),
    pub(super) outcome: Result<Option<(Plan, Failure)>, RunnerError>,
}

impl WorkerResult {
    /// A worker that could not start.
    pub(super) fn failed(error: RunnerError) -> WorkerResult {
        WorkerResult {
            cases: 0,
            start_states: HashSet::new(),
            orders: HashSet::new(),
            warnings: BTreeMap::new(),
            unshared_case_times: vec![],
            dump_times: vec![],
            warm_databases: 0,
            recycled: 0,
            unbuildable: (0, None),
            outcome: Err(error),
        }
    }
}
