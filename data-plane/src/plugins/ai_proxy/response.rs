//! `ai-proxy` response side, called by the proxy on a 200 from the upstream: the body of a
//! non-streamed reply translated back to OpenAI format, and the stream translator for a
//! streamed one (both no-ops for OpenAI-format targets).

use bytes::Bytes;
use http::StatusCode;

use super::{AiPlugin, AiReject, AiRequest};
use crate::llm::provider::Call;
use crate::llm::stream::Translator;
use crate::llm::stream_body::{TranslatedBody, UsageMeter};

impl AiPlugin {
    fn call<'a>(&'a self, plan: &'a AiRequest) -> Option<Call<'a>> {
        let t = self.targets.get(plan.target)?;
        Some(Call {
            provider: t.model.provider,
            route_type: t.route_type,
            model: &plan.analytics.request_model,
            options: &t.options,
            stream: plan.stream,
        })
    }

    /// The client's body for a non-streamed 200 reply (unchanged for OpenAI-format targets).
    /// An untranslatable reply is Kong's 500 with the reason.
    pub fn response_body(&self, plan: &AiRequest, upstream: Bytes) -> Result<Bytes, AiReject> {
        let out = self.translate_body(plan, upstream)?;
        if self.balancer.tracks_usage() {
            // lowest-usage learns from what each target's replies used.
            let v = serde_json::from_slice::<serde_json::Value>(&out).ok();
            if let Some(u) = v.as_ref().and_then(crate::llm::openai::usage) {
                let mut a = plan.analytics.clone();
                a.usage = u;
                self.balancer
                    .used(plan.target, self.balancer.usage_amount(&a));
            }
        }
        Ok(out)
    }

    fn translate_body(&self, plan: &AiRequest, upstream: Bytes) -> Result<Bytes, AiReject> {
        let Some(call) = self.call(plan).filter(Call::translates) else {
            return Ok(upstream);
        };
        let reject = |message: String| AiReject {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message,
            analytics: Box::new(plan.analytics.clone()),
        };
        // Kong's `from_format` error: `transformation failed from type <provider>://<route>: …`.
        let failed = |why: String| {
            reject(format!(
                "transformation failed from type {}://{}: {why}",
                call.provider.as_str(),
                call.route_type.as_str()
            ))
        };
        let v: serde_json::Value = serde_json::from_slice(&upstream).map_err(|_| {
            failed(format!(
                "failed to decode {} response",
                call.provider.as_str()
            ))
        })?;
        let out = call.response_body(&v).map_err(|e| failed(e.to_string()))?;
        Ok(Bytes::from(out.to_string()))
    }

    /// The translator of a streamed reply; `None` when the stream passes through unchanged.
    pub fn stream_translator(&self, plan: &AiRequest) -> Option<Translator> {
        self.call(plan)?.translator()
    }

    /// The streamed reply as the client gets it: run through `translator` when there is one;
    /// the plan's in-flight count is held until the stream ends (least-connections), and a
    /// successful stream's usage is credited to its target (lowest-usage, when `metered`).
    pub fn stream_body_with<B>(
        &self,
        upstream: B,
        translator: Option<Translator>,
        plan: &mut AiRequest,
        metered: bool,
    ) -> TranslatedBody<B> {
        let meter = (metered && self.balancer.tracks_usage())
            .then(|| UsageMeter::new(plan.analytics.clone(), &self.balancer.usage_strategy));
        TranslatedBody::new(upstream, translator)
            .holding(plan.inflight.take())
            .metering(meter)
    }
}
