//! Packaging a chart directory as `helm package` / `helm dependency build` do for `file://`
//! dependencies: the chart's files (its own `.helmignore` applied) under `<name>/` in a gzip
//! tar archive, so the parent's `.helmignore` does not apply to them.

use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;

/// A `.tgz` of `files` under the top directory `name`.
pub fn package(name: &str, files: &helmchart::ChartFiles) -> std::io::Result<Vec<u8>> {
    let mut tar = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::fast()));
    for (path, data) in files.iter() {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut header, format!("{name}/{path}"), &data[..])?;
    }
    let mut gz = tar.into_inner()?;
    gz.flush()?;
    gz.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packaged_chart_loads_back() {
        let files = helmchart::ChartFiles::from_map([
            (
                "Chart.yaml",
                b"apiVersion: v2\nname: lib\nversion: 1.2.3\n".to_vec(),
            ),
            ("templates/cm.yaml", b"kind: ConfigMap\n".to_vec()),
        ])
        .unwrap();
        let tgz = package("lib", &files).unwrap();
        let back = helmchart::ChartFiles::from_tgz(&tgz).unwrap();
        assert!(back.get("templates/cm.yaml").is_some());
        let chart = helmchart::Chart::load(&back).unwrap();
        assert_eq!(chart.metadata.version, "1.2.3");
    }
}
