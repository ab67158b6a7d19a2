//! docker/Dockerfile against what builds and runs from it (docker/test.sh builds it for real on
//! a Docker Engine; this checks, without one, what that run cannot show by itself):
//!
//! - it builds offline: no `# syntax=` line (that pulls a frontend image), and every image from a
//!   registry comes from a build argument, which CI points at its debootstrapped base;
//! - the core image (the last stage, `core`) and the camera's (`camera`) start FROM scratch with
//!   the static binary and `ENTRYPOINT ["sense-pulse"]`, as the `sense` user, and no image-wide
//!   HEALTHCHECK (one-shot source containers run them too); the dashboard is in the core image
//!   only, FFmpeg in the camera's only;
//! - the binary is cross-built by scripts/build-dist.sh, or taken prebuilt from docker/dist/;
//! - the Rust image is at least every crate's rust-version, and every workspace member is copied;
//! - FFmpeg is built with every component the camera source's command lines use;
//! - the build context leaves out build output and secrets, and keeps docker/dist.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The Dockerfile's lines: comments dropped (they are kept by [`comments`]).
fn lines() -> Vec<String> {
    read("docker/Dockerfile")
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The Dockerfile's instructions: continuation lines joined, comments dropped.
fn instructions() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut pending = String::new();
    for line in lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && pending.is_empty()) {
            continue;
        }
        if let Some(part) = trimmed.strip_suffix('\\') {
            pending.push_str(part);
            pending.push(' ');
            continue;
        }
        pending.push_str(trimmed);
        let (word, rest) = pending.split_once(' ').unwrap_or((&pending, ""));
        out.push((word.to_ascii_uppercase(), rest.trim().to_owned()));
        pending.clear();
    }
    out
}

/// A stage of the Dockerfile.
struct Stage {
    name: String,
    /// The base as written (`${DEBIAN_IMAGE}`, `scratch`, a stage's name).
    from: String,
    instructions: Vec<(String, String)>,
}

impl Stage {
    /// The arguments of every `word` instruction.
    fn all(&self, word: &str) -> Vec<&str> {
        self.instructions
            .iter()
            .filter(|(w, _)| w == word)
            .map(|(_, r)| r.as_str())
            .collect()
    }

    /// Every RUN, one a line.
    fn runs(&self) -> String {
        self.all("RUN").join("\n")
    }

