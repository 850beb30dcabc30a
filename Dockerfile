# The example tree under tether svscan as PID 1, from the published package
# layout: stage 1 builds and packs the checkout (npm pack), stage 2 installs
# that tarball as a user would (npm install -g), so run scripts find `tether`
# on PATH. test/cli/docker.test.ts runs these steps in a temporary root.
FROM node:20-bookworm-slim AS pack
WORKDIR /src
COPY . .
RUN npm ci --no-audit --no-fund && npm pack --ignore-scripts --pack-destination /tmp/pack

FROM node:20-bookworm-slim
COPY --from=pack /tmp/pack/ /tmp/pack/
RUN npm install -g --no-audit --no-fund /tmp/pack/tether-supervisor-*.tgz && rm -rf /tmp/pack
RUN cp -R "$(npm root -g)/tether-supervisor/servicedirs-example" /services
STOPSIGNAL SIGTERM
# Healthy: web up and ready, the daemon up (crashy fails by design, so the
# check names the services that must be up rather than the whole tree).
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s CMD ["tether", "status", "--check", "/services/web", "/services/daemon"]
ENTRYPOINT ["tether", "svscan", "--shared", "/services"]
