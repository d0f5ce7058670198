//! Snapshots of the CLI's reports for a planted bug of each kind of failure.

mod common;

use common::pgconverge;

fn settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    // The backend line names this machine's server binaries and version, or the shared server's
    // socket directory.
    settings.add_filter(r"embedded PostgreSQL [0-9.]+ \([^)]*\)", "[backend]");
    settings.add_filter(r"server at postgres://\S+", "[backend]");
    settings
}

#[test]
fn divergence_report() {
    let run = pgconverge(&["check", "fixtures/divergent/default_mismatch", "--color", "never", "--properties", "fresh,idempotent"]);
    assert_eq!(run.code, 1);
    settings().bind(|| insta::assert_snapshot!("default_mismatch_human", run.stdout));
}

#[test]
fn statement_failure_report() {
    let run = pgconverge(&["check", "fixtures/divergent/guard_wrong_name", "--color", "never", "--properties", "fresh,idempotent"]);
    assert_eq!(run.code, 1);
    settings().bind(|| insta::assert_snapshot!("guard_wrong_name_human", run.stdout));
}

#[test]
fn json_report() {
    let run = pgconverge(&["check", "fixtures/divergent/missing_index", "--format", "json", "--properties", "fresh,idempotent"]);
    assert_eq!(run.code, 1);
    let value: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    insta::assert_json_snapshot!("missing_index_json", value, {
        ".backend" => "[backend]",
        ".server_version" => "[version]",
    });
}

#[test]
fn every_failing_reentrant_migration_report() {
    let run = pgconverge(&["check", "fixtures/divergent/three_broken_reentrant", "--color", "never", "--properties", "fresh,idempotent"]);
    assert_eq!(run.code, 1);
    settings().bind(|| insta::assert_snapshot!("three_broken_reentrant_human", run.stdout));
}

// ---------------------------------------------------------------------------------------------
// The human report on reports built by hand: no server needed.

mod by_hand {
    use std::path::PathBuf;

    use pgconverge::compare::{Change, Difference, Severity};
    use pgconverge::migration::Location;
    use pgconverge::model::{CaseReport, Timing};
    use pgconverge::report::{github, human, junit, Matrix};
    use pgconverge::runner::PgError;
    use pgconverge::{Failure, ObjectKind, Property, Report, Shard, Status, Verdict, VerdictStatus};

    /// The widest a verdict line may be.
    const VERDICT_LINE_LIMIT: usize = 160;

