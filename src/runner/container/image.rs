//! Which image a container runs, and building `pgconverge/postgres:<major>-local` when the engine
//! has no PostgreSQL image and no registry answers.
//!
//! The image is `PGCONVERGE_IMAGE`, else the official `postgres:<major>` when the engine has it or
//! the registry answers for it, else `pgconverge/postgres:<major>-local`. Every image is named
//! with an explicit tag, never `latest`. The local image is assembled by `build-local-image` (a
//! copy compiled into pgconverge) from the machine's own server binaries, then built by the
//! engine from that context (`FROM scratch`, nothing pulled).

use std::fmt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use bollard::query_parameters::{BuildImageOptionsBuilder, CreateImageOptionsBuilder};
use bollard::Docker;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use serde::Serialize;

use super::client::connect;
use super::{docker_error, not_found};
use crate::runner::majors::{cache_dir, run_with_timeout};
use crate::runner::scripts::ScriptDir;
use crate::runner::RunnerError;

/// Assembling the context and building the image (the context takes seconds to a minute, more
/// when the binaries must be fetched first).
const BUILD_TIMEOUT: Duration = Duration::from_secs(900);
const PULL_TIMEOUT: Duration = Duration::from_secs(600);
/// How long the registry has to answer whether it has an image.
const REGISTRY_TIMEOUT: Duration = Duration::from_secs(15);

/// A Docker image reference with an explicit tag (`postgres:16`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct ImageRef {
    /// The repository, with its registry when there is one (`postgres`, `ghcr.io/me/pg`).
    pub name: String,
    /// The tag (`16`, `16-local`).
    pub tag: String,
}

impl ImageRef {
    /// The image `name:tag`.
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

    /// The image [`ensure_local_image`] builds: `pgconverge/postgres:<major>-local`.
    pub fn local(major: u32) -> ImageRef {
        ImageRef::new("pgconverge/postgres", format!("{major}-local"))
    }

