use std::time::Duration;

use sense_bus::config::Config;
use sense_hal::Unit;
use sense_http::HttpOptions;
use sense_http::replay::{RecordedRequest, ReplayServer, Reply};
use serde_json::Value as Json;

use super::*;

const FIXTURE: &str = include_str!("../fixtures/london.j1.json");

/// The client's answer timeout in tests: short, so a slow server fails fast.
const TIMEOUT: Duration = Duration::from_millis(1000);
/// The client's body cap in tests (the fixture is about 50 KB).
const MAX_BODY: usize = 256 * 1024;

fn value<'a>(out: &'a [Measurement], sensor: &str) -> &'a Value {
    &out.iter()
        .find(|m| m.sensor == sensor)
        .unwrap_or_else(|| panic!("no {sensor}"))
        .value
}

fn text(s: &str) -> Value {
    Value::Text(s.to_owned())
}

/// The fixture with the field at JSON pointer `parent` + `/key` removed.
fn fixture_without(parent: &str, key: &str) -> String {
    let mut doc: Json = serde_json::from_str(FIXTURE).unwrap();
    let removed = doc
        .pointer_mut(parent)
        .and_then(Json::as_object_mut)
        .and_then(|o| o.remove(key));
    assert!(removed.is_some(), "{parent}/{key} is in the fixture");
    doc.to_string()
}

/// The fixture with the field at JSON pointer `at` replaced by `with`.
fn fixture_with(at: &str, with: Json) -> String {
    let mut doc: Json = serde_json::from_str(FIXTURE).unwrap();
    *doc.pointer_mut(at).unwrap() = with;
    doc.to_string()
}

// ---------------------------------------------------------------------------------------------
// The parser

#[test]
fn the_fixture_gives_all_26_readings_with_contract_ids_types_and_units() {
    let report = parse_j1(FIXTURE.as_bytes()).unwrap();
    assert_eq!(report.problems, Vec::<String>::new());
    let m = &report.measurements;
    assert_eq!(m.len(), 26);
    let ids: Vec<&str> = m.iter().map(|m| m.sensor.as_str()).collect();
    assert_eq!(ids, sensor_ids());

    let expected: [(&str, Value, Option<&str>); 26] = [
        ("weather_temp", Value::Float(9.0), Some("C")),
        ("weather_feels_like", Value::Float(7.0), Some("C")),
        ("weather_humidity", Value::Int(81), Some("%")),
        ("weather_conditions", text("Partly cloudy"), None),
        ("weather_wind", Value::Float(15.0), Some("km/h")),
        ("weather_wind_dir", text("SW"), None),
        ("weather_pressure", Value::Float(1015.0), Some("mb")),
        ("weather_uv_index", Value::Int(1), None),
        ("weather_visibility", Value::Float(10.0), Some("km")),
        ("weather_cloud_cover", Value::Int(50), Some("%")),
        ("weather_location", text("London"), None),
        ("forecast_d0_date", text("2026-02-16"), None),
        ("forecast_d0_max_temp", Value::Float(11.0), Some("C")),
        ("forecast_d0_min_temp", Value::Float(5.0), Some("C")),
        ("forecast_d0_avg_temp", Value::Float(8.0), Some("C")),
        // hourly[4] (12:00) says "Partly cloudy " with wttr.in's trailing space.
        ("forecast_d0_description", text("Partly cloudy"), None),
        ("forecast_d1_date", text("2026-02-17"), None),
        ("forecast_d1_max_temp", Value::Float(10.0), Some("C")),
        ("forecast_d1_min_temp", Value::Float(3.0), Some("C")),
        ("forecast_d1_avg_temp", Value::Float(6.0), Some("C")),
        ("forecast_d1_description", text("Light rain"), None),
        ("forecast_d2_date", text("2026-02-18"), None),
        ("forecast_d2_max_temp", Value::Float(12.0), Some("C")),
        ("forecast_d2_min_temp", Value::Float(6.0), Some("C")),
        ("forecast_d2_avg_temp", Value::Float(9.0), Some("C")),
        ("forecast_d2_description", text("Sunny"), None),
    ];
    for (measurement, (sensor, v, unit)) in m.iter().zip(expected) {
        assert_eq!(measurement.sensor, sensor);
        assert_eq!(measurement.value, v, "{sensor}");
        assert_eq!(measurement.unit.map(Unit::as_str), unit, "{sensor}");
        assert_eq!(unit_of(sensor).map(Unit::as_str), unit, "unit_of({sensor})");
    }
}

