//! The Redis backend: a RESP3 `ConnectionManager` for commands, and one more per subscription
//! with automatic resubscription, so a Redis restart is survived without any caller noticing
//! beyond a few failed (timed-out) operations.

mod connect;

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, PushInfo, PushKind, RedisError};
use tokio::sync::mpsc;

use super::login::login_problem;
use super::tls::tls_problem;
use super::{
    Batch, BusError, Fetched, Guard, Message, Op, Read, SUBSCRIPTION_BUFFER, Subscription, Topic,
    Ttl,
};

/// The Lua of [`Batch::accumulate`]: folds a value into the `"{count} {sum} {min} {max}"` of one
/// hash field and sets the hash's absolute expiry (ms). Min and max need the stored value, hence
/// a script: `HINCRBYFLOAT` keeps a sum and a count without reading, but no command keeps a
/// minimum. Numbers are written `%.15g` (15 significant digits: exact for any decimal reading,
/// and short, so a chunk of buckets stays a compact listpack hash).
macro_rules! accumulate_lua {
    () => {
        r"
local function accumulate(key, field, value, at_ms)
  local v = tonumber(value)
  local n, sum, lo, hi = 1, v, v, v
  local old = redis.call('HGET', key, field)
  if old then
    local a, b, c, d = string.match(old, '^(%S+) (%S+) (%S+) (%S+)$')
    if a then
      n = tonumber(a) + 1
      sum = tonumber(b) + v
      lo = math.min(tonumber(c), v)
      hi = math.max(tonumber(d), v)
    end
  end
  redis.call('HSET', key, field, string.format('%d %.15g %.15g %.15g', n, sum, lo, hi))
  redis.call('PEXPIREAT', key, at_ms)
end
"
    };
}

/// The `ACC key field value at_ms` ops of one [`RedisBus::apply`], in ARGV, four by four.
const ACCUMULATE: &str = concat!(
    accumulate_lua!(),
    r"
local i = 1
while i <= #ARGV do
  accumulate(ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3])
  i = i + 4
end
return 1
"
);

/// [`RedisBus::apply_if`]: checks the guards, then runs the batch's writes, in one script so
/// nothing else runs in between. ARGV: the guard count, then `key, present (1/0), value` per
/// guard, then the ops: `SET key value px`, `DEL key`, `PUB channel payload`,
/// `PUSH key value keep px` or `LPUSH key value keep px` (px 0: no expiry), `ACC key field value
/// at_ms`.
const APPLY_IF: &str = concat!(
    accumulate_lua!(),
    r"
local i = 2
for _ = 1, tonumber(ARGV[1]) do
  local current = redis.call('GET', ARGV[i])
  if ARGV[i + 1] == '1' then
    if current ~= ARGV[i + 2] then return 0 end
  elseif current then
    return 0
  end
  i = i + 3
end
while i <= #ARGV do
  local op = ARGV[i]
  if op == 'SET' then
    if ARGV[i + 3] == '0' then
      redis.call('SET', ARGV[i + 1], ARGV[i + 2])
    else
      redis.call('SET', ARGV[i + 1], ARGV[i + 2], 'PX', ARGV[i + 3])
    end
    i = i + 4
  elseif op == 'DEL' then
    redis.call('DEL', ARGV[i + 1])
    i = i + 2
  elseif op == 'PUB' then
    redis.call('PUBLISH', ARGV[i + 1], ARGV[i + 2])
    i = i + 3
  elseif op == 'PUSH' then
    redis.call('RPUSH', ARGV[i + 1], ARGV[i + 2])
    redis.call('LTRIM', ARGV[i + 1], -tonumber(ARGV[i + 3]), -1)
    if ARGV[i + 4] ~= '0' then redis.call('PEXPIRE', ARGV[i + 1], ARGV[i + 4]) end
    i = i + 5
  elseif op == 'LPUSH' then
    redis.call('LPUSH', ARGV[i + 1], ARGV[i + 2])
    redis.call('LTRIM', ARGV[i + 1], 0, tonumber(ARGV[i + 3]) - 1)
    if ARGV[i + 4] ~= '0' then redis.call('PEXPIRE', ARGV[i + 1], ARGV[i + 4]) end
    i = i + 5
  elseif op == 'ACC' then
    accumulate(ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4])
    i = i + 5
  else
    return redis.error_reply('apply_if: unknown op ' .. op)
  end
