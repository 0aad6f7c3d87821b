//! Sprig's private-key and certificate functions: `genPrivateKey`, `genCA`, `genCAWithKey`,
//! `genSelfSignedCert`, `genSelfSignedCertWithKey`, `genSignedCert`, `genSignedCertWithKey` and
//! `buildCustomCert`.
//!
//! They produce what Sprig v3 produces on Go's `crypto/x509`:
//! * keys: RSA 4096 (`genPrivateKey "rsa"`) or 2048 (certificate functions) as PKCS#1
//!   `RSA PRIVATE KEY`; ECDSA P-256 as SEC1 `EC PRIVATE KEY` naming the curve; Ed25519 as
//!   PKCS#8 v1 `PRIVATE KEY`; DSA L2048N256 as OpenSSL's `DSA PRIVATE KEY` sequence;
//! * certificates: X.509 v3, a random 128-bit serial, subject `CN=<cn>` only, valid from now to
//!   now + days × 24 h, key usage digitalSignature + keyEncipherment (+ keyCertSign for a CA),
//!   extended key usage serverAuth + clientAuth, basic constraints (critical, `CA:TRUE` without a
//!   path length for a CA, `CA:FALSE` otherwise), a subject key identifier for CAs (the first 20
//!   bytes of the SHA-256 of the public key, as Go 1.25+), the CA's key identifier as authority
//!   key identifier, subject alternative names (DNS names, then IPs), and the extension order,
//!   string types and time encodings Go uses, signed with SHA-256 (RSA PKCS#1 v1.5, ECDSA P-256),
//!   SHA-384 (ECDSA P-384) or Ed25519.
//!
//! Errors carry Sprig's texts (`error parsing ip: 1.2.3`, `parsing private key: no PEM data in
//! input`...). Go's own parser messages (`x509: ...`, `asn1: ...`) are approximated. Keys Sextant
//! cannot sign with where Go can (ECDSA P-224 and P-521) are refused with a message saying so.

use std::any::Any;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use base64::Engine;
use getrandom::SysRng;
use getrandom::rand_core::UnwrapErr;
use p256::elliptic_curve::Generate;
use p256::elliptic_curve::sec1::ToSec1Point;
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey, EncodeRsaPublicKey};
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{SignatureEncoding, Signer};

use super::{arg_int, arg_str, func, wrong_type_at};
use crate::Templates;
use crate::error::FuncError;
use crate::value::{Map, Object, Value};

// ---------------------------------------------------------------------------------------------
// DER writing (only what certificates and keys need; lengths in definite form).

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    out.push(tag);
    let n = content.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let be = n.to_be_bytes();
        let skip = be.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (be.len() - skip) as u8);
        out.extend_from_slice(&be[skip..]);
    }
    out.extend_from_slice(content);
    out
}

fn seq(parts: &[&[u8]]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

/// A non-negative INTEGER from big-endian magnitude bytes.
fn der_uint(be: &[u8]) -> Vec<u8> {
    let skip = be.iter().take_while(|b| **b == 0).count();
    let mag = &be[skip..];
    let mut content = Vec::with_capacity(mag.len() + 1);
    if mag.first().is_none_or(|b| b & 0x80 != 0) {
        content.push(0);
    }
    content.extend_from_slice(mag);
    tlv(0x02, &content)
}

fn der_oid(arcs: &[u64]) -> Vec<u8> {
    let mut content = Vec::new();
    let mut push = |mut v: u64| {
        let mut tmp = vec![(v & 0x7f) as u8];
        v >>= 7;
        while v > 0 {
            tmp.push(0x80 | (v & 0x7f) as u8);
            v >>= 7;
        }
        content.extend(tmp.iter().rev());
    };
    push(arcs[0] * 40 + arcs[1]);
    for &a in &arcs[2..] {
        push(a);
    }
    tlv(0x06, &content)
}

fn bit_string(bytes: &[u8]) -> Vec<u8> {
    let mut content = Vec::with_capacity(bytes.len() + 1);
    content.push(0);
    content.extend_from_slice(bytes);
    tlv(0x03, &content)
}

const NULL: &[u8] = &[0x05, 0x00];
const OID_RSA: &[u64] = &[1, 2, 840, 113549, 1, 1, 1];
const OID_RSA_SHA256: &[u64] = &[1, 2, 840, 113549, 1, 1, 11];
const OID_EC_PUBLIC_KEY: &[u64] = &[1, 2, 840, 10045, 2, 1];
const OID_P256: &[u64] = &[1, 2, 840, 10045, 3, 1, 7];
const OID_P384: &[u64] = &[1, 3, 132, 0, 34];
const OID_P224: &[u64] = &[1, 3, 132, 0, 33];
const OID_P521: &[u64] = &[1, 3, 132, 0, 35];
const OID_ECDSA_SHA256: &[u64] = &[1, 2, 840, 10045, 4, 3, 2];
const OID_ECDSA_SHA384: &[u64] = &[1, 2, 840, 10045, 4, 3, 3];
const OID_ED25519: &[u64] = &[1, 3, 101, 112];
const OID_CN: &[u64] = &[2, 5, 4, 3];
const OID_KEY_USAGE: &[u64] = &[2, 5, 29, 15];
const OID_EXT_KEY_USAGE: &[u64] = &[2, 5, 29, 37];
const OID_BASIC_CONSTRAINTS: &[u64] = &[2, 5, 29, 19];
const OID_SKID: &[u64] = &[2, 5, 29, 14];
const OID_AKID: &[u64] = &[2, 5, 29, 35];
const OID_SAN: &[u64] = &[2, 5, 29, 17];
const OID_SERVER_AUTH: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 3, 1];
const OID_CLIENT_AUTH: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 3, 2];

/// The contents (without tag and length) of an OID, for comparing with parsed ones.
fn oid_body(arcs: &[u64]) -> Vec<u8> {
    let full = der_oid(arcs);
    full[2..].to_vec()
}

/// Dotted text of an OID body, for error messages.
fn oid_text(body: &[u8]) -> String {
    let mut arcs = Vec::new();
    let mut v: u64 = 0;
    for &b in body {
        v = (v << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            if arcs.is_empty() {
                let first = (v / 40).min(2);
                arcs.push(first);
                arcs.push(v - first * 40);
            } else {
                arcs.push(v);
            }
            v = 0;
        }
    }
    arcs.iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

// ---------------------------------------------------------------------------------------------
// DER reading: a minimal walker over definite-length, single-byte-tag elements.

#[derive(Clone, Copy)]
struct Tlv<'a> {
    tag: u8,
    body: &'a [u8],
    raw: &'a [u8],
}

fn read_tlv(input: &[u8]) -> Result<(Tlv<'_>, &[u8]), String> {
    let short = || "asn1: syntax error: data truncated".to_string();
    let (&tag, rest) = input.split_first().ok_or_else(short)?;
    if tag & 0x1f == 0x1f {
        return Err("asn1: syntax error: high-tag-number form is not supported".into());
    }
    let (&l0, mut rest) = rest.split_first().ok_or_else(short)?;
    let len = if l0 < 0x80 {
        usize::from(l0)
    } else {
        let n = usize::from(l0 & 0x7f);
        if n == 0 || n > 4 {
            return Err("asn1: syntax error: unsupported length".into());
        }
        if rest.len() < n {
            return Err(short());
        }
        let mut len = 0usize;
        for &b in &rest[..n] {
            len = (len << 8) | usize::from(b);
        }
        rest = &rest[n..];
        len
    };
    if rest.len() < len {
        return Err(short());
    }
    let header = input.len() - rest.len();
    Ok((
        Tlv {
            tag,
            body: &rest[..len],
            raw: &input[..header + len],
        },
        &rest[len..],
    ))
}

/// Reads one element with the expected tag.
fn expect<'a>(input: &'a [u8], tag: u8, what: &str) -> Result<(Tlv<'a>, &'a [u8]), String> {
    let (t, rest) = read_tlv(input)?;
    if t.tag != tag {
        return Err(format!(
            "asn1: structure error: tags don't match ({what}: want tag 0x{tag:02x}, got 0x{:02x})",
            t.tag
        ));
    }
    Ok((t, rest))
}

// ---------------------------------------------------------------------------------------------
// PEM, as Go's encoding/pem reads and writes it.

struct PemBlock {
    typ: String,
    bytes: Vec<u8>,
}

/// Go's `pem.Decode`: the first well-formed block anywhere in the text, `None` when there is
/// none. Headers (`Proc-Type: ...`) are skipped; spaces, tabs and line breaks in the base64 body
/// are ignored.
fn pem_decode(text: &str) -> Option<PemBlock> {
    let mut from = 0;
    while let Some(pos) = text[from..].find("-----BEGIN ") {
        let start = from + pos;
        from = start + 11;
        // Go requires BEGIN at the start of the data or of a line.
        if start > 0 && !text[..start].ends_with('\n') {
            continue;
        }
        let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
        let line = text[start + 11..line_end].trim_end_matches(['\r', ' ', '\t']);
        let Some(typ) = line.strip_suffix("-----") else {
            continue;
        };
        let end_marker = format!("-----END {typ}-----");
        let body_start = (line_end + 1).min(text.len());
        let Some(end_rel) = text[body_start..].find(&end_marker) else {
            continue;
        };
        let body = &text[body_start..body_start + end_rel];
        let mut lines: Vec<&str> = body.lines().collect();
        // Skip RFC 1421 headers: "Key: value" lines up to the first blank line.
        if lines.first().is_some_and(|l| l.contains(':')) {
            let blank = lines.iter().position(|l| l.trim().is_empty());
            lines = lines.split_off(blank.map_or(lines.len(), |b| b + 1));
        }
        let b64: String = lines
            .concat()
            .chars()
            .filter(|c| !matches!(c, ' ' | '\t' | '\r' | '\n'))
            .collect();
        if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(b64) {
            return Some(PemBlock {
                typ: typ.to_string(),
                bytes,
            });
        }
    }
    None
}