#[test]
fn a_missing_field_is_a_null_reading_naming_it_and_the_rest_is_kept() {
    let body = fixture_without("/current_condition/0", "temp_C");
    let report = parse_j1(body.as_bytes()).unwrap();
    assert_eq!(report.measurements.len(), 26);
    assert_eq!(value(&report.measurements, "weather_temp"), &Value::Null);
    assert_eq!(
        value(&report.measurements, "weather_feels_like"),
        &Value::Float(7.0)
    );
    assert_eq!(
        report.error().as_deref(),
        Some("wttr.in answer has no current_condition[0].temp_C")
    );
}

#[test]
fn malformed_fields_are_null_and_named_never_zero() {
    let cases = [
        (
            "/current_condition/0/humidity",
            Json::from("lots"),
            "weather_humidity",
            "wttr.in answer's current_condition[0].humidity is not a number: \"lots\"",
        ),
        (
            "/current_condition/0/pressure",
            Json::from(""),
            "weather_pressure",
            "wttr.in answer's current_condition[0].pressure is not a number: \"\"",
        ),
        (
            "/current_condition/0/winddir16Point",
            Json::from("  "),
            "weather_wind_dir",
            "wttr.in answer's current_condition[0].winddir16Point is empty",
        ),
        (
            "/current_condition/0/weatherDesc",
            Json::from("Sunny"),
            "weather_conditions",
            "wttr.in answer's current_condition[0].weatherDesc is a JSON string, not a list",
        ),
        (
            "/current_condition/0/weatherDesc",
            serde_json::json!([]),
            "weather_conditions",
            "wttr.in answer has no current_condition[0].weatherDesc[0]",
        ),
        (
            "/current_condition/0/temp_C",
            Json::Null,
            "weather_temp",
            "wttr.in answer has no current_condition[0].temp_C",
        ),
        (
            "/weather/1/date",
            Json::from("tomorrow"),
            "forecast_d1_date",
            "wttr.in answer's weather[1].date is not a YYYY-MM-DD date: \"tomorrow\"",
        ),
        (
            "/weather/2/maxtempC",
            Json::from("NaN"),
            "forecast_d2_max_temp",
            "wttr.in answer's weather[2].maxtempC is not a number: \"NaN\"",
        ),
        (
            "/nearest_area/0/areaName/0/value",
            serde_json::json!({"name": "London"}),
            "weather_location",
            "wttr.in answer's nearest_area[0].areaName[0].value is not text: {\"name\":\"London\"}",
        ),
        (
            "/weather/0/hourly",
            serde_json::json!([]),
            "forecast_d0_description",
            "wttr.in answer's weather[0].hourly is empty",
        ),
    ];
    for (at, with, sensor, problem) in cases {
        let report = parse_j1(fixture_with(at, with).as_bytes()).unwrap();
        assert_eq!(value(&report.measurements, sensor), &Value::Null, "{at}");
        assert_eq!(report.problems, vec![problem.to_owned()], "{at}");
        let others = report
            .measurements
            .iter()
            .filter(|m| m.sensor != sensor && !m.value.is_null())
            .count();
        assert_eq!(others, 25, "{at}: the other readings are kept");
    }
}

#[test]
fn a_missing_group_is_one_problem_not_one_per_reading() {
    let mut doc: Json = serde_json::from_str(FIXTURE).unwrap();
    doc["weather"].as_array_mut().unwrap().truncate(2);
    doc.as_object_mut().unwrap().remove("current_condition");
    let report = parse_j1(doc.to_string().as_bytes()).unwrap();
    assert_eq!(
        report.problems,
        vec![
            "wttr.in answer has no current_condition".to_owned(),
            "wttr.in answer has no weather[2]".to_owned(),
        ]
    );
    let nulls = report
        .measurements
        .iter()
        .filter(|m| m.value.is_null())
        .count();
    assert_eq!(nulls, 10 + 5);
    assert_eq!(
        value(&report.measurements, "weather_location"),
        &text("London")
    );
}

#[test]
fn numbers_may_also_be_json_numbers_and_are_rounded() {
    let body = fixture_with("/current_condition/0/temp_C", Json::from(18.46));
    let body = {
        let mut doc: Json = serde_json::from_str(&body).unwrap();
        doc["current_condition"][0]["humidity"] = Json::from(" 71.6 ");
        doc.to_string()
    };
    let report = parse_j1(body.as_bytes()).unwrap();
    assert_eq!(report.problems, Vec::<String>::new());
    assert_eq!(
        value(&report.measurements, "weather_temp"),
        &Value::Float(18.5)
    );
    assert_eq!(
        value(&report.measurements, "weather_humidity"),
        &Value::Int(72)
    );
}

