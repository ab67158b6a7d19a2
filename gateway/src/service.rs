//! Routing: one picoserve service that sees every request, so the `Host` check, authentication,
//! `Origin` checks and errors are handled in one place for REST, WebSockets and files alike.
//! A request whose `Host` the gateway does not answer to (`crate::hosts`, DNS rebinding) gets a
//! `421 Misdirected Request` before it is routed.
//!
//! | method | path | |
//! |---|---|---|
//! | GET | `/health` | bus alive (no auth) |
//! | GET, POST | `/api/session`, `/api/login`, `/api/logout` | the dashboard's sign-in (no auth) |
//! | GET | `/api/sources`, `/api/sources/{id}` | readings and status |
//! | GET, POST | `/api/config` | config, secrets hidden; validated partial, atomic update |
//! | POST | `/api/command/{target}` | a command and its answer |
//! | GET | `/api/history/{source}/{sensor}` | 24 h of a reading, downsampled |
//! | GET | `/api/stream/{file}` | HLS playlist and segments |
//! | GET | `/metrics` | Prometheus |
//! | WS | `/ws/sources`, `/ws/grid`, `/ws/logs` | live updates |
//! | GET | anything else | the dashboard's files, `index.html` for client-side routes |

use std::net::IpAddr;
use std::path::Path as FsPath;
use std::rc::Rc;
use std::time::Duration;

use picoserve::ResponseSent;
use picoserve::extract::FromRequest;
use picoserve::io::Read;
use picoserve::request::{Path, Request};
use picoserve::response::ws::WebSocketUpgrade;
use picoserve::response::{IntoResponse, ResponseWriter};
use picoserve::routing::PathRouterService;
use sense_bus::command::CommandError;
use sense_bus::config::{Config, revision};
use sense_bus::store::{self, ConfigWriteError, SectionUpdate};
use sense_bus::{BusError, SectionName, SourceId, keys};
use serde_json::{Map, Value as Json, json};

use crate::api::{self, ApiError, CommandReply, ConfigUpdated, SourceView};
use crate::auth::{
    Caller, Presented, Refusal, SESSION_COOKIE, SESSION_IDLE, check_origin, session_cookie,
};
use crate::files::{self, Caching, Conditions};
use crate::metrics;
use crate::reply::Reply;
use crate::state::{Counters, Shared};
use crate::ws::{Feed, Socket};

/// The services that take commands.
pub const COMMAND_TARGETS: &[&str] = &["sensors", "network_camera", "orchestrator"];

/// How long a command may take, by action: starting the camera container takes a while; scans
/// listen for their whole timeout.
pub fn command_timeout(action: &str) -> Duration {
    match action {
        "start_camera" => Duration::from_secs(10),
        "scan_aranet4" | "discover_cameras" => Duration::from_secs(30),
        _ => Duration::from_secs(5),
    }
}

/// One connection's view of the gateway.
#[derive(Debug)]
pub struct Gateway {
    /// Shared state.
    pub shared: Rc<Shared>,
    /// The TCP peer's address (a client, or a reverse proxy).
    pub peer: IpAddr,
}

/// Every line of header `name`, joined with commas (as a list-valued header may be split).
fn joined_header(headers: picoserve::request::Headers<'_>, name: &str) -> Option<String> {
    let values: Vec<&str> = headers
        .iter()
        .filter(|(n, _)| *n == name)
        .filter_map(|(_, v)| v.as_str().ok())
        .collect();
    (!values.is_empty()).then(|| values.join(", "))
}

/// `key=value&…` pairs, decoded.
fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .filter_map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            Some((
                files::percent_decode(&k.replace('+', " "))?,
                files::percent_decode(&v.replace('+', " "))?,
            ))
        })
        .collect()
}

fn bus_unavailable(e: &BusError) -> Reply {
    Reply::json(
        503,
        &ApiError {
            error: "the data bus is unavailable".into(),
            cause: Some(e.to_string()),
            ..ApiError::default()
        },
    )
}

/// A refused config write, naming the field.
fn field_error(field: impl Into<String>, error: impl Into<String>) -> Reply {
    Reply::json(
        400,
        &ApiError {
            error: error.into(),
            field: Some(field.into()),
            ..ApiError::default()
        },
    )
}

