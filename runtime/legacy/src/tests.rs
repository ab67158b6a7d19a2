//! The legacy import: every mapping, every refusal, every line found.

use super::lines::line_of;
use super::*;
use sense_bus::config::Aranet4Config;

const EXAMPLE: &str = include_str!("../tests/fixtures/legacy-config.example.yaml");

#[test]
fn the_example_config_maps_completely() {
    let plan = plan(EXAMPLE).unwrap();
    let names: Vec<_> = plan.sections.iter().map(|(n, _)| *n).collect();
    use SectionName as S;
    assert_eq!(
        names,
        [
            S::Display,
            S::Sleep,
            S::Pihole,
            S::Aranet4,
            S::Camera,
            S::Schedule,
            S::Auth
        ]
    );
    let section = |n: SectionName| &plan.sections.iter().find(|(x, _)| *x == n).unwrap().1;
    assert_eq!(section(S::Sleep)["start_hour"], 22);
    assert_eq!(section(S::Display)["cycle_interval"], 60);
    assert_eq!(section(S::Schedule)["tailscale"], 30);
    assert_eq!(section(S::Schedule)["aranet4"], 60);
    assert_eq!(section(S::Pihole)["host"], "http://localhost");

    let rotation = plan
        .mapped
        .iter()
        .find(|m| m.from == "display.rotation")
        .unwrap();
    assert_eq!(rotation.line, Some(15));
    let skipped: Vec<_> = plan.skipped.iter().map(|s| s.from.as_str()).collect();
    for s in [
        "logging.level",
        "logging.file",
        "web.enabled",
        "web.host",
        "web.port",
        "network_camera.enabled",
        "network_camera.output_dir",
    ] {
        assert!(
            skipped.contains(&s),
            "{s} should be listed as not imported: {skipped:?}"
        );
    }
    let report = plan.to_string();
    assert!(report.contains("display.rotation"), "{report}");
    assert!(
        report.contains("web.port (line 39): a deployment setting"),
        "{report}"
    );
}

#[test]
fn secrets_are_not_printed() {
    let plan = plan("pihole:\n  host: http://pi.hole\n  password: hunter2\n").unwrap();
    let report = plan.to_string();
    assert!(!report.contains("hunter2"), "{report}");
    assert!(report.contains(REDACTED), "{report}");

    // Nor a password in a URL.
    let plan = super::plan("pihole:\n  host: http://admin:hunter2@pi.hole\n").unwrap();
    let report = plan.to_string();
    assert!(!report.contains("hunter2"), "{report}");
    assert!(report.contains("\"http://admin:***@pi.hole\""), "{report}");
    assert_eq!(plan.sections[0].1["host"], "http://admin:hunter2@pi.hole");
}

#[test]
fn legacy_aranet4_sensors_are_accepted() {
    let yaml = "aranet4:\n  sensors:\n    - label: Office\n      mac_address: AA:BB:CC:DD:EE:FF\n      enabled: true\n";
    let plan = plan(yaml).unwrap();
    let c: Aranet4Config = config::check_section(&plan.sections[0].1).unwrap();
    assert_eq!(c.sensors[0].mac, "AA:BB:CC:DD:EE:FF");
    // Stored under the name the dashboard writes.
    let stored = &plan.sections[0].1["sensors"][0];
    assert_eq!(stored["mac"], "AA:BB:CC:DD:EE:FF");
    assert!(stored.get("mac_address").is_none(), "{stored}");
}

#[test]
fn an_invalid_value_names_the_stored_setting_and_its_line() {
    let yaml = "display:\n  rotation: 45\n";
    let err = plan(yaml).unwrap_err();
    assert_eq!(
        err.to_string(),
        "1 invalid value:\n  line 2: display.rotation: must be one of 0, 90, 180, 270 (got 45)"
    );

    let yaml = "network_camera:\n  cameras:\n    - name: cam\n      host: \"cam; reboot\"\n";
    let ImportError::Invalid(problems) = plan(yaml).unwrap_err() else {
        panic!("not an invalid value")
    };
    assert_eq!(
        problems,
        [Problem {
            line: Some(4),
            field: "camera.cameras[0].host".into(),
            in_file: Some("network_camera.cameras[0].host".into()),
            message: "must be a host name or IP address (letters, digits, '.', '-', ':' only)"
                .into(),
        }]
    );

    let err = plan("tailscale:\n  cache_duration: 2\n").unwrap_err();
    assert!(
        err.to_string()
            .contains("line 2: schedule.tailscale (tailscale.cache_duration in the file): must be"),
        "{err}"
    );
}