#[test]
fn the_description_is_the_midday_entry_or_the_middle_one() {
    // Without `time` fields, the middle entry (hourly[4] of 8) is used.
    let mut doc: Json = serde_json::from_str(FIXTURE).unwrap();
    for hour in doc["weather"][1]["hourly"].as_array_mut().unwrap() {
        hour.as_object_mut().unwrap().remove("time");
    }
    // A 1200 entry wherever it is wins.
    doc["weather"][2]["hourly"][6]["time"] = Json::from("1200");
    doc["weather"][2]["hourly"][4]["time"] = Json::from("1800");
    doc["weather"][2]["hourly"][6]["weatherDesc"][0]["value"] = Json::from("Fog");
    let report = parse_j1(doc.to_string().as_bytes()).unwrap();
    assert_eq!(
        value(&report.measurements, "forecast_d1_description"),
        &text("Light rain")
    );
    assert_eq!(
        value(&report.measurements, "forecast_d2_description"),
        &text("Fog")
    );
}

#[test]
fn answers_that_are_not_j1_fail_the_whole_poll() {
    let cases: [(&[u8], &str); 7] = [
        (
            b"Sorry, we are running out of queries to the weather service at the moment.\n",
            "wttr.in answer is not JSON (expected value at line 1 column 1): starts with \
             \"Sorry, we are running out of queries to…\"",
        ),
        (b"", "wttr.in answer is not JSON (EOF while parsing a value at line 1 column 0)"),
        (
            b"[1, 2]",
            "wttr.in answer is not a j1 document: a JSON list instead of an object",
        ),
        (
            b"{\"data\": {\"error\": [{\"msg\": \"Unable to find any matching weather location\"}]}}",
            "wttr.in answer is not a j1 document: it has neither current_condition nor weather",
        ),
        (
            b"{\"current_condition\": [], \"weather\": []}",
            "wttr.in answer holds no usable reading: wttr.in answer has no current_condition[0]; \
             wttr.in answer has no nearest_area; wttr.in answer has no weather[0]; wttr.in \
             answer has no weather[1]; wttr.in answer has no weather[2]",
        ),
        (
            b"\xff\xfe{}",
            "wttr.in answer is not JSON (expected value at line 1 column 1)",
        ),
        (
            b"{\"current_condition\": 5}",
            "wttr.in answer holds no usable reading: wttr.in answer's current_condition is a \
             JSON number, not a list; wttr.in answer has no nearest_area; wttr.in answer has no \
             weather",
        ),
    ];
    for (body, message) in cases {
        assert_eq!(
            parse_j1(body),
            Err(message.to_owned()),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
}

#[test]
fn no_input_panics() {
    // Every prefix of the fixture (a truncated answer), and some hostile shapes.
    let bytes = FIXTURE.as_bytes();
    for end in (0..bytes.len()).step_by(37) {
        assert!(parse_j1(&bytes[..end]).is_err(), "prefix of {end} bytes");
    }
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    assert!(parse_j1(deep.as_bytes()).is_err());
    let odd = [
        r#"{"current_condition": [{"temp_C": "1e400"}]}"#,
        r#"{"current_condition": [{"temp_C": "-9223372036854775809", "humidity": "1e300"}]}"#,
        r#"{"current_condition": [{"weatherDesc": [{"value": 1}]}], "weather": {"0": 1}}"#,
        r#"{"weather": [{"hourly": [{"time": 1200, "weatherDesc": [{"value": "Rain"}]}]}]}"#,
        r#"{"weather": [null, {"date": "2026-02-17"}], "nearest_area": [{"areaName": "x"}]}"#,
    ];
    for body in odd {
        let _ = parse_j1(body.as_bytes());
    }
    let report = parse_j1(odd[3].as_bytes()).unwrap();
    assert_eq!(
        value(&report.measurements, "forecast_d0_description"),
        &text("Rain"),
        "a numeric time works too"
    );
    let report = parse_j1(odd[1].as_bytes()).unwrap();
    assert_eq!(
        value(&report.measurements, "weather_humidity"),
        &Value::Null,
        "an integer out of range is not made up"
    );
}

// ---------------------------------------------------------------------------------------------
// URLs

#[test]
fn urls_encode_the_location_as_one_segment() {
    let base = "https://wttr.in";
    assert_eq!(j1_url(base, ""), "https://wttr.in/?format=j1");
    assert_eq!(j1_url(base, "   "), "https://wttr.in/?format=j1");
    assert_eq!(j1_url(base, "London"), "https://wttr.in/London?format=j1");
    assert_eq!(
        j1_url("http://127.0.0.1:8080/", " New York "),
        "http://127.0.0.1:8080/New%20York?format=j1"
    );
    assert_eq!(
        j1_url(base, "~Eiffel Tower"),
        "https://wttr.in/~Eiffel%20Tower?format=j1"
    );
    assert_eq!(
        j1_url(base, "Zürich"),
        "https://wttr.in/Z%C3%BCrich?format=j1"
    );
    assert_eq!(
        j1_url(base, "a/b?c#d&e=f+g"),
        "https://wttr.in/a%2Fb%3Fc%23d%26e%3Df%2Bg?format=j1"
    );
    assert_eq!(
        j1_url(base, "51.5,-0.1"),
        "https://wttr.in/51.5%2C-0.1?format=j1"
    );
}

// ---------------------------------------------------------------------------------------------
// The simulation

#[test]
fn simulated_answers_are_complete_deterministic_and_follow_the_clock() {
    let t = 1_771_236_000; // 2026-02-16T10:00:00Z
    let doc = simulated_j1(t, "Paris");
    assert_eq!(doc, simulated_j1(t, "Paris"), "deterministic");
    let report = parse_j1(doc.as_bytes()).unwrap();
    assert_eq!(report.problems, Vec::<String>::new());
    let m = &report.measurements;
    assert_eq!(value(m, "weather_location"), &text("Paris"));
    assert_eq!(value(m, "forecast_d0_date"), &text("2026-02-16"));
    assert_eq!(value(m, "forecast_d2_date"), &text("2026-02-18"));
    let json: Json = serde_json::from_str(&doc).unwrap();
    assert!(
        json["current_condition"][0]["localObsDateTime"]
            .as_str()
            .unwrap()
            .starts_with("2026-02-16 10:00 AM")
    );

    // An empty location leaves the recorded (guessed) one.
    let report = parse_j1(simulated_j1(t, "").as_bytes()).unwrap();
    assert_eq!(
        value(&report.measurements, "weather_location"),
        &text("London")
    );

    // Over two weeks, every hour parses completely and plausibly, and the weather changes.
    let mut temps = std::collections::BTreeSet::new();
    let mut skies = std::collections::BTreeSet::new();
    for hour in 0..24 * 14 {
        let report = parse_j1(simulated_j1(t + hour * 3600, "Oslo").as_bytes()).unwrap();
        assert_eq!(report.problems, Vec::<String>::new(), "hour {hour}");
        let m = &report.measurements;
        let temp = value(m, "weather_temp").as_f64().unwrap();
        assert!((-15.0..40.0).contains(&temp), "{temp}");
        let (max, min) = (
            value(m, "forecast_d0_max_temp").as_f64().unwrap(),
            value(m, "forecast_d0_min_temp").as_f64().unwrap(),
        );
        assert!(min <= max);
        let humidity = value(m, "weather_humidity").as_i64().unwrap();
        assert!((0..=100).contains(&humidity));
        #[allow(clippy::cast_possible_truncation)]
        temps.insert(temp as i64);
        skies.insert(value(m, "weather_conditions").to_string());
    }
    assert!(temps.len() > 5, "{temps:?}");
    assert!(skies.len() > 3, "{skies:?}");
    // A summer day is warmer than a winter one.
    let july = parse_j1(simulated_j1(1_784_030_400, "").as_bytes()).unwrap(); // 2026-07-14 12:00
    assert_eq!(
        value(&july.measurements, "forecast_d0_date"),
        &text("2026-07-14")
    );
    assert!(
        value(&july.measurements, "forecast_d0_max_temp")
            .as_f64()
            .unwrap()
            > 15.0
    );
}

// ---------------------------------------------------------------------------------------------
// The source against a local server

fn client() -> HttpClient {
    HttpClient::new(HttpOptions {
        connect_timeout: Duration::from_secs(2),
        request_timeout: TIMEOUT,
        max_body_bytes: MAX_BODY,
        user_agent: "sense-pulse-test".to_owned(),
    })
}

fn config(base_url: &str, location: &str, cache_duration: u32) -> Config {
    let mut config = Config::default();
    config.weather.base_url = base_url.to_owned();
    config.weather.location = location.to_owned();
    config.weather.cache_duration = cache_duration;
    config
}

async fn poll(
    source: &mut WeatherSource,
    config: &Config,
    state: &mut WeatherState,
) -> Result<PollOutput, PollError> {
    source.poll(PollContext::config_only(config), state).await
}

/// A server answering the fixture to every request.
async fn fixture_server() -> ReplayServer {
    ReplayServer::start(|_: &RecordedRequest| Reply::ok(FIXTURE)).await
}

/// Pretends the remembered answer was fetched `secs` earlier.
fn age(state: &mut WeatherState, secs: f64) {
    state.last_good.as_mut().unwrap().fetched_at -= secs;
}

#[tokio::test]
async fn a_good_answer_gives_26_readings_and_is_remembered() {
    let server = fixture_server().await;
    let mut source = WeatherSource::new(client());
    let mut state = WeatherState::default();
    let config = config(&server.url(), "London", 300);
    let out = poll(&mut source, &config, &mut state).await.unwrap();
    assert_eq!(out.error, None);
    assert_eq!(out.measurements.len(), 26);
    assert_eq!(
        out.measurements,
        parse_j1(FIXTURE.as_bytes()).unwrap().measurements
    );
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].method, "GET");
    assert_eq!(requests[0].path, "/London?format=j1");
    assert_eq!(requests[0].header("user-agent"), Some("sense-pulse-test"));

    let good = state.last_good.as_ref().unwrap();
    assert_eq!(good.url, format!("{}/London?format=j1", server.url()));
    assert!((unix_now() - good.fetched_at).abs() < 60.0);

    // The state survives the runner's JSON round trip and gives the same readings.
    let json = serde_json::to_string(&state).unwrap();
    let back: WeatherState = serde_json::from_str(&json).unwrap();
    assert_eq!(back, state);
    assert_eq!(back.last_good.unwrap().output(None, false), out);
    // An unreadable or old-shaped state is the default one.
    let empty: WeatherState = serde_json::from_str("{}").unwrap();
    assert_eq!(empty, WeatherState::default());
}