/// Every source as `/api/sources` and the first `/ws/sources` message show them.
fn all_sources_json(all: &std::collections::BTreeMap<String, store::SourceSnapshot>) -> String {
    let view: std::collections::BTreeMap<&str, SourceView<'_>> = all
        .iter()
        .map(|(id, s)| (id.as_str(), SourceView::from(s)))
        .collect();
    serde_json::to_string(&view).unwrap_or_default()
}

/// Sign-in settings that are invalid with no valid ones to fall back on: nobody is let in.
fn sign_in_locked(why: String) -> Reply {
    Reply::error(503, format!("sign-in is unavailable: {why}"))
}

fn refusal(r: Refusal, shared: &Shared) -> Reply {
    match r {
        Refusal::Unauthorized(why) => {
            Counters::bump(&shared.counters.auth_failures);
            Reply::error(401, why).with_header(
                "WWW-Authenticate",
                "Basic realm=\"Sense Pulse\", charset=\"UTF-8\"",
            )
        }
        Refusal::TooMany(wait) => Reply::error(
            429,
            format!(
                "too many attempts; try again in {} s",
                wait.as_secs().max(1)
            ),
        )
        .with_header("Retry-After", wait.as_secs().max(1).to_string()),
        Refusal::BadOrigin(origin) => {
            Reply::error(403, format!("requests from {origin} are not allowed"))
        }
    }
}

/// `auth.password`: a new password, taken in clear over the (authorised) connection and stored
/// only as a bcrypt hash.
async fn hash_new_password(patch: &mut Map<String, Json>) -> Result<(), Reply> {
    let Some(password) = patch.remove("password") else {
        return Ok(());
    };
    let Some(password) = password
        .as_str()
        .filter(|p| p.chars().count() >= 8)
        .map(str::to_owned)
    else {
        return Err(field_error(
            "auth.password",
            "auth.password must be text of at least 8 characters",
        ));
    };
    match tokio::task::spawn_blocking(move || bcrypt::hash(password, 12)).await {
        Ok(Ok(hash)) => {
            patch.insert("password_hash".into(), Json::String(hash));
            Ok(())
        }
        _ => Err(Reply::error(500, "cannot hash the password")),
    }
}

impl Gateway {
    fn allowed_origin(&self, origin: Option<&str>) -> Option<String> {
        let origin = origin?;
        self.shared
            .options
            .allowed_origins
            .iter()
            .find(|o| *o == origin)
            .cloned()
    }

    /// Who sent a request with these headers: the peer, or whom a trusted proxy forwarded for.
    fn caller(&self, headers: picoserve::request::Headers<'_>) -> Caller {
        let trusted = self.shared.trusted_proxies.borrow();
        Caller::new(
            self.peer,
            &trusted,
            joined_header(headers, "x-forwarded-for").as_deref(),
            joined_header(headers, "forwarded").as_deref(),
        )
    }

    async fn authorise(
        &self,
        caller: Caller,
        presented: Presented<'_>,
    ) -> Result<Option<String>, Reply> {
        let in_force = self.shared.auth_config.borrow().clone();
        let config = in_force.config().map_err(sign_in_locked)?;
        self.shared
            .auth
            .check(config, caller, presented)
            .await
            .map_err(|r| refusal(r, &self.shared))
    }

    async fn sources(&self) -> Reply {
        match store::read_all_sources(&self.shared.bus).await {
            Ok(all) => Reply::raw_json(200, all_sources_json(&all)),
            Err(e) => bus_unavailable(&e),
        }
    }

    async fn source(&self, id: &str) -> Reply {
        match store::read_source(&self.shared.bus, id).await {
            Ok(s) if s.readings.is_empty() && s.status.is_none() => {
                if id.parse::<SourceId>().is_ok() {
                    Reply::error(
                        404,
                        format!("no data from `{id}` (not running, or not run yet)"),
                    )
                } else {
                    Reply::error(404, format!("unknown source `{id}`"))
                }
            }
            Ok(s) => Reply::json(200, &SourceView::from(&s)),
            Err(e) => bus_unavailable(&e),
        }
    }

