//! The command line (design §3). These names are a user interface: keep them.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use sense_bus::SourceId;

/// Sense Pulse: a sensor dashboard runtime for the Raspberry Pi.
#[derive(Debug, Parser)]
#[command(name = "sense-pulse", version, about, propagate_version = true)]
pub struct Cli {
    /// Log level: error, warn, info, debug or trace (RUST_LOG wins when set).
    #[arg(long, global = true, env = "LOG_LEVEL", default_value = "info")]
    pub log_level: String,

    #[command(subcommand)]
    pub command: Command,
}

/// Where the Redis bus is.
#[derive(Debug, Args)]
pub struct RedisArg {
    /// Redis URL of the data bus. The default is its address inside the Docker stack: elsewhere,
    /// e.g. redis://127.0.0.1:6379. REDIS_URL_FILE, when set, names a file holding it instead.
    #[arg(
        long = "redis",
        env = "REDIS_URL",
        default_value = crate::commands::DEFAULT_REDIS_URL
    )]
    pub url: String,
}

/// Which Pi of a multi-node installation this is.
#[derive(Debug, Args)]
pub struct NodeArg {
    /// This Pi's name when it is a satellite writing to a hub's Redis (`kitchen`): its sources
    /// write as `sensors@kitchen`, its orchestrator as `orchestrator@kitchen`. Leave it out on the
    /// hub and on a single Pi.
    #[arg(long = "node", env = "NODE_NAME")]
    pub name: Option<String>,
}

/// The roles.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Every service in one process, with the dashboard (the main job).
    Run {
        /// Simulated hardware and web services instead of real ones (no configured host is
        /// contacted).
        #[arg(long)]
        sim: bool,
        /// Use the Redis at this URL instead of the in-process bus. Without it, `REDIS_URL` when
        /// set (as every role reads it), else the in-process bus; `run` says which at start.
        #[arg(long)]
        redis: Option<String>,
        /// Address the dashboard listens on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// With --sim: also a simulated microcontroller node (`node-sim-pico`: a Pico with the
        /// Sense HAT's sensors and LED matrix) on a pseudo-terminal, read by the node source as
        /// a real one would be on /dev/ttyACM0.
        #[arg(long, requires = "sim")]
        sim_node: bool,
    },
    /// The HTTP and WebSocket gateway.
    Gateway {
        #[command(flatten)]
        redis: RedisArg,
        /// Address to listen on.
        #[arg(long, env = "GATEWAY_LISTEN", default_value = "0.0.0.0:8080")]
        listen: String,
    },
    /// Runs the sources on their schedules and starts the camera on demand.
    Orchestrator {
        #[command(flatten)]
        redis: RedisArg,
        #[command(flatten)]
        node: NodeArg,
        /// Run the sources with simulated hardware and web services (child processes, or
        /// containers run as `source … --sim`).
        #[arg(long)]
        sim: bool,
    },
    /// Alerts (ntfy, a webhook) and, when configured, the MQTT bridge to Home Assistant.
    Notify {
        #[command(flatten)]
        redis: RedisArg,
        /// A simulated stack: alerts are evaluated and shown, never sent to a configured host.
        #[arg(long)]
        sim: bool,
    },
    /// One data source: sensors, co2, system, weather, pihole, tailscale or network_camera; or
    /// `node`, a microcontroller node on a serial port (`source node --port /dev/ttyACM0`).
    Source {
        /// The source id, or `node`.
        id: SourceArg,
        /// `node`: the node's serial port (its source id comes from the node: `node-{name}`).
        #[arg(long, env = "NODE_PORT")]
        port: Option<PathBuf>,
        /// Poll once, write, and exit (0 when readings were written, also when part of the poll
        /// failed, e.g. one Aranet4 not heard; 1 when the poll failed, 2 on invalid input such as
        /// a bad Redis URL, 3 when Redis is unreachable). Without it the source runs until
        /// SIGTERM.
        #[arg(long)]
        once: bool,
        /// Simulated hardware and web services instead of the real ones (no configured host is
        /// contacted).
        #[arg(long)]
        sim: bool,
        /// What to do: `poll` (every source), `scan` (co2: list nearby Aranet4s and exit),
        /// `stream` or `discover` (network_camera). Default: poll, or stream for the camera.
        #[arg(long, env = "MODE")]
        mode: Option<String>,
        #[command(flatten)]
        redis: RedisArg,
        #[command(flatten)]
        node: NodeArg,
        /// Where the host's /proc is (default: /host/proc when mounted, else /proc).
        #[arg(long, env = "HOST_PROC")]
        proc_root: Option<PathBuf>,
        /// Where the host's /sys is (default: /host/sys when mounted, else /sys).
        #[arg(long, env = "HOST_SYS")]
        sys_root: Option<PathBuf>,
        /// The path whose file system `disk_percent` reports.
        #[arg(long, env = "DISK_PATH", default_value = "/")]
        disk_path: PathBuf,
        /// The Sense HAT's I2C bus.
        #[arg(long, env = "I2C_BUS", default_value = "/dev/i2c-1")]
        i2c_bus: PathBuf,
    },
    /// Configuration tools.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Several Pis on one Redis: the Redis users of satellite Pis and of the hub's services.
    Node {
        #[command(subcommand)]
        command: NodeCommand,
    },
    /// Aranet4 tools.
    Aranet4 {
        #[command(subcommand)]
        command: Aranet4Command,
    },
    /// Asks a gateway whether it is healthy (`GET /health`): exit 0 when it answers 200, else 1
    /// (Docker's healthcheck codes). The containers' healthcheck: their images have no shell or
    /// curl.
    Health {
        /// The gateway's health URL. Default: port of `GATEWAY_LISTEN` (8080) on 127.0.0.1.
        #[arg(long)]
        url: Option<String>,
    },
}

