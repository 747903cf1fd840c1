//! The JSON that goes over the wire, built and read leniently.
//!
//! Requests are plain `serde_json::Value`s (async-openai's `byot` calls), so
//! `response_format` can take the non-standard `json_object` + `schema`
//! form. Responses are read by path, ignoring unknown fields, accepting
//! `content` as a string or as an array of text parts, and not caring about
//! the `finish_reason` value.

use serde_json::{Value, json};

use super::{ChatMessage, ChatRole, LlmError, OutputSchema, StructuredMode};

/// The chat-completions request body.
pub(super) fn request(
    model: &str,
    messages: &[ChatMessage],
    max_tokens: u32,
    structured: Option<(StructuredMode, &OutputSchema)>,
) -> Value {
    let mut messages: Vec<ChatMessage> = messages.to_vec();
    let mut body = json!({
        "model": model,
        "stream": false,
        "temperature": 0,
        "max_tokens": max_tokens,
    });
    if let Some((mode, schema)) = structured {
        match mode {
            StructuredMode::JsonSchema => {
                body["response_format"] = json!({
                    "type": "json_schema",
                    "json_schema": {"name": schema.name, "strict": true, "schema": schema.schema},
                });
            }
            StructuredMode::JsonObject => {
                body["response_format"] = json!({"type": "json_object", "schema": schema.schema});
                append_json_instruction(&mut messages, schema);
            }
            StructuredMode::PromptOnly => append_json_instruction(&mut messages, schema),
        }
    }
    body["messages"] = serde_json::to_value(&messages).unwrap_or_default();
    body
}

/// Without a native schema, the system prompt asks for the JSON shape.
fn append_json_instruction(messages: &mut Vec<ChatMessage>, schema: &OutputSchema) {
    let instruction = format!(
        "\n\nRespond with one JSON object and nothing else, matching this JSON schema:\n{}",
        schema.schema
    );
    match messages.iter_mut().find(|m| m.role == ChatRole::System) {
        Some(system) => system.content.push_str(&instruction),
        None => messages.insert(0, ChatMessage::system(instruction.trim_start())),
    }
}

/// The first choice's text.
pub(super) fn first_content(response: &Value) -> Result<String, LlmError> {
    let message = &response["choices"][0]["message"];
    let text = match &message["content"] {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p["text"].as_str().or_else(|| p.as_str()))
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    };
    let text = text.trim().to_owned();
    if text.is_empty() {
        return Err(LlmError::InvalidOutput("empty reply".into()));
    }
    Ok(text)
}

/// The first JSON object in a reply that may wrap it in code fences or prose.
pub fn extract_json_object(content: &str) -> Option<Value> {
    let trimmed = content.trim();
    if let Ok(v @ Value::Object(_)) = serde_json::from_str::<Value>(trimmed) {
        return Some(v);
    }
    // Try every '{' as a start and the matching closing brace as the end.
    for (start, _) in trimmed.match_indices('{') {
        let mut depth = 0usize;
        let mut in_string = false;
        let mut escaped = false;
        for (offset, c) in trimmed[start..].char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' if in_string => escaped = true,
                '"' => in_string = !in_string,
                '{' if !in_string => depth += 1,
                '}' if !in_string => {
                    depth -= 1;
                    if depth == 0 {
                        let candidate = &trimmed[start..start + offset + 1];
                        if let Ok(v @ Value::Object(_)) = serde_json::from_str::<Value>(candidate) {
                            return Some(v);
                        }
                        break;
                    }
                }
                _ => {}
            }
        }
    }
    None
}

/// An error object in a body async-openai could not parse (e.g. llama.cpp's
/// numeric `code`): the status (from `code` when numeric, else 400) and
/// message.
pub(super) fn error_in_body(content: &str) -> Option<(u16, String)> {
    let value: Value = serde_json::from_str(content).ok()?;
    let error = value.get("error")?;
    let status = error["code"]
        .as_u64()
        .and_then(|c| u16::try_from(c).ok())
        .filter(|c| (400..600).contains(c));
    let message = error["message"]
        .as_str()
        .or_else(|| error.as_str())
        .unwrap_or("")
        .to_owned();
    Some((status.unwrap_or(400), message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extracts_json_from_fences_and_prose() {
        let v = extract_json_object(
            "Sure! ```json\n{\"class\": \"faq\", \"n\": {\"a\": 1}}\n``` hope it helps",
        )
        .unwrap();
        assert_eq!(v["class"], "faq");
        assert_eq!(v["n"]["a"], 1);
        assert!(extract_json_object("no json here").is_none());
        assert!(extract_json_object("{broken").is_none());
        let v = extract_json_object("{\"reason\": \"a } in a string\"}").unwrap();
        assert_eq!(v["reason"], "a } in a string");
    }

    #[test]
    fn reads_content_leniently() {
        let odd = json!({"choices": [{"message": {"content": [{"type": "text", "text": "hi"}]}, "finish_reason": "eos_token", "extra": 1}], "usage": null});
        assert_eq!(first_content(&odd).unwrap(), "hi");
        let empty = json!({"choices": [{"message": {"content": null}}]});
        assert!(matches!(
            first_content(&empty),
            Err(LlmError::InvalidOutput(_))
        ));
        assert!(first_content(&json!({})).is_err());
    }

    #[test]
    fn non_standard_error_bodies() {
        assert_eq!(
            error_in_body(
                r#"{"error":{"code":400,"message":"json_schema not supported","type":"invalid_request_error"}}"#
            ),
            Some((400, "json_schema not supported".into()))
        );
        assert_eq!(
            error_in_body(r#"{"error":"bad"}"#),
            Some((400, "bad".into()))
        );
        assert_eq!(error_in_body("<html>"), None);
    }

    #[test]
    fn json_object_mode_carries_schema_and_instruction() {
        let schema = OutputSchema {
            name: "t",
            schema: json!({"type": "object"}),
        };
        let body = request(
            "m",
            &[ChatMessage::system("sys"), ChatMessage::user("u")],
            10,
            Some((StructuredMode::JsonObject, &schema)),
        );
        assert_eq!(body["response_format"]["type"], "json_object");
        assert_eq!(body["response_format"]["schema"]["type"], "object");
        assert!(
            body["messages"][0]["content"]
                .as_str()
                .unwrap()
                .contains("JSON schema")
        );
        let body = request(
            "m",
            &[ChatMessage::user("u")],
            10,
            Some((StructuredMode::PromptOnly, &schema)),
        );
        assert!(body.get("response_format").is_none());
        assert_eq!(body["messages"][0]["role"], "system");
    }
}
