//! What a check found: the verdict of each property, the counterexample, and the report.
//! `report/` depends on these types alone.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::catalog::ObjectKind;
use crate::compare::Difference;
use crate::migration::Location;
use crate::runner::PgError;

/// A property of a migration set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Property {
    /// The canonical order applied to an empty database succeeds and equals the reference.
    Fresh,
    /// On the migrated database, every re-entrant migration runs again, succeeds, and changes nothing.
    Idempotent,
    /// From any generated start state (applied, pre-existing), the pending migrations converge.
    Partial,
    /// Every dependency-respecting order converges to the canonical catalog.
    Order,
    /// A run that resumes after a non-transactional migration stopped at any statement converges.
    Interrupt,
    /// Up then down restores the catalog; all downs restore an empty database.
    Reversible,
}

impl Property {
    /// Every property, in the order a check runs them.
    pub const ALL: [Property; 6] =
        [Property::Fresh, Property::Idempotent, Property::Partial, Property::Order, Property::Interrupt, Property::Reversible];

    /// The property's name in the CLI, the config and the reports (`fresh`, `order`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Property::Fresh => "fresh",
            Property::Idempotent => "idempotent",
            Property::Partial => "partial",
            Property::Order => "order",
            Property::Interrupt => "interrupt",
            Property::Reversible => "reversible",
        }
    }

    /// Properties whose cases are generated (and shrunk, persisted, replayed).
    pub fn is_generated(self) -> bool {
        matches!(self, Property::Partial | Property::Order | Property::Interrupt)
    }
}

impl std::fmt::Display for Property {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Property {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Property::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| format!("unknown property `{s}` (expected one of: fresh, idempotent, partial, order, interrupt, reversible)"))
    }
}

/// What a property's verdict says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum VerdictStatus {
    /// The property holds for every case that ran.
    Pass,
    /// The property does not hold: the verdict carries a counterexample.
    Fail,
    /// Not applicable to this project (no re-entrant migrations), or blocked by an earlier failure.
    Skipped,
    /// Could not run all of its cases (start states that could not be built, or the server
    /// failed part way): what it covered is in the summary, and it proves nothing beyond that.
    Incomplete,
}

/// Why a property does not hold: the counterexample.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Failure {
    /// A statement of a migration failed.
    StatementFailed {
        /// The failing migration's id (`<version>_<name>`).
        migration: String,
        /// 1-based index of the statement in its migration.
        statement: usize,
        /// Where the error is in the migration file (the server's error position, when given).
        location: Location,
        /// The statement that failed.
        sql: String,
        /// What the server said.
        error: PgError,
    },
    /// Every statement succeeded, but the catalog is not what it should be.
    Diverged {
        /// What the catalog was compared with.
        expected: String,
        /// What differs, object by object.
        differences: Vec<Difference>,
        /// The canonical text of the differing objects on the expected side.
        #[serde(skip)]
        expected_text: String,
        /// The canonical text of the differing objects as found.
        #[serde(skip)]
        found_text: String,
        /// Where the SQL behind each difference is, for the differences it could be traced for
        /// (in the differences' order): filled in by the check, which knows the project.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        origins: Vec<Origin>,
    },
}

#[cfg(test)]
impl Failure {
    /// A divergence from the reference that carries only its differences.
    pub(crate) fn diverged_from_reference(differences: Vec<Difference>) -> Failure {
        Failure::Diverged {
            expected: "the reference".into(),
            differences,
            expected_text: String::new(),
            found_text: String::new(),
            origins: vec![],
        }
    }
}

impl Failure {
    /// Where the SQL behind the first traced difference is (none for a failed statement, whose
    /// location says where it is).
    pub fn first_origin(&self) -> Option<&Origin> {
        match self {
            Failure::StatementFailed { .. } => None,
            Failure::Diverged { differences, origins, .. } => {
                differences.iter().find_map(|d| origins.iter().find(|o| o.kind == d.kind && o.object == d.object))
            }
        }
    }
}

