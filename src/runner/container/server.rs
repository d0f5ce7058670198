//! One PostgreSQL server in a container of its own: created, started, waited for until it
//! answers a connection, and removed by [`ContainerServer::close`] (or, as a last resort, when
//! dropped).

use std::collections::HashMap;
use std::fmt;
use std::time::{Duration, Instant};

use bollard::models::{ContainerCreateBody, ContainerInspectResponse, HostConfig, Mount, MountType, PortBinding};
use bollard::query_parameters::{CreateContainerOptions, InspectContainerOptions, LogsOptionsBuilder, StartContainerOptions};
use bollard::Docker;
use futures_util::StreamExt;
use sqlx::postgres::PgConnectOptions;
use sqlx::Connection;

use super::client::{connect_to, engine_address, published_host};
use super::image::{self, ImageRef};
use super::{docker_error, hostname, reap, redact, CONTAINER_PORT, LABEL_OWNER_HOST, LABEL_OWNER_PID, LABEL_RUN};
use crate::runner::{Backend, RunnerError};

/// From starting the container to a connection that answers (the official image runs its init
/// scripts on a server that only listens on its socket, then restarts it; ours runs initdb).
/// A pull, when the image must be pulled, comes before and is not included.
const READY_TIMEOUT: Duration = Duration::from_secs(120);
/// How long removing the container may take when the server is dropped without [`ContainerServer::close`].
const REMOVE_TIMEOUT: Duration = Duration::from_secs(30);
const SUPERUSER: &str = "postgres";

/// A PostgreSQL server in a container of its own. [`close`](ContainerServer::close) removes it;
/// dropping it without that removes it too, blocking the dropping thread for up to 30 seconds.
pub struct ContainerServer {
    docker: Docker,
    /// The engine's address, for a client of its own when dropped.
    engine: String,
    /// None once removed.
    id: Option<String>,
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
    /// Starts a container from `image` (pulled first if the engine does not have it) and waits
    /// until the server answers a connection.
    pub async fn start(image: &ImageRef) -> Result<ContainerServer, RunnerError> {
        image.check()?;
        let engine = engine_address();
        let docker = connect_to(&engine).await?;
        // Containers of harness processes that were killed before they could remove theirs.
        let _ = reap::reap_with(&docker).await;
        if !image::exists(&docker, image).await? {
            if let Err(error) = image::pull(&docker, image).await {
                return Err(missing_image(image, error));
            }
        }

        let password = crate::runner::random_hex(16)?;
        let pid = std::process::id();
        let run = format!("{pid}-{}", crate::runner::random_suffix());
        let host = published_host(&engine);
        // A local engine publishes the port on the loopback interface only.
        let bind_ip = (host == "127.0.0.1").then(|| host.clone());
        let config = container_config(image, &password, &run, pid, bind_ip);
        let id = match docker.create_container(None::<CreateContainerOptions>, config).await {
            Ok(created) => created.id,
            Err(error) => {
                let _ = reap::remove_run(&docker, &run).await;
                return Err(RunnerError::Docker {
                    action: format!("create a container from {image}"),
                    message: redact(&error.to_string(), &password),
                });
            }
        };
        let mut server =
            ContainerServer { docker, engine, id: Some(id), image: image.clone(), host, port: 0, password, run, version: String::new() };
        match server.boot().await {
            Ok(()) => Ok(server),
            Err(error) => {
                let _ = server.remove().await;
                Err(error)
            }
        }
    }

    /// Starts a container for `major`: [`image_for`](super::image_for), building the local image
    /// first when that is the one chosen and it does not exist yet.
    pub async fn start_major(major: u32) -> Result<ContainerServer, RunnerError> {
        let image = image::image_for(major).await;
        let image = if image == ImageRef::local(major) { image::ensure_local_image(major).await? } else { image };
        Self::start(&image).await
    }

    async fn boot(&mut self) -> Result<(), RunnerError> {
        let id = self.id.clone().unwrap_or_default();
        let action = format!("start a container from {}", self.image);
        self.docker.start_container(&id, None::<StartContainerOptions>).await.map_err(|e| docker_error(&action, e))?;
        let inspected = self.inspect().await.map_err(|e| docker_error("find the container's published port", e))?;
        self.port = published_port(&inspected).ok_or_else(|| RunnerError::Docker {
            action: "find the container's published port".into(),
            message: format!("the engine reports no host port for {CONTAINER_PORT}/tcp"),
        })?;
        self.wait_until_answering().await
    }

