//! The Redis users of a multi-node installation and what each may do (Redis 6+ ACLs).
//!
//! A hub Pi runs Redis, the gateway, its orchestrator and the notifier; satellites write to the
//! hub's Redis as `node-{name}`. Each role gets exactly the keys and channels it uses, built here
//! from [`keys`] and [`Scope`] so the names live in one place, and the commands the bus sends
//! ([`COMMANDS`]): a satellite cannot touch the hub's keys, another node's, or the shared config,
//! and no role can flush, reconfigure or shut down Redis.
//!
//! | user | keys | channels |
//! |---|---|---|
//! | `node-{N}` | its own ids' `source:` `history:` `rollup:` (`…:*`), `status:` `meta:` `state:` `scan:`; `node:{N}`; `logs`; reads the config sections it uses and its overrides | its ids' `data:` `cmd:` `cmd:…:response:*`; `matrix:state@{N}`, `stream:ended@{N}`, `config:changed`, `logs` |
//! | `gateway` | reads all; writes `config:*`, `logs` | `cmd:*`, `config:changed`, the ones it listens to |
//! | `hub` | all | all |
//! | `notify` | reads all; writes `alerts:*` keys, `logs` | `alerts`, `cmd:*`, the ones it listens to |
//!
//! Redis matches a `PSUBSCRIBE` pattern literally against the allowed ones, hence the patterns a
//! role listens to (`data:*`) are listed as they are. Channel rules do not tell publishing from
//! subscribing: a satellite that listens to `config:changed` may also publish on it.

use crate::ids::{NodeName, Scope, SectionName, SourceId};
use crate::keys::{self, channels};

/// The id a node's orchestrator answers to and writes its health under.
const ORCHESTRATOR: &str = "orchestrator";

/// Every command the bus sends (`bus/redis.rs`, its Lua scripts, the redis crate's connection
/// set-up and subscriptions), and no other, for every role.
pub const COMMANDS: &[&str] = &[
    // Connecting: RESP3 with credentials is `HELLO 3 AUTH …`; SELECT for a /db in the URL.
    // (No `client|setinfo`: the bus skips it, and Redis 7.0 refuses a rule naming it.)
    "hello",
    "auth",
    "ping",
    "select",
    "client|setname",
    "quit",
    // Atomic pipelines.
    "multi",
    "exec",
    "discard",
    // Reads.
    "get",
    "mget",
    "pttl",
    "scan",
    "lrange",
    "hgetall",
    "hget",
    // Writes (HSET and PEXPIREAT in the rollup script).
    "set",
    "del",
    "lpush",
    "rpush",
    "ltrim",
    "pexpire",
    "pexpireat",
    "hset",
    // Pub/sub.
    "publish",
    "subscribe",
    "psubscribe",
    "unsubscribe",
    "punsubscribe",
    // Batch::accumulate and apply_if: Redis 7 checks each command a script runs against the
    // caller's keys and channels too.
    "eval",
    "evalsha",
];

/// A Redis user's role.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// A satellite Pi named N: its orchestrator and sources (`node-N`).
    Satellite(NodeName),
    /// The dashboard's gateway on the hub (`gateway`).
    Gateway,
    /// The hub's orchestrator and sources, and the config tools (`hub`).
    Hub,
    /// The notifier on the hub: alerts and the MQTT bridge (`notify`).
    Notifier,
}

/// What every Redis user name of a satellite starts with.
pub const SATELLITE_USER_PREFIX: &str = "node-";

impl Role {
    /// The roles of the hub's services, in the order `node hub-users` lists them.
    pub const HUB_SERVICES: [Role; 3] = [Role::Gateway, Role::Hub, Role::Notifier];

    /// The Redis user name: `node-kitchen`, `gateway`, `hub`, `notify`.
    pub fn user(&self) -> String {
        match self {
            Role::Satellite(node) => format!("{SATELLITE_USER_PREFIX}{node}"),
            Role::Gateway => "gateway".to_owned(),
            Role::Hub => "hub".to_owned(),
            Role::Notifier => "notify".to_owned(),
        }
    }

    /// The ACL rules of the role, as `ACL SETUSER` tokens (no user name, no password, no
    /// `on`): channels reset, then the commands, keys and channels allowed.
    pub fn rules(&self) -> Vec<String> {
        let mut rules = vec!["resetchannels".to_owned(), "-@all".to_owned()];
        rules.extend(COMMANDS.iter().map(|c| format!("+{c}")));
        let (keys, channels) = match self {
            Role::Satellite(node) => satellite(node),
            Role::Gateway => gateway(),
            Role::Hub => (vec![Key::All], vec!["*".to_owned()]),
            Role::Notifier => notifier(),
        };
        rules.extend(keys.iter().map(Key::rule));
        rules.extend(channels.iter().map(|c| format!("&{c}")));
        rules
    }

