//! A throwaway PostgreSQL server in a Docker container, through the engine's API (bollard).
//!
//! - [`client`]: connecting to the engine and negotiating the API version (Docker 20.10 answers up
//!   to 1.41; the client speaks 1.53 and lowers itself to what the engine answers).
//! - [`image`]: which image to run and, when the engine has no PostgreSQL image, building
//!   `pgconverge/postgres:<major>-local` from server binaries already on the machine.
//! - [`server`]: one running container, [`ContainerServer`]: started, waited for, closed.
//! - [`reap`](mod@reap): removing containers whose owner process died before it could.
//!
//! Each container gets a password generated for the run (never printed), its data directory on a
//! tmpfs, the throwaway tunings `fsync=off`, `synchronous_commit=off`, `full_page_writes=off`,
//! and the labels `pgconverge.run=<pid>-<random>`, `pgconverge.owner-pid=<pid>` and
//! `pgconverge.owner-host=<hostname>`.

pub mod client;
pub mod image;
pub mod reap;
pub mod server;

pub use client::{engine_available, engine_version};
pub use image::{build_local_image, ensure_local_image, image_for, local_postgres_images, ImageRef};
pub use reap::reap;
pub use server::ContainerServer;

use super::owner::hostname;
use super::RunnerError;

/// The port PostgreSQL listens on inside the container.
pub const CONTAINER_PORT: u16 = 5432;
/// The run a container belongs to: `<pid>-<random>`.
pub const LABEL_RUN: &str = "pgconverge.run";
/// The pid of the process that started the container.
pub const LABEL_OWNER_PID: &str = "pgconverge.owner-pid";
/// The host name of that process (a pid only means something on its own host).
pub const LABEL_OWNER_HOST: &str = "pgconverge.owner-host";

/// An engine call that failed, as a harness error.
fn docker_error(action: &str, error: bollard::errors::Error) -> RunnerError {
    RunnerError::Docker { action: action.to_string(), message: error.to_string() }
}

/// Whether the engine answered 404 (no such container or image).
fn not_found(error: &bollard::errors::Error) -> bool {
    matches!(error, bollard::errors::Error::DockerResponseServerError { status_code: 404, .. })
}

/// Runs blocking work (a script, a file lock) off the async threads.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, RunnerError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| RunnerError::Task { task: "a blocking Docker task".into(), message: e.to_string() })
}

fn redact(text: &str, password: &str) -> String {
    super::url::hide_secrets(text, &[password.to_string()])
}

fn process_alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks for existence.
    pid > 0 && (unsafe { libc::kill(pid, 0) } == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_the_password() {
        assert_eq!(redact("auth failed for secret123", "secret123"), "auth failed for ***");
    }

    #[test]
    fn random_passwords_differ() {
        let a = crate::runner::random_hex(16).unwrap();
        assert_eq!(a.len(), 32);
        assert_ne!(a, crate::runner::random_hex(16).unwrap());
    }

    #[allow(dead_code)]
    fn assert_backend_is_send_sync() {
        fn check<T: super::super::Backend>() {}
        check::<ContainerServer>();
    }
}