/// Go's `pem.EncodeToMemory` without headers: 64-column base64 lines.
fn pem_encode(typ: &str, bytes: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
    let mut out = format!("-----BEGIN {typ}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {typ}-----\n"));
    out
}

// ---------------------------------------------------------------------------------------------
// Private keys.

/// A private key of one of the types Sprig generates or accepts.
enum PrivateKey {
    Rsa(Box<rsa::PrivateKey>),
    P256(p256::SecretKey),
    P384(p384::SecretKey),
    Ed25519(Box<ed25519_dalek::SigningKey>),
    /// DSA keys parse (as in Go) but cannot sign certificates nor be certified: Go's x509
    /// refuses them, and so do we, with Go's messages.
    Dsa,
}

fn rsa_key(bits: usize) -> Result<PrivateKey, String> {
    rsa::PrivateKey::new(&mut SysRng, bits)
        .map(|k| PrivateKey::Rsa(Box::new(k)))
        .map_err(|e| e.to_string())
}

/// Sprig's `generatePrivateKey`: the PEM text, or an error text as the result (Sprig returns
/// its errors as the string).
fn generate_private_key(typ: &str) -> String {
    let key = match typ {
        "" | "rsa" => rsa_key(4096),
        "ecdsa" => p256::SecretKey::try_generate_from_rng(&mut SysRng)
            .map(PrivateKey::P256)
            .map_err(|e| e.to_string()),
        "ed25519" => Ok(PrivateKey::Ed25519(Box::new(
            ed25519_dalek::SigningKey::generate(&mut UnwrapErr(SysRng)),
        ))),
        "dsa" => return generate_dsa_pem(),
        _ => return format!("Unknown type {typ}"),
    };
    match key.and_then(|k| k.to_pem()) {
        Ok(pem) => pem,
        Err(e) => format!("failed to generate private key: {e}"),
    }
}

/// DSA L2048N256 (Go's `dsa.GenerateParameters` size Sprig asks for), encoded as the
/// `SEQUENCE { version 0, p, q, g, y, x }` Sprig writes as `DSA PRIVATE KEY`.
fn generate_dsa_pem() -> String {
    use dsa::{Components, KeySize, SigningKey};
    let components =
        match Components::try_generate_from_rng_with_key_size(&mut SysRng, KeySize::DSA_2048_256) {
            Ok(c) => c,
            Err(e) => return format!("failed to generate dsa params: {e}"),
        };
    let key = match SigningKey::try_generate_from_rng_with_components(&mut SysRng, components) {
        Ok(k) => k,
        Err(e) => return format!("failed to generate private key: {e}"),
    };
    let vk = key.verifying_key();
    let c = vk.components();
    let der = seq(&[
        &der_uint(&[0]),
        &der_uint(&c.p().to_be_bytes()),
        &der_uint(&c.q().to_be_bytes()),
        &der_uint(&c.g().to_be_bytes()),
        &der_uint(&vk.y().to_be_bytes()),
        &der_uint(&key.x().to_be_bytes()),
    ]);
    pem_encode("DSA PRIVATE KEY", &der)
}

/// Go's PKCS#8 encoding of an Ed25519 key: version 0, the algorithm, the 32-byte seed (no
/// public key, unlike PKCS#8 v2).
fn ed25519_pkcs8(seed: &[u8; 32]) -> Vec<u8> {
    seq(&[
        &der_uint(&[0]),
        &seq(&[&der_oid(OID_ED25519)]),
        &tlv(0x04, &tlv(0x04, seed)),
    ])
}

impl PrivateKey {
    /// Sprig's `pemBlockForKey`.
    fn to_pem(&self) -> Result<String, String> {
        Ok(match self {
            PrivateKey::Rsa(k) => {
                let der = k.to_pkcs1_der().map_err(|e| e.to_string())?;
                pem_encode("RSA PRIVATE KEY", der.as_bytes())
            }
            PrivateKey::P256(k) => {
                let der = k.to_sec1_der().map_err(|e| e.to_string())?;
                pem_encode("EC PRIVATE KEY", &der)
            }
            PrivateKey::P384(k) => {
                let der = k.to_sec1_der().map_err(|e| e.to_string())?;
                pem_encode("EC PRIVATE KEY", &der)
            }
            PrivateKey::Ed25519(k) => pem_encode("PRIVATE KEY", &ed25519_pkcs8(&k.to_bytes())),
            PrivateKey::Dsa => return Err("x509: unsupported key type: *dsa.PrivateKey".into()),
        })
    }

    /// Go's `marshalPublicKey`: the AlgorithmIdentifier and the subjectPublicKey bytes.
    fn public_key_info(&self) -> Result<(Vec<u8>, Vec<u8>), String> {
        Ok(match self {
            PrivateKey::Rsa(k) => {
                let pk = k.to_public_key();
                let der = pk.to_pkcs1_der().map_err(|e| e.to_string())?;
                (seq(&[&der_oid(OID_RSA), NULL]), der.as_bytes().to_vec())
            }
            PrivateKey::P256(k) => (
                seq(&[&der_oid(OID_EC_PUBLIC_KEY), &der_oid(OID_P256)]),
                k.public_key().to_sec1_point(false).as_bytes().to_vec(),
            ),
            PrivateKey::P384(k) => (
                seq(&[&der_oid(OID_EC_PUBLIC_KEY), &der_oid(OID_P384)]),
                k.public_key().to_sec1_point(false).as_bytes().to_vec(),
            ),
            PrivateKey::Ed25519(k) => (
                seq(&[&der_oid(OID_ED25519)]),
                k.verifying_key().to_bytes().to_vec(),
            ),
            PrivateKey::Dsa => {
                return Err("x509: unsupported public key type: *dsa.PublicKey".into());
            }
        })
    }

    /// Go's `signingParamsForKey`: the signature AlgorithmIdentifier this key signs with.
    fn signature_algorithm(&self) -> Result<Vec<u8>, String> {
        Ok(match self {
            PrivateKey::Rsa(_) => seq(&[&der_oid(OID_RSA_SHA256), NULL]),
            PrivateKey::P256(_) => seq(&[&der_oid(OID_ECDSA_SHA256)]),
            PrivateKey::P384(_) => seq(&[&der_oid(OID_ECDSA_SHA384)]),
            PrivateKey::Ed25519(_) => seq(&[&der_oid(OID_ED25519)]),
            PrivateKey::Dsa => {
                return Err(
                    "x509: certificate private key does not implement crypto.Signer".into(),
                );
            }
        })
    }

    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, String> {
        Ok(match self {
            PrivateKey::Rsa(k) => {
                let signer = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(k.as_ref().clone());
                let sig: rsa::pkcs1v15::Signature =
                    signer.try_sign(msg).map_err(|e| e.to_string())?;
                sig.to_vec()
            }
            PrivateKey::P256(k) => {
                let signer = p256::ecdsa::SigningKey::from(k);
                let sig: p256::ecdsa::Signature =
                    signer.try_sign(msg).map_err(|e| e.to_string())?;
                sig.to_der().as_bytes().to_vec()
            }
            PrivateKey::P384(k) => {
                let signer = p384::ecdsa::SigningKey::from(k);
                let sig: p384::ecdsa::Signature =
                    signer.try_sign(msg).map_err(|e| e.to_string())?;
                sig.to_der().as_bytes().to_vec()
            }
            PrivateKey::Ed25519(k) => k.sign(msg).to_bytes().to_vec(),
            PrivateKey::Dsa => {
                return Err(
                    "x509: certificate private key does not implement crypto.Signer".into(),
                );
            }
        })
    }
}

/// Which curve an `id-ecPublicKey` parameter names.
fn ec_curve(params: Option<&[u8]>) -> Result<&'static str, String> {
    let Some(p) = params else {
        return Err("x509: unknown elliptic curve".into());
    };
    if p == oid_body(OID_P256) {
        Ok("P-256")
    } else if p == oid_body(OID_P384) {
        Ok("P-384")
    } else if p == oid_body(OID_P224) || p == oid_body(OID_P521) {
        Err(format!(
            "elliptic curve {} keys are not supported by Sextant's native renderer \
             (use a P-256 or P-384 key, or the helm renderer)",
            if p == oid_body(OID_P224) {
                "P-224"
            } else {
                "P-521"
            }
        ))
    } else {
        Err("x509: unknown elliptic curve".into())
    }
}

/// Go's `x509.ParseECPrivateKey` (SEC1), with the curve taken from the key's own parameters
/// unless the caller (PKCS#8) names it.
fn parse_sec1(der: &[u8], curve_param: Option<&[u8]>) -> Result<PrivateKey, String> {
    let parsed = sec1::EcPrivateKey::try_from(der)
        .map_err(|e| format!("x509: failed to parse EC private key: {e}"))?;
    let own = parsed.parameters.as_ref().and_then(|p| p.named_curve());
    let own_body = own.map(|o| o.as_bytes().to_vec());
    let curve = ec_curve(curve_param.or(own_body.as_deref()))?;
    let scalar = parsed.private_key;
    let bad = |e: &dyn fmt::Display| format!("x509: invalid elliptic curve private key value: {e}");
    Ok(match curve {
        "P-256" => PrivateKey::P256(p256::SecretKey::from_slice(scalar).map_err(|e| bad(&e))?),
        _ => PrivateKey::P384(p384::SecretKey::from_slice(scalar).map_err(|e| bad(&e))?),
    })
}

