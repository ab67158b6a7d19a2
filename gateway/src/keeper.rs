//! The config keeper: the gateway's copy of the last valid settings, so a Redis that lost them
//! (restarted empty, a power cut before its last save, a key deleted) gets them back instead of
//! every service falling back to defaults — sign-in turned off among them.
//!
//! Who is the authority: Redis, while it holds a section. The keeper only fills in a section that
//! Redis no longer has, or that holds nothing but what the environment seeds (the orchestrator
//! seeds `SET NX` at start, and may win the race against this restore after both restarted): no
//! API deletes a section, so either means the user's settings were lost. The copy lives in memory
//! and, with a state folder (`STATE_DIR`), in `config-backup.json` there (mode 0600: it holds the
//! Pi-hole and camera passwords and the sign-in hash), so it survives the gateway restarting too.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::PathBuf;

use sense_bus::config::{check_update_by_name, env_layer};
use sense_bus::keys::{self, channels};
use sense_bus::model::ConfigChanged;
use sense_bus::with_section;
use sense_bus::{Batch, Bus, BusError, Guard, SectionName, unix_now};
use serde_json::{Map, Value as Json};

/// The backup's file name in the state folder.
pub const BACKUP_FILE: &str = "config-backup.json";

/// What one look at Redis found.
#[derive(Debug, Default)]
pub struct Reconciled {
    /// The stored text of every section (`None`: nothing stored), after any restore.
    pub texts: BTreeMap<SectionName, Option<String>>,
    /// The sections put back from the copy.
    pub restored: Vec<SectionName>,
}

/// The last valid text of each section.
#[derive(Debug)]
pub struct ConfigKeeper {
    known: RefCell<BTreeMap<SectionName, String>>,
    file: Option<PathBuf>,
}

/// Whether `text` is a valid section on its own: a JSON object whose fields all pass.
pub fn is_valid(name: SectionName, text: &str, env: &dyn Fn(&str) -> Option<String>) -> bool {
    match serde_json::from_str::<Json>(text) {
        Ok(Json::Object(fields)) => check_update_by_name(name, None, &fields, env).is_ok(),
        _ => false,
    }
}

/// What `sense-pulse config seed` (and the orchestrator at start) writes for `name`, if anything.
fn env_seed(name: SectionName, env: &dyn Fn(&str) -> Option<String>) -> Option<Map<String, Json>> {
    let (fields, _) = with_section!(name, S => env_layer::<S>(env));
    (!fields.is_empty()).then_some(fields)
}

impl ConfigKeeper {
    /// A keeper, with the copy saved in `state_dir` if given (read now if it is there).
    pub fn new(state_dir: Option<PathBuf>) -> ConfigKeeper {
        let file = state_dir.map(|d| d.join(BACKUP_FILE));
        let known = file
            .as_deref()
            .and_then(|f| std::fs::read(f).ok())
            .and_then(|bytes| serde_json::from_slice::<BTreeMap<String, String>>(&bytes).ok())
            .map(|saved| {
                saved
                    .into_iter()
                    .filter_map(|(name, text)| Some((name.parse().ok()?, text)))
                    .collect()
            })
            .unwrap_or_default();
        ConfigKeeper {
            known: RefCell::new(known),
            file,
        }
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
    ) -> Result<Reconciled, BusError> {
        let texts = sense_bus::store::read_config_texts(bus, &SectionName::ALL).await?;
        let mut found = Reconciled::default();
        let mut batch = Batch::new();
        let mut guards = Vec::new();
        let mut changed = false;
        for name in SectionName::ALL {
            let stored = texts.get(&name).cloned().flatten();
            let known = self.last_valid(name);
            let lost = match (&stored, &known) {
                (None, Some(_)) => true,
                // Only the environment's seed, where the user had more: seeded after a loss.
                (Some(text), Some(k)) if text != k => {
                    let seeded = env_seed(name, env);
                    seeded.is_some()
                        && serde_json::from_str::<Json>(text).ok() == seeded.map(Json::Object)
                }
                _ => false,
            };
            if lost && let Some(k) = known {
                batch.set(keys::config(name), k.clone(), None);
                guards.push(Guard::holds(keys::config(name), stored.as_deref()));
                found.restored.push(name);
                found.texts.insert(name, Some(k));
                continue;
            }
            if let Some(text) = &stored
                && known.as_ref() != Some(text)
                && is_valid(name, text, env)
            {
                self.known.borrow_mut().insert(name, text.clone());
                changed = true;
            }
            found.texts.insert(name, stored);
        }
        if !found.restored.is_empty() {
            for name in &found.restored {
                let notice = ConfigChanged {
                    section: name.as_str().to_owned(),
                    timestamp: unix_now(),
                };
                batch.publish(channels::CONFIG_CHANGED, sense_bus::store::to_json(&notice));
            }
            if bus.apply_if(&guards, &batch).await? {
                let names: Vec<&str> = found.restored.iter().map(|n| n.as_str()).collect();
                tracing::error!(
                    sections = %names.join(", "),
                    "settings were missing from Redis (restarted empty, or deleted): restored the last known ones"
                );
            } else {
                // Someone wrote meanwhile: theirs stands; look again next time.
                found.restored.clear();
                return Ok(found);
            }
        }
        if changed {
            self.save();
        }
        Ok(found)
    }

    /// Writes the copy to the state folder, readable by this user alone.
    fn save(&self) {
        let Some(file) = &self.file else { return };
        let known = self.known.borrow();
        let saved: BTreeMap<&str, &String> = known
            .iter()
            .map(|(name, text)| (name.as_str(), text))
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

/// The first thing wrong with the stored `config:auth` text, in words that quote no secret.
pub fn auth_problem(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    let fields = match serde_json::from_str::<Json>(text) {
        Ok(Json::Object(fields)) => fields,
        Ok(_) => return Some("config:auth is not a JSON object".to_owned()),
        Err(_) => return Some("config:auth is not valid JSON".to_owned()),
    };
    check_update_by_name(SectionName::Auth, None, &fields, env)
        .err()
        .map(|e| format!("config:{e}"))
}
