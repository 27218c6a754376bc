//! `ferrite admin`: manages users, keys and looks at buckets through a running server,
//! over HTTP like any client: the IAM API (`iam` scope) for users and keys, the admin
//! endpoint (`admin` scope, `GET /admin/v1/buckets`) for buckets, the KMS API (`kms`
//! scope, JSON 1.1) for the built-in KMS's keys. Requests are signed
//! with root's credentials (FERRITE_ROOT_* or the data dir's credentials.json) by the
//! `aws-sigv4` crate and sent with hyper-util's client. Human-readable output by
//! default, JSON with `--json`.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use anyhow::{Context, bail};
use bytes::Bytes;
use clap::{Args, Subcommand};
use http_body_util::{BodyExt, Full};
use serde_json::{Value, json};

use crate::credentials;

#[derive(Args, Debug)]
pub struct AdminArgs {
    /// The server's endpoint.
    #[arg(long, env = "FERRITE_ENDPOINT", default_value = "http://127.0.0.1:9000")]
    pub endpoint: String,
    /// Where root's credentials.json is, when FERRITE_ROOT_ACCESS_KEY/SECRET_KEY are unset.
    #[arg(long, env = "FERRITE_DATA_DIR", default_value = "./ferrite-data")]
    pub data_dir: PathBuf,
    /// The region requests are signed for.
    #[arg(long, env = "FERRITE_REGION", default_value = "us-east-1")]
    pub region: String,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: AdminCommand,
}

#[derive(Subcommand, Debug)]
pub enum AdminCommand {
    /// Users: add, ls, rm.
    #[command(subcommand)]
    User(UserCommand),
    /// Access keys of a user: add, ls, disable, enable, rm.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Buckets: ls (every bucket, its owner and usage).
    #[command(subcommand)]
    Bucket(BucketCommand),
    /// Managed policies: ls, attach, detach, create.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Server-side encryption keys: `kms key add|ls|disable|enable` (the built-in
    /// KMS), `kms rotate` and `kms master-key` (the master key).
    #[command(subcommand)]
    Kms(KmsCommand),
    /// The server: version, on-disk format, uptime, data dir, and each tier with its
    /// directory, storage classes and free space.
    Info,
}

#[derive(Subcommand, Debug)]
pub enum KmsCommand {
    /// KMS keys: add, ls, disable, enable.
    #[command(subcommand)]
    Key(KmsKeyCommand),
    /// Rotates the master key, online: a new version seals from now on, everything
    /// sealed by older versions (data keys, secret access keys) is sealed again, and
    /// the older versions leave the key file once nothing uses them. Object data is
    /// not rewritten.
    Rotate,
    /// Shows the master key's versions (more than one while a rotation finishes).
    MasterKey,
}

#[derive(Subcommand, Debug)]
pub enum KmsKeyCommand {
    /// Creates a KMS key (and an alias for it, with --alias alias/NAME).
    Add {
        #[arg(long, default_value = "")]
        description: String,
        #[arg(long)]
        alias: Option<String>,
    },
    /// Lists every KMS key with its state and aliases.
    Ls,
    /// Disables a key (by id, ARN or alias): objects under it cannot be read until it
    /// is enabled again.
    Disable { key: String },
    /// Enables a key again.
    Enable { key: String },
}

