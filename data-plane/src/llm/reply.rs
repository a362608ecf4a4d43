//! Non-streamed OpenAI-format replies on the AI path: the usage and model the log phase
//! records, read in one pass over the body with borrowed strings (no `serde_json::Value` tree,
//! the rest of the document skipped). Replies this fast read does not cover exactly (MCP output
//! items, unusual shapes) are left to the `Value` reading of `AiAnalytics::observe_response`.

use std::borrow::Cow;

use serde::Deserialize;

use super::Usage;

/// The fields of a reply the fast read keeps.
/// Fields not named here are skipped (checked for JSON syntax, not kept).
#[derive(Deserialize)]
struct Reply<'a> {
    #[serde(borrow, default)]
    model: Option<Cow<'a, str>>,
    #[serde(default)]
    usage: Option<UsageFields>,
    #[serde(borrow, default)]
    output: Option<Vec<Item<'a>>>,
}

#[derive(Deserialize)]
struct UsageFields {
    #[serde(default)]
    prompt_tokens: Option<u64>,
    #[serde(default)]
    input_tokens: Option<u64>,
    #[serde(default)]
    completion_tokens: Option<u64>,
    #[serde(default)]
    output_tokens: Option<u64>,
    #[serde(default)]
    total_tokens: Option<u64>,
}

/// An `output` item: only its type matters here.
#[derive(Deserialize)]
struct Item<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<Cow<'a, str>>,
}

/// What `AiAnalytics::observe_response` reads from a reply with no MCP items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// `None` without a usage object.
    pub usage: Option<Usage>,
    pub model: Option<String>,
}

/// The usage and model of `body`, or `None` when the body is not JSON or the fast read cannot
/// stand for the `Value` reading (a field of another type than the one read, a duplicate key,
/// an MCP output item): the caller then parses a `Value`.
pub fn observe(body: &[u8]) -> Option<Observed> {
    let r: Reply<'_> = serde_json::from_slice(body).ok()?;
    let mcp = r.output.iter().flatten().any(|i| {
        i.kind
            .as_deref()
            .is_some_and(|k| matches!(k, "mcp_list_tools" | "mcp_call"))
    });
    if mcp {
        return None;
    }
    let (model, usage) = (r.model, r.usage);
    let usage = usage.map(|u| {
        Usage {
            prompt_tokens: u.prompt_tokens.or(u.input_tokens).unwrap_or(0),
            completion_tokens: u.completion_tokens.or(u.output_tokens).unwrap_or(0),
            total_tokens: u.total_tokens.unwrap_or(0),
        }
        .normalized()
    });
    Some(Observed {
        usage,
        model: model.map(Cow::into_owned),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::{mcp, openai};
    use serde_json::Value;

    /// The `Value` reading the fast one stands for.
    fn slow(body: &str) -> Option<Observed> {
        let v: Value = serde_json::from_str(body).ok()?;
        assert!(mcp::McpItem::from_response(&v).is_empty(), "{body}");
        Some(Observed {
            usage: openai::usage(&v),
            model: v["model"].as_str().map(str::to_string),
        })
    }

    #[test]
    fn same_as_the_value_reading() {
        let bodies = [
            r#"{"id":"r","object":"response","model":"gpt-4o","output":[{"type":"message","content":[{"type":"output_text","text":"hi"}]}],"usage":{"input_tokens":12,"output_tokens":8,"total_tokens":20}}"#,
            r#"{"model":"gpt-4\u006f","choices":[{"message":{"content":"x"}}],"usage":{"prompt_tokens":25,"completion_tokens":12}}"#,
            r#"{"usage":null,"model":null}"#,
            r#"{"usage":{"prompt_tokens":null,"input_tokens":3,"extra":{"a":[1,2]}}}"#,
            r#"{"data":[{"embedding":[0.1,0.2]}],"usage":{"prompt_tokens":4,"total_tokens":4}}"#,
            r#"{}"#,
            r#"{"output":[]}"#,
            r#"{"output":[{"type":"message","text":"say \"mcp_call\""}],"model":"a\u0062"}"#,
        ];
        for b in bodies {
            assert_eq!(observe(b.as_bytes()), slow(b), "{b}");
        }
    }

    #[test]
    fn leaves_other_shapes_to_the_value_reading() {
        for b in [
            "not json",
            r#"{"model":"a"} trailing"#,
            r#"{"model":5,"usage":{"prompt_tokens":1}}"#,
            r#"{"usage":{"prompt_tokens":1.5}}"#,
            r#"{"usage":{"prompt_tokens":-1}}"#,
            r#"{"usage":"none"}"#,
            r#"{"model":"a","model":"b"}"#,
            r#"{"output":[{"type":"\u006dcp_call","name":"t"}]}"#,
            r#"{"output":[{"type":5}],"x":"\u0041"}"#,
            r#"{"output":{"type":"mcp_call"},"usage":{"prompt_tokens":1}}"#,
            r#"{"output":{"type":"message"},"usage":{"prompt_tokens":1}}"#,
            r#"{"output":["text"],"model":"m"}"#,
            r#"{"output":[{"type":"mcp_call","name":"t","server_label":"s"}]}"#,
            r#"{"output":[{"type":"mcp_list_tools","server_label":"s"}]}"#,
            "[1,2]",
        ] {
            assert_eq!(observe(b.as_bytes()), None, "{b}");
        }
    }
}
