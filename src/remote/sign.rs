//! Signed action records: a DSSE envelope (https://github.com/secure-systems-lab/dsse) around
//! the record's JSON, signed with ed25519.
//!
//! ```text
//! {"payloadType": "application/vnd.repro.action+json",
//!  "payload": base64(record JSON),
//!  "signatures": [{"keyid": "<sha256 of the public key, hex>", "sig": base64(ed25519(PAE))}]}
//! PAE = "DSSEv1" SP len(type) SP type SP len(payload) SP payload   (lengths in ASCII decimal)
//! ```
//! Every record on a remote is an envelope; an unsigned one has no signatures. Key files are
//! one line of text: a secret key `ed25519-secret:<base64 32-byte seed>`, a public key
//! `ed25519:<base64 32 bytes>` — short enough to paste into a config file.

use super::RemoteError;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ed25519_dalek::{Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use std::path::Path;

pub const PAYLOAD_TYPE: &str = "application/vnd.repro.action+json";
const SECRET_PREFIX: &str = "ed25519-secret:";
const PUBLIC_PREFIX: &str = "ed25519:";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Envelope {
    #[serde(rename = "payloadType")]
    pub payload_type: String,
    pub payload: String,
    pub signatures: Vec<Signature>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Signature {
    pub keyid: String,
    pub sig: String,
}

/// DSSE's pre-authentication encoding: what is signed, so type and payload cannot be confused.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

fn key_id(k: &VerifyingKey) -> String {
    crate::store::Digest::of(k.as_bytes()).hex()
}

/// A public key and its id.
#[derive(Debug, Clone)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// Parse `ed25519:<base64>`; `origin` names where it came from, for the error.
    pub fn parse(text: &str, origin: &str) -> Result<PublicKey, RemoteError> {
        let bad = |message: &str| {
            RemoteError::Key {
            path: origin.to_string(),
            message: format!("{message}; a public key is one line `ed25519:<base64>` as `repro key generate` writes it"),
        }
        };
        let b64 = text
            .trim()
            .strip_prefix(PUBLIC_PREFIX)
            .ok_or_else(|| bad("not an ed25519 public key"))?;
        let bytes: [u8; 32] = B64
            .decode(b64)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| bad("not 32 bytes of base64"))?;
        VerifyingKey::from_bytes(&bytes)
            .map(PublicKey)
            .map_err(|_| bad("not a valid ed25519 point"))
    }

    pub fn id(&self) -> String {
        key_id(&self.0)
    }

    pub fn encode(&self) -> String {
        format!("{PUBLIC_PREFIX}{}", B64.encode(self.0.as_bytes()))
    }
}

/// The key that signs what this machine publishes.
pub struct Signer25519(SigningKey);

impl Signer25519 {
    pub fn generate() -> Signer25519 {
        let mut seed = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut seed);
        Signer25519(SigningKey::from_bytes(&seed))
    }

    pub fn load(path: &Path) -> Result<Signer25519, RemoteError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| RemoteError::Key {
            path: origin.clone(),
            message: format!("cannot read it ({e}); create one with `repro key generate`"),
        })?;
        let bad = |message: &str| {
            RemoteError::Key {
            path: origin.clone(),
            message: format!("{message}; a signing key is one line `ed25519-secret:<base64>` as `repro key generate` writes it"),
        }
        };
        let seed: [u8; 32] = text
            .trim()
            .strip_prefix(SECRET_PREFIX)
            .ok_or_else(|| bad("not an ed25519 signing key"))
            .and_then(|b| {
                B64.decode(b)
                    .ok()
                    .and_then(|b| b.try_into().ok())
                    .ok_or_else(|| bad("not 32 bytes of base64"))
            })?;
        Ok(Signer25519(SigningKey::from_bytes(&seed)))
    }

    pub fn encode_secret(&self) -> String {
        format!("{SECRET_PREFIX}{}", B64.encode(self.0.to_bytes()))
    }

    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }
}

impl Envelope {
    /// Wrap `payload`, signed when a key is given.
    pub fn seal(payload: &[u8], key: Option<&Signer25519>) -> Envelope {
        let signatures = key
            .map(|k| Signature {
                keyid: k.public().id(),
                sig: B64.encode(k.0.sign(&pae(PAYLOAD_TYPE, payload)).to_bytes()),
            })
            .into_iter()
            .collect();
        Envelope {
            payload_type: PAYLOAD_TYPE.to_string(),
            payload: B64.encode(payload),
            signatures,
        }
    }

    /// The payload, after checking the type and — when `trusted` is given — that at least one
    /// signature verifies under a trusted key. `Err` carries a sentence saying what is wrong.
    pub fn open(&self, trusted: Option<&[PublicKey]>) -> Result<Vec<u8>, String> {
        if self.payload_type != PAYLOAD_TYPE {
            return Err(format!(
                "its payload type is `{}`, not `{PAYLOAD_TYPE}`",
                self.payload_type
            ));
        }
        let payload = B64
            .decode(&self.payload)
            .map_err(|e| format!("its payload is not base64 ({e})"))?;
        let Some(trusted) = trusted else {
            return Ok(payload);
        };
        if self.signatures.is_empty() {
            return Err("it is unsigned".into());
        }
        let message = pae(&self.payload_type, &payload);
        for s in &self.signatures {
            let Some(k) = trusted.iter().find(|k| k.id() == s.keyid) else {
                continue;
            };
            let sig = B64
                .decode(&s.sig)
                .ok()
                .and_then(|b| ed25519_dalek::Signature::from_slice(&b).ok());
            match sig {
                Some(sig) if k.0.verify(&message, &sig).is_ok() => return Ok(payload),
                _ => {
                    return Err(format!(
                        "its signature by trusted key {} does not verify (altered after signing)",
                        &s.keyid[..16.min(s.keyid.len())]
                    ))
                }
            }
        }
        let ids: Vec<&str> = self
            .signatures
            .iter()
            .map(|s| &s.keyid[..16.min(s.keyid.len())])
            .collect();
        Err(format!(
            "it is signed only by untrusted key(s) {}",
            ids.join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_matches_the_dsse_spec_example() {
        // The DSSE protocol document's test vector.
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
    }

    #[test]
    fn sign_verify_and_refuse() {
        let alice = Signer25519::generate();
        let mallory = Signer25519::generate();
        let trusted = [alice.public()];
        let env = Envelope::seal(b"{\"x\":1}", Some(&alice));
        assert_eq!(env.open(Some(&trusted)).expect("trusted"), b"{\"x\":1}");
        assert!(Envelope::seal(b"{}", None)
            .open(Some(&trusted))
            .expect_err("unsigned")
            .contains("unsigned"));
        assert!(Envelope::seal(b"{}", Some(&mallory))
            .open(Some(&trusted))
            .expect_err("other key")
            .contains("untrusted"));
        let mut altered = env.clone();
        altered.payload = B64.encode(b"{\"x\":2}");
        assert!(altered.open(Some(&trusted)).is_err());
        // Without trust configured, unsigned records are accepted.
        assert!(Envelope::seal(b"{}", None).open(None).is_ok());
        // Keys round-trip through their text form.
        let back = PublicKey::parse(&alice.public().encode(), "test").expect("parse");
        assert_eq!(back.id(), alice.public().id());
        assert!(PublicKey::parse("ssh-ed25519 AAAA", "test").is_err());
    }
}