#[derive(Subcommand, Debug)]
pub enum PolicyCommand {
    /// Lists the managed policies: the built-in ones (readonly, readwrite, writeonly,
    /// admin) and those created with `create`.
    Ls,
    /// Attaches the managed policy NAME (a built-in name, a created policy's name, or
    /// an ARN) to USER.
    Attach { user: String, name: String },
    /// Detaches the managed policy NAME from USER.
    Detach { user: String, name: String },
    /// Lists the managed policies attached to USER.
    Attached { user: String },
    /// Creates a managed policy NAME from the JSON document in FILE.
    Create { name: String, file: PathBuf },
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Creates a user.
    Add { name: String },
    /// Lists all users.
    Ls,
    /// Deletes a user (it must have no keys and own no bucket).
    Rm { name: String },
    /// Sets USER's console password (stored as an argon2id hash), read from the first
    /// line of --password-file (default: standard input); --remove removes it. The
    /// user logs in to the console with its name and this password, and the session
    /// acts with its oldest active access key.
    Passwd {
        name: String,
        /// A file holding the password on its first line; `-` for standard input.
        #[arg(long, default_value = "-", conflicts_with = "remove")]
        password_file: PathBuf,
        /// Removes the user's console password instead.
        #[arg(long)]
        remove: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum KeyCommand {
    /// Creates an access key for USER; prints its secret, once.
    Add { user: String },
    /// Lists USER's access keys.
    Ls { user: String },
    /// Makes a key inactive: requests signed with it are refused.
    Disable { user: String, key_id: String },
    /// Makes a key active again.
    Enable { user: String, key_id: String },
    /// Deletes a key.
    Rm { user: String, key_id: String },
}

#[derive(Subcommand, Debug)]
pub enum BucketCommand {
    /// Lists every bucket with its owner, object count and bytes.
    Ls,
}

pub async fn run(args: AdminArgs) -> anyhow::Result<()> {
    let creds = credentials::load(&args.data_dir)?;
    let client = Client::new(&args.endpoint, &args.region, creds)?;
    let json = args.json;
    match args.command {
        AdminCommand::User(UserCommand::Add { name }) => {
            let x = client.iam(&[("Action", "CreateUser"), ("UserName", &name)]).await?;
            let u = user_json(&x);
            if json {
                println!("{u}");
            } else {
                println!(
                    "created user {} (user id {})",
                    u["name"].as_str().unwrap_or(""),
                    u["user_id"].as_str().unwrap_or("")
                );
            }
        }
        AdminCommand::User(UserCommand::Ls) => {
            let mut users = Vec::new();
            let mut marker: Option<String> = None;
            loop {
                let mut params = vec![("Action", "ListUsers")];
                if let Some(m) = &marker {
                    params.push(("Marker", m.as_str()));
                }
                let x = client.iam(&params).await?;
                users.extend(members(&x).iter().map(|m| user_json(m)));
                match (tag(&x, "IsTruncated").as_deref(), tag(&x, "Marker")) {
                    (Some("true"), Some(m)) => marker = Some(m),
                    _ => break,
                }
            }
            if json {
                println!("{}", Value::Array(users));
            } else {
                println!("{:<32} {:<24} CREATED", "NAME", "USER ID");
                for u in &users {
                    println!(
                        "{:<32} {:<24} {}",
                        u["name"].as_str().unwrap_or(""),
                        u["user_id"].as_str().unwrap_or(""),
                        u["created"].as_str().unwrap_or("")
                    );
                }
            }
        }
        AdminCommand::User(UserCommand::Rm { name }) => {
            client.iam(&[("Action", "DeleteUser"), ("UserName", &name)]).await?;
            done(json, json!({"deleted_user": name}), &format!("deleted user {name}"));
        }
        AdminCommand::User(UserCommand::Passwd {
            name,
            password_file,
            remove,
        }) => {
            // IAM names ([A-Za-z0-9+=,.@_-]) are valid path segments as they are.
            let path = format!("/admin/v1/users/{name}/password");
            if remove {
                client.admin_json("DELETE", &path, None).await?;
                println!("removed the console password of {name}");
            } else {
                let text = if password_file.as_os_str() == "-" {
                    let mut line = String::new();
                    std::io::stdin()
                        .read_line(&mut line)
                        .context("reading the password from standard input")?;
                    line
                } else {
                    std::fs::read_to_string(&password_file)
                        .with_context(|| format!("reading {}", password_file.display()))?
                };
                let password = text.lines().next().unwrap_or("").to_string();
                client
                    .admin_json("PUT", &path, Some(json!({ "password": password })))
                    .await?;
                println!("set the console password of {name}");
            }
        }
        AdminCommand::Key(KeyCommand::Add { user }) => {
            let x = client
                .iam(&[("Action", "CreateAccessKey"), ("UserName", &user)])
                .await?;
            let k = key_json(&x);
            if json {
                println!("{k}");
            } else {
                println!("created access key for {user}");
                println!("access key: {}", k["access_key_id"].as_str().unwrap_or(""));
                println!("secret key: {}", k["secret_access_key"].as_str().unwrap_or(""));
                println!("(the secret key is shown only now: store it safely)");
            }
        }
        AdminCommand::Key(KeyCommand::Ls { user }) => {
            let x = client.iam(&[("Action", "ListAccessKeys"), ("UserName", &user)]).await?;
            let keys: Vec<Value> = members(&x).iter().map(|m| key_json(m)).collect();
            if json {
                println!("{}", Value::Array(keys));
            } else {
                println!("{:<22} {:<9} CREATED", "ACCESS KEY", "STATUS");
                for k in &keys {
                    println!(
                        "{:<22} {:<9} {}",
                        k["access_key_id"].as_str().unwrap_or(""),
                        k["status"].as_str().unwrap_or(""),
                        k["created"].as_str().unwrap_or("")
                    );
                }
            }
        }
        AdminCommand::Key(KeyCommand::Disable { user, key_id }) => {
            set_status(&client, &user, &key_id, "Inactive").await?;
            done(
                json,
                json!({"access_key_id": key_id, "status": "Inactive"}),
                &format!("disabled {key_id}"),
            );
        }
        AdminCommand::Key(KeyCommand::Enable { user, key_id }) => {
            set_status(&client, &user, &key_id, "Active").await?;
            done(
                json,
                json!({"access_key_id": key_id, "status": "Active"}),
                &format!("enabled {key_id}"),
            );
        }
        AdminCommand::Key(KeyCommand::Rm { user, key_id }) => {
            client
                .iam(&[
                    ("Action", "DeleteAccessKey"),
                    ("UserName", &user),
                    ("AccessKeyId", &key_id),
                ])
                .await?;
            done(
                json,
                json!({"deleted_access_key": key_id}),
                &format!("deleted {key_id}"),
            );
        }
        AdminCommand::Policy(cmd) => policy(&client, json, cmd).await?,
        AdminCommand::Kms(KmsCommand::Key(cmd)) => kms_key(&client, json, cmd).await?,
        AdminCommand::Kms(KmsCommand::Rotate) => {
            let v = client.admin_send("POST", "/admin/v1/kms/rotate").await?;
            if json {
                println!("{v}");
            } else {
                let r = &v["resealed"];
                println!("master key rotated to version {}", v["version"]);
                println!(
                    "sealed again: {} object version data keys, {} upload data keys, {} secret access keys, \
                     {} KMS keys, {} key check",
                    r["versions"], r["uploads"], r["access_keys"], r["kms_keys"], r["key_check"]
                );
                println!(
                    "older versions {} leave the key file once writes in flight under them are done",
                    v["retiring"]
                );
            }
        }
        AdminCommand::Kms(KmsCommand::MasterKey) => {
            let v = client.admin_send("GET", "/admin/v1/kms/master-key").await?;
            if json {
                println!("{v}");
            } else {
                println!("current version {}; versions held {}", v["current"], v["versions"]);
            }
        }
        AdminCommand::Info => {
            let v = client.admin_get("/admin/v1/info").await?;
            if json {
                println!("{v}");
            } else {
                println!("version      {}", v["version"].as_str().unwrap_or(""));
                println!("format       {}", v["format"]);
                println!("uptime       {} s", v["uptime_secs"]);
                println!("data dir     {}", v["data_dir"].as_str().unwrap_or(""));
                println!();
                println!("{:<12} {:>14} {:>14}  {:<40} CLASSES", "TIER", "FREE", "TOTAL", "DIR");
                for t in v["tiers"].as_array().cloned().unwrap_or_default() {
                    let bytes = |k: &str| t[k].as_u64().map_or("-".to_string(), |b| b.to_string());
                    let classes: Vec<&str> = t["classes"]
                        .as_array()
                        .map_or(Vec::new(), |c| c.iter().filter_map(|c| c.as_str()).collect());
                    println!(
                        "{:<12} {:>14} {:>14}  {:<40} {}{}",
                        t["name"].as_str().unwrap_or(""),
                        bytes("free_bytes"),
                        bytes("total_bytes"),
                        t["dir"].as_str().unwrap_or(""),
                        classes.join(","),
                        if t["compress"].as_bool() == Some(true) {
                            " (compressed)"
                        } else {
                            ""
                        }
                    );
                }
            }
        }
        AdminCommand::Bucket(BucketCommand::Ls) => {
            let v = client.admin_get("/admin/v1/buckets").await?;
            let buckets = v["buckets"].as_array().cloned().unwrap_or_default();
            if json {
                println!("{}", Value::Array(buckets));
            } else {
                println!("{:<40} {:<24} {:>10} {:>16}", "NAME", "OWNER", "OBJECTS", "BYTES");
                for b in &buckets {
                    println!(
                        "{:<40} {:<24} {:>10} {:>16}",
                        b["name"].as_str().unwrap_or(""),
                        b["owner"].as_str().unwrap_or(""),
                        b["objects"].as_u64().unwrap_or(0),
                        b["bytes"].as_u64().unwrap_or(0)
                    );
                }
            }
        }
    }
    Ok(())
}

async fn policy(client: &Client, json: bool, cmd: PolicyCommand) -> anyhow::Result<()> {
    match cmd {
        PolicyCommand::Ls => {
            let x = client.iam(&[("Action", "ListPolicies")]).await?;
            let policies: Vec<Value> = members(&x)
                .iter()
                .map(|m| {
                    json!({
                        "name": tag(m, "PolicyName"),
                        "arn": tag(m, "Arn"),
                        "attachments": tag(m, "AttachmentCount").and_then(|n| n.parse::<u64>().ok()),
                        "description": tag(m, "Description"),
                    })
                })
                .collect();
            if json {
                println!("{}", Value::Array(policies));
            } else {
                println!("{:<24} {:<48} {:>8}", "NAME", "ARN", "ATTACHED");
                for p in &policies {
                    println!(
                        "{:<24} {:<48} {:>8}",
                        p["name"].as_str().unwrap_or(""),
                        p["arn"].as_str().unwrap_or(""),
                        p["attachments"].as_u64().unwrap_or(0)
                    );
                }
            }
        }
        PolicyCommand::Attach { user, name } => {
            let arn = ferrite_model::resolve_policy_name(&name);
            client
                .iam(&[("Action", "AttachUserPolicy"), ("UserName", &user), ("PolicyArn", &arn)])
                .await?;
            done(
                json,
                json!({"user": user, "attached": arn}),
                &format!("attached {arn} to {user}"),
            );
        }
        PolicyCommand::Detach { user, name } => {
            let arn = ferrite_model::resolve_policy_name(&name);
            client
                .iam(&[("Action", "DetachUserPolicy"), ("UserName", &user), ("PolicyArn", &arn)])
                .await?;
            done(
                json,
                json!({"user": user, "detached": arn}),
                &format!("detached {arn} from {user}"),
            );
        }
        PolicyCommand::Attached { user } => {
            let x = client
                .iam(&[("Action", "ListAttachedUserPolicies"), ("UserName", &user)])
                .await?;
            let attached: Vec<Value> = members(&x)
                .iter()
                .map(|m| json!({"name": tag(m, "PolicyName"), "arn": tag(m, "PolicyArn")}))
                .collect();
            if json {
                println!("{}", Value::Array(attached));
            } else {
                for a in &attached {
                    println!(
                        "{:<24} {}",
                        a["name"].as_str().unwrap_or(""),
                        a["arn"].as_str().unwrap_or("")
                    );
                }
            }
        }
        PolicyCommand::Create { name, file } => {
            let doc = std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
            let x = client
                .iam(&[
                    ("Action", "CreatePolicy"),
                    ("PolicyName", &name),
                    ("PolicyDocument", &doc),
                ])
                .await?;
            let arn = tag(&x, "Arn").unwrap_or_default();
            done(
                json,
                json!({"name": name, "arn": arn}),
                &format!("created policy {arn}"),
            );
        }
    }
    Ok(())
}

async fn kms_key(client: &Client, json: bool, cmd: KmsKeyCommand) -> anyhow::Result<()> {
    match cmd {
        KmsKeyCommand::Add { description, alias } => {
            let v = client.kms("CreateKey", json!({"Description": description})).await?;
            let meta = &v["KeyMetadata"];
            let id = meta["KeyId"].as_str().unwrap_or_default().to_string();
            if let Some(a) = &alias {
                client
                    .kms("CreateAlias", json!({"AliasName": a, "TargetKeyId": id}))
                    .await
                    .with_context(|| format!("key {id} was created, but not its alias {a}"))?;
            }
            let row = json!({
                "key_id": id,
                "arn": meta["Arn"],
                "state": meta["KeyState"],
                "description": meta["Description"],
                "aliases": alias.iter().collect::<Vec<_>>(),
            });
            let text = match &alias {
                Some(a) => format!("created KMS key {id} ({a})"),
                None => format!("created KMS key {id}"),
            };
            done(json, row, &text);
        }
        KmsKeyCommand::Ls => {
            let mut rows = Vec::new();
            let aliases = client.kms_all("ListAliases", "Aliases").await?;
            for k in client.kms_all("ListKeys", "Keys").await? {
                let id = k["KeyId"].as_str().unwrap_or_default();
                let d = client.kms("DescribeKey", json!({"KeyId": id})).await?;
                let meta = &d["KeyMetadata"];
                let names: Vec<&str> = aliases
                    .iter()
                    .filter(|a| a["TargetKeyId"].as_str() == Some(id))
                    .filter_map(|a| a["AliasName"].as_str())
                    .collect();
                rows.push(json!({
                    "key_id": id,
                    "arn": meta["Arn"],
                    "state": meta["KeyState"],
                    "manager": meta["KeyManager"],
                    "description": meta["Description"],
                    "aliases": names,
                }));
            }
            if json {
                println!("{}", Value::Array(rows));
            } else {
                println!(
                    "{:<36} {:<16} {:<8} {:<24} DESCRIPTION",
                    "KEY ID", "STATE", "MANAGER", "ALIASES"
                );
                for r in &rows {
                    let names: Vec<&str> = r["aliases"]
                        .as_array()
                        .map(|a| a.iter().filter_map(Value::as_str).collect())
                        .unwrap_or_default();
                    println!(
                        "{:<36} {:<16} {:<8} {:<24} {}",
                        r["key_id"].as_str().unwrap_or(""),
                        r["state"].as_str().unwrap_or(""),
                        r["manager"].as_str().unwrap_or(""),
                        names.join(","),
                        r["description"].as_str().unwrap_or("")
                    );
                }
            }
        }
        KmsKeyCommand::Disable { key } => {
            client.kms("DisableKey", json!({"KeyId": key})).await?;
            done(
                json,
                json!({"key": key, "state": "Disabled"}),
                &format!("disabled {key}"),
            );
        }
        KmsKeyCommand::Enable { key } => {
            client.kms("EnableKey", json!({"KeyId": key})).await?;
            done(json, json!({"key": key, "state": "Enabled"}), &format!("enabled {key}"));
        }
    }
    Ok(())
}

fn done(json: bool, value: Value, text: &str) {
    if json {
        println!("{value}");
    } else {
        println!("{text}");
    }
}

async fn set_status(client: &Client, user: &str, key_id: &str, status: &str) -> anyhow::Result<()> {
    client
        .iam(&[
            ("Action", "UpdateAccessKey"),
            ("UserName", user),
            ("AccessKeyId", key_id),
            ("Status", status),
        ])
        .await?;
    Ok(())
}

fn user_json(x: &str) -> Value {
    json!({
        "name": tag(x, "UserName"),
        "user_id": tag(x, "UserId"),
        "arn": tag(x, "Arn"),
        "created": tag(x, "CreateDate"),
    })
}

fn key_json(x: &str) -> Value {
    let mut v = json!({
        "user": tag(x, "UserName"),
        "access_key_id": tag(x, "AccessKeyId"),
        "status": tag(x, "Status"),
        "created": tag(x, "CreateDate"),
    });
    if let Some(secret) = tag(x, "SecretAccessKey") {
        v["secret_access_key"] = Value::String(secret);
    }
    v
}

/// The text of the first `<name>` element in `xml`, unescaped. IAM's answers are flat
/// and known, so this is all the XML reading needed.
fn tag(xml: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&format!("</{name}>"))?;
    Some(unescape(&xml[start..end]))
}

/// The contents of every `<member>` element.
fn members(xml: &str) -> Vec<String> {
    xml.split("<member>")
        .skip(1)
        .filter_map(|m| m.split_once("</member>").map(|(inner, _)| inner.to_string()))
        .collect()
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

type HttpClient = hyper_util::client::legacy::Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

struct Client {
    http: HttpClient,
    endpoint: http::Uri,
    region: String,
    creds: credentials::Credentials,
}

impl Client {
    fn new(endpoint: &str, region: &str, creds: credentials::Credentials) -> anyhow::Result<Self> {
        let endpoint: http::Uri = endpoint.parse().with_context(|| format!("bad endpoint {endpoint}"))?;
        if endpoint.scheme_str() != Some("http") || endpoint.authority().is_none() {
            bail!("the endpoint must be http://HOST:PORT (got {endpoint})");
        }
        let http = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build(hyper_util::client::legacy::connect::HttpConnector::new());
        Ok(Self {
            http,
            endpoint,
            region: region.to_string(),
            creds,
        })
    }

    /// Sends a signed request; returns status and body.
    async fn send(
        &self,
        method: &str,
        path: &str,
        service: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> anyhow::Result<(u16, String)> {
        use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
        let authority = self.endpoint.authority().map(|a| a.as_str()).unwrap_or_default();
        let uri = format!("http://{authority}{path}");
        let mut req = http::Request::builder()
            .method(method)
            .uri(&uri)
            .header(http::header::HOST, authority);
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let mut req = req.body(Full::new(Bytes::from(body.clone())))?;
        let identity = aws_credential_types::Credentials::new(
            &self.creds.access_key,
            &self.creds.secret_key,
            None,
            None,
            "ferrite-admin",
        )
        .into();
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(service)
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()?
            .into();
        let headers: Vec<(&str, &str)> = req
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)))
            .collect();
        let signable = SignableRequest::new(method, uri.clone(), headers.into_iter(), SignableBody::Bytes(&body))?;
        let (instructions, _) = sign(signable, &params)?.into_parts();
        instructions.apply_to_request_http1x(&mut req);
        let resp = tokio::time::timeout(Duration::from_secs(30), self.http.request(req))
            .await
            .context("the server did not answer in 30 s")?
            .with_context(|| format!("cannot reach {}", self.endpoint))?;
        let status = resp.status().as_u16();
        let bytes = http_body_util::Limited::new(resp.into_body(), 64 << 20)
            .collect()
            .await
            .map_err(|e| anyhow::anyhow!("reading the answer: {e}"))?
            .to_bytes();
        Ok((status, String::from_utf8_lossy(&bytes).into_owned()))
    }

