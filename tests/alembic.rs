//! The Alembic tier (`cargo test --features alembic-tests`): pgconverge's Alembic driver and
//! `runner = "alembic"` on fixtures/alembic_branches (a base revision, two branches off it, a
//! merge). They need python3 with Alembic, SQLAlchemy and psycopg (scripts/install-python-deps);
//! with the tier on and those missing, they fail saying so.

mod common;

use std::path::{Path, PathBuf};

use common::driver::{scratch_database, verdict, Driver};
use serde_json::{json, Value};

const DRIVER: &str = include_str!("../src/engine/executor/drivers/alembic.py");

const BASE: &str = "3f2a1c9d0b11";
const INVOICES: &str = "7c4e8a2b5d20";
const AUDIT: &str = "9e1d6f3a4c32";
const MERGE: &str = "b5a0c7e9d143";

fn require_alembic() {
    common::require_tool(
        "alembic-tests",
        "python3",
        &["-c", "import alembic, sqlalchemy, psycopg"],
        "Alembic, SQLAlchemy and psycopg for python3 (`scripts/install-python-deps`, or `pip install 'alembic>=1.13,<2' 'SQLAlchemy>=2,<3' 'psycopg[binary]>=3.1,<4'`)",
    );
}

fn alembic_branches() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/alembic_branches")
}

/// The Alembic driver on a project's script location (and its alembic.ini).
fn alembic_driver(script_location: &Path, ini: Option<&Path>, url: &str) -> Driver {
    require_alembic();
    let mut env = vec![("PGCONVERGE_MIGRATIONS", script_location)];
    env.extend(ini.map(|ini| ("PGCONVERGE_ALEMBIC_INI", ini)));
    Driver::start("python3", "alembic.py", DRIVER, &env, url)
}

fn strings(answer: &Value, key: &str) -> Vec<String> {
    answer[key].as_array().unwrap_or_else(|| panic!("no {key}: {answer}")).iter().map(|v| v.as_str().unwrap().to_string()).collect()
}

#[test]
fn the_driver_runs_single_revisions_across_branches_and_forgets_with_descendants() {
    let url = scratch_database("alembic_driver_branches");
    let project = alembic_branches();
    let mut driver = alembic_driver(&project.join("alembic"), Some(&project.join("alembic.ini")), &url);

    let listed = driver.send(json!({"cmd": "list"}));
    let versions: Vec<&str> = listed["migrations"].as_array().unwrap().iter().map(|m| m["version"].as_str().unwrap()).collect();
    assert_eq!(versions.len(), 4, "{listed}");
    // Base first, the merge after both of its parents.
    assert_eq!((versions[0], versions[3]), (BASE, MERGE), "{listed}");
    let merge = &listed["migrations"][3];
    assert_eq!(merge["name"], "merge billing and audit");
    assert!(merge["file"].as_str().unwrap().ends_with("versions/b5a0c7e9d143_merge_billing_and_audit.py"), "{listed}");
    assert!(listed["migrations"].as_array().unwrap().iter().all(|m| m["down"] == true), "{listed}");

    // A branch revision before its base: the database's error, located in the revision file.
    let failed = driver.send(json!({"cmd": "up", "version": INVOICES}));
    assert_eq!(failed["ok"], false, "{failed}");
    assert_eq!(failed["error"]["sqlstate"], "42P01", "{failed}");
    assert!(failed["error"]["file"].as_str().unwrap().ends_with("versions/7c4e8a2b5d20_create_invoices.py"), "{failed}");
    // `op.create_table(` in upgrade().
    assert_eq!(failed["error"]["line"], 17, "{failed}");

    // What the revision sent, without Alembic's introspection and alembic_version bookkeeping.
    let (ran, sql) = driver.step("up", BASE);
    assert!(ran);
    assert_eq!(sql.len(), 1, "{sql:?}");
    assert!(sql[0].trim().starts_with("CREATE TABLE accounts ("), "{sql:?}");
    // Recorded: Alembic has nothing to do, and sends nothing.
    assert_eq!(driver.step("up", BASE), (false, vec![]));
    assert!(driver.step("up", AUDIT).0);
    assert!(driver.step("up", INVOICES).0);
    // Two branches applied: alembic_version holds both heads.
    let applied = driver.send(json!({"cmd": "applied"}));
    assert_eq!(strings(&applied, "heads"), [INVOICES, AUDIT], "{applied}");
    assert!(driver.step("up", MERGE).0);
    let applied = driver.send(json!({"cmd": "applied"}));
    assert_eq!(strings(&applied, "heads"), [MERGE], "{applied}");
    assert_eq!(strings(&applied, "versions").len(), 4, "{applied}");

    // The ledger records heads only: forgetting the audit branch forgets the merge on it too.
    let forgotten = driver.send(json!({"cmd": "forget", "version": AUDIT}));
    assert_eq!(strings(&forgotten, "forgotten"), [AUDIT, MERGE], "{forgotten}");
    let applied = driver.send(json!({"cmd": "applied"}));
    assert_eq!(strings(&applied, "versions"), [BASE, INVOICES], "{applied}");
    // Forgotten, the guarded revision runs again over its own table.
    assert!(driver.step("up", AUDIT).0);
    assert_eq!(strings(&driver.send(json!({"cmd": "applied"})), "heads"), [INVOICES, AUDIT]);

    // One branch down, the other stays.
    assert!(driver.step("down", INVOICES).0);
    assert_eq!(strings(&driver.send(json!({"cmd": "applied"})), "heads"), [AUDIT]);
    assert!(!driver.step("down", INVOICES).0);

    let load = driver.send(json!({"cmd": "load_schema"}));
    assert_eq!(load["ok"], false, "{load}");
    let unknown = driver.send(json!({"cmd": "sideways"}));
    assert_eq!(unknown["ok"], false, "{unknown}");
    driver.quit();
}