/// What `source` runs: a source by its id, or a microcontroller node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceArg {
    /// One of the fixed sources.
    Id(SourceId),
    /// `node`: a node on a serial port, named by itself.
    Node,
}

impl std::str::FromStr for SourceArg {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "node" {
            return Ok(SourceArg::Node);
        }
        s.parse::<SourceId>()
            .map(SourceArg::Id)
            .map_err(|e| format!("{e}, or node"))
    }
}

/// `sense-pulse aranet4 …`
#[derive(Debug, Subcommand)]
pub enum Aranet4Command {
    /// Decodes an Aranet4's manufacturer data (as `bluetoothctl` prints it) or a GATT reading, and
    /// prints it as JSON. With no bytes given, reads them from standard input.
    Decode {
        /// The bytes in hex: `21 05 03 …`, `210503…`, or bluetoothctl's dump lines.
        hex: Vec<String>,
    },
}

/// `sense-pulse node …` (not `source node`, a microcontroller on a serial port). Each prints the
/// settings to copy, a new password in them; with `--apply` it also sets the users on the hub's
/// Redis, which `--redis` (or `REDIS_URL`) must reach as an admin (the default user).
#[derive(Debug, Subcommand)]
pub enum NodeCommand {
    /// A satellite Pi named NAME (kitchen, living-room): its `.env` and its Redis user `node-NAME`,
    /// allowed only its own keys (`sensors@NAME`, ...) and the config it reads.
    Add {
        /// Lowercase letters, digits and `-`.
        name: String,
        /// The hub's Redis as the satellite reaches it, HOST or HOST:PORT (default: this
        /// machine's host name, port 6379).
        #[arg(long)]
        hub: Option<String>,
        /// Also set the user on Redis now (and save it to Redis's aclfile, if it has one).
        #[arg(long)]
        apply: bool,
        #[command(flatten)]
        redis: RedisArg,
    },
    /// The hub's own users: `gateway`, `hub` (its orchestrator and sources) and `notify`.
    HubUsers {
        /// Also set the users on Redis now (and save them to Redis's aclfile, if it has one).
        #[arg(long)]
        apply: bool,
        #[command(flatten)]
        redis: RedisArg,
    },
    /// Removes a satellite: its Redis user and its `node:NAME` record.
    Remove {
        /// The satellite's name.
        name: String,
        /// Remove them now (without it, says what would be removed).
        #[arg(long)]
        apply: bool,
        #[command(flatten)]
        redis: RedisArg,
    },
    /// The satellites that have written to this Redis: name, room, last contact.
    List {
        #[command(flatten)]
        redis: RedisArg,
    },
}

/// `sense-pulse config …`
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Migrates a monolith config.yaml into the config sections in Redis.
    Import {
        /// The legacy config file.
        file: PathBuf,
        /// Show what would be written, and write nothing.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        redis: RedisArg,
    },
    /// Prints the configuration in force, where each value comes from (Redis, the environment or
    /// the default; secrets hidden), and any problems with it.
    Show {
        #[command(flatten)]
        redis: RedisArg,
    },
    /// Writes sections set by environment variables, never overwriting existing ones (SET NX).
    Seed {
        #[command(flatten)]
        redis: RedisArg,
    },
}
