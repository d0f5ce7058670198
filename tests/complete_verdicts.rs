//! fresh, idempotent and reversible judge migrations one by one: one run names every migration
//! that fails (`Verdict::findings`), and the migrations an earlier failure kept a property from
//! checking are `not reached`, never `ok`. On the test process's shared server.

mod common;

use std::path::Path;

use pgconverge::compare::Change;
use pgconverge::model::MigrationFinding;
use pgconverge::{Check, Failure, ObjectKind, Property, Report, Verdict, VerdictStatus};

fn check(dir: &Path, properties: &[Property]) -> Report {
    let _slot = common::shared_server_slot();
    Check::new(dir)
        .database_url(common::shared_server_url())
        .properties(properties.iter().copied())
        .no_persistence()
        .run()
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
}

fn verdict(report: &Report, property: Property) -> &Verdict {
    report.verdicts.iter().find(|v| v.property == property).unwrap_or_else(|| panic!("no {property} verdict"))
}

/// The table's rows, cells split on whitespace.
fn table_rows(report: &Report) -> Vec<Vec<String>> {
    let text = pgconverge::report::table(report, &report.migration_ids);
    text.lines().map(|l| l.split_whitespace().map(str::to_string).collect()).collect()
}

fn statement_error(finding: &MigrationFinding) -> (&str, &str) {
    match &finding.failure {
        Failure::StatementFailed { migration, error, .. } => (migration.as_str(), error.code.as_str()),
        other => panic!("{}: expected a failed statement, got {other:?}", finding.migration),
    }
}

/// `(kind, object, change)` of each difference, for a finding that diverged.
fn differences(finding: &MigrationFinding) -> Vec<(ObjectKind, &str, &Change)> {
    match &finding.failure {
        Failure::Diverged { differences, .. } => differences.iter().map(|d| (d.kind, d.object.as_str(), &d.change)).collect(),
        other => panic!("{}: expected a divergence, got {other:?}", finding.migration),
    }
}

const ACCOUNTS: &str = "20260310000001_create_accounts";
const ORDERS: &str = "20260310000002_create_orders";
const PAYMENTS: &str = "20260310000003_create_payments";

#[test]
fn one_run_names_every_reentrant_migration_that_breaks_on_a_rerun() {
    let report = check(Path::new("fixtures/divergent/three_broken_reentrant"), &[Property::Fresh, Property::Idempotent]);
    let text = pgconverge::report::human(&report, false);
    assert_eq!(verdict(&report, Property::Fresh).status, VerdictStatus::Pass, "{text}");
    let idempotent = verdict(&report, Property::Idempotent);
    assert_eq!(idempotent.status, VerdictStatus::Fail, "{text}");
    let named: Vec<&str> = idempotent.findings.iter().map(|f| f.migration.as_str()).collect();
    assert_eq!(named, [ACCOUNTS, ORDERS, PAYMENTS], "{text}");
    assert_eq!(idempotent.cases, 3);

    // The re-run of create_accounts fails: its unique index exists.
    assert_eq!(statement_error(&idempotent.findings[0]), (ACCOUNTS, "42P07"));
    // create_orders succeeds but loses its primary key (each re-run started from the migrated
    // state: nothing else differs).
    let orders = differences(&idempotent.findings[1]);
    assert!(orders.iter().any(|(kind, object, change)| *kind == ObjectKind::Constraint
        && *object == "public.orders.orders_pkey"
        && matches!(change, Change::Missing)));
    assert!(orders.iter().all(|(_, object, _)| object.contains("orders")), "{orders:?}");
    // create_payments, outside a transaction, re-ran in sequence: one more unnamed index, and
    // nothing of the other two migrations' doing.
    let payments = differences(&idempotent.findings[2]);
    assert_eq!(payments.len(), 1, "{payments:?}");
    assert_eq!((payments[0].0, payments[0].1), (ObjectKind::Index, "public.payments_order_number_idx1"));
    assert!(matches!(payments[0].2, Change::Unexpected), "{payments:?}");
    // Its second re-run, for the now()-like check, adds a third index: not nondeterminism.
    assert!(report.nondeterministic.is_empty(), "{text}");

    // The single counterexample is the first finding; the summary counts and names them all.
    assert_eq!(idempotent.failure.as_ref(), Some(&idempotent.findings[0].failure));
    assert!(idempotent.summary.starts_with("3 of 3 re-entrant migrations fail on a re-run: "), "{}", idempotent.summary);
    for finding in &idempotent.findings {
        assert!(idempotent.summary.contains(&finding.migration), "{}", idempotent.summary);
        assert!(finding.file.ends_with(format!("{}.sql", finding.migration)), "{}", finding.file.display());
    }
    let rows = table_rows(&report);
    assert_eq!(rows[0], ["migration", "fresh", "idempotent"]);
    for row in &rows[1..4] {
        assert_eq!(row[1..], ["ok", "fail"], "{text}");
    }
    assert_eq!(rows[4], ["all", "ok", "fail"]);
}

