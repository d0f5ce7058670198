//! A throwaway PostgreSQL server in a Docker container, started with testcontainers' async API.
//!
//! The image is `PGCONVERGE_IMAGE`, else the official `postgres:<major>` when it is present or
//! can be pulled, else `pgconverge/postgres:<major>-local`, which `scripts/build-local-image`
//! assembles from server binaries already on the machine (no registry needed). Every image is
//! named with an explicit tag, never `latest`.
//!
//! Each container gets a password generated for the run (never printed), its data directory on a
//! tmpfs, the throwaway tunings `fsync=off`, `synchronous_commit=off`, `full_page_writes=off`,
//! and the labels `pgconverge.run=<pid>-<random>`, `pgconverge.owner-pid=<pid>` and
//! `pgconverge.owner-host=<hostname>`. It belongs to its [`ContainerServer`]: dropping that
//! removes it (testcontainers' drop). A container whose owner was killed before it could do so
//! is removed by [`reap`], which [`ContainerServer::start`] also runs.
//!
//! testcontainers 0.28 speaks Docker API 1.53 and does not negotiate; an older engine refuses
//! every request ("client version 1.53 is too new"). Against such an engine (Docker 20.10
//! answers up to 1.41) requests go through a small in-process relay on a private Unix socket
//! that rewrites the API version in each request path (see the `bridge` module below).

use std::fmt;
use std::io::Read;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde::Serialize;
use sqlx::postgres::PgConnectOptions;
use sqlx::Connection;
use testcontainers::core::{IntoContainerPort, Mount, WaitFor};
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, GenericImage, ImageExt, TestcontainersError};

use super::majors::{run_with_timeout, script_path};
use super::{Backend, RunnerError};

/// The port PostgreSQL listens on inside the container.
pub const CONTAINER_PORT: u16 = 5432;
/// The run a container belongs to: `<pid>-<random>`.
pub const LABEL_RUN: &str = "pgconverge.run";
/// The pid of the process that started the container.
pub const LABEL_OWNER_PID: &str = "pgconverge.owner-pid";
/// The host name of that process (a pid only means something on its own host).
pub const LABEL_OWNER_HOST: &str = "pgconverge.owner-host";

const READY_MESSAGE: &str = "database system is ready to accept connections";
/// Creating and starting the container, up to the first ready message (an image build or pull
/// is not included: [`ensure_local_image`] runs before).
const STARTUP_TIMEOUT: Duration = Duration::from_secs(120);
/// From the first ready message to a connection that answers (the official image restarts the
/// server once after its init scripts).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
const DOCKER_TIMEOUT: Duration = Duration::from_secs(30);
const BUILD_TIMEOUT: Duration = Duration::from_secs(900);
const SUPERUSER: &str = "postgres";

/// A Docker image reference with an explicit tag (`postgres:16`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct ImageRef {
    /// The repository, with its registry when there is one (`postgres`, `ghcr.io/me/pg`).
    pub name: String,
    pub tag: String,
}

impl ImageRef {
    pub fn new(name: impl Into<String>, tag: impl Into<String>) -> ImageRef {
        ImageRef { name: name.into(), tag: tag.into() }
    }

    /// `NAME:TAG`; the tag is required (an image without one would mean `latest`).
    pub fn parse(reference: &str) -> Result<ImageRef, RunnerError> {
        let image = Self::split(reference.trim());
        image.check()?;
        Ok(image)
    }

    /// `NAME:TAG`, or `NAME` with the tag `default_tag`.
    pub fn parse_or_tag(reference: &str, default_tag: &str) -> ImageRef {
        let mut image = Self::split(reference.trim());
        if image.tag.is_empty() && !image.name.contains('@') {
            image.tag = default_tag.to_string();
        }
        image
    }

    fn split(reference: &str) -> ImageRef {
        // A colon after the last slash separates the tag (one before it is a registry port).
        match reference.rfind(':') {
            Some(colon) if !reference[colon..].contains('/') && !reference.contains('@') => {
                ImageRef::new(&reference[..colon], &reference[colon + 1..])
            }
            _ => ImageRef::new(reference, ""),
        }
    }

    /// The official image `postgres:<major>`.
    pub fn official(major: u32) -> ImageRef {
        ImageRef::new("postgres", major.to_string())
    }

    /// The image `scripts/build-local-image` builds: `pgconverge/postgres:<major>-local`.
    pub fn local(major: u32) -> ImageRef {
        ImageRef::new("pgconverge/postgres", format!("{major}-local"))
    }

