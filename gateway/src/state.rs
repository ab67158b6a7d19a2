//! What the gateway shares between connections: the bus, the hub (what is true now), sign-in and
//! its settings in force, the hosts served, counters.

use std::cell::{Cell, RefCell};
use std::path::PathBuf;
use std::rc::Rc;

use sense_bus::command::CommandClient;
use sense_bus::config::{AuthConfig, IpRange, resolve};
use sense_bus::keys::{self, channels};
use sense_bus::{Bus, SectionName};

use crate::auth::Auth;
use crate::hosts::{self, AllowedHosts};
use crate::hub::Hub;
use crate::keeper::{self, ConfigKeeper};

/// The channel services publish their warnings and errors on (ours).
pub const LOGS_CHANNEL: &str = channels::LOGS;
/// The list holding the latest log entries, for a gateway that starts later (ours).
pub const LOGS_KEY: &str = keys::LOGS;

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct Counters {
    /// Requests handled.
    pub requests: Cell<u64>,
    /// Requests refused for authentication.
    pub auth_failures: Cell<u64>,
    /// Commands sent.
    pub commands: Cell<u64>,
    /// WebSocket clients connected now.
    pub websocket_clients: Cell<u64>,
    /// WebSocket clients dropped for being too slow.
    pub websocket_dropped: Cell<u64>,
}

impl Counters {
    /// Adds one to `counter`.
    pub fn bump(counter: &Cell<u64>) {
        counter.set(counter.get() + 1);
    }
}

/// Where the gateway finds its files and whom it trusts.
#[derive(Clone, Debug)]
pub struct GatewayOptions {
    /// The built dashboard (`frontend/build`); `None` or missing: a page says how to build it.
    pub frontend_dir: Option<PathBuf>,
    /// The HLS folder the camera writes.
    pub hls_dir: PathBuf,
    /// Origins allowed besides the gateway's own (`CORS_ORIGINS`).
    pub allowed_origins: Vec<String>,
    /// Host names served besides IP literals, `localhost` and the machine's own names
    /// (`ALLOWED_HOSTS`; `*.example.com` wildcards): see [`crate::hosts`].
    pub allowed_hosts: Vec<String>,
    /// Environment lookup for config defaults.
    pub env: fn(&str) -> Option<String>,
    /// Where the last valid settings are kept across restarts (`STATE_DIR`); `None`: in memory.
    pub state_dir: Option<PathBuf>,
    /// What the sources simulate (`sense-pulse run --sim`), told to the dashboard in
    /// `GET /api/session`; `None`: real hardware, or not known to this gateway.
    pub simulated: Option<crate::api::Simulation>,
}

/// The sign-in settings in force (at first [`AuthInForce::Unread`]). They fail closed: once sign-in is on, only a valid write
/// turns it off; an invalid or lost `config:auth` never does.
#[derive(Clone, Debug, Default)]
pub enum AuthInForce {
    /// `config:auth` as stored (with the environment and defaults under it).
    Current(AuthConfig),
    /// The stored section is invalid: the last valid one, which asks for a login, stays in force.
    KeptLast {
        /// The last valid settings.
        config: AuthConfig,
        /// What is wrong with the stored ones.
        problem: String,
    },
    /// The stored section is invalid and no valid one asking for a login is known: nobody gets
    /// in until it is fixed, since the invalid one may have meant to turn sign-in on.
    Locked {
        /// What is wrong with the stored ones.
        problem: String,
    },
    /// Not read yet (the gateway has just started and the bus has not answered), and no last
    /// valid settings on disk: nobody gets in until they are read, since they may ask for a
    /// login.
    #[default]
    Unread,
}

/// Why nobody gets in before the sign-in settings are read.
const UNREAD: &str = "the sign-in settings have not been read from the data bus yet";

impl AuthInForce {
    /// Whether a login is asked for.
    pub fn enabled(&self) -> bool {
        match self {
            AuthInForce::Current(c) | AuthInForce::KeptLast { config: c, .. } => c.enabled,
            AuthInForce::Locked { .. } | AuthInForce::Unread => true,
        }
    }

    /// The settings to check logins against; `Err` with the reason while nobody may sign in.
    pub fn config(&self) -> Result<&AuthConfig, String> {
        match self {
            AuthInForce::Current(c) | AuthInForce::KeptLast { config: c, .. } => Ok(c),
            AuthInForce::Locked { .. } | AuthInForce::Unread => {
                Err(self.problem().unwrap_or_default())
            }
        }
    }

    /// What the owner must know, if anything.
    pub fn problem(&self) -> Option<String> {
        match self {
            AuthInForce::Current(_) => None,
            AuthInForce::KeptLast { problem, .. } => Some(format!(
                "{problem}; the last valid sign-in settings stay in force until it is fixed"
            )),
            AuthInForce::Locked { problem } => Some(format!(
                "{problem}; nobody can sign in until it is fixed (write a valid auth section, \
                 or delete config:auth to go back to the last valid one)"
            )),
            AuthInForce::Unread => Some(format!("{UNREAD}; nobody is let in until they are")),
        }
    }
}

