//! The machine-readable report formats (JUnit XML, GitHub Actions annotations) and the
//! migration × property table, on reports built by hand: no server needed.
//!
//! JUnit documents are parsed by Python's standard library (`xml.etree`), which rejects any
//! document that is not well-formed, checked against the structure of the JUnit schema
//! (`tests/data/junit.xsd`), and validated against that XSD with the `xmlschema` Python package.
//! Those tests are the `python-tests` tier (`cargo test --features python-tests`): they need
//! python3 and xmlschema, and fail saying so when either is missing. The snapshots, the GitHub
//! annotations and the table need nothing.

mod common;

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use pgconverge::compare::{Change, Difference, Severity};
use pgconverge::migration::Location;
use pgconverge::model::{CaseReport, HiddenDependency, MigrationFinding, Origin, Timing};
use pgconverge::model::{Failure, Property, Report, Status, Verdict, VerdictStatus};
use pgconverge::report::{github, junit, junit_many, more_findings, table, Stopped, Unfinished};
use pgconverge::runner::PgError;
use pgconverge::ObjectKind;
use serde_json::Value;

const GUARD_FILE: &str = "fixtures/divergent/guard_wrong_name/migrations/20260216000001_create_ai_provider_configs.sql";
const GUARD_MIGRATION: &str = "20260216000001_create_ai_provider_configs";

// ---------------------------------------------------------------------------------------------
// Reports

