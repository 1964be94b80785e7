# The two commands of the quick start:
#   make demo   installs what is missing, builds, runs the main job on a built-in model
#   make test   installs what is missing, builds, runs every test (unit, CLI, parity,
#               ASan+UBSan unit tests, short fuzz runs)
JOBS ?= $(shell nproc)
BUILD ?= build
FUZZ_SECONDS ?= 20

.PHONY: all deps build demo test test-unit test-asan test-fuzz bench clean train-default

all: build

deps:
	@scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

demo: build
	@scripts/demo.sh $(BUILD)/bin/dseek

test: build
	@scripts/test.sh $(BUILD) $(JOBS) $(FUZZ_SECONDS)

test-unit: build
	@cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

# Retrain the default model from its committed configs: pretraining (about 20
# minutes on 2 cores), the dialogue corpus, supervised fine-tuning (about 15).
SHAKESPEARE ?= ../shared/testdata/text/tinyshakespeare.txt
train-default: build
	@mkdir -p models
	$(BUILD)/bin/dseek train pretrain --config assets/shakespeare/config.json \
	  --data $(SHAKESPEARE) -o models/dseek-shakespeare-base.gguf
	$(BUILD)/bin/dseek train dialogues $(SHAKESPEARE) -o models/chats.jsonl
	$(BUILD)/bin/dseek train sft --model models/dseek-shakespeare-base.gguf --data models/chats.jsonl \
	  --val-data models/chats.heldout.jsonl --steps 450 --batch 8 --seq-len 256 --lr 1e-3 --warmup 20 --eval-every 75 --mtp-weight 1.0 -o models/sft-f32.gguf
	$(BUILD)/bin/dseek quantize models/sft-f32.gguf models/dseek-shakespeare.gguf --type f16

bench: build
	@for b in $(BUILD)/bin/bench_*; do $$b; done

clean:
	rm -rf $(BUILD) build-asan build-fuzz
