//! PTZ against a fake ONVIF camera that checks what it is sent.

use std::sync::{Arc, Mutex};

use base64::Engine as _;
use sense_http::replay::{RecordedRequest, ReplayServer, Reply};
use sha1::{Digest, Sha1};

use super::*;

const USER: &str = "admin<&\"'>";
const PASSWORD: &str = "pa$$ w0rd<&>é";

fn camera(port: u16, password: &str) -> CameraEntry {
    serde_json::from_value(serde_json::json!({
        "name": "Porch", "host": "127.0.0.1", "port": 554, "username": USER,
        "password": password, "ptz_enabled": true, "onvif_port": port,
    }))
    .unwrap()
}

fn soap(status: u16, body: &str) -> Reply {
    Reply::WithHeaders {
        status,
        headers: vec![(
            "content-type".into(),
            "application/soap+xml; charset=utf-8".into(),
        )],
        body: format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
             <env:Envelope xmlns:env=\"http://www.w3.org/2003/05/soap-envelope\" \
             xmlns:trt=\"http://www.onvif.org/ver10/media/wsdl\" \
             xmlns:tt=\"http://www.onvif.org/ver10/schema\" \
             xmlns:tptz=\"http://www.onvif.org/ver20/ptz/wsdl\" \
             xmlns:ter=\"http://www.onvif.org/ver10/error\">\
             <env:Body>{body}</env:Body></env:Envelope>"
        ),
    }
}

fn fault(subcode: &str, reason: &str) -> Reply {
    soap(
        400,
        &format!(
            "<env:Fault><env:Code><env:Value>env:Sender</env:Value>\
             <env:Subcode><env:Value>{subcode}</env:Value></env:Subcode></env:Code>\
             <env:Reason><env:Text xml:lang=\"en\">{}</env:Text></env:Reason></env:Fault>",
            xml_escape(reason)
        ),
    )
}

/// Two profiles; only the second can move.
const PROFILES: &str = "<trt:GetProfilesResponse>\
    <trt:Profiles token=\"Profile_1\" fixed=\"true\"><tt:Name>mainStream</tt:Name>\
    <tt:VideoSourceConfiguration token=\"V1\"/></trt:Profiles>\
    <trt:Profiles fixed=\"true\" token=\"Profile&amp;2\"><tt:Name>ptz</tt:Name>\
    <tt:PTZConfiguration token=\"PTZ1\"><tt:Name>PTZ</tt:Name></tt:PTZConfiguration>\
    </trt:Profiles></trt:GetProfilesResponse>";

/// Checks the WS-Security header as a camera would; the reason it refuses, if it does.
fn check_security(body: &str, password: &str) -> Result<(), String> {
    let all = tags(body);
    let password_tag = all
        .iter()
        .find(|t| !t.closing && t.local == "Password")
        .ok_or("no Password in the security header")?;
    if password_tag.attribute("Type").as_deref() != Some(PASSWORD_DIGEST_TYPE) {
        return Err("the password is not a digest".into());
    }
    let username = text_of(body, "Username").ok_or("no Username")?;
    if username != USER {
        return Err(format!("wrong user {username:?}"));
    }
    let nonce = text_of(body, "Nonce").ok_or("no Nonce")?;
    let nonce = base64::engine::general_purpose::STANDARD
        .decode(nonce)
        .map_err(|e| format!("the nonce is not Base64: {e}"))?;
    if nonce.len() != 16 {
        return Err(format!("a {}-byte nonce", nonce.len()));
    }
    let created = text_of(body, "Created").ok_or("no Created")?;
    let shape_ok = created.len() == 20
        && created.ends_with('Z')
        && created.as_bytes()[10] == b'T'
        && created[..4].parse::<u32>().is_ok_and(|y| y >= 2024);
    if !shape_ok {
        return Err(format!("Created {created:?} is not UTC ISO 8601"));
    }
    // Recomputed here, independently of the code under test.
    let mut sha = Sha1::new();
    sha.update(&nonce);
    sha.update(created.as_bytes());
    sha.update(password.as_bytes());
    let expected = base64::engine::general_purpose::STANDARD.encode(sha.finalize());
    if text_of(body, "Password").as_deref() != Some(expected.as_str()) {
        return Err("the password digest does not match".into());
    }
    Ok(())
}

