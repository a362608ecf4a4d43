//! `llm/v1/embeddings` for non-OpenAI providers: the OpenAI `input` (string or list of
//! strings) turned into Gemini `batchEmbedContents` / Vertex `predict`, Cohere `/v2/embed` and
//! Bedrock `InvokeModel` (Titan and Cohere embedding models) bodies, and their replies back
//! into OpenAI's `{object: "list", data: [{embedding}]}`.

use proto::schema::plugins::ai::ModelOptions;
use serde_json::{json, Map, Value};

use super::error::TranslateError;

pub const COHERE_PATH: &str = "/v2/embed";

/// The client's `input` as a list of strings (token arrays are not translatable).
pub fn inputs(body: &Map<String, Value>) -> Result<Vec<String>, TranslateError> {
    let bad = || {
        TranslateError::BadRequest(
            "'input' must be a string or an array of strings for this provider".into(),
        )
    };
    match body.get("input") {
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(a)) if !a.is_empty() => a
            .iter()
            .map(|v| v.as_str().map(str::to_string).ok_or_else(bad))
            .collect(),
        Some(_) => Err(bad()),
        None => Err(TranslateError::BadRequest("'input' is required".into())),
    }
}

/// `dimensions` from the client, else `options.embeddings_dimensions`.
fn dimensions(body: &Map<String, Value>, o: &ModelOptions) -> Option<i64> {
    body.get("dimensions")
        .and_then(Value::as_i64)
        .or(o.embeddings_dimensions)
}