fn ids(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn report(project: &str, migration_ids: &[&str], reference: Option<&str>, verdicts: Vec<Verdict>) -> Report {
    let status = if verdicts.iter().any(|v| v.status == VerdictStatus::Fail) {
        Status::Counterexample
    } else if verdicts.iter().any(|v| v.status == VerdictStatus::Incomplete) {
        Status::Incomplete
    } else {
        Status::Converges
    };
    Report {
        status,
        project: PathBuf::from(project),
        format: "sqlx".into(),
        format_detection: None,
        migrations: migration_ids.len(),
        migration_ids: ids(migration_ids),
        reference: reference.map(PathBuf::from),
        backend: "embedded PostgreSQL 15.18 (/usr/local/bin)".into(),
        backend_reason: None,
        server_version: "15.18".into(),
        major: 15,
        reference_objects: 63,
        seed: None,
        shard: None,
        nondeterministic: vec![],
        notes: vec![],
        verdicts,
    }
}

fn verdict(property: Property, status: VerdictStatus, summary: &str) -> Verdict {
    Verdict { cases: if status == VerdictStatus::Skipped { 0 } else { 1 }, ..Verdict::new(property, status, summary.into()) }
}

fn failing(property: Property, summary: &str, failure: Failure) -> Verdict {
    Verdict { failure: Some(failure), ..verdict(property, VerdictStatus::Fail, summary) }
}

fn column_difference(object: &str, attribute: &str, expected: &str, found: &str, severity: Severity) -> Difference {
    Difference {
        kind: ObjectKind::Column,
        object: object.into(),
        change: Change::Attribute { attribute: attribute.into(), expected: Some(expected.into()), found: Some(found.into()) },
        severity,
        dependents: 0,
    }
}

const GUARD_IDS: [&str; 4] =
    ["20260105090000_create_tenants", "20260112103000_create_users", "20260120141500_create_courses", GUARD_MIGRATION];

/// Every property holds; fresh reports a column-order warning.
fn converging() -> Report {
    let mut fresh = verdict(
        Property::Fresh,
        VerdictStatus::Pass,
        "10 migrations applied in order to an empty database; the catalog equals fixtures/k12_lms/schema.sql (210 objects)",
    );
    fresh.warnings.push(Difference {
        kind: ObjectKind::Table,
        object: "public.enrollments".into(),
        change: Change::Attribute {
            attribute: "column_order".into(),
            expected: Some("id, course_id, user_id".into()),
            found: Some("id, user_id, course_id".into()),
        },
        severity: Severity::Warning,
        dependents: 0,
    });
    let mut order = verdict(Property::Order, VerdictStatus::Pass, "64 cases converged to the canonical catalog over 17 distinct orders");
    order.cases = 64;
    let mut r = report(
        "fixtures/k12_lms",
        &["20260101000000_create_schools", "20260102000000_create_courses"],
        Some("fixtures/k12_lms/schema.sql"),
        vec![
            fresh,
            verdict(
                Property::Idempotent,
                VerdictStatus::Pass,
                "7 re-entrant migrations re-run on the migrated database: all succeeded and the catalog is unchanged",
            ),
            order,
        ],
    );
    r.reference_objects = 210;
    r.seed = Some(1234);
    r
}

/// The guard checks the wrong name: re-running the migration fails (as
/// `fixtures/divergent/guard_wrong_name` does).
fn statement_failed() -> Report {
    let failure = Failure::StatementFailed {
        migration: GUARD_MIGRATION.into(),
        statement: 1,
        location: Location { file: GUARD_FILE.into(), line: 9, column: 5 },
        sql: "DO $$\nBEGIN\n    IF to_regclass('public.ai_provider_config') IS NOT NULL THEN\n        RETURN;\n    END IF;\n    CREATE TABLE ai_provider_configs (id bigserial PRIMARY KEY);\nEND\n$$".into(),
        error: PgError {
            code: "42P07".into(),
            message: "relation \"ai_provider_configs\" already exists".into(),
            detail: None,
            hint: None,
            context: Some("SQL statement \"CREATE TABLE ai_provider_configs (id bigserial PRIMARY KEY)\"\nPL/pgSQL function inline_code_block line 7 at SQL statement".into()),
            position: None,
        },
    };
    report(
        "fixtures/divergent/guard_wrong_name",
        &GUARD_IDS,
        Some("fixtures/divergent/guard_wrong_name/schema.sql"),
        vec![
            verdict(
                Property::Fresh,
                VerdictStatus::Pass,
                "4 migrations applied in order to an empty database; the catalog equals fixtures/divergent/guard_wrong_name/schema.sql (63 objects)",
            ),
            failing(
                Property::Idempotent,
                &format!("re-running {GUARD_MIGRATION} on the migrated database failed"),
                failure,
            ),
        ],
    )
}

/// The fresh catalog differs from the reference; the properties after it are skipped.
fn diverged() -> Report {
    let failure = Failure::Diverged {
        expected: "fixtures/divergent/default_mismatch/schema.sql".into(),
        differences: vec![
            column_difference("public.ai_provider_configs.status", "default", "'inactive'::varchar", "'active'::varchar", Severity::Error),
            column_difference("public.ai_provider_configs.api_key", "not_null", "true", "false", Severity::Error),
        ],
        expected_text: "column public.ai_provider_configs.status\n  default: 'inactive'::varchar\n".into(),
        found_text: "column public.ai_provider_configs.status\n  default: 'active'::varchar\n".into(),
        origins: vec![],
    };
    report(
        "fixtures/divergent/default_mismatch",
        &GUARD_IDS,
        Some("fixtures/divergent/default_mismatch/schema.sql"),
        vec![
            failing(
                Property::Fresh,
                "4 migrations applied in order to an empty database, but the catalog differs from fixtures/divergent/default_mismatch/schema.sql (2 differences)",
                failure,
            ),
            verdict(
                Property::Idempotent,
                VerdictStatus::Skipped,
                "no migration claims to be re-entrant (set `idempotent` in pgconverge.toml)",
            ),
            verdict(Property::Partial, VerdictStatus::Skipped, "not run: the fresh property fails, fix that first"),
        ],
    )
}

/// Generated properties: `partial` fails at a statement with a hidden order dependency, and
/// `order` diverges (its annotation must find the first pending migration's file from the
/// `partial` failure).
fn generated() -> Report {
    let statement = Failure::StatementFailed {
        migration: "20260120141500_create_courses".into(),
        statement: 2,
        location: Location { file: "fixtures/hidden/migrations/20260120141500_create_courses.sql".into(), line: 4, column: 1 },
        sql: "ALTER TABLE courses ADD FOREIGN KEY (tenant_id) REFERENCES tenants (id)".into(),
        error: PgError {
            code: "42P01".into(),
            message: "relation \"tenants\" does not exist".into(),
            detail: None,
            hint: None,
            context: None,
            position: Some(50),
        },
    };
    let mut partial = failing(
        Property::Partial,
        "nothing applied; 2 pending: 20260120141500_create_courses fails at fixtures/hidden/migrations/20260120141500_create_courses.sql:4:1: relation \"tenants\" does not exist",
        statement,
    );
    partial.cases = 12;
    partial.timing = Some(Timing {
        elapsed_ms: 1234.5678,
        amortized_ms: 102.9,
        per_case_ms: Some(250.0),
        dump_ms: Some(3.5),
        judged: 9,
        warm_databases: 4,
        recycled: 2,
        jobs: 4,
    });
    partial.case = Some(CaseReport {
        description: partial.summary.clone(),
        applied: vec![],
        preexisting: vec![],
        interrupted: None,
        order: ids(&["20260120141500_create_courses", "20260105090000_create_tenants"]),
        out_of_order: vec![["20260120141500_create_courses".into(), "20260105090000_create_tenants".into()]],
        hidden_dependency: Some(HiddenDependency {
            migration: "20260120141500_create_courses".into(),
            needs: ids(&["20260105090000_create_tenants"]),
            declare: "[dependencies] \"20260120141500\" = [\"20260105090000\"]".into(),
        }),
        blamed: vec![],
        regressions: Some("fixtures/hidden/pgconverge-regressions.txt".into()),
        repro: Some("target/pgconverge/repro/partial.sql".into()),
    });
    let divergence = Failure::Diverged {
        expected: "the canonical catalog".into(),
        differences: vec![Difference {
            kind: ObjectKind::Index,
            object: "public.courses_tenant_id_idx".into(),
            change: Change::Missing,
            severity: Severity::Error,
            dependents: 0,
        }],
        expected_text: String::new(),
        found_text: String::new(),
        origins: vec![],
    };
    let mut order = failing(
        Property::Order,
        "applied: 20260105090000_create_tenants; 20260120141500_create_courses ran before 20260112103000_create_users; 2 pending: the catalog differs: index public.courses_tenant_id_idx: expected, not found",
        divergence,
    );
    order.cases = 30;
    order.case = Some(CaseReport {
        description: order.summary.clone(),
        applied: ids(&["20260105090000_create_tenants"]),
        preexisting: vec![],
        interrupted: None,
        order: ids(&["20260120141500_create_courses", "20260112103000_create_users"]),
        out_of_order: vec![],
        hidden_dependency: None,
        blamed: vec![],
        regressions: None,
        repro: None,
    });
    let mut r = report(
        "fixtures/hidden",
        &["20260105090000_create_tenants", "20260112103000_create_users", "20260120141500_create_courses"],
        Some("fixtures/hidden/schema.sql"),
        vec![verdict(Property::Fresh, VerdictStatus::Pass, "3 migrations applied in order to an empty database"), partial, order],
    );
    r.seed = Some(42);
    r
}

const SHOP_IDS: [&str; 4] =
    ["20260310000001_create_accounts", "20260310000002_create_orders", "20260310000003_create_payments", "20260310000004_create_refunds"];

fn shop_file(migration: &str) -> PathBuf {
    PathBuf::from(format!("fixtures/shop/migrations/{migration}.sql"))
}

fn finding(migration: &str, summary: &str, failure: Failure) -> MigrationFinding {
    MigrationFinding { migration: migration.into(), file: shop_file(migration), summary: summary.into(), failure }
}

fn shop_statement_failure(migration: &str, statement: usize, line: usize, sql: &str, code: &str, message: &str) -> Failure {
    Failure::StatementFailed {
        migration: migration.into(),
        statement,
        location: Location { file: shop_file(migration.trim_end_matches(" (down)")), line, column: 1 },
        sql: sql.into(),
        error: PgError { code: code.into(), message: message.into(), detail: None, hint: None, context: None, position: None },
    }
}

fn difference(kind: ObjectKind, object: &str, change: Change) -> Difference {
    Difference { kind, object: object.into(), change, severity: Severity::Error, dependents: 0 }
}

fn divergence(expected: &str, differences: Vec<Difference>) -> Failure {
    Failure::Diverged { expected: expected.into(), differences, expected_text: String::new(), found_text: String::new(), origins: vec![] }
}

/// A verdict judged migration by migration, failing with `findings`.
fn failing_migrations(property: Property, summary: &str, findings: Vec<MigrationFinding>, not_reached: &[&str]) -> Verdict {
    let mut verdict = failing(property, summary, findings[0].failure.clone());
    verdict.findings = findings;
    verdict.not_reached = ids(not_reached);
    verdict
}

/// Properties judged migration by migration, each with several failing migrations (as
/// `fixtures/divergent/three_broken_reentrant` gives for idempotent): a re-run that fails, two
/// that change the catalog; two broken downs.
fn per_migration() -> Report {
    let [accounts, orders, payments, refunds] = SHOP_IDS;
    let idempotent = failing_migrations(
        Property::Idempotent,
        &format!(
            "3 of 3 re-entrant migrations fail on a re-run: {accounts} (the re-run fails), {orders} (the re-run changes the catalog: 2 differences), {payments} (the re-run changes the catalog: 1 difference)"
        ),
        vec![
            finding(
                accounts,
                &format!("re-running {accounts} on the migrated database failed"),
                shop_statement_failure(
                    accounts,
                    2,
                    6,
                    "CREATE UNIQUE INDEX index_accounts_on_email ON accounts (email)",
                    "42P07",
                    "relation \"index_accounts_on_email\" already exists",
                ),
            ),
            finding(
                orders,
                &format!("re-running {orders} on the migrated database succeeded but changed the catalog (2 differences)"),
                divergence(
                    "the catalog before the re-run",
                    vec![
                        difference(ObjectKind::Constraint, "public.orders.orders_pkey", Change::Missing),
                        difference(ObjectKind::Index, "public.orders_pkey", Change::Missing),
                    ],
                ),
            ),
            finding(
                payments,
                &format!("re-running {payments} on the migrated database succeeded but changed the catalog (1 difference)"),
                divergence(
                    "the catalog before the re-run",
                    vec![difference(ObjectKind::Index, "public.payments_order_number_idx1", Change::Unexpected)],
                ),
            ),
        ],
        &[],
    );
    let reversible = failing_migrations(
        Property::Reversible,
        &format!("2 migrations fail: {orders} (up then down leaves a trace), {refunds} (its down fails)"),
        vec![
            finding(
                orders,
                &format!("{orders} up then down does not restore the catalog"),
                divergence(
                    &format!("the catalog before {orders} ran"),
                    vec![difference(ObjectKind::Type, "public.order_status", Change::Unexpected)],
                ),
            ),
            finding(
                refunds,
                &format!("the down migration of {refunds} failed right after its up"),
                shop_statement_failure(
                    &format!("{refunds} (down)"),
                    1,
                    1,
                    "ALTER TABLE refunds DROP COLUMN reason_code",
                    "42703",
                    "column \"reason_code\" of relation \"refunds\" does not exist",
                ),
            ),
        ],
        &[],
    );
    let mut reversible = reversible;
    reversible.cases = 4;
    report(
        "fixtures/shop",
        &SHOP_IDS,
        None,
        vec![verdict(Property::Fresh, VerdictStatus::Pass, "4 migrations applied in order to an empty database"), idempotent, reversible],
    )
}

/// create_orders fails on an empty database: fresh and reversible do not reach the two after it.
fn not_reached() -> Report {
    let [_, orders, payments, refunds] = SHOP_IDS;
    let failure = shop_statement_failure(
        orders,
        1,
        3,
        "CREATE TABLE orders (account_id bigint REFERENCES account (id))",
        "42P01",
        "relation \"account\" does not exist",
    );
    let fresh = failing_migrations(
        Property::Fresh,
        &format!("{orders} failed on an empty database after the migrations before it; 2 later migrations not reached"),
        vec![finding(orders, &format!("{orders} failed on an empty database after the migrations before it"), failure.clone())],
        &[payments, refunds],
    );
    let reversible = failing_migrations(
        Property::Reversible,
        &format!("{orders} failed on the way up; 2 later migrations not reached"),
        vec![finding(orders, &format!("{orders} failed on the way up"), failure)],
        &[payments, refunds],
    );
    report(
        "fixtures/shop",
        &SHOP_IDS,
        None,
        vec![
            fresh,
            verdict(
                Property::Idempotent,
                VerdictStatus::Skipped,
                "not run: the fresh run failed, so there is no migrated database to re-run on",
            ),
            reversible,
        ],
    )
}

/// Text that XML and GitHub's workflow commands must escape, in every field that is written.
const NASTY_MESSAGE: &str = "value <\"a\" & 'b'> is 100% wrong: x, y\nsecond line\r\nthird\tline \u{1b}[31m";

fn special_characters() -> Report {
    let failure = Failure::StatementFailed {
        migration: "1_odd".into(),
        statement: 1,
        location: Location { file: "fixtures/odd, dir: 100%/migrations/1_odd.sql".into(), line: 2, column: 7 },
        sql: "SELECT '<&>' AS \"q\";".into(),
        error: PgError {
            code: "P0001".into(),
            message: NASTY_MESSAGE.into(),
            detail: Some("a < b && c > d".into()),
            hint: Some("use \"quotes\"".into()),
            context: None,
            position: None,
        },
    };
    let mut r = report(
        "fixtures/odd, dir: 100%",
        &["1_odd"],
        None,
        vec![
            failing(Property::Fresh, "1_odd failed on an empty database after the migrations before it", failure),
            verdict(Property::Idempotent, VerdictStatus::Skipped, "skipped: <none> & \"nothing\" 100%: a, b\nline two"),
        ],
    );
    r.backend = "existing server postgres://u@h:5432/db?x=1&y=<2>".into();
    r
}

// ---------------------------------------------------------------------------------------------
// JUnit checks with Python's standard library

/// Parses a JUnit document with `xml.etree` (a document that is not well-formed fails), checks
/// it against the structure of `tests/data/junit.xsd`, and prints what it read as JSON.
const JUNIT_CHECK: &str = r#"
import json, re, sys
import xml.etree.ElementTree as ET

root = ET.fromstring(sys.stdin.buffer.read())
problems = []
def need(cond, what):
    if not cond:
        problems.append(what)

TIME = re.compile(r"[0-9]+(\.[0-9]+)?\Z")
def count(el, attr, required=True):
    value = el.get(attr)
    if value is None:
        need(not required, f"<{el.tag}> lacks {attr}")
        return None
    need(re.fullmatch(r"[0-9]+", value) is not None, f"<{el.tag}> {attr}={value!r} is not a count")
    return int(value) if value.isdigit() else None
def attrs(el, allowed, required=()):
    for a in el.attrib:
        need(a in allowed, f"<{el.tag}> has attribute {a} the schema does not allow")
    for a in required:
        need(a in el.attrib, f"<{el.tag}> lacks required attribute {a}")
    if "time" in el.attrib:
        need(TIME.match(el.get("time")) is not None, f"<{el.tag}> time={el.get('time')!r}")
def text_only(el):
    need(len(el) == 0, f"<{el.tag}> has child elements")

need(root.tag == "testsuites", f"root is <{root.tag}>")
attrs(root, {"name", "time", "tests", "failures", "errors"})
totals = {"tests": 0, "failures": 0, "errors": 0}
suites = []
def suite(el):
    attrs(el, {"name", "tests", "failures", "errors", "skipped", "time", "group", "timestamp",
               "hostname", "id", "package", "file", "log", "url"},
          ("name", "tests", "failures", "errors", "skipped"))
    seen = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    properties, cases = {}, []
    for child in el:
        if child.tag == "testsuite":
            suite(child)
        elif child.tag == "properties":
            need(not child.attrib, "<properties> has attributes")
            for p in child:
                need(p.tag == "property", f"<{p.tag}> in <properties>")
                attrs(p, {"name", "value"}, ("name", "value"))
                text_only(p)
                properties[p.get("name")] = p.get("value")
        elif child.tag == "testcase":
            attrs(child, {"name", "classname", "time", "group"}, ("name", "classname"))
            seen["tests"] += 1
            case = {"name": child.get("name"), "classname": child.get("classname"), "outcome": "pass"}
            outcomes = 0
            for part in child:
                need(part.tag in ("skipped", "error", "failure", "system-out", "system-err"),
                     f"<{part.tag}> in <testcase>")
                text_only(part)
                if part.tag in ("failure", "error"):
                    attrs(part, {"message", "type"}, ("message", "type"))
                elif part.tag == "skipped":
                    attrs(part, {"message", "type"})
                else:
                    need(not part.attrib, f"<{part.tag}> has attributes")
                if part.tag in ("failure", "error", "skipped"):
                    outcomes += 1
                    seen[{"failure": "failures", "error": "errors", "skipped": "skipped"}[part.tag]] += 1
                    case.update(outcome=part.tag, message=part.get("message"), type=part.get("type"),
                                text=part.text or "")
                else:
                    case[part.tag] = part.text or ""
            need(outcomes <= 1, f"testcase {case['name']} has {outcomes} outcomes")
            cases.append(case)
        elif child.tag in ("system-out", "system-err"):
            text_only(child)
        else:
            need(False, f"<{child.tag}> in <testsuite>")
    for key, n in seen.items():
        need(count(el, key) == n, f"testsuite {el.get('name')!r}: {key}={el.get(key)} but {n} found")
    for key in totals:
        totals[key] += seen[key]
    suites.append({"name": el.get("name"), "attributes": dict(el.attrib), "properties": properties,
                   "cases": cases})
for child in root:
    if child.tag == "testsuite":
        suite(child)
    else:
        need(False, f"<{child.tag}> in <testsuites>")
for key, n in totals.items():
    value = count(root, key, required=False)
    need(value is None or value == n, f"testsuites {key}={value} but {n} found")
if problems:
    sys.exit("not valid JUnit:\n" + "\n".join(problems))
json.dump({"attributes": dict(root.attrib), "suites": suites}, sys.stdout)
"#;

fn python(args: &[&str], stdin: &str) -> std::process::Output {
    common::require_tool("python-tests", "python3", &["--version"], "python3");
    let mut child = Command::new("python3")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

/// The document as Python read it, after the structural checks passed.
fn check_junit(xml: &str) -> Value {
    let output = python(&["-c", JUNIT_CHECK], xml);
    assert!(output.status.success(), "{}\n--- document ---\n{xml}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("the checker prints JSON")
}

fn all_reports() -> Vec<(&'static str, Report)> {
    vec![
        ("converging", converging()),
        ("statement_failed", statement_failed()),
        ("diverged", diverged()),
        ("generated", generated()),
        ("special_characters", special_characters()),
        ("incomplete", incomplete()),
        ("per_migration", per_migration()),
        ("not_reached", not_reached()),
    ]
}

/// A property that could not build its start states: an `<error>`, not a pass or a failure.
fn incomplete() -> Report {
    let partial = verdict(
        Property::Partial,
        VerdictStatus::Incomplete,
        "200 cases converged from 40 distinct start states; 56 of 256 cases could not build their start state and proved nothing (first: applied migration 2_b failed: relation \"a\" does not exist)",
    );
    report("fixtures/k12_lms", &["1_a", "2_b"], None, vec![verdict(Property::Fresh, VerdictStatus::Pass, "2 migrations applied"), partial])
}

#[test]
fn an_incomplete_property_is_neither_a_pass_nor_a_counterexample() {
    let report = incomplete();
    assert!(!report.converges());
    let human = pgconverge::report::human(&report, false);
    assert!(human.contains("  inc.  partial"), "{human}");
    assert!(human.contains("\nincomplete: 1 property could not run all of its cases; 1 property holds"), "{human}");
    let github = pgconverge::report::github(&report);
    assert!(github.contains("::error title=pgconverge partial incomplete::200 cases converged"), "{github}");
}

#[test]
#[cfg_attr(not(feature = "python-tests"), ignore = "python-tests tier: cargo test --features python-tests")]
fn an_incomplete_property_is_an_error_in_junit() {
    let parsed = check_junit(&junit(&incomplete()));
    assert_eq!(case(&parsed, "partial")["outcome"], "error");
}

/// Every property holds but an object differs between two runs of the same migrations: not
/// `converges()` (the CLI exits 4), and GitHub's summary says nondeterministic, not converges.
#[test]
fn a_nondeterministic_report_does_not_converge() {
    let mut report = converging();
    report.status = pgconverge::Status::Nondeterministic;
    report.nondeterministic = vec!["view public.v".into()];
    assert!(!report.converges());
    assert_eq!(report.status.exit_code(), 4);
    let github = pgconverge::report::github(&report);
    assert!(github.contains(": nondeterministic: "), "{github}");
    assert!(github.contains("but 1 object differs between two runs"), "{github}");
}

/// Reports of two projects on three majors, as `--pg 15,16,17` gives them.
fn three_majors() -> Vec<Report> {
    let mut pg17 = statement_failed();
    pg17.server_version = "17.6".into();
    pg17.backend = "embedded PostgreSQL 17.6 (/usr/lib/postgresql/17/bin)".into();
    let mut pg16 = converging();
    pg16.server_version = "16.10".into();
    pg16.backend = "embedded PostgreSQL 16.10 (/usr/lib/postgresql/16/bin)".into();
    vec![statement_failed(), pg17, pg16]
}

fn case<'a>(parsed: &'a Value, property: &str) -> &'a Value {
    parsed["suites"][0]["cases"].as_array().unwrap().iter().find(|c| c["name"] == property).unwrap()
}

#[test]
#[cfg_attr(not(feature = "python-tests"), ignore = "python-tests tier: cargo test --features python-tests")]
fn junit_is_well_formed_and_structurally_valid() {
    for (name, report) in all_reports() {
        let parsed = check_junit(&junit(&report));
        let suite = &parsed["suites"][0];
        let count = |status: VerdictStatus| report.verdicts.iter().filter(|v| v.status == status).count().to_string();
        assert_eq!(suite["attributes"]["tests"], report.verdicts.len().to_string(), "{name}");
        assert_eq!(suite["attributes"]["failures"], count(VerdictStatus::Fail), "{name}");
        assert_eq!(suite["attributes"]["skipped"], count(VerdictStatus::Skipped), "{name}");
        assert_eq!(suite["attributes"]["errors"], count(VerdictStatus::Incomplete), "{name}");
        assert_eq!(suite["properties"]["server_version"], "15.18", "{name}");
        let project = report.project.display().to_string();
        assert_eq!(suite["name"], format!("pgconverge {project} (PostgreSQL 15.18)"), "{name}");
        for (verdict, case) in report.verdicts.iter().zip(suite["cases"].as_array().unwrap()) {
            assert_eq!(case["name"], verdict.property.name(), "{name}");
            assert_eq!(case["classname"], format!("pgconverge.{project}"), "{name}");
            let outcome = match verdict.status {
                VerdictStatus::Pass => "pass",
                VerdictStatus::Fail => "failure",
                VerdictStatus::Skipped => "skipped",
                VerdictStatus::Incomplete => "error",
                other => panic!("{name}: no JUnit outcome expected for {other:?}"),
            };
            assert_eq!(case["outcome"], outcome, "{name} {}", verdict.property);
        }
    }
}

#[test]
#[cfg_attr(not(feature = "python-tests"), ignore = "python-tests tier: cargo test --features python-tests")]
fn junit_many_has_a_suite_per_server_major() {
    let xml = junit_many(&three_majors());
    let parsed = check_junit(&xml);
    let names: Vec<&str> = parsed["suites"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "pgconverge fixtures/divergent/guard_wrong_name (PostgreSQL 15.18)",
            "pgconverge fixtures/divergent/guard_wrong_name (PostgreSQL 17.6)",
            "pgconverge fixtures/k12_lms (PostgreSQL 16.10)",
        ]
    );
    assert_eq!(parsed["attributes"]["tests"], "7");
    assert_eq!(parsed["attributes"]["failures"], "2");
    assert_eq!(parsed["attributes"]["errors"], "0");

    // No reports: still a valid, empty document.
    let parsed = check_junit(&junit_many(&[]));
    assert_eq!(parsed["attributes"]["tests"], "0");
    assert_eq!(parsed["suites"].as_array().unwrap().len(), 0);
}

