//! Path traversal on every file route: encoded, double-encoded, backslash, NUL, absolute, and
//! symlinks planted in the HLS folder.

use std::net::SocketAddr;

use sense_testkit::{PATH_ATTACKS, basic_auth};

use crate::common::Run;
use crate::wire::call;
use crate::{PASSWORD, SECRET_FILE, Tally};

pub(crate) async fn class(run: &mut Run) {
    let address: SocketAddr = run.address.parse().unwrap();
    let right = basic_auth("admin", PASSWORD);
    let headers = [("Authorization", right.as_str())];
    let hls = run.dir.join("hls");
    std::os::unix::fs::symlink(run.dir.join("secret.txt"), hls.join("leak.m3u8")).unwrap();
    std::os::unix::fs::symlink(run.dir.join("secret.txt"), hls.join("leak.ts")).unwrap();
    std::os::unix::fs::symlink(&run.dir, hls.join("up")).unwrap();
    std::os::unix::fs::symlink("/etc", hls.join("etc")).unwrap();
    let mut paths: Vec<String> = Vec::new();
    for prefix in ["", "/_app/immutable", "/api/stream"] {
        for attack in PATH_ATTACKS {
            paths.push(format!("{prefix}{attack}"));
        }
    }
    for p in [
        "/api/stream/leak.m3u8",
        "/api/stream/leak.ts",
        "/api/stream/up/secret.txt",
        "/api/stream/up%2fsecret.txt",
        "/api/stream/etc/passwd",
        "/api/stream/etc%2fpasswd",
    ] {
        paths.push(p.to_owned());
    }
    let mut t = Tally::new("traversal");
    for path in &paths {
        let a = call(address, None, "GET", path, &headers, "").await;
        let text = a.text();
        let leaked = text.contains(SECRET_FILE) || text.contains("root:");
        let held =
            a.status != 0 && !leaked && !(path.starts_with("/api/stream") && a.status == 200);
        t.case(held, || {
            format!(
                "{path} → {} {}",
                a.status,
                text.chars().take(80).collect::<String>()
            )
        });
    }
    t.finish(run);
}
