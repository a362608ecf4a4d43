//! Stream translation on the response path: splits a provider's stream (SSE or NDJSON) into
//! events, hands each JSON event to the provider's translator and re-emits OpenAI SSE
//! (`data: {chunk}\n\n` … `data: [DONE]\n\n`) for the client and the SSE usage accounting.

use bytes::Bytes;
use serde_json::Value;

/// How the provider frames its stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// `data:` lines separated by blank lines (anthropic, gemini with `alt=sse`).
    Sse,
    /// One JSON object per line (ollama, cohere v1).
    Ndjson,
    /// AWS binary event-stream messages (bedrock), see `eventstream`.
    AwsEventStream,
}

/// A provider's stream events in, OpenAI chunks out.
pub trait Translate: Send {
    /// One decoded event; pushes zero or more OpenAI chunk objects.
    fn event(&mut self, event: &Value, out: &mut Vec<Value>);
    /// The stream ended; pushes what is still owed (finish and usage chunks).
    fn finish(&mut self, out: &mut Vec<Value>);
}

/// An unfinished event larger than this is dropped.
const MAX_EVENT: usize = 4 * 1024 * 1024;

/// Re-frames one stream. Keeps only the unfinished tail of the input.
pub struct Translator {
    framing: Framing,
    buf: Vec<u8>,
    inner: Box<dyn Translate>,
    finished: bool,
}

impl std::fmt::Debug for Translator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Translator")
            .field("framing", &self.framing)
            .field("buffered", &self.buf.len())
            .finish()
    }
}

impl Translator {
    pub fn new(framing: Framing, inner: Box<dyn Translate>) -> Self {
        Translator {
            framing,
            buf: Vec::new(),
            inner,
            finished: false,
        }
    }

    /// Translates the complete events in `chunk` (plus what was buffered before).
    pub fn feed(&mut self, chunk: &[u8]) -> Bytes {
        self.buf.extend_from_slice(chunk);
        let mut out = Vec::new();
        if self.framing == Framing::AwsEventStream {
            for e in super::eventstream::drain(&mut self.buf) {
                self.inner.event(&e, &mut out);
            }
            return encode(&out, false);
        }
        while let Some((end, sep)) = self.boundary() {
            let raw: Vec<u8> = self.buf.drain(..end + sep).take(end).collect();
            self.decode(&raw, &mut out);
        }
        if self.buf.len() > MAX_EVENT {
            self.buf.clear();
        }
        encode(&out, false)
    }

    /// Translates the last unterminated event and closes the stream with `[DONE]`.
    pub fn finish(&mut self) -> Bytes {
        if self.finished {
            return Bytes::new();
        }
        self.finished = true;
        let mut out = Vec::new();
        let rest = std::mem::take(&mut self.buf);
        if self.framing != Framing::AwsEventStream {
            self.decode(&rest, &mut out);
        }
        self.inner.finish(&mut out);
        encode(&out, true)
    }

    fn boundary(&self) -> Option<(usize, usize)> {
        match self.framing {
            Framing::Ndjson => self.buf.iter().position(|b| *b == b'\n').map(|i| (i, 1)),
            Framing::Sse => super::sse::find_boundary(&self.buf),
            Framing::AwsEventStream => None,
        }
    }

    fn decode(&mut self, raw: &[u8], out: &mut Vec<Value>) {
        let text = String::from_utf8_lossy(raw);
        let data = match self.framing {
            Framing::Ndjson => text.trim().to_string(),
            Framing::Sse | Framing::AwsEventStream => text
                .lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(|d| d.strip_prefix(' ').unwrap_or(d))
                .collect::<Vec<_>>()
                .join("\n"),
        };
        let data = data.trim();
        if data.is_empty() || data == "[DONE]" {
            return;
        }
        // Gemini's array framing leaves `[`, `,` and `]` around objects: tolerate them.
        let data = data
            .trim_start_matches([',', '['])
            .trim_end_matches([',', ']']);
        if let Ok(v) = serde_json::from_str::<Value>(data) {
            self.inner.event(&v, out);
        }
    }
}

fn encode(chunks: &[Value], done: bool) -> Bytes {
    let mut s = String::new();
    for c in chunks {
        s.push_str("data: ");
        s.push_str(&c.to_string());
        s.push_str("\n\n");
    }
    if done {
        s.push_str("data: [DONE]\n\n");
    }
    Bytes::from(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct Echo;
    impl Translate for Echo {
        fn event(&mut self, e: &Value, out: &mut Vec<Value>) {
            out.push(json!({"got": e["n"]}));
        }
        fn finish(&mut self, out: &mut Vec<Value>) {
            out.push(json!({"end": true}));
        }
    }

    #[test]
    fn sse_split_anywhere() {
        let input = "event: a\ndata: {\"n\":1}\n\nevent: b\ndata: {\"n\":2}\n\n: comment\n\ndata: {\"n\":3}";
        let mut t = Translator::new(Framing::Sse, Box::new(Echo));
        let mut out = Vec::new();
        for c in input.as_bytes().chunks(5) {
            out.extend_from_slice(&t.feed(c));
        }
        out.extend_from_slice(&t.finish());
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "data: {\"got\":1}\n\ndata: {\"got\":2}\n\ndata: {\"got\":3}\n\ndata: {\"end\":true}\n\ndata: [DONE]\n\n"
        );
        assert!(t.finish().is_empty());
    }

    #[test]
    fn ndjson_lines_and_garbage() {
        let mut t = Translator::new(Framing::Ndjson, Box::new(Echo));
        let a = t.feed(b"{\"n\":1}\nnot json\n{\"n\"");
        let b = t.feed(b":2}\n");
        assert_eq!(&a[..], b"data: {\"got\":1}\n\n");
        assert_eq!(&b[..], b"data: {\"got\":2}\n\n");
    }
}
