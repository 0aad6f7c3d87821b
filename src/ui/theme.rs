//! Colours and symbols. Every theme uses only the 16 ANSI colours so it reads the same on any
//! terminal an operator SSHes from; `mono` (also chosen when `NO_COLOR` is set) uses no colour at
//! all and relies on bold/reverse/underline, and the status symbols carry the meaning.

use ratatui::style::{Color, Modifier, Style};

use crate::engine::api::{HealthStatus, ResourceState, SyncStatus};

/// Errors choosing a theme.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ThemeError {
    #[error("unknown ui.theme {0:?} in config: use \"default\", \"light\" or \"mono\"")]
    Unknown(String),
}

/// Resolved styles for every element the UI draws.
#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    pub name: &'static str,
    pub base: Style,
    pub title: Style,
    pub border: Style,
    pub border_focus: Style,
    pub header: Style,
    pub selected: Style,
    pub dim: Style,
    pub key: Style,
    pub group: Style,
    pub ok: Style,
    pub warn: Style,
    pub error: Style,
    pub info: Style,
    pub progress: Style,
    pub suspended: Style,
    pub diff_add: Style,
    pub diff_del: Style,
    pub diff_hunk: Style,
    pub diff_fold: Style,
    pub search_hit: Style,
    pub button: Style,
    pub button_focus: Style,
    pub danger_focus: Style,
    pub symbols: Symbols,
}

/// Status symbols; the ASCII set keeps meaning on terminals without Unicode fonts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Symbols {
    pub synced: &'static str,
    pub out_of_sync: &'static str,
    pub unknown: &'static str,
    pub healthy: &'static str,
    pub progressing: &'static str,
    pub degraded: &'static str,
    pub missing: &'static str,
    pub suspended: &'static str,
    pub created: &'static str,
    pub pruned: &'static str,
    pub modified: &'static str,
    pub tree_mid: &'static str,
    pub tree_last: &'static str,
    pub tree_pipe: &'static str,
    pub arrow: &'static str,
    pub fold: &'static str,
    pub check_on: &'static str,
    pub check_off: &'static str,
    pub spinner: &'static [&'static str],
}

pub const UNICODE: Symbols = Symbols {
    synced: "✓",
    out_of_sync: "≠",
    unknown: "?",
    healthy: "♥",
    progressing: "◐",
    degraded: "✗",
    missing: "∅",
    suspended: "‖",
    created: "+",
    pruned: "-",
    modified: "~",
    tree_mid: "├─ ",
    tree_last: "└─ ",
    tree_pipe: "│  ",
    arrow: "→",
    fold: "⋯",
    check_on: "[x]",
    check_off: "[ ]",
    spinner: &["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"],
};

pub const ASCII: Symbols = Symbols {
    synced: "=",
    out_of_sync: "!",
    unknown: "?",
    healthy: "+",
    progressing: "~",
    degraded: "x",
    missing: "0",
    suspended: "|",
    created: "+",
    pruned: "-",
    modified: "~",
    tree_mid: "|- ",
    tree_last: "`- ",
    tree_pipe: "|  ",
    arrow: "->",
    fold: "...",
    check_on: "[x]",
    check_off: "[ ]",
    spinner: &["|", "/", "-", "\\"],
};

impl Theme {
    /// The theme named in config, forced to `mono` when `no_color` (the `NO_COLOR` convention:
    /// any non-empty value disables colour).
    pub fn from_config(name: &str, ascii: bool, no_color: bool) -> Result<Self, ThemeError> {
        let symbols = if ascii { ASCII } else { UNICODE };
        let theme = match name {
            "default" | "" => Self::dark(symbols),
            "light" => Self::light(symbols),
            "mono" => Self::mono(symbols),
            other => return Err(ThemeError::Unknown(other.to_string())),
        };
        Ok(if no_color { Self::mono(symbols) } else { theme })
    }

    /// `NO_COLOR` set to a non-empty value.
    pub fn no_color_env() -> bool {
        std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
    }

    pub fn dark(symbols: Symbols) -> Self {
        Self {
            name: "default",
            base: Style::default(),
            title: Style::default()
                .fg(Color::LightCyan)
                .add_modifier(Modifier::BOLD),
            border: Style::default().fg(Color::DarkGray),
            border_focus: Style::default().fg(Color::Cyan),
            header: Style::default()
                .fg(Color::White)
                .add_modifier(Modifier::BOLD),
            selected: Style::default()
                .bg(Color::Blue)
                .fg(Color::White)
                .add_modifier(Modifier::BOLD),
            dim: Style::default().fg(Color::DarkGray),
            key: Style::default()
                .fg(Color::LightYellow)
                .add_modifier(Modifier::BOLD),
            group: Style::default()
                .fg(Color::LightMagenta)
                .add_modifier(Modifier::BOLD),
            ok: Style::default().fg(Color::Green),
            warn: Style::default().fg(Color::Yellow),
            error: Style::default().fg(Color::LightRed),
            info: Style::default().fg(Color::Cyan),
            progress: Style::default().fg(Color::LightBlue),
            suspended: Style::default().fg(Color::Magenta),
            diff_add: Style::default().fg(Color::Green),
            diff_del: Style::default().fg(Color::Red),
            diff_hunk: Style::default().fg(Color::Cyan),
            diff_fold: Style::default()
                .fg(Color::DarkGray)
                .add_modifier(Modifier::ITALIC),
            search_hit: Style::default().bg(Color::Yellow).fg(Color::Black),
            button: Style::default().fg(Color::Gray),
            button_focus: Style::default()
                .bg(Color::White)
                .fg(Color::Black)
                .add_modifier(Modifier::BOLD),
            danger_focus: Style::default()
                .bg(Color::Red)
                .fg(Color::White)
                .add_modifier(Modifier::BOLD),
            symbols,
        }
    }

