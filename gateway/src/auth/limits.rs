//! Limits on password checks: how many failures a client may have, how many bcrypt checks run at
//! once, and how many wait.
//!
//! A failure is counted *before* bcrypt runs (a slot is reserved, and given back on success), so
//! parallel guesses cannot all be checked before the first failure is counted. A client has at
//! most one check in flight. Checks run on at most [`Policy::permits`] blocking threads, with at
//! most [`Policy::queue`] waiting: beyond that the answer is 429 at once, and no thread is made.
//! When failures from all clients together pass [`Policy::slow_after`] in a window, checks run one
//! at a time and failures are answered late, but nobody is locked out for others' failures.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use super::Refusal;

/// The numbers the limits are made of.
#[derive(Clone, Debug)]
pub struct Policy {
    /// Failed logins allowed per client per window.
    pub max_failures: u32,
    /// The failed-login window.
    pub failure_window: Duration,
    /// bcrypt checks running at once (each on a blocking thread).
    pub permits: u32,
    /// Checks allowed to wait for a permit.
    pub queue: usize,
    /// Failures from all clients within a window after which checks slow down.
    pub slow_after: u32,
    /// How late a failure is answered while checks are slowed.
    pub slow_delay: Duration,
    /// At most one log line per client this often.
    pub log_every: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            max_failures: 5,
            failure_window: Duration::from_secs(60),
            // A Pi has 4 cores; bcrypt at cost 12 keeps one busy for a quarter of a second.
            permits: 2,
            queue: 16,
            slow_after: 30,
            slow_delay: Duration::from_secs(1),
            log_every: Duration::from_secs(60),
        }
    }
}

/// Counts per address within a window.
#[derive(Debug, Default)]
pub struct Window {
    counts: HashMap<IpAddr, (u32, Instant)>,
}

impl Window {
    /// Counts one event for `ip`; `Err(wait)` when over `max` within `window`.
    pub fn hit(&mut self, ip: IpAddr, max: u32, window: Duration) -> Result<(), Duration> {
        let now = Instant::now();
        // Keep the map small: forget windows that are over.
        if self.counts.len() > 1024 {
            self.counts
                .retain(|_, (_, start)| now.duration_since(*start) < window);
        }
        let (count, start) = self.counts.entry(ip).or_insert((0, now));
        if now.duration_since(*start) >= window {
            *count = 0;
            *start = now;
        }
        *count += 1;
        if *count > max {
            Err(window.saturating_sub(now.duration_since(*start)))
        } else {
            Ok(())
        }
    }

    /// Takes back one event of `ip` (a reserved failure that turned out a success).
    fn give_back(&mut self, ip: IpAddr) {
        if let Some((count, _)) = self.counts.get_mut(&ip) {
            *count = count.saturating_sub(1);
        }
    }

    /// How long `ip` must wait, if it has had `max` events within `window`.
    pub fn blocked(&self, ip: IpAddr, max: u32, window: Duration) -> Option<Duration> {
        let (count, start) = self.counts.get(&ip)?;
        let elapsed = start.elapsed();
        (*count >= max && elapsed < window).then(|| window - elapsed)
    }
}

/// Failed logins, logged at most once per client per [`Policy::log_every`].
#[derive(Debug, Default)]
struct FailureLog {
    /// When each client's last line was written, and its failures since.
    clients: HashMap<IpAddr, (Instant, u32)>,
}

impl FailureLog {
    /// Counts a failure of `client`: `Some(n)` when a line is due now, `n` failures since the last.
    fn note(&mut self, client: IpAddr, every: Duration) -> Option<u32> {
        let now = Instant::now();
        if self.clients.len() > 1024 {
            // Old entries go; their unlogged failures are logged on the way out.
            self.clients.retain(|ip, (at, unlogged)| {
                let keep = now.duration_since(*at) < every;
                if !keep && *unlogged > 0 {
                    tracing::warn!(client = %ip, failures = *unlogged, "failed sign-ins");
                }
                keep
            });
        }
        match self.clients.get_mut(&client) {
            Some((at, unlogged)) if now.duration_since(*at) < every => {
                *unlogged += 1;
                None
            }
            Some((at, unlogged)) => {
                let n = *unlogged + 1;
                *at = now;
                *unlogged = 0;
                Some(n)
            }
            None => {
                self.clients.insert(client, (now, 0));
                Some(1)
            }
        }
    }
}

