use super::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn limits(connections: usize, per_client: usize) -> Limits {
    Limits {
        connections,
        per_client,
        websockets: 3,
        websockets_per_client: 2,
        answered_refusals: 1,
    }
}

#[test]
fn the_descriptor_limit_caps_the_total_with_a_reserve() {
    assert_eq!(connections_for_descriptors(1024), 768, "systemd's default");
    assert_eq!(connections_for_descriptors(4096), 3072);
    assert_eq!(connections_for_descriptors(256), 192, "at least 64 kept");
    assert_eq!(connections_for_descriptors(128), 64);
    assert_eq!(connections_for_descriptors(64), 32, "at most half kept");
    assert_eq!(connections_for_descriptors(0), 0);
    // This process has some limit, and the cap stays under it.
    if let Some(limit) = descriptor_limit() {
        assert!((connections_for_descriptors(limit) as u64) < limit);
    }
}

#[test]
fn limits_come_from_the_environment_under_the_descriptor_limit() {
    let none = |_: &str| None;
    assert_eq!(Limits::from_env(none, None), Limits::default());
    assert_eq!(
        Limits::from_env(none, Some(1024)).connections,
        DEFAULT_CONNECTIONS
    );
    let small = Limits::from_env(none, Some(256));
    assert_eq!(
        small,
        Limits {
            connections: 192,
            per_client: 32,
            websockets: 64,
            websockets_per_client: 16,
            answered_refusals: 16,
        }
    );
    let env = |name: &str| {
        match name {
            "GATEWAY_MAX_CONNECTIONS" => Some("5000"),
            "GATEWAY_MAX_CONNECTIONS_PER_CLIENT" => Some(" 8 "),
            "GATEWAY_MAX_WEBSOCKETS" => Some("zero"),
            "GATEWAY_MAX_WEBSOCKETS_PER_CLIENT" => Some("0"),
            _ => None,
        }
        .map(str::to_owned)
    };
    assert_eq!(
        Limits::from_env(env, Some(1024)),
        Limits {
            connections: 768,
            per_client: 8,
            websockets: 64,
            websockets_per_client: 16,
            answered_refusals: 64,
        },
        "over the descriptors' cap: lowered; invalid: the default"
    );
    assert_eq!(Limits::from_env(env, None).connections, 5000);
    let tiny = |name: &str| (name == "GATEWAY_MAX_CONNECTIONS").then(|| "4".to_owned());
    assert_eq!(
        Limits::from_env(tiny, None),
        Limits {
            connections: 4,
            per_client: 4,
            websockets: 4,
            websockets_per_client: 4,
            answered_refusals: MAX_ANSWERED_REFUSALS,
        },
        "no other cap above the total"
    );
}

#[test]
fn clients_are_addresses_or_ipv6_networks() {
    assert_eq!(
        Client::of(ip("10.0.0.1")),
        Client::of(ip("::ffff:10.0.0.1"))
    );
    assert_ne!(Client::of(ip("10.0.0.1")), Client::of(ip("10.0.0.2")));
    assert_eq!(
        Client::of(ip("2001:db8:1:2::1")),
        Client::of(ip("2001:db8:1:2:ffff::9"))
    );
    assert_ne!(
        Client::of(ip("2001:db8:1:2::1")),
        Client::of(ip("2001:db8:1:3::1"))
    );
    assert_eq!(
        Client::of(ip("2001:db8:1:2::1")).to_string(),
        "2001:db8:1:2::/64"
    );
}

#[test]
fn one_client_cannot_take_every_slot() {
    let stop = CancellationToken::new();
    let registry = Registry::new(limits(10, 2));
    let a1 = registry.admit(ip("10.0.0.1"), &stop).unwrap();
    let _a2 = registry.admit(ip("10.0.0.1"), &stop).unwrap();
    assert_eq!(
        registry.admit(ip("10.0.0.1"), &stop).unwrap_err(),
        Refusal::PerClient
    );
    assert_eq!(Refusal::PerClient.status().0, 429);
    let _b = registry.admit(ip("10.0.0.2"), &stop).unwrap();
    drop(a1);
    let _a3 = registry.admit(ip("10.0.0.1"), &stop).unwrap();
    assert_eq!(registry.stats().open, 3);
    assert_eq!(registry.stats().refused, 1);
    // A per-client refusal evicts nobody.
    assert_eq!(registry.stats().evicted, 0);
}