end
return 1
"
);

/// Keys asked for per `SCAN` step.
const SCAN_COUNT: u32 = 500;

#[derive(Clone)]
pub(super) struct RedisBus {
    client: Client,
    conn: ConnectionManager,
    /// The URL with any password replaced, for messages.
    url: String,
}

/// The URL with the password (if any) replaced by `***`.
fn redact_url(url: &str) -> String {
    crate::redact::url_credentials(url).into_owned()
}

/// A Redis error's text, any URL password in it hidden: every [`BusError`] is made from these,
/// so no message built from one (logs, `/health`, a 503's `cause`) can carry it.
fn describe(e: &RedisError) -> String {
    let text = e.to_string();
    // The redis crate writes `what - Kind: detail`, the kind as its Rust enum names it
    // (`InvalidClientConfig`): left out, it says nothing a person needs.
    let plain = text.split_once(" - ").and_then(|(what, rest)| {
        let (kind, detail) = rest
            .split_once(": ")
            .map_or((rest, None), |(k, d)| (k, Some(d)));
        let rusty = kind.starts_with(|c: char| c.is_ascii_uppercase())
            && kind
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '(' | ')'));
        rusty.then(|| match detail {
            Some(detail) => format!("{what}: {detail}"),
            None => what.to_owned(),
        })
    });
    redact_url(plain.as_deref().unwrap_or(&text))
}

/// Reconnection policy: attempts back off from 100 ms to about 1 s (0.5 s plus jitter), so a
/// restarted Redis is found again within a second or so.
fn manager_config(retries: usize) -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(1)))
        .set_response_timeout(Some(Duration::from_secs(2)))
        .set_min_delay(Duration::from_millis(100))
        .set_max_delay(Duration::from_millis(500))
        .set_number_of_retries(retries)
}

fn payload_text(v: &redis::Value) -> String {
    match v {
        redis::Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        redis::Value::SimpleString(s) => s.clone(),
        other => redis::from_redis_value_ref::<String>(other).unwrap_or_default(),
    }
}

/// A pub/sub push as a [`Message`]; subscription confirmations and the like are not messages.
fn push_to_message(info: &PushInfo) -> Option<Message> {
    match (&info.kind, info.data.as_slice()) {
        (PushKind::Message, [channel, payload]) => Some(Message {
            channel: payload_text(channel),
            pattern: None,
            payload: payload_text(payload),
        }),
        (PushKind::PMessage, [pattern, channel, payload]) => Some(Message {
            channel: payload_text(channel),
            pattern: Some(payload_text(pattern)),
            payload: payload_text(payload),
        }),
        _ => None,
    }
}

impl RedisBus {
    pub(super) fn url(&self) -> &str {
        &self.url
    }

    fn error(&self, e: RedisError) -> BusError {
        if let Some(reason) = tls_problem(&e) {
            BusError::Tls {
                url: self.url.clone(),
                reason,
            }
        } else if let Some(reason) = login_problem(&e) {
            BusError::Refused {
                url: self.url.clone(),
                reason,
            }
        } else if e.is_io_error()
            || e.is_connection_dropped()
            || e.is_connection_refusal()
            || e.is_timeout()
        {
            BusError::Unavailable {
                url: self.url.clone(),
                reason: describe(&e),
            }
        } else {
            BusError::Redis(describe(&e))
        }
    }

    async fn query<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, BusError> {
        let mut conn = self.conn.clone();
        cmd.query_async(&mut conn).await.map_err(|e| self.error(e))
    }

    pub(super) async fn ping(&self) -> Result<(), BusError> {
        self.query::<String>(&redis::cmd("PING")).await.map(drop)
    }

    pub(super) async fn get(&self, key: &str) -> Result<Option<String>, BusError> {
        self.query(redis::cmd("GET").arg(key)).await
    }

    pub(super) async fn mget(&self, keys: &[String]) -> Result<Vec<Option<String>>, BusError> {
        self.query(redis::cmd("MGET").arg(keys)).await
    }

