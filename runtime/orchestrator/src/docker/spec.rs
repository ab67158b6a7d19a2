//! The containers: what [`ContainerSpec::for_job`] asks the Engine API to create for a job.

use std::collections::BTreeMap;

use sense_bus::SourceId;
use serde_json::{Value as Json, json};

use super::LABEL_ORCHESTRATED;
use crate::launcher::{Job, JobMode};

/// The compose service name of a source's container.
pub const fn service_name(source: SourceId) -> &'static str {
    match source {
        SourceId::Tailscale => "source-tailscale",
        SourceId::Pihole => "source-pihole",
        SourceId::System => "source-system",
        SourceId::Co2 => "source-aranet4",
        SourceId::Weather => "source-weather",
        SourceId::Sensors => "source-sensehat",
        SourceId::NetworkCamera => "source-camera",
    }
}

/// What a [`Mount`] mounts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MountKind {
    /// A path of the host. The Engine refuses to create a container whose bind source is missing
    /// (where `Binds` would create it, as a directory owned by root).
    Bind,
    /// A named volume (created by the Engine when missing, as compose would).
    Volume,
}

impl MountKind {
    /// The Engine API's `Type`, and compose's `type:`.
    pub const fn as_str(self) -> &'static str {
        match self {
            MountKind::Bind => "bind",
            MountKind::Volume => "volume",
        }
    }
}

/// One entry of `HostConfig.Mounts`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount {
    /// A host path or a volume.
    pub kind: MountKind,
    /// The host path, or the volume's name (`{project}_hls`).
    pub source: String,
    /// Where it appears in the container.
    pub target: String,
    /// Mounted read-only.
    pub read_only: bool,
    /// For a host path: what to check when the host lacks it (`is tailscaled running?`).
    pub missing: Option<&'static str>,
}

impl Mount {
    /// The host's `path`, read-only, at the same path in the container.
    fn host(path: &str, missing: &'static str) -> Mount {
        Mount::host_at(path, path, Some(missing))
    }

    /// The host's `source`, read-only, at `target`.
    fn host_at(source: &str, target: &str, missing: Option<&'static str>) -> Mount {
        Mount {
            kind: MountKind::Bind,
            source: source.to_owned(),
            target: target.to_owned(),
            read_only: true,
            missing,
        }
    }

    /// The Engine API's mount object.
    pub fn to_json(&self) -> Json {
        json!({
            "Type": self.kind.as_str(),
            "Source": self.source,
            "Target": self.target,
            "ReadOnly": self.read_only,
        })
    }
}

/// What the Engine says when a bind mount's source is missing (Docker 20.10 to 28): `invalid
/// mount config for type "bind": bind source path does not exist: /run/dbus/system_bus_socket`.
const NO_BIND_SOURCE: &str = "bind source path does not exist";

/// The camera's image when `SENSE_CAMERA_IMAGE` is not set: the core image's repository with
/// `-camera` appended, the tag kept (`sense-pulse:latest` → `sense-pulse-camera:latest`,
/// `ghcr.io/x/sense-pulse:1.0` → `ghcr.io/x/sense-pulse-camera:1.0`). `None` for an image given
/// by id (`sha256:…`) or by digest (`…@sha256:…`): no camera image follows from those.
pub fn camera_image_of(image: &str) -> Option<String> {
    let image = image.trim();
    let id = image.starts_with("sha256:")
        || (image.len() == 64 && image.bytes().all(|b| b.is_ascii_hexdigit()));
    if image.is_empty() || id || image.contains('@') {
        return None;
    }
    // The tag's colon comes after the last slash (a registry's port comes before it).
    let name = image.rfind('/').map_or(0, |slash| slash + 1);
    let (repository, tag) = match image[name..].find(':') {
        Some(colon) => image.split_at(name + colon),
        None => (image, ""),
    };
    Some(format!("{repository}-camera{tag}"))
}

/// A container to create, as the Engine API's create body wants it.
#[derive(Clone, Debug, PartialEq)]
pub struct ContainerSpec {
    /// The container's name.
    pub name: String,
    /// The image.
    pub image: String,
    /// The arguments of `sense-pulse`.
    pub cmd: Vec<String>,
    /// `KEY=value` pairs.
    pub env: Vec<String>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Host paths and named volumes.
    pub mounts: Vec<Mount>,
    /// The network to join.
    pub network: String,
    /// Whether the container is privileged.
    pub privileged: bool,
    /// Hardened as the compose services are: a read-only root file system (`ReadonlyRootfs`), no
    /// capabilities (`CapDrop: ["ALL"]`), no new privileges (`SecurityOpt`), and a small `/tmp` in
    /// memory ([`TMP_TMPFS`]: `--sim` puts its simulated tailscaled's socket there). Every source
    /// but the privileged Sense HAT.
    pub hardened: bool,
    /// The user it runs as: root only where the hardware needs it (the Sense HAT's I2C and
    /// framebuffer, BlueZ's D-Bus policy), else the image's `sense` user ([`SENSE_USER`]).
    pub user: String,
    /// Its memory limit in bytes.
    pub memory: u64,
}