    /// Refuses what testcontainers would silently turn into `latest`, `latest` itself, and
    /// what is not an image reference at all (the engine would only say so after a pull).
    pub fn check(&self) -> Result<(), RunnerError> {
        let problem = if self.name.is_empty() {
            Some("no image name".to_string())
        } else if self.name.contains('@') {
            Some("digests are not supported, name the image with a tag".to_string())
        } else if self.tag.is_empty() {
            Some(format!("no tag; name one explicitly (e.g. `{}:16`)", self.name))
        } else if self.tag == "latest" {
            Some(format!("`latest` is not an explicit version; name the major (e.g. `{}:16`)", self.name))
        } else if !image_grammar::valid_tag(&self.tag) {
            Some(format!("`{}` is not a tag (letters, digits, `_`, `.` and `-`, at most 128, not starting with `.` or `-`)", self.tag))
        } else if !image_grammar::valid_name(&self.name) {
            Some(format!("`{}` is not an image name (lowercase path components separated by `/`, after an optional registry host)", self.name))
        } else {
            None
        };
        match problem {
            Some(reason) => Err(RunnerError::InvalidImage { image: self.to_string(), reason }),
            None => Ok(()),
        }
    }

    /// Whether the engine has this image.
    pub fn exists_locally(&self) -> bool {
        docker(&["image", "inspect", "--format", "{{.Id}}", &self.to_string()], DOCKER_TIMEOUT)
            .is_ok_and(|o| o.status.success())
    }

    /// Whether the registry answers for this image (`docker manifest inspect`: no layers are
    /// downloaded). False without a reachable registry.
    pub fn pullable(&self) -> bool {
        docker(&["manifest", "inspect", &self.to_string()], Duration::from_secs(15)).is_ok_and(|o| o.status.success())
    }
}

/// The image reference grammar of the Docker distribution spec (IPv6 registry hosts aside).
mod image_grammar {
    use std::sync::LazyLock;

    use regex::Regex;

    static TAG: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$").expect("valid regex"));
    static NAME: LazyLock<Regex> = LazyLock::new(|| {
        let host_part = "[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?";
        let path_part = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
        let pattern = format!(r"^(?:{host_part}(?:\.{host_part})*(?::[0-9]+)?/)?{path_part}(?:/{path_part})*$");
        Regex::new(&pattern).expect("valid regex")
    });

    pub(super) fn valid_tag(tag: &str) -> bool {
        TAG.is_match(tag)
    }

    /// A registry host only counts as one when it looks like a host (a dot, a port, or
    /// `localhost`); otherwise the first component is part of the path and must be lowercase.
    pub(super) fn valid_name(name: &str) -> bool {
        if name.len() > 255 || !NAME.is_match(name) {
            return false;
        }
        match name.split_once('/') {
            Some((first, _)) if !(first.contains('.') || first.contains(':') || first == "localhost") => first == first.to_lowercase(),
            _ => true,
        }
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.name, self.tag)
    }
}

/// The image for `major`: `PGCONVERGE_IMAGE` if set (a value without a tag gets `:<major>`),
/// else `postgres:<major>` when the engine has it or the registry answers for it, else
/// `pgconverge/postgres:<major>-local` (see [`ensure_local_image`]).
pub fn image_for(major: u32) -> ImageRef {
    if let Some(value) = std::env::var("PGCONVERGE_IMAGE").ok().filter(|v| !v.trim().is_empty()) {
        return ImageRef::parse_or_tag(&value, &major.to_string());
    }
    let official = ImageRef::official(major);
    if official.exists_locally() || official.pullable() {
        return official;
    }
    ImageRef::local(major)
}

/// `pgconverge/postgres:<major>-local`, built by `scripts/build-local-image <major>` first if
/// the engine does not have it (from the host's PostgreSQL <major>, or binaries fetched by
/// `scripts/fetch-postgres`). A build takes seconds to a minute; afterwards this is instant.
pub async fn ensure_local_image(major: u32) -> Result<ImageRef, RunnerError> {
    let image = ImageRef::local(major);
    let probe = image.clone();
    if blocking(move || probe.exists_locally()).await? {
        return Ok(image);
    }
    let script = script_path("build-local-image");
    if !script.is_file() {
        return Err(RunnerError::MissingScript { path: script, purpose: format!("build {image}") });
    }
    let output = blocking(move || {
        let mut command = docker_env(Command::new(&script));
        command.arg(major.to_string());
        run_with_timeout(command, BUILD_TIMEOUT, &format!("{} {major}", script.display()))
    })
    .await??;
    if !output.status.success() {
        return Err(RunnerError::ProgramFailed {
            program: format!("scripts/build-local-image {major}"),
            status: output.status.to_string(),
            output: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        });
    }
    let probe = image.clone();
    if blocking(move || probe.exists_locally()).await? {
        Ok(image)
    } else {
        Err(RunnerError::ProgramIneffective {
            program: format!("scripts/build-local-image {major}"),
            problem: format!("the engine has no {image}"),
        })
    }
}

