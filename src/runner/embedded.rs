//! A throwaway PostgreSQL cluster: `initdb` into a temporary directory (tmpfs when there is one),
//! a server on a unix socket only, everything removed when the guard drops.
//!
//! `initdb` and `postgres` refuse to run as root, so as root the cluster belongs to an
//! unprivileged user (`PGCONVERGE_PG_USER`, default `postgres`).

use std::ffi::CString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sqlx::postgres::{PgConnectOptions, PgSslMode};
use sqlx::Connection;

use super::{Backend, RunnerError};

/// Where a cluster's server binaries are, and which version they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerBinaries {
    /// The directory that holds `postgres` and `initdb`.
    pub bin_dir: PathBuf,
    /// `postgres --version`, e.g. `15.18`.
    pub version: String,
    /// The major version, e.g. `15`.
    pub major: u32,
    /// `LD_LIBRARY_PATH` for the server processes: empty for a system install; the library
    /// directories of a fetched install that needs them (see `runner::majors`).
    pub lib_dirs: Vec<PathBuf>,
}

/// Directories that hold `postgres` and `initdb`: `PGCONVERGE_PG_BIN` alone when set; else
/// `PATH`, `/usr/lib/postgresql/*/bin`, `pg_config --bindir`, newest version first.
pub(crate) fn find_server_binaries() -> Result<Vec<ServerBinaries>, RunnerError> {
    let explicit = std::env::var_os("PGCONVERGE_PG_BIN").map(PathBuf::from);
    let candidates: Vec<PathBuf> = match &explicit {
        Some(dir) => vec![dir.clone()],
        None => candidate_bin_dirs(),
    };
    let mut found: Vec<ServerBinaries> = Vec::new();
    for dir in candidates {
        if found.iter().any(|f| f.bin_dir == dir) {
            continue;
        }
        if let Some(binaries) = probe_bin_dir(&dir) {
            found.push(binaries);
        }
    }
    if found.is_empty() {
        let searched = match explicit {
            Some(dir) => format!("PGCONVERGE_PG_BIN={}", dir.display()),
            None => "PATH, /usr/lib/postgresql/*/bin, pg_config --bindir".to_string(),
        };
        return Err(RunnerError::NoServerBinaries { searched });
    }
    found.sort_by_key(|b| std::cmp::Reverse(version_key(&b.version)));
    Ok(found)
}

fn candidate_bin_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect()).unwrap_or_default();
    if let Ok(entries) = std::fs::read_dir("/usr/lib/postgresql") {
        let mut versioned: Vec<PathBuf> = entries.flatten().map(|e| e.path().join("bin")).collect();
        versioned.sort();
        dirs.extend(versioned);
    }
    if let Ok(output) = Command::new("pg_config").arg("--bindir").output() {
        if output.status.success() {
            dirs.push(PathBuf::from(String::from_utf8_lossy(&output.stdout).trim()));
        }
    }
    dirs
}

fn probe_bin_dir(dir: &Path) -> Option<ServerBinaries> {
    probe_bin_dir_with(dir, &[])
}

/// Probes `dir` for `postgres` and `initdb`, running them with `lib_dirs` as `LD_LIBRARY_PATH`.
pub(crate) fn probe_bin_dir_with(dir: &Path, lib_dirs: &[PathBuf]) -> Option<ServerBinaries> {
    if !dir.join("postgres").is_file() || !dir.join("initdb").is_file() {
        return None;
    }
    let mut command = Command::new(dir.join("postgres"));
    with_library_path(&mut command, lib_dirs);
    let output = command.arg("--version").output().ok()?;
    // "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"
    let text = String::from_utf8_lossy(&output.stdout);
    let version = text.split_whitespace().nth(2)?.to_string();
    let major = version.split('.').next()?.parse().ok()?;
    Some(ServerBinaries { bin_dir: dir.to_path_buf(), version, major, lib_dirs: lib_dirs.to_vec() })
}

fn version_key(version: &str) -> Vec<u32> {
    version.split(|c: char| !c.is_ascii_digit()).filter_map(|p| p.parse().ok()).collect()
}

/// The user the server processes run as: ourselves, or an unprivileged user when we are root.
#[derive(Debug, Clone, Copy)]
struct ServerUser {
    uid: u32,
    gid: u32,
}