#[test]
fn what_a_revision_prints_stays_off_the_protocol_and_errors_name_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let versions = dir.path().join("versions");
    std::fs::create_dir_all(&versions).unwrap();
    std::fs::write(
        dir.path().join("env.py"),
        "from alembic import context\nfrom sqlalchemy import create_engine\n\nwith create_engine(context.config.get_main_option('sqlalchemy.url')).connect() as c:\n    context.configure(connection=c)\n    with context.begin_transaction():\n        context.run_migrations()\n",
    )
    .unwrap();
    std::fs::write(
        versions.join("a1_noisy.py"),
        "from alembic import op\n\nrevision = 'a1'\ndown_revision = None\n\n\ndef upgrade():\n    print('{\"ok\": false}')\n    op.execute('CREATE TABLE noisy (id int)')\n\n\ndef downgrade():\n    pass\n",
    )
    .unwrap();
    std::fs::write(
        versions.join("a2_broken.py"),
        "from alembic import op\n\nrevision = 'a2'\ndown_revision = 'a1'\n\n\ndef upgrade():\n    op.execute('ALTER TABLE noisy ADD COLUMN a text')\n    raise ValueError('boom')\n\n\ndef downgrade():\n    \"\"\"Nothing to undo.\"\"\"\n",
    )
    .unwrap();
    let url = scratch_database("alembic_driver_noisy");
    let mut driver = alembic_driver(dir.path(), None, &url);
    let listed = driver.send(json!({"cmd": "list"}));
    // Neither downgrade() does anything.
    assert!(listed["migrations"].as_array().unwrap().iter().all(|m| m["down"] == false), "{listed}");
    assert!(driver.step("up", "a1").0);
    let broken = driver.send(json!({"cmd": "up", "version": "a2"}));
    assert_eq!(broken["error"]["class"], "ValueError", "{broken}");
    assert_eq!(broken["error"]["message"], "boom", "{broken}");
    assert_eq!(broken["error"]["line"], 9, "{broken}");
    assert!(broken["error"]["file"].as_str().unwrap().ends_with("versions/a2_broken.py"), "{broken}");
    // The failed revision ran in env.py's transaction: neither recorded nor half done.
    assert_eq!(strings(&driver.send(json!({"cmd": "applied"})), "versions"), ["a1"]);
    driver.quit();
}

/// `pgconverge check --format json` on an embedded cluster; the report.
fn check(project: &Path, extra: &[&str]) -> (i32, Value) {
    require_alembic();
    common::driver::check_embedded_json(project, extra)
}

/// A copy of the fixture with `from` replaced by `to` in one revision file.
fn edited(file: &str, from: &str, to: &str) -> tempfile::TempDir {
    let project = common::copy_of(&alembic_branches());
    let path = project.path().join("alembic/versions").join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{file}");
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    project
}