/// The statement a difference comes from: the last statement of the migrations, in canonical
/// order, that creates, alters or drops the differing object; else, when no migration writes
/// it, the reference schema's statement that creates it; failing both (an object no statement
/// names, such as an unnamed index), the same for the table it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Origin {
    /// The differing object's kind, as in its [`Difference`].
    pub kind: ObjectKind,
    /// The differing object's name, as in its [`Difference`].
    pub object: String,
    /// The migration (id) whose statement it is; `None` for the reference schema's statement.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub migration: Option<String>,
    /// The statement's file, and the line and column it starts at.
    pub location: Location,
}

/// What a check found about one property.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    /// The property judged.
    pub property: Property,
    /// Whether it holds.
    pub status: VerdictStatus,
    /// What was proved, what failed, or why the property was skipped, in a sentence.
    pub summary: String,
    /// How many cases (start state and order) were run.
    pub cases: u64,
    /// The counterexample, when the property does not hold.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
    /// For a generated property: the minimal case that fails.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub case: Option<CaseReport>,
    /// For a generated property: wall time, and what a case cost.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timing: Option<Timing>,
    /// Differences that do not fail the property (a column order, unless `strict_column_order`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<Difference>,
    /// For a generated property: what replaying its saved counterexamples found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replayed: Option<Replayed>,
    /// For the properties that judge migrations one by one (fresh, idempotent, reversible):
    /// every migration that fails, in canonical order. When not empty, `failure` is the first
    /// one's (kept for readers of the single counterexample).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<MigrationFinding>,
    /// Migrations the property could not check because an earlier failure left no state to
    /// check them from (ids, in canonical order): the ones after a migration that fails on an
    /// empty database. Neither passed nor failed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_reached: Vec<String>,
    /// Migrations the property does not apply to (ids, in canonical order): for reversible,
    /// the ones without a down. Neither passed nor failed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_applicable: Vec<String>,
}

impl Verdict {
    /// A verdict with nothing but its property, status and summary: no cases, no
    /// counterexample, no timing (the rest is set field by field).
    pub fn new(property: Property, status: VerdictStatus, summary: String) -> Verdict {
        Verdict {
            property,
            status,
            summary,
            cases: 0,
            failure: None,
            case: None,
            timing: None,
            warnings: vec![],
            replayed: None,
            findings: vec![],
            not_reached: vec![],
            not_applicable: vec![],
        }
    }
}

/// What replaying a property's saved counterexamples found (they run before any new case).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Replayed {
    /// The file they are saved in.
    pub file: PathBuf,
    /// How many were saved.
    pub saved: usize,
    /// How many still fail (the first is the verdict's counterexample).
    pub still_failing: usize,
    /// How many now pass.
    pub passing: usize,
    /// Why each stale entry no longer means a case (`line 4: it names migration 0003_x, which
    /// is no longer in the project`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stale: Vec<String>,
    /// How many passing or stale entries `replay --prune` removed.
    pub pruned: usize,
}

impl Replayed {
    /// `3 saved cases replayed: 1 still fails, 2 pass (replay --prune removes them)`.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        if self.still_failing > 0 {
            parts.push(format!("{} still {}", self.still_failing, if self.still_failing == 1 { "fails" } else { "fail" }));
        }
        if self.passing > 0 {
            parts.push(format!("{} {}", self.passing, if self.passing == 1 { "passes" } else { "pass" }));
        }
        if !self.stale.is_empty() {
            parts.push(format!("{} stale", self.stale.len()));
        }
        let removable = self.passing + self.stale.len();
        let tail = if self.pruned > 0 {
            format!("; {} pruned from {}", self.pruned, self.file.display())
        } else if removable > 0 {
            format!(" (`pgconverge replay --prune` removes the {removable} from {})", self.file.display())
        } else {
            String::new()
        };
        format!("{} replayed: {}{tail}", plural(self.saved, "saved case"), parts.join(", "))
    }
}