/// A camera at `/onvif/media_service` and `/onvif/ptz_service` with `password`.
fn fake_camera(req: &RecordedRequest, password: &str) -> Reply {
    let body = String::from_utf8_lossy(&req.body).into_owned();
    let content_type = req.header("content-type").unwrap_or_default();
    if req.method != "POST" || !content_type.starts_with("application/soap+xml") {
        return fault("ter:InvalidArgVal", "not a SOAP 1.2 POST");
    }
    if let Err(why) = check_security(&body, password) {
        return fault(
            "ter:NotAuthorized",
            &format!("Sender not authorized: {why}"),
        );
    }
    let action = tags(&body)
        .into_iter()
        .skip_while(|t| t.local != "Body")
        .nth(1)
        .map(|t| t.local.to_owned())
        .unwrap_or_default();
    if !content_type.contains(&format!("/{action}\"")) {
        return fault(
            "ter:InvalidArgVal",
            "the action header does not match the body",
        );
    }
    match (req.path.as_str(), action.as_str()) {
        (MEDIA_PATH, "GetProfiles") => soap(200, PROFILES),
        (PTZ_PATH, "ContinuousMove" | "Stop") => {
            if text_of(&body, "ProfileToken").as_deref() != Some("Profile&2") {
                return fault("ter:NoProfile", "unknown profile token");
            }
            soap(200, &format!("<tptz:{action}Response/>"))
        }
        _ => fault(
            "ter:ActionNotSupported",
            &format!("{action} at {}", req.path),
        ),
    }
}

async fn start(password: &'static str) -> (ReplayServer, u16) {
    let server = ReplayServer::start(move |req| fake_camera(req, password)).await;
    let port = server.url().rsplit(':').next().unwrap().parse().unwrap();
    (server, port)
}

/// The SOAP actions the server got, with their paths.
fn actions(server: &ReplayServer) -> Vec<(String, String)> {
    server
        .requests()
        .iter()
        .map(|r| {
            let body = String::from_utf8_lossy(&r.body).into_owned();
            let action = tags(&body)
                .into_iter()
                .skip_while(|t| t.local != "Body")
                .nth(1)
                .map(|t| t.local.to_owned())
                .unwrap_or_default();
            (r.path.clone(), action)
        })
        .collect()
}

/// The velocity of the `n`-th request (a ContinuousMove): pan/tilt and zoom, if present.
fn velocity(server: &ReplayServer, n: usize) -> (Option<(f64, f64)>, Option<f64>) {
    let body = String::from_utf8_lossy(&server.requests()[n].body).into_owned();
    let all = tags(&body);
    let pan_tilt = all.iter().find(|t| t.local == "PanTilt").map(|t| {
        (
            t.attribute("x").unwrap().parse().unwrap(),
            t.attribute("y").unwrap().parse().unwrap(),
        )
    });
    let zoom = all
        .iter()
        .find(|t| t.local == "Zoom")
        .map(|t| t.attribute("x").unwrap().parse().unwrap());
    (pan_tilt, zoom)
}

#[tokio::test]
async fn a_step_is_profiles_then_move_then_stop() {
    let (server, port) = start(PASSWORD).await;
    let onvif = Onvif::new(HttpClient::default(), &camera(port, PASSWORD));
    let started = std::time::Instant::now();
    onvif.move_step(Direction::Right, None).await.unwrap();
    // The default step 0.05: half speed for 300 ms.
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(
        actions(&server),
        [
            (MEDIA_PATH.into(), "GetProfiles".into()),
            (PTZ_PATH.into(), "ContinuousMove".into()),
            (PTZ_PATH.into(), "Stop".into()),
        ]
    );
    assert_eq!(velocity(&server, 1), (Some((0.5, 0.0)), None));
    let stop = String::from_utf8_lossy(&server.requests()[2].body).into_owned();
    assert_eq!(text_of(&stop, "PanTilt").as_deref(), Some("true"));
    assert_eq!(text_of(&stop, "Zoom").as_deref(), Some("true"));

    // Every request had its own nonce.
    let nonces: std::collections::BTreeSet<String> = server
        .requests()
        .iter()
        .map(|r| text_of(&String::from_utf8_lossy(&r.body), "Nonce").unwrap())
        .collect();
    assert_eq!(nonces.len(), 3);
}

#[tokio::test]
async fn directions_and_steps_give_the_right_velocities() {
    let (server, port) = start(PASSWORD).await;
    let onvif = Onvif::new(HttpClient::default(), &camera(port, PASSWORD));
    onvif.move_step(Direction::Down, Some(0.02)).await.unwrap();
    onvif.move_step(Direction::Left, Some(0.07)).await.unwrap();
    onvif.move_step(Direction::Up, Some(0.03)).await.unwrap();
    onvif.move_step(Direction::ZoomIn, None).await.unwrap();
    onvif
        .move_step(Direction::ZoomOut, Some(0.05))
        .await
        .unwrap();
    // The profile was looked up once.
    assert_eq!(server.count("POST", MEDIA_PATH), 1);
    assert_eq!(server.count("POST", PTZ_PATH), 10);
    assert_eq!(velocity(&server, 1), (Some((0.0, -0.2)), None));
    assert_eq!(velocity(&server, 3), (Some((-0.7, 0.0)), None));
    assert_eq!(velocity(&server, 5), (Some((0.0, 0.3)), None));
    assert_eq!(velocity(&server, 7), (None, Some(1.0)));
    assert_eq!(velocity(&server, 9), (None, Some(-0.5)));
}