/// Whether a Docker engine answers (`docker info`, at most 5 seconds).
pub fn engine_available() -> bool {
    engine_version().is_some()
}

/// The engine's version (`docker info`), if it answers within 5 seconds.
pub fn engine_version() -> Option<String> {
    let output = docker(&["info", "--format", "{{.ServerVersion}}"], Duration::from_secs(5)).ok()?;
    let version = String::from_utf8_lossy(&output.stdout).trim().to_string();
    (output.status.success() && !version.is_empty() && !version.contains("<no value>")).then_some(version)
}

/// The `postgres:*` and `pgconverge/postgres:*` images the engine has.
pub fn local_postgres_images() -> Vec<ImageRef> {
    let Ok(output) = docker(&["images", "--format", "{{.Repository}}:{{.Tag}}"], DOCKER_TIMEOUT) else {
        return Vec::new();
    };
    let mut images: Vec<ImageRef> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| ImageRef::split(line.trim()))
        .filter(|image| {
            (image.name == "postgres" || image.name.ends_with("/postgres") || image.name == "pgconverge/postgres")
                && !image.tag.is_empty()
                && image.tag != "<none>"
        })
        .collect();
    images.sort_by(|a, b| (&a.name, &a.tag).cmp(&(&b.name, &b.tag)));
    images.dedup();
    images
}

/// Removes every container labelled `pgconverge.owner-pid` whose owner (on this host) is no
/// longer alive. Returns how many it removed.
pub fn reap() -> Result<usize, RunnerError> {
    bridge::remove_stale_sockets();
    let format = format!("{{{{.ID}}}}\t{{{{.Label \"{LABEL_OWNER_PID}\"}}}}\t{{{{.Label \"{LABEL_OWNER_HOST}\"}}}}");
    let filter = format!("label={LABEL_OWNER_PID}");
    let output = docker(&["ps", "-a", "--no-trunc", "--filter", &filter, "--format", &format], DOCKER_TIMEOUT)?;
    if !output.status.success() {
        return Err(command_error("docker ps", &output));
    }
    let here = hostname();
    let stale: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| {
            let mut fields = line.split('\t');
            let id = fields.next()?.trim();
            let pid: i32 = fields.next()?.trim().parse().ok()?;
            let host = fields.next().unwrap_or("").trim();
            let here_or_unknown = host.is_empty() || host == "<no value>" || host == here;
            (!id.is_empty() && here_or_unknown && pid > 0 && !process_alive(pid)).then(|| id.to_string())
        })
        .collect();
    if stale.is_empty() {
        return Ok(0);
    }
    remove_containers(&stale)
}

/// `docker rm -f -v` (volumes too); returns how many the engine reports removed.
fn remove_containers(ids: &[String]) -> Result<usize, RunnerError> {
    let mut args = vec!["rm", "-f", "-v"];
    args.extend(ids.iter().map(String::as_str));
    let output = docker(&args, DOCKER_TIMEOUT)?;
    let removed = String::from_utf8_lossy(&output.stdout).lines().filter(|l| !l.trim().is_empty()).count();
    if removed == 0 && !output.status.success() {
        return Err(command_error("docker rm", &output));
    }
    Ok(removed)
}

/// Removes whatever containers carry `pgconverge.run=<run>` (a start that failed half-way).
fn remove_run(run: &str) -> Result<usize, RunnerError> {
    let filter = format!("label={LABEL_RUN}={run}");
    let output = docker(&["ps", "-aq", "--no-trunc", "--filter", &filter], DOCKER_TIMEOUT)?;
    let ids: Vec<String> = String::from_utf8_lossy(&output.stdout).lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_string).collect();
    if ids.is_empty() {
        return Ok(0);
    }
    remove_containers(&ids)
}

/// A PostgreSQL server in a container of its own, removed when this is dropped.
pub struct ContainerServer {
    container: Option<ContainerAsync<GenericImage>>,
    image: ImageRef,
    host: String,
    port: u16,
    password: String,
    run: String,
    version: String,
}

