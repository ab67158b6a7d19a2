//! `REDIS_URL_FILE`: the Redis URL read from a file, as Docker's secrets convention has it (`*_FILE`):
//! a satellite's URL carries its own Redis user and password, so it comes from the node's own file
//! (docker/stack.yml binds /etc/sense-pulse/redis-url) rather than from an environment shared by
//! every node.
//!
//! The file's content (trimmed) becomes `REDIS_URL` for the whole process, and for the sources the
//! orchestrator starts, which are handed `REDIS_URL`. Setting a variable of this process is
//! `unsafe` in Rust 2024 (and the workspace denies unsafe code), so the binary executes itself
//! again, before anything else starts, with `REDIS_URL` set and `REDIS_URL_FILE` removed. `--redis`
//! still wins, as over `REDIS_URL`.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::ExitCode;

use crate::commands::{EXIT_FAILURE, EXIT_INVALID};
use crate::logs;

/// The variable naming the file.
pub const VAR: &str = "REDIS_URL_FILE";

/// The Redis URL in the file at `path`: its content, trimmed; an error naming the file when it
/// cannot be read or holds nothing.
pub fn read(path: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "cannot read the Redis URL from {VAR} {}: {e}. Write the node's Redis URL there \
             (e.g. redis://user:password@hub:6379), or unset {VAR}",
            path.display()
        )
    })?;
    let url = text.trim();
    if url.is_empty() {
        return Err(format!(
            "{VAR} {} is empty: write the node's Redis URL in it (e.g. \
             redis://user:password@hub:6379)",
            path.display()
        ));
    }
    Ok(url.to_owned())
}

/// When `REDIS_URL_FILE` is set (not empty): executes this binary again with its arguments and
/// `REDIS_URL` from the file; returns only when that cannot be done, with the exit code (2 for a
/// file that cannot be read). `None` when the variable is not set.
pub fn apply() -> Option<ExitCode> {
    let path = std::env::var_os(VAR).filter(|p| !p.is_empty())?;
    let url = match read(Path::new(&path)) {
        Ok(url) => url,
        Err(message) => {
            logs::error(&message);
            return Some(ExitCode::from(EXIT_INVALID));
        }
    };
    let mut args = std::env::args_os();
    let arg0 = args.next().unwrap_or_else(|| OsString::from("sense-pulse"));
    let error = match std::env::current_exe() {
        Ok(exe) => std::process::Command::new(exe)
            .arg0(arg0)
            .args(args)
            .env("REDIS_URL", url)
            .env_remove(VAR)
            .exec(),
        Err(e) => e,
    };
    logs::error(&format!(
        "cannot run sense-pulse again with the Redis URL of {VAR}: {error}"
    ));
    Some(ExitCode::from(EXIT_FAILURE))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, content: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("sense-redis-url-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, content).unwrap();
        path
    }

    #[test]
    fn the_url_is_the_file_trimmed() {
        let path = file("url", "  redis://kitchen:secret@hub:6379\n");
        assert_eq!(read(&path).unwrap(), "redis://kitchen:secret@hub:6379");
    }

    #[test]
    fn a_missing_or_empty_file_is_named() {
        let missing = std::env::temp_dir().join("sense-redis-url-file-none/redis-url");
        let err = read(&missing).unwrap_err();
        assert!(err.contains("REDIS_URL_FILE"), "{err}");
        assert!(err.contains(&missing.display().to_string()), "{err}");

        let empty = file("empty", " \n");
        let err = read(&empty).unwrap_err();
        assert!(
            err.contains(&empty.display().to_string()) && err.contains("empty"),
            "{err}"
        );
    }
}