    /// `MGET` and each key's `PTTL` in one transaction, so a value and its remaining life agree.
    pub(super) async fn mget_ttl(
        &self,
        keys: &[String],
    ) -> Result<Vec<Option<(String, Ttl)>>, BusError> {
        let mut pipe = redis::pipe();
        pipe.atomic();
        pipe.cmd("MGET").arg(keys);
        for key in keys {
            pipe.cmd("PTTL").arg(key);
        }
        let mut conn = self.conn.clone();
        let (values, ttls): (Vec<Option<String>>, Vec<i64>) = {
            let replies: Vec<redis::Value> = pipe
                .query_async(&mut conn)
                .await
                .map_err(|e| self.error(e))?;
            let mut replies = replies.into_iter();
            let values = replies
                .next()
                .map(redis::from_redis_value)
                .transpose()
                .map_err(|e| BusError::Redis(e.to_string()))?
                .unwrap_or_default();
            let ttls = replies
                .map(redis::from_redis_value)
                .collect::<Result<_, _>>()
                .map_err(|e| BusError::Redis(e.to_string()))?;
            (values, ttls)
        };
        Ok(values
            .into_iter()
            .zip(ttls)
            .map(|(value, ms)| {
                value.map(|v| {
                    let ttl = match ms {
                        -2 => Ttl::Missing,
                        -1 => Ttl::Persistent,
                        ms => Ttl::Expires(Duration::from_millis(ms.unsigned_abs())),
                    };
                    (v, ttl)
                })
            })
            .collect())
    }

    pub(super) async fn set_nx(&self, key: &str, value: &str) -> Result<bool, BusError> {
        let reply: Option<String> = self
            .query(redis::cmd("SET").arg(key).arg(value).arg("NX"))
            .await?;
        Ok(reply.is_some())
    }

    pub(super) async fn del(&self, key: &str) -> Result<bool, BusError> {
        let removed: u64 = self.query(redis::cmd("DEL").arg(key)).await?;
        Ok(removed > 0)
    }

    pub(super) async fn ttl(&self, key: &str) -> Result<Ttl, BusError> {
        let ms: i64 = self.query(redis::cmd("PTTL").arg(key)).await?;
        Ok(match ms {
            -2 => Ttl::Missing,
            -1 => Ttl::Persistent,
            ms => Ttl::Expires(Duration::from_millis(ms.unsigned_abs())),
        })
    }

    pub(super) async fn keys(&self, pattern: &str) -> Result<Vec<String>, BusError> {
        let mut found = std::collections::BTreeSet::new();
        let mut cursor: u64 = 0;
        loop {
            let (next, batch): (u64, Vec<String>) = self
                .query(
                    redis::cmd("SCAN")
                        .arg(cursor)
                        .arg("MATCH")
                        .arg(pattern)
                        .arg("COUNT")
                        .arg(SCAN_COUNT),
                )
                .await?;
            // SCAN may return a key twice; the set removes repeats.
            found.extend(batch);
            if next == 0 {
                return Ok(found.into_iter().collect());
            }
            cursor = next;
        }
    }

    pub(super) async fn list(&self, key: &str) -> Result<Vec<String>, BusError> {
        self.query(redis::cmd("LRANGE").arg(key).arg(0).arg(-1))
            .await
    }

    /// The reads in one transaction, so they see the same moment.
    pub(super) async fn read(&self, reads: &[Read]) -> Result<Vec<Fetched>, BusError> {
        let mut pipe = redis::pipe();
        pipe.atomic();
        for read in reads {
            match read {
                Read::Get(key) => pipe.cmd("GET").arg(key),
                Read::List(key) => pipe.cmd("LRANGE").arg(key).arg(0).arg(-1),
                Read::Hash(key) => pipe.cmd("HGETALL").arg(key),
            };
        }
        let mut conn = self.conn.clone();
        let replies: Vec<redis::Value> = pipe
            .query_async(&mut conn)
            .await
            .map_err(|e| self.error(e))?;
        let wrong = |e: redis::ParsingError| BusError::Redis(e.to_string());
        reads
            .iter()
            .zip(replies)
            .map(|(read, reply)| {
                Ok(match read {
                    Read::Get(_) => Fetched::Text(redis::from_redis_value(reply).map_err(wrong)?),
                    Read::List(_) => Fetched::List(redis::from_redis_value(reply).map_err(wrong)?),
                    Read::Hash(_) => {
                        let hash: std::collections::BTreeMap<String, String> =
                            redis::from_redis_value(reply).map_err(wrong)?;
                        Fetched::Hash(hash.into_iter().collect())
                    }
                })
            })
            .collect()
    }

