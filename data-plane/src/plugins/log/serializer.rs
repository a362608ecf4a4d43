//! Kong's log serializer (`kong.log.serialize()`): one finished request (`LogRecord` + its
//! `Capture`) → the JSON object file-log and http-log send.

use serde_json::{json, Value};

use super::capture::Capture;
use crate::plugins::prometheus::LogRecord;

/// The id of the one workspace (Kong gives its `default` workspace a random id per install).
pub const WORKSPACE_ID: &str = "00000000-0000-0000-0000-000000000000";

/// Kong's `source`: `service` (the upstream answered), `error` (Kong failed to proxy) or
/// `exit` (a plugin or the router answered).
fn source(rec: &LogRecord) -> &'static str {
    if rec.from_service {
        "service"
    } else if rec.status >= 500 {
        "error"
    } else {
        "exit"
    }
}

fn whole_ms(v: f64) -> i64 {
    // Latencies are whole milliseconds in Kong's entries; `as` saturates.
    v.max(0.0).round() as i64
}

/// The log entry of one request.
pub fn serialize(rec: &LogRecord, cap: &Capture) -> Value {
    let kong = whole_ms(rec.kong_latency_ms);
    let proxy = rec.upstream_latency_ms.map_or(-1, whole_ms);
    let request = whole_ms(rec.request_latency_ms);
    let receive = (request - kong - proxy.max(0)).max(0);
    let tries: Vec<Value> = match (&cap.upstream_addr, rec.upstream_latency_ms) {
        (Some((ip, port)), Some(_)) => vec![json!({
            "balancer_start": cap.started_at + u64::try_from(kong).unwrap_or(0),
            "balancer_latency": 0,
            "ip": ip,
            "port": port,
        })],
        _ => Vec::new(),
    };
    let mut entry = json!({
        "request": {
            "method": cap.method,
            "uri": cap.uri,
            "url": cap.url,
            "size": rec.bytes_in,
            "querystring": cap.querystring,
            "headers": cap.request_headers,
        },
        "response": {
            "status": rec.status,
            "size": rec.bytes_out,
            "headers": cap.response_headers,
        },
        "route": cap.route,
        "service": cap.service,
        "latencies": {"kong": kong, "proxy": proxy, "request": request, "receive": receive},
        "tries": tries,
        "upstream_uri": cap.upstream_uri,
        "upstream_status": if rec.upstream_latency_ms.is_some() && rec.from_service {
            Value::from(rec.status.to_string())
        } else {
            Value::from("")
        },
        "client_ip": cap.client_ip,
        "started_at": cap.started_at,
        "source": source(rec),
        "workspace": WORKSPACE_ID,
        "workspace_name": "default",
    });
    if let Some(obj) = entry.as_object_mut() {
        if !cap.consumer.is_null() {
            obj.insert("consumer".into(), cap.consumer.clone());
        }
        if let Some(ai) = rec.ai.as_ref().filter(|a| a.log_statistics) {
            let mut proxy = ai.to_log_json();
            if let Some(p) = proxy.as_object_mut().filter(|_| ai.log_payloads) {
                let mut payload = serde_json::Map::new();
                if let Some(req) = cap.request_payload.as_ref() {
                    payload.insert("request".into(), json!(req));
                }
                if let Some(res) = ai.response_payload.as_ref() {
                    payload.insert("response".into(), json!(res));
                }
                p.insert("payload".into(), Value::Object(payload));
            }
            obj.insert("ai".into(), json!({"proxy": proxy}));
        }
    }
    entry
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::{AiAnalytics, Usage};

    fn capture() -> Capture {
        Capture {
            method: "POST".into(),
            uri: "/chat?x=1".into(),
            url: "http://gw.test/chat?x=1".into(),
            querystring: json!({"x": "1"}),
            request_headers: json!({"authorization": "REDACTED", "host": "gw.test"}),
            client_ip: "127.0.0.1".into(),
            started_at: 1_700_000_000_000,
            route: json!({"name": "r"}),
            service: json!({"name": "s"}),
            upstream_uri: "/v1/chat?x=1".into(),
            upstream_addr: Some(("10.0.0.1".into(), 8080)),
            ..Default::default()
        }
    }

    fn record() -> LogRecord {
        LogRecord {
            status: 200,
            from_service: true,
            kong_latency_ms: 1.4,
            upstream_latency_ms: Some(20.0),
            request_latency_ms: 25.0,
            bytes_in: 12,
            bytes_out: 34,
            ..Default::default()
        }
    }

    #[test]
    fn shape_of_a_proxied_request() {
        let v = serialize(&record(), &capture());
        assert_eq!(v["request"]["method"], "POST");
        assert_eq!(v["request"]["size"], 12);
        assert_eq!(v["request"]["querystring"]["x"], "1");
        assert_eq!(v["response"]["status"], 200);
        assert_eq!(v["response"]["size"], 34);
        assert_eq!(
            v["latencies"],
            json!({"kong": 1, "proxy": 20, "request": 25, "receive": 4})
        );
        assert_eq!(v["upstream_status"], "200");
        assert_eq!(v["source"], "service");
        assert_eq!(v["tries"][0]["port"], 8080);
        assert_eq!(v["workspace_name"], "default");
        assert_eq!(v["started_at"], 1_700_000_000_000u64);
        assert!(v.get("consumer").is_none());
        assert!(v.get("ai").is_none());
    }

    #[test]
    fn kong_made_answer_has_no_upstream_and_source_exit() {
        let rec = LogRecord {
            status: 401,
            upstream_latency_ms: None,
            from_service: false,
            ..record()
        };
        let mut cap = capture();
        cap.consumer = json!({"username": "alice"});
        let v = serialize(&rec, &cap);
        assert_eq!(v["source"], "exit");
        assert_eq!(v["latencies"]["proxy"], -1);
        assert_eq!(v["tries"], json!([]));
        assert_eq!(v["upstream_status"], "");
        assert_eq!(v["consumer"]["username"], "alice");
    }

    #[test]
    fn ai_namespace_when_statistics_are_logged() {
        let mut rec = record();
        rec.ai = Some(AiAnalytics {
            provider: "openai".into(),
            request_model: "gpt-4".into(),
            usage: Usage {
                prompt_tokens: 25,
                completion_tokens: 12,
                total_tokens: 37,
            },
            log_statistics: true,
            log_payloads: true,
            response_payload: Some("{\"choices\":[]}".into()),
            ..Default::default()
        });
        let mut cap = capture();
        cap.request_payload = Some("{\"messages\":[]}".into());
        let v = serialize(&rec, &cap);
        assert_eq!(v["ai"]["proxy"]["meta"]["provider_name"], "openai");
        assert_eq!(v["ai"]["proxy"]["usage"]["total_tokens"], 37);
        assert_eq!(v["ai"]["proxy"]["payload"]["request"], "{\"messages\":[]}");
        assert_eq!(v["ai"]["proxy"]["payload"]["response"], "{\"choices\":[]}");
        if let Some(a) = rec.ai.as_mut() {
            a.log_payloads = false;
        }
        assert!(serialize(&rec, &cap)["ai"]["proxy"]
            .get("payload")
            .is_none());
        if let Some(a) = rec.ai.as_mut() {
            a.log_statistics = false;
        }
        assert!(serialize(&rec, &cap).get("ai").is_none());
    }
}