fn server_user() -> Result<Option<ServerUser>, RunnerError> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(None);
    }
    let name = std::env::var("PGCONVERGE_PG_USER").unwrap_or_else(|_| "postgres".to_string());
    let c_name = CString::new(name.clone())
        .map_err(|_| RunnerError::ServerUser { user: name.clone(), problem: "PGCONVERGE_PG_USER contains a NUL byte".into() })?;
    // SAFETY: getpwnam returns a pointer to static storage or NULL; read it at once.
    let entry = unsafe { libc::getpwnam(c_name.as_ptr()) };
    if entry.is_null() {
        return Err(RunnerError::ServerUser {
            user: name,
            problem: "running as root, and that user does not exist (initdb and postgres refuse root; set PGCONVERGE_PG_USER)".into(),
        });
    }
    // SAFETY: non-null entry from getpwnam.
    let (uid, gid) = unsafe { ((*entry).pw_uid, (*entry).pw_gid) };
    Ok(Some(ServerUser { uid, gid }))
}

/// Base directory for clusters: tmpfs when there is one with room for a check (initdb is 2-3x
/// faster there), else the temporary directory. A container's /dev/shm is 64 MB unless the
/// container was started with more: too small for a cluster and its scratch databases.
pub fn cluster_base_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("PGCONVERGE_TMPDIR") {
        return PathBuf::from(dir);
    }
    let shm = Path::new("/dev/shm");
    if shm.is_dir() && super::free_bytes(shm).is_some_and(|free| free >= MIN_CLUSTER_SPACE) && tempfile_probe(shm) {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}

fn tempfile_probe(dir: &Path) -> bool {
    let probe = dir.join(format!(".pgconverge-probe-{}", std::process::id()));
    let ok = std::fs::write(&probe, b"").is_ok();
    let _ = std::fs::remove_file(&probe);
    ok
}

/// The free space a cluster's file system needs: initdb's 40 MB, the scratch databases (8 MB
/// each, a few per job at a time) and up to `max_wal_size` of WAL, with room to spare.
const MIN_CLUSTER_SPACE: u64 = 1 << 30;
const CLUSTER_DIR_PREFIX: &str = "pgconverge-";
const OWNER_FILE: &str = "owner.pid";
const PORT: u16 = 5432;
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A running throwaway cluster. Stopping the server and removing its directory happen on drop.
pub struct EmbeddedCluster {
    dir: PathBuf,
    binaries: ServerBinaries,
    server: Option<Child>,
    /// The leftover directories the reaper left alone at the start, for the report.
    notes: Vec<String>,
}

impl EmbeddedCluster {
    /// Starts a cluster with the newest server binaries found.
    pub async fn start() -> Result<EmbeddedCluster, RunnerError> {
        // Probing runs `postgres --version` and `pg_config`: off the async runtime.
        let found = tokio::task::spawn_blocking(find_server_binaries)
            .await
            .map_err(|e| RunnerError::Task { task: "finding the server binaries".into(), message: e.to_string() })?;
        let binaries = found?.remove(0);
        Self::start_with(binaries).await
    }

    /// Starts a cluster with the given server binaries.
    pub async fn start_with(binaries: ServerBinaries) -> Result<EmbeddedCluster, RunnerError> {
        let base = cluster_base_dir();
        let reaped = reap_stale_clusters(&base);
        let user = server_user()?;
        let dir = base.join(format!("{CLUSTER_DIR_PREFIX}{}-{}", std::process::id(), super::random_suffix()));
        std::fs::create_dir_all(&dir).map_err(|source| RunnerError::File { action: "create", path: dir.clone(), source })?;
        // From here on the guard owns the directory, so an error below still removes it.
        let mut cluster = EmbeddedCluster { dir, binaries, server: None, notes: reaped.refusals() };
        std::fs::write(cluster.dir.join(OWNER_FILE), std::process::id().to_string()).map_err(|source| RunnerError::File {
            action: "write",
            path: cluster.dir.join(OWNER_FILE),
            source,
        })?;
        if let Some(user) = user {
            chown(&cluster.dir, user)?;
        }
        run_initdb(&cluster.binaries.bin_dir, &cluster.binaries.lib_dirs, &cluster.dir, user).await?;
        cluster.server = Some(spawn_server(&cluster.binaries.bin_dir, &cluster.binaries.lib_dirs, &cluster.dir, user)?);
        cluster.wait_until_ready().await?;
        Ok(cluster)
    }

    /// The server binaries this cluster runs.
    pub fn binaries(&self) -> &ServerBinaries {
        &self.binaries
    }

