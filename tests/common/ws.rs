//! A real websocket client speaking graphql-transport-ws or the legacy graphql-ws.
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    TransportWs,
    LegacyGraphqlWs,
}

impl Protocol {
    fn name(self) -> &'static str {
        match self {
            Protocol::TransportWs => "graphql-transport-ws",
            Protocol::LegacyGraphqlWs => "graphql-ws",
        }
    }
}

pub struct WsClient {
    socket: Socket,
    pub protocol: Protocol,
}

/// Opens the socket without sending anything.
pub async fn open(base_url: &str, protocol: Protocol) -> WsClient {
    let url = format!("{}/graphql/ws", base_url.replacen("http", "ws", 1));
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert("Sec-WebSocket-Protocol", protocol.name().parse().unwrap());
    let (socket, response) = tokio_tungstenite::connect_async(request).await.expect("websocket handshake");
    assert_eq!(response.headers().get("sec-websocket-protocol").unwrap(), protocol.name());
    WsClient { socket, protocol }
}

/// Opens a socket whose receive window is tiny, so that a server writing to it while the
/// test does not read is blocked at once, like a subscriber that stopped reading.
pub async fn connect_small_window(base_url: &str, protocol: Protocol, key: &str) -> WsClient {
    let address = base_url.trim_start_matches("http://");
    let tcp = tokio::net::TcpSocket::new_v4().unwrap();
    tcp.set_recv_buffer_size(2048).unwrap();
    let stream = tcp.connect(address.parse().unwrap()).await.unwrap();
    let mut request = format!("ws://{address}/graphql/ws").into_client_request().unwrap();
    request.headers_mut().insert("Sec-WebSocket-Protocol", protocol.name().parse().unwrap());
    let (socket, _) = tokio_tungstenite::client_async(request, tokio_tungstenite::MaybeTlsStream::Plain(stream))
        .await
        .expect("websocket handshake");
    let mut client = WsClient { socket, protocol };
    client.send(json!({"type": "connection_init", "payload": {"authorization": format!("Bearer {key}")}})).await;
    let ack = client.next_json(Duration::from_secs(5)).await.expect("connection_ack");
    assert_eq!(ack["type"], "connection_ack", "{ack}");
    client
}

/// Opens the socket and completes connection_init with the key.
pub async fn connect(base_url: &str, protocol: Protocol, key: &str) -> WsClient {
    let mut client = open(base_url, protocol).await;
    client.send(json!({"type": "connection_init", "payload": {"authorization": format!("Bearer {key}")}})).await;
    let ack = client.next_json(Duration::from_secs(5)).await.expect("connection_ack");
    assert_eq!(ack["type"], "connection_ack", "{ack}");
    client
}

impl WsClient {
    pub async fn send(&mut self, message: Value) {
        self.socket.send(Message::Text(message.to_string().into())).await.unwrap();
    }

    pub async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        let kind = match self.protocol {
            Protocol::TransportWs => "subscribe",
            Protocol::LegacyGraphqlWs => "start",
        };
        self.send(json!({"id": id, "type": kind, "payload": {"query": query, "variables": variables}})).await;
        // Let the server register the subscription before the test makes changes.
        tokio::time::sleep(Duration::from_millis(150)).await;
    }

    /// The next protocol message (answering pings), or None on timeout or close.
    pub async fn next_json(&mut self, wait: Duration) -> Option<Value> {
        loop {
            let frame = tokio::time::timeout(wait, self.socket.next()).await.ok()??.ok()?;
            match frame {
                Message::Text(text) => {
                    let value: Value = serde_json::from_str(text.as_str()).unwrap();
                    match value["type"].as_str() {
                        Some("ping") => self.send(json!({"type": "pong"})).await,
                        Some("ka") => {}
                        _ => return Some(value),
                    }
                }
                Message::Close(_) => return None,
                _ => {}
            }
        }
    }

    /// The payload data of the next event of subscription `id`.
    pub async fn next_data(&mut self, id: &str) -> Value {
        let message = self.next_json(Duration::from_secs(10)).await.expect("an event within 10 s");
        let kind = match self.protocol {
            Protocol::TransportWs => "next",
            Protocol::LegacyGraphqlWs => "data",
        };
        assert_eq!((message["type"].as_str(), message["id"].as_str()), (Some(kind), Some(id)), "{message}");
        assert!(message["payload"].get("errors").is_none(), "{message}");
        message["payload"]["data"].clone()
    }

    /// Asserts nothing arrives for a while.
    pub async fn expect_silence(&mut self, wait: Duration) {
        if let Some(message) = self.next_json(wait).await {
            panic!("expected no message, got {message}");
        }
    }

    /// Reads until the server closes, and returns the close code.
    pub async fn close_code(&mut self, wait: Duration) -> Option<u16> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let frame = tokio::time::timeout_at(deadline, self.socket.next()).await.ok()?;
            match frame {
                Some(Ok(Message::Close(Some(frame)))) => return Some(u16::from(frame.code)),
                Some(Ok(Message::Close(None))) => return Some(u16::from(CloseCode::Status)),
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return None,
            }
        }
    }
}
