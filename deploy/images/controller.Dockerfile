# gatesim-controller. ci/images stages rootfs/: the release binary, exactly the shared
# libraries ldd lists for it, and the CA bundle (for API servers whose kubeconfig relies on it).
FROM scratch
COPY rootfs/ /
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/gatesim-controller"]
