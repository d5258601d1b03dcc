//! Compiles the Envoy protos that envoy-types ships into a descriptor set, so that the
//! controller can print xDS resources as proto3 JSON/YAML (envoy-types has no serde support).
//! Pure Rust (protox): no protoc needed.

use std::path::PathBuf;
use std::process::Command;

/// Entry points; protox follows their imports. Every message the translator packs into an
/// `Any` must be reachable from here, or printing it fails.
const ROOTS: &[&str] = &[
    // First: it names `common.ratelimit.v3...` relative to its package, which resolves
    // wrongly once a file of package `envoy.extensions.filters.common...` (the fault filter's)
    // is in the same pool.
    "envoy/extensions/filters/http/local_ratelimit/v3/local_rate_limit.proto",
    "envoy/config/bootstrap/v3/bootstrap.proto",
    "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto",
    "envoy/extensions/filters/http/router/v3/router.proto",
    "envoy/extensions/filters/http/cors/v3/cors.proto",
    "envoy/extensions/filters/http/fault/v3/fault.proto",
    "envoy/extensions/filters/http/csrf/v3/csrf.proto",
    "envoy/extensions/filters/http/buffer/v3/buffer.proto",
    "envoy/extensions/filters/http/aws_lambda/v3/aws_lambda.proto",
    "envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.proto",
    "envoy/extensions/transport_sockets/tls/v3/tls.proto",
    "envoy/extensions/upstreams/http/v3/http_protocol_options.proto",
    "envoy/extensions/filters/listener/tls_inspector/v3/tls_inspector.proto",
    "envoy/extensions/access_loggers/stream/v3/stream.proto",
    "envoy/extensions/access_loggers/file/v3/file.proto",
    "envoy/extensions/filters/listener/proxy_protocol/v3/proxy_protocol.proto",
    "envoy/extensions/filters/network/connection_limit/v3/connection_limit.proto",
    "envoy/extensions/filters/http/health_check/v3/health_check.proto",
    "envoy/extensions/filters/http/compressor/v3/compressor.proto",
    "envoy/extensions/compression/gzip/compressor/v3/gzip.proto",
    "envoy/service/discovery/v3/discovery.proto",
];

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let proto_root = envoy_types_proto_dir();
    let includes: Vec<PathBuf> = [
        "data-plane-api",
        "xds",
        "protoc-gen-validate",
        "googleapis",
        "cel-spec/proto",
        "opentelemetry-proto",
        "client_model",
        "ratelimit",
    ]
    .iter()
    .map(|d| proto_root.join(d))
    .filter(|p| p.exists())
    .collect();
    let mut compiler = protox::Compiler::new(&includes).expect("protox include paths");
    compiler.include_imports(true).include_source_info(false);
    compiler
        .open_files(ROOTS)
        .unwrap_or_else(|e| panic!("compiling Envoy protos: {e:?}"));
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap()).join("envoy_descriptor.bin");
    std::fs::write(&out, compiler.encode_file_descriptor_set()).expect("writing descriptor set");
}

/// The `proto/` directory inside the envoy-types package, found through `cargo metadata` so that
/// it works wherever the registry lives.
fn envoy_types_proto_dir() -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--filter-platform"])
        .arg(std::env::var("TARGET").expect("TARGET"))
        .arg("--manifest-path")
        .arg(manifest_dir.join("Cargo.toml"))
        .output()
        .expect("running cargo metadata");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("cargo metadata JSON");
    let manifest = meta["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["name"] == "envoy-types")
        .and_then(|p| p["manifest_path"].as_str())
        .map(PathBuf::from)
        .expect("envoy-types in cargo metadata");
    manifest.parent().unwrap().join("proto")
}