/// State shared by every connection on the gateway's thread.
pub struct Shared {
    /// The bus.
    pub bus: Bus,
    /// Sends commands and routes their answers.
    pub commands: CommandClient,
    /// Authentication and rate limits.
    pub auth: Auth,
    /// The sign-in settings in force.
    pub auth_config: RefCell<AuthInForce>,
    /// The last valid settings, to restore what Redis loses.
    pub keeper: ConfigKeeper,
    /// The `Host` names served.
    pub hosts: AllowedHosts,
    /// The trusted proxies in force, parsed.
    pub trusted_proxies: RefCell<Vec<IpRange>>,
    /// Options.
    pub options: GatewayOptions,
    /// Counters.
    pub counters: Counters,
    /// What is true now: sources, the bus state, the LED matrix, logs.
    pub hub: Hub,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("bus", &self.bus)
            .finish_non_exhaustive()
    }
}

impl Shared {
    /// Connects the command client and starts empty.
    pub async fn new(bus: Bus, options: GatewayOptions) -> Result<Rc<Shared>, sense_bus::BusError> {
        let commands = CommandClient::new(bus.clone()).await?;
        let keeper = ConfigKeeper::new(options.state_dir.clone());
        // Until the bus answers: the last valid settings kept on disk, else nobody.
        let auth_config = match keeper.last_valid(SectionName::Auth) {
            Some(text) => {
                AuthInForce::Current(resolve::<AuthConfig>(Some(&text), &options.env).value)
            }
            None => AuthInForce::Unread,
        };
        Ok(Rc::new(Shared {
            bus,
            commands,
            auth: Auth::default(),
            auth_config: RefCell::new(auth_config),
            keeper,
            hosts: AllowedHosts::new(&options.allowed_hosts, hosts::machine_names()),
            trusted_proxies: RefCell::default(),
            options,
            counters: Counters::default(),
            hub: Hub::default(),
        }))
    }

    /// Looks at every section: restores what Redis lost, remembers what is valid, and decides
    /// the sign-in settings in force (failing closed). Says so, once, when they are not the
    /// stored ones. A bus that does not answer changes nothing.
    pub async fn reconcile_config(&self) {
        let env = self.options.env;
        let found = match self.keeper.reconcile(&self.bus, &env).await {
            Ok(found) => found,
            Err(e) => {
                tracing::debug!(error = %e, "cannot read the config; keeping what is in force");
                return;
            }
        };
        let stored = found.get(&SectionName::Auth).cloned().flatten();
        let problem = stored
            .as_deref()
            .and_then(|t| keeper::section_problem(SectionName::Auth, t, &env));
        let next = match problem {
            None => AuthInForce::Current(resolve::<AuthConfig>(stored.as_deref(), &env).value),
            Some(problem) => {
                let last = match &*self.auth_config.borrow() {
                    AuthInForce::Current(c) | AuthInForce::KeptLast { config: c, .. } => {
                        Some(c.clone())
                    }
                    AuthInForce::Locked { .. } | AuthInForce::Unread => None,
                }
                .or_else(|| {
                    let text = self.keeper.last_valid(SectionName::Auth)?;
                    Some(resolve::<AuthConfig>(Some(&text), &env).value)
                });
                match last {
                    Some(config) if config.enabled => AuthInForce::KeptLast { config, problem },
                    _ => AuthInForce::Locked { problem },
                }
            }
        };
        let first = matches!(*self.auth_config.borrow(), AuthInForce::Unread);
        let before = if first {
            None
        } else {
            self.auth_config.borrow().problem()
        };
        let after = next.problem();
        if after != before {
            match &after {
                Some(p) => tracing::error!("sign-in settings: {p}"),
                None if before.is_some() => tracing::warn!("sign-in settings are valid again"),
                None => {}
            }
        }
        if let Ok(config) = next.config() {
            self.hosts.configure(&config.allowed_hosts);
            // Validated when resolved: every entry parses.
            *self.trusted_proxies.borrow_mut() = config
                .trusted_proxies
                .iter()
                .filter_map(|p| p.parse().ok())
                .collect();
        }
        *self.auth_config.borrow_mut() = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(state_dir: Option<PathBuf>) -> GatewayOptions {
        GatewayOptions {
            frontend_dir: None,
            hls_dir: PathBuf::from("/nonexistent"),
            allowed_origins: Vec::new(),
            allowed_hosts: Vec::new(),
            env: |_| None,
            state_dir,
            simulated: None,
        }
    }

    #[tokio::test]
    async fn nobody_is_let_in_before_the_sign_in_settings_are_read() {
        let shared = Shared::new(Bus::memory(), options(None)).await.unwrap();
        let in_force = shared.auth_config.borrow().clone();
        assert!(in_force.enabled());
        assert!(in_force.config().is_err(), "unread settings let nobody in");
        // Read: sign-in is off (nothing stored), and that is now known.
        shared.reconcile_config().await;
        let in_force = shared.auth_config.borrow().clone();
        assert!(!in_force.enabled());
        assert_eq!(in_force.problem(), None);
    }

    #[tokio::test]
    async fn until_the_bus_answers_the_last_valid_settings_on_disk_are_in_force() {
        let dir = std::env::temp_dir().join(format!("sense-state-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let keeper = ConfigKeeper::new(Some(dir.clone()));
        let hash = "$2b$04$abcdefghijklmnopqrstuu5nG4z6n8Yc1XzgW9oQkM0Z2b5Q1Q2y6";
        keeper.remember(
            SectionName::Auth,
            format!(r#"{{"enabled":true,"username":"admin","password_hash":"{hash}"}}"#),
        );
        let shared = Shared::new(Bus::memory(), options(Some(dir.clone())))
            .await
            .unwrap();
        let in_force = shared.auth_config.borrow().clone();
        assert!(in_force.enabled());
        assert_eq!(in_force.config().unwrap().username, "admin");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