#[test]
fn trusted_proxies_are_not_capped_per_client() {
    let stop = CancellationToken::new();
    let proxy = ip("172.30.0.2");
    let registry = Registry::new(limits(10, 1)).exempting(move |ip| ip == proxy);
    let slots: Vec<Slot> = (0..5)
        .map(|_| registry.admit(proxy, &stop).unwrap())
        .collect();
    assert_eq!(registry.stats().open, 5);
    let _other = registry.admit(ip("10.0.0.1"), &stop).unwrap();
    assert!(registry.admit(ip("10.0.0.1"), &stop).is_err());
    drop(slots);
    assert_eq!(registry.stats().open, 1);
}

#[test]
fn at_the_total_the_longest_waiting_goes_first_and_busy_ones_stay() {
    let stop = CancellationToken::new();
    let registry = Registry::new(limits(3, 10));
    let busy = registry.admit(ip("10.0.0.1"), &stop).unwrap();
    busy.busy();
    let slow = registry.admit(ip("10.0.0.2"), &stop).unwrap();
    let idle = registry.admit(ip("10.0.0.3"), &stop).unwrap();
    // The idle keep-alive waits since its last answer, after the slow one arrived.
    idle.waiting(Instant::now() + Duration::from_millis(1));
    let newcomer = registry.admit(ip("10.0.0.4"), &stop).unwrap();
    assert!(slow.is_closed(), "the slow one is closed");
    assert!(!idle.is_closed() && !busy.is_closed());
    assert_eq!(registry.stats().evicted, 1);
    assert_eq!(registry.stats().open, 3);
    drop(slow); // its task ends later: nothing more to give back
    assert_eq!(registry.stats().open, 3);

    newcomer.busy();
    let next = registry.admit(ip("10.0.0.5"), &stop).unwrap();
    assert!(idle.is_closed(), "then the idle one");
    assert!(!newcomer.is_closed());
    next.busy();
    // Everyone busy: refused, and nobody closed.
    assert_eq!(
        registry.admit(ip("10.0.0.6"), &stop).unwrap_err(),
        Refusal::Full
    );
    assert_eq!(Refusal::Full.status().0, 503);
    assert_eq!(
        registry.stats(),
        Stats {
            open: 3,
            waiting: 0,
            websockets: 0,
            refused: 1,
            evicted: 2,
            websockets_evicted: 0
        }
    );
    // Waiting again (an idle keep-alive), it can make room again.
    next.waiting(Instant::now());
    assert!(registry.evict_longest_waiting());
    assert!(next.is_closed());
    assert!(!registry.evict_longest_waiting(), "nobody else waits");
    // The gateway stopping closes every slot.
    stop.cancel();
    assert!(newcomer.is_closed() && busy.is_closed());
}

#[tokio::test]
async fn an_evicted_slot_is_told_at_once() {
    let stop = CancellationToken::new();
    let registry = Registry::new(limits(1, 10));
    let slow = registry.admit(ip("10.0.0.1"), &stop).unwrap();
    async fn told(slot: &Slot) -> bool {
        tokio::select! {
            biased;
            () = slot.closed() => true,
            () = std::future::ready(()) => false,
        }
    }
    assert!(!told(&slow).await);
    let _newcomer = registry.admit(ip("10.0.0.2"), &stop).unwrap();
    assert!(told(&slow).await, "evicted");
    assert!(told(&slow).await, "and stays so");
}

