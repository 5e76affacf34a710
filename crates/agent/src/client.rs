//! The four calls of the upload protocol over HTTP(S), each retried with backoff on network
//! failures and 5xx/408/429 answers; any other non-2xx answer stops at once with the server's
//! reason.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;
use upload::{
    BatchAnswer, CheckAnswer, CheckRequest, FinishRun, RunFinished, RunStarted, StartRun,
    BATCH_CONTENT_TYPE,
};

use crate::pace::backoff;
use crate::AgentError;

pub struct Client {
    http: ureq::Agent,
    base: String,
    auth: String,
    retries: u32,
    /// Called instead of sleeping between retries (tests); `None` sleeps.
    pub on_wait: Option<Box<dyn FnMut(Duration)>>,
}

enum Body<'a> {
    Json(serde_json::Value),
    Batch(&'a [u8]),
}

impl Client {
    /// A client of the network at `server` (`http://` or `https://`, no trailing path needed).
    pub fn new(server: &str, key: &str, retries: u32) -> Result<Client, AgentError> {
        let base = server.trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(AgentError::Config(format!(
                "--server {server:?} must start with http:// or https://"
            )));
        }
        let http = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(15))
            .timeout_read(Duration::from_secs(300))
            .timeout_write(Duration::from_secs(300))
            .user_agent(&format!("renkei-agent/{}", env!("CARGO_PKG_VERSION")))
            .build();
        Ok(Client {
            http,
            base,
            auth: format!("Bearer {key}"),
            retries,
            on_wait: None,
        })
    }

    pub fn start_run(&mut self, req: &StartRun) -> Result<RunStarted, AgentError> {
        self.json("/api/v1/agent/runs", req)
    }

    pub fn check(&mut self, req: &CheckRequest) -> Result<CheckAnswer, AgentError> {
        self.json("/api/v1/agent/check", req)
    }

    pub fn send_batch(&mut self, run: i64, body: &[u8]) -> Result<BatchAnswer, AgentError> {
        let path = format!("/api/v1/agent/runs/{run}/files");
        let text = self.post(&path, Body::Batch(body))?;
        parse(&path, &text)
    }

    pub fn finish(&mut self, run: i64, req: &FinishRun) -> Result<RunFinished, AgentError> {
        self.json(&format!("/api/v1/agent/runs/{run}/finish"), req)
    }

    fn json<Q: Serialize, A: DeserializeOwned>(
        &mut self,
        path: &str,
        req: &Q,
    ) -> Result<A, AgentError> {
        let value = serde_json::to_value(req)
            .map_err(|e| AgentError::Config(format!("encoding the request to {path}: {e}")))?;
        let text = self.post(path, Body::Json(value))?;
        parse(path, &text)
    }

    fn post(&mut self, path: &str, body: Body<'_>) -> Result<String, AgentError> {
        let url = format!("{}{path}", self.base);
        let mut attempt = 0;
        loop {
            let req = self
                .http
                .post(&url)
                .set("Authorization", &self.auth)
                .set("Accept", "application/json");
            let result = match &body {
                Body::Json(v) => req.send_json(v.clone()),
                Body::Batch(b) => req.set("Content-Type", BATCH_CONTENT_TYPE).send_bytes(b),
            };
            let failure = match result {
                Ok(resp) => {
                    return resp.into_string().map_err(|e| AgentError::Network {
                        what: path.to_owned(),
                        attempts: attempt + 1,
                        message: format!("reading the answer: {e}"),
                    })
                }
                Err(ureq::Error::Status(status, resp)) => {
                    let text = resp.into_string().unwrap_or_default();
                    let message = serde_json::from_str::<serde_json::Value>(&text)
                        .ok()
                        .and_then(|v| v["error"].as_str().map(str::to_owned))
                        .unwrap_or_else(|| text.chars().take(300).collect());
                    if !(status >= 500 || status == 408 || status == 429) {
                        return Err(AgentError::Refused {
                            what: path.to_owned(),
                            status,
                            message,
                        });
                    }
                    format!("HTTP {status}: {message}")
                }
                Err(ureq::Error::Transport(t)) => t.to_string(),
            };
            attempt += 1;
            if attempt > self.retries {
                return Err(AgentError::Network {
                    what: path.to_owned(),
                    attempts: attempt,
                    message: failure,
                });
            }
            let wait = backoff(attempt);
            eprintln!(
                "agent: {path} failed ({failure}); retry {attempt}/{} in {} s",
                self.retries,
                wait.as_secs()
            );
            match self.on_wait.as_mut() {
                Some(f) => f(wait),
                None => std::thread::sleep(wait),
            }
        }
    }
}

fn parse<A: DeserializeOwned>(path: &str, text: &str) -> Result<A, AgentError> {
    serde_json::from_str(text).map_err(|e| AgentError::Refused {
        what: path.to_owned(),
        status: 200,
        message: format!(
            "unexpected answer ({e}): {}",
            text.chars().take(200).collect::<String>()
        ),
    })
}
