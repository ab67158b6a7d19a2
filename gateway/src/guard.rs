//! The guard: who may. One picoserve [`Layer`] in front of every route, so a new route cannot
//! forget any of it:
//!
//! 1. the `Host` check (`crate::hosts`, DNS rebinding): `421` before anything else;
//! 2. CORS preflights, answered here for every path;
//! 3. the `Origin` check for anything that changes state and for WebSocket upgrades: `403`;
//! 4. sign-in for everything but [`PUBLIC`] paths and the dashboard's files (fail-closed rules
//!    in [`crate::state::AuthInForce`]): `401`, `429` when a client tries too often, `503` while
//!    the sign-in settings are broken with nothing valid to fall back on;
//! 5. rate limits on [`LIMITED`] paths;
//! 6. the same security headers (and CORS headers for allowed origins) on every answer.
//!
//! Handlers get a [`Ctx`]: the gateway's state, who is calling, and as whom they signed in.

use std::net::IpAddr;
use std::rc::Rc;

use picoserve::ResponseSent;
use picoserve::io::Read;
use picoserve::request::{Path, RequestParts};
use picoserve::response::{Body, Connection, HeadersIter, IntoResponse, Response, ResponseWriter};
use picoserve::routing::{Layer, Next};
use picoserve::url_encoded::UrlEncodedString;

use crate::auth::{Caller, Refusal, check_origin};
use crate::conn::Registry;
use crate::handlers::Credentials;
use crate::reply::Reply;
use crate::state::{Counters, Shared};

/// Paths anyone may reach, signed in or not (besides the dashboard's files): the health check
/// for Docker and Traefik, and the sign-in itself.
pub const PUBLIC: &[&str] = &["/health", "/api/session", "/api/login", "/api/logout"];

/// Where sign-in is needed (when it is on). Every other path is the dashboard's static files,
/// which the sign-in page itself is made of, and which hold no data.
pub const PROTECTED: &[&str] = &["/api", "/ws", "/metrics"];

/// Paths whose writes are rate-limited per client, besides sign-in attempts.
pub const LIMITED: &[&str] = &["/api/command"];

/// Headers on every answer.
const SECURITY_HEADERS: [(&str, &str); 3] = [
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
];

/// Whether `path` is `prefix` or under it, compared as the router compares (decoded, so
/// `/%61pi/…` is `/api/…`).
pub fn under(path: Path<'_>, prefix: &str) -> bool {
    UrlEncodedString(path.encoded())
        .strip_prefix(prefix)
        .is_some_and(|rest| rest.0.is_empty() || rest.0.starts_with('/'))
}

/// Whether a request for `path` needs sign-in.
pub fn needs_sign_in(path: Path<'_>) -> bool {
    let public = PUBLIC.iter().any(|p| path == *p);
    !public && PROTECTED.iter().any(|p| under(path, p))
}

/// One connection's state, before the guard.
#[derive(Clone, Debug)]
pub struct Conn {
    /// The gateway's state.
    pub shared: Rc<Shared>,
    /// The TCP peer (a client, or a reverse proxy).
    pub peer: IpAddr,
    /// The connections held, for the WebSocket caps.
    pub registry: Registry,
}

/// One request's context, as the guard let it in.
#[derive(Clone, Debug)]
pub struct Ctx {
    /// The gateway's state.
    pub shared: Rc<Shared>,
    /// Who is calling.
    pub caller: Caller,
    /// As whom they signed in (`None`: sign-in is off, or the path is public).
    pub user: Option<String>,
    /// Whether the request came over HTTPS (said by the proxy in front).
    pub https: bool,
    /// The TCP peer (what the connection caps count).
    pub peer: IpAddr,
    /// The connections held, for the WebSocket caps.
    pub registry: Registry,
}

/// The guard layer.
#[derive(Clone, Copy, Debug, Default)]
pub struct Guard;

/// Every line of header `name`, joined with commas (as a list-valued header may be split).
fn joined_header(parts: &RequestParts<'_>, name: &str) -> Option<String> {
    let values: Vec<&str> = parts
        .headers()
        .iter()
        .filter(|(n, _)| *n == name)
        .filter_map(|(_, v)| v.as_str().ok())
        .collect();
    (!values.is_empty()).then(|| values.join(", "))
}

