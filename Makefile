# cf-doctor: `make demo` reproduces the founding outage locally and diagnoses it; `make test` runs
# every test. Both set up what they need (the .venv with moto) on a fresh clone.

# A persistent target dir: the AWS SDK crates take minutes to build from scratch.
CARGO_TARGET_DIR ?= $(HOME)/.cache/cf-doctor-target
export CARGO_TARGET_DIR
VENV := .venv
MOTO := $(VENV)/bin/moto_server
MOTO_VERSION := 5.2.5
CF_DOCTOR := $(CARGO_TARGET_DIR)/debug/cf-doctor

.PHONY: demo test lint build fmt venv bench clean-venv

venv: $(MOTO)

$(MOTO):
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check 'moto[server]==$(MOTO_VERSION)'

demo: venv
	cargo build --quiet --bin cf-doctor
	cargo run --quiet -p cf-doctor-testkit --bin cf-doctor-lab -- demo --cf-doctor $(CF_DOCTOR) --event events/alarm-eventbridge.json

test: venv
	cargo test --workspace --no-fail-fast

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

fmt:
	cargo fmt --all

build:
	cargo build --release --bin cf-doctor

clean-venv:
	rm -rf $(VENV)