    /// The cluster's directory: its data, and the server's unix socket (port 5432).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    async fn wait_until_ready(&mut self) -> Result<(), RunnerError> {
        let started = Instant::now();
        loop {
            if let Ok(conn) = sqlx::postgres::PgConnection::connect_with(&self.admin_options()).await {
                let _ = conn.close().await;
                return Ok(());
            }
            let exited = self.server.as_mut().and_then(|s| s.try_wait().ok().flatten());
            if exited.is_some() || started.elapsed() > READY_TIMEOUT {
                let mut why = match exited {
                    Some(status) => format!("it exited ({status}) before it accepted connections"),
                    None => format!("no connection within {READY_TIMEOUT:?}"),
                };
                // A full disk may leave no log to say so.
                if let Some(full) = super::disk_full_note(&self.dir) {
                    why = format!("{why}; {full}");
                }
                return Err(RunnerError::NotReady(why, self.log_tail()));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Backend for EmbeddedCluster {
    fn admin_options(&self) -> PgConnectOptions {
        // A unix socket, where the server refuses TLS: no SSLRequest round trip per connection,
        // whatever PGSSLMODE says.
        PgConnectOptions::new()
            .socket(&self.dir)
            .port(PORT)
            .username("postgres")
            .database("postgres")
            .application_name("pgconverge")
            .ssl_mode(PgSslMode::Disable)
    }

    fn describe(&self) -> String {
        format!("embedded PostgreSQL {} ({})", self.binaries.version, self.binaries.bin_dir.display())
    }

    fn kind(&self) -> &'static str {
        "embedded"
    }

    fn notes(&self) -> Vec<String> {
        self.notes.clone()
    }

    fn shutdown(self: Box<Self>) -> futures_util::future::BoxFuture<'static, ()> {
        Box::pin(self.stop())
    }
}

impl EmbeddedCluster {
    /// Stops the server and removes the cluster, without blocking the async runtime: the
    /// normal way to end a cluster (dropping it does the same, blocking, as a last resort).
    pub(crate) async fn stop(mut self) {
        if let Some(mut server) = self.server.take() {
            // SAFETY: signalling our own child process (fast shutdown).
            unsafe { libc::kill(server.id() as libc::pid_t, libc::SIGINT) };
            let deadline = Instant::now() + Duration::from_secs(10);
            while !matches!(server.try_wait(), Ok(Some(_))) && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            if !matches!(server.try_wait(), Ok(Some(_))) {
                let _ = server.kill();
                let _ = tokio::task::spawn_blocking(move || server.wait()).await;
            }
        }
        let dir = std::mem::take(&mut self.dir);
        let _ = tokio::task::spawn_blocking(move || remove_dir_with_retries(&dir)).await;
    }
}

impl Drop for EmbeddedCluster {
    fn drop(&mut self) {
        if self.dir.as_os_str().is_empty() {
            return; // stopped
        }
        if let Some(mut server) = self.server.take() {
            stop_server(&mut server);
        }
        remove_dir_with_retries(&self.dir);
    }
}

/// Fast shutdown (SIGINT), then SIGKILL if the server has not exited within 10 s.
fn stop_server(server: &mut Child) {
    let pid = server.id() as libc::pid_t;
    // SAFETY: signalling our own child process.
    unsafe { libc::kill(pid, libc::SIGINT) };
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = server.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = server.kill();
    let _ = server.wait();
}

fn chown(path: &Path, user: ServerUser) -> Result<(), RunnerError> {
    std::os::unix::fs::chown(path, Some(user.uid), Some(user.gid)).map_err(|source| RunnerError::File {
        action: "chown",
        path: path.to_path_buf(),
        source,
    })
}

fn as_server_user(command: &mut Command, dir: &Path, user: Option<ServerUser>) {
    // The server gets none of the harness's environment (a CI job's tokens): `COPY ... FROM
    // PROGRAM 'env'` under trust = "superuser" would print it into a report.
    command.env_clear().current_dir(dir).env("PATH", "/usr/local/bin:/usr/bin:/bin").env("LC_ALL", "C");
    if let Some(tz) = std::env::var_os("TZ") {
        command.env("TZ", tz);
    }
    if let Some(user) = user {
        command.uid(user.uid).gid(user.gid);
    }
}

/// Prepends `lib_dirs` (when there are any) to the child's `LD_LIBRARY_PATH`.
fn with_library_path(command: &mut Command, lib_dirs: &[PathBuf]) {
    if lib_dirs.is_empty() {
        return;
    }
    let inherited = std::env::var_os("LD_LIBRARY_PATH");
    let paths = lib_dirs.iter().cloned().chain(inherited.iter().flat_map(std::env::split_paths));
    if let Ok(joined) = std::env::join_paths(paths) {
        command.env("LD_LIBRARY_PATH", joined);
    }
}

/// How long `initdb` may take (about a second on tmpfs) before it counts as hung.
const INITDB_TIMEOUT: Duration = Duration::from_secs(120);

async fn run_initdb(bin: &Path, lib_dirs: &[PathBuf], dir: &Path, user: Option<ServerUser>) -> Result<(), RunnerError> {
    let mut command = Command::new(bin.join("initdb"));
    as_server_user(&mut command, dir, user);
    with_library_path(&mut command, lib_dirs);
    command.args(["-D", "data", "-U", "postgres", "-A", "trust", "--no-sync", "--locale=C", "-E", "UTF8"]);
    let mut command = tokio::process::Command::from(command);
    command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
    let output = match tokio::time::timeout(INITDB_TIMEOUT, command.output()).await {
        Ok(output) => output.map_err(|source| RunnerError::Spawn { program: bin.join("initdb").display().to_string(), source })?,
        Err(_) => return Err(RunnerError::Timeout(INITDB_TIMEOUT, "initdb did not finish".into())),
    };
    if output.status.success() {
        Ok(())
    } else {
        Err(RunnerError::ProgramFailed {
            program: "initdb".into(),
            status: output.status.to_string(),
            output: String::from_utf8_lossy(&output.stderr).into_owned(),
        })
    }
}

fn spawn_server(bin: &Path, lib_dirs: &[PathBuf], dir: &Path, user: Option<ServerUser>) -> Result<Child, RunnerError> {
    let log_path = dir.join("server.log");
    let log = std::fs::File::create(&log_path).map_err(|source| RunnerError::File { action: "create", path: log_path.clone(), source })?;
    let log_err = log.try_clone().map_err(|source| RunnerError::File { action: "open", path: log_path, source })?;
    let mut command = Command::new(bin.join("postgres"));
    as_server_user(&mut command, dir, user);
    with_library_path(&mut command, lib_dirs);
    command.arg("-D").arg("data");
    let socket_dir = dir.to_string_lossy().into_owned();
    let port = PORT.to_string();
    let settings: [(&str, &str); 13] = [
        ("listen_addresses", ""),
        ("unix_socket_directories", &socket_dir),
        ("port", &port),
        // A throwaway cluster: durability buys nothing.
        ("fsync", "off"),
        ("synchronous_commit", "off"),
        ("full_page_writes", "off"),
        // Each scratch database's CREATE DATABASE writes its template (8 MB) to the WAL; a
        // checkpoint every 128 MB (cheap with fsync off) keeps the cluster's size bounded.
        ("max_wal_size", "128MB"),
        ("max_connections", "100"),
        // Large migration sets take many locks in one transaction.
        ("max_locks_per_transaction", "1024"),
        ("logging_collector", "off"),
        // Shared-memory segments as files in the data directory, removed with it even after a
        // SIGKILL, instead of /dev/shm/PostgreSQL.* files that outlive a killed server.
        ("dynamic_shared_memory_type", "mmap"),
        ("log_min_messages", "warning"),
        ("log_min_error_statement", "panic"),
    ];
    for (name, value) in settings {
        command.arg("-c").arg(format!("{name}={value}"));
    }
    command.stdin(Stdio::null()).stdout(log).stderr(log_err);
    // If the harness dies without unwinding (SIGKILL), take the server down with it.
    // SAFETY: prctl is async-signal-safe; runs in the child after the uid change.
    unsafe {
        command.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGQUIT);
            Ok(())
        });
    }
    command.spawn().map_err(|source| RunnerError::Spawn { program: bin.join("postgres").display().to_string(), source })
}