/// Go's `x509.ParsePKCS8PrivateKey`.
fn parse_pkcs8(der: &[u8]) -> Result<PrivateKey, String> {
    let hint = |der: &[u8]| {
        if rsa::PrivateKey::from_pkcs1_der(der).is_ok() {
            Some(
                "x509: failed to parse private key (use ParsePKCS1PrivateKey instead for this key format)",
            )
        } else if sec1::EcPrivateKey::try_from(der).is_ok() {
            Some(
                "x509: failed to parse private key (use ParseECPrivateKey instead for this key format)",
            )
        } else {
            None
        }
    };
    // (algorithm OID contents, algorithm parameters unless NULL, privateKey contents)
    type Parts = (Vec<u8>, Option<Vec<u8>>, Vec<u8>);
    let structure = || -> Result<Parts, String> {
        let (outer, _) = expect(der, 0x30, "PrivateKeyInfo")?;
        let (_version, rest) = expect(outer.body, 0x02, "version")?;
        let (alg, rest) = expect(rest, 0x30, "AlgorithmIdentifier")?;
        let (key, _) = expect(rest, 0x04, "privateKey")?;
        let (oid, params) = expect(alg.body, 0x06, "algorithm")?;
        let params = if params.is_empty() {
            None
        } else {
            Some(read_tlv(params)?.0)
        };
        let params = params.filter(|p| p.tag != 0x05).map(|p| p.body.to_vec());
        Ok((oid.body.to_vec(), params, key.body.to_vec()))
    };
    let (oid, params, key) = match structure() {
        Ok(s) => s,
        Err(e) => return Err(hint(der).map_or(e, str::to_string)),
    };
    if oid == oid_body(OID_RSA) {
        rsa::PrivateKey::from_pkcs8_der(der)
            .map(|k| PrivateKey::Rsa(Box::new(k)))
            .map_err(|e| format!("x509: failed to parse RSA private key embedded in PKCS#8: {e}"))
    } else if oid == oid_body(OID_EC_PUBLIC_KEY) {
        parse_sec1(&key, params.as_deref())
            .map_err(|e| format!("x509: failed to parse EC private key embedded in PKCS#8: {e}"))
    } else if oid == oid_body(OID_ED25519) {
        if params.is_some() {
            return Err("x509: invalid Ed25519 private key parameters".into());
        }
        let (seed, _) = expect(&key, 0x04, "CurvePrivateKey")
            .map_err(|e| format!("x509: invalid Ed25519 private key: {e}"))?;
        let seed: [u8; 32] = seed
            .body
            .try_into()
            .map_err(|_| format!("ed25519: bad private key length: {}", seed.body.len()))?;
        Ok(PrivateKey::Ed25519(Box::new(
            ed25519_dalek::SigningKey::from_bytes(&seed),
        )))
    } else {
        Err(format!(
            "x509: PKCS#8 wrapping contained private key with unknown algorithm: {}",
            oid_text(&oid)
        ))
    }
}

/// Sprig's `parsePrivateKeyPEM`.
fn parse_private_key_pem(text: &str) -> Result<PrivateKey, String> {
    let block = pem_decode(text).ok_or("no PEM data in input")?;
    if block.typ == "PRIVATE KEY" {
        return parse_pkcs8(&block.bytes).map_err(|e| format!("decoding PEM as PKCS#8: {e}"));
    }
    let Some(kind) = block.typ.strip_suffix(" PRIVATE KEY") else {
        return Err(format!(
            "no private key data in PEM block of type {}",
            block.typ
        ));
    };
    match kind {
        "RSA" => rsa::PrivateKey::from_pkcs1_der(&block.bytes)
            .map(|k| PrivateKey::Rsa(Box::new(k)))
            .map_err(|e| {
                let why = if parse_pkcs8(&block.bytes).is_ok() {
                    "x509: failed to parse private key (use ParsePKCS8PrivateKey instead for this key format)".to_string()
                } else if sec1::EcPrivateKey::try_from(block.bytes.as_slice()).is_ok() {
                    "x509: failed to parse private key (use ParseECPrivateKey instead for this key format)".to_string()
                } else {
                    format!("x509: invalid RSA private key: {e}")
                };
                format!("parsing RSA private key from PEM: {why}")
            }),
        "EC" => parse_sec1(&block.bytes, None)
            .map_err(|e| format!("parsing EC private key from PEM: {e}")),
        "DSA" => parse_dsa(&block.bytes)
            .map(|()| PrivateKey::Dsa)
            .map_err(|e| format!("parsing DSA private key from PEM: {e}")),
        _ => Err(format!("invalid private key type {}", block.typ)),
    }
}

