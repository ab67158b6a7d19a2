//! Certificates for TLS tests, made with the `openssl` command (Debian's `openssl` package): a
//! CA, a server certificate for 127.0.0.1 and localhost and a client certificate it signed, and a
//! second CA that signed neither, to be trusted by mistake.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A temporary directory of PEM files: `ca.crt`, `server.crt` + `server.key`, `client.crt` +
/// `client.key`, `other-ca.crt`. Removed when dropped.
#[derive(Debug)]
pub struct TestCerts {
    dir: PathBuf,
}

impl TestCerts {
    /// Makes a fresh set (EC P-256, valid two days).
    ///
    /// # Panics
    /// When `openssl` is missing or fails (the message quotes what it said).
    pub fn generate() -> TestCerts {
        static SETS: AtomicUsize = AtomicUsize::new(0);
        let n = SETS.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("sense-certs-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create the certificates' temp dir");
        let certs = TestCerts { dir };
        certs.make_ca("ca", "Sense Pulse test CA");
        certs.make_ca("other-ca", "Some other CA");
        certs.make_leaf(
            "server",
            "/CN=127.0.0.1",
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
             extendedKeyUsage=serverAuth\n",
        );
        certs.make_leaf(
            "client",
            "/CN=sense-pulse test client",
            "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n",
        );
        certs
    }

    /// The CA that signed the server and client certificates.
    pub fn ca(&self) -> PathBuf {
        self.dir.join("ca.crt")
    }

    /// A CA that signed nothing here.
    pub fn other_ca(&self) -> PathBuf {
        self.dir.join("other-ca.crt")
    }

    /// The server's certificate (127.0.0.1 and localhost).
    pub fn server_cert(&self) -> PathBuf {
        self.dir.join("server.crt")
    }

    /// The server's private key.
    pub fn server_key(&self) -> PathBuf {
        self.dir.join("server.key")
    }

    /// A client certificate the CA signed.
    pub fn client_cert(&self) -> PathBuf {
        self.dir.join("client.crt")
    }

    /// The client certificate's private key.
    pub fn client_key(&self) -> PathBuf {
        self.dir.join("client.key")
    }

    /// The directory holding them (to put broken files next to them).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn openssl(&self, args: &[&str]) {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(&self.dir)
            .output()
            .unwrap_or_else(|e| {
                panic!("cannot run `openssl` ({e}); install it with `apt-get install openssl`")
            });
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn make_ca(&self, name: &str, subject: &str) {
        let (key, crt) = (format!("{name}.key"), format!("{name}.crt"));
        self.openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &crt,
            "-days",
            "2",
            "-subj",
            &format!("/CN={subject}"),
        ]);
    }

    /// A key and a certificate `ca` signs, with the extensions `ext` (openssl's extfile lines).
    fn make_leaf(&self, name: &str, subject: &str, ext: &str) {
        let (key, csr, crt, extfile) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.crt"),
            format!("{name}.ext"),
        );
        std::fs::write(self.dir.join(&extfile), ext).expect("write the extensions file");
        self.openssl(&[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &csr,
            "-subj",
            subject,
        ]);
        self.openssl(&[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            &crt,
            "-days",
            "2",
            "-extfile",
            &extfile,
        ]);
    }
}

impl Drop for TestCerts {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