#[tokio::test]
async fn within_cache_duration_no_request_is_made() {
    let server = fixture_server().await;
    let mut source = WeatherSource::new(client());
    let mut state = WeatherState::default();
    let config = config(&server.url(), "London", 300);
    let first = poll(&mut source, &config, &mut state).await.unwrap();
    age(&mut state, 200.0);
    let second = poll(&mut source, &config, &mut state).await.unwrap();
    assert_eq!(
        second.measurements, first.measurements,
        "the remembered readings"
    );
    assert_eq!(second.error, None);
    assert_eq!(
        second.measured_at,
        state.last_good.as_ref().map(|g| g.fetched_at),
        "timed when they were fetched, not now"
    );
    assert_eq!(server.requests().len(), 1);

    // Past the cache duration it asks again.
    age(&mut state, 101.0);
    poll(&mut source, &config, &mut state).await.unwrap();
    assert_eq!(server.requests().len(), 2);

    // A changed location is a different question: asked at once.
    let paris = self::config(&server.url(), "Paris", 300);
    poll(&mut source, &paris, &mut state).await.unwrap();
    assert_eq!(server.requests().len(), 3);
    assert_eq!(server.requests()[2].path, "/Paris?format=j1");

    // cache_duration 0 asks every time.
    let uncached = self::config(&server.url(), "Paris", 0);
    poll(&mut source, &uncached, &mut state).await.unwrap();
    poll(&mut source, &uncached, &mut state).await.unwrap();
    assert_eq!(server.requests().len(), 5);
}

