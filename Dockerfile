# The facematch server image, built FROM scratch: nothing is pulled from any registry.
#
# The build context is the repository root, of which .dockerignore sends only build/image/, the
# file system laid out by conformance/image/stage.sh (the binary, the shared libraries ldd lists,
# the dynamic loader, the models, CA certificates). Build it with `make image`, which stages and
# then runs `docker build -f Dockerfile -t facematch:<content hash> .`.
FROM scratch

COPY build/image/rootfs/ /
COPY --chown=65532:65532 build/image/data/ /data/

# Admin commands run with `docker exec` find the server's data and models without flags, and
# serve listens on every interface of the container.
ENV FACEMATCH_DATA=/data FACEMATCH_MODELS=/models FACEMATCH_ADDR=0.0.0.0:8080

# An unprivileged, numeric user: no shell or passwd lookup is needed to run as it.
USER 65532:65532
WORKDIR /data
EXPOSE 8080

ENTRYPOINT ["/facematch"]
# The default is the sandbox for SDK tests, in one line: it loads no models and is ready in well
# under a second. `docker run -p 8080:8080 -e FACEMATCH_SANDBOX_KEY=fm_sandbox_... IMAGE` is the
# whole set-up. The full service (live keys, the matcher) is `docker run ... IMAGE serve`.
CMD ["serve", "--sandbox-only"]
