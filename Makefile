# The two commands a new user needs; everything else is CMake.
#   make demo   install what is missing, build, inspect, map onto Eyeriss, run a bundled model,
#               compile it for the TPU, print its trace summary and run it on the simulator
#   make test   install what is missing, build, run every test
BUILD ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=Release -DNNAC_WERROR=ON

.PHONY: all deps build demo test sanitize fuzz bench-map bench clean

all: build

deps:
	@sh scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

demo: build
	$(BUILD)/nnac inspect models/lenet5.onnx
	$(BUILD)/nnac map models/lenet5.onnx --arch eyeriss
	$(BUILD)/nnac run models/lenet5.onnx --input input=models/lenet5_input.npy
	@mkdir -p $(BUILD)/demo-calib && cp models/lenet5_input.npy $(BUILD)/demo-calib/
	$(BUILD)/nnac compile models/lenet5.onnx --target tpu --calibrate $(BUILD)/demo-calib -o $(BUILD)/lenet5.nnb
	$(BUILD)/nnac trace $(BUILD)/lenet5.nnb --input input=models/lenet5_input.npy --summary
	$(BUILD)/nnac run $(BUILD)/lenet5.nnb --input input=models/lenet5_input.npy

test: build
	@sh tests/run_all.sh $(BUILD)

# The whole suite under AddressSanitizer + UBSan (a CI step).
sanitize: deps
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNNAC_SANITIZE=ON -DNNAC_WERROR=ON >/dev/null
	@cmake --build build-asan -j$(JOBS)
	@sh tests/run_all.sh build-asan

# Every libFuzzer target for FUZZ_TIME seconds (docs/reliability.md).
FUZZ_TIME ?= 60
fuzz:
	@sh scripts/install-deps.sh fuzz
	@sh scripts/fuzz.sh $(FUZZ_TIME)

# The mapper's speed on ResNet-50 (a benchmark: prints, never fails on time).
bench-map: build
	@sh scripts/bench_map.sh $(BUILD)

# The cpu target against ONNX Runtime and the machine's peak (a benchmark:
# prints ratios, never fails on time).
bench: build
	@python3 scripts/bench_cpu.py $(BUILD)

clean:
	rm -rf $(BUILD) build-asan build-fuzz
