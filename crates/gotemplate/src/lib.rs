pub fn placeholder_crate_root() {}
