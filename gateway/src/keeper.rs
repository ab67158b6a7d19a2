//! The config keeper: the gateway's copy of the last valid settings, so a Redis that lost them
//! (restarted empty, a power cut before its last save, a key deleted) gets them back instead of
//! every service falling back to defaults — sign-in turned off among them.
//!
//! Who is the authority: Redis, while it holds a section. The keeper only fills in a section that
//! Redis no longer has, or that holds nothing but what the environment seeds (the orchestrator
//! seeds `SET NX` at start, and may win the race against this restore after both restarted): no
//! API deletes a section, so either means the user's settings were lost. A satellite's own values
//! (`config:display@kitchen`) are kept alike: only the API deletes one (every field set back to
//! follow the shared value), and it tells the keeper, so one missing otherwise was lost too. The
//! copy lives in memory
//! and, with a state folder (`STATE_DIR`), in `config-backup.json` there (mode 0600: it holds the
//! Pi-hole and camera passwords and the sign-in hash), so it survives the gateway restarting too.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::path::PathBuf;

use sense_bus::config::{check_update_by_name, env_layer_by_name};
use sense_bus::keys;
use sense_bus::store::{announce_config_names, read_config_texts, read_override_texts};
use sense_bus::{Batch, Bus, BusError, Guard, SectionName};
use serde_json::Value as Json;

/// The backup's file name in the state folder.
pub const BACKUP_FILE: &str = "config-backup.json";

/// The text in force of every section (`None`: nothing stored): what Redis holds, or the last
/// known text where Redis lost it.
pub type InForce = BTreeMap<SectionName, Option<String>>;

/// The last valid text of each section.
#[derive(Debug)]
pub struct ConfigKeeper {
    known: RefCell<BTreeMap<SectionName, String>>,
    /// Each node's own values by their name (`display@kitchen`), as last written or seen valid.
    overrides: RefCell<BTreeMap<String, String>>,
    /// Counts [`ConfigKeeper::remember`]s: a look at Redis that began before one is stale.
    generation: Cell<u64>,
    file: Option<PathBuf>,
}

