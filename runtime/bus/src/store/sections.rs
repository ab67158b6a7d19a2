//! Config on the bus: the sections as a scope reads them (a node's overrides laid over the
//! shared sections), seeding from the environment, and checked, all-or-nothing writes.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Map, Value as Json};

use super::to_json;
use crate::config::{self, Config, FieldError};
use crate::ids::{NodeName, Scope, SectionName};
use crate::keys::{self, channels};
use crate::model::ConfigChanged;
use crate::{Batch, Bus, BusError, Guard, unix_now};

/// The keys that hold `sections` as `scope` sees them: each section's, then, on a named node, its
/// override of each per-node one (`config:display@kitchen`). Read them together and pair the
/// values up with [`config_texts`].
pub fn config_keys(scope: &Scope, sections: &[SectionName]) -> Vec<String> {
    let shared = sections.iter().map(|&s| keys::config(s));
    let overrides = sections.iter().filter_map(|&s| {
        scope
            .name()
            .filter(|_| s.per_node())
            .map(|node| keys::config_override(s, node))
    });
    shared.chain(overrides).collect()
}

/// Each of `sections`' stored text from `values` (read at [`config_keys`], in its order), a
/// node's override laid over the shared section: the fields it sets win
/// ([`config::overlay`]).
pub fn config_texts(
    scope: &Scope,
    sections: &[SectionName],
    values: &[Option<String>],
) -> HashMap<SectionName, Option<String>> {
    let mut texts: HashMap<SectionName, Option<String>> = sections
        .iter()
        .copied()
        .zip(values.iter().cloned())
        .collect();
    if scope.name().is_some() {
        let overridable = sections.iter().copied().filter(|s| s.per_node());
        for (section, over) in overridable.zip(values.iter().skip(sections.len())) {
            if let Some(text) = texts.get_mut(&section) {
                *text = config::overlay(text.as_deref(), over.as_deref());
            }
        }
    }
    texts
}

/// The stored text of each of `sections` (`None` where nothing is stored) as the bus's scope sees
/// them, in one round trip.
pub async fn read_config_texts(
    bus: &Bus,
    sections: &[SectionName],
) -> Result<HashMap<SectionName, Option<String>>, BusError> {
    let values = bus.mget(&config_keys(bus.scope(), sections)).await?;
    Ok(config_texts(bus.scope(), sections, &values))
}

/// Every node's stored override, by its name (`display@kitchen` → its text), in name order.
pub async fn read_override_texts(
    bus: &Bus,
) -> Result<std::collections::BTreeMap<String, String>, BusError> {
    let keys = bus
        .keys(&format!(
            "{}{}*",
            keys::ALL_CONFIG,
            crate::ids::NODE_SEPARATOR
        ))
        .await?;
    let texts = bus.mget(&keys).await?;
    Ok(keys
        .into_iter()
        .zip(texts)
        .filter_map(|(key, text)| Some((key.strip_prefix("config:")?.to_owned(), text?)))
        .collect())
}

/// Resolves `sections` from Redis and the environment (see [`config`]). Problems name the section
/// and field; the values to run with are always complete.
pub async fn load_config(
    bus: &Bus,
    sections: &[SectionName],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(Config, Vec<String>), BusError> {
    let texts = read_config_texts(bus, sections).await?;
    Ok(Config::resolve(
        sections,
        |s| texts.get(&s).cloned().flatten(),
        env,
    ))
}

/// What seeding did to one section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seeded {
    /// The environment set nothing for it.
    NothingToSeed,
    /// Written from the environment.
    Written,
    /// Already in Redis (e.g. edited in the dashboard): left alone.
    AlreadyPresent,
}