    async fn config(&self) -> Reply {
        let env = self.shared.options.env;
        let texts = match store::read_config_texts(&self.shared.bus, &SectionName::ALL).await {
            Ok(texts) => texts,
            Err(e) => return bus_unavailable(&e),
        };
        let stored = |s: SectionName| texts.get(&s).cloned().flatten();
        let (config, problems) = Config::resolve(&SectionName::ALL, stored, &env);
        let mut shown = config.redacted_json();
        if let Json::Object(o) = &mut shown {
            if !problems.is_empty() {
                o.insert("_problems".into(), json!(problems));
            }
            // What the dashboard sends back with a section, so a form loaded before someone
            // else's change is refused instead of overwriting it.
            let revisions: Map<String, Json> = SectionName::ALL
                .iter()
                .map(|&s| (s.as_str().to_owned(), json!(revision(stored(s).as_deref()))))
                .collect();
            o.insert("_revisions".into(), Json::Object(revisions));
        }
        Reply::json(200, &shown)
    }

    /// `POST /api/config`: `{section: {field: value}, "_revisions"?: {section: revision}}`, all
    /// sections or none. A section sent with the revision it was loaded at is refused (409) if
    /// it changed since; secrets sent back redacted are restored only where that is safe.
    async fn update_config(&self, body: &[u8]) -> Reply {
        let Ok(Json::Object(mut request)) = serde_json::from_slice::<Json>(body) else {
            return Reply::error(
                400,
                "the body must be a JSON object of sections, e.g. {\"display\": {\"rotation\": 90}}",
            );
        };
        let revisions = match request.remove("_revisions") {
            None | Some(Json::Null) => Map::new(),
            Some(Json::Object(r)) => r,
            Some(_) => {
                return field_error(
                    "_revisions",
                    "_revisions must be an object of section revisions",
                );
            }
        };
        let env = self.shared.options.env;
        let mut updates = Vec::new();
        for (name, patch) in request {
            let Ok(section) = name.parse::<SectionName>() else {
                let valid = SectionName::ALL.map(SectionName::as_str).join(", ");
                return field_error(
                    name.as_str(),
                    format!("unknown config section `{name}` (expected one of: {valid})"),
                );
            };
            let Json::Object(mut patch) = patch else {
                return field_error(name.as_str(), format!("{name} must be an object of fields"));
            };
            if section == SectionName::Auth
                && let Err(reply) = hash_new_password(&mut patch).await
            {
                return reply;
            }
            updates.push(SectionUpdate {
                section,
                patch,
                revision: revisions
                    .get(&name)
                    .and_then(Json::as_str)
                    .map(str::to_owned),
            });
        }
        if updates.is_empty() {
            return Reply::error(400, "no sections to update");
        }
        match store::update_sections(&self.shared.bus, &updates, &env).await {
            Ok(written) => {
                let reply = ConfigUpdated {
                    status: "ok",
                    sections_updated: written.iter().map(|w| w.section.as_str()).collect(),
                    revisions: written
                        .iter()
                        .map(|w| (w.section.as_str(), revision(Some(&w.text))))
                        .collect(),
                    warnings: written
                        .iter()
                        .flat_map(|w| w.warnings.iter().map(ToString::to_string))
                        .collect(),
                };
                for w in written {
                    self.shared.keeper.remember(w.section, w.text);
                }
                Reply::json(200, &reply)
            }
            Err(ConfigWriteError::Invalid(e)) => field_error(e.field.clone(), e.to_string()),
            Err(e @ ConfigWriteError::Stale { section }) => Reply::json(
                409,
                &ApiError {
                    error: e.to_string(),
                    field: Some(section.as_str().to_owned()),
                    ..ApiError::default()
                },
            ),
            Err(e @ ConfigWriteError::Busy) => Reply::error(503, e.to_string()),
            Err(ConfigWriteError::Bus(e)) => bus_unavailable(&e),
        }
    }