impl fmt::Debug for ContainerServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ContainerServer")
            .field("image", &self.image)
            .field("container", &self.container_id())
            .field("host", &self.host)
            .field("port", &self.port)
            .field("run", &self.run)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl ContainerServer {
    /// Starts a container from `image` and waits until the server answers a connection.
    pub async fn start(image: &ImageRef) -> Result<ContainerServer, RunnerError> {
        image.check()?;
        blocking(bridge::ensure).await??;
        // Containers of harness processes that were killed before they could remove theirs.
        let _ = blocking(reap).await;

        let password = random_hex(16)?;
        let pid = std::process::id();
        let run = format!("{pid}-{}", super::random_suffix());
        let request = GenericImage::new(image.name.clone(), image.tag.clone())
            .with_exposed_port(CONTAINER_PORT.tcp())
            // The official image prints it twice (its init server, then the real one): the
            // connection poll below covers the gap. The local image prints it once.
            .with_wait_for(WaitFor::message_on_stderr(READY_MESSAGE))
            .with_env_var("POSTGRES_USER", SUPERUSER)
            .with_env_var("POSTGRES_PASSWORD", password.clone())
            .with_label(LABEL_RUN, run.clone())
            .with_label(LABEL_OWNER_PID, pid.to_string())
            .with_label(LABEL_OWNER_HOST, hostname())
            // Data in memory: the official image's PGDATA (its parent from 18 on) and ours.
            .with_mount(Mount::tmpfs_mount("/var/lib/postgresql"))
            .with_mount(Mount::tmpfs_mount("/var/lib/postgresql/data"))
            .with_cmd([
                "postgres",
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                // Large migration sets take many locks in one transaction (as the embedded cluster).
                "-c",
                "max_locks_per_transaction=1024",
            ])
            .with_startup_timeout(STARTUP_TIMEOUT);

        let started = match request.start().await {
            Ok(container) => Ok(container),
            Err(error) => {
                // A container created but not started (or timed out) is not ours to keep.
                let cleanup = run.clone();
                let _ = blocking(move || remove_run(&cleanup)).await;
                Err(start_error(image, error, &password))
            }
        }?;
        let mut server = ContainerServer {
            container: Some(started),
            image: image.clone(),
            host: String::new(),
            port: 0,
            password,
            run,
            version: String::new(),
        };
        // From here on, an error drops `server`, which removes the container.
        let container = server.container.as_ref().expect("just set");
        let host = container.get_host().await.map_err(|e| docker_error("find the container's host", e))?.to_string();
        server.host = if host == "localhost" { "127.0.0.1".to_string() } else { host };
        server.port = container
            .get_host_port_ipv4(CONTAINER_PORT.tcp())
            .await
            .map_err(|e| docker_error("find the container's published port", e))?;
        server.wait_until_answering().await?;
        Ok(server)
    }

    /// Starts a container for `major`: [`image_for`], building the local image first when that
    /// is the one chosen and it does not exist yet.
    pub async fn start_major(major: u32) -> Result<ContainerServer, RunnerError> {
        let image = blocking(move || image_for(major)).await?;
        let image = if image == ImageRef::local(major) { ensure_local_image(major).await? } else { image };
        Self::start(&image).await
    }

    async fn wait_until_answering(&mut self) -> Result<(), RunnerError> {
        let started = Instant::now();
        let options = self.admin_options();
        loop {
            let attempt = tokio::time::timeout(Duration::from_secs(5), async {
                let mut conn = sqlx::postgres::PgConnection::connect_with(&options).await?;
                let version: String = sqlx::query_scalar("SELECT current_setting('server_version')").fetch_one(&mut conn).await?;
                let _ = conn.close().await;
                Ok::<String, sqlx::Error>(version)
            })
            .await;
            if let Ok(Ok(version)) = attempt {
                // "16.2", or "15.18 (Debian 15.18-1.pgdg120+1)": the number.
                self.version = version.split_whitespace().next().unwrap_or_default().to_string();
                return Ok(());
            }
            let running = match &self.container {
                Some(container) => container.is_running().await.unwrap_or(false),
                None => false,
            };
            if !running || started.elapsed() > CONNECT_TIMEOUT {
                return Err(RunnerError::NotReady(CONNECT_TIMEOUT, self.log_tail().await));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn log_tail(&self) -> String {
        let Some(container) = &self.container else { return String::new() };
        let mut log = container.stderr_to_vec().await.unwrap_or_default();
        log.extend(container.stdout_to_vec().await.unwrap_or_default());
        let text = redact(&String::from_utf8_lossy(&log), &self.password);
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// Removes the container now (instead of on drop, which blocks a thread while it does).
    pub async fn stop(mut self) -> Result<(), RunnerError> {
        match self.container.take() {
            Some(container) => container.rm().await.map_err(|e| docker_error("remove the container", e)),
            None => Ok(()),
        }
    }

    pub fn image(&self) -> &ImageRef {
        &self.image
    }

    /// The container's id.
    pub fn container_id(&self) -> Option<&str> {
        self.container.as_ref().map(|c| c.id())
    }

    /// The value of the container's `pgconverge.run` label.
    pub fn run_label(&self) -> &str {
        &self.run
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    /// The host port the container's 5432 is published on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `SHOW server_version`, e.g. `16.2`.
    pub fn server_version(&self) -> &str {
        &self.version
    }
}

impl Backend for ContainerServer {
    fn admin_options(&self) -> PgConnectOptions {
        PgConnectOptions::new()
            .host(&self.host)
            .port(self.port)
            .username(SUPERUSER)
            .password(&self.password)
            .database("postgres")
            .application_name("pgconverge")
    }

    fn describe(&self) -> String {
        format!("container PostgreSQL {} ({}) at {}:{}", self.version, self.image, self.host, self.port)
    }

    fn kind(&self) -> &'static str {
        "container"
    }
}

impl Drop for ContainerServer {
    fn drop(&mut self) {
        let Some(container) = self.container.take() else { return };
        // testcontainers removes the container on drop with an async call that needs a tokio
        // runtime context; give it one when dropped outside any.
        if tokio::runtime::Handle::try_current().is_ok() {
            drop(container);
            return;
        }
        match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(runtime) => {
                let _guard = runtime.enter();
                drop(container);
            }
            Err(_) => {
                let _ = remove_run(&self.run);
                // The container is gone; its handle must not try again without a runtime.
                std::mem::forget(container);
            }
        }
    }
}

fn start_error(image: &ImageRef, error: TestcontainersError, password: &str) -> RunnerError {
    let message = redact(&error.to_string(), password);
    match error {
        TestcontainersError::WaitContainer(_) => RunnerError::NotReady(STARTUP_TIMEOUT, message),
        _ => {
            let hint = if image.exists_locally() {
                String::new()
            } else if image.name == "pgconverge/postgres" {
                format!(" (the engine has no {image}: run scripts/build-local-image {})", image.tag.trim_end_matches("-local"))
            } else {
                format!(" (the engine has no {image} and could not pull it)")
            };
            RunnerError::Docker { action: format!("start a container from {image}{hint}"), message }
        }
    }
}

fn docker_error(action: &str, error: TestcontainersError) -> RunnerError {
    RunnerError::Docker { action: action.to_string(), message: error.to_string() }
}

fn command_error(program: &str, output: &Output) -> RunnerError {
    RunnerError::ProgramFailed {
        program: program.to_string(),
        status: output.status.to_string(),
        output: String::from_utf8_lossy(&output.stderr).trim().to_string(),
    }
}

fn redact(text: &str, password: &str) -> String {
    if password.is_empty() {
        text.to_string()
    } else {
        text.replace(password, "***")
    }
}

/// Runs blocking work (docker CLI calls, scripts) off the async threads.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, RunnerError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| RunnerError::Task { task: "a blocking Docker task".into(), message: e.to_string() })
}

/// The docker CLI, talking to the engine the user configured (not to the bridge).
fn docker(args: &[&str], timeout: Duration) -> Result<Output, RunnerError> {
    let mut command = docker_env(Command::new("docker"));
    command.args(args);
    run_with_timeout(command, timeout, &format!("docker {}", args.first().copied().unwrap_or_default()))
}

/// Undoes the bridge's `DOCKER_HOST` for a child process.
fn docker_env(mut command: Command) -> Command {
    if let Some(original) = bridge::original_docker_host() {
        match original {
            Some(value) => command.env("DOCKER_HOST", value),
            None => command.env_remove("DOCKER_HOST"),
        };
    }
    command
}

fn random_hex(bytes: usize) -> Result<String, RunnerError> {
    let mut buffer = vec![0u8; bytes];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buffer))
        .map_err(|source| RunnerError::File { action: "read", path: "/dev/urandom".into(), source })?;
    Ok(buffer.iter().map(|b| format!("{b:02x}")).collect())
}

