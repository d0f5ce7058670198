//! One migration set, several PostgreSQL majors: one verdict per major. The `majors-tests`
//! tier: needs PostgreSQL 16 and 18 server binaries, installed or fetched from PyPI wheels by
//! `scripts/fetch-postgres` (the embedded backend fetches them on first use).

mod common;

// `--pg` starts a server of each major: a URL cannot stand in for them.
use common::pgconverge_embedded;
use common::require_major;
use pgconverge::runner::{self, EmbeddedCluster};

#[test]
fn fetched_majors_start_and_report_their_version() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    for major in [16, 18] {
        let binaries = require_major(major);
        assert_eq!(binaries.major, major);
        let version = runtime.block_on(async {
            let cluster = EmbeddedCluster::start_with(binaries.clone()).await.unwrap_or_else(|e| panic!("PostgreSQL {major}: {e}"));
            runner::server_version(&cluster).await.expect("the cluster answers")
        });
        assert_eq!(version.major, major, "{}", binaries.bin_dir.display());
        eprintln!("PostgreSQL {version} from {}", binaries.bin_dir.display());
    }
}

#[test]
fn k12_converges_on_15_16_and_18_with_the_major_in_each_report() {
    require_major(16);
    require_major(18);
    let run =
        pgconverge_embedded(&["check", "fixtures/k12_lms", "--pg", "15,16,18", "--properties", "fresh,idempotent", "--format", "json"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let value: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(value["majors"], serde_json::json!([15, 16, 18]));
    let reports = value["reports"].as_array().unwrap();
    for (report, major) in reports.iter().zip([15, 16, 18]) {
        assert_eq!(report["major"], major);
        assert!(report["server_version"].as_str().unwrap().starts_with(&format!("{major}.")));
        assert!(report["verdicts"].as_array().unwrap().iter().all(|v| v["status"] == "pass"), "{report}");
    }
}

#[test]
fn a_migration_that_needs_16_fails_on_15_only() {
    require_major(16);
    require_major(18);
    let run =
        pgconverge_embedded(&["check", "fixtures/majors/system_user", "--pg", "15,16,18", "--properties", "fresh", "--format", "json"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let value: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let statuses: Vec<(&str, &str)> = value["reports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["verdicts"][0]["status"].as_str().unwrap(), r["status"].as_str().unwrap()))
        .collect();
    assert_eq!(statuses, vec![("fail", "counterexample"), ("pass", "converges"), ("pass", "converges")]);
    let failure = &value["reports"][0]["verdicts"][0]["failure"];
    assert_eq!(failure["migration"], "20260401000002_audit_view");
}

#[test]
fn diff_across_majors_reports_real_differences_only() {
    require_major(18);
    let dir = tempfile::tempdir().unwrap();
    let dump = |source: &str, major: &str, name: &str, project: &str| {
        let path = dir.path().join(name);
        let run = pgconverge_embedded(&["dump", project, "--source", source, "--pg", major, "--format", "json"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        std::fs::write(&path, run.stdout).unwrap();
        path.to_str().unwrap().to_string()
    };
    // 18 adds NOT NULL constraints to pg_constraint and MAINTAIN to the owner's default
    // privileges: neither is a difference in the schema.
    let k12_15 = dump("migrations", "15", "k12-15.json", "fixtures/k12_lms");
    let k12_18 = dump("migrations", "18", "k12-18.json", "fixtures/k12_lms");
    let same = pgconverge_embedded(&["diff", &k12_15, &k12_18]);
    assert_eq!((same.code, same.stdout.as_str()), (0, "no differences\n"), "{}", same.stderr);
    // A real difference still shows across majors.
    let reference_15 = dump("reference", "15", "dm-15.json", "fixtures/divergent/default_mismatch");
    let migrations_18 = dump("migrations", "18", "dm-18.json", "fixtures/divergent/default_mismatch");
    let different = pgconverge_embedded(&["diff", &reference_15, &migrations_18]);
    assert_eq!(different.code, 1);
    assert_eq!(
        different.stdout,
        "column public.ai_provider_configs.status: default 'inactive'::varchar expected, 'active'::varchar found\n"
    );
}
