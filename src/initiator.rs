//! Who is operating: `user@host`, recorded in history and operation records and shown in locks.
//!
//! `$USER` is not set everywhere sextant runs (tmux started from a service, cron, systemd
//! units), so the account name falls back to the operating system's user database (getpwuid),
//! and the host name to gethostname, before anything says `unknown`.

/// `user@host` of this process.
pub fn initiator() -> String {
    let env = |k: &str| std::env::var(k).ok();
    format!(
        "{}@{}",
        user_name(env("USER"), env("USERNAME"), account_name()),
        host_name()
    )
}

/// `$USER`, else `$USERNAME` (Windows), else the OS account, else `unknown`; empty values do not
/// count.
pub fn user_name(user: Option<String>, username: Option<String>, os: Option<String>) -> String {
    [user, username, os]
        .into_iter()
        .flatten()
        .map(|s| s.trim().to_string())
        .find(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// The name of the account this process runs as, from the user database (`getpwuid_r`).
#[cfg(unix)]
pub fn account_name() -> Option<String> {
    // SAFETY: getpwuid_r only writes into `pwd` and `buf`, both owned here and sized as passed;
    // `pw_name` points into `buf` and is copied out before `buf` is dropped.
    unsafe {
        let uid = libc::geteuid();
        let mut buf = vec![0 as libc::c_char; 4096];
        let mut pwd: libc::passwd = std::mem::zeroed();
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        let rc = libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr(), buf.len(), &mut result);
        if rc != 0 || result.is_null() || pwd.pw_name.is_null() {
            return None;
        }
        let name = std::ffi::CStr::from_ptr(pwd.pw_name)
            .to_string_lossy()
            .into_owned();
        (!name.is_empty()).then_some(name)
    }
}

#[cfg(not(unix))]
pub fn account_name() -> Option<String> {
    None
}

/// The host name: gethostname, else `/etc/hostname`, else `$HOSTNAME`, else `localhost`.
pub fn host_name() -> String {
    os_host_name()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

#[cfg(unix)]
fn os_host_name() -> Option<String> {
    let mut buf = vec![0u8; 256];
    // SAFETY: gethostname writes at most `buf.len()` bytes into `buf`, which is owned here.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return None;
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8(buf[..end].to_vec()).ok()
}

#[cfg(not(unix))]
fn os_host_name() -> Option<String> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Option<String> {
        Some(v.to_string())
    }

    #[test]
    fn user_name_prefers_the_environment_then_the_account() {
        assert_eq!(user_name(s("alice"), s("bob"), s("carol")), "alice");
        assert_eq!(user_name(None, s("bob"), s("carol")), "bob");
        assert_eq!(user_name(None, None, s("carol")), "carol");
        assert_eq!(user_name(s(""), s(" "), s("carol")), "carol");
        assert_eq!(user_name(None, None, None), "unknown");
    }

    /// The account name agrees with what `id -un` (the same user database) says.
    #[cfg(unix)]
    #[test]
    fn account_name_is_the_os_account() {
        let out = std::process::Command::new("id")
            .arg("-un")
            .output()
            .expect("run id -un");
        assert!(out.status.success(), "id -un failed");
        let expected = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert_eq!(account_name().as_deref(), Some(expected.as_str()));
    }

    #[cfg(unix)]
    #[test]
    fn host_name_is_the_os_host_name() {
        let out = std::process::Command::new("hostname")
            .output()
            .expect("run hostname");
        let expected = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert_eq!(host_name(), expected);
    }
}
