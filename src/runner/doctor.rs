//! What this machine can run pgconverge on: each backend (embedded, container, url), whether it is
//! usable, and why not; and the frameworks pgconverge drives itself (`runner = "rails"`). Nothing
//! here prints a secret: the database URL is only said to be set.

use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::runner::embedded::{find_server_binaries, EmbeddedCluster, ServerBinaries};
use crate::runner::url::RedactedUrl;
use crate::runner::{majors, Backend, ExistingServer};

pub mod frameworks;

use frameworks::FrameworksReport;

/// The state of every backend.
#[derive(Debug, Clone, Serialize)]
pub struct DoctorReport {
    /// The embedded backend: server binaries found, and whether a cluster starts.
    pub embedded: EmbeddedReport,
    /// The container backend: the Docker engine, its images, what can be built.
    pub container: ContainerReport,
    /// The URL backend: whether `PGCONVERGE_DATABASE_URL` is set and its server answers.
    pub url: UrlReport,
    /// The frameworks with a driver of pgconverge's: whether their runtime loads, and versions.
    pub frameworks: FrameworksReport,
}

impl DoctorReport {
    /// The kinds of the usable backends (`embedded`, `container`, `url`).
    pub fn usable(&self) -> Vec<&'static str> {
        [("embedded", self.embedded.usable), ("container", self.container.usable), ("url", self.url.usable)]
            .into_iter()
            .filter(|(_, usable)| *usable)
            .map(|(kind, _)| kind)
            .collect()
    }
}

/// Server binaries found on the machine.
#[derive(Debug, Clone, Serialize)]
pub struct FoundBinaries {
    /// `postgres --version`, e.g. `15.18`.
    pub version: String,
    /// The major version, e.g. `15`.
    pub major: u32,
    /// The directory holding `postgres` and `initdb`.
    pub bin_dir: PathBuf,
    /// `installed` (PATH, /usr/lib/postgresql, pg_config, PGCONVERGE_PG_BIN) or `fetched`
    /// (scripts/fetch-postgres, in the cache).
    pub source: &'static str,
    /// The extensions this build can create (its `extension/*.control` files), sorted: a
    /// migration that needs one it lacks cannot be checked on it.
    pub extensions: Vec<String>,
}

impl FoundBinaries {
    fn new(binaries: &ServerBinaries, source: &'static str) -> FoundBinaries {
        let extensions = available_extensions(&binaries.bin_dir);
        FoundBinaries { version: binaries.version.clone(), major: binaries.major, bin_dir: binaries.bin_dir.clone(), source, extensions }
    }
}

/// The extensions a server build ships: the `.control` files of its share directory, found
/// next to the real `postgres` binary (`../share/postgresql/extension`, `../share/extension`, or
/// Debian's `/usr/share/postgresql/<major>/extension` for `/usr/lib/postgresql/<major>/bin`).
fn available_extensions(bin_dir: &std::path::Path) -> Vec<String> {
    let real_bin = std::fs::canonicalize(bin_dir.join("postgres")).ok().and_then(|p| p.parent().map(PathBuf::from));
    let bin = real_bin.unwrap_or_else(|| bin_dir.to_path_buf());
    let mut candidates = vec![bin.join("../share/postgresql/extension"), bin.join("../share/extension")];
    if let (Some(major), Some("postgresql")) = (
        bin.parent().and_then(|p| p.file_name()).and_then(|n| n.to_str()),
        bin.parent().and_then(|p| p.parent()).and_then(|p| p.file_name()).and_then(|n| n.to_str()),
    ) {
        candidates.push(PathBuf::from(format!("/usr/share/postgresql/{major}/extension")));
    }
    for dir in candidates {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        let mut names: Vec<String> =
            entries.flatten().filter_map(|e| e.file_name().to_str()?.strip_suffix(".control").map(str::to_string)).collect();
        if !names.is_empty() {
            names.sort();
            return names;
        }
    }
    Vec::new()
}

/// What `doctor` found for the embedded backend.
#[derive(Debug, Clone, Serialize)]
pub struct EmbeddedReport {
    /// A throwaway cluster can run here.
    pub usable: bool,
    /// Why not, when it cannot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why_not: Option<String>,
    /// Every usable set of server binaries, newest first.
    pub binaries: Vec<FoundBinaries>,
    /// Majors `scripts/fetch-postgres` can download (those not fetched yet are fetched on use).
    pub fetchable_majors: Vec<u32>,
    /// The user the server runs as: this user, or `PGCONVERGE_PG_USER` (default `postgres`) as root.
    pub run_as: String,
    /// A throwaway cluster was started (and removed) with the newest binaries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterProbe>,
}

/// Whether a throwaway cluster started with the newest binaries.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterProbe {
    /// It started and answered.
    pub starts: bool,
    /// The server version it ran.
    pub version: String,
    /// How long starting it took.
    pub seconds: f64,
    /// Why it did not start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What `doctor` found for the container backend.
