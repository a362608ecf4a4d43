//! Provider dispatch for one upstream call: which wire format a target speaks, whether it can
//! serve the route type, and the request/response/stream translation to and from OpenAI's
//! format. The AI plugin calls this between the client body and the upstream, both ways.

use http::header::{HeaderName, HeaderValue};
use proto::schema::plugins::ai::{ModelOptions, Provider, RouteType};
use serde_json::{Map, Value};

use super::error::TranslateError;
use super::stream::{Framing, Translator};
use super::{anthropic, bedrock, cohere, gemini, ollama};

/// The wire format a target speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    OpenAi,
    Anthropic,
    Gemini,
    Cohere,
    Ollama,
    Bedrock,
}

/// One upstream call as the balancer and the model rule decided it.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    pub provider: Provider,
    pub route_type: RouteType,
    pub model: &'a str,
    pub options: &'a ModelOptions,
    pub stream: bool,
}

impl Call<'_> {
    fn unsupported(&self) -> TranslateError {
        TranslateError::Unsupported {
            provider: self.provider.as_str(),
            route_type: self.route_type.as_str(),
        }
    }

    /// The wire format, or why this gateway cannot serve the call.
    pub fn format(&self) -> Result<Format, TranslateError> {
        let o = self.options;
        let format = match self.provider {
            Provider::Openai | Provider::Azure => Format::OpenAi,
            Provider::Anthropic => Format::Anthropic,
            Provider::Gemini => Format::Gemini,
            Provider::Cohere => Format::Cohere,
            Provider::Ollama => Format::Ollama,
            Provider::Bedrock => Format::Bedrock,
            Provider::Mistral => match o.mistral_format.as_deref() {
                Some("ollama") => Format::Ollama,
                _ => Format::OpenAi,
            },
            Provider::Llama2 => match o.llama2_format.as_deref() {
                Some("ollama") => Format::Ollama,
                Some("openai") | None => Format::OpenAi,
                Some(_) => return Err(self.unsupported()),
            },
            _ => return Err(self.unsupported()),
        };
        let ok = match (format, self.route_type) {
            (_, RouteType::Preserve) | (Format::OpenAi, _) => true,
            (Format::Ollama, RouteType::Chat) => true,
            (Format::Ollama, RouteType::Completions | RouteType::Embeddings) => !self.stream,
            (
                Format::Anthropic | Format::Gemini | Format::Cohere | Format::Bedrock,
                RouteType::Chat,
            ) => true,
            _ => false,
        };
        if ok {
            Ok(format)
        } else {
            Err(self.unsupported())
        }
    }

    fn top_k(&self, body: &Map<String, Value>) -> Option<i64> {
        self.options
            .top_k
            .or_else(|| body.get("top_k").and_then(Value::as_i64))
    }

    /// The upstream body for the client's OpenAI-format body (options already merged).
    pub fn request_body(&self, body: Map<String, Value>) -> Result<Value, TranslateError> {
        let top_k = self.top_k(&body);
        let (m, s) = (self.model, self.stream);
        match self.format()? {
            Format::OpenAi => Ok(Value::Object(body)),
            Format::Anthropic => anthropic::chat_request(&body, m, top_k, s),
            Format::Gemini => gemini::chat_request(&body, top_k),
            Format::Cohere => cohere::chat_request(&body, m, top_k, s),
            Format::Ollama => ollama::request(self.route_type, &body, m, top_k, s),
            Format::Bedrock => bedrock::chat_request(&body, top_k),
        }
    }

    /// Whether responses need translating (false: sent to the client unchanged).
    pub fn translates(&self) -> bool {
        self.route_type != RouteType::Preserve
            && !matches!(self.format(), Ok(Format::OpenAi) | Err(_))
    }

    /// The OpenAI-format body for a successful (200) upstream reply.
    pub fn response_body(&self, v: &Value) -> Result<Value, TranslateError> {
        if !self.translates() {
            return Ok(v.clone());
        }
        match self.format()? {
            Format::OpenAi => Ok(v.clone()),
            Format::Anthropic => anthropic::chat_response(v, self.model),
            Format::Gemini => gemini::chat_response(v, self.model),
            Format::Cohere => cohere::chat_response(v, self.model),
            Format::Ollama => ollama::response(self.route_type, v, self.model),
            Format::Bedrock => bedrock::chat_response(v, self.model),
        }
    }

    /// The stream translator to OpenAI SSE; `None` when the stream passes through unchanged.
    pub fn translator(&self) -> Option<Translator> {
        if !self.translates() || !self.stream {
            return None;
        }
        let m = self.model;
        Some(match self.format().ok()? {
            Format::OpenAi => return None,
            Format::Anthropic => {
                Translator::new(Framing::Sse, Box::new(anthropic::ChatStream::new(m)))
            }
            Format::Gemini => Translator::new(Framing::Sse, Box::new(gemini::ChatStream::new(m))),
            Format::Cohere => {
                Translator::new(Framing::Ndjson, Box::new(cohere::ChatStream::new(m)))
            }
            Format::Ollama => {
                Translator::new(Framing::Ndjson, Box::new(ollama::ChatStream::new(m)))
            }
            Format::Bedrock => Translator::new(
                Framing::AwsEventStream,
                Box::new(bedrock::ChatStream::new(m)),
            ),
        })
    }

    /// Headers the provider needs besides auth (`anthropic-version`).
    pub fn headers(&self) -> Vec<(HeaderName, HeaderValue)> {
        if self.provider != Provider::Anthropic {
            return Vec::new();
        }
        let v = self
            .options
            .anthropic_version
            .as_deref()
            .unwrap_or(anthropic::DEFAULT_VERSION);
        HeaderValue::from_str(v)
            .map(|v| vec![(HeaderName::from_static("anthropic-version"), v)])
            .unwrap_or_default()
    }
}