    /// `ACL SETUSER`'s arguments: the user, reset (a password given before is dropped), on,
    /// the password by its SHA-256 (`#…`, 64 lowercase hex digits), then [`Role::rules`].
    pub fn setuser_args(&self, password_sha256: &str) -> Vec<String> {
        let mut args = vec![
            self.user(),
            "reset".to_owned(),
            "on".to_owned(),
            format!("#{password_sha256}"),
        ];
        args.extend(self.rules());
        args
    }

    /// The user's line for Redis's aclfile (`users.acl`), the password by its SHA-256.
    pub fn acl_file_line(&self, password_sha256: &str) -> String {
        format!(
            "user {} on #{password_sha256} {}",
            self.user(),
            self.rules().join(" ")
        )
    }
}

/// A key pattern and what may be done with it.
enum Key {
    /// `~pattern`: read and write.
    ReadWrite(String),
    /// `%R~pattern`: read only.
    Read(String),
    /// `allkeys`.
    All,
}

impl Key {
    fn rule(&self) -> String {
        match self {
            Key::ReadWrite(p) => format!("~{p}"),
            Key::Read(p) => format!("%R~{p}"),
            Key::All => "allkeys".to_owned(),
        }
    }
}

/// The ids a satellite runs under: its per-node sources and its orchestrator, each `…@{node}`.
pub fn satellite_ids(node: &NodeName) -> Vec<String> {
    let scope = Scope::node(node.clone());
    SourceId::ALL
        .into_iter()
        .filter(|id| id.per_node())
        .map(|id| scope.source(id))
        .chain([scope.id(ORCHESTRATOR)])
        .collect()
}

/// The shared config sections a satellite reads: what its sources and orchestrator use.
fn satellite_sections() -> impl Iterator<Item = SectionName> {
    SectionName::ALL
        .into_iter()
        .filter(|s| s.per_node() || matches!(s, SectionName::Global | SectionName::Schedule))
}

/// Every id is spelled out: `source:*@kitchen:*` would also match the hub's
/// `source:sensors:x@kitchen:y` (a sensor named `x@kitchen:y`).
fn satellite(node: &NodeName) -> (Vec<Key>, Vec<String>) {
    let scope = Scope::node(node.clone());
    let mut keys = Vec::new();
    let mut chans = Vec::new();
    for id in satellite_ids(node) {
        keys.extend(
            [
                keys::readings_of(&id),
                keys::histories_of(&id),
                keys::rollups_of(&id),
                keys::status(&id),
                keys::meta(&id),
                keys::state(&id),
                keys::scan(&id),
            ]
            .map(Key::ReadWrite),
        );
        chans.extend([
            channels::data(&id),
            channels::command(&id),
            channels::command_response(&id, "*"),
        ]);
    }
    keys.push(Key::ReadWrite(keys::node(node)));
    keys.push(Key::ReadWrite(keys::LOGS.to_owned()));
    keys.extend(satellite_sections().map(|s| Key::Read(keys::config(s))));
    keys.extend(
        SectionName::ALL
            .into_iter()
            .filter(|s| s.per_node())
            .map(|s| Key::Read(keys::config_override(s, node))),
    );
    chans.extend([
        channels::matrix_state(&scope),
        scope.id(channels::STREAM_ENDED),
        channels::CONFIG_CHANGED.to_owned(),
        channels::LOGS.to_owned(),
    ]);
    (keys, chans)
}

/// Reads everything; writes the config (the settings page, its backup) and its logs.
fn gateway() -> (Vec<Key>, Vec<String>) {
    let keys = vec![
        Key::Read("*".to_owned()),
        Key::ReadWrite(keys::ALL_CONFIG.to_owned()),
        Key::ReadWrite(keys::LOGS.to_owned()),
    ];
    let chans = vec![
        channels::command("*"),
        channels::ALL_COMMAND_RESPONSES.to_owned(),
        channels::CONFIG_CHANGED.to_owned(),
        channels::ALL_DATA.to_owned(),
        channels::MATRIX_STATE.to_owned(),
        // Each node's LED matrix (`/ws/grid?node=kitchen`).
        channels::ALL_NODE_MATRIX_STATES.to_owned(),
        channels::LOGS.to_owned(),
    ];
    (keys, chans)
}

