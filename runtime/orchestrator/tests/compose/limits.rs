//! Logs and memory are bounded (an SD card, 1 GB of RAM).

use sense_orchestrator::docker::{LOG_MAX_FILES, LOG_MAX_SIZE};

use crate::parse::{bytes, compose, services, text};
use crate::{CORE, CORE_MEMORY_BUDGET};

#[test]
fn logs_memory_and_restarts_are_bounded() {
    let compose = compose();
    let mut core_memory = 0;
    for (name, s) in services(&compose) {
        assert_eq!(s["logging"]["driver"], "json-file", "{name}: logging");
        let max = text(&s["logging"]["options"]["max-size"]);
        assert!(bytes(&max) <= 10 << 20, "{name}: log max-size {max}");
        let limit = bytes(&text(&s["mem_limit"]));
        assert!(limit >= 32 << 20, "{name}: mem_limit {limit}");
        // The same limits as the containers the orchestrator creates itself.
        let options = &s["logging"]["options"];
        assert_eq!(text(&options["max-size"]), LOG_MAX_SIZE, "{name}: max-size");
        assert_eq!(
            text(&options["max-file"]),
            LOG_MAX_FILES.to_string(),
            "{name}: max-file"
        );
        if CORE.contains(&name.as_str()) {
            core_memory += limit;
            assert_eq!(text(&s["restart"]), "unless-stopped", "{name}");
        }
    }
    assert!(
        core_memory <= CORE_MEMORY_BUDGET,
        "the core services reserve {} MiB",
        core_memory >> 20
    );
}