/// What [`reap_stale_clusters`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Reaped {
    /// Leftover cluster directories removed.
    pub removed: usize,
    /// Directories with the cluster prefix left alone, and why: not the harness's own (another
    /// owner, a symlink, a pid file naming a process that is not its server). The base directory
    /// (`/dev/shm`) is world-writable, so anyone can plant one.
    pub refused: Vec<(PathBuf, String)>,
}

impl Reaped {
    /// One line per directory left alone.
    pub fn refusals(&self) -> Vec<String> {
        self.refused.iter().map(|(path, why)| format!("left {} alone: {why}", path.display())).collect()
    }
}

/// Whose leftovers the reaper may touch: the directories and pid files the harness writes
/// (itself, or the server user it hands the directory to as root), and the server processes
/// (the server user as root, else the harness's own user).
struct Owners {
    files: Vec<u32>,
    server: Option<u32>,
}

impl Owners {
    fn of_this_process() -> Owners {
        // SAFETY: geteuid has no preconditions.
        let me = unsafe { libc::geteuid() };
        match server_user() {
            Ok(Some(user)) => Owners { files: vec![me, user.uid], server: Some(user.uid) },
            // Root without the server user: no server of ours can run, so none is signalled.
            Err(_) => Owners { files: vec![me], server: None },
            Ok(None) => Owners { files: vec![me], server: Some(me) },
        }
    }
}

