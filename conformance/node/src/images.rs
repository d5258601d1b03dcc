//! Which local program stands in for which container image.
//!
//! The node pulls nothing: a pod's image is looked up in [`IMAGES`] by repository (any tag or
//! digest), and the row says which program on this machine runs instead and how the
//! container's `command` and `args` reach it. An image in no row leaves its pod Pending with
//! `ErrImagePull`, naming the images that are known, so a missing mapping is never mistaken for
//! a broken workload. `docs/local-cluster.md` shows the same table for users.

use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::Container;

/// What runs in place of an image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Program {
    /// Upstream's echo-basic, built from the pinned conformance module (`gatesim tools`).
    EchoBasic,
    /// A process that does nothing and stays running (`sleep infinity`), so the pod is Ready.
    Stub,
    /// The Envoy binary the rest of gatesim uses.
    Envoy,
    /// A shell image: `command[0]` is found on this machine's PATH.
    HostCommand,
    /// The reference controller, `gatesim-controller` beside the running `gatesim`.
    GatesimController,
}

/// One row of the mapping.
#[derive(Debug)]
pub struct ImageRule {
    /// Normalized repositories (`docker.io/library/busybox`, not `busybox`).
    pub repositories: &'static [&'static str],
    pub program: Program,
    /// Names `command[0]` may have in the image; they are replaced by the local program.
    pub entrypoints: &'static [&'static str],
    pub note: &'static str,
}

/// The table. Keep `docs/local-cluster.md` in step.
pub const IMAGES: &[ImageRule] = &[
    ImageRule {
        repositories: &[
            "registry.k8s.io/gateway-api/echo-basic",
            "gcr.io/k8s-staging-gateway-api/echo-basic",
        ],
        program: Program::EchoBasic,
        entrypoints: &["/echo-basic", "echo-basic"],
        note: "upstream echo-basic v1.6.1 serves every tag",
    },
    ImageRule {
        repositories: &["registry.k8s.io/coredns/coredns"],
        program: Program::Stub,
        entrypoints: &["/coredns", "coredns"],
        note: "not run: a stub keeps the pod Ready (UDPRoute is not claimed)",
    },
    ImageRule {
        repositories: &[
            "docker.io/envoyproxy/envoy",
            "docker.io/envoyproxy/envoy-distroless",
            "docker.io/gatesim/envoy",
        ],
        program: Program::Envoy,
        entrypoints: &["envoy", "/usr/local/bin/envoy"],
        note: "the Envoy gatesim uses ($GATESIM_ENVOY, PATH or the cached wheel)",
    },
    ImageRule {
        repositories: &[
            "docker.io/library/busybox",
            "registry.k8s.io/e2e-test-images/busybox",
        ],
        program: Program::HostCommand,
        entrypoints: &[],
        note: "command[0] from this machine's PATH (sh, cat, env, sleep ...)",
    },
    ImageRule {
        repositories: &[
            "ghcr.io/gatesim/gatesim-controller",
            "docker.io/gatesim/controller",
        ],
        program: Program::GatesimController,
        entrypoints: &[
            "gatesim-controller",
            "/gatesim-controller",
            "/usr/local/bin/gatesim-controller",
        ],
        note: "gatesim-controller from the directory of the running gatesim",
    },
];

/// The local programs the rows point at, as far as this machine has them.
#[derive(Clone, Debug, Default)]
pub struct Programs {
    pub echo_basic: Option<PathBuf>,
    pub envoy: Option<PathBuf>,
    pub gatesim_controller: Option<PathBuf>,
}

/// A container's process: the program and its arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exec {
    pub program: PathBuf,
    pub args: Vec<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ImageError {
    #[error(
        "image {image:?} is not mapped to a local program by the simulated node; known images: {}",
        known_repositories().join(", ")
    )]
    NotMapped { image: String },
    #[error("image {image:?} maps to {what}, which this machine does not have: {hint}")]
    Missing {
        image: String,
        what: &'static str,
        hint: &'static str,
    },
    #[error("image {image:?} has no command {command:?} (it runs {known:?})")]
    NoSuchCommand {
        image: String,
        command: String,
        known: Vec<&'static str>,
    },
    #[error("image {image:?}: command {command:?} is not on this machine's PATH")]
    NotOnPath { image: String, command: String },
}

/// Every repository of the table, for messages.
pub fn known_repositories() -> Vec<&'static str> {
    IMAGES
        .iter()
        .flat_map(|r| r.repositories.iter().copied())
        .collect()
}

