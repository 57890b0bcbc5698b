//! The two websocket subprotocols Tally speaks: graphql-transport-ws, and the legacy
//! graphql-ws of subscriptions-transport-ws. What clients send, parsed once, and what the
//! server writes, built as text.
use serde::Deserialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    TransportWs,
    Legacy,
}

impl Protocol {
    pub fn named(name: &str) -> Option<Protocol> {
        match name.trim() {
            "graphql-transport-ws" => Some(Protocol::TransportWs),
            "graphql-ws" => Some(Protocol::Legacy),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Protocol::TransportWs => "graphql-transport-ws",
            Protocol::Legacy => "graphql-ws",
        }
    }

    /// The keep-alive the server sends unasked.
    pub fn keepalive(self) -> &'static str {
        match self {
            Protocol::TransportWs => r#"{"type":"ping"}"#,
            Protocol::Legacy => r#"{"type":"ka"}"#,
        }
    }

    /// A result of operation `id`; `payload` is a serialized GraphQL response.
    pub fn next(self, id: &str, payload: &str) -> String {
        let kind = match self {
            Protocol::TransportWs => "next",
            Protocol::Legacy => "data",
        };
        format!(r#"{{"id":{},"type":"{kind}","payload":{payload}}}"#, json_string(id))
    }

    /// Operation `id` failed before it ran; `errors` is a serialized list of GraphQL errors.
    pub fn error(self, id: &str, errors: &str) -> String {
        format!(r#"{{"id":{},"type":"error","payload":{errors}}}"#, json_string(id))
    }

    pub fn complete(self, id: &str) -> String {
        format!(r#"{{"id":{},"type":"complete"}}"#, json_string(id))
    }
}

pub const ACK: &str = r#"{"type":"connection_ack"}"#;

pub fn pong(payload: Option<&serde_json::Value>) -> String {
    match payload {
        Some(p) => serde_json::json!({ "type": "pong", "payload": p }).to_string(),
        None => r#"{"type":"pong"}"#.to_string(),
    }
}

fn json_string(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

/// What a client may send, in either protocol.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    ConnectionInit {
        #[serde(default)]
        payload: Option<serde_json::Value>,
    },
    /// `subscribe` in graphql-transport-ws, `start` in the legacy protocol.
    #[serde(alias = "start")]
    Subscribe {
        id: String,
        payload: Box<async_graphql::Request>,
    },
    /// `complete` in graphql-transport-ws, `stop` in the legacy protocol.
    #[serde(alias = "stop")]
    Complete {
        id: String,
    },
    Ping {
        #[serde(default)]
        payload: Option<serde_json::Value>,
    },
    Pong {
        #[serde(default)]
        #[allow(dead_code)]
        payload: Option<serde_json::Value>,
    },
    ConnectionTerminate,
}

impl ClientMessage {
    pub fn parse(text: &str) -> Option<ClientMessage> {
        serde_json::from_str(text).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_of_both_protocols_parse_and_anything_else_does_not() {
        let subscribe = r#"{"id":"1","type":"subscribe","payload":{"query":"subscription { x }"}}"#;
        assert!(matches!(ClientMessage::parse(subscribe), Some(ClientMessage::Subscribe { id, .. }) if id == "1"));
        let start = r#"{"id":"2","type":"start","payload":{"query":"{ x }","variables":null}}"#;
        assert!(matches!(ClientMessage::parse(start), Some(ClientMessage::Subscribe { .. })));
        assert!(matches!(ClientMessage::parse(r#"{"id":"2","type":"stop"}"#), Some(ClientMessage::Complete { .. })));
        assert!(matches!(
            ClientMessage::parse(r#"{"type":"connection_init"}"#),
            Some(ClientMessage::ConnectionInit { .. })
        ));
        for bad in
            ["", "{}", "[]", r#"{"type":"subscribe"}"#, r#"{"type":"nonsense"}"#, r#"{"id":1,"type":"complete"}"#]
        {
            assert!(ClientMessage::parse(bad).is_none(), "{bad}");
        }
        assert_eq!(Protocol::Legacy.next("a\"b", "{}"), r#"{"id":"a\"b","type":"data","payload":{}}"#);
    }
}