    /// `POST /api/command/{target}`: `{action, params?}`.
    async fn command(&self, caller: Caller, target: &str, body: &[u8]) -> Reply {
        if !COMMAND_TARGETS.contains(&target) {
            return Reply::error(
                404,
                format!(
                    "unknown command target `{target}` (expected one of: {})",
                    COMMAND_TARGETS.join(", ")
                ),
            );
        }
        if let Err(r) = self.shared.auth.command(caller.address) {
            return refusal(r, &self.shared);
        }
        let Ok(Json::Object(request)) = serde_json::from_slice::<Json>(body) else {
            return Reply::error(
                400,
                "the body must be a JSON object: {\"action\": \"…\", \"params\": {…}}",
            );
        };
        let Some(action) = request
            .get("action")
            .and_then(Json::as_str)
            .filter(|a| !a.is_empty())
        else {
            return Reply::error(400, "action is missing");
        };
        let params = match request.get("params") {
            None | Some(Json::Null) => Map::new(),
            Some(Json::Object(p)) => p.clone(),
            Some(_) => return Reply::error(400, "params must be an object"),
        };
        Counters::bump(&self.shared.counters.commands);
        match self
            .shared
            .commands
            .send(target, action, params, command_timeout(action))
            .await
        {
            Ok(response) => {
                let message = response
                    .data
                    .get("message")
                    .and_then(Json::as_str)
                    .map(str::to_owned)
                    .or_else(|| response.error.clone())
                    .unwrap_or_else(|| {
                        if response.is_ok() {
                            "done".to_owned()
                        } else {
                            "failed".to_owned()
                        }
                    });
                let status = if response.is_ok() { 200 } else { 400 };
                Reply::json(
                    status,
                    &CommandReply {
                        success: response.is_ok(),
                        message: Some(message),
                        data: Some(response.data),
                        error: response.error,
                    },
                )
            }
            Err(e @ (CommandError::Timeout { .. } | CommandError::NoListener { .. })) => {
                let status = if matches!(e, CommandError::Timeout { .. }) {
                    504
                } else {
                    503
                };
                Reply::json(
                    status,
                    &CommandReply {
                        success: false,
                        message: None,
                        data: None,
                        error: Some(e.to_string()),
                    },
                )
            }
            Err(CommandError::Bus(e)) => bus_unavailable(&e),
        }
    }

    /// `GET /api/history/{source}/{sensor}?hours=24&points=288`: averages over equal buckets.
    async fn history(&self, source: &str, sensor: &str, query: &[(String, String)]) -> Reply {
        let number = |key: &str, default: f64, max: f64| {
            query
                .iter()
                .find(|(k, _)| k == key)
                .and_then(|(_, v)| v.parse::<f64>().ok())
                .filter(|v| *v > 0.0)
                .map_or(default, |v| v.min(max))
        };
        let hours = number("hours", 24.0, 24.0);
        let points = number("points", 288.0, 2880.0);
        let entries = match self.shared.bus.list(&keys::history(source, sensor)).await {
            Ok(e) => e,
            Err(e) => return bus_unavailable(&e),
        };
        let unit = match self.shared.bus.get(&keys::reading(source, sensor)).await {
            Ok(Some(text)) => serde_json::from_str::<sense_bus::model::Reading>(&text)
                .ok()
                .and_then(|r| r.unit),
            _ => None,
        };
        let since = sense_bus::unix_now() - hours * 3600.0;
        let raw: Vec<(f64, f64)> = entries
            .iter()
            .filter_map(|e| store::parse_history_entry(e))
            .filter(|(t, _)| *t >= since)
            .collect();
        if raw.is_empty() && entries.is_empty() {
            return Reply::error(404, format!("no history for {source}:{sensor}"));
        }
        let span = (hours * 3600.0) / points;
        let mut buckets: Vec<(f64, f64, u32)> = Vec::new();
        for (t, v) in raw {
            let bucket = ((t - since) / span).floor();
            match buckets.last_mut() {
                Some((b, sum, n)) if *b == bucket => {
                    *sum += v;
                    *n += 1;
                }
                _ => buckets.push((bucket, v, 1)),
            }
        }
        let series: Vec<[f64; 2]> = buckets
            .iter()
            .map(|(b, sum, n)| {
                let t = since + (b + 0.5) * span;
                [
                    sense_hal_round(t, 1),
                    sense_hal_round(sum / f64::from(*n), 3),
                ]
            })
            .collect();
        Reply::json(
            200,
            &api::History {
                source,
                sensor,
                unit,
                points: series,
            },
        )
    }