/// `busybox:1.36` → `docker.io/library/busybox`; tags and digests are dropped.
pub fn repository(image: &str) -> String {
    let without_digest = image.split('@').next().unwrap_or(image);
    let last_slash = without_digest.rfind('/').map_or(0, |i| i + 1);
    let repo = match without_digest[last_slash..].rfind(':') {
        Some(colon) => &without_digest[..last_slash + colon],
        None => without_digest,
    };
    let mut parts = repo.splitn(2, '/');
    let first = parts.next().unwrap_or_default();
    match parts.next() {
        None => format!("docker.io/library/{first}"),
        Some(rest) if first.contains('.') || first.contains(':') || first == "localhost" => {
            format!("{first}/{rest}")
        }
        Some(_) => format!("docker.io/{repo}"),
    }
}

pub fn rule_for(image: &str) -> Option<&'static ImageRule> {
    let repo = repository(image);
    IMAGES
        .iter()
        .find(|r| r.repositories.contains(&repo.as_str()))
}

/// What runs for this container, or why nothing can.
pub fn resolve(container: &Container, programs: &Programs) -> Result<Exec, ImageError> {
    let image = container.image.clone().unwrap_or_default();
    let rule = rule_for(&image).ok_or_else(|| ImageError::NotMapped {
        image: image.clone(),
    })?;
    let command = container.command.clone().unwrap_or_default();
    let args = container.args.clone().unwrap_or_default();
    let missing = |what, hint| ImageError::Missing {
        image: image.clone(),
        what,
        hint,
    };
    // An explicit command must name the image's own entrypoint; the rest of it stays.
    let replaced_command = |rule: &ImageRule| -> Result<Vec<String>, ImageError> {
        match command.split_first() {
            None => Ok(args.clone()),
            Some((first, rest)) if rule.entrypoints.contains(&first.as_str()) => {
                Ok(rest.iter().chain(&args).cloned().collect())
            }
            Some((first, _)) => Err(ImageError::NoSuchCommand {
                image: image.clone(),
                command: first.clone(),
                known: rule.entrypoints.to_vec(),
            }),
        }
    };
    match rule.program {
        Program::EchoBasic => Ok(Exec {
            program: programs.echo_basic.clone().ok_or_else(|| {
                missing(
                    "upstream echo-basic",
                    "build it with `gatesim tools build conformance`",
                )
            })?,
            args: replaced_command(rule)?,
        }),
        Program::Stub => {
            replaced_command(rule)?;
            Ok(Exec {
                program: find_on_path("sleep")
                    .ok_or_else(|| missing("sleep", "install coreutils"))?,
                args: vec!["infinity".to_owned()],
            })
        }
        Program::Envoy => {
            let envoy = programs.envoy.clone().ok_or_else(|| {
                missing(
                    "Envoy",
                    "set $GATESIM_ENVOY or let gatesim install the wheel",
                )
            })?;
            let mut rest = replaced_command(rule)?;
            // The image's entrypoint script accepts `envoy ...` as well as bare flags.
            if command.is_empty() && rest.first().is_some_and(|a| a == "envoy") {
                rest.remove(0);
            }
            if command.is_empty() && args.is_empty() {
                rest = vec!["-c".to_owned(), "/etc/envoy/envoy.yaml".to_owned()];
            }
            Ok(Exec {
                program: envoy,
                args: rest,
            })
        }
        Program::GatesimController => Ok(Exec {
            program: programs.gatesim_controller.clone().ok_or_else(|| {
                missing(
                    "gatesim-controller",
                    "build it with `cargo build -p gatesim-reference`",
                )
            })?,
            args: replaced_command(rule)?,
        }),
        Program::HostCommand => {
            let mut argv: Vec<String> = command.iter().chain(&args).cloned().collect();
            if argv.is_empty() {
                argv.push("sh".to_owned());
            }
            let first = argv.remove(0);
            let program = if first.contains('/') {
                PathBuf::from(&first)
            } else {
                find_on_path(&first).ok_or_else(|| ImageError::NotOnPath {
                    image: image.clone(),
                    command: first.clone(),
                })?
            };
            Ok(Exec {
                program,
                args: argv,
            })
        }
    }
}

