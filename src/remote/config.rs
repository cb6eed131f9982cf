//! Where the remote, the signing key and the trusted keys come from.
//!
//! `.repro/config.yaml` beside the pipeline file, every key optional:
//! ```yaml
//! remote: s3://team-bucket/repro      # or a path / file:// URL of a shared directory
//! signing_key: ~/.config/repro/signing.key
//! trusted_keys:                       # when set, pulled records must carry one's signature
//!   - ed25519:3b6a27bc…               # inline,
//!   - keys/ci.pub                     # or a file (relative to the project folder)
//! ```
//! Not `pipeline.yaml`: the pipeline says what a study computes and is the same everywhere;
//! where a team shares its cache and whom it trusts differ between machines and people.
//! Environment variables override the file (`REPRO_REMOTE`, `REPRO_SIGNING_KEY`,
//! `REPRO_TRUSTED_KEYS` = a file of public keys, one per line), and `--remote` overrides both.

use super::sign::{PublicKey, Signer25519};
use super::RemoteError;
use serde::Deserialize;
use std::path::{Path, PathBuf};

pub const CONFIG_PATH: &str = ".repro/config.yaml";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteConfig {
    pub remote: Option<String>,
    pub signing_key: Option<PathBuf>,
    #[serde(default)]
    pub trusted_keys: Vec<String>,
    /// The executor's settings (`engine::slurm::config`) share the file; read there.
    #[serde(default, rename = "executor")]
    _executor: Option<serde_yaml::Value>,
    /// Folder relative paths are relative to.
    #[serde(skip)]
    base: PathBuf,
}

fn expand_home(p: &Path, base: &Path) -> PathBuf {
    if let (Ok(rest), Ok(home)) = (p.strip_prefix("~"), std::env::var("HOME")) {
        return Path::new(&home).join(rest);
    }
    base.join(p)
}

impl RemoteConfig {
    /// Read `<project>/.repro/config.yaml` (absent: all defaults), then apply the environment.
    pub fn load(project: &Path) -> Result<RemoteConfig, RemoteError> {
        let path = project.join(CONFIG_PATH);
        let mut cfg = match std::fs::read_to_string(&path) {
            Ok(text) if text.trim().is_empty() => RemoteConfig::default(),
            Ok(text) => serde_yaml::from_str(&text).map_err(|e| RemoteError::Config {
                what: path.display().to_string(),
                message: format!("{e} (allowed keys: remote, signing_key, trusted_keys, executor)"),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => RemoteConfig::default(),
            Err(e) => {
                return Err(RemoteError::Config {
                    what: path.display().to_string(),
                    message: e.to_string(),
                })
            }
        };
        cfg.base = project.to_path_buf();
        if let Ok(v) = std::env::var("REPRO_REMOTE") {
            cfg.remote = Some(v).filter(|v| !v.is_empty());
        }
        if let Ok(v) = std::env::var("REPRO_SIGNING_KEY") {
            cfg.signing_key = Some(PathBuf::from(v)).filter(|p| !p.as_os_str().is_empty());
        }
        if let Ok(v) = std::env::var("REPRO_TRUSTED_KEYS") {
            if !v.is_empty() {
                cfg.trusted_keys = vec![v];
            }
        }
        Ok(cfg)
    }

    pub fn signer(&self) -> Result<Option<Signer25519>, RemoteError> {
        self.signing_key
            .as_ref()
            .map(|p| Signer25519::load(&expand_home(p, &self.base)))
            .transpose()
    }

    /// The trusted keys, `None` when none are configured (then unsigned records are accepted).
    /// An entry is an inline key or a file holding keys, one per line (`#` starts a comment).
    pub fn trusted(&self) -> Result<Option<Vec<PublicKey>>, RemoteError> {
        if self.trusted_keys.is_empty() {
            return Ok(None);
        }
        let mut keys = Vec::new();
        for entry in &self.trusted_keys {
            if entry.trim().starts_with("ed25519:") {
                keys.push(PublicKey::parse(entry, CONFIG_PATH)?);
                continue;
            }
            let path = expand_home(Path::new(entry), &self.base);
            let text = std::fs::read_to_string(&path).map_err(|e| RemoteError::Key {
                path: path.display().to_string(),
                message: format!("cannot read the trusted keys file ({e}); fix `trusted_keys` in {CONFIG_PATH} or REPRO_TRUSTED_KEYS"),
            })?;
            for line in text.lines().map(str::trim) {
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                keys.push(PublicKey::parse(line, &path.display().to_string())?);
            }
        }
        if keys.is_empty() {
            return Err(RemoteError::Key {
                path: self.trusted_keys.join(", "),
                message: "trusted keys are configured but none was found; a file that trusts nobody would refuse every record".into(),
            });
        }
        Ok(Some(keys))
    }
}