#[tokio::test]
async fn a_clock_that_went_back_does_not_freeze_the_cache() {
    let server = fixture_server().await;
    let mut source = WeatherSource::new(client());
    let mut state = WeatherState::default();
    let config = config(&server.url(), "London", 300);
    poll(&mut source, &config, &mut state).await.unwrap();
    age(&mut state, -86_400.0); // "fetched" tomorrow
    poll(&mut source, &config, &mut state).await.unwrap();
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn the_empty_location_asks_wttr_in_to_guess_and_locations_are_encoded() {
    let server = fixture_server().await;
    let mut source = WeatherSource::new(client());
    for (location, path) in [
        ("", "/?format=j1"),
        ("New York", "/New%20York?format=j1"),
        ("~Eiffel Tower", "/~Eiffel%20Tower?format=j1"),
        ("Zürich", "/Z%C3%BCrich?format=j1"),
    ] {
        let mut state = WeatherState::default();
        let out = poll(
            &mut source,
            &config(&server.url(), location, 300),
            &mut state,
        )
        .await
        .unwrap();
        assert_eq!(out.error, None, "{location}");
        assert_eq!(server.requests().last().unwrap().path, path);
    }
}

/// Every way a request can fail, the reply that causes it, and a part of the message it must give.
fn failures() -> Vec<(&'static str, Reply, &'static str)> {
    let truncated = FIXTURE[..FIXTURE.len() / 2].to_owned();
    vec![
        (
            "timeout",
            Reply::Delay(Duration::from_secs(5), Box::new(Reply::ok(FIXTURE))),
            "did not answer within 1 s",
        ),
        (
            "401",
            Reply::Status(401),
            "wttr.in answered HTTP 401 Unauthorized",
        ),
        (
            "429",
            Reply::Status(429),
            "wttr.in answered HTTP 429 Too Many Requests; no request before ",
        ),
        (
            "500",
            Reply::Json {
                status: 500,
                body: "Internal Server Error".to_owned(),
            },
            "wttr.in answered HTTP 500 Internal Server Error: starts with \"Internal Server Error\"",
        ),
        (
            "malformed JSON",
            Reply::ok("{\"current_condition\": [{\"temp_C\": \"9\",}]}"),
            "wttr.in answer is not JSON (trailing comma at line 1 column ",
        ),
        (
            "truncated JSON",
            Reply::Truncated(truncated),
            "wttr.in request failed: GET http://",
        ),
        (
            "rate-limit text",
            Reply::ok("Sorry, we are running out of queries to the weather service at the moment."),
            "starts with \"Sorry, we are running out",
        ),
        (
            "not j1",
            Reply::ok("{\"error\": \"Unknown location\"}"),
            "not a j1 document",
        ),
        (
            "huge body",
            Reply::Huge(MAX_BODY + 1),
            "sent more than 262144 bytes",
        ),
    ]
}

#[tokio::test]
async fn every_failure_without_a_previous_answer_fails_the_poll_naming_the_cause() {
    for (name, reply, cause) in failures() {
        let server = ReplayServer::start(move |_: &RecordedRequest| reply.clone()).await;
        let mut source = WeatherSource::new(client());
        let mut state = WeatherState::default();
        let err = poll(
            &mut source,
            &config(&server.url(), "London", 300),
            &mut state,
        )
        .await
        .expect_err(name);
        assert!(err.0.contains(cause), "{name}: {err}");
        assert_eq!(state.last_good, None, "{name}");
        assert_eq!(server.requests().len(), 1, "{name}");
    }
}

#[tokio::test]
async fn no_server_at_all_is_a_connect_error() {
    // A port that was just free: nothing listens there (the listener is closed as it is dropped).
    let url = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let mut source = WeatherSource::new(client());
    let err = poll(
        &mut source,
        &config(&url, "London", 300),
        &mut WeatherState::default(),
    )
    .await
    .unwrap_err();
    assert!(
        err.0
            .starts_with("wttr.in request failed: cannot connect to GET http://127.0.0.1:"),
        "{err}"
    );
}

#[tokio::test]
async fn every_failure_with_a_previous_answer_shows_it_as_stale() {
    for (name, reply, cause) in failures() {
        let fail = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let server = {
            let fail = std::sync::Arc::clone(&fail);
            ReplayServer::start(move |_: &RecordedRequest| {
                if fail.load(std::sync::atomic::Ordering::SeqCst) {
                    reply.clone()
                } else {
                    Reply::ok(FIXTURE)
                }
            })
            .await
        };
        let mut source = WeatherSource::new(client());
        let mut state = WeatherState::default();
        let config = config(&server.url(), "London", 300);
        let good = poll(&mut source, &config, &mut state).await.unwrap();
        let fetched_at = state.last_good.as_ref().unwrap().fetched_at;

        fail.store(true, std::sync::atomic::Ordering::SeqCst);
        age(&mut state, 301.0);
        let out = poll(&mut source, &config, &mut state)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(out.measurements, good.measurements, "{name}");
        let error = out.error.unwrap();
        assert!(error.starts_with("stale: "), "{name}: {error}");
        assert!(error.contains(cause), "{name}: {error}");
        assert!(
            error.ends_with(&format!(
                "; showing data fetched at {}",
                rfc3339(fetched_at - 301.0)
            )),
            "{name}: {error}"
        );
        assert_eq!(server.requests().len(), 2, "{name}");
        assert_eq!(
            state.last_good.as_ref().unwrap().fetched_at,
            fetched_at - 301.0,
            "{name}: the good answer is kept as it was"
        );
    }
}

#[tokio::test]
async fn stale_data_has_limits() {
    let fail = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let server = {
        let fail = std::sync::Arc::clone(&fail);
        ReplayServer::start(move |_: &RecordedRequest| {
            if fail.load(std::sync::atomic::Ordering::SeqCst) {
                Reply::Status(500)
            } else {
                Reply::ok(FIXTURE)
            }
        })
        .await
    };
    let mut source = WeatherSource::new(client());
    let mut state = WeatherState::default();
    let london = config(&server.url(), "London", 300);
    poll(&mut source, &london, &mut state).await.unwrap();
    fail.store(true, std::sync::atomic::Ordering::SeqCst);

    // Another location's answer is not shown for this one.
    let paris = config(&server.url(), "Paris", 300);
    let err = poll(&mut source, &paris, &mut state).await.unwrap_err();
    assert_eq!(err.0, "wttr.in answered HTTP 500 Internal Server Error");

    // Too old to show.
    age(&mut state, MAX_STALE_SECS + 1.0);
    let err = poll(&mut source, &london, &mut state).await.unwrap_err();
    assert!(
        err.0.starts_with(
            "wttr.in answered HTTP 500 Internal Server Error; the last good data, fetched at "
        ),
        "{err}"
    );
    assert!(err.0.ends_with(", is too old to show"), "{err}");

    // Unless the cache itself is meant to last longer.
    let day_cache = config(&server.url(), "London", 86_400);
    age(&mut state, 86_400.0 - MAX_STALE_SECS - 100.0);
    let out = poll(&mut source, &day_cache, &mut state).await.unwrap();
    assert_eq!(out.error, None, "still fresh within a day's cache");
}

#[tokio::test]
async fn a_partial_answer_is_kept_with_its_problems() {
    let partial = fixture_without("/weather/2", "maxtempC");
    let server = ReplayServer::start(move |_: &RecordedRequest| Reply::ok(partial.clone())).await;
    let mut source = WeatherSource::new(client());
    let mut state = WeatherState::default();
    let config = config(&server.url(), "London", 300);
    let out = poll(&mut source, &config, &mut state).await.unwrap();
    assert_eq!(
        out.error.as_deref(),
        Some("wttr.in answer has no weather[2].maxtempC")
    );
    assert_eq!(
        value(&out.measurements, "forecast_d2_max_temp"),
        &Value::Null
    );
    assert_eq!(
        out.measurements
            .iter()
            .filter(|m| m.value.is_null())
            .count(),
        1
    );
    // Remembered with its problem, which the cached polls report too.
    let again = poll(&mut source, &config, &mut state).await.unwrap();
    assert_eq!(again, out);
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn a_429_holds_off_and_serves_the_cache_meanwhile() {
    let reply = std::sync::Arc::new(std::sync::Mutex::new(Reply::ok(FIXTURE)));
    let server = {
        let reply = std::sync::Arc::clone(&reply);
        ReplayServer::start(move |_: &RecordedRequest| reply.lock().unwrap().clone()).await
    };
    let set = |r: Reply| *reply.lock().unwrap() = r;
    let mut source = WeatherSource::new(client());
    let mut state = WeatherState::default();
    let config = config(&server.url(), "London", 300);
    let good = poll(&mut source, &config, &mut state).await.unwrap();

    // 429 with Retry-After in seconds.
    set(Reply::WithHeaders {
        status: 429,
        headers: vec![("retry-after".to_owned(), "120".to_owned())],
        body: String::new(),
    });
    age(&mut state, 301.0);
    let before = unix_now();
    let out = poll(&mut source, &config, &mut state).await.unwrap();
    assert_eq!(out.measurements, good.measurements);
    assert!(
        out.error
            .as_deref()
            .unwrap()
            .starts_with("stale: wttr.in answered HTTP 429 Too Many Requests; no request before "),
        "{out:?}"
    );
    let hold = state.hold_off.clone().unwrap();
    assert!((hold.until - before - 120.0).abs() < 5.0, "{hold:?}");
    assert_eq!(hold.cause, "wttr.in answered HTTP 429 Too Many Requests");

    // While holding off: no request, the cached readings, and why.
    set(Reply::ok(FIXTURE));
    let out = poll(&mut source, &config, &mut state).await.unwrap();
    assert_eq!(server.requests().len(), 2);
    assert_eq!(out.measurements, good.measurements);
    let error = out.error.unwrap();
    assert!(
        error.starts_with(
            "stale: holding off: wttr.in answered HTTP 429 Too Many Requests; no request before "
        ),
        "{error}"
    );

    // Once it has passed, requests resume and the hold-off is forgotten.
    state.hold_off.as_mut().unwrap().until = unix_now() - 1.0;
    let out = poll(&mut source, &config, &mut state).await.unwrap();
    assert_eq!(out.error, None);
    assert_eq!(server.requests().len(), 3);
    assert_eq!(state.hold_off, None);
}

#[tokio::test]
async fn retry_after_forms_and_limits() {
    let now = unix_now();
    let http_date = |secs: f64| {
        // An IMF-fixdate `secs` from now, built from the RFC 3339 form.
        let t = rfc3339(now + secs);
        let (y, m, d) = (&t[0..4], &t[5..7], &t[8..10]);
        let month = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ][m.parse::<usize>().unwrap() - 1];
        format!("Mon, {d} {month} {y} {} GMT", &t[11..19])
    };
    let cases: Vec<(u16, Option<String>, Option<f64>)> = vec![
        (429, None, Some(DEFAULT_HOLD_OFF_SECS)),
        (429, Some("30".to_owned()), Some(30.0)),
        (429, Some("0".to_owned()), Some(1.0)),
        (429, Some("99999999".to_owned()), Some(MAX_HOLD_OFF_SECS)),
        (429, Some("soon".to_owned()), Some(DEFAULT_HOLD_OFF_SECS)),
        (429, Some(http_date(600.0)), Some(600.0)),
        (503, Some("60".to_owned()), Some(60.0)),
        (503, None, None),
        (500, None, None),
    ];
    for (status, header, expected) in cases {
        let headers: Vec<(String, String)> = header
            .iter()
            .map(|h| ("retry-after".to_owned(), h.clone()))
            .collect();
        let server = ReplayServer::start(move |_: &RecordedRequest| Reply::WithHeaders {
            status,
            headers: headers.clone(),
            body: String::new(),
        })
        .await;
        let mut source = WeatherSource::new(client());
        let mut state = WeatherState::default();
        let err = poll(&mut source, &config(&server.url(), "", 300), &mut state)
            .await
            .unwrap_err();
        let waited = state.hold_off.as_ref().map(|h| h.until - now);
        match (waited, expected) {
            (Some(w), Some(e)) => {
                assert!((w - e).abs() < 5.0, "{status} {header:?}: {w} vs {e}");
                assert!(err.0.contains("; no request before "), "{err}");
            }
            (None, None) => assert!(!err.0.contains("no request before"), "{err}"),
            other => panic!("{status} {header:?}: {other:?}"),
        }
        // Without anything cached, a poll during the hold-off fails naming it, and asks nothing.
        if expected.is_some() {
            let err = poll(&mut source, &config(&server.url(), "", 300), &mut state)
                .await
                .unwrap_err();
            assert!(
                err.0.starts_with("holding off: wttr.in answered HTTP "),
                "{err}"
            );
            assert_eq!(server.requests().len(), 1);
        }
    }
}

#[tokio::test]
async fn a_hold_off_from_a_clock_gone_wrong_is_forgotten() {
    let server = fixture_server().await;
    let mut source = WeatherSource::new(client());
    let mut state = WeatherState {
        last_good: None,
        hold_off: Some(HoldOff {
            until: unix_now() + 10.0 * MAX_HOLD_OFF_SECS,
            cause: "wttr.in answered HTTP 429 Too Many Requests".to_owned(),
        }),
    };
    let out = poll(
        &mut source,
        &config(&server.url(), "London", 300),
        &mut state,
    )
    .await
    .unwrap();
    assert_eq!(out.error, None);
    assert_eq!(state.hold_off, None);
}

#[test]
fn a_poll_can_run_on_any_runtime_thread() {
    fn send<T: Send>(_: &T) {}
    let mut source = WeatherSource::new(client());
    let config = Config::default();
    let mut state = WeatherState::default();
    let poll = source.poll(PollContext::config_only(&config), &mut state);
    send(&poll);
}
