//! Hashes, encodings, random identifiers and URL helpers.
//!
//! Over 600 lines: Sprig's hash/encoding/random/URL family, about 40 small functions and their tests.

use base64::Engine;

use super::{arg_int, arg_map, arg_str, check_size, conv::strval, func};
use crate::Templates;
use crate::error::FuncError;
use crate::value::{Map, Value};

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for chunk in data.chunks(5552) {
        for &x in chunk {
            a += u32::from(x);
            b += a;
        }
        a %= 65521;
        b %= 65521;
    }
    (b << 16) | a
}

const B32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

fn b32enc(data: &[u8]) -> String {
    let mut out = String::new();
    for chunk in data.chunks(5) {
        let mut buf = [0u8; 5];
        buf[..chunk.len()].copy_from_slice(chunk);
        let n = u64::from_be_bytes([0, 0, 0, buf[0], buf[1], buf[2], buf[3], buf[4]]);
        let chars = match chunk.len() {
            1 => 2,
            2 => 4,
            3 => 5,
            4 => 7,
            _ => 8,
        };
        for i in 0..8 {
            if i < chars {
                out.push(B32[((n >> (35 - i * 5)) & 31) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn b32dec(s: &str) -> Result<Vec<u8>, String> {
    let s: String = s.chars().filter(|c| *c != '\n' && *c != '\r').collect();
    if !s.len().is_multiple_of(8) {
        return Err(format!(
            "illegal base32 data at input byte {}",
            s.len() / 8 * 8
        ));
    }
    let mut out = Vec::new();
    for (ci, chunk) in s.as_bytes().chunks(8).enumerate() {
        let mut n: u64 = 0;
        let mut count = 0;
        for (i, &c) in chunk.iter().enumerate() {
            if c == b'=' {
                if chunk[i..].iter().any(|&x| x != b'=') {
                    return Err(format!("illegal base32 data at input byte {}", ci * 8 + i));
                }
                break;
            }
            let v = B32
                .iter()
                .position(|&x| x == c)
                .ok_or_else(|| format!("illegal base32 data at input byte {}", ci * 8 + i))?;
            n |= (v as u64) << (35 - i * 5);
            count += 1;
        }
        let bytes = match count {
            8 => 5,
            7 => 4,
            5 => 3,
            4 => 2,
            2 => 1,
            0 => 0,
            _ => {
                return Err(format!(
                    "illegal base32 data at input byte {}",
                    ci * 8 + count
                ));
            }
        };
        let be = n.to_be_bytes();
        out.extend_from_slice(&be[3..3 + bytes]);
    }
    Ok(out)
}

fn uuidv4() -> String {
    use rand::RngCore;
    let mut b = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// The parts of a URL as Go's `net/url` splits them.
#[derive(Default)]
struct Url {
    scheme: String,
    opaque: String,
    userinfo: Option<String>,
    host: String,
    path: String,
    raw_query: String,
    fragment: String,
}

fn unescape(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let h = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| {
                    format!(
                        "invalid URL escape {}",
                        crate::fmt::quote_go(&s[i..(i + 3).min(s.len())])
                    )
                })?;
            out.push(h);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

fn parse_url(raw: &str) -> Result<Url, String> {
    let mut u = Url::default();
    let (rest, frag) = match raw.split_once('#') {
        Some((r, f)) => (r, unescape(f)?),
        None => (raw, String::new()),
    };
    u.fragment = frag;
    let mut rest = rest.to_string();
    // Scheme.
    if let Some(i) = rest.find(':') {
        let sch = &rest[..i];
        if !sch.is_empty()
            && sch.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && sch
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        {
            u.scheme = sch.to_ascii_lowercase();
            rest = rest[i + 1..].to_string();
        } else if i == 0 {
            return Err("missing protocol scheme".into());
        }
    }
    if let Some((r, q)) = rest.split_once('?') {
        u.raw_query = q.to_string();
        rest = r.to_string();
    }
    if !rest.starts_with('/') && !u.scheme.is_empty() {
        u.opaque = rest;
        return Ok(u);
    }
    if let Some(after) = rest.strip_prefix("//") {
        let (auth, path) = match after.find('/') {
            Some(i) => (&after[..i], &after[i..]),
            None => (after, ""),
        };
        let host = match auth.rfind('@') {
            Some(i) => {
                u.userinfo = Some(auth[..i].to_string());
                &auth[i + 1..]
            }
            None => auth,
        };
        u.host = unescape(host)?;
        u.path = unescape(path)?;
    } else {
        u.path = unescape(&rest)?;
    }
    Ok(u)
}

fn escape_path(p: &str) -> String {
    let mut out = String::new();
    for b in p.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/:@&=+$!*'(),;".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn url_string(u: &Url) -> String {
    let mut out = String::new();
    if !u.scheme.is_empty() {
        out.push_str(&u.scheme);
        out.push(':');
    }
    if !u.opaque.is_empty() {
        out.push_str(&u.opaque);
    } else {
        if !u.scheme.is_empty() || !u.host.is_empty() || u.userinfo.is_some() {
            if !u.host.is_empty() || !u.path.is_empty() || u.userinfo.is_some() {
                out.push_str("//");
            }
            if let Some(ui) = &u.userinfo {
                out.push_str(ui);
                out.push('@');
            }
            out.push_str(&u.host);
        }
        if !u.path.is_empty() && !u.path.starts_with('/') && !u.host.is_empty() {
            out.push('/');
        }
        out.push_str(&escape_path(&u.path));
    }
    if !u.raw_query.is_empty() {
        out.push('?');
        out.push_str(&u.raw_query);
    }
    if !u.fragment.is_empty() {
        out.push('#');
        out.push_str(&escape_path(&u.fragment));
    }
    out
}

pub(super) fn register(t: &mut Templates) {
    use ring::digest;
    func(t, "sha1sum", 1, Some(1), |a| {
        let d = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, arg_str(a, 0)?.as_bytes());
        Ok(Value::from(hex(d.as_ref())))
    });
    func(t, "sha256sum", 1, Some(1), |a| {
        let d = digest::digest(&digest::SHA256, arg_str(a, 0)?.as_bytes());
        Ok(Value::from(hex(d.as_ref())))
    });
    func(t, "sha512sum", 1, Some(1), |a| {
        let d = digest::digest(&digest::SHA512, arg_str(a, 0)?.as_bytes());
        Ok(Value::from(hex(d.as_ref())))
    });
    func(t, "adler32sum", 1, Some(1), |a| {
        Ok(Value::from(adler32(arg_str(a, 0)?.as_bytes()).to_string()))
    });
    func(t, "b64enc", 1, Some(1), |a| {
        Ok(Value::from(
            base64::engine::general_purpose::STANDARD.encode(arg_str(a, 0)?),
        ))
    });
    func(t, "b64dec", 1, Some(1), |a| {
        let s = arg_str(a, 0)?;
        // Sprig returns the error text as the result.
        Ok(Value::from(
            match base64::engine::general_purpose::STANDARD.decode(s) {
                Ok(b) => String::from_utf8_lossy(&b).into_owned(),
                Err(e) => go_b64_error(&e),
            },
        ))
    });
    func(t, "b32enc", 1, Some(1), |a| {
        Ok(Value::from(b32enc(arg_str(a, 0)?.as_bytes())))
    });
    func(t, "b32dec", 1, Some(1), |a| {
        Ok(Value::from(match b32dec(arg_str(a, 0)?) {
            Ok(b) => String::from_utf8_lossy(&b).into_owned(),
            Err(e) => e,
        }))
    });
    func(t, "uuidv4", 0, Some(0), |_| Ok(Value::from(uuidv4())));
    func(t, "randBytes", 1, Some(1), |a| {
        use rand::RngCore;
        let n = arg_int(a, 0)?;
        if n < 0 {
            return Err("runtime error: makeslice: len out of range".into());
        }
        check_size(n as usize, "randBytes")?;
        let mut b = vec![0u8; n as usize];
        rand::thread_rng().fill_bytes(&mut b);
        Ok(Value::from(
            base64::engine::general_purpose::STANDARD.encode(b),
        ))
    });
    func(t, "urlParse", 1, Some(1), |a| {
        let s = arg_str(a, 0)?;
        let u = parse_url(s).map_err(|e| {
            FuncError::Call(format!(
                "unable to parse url: parse {}: {e}",
                crate::fmt::quote_go(s)
            ))
        })?;
        let hostname = match u.host.rsplit_once(':') {
            Some((h, p))
                if p.bytes().all(|b| b.is_ascii_digit()) && !h.ends_with(']')
                    || u.host.starts_with('[') =>
            {
                h.trim_start_matches('[').trim_end_matches(']').to_string()
            }
            _ => u.host.clone(),
        };
        let m = Map::new();
        m.insert("scheme", Value::from(u.scheme.clone()));
        m.insert("host", Value::from(u.host.clone()));
        m.insert("hostname", Value::from(hostname));
        m.insert("path", Value::from(u.path.clone()));
        m.insert("query", Value::from(u.raw_query.clone()));
        m.insert("opaque", Value::from(u.opaque.clone()));
        m.insert("fragment", Value::from(u.fragment.clone()));
        m.insert(
            "userinfo",
            Value::from(u.userinfo.clone().unwrap_or_default()),
        );
        Ok(Value::Map(m))
    });
    func(t, "derivePassword", 5, Some(5), |a| {
        let counter = arg_int(a, 0)?;
        let counter = u32::try_from(counter).map_err(|_| {
            FuncError::Call(format!(
                "derivePassword: counter {counter} is out of range; use 0 to 4294967295"
            ))
        })?;
        Ok(Value::from(derive_password(
            counter,
            arg_str(a, 1)?,
            arg_str(a, 2)?,
            arg_str(a, 3)?,
            arg_str(a, 4)?,
        )))
    });
    func(t, "bcrypt", 1, Some(1), |a| {
        Ok(Value::from(bcrypt_hash(arg_str(a, 0)?)))
    });
    func(t, "htpasswd", 3, Some(3), |a| {
        Ok(Value::from(htpasswd(
            arg_str(a, 0)?,
            arg_str(a, 1)?,
            arg_str(a, 2)?,
        )))
    });
    func(t, "encryptAES", 2, Some(2), |a| {
        Ok(Value::from(encrypt_aes(arg_str(a, 0)?, arg_str(a, 1)?)))
    });
    func(t, "decryptAES", 2, Some(2), |a| {
        decrypt_aes(arg_str(a, 0)?, arg_str(a, 1)?)
            .map(Value::from)
            .map_err(FuncError::Call)
    });
    super::func_raw(t, "urlJoin", 1, Some(1), |a| {
        let d = arg_map(a, 0)?.unwrap_or_default();
        let get = |k: &str| d.get(k).map(|v| strval(&v)).unwrap_or_default();
        let ui = get("userinfo");
        let u = Url {
            scheme: get("scheme"),
            host: get("host"),
            path: get("path"),
            raw_query: get("query"),
            opaque: get("opaque"),
            fragment: get("fragment"),
            userinfo: (!ui.is_empty()).then_some(ui),
        };
        Ok(Value::from(url_string(&u)))
    });
}

/// Master Password (Lyndir) site-password templates, by Sprig's type names.
fn password_templates(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "maximum" => &["anoxxxxxxxxxxxxxxxxx", "axxxxxxxxxxxxxxxxxno"],
        "long" => &[
            "CvcvnoCvcvCvcv",
            "CvcvCvcvnoCvcv",
            "CvcvCvcvCvcvno",
            "CvccnoCvcvCvcv",
            "CvccCvcvnoCvcv",
            "CvccCvcvCvcvno",
            "CvcvnoCvccCvcv",
            "CvcvCvccnoCvcv",
            "CvcvCvccCvcvno",
            "CvcvnoCvcvCvcc",
            "CvcvCvcvnoCvcc",
            "CvcvCvcvCvccno",
            "CvccnoCvccCvcv",
            "CvccCvccnoCvcv",
            "CvccCvccCvcvno",
            "CvcvnoCvccCvcc",
            "CvcvCvccnoCvcc",
            "CvcvCvccCvccno",
            "CvccnoCvcvCvcc",
            "CvccCvcvnoCvcc",
            "CvccCvcvCvccno",
        ],
        "medium" => &["CvcnoCvc", "CvcCvcno"],
        "short" => &["Cvcn"],
        "basic" => &["aaanaaan", "aannaaan", "aaannaaa"],
        "pin" => &["nnnn"],
        _ => return None,
    })
}

/// The character class each template letter draws from.
fn template_chars(class: u8) -> &'static [u8] {
    match class {
        b'V' => b"AEIOU",
        b'C' => b"BCDFGHJKLMNPQRSTVWXYZ",
        b'v' => b"aeiou",
        b'c' => b"bcdfghjklmnpqrstvwxyz",
        b'A' => b"AEIOUBCDFGHJKLMNPQRSTVWXYZ",
        b'a' => b"AEIOUaeiouBCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz",
        b'n' => b"0123456789",
        b'o' => b"@&%?,=[]_:-+*$#!'^~;()/.",
        _ => b"AEIOUaeiouBCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz0123456789!@#$%^&*()",
    }
}

const MASTER_PASSWORD_SEED: &[u8] = b"com.lyndir.masterpassword";

/// Sprig's `derivePassword` (Master Password algorithm): the master key is
/// scrypt(password, seed ‖ len(user) ‖ user; N=32768, r=8, p=2, 64 bytes),
/// the site seed HMAC-SHA256(key, seed ‖ len(site) ‖ site ‖ counter) (lengths
/// and counter big-endian u32), and the seed bytes pick a template and then
/// one character per template letter. Like Sprig, failures come back as text.
fn derive_password(counter: u32, kind: &str, password: &str, user: &str, site: &str) -> String {
    let Some(templates) = password_templates(kind) else {
        return format!("cannot find password template {kind}");
    };
    // Go writes len() as uint32, wrapping for (absurd) >4 GiB inputs; same here.
    let len32 = |s: &str| (s.len() as u32).to_be_bytes();
    let mut salt = MASTER_PASSWORD_SEED.to_vec();
    salt.extend_from_slice(&len32(user));
    salt.extend_from_slice(user.as_bytes());
    let mut key = [0u8; 64];
    let derived = scrypt::Params::new(15, 8, 2)
        .map_err(|e| e.to_string())
        .and_then(|p| {
            scrypt::scrypt(password.as_bytes(), &salt, &p, &mut key).map_err(|e| e.to_string())
        });
    if let Err(e) = derived {
        return format!("failed to derive password: {e}");
    }
    let mut msg = MASTER_PASSWORD_SEED.to_vec();
    msg.extend_from_slice(&len32(site));
    msg.extend_from_slice(site.as_bytes());
    msg.extend_from_slice(&counter.to_be_bytes());
    let tag = ring::hmac::sign(&ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key), &msg);
    let seed = tag.as_ref();
    let template = templates[usize::from(seed[0]) % templates.len()];
    template
        .bytes()
        .zip(&seed[1..])
        .map(|(class, &b)| {
            let chars = template_chars(class);
            char::from(chars[usize::from(b) % chars.len()])
        })
        .collect()
}

/// Go's `bcrypt.DefaultCost`, which Sprig uses.
const BCRYPT_COST: u32 = 10;

/// Sprig's `bcrypt`: a `$2a$` hash (the version Go's x/crypto writes) with a
/// random salt. Like Go, passwords over 72 bytes are refused rather than
/// silently truncated, and like Sprig the failure is returned as the text.
fn bcrypt_hash(password: &str) -> String {
    match bcrypt::non_truncating_hash_with_result(password, BCRYPT_COST) {
        Ok(parts) => parts.format_for_version(bcrypt::Version::TwoA),
        Err(bcrypt::BcryptError::Truncation(_)) => {
            "failed to encrypt string with bcrypt: bcrypt: password length exceeds 72 bytes".into()
        }
        Err(e) => format!("failed to encrypt string with bcrypt: {e}"),
    }
}

/// Sprig's `htpasswd`: `user:{SHA}base64(sha1)` for "sha", else a bcrypt
/// line. A user name with ':' would corrupt the file, so Sprig returns a
/// message instead of a line; we do the same.
pub fn htpasswd(user: &str, password: &str, algorithm: &str) -> String {
    if user.contains(':') {
        return format!("invalid username: {user}");
    }
    if algorithm == "sha" {
        let d = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, password.as_bytes());
        let b = base64::engine::general_purpose::STANDARD.encode(d.as_ref());
        return format!("{user}:{{SHA}}{b}");
    }
    format!("{user}:{}", bcrypt_hash(password))
}

/// Sprig's key derivation: the password bytes copied into a zeroed 32-byte
/// array (truncated if longer), giving AES-256.
fn aes_key(password: &str) -> [u8; 32] {
    let mut key = [0u8; 32];
    let n = password.len().min(32);
    key[..n].copy_from_slice(&password.as_bytes()[..n]);
    key
}

const AES_BLOCK: usize = 16;

/// AES-256-CBC with PKCS#7 padding and a random IV prepended, base64 (std)
/// encoded, as Sprig's `encryptAES`. The empty plaintext encrypts to "".
fn encrypt_aes(password: &str, plaintext: &str) -> String {
    use aes::cipher::{BlockEncryptMut, KeyIvInit, block_padding::NoPadding};
    use rand::RngCore;
    if plaintext.is_empty() {
        return String::new();
    }
    let pad = AES_BLOCK - plaintext.len() % AES_BLOCK;
    let mut buf = vec![0u8; AES_BLOCK];
    rand::thread_rng().fill_bytes(&mut buf);
    let iv: [u8; AES_BLOCK] = std::array::from_fn(|i| buf[i]);
    buf.extend_from_slice(plaintext.as_bytes());
    buf.extend(std::iter::repeat_n(pad as u8, pad));
    let body_len = buf.len() - AES_BLOCK;
    let enc = cbc::Encryptor::<aes::Aes256>::new(&aes_key(password).into(), &iv.into());
    // The body is a whole number of blocks by construction, so NoPadding
    // cannot fail; the padding was added by hand above to match Sprig.
    if enc
        .encrypt_padded_mut::<NoPadding>(&mut buf[AES_BLOCK..], body_len)
        .is_err()
    {
        return String::new();
    }
    base64::engine::general_purpose::STANDARD.encode(buf)
}

/// The inverse of [`encrypt_aes`]. Like Sprig, the padding length is taken
/// from the last byte without checking the padding bytes, so a wrong password
/// yields garbage rather than an error; malformed input (which makes Sprig
/// panic) is reported as an error instead.
fn decrypt_aes(password: &str, crypt64: &str) -> Result<String, String> {
    use aes::cipher::{BlockDecryptMut, KeyIvInit, block_padding::NoPadding};
    if crypt64.is_empty() {
        return Ok(String::new());
    }
    let mut crypt = base64::engine::general_purpose::STANDARD
        .decode(crypt64)
        .map_err(|e| go_b64_error(&e))?;
    if crypt.len() < 2 * AES_BLOCK || !crypt.len().is_multiple_of(AES_BLOCK) {
        return Err(format!(
            "decryptAES: ciphertext is {} bytes; expected a 16-byte IV plus a whole, non-empty number of 16-byte blocks (was it made by encryptAES?)",
            crypt.len()
        ));
    }
    let iv: [u8; AES_BLOCK] = std::array::from_fn(|i| crypt[i]);
    let dec = cbc::Decryptor::<aes::Aes256>::new(&aes_key(password).into(), &iv.into());
    let body = dec
        .decrypt_padded_mut::<NoPadding>(&mut crypt[AES_BLOCK..])
        .map_err(|_| "decryptAES: ciphertext is not a whole number of blocks".to_string())?;
    let pad = usize::from(body[body.len() - 1]);
    if pad > body.len() {
        return Err(format!(
            "decryptAES: padding length {pad} exceeds the {} decrypted bytes (wrong password or corrupted data)",
            body.len()
        ));
    }
    Ok(String::from_utf8_lossy(&body[..body.len() - pad]).into_owned())
}

fn go_b64_error(e: &base64::DecodeError) -> String {
    match e {
        base64::DecodeError::InvalidByte(i, _) | base64::DecodeError::InvalidLastSymbol(i, _) => {
            format!("illegal base64 data at input byte {i}")
        }
        base64::DecodeError::InvalidLength(n) => format!("illegal base64 data at input byte {n}"),
        base64::DecodeError::InvalidPadding => "illegal base64 data at input byte 0".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings() {
        assert_eq!(b32enc(b"coffee"), "MNXWMZTFMU======");
        assert_eq!(b32dec("MNXWMZTFMU======").ok(), Some(b"coffee".to_vec()));
        assert_eq!(adler32(b"Wikipedia"), 300_286_872);
        let u = uuidv4();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
    }

    #[test]
    fn aes_round_trip() {
        for (pw, msg) in [
            ("secretkey", "plaintext"),
            ("", "exactly sixteen!"),
            (
                "a password longer than thirty-two bytes, truncated",
                "héllo wörld",
            ),
        ] {
            let c = encrypt_aes(pw, msg);
            assert_ne!(c, msg);
            let raw = base64::engine::general_purpose::STANDARD
                .decode(&c)
                .unwrap_or_default();
            // IV plus padded body: a full extra block when already aligned.
            assert_eq!(raw.len(), 16 + (msg.len() / 16 + 1) * 16);
            assert_eq!(decrypt_aes(pw, &c).as_deref(), Ok(msg));
        }
        // A fresh IV each time.
        assert_ne!(encrypt_aes("k", "m"), encrypt_aes("k", "m"));
        assert_eq!(encrypt_aes("k", ""), "");
        assert_eq!(decrypt_aes("k", "").as_deref(), Ok(""));
        assert!(decrypt_aes("k", "not base64!").is_err());
        assert!(decrypt_aes("k", "AAAA").is_err());
    }

    #[test]
    fn aes_decrypts_openssl_vector() {
        // From `openssl enc -aes-256-cbc` with key "secretkey" zero-padded to
        // 32 bytes, IV 00..0f prepended, PKCS#7 padding: an independent
        // implementation of the same format.
        let c = "AAECAwQFBgcICQoLDA0OD4aChIkqfhLglmmHSXlA6r0=";
        assert_eq!(decrypt_aes("secretkey", c).as_deref(), Ok("plaintext"));
        assert_ne!(decrypt_aes("wrongkey", c).as_deref(), Ok("plaintext"));
    }

    #[test]
    fn bcrypt_and_htpasswd() {
        let h = bcrypt_hash("s3cret");
        assert!(h.starts_with("$2a$10$"), "{h}");
        assert_eq!(h.len(), 60);
        assert!(matches!(bcrypt::verify("s3cret", &h), Ok(true)));
        assert!(matches!(bcrypt::verify("other", &h), Ok(false)));
        assert!(bcrypt_hash(&"x".repeat(73)).contains("exceeds 72 bytes"));

        // `htpasswd -nbs user password` writes this line.
        assert_eq!(
            htpasswd("user", "password", "sha"),
            "user:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g="
        );
        assert_eq!(htpasswd("a:b", "p", "sha"), "invalid username: a:b");
        let line = htpasswd("user", "pw", "bcrypt");
        let hash = line.strip_prefix("user:").unwrap_or_default();
        assert!(matches!(bcrypt::verify("pw", hash), Ok(true)), "{line}");
    }

    #[test]
    fn derive_password_matches_sprig_vectors() {
        // Sprig's own expectations (TestDerivePassword).
        for (counter, kind, want) in [
            (1, "long", "ZedaFaxcZaso9*"),
            (2, "long", "Fovi2@JifpTupx"),
            (1, "maximum", "pf4zS1LjCg&LjhsZ7T2~"),
            (1, "medium", "ZedJuz8$"),
            (1, "basic", "pIS54PLs"),
            (1, "short", "Zed5"),
            (1, "pin", "6685"),
        ] {
            assert_eq!(
                derive_password(counter, kind, "password", "user", "example.com"),
                want,
                "{counter} {kind}"
            );
        }
        assert_eq!(
            derive_password(1, "huge", "p", "u", "s"),
            "cannot find password template huge"
        );
    }
}
