//! `sense-pulse health`: the gateway's healthcheck, for images without a shell or curl.

use std::time::Duration;

use sense_http::{HttpClient, HttpOptions, Request};

use super::Failure;

/// Docker counts a check that takes longer as failed anyway.
const TIMEOUT: Duration = Duration::from_secs(4);

/// `GET /health` of the gateway at `url` (default: this container's `GATEWAY_LISTEN` port on
/// 127.0.0.1): 0 when it answers 200; a failure (exit 1, never 2, which Docker reserves) when it
/// answers otherwise or not at all.
pub async fn check(url: Option<String>) -> Result<u8, Failure> {
    let url = url.unwrap_or_else(|| {
        let listen = std::env::var("GATEWAY_LISTEN").unwrap_or_default();
        let port = listen
            .rsplit_once(':')
            .and_then(|(_, port)| port.parse::<u16>().ok())
            .unwrap_or(8080);
        format!("http://127.0.0.1:{port}/health")
    });
    let client = HttpClient::new(HttpOptions {
        connect_timeout: TIMEOUT,
        request_timeout: TIMEOUT,
        ..HttpOptions::default()
    });
    match client.send(Request::get(url.clone())).await {
        Ok(response) if response.status == 200 => {
            super::say(&format!("{url}: healthy"));
            Ok(0)
        }
        Ok(response) => Err(Failure::failed(format!(
            "{url} answered {}: {}",
            response.status,
            response.text().trim()
        ))),
        Err(e) => Err(Failure::failed(format!(
            "{url} cannot be reached ({e}): is the gateway running?"
        ))),
    }
}