#[test]
#[cfg_attr(not(feature = "python-tests"), ignore = "python-tests tier: cargo test --features python-tests")]
fn junit_failure_names_the_statement_and_the_error() {
    let parsed = check_junit(&junit(&statement_failed()));
    let idempotent = case(&parsed, "idempotent");
    assert_eq!(idempotent["type"], "statement_failed");
    let message = idempotent["message"].as_str().unwrap();
    assert!(message.contains(&format!("{GUARD_FILE}:9:5")), "{message}");
    assert!(message.contains("ERROR 42P07: relation \"ai_provider_configs\" already exists"), "{message}");
    assert!(!message.contains('\n'), "the message is one line: {message}");
    let text = idempotent["text"].as_str().unwrap();
    assert!(text.contains(&format!("{GUARD_FILE}:9:5: statement 1 of {GUARD_MIGRATION}")), "{text}");
    assert!(text.contains("  | DO $$\n"), "the whole statement: {text}");
    assert!(text.contains("CONTEXT: SQL statement \"CREATE TABLE ai_provider_configs"), "{text}");
    assert_eq!(case(&parsed, "fresh")["outcome"], "pass");
}

#[test]
#[cfg_attr(not(feature = "python-tests"), ignore = "python-tests tier: cargo test --features python-tests")]
fn junit_failure_lists_the_differences() {
    let parsed = check_junit(&junit(&diverged()));
    let fresh = case(&parsed, "fresh");
    assert_eq!(fresh["type"], "diverged");
    let message = fresh["message"].as_str().unwrap();
    assert!(
        message.ends_with(
            ": column public.ai_provider_configs.status: default 'inactive'::varchar expected, 'active'::varchar found (and 1 more)"
        ),
        "{message}"
    );
    let text = fresh["text"].as_str().unwrap();
    assert!(text.contains("column public.ai_provider_configs.api_key: not_null true expected, false found\n"), "{text}");
    assert!(text.contains("-   default: 'inactive'::varchar"), "the diff, without colors: {text}");
    assert!(!text.contains('\u{1b}'), "{text}");
    let skipped = case(&parsed, "partial");
    assert_eq!(skipped["outcome"], "skipped");
    assert_eq!(skipped["message"], "not run: the fresh property fails, fix that first");
}