/// The first executable `name` on PATH.
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(image: &str, command: &[&str], args: &[&str]) -> Container {
        let strings = |v: &[&str]| {
            (!v.is_empty()).then(|| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
        };
        Container {
            name: "c".to_owned(),
            image: Some(image.to_owned()),
            command: strings(command),
            args: strings(args),
            ..Container::default()
        }
    }

    fn programs() -> Programs {
        Programs {
            echo_basic: Some(PathBuf::from("/tools/echo-basic")),
            envoy: Some(PathBuf::from("/tools/envoy")),
            gatesim_controller: Some(PathBuf::from("/tools/gatesim-controller")),
        }
    }

    #[test]
    fn repositories_are_normalized_as_docker_does() {
        assert_eq!(repository("busybox"), "docker.io/library/busybox");
        assert_eq!(repository("busybox:1.36"), "docker.io/library/busybox");
        assert_eq!(
            repository("envoyproxy/envoy:v1.40.0"),
            "docker.io/envoyproxy/envoy"
        );
        assert_eq!(
            repository("registry.k8s.io/gateway-api/echo-basic:v1.5.1"),
            "registry.k8s.io/gateway-api/echo-basic"
        );
        assert_eq!(
            repository("localhost:5000/x/y:tag@sha256:abc"),
            "localhost:5000/x/y"
        );
    }

    #[test]
    fn every_echo_basic_tag_runs_upstream_echo_basic_with_its_args() {
        for image in [
            "registry.k8s.io/gateway-api/echo-basic:v1.5.1",
            "registry.k8s.io/gateway-api/echo-basic:v1.6.0-dev.3",
            "gcr.io/k8s-staging-gateway-api/echo-basic:v20240412-v1.0.0-394-g40c666fd",
        ] {
            let exec = resolve(&container(image, &[], &["-x"]), &programs()).unwrap();
            assert_eq!(exec.program, PathBuf::from("/tools/echo-basic"), "{image}");
            assert_eq!(exec.args, vec!["-x"]);
        }
    }

    #[test]
    fn coredns_becomes_a_stub_that_ignores_its_arguments() {
        let exec = resolve(
            &container(
                "registry.k8s.io/coredns/coredns:v1.12.2",
                &[],
                &["-conf", "/root/Corefile"],
            ),
            &programs(),
        )
        .unwrap();
        assert!(exec.program.ends_with("sleep"), "{exec:?}");
        assert_eq!(exec.args, vec!["infinity"]);
    }

    #[test]
    fn envoy_takes_the_command_tail_or_the_images_default() {
        let exec = resolve(
            &container("envoyproxy/envoy:v1.40.0", &["envoy", "-c", "/x.yaml"], &[]),
            &programs(),
        )
        .unwrap();
        assert_eq!(exec.args, vec!["-c", "/x.yaml"]);
        let exec = resolve(
            &container("envoyproxy/envoy:v1.40.0", &[], &[]),
            &programs(),
        )
        .unwrap();
        assert_eq!(exec.args, vec!["-c", "/etc/envoy/envoy.yaml"]);
    }

    #[test]
    fn the_project_images_run_the_local_envoy_and_controller() {
        let exec = resolve(
            &container(
                "gatesim/envoy:1.40.0",
                &[],
                &["-c", "/etc/envoy/envoy.yaml"],
            ),
            &programs(),
        )
        .unwrap();
        assert_eq!(exec.program, PathBuf::from("/tools/envoy"));
        assert_eq!(exec.args, vec!["-c", "/etc/envoy/envoy.yaml"]);
        let exec = resolve(
            &container(
                "gatesim/controller:0.1.0",
                &[],
                &["run", "--infra", "kubernetes"],
            ),
            &programs(),
        )
        .unwrap();
        assert_eq!(exec.program, PathBuf::from("/tools/gatesim-controller"));
        assert_eq!(exec.args, vec!["run", "--infra", "kubernetes"]);
    }

    #[test]
    fn unknown_images_name_the_known_ones() {
        let err = resolve(&container("nginx:1.27", &[], &[]), &programs()).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("not mapped"), "{text}");
        assert!(
            text.contains("registry.k8s.io/gateway-api/echo-basic"),
            "{text}"
        );
    }

    #[test]
    fn a_command_the_image_lacks_is_refused() {
        let err = resolve(
            &container(
                "registry.k8s.io/gateway-api/echo-basic:v1.5.1",
                &["/bin/sh"],
                &[],
            ),
            &programs(),
        )
        .unwrap_err();
        assert!(matches!(err, ImageError::NoSuchCommand { .. }), "{err}");
    }

    #[test]
    fn shell_images_run_host_commands() {
        let exec = resolve(
            &container("busybox", &["sh", "-c", "true"], &[]),
            &programs(),
        )
        .unwrap();
        assert!(exec.program.ends_with("sh"));
        assert_eq!(exec.args, vec!["-c", "true"]);
        let err = resolve(
            &container("busybox", &["no-such-command-here"], &[]),
            &programs(),
        )
        .unwrap_err();
        assert!(matches!(err, ImageError::NotOnPath { .. }), "{err}");
    }

    #[test]
    fn a_program_this_machine_lacks_is_named() {
        let without = Programs {
            gatesim_controller: None,
            ..programs()
        };
        let err = resolve(
            &container("ghcr.io/gatesim/gatesim-controller:v1", &[], &[]),
            &without,
        )
        .unwrap_err();
        assert!(err.to_string().contains("gatesim-controller"), "{err}");
    }
}