#[derive(Debug, Clone, Serialize)]
pub struct ContainerReport {
    /// Containers can run here.
    pub usable: bool,
    /// Why not, when they cannot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why_not: Option<String>,
    /// The engine's version, when it answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub engine: Option<String>,
    /// `postgres:*` and `pgconverge/postgres:*` images the engine has.
    pub images: Vec<String>,
    /// Whether the registry answers for the official image.
    pub pull_possible: bool,
    /// Majors `pgconverge/postgres:<major>-local` can be built for (by `build-local-image`,
    /// compiled into pgconverge) from binaries on this machine.
    pub buildable_majors: Vec<u32>,
}

impl ContainerReport {
    fn unusable(why_not: String) -> ContainerReport {
        ContainerReport {
            usable: false,
            why_not: Some(why_not),
            engine: None,
            images: Vec::new(),
            pull_possible: false,
            buildable_majors: Vec::new(),
        }
    }
}

/// What `doctor` found for the URL backend.
#[derive(Debug, Clone, Serialize)]
pub struct UrlReport {
    /// A server named by `PGCONVERGE_DATABASE_URL` answers.
    pub usable: bool,
    /// Why not, when it does not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why_not: Option<String>,
    /// Whether `PGCONVERGE_DATABASE_URL` is set (its value is never reported).
    pub set: bool,
    /// The server's version, when it answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_version: Option<String>,
}

/// Checks every backend. Takes a second or two: it starts (and removes) an embedded cluster and
/// asks the Docker engine and the URL's server, each with a timeout.
pub async fn doctor() -> DoctorReport {
    let (embedded, container, url, frameworks) =
        tokio::join!(embedded_report(), container_report(), url_report(), frameworks::frameworks_report());
    DoctorReport { embedded, container, url, frameworks }
}

async fn embedded_report() -> EmbeddedReport {
    let (installed, fetched) = tokio::task::spawn_blocking(|| (find_server_binaries(), majors::fetched_majors()))
        .await
        .unwrap_or_else(|_| (Ok(Vec::new()), Vec::new()));
    let mut binaries: Vec<FoundBinaries> = Vec::new();
    let mut newest: Option<ServerBinaries> = None;
    let installed_error = match installed {
        Ok(found) => {
            binaries.extend(found.iter().map(|b| FoundBinaries::new(b, "installed")));
            newest = found.into_iter().next();
            None
        }
        Err(error) => Some(error.to_string()),
    };
    for b in &fetched {
        if !binaries.iter().any(|f| f.bin_dir == b.bin_dir) {
            binaries.push(FoundBinaries::new(b, "fetched"));
        }
    }
    if newest.is_none() {
        newest = fetched.iter().max_by_key(|b| b.major).cloned();
    }
    let run_as = server_user_name();
    let mut report = EmbeddedReport {
        usable: false,
        why_not: None,
        binaries,
        fetchable_majors: majors::FETCHABLE_MAJORS.to_vec(),
        run_as,
        cluster: None,
    };
    let Some(newest) = newest else {
        report.why_not = Some(installed_error.unwrap_or_else(|| "no PostgreSQL server binaries found".into()));
        return report;
    };
    let started = Instant::now();
    let version = newest.version.clone();
    let outcome = tokio::time::timeout(Duration::from_secs(60), EmbeddedCluster::start_with(newest)).await;
    let seconds = (started.elapsed().as_secs_f64() * 100.0).round() / 100.0;
    let error = match outcome {
        Ok(Ok(cluster)) => {
            drop(cluster);
            None
        }
        Ok(Err(error)) => Some(error.to_string()),
        Err(_) => Some("timed out after 60 s".to_string()),
    };
    report.usable = error.is_none();
    report.why_not = error.as_ref().map(|e| format!("a cluster does not start as user {}: {e}", report.run_as));
    report.cluster = Some(ClusterProbe { starts: error.is_none(), version, seconds, error });
    report
}

fn server_user_name() -> String {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        std::env::var("PGCONVERGE_PG_USER").unwrap_or_else(|_| "postgres".to_string())
    } else {
        std::env::var("USER").unwrap_or_else(|_| "(this user)".to_string())
    }
}

#[cfg(not(feature = "container"))]
async fn container_report() -> ContainerReport {
    ContainerReport::unusable("this pgconverge was built without the `container` feature".into())
}