    pub fn light(symbols: Symbols) -> Self {
        Self {
            name: "light",
            title: Style::default()
                .fg(Color::Blue)
                .add_modifier(Modifier::BOLD),
            border: Style::default().fg(Color::Gray),
            border_focus: Style::default().fg(Color::Blue),
            header: Style::default()
                .fg(Color::Black)
                .add_modifier(Modifier::BOLD),
            selected: Style::default()
                .bg(Color::LightBlue)
                .fg(Color::Black)
                .add_modifier(Modifier::BOLD),
            dim: Style::default().fg(Color::Gray),
            key: Style::default()
                .fg(Color::Magenta)
                .add_modifier(Modifier::BOLD),
            group: Style::default()
                .fg(Color::Magenta)
                .add_modifier(Modifier::BOLD),
            ok: Style::default().fg(Color::Green),
            warn: Style::default().fg(Color::Yellow),
            error: Style::default().fg(Color::Red),
            info: Style::default().fg(Color::Blue),
            progress: Style::default().fg(Color::Blue),
            button: Style::default().fg(Color::Black),
            button_focus: Style::default()
                .bg(Color::Black)
                .fg(Color::White)
                .add_modifier(Modifier::BOLD),
            ..Self::dark(symbols)
        }
        .named("light")
    }

    pub fn mono(symbols: Symbols) -> Self {
        let plain = Style::default();
        let bold = plain.add_modifier(Modifier::BOLD);
        Self {
            name: "mono",
            base: plain,
            title: bold,
            border: plain,
            border_focus: bold,
            header: bold.add_modifier(Modifier::UNDERLINED),
            selected: plain.add_modifier(Modifier::REVERSED),
            dim: plain,
            key: bold,
            group: bold,
            ok: plain,
            warn: bold,
            error: bold,
            info: plain,
            progress: plain,
            suspended: plain,
            diff_add: bold,
            diff_del: plain,
            diff_hunk: plain.add_modifier(Modifier::UNDERLINED),
            diff_fold: plain,
            search_hit: plain.add_modifier(Modifier::REVERSED),
            button: plain,
            button_focus: plain.add_modifier(Modifier::REVERSED),
            danger_focus: bold.add_modifier(Modifier::REVERSED),
            symbols,
        }
    }

    fn named(mut self, name: &'static str) -> Self {
        self.name = name;
        self
    }

    pub fn sync_style(&self, s: SyncStatus) -> Style {
        match s {
            SyncStatus::Synced => self.ok,
            SyncStatus::OutOfSync => self.warn,
            SyncStatus::Unknown => self.dim,
        }
    }

    pub fn sync_symbol(&self, s: SyncStatus) -> &'static str {
        match s {
            SyncStatus::Synced => self.symbols.synced,
            SyncStatus::OutOfSync => self.symbols.out_of_sync,
            SyncStatus::Unknown => self.symbols.unknown,
        }
    }

    pub fn health_style(&self, h: HealthStatus) -> Style {
        match h {
            HealthStatus::Healthy => self.ok,
            HealthStatus::Suspended => self.suspended,
            HealthStatus::Progressing => self.progress,
            HealthStatus::Missing => self.warn,
            HealthStatus::Degraded => self.error,
            HealthStatus::Unknown => self.dim,
        }
    }

    pub fn health_symbol(&self, h: HealthStatus) -> &'static str {
        match h {
            HealthStatus::Healthy => self.symbols.healthy,
            HealthStatus::Suspended => self.symbols.suspended,
            HealthStatus::Progressing => self.symbols.progressing,
            HealthStatus::Missing => self.symbols.missing,
            HealthStatus::Degraded => self.symbols.degraded,
            HealthStatus::Unknown => self.symbols.unknown,
        }
    }

    /// Mark and style of a changed resource in the diff list.
    pub fn change_mark(&self, s: ResourceState) -> (&'static str, Style) {
        match s {
            ResourceState::Missing => (self.symbols.created, self.diff_add),
            ResourceState::Extra => (self.symbols.pruned, self.diff_del),
            ResourceState::OutOfSync => (self.symbols.modified, self.warn),
            ResourceState::Synced | ResourceState::Child | ResourceState::Unknown => {
                (" ", self.dim)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_forces_mono() {
        let t = Theme::from_config("default", false, true).unwrap();
        assert_eq!(t.name, "mono");
        assert_eq!(t.ok.fg, None);
        let t = Theme::from_config("light", true, false).unwrap();
        assert_eq!(t.name, "light");
        assert_eq!(t.symbols.synced, "=");
    }

    #[test]
    fn unknown_theme_is_an_error_naming_the_choices() {
        let e = Theme::from_config("solarized", false, false).unwrap_err();
        assert!(e.to_string().contains("\"default\", \"light\" or \"mono\""));
    }

    #[test]
    fn themes_use_only_the_16_ansi_colours() {
        for t in [
            Theme::dark(UNICODE),
            Theme::light(UNICODE),
            Theme::mono(ASCII),
        ] {
            let styles = [
                t.base,
                t.title,
                t.border,
                t.header,
                t.selected,
                t.dim,
                t.key,
                t.ok,
                t.warn,
                t.error,
                t.info,
                t.progress,
                t.diff_add,
                t.diff_del,
                t.diff_hunk,
                t.search_hit,
                t.button_focus,
                t.danger_focus,
            ];
            for s in styles {
                for c in [s.fg, s.bg].into_iter().flatten() {
                    assert!(
                        !matches!(c, Color::Rgb(..) | Color::Indexed(_)),
                        "{} uses {c:?}",
                        t.name
                    );
                }
            }
        }
    }
}