/// One migration that fails a property judged migration by migration: a re-entrant migration
/// whose re-run fails or changes the catalog, a down that fails or leaves a trace, a migration
/// that fails on an empty database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MigrationFinding {
    /// The migration's id (`<version>_<name>`).
    pub migration: String,
    /// The migration's file (its up script): where a finding without a failed statement points.
    pub file: PathBuf,
    /// What went wrong, in a sentence that names the migration.
    pub summary: String,
    /// The counterexample: the failed statement, or what the catalog gained or lost.
    pub failure: Failure,
}

/// A report's outcome. Declared from the least to the most severe, so that several reports (a
/// `--pg` matrix) combine by `max`: a counterexample on one major decides the whole run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Status {
    /// Every property holds.
    Converges,
    /// Every property holds, but some objects differ from one run of the same SQL to the next.
    Nondeterministic,
    /// No property fails, but at least one could not run all of its cases.
    Incomplete,
    /// At least one property does not hold.
    Counterexample,
}

impl Status {
    /// The documented exit code (README, "Exit codes").
    pub fn exit_code(self) -> u8 {
        match self {
            Status::Converges => 0,
            Status::Counterexample => 1,
            // Could not decide: some property did not run all of its cases.
            Status::Incomplete => 3,
            Status::Nondeterministic => 4,
        }
    }

    /// The status as the JSON report and the GitHub summary spell it (`converges`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Status::Converges => "converges",
            Status::Nondeterministic => "nondeterministic",
            Status::Incomplete => "incomplete",
            Status::Counterexample => "counterexample",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The outcome of a check of one project on one server: a verdict per property.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The outcome, decided by the verdicts.
    pub status: Status,
    /// The project directory.
    pub project: PathBuf,
    /// The migration format's name (`sqlx`, `flyway`, ...), or `command` when the project's own
    /// migrator runs them.
    pub format: String,
    /// The file that decided the format, when it was detected rather than configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format_detection: Option<crate::migration::Detection>,
    /// How many migrations the project has.
    pub migrations: usize,
    /// The migrations' ids (`<version>_<name>`), in canonical order.
    pub migration_ids: Vec<String>,
    /// The reference schema file, or `None` when the canonical fresh run is the reference.
    pub reference: Option<PathBuf>,
    /// The server the check ran on, in words (never with a password).
    pub backend: String,
    /// Which backend was chosen and why (`embedded: PostgreSQL 15 binaries found in
    /// /usr/lib/postgresql/15/bin`, `container: asked with --backend container`); `None` when the
    /// caller started the backend itself (an [`engine::Checker`](crate::engine::Checker)).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend_reason: Option<String>,
    /// The server's version, e.g. `15.18`.
    pub server_version: String,
    /// The server's major version (one report per major in a `--pg` matrix).
    pub major: u32,
    /// Objects in the reference catalog (after ignored objects are left out).
    pub reference_objects: usize,
    /// The base seed of the generated properties (`--seed` reruns the same cases).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// The slice of the cases this run did (`--shard i/n`); with `seed`, what reruns them.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "shard_text")]
    pub shard: Option<Shard>,
    /// Objects that differ between two runs of the same SQL (a view that froze `now()`): a
    /// finding of their own, left out of every comparison.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nondeterministic: Vec<String>,
    /// What the reader should know about how the project was read (files left out on purpose).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// One verdict per property checked, in the order they ran.
    pub verdicts: Vec<Verdict>,
}

impl Report {
    /// Every property holds and every object is deterministic: exactly when `pgconverge check`
    /// exits 0 (nondeterministic objects exit 4, so a library test fails where CI would).
    pub fn converges(&self) -> bool {
        self.status == Status::Converges
    }

    /// The verdicts of the properties that do not hold.
    pub fn failures(&self) -> impl Iterator<Item = &Verdict> {
        self.verdicts.iter().filter(|v| v.status == VerdictStatus::Fail)
    }
}