#[test]
fn alembic_branches_converges_under_alembic() {
    let (code, report) = check(&alembic_branches(), &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["format"], "alembic");
    assert!(report["reference"].as_str().unwrap().ends_with("alembic_branches/schema.sql"), "{report:#}");
    assert_eq!(report["migration_ids"][3], "b5a0c7e9d143_merge_billing_and_audit", "{report:#}");
    for property in ["fresh", "idempotent", "partial", "reversible"] {
        assert_eq!(verdict(&report, property)["status"], "pass", "{property}: {report:#}");
    }
    assert_eq!(verdict(&report, "idempotent")["cases"], 1);
    // One case per number of applied revisions, the rest pending; then the audit branch's
    // table and index pre-existing (built from schema.sql), its revision pending and unrecorded.
    assert_eq!(verdict(&report, "partial")["cases"], 5);
    // The two branches run in either order, the merge after both (its down_revision): the
    // orders of three of the four revisions (any applied prefix, the rest in an allowed order).
    let order = verdict(&report, "order");
    assert_eq!(order["status"], "pass", "{report:#}");
    assert!(order["summary"].as_str().unwrap().ends_with("over 8 distinct orders"), "{order:#}");
    assert_eq!(verdict(&report, "interrupt")["status"], "skipped", "{report:#}");
}

/// The planted order bug between two branches (fixtures/divergent/alembic_enum_two_branches):
/// each appends a label to one enum. order names the pair, and the repro is the SQL Alembic
/// sent in that case, which psql runs to the same difference.
#[test]
fn two_branches_appending_enum_labels_fail_order_with_a_psql_repro_of_what_alembic_sent() {
    let project = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/divergent/alembic_enum_two_branches");
    let repro = tempfile::tempdir().unwrap();
    let (code, report) = check(&project, &["--properties", "order", "--seed", "1", "--repro-dir", repro.path().to_str().unwrap()]);
    assert_eq!(code, 1, "{report:#}");
    let order = verdict(&report, "order");
    assert_eq!(order["status"], "fail", "{report:#}");
    assert_eq!(order["case"]["out_of_order"], json!([["9e1d6f3a4c32_create_audit_events", "7c4e8a2b5d20_create_invoices"]]), "{order:#}");
    let script = std::fs::read_to_string(repro.path().join("order.sql")).unwrap();
    let suspended = script.find("ADD VALUE IF NOT EXISTS 'suspended'").expect(&script);
    let delinquent = script.find("ADD VALUE IF NOT EXISTS 'delinquent'").expect(&script);
    assert!(suspended < delinquent, "{script}");
    let (code, stderr) = common::run_with_psql(&repro.path().join("order.sql"));
    assert_eq!(code, 3, "psql stops at the check block:\n{stderr}");
    assert!(stderr.contains("pgconverge: type public.account_status: labels"), "{stderr}");
}

#[test]
fn a_downgrade_that_forgets_an_index_fails_reversible_naming_the_revision() {
    let project = edited("7c4e8a2b5d20_create_invoices.py", "    op.drop_index(\"ix_accounts_created_at\", table_name=\"accounts\")\n", "");
    let (code, report) = check(project.path(), &["--properties", "reversible"]);
    assert_eq!(code, 1, "{report:#}");
    let reversible = verdict(&report, "reversible");
    assert_eq!(reversible["status"], "fail", "{report:#}");
    let text = reversible.to_string();
    assert!(text.contains("7c4e8a2b5d20_create_invoices"), "{reversible:#}");
    assert!(text.contains("ix_accounts_created_at"), "{reversible:#}");
}

#[test]
fn an_unguarded_revision_fails_over_its_pre_existing_table() {
    let project = edited("9e1d6f3a4c32_create_audit_events.py", "CREATE TABLE IF NOT EXISTS audit_events", "CREATE TABLE audit_events");
    let (code, report) = check(project.path(), &["--properties", "idempotent,partial"]);
    assert_eq!(code, 1, "{report:#}");
    for property in ["idempotent", "partial"] {
        let verdict = verdict(&report, property);
        assert_eq!(verdict["status"], "fail", "{property}: {report:#}");
        let failure = &verdict["failure"];
        assert_eq!(failure["migration"], "9e1d6f3a4c32_create_audit_events", "{property}: {failure:#}");
        assert_eq!(failure["error"]["code"], "42P07", "{property}: {failure:#}");
        assert!(failure["location"]["file"].as_str().unwrap().ends_with("versions/9e1d6f3a4c32_create_audit_events.py"), "{failure:#}");
        // `op.execute(` of the CREATE TABLE.
        assert_eq!(failure["location"]["line"], 16, "{property}: {failure:#}");
    }
    let case = &verdict(&report, "partial")["case"];
    assert!(!case["preexisting"].as_array().unwrap().is_empty(), "{case:#}");
}