    pub(super) async fn publish(&self, channel: &str, payload: &str) -> Result<usize, BusError> {
        self.query(redis::cmd("PUBLISH").arg(channel).arg(payload))
            .await
    }

    pub(super) async fn apply(&self, batch: &Batch) -> Result<(), BusError> {
        let mut pipe = redis::pipe();
        pipe.atomic();
        // Consecutive accumulations go out as one script call (a poll has one per reading and
        // resolution), in their place among the other writes.
        let mut accumulations: Option<redis::Cmd> = None;
        for op in &batch.ops {
            if let Op::Accumulate {
                key,
                field,
                value,
                expire_at_ms,
            } = op
            {
                accumulations
                    .get_or_insert_with(|| {
                        let mut eval = redis::cmd("EVAL");
                        eval.arg(ACCUMULATE).arg(0);
                        eval
                    })
                    .arg(key)
                    .arg(field)
                    .arg(value.to_string())
                    .arg(*expire_at_ms);
                continue;
            }
            if let Some(eval) = accumulations.take() {
                pipe.add_command(eval).ignore();
            }
            match op {
                Op::Set {
                    key,
                    value,
                    ttl: Some(ttl),
                } => {
                    pipe.cmd("SET")
                        .arg(key)
                        .arg(value)
                        .arg("PX")
                        .arg(super::ttl_millis(*ttl))
                        .ignore();
                }
                Op::Set {
                    key,
                    value,
                    ttl: None,
                } => {
                    pipe.cmd("SET").arg(key).arg(value).ignore();
                }
                Op::Del { key } => {
                    pipe.cmd("DEL").arg(key).ignore();
                }
                Op::Push {
                    key,
                    value,
                    keep,
                    ttl,
                    front,
                } => {
                    let keep = i64::try_from(*keep).unwrap_or(i64::MAX);
                    if *front {
                        pipe.cmd("LPUSH").arg(key).arg(value).ignore();
                        pipe.cmd("LTRIM").arg(key).arg(0).arg(keep - 1).ignore();
                    } else {
                        pipe.cmd("RPUSH").arg(key).arg(value).ignore();
                        pipe.cmd("LTRIM").arg(key).arg(-keep).arg(-1).ignore();
                    }
                    if let Some(ttl) = ttl {
                        pipe.cmd("PEXPIRE")
                            .arg(key)
                            .arg(super::ttl_millis(*ttl))
                            .ignore();
                    }
                }
                Op::Publish { channel, payload } => {
                    pipe.cmd("PUBLISH").arg(channel).arg(payload).ignore();
                }
                Op::Accumulate { .. } => {}
            }
        }
        if let Some(eval) = accumulations.take() {
            pipe.add_command(eval).ignore();
        }
        let mut conn = self.conn.clone();
        pipe.query_async::<()>(&mut conn)
            .await
            .map_err(|e| self.error(e))
    }

    pub(super) async fn apply_if(&self, guards: &[Guard], batch: &Batch) -> Result<bool, BusError> {
        let mut eval = redis::cmd("EVAL");
        eval.arg(APPLY_IF).arg(0).arg(guards.len());
        for g in guards {
            match &g.expected {
                Some(v) => eval.arg(&g.key).arg("1").arg(v),
                None => eval.arg(&g.key).arg("0").arg(""),
            };
        }
        let millis = |ttl: &Option<Duration>| ttl.map_or(0, super::ttl_millis);
        for op in &batch.ops {
            match op {
                Op::Set { key, value, ttl } => eval.arg("SET").arg(key).arg(value).arg(millis(ttl)),
                Op::Del { key } => eval.arg("DEL").arg(key),
                Op::Publish { channel, payload } => eval.arg("PUB").arg(channel).arg(payload),
                Op::Push {
                    key,
                    value,
                    keep,
                    ttl,
                    front,
                } => eval
                    .arg(if *front { "LPUSH" } else { "PUSH" })
                    .arg(key)
                    .arg(value)
                    .arg(*keep)
                    .arg(millis(ttl)),
                Op::Accumulate {
                    key,
                    field,
                    value,
                    expire_at_ms,
                } => eval
                    .arg("ACC")
                    .arg(key)
                    .arg(field)
                    .arg(value.to_string())
                    .arg(*expire_at_ms),
            };
        }
        let mut conn = self.conn.clone();
        let applied: i64 = eval
            .query_async(&mut conn)
            .await
            .map_err(|e| self.error(e))?;
        Ok(applied == 1)
    }