/// `1 migration`, `2 migrations`, `2 properties`, `2 indexes`: the count and the noun, whose
/// last word takes the plural. A qualifier after the noun goes outside the call:
/// `format!("{} with a down", plural(n, "migration"))`.
pub(crate) fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {}", plural_noun(noun))
    }
}

/// The plural of `noun` (its last word): `-y` after a consonant becomes `-ies`, `-x`, `-ch`
/// and `-sh` take `-es`, a word already ending in `s` (`statistics`, `default privileges`)
/// stays, anything else takes `-s`.
pub(crate) fn plural_noun(noun: &str) -> String {
    let consonant_y = noun.strip_suffix('y').filter(|stem| stem.chars().next_back().is_some_and(|c| !"aeiou".contains(c)));
    if let Some(stem) = consonant_y {
        format!("{stem}ies")
    } else if noun.ends_with('s') {
        noun.to_string()
    } else if noun.ends_with('x') || noun.ends_with("ch") || noun.ends_with("sh") {
        format!("{noun}es")
    } else {
        format!("{noun}s")
    }
}

/// `1 property fails`, `2 properties fail`: a count, its noun and a verb that agrees (`verb`
/// in the singular, `fails`; the plural drops its final `s`).
pub(crate) fn count_with_verb(n: usize, noun: &str, verb: &str) -> String {
    format!("{} {}", plural(n, noun), agreeing(n, verb))
}

/// `verb` (given in the singular) agreeing with a count: `fails` for 1, `fail` for 0 or 2;
/// `is`/`are`, `has`/`have`, `was`/`were`; a verb without a final `s` (`could`) stays.
pub(crate) fn agreeing(n: usize, verb: &str) -> &str {
    if n == 1 {
        return verb;
    }
    match verb {
        "is" => "are",
        "has" => "have",
        "was" => "were",
        _ => verb.strip_suffix('s').unwrap_or(verb),
    }
}

/// The minimal counterexample of a generated property, in the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaseReport {
    /// The case and what went wrong, in words.
    pub description: String,
    /// The migrations applied in the start state (ids).
    pub applied: Vec<String>,
    /// The reference objects or re-entrant migrations that pre-existed in the start state.
    pub preexisting: Vec<String>,
    /// The migration a previous run stopped part way, and after how many statements.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interrupted: Option<String>,
    /// The pending migrations, in the order they ran.
    pub order: Vec<String>,
    /// Pairs `[later, earlier]`: `later` (canonically) ran before `earlier`, counting the
    /// applied migrations as having run first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub out_of_order: Vec<[String; 2]>,
    /// A migration that needs another it does not declare, when the case shows one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hidden_dependency: Option<HiddenDependency>,
    /// The migrations the minimal case implicates: the one that fails or diverges, both sides
    /// of an order-dependent pair, the interrupted one (ids).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub blamed: Vec<String>,
    /// The proptest seed file that replays it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub regressions: Option<PathBuf>,
    /// The SQL script that reproduces the case with `psql -f` on an empty database.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repro: Option<PathBuf>,
}

/// A migration that fails when it runs before another that is not declared or inferred as its
/// dependency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HiddenDependency {
    /// The migration that fails (id).
    pub migration: String,
    /// The migrations it needs to run after (ids).
    pub needs: Vec<String>,
    /// The config line that declares it: `[dependencies] "<version>" = ["<version>", ...]`.
    pub declare: String,
}

impl HiddenDependency {
    /// The two fixes, in a sentence.
    pub fn fixes(&self) -> String {
        format!("declare it in pgconverge.toml ({}) or make {} robust to running first", self.declare, self.migration)
    }
}

/// How long a generated property took, and what a case cost.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Timing {
    /// Wall time of the whole property, in milliseconds.
    pub elapsed_ms: f64,
    /// Wall time over cases: what a case costs with shared prefixes and memoized states.
    pub amortized_ms: f64,
    /// The median wall time of a case that shared nothing with an earlier one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_case_ms: Option<f64>,
    /// The median wall time of one catalog dump (part of every case that was not memoized).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dump_ms: Option<f64>,
    /// States judged: cases whose end state was dumped and compared (the rest were memoized).
    pub judged: usize,
    /// Warm databases used: one per worker that ran a sandboxed case.
    pub warm_databases: u32,
    /// Times a warm database was recycled: its transaction rolled back and the database
    /// vacuumed, every 64 cases of a worker (16 with `--no-share`).
    pub recycled: u32,
    /// Workers that ran cases in parallel.
    pub jobs: usize,
}

