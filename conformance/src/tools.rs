//! Go-built test tooling, pinned by the wrapper modules under `tools/` and cached in
//! `<cache>/tools/<name>-<version>/`: etcd, kube-apiserver and kube-controller-manager for
//! the local cluster, and upstream's conformance test binary, echo-basic and CRDs.
//!
//! The module files are compiled into gatesim, so a build needs only Go and the module proxy.
//! A tool is built once; a later call finds it (a stamp of the module files says whether the
//! cached build still matches them). Go's build cache is left where Go keeps it, so a rebuild
//! after the cache directory was cleared is a relink.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Instant;

use crate::file_error::FileError;
use crate::report::terminal::human;

/// The wrapper module of one tool, as files.
struct Module {
    go_mod: &'static str,
    go_sum: &'static str,
    tools_go: Option<&'static str>,
}

/// How an artifact comes to be.
#[derive(Debug, Clone, Copy)]
enum Recipe {
    /// `go build` of a main package.
    Binary {
        package: &'static str,
        ldflags: &'static str,
    },
    /// `go test -c` of a package: the compiled test binary.
    TestBinary { package: &'static str },
    /// A directory copied out of a module in the module cache.
    ModuleDir {
        module: &'static str,
        path: &'static str,
    },
}

/// One file or directory a tool provides.
#[derive(Debug, Clone, Copy)]
pub struct Artifact {
    pub file: &'static str,
    recipe: Recipe,
}

/// A pinned tool.
pub struct Tool {
    pub name: &'static str,
    pub version: &'static str,
    module: Module,
    pub artifacts: &'static [Artifact],
}

const KUBE_LDFLAGS: &str = "-s -w -X k8s.io/component-base/version.gitVersion=v1.36.3 \
     -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=36";

pub const ETCD: Tool = Tool {
    name: "etcd",
    version: "v3.6.17",
    module: Module {
        go_mod: include_str!("../../tools/etcd/go.mod"),
        go_sum: include_str!("../../tools/etcd/go.sum"),
        tools_go: None,
    },
    artifacts: &[Artifact {
        file: "etcd",
        recipe: Recipe::Binary {
            package: "go.etcd.io/etcd/server/v3",
            ldflags: "-s -w",
        },
    }],
};

pub const CONTROL_PLANE: Tool = Tool {
    name: "controlplane",
    version: "v1.36.3",
    module: Module {
        go_mod: include_str!("../../tools/controlplane/go.mod"),
        go_sum: include_str!("../../tools/controlplane/go.sum"),
        tools_go: None,
    },
    artifacts: &[
        Artifact {
            file: "kube-apiserver",
            recipe: Recipe::Binary {
                package: "k8s.io/kubernetes/cmd/kube-apiserver",
                ldflags: KUBE_LDFLAGS,
            },
        },
        Artifact {
            file: "kube-controller-manager",
            recipe: Recipe::Binary {
                package: "k8s.io/kubernetes/cmd/kube-controller-manager",
                ldflags: KUBE_LDFLAGS,
            },
        },
    ],
};

pub const CONFORMANCE: Tool = Tool {
    name: "conformance",
    version: "v1.6.1",
    module: Module {
        go_mod: include_str!("../../tools/conformance/go.mod"),
        go_sum: include_str!("../../tools/conformance/go.sum"),
        tools_go: Some(include_str!("../../tools/conformance/tools.go")),
    },
    artifacts: &[
        Artifact {
            file: "echo-basic",
            recipe: Recipe::Binary {
                package: "sigs.k8s.io/gateway-api/conformance/echo-basic",
                ldflags: "-s -w",
            },
        },
        Artifact {
            file: "crds",
            recipe: Recipe::ModuleDir {
                module: "sigs.k8s.io/gateway-api@v1.6.1",
                path: "config/crd",
            },
        },
        Artifact {
            file: "conformance.test",
            recipe: Recipe::TestBinary {
                package: "sigs.k8s.io/gateway-api/conformance",
            },
        },
    ],
};

pub const ALL: [&Tool; 3] = [&ETCD, &CONTROL_PLANE, &CONFORMANCE];

#[derive(Debug, thiserror::Error)]
pub enum ToolsError {
    #[error(
        "Go is needed to build {what} (set $GATESIM_GO or put `go` on PATH; the module proxy must be reachable)"
    )]
    NoGo { what: String },
    #[error("building {what} failed ({command}); the last lines of {log}:\n{tail}")]
    Build {
        what: String,
        command: String,
        log: PathBuf,
        tail: String,
    },
    #[error(transparent)]
    File(#[from] FileError),
    #[error("unknown tool {0:?} (known: etcd, controlplane, conformance)")]
    Unknown(String),
    #[error("tool {tool} has no artifact {file:?}")]
    UnknownArtifact { tool: &'static str, file: String },
}

impl ToolsError {
    /// Whether the machine simply lacks Go (tests skip then, unless everything is required).
    pub fn is_missing_go(&self) -> bool {
        matches!(self, ToolsError::NoGo { .. })
    }
}

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> ToolsError + use<> {
    FileError::at(what, path)
}

/// `<cache>/tools`.
pub fn tools_dir() -> PathBuf {
    gatesim_reference::infra::envoy::cache_dir().join("tools")
}

pub fn by_name(name: &str) -> Result<&'static Tool, ToolsError> {
    ALL.into_iter()
        .find(|t| t.name == name)
        .ok_or_else(|| ToolsError::Unknown(name.to_owned()))
}

