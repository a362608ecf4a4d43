"""The official OpenAI Python SDK against a data plane (started by tests/e2e/ai_gateway.rs).

AI_GATEWAY_BASE_URL is the DP's proxy URL plus `/sdk`: `/sdk/chat/completions`,
`/sdk/responses`, `/sdk/embeddings` and `/sdk/completions` are ai-proxy routes to the mock
upstream (models gpt-4o-mini, gpt-4o, text-embedding-3-small and gpt-3.5-turbo-instruct).
AI_GATEWAY_ALIAS_URL is an ai-proxy-advanced route whose targets have the `model_alias`es
"@openai/gpt-4o" (gpt-4o) and "@openai/small" (gpt-4o-mini), as decK's ai2kong writes them.
"""

import os

import openai
import pytest

BASE_URL = os.environ.get("AI_GATEWAY_BASE_URL")

pytestmark = pytest.mark.skipif(
    not BASE_URL, reason="AI_GATEWAY_BASE_URL is set by the Rust e2e test that starts the DP"
)


@pytest.fixture()
def client():
    # The gateway replaces the Authorization header with its own key.
    return openai.OpenAI(base_url=BASE_URL, api_key="sk-client-not-used", max_retries=0)


def test_chat_completion(client):
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Say hello"}]
    )
    assert raw.headers.get("x-kong-llm-model") == "openai/gpt-4o-mini"
    completion = raw.parse()
    assert completion.choices[0].message.role == "assistant"
    assert completion.choices[0].message.content
    assert completion.model.startswith("gpt-4o-mini")
    assert completion.usage.total_tokens == (
        completion.usage.prompt_tokens + completion.usage.completion_tokens
    )
    assert completion.usage.total_tokens > 0


def test_chat_completion_stream(client):
    stream = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "Count to three"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    text = ""
    usage = None
    for chunk in stream:
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
        if chunk.usage:
            usage = chunk.usage
    assert text
    assert usage is not None and usage.completion_tokens > 0


def test_responses(client):
    response = client.responses.create(model="gpt-4o", input="Tell me a joke")
    assert response.status == "completed"
    assert response.output_text
    assert response.usage.input_tokens > 0
    assert response.usage.output_tokens > 0


def test_responses_stream_with_mcp(client):
    tools = [
        {
            "type": "mcp",
            "server_label": "gitmcp",
            "server_url": "https://example.invalid/mcp",
            "require_approval": "never",
            "allowed_tools": ["search_repositories"],
        }
    ]
    kinds = []
    completed = None
    with client.responses.stream(model="gpt-4o", input="list tools", tools=tools) as stream:
        for event in stream:
            kinds.append(event.type)
            if event.type == "response.output_item.done":
                assert event.item.type in ("mcp_list_tools", "mcp_call", "message")
        completed = stream.get_final_response()
    assert "response.output_text.delta" in kinds
    assert kinds[-1] == "response.completed"
    types = [item.type for item in completed.output]
    assert types[:2] == ["mcp_list_tools", "mcp_call"]
    assert completed.usage.total_tokens > 0


def test_embeddings(client):
    result = client.embeddings.create(model="text-embedding-3-small", input=["red", "blue"])
    assert len(result.data) == 2
    assert result.data[1].index == 1
    assert len(result.data[0].embedding) > 0
    assert result.model.startswith("text-embedding-3-small")


def test_completions(client):
    raw = client.completions.with_raw_response.create(
        model="gpt-3.5-turbo-instruct", prompt="Once upon a time"
    )
    assert raw.headers.get("x-kong-llm-model") == "openai/gpt-3.5-turbo-instruct"
    completion = raw.parse()
    assert completion.choices[0].text
    assert completion.usage.total_tokens > 0


def test_model_alias_picks_the_target(client):
    alias = openai.OpenAI(
        base_url=os.environ["AI_GATEWAY_ALIAS_URL"], api_key="sk-client-not-used", max_retries=0
    )
    for name, model in [("@openai/small", "gpt-4o-mini"), ("@openai/gpt-4o", "gpt-4o")] * 2:
        raw = alias.chat.completions.with_raw_response.create(
            model=name, messages=[{"role": "user", "content": "hi"}]
        )
        assert raw.headers.get("x-kong-llm-model") == f"openai/{model}"
        assert raw.parse().model.startswith(model)


def test_own_model_is_refused_in_kong_shape(client):
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(
            model="gpt-3.5-turbo", messages=[{"role": "user", "content": "hi"}]
        )
    assert err.value.status_code == 400
    assert err.value.body["message"] == "cannot use own model - must be: gpt-4o-mini"
