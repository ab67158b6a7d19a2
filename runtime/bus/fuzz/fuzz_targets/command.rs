//! Any bytes as a payload on `cmd:{target}`, through the [`CommandServer`] on the in-memory bus,
//! and as a payload on a response channel, as the [`CommandClient`] reads it.
//!
//! Properties: nothing panics; a well-formed command comes out of `next()` as it was sent; a
//! malformed one that carries a string `request_id` is answered once, on
//! `cmd:{target}:response:{request_id}`, with an error the client routes back to that id; one
//! without is answered by nobody; and a response that parses serializes to one that parses the
//! same.
//!
//! [`CommandServer`]: sense_bus::command::CommandServer
//! [`CommandClient`]: sense_bus::command::CommandClient
#![no_main]

use std::pin::pin;
use std::sync::{Mutex, OnceLock, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use sense_bus::command::CommandServer;
use sense_bus::keys::channels;
use sense_bus::model::{Command, CommandResponse, ResponseStatus};
use sense_bus::{Bus, Subscription, Topic};
use serde_json::Value as Json;

const TARGET: &str = "sensors";
/// A well-formed command sent after the fuzzed one, so `next()` always has one to return.
const SENTINEL: &str = r#"{"action":"sentinel","request_id":"sentinel-0"}"#;

/// One bus, server and listener for every input (made anew per input, they would cost more than
/// the parsing under test): each input leaves nothing queued behind.
struct Rig {
    runtime: tokio::runtime::Runtime,
    bus: Bus,
    server: CommandServer,
    answers: Subscription,
}

fn rig() -> &'static Mutex<Rig> {
    static RIG: OnceLock<Mutex<Rig>> = OnceLock::new();
    RIG.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let bus = Bus::memory();
        let (server, answers) = runtime.block_on(async {
            let server = CommandServer::listen(&bus, TARGET).await.unwrap();
            let answers = bus
                .subscribe(&[Topic::pattern(channels::ALL_COMMAND_RESPONSES)])
                .await
                .unwrap();
            (server, answers)
        });
        Mutex::new(Rig {
            runtime,
            bus,
            server,
            answers,
        })
    })
}

/// What `future` gives at once, if anything (a message already queued): waiting on a zero
/// timeout instead would park the runtime for a tick of its timer.
fn now<F: Future>(future: F) -> Option<F::Output> {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => Some(output),
        Poll::Pending => None,
    }
}

fn same_command(a: &Command, b: &Command) -> bool {
    // `timestamp` defaults to the time of parsing when it is left out.
    a.action == b.action && a.request_id == b.request_id && a.params == b.params
}

fuzz_target!(|data: &[u8]| {
    let payload = String::from_utf8_lossy(data);

    // As a response: what parses serializes to what parses the same.
    if let Ok(response) = serde_json::from_str::<CommandResponse>(&payload) {
        let again: CommandResponse =
            serde_json::from_str(&serde_json::to_string(&response).unwrap()).unwrap();
        assert_eq!(again, response);
    }

    let mut rig = rig().lock().unwrap_or_else(PoisonError::into_inner);
    let Rig {
        runtime,
        bus,
        server,
        answers,
    } = &mut *rig;
    runtime.block_on(async {
        let command = channels::command(TARGET);
        assert_eq!(bus.publish(&command, &payload).await.unwrap(), 1);
        bus.publish(&command, SENTINEL).await.unwrap();

        let next = tokio::time::timeout(Duration::from_secs(5), server.next())
            .await
            .expect("next() returns")
            .expect("the bus is there");
        let answer = now(answers.recv()).flatten();

        match serde_json::from_str::<Command>(&payload) {
            Ok(sent) => {
                assert!(same_command(&next, &sent), "{next:?} / {sent:?}");
                assert!(
                    answer.is_none(),
                    "a well-formed command answered: {answer:?}"
                );
                let sentinel = server.next().await.expect("the sentinel");
                assert_eq!(sentinel.request_id, "sentinel-0");
            }
            Err(_) => {
                let sentinel: Command = serde_json::from_str(SENTINEL).unwrap();
                assert!(same_command(&next, &sentinel), "{next:?}");
                let request_id = serde_json::from_str::<Json>(&payload)
                    .ok()
                    .and_then(|v| v.get("request_id")?.as_str().map(str::to_owned));
                match request_id {
                    Some(id) => {
                        let answer = answer.expect("a malformed command with an id is answered");
                        assert_eq!(answer.channel, channels::command_response(TARGET, &id));
                        let response: CommandResponse =
                            serde_json::from_str(&answer.payload).expect("the answer parses");
                        assert_eq!(response.request_id, id);
                        assert_eq!(response.status, ResponseStatus::Error);
                        assert!(
                            response
                                .error
                                .as_deref()
                                .is_some_and(|e| e.starts_with("malformed command")),
                            "{response:?}"
                        );
                        // The client takes the answer for that request, by its channel.
                        assert!(
                            answer
                                .channel
                                .ends_with(&format!(":response:{}", response.request_id))
                        );
                    }
                    None => assert!(answer.is_none(), "answered without an id: {answer:?}"),
                }
            }
        }
        // Only one answer, if any.
        let more = now(answers.recv()).flatten();
        assert!(more.is_none(), "{more:?}");
    });
});