#[test]
#[cfg_attr(not(feature = "python-tests"), ignore = "python-tests tier: cargo test --features python-tests")]
fn junit_failure_describes_the_generated_case() {
    let parsed = check_junit(&junit(&generated()));
    let text = case(&parsed, "partial")["text"].as_str().unwrap().to_string();
    assert!(text.contains("hidden order dependency: 20260120141500_create_courses needs 20260105090000_create_tenants\n"), "{text}");
    assert!(text.contains("pending:      20260120141500_create_courses, 20260105090000_create_tenants\n"), "{text}");
    assert!(text.contains("repro:        target/pgconverge/repro/partial.sql\n"), "{text}");
    assert_eq!(parsed["suites"][0]["properties"]["seed"], "42");
}

#[test]
#[cfg_attr(not(feature = "python-tests"), ignore = "python-tests tier: cargo test --features python-tests")]
fn junit_escapes_special_characters() {
    let report = special_characters();
    let xml = junit(&report);
    let parsed = check_junit(&xml);
    // XML 1.0 cannot hold ESC even as a reference: it is written as visible text.
    let readable = NASTY_MESSAGE.replace('\u{1b}', "\\u{1b}");
    let fresh = case(&parsed, "fresh");
    let message = fresh["message"].as_str().unwrap();
    assert!(message.ends_with(&format!("ERROR P0001: {readable}")), "attribute round trip: {message:?}");
    assert!(message.contains("\r\n") && message.contains('\t'), "newlines and tabs survive attribute normalization");
    let text = fresh["text"].as_str().unwrap();
    assert!(text.contains(&readable), "text round trip: {text:?}");
    assert!(text.contains("DETAIL: a < b && c > d\nHINT: use \"quotes\""), "{text:?}");
    assert!(text.contains("| SELECT '<&>' AS \"q\";"), "{text:?}");
    assert_eq!(case(&parsed, "idempotent")["message"], "skipped: <none> & \"nothing\" 100%: a, b\nline two");
    assert_eq!(parsed["suites"][0]["properties"]["backend"], "existing server postgres://u@h:5432/db?x=1&y=<2>");
    assert_eq!(parsed["suites"][0]["name"], "pgconverge fixtures/odd, dir: 100% (PostgreSQL 15.18)");
    assert!(!xml.contains('\u{1b}'));
}

