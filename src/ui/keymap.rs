//! Keys → actions, remappable in config (`[ui.keys] sync = "S"`). The help screen is generated
//! from the same table, so what it lists is exactly what the keys do.

use std::collections::BTreeMap;
use std::fmt;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Something a key can do. Text input (filter, palette, dialogs) bypasses the keymap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyAction {
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    Enter,
    Back,
    Quit,
    NextPane,
    PrevPane,
    Sync,
    Rollback,
    Promote,
    Diff,
    AutoSync,
    Refresh,
    Filter,
    Palette,
    Help,
    Logs,
    NextMatch,
    PrevMatch,
    /// An extra key supplied by the embedding program (the demo's "manual change").
    Extra(usize),
}

impl KeyAction {
    /// Name used in `[ui.keys]`.
    pub fn config_name(self) -> &'static str {
        match self {
            KeyAction::Up => "up",
            KeyAction::Down => "down",
            KeyAction::PageUp => "page_up",
            KeyAction::PageDown => "page_down",
            KeyAction::Top => "top",
            KeyAction::Bottom => "bottom",
            KeyAction::Enter => "open",
            KeyAction::Back => "back",
            KeyAction::Quit => "quit",
            KeyAction::NextPane => "next_pane",
            KeyAction::PrevPane => "prev_pane",
            KeyAction::Sync => "sync",
            KeyAction::Rollback => "rollback",
            KeyAction::Promote => "promote",
            KeyAction::Diff => "diff",
            KeyAction::AutoSync => "autosync",
            KeyAction::Refresh => "refresh",
            KeyAction::Filter => "filter",
            KeyAction::Palette => "palette",
            KeyAction::Help => "help",
            KeyAction::Logs => "logs",
            KeyAction::NextMatch => "next_match",
            KeyAction::PrevMatch => "prev_match",
            KeyAction::Extra(_) => "extra",
        }
    }

    /// What the action does, for help.
    pub fn describe(self) -> &'static str {
        match self {
            KeyAction::Up => "move up",
            KeyAction::Down => "move down",
            KeyAction::PageUp => "page up",
            KeyAction::PageDown => "page down",
            KeyAction::Top => "first row",
            KeyAction::Bottom => "last row",
            KeyAction::Enter => "open / drill in",
            KeyAction::Back => "back / close",
            KeyAction::Quit => "quit",
            KeyAction::NextPane => "next pane",
            KeyAction::PrevPane => "previous pane",
            KeyAction::Sync => "sync (preview, options, confirm)",
            KeyAction::Rollback => "roll back to a history entry",
            KeyAction::Promote => "promote values between envs",
            KeyAction::Diff => "show the diff",
            KeyAction::AutoSync => "toggle auto-sync (stored in cluster)",
            KeyAction::Refresh => "hard refresh (fetch + re-render)",
            KeyAction::Filter => "filter / search",
            KeyAction::Palette => "command palette",
            KeyAction::Help => "this help",
            KeyAction::Logs => "toggle the log pane",
            KeyAction::NextMatch => "next search match",
            KeyAction::PrevMatch => "previous search match",
            KeyAction::Extra(_) => "extra",
        }
    }

    /// Changes the cluster or the repository: hidden and refused with `--readonly`.
    pub fn is_mutating(self) -> bool {
        matches!(
            self,
            KeyAction::Sync | KeyAction::Rollback | KeyAction::Promote | KeyAction::AutoSync
        )
    }

    const BINDABLE: [KeyAction; 23] = [
        KeyAction::Up,
        KeyAction::Down,
        KeyAction::PageUp,
        KeyAction::PageDown,
        KeyAction::Top,
        KeyAction::Bottom,
        KeyAction::Enter,
        KeyAction::Back,
        KeyAction::Quit,
        KeyAction::NextPane,
        KeyAction::PrevPane,
        KeyAction::Sync,
        KeyAction::Rollback,
        KeyAction::Promote,
        KeyAction::Diff,
        KeyAction::AutoSync,
        KeyAction::Refresh,
        KeyAction::Filter,
        KeyAction::Palette,
        KeyAction::Help,
        KeyAction::Logs,
        KeyAction::NextMatch,
        KeyAction::PrevMatch,
    ];
}

/// A key with modifiers, as written in config: `S`, `ctrl-s`, `f5`, `enter`, `pgdn`, `space`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub code: KeyCodeOrd,
    pub ctrl: bool,
    pub alt: bool,
}