/// The Go binary: `$GATESIM_GO`, `go` on PATH, or Go's usual install location.
pub fn go_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("GATESIM_GO") {
        return Some(PathBuf::from(path));
    }
    gatesim_node::images::find_on_path("go")
        .or_else(|| Some(PathBuf::from("/usr/local/go/bin/go")).filter(|p| p.exists()))
}

impl Tool {
    pub fn dir(&self) -> PathBuf {
        tools_dir().join(format!("{}-{}", self.name, self.version))
    }

    pub fn path(&self, file: &str) -> PathBuf {
        self.dir().join(file)
    }

    fn artifact(&self, file: &str) -> Result<&'static Artifact, ToolsError> {
        self.artifacts
            .iter()
            .find(|a| a.file == file)
            .ok_or_else(|| ToolsError::UnknownArtifact {
                tool: self.name,
                file: file.to_owned(),
            })
    }

    /// A fingerprint of the module files: a cached build made from other files is stale.
    fn stamp(&self) -> String {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        let text = [
            self.module.go_mod,
            self.module.go_sum,
            self.module.tools_go.unwrap_or_default(),
        ];
        for byte in text.iter().flat_map(|t| t.bytes().chain([0])) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        format!("{hash:016x}\n")
    }

    fn stamp_path(&self) -> PathBuf {
        self.dir().join(".module-stamp")
    }

    /// Whether `file` is built from the current module files.
    pub fn has(&self, file: &str) -> bool {
        self.path(file).exists()
            && std::fs::read_to_string(self.stamp_path()).is_ok_and(|s| s == self.stamp())
    }

    /// Builds whichever of `files` (all artifacts when empty) are missing, and returns their
    /// paths. Concurrent callers wait for each other on a lock file.
    pub fn ensure(
        &self,
        files: &[&str],
        progress: &dyn Fn(&str),
    ) -> Result<Vec<PathBuf>, ToolsError> {
        let wanted: Vec<&Artifact> = if files.is_empty() {
            self.artifacts.iter().collect()
        } else {
            files
                .iter()
                .map(|f| self.artifact(f))
                .collect::<Result<_, _>>()?
        };
        let paths: Vec<PathBuf> = wanted.iter().map(|a| self.path(a.file)).collect();
        if wanted.iter().all(|a| self.has(a.file)) {
            return Ok(paths);
        }
        let root = tools_dir();
        std::fs::create_dir_all(&root).map_err(io("creating", &root))?;
        let lock_path = root.join(format!(".lock-{}-{}", self.name, self.version));
        let lock = File::create(&lock_path).map_err(io("creating", &lock_path))?;
        lock.lock().map_err(io("locking", &lock_path))?;
        // Another process may have built them while this one waited.
        let stale = std::fs::read_to_string(self.stamp_path()).is_ok_and(|s| s != self.stamp());
        if stale {
            progress(&format!(
                "{} {}: the pinned modules changed; rebuilding",
                self.name, self.version
            ));
            let dir = self.dir();
            std::fs::remove_dir_all(&dir).map_err(io("clearing", &dir))?;
        }
        let missing: Vec<&Artifact> = wanted.into_iter().filter(|a| !self.has(a.file)).collect();
        if missing.is_empty() {
            return Ok(paths);
        }
        let go = go_binary()
            .filter(|g| g.exists())
            .ok_or_else(|| ToolsError::NoGo {
                what: format!("{} {}", self.name, self.version),
            })?;
        let source = self.write_module()?;
        let dir = self.dir();
        std::fs::create_dir_all(&dir).map_err(io("creating", &dir))?;
        for artifact in missing {
            let started = Instant::now();
            progress(&format!(
                "building {} {} ({}) with {}: {}",
                self.name,
                self.version,
                artifact.file,
                go.display(),
                expectation(artifact)
            ));
            self.build(&go, &source, artifact)?;
            progress(&format!(
                "built {} in {}",
                artifact.file,
                human(started.elapsed())
            ));
        }
        let stamp = self.stamp_path();
        std::fs::write(&stamp, self.stamp()).map_err(io("writing", &stamp))?;
        drop(lock);
        Ok(paths)
    }

    /// The wrapper module, written out where Go can build from it.
    fn write_module(&self) -> Result<PathBuf, ToolsError> {
        let source = tools_dir()
            .join("src")
            .join(format!("{}-{}", self.name, self.version));
        std::fs::create_dir_all(&source).map_err(io("creating", &source))?;
        let files = [
            ("go.mod", Some(self.module.go_mod)),
            ("go.sum", Some(self.module.go_sum)),
            ("tools.go", self.module.tools_go),
        ];
        for (name, text) in files {
            let path = source.join(name);
            match text {
                Some(text) => std::fs::write(&path, text).map_err(io("writing", &path))?,
                None => {
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        Ok(source)
    }

    fn build(&self, go: &Path, source: &Path, artifact: &Artifact) -> Result<(), ToolsError> {
        let logs = tools_dir().join("logs");
        std::fs::create_dir_all(&logs).map_err(io("creating", &logs))?;
        let log = logs.join(format!(
            "{}-{}-{}.log",
            self.name, self.version, artifact.file
        ));
        let target = self.path(artifact.file);
        let partial = self.dir().join(format!(".{}.partial", artifact.file));
        let mut args: Vec<String> = match artifact.recipe {
            Recipe::Binary { package, ldflags } => vec![
                "build".into(),
                "-trimpath".into(),
                format!("-ldflags={ldflags}"),
                "-o".into(),
                partial.to_string_lossy().into_owned(),
                package.into(),
            ],
            Recipe::TestBinary { package } => vec![
                "test".into(),
                "-c".into(),
                "-trimpath".into(),
                "-ldflags=-s -w".into(),
                "-o".into(),
                partial.to_string_lossy().into_owned(),
                package.into(),
            ],
            Recipe::ModuleDir { module, .. } => {
                vec![
                    "mod".into(),
                    "download".into(),
                    "-json".into(),
                    module.into(),
                ]
            }
        };
        args.retain(|a| !a.is_empty());
        let log_file = File::create(&log).map_err(io("creating", &log))?;
        let stderr = log_file.try_clone().map_err(io("opening", &log))?;
        let is_download = matches!(artifact.recipe, Recipe::ModuleDir { .. });
        let mut cmd = std::process::Command::new(go);
        cmd.args(&args)
            .current_dir(source)
            .env("CGO_ENABLED", "0")
            .stdin(Stdio::null())
            .stderr(stderr);
        if is_download {
            cmd.stdout(Stdio::piped());
        } else {
            cmd.stdout(log_file);
        }
        let command = format!("go {}", args.join(" "));
        let output = cmd.output().map_err(|e| ToolsError::Build {
            what: artifact.file.to_owned(),
            command: command.clone(),
            log: log.clone(),
            tail: e.to_string(),
        })?;
        if !output.status.success() {
            return Err(ToolsError::Build {
                what: artifact.file.to_owned(),
                command,
                tail: tail(&log, 20),
                log,
            });
        }
        if let Recipe::ModuleDir { path, .. } = artifact.recipe {
            let json: serde_json::Value =
                serde_json::from_slice(&output.stdout).unwrap_or_default();
            let dir = json
                .get("Dir")
                .and_then(serde_json::Value::as_str)
                .ok_or_else(|| ToolsError::Build {
                    what: artifact.file.to_owned(),
                    command: command.clone(),
                    log: log.clone(),
                    tail: String::from_utf8_lossy(&output.stdout).into_owned(),
                })?;
            let _ = std::fs::remove_dir_all(&partial);
            copy_tree(&Path::new(dir).join(path), &partial)?;
        }
        if target.is_dir() {
            std::fs::remove_dir_all(&target).map_err(io("replacing", &target))?;
        }
        std::fs::rename(&partial, &target).map_err(io("installing", &target))
    }
}

fn expectation(artifact: &Artifact) -> &'static str {
    match artifact.recipe {
        Recipe::ModuleDir { .. } => "a download",
        _ => {
            "several minutes the first time on a small machine, a relink with Go's build cache warm"
        }
    }
}

/// Copies a directory tree (the module cache's files are read-only; copies are writable).
fn copy_tree(from: &Path, to: &Path) -> Result<(), ToolsError> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::create_dir_all(to).map_err(io("creating", to))?;
    for entry in std::fs::read_dir(from).map_err(io("reading", from))? {
        let entry = entry.map_err(io("reading", from))?;
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        if src.is_dir() {
            copy_tree(&src, &dst)?;
        } else {
            std::fs::copy(&src, &dst).map_err(io("copying", &src))?;
            std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(0o644))
                .map_err(io("permissions of", &dst))?;
        }
    }
    Ok(())
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_are_consistent_with_the_module_files() {
        assert!(
            ETCD.module
                .go_mod
                .contains("go.etcd.io/etcd/server/v3 v3.6.17")
        );
        assert!(
            CONTROL_PLANE
                .module
                .go_mod
                .contains("k8s.io/kubernetes v1.36.3")
        );
        // Every staging module must be replaced, or Go asks for k8s.io/X@v0.0.0.
        for staging in [
            "k8s.io/api",
            "k8s.io/kubelet",
            "k8s.io/cri-streaming",
            "k8s.io/streaming",
        ] {
            assert!(
                CONTROL_PLANE
                    .module
                    .go_mod
                    .contains(&format!("replace {staging} => {staging} v0.36.3")),
                "{staging}"
            );
        }
        assert!(
            CONFORMANCE
                .module
                .go_mod
                .contains("sigs.k8s.io/gateway-api/conformance v1.6.1")
        );
        assert!(
            CONFORMANCE
                .module
                .go_mod
                .contains("sigs.k8s.io/gateway-api v1.6.1")
        );
    }

    #[test]
    fn tools_are_found_by_name_and_stamps_differ_per_module() {
        assert_eq!(by_name("etcd").unwrap().version, "v3.6.17");
        assert!(matches!(by_name("kind"), Err(ToolsError::Unknown(_))));
        assert_ne!(ETCD.stamp(), CONFORMANCE.stamp());
        assert!(CONTROL_PLANE.dir().ends_with("tools/controlplane-v1.36.3"));
    }
}
