//! A failure found once is saved (its seed and its case by name), replayed on the next run, and written out
//! as a repro script that psql alone turns into the same failure.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::{pgconverge, run_with_psql};

#[test]
fn a_saved_seed_is_replayed_and_fails_the_same_way() {
    let regressions = tempfile::tempdir().unwrap();
    let dir = "fixtures/divergent/enum_value_two_branches";
    let first = pgconverge(&[
        "check",
        dir,
        "--properties",
        "order",
        "--cases",
        "128",
        "--seed",
        "3",
        "--format",
        "json",
        "--regressions",
        regressions.path().to_str().unwrap(),
    ]);
    assert_eq!(first.code, 1, "{}{}", first.stdout, first.stderr);
    let seed_file = regressions.path().join("pgconverge-order.txt");
    let saved = std::fs::read_to_string(&seed_file).expect("the failing seed is saved");
    assert!(saved.lines().any(|l| l.starts_with("cc ")), "{saved}");

    let replay =
        pgconverge(&["replay", dir, "--properties", "order", "--format", "json", "--regressions", regressions.path().to_str().unwrap()]);
    assert_eq!(replay.code, 1, "the saved seed fails again: {}{}", replay.stdout, replay.stderr);
    let first: serde_json::Value = serde_json::from_str(&first.stdout).unwrap();
    let replayed: serde_json::Value = serde_json::from_str(&replay.stdout).unwrap();
    assert_eq!(first["verdicts"][0]["case"]["order"], replayed["verdicts"][0]["case"]["order"]);

    assert_eq!(replayed["verdicts"][0]["replayed"]["still_failing"], 1, "{replayed}");

    // Without the seed file, a replay has nothing to run: an input error, not a pass.
    std::fs::remove_file(&seed_file).unwrap();
    let empty = pgconverge(&["replay", dir, "--properties", "order", "--regressions", regressions.path().to_str().unwrap()]);
    assert_eq!(empty.code, 2, "{}{}", empty.stdout, empty.stderr);
    assert!(empty.stderr.contains("nothing to replay"), "{}", empty.stderr);
}

#[test]
fn repro_scripts_reproduce_with_psql_alone() {
    for (dir, property, expected) in [
        ("fixtures/divergent/concurrent_index_not_resumable", "interrupt", "relation \"index_a\" already exists"),
        ("fixtures/divergent/enum_value_two_branches", "order", "pgconverge: type public.status: labels"),
        (
            "fixtures/divergent/guard_misses_partial_state",
            "partial",
            "pgconverge: index public.index_invoices_on_account_id: expected, not found",
        ),
    ] {
        let out = tempfile::tempdir().unwrap();
        std::fs::set_permissions(out.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut args = vec!["check", dir, "--properties", property, "--cases", "128", "--seed", "5", "--no-persist"];
        args.extend(["--repro-dir", out.path().to_str().unwrap()]);
        if property == "partial" {
            args.extend(["--granularity", "object"]);
        }
        let run = pgconverge(&args);
        assert_eq!(run.code, 1, "{dir}: {}{}", run.stdout, run.stderr);
        let script = out.path().join(format!("{property}.sql"));
        assert!(run.stdout.contains(&script.display().to_string()), "{dir}: the report names the repro script:\n{}", run.stdout);
        let (code, stderr) = run_with_psql(&script);
        assert_ne!(code, 0, "{dir}: the repro must fail");
        assert!(stderr.contains(expected), "{dir}: psql said:\n{stderr}\nscript:\n{}", std::fs::read_to_string(&script).unwrap());
    }
}