fn shard_text<S: serde::Serializer>(shard: &Option<Shard>, serializer: S) -> Result<S::Ok, S::Error> {
    match shard {
        Some(shard) => serializer.serialize_str(&shard.to_string()),
        None => serializer.serialize_none(),
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// `--shard i/n`: this runner does the i-th (1-based) of n deterministic slices of the work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Shard {
    /// Which slice, from 1.
    pub index: u32,
    /// How many slices.
    pub count: u32,
}

impl std::str::FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (i, n) = s.split_once('/').ok_or_else(|| format!("shard `{s}` is not i/n"))?;
        let index: u32 = i.trim().parse().map_err(|_| format!("shard `{s}`: `{i}` is not a number"))?;
        let count: u32 = n.trim().parse().map_err(|_| format!("shard `{s}`: `{n}` is not a number"))?;
        if count == 0 || index == 0 || index > count {
            return Err(format!("shard `{s}`: need 1 <= i <= n"));
        }
        Ok(Shard { index, count })
    }
}

/// What may pre-exist: single reference objects, or the whole effect of re-entrant migrations.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Granularity {
    /// A re-entrant migration's whole effect pre-exists, or none of it.
    #[default]
    Migration,
    /// Any subset of the re-entrant migrations' objects pre-exists (a table without its indexes).
    Object,
}

impl std::str::FromStr for Granularity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "migration" => Ok(Granularity::Migration),
            "object" => Ok(Granularity::Object),
            other => Err(format!("unknown granularity `{other}` (expected migration or object)")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{agreeing, count_with_verb, plural, Status};

    #[test]
    fn counts_agree_with_their_nouns_and_verbs() {
        assert_eq!(plural(1, "job"), "1 job");
        assert_eq!(plural(2, "job"), "2 jobs");
        assert_eq!(plural(0, "migration"), "0 migrations");
        assert_eq!(format!("{} with a down", plural(21, "migration")), "21 migrations with a down");
        assert_eq!(format!("{} with a down", plural(1, "migration")), "1 migration with a down");
        assert_eq!(plural(2, "property"), "2 properties");
        assert_eq!(plural(2, "key"), "2 keys");
        assert_eq!(plural(3, "index"), "3 indexes");
        assert_eq!(plural(2, "materialized view"), "2 materialized views");
        assert_eq!(plural(2, "statistics"), "2 statistics");
        assert_eq!(plural(2, "default privileges"), "2 default privileges");
        assert_eq!(plural(2, "re-entrant migration"), "2 re-entrant migrations");
        assert_eq!(count_with_verb(1, "property", "fails"), "1 property fails");
        assert_eq!(count_with_verb(6, "property", "fails"), "6 properties fail");
        assert_eq!(count_with_verb(2, "object", "differs"), "2 objects differ");
        assert_eq!(count_with_verb(1, "object", "differs"), "1 object differs");
        assert_eq!(count_with_verb(2, "property", "is"), "2 properties are");
        assert_eq!(count_with_verb(2, "property", "could"), "2 properties could");
        assert_eq!(agreeing(0, "fails"), "fail");
    }

    #[test]
    fn statuses_order_by_severity_and_map_to_the_documented_exit_codes() {
        let mut statuses = [Status::Counterexample, Status::Converges, Status::Incomplete, Status::Nondeterministic];
        statuses.sort();
        assert_eq!(statuses, [Status::Converges, Status::Nondeterministic, Status::Incomplete, Status::Counterexample]);
        assert_eq!(statuses.map(Status::exit_code), [0, 4, 3, 1]);
    }
}