/// The limits' state, for the gateway's thread.
#[derive(Debug)]
pub struct Limits {
    policy: Policy,
    /// Failures per client, reserved before each check.
    failures: RefCell<Window>,
    /// Failures of all clients in the current window: `(count, since)`.
    global: Cell<(u32, Instant)>,
    /// Clients with a check running or waiting.
    in_flight: RefCell<HashSet<IpAddr>>,
    /// Permits to run bcrypt; held by the blocking thread until it is done.
    bcrypt: Arc<Semaphore>,
    /// Checks waiting for a permit.
    waiting: Cell<usize>,
    /// bcrypt checks started, ever.
    checks: Cell<u64>,
    log: RefCell<FailureLog>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits::new(Policy::default())
    }
}

impl Limits {
    /// Limits with `policy`.
    pub fn new(policy: Policy) -> Limits {
        Limits {
            bcrypt: Arc::new(Semaphore::new(policy.permits as usize)),
            policy,
            failures: RefCell::default(),
            global: Cell::new((0, Instant::now())),
            in_flight: RefCell::default(),
            waiting: Cell::new(0),
            checks: Cell::new(0),
            log: RefCell::default(),
        }
    }

    /// Takes every bcrypt permit until the guard is dropped: checks admitted meanwhile wait, in
    /// flight, so a test can see what happens to others while they do.
    #[cfg(test)]
    pub(crate) async fn hold_permits(&self) -> tokio::sync::OwnedSemaphorePermit {
        Arc::clone(&self.bcrypt)
            .acquire_many_owned(self.policy.permits)
            .await
            .expect("the semaphore is never closed")
    }

    /// bcrypt checks started so far.
    pub fn checks(&self) -> u64 {
        self.checks.get()
    }

    /// Whether failures from all clients are many enough to slow checks down.
    pub fn slowed(&self) -> bool {
        let (count, since) = self.global.get();
        since.elapsed() < self.policy.failure_window && count >= self.policy.slow_after
    }

    /// 429 if `client` has used up its failures.
    pub fn locked(&self, client: IpAddr) -> Result<(), Refusal> {
        let p = &self.policy;
        match self
            .failures
            .borrow()
            .blocked(client, p.max_failures, p.failure_window)
        {
            Some(wait) => Err(Refusal::TooMany(wait)),
            None => Ok(()),
        }
    }

    /// Logs a failure of `client` if its line is due.
    fn log_failure(&self, client: IpAddr) {
        if let Some(n) = self.log.borrow_mut().note(client, self.policy.log_every) {
            tracing::warn!(client = %client, failures = n, "failed sign-ins (since the last line)");
        }
    }

    /// Counts a failure against `client`: `Err(wait)` when it is over its limit.
    fn reserve(&self, client: IpAddr) -> Result<(), Duration> {
        let p = &self.policy;
        self.failures
            .borrow_mut()
            .hit(client, p.max_failures, p.failure_window)
    }

