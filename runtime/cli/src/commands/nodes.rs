//! `sense-pulse node …`: several Pis on one Redis. Makes each satellite's and each hub service's
//! Redis user ([`sense_bus::acl`]), with a new password, prints the settings to copy, and with
//! `--apply` sets the users on the hub's Redis.
//!
//! The password appears only in what is printed: Redis gets its SHA-256 (`#…`), as the aclfile
//! line does.

use redis::aio::MultiplexedConnection;
use ring::rand::SecureRandom as _;
use sense_bus::acl::Role;
use sense_bus::model::NodeRecord;
use sense_bus::{Bus, NodeName, keys};

use super::{CONNECT_TIMEOUT, Failure, Writes, connect, say};
use crate::cli::NodeCommand;

/// The port of Redis when `--hub` names none.
const REDIS_PORT: u16 = 6379;

/// Runs a `node` command.
pub(super) async fn node(command: NodeCommand) -> Result<u8, Failure> {
    match command {
        NodeCommand::Add {
            name,
            hub,
            apply,
            redis,
        } => add(&name, hub.as_deref(), apply, &redis.url).await,
        NodeCommand::HubUsers { apply, redis } => hub_users(apply, &redis.url).await,
        NodeCommand::Remove { name, apply, redis } => remove(&name, apply, &redis.url).await,
        NodeCommand::List { redis } => list(&redis.url).await,
    }
}

/// A user about to be made: its role and new password.
struct NewUser {
    role: Role,
    password: String,
}