#[test]
#[cfg_attr(not(feature = "python-tests"), ignore = "python-tests tier: cargo test --features python-tests")]
fn junit_is_valid_against_the_xsd() {
    common::require_xmlschema();
    let schema = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/junit.xsd");
    let mut documents: Vec<(String, String)> = all_reports().into_iter().map(|(name, report)| (name.to_string(), junit(&report))).collect();
    documents.push(("many".into(), junit_many(&[statement_failed(), converging(), special_characters()])));
    documents.push(("none".into(), junit_many(&[])));
    documents.push(("unfinished".into(), unfinished_run(&stopped(), &[diverged()], &statement_failed().verdicts).junit()));
    documents.push(("unfinished_empty".into(), unfinished_run(&stopped(), &[], &[]).junit()));
    for (name, xml) in documents {
        common::assert_valid_junit(&name, &xml);
    }
    // The schema does reject what it should: a testcase without a classname.
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(
        br#"<testsuites><testsuite name="s" tests="1" failures="0" errors="0" skipped="0"><testcase name="c"/></testsuite></testsuites>"#,
    )
    .unwrap();
    let output = python(
        &["-c", "import sys, xmlschema; xmlschema.XMLSchema(sys.argv[1]).validate(sys.argv[2])", schema, file.path().to_str().unwrap()],
        "",
    );
    assert!(!output.status.success(), "a testcase without classname must not validate");
}

// ---------------------------------------------------------------------------------------------
// GitHub annotations

fn lines(text: &str) -> Vec<&str> {
    text.lines().collect()
}

#[test]
fn github_points_at_the_failing_statement() {
    let out = github(&statement_failed());
    let lines = lines(&out);
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines[0].starts_with(&format!("::error file={GUARD_FILE},line=9,col=5,title=pgconverge idempotent::")), "{out}");
    assert!(lines[0].contains("ERROR 42P07: relation \"ai_provider_configs\" already exists%0ACONTEXT: "), "{out}");
    assert!(
        lines[1].starts_with("::notice title=pgconverge::pgconverge fixtures/divergent/guard_wrong_name (PostgreSQL 15.18): counterexample: 1 of 2 properties fails"),
        "{out}"
    );
    insta::assert_snapshot!("statement_failed_github", out);
}

