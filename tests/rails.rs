//! The Rails tier (`cargo test --features rails-tests`): pgconverge's ActiveRecord driver and
//! `runner = "rails"` on fixtures/k12_rails. They need Ruby with ActiveRecord and the pg gem
//! (Debian: ruby-activerecord ruby-pg); with the tier on and those missing, they fail saying so.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::driver::{scratch_database, verdict, Driver};
use serde_json::{json, Value};

const DRIVER: &str = include_str!("../src/engine/executor/drivers/rails.rb");

fn require_activerecord() {
    common::require_tool(
        "rails-tests",
        "ruby",
        &["-e", "require 'active_record'; require 'pg'"],
        "Ruby with ActiveRecord and the pg gem (Debian: `apt-get install ruby-activerecord ruby-pg`)",
    );
}

fn k12_rails() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/k12_rails")
}

/// The ActiveRecord driver on `migrations`.
fn rails_driver(migrations: &Path, url: &str) -> Driver {
    require_activerecord();
    Driver::start("ruby", "rails.rb", DRIVER, &[("PGCONVERGE_MIGRATIONS", migrations)], url)
}

fn versions(answer: &Value) -> Vec<String> {
    answer["versions"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect()
}

#[test]
fn the_driver_runs_lists_forgets_and_loads_the_schema() {
    let url = scratch_database("rails_driver_k12");
    let mut driver = rails_driver(&k12_rails().join("db/migrate"), &url);

    let listed = driver.send(json!({"cmd": "list"}));
    let migrations = listed["migrations"].as_array().unwrap();
    assert_eq!(migrations.len(), 10, "{listed}");
    assert_eq!(migrations[0]["version"], "20260105090000");
    assert_eq!(migrations[9]["name"], "CreateDataRetentionPolicies");
    assert!(migrations.iter().all(|m| m["down"] == true && Path::new(m["file"].as_str().unwrap()).is_file()), "{listed}");

    // A guarded migration before the base tables exist: the framework's error, located.
    let failed = driver.send(json!({"cmd": "up", "version": "20260216000001"}));
    assert_eq!(failed["ok"], false, "{failed}");
    let error = &failed["error"];
    assert_eq!(error["class"], "ActiveRecord::StatementInvalid", "{failed}");
    assert_eq!(error["sqlstate"], "42P01", "{failed}");
    assert!(error["file"].as_str().unwrap().ends_with("db/migrate/20260216000001_create_ai_provider_configs.rb"), "{failed}");
    assert_eq!(error["line"], 6, "{failed}");

    // What the migration sent, without ActiveRecord's introspection, transactions, advisory
    // lock and schema_migrations bookkeeping.
    let (ran, sql) = driver.step("up", "20260105090000");
    assert!(ran);
    assert!(sql[0].starts_with(r#"CREATE TABLE "tenants" ("#), "{sql:?}");
    assert!(sql.iter().all(|s| !s.contains("schema_migrations") && !s.contains("advisory") && !s.starts_with("BEGIN")), "{sql:?}");
    // Recorded: Rails skips it, and sends nothing.
    assert_eq!(driver.step("up", "20260105090000"), (false, vec![]));
    assert_eq!(versions(&driver.send(json!({"cmd": "applied"}))), ["20260105090000"]);
    assert_eq!(driver.send(json!({"cmd": "forget", "version": "20260105090000"}))["ok"], true);
    assert!(versions(&driver.send(json!({"cmd": "applied"}))).is_empty());
    // Forgotten, it runs again, and the table is already there.
    let again = driver.send(json!({"cmd": "up", "version": "20260105090000"}));
    assert_eq!(again["error"]["sqlstate"], "42P07", "{again}");

    // schema.rb, loaded as db:schema:load does: `force: :cascade` replaces tenants, and every
    // version up to the schema's is recorded.
    let schema = k12_rails().join("db/schema.rb");
    let loaded = driver.send(json!({"cmd": "load_schema", "path": schema}));
    assert_eq!(loaded["ok"], true, "{loaded}");
    // What loading it sent: the tables as `force: :cascade` writes them, foreign keys last.
    let sql: Vec<&str> = loaded["sql"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
    assert!(sql.contains(&r#"DROP TABLE IF EXISTS "tenants" CASCADE"#), "{sql:?}");
    assert!(sql.last().unwrap().starts_with(r#"ALTER TABLE "users" ADD CONSTRAINT"#), "{sql:?}");
    assert_eq!(versions(&driver.send(json!({"cmd": "applied"}))).len(), 10);
    assert!(driver.step("down", "20260216000007").0);

    let unknown = driver.send(json!({"cmd": "sideways"}));
    assert_eq!(unknown["ok"], false, "{unknown}");
    driver.quit();
}

#[test]
fn what_a_migration_prints_stays_off_the_protocol_and_errors_name_its_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("20260101000001_noisy.rb"),
        "class Noisy < ActiveRecord::Migration[6.1]\n  def up\n    puts \"{\\\"ok\\\":false}\"\n    create_table :noisy\n  end\nend\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("20260101000002_broken.rb"),
        "class Broken < ActiveRecord::Migration[6.1]\n  def up\n    add_column :noisy, :a, :string\n    raise ArgumentError, \"boom\"\n  end\nend\n",
    )
    .unwrap();
    let url = scratch_database("rails_driver_noisy");
    let mut driver = rails_driver(dir.path(), &url);
    let listed = driver.send(json!({"cmd": "list"}));
    // Neither defines `down` or `change`.
    assert!(listed["migrations"].as_array().unwrap().iter().all(|m| m["down"] == false), "{listed}");
    assert!(driver.step("up", "20260101000001").0);
    let broken = driver.send(json!({"cmd": "up", "version": "20260101000002"}));
    assert_eq!(broken["error"]["class"], "ArgumentError", "{broken}");
    assert_eq!(broken["error"]["message"], "boom", "{broken}");
    assert_eq!(broken["error"]["line"], 4, "{broken}");
    assert!(broken["error"]["file"].as_str().unwrap().ends_with("20260101000002_broken.rb"), "{broken}");
    // The failed migration ran in a transaction: not recorded.
    assert_eq!(versions(&driver.send(json!({"cmd": "applied"}))), ["20260101000001"]);
    driver.quit();
}

/// `pgconverge check --format json` on an embedded cluster; the report.
fn check(project: &Path, extra: &[&str]) -> (i32, Value) {
    require_activerecord();
    common::driver::check_embedded_json(project, extra)
}

#[test]
fn k12_rails_converges_under_activerecord() {
    let (code, report) = check(&k12_rails(), &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["format"], "rails");
    assert!(report["reference"].as_str().unwrap().ends_with("k12_rails/db/schema.rb"), "{report:#}");
    for property in ["fresh", "idempotent", "partial", "reversible"] {
        assert_eq!(verdict(&report, property)["status"], "pass", "{property}: {report:#}");
    }
    assert_eq!(verdict(&report, "idempotent")["cases"], 7);
    // One case per number of applied migrations, the rest pending; then the seed's state:
    // db/schema.rb loaded, the seven guarded migrations pending and not recorded.
    assert_eq!(verdict(&report, "partial")["cases"], 11);
    // Orders from the SQL ActiveRecord sent: the guarded tables' foreign keys keep each after
    // the tables it references, and every order allowed ends at the canonical catalog.
    let order = verdict(&report, "order");
    assert_eq!(order["status"], "pass", "{report:#}");
    let distinct: u32 = order["summary"].as_str().unwrap().split(" over ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
    assert!(distinct > 50, "{order:#}");
    assert_eq!(verdict(&report, "interrupt")["status"], "skipped", "{report:#}");
}

/// Two branches each append a value to one enum (`execute "ALTER TYPE ... ADD VALUE"`): nothing
/// orders them, and the label order follows the run order. order finds the pair, and its repro
/// is the SQL ActiveRecord sent in that case, which psql runs to the same difference. (No
/// db/schema.rb: ActiveRecord 6.1 cannot write an enum there; the canonical run is the reference.)
#[test]
fn two_branches_appending_enum_values_fail_order_with_a_psql_repro_of_what_activerecord_sent() {
    let project = common::copy_of(&k12_rails());
    std::fs::remove_file(project.path().join("db/schema.rb")).unwrap();
    let migrate = project.path().join("db/migrate");
    let migrations = [
        ("20260301000001_create_course_states", "CreateCourseStates", "CREATE TYPE course_state AS ENUM ('draft', 'published')"),
        ("20260301000002_add_archived_course_state", "AddArchivedCourseState", "ALTER TYPE course_state ADD VALUE 'archived'"),
        ("20260301000003_add_retired_course_state", "AddRetiredCourseState", "ALTER TYPE course_state ADD VALUE 'retired'"),
    ];
    for (file, class, sql) in migrations {
        let body = format!("class {class} < ActiveRecord::Migration[6.1]\n  def up\n    execute \"{sql}\"\n  end\nend\n");
        std::fs::write(migrate.join(format!("{file}.rb")), body).unwrap();
    }
    let repro = tempfile::tempdir().unwrap();
    let (code, report) =
        check(project.path(), &["--properties", "fresh,order", "--seed", "1", "--repro-dir", repro.path().to_str().unwrap()]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(verdict(&report, "fresh")["status"], "pass", "{report:#}");
    let order = verdict(&report, "order");
    assert_eq!(order["status"], "fail", "{report:#}");
    let pairs = order["case"]["out_of_order"].as_array().unwrap();
    assert_eq!(pairs.len(), 1, "{order:#}");
    assert_eq!(pairs[0], json!(["20260301000003_add_retired_course_state", "20260301000002_add_archived_course_state"]), "{order:#}");
    assert_eq!(order["failure"]["kind"], "diverged", "{order:#}");

    let script = std::fs::read_to_string(repro.path().join("order.sql")).unwrap();
    let retired = script.find("ALTER TYPE course_state ADD VALUE 'retired'").expect(&script);
    let archived = script.find("ALTER TYPE course_state ADD VALUE 'archived'").expect(&script);
    assert!(retired < archived, "retired ran first in the case:\n{script}");
    assert!(script.contains(r#"CREATE TABLE "courses""#), "{script}");
    let (code, stderr) = common::run_with_psql(&repro.path().join("order.sql"));
    assert_eq!(code, 3, "psql stops at the check block:\n{stderr}");
    assert!(stderr.contains("pgconverge: type public.course_state: labels"), "{stderr}");
}

#[test]
fn an_unguarded_migration_and_a_changed_default_are_found_in_the_ruby_files() {
    let project = common::copy_of(&k12_rails());
    let migrate = project.path().join("db/migrate");
    let edit = |file: &str, from: &str, to: &str| {
        let path = migrate.join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{file}");
        std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    };
    edit("20260216000003_create_ai_templates.rb", "    return if table_exists?(:ai_templates)\n", "\n");
    edit("20260216000004_create_ai_invocations.rb", "default: \"pending\"", "default: \"queued\"");
    let (code, report) = check(project.path(), &["--properties", "fresh,idempotent"]);
    assert_eq!(code, 1, "{report:#}");

    let fresh = verdict(&report, "fresh");
    assert_eq!(fresh["status"], "fail", "{report:#}");
    assert!(fresh["failure"].to_string().contains("public.ai_invocations.status"), "{fresh:#}");

    let idempotent = verdict(&report, "idempotent");
    assert_eq!(idempotent["status"], "fail", "{report:#}");
    let failure = &idempotent["failure"];
    assert_eq!(failure["migration"], "20260216000003_create_ai_templates", "{failure:#}");
    assert_eq!(failure["error"]["code"], "42P07", "{failure:#}");
    assert!(failure["location"]["file"].as_str().unwrap().ends_with("db/migrate/20260216000003_create_ai_templates.rb"), "{failure:#}");
    // `create_table :ai_templates do |t|`, where the guard was.
    assert_eq!(failure["location"]["line"], 5, "{failure:#}");
}

#[test]
fn a_guard_inside_change_makes_the_down_a_no_op() {
    // Reverting `change` asks `table_exists?` too: true, so the down returns before dropping.
    let project = common::copy_of(&k12_rails());
    let path = project.path().join("db/migrate/20260216000005_create_lti_registrations.rb");
    let text = std::fs::read_to_string(&path).unwrap();
    let up_only = text.replacen("  def up\n", "  def change\n", 1);
    let without_down = up_only.replacen("\n  def down\n    drop_table :lti_registrations\n  end\n", "", 1);
    assert_ne!(without_down, up_only, "the down was removed");
    std::fs::write(&path, without_down).unwrap();
    let (code, report) = check(project.path(), &["--properties", "reversible"]);
    assert_eq!(code, 1, "{report:#}");
    let reversible = verdict(&report, "reversible");
    assert_eq!(reversible["status"], "fail", "{report:#}");
    assert!(reversible.to_string().contains("lti_registrations"), "{reversible:#}");
}

/// The seed's Definition of Done, the other way round: a guard that checks the wrong table lets
/// its migration run on a database loaded from db/schema.rb (the seven tables there, their
/// migrations not recorded), and partial names that start state and the failing line.
#[test]
fn a_guard_on_the_wrong_table_fails_on_a_database_loaded_from_schema_rb() {
    let project = common::copy_of(&k12_rails());
    let path = project.path().join("db/migrate/20260216000003_create_ai_templates.rb");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replacen("table_exists?(:ai_templates)", "table_exists?(:ai_template)", 1)).unwrap();
    let repro = tempfile::tempdir().unwrap();
    let (code, report) = check(project.path(), &["--properties", "partial", "--repro-dir", repro.path().to_str().unwrap()]);
    assert_eq!(code, 1, "{report:#}");
    let partial = verdict(&report, "partial");
    assert_eq!(partial["status"], "fail", "{report:#}");
    let case = &partial["case"];
    assert_eq!(case["preexisting"].as_array().unwrap().len(), 1, "{case:#}");
    assert!(case["preexisting"][0].as_str().unwrap().starts_with("the whole reference ("), "{case:#}");
    let failure = &partial["failure"];
    assert_eq!(failure["migration"], "20260216000003_create_ai_templates", "{failure:#}");
    assert_eq!(failure["error"]["code"], "42P07", "{failure:#}");
    assert_eq!(failure["location"]["line"], 5, "{failure:#}");
    // The repro: the SQL loading db/schema.rb sent, then what each pending migration sent (the
    // six good guards nothing); psql stops where the case did.
    let script = std::fs::read_to_string(repro.path().join("partial.sql")).unwrap();
    assert!(script.contains(r#"DROP TABLE IF EXISTS "ai_templates" CASCADE;"#), "{script}");
    assert!(script.contains("-- (no SQL)"), "{script}");
    let (code, stderr) = common::run_with_psql(&repro.path().join("partial.sql"));
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains(r#"relation "ai_templates" already exists"#), "{stderr}");
}

/// `pgconverge init` on a copy of k12_rails without its pgconverge.toml guesses an equivalent
/// one (runner = "rails", the seven guarded versions idempotent), and the copy converges with it.
#[test]
fn init_guesses_a_config_under_which_k12_rails_converges() {
    let project = common::copy_of(&k12_rails());
    let config = project.path().join("pgconverge.toml");
    std::fs::remove_file(&config).unwrap();
    let run = common::pgconverge_embedded(&["init", project.path().to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("runner: rails"), "{}", run.stdout);
    let written: toml::Table = toml::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
    assert_eq!(written["idempotent"].as_array().map(Vec::len), Some(7), "{written:?}");
    let (code, report) = check(project.path(), &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(verdict(&report, "idempotent")["cases"], 7, "{report:#}");
}

/// `pgconverge doctor` says the Rails runner can run here, with the versions Ruby itself reports;
/// and, with no `ruby` on PATH, that it cannot and why.
#[test]
fn doctor_reports_ruby_with_activerecord() {
    require_activerecord();
    let ruby = Command::new("ruby").args(["-e", "require 'active_record'; puts ActiveRecord.version"]).output().unwrap();
    let activerecord = String::from_utf8_lossy(&ruby.stdout).trim().to_string();
    let run = common::pgconverge_embedded(&["doctor", "--format", "json"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    let rails = &report["frameworks"]["rails"];
    assert_eq!(rails["usable"], true, "{rails:#}");
    assert_eq!(rails["activerecord"], activerecord.as_str(), "{rails:#}");

    let human = common::pgconverge_embedded(&["doctor"]);
    assert!(human.stdout.contains("frameworks:\n  rails      usable: Ruby "), "{}", human.stdout);
    assert!(human.stdout.contains(&format!(", ActiveRecord {activerecord}, pg ")), "{}", human.stdout);

    let no_ruby = Command::new(env!("CARGO_BIN_EXE_pgconverge"))
        .args(["doctor", "--format", "json"])
        .env("PATH", tempfile::tempdir().unwrap().path())
        .env_remove("PGCONVERGE_DATABASE_URL")
        .output()
        .unwrap();
    let report: Value = serde_json::from_str(&String::from_utf8_lossy(&no_ruby.stdout)).unwrap();
    let rails = &report["frameworks"]["rails"];
    assert_eq!(rails["usable"], false, "{rails:#}");
    assert!(rails["why_not"].as_str().unwrap().contains("`ruby` is not on PATH"), "{rails:#}");
}

/// k12_rails with `schema_format = :sql`: `db/structure.sql` as `db:structure:dump` writes it
/// (pg_dump `--schema-only --no-privileges --no-owner` of a database loaded from db/schema.rb,
/// then the schema_migrations versions), which pgconverge runs as the reference itself. The
/// seed's Definition of Done holds the same way, and a guard on the wrong table fails partial
/// on a database built from structure.sql.
#[test]
fn k12_rails_with_structure_sql_converges_and_a_wrong_guard_fails_partial() {
    let url = scratch_database("rails_structure_dump");
    let mut driver = rails_driver(&k12_rails().join("db/migrate"), &url);
    let loaded = driver.send(json!({"cmd": "load_schema", "path": k12_rails().join("db/schema.rb")}));
    assert_eq!(loaded["ok"], true, "{loaded}");
    let versions = versions(&driver.send(json!({"cmd": "applied"})));
    driver.quit();
    let pg_dump = common::psql().with_file_name("pg_dump");
    let dump = Command::new(&pg_dump).args(["--schema-only", "--no-privileges", "--no-owner", "-d", &url]).output().expect("pg_dump runs");
    assert!(dump.status.success(), "{}", String::from_utf8_lossy(&dump.stderr));
    let mut structure = String::from_utf8(dump.stdout).unwrap();
    let values: Vec<String> = versions.iter().map(|v| format!("('{v}')")).collect();
    structure.push_str(&format!(
        "SET search_path TO \"$user\", public;\n\nINSERT INTO \"schema_migrations\" (version) VALUES\n{};\n\n",
        values.join(",\n")
    ));

    let project = common::copy_of(&k12_rails());
    std::fs::remove_file(project.path().join("db/schema.rb")).unwrap();
    std::fs::write(project.path().join("db/structure.sql"), &structure).unwrap();
    let (code, report) = check(project.path(), &["--properties", "fresh,idempotent,partial"]);
    assert_eq!(code, 0, "{report:#}");
    assert!(report["reference"].as_str().unwrap().ends_with("db/structure.sql"), "{report:#}");
    // The migrated database has ActiveRecord's schema_migrations and ar_internal_metadata, as
    // the dump does: 209 objects, as with db/schema.rb.
    assert_eq!(report["reference_objects"], 209, "{report:#}");
    // A prefix of applied migrations each, then structure.sql's objects of the seven guarded
    // migrations pre-existing, the seven pending and not recorded.
    assert_eq!(verdict(&report, "partial")["cases"], 11, "{report:#}");

    let guard = project.path().join("db/migrate/20260216000003_create_ai_templates.rb");
    let text = std::fs::read_to_string(&guard).unwrap();
    std::fs::write(&guard, text.replacen("table_exists?(:ai_templates)", "table_exists?(:ai_template)", 1)).unwrap();
    let (code, report) = check(project.path(), &["--properties", "partial"]);
    assert_eq!(code, 1, "{report:#}");
    let failure = &verdict(&report, "partial")["failure"];
    assert_eq!(failure["migration"], "20260216000003_create_ai_templates", "{failure:#}");
    assert_eq!(failure["error"]["code"], "42P07", "{failure:#}");
}

/// Inside a Rails app (an executable `bin/rails`), the driver runs under `bin/rails runner`, so a
/// migration may use what the app loads at boot: here a helper module an initializer mixes into
/// every migration. The same project without bin/rails fails fresh on the unknown method.
#[test]
fn inside_an_app_the_driver_runs_under_bin_rails_runner() {
    require_activerecord();
    let project = common::copy_of(&k12_rails());
    let root = project.path();
    std::fs::remove_file(root.join("db/schema.rb")).unwrap();
    std::fs::create_dir_all(root.join("bin")).unwrap();
    std::fs::create_dir_all(root.join("config")).unwrap();
    // A stand-in for the app's bin/rails: `runner FILE` boots "the app" (its initializer), then runs FILE.
    common::write_executable(
        &root.join("bin/rails"),
        "#!/bin/sh\n[ \"$1\" = runner ] || { echo \"usage: bin/rails runner FILE\" >&2; exit 64; }\nshift\necho booted >> \"$(dirname \"$0\")/../booted.log\"\nexec ruby -r \"$(dirname \"$0\")/../config/initializer.rb\" \"$@\"\n",
    );
    std::fs::write(
        root.join("config/initializer.rb"),
        "require \"active_record\"\nmodule AppMigrationHelpers\n  def create_note_table(name)\n    create_table(name) { |t| t.text :body, null: false }\n  end\nend\nActiveRecord::Migration.include(AppMigrationHelpers)\n",
    )
    .unwrap();
    std::fs::write(
        root.join("db/migrate/20260301000001_create_course_notes.rb"),
        "class CreateCourseNotes < ActiveRecord::Migration[6.1]\n  def change\n    create_note_table :course_notes\n  end\nend\n",
    )
    .unwrap();
    let (code, report) = check(root, &["--properties", "fresh,reversible"]);
    assert_eq!(code, 0, "{report:#}");
    let booted = std::fs::read_to_string(root.join("booted.log")).unwrap_or_default();
    assert!(booted.lines().count() >= 2, "bin/rails runner started the list and the driver: {booted:?}");

    std::fs::remove_file(root.join("bin/rails")).unwrap();
    let (code, report) = check(root, &["--properties", "fresh"]);
    assert_eq!(code, 1, "{report:#}");
    let failure = &verdict(&report, "fresh")["failure"];
    assert_eq!(failure["migration"], "20260301000001_create_course_notes", "{failure:#}");
    assert!(failure["error"]["message"].as_str().unwrap().contains("create_note_table"), "{failure:#}");
}

/// Each driver command starts as a new `rails db:migrate` would: a model a migration uses does
/// not remember the columns another case's database had (a long-lived driver once reported a
/// column dropped in an earlier case as missing here: a false alarm in order).
#[test]
fn a_model_forgets_the_columns_of_an_earlier_database() {
    let dir = tempfile::tempdir().unwrap();
    let migrate = dir.path().join("db/migrate");
    std::fs::create_dir_all(&migrate).unwrap();
    let migration = |file: &str, body: &str| std::fs::write(migrate.join(file), body).unwrap();
    migration(
        "20260101000001_create_widgets.rb",
        "class CreateWidgets < ActiveRecord::Migration[6.1]\n  def change\n    create_table(:widgets) { |t| t.string :name }\n  end\nend\n",
    );
    migration(
        "20260101000002_seed_widgets.rb",
        "class Widget < ActiveRecord::Base; end\n\nclass SeedWidgets < ActiveRecord::Migration[6.1]\n  def up\n    Widget.create!(name: \"first\")\n  end\nend\n",
    );
    migration(
        "20260101000003_remove_widget_name.rb",
        "class RemoveWidgetName < ActiveRecord::Migration[6.1]\n  def change\n    remove_column :widgets, :name, :string\n  end\nend\n",
    );
    let first = scratch_database("rails_driver_cache_first");
    let second = scratch_database("rails_driver_cache_second");
    let mut driver = rails_driver(&migrate, &first);
    assert!(driver.step("up", "20260101000001").0);
    assert!(driver.step("up", "20260101000003").0);
    // Without the name column the seed fails, and Widget has loaded the columns it saw: just `id`.
    let failed = driver.send(json!({"cmd": "up", "version": "20260101000002"}));
    assert_eq!(failed["ok"], false, "{failed}");
    assert_eq!(driver.send(json!({"cmd": "connect", "url": second}))["ok"], true);
    assert!(driver.step("up", "20260101000001").0);
    let (ran, sql) = driver.step("up", "20260101000002");
    assert!(ran);
    assert!(sql.iter().any(|s| s.starts_with(r#"INSERT INTO "widgets" ("name") VALUES ('first')"#)), "{sql:?}");
    driver.quit();
}