impl NewUser {
    fn new(role: Role) -> Result<NewUser, Failure> {
        let mut bytes = [0u8; 32];
        ring::rand::SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| Failure::failed("the system's random source failed: try again"))?;
        Ok(NewUser {
            role,
            password: hex(&bytes),
        })
    }

    /// The password's SHA-256, as Redis takes it after `#`.
    fn sha256(&self) -> String {
        hex(ring::digest::digest(&ring::digest::SHA256, self.password.as_bytes()).as_ref())
    }

    /// `redis://{user}:{password}@{address}`.
    fn url(&self, address: &str) -> String {
        format!("redis://{}:{}@{address}", self.role.user(), self.password)
    }

    fn acl_file_line(&self) -> String {
        self.role.acl_file_line(&self.sha256())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Progress and notes for the person at the terminal, on standard error: standard output holds
/// only what is to be copied.
#[allow(clippy::print_stderr)]
fn tell(text: &str) {
    eprintln!("{text}");
}

fn node_name(name: &str) -> Result<NodeName, Failure> {
    NodeName::parse(name)
        .map_err(|e| Failure::invalid(format!("{e}: choose one such as kitchen or living-room")))
}

/// `node add`.
async fn add(name: &str, hub: Option<&str>, apply: bool, url: &str) -> Result<u8, Failure> {
    let node = node_name(name)?;
    let address = hub_address(hub)?;
    let user = NewUser::new(Role::Satellite(node.clone()))?;
    if apply {
        let mut admin = Admin::connect(url).await?;
        admin.set_users(std::slice::from_ref(&user)).await?;
    }
    say(&format!(
        "# The satellite {node}: on it, these lines go in /etc/sense-pulse/sense-pulse.env\n\
         # (systemd); for the Swarm stack, the REDIS_URL value alone goes in\n\
         # /etc/sense-pulse/redis-url.\n\
         NODE_NAME={node}\n\
         REDIS_URL={}\n\
         \n\
         # Its user on the hub's Redis: this line goes in Redis's aclfile (users.acl), for the\n\
         # user to outlive a restart of Redis.\n\
         {}",
        user.url(&address),
        user.acl_file_line()
    ));
    if !apply {
        tell(
            "Nothing was set on Redis: `node add` with --apply sets the user (with a new password).",
        );
    }
    Ok(0)
}

/// `node hub-users`: the gateway's, the hub's and the notifier's users, at the address the
/// admin URL reaches Redis (as the hub's services do).
async fn hub_users(apply: bool, url: &str) -> Result<u8, Failure> {
    let users = Role::HUB_SERVICES
        .into_iter()
        .map(NewUser::new)
        .collect::<Result<Vec<_>, _>>()?;
    if apply {
        let mut admin = Admin::connect(url).await?;
        admin.set_users(&users).await?;
    }
    let address = redis::parse_redis_url(url)
        .and_then(|u| {
            Some(format!(
                "{}:{}",
                u.host_str()?,
                u.port().unwrap_or(REDIS_PORT)
            ))
        })
        .unwrap_or_else(|| format!("127.0.0.1:{REDIS_PORT}"));
    let mut out = String::from(
        "# The hub's services, each with its own REDIS_URL. Under systemd, `sudo systemctl edit\n\
         # <unit>`, then [Service] and Environment=REDIS_URL=…; in Docker, the service's\n\
         # environment.\n",
    );
    for user in &users {
        let runs = match user.role {
            Role::Gateway => "sense-pulse-gateway (sense-pulse gateway)",
            Role::Hub => {
                "sense-pulse-orchestrator and its sources, or sense-pulse (run); the config commands"
            }
            _ => "sense-pulse-notify (sense-pulse notify)",
        };
        out.push_str(&format!("# {runs}:\nREDIS_URL={}\n", user.url(&address)));
    }
    out.push_str(
        "\n# Their users on Redis: these lines go in Redis's aclfile (users.acl), for the users\n\
         # to outlive a restart of Redis.\n",
    );
    let lines: Vec<String> = users.iter().map(NewUser::acl_file_line).collect();
    out.push_str(&lines.join("\n"));
    say(&out);
    if !apply {
        tell(
            "Nothing was set on Redis: `node hub-users` with --apply sets the users (with new passwords).",
        );
    }
    Ok(0)
}

/// `node remove`.
async fn remove(name: &str, apply: bool, url: &str) -> Result<u8, Failure> {
    let node = node_name(name)?;
    let user = Role::Satellite(node.clone()).user();
    let record = keys::node(&node);
    if !apply {
        tell(&format!(
            "Would remove the Redis user {user} and the record {record}: run again with --apply."
        ));
        return Ok(0);
    }
    let mut admin = Admin::connect(url).await?;
    let removed: u64 = admin
        .run(redis::cmd("ACL").arg("DELUSER").arg(&user), "remove a user")
        .await?;
    let forgotten = admin
        .bus
        .del(&record)
        .await
        .map_err(|e| Failure::bus(&e, url, Writes::Something))?;
    admin
        .save("if the user's line is in redis.conf, take it out there too.")
        .await?;
    let said = |done: bool, what: &str| {
        if done {
            format!("removed {what}")
        } else {
            format!("{what} was not there")
        }
    };
    tell(&format!(
        "{}; {}.",
        said(removed > 0, &format!("the Redis user {user}")),
        said(forgotten, &format!("the record {record}"))
    ));
    Ok(0)
}

/// `node list`: the `node:*` records.
async fn list(url: &str) -> Result<u8, Failure> {
    let bus = connect(url, Writes::Nothing).await?;
    let failed = |e: sense_bus::BusError| Failure::bus(&e, url, Writes::Nothing);
    let found = bus.keys(keys::ALL_NODES).await.map_err(failed)?;
    let texts = bus.mget(&found).await.map_err(failed)?;
    let records: Vec<NodeRecord> = texts
        .iter()
        .flatten()
        .filter_map(|t| serde_json::from_str(t).ok())
        .collect();
    if records.is_empty() {
        say("No satellite has written to this Redis yet.");
        return Ok(0);
    }
    let now = sense_bus::unix_now();
    let width = records
        .iter()
        .map(|r| r.name.len())
        .max()
        .unwrap_or(0)
        .max(4);
    let room_width = records
        .iter()
        .map(|r| r.room.len())
        .max()
        .unwrap_or(0)
        .max(4);
    let mut out = format!("{:width$}  {:room_width$}  LAST CONTACT", "NAME", "ROOM");
    for r in &records {
        let ago = (now - r.last_contact).max(0.0).round();
        let state = if r.in_contact(now) { "" } else { ", lost" };
        out.push_str(&format!(
            "\n{:width$}  {:room_width$}  {ago} s ago{state}",
            r.name, r.room
        ));
    }
    say(&out);
    Ok(0)
}

/// `HOST[:PORT]` of the hub as a satellite reaches it; by default this machine's host name.
fn hub_address(given: Option<&str>) -> Result<String, Failure> {
    let given = match given {
        Some(h) => h.trim().to_owned(),
        None => std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .ok()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| {
                Failure::invalid(
                    "cannot tell this machine's host name: pass --hub with the hub's name or \
                     address as the satellite reaches it",
                )
            })?,
    };
    let bad = |why: &str| {
        Failure::invalid(format!(
            "--hub `{given}` {why}: give HOST or HOST:PORT, such as hub.local or 100.64.0.1:6379"
        ))
    };
    let (host, port) = match given.rsplit_once(':') {
        // One colon, or `[v6]:port`; any other colon belongs to an IPv6 address.
        Some((host, port)) if !host.contains(':') || host.ends_with(']') => {
            let port: u16 = port
                .parse()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| bad("has a port that is not a number from 1 to 65535"))?;
            (host.to_owned(), port)
        }
        _ => (given.clone(), REDIS_PORT),
    };
    let host = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host
    };
    let allowed = |c: char| c.is_ascii_alphanumeric() || ".-_:[]".contains(c);
    if host.is_empty() || !host.chars().all(allowed) {
        return Err(bad("is not a host name or address"));
    }
    Ok(format!("{host}:{port}"))
}