#[test]
fn every_invalid_value_is_reported_at_once_on_its_own_line() {
    let yaml = "\
display:
  rotation: 45
  scroll_speed: 0.08
aranet4:
  timeout: 500
  sensors:
    - label: Office
      mac_address: \"zz\"
    - label: \"a:b\"
      mac_address: AA:BB:CC:DD:EE:01
    - label: Office
      mac_address: AA:BB:CC:DD:EE:02
      colour: red
    - {label: Flow, mac_address: nope}
update:
  interval: -3
network_camera:
  cameras:
    - name: cam
      host: \"cam; reboot\"
      port: 99999
";
    let ImportError::Invalid(problems) = plan(yaml).unwrap_err() else {
        panic!("not an invalid value")
    };
    let shown: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [
            "line 2: display.rotation: must be one of 0, 90, 180, 270 (got 45)",
            "line 5: aranet4.timeout: must be between 1 and 120 s (got 500)",
            "line 8: aranet4.sensors[0].mac: must be a Bluetooth address like \
                 AA:BB:CC:DD:EE:FF (got \"zz\")",
            "line 9: aranet4.sensors[1].label: must not contain : (none of : * ? [ ] \\ may \
                 be in a label)",
            "line 13: aranet4.sensors[2].colour: unknown field `colour`, expected one of \
                 `label`, `mac`, `enabled`",
            "line 14: aranet4.sensors[3].mac: must be a Bluetooth address like \
                 AA:BB:CC:DD:EE:FF (got \"nope\")",
            "line 16: display.cycle_interval (update.interval in the file): must not be \
                 negative (got -3)",
            "line 20: camera.cameras[0].host (network_camera.cameras[0].host in the file): \
                 must be a host name or IP address (letters, digits, '.', '-', ':' only)",
            "line 21: camera.cameras[0].port (network_camera.cameras[0].port in the file): \
                 is too large for this setting (got 99999)",
        ],
        "{}",
        shown.join("\n")
    );
    let report = plan(yaml).unwrap_err().to_string();
    assert!(
        report.starts_with("9 invalid values:\n  line 2: "),
        "{report}"
    );
    assert!(!report.contains("mac_address"), "{report}");
}

#[test]
fn a_duplicate_is_named_by_its_index_in_the_file() {
    let yaml = "\
aranet4:
  sensors:
    - label: Broken
      mac_address: zz
    - label: Office
      mac_address: AA:BB:CC:DD:EE:01
    - label: Office
      mac_address: AA:BB:CC:DD:EE:02
";
    let err = plan(yaml).unwrap_err().to_string();
    assert!(
        err.contains("line 4: aranet4.sensors[0].mac: must be a Bluetooth address"),
        "{err}"
    );
    assert!(
        err.contains("line 7: aranet4.sensors[2].label: \"Office\" is already used by sensors[1]"),
        "{err}"
    );
}

#[test]
fn lines_are_found_in_any_yaml_style() {
    let text = "# comment\na: {b: [1, {c: 2}]}\nd:\n  - x\n  -\n    e: 3\n";
    let at = |path: &[Step]| line_of(text, path);
    let k = Step::key;
    assert_eq!(at(&[k("a")]), Some(2));
    assert_eq!(at(&[k("a"), k("b"), Step::Index(1), k("c")]), Some(2));
    assert_eq!(at(&[k("d"), Step::Index(1), k("e")]), Some(6));
    assert_eq!(at(&[k("d"), Step::Index(1)]), Some(6));
    assert_eq!(at(&[k("d"), Step::Index(7)]), None);
    assert_eq!(at(&[k("zz")]), None);
    assert_eq!(find_line(text, &[k("d"), Step::Index(7)]), Some(3));
}

#[test]
fn broken_yaml_names_the_line() {
    let err = plan("display:\n  rotation: [0\n").unwrap_err();
    let ImportError::Yaml(message) = err else {
        panic!("{err:?}")
    };
    assert!(message.contains("line"), "{message}");
    assert_eq!(plan("- a\n- b\n").unwrap_err(), ImportError::NotAMapping);
    assert_eq!(
        plan("sleep:\n  start_hour: 22\ndisplay: 5\nweb: [1]\n")
            .unwrap_err()
            .to_string(),
        format!(
            "2 invalid values:\n  line 3: display: {NOT_A_MAPPING}\n  line 4: web: {NOT_A_MAPPING}"
        )
    );
    assert!(plan("").unwrap().sections.is_empty());
}