/// `KeyCode` subset that is orderable (for stable help output).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyCodeOrd {
    Char(char),
    F(u8),
    Enter,
    Esc,
    Tab,
    BackTab,
    Up,
    Down,
    Left,
    Right,
    PageUp,
    PageDown,
    Home,
    End,
    Backspace,
    Delete,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeymapError {
    #[error(
        "config [ui.keys]: unknown action {0:?}\n  actions: up, down, page_up, page_down, top, bottom, open, back, quit, next_pane, prev_pane, sync, rollback, promote, diff, autosync, refresh, filter, palette, help, logs, next_match, prev_match"
    )]
    UnknownAction(String),
    #[error(
        "config [ui.keys] {action} = {key:?}: not a key\n  write a character (\"S\"), a named key (enter, esc, tab, up, pgdn, f5, space) or ctrl-/alt- plus one of those"
    )]
    BadKey { action: String, key: String },
    #[error(
        "config [ui.keys]: {key} is bound to both {first} and {second}\n  give one of them another key"
    )]
    Conflict {
        key: String,
        first: String,
        second: String,
    },
}

impl Key {
    pub const fn ch(c: char) -> Self {
        Self {
            code: KeyCodeOrd::Char(c),
            ctrl: false,
            alt: false,
        }
    }

    pub const fn named(code: KeyCodeOrd) -> Self {
        Self {
            code,
            ctrl: false,
            alt: false,
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        let mut ctrl = false;
        let mut alt = false;
        let mut rest = s;
        loop {
            let lower = rest.to_ascii_lowercase();
            if let Some(r) = lower.strip_prefix("ctrl-").or(lower.strip_prefix("c-")) {
                ctrl = true;
                rest = &rest[rest.len() - r.len()..];
            } else if let Some(r) = lower.strip_prefix("alt-").or(lower.strip_prefix("m-")) {
                alt = true;
                rest = &rest[rest.len() - r.len()..];
            } else {
                break;
            }
        }
        let mut chars = rest.chars();
        let code = match (chars.next(), chars.next()) {
            (Some(c), None) => KeyCodeOrd::Char(if ctrl { c.to_ascii_lowercase() } else { c }),
            _ => match rest.to_ascii_lowercase().as_str() {
                "enter" | "return" => KeyCodeOrd::Enter,
                "esc" | "escape" => KeyCodeOrd::Esc,
                "tab" => KeyCodeOrd::Tab,
                "backtab" | "shift-tab" => KeyCodeOrd::BackTab,
                "up" => KeyCodeOrd::Up,
                "down" => KeyCodeOrd::Down,
                "left" => KeyCodeOrd::Left,
                "right" => KeyCodeOrd::Right,
                "pgup" | "pageup" => KeyCodeOrd::PageUp,
                "pgdn" | "pagedown" => KeyCodeOrd::PageDown,
                "home" => KeyCodeOrd::Home,
                "end" => KeyCodeOrd::End,
                "backspace" => KeyCodeOrd::Backspace,
                "delete" | "del" => KeyCodeOrd::Delete,
                "space" => KeyCodeOrd::Char(' '),
                f if f.starts_with('f') => {
                    let n: u8 = f[1..].parse().ok()?;
                    if !(1..=12).contains(&n) {
                        return None;
                    }
                    KeyCodeOrd::F(n)
                }
                _ => return None,
            },
        };
        Some(Self { code, ctrl, alt })
    }

    /// The key of a terminal event (shift is folded into the character).
    pub fn from_event(ev: &KeyEvent) -> Option<Self> {
        let code = match ev.code {
            KeyCode::Char(c) => KeyCodeOrd::Char(c),
            KeyCode::F(n) => KeyCodeOrd::F(n),
            KeyCode::Enter => KeyCodeOrd::Enter,
            KeyCode::Esc => KeyCodeOrd::Esc,
            KeyCode::Tab => KeyCodeOrd::Tab,
            KeyCode::BackTab => KeyCodeOrd::BackTab,
            KeyCode::Up => KeyCodeOrd::Up,
            KeyCode::Down => KeyCodeOrd::Down,
            KeyCode::Left => KeyCodeOrd::Left,
            KeyCode::Right => KeyCodeOrd::Right,
            KeyCode::PageUp => KeyCodeOrd::PageUp,
            KeyCode::PageDown => KeyCodeOrd::PageDown,
            KeyCode::Home => KeyCodeOrd::Home,
            KeyCode::End => KeyCodeOrd::End,
            KeyCode::Backspace => KeyCodeOrd::Backspace,
            KeyCode::Delete => KeyCodeOrd::Delete,
            _ => return None,
        };
        Some(Self {
            code,
            ctrl: ev.modifiers.contains(KeyModifiers::CONTROL),
            alt: ev.modifiers.contains(KeyModifiers::ALT),
        })
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ctrl {
            f.write_str("ctrl-")?;
        }
        if self.alt {
            f.write_str("alt-")?;
        }
        match self.code {
            KeyCodeOrd::Char(' ') => f.write_str("space"),
            KeyCodeOrd::Char(c) => write!(f, "{c}"),
            KeyCodeOrd::F(n) => write!(f, "F{n}"),
            KeyCodeOrd::Enter => f.write_str("enter"),
            KeyCodeOrd::Esc => f.write_str("esc"),
            KeyCodeOrd::Tab => f.write_str("tab"),
            KeyCodeOrd::BackTab => f.write_str("shift-tab"),
            KeyCodeOrd::Up => f.write_str("↑"),
            KeyCodeOrd::Down => f.write_str("↓"),
            KeyCodeOrd::Left => f.write_str("←"),
            KeyCodeOrd::Right => f.write_str("→"),
            KeyCodeOrd::PageUp => f.write_str("pgup"),
            KeyCodeOrd::PageDown => f.write_str("pgdn"),
            KeyCodeOrd::Home => f.write_str("home"),
            KeyCodeOrd::End => f.write_str("end"),
            KeyCodeOrd::Backspace => f.write_str("backspace"),
            KeyCodeOrd::Delete => f.write_str("del"),
        }
    }
}

/// The bindings in effect.
#[derive(Debug, Clone, PartialEq)]
pub struct Keymap {
    bindings: BTreeMap<Key, KeyAction>,
}

impl Default for Keymap {
    fn default() -> Self {
        use KeyCodeOrd as K;
        let mut bindings = BTreeMap::new();
        let mut bind = |k: Key, a: KeyAction| {
            bindings.insert(k, a);
        };
        bind(Key::ch('k'), KeyAction::Up);
        bind(Key::named(K::Up), KeyAction::Up);
        bind(Key::ch('j'), KeyAction::Down);
        bind(Key::named(K::Down), KeyAction::Down);
        bind(Key::named(K::PageUp), KeyAction::PageUp);
        bind(Key::named(K::PageDown), KeyAction::PageDown);
        bind(Key::ch('g'), KeyAction::Top);
        bind(Key::named(K::Home), KeyAction::Top);
        bind(Key::ch('G'), KeyAction::Bottom);
        bind(Key::named(K::End), KeyAction::Bottom);
        bind(Key::named(K::Enter), KeyAction::Enter);
        bind(Key::named(K::Esc), KeyAction::Back);
        bind(Key::ch('q'), KeyAction::Quit);
        bind(Key::named(K::Tab), KeyAction::NextPane);
        bind(Key::named(K::Right), KeyAction::NextPane);
        bind(Key::named(K::BackTab), KeyAction::PrevPane);
        bind(Key::named(K::Left), KeyAction::PrevPane);
        bind(Key::ch('s'), KeyAction::Sync);
        bind(Key::ch('r'), KeyAction::Rollback);
        bind(Key::ch('p'), KeyAction::Promote);
        bind(Key::ch('d'), KeyAction::Diff);
        bind(Key::ch('a'), KeyAction::AutoSync);
        bind(Key::ch('R'), KeyAction::Refresh);
        bind(Key::ch('/'), KeyAction::Filter);
        bind(Key::ch(':'), KeyAction::Palette);
        bind(Key::ch('?'), KeyAction::Help);
        bind(Key::ch('L'), KeyAction::Logs);
        bind(Key::ch('n'), KeyAction::NextMatch);
        bind(Key::ch('N'), KeyAction::PrevMatch);
        Self { bindings }
    }
}

impl Keymap {
    /// Defaults, then each `[ui.keys] action = "key"` entry: the new key replaces the action's
    /// default keys (so the old letter becomes free), and a key bound twice is an error.
    pub fn from_config(keys: &BTreeMap<String, String>) -> Result<Self, KeymapError> {
        let mut map = Self::default();
        let mut assigned: BTreeMap<Key, String> = BTreeMap::new();
        for (action_name, key_text) in keys {
            let action = KeyAction::BINDABLE
                .iter()
                .copied()
                .find(|a| a.config_name() == action_name.as_str())
                .ok_or_else(|| KeymapError::UnknownAction(action_name.clone()))?;
            let key = Key::parse(key_text).ok_or_else(|| KeymapError::BadKey {
                action: action_name.clone(),
                key: key_text.clone(),
            })?;
            if let Some(first) = assigned.get(&key) {
                return Err(KeymapError::Conflict {
                    key: key.to_string(),
                    first: first.clone(),
                    second: action_name.clone(),
                });
            }
            assigned.insert(key, action_name.clone());
            map.bindings.retain(|_, a| *a != action);
            map.bindings.insert(key, action);
        }
        // A remapped key may have displaced a default binding of another action; that action
        // keeps its other default keys (e.g. arrows), which is what users expect.
        Ok(map)
    }

