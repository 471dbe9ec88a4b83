//! A small blocking client of the management API (ureq, no async runtime on
//! the CLI path). Every non-2xx answer becomes one line:
//! `HTTP 404 not_found: content key 'k' not found`.

use crate::Failure;
use serde_json::Value;
use std::time::Duration;

pub struct Client {
    agent: ureq::Agent,
    base: String,
    auth: String,
}

impl Client {
    pub fn new(server: &str, token: Option<&str>) -> Result<Self, Failure> {
        let token = token.filter(|t| !t.is_empty()).ok_or_else(|| {
            Failure::usage("no admin token: pass --token or set CASTGUARD_ADMIN_TOKEN (castguard serve printed it at first start)")
        })?;
        let base = server.trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(Failure::usage(format!(
                "--server must be an http:// URL, got '{server}'"
            )));
        }
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(10)))
            .build()
            .into();
        Ok(Client {
            agent,
            base,
            auth: format!("Bearer {token}"),
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn get(&self, path: &str) -> Result<Value, Failure> {
        let r = self
            .agent
            .get(self.url(path))
            .header("Authorization", &self.auth)
            .call();
        self.finish(path, r)
    }

    pub fn delete(&self, path: &str) -> Result<Value, Failure> {
        let r = self
            .agent
            .delete(self.url(path))
            .header("Authorization", &self.auth)
            .call();
        self.finish(path, r)
    }

    pub fn post(&self, path: &str) -> Result<Value, Failure> {
        let r = self
            .agent
            .post(self.url(path))
            .header("Authorization", &self.auth)
            .send_empty();
        self.finish(path, r)
    }

    pub fn post_json(&self, path: &str, body: &Value) -> Result<Value, Failure> {
        let r = self
            .agent
            .post(self.url(path))
            .header("Authorization", &self.auth)
            .send_json(body);
        self.finish(path, r)
    }

    /// POSTs raw bytes (an XML document, a certificate); a non-JSON answer
    /// comes back as `Value::String`.
    pub fn post_bytes(
        &self,
        path: &str,
        content_type: &str,
        body: &[u8],
    ) -> Result<Value, Failure> {
        let r = self
            .agent
            .post(self.url(path))
            .header("Authorization", &self.auth)
            .header("Content-Type", content_type)
            .send(body);
        self.finish(path, r)
    }

    pub fn put_json(&self, path: &str, body: &Value) -> Result<Value, Failure> {
        let r = self
            .agent
            .put(self.url(path))
            .header("Authorization", &self.auth)
            .send_json(body);
        self.finish(path, r)
    }

    /// PUTs several files as one `multipart/form-data` body, each part
    /// carrying its file name, streamed from disk (never held whole in
    /// memory). `files` are `(part name, file)`: `file` for media,
    /// `text:LANG[:ROLE[:NAME]]` for a subtitle file.
    pub fn put_files(&self, path: &str, files: &[(String, std::path::PathBuf)]) -> Result<Value, Failure> {
        use std::io::Read;
        let boundary = format!("castguard-{:016x}", std::process::id() as u64 ^ 0x5bd1_e995_u64.rotate_left(17));
        let mut body: Box<dyn Read + Send> = Box::new(std::io::empty());
        for (part, f) in files {
            let name = f
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .ok_or_else(|| Failure::usage(format!("{}: not a file name", f.display())))?;
            if name.contains(['"', '\r', '\n']) {
                return Err(Failure::usage(format!("{name}: file names cannot hold quotes or line breaks")));
            }
            let file = std::fs::File::open(f).map_err(|e| Failure::input(format!("{}: {e}", f.display())))?;
            if part.contains(['"', '\r', '\n']) {
                return Err(Failure::usage(format!("{part}: part names cannot hold quotes or line breaks")));
            }
            let kind = if part.starts_with("text:") { "text/plain" } else { "video/mp4" };
            let head = format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{part}\"; filename=\"{name}\"\r\nContent-Type: {kind}\r\n\r\n"
            );
            body = Box::new(body.chain(std::io::Cursor::new(head.into_bytes())).chain(file).chain(&b"\r\n"[..]));
        }
        body = Box::new(body.chain(std::io::Cursor::new(format!("--{boundary}--\r\n").into_bytes())));
        let r = self
            .agent
            .put(self.url(path))
            .header("Authorization", &self.auth)
            .header("Content-Type", &format!("multipart/form-data; boundary={boundary}"))
            .send(ureq::SendBody::from_owned_reader(body));
        self.finish(path, r)
    }

    /// Every item of a paged listing, following `@odata.nextLink`.
    pub fn list_all(&self, collection: &str) -> Result<Vec<Value>, Failure> {
        let mut out = Vec::new();
        let mut next = Some(format!("/api/v1/{collection}"));
        while let Some(path) = next.take() {
            let page = self.get(&path)?;
            if let Some(items) = page["value"].as_array() {
                out.extend(items.iter().cloned());
            }
            next = page["@odata.nextLink"].as_str().map(str::to_string);
        }
        Ok(out)
    }

    fn finish(
        &self,
        path: &str,
        r: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<Value, Failure> {
        let mut resp =
            r.map_err(|e| Failure::input(format!("cannot reach {}: {e}", self.url(path))))?;
        let status = resp.status();
        let text = resp
            .body_mut()
            .with_config()
            .limit(64 * 1024 * 1024)
            .read_to_string()
            .map_err(|e| Failure::input(format!("{}: unreadable response: {e}", self.url(path))))?;
        let body: Value = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        if status.is_success() {
            return Ok(body);
        }
        let code = body["error"]["code"].as_str().unwrap_or("error");
        let message = body["error"]["message"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| match &body {
                Value::String(s) => s.lines().next().unwrap_or("").to_string(),
                _ => String::new(),
            });
        Err(Failure::input(format!(
            "HTTP {} {code}: {message}",
            status.as_u16()
        )))
    }
}