    /// Lets `client` have a password checked, its failure slot reserved; or 429 at once when it
    /// has a check in flight already, is out of failures, or too many checks wait.
    pub fn admit(&self, client: IpAddr) -> Result<Ticket<'_>, Refusal> {
        let busy = Duration::from_secs(1);
        if self.in_flight.borrow().contains(&client) {
            // Parallel guesses are guesses: each one counts.
            let _ = self.reserve(client);
            self.log_failure(client);
            return Err(Refusal::TooMany(busy));
        }
        if let Err(wait) = self.reserve(client) {
            self.log_failure(client);
            return Err(Refusal::TooMany(wait));
        }
        let needed = self.permits_needed();
        if self.bcrypt.available_permits() < needed as usize
            && self.waiting.get() >= self.policy.queue
        {
            // The gateway is busy, not this client's fault: its slot goes back.
            self.failures.borrow_mut().give_back(client);
            return Err(Refusal::TooMany(busy));
        }
        self.in_flight.borrow_mut().insert(client);
        Ok(Ticket {
            limits: self,
            client,
        })
    }

    /// Permits a check takes: all of them while slowed, so checks run one at a time.
    pub fn permits_needed(&self) -> u32 {
        if self.slowed() {
            self.policy.permits
        } else {
            1
        }
    }

    /// Counts a failure of all clients together.
    fn count_global(&self) {
        let (count, since) = self.global.get();
        let was_slowed = self.slowed();
        let fresh = if since.elapsed() >= self.policy.failure_window {
            (1, Instant::now())
        } else {
            (count + 1, since)
        };
        self.global.set(fresh);
        if !was_slowed && self.slowed() {
            tracing::warn!(
                failures = fresh.0,
                "many failed sign-ins from all clients: password checks slowed down"
            );
        }
    }
}

/// A check admitted for a client; while it lives, the client has a check in flight.
#[derive(Debug)]
pub struct Ticket<'a> {
    limits: &'a Limits,
    client: IpAddr,
}

/// Counts a check waiting for a permit for as long as it waits (even if dropped while waiting).
struct Waiting<'a>(&'a Cell<usize>);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.set(self.0.get().saturating_sub(1));
    }
}

impl Ticket<'_> {
    /// Runs `check` (bcrypt) on a blocking thread once a permit is free. The permit goes with it
    /// to the thread: a request dropped meanwhile does not free it before bcrypt is done.
    pub async fn run(&self, check: impl FnOnce() -> bool + Send + 'static) -> bool {
        let limits = self.limits;
        limits.waiting.set(limits.waiting.get() + 1);
        let waiting = Waiting(&limits.waiting);
        let permit = Arc::clone(&limits.bcrypt)
            .acquire_many_owned(limits.permits_needed())
            .await;
        drop(waiting);
        let Ok(permit) = permit else { return false };
        limits.checks.set(limits.checks.get() + 1);
        tokio::task::spawn_blocking(move || {
            let ok = check();
            drop(permit);
            ok
        })
        .await
        .unwrap_or(false)
    }

    /// The check passed: the reserved failure is given back.
    pub fn succeeded(self) {
        self.limits.failures.borrow_mut().give_back(self.client);
    }

    /// The check failed: counted for everyone, logged, and answered late while checks are slowed
    /// (the client still has its check in flight meanwhile, so it cannot send the next sooner).
    pub async fn failed(self) -> Refusal {
        let limits = self.limits;
        limits.count_global();
        limits.log_failure(self.client);
        if limits.slowed() {
            tokio::time::sleep(limits.policy.slow_delay).await;
        }
        Refusal::Unauthorized("wrong username or password")
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        self.limits.in_flight.borrow_mut().remove(&self.client);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_line_per_client_per_interval_saying_how_many() {
        let mut log = FailureLog::default();
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let every = Duration::from_secs(60);
        assert_eq!(log.note(a, every), Some(1));
        assert_eq!(log.note(a, every), None);
        assert_eq!(log.note(a, every), None);
        assert_eq!(
            log.note(b, every),
            Some(1),
            "another client has its own line"
        );
        // The interval is over: the next failure writes a line counting those unlogged.
        let zero = Duration::ZERO;
        assert_eq!(log.note(a, zero), Some(3));
        assert_eq!(log.note(a, zero), Some(1));
    }

    #[test]
    fn a_reserved_failure_is_given_back() {
        let mut w = Window::default();
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let minute = Duration::from_secs(60);
        for _ in 0..3 {
            w.hit(ip, 3, minute).unwrap();
        }
        assert!(w.blocked(ip, 3, minute).is_some());
        w.give_back(ip);
        assert!(w.blocked(ip, 3, minute).is_none());
        assert!(w.hit(ip, 3, minute).is_ok());
        assert!(w.hit(ip, 3, minute).is_err());
    }
}
