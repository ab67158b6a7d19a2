//! The simulated web services of `--sim`: local servers answering in the recorded formats, so
//! weather, Pi-hole and Tailscale show data on a laptop with no network. Each lives as long as the
//! value returned.

use std::path::PathBuf;

use sense_bus::config::Config;
use sense_bus::source::{PollContext, PollError, PollOutput, Source};
use sense_http::replay::{ReplayServer, Reply};

fn now() -> u64 {
    std::time::UNIX_EPOCH.elapsed().map_or(0, |d| d.as_secs())
}

/// wttr.in: `/{location}?format=j1`.
pub async fn weather() -> ReplayServer {
    ReplayServer::start(|r| {
        let location = decode(r.path_only().trim_start_matches('/'));
        Reply::ok(sense_source_weather::simulated_j1(
            now(),
            if location.is_empty() {
                "London"
            } else {
                &location
            },
        ))
    })
    .await
}

/// Pi-hole v6: `POST /api/auth`, `GET /api/stats/summary`.
pub async fn pihole() -> ReplayServer {
    ReplayServer::start(|r| match (r.method.as_str(), r.path_only()) {
        ("POST", "/api/auth") => Reply::ok(sense_source_pihole::simulated_auth()),
        ("GET", "/api/stats/summary") => Reply::ok(sense_source_pihole::simulated_summary(now())),
        _ => Reply::Status(404),
    })
    .await
}

/// tailscaled's LocalAPI on a unix socket in the temporary folder (`TMPDIR`, else `/tmp`), or
/// what stops it (a read-only folder) in words.
pub async fn tailscale() -> Result<(ReplayServer, PathBuf), String> {
    let dir = std::env::temp_dir();
    let socket = dir.join(format!("sense-sim-tailscaled-{}.sock", std::process::id()));
    let server = ReplayServer::try_start_unix(&socket, |r| match r.path_only() {
        "/localapi/v0/status" => Reply::ok(sense_source_tailscale::simulated_status(now())),
        _ => Reply::Status(404),
    })
    .await
    .map_err(|e| {
        format!(
            "--sim: the simulated tailscaled cannot listen in {} ({e}): set TMPDIR to a writable \
             folder",
            dir.display()
        )
    })?;
    Ok((server, socket))
}

/// Percent-decodes a path segment (the location), leniently.
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(b) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Says once per process that `--sim` serves every web source from its simulated endpoint.
pub fn announce() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        tracing::info!(
            "--sim: weather, Pi-hole, Tailscale and the camera use simulated endpoints; \
             no configured host is contacted"
        );
    });
}

/// A web source whose config is adjusted before each poll: the address it would contact (`field`
/// of the config) is always its simulated server, whatever is configured.
#[derive(Debug)]
pub struct WithConfig<S> {
    source: S,
    field: &'static str,
    address: fn(&mut Config) -> &mut String,
    server: String,
}

impl<S> WithConfig<S> {
    /// `source`, seeing `server` as the config's `address` (named `field` in the log).
    pub fn new(
        source: S,
        server: String,
        field: &'static str,
        address: fn(&mut Config) -> &mut String,
    ) -> Self {
        WithConfig {
            source,
            field,
            address,
            server,
        }
    }

    /// `config` pointed at the simulated server. A configured address is replaced (logged at debug
    /// level once per process; [`announce`] tells at info level that it happens).
    fn adjust(&self, config: &Config) -> Config {
        let mut config = config.clone();
        let address = (self.address)(&mut config);
        let default = (self.address)(&mut Config::default()).clone();
        if *address != default && *address != self.server {
            static TOLD: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());
            let mut told = TOLD
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if !told.contains(&self.field) {
                told.push(self.field);
                tracing::debug!(
                    field = self.field,
                    configured = %sense_bus::redact::url_credentials(address),
                    "--sim: the configured address is not contacted; the simulated one is used"
                );
            }
        }
        self.server.clone_into(address);
        config
    }
}

impl<S: Source> Source for WithConfig<S> {
    const ID: sense_bus::SourceId = S::ID;
    const SECTIONS: &'static [sense_bus::SectionName] = S::SECTIONS;
    const INPUTS: &'static [(sense_bus::SourceId, &'static str)] = S::INPUTS;
    type State = S::State;

    fn enabled(&self, config: &Config) -> bool {
        self.source.enabled(&self.adjust(config))
    }

    async fn poll(
        &mut self,
        context: PollContext<'_>,
        state: &mut S::State,
    ) -> Result<PollOutput, PollError> {
        let config = self.adjust(context.config);
        self.source
            .poll(PollContext::new(&config, context.inputs), state)
            .await
    }
}