    fn ids(prefix: &str, n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("2026{:02}{:02}000000_{prefix}_{i}", 1 + (i - 1) / 28, 1 + (i - 1) % 28)).collect()
    }

    fn report(project: &str, migration_ids: Vec<String>, status: Status, verdicts: Vec<Verdict>) -> Report {
        Report {
            status,
            project: PathBuf::from(project),
            format: "sqlx".into(),
            format_detection: None,
            migrations: migration_ids.len(),
            migration_ids,
            reference: None,
            backend: "embedded PostgreSQL 15.18 (/usr/local/bin)".into(),
            backend_reason: None,
            server_version: "15.18".into(),
            major: 15,
            reference_objects: 0,
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

    fn timing(jobs: usize) -> Timing {
        Timing {
            elapsed_ms: 2500.0,
            amortized_ms: 12.5,
            per_case_ms: Some(40.0),
            dump_ms: Some(3.0),
            judged: 150,
            warm_databases: jobs as u32,
            recycled: 0,
            jobs,
        }
    }

    fn column_order(table: &str, expected: &[&str], found: &[&str]) -> Difference {
        Difference {
            kind: ObjectKind::Table,
            object: table.into(),
            change: Change::Attribute {
                attribute: "column_order".into(),
                expected: Some(expected.join(", ")),
                found: Some(found.join(", ")),
            },
            severity: Severity::Warning,
            dependents: 0,
        }
    }

    /// 461 column-order warnings over 37 tables (the generated cases found several orders of
    /// the same table), and two warnings of another kind.
    fn many_warnings() -> Report {
        let columns = ["id", "a", "b", "c", "d"];
        let mut warnings = Vec::new();
        let mut orders = Vec::new();
        // Every order of a..d but the expected one: 23 distinct found orders per table.
        for p in permutations(&columns[1..]) {
            if p != columns[1..] {
                orders.push([vec!["id"], p].concat());
            }
        }
        for table in 0..37 {
            let variants = if table < 17 { 13 } else { 12 };
            for order in orders.iter().take(variants) {
                warnings.push(column_order(&format!("public.table_{table:02}"), &columns, order));
            }
        }
        assert_eq!(warnings.len(), 461);
        for comment in ["public.table_00", "public.table_01"] {
            warnings.push(Difference {
                kind: ObjectKind::Comment,
                object: comment.into(),
                change: Change::Attribute { attribute: "text".into(), expected: Some("'x'".into()), found: Some("'y'".into()) },
                severity: Severity::Warning,
                dependents: 0,
            });
        }
        let mut order =
            verdict(Property::Order, VerdictStatus::Pass, "500 cases converged to the canonical catalog over 480 distinct orders");
        order.cases = 500;
        order.timing = Some(timing(2));
        order.warnings = warnings;
        let mut r = report("fixtures/big", ids("create", 3), Status::Converges, vec![order]);
        r.seed = Some(7);
        r
    }

    fn permutations<'a>(items: &[&'a str]) -> Vec<Vec<&'a str>> {
        if items.len() <= 1 {
            return vec![items.to_vec()];
        }
        let mut all = Vec::new();
        for (i, first) in items.iter().enumerate() {
            let rest: Vec<&str> = items.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, x)| *x).collect();
            for tail in permutations(&rest) {
                all.push([vec![*first], tail].concat());
            }
        }
        all
    }

    #[test]
    fn warnings_are_summed_up_per_kind() {
        let r = many_warnings();
        let text = human(&r, false);
        insta::assert_snapshot!("many_warnings_human", text);
        let warning_lines = text.lines().filter(|l| l.trim_start().starts_with("warning: ")).count();
        assert_eq!(warning_lines, 3, "one line for the column orders, one per comment:\n{text}");
        // The JSON report keeps every warning.
        let json: serde_json::Value = serde_json::from_str(&Matrix { reports: vec![r] }.json()).unwrap();
        assert_eq!(json["verdicts"][0]["warnings"].as_array().unwrap().len(), 463);
    }

    /// A minimal `partial` case after 57 applied migrations, with everything a case can name.
    fn long_case() -> Report {
        let migration_ids = ids("step", 61);
        let failing_id = migration_ids[59].clone();
        let failure = Failure::StatementFailed {
            migration: failing_id.clone(),
            statement: 3,
            location: Location { file: format!("fixtures/big/./migrations/{failing_id}.sql").into(), line: 12, column: 5 },
            sql: "CREATE INDEX orders_customer_idx\n    ON orders (customer_id)".into(),
            error: PgError {
                code: "42P07".into(),
                message: "relation \"orders_customer_idx\" already exists".into(),
                detail: None,
                hint: None,
                context: None,
                position: None,
            },
        };
        let mut partial = verdict(
            Property::Partial,
            VerdictStatus::Fail,
            &format!("{failing_id} fails on a start state with 57 applied migrations and 1 pre-existing object"),
        );
        partial.cases = 180;
        partial.failure = Some(failure);
        partial.timing = Some(timing(1));
        partial.case = Some(CaseReport {
            description: partial.summary.clone(),
            applied: migration_ids[..57].to_vec(),
            preexisting: vec!["index public.orders_customer_idx".into()],
            interrupted: None,
            order: migration_ids[57..].iter().rev().cloned().collect(),
            out_of_order: vec![
                [migration_ids[60].clone(), migration_ids[59].clone()],
                [migration_ids[60].clone(), migration_ids[58].clone()],
            ],
            hidden_dependency: None,
            blamed: vec![failing_id.clone()],
            regressions: Some("fixtures/big/./proptest-regressions/pgconverge-partial.txt".into()),
            repro: Some("fixtures/big/proptest-regressions/partial.sql".into()),
        });
        let fresh = verdict(Property::Fresh, VerdictStatus::Pass, "61 migrations applied in order to an empty database");
        let mut r = report("fixtures/big/.", migration_ids, Status::Counterexample, vec![fresh, partial]);
        r.seed = Some(99);
        r.shard = Some(Shard { index: 2, count: 4 });
        r
    }

    #[test]
    fn a_failing_case_prints_each_fact_once() {
        let text = human(&long_case(), false);
        insta::assert_snapshot!("long_case_human", text);
        let failing_id = &long_case().migration_ids[59];
        let error = "relation \"orders_customer_idx\" already exists";
        assert_eq!(text.matches(error).count(), 1, "{text}");
        assert_eq!(text.matches("12:5").count(), 1, "{text}");
        assert!(!text.contains("/./"), "{text}");
        // The 57 applied migrations are counted, not listed.
        assert!(text.contains("applied (57):"), "{text}");
        let applied = text.lines().find(|l| l.contains("applied (57):")).unwrap();
        assert!(!applied.contains(&long_case().migration_ids[27]), "{applied}");
        assert!(text.contains(failing_id), "{text}");
        assert!(text.contains("seed 99, shard 2/4 (rerun the same cases with --seed 99 --shard 2/4)"), "{text}");
        assert!(text.contains(", 1 job\n"), "{text}");
    }

    #[test]
    fn other_formats_name_the_shard_and_normalized_paths() {
        let r = long_case();
        let annotations = github(&r);
        assert!(annotations.contains("rerun the same cases with --seed 99 --shard 2/4"), "{annotations}");
        assert!(annotations.contains("file=fixtures/big/migrations/"), "{annotations}");
        let xml = junit(&r);
        assert!(xml.contains("<property name=\"shard\" value=\"2/4\"/>"), "{xml}");
        for text in [&annotations, &xml] {
            assert!(!text.contains("/./") && !text.contains("big/."), "{text}");
        }
    }

    /// The summary a generated case had before its parts became fields: 400 characters.
    const LONG_SUMMARY: &str = "applied: 20260101000000_create_schools, 20260102000000_create_courses, 20260103000000_create_enrollments, \
        20260104000000_create_assignments, 20260105000000_create_submissions, 20260106000000_create_grades and 12 more; \
        with only index public.enrollments_course_id_idx pre-existing; 3 pending: 20260120000000_add_enrollment_index fails \
        at migrations/20260120000000_add_enrollment_index.sql:3:1: relation \"enrollments_course_id_idx\" already exists";

    #[test]
    fn a_long_summary_is_cut_at_a_word() {
        let mut failing = verdict(Property::Partial, VerdictStatus::Fail, LONG_SUMMARY);
        failing.case = Some(CaseReport {
            description: LONG_SUMMARY.into(),
            applied: vec![],
            preexisting: vec![],
            interrupted: None,
            order: vec![],
            out_of_order: vec![],
            hidden_dependency: None,
            blamed: vec![],
            regressions: None,
            repro: None,
        });
        let text = human(&report("p", vec![], Status::Counterexample, vec![failing]), false);
        let line = text.lines().find(|l| l.contains("FAIL")).unwrap();
        assert!(line.chars().count() < VERDICT_LINE_LIMIT, "{} characters: {line}", line.chars().count());
        assert!(line.ends_with('…'), "{line}");
        // Every word on the line is a whole word of the summary: no identifier cut in half.
        let words: Vec<&str> = LONG_SUMMARY.split_whitespace().collect();
        let shown = line.trim_start().trim_start_matches("FAIL").trim_start().trim_start_matches("partial").trim_end_matches('…');
        for word in shown.split_whitespace() {
            assert!(
                words.iter().any(|w| w.trim_end_matches([',', ';', ':']) == word.trim_end_matches([',', ';', ':'])),
                "{word} in {line}"
            );
        }
        assert!(text.lines().all(|l| l.chars().count() < VERDICT_LINE_LIMIT), "{text}");
    }

    #[test]
    fn a_long_summary_with_nothing_below_keeps_its_rest() {
        let summary = format!("could not be decided: {}", LONG_SUMMARY);
        let incomplete = verdict(Property::Order, VerdictStatus::Incomplete, &summary);
        let text = human(&report("p", vec![], Status::Incomplete, vec![incomplete]), false);
        let line = text.lines().find(|l| l.contains("inc.")).unwrap();
        assert!(line.chars().count() < VERDICT_LINE_LIMIT, "{line}");
        // Nothing is lost: the words of the summary all appear, in order.
        let printed: Vec<&str> = text.split_whitespace().map(|w| w.trim_matches('…')).filter(|w| !w.is_empty()).collect();
        let mut at = 0;
        for word in summary.split_whitespace() {
            let found = printed[at..].iter().position(|p| p.trim_end_matches([',', ';', ':']) == word.trim_end_matches([',', ';', ':']));
            at += found.unwrap_or_else(|| panic!("`{word}` missing from\n{text}")) + 1;
        }
    }

    /// Counts of one and of two, in every format.
    #[test]
    fn counts_agree_with_their_nouns() {
        let mut one = verdict(Property::Order, VerdictStatus::Pass, "1 case converged to the canonical catalog over 1 distinct order");
        one.timing = Some(timing(1));
        let mut single = report("p", ids("only", 1), Status::Converges, vec![one]);
        single.seed = Some(1);
        let human_single = human(&single, false);
        insta::assert_snapshot!("plurals_single_human", human_single);
        assert!(human_single.contains("  1 migration (sqlx)"), "{human_single}");
        assert!(human_single.contains(", 1 job\n"), "{human_single}");
        assert!(human_single.contains("converges: 1 property holds"), "{human_single}");
        assert!(github(&single).contains("converges: 1 property holds"), "{}", github(&single));

        let mut two = verdict(Property::Order, VerdictStatus::Pass, "2 cases converged");
        two.timing = Some(timing(2));
        let twice = report("p", ids("m", 2), Status::Converges, vec![two.clone(), two.clone()]);
        let human_twice = human(&twice, false);
        assert!(human_twice.contains("  2 migrations (sqlx)") && human_twice.contains(", 2 jobs\n"), "{human_twice}");
        assert!(human_twice.contains("converges: 2 properties hold"), "{human_twice}");

        let fail = verdict(Property::Fresh, VerdictStatus::Fail, "fails");
        let one_of_one = report("p", ids("m", 2), Status::Counterexample, vec![fail.clone()]);
        assert!(human(&one_of_one, false).contains("counterexample: 1 of 1 property fails"), "{}", human(&one_of_one, false));
        assert!(github(&one_of_one).contains("counterexample: 1 of 1 property fails"), "{}", github(&one_of_one));
        let two_of_three = report("p", ids("m", 2), Status::Counterexample, vec![fail.clone(), fail, two.clone()]);
        assert!(human(&two_of_three, false).contains("counterexample: 2 of 3 properties fail\n"), "{}", human(&two_of_three, false));

        let stuck = verdict(Property::Partial, VerdictStatus::Incomplete, "could not be decided: the server stopped");
        let incomplete = report("p", ids("m", 2), Status::Incomplete, vec![stuck.clone(), two.clone()]);
        let text = human(&incomplete, false);
        assert!(text.contains("incomplete: 1 property could not run all of its cases; 1 property holds"), "{text}");
        let incomplete = report("p", ids("m", 2), Status::Incomplete, vec![stuck.clone(), stuck]);
        let text = human(&incomplete, false);
        assert!(text.contains("incomplete: 2 properties could not run all of their cases; 0 properties hold"), "{text}");

        let mut unstable = report("p", ids("m", 2), Status::Nondeterministic, vec![two]);
        unstable.nondeterministic = vec!["view public.v".into()];
        let text = human(&unstable, false);
        assert!(text.contains("but 1 object differs from run to run"), "{text}");
    }
}

#[test]
fn project_paths_print_as_the_user_would_write_them() {
    for given in ["fixtures/k12_lms/.", "./fixtures/k12_lms", "fixtures/./k12_lms/"] {
        let run = pgconverge(&["check", given, "--color", "never", "--properties", "fresh"]);
        assert_eq!(run.code, 0, "{given}: {}{}", run.stdout, run.stderr);
        assert_eq!(run.stdout.lines().next(), Some("pgconverge check fixtures/k12_lms"), "{given}:\n{}", run.stdout);
        assert!(run.stdout.contains("reference fixtures/k12_lms/schema.sql,"), "{given}:\n{}", run.stdout);
        assert!(!run.stdout.contains("/./") && !run.stdout.contains("k12_lms/."), "{given}:\n{}", run.stdout);
    }
}
