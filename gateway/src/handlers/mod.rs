//! What each route does. Handlers are plain async functions taking picoserve extractors; the
//! guard (`crate::guard`) has already decided the caller may ask.

pub mod alerts;
pub mod command;
pub mod config;
pub mod history;
pub mod nodes;
pub mod session;
pub mod sockets;
pub mod sources;
pub mod status;

use std::str::FromStr;

use picoserve::extract::{FromRequest, FromRequestParts};
use picoserve::io::Read;
use picoserve::request::{RequestBody, RequestParts};
use sense_bus::BusError;
use serde::de::DeserializeOwned;

use crate::api::ApiError;
use crate::reply::Reply;

/// The bus failed while answering.
pub fn bus_unavailable(e: &BusError) -> Reply {
    Reply::json(
        503,
        &ApiError::new("the data bus is unavailable").with_cause(e.to_string()),
    )
}

/// A refused config write, naming the field.
pub fn field_error(field: impl Into<String>, error: impl Into<String>) -> Reply {
    Reply::json(400, &ApiError::new(error).with_field(field))
}

/// A source id in a path: the characters ids are made of (`a-z`, `0-9`, `_`, `-`, `.`, `@`), so
/// nothing like a Redis pattern (`*`, `?`, `[`) reaches the bus. Anything else is not a route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Id(pub String);

impl FromStr for Id {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.bytes().all(|b| {
                b.is_ascii_lowercase()
                    || b.is_ascii_digit()
                    || matches!(b, b'_' | b'-' | b'.' | b'@')
            });
        ok.then(|| Id(s.to_owned())).ok_or(())
    }
}

/// A sensor id in a path: a source's sensor ids may also hold `:` and capitals
/// (`office:co2`), never a pattern character.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SensorId(pub String);

impl FromStr for SensorId {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        let ok = !s.is_empty()
            && s.len() <= 128
            && s.chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ':' | '@' | ' '));
        ok.then(|| SensorId(s.to_owned())).ok_or(())
    }
}

/// The query string as `T`, refused with a JSON error naming what is wrong.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<'r, State, T: DeserializeOwned> FromRequestParts<'r, State> for ApiQuery<T> {
    type Rejection = Reply;

    async fn from_request_parts(
        _state: &'r State,
        parts: &RequestParts<'r>,
    ) -> Result<Self, Reply> {
        picoserve::url_encoded::deserialize_form(parts.query().unwrap_or_default())
            .map(ApiQuery)
            .map_err(|_| Reply::error(400, "the query string is not valid for this request"))
    }
}

/// A JSON request body as `T` (serde_json, not picoserve's `no_std` JSON: config sections are
/// free-form maps), refused with a JSON error: 413 when larger than the connection's buffer.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<'r, State, T: DeserializeOwned> FromRequest<'r, State> for JsonBody<T> {
    type Rejection = Reply;

    async fn from_request<R: Read>(
        _state: &'r State,
        _parts: RequestParts<'r>,
        body: RequestBody<'r, R>,
    ) -> Result<Self, Reply> {
        let bytes = body
            .read_all()
            .await
            .map_err(|_| Reply::error(413, "the request body is too large"))?;
        serde_json::from_slice(bytes)
            .map(JsonBody)
            .map_err(|e| Reply::error(400, format!("the body is not the JSON expected here: {e}")))
    }
}

/// A JSON body the handler judges itself, to refuse it in its own words.
#[derive(Debug)]
pub struct TryJson<T>(pub Result<T, Reply>);

impl<'r, State, T: DeserializeOwned> FromRequest<'r, State> for TryJson<T> {
    type Rejection = std::convert::Infallible;

    async fn from_request<R: Read>(
        state: &'r State,
        parts: RequestParts<'r>,
        body: RequestBody<'r, R>,
    ) -> Result<Self, Self::Rejection> {
        Ok(TryJson(
            JsonBody::from_request(state, parts, body)
                .await
                .map(|JsonBody(value)| value),
        ))
    }
}

/// The headers sign-in looks at, owned (handlers may not borrow from the request).
#[derive(Clone, Debug, Default)]
pub struct Credentials {
    /// `Authorization`.
    pub authorization: Option<String>,
    /// `Tailscale-User-Login`.
    pub tailscale_login: Option<String>,
    /// The session cookie's value.
    pub session: Option<String>,
}

impl Credentials {
    /// As [`crate::auth::Auth::check`] takes them.
    pub fn presented(&self) -> crate::auth::Presented<'_> {
        crate::auth::Presented {
            authorization: self.authorization.as_deref(),
            tailscale_login: self.tailscale_login.as_deref(),
            session: self.session.as_deref(),
        }
    }
}

impl Credentials {
    /// What `parts` brings (the guard checks it; the sign-in routes look at it themselves).
    pub fn of(parts: &RequestParts<'_>) -> Credentials {
        let header = |name: &str| parts.headers().get(name).and_then(|v| v.as_str().ok());
        Credentials {
            authorization: header("authorization").map(str::to_owned),
            tailscale_login: header("tailscale-user-login").map(str::to_owned),
            session: header("cookie")
                .and_then(crate::auth::session_cookie)
                .map(str::to_owned),
        }
    }
}

impl<'r, State> FromRequestParts<'r, State> for Credentials {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        _state: &'r State,
        parts: &RequestParts<'r>,
    ) -> Result<Self, Self::Rejection> {
        Ok(Credentials::of(parts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_in_paths_are_never_patterns() {
        for good in [
            "sensors",
            "co2",
            "network_camera",
            "sensors@kitchen",
            "a-b.c",
        ] {
            assert!(good.parse::<Id>().is_ok(), "{good}");
        }
        for bad in [
            "*", "sens*", "s?", "[a]", "", "Sensors", "a:b", "a/b", "a b",
        ] {
            assert!(bad.parse::<Id>().is_err(), "{bad}");
        }
        assert!("office:co2".parse::<SensorId>().is_ok());
        assert!("temperature".parse::<SensorId>().is_ok());
        for bad in ["*", "co2*", "a?", "[x]", ""] {
            assert!(bad.parse::<SensorId>().is_err(), "{bad}");
        }
    }
}