#[test]
fn github_points_a_divergence_at_a_file() {
    // fresh: the reference schema, line 1; skipped properties give no annotation.
    let out = github(&diverged());
    let annotations = lines(&out);
    assert_eq!(annotations.len(), 2, "{out}");
    assert!(
        annotations[0].starts_with("::error file=fixtures/divergent/default_mismatch/schema.sql,line=1,title=pgconverge fresh::"),
        "{out}"
    );
    assert!(annotations[1].ends_with("counterexample: 1 of 3 properties fails, 2 skipped"), "{out}");
    insta::assert_snapshot!("diverged_github", out);

    // A generated case: the first pending migration's file, found from another failure...
    let out = github(&generated());
    let annotations = lines(&out);
    assert!(
        annotations[0].starts_with(
            "::error file=fixtures/hidden/migrations/20260120141500_create_courses.sql,line=4,col=1,title=pgconverge partial::"
        ),
        "{out}"
    );
    assert!(
        annotations[1]
            .starts_with("::error file=fixtures/hidden/migrations/20260120141500_create_courses.sql,line=1,title=pgconverge order::"),
        "{out}"
    );
    assert!(annotations[2].contains("(seed 42; rerun the same cases with --seed 42)"), "{out}");
    insta::assert_snapshot!("generated_github", out);

    // ...else the reference schema...
    let mut report = generated();
    report.verdicts.remove(1);
    let out = github(&report);
    assert!(out.starts_with("::error file=fixtures/hidden/schema.sql,line=1,title=pgconverge order::"), "{out}");

    // ...else no file.
    report.reference = None;
    let out = github(&report);
    assert!(out.starts_with("::error title=pgconverge order::"), "{out}");
}

#[test]
fn github_annotates_every_failing_migration() {
    let out = github(&per_migration());
    let annotations = lines(&out);
    assert_eq!(annotations.len(), 6, "3 idempotent + 2 reversible errors, then the notice: {out}");
    let [accounts, orders, payments, refunds] = SHOP_IDS;
    // A failed statement: its position; a divergence: line 1 of the migration's file.
    let expected_starts = [
        format!("::error file=fixtures/shop/migrations/{accounts}.sql,line=6,col=1,title=pgconverge idempotent::re-running {accounts} "),
        format!("::error file=fixtures/shop/migrations/{orders}.sql,line=1,title=pgconverge idempotent::re-running {orders} "),
        format!("::error file=fixtures/shop/migrations/{payments}.sql,line=1,title=pgconverge idempotent::re-running {payments} "),
        format!("::error file=fixtures/shop/migrations/{orders}.sql,line=1,title=pgconverge reversible::{orders} up then down "),
        format!("::error file=fixtures/shop/migrations/{refunds}.sql,line=1,col=1,title=pgconverge reversible::the down migration of {refunds} "),
    ];
    for (annotation, start) in annotations.iter().zip(&expected_starts) {
        assert!(annotation.starts_with(start.as_str()), "{annotation}\nshould start with\n{start}");
    }
    // Each annotation carries its own migration's failure, and only that.
    assert!(
        annotations[1].contains("constraint public.orders.orders_pkey") && !annotations[1].contains("payments_order_number_idx1"),
        "{out}"
    );
    assert!(annotations[5].ends_with("counterexample: 2 of 3 properties fail"), "{out}");
    insta::assert_snapshot!("per_migration_github", out);
}

#[test]
fn junit_lists_every_failing_migration_and_the_ones_not_reached() {
    let xml = junit(&per_migration());
    for finding in per_migration().verdicts.iter().flat_map(|v| &v.findings) {
        assert!(xml.contains(&finding.summary.replace('"', "&quot;")), "{}\n{xml}", finding.summary);
    }
    // The second finding's difference, not only the first's failure.
    assert!(xml.contains("constraint public.orders.orders_pkey: expected, not found"), "{xml}");
    let xml = junit(&not_reached());
    let [_, _, payments, refunds] = SHOP_IDS;
    assert!(xml.contains(&format!("not reached: {payments}, {refunds}")), "{xml}");
}

#[test]
fn github_reports_warnings_and_a_summary() {
    let out = github(&converging());
    assert_eq!(
        lines(&out),
        [
            "::warning title=pgconverge fresh::table public.enrollments: column_order id, course_id, user_id expected, id, user_id, course_id found [warning]",
            "::notice title=pgconverge::pgconverge fixtures/k12_lms (PostgreSQL 15.18): converges: 3 properties hold (seed 1234; rerun the same cases with --seed 1234)",
        ]
    );
    insta::assert_snapshot!("converging_github", out);
}

#[test]
fn github_escapes_special_characters() {
    let out = github(&special_characters());
    let lines = lines(&out);
    assert_eq!(lines.len(), 2, "every command is one line: {out}");
    // Properties: `%`, `:`, `,` escaped; the message: `%`, CR and LF only.
    assert!(
        lines[0].starts_with("::error file=fixtures/odd%2C dir%3A 100%25/migrations/1_odd.sql,line=2,col=7,title=pgconverge fresh::"),
        "{out}"
    );
    let message = lines[0].split_once("::").unwrap().1.split_once("::").unwrap().1;
    assert!(
        message.contains("ERROR P0001: value <\"a\" & 'b'> is 100%25 wrong: x, y%0Asecond line%0D%0Athird\tline \\u{1b}[31m%0ADETAIL: "),
        "{message}"
    );
    assert!(!message.contains("%3A") && !message.contains("%2C"), "{message}");
    // Decoding gives the text back.
    let decoded = message.replace("%0A", "\n").replace("%0D", "\r").replace("%25", "%");
    assert!(decoded.contains(&NASTY_MESSAGE.replace('\u{1b}', "\\u{1b}")), "{decoded:?}");
    assert!(!out.contains('\u{1b}'), "no raw control characters: {out:?}");
    assert!(lines[1].starts_with("::notice title=pgconverge::pgconverge fixtures/odd, dir: 100%25 (PostgreSQL 15.18): "), "{out}");
    insta::assert_snapshot!("special_characters_github", out);
}

// ---------------------------------------------------------------------------------------------
// The migration × property table

#[test]
fn table_marks_the_migration_whose_statement_failed() {
    let out = table(&statement_failed(), &ids(&GUARD_IDS));
    assert_eq!(
        out,
        "  migration                                  fresh  idempotent\n\
         \x20 20260105090000_create_tenants              ok     ok\n\
         \x20 20260112103000_create_users                ok     ok\n\
         \x20 20260120141500_create_courses              ok     ok\n\
         \x20 20260216000001_create_ai_provider_configs  ok     fail\n\
         \x20 all                                        ok     fail\n"
    );
}

#[test]
fn table_marks_an_unattributed_divergence_in_the_all_row() {
    let out = table(&diverged(), &ids(&GUARD_IDS));
    insta::assert_snapshot!("diverged_table", out);
    let rows: Vec<Vec<&str>> = out.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows[0], ["migration", "fresh", "idempotent", "partial"]);
    for row in &rows[1..5] {
        assert_eq!(row[1..], ["ok", "n/a", "n/a"], "{out}");
    }
    assert_eq!(rows[5], ["all", "fail", "n/a", "n/a"]);
}