fn hostname() -> String {
    let mut buffer = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates within it on success.
    let ok = unsafe { libc::gethostname(buffer.as_mut_ptr().cast(), buffer.len()) } == 0;
    if !ok {
        return String::new();
    }
    let end = buffer.iter().position(|&b| b == 0).unwrap_or(buffer.len());
    String::from_utf8_lossy(&buffer[..end]).into_owned()
}

fn process_alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks for existence.
    pid > 0 && (unsafe { libc::kill(pid, 0) } == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM))
}

/// A relay between testcontainers and a Docker engine older than the API version it speaks.
///
/// testcontainers 0.28 builds its bollard client with API version 1.53 and never negotiates; an
/// engine whose newest API is older (Docker 20.10: 1.41) answers every request with "client
/// version 1.53 is too new". When the engine is on a Unix socket and is that old, [`ensure`]
/// starts, once per process, a relay on a Unix socket in a private (0700) directory
/// (`$TMPDIR/pgconverge-docker-<pid>/docker.sock`) and points `DOCKER_HOST` at it. The relay
/// forwards each connection to the engine's socket, rewriting `/v1.53/` at the start of each
/// request path to the engine's version; everything else (bodies, responses, upgraded streams)
/// passes through unchanged. testcontainers' requests (create, start, inspect, logs, remove)
/// mean the same at 1.41. Our own `docker` CLI calls keep the user's `DOCKER_HOST`.
/// `PGCONVERGE_DOCKER_BRIDGE=0` turns the relay off.
mod bridge {
    use std::ffi::OsString;
    use std::io::{self, BufRead, BufReader, Read, Write};
    use std::net::Shutdown;
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    use std::os::unix::net::{UnixListener, UnixStream};
    use std::path::{Path, PathBuf};
    use std::sync::{Mutex, OnceLock};
    use std::time::Duration;

