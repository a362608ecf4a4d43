//! AWS event-stream framing (`application/vnd.amazon.eventstream`, Bedrock's streaming
//! replies): splits the binary messages and returns each as `{"<event-type>": payload}` — the
//! shape of Bedrock's Converse stream events — for the Bedrock stream translator. CRCs are
//! not checked (the connection is TLS); malformed messages are skipped.

use serde_json::{json, Value};

/// Prelude (total length, headers length, prelude CRC) plus the trailing message CRC.
const OVERHEAD: usize = 16;

fn be32(b: &[u8], at: usize) -> Option<usize> {
    let s = b.get(at..at + 4)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]) as usize)
}

/// The string headers of a message (other header types are skipped).
fn headers(mut h: &[u8]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    while let Some((&n, rest)) = h.split_first() {
        let Some(name) = rest.get(..n as usize) else {
            break;
        };
        let name = String::from_utf8_lossy(name).into_owned();
        let rest = &rest[n as usize..];
        let Some((&kind, rest)) = rest.split_first() else {
            break;
        };
        let fixed = match kind {
            0 | 1 => 0,
            2 => 1,
            3 => 2,
            4 => 4,
            5 | 8 => 8,
            9 => 16,
            6 | 7 => {
                let Some(len) = rest
                    .get(..2)
                    .map(|l| u16::from_be_bytes([l[0], l[1]]) as usize)
                else {
                    break;
                };
                let Some(value) = rest.get(2..2 + len) else {
                    break;
                };
                if kind == 7 {
                    out.push((name, String::from_utf8_lossy(value).into_owned()));
                }
                h = &rest[2 + len..];
                continue;
            }
            _ => break,
        };
        let Some(next) = rest.get(fixed..) else { break };
        h = next;
    }
    out
}

/// Takes every complete message off the front of `buf`.
pub fn drain(buf: &mut Vec<u8>) -> Vec<Value> {
    let mut events = Vec::new();
    while let Some(total) = be32(buf, 0) {
        if !(OVERHEAD..=16 * 1024 * 1024).contains(&total) {
            buf.clear();
            break;
        }
        if buf.len() < total {
            break;
        }
        let msg: Vec<u8> = buf.drain(..total).collect();
        let Some(hlen) = be32(&msg, 4) else { continue };
        let Some(hbytes) = msg.get(12..12 + hlen) else {
            continue;
        };
        let Some(payload) = msg.get(12 + hlen..total - 4) else {
            continue;
        };
        let hs = headers(hbytes);
        let get = |k: &str| hs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let body: Value = serde_json::from_slice(payload).unwrap_or(Value::Null);
        let event = match get(":message-type") {
            Some("exception") | Some("error") => json!({"exception": {
                "type": get(":exception-type").or(get(":error-code")).unwrap_or("error"),
                "message": body.get("message").cloned().unwrap_or(body.clone()),
            }}),
            _ => match get(":event-type") {
                Some(t) => json!({ t: body }),
                None => continue,
            },
        };
        events.push(event);
    }
    events
}

/// Encodes one event message (CRCs left zero): for tests and mock upstreams.
pub fn encode(event_type: &str, payload: &Value) -> Vec<u8> {
    let mut h = Vec::new();
    for (k, v) in [
        (":event-type", event_type),
        (":content-type", "application/json"),
        (":message-type", "event"),
    ] {
        h.push(k.len() as u8);
        h.extend_from_slice(k.as_bytes());
        h.push(7);
        h.extend_from_slice(&(v.len() as u16).to_be_bytes());
        h.extend_from_slice(v.as_bytes());
    }
    let body = payload.to_string().into_bytes();
    let total = OVERHEAD + h.len() + body.len();
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&(total as u32).to_be_bytes());
    out.extend_from_slice(&(h.len() as u32).to_be_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&h);
    out.extend_from_slice(&body);
    out.extend_from_slice(&[0; 4]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_split_anywhere() {
        let mut wire = encode("messageStart", &json!({"role": "assistant"}));
        wire.extend(encode(
            "contentBlockDelta",
            &json!({"delta": {"text": "hi"}, "contentBlockIndex": 0}),
        ));
        let mut buf = Vec::new();
        let mut events = Vec::new();
        for piece in wire.chunks(5) {
            buf.extend_from_slice(piece);
            events.extend(drain(&mut buf));
        }
        assert_eq!(
            events,
            vec![
                json!({"messageStart": {"role": "assistant"}}),
                json!({"contentBlockDelta": {"delta": {"text": "hi"}, "contentBlockIndex": 0}})
            ]
        );
        assert!(buf.is_empty());
    }

    #[test]
    fn garbage_is_dropped() {
        let mut buf = vec![0, 0, 0, 1, 9, 9];
        assert!(drain(&mut buf).is_empty());
        assert!(buf.is_empty());
    }
}