/// Seeds `config:{section}` from the environment with `SET NX`, for every section the environment
/// sets fields of. Existing sections are never overwritten, so dashboard edits survive restarts.
/// Returns what happened per section, and the environment's problems.
pub async fn seed_config_from_env(
    bus: &Bus,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(Vec<(SectionName, Seeded)>, Vec<String>), BusError> {
    let mut outcome = Vec::new();
    let mut problems = Vec::new();
    for name in SectionName::ALL {
        let (fields, p) = config::env_layer_by_name(name, env);
        problems.extend(p);
        let seeded = if fields.is_empty() {
            Seeded::NothingToSeed
        } else if bus
            .set_nx(&keys::config(name), &Json::Object(fields).to_string())
            .await?
        {
            Seeded::Written
        } else {
            Seeded::AlreadyPresent
        };
        outcome.push((name, seeded));
    }
    Ok((outcome, problems))
}

/// Why a config write did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ConfigWriteError {
    /// A value the write sets is invalid (in `auth`, checked whole, any stored one too), named
    /// within its section; nothing was written.
    #[error(transparent)]
    Invalid(#[from] FieldError),
    /// The bus failed; nothing was written.
    #[error(transparent)]
    Bus(#[from] BusError),
    /// The section changed since the writer loaded the revision it sent; nothing was written.
    #[error("config:{section} was changed elsewhere since it was loaded: reload it and try again")]
    Stale {
        /// The section.
        section: SectionName,
    },
    /// Other writers kept changing the sections under this write; nothing was written.
    #[error("the config is being changed by others right now: try again")]
    Busy,
}

/// A partial update of one section, as `POST /api/config` takes it.
#[derive(Clone, Debug, PartialEq)]
pub struct SectionUpdate {
    /// The section.
    pub section: SectionName,
    /// Fields to set over what is stored; secrets sent back [`REDACTED`](config::REDACTED) are
    /// restored where that is safe ([`config::Section::restore_redacted`]).
    pub patch: Map<String, Json>,
    /// The [`config::revision`] the writer loaded, if it wants the write refused when the section
    /// has changed since.
    pub revision: Option<String>,
    /// Writes this node's override (`config:display@kitchen`) instead of the shared section: the
    /// patch is checked over the shared section with the override laid on it, and only the
    /// override's fields are stored. There a field set to `null` is taken out of the override:
    /// the node follows the shared value again (an override left with no field is deleted).
    pub node: Option<NodeName>,
}

impl SectionUpdate {
    /// An update that does not check the revision (last writer wins, field by field).
    pub fn new(section: SectionName, patch: Map<String, Json>) -> Self {
        SectionUpdate {
            section,
            patch,
            revision: None,
            node: None,
        }
    }

    /// The name it is written and announced under: `display`, or `display@kitchen`.
    pub fn name(&self) -> String {
        match &self.node {
            None => self.section.as_str().to_owned(),
            Some(node) => Scope::node(node.clone()).id(self.section.as_str()),
        }
    }
}

/// One section a write stored ([`update_sections`]).
#[derive(Clone, Debug, PartialEq)]
pub struct WrittenSection {
    /// The section.
    pub section: SectionName,
    /// The node whose override it is (`None`: the shared section).
    pub node: Option<NodeName>,
    /// Its new text; its [`config::revision`] follows from it. `None`: nothing is stored any more
    /// (a node's override whose every field was set back to follow the shared section).
    pub text: Option<String>,
    /// Stored fields the write did not set that are invalid, kept as they were for the user to
    /// fix, each named within its section (`display.rotation`):
    /// [`config::CheckedUpdate::warnings`]. Empty when the section is valid as a whole.
    pub warnings: Vec<FieldError>,
}

/// Attempts of a write that others keep changing under it before it gives up.
const WRITE_ATTEMPTS: usize = 64;

/// Validates and writes several sections at once (all or none), then announces each on
/// `config:changed`. `updates` are partial: their fields go over what is stored, and are judged
/// on what they set ([`config::check_update`]). Returns the sections written.
pub async fn update_config(
    bus: &Bus,
    updates: &[(SectionName, Map<String, Json>)],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<SectionName>, ConfigWriteError> {
    let updates: Vec<SectionUpdate> = updates
        .iter()
        .map(|(name, patch)| SectionUpdate::new(*name, patch.clone()))
        .collect();
    update_sections(bus, &updates, env)
        .await
        .map(|written| written.into_iter().map(|w| w.section).collect())
}

/// [`update_config`] with revisions: each update merges over what is stored at the moment it is
/// written (read, merge, compare-and-set, again if another writer came in between), so
/// concurrent partial writes never lose each other's fields; an update carrying a revision is
/// refused as [`ConfigWriteError::Stale`] if its section changed since. A field an update sets
/// that is invalid refuses the write ([`ConfigWriteError::Invalid`], naming it); an invalid
/// stored field it does not set is kept and reported in [`WrittenSection::warnings`]. Returns
/// each written section, in the order given.
pub async fn update_sections(
    bus: &Bus,
    updates: &[SectionUpdate],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<WrittenSection>, ConfigWriteError> {
    // Each update's key, and for an override the shared section it lies over.
    let keys: Vec<(String, Option<String>)> = updates
        .iter()
        .map(|u| match &u.node {
            None => (keys::config(u.section), None),
            Some(node) => (
                keys::config_override(u.section, node),
                Some(keys::config(u.section)),
            ),
        })
        .collect();
    let mut to_read: Vec<String> = keys.iter().map(|(key, _)| key.clone()).collect();
    to_read.extend(keys.iter().filter_map(|(_, shared)| shared.clone()));
    for attempt in 0..WRITE_ATTEMPTS {
        let values = bus.mget(&to_read).await?;
        let mut shared_values = values[updates.len()..].iter();
        let mut batch = Batch::new();
        let mut guards = Vec::with_capacity(updates.len());
        let mut written = Vec::with_capacity(updates.len());
        let mut announced = Vec::with_capacity(updates.len());
        for ((update, (key, shared)), current) in updates.iter().zip(&keys).zip(&values) {
            let name = update.section;
            if let Some(loaded) = &update.revision
                && *loaded != config::revision(current.as_deref())
            {
                return Err(ConfigWriteError::Stale { section: name });
            }
            let mut patch = update.patch.clone();
            // An override's own fields, less those set to `null` (they follow the shared again).
            let mut own: Map<String, Json> = Map::new();
            if shared.is_some() {
                own = current
                    .as_deref()
                    .and_then(|t| serde_json::from_str(t).ok())
                    .unwrap_or_default();
                patch.retain(|field, value| {
                    if value.is_null() {
                        own.remove(field);
                    }
                    !value.is_null()
                });
            }
            // An override is checked as the node will read it: over the shared section.
            let seen = match shared {
                None => current.clone(),
                Some(_) => config::overlay(
                    shared_values.next().cloned().flatten().as_deref(),
                    Some(&Json::Object(own.clone()).to_string()),
                ),
            };
            config::restore_redacted_by_name(name, &mut patch, seen.as_deref(), env)?;
            let mut checked = config::check_update_by_name(name, seen.as_deref(), &patch, env)?;
            if shared.is_some() {
                // Only the fields the node sets itself are its own; the rest follow the shared.
                checked
                    .to_store
                    .retain(|field, _| own.contains_key(field) || patch.contains_key(field));
            }
            let text = if shared.is_some() && checked.to_store.is_empty() {
                // Nothing of its own left: the node reads the shared section alone.
                batch.del(key.clone());
                None
            } else {
                let text = Json::Object(checked.to_store).to_string();
                batch.set(key.clone(), text.clone(), None);
                Some(text)
            };
            guards.push(Guard::holds(key.clone(), current.as_deref()));
            announced.push(update.name());
            written.push(WrittenSection {
                section: name,
                node: update.node.clone(),
                text,
                warnings: checked.warnings,
            });
        }
        announce_config_names(&mut batch, &announced);
        if bus.apply_if(&guards, &batch).await? {
            return Ok(written);
        }
        // Another writer came in between: merge over what it wrote, after a short random
        // pause growing with each try, so a crowd of writers does not keep colliding.
        let jitter = u64::from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos()),
        );
        let cap = 2 * (attempt as u64 + 1);
        tokio::time::sleep(Duration::from_millis(jitter % cap)).await;
    }
    Err(ConfigWriteError::Busy)
}

/// Publishes `config:changed` for each of `names` at the end of `batch`.
pub fn announce_config(batch: &mut Batch, names: &[SectionName]) {
    let names: Vec<String> = names.iter().map(|n| n.as_str().to_owned()).collect();
    announce_config_names(batch, &names);
}

/// [`announce_config`] by name, overrides (`display@kitchen`) included.
pub fn announce_config_names(batch: &mut Batch, names: &[String]) {
    let now = unix_now();
    for name in names {
        let notice = ConfigChanged {
            section: name.clone(),
            timestamp: now,
        };
        batch.publish(channels::CONFIG_CHANGED, to_json(&notice));
    }
}

/// Writes prepared `config:{section}` values (already in `batch`) and announces `names` on
/// `config:changed`, in one atomic batch.
pub async fn replace_config(
    bus: &Bus,
    batch: &mut Batch,
    names: &[SectionName],
) -> Result<(), BusError> {
    announce_config(batch, names);
    bus.apply(batch).await
}
