# gatesim-echo, the echo-basic compatible backend. ci/images stages rootfs/: the release
# binary and exactly the shared libraries ldd lists for it.
FROM scratch
COPY rootfs/ /
USER 65532:65532
EXPOSE 3000 3001 8443
ENTRYPOINT ["/usr/local/bin/gatesim-echo"]
