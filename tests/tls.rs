//! TLS on the URL backend: `sslmode` disable, prefer, require, verify-ca and verify-full (with
//! `sslrootcert`) against a server of the test's own that has `ssl = on` and a certificate the
//! test made (rcgen: a CA, and a server certificate it signs for `localhost` only).

mod common;

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose};
use sqlx::postgres::{PgConnectOptions, PgSslMode};
use sqlx::Connection;

use common::{pgconverge_embedded, CliRun};

/// A CA's certificate (PEM) and the issuer that signs with it.
fn certificate_authority(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

/// A server certificate for `localhost` (no IP address), signed by `ca`: `(certificate, key)`.
fn server_certificate(ca: &CertifiedIssuer<'static, KeyPair>) -> (String, String) {
    let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    params.distinguished_name.push(DnType::CommonName, "localhost");
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let key = KeyPair::generate().unwrap();
    let certificate = params.signed_by(&key, ca).unwrap();
    (certificate.pem(), key.serialize_pem())
}

/// The user the server runs as when the tests run as root (initdb and postgres refuse root), as
/// the embedded backend picks it.
fn server_user() -> Option<(u32, u32)> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return None;
    }
    let name = std::env::var("PGCONVERGE_PG_USER").unwrap_or_else(|_| "postgres".to_string());
    let c_name = std::ffi::CString::new(name.clone()).unwrap();
    // SAFETY: getpwnam returns static storage or NULL; read at once.
    let entry = unsafe { libc::getpwnam(c_name.as_ptr()) };
    assert!(!entry.is_null(), "running as root, and the server user {name} does not exist");
    // SAFETY: non-null entry from getpwnam.
    Some(unsafe { ((*entry).pw_uid, (*entry).pw_gid) })
}

/// A PostgreSQL server with `ssl = on`, listening on 127.0.0.1 at a free port; stopped and its
/// directory removed when dropped.
struct TlsServer {
    port: u16,
    dir: tempfile::TempDir,
    server: Child,
}

