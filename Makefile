# Shortcuts; the scripts in scripts/ are what they call.
.PHONY: install run test demo-data lint pool-up pool-down bench

install:
	./scripts/install.sh

run:
	./scripts/run.sh

test:
	./scripts/test.sh

demo-data: install
	. ./scripts/env.sh && python -m include.demo --data-root "$$HEP_DATA_ROOT"

lint: install
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

pool-up:
	bash docker/condor/setup-pool.sh && bash docker/condor/start-pool.sh

pool-down:
	bash docker/condor/stop-pool.sh

bench: install
	for b in bench/*.py; do .venv/bin/python "$$b" || exit 1; done
