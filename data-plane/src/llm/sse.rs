//! SSE accounting: parses a streamed LLM response on the side, chunk by chunk as it passes to
//! the client, to find usage (chat: final chunk `usage`; responses: `response.completed`).

use super::openai;
use super::Usage;

/// Keeps only the unfinished tail of the stream; each complete event is parsed and dropped.
#[derive(Debug, Default)]
pub struct SseUsage {
    buf: Vec<u8>,
    pub usage: Option<Usage>,
    pub model: Option<String>,
}

/// An unfinished event larger than this is dropped (usage events are small).
const MAX_EVENT: usize = 4 * 1024 * 1024;

impl SseUsage {
    pub fn feed(&mut self, chunk: &[u8]) {
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

    fn event(&mut self, raw: &[u8]) {
        let text = String::from_utf8_lossy(raw);
        let data: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .map(|d| d.strip_prefix(' ').unwrap_or(d))
            .collect();
        if data.is_empty() {
            return;
        }
        let data = data.join("\n");
        if data.trim() == "[DONE]" {
            return;
        }
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&data) else {
            return;
        };
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

fn find_boundary(buf: &[u8]) -> Option<(usize, usize)> {
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
    fn no_usage_stays_none() {
        let mut p = SseUsage::default();
        p.feed(b"data: {\"choices\":[]}\n\ndata: [DONE]\n\n");
        p.finish();
        assert_eq!(p.usage, None);
    }
}