#[tokio::test]
async fn a_wrong_password_is_a_clear_fault_without_the_password() {
    let (server, port) = start(PASSWORD).await;
    let onvif = Onvif::new(HttpClient::default(), &camera(port, "wrong-password"));
    let err = onvif.move_step(Direction::Up, None).await.unwrap_err();
    assert!(
        matches!(&err, PtzError::Fault { action: "GetProfiles", code, .. } if code == "ter:NotAuthorized"),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains("Sender not authorized"), "{message}");
    assert!(!message.contains("wrong-password"), "{message}");
    // No move was attempted.
    assert_eq!(server.count("POST", PTZ_PATH), 0);
}

#[tokio::test]
async fn a_slow_camera_times_out() {
    let server = ReplayServer::start(|_req: &RecordedRequest| {
        Reply::Delay(Duration::from_secs(5), Box::new(Reply::Status(200)))
    })
    .await;
    let port = server.url().rsplit(':').next().unwrap().parse().unwrap();
    let onvif = Onvif::new(HttpClient::default(), &camera(port, PASSWORD))
        .with_timeout(Duration::from_millis(400));
    let started = std::time::Instant::now();
    let err = onvif.move_step(Direction::Left, None).await.unwrap_err();
    assert_eq!(
        err,
        PtzError::Timeout {
            after: Duration::from_millis(400)
        }
    );
    assert!(err.to_string().contains("did not finish within 0.4 s"));
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn a_move_that_times_out_is_still_stopped() {
    // GetProfiles answers; ContinuousMove hangs; Stop answers.
    let (inner, _) = start(PASSWORD).await;
    drop(inner);
    let seen = Arc::new(Mutex::new(0usize));
    let server = {
        let seen = Arc::clone(&seen);
        ReplayServer::start(move |req| {
            *seen.lock().unwrap() += 1;
            let reply = fake_camera(req, PASSWORD);
            if String::from_utf8_lossy(&req.body).contains("ContinuousMove") {
                Reply::Delay(Duration::from_secs(5), Box::new(reply))
            } else {
                reply
            }
        })
        .await
    };
    let port = server.url().rsplit(':').next().unwrap().parse().unwrap();
    let onvif = Onvif::new(HttpClient::default(), &camera(port, PASSWORD))
        .with_timeout(Duration::from_millis(500));
    let err = onvif.move_step(Direction::Up, None).await.unwrap_err();
    assert!(matches!(err, PtzError::Timeout { .. }), "{err:?}");
    let got: Vec<String> = actions(&server).into_iter().map(|(_, a)| a).collect();
    assert_eq!(got, ["GetProfiles", "ContinuousMove", "Stop"]);
}

#[tokio::test]
async fn http_errors_and_non_soap_answers_are_named() {
    let server = ReplayServer::start(|req: &RecordedRequest| {
        if req.path == MEDIA_PATH {
            Reply::Status(401)
        } else {
            Reply::ok("{}")
        }
    })
    .await;
    let port = server.url().rsplit(':').next().unwrap().parse().unwrap();
    let onvif = Onvif::new(HttpClient::default(), &camera(port, PASSWORD));
    let err = onvif.move_step(Direction::Up, None).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "ONVIF GetProfiles answered HTTP 401 (the camera refused the credentials)"
    );
}

#[tokio::test]
async fn nothing_is_sent_for_disabled_cameras_or_bad_steps() {
    let server = ReplayServer::start(|_req: &RecordedRequest| Reply::Status(500)).await;
    let port = server.url().rsplit(':').next().unwrap().parse().unwrap();
    let mut cam = camera(port, PASSWORD);
    let onvif = Onvif::new(HttpClient::default(), &cam);
    for bad in [0.0, -0.1, 1.5, f64::NAN] {
        assert!(matches!(
            onvif.move_step(Direction::Up, Some(bad)).await,
            Err(PtzError::InvalidStep(_))
        ));
    }
    cam.ptz_enabled = false;
    let onvif = Onvif::new(HttpClient::default(), &cam);
    assert_eq!(
        onvif.move_step(Direction::Up, None).await,
        Err(PtzError::Disabled("Porch".into()))
    );
    assert!(server.requests().is_empty());
}