/// Go's `asn1.Unmarshal` into Sprig's `DSAKeyFormat` (version and five integers).
fn parse_dsa(der: &[u8]) -> Result<(), String> {
    let (outer, _) = expect(der, 0x30, "DSAKeyFormat")?;
    let mut rest = outer.body;
    for field in ["Version", "P", "Q", "G", "Y", "X"] {
        let (_, r) = expect(rest, 0x02, field)?;
        rest = r;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Certificates.

/// What Go's `crypto/x509` takes from a parent certificate when signing with it.
struct ParsedCert {
    /// The DER subject, copied byte for byte into the new certificate's issuer.
    subject: Vec<u8>,
    /// Public key algorithm OID (contents) and subjectPublicKey bytes.
    key_alg: Vec<u8>,
    key_bits: Vec<u8>,
    /// The subject key identifier, when the certificate has one.
    skid: Option<Vec<u8>>,
}

/// Go's `x509.ParseCertificate`, keeping what signing needs.
fn parse_certificate(der: &[u8]) -> Result<ParsedCert, String> {
    use x509_cert::der::Decode;
    x509_cert::Certificate::from_der(der)
        .map_err(|e| format!("x509: malformed certificate: {e}"))?;
    let (cert, _) = expect(der, 0x30, "Certificate")?;
    let (tbs, _) = expect(cert.body, 0x30, "TBSCertificate")?;
    let mut rest = tbs.body;
    if rest.first() == Some(&0xa0) {
        rest = read_tlv(rest)?.1;
    }
    let (_serial, r) = expect(rest, 0x02, "serialNumber")?;
    let (_sig, r) = expect(r, 0x30, "signature")?;
    let (_issuer, r) = expect(r, 0x30, "issuer")?;
    let (_validity, r) = expect(r, 0x30, "validity")?;
    let (subject, r) = expect(r, 0x30, "subject")?;
    let (spki, mut r) = expect(r, 0x30, "subjectPublicKeyInfo")?;
    let (alg, key) = expect(spki.body, 0x30, "algorithm")?;
    let (alg_oid, _) = expect(alg.body, 0x06, "algorithm")?;
    let (bits, _) = expect(key, 0x03, "subjectPublicKey")?;
    let mut skid = None;
    while !r.is_empty() {
        let (t, next) = read_tlv(r)?;
        r = next;
        if t.tag != 0xa3 {
            continue;
        }
        let (exts, _) = expect(t.body, 0x30, "extensions")?;
        let mut e = exts.body;
        while !e.is_empty() {
            let (ext, next) = expect(e, 0x30, "extension")?;
            e = next;
            let (oid, mut er) = expect(ext.body, 0x06, "extnID")?;
            if oid.body != oid_body(OID_SKID).as_slice() {
                continue;
            }
            if er.first() == Some(&0x01) {
                er = read_tlv(er)?.1;
            }
            let (value, _) = expect(er, 0x04, "extnValue")?;
            let (id, _) = expect(value.body, 0x04, "SubjectKeyIdentifier")?;
            skid = Some(id.body.to_vec());
        }
    }
    Ok(ParsedCert {
        subject: subject.raw.to_vec(),
        key_alg: alg_oid.body.to_vec(),
        key_bits: bits.body.get(1..).unwrap_or_default().to_vec(),
        skid,
    })
}

/// Go's `pkix.Name{CommonName: cn}` marshalled: PrintableString when every character allows
/// it, else UTF8String; an empty name is an empty sequence.
fn name_der(cn: &str) -> Vec<u8> {
    if cn.is_empty() {
        return seq(&[]);
    }
    let printable = cn
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b" '()+,-./:=?".contains(&b));
    let value = tlv(if printable { 0x13 } else { 0x0c }, cn.as_bytes());
    seq(&[&tlv(0x31, &seq(&[&der_oid(OID_CN), &value]))])
}

/// Go's ASN.1 time: UTCTime for 1950–2049, GeneralizedTime otherwise; whole seconds, UTC.
fn der_time(t: jiff::Timestamp) -> Vec<u8> {
    let dt = jiff::tz::Offset::UTC.to_datetime(t);
    let y = i32::from(dt.year());
    let rest = format!(
        "{:02}{:02}{:02}{:02}{:02}Z",
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    );
    if (1950..2050).contains(&y) {
        tlv(0x17, format!("{:02}{rest}", y % 100).as_bytes())
    } else {
        tlv(0x18, format!("{y:04}{rest}").as_bytes())
    }
}

fn extension(oid: &[u64], critical: bool, value: &[u8]) -> Vec<u8> {
    let crit: &[u8] = if critical { &[0x01, 0x01, 0xff] } else { &[] };
    seq(&[&der_oid(oid), crit, &tlv(0x04, value)])
}

/// Sprig's `getBaseCertTemplate` plus what `x509.CreateCertificate` derives from it.
struct CertTemplate {
    cn: String,
    ips: Vec<IpAddr>,
    dns: Vec<String>,
    days: i64,
    is_ca: bool,
}

/// Go's `net.ParseIP` on each entry of Sprig's `ips` list.
fn parse_ips(ips: &[Value]) -> Result<Vec<IpAddr>, String> {
    ips.iter()
        .map(|v| match v {
            Value::String(s) => s
                .parse::<IpAddr>()
                .map_err(|_| format!("error parsing ip: {s}")),
            other => Err(format!("error parsing ip: {other} is not a string")),
        })
        .collect()
}

fn parse_dns(names: &[Value]) -> Result<Vec<String>, String> {
    names
        .iter()
        .map(|v| match v {
            Value::String(s) => Ok(s.to_string()),
            other => Err(format!(
                "error processing alternate dns name: {other} is not a string"
            )),
        })
        .collect()
}

/// Go's `x509.CreateCertificate(rand, template, parent, signee public key, signer)` for Sprig's
/// templates; `parent` is `None` for a self-signed certificate. Returns the DER certificate.
fn create_certificate(
    t: &CertTemplate,
    signee: &PrivateKey,
    parent: Option<&ParsedCert>,
    signer: &PrivateKey,
) -> Result<Vec<u8>, String> {
    let sig_alg = signer.signature_algorithm()?;
    let (key_alg, key_bits) = signee.public_key_info()?;
    let subject = name_der(&t.cn);
    let issuer = parent.map_or_else(|| subject.clone(), |p| p.subject.clone());
    let akid = parent
        .filter(|p| p.subject != subject)
        .and_then(|p| p.skid.clone());
    let skid = t.is_ca.then(|| {
        let h = ring::digest::digest(&ring::digest::SHA256, &key_bits);
        h.as_ref()[..20].to_vec()
    });
    if let Some(p) = parent {
        let (signer_alg, signer_bits) = signer.public_key_info()?;
        let (signer_oid, _) = expect(&signer_alg, 0x30, "algorithm")
            .and_then(|(a, _)| expect(a.body, 0x06, "algorithm"))?;
        if signer_oid.body != p.key_alg.as_slice() || signer_bits != p.key_bits {
            return Err("x509: provided PrivateKey doesn't match parent's PublicKey".into());
        }
    }

    // Extensions in Go's order: key usage, extended key usage, basic constraints, subject key
    // id, authority key id, subject alternative names.
    let mut exts: Vec<Vec<u8>> = Vec::new();
    // Go's KeyUsage bits are numbered from the most significant bit of the first byte:
    // digitalSignature (0), keyEncipherment (2), keyCertSign (5).
    let ku: &[u8] = if t.is_ca {
        &[0x03, 0x02, 0x02, 0xa4]
    } else {
        &[0x03, 0x02, 0x05, 0xa0]
    };
    exts.push(extension(OID_KEY_USAGE, true, ku));
    exts.push(extension(
        OID_EXT_KEY_USAGE,
        false,
        &seq(&[&der_oid(OID_SERVER_AUTH), &der_oid(OID_CLIENT_AUTH)]),
    ));
    let bc = if t.is_ca {
        seq(&[&[0x01, 0x01, 0xff]])
    } else {
        seq(&[])
    };
    exts.push(extension(OID_BASIC_CONSTRAINTS, true, &bc));
    if let Some(id) = &skid {
        exts.push(extension(OID_SKID, false, &tlv(0x04, id)));
    }
    if let Some(id) = &akid {
        exts.push(extension(OID_AKID, false, &seq(&[&tlv(0x80, id)])));
    }
    if !t.dns.is_empty() || !t.ips.is_empty() {
        let mut names = Vec::new();
        for d in &t.dns {
            if !d.is_ascii() {
                return Err(format!(
                    "x509: {} cannot be encoded as an IA5String",
                    crate::fmt::quote_go(d)
                ));
            }
            names.extend(tlv(0x82, d.as_bytes()));
        }
        for ip in &t.ips {
            let bytes = match ip {
                IpAddr::V4(v4) => v4.octets().to_vec(),
                IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                    Some(v4) => v4.octets().to_vec(),
                    None => v6.octets().to_vec(),
                },
            };
            names.extend(tlv(0x87, &bytes));
        }
        // RFC 5280: with an empty subject the SAN extension is critical.
        exts.push(extension(OID_SAN, t.cn.is_empty(), &tlv(0x30, &names)));
    }

    let mut serial = [0u8; 16];
    getrandom::fill(&mut serial).map_err(|e| e.to_string())?;
    let now = jiff::Timestamp::now();
    // Go: time.Now().Add(time.Hour * 24 * time.Duration(days)); the int64 nanoseconds wrap.
    let span = jiff::SignedDuration::from_nanos(86_400_000_000_000i64.wrapping_mul(t.days));
    let not_after = now
        .checked_add(span)
        .map_err(|e| format!("x509: validity end out of range: {e}"))?;

    let tbs = seq(&[
        &[0xa0, 0x03, 0x02, 0x01, 0x02],
        &der_uint(&serial),
        &sig_alg,
        &issuer,
        &seq(&[&der_time(now), &der_time(not_after)]),
        &subject,
        &seq(&[&key_alg, &bit_string(&key_bits)]),
        &tlv(0xa3, &tlv(0x30, &exts.concat())),
    ]);
    let signature = signer.sign(&tbs)?;
    Ok(seq(&[&tbs, &sig_alg, &bit_string(&signature)]))
}

/// Sprig's `getCertAndKey`: the certificate and the signee's key, both PEM.
fn cert_and_key(
    t: &CertTemplate,
    signee: &PrivateKey,
    parent: Option<&ParsedCert>,
    signer: &PrivateKey,
) -> Result<Certificate, String> {
    let der = create_certificate(t, signee, parent, signer)
        .map_err(|e| format!("error creating certificate: {e}"))?;
    let key = signee
        .to_pem()
        .map_err(|e| format!("error pem-encoding key: {e}"))?;
    Ok(Certificate {
        cert: pem_encode("CERTIFICATE", &der),
        key,
    })
}

/// Sprig's `certificate` struct (`.Cert`, `.Key`).
#[derive(Clone, PartialEq, Eq)]
struct Certificate {
    cert: String,
    key: String,
}

impl fmt::Debug for Certificate {
    // The key is a secret: never printed by debug output or logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate")
            .field("cert", &self.cert)
            .field("key", &"<redacted>")
            .finish()
    }
}

