//! SSE accounting: parses a streamed LLM response on the side, chunk by chunk as it passes to
//! the client, to find usage (chat: final chunk `usage`; responses: `response.completed`), the
//! MCP items of Responses API streams, and when the first and last chunks passed.

use std::time::Instant;

use super::mcp::McpItem;
use super::openai;
use super::{AiAnalytics, Usage};

/// Keeps only the unfinished tail of the stream; each complete event is parsed and dropped.
#[derive(Debug, Default)]
pub struct SseUsage {
    buf: Vec<u8>,
    pub usage: Option<Usage>,
    pub model: Option<String>,
    pub mcp: Vec<McpItem>,
    /// Characters of streamed text, for the completion estimate.
    text_chars: usize,
    /// The first JSON-RPC error of an MCP answer (JSON or SSE), by kind.
    rpc_error: Option<String>,
    first_at: Option<Instant>,
    last_at: Option<Instant>,
    /// The reply rebuilt for `ai.proxy.payload.response` (when the target logs payloads).
    payload: Option<Payload>,
}

/// What a streamed reply said, for the payload log: the joined text and the finish reason of
/// chat/completions chunks, or the final object of a Responses API stream.
#[derive(Debug, Default)]
struct Payload {
    text: String,
    finish_reason: Option<String>,
    completed: Option<serde_json::Value>,
}

impl Payload {
    fn add(&mut self, v: &serde_json::Value) {
        if v["type"] == "response.completed" {
            self.completed = Some(v["response"].clone());
            return;
        }
        for c in v["choices"].as_array().into_iter().flatten() {
            if let Some(t) = c["delta"]["content"]
                .as_str()
                .or_else(|| c["text"].as_str())
            {
                self.text.push_str(t);
            }
            if let Some(r) = c["finish_reason"].as_str() {
                self.finish_reason = Some(r.to_string());
            }
        }
    }

    /// Kong's composite body of a stream (a `chat.completion` with the joined text).
    fn body(self, usage: Usage) -> String {
        if let Some(done) = self.completed {
            return done.to_string();
        }
        serde_json::json!({
            "object": "chat.completion",
            "choices": [{"index": 0, "logprobs": null, "finish_reason": self.finish_reason,
                "message": {"role": "assistant", "content": self.text}}],
            "usage": super::chunk::usage_json(usage),
        })
        .to_string()
    }
}

/// An unfinished event larger than this is dropped (usage events are small).
const MAX_EVENT: usize = 4 * 1024 * 1024;

impl SseUsage {
    /// An accounting that also rebuilds the reply for the payload log when `payloads`.
    pub fn new(payloads: bool) -> Self {
        SseUsage {
            payload: payloads.then(Payload::default),
            ..Default::default()
        }
    }

    pub fn feed(&mut self, chunk: &[u8]) {
        if !chunk.is_empty() {
            let now = Instant::now();
            self.first_at.get_or_insert(now);
            self.last_at = Some(now);
        }
        self.buf.extend_from_slice(chunk);
        while let Some((end, sep)) = find_boundary(&self.buf) {
            let event: Vec<u8> = self.buf.drain(..end + sep).take(end).collect();
            self.event(&event);
        }
        if self.buf.len() > MAX_EVENT {
            self.buf.clear();
        }
    }

    /// Handles a last event without a trailing blank line.
    pub fn finish(&mut self) {
        if !self.buf.is_empty() {
            let event = std::mem::take(&mut self.buf);
            self.event(&event);
        }
    }

    /// Ends the stream and hands what it showed to the request's analytics; `started` is
    /// when the request began.
    pub fn apply(&mut self, ai: &mut AiAnalytics, started: Instant) {
        self.finish();
        ai.usage = match self.usage {
            Some(u) => u,
            None => ai.estimated(super::estimate::completion_tokens(self.text_chars)),
        };
        if let Some(m) = &self.model {
            ai.response_model = m.clone();
        }
        ai.mcp.append(&mut self.mcp);
        if let Some(p) = self.payload.take() {
            ai.response_payload = Some(p.body(ai.usage));
        }
        if let (Some(first), Some(last)) = (self.first_at, self.last_at) {
            ai.ttft_ms = Some(first.duration_since(started).as_secs_f64() * 1000.0);
            ai.generation_ms = Some(last.duration_since(first).as_secs_f64() * 1000.0);
        }
    }

    fn event(&mut self, raw: &[u8]) {
        let text = String::from_utf8_lossy(raw);
        let data: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .map(|d| d.strip_prefix(' ').unwrap_or(d))
            .collect();
        // A plain JSON body (an MCP answer that is not SSE) is one "event".
        let data = if data.is_empty() {
            vec![text.trim()]
        } else {
            data
        };
        if data.iter().all(|d| d.is_empty()) {
            return;
        }
        let data = data.join("\n");
        if data.trim() == "[DONE]" {
            return;
        }
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&data) else {
            return;
        };
        self.text_chars += super::estimate::streamed_text(&v);
        if let Some(p) = self.payload.as_mut() {
            p.add(&v);
        }
        if self.rpc_error.is_none() {
            self.rpc_error = rpc_error_kind(&v);
        }
        if let Some(item) = McpItem::from_event(&v) {
            self.mcp.push(item);
        }
        // Responses API: the usage lives in the completed response.
        let body = if v["type"] == "response.completed" {
            &v["response"]
        } else {
            &v
        };
        if let Some(m) = body["model"].as_str() {
            self.model = Some(m.to_string());
        }
        if let Some(u) = openai::usage(body) {
            self.usage = Some(u);
        }
    }
}