/// The `/tmp` of a hardened container: (path, options), as compose's `tmpfs: [path:options]`.
pub const TMP_TMPFS: (&str, &str) = ("/tmp", "size=4m,mode=1777,noexec,nosuid");

/// `SecurityOpt` of a hardened container (as compose's `security_opt`).
pub const NO_NEW_PRIVILEGES: &str = "no-new-privileges:true";

/// The image's unprivileged user (`docker/Dockerfile`).
pub const SENSE_USER: &str = "10001:10001";

/// Memory limits: FFmpeg gets room for a 1080p stream; a poll needs a few MB.
const CAMERA_MEMORY: u64 = 256 << 20;
const SOURCE_MEMORY: u64 = 64 << 20;

/// How many log files Docker keeps of a container (`json-file`'s `max-file`), as the compose
/// file's `x-logging` (an SD card does not like logs).
pub const LOG_MAX_FILES: u32 = 3;

/// How large each log file grows (`json-file`'s `max-size`), as the compose file's.
pub const LOG_MAX_SIZE: &str = "2m";

impl ContainerSpec {
    /// The spec of `job` in `project`, with `image` (the job's: the camera has one of its own,
    /// see [`camera_image_of`]), `network` and the shared `env`; `name` is the container's name.
    pub fn for_job(
        job: Job,
        project: &str,
        image: &str,
        network: &str,
        env: &[(String, String)],
        name: String,
    ) -> ContainerSpec {
        let source = job.source;
        let mut env: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let mut mounts = Vec::new();
        let mut privileged = false;
        let mut user = SENSE_USER;
        match source {
            SourceId::System => {
                mounts.push(Mount::host_at("/proc", "/host/proc", None));
                mounts.push(Mount::host_at("/sys", "/host/sys", None));
                env.push("HOST_PROC=/host/proc".to_owned());
                env.push("HOST_SYS=/host/sys".to_owned());
            }
            SourceId::Co2 => {
                mounts.push(Mount::host(
                    "/run/dbus/system_bus_socket",
                    "is D-Bus (and bluetoothd) running on the host?",
                ));
                user = "0";
            }
            SourceId::Tailscale => {
                mounts.push(Mount::host("/var/run/tailscale", "is tailscaled running?"));
            }
            SourceId::NetworkCamera => {
                mounts.push(Mount {
                    kind: MountKind::Volume,
                    source: format!("{project}_hls"),
                    target: "/hls".to_owned(),
                    read_only: false,
                    missing: None,
                });
                env.push("HLS_OUTPUT_DIR=/hls".to_owned());
            }
            SourceId::Sensors => {
                privileged = true;
                user = "0";
            }
            SourceId::Pihole | SourceId::Weather => {}
        }
        let oneoff = job.mode != JobMode::Service;
        let labels = [
            ("com.docker.compose.project", project),
            ("com.docker.compose.service", service_name(source)),
            (
                "com.docker.compose.oneoff",
                if oneoff { "True" } else { "False" },
            ),
            (LABEL_ORCHESTRATED, "true"),
            ("io.sense-pulse.source", source.as_str()),
            ("io.sense-pulse.mode", job.mode.as_str()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        ContainerSpec {
            name,
            image: image.to_owned(),
            cmd: job.args(),
            env,
            labels,
            mounts,
            network: network.to_owned(),
            privileged,
            hardened: !privileged,
            user: user.to_owned(),
            memory: if source == SourceId::NetworkCamera {
                CAMERA_MEMORY
            } else {
                SOURCE_MEMORY
            },
        }
    }

    /// The same container with simulated hardware and web services (`--sim`): no host path, no
    /// privilege and no root is needed then, so none is given (the Sense HAT too runs as
    /// [`SENSE_USER`], hardened); `/proc` and `/sys` stay, as read-only as ever.
    #[must_use]
    pub fn simulated(mut self) -> ContainerSpec {
        self.cmd.push("--sim".to_owned());
        self.mounts
            .retain(|m| m.kind != MountKind::Bind || matches!(m.source.as_str(), "/proc" | "/sys"));
        self.privileged = false;
        self.hardened = true;
        self.user = SENSE_USER.to_owned();
        self
    }

    /// The `POST /containers/create` body.
    pub fn to_json(&self) -> Json {
        json!({
            "Image": self.image,
            "Entrypoint": ["sense-pulse"],
            "Cmd": self.cmd,
            "Env": self.env,
            "Labels": self.labels,
            "Tty": false,
            "OpenStdin": false,
            "AttachStdin": false,
            "AttachStdout": false,
            "AttachStderr": false,
            "User": self.user,
            "HostConfig": {
                "Mounts": self.mounts.iter().map(Mount::to_json).collect::<Vec<_>>(),
                "NetworkMode": self.network,
                "Privileged": self.privileged,
                "ReadonlyRootfs": self.hardened,
                "CapDrop": if self.hardened { &["ALL"][..] } else { &[] },
                "SecurityOpt": if self.hardened { &[NO_NEW_PRIVILEGES][..] } else { &[] },
                "Tmpfs": if self.hardened {
                    json!({ TMP_TMPFS.0: TMP_TMPFS.1 })
                } else {
                    json!({})
                },
                "RestartPolicy": {"Name": "no"},
                "Memory": self.memory,
                "LogConfig": {
                    "Type": "json-file",
                    "Config": {"max-size": LOG_MAX_SIZE, "max-file": LOG_MAX_FILES.to_string()},
                },
            },
        })
    }

    /// `error` (the Engine's, refusing this container) with what it means for the user first,
    /// when it is about a host path of [`ContainerSpec::mounts`] the host lacks: `the host has no
    /// /var/run/tailscale: is tailscaled running? (docker: invalid mount config ...)`.
    pub fn explain(&self, error: String) -> String {
        let Some((_, path)) = error.split_once(NO_BIND_SOURCE) else {
            return error;
        };
        let path = path.trim_start_matches([':', ' ']).trim_end();
        let mount = self
            .mounts
            .iter()
            .find(|m| m.kind == MountKind::Bind && m.source == path);
        match mount.and_then(|m| m.missing) {
            Some(check) => format!("the host has no {path}: {check} ({error})"),
            None => format!("the host has no {path} ({error})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_simulated_source_needs_no_host_path_privilege_or_root() {
        let spec =
            |job: Job| ContainerSpec::for_job(job, "sp", "img", "sp_default", &[], "n".into());
        let sensors = spec(Job::service(SourceId::Sensors)).simulated();
        assert!(!sensors.privileged);
        assert!(sensors.hardened);
        assert_eq!(sensors.user, SENSE_USER);
        assert_eq!(sensors.cmd, ["source", "sensors", "--sim"]);
        assert!(spec(Job::poll(SourceId::Co2)).simulated().mounts.is_empty());
        assert!(
            spec(Job::poll(SourceId::Tailscale))
                .simulated()
                .mounts
                .is_empty()
        );
        let system = spec(Job::poll(SourceId::System)).simulated();
        assert_eq!(system.mounts, spec(Job::poll(SourceId::System)).mounts);
        let camera = spec(Job::service(SourceId::NetworkCamera)).simulated();
        assert_eq!(camera.mounts.len(), 1, "the hls volume stays");
    }

    #[test]
    fn root_only_where_the_hardware_needs_it() {
        let spec =
            |job: Job| ContainerSpec::for_job(job, "sp", "img", "sp_default", &[], "n".into());
        assert_eq!(spec(Job::service(SourceId::Sensors)).user, "0");
        assert!(spec(Job::service(SourceId::Sensors)).privileged);
        assert_eq!(spec(Job::poll(SourceId::Co2)).user, "0");
        for id in [
            SourceId::System,
            SourceId::Weather,
            SourceId::Pihole,
            SourceId::Tailscale,
        ] {
            assert_eq!(spec(Job::poll(id)).user, SENSE_USER, "{id}");
        }
        let camera = spec(Job::service(SourceId::NetworkCamera));
        assert_eq!(camera.user, SENSE_USER);
        // Hardened but for the privileged Sense HAT; co2 is root without any capability.
        for id in SourceId::ALL {
            let job = Job::poll(id);
            assert_eq!(spec(job).hardened, id != SourceId::Sensors, "{id}");
        }
        let body = spec(Job::poll(SourceId::Co2)).to_json();
        assert_eq!(body["HostConfig"]["ReadonlyRootfs"], true);
        assert_eq!(body["HostConfig"]["CapDrop"], json!(["ALL"]));
        assert_eq!(
            body["HostConfig"]["SecurityOpt"],
            json!([NO_NEW_PRIVILEGES])
        );
        let body = spec(Job::service(SourceId::Sensors)).to_json();
        assert_eq!(body["HostConfig"]["Privileged"], true);
        assert_eq!(body["HostConfig"]["ReadonlyRootfs"], false);
        assert_eq!(body["HostConfig"]["CapDrop"], json!([]));
        assert!(
            camera.memory > spec(Job::poll(SourceId::System)).memory,
            "room for FFmpeg"
        );
    }

    #[test]
    fn each_source_gets_its_mounts_labels_and_network() {
        let env = vec![("REDIS_URL".to_owned(), "redis://redis:6379".to_owned())];
        let spec = ContainerSpec::for_job(
            Job::poll(SourceId::System),
            "sp",
            "sense-pulse:latest",
            "sp_default",
            &env,
            "n".into(),
        );
        let body = spec.to_json();
        assert_eq!(body["Image"], "sense-pulse:latest");
        assert_eq!(body["Cmd"], json!(["source", "system", "--once"]));
        assert_eq!(
            body["HostConfig"]["Mounts"],
            json!([
                {"Type": "bind", "Source": "/proc", "Target": "/host/proc", "ReadOnly": true},
                {"Type": "bind", "Source": "/sys", "Target": "/host/sys", "ReadOnly": true},
            ])
        );
        assert!(body["HostConfig"].get("Binds").is_none());
        assert_eq!(body["HostConfig"]["NetworkMode"], "sp_default");
        assert_eq!(
            body["Labels"]["com.docker.compose.service"],
            "source-system"
        );
        assert_eq!(body["Labels"]["com.docker.compose.oneoff"], "True");
        assert!(
            body["Env"]
                .as_array()
                .unwrap()
                .contains(&json!("REDIS_URL=redis://redis:6379"))
        );

        let camera = ContainerSpec::for_job(
            Job::service(SourceId::NetworkCamera),
            "sp",
            "img",
            "sp_default",
            &env,
            "n".into(),
        );
        assert_eq!(camera.mounts.len(), 1);
        assert_eq!(
            camera.mounts[0].to_json(),
            json!({"Type": "volume", "Source": "sp_hls", "Target": "/hls", "ReadOnly": false})
        );
        assert_eq!(camera.labels["com.docker.compose.oneoff"], "False");
        assert_eq!(camera.cmd, ["source", "network_camera"]);
        let co2 = ContainerSpec::for_job(
            Job::poll(SourceId::Co2),
            "sp",
            "img",
            "sp_default",
            &env,
            "n".into(),
        );
        let dbus = &co2.mounts[..];
        assert_eq!(dbus.len(), 1);
        assert_eq!(
            (
                dbus[0].kind,
                dbus[0].source.as_str(),
                dbus[0].target.as_str()
            ),
            (
                MountKind::Bind,
                "/run/dbus/system_bus_socket",
                "/run/dbus/system_bus_socket"
            )
        );
        assert!(dbus[0].read_only);
        assert!(!co2.privileged);
        assert_eq!(co2.labels["com.docker.compose.service"], "source-aranet4");
    }

    #[test]
    fn a_missing_host_path_is_explained() {
        let spec = |id| ContainerSpec::for_job(Job::poll(id), "sp", "img", "net", &[], "n".into());
        let engine = |path: &str| {
            format!(
                "docker: invalid mount config for type \"bind\": bind source path does not exist: {path}"
            )
        };
        assert_eq!(
            spec(SourceId::Tailscale).explain(engine("/var/run/tailscale")),
            format!(
                "the host has no /var/run/tailscale: is tailscaled running? ({})",
                engine("/var/run/tailscale")
            )
        );
        assert_eq!(
            spec(SourceId::System).explain(engine("/sys")),
            format!("the host has no /sys ({})", engine("/sys"))
        );
        // Other errors pass as they are.
        let other = "docker: No such image: img".to_owned();
        assert_eq!(spec(SourceId::Co2).explain(other.clone()), other);
    }

    #[test]
    fn the_camera_image_is_named_after_the_core_image() {
        for (core, camera) in [
            ("sense-pulse:latest", Some("sense-pulse-camera:latest")),
            ("sense-pulse", Some("sense-pulse-camera")),
            (
                "ghcr.io/x/sense-pulse:1.0",
                Some("ghcr.io/x/sense-pulse-camera:1.0"),
            ),
            (
                "localhost:5000/sense-pulse",
                Some("localhost:5000/sense-pulse-camera"),
            ),
            (
                "localhost:5000/sp/sense-pulse:2",
                Some("localhost:5000/sp/sense-pulse-camera:2"),
            ),
            ("sha256:0123abcd", None),
            (&"ab".repeat(32), None),
            ("ghcr.io/x/sense-pulse@sha256:0123abcd", None),
            ("", None),
        ] {
            assert_eq!(camera_image_of(core).as_deref(), camera, "{core}");
        }
    }
}
