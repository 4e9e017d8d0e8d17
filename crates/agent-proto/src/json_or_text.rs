//! [`JsonOrText`]: an answer read as synapse-sdk reads every answer.

use crate::api::Answer;
use crate::error::ClientError;
use serde_json::Value;

/// Any answer, as synapse-sdk's `_post_response` reads it: its JSON, or its text
/// (a JSON string) when it is not JSON; `null` when it is empty. For callers that
/// hand the agent's answer on as it is (agentctl's `-o json`, the Python package),
/// where a typed model would drop what it does not know, or refuse a body the SDK
/// would have returned.
///
/// ```
/// use agent_proto::{api::Answer, JsonOrText};
/// use serde_json::json;
///
/// assert_eq!(JsonOrText::from_body(br#"{"a":1}"#)?.0, json!({"a": 1}));
/// assert_eq!(JsonOrText::from_body(b"<html>oops</html>")?.0, json!("<html>oops</html>"));
/// assert_eq!(JsonOrText::from_body(b" \n")?.0, json!(null));
/// # Ok::<(), agent_proto::ClientError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct JsonOrText(pub Value);

impl Answer for JsonOrText {
    fn from_body(body: &[u8]) -> Result<Self, ClientError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(JsonOrText(Value::Null));
        }
        Ok(JsonOrText(serde_json::from_slice(body).unwrap_or_else(
            |_| Value::String(String::from_utf8_lossy(body).into_owned()),
        )))
    }
}
