//! `castguard asset|key|policy|streaming-policy|locator ...`: the management
//! API from the shell (issue 3, item 7).
//!
//! Each command is one or a few calls to `/api/v1` on `--server`
//! (`CASTGUARD_SERVER`) with the admin token from `--token`
//! (`CASTGUARD_ADMIN_TOKEN`). Output is a readable table by default and the
//! API's JSON with `--json`; a failed call prints one line
//! (`castguard: HTTP 409 conflict: ...`) and exits with status 1 (2 for a
//! usage error). Entities can be given whole with `--file X.json` (the v3
//! JSON shapes) or, for the common cases, built from flags.

mod client;
mod migrate;
mod output;

use crate::Failure;
use clap::{Args, Subcommand, ValueEnum};
use client::Client;
use serde_json::{Map, Value, json};
use std::path::PathBuf;

/// Where the API is and how output looks; accepted after any subcommand.
#[derive(Args, Debug)]
pub struct Conn {
    /// Server base URL.
    #[arg(
        long,
        global = true,
        env = "CASTGUARD_SERVER",
        default_value = "http://127.0.0.1:8080"
    )]
    server: String,
    /// Admin token.
    #[arg(
        long,
        global = true,
        env = "CASTGUARD_ADMIN_TOKEN",
        hide_env_values = true
    )]
    token: Option<String>,
    /// Print the API's JSON instead of a table.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Subcommand)]
pub enum ApiCommand {
    /// Assets: the clear media of a title.
    Asset(Entity<AssetCmd>),
    /// Content keys (key ID + 16-byte value).
    Key(Entity<KeyCmd>),
    /// Content key policies: who may receive a key.
    Policy(Entity<PolicyCmd>),
    /// Streaming policies: protocols and protection.
    StreamingPolicy(Entity<StreamingPolicyCmd>),
    /// Streaming locators: an asset published with a policy and keys.
    Locator(Entity<LocatorCmd>),
    /// Recreate an account export of the retired cloud media service
    /// (v3 resources as JSON files in a folder) in one transaction.
    Import(migrate::ImportArgs),
    /// Write every policy, streaming policy, locator (with its keys) and
    /// asset record as v3 JSON files, the layout `import` reads.
    Export(migrate::ExportArgs),
    /// Live events (where encoders push) and their outputs (recordings
    /// into assets).
    Live(Entity<LiveCmd>),
}

#[derive(Args)]
pub struct Entity<C: Subcommand> {
    #[command(flatten)]
    conn: Conn,
    #[command(subcommand)]
    cmd: C,
}

/// The verbs every entity has.
#[derive(Subcommand)]
pub enum Common {
    Get { name: String },
    List,
    Delete { name: String },
}

#[derive(Subcommand)]
pub enum AssetCmd {
    /// Create or update an asset record.
    Create {
        name: String,
        #[arg(long)]
        description: Option<String>,
        #[arg(long)]
        alternate_id: Option<String>,
    },
    /// Upload MP4 files and ingest them as the asset's title (created if
    /// missing): `ingest NAME --file v720.mp4 --file v360.mp4 --file
    /// audio_fr.mp4` (every track of every file joins the title), `ingest
    /// NAME --dir FOLDER` (the files the folder's `.ism` lists), or the
    /// older one-file form `ingest FILE --name NAME`.
    Ingest {
        /// The asset name (with --file or --dir), or the one file (with --name).
        target: String,
        /// A file of the title; repeat for each rendition or audio file.
        #[arg(long = "file", value_name = "FILE")]
        files: Vec<PathBuf>,
        /// A folder as the encoder wrote it: MP4 renditions and the `.ism`
        /// server manifest listing them; its files are uploaded as with
        /// --file, its WebVTT/TTML `textstream`s as with --text.
        #[arg(long, value_name = "FOLDER", conflicts_with_all = ["files", "name"])]
        dir: Option<PathBuf>,
        /// A subtitle file (WebVTT or TTML) as LANG[:ROLE[:NAME]]=FILE, e.g.
        /// `en=subs_en.vtt`, `fr:forced=signs_fr.vtt`; repeat per language.
        #[arg(long = "text", value_name = "LANG[:ROLE[:NAME]]=FILE", value_parser = media::text::TextInput::parse)]
        texts: Vec<media::text::TextInput>,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        description: Option<String>,
    },
    #[command(flatten)]
    Common(Common),
}