    /// Add an embedder-provided key (refused if it is taken).
    pub fn bind_extra(&mut self, key: Key, index: usize) -> Result<(), KeymapError> {
        if let Some(existing) = self.bindings.get(&key) {
            return Err(KeymapError::Conflict {
                key: key.to_string(),
                first: existing.config_name().to_string(),
                second: "extra".into(),
            });
        }
        self.bindings.insert(key, KeyAction::Extra(index));
        Ok(())
    }

    pub fn action(&self, ev: &KeyEvent) -> Option<KeyAction> {
        let key = Key::from_event(ev)?;
        // Shift is not part of `Key`: terminals report `R` as `Char('R')` with or without the
        // SHIFT modifier, so the character alone decides.
        self.bindings.get(&key).copied()
    }

    /// All keys bound to `action`, for help: `j ↓`.
    pub fn keys_for(&self, action: KeyAction) -> String {
        let keys: Vec<String> = self
            .bindings
            .iter()
            .filter(|(_, a)| **a == action)
            .map(|(k, _)| k.to_string())
            .collect();
        keys.join(" ")
    }

    /// The first key of `action`, for hints (`s sync`).
    pub fn first_key(&self, action: KeyAction) -> String {
        self.bindings
            .iter()
            .find(|(_, a)| **a == action)
            .map(|(k, _)| k.to_string())
            .unwrap_or_else(|| "-".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(c: KeyCode, m: KeyModifiers) -> KeyEvent {
        KeyEvent::new(c, m)
    }

    #[test]
    fn defaults_follow_k9s_conventions() {
        let k = Keymap::default();
        assert_eq!(
            k.action(&ev(KeyCode::Char('j'), KeyModifiers::NONE)),
            Some(KeyAction::Down)
        );
        assert_eq!(
            k.action(&ev(KeyCode::Char('R'), KeyModifiers::SHIFT)),
            Some(KeyAction::Refresh)
        );
        assert_eq!(
            k.action(&ev(KeyCode::Esc, KeyModifiers::NONE)),
            Some(KeyAction::Back)
        );
        assert_eq!(k.keys_for(KeyAction::Down), "j ↓");
    }

    #[test]
    fn remap_replaces_the_default_key() {
        let mut cfg = BTreeMap::new();
        cfg.insert("sync".to_string(), "ctrl-s".to_string());
        let k = Keymap::from_config(&cfg).unwrap();
        assert_eq!(k.action(&ev(KeyCode::Char('s'), KeyModifiers::NONE)), None);
        assert_eq!(
            k.action(&ev(KeyCode::Char('s'), KeyModifiers::CONTROL)),
            Some(KeyAction::Sync)
        );
        assert_eq!(k.keys_for(KeyAction::Sync), "ctrl-s");
    }

    #[test]
    fn config_errors_are_explained() {
        let mut cfg = BTreeMap::new();
        cfg.insert("synk".to_string(), "S".to_string());
        assert!(matches!(
            Keymap::from_config(&cfg),
            Err(KeymapError::UnknownAction(_))
        ));
        let mut cfg = BTreeMap::new();
        cfg.insert("sync".to_string(), "hyper-x".to_string());
        let e = Keymap::from_config(&cfg).unwrap_err();
        assert!(e.to_string().contains("not a key"), "{e}");
        let mut cfg = BTreeMap::new();
        cfg.insert("sync".to_string(), "x".to_string());
        cfg.insert("diff".to_string(), "x".to_string());
        assert!(matches!(
            Keymap::from_config(&cfg),
            Err(KeymapError::Conflict { .. })
        ));
    }

    #[test]
    fn key_parse_round_trip() {
        for s in ["S", "ctrl-s", "f5", "enter", "pgdn", "space", "alt-x"] {
            let k = Key::parse(s).unwrap();
            let again = Key::parse(&k.to_string()).unwrap();
            assert_eq!(k, again, "{s}");
        }
        assert_eq!(Key::parse("f13"), None);
        assert_eq!(Key::parse(""), None);
    }

    #[test]
    fn extra_keys_cannot_shadow_actions() {
        let mut k = Keymap::default();
        assert!(k.bind_extra(Key::ch('s'), 0).is_err());
        k.bind_extra(Key::ch('m'), 0).unwrap();
        assert_eq!(
            k.action(&ev(KeyCode::Char('m'), KeyModifiers::NONE)),
            Some(KeyAction::Extra(0))
        );
    }
}
