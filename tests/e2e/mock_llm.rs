//! The mock upstream itself, over real HTTP: JSON answers that echo the model, SSE streams in
//! OpenAI's framing, recorded requests, and OpenAI-shaped 404s.

use e2e::http::HttpClient;
use e2e::mock_llm::MockLlm;
use serde_json::{json, Value};

use crate::fixture::tutorial_body;

/// The JSON payloads of an SSE body, `[DONE]` kept as a string.
fn sse_data(text: &str) -> Vec<Value> {
    text.split("\n\n")
        .filter_map(|event| event.lines().find_map(|l| l.strip_prefix("data: ")))
        .map(|d| serde_json::from_str(d).unwrap_or_else(|_| json!(d)))
        .collect()
}

/// The event names of an SSE body.
fn sse_names(text: &str) -> Vec<String> {
    text.split("\n\n")
        .filter_map(|event| event.lines().find_map(|l| l.strip_prefix("event: ")))
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn mock_streams_chat_completions_with_usage_and_done() {
    let mock = MockLlm::start().await.unwrap();
    let client = HttpClient::new();
    let body = json!({
        "model": "gpt-4o",
        "stream": true,
        "stream_options": {"include_usage": true},
        "messages": [{"role": "user", "content": "Say hello"}],
    });
    let r = client
        .post_json(
            &mock.url("/v1/chat/completions"),
            &[("authorization", "Bearer k")],
            &body,
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert!(r
        .header("content-type")
        .unwrap()
        .starts_with("text/event-stream"));
    let events = sse_data(&r.text());
    assert_eq!(events.last().unwrap(), &json!("[DONE]"));
    let chunks = &events[..events.len() - 1];
    assert!(chunks
        .iter()
        .all(|c| c["object"] == "chat.completion.chunk" && c["model"] == "gpt-4o"));
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert!(text.starts_with("This is the mock LLM answering"), "{text}");
    let usage = &chunks.last().unwrap()["usage"];
    assert!(usage["total_tokens"].as_u64().unwrap() > 0, "{usage}");

    let seen = mock.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].header("authorization"), Some("Bearer k"));
    assert_eq!(seen[0].json().unwrap()["model"], "gpt-4o");
}

#[tokio::test]
async fn mock_streams_responses_api_events() {
    let mock = MockLlm::start().await.unwrap();
    let client = HttpClient::new();
    let mut body = tutorial_body();
    body["model"] = json!("gpt-4");
    body["stream"] = json!(true);
    let r = client
        .post_json(&mock.url("/v1/responses"), &[], &body)
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    let text = r.text();
    let names = sse_names(&text);
    assert_eq!(names.first().map(String::as_str), Some("response.created"));
    assert_eq!(names.last().map(String::as_str), Some("response.completed"));
    assert!(
        names.iter().any(|n| n == "response.output_text.delta"),
        "{names:?}"
    );
    let completed = sse_data(&text).pop().unwrap();
    assert_eq!(completed["response"]["model"], "gpt-4");
    assert_eq!(completed["response"]["output"][0]["type"], "mcp_list_tools");
    assert!(
        completed["response"]["usage"]["output_tokens"]
            .as_u64()
            .unwrap()
            > 0
    );
}

#[tokio::test]
async fn mock_answers_json_and_404s() {
    let mock = MockLlm::start().await.unwrap();
    let client = HttpClient::new();
    let mut body = tutorial_body();
    body["model"] = json!("gpt-4o");
    let r = client
        .post_json(&mock.url("/v1/responses"), &[], &body)
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    let v = r.json().unwrap();
    assert_eq!(v["model"], "gpt-4o");
    assert_eq!(v["object"], "response");
    assert_eq!(v["output"][1]["type"], "message");

    let r = client
        .post_json(
            &mock.url("/v1/embeddings"),
            &[],
            &json!({"model": "m", "input": "x"}),
        )
        .await
        .unwrap();
    assert_eq!(r.json().unwrap()["data"][0]["object"], "embedding");

    let r = client.get(&mock.url("/v2/nothing")).await.unwrap();
    assert_eq!(r.status, 404);
    assert!(r.json().unwrap()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("/v2/nothing"));
    assert_eq!(mock.requests().len(), 3);
}
