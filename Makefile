# make demo: colorize the bundled historical photos (runtime only: OpenVINO where it has wheels, onnxruntime, no torch);
# afterwards `source .venv-demo/bin/activate` puts colorfuse on PATH
# make test: the whole test suite (installs the openvino, train, video, eval, distributed, dev and web extras, torch CPU
# build, and Debian's chromium and chromium-driver for the browser test of colorfuse serve)
PYTHON ?= python3
DEMO_VENV ?= .venv-demo
TEST_VENV ?= .venv
TORCH_VERSION ?= 2.13.0
TEST_EXTRAS ?= cpu,openvino,train,video,eval,distributed,dev,web

.PHONY: demo test clean gpu-check gpu-check-dry-run

$(DEMO_VENV)/.stamp: pyproject.toml
	$(PYTHON) -m venv $(DEMO_VENV)
	$(DEMO_VENV)/bin/pip install -q --upgrade pip
	$(DEMO_VENV)/bin/pip install -q -e '.[cpu]' --config-settings editable_mode=strict
	touch $@

$(TEST_VENV)/.stamp: pyproject.toml
	$(PYTHON) -m venv $(TEST_VENV)
	$(TEST_VENV)/bin/pip install -q --upgrade pip
	$(TEST_VENV)/bin/pip install -q torch==$(TORCH_VERSION)
	$(TEST_VENV)/bin/pip install -q -e '.[$(TEST_EXTRAS)]'
	touch $@

demo: $(DEMO_VENV)/.stamp
	$(DEMO_VENV)/bin/colorfuse colorize samples/gray --out out/demo --overwrite --grid out/demo-grid.jpg --grid-count 12
	@echo "results in out/demo/, side-by-side picture in out/demo-grid.jpg"
	@echo "to run colorfuse yourself: source $(DEMO_VENV)/bin/activate"

test: $(TEST_VENV)/.stamp
	(command -v chromium && command -v chromedriver) >/dev/null || (apt-get update && apt-get install -y chromium chromium-driver)
	$(TEST_VENV)/bin/python -m pytest -q

# On a CUDA machine, after ../shared/tools/gpu-prepare and staging .gpu/parts: installs onnxruntime-gpu, then
# bench paper, throughput and video (1080p) and a short training run on CUDA in 9 minutes -> benchmarks/results/
gpu-check:
	$(PYTHON) -m colorfuse.benchmarks.gpu_check

# the same steps on the CPU, small (what the tests check)
gpu-check-dry-run: $(TEST_VENV)/.stamp
	$(TEST_VENV)/bin/python -m colorfuse.benchmarks.gpu_check --dry-run

clean:
	rm -rf out $(DEMO_VENV) build dist *.egg-info