impl Object for Certificate {
    fn type_name(&self) -> String {
        "sprig.certificate".into()
    }
    fn field(&self, name: &str) -> Option<Value> {
        match name {
            "Cert" => Some(Value::from(self.cert.clone())),
            "Key" => Some(Value::from(self.key.clone())),
            _ => None,
        }
    }
    fn format(&self) -> String {
        // Go's %v of a struct: {field field}.
        format!("{{{} {}}}", self.cert, self.key)
    }
    fn equals(&self, other: &dyn Object) -> Option<bool> {
        other
            .as_any()
            .downcast_ref::<Certificate>()
            .map(|o| o == self)
    }
    fn to_json_value(&self) -> Option<Value> {
        let m = Map::new();
        m.insert("Cert", Value::from(self.cert.clone()));
        m.insert("Key", Value::from(self.key.clone()));
        Some(Value::Map(m))
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

fn cert_value(c: Certificate) -> Value {
    Value::Object(Arc::new(c))
}

/// A Go `[]interface{}` parameter: a list, or nil for an empty one.
fn arg_list(a: &[Value], i: usize) -> Result<Vec<Value>, FuncError> {
    match a.get(i) {
        Some(Value::List(l)) => Ok(l.as_ref().clone()),
        Some(Value::Nil | Value::Missing) => Ok(Vec::new()),
        Some(v) => Err(wrong_type_at(i, "[]interface {}", v)),
        None => Err(FuncError::Exec("missing argument".into())),
    }
}

/// A `sprig.certificate` parameter (what `genCA` and `buildCustomCert` return).
fn arg_cert(a: &[Value], i: usize) -> Result<Certificate, FuncError> {
    match a.get(i) {
        Some(Value::Object(o)) => match o.as_any().downcast_ref::<Certificate>() {
            Some(c) => Ok(c.clone()),
            None => Err(wrong_type_at(i, "sprig.certificate", &a[i])),
        },
        Some(v) => Err(wrong_type_at(i, "sprig.certificate", v)),
        None => Err(FuncError::Exec("missing argument".into())),
    }
}

/// The arguments of a certificate function before Sprig validates them.
struct CertArgs {
    cn: String,
    ips: Vec<Value>,
    dns: Vec<Value>,
    days: i64,
}

impl CertArgs {
    /// `(cn, days)` at positions 0 and 1 (`genCA`).
    fn ca(a: &[Value]) -> Result<CertArgs, FuncError> {
        Ok(CertArgs {
            cn: arg_str(a, 0)?.to_string(),
            ips: Vec::new(),
            dns: Vec::new(),
            days: arg_int(a, 1)?,
        })
    }

    /// `(cn, ips, dnsNames, days)` at positions 0 to 3.
    fn leaf(a: &[Value]) -> Result<CertArgs, FuncError> {
        Ok(CertArgs {
            cn: arg_str(a, 0)?.to_string(),
            ips: arg_list(a, 1)?,
            dns: arg_list(a, 2)?,
            days: arg_int(a, 3)?,
        })
    }

    /// Sprig's `getBaseCertTemplate`: the IP and DNS lists checked.
    fn template(&self, is_ca: bool) -> Result<CertTemplate, String> {
        Ok(CertTemplate {
            cn: self.cn.clone(),
            ips: parse_ips(&self.ips)?,
            dns: parse_dns(&self.dns)?,
            days: self.days,
            is_ca,
        })
    }
}

/// Sprig's `generateCertificateAuthorityWithKeyInternal`.
fn gen_ca(args: &CertArgs, key: &PrivateKey) -> Result<Certificate, String> {
    let t = args.template(true)?;
    cert_and_key(&t, key, None, key)
}

/// Sprig's `generateSelfSignedCertificateWithKeyInternal`.
fn gen_self_signed(args: &CertArgs, key: &PrivateKey) -> Result<Certificate, String> {
    let t = args.template(false)?;
    cert_and_key(&t, key, None, key)
}

/// Sprig's `generateSignedCertificateWithKeyInternal`.
fn gen_signed(args: &CertArgs, ca: &Certificate, key: &PrivateKey) -> Result<Certificate, String> {
    let block = pem_decode(&ca.cert).ok_or("unable to decode certificate")?;
    let parent = parse_certificate(&block.bytes)
        .map_err(|e| format!("error parsing certificate: decodedSignerCert.Bytes: {e}"))?;
    let signer =
        parse_private_key_pem(&ca.key).map_err(|e| format!("error parsing private key: {e}"))?;
    let t = args.template(false)?;
    cert_and_key(&t, key, Some(&parent), &signer)
}

/// The signee key of a `...WithKey` function.
fn with_key(a: &[Value], i: usize) -> Result<PrivateKey, FuncError> {
    let pem = arg_str(a, i)?;
    Ok(parse_private_key_pem(pem).map_err(|e| format!("parsing private key: {e}"))?)
}

/// A fresh RSA 2048 key, as Sprig's certificate functions make.
fn rsa_2048() -> Result<PrivateKey, FuncError> {
    Ok(rsa_key(2048).map_err(|e| format!("error generating rsa key: {e}"))?)
}

/// Sprig's `buildCustomCertificate`.
fn build_custom_cert(b64cert: &str, b64key: &str) -> Result<Certificate, String> {
    // Go's base64.StdEncoding skips line breaks.
    let decode = |s: &str| {
        let s: String = s.chars().filter(|c| !matches!(c, '\r' | '\n')).collect();
        base64::engine::general_purpose::STANDARD.decode(s)
    };
    let cert = decode(b64cert).map_err(|_| "unable to decode base64 certificate")?;
    let key = decode(b64key).map_err(|_| "unable to decode base64 private key")?;
    let cert = String::from_utf8_lossy(&cert).into_owned();
    let key = String::from_utf8_lossy(&key).into_owned();
    let block = pem_decode(&cert).ok_or("unable to decode certificate")?;
    parse_certificate(&block.bytes)
        .map_err(|e| format!("error parsing certificate: decodedCert.Bytes: {e}"))?;
    parse_private_key_pem(&key).map_err(|e| format!("error parsing private key: {e}"))?;
    Ok(Certificate { cert, key })
}

pub(super) fn register(t: &mut Templates) {
    func(t, "genPrivateKey", 1, Some(1), |a| {
        Ok(Value::from(generate_private_key(arg_str(a, 0)?)))
    });
    func(t, "genCA", 2, Some(2), |a| {
        let args = CertArgs::ca(a)?;
        let key = rsa_2048()?;
        Ok(cert_value(gen_ca(&args, &key)?))
    });
    func(t, "genCAWithKey", 3, Some(3), |a| {
        let args = CertArgs::ca(a)?;
        let key = with_key(a, 2)?;
        Ok(cert_value(gen_ca(&args, &key)?))
    });
    func(t, "genSelfSignedCert", 4, Some(4), |a| {
        let args = CertArgs::leaf(a)?;
        // Sprig checks the lists only after making the key; checking first gives the same
        // error without the wait.
        args.template(false)?;
        let key = rsa_2048()?;
        Ok(cert_value(gen_self_signed(&args, &key)?))
    });
    func(t, "genSelfSignedCertWithKey", 5, Some(5), |a| {
        let args = CertArgs::leaf(a)?;
        let key = with_key(a, 4)?;
        Ok(cert_value(gen_self_signed(&args, &key)?))
    });
    func(t, "genSignedCert", 5, Some(5), |a| {
        let args = CertArgs::leaf(a)?;
        let ca = arg_cert(a, 4)?;
        // Errors that do not depend on the new key come out before generating it.
        let block = pem_decode(&ca.cert).ok_or("unable to decode certificate")?;
        parse_certificate(&block.bytes)
            .map_err(|e| format!("error parsing certificate: decodedSignerCert.Bytes: {e}"))?;
        parse_private_key_pem(&ca.key).map_err(|e| format!("error parsing private key: {e}"))?;
        args.template(false)?;
        let key = rsa_2048()?;
        Ok(cert_value(gen_signed(&args, &ca, &key)?))
    });
    func(t, "genSignedCertWithKey", 6, Some(6), |a| {
        let args = CertArgs::leaf(a)?;
        let ca = arg_cert(a, 4)?;
        let key = with_key(a, 5)?;
        Ok(cert_value(gen_signed(&args, &ca, &key)?))
    });
    func(t, "buildCustomCert", 2, Some(2), |a| {
        Ok(cert_value(build_custom_cert(
            arg_str(a, 0)?,
            arg_str(a, 1)?,
        )?))
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::process::Command;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, Instant, SystemTime};
    use x509_cert::der::{Decode, Encode};
    use x509_cert::ext::pkix::name::GeneralName;
    use x509_cert::ext::pkix::{
        AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages,
        SubjectAltName, SubjectKeyIdentifier,
    };

    fn render(tpl: &str) -> Result<String, crate::Error> {
        render_with(tpl, &Value::Nil)
    }

    fn render_with(tpl: &str, data: &Value) -> Result<String, crate::Error> {
        let mut t = Templates::with_sprig("gotpl");
        t.parse("t.yaml", tpl)?;
        t.execute("t.yaml", data)
    }

    fn ok(tpl: &str) -> String {
        match render(tpl) {
            Ok(s) => s,
            Err(e) => panic!("{tpl}: {e}"),
        }
    }

    fn err(tpl: &str) -> String {
        match render(tpl) {
            Ok(s) => panic!("{tpl}: expected an error, got {s:?}"),
            Err(e) => e.to_string(),
        }
    }

    /// Splits `ok` output of `{{ .Cert }}|{{ .Key }}` style templates.
    fn parts(s: &str, n: usize) -> Vec<String> {
        let v: Vec<String> = s.split('|').map(str::to_string).collect();
        assert_eq!(v.len(), n, "{s}");
        v
    }

    fn pem(text: &str, typ: &str) -> Vec<u8> {
        let b = pem_decode(text).unwrap_or_else(|| panic!("no PEM in {text:?}"));
        assert_eq!(b.typ, typ);
        // Go's layout: 64-column lines, trailing newline.
        assert!(text.ends_with(&format!("-----END {typ}-----\n")), "{text}");
        assert!(
            text.lines()
                .all(|l| l.len() <= 64 || l.starts_with("-----"))
        );
        b.bytes
    }

    struct Parsed {
        cert: x509_cert::Certificate,
        der: Vec<u8>,
    }

    fn cert(text: &str) -> Parsed {
        let der = pem(text, "CERTIFICATE");
        let cert = x509_cert::Certificate::from_der(&der).expect("certificate parses");
        Parsed { cert, der }
    }

    impl Parsed {
        fn tbs(&self) -> &x509_cert::TbsCertificate {
            self.cert.tbs_certificate()
        }
        fn cn(&self) -> String {
            self.tbs().subject().to_string()
        }
        fn ca(&self) -> bool {
            let (critical, bc) = self
                .tbs()
                .get_extension::<BasicConstraints>()
                .expect("basic constraints decode")
                .expect("basic constraints present");
            assert!(critical);
            assert_eq!(bc.path_len_constraint, None);
            bc.ca
        }
        fn sans(&self) -> (Vec<String>, Vec<IpAddr>) {
            let Some((_, san)) = self
                .tbs()
                .get_extension::<SubjectAltName>()
                .expect("SAN decodes")
            else {
                return (Vec::new(), Vec::new());
            };
            let mut dns = Vec::new();
            let mut ips = Vec::new();
            for n in san.0 {
                match n {
                    GeneralName::DnsName(d) => dns.push(d.to_string()),
                    GeneralName::IpAddress(ip) => {
                        let b = ip.as_bytes();
                        ips.push(match b.len() {
                            4 => IpAddr::from(<[u8; 4]>::try_from(b).expect("4")),
                            _ => IpAddr::from(<[u8; 16]>::try_from(b).expect("16")),
                        });
                    }
                    other => panic!("unexpected SAN {other:?}"),
                }
            }
            (dns, ips)
        }
        fn validity(&self) -> (SystemTime, SystemTime) {
            let v = self.tbs().validity();
            (v.not_before.to_system_time(), v.not_after.to_system_time())
        }
        fn skid(&self) -> Option<Vec<u8>> {
            self.tbs()
                .get_extension::<SubjectKeyIdentifier>()
                .expect("skid decodes")
                .map(|(_, s)| s.0.as_bytes().to_vec())
        }
        fn akid(&self) -> Option<Vec<u8>> {
            self.tbs()
                .get_extension::<AuthorityKeyIdentifier>()
                .expect("akid decodes")
                .and_then(|(_, a)| a.key_identifier.map(|k| k.as_bytes().to_vec()))
        }
        fn spki_der(&self) -> Vec<u8> {
            self.tbs()
                .subject_public_key_info()
                .to_der()
                .expect("spki encodes")
        }
        fn tbs_der(&self) -> Vec<u8> {
            let (c, _) = read_tlv(&self.der).expect("cert");
            read_tlv(c.body).expect("tbs").0.raw.to_vec()
        }
        /// Checks this certificate's signature with `issuer`'s public key.
        fn verify_signed_by(&self, issuer: &Parsed) {
            let spki = issuer.tbs().subject_public_key_info();
            let key = spki.subject_public_key.raw_bytes();
            let sig = self.cert.signature().raw_bytes();
            let tbs = self.tbs_der();
            let alg = spki.algorithm.oid.to_string();
            use rsa::signature::Verifier;
            match alg.as_str() {
                "1.2.840.113549.1.1.1" => {
                    use rsa::pkcs1::DecodeRsaPublicKey;
                    let pk = rsa::PublicKey::from_pkcs1_der(key).expect("rsa public key");
                    let vk = rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(pk);
                    let sig = rsa::pkcs1v15::Signature::try_from(sig).expect("rsa sig");
                    vk.verify(&tbs, &sig).expect("RSA signature verifies");
                }
                "1.2.840.10045.2.1" => {
                    let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(key).expect("p256 key");
                    let sig = p256::ecdsa::Signature::from_der(sig).expect("ecdsa sig");
                    vk.verify(&tbs, &sig).expect("ECDSA signature verifies");
                }
                "1.3.101.112" => {
                    let key: [u8; 32] = key.try_into().expect("ed25519 key length");
                    let vk = ed25519_dalek::VerifyingKey::from_bytes(&key).expect("ed25519 key");
                    let sig = ed25519_dalek::Signature::from_slice(sig).expect("ed25519 sig");
                    vk.verify(&tbs, &sig).expect("Ed25519 signature verifies");
                }
                other => panic!("unexpected key algorithm {other}"),
            }
            assert_eq!(
                self.tbs().issuer().to_der().expect("issuer"),
                issuer.tbs().subject().to_der().expect("subject"),
                "issuer is the signer's subject, byte for byte"
            );
        }
    }

    fn key_usage(p: &Parsed) -> KeyUsage {
        let (critical, ku) = p
            .tbs()
            .get_extension::<KeyUsage>()
            .expect("key usage decodes")
            .expect("key usage present");
        assert!(critical);
        ku
    }

    fn check_leaf_usages(p: &Parsed) {
        let ku = key_usage(p);
        assert!(ku.0.contains(KeyUsages::DigitalSignature));
        assert!(ku.0.contains(KeyUsages::KeyEncipherment));
        assert!(!ku.0.contains(KeyUsages::KeyCertSign));
        let (_, eku) = p
            .tbs()
            .get_extension::<ExtendedKeyUsage>()
            .expect("eku decodes")
            .expect("eku present");
        let oids: Vec<String> = eku.0.iter().map(ToString::to_string).collect();
        assert_eq!(oids, ["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"]);
    }

    /// Valid from about now, for exactly `days` days.
    fn check_validity(p: &Parsed, days: u64) {
        let (nb, na) = p.validity();
        let now = SystemTime::now();
        let skew = Duration::from_secs(120);
        assert!(
            nb <= now + Duration::from_secs(1) && nb + skew >= now,
            "{nb:?} vs {now:?}"
        );
        let len = na.duration_since(nb).expect("not after follows not before");
        assert!(
            len.as_secs().abs_diff(days * 86_400) <= 1,
            "validity of {len:?} for {days} days"
        );
    }

    /// The PEM key's public key, DER SPKI, through the same parser the functions use.
    fn key_spki(key_pem: &str) -> Vec<u8> {
        let k = parse_private_key_pem(key_pem).expect("key parses");
        let (alg, bits) = k.public_key_info().expect("public key");
        seq(&[&alg, &bit_string(&bits)])
    }

    // --- openssl, as an independent implementation -----------------------------------------

    static SEQ: AtomicUsize = AtomicUsize::new(0);

    struct TempDir(PathBuf);
    impl TempDir {
        fn new() -> TempDir {
            let p = std::env::temp_dir().join(format!(
                "gotemplate-pki-{}-{}",
                std::process::id(),
                SEQ.fetch_add(1, Ordering::SeqCst)
            ));
            std::fs::create_dir_all(&p).expect("temp dir");
            TempDir(p)
        }
        fn file(&self, name: &str, content: &str) -> PathBuf {
            let p = self.0.join(name);
            std::fs::write(&p, content).expect("write temp file");
            p
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// Runs openssl; fails the test when it is missing (scripts/test-all installs it).
    fn openssl(args: &[&std::ffi::OsStr]) -> String {
        let out = Command::new("openssl").args(args).output().unwrap_or_else(|e| {
            panic!("openssl is required by this test and could not be run ({e}): install it (scripts/test-all does: apt-get install openssl)")
        });
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "openssl {args:?} failed: {text}");
        text
    }

    fn os(s: &str) -> &std::ffi::OsStr {
        std::ffi::OsStr::new(s)
    }

    /// `openssl verify` of `leaf` against the trust anchor `ca`, and openssl's view of the
    /// leaf's public key equal to the one in `leaf_key`.
    fn openssl_verify(ca: &str, leaf: &str, leaf_key: &str) {
        let d = TempDir::new();
        let ca = d.file("ca.pem", ca);
        let leaf = d.file("leaf.pem", leaf);
        let key = d.file("key.pem", leaf_key);
        let out = openssl(&[
            os("verify"),
            os("-CAfile"),
            ca.as_os_str(),
            leaf.as_os_str(),
        ]);
        assert!(out.contains(": OK"), "{out}");
        let cert_pub = openssl(&[
            os("x509"),
            os("-in"),
            leaf.as_os_str(),
            os("-noout"),
            os("-pubkey"),
        ]);
        let key_pub = openssl(&[os("pkey"), os("-in"), key.as_os_str(), os("-pubout")]);
        assert_eq!(cert_pub, key_pub, "certificate and key belong together");
    }

    // --- keys ------------------------------------------------------------------------------

    #[test]
    fn gen_private_key_rsa_4096_pkcs1() {
        let t = Instant::now();
        let out = ok(r#"{{ genPrivateKey "rsa" }}"#);
        eprintln!("genPrivateKey rsa (4096 bits): {:?}", t.elapsed());
        let der = pem(&out, "RSA PRIVATE KEY");
        let k = rsa::PrivateKey::from_pkcs1_der(&der).expect("PKCS#1 parses");
        use rsa::traits::PublicKeyParts;
        assert_eq!(k.size() * 8, 4096);
        let d = TempDir::new();
        let f = d.file("k.pem", &out);
        let check = openssl(&[
            os("rsa"),
            os("-in"),
            f.as_os_str(),
            os("-check"),
            os("-noout"),
        ]);
        assert!(check.contains("RSA key ok"), "{check}");
    }

    #[test]
    fn gen_private_key_ecdsa_sec1_names_p256() {
        let out = ok(r#"{{ genPrivateKey "ecdsa" }}"#);
        let der = pem(&out, "EC PRIVATE KEY");
        // Two calls, two keys.
        assert_ne!(out, ok(r#"{{ genPrivateKey "ecdsa" }}"#));
        let k = sec1::EcPrivateKey::try_from(der.as_slice()).expect("SEC1 parses");
        assert_eq!(
            k.parameters
                .and_then(|p| p.named_curve())
                .map(|o| o.to_string()),
            Some("1.2.840.10045.3.1.7".to_string())
        );
        assert_eq!(k.private_key.len(), 32);
        assert_eq!(k.public_key.map(<[u8]>::len), Some(65));
        let d = TempDir::new();
        let f = d.file("k.pem", &out);
        let text = openssl(&[
            os("ec"),
            os("-in"),
            f.as_os_str(),
            os("-check"),
            os("-noout"),
        ]);
        assert!(
            text.contains("EC Key valid") || text.contains("read EC key"),
            "{text}"
        );
    }

    #[test]
    fn gen_private_key_ed25519_pkcs8_v1() {
        let out = ok(r#"{{ genPrivateKey "ed25519" }}"#);
        let der = pem(&out, "PRIVATE KEY");
        assert_eq!(der.len(), 48, "Go's PKCS#8 v1 form, without the public key");
        use ed25519_dalek::pkcs8::DecodePrivateKey as _;
        ed25519_dalek::SigningKey::from_pkcs8_der(&der).expect("PKCS#8 Ed25519 parses");
        let d = TempDir::new();
        let f = d.file("k.pem", &out);
        let text = openssl(&[
            os("pkey"),
            os("-in"),
            f.as_os_str(),
            os("-noout"),
            os("-text"),
        ]);
        assert!(text.contains("ED25519 Private-Key"), "{text}");
    }

    #[test]
    fn gen_private_key_dsa_openssl_format() {
        let t = Instant::now();
        let out = ok(r#"{{ genPrivateKey "dsa" }}"#);
        eprintln!("genPrivateKey dsa (L2048 N256): {:?}", t.elapsed());
        let der = pem(&out, "DSA PRIVATE KEY");
        let (outer, _) = read_tlv(&der).expect("sequence");
        let mut rest = outer.body;
        let mut ints = Vec::new();
        while !rest.is_empty() {
            let (i, r) = expect(rest, 0x02, "integer").expect("integer");
            ints.push(i.body.iter().skip_while(|b| **b == 0).count() * 8);
            rest = r;
        }
        assert_eq!(ints.len(), 6, "version, p, q, g, y, x");
        assert_eq!((ints[1], ints[2]), (2048, 256), "L2048 N256");
        let d = TempDir::new();
        let f = d.file("k.pem", &out);
        let text = openssl(&[
            os("dsa"),
            os("-in"),
            f.as_os_str(),
            os("-noout"),
            os("-text"),
        ]);
        assert!(text.contains("Private-Key: (2048 bit)"), "{text}");
        // Go cannot sign certificates with DSA keys, and says so.
        let data = Value::map([("k", Value::from(out))]);
        let e = render_with(r#"{{ genCAWithKey "x" 3 .k }}"#, &data).expect_err("DSA signer");
        assert!(
            e.to_string().ends_with(
                "error calling genCAWithKey: error creating certificate: x509: certificate private key does not implement crypto.Signer"
            ),
            "{e}"
        );
    }

    #[test]
    fn gen_private_key_unknown_type_is_the_result() {
        assert_eq!(ok(r#"{{ genPrivateKey "rsa3" }}"#), "Unknown type rsa3");
        let e = err(r#"{{ genPrivateKey 3 }}"#);
        assert!(e.contains("expected string"), "{e}");
    }

    // --- certificates ----------------------------------------------------------------------

    #[test]
    fn gen_ca_is_a_self_signed_rsa_2048_ca() {
        let out =
            ok(r#"{{ $ca := genCA "my-ca" 365 }}{{ $ca.Cert }}|{{ $ca.Key }}|{{ typeOf $ca }}"#);
        let p = parts(&out, 3);
        assert_eq!(p[2], "sprig.certificate");
        let ca = cert(&p[0]);
        assert_eq!(ca.cn(), "CN=my-ca");
        assert!(ca.ca());
        assert!(key_usage(&ca).0.contains(KeyUsages::KeyCertSign));
        check_validity(&ca, 365);
        ca.verify_signed_by(&ca);
        assert_eq!(ca.akid(), None, "self-signed: no authority key id");
        let skid = ca.skid().expect("a CA has a subject key id");
        assert_eq!(skid.len(), 20);
        let key_der = pem(&p[1], "RSA PRIVATE KEY");
        let key = rsa::PrivateKey::from_pkcs1_der(&key_der).expect("CA key");
        use rsa::traits::PublicKeyParts;
        assert_eq!(key.size() * 8, 2048);
        assert_eq!(
            ca.spki_der(),
            key_spki(&p[1]),
            "the certificate is for the key"
        );
        // A positive serial of at most 128 bits.
        let serial = ca.tbs().serial_number().as_bytes();
        assert!(serial.len() <= 17 && serial[0] & 0x80 == 0, "{serial:?}");
        let d = TempDir::new();
        let f = d.file("ca.pem", &p[0]);
        let text = openssl(&[
            os("x509"),
            os("-in"),
            f.as_os_str(),
            os("-noout"),
            os("-text"),
        ]);
        assert!(text.contains("CA:TRUE"), "{text}");
        assert!(text.contains("Certificate Sign"), "{text}");
        openssl_verify(&p[0], &p[0], &p[1]);
    }

    #[test]
    fn gen_signed_cert_verifies_against_the_ca() {
        let out = ok(r#"{{- $ca := genCA "root" 30 -}}
{{- $c := genSignedCert "svc.ns.svc" (list "10.0.0.1" "::1" "::ffff:192.168.1.2") (list "svc" "svc.ns.svc.cluster.local") 7 $ca -}}
{{ $ca.Cert }}|{{ $c.Cert }}|{{ $c.Key }}"#);
        let p = parts(&out, 3);
        let ca = cert(&p[0]);
        let leaf = cert(&p[1]);
        assert_eq!(leaf.cn(), "CN=svc.ns.svc");
        assert!(!leaf.ca());
        check_leaf_usages(&leaf);
        check_validity(&leaf, 7);
        let (dns, ips) = leaf.sans();
        assert_eq!(dns, ["svc", "svc.ns.svc.cluster.local"]);
        let want: Vec<IpAddr> = ["10.0.0.1", "::1", "192.168.1.2"]
            .iter()
            .map(|s| s.parse().expect("ip"))
            .collect();
        assert_eq!(
            ips, want,
            "IPv4-mapped addresses are written as IPv4, as Go does"
        );
        leaf.verify_signed_by(&ca);
        assert_eq!(
            leaf.akid(),
            ca.skid(),
            "authority key id is the CA's key id"
        );
        assert_eq!(leaf.skid(), None);
        assert_eq!(leaf.spki_der(), key_spki(&p[2]));
        pem(&p[2], "RSA PRIVATE KEY");
        openssl_verify(&p[0], &p[1], &p[2]);
    }

    #[test]
    fn gen_self_signed_cert_names_and_validity() {
        let out = ok(
            r#"{{ $c := genSelfSignedCert "" (list "127.0.0.1") nil 1 }}{{ $c.Cert }}|{{ $c.Key }}"#,
        );
        let p = parts(&out, 2);
        let c = cert(&p[0]);
        assert!(!c.ca());
        check_leaf_usages(&c);
        check_validity(&c, 1);
        c.verify_signed_by(&c);
        assert_eq!(c.sans(), (Vec::new(), vec![IpAddr::from([127, 0, 0, 1])]));
        // An empty subject makes the SAN extension critical (RFC 5280, as Go).
        let san = c
            .tbs()
            .extensions()
            .into_iter()
            .flatten()
            .find(|e| e.extn_id.to_string() == "2.5.29.17")
            .expect("SAN present");
        assert!(san.critical);
        assert_eq!(c.spki_der(), key_spki(&p[1]));
        // No names at all: no SAN extension.
        let out = ok(r#"{{ (genSelfSignedCert "plain" nil nil 2).Cert }}"#);
        let c = cert(&out);
        assert_eq!(c.sans(), (Vec::new(), Vec::new()));
        assert_eq!(c.cn(), "CN=plain");
    }

    #[test]
    fn with_key_variants_reuse_the_given_key() {
        let ec = ok(r#"{{ genPrivateKey "ecdsa" }}"#);
        let ed = ok(r#"{{ genPrivateKey "ed25519" }}"#);
        let data = Value::map([
            ("ec", Value::from(ec.clone())),
            ("ed", Value::from(ed.clone())),
        ]);
        let out = render_with(
            r#"{{- $ca := genCAWithKey "ec-ca" 10 .ec -}}
{{- $leaf := genSignedCertWithKey "leaf" (list "1.2.3.4") (list "a.example") 5 $ca .ed -}}
{{- $self := genSelfSignedCertWithKey "self" nil (list "b.example") 5 .ed -}}
{{ $ca.Cert }}|{{ $ca.Key }}|{{ $leaf.Cert }}|{{ $leaf.Key }}|{{ $self.Cert }}|{{ $self.Key }}"#,
            &data,
        )
        .expect("renders");
        let p = parts(&out, 6);
        assert_eq!(p[1], ec, "the CA key is the given key, PEM for PEM");
        assert_eq!(p[3], ed);
        assert_eq!(p[5], ed);
        let ca = cert(&p[0]);
        let leaf = cert(&p[2]);
        let own = cert(&p[4]);
        assert!(ca.ca());
        ca.verify_signed_by(&ca);
        leaf.verify_signed_by(&ca);
        own.verify_signed_by(&own);
        assert_eq!(ca.spki_der(), key_spki(&ec));
        assert_eq!(leaf.spki_der(), key_spki(&ed));
        assert_eq!(own.spki_der(), key_spki(&ed));
        assert_eq!(
            ca.cert.signature_algorithm().oid.to_string(),
            "1.2.840.10045.4.3.2"
        );
        assert_eq!(
            own.cert.signature_algorithm().oid.to_string(),
            "1.3.101.112"
        );
        assert_eq!(leaf.sans().0, ["a.example"]);
        openssl_verify(&p[0], &p[2], &p[3]);

        // An RSA key handed in as PKCS#8 is used, and returned as PKCS#1 like Go does.
        let rsa_pem = ok(r#"{{ (genCA "k" 1).Key }}"#);
        let rsa = rsa::PrivateKey::from_pkcs1_der(&pem(&rsa_pem, "RSA PRIVATE KEY")).expect("rsa");
        use rsa::pkcs8::EncodePrivateKey;
        let pkcs8 = pem_encode("PRIVATE KEY", rsa.to_pkcs8_der().expect("pkcs8").as_bytes());
        let data = Value::map([("k", Value::from(pkcs8))]);
        let out = render_with(r#"{{ (genCAWithKey "x" 1 .k).Key }}"#, &data).expect("renders");
        assert_eq!(out, rsa_pem);
    }

    #[test]
    fn build_custom_cert_round_trips_and_signs() {
        let out = ok(r#"{{- $ca := genCA "imported" 3 -}}
{{- $same := buildCustomCert ($ca.Cert | b64enc) ($ca.Key | b64enc) -}}
{{- $leaf := genSignedCert "x" nil (list "x.example") 3 $same -}}
{{ eq $ca $same }}|{{ $ca.Cert }}|{{ $leaf.Cert }}|{{ $leaf.Key }}|{{ $same | toJson | fromJson | keys | sortAlpha | join "," }}"#);
        let p = parts(&out, 5);
        assert_eq!(p[0], "true");
        assert_eq!(p[4], "Cert,Key");
        openssl_verify(&p[1], &p[2], &p[3]);
    }

    #[test]
    fn bad_inputs_fail_with_sprigs_errors_at_the_call() {
        let cases: &[(&str, &str)] = &[
            (
                r#"{{ genSelfSignedCert "x" (list "1.2.3") nil 3 }}"#,
                r#"template: t.yaml:1:3: executing "t.yaml" at <genSelfSignedCert "x" (list "1.2.3") nil 3>: error calling genSelfSignedCert: error parsing ip: 1.2.3"#,
            ),
            (
                r#"{{ genSelfSignedCert "x" (list 1) nil 3 }}"#,
                "error calling genSelfSignedCert: error parsing ip: 1 is not a string",
            ),
            (
                r#"{{ genSelfSignedCert "x" nil (list 2) 3 }}"#,
                "error processing alternate dns name: 2 is not a string",
            ),
            (
                r#"{{ genSelfSignedCert "x" nil (list "é.example") 3 }}"#,
                r#"error creating certificate: x509: "é.example" cannot be encoded as an IA5String"#,
            ),
            (
                r#"{{ genCAWithKey "x" 3 "garbage" }}"#,
                "error calling genCAWithKey: parsing private key: no PEM data in input",
            ),
            (
                "{{ genCAWithKey \"x\" 3 \"-----BEGIN CERTIFICATE-----\\nAAAA\\n-----END CERTIFICATE-----\\n\" }}",
                "parsing private key: no private key data in PEM block of type CERTIFICATE",
            ),
            (
                "{{ genCAWithKey \"x\" 3 \"-----BEGIN RSA PRIVATE KEY-----\\nAAAA\\n-----END RSA PRIVATE KEY-----\\n\" }}",
                "parsing private key: parsing RSA private key from PEM: ",
            ),
            (
                "{{ genCAWithKey \"x\" 3 \"-----BEGIN PRIVATE KEY-----\\nAAAA\\n-----END PRIVATE KEY-----\\n\" }}",
                "parsing private key: decoding PEM as PKCS#8: ",
            ),
            (
                "{{ genCAWithKey \"x\" 3 \"-----BEGIN FOO PRIVATE KEY-----\\nAAAA\\n-----END FOO PRIVATE KEY-----\\n\" }}",
                "parsing private key: invalid private key type FOO PRIVATE KEY",
            ),
            (
                r#"{{ genSignedCert "x" nil nil 3 (dict "Cert" "a" "Key" "b") }}"#,
                "wrong type for value; expected sprig.certificate; got map[string]interface {}",
            ),
            (
                r#"{{ genCA "x" "3" }}"#,
                "wrong type for value; expected int; got string",
            ),
            (
                r#"{{ genSelfSignedCert "x" "1.2.3.4" nil 3 }}"#,
                "wrong type for value; expected []interface {}; got string",
            ),
            (
                r#"{{ buildCustomCert "%%%" "" }}"#,
                "error calling buildCustomCert: unable to decode base64 certificate",
            ),
            (
                r#"{{ buildCustomCert ("not pem" | b64enc) "" }}"#,
                "error calling buildCustomCert: unable to decode certificate",
            ),
            (
                r#"{{ buildCustomCert ("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n" | b64enc) "" }}"#,
                "error calling buildCustomCert: error parsing certificate: decodedCert.Bytes: x509: malformed certificate",
            ),
            (
                r#"{{ $ca := genCA "a" 1 }}{{ buildCustomCert ($ca.Cert | b64enc) ("x" | b64enc) }}"#,
                "error calling buildCustomCert: error parsing private key: no PEM data in input",
            ),
            (
                r#"{{ $a := genCA "a" 1 }}{{ $b := genCA "b" 1 }}{{ genSignedCert "x" nil nil 1 (buildCustomCert ($a.Cert | b64enc) ($b.Key | b64enc)) }}"#,
                "error calling genSignedCert: error creating certificate: x509: provided PrivateKey doesn't match parent's PublicKey",
            ),
        ];
        for (tpl, want) in cases {
            let e = err(tpl);
            assert!(e.contains(want), "{tpl}\n got: {e}\nwant: {want}");
            assert!(e.starts_with("template: t.yaml:1:"), "{e}");
        }
    }

    #[test]
    fn negative_days_give_an_expired_certificate_like_go() {
        let c = cert(&ok(r#"{{ (genSelfSignedCert "old" nil nil -2).Cert }}"#));
        let (nb, na) = c.validity();
        let back = nb
            .duration_since(na)
            .expect("not after precedes not before");
        assert!(back.as_secs().abs_diff(2 * 86_400) <= 1, "{back:?}");
    }

    #[test]
    fn printing_and_debug_never_show_the_key_in_debug() {
        let c = Certificate {
            cert: "C".into(),
            key: "SECRET".into(),
        };
        assert!(!format!("{c:?}").contains("SECRET"));
        assert_eq!(c.format(), "{C SECRET}", "Go's %v of the struct");
    }

    /// The CN attribute's string tag and bytes, read back from the DER subject.
    fn cn_value(p: &Parsed) -> Option<(u8, Vec<u8>)> {
        let subject = p.tbs().subject().to_der().expect("subject");
        let (name, _) = read_tlv(&subject).ok()?;
        let (rdn, _) = read_tlv(name.body).ok()?;
        let (atv, _) = read_tlv(rdn.body).ok()?;
        let (_oid, rest) = read_tlv(atv.body).ok()?;
        let (value, _) = read_tlv(rest).ok()?;
        Some((value.tag, value.body.to_vec()))
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
        /// Any common name, DNS names and IPs round-trip through a signed certificate.
        #[test]
        fn names_round_trip(
            cn in "\\PC{0,20}",
            dns in proptest::collection::vec("[a-z0-9.*-]{1,12}", 0..3),
            v4 in proptest::collection::vec(proptest::prelude::any::<[u8; 4]>(), 0..3),
            v6 in proptest::collection::vec(proptest::prelude::any::<[u8; 16]>(), 0..2),
        ) {
            let key = PrivateKey::Ed25519(Box::new(ed25519_dalek::SigningKey::from_bytes(&[7u8; 32])));
            let mut ips: Vec<IpAddr> = v4.iter().map(|b| IpAddr::from(*b)).collect();
            // Go writes IPv4-mapped IPv6 addresses as IPv4; keep plain IPv6 ones here.
            ips.extend(v6.iter().map(|b| IpAddr::from(*b)).filter(|ip| match ip {
                IpAddr::V6(v) => v.to_ipv4_mapped().is_none(),
                IpAddr::V4(_) => true,
            }));
            let args = CertArgs {
                cn: cn.clone(),
                ips: ips.iter().map(|ip| Value::from(ip.to_string())).collect(),
                dns: dns.iter().map(|d| Value::from(d.clone())).collect(),
                days: 30,
            };
            let c = gen_self_signed(&args, &key).expect("certificate");
            let p = cert(&c.cert);
            p.verify_signed_by(&p);
            let (got_dns, got_ips) = p.sans();
            proptest::prop_assert_eq!(got_dns, dns);
            proptest::prop_assert_eq!(got_ips, ips);
            match cn_value(&p) {
                None => proptest::prop_assert!(cn.is_empty()),
                Some((tag, bytes)) => {
                    proptest::prop_assert_eq!(bytes, cn.as_bytes().to_vec());
                    let printable = cn.bytes().all(|b| b.is_ascii_alphanumeric() || b" '()+,-./:=?".contains(&b));
                    proptest::prop_assert_eq!(tag, if printable { 0x13 } else { 0x0c });
                }
            }
        }
    }

    #[test]
    fn der_helpers() {
        assert_eq!(der_uint(&[0x80]), [0x02, 0x02, 0x00, 0x80]);
        assert_eq!(der_uint(&[0, 0, 1]), [0x02, 0x01, 0x01]);
        assert_eq!(der_uint(&[]), [0x02, 0x01, 0x00]);
        assert_eq!(der_oid(OID_CN), [0x06, 0x03, 0x55, 0x04, 0x03]);
        assert_eq!(oid_text(&oid_body(OID_RSA_SHA256)), "1.2.840.113549.1.1.11");
        let long = tlv(0x04, &[7u8; 300]);
        assert_eq!(&long[..4], [0x04, 0x82, 0x01, 0x2c]);
        let (t, rest) = read_tlv(&long).expect("reads back");
        assert_eq!((t.tag, t.body.len(), rest.len()), (0x04, 300, 0));
        assert!(read_tlv(&long[..100]).is_err());
        assert_eq!(
            name_der("a*b")[11],
            0x0c,
            "asterisk is not PrintableString in Go"
        );
        assert_eq!(name_der("a-b")[11], 0x13);
        let t2049 = jiff::Timestamp::from_second(2_524_607_999).expect("2049");
        assert_eq!(der_time(t2049)[0], 0x17);
        let t2050 = jiff::Timestamp::from_second(2_524_608_000).expect("2050");
        assert_eq!(der_time(t2050), tlv(0x18, b"20500101000000Z"));
    }

    #[test]
    fn pem_decoding_like_go() {
        let body = base64::engine::general_purpose::STANDARD.encode(b"hello");
        let text =
            format!("junk\n-----BEGIN X-----\nProc-Type: 4,ENCRYPTED\n\n{body}\n-----END X-----\n");
        let b = pem_decode(&text).expect("found");
        assert_eq!(
            (b.typ.as_str(), b.bytes.as_slice()),
            ("X", b"hello".as_slice())
        );
        assert!(pem_decode("-----BEGIN X-----\n!!!\n-----END X-----\n").is_none());
        assert!(pem_decode("no pem").is_none());
        let enc = pem_encode("Y", &[0u8; 100]);
        assert_eq!(pem_decode(&enc).map(|b| b.bytes), Some(vec![0u8; 100]));
    }
}