/// A migration a property does not apply to (reversible: no down) is `n/a`, not `ok`.
#[test]
fn table_marks_a_migration_without_a_down_not_applicable() {
    let mut report = converging();
    let mut reversible = verdict(Property::Reversible, VerdictStatus::Pass, "1 migration with a down: up then down restores the catalog");
    reversible.not_applicable = vec![report.migration_ids[1].clone()];
    report.verdicts.push(reversible);
    let out = table(&report, &report.migration_ids);
    let rows: Vec<Vec<&str>> = out.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows[1].last(), Some(&"ok"), "{out}");
    assert_eq!(rows[2].last(), Some(&"n/a"), "{out}");
    assert_eq!(rows.last().unwrap().last(), Some(&"ok"), "{out}");
}

#[test]
fn table_marks_the_migrations_a_generated_case_names() {
    let report = generated();
    let out = table(&report, &report.migration_ids);
    insta::assert_snapshot!("generated_table", out);
    let rows: Vec<Vec<&str>> = out.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows[0], ["migration", "fresh", "partial", "order"]);
    // partial: the failing migration and the one it needs; order: the pending migrations.
    assert_eq!(rows[1], ["20260105090000_create_tenants", "ok", "fail", "ok"]);
    assert_eq!(rows[2], ["20260112103000_create_users", "ok", "ok", "fail"]);
    assert_eq!(rows[3], ["20260120141500_create_courses", "ok", "fail", "fail"]);
    assert_eq!(rows[4], ["all", "ok", "fail", "fail"]);
}

#[test]
fn table_names_down_and_interrupted_migrations() {
    let mut report = statement_failed();
    let Some(Failure::StatementFailed { migration, .. }) = &mut report.verdicts[1].failure else { unreachable!() };
    *migration = format!("{GUARD_MIGRATION} (down)");
    report.verdicts[1].property = Property::Reversible;
    let mut interrupt = verdict(Property::Interrupt, VerdictStatus::Fail, "interrupted");
    interrupt.case = Some(CaseReport {
        description: "interrupted".into(),
        applied: vec![],
        preexisting: vec![],
        interrupted: Some("20260112103000_create_users stopped after 1 of 3 statements".into()),
        order: vec![],
        out_of_order: vec![],
        hidden_dependency: None,
        blamed: vec![],
        regressions: None,
        repro: None,
    });
    report.verdicts.push(interrupt);
    let out = table(&report, &ids(&GUARD_IDS));
    let rows: Vec<Vec<&str>> = out.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows[0], ["migration", "fresh", "reversible", "interrupt"]);
    assert_eq!(rows[2][1..], ["ok", "ok", "fail"]);
    assert_eq!(rows[4][1..], ["ok", "fail", "ok"]);
    assert_eq!(rows[1][1..], ["ok", "ok", "ok"]);
}

#[test]
fn table_marks_every_migration_a_per_migration_finding_names() {
    let out = table(&per_migration(), &ids(&SHOP_IDS));
    insta::assert_snapshot!("per_migration_table", out);
    let rows: Vec<Vec<&str>> = out.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows[0], ["migration", "fresh", "idempotent", "reversible"]);
    assert_eq!(rows[1][1..], ["ok", "fail", "ok"]);
    assert_eq!(rows[2][1..], ["ok", "fail", "fail"]);
    assert_eq!(rows[3][1..], ["ok", "fail", "ok"]);
    assert_eq!(rows[4][1..], ["ok", "ok", "fail"]);
    assert_eq!(rows[5], ["all", "ok", "fail", "fail"]);
    assert_eq!(rows.len(), 6, "no legend without a not-reached cell: {out}");
}

#[test]
fn table_marks_migrations_after_a_failure_not_reached_and_says_so() {
    let out = table(&not_reached(), &ids(&SHOP_IDS));
    insta::assert_snapshot!("not_reached_table", out);
    let rows: Vec<Vec<&str>> = out.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows[1][1..], ["ok", "n/a", "ok"]);
    assert_eq!(rows[2][1..], ["fail", "n/a", "fail"]);
    assert_eq!(rows[3][1..], ["-", "n/a", "-"]);
    assert_eq!(rows[4][1..], ["-", "n/a", "-"]);
    assert_eq!(rows[5], ["all", "fail", "n/a", "fail"]);
    assert!(out.lines().last().unwrap().starts_with("  -: not reached"), "{out}");
}

#[test]
fn more_findings_writes_the_failing_migrations_after_the_first() {
    let report = per_migration();
    let idempotent = &report.verdicts[1];
    let out = more_findings(idempotent);
    insta::assert_snapshot!("per_migration_more_findings", out);
    // The first is the verdict's own counterexample, which the human report shows already.
    assert!(!out.contains(&idempotent.findings[0].summary), "{out}");
    assert!(out.contains(&idempotent.findings[1].summary) && out.contains(&idempotent.findings[2].summary), "{out}");
    let out = more_findings(&not_reached().verdicts[0]);
    let [_, _, payments, refunds] = SHOP_IDS;
    assert_eq!(out, format!("        not reached: {payments}, {refunds}\n"));
    assert_eq!(more_findings(&statement_failed().verdicts[1]), "");
}

#[test]
fn table_without_migrations_has_only_the_all_row() {
    let out = table(&converging(), &[]);
    assert_eq!(out, "  migration  fresh  idempotent  order\n  all        ok     ok          ok\n");
}

// ---------------------------------------------------------------------------------------------
// Snapshots of each JUnit document

#[test]
fn junit_snapshots() {
    for (name, report) in all_reports() {
        insta::assert_snapshot!(format!("{name}_junit"), junit(&report));
    }
    insta::assert_snapshot!("junit_many", junit_many(&three_majors()));
}

// ---------------------------------------------------------------------------------------------
// Where a divergence points, from the statements behind its differences

const DEFAULT_MISMATCH_FILE: &str = "fixtures/divergent/default_mismatch/migrations/20260216000001_create_ai_provider_configs.sql";

fn origin(difference: &Difference, migration: Option<&str>, file: &str, line: usize, column: usize) -> Origin {
    Origin {
        kind: difference.kind,
        object: difference.object.clone(),
        migration: migration.map(str::to_string),
        location: Location { file: file.into(), line, column },
    }
}

/// Sets the origins of the verdict's (or the finding's) divergence.
fn with_origins(failure: &mut Failure, make: impl Fn(&[Difference]) -> Vec<Origin>) {
    let Failure::Diverged { differences, origins, .. } = failure else { panic!("not a divergence") };
    *origins = make(differences);
}