    pub(super) async fn subscribe(&self, topics: &[Topic]) -> Result<Subscription, BusError> {
        let (tx, rx) = mpsc::channel(SUBSCRIPTION_BUFFER);
        let sender = move |info: PushInfo| -> Result<(), redis::aio::SendError> {
            if info.kind == PushKind::Disconnection {
                tracing::debug!("subscription connection lost; it will be renewed");
            }
            let Some(message) = push_to_message(&info) else {
                return Ok(());
            };
            match tx.try_send(message) {
                Ok(()) => Ok(()),
                Err(mpsc::error::TrySendError::Full(m)) => {
                    tracing::warn!(channel = %m.channel, "subscriber is not keeping up; message dropped");
                    Ok(())
                }
                Err(mpsc::error::TrySendError::Closed(_)) => Err(redis::aio::SendError),
            }
        };
        let config = manager_config(usize::MAX)
            .set_push_sender(sender)
            .set_automatic_resubscription();
        let mut conn = ConnectionManager::new_with_config(self.client.clone(), config)
            .await
            .map_err(|e| self.error(e))?;
        for topic in topics {
            match topic {
                Topic::Channel(name) => conn.subscribe(name).await,
                Topic::Pattern(glob) => conn.psubscribe(glob).await,
            }
            .map_err(|e| self.error(e))?;
        }
        Ok(Subscription {
            rx,
            _guard: Box::new(conn),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::connect::url_problem;
    use super::redact_url;

    #[test]
    fn a_bad_url_is_said_in_words_without_quoting_it() {
        for (url, expected) in [
            ("nonsense", "it does not start with redis://"),
            ("localhost:6379", "it does not start with redis://"),
            ("http://pi:6379", "http:// is not a Redis scheme"),
            ("redis://:hunter2@host:port", "its port is not a number"),
            ("redis://:6379", "it names no host"),
            (
                "redis://host:6379/zero",
                "must be a number, such as /0 (got /zero)",
            ),
            ("rediss://host:6379/#insecure", "#insecure"),
            ("rediss://0.0.0.0:6379", "addresses to listen on"),
            ("redis://0.0.0.0:6379", "addresses to listen on"),
        ] {
            let problem = url_problem(url).unwrap_or_else(|| panic!("{url} passed"));
            assert!(problem.contains(expected), "{url}: {problem}");
            assert!(!problem.contains("hunter2"), "{problem}");
        }
        for url in [
            "redis://127.0.0.1:6379",
            "redis://:pw@redis:6379/2",
            "redis://[::1]:6379",
            "rediss://app:pw@hub.lan:6380/1",
            "unix:///run/redis.sock",
        ] {
            assert_eq!(url_problem(url), None, "{url}");
        }
    }

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            redact_url("redis://:s3cret@redis:6379/0"),
            "redis://:***@redis:6379/0"
        );
        assert_eq!(
            redact_url("redis://app:s3cret@redis:6379"),
            "redis://app:***@redis:6379"
        );
        assert_eq!(redact_url("redis://redis:6379"), "redis://redis:6379");
        assert_eq!(
            redact_url("rediss://app:s3cret@hub.lan:6380/0"),
            "rediss://app:***@hub.lan:6380/0"
        );
        assert_eq!(
            crate::redact::any_url("rediss:/app:s3cret@hub.lan:6380"),
            "rediss:***@hub.lan:6380"
        );
    }
}