    /// One IAM action; the answer's XML, or its error as the error.
    async fn iam(&self, params: &[(&str, &str)]) -> anyhow::Result<String> {
        let mut form = form_urlencoded::Serializer::new(String::new());
        for (k, v) in params {
            form.append_pair(k, v);
        }
        form.append_pair("Version", "2010-05-08");
        let form_type = [("content-type", "application/x-www-form-urlencoded; charset=utf-8")];
        let (status, body) = self
            .send("POST", "/", "iam", &form_type, form.finish().into_bytes())
            .await?;
        if !(200..300).contains(&status) {
            match (tag(&body, "Code"), tag(&body, "Message")) {
                (Some(code), Some(msg)) => bail!("{code}: {msg}"),
                _ => bail!("HTTP {status}: {body}"),
            }
        }
        Ok(body)
    }

    /// One KMS operation (JSON 1.1); the answer, or its error as the error.
    async fn kms(&self, op: &str, input: Value) -> anyhow::Result<Value> {
        let target = format!("TrentService.{op}");
        let headers = [
            ("content-type", "application/x-amz-json-1.1"),
            ("x-amz-target", target.as_str()),
        ];
        let (status, body) = self
            .send("POST", "/", "kms", &headers, input.to_string().into_bytes())
            .await?;
        let v: Value = serde_json::from_str(&body).with_context(|| format!("HTTP {status}: {body}"))?;
        if !(200..300).contains(&status) {
            bail!(
                "{}: {}",
                v["__type"].as_str().unwrap_or("error"),
                v["message"].as_str().unwrap_or("")
            );
        }
        Ok(v)
    }