    /// `GET /api/session`, `POST /api/login` `{username, password}`, `POST /api/logout`.
    async fn session(
        &self,
        caller: Caller,
        method: &str,
        which: &[&str],
        presented: Presented<'_>,
        body: &[u8],
        https: bool,
    ) -> Reply {
        let in_force = self.shared.auth_config.borrow().clone();
        let info = |user: Option<String>| api::Session {
            auth_enabled: in_force.enabled(),
            problem: in_force.problem(),
            user,
        };
        let config = match in_force.config() {
            Ok(c) => c,
            // Nobody signs in; the page learns why from the session's `problem`.
            Err(_) if method == "GET" => return Reply::json(200, &info(None)),
            Err(why) => return sign_in_locked(why),
        };
        let auth = &self.shared.auth;
        let cookie = |value: &str, max_age: u64| {
            format!(
                "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{}",
                if https { "; Secure" } else { "" }
            )
        };
        match (method, which) {
            ("GET", ["session"]) => {
                // Credentials are not demanded here: this is how the page learns it must ask.
                let user = auth.check(config, caller, presented).await.ok().flatten();
                Reply::json(200, &info(user))
            }
            ("POST", ["login"]) => {
                let Ok(login) = serde_json::from_slice::<api::Login>(body) else {
                    return Reply::error(
                        400,
                        "the body must be {\"username\": \"…\", \"password\": \"…\"}",
                    );
                };
                if !config.enabled {
                    return Reply::json(200, &info(None));
                }
                if let Err(r) = auth
                    .verify(config, caller.address, &login.username, &login.password)
                    .await
                {
                    // No challenge: the form asks again, not the browser.
                    return refusal(r, &self.shared).without_header("WWW-Authenticate");
                }
                match auth.open_session(config, &login.username) {
                    Ok(token) => Reply::json(200, &info(Some(login.username)))
                        .with_header("Set-Cookie", cookie(&token, SESSION_IDLE.as_secs())),
                    Err(e) => Reply::error(500, format!("cannot start a session: {e}")),
                }
            }
            ("POST", ["logout"]) => {
                if let Some(token) = presented.session {
                    auth.close_session(token);
                }
                Reply::json(200, &info(None)).with_header("Set-Cookie", cookie("", 0))
            }
            _ => Reply::error(405, format!("{method} is not allowed here")),
        }
    }

    async fn hls(&self, segments: &[&str], conditions: Conditions<'_>) -> Reply {
        let Some(relative) =
            files::safe_relative(segments.iter().copied()).filter(|p| p.components().count() == 1)
        else {
            return Reply::error(400, "a stream file is a plain file name");
        };
        let dir = &self.shared.options.hls_dir;
        let playlist = relative.extension().is_some_and(|e| e == "m3u8");
        // Segments never change under their name; the playlist and the thumbnail do.
        let changing = playlist || relative.extension().is_some_and(|e| e == "jpg");
        let caching = if changing {
            Caching::Revalidate
        } else {
            Caching::For(3600)
        };
        match files::serve(dir, &relative, conditions, caching).await {
            Ok(Some(reply)) => reply,
            Ok(None) if playlist => Reply::error(503, "the camera stream is not running"),
            Ok(None) => Reply::not_found("stream segment"),
            Err(reply) => reply,
        }
    }

    async fn frontend(&self, segments: &[&str], conditions: Conditions<'_>) -> Reply {
        let Some(dir) = self
            .shared
            .options
            .frontend_dir
            .as_deref()
            .filter(|d| d.join("index.html").is_file())
        else {
            return not_built();
        };
        let Some(relative) = files::safe_relative(segments.iter().copied()) else {
            return Reply::error(400, "invalid path");
        };
        let immutable = relative.starts_with("_app/immutable");
        let caching = if immutable {
            Caching::Immutable
        } else if relative.as_os_str().is_empty() {
            Caching::Revalidate
        } else {
            Caching::For(300)
        };
        let target = if relative.as_os_str().is_empty() {
            FsPath::new("index.html").to_path_buf()
        } else {
            relative.clone()
        };
        match files::serve(dir, &target, conditions, caching).await {
            Ok(Some(reply)) => reply,
            // A client-side route (no file extension): the app's shell handles it.
            Ok(None) if relative.extension().is_none() => files::serve(
                dir,
                FsPath::new("index.html"),
                conditions,
                Caching::Revalidate,
            )
            .await
            .ok()
            .flatten()
            .unwrap_or_else(not_built),
            Ok(None) => Reply::not_found("file"),
            Err(reply) => reply,
        }
    }
}

fn sense_hal_round(x: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (x * scale).round() / scale
}

/// The page shown when the dashboard has not been built.
fn not_built() -> Reply {
    Reply::text(
        200,
        "text/html; charset=utf-8",
        "<!doctype html><meta charset=utf-8><title>Sense Pulse</title>\
         <h1>Sense Pulse</h1><p>The gateway is running, but the dashboard is not built: run \
         <code>npm ci &amp;&amp; npm run build</code> in <code>frontend/</code>.</p>\
         <p>API: <a href=/api/sources>/api/sources</a>, <a href=/api/config>/api/config</a>, \
         <a href=/health>/health</a>, <a href=/metrics>/metrics</a>.</p>"
            .to_owned(),
    )
}