/// OpenAI's embeddings list.
pub fn list(vectors: Vec<Value>, model: &str, prompt_tokens: u64) -> Value {
    let data: Vec<Value> = vectors
        .into_iter()
        .enumerate()
        .map(|(i, e)| json!({"object": "embedding", "index": i, "embedding": e}))
        .collect();
    json!({"object": "list", "data": data, "model": model,
        "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens}})
}

fn missing(provider: &str, what: &str) -> TranslateError {
    TranslateError::BadResponse(format!(
        "'{what}' not in {provider}://llm/v1/embeddings response"
    ))
}

/// Gemini: `batchEmbedContents` (public API) or `predict` (Vertex).
pub fn gemini_request(
    body: &Map<String, Value>,
    model: &str,
    o: &ModelOptions,
    vertex: bool,
) -> Result<Value, TranslateError> {
    let texts = inputs(body)?;
    let dims = dimensions(body, o);
    if vertex {
        let instances: Vec<Value> = texts.iter().map(|t| json!({"content": t})).collect();
        let mut out = json!({"instances": instances});
        if let Some(d) = dims {
            out["parameters"] = json!({"outputDimensionality": d});
        }
        return Ok(out);
    }
    let requests: Vec<Value> = texts
        .iter()
        .map(|t| {
            let mut r =
                json!({"model": format!("models/{model}"), "content": {"parts": [{"text": t}]}});
            if let Some(d) = dims {
                r["outputDimensionality"] = json!(d);
            }
            r
        })
        .collect();
    Ok(json!({"requests": requests}))
}

/// A Gemini (`embeddings[].values`) or Vertex (`predictions[].embeddings.values`) reply.
pub fn gemini_response(v: &Value, model: &str) -> Result<Value, TranslateError> {
    if let Some(p) = v["predictions"].as_array() {
        let tokens = p
            .iter()
            .map(|e| {
                e["embeddings"]["statistics"]["token_count"]
                    .as_u64()
                    .unwrap_or(0)
            })
            .sum();
        let vectors = p
            .iter()
            .map(|e| e["embeddings"]["values"].clone())
            .collect();
        return Ok(list(vectors, model, tokens));
    }
    let e = v["embeddings"]
        .as_array()
        .ok_or_else(|| missing("gemini", "embeddings"))?;
    Ok(list(
        e.iter().map(|e| e["values"].clone()).collect(),
        model,
        0,
    ))
}

/// Cohere `/v2/embed`: float vectors, `input_type` from `options.cohere.embedding_input_type`.
pub fn cohere_request(
    body: &Map<String, Value>,
    model: &str,
    o: &ModelOptions,
) -> Result<Value, TranslateError> {
    let input_type = o
        .cohere
        .as_ref()
        .and_then(|c| c.get("embedding_input_type"))
        .and_then(Value::as_str)
        .unwrap_or("classification");
    let mut out = json!({"model": model, "texts": inputs(body)?, "input_type": input_type,
        "embedding_types": ["float"]});
    if let Some(d) = dimensions(body, o) {
        out["output_dimension"] = json!(d);
    }
    Ok(out)
}

/// A Cohere v2 reply (`embeddings.float`, `meta.billed_units.input_tokens`).
pub fn cohere_response(v: &Value, model: &str) -> Result<Value, TranslateError> {
    let e = v["embeddings"]["float"]
        .as_array()
        .ok_or_else(|| missing("cohere", "embeddings.float"))?;
    let tokens = v["meta"]["billed_units"]["input_tokens"]
        .as_u64()
        .unwrap_or(0);
    Ok(list(e.clone(), model, tokens))
}

fn bedrock_cohere(model: &str) -> bool {
    model.contains("cohere.embed")
}

/// Bedrock `InvokeModel`: Titan (`inputText`, one input) or Cohere (`texts`) embedding models.
pub fn bedrock_request(
    body: &Map<String, Value>,
    model: &str,
    o: &ModelOptions,
) -> Result<Value, TranslateError> {
    let texts = inputs(body)?;
    if bedrock_cohere(model) {
        return Ok(json!({"texts": texts, "input_type": "search_document"}));
    }
    let [text] = <[String; 1]>::try_from(texts).map_err(|_| {
        TranslateError::BadRequest(format!(
            "bedrock model {model} embeds one input per request; send 'input' as a string"
        ))
    })?;
    let mut out = json!({"inputText": text});
    if let Some(d) = dimensions(body, o) {
        out["dimensions"] = json!(d);
    }
    let normalize = o
        .bedrock
        .as_ref()
        .and_then(|b| b.get("embeddings_normalize"))
        .and_then(Value::as_bool);
    if let Some(n) = normalize {
        out["normalize"] = json!(n);
    }
    Ok(out)
}

/// A Bedrock Titan (`embedding`, `inputTextTokenCount`) or Cohere (`embeddings`) reply.
pub fn bedrock_response(v: &Value, model: &str) -> Result<Value, TranslateError> {
    if let Some(e) = v.get("embedding").filter(|e| e.is_array()) {
        let tokens = v["inputTextTokenCount"].as_u64().unwrap_or(0);
        return Ok(list(vec![e.clone()], model, tokens));
    }
    let e = v["embeddings"]
        .as_array()
        .ok_or_else(|| missing("bedrock", "embedding"))?;
    Ok(list(e.clone(), model, 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_shapes() {
        let ok = json!({"input": "a"});
        assert_eq!(inputs(ok.as_object().unwrap()).unwrap(), vec!["a"]);
        let tokens = json!({"input": [[1, 2]]});
        assert!(inputs(tokens.as_object().unwrap()).is_err());
        let none = json!({});
        assert_eq!(
            inputs(none.as_object().unwrap()).unwrap_err().to_string(),
            "'input' is required"
        );
    }

    #[test]
    fn titan_takes_one_input() {
        let o = ModelOptions::default();
        let two = json!({"input": ["a", "b"]});
        assert!(
            bedrock_request(two.as_object().unwrap(), "amazon.titan-embed-text-v2:0", &o).is_err()
        );
        let c = bedrock_request(two.as_object().unwrap(), "cohere.embed-english-v3", &o).unwrap();
        assert_eq!(c["texts"], json!(["a", "b"]));
        let l = list(vec![json!([0.1])], "m", 4);
        assert_eq!(l["usage"]["total_tokens"], 4);
        assert_eq!(l["data"][0]["index"], 0);
    }
}
