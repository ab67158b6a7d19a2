//! `GET /api/nodes` **[ours]**: the named nodes (satellite Pis) of a multi-node installation,
//! each in or out of contact. Served from the hub, which re-reads the `node:{name}` records with
//! the sources (every 5 s, and on a node orchestrator's `data:` notice), never by waiting on
//! Redis: while the bus is away it answers like `GET /api/sources`, `200` with the last records
//! seen and the bus state (the body's `bus`, the `X-Sense-Bus` header).

use picoserve::extract::State;
use sense_bus::model::NodeRecord;
use sense_bus::unix_now;

use super::sources::bus_header;
use crate::api::{BusHealth, BusState, NodeView, Nodes};
use crate::guard::Ctx;
use crate::reply::Reply;

/// The nodes as judged at `now`, sorted by name. While the bus is down a node's contact is
/// judged as of when it went down: its records could not be read since, so a node is not called
/// lost for the bus's outage (the dashboard says that one once).
pub fn judge(mut records: Vec<NodeRecord>, bus: BusState, now: f64) -> Nodes {
    let at = match bus.state {
        BusHealth::Up => now,
        BusHealth::Down => bus.since.min(now),
    };
    records.sort_by(|a, b| a.name.cmp(&b.name));
    Nodes {
        nodes: records
            .into_iter()
            .map(|r| NodeView::judge(r, at))
            .collect(),
        bus,
        version: env!("CARGO_PKG_VERSION"),
    }
}

/// `{"nodes": [NodeView…], "bus": {…}, "version": "…"}`.
pub async fn all(State(ctx): State<Ctx>) -> Reply {
    let hub = &ctx.shared.hub;
    Reply::json(200, &judge(hub.nodes(), hub.bus(), unix_now()))
        .with_header("X-Sense-Bus", bus_header(&ctx))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Contact;

    fn record(name: &str, last_contact: f64) -> NodeRecord {
        NodeRecord {
            name: name.to_owned(),
            room: name.to_owned(),
            last_contact,
            interval_s: 15.0,
            sources: vec![format!("sensors@{name}")],
            version: "0.1.0".to_owned(),
        }
    }

    fn up() -> BusState {
        BusState {
            state: BusHealth::Up,
            since: 0.0,
            error: None,
        }
    }

    #[test]
    fn nodes_are_sorted_and_lost_after_two_and_a_half_intervals() {
        let now = 10_000.0;
        let nodes = judge(
            vec![
                record("kitchen", now - 40.0),
                record("attic", now - 37.5),
                record("hall", now - 38.0),
            ],
            up(),
            now,
        );
        let names: Vec<_> = nodes.nodes.iter().map(|n| n.record.name.as_str()).collect();
        assert_eq!(names, ["attic", "hall", "kitchen"]);
        let contact: Vec<_> = nodes.nodes.iter().map(|n| n.contact).collect();
        assert_eq!(contact, [Contact::Ok, Contact::Lost, Contact::Lost]);
        assert_eq!(nodes.nodes[2].since_s, 40.0);
    }

    #[test]
    fn a_clock_ahead_of_the_gateway_is_in_contact_never_negative() {
        let now = 10_000.0;
        let nodes = judge(vec![record("kitchen", now + 3.0)], up(), now);
        assert_eq!(nodes.nodes[0].contact, Contact::Ok);
        assert_eq!(nodes.nodes[0].since_s, 0.0);
    }

    #[test]
    fn while_the_bus_is_down_contact_is_judged_as_of_when_it_went() {
        let now = 10_000.0;
        let down = BusState {
            state: BusHealth::Down,
            since: now - 300.0,
            error: Some("Redis did not answer".to_owned()),
        };
        let nodes = judge(
            vec![record("kitchen", now - 310.0), record("attic", now - 400.0)],
            down.clone(),
            now,
        );
        let json = serde_json::to_value(&nodes).unwrap();
        assert_eq!(json["bus"]["state"], "down");
        assert_eq!(json["nodes"][0]["name"], "attic");
        assert_eq!(json["nodes"][0]["contact"], "lost");
        assert_eq!(json["nodes"][1]["name"], "kitchen");
        assert_eq!(json["nodes"][1]["contact"], "ok", "{json}");
        assert_eq!(json["nodes"][1]["since_s"], 10.0);
        assert_eq!(json["nodes"][1]["room"], "kitchen");
        assert_eq!(json["nodes"][1]["sources"][0], "sensors@kitchen");
    }
}