/// A connection to Redis as an admin, for `ACL` commands.
struct Admin {
    bus: Bus,
    conn: MultiplexedConnection,
    /// The URL without its password.
    shown: String,
}

impl Admin {
    async fn connect(url: &str) -> Result<Admin, Failure> {
        // The bus first: it says in words what is wrong with a URL or an unreachable Redis.
        let bus = connect(url, Writes::Something).await?;
        let shown = bus.describe();
        let unreachable = |why: String| {
            Failure::new(
                super::EXIT_NO_BUS,
                format!("Redis at {shown} is unreachable ({why}); nothing was changed."),
            )
        };
        let client = redis::Client::open(url).map_err(|e| unreachable(redacted(&e)))?;
        let conn = tokio::time::timeout(CONNECT_TIMEOUT, client.get_multiplexed_async_connection())
            .await
            .map_err(|_| unreachable("no answer".to_owned()))?
            .map_err(|e| unreachable(redacted(&e)))?;
        Ok(Admin { bus, conn, shown })
    }

    /// One command; `what` says what it does (`remove a user`) for the message on failure.
    async fn run<T: redis::FromRedisValue>(
        &mut self,
        cmd: &redis::Cmd,
        what: &str,
    ) -> Result<T, Failure> {
        cmd.query_async(&mut self.conn).await.map_err(|e| {
            let fix = if e.code() == Some("NOPERM") {
                "the user of that URL may not manage Redis. Pass --redis (or set REDIS_URL) with \
                 an admin's URL, such as redis://127.0.0.1:6379 for the default user"
            } else if redacted(&e).contains("unknown command") {
                "users need Redis 6 or later"
            } else {
                "see what it says"
            };
            Failure::failed(format!(
                "Redis at {} refused to {what} ({}); {fix}.",
                self.shown,
                redacted(&e)
            ))
        })
    }

