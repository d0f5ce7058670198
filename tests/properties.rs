//! The generated properties on the fixtures: each planted bug is caught by its property and
//! shrunk to its minimal case; correct sets produce no false positives. On the test process's
//! shared server, except k12, which keeps the library's default embedded cluster.

mod common;

use pgconverge::model::Granularity;
use pgconverge::{Check, Failure, Property, Report, Verdict, VerdictStatus};

fn check(dir: &str, properties: &[Property], cases: u32) -> Report {
    let _slot = common::shared_server_slot();
    Check::new(dir)
        .database_url(common::shared_server_url())
        .properties(properties.iter().copied())
        .cases(cases)
        .seed(20261127)
        .no_persistence()
        .run()
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
}

fn failing(report: &Report, property: Property) -> &Verdict {
    report
        .verdicts
        .iter()
        .find(|v| v.property == property && v.status == VerdictStatus::Fail)
        .unwrap_or_else(|| panic!("{property} did not fail:\n{}", pgconverge::report::human(report, false)))
}

#[test]
fn k12_passes_every_default_property_at_256_cases_and_says_what_it_covered() {
    let report = Check::new("fixtures/k12_lms").cases(256).no_persistence().run().unwrap();
    let text = pgconverge::report::human(&report, false);
    assert!(report.converges(), "{text}");
    let names: Vec<&str> = report.verdicts.iter().map(|v| v.property.name()).collect();
    assert_eq!(names, ["fresh", "idempotent", "partial", "order", "interrupt", "reversible"], "{text}");
    let partial = report.verdicts.iter().find(|v| v.property == Property::Partial).unwrap();
    assert_eq!(partial.cases, 256, "{text}");
    assert!(partial.summary.contains("distinct start states"), "{}", partial.summary);
    let order = report.verdicts.iter().find(|v| v.property == Property::Order).unwrap();
    assert!(order.summary.contains("distinct orders"), "{}", order.summary);
    // k12 has no non-transactional and no down migrations: reported, not silently skipped.
    for property in [Property::Interrupt, Property::Reversible] {
        let verdict = report.verdicts.iter().find(|v| v.property == property).unwrap();
        assert_eq!(verdict.status, VerdictStatus::Skipped);
        assert!(verdict.summary.starts_with("not applicable"), "{}", verdict.summary);
    }
}

#[test]
fn a_guard_that_misses_a_partial_state_shrinks_to_one_preexisting_object() {
    let slot = common::shared_server_slot();
    let report = Check::new("fixtures/divergent/guard_misses_partial_state")
        .database_url(common::shared_server_url())
        .properties([Property::Partial])
        .granularity(Granularity::Object)
        .cases(128)
        .seed(7)
        .no_persistence()
        .run()
        .unwrap();
    drop(slot);
    let verdict = failing(&report, Property::Partial);
    let case = verdict.case.as_ref().unwrap();
    assert_eq!(case.preexisting, vec!["table public.invoices".to_string()], "{}", case.description);
    match verdict.failure.as_ref().unwrap() {
        Failure::Diverged { differences, .. } => {
            assert!(differences.iter().any(|d| d.object == "public.index_invoices_on_account_id"), "{differences:?}")
        }
        other => panic!("expected a divergence, got {other:?}"),
    }
    assert!(case.description.starts_with("pre-existing table public.invoices: "), "{}", case.description);
    assert_eq!(case.blamed, vec!["20260301000002_create_invoices".to_string()], "{}", case.description);
}

#[test]
fn an_enum_value_added_by_two_branches_shrinks_to_two_migrations_out_of_order() {
    let report = check("fixtures/divergent/enum_value_two_branches", &[Property::Order], 128);
    let verdict = failing(&report, Property::Order);
    let case = verdict.case.as_ref().unwrap();
    // Exactly one inversion, of exactly the two ADD VALUE migrations; one of them pending (the
    // other may be pending too, or applied earlier, as on an environment that got its branch first).
    assert_eq!(
        case.out_of_order,
        vec![["20260302000003_add_deleted_status".to_string(), "20260302000002_add_archived_status".to_string()]],
        "{}",
        case.description
    );
    assert!(case.order.len() <= 2 && case.order.iter().all(|m| m.contains("_status")), "{}", case.description);
    match verdict.failure.as_ref().unwrap() {
        Failure::Diverged { differences, .. } => assert!(differences.iter().any(|d| d.object == "public.status")),
        other => panic!("expected a divergence, got {other:?}"),
    }
}

