//! The images ci/images builds, run with Docker: the controller answers `--help`, the echo
//! backend answers `/healthz` and echoes a request with the pod name of `POD_NAME`, Envoy
//! prints its version; each is FROM scratch, non-root and has no shell. Start times are
//! printed, not asserted. Skips loudly without Docker or the images, unless
//! `GATESIM_REQUIRE_ALL=1`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use gatesim_conformance::target::kind::project_images;
use gatesim_reference::infra::docker;

fn docker(args: &[&str]) -> Output {
    Command::new("docker")
        .args(args)
        .output()
        .expect("the docker CLI runs")
}

fn ok(args: &[&str]) -> String {
    let out = docker(args);
    assert!(
        out.status.success(),
        "docker {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The images, or `None` after a loud skip.
async fn images_or_skip() -> Option<[String; 3]> {
    let images = project_images();
    for image in &images {
        if !docker::image_or_skip("image tests (run ci/images)", image)
            .await
            .expect("the images are required (GATESIM_REQUIRE_ALL=1): run ci/images")
        {
            return None;
        }
    }
    Some([images[0].clone(), images[1].clone(), images[2].clone()])
}

/// One HTTP/1.1 request on a fresh connection; the whole response.
fn get(addr: SocketAddr, path: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: images.test\r\nConnection: close\r\n\r\n"
    )?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply)?;
    Ok(reply)
}

fn free_port(ip: &str) -> u16 {
    std::net::TcpListener::bind((ip, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn the_images_run() {
    let Some([controller, echo, envoy]) = images_or_skip().await else {
        return;
    };
    for image in [&controller, &echo, &envoy] {
        assert_eq!(
            ok(&["image", "inspect", "-f", "{{.Config.User}}", image]).trim(),
            "65532:65532",
            "{image} runs as a numeric non-root user"
        );
        let shell = docker(&[
            "run",
            "--rm",
            "--entrypoint",
            "/bin/sh",
            image,
            "-c",
            "true",
        ]);
        assert!(!shell.status.success(), "{image} has no shell");
        let size = ok(&["image", "inspect", "-f", "{{.Size}}", image]);
        println!(
            "{image}: {:.1} MB",
            size.trim().parse::<f64>().unwrap_or(0.0) / 1e6
        );
    }

    let started = Instant::now();
    let help = ok(&["run", "--rm", &controller, "--help"]);
    println!("controller --help: {:?}", started.elapsed());
    assert!(
        help.contains("gatesim-controller") && help.contains("run"),
        "{help}"
    );

    let started = Instant::now();
    let version = ok(&["run", "--rm", &envoy, "--version"]);
    println!("envoy --version: {:?}", started.elapsed());
    assert!(version.contains("1.40.0"), "{version}");

    let ip = "127.0.0.1";
    let (http, h2c) = (free_port(ip), free_port(ip));
    let name = format!("gatesim-images-test-{}", std::process::id());
    let started = Instant::now();
    ok(&[
        "run",
        "-d",
        "--rm",
        "--name",
        &name,
        "--network",
        "host",
        "-e",
        "POD_NAME=images-test-pod",
        "-e",
        "NAMESPACE=images-test",
        "-e",
        &format!("HTTP_PORT={http}"),
        "-e",
        &format!("H2C_PORT={h2c}"),
        &echo,
        "--address",
        ip,
    ]);
    let addr: SocketAddr = format!("{ip}:{http}").parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let health = loop {
        match get(addr, "/healthz") {
            Ok(reply) => break reply,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => {
                let _ = docker(&["rm", "-f", &name]);
                panic!("the echo container never answered /healthz: {e}");
            }
        }
    };
    println!("echo container to /healthz: {:?}", started.elapsed());
    let echoed = get(addr, "/some/path");
    let _ = docker(&["rm", "-f", &name]);
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    let echoed = echoed.expect("the echo request");
    assert!(echoed.contains("\"pod\": \"images-test-pod\""), "{echoed}");
    assert!(
        echoed.contains("\"namespace\": \"images-test\""),
        "{echoed}"
    );
    assert!(echoed.contains("\"path\": \"/some/path\""), "{echoed}");
}

/// `gatesim run` as a user runs it with `--envoy docker`.
fn gatesim_run(extra: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_gatesim"))
        .args([
            "run",
            "--envoy",
            "docker",
            "--run-test",
            "HTTPRouteExactPathMatching",
            "--conformance-profiles",
            "GATEWAY-HTTP",
        ])
        .args(extra)
        .env_remove("NO_COLOR")
        .output()
        .expect("gatesim runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The sim target with Envoy in containers: a scenario passes through the default image, and
/// `--envoy-image` naming an image that is not there fails saying to run ci/images.
#[tokio::test]
async fn gatesim_run_with_envoy_in_docker() {
    if images_or_skip().await.is_none() {
        return;
    }
    let (passed, text) = gatesim_run(&[]);
    assert!(passed, "{text}");
    assert!(text.contains("Docker image gatesim/envoy:1.40.0"), "{text}");
    assert!(text.contains("1 passed, 0 failed"), "{text}");

    let (passed, text) = gatesim_run(&["--envoy-image", "gatesim/no-such-envoy:0"]);
    assert!(!passed, "{text}");
    assert!(
        text.contains("gatesim/no-such-envoy:0") && text.contains("ci/images"),
        "{text}"
    );
}