/// A refusal as the client sees it. The dashboard asks with `X-Requested-With` and shows its own
/// sign-in form: a 401 to it carries no challenge, so the browser does not pop up its Basic
/// login dialog over the form.
pub fn refusal(r: Refusal, shared: &Shared, from_script: bool) -> Reply {
    match r {
        Refusal::Unauthorized(why) => {
            Counters::bump(&shared.counters.auth_failures);
            let reply = Reply::error(401, why);
            if from_script {
                reply
            } else {
                reply.with_header(
                    "WWW-Authenticate",
                    "Basic realm=\"Sense Pulse\", charset=\"UTF-8\"",
                )
            }
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

/// Sign-in settings that are invalid with no valid ones to fall back on: nobody is let in.
pub fn sign_in_locked(why: String) -> Reply {
    Reply::error(503, format!("sign-in is unavailable: {why}"))
}

/// Adds the security headers, and CORS headers for an allowed origin, to whatever answers.
struct Decorate<W> {
    writer: W,
    cors: Option<String>,
}

impl<W: ResponseWriter> ResponseWriter for Decorate<W> {
    type Error = W::Error;

    async fn write_response<R: Read<Error = Self::Error>, H: HeadersIter, B: Body>(
        self,
        connection: Connection<'_, R>,
        response: Response<H, B>,
    ) -> Result<ResponseSent, Self::Error> {
        let cors = self
            .cors
            .as_deref()
            .map(|origin| [("Access-Control-Allow-Origin", origin), ("Vary", "Origin")]);
        self.writer
            .write_response(
                connection,
                response.with_headers(SECURITY_HEADERS).with_headers(cors),
            )
            .await
    }
}

impl Layer<Conn, ()> for Guard {
    type NextState = Ctx;
    type NextPathParameters = ();

    async fn call_layer<
        'a,
        R: Read + 'a,
        NextLayer: Next<'a, R, Ctx, ()>,
        W: ResponseWriter<Error = R::Error>,
    >(
        &self,
        next: NextLayer,
        conn: &Conn,
        (): (),
        parts: RequestParts<'_>,
        writer: W,
    ) -> Result<ResponseSent, W::Error> {
        let shared = &conn.shared;
        Counters::bump(&shared.counters.requests);
        let headers = parts.headers();
        let header = |name: &str| headers.get(name).and_then(|v| v.as_str().ok());
        let options = &shared.options;
        let cors = header("origin")
            .and_then(|o| options.allowed_origins.iter().find(|a| *a == o))
            .cloned();
        let writer = Decorate { writer, cors };

        // 1. DNS rebinding: a `Host` this gateway does not answer to.
        if let Err(refused) = shared.hosts.check(header("host")) {
            tracing::debug!(host = %refused.0, peer = %conn.peer, "refused a request for another host");
            let reply = Reply::text(421, "text/plain; charset=utf-8", refused.message());
            return reply.write_to(next.into_connection().await?, writer).await;
        }
        let method = parts.method();
        // 2. CORS preflight.
        if method.eq_ignore_ascii_case("OPTIONS") {
            let reply = Reply::text(204, "text/plain", String::new())
                .with_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
                .with_header(
                    "Access-Control-Allow-Headers",
                    "Authorization, Content-Type, X-Requested-With",
                );
            return reply.write_to(next.into_connection().await?, writer).await;
        }
        let from_script = header("x-requested-with").is_some();
        macro_rules! refuse {
            ($reply:expr) => {
                return $reply.write_to(next.into_connection().await?, writer).await
            };
        }
        // 3. Writes and WebSocket upgrades only from the gateway's own pages or allowed origins.
        let changes_state = !matches!(method, "GET" | "HEAD");
        let upgrade = headers.get("upgrade").is_some();
        if (changes_state || upgrade)
            && let Err(r) = check_origin(header("origin"), header("host"), &options.allowed_origins)
        {
            refuse!(refusal(r, shared, from_script));
        }
        // 4. Sign-in.
        let caller = {
            let trusted = shared.trusted_proxies.borrow();
            Caller::new(
                conn.peer,
                &trusted,
                joined_header(&parts, "x-forwarded-for").as_deref(),
                joined_header(&parts, "forwarded").as_deref(),
            )
        };
        let path = parts.path();
        let user = if needs_sign_in(path) {
            let credentials = Credentials::of(&parts);
            let presented = credentials.presented();
            // Cloned only when sign-in is on: the check awaits, and the settings may change
            // meanwhile.
            let in_force = {
                let in_force = shared.auth_config.borrow();
                in_force.enabled().then(|| in_force.clone())
            };
            match in_force {
                None => None,
                Some(in_force) => {
                    let config = match in_force.config() {
                        Ok(c) => c,
                        Err(why) => refuse!(sign_in_locked(why)),
                    };
                    match shared.auth.check(config, caller, presented).await {
                        Ok(user) => user,
                        Err(r) => refuse!(refusal(r, shared, from_script)),
                    }
                }
            }
        } else {
            None
        };
        // 5. Rate limits.
        if changes_state
            && LIMITED.iter().any(|p| under(path, p))
            && let Err(r) = shared.auth.command(caller.address)
        {
            refuse!(refusal(r, shared, from_script));
        }
        let ctx = Ctx {
            shared: Rc::clone(shared),
            caller,
            user,
            https: header("x-forwarded-proto") == Some("https"),
            peer: conn.peer,
            registry: conn.registry.clone(),
        };
        next.run(&ctx, (), writer).await
    }
}
