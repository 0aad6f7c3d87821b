//! health (in progress).