#[test]
fn a_revision_only_alembic_sees_stops_the_check() {
    // recursive_version_locations: Alembic imports versions/ subdirectories; pgconverge reads
    // versions/*.py only, so the merge is a revision it would never check.
    let project = common::copy_of(&alembic_branches());
    let ini = project.path().join("alembic.ini");
    let text = std::fs::read_to_string(&ini).unwrap();
    std::fs::write(&ini, text.replacen("[alembic]\n", "[alembic]\nrecursive_version_locations = true\n", 1)).unwrap();
    let versions = project.path().join("alembic/versions");
    std::fs::create_dir(versions.join("2026")).unwrap();
    let merge = "b5a0c7e9d143_merge_billing_and_audit.py";
    std::fs::rename(versions.join(merge), versions.join("2026").join(merge)).unwrap();
    require_alembic();
    let run = common::pgconverge_embedded(&["check", project.path().to_str().unwrap(), "--no-persist"]);
    // Could not decide (exit 3): the check would leave a revision out.
    assert_eq!(run.code, 3, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("only Alembic has [b5a0c7e9d143]"), "{}", run.stderr);
}

/// An env.py that prefers DATABASE_URL to `sqlalchemy.url` (a common spelling) gets the scratch
/// database too, never the one the CI's environment names (here an unreachable server: were it
/// used, every step would fail to connect).
#[test]
fn an_env_py_that_reads_database_url_gets_the_scratch_database() {
    require_alembic();
    let project = common::copy_of(&alembic_branches());
    let env_py = project.path().join("alembic/env.py");
    let text = std::fs::read_to_string(&env_py).unwrap();
    let prefer = r#"url = os.environ.get("DATABASE_URL") or config.get_main_option("sqlalchemy.url")"#;
    std::fs::write(&env_py, text.replacen(r#"url = config.get_main_option("sqlalchemy.url") or os.environ["DATABASE_URL"]"#, prefer, 1))
        .unwrap();
    assert!(std::fs::read_to_string(&env_py).unwrap().contains(prefer));
    let path = project.path().to_str().unwrap();
    let run = common::pgconverge_embedded_env(
        &["check", path, "--format", "json", "--no-persist", "--properties", "fresh,idempotent"],
        &[("DATABASE_URL", "postgresql://ci@127.0.0.1:1/production")],
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
}

/// A revision that does not import (here: app code that is not on the path) is the project's
/// to fix: exit 2 at the revision file and line, not an infrastructure error.
#[test]
fn a_revision_that_does_not_import_is_an_input_error_at_its_line() {
    require_alembic();
    let project =
        edited("7c4e8a2b5d20_create_invoices.py", "import sqlalchemy as sa\n", "import sqlalchemy as sa\nimport app_models_not_here\n");
    let text = std::fs::read_to_string(project.path().join("alembic/versions/7c4e8a2b5d20_create_invoices.py")).unwrap();
    let line = text.lines().position(|l| l == "import app_models_not_here").unwrap() + 1;
    let run = common::pgconverge_embedded(&["check", project.path().to_str().unwrap(), "--no-persist"]);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stderr.contains(&format!("7c4e8a2b5d20_create_invoices.py:{line}:1")), "{}", run.stderr);
    assert!(run.stderr.contains("ModuleNotFoundError"), "{}", run.stderr);
}

/// env.py failing (here: a setting the project's CI would provide) is the project's setup, not a
/// revision: exit 2 at env.py's line, never a counterexample blamed on the first revision.
#[test]
fn an_env_py_that_fails_is_an_input_error_at_its_line() {
    require_alembic();
    let project = common::copy_of(&alembic_branches());
    let env_py = project.path().join("alembic/env.py");
    let text = std::fs::read_to_string(&env_py).unwrap();
    let broken =
        text.replacen("config = context.config\n", "config = context.config\nraise RuntimeError(\"APP_SETTINGS is not set\")\n", 1);
    assert_ne!(broken, text);
    std::fs::write(&env_py, &broken).unwrap();
    let line = broken.lines().position(|l| l.starts_with("raise RuntimeError")).unwrap() + 1;
    let run = common::pgconverge_embedded(&["check", project.path().to_str().unwrap(), "--no-persist"]);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stderr.contains(&format!("alembic/env.py:{line}:1")), "{}", run.stderr);
    assert!(run.stderr.contains("RuntimeError: APP_SETTINGS is not set"), "{}", run.stderr);
}