    /// Sets each user (replacing one of the same name, its password too), then saves them.
    async fn set_users(&mut self, users: &[NewUser]) -> Result<(), Failure> {
        for user in users {
            let name = user.role.user();
            let existed: redis::Value = self
                .run(
                    redis::cmd("ACL").arg("GETUSER").arg(&name),
                    "look up a user",
                )
                .await?;
            let args = user.role.setuser_args(&user.sha256());
            self.run::<()>(redis::cmd("ACL").arg("SETUSER").arg(&args), "set a user")
                .await?;
            tell(&if existed == redis::Value::Nil {
                format!("Set the Redis user {name} on {}.", self.shown)
            } else {
                format!(
                    "Replaced the Redis user {name} on {}: its old password no longer works.",
                    self.shown
                )
            });
        }
        self.save(
            "the users last until Redis restarts, unless their `user` lines (printed below) go \
             into one (`aclfile /etc/redis/users.acl` in redis.conf).",
        )
        .await?;
        self.warn_if_default_is_open().await
    }

    /// `ACL SAVE` when Redis has an aclfile; else says `without_file`.
    async fn save(&mut self, without_file: &str) -> Result<(), Failure> {
        let reply: Vec<String> = self
            .run(
                redis::cmd("CONFIG").arg("GET").arg("aclfile"),
                "say where it keeps its users",
            )
            .await?;
        match reply.get(1).filter(|p| !p.is_empty()) {
            Some(path) => {
                self.run::<()>(redis::cmd("ACL").arg("SAVE"), "save its users")
                    .await?;
                tell(&format!("Saved in Redis's aclfile, {path}."));
            }
            None => tell(&format!("Redis has no aclfile: {without_file}")),
        }
        Ok(())
    }

    /// Users restrict only those who use them: say so while the default user needs no password.
    async fn warn_if_default_is_open(&mut self) -> Result<(), Failure> {
        let users: Vec<String> = self
            .run(redis::cmd("ACL").arg("LIST"), "list its users")
            .await?;
        let open = users.iter().any(|u| {
            u.starts_with("user default on ") && u.split(' ').any(|rule| rule == "nopass")
        });
        if open {
            crate::logs::warning(
                "Redis's default user needs no password, so anyone who reaches Redis can still \
                 do anything. Once every service has its own REDIS_URL, give it one \
                 (redis-cli ACL SETUSER default '>PASSWORD', then ACL SAVE) and pass it in --redis.",
            );
        }
        Ok(())
    }
}

/// A Redis error's text, as Redis said it when it did, without any URL password.
fn redacted(e: &redis::RedisError) -> String {
    let text = match (e.code(), e.detail()) {
        (Some(code), Some(detail)) => format!("{code} {detail}"),
        (None, Some(detail)) => detail.to_owned(),
        _ => e.to_string(),
    };
    sense_bus::redact::url_credentials(&text).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hub_addresses_get_a_port_and_ipv6_its_brackets() {
        let ok = |given: &str| hub_address(Some(given)).unwrap_or_else(|f| panic!("{f:?}"));
        assert_eq!(ok("hub.local"), "hub.local:6379");
        assert_eq!(ok("100.64.0.1:6380"), "100.64.0.1:6380");
        assert_eq!(ok("fd7a::1"), "[fd7a::1]:6379");
        assert_eq!(ok("[fd7a::1]:7000"), "[fd7a::1]:7000");
        for bad in ["hub:0", "hub:x", "", "a b", "user@hub", "hub/0"] {
            assert!(hub_address(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords_are_new_each_time_and_hashed_for_redis() {
        let a = NewUser::new(Role::Hub).unwrap();
        let b = NewUser::new(Role::Hub).unwrap();
        assert_ne!(a.password, b.password);
        assert_eq!(a.password.len(), 64);
        assert!(a.sha256().len() == 64 && a.sha256() != a.password);
        assert!(a.url("hub:6379").starts_with("redis://hub:"));
        assert!(!a.acl_file_line().contains(&a.password));
    }
}
