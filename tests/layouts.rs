//! Custom layouts (`pattern`, `order`, manifests, nested version directories), `[substitutions]`
//! and `pgconverge init`, on the `fixtures/layouts/` projects and on small temporary ones. No
//! database is involved.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use pgconverge::init;
use pgconverge::migration::{detect_format, Format, Layout, Migration, MigrationSet};
use pgconverge::project::config::{Config, Ledger, Order, RunnerKind};
use pgconverge::project::init::InitError;
use pgconverge::Project;

const LAYOUTS: &str = "fixtures/layouts";

fn ids(project: &Project) -> Vec<String> {
    project.migrations.migrations.iter().map(Migration::id).collect()
}

fn load(dir: &str) -> Project {
    Project::load(Path::new(dir)).unwrap_or_else(|e| panic!("{dir} loads: {e}"))
}

fn write(dir: &Path, rel: &str, text: &str) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (rel, text) in files {
        write(dir.path(), rel, text);
    }
    dir
}

/// The error `Project::load` gives for a temporary project.
fn load_error(files: &[(&str, &str)]) -> String {
    let dir = project(files);
    match Project::load(dir.path()) {
        Ok(p) => panic!("expected an error, loaded {:?}", ids(&p)),
        Err(e) => e.to_string(),
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The fixtures load in the right order.

#[test]
fn manifest_numeric_sorts_version_directories_numerically_and_files_by_manifest() {
    let p = load("fixtures/layouts/manifest_numeric");
    assert_eq!(
        ids(&p),
        vec![
            "v1.2/001_create_accounts",
            "v1.2/002_accounts_email_index",
            "v1.9/001_status_type",
            "v1.9/002_create_invoices",
            "v1.9/003_invoices_account_index",
            "v1.10/001_invoices_paid_at",
            "v1.10/002_invoices_paid_index",
        ]
    );
    assert!(p.migrations.migrations[0].up.path.ends_with("v1.2/create_accounts.sql"));
    assert_eq!(p.config.order, Some(Order::Manifest));
}

#[test]
fn lexical_order_puts_v1_10_first() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(Path::new("fixtures/layouts/manifest_numeric"), dir.path());
    std::fs::write(dir.path().join("pgconverge.toml"), "order = \"lexical\"\n").unwrap();
    let p = Project::load(dir.path()).unwrap();
    let versions: Vec<_> = p.migrations.migrations.iter().map(|m| m.version.as_str()).collect();
    // Without the manifest, name order inside each directory.
    assert_eq!(versions, vec!["v1.10/001", "v1.10/002", "v1.2/001", "v1.2/002", "v1.9/001", "v1.9/002", "v1.9/003"]);
    assert_eq!(ids(&p)[2], "v1.2/001_accounts_email_index");
    // Numeric (the default) fixes the directories; name order still runs the index first.
    std::fs::write(dir.path().join("pgconverge.toml"), "").unwrap();
    let p = Project::load(dir.path()).unwrap();
    assert_eq!(ids(&p)[0], "v1.2/001_accounts_email_index");
    assert_eq!(ids(&p)[5], "v1.10/001_invoices_paid_at");
}

#[test]
fn custom_pattern_pairs_ups_and_downs_by_version() {
    let p = load("fixtures/layouts/custom_pattern");
    assert_eq!(ids(&p), vec!["0001_Initial_Schema", "0002_Add_Orders", "0010_Orders_Customer_Index"]);
    assert!(p.migrations.migrations.iter().all(|m| m.down.is_some()));
    let down = p.migrations.migrations[2].down.as_ref().unwrap();
    assert!(down.path.ends_with("V0010.Orders_Customer_Index.down.sql"));
    assert_eq!(down.statements[0].sql, "DROP INDEX orders_customer_id_placed_at_idx");
}

#[test]
fn templated_substitutions_apply_to_migrations_and_reference_keeping_lines() {
    let p = load("fixtures/layouts/templated");
    assert_eq!(p.config.setup, vec![PathBuf::from("setup.sql")]);
    let first = &p.migrations.migrations[0].up;
    assert_eq!(first.statements[1].sql, "GRANT USAGE ON SCHEMA myapp TO app_reader");
    assert_eq!((first.statements[1].line, first.statements[1].column), (2, 1));
    let items = &p.migrations.migrations[1].up;
    assert!(items.statements[0].sql.starts_with("CREATE TABLE myapp.items ("), "{}", items.statements[0].sql);
    assert_eq!(items.statements[1].line, 6);
    let reference = p.reference.as_ref().unwrap();
    assert!(reference.statements.iter().any(|s| s.sql == "CREATE SCHEMA myapp"));
    for script in p.migrations.migrations.iter().map(|m| &m.up).chain([reference]) {
        assert!(script.statements.iter().all(|s| !s.sql.contains("{{")), "{}", script.path.display());
    }
    // Without the substitutions the placeholders do not parse.
    let err = MigrationSet::load(Path::new("fixtures/layouts/templated/migrations"), None).unwrap_err().to_string();
    assert!(err.contains("20260401000001_create_namespace.sql:1:"), "{err}");
}

#[test]
fn ledger_trigger_and_command_adapter_load() {
    let p = load("fixtures/layouts/ledger_trigger");
    assert_eq!(p.migrations.format, Format::Diesel);
    assert_eq!(p.config.ledger, Some(Ledger::Diesel));
    assert_eq!(
        ids(&p),
        vec!["00000000000000_diesel_initial_setup", "2026-04-02-000001_create_posts", "2026-04-02-000002_audit_migrations"]
    );

    let p = load("fixtures/layouts/command_adapter");
    assert_eq!(p.migrations.format, Format::Sqlx);
    assert_eq!(p.config.runner, Some(RunnerKind::Command));
    let command = p.config.command.as_ref().unwrap();
    assert_eq!(command.up, "./migrate.sh up {version}");
    assert_eq!(command.list.as_deref(), Some("./migrate.sh list"));
    assert_eq!(ids(&p), vec!["20260403000001_create_users", "20260403000002_create_projects", "20260403000003_add_users_name"]);
    assert!(p.migrations.migrations.iter().all(|m| m.down.is_some()));
    assert!(p.reference_path().unwrap().ends_with("db/structure.sql"));
}

#[test]
fn nondeterministic_fixture_loads() {
    let p = load("fixtures/nondeterministic");
    assert_eq!(ids(&p), vec!["20260405000001_create_events", "20260405000002_create_build_info"]);
    let expect: toml::Table = toml::from_str(&std::fs::read_to_string("fixtures/nondeterministic/expect.toml").unwrap()).unwrap();
    assert_eq!(expect["nondeterministic"].as_str(), Some("public.v"));
    assert_eq!(expect["object"].as_str(), Some("public.events.kind"));
}

// ---------------------------------------------------------------------------------------------
// Errors name the file.

const P: &str = r"pattern = '^V(?P<version>\d+)\.(?P<name>[^.]+)\.(?P<direction>up|down)\.sql$'";

#[test]
fn a_bad_regex_names_the_config_and_the_regex_error() {
    let err = load_error(&[("pgconverge.toml", "# layout\npattern = '^V(?P<version>\\d+'\n"), ("migrations/V1.a.up.sql", "SELECT 1;")]);
    assert!(err.contains("pgconverge.toml:2:1: `pattern` is not a valid regex"), "{err}");
    assert!(err.contains("unclosed group"), "{err}");
}

#[test]
fn a_pattern_without_version_is_an_error() {
    let err = load_error(&[("pgconverge.toml", "pattern = '^(?P<name>.+)\\.sql$'\n"), ("migrations/a.sql", "SELECT 1;")]);
    assert!(err.contains("pgconverge.toml:1:1") && err.contains("no named group `version`"), "{err}");
}

#[test]
fn a_file_the_pattern_does_not_match_is_named() {
    let err = load_error(&[
        ("pgconverge.toml", P),
        ("migrations/V0001.Init.up.sql", "SELECT 1;"),
        ("migrations/V0002_Users.up.sql", "SELECT 1;"),
    ]);
    assert!(err.contains("migrations/V0002_Users.up.sql: V0002_Users.up.sql does not match `pattern`"), "{err}");
}

#[test]
fn pattern_duplicates_and_orphan_downs_are_errors() {
    let err =
        load_error(&[("pgconverge.toml", P), ("migrations/V0001.Init.up.sql", "SELECT 1;"), ("migrations/V1.Again.up.sql", "SELECT 1;")]);
    assert!(err.contains("duplicate migration version") && err.contains("V1.Again.up.sql"), "{err}");
    let err = load_error(&[
        ("pgconverge.toml", P),
        ("migrations/V0001.Init.up.sql", "SELECT 1;"),
        ("migrations/V0002.Gone.down.sql", "SELECT 1;"),
    ]);
    assert!(err.contains("V0002.Gone.down.sql: down migration without an up migration for version 0002"), "{err}");
}

#[test]
fn a_file_the_manifest_does_not_list_is_named() {
    let err = load_error(&[
        ("pgconverge.toml", "order = \"manifest\"\nmanifest_key = \"files\"\n"),
        ("migrations/v1/manifest.json", r#"{"files": ["a.sql"]}"#),
        ("migrations/v1/a.sql", "SELECT 1;"),
        ("migrations/v1/b.sql", "SELECT 1;"),
    ]);
    assert!(err.contains("migrations/v1/b.sql: not listed in the manifest") && err.contains("v1/manifest.json"), "{err}");
}

#[test]
fn a_listed_file_that_does_not_exist_is_named() {
    let err = load_error(&[
        ("pgconverge.toml", "order = \"manifest\"\nmanifest = \"manifest.txt\"\n"),
        ("migrations/v1/manifest.txt", "# order\na.sql\nmissing.sql\n"),
        ("migrations/v1/a.sql", "SELECT 1;"),
    ]);
    assert!(err.contains("v1/manifest.txt:3:1: the manifest lists missing.sql, but") && err.contains("does not exist"), "{err}");
}

#[test]
fn a_missing_manifest_and_a_bad_manifest_are_errors() {
    let err = load_error(&[
        ("pgconverge.toml", "order = \"manifest\"\n"),
        ("migrations/v1/manifest.json", r#"["a.sql"]"#),
        ("migrations/v1/a.sql", "SELECT 1;"),
        ("migrations/v2/b.sql", "SELECT 1;"),
    ]);
    assert!(err.contains("v2/manifest.json: does not exist") && err.contains("version directory"), "{err}");
    let err = load_error(&[
        ("pgconverge.toml", "order = \"manifest\"\n"),
        ("migrations/v1/manifest.json", r#"{"files": ["a.sql"]}"#),
        ("migrations/v1/a.sql", "SELECT 1;"),
    ]);
    assert!(err.contains("v1/manifest.json:1:1") && err.contains("set `manifest_key`"), "{err}");
}

#[test]
fn a_flat_manifest_orders_a_builtin_format() {
    let dir = project(&[
        ("pgconverge.toml", "order = \"manifest\"\n"),
        ("migrations/manifest.json", r#"["20260101000002_b.sql", "20260101000001_a.sql"]"#),
        ("migrations/20260101000001_a.sql", "SELECT 1;"),
        ("migrations/20260101000002_b.sql", "SELECT 2;"),
    ]);
    let p = Project::load(dir.path()).unwrap();
    assert_eq!(p.migrations.format, Format::Sqlx);
    assert_eq!(ids(&p), vec!["20260101000002_b", "20260101000001_a"]);
}

#[test]
fn substitutions_keep_positions_on_the_original_line() {
    let err = load_error(&[
        ("pgconverge.toml", "[substitutions]\n\"{{ .Schema }}\" = \"app\"\n"),
        ("migrations/20260101000001_a.sql", "CREATE SCHEMA {{ .Schema }};\nCREATE TABLEX {{ .Schema }}.t (id int);\n"),
    ]);
    assert!(err.contains("20260101000001_a.sql:2:8: syntax error"), "{err}");
}

#[test]
fn layout_from_config_carries_every_key() {
    let text = "pattern = 'x(?P<version>\\d+)'\norder = \"lexical\"\nmanifest_key = \"k\"\n[substitutions]\na = \"b\"\n";
    let config = Config::parse(Path::new("pgconverge.toml"), text).unwrap();
    let layout = config.layout();
    assert_eq!(layout.pattern.as_deref(), Some("x(?P<version>\\d+)"));
    assert_eq!(layout.order, Some(Order::Lexical));
    assert_eq!(layout.manifest_key.as_deref(), Some("k"));
    assert_eq!(layout.substitutions, BTreeMap::from([("a".to_string(), "b".to_string())]));
    assert!(Layout::default().is_builtin());
}

// ---------------------------------------------------------------------------------------------
// `init` guesses what the hand-written configs say.

/// The keys init is expected to guess, with defaults made explicit.
#[derive(Debug, PartialEq, Eq)]
struct Guessable {
    migrations: PathBuf,
    reference: Option<PathBuf>,
    format: Option<Format>,
    pattern: Option<String>,
    order: Order,
    manifest: String,
    manifest_key: Option<String>,
    ledger: Option<Ledger>,
    setup: Vec<PathBuf>,
    substitution_keys: Vec<String>,
}

fn guessable(dir: &Path) -> Guessable {
    let config = Config::load(dir).unwrap();
    let migrations = config.migrations.clone().unwrap_or_else(|| PathBuf::from("migrations"));
    let layout = config.layout();
    let nested_or_pattern = config.pattern.is_some() || pgconverge::migration::layout::is_nested(&dir.join(&migrations)).unwrap();
    let format = if nested_or_pattern {
        config.format
    } else {
        Some(config.format.unwrap_or_else(|| detect_format(&dir.join(&migrations)).unwrap()))
    };
    Guessable {
        migrations,
        reference: config.reference.clone().or_else(|| dir.join("schema.sql").is_file().then(|| "schema.sql".into())),
        format,
        pattern: config.pattern.clone(),
        order: layout.effective_order(),
        manifest: layout.manifest_name().to_string(),
        manifest_key: config.manifest_key.clone(),
        ledger: config.ledger,
        setup: config.setup.clone(),
        substitution_keys: config.substitutions.keys().cloned().collect(),
    }
}

fn layout_fixtures() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(LAYOUTS).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    dirs.sort();
    dirs
}

#[test]
fn init_guesses_each_layout_fixture() {
    let fixtures = layout_fixtures();
    assert_eq!(fixtures.len(), 5, "{fixtures:?}");
    for fixture in fixtures {
        let name = fixture.file_name().unwrap().to_string_lossy().into_owned();
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join(&name);
        copy_dir(&fixture, &dir);

        // The hand-written config is there: init refuses to overwrite it.
        let err = init(&dir, false).unwrap_err();
        assert!(matches!(err, InitError::Exists { .. }), "{name}: {err}");
        assert!(err.to_string().contains("pgconverge.toml: already exists; pass --force"), "{err}");

        std::fs::remove_file(dir.join("pgconverge.toml")).unwrap();
        let outcome = init(&dir, false).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(outcome.config_path, dir.join("pgconverge.toml"));
        assert_eq!(outcome.files_written, vec![dir.join("pgconverge.toml")], "{name}: {:#?}", outcome.guesses);
        let guesses = outcome.guesses.join("\n");
        assert!(!guesses.contains("warning"), "{name}:\n{guesses}");
        assert!(guesses.contains("loads: "), "{name}:\n{guesses}");

        assert_eq!(
            guessable(&dir),
            guessable(&fixture),
            "{name}:\n{guesses}\n{}",
            std::fs::read_to_string(dir.join("pgconverge.toml")).unwrap()
        );
        // The written config loads the project the same way.
        let written = Project::load(&dir).unwrap_or_else(|e| panic!("{name}: {e}"));
        let original = Project::load(&fixture).unwrap();
        assert_eq!(ids(&written), ids(&original), "{name}");

        // --force overwrites.
        init(&dir, true).unwrap();
    }
}

#[test]
fn init_says_what_it_guessed() {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(Path::new("fixtures/layouts/templated"), tmp.path());
    std::fs::remove_file(tmp.path().join("pgconverge.toml")).unwrap();
    // The same template expression spelled with other spacing gets the same value.
    std::fs::write(
        tmp.path().join("migrations/20260401000004_comment_items.sql"),
        "COMMENT ON TABLE {{index .Options \"Namespace\" }}.items IS 'stock';\n",
    )
    .unwrap();
    let outcome = init(tmp.path(), false).unwrap();
    let guesses = outcome.guesses.join("\n");
    assert!(guesses.contains("substitution: {{ index .Options \"Namespace\" }} -> pgconverge_namespace"), "{guesses}");
    assert!(guesses.contains("substitution: {{index .Options \"Namespace\" }} -> pgconverge_namespace ("), "{guesses}");
    assert!(guesses.contains("setup: setup.sql (creates role app_reader"), "{guesses}");
    let config = Config::load(tmp.path()).unwrap();
    assert_eq!(config.substitutions["{{ index .Options \"Namespace\" }}"], "pgconverge_namespace");
    let p = Project::load(tmp.path()).unwrap();
    assert_eq!(p.migrations.migrations[0].up.statements[0].sql, "CREATE SCHEMA IF NOT EXISTS pgconverge_namespace");

    let tmp = tempfile::tempdir().unwrap();
    copy_dir(Path::new("fixtures/layouts/ledger_trigger"), tmp.path());
    std::fs::remove_file(tmp.path().join("pgconverge.toml")).unwrap();
    let guesses = init(tmp.path(), false).unwrap().guesses.join("\n");
    assert!(
        guesses
            .contains("ledger: diesel (the migration migrations/2026-04-02-000002_audit_migrations/up.sql uses __diesel_schema_migrations"),
        "{guesses}"
    );
}

#[test]
fn init_writes_a_setup_file_for_roles_nothing_creates() {
    let dir = project(&[
        (
            "db/migrate/20260101000001_a.sql",
            "CREATE TABLE t (id int);\nGRANT SELECT ON t TO reporting, PUBLIC;\nALTER TABLE t OWNER TO \"App Owner\";\n",
        ),
        ("db/migrate/20260101000002_b.sql", "CREATE ROLE made_here;\nGRANT SELECT ON t TO made_here;\n"),
        ("db/structure.sql", "CREATE TABLE public.t (id integer);\n"),
    ]);
    let outcome = init(dir.path(), false).unwrap();
    let setup = dir.path().join("pgconverge-setup.sql");
    assert_eq!(outcome.files_written, vec![dir.path().join("pgconverge.toml"), setup.clone()]);
    let sql = std::fs::read_to_string(&setup).unwrap();
    assert!(sql.contains("CREATE ROLE \"App Owner\" NOLOGIN;\nCREATE ROLE reporting NOLOGIN;\n"), "{sql}");
    assert!(!sql.contains("made_here"), "{sql}");
    let config = Config::load(dir.path()).unwrap();
    assert_eq!(config.migrations, Some(PathBuf::from("db/migrate")));
    assert_eq!(config.reference, Some(PathBuf::from("db/structure.sql")));
    assert_eq!(config.format, Some(Format::Sqlx));
    assert_eq!(config.setup, vec![PathBuf::from("pgconverge-setup.sql")]);
    assert_eq!(config.ledger, None);
    // A second run refuses both files.
    std::fs::remove_file(dir.path().join("pgconverge.toml")).unwrap();
    let err = init(dir.path(), false).unwrap_err();
    assert!(err.to_string().contains("pgconverge-setup.sql: already exists"), "{err}");
}

#[test]
fn init_without_sql_is_an_error() {
    let dir = project(&[("README.md", "nothing here")]);
    let err = init(dir.path(), false).unwrap_err();
    assert!(matches!(err, InitError::NoMigrations { .. }), "{err}");
    let err = init(&dir.path().join("missing"), false).unwrap_err();
    assert!(matches!(err, InitError::NotADirectory { .. }), "{err}");
}

#[test]
fn init_on_the_existing_fixtures_agrees_with_their_configs() {
    // The seed fixture: sqlx in migrations/, schema.sql, no layout keys.
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(Path::new("fixtures/k12_lms"), tmp.path());
    std::fs::remove_file(tmp.path().join("pgconverge.toml")).unwrap();
    let outcome = init(tmp.path(), false).unwrap();
    let config = Config::load(tmp.path()).unwrap();
    assert_eq!((config.format, config.pattern, config.order), (Some(Format::Sqlx), None, None));
    assert!(outcome.guesses.iter().any(|g| g == "loads: 10 migrations with this config"), "{:#?}", outcome.guesses);
}
