//! Native Helm v3 chart renderer.
