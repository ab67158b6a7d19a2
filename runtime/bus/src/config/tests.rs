use std::collections::HashMap;

use serde_json::{Map, Value as Json, json};

use super::*;
use crate::ids::SourceId;

fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |name: &str| map.get(name).cloned()
}

fn no_env(_: &str) -> Option<String> {
    None
}

fn object(v: Json) -> Map<String, Json> {
    v.as_object().expect("object").clone()
}

#[test]
fn nothing_stored_and_no_environment_gives_the_defaults() {
    let r = resolve::<ScheduleConfig>(None, &no_env);
    assert_eq!(r.value, ScheduleConfig::default());
    assert!(r.problems.is_empty());
    assert_eq!(r.value.interval(SourceId::Co2), Some(60));
    assert_eq!(r.value.interval(SourceId::NetworkCamera), None);
}

#[test]
fn explain_says_where_each_value_comes_from() {
    let env = env_of(&[
        ("SCHEDULE_SYSTEM", "15"),
        ("SCHEDULE_WEATHER", "600"),
        ("SCHEDULE_PIHOLE", "-1"),
    ]);
    // weather from Redis over the environment; tailscale stored but refused.
    let e = explain::<ScheduleConfig>(Some(r#"{"weather": 900, "tailscale": -2}"#), &env, false);
    let origin = |field: &str| {
        e.origins
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, o)| *o)
            .unwrap()
    };
    assert_eq!(origin("weather"), Origin::Stored);
    assert_eq!(origin("system"), Origin::Env("SCHEDULE_SYSTEM"));
    assert_eq!(origin("pihole"), Origin::Default);
    assert_eq!(origin("tailscale"), Origin::Default);
    assert_eq!(e.value["weather"], 900);
    assert_eq!(e.value["system"], 15);
    assert_eq!(e.origins.len(), e.value.len());
    assert_eq!(e.problems.len(), 2, "{:?}", e.problems);
    assert_eq!(
        Origin::Env("SCHEDULE_SYSTEM").to_string(),
        "environment (SCHEDULE_SYSTEM)"
    );

    // Secrets redacted, their origin still said.
    let env = env_of(&[("PIHOLE_PASSWORD", "hunter2")]);
    let e = explain_by_name(SectionName::Pihole, None, &env, true);
    assert_eq!(e.value["password"], REDACTED);
    assert!(
        e.origins
            .contains(&("password".to_owned(), Origin::Env("PIHOLE_PASSWORD")))
    );
}

#[test]
fn wrong_types_are_said_without_rust_type_names() {
    for (section, patch, expected) in [
        (
            SectionName::Aranet4,
            json!({"timeout": "abc"}),
            "aranet4.timeout: must be a whole number, 0 or more (got \"abc\")",
        ),
        (
            SectionName::Aranet4,
            json!({"sensors": ["x"]}),
            "aranet4.sensors[0]: must be an object of fields (got \"x\")",
        ),
        (
            SectionName::Aranet4,
            json!({"sensors": "x"}),
            "aranet4.sensors: must be a list (got \"x\")",
        ),
        (
            SectionName::Display,
            json!({"scroll_speed": "fast"}),
            "display.scroll_speed: must be a number (got \"fast\")",
        ),
        (
            SectionName::Display,
            json!({"show_icons": 1}),
            "display.show_icons: must be a boolean (got 1)",
        ),
        (
            SectionName::Aranet4,
            json!({"sensors": [{"label": "a:b", "mac": "AA:BB:CC:DD:EE:FF"}]}),
            "aranet4.sensors[0].label: must not contain : (none of : * ? [ ] \\ may be in a label)",
        ),
    ] {
        let err = check_update_by_name(section, None, &object(patch), &no_env).unwrap_err();
        assert_eq!(err.to_string(), expected);
    }
}