    /// Refuses an image without a tag (the engine would take `latest`), `latest` itself, and
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
            Some(format!(
                "`{}` is not an image name (lowercase path components separated by `/`, after an optional registry host)",
                self.name
            ))
        } else {
            None
        };
        match problem {
            Some(reason) => Err(RunnerError::InvalidImage { image: self.to_string(), reason }),
            None => Ok(()),
        }
    }

    /// Whether the engine has this image (false when no engine answers).
    pub async fn exists_locally(&self) -> bool {
        match connect().await {
            Ok(docker) => exists(&docker, self).await.unwrap_or(false),
            Err(_) => false,
        }
    }

    /// Whether the registry answers for this image (the engine asks it for the manifest; no
    /// layer is downloaded). False without a reachable registry, or after 15 seconds.
    pub async fn pullable(&self) -> bool {
        let reference = self.to_string();
        let answer = async {
            let docker = connect().await.ok()?;
            docker.inspect_registry_image(&reference, None).await.ok()
        };
        matches!(tokio::time::timeout(REGISTRY_TIMEOUT, answer).await, Ok(Some(_)))
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

/// Whether the engine has `image`: false only when it says it has none (404).
pub(super) async fn exists(docker: &Docker, image: &ImageRef) -> Result<bool, RunnerError> {
    match docker.inspect_image(&image.to_string()).await {
        Ok(_) => Ok(true),
        Err(error) if not_found(&error) => Ok(false),
        Err(error) => Err(docker_error(&format!("inspect image {image}"), error)),
    }
}

/// Pulls `image` from its registry.
pub(super) async fn pull(docker: &Docker, image: &ImageRef) -> Result<(), RunnerError> {
    let action = format!("pull {image}");
    let options = CreateImageOptionsBuilder::default().from_image(&image.name).tag(&image.tag).build();
    let pulled = async {
        let mut progress = docker.create_image(Some(options), None, None);
        while let Some(step) = progress.next().await {
            step.map_err(|e| docker_error(&action, e))?;
        }
        Ok(())
    };
    tokio::time::timeout(PULL_TIMEOUT, pulled).await.map_err(|_| RunnerError::Timeout(PULL_TIMEOUT, action.clone()))?
}

/// The image for `major`: `PGCONVERGE_IMAGE` if set (a value without a tag gets `:<major>`),
/// else `postgres:<major>` when the engine has it or the registry answers for it, else
/// `pgconverge/postgres:<major>-local` (see [`ensure_local_image`]).
pub async fn image_for(major: u32) -> ImageRef {
    if let Some(value) = std::env::var("PGCONVERGE_IMAGE").ok().filter(|v| !v.trim().is_empty()) {
        return ImageRef::parse_or_tag(&value, &major.to_string());
    }
    let official = ImageRef::official(major);
    if official.exists_locally().await || official.pullable().await {
        return official;
    }
    ImageRef::local(major)
}

/// The `postgres:*` and `pgconverge/postgres:*` images the engine has (none when no engine
/// answers).
pub async fn local_postgres_images() -> Vec<ImageRef> {
    let Ok(docker) = connect().await else { return Vec::new() };
    let Ok(summaries) = docker.list_images(None::<bollard::query_parameters::ListImagesOptions>).await else { return Vec::new() };
    let mut images: Vec<ImageRef> = summaries
        .iter()
        .flat_map(|summary| summary.repo_tags.iter())
        .map(|tag| ImageRef::split(tag.trim()))
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

/// `pgconverge/postgres:<major>-local`, built first if the engine does not have it: from the
/// machine's PostgreSQL `<major>`, or from binaries `fetch-postgres` downloads. A build takes
/// seconds to a minute; afterwards this is instant. One process builds at a time; the others
/// wait and find the image built.
pub async fn ensure_local_image(major: u32) -> Result<ImageRef, RunnerError> {
    let image = ImageRef::local(major);
    let docker = connect().await?;
    if exists(&docker, &image).await? {
        return Ok(image);
    }
    let _lock = BuildLock::acquire(major).await?;
    if exists(&docker, &image).await? {
        return Ok(image);
    }
    build_local_image(major, &image).await?;
    if exists(&docker, &image).await? {
        Ok(image)
    } else {
        Err(RunnerError::ProgramIneffective {
            program: format!("the build of {image}"),
            problem: format!("the engine has no {image} afterwards"),
        })
    }
}

/// Builds the local image of `major` under the name `image`, whether or not the engine has it:
/// `build-local-image --context DIR <major>` assembles the context, then the engine builds it.
pub async fn build_local_image(major: u32, image: &ImageRef) -> Result<(), RunnerError> {
    image.check()?;
    let docker = connect().await?;
    let built = tokio::time::timeout(BUILD_TIMEOUT, build_local(&docker, major, image)).await;
    built.map_err(|_| RunnerError::Timeout(BUILD_TIMEOUT, format!("build {image}")))?
}

async fn build_local(docker: &Docker, major: u32, image: &ImageRef) -> Result<(), RunnerError> {
    let scripts = super::blocking(ScriptDir::write).await??;
    let context = scripts.dir().join("context");
    let (script, dir) = (scripts.path("build-local-image"), context.clone());
    let output = super::blocking(move || {
        let mut command = Command::new(script);
        command.arg("--context").arg(&dir).arg(major.to_string());
        run_with_timeout(command, BUILD_TIMEOUT, &format!("scripts/build-local-image --context DIR {major}"))
    })
    .await??;
    if !output.status.success() {
        return Err(RunnerError::ProgramFailed {
            program: format!("scripts/build-local-image {major}"),
            status: output.status.to_string(),
            output: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        });
    }
    build(docker, image, &context).await
}

/// Builds `image` from a context directory holding `Dockerfile` and `rootfs.tar`.
async fn build(docker: &Docker, image: &ImageRef, context: &Path) -> Result<(), RunnerError> {
    let action = format!("build {image}");
    let (dockerfile, rootfs) = (context.join("Dockerfile"), context.join("rootfs.tar"));
    let read = |path: &Path| {
        let path = path.to_path_buf();
        move |source| RunnerError::File { action: "read", path, source }
    };
    let dockerfile = tokio::fs::read(&dockerfile).await.map_err(read(&dockerfile))?;
    let file = tokio::fs::File::open(&rootfs).await.map_err(read(&rootfs))?;
    let size = file.metadata().await.map_err(read(&rootfs))?.len();
    let body = context_tar(dockerfile, file, size).map_err(read(&rootfs))?;
    let options = BuildImageOptionsBuilder::default().t(&image.to_string()).rm(true).forcerm(true).build();
    let mut progress = docker.build_image(options, None, Some(bollard::body_try_stream(body)));
    let mut log: Vec<String> = Vec::new();
    while let Some(step) = progress.next().await {
        match step {
            Ok(info) => log.extend(info.stream.iter().flat_map(|s| s.lines().map(str::to_string))),
            Err(error) => {
                let tail = log[log.len().saturating_sub(20)..].join("\n");
                return Err(RunnerError::Docker { action, message: format!("{error}\n{tail}").trim().to_string() });
            }
        }
    }
    Ok(())
}

/// A build context as a tar stream: `Dockerfile`, then `rootfs.tar` read from its file as it is
/// sent (tens of megabytes: never held in memory, never copied to disk again).
fn context_tar(
    dockerfile: Vec<u8>,
    rootfs: tokio::fs::File,
    rootfs_size: u64,
) -> Result<impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static, std::io::Error> {
    let padding = |size: u64| vec![0u8; ((512 - size % 512) % 512) as usize];
    let mut head = tar_header("Dockerfile", dockerfile.len() as u64)?;
    head.extend_from_slice(&dockerfile);
    head.extend(padding(dockerfile.len() as u64));
    head.extend(tar_header("rootfs.tar", rootfs_size)?);
    let mut tail = padding(rootfs_size);
    // The end of an archive: two zero blocks.
    tail.extend([0u8; 1024]);
    let head = futures_util::stream::once(async move { Ok(Bytes::from(head)) });
    let tail = futures_util::stream::once(async move { Ok(Bytes::from(tail)) });
    Ok(head.chain(tokio_util::io::ReaderStream::new(rootfs)).chain(tail))
}

/// The 512-byte header of a regular file `name` of `size` bytes.
fn tar_header(name: &str, size: u64) -> Result<Vec<u8>, std::io::Error> {
    let mut header = tar::Header::new_ustar();
    header.set_path(name)?;
    header.set_size(size);
    header.set_mode(0o644);
    header.set_mtime(0);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_cksum();
    Ok(header.as_bytes().to_vec())
}

/// An exclusive lock on `<cache>/build-image-<major>.lock`, the lock `build-local-image` takes
/// when run by hand: one build of an image at a time on this machine. Released on drop.
struct BuildLock {
    _file: std::fs::File,
}

impl BuildLock {
    async fn acquire(major: u32) -> Result<BuildLock, RunnerError> {
        let dir: PathBuf = cache_dir().unwrap_or_else(|| PathBuf::from("/tmp/.cache/pgconverge"));
        let path = dir.join(format!("build-image-{major}.lock"));
        super::blocking(move || {
            let io = |source| RunnerError::File { action: "lock", path: path.clone(), source };
            std::fs::create_dir_all(&dir).map_err(io)?;
            let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path).map_err(io)?;
            // SAFETY: flock on a descriptor this function owns; it blocks until another holder closes theirs.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
                return Err(io(std::io::Error::last_os_error()));
            }
            Ok(BuildLock { _file: file })
        })
        .await?
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
        for bad in [
            "postgres:16!",
            "postgres:.16",
            "Postgres:16",
            "Team/postgres:16",
            "postgres-:16",
            "post gres:16",
            "postgres:16 beta",
            "/postgres:16",
        ] {
            let error = ImageRef::parse(bad).expect_err(bad);
            assert!(matches!(error, RunnerError::InvalidImage { .. }), "{bad}: {error}");
        }
        assert_eq!(ImageRef::parse_or_tag("postgres", "17"), ImageRef::new("postgres", "17"));
        assert_eq!(ImageRef::parse_or_tag("postgres:15", "17"), ImageRef::new("postgres", "15"));
        assert_eq!(ImageRef::local(15).to_string(), "pgconverge/postgres:15-local");
    }

    #[tokio::test]
    async fn the_context_stream_is_a_tar_of_the_dockerfile_and_the_rootfs() {
        let dir = tempfile::tempdir().unwrap();
        // Sizes that are not multiples of 512, and larger than one read of the file stream.
        let rootfs: Vec<u8> = (0..200_003u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(dir.path().join("rootfs.tar"), &rootfs).unwrap();
        let dockerfile = b"FROM scratch\nADD rootfs.tar /\n".to_vec();
        let file = tokio::fs::File::open(dir.path().join("rootfs.tar")).await.unwrap();
        let stream = context_tar(dockerfile.clone(), file, rootfs.len() as u64).unwrap();
        let chunks: Vec<Bytes> = stream.map(|chunk| chunk.unwrap()).collect().await;
        let bytes: Vec<u8> = chunks.concat();
        assert_eq!(bytes.len() % 512, 0);

        let mut archive = tar::Archive::new(bytes.as_slice());
        let mut entries: Vec<(String, Vec<u8>)> = Vec::new();
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let name = entry.path().unwrap().display().to_string();
            let mut content = Vec::new();
            std::io::Read::read_to_end(&mut entry, &mut content).unwrap();
            entries.push((name, content));
        }
        assert_eq!(entries, vec![("Dockerfile".to_string(), dockerfile), ("rootfs.tar".to_string(), rootfs)]);
    }
}
