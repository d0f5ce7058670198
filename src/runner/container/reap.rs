//! Containers left behind: every container pgconverge starts carries the pid and host of its
//! owner, so one whose owner (on this host) is gone can be found and removed by any later run.

use std::collections::HashMap;

use bollard::query_parameters::{ListContainersOptionsBuilder, RemoveContainerOptionsBuilder};
use bollard::Docker;

use super::client::connect;
use super::{docker_error, hostname, not_found, process_alive, LABEL_OWNER_HOST, LABEL_OWNER_PID, LABEL_RUN};
use crate::runner::RunnerError;

/// Removes every container labelled `pgconverge.owner-pid` whose owner (on this host) is no
/// longer alive. Returns how many it removed.
pub async fn reap() -> Result<usize, RunnerError> {
    reap_with(&connect().await?).await
}

pub(super) async fn reap_with(docker: &Docker) -> Result<usize, RunnerError> {
    let stale: Vec<String> = containers_labelled(docker, LABEL_OWNER_PID)
        .await?
        .into_iter()
        .filter(|(_, labels)| owner_is_gone(labels, &hostname()))
        .map(|(id, _)| id)
        .collect();
    remove_all(docker, &stale).await
}

/// Removes whatever containers carry `pgconverge.run=<run>` (a start that failed half-way).
pub(super) async fn remove_run(docker: &Docker, run: &str) -> Result<usize, RunnerError> {
    let ids: Vec<String> = containers_labelled(docker, &format!("{LABEL_RUN}={run}")).await?.into_iter().map(|(id, _)| id).collect();
    remove_all(docker, &ids).await
}

/// Ids and labels of the containers, running or not, that match the label filter `label`
/// (`KEY` or `KEY=VALUE`).
async fn containers_labelled(docker: &Docker, label: &str) -> Result<Vec<(String, HashMap<String, String>)>, RunnerError> {
    let filters = HashMap::from([("label", vec![label])]);
    let options = ListContainersOptionsBuilder::default().all(true).filters(&filters).build();
    let containers = docker.list_containers(Some(options)).await.map_err(|e| docker_error("list pgconverge's containers", e))?;
    Ok(containers.into_iter().filter_map(|c| Some((c.id?, c.labels.unwrap_or_default()))).collect())
}

/// Whether a container's owner is a process of this host that no longer runs. (A container
/// without a host label is taken to be from this host.)
fn owner_is_gone(labels: &HashMap<String, String>, here: &str) -> bool {
    let Some(pid) = labels.get(LABEL_OWNER_PID).and_then(|p| p.trim().parse::<i32>().ok()) else { return false };
    let host = labels.get(LABEL_OWNER_HOST).map(|h| h.trim()).unwrap_or("");
    (host.is_empty() || host == here) && pid > 0 && !process_alive(pid)
}

/// Removes the containers; how many this call removed (another process may have removed some
/// first). An error only when none could be removed.
async fn remove_all(docker: &Docker, ids: &[String]) -> Result<usize, RunnerError> {
    let mut removed = 0;
    let mut first_error = None;
    for id in ids {
        match remove(docker, id).await {
            Ok(true) => removed += 1,
            Ok(false) => {}
            Err(error) => first_error = first_error.or(Some(error)),
        }
    }
    match first_error {
        Some(error) if removed == 0 => Err(error),
        _ => Ok(removed),
    }
}

/// Removes a container, running or not, with its anonymous volumes. False when it was already
/// gone, or being removed by someone else.
pub(super) async fn remove(docker: &Docker, id: &str) -> Result<bool, RunnerError> {
    let options = RemoveContainerOptionsBuilder::default().force(true).v(true).build();
    match docker.remove_container(id, Some(options)).await {
        Ok(()) => Ok(true),
        Err(error) if not_found(&error) => Ok(false),
        Err(bollard::errors::Error::DockerResponseServerError { status_code: 409, .. }) => Ok(false),
        Err(error) => Err(docker_error(&format!("remove container {id}"), error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pid: &str, host: Option<&str>) -> HashMap<String, String> {
        let mut labels = HashMap::from([(LABEL_OWNER_PID.to_string(), pid.to_string())]);
        if let Some(host) = host {
            labels.insert(LABEL_OWNER_HOST.to_string(), host.to_string());
        }
        labels
    }

    #[test]
    fn only_containers_of_dead_owners_on_this_host_are_stale() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        child.wait().unwrap();
        let dead = child.id().to_string();
        let alive = std::process::id().to_string();
        assert!(owner_is_gone(&labels(&dead, Some("here")), "here"));
        assert!(owner_is_gone(&labels(&dead, None), "here"), "no host label: this host");
        assert!(!owner_is_gone(&labels(&dead, Some("elsewhere")), "here"), "a pid of another host says nothing here");
        assert!(!owner_is_gone(&labels(&alive, Some("here")), "here"));
        assert!(!owner_is_gone(&labels("0", Some("here")), "here"));
        assert!(!owner_is_gone(&labels("not-a-pid", Some("here")), "here"));
        assert!(!owner_is_gone(&HashMap::new(), "here"));
    }
}