#[test]
fn websockets_are_capped_in_total_and_per_client_and_given_back_on_drop() {
    let registry = Registry::new(limits(10, 10));
    let a1 = registry.try_websocket(ip("10.0.0.1")).unwrap();
    let _a2 = registry.try_websocket(ip("10.0.0.1")).unwrap();
    assert!(
        registry.try_websocket(ip("10.0.0.1")).is_none(),
        "per client"
    );
    drop(a1);
    let b = registry.try_websocket(ip("10.0.0.2")).unwrap();
    let _c = registry.try_websocket(ip("10.0.0.3")).unwrap();
    assert_eq!(registry.stats().websockets, 3);
    // Nobody holds more than one over what a newcomer holds: the total stands.
    assert!(registry.try_websocket(ip("10.0.0.4")).is_none(), "in total");
    drop(b);
    assert_eq!(registry.stats().websockets, 2);
    let _d = registry.try_websocket(ip("10.0.0.4")).unwrap();
    assert!(
        registry.try_websocket(ip("10.0.0.5")).is_none(),
        "full again"
    );
    assert_eq!(registry.stats().websockets_evicted, 0);
}

#[tokio::test]
async fn a_client_holding_most_makes_room_for_one_holding_fewer() {
    async fn told(permit: &WebSocketPermit) -> bool {
        tokio::select! {
            biased;
            () = permit.evicted() => true,
            () = std::future::ready(()) => false,
        }
    }
    let registry = Registry::new(limits(10, 10));
    // One address at its own cap (2) and another with one: the total (3) is reached.
    let a1 = registry.try_websocket(ip("10.0.0.1")).unwrap();
    let a2 = registry.try_websocket(ip("10.0.0.1")).unwrap();
    let b = registry.try_websocket(ip("10.0.0.2")).unwrap();
    // A newcomer gets one: the oldest of the address holding most is told to close.
    let c = registry.try_websocket(ip("10.0.0.3")).unwrap();
    assert!(told(&a1).await, "the oldest of the one holding most");
    assert!(!told(&a2).await && !told(&b).await && !told(&c).await);
    let stats = registry.stats();
    assert_eq!((stats.websockets, stats.websockets_evicted), (3, 1));
    // Its place was given away when it was told: closing it gives back nothing more.
    drop(a1);
    assert_eq!(registry.stats().websockets, 3);
    // Now each holds one: nobody makes room for anyone, not even the one that lost a socket.
    assert!(registry.try_websocket(ip("10.0.0.1")).is_none());
    assert!(registry.try_websocket(ip("10.0.0.4")).is_none());
    // Behind a trusted proxy, sockets are never taken, and a newcomer there holds none.
    let registry = Registry::new(limits(10, 10)).exempting(|ip| ip == self::ip("10.0.0.9"));
    let p1 = registry.try_websocket(ip("10.0.0.9")).unwrap();
    let p2 = registry.try_websocket(ip("10.0.0.9")).unwrap();
    let p3 = registry.try_websocket(ip("10.0.0.9")).unwrap();
    assert!(registry.try_websocket(ip("10.0.0.1")).is_none());
    assert!(!told(&p1).await && !told(&p2).await && !told(&p3).await);
}

#[test]
fn tallies_log_the_first_then_one_line_per_period_with_the_count() {
    let start = Instant::now();
    let at = |ms: u64| start + Duration::from_millis(ms);
    let mut tally = Tally::new(Duration::from_secs(60));
    assert_eq!(tally.note(at(0)), Some(1));
    for i in 1..=57 {
        assert_eq!(tally.note(at(i * 100)), None);
    }
    assert_eq!(tally.note(at(60_000)), Some(58));
    assert_eq!(tally.note(at(60_001)), None);
    // It stops: the rest is told once the period is over, not before.
    assert_eq!(tally.due(at(60_002)), None);
    assert_eq!(tally.due(at(120_000)), Some(1));
    assert_eq!(tally.due(at(200_000)), None, "nothing left");
    // Coming back and going away quickly does not log more often.
    assert_eq!(tally.note(at(200_001)), Some(1));
    assert_eq!(tally.due(at(200_002)), None);
    assert_eq!(tally.note(at(200_003)), None);
}

#[test]
fn backoff_doubles_up_to_a_second() {
    let mut b = Backoff::default();
    let pauses: Vec<u64> = (0..9).map(|_| b.next_pause().as_millis() as u64).collect();
    assert_eq!(pauses, [10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
    b.reset();
    assert_eq!(b.next_pause(), Duration::from_millis(10));
}
