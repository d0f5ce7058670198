//! One migration set, several PostgreSQL majors: one verdict per major.

mod common;

use common::pgconverge;

#[test]
fn k12_converges_on_15_16_and_18_with_the_major_in_each_report() {
    let run = pgconverge(&["check", "fixtures/k12_lms", "--pg", "15,16,18", "--properties", "fresh,idempotent", "--format", "json"]);
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
    let run = pgconverge(&["check", "fixtures/majors/system_user", "--pg", "15,16,18", "--properties", "fresh", "--format", "json"]);
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