#[test]
fn github_points_a_divergence_at_the_statement_behind_its_first_traced_difference() {
    // The first difference's origin, a migration statement.
    let mut report = diverged();
    with_origins(report.verdicts[0].failure.as_mut().unwrap(), |d| {
        vec![
            origin(&d[0], Some(GUARD_MIGRATION), DEFAULT_MISMATCH_FILE, 3, 1),
            origin(&d[1], Some(GUARD_MIGRATION), DEFAULT_MISMATCH_FILE, 9, 5),
        ]
    });
    let out = github(&report);
    assert!(out.starts_with(&format!("::error file={DEFAULT_MISMATCH_FILE},line=3,col=1,title=pgconverge fresh::")), "{out}");

    // Only the second difference traced (to the reference): that one.
    with_origins(report.verdicts[0].failure.as_mut().unwrap(), |d| {
        vec![origin(&d[1], None, "fixtures/divergent/default_mismatch/schema.sql", 28, 1)]
    });
    let out = github(&report);
    assert!(out.starts_with("::error file=fixtures/divergent/default_mismatch/schema.sql,line=28,col=1,title=pgconverge fresh::"), "{out}");

    // A generated case's divergence: its origin before the case's migration file.
    let mut report = generated();
    with_origins(report.verdicts[2].failure.as_mut().unwrap(), |d| {
        vec![origin(&d[0], Some("20260105090000_create_tenants"), "fixtures/hidden/migrations/20260105090000_create_tenants.sql", 12, 3)]
    });
    let out = github(&report);
    assert!(
        out.lines().nth(1).unwrap().starts_with(
            "::error file=fixtures/hidden/migrations/20260105090000_create_tenants.sql,line=12,col=3,title=pgconverge order::"
        ),
        "{out}"
    );

    // A failing migration's divergence: its own statement, not line 1 of its file.
    let mut report = per_migration();
    let orders = SHOP_IDS[1];
    with_origins(&mut report.verdicts[1].findings[1].failure, |d| {
        vec![origin(&d[0], Some(orders), &shop_file(orders).display().to_string(), 7, 5)]
    });
    let out = github(&report);
    assert!(
        out.lines()
            .nth(1)
            .unwrap()
            .starts_with(&format!("::error file=fixtures/shop/migrations/{orders}.sql,line=7,col=5,title=pgconverge idempotent::")),
        "{out}"
    );
}

#[test]
fn the_json_report_lists_the_origins_of_a_divergence() {
    let mut report = diverged();
    with_origins(report.verdicts[0].failure.as_mut().unwrap(), |d| vec![origin(&d[0], Some(GUARD_MIGRATION), DEFAULT_MISMATCH_FILE, 3, 1)]);
    let value = serde_json::to_value(&report).unwrap();
    assert_eq!(
        value["verdicts"][0]["failure"]["origins"],
        serde_json::json!([{
            "kind": "column",
            "object": "public.ai_provider_configs.status",
            "migration": GUARD_MIGRATION,
            "location": { "file": DEFAULT_MISMATCH_FILE, "line": 3, "column": 1 },
        }])
    );
    // None traced: no `origins` at all.
    let value = serde_json::to_value(diverged()).unwrap();
    assert!(value["verdicts"][0]["failure"].get("origins").is_none(), "{value}");
}

// ---------------------------------------------------------------------------------------------
// A run that ended in an error

fn stopped() -> Stopped {
    Stopped { kind: "infrastructure".into(), message: "connect to the server: connection refused <&>".into(), exit_code: 3 }
}

fn unfinished_run<'a>(stopped: &'a Stopped, reports: &'a [Report], verdicts: &'a [Verdict]) -> Unfinished<'a> {
    Unfinished { project: std::path::Path::new("fixtures/divergent/guard_wrong_name"), reports, verdicts, stopped }
}

#[test]
fn an_unfinished_run_keeps_what_it_found_in_every_format() {
    let stopped = stopped();
    let reports = [diverged()];
    // The major under way had decided fresh (pass) and idempotent (a failed statement).
    let verdicts = statement_failed().verdicts;
    let run = unfinished_run(&stopped, &reports, &verdicts);

    let value: Value = serde_json::from_str(&run.json()).unwrap();
    assert_eq!(value["status"], "error");
    assert_eq!(value["error"], "infrastructure");
    assert_eq!(value["exit_code"], 3);
    assert_eq!(value["project"], "fixtures/divergent/guard_wrong_name");
    assert_eq!(value["reports"][0]["status"], "counterexample");
    assert_eq!(value["verdicts"][1]["failure"]["kind"], "statement_failed");

    let xml = run.junit();
    assert!(xml.contains("<failure message=\"4 migrations applied in order"), "the finished report's failure: {xml}");
    assert!(xml.contains("<failure message=\"re-running 20260216000001_create_ai_provider_configs"), "the decided verdict's: {xml}");
    assert!(
        xml.contains(
            "<testcase classname=\"pgconverge.fixtures/divergent/guard_wrong_name\" name=\"run\">\n      <error message=\"connect to the server: connection refused &lt;&amp;&gt;\" type=\"infrastructure\">"
        ),
        "{xml}"
    );
    assert!(xml.contains("<testsuites name=\"pgconverge\" tests=\"6\" failures=\"2\" errors=\"1\">"), "{xml}");

    let out = github(&reports[0]);
    let annotations = run.github();
    assert!(annotations.starts_with(&out), "the finished report's annotations first: {annotations}");
    let lines: Vec<&str> = annotations.lines().collect();
    assert!(
        lines[lines.len() - 2].starts_with(&format!("::error file={GUARD_FILE},line=9,col=5,title=pgconverge idempotent::")),
        "{annotations}"
    );
    assert_eq!(lines[lines.len() - 1], "::error title=pgconverge infrastructure error::connect to the server: connection refused <&>");

    let human = run.human(false);
    assert!(human.starts_with(&pgconverge::report::human(&reports[0], false)), "{human}");
    assert!(human.contains(": stopped by an infrastructure error; decided before it stopped:\n  ok    fresh       "), "{human}");
    assert!(human.contains(&format!("  FAIL  idempotent  re-running {GUARD_MIGRATION} on the migrated database failed\n")), "{human}");
    assert!(human.contains(&format!("{GUARD_FILE}:9:5: statement 1 of {GUARD_MIGRATION}")), "{human}");

    // Nothing found: the error alone (the human text is then empty: the error goes to stderr).
    let empty = unfinished_run(&stopped, &[], &[]);
    assert_eq!(empty.human(false), "");
    assert_eq!(empty.github(), "::error title=pgconverge infrastructure error::connect to the server: connection refused <&>\n");
    let value: Value = serde_json::from_str(&empty.json()).unwrap();
    assert!(value.get("reports").is_none() && value.get("verdicts").is_none(), "{value}");
}

#[test]
#[cfg_attr(not(feature = "python-tests"), ignore = "python-tests tier: cargo test --features python-tests")]
fn junit_of_an_unfinished_run_has_consistent_counts_and_an_error_case() {
    let stopped = stopped();
    let verdicts = statement_failed().verdicts;
    let parsed = check_junit(&unfinished_run(&stopped, &[diverged()], &verdicts).junit());
    let suites = parsed["suites"].as_array().unwrap();
    assert_eq!(suites.len(), 2, "{parsed}");
    let stopped_suite = &suites[1];
    assert_eq!(stopped_suite["name"], "pgconverge fixtures/divergent/guard_wrong_name (stopped by an infrastructure error)");
    assert_eq!(stopped_suite["properties"]["exit_code"], "3");
    let run = stopped_suite["cases"].as_array().unwrap().last().unwrap().clone();
    assert_eq!((run["name"].as_str(), run["outcome"].as_str(), run["type"].as_str()), (Some("run"), Some("error"), Some("infrastructure")));
    assert_eq!(run["message"], "connect to the server: connection refused <&>");
}