impl PathRouterService<()> for Gateway {
    async fn call_path_router_service<R: Read, W: ResponseWriter<Error = R::Error>>(
        &self,
        _state: &(),
        _path_parameters: (),
        path: Path<'_>,
        mut request: Request<'_, R>,
        writer: W,
    ) -> Result<ResponseSent, W::Error> {
        let shared = &self.shared;
        Counters::bump(&shared.counters.requests);
        let parts = request.parts;
        let method = parts.method().to_ascii_uppercase();
        let headers = parts.headers();
        let header = |name: &str| headers.get(name).and_then(|v| v.as_str().ok());
        // DNS rebinding: a `Host` this gateway does not answer to is refused before anything
        // else, on every route and WebSocket (`crate::hosts`).
        if let Err(refused) = shared.hosts.check(header("host")) {
            tracing::debug!(
                host = %refused.0,
                peer = %self.peer,
                "refused a request for another host"
            );
            return Reply::text(421, "text/plain; charset=utf-8", refused.message())
                .write(request.body_connection.finalize().await?, writer)
                .await;
        }
        let segments: Vec<&str> = path
            .segments()
            .map(|s| s.0)
            .filter(|s| !s.is_empty())
            .collect();
        let query = query_pairs(parts.query().map_or("", |q| q.0));
        let presented = Presented {
            authorization: header("authorization"),
            tailscale_login: header("tailscale-user-login"),
            session: header("cookie").and_then(session_cookie),
        };
        let caller = self.caller(headers);
        let origin = header("origin");
        let conditions = Conditions {
            if_none_match: header("if-none-match"),
            accepts_gzip: header("accept-encoding").is_some_and(|a| a.contains("gzip")),
            head: method == "HEAD",
        };
        let cors = self.allowed_origin(origin);

        // WebSockets: authorised and origin-checked like the API (upstream left them open).
        if let ["ws", which] = segments.as_slice() {
            let feed = match *which {
                "sources" => None,
                "grid" => Some(Feed::Grid),
                "logs" => Some(Feed::logs(
                    query
                        .iter()
                        .find(|(k, _)| k == "level")
                        .map(|(_, v)| v.as_str()),
                )),
                other => {
                    let reply = Reply::not_found(&format!("WebSocket `{other}`"));
                    return reply
                        .write(request.body_connection.finalize().await?, writer)
                        .await;
                }
            };
            let checked =
                match check_origin(origin, header("host"), &shared.options.allowed_origins) {
                    Err(r) => Err(refusal(r, shared)),
                    Ok(()) => self.authorise(caller, presented).await.map(drop),
                };
            if let Err(reply) = checked {
                return reply
                    .write(request.body_connection.finalize().await?, writer)
                    .await;
            }
            let feed = match feed {
                Some(f) => f,
                None => match store::read_all_sources(&shared.bus).await {
                    Ok(all) => Feed::Sources {
                        snapshot: all_sources_json(&all),
                    },
                    Err(e) => {
                        return bus_unavailable(&e)
                            .write(request.body_connection.finalize().await?, writer)
                            .await;
                    }
                },
            };
            let upgrade =
                WebSocketUpgrade::from_request(&(), parts, request.body_connection.body()).await;
            let connection = request.body_connection.finalize().await?;
            return match upgrade {
                Ok(upgrade) => {
                    upgrade
                        .on_upgrade(Socket {
                            shared: Rc::clone(shared),
                            feed,
                        })
                        .write_to(connection, writer)
                        .await
                }
                Err(rejection) => {
                    Reply::error(400, rejection.to_string())
                        .write(connection, writer)
                        .await
                }
            };
        }

        let reply = match (method.as_str(), segments.as_slice()) {
            ("GET" | "HEAD", ["health"]) => {
                let warnings: Vec<String> =
                    shared.auth_config.borrow().problem().into_iter().collect();
                if shared.bus_ok.get() {
                    Reply::json(
                        200,
                        &api::Health {
                            status: "healthy",
                            error: None,
                            cause: None,
                            warnings,
                        },
                    )
                } else {
                    let cause = shared.bus_error.borrow().clone().unwrap_or_default();
                    Reply::json(
                        503,
                        &api::Health {
                            status: "unhealthy",
                            error: Some("the data bus is unavailable"),
                            cause: Some(cause),
                            warnings,
                        },
                    )
                }
            }
            // Signing in needs no credentials (it is how they are given); it changes state, so
            // the origin is checked as for any other write.
            (_, ["api", "session" | "login" | "logout"]) => {
                let write = method != "GET";
                match check_origin(origin, header("host"), &shared.options.allowed_origins) {
                    Err(r) if write => refusal(r, shared),
                    _ => {
                        let body: Vec<u8> = if write {
                            match request.body_connection.body().read_all().await {
                                Ok(b) => b.to_vec(),
                                Err(_) => Vec::new(),
                            }
                        } else {
                            Vec::new()
                        };
                        let https = header("x-forwarded-proto") == Some("https");
                        self.session(
                            caller,
                            method.as_str(),
                            &segments[1..],
                            presented,
                            &body,
                            https,
                        )
                        .await
                    }
                }
            }
            ("OPTIONS", _) => {
                let reply = Reply::text(204, "text/plain", String::new())
                    .with_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
                    .with_header(
                        "Access-Control-Allow-Headers",
                        "Authorization, Content-Type",
                    );
                match &cors {
                    Some(o) => reply.with_header("Access-Control-Allow-Origin", o.clone()),
                    None => reply,
                }
            }
            (_, ["api", ..] | ["metrics"]) => {
                let changes_state = !matches!(method.as_str(), "GET" | "HEAD");
                let gate = if changes_state {
                    check_origin(origin, header("host"), &shared.options.allowed_origins)
                        .map_err(|r| refusal(r, shared))
                } else {
                    Ok(())
                };
                let gate = match gate {
                    Ok(()) => self.authorise(caller, presented).await.map(drop),
                    Err(reply) => Err(reply),
                };
                match gate {
                    Err(reply) => reply,
                    Ok(()) => {
                        let body: Vec<u8> = if changes_state {
                            match request.body_connection.body().read_all().await {
                                Ok(b) => b.to_vec(),
                                Err(_) => {
                                    let reply = Reply::error(413, "the request body is too large");
                                    return reply
                                        .write(request.body_connection.finalize().await?, writer)
                                        .await;
                                }
                            }
                        } else {
                            Vec::new()
                        };
                        match (method.as_str(), &segments[..]) {
                            ("GET", ["metrics"]) => {
                                match store::read_all_sources(&shared.bus).await {
                                    Ok(all) => Reply::text(
                                        200,
                                        "text/plain; version=0.0.4",
                                        metrics::render(
                                            &all,
                                            &shared.counters,
                                            shared.bus_ok.get(),
                                        ),
                                    ),
                                    Err(e) => bus_unavailable(&e),
                                }
                            }
                            ("GET", ["api", "sources"]) => self.sources().await,
                            ("GET", ["api", "sources", id]) => {
                                self.source(&files::percent_decode(id).unwrap_or_default())
                                    .await
                            }
                            ("GET", ["api", "config"]) => self.config().await,
                            ("POST", ["api", "config"]) => self.update_config(&body).await,
                            ("POST", ["api", "command", target]) => {
                                self.command(caller, target, &body).await
                            }
                            ("GET", ["api", "history", source, sensor]) => {
                                let (source, sensor) = (
                                    files::percent_decode(source).unwrap_or_default(),
                                    files::percent_decode(sensor).unwrap_or_default(),
                                );
                                self.history(&source, &sensor, &query).await
                            }
                            ("GET" | "HEAD", ["api", "stream", rest @ ..]) if !rest.is_empty() => {
                                self.hls(rest, conditions).await
                            }
                            (_, ["api", ..]) => Reply::error(
                                404,
                                format!("no API endpoint {method} {}", path.encoded()),
                            ),
                            _ => Reply::error(405, format!("{method} is not allowed here")),
                        }
                    }
                }
            }
            ("GET" | "HEAD", _) => self.frontend(&segments, conditions).await,
            _ => Reply::error(405, format!("{method} is not allowed here")),
        };
        let reply = match cors {
            Some(o) => reply
                .with_header("Access-Control-Allow-Origin", o)
                .with_header("Vary", "Origin"),
            None => reply,
        };
        // The dashboard asks with `X-Requested-With` and shows its own sign-in form: without a
        // challenge the browser does not pop up its Basic login dialog over it.
        let reply = if header("x-requested-with").is_some() {
            reply.without_header("WWW-Authenticate")
        } else {
            reply
        };
        reply
            .write(request.body_connection.finalize().await?, writer)
            .await
    }
}