impl TlsServer {
    fn start(certificate: &str, key: &str) -> TlsServer {
        let bin = common::psql().parent().expect("psql's directory").to_path_buf();
        let user = server_user();
        let dir = tempfile::Builder::new().prefix("pgconverge-tls-").tempdir().unwrap();
        let as_user = |command: &mut Command| {
            command.current_dir(dir.path()).env_remove("PGDATA").env("LC_ALL", "C");
            if let Some((uid, gid)) = user {
                command.uid(uid).gid(gid);
            }
        };
        let own = |path: &Path| {
            if let Some((uid, gid)) = user {
                std::os::unix::fs::chown(path, Some(uid), Some(gid)).unwrap();
            }
        };
        own(dir.path());
        let mut initdb = Command::new(bin.join("initdb"));
        initdb.args(["-D", "data", "-U", "postgres", "-A", "trust", "--no-sync", "--locale=C", "-E", "UTF8"]);
        as_user(&mut initdb);
        let output = initdb.output().unwrap_or_else(|e| panic!("{}: {e}", bin.join("initdb").display()));
        assert!(output.status.success(), "initdb: {}", String::from_utf8_lossy(&output.stderr));
        for (name, text) in [("server.crt", certificate), ("server.key", key)] {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
            own(&path);
        }
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let log = std::fs::File::create(dir.path().join("server.log")).unwrap();
        let mut postgres = Command::new(bin.join("postgres"));
        postgres.args(["-D", "data"]);
        let socket_dir = dir.path().display().to_string();
        for setting in [
            "listen_addresses=127.0.0.1".to_string(),
            format!("port={port}"),
            format!("unix_socket_directories={socket_dir}"),
            "ssl=on".to_string(),
            format!("ssl_cert_file={socket_dir}/server.crt"),
            format!("ssl_key_file={socket_dir}/server.key"),
            "fsync=off".to_string(),
        ] {
            postgres.arg("-c").arg(setting);
        }
        as_user(&mut postgres);
        postgres.stdin(Stdio::null()).stdout(log.try_clone().unwrap()).stderr(log);
        // SAFETY: prctl is async-signal-safe. The server dies with this test's thread, even on SIGKILL.
        unsafe {
            postgres.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGQUIT);
                Ok(())
            });
        }
        let server = postgres.spawn().unwrap();
        let mut started = TlsServer { port, dir, server };
        started.wait_until_ready();
        started
    }

    fn wait_until_ready(&mut self) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let options = PgConnectOptions::new()
            .host("127.0.0.1")
            .port(self.port)
            .username("postgres")
            .database("postgres")
            .ssl_mode(PgSslMode::Disable);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.server.try_wait().unwrap() {
                panic!("the TLS server exited ({status}):\n{}", self.log());
            }
            if runtime.block_on(async { sqlx::PgConnection::connect_with(&options).await.map(drop) }).is_ok() {
                return;
            }
            assert!(Instant::now() < deadline, "the TLS server did not accept connections within 60 s:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    fn url(&self, host: &str, parameters: &str) -> String {
        format!("postgres://postgres@{host}:{}/postgres?{parameters}", self.port)
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        // Fast shutdown; the temporary directory goes after it.
        // SAFETY: signals our own child.
        unsafe { libc::kill(self.server.id() as i32, libc::SIGINT) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if matches!(self.server.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

/// A project whose one migration creates a table named after what `pg_stat_ssl` says of the
/// connection running it: `over_tls` or `in_plaintext`.
fn ssl_reporting_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("migrations")).unwrap();
    std::fs::write(
        dir.path().join("migrations/1_record_ssl.sql"),
        "DO $$ BEGIN\n  EXECUTE format('CREATE TABLE %I (id int)', (SELECT CASE WHEN ssl THEN 'over_tls' ELSE 'in_plaintext' END \
         FROM pg_stat_ssl WHERE pid = pg_backend_pid()));\nEND $$;\n",
    )
    .unwrap();
    dir
}

fn run(args: &[&str]) -> CliRun {
    pgconverge_embedded(args)
}

/// The tables `dump --source migrations` shows for `project` on `url`, after it exits 0.
fn dumped_tables(project: &Path, url: &str) -> Vec<String> {
    let dir = project.display().to_string();
    let out = run(&["dump", &dir, "--source", "migrations", "--format", "json", "--database-url", url]);
    assert_eq!(out.code, 0, "dump on {url}: {}{}", out.stdout, out.stderr);
    ["over_tls", "in_plaintext"].iter().filter(|t| out.stdout.contains(&format!("public.{t}"))).map(|t| t.to_string()).collect()
}

#[test]
fn sslmodes_on_the_url_backend() {
    let ca = certificate_authority("pgconverge test CA");
    let (certificate, key) = server_certificate(&ca);
    let server = TlsServer::start(&certificate, &key);
    let files = tempfile::tempdir().unwrap();
    let ca_file: PathBuf = files.path().join("ca.crt");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    let wrong_ca_file = files.path().join("wrong-ca.crt");
    std::fs::write(&wrong_ca_file, certificate_authority("another CA").pem()).unwrap();
    let ca = format!("sslrootcert={}", ca_file.display());
    let wrong_ca = format!("sslrootcert={}", wrong_ca_file.display());
    let project = ssl_reporting_project();

    for (host, parameters, expected) in [
        ("127.0.0.1", "sslmode=disable".to_string(), "in_plaintext"),
        ("127.0.0.1", "sslmode=prefer".to_string(), "over_tls"),
        ("127.0.0.1", "sslmode=require".to_string(), "over_tls"),
        // verify-ca checks the chain, not the name: the certificate names localhost only.
        ("127.0.0.1", format!("sslmode=verify-ca&{ca}"), "over_tls"),
        ("localhost", format!("sslmode=verify-full&{ca}"), "over_tls"),
    ] {
        let url = server.url(host, &parameters);
        assert_eq!(dumped_tables(project.path(), &url), [expected], "{url}");
    }

    // A whole check over TLS.
    let url = server.url("127.0.0.1", "sslmode=require");
    let dir = project.path().display().to_string();
    let check = run(&["check", &dir, "--properties", "fresh", "--no-persist", "--format", "json", "--database-url", &url]);
    assert_eq!(check.code, 0, "{}{}", check.stdout, check.stderr);

    // A certificate the CA did not sign, and a name the certificate does not carry: refused,
    // as a failure of the machine's setup (exit 3), saying why.
    for (host, parameters, why) in [
        ("localhost", format!("sslmode=verify-full&{wrong_ca}"), "UnknownIssuer"),
        ("localhost", format!("sslmode=verify-ca&{wrong_ca}"), "UnknownIssuer"),
        ("127.0.0.1", format!("sslmode=verify-full&{ca}"), "certificate not valid for name"),
    ] {
        let url = server.url(host, &parameters);
        let out = run(&["check", &dir, "--properties", "fresh", "--no-persist", "--database-url", &url]);
        assert_eq!(out.code, 3, "{url}: {}{}", out.stdout, out.stderr);
        assert!(out.stderr.contains("TLS") && out.stderr.contains(why), "{url}: {}", out.stderr);
    }
}