/// `fixtures/divergent/down_leaves_trace` (the down of create_tickets leaves its enum behind),
/// with `change` made to a copy.
fn down_leaves_trace_with(file: &str, text: &str) -> tempfile::TempDir {
    let copy = common::copy_of(Path::new("fixtures/divergent/down_leaves_trace"));
    std::fs::write(copy.path().join("migrations").join(file), text).unwrap();
    copy
}

const USERS: &str = "20260304000001_create_users";
const TICKETS: &str = "20260304000002_create_tickets";
const CLOSED_AT: &str = "20260304000003_add_tickets_closed_at";

#[test]
fn reversible_reports_every_broken_down_and_checks_the_rest() {
    // A second broken down, after the one that leaves a trace: it drops a column that is not there.
    let project = down_leaves_trace_with("20260304000003_add_tickets_closed_at.down.sql", "ALTER TABLE tickets DROP COLUMN closed_on;\n");
    let report = check(project.path(), &[Property::Reversible]);
    let text = pgconverge::report::human(&report, false);
    let reversible = verdict(&report, Property::Reversible);
    assert_eq!(reversible.status, VerdictStatus::Fail, "{text}");
    let named: Vec<&str> = reversible.findings.iter().map(|f| f.migration.as_str()).collect();
    assert_eq!(named, [TICKETS, CLOSED_AT], "{text}");
    let trace = differences(&reversible.findings[0]);
    assert!(trace.iter().any(|(kind, object, _)| *kind == ObjectKind::Type && *object == "public.ticket_priority"), "{trace:?}");
    // The second down ran on the state after the first's up, rebuilt: it fails on its own bug.
    assert_eq!(statement_error(&reversible.findings[1]), (format!("{CLOSED_AT} (down)").as_str(), "42703"));
    assert!(reversible.not_reached.is_empty());
    assert_eq!(reversible.cases, 3, "every migration with a down was checked");
    assert!(reversible.summary.starts_with("2 migrations fail: "), "{}", reversible.summary);
    let rows = table_rows(&report);
    assert_eq!(rows[1..4], [vec![USERS, "ok"], vec![TICKETS, "fail"], vec![CLOSED_AT, "fail"]], "{text}");
}

#[test]
fn a_migration_that_fails_on_an_empty_database_leaves_the_later_ones_not_reached() {
    let project =
        down_leaves_trace_with("20260304000002_create_tickets.up.sql", "CREATE INDEX index_tickets_on_user_id ON tickets (user_id);\n");
    let report = check(project.path(), &[Property::Fresh, Property::Reversible]);
    let text = pgconverge::report::human(&report, false);
    for property in [Property::Fresh, Property::Reversible] {
        let verdict = verdict(&report, property);
        assert_eq!(verdict.status, VerdictStatus::Fail, "{text}");
        assert_eq!(verdict.findings.len(), 1, "{text}");
        assert_eq!(statement_error(&verdict.findings[0]), (TICKETS, "42P01"));
        assert_eq!(verdict.not_reached, [CLOSED_AT], "{text}");
        assert!(verdict.summary.ends_with("; 1 later migration not reached"), "{}", verdict.summary);
    }
    let rows = table_rows(&report);
    assert_eq!(rows[0], ["migration", "fresh", "reversible"]);
    assert_eq!(
        rows[1..5],
        [vec![USERS, "ok", "ok"], vec![TICKETS, "fail", "fail"], vec![CLOSED_AT, "-", "-"], vec!["all", "fail", "fail"]]
    );
    assert!(rows[5].join(" ").starts_with("-: not reached"), "{text}");
}