/// Removes cluster directories whose owning harness process is gone (it was killed before it
/// could clean up), stopping their server first if it still runs. Only directories the harness
/// made are touched; the others are reported in [`Reaped::refused`].
pub fn reap_stale_clusters(base: &Path) -> Reaped {
    let mut reaped = Reaped::default();
    let Ok(entries) = std::fs::read_dir(base) else { return reaped };
    let owners = Owners::of_this_process();
    for entry in entries.flatten() {
        if !entry.file_name().to_string_lossy().starts_with(CLUSTER_DIR_PREFIX) {
            continue;
        }
        let path = entry.path();
        match reap_one(&path, &owners) {
            Ok(true) => reaped.removed += 1,
            Ok(false) => {}
            Err(why) => reaped.refused.push((path, why)),
        }
    }
    reaped
}

/// `Ok(true)`: removed; `Ok(false)`: in use (its harness runs) or not removable now; `Err`: not
/// the harness's, left alone.
fn reap_one(path: &Path, owners: &Owners) -> Result<bool, String> {
    use std::os::unix::fs::MetadataExt;
    // symlink_metadata: a symlink is judged as itself, never as what it points to.
    let meta = std::fs::symlink_metadata(path).map_err(|e| format!("cannot inspect it: {e}"))?;
    if meta.file_type().is_symlink() {
        return Err("a symbolic link, not a directory pgconverge made".into());
    }
    if !meta.is_dir() {
        return Err("not a directory".into());
    }
    if !owners.files.contains(&meta.uid()) {
        return Err(format!("owned by uid {}, not by this user or the server user", meta.uid()));
    }
    let Some(owner) = read_pid(&path.join(OWNER_FILE), owners)? else { return Ok(false) };
    if process_alive(owner) {
        return Ok(false);
    }
    let data = path.join("data");
    if let Ok(meta) = std::fs::symlink_metadata(&data) {
        if !meta.is_dir() || !owners.files.contains(&meta.uid()) {
            return Err("its data directory is a symlink, not a directory, or someone else's".into());
        }
    }
    if let Some(pid) = read_pid(&data.join("postmaster.pid"), owners)?.filter(|&p| process_alive(p)) {
        if let Some(why) = not_our_server(pid, owners) {
            return Err(format!("its postmaster.pid names process {pid}, {why}"));
        }
        // SAFETY: a postgres server of the expected user, named by the stale cluster's postmaster.pid.
        unsafe { libc::kill(pid, libc::SIGQUIT) };
        let deadline = Instant::now() + Duration::from_secs(5);
        while process_alive(pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    Ok(remove_dir_with_retries(path))
}

/// The first line of a pid file the harness (or its server) wrote: a regular file, not a
/// symlink, of an expected owner. `None` when there is none (yet).
fn read_pid(path: &Path, owners: &Owners) -> Result<Option<i32>, String> {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::symlink_metadata(path) else { return Ok(None) };
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    if !meta.is_file() || !owners.files.contains(&meta.uid()) || meta.len() > 4096 {
        return Err(format!("its {name} is a symlink, not a regular file, too large, or someone else's (uid {})", meta.uid()));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read its {name}: {e}"))?;
    Ok(text.lines().next().and_then(|l| l.trim().parse().ok()).filter(|&pid: &i32| pid > 0))
}

/// Why live process `pid` is not a server the harness started: its owner or its executable.
fn not_our_server(pid: i32, owners: &Owners) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let proc = PathBuf::from(format!("/proc/{pid}"));
    let Ok(meta) = std::fs::metadata(&proc) else { return Some("whose owner cannot be read".into()) };
    if owners.server != Some(meta.uid()) {
        return Some(format!("which runs as uid {}, not as the server user", meta.uid()));
    }
    match std::fs::read_link(proc.join("exe")) {
        Ok(exe) if exe.file_name().is_some_and(|name| name == "postgres") => None,
        Ok(exe) => Some(format!("which runs {}, not a postgres server", exe.display())),
        Err(e) => Some(format!("whose executable cannot be read ({e})")),
    }
}

/// A dying server's last processes may still write a file or two: retry a few times.
fn remove_dir_with_retries(path: &Path) -> bool {
    for _ in 0..20 {
        if std::fs::remove_dir_all(path).is_ok() || !path.exists() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

fn process_alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks for existence.
    pid > 0 && (unsafe { libc::kill(pid, 0) } == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM))
}
