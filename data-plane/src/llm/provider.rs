//! Provider dispatch for one upstream call: which wire format a target speaks, whether it can
//! serve the route type, and the request/response/stream translation to and from OpenAI's
//! format. The AI plugin calls this between the client body and the upstream, both ways.

use http::header::{HeaderName, HeaderValue};
use proto::schema::plugins::ai::{ModelOptions, Provider, RouteType};
use serde_json::{Map, Value};

use proto::schema::plugins::ai::providers;

use super::error::TranslateError;
use super::stream::{Framing, Translate, Translator};
use super::{anthropic, bedrock, cohere, completions, embeddings, gemini, llama2, ollama};

/// The wire format a target speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    OpenAi,
    Anthropic,
    Gemini,
    Cohere,
    Ollama,
    Bedrock,
    /// `llama2` with `llama2_format: raw` (`[INST]` prompts, no stream).
    Llama2Raw,
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
    fn unsupported(&self, stream: bool) -> TranslateError {
        let rt = self.route_type.as_str();
        TranslateError::Unsupported {
            provider: self.provider.as_str(),
            route_type: if stream {
                format!("stream/{rt}")
            } else {
                rt.to_string()
            },
        }
    }

    /// The wire format, or Kong's error when the provider has no API for the route type (or
    /// cannot stream it).
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
                Some("raw")
                    if matches!(
                        self.route_type,
                        RouteType::Chat | RouteType::Completions | RouteType::Preserve
                    ) =>
                {
                    Format::Llama2Raw
                }
                Some(_) => return Err(self.unsupported(false)),
            },
            _ => return Err(self.unsupported(false)),
        };
        if !providers::serves_route(self.provider, o, self.route_type) {
            return Err(self.unsupported(false));
        }
        // Streams Kong translates: every chat; completions of cohere, bedrock and ollama.
        let streams = format != Format::Llama2Raw
            && matches!(
                (format, self.route_type),
                (Format::OpenAi, _)
                    | (_, RouteType::Preserve | RouteType::Chat)
                    | (
                        Format::Cohere | Format::Bedrock | Format::Ollama,
                        RouteType::Completions
                    )
            );
        if self.stream && !streams {
            return Err(self.unsupported(true));
        }
        Ok(format)
    }

    fn top_k(&self, body: &Map<String, Value>) -> Option<i64> {
        self.options
            .top_k
            .or_else(|| body.get("top_k").and_then(Value::as_i64))
    }

    fn vertex(&self) -> bool {
        providers::gemini_vertex(self.options)
    }

    /// The upstream body for the client's OpenAI-format body (options already merged).
    pub fn request_body(&self, mut body: Map<String, Value>) -> Result<Value, TranslateError> {
        let top_k = self.top_k(&body);
        let (m, s, o) = (self.model, self.stream, self.options);
        let format = self.format()?;
        match (format, self.route_type) {
            (Format::OpenAi, _) => {
                // Not an OpenAI parameter (Kong's openai driver drops it too).
                body.remove("top_k");
                Ok(Value::Object(body))
            }
            (Format::Ollama, rt) => ollama::request(rt, &body, m, top_k, s),
            (Format::Llama2Raw, _) => llama2::request(&body, o),
            (Format::Anthropic, RouteType::Completions) => completions::anthropic_request(&body, m),
            (Format::Cohere, RouteType::Completions) => {
                completions::cohere_request(&body, m, top_k, s)
            }
            (Format::Gemini, RouteType::Completions) => {
                gemini::chat_request(&completions::as_chat(&body)?, top_k)
            }
            (Format::Bedrock, RouteType::Completions) => {
                bedrock::chat_request(&completions::as_chat(&body)?, top_k)
            }
            (Format::Gemini, RouteType::Embeddings) => {
                embeddings::gemini_request(&body, m, o, self.vertex())
            }
            (Format::Cohere, RouteType::Embeddings) => embeddings::cohere_request(&body, m, o),
            (Format::Bedrock, RouteType::Embeddings) => embeddings::bedrock_request(&body, m, o),
            (Format::Anthropic, _) => anthropic::chat_request(&body, m, top_k, s),
            (Format::Gemini, _) => gemini::chat_request(&body, top_k),
            (Format::Cohere, _) => cohere::chat_request(&body, m, top_k, s),
            (Format::Bedrock, _) => bedrock::chat_request(&body, top_k),
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
        let m = self.model;
        match (self.format()?, self.route_type) {
            (Format::OpenAi, _) => Ok(v.clone()),
            (Format::Ollama, rt) => ollama::response(rt, v, m),
            (Format::Llama2Raw, rt) => llama2::response(rt, v, m),
            (Format::Anthropic, RouteType::Completions) => completions::anthropic_response(v, m),
            (Format::Cohere, RouteType::Completions) => completions::cohere_response(v, m),
            (Format::Gemini, RouteType::Completions) => {
                gemini::chat_response(v, m).map(completions::from_chat)
            }
            (Format::Bedrock, RouteType::Completions) => {
                bedrock::chat_response(v, m).map(completions::from_chat)
            }
            (Format::Gemini, RouteType::Embeddings) => embeddings::gemini_response(v, m),
            (Format::Cohere, RouteType::Embeddings) => embeddings::cohere_response(v, m),
            (Format::Bedrock, RouteType::Embeddings) => embeddings::bedrock_response(v, m),
            (Format::Anthropic, _) => anthropic::chat_response(v, m),
            (Format::Gemini, _) => gemini::chat_response(v, m),
            (Format::Cohere, _) => cohere::chat_response(v, m),
            (Format::Bedrock, _) => bedrock::chat_response(v, m),
        }
    }

    /// The stream translator to OpenAI SSE; `None` when the stream passes through unchanged.
    pub fn translator(&self) -> Option<Translator> {
        if !self.translates() || !self.stream {
            return None;
        }
        let m = self.model;
        let completions = self.route_type == RouteType::Completions;
        let (framing, inner): (Framing, Box<dyn Translate>) = match self.format().ok()? {
            Format::OpenAi | Format::Llama2Raw => return None,
            Format::Anthropic => (Framing::Sse, Box::new(anthropic::ChatStream::new(m))),
            Format::Gemini => (Framing::Sse, Box::new(gemini::ChatStream::new(m))),
            Format::Cohere if completions => {
                (Framing::Ndjson, Box::new(completions::CohereStream::new(m)))
            }
            Format::Cohere => (Framing::Ndjson, Box::new(cohere::ChatStream::new(m))),
            Format::Ollama => (Framing::Ndjson, Box::new(ollama::ChatStream::new(m))),
            Format::Bedrock => (
                Framing::AwsEventStream,
                Box::new(bedrock::ChatStream::new(m)),
            ),
        };
        let inner = if completions {
            Box::new(completions::Completion(inner))
        } else {
            inner
        };
        Some(Translator::new(framing, inner))
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
