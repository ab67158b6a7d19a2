use super::*;

/// `bcrypt::hash("secret", 4)` made once; cost 4 keeps tests fast.
fn config(hash: &str) -> AuthConfig {
    AuthConfig {
        enabled: true,
        username: "admin".into(),
        password_hash: hash.into(),
        ..AuthConfig::default()
    }
}

#[test]
fn basic_credentials_decode() {
    assert_eq!(
        basic_credentials(&sense_testkit::basic_auth("admin", "p:ss")),
        Some(("admin".into(), "p:ss".into()))
    );
    assert_eq!(basic_credentials("Bearer x"), None);
    assert_eq!(basic_credentials("Basic !!!"), None);
}

#[tokio::test]
async fn right_wrong_and_missing_credentials() {
    let hash = bcrypt::hash("secret", 4).unwrap();
    let auth = Auth::default();
    let ip: IpAddr = "192.168.1.20".parse().unwrap();
    let right = sense_testkit::basic_auth("admin", "secret");
    let wrong = sense_testkit::basic_auth("admin", "guess");
    let ok = auth
        .check(
            &config(&hash),
            Caller::direct(ip),
            Presented {
                authorization: Some(&right),
                ..Presented::default()
            },
        )
        .await;
    assert_eq!(ok, Ok(Some("admin".into())));
    let bad = auth
        .check(
            &config(&hash),
            Caller::direct(ip),
            Presented {
                authorization: Some(&wrong),
                ..Presented::default()
            },
        )
        .await;
    assert_eq!(
        bad,
        Err(Refusal::Unauthorized("wrong username or password"))
    );
    let none = auth
        .check(&config(&hash), Caller::direct(ip), Presented::default())
        .await;
    assert_eq!(none, Err(Refusal::Unauthorized("credentials required")));
    let off = AuthConfig::default();
    assert_eq!(
        auth.check(&off, Caller::direct(ip), Presented::default())
            .await,
        Ok(None)
    );
}

#[tokio::test]
async fn repeated_failures_are_rate_limited_even_with_the_right_password_after() {
    let hash = bcrypt::hash("secret", 4).unwrap();
    let auth = Auth::default();
    let ip: IpAddr = "10.0.0.9".parse().unwrap();
    let wrong = sense_testkit::basic_auth("admin", "guess");
    for _ in 0..limits::Policy::default().max_failures {
        let _ = auth
            .check(
                &config(&hash),
                Caller::direct(ip),
                Presented {
                    authorization: Some(&wrong),
                    ..Presented::default()
                },
            )
            .await;
    }
    let right = sense_testkit::basic_auth("admin", "secret");
    let r = auth
        .check(
            &config(&hash),
            Caller::direct(ip),
            Presented {
                authorization: Some(&right),
                ..Presented::default()
            },
        )
        .await;
    assert!(matches!(r, Err(Refusal::TooMany(_))), "{r:?}");
    // Another address is not affected.
    let other: IpAddr = "10.0.0.10".parse().unwrap();
    let r = auth
        .check(
            &config(&hash),
            Caller::direct(other),
            Presented {
                authorization: Some(&right),
                ..Presented::default()
            },
        )
        .await;
    assert!(r.is_ok());
}

#[tokio::test]
async fn tailscale_logins_only_from_a_trusted_proxy() {
    let mut c = config("");
    c.trusted_proxies = vec!["127.0.0.1".into()];
    c.tailscale_users = vec!["alice@example.com".into()];
    let auth = Auth::default();
    let login = Presented {
        tailscale_login: Some("alice@example.com"),
        ..Presented::default()
    };
    let trusted = vec!["127.0.0.1".parse().unwrap()];
    let proxy = Caller::new("127.0.0.1".parse().unwrap(), &trusted, None, None);
    let stranger = Caller::new("100.64.0.7".parse().unwrap(), &trusted, None, None);
    assert_eq!(
        auth.check(&c, proxy, login).await,
        Ok(Some("alice@example.com".into()))
    );
    assert!(
        auth.check(&c, stranger, login).await.is_err(),
        "the header from anyone else means nothing"
    );
    let mallory = Presented {
        tailscale_login: Some("mallory@example.com"),
        ..Presented::default()
    };
    assert!(auth.check(&c, proxy, mallory).await.is_err());
}