/// The first thing wrong with a stored section's text taken whole (not field by field, as
/// services read it), in words that quote no secret; `None` when it is valid.
pub fn section_problem(
    name: SectionName,
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Option<String> {
    let fields = match serde_json::from_str::<Json>(text) {
        Ok(Json::Object(fields)) => fields,
        Ok(_) => return Some(format!("config:{name} is not a JSON object")),
        Err(_) => return Some(format!("config:{name} is not valid JSON")),
    };
    check_update_by_name(name, None, &fields, env)
        .err()
        .map(|e| format!("config:{e}"))
}

/// What is wrong with a node's stored override (`display@kitchen`) of `section`: its own
/// fields, checked as the API checks a write of them; `None` when they are valid.
fn override_problem(
    section: SectionName,
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Option<String> {
    match serde_json::from_str::<Json>(text) {
        Ok(Json::Object(fields)) => check_update_by_name(section, None, &fields, env)
            .err()
            .map(|e| e.to_string()),
        _ => Some("not a JSON object".to_owned()),
    }
}

/// Whether `stored` holds only what seeding from the environment writes for `name`.
fn only_seeded(name: SectionName, stored: &str, env: &dyn Fn(&str) -> Option<String>) -> bool {
    let (seed, _) = env_layer_by_name(name, env);
    !seed.is_empty() && serde_json::from_str::<Json>(stored).ok() == Some(Json::Object(seed))
}

impl ConfigKeeper {
    /// A keeper, with the copy saved in `state_dir` if given (read now if it is there).
    pub fn new(state_dir: Option<PathBuf>) -> ConfigKeeper {
        let file = state_dir.map(|d| d.join(BACKUP_FILE));
        let saved = file
            .as_deref()
            .and_then(|f| std::fs::read(f).ok())
            .and_then(|bytes| serde_json::from_slice::<BTreeMap<String, String>>(&bytes).ok())
            .unwrap_or_default();
        // One file: the shared sections by their names, the overrides by theirs (`display@kitchen`).
        let mut known = BTreeMap::new();
        let mut overrides = BTreeMap::new();
        for (name, text) in saved {
            match keys::parse_section(&name) {
                Some((section, None)) => {
                    known.insert(section, text);
                }
                Some((_, Some(_))) => {
                    overrides.insert(name, text);
                }
                None => {}
            }
        }
        ConfigKeeper {
            known: RefCell::new(known),
            overrides: RefCell::new(overrides),
            generation: Cell::new(0),
            file,
        }
    }

    /// Takes `text` as the section's last valid one: it was just written, deliberately, through
    /// the API. Without this, a write that happens to equal the environment's seed would look
    /// like a seed after a loss, and be undone.
    pub fn remember(&self, name: SectionName, text: String) {
        self.generation.set(self.generation.get() + 1);
        self.known.borrow_mut().insert(name, text);
        self.save();
    }

    /// Takes a node's override (`display@kitchen`) as just written through the API: its text, or
    /// `None` when the write left it nothing of its own (deleted: it is not to come back).
    pub fn remember_override(&self, name: String, text: Option<String>) {
        self.generation.set(self.generation.get() + 1);
        match text {
            Some(text) => self.overrides.borrow_mut().insert(name, text),
            None => self.overrides.borrow_mut().remove(&name),
        };
        self.save();
    }

    /// The last valid text of `name`, if one was seen.
    pub fn last_valid(&self, name: SectionName) -> Option<String> {
        self.known.borrow().get(&name).cloned()
    }

    /// Reads every section, remembers the valid ones, and puts back those Redis lost.
    pub async fn reconcile(
        &self,
        bus: &Bus,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<InForce, BusError> {
        let (stored, present) = loop {
            let generation = self.generation.get();
            let stored = read_config_texts(bus, &SectionName::ALL).await?;
            let present = read_override_texts(bus).await?;
            // Read across a write through the API: what was read may predate it.
            if self.generation.get() == generation {
                break (stored, present);
            }
        };
        let mut found = InForce::new();
        let mut lost = Vec::new();
        let mut learned = false;
        for name in SectionName::ALL {
            let text = stored.get(&name).cloned().flatten();
            let known = self.last_valid(name);
            match (&text, known) {
                // Missing, or only the environment's seed where the user had more: lost.
                (None, Some(k)) => lost.push((name, None, k)),
                (Some(t), Some(k)) if *t != k && only_seeded(name, t, env) => {
                    lost.push((name, text.clone(), k));
                }
                (Some(t), known)
                    if known.as_ref() != Some(t) && section_problem(name, t, env).is_none() =>
                {
                    self.known.borrow_mut().insert(name, t.clone());
                    learned = true;
                }
                _ => {}
            }
            found.insert(name, text);
        }
        // The overrides: learn the valid ones, put back those missing.
        let mut lost_overrides = Vec::new();
        for (name, known) in self.overrides.borrow().iter() {
            if !present.contains_key(name) {
                lost_overrides.push((name.clone(), known.clone()));
            }
        }
        for (name, text) in &present {
            let Some((section, Some(_))) = keys::parse_section(name) else {
                continue;
            };
            let known = self.overrides.borrow().get(name).cloned();
            if known.as_ref() != Some(text) && override_problem(section, text, env).is_none() {
                self.overrides
                    .borrow_mut()
                    .insert(name.clone(), text.clone());
                learned = true;
            }
        }
        if learned {
            self.save();
        }
        if lost.is_empty() && lost_overrides.is_empty() {
            return Ok(found);
        }
        let mut batch = Batch::new();
        let mut guards: Vec<Guard> = lost
            .iter()
            .map(|(name, was, _)| Guard::holds(keys::config(*name), was.as_deref()))
            .collect();
        let mut names: Vec<String> = Vec::new();
        for (name, _, k) in &lost {
            batch.set(keys::config(*name), k.clone(), None);
            names.push(name.as_str().to_owned());
        }
        for (name, k) in &lost_overrides {
            let Some((section, Some(node))) = keys::parse_section(name) else {
                continue;
            };
            let key = keys::config_override(section, &node);
            guards.push(Guard::holds(key.clone(), None));
            batch.set(key, k.clone(), None);
            names.push(name.clone());
        }
        announce_config_names(&mut batch, &names);
        // Someone who wrote meanwhile stands, and the next look decides again; until then the
        // last known settings are the ones in force either way.
        if bus.apply_if(&guards, &batch).await? {
            tracing::error!(
                sections = %names.join(", "),
                "settings were missing from Redis (restarted empty, or deleted): restored the last known ones"
            );
        }
        for (name, _, k) in lost {
            found.insert(name, Some(k));
        }
        Ok(found)
    }

    /// Writes the copy to the state folder, readable by this user alone.
    fn save(&self) {
        let Some(file) = &self.file else { return };
        let known = self.known.borrow();
        let overrides = self.overrides.borrow();
        let saved: BTreeMap<&str, &String> = known
            .iter()
            .map(|(name, text)| (name.as_str(), text))
            .chain(overrides.iter().map(|(name, text)| (name.as_str(), text)))
            .collect();
        let Ok(bytes) = serde_json::to_vec_pretty(&saved) else {
            return;
        };
        if let Err(e) = write_private(file, &bytes) {
            tracing::warn!(file = %file.display(), error = %e, "cannot save the settings backup");
        }
    }
}

/// Replaces `file` with `bytes` atomically (a file beside it, then a rename), mode 0600.
fn write_private(file: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let partial = file.with_extension("json.partial");
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&partial)?;
    out.write_all(bytes)?;
    out.sync_all()?;
    drop(out);
    std::fs::rename(&partial, file)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PIHOLE_HOST: &str = "http://127.0.0.3:9";

    fn env(name: &str) -> Option<String> {
        (name == "PIHOLE_HOST").then(|| PIHOLE_HOST.to_owned())
    }

    async fn stored(bus: &Bus, name: SectionName) -> Option<String> {
        bus.get(&keys::config(name)).await.unwrap()
    }

    #[tokio::test]
    async fn lost_sections_come_back_and_a_seed_after_a_loss_gives_way() {
        let bus = Bus::memory();
        let keeper = ConfigKeeper::new(None);
        let users = r#"{"host":"http://127.0.0.2:9","password":"pihole-secret"}"#;
        bus.set(&keys::config(SectionName::Pihole), users, None)
            .await
            .unwrap();
        keeper.reconcile(&bus, &env).await.unwrap();
        // Lost: put back.
        bus.del(&keys::config(SectionName::Pihole)).await.unwrap();
        let in_force = keeper.reconcile(&bus, &env).await.unwrap();
        assert_eq!(in_force[&SectionName::Pihole].as_deref(), Some(users));
        assert_eq!(
            stored(&bus, SectionName::Pihole).await.as_deref(),
            Some(users)
        );
        // Lost, and the environment's seed got there first (both restarted): put back too.
        let seed = format!(r#"{{"host":"{PIHOLE_HOST}"}}"#);
        bus.set(&keys::config(SectionName::Pihole), &seed, None)
            .await
            .unwrap();
        keeper.reconcile(&bus, &env).await.unwrap();
        assert_eq!(
            stored(&bus, SectionName::Pihole).await.as_deref(),
            Some(users)
        );
    }

    #[tokio::test]
    async fn a_deliberate_write_equal_to_the_seed_stands() {
        let bus = Bus::memory();
        let keeper = ConfigKeeper::new(None);
        let before = r#"{"host":"http://127.0.0.2:9"}"#;
        bus.set(&keys::config(SectionName::Pihole), before, None)
            .await
            .unwrap();
        keeper.reconcile(&bus, &env).await.unwrap();
        // The owner sets the host back to the environment's, through the API.
        let patch = serde_json::json!({"host": PIHOLE_HOST});
        let written = sense_bus::store::update_sections(
            &bus,
            &[sense_bus::store::SectionUpdate::new(
                SectionName::Pihole,
                patch.as_object().unwrap().clone(),
            )],
            &env,
        )
        .await
        .unwrap();
        for w in written {
            keeper.remember(w.section, w.text.unwrap());
        }
        keeper.reconcile(&bus, &env).await.unwrap();
        let now: Json =
            serde_json::from_str(&stored(&bus, SectionName::Pihole).await.unwrap()).unwrap();
        assert_eq!(now["host"], PIHOLE_HOST, "the owner's write is not undone");
    }

    /// Writes `patch` to the kitchen's override of the display through the store, as the API
    /// does, and tells the keeper as the API does.
    async fn write_kitchen(bus: &Bus, keeper: &ConfigKeeper, patch: Json) {
        let mut update = sense_bus::store::SectionUpdate::new(
            SectionName::Display,
            patch.as_object().unwrap().clone(),
        );
        update.node = Some(sense_bus::ids::NodeName::parse("kitchen").unwrap());
        let written = sense_bus::store::update_sections(bus, &[update], &env)
            .await
            .unwrap();
        for w in written {
            keeper.remember_override("display@kitchen".into(), w.text);
        }
    }

    #[tokio::test]
    async fn a_nodes_own_values_lost_come_back_and_one_deleted_through_the_api_does_not() {
        let bus = Bus::memory();
        let keeper = ConfigKeeper::new(None);
        let key = "config:display@kitchen";
        write_kitchen(&bus, &keeper, serde_json::json!({"rotation": 180})).await;
        let mut notices = bus
            .subscribe(&[sense_bus::Topic::channel(keys::channels::CONFIG_CHANGED)])
            .await
            .unwrap();
        // Lost (Redis restarted empty): put back, and announced for the kitchen to read again.
        bus.del(key).await.unwrap();
        keeper.reconcile(&bus, &env).await.unwrap();
        assert_eq!(
            bus.get(key).await.unwrap().as_deref(),
            Some(r#"{"rotation":180}"#)
        );
        let notice = notices.recv().await.unwrap();
        assert!(
            notice.payload.contains(r#""section":"display@kitchen""#),
            "{notice:?}"
        );
        // Set back to follow the shared value through the API: deleted, and it stays deleted.
        write_kitchen(&bus, &keeper, serde_json::json!({"rotation": null})).await;
        assert_eq!(bus.get(key).await.unwrap(), None);
        keeper.reconcile(&bus, &env).await.unwrap();
        assert_eq!(bus.get(key).await.unwrap(), None, "not brought back");
        // One found valid in Redis is learned, and kept from then on; an invalid one is not.
        bus.set("config:sleep@kitchen", r#"{"start_hour":23}"#, None)
            .await
            .unwrap();
        bus.set("config:display@hall", r#"{"rotation":45}"#, None)
            .await
            .unwrap();
        keeper.reconcile(&bus, &env).await.unwrap();
        bus.del("config:sleep@kitchen").await.unwrap();
        bus.del("config:display@hall").await.unwrap();
        keeper.reconcile(&bus, &env).await.unwrap();
        assert_eq!(
            bus.get("config:sleep@kitchen").await.unwrap().as_deref(),
            Some(r#"{"start_hour":23}"#)
        );
        assert_eq!(bus.get("config:display@hall").await.unwrap(), None);
    }

    #[tokio::test]
    async fn the_backup_file_survives_the_keeper_and_only_its_owner_reads_it() {
        let dir = std::env::temp_dir().join(format!("sense-keeper-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let bus = Bus::memory();
        let auth = r#"{"enabled":false,"username":"admin"}"#;
        bus.set(&keys::config(SectionName::Auth), auth, None)
            .await
            .unwrap();
        ConfigKeeper::new(Some(dir.clone()))
            .reconcile(&bus, &env)
            .await
            .unwrap();
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(dir.join(BACKUP_FILE))
                .unwrap()
                .permissions(),
        );
        assert_eq!(mode & 0o077, 0);
        let again = ConfigKeeper::new(Some(dir.clone()));
        assert_eq!(again.last_valid(SectionName::Auth).as_deref(), Some(auth));
        // A node's own values too: a gateway restarted with Redis empty puts them back.
        again.remember_override("display@kitchen".into(), Some(r#"{"rotation":90}"#.into()));
        let empty = Bus::memory();
        ConfigKeeper::new(Some(dir.clone()))
            .reconcile(&empty, &env)
            .await
            .unwrap();
        assert_eq!(
            empty
                .get("config:display@kitchen")
                .await
                .unwrap()
                .as_deref(),
            Some(r#"{"rotation":90}"#)
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