    use super::RunnerError;

    const DIR_PREFIX: &str = "pgconverge-docker-";

    struct Bridge {
        /// `DOCKER_HOST` before the bridge replaced it.
        original: Option<OsString>,
    }

    static BRIDGE: OnceLock<Option<Bridge>> = OnceLock::new();
    static SETUP: Mutex<()> = Mutex::new(());
    /// The relay's directory, removed when the process exits (a killed process leaves it to
    /// [`remove_stale_sockets`]).
    static DIR: OnceLock<PathBuf> = OnceLock::new();

    extern "C" fn remove_dir_at_exit() {
        if let Some(dir) = DIR.get() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }

    /// `Some(original DOCKER_HOST)` when the bridge is active.
    pub(super) fn original_docker_host() -> Option<Option<OsString>> {
        BRIDGE.get().and_then(|b| b.as_ref()).map(|b| b.original.clone())
    }

    /// Starts the relay if the engine needs one (once per process).
    pub(super) fn ensure() -> Result<(), RunnerError> {
        let _setup = SETUP.lock().unwrap_or_else(|e| e.into_inner());
        if BRIDGE.get().is_some() {
            return Ok(());
        }
        let bridge = start_if_needed()?;
        let _ = BRIDGE.set(bridge);
        Ok(())
    }

    fn start_if_needed() -> Result<Option<Bridge>, RunnerError> {
        if std::env::var_os("PGCONVERGE_DOCKER_BRIDGE").is_some_and(|v| v == "0") {
            return Ok(None);
        }
        let client = testcontainers::bollard::API_DEFAULT_VERSION;
        let client = (client.major_version as u32, client.minor_version as u32);
        let original = std::env::var_os("DOCKER_HOST");
        let Some(socket) = engine_socket(original.as_deref()) else {
            return Ok(None); // tcp:// or https://: nothing to relay through here
        };
        let Some(engine) = engine_api_version(&socket) else {
            return Ok(None); // the engine does not answer: let testcontainers report that
        };
        if engine >= client {
            return Ok(None);
        }
        remove_stale_sockets();
        let dir = std::env::temp_dir().join(format!("{DIR_PREFIX}{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(|source| RunnerError::File { action: "create", path: dir.clone(), source })?;
        let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
        let path = dir.join("docker.sock");
        let listener =
            UnixListener::bind(&path).map_err(|source| RunnerError::File { action: "listen on", path: path.clone(), source })?;
        if DIR.set(dir.clone()).is_ok() {
            // SAFETY: registers a plain function without arguments.
            unsafe { libc::atexit(remove_dir_at_exit) };
        }
        let target = format!("/v{}.{}/", engine.0, engine.1);
        std::thread::Builder::new()
            .name("pgconverge-docker-bridge".into())
            .spawn(move || serve(listener, socket, target))
            .map_err(|source| RunnerError::Thread { name: "Docker API bridge", source })?;
        // testcontainers reads DOCKER_HOST whenever it creates a client. This is the one place
        // the process environment is changed, once, before any client exists.
        std::env::set_var("DOCKER_HOST", format!("unix://{}", path.display()));
        Ok(Some(Bridge { original }))
    }

    /// The engine's Unix socket, resolved as testcontainers resolves it.
    fn engine_socket(docker_host: Option<&std::ffi::OsStr>) -> Option<PathBuf> {
        if let Some(host) = docker_host {
            let host = host.to_string_lossy();
            return host.strip_prefix("unix://").map(PathBuf::from);
        }
        let mut candidates = vec![PathBuf::from("/var/run/docker.sock")];
        if let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR") {
            candidates.push(PathBuf::from(dir).join(".docker/run/docker.sock"));
        }
        if let Some(home) = std::env::var_os("HOME") {
            candidates.push(PathBuf::from(&home).join(".docker/run/docker.sock"));
            candidates.push(PathBuf::from(&home).join(".docker/desktop/docker.sock"));
        }
        candidates.into_iter().find(|p| p.exists())
    }

    /// `GET /version` (unversioned: every engine answers it) → `ApiVersion`.
    fn engine_api_version(socket: &Path) -> Option<(u32, u32)> {
        let mut stream = UnixStream::connect(socket).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        stream.write_all(b"GET /version HTTP/1.0\r\nHost: docker\r\n\r\n").ok()?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).ok()?;
        let text = String::from_utf8_lossy(&response);
        let body = &text[text.find("\r\n\r\n")? + 4..];
        let json: serde_json::Value = serde_json::from_str(body).ok()?;
        parse_version(json.get("ApiVersion")?.as_str()?)
    }

