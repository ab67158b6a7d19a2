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
    /// `source:target[:ro]` binds (host paths and named volumes).
    pub binds: Vec<String>,
    /// The network to join.
    pub network: String,
    /// Whether the container is privileged.
    pub privileged: bool,
    /// The user it runs as: root only where the hardware needs it (the Sense HAT's I2C and
    /// framebuffer, BlueZ's D-Bus policy), else the image's `sense` user ([`SENSE_USER`]).
    pub user: String,
    /// Its memory limit in bytes.
    pub memory: u64,
}

/// The image's unprivileged user (`docker/Dockerfile`).
pub const SENSE_USER: &str = "10001:10001";

/// Memory limits: FFmpeg gets room for a 1080p stream; a poll needs a few MB.
const CAMERA_MEMORY: u64 = 256 << 20;
const SOURCE_MEMORY: u64 = 64 << 20;

impl ContainerSpec {
    /// The spec of `job` in `project`, with `image`, `network` and the shared `env`; `name` is
    /// the container's name.
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
        let mut binds = Vec::new();
        let mut privileged = false;
        let mut user = SENSE_USER;
        match source {
            SourceId::System => {
                binds.push("/proc:/host/proc:ro".to_owned());
                binds.push("/sys:/host/sys:ro".to_owned());
                env.push("HOST_PROC=/host/proc".to_owned());
                env.push("HOST_SYS=/host/sys".to_owned());
            }
            SourceId::Co2 => {
                binds.push("/run/dbus/system_bus_socket:/run/dbus/system_bus_socket:ro".to_owned());
                user = "0";
            }
            SourceId::Tailscale => {
                binds.push("/var/run/tailscale:/var/run/tailscale:ro".to_owned());
            }
            SourceId::NetworkCamera => {
                binds.push(format!("{project}_hls:/hls"));
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
            binds,
            network: network.to_owned(),
            privileged,
            user: user.to_owned(),
            memory: if source == SourceId::NetworkCamera {
                CAMERA_MEMORY
            } else {
                SOURCE_MEMORY
            },
        }
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
                "Binds": self.binds,
                "NetworkMode": self.network,
                "Privileged": self.privileged,
                "RestartPolicy": {"Name": "no"},
                "Memory": self.memory,
                // An SD card does not like logs (as docker-compose.yml).
                "LogConfig": {"Type": "json-file", "Config": {"max-size": "2m", "max-file": "2"}},
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            body["HostConfig"]["Binds"],
            json!(["/proc:/host/proc:ro", "/sys:/host/sys:ro"])
        );
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
        assert_eq!(camera.binds, ["sp_hls:/hls"]);
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
        assert_eq!(
            co2.binds,
            ["/run/dbus/system_bus_socket:/run/dbus/system_bus_socket:ro"]
        );
        assert!(!co2.privileged);
        assert_eq!(co2.labels["com.docker.compose.service"], "source-aranet4");
    }
}