#[test]
fn directions_parse() {
    let cases = [
        ("up", Direction::Up),
        ("DOWN", Direction::Down),
        (" left ", Direction::Left),
        ("right", Direction::Right),
        ("zoom_in", Direction::ZoomIn),
        ("zoomin", Direction::ZoomIn),
        ("zoom_out", Direction::ZoomOut),
        ("ZoomOut", Direction::ZoomOut),
    ];
    for (text, direction) in cases {
        assert_eq!(text.parse::<Direction>(), Ok(direction), "{text}");
    }
    let err = "sideways".parse::<Direction>().unwrap_err();
    assert!(err.to_string().contains("\"sideways\""), "{err}");
}

#[test]
fn motions_scale_with_the_step() {
    let m = Motion::new(Direction::Right, 0.05);
    assert_eq!((m.pan, m.tilt, m.zoom), (0.5, 0.0, 0.0));
    assert_eq!(m.duration, Duration::from_millis(300));
    let m = Motion::new(Direction::ZoomIn, 0.1);
    assert_eq!((m.zoom, m.duration), (1.0, Duration::from_millis(600)));
    let m = Motion::new(Direction::Down, 1.0);
    assert_eq!((m.tilt, m.duration), (-1.0, Duration::from_millis(1500)));
    let m = Motion::new(Direction::Left, 0.001);
    assert_eq!((m.pan, m.duration), (-0.1, Duration::from_millis(100)));
}

#[test]
fn digest_and_dates_match_known_values() {
    // WS-Security digest: Base64(SHA1(nonce + created + password)), checked against a value
    // computed with `openssl`: printf 'nonce-16-bytes!!2024-02-15T12:26:40Zsecret' | openssl sha1 -binary | base64
    assert_eq!(
        password_digest(b"nonce-16-bytes!!", "2024-02-15T12:26:40Z", "secret"),
        OPENSSL_DIGEST
    );
    assert_eq!(format_utc(0), "1970-01-01T00:00:00Z");
    assert_eq!(format_utc(1_708_000_000), "2024-02-15T12:26:40Z");
    assert_eq!(format_utc(951_782_400), "2000-02-29T00:00:00Z");
    assert_eq!(format_utc(4_102_444_799), "2099-12-31T23:59:59Z");
}

const OPENSSL_DIGEST: &str = "VqtpkUMAPsEbth0tbWAzeXSW/YE=";

#[test]
fn xml_helpers() {
    assert_eq!(xml_escape("<a&'\">"), "&lt;a&amp;&apos;&quot;&gt;");
    assert_eq!(
        xml_unescape("&lt;a&amp;b&#65;&#x42;&bogus; & &gt;"),
        "<a&bAB&bogus; & >"
    );
    assert_eq!(profile_token_of(PROFILES).as_deref(), Some("Profile&2"));
    assert_eq!(
        profile_token_of("<Profiles token='only'/><Other/>").as_deref(),
        Some("only")
    );
    assert_eq!(profile_token_of("<Envelope/>"), None);
    let soap11 = "<s:Envelope><s:Body><s:Fault><faultcode>s:Client</faultcode>\
                  <faultstring>Bad &amp; wrong</faultstring></s:Fault></s:Body></s:Envelope>";
    assert_eq!(
        fault_of(soap11),
        Some(("s:Client".into(), "Bad & wrong".into()))
    );
    assert_eq!(fault_of("<Envelope><Body/></Envelope>"), None);
    // Comments and CDATA do not produce tags.
    let t = tags("<!-- <Fault> --><a x='1'><![CDATA[<Fault>]]></a>");
    assert_eq!(t.iter().map(|t| t.local).collect::<Vec<_>>(), ["a", "a"]);
}

#[test]
fn the_envelope_escapes_the_user_name_and_never_holds_the_password() {
    let e = envelope(USER, PASSWORD, "<GetProfiles/>");
    assert!(e.contains("<wsse:Username>admin&lt;&amp;&quot;&apos;&gt;</wsse:Username>"));
    assert!(!e.contains("pa$$"));
    assert!(check_security(&e, PASSWORD).is_ok());
    assert!(check_security(&e, "other").is_err());
    // Without a user name there is no security header at all.
    assert!(!envelope("", "", "<GetProfiles/>").contains("Security"));
}

#[test]
fn the_futures_can_be_spawned() {
    fn assert_send<T: Send>(_: &T) {}
    let onvif = Onvif::new(HttpClient::default(), &camera(1, PASSWORD));
    assert_send(&onvif.move_step(Direction::Up, None));
    assert_send(&crate::discovery::discover(
        crate::discovery::DiscoveryOptions::default(),
    ));
    let (_tx, rx) = tokio::sync::mpsc::channel(1);
    let settings = crate::SupervisorSettings::new(
        "ffmpeg".into(),
        "/tmp".into(),
        crate::Input::TestPattern,
        sense_bus::config::CameraConfig::default(),
    );
    assert_send(&crate::Supervisor::new(settings).run(rx, |_state: &crate::StreamState| {}));
}