/// Reads everything; writes the alerts' keys and its logs; sends commands (the MQTT bridge).
fn notifier() -> (Vec<Key>, Vec<String>) {
    let keys = [
        keys::ALERTS_ACTIVE,
        keys::ALERTS_HISTORY,
        keys::ALERTS_CHANNELS,
        keys::LOGS,
    ]
    .into_iter()
    .map(|k| Key::ReadWrite(k.to_owned()));
    let keys = std::iter::once(Key::Read("*".to_owned()))
        .chain(keys)
        .collect();
    let chans = vec![
        channels::ALERTS.to_owned(),
        channels::ALL_DATA.to_owned(),
        channels::CONFIG_CHANGED.to_owned(),
        channels::LOGS.to_owned(),
        channels::command("*"),
        channels::ALL_COMMAND_RESPONSES.to_owned(),
    ];
    (keys, chans)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kitchen() -> Role {
        Role::Satellite(NodeName::parse("kitchen").unwrap())
    }

    #[test]
    fn a_satellite_gets_its_own_ids_only() {
        let rules = kitchen().rules();
        let has = |r: &str| rules.iter().any(|x| x == r);
        for r in [
            "resetchannels",
            "-@all",
            "+eval",
            "~source:sensors@kitchen:*",
            "~rollup:network_camera@kitchen:*",
            "~history:co2@kitchen:*",
            "~status:orchestrator@kitchen",
            "~scan:co2@kitchen",
            "~node:kitchen",
            "~logs",
            "%R~config:display",
            "%R~config:global",
            "%R~config:display@kitchen",
            "&cmd:sensors@kitchen",
            "&cmd:orchestrator@kitchen:response:*",
            "&data:system@kitchen",
            "&matrix:state@kitchen",
            "&stream:ended@kitchen",
            "&config:changed",
            "&logs",
        ] {
            assert!(has(r), "{r} missing from {}", rules.join(" "));
        }
        for r in [
            "%R~config:pihole",
            "%R~config:auth",
            "~source:weather@kitchen:*",
        ] {
            assert!(!has(r), "{r}");
        }
        // Nothing but the node's own ids, names and the shared reads.
        for r in &rules {
            let pattern = r.trim_start_matches(['%', 'R', '~', '&']);
            let own = pattern.contains("@kitchen") || pattern == "node:kitchen";
            let shared = ["logs", "config:changed"].contains(&pattern)
                || r.starts_with("%R~config:")
                || r.starts_with(['+', '-'])
                || r == "resetchannels";
            assert!(own || shared, "{r}");
            assert!(
                !pattern.contains("*@"),
                "{r}: a glob before the node's name"
            );
        }
        assert_eq!(kitchen().user(), "node-kitchen");
    }

    #[test]
    fn lines_and_setuser_carry_the_hash_and_the_same_rules() {
        let hash = "ab".repeat(32);
        let line = Role::Gateway.acl_file_line(&hash);
        assert!(line.starts_with(&format!("user gateway on #{hash} resetchannels -@all ")));
        assert!(line.contains(" %R~* ~config:* ~logs "), "{line}");
        assert!(line.contains(" &cmd:* &cmd:*:response:* "), "{line}");
        let args = Role::Hub.setuser_args(&hash);
        assert_eq!(args[..4], ["hub", "reset", "on", &format!("#{hash}")]);
        assert!(args.ends_with(&["allkeys".to_owned(), "&*".to_owned()]));
        let notify = Role::Notifier.rules().join(" ");
        assert!(notify.contains("~alerts:active ~alerts:history ~alerts:channels"));
        assert!(!notify.contains("~config"), "{notify}");
    }

    /// Every command the Redis backend (`bus/redis/`) sends, as `cmd("…")` or from Lua as `redis.call('…'`, is
    /// allowed: a command added there without a line in [`COMMANDS`] fails here, not on a Pi.
    #[test]
    fn every_command_the_bus_sends_is_allowed() {
        let source = [
            include_str!("bus/redis/mod.rs"),
            include_str!("bus/redis/connect.rs"),
        ]
        .concat();
        let mut found = Vec::new();
        for (open, close) in [("cmd(\"", '"'), ("redis.call('", '\'')] {
            for (i, _) in source.match_indices(open) {
                let rest = &source[i + open.len()..];
                let name = &rest[..rest.find(close).unwrap()];
                found.push(name.to_ascii_lowercase());
            }
        }
        assert!(found.len() > 20, "{found:?}");
        for name in found {
            assert!(
                COMMANDS.contains(&name.as_str()),
                "{name} is not in COMMANDS"
            );
        }
        assert!(source.contains("conn.subscribe(") && source.contains("conn.psubscribe("));
    }
}