#[test]
fn a_concurrent_index_migration_that_cannot_resume_is_caught_by_interrupt() {
    let report = check("fixtures/divergent/concurrent_index_not_resumable", &[Property::Interrupt], 64);
    let verdict = failing(&report, Property::Interrupt);
    let case = verdict.case.as_ref().unwrap();
    assert_eq!(case.interrupted.as_deref(), Some("20260303000002_index_t stopped after 1 of 2 statements"), "{}", case.description);
    match verdict.failure.as_ref().unwrap() {
        Failure::StatementFailed { migration, error, .. } => {
            assert_eq!(migration, "20260303000002_index_t");
            assert_eq!(error.code, "42P07");
        }
        other => panic!("expected a statement failure, got {other:?}"),
    }
}

#[test]
fn a_down_migration_that_leaves_a_trace_is_caught_by_reversible() {
    let report = check("fixtures/divergent/down_leaves_trace", &[Property::Reversible], 1);
    let verdict = failing(&report, Property::Reversible);
    match verdict.failure.as_ref().unwrap() {
        Failure::Diverged { differences, .. } => {
            assert!(differences.iter().any(|d| d.object == "public.ticket_priority"), "{differences:?}")
        }
        other => panic!("expected a divergence, got {other:?}"),
    }
}

#[test]
fn a_dependency_through_dynamic_sql_is_reported_as_a_hidden_order_dependency() {
    let report = check("fixtures/divergent/dynamic_sql_dependency", &[Property::Order], 128);
    let verdict = failing(&report, Property::Order);
    let case = verdict.case.as_ref().unwrap();
    assert_eq!(
        case.order,
        vec!["20260305000003_seed_theme_setting".to_string(), "20260305000001_create_settings".to_string()],
        "exactly two pending, out of order: {}",
        case.description
    );
    let hidden = case.hidden_dependency.as_ref().expect("a hidden order dependency");
    assert_eq!(hidden.migration, "20260305000003_seed_theme_setting");
    assert_eq!(hidden.needs, vec!["20260305000001_create_settings".to_string()]);
    assert_eq!(hidden.declare, r#"[dependencies] "20260305000003" = ["20260305000001"]"#);
    assert!(hidden.fixes().starts_with("declare it in pgconverge.toml"), "{}", hidden.fixes());
}

#[test]
fn correct_sets_have_no_false_positives() {
    for dir in ["fixtures/branches", "fixtures/reversible", "fixtures/concurrent_resumable", "fixtures/spelling_variants"] {
        let _slot = common::shared_server_slot();
        let report = Check::new(dir).database_url(common::shared_server_url()).cases(200).no_persistence().run().unwrap();
        assert!(report.converges(), "{}", pgconverge::report::human(&report, false));
    }
}

#[test]
fn same_table_column_adds_in_another_order_are_a_warning_not_a_failure() {
    let report = check("fixtures/branches", &[Property::Order], 128);
    assert!(report.converges(), "{}", pgconverge::report::human(&report, false));
    let order = &report.verdicts[0];
    assert!(
        order.warnings.iter().any(|w| w.to_string().contains("column_order")),
        "independent ADD COLUMNs in another order should warn: {:?}",
        order.warnings
    );
}

/// A guarded migration whose function a later migration replaces is re-entrant twice in a row
/// but not on the migrated database: its re-run puts its own definition back. `init` leaves it
/// out of `idempotent` and says why; listed anyway, it fails, and the finding names the later
/// migration. The `check` note does not count it among the guarded migrations left out.
#[test]
fn a_guarded_migration_a_later_one_supersedes_is_not_proposed_and_its_failure_says_why() {
    let project = tempfile::tempdir().unwrap();
    let migrations = project.path().join("migrations");
    std::fs::create_dir(&migrations).unwrap();
    let function = |n: u32| format!("CREATE OR REPLACE FUNCTION answer() RETURNS int LANGUAGE sql AS $$ SELECT {n} $$;\n");
    for (name, sql) in [
        ("20260101000001_create_t.sql", "CREATE TABLE t (a int);\n".to_string()),
        ("20260101000002_answer_two.sql", function(2)),
        ("20260101000003_answer_three.sql", function(3)),
        ("20260101000004_index_t.sql", "CREATE INDEX IF NOT EXISTS t_a ON t (a);\n".to_string()),
    ] {
        std::fs::write(migrations.join(name), sql).unwrap();
    }
    let dir = project.path().to_str().unwrap();

    let init = common::pgconverge(&["init", dir]);
    assert_eq!(init.code, 0, "{}{}", init.stdout, init.stderr);
    let config = std::fs::read_to_string(project.path().join("pgconverge.toml")).unwrap();
    let listed: Vec<&str> = config.lines().filter(|l| l.trim_start().starts_with("\"2026")).collect();
    assert!(listed.iter().all(|l| !l.contains("20260101000002")), "{config}");
    assert!(listed.iter().any(|l| l.contains("20260101000004")), "{config}");
    assert!(
        init.stdout.contains("20260101000002_answer_two.sql is guarded, but not listed as idempotent: 20260101000003_answer_three, a later migration, defines function public.answer again"),
        "{}",
        init.stdout
    );

    let report = check(dir, &[Property::Fresh, Property::Idempotent], 1);
    assert!(report.converges(), "init's own list holds: {}", pgconverge::report::human(&report, false));
    assert!(report.notes.iter().all(|n| !n.contains("20260101000002")), "{:?}", report.notes);

    std::fs::write(project.path().join("pgconverge.toml"), "idempotent = [\"20260101000002\", \"20260101000004\"]\n").unwrap();
    let report = check(dir, &[Property::Fresh, Property::Idempotent], 1);
    let idempotent = failing(&report, Property::Idempotent);
    let text = pgconverge::report::human(&report, false);
    let blamed: Vec<&str> = idempotent.findings.iter().map(|f| f.migration.as_str()).collect();
    assert_eq!(blamed, ["20260101000002_answer_two"], "{text}");
    assert!(
        idempotent.findings[0].summary.contains("20260101000003_answer_three, a later migration, defines function public.answer again"),
        "{text}"
    );
}

/// A case that hinges on an applied migration that ran before an older pending one names the
/// migration that writes the differing object: the one that added another label to the enum,
/// not the unrelated migration it depends on (whose deferral, with its dependents, also passes).
#[test]
fn an_out_of_order_case_names_the_applied_migration_that_writes_the_differing_object() {
    let project = tempfile::tempdir().unwrap();
    let migrations = project.path().join("migrations");
    std::fs::create_dir(&migrations).unwrap();
    for (name, sql) in [
        ("20260101000001_create_sort.sql", "CREATE TYPE sort AS ENUM ('hot');\n"),
        ("20260101000002_add_new.sql", "ALTER TYPE sort ADD VALUE 'new';\n"),
        ("20260101000003_create_site.sql", "CREATE TABLE site (id int);\n"),
        ("20260101000004_site_sort.sql", "ALTER TABLE site ADD COLUMN sort_by sort;\nALTER TYPE sort ADD VALUE 'top';\n"),
    ] {
        std::fs::write(migrations.join(name), sql).unwrap();
    }
    let report = check(project.path().to_str().unwrap(), &[Property::Fresh, Property::Partial], 64);
    let partial = failing(&report, Property::Partial);
    let case = partial.case.as_ref().expect("a minimal case");
    let text = pgconverge::report::human(&report, false);
    assert_eq!(case.order, ["20260101000002_add_new"], "{text}");
    assert_eq!(case.out_of_order, [["20260101000004_site_sort".to_string(), "20260101000002_add_new".to_string()]], "{text}");
    assert!(!case.blamed.iter().any(|m| m == "20260101000003_create_site"), "{text}");
}
