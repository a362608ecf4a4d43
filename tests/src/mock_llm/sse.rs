//! Server-sent event streams in OpenAI's wire format, sent event by event with a small delay.

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use serde_json::Value;
use tokio_stream::wrappers::ReceiverStream;

use super::MockBody;

/// Default pause between two events, so clients really see a stream.
pub const EVENT_GAP: Duration = Duration::from_millis(5);

/// `data: {json}\n\n` (chat completions style: no event name).
pub fn data(json: &Value) -> String {
    format!("data: {json}\n\n")
}

/// `event: {name}\ndata: {json}\n\n` (responses API style).
pub fn named(name: &str, json: &Value) -> String {
    format!("event: {name}\ndata: {json}\n\n")
}

/// The terminator of a chat completions stream.
pub fn done() -> String {
    "data: [DONE]\n\n".to_string()
}

/// A body that sends `events` one by one, `gap` apart.
pub fn body(events: Vec<String>, gap: Duration) -> MockBody {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, Infallible>>(4);
    tokio::spawn(async move {
        for event in events {
            if tx.send(Ok(Frame::data(Bytes::from(event)))).await.is_err() {
                return;
            }
            tokio::time::sleep(gap).await;
        }
    });
    StreamBody::new(ReceiverStream::new(rx)).boxed()
}

/// Splits `text` into word-sized deltas that concatenate back to it.
pub fn deltas(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for c in text.chars() {
        current.push(c);
        if c == ' ' {
            out.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deltas_rejoin() {
        let text = "one two  three";
        assert_eq!(deltas(text).concat(), text);
        assert_eq!(deltas(text).len(), 4);
    }

    #[test]
    fn event_framing() {
        let v = serde_json::json!({"a": 1});
        assert_eq!(data(&v), "data: {\"a\":1}\n\n");
        assert_eq!(named("x", &v), "event: x\ndata: {\"a\":1}\n\n");
    }
}