#[cfg(feature = "container")]
async fn container_report() -> ContainerReport {
    use crate::runner::container::{self, ImageRef};
    let Some(engine) = container::engine_version().await else {
        let address = container::client::engine_address();
        return ContainerReport::unusable(format!("the Docker engine at {address} does not answer (or took over 5 s)"));
    };
    let mut report = ContainerReport::unusable(String::new());
    report.engine = Some(engine);
    report.images = container::local_postgres_images().await.iter().map(ToString::to_string).collect();
    let majors_here = tokio::task::spawn_blocking(|| {
        let mut majors_here: Vec<u32> = find_server_binaries().unwrap_or_default().iter().map(|b| b.major).collect();
        majors_here.extend(majors::fetched_majors().iter().map(|b| b.major));
        majors_here.sort_unstable();
        majors_here.dedup();
        majors_here
    })
    .await
    .unwrap_or_default();
    // The build script is compiled in: every major with binaries here can be built.
    report.buildable_majors = majors_here.clone();
    let probe_major = majors_here.last().copied().unwrap_or(16);
    report.pull_possible = ImageRef::official(probe_major).pullable().await;
    report.usable = !report.images.is_empty() || report.pull_possible || !report.buildable_majors.is_empty();
    report.why_not = (!report.usable).then(|| {
        format!(
            "no postgres image is present, the registry does not answer for postgres:{probe_major}, and there are no server binaries to build pgconverge/postgres:<major>-local from"
        )
    });
    report
}

async fn url_report() -> UrlReport {
    let url = std::env::var("PGCONVERGE_DATABASE_URL").ok().filter(|u| !u.is_empty());
    let mut report = UrlReport { usable: false, why_not: None, set: url.is_some(), server_version: None };
    let Some(url) = url else {
        report.why_not = Some("PGCONVERGE_DATABASE_URL is not set".into());
        return report;
    };
    let redacted = RedactedUrl::new(&url);
    let hide = |text: String| redacted.hide(&text);
    let server = match ExistingServer::from_url(&url) {
        Ok(server) => server,
        Err(error) => {
            report.why_not = Some(hide(format!("PGCONVERGE_DATABASE_URL is set but invalid: {error}")));
            return report;
        }
    };
    match tokio::time::timeout(Duration::from_secs(10), crate::runner::server_version(&server as &dyn Backend)).await {
        Ok(Ok(version)) => {
            report.usable = true;
            report.server_version = Some(version.to_string());
        }
        Ok(Err(error)) => report.why_not = Some(hide(format!("the server in PGCONVERGE_DATABASE_URL does not answer: {error}"))),
        Err(_) => report.why_not = Some("the server in PGCONVERGE_DATABASE_URL did not answer within 10 s".into()),
    }
    report
}

fn verdict(usable: bool, why_not: &Option<String>) -> String {
    match (usable, why_not) {
        (true, _) => "usable".to_string(),
        (false, Some(why)) => format!("not usable: {why}"),
        (false, None) => "not usable".to_string(),
    }
}

impl fmt::Display for DoctorReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = &self.embedded;
        writeln!(f, "embedded: {}", verdict(e.usable, &e.why_not))?;
        for b in &e.binaries {
            writeln!(f, "  {:<10} PostgreSQL {} in {}", b.source, b.version, b.bin_dir.display())?;
            let extensions = match b.extensions.len() {
                0 => "none found".to_string(),
                n => format!("{n}: {}", b.extensions.join(", ")),
            };
            writeln!(f, "  {:<10}   extensions {extensions}", "")?;
        }
        let fetched: Vec<u32> = e.binaries.iter().filter(|b| b.source == "fetched").map(|b| b.major).collect();
        let fetchable: Vec<String> = e.fetchable_majors.iter().filter(|m| !fetched.contains(m)).map(u32::to_string).collect();
        if !fetchable.is_empty() {
            writeln!(f, "  {:<10} majors {} (scripts/fetch-postgres, on first use)", "fetchable", fetchable.join(", "))?;
        }
        if let Some(cluster) = &e.cluster {
            match &cluster.error {
                None => writeln!(
                    f,
                    "  {:<10} PostgreSQL {} starts as user {} ({:.2} s)",
                    "cluster", cluster.version, e.run_as, cluster.seconds
                )?,
                Some(error) => {
                    writeln!(f, "  {:<10} PostgreSQL {} does not start as user {}: {error}", "cluster", cluster.version, e.run_as)?
                }
            }
        }

        let c = &self.container;
        writeln!(f, "container: {}", verdict(c.usable, &c.why_not))?;
        if let Some(engine) = &c.engine {
            writeln!(f, "  {:<10} Docker {engine} answers", "engine")?;
            let images = if c.images.is_empty() { "none".to_string() } else { c.images.join(", ") };
            writeln!(f, "  {:<10} {images}", "images")?;
            writeln!(f, "  {:<10} {}", "pull", if c.pull_possible { "possible" } else { "not possible (no registry answers)" })?;
            if !c.buildable_majors.is_empty() {
                let majors: Vec<String> = c.buildable_majors.iter().map(u32::to_string).collect();
                writeln!(f, "  {:<10} pgconverge/postgres:<major>-local can be built for majors {}", "build", majors.join(", "))?;
            }
        }

        let u = &self.url;
        write!(f, "url: {}", verdict(u.usable, &u.why_not))?;
        if let Some(version) = &u.server_version {
            write!(f, "\n  {:<10} PGCONVERGE_DATABASE_URL is set; the server answers (PostgreSQL {version})", "server")?;
        }
        write!(f, "\n{}", self.frameworks)
    }
}