fn basic(password: &str) -> String {
    sense_testkit::basic_auth("admin", password)
}

/// Sends `logins` (client, password) all at once, as parallel requests would come; their
/// answers in order.
async fn parallel(
    auth: &std::rc::Rc<Auth>,
    config: &AuthConfig,
    logins: Vec<(IpAddr, String)>,
) -> Vec<Result<Option<String>, Refusal>> {
    let tasks: Vec<_> = logins
        .into_iter()
        .map(|(ip, password)| {
            let (auth, config) = (std::rc::Rc::clone(auth), config.clone());
            tokio::task::spawn_local(async move {
                let header = basic(&password);
                let presented = Presented {
                    authorization: Some(&header),
                    ..Presented::default()
                };
                auth.check(&config, Caller::direct(ip), presented).await
            })
        })
        .collect();
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    answers
}

#[tokio::test]
async fn parallel_guesses_run_no_more_checks_than_failures_allowed() {
    let hash = bcrypt::hash("secret", 4).unwrap();
    let auth = std::rc::Rc::new(Auth::default());
    let ip: IpAddr = "10.0.0.9".parse().unwrap();
    let max = limits::Policy::default().max_failures;
    tokio::task::LocalSet::new()
        .run_until(async {
            // Three waves of 20 wrong guesses, then the right password, from one client.
            for _ in 0..3 {
                let mut wave: Vec<(IpAddr, String)> =
                    (0..20).map(|i| (ip, format!("guess{i}"))).collect();
                wave.push((ip, "secret".into()));
                let answers = parallel(&auth, &config(&hash), wave).await;
                let right = answers.last().unwrap();
                assert!(matches!(right, Err(Refusal::TooMany(_))), "{right:?}");
            }
            assert!(
                auth.limits.checks() <= u64::from(max),
                "{} bcrypt checks for {max} failures allowed",
                auth.limits.checks()
            );
            let late = parallel(&auth, &config(&hash), vec![(ip, "secret".into())]).await;
            assert!(matches!(late[0], Err(Refusal::TooMany(_))), "{late:?}");
        })
        .await;
}

#[tokio::test]
async fn a_second_check_in_flight_from_one_client_is_refused_at_once_others_go_on() {
    let hash = bcrypt::hash("secret", 4).unwrap();
    let auth = std::rc::Rc::new(Auth::default());
    let a: IpAddr = "10.0.0.1".parse().unwrap();
    let b: IpAddr = "10.0.0.2".parse().unwrap();
    let login = |ip: IpAddr| {
        let (auth, config) = (std::rc::Rc::clone(&auth), config(&hash));
        tokio::task::spawn_local(async move {
            let header = basic("secret");
            let presented = Presented {
                authorization: Some(&header),
                ..Presented::default()
            };
            auth.check(&config, Caller::direct(ip), presented).await
        })
    };
    tokio::task::LocalSet::new()
        .run_until(async {
            // No check can finish while the permits are held: the first stays in flight.
            let held = auth.limits.hold_permits().await;
            let first = login(a);
            let second = login(a);
            let other = login(b);
            let refused = tokio::time::timeout(Duration::from_secs(10), second)
                .await
                .expect("the second check is answered at once, not queued")
                .unwrap();
            assert_eq!(refused, Err(Refusal::TooMany(Duration::from_secs(1))));
            drop(held);
            assert_eq!(first.await.unwrap(), Ok(Some("admin".into())));
            assert_eq!(
                other.await.unwrap(),
                Ok(Some("admin".into())),
                "another client"
            );
            assert_eq!(auth.limits.checks(), 2);
        })
        .await;
}

