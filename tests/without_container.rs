//! A pgconverge built without the `container` feature (`cargo test --no-default-features
//! --features cli --test without_container`): asking for a container is an input error that
//! says why. With the feature (the default build) this file holds no test.
#![cfg(not(feature = "container"))]

use std::process::Command;

#[test]
fn backend_container_is_an_input_error_that_names_the_feature() {
    for (args, env) in [
        (vec!["check", "fixtures/k12_lms", "--backend", "container"], None),
        (vec!["check", "fixtures/k12_lms"], Some(("PGCONVERGE_BACKEND", "container"))),
    ] {
        let mut command = Command::new(env!("CARGO_BIN_EXE_pgconverge"));
        command.args(&args).current_dir(env!("CARGO_MANIFEST_DIR")).env_remove("PGCONVERGE_DATABASE_URL");
        if let Some((key, value)) = env {
            command.env(key, value);
        }
        let output = command.output().expect("pgconverge runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?} {env:?}: {stderr}");
        assert!(stderr.contains("`container` feature"), "{stderr}");
    }
}

#[test]
fn doctor_says_the_container_backend_is_not_built_in() {
    let output = Command::new(env!("CARGO_BIN_EXE_pgconverge")).args(["doctor", "--format", "json"]).output().expect("pgconverge runs");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("a JSON report");
    assert_eq!(report["container"]["usable"], false);
    assert!(report["container"]["why_not"].as_str().unwrap_or_default().contains("`container` feature"), "{report}");
}
