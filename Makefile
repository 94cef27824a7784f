# The two commands of the README. Each creates .venv when missing and installs the project.
PY := .venv/bin/python
# Playwright (the console's browser tests) drives Debian's chromium; it must never download a browser.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1
STAMP := .venv/.installed

.PHONY: demo test bench venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml setup.cfg
	test -x $(PY) || python3 -m venv .venv
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	.venv/bin/sage demo

test: $(STAMP)
	.venv/bin/lint-imports
	bash scripts/services.sh
	$(PY) -m pytest -q $(PYTEST_ARGS)

# The peers (dlt) come from the bench-only extra; BENCH_ARGS scales it, e.g. BENCH_ARGS="--rows 20000".
BENCH_STAMP := .venv/.bench-installed

$(BENCH_STAMP): $(STAMP)
	$(PY) -m pip install -q -e '.[test,bench]'
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	bash scripts/services.sh
	$(PY) -m sage_pipelines.bench $(BENCH_ARGS)

clean:
	rm -rf .venv .sage