    async fn inspect(&self) -> Result<ContainerInspectResponse, bollard::errors::Error> {
        self.docker.inspect_container(self.id.as_deref().unwrap_or_default(), None::<InspectContainerOptions>).await
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
            let running = match self.inspect().await {
                Ok(inspected) => inspected.state.and_then(|s| s.running).unwrap_or(false),
                Err(_) => false,
            };
            if !running || started.elapsed() > READY_TIMEOUT {
                let why = if running { format!("no connection within {READY_TIMEOUT:?}") } else { "the container stopped".to_string() };
                return Err(RunnerError::NotReady(why, self.log_tail().await));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The last 20 lines the container wrote (stdout and stderr), without the password.
    async fn log_tail(&self) -> String {
        let Some(id) = &self.id else { return String::new() };
        let options = LogsOptionsBuilder::default().stdout(true).stderr(true).tail("20").build();
        let read = async {
            let mut text = String::new();
            let mut logs = self.docker.logs(id, Some(options));
            while let Some(Ok(chunk)) = logs.next().await {
                text.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
            }
            text
        };
        let text = tokio::time::timeout(Duration::from_secs(5), read).await.unwrap_or_default();
        redact(text.trim_end(), &self.password)
    }

    async fn remove(&mut self) -> Result<(), RunnerError> {
        match self.id.take() {
            Some(id) => reap::remove(&self.docker, &id).await.map(|_| ()),
            None => Ok(()),
        }
    }

    /// Removes the container (and its anonymous volumes) now.
    pub async fn close(mut self) -> Result<(), RunnerError> {
        self.remove().await
    }

    /// The image the container runs.
    pub fn image(&self) -> &ImageRef {
        &self.image
    }

    /// The container's id.
    pub fn container_id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// The value of the container's `pgconverge.run` label.
    pub fn run_label(&self) -> &str {
        &self.run
    }

    /// The host the published port is reached on (this machine, or a `tcp://` engine's host).
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

/// The container: the server with the throwaway tunings, the data directory on a tmpfs, port
/// 5432 published on a port the engine picks (on `bind_ip` only, when given).
fn container_config(image: &ImageRef, password: &str, run: &str, pid: u32, bind_ip: Option<String>) -> ContainerCreateBody {
    let port = format!("{CONTAINER_PORT}/tcp");
    let tmpfs = |target: &str| Mount { target: Some(target.to_string()), typ: Some(MountType::TMPFS), ..Default::default() };
    let command = [
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
    ];
    ContainerCreateBody {
        image: Some(image.to_string()),
        cmd: Some(command.iter().map(|s| s.to_string()).collect()),
        env: Some(vec![format!("POSTGRES_USER={SUPERUSER}"), format!("POSTGRES_PASSWORD={password}")]),
        labels: Some(HashMap::from([
            (LABEL_RUN.to_string(), run.to_string()),
            (LABEL_OWNER_PID.to_string(), pid.to_string()),
            (LABEL_OWNER_HOST.to_string(), hostname()),
        ])),
        exposed_ports: Some(vec![port.clone()]),
        host_config: Some(HostConfig {
            port_bindings: Some(HashMap::from([(port, Some(vec![PortBinding { host_ip: bind_ip, host_port: Some(String::new()) }]))])),
            // Data in memory: the official image's PGDATA (its parent from 18 on) and ours.
            mounts: Some(vec![tmpfs("/var/lib/postgresql"), tmpfs("/var/lib/postgresql/data")]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The host port 5432/tcp is published on (an IPv4 binding when there are several).
fn published_port(inspected: &ContainerInspectResponse) -> Option<u16> {
    let ports = inspected.network_settings.as_ref()?.ports.as_ref()?;
    let bindings = ports.get(&format!("{CONTAINER_PORT}/tcp"))?.as_ref()?;
    let mut bindings: Vec<&PortBinding> = bindings.iter().collect();
    bindings.sort_by_key(|b| b.host_ip.as_deref().is_some_and(|ip| ip.contains(':')));
    bindings.iter().find_map(|b| b.host_port.as_deref()?.parse().ok())
}

fn missing_image(image: &ImageRef, error: RunnerError) -> RunnerError {
    let hint = if image.name == "pgconverge/postgres" {
        format!("the engine has no {image}; leave out --image and PGCONVERGE_IMAGE, and pgconverge builds it")
    } else {
        format!("the engine has no {image} and could not pull it")
    };
    RunnerError::Docker { action: format!("start a container from {image} ({hint})"), message: error.to_string() }
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

    fn shutdown(self: Box<Self>) -> futures_util::future::BoxFuture<'static, ()> {
        Box::pin(async move {
            let _ = self.close().await;
        })
    }
}

impl Drop for ContainerServer {
    /// The last resort when [`close`](ContainerServer::close) was not awaited (an error or a
    /// cancellation unwound past it): removes the container on a thread with a runtime of its
    /// own (the one dropping this may be single-threaded, or gone) and waits at most 30
    /// seconds. A container still there after that is removed by [`reap()`](super::reap()) once
    /// this process has exited.
    fn drop(&mut self) {
        let Some(id) = self.id.take() else { return };
        let engine = self.engine.clone();
        let (done, finished) = std::sync::mpsc::channel::<()>();
        let spawned = std::thread::Builder::new().name("pgconverge-container-remove".into()).spawn(move || {
            if let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() {
                runtime.block_on(async {
                    let removed = async {
                        let docker = connect_to(&engine).await?;
                        reap::remove(&docker, &id).await
                    };
                    let _ = tokio::time::timeout(REMOVE_TIMEOUT, removed).await;
                });
            }
            let _ = done.send(());
        });
        if spawned.is_ok() {
            let _ = finished.recv_timeout(REMOVE_TIMEOUT + Duration::from_secs(1));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_container_has_the_tunings_labels_tmpfs_and_a_loopback_port() {
        let config = container_config(&ImageRef::local(15), "pw", "1-abc", 1, Some("127.0.0.1".into()));
        let json = serde_json::to_value(&config).unwrap();
        assert_eq!(json["Image"], "pgconverge/postgres:15-local");
        assert_eq!(json["ExposedPorts"], serde_json::json!({"5432/tcp": {}}));
        assert_eq!(json["HostConfig"]["PortBindings"]["5432/tcp"][0]["HostIp"], "127.0.0.1");
        assert_eq!(json["Labels"][LABEL_RUN], "1-abc");
        let mounts = json["HostConfig"]["Mounts"].as_array().unwrap();
        assert!(mounts.iter().all(|m| m["Type"] == "tmpfs"), "{mounts:?}");
        let cmd = json["Cmd"].to_string();
        for setting in ["fsync=off", "synchronous_commit=off", "full_page_writes=off"] {
            assert!(cmd.contains(setting), "{cmd}");
        }
    }
}
