//! Connecting to the Docker engine and agreeing on an API version.
//!
//! The client speaks the newest API its models describe (1.53) and lowers itself to the engine's
//! version (`GET /version`) before any other request, so an older engine (Docker 20.10 answers
//! up to 1.41) is spoken to in its own version. No environment variable is changed and no relay
//! sits in between. (bollard 0.21.1 in fact leaves the version out of request paths, so an
//! engine answers at its own version either way; negotiating keeps that detail from mattering.)

use std::time::Duration;

use bollard::{Docker, API_DEFAULT_VERSION};

use super::docker_error;
use crate::runner::RunnerError;

/// How long one request may wait for the engine's response to start (a build or a pull streams
/// for longer after that; their callers bound them).
const REQUEST_TIMEOUT_SECS: u64 = 120;
/// How long the engine has to answer the version negotiation.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);

/// Where the engine listens: `DOCKER_HOST` when set, else the first of the usual sockets that
/// exists (`/var/run/docker.sock`, rootless `$XDG_RUNTIME_DIR/docker.sock`, Docker Desktop's
/// `~/.docker/run/docker.sock` and `~/.docker/desktop/docker.sock`).
pub fn engine_address() -> String {
    if let Some(host) = std::env::var("DOCKER_HOST").ok().filter(|h| !h.trim().is_empty()) {
        return host.trim().to_string();
    }
    let mut candidates = vec![std::path::PathBuf::from("/var/run/docker.sock")];
    if let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR") {
        candidates.push(std::path::PathBuf::from(&dir).join("docker.sock"));
        candidates.push(std::path::PathBuf::from(&dir).join(".docker/run/docker.sock"));
    }
    if let Some(home) = std::env::var_os("HOME") {
        candidates.push(std::path::PathBuf::from(&home).join(".docker/run/docker.sock"));
        candidates.push(std::path::PathBuf::from(&home).join(".docker/desktop/docker.sock"));
    }
    let socket = candidates.iter().find(|p| p.exists()).unwrap_or(&candidates[0]);
    format!("unix://{}", socket.display())
}

/// The host a published container port is reached on: the engine's host for `tcp://`, else
/// this machine.
pub fn published_host(address: &str) -> String {
    let remote = address.strip_prefix("tcp://").or_else(|| address.strip_prefix("http://"));
    let host = remote.map(|rest| {
        let authority = rest.split('/').next().unwrap_or(rest);
        match authority.rsplit_once(':') {
            Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host.to_string(),
            _ => authority.to_string(),
        }
    });
    match host {
        Some(host) if !host.is_empty() && host != "localhost" => host.trim_matches(['[', ']']).to_string(),
        _ => "127.0.0.1".to_string(),
    }
}

/// A client for the engine at [`engine_address`], at the newest API version both speak.
pub async fn connect() -> Result<Docker, RunnerError> {
    connect_to(&engine_address()).await
}

/// A client for the engine at `address` (`unix://PATH`, `tcp://HOST:PORT`, `http://HOST:PORT`),
/// at the newest API version both speak.
pub async fn connect_to(address: &str) -> Result<Docker, RunnerError> {
    let action = format!("connect to the Docker engine at {address}");
    let docker = if address.starts_with("unix://") {
        Docker::connect_with_unix(address, REQUEST_TIMEOUT_SECS, API_DEFAULT_VERSION)
    } else if address.starts_with("tcp://") || address.starts_with("http://") {
        Docker::connect_with_http(address, REQUEST_TIMEOUT_SECS, API_DEFAULT_VERSION)
    } else {
        return Err(RunnerError::Docker {
            action,
            message: "pgconverge reaches an engine by unix://PATH, tcp://HOST:PORT or http://HOST:PORT (no TLS)".into(),
        });
    }
    .map_err(|e| docker_error(&action, e))?;
    match tokio::time::timeout(ANSWER_TIMEOUT, docker.negotiate_version()).await {
        Ok(Ok(docker)) => Ok(docker),
        Ok(Err(error)) => Err(docker_error(&action, error)),
        Err(_) => Err(RunnerError::Timeout(ANSWER_TIMEOUT, action)),
    }
}

/// The engine's version (`1.2.3`, as `docker version` shows it), if it answers within 5 seconds.
pub async fn engine_version() -> Option<String> {
    let answer = async {
        let docker = connect().await.ok()?;
        docker.version().await.ok()?.version
    };
    tokio::time::timeout(ANSWER_TIMEOUT, answer).await.ok().flatten().filter(|v| !v.is_empty())
}

/// Whether an engine answers (within 5 seconds).
pub async fn engine_available() -> bool {
    engine_version().await.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_ports_are_reached_on_the_engines_host() {
        assert_eq!(published_host("unix:///var/run/docker.sock"), "127.0.0.1");
        assert_eq!(published_host("tcp://10.0.0.5:2375"), "10.0.0.5");
        assert_eq!(published_host("tcp://docker.internal:2375/"), "docker.internal");
        assert_eq!(published_host("tcp://localhost:2375"), "127.0.0.1");
        assert_eq!(published_host("http://[::1]:2375"), "::1");
    }

    #[tokio::test]
    async fn an_unsupported_scheme_is_refused_before_any_request() {
        let error = connect_to("https://docker.example:2376").await.expect_err("refused");
        assert!(error.to_string().contains("no TLS"), "{error}");
    }

    #[tokio::test]
    async fn a_missing_socket_is_an_error_not_a_hang() {
        let error = connect_to("unix:///nonexistent/docker.sock").await.expect_err("no engine there");
        assert!(error.to_string().contains("/nonexistent/docker.sock"), "{error}");
    }
}