/// The kind of error a JSON-RPC message reports: the standard name of its error code, or a
/// tool result with `isError: true`.
fn rpc_error_kind(v: &serde_json::Value) -> Option<String> {
    if v["jsonrpc"] != "2.0" {
        return None;
    }
    if let Some(e) = v.get("error").filter(|e| e.is_object()) {
        let kind = match e["code"].as_i64() {
            Some(-32700) => "Parse error",
            Some(-32600) => "Invalid Request",
            Some(-32601) => "Method not found",
            Some(-32602) => "Invalid params",
            Some(-32603) => "Internal error",
            _ => "Server error",
        };
        return Some(kind.to_string());
    }
    (v["result"]["isError"] == true).then(|| "Tool error".to_string())
}

impl SseUsage {
    /// Ends the stream and returns the JSON-RPC error it carried, if any (ai-mcp-proxy).
    pub fn finish_rpc_error(&mut self) -> Option<String> {
        self.finish();
        self.rpc_error.take()
    }
}

pub(crate) fn find_boundary(buf: &[u8]) -> Option<(usize, usize)> {
    let lf = buf.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2));
    let crlf = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4));
    match (lf, crlf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_completed_event_gives_usage_even_when_split() {
        let stream = concat!(
            "event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"model\":\"gpt-4o\"}}\n\n",
            "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"hi\"}\n\n",
            "event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"model\":\"gpt-4o-2024\",\"usage\":{\"input_tokens\":11,\"output_tokens\":7,\"total_tokens\":18}}}\n\n"
        );
        let mut p = SseUsage::default();
        for chunk in stream.as_bytes().chunks(13) {
            p.feed(chunk);
        }
        p.finish();
        assert_eq!(
            p.usage,
            Some(Usage {
                prompt_tokens: 11,
                completion_tokens: 7,
                total_tokens: 18
            })
        );
        assert_eq!(p.model.as_deref(), Some("gpt-4o-2024"));
    }

    #[test]
    fn chat_final_chunk_usage() {
        let stream = "data: {\"model\":\"gpt-4\",\"choices\":[{\"delta\":{\"content\":\"a\"}}],\"usage\":null}\r\n\r\ndata: {\"model\":\"gpt-4\",\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2,\"total_tokens\":7}}\r\n\r\ndata: [DONE]\r\n\r\n";
        let mut p = SseUsage::default();
        p.feed(stream.as_bytes());
        assert_eq!(
            p.usage,
            Some(Usage {
                prompt_tokens: 5,
                completion_tokens: 2,
                total_tokens: 7
            })
        );
    }

    #[test]
    fn estimates_without_usage_and_times_the_stream() {
        let mut p = SseUsage::default();
        let started = Instant::now();
        p.feed(b"data: {\"choices\":[{\"delta\":{\"content\":\"Hello world\"}}]}\n\n");
        p.feed(b"data: [DONE]\n\n");
        let mut ai = AiAnalytics {
            prompt_estimate: 7,
            ..Default::default()
        };
        p.apply(&mut ai, started);
        assert_eq!(
            ai.usage,
            Usage {
                prompt_tokens: 7,
                completion_tokens: 3,
                total_tokens: 10
            }
        );
        assert!(ai.ttft_ms.is_some_and(|t| t >= 0.0));
        assert!(ai.generation_ms.is_some());
    }

    #[test]
    fn no_usage_stays_none() {
        let mut p = SseUsage::default();
        p.feed(b"data: {\"choices\":[]}\n\ndata: [DONE]\n\n");
        p.finish();
        assert_eq!(p.usage, None);
    }

    #[test]
    fn payload_log_rebuilds_the_streamed_reply() {
        let mut p = SseUsage::new(true);
        p.feed(b"data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n\n");
        p.feed(b"data: {\"choices\":[{\"delta\":{\"content\":\"lo\"},\"finish_reason\":\"stop\"}]}\n\n");
        p.feed(b"data: {\"choices\":[],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}}\n\ndata: [DONE]\n\n");
        let mut ai = AiAnalytics::default();
        p.apply(&mut ai, Instant::now());
        let v: serde_json::Value =
            serde_json::from_str(ai.response_payload.as_deref().unwrap_or("")).unwrap_or_default();
        assert_eq!(v["choices"][0]["message"]["content"], "Hello");
        assert_eq!(v["choices"][0]["finish_reason"], "stop");
        assert_eq!(v["usage"]["total_tokens"], 3);
        // Without log_payloads nothing is kept.
        let mut q = SseUsage::new(false);
        q.feed(b"data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\n");
        let mut ai = AiAnalytics::default();
        q.apply(&mut ai, Instant::now());
        assert_eq!(ai.response_payload, None);
    }
}