#[tokio::test]
async fn checks_beyond_the_permits_and_the_queue_are_refused_without_running() {
    let hash = bcrypt::hash("secret", 4).unwrap();
    let auth = std::rc::Rc::new(Auth::new(Limits::new(limits::Policy {
        permits: 1,
        queue: 2,
        ..limits::Policy::default()
    })));
    tokio::task::LocalSet::new()
        .run_until(async {
            // The permit is busy (held here, so no check can finish early and make room):
            // two checks may wait for it; the other eight are refused at once.
            let held = auth.limits.hold_permits().await;
            let (answers, mut answered) = tokio::sync::mpsc::unbounded_channel();
            for i in 0..10 {
                let (auth, config, answers) =
                    (std::rc::Rc::clone(&auth), config(&hash), answers.clone());
                tokio::task::spawn_local(async move {
                    let header = basic("guess");
                    let presented = Presented {
                        authorization: Some(&header),
                        ..Presented::default()
                    };
                    let client = Caller::direct(IpAddr::from([10, 0, 1, i]));
                    let _ = answers.send(auth.check(&config, client, presented).await);
                });
            }
            for _ in 0..8 {
                let answer = answered.recv().await.unwrap();
                assert!(matches!(answer, Err(Refusal::TooMany(_))), "{answer:?}");
            }
            assert_eq!(
                auth.limits.checks(),
                0,
                "nothing ran while the permit was busy"
            );
            drop(held);
            // The two that waited are checked (and fail: a wrong password).
            for _ in 0..2 {
                let answer = answered.recv().await.unwrap();
                assert_eq!(
                    answer,
                    Err(Refusal::Unauthorized("wrong username or password"))
                );
            }
            assert_eq!(auth.limits.checks(), 2);
            // Refused for being busy is not held against those clients.
            let again = parallel(
                &auth,
                &config(&hash),
                vec![(IpAddr::from([10, 0, 1, 9]), "secret".into())],
            )
            .await;
            assert_eq!(again[0], Ok(Some("admin".into())));
        })
        .await;
}

#[tokio::test]
async fn many_failures_from_all_clients_slow_checks_but_lock_nobody_else_out() {
    let hash = bcrypt::hash("secret", 4).unwrap();
    let policy = limits::Policy {
        slow_after: 6,
        slow_delay: Duration::from_millis(1),
        ..limits::Policy::default()
    };
    let permits = policy.permits;
    let auth = std::rc::Rc::new(Auth::new(Limits::new(policy)));
    tokio::task::LocalSet::new()
        .run_until(async {
            assert_eq!(auth.limits.permits_needed(), 1);
            // Two attackers, three guesses each (under their own limit).
            for round in 0..3 {
                let guesses = (1..=2)
                    .map(|i| (IpAddr::from([198, 51, 100, i]), format!("guess{round}")))
                    .collect();
                parallel(&auth, &config(&hash), guesses).await;
            }
            assert!(auth.limits.slowed());
            // A check now takes every permit: they run one at a time.
            assert_eq!(auth.limits.permits_needed(), permits);
            // The owner, from their own address, still signs in.
            let owner = IpAddr::from([192, 168, 1, 20]);
            let answers = parallel(&auth, &config(&hash), vec![(owner, "secret".into())]).await;
            assert_eq!(answers[0], Ok(Some("admin".into())));
        })
        .await;
}

#[test]
fn origins_must_be_this_host_or_allowed() {
    assert_eq!(check_origin(None, Some("pi:8080"), &[]), Ok(()));
    assert_eq!(
        check_origin(Some("http://pi:8080"), Some("pi:8080"), &[]),
        Ok(())
    );
    assert!(check_origin(Some("https://evil.example"), Some("pi:8080"), &[]).is_err());
    assert_eq!(
        check_origin(
            Some("http://localhost:5173"),
            Some("pi:8080"),
            &["http://localhost:5173".into()]
        ),
        Ok(())
    );
}

#[test]
fn commands_are_rate_limited_per_address() {
    let auth = Auth::default();
    let ip: IpAddr = "10.1.1.1".parse().unwrap();
    for _ in 0..MAX_COMMANDS {
        assert!(auth.command(ip).is_ok());
    }
    assert!(matches!(auth.command(ip), Err(Refusal::TooMany(_))));
}