#[derive(Clone, Copy, ValueEnum)]
pub enum KeyType {
    /// cenc / cbcs (DASH, HLS fMP4, DRM, Clear Key)
    Common,
    /// HLS AES-128
    Envelope,
}

#[derive(Subcommand)]
pub enum KeyCmd {
    /// Create or update a content key; key ID and value are generated when left out.
    Create {
        name: String,
        #[arg(long = "type", value_enum, default_value = "common")]
        key_type: KeyType,
        /// Key ID (UUID, or 32 hex digits).
        #[arg(long)]
        kid: Option<String>,
        /// Key value: 32 hex digits or base64 of 16 bytes.
        #[arg(long)]
        value: Option<String>,
        #[arg(long)]
        label: Option<String>,
        /// Content key policy that authorises delivery.
        #[arg(long)]
        policy: Option<String>,
    },
    /// Import the content keys of a DASH-IF CPIX document (every key or
    /// none). XML signatures are verified and their signers shown. Without
    /// --recipient-key the document goes to the server as it is (values in
    /// the clear, or encrypted for castguard's recipient certificate: see
    /// `key recipient-cert`); with it, keys encrypted for that recipient
    /// are decrypted here, so the private key never leaves this machine.
    Import {
        file: PathBuf,
        /// The recipient's RSA private key, PKCS#8 PEM (from a PFX:
        /// `openssl pkcs12 -in X.pfx -nocerts -nodes | openssl pkey`).
        #[arg(long, value_name = "PEM")]
        recipient_key: Option<PathBuf>,
        /// Require the document to be signed with this X.509 certificate
        /// (PEM or DER): every list covered by its valid signature.
        /// Without it, valid signatures by any certificate are accepted and
        /// shown as not trusted.
        #[arg(long, value_name = "CERT.pem")]
        trusted_signer: Option<PathBuf>,
        /// Content key policy of the imported keys.
        #[arg(long)]
        policy: Option<String>,
        /// Check and show what would be imported; store nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// castguard's CPIX recipient certificate (PEM), for a vendor to
    /// encrypt CPIX documents for castguard (made on first use).
    RecipientCert {
        /// Write it here instead of to standard output.
        #[arg(short = 'o', long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    #[command(flatten)]
    Common(Common),
}

#[derive(Clone, Copy, ValueEnum)]
pub enum TokenType {
    Jwt,
    Swt,
}

#[derive(Subcommand)]
pub enum PolicyCmd {
    /// Create or update a content key policy (Clear Key / AES-128 delivery):
    /// open by default, token-restricted with --issuer/--audience/--symmetric-key,
    /// or anything from --file.
    Create {
        name: String,
        /// The whole policy as v3 JSON.
        #[arg(long, conflicts_with_all = ["open", "issuer", "audience", "symmetric_key", "required_claim", "description"])]
        file: Option<PathBuf>,
        /// No restriction: anyone gets the key.
        #[arg(long, conflicts_with_all = ["issuer", "audience", "symmetric_key", "required_claim"])]
        open: bool,
        #[arg(long, requires_all = ["audience", "symmetric_key"])]
        issuer: Option<String>,
        #[arg(long, requires = "issuer")]
        audience: Option<String>,
        /// HMAC key for token signatures, base64.
        #[arg(long, requires = "issuer")]
        symmetric_key: Option<String>,
        /// A claim the token must carry: TYPE or TYPE=VALUE (repeatable).
        #[arg(long, requires = "issuer")]
        required_claim: Vec<String>,
        #[arg(long, value_enum, default_value = "jwt")]
        token_type: TokenType,
        #[arg(long)]
        description: Option<String>,
    },
    #[command(flatten)]
    Common(Common),
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scheme {
    Clear,
    Envelope,
    Cenc,
    Cbcs,
}

#[derive(Subcommand)]
pub enum StreamingPolicyCmd {
    /// Create or update a streaming policy from --scheme flags or --file.
    Create {
        name: String,
        #[arg(long, conflicts_with_all = ["scheme", "default_policy"])]
        file: Option<PathBuf>,
        /// Protection (repeatable): clear, envelope (HLS AES-128), cenc, cbcs.
        #[arg(long, value_enum, required_unless_present = "file")]
        scheme: Vec<Scheme>,
        /// Only DASH.
        #[arg(long, conflicts_with = "hls_only")]
        dash_only: bool,
        /// Only HLS.
        #[arg(long)]
        hls_only: bool,
        /// Content key policy for keys that name none.
        #[arg(long)]
        default_policy: Option<String>,
    },
    #[command(flatten)]
    Common(Common),
}

#[derive(Subcommand)]
pub enum LocatorCmd {
    /// Create or update a streaming locator.
    Create {
        name: String,
        #[arg(long, conflicts_with_all = ["asset", "streaming_policy", "policy", "key", "start", "end", "rotate_segments", "rotate_seconds"])]
        file: Option<PathBuf>,
        #[arg(long, required_unless_present = "file")]
        asset: Option<String>,
        #[arg(long, required_unless_present = "file")]
        streaming_policy: Option<String>,
        /// Default content key policy.
        #[arg(long)]
        policy: Option<String>,
        /// Content key by name (repeatable).
        #[arg(long)]
        key: Vec<String>,
        /// RFC 3339 start of the window.
        #[arg(long)]
        start: Option<String>,
        /// RFC 3339 end of the window.
        #[arg(long)]
        end: Option<String>,
        /// Key rotation: a new key every N segments (docs/key-rotation.md).
        #[arg(long, value_name = "N", conflicts_with = "rotate_seconds")]
        rotate_segments: Option<u32>,
        /// Key rotation: a new key every N seconds, in whole segments.
        #[arg(long, value_name = "N")]
        rotate_seconds: Option<u32>,
    },
    #[command(flatten)]
    Common(Common),
    /// The DASH and HLS URLs of a locator.
    Paths { name: String },
    /// The content keys of a locator (values only with --values).
    Keys {
        name: String,
        #[arg(long)]
        values: bool,
    },
    /// The locator's keys and their DRM signalling as a DASH-IF CPIX 2.3
    /// document: values in the clear, or encrypted for --recipient-cert.
    Cpix {
        name: String,
        /// The recipient's X.509 certificate (PEM or DER).
        #[arg(long, value_name = "PEM")]
        recipient_cert: Option<PathBuf>,
        /// Write the document here instead of to standard output.
        #[arg(short = 'o', long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
pub enum LiveCmd {
    /// Create or update a live event (CMAF ingest over HTTP, or RTMP);
    /// prints its ingest URL. The access token is generated when left out.
    Create {
        name: String,
        #[arg(long)]
        description: Option<String>,
        /// FragmentedMP4 (CMAF pushed over HTTP) or RTMP (OBS, ffmpeg -f
        /// flv; the server needs --rtmp-listen).
        #[arg(long, default_value = "FragmentedMP4", value_parser = ["FragmentedMP4", "RTMP"])]
        protocol: String,
        /// 16 to 128 of [A-Za-z0-9_-]; part of the ingest URL.
        #[arg(long)]
        access_token: Option<String>,
    },
    /// Start taking streams (idempotent).
    Start {
        name: String,
    },
    /// Stop: pushing encoders are cut off and the recordings become VOD
    /// (idempotent).
    Stop {
        name: String,
    },
    /// Stop and delete an event with its outputs; their assets stay
    /// (idempotent).
    Delete {
        name: String,
    },
    Get {
        name: String,
    },
    List,
    /// Live outputs: an event recorded into an asset.
    #[command(subcommand)]
    Output(LiveOutputCmd),
}

#[derive(Subcommand)]
pub enum LiveOutputCmd {
    /// Record EVENT into an existing asset: `create EVENT NAME --asset A
    /// --archive-window PT1H`.
    Create {
        event: String,
        name: String,
        #[arg(long)]
        asset: String,
        /// ISO 8601 duration the asset keeps, PT1M to PT25H.
        #[arg(long, default_value = "PT1H")]
        archive_window: String,
        /// ISO 8601 duration viewers may seek back (DVR window); the
        /// archive window when left out.
        #[arg(long)]
        rewind_window: Option<String>,
        #[arg(long)]
        description: Option<String>,
    },
    #[command(flatten)]
    Common(Common),
}

impl EntityCommand for LiveCmd {
    type Model = keys::model::LiveEvent;
    const KIND: output::Kind = output::Kind::LiveEvent;

    fn run(&self, c: &Client, json: bool) -> Result<(), Failure> {
        match self {
            LiveCmd::Create {
                name,
                description,
                protocol,
                access_token,
            } => {
                let input = obj(vec![
                    ("streamingProtocol", Some(Value::from(protocol.as_str()))),
                    ("accessToken", access_token.clone().map(Value::from)),
                ]);
                let body = obj(vec![
                    ("description", description.clone().map(Value::from)),
                    ("input", Some(input)),
                ]);
                create::<Self>(c, json, name, &body)?;
            }
            LiveCmd::Start { name } => {
                output::one(
                    json,
                    Self::KIND,
                    &c.post(&format!("{}/start", item::<Self::Model>(name)?))?,
                );
            }
            LiveCmd::Stop { name } => {
                output::one(
                    json,
                    Self::KIND,
                    &c.post(&format!("{}/stop", item::<Self::Model>(name)?))?,
                );
            }
            LiveCmd::Delete { name } => {
                Common::Delete { name: name.clone() }.run::<Self>(c, json)?;
            }
            LiveCmd::Get { name } => Common::Get { name: name.clone() }.run::<Self>(c, json)?,
            LiveCmd::List => Common::List.run::<Self>(c, json)?,
            LiveCmd::Output(cmd) => cmd.run(c, json)?,
        }
        Ok(())
    }
}

impl EntityCommand for LiveOutputCmd {
    type Model = keys::model::LiveOutput;
    const KIND: output::Kind = output::Kind::LiveOutput;

    fn run(&self, c: &Client, json: bool) -> Result<(), Failure> {
        match self {
            LiveOutputCmd::Create {
                event,
                name,
                asset,
                archive_window,
                rewind_window,
                description,
            } => {
                let body = obj(vec![
                    ("liveEventName", Some(Value::from(seg(event)?))),
                    ("assetName", Some(Value::from(seg(asset)?))),
                    (
                        "archiveWindowLength",
                        Some(Value::from(archive_window.clone())),
                    ),
                    ("rewindWindowLength", rewind_window.clone().map(Value::from)),
                    ("description", description.clone().map(Value::from)),
                ]);
                create::<Self>(c, json, name, &body)?;
            }
            LiveOutputCmd::Common(verb) => verb.run::<Self>(c, json)?,
        }
        Ok(())
    }
}

pub fn run(cmd: ApiCommand) -> Result<(), Failure> {
    match cmd {
        ApiCommand::Asset(e) => e.run(),
        ApiCommand::Key(e) => e.run(),
        ApiCommand::Policy(e) => e.run(),
        ApiCommand::StreamingPolicy(e) => e.run(),
        ApiCommand::Locator(e) => e.run(),
        ApiCommand::Import(a) => migrate::import(a),
        ApiCommand::Export(a) => migrate::export(a),
        ApiCommand::Live(e) => e.run(),
    }
}

/// The subcommands of one entity: the [`Common`] verbs, written once, and
/// its own (`create`, and any others).
pub trait EntityCommand: Subcommand {
    /// The entity, for its collection in `/api/v1/{collection}`.
    type Model: store::Entity;
    /// How tables show it.
    const KIND: output::Kind;
    fn run(&self, c: &Client, json: bool) -> Result<(), Failure>;
}

impl<C: EntityCommand> Entity<C> {
    fn run(&self) -> Result<(), Failure> {
        self.cmd.run(&connect(&self.conn)?, self.conn.json)
    }
}

impl Common {
    fn run<C: EntityCommand>(&self, c: &Client, json: bool) -> Result<(), Failure> {
        match self {
            Common::Get { name } => {
                output::one(json, C::KIND, &c.get(&item::<C::Model>(name)?)?);
            }
            Common::List => output::many(
                json,
                C::KIND,
                &c.list_all(<C::Model as store::Entity>::COLLECTION)?,
            ),
            Common::Delete { name } => {
                c.delete(&item::<C::Model>(name)?)?;
                if !json {
                    println!("deleted {name}");
                }
            }
        }
        Ok(())
    }
}

/// `/api/v1/{collection}/{name}` of an entity.
fn item<E: store::Entity>(name: &str) -> Result<String, Failure> {
    Ok(format!("/api/v1/{}/{}", E::COLLECTION, seg(name)?))
}

/// PUT of `body` as the entity `name`, and the stored entity printed.
fn create<C: EntityCommand>(
    c: &Client,
    json: bool,
    name: &str,
    body: &Value,
) -> Result<(), Failure> {
    output::one(json, C::KIND, &c.put_json(&item::<C::Model>(name)?, body)?);
    Ok(())
}

fn connect(c: &Conn) -> Result<Client, Failure> {
    Client::new(&c.server, c.token.as_deref())
}

/// The `{name}` path segment; names follow the server's rule
/// ([`keys::model::validate_name`]: `[A-Za-z0-9_.-]`, no leading `.`),
/// checked here so a typo gives a clear line instead of a mangled URL.
fn seg(name: &str) -> Result<&str, Failure> {
    if keys::model::validate_name("name", name).is_ok() {
        Ok(name)
    } else {
        Err(Failure::usage(format!(
            "'{name}' is not a valid name (use letters, digits, '_', '.', '-', not starting with '.')"
        )))
    }
}

fn read_json_file(path: &PathBuf) -> Result<Value, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::input(format!("{}: {e}", path.display())))?;
    serde_json::from_str(&text)
        .map_err(|e| Failure::input(format!("{}: not JSON: {e}", path.display())))
}

fn obj(pairs: Vec<(&str, Option<Value>)>) -> Value {
    let mut m = Map::new();
    for (k, v) in pairs {
        if let Some(v) = v {
            m.insert(k.to_string(), v);
        }
    }
    Value::Object(m)
}

impl EntityCommand for AssetCmd {
    type Model = keys::model::Asset;
    const KIND: output::Kind = output::Kind::Asset;

    fn run(&self, c: &Client, json: bool) -> Result<(), Failure> {
        match self {
            AssetCmd::Create {
                name,
                description,
                alternate_id,
            } => {
                let body = obj(vec![
                    ("description", description.clone().map(Value::from)),
                    ("alternateId", alternate_id.clone().map(Value::from)),
                ]);
                create::<Self>(c, json, name, &body)?;
            }
            AssetCmd::Ingest {
                target,
                files,
                dir,
                texts,
                name,
                description,
            } => {
                let mut texts = texts.clone();
                let (name, files) = match (name, files.is_empty(), dir) {
                    (None, true, Some(d)) => {
                        let folder = media::ism::read_folder(d).map_err(Failure::input)?;
                        texts.extend(folder.texts);
                        (target.clone(), folder.media)
                    }
                    (Some(n), true, _) => (n.clone(), vec![PathBuf::from(target)]),
                    (None, false, _) => (target.clone(), files.clone()),
                    (Some(_), false, _) => {
                        return Err(Failure::usage(
                            "give either NAME --file FILE... or FILE --name NAME",
                        ));
                    }
                    (None, true, None) => {
                        return Err(Failure::usage(
                            "which files? give --file FILE (repeat it for each file of the title) or --dir FOLDER",
                        ));
                    }
                };
                let stored = ingest(c, &name, &files, &texts, description.as_deref())?;
                output::one(json, Self::KIND, &stored);
            }
            AssetCmd::Common(verb) => verb.run::<Self>(c, json)?,
        }
        Ok(())
    }
}

/// Uploads `files` (and the subtitle files `texts`) as the title of the
/// asset `name`, creating its record first when it has none (or updating
/// its description), and returns the asset as stored.
fn ingest(
    c: &Client,
    name: &str,
    files: &[PathBuf],
    texts: &[media::text::TextInput],
    description: Option<&str>,
) -> Result<Value, Failure> {
    for f in files.iter().chain(texts.iter().map(|t| &t.path)) {
        if !f.is_file() {
            return Err(Failure::input(format!("{}: no such file", f.display())));
        }
    }
    let mut parts: Vec<(String, PathBuf)> = files
        .iter()
        .map(|f| ("file".to_owned(), f.clone()))
        .collect();
    for t in texts {
        parts.push((format!("text:{}", t.spec()), t.path.clone()));
    }
    let path = item::<keys::model::Asset>(name)?;
    let existing = c.get(&path);
    if existing.is_err() || description.is_some() {
        let mut body = existing.unwrap_or_else(|_| json!({}));
        if let Some(d) = description {
            body["description"] = Value::from(d);
        }
        c.put_json(&path, &body)?;
    }
    c.put_files(&format!("{path}/content"), &parts)
}

/// A key value given as 32 hex digits or base64, as the API's base64.
fn key_value_b64(v: &str) -> Result<String, Failure> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let bytes = if v.len() == 32 && v.bytes().all(|b| b.is_ascii_hexdigit()) {
        (0..16)
            .map(|i| u8::from_str_radix(v.get(2 * i..2 * i + 2).unwrap_or("zz"), 16))
            .collect::<Result<Vec<u8>, _>>()
            .ok()
    } else {
        b64.decode(v).ok()
    };
    match bytes {
        Some(b) if b.len() == 16 => Ok(b64.encode(b)),
        _ => Err(Failure::usage(
            "--value must be 32 hex digits or base64 of 16 bytes",
        )),
    }
}

fn kid_uuid(v: &str) -> Result<String, Failure> {
    uuid::Uuid::parse_str(v)
        .map(|u| u.hyphenated().to_string())
        .map_err(|_| Failure::usage("--kid must be a UUID or 32 hex digits"))
}

impl EntityCommand for KeyCmd {
    type Model = keys::model::ContentKey;
    const KIND: output::Kind = output::Kind::Key;

    fn run(&self, c: &Client, json: bool) -> Result<(), Failure> {
        match self {
            KeyCmd::Create {
                name,
                key_type,
                kid,
                value,
                label,
                policy,
            } => {
                let t = match key_type {
                    KeyType::Common => "CommonEncryption",
                    KeyType::Envelope => "EnvelopeEncryption",
                };
                let body = obj(vec![
                    ("type", Some(Value::from(t))),
                    (
                        "keyId",
                        kid.as_deref().map(kid_uuid).transpose()?.map(Value::from),
                    ),
                    (
                        "value",
                        value
                            .as_deref()
                            .map(key_value_b64)
                            .transpose()?
                            .map(Value::from),
                    ),
                    ("label", label.clone().map(Value::from)),
                    ("policyName", policy.clone().map(Value::from)),
                ]);
                create::<Self>(c, json, name, &body)?;
            }
            KeyCmd::Import {
                file,
                recipient_key,
                trusted_signer,
                policy,
                dry_run,
            } => import_cpix(
                c,
                json,
                file,
                recipient_key.as_deref(),
                trusted_signer.as_deref(),
                policy.as_deref(),
                *dry_run,
            )?,
            KeyCmd::RecipientCert { output } => {
                let Value::String(pem) = c.get("/api/v1/cpix/recipient-certificate")? else {
                    return Err(Failure::input("the server did not answer a certificate"));
                };
                match output {
                    Some(f) => std::fs::write(f, pem.as_bytes())
                        .map_err(|e| Failure::input(format!("{}: {e}", f.display())))?,
                    None => print!("{pem}"),
                }
            }
            KeyCmd::Common(verb) => verb.run::<Self>(c, json)?,
        }
        Ok(())
    }
}

const CLEAR_KEY_CONFIGURATION: &str = "#Microsoft.Media.ContentKeyPolicyClearKeyConfiguration";

impl EntityCommand for PolicyCmd {
    type Model = keys::model::ContentKeyPolicy;
    const KIND: output::Kind = output::Kind::Policy;

    fn run(&self, c: &Client, json: bool) -> Result<(), Failure> {
        match self {
            PolicyCmd::Create {
                name,
                file,
                open: _,
                issuer,
                audience,
                symmetric_key,
                required_claim,
                token_type,
                description,
            } => {
                let body = match file {
                    Some(f) => read_json_file(f)?,
                    None => {
                        let restriction = match (issuer, audience, symmetric_key) {
                            (Some(iss), Some(aud), Some(key)) => {
                                let claims: Vec<Value> = required_claim
                                    .iter()
                                    .map(|c| match c.split_once('=') {
                                        Some((t, v)) => json!({"claimType": t, "claimValue": v}),
                                        None => json!({"claimType": c}),
                                    })
                                    .collect();
                                json!({"@odata.type": "#Microsoft.Media.ContentKeyPolicyTokenRestriction",
                                "issuer": iss, "audience": aud,
                                "restrictionTokenType": match token_type { TokenType::Jwt => "Jwt", TokenType::Swt => "Swt" },
                                "primaryVerificationKey": {"@odata.type": "#Microsoft.Media.ContentKeyPolicySymmetricTokenKey", "keyValue": key},
                                "requiredClaims": claims})
                            }
                            _ => {
                                json!({"@odata.type": "#Microsoft.Media.ContentKeyPolicyOpenRestriction"})
                            }
                        };
                        obj(vec![
                            ("description", description.clone().map(Value::from)),
                            (
                                "options",
                                Some(
                                    json!([{"name": "default", "configuration": {"@odata.type": CLEAR_KEY_CONFIGURATION}, "restriction": restriction}]),
                                ),
                            ),
                        ])
                    }
                };
                create::<Self>(c, json, name, &body)?;
            }
            PolicyCmd::Common(verb) => verb.run::<Self>(c, json)?,
        }
        Ok(())
    }
}

impl EntityCommand for StreamingPolicyCmd {
    type Model = keys::model::StreamingPolicy;
    const KIND: output::Kind = output::Kind::StreamingPolicy;

    fn run(&self, c: &Client, json: bool) -> Result<(), Failure> {
        match self {
            StreamingPolicyCmd::Create {
                name,
                file,
                scheme,
                dash_only,
                hls_only,
                default_policy,
            } => {
                let body = match file {
                    Some(f) => read_json_file(f)?,
                    None => {
                        let protocols = json!({"dash": !hls_only, "hls": !dash_only});
                        let mut m = Map::new();
                        if let Some(p) = default_policy {
                            m.insert("defaultContentKeyPolicyName".into(), Value::from(p.clone()));
                        }
                        for s in scheme {
                            let (key, v) = match s {
                                Scheme::Clear => {
                                    ("noEncryption", json!({"enabledProtocols": protocols}))
                                }
                                Scheme::Envelope => {
                                    ("envelopeEncryption", json!({"enabledProtocols": protocols}))
                                }
                                Scheme::Cenc => (
                                    "commonEncryptionCenc",
                                    json!({"enabledProtocols": protocols, "clearKeyEncryptionConfiguration": {}}),
                                ),
                                Scheme::Cbcs => (
                                    "commonEncryptionCbcs",
                                    json!({"enabledProtocols": protocols, "clearKeyEncryptionConfiguration": {}}),
                                ),
                            };
                            m.insert(key.into(), v);
                        }
                        Value::Object(m)
                    }
                };
                create::<Self>(c, json, name, &body)?;
            }
            StreamingPolicyCmd::Common(verb) => verb.run::<Self>(c, json)?,
        }
        Ok(())
    }
}

impl EntityCommand for LocatorCmd {
    type Model = keys::model::StreamingLocator;
    const KIND: output::Kind = output::Kind::Locator;

    fn run(&self, c: &Client, json: bool) -> Result<(), Failure> {
        match self {
            LocatorCmd::Create {
                name,
                file,
                asset,
                streaming_policy,
                policy,
                key,
                start,
                end,
                rotate_segments,
                rotate_seconds,
            } => {
                let body = match file {
                    Some(f) => read_json_file(f)?,
                    None => {
                        let mut keys = Vec::new();
                        for k in key {
                            let stored = c.get(&item::<keys::model::ContentKey>(k)?)?;
                            keys.push(json!({"id": stored["keyId"]}));
                        }
                        obj(vec![
                            ("assetName", asset.clone().map(Value::from)),
                            (
                                "streamingPolicyName",
                                streaming_policy.clone().map(Value::from),
                            ),
                            (
                                "defaultContentKeyPolicyName",
                                policy.clone().map(Value::from),
                            ),
                            ("contentKeys", Some(Value::Array(keys))),
                            ("startTime", start.clone().map(Value::from)),
                            ("endTime", end.clone().map(Value::from)),
                            (
                                "keyRotation",
                                match (rotate_segments, rotate_seconds) {
                                    (Some(n), _) => Some(json!({"periodSegments": n})),
                                    (None, Some(n)) => Some(json!({"periodSeconds": n})),
                                    (None, None) => None,
                                },
                            ),
                        ])
                    }
                };
                create::<Self>(c, json, name, &body)?;
            }
            LocatorCmd::Paths { name } => {
                let r = c.post(&format!("{}/list-paths", item::<Self::Model>(name)?))?;
                output::paths(json, c.base(), &r);
            }
            LocatorCmd::Keys { name, values } => {
                let q = if *values { "?includeValues=true" } else { "" };
                let r = c.post(&format!(
                    "{}/list-content-keys{q}",
                    item::<Self::Model>(name)?
                ))?;
                output::locator_keys(json, &r);
            }
            LocatorCmd::Cpix {
                name,
                recipient_cert,
                output,
            } => {
                let path = format!("{}/cpix", item::<Self::Model>(name)?);
                let r = match recipient_cert {
                    None => c.get(&path)?,
                    Some(cert) => {
                        let pem = read_file(cert)?;
                        c.post_bytes(&path, "application/x-pem-file", &pem)?
                    }
                };
                let Value::String(xml) = r else {
                    return Err(Failure::input("the server did not answer a CPIX document"));
                };
                match output {
                    Some(f) => std::fs::write(f, xml.as_bytes())
                        .map_err(|e| Failure::input(format!("{}: {e}", f.display())))?,
                    None => print!("{xml}"),
                }
            }
            LocatorCmd::Common(verb) => verb.run::<Self>(c, json)?,
        }
        Ok(())
    }
}

fn read_file(f: &std::path::Path) -> Result<Vec<u8>, Failure> {
    std::fs::read(f).map_err(|e| Failure::input(format!("{}: {e}", f.display())))
}

/// `key import`: the document as is (the server verifies its signatures
/// and decrypts keys encrypted for castguard), or, with a recipient key,
/// verified and decrypted here (MACs checked) and sent with its values in
/// the clear.
fn import_cpix(
    c: &Client,
    json: bool,
    file: &std::path::Path,
    recipient_key: Option<&std::path::Path>,
    trusted_signer: Option<&std::path::Path>,
    policy: Option<&str>,
    dry_run: bool,
) -> Result<(), Failure> {
    use keys::cpix::{Document, RecipientKey, TrustedSigner};
    let bytes = read_file(file)?;
    let trusted = trusted_signer
        .map(|t| {
            TrustedSigner::from_certificate(&read_file(t)?)
                .map_err(|e| Failure::input(format!("{}: {e}", t.display())))
        })
        .transpose()?;
    let mut local_signatures = Vec::new();
    let body = match recipient_key {
        None => zeroize::Zeroizing::new(bytes),
        Some(k) => {
            let pem = zeroize::Zeroizing::new(read_file(k)?);
            let key = RecipientKey::from_pkcs8(&pem)
                .map_err(|e| Failure::input(format!("{}: {e}", k.display())))?;
            let (doc, sigs) = Document::parse_verified(&bytes, Some(&key), trusted.as_ref())
                .map_err(|e| Failure::input(format!("{}: {e}", file.display())))?;
            local_signatures = sigs;
            let xml = doc
                .to_xml(None)
                .map_err(|e| Failure::input(e.to_string()))?;
            zeroize::Zeroizing::new(xml.into_bytes())
        }
    };
    let mut q = Vec::new();
    if let Some(p) = policy {
        keys::model::validate_name("--policy", p).map_err(|e| Failure::usage(e.to_string()))?;
        q.push(format!("policyName={p}"));
    }
    if dry_run {
        q.push("dryRun=true".to_string());
    }
    // Checked here when the document was decrypted here (what is sent is
    // then unsigned); by the server otherwise.
    if let Some(t) = &trusted
        && recipient_key.is_none()
    {
        q.push(format!("trustedSigner={}", t.sha256_hex()));
    }
    let query = if q.is_empty() {
        String::new()
    } else {
        format!("?{}", q.join("&"))
    };
    let r = c.post_bytes(
        &format!("/api/v1/import/cpix{query}"),
        "application/xml",
        &body,
    )?;
    if json {
        println!("{}", serde_json::to_string_pretty(&r).unwrap_or_default());
        return Ok(());
    }
    let signatures = if recipient_key.is_some() {
        serde_json::to_value(&local_signatures).unwrap_or_default()
    } else {
        r["signatures"].clone()
    };
    for sig in signatures.as_array().cloned().unwrap_or_default() {
        let covers: Vec<&str> = sig["covers"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let signer = &sig["signer"];
        println!(
            "signed  {} by {} (certificate SHA-256 {}){}",
            covers.join(", "),
            signer["subject"].as_str().unwrap_or(""),
            signer["sha256"].as_str().unwrap_or(""),
            if signer["trusted"] == true {
                ", trusted"
            } else {
                ", not checked against a trusted signer"
            }
        );
    }
    let keys = r["keys"].as_array().cloned().unwrap_or_default();
    if keys.is_empty() {
        println!("no content keys in the document");
    }
    for k in keys {
        let mut line = format!(
            "{:<7} {}  {}",
            k["action"].as_str().unwrap_or(""),
            k["keyId"].as_str().unwrap_or(""),
            k["name"].as_str().unwrap_or("")
        );
        if let Some(l) = k["label"].as_str() {
            line.push_str(&format!("  label={l}"));
        }
        if let Some(n) = k["notKept"].as_array().filter(|n| !n.is_empty()) {
            let n: Vec<&str> = n.iter().filter_map(Value::as_str).collect();
            line.push_str(&format!("  not kept: {}", n.join("; ")));
        }
        println!("{line}");
    }
    if dry_run {
        println!("(dry run: nothing stored)");
    }
    Ok(())
}