    fn parse_version(text: &str) -> Option<(u32, u32)> {
        let (major, minor) = text.split_once('.')?;
        Some((major.parse().ok()?, minor.parse().ok()?))
    }

    /// Removes relay directories of processes that are gone.
    pub(super) fn remove_stale_sockets() {
        let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else { return };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(pid) = name.strip_prefix(DIR_PREFIX).and_then(|p| p.parse::<i32>().ok()) else { continue };
            if pid != std::process::id() as i32 && !super::process_alive(pid) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }

    fn serve(listener: UnixListener, engine: PathBuf, target: String) {
        for connection in listener.incoming() {
            let Ok(client) = connection else { continue };
            let engine = engine.clone();
            let target = target.clone();
            let _ = std::thread::Builder::new().name("pgconverge-docker-relay".into()).spawn(move || {
                let _ = relay(client, &engine, &target);
            });
        }
    }

    enum Body {
        None,
        Length(u64),
        Chunked,
        /// `Upgrade`: after the head, the connection is a raw stream both ways.
        Raw,
    }

    fn relay(client: UnixStream, engine: &Path, target: &str) -> io::Result<()> {
        let upstream = UnixStream::connect(engine)?;
        // Responses go back verbatim.
        let mut from_engine = upstream.try_clone()?;
        let mut to_client = client.try_clone()?;
        let responses = std::thread::spawn(move || {
            let _ = io::copy(&mut from_engine, &mut to_client);
            let _ = to_client.shutdown(Shutdown::Write);
        });
        let mut requests = BufReader::new(client);
        let mut to_engine = upstream;
        let mut raw = false;
        let result = (|| -> io::Result<()> {
            while let Some((head, body)) = read_head(&mut requests, target)? {
                to_engine.write_all(&head)?;
                match body {
                    Body::None => {}
                    Body::Length(n) => copy_exact(&mut requests, &mut to_engine, n)?,
                    Body::Chunked => copy_chunked(&mut requests, &mut to_engine)?,
                    Body::Raw => {
                        raw = true;
                        io::copy(&mut requests, &mut to_engine)?;
                        break;
                    }
                }
            }
            Ok(())
        })();
        // The client is done. An HTTP client that closes wants no more responses (a followed log
        // stream would otherwise hold this relay until its container goes); an upgraded stream
        // may still carry output the other way.
        let _ = to_engine.shutdown(if raw { Shutdown::Write } else { Shutdown::Both });
        let _ = responses.join();
        result
    }

