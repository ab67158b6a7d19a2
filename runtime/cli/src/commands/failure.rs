//! How a command fails: an `error: …` line saying what went wrong and what to do, and its exit
//! code.

use sense_bus::BusError;

use super::{DEFAULT_REDIS_URL, EXIT_FAILURE, EXIT_INVALID, EXIT_NO_BUS, LOCAL_REDIS};
use crate::logs;

/// Why a command stops: its exit code, and what it tells the user (`error: …`), a sentence
/// saying what happened and one saying what to do.
#[derive(Debug)]
pub struct Failure {
    pub(super) code: u8,
    pub(super) message: String,
}

/// Whether a command that met a bus failure had something to write.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Writes {
    /// It writes: say that nothing was.
    Something,
    /// It only reads, or runs on.
    Nothing,
}

impl Failure {
    pub(crate) fn new(code: u8, message: impl Into<String>) -> Failure {
        Failure {
            code,
            message: message.into(),
        }
    }

    /// Invalid input (exit 2).
    pub(crate) fn invalid(message: impl Into<String>) -> Failure {
        Failure::new(EXIT_INVALID, message)
    }

    /// The work failed (exit 1).
    pub(crate) fn failed(message: impl Into<String>) -> Failure {
        Failure::new(EXIT_FAILURE, message)
    }

    /// A bus failure of a command on the Redis at `url` (as given: `--redis` or `REDIS_URL`).
    pub(crate) fn bus(e: &BusError, url: &str, writes: Writes) -> Failure {
        let nothing_written = if writes == Writes::Something {
            "; nothing was written"
        } else {
            ""
        };
        match e {
            BusError::InvalidUrl { url: shown, reason } => {
                // The reason may show the form already.
                let example = if reason.contains(LOCAL_REDIS) {
                    "a valid one"
                } else {
                    "a URL such as redis://127.0.0.1:6379"
                };
                let (from, fix) = if from_env(url) {
                    (
                        "REDIS_URL",
                        format!("Set REDIS_URL to {example} (or pass --redis)."),
                    )
                } else {
                    ("--redis", format!("Pass --redis {example}."))
                };
                Failure::invalid(format!(
                    "the Redis URL {shown} (from {from}) is not valid: {reason}{nothing_written}. \
                     {fix}"
                ))
            }
            BusError::Unavailable { url: shown, reason } => {
                let fix = if url == DEFAULT_REDIS_URL {
                    format!(
                        "That is the address inside the Docker stack: on this machine, pass \
                         --redis {LOCAL_REDIS} or set REDIS_URL."
                    )
                } else {
                    "Start Redis there, or pass --redis (or set REDIS_URL) with where it runs."
                        .to_owned()
                };
                Failure::new(
                    EXIT_NO_BUS,
                    format!("Redis at {shown} is unreachable ({reason}){nothing_written}. {fix}"),
                )
            }
            BusError::Tls { url: shown, reason } => {
                let fix = if reason.contains("client certificate") {
                    "Set REDIS_CLIENT_CERT and REDIS_CLIENT_KEY to a certificate the server's CA \
                     signed and its key."
                } else {
                    "Set REDIS_CA_FILE to the PEM file of the CA that signed the server's \
                     certificate."
                };
                Failure::new(
                    EXIT_NO_BUS,
                    format!("cannot use Redis at {shown}: {reason}{nothing_written}. {fix}"),
                )
            }
            BusError::Refused { url: shown, reason } => Failure::new(
                EXIT_NO_BUS,
                format!("Redis at {shown}: {reason}{nothing_written}."),
            ),
            BusError::Timeout(_) => Failure::new(
                EXIT_NO_BUS,
                format!("{e}{nothing_written}: it may be overloaded or stopping. Try again."),
            ),
            BusError::Redis(_) => Failure::new(EXIT_NO_BUS, format!("{e}{nothing_written}.")),
        }
    }
}

/// Whether `url` is the one `REDIS_URL` sets (rather than `--redis`).
fn from_env(url: &str) -> bool {
    std::env::var("REDIS_URL").is_ok_and(|v| v == url)
}

/// Tells the user what `failure` says and returns its exit code.
pub(super) fn fail(failure: &Failure) -> u8 {
    logs::error(&failure.message);
    failure.code
}

/// The exit code of a command's result, the failure told.
pub(super) fn exit(result: Result<u8, Failure>) -> u8 {
    result.unwrap_or_else(|f| fail(&f))
}