    /// The sources of every `COPY` (without `--from` ones), as written.
    fn copied(&self) -> Vec<String> {
        self.all("COPY")
            .into_iter()
            .filter(|r| !r.contains("--from="))
            .flat_map(|r| {
                let parts: Vec<&str> = r
                    .split_whitespace()
                    .filter(|p| !p.starts_with("--"))
                    .collect();
                parts[..parts.len() - 1]
                    .iter()
                    .map(|p| (*p).to_owned())
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}

/// The global ARGs (before the first FROM) with their defaults, and the stages.
fn parse() -> (BTreeMap<String, String>, Vec<Stage>) {
    let mut args = BTreeMap::new();
    let mut stages: Vec<Stage> = Vec::new();
    for (word, rest) in instructions() {
        if word == "FROM" {
            let parts: Vec<&str> = rest
                .split_whitespace()
                .filter(|p| !p.starts_with("--"))
                .collect();
            let name = match parts.as_slice() {
                [_, as_, name] if as_.eq_ignore_ascii_case("as") => (*name).to_owned(),
                _ => String::new(),
            };
            stages.push(Stage {
                name,
                from: parts[0].to_owned(),
                instructions: Vec::new(),
            });
        } else if let Some(stage) = stages.last_mut() {
            stage.instructions.push((word, rest));
        } else if word == "ARG" {
            let (k, v) = rest.split_once('=').unwrap_or((&rest, ""));
            args.insert(k.to_owned(), v.to_owned());
        }
    }
    (args, stages)
}

fn stage<'a>(stages: &'a [Stage], name: &str) -> &'a Stage {
    stages
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no stage `{name}`"))
}

#[test]
fn it_builds_offline_with_registry_images_as_build_arguments() {
    assert!(
        !lines().iter().any(|l| l.starts_with("# syntax=")),
        "a `# syntax=` line makes BuildKit pull the frontend's image: no build without a registry"
    );
    let (args, stages) = parse();
    let names: BTreeSet<&str> = stages.iter().map(|s| s.name.as_str()).collect();
    for s in &stages {
        let from = s.from.as_str();
        if from == "scratch" || names.contains(from) {
            continue;
        }
        let arg = from
            .strip_prefix("${")
            .and_then(|f| f.strip_suffix('}'))
            .unwrap_or_else(|| {
                panic!(
                    "stage `{}`: FROM {from}: an image from a registry must come from a build \
                     argument, so a machine without the registry can point it elsewhere",
                    s.name
                )
            });
        let default = args
            .get(arg)
            .unwrap_or_else(|| panic!("stage `{}`: no global ARG {arg}", s.name));
        assert!(
            !default.is_empty(),
            "ARG {arg} needs a default (a registry image, or one of the stages)"
        );
        assert!(
            names.contains(default.as_str()) || default.contains(':'),
            "ARG {arg}={default}: a stage or a tagged image"
        );
    }
    // The stage selectors name stages that exist.
    for (arg, choices) in [
        ("BINARY_FROM", ["binary-build", "binary-prebuilt"]),
        ("DASHBOARD_FROM", ["dashboard-build", "dashboard-prebuilt"]),
    ] {
        assert!(choices.contains(&args[arg].as_str()), "{arg}");
        for choice in choices {
            stage(&stages, choice);
        }
    }
}

#[test]
fn the_core_and_camera_images_are_the_static_binary_from_scratch() {
    let (_, stages) = parse();
    assert_eq!(
        stages.last().map(|s| s.name.as_str()),
        Some("core"),
        "a plain `docker build` builds the core image"
    );
    for name in ["core", "camera"] {
        let image = stage(&stages, name);
        assert_eq!(image.from, "scratch", "{name}");
        let copies = image.all("COPY");
        assert!(
            copies
                .iter()
                .any(|c| c.starts_with("--from=binary ")
                    && c.ends_with(" /usr/local/bin/sense-pulse")),
            "{name}: the binary"
        );
        assert!(
            copies.iter().any(|c| c.starts_with("--from=rootfs ")),
            "{name}: time zones, the `sense` user and its folders"
        );
        assert_eq!(image.all("ENTRYPOINT"), ["[\"sense-pulse\"]"], "{name}");
        assert_eq!(image.all("USER"), ["10001:10001"], "{name}");
        assert!(
            image.all("HEALTHCHECK").is_empty(),
            "{name}: a HEALTHCHECK would mark every one-shot source container unhealthy"
        );
    }
    let dashboard = |name: &str| {
        stage(&stages, name)
            .all("COPY")
            .iter()
            .any(|c| c.starts_with("--from=dashboard ") && c.ends_with(" /app/frontend/build/"))
    };
    assert!(dashboard("core"), "the gateway serves the dashboard");
    assert!(
        !dashboard("camera"),
        "the dashboard is in the gateway's image only"
    );
    let ffmpeg = |name: &str| {
        stage(&stages, name)
            .all("COPY")
            .iter()
            .any(|c| c.starts_with("--from=ffmpeg ") && c.ends_with(" /usr/local/bin/ffmpeg"))
    };
    assert!(ffmpeg("camera") && !ffmpeg("core"));
    // The gateway's FRONTEND_DIR default, as the compose file sets it.
    assert!(
        stage(&stages, "core")
            .all("ENV")
            .iter()
            .any(|e| e.contains("FRONTEND_DIR=/app/frontend/build"))
    );
}

#[test]
fn the_binary_is_cross_built_by_build_dist_or_taken_prebuilt() {
    let (args, stages) = parse();
    let build = stage(&stages, "binary-build");
    assert!(
        build.runs().contains("scripts/build-dist.sh"),
        "the same script CI and the install use"
    );
    let prebuilt = stage(&stages, "binary-prebuilt");
    assert_eq!(
        prebuilt.copied(),
        ["docker/dist/linux-${TARGETARCH}${TARGETVARIANT}/sense-pulse"]
    );
    let script = read("scripts/build-dist.sh");
    assert!(script.contains("out=\"$dist_dir/linux-$platform\""));
    assert!(script.contains("dist_dir=${DIST_DIR:-docker/dist}"));

    // The Rust image is at least every rust-version of the workspace.
    let image = &args["RUST_IMAGE"];
    let version = image
        .strip_prefix("rust:")
        .and_then(|r| r.strip_suffix("-bookworm"))
        .unwrap_or_else(|| panic!("a Debian bookworm Rust image: {image}"));
    let parse_version = |v: &str| -> (u32, u32) {
        let mut it = v.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
        (it.next().unwrap_or(0), it.next().unwrap_or(0))
    };
    let root = read("Cargo.toml");
    let members: Vec<String> = root
        .split("members = [")
        .nth(1)
        .and_then(|m| m.split(']').next())
        .expect("workspace members")
        .split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect();
    assert!(!members.is_empty());
    for manifest in std::iter::once("Cargo.toml".to_owned())
        .chain(members.iter().map(|m| format!("{m}/Cargo.toml")))
    {
        for line in read(&manifest).lines() {
            if let Some(v) = line.trim().strip_prefix("rust-version = \"") {
                let v = v.trim_end_matches('"');
                assert!(
                    parse_version(version) >= parse_version(v),
                    "{manifest} needs Rust {v}, image {version}"
                );
            }
        }
    }
    // Every workspace member is in a directory the build stage copies.
    let copied = build.copied();
    for source in &copied {
        assert!(repo().join(source).exists(), "COPY {source}: no such path");
    }
    for needed in [
        "Cargo.toml",
        "Cargo.lock",
        "scripts/build-dist.sh",
        "scripts/lib/rust-targets.sh",
    ] {
        assert!(copied.iter().any(|c| c == needed), "COPY {needed}");
    }
    for member in &members {
        assert!(
            copied
                .iter()
                .any(|c| member.starts_with(c.trim_end_matches('/'))),
            "{member} is not copied into the build stage"
        );
    }
}

/// FFmpeg's `--enable-<kind>=a,b,…` lists.
fn enabled(configure: &str, kind: &str) -> BTreeSet<String> {
    configure
        .split_whitespace()
        .filter_map(|w| w.strip_prefix(&format!("--enable-{kind}=")))
        .flat_map(|list| list.split(','))
        .map(str::to_owned)
        .collect()
}

#[test]
fn ffmpeg_has_every_component_the_camera_asks_for() {
    let (_, stages) = parse();
    let configure = stage(&stages, "ffmpeg").runs();
    assert!(
        configure.contains("--disable-everything"),
        "a minimal FFmpeg"
    );
    assert!(
        configure.contains("--extra-ldflags=-static"),
        "no library needed in the image"
    );
    let camera = read("sources/camera/src/ffmpeg/mod.rs");
    // (what the camera's command line says, the component it needs)
    let needs: [(&str, &str, &str); 17] = [
        ("\"libx264\"", "encoder", "libx264"),
        ("\"aac\"", "encoder", "aac"),
        ("\"mjpeg\"", "encoder", "mjpeg"),
        ("\"hls\"", "muxer", "hls"),
        ("\"image2\"", "muxer", "image2"),
        ("\"lavfi\"", "indev", "lavfi"),
        ("testsrc2=", "filter", "testsrc2"),
        ("sine=frequency", "filter", "sine"),
        ("\"concat\"", "demuxer", "concat"),
        ("rtsp_transport", "demuxer", "rtsp"),
        ("\"pipe,rtsp,rtp,tcp,udp\"", "protocol", "pipe"),
        ("\"pipe,rtsp,rtp,tcp,udp\"", "protocol", "rtp"),
        ("\"pipe,rtsp,rtp,tcp,udp\"", "protocol", "tcp"),
        ("\"pipe,rtsp,rtp,tcp,udp\"", "protocol", "udp"),
        ("segment_", "muxer", "mpegts"),
        ("\"yuv420p\"", "filter", "scale"),
        ("\"-frames:v\"", "decoder", "h264"),
    ];
    for (said, kind, component) in needs {
        assert!(
            camera.contains(said),
            "sources/camera/src/ffmpeg/mod.rs no longer says {said}: update this list"
        );
        assert!(
            enabled(&configure, kind).contains(component),
            "the camera's FFmpeg lacks the {kind} {component} (for {said})"
        );
    }
    // A test pattern is raw video and PCM out of lavfi.
    for decoder in ["rawvideo", "pcm_s16le"] {
        assert!(
            enabled(&configure, "decoder").contains(decoder),
            "{decoder}"
        );
    }
}

#[test]
fn the_build_context_leaves_out_output_and_secrets() {
    let ignore = read("docker/Dockerfile.dockerignore");
    let patterns: BTreeSet<&str> = ignore
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    for needed in [
        "**/target",
        "**/node_modules",
        "frontend/build",
        ".git",
        ".env",
        "**/.env",
    ] {
        assert!(
            patterns.contains(needed),
            "Dockerfile.dockerignore: {needed}"
        );
    }
    // Nothing the Dockerfile copies is ignored (docker/dist: the prebuilt binary and dashboard).
    let (_, stages) = parse();
    for s in &stages {
        for source in s.copied() {
            let source = source.trim_end_matches('/');
            if patterns.contains(format!("!{source}").as_str()) {
                continue;
            }
            assert!(!patterns.contains(source), "{source} is copied but ignored");
            for pattern in patterns.iter().filter(|p| !p.starts_with('!')) {
                let prefix = pattern.trim_end_matches("/**").trim_end_matches('/');
                assert!(
                    !(source.starts_with(prefix) && source[prefix.len()..].starts_with('/')),
                    "{source} is copied but {pattern} ignores it"
                );
            }
        }
    }
}