    /// Reads one request head (None at a clean end of the connection), rewriting the API
    /// version of its path.
    fn read_head(reader: &mut impl BufRead, target: &str) -> io::Result<Option<(Vec<u8>, Body)>> {
        let mut head = Vec::new();
        let mut body = Body::None;
        let mut first = true;
        loop {
            let mut line = Vec::new();
            if reader.read_until(b'\n', &mut line)? == 0 {
                return if head.is_empty() { Ok(None) } else { Err(io::ErrorKind::UnexpectedEof.into()) };
            }
            if head.len() + line.len() > 1 << 20 {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "request head too large"));
            }
            if first {
                first = false;
                head.extend_from_slice(rewrite_request_line(&String::from_utf8_lossy(&line), target).as_bytes());
                continue;
            }
            let text = String::from_utf8_lossy(&line).to_ascii_lowercase();
            if let Some((name, value)) = text.split_once(':') {
                let value = value.trim();
                match name.trim() {
                    "content-length" => {
                        if let (Body::None, Ok(n)) = (&body, value.parse()) {
                            body = Body::Length(n);
                        }
                    }
                    "transfer-encoding" if value.contains("chunked") => body = Body::Chunked,
                    "upgrade" => body = Body::Raw,
                    _ => {}
                }
            }
            head.extend_from_slice(&line);
            if line == b"\r\n" || line == b"\n" {
                return Ok(Some((head, body)));
            }
        }
    }

    /// `POST /v1.53/containers/create HTTP/1.1` → `POST /v1.41/containers/create HTTP/1.1`.
    pub(super) fn rewrite_request_line(line: &str, target: &str) -> String {
        let Some(space) = line.find(' ') else { return line.to_string() };
        let (method, rest) = line.split_at(space + 1);
        if let Some(path) = rest.strip_prefix("/v") {
            if let Some(slash) = path.find('/') {
                if let Some(version) = parse_version(&path[..slash]) {
                    let target_version = parse_version(target.trim_matches(|c| c == '/' || c == 'v'));
                    if target_version.is_some_and(|t| version > t) {
                        return format!("{method}{target}{}", &path[slash + 1..]);
                    }
                }
            }
        }
        line.to_string()
    }

    fn copy_exact(reader: &mut impl Read, writer: &mut impl Write, n: u64) -> io::Result<()> {
        let copied = io::copy(&mut reader.take(n), writer)?;
        if copied < n {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        Ok(())
    }

    fn copy_chunked(reader: &mut impl BufRead, writer: &mut impl Write) -> io::Result<()> {
        loop {
            let mut size_line = Vec::new();
            if reader.read_until(b'\n', &mut size_line)? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            writer.write_all(&size_line)?;
            let text = String::from_utf8_lossy(&size_line);
            let hex = text.split(';').next().unwrap_or("").trim();
            let size = u64::from_str_radix(hex, 16).map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad chunk size"))?;
            if size == 0 {
                // Trailers, up to an empty line.
                loop {
                    let mut line = Vec::new();
                    if reader.read_until(b'\n', &mut line)? == 0 {
                        return Err(io::ErrorKind::UnexpectedEof.into());
                    }
                    writer.write_all(&line)?;
                    if line == b"\r\n" || line == b"\n" {
                        return Ok(());
                    }
                }
            }
            copy_exact(reader, writer, size)?;
            let mut crlf = Vec::new();
            reader.read_until(b'\n', &mut crlf)?;
            writer.write_all(&crlf)?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_references() {
        assert_eq!(ImageRef::parse("postgres:16").unwrap(), ImageRef::new("postgres", "16"));
        assert_eq!(ImageRef::parse("registry:5000/team/postgres:16.4").unwrap(), ImageRef::new("registry:5000/team/postgres", "16.4"));
        assert!(ImageRef::parse("postgres").is_err());
        assert!(ImageRef::parse("postgres:latest").is_err());
        assert!(ImageRef::parse("registry:5000/postgres").is_err());
        assert!(ImageRef::parse("postgres@sha256:abcd").is_err());
        assert_eq!(ImageRef::parse("localhost/pg_x__y.z-1:16_beta.1").unwrap(), ImageRef::new("localhost/pg_x__y.z-1", "16_beta.1"));
        for bad in ["postgres:16!", "postgres:.16", "Postgres:16", "Team/postgres:16", "postgres-:16", "post gres:16", "postgres:16 beta", "/postgres:16"] {
            let error = ImageRef::parse(bad).expect_err(bad);
            assert!(matches!(error, RunnerError::InvalidImage { .. }), "{bad}: {error}");
        }
        assert_eq!(ImageRef::parse_or_tag("postgres", "17"), ImageRef::new("postgres", "17"));
        assert_eq!(ImageRef::parse_or_tag("postgres:15", "17"), ImageRef::new("postgres", "15"));
        assert_eq!(ImageRef::local(15).to_string(), "pgconverge/postgres:15-local");
    }

    #[test]
    fn bridge_rewrites_only_newer_versions() {
        use bridge::rewrite_request_line as rewrite;
        assert_eq!(
            rewrite("POST /v1.53/containers/create?name=x HTTP/1.1\r\n", "/v1.41/"),
            "POST /v1.41/containers/create?name=x HTTP/1.1\r\n"
        );
        assert_eq!(rewrite("GET /v1.40/version HTTP/1.1\r\n", "/v1.41/"), "GET /v1.40/version HTTP/1.1\r\n");
        assert_eq!(rewrite("GET /_ping HTTP/1.1\r\n", "/v1.41/"), "GET /_ping HTTP/1.1\r\n");
    }

    #[test]
    fn redacts_the_password() {
        assert_eq!(redact("auth failed for secret123", "secret123"), "auth failed for ***");
    }

    #[test]
    fn random_passwords_differ() {
        let a = random_hex(16).unwrap();
        assert_eq!(a.len(), 32);
        assert_ne!(a, random_hex(16).unwrap());
    }

    #[allow(dead_code)]
    fn assert_backend_is_send_sync() {
        fn check<T: Backend>() {}
        check::<ContainerServer>();
    }
}
