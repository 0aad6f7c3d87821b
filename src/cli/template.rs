//! `sextant template [NAME] CHART [flags]`: `helm template` without helm. The flags, the
//! output on stdout, the `Error: …` text on stderr and the exit status are helm v3.22's; the
//! work is `helmchart::cli::template`, the same code the conformance suites check.

use std::io::Write;
use std::process::ExitCode;

const HELP: &str = "Render chart templates locally and display the output, like `helm template` (Helm v3.22),
without a helm binary.

Usage:
  sextant template [NAME] [CHART] [flags]

Flags:
  -a, --api-versions strings     Kubernetes api versions used for Capabilities.APIVersions
      --debug                    on a YAML error, print the rendered manifests too
  -g, --generate-name            generate the name (and omit the NAME parameter)
      --include-crds             include CRDs in the templated output
      --is-upgrade               set .Release.IsUpgrade instead of .Release.IsInstall
      --kube-version string      Kubernetes version used for Capabilities.KubeVersion (default v1.36.0)
      --name-template string     specify template used to name the release
  -n, --namespace string         namespace (.Release.Namespace, default \"default\")
      --no-hooks                 prevent hooks from being printed
      --output-dir string        writes the executed templates to files in output-dir instead of stdout
      --post-renderer string     refused: post-renderers need the helm binary
      --release-name             use release name in the output-dir path
      --set stringArray          set values on the command line (key1=val1,key2=val2)
      --set-file stringArray     set values from files (key1=path1,key2=path2)
      --set-json stringArray     set JSON values on the command line (key1=jsonval1)
      --set-literal stringArray  set a literal STRING value on the command line
      --set-string stringArray   set STRING values on the command line
  -s, --show-only stringArray    only show manifests rendered from the given templates
      --skip-crds                accepted (no CRDs are installed by a template run)
      --skip-schema-validation   disable JSON schema validation
      --skip-tests               skip tests from templated output
  -f, --values strings           specify values in a YAML file (can specify multiple)
";

/// Runs the command with `args` (after `template`) and returns its exit status.
pub fn run(args: &[String]) -> ExitCode {
    if args.iter().any(|a| a == "-h" || a == "--help") {
        print!("{HELP}");
        return ExitCode::SUCCESS;
    }
    let cwd = std::env::current_dir().unwrap_or_else(|_| ".".into());
    let out = helmchart::cli::template(args, &cwd, helmchart::HelmFlavor::V3);
    // A closed stdout (e.g. `| head`) is not an error worth reporting.
    let _ = std::io::stdout().lock().write_all(out.stdout.as_bytes());
    let _ = std::io::stderr().lock().write_all(out.stderr.as_bytes());
    if out.code == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(u8::try_from(out.code).unwrap_or(1))
    }
}