#[test]
fn redis_wins_over_environment_which_wins_over_defaults() {
    let env = env_of(&[("SCHEDULE_SYSTEM", "15"), ("SCHEDULE_WEATHER", "600")]);
    let r = resolve::<ScheduleConfig>(Some(r#"{"weather": 900}"#), &env);
    assert_eq!(
        (r.value.system, r.value.weather, r.value.pihole),
        (15, 900, 30)
    );
    assert!(r.problems.is_empty(), "{:?}", r.problems);
}

#[test]
fn non_json_config_is_reported_and_the_defaults_are_used() {
    let r = resolve::<ScheduleConfig>(Some("system=10"), &no_env);
    assert_eq!(r.value, ScheduleConfig::default());
    assert_eq!(r.problems.len(), 1);
    assert!(
        r.problems[0].starts_with("config:schedule is not valid JSON"),
        "{}",
        r.problems[0]
    );

    let r = resolve::<ScheduleConfig>(Some("[1,2]"), &no_env);
    assert!(
        r.problems[0].contains("is a list, not a JSON object"),
        "{}",
        r.problems[0]
    );
}

#[test]
fn an_out_of_range_field_falls_back_alone_and_is_named() {
    let r = resolve::<ScheduleConfig>(Some(r#"{"system": -5, "weather": 600}"#), &no_env);
    assert_eq!(r.value.system, 30, "default kept");
    assert_eq!(r.value.weather, 600, "the valid field still applies");
    assert_eq!(r.problems.len(), 1);
    let p = &r.problems[0];
    assert!(p.starts_with("config:schedule.system: "), "{p}");
    assert!(p.ends_with("; using 30"), "{p}");

    let r = resolve::<ScheduleConfig>(Some(r#"{"system": 2}"#), &no_env);
    assert_eq!(
        r.problems,
        ["config:schedule.system: must be between 5 and 86400 s (got 2); using 30"]
    );
}

#[test]
fn unknown_fields_are_reported_by_name() {
    let r = resolve::<DisplayConfig>(Some(r#"{"rotaton": 90}"#), &no_env);
    assert_eq!(r.value.rotation, 0);
    assert!(
        r.problems[0].starts_with("config:display.rotaton: unknown field"),
        "{:?}",
        r.problems
    );
}

#[test]
fn environment_problems_name_the_variable_and_hide_secrets() {
    let env = env_of(&[
        ("DISPLAY_ROTATION", "45"),
        ("SCROLL_SPEED", "fast"),
        ("SHOW_ICONS", "maybe"),
        ("ICON_DURATION", "2.5"),
    ]);
    let r = resolve::<DisplayConfig>(None, &env);
    assert_eq!(r.value.icon_duration, 2.5);
    assert_eq!(r.value.rotation, 0);
    let all = r.problems.join("\n");
    assert!(
        all.contains("DISPLAY_ROTATION=\"45\": must be one of 0, 90, 180, 270"),
        "{all}"
    );
    assert!(
        all.contains("SCROLL_SPEED=\"fast\" is not a number"),
        "{all}"
    );
    assert!(
        all.contains("SHOW_ICONS=\"maybe\" is not a boolean"),
        "{all}"
    );

    let env = env_of(&[("AUTH_PASSWORD_HASH", "hunter2")]);
    let r = resolve::<AuthConfig>(None, &env);
    assert_eq!(r.value.password_hash, "");
    assert!(
        r.problems[0].contains("AUTH_PASSWORD_HASH=(secret)"),
        "{:?}",
        r.problems
    );
    assert!(!r.problems[0].contains("hunter2"));

    // Nor is a variable for a field holding secrets: the camera list and its passwords.
    for cameras in [
        r#"[{"name":"a","host":"h","port":0,"password":"hunter2"}]"#,
        r#"[{"name":"a","host":"h","password":"hunter2"},]"#,
    ] {
        let vars = [("CAMERA_CONFIG", cameras)];
        let r = resolve::<CameraConfig>(None, &env_of(&vars));
        assert!(r.value.cameras.is_empty());
        assert_eq!(r.problems.len(), 1, "{:?}", r.problems);
        assert!(
            r.problems[0].starts_with("CAMERA_CONFIG=(not shown: it holds secrets)"),
            "{:?}",
            r.problems
        );
        assert!(!r.problems[0].contains("hunter2"), "{:?}", r.problems);
    }
}

#[test]
fn a_long_url_in_force_is_cut_short_after_its_password_is_hidden() {
    // A stored value refused names the value used instead: the environment's, here a URL with a
    // password long enough to reach past the cut.
    let url = "http://admin:a-long-app-password-0123456789abcdefghij@pi.hole";
    let vars = [("PIHOLE_HOST", url)];
    let r = resolve::<PiholeConfig>(Some(r#"{"host": 5}"#), &env_of(&vars));
    assert_eq!(r.value.host, url);
    assert_eq!(
        r.problems,
        ["config:pihole.host: must be a string (got 5); using \"http://admin:***@pi.hole\""]
    );
    let r = resolve::<WeatherConfig>(
        Some(r#"{"base_url": 5}"#),
        &env_of(&[(
            "WEATHER_BASE_URL",
            "https://me:a-long-password-to-reach-past-the-cut-0123456789@wttr.example/path/to/somewhere",
        )]),
    );
    assert!(!r.problems[0].contains("a-long"), "{:?}", r.problems);
    assert!(
        r.problems[0].contains("https://me:***@wttr.example/"),
        "{:?}",
        r.problems
    );
}

const HASH: &str = "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW";

#[test]
fn cross_field_rules_pass_when_the_fields_arrive_together() {
    let stored = json!({"enabled": true, "username": "admin", "password_hash": HASH}).to_string();
    let r = resolve::<AuthConfig>(Some(&stored), &no_env);
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    assert!(r.value.enabled);

    // The same from the environment, whatever the order of the variables.
    let env = env_of(&[
        ("AUTH_ENABLED", "true"),
        ("AUTH_USERNAME", "admin"),
        ("AUTH_PASSWORD_HASH", HASH),
    ]);
    let r = resolve::<AuthConfig>(None, &env);
    assert!(r.problems.is_empty() && r.value.enabled, "{:?}", r.problems);

    // Enabled without credentials would lock everyone out: refused, the rest kept.
    let r = resolve::<AuthConfig>(Some(r#"{"enabled": true, "username": "admin"}"#), &no_env);
    assert!(!r.value.enabled);
    assert_eq!(r.value.username, "admin");
    assert!(
        r.problems[0].starts_with("config:auth.enabled: cannot be true"),
        "{:?}",
        r.problems
    );
}

#[test]
fn allowed_hosts_are_host_names_or_wildcards() {
    let ok = json!({"allowed_hosts": ["pi.example.com", "*.home.arpa", "raspberrypi:8080", "*"]});
    let r = resolve::<AuthConfig>(Some(&ok.to_string()), &no_env);
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    assert_eq!(r.value.allowed_hosts.len(), 4);
    for bad in [
        "",
        "http://pi/",
        "pi example",
        "a,b",
        "pi:",
        "*.",
        "evil@pi",
    ] {
        let err = check_update::<AuthConfig>(
            None,
            &object(json!({"allowed_hosts": ["ok.example.com", bad]})),
            &no_env,
        )
        .unwrap_err();
        assert_eq!(err.field, "auth.allowed_hosts[1]", "{bad:?}");
    }
}

#[test]
fn updates_are_all_or_nothing_and_name_the_field() {
    let err =
        check_update::<DisplayConfig>(None, &object(json!({"rotation": 45})), &no_env).unwrap_err();
    assert_eq!(err.field, "display.rotation");
    assert_eq!(
        err.to_string(),
        "display.rotation: must be one of 0, 90, 180, 270 (got 45)"
    );

    let stored = r#"{"scroll_speed": 0.05}"#;
    let checked =
        check_update::<DisplayConfig>(Some(stored), &object(json!({"rotation": 90})), &no_env)
            .unwrap();
    assert_eq!(
        Json::Object(checked.to_store),
        json!({"scroll_speed": 0.05, "rotation": 90})
    );
    assert!(checked.warnings.is_empty(), "{:?}", checked.warnings);

    let err = check_update_by_name(
        SectionName::Schedule,
        None,
        &object(json!({"weather": 600, "system": "often"})),
        &no_env,
    )
    .unwrap_err();
    assert_eq!(err.field, "schedule.system");
    assert_eq!(
        err.message, "must be a whole number, 0 or more (got \"often\")",
        "{err}"
    );
}

/// `check_update` of `patch` (JSON) over `stored`, without an environment.
fn update<S: Section>(stored: &Json, patch: Json) -> Result<CheckedUpdate, FieldError> {
    check_update::<S>(Some(&stored.to_string()), &object(patch), &no_env)
}

fn messages(warnings: &[FieldError]) -> Vec<String> {
    warnings.iter().map(ToString::to_string).collect()
}

#[test]
fn an_invalid_stored_field_does_not_block_writes_of_others_and_is_kept() {
    // Upstream's gateway writes `rotation: 45` unvalidated.
    let stored = json!({"rotation": 45, "scroll_speed": 0.05});
    let checked = update::<DisplayConfig>(&stored, json!({"low_light": true})).unwrap();
    assert_eq!(
        Json::Object(checked.to_store.clone()),
        json!({"rotation": 45, "scroll_speed": 0.05, "low_light": true}),
        "the bad value stays stored for the user to fix"
    );
    assert_eq!(
        messages(&checked.warnings),
        ["display.rotation: must be one of 0, 90, 180, 270 (got 45)"],
        "in the words a refused write of it would use"
    );
    assert_eq!(checked.warnings[0].field, "display.rotation");

    // Readers go on as before: the next layer's value, and a problem naming the field.
    let text = Json::Object(checked.to_store).to_string();
    let r = resolve::<DisplayConfig>(Some(&text), &no_env);
    assert_eq!(r.value.rotation, 0);
    assert!(r.value.low_light);
    assert_eq!(
        r.problems,
        ["config:display.rotation: must be one of 0, 90, 180, 270 (got 45); using 0"]
    );
    let env = env_of(&[("DISPLAY_ROTATION", "180")]);
    assert_eq!(
        resolve::<DisplayConfig>(Some(&text), &env).value.rotation,
        180
    );

    // Writing the field fixes it, and the warning is gone.
    let checked = update::<DisplayConfig>(&stored, json!({"rotation": 90})).unwrap();
    assert_eq!(checked.to_store["rotation"], 90);
    assert!(checked.warnings.is_empty(), "{:?}", checked.warnings);

    // A written field is still judged strictly, naming it, whatever else is stored.
    for (patch, field) in [
        (json!({"rotation": 45}), "display.rotation"),
        (json!({"low_light": "yes"}), "display.low_light"),
        (
            json!({"scroll_speed": 5, "low_light": true}),
            "display.scroll_speed",
        ),
        (json!({"rotaton": 90}), "display.rotaton"),
    ] {
        let e = update::<DisplayConfig>(&stored, patch.clone()).unwrap_err();
        assert_eq!(e.field, field, "{patch}");
    }
    let e = update::<DisplayConfig>(&stored, json!({"rotation": 45})).unwrap_err();
    assert_eq!(
        e.to_string(),
        "display.rotation: must be one of 0, 90, 180, 270 (got 45)"
    );

    // Several bad stored fields are each reported; an unknown one (a newer or older tool's)
    // is kept too.
    let stored = json!({"rotation": 45, "icon_duration": -1, "rotaton": 90});
    let checked = update::<DisplayConfig>(&stored, json!({"cycle_interval": 10})).unwrap();
    let fields: Vec<&str> = checked.warnings.iter().map(|w| w.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "display.icon_duration",
            "display.rotation",
            "display.rotaton"
        ]
    );
    assert_eq!(checked.to_store.len(), 4);

    // Nothing stored, or a stored text that is not an object: nothing to keep or warn about.
    let checked =
        check_update::<DisplayConfig>(Some("[1]"), &object(json!({"rotation": 90})), &no_env)
            .unwrap();
    assert!(checked.warnings.is_empty());
    assert_eq!(Json::Object(checked.to_store), json!({"rotation": 90}));
}

#[test]
fn a_list_is_judged_whole_when_written_and_kept_when_not() {
    let bad = json!({"label": "office", "mac": "zz"});
    let good = json!({"label": "bedroom", "mac": "11:22:33:44:55:66"});
    let stored = json!({"sensors": [good.clone(), bad.clone()], "timeout": 10});

    // Another field: written, with the bad entry named and kept.
    let checked = update::<Aranet4Config>(&stored, json!({"timeout": 20})).unwrap();
    assert_eq!(checked.to_store["sensors"], stored["sensors"]);
    assert_eq!(checked.to_store["timeout"], 20);
    assert_eq!(
        messages(&checked.warnings),
        ["aranet4.sensors[1].mac: must be a Bluetooth address like AA:BB:CC:DD:EE:FF (got \"zz\")"]
    );

    // Writing one entry writes the list: sent back with the bad entry, it is refused, naming it.
    let renamed = json!({"label": "bed", "mac": "11:22:33:44:55:66"});
    let e =
        update::<Aranet4Config>(&stored, json!({"sensors": [renamed.clone(), bad]})).unwrap_err();
    assert_eq!(e.field, "aranet4.sensors[1].mac");
    // With the entry fixed (or removed) it goes in, and nothing is left to warn about.
    let fixed = json!({"label": "office", "mac": "AA:BB:CC:DD:EE:FF"});
    let checked = update::<Aranet4Config>(&stored, json!({"sensors": [renamed, fixed]})).unwrap();
    assert!(checked.warnings.is_empty(), "{:?}", checked.warnings);
    // A rule across entries (no label twice) is judged on the list written.
    let e = update::<Aranet4Config>(&stored, json!({"sensors": [good.clone(), good]})).unwrap_err();
    assert_eq!(e.field, "aranet4.sensors[1].label");
}

#[test]
fn a_stored_camera_list_with_a_bad_entry_keeps_its_secrets_and_never_quotes_them() {
    let stored = json!({"cameras": [
        {"name": "door", "host": "10.0.0.5", "password": "s3cret-door"},
        {"name": "yard", "host": "bad host", "password": 31_415_926_535_u64},
    ]});
    let checked = update::<CameraConfig>(&stored, json!({"transport": "udp"})).unwrap();
    assert_eq!(
        checked.to_store["cameras"], stored["cameras"],
        "kept as stored, passwords and all"
    );
    assert_eq!(checked.warnings.len(), 1, "{:?}", checked.warnings);
    let w = checked.warnings[0].to_string();
    assert!(w.starts_with("camera.cameras[1]."), "{w}");
    assert!(!w.contains("31415926535") && !w.contains("s3cret"), "{w}");

    // The cameras shown (the fallback: none) are what a write of the list is judged against:
    // one sent back with a masked password has no saved password to take.
    let e = {
        let mut patch = object(json!({"cameras": [
            {"name": "door", "host": "10.0.0.5", "password": REDACTED},
        ]}));
        restore_redacted_by_name(
            SectionName::Camera,
            &mut patch,
            Some(&stored.to_string()),
            &no_env,
        )
        .unwrap_err()
    };
    assert_eq!(e.field, "camera.cameras[0].password");
}

#[test]
fn auth_is_checked_whole_as_it_is_used() {
    // Sign-in fails closed: an auth section left invalid is not in force at all, so a write
    // that leaves a stored field invalid is refused, naming it.
    let stored = json!({"username": "a:b"});
    let e =
        update::<AuthConfig>(&stored, json!({"allowed_hosts": ["pi.example.com"]})).unwrap_err();
    assert_eq!(e.field, "auth.username");
    let checked = update::<AuthConfig>(&stored, json!({"username": "ab"})).unwrap();
    assert!(checked.warnings.is_empty());
    // And a rule across fields is judged with what is stored.
    let stored = json!({"enabled": true, "trusted_proxies": ["127.0.0.1"]});
    let e = update::<AuthConfig>(&stored, json!({"trusted_proxies": []})).unwrap_err();
    assert_eq!(e.field, "auth.enabled");
}

#[test]
fn aranet4_accepts_legacy_keys_and_refuses_bad_sensors() {
    let legacy = json!({"sensors": [
        {"label": "Office", "mac_address": "aa:bb:cc:dd:ee:ff", "enabled": false},
        {"label": "bedroom", "mac": "11:22:33:44:55:66"}
    ]});
    let c: Aranet4Config = check_section(&object(legacy)).unwrap();
    assert_eq!(c.sensors[0].mac, "aa:bb:cc:dd:ee:ff");
    assert!(!c.sensors[0].enabled);
    assert!(c.sensors[1].enabled, "enabled defaults to true");

    let bad_mac = json!({"sensors": [
        {"label": "a", "mac": "AA:BB:CC:DD:EE:FF"},
        {"label": "b", "mac": "AA:BB:CC:DD:EE"}
    ]});
    let err = check_section::<Aranet4Config>(&object(bad_mac)).unwrap_err();
    assert_eq!(err.field, "aranet4.sensors[1].mac");

    let twice = json!({"sensors": [
        {"label": "a", "mac": "AA:BB:CC:DD:EE:FF"},
        {"label": "b", "mac": "aa:bb:cc:dd:ee:ff"}
    ]});
    let err = check_section::<Aranet4Config>(&object(twice)).unwrap_err();
    assert!(
        err.message.contains("already configured as sensors[0]"),
        "{err}"
    );

    let colon = json!({"sensors": [{"label": "a:b", "mac": "AA:BB:CC:DD:EE:FF"}]});
    assert_eq!(
        check_section::<Aranet4Config>(&object(colon))
            .unwrap_err()
            .field,
        "aranet4.sensors[0].label"
    );
}

#[test]
fn camera_hosts_cannot_smuggle_anything_into_a_url() {
    for host in [
        "cam; rm -rf /",
        "$(reboot)",
        "cam\nx",
        "user:pw@cam",
        "cam/path",
        "rtsp://cam",
        "",
    ] {
        let cfg = json!({"cameras": [{"name": "c", "host": host}]});
        let err = check_section::<CameraConfig>(&object(cfg)).unwrap_err();
        assert_eq!(err.field, "camera.cameras[0].host", "{host:?}");
    }
    let ok = json!({"cameras": [{"name": "c", "host": "192.168.1.111", "password": "p$w;rd"}]});
    let c: CameraConfig = check_section(&object(ok)).unwrap();
    assert_eq!(c.cameras[0].port, 554);
    let newline = json!({"cameras": [{"name": "c", "host": "cam", "password": "a\nb"}]});
    assert_eq!(
        check_section::<CameraConfig>(&object(newline))
            .unwrap_err()
            .field,
        "camera.cameras[0].password"
    );
}

#[test]
fn secrets_are_redacted_and_never_in_debug_output() {
    let mut config = Config::default();
    config.pihole.password = "hunter2".into();
    config.auth.password_hash = HASH.into();
    config.mqtt.password = "hunter2".into();
    let shown = config.redacted_json();
    assert_eq!(shown["pihole"]["password"], REDACTED);
    assert_eq!(shown["auth"]["password_hash"], REDACTED);
    assert_eq!(shown["mqtt"]["password"], REDACTED);
    assert!(!format!("{config:?}").contains("hunter2"));
}

#[test]
fn sleep_hours_wrap_midnight_and_equal_hours_never_sleep() {
    let night = SleepConfig {
        start_hour: 23,
        end_hour: 7,
        disable_pi_leds: false,
    };
    assert!(night.is_asleep(23) && night.is_asleep(0) && night.is_asleep(6));
    assert!(!night.is_asleep(7) && !night.is_asleep(22));
    let afternoon = SleepConfig {
        start_hour: 13,
        end_hour: 15,
        disable_pi_leds: false,
    };
    assert!(afternoon.is_asleep(14) && !afternoon.is_asleep(15));
    let never = SleepConfig {
        start_hour: 5,
        end_hour: 5,
        disable_pi_leds: false,
    };
    assert!((0..24).all(|h| !never.is_asleep(h)));
}

#[test]
fn bcrypt_hashes_are_recognised() {
    assert!(is_bcrypt_hash(HASH));
    assert!(!is_bcrypt_hash("hunter2"));
    assert!(!is_bcrypt_hash(&HASH.replace("$12$", "$99$")));
    // A multibyte character across the cost's second digit (found by the config fuzz target: it
    // panicked slicing the text there), 60 bytes in all.
    let odd = format!("$2b$1\u{3c7}{}", &HASH[7..]);
    assert_eq!(odd.len(), 60);
    assert!(!is_bcrypt_hash(&odd));
}

#[test]
fn resolving_several_sections_collects_their_problems() {
    let stored = |s: SectionName| match s {
        SectionName::Schedule => Some(r#"{"system": -5}"#.to_owned()),
        SectionName::Global => Some(r#"{"cache_ttl": 120}"#.to_owned()),
        _ => None,
    };
    let (config, problems) = Config::resolve(
        &[SectionName::Global, SectionName::Schedule],
        stored,
        &no_env,
    );
    assert_eq!(config.global.cache_ttl, 120);
    assert_eq!(config.schedule.system, 30);
    assert_eq!(problems.len(), 1);
}

mod secrets {
    //! Secrets are shown redacted and come back redacted: restored only for the endpoint they
    //! were given for, and never quoted in a problem.
    use super::*;

    fn cameras() -> CameraConfig {
        let camera = |name: &str, host: &str, user: &str, password: &str| {
            serde_json::from_value::<CameraEntry>(json!({
                "name": name, "host": host, "username": user, "password": password
            }))
            .unwrap()
        };
        CameraConfig {
            cameras: vec![
                camera("Door", "10.0.0.5", "admin", "door-pass"),
                camera("Garden", "10.0.0.6", "admin", "garden-pass"),
            ],
            ..CameraConfig::default()
        }
    }

    /// What a dashboard that loaded `current` sends back after editing: every password redacted.
    fn shown(current: &CameraConfig) -> Vec<Json> {
        let mut c = current.clone();
        c.redact();
        c.cameras
            .iter()
            .map(|c| serde_json::to_value(c).unwrap())
            .collect()
    }

    fn restore(list: Vec<Json>, current: &CameraConfig) -> Result<Vec<String>, FieldError> {
        let mut patch = object(json!({ "cameras": list }));
        CameraConfig::restore_redacted(&mut patch, current)?;
        Ok(patch["cameras"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["password"].as_str().unwrap().to_owned())
            .collect())
    }

    #[test]
    fn renamed_reordered_added_and_removed_cameras_keep_their_own_passwords() {
        let current = cameras();
        let mut list = shown(&current);
        // Renamed.
        list[0]["name"] = json!("Front door");
        assert_eq!(
            restore(list.clone(), &current).unwrap(),
            ["door-pass", "garden-pass"]
        );
        // Reordered.
        list.reverse();
        assert_eq!(
            restore(list.clone(), &current).unwrap(),
            ["garden-pass", "door-pass"]
        );
        // One added with its own password, one removed.
        list.remove(0);
        list.push(json!({"name": "Garage", "host": "10.0.0.7", "password": "new"}));
        assert_eq!(restore(list, &current).unwrap(), ["door-pass", "new"]);
    }

    #[test]
    fn a_camera_moved_to_another_address_or_user_must_be_given_its_password_again() {
        let current = cameras();
        for (field, value) in [
            ("host", json!("attacker.example")),
            ("port", json!(8554)),
            ("username", json!("root")),
            ("onvif_port", json!(8080)),
        ] {
            let mut list = shown(&current);
            list[1][field] = value;
            let e = restore(list, &current).unwrap_err();
            assert_eq!(e.field, "cameras[1].password", "{field}");
            assert!(e.message.contains("Garden"), "{e}");
            assert!(!e.message.contains("garden-pass"));
        }
    }

    #[test]
    fn the_pihole_password_follows_only_its_own_address() {
        let current = PiholeConfig {
            host: "http://pi.hole".into(),
            password: "hunter2".into(),
        };
        let restore = |patch: Json| {
            let mut patch = object(patch);
            PiholeConfig::restore_redacted(&mut patch, &current).map(|()| patch)
        };
        // Same endpoint: the redacted value is dropped, so the stored one stays.
        let kept = restore(json!({"host": "http://pi.hole/admin", "password": REDACTED})).unwrap();
        assert!(!kept.contains_key("password"));
        // A new endpoint with the password redacted or left out: refused, naming it.
        for patch in [
            json!({"host": "http://attacker", "password": REDACTED}),
            json!({"host": "http://attacker"}),
            json!({"host": "https://pi.hole", "password": REDACTED}),
            json!({"host": "http://pi.hole:8080"}),
        ] {
            let e = restore(patch.clone()).unwrap_err();
            assert_eq!(e.field, "password", "{patch}");
        }
        // A new endpoint with a new password (or none) is fine.
        assert!(restore(json!({"host": "http://other", "password": "x"})).is_ok());
        assert!(restore(json!({"host": "http://other", "password": ""})).is_ok());
    }

    #[test]
    fn a_secret_of_the_wrong_type_is_never_quoted() {
        for (section, patch) in [
            (SectionName::Pihole, json!({"password": 31_415_926_535_u64})),
            (
                SectionName::Auth,
                json!({"password_hash": 31_415_926_535_u64}),
            ),
            (
                SectionName::Camera,
                json!({"cameras": [{"name": "a", "host": "h", "password": 31_415_926_535_u64}]}),
            ),
            (
                SectionName::Camera,
                json!({"cameras": "rtsp://u:31415926535@h"}),
            ),
        ] {
            let e =
                check_update_by_name(section, None, &object(patch.clone()), &no_env).unwrap_err();
            assert!(!e.to_string().contains("31415926535"), "{section}: {e}");
            let stored = patch.to_string();
            let r = resolve_by_name(section, Some(&stored), &no_env, true);
            for p in &r.problems {
                assert!(!p.contains("31415926535"), "{section}: {p}");
            }
            assert!(!r.problems.is_empty());
        }
        // A URL's password is hidden in a problem about another field.
        let e = check_update_by_name(
            SectionName::Weather,
            None,
            &object(json!({"base_url": "ftp://me:31415926535@x"})),
            &no_env,
        )
        .unwrap_err();
        assert!(!e.to_string().contains("31415926535"), "{e}");
    }

    #[test]
    fn revisions_change_with_the_stored_text() {
        assert_eq!(revision(None), "none");
        assert_eq!(revision(Some("{}")), revision(Some("{}")));
        assert_ne!(revision(Some("{}")), revision(Some("{ }")));
    }
}

#[test]
fn trusted_proxies_take_addresses_and_ranges_from_config_or_environment() {
    let r = resolve::<AuthConfig>(
        Some(r#"{"trusted_proxies": ["127.0.0.1", "172.30.0.0/16", "fd00::/8"]}"#),
        &no_env,
    );
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    assert_eq!(r.value.trusted_proxies.len(), 3);

    // Comma-separated or a JSON list.
    let env = env_of(&[("TRUSTED_PROXIES", " 172.30.0.0/24, 127.0.0.1 ,")]);
    let r = resolve::<AuthConfig>(None, &env);
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    assert_eq!(r.value.trusted_proxies, ["172.30.0.0/24", "127.0.0.1"]);
    let env = env_of(&[("TRUSTED_PROXIES", r#"["10.0.0.1"]"#)]);
    assert_eq!(
        resolve::<AuthConfig>(None, &env).value.trusted_proxies,
        ["10.0.0.1"]
    );

    // A bad entry is refused naming the field and saying what was meant.
    let env = env_of(&[("TRUSTED_PROXIES", "traefik")]);
    let r = resolve::<AuthConfig>(None, &env);
    assert!(r.value.trusted_proxies.is_empty());
    assert!(
        r.problems[0]
            .starts_with("TRUSTED_PROXIES=\"traefik\": must be an IP address or a CIDR range"),
        "{:?}",
        r.problems
    );
    let err = check_update::<AuthConfig>(
        None,
        &object(json!({"trusted_proxies": ["172.30.5.1/16"]})),
        &no_env,
    )
    .unwrap_err();
    assert_eq!(err.field, "auth.trusted_proxies[0]");
    assert!(err.message.contains("did you mean 172.30.0.0/16?"), "{err}");
}

mod alerts {
    //! `config:alerts`: the defaults out of the box, refusals naming the field, the ntfy token and
    //! the webhook's URL (secrets).
    use super::*;

    #[test]
    fn the_defaults_alert_on_co2_cpu_and_battery_and_send_nowhere() {
        let c = resolve::<AlertsConfig>(None, &no_env).value;
        assert!(c.enabled);
        let ids: Vec<&str> = c.rules.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["co2-high", "cpu-hot", "aranet-battery"]);
        let co2 = &c.rules[0];
        assert_eq!(
            (
                co2.sensor.as_str(),
                co2.threshold,
                co2.for_s,
                co2.hysteresis
            ),
            ("*:co2", 1400.0, 300, 100.0)
        );
        assert_eq!(co2.condition, AlertCondition::Above);
        assert_eq!(c.rules[2].condition, AlertCondition::Below);
        assert_eq!((c.source_down.enabled, c.source_down.minutes), (true, 10));
        assert_eq!((c.bus_down.enabled, c.bus_down.seconds), (true, 60));
        assert!(!c.ntfy.enabled && !c.webhook.enabled);
        assert_eq!(c.ntfy.url, "https://ntfy.sh");
        assert!(c.validate().is_ok());
        // The documented shape reads back as the defaults.
        let text = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<AlertsConfig>(&text).unwrap(), c);
    }

    #[test]
    fn bad_rules_and_channels_are_refused_naming_the_field() {
        let rule = json!({"id": "hot", "name": "Hot", "source": "system", "sensor": "cpu_temp",
                          "condition": "above", "threshold": 70});
        let with = |field: &str, value: Json| {
            let mut r = rule.clone();
            r[field] = value;
            json!({ "rules": [r] })
        };
        for (patch, field, words) in [
            (with("id", json!("Hot!")), "alerts.rules[0].id", "a-z, 0-9"),
            (with("name", json!("")), "alerts.rules[0].name", "1 to 64"),
            (
                with("source", json!("aranet4")),
                "alerts.rules[0].source",
                "co2",
            ),
            (
                with("source", json!("aranet4@kitchen")),
                "alerts.rules[0].source",
                "co2",
            ),
            (
                with("source", json!("co2@Kitchen")),
                "alerts.rules[0].source",
                "must name a Pi after @",
            ),
            (
                with("source", json!("co2@")),
                "alerts.rules[0].source",
                "is empty",
            ),
            (
                with("source", json!("weather@kitchen")),
                "alerts.rules[0].source",
                "runs on the hub only",
            ),
            (
                with("sensor", json!("cpu temp")),
                "alerts.rules[0].sensor",
                "no spaces",
            ),
            (
                with("condition", json!("over")),
                "alerts.rules[0].condition",
                "",
            ),
            (
                with("threshold", json!("high")),
                "alerts.rules[0].threshold",
                "number",
            ),
            (
                with("for_s", json!(-5)),
                "alerts.rules[0].for_s",
                "negative",
            ),
            (
                with("hysteresis", json!(-1)),
                "alerts.rules[0].hysteresis",
                "0 or more",
            ),
            (
                json!({"rules": [rule, rule]}),
                "alerts.rules[1].id",
                "already used by rules[0]",
            ),
            (
                json!({"source_down": {"minutes": 0}}),
                "alerts.source_down.minutes",
                "between 1 and 1440",
            ),
            (
                json!({"bus_down": {"seconds": 5}}),
                "alerts.bus_down.seconds",
                "between 10 and 3600",
            ),
            (
                json!({"ntfy": {"enabled": true}}),
                "alerts.ntfy.topic",
                "your phone subscribes to",
            ),
            (
                json!({"ntfy": {"topic": "a b"}}),
                "alerts.ntfy.topic",
                "letters, digits",
            ),
            (
                json!({"ntfy": {"enabled": true, "topic": "t", "url": "ntfy.sh"}}),
                "alerts.ntfy.url",
                "http://",
            ),
            (
                json!({"webhook": {"enabled": true}}),
                "alerts.webhook.url",
                "http://",
            ),
        ] {
            let e = check_update::<AlertsConfig>(None, &object(patch.clone()), &no_env)
                .expect_err(&patch.to_string());
            assert_eq!(e.field, field, "{patch}: {e}");
            assert!(e.message.contains(words), "{patch}: {e}");
        }
        // A node's source and a good channel pass.
        let ok = json!({"rules": [with("source", json!("node-kitchen"))["rules"][0]],
                        "ntfy": {"enabled": true, "topic": "sense-pulse_42"},
                        "webhook": {"enabled": true, "url": "http://127.0.0.1:9/hook"}});
        check_update::<AlertsConfig>(None, &object(ok), &no_env).unwrap();
        // So do one Pi's sources, a node's included.
        for source in ["co2@kitchen", "system@living-room", "node-pico@kitchen"] {
            let ok = json!({"rules": [with("source", json!(source))["rules"][0]]});
            check_update::<AlertsConfig>(None, &object(ok), &no_env).expect(source);
        }
    }

    #[test]
    fn the_ntfy_token_is_redacted_restored_for_its_server_and_never_quoted() {
        let current = AlertsConfig {
            ntfy: NtfyChannel {
                enabled: true,
                url: "https://ntfy.example.com".into(),
                topic: "home".into(),
                token: "tk_secret".into(),
            },
            ..AlertsConfig::default()
        };
        assert!(!format!("{current:?}").contains("tk_secret"));
        let mut shown = current.clone();
        shown.redact();
        assert_eq!(shown.ntfy.token, REDACTED);
        let json = Config {
            alerts: current.clone(),
            ..Config::default()
        }
        .redacted_json();
        assert_eq!(json["alerts"]["ntfy"]["token"], REDACTED);

        // Sent back as shown: the token in force stays.
        let sent = serde_json::to_value(&shown.ntfy).unwrap();
        let mut patch = object(json!({ "ntfy": sent.clone() }));
        AlertsConfig::restore_redacted(&mut patch, &current).unwrap();
        assert_eq!(patch["ntfy"]["token"], "tk_secret");
        // Another topic on the same server keeps it too.
        let mut other_topic = sent.clone();
        other_topic["topic"] = json!("garage");
        let mut patch = object(json!({ "ntfy": other_topic }));
        AlertsConfig::restore_redacted(&mut patch, &current).unwrap();
        assert_eq!(patch["ntfy"]["token"], "tk_secret");
        // Another server must be given its own.
        let mut moved = sent;
        moved["url"] = json!("https://attacker.example");
        let mut patch = object(json!({ "ntfy": moved }));
        let e = AlertsConfig::restore_redacted(&mut patch, &current).unwrap_err();
        assert_eq!(e.field, "ntfy.token");

        // A bad token is refused without being quoted.
        let e = check_update::<AlertsConfig>(
            None,
            &object(json!({"ntfy": {"token": 31_415_926_535_u64}})),
            &no_env,
        )
        .unwrap_err();
        assert_eq!(e.field, "alerts.ntfy.token");
        assert!(!e.message.contains("31415926535"), "{e}");
    }

    /// A webhook's URL is its key: Slack's, Discord's and Home Assistant's carry the token in
    /// the path, so the whole URL is shown as `********`, and sent back so it stays.
    #[test]
    fn the_webhook_url_is_a_secret_redacted_restored_and_never_quoted() {
        const HOOK: &str = "https://hooks.example.com/services/T0/B0/xoxb-s3cret";
        let current = AlertsConfig {
            webhook: WebhookChannel {
                enabled: true,
                url: HOOK.into(),
            },
            ..AlertsConfig::default()
        };
        assert!(!format!("{current:?}").contains("s3cret"));
        let json = Config {
            alerts: current.clone(),
            ..Config::default()
        }
        .redacted_json();
        assert_eq!(json["alerts"]["webhook"]["url"], REDACTED);
        assert!(!json.to_string().contains("s3cret"));

        // Sent back as shown (the alerts form sends the whole section): the URL in force stays.
        let mut patch = object(json!({ "webhook": json["alerts"]["webhook"].clone() }));
        AlertsConfig::restore_redacted(&mut patch, &current).unwrap();
        assert_eq!(patch["webhook"]["url"], HOOK);
        let stored = serde_json::to_string(&current).unwrap();
        let checked = check_update::<AlertsConfig>(Some(&stored), &patch, &no_env).unwrap();
        assert_eq!(checked.to_store["webhook"]["url"], HOOK);
        // A new one replaces it.
        let mut patch =
            object(json!({"webhook": {"enabled": true, "url": "https://new.example/h"}}));
        AlertsConfig::restore_redacted(&mut patch, &current).unwrap();
        assert_eq!(patch["webhook"]["url"], "https://new.example/h");

        // A bad one is refused at its field without being quoted.
        let e = check_update::<AlertsConfig>(
            None,
            &object(json!({"webhook": {"enabled": true, "url": "ftp://hooks.example/s3cret"}})),
            &no_env,
        )
        .unwrap_err();
        assert_eq!(e.field, "alerts.webhook.url");
        assert_eq!(
            e.message,
            "must be an http:// or https:// URL (the value is not shown: it holds a secret)"
        );
    }
}
