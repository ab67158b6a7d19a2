//! The workspace denies `unsafe_code`; every exception is listed here. Raw `libc` calls go through
//! safe wrappers (rustix, nix, tz-rs), so the one `unsafe` left is the Sense HAT framebuffer's
//! private ioctl, which no library can wrap safely.

use std::path::{Path, PathBuf};

/// The files allowed an `unsafe` block, and how many each may have.
const ALLOWED: &[(&str, usize)] = &[("runtime/linux/src/sensehat_kernel.rs", 1)];

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("runtime/testkit sits two folders below the workspace root")
        .to_owned()
}

/// Every file under `dir` whose name ends in `suffix`, skipping build output, dependencies and
/// hidden folders.
fn files(dir: &Path, suffix: &str, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            if !(name.starts_with('.') || name == "target" || name == "node_modules") {
                files(&path, suffix, out);
            }
        } else if name.ends_with(suffix) {
            out.push(path);
        }
    }
}

/// A line without its string literals and line comment (roughly: enough for this scan).
fn code_of(line: &str) -> String {
    let mut code = String::new();
    let (mut in_string, mut escaped) = (false, false);
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if in_string {
            match (escaped, c) {
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => escaped = false,
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '/' if chars.peek() == Some(&'/') => break,
            _ => code.push(c),
        }
    }
    code
}

/// `unsafe` as a keyword (a block, fn, impl or trait) in code: not in a comment, a string or a
/// longer name.
fn unsafe_uses(text: &str) -> usize {
    text.lines()
        .map(code_of)
        .map(|code| {
            code.match_indices("unsafe")
                .filter(|(i, _)| {
                    let before = code[..*i].chars().next_back();
                    let after = code[i + "unsafe".len()..].chars().next();
                    !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
                        && matches!(after, Some(' ' | '{'))
                })
                .count()
        })
        .sum()
}

#[test]
fn unsafe_is_only_where_no_safe_wrapper_exists() {
    let root = workspace_root();
    let mut sources = Vec::new();
    files(&root, ".rs", &mut sources);
    assert!(sources.len() > 50, "found only {} files", sources.len());
    let mut wrong = Vec::new();
    for path in sources {
        let relative = path
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let found = unsafe_uses(&text);
        let allowed = ALLOWED
            .iter()
            .find(|(p, _)| *p == relative)
            .map_or(0, |(_, n)| *n);
        if found > allowed {
            wrong.push(format!("{relative}: {found} (allowed {allowed})"));
        }
    }
    assert!(
        wrong.is_empty(),
        "unsafe code outside the list:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn no_crate_calls_libc_directly() {
    let root = workspace_root();
    let mut manifests = Vec::new();
    files(&root, "Cargo.toml", &mut manifests);
    let direct: Vec<String> = manifests
        .iter()
        .filter(|m| {
            std::fs::read_to_string(m)
                .unwrap()
                .lines()
                .any(|l| l.trim_start().starts_with("libc"))
        })
        .map(|m| m.strip_prefix(&root).unwrap().display().to_string())
        .collect();
    assert!(
        direct.is_empty(),
        "libc is a dependency of {direct:?}: use rustix"
    );
}

#[test]
fn the_scan_sees_unsafe() {
    assert_eq!(unsafe_uses("let x = unsafe { f() };"), 1);
    assert_eq!(
        unsafe_uses("unsafe fn f() {}\nunsafe impl Send for X {}"),
        2
    );
    assert_eq!(
        unsafe_uses("// unsafe { f() }\nlet s = \"unsafe { \\\" unsafe {\";"),
        0
    );
    assert_eq!(
        unsafe_uses("#[allow(unsafe_code)]\nfn is_unsafe_bytes() {}"),
        0
    );
}