    /// Every page of a KMS list: the items of `field`.
    async fn kms_all(&self, op: &str, field: &str) -> anyhow::Result<Vec<Value>> {
        let mut out = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let input = match &marker {
                Some(m) => json!({"Limit": 1000, "Marker": m}),
                None => json!({"Limit": 1000}),
            };
            let v = self.kms(op, input).await?;
            out.extend(v[field].as_array().cloned().unwrap_or_default());
            match (v["Truncated"].as_bool(), v["NextMarker"].as_str()) {
                (Some(true), Some(m)) => marker = Some(m.to_string()),
                _ => return Ok(out),
            }
        }
    }

    async fn admin_get(&self, path: &str) -> anyhow::Result<Value> {
        self.admin_send("GET", path).await
    }

    /// An admin call with an optional JSON body; its JSON answer (`Null` for none).
    async fn admin_json(&self, method: &str, path: &str, body: Option<Value>) -> anyhow::Result<Value> {
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let ct = [("content-type", "application/json")];
        let (status, text) = self.send(method, path, "admin", &ct, bytes).await?;
        let v: Value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).with_context(|| format!("HTTP {status}: {text}"))?
        };
        if !(200..300).contains(&status) {
            bail!(
                "{}: {}",
                v["error"].as_str().unwrap_or("error"),
                v["message"].as_str().unwrap_or("")
            );
        }
        Ok(v)
    }

    async fn admin_send(&self, method: &str, path: &str) -> anyhow::Result<Value> {
        self.admin_json(method, path, None).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_iam_answers() {
        let x = "<ListUsersResponse><ListUsersResult><Users><member><UserName>a&amp;b</UserName></member>\
                 <member><UserName>c</UserName></member></Users><IsTruncated>true</IsTruncated>\
                 <Marker>c</Marker></ListUsersResult></ListUsersResponse>";
        let m = members(x);
        assert_eq!(m.len(), 2);
        assert_eq!(tag(&m[0], "UserName").as_deref(), Some("a&b"));
        assert_eq!(tag(x, "IsTruncated").as_deref(), Some("true"));
        assert_eq!(tag(x, "Marker").as_deref(), Some("c"));
        assert_eq!(tag(x, "Nothing"), None);
    }
}
