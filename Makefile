# The two commands of the README. Each creates .venv when missing and installs the project.
PY := .venv/bin/python
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

bench: $(STAMP)
	bash scripts/services.sh
	$(PY) -m sage_pipelines.bench $(BENCH_ARGS)

clean:
	rm -rf .venv .sage
