//! The dashboard's sign-in (public paths): `GET /api/session`, `POST /api/login`
//! `{username, password}`, `POST /api/logout`.

use picoserve::extract::State;

use super::{Credentials, TryJson};
use crate::api;
use crate::auth::{SESSION_COOKIE, SESSION_IDLE};
use crate::guard::{Ctx, refusal, sign_in_locked};
use crate::reply::Reply;
use crate::state::AuthInForce;

fn info(ctx: &Ctx, in_force: &AuthInForce, user: Option<String>) -> api::Session {
    api::Session {
        auth_enabled: in_force.enabled(),
        problem: in_force.problem(),
        user,
        simulated: ctx.shared.options.simulated.clone(),
    }
}

fn cookie(ctx: &Ctx, value: &str, max_age: u64) -> String {
    format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{}",
        if ctx.https { "; Secure" } else { "" }
    )
}

/// Whether a login is needed and who this request is signed in as. Never asks for credentials:
/// this is how the page learns it must.
pub async fn session(State(ctx): State<Ctx>, credentials: Credentials) -> Reply {
    let in_force = ctx.shared.auth_config.borrow().clone();
    let user = match in_force.config() {
        Ok(config) => ctx
            .shared
            .auth
            .check(config, ctx.caller, credentials.presented())
            .await
            .ok()
            .flatten(),
        // Nobody signs in; the page learns why from `problem`.
        Err(_) => None,
    };
    Reply::json(200, &info(&ctx, &in_force, user))
}

/// Checks the password and opens a session (an `HttpOnly` cookie).
pub async fn login(State(ctx): State<Ctx>, TryJson(login): TryJson<api::Login>) -> Reply {
    let in_force = ctx.shared.auth_config.borrow().clone();
    let config = match in_force.config() {
        Ok(c) => c,
        Err(why) => return sign_in_locked(why),
    };
    let Ok(login) = login else {
        return Reply::error(
            400,
            "the body must be {\"username\": \"…\", \"password\": \"…\"}",
        );
    };
    if !config.enabled {
        return Reply::json(200, &info(&ctx, &in_force, None));
    }
    let auth = &ctx.shared.auth;
    if let Err(r) = auth
        .verify(config, ctx.caller.address, &login.username, &login.password)
        .await
    {
        // No challenge: the form asks again, not the browser.
        return refusal(r, &ctx.shared, true);
    }
    match auth.open_session(config, &login.username) {
        Ok(token) => Reply::json(200, &info(&ctx, &in_force, Some(login.username)))
            .with_header("Set-Cookie", cookie(&ctx, &token, SESSION_IDLE.as_secs())),
        Err(e) => Reply::error(500, format!("cannot start a session: {e}")),
    }
}

/// Ends the session and clears its cookie.
pub async fn logout(State(ctx): State<Ctx>, credentials: Credentials) -> Reply {
    if let Some(token) = &credentials.session {
        ctx.shared.auth.close_session(token);
    }
    let in_force = ctx.shared.auth_config.borrow().clone();
    Reply::json(200, &info(&ctx, &in_force, None)).with_header("Set-Cookie", cookie(&ctx, "", 0))
}
