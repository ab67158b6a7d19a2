//! `GET /api/config` (secrets hidden) and `POST /api/config` (validated, partial, all sections or
//! none, refused when stale).

use picoserve::extract::State;
use sense_bus::config::{Config, revision};
use sense_bus::store::{self, ConfigWriteError, SectionUpdate};
use sense_bus::{Scope, SectionName, keys};
use serde_json::{Map, Value as Json, json};

use super::{JsonBody, bus_unavailable, field_error};
use crate::api::{ApiError, ConfigUpdated};
use crate::guard::Ctx;
use crate::reply::Reply;

/// Every section, secrets masked, with `_problems` and each section's `_revisions`.
pub async fn get(State(ctx): State<Ctx>) -> Reply {
    let env = ctx.shared.options.env;
    let texts = match store::read_config_texts(&ctx.shared.bus, &SectionName::ALL).await {
        Ok(texts) => texts,
        Err(e) => return bus_unavailable(&e),
    };
    let stored = |s: SectionName| texts.get(&s).cloned().flatten();
    let (config, problems) = Config::resolve(&SectionName::ALL, stored, &env);
    let mut shown = config.redacted_json();
    if let Json::Object(o) = &mut shown {
        if !problems.is_empty() {
            o.insert("_problems".into(), json!(problems));
        }
        // What the dashboard sends back with a section, so a form loaded before someone else's
        // change is refused instead of overwriting it.
        let revisions: Map<String, Json> = SectionName::ALL
            .iter()
            .map(|&s| (s.as_str().to_owned(), json!(revision(stored(s).as_deref()))))
            .collect();
        o.insert("_revisions".into(), Json::Object(revisions));
        match node_overrides(&ctx, &texts).await {
            Ok(overrides) if overrides.is_empty() => {}
            Ok(overrides) => {
                o.insert("_overrides".into(), Json::Object(overrides));
            }
            Err(e) => return bus_unavailable(&e),
        }
    }
    Reply::json(200, &shown)
}

/// Each node's override (`display@kitchen`): `{"fields": {the fields it sets, secrets hidden},
/// "revision"}`, the fields as the node resolves them over the shared section.
async fn node_overrides(
    ctx: &Ctx,
    shared: &std::collections::HashMap<SectionName, Option<String>>,
) -> Result<Map<String, Json>, sense_bus::BusError> {
    let env = ctx.shared.options.env;
    let bus = &ctx.shared.bus;
    let mut overrides = Map::new();
    for (name, text) in store::read_override_texts(bus).await? {
        let Some((section, Some(_))) = keys::parse_section(&name) else {
            continue;
        };
        let Ok(Json::Object(own)) = serde_json::from_str::<Json>(&text) else {
            continue;
        };
        let base = shared.get(&section).cloned().flatten();
        let seen = sense_bus::config::overlay(base.as_deref(), Some(&text));
        let resolved = sense_bus::config::redacted_by_name(section, seen.as_deref(), &env);
        let fields: Map<String, Json> = own
            .keys()
            .filter_map(|field| Some((field.clone(), resolved.get(field)?.clone())))
            .collect();
        overrides.insert(
            name,
            json!({"fields": fields, "revision": revision(Some(&text))}),
        );
    }
    Ok(overrides)
}

/// `auth.password`: a new password, taken in clear over the (authorised) connection and stored
/// only as a bcrypt hash.
async fn hash_new_password(patch: &mut Map<String, Json>) -> Result<(), Reply> {
    let Some(password) = patch.remove("password") else {
        return Ok(());
    };
    let Some(password) = password
        .as_str()
        .filter(|p| p.chars().count() >= 8)
        .map(str::to_owned)
    else {
        return Err(field_error(
            "auth.password",
            "auth.password must be text of at least 8 characters",
        ));
    };
    match tokio::task::spawn_blocking(move || bcrypt::hash(password, 12)).await {
        Ok(Ok(hash)) => {
            patch.insert("password_hash".into(), Json::String(hash));
            Ok(())
        }
        _ => Err(Reply::error(500, "cannot hash the password")),
    }
}

/// `{section: {field: value}, "_revisions"?: {section: revision}}`, all sections or none. A
/// section sent with the revision it was loaded at is refused (409) if it changed since; secrets
/// sent back masked are restored only where that is safe. In a node's override
/// (`display@kitchen`) a field sent as `null` follows the shared section again.
pub async fn post(
    State(ctx): State<Ctx>,
    JsonBody(mut request): JsonBody<Map<String, Json>>,
) -> Reply {
    let revisions = match request.remove("_revisions") {
        None | Some(Json::Null) => Map::new(),
        Some(Json::Object(r)) => r,
        Some(_) => {
            return field_error(
                "_revisions",
                "_revisions must be an object of section revisions",
            );
        }
    };
    let env = ctx.shared.options.env;
    let mut updates = Vec::new();
    for (name, patch) in request {
        // `display@kitchen`: the kitchen node's override of a per-node section.
        let Some((section, node)) = keys::parse_section(&name) else {
            let valid = SectionName::ALL.map(SectionName::as_str).join(", ");
            let per_node: Vec<&str> = SectionName::ALL
                .into_iter()
                .filter(|s| s.per_node())
                .map(SectionName::as_str)
                .collect();
            return field_error(
                name.as_str(),
                format!(
                    "unknown config section `{name}` (expected one of: {valid}; or a node's own \
                     value of {}, as display@kitchen)",
                    per_node.join(", ")
                ),
            );
        };
        let Json::Object(mut patch) = patch else {
            return field_error(name.as_str(), format!("{name} must be an object of fields"));
        };
        if section == SectionName::Auth
            && let Err(reply) = hash_new_password(&mut patch).await
        {
            return reply;
        }
        updates.push(SectionUpdate {
            section,
            node,
            patch,
            revision: revisions
                .get(&name)
                .and_then(Json::as_str)
                .map(str::to_owned),
        });
    }
    if updates.is_empty() {
        return Reply::error(400, "no sections to update");
    }
    match store::update_sections(&ctx.shared.bus, &updates, &env).await {
        Ok(written) => {
            let reply = ConfigUpdated {
                status: "ok",
                sections_updated: updates.iter().map(SectionUpdate::name).collect(),
                revisions: updates
                    .iter()
                    .zip(&written)
                    .map(|(u, w)| (u.name(), revision(w.text.as_deref())))
                    .collect(),
                warnings: written
                    .iter()
                    .flat_map(|w| w.warnings.iter().map(ToString::to_string))
                    .collect(),
            };
            // The keeper puts back what Redis loses: the shared sections, and the nodes' own
            // values (an override deleted here is not to come back).
            for w in written {
                match (w.node, w.text) {
                    (None, Some(text)) => ctx.shared.keeper.remember(w.section, text),
                    (None, None) => {}
                    (Some(node), text) => {
                        let name = Scope::node(node).id(w.section.as_str());
                        ctx.shared.keeper.remember_override(name, text);
                    }
                }
            }
            Reply::json(200, &reply)
        }
        Err(ConfigWriteError::Invalid(e)) => field_error(e.field.clone(), e.to_string()),
        Err(e @ ConfigWriteError::Stale { section }) => Reply::json(
            409,
            &ApiError::new(e.to_string()).with_field(section.as_str()),
        ),
        Err(e @ ConfigWriteError::Busy) => Reply::error(503, e.to_string()),
        Err(ConfigWriteError::Bus(e)) => bus_unavailable(&e),
    }
}
